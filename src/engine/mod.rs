//! The engine: work items, random streams, rayon scheduling and an exact reduction.
//!
//! A sweep's trials are cut into work items (`work`): chunk `j` of cell `c` holds trials
//! `[j * CHUNK_TRIALS, min((j + 1) * CHUNK_TRIALS, trials))` and draws every random number
//! from its own stream [`rng::stream`]`(seed, c, j)`. rayon runs the items of a batch on a
//! pool of threads; each thread folds its items into its own [`Tally`]s (nothing is shared or
//! locked while trials run) and the batch's tallies are merged per cell. Tallies merge
//! exactly, so the numbers depend on the sweep and the seed only, never on the thread count,
//! the schedule, the shards or interruptions.
//!
//! A batch holds the pending work items of the first few unfinished cells, in cell order
//! ([`Assembler::wanted`]): in a run with a fixed trial count, every item of the cell; in an
//! adaptive run ([`crate::model::precision`]), the chunks of its current target. After each batch
//! the [`Assembler`] merges the tallies and, in an adaptive run, decides for every cell whose
//! target chunks are all done whether it is finished or needs more; cells wait for nothing
//! but their own chunks.
//!
//! With [`RunOptions::checkpoint_every`], a batch stops starting work items once that long
//! has passed since the last checkpoint, and the items it did not start go to the next batch:
//! finished work is handed over for a checkpoint at least that often, plus the time of the
//! items in flight, however slow the items are. Which items share a batch changes nothing in
//! the results.

mod assemble;
mod job;
mod work;

pub use assemble::{Assembler, Targets, format_targets, parse_targets};
pub use job::{Job, Models, layout};
pub use work::{CHUNK_TRIALS, ItemSet, Layout, Shard, WorkItem};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use thiserror::Error;

use crate::model::Simulate;
use crate::model::objective::Judgement;
use crate::model::tally::Tally;
use crate::rng;

/// Most cells in one batch: each thread holds a tally for each cell of its share, and the
/// [`Assembler`] one for each cell started and not finished.
const BATCH_CELLS: usize = 16;

/// Most work items per batch and thread: a batch ends with a barrier, where threads wait for
/// the slowest and the tallies are merged, so more is more efficient (two threads of the
/// quorum reference model: 8% less wall time at 1024 than at 64). An interruption or a due
/// checkpoint does not wait for the batch: items not yet started are left for later.
const BATCH_ITEMS_PER_THREAD: usize = 1024;

/// One cell's finished tally.
#[derive(Debug, Clone)]
pub struct CellRun {
    /// The cell's id.
    pub cell_id: u32,
    /// Everything its trials recorded (shared with a checkpoint that has not yet written it).
    pub tally: Arc<Tally>,
    /// In an adaptive run, whether it met the precision targets (if not, it used the cap).
    pub precision_met: Option<bool>,
    /// The verdicts of the cell's objectives, in the order of [`crate::model::objective::Objectives::of`] (empty in a
    /// shard's part, whose cells are judged when the parts are merged).
    pub verdicts: Vec<Judgement>,
}

/// Tallies of a batch of finished work items.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The items.
    pub items: ItemSet,
    /// Their tallies, one per cell, ascending by cell: shared, as the assembler and the
    /// checkpoint both keep them.
    pub tallies: Vec<(u32, Arc<Tally>)>,
}

/// Counters a progress display may read while a run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Trials finished so far, those reloaded from a checkpoint included.
    pub trials_done: AtomicU64,
    /// Trials reloaded from a checkpoint when the run resumed: finished by an earlier
    /// process.
    pub trials_resumed: AtomicU64,
    /// Cells finished so far.
    pub cells_done: AtomicU64,
    /// The trials the run will have run when complete ([`Assembler::planned_trials`]): an
    /// estimate that grows with the targets in an adaptive run; 0 until known.
    pub trials_planned: AtomicU64,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads; `None` for one per core.
    pub threads: Option<usize>,
    /// The share of the work items to run.
    pub shard: Shard,
    /// How often finished work is handed over for a checkpoint (see the module
    /// documentation); `None`: batches always run whole.
    pub checkpoint_every: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: None,
            shard: Shard::WHOLE,
            checkpoint_every: None,
        }
    }
}

