//! Statistics of a cell: confidence intervals of its success rate and of its latency p99,
//! histogram percentiles, the summary row.

use hdrhistogram::Histogram;

use crate::model::tally::Tally;

/// The two-sided 95% normal quantile, `Phi^-1(0.975)`.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The 95% interval of a success rate: the Wilson score interval (Wilson, 1927), except
/// when no trial or every trial succeeded. There the interval is one-sided, and the exact one:
/// `[0, 1 - 0.05^(1/n)]` with no successes, `[0.05^(1/n), 1]` with n (Clopper and Pearson,
/// 1934; the "rule of three" bound, about 3/n, is its approximation).
///
/// ```
/// use coordsim::model::stats::interval95;
/// let (lo, hi) = interval95(50, 100);
/// assert!((lo - 0.4038).abs() < 1e-4 && (hi - 0.5962).abs() < 1e-4);
/// let (lo, hi) = interval95(0, 1000);
/// assert_eq!(lo, 0.0);
/// assert!((hi - 0.002991).abs() < 1e-6);
/// ```
pub fn interval95(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let bound = 0.05f64.powf(1.0 / trials as f64);
    match successes {
        0 => (0.0, 1.0 - bound),
        s if s == trials => (bound, 1.0),
        _ => wilson(successes, trials, Z95),
    }
}

/// The Wilson score interval for a binomial proportion (Wilson, 1927).
///
/// ```
/// use coordsim::model::stats::{wilson, Z95};
/// let (lo, hi) = wilson(50, 100, Z95);
/// assert!((lo - 0.4038).abs() < 1e-4 && (hi - 0.5962).abs() < 1e-4);
/// assert_eq!(wilson(0, 10, Z95).0, 0.0);
/// ```
pub fn wilson(successes: u64, trials: u64, z: f64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let center = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let lo = if successes == 0 {
        0.0
    } else {
        (center - half).max(0.0)
    };
    let hi = if successes == trials {
        1.0
    } else {
        (center + half).min(1.0)
    };
    (lo, hi)
}

/// Half the width of the 95% interval of a success rate: `(high - low) / 2` of
/// [`interval95`], the interval the summary reports.
///
/// ```
/// use coordsim::model::stats::success_halfwidth;
/// assert!((success_halfwidth(50, 100) - 0.0962).abs() < 1e-4);
/// // No successes in 1000 trials: the exact one-sided interval [0, 0.002991].
/// assert!((success_halfwidth(0, 1000) - 0.0014955).abs() < 1e-6);
/// ```
pub fn success_halfwidth(successes: u64, trials: u64) -> f64 {
    let (lo, hi) = interval95(successes, trials);
    (hi - lo) / 2.0
}

/// The 1-based ranks `(l, u)` of the order statistics `X(l) <= X(u)` of `n` draws that
/// bracket the `q`-quantile with about 95% confidence, whatever the distribution: the number
/// of draws below the quantile is Binomial(n, q), so `l` and `u` are `n q -/+ z sqrt(n q (1 -
/// q))`, rounded outwards. `None` when `l < 1` or `u > n`: too few draws to bracket the
/// quantile (for the p99, fewer than 381).
///
/// ```
/// use coordsim::model::stats::quantile_ranks95;
/// assert_eq!(quantile_ranks95(1000, 0.99), Some((983, 997)));
/// assert_eq!(quantile_ranks95(380, 0.99), None);
/// assert!(quantile_ranks95(381, 0.99).is_some());
/// ```
pub fn quantile_ranks95(n: u64, q: f64) -> Option<(u64, u64)> {
    let (l, u) = quantile_ranks(n, q, Z95);
    (l >= 1.0 && u <= n as f64).then_some((l as u64, u as u64))
}

