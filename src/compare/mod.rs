//! Comparing two runs: cells matched by their parameters, and for each matched cell and
//! metric the change with an interval and a verdict, the false alarms across all of them
//! controlled by Holm's method.
//!
//! - `mod.rs` (here): reading the two runs, matching cells, the verdicts;
//! - [`intervals`]: the intervals of a change, p-values, Holm's adjustment;
//! - [`render`]: the report as a table, Markdown, JSON or JUnit XML.
//!
//! A comparison of one metric is *regressed* when the change is worse than the metric's
//! threshold, *improved* when it is better by more than the threshold, both tested at level
//! `alpha` with Holm's step-down adjustment over every comparison of the report (one family
//! for regressions, one for improvements); *unchanged* when its `1 - alpha` interval lies
//! within the threshold either side; *inconclusive* otherwise (too few trials to tell).

pub mod intervals;
pub mod render;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

pub use intervals::{Buckets, Change, Moments, holm};

use crate::show::{self, Rows, ShowError, Value};
use crate::store::layout::{HISTOGRAMS, SUMMARY};

/// What `compare` could not do.
#[derive(Debug, Error)]
pub enum CompareError {
    /// Bad input: a missing directory, one that is not a run, different metric sets, a
    /// threshold that does not fit (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A file of a run could not be read (exit code 1).
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Worse when it drops (success rate): thresholds are `--max-drop`.
    Drop,
    /// Worse when it rises (latency, messages, dollars): thresholds are `--max-rise`.
    Rise,
}

/// A largest tolerated change: absolute, in the metric's unit, or a percentage of the base
/// run's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// In the metric's unit.
    Absolute(f64),
    /// Percent of the base run's value.
    Percent(f64),
}

impl Threshold {
    /// In the metric's unit, for a base value of `base`.
    pub fn resolve(self, base: f64) -> f64 {
        match self {
            Threshold::Absolute(x) => x,
            Threshold::Percent(p) => p / 100.0 * base.abs(),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Absolute(x) => write!(f, "{x}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, percent) = match s.trim().strip_suffix('%') {
            Some(n) => (n, true),
            None => (s.trim(), false),
        };
        match number.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(if percent {
                Threshold::Percent(x)
            } else {
                Threshold::Absolute(x)
            }),
            _ => Err(format!(
                "`{s}` is not a threshold: a number >= 0, or a percentage such as 5%"
            )),
        }
    }
}

/// A metric `compare` looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Its summary column.
    pub name: &'static str,
    /// Which way it gets worse.
    pub worse: Worse,
    /// The threshold without `--max-drop` or `--max-rise`.
    pub default: Threshold,
}

/// The metrics compared, in report order, with their default thresholds.
pub const METRICS: [Metric; 5] = [
    Metric {
        name: "success_rate",
        worse: Worse::Drop,
        default: Threshold::Absolute(0.001),
    },
    Metric {
        name: "latency_ms_p50",
        worse: Worse::Rise,
        default: Threshold::Percent(5.0),
    },
    Metric {
        name: "latency_ms_p99",
        worse: Worse::Rise,
        default: Threshold::Percent(5.0),
    },
    Metric {
        name: "messages_mean",
        worse: Worse::Rise,
        default: Threshold::Percent(1.0),
    },
    Metric {
        name: "transfer_usd_per_month",
        worse: Worse::Rise,
        default: Threshold::Percent(1.0),
    },
];

