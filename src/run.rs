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

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use thiserror::Error;

use crate::engine::{
    self, Assembler, CHUNK_TRIALS, CellRun, EngineError, ItemSet, Progress, RunOptions, Shard,
    Targets, format_targets, parse_targets,
};
use crate::model::precision::Precision;
use crate::model::tally::Tally;
use crate::store::keys;
use crate::store::layout::{CHECKPOINTS, LOCK_FILE, PART_FILE, RUN_FILE, SUMMARY};
use crate::store::tallies::{TallyReader, TallyWriter};
use crate::store::{CellRecord, OutputError, Results, ResultsWriter, RunDir, RunInfo, SweepCopy};
use crate::sweep::Sweep;

/// A run that cannot go on, or cannot start as asked.
#[derive(Debug, Error)]
pub enum RunError {
    /// A file could not be written or read.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// `--resume` or `merge` was given something that does not fit (exit code 2).
    #[error("{0}")]
    Mismatch(String),
    /// A file's bytes are not those its run wrote (exit code 1).
    #[error("{0}")]
    Altered(String),
}

/// What must be equal for tallies to be merged, or a run to be resumed.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// coordsim's version: models may change between versions.
    pub version: String,
    /// The sweep file's text.
    pub sweep: String,
    /// Where the sweep came from.
    pub origin: String,
    /// What the sweep's files held when it was read ([`Sweep::inputs`]).
    pub inputs: String,
    /// The seed actually used.
    pub seed: u64,
    /// Trials per cell actually used (the cap of an adaptive run).
    pub trials: u64,
    /// The precision targets actually used.
    pub precision: Precision,
    /// Trials per work item.
    pub chunk_trials: u64,
    /// The share of the work items.
    pub shard: Shard,
}

