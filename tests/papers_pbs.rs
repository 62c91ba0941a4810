//! Published figures, reproduced: `sweeps/papers/pbs-table4.toml` (PBS, Bailis et al., VLDB
//! 2012), `sweeps/papers/tail-at-scale.toml` and `tail-at-scale-table1.toml` (The Tail at
//! Scale, Dean and Barroso, CACM 2013) are run as shipped, and each published value is
//! checked against the measured one within a tolerance derived beside it from the paper's
//! printed precision and the Monte Carlo error of both estimates. README "Validation" has the same numbers; `cargo test
//! --profile ci --test papers_pbs -- --nocapture` prints them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use common::{coordsim, read_parquet};
use statrs::distribution::{Binomial, DiscreteCDF};

/// A cell's parameters (as text, by column) and its latency histogram: (low, high, count) in
/// ms, in increasing order.
struct Cell {
    params: BTreeMap<String, String>,
    trials: u64,
    successes: u64,
    latency_p999: f64,
    buckets: Vec<(f64, f64, u64)>,
}

impl Cell {
    fn param(&self, name: &str) -> &str {
        &self.params[name]
    }

    /// Trials with a latency of at most `ms` for sure (buckets that end at or below it).
    fn at_most(&self, ms: f64) -> u64 {
        self.buckets.iter().filter(|b| b.1 <= ms).map(|b| b.2).sum()
    }

    /// Trials with a latency that may be at most `ms` (buckets that start at or below it).
    fn maybe_at_most(&self, ms: f64) -> u64 {
        self.buckets.iter().filter(|b| b.0 <= ms).map(|b| b.2).sum()
    }

    /// The latency of rank `k` (1-based) among the successes, at its bucket's `high` edge
    /// (`upper`) or `low` edge.
    fn order_statistic(&self, k: u64, upper: bool) -> f64 {
        let mut seen = 0;
        for b in &self.buckets {
            seen += b.2;
            if seen >= k {
                return if upper { b.1 } else { b.0 };
            }
        }
        f64::INFINITY
    }

    /// The `q`-quantile's distribution-free interval at coverage 1 - alpha: the order
    /// statistics whose ranks leave alpha / 2 of the Binomial(n, q) law on each side, read at
    /// the outer bucket edges.
    fn quantile_interval(&self, q: f64, alpha: f64) -> (f64, f64) {
        let n = self.successes;
        let b = Binomial::new(q, n).unwrap();
        let lo = b.inverse_cdf(alpha / 2.0).max(1);
        let hi = (b.inverse_cdf(1.0 - alpha / 2.0) + 1).min(n);
        (
            self.order_statistic(lo, false),
            self.order_statistic(hi, true),
        )
    }
}

fn text(batch: &RecordBatch, name: &str, row: usize) -> Option<String> {
    let c = batch.column_by_name(name)?;
    if c.is_null(row) {
        return None;
    }
    Some(match c.data_type() {
        DataType::Utf8 => c.as_string::<i32>().value(row).to_string(),
        DataType::Dictionary(_, _) => {
            let d = c.as_dictionary::<Int32Type>();
            let values = d.values().as_any().downcast_ref::<StringArray>().unwrap();
            values.value(d.keys().value(row) as usize).to_string()
        }
        DataType::UInt32 => c.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => c.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float64 => c.as_primitive::<Float64Type>().value(row).to_string(),
        other => panic!("{name}: unexpected type {other}"),
    })
}

/// Runs the shipped sweep `sweeps/papers/<name>.toml`; returns its cells by cell id.
fn run(dir: &Path, name: &str) -> Vec<Cell> {
    let sweep = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sweeps/papers/{name}.toml"));
    coordsim(dir)
        .args(["run", sweep.to_str().unwrap(), "--out", name, "--quiet"])
        .assert()
        .success();
    let (summary, _) = read_parquet(&dir.join(name).join("summary.parquet"));
    let (histograms, _) = read_parquet(&dir.join(name).join("histograms.parquet"));
    let number = |batch: &RecordBatch, column: &str, row: usize| -> f64 {
        text(batch, column, row).unwrap().parse().unwrap()
    };
    let mut cells: Vec<Cell> = (0..summary.num_rows())
        .map(|row| {
            assert_eq!(number(&summary, "cell_id", row) as usize, row);
            let params = ["nodes", "latency", "r", "w", "wars", "measure", "k"]
                .iter()
                .filter_map(|c| Some((c.to_string(), text(&summary, c, row)?)))
                .collect();
            Cell {
                params,
                trials: number(&summary, "trials", row) as u64,
                successes: number(&summary, "successes", row) as u64,
                latency_p999: text(&summary, "latency_ms_p999", row)
                    .map_or(f64::NAN, |v| v.parse().unwrap()),
                buckets: Vec::new(),
            }
        })
        .collect();
    for row in 0..histograms.num_rows() {
        if text(&histograms, "metric", row).unwrap() != "latency_ms" {
            continue;
        }
        let cell = number(&histograms, "cell_id", row) as usize;
        cells[cell].buckets.push((
            number(&histograms, "bucket_low", row),
            number(&histograms, "bucket_high", row),
            number(&histograms, "count", row) as u64,
        ));
    }
    for cell in &mut cells {
        cell.buckets.sort_by(|a, b| a.1.total_cmp(&b.1));
    }
    cells
}

