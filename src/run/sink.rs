//! Where finished cells go: the result files of a whole run, or a shard's part file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{CellRun, ItemSet, Shard};
use crate::model::tally::Tally;
use crate::store::keys;
use crate::store::layout::PART_FILE;
use crate::store::tallies::TallyWriter;
use crate::store::{CellRecord, Results, ResultsWriter, RunDir, RunInfo, SweepCopy};
use crate::sweep::Sweep;

use super::{Identity, RunError, Verdicts};

/// Where finished cells go: the result files of a whole run, a part file for a shard.
pub(super) enum Sink<'a> {
    Whole(Box<ResultsWriter<'a>>, Verdicts),
    /// A part's rows are written in cell order, whatever order the cells finish in (a resumed
    /// run finishes the cells of its checkpoint first): cells that finish before an earlier
    /// one wait in `waiting`, which holds at most the cells a batch spans.
    Part {
        writer: Box<TallyWriter>,
        path: PathBuf,
        cells: u64,
        next: u32,
        waiting: BTreeMap<u32, Arc<Tally>>,
    },
}

impl<'a> Sink<'a> {
    pub(super) fn new(
        dir: &Path,
        sweep: &'a Sweep,
        shard: Shard,
        first_cell: u32,
    ) -> Result<Self, RunError> {
        Ok(if shard.count == 1 {
            Sink::Whole(
                Box::new(ResultsWriter::create(dir, sweep)?),
                Verdicts::default(),
            )
        } else {
            let path = dir.join(PART_FILE);
            Sink::Part {
                writer: Box::new(TallyWriter::create(&path)?),
                path,
                cells: 0,
                next: first_cell,
                waiting: BTreeMap::new(),
            }
        })
    }

    pub(super) fn push(&mut self, run: CellRun) -> Result<(), RunError> {
        match self {
            Sink::Whole(writer, verdicts) => {
                verdicts.add(run.cell_id, &run.verdicts);
                writer.push(CellRecord::of(&run))?
            }
            Sink::Part {
                writer,
                cells,
                next,
                waiting,
                ..
            } => {
                waiting.insert(run.cell_id, run.tally);
                while let Some(tally) = waiting.remove(next) {
                    writer.write(&[(*next, &tally)])?;
                    *next += 1;
                }
                *cells += 1;
            }
        }
        Ok(())
    }

    pub(super) fn finish(
        self,
        sweep: &Sweep,
        dir: &RunDir,
        identity: &Identity,
        info: &RunInfo,
        items: &ItemSet,
    ) -> Result<(Vec<PathBuf>, Vec<CellRecord>, Verdicts), RunError> {
        match self {
            Sink::Whole(writer, verdicts) => {
                let (files, records) = writer.finish(info)?;
                Ok((files, records, verdicts))
            }
            Sink::Part {
                writer,
                path,
                waiting,
                ..
            } => {
                if let Some(cell) = waiting.keys().next() {
                    return Err(RunError::OutOfOrder { cell: *cell });
                }
                let mut metadata = identity.metadata();
                metadata.extend([
                    (keys::KIND.to_string(), keys::KIND_PART.to_string()),
                    (keys::ITEMS.to_string(), items.to_string()),
                    (keys::WORK_ITEMS.to_string(), items.len().to_string()),
                    (keys::HOST.to_string(), host()),
                    (keys::STARTED_UTC.to_string(), info.started.clone()),
                    (keys::FINISHED_UTC.to_string(), info.finished.clone()),
                    (keys::THREADS.to_string(), info.threads.to_string()),
                ]);
                writer.finish(metadata)?;
                let copy = dir.write(
                    &SweepCopy,
                    &Results {
                        sweep,
                        cells: &[],
                        info,
                    },
                )?;
                Ok((vec![path, copy], Vec::new(), Verdicts::default()))
            }
        }
    }

    pub(super) fn cells(&self) -> u64 {
        match self {
            Sink::Whole(writer, _) => writer.cells(),
            Sink::Part { cells, .. } => *cells,
        }
    }
}

/// This machine's name, from the kernel (gethostname): not from the environment, which a
/// batch system may have copied from the machine a job was submitted on.
pub(super) fn host() -> String {
    let mut name = [0u8; 256];
    // SAFETY: `name` is valid for writes of `name.len()` bytes; gethostname writes at most
    // that many and nothing else.
    let status = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let name = String::from_utf8_lossy(&name[..end]).trim().to_string();
    if status == 0 && !name.is_empty() {
        name
    } else {
        "unknown".to_string()
    }
}