impl Identity {
    /// The identity of running `sweep` as `shard`.
    pub fn of(sweep: &Sweep, shard: Shard) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            sweep: sweep.text.clone(),
            origin: sweep.origin.clone(),
            inputs: sweep.inputs(),
            seed: sweep.seed,
            trials: sweep.trials,
            precision: sweep.precision,
            chunk_trials: CHUNK_TRIALS,
            shard,
        }
    }

    /// As key-value metadata; the precision targets only when set.
    pub fn metadata(&self) -> Vec<(String, String)> {
        [
            (keys::VERSION, self.version.clone()),
            (keys::SWEEP, self.sweep.clone()),
            (keys::SWEEP_ORIGIN, self.origin.clone()),
            (keys::INPUTS, self.inputs.clone()),
            (keys::SEED, self.seed.to_string()),
            (keys::TRIALS_PER_CELL, self.trials.to_string()),
            (keys::CHUNK_TRIALS, self.chunk_trials.to_string()),
            (keys::SHARD, self.shard.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(keys::precision_metadata(&self.precision))
        .collect()
    }

    /// From key-value metadata written by [`Identity::metadata`].
    pub fn from_metadata(map: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| {
            map.get(key)
                .cloned()
                .ok_or_else(|| format!("no `{key}` in its metadata"))
        };
        let number = |key: &str| -> Result<u64, String> {
            get(key)?
                .parse()
                .map_err(|_| format!("bad `{key}` in its metadata"))
        };
        let target = |key: &str| -> Result<Option<f64>, String> {
            map.get(key)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("bad `{key}` in its metadata"))
                })
                .transpose()
        };
        Ok(Self {
            version: get(keys::VERSION)?,
            sweep: get(keys::SWEEP)?,
            origin: get(keys::SWEEP_ORIGIN)?,
            inputs: get(keys::INPUTS)?,
            seed: number(keys::SEED)?,
            trials: number(keys::TRIALS_PER_CELL)?,
            precision: Precision {
                success: target(keys::PRECISION)?,
                p99: target(keys::P99_PRECISION)?,
            },
            chunk_trials: number(keys::CHUNK_TRIALS)?,
            shard: get(keys::SHARD)?.parse().map_err(|e| format!("{e}"))?,
        })
    }

    /// How `other` differs from this identity, in words ("seed 7 (not 2024)"), ignoring the
    /// shard index.
    pub fn difference(&self, other: &Identity) -> Option<String> {
        let differ = |what: &str, theirs: &dyn std::fmt::Display, ours: &dyn std::fmt::Display| {
            Some(format!("{what} {theirs} (not {ours})"))
        };
        if self.version != other.version {
            return differ("coordsim version", &other.version, &self.version);
        }
        if self.sweep != other.sweep {
            return Some("another sweep file".to_string());
        }
        if self.inputs != other.inputs {
            let changed: Vec<&str> = other
                .inputs
                .split(',')
                .filter(|entry| !self.inputs.split(',').any(|e| e == *entry))
                .filter_map(|entry| entry.split_once('=').map(|(name, _)| name))
                .collect();
            return Some(format!(
                "other contents of the files the sweep reads (latency model {})",
                changed.join(", ")
            ));
        }
        if self.seed != other.seed {
            return differ("seed", &other.seed, &self.seed);
        }
        if self.trials != other.trials {
            return differ("trials", &other.trials, &self.trials);
        }
        let target = |x: Option<f64>| x.map_or_else(|| "none".to_string(), |x| x.to_string());
        if self.precision.success != other.precision.success {
            return differ(
                "precision",
                &target(other.precision.success),
                &target(self.precision.success),
            );
        }
        if self.precision.p99 != other.precision.p99 {
            return differ(
                "p99_precision",
                &target(other.precision.p99),
                &target(self.precision.p99),
            );
        }
        if self.chunk_trials != other.chunk_trials {
            return differ("chunk size", &other.chunk_trials, &self.chunk_trials);
        }
        if self.shard.count != other.shard.count {
            return differ("shard count", &other.shard.count, &self.shard.count);
        }
        None
    }

    /// The text of a run file ([`RUN_FILE`]): this identity, when the run started and, once
    /// it is complete, when it finished.
    fn to_toml(&self, started: &str, finished: Option<&str>, files: Option<&str>) -> String {
        let mut table = toml::Table::new();
        for (k, v) in self.metadata() {
            table.insert(
                k.trim_start_matches(keys::PREFIX).to_string(),
                toml::Value::String(v),
            );
        }
        table.insert(
            "started_utc".to_string(),
            toml::Value::String(started.to_string()),
        );
        for (key, value) in [
            (keys::entry(keys::FINISHED_UTC), finished),
            (keys::entry(keys::FILES), files),
        ] {
            if let Some(value) = value {
                table.insert(key.to_string(), toml::Value::String(value.to_string()));
            }
        }
        toml::to_string(&table).expect("strings serialize")
    }
}

/// The entries of a run file ([`RUN_FILE`]) as metadata keys (`coordsim.seed`, ...).
pub fn run_file_entries(text: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().trim().replace('\n', "; "))?;
    Ok(table
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_str()
                .map(|s| (format!("{}{k}", keys::PREFIX), s.to_string()))
        })
        .collect())
}

/// How a run ended, as its run file says once it is complete: when, and the digest of each
/// file it wrote ([`file_digest`]), so that `verify` checks their bytes.
struct Completion<'a> {
    finished: &'a str,
    files: &'a [PathBuf],
}

/// Writes the run file of a run of `identity` started at `started` (and, when complete, how
/// it ended) into `dir`.
fn write_run_file(
    dir: &Path,
    identity: &Identity,
    started: &str,
    completion: Option<Completion<'_>>,
) -> Result<(), OutputError> {
    let run_file = dir.join(RUN_FILE);
    let (finished, files) = match completion {
        Some(c) => {
            let mut digests = Vec::with_capacity(c.files.len());
            for path in c.files {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                digests.push(format!("{name}={}", file_digest(path)?));
            }
            (Some(c.finished), Some(digests.join(",")))
        }
        None => (None, None),
    };
    let text = identity.to_toml(started, finished, files.as_deref());
    crate::store::write_atomically(&run_file, |file| {
        crate::store::write_bytes(file, &run_file, text.as_bytes())
    })
}

