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
use crate::output::tallies::{TallyWriter, read_tallies, write_tallies};
use crate::output::{CellRecord, OutputError, Results, RunDir, RunInfo, SweepCopy};
use crate::precision::Precision;
use crate::sweep::Sweep;
use crate::tally::Tally;

/// The run description in a run directory.
pub const RUN_FILE: &str = "coordsim-run.toml";
/// The checkpoint folder in a run directory.
pub const CHECKPOINTS: &str = "checkpoint";
/// The mergeable result of one shard.
pub const PART_FILE: &str = "part.parquet";
/// The summary of a whole run.
pub const SUMMARY_FILE: &str = "summary.parquet";

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
            ("coordsim.version", self.version.clone()),
            ("coordsim.sweep", self.sweep.clone()),
            ("coordsim.sweep_origin", self.origin.clone()),
            ("coordsim.seed", self.seed.to_string()),
            ("coordsim.trials_per_cell", self.trials.to_string()),
            ("coordsim.chunk_trials", self.chunk_trials.to_string()),
            ("coordsim.shard", self.shard.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(precision_metadata(&self.precision))
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
            version: get("coordsim.version")?,
            sweep: get("coordsim.sweep")?,
            origin: get("coordsim.sweep_origin")?,
            seed: number("coordsim.seed")?,
            trials: number("coordsim.trials_per_cell")?,
            precision: Precision {
                success: target("coordsim.precision")?,
                p99: target("coordsim.p99_precision")?,
            },
            chunk_trials: number("coordsim.chunk_trials")?,
            shard: get("coordsim.shard")?.parse().map_err(|e| format!("{e}"))?,
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

    /// The text of a run file ([`RUN_FILE`]): this identity and when the run started.
    fn to_toml(&self, started: &str) -> String {
        let mut table = toml::Table::new();
        for (k, v) in self.metadata() {
            table.insert(
                k.trim_start_matches("coordsim.").to_string(),
                toml::Value::String(v),
            );
        }
        table.insert(
            "started_utc".to_string(),
            toml::Value::String(started.to_string()),
        );
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
        .filter_map(|(k, v)| v.as_str().map(|s| (format!("coordsim.{k}"), s.to_string())))
        .collect())
}

/// Writes the run file of a run of `identity` started at `started` into `dir`.
fn write_run_file(dir: &Path, identity: &Identity, started: &str) -> Result<(), OutputError> {
    let run_file = dir.join(RUN_FILE);
    crate::output::write_atomically(&run_file, |file| {
        crate::output::write_bytes(file, &run_file, identity.to_toml(started).as_bytes())
    })
}

