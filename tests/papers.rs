//! Published figures against the sweeps of sweeps/papers/ (see the README's "Validation").
//!
//! Each published value is a statistic of the paper's own trials, so it scatters around the
//! model's value: the tolerance is the spread of that statistic over the paper's trial count
//! under the model (5 standard deviations, or the matching probability band for a quantile
//! or a maximum), widened by the paper's precision (values given to the millisecond: +-0.5
//! ms; values given as "about" a round number: half the step that number is printed to, see
//! [`half_step`]) and by this run's own Monte Carlo error. Nothing here is tuned to the
//! paper.

use std::sync::OnceLock;

use coordsim::engine::{RunOptions, run_all};
use coordsim::model::Value;
use coordsim::model::tally::Tally;
use coordsim::sweep::Sweep;

/// Trials per curve in the paper's Figure 16.
const PAPER_TRIALS: f64 = 1000.0;
/// Elections per curve in the thesis's WAN simulation: "Each CDF summarizes 10,000 simulated
/// elections".
const THESIS_TRIALS: f64 = 10_000.0;
/// Published values are whole milliseconds.
const ROUNDING_MS: f64 = 0.5;
/// P(|Z| > 5) for a standard normal, one side.
const FIVE_SIGMA_TAIL: f64 = 2.866_515_7e-7;

/// Runs `sweeps/papers/<file>` as shipped: each cell's values of `names` (as numbers) and its
/// tally.
fn run(file: &str, names: &[&str]) -> Vec<(Vec<f64>, Tally)> {
    let path = format!("{}/sweeps/papers/{file}", env!("CARGO_MANIFEST_DIR"));
    let sweep = Sweep::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    let runs = run_all(&sweep, &RunOptions::default()).unwrap();
    runs.into_iter()
        .map(|run| {
            let cell = &sweep.cells.get(run.cell_id as usize);
            let number = |name: &&str| match cell.value(name) {
                Some(Value::Millis(x) | Value::Positive(x)) => x,
                Some(Value::Count(n)) => f64::from(n),
                v => panic!("{name}: {v:?}"),
            };
            let values = names.iter().map(number).collect();
            (values, std::sync::Arc::unwrap_or_clone(run.tally))
        })
        .collect()
}

/// The Figure 16 sweep's tallies, as ([T in ms, spread], tally).
fn figure16() -> &'static [(Vec<f64>, Tally)] {
    static RUN: OnceLock<Vec<(Vec<f64>, Tally)>> = OnceLock::new();
    RUN.get_or_init(|| {
        run(
            "raft-figure16.toml",
            &["election_timeout_ms", "timeout_spread"],
        )
    })
}

/// The tally of timeouts [lo, hi] ms.
fn curve(lo: f64, hi: f64) -> &'static Tally {
    let (_, tally) = figure16()
        .iter()
        .find(|(v, _)| v[0] == lo && (v[0] * (1.0 + v[1]) - hi).abs() < 1e-6)
        .unwrap_or_else(|| panic!("no curve {lo}-{hi} ms"));
    assert_eq!(tally.successes, tally.trials(), "every failover elects");
    tally
}

fn quantile_ms(tally: &Tally, q: f64) -> f64 {
    tally.latency_ns().value_at_quantile(q) as f64 / 1e6
}

/// Mean and standard deviation of the latency, in ms (from the histogram).
fn mean_sd_ms(tally: &Tally) -> (f64, f64) {
    let h = tally.latency_ns();
    (h.mean() / 1e6, h.stdev() / 1e6)
}

/// The band the q-quantile of `n` of the paper's trials falls in: the model's quantiles at
/// q -+ 5 sqrt(q (1 - q) / n) (above 1: the largest of this run's trials), widened by
/// `rounding`. Our quantiles come from at least 20 times the paper's trials: their own error
/// is inside the band's width.
fn quantile_band(tally: &Tally, q: f64, n: f64, rounding: f64) -> (f64, f64) {
    let d = 5.0 * (q * (1.0 - q) / n).sqrt();
    let hi = if q + d < 1.0 {
        quantile_ms(tally, q + d)
    } else {
        tally.latency_max_ns as f64 / 1e6
    };
    (
        quantile_ms(tally, (q - d).max(0.0)) - rounding,
        hi + rounding,
    )
}

/// The band a median of the paper's 1000 trials falls in.
fn median_band(tally: &Tally) -> (f64, f64) {
    quantile_band(tally, 0.5, PAPER_TRIALS, ROUNDING_MS)
}

/// The band the largest of the paper's 1000 trials falls in: below, the model's quantile
/// q with q^1000 = P(Z < -5); above, the largest of this run's 200,000 trials (the paper's
/// largest exceeds it with probability 1000 / 201,000 under the model), widened by the
/// rounding.
fn max_band(tally: &Tally) -> (f64, f64) {
    let q = FIVE_SIGMA_TAIL.powf(1.0 / PAPER_TRIALS);
    (
        quantile_ms(tally, q) - ROUNDING_MS,
        tally.latency_max_ns as f64 / 1e6 + ROUNDING_MS,
    )
}