/// Where the PBS values are read: the authors' own LaTeX sources of the paper, in their
/// repository of paper material, `pbailis/pbs-vldb-historical-paper-material`,
/// `writeup/ernst.tex` (a draft of the VLDB paper; its Section 5 table `table:lat-stale` and
/// subsection "Replica Size"), whose LNKD-SSD, LNKD-DISK and YMMR columns the authors' CACM
/// research highlight (`pbailis/paper-repo-cacm-pbs-research-highlight`, `pbs-cacm.tex`)
/// prints with the same values. The camera-ready text itself could not be read.
const SOURCE: &str = "ernst.tex table:lat-stale (CACM: same)";

/// PBS Table 4's t-visibility at a 99.9% probability of consistent reads, N = 3, as the
/// paper prints it: (preset, R, W, published ms, half the printed unit). Every row of the
/// table with R, W <= 2; WAN is not in the CACM version. The draft's text says WAN "results
/// in staleness only when R=W=1", yet its table prints 30.2 ms for R = 2, W = 1: the table is
/// checked. A printed 0 is taken at the table's finest precision, 0.01 ms.
const PBS_TABLE4: &[(&str, u32, u32, f64, f64)] = &[
    ("ymmr", 1, 1, 1364.0, 0.05),
    ("wan", 1, 1, 113.0, 0.05),
    ("lnkd-ssd", 1, 1, 1.85, 0.005),
    ("lnkd-disk", 1, 1, 45.5, 0.05),
    ("ymmr", 1, 2, 1352.0, 0.05),
    ("wan", 1, 2, 0.0, 0.005),
    ("lnkd-ssd", 1, 2, 1.79, 0.005),
    ("lnkd-disk", 1, 2, 43.3, 0.05),
    ("ymmr", 2, 1, 202.0, 0.05),
    ("wan", 2, 1, 30.2, 0.05),
    ("lnkd-ssd", 2, 1, 0.0, 0.005),
    ("lnkd-disk", 2, 1, 13.6, 0.05),
    ("ymmr", 2, 2, 0.0, 0.005),
    ("wan", 2, 2, 0.0, 0.005),
    ("lnkd-ssd", 2, 2, 0.0, 0.005),
    ("lnkd-disk", 2, 2, 0.0, 0.005),
];

/// Section 5.7 ("Replica Size"), R = W = 1: "the LNKD-DISK latency distribution, the
/// t-visibility at 99.9% probability of consistency ranges from 45.3 ms for 2 replicas to
/// 53.7 ms for 10 replicas" (N, published ms, half the printed unit). No other preset's value
/// is printed.
const PBS_SECTION57: &[(u32, f64, f64)] = &[(2, 45.3, 0.05), (10, 53.7, 0.05)];

/// Reads behind each of the paper's t-visibility estimates, from the table's caption:
/// "t-visibility for p_s = .001 (99.9% probability of consistency for 50,000 reads and
/// writes)". The verdicts are printed for 10 times as many too.
const PBS_TRIALS: u64 = 50_000;

/// One-sided 5-sigma tail probability: a published value is rejected only when the paper
/// would have printed it with a probability below this, given our model.
const ALPHA: f64 = 2.866_515_7e-7;

/// Given the probability `stale` that a read is stale at t, the chance that the paper's
/// estimate over `trials` reads had reached 0.999 at t: at most trials / 1000 stale reads.
fn reached(stale: f64, trials: u64) -> f64 {
    Binomial::new(stale.clamp(0.0, 1.0), trials)
        .unwrap()
        .cdf(trials / 1000)
}

