//! The engine: work items, random streams, rayon scheduling and an exact reduction.
//!
//! A sweep's trials are cut into work items ([`work`]): chunk `j` of cell `c` holds trials
//! `[j * CHUNK_TRIALS, min((j + 1) * CHUNK_TRIALS, trials))` and draws every random number
//! from its own stream [`rng::stream`]`(seed, c, j)`. rayon runs the items of a batch (a run
//! of consecutive items) on a pool of threads; each thread folds its items into its own
//! [`Tally`]s (nothing is shared or locked while trials run) and the batch's tallies are
//! merged per cell. Tallies merge exactly, so the numbers depend on the sweep and the seed
//! only, never on the thread count, the schedule, the shards or interruptions.

mod assemble;
pub mod work;

pub use assemble::Assembler;
pub use work::{CHUNK_TRIALS, ItemSet, Layout, Shard, WorkItem};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use thiserror::Error;

use crate::protocols::Simulate;
use crate::rng;
use crate::sweep::Sweep;
use crate::tally::Tally;

/// Most cells in one batch.
const BATCH_CELLS: usize = 16;

/// Work items per batch and thread: a batch ends with a barrier, so more is more efficient;
/// fewer bounds the work an interruption waits for.
const BATCH_ITEMS_PER_THREAD: usize = 64;

/// One cell's finished tally.
#[derive(Debug, Clone)]
pub struct CellRun {
    /// The cell's id.
    pub cell_id: u32,
    /// Everything its trials recorded.
    pub tally: Tally,
}

/// Tallies of a batch of finished work items.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The items.
    pub items: ItemSet,
    /// Their tallies, one per cell, ascending by cell.
    pub tallies: Vec<(u32, Tally)>,
}

/// Counters a progress display may read while a run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Trials finished so far.
    pub trials_done: AtomicU64,
    /// Cells finished so far.
    pub cells_done: AtomicU64,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads; `None` for one per core.
    pub threads: Option<usize>,
    /// The share of the work items to run.
    pub shard: Shard,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: None,
            shard: Shard::WHOLE,
        }
    }
}

/// The engine could not start.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {source}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// Why.
        source: rayon::ThreadPoolBuildError,
    },
}

/// The work items of a sweep.
pub fn layout(sweep: &Sweep) -> Layout {
    Layout {
        cells: sweep.cells.len() as u32,
        trials: sweep.trials,
    }
}

/// Runs one work item into `tally`.
fn run_item(model: &dyn Simulate, seed: u64, item: &WorkItem, tally: &mut Tally) {
    let start = Instant::now();
    let mut rng = rng::stream(seed, item.cell.into(), item.chunk);
    model.run(&mut rng, item.trials, tally);
    tally.chunks += 1;
    tally.busy_ns += start.elapsed().as_nanos() as u64;
}

fn merge_batches(mut a: Batch, b: Batch) -> Batch {
    a.items.extend(&b.items);
    for (cell, tally) in b.tallies {
        match a.tallies.binary_search_by_key(&cell, |(c, _)| *c) {
            Ok(i) => a.tallies[i].1.merge(&tally),
            Err(i) => a.tallies.insert(i, (cell, tally)),
        }
    }
    a
}

/// Runs the work items of `options.shard` that are not in `done`, in batches of consecutive
/// items, and hands each finished batch to `on_batch`. Once `stop` is set, items not yet
/// started are skipped and the last batch holds only the finished ones.
///
/// Returns whether every item of the shard is done. Stops at the first error of `on_batch`.
pub fn run<E: From<EngineError>>(
    sweep: &Sweep,
    options: &RunOptions,
    done: &ItemSet,
    stop: &AtomicBool,
    progress: &Progress,
    mut on_batch: impl FnMut(Batch) -> Result<(), E>,
) -> Result<bool, E> {
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("coordsim-{i}"));
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    let pool = builder.build().map_err(|source| EngineError::Pool {
        threads: options.threads.unwrap_or(0),
        source,
    })?;
    let layout = layout(sweep);
    let shard = options.shard;
    let batch_items = BATCH_ITEMS_PER_THREAD * pool.current_num_threads();
    let mut todo = layout
        .shard_items(shard)
        .filter(|&g| !done.contains(g))
        .map(|g| layout.item(g))
        .peekable();
    let mut batch: Vec<WorkItem> = Vec::with_capacity(batch_items);
    while todo.peek().is_some() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        batch.clear();
        let mut cells = 0;
        while let Some(item) = todo.peek() {
            let new_cell = batch.last().is_none_or(|last| last.cell != item.cell);
            if batch.len() == batch_items || (new_cell && cells == BATCH_CELLS) {
                break;
            }
            cells += usize::from(new_cell);
            batch.push(*item);
            todo.next();
        }
        let finished = pool.install(|| {
            batch
                .par_iter()
                .fold(Batch::default, |mut partial, item| {
                    if stop.load(Ordering::Relaxed) {
                        return partial;
                    }
                    if partial.tallies.last().is_none_or(|(c, _)| *c != item.cell) {
                        partial.tallies.push((item.cell, Tally::empty()));
                    }
                    let (_, tally) = partial.tallies.last_mut().expect("just pushed");
                    run_item(sweep.model(item.cell as usize), sweep.seed, item, tally);
                    partial.items.insert(item.index);
                    progress
                        .trials_done
                        .fetch_add(item.trials, Ordering::Relaxed);
                    partial
                })
                .reduce(Batch::default, merge_batches)
        });
        let complete = finished.items.len() == batch.len() as u64;
        if !finished.items.is_empty() {
            on_batch(finished)?;
        }
        if !complete {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs every cell of `sweep` and returns their tallies in cell order.
pub fn run_all(sweep: &Sweep, options: &RunOptions) -> Result<Vec<CellRun>, EngineError> {
    let mut assembler = Assembler::new(layout(sweep), options.shard);
    let mut cells = Vec::with_capacity(sweep.cells.len());
    let progress = Progress::default();
    let stop = AtomicBool::new(false);
    run(sweep, options, &ItemSet::new(), &stop, &progress, |batch| {
        cells.extend(assembler.add_batch(batch));
        Ok::<(), EngineError>(())
    })?;
    Ok(cells)
}

/// Runs `trials` trials of one model as cell 0 of a sweep with `seed`, on the current rayon
/// pool: the same numbers as that cell of a sweep would give.
///
/// ```
/// use coordsim::engine::simulate;
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{Env, Quorum};
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
            run_item(model, seed, &item, &mut tally);
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
        let protocols: Vec<String> = crate::protocols::REGISTRY
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
            };
            for cell in run_all(&sweep, &options).unwrap() {
                let slot = &mut assembled[cell.cell_id as usize];
                match slot {
                    Some(t) => t.merge(&cell.tally),
                    None => *slot = Some(cell.tally),
                }
            }
        }
        for (a, b) in runs[0].iter().zip(&assembled) {
            assert_eq!(Some(&a.tally), b.as_ref(), "cell {} from shards", a.cell_id);
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
