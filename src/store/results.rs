//! The result files of a whole run, written as its cells finish: `summary.parquet` and
//! `histograms.parquet` grow in cell order, a group of cells at a time, so memory holds the
//! cells in flight and never the grid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::layout::{HISTOGRAMS, SUMMARY};
use super::stream::ParquetStream;
use super::summary::Baselines;
use super::{CellRecord, Histograms, OutputError, Results, RunInfo, SummaryFile, SweepCopy};
use crate::sweep::Sweep;

/// Cells whose rows are written together.
const GROUP_CELLS: usize = 16;

/// Most cells whose summaries are kept for the table printed at the end of a run; a larger
/// run is read with `coordsim show`.
pub const SHOWN_CELLS: usize = 1_000;

/// The summary and histogram files of a whole run, being written (see the module
/// documentation). Cells may be pushed in any order: a cell that finishes before an earlier
/// one waits for it (a batch spans a few cells, and a resumed run finishes the cells of its
/// checkpoint first).
pub struct ResultsWriter<'a> {
    sweep: &'a Sweep,
    dir: PathBuf,
    baselines: Baselines,
    summary: ParquetStream,
    histograms: ParquetStream,
    /// The next cell to write.
    next: u32,
    waiting: BTreeMap<u32, CellRecord>,
    ready: Vec<CellRecord>,
    /// The summaries of the cells so far, without their buckets, while there are at most
    /// [`SHOWN_CELLS`].
    shown: Option<Vec<CellRecord>>,
}

impl<'a> ResultsWriter<'a> {
    /// Starts the result files of `sweep` in `dir`.
    pub fn create(dir: &Path, sweep: &'a Sweep) -> Result<Self, OutputError> {
        let baselines = Baselines::of(sweep);
        let info = RunInfo::default();
        let empty = Results {
            sweep,
            cells: &[],
            info: &info,
        };
        let format = |path: &Path, e: arrow_schema::ArrowError| OutputError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let summary_path = dir.join(SUMMARY);
        let schema = SummaryFile::batch(&empty, &baselines)
            .map_err(|e| format(&summary_path, e))?
            .schema();
        let summary = ParquetStream::create_with(&summary_path, schema.clone(), |props| {
            SummaryFile::tune(&schema, props)
        })?;
        let histograms_path = dir.join(HISTOGRAMS);
        let histograms =
            ParquetStream::create_with(&histograms_path, Histograms::schema(), Histograms::tune)?;
        Ok(Self {
            sweep,
            dir: dir.to_path_buf(),
            baselines,
            summary,
            histograms,
            next: 0,
            waiting: BTreeMap::new(),
            ready: Vec::with_capacity(GROUP_CELLS),
            shown: Some(Vec::new()),
        })
    }

    /// Adds a finished cell.
    pub fn push(&mut self, record: CellRecord) -> Result<(), OutputError> {
        self.waiting.insert(record.cell_id, record);
        while let Some(record) = self.waiting.remove(&self.next) {
            if let Some(shown) = &mut self.shown {
                if shown.len() < SHOWN_CELLS {
                    shown.push(CellRecord {
                        cell_id: record.cell_id,
                        summary: record.summary.clone(),
                        precision_met: record.precision_met,
                        verdicts: record.verdicts.clone(),
                        buckets: Vec::new(),
                    });
                } else {
                    self.shown = None;
                }
            }
            self.ready.push(record);
            self.next += 1;
            if self.ready.len() == GROUP_CELLS {
                self.write_ready()?;
            }
        }
        Ok(())
    }

    /// Cells written or waiting.
    pub fn cells(&self) -> u64 {
        u64::from(self.next) + self.waiting.len() as u64
    }

    fn write_ready(&mut self) -> Result<(), OutputError> {
        let info = RunInfo::default();
        let results = Results {
            sweep: self.sweep,
            cells: &self.ready,
            info: &info,
        };
        let format = |path: &Path, e: arrow_schema::ArrowError| OutputError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let batch = SummaryFile::batch(&results, &self.baselines)
            .map_err(|e| format(self.summary.path(), e))?;
        self.summary.write(&batch)?;
        let batch = Histograms::batch(&results).map_err(|e| format(self.histograms.path(), e))?;
        self.histograms.write(&batch)?;
        self.ready.clear();
        Ok(())
    }

    /// Writes the last rows, adds the metadata of a run described by `info`, and puts the
    /// files in place: the summary, the histograms and `sweep.toml`. Returns their paths and
    /// the cells' summaries if there were at most [`SHOWN_CELLS`] (empty otherwise).
    pub fn finish(
        mut self,
        info: &RunInfo,
    ) -> Result<(Vec<PathBuf>, Vec<CellRecord>), OutputError> {
        if let Some(cell) = self.waiting.keys().next() {
            return Err(OutputError::Format {
                path: self.summary.path().to_path_buf(),
                message: format!("cell {cell} finished, but cell {} did not", self.next),
            });
        }
        self.write_ready()?;
        let results = Results {
            sweep: self.sweep,
            cells: &[],
            info,
        };
        let metadata: Vec<(String, String)> = results
            .metadata()
            .into_iter()
            .map(|kv| (kv.key, kv.value.unwrap_or_default()))
            .collect();
        let summary = self.summary.finish(metadata.clone())?;
        let histograms = self.histograms.finish(metadata)?;
        let copy = super::RunDir::existing(&self.dir).write(&SweepCopy, &results)?;
        Ok((
            vec![summary, histograms, copy],
            self.shown.take().unwrap_or_default(),
        ))
    }
}
