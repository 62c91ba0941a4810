//! The model core: what every protocol is written against, and what the layers above read.
//!
//! - [`Outcome`]: what one trial measured; [`Env`] and [`Net`]: the failures and delays a
//!   trial runs in;
//! - [`Protocol`]: a model with its parameters fixed, one trial at a time; [`Simulate`]: the
//!   loop over its trials behind a trait object;
//! - [`ProtocolInfo`]: a protocol as a registry lists it (name, documentation, parameters
//!   declared by [`ParamSpec`], choices as [`Choice`] enums, constructor from a [`Setting`]);
//! - [`tally`]: the exact sums and histograms of a cell's trials; [`stats`]: the intervals
//!   and summary computed from them; [`precision`]: when an adaptive cell has enough trials.

mod env;
mod info;
pub mod objective;
mod outcome;
pub mod param;
pub mod precision;
mod protocol;
pub mod stats;
pub mod tally;

pub use env::{CLIENT, Env, Exchange, MAX_ZONES, Net};
pub use info::{ModelError, ProtocolInfo, Setting};
pub use outcome::{Extra, MAX_EXTRAS, Outcome, Status};
pub(crate) use param::choice;
pub use param::{Choice, ParamKind, ParamSpec, QuorumRule, Value};
pub use protocol::{Protocol, Sampler, Simulate};
