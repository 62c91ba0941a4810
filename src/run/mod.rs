//! A run from start to files: its directory, identity, checkpoints, resumption, and what it
//! ends with: the summary of a whole sweep, or the part of one shard.
//!
//! A run directory holds, while the run goes on, `coordsim-run.toml` (what is being run, so
//! that `--resume` and `merge` can refuse a mismatch) and `checkpoint/NNNNNN.parquet`, tally
//! files each covering a set of finished work items, written atomically every few seconds.
//! After a crash, `--resume` reloads them and runs only the missing items; the result is the
//! same as an uninterrupted run's because tallies merge exactly. When the run completes, the
//! final files are written and the checkpoints removed.
//!
//! An adaptive run's checkpoints also record every cell's current target (`coordsim.targets`,
//! [`crate::engine::format_targets`]), as it was when the checkpoint's items were done: each
//! checkpoint is a consistent snapshot, so resuming from the last one takes exactly the
//! decisions an uninterrupted run takes.

mod checkpoint;
mod identity;
mod lock;
mod merge;
mod sink;
mod verdicts;

pub use identity::Identity;
pub use merge::{Merged, PartRows, Parts, check_part, merge, read_parts};
pub use verdicts::{ObjectiveLine, Report, Verdicts};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use thiserror::Error;

use crate::engine::{
    self, Assembler, EngineError, ItemSet, Job, Progress, RunOptions, Shard, parse_targets,
};
use crate::store::keys;
use crate::store::layout::{CHECKPOINTS, PART_FILE, RUN_FILE};
use crate::store::tallies::TallyReader;
use crate::store::{CellRecord, OutputError, RunDir, RunInfo};
use crate::sweep::Sweep;

use checkpoint::{Pending, checkpoint_files, open_for_resume};
use identity::{Completion, write_run_file};
use lock::RunLock;
use sink::Sink;

/// A run that cannot go on, or cannot start as asked.
#[derive(Debug, Error)]
pub enum RunError {
    /// A file could not be written or read.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An adaptive run was asked to run as a shard.
    #[error(transparent)]
    AdaptiveShard(EngineError),
    /// Another process is running in the run directory.
    #[error("{}: another coordsim process is running in this directory; wait for it to end", .dir.display())]
    Locked {
        /// The run directory.
        dir: PathBuf,
    },
    /// `--resume` of a directory without a run file.
    #[error("{}: nothing to resume (no {RUN_FILE}; start a new run without --resume)", .dir.display())]
    NothingToResume {
        /// The directory.
        dir: PathBuf,
    },
    /// `--resume` of a run that is complete.
    #[error("{} is complete: nothing to resume", .dir.display())]
    Complete {
        /// The run directory.
        dir: PathBuf,
    },
    /// `--resume` of a directory that holds a run of another sweep, seed, trials or shard.
    #[error("{} holds another run: {difference} in its {RUN_FILE}; resume with the same sweep, seed, trials and shard", .dir.display())]
    AnotherRun {
        /// The run directory.
        dir: PathBuf,
        /// What differs, in words.
        difference: String,
    },
    /// A checkpoint of another run in the run directory.
    #[error("{}: a checkpoint of another run: {difference}", .path.display())]
    ForeignCheckpoint {
        /// The checkpoint.
        path: PathBuf,
        /// What differs, in words.
        difference: String,
    },
    /// A run file, checkpoint or part whose content cannot be used: unreadable metadata,
    /// work items counted twice or beyond a target, a cell not in the sweep.
    #[error("{}: {why}", .path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        why: String,
    },
    /// A path given as a part that is none.
    #[error("{}: not a part (no {PART_FILE})", .path.display())]
    NotAPart {
        /// The path.
        path: PathBuf,
    },
    /// A part whose shard did not finish.
    #[error("{}: the shard did not finish (no finished_utc in its {RUN_FILE}; run it again with --resume)", .path.display())]
    Unfinished {
        /// The part directory.
        path: PathBuf,
    },
    /// `merge` with no parts.
    #[error("no parts to merge")]
    NoParts,
    /// Two parts of different runs.
    #[error("{} does not belong with {}: {difference}", .part.display(), .first.display())]
    ForeignPart {
        /// The part.
        part: PathBuf,
        /// The first part, which the others must match.
        first: PathBuf,
        /// What differs, in words.
        difference: String,
    },
    /// Two parts of the same shard.
    #[error("{} and {} are both shard {shard}", .first.display(), .second.display())]
    DuplicateShard {
        /// The part seen first.
        first: PathBuf,
        /// The other.
        second: PathBuf,
        /// The shard.
        shard: Shard,
    },
    /// The parts do not make up the whole run: shards missing, or a cell's work items not
    /// all there once.
    #[error("{0}")]
    Incomplete(String),
    /// The sweep the parts carry no longer parses.
    #[error("the parts' sweep no longer parses: {0}")]
    SweepChanged(String),
    /// A shard's cells finished out of order.
    #[error("cell {cell} finished, but an earlier cell of the shard did not")]
    OutOfOrder {
        /// The cell.
        cell: u32,
    },
    /// A file's bytes are not those its run wrote.
    #[error("{0}")]
    Altered(String),
}

