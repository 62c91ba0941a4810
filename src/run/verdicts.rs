//! What a run's `[[expect]]` objectives came to: collected as cells finish, reported per
//! expectation and objective when the run ends.

use std::fmt::Write as _;

use crate::model::objective::{Judgement, Verdict};
use crate::store::table::printable;
use crate::sweep::Sweep;
use crate::sweep::expect::LEVEL;

/// The verdicts of the cells that have objectives, as they finish.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    cells: Vec<(u32, Vec<Judgement>)>,
}

impl Verdicts {
    /// Keeps `cell`'s verdicts, if it has any.
    pub fn add(&mut self, cell: u32, verdicts: &[Judgement]) {
        if !verdicts.is_empty() {
            self.cells.push((cell, verdicts.to_vec()));
        }
    }

    /// The report on `sweep`'s expectations.
    pub fn report(mut self, sweep: &Sweep) -> Report {
        self.cells.sort_by_key(|(cell, _)| *cell);
        let mut lines = Vec::new();
        // A cell's verdicts are in the order of the expectations that select it, each
        // expectation's objectives in turn: `next[i]` is where expectation i's are.
        let mut next = vec![0usize; self.cells.len()];
        for e in &sweep.expectations {
            for objective in &e.objectives {
                let mut line = ObjectiveLine {
                    source: e.source.clone(),
                    filter: e.filter.clone(),
                    objective: objective.to_string(),
                    met: 0,
                    missed: Vec::new(),
                    undecided: Vec::new(),
                };
                for &cell in &e.cells {
                    let Ok(at) = self.cells.binary_search_by_key(&cell, |(c, _)| *c) else {
                        continue;
                    };
                    let judgement = self.cells[at].1[next[at]];
                    next[at] += 1;
                    match judgement.verdict {
                        Verdict::Met => line.met += 1,
                        Verdict::Missed => line.missed.push((cell, judgement)),
                        Verdict::Undecided => line.undecided.push((cell, judgement)),
                    }
                }
                lines.push(line);
            }
        }
        Report {
            lines,
            checks: sweep.objectives.checks(),
            adaptive: sweep.precision.is_adaptive(),
        }
    }
}

/// One objective of one expectation over the cells it selects.
#[derive(Debug, Clone)]
pub struct ObjectiveLine {
    /// `expect[i]`.
    pub source: String,
    /// Its `where`.
    pub filter: String,
    /// The objective, as `success_rate >= 0.999`.
    pub objective: String,
    /// Cells that met it.
    pub met: u64,
    /// Cells that missed it, with their verdicts.
    pub missed: Vec<(u32, Judgement)>,
    /// Cells left undecided.
    pub undecided: Vec<(u32, Judgement)>,
}

/// The verdicts of a run's objectives.
#[derive(Debug, Clone)]
pub struct Report {
    /// One line per objective of each expectation.
    pub lines: Vec<ObjectiveLine>,
    /// Checks in all: objectives times the cells each applies to.
    pub checks: u64,
    /// Whether undecided cells ran on (an adaptive run).
    pub adaptive: bool,
}

/// Most cells named per objective and verdict.
const NAMED: usize = 5;

impl Report {
    /// Whether any cell missed an objective.
    pub fn missed(&self) -> bool {
        self.lines.iter().any(|l| !l.missed.is_empty())
    }

    /// Whether any cell was left undecided.
    pub fn undecided(&self) -> bool {
        self.lines.iter().any(|l| !l.undecided.is_empty())
    }

    /// The report in words, one line per objective, then the cells that missed or stayed
    /// undecided, then how sure the verdicts are.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let verdict = if !line.missed.is_empty() {
                "MISSED"
            } else if !line.undecided.is_empty() {
                "undecided"
            } else {
                "met"
            };
            let filter = if line.filter.is_empty() {
                "every cell".to_string()
            } else {
                // Text of the sweep file: control characters escaped.
                printable(&line.filter)
            };
            let _ = writeln!(
                out,
                "{verdict}: {} ({}: {filter}): {} met, {} missed, {} undecided",
                line.objective,
                line.source,
                line.met,
                line.missed.len(),
                line.undecided.len()
            );
            for (word, cells) in [("missed", &line.missed), ("undecided", &line.undecided)] {
                for (cell, j) in cells.iter().take(NAMED) {
                    let _ = writeln!(
                        out,
                        "  cell {cell} {word}: {} in [{}, {}]",
                        number(j.estimate),
                        number(j.low),
                        number(j.high)
                    );
                }
                if cells.len() > NAMED {
                    let _ = writeln!(out, "  ... and {} more {word}", cells.len() - NAMED);
                }
            }
        }
        let how = if self.adaptive {
            "; an undecided cell ran on until decided or capped, its level spent over fixed looks"
        } else {
            ""
        };
        let _ = write!(
            out,
            "verdicts at the {:.0}% level: each of the {} checks at {:.2e} (Bonferroni){how}",
            (1.0 - LEVEL) * 100.0,
            self.checks,
            LEVEL / self.checks.max(1) as f64
        );
        out
    }
}

fn number(x: f64) -> String {
    if x.is_infinite() {
        return "inf".to_string();
    }
    if x.is_nan() {
        return "-".to_string();
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
