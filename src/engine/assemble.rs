//! Putting cells back together from the tallies of batches, checkpoints and shards, and, in an
//! adaptive run, deciding when a cell has enough trials.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use super::{Batch, CHUNK_TRIALS, CellRun, Layout, Shard};
use crate::model::objective::Objectives;
use crate::model::precision::{Checks, Decision, Precision};
use crate::model::tally::Tally;

/// Collects partial tallies and hands out each cell once it is finished: in a run with a fixed
/// trial count, once all its work items (of one shard) are in; in an adaptive run, once all the
/// chunks of its current target are in and [`Precision::decide`] finishes it.
///
/// ```
/// use coordsim::engine::{Assembler, Layout, Shard, CHUNK_TRIALS};
/// use coordsim::model::tally::Tally;
/// let layout = Layout { cells: 1, trials: 2 * CHUNK_TRIALS };
/// let mut assembler = Assembler::new(layout, Shard::WHOLE);
/// let mut half = Tally::empty();
/// half.chunks = 1;
/// assert!(assembler.add(0, &half).is_none());
/// assert_eq!(assembler.add(0, &half).unwrap().tally.chunks, 2);
/// ```
#[derive(Debug)]
pub struct Assembler {
    layout: Layout,
    shard: Shard,
    precision: Precision,
    objectives: Arc<Objectives>,
    open: BTreeMap<u32, Arc<Tally>>,
    /// An adaptive run's targets, in chunks, of the cells whose target is not 1.
    targets: Targets,
    finished: u64,
    finished_trials: u64,
}

/// Each cell's target in chunks, where it is not 1.
pub type Targets = BTreeMap<u32, u64>;

impl Assembler {
    /// Cells of `layout`, each complete when its items of `shard` are in.
    pub fn new(layout: Layout, shard: Shard) -> Self {
        Self {
            layout,
            shard,
            precision: Precision::NONE,
            objectives: Arc::default(),
            open: BTreeMap::new(),
            targets: Targets::new(),
            finished: 0,
            finished_trials: 0,
        }
    }

    /// Cells of `layout` run adaptively to `precision` (at most `layout.trials` trials each),
    /// starting from `targets` (empty for a new run: every cell starts with one chunk).
    pub fn adaptive(layout: Layout, precision: Precision, targets: Targets) -> Self {
        Self {
            precision,
            targets,
            ..Self::new(layout, Shard::WHOLE)
        }
    }

    /// The same, judging each finished cell against its `objectives`: once on its whole tally
    /// with a fixed trial count (not in a shard, whose cells are judged when merged), at its
    /// looks in an adaptive run ([`crate::model::precision`]).
    pub fn with_objectives(mut self, objectives: Arc<Objectives>) -> Self {
        self.objectives = objectives;
        self
    }

    /// Whether cells are run adaptively.
    pub fn is_adaptive(&self) -> bool {
        self.precision.is_adaptive()
    }

    /// The current target of `cell`, in chunks: the chunks `[0, target)` it runs before its
    /// next decision. In a run with a fixed trial count, all of them.
    pub fn target(&self, cell: u32) -> u64 {
        if self.is_adaptive() {
            self.targets.get(&cell).copied().unwrap_or(1)
        } else {
            self.layout.chunks_per_cell()
        }
    }

    /// The adaptive targets that differ from 1.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The global indices of the work items `cell` needs before its next decision (or, in a
    /// run with a fixed trial count, to be complete in this shard).
    pub fn wanted(&self, cell: u32) -> Range<u64> {
        let items = self.layout.cell_items(cell);
        if self.is_adaptive() {
            return items.start..items.start + self.target(cell);
        }
        let block = self.layout.shard_items(self.shard);
        items.start.max(block.start)..items.end.min(block.end).max(items.start.max(block.start))
    }

    /// Adds a partial tally of `cell`; returns the cell if that finished it.
    pub fn add(&mut self, cell: u32, tally: &Tally) -> Option<CellRun> {
        self.add_shared(cell, &Arc::new(tally.clone()))
    }

