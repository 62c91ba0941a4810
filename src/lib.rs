//! coordsim measures the cost of coordination in distributed systems.
//!
//! Every distributed design pays for agreement in messages, latency and lost availability.
//! coordsim runs millions of independent Monte Carlo trials of a protocol model per grid cell
//! and reports what it cost: the probability of success with a confidence interval, latency
//! percentiles, messages and rounds per operation.
//!
//! The modules, bottom up: each uses only those above it in this list (`tests/layers.rs`
//! checks it).
//! - [`rng`]: the generator and its streams; [`latency`]: one-way delay laws; [`order`]:
//!   order statistics and counts sampled directly;
//! - [`model`]: the model core: outcomes, the failure environment, the [`model::Protocol`]
//!   trait, tallies, statistics and precision targets;
//! - [`protocols`]: coordsim's protocols, one file each;
//! - [`sweep`]: the sweep file format, its grid of [`sweep::Cell`]s and the
//!   [`sweep::Registry`] of protocols a sweep may name (a library user can add their own:
//!   `examples/custom_protocol.rs`);
//! - [`engine`]: work items, random streams, rayon and an exact reduction of tallies;
//! - [`store`]: the files of a run directory: schemas, metadata keys, atomic writes;
//! - [`run`], [`verify`], [`show`], [`compare`]: a run from start to files, checking them,
//!   reading them, comparing two of them.
//!
//! ```
//! use coordsim::engine::{run_all, RunOptions};
//! use coordsim::model::stats::Summary;
//! use coordsim::sweep::Sweep;
//!
//! let sweep = Sweep::parse(r#"
//!     name = "doc"
//!     seed = 7
//!     trials = 20_000
//!     [grid]
//!     protocol = "quorum"
//!     nodes = 5
//!     crash = 0.1
//!     latency = "lan"
//!     [latency.lan]
//!     kind = "exponential"
//!     mean_ms = 0.5
//! "#, "doc.toml").unwrap();
//! let cells = run_all(&sweep, &RunOptions::default()).unwrap();
//! let summary = Summary::of(&cells[0].tally);
//! assert!(summary.success_rate > 0.98);
//! ```

#![warn(missing_docs)]

pub mod advise;
pub mod compare;
pub mod engine;
pub mod latency;
pub mod model;
pub mod order;
pub mod protocols;
pub mod rng;
pub mod run;
pub mod show;
pub mod store;
pub mod sweep;
pub mod verify;
