//! The engine: work items, random streams, rayon scheduling and an exact reduction.
//!
//! A sweep's trials are cut into work items: chunk `j` of cell `c` holds trials
//! `[j * CHUNK_TRIALS, min((j + 1) * CHUNK_TRIALS, trials))` and draws every random number
//! from its own stream [`rng::stream`]`(seed, c, j)`. rayon runs the work items of a group of
//! consecutive cells on a pool of threads; each thread folds its items into its own
//! [`Tally`]s (nothing is shared or locked while trials run) and the tallies of a cell are
//! merged once the group is done. Tallies merge exactly, so the numbers depend on the sweep
//! and the seed only, never on the thread count or the schedule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use thiserror::Error;

use crate::protocols::Simulate;
use crate::rng;
use crate::sweep::Sweep;
use crate::tally::Tally;

/// Trials per work item. Part of what a seed means: changing it changes every result.
pub const CHUNK_TRIALS: u64 = 1 << 14;

/// Most cells whose tallies are alive at once.
const GROUP_CELLS: usize = 16;

/// One cell's finished tally.
#[derive(Debug, Clone)]
pub struct CellRun {
    /// The cell's id.
    pub cell_id: u32,
    /// Everything its trials recorded.
    pub tally: Tally,
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
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Worker threads; `None` for one per core.
    pub threads: Option<usize>,
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

/// A piece of work: one chunk of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkItem {
    /// The cell's id.
    pub cell: u32,
    /// The chunk's index within the cell.
    pub chunk: u64,
    /// Trials in the chunk.
    pub trials: u64,
}

/// The work items of a cell of `trials` trials, in order.
pub fn chunks(cell: u32, trials: u64) -> impl Iterator<Item = WorkItem> {
    (0..trials.div_ceil(CHUNK_TRIALS)).map(move |chunk| WorkItem {
        cell,
        chunk,
        trials: CHUNK_TRIALS.min(trials - chunk * CHUNK_TRIALS),
    })
}

/// Runs one work item into `tally`.
fn run_item(model: &dyn Simulate, seed: u64, item: &WorkItem, tally: &mut Tally) {
    let start = Instant::now();
    let mut rng = rng::stream(seed, item.cell.into(), item.chunk);
    model.run(&mut rng, item.trials, tally);
    tally.busy_ns += start.elapsed().as_nanos() as u64;
}

/// Tallies of consecutive cells, ascending by cell id.
type Partial = Vec<(u32, Tally)>;

fn merge_partials(mut a: Partial, b: Partial) -> Partial {
    for (cell, tally) in b {
        match a.binary_search_by_key(&cell, |(c, _)| *c) {
            Ok(i) => a[i].1.merge(&tally),
            Err(i) => a.insert(i, (cell, tally)),
        }
    }
    a
}

/// Runs every cell of `sweep` and hands each finished cell to `on_cell`, in cell order.
///
/// Stops at the first error `on_cell` returns.
pub fn run<E: From<EngineError>>(
    sweep: &Sweep,
    options: &RunOptions,
    progress: &Progress,
    mut on_cell: impl FnMut(CellRun) -> Result<(), E>,
) -> Result<(), E> {
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("coordsim-{i}"));
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    let pool = builder.build().map_err(|source| EngineError::Pool {
        threads: options.threads.unwrap_or(0),
        source,
    })?;
    for group in sweep.cells.chunks(GROUP_CELLS) {
        let items: Vec<WorkItem> = group
            .iter()
            .flat_map(|cell| chunks(cell.id, sweep.trials))
            .collect();
        let partial = pool.install(|| {
            items
                .par_iter()
                .fold(Partial::new, |mut partial, item| {
                    if partial.last().is_none_or(|(c, _)| *c != item.cell) {
                        partial.push((item.cell, Tally::empty()));
                    }
                    let (_, tally) = partial.last_mut().expect("just pushed");
                    run_item(sweep.model(item.cell as usize), sweep.seed, item, tally);
                    progress
                        .trials_done
                        .fetch_add(item.trials, Ordering::Relaxed);
                    partial
                })
                .reduce(Partial::new, merge_partials)
        });
        for (cell_id, tally) in partial {
            progress.cells_done.fetch_add(1, Ordering::Relaxed);
            on_cell(CellRun { cell_id, tally })?;
        }
    }
    Ok(())
}

/// Runs every cell of `sweep` and returns their tallies in cell order.
pub fn run_all(sweep: &Sweep, options: &RunOptions) -> Result<Vec<CellRun>, EngineError> {
    let mut cells = Vec::with_capacity(sweep.cells.len());
    run(sweep, options, &Progress::default(), |cell| {
        cells.push(cell);
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
    let items: Vec<WorkItem> = chunks(0, trials).collect();
    items
        .par_iter()
        .fold(Tally::empty, |mut tally, item| {
            run_item(model, seed, item, &mut tally);
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
    fn chunks_cover_the_trials_exactly() {
        let items: Vec<WorkItem> = chunks(3, 2 * CHUNK_TRIALS + 5).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[2].trials, 5);
        assert_eq!(
            items.iter().map(|i| i.trials).sum::<u64>(),
            2 * CHUNK_TRIALS + 5
        );
        assert!(items.iter().all(|i| i.cell == 3));
        assert_eq!(chunks(0, CHUNK_TRIALS).count(), 1);
    }

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
        let reseeded = run_all(&sweep.with_seed(12345), &RunOptions { threads: Some(2) }).unwrap();
        assert!(
            reseeded
                .iter()
                .zip(&runs[0])
                .any(|(a, b)| a.tally != b.tally)
        );
    }
}