/// The default significance level: at most a 5% chance of any false regression in a report.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// How to compare.
#[derive(Debug, Clone)]
pub struct Options {
    /// The family-wise error rate of the regressions (and, separately, the improvements).
    pub alpha: f64,
    /// Thresholds in place of the defaults: a metric, which way (must be the way it gets
    /// worse), and the threshold.
    pub thresholds: Vec<(String, Worse, Threshold)>,
    /// Parameter columns left out of the matching: the parameters a change is about (say
    /// `timeout_ms` when the new run has another timeout).
    pub ignore: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: DEFAULT_ALPHA,
            thresholds: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

impl Options {
    /// The threshold of every metric, checking that each one given names a metric and its
    /// direction.
    fn thresholds(&self) -> Result<[Threshold; METRICS.len()], CompareError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(CompareError::Usage(format!(
                "--alpha {}: must be in (0, 1)",
                self.alpha
            )));
        }
        let mut out = METRICS.map(|m| m.default);
        for (name, worse, threshold) in &self.thresholds {
            let flag = |w: Worse| match w {
                Worse::Drop => "--max-drop",
                Worse::Rise => "--max-rise",
            };
            let Some(i) = METRICS.iter().position(|m| m.name == name) else {
                let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
                return Err(CompareError::Usage(format!(
                    "{} {name}={threshold}: no metric `{name}` (metrics: {})",
                    flag(*worse),
                    names.join(", ")
                )));
            };
            if METRICS[i].worse != *worse {
                return Err(CompareError::Usage(format!(
                    "{} {name}={threshold}: {name} gets worse the other way; use {}",
                    flag(*worse),
                    flag(METRICS[i].worse)
                )));
            }
            out[i] = *threshold;
        }
        Ok(out)
    }
}

/// What a comparison concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Worse than the threshold (Holm-adjusted p-value at most alpha).
    Regressed,
    /// Too few trials to tell.
    Inconclusive,
    /// Better by more than the threshold (Holm-adjusted, in its own family).
    Improved,
    /// The interval of the change lies within the threshold either side.
    Unchanged,
}

impl Verdict {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
        }
    }
}

/// One metric of one matched cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The cell, as its protocol and the parameters that vary across the two runs.
    pub cell: String,
    /// The cell's id in the base run and in the new run.
    pub cell_ids: (u32, u32),
    /// The metric's summary column.
    pub metric: &'static str,
    /// Which way it gets worse.
    pub worse: Worse,
    /// Its value in the base run (none: no successful trial to take a latency from).
    pub base: Option<f64>,
    /// Its value in the new run.
    pub new: Option<f64>,
    /// The `1 - alpha` interval of `new - base`; none when there is no variance to make one
    /// from (see `note`).
    pub interval: Option<(f64, f64)>,
    /// The threshold as given.
    pub threshold: Threshold,
    /// The threshold in the metric's unit.
    pub threshold_abs: f64,
    /// Holm-adjusted p-value of a regression beyond the threshold (none: not tested).
    pub p_regressed: Option<f64>,
    /// Holm-adjusted p-value of an improvement beyond the threshold.
    pub p_improved: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why there is no interval, when there is none.
    pub note: Option<&'static str>,
}

impl Comparison {
    /// `new - base`, when both have a value.
    pub fn change(&self) -> Option<f64> {
        Some(self.new? - self.base?)
    }
}

/// A whole comparison of two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The base run's directory.
    pub base: PathBuf,
    /// The new run's directory.
    pub new: PathBuf,
    /// The significance level.
    pub alpha: f64,
    /// Every matched cell's metrics, cell by cell in the base run's order.
    pub comparisons: Vec<Comparison>,
    /// Cells only the base run has.
    pub only_in_base: Vec<String>,
    /// Cells only the new run has.
    pub only_in_new: Vec<String>,
}

/// The method the report names: how false alarms are controlled.
pub const METHOD: &str = "Holm";

impl Report {
    /// How many comparisons reached `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.comparisons
            .iter()
            .filter(|c| c.verdict == verdict)
            .count()
    }

    /// How many comparisons were tested (had an interval): the size of Holm's family.
    pub fn tested(&self) -> usize {
        self.comparisons
            .iter()
            .filter(|c| c.p_regressed.is_some())
            .count()
    }

    /// One line: the counts of each verdict and how they were reached.
    pub fn headline(&self) -> String {
        format!(
            "{} cells matched, {} comparisons: {} regressed, {} improved, {} unchanged, {} \
             inconclusive; {} only in base, {} only in new. Intervals {}%; false alarms \
             controlled across all {} tested comparisons by {}'s method at {}.",
            self.comparisons.len() / METRICS.len().max(1),
            self.comparisons.len(),
            self.count(Verdict::Regressed),
            self.count(Verdict::Improved),
            self.count(Verdict::Unchanged),
            self.count(Verdict::Inconclusive),
            self.only_in_base.len(),
            self.only_in_new.len(),
            100.0 * (1.0 - self.alpha),
            self.tested(),
            METHOD,
            self.alpha
        )
    }
}

