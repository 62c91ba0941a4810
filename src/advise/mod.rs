//! `coordsim advise`: from requirements to the cheapest design that meets them.
//!
//! The essay's decision framework starts at the lowest rung of the coordination ladder and
//! climbs only when a requirement forces it. `advise` does that with measurements: it admits
//! the rungs that provide what is asked for, and of those recommends what costs least.
//!
//! 1. A requirements file states the consistency needed, the faults to survive (crashes,
//!    Byzantine nodes, partitions), the objectives (a success rate or availability, a latency
//!    p99), the environment (crash, loss and partition rates and a latency model) and the
//!    prices of a sweep's `[cost]` section.
//! 2. Every design that provides the consistency under those faults ([`designs`]) becomes a
//!    cell of one sweep, with the objectives as an `[[expect]]` entry over every cell. The
//!    sweep runs adaptively: a cell stops as soon as each objective is decided at the 95%
//!    level (the run's stopping rule, [`crate::model::precision`]), or at the cap.
//! 3. The designs are ranked by dollars per month (transfer and latency,
//!    [`crate::sweep::Price`]), compared to two significant digits ([`COST_DIGITS`]), the
//!    lower rung first at equal cost: the recommendation
//!    ([`Advice`]) is the first that meets every objective, and each cheaper design is listed
//!    with the objective it missed or could not be shown to meet. A higher rung than asked
//!    for is recommended only where it costs less.
//! 4. The [`frontier`] marks the designs no other beats on consistency, p99 and cost at once,
//!    and [`sensitivity`] moves crash, loss and latency one at a time to show how far each can
//!    go before the recommendation changes.
//!
//! The output directory holds the designs' run (`designs/`), one run per input moved
//! (`sensitivity/crash/`, `sensitivity/loss/`, `sensitivity/latency/`) and the frontier plot
//! (`frontier.svg`); each run is an ordinary run directory.
//!
//! ```toml
//! name = "orders"
//! consistency = "linearizable"   # none | eventual | read-your-writes | linearizable |
//!                                # atomic-commit | byzantine
//! crashes = 1                    # crashed nodes to survive (f)
//! success_rate = 0.999           # the objectives: at least this success rate ...
//! latency_ms_p99 = 20            # ... and at most this p99 (optional)
//!
//! [environment]
//! crash = 0.01
//! loss = 0.001
//! latency = { kind = "exponential", mean_ms = 0.5 }
//! ```
//!
//! Which consistency each protocol provides, and how many nodes it needs for the faults, is
//! the table of [`designs`].

mod designs;
pub mod frontier;
pub mod plot;
mod render;
mod requirements;
pub mod sensitivity;

pub use designs::{Consistency, Design, PROVIDES, designs};
pub use render::{json, table};
pub use requirements::{Partitions, Requirements};

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::{Progress, RunOptions, Shard};
use crate::model::objective::{Judgement, Verdict};
use crate::run::{self, Finished, Plan, RunError};
use crate::store::{CellRecord, OutputError, RunDir};
use crate::sweep::{Cell, Price, Sweep, SweepError};
use frontier::Corner;
use sensitivity::{Input, Point, Sensitivity};

/// Requirements that cannot be read, or a run that failed.
#[derive(Debug, Error)]
pub enum AdviseError {
    /// The requirements file is wrong: the file and the field to blame.
    #[error("{file}: {}{message}", if location.is_empty() { String::new() } else { format!("{location}: ") })]
    Requirements {
        /// The file.
        file: String,
        /// The field.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The sweep built from the requirements does not parse (an environment the sweep
    /// format refuses).
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// The run of the designs failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The output directory could not be made or written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The run was interrupted.
    #[error("interrupted: the designs were not all measured")]
    Interrupted,
}

impl AdviseError {
    /// The exit code it calls for: 2 for bad requirements, the run's own otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Requirements { .. } | Self::Sweep(_) => 2,
            Self::Run(e) => e.exit_code(),
            Self::Output(e) => e.exit_code(),
            Self::Interrupted => 130,
        }
    }
}

/// One measured design.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The design.
    pub design: Design,
    /// Its cell in the run.
    pub cell: u32,
    /// Its summary.
    pub record: CellRecord,
    /// What it costs at the requirements' prices.
    pub price: Price,
    /// Dollars per month: transfer and latency, or transfer alone when no trial succeeded.
    pub usd_per_month: f64,
    /// The verdict on each objective: `success_rate`, then `latency_ms_p99` if asked for.
    pub verdicts: Vec<(&'static str, Judgement)>,
    /// Whether it is on the frontier ([`frontier`]).
    pub frontier: bool,
}

impl Measured {
    /// Whether it met every objective.
    pub fn meets(&self) -> bool {
        self.verdicts.iter().all(|(_, j)| j.verdict == Verdict::Met)
    }

    /// Its latency p99 in ms; NaN when no trial succeeded.
    pub fn p99_ms(&self) -> f64 {
        self.record
            .summary
            .latency_ms
            .as_ref()
            .map_or(f64::NAN, |l| l.p99)
    }
}

