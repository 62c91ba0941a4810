//! Checkpoints: the tallies of finished work, written every few seconds, and resuming from
//! them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{self, ItemSet, Targets, format_targets};
use crate::model::tally::Tally;
use crate::store::keys;
use crate::store::layout::{PART_FILE, RUN_FILE, SUMMARY};
use crate::store::run_file::read_entries;
use crate::store::tallies::TallyWriter;
use crate::store::{OutputError, RunDir};

use super::lock::RunLock;
use super::{Identity, RunError};

pub(super) fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(OutputError::io(dir))? {
        let path = entry.map_err(OutputError::io(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            // A temporary file of a checkpoint that was being written when the run died.
            let _ = fs::remove_file(&path);
        } else if name.ends_with(".parquet") {
            files.push(path);
        }
    }
    Ok(files)
}

/// The run directory `path` to resume a run of `identity` in, and when that run started.
pub(super) fn open_for_resume(
    path: &Path,
    identity: &Identity,
) -> Result<(RunDir, String, RunLock), RunError> {
    let run_file = path.join(RUN_FILE);
    let lock = if run_file.is_file() {
        RunLock::take(path)?
    } else {
        return Err(RunError::NothingToResume {
            dir: path.to_path_buf(),
        });
    };
    let entries = read_entries(&run_file)?;
    let theirs = Identity::from_metadata(&entries).map_err(|e| RunError::unusable(&run_file, e))?;
    if let Some(d) = identity.difference(&theirs).or_else(|| {
        (theirs.shard != identity.shard)
            .then(|| format!("shard {} (not {})", theirs.shard, identity.shard))
    }) {
        return Err(RunError::AnotherRun {
            dir: path.to_path_buf(),
            difference: d,
        });
    }
    if entries.contains_key(keys::FINISHED_UTC) {
        return Err(RunError::Complete {
            dir: path.to_path_buf(),
        });
    }
    // What an unfinished finish left: final files not yet marked complete, and temporary
    // files. The checkpoints hold everything they were made from.
    for entry in fs::read_dir(path).map_err(OutputError::io(path))? {
        let entry = entry.map_err(OutputError::io(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = [
            SUMMARY,
            crate::store::layout::HISTOGRAMS,
            PART_FILE,
            "sweep.toml",
        ]
        .contains(&name.as_str())
            || (name.starts_with('.') && name.ends_with(".tmp"));
        if leftover {
            let file = entry.path();
            fs::remove_file(&file).map_err(OutputError::io(&file))?;
        }
    }
    // A run file of an earlier version may lack the start: the resumption's start, then.
    let started = entries
        .get(keys::STARTED_UTC)
        .cloned()
        .unwrap_or_else(|| jiff::Timestamp::now().to_string());
    Ok((RunDir::existing(path), started, lock))
}

/// Most bytes of tallies that wait in memory for the next checkpoint; beyond, they are
/// appended to the checkpoint file being written. A run shorter than the checkpoint interval
/// mostly never writes them.
pub(super) const PENDING_BYTES: usize = 8 << 20;

/// Tallies of batches not yet committed to the checkpoint: merged in memory per cell, and
/// appended to the next checkpoint file whenever they hold more than [`PENDING_BYTES`] (so
/// memory holds a bounded number of cells, not every cell since the last checkpoint). The file is put in
/// place, with the work items it covers, when a checkpoint is due. A cell may have several
/// rows in one file; they merge on reading.
pub(super) struct Pending {
    dir: PathBuf,
    /// The number of the next checkpoint file.
    next: usize,
    writer: Option<TallyWriter>,
    tallies: BTreeMap<u32, Arc<Tally>>,
    /// What `tallies` hold ([`Tally::memory_bytes`]).
    bytes: usize,
    items: ItemSet,
}

impl Pending {
    pub(super) fn new(dir: &Path, next: usize) -> Self {
        Self {
            dir: dir.to_path_buf(),
            next,
            writer: None,
            tallies: BTreeMap::new(),
            bytes: 0,
            items: ItemSet::new(),
        }
    }

    /// Takes the tallies of `batch`: a cell's first is moved in, later ones merged.
    pub(super) fn add(&mut self, batch: engine::Batch) -> Result<(), RunError> {
        self.items.extend(&batch.items);
        for (cell, tally) in batch.tallies {
            match self.tallies.entry(cell) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    self.bytes += e.insert(tally).memory_bytes();
                }
                std::collections::btree_map::Entry::Occupied(e) => {
                    let pending = Arc::make_mut(e.into_mut());
                    self.bytes -= pending.memory_bytes().min(self.bytes);
                    pending.merge(&tally);
                    self.bytes += pending.memory_bytes();
                }
            }
        }
        if self.bytes > PENDING_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    /// Appends the tallies in memory to the checkpoint file being written.
    pub(super) fn spill(&mut self) -> Result<(), RunError> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let path = self.dir.join(format!("{:06}.parquet", self.next));
                self.writer.insert(TallyWriter::create(&path)?)
            }
        };
        let rows: Vec<(u32, &Tally)> = self.tallies.iter().map(|(c, t)| (*c, &**t)).collect();
        writer.write(&rows)?;
        self.tallies.clear();
        self.bytes = 0;
        Ok(())
    }

    /// Commits the pending tallies as the next checkpoint file, with an adaptive run's
    /// `targets` after the decisions these items led to.
    pub(super) fn flush(
        &mut self,
        identity: &Identity,
        targets: Option<&Targets>,
    ) -> Result<(), RunError> {
        if self.items.is_empty() {
            return Ok(());
        }
        self.spill()?;
        let writer = self.writer.take().expect("just spilled");
        let mut metadata = identity.metadata();
        metadata.push((keys::KIND.into(), keys::KIND_CHECKPOINT.into()));
        metadata.push((keys::ITEMS.into(), self.items.to_string()));
        if let Some(targets) = targets {
            metadata.push((keys::TARGETS.into(), format_targets(targets)));
        }
        writer.finish(metadata)?;
        self.next += 1;
        self.items = ItemSet::new();
        Ok(())
    }
}
