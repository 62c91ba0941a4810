//! Run directories and the files written into them, each behind the [`Export`] trait.
//!
//! A run directory holds `summary.parquet` (one row per cell), `histograms.parquet` (the
//! non-empty histogram buckets of every cell) and `sweep.toml` (the sweep as run). Every file
//! is written under a temporary name and renamed into place, so a crash never leaves a
//! truncated file under a final name.

pub(crate) mod atomic;
pub(crate) mod guard;
mod histograms;
pub mod integrity;
pub mod keys;
pub mod layout;
mod results;
mod run_dir;
pub(crate) mod run_file;
pub(crate) mod stream;
mod summary;
mod sweep_copy;
pub mod table;
pub(crate) mod tallies;

pub use histograms::Histograms;
pub use results::{ResultsWriter, SHOWN_CELLS};
pub use run_dir::{RunDir, remove_unfinished};
pub use summary::{Baselines, SummaryFile};
pub use sweep_copy::{SweepCopy, sweep_copy_text};

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use parquet::file::metadata::KeyValue;
use thiserror::Error;

use crate::engine::{CHUNK_TRIALS, CellRun};
use crate::model::objective::Judgement;
use crate::model::stats::{LATENCY_QUANTILES, Summary, quantiles_of_buckets};
use crate::model::tally::{Tally, recorded};
use crate::sweep::{Sweep, describe};

/// A run directory or a file in it could not be written.
#[derive(Debug, Error)]
pub enum OutputError {
    /// The output directory exists already; runs never overwrite.
    #[error("--out {}: already exists; choose a new directory", .0.display())]
    Exists(PathBuf),
    /// A folder on the way to the output directory is a file.
    #[error("{}: is a file, not a directory: cannot create {} in it", file.display(), path.display())]
    NotADirectory {
        /// The file.
        file: PathBuf,
        /// The directory to be created.
        path: PathBuf,
    },
    /// An I/O error on a path. The error is part of the message, not a cause of it, so that
    /// an error chain says it once.
    #[error("{}: {}", path.display(), describe(error))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        error: io::Error,
    },
    /// The Parquet or Arrow writer failed.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl OutputError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |error| Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl OutputError {
    /// The process exit code this error calls for: 2 for an output directory that exists
    /// already (runs never overwrite), 1 for a failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Exists(_) => 2,
            _ => 1,
        }
    }
}

/// A Parquet writer's or reader's error about `path`: an I/O error as such (said once, as
/// [`OutputError::Io`]), anything else as a format error.
pub(crate) fn parquet_error(path: &Path, error: parquet::errors::ParquetError) -> OutputError {
    use parquet::errors::ParquetError;
    match error {
        ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => OutputError::io(path)(*io),
            Err(inner) => OutputError::Format {
                path: path.to_path_buf(),
                message: inner.to_string(),
            },
        },
        other => OutputError::Format {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// One finished cell, reduced to what the outputs need.
#[derive(Debug, Clone)]
pub struct CellRecord {
    /// The cell's id.
    pub cell_id: u32,
    /// Its summary row.
    pub summary: Summary,
    /// In an adaptive run, whether it met the precision targets (if not, it used the cap).
    pub precision_met: Option<bool>,
    /// The verdicts of its objectives (none if no `[[expect]]` selects it).
    pub verdicts: Vec<Judgement>,
    /// Its non-empty histogram buckets.
    pub buckets: Vec<Bucket>,
}

/// One histogram bucket of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Which histogram.
    pub metric: Metric,
    /// Smallest value in the bucket, in the metric's unit.
    pub low: f64,
    /// Largest value in the bucket, in the metric's unit.
    pub high: f64,
    /// Trials in the bucket.
    pub count: u64,
}

/// A histogram of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Latency of successful trials, in milliseconds.
    LatencyMs = 0,
    /// Messages per trial.
    Messages = 1,
    /// Rounds per trial.
    Rounds = 2,
}

impl Metric {
    /// Every metric, in the order of their discriminants.
    pub const ALL: [Metric; 3] = [Self::LatencyMs, Self::Messages, Self::Rounds];

    /// The name in `histograms.parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LatencyMs => "latency_ms",
            Self::Messages => "messages",
            Self::Rounds => "rounds",
        }
    }
}