/// A file's bytes in short: `crc32:length`, the CRC-32 (IEEE) of its bytes in hex. Any
/// change of a byte, in values, statistics or footer alike, changes it.
pub fn file_digest(path: &Path) -> Result<String, OutputError> {
    use std::io::Read;
    let mut file = crate::store::guard::open_regular(path).map_err(OutputError::io(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(OutputError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        length += n as u64;
    }
    Ok(format!("{:08x}:{length}", hasher.finalize()))
}

/// Checks the files of `dir` against the digests a complete run's file lists in its `files`
/// entry (`name=digest,...`): the first that differs, in words.
pub fn check_file_digests(dir: &Path, files: &str) -> Result<(), String> {
    for entry in files.split(',').filter(|e| !e.is_empty()) {
        let (name, want) = entry.split_once('=').ok_or_else(|| {
            format!(
                "bad `{}` entry `{entry}` in {RUN_FILE}",
                keys::entry(keys::FILES)
            )
        })?;
        let path = dir.join(name);
        let have = file_digest(&path).map_err(|e| e.to_string())?;
        if have != want {
            return Err(format!(
                "{}: its bytes (crc32:length {have}) are not those the run wrote ({want}): the file was altered",
                path.display()
            ));
        }
    }
    Ok(())
}

/// A run directory's lock ([`LOCK_FILE`]), held while the file is open: a second process on
/// the same directory is refused instead of interleaving its checkpoints. Every process takes
/// it before it reads whether the run is complete, and the file is removed only once the run
/// is, so a process that gets a lock on a removed file finds the run complete.
struct RunLock {
    path: PathBuf,
    _file: fs::File,
}

impl RunLock {
    /// Takes the lock of `dir`.
    fn take(dir: &Path) -> Result<Self, RunError> {
        let path = dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(OutputError::io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(RunError::Mismatch(format!(
                "{}: another coordsim process is running in this directory; wait for it to end",
                dir.display()
            ))),
            Err(fs::TryLockError::Error(error)) => Err(OutputError::Io { path, error }.into()),
        }
    }

    /// Removes the lock file of a complete run, and releases the lock.
    fn remove(self) -> Result<(), RunError> {
        fs::remove_file(&self.path).map_err(|e| OutputError::io(&self.path)(e).into())
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Finished {
    /// Every work item ran; the final files are in place.
    Complete {
        /// The files written.
        files: Vec<PathBuf>,
        /// The cells (for a whole run; empty for a shard).
        records: Vec<CellRecord>,
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
        return Err(RunError::Mismatch(
            EngineError::AdaptiveShard(plan.options.shard).to_string(),
        ));
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
    let total = {
        let block = layout.shard_items(shard);
        block.end - block.start
    };
    let mut sink = Sink::new(dir.path(), sweep, shard, layout.shard_cells(shard).start)?;

    // Reload the checkpoint: an adaptive run's targets from its last file, then the tallies.
    let mut done = ItemSet::new();
    let mut files = checkpoint_files(&checkpoints)?;
    files.sort();
    let mut assembler = match files.last() {
        Some(last) if sweep.precision.is_adaptive() => {
            let metadata = crate::store::tallies::read_metadata(last)?;
            let targets = metadata
                .get(keys::TARGETS)
                .ok_or_else(|| RunError::Mismatch(format!("{}: no targets", last.display())))
                .and_then(|t| {
                    parse_targets(t)
                        .map_err(|e| RunError::Mismatch(format!("{}: {e}", last.display())))
                })?;
            Assembler::adaptive(layout, sweep.precision, targets)
        }
        _ => engine::assembler(sweep, shard),
    };
    for file in &files {
        let reader = TallyReader::open(file)?;
        let metadata = reader.metadata.clone();
        let theirs = Identity::from_metadata(&metadata)
            .map_err(|e| RunError::Mismatch(format!("{}: {e}", file.display())))?;
        if let Some(d) = identity.difference(&theirs).or_else(|| {
            (theirs.shard != shard).then(|| format!("shard {} (not {shard})", theirs.shard))
        }) {
            return Err(RunError::Mismatch(format!(
                "{}: a checkpoint of another run: {d}",
                file.display()
            )));
        }
        let items: ItemSet = metadata
            .get(keys::ITEMS)
            .ok_or_else(|| RunError::Mismatch(format!("{}: no work items", file.display())))?
            .parse()
            .map_err(|e| RunError::Mismatch(format!("{}: {e}", file.display())))?;
        if done.overlaps(&items) {
            return Err(RunError::Mismatch(format!(
                "{}: work items counted twice",
                file.display()
            )));
        }
        if let Some(cell) = beyond_target(&items, &assembler, &layout) {
            return Err(RunError::Mismatch(format!(
                "{}: work items of cell {cell} beyond its target",
                file.display()
            )));
        }
        done.extend(&items);
        // Row by row: memory holds the cells in flight, not the checkpoint. The rows are
        // trusted once the checksum after the last one matches; before that, a bad file
        // stops the run with nothing written in place.
        for row in reader {
            let (cell, tally) = row?;
            if let Some(run) = assembler.add(cell, &tally) {
                sink.push(run)?;
            }
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
        sweep,
        &plan.options,
        &done,
        &mut assembler,
        stop,
        progress,
        |batch, finished, assembler, due| {
            pending.add(&batch)?;
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
    let mut items = ItemSet::new();
    let block = layout.shard_items(shard);
    items.insert_range(block.start, block.end);
    // Work since the last checkpoint is not committed: should the finish fail, --resume runs
    // it again, and a finished run's checkpoints are removed anyway.
    drop(pending);
    let (files, records) = sink.finish(sweep, &dir, &identity, &info, &items)?;
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
        dir: dir.keep(),
    })
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

fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
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
fn open_for_resume(
    path: &Path,
    identity: &Identity,
) -> Result<(RunDir, String, RunLock), RunError> {
    let run_file = path.join(RUN_FILE);
    let lock = if run_file.is_file() {
        RunLock::take(path)?
    } else {
        return Err(RunError::Mismatch(format!(
            "{}: nothing to resume (no {RUN_FILE}; start a new run without --resume)",
            path.display()
        )));
    };
    let text = fs::read_to_string(&run_file).map_err(|_| {
        RunError::Mismatch(format!(
            "{}: nothing to resume (no {RUN_FILE}; start a new run without --resume)",
            path.display()
        ))
    })?;
    let entries = run_file_entries(&text)
        .map_err(|e| RunError::Mismatch(format!("{}: {e}", run_file.display())))?;
    let theirs = Identity::from_metadata(&entries)
        .map_err(|e| RunError::Mismatch(format!("{}: {e}", run_file.display())))?;
    if let Some(d) = identity.difference(&theirs).or_else(|| {
        (theirs.shard != identity.shard)
            .then(|| format!("shard {} (not {})", theirs.shard, identity.shard))
    }) {
        return Err(RunError::Mismatch(format!(
            "{} holds another run: {d}; resume with the same sweep, seed, trials and shard",
            path.display()
        )));
    }
    if entries.contains_key(keys::FINISHED_UTC) {
        return Err(RunError::Mismatch(format!(
            "{} is complete: nothing to resume",
            path.display()
        )));
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
const PENDING_BYTES: usize = 8 << 20;

/// Tallies of batches not yet committed to the checkpoint: merged in memory per cell, and
/// appended to the next checkpoint file whenever they hold more than [`PENDING_BYTES`] (so
/// memory holds a bounded number of cells, not every cell since the last checkpoint). The file is put in
/// place, with the work items it covers, when a checkpoint is due. A cell may have several
/// rows in one file; they merge on reading.
struct Pending {
    dir: PathBuf,
    /// The number of the next checkpoint file.
    next: usize,
    writer: Option<TallyWriter>,
    tallies: BTreeMap<u32, Tally>,
    /// What `tallies` hold ([`Tally::memory_bytes`]).
    bytes: usize,
    items: ItemSet,
}

impl Pending {
    fn new(dir: &Path, next: usize) -> Self {
        Self {
            dir: dir.to_path_buf(),
            next,
            writer: None,
            tallies: BTreeMap::new(),
            bytes: 0,
            items: ItemSet::new(),
        }
    }

    fn add(&mut self, batch: &engine::Batch) -> Result<(), RunError> {
        self.items.extend(&batch.items);
        for (cell, tally) in &batch.tallies {
            match self.tallies.entry(*cell) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    self.bytes += e.insert(tally.clone()).memory_bytes();
                }
                std::collections::btree_map::Entry::Occupied(e) => {
                    let pending = e.into_mut();
                    self.bytes -= pending.memory_bytes().min(self.bytes);
                    pending.merge(tally);
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
    fn spill(&mut self) -> Result<(), RunError> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let path = self.dir.join(format!("{:06}.parquet", self.next));
                self.writer.insert(TallyWriter::create(&path)?)
            }
        };
        let rows: Vec<(u32, &Tally)> = self.tallies.iter().map(|(c, t)| (*c, t)).collect();
        writer.write(&rows)?;
        self.tallies.clear();
        self.bytes = 0;
        Ok(())
    }

    /// Commits the pending tallies as the next checkpoint file, with an adaptive run's
    /// `targets` after the decisions these items led to.
    fn flush(&mut self, identity: &Identity, targets: Option<&Targets>) -> Result<(), RunError> {
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

/// Where finished cells go: the result files of a whole run, a part file for a shard.
enum Sink<'a> {
    Whole(Box<ResultsWriter<'a>>),
    /// A part's rows are written in cell order, whatever order the cells finish in (a resumed
    /// run finishes the cells of its checkpoint first): cells that finish before an earlier
    /// one wait in `waiting`, which holds at most the cells a batch spans.
    Part {
        writer: Box<TallyWriter>,
        path: PathBuf,
        cells: u64,
        next: u32,
        waiting: BTreeMap<u32, Tally>,
    },
}

impl<'a> Sink<'a> {
    fn new(dir: &Path, sweep: &'a Sweep, shard: Shard, first_cell: u32) -> Result<Self, RunError> {
        Ok(if shard.count == 1 {
            Sink::Whole(Box::new(ResultsWriter::create(dir, sweep)?))
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

    fn push(&mut self, run: CellRun) -> Result<(), RunError> {
        match self {
            Sink::Whole(writer) => writer.push(CellRecord::of(&run))?,
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

    fn finish(
        self,
        sweep: &Sweep,
        dir: &RunDir,
        identity: &Identity,
        info: &RunInfo,
        items: &ItemSet,
    ) -> Result<(Vec<PathBuf>, Vec<CellRecord>), RunError> {
        match self {
            Sink::Whole(writer) => Ok(writer.finish(info)?),
            Sink::Part {
                writer,
                path,
                waiting,
                ..
            } => {
                if let Some(cell) = waiting.keys().next() {
                    return Err(RunError::Mismatch(format!(
                        "cell {cell} finished, but an earlier cell of the shard did not"
                    )));
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
                Ok((vec![path, copy], Vec::new()))
            }
        }
    }

    fn cells(&self) -> u64 {
        match self {
            Sink::Whole(writer) => writer.cells(),
            Sink::Part { cells, .. } => *cells,
        }
    }
}

/// This machine's name, from the kernel (gethostname): not from the environment, which a
/// batch system may have copied from the machine a job was submitted on.
fn host() -> String {
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

/// What [`merge`] produced.
#[derive(Debug)]
pub struct Merged {
    /// The sweep the parts ran.
    pub sweep: Sweep,
    /// How many cells were merged.
    pub cells: u64,
    /// The cells' summaries, in order, when there are at most
    /// [`crate::store::SHOWN_CELLS`] (empty otherwise).
    pub records: Vec<CellRecord>,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// The part file of `path`, a part directory or the file itself. In a part directory, the run
/// file must say the shard finished.
fn part_file(path: &Path) -> Result<PathBuf, RunError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let file = path.join(PART_FILE);
    let run = fs::read_to_string(path.join(RUN_FILE))
        .ok()
        .and_then(|text| run_file_entries(&text).ok());
    let finished = run
        .as_ref()
        .is_some_and(|r| r.contains_key(keys::FINISHED_UTC));
    if file.is_file() && (run.is_none() || finished) {
        return Ok(file);
    }
    if path.join(CHECKPOINTS).is_dir() || run.is_some() {
        return Err(RunError::Mismatch(format!(
            "{}: the shard did not finish (run it again with --resume)",
            path.display()
        )));
    }
    Err(RunError::Mismatch(format!(
        "{}: not a part (no {PART_FILE})",
        path.display()
    )))
}

/// Checks one part on its own: its rows match the row count and checksum in its metadata,
/// every histogram decodes, and it holds each of its shard's cells once, with exactly the
/// shard's work items of that cell. Returns the part's identity.
pub fn check_part(file: &Path) -> Result<Identity, RunError> {
    let mismatch =
        |e: &dyn std::fmt::Display| RunError::Mismatch(format!("{}: {e}", file.display()));
    let dir = file.parent().filter(|d| d.join(RUN_FILE).is_file());
    if let Some(dir) = dir {
        part_file(dir)?;
    }
    let reader = crate::store::tallies::TallyReader::open(file)?;
    let identity = Identity::from_metadata(&reader.metadata).map_err(|e| mismatch(&e))?;
    let sweep = Sweep::parse(&identity.sweep, &identity.origin)
        .map_err(|e| mismatch(&format!("its sweep no longer parses: {e}")))?
        .with_trials(identity.trials);
    let layout = engine::layout(&sweep);
    let shard = identity.shard;
    let block = layout.shard_items(shard);
    let mut expected = ItemSet::new();
    expected.insert_range(block.start, block.end);
    let items: ItemSet = reader
        .metadata
        .get(keys::ITEMS)
        .ok_or_else(|| mismatch(&"no `coordsim.items` in its metadata"))?
        .parse()
        .map_err(|e| mismatch(&e))?;
    if items != expected {
        return Err(mismatch(&format!(
            "its metadata names work items {items}, but shard {shard} has {expected}"
        )));
    }
    let mut chunks: BTreeMap<u32, u64> = BTreeMap::new();
    for row in reader {
        let (cell, tally) = row?;
        if chunks.insert(cell, tally.chunks).is_some() {
            return Err(mismatch(&format!("cell {cell} appears twice")));
        }
    }
    for cell in layout.shard_cells(shard) {
        let want = layout.cell_items_in(cell, shard);
        let have = chunks.remove(&cell).unwrap_or(0);
        if have != want {
            return Err(mismatch(&format!(
                "cell {cell}: {have} work items, not the shard's {want}"
            )));
        }
    }
    if let Some(cell) = chunks.keys().next() {
        return Err(mismatch(&format!("cell {cell} is not in shard {shard}")));
    }
    // Last, as verify does for a whole run: any other change of a byte.
    let files = dir.and_then(|dir| {
        let text = fs::read_to_string(dir.join(RUN_FILE)).ok()?;
        let files = run_file_entries(&text).ok()?.remove(keys::FILES)?;
        Some((dir, files))
    });
    if let Some((dir, files)) = files {
        check_file_digests(dir, &files).map_err(RunError::Altered)?;
    }
    Ok(identity)
}

/// The parts of a sharded run, checked and reduced to the cells of the whole run.
#[derive(Debug)]
pub struct Parts {
    /// What they ran, as a whole run (shard 0/1).
    pub identity: Identity,
    /// The sweep they ran.
    pub sweep: Sweep,
    /// The earliest start and latest finish of the parts, and their threads together.
    pub info: RunInfo,
    /// The parts' rows, not yet read.
    pub rows: PartRows,
}

/// The rows of the parts of a sharded run, to be read once ([`PartRows::cells`]).
pub struct PartRows {
    readers: Vec<(crate::store::tallies::TallyReader, PathBuf)>,
}

impl std::fmt::Debug for PartRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.readers.iter().map(|(_, file)| file))
            .finish()
    }
}

/// Opens the parts of a sharded run (part directories or their part files): all must come
/// from one run (sweep, seed, trials, version, shard count) and be every shard of it once.
/// [`PartRows::cells`] then reads their rows. This is what [`merge`] writes and `coordsim
/// verify` checks a folder of parts with.
pub fn read_parts(parts: &[PathBuf]) -> Result<Parts, RunError> {
    use crate::store::tallies::TallyReader;

    if parts.is_empty() {
        return Err(RunError::Mismatch("no parts to merge".into()));
    }
    let mut readers = Vec::with_capacity(parts.len());
    let mut identities: Vec<(Identity, PathBuf)> = Vec::with_capacity(parts.len());
    for part in parts {
        let file = part_file(part)?;
        let reader = TallyReader::open(&file)?;
        let identity = Identity::from_metadata(&reader.metadata)
            .map_err(|e| RunError::Mismatch(format!("{}: {e}", file.display())))?;
        if let Some((first, first_file)) = identities.first()
            && let Some(d) = Identity::difference(first, &identity)
        {
            return Err(RunError::Mismatch(format!(
                "{} does not belong with {}: {d}",
                file.display(),
                first_file.display()
            )));
        }
        identities.push((identity, file));
        readers.push(reader);
    }
    let count = identities[0].0.shard.count;
    let mut by_index: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for (identity, file) in &identities {
        if let Some(other) = by_index.insert(identity.shard.index, file) {
            return Err(RunError::Mismatch(format!(
                "{} and {} are both shard {}",
                other.display(),
                file.display(),
                identity.shard
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Mismatch(format!(
            "missing shard(s) {}",
            missing.join(", ")
        )));
    }

    let identity = Identity {
        shard: Shard::WHOLE,
        ..identities[0].0.clone()
    };
    let sweep = Sweep::parse(&identity.sweep, &identity.origin)
        .map_err(|e| RunError::Mismatch(format!("the parts' sweep no longer parses: {e}")))?
        .with_seed(identity.seed)
        .with_trials(identity.trials)
        .with_precision(identity.precision);
    let info = parts_info(&readers);
    let readers = readers
        .into_iter()
        .zip(identities)
        .map(|(reader, (_, file))| (reader, file))
        .collect();
    Ok(Parts {
        identity,
        sweep,
        info,
        rows: PartRows { readers },
    })
}

impl PartRows {
    /// Reads every row of the parts of a run of `sweep`, giving each cell to `on_cell` as soon
    /// as the parts have all of its work items; returns the cells. Each part must match its row
    /// count and checksum, and together they must hold every work item of every cell once.
    /// Rows may come in any cell order; memory holds the cells not yet whole.
    pub fn cells(
        self,
        sweep: &Sweep,
        mut on_cell: impl FnMut(CellRecord) -> Result<(), RunError>,
    ) -> Result<u64, RunError> {
        let layout = engine::layout(sweep);
        let chunks = layout.chunks_per_cell();
        // Cells with some of their work items so far; a cell leaves when it has all of them.
        let mut open: BTreeMap<u32, Tally> = BTreeMap::new();
        let mut complete = vec![false; layout.cells as usize];
        let mut cells = 0;
        for (reader, file) in self.readers {
            // Read to the end: the checksum is checked after the last row.
            for row in reader {
                let (cell, part) = row?;
                if cell >= layout.cells {
                    return Err(RunError::Mismatch(format!(
                        "{}: cell {cell} is not in the sweep (it has {} cells)",
                        file.display(),
                        layout.cells
                    )));
                }
                let tally = match open.entry(cell) {
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(part),
                    std::collections::btree_map::Entry::Occupied(e) => {
                        let tally = e.into_mut();
                        tally.merge(&part);
                        tally
                    }
                };
                if complete[cell as usize] || tally.chunks > chunks {
                    return Err(RunError::Mismatch(format!(
                        "cell {cell}: the parts hold more than its {chunks} work items"
                    )));
                }
                if tally.chunks == chunks {
                    let tally = open.remove(&cell).expect("just merged");
                    complete[cell as usize] = true;
                    // Parts never come from adaptive runs (they need whole cells), but should one
                    // claim targets, each cell reports whether it meets them.
                    let precision_met = sweep
                        .precision
                        .is_adaptive()
                        .then(|| sweep.precision.assess(&tally).met);
                    on_cell(CellRecord::of(&CellRun {
                        cell_id: cell,
                        tally,
                        precision_met,
                    }))?;
                    cells += 1;
                }
            }
        }
        if let Some(cell) = complete.iter().position(|&c| !c) {
            let held = open.get(&(cell as u32)).map_or(0, |t| t.chunks);
            return Err(RunError::Mismatch(format!(
                "cell {cell}: the parts hold {held} of its {chunks} work items"
            )));
        }
        Ok(cells)
    }
}

/// The earliest start and the latest finish recorded in the parts' metadata, and the sum of
/// their threads (0 for parts that do not say).
fn parts_info(readers: &[crate::store::tallies::TallyReader]) -> RunInfo {
    let times = |key: &str| -> Vec<jiff::Timestamp> {
        readers
            .iter()
            .filter_map(|r| r.metadata.get(key)?.parse().ok())
            .collect()
    };
    let started = times(keys::STARTED_UTC).into_iter().min();
    let finished = times(keys::FINISHED_UTC).into_iter().max();
    let threads = readers
        .iter()
        .filter_map(|r| r.metadata.get(keys::THREADS)?.parse::<usize>().ok())
        .sum();
    RunInfo {
        started: started.map_or_else(String::new, |t| t.to_string()),
        finished: finished.map_or_else(String::new, |t| t.to_string()),
        threads,
        wall_s: match (started, finished) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        },
    }
}

/// Merges the parts of a sharded run into the files of a whole run in `out`: the same
/// values a single process would have produced, and a run file of the whole run, so that the
/// result verifies like one. Refuses what [`read_parts`] refuses.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<Merged, RunError> {
    let Parts {
        identity,
        sweep,
        info,
        rows,
    } = read_parts(parts)?;
    let dir = RunDir::create(out)?;
    let lock = RunLock::take(dir.path())?;
    write_run_file(dir.path(), &identity, &info.started, None)?;
    let mut writer = ResultsWriter::create(dir.path(), &sweep)?;
    let cells = rows.cells(&sweep, |record| Ok(writer.push(record)?))?;
    let (files, records) = writer.finish(&info)?;
    let completion = Completion {
        finished: &info.finished,
        files: &files,
    };
    write_run_file(dir.path(), &identity, &info.started, Some(completion))?;
    lock.remove()?;
    dir.keep();
    Ok(Merged {
        sweep,
        cells,
        records,
        files,
    })
}
