//! coordsim measures the cost of coordination in distributed systems.
//!
//! Every distributed design pays for agreement in messages, latency and lost availability.
//! coordsim runs millions of independent Monte Carlo trials of a protocol model per grid cell
//! and reports what it cost: the probability of success with a confidence interval, latency
//! percentiles, messages and rounds per operation.
//!
//! The pieces, in the order data flows through them:
//! - [`sweep`]: the sweep file format and its grid of [`sweep::Cell`]s;
//! - [`latency`]: one-way delay models; [`protocols`]: the models, behind [`protocols::Protocol`];
//! - [`engine`]: work items, random streams ([`rng`]), rayon and an exact reduction of
//!   per-thread [`tally::Tally`]s;
//! - [`precision`]: adaptive runs, which add trials to a cell until its intervals are narrow
//!   enough;
//! - [`stats`]: intervals and the summary of a cell; [`output`]: Parquet files and tables.
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
