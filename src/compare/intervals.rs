//! The statistics of a comparison: intervals of the change of one metric between two runs,
//! p-values found by inverting them, and Holm's step-down adjustment.
//!
//! Every interval here is a family indexed by a normal quantile `z`: [`Change::at`] gives the
//! interval of `new - base` at `z`, [`Change::miss`] the probability that one side of it
//! misses the true change. Widening `z` widens the interval, so the p-value of "the change is
//! worse than a threshold" is read off the `z` at which the interval's bound meets the
//! threshold (bisection).

use statrs::distribution::{ContinuousCDF, Normal};

use crate::model::stats::{quantile_ranks, wilson};

/// `1 - Phi(z)`, the upper tail of the standard normal.
pub fn upper_tail(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// The `z` with `1 - Phi(z) = tail`.
pub fn z_for_tail(tail: f64) -> f64 {
    Normal::standard().inverse_cdf(1.0 - tail)
}

/// The largest `z` bisection looks at: `1 - Phi(38)` is below the smallest f64 (5e-316).
const Z_MAX: f64 = 38.0;

/// A histogram of one run's cell, one `(low, high, count)` per non-empty bucket, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(pub Vec<(f64, f64, u64)>);

impl Buckets {
    /// The values counted.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|b| b.2).sum()
    }

    /// The bucket of the `rank`-th smallest value (1-based), if `1 <= rank <= count`.
    fn at_rank(&self, rank: f64) -> Option<(f64, f64)> {
        if rank < 1.0 {
            return None;
        }
        let mut seen = 0u64;
        for &(low, high, count) in &self.0 {
            seen += count;
            if seen as f64 >= rank {
                return Some((low, high));
            }
        }
        None
    }

    /// A one-sided lower bound of the `q`-quantile that misses it with probability about `1 -
    /// Phi(z)`: the order statistic of rank `n q - z sqrt(n q (1 - q))` (rounded down), read as
    /// the lower edge of its bucket; 0 (latencies are not negative) when that rank is below 1.
    pub fn quantile_lower(&self, q: f64, z: f64) -> f64 {
        let (l, _) = quantile_ranks(self.count(), q, z);
        self.at_rank(l).map_or(0.0, |(low, _)| low)
    }

    /// A one-sided upper bound of the `q`-quantile, likewise: the order statistic of rank
    /// `n q + z sqrt(n q (1 - q))` (rounded up), read as the upper edge of its bucket;
    /// infinite when that rank is beyond the count.
    pub fn quantile_upper(&self, q: f64, z: f64) -> f64 {
        let (_, u) = quantile_ranks(self.count(), q, z);
        self.at_rank(u).map_or(f64::INFINITY, |(_, high)| high)
    }

    /// The mean and the sample variance of the values, each bucket counted at its midpoint
    /// (exact for the integer buckets below 2048 of a 3-digit histogram); `None` with fewer
    /// than 2 values.
    pub fn mean_variance(&self) -> Option<(f64, f64)> {
        let n = self.count();
        if n < 2 {
            return None;
        }
        let mid = |b: &(f64, f64, u64)| (b.0 + b.1) / 2.0;
        let mean = self.0.iter().map(|b| mid(b) * b.2 as f64).sum::<f64>() / n as f64;
        let squares: f64 = self
            .0
            .iter()
            .map(|b| (mid(b) - mean).powi(2) * b.2 as f64)
            .sum();
        Some((mean, squares / (n - 1) as f64))
    }
}

/// The change `new - base` of one metric, with a family of intervals.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A difference of two proportions, `successes / trials` of each run: Newcombe's hybrid
    /// score interval (Newcombe, R. G. (1998), "Interval estimation for the difference
    /// between independent proportions: comparison of eleven methods", Statistics in
    /// Medicine 17, 873-890; method 10), built from the two runs' Wilson score intervals at
    /// the same `z`: `d - sqrt((p_n - l_n)^2 + (u_b - p_b)^2)` to `d + sqrt((u_n - p_n)^2 +
    /// (p_b - l_b)^2)`, `d = p_n - p_b`.
    Proportions {
        /// Successes and trials of the base run.
        base: (u64, u64),
        /// Successes and trials of the new run.
        new: (u64, u64),
    },
    /// A difference of two `q`-quantiles, each bracketed by order statistics of its run's
    /// histogram ([`Buckets::quantile_lower`], [`Buckets::quantile_upper`]); the bounds of
    /// the change are `lower_n - upper_b` and `upper_n - lower_b`, and either side misses when
    /// one of the two runs' bounds does (Bonferroni: at most twice a run's miss).
    Quantiles {
        /// The quantile, in (0, 1).
        q: f64,
        /// The base run's histogram.
        base: Buckets,
        /// The new run's histogram.
        new: Buckets,
    },
    /// A difference of two means, `scale * mean` of each run with the variance of its values:
    /// the normal approximation `d -/+ z sqrt(scale_b^2 var_b / n_b + scale_n^2 var_n / n_n)`.
    Means {
        /// The base run's mean (scaled), variance of its values (unscaled), count and scale.
        base: Moments,
        /// The new run's, likewise.
        new: Moments,
    },
}