/// The band a mean of `n` of the paper's trials falls in: the model's mean -+ 5 standard
/// errors of `n` trials and 5 of this run's, widened by `rounding`.
fn mean_band(tally: &Tally, n: f64, rounding: f64) -> (f64, f64) {
    let (mean, sd) = mean_sd_ms(tally);
    let width = 5.0 * sd * (1.0 / n + 1.0 / tally.trials() as f64).sqrt();
    (mean - width - rounding, mean + width + rounding)
}

/// Half the step a round number `x` is printed to: the largest of 1, 2.5 and 5 times a power
/// of ten that is below `x` and divides it (475: steps of 25; 650: of 50; 1500: of 500;
/// 3000: of 1000). A value given as "about x" is read as x to that step.
fn half_step(x: f64) -> f64 {
    let mut best = 0.0;
    for power in -3..=6 {
        for unit in [1.0, 2.5, 5.0] {
            let step = unit * 10f64.powi(power);
            let ratio = x / step;
            if step < x && (ratio - ratio.round()).abs() < 1e-9 {
                best = f64::max(best, step);
            }
        }
    }
    best / 2.0
}

fn check(what: &str, published: f64, (lo, hi): (f64, f64)) {
    println!("{what}: published {published} ms, tolerance [{lo:.1}, {hi:.1}] ms");
    assert!(
        (lo..=hi).contains(&published),
        "{what}: published {published} ms outside [{lo:.1}, {hi:.1}] ms"
    );
}

#[test]
fn figure16_worst_case_150_200() {
    // "with 50ms of randomness the worst-case completion time (over 1000 trials) was 513ms"
    let tally = curve(150.0, 200.0);
    println!("model p999 {:.1} ms", quantile_ms(tally, 0.999));
    check("150-200 ms worst case", 513.0, max_band(tally));
}

#[test]
#[ignore = "outside its tolerance: the model's 99.9th percentile is 374 ms, with LogCabin's two \
            writes before each vote (README, Validation)"]
fn figure16_longest_12_24() {
    // "the longest trial took 152ms"
    let tally = curve(12.0, 24.0);
    println!("model p999 {:.1} ms", quantile_ms(tally, 0.999));
    check("12-24 ms longest", 152.0, max_band(tally));
}

#[test]
fn figure16_median_150_155() {
    // "Adding just 5ms of randomness helps significantly, resulting in a median downtime of
    // 287ms."
    let tally = curve(150.0, 155.0);
    println!("model median {:.1} ms", quantile_ms(tally, 0.5));
    check("150-155 ms median", 287.0, median_band(tally));
}

#[test]
#[ignore = "outside its tolerance: the model's mean is 74.8 ms, split votes among 12 ms \
            timeouts with LogCabin's writes (README, Validation)"]
fn figure16_mean_12_24() {
    // "With an election timeout of 12-24ms, it takes only 35ms on average to elect a leader"
    let tally = curve(12.0, 24.0);
    println!("model mean, sd {:?} ms", mean_sd_ms(tally));
    check(
        "12-24 ms mean",
        35.0,
        mean_band(tally, PAPER_TRIALS, ROUNDING_MS),
    );
}

/// The thesis's WAN simulation with `down` of the five servers failed.
fn wan(down: u32) -> &'static Tally {
    static RUN: OnceLock<Vec<(Vec<f64>, Tally)>> = OnceLock::new();
    let (_, tally) = RUN
        .get_or_init(|| run("raft-thesis-wan.toml", &["down"]))
        .iter()
        .find(|(v, _)| v[0] == f64::from(down))
        .unwrap_or_else(|| panic!("no cell with down = {down}"));
    assert_eq!(
        tally.successes,
        tally.trials(),
        "a live majority always elects"
    );
    tally
}

#[test]
fn printed_steps() {
    assert_eq!(
        [475.0, 650.0, 1500.0, 3000.0, 35.0].map(half_step),
        [12.5, 25.0, 250.0, 500.0, 2.5]
    );
}

/// Checks the thesis's "about `mean`" and 99.9th percentile `p999` (ms) with `down` failed.
fn thesis_wan(down: u32, mean: f64, p999: f64) {
    let tally = wan(down);
    println!("model mean, sd {:?} ms", mean_sd_ms(tally));
    println!("model p999 {:.1} ms", quantile_ms(tally, 0.999));
    let n = THESIS_TRIALS;
    let what = format!("{down} failed");
    check(
        &format!("{what}, mean"),
        mean,
        mean_band(tally, n, half_step(mean)),
    );
    let band = quantile_band(tally, 0.999, n, half_step(p999));
    check(&format!("{what}, 99.9%"), p999, band);
}

#[test]
fn thesis_wan_one_failed() {
    // "When only one of the five servers has failed, the average election completes within
    // about 475 ms, and 99.9% of elections complete within 1.5 s." (Section 9.4)
    thesis_wan(1, 475.0, 1500.0);
}

#[test]
fn thesis_wan_two_failed() {
    // "Even when two of the five servers have failed, the average election takes about 650 ms
    // (about 20 times the one-way network latency), and 99.9% of elections complete in 3 s."
    thesis_wan(2, 650.0, 3000.0);
}