/// The engine could not start.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {error}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// Why (part of the message, so an error chain says it once).
        error: rayon::ThreadPoolBuildError,
    },
    /// An adaptive run was asked to run as one of several shards.
    #[error(
        "precision targets need all of a cell's trials in one process: they cannot run as shard {0}"
    )]
    AdaptiveShard(Shard),
}

/// Most work items handed to one task of the pool: consecutive items of one cell are run in
/// one recording session ([`Simulate::run_streams`]), which moves latency counts into the
/// tally's histogram once instead of once per item (about 6% of a directly sampled quorum
/// trial's instructions). Smaller groups when a batch has fewer than 8 groups per thread, so
/// that a few slow items still spread evenly over the threads.
pub const GROUP_ITEMS: usize = 8;

/// Runs `items` (all of one cell) into `tally` while `proceed()` allows, calling `done` with
/// each item run; returns how many were run.
fn run_items(
    model: &dyn Simulate,
    seed: u64,
    items: &[WorkItem],
    tally: &mut Tally,
    proceed: &dyn Fn() -> bool,
    mut done: impl FnMut(&WorkItem),
) -> u64 {
    let start = Instant::now();
    let mut pending = items.iter();
    let mut current: Option<&WorkItem> = None;
    let mut chunks = 0;
    let mut next = |rng: &mut rng::SimRng| {
        if let Some(item) = current.take() {
            done(item);
            chunks += 1;
        }
        if !proceed() {
            return None;
        }
        let item = pending.next()?;
        current = Some(item);
        *rng = rng::stream(seed, item.cell.into(), item.chunk);
        Some(item.trials)
    };
    let mut rng = rng::stream(seed, 0, 0); // replaced by `next` before any trial
    model.run_streams(&mut rng, &mut next, tally);
    tally.chunks += chunks;
    tally.busy_ns += start.elapsed().as_nanos() as u64;
    chunks
}

fn merge_batches(mut a: Batch, b: Batch) -> Batch {
    a.items.extend(&b.items);
    for (cell, tally) in b.tallies {
        match a.tallies.binary_search_by_key(&cell, |(c, _)| *c) {
            Ok(i) => Arc::make_mut(&mut a.tallies[i].1).merge(&tally),
            Err(i) => a.tallies.insert(i, (cell, tally)),
        }
    }
    a
}