/// A mean and the variance it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// The mean of the metric (already multiplied by `scale`).
    pub mean: f64,
    /// The variance of one value, before scaling.
    pub variance: f64,
    /// How many values.
    pub count: u64,
    /// What one value is multiplied by (1 for a plain mean; dollars per message for a cost).
    pub scale: f64,
}

impl Moments {
    fn variance_of_mean(&self) -> f64 {
        self.scale * self.scale * self.variance / self.count as f64
    }
}

impl Change {
    /// The interval of `new - base` at the normal quantile `z` (`z = 0`: the estimate for
    /// proportions and means; for quantiles, the order statistics at rank `n q`).
    pub fn at(&self, z: f64) -> (f64, f64) {
        match self {
            Change::Proportions { base, new } => {
                let (pb, pn) = (rate(*base), rate(*new));
                let (lb, ub) = wilson(base.0, base.1, z);
                let (ln, un) = wilson(new.0, new.1, z);
                let d = pn - pb;
                (
                    d - ((pn - ln).powi(2) + (ub - pb).powi(2)).sqrt(),
                    d + ((un - pn).powi(2) + (pb - lb).powi(2)).sqrt(),
                )
            }
            Change::Quantiles { q, base, new } => (
                new.quantile_lower(*q, z) - base.quantile_upper(*q, z),
                new.quantile_upper(*q, z) - base.quantile_lower(*q, z),
            ),
            Change::Means { base, new } => {
                let d = new.mean - base.mean;
                let sd = (base.variance_of_mean() + new.variance_of_mean()).sqrt();
                (d - z * sd, d + z * sd)
            }
        }
    }

    /// The probability that one side of [`Change::at`]`(z)` misses the true change (at most).
    pub fn miss(&self, z: f64) -> f64 {
        match self {
            Change::Quantiles { .. } => (2.0 * upper_tail(z)).min(1.0),
            _ => upper_tail(z),
        }
    }

    /// The `z` whose one-sided miss is `tail`.
    pub fn z_for(&self, tail: f64) -> f64 {
        match self {
            Change::Quantiles { .. } => z_for_tail(tail / 2.0),
            _ => z_for_tail(tail),
        }
    }

    /// The two-sided interval of `new - base` at confidence `1 - alpha`.
    pub fn interval(&self, alpha: f64) -> (f64, f64) {
        self.at(self.z_for(alpha / 2.0))
    }

    /// The two-sided p-value of "the change is above `threshold`" against "it is at most
    /// `threshold`" (`rising`), or of "below `-threshold`" against "at least `-threshold`"
    /// (not `rising`): twice the one-sided miss at the widest `z` whose interval still
    /// excludes the threshold, so that `p <= alpha` exactly when [`Change::interval`]`(alpha)`
    /// lies beyond it. 1 when even `z = 0` does not.
    pub fn p_beyond(&self, threshold: f64, rising: bool) -> f64 {
        let beyond = |z: f64| {
            let (lo, hi) = self.at(z);
            if rising {
                lo > threshold
            } else {
                hi < -threshold
            }
        };
        if !beyond(0.0) {
            return 1.0;
        }
        if beyond(Z_MAX) {
            return 0.0;
        }
        let (mut inside, mut outside) = (0.0, Z_MAX);
        for _ in 0..100 {
            let mid = (inside + outside) / 2.0;
            if beyond(mid) {
                inside = mid;
            } else {
                outside = mid;
            }
        }
        (2.0 * self.miss(inside)).min(1.0)
    }
}

fn rate((successes, trials): (u64, u64)) -> f64 {
    if trials == 0 {
        0.0
    } else {
        successes as f64 / trials as f64
    }
}