/// The stale probability at which `reached` (if `up`) or `1 - reached` equals ALPHA.
fn stale_bound(trials: u64, up: bool) -> f64 {
    let (mut lo, mut hi) = (0.0, 0.1);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        let p = reached(mid, trials);
        let inside = if up { p >= ALPHA } else { 1.0 - p >= ALPHA };
        if inside == up {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Whether a published t-visibility at 99.9% agrees with cell `c`'s staleness windows, printed
/// on one line with the tolerance, at [`PBS_TRIALS`] reads (returned) and at ten times as many
/// (printed).
///
/// The paper's t is where its estimate of P(consistent) over PBS_TRIALS reads first reaches
/// 0.999: at most PBS_TRIALS / 1000 of them stale at t, more just before. Our P(consistent at
/// t) is the fraction of windows at most t, bracketed by the histogram's buckets (3
/// significant digits) and taken at the ends of the printed precision (half the last digit's
/// unit either side): `below` counts windows surely <= t - half, `above` windows maybe <= t +
/// half, each widened by 5 standard errors of our own estimate. The published t fails when,
/// with our P, the paper would have reached 0.999 by t + half with probability below ALPHA
/// (t too small), or had already reached it before t - half with probability above 1 - ALPHA
/// (t too large): exact binomial tails, one-sided 5 sigma each.
fn agrees(label: &str, c: &Cell, published: f64, half_unit: f64) -> bool {
    let n = c.successes as f64;
    let five_se = |f: f64| 5.0 * (f * (1.0 - f) / n).sqrt();
    let (below, above) = (
        c.at_most(published - half_unit) as f64 / n,
        c.maybe_at_most(published + half_unit) as f64 / n,
    );
    let (below_5se, above_5se) = (below - five_se(below), above + five_se(above));
    let (lo, hi) = c.quantile_interval(0.999, 0.05);
    let verdict = |trials: u64| {
        reached(1.0 - above_5se, trials) >= ALPHA && 1.0 - reached(1.0 - below_5se, trials) >= ALPHA
    };
    // The same tolerance in ms: the windows' quantiles at the bounds of P.
    let band = |trials: u64| {
        let (p_min, p_max) = (
            1.0 - stale_bound(trials, true),
            1.0 - stale_bound(trials, false),
        );
        (
            c.quantile_interval(p_min.min(0.999), 0.05).0,
            c.quantile_interval(p_max.max(0.999), 0.05).1,
        )
    };
    let word = |ok: bool| if ok { "agrees" } else { "outside" };
    let (t_lo, t_hi) = band(PBS_TRIALS);
    println!(
        "{label:22} {published:8}  {:9.4} [{lo:.4}, {hi:.4}]  P(consistent) [{below:.6}, \
         {above:.6}]  tolerance at {PBS_TRIALS} reads: t in [{t_lo:.4}, {t_hi:.4}] ms, {}; at \
         {}: {}",
        c.latency_p999,
        word(verdict(PBS_TRIALS)),
        10 * PBS_TRIALS,
        word(verdict(10 * PBS_TRIALS)),
    );
    verdict(PBS_TRIALS)
}

/// Checks `rows` of published values against `cells` (found by `find`); panics naming every
/// row outside its tolerance.
fn check<R: Copy>(
    cells: &[Cell],
    rows: &[R],
    find: impl Fn(&Cell, R) -> bool,
    value: impl Fn(R) -> (String, f64, f64),
) {
    println!("case                   published  measured p99.9 [95% interval]");
    let mut outside = Vec::new();
    for &row in rows {
        let (label, published, half_unit) = value(row);
        let c = cells.iter().find(|c| find(c, row)).unwrap();
        if !agrees(&label, c, published, half_unit) {
            outside.push(format!(
                "{label}: published {published} ms, measured {}",
                c.latency_p999
            ));
        }
    }
    assert!(
        outside.is_empty(),
        "outside the tolerance ({SOURCE}): {outside:?}"
    );
}

/// Whether `c` is the cell of `wars`, R and W.
fn is(c: &Cell, wars: &str, r: u32, w: u32) -> bool {
    c.param("wars") == wars && c.param("r") == r.to_string() && c.param("w") == w.to_string()
}

#[test]
fn pbs_table4_t_visibility_at_99_9_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = run(tmp.path(), "pbs-table4");
    assert_eq!(cells.len(), 16);
    // Every trial reports a window (no crashes, no loss).
    for c in &cells {
        assert_eq!(c.successes, c.trials, "{:?}", c.params);
        assert_eq!(c.param("nodes"), "3");
    }
    check(
        &cells,
        PBS_TABLE4,
        |c, (wars, r, w, ..)| is(c, wars, r, w),
        |(wars, r, w, published, half)| (format!("{wars} R={r} W={w}"), published, half),
    );
    // More than 99.9% of reads are fresh right at the commit.
    assert_eq!(
        cells
            .iter()
            .find(|c| is(c, "lnkd-ssd", 2, 1))
            .unwrap()
            .latency_p999,
        0.0
    );
}

#[test]
fn pbs_section57_replication_factor() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = run(tmp.path(), "pbs-section57");
    assert_eq!(cells.len(), 8);
    check(
        &cells,
        PBS_SECTION57,
        |c, (n, ..)| c.param("wars") == "lnkd-disk" && c.param("nodes") == n.to_string(),
        |(n, published, half)| (format!("lnkd-disk N={n}"), published, half),
    );
    for c in &cells {
        println!(
            "{:9} N={:2}  (none printed)  {:.4}",
            c.param("wars"),
            c.param("nodes"),
            c.latency_p999
        );
    }
}