/// One run read back: its summary rows and each cell's latency and message histograms.
struct Run {
    rows: Rows,
    latency: HashMap<u32, Buckets>,
    messages: HashMap<u32, Buckets>,
}

fn usage(message: String) -> CompareError {
    CompareError::Usage(message)
}

fn load(dir: &Path, role: &str) -> Result<Run, CompareError> {
    if !dir.is_dir() {
        return Err(usage(format!(
            "{role} {}: no such directory",
            dir.display()
        )));
    }
    for file in [SUMMARY, HISTOGRAMS] {
        if !dir.join(file).is_file() {
            return Err(usage(format!(
                "{role} {}: not a run directory (no {file}; a shard's parts need `coordsim \
                 merge` first)",
                dir.display()
            )));
        }
    }
    let rows = show::load(dir).map_err(|e| match e {
        ShowError::Usage(m) => CompareError::Usage(m),
        ShowError::Read { path, message } => CompareError::Read { path, message },
    })?;
    let path = dir.join(HISTOGRAMS);
    let (latency, messages) = crate::store::guard::unpanicked(
        || read_histograms(&path),
        |message| CompareError::Read {
            path: path.display().to_string(),
            message,
        },
    )?;
    Ok(Run {
        rows,
        latency,
        messages,
    })
}

type ByCell = HashMap<u32, Buckets>;

fn read_histograms(path: &Path) -> Result<(ByCell, ByCell), CompareError> {
    let read = |message: String| CompareError::Read {
        path: path.display().to_string(),
        message,
    };
    let file = crate::store::guard::open_regular(path).map_err(|e| read(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| read(e.to_string()))?;
    let (mut latency, mut messages) = (ByCell::new(), ByCell::new());
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| read(e.to_string()))?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| read(format!("no column `{name}`")))
        };
        let ids = column("cell_id")?
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| read("cell_id is not uint32".into()))?;
        let metric = column("metric")?
            .as_dictionary_opt::<Int32Type>()
            .ok_or_else(|| read("metric is not a dictionary".into()))?;
        let words = metric
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| read("metric is not text".into()))?;
        let low = column("bucket_low")?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| read("bucket_low is not float64".into()))?;
        let high = column("bucket_high")?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| read("bucket_high is not float64".into()))?;
        let count = column("count")?
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| read("count is not uint64".into()))?;
        for i in 0..batch.num_rows() {
            if metric.is_null(i) {
                continue;
            }
            let target = match words.value(metric.keys().value(i) as usize) {
                "latency_ms" => &mut latency,
                "messages" => &mut messages,
                _ => continue,
            };
            target.entry(ids.value(i)).or_default().0.push((
                low.value(i),
                high.value(i),
                count.value(i),
            ));
        }
    }
    for buckets in latency.values_mut().chain(messages.values_mut()) {
        buckets.0.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    Ok((latency, messages))
}

/// The columns that say what a cell is: those before `trials`, without `cell_id`, `sampler`
/// (how it was sampled, not what) and a quorum size's `<k>_spec` (`k` holds it resolved).
fn parameter_columns(rows: &Rows) -> Vec<String> {
    let end = rows
        .columns
        .iter()
        .position(|c| c == "trials")
        .unwrap_or(rows.columns.len());
    let head = &rows.columns[..end];
    head.iter()
        .filter(|c| *c != "cell_id" && *c != "sampler")
        .filter(|c| {
            c.strip_suffix("_spec")
                .is_none_or(|k| !head.iter().any(|h| h == k))
        })
        .cloned()
        .collect()
}

/// A cell's parameters, in `columns` (null where its run has no such column).
fn key(rows: &Rows, row: &[Value], columns: &[String]) -> Vec<Value> {
    columns
        .iter()
        .map(|c| {
            rows.columns
                .iter()
                .position(|x| x == c)
                .map_or(Value::Null, |i| row[i].clone())
        })
        .collect()
}