impl RunError {
    /// The process exit code this error calls for: 2 when what was asked does not fit (a
    /// mismatched resume or merge, an existing output directory), 1 when something failed or
    /// a file is damaged.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Output(e) => e.exit_code(),
            Self::Engine(_) | Self::Altered(_) | Self::Unusable { .. } => 1,
            _ => 2,
        }
    }

    /// An error about the file `path`.
    pub(crate) fn unusable(path: &Path, why: impl std::fmt::Display) -> Self {
        Self::Unusable {
            path: path.to_path_buf(),
            why: why.to_string(),
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Finished {
    /// Every work item ran; the final files are in place.
    Complete {
        /// The files written.
        files: Vec<PathBuf>,
        /// The cells (for a whole run of at most [`crate::store::SHOWN_CELLS`]; empty
        /// otherwise).
        records: Vec<CellRecord>,
        /// The verdicts of the cells' objectives (none in a shard).
        verdicts: Verdicts,
        /// The run directory.
        dir: PathBuf,
    },
    /// Stopped early; the checkpoint holds the finished work.
    Interrupted {
        /// Work items done.
        done: u64,
        /// Work items of the shard (the most an adaptive run may need).
        total: u64,
        /// The run directory.
        dir: PathBuf,
    },
}

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Threads, shard, and how often finished work is committed to the checkpoint (without
    /// `checkpoint_every`, once per batch).
    pub options: RunOptions,
    /// The run directory.
    pub dir: PathBuf,
    /// Continue a run in an existing directory instead of starting a new one.
    pub resume: bool,
}

/// Starts (or, with `plan.resume`, continues) a run of `sweep`; see the module documentation.
/// `stop` interrupts it between work items.
pub fn execute(
    sweep: &Sweep,
    plan: &Plan,
    stop: &AtomicBool,
    progress: &Progress,
) -> Result<Finished, RunError> {
    let identity = Identity::of(sweep, plan.options.shard);
    if sweep.precision.is_adaptive() && plan.options.shard.count > 1 {
        return Err(RunError::AdaptiveShard(EngineError::AdaptiveShard(
            plan.options.shard,
        )));
    }
    let clock = Instant::now();
    // A resumed run started when its first process did.
    let (dir, started, lock) = if plan.resume {
        open_for_resume(&plan.dir, &identity)?
    } else {
        let dir = RunDir::create(&plan.dir)?;
        let lock = RunLock::take(dir.path())?;
        let started = jiff::Timestamp::now().to_string();
        write_run_file(dir.path(), &identity, &started, None)?;
        (dir, started, lock)
    };
    let checkpoints = dir.path().join(CHECKPOINTS);
    fs::create_dir_all(&checkpoints).map_err(OutputError::io(&checkpoints))?;

    let layout = engine::layout(sweep);
    let shard = plan.options.shard;
    let block = layout.shard_items(shard);
    let total = block.end - block.start;
    let mut sink = Sink::new(dir.path(), sweep, shard, layout.shard_cells(shard).start)?;

    // Reload the checkpoint: an adaptive run's targets from its last file, then the tallies.
    let mut done = ItemSet::new();
    let mut files = checkpoint_files(&checkpoints)?;
    files.sort();
    let mut assembler = match files.last() {
        Some(last) if sweep.precision.is_adaptive() => {
            let metadata = crate::store::tallies::read_metadata(last)?;
            crate::store::integrity::check_metadata_checksum(&metadata)
                .map_err(|e| RunError::unusable(last, e))?;
            let targets = metadata
                .get(keys::TARGETS)
                .ok_or_else(|| RunError::unusable(last, "no targets"))
                .and_then(|t| parse_targets(t).map_err(|e| RunError::unusable(last, e)))?;
            Assembler::adaptive(layout, sweep.precision, targets)
                .with_objectives(sweep.objectives.clone())
        }
        _ => engine::assembler(&Job::from(sweep), shard),
    };
    for file in &files {
        let reader = TallyReader::open(file)?;
        let metadata = reader.metadata.clone();
        // Its work items are trusted as far as the metadata checksum binds them to its rows.
        crate::store::integrity::check_metadata_checksum(&metadata)
            .map_err(|e| RunError::unusable(file, e))?;
        let theirs = Identity::from_metadata(&metadata).map_err(|e| RunError::unusable(file, e))?;
        if let Some(d) = identity.difference(&theirs).or_else(|| {
            (theirs.shard != shard).then(|| format!("shard {} (not {shard})", theirs.shard))
        }) {
            return Err(RunError::ForeignCheckpoint {
                path: file.to_path_buf(),
                difference: d,
            });
        }
        let items: ItemSet = metadata
            .get(keys::ITEMS)
            .ok_or_else(|| RunError::unusable(file, "no work items"))?
            .parse()
            .map_err(|e| RunError::unusable(file, e))?;
        if !within(&items, &block) {
            return Err(RunError::unusable(
                file,
                format!(
                    "work items {items} are not all among the run's {}",
                    all(&block)
                ),
            ));
        }
        if done.overlaps(&items) {
            return Err(RunError::unusable(file, "work items counted twice"));
        }
        if let Some(cell) = beyond_target(&items, &assembler, &layout) {
            return Err(RunError::unusable(
                file,
                format!("work items of cell {cell} beyond its target"),
            ));
        }
        done.extend(&items);
        // Row by row: memory holds the cells in flight, not the checkpoint. The rows are
        // trusted once the checksum after the last one matches; before that, a bad file
        // stops the run with nothing written in place. They must count exactly the file's
        // work items: what a cell's rows hold, it is credited with.
        let expected = layout.cell_work(&items);
        let mut counted: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for row in reader {
            let (cell, tally) = row?;
            if !expected.contains_key(&cell) {
                return Err(RunError::unusable(
                    file,
                    format!("a row of cell {cell}, which none of its work items {items} is of"),
                ));
            }
            let count = counted.entry(cell).or_default();
            count.0 = count.0.saturating_add(tally.chunks);
            count.1 = count.1.saturating_add(tally.trials());
            let want = expected[&cell];
            if count.0 > want.0 || count.1 > want.1 {
                return Err(RunError::unusable(file, rows_mismatch(cell, *count, want)));
            }
            if let Some(run) = assembler.add(cell, &tally) {
                sink.push(run)?;
            }
        }
        if let Some((&cell, &want)) = expected
            .iter()
            .find(|(cell, want)| counted.get(cell) != Some(want))
        {
            let have = counted.get(&cell).copied().unwrap_or_default();
            return Err(RunError::unusable(file, rows_mismatch(cell, have, want)));
        }
    }
    let done_trials: u64 = done
        .ranges()
        .iter()
        .flat_map(|&(a, b)| a..b)
        .map(|g| layout.item(g).trials)
        .sum();
    progress.trials_done.store(done_trials, Ordering::Relaxed);
    progress
        .trials_resumed
        .store(done_trials, Ordering::Relaxed);
    progress.cells_done.store(sink.cells(), Ordering::Relaxed);

    let mut pending = Pending::new(&checkpoints, files.len() + 1);
    let complete = engine::run(
        &Job::from(sweep),
        &plan.options,
        &done,
        &mut assembler,
        stop,
        progress,
        |batch, finished, assembler, due| {
            pending.add(batch)?;
            for run in finished {
                sink.push(run)?;
            }
            if due || plan.options.checkpoint_every.is_none() {
                let snapshot = assembler.is_adaptive().then(|| assembler.targets());
                pending.flush(&identity, snapshot)?;
            }
            Ok::<(), RunError>(())
        },
    )?;
    if !complete {
        let targets = assembler.is_adaptive().then(|| assembler.targets());
        pending.flush(&identity, targets)?;
        let done = checkpoint_files(&checkpoints)?
            .iter()
            .map(|f| crate::store::tallies::read_metadata(f))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .filter_map(|m| m.get(keys::ITEMS)?.parse::<ItemSet>().ok())
            .map(|s| s.len())
            .sum();
        return Ok(Finished::Interrupted {
            done,
            total,
            dir: dir.keep(),
        });
    }
    let info = RunInfo {
        started,
        finished: jiff::Timestamp::now().to_string(),
        threads: plan
            .options
            .threads
            .unwrap_or_else(rayon::current_num_threads),
        wall_s: clock.elapsed().as_secs_f64(),
    };
    let items = all(&block);
    // Work since the last checkpoint is not committed: should the finish fail, --resume runs
    // it again, and a finished run's checkpoints are removed anyway.
    drop(pending);
    let (files, records, verdicts) = sink.finish(sweep, &dir, &identity, &info, &items)?;
    // The one step that completes the run: until the run file says so, --resume finishes it
    // again from the checkpoints.
    let completion = Completion {
        finished: &info.finished,
        files: &files,
    };
    write_run_file(dir.path(), &identity, &info.started, Some(completion))?;
    fs::remove_dir_all(&checkpoints).map_err(OutputError::io(&checkpoints))?;
    lock.remove()?;
    Ok(Finished::Complete {
        files,
        records,
        verdicts,
        dir: dir.keep(),
    })
}

/// Whether every item of `items` is in `block`.
fn within(items: &ItemSet, block: &std::ops::Range<u64>) -> bool {
    let ranges = items.ranges();
    ranges.first().is_none_or(|r| r.0 >= block.start)
        && ranges.last().is_none_or(|r| r.1 <= block.end)
}

/// The items of `block`, as a set (for messages).
fn all(block: &std::ops::Range<u64>) -> ItemSet {
    let mut set = ItemSet::new();
    set.insert_range(block.start, block.end);
    set
}

/// A cell whose rows in a checkpoint count other work than its `coordsim.items` say.
fn rows_mismatch(
    cell: u32,
    (items, trials): (u64, u64),
    (want_items, want_trials): (u64, u64),
) -> String {
    format!(
        "cell {cell}: its rows count {items} work items of {trials} trials, but its metadata's \
         work items are {want_items} of {want_trials} trials"
    )
}

/// A cell with items in `items` at or beyond its target: a checkpoint that does not fit the
/// targets it was resumed with.
fn beyond_target(items: &ItemSet, assembler: &Assembler, layout: &engine::Layout) -> Option<u32> {
    if !assembler.is_adaptive() {
        return None;
    }
    items
        .ranges()
        .iter()
        .flat_map(|&(a, b)| a..b)
        .map(|g| layout.item(g))
        .find(|item| item.chunk >= assembler.target(item.cell))
        .map(|item| item.cell)
}
