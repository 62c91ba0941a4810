//! Published figures against the sweeps of sweeps/papers/ (see the README's "Validation").
//!
//! Each published value is a statistic of the paper's own trials, so it scatters around the
//! model's value: the tolerance is the spread of that statistic over the paper's trial count
//! under the model (5 standard deviations, or the matching probability band for a quantile
//! or a maximum), widened by the paper's precision (values given to the millisecond: +-0.5
//! ms) and by this run's own Monte Carlo error. Nothing here is tuned to the paper.

use std::sync::OnceLock;

use coordsim::engine::{RunOptions, run_all};
use coordsim::model::Value;
use coordsim::model::tally::Tally;
use coordsim::sweep::Sweep;

/// Trials per curve in the paper's Figure 16.
const PAPER_TRIALS: f64 = 1000.0;
/// Published values are whole milliseconds.
const ROUNDING_MS: f64 = 0.5;
/// P(|Z| > 5) for a standard normal, one side.
const FIVE_SIGMA_TAIL: f64 = 2.866_515_7e-7;

/// The Figure 16 sweep's tallies, as (T in ms, spread, tally).
fn figure16() -> &'static [(f64, f64, Tally)] {
    static RUN: OnceLock<Vec<(f64, f64, Tally)>> = OnceLock::new();
    RUN.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sweeps/papers/raft-figure16.toml"
        );
        let sweep = Sweep::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap();
        let runs = run_all(&sweep, &RunOptions::default()).unwrap();
        runs.into_iter()
            .map(|run| {
                let cell = &sweep.cells.get(run.cell_id as usize);
                let millis = |name| match cell.value(name) {
                    Some(Value::Millis(x) | Value::Positive(x)) => x,
                    v => panic!("{name}: {v:?}"),
                };
                (
                    millis("election_timeout_ms"),
                    millis("timeout_spread"),
                    std::sync::Arc::unwrap_or_clone(run.tally),
                )
            })
            .collect()
    })
}

/// The tally of timeouts [lo, hi] ms.
fn curve(lo: f64, hi: f64) -> &'static Tally {
    let (_, _, tally) = figure16()
        .iter()
        .find(|(t, spread, _)| *t == lo && (t * (1.0 + spread) - hi).abs() < 1e-6)
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

/// The band a median of the paper's 1000 trials falls in: the model's quantiles at
/// 1/2 -+ 5 sqrt(1/4 / 1000), widened by the rounding. Our quantiles come from 200,000
/// trials: their own error (~1/14 of the paper's) is inside the band's width.
fn median_band(tally: &Tally) -> (f64, f64) {
    let d = 5.0 * (0.25 / PAPER_TRIALS).sqrt();
    (
        quantile_ms(tally, 0.5 - d) - ROUNDING_MS,
        quantile_ms(tally, 0.5 + d) + ROUNDING_MS,
    )
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

/// The band a mean of the paper's 1000 trials falls in: the model's mean -+ 5 standard
/// errors of 1000 trials and 5 of this run's, widened by the rounding.
fn mean_band(tally: &Tally) -> (f64, f64) {
    let (mean, sd) = mean_sd_ms(tally);
    let width = 5.0 * sd * (1.0 / PAPER_TRIALS + 1.0 / tally.trials() as f64).sqrt();
    (mean - width - ROUNDING_MS, mean + width + ROUNDING_MS)
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
#[ignore = "outside its tolerance: the model's mean is 47.4 ms, split votes among 12 ms \
            timeouts with 7 ms writes (README, Validation)"]
fn figure16_mean_12_24() {
    // "With an election timeout of 12-24ms, it takes only 35ms on average to elect a leader"
    let tally = curve(12.0, 24.0);
    println!("model mean, sd {:?} ms", mean_sd_ms(tally));
    check("12-24 ms mean", 35.0, mean_band(tally));
}