/// The 1-based ranks `(l, u)` of [`quantile_ranks95`] for any normal quantile `z`: `n q -/+
/// z sqrt(n q (1 - q))`, rounded outwards, as floats and unclamped (`l < 1` means no lower
/// order statistic is far enough below the quantile, `u > n` no upper one above it). Each
/// side misses the `q`-quantile with probability about `1 - Phi(z)`.
///
/// ```
/// use coordsim::model::stats::{quantile_ranks, Z95};
/// assert_eq!(quantile_ranks(1000, 0.99, Z95), (983.0, 997.0));
/// assert_eq!(quantile_ranks(1000, 0.5, 0.0), (500.0, 500.0));
/// ```
pub fn quantile_ranks(n: u64, q: f64, z: f64) -> (f64, f64) {
    let nf = n as f64;
    let center = nf * q;
    let spread = z * (nf * q * (1.0 - q)).sqrt();
    ((center - spread).floor(), (center + spread).ceil())
}

/// The value of the `rank`-th smallest recorded value (1-based), as the upper edge of its
/// bucket, like [`Histogram::value_at_quantile`] reports percentiles.
fn value_at_rank(histogram: &Histogram<u64>, rank: u64) -> u64 {
    // value_at_quantile reads the ceil(q n)-th value: half a rank below keeps rounding off it.
    histogram.value_at_quantile((rank as f64 - 0.5) / histogram.len() as f64)
}

/// A distribution-free 95% interval of the 99th percentile of the values in `histogram`:
/// the order statistics of [`quantile_ranks95`], each read as the upper edge of its bucket.
/// `None` with fewer than 381 values.
pub fn p99_interval95(histogram: &Histogram<u64>) -> Option<(u64, u64)> {
    let (l, u) = quantile_ranks95(histogram.len(), 0.99)?;
    Some((value_at_rank(histogram, l), value_at_rank(histogram, u)))
}

/// The relative half-width of [`p99_interval95`]: `(high - low) / 2 / p99`, with the p99 as
/// the summary reports it. `None` when there is no interval (fewer than 381 values).
///
/// ```
/// use coordsim::model::stats::p99_relative_halfwidth;
/// use hdrhistogram::Histogram;
/// let mut h = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
/// for v in 1..=100_000u64 {
///     h.record(v).unwrap();
/// }
/// // Ranks 98_938 and 99_062 of a uniform sample: a half-width of 0.06%.
/// let r = p99_relative_halfwidth(&h).unwrap();
/// assert!((r - 0.000_63).abs() < 0.000_1, "{r}");
/// ```
pub fn p99_relative_halfwidth(histogram: &Histogram<u64>) -> Option<f64> {
    let (lo, hi) = p99_interval95(histogram)?;
    let p99 = histogram.value_at_quantile(0.99) as f64;
    let width = (hi - lo) as f64;
    Some(if width == 0.0 { 0.0 } else { width / 2.0 / p99 })
}

/// How many standard errors `successes / trials` lies from `p`; infinite if `p` is 0 or 1 and
/// the count disagrees.
pub fn z_score(successes: u64, trials: u64, p: f64) -> f64 {
    let n = trials as f64;
    let expected = n * p;
    let sd = (n * p * (1.0 - p)).sqrt();
    let diff = successes as f64 - expected;
    if sd == 0.0 {
        return if diff.abs() < 0.5 { 0.0 } else { f64::INFINITY };
    }
    diff / sd
}

/// Panics unless `successes / trials` is within 5 standard errors of `p`.
pub fn assert_rate(successes: u64, trials: u64, p: f64) {
    let z = z_score(successes, trials, p);
    assert!(
        z.abs() <= 5.0,
        "{successes}/{trials} = {} is {z:.2} standard errors from {p}",
        successes as f64 / trials as f64
    );
}

/// How far a histogram's median of `trials` draws may lie from the true `median` at 5 sigma:
/// the sample median's standard deviation `sqrt(1 / 4n) / f(median)` (`f` the density) plus
/// the histogram's resolution (3 significant digits: the reported value is at most 1/1000
/// above).
pub fn median_tolerance(trials: u64, density: f64, median: f64) -> f64 {
    5.0 * (0.25 / trials as f64).sqrt() / density + 1e-3 * median
}

