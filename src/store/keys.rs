//! Every key of the metadata coordsim writes, in one place: the key-value metadata of its
//! Parquet files (`coordsim.<name>`) and the entries of a run file (`<name> = ...`, read
//! back under the same `coordsim.<name>` keys).

use crate::model::precision::Precision;

/// The prefix of every key; a run file's entries are the keys without it.
pub const PREFIX: &str = "coordsim.";

/// The coordsim version that wrote the file.
pub const VERSION: &str = "coordsim.version";
/// The sweep file's text.
pub const SWEEP: &str = "coordsim.sweep";
/// The sweep's `name`.
pub const SWEEP_NAME: &str = "coordsim.sweep_name";
/// Where the sweep came from: its path, or `embedded`.
pub const SWEEP_ORIGIN: &str = "coordsim.sweep_origin";
/// A digest of the files the sweep reads (empirical latencies).
pub const INPUTS: &str = "coordsim.inputs";
/// The sweep's seed.
pub const SEED: &str = "coordsim.seed";
/// Trials per cell (the cap of an adaptive run).
pub const TRIALS_PER_CELL: &str = "coordsim.trials_per_cell";
/// Trials per work item.
pub const CHUNK_TRIALS: &str = "coordsim.chunk_trials";
/// The number of cells.
pub const CELLS: &str = "coordsim.cells";
/// An adaptive run's success-rate target.
pub const PRECISION: &str = "coordsim.precision";
/// An adaptive run's p99 target.
pub const P99_PRECISION: &str = "coordsim.p99_precision";
/// The shard, as `i/n`.
pub const SHARD: &str = "coordsim.shard";
/// What a tally file is: [`KIND_CHECKPOINT`] or [`KIND_PART`].
pub const KIND: &str = "coordsim.kind";
/// [`KIND`] of a checkpoint.
pub const KIND_CHECKPOINT: &str = "checkpoint";
/// [`KIND`] of a shard's part.
pub const KIND_PART: &str = "part";
/// The work items a tally file covers.
pub const ITEMS: &str = "coordsim.items";
/// How many work items a part covers.
pub const WORK_ITEMS: &str = "coordsim.work_items";
/// Each cell's trial target in an adaptive run, when a checkpoint was written.
pub const TARGETS: &str = "coordsim.targets";
/// The machine a part ran on.
pub const HOST: &str = "coordsim.host";
/// When the run started (UTC).
pub const STARTED_UTC: &str = "coordsim.started_utc";
/// When the run finished (UTC); in a run file, the entry that marks the run complete.
pub const FINISHED_UTC: &str = "coordsim.finished_utc";
/// Worker threads.
pub const THREADS: &str = "coordsim.threads";
/// A complete run's files and their digests, in its run file.
pub const FILES: &str = "coordsim.files";
/// A file's row count.
pub const ROWS: &str = "coordsim.rows";
/// A file's checksum of its rows (8 hex digits).
pub const CHECKSUM: &str = "coordsim.checksum";
/// A tally file's checksum of its other key-value entries (8 hex digits): binds the work
/// items it names to the rows it holds.
pub const METADATA_CHECKSUM: &str = "coordsim.metadata_checksum";

/// The run file's entry name of `key`.
pub fn entry(key: &'static str) -> &'static str {
    key.strip_prefix(PREFIX).unwrap_or(key)
}

/// The entries [`PRECISION`] and [`P99_PRECISION`], for the targets that are set.
pub fn precision_metadata(precision: &Precision) -> Vec<(String, String)> {
    [
        (PRECISION, precision.success),
        (P99_PRECISION, precision.p99),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
    .collect()
}