/// Servers, latency model, published value, the interval its wording allows, the quote.
type Published = (u32, &'static str, f64, (f64, f64), &'static str);

/// The Tail at Scale's fan-out numbers: (servers N, latency model, published fraction of
/// user requests of 1 s or more, the interval its wording allows, the quote). "63%" is
/// printed to the percent: [62.5%, 63.5%). "almost one in five": below 1/5, and 1/5 at one
/// significant digit, so [0.15, 0.2]. "one user request in 100" is the model's input, exact.
const TAIL_AT_SCALE: &[Published] = &[
    (
        1,
        "slow-1-in-100",
        0.01,
        (0.01, 0.01),
        "one user request in 100 will be slow (one second)",
    ),
    (
        100,
        "slow-1-in-100",
        0.63,
        (0.625, 0.635),
        "63% of user requests will take more than one second",
    ),
    (
        2000,
        "slow-1-in-10000",
        0.2,
        (0.15, 0.2),
        "almost one in five user requests taking more than one second",
    ),
];

#[test]
fn tail_at_scale_fan_out() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = run(tmp.path(), "tail-at-scale");
    assert_eq!(cells.len(), 15);
    // The fraction of user requests of 1 s or more: a fast round trip is 10 ms, a slow one
    // 1005 ms or more, so the buckets from 1000 ms up hold exactly the slow requests.
    let slow = |c: &Cell| {
        assert_eq!(c.successes, c.trials);
        let fast = c.at_most(999.0);
        assert_eq!(fast, c.maybe_at_most(999.0));
        (c.trials - fast) as f64 / c.trials as f64
    };
    println!("N     model            measured   1 - (1 - p)^N   5 SE");
    for c in &cells {
        let n: i32 = c.param("nodes").parse().unwrap();
        let p = match c.param("latency") {
            "slow-1-in-100" => 0.01,
            "slow-1-in-1000" => 0.001,
            "slow-1-in-10000" => 0.0001,
            other => panic!("{other}"),
        };
        // The paper's arithmetic, exact: a request is fast only if all N servers are.
        let expected = 1.0 - (1.0 - p as f64).powi(n);
        let measured = slow(c);
        // 5 standard errors of a binomial proportion over the cell's trials (at least one
        // success's worth, so a probability near 0 still has room).
        let tolerance =
            5.0 * (expected * (1.0 - expected) / c.trials as f64).sqrt() + 1.0 / c.trials as f64;
        println!(
            "{n:<5} {:16} {measured:.6}   {expected:.6}        {tolerance:.6}",
            c.param("latency")
        );
        assert!(
            (measured - expected).abs() <= tolerance,
            "N = {n}, p = {p}: {measured} slow, 1 - (1 - p)^N = {expected} +- {tolerance}"
        );
    }
    for &(n, latency, published, (lo, hi), quote) in TAIL_AT_SCALE {
        let c = cells
            .iter()
            .find(|c| c.param("nodes") == n.to_string() && c.param("latency") == latency)
            .unwrap();
        let measured = slow(c);
        // The published value's interval, widened by 5 standard errors of our estimate.
        let se = (measured * (1.0 - measured) / c.trials as f64).sqrt();
        let (lo, hi) = (lo - 5.0 * se, hi + 5.0 * se);
        println!(
            "N = {n}, {latency}: published {published} (\"{quote}\"), measured {measured:.6}, tolerance [{lo:.6}, {hi:.6}]"
        );
        assert!(
            measured >= lo && measured <= hi,
            "N = {n}, {latency}: measured {measured}, published {published} (\"{quote}\"): \
             outside [{lo}, {hi}]"
        );
    }
}