fn key_text(key: &[Value]) -> String {
    key.iter()
        .map(|v| match v {
            Value::Float(x) => format!("{x:?}"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

fn column(rows: &Rows, name: &str, role: &str, dir: &Path) -> Result<usize, CompareError> {
    rows.columns.iter().position(|c| c == name).ok_or_else(|| {
        usage(format!(
            "{role} {}: its summary has no column `{name}`: the runs have different metric sets",
            dir.display()
        ))
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

fn count(v: &Value) -> u64 {
    match v {
        Value::Int(n) => *n,
        _ => 0,
    }
}

/// Compares the run in `new` with the run in `base`.
pub fn compare(base: &Path, new: &Path, options: &Options) -> Result<Report, CompareError> {
    let thresholds = options.thresholds()?;
    let b = load(base, "base")?;
    let n = load(new, "new")?;
    let needed = ["cell_id", "trials", "successes"];
    for (run, role, dir) in [(&b, "base", base), (&n, "new", new)] {
        for name in needed.iter().copied().chain(METRICS.iter().map(|m| m.name)) {
            column(&run.rows, name, role, dir)?;
        }
    }
    // The union of both runs' parameter columns, the base run's order first.
    let mut columns = parameter_columns(&b.rows);
    for c in parameter_columns(&n.rows) {
        if !columns.contains(&c) {
            columns.push(c);
        }
    }
    for name in &options.ignore {
        if !columns.contains(name) {
            return Err(usage(format!(
                "--ignore {name}: no such parameter column (parameters: {})",
                columns.join(", ")
            )));
        }
    }
    columns.retain(|c| !options.ignore.contains(c));
    let keys = |run: &Run, role: &str, dir: &Path| -> Result<Vec<Vec<Value>>, CompareError> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for (i, row) in run.rows.rows.iter().enumerate() {
            let k = key(&run.rows, row, &columns);
            if let Some(j) = seen.insert(key_text(&k), i) {
                return Err(usage(format!(
                    "{role} {}: rows {j} and {i} of its summary have the same parameters",
                    dir.display()
                )));
            }
            out.push(k);
        }
        Ok(out)
    };
    let base_keys = keys(&b, "base", base)?;
    let new_keys = keys(&n, "new", new)?;
    // The columns with more than one value (nulls aside) over both runs' cells name a cell;
    // the protocol always does.
    let varies = |i: usize| {
        let mut values = base_keys
            .iter()
            .chain(&new_keys)
            .map(|k| &k[i])
            .filter(|v| **v != Value::Null);
        let first = values.next();
        values.any(|v| Some(v) != first)
    };
    let shown: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i] == "protocol" || varies(i))
        .collect();
    let label = |k: &[Value]| {
        shown
            .iter()
            .filter(|&&i| k[i] != Value::Null)
            .map(|&i| {
                if columns[i] == "protocol" {
                    k[i].to_string()
                } else {
                    format!("{}={}", columns[i], k[i])
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let new_index: BTreeMap<String, usize> = new_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (key_text(k), i))
        .collect();
    let base_index: BTreeMap<String, usize> = base_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (key_text(k), i))
        .collect();
    let only_in_base = base_keys
        .iter()
        .filter(|k| !new_index.contains_key(&key_text(k)))
        .map(|k| label(k))
        .collect();
    let only_in_new = new_keys
        .iter()
        .filter(|k| !base_index.contains_key(&key_text(k)))
        .map(|k| label(k))
        .collect();

    fn get<'a>(run: &'a Run, row: usize, name: &str) -> &'a Value {
        let i = run.rows.columns.iter().position(|c| c == name).unwrap();
        &run.rows.rows[row][i]
    }
    let mut comparisons = Vec::new();
    let mut changes: Vec<Option<Change>> = Vec::new();
    for (bi, k) in base_keys.iter().enumerate() {
        let Some(&ni) = new_index.get(&key_text(k)) else {
            continue;
        };
        let cell_ids = (
            count(get(&b, bi, "cell_id")) as u32,
            count(get(&n, ni, "cell_id")) as u32,
        );
        let trials = (count(get(&b, bi, "trials")), count(get(&n, ni, "trials")));
        let successes = (
            count(get(&b, bi, "successes")),
            count(get(&n, ni, "successes")),
        );
        let empty = Buckets::default();
        let histogram = |run: &Run, latency: bool, id: u32| {
            let map = if latency { &run.latency } else { &run.messages };
            map.get(&id).unwrap_or(&empty).clone()
        };
        for (m, metric) in METRICS.iter().enumerate() {
            let base_value = number(get(&b, bi, metric.name));
            let new_value = number(get(&n, ni, metric.name));
            let mut note = None;
            let change = match (metric.name, base_value, new_value) {
                (_, None, _) | (_, _, None) => {
                    note = Some("no value in one run (no successful trial)");
                    None
                }
                ("success_rate", _, _) => Some(Change::Proportions {
                    base: (successes.0, trials.0),
                    new: (successes.1, trials.1),
                }),
                ("latency_ms_p50" | "latency_ms_p99", _, _) => Some(Change::Quantiles {
                    q: if metric.name == "latency_ms_p50" {
                        0.5
                    } else {
                        0.99
                    },
                    base: histogram(&b, true, cell_ids.0),
                    new: histogram(&n, true, cell_ids.1),
                }),
                (_, Some(bv), Some(nv)) => {
                    // messages_mean, or transfer_usd_per_month: a fixed price per message
                    // times the messages per trial.
                    let messages = (
                        number(get(&b, bi, "messages_mean")).unwrap_or(0.0),
                        number(get(&n, ni, "messages_mean")).unwrap_or(0.0),
                    );
                    let scale = |value: f64, messages: f64| {
                        if messages > 0.0 {
                            value / messages
                        } else {
                            0.0
                        }
                    };
                    let moments = |run: &Run, id: u32, value: f64, messages: f64, trials| {
                        let (_, variance) = histogram(run, false, id).mean_variance()?;
                        Some(Moments {
                            mean: value,
                            variance,
                            count: trials,
                            scale: scale(value, messages),
                        })
                    };
                    match (
                        moments(&b, cell_ids.0, bv, messages.0, trials.0),
                        moments(&n, cell_ids.1, nv, messages.1, trials.1),
                    ) {
                        (Some(base), Some(new)) => Some(Change::Means { base, new }),
                        _ => {
                            note = Some(
                                "no variance (no message histogram): plain change, not tested",
                            );
                            None
                        }
                    }
                }
            };
            let threshold = thresholds[m];
            comparisons.push(Comparison {
                cell: label(k),
                cell_ids,
                metric: metric.name,
                worse: metric.worse,
                base: base_value,
                new: new_value,
                interval: change.as_ref().map(|c| c.interval(options.alpha)),
                threshold,
                threshold_abs: threshold.resolve(base_value.unwrap_or(0.0)),
                p_regressed: None,
                p_improved: None,
                verdict: Verdict::Inconclusive,
                note,
            });
            changes.push(change);
        }
    }
    decide(&mut comparisons, &changes, options.alpha);
    Ok(Report {
        base: base.to_path_buf(),
        new: new.to_path_buf(),
        alpha: options.alpha,
        comparisons,
        only_in_base,
        only_in_new,
    })
}

/// The p-values, their Holm adjustment and the verdicts.
fn decide(comparisons: &mut [Comparison], changes: &[Option<Change>], alpha: f64) {
    let tested: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].is_some())
        .collect();
    let p = |worse_side: bool| -> Vec<f64> {
        tested
            .iter()
            .map(|&i| {
                let c = &comparisons[i];
                let change = changes[i].as_ref().unwrap();
                // A rise is a regression of a metric that gets worse rising, an improvement
                // of one that gets worse dropping.
                let rising = (c.worse == Worse::Rise) == worse_side;
                change.p_beyond(c.threshold_abs, rising)
            })
            .collect()
    };
    let regressed = holm(&p(true));
    let improved = holm(&p(false));
    for (j, &i) in tested.iter().enumerate() {
        let c = &mut comparisons[i];
        c.p_regressed = Some(regressed[j]);
        c.p_improved = Some(improved[j]);
        let (lo, hi) = c.interval.unwrap();
        let t = c.threshold_abs;
        c.verdict = if regressed[j] <= alpha {
            Verdict::Regressed
        } else if improved[j] <= alpha {
            Verdict::Improved
        } else if -t <= lo && hi <= t {
            Verdict::Unchanged
        } else {
            Verdict::Inconclusive
        };
    }
}