/// Runs the work items of `options.shard` that are not in `done` and that `assembler` wants,
/// in batches (see the module documentation). Each finished batch goes to `assembler`, then to
/// `on_batch` with the cells it finished, the assembler, and whether a checkpoint is due
/// ([`RunOptions::checkpoint_every`] has passed since the last one; then `on_batch` may be
/// given an empty batch). Once `stop` is set, items not yet started are skipped and the last
/// batch holds only the finished ones.
///
/// Returns whether every cell is finished. Stops at the first error of `on_batch`.
pub fn run<E: From<EngineError>>(
    job: &Job<'_>,
    options: &RunOptions,
    done: &ItemSet,
    assembler: &mut Assembler,
    stop: &AtomicBool,
    progress: &Progress,
    mut on_batch: impl FnMut(Batch, Vec<CellRun>, &Assembler, bool) -> Result<(), E>,
) -> Result<bool, E> {
    if assembler.is_adaptive() && options.shard.count > 1 {
        return Err(EngineError::AdaptiveShard(options.shard).into());
    }
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("coordsim-{i}"));
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    let pool = builder.build().map_err(|error| EngineError::Pool {
        threads: options.threads.unwrap_or(0),
        error,
    })?;
    let layout = job.layout;
    let cells = layout.shard_cells(options.shard);
    let batch_items = BATCH_ITEMS_PER_THREAD * pool.current_num_threads();
    let mut done = done.clone();
    // Cells before `first` are finished: they have no pending items and never will again.
    let mut first = cells.start;
    let mut batch: Vec<WorkItem> = Vec::with_capacity(batch_items);
    progress
        .trials_planned
        .store(assembler.planned_trials(), Ordering::Relaxed);
    let mut last_checkpoint = Instant::now();
    // The models of the cells started and not finished: built when a cell enters a batch,
    // dropped when it finishes, so memory holds the cells in flight.
    let mut models: BTreeMap<u32, Box<dyn Simulate>> = BTreeMap::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        batch.clear();
        let (mut cell, mut window) = (first, 0);
        while cell < cells.end && window < BATCH_CELLS && batch.len() < batch_items {
            let wanted = assembler.wanted(cell);
            let mut gaps = done.gaps(wanted.start, wanted.end).peekable();
            if gaps.peek().is_none() {
                if cell == first {
                    first += 1;
                }
            } else {
                window += 1;
                let room = batch_items - batch.len();
                batch.extend(
                    gaps.flat_map(|(a, b)| a..b)
                        .take(room)
                        .map(|g| layout.item(g)),
                );
            }
            cell += 1;
        }
        if batch.is_empty() {
            return Ok(true);
        }
        for item in &batch {
            models
                .entry(item.cell)
                .or_insert_with(|| job.models.model(item.cell));
        }
        let deadline = options
            .checkpoint_every
            .map(|every| last_checkpoint + every);
        let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);
        // Past the deadline, one more item still starts: every batch makes progress, however
        // short the interval between checkpoints.
        let overtime = AtomicBool::new(false);
        let proceed = || {
            !stop.load(Ordering::Relaxed)
                && (!past_deadline() || !overtime.swap(true, Ordering::Relaxed))
        };
        let group = (batch.len() / (8 * pool.current_num_threads())).clamp(1, GROUP_ITEMS);
        let finished = pool.install(|| {
            batch
                .par_chunks(group)
                .fold(Batch::default, |mut partial, group| {
                    for same_cell in group.chunk_by(|a, b| a.cell == b.cell) {
                        let cell = same_cell[0].cell;
                        let new = partial.tallies.last().is_none_or(|(c, _)| *c != cell);
                        if new {
                            partial.tallies.push((cell, Arc::new(Tally::empty())));
                        }
                        let Batch { items, tallies } = &mut partial;
                        let (_, tally) = tallies.last_mut().expect("just pushed");
                        let tally = Arc::get_mut(tally).expect("a batch's own while it runs");
                        let model = models[&cell].as_ref();
                        let run = run_items(model, job.seed, same_cell, tally, &proceed, |item| {
                            items.insert(item.index);
                            progress
                                .trials_done
                                .fetch_add(item.trials, Ordering::Relaxed);
                        });
                        if run == 0 && new {
                            // Stopped before its first item: a batch holds no empty tallies.
                            partial.tallies.pop();
                        }
                    }
                    partial
                })
                .reduce(Batch::default, merge_batches)
        });
        let due = past_deadline();
        let mut cells_finished = Vec::new();
        if !finished.items.is_empty() {
            done.extend(&finished.items);
            cells_finished = assembler.add_batch(&finished);
            for cell in &cells_finished {
                models.remove(&cell.cell_id);
            }
            progress
                .cells_done
                .fetch_add(cells_finished.len() as u64, Ordering::Relaxed);
            progress
                .trials_planned
                .store(assembler.planned_trials(), Ordering::Relaxed);
        }
        if !finished.items.is_empty() || due {
            on_batch(finished, cells_finished, assembler, due)?;
        }
        if due {
            last_checkpoint = Instant::now();
        }
        // An unfinished batch was stopped (the loop returns) or cut short for a checkpoint
        // (its remaining items go to the next batch).
    }
}

/// The assembler of a new run of `job` as `shard`: adaptive if it has precision targets.
pub fn assembler(job: &Job<'_>, shard: Shard) -> Assembler {
    if job.precision.is_adaptive() {
        Assembler::adaptive(job.layout, job.precision, Targets::new())
    } else {
        Assembler::new(job.layout, shard)
    }
    .with_objectives(job.objectives.clone())
}

/// Runs every cell of `job` (a [`Job`], or a [`crate::sweep::Sweep`]) and returns their tallies in cell
/// order.
pub fn run_all<'a>(
    job: impl Into<Job<'a>>,
    options: &RunOptions,
) -> Result<Vec<CellRun>, EngineError> {
    let job = job.into();
    let mut assembler = assembler(&job, options.shard);
    let mut cells = Vec::with_capacity(job.layout.cells as usize);
    let progress = Progress::default();
    let stop = AtomicBool::new(false);
    run(
        &job,
        options,
        &ItemSet::new(),
        &mut assembler,
        &stop,
        &progress,
        |_, finished, _, _| {
            cells.extend(finished);
            Ok::<(), EngineError>(())
        },
    )?;
    cells.sort_by_key(|c| c.cell_id);
    Ok(cells)
}