/// A row of a table: its name, the quorum's k, and (quantile, published ms) pairs.
type Row = (&'static str, &'static str, [(f64, f64); 3]);

/// The Tail at Scale, Table 1 ("Individual-leaf-request finishing times for a large fan-out
/// service tree (measured from root node of the tree)"), rows 2 and 3: (row, the quorum's k
/// of the N = 1000 leaves, (quantile, published ms)). Row 1, one random leaf (1, 5 and 10 ms),
/// is the leaf law the sweep is built on.
const TABLE1: &[Row] = &[
    (
        "95% of all leaf requests finish",
        "950",
        [(0.5, 12.0), (0.95, 32.0), (0.99, 70.0)],
    ),
    (
        "100% of all leaf requests finish",
        "1000",
        [(0.5, 40.0), (0.95, 87.0), (0.99, 140.0)],
    ),
];

/// P(Bin(n, p) >= k).
fn at_least(n: u64, p: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    Binomial::new(p, n).unwrap().sf(k - 1)
}

#[test]
fn tail_at_scale_table1_independent_leaves_finish_95_percent_by_10_ms() {
    // Leaves that finish independently, each by 10 ms with probability 0.99 (row 1's 99th
    // percentile), have 95% of N finished by 10 ms with probability P(Bin(N, 0.99) >=
    // ceil(0.95 N)): at least 0.99^19 = 0.826 (N = 19, where 95% is every leaf) for every N up
    // to 20,000. So under independence row 2's median, and its 80th percentile, are at most
    // 10 ms whatever N; the table prints 12 ms for the median.
    let (worst, at) = (1..=20_000u64)
        .map(|n| (at_least(n, 0.99, (95 * n).div_ceil(100)), n))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    println!("least P(95% of N leaves by 10 ms): {worst:.6} at N = {at}");
    assert_eq!(at, 19);
    assert!((worst - 0.99f64.powi(19)).abs() < 1e-12 && worst > 0.8);
    // The sweep's leaves (row 1's log-normal, N = 1000) agree with the bound at N = 1000:
    // the fraction of trials whose 950th leaf was done by 10 ms is at least the exact
    // probability, less 5 standard errors and one trial.
    let tmp = tempfile::tempdir().unwrap();
    let cells = run(tmp.path(), "tail-at-scale-table1");
    let c = cells.iter().find(|c| c.param("k") == "950").unwrap();
    let bound = at_least(1000, 0.99, 950);
    let measured = c.at_most(10.0) as f64 / c.trials as f64;
    let se = (bound * (1.0 - bound) / c.trials as f64).sqrt();
    println!("N = 1000: P(950 leaves by 10 ms) measured {measured:.6}, at least {bound:.6}");
    assert!(measured >= bound - 5.0 * se - 1.0 / c.trials as f64);
}

#[test]
#[ignore = "no model gives Table 1's rows 1 and 2 for the same requests, and independent \
            leaves miss rows 2 and 3 (README, Validation); run with --include-ignored"]
fn tail_at_scale_table1() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = run(tmp.path(), "tail-at-scale-table1");
    let mut outside = Vec::new();
    for &(row, k, quantiles) in TABLE1 {
        let c = cells.iter().find(|c| c.param("k") == k).unwrap();
        for (q, published) in quantiles {
            // The measured quantile's distribution-free interval at two-sided 5 sigma, and the
            // published value's printed precision (whole milliseconds): they must meet.
            let (lo, hi) = c.quantile_interval(q, 5.733e-7);
            let verdict = lo <= published + 0.5 && hi >= published - 0.5;
            println!(
                "{row}, {q}: published {published} ms, measured [{lo}, {hi}] ms: {}",
                if verdict { "agrees" } else { "outside" }
            );
            if !verdict {
                outside.push(format!("{row} at {q}"));
            }
        }
    }
    assert!(outside.is_empty(), "outside: {outside:?}");
}