/// The metadata entries `coordsim.precision` and `coordsim.p99_precision`, for the targets
/// that are set.
pub fn precision_metadata(precision: &Precision) -> Vec<(String, String)> {
    [
        ("coordsim.precision", precision.success),
        ("coordsim.p99_precision", precision.p99),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
    .collect()
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
    let (dir, started) = if plan.resume {
        open_for_resume(&plan.dir, &identity)?
    } else {
        let dir = RunDir::create(&plan.dir)?;
        let started = jiff::Timestamp::now().to_string();
        write_run_file(dir.path(), &identity, &started)?;
        (dir, started)
    };
    let checkpoints = dir.path().join(CHECKPOINTS);
    fs::create_dir_all(&checkpoints).map_err(OutputError::io(&checkpoints))?;

    let layout = engine::layout(sweep);
    let shard = plan.options.shard;
    let total = {
        let block = layout.shard_items(shard);
        block.end - block.start
    };
    let mut sink = Sink::new(dir.path(), shard, layout.shard_cells(shard).start)?;

    // Reload the checkpoint: an adaptive run's targets from its last file, then the tallies.
    let mut done = ItemSet::new();
    let mut files = checkpoint_files(&checkpoints)?;
    files.sort();
    let mut assembler = match files.last() {
        Some(last) if sweep.precision.is_adaptive() => {
            let metadata = crate::output::tallies::read_metadata(last)?;
            let targets = metadata
                .get("coordsim.targets")
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
        let (tallies, metadata) = read_tallies(file)?;
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
            .get("coordsim.items")
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
        for (cell, tally) in tallies {
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

    let mut next = files.len() + 1;
    let mut pending = Pending::default();
    let complete = engine::run(
        sweep,
        &plan.options,
        &done,
        &mut assembler,
        stop,
        progress,
        |batch, finished, assembler, due| {
            pending.add(&batch);
            for run in finished {
                sink.push(run)?;
            }
            if due || plan.options.checkpoint_every.is_none() {
                let snapshot = assembler.is_adaptive().then(|| assembler.targets());
                pending.flush(&checkpoints, &mut next, &identity, snapshot)?;
            }
            Ok::<(), RunError>(())
        },
    )?;
    if !complete {
        let targets = assembler.is_adaptive().then(|| assembler.targets());
        pending.flush(&checkpoints, &mut next, &identity, targets)?;
        let done = checkpoint_files(&checkpoints)?
            .iter()
            .map(|f| crate::output::tallies::read_metadata(f))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .filter_map(|m| m.get("coordsim.items")?.parse::<ItemSet>().ok())
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
    let (files, records) = sink.finish(sweep, &dir, &identity, &info, &items)?;
    fs::remove_dir_all(&checkpoints).map_err(OutputError::io(&checkpoints))?;
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
fn open_for_resume(path: &Path, identity: &Identity) -> Result<(RunDir, String), RunError> {
    let run_file = path.join(RUN_FILE);
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
    for done in [SUMMARY_FILE, PART_FILE] {
        if path.join(done).exists() {
            return Err(RunError::Mismatch(format!(
                "{} is complete: nothing to resume",
                path.display()
            )));
        }
    }
    // A run file of an earlier version may lack the start: the resumption's start, then.
    let started = entries
        .get("coordsim.started_utc")
        .cloned()
        .unwrap_or_else(|| jiff::Timestamp::now().to_string());
    Ok((RunDir::existing(path), started))
}

/// Tallies of batches not yet committed to the checkpoint.
#[derive(Default)]
struct Pending {
    items: ItemSet,
    tallies: BTreeMap<u32, Tally>,
}

impl Pending {
    fn add(&mut self, batch: &engine::Batch) {
        self.items.extend(&batch.items);
        for (cell, tally) in &batch.tallies {
            self.tallies
                .entry(*cell)
                .or_insert_with(Tally::empty)
                .merge(tally);
        }
    }

    /// Commits the pending tallies as the next checkpoint file, with an adaptive run's
    /// `targets` after the decisions these items led to.
    fn flush(
        &mut self,
        dir: &Path,
        next: &mut usize,
        identity: &Identity,
        targets: Option<&Targets>,
    ) -> Result<(), RunError> {
        if self.items.is_empty() {
            return Ok(());
        }
        let rows: Vec<(u32, &Tally)> = self.tallies.iter().map(|(c, t)| (*c, t)).collect();
        let mut metadata = identity.metadata();
        metadata.push(("coordsim.kind".into(), "checkpoint".into()));
        metadata.push(("coordsim.items".into(), self.items.to_string()));
        if let Some(targets) = targets {
            metadata.push(("coordsim.targets".into(), format_targets(targets)));
        }
        write_tallies(&dir.join(format!("{next:06}.parquet")), &rows, metadata)?;
        *next += 1;
        *self = Pending::default();
        Ok(())
    }
}

/// Where finished cells go: summary records for a whole run, a part file for a shard.
enum Sink {
    Whole {
        records: Vec<CellRecord>,
        cells: u64,
    },
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

impl Sink {
    fn new(dir: &Path, shard: Shard, first_cell: u32) -> Result<Self, RunError> {
        Ok(if shard.count == 1 {
            Sink::Whole {
                records: Vec::new(),
                cells: 0,
            }
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
            Sink::Whole { records, cells } => {
                records.push(CellRecord::of(&run));
                *cells += 1;
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

    fn finish(
        self,
        sweep: &Sweep,
        dir: &RunDir,
        identity: &Identity,
        info: &RunInfo,
        items: &ItemSet,
    ) -> Result<(Vec<PathBuf>, Vec<CellRecord>), RunError> {
        match self {
            Sink::Whole { mut records, .. } => {
                records.sort_by_key(|r| r.cell_id);
                let results = Results {
                    sweep,
                    cells: &records,
                    info,
                };
                let files = dir.write_all(&results)?;
                Ok((files, records))
            }
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
                    ("coordsim.kind".to_string(), "part".to_string()),
                    ("coordsim.items".to_string(), items.to_string()),
                    ("coordsim.work_items".to_string(), items.len().to_string()),
                    ("coordsim.host".to_string(), host()),
                    ("coordsim.started_utc".to_string(), info.started.clone()),
                    ("coordsim.finished_utc".to_string(), info.finished.clone()),
                    ("coordsim.threads".to_string(), info.threads.to_string()),
                ]);
                writer.finish(metadata)?;
                let records: Vec<CellRecord> = Vec::new();
                let copy = dir.write(
                    &SweepCopy,
                    &Results {
                        sweep,
                        cells: &records,
                        info,
                    },
                )?;
                Ok((vec![path, copy], records))
            }
        }
    }
}

impl Sink {
    fn cells(&self) -> u64 {
        match self {
            Sink::Whole { cells, .. } | Sink::Part { cells, .. } => *cells,
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
    /// Its cells, in order.
    pub records: Vec<CellRecord>,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// The part file of `path`, a part directory or the file itself.
fn part_file(path: &Path) -> Result<PathBuf, RunError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let file = path.join(PART_FILE);
    if file.is_file() {
        return Ok(file);
    }
    if path.join(CHECKPOINTS).is_dir() {
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
    let reader = crate::output::tallies::TallyReader::open(file)?;
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
        .get("coordsim.items")
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
    Ok(identity)
}

/// The parts of a sharded run, checked and reduced to the cells of the whole run.
#[derive(Debug)]
pub struct Parts {
    /// What they ran, as a whole run (shard 0/1).
    pub identity: Identity,
    /// The sweep they ran.
    pub sweep: Sweep,
    /// Its cells, in order.
    pub records: Vec<CellRecord>,
    /// The earliest start and latest finish of the parts, and their threads together.
    pub info: RunInfo,
}

/// Reads the parts of a sharded run (part directories or their part files): each must match
/// its row count and checksum, all must come from one run (sweep, seed, trials, version,
/// shard count) and be every shard of it once, and together they must hold every work item
/// of every cell once. Rows may come in any cell order. This is what [`merge`] writes and
/// `coordsim verify` checks a folder of parts with.
pub fn read_parts(parts: &[PathBuf]) -> Result<Parts, RunError> {
    use crate::output::tallies::TallyReader;

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
    let layout = engine::layout(&sweep);
    let chunks = layout.chunks_per_cell();
    // Cells with some of their work items so far; a cell leaves when it has all of them.
    let mut open: BTreeMap<u32, Tally> = BTreeMap::new();
    let mut complete = vec![false; layout.cells as usize];
    let mut records = Vec::with_capacity(sweep.cells.len());
    let info = parts_info(&readers);
    for (reader, (_, file)) in readers.into_iter().zip(&identities) {
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
            let tally = open.entry(cell).or_insert_with(Tally::empty);
            tally.merge(&part);
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
                records.push(CellRecord::of(&CellRun {
                    cell_id: cell,
                    tally,
                    precision_met,
                }));
            }
        }
    }
    if let Some(cell) = complete.iter().position(|&c| !c) {
        let held = open.get(&(cell as u32)).map_or(0, |t| t.chunks);
        return Err(RunError::Mismatch(format!(
            "cell {cell}: the parts hold {held} of its {chunks} work items"
        )));
    }
    records.sort_by_key(|r| r.cell_id);
    Ok(Parts {
        identity,
        sweep,
        records,
        info,
    })
}

/// The earliest start and the latest finish recorded in the parts' metadata, and the sum of
/// their threads (0 for parts that do not say).
fn parts_info(readers: &[crate::output::tallies::TallyReader]) -> RunInfo {
    let times = |key: &str| -> Vec<jiff::Timestamp> {
        readers
            .iter()
            .filter_map(|r| r.metadata.get(key)?.parse().ok())
            .collect()
    };
    let started = times("coordsim.started_utc").into_iter().min();
    let finished = times("coordsim.finished_utc").into_iter().max();
    let threads = readers
        .iter()
        .filter_map(|r| r.metadata.get("coordsim.threads")?.parse::<usize>().ok())
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
        records,
        info,
    } = read_parts(parts)?;
    let dir = RunDir::create(out)?;
    write_run_file(dir.path(), &identity, &info.started)?;
    let files = dir.write_all(&Results {
        sweep: &sweep,
        cells: &records,
        info: &info,
    })?;
    dir.keep();
    Ok(Merged {
        sweep,
        records,
        files,
    })
}