/// Runs `trials` trials of one model as cell 0 of a sweep with `seed`, on the current rayon
/// pool: the same numbers as that cell of a sweep would give.
///
/// ```
/// use coordsim::engine::simulate;
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{Quorum};
/// use coordsim::model::{Env};
/// let env = Env::new(0.1, 0.0, Exponential::new(0.5).unwrap().into()).unwrap();
/// let tally = simulate(&Quorum::new(env, 5, 3).unwrap(), 100_000, 42);
/// assert_eq!(tally.trials(), 100_000);
/// assert!(tally.successes > 98_000);
/// ```
pub fn simulate(model: &dyn Simulate, trials: u64, seed: u64) -> Tally {
    let layout = Layout { cells: 1, trials };
    (0..layout.items())
        .into_par_iter()
        .map(|g| layout.item(g))
        .fold(Tally::empty, |mut tally, item| {
            run_items(model, seed, &[item], &mut tally, &|| true, |_| {});
            tally
        })
        .reduce(Tally::empty, |mut a, b| {
            a.merge(&b);
            a
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let protocols: Vec<String> = crate::protocols::BUILTIN
            .iter()
            .map(|p| format!("\"{}\"", p.name))
            .collect();
        let text = format!(
            "name = \"threads\"\nseed = 9\ntrials = {}\n[grid]\nprotocol = [{}]\n\
             nodes = [3, 8]\ncrash = 0.05\nloss = 0.01\nlatency = \"l\"\n\
             [latency.l]\nkind = \"exponential\"\nmean_ms = 0.5\n",
            2 * CHUNK_TRIALS + 17,
            protocols.join(", ")
        );
        let sweep = crate::sweep::Sweep::parse(&text, "threads.toml").unwrap();
        let runs: Vec<Vec<CellRun>> = [1, 2, 7]
            .iter()
            .map(|&threads| {
                run_all(
                    &sweep,
                    &RunOptions {
                        threads: Some(threads),
                        ..Default::default()
                    },
                )
                .unwrap()
            })
            .collect();
        for other in &runs[1..] {
            assert_eq!(other.len(), runs[0].len());
            for (a, b) in runs[0].iter().zip(other) {
                assert_eq!(a.cell_id, b.cell_id);
                assert_eq!(a.tally, b.tally, "cell {}", a.cell_id);
            }
        }
        // Shards and interruptions split the items differently; the cells come out the same.
        let mut assembled: Vec<Option<Tally>> = vec![None; sweep.cells.len()];
        for index in 0..3 {
            let options = RunOptions {
                threads: Some(2),
                shard: Shard::new(index, 3).unwrap(),
                ..Default::default()
            };
            for cell in run_all(&sweep, &options).unwrap() {
                let slot = &mut assembled[cell.cell_id as usize];
                match slot {
                    Some(t) => t.merge(&cell.tally),
                    None => *slot = Some(Arc::unwrap_or_clone(cell.tally)),
                }
            }
        }
        for (a, b) in runs[0].iter().zip(&assembled) {
            assert_eq!(
                Some(&*a.tally),
                b.as_ref(),
                "cell {} from shards",
                a.cell_id
            );
        }
        let reseeded = run_all(
            &sweep.with_seed(12345),
            &RunOptions {
                threads: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            reseeded
                .iter()
                .zip(&runs[0])
                .any(|(a, b)| a.tally != b.tally)
        );
    }
}

#[cfg(test)]
mod adaptive_tests {
    use super::*;
    use crate::sweep::Sweep;

    /// p = 1, 0.9, 0.5 and 0.7: from one chunk to about 240,000 trials for +/- 0.002; more
    /// cells than one batch takes, so cells finish while others are still open.
    const SWEEP: &str = "name = \"adaptive\"\nseed = 5\ntrials = 500_000\nprecision = 0.002\n\
        [grid]\nprotocol = [\"fire-and-forget\", \"ack\"]\nnodes = [1, 2, 3, 4, 5]\n\
        crash = [0.0, 0.1, 0.5, 0.3]\nlatency = \"l\"\n\
        [params.ack]\nretries = 0\n\
        [latency.l]\nkind = \"exponential\"\nmean_ms = 0.5\n";

    /// `sweep` run on 1, 2 and 7 threads.
    fn on_threads(sweep: &Sweep) -> Vec<Vec<CellRun>> {
        [1, 2, 7]
            .iter()
            .map(|&threads| {
                let options = RunOptions {
                    threads: Some(threads),
                    ..Default::default()
                };
                run_all(sweep, &options).unwrap()
            })
            .collect()
    }

    #[test]
    fn adaptive_runs_do_not_depend_on_the_thread_count() {
        let sweep = Sweep::parse(SWEEP, "adaptive.toml").unwrap();
        assert!(sweep.cells.len() > BATCH_CELLS);
        let runs = on_threads(&sweep);
        for other in &runs[1..] {
            for (a, b) in runs[0].iter().zip(other) {
                assert_eq!(a.cell_id, b.cell_id);
                assert_eq!(a.tally, b.tally, "cell {}", a.cell_id);
                assert_eq!(a.precision_met, b.precision_met);
            }
        }
        let trials: std::collections::BTreeSet<u64> =
            runs[0].iter().map(|c| c.tally.trials()).collect();
        assert!(trials.len() >= 3, "{trials:?}");
        assert!(runs[0].iter().all(|c| c.precision_met == Some(true)));
    }

    /// Objectives on some cells: those judged at their looks, the rest as without objectives,
    /// and all of it the same on any number of threads.
    #[test]
    fn objectives_are_judged_at_looks_whatever_the_thread_count() {
        use crate::model::objective::Verdict;
        use crate::model::precision::looks;
        let text = format!(
            "{SWEEP}[[expect]]\nwhere = \"protocol = 'fire-and-forget' and crash = 0.1\"\n\
             success_rate = \">= 0.895\"\n[[expect]]\nwhere = \"crash = 0.5\"\n\
             success_rate = \">= 0.6\"\n"
        );
        let sweep = Sweep::parse(&text, "adaptive.toml").unwrap();
        let cap = sweep.trials.div_ceil(CHUNK_TRIALS);
        let runs = on_threads(&sweep);
        for other in &runs[1..] {
            for (a, b) in runs[0].iter().zip(other) {
                assert_eq!(a.tally, b.tally, "cell {}", a.cell_id);
                assert_eq!(a.verdicts, b.verdicts, "cell {}", a.cell_id);
            }
        }
        let plain = run_all(
            &Sweep::parse(SWEEP, "adaptive.toml").unwrap(),
            &RunOptions::default(),
        )
        .unwrap();
        for (run, without) in runs[0].iter().zip(&plain) {
            let objectives = sweep.objectives.of(run.cell_id);
            assert_eq!(run.verdicts.len(), objectives.len());
            if objectives.is_empty() {
                assert_eq!(run.tally, without.tally, "cell {}", run.cell_id);
                continue;
            }
            assert!(
                looks(cap).any(|c| c == run.tally.chunks),
                "cell {}",
                run.cell_id
            );
            // p = 0.9 against 0.895, p = 0.5 against 0.6: both decided before the cap.
            let expected = if run.tally.successes * 10 > run.tally.trials() * 7 {
                Verdict::Met
            } else {
                Verdict::Missed
            };
            assert_eq!(run.verdicts[0].verdict, expected, "cell {}", run.cell_id);
        }
    }

    #[test]
    fn an_adaptive_cell_s_trials_are_the_first_of_a_fixed_run() {
        let sweep = Sweep::parse(SWEEP, "adaptive.toml").unwrap();
        let adaptive = run_all(&sweep, &RunOptions::default()).unwrap();
        let fixed_sweep = |trials: u64| {
            Sweep::parse(SWEEP, "adaptive.toml")
                .unwrap()
                .with_precision(crate::model::precision::Precision::NONE)
                .with_trials(trials)
        };
        let mut by_trials: std::collections::BTreeMap<u64, Vec<CellRun>> = Default::default();
        for cell in &adaptive {
            let trials = cell.tally.trials();
            let fixed = by_trials
                .entry(trials)
                .or_insert_with(|| run_all(&fixed_sweep(trials), &RunOptions::default()).unwrap());
            let same = &fixed[cell.cell_id as usize];
            assert_eq!(same.precision_met, None);
            assert_eq!(same.tally, cell.tally, "cell {}", cell.cell_id);
        }
        // Shards cannot split an adaptive run.
        let options = RunOptions {
            threads: Some(1),
            shard: Shard::new(0, 2).unwrap(),
            ..Default::default()
        };
        assert!(matches!(
            run_all(&sweep, &options),
            Err(EngineError::AdaptiveShard(_))
        ));
    }
}