impl CellRecord {
    /// Reduces a finished cell.
    pub fn of(run: &CellRun) -> Self {
        let buckets = buckets(&run.tally);
        // The latency quantiles from the buckets just found (latency's come first), not from
        // four more scans of the histogram: the same values (`Bucket::high` is the bucket's
        // largest value / 10^6).
        let latency = buckets
            .iter()
            .take_while(|b| b.metric == Metric::LatencyMs)
            .map(|b| (b.high, b.count));
        let quantiles_ms =
            quantiles_of_buckets(latency, run.tally.latency_ns().len(), LATENCY_QUANTILES);
        Self {
            cell_id: run.cell_id,
            summary: Summary::with_latency_quantiles(&run.tally, quantiles_ms),
            precision_met: run.precision_met,
            verdicts: run.verdicts.clone(),
            buckets,
        }
    }
}

fn buckets(tally: &Tally) -> Vec<Bucket> {
    // At most one bucket per index from the smallest value to the largest, and per trial.
    let most = |h: &hdrhistogram::Histogram<u64>| match h.is_empty() {
        true => 0,
        false => (h.len() as usize).min(h.distinct_values()),
    };
    let mut out = Vec::with_capacity(
        most(tally.latency_ns()) + most(tally.messages()) + most(tally.rounds()),
    );
    let metrics = [
        (Metric::LatencyMs, tally.latency_ns(), 1e6),
        (Metric::Messages, tally.messages(), 1.0),
        (Metric::Rounds, tally.rounds(), 1.0),
    ];
    for (metric, histogram, per_unit) in metrics {
        for (low, high, count) in recorded(histogram) {
            out.push(Bucket {
                metric,
                low: low as f64 / per_unit,
                high: high as f64 / per_unit,
                count,
            });
        }
    }
    out
}

/// Facts about a run that are not results: stored as Parquet key-value metadata. The default
/// is no facts: empty times, no threads.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// When the run started, UTC, RFC 3339.
    pub started: String,
    /// When the last cell finished, UTC, RFC 3339.
    pub finished: String,
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock seconds from start to the last cell.
    pub wall_s: f64,
}

/// Everything a file of a run directory is written from.
pub struct Results<'a> {
    /// The sweep as run (seed and trials included).
    pub sweep: &'a Sweep,
    /// Its cells, in cell order.
    pub cells: &'a [CellRecord],
    /// Facts about the run.
    pub info: &'a RunInfo,
}

impl Results<'_> {
    /// The key-value metadata every Parquet file carries (the precision targets only when
    /// set).
    pub fn metadata(&self) -> Vec<KeyValue> {
        let s = self.sweep;
        let targets = keys::precision_metadata(&s.precision);
        [
            (keys::VERSION, env!("CARGO_PKG_VERSION").to_string()),
            (keys::SWEEP_NAME, s.name.clone()),
            (keys::SWEEP_ORIGIN, s.origin.clone()),
            (keys::SEED, s.seed.to_string()),
            (keys::TRIALS_PER_CELL, s.trials.to_string()),
            (keys::CELLS, s.cells.len().to_string()),
            (keys::CHUNK_TRIALS, CHUNK_TRIALS.to_string()),
            (keys::STARTED_UTC, self.info.started.clone()),
            (keys::FINISHED_UTC, self.info.finished.clone()),
            (keys::THREADS, self.info.threads.to_string()),
            (keys::SWEEP, s.text.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(targets)
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
    }
}

/// One file of a run directory.
pub trait Export {
    /// Its name in the run directory.
    fn file_name(&self) -> &'static str;

    /// Writes it to `file` (a temporary file, renamed into place afterwards).
    fn write(&self, results: &Results<'_>, file: &mut File, path: &Path)
    -> Result<(), OutputError>;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::tally::tally_of;

    #[test]
    fn a_records_summary_is_the_tallys() {
        // The latency quantiles come from the buckets: the summary is Summary::of's.
        for tally in [
            tally_of(0, 10, |_| 0),
            tally_of(3, 1, |i| 5 + i),
            tally_of(50_000, 20, |i| (i % 1013).pow(3) + 17),
        ] {
            let run = CellRun {
                cell_id: 0,
                tally: Arc::new(tally),
                precision_met: None,
                verdicts: Vec::new(),
            };
            assert_eq!(CellRecord::of(&run).summary, Summary::of(&run.tally));
        }
    }
}