/// The two-sample Kolmogorov-Smirnov statistic of `a` and `b` (sorted in place): the largest
/// distance between their empirical CDFs.
pub fn ks_statistic(a: &mut [f64], b: &mut [f64]) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// The critical value of the two-sample Kolmogorov-Smirnov statistic for samples of `n` and
/// `m` at significance `alpha` (the asymptotic distribution; conservative when values tie):
/// `sqrt(-ln(alpha / 2) / 2) sqrt((n + m) / (n m))`.
pub fn ks_critical(n: usize, m: usize, alpha: f64) -> f64 {
    let (n, m) = (n as f64, m as f64);
    (-(alpha / 2.0).ln() / 2.0).sqrt() * ((n + m) / (n * m)).sqrt()
}

/// One cell's results in the units of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Trials run.
    pub trials: u64,
    /// Successful trials.
    pub successes: u64,
    /// Failed trials.
    pub failures: u64,
    /// Blocked trials.
    pub blocked: u64,
    /// `successes / trials`.
    pub success_rate: f64,
    /// 95% interval ([`interval95`]), lower end.
    pub success_ci95_low: f64,
    /// 95% interval ([`interval95`]), upper end.
    pub success_ci95_high: f64,
    /// Latency of successful trials, in ms: mean, p50, p90, p99, p99.9, max (None without any).
    pub latency_ms: Option<LatencyMs>,
    /// Mean messages per trial.
    pub messages_mean: f64,
    /// 99th percentile of messages per trial.
    pub messages_p99: u64,
    /// Most messages in one trial.
    pub messages_max: u64,
    /// Messages per successful trial (None without any).
    pub messages_per_success: Option<f64>,
    /// Mean rounds per trial.
    pub rounds_mean: f64,
    /// Means per trial of the protocol's own counts.
    pub extras_mean: [f64; crate::model::MAX_EXTRAS],
    /// Thread time spent, in seconds.
    pub elapsed_s: f64,
    /// Trials per second of thread time.
    pub trials_per_s: f64,
}

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyMs {
    /// Exact mean.
    pub mean: f64,
    /// Median, as the histogram's bucket upper edge (3 significant digits).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Exact maximum.
    pub max: f64,
}

const NS_PER_MS: f64 = 1e6;

/// The latency quantiles of a [`Summary`]: its `p50`, `p90`, `p99` and `p999`.
pub const LATENCY_QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// The values at `quantiles` (ascending, each in (0, 1]) of a histogram of `total` values
/// whose non-empty buckets, in ascending order, have the largest values and counts
/// `buckets`: as `Histogram::value_at_quantile` reads them, the largest value of the first
/// bucket where the running count reaches `ceil(q total)` (at least 1), in one pass.
///
/// ```
/// use coordsim::model::stats::quantiles_of_buckets;
/// // Values 10 (3 times) and 20 (once): the median is 10, the 90th percentile 20.
/// assert_eq!(quantiles_of_buckets([(10, 3), (20, 1)], 4, [0.5, 0.9]), [10, 20]);
/// ```
pub fn quantiles_of_buckets<T: Copy + Default, const N: usize>(
    buckets: impl IntoIterator<Item = (T, u64)>,
    total: u64,
    quantiles: [f64; N],
) -> [T; N] {
    let mut out = [T::default(); N];
    let mut buckets = buckets.into_iter();
    let (mut running, mut at) = (0u64, T::default());
    for (slot, q) in out.iter_mut().zip(quantiles) {
        debug_assert!(q > 0.0 && q <= 1.0);
        let target = ((q * total as f64).ceil() as u64).max(1);
        while running < target {
            let Some((high, count)) = buckets.next() else {
                break;
            };
            (running, at) = (running + count, high);
        }
        *slot = at;
    }
    out
}

impl Summary {
    /// Summarizes a cell's tally.
    pub fn of(tally: &Tally) -> Self {
        let h = tally.latency_ns();
        let quantiles_ms = LATENCY_QUANTILES.map(|q| h.value_at_quantile(q) as f64 / NS_PER_MS);
        Self::with_latency_quantiles(tally, quantiles_ms)
    }