    /// [`Assembler::add`] of a tally shared with its other holders (a batch's tallies also
    /// go to the checkpoint): a first part is kept as it is, not copied.
    pub fn add_shared(&mut self, cell: u32, tally: &Arc<Tally>) -> Option<CellRun> {
        let open: &Tally = match self.open.entry(cell) {
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Arc::clone(tally)),
            std::collections::btree_map::Entry::Occupied(e) => {
                let open = Arc::make_mut(e.into_mut());
                open.merge(tally);
                open
            }
        };
        let checks = Checks::of(&self.objectives, cell);
        let cap = self.layout.chunks_per_cell();
        let (precision_met, verdicts) = if self.precision.is_adaptive() {
            let target = self.targets.get(&cell).copied().unwrap_or(1);
            if open.chunks < target {
                return None;
            }
            match self.precision.decide_with(open, target, cap, checks) {
                Decision::Grow(next) => {
                    self.targets.insert(cell, next);
                    return None;
                }
                Decision::Finish { met } => (Some(met), checks.judge_at(open, target, cap)),
            }
        } else {
            if open.chunks < self.layout.cell_items_in(cell, self.shard) {
                return None;
            }
            let verdicts = if self.shard.count == 1 {
                checks.judge_once(open)
            } else {
                Vec::new()
            };
            (None, verdicts)
        };
        let tally = self.open.remove(&cell).expect("just merged");
        self.finished += 1;
        self.finished_trials += tally.trials();
        Some(CellRun {
            cell_id: cell,
            tally,
            precision_met,
            verdicts,
        })
    }

    /// Adds every tally of a batch; returns the cells it finished, in cell order.
    pub fn add_batch(&mut self, batch: &Batch) -> Vec<CellRun> {
        batch
            .tallies
            .iter()
            .filter_map(|(cell, tally)| self.add_shared(*cell, tally))
            .collect()
    }

    /// Cells that have some trials and are not finished.
    pub fn open_cells(&self) -> usize {
        self.open.len()
    }

    /// Cells finished.
    pub fn finished_cells(&self) -> u64 {
        self.finished
    }

    /// How many trials the run will have run when it completes. Exact for a fixed trial
    /// count; for an adaptive run an estimate that grows with the targets: the trials of the
    /// finished cells, those of the open cells' current targets, and for each cell not started
    /// the mean of the finished ones (one chunk before any finished).
    pub fn planned_trials(&self) -> u64 {
        if !self.is_adaptive() {
            return self.layout.shard_trials(self.shard);
        }
        let trials_of = |chunks: u64| chunks.saturating_mul(CHUNK_TRIALS).min(self.layout.trials);
        let open: u64 = self.open.keys().map(|&c| trials_of(self.target(c))).sum();
        let untouched =
            u64::from(self.layout.cells).saturating_sub(self.finished + self.open.len() as u64);
        let each = match self.finished {
            0 => trials_of(1),
            n => (self.finished_trials / n).clamp(trials_of(1), self.layout.trials),
        };
        self.finished_trials + open + untouched.saturating_mul(each)
    }
}