/// What `advise` found.
#[derive(Debug, Clone)]
pub struct Advice {
    /// The requirements.
    pub requirements: Requirements,
    /// Every design, cheapest first (the lower rung first at equal cost to
    /// [`COST_DIGITS`] significant digits).
    pub designs: Vec<Measured>,
    /// How the recommendation moves with each input; empty when not asked for.
    pub sensitivity: Vec<Sensitivity>,
    /// The output directory.
    pub dir: PathBuf,
}

impl Advice {
    /// The cheapest design that meets every objective, if any.
    pub fn recommended(&self) -> Option<&Measured> {
        recommended(&self.designs)
    }
}

fn recommended(ranked: &[Measured]) -> Option<&Measured> {
    ranked.iter().find(|m| m.meets())
}

/// How `advise` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdviseOptions {
    /// Worker threads; one per core when `None`.
    pub threads: Option<usize>,
    /// Whether to move crash, loss and latency to see how far the recommendation holds.
    pub sensitivity: bool,
}

/// Measures the designs of `requirements` into `dir` (which must not exist) and ranks them.
pub fn advise(
    requirements: Requirements,
    dir: &Path,
    options: AdviseOptions,
) -> Result<Advice, AdviseError> {
    let out = RunDir::create(dir)?;
    let designs = designs(&requirements);
    let text = requirements.sweep_text(&designs);
    let (sweep, records) = measure_run(&text, &requirements, &dir.join("designs"), options)?;
    let measured = rank(&sweep, &records, &designs, |_| true);
    let sensitivity = if options.sensitivity {
        let base = recommended(&measured).map(|m| (m.design.clone(), m.usd_per_month));
        Input::ALL
            .iter()
            .map(|input| move_input(*input, &requirements, &designs, &base, dir, options))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    write_plot(&requirements, &measured, dir)?;
    Ok(Advice {
        requirements,
        designs: measured,
        sensitivity,
        dir: out.keep(),
    })
}

/// The name of the frontier plot in the output directory.
pub const PLOT: &str = "frontier.svg";

/// Writes the frontier plot of `measured` to `dir/frontier.svg`.
fn write_plot(
    requirements: &Requirements,
    measured: &[Measured],
    dir: &Path,
) -> Result<(), AdviseError> {
    let labels: Vec<String> = measured.iter().map(|m| m.design.label()).collect();
    let points: Vec<plot::Point> = measured
        .iter()
        .zip(&labels)
        .map(|(m, label)| plot::Point {
            label,
            p99_ms: m.p99_ms(),
            usd_per_month: m.usd_per_month,
            rung: Consistency::ALL
                .iter()
                .position(|c| *c == m.design.consistency)
                .expect("every level is in ALL"),
            frontier: m.frontier,
            meets: m.meets(),
        })
        .collect();
    let rungs: Vec<&str> = Consistency::ALL.iter().map(|c| c.word()).collect();
    let title = format!(
        "{}: {} consistency, p99 against $ per month",
        requirements.name,
        requirements.consistency.word()
    );
    let svg = plot::frontier_svg(&title, &rungs, &points, requirements.latency_ms_p99);
    crate::store::atomic::write_bytes(&dir.join(PLOT), svg.as_bytes())?;
    Ok(())
}

/// Runs one generated sweep into `dir`; returns the sweep and its cells' records.
fn measure_run(
    text: &str,
    requirements: &Requirements,
    dir: &Path,
    options: AdviseOptions,
) -> Result<(Sweep, Vec<CellRecord>), AdviseError> {
    let sweep = Sweep::parse(text, &format!("advise-{}", requirements.name))?;
    let plan = Plan {
        options: RunOptions {
            threads: options.threads,
            shard: Shard::WHOLE,
            checkpoint_every: Some(std::time::Duration::from_secs(5)),
        },
        dir: dir.to_path_buf(),
        resume: false,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let finished = run::execute(&sweep, &plan, &stop, &Progress::default())?;
    let Finished::Complete { records, .. } = finished else {
        return Err(AdviseError::Interrupted);
    };
    Ok((sweep, records))
}

/// The designs measured in the cells of `records` that `keep` accepts, ranked from the
/// cheapest first (the lower rung first at equal cost to [`COST_DIGITS`] significant digits),
/// with the frontier marked.
fn rank(
    sweep: &Sweep,
    records: &[CellRecord],
    designs: &[Design],
    keep: impl Fn(&Cell) -> bool,
) -> Vec<Measured> {
    let metrics: Vec<&'static str> = sweep.expectations[0]
        .objectives
        .iter()
        .map(|o| o.metric.name())
        .collect();
    let mut measured: Vec<Measured> = records
        .iter()
        .filter_map(|record| {
            let cell = &sweep.cells.get(record.cell_id as usize);
            if !keep(cell) {
                return None;
            }
            // A cell of a protocol's parameter axes that is no design is not ranked.
            let design = designs.iter().find(|d| {
                d.protocol == cell.protocol.name
                    && d.nodes == cell.nodes
                    && d.params.iter().all(|(k, v)| {
                        cell.value(k)
                            .is_some_and(|x| value_matches(&x, v, cell.nodes))
                    })
            })?;
            let price = sweep.cost.price(cell, &record.summary);
            Some(Measured {
                design: design.clone(),
                cell: record.cell_id,
                usd_per_month: price.usd_per_month().unwrap_or(price.transfer_usd),
                price,
                verdicts: metrics
                    .iter()
                    .copied()
                    .zip(record.verdicts.iter().copied())
                    .collect(),
                record: record.clone(),
                frontier: false,
            })
        })
        .collect();
    let key = |m: &Measured| {
        (
            significant(m.usd_per_month, COST_DIGITS),
            m.design.consistency,
            m.usd_per_month,
        )
    };
    measured.sort_by(|a, b| key(a).partial_cmp(&key(b)).expect("costs are numbers"));
    let corners: Vec<Corner> = measured
        .iter()
        .map(|m| Corner {
            consistency: m.design.consistency,
            p99_ms: m.p99_ms(),
            usd_per_month: m.usd_per_month,
        })
        .collect();
    for (m, on) in measured.iter_mut().zip(frontier::frontier(&corners)) {
        m.frontier = on;
    }
    measured
}

/// The significant digits to which designs' dollars per month are compared: prices are
/// estimates, and a rung is not worth climbing for a difference below them.
pub const COST_DIGITS: i32 = 2;

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Moves `input` over its values, every design measured again at each (one run in
/// `dir/sensitivity/<input>`), and finds the recommendation at each value.
fn move_input(
    input: Input,
    requirements: &Requirements,
    designs: &[Design],
    base: &Option<(Design, f64)>,
    dir: &Path,
    options: AdviseOptions,
) -> Result<Sensitivity, AdviseError> {
    use requirements::BASE_LATENCY;
    let env = &requirements.environment;
    let stated = match input {
        Input::Crash | Input::Loss => env
            .get(input.word())
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .unwrap_or(0.0),
        Input::Latency => 1.0,
    };
    let mut sensitivity = Sensitivity {
        input,
        stated,
        points: vec![Point {
            value: stated,
            recommended: base.clone(),
        }],
        not_moved: None,
    };
    let mut latencies = toml::Table::new();
    let (axis, values) = match input {
        Input::Crash | Input::Loss => {
            let values = sensitivity::rates(stated);
            (Some((input.word(), values.clone())), values)
        }
        Input::Latency => {
            let model = &env["latency"];
            let scaled: Option<Vec<(f64, toml::Value)>> = sensitivity::FACTORS
                .iter()
                .map(|f| Some((*f, sensitivity::scale_latency(model, *f)?)))
                .collect();
            let Some(scaled) = scaled else {
                sensitivity.not_moved = Some("an empirical model has no time to scale");
                return Ok(sensitivity);
            };
            for (factor, model) in &scaled {
                latencies.insert(latency_name(*factor), model.clone());
            }
            (None, scaled.iter().map(|(f, _)| *f).collect())
        }
    };
    if latencies.is_empty() {
        latencies.insert(BASE_LATENCY.into(), env["latency"].clone());
    }
    let text = requirements.sweep_text_in(designs, axis, latencies);
    let run_dir = dir.join("sensitivity").join(input.word());
    let (sweep, records) = measure_run(&text, requirements, &run_dir, options)?;
    for value in values {
        let at = |cell: &Cell| match input {
            Input::Crash => cell.crash == value,
            Input::Loss => cell.loss == value,
            Input::Latency => *cell.latency_name == *latency_name(value),
        };
        let ranked = rank(&sweep, &records, designs, at);
        sensitivity.points.push(Point {
            value,
            recommended: recommended(&ranked).map(|m| (m.design.clone(), m.usd_per_month)),
        });
    }
    sensitivity
        .points
        .sort_by(|a, b| a.value.partial_cmp(&b.value).expect("values are numbers"));
    Ok(sensitivity)
}

/// The name of the latency model scaled by `factor` in a sensitivity run.
fn latency_name(factor: f64) -> String {
    format!("{}-x{factor}", requirements::BASE_LATENCY)
}

/// Whether a cell's parameter value is the one a design names.
fn value_matches(value: &crate::model::Value, wanted: &toml::Value, nodes: u32) -> bool {
    use crate::model::Value as V;
    match (value, wanted) {
        (V::Quorum(rule), toml::Value::String(w)) => rule.to_string() == *w,
        (V::Quorum(rule), toml::Value::Integer(k)) => i64::from(rule.resolve(nodes)) == *k,
        (V::Choice(word), toml::Value::String(w)) => word == w,
        (V::Count(n), toml::Value::Integer(k)) => i64::from(*n) == *k,
        (V::Millis(ms), toml::Value::Integer(k)) => *ms == *k as f64,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::significant;

    #[test]
    fn costs_are_compared_to_two_significant_digits() {
        assert_eq!(significant(0.09212, 2), significant(0.09216, 2));
        assert_eq!(significant(0.09216, 2), 0.092);
        assert_eq!(significant(14.89, 2), 15.0);
        assert_eq!(significant(1234.0, 2), 1200.0);
        assert!(significant(0.3665, 2) < significant(0.5499, 2));
        assert_eq!(significant(0.0, 2), 0.0);
    }
}