/// Holm's step-down adjustment (Holm, S. (1979), "A simple sequentially rejective multiple
/// test procedure", Scandinavian Journal of Statistics 6, 65-70) of `p`: the adjusted
/// p-values `max over j <= i of min(1, (m - j) p_(j))`, in the order of `p`. Rejecting every
/// hypothesis whose adjusted p-value is at most `alpha` keeps the chance of any false
/// rejection at most `alpha`, whatever the dependence between the tests.
///
/// ```
/// use coordsim::compare::holm;
/// let adjusted = holm(&[0.01, 0.04, 0.03]);
/// for (a, b) in adjusted.iter().zip([0.03, 0.06, 0.06]) {
///     assert!((a - b).abs() < 1e-12);
/// }
/// ```
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stats::Z95;

    #[test]
    fn newcombe_matches_his_published_examples() {
        // Newcombe (1998), Table II, method 10: 56/70 - 48/80 -> (0.0524, 0.3339) and
        // 9/10 - 3/10 -> (0.1705, 0.8090). Change is new - base, so new is the first sample.
        // 6/7 - 2/7 worked by hand from its Wilson intervals (0.4867, 0.9743) and (0.0822,
        // 0.6411): 0.5714 - sqrt(0.3705^2 + 0.3554^2) and 0.5714 + sqrt(0.1172^2 + 0.2035^2),
        // good to the 5e-4 that rounding the intermediate values to 4 digits allows.
        for ((a, m), (b, n), (lo, hi), tolerance) in [
            ((56, 70), (48, 80), (0.0524, 0.3339), 5e-5),
            ((9, 10), (3, 10), (0.1705, 0.8090), 5e-5),
            ((6, 7), (2, 7), (0.0580, 0.8062), 5e-4),
        ] {
            let c = Change::Proportions {
                base: (b, n),
                new: (a, m),
            };
            let (l, h) = c.at(Z95);
            assert!(
                (l - lo).abs() < tolerance && (h - hi).abs() < tolerance,
                "{l} {h}"
            );
            assert!((c.z_for(0.025) - Z95).abs() < 1e-9);
        }
    }

    #[test]
    fn p_values_agree_with_the_interval_they_invert() {
        let c = Change::Proportions {
            base: (9_900, 10_000),
            new: (9_850, 10_000),
        };
        // Drop of 0.005: is it beyond 0.001?
        let p = c.p_beyond(0.001, false);
        let (_, hi) = c.interval(p);
        assert!((hi + 0.001).abs() < 1e-9, "{hi}");
        assert!(c.interval(p * 1.01).1 < -0.001);
        assert!(c.interval(p * 0.99).1 > -0.001);
        assert_eq!(c.p_beyond(0.01, false), 1.0);
        assert_eq!(c.p_beyond(0.0, true), 1.0);
        // A constant difference is certain.
        let m = |mean| Moments {
            mean,
            variance: 0.0,
            count: 100,
            scale: 1.0,
        };
        let d = Change::Means {
            base: m(4.0),
            new: m(5.0),
        };
        assert_eq!(d.p_beyond(0.5, true), 0.0);
        assert_eq!(d.p_beyond(1.0, true), 1.0);
    }

    #[test]
    fn quantile_bounds_read_order_statistics_from_buckets() {
        // 1000 values 1..=1000, one bucket each: the p50's ranks at z = 1.96 are 500 -/+
        // 1.96 sqrt(250) = 500 -/+ 30.99, rounded outwards: 469 and 531.
        let b = Buckets((1..=1000).map(|v| (v as f64, v as f64, 1)).collect());
        assert_eq!(b.quantile_lower(0.5, Z95), 469.0);
        assert_eq!(b.quantile_upper(0.5, Z95), 531.0);
        // Too few values for a p99 upper bound: infinite; lower bound below rank 1: 0.
        let few = Buckets(vec![(1.0, 1.0, 10)]);
        assert_eq!(few.quantile_upper(0.99, Z95), f64::INFINITY);
        assert_eq!(few.quantile_lower(0.01, Z95), 0.0);
        let (mean, var) = b.mean_variance().unwrap();
        assert!((mean - 500.5).abs() < 1e-9 && (var - 1000.0 * 1001.0 / 12.0).abs() < 1e-6);
    }

    #[test]
    fn holm_is_step_down_and_monotone() {
        assert_eq!(holm(&[]), Vec::<f64>::new());
        assert_eq!(holm(&[0.5]), vec![0.5]);
        let adjusted = holm(&[0.001, 0.2, 0.012, 0.04]);
        for (a, b) in adjusted.iter().zip([0.004, 0.2, 0.036, 0.08]) {
            assert!((a - b).abs() < 1e-12, "{adjusted:?}");
        }
    }
}