/// Targets as text: `cell:target` or `first-last:target` for a run of cells with one target,
/// comma-separated, ascending.
///
/// ```
/// use coordsim::engine::{format_targets, parse_targets};
/// let targets = [(0, 4), (1, 4), (2, 4), (5, 16)].into_iter().collect();
/// assert_eq!(format_targets(&targets), "0-2:4,5:16");
/// assert_eq!(parse_targets("0-2:4,5:16").unwrap(), targets);
/// assert!(parse_targets("").unwrap().is_empty());
/// ```
pub fn format_targets(targets: &Targets) -> String {
    let mut out = String::new();
    let mut entries = targets.iter().peekable();
    while let Some((&first, &target)) = entries.next() {
        let mut last = first;
        while let Some(&(&c, &t)) = entries.peek() {
            if c != last + 1 || t != target {
                break;
            }
            last = c;
            entries.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if last == first {
            let _ = write!(out, "{first}:{target}");
        } else {
            let _ = write!(out, "{first}-{last}:{target}");
        }
    }
    out
}

/// Reads what [`format_targets`] wrote.
pub fn parse_targets(text: &str) -> Result<Targets, String> {
    let mut targets = Targets::new();
    for entry in text.split(',').filter(|e| !e.is_empty()) {
        let bad = || format!("bad target `{}`", entry.escape_debug());
        let (cells, target) = entry.split_once(':').ok_or_else(bad)?;
        let target: u64 = target.parse().map_err(|_| bad())?;
        let (first, last) = match cells.split_once('-') {
            Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
            None => {
                let c: u32 = cells.parse().map_err(|_| bad())?;
                (c, c)
            }
        };
        if last < first || target == 0 {
            return Err(bad());
        }
        targets.extend((first..=last).map(|c| (c, target)));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_cells_grow_until_met_or_capped() {
        // Two cells of at most 8 chunks; success half-width target 0.002. A chunk of all
        // successes meets it at once (exact one-sided interval: 0.05^(1/16384) = 0.99982);
        // one of half successes needs 0.25 x 1.96^2 / 0.002^2 = 240_100 trials: more than 8
        // chunks, so it runs to the cap.
        let layout = Layout {
            cells: 2,
            trials: 8 * CHUNK_TRIALS,
        };
        let precision = Precision {
            success: Some(0.002),
            p99: None,
        };
        let mut a = Assembler::adaptive(layout, precision, Targets::new());
        let chunk = |successes: u64| {
            let mut t = Tally::empty();
            t.successes = successes;
            t.failures = CHUNK_TRIALS - successes;
            t.chunks = 1;
            t
        };
        assert_eq!(a.wanted(0), 0..1);
        assert_eq!(a.wanted(1), 8..9);
        let done = a.add(0, &chunk(CHUNK_TRIALS)).unwrap();
        assert_eq!(done.precision_met, Some(true));
        assert_eq!(a.planned_trials(), 2 * CHUNK_TRIALS);
        assert!(a.add(1, &chunk(CHUNK_TRIALS / 2)).is_none());
        // Half-width 0.00766 at one chunk: 1.2 x 3.83^2 > 4, so 4 chunks next.
        assert_eq!(a.target(1), 4);
        assert_eq!(a.wanted(1), 8..12);
        assert_eq!(a.planned_trials(), 5 * CHUNK_TRIALS);
        for _ in 1..3 {
            assert!(a.add(1, &chunk(CHUNK_TRIALS / 2)).is_none());
        }
        assert_eq!(a.target(1), 4);
        assert!(a.add(1, &chunk(CHUNK_TRIALS / 2)).is_none());
        assert_eq!(a.target(1), 8);
        for _ in 4..7 {
            assert!(a.add(1, &chunk(CHUNK_TRIALS / 2)).is_none());
        }
        let capped = a.add(1, &chunk(CHUNK_TRIALS / 2)).unwrap();
        assert_eq!(capped.precision_met, Some(false));
        assert_eq!(capped.tally.trials(), 8 * CHUNK_TRIALS);
        assert_eq!(format_targets(a.targets()), "1:8");
        assert_eq!(a.open_cells(), 0);
        assert_eq!(a.finished_cells(), 2);
    }

    #[test]
    fn fixed_runs_want_their_shard_s_items() {
        let layout = Layout {
            cells: 3,
            trials: 4 * CHUNK_TRIALS,
        };
        let a = Assembler::new(layout, Shard::new(1, 3).unwrap());
        assert_eq!(layout.shard_items(Shard::new(1, 3).unwrap()), 4..8);
        assert_eq!(a.wanted(0), 4..4);
        assert_eq!(a.wanted(1), 4..8);
        assert_eq!(a.wanted(2), 8..8);
        assert_eq!(a.target(1), 4);
        assert_eq!(a.planned_trials(), 4 * CHUNK_TRIALS);
    }

    #[test]
    fn targets_round_trip() {
        let targets: Targets = [(3, 2), (4, 2), (5, 3), (7, 3), (8, 3)]
            .into_iter()
            .collect();
        let text = format_targets(&targets);
        assert_eq!(text, "3-4:2,5:3,7-8:3");
        assert_eq!(parse_targets(&text).unwrap(), targets);
        for bad in ["x", "1", "1:0", "2-1:3", "a:1"] {
            assert!(parse_targets(bad).is_err(), "{bad}");
        }
    }
}
