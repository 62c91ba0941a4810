//! The files of a run directory, by name.
//!
//! A whole run ends with [`SUMMARY`], [`HISTOGRAMS`], `sweep.toml` and [`RUN_FILE`]; a
//! shard's run with [`PART_FILE`] and [`RUN_FILE`]. While a run goes on, [`CHECKPOINTS`]
//! holds its checkpoints and [`LOCK_FILE`] is locked by the process running it.

/// The run description: what is being run, and once complete, how it ended.
pub const RUN_FILE: &str = "coordsim-run.toml";
/// The checkpoint folder.
pub const CHECKPOINTS: &str = "checkpoint";
/// The mergeable result of one shard.
pub const PART_FILE: &str = "part.parquet";
/// One row per cell.
pub const SUMMARY: &str = "summary.parquet";
/// The cells' histograms, one row per non-empty bucket.
pub const HISTOGRAMS: &str = "histograms.parquet";
/// The lock file a process holds while it runs in a run directory.
pub const LOCK_FILE: &str = ".coordsim.lock";