    /// [`Summary::of`], given the latency quantiles [`LATENCY_QUANTILES`] in milliseconds
    /// (each `value_at_quantile` of the latency histogram divided by 10^6; unused without
    /// successes): for a caller that has walked the histogram's buckets already
    /// ([`quantiles_of_buckets`]).
    pub fn with_latency_quantiles(
        tally: &Tally,
        quantiles_ms: [f64; LATENCY_QUANTILES.len()],
    ) -> Self {
        let trials = tally.trials();
        let (lo, hi) = interval95(tally.successes, trials);
        let per_trial = |sum: u128| {
            if trials == 0 {
                0.0
            } else {
                sum as f64 / trials as f64
            }
        };
        let [p50, p90, p99, p999] = quantiles_ms;
        let latency_ms = (tally.successes > 0).then(|| LatencyMs {
            mean: tally.latency_sum_ns as f64 / tally.successes as f64 / NS_PER_MS,
            p50,
            p90,
            p99,
            p999,
            max: tally.latency_max_ns as f64 / NS_PER_MS,
        });
        let elapsed_s = tally.busy_ns as f64 / 1e9;
        Self {
            trials,
            successes: tally.successes,
            failures: tally.failures,
            blocked: tally.blocked,
            success_rate: if trials == 0 {
                0.0
            } else {
                tally.successes as f64 / trials as f64
            },
            success_ci95_low: lo,
            success_ci95_high: hi,
            latency_ms,
            messages_mean: per_trial(tally.messages_sum),
            messages_p99: tally.messages().value_at_quantile(0.99),
            messages_max: tally.messages_max,
            messages_per_success: (tally.successes > 0)
                .then(|| tally.messages_sum as f64 / tally.successes as f64),
            rounds_mean: per_trial(tally.rounds_sum),
            extras_mean: tally.extras_sum.map(per_trial),
            elapsed_s,
            trials_per_s: if elapsed_s > 0.0 {
                trials as f64 / elapsed_s
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_buckets_are_value_at_quantile() {
        use crate::model::tally::{recorded, tally_of};
        let quantiles = [1e-9, 0.001, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];
        let tallies = [
            tally_of(1, 0, |_| 7),
            tally_of(1000, 5, |_| 1_234_567),
            tally_of(4, 0, |i| if i < 3 { 10 } else { 20 }),
            tally_of(10_000, 0, |i| 1000 + 37 * i),
            tally_of(20_000, 100, |i| (i % 977).pow(3) + 1),
            tally_of(999, 0, |i| 1 << (i % 60)),
        ];
        for tally in &tallies {
            let h = tally.latency_ns();
            let buckets = recorded(h).map(|(_, high, count)| (high, count));
            assert_eq!(
                quantiles_of_buckets(buckets, h.len(), quantiles),
                quantiles.map(|q| h.value_at_quantile(q)),
                "{} values",
                h.len()
            );
        }
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Table I: 81/263 -> (0.2553, 0.3662).
        let (lo, hi) = wilson(81, 263, Z95);
        assert!((lo - 0.2553).abs() < 5e-5, "{lo}");
        assert!((hi - 0.3662).abs() < 5e-5, "{hi}");
        let (lo, hi) = wilson(10, 10, Z95);
        assert_eq!(hi, 1.0);
        assert!((lo - 0.7225).abs() < 5e-5, "{lo}");
    }

    /// Whether the reported 95% interval of `x` successes in `n` trials covers `p`, worked
    /// out without [`interval95`]: Wilson's interval is the set of rates whose score
    /// statistic |x - n p| / sqrt(n p (1 - p)) is at most z (Wilson, 1927); at x = 0 and
    /// x = n the reported interval is the exact one-sided one, which holds the rates under
    /// which x is at least 5% likely.
    fn covers(x: u64, n: u64, p: f64) -> bool {
        let nf = n as f64;
        match x {
            0 => (1.0 - p).powf(nf) >= 0.05,
            x if x == n => p.powf(nf) >= 0.05,
            _ => {
                let d = x as f64 - nf * p;
                d * d <= Z95 * Z95 * nf * p * (1.0 - p)
            }
        }
    }

    /// The exact probability that the interval of Binomial(n, p) successes covers p, by
    /// [`covers`].
    fn exact_coverage(n: u64, p: f64) -> f64 {
        use statrs::distribution::{Binomial, Discrete};
        let b = Binomial::new(p, n).unwrap();
        (0..=n).filter(|&x| covers(x, n, p)).map(|x| b.pmf(x)).sum()
    }

    #[test]
    fn intervals_cover_the_true_rate_as_often_as_their_exact_coverage_says() {
        // Many independent small replications of one cell (fire-and-forget, success
        // probability 1 - crash), each with its own seed. The reported interval must be the
        // one worked out independently at every possible count, and the share of
        // replications whose interval covers the true rate is Binomial(R, c), c the exact
        // coverage: within 5 standard deviations of R c, sqrt(R c (1 - c)). Wilson's coverage
        // oscillates around 95% at small n (Brown, Cai and DasGupta, 2001); at n = 100 and
        // p = 0.999 it is P(all 100 succeed) = 0.905, the one-sided interval at x = n
        // covering p and every other count's interval missing it.
        use crate::engine::simulate;
        use crate::latency::Constant;
        use crate::model::Env;
        use crate::protocols::FireAndForget;
        let replications = 4_000u64;
        // Just inside the one-sided intervals' reach: 100 successes in 100 trials rule out
        // p = 0.967 (0.967^100 = 0.035 < 0.05), no successes p = 0.033.
        for p in [0.967, 0.033] {
            for x in 0..=100 {
                let (lo, hi) = interval95(x, 100);
                assert_eq!(lo <= p && p <= hi, covers(x, 100, p), "x = {x}, p = {p}");
            }
        }
        for (n, p) in [(50u64, 0.9), (200, 0.7), (1_000, 0.995), (100, 0.999)] {
            for x in 0..=n {
                let (lo, hi) = interval95(x, n);
                assert_eq!(
                    lo <= p && p <= hi,
                    covers(x, n, p),
                    "x = {x}, n = {n}, p = {p}"
                );
            }
            let env = Env::new(1.0 - p, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
            let model = FireAndForget::new(env);
            let (mut covered, mut all) = (0u64, 0u64);
            for seed in 0..replications {
                let t = simulate(&model, n, seed);
                let (lo, hi) = interval95(t.successes, n);
                covered += u64::from(lo <= p && p <= hi);
                all += u64::from(t.successes == n);
            }
            let c = exact_coverage(n, p);
            let z = z_score(covered, replications, c);
            assert!(
                z.abs() <= 5.0,
                "n = {n}, p = {p}: covered {covered}/{replications}, exact {c} (z = {z})"
            );
            if p == 0.999 {
                assert!((c - 0.999f64.powi(100)).abs() < 1e-12, "{c}");
                assert!(all > replications / 2, "the one-sided branch: {all}");
            }
        }
    }

    #[test]
    fn all_or_nothing_rates_get_exact_one_sided_intervals() {
        // At p = 1 - 0.05^(1/n), zero successes happen with probability exactly 0.05: the
        // bound is the smallest p that zero successes rule out at 95%.
        for n in [1u64, 10, 1_000, 1_000_000] {
            let (lo, hi) = interval95(0, n);
            assert_eq!(lo, 0.0);
            assert!(((1.0 - hi).powf(n as f64) - 0.05).abs() < 1e-9, "n = {n}");
            let (lo, hi) = interval95(n, n);
            assert_eq!(hi, 1.0);
            assert!((lo.powf(n as f64) - 0.05).abs() < 1e-9, "n = {n}");
        }
        // And the rule of three: about 3/n.
        assert!((interval95(0, 1_000_000).1 * 1e6 - 2.9957).abs() < 1e-3);
    }

    /// The exact probability that the order statistics of [`quantile_ranks95`] bracket the
    /// `q`-quantile of a continuous distribution: the count of draws below it is
    /// Binomial(n, q), and `X(l) <= x_q < X(u)` exactly when that count is in `[l, u)`.
    fn exact_rank_coverage(n: u64, q: f64) -> f64 {
        use statrs::distribution::{Binomial, DiscreteCDF};
        let (l, u) = quantile_ranks95(n, q).unwrap();
        let b = Binomial::new(q, n).unwrap();
        b.cdf(u - 1) - b.cdf(l - 1)
    }

    #[test]
    fn p99_ranks_cover_the_p99_about_95_percent_of_the_time() {
        // Rounding the ranks outwards keeps the normal approximation's coverage at 95% or a
        // little above; the binomial's skew at q = 0.99 costs at most a few tenths of a
        // percent at large n (its coverage tends to 0.95 from either side).
        for n in [381u64, 500, 1_000, 2_000, 10_000, 100_000, 1_000_000] {
            let c = exact_rank_coverage(n, 0.99);
            assert!((0.945..=0.99).contains(&c), "n = {n}: coverage {c}");
        }
        assert_eq!(quantile_ranks95(0, 0.99), None);
        assert_eq!(quantile_ranks95(100, 0.99), None);
    }

    #[test]
    fn p99_intervals_from_histograms_cover_the_true_p99() {
        // Replications of n exponential draws (mean 1 ms) recorded in a latency histogram:
        // the interval, read from bucket upper edges, covers the upper edge of the bucket of
        // the true p99 (ln 100 ms) at least as often as the ranks bracket it, so the share of
        // covering replications is at least Binomial(R, c) with c the exact coverage.
        use crate::latency::{Delay, Exponential};
        let model = Exponential::new(1.0).unwrap();
        let true_p99_ns = (100f64.ln() * 1e6) as u64;
        let (replications, n) = (2_000u64, 2_000u64);
        let mut covered = 0;
        let mut widths = 0.0;
        for seed in 0..replications {
            let mut h =
                Histogram::<u64>::new_with_bounds(1, crate::model::tally::LATENCY_MAX_NS, 3)
                    .unwrap();
            let mut rng = crate::rng::stream(seed, 0, 0);
            for _ in 0..n {
                h.saturating_record(model.sample_ns(&mut rng));
            }
            let truth = h.highest_equivalent(true_p99_ns);
            let (lo, hi) = p99_interval95(&h).unwrap();
            covered += u64::from(lo <= truth && truth <= hi);
            widths += p99_relative_halfwidth(&h).unwrap();
        }
        let c = exact_rank_coverage(n, 0.99);
        let z = z_score(covered, replications, c);
        assert!(z >= -5.0, "covered {covered}/{replications}, exact {c}");
        // The relative half-width is about z sqrt(q (1 - q) / n) / f(x_q) / x_q = 0.095 (f
        // the density, 0.01 per ms at x_q = 4.6 ms), widened by rounding the ranks outwards
        // (about half a rank of the 8.7 either side: 6%); the average of 2000 replications
        // varies by far less than the 20% allowed.
        let mean = widths / replications as f64;
        let asymptotic = Z95 * (0.99f64 * 0.01 / n as f64).sqrt() / 0.01 / 100f64.ln();
        assert!(
            (mean / asymptotic - 1.0).abs() < 0.2,
            "{mean} vs {asymptotic}"
        );
    }

    #[test]
    fn success_halfwidths_are_those_of_the_reported_interval() {
        for (s, n) in [(0u64, 1_000u64), (1, 1_000), (500, 1_000), (1_000, 1_000)] {
            let (lo, hi) = interval95(s, n);
            assert_eq!(success_halfwidth(s, n), (hi - lo) / 2.0);
        }
        // p(1 - p) z^2 / h^2 trials give a half-width of h: 0.001 at p = 0.5 needs 960_365.
        let h = success_halfwidth(480_183, 960_365);
        assert!((h - 0.001).abs() < 1e-6, "{h}");
    }

    #[test]
    fn z_scores() {
        assert_eq!(z_score(50, 100, 0.5), 0.0);
        assert!((z_score(60, 100, 0.5) - 2.0).abs() < 1e-12);
        assert_eq!(z_score(0, 100, 0.0), 0.0);
        assert!(z_score(1, 100, 0.0).is_infinite());
    }
}
