//! Objectives: bounds a cell's results must keep, such as `success_rate >= 0.999` or
//! `latency_ms_p99 <= 20`, and their verdicts from a cell's tally.
//!
//! A verdict comes from an interval that covers the metric's true value with probability at
//! least `1 - alpha`:
//!
//! - **met** when the whole interval lies on the objective's side of its bound;
//! - **missed** when the whole interval lies on the other side;
//! - **undecided** when the interval holds the bound.
//!
//! Whenever the interval covers the true value, the verdict is right or undecided, so a
//! verdict is wrong with probability at most `alpha`. The intervals are exact, not
//! approximations:
//!
//! - **success rate** (`success_rate`): the Clopper-Pearson interval (1934), whose coverage is
//!   at least `1 - alpha` at every rate;
//! - **latency percentiles** of successful trials (`latency_ms_p50`, `_p90`, `_p99`,
//!   `_p999`): the order statistics `X(l) <= X(u)` whose ranks leave `alpha / 2` on each side
//!   of the Binomial(n, q) law of the number of latencies below the q-quantile, which holds for
//!   any distribution, atoms included. Each is read at the outer edge of its histogram bucket
//!   (3 significant digits), which only widens the interval.
//!
//! How `alpha` is shared among many objectives, cells and looks is
//! [`crate::model::precision`]'s business.

use std::collections::BTreeMap;
use std::fmt;

use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::beta::beta_reg;

use crate::model::tally::Tally;

/// What an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// The fraction of trials that succeeded.
    SuccessRate,
    /// A percentile of the latency of successful trials, in milliseconds; the quantile in
    /// (0, 1).
    LatencyMs(f64),
}

/// The metrics an objective may name, as the summary's columns name them.
pub const METRICS: &[(&str, Metric)] = &[
    ("success_rate", Metric::SuccessRate),
    ("latency_ms_p50", Metric::LatencyMs(0.5)),
    ("latency_ms_p90", Metric::LatencyMs(0.9)),
    ("latency_ms_p99", Metric::LatencyMs(0.99)),
    ("latency_ms_p999", Metric::LatencyMs(0.999)),
];

impl Metric {
    /// The metric the summary column `name` holds, if an objective may bound it.
    pub fn named(name: &str) -> Option<Metric> {
        METRICS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The summary column that holds it.
    pub fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .expect("every metric is listed")
    }
}

/// Which side of its bound an objective wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `>=`: at least the bound.
    AtLeast,
    /// `<=`: at most the bound.
    AtMost,
}

/// A bound on one metric of a cell.
///
/// ```
/// use coordsim::model::objective::{Objective, Verdict};
/// use coordsim::model::{Outcome, tally::Tally};
/// let objective = Objective::parse("success_rate", ">= 0.9").unwrap();
/// let mut tally = Tally::empty();
/// for i in 0..1000 {
///     let outcome = if i % 100 == 0 { Outcome::failure(1, 1) } else { Outcome::success(1_000, 1, 1) };
///     tally.record(&outcome, 0);
/// }
/// // 990 of 1000: the 95% interval is [0.9817, 0.9952].
/// assert_eq!(objective.judge(&tally, 0.05).verdict, Verdict::Met);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// What is bounded.
    pub metric: Metric,
    /// Which side of the bound is wanted.
    pub side: Side,
    /// The bound, in the metric's unit (a fraction, or milliseconds).
    pub bound: f64,
}

/// Whether a cell keeps an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The interval lies on the objective's side of the bound.
    Met,
    /// The interval holds the bound: more trials would tell.
    Undecided,
    /// The interval lies on the other side.
    Missed,
}

impl Verdict {
    /// `met`, `undecided` or `missed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Undecided => "undecided",
            Verdict::Missed => "missed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An objective's verdict on one cell, with the interval it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The point estimate (NaN for a latency with no successful trial).
    pub estimate: f64,
    /// The interval's ends; infinite where the trials cannot bound the metric on that side.
    pub low: f64,
    /// See `low`.
    pub high: f64,
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.side {
            Side::AtLeast => ">=",
            Side::AtMost => "<=",
        };
        write!(f, "{} {op} {}", self.metric.name(), self.bound)
    }
}

impl Objective {
    /// Reads an objective on the column `metric` from `text`, an operator and a number such
    /// as `">= 0.999"` or `"<= 20"`.
    pub fn parse(metric: &str, text: &str) -> Result<Objective, String> {
        let Some(m) = Metric::named(metric) else {
            let names: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "`{metric}` is not a metric an objective can bound ({})",
                names.join(", ")
            ));
        };
        let text = text.trim();
        let (side, rest) = if let Some(rest) = text.strip_prefix(">=") {
            (Side::AtLeast, rest)
        } else if let Some(rest) = text.strip_prefix("<=") {
            (Side::AtMost, rest)
        } else {
            return Err(format!(
                "`{text}` is not a bound: write \">= VALUE\" or \"<= VALUE\""
            ));
        };
        let bound: f64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not a number", rest.trim()))?;
        match m {
            Metric::SuccessRate if !(0.0..=1.0).contains(&bound) => {
                return Err(format!("{bound} is not a rate in [0, 1]"));
            }
            Metric::LatencyMs(_) if !(bound.is_finite() && bound >= 0.0) => {
                return Err(format!("{bound} is not a latency in milliseconds (>= 0)"));
            }
            _ => {}
        }
        Ok(Objective {
            metric: m,
            side,
            bound,
        })
    }

    /// The verdict on `tally` from an interval of level `1 - alpha`.
    pub fn judge(&self, tally: &Tally, alpha: f64) -> Judgement {
        let (estimate, low, high) = match self.metric {
            Metric::SuccessRate => {
                let n = tally.trials();
                let estimate = if n == 0 {
                    f64::NAN
                } else {
                    tally.successes as f64 / n as f64
                };
                let (low, high) = clopper_pearson(tally.successes, n, alpha);
                (estimate, low, high)
            }
            Metric::LatencyMs(q) => {
                let h = tally.latency_ns();
                let n = h.len();
                if n == 0 {
                    (f64::NAN, 0.0, f64::INFINITY)
                } else {
                    let (l, u) = quantile_ranks_exact(n, q, alpha);
                    let ms = |ns: u64| ns as f64 / 1e6;
                    let low = if l == 0 {
                        0.0
                    } else {
                        ms(h.lowest_equivalent(value_at_rank(h, l)))
                    };
                    let high = if u > n {
                        f64::INFINITY
                    } else {
                        ms(h.highest_equivalent(value_at_rank(h, u)))
                    };
                    (ms(h.value_at_quantile(q)), low, high)
                }
            }
        };
        let (inside, outside) = match self.side {
            Side::AtLeast => (low >= self.bound, high < self.bound),
            Side::AtMost => (high <= self.bound, low > self.bound),
        };
        let verdict = if inside {
            Verdict::Met
        } else if outside {
            Verdict::Missed
        } else {
            Verdict::Undecided
        };
        Judgement {
            verdict,
            estimate,
            low,
            high,
        }
    }
}

impl Judgement {
    /// By what factor the trials should grow for an undecided verdict to be decided: the
    /// interval's half-width shrinks like `1 / sqrt(trials)`, so `(half-width / distance)^2`,
    /// where the distance is from the estimate to the bound. Infinite when the estimate is
    /// on the bound or unknown.
    pub fn trials_factor(&self, bound: f64) -> f64 {
        let half = (self.high - self.low) / 2.0;
        let distance = (self.estimate - bound).abs();
        let ratio = half / distance;
        if ratio.is_finite() {
            ratio * ratio
        } else {
            f64::INFINITY
        }
    }
}

/// The objectives of every cell of a run, and the error level each check gets: the run's
/// level divided by the number of checks (Bonferroni), so that every verdict of the run is
/// right, or undecided, with probability at least `1 - level`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Objectives {
    cells: BTreeMap<u32, Vec<Objective>>,
    checks: u64,
    alpha: f64,
}

impl Objectives {
    /// The objectives of each cell, sharing `level`.
    pub fn new(level: f64, cells: BTreeMap<u32, Vec<Objective>>) -> Self {
        let checks = cells.values().map(|o| o.len() as u64).sum();
        let alpha = if checks == 0 {
            0.0
        } else {
            level / checks as f64
        };
        Self {
            cells,
            checks,
            alpha,
        }
    }

    /// The objectives of `cell`, in the order of the sweep's expectations.
    pub fn of(&self, cell: u32) -> &[Objective] {
        self.cells.get(&cell).map_or(&[], Vec::as_slice)
    }

    /// Objectives times the cells each applies to.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// The error level of each check.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Whether there is any objective.
    pub fn is_empty(&self) -> bool {
        self.checks == 0
    }
}

/// The Clopper-Pearson interval of a binomial proportion at level `1 - alpha`: the rates
/// at which `successes` of `trials` is in the `alpha / 2` tail on either side.
///
/// ```
/// use coordsim::model::objective::clopper_pearson;
/// // No success in 1000 trials: the upper end is 1 - (alpha/2)^(1/n).
/// let (lo, hi) = clopper_pearson(0, 1000, 0.05);
/// assert_eq!(lo, 0.0);
/// assert!((hi - (1.0 - 0.025f64.powf(1.0 / 1000.0))).abs() < 1e-12);
/// ```
pub fn clopper_pearson(successes: u64, trials: u64, alpha: f64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let (s, n) = (successes as f64, trials as f64);
    let low = if successes == 0 {
        0.0
    } else {
        Beta::new(s, n - s + 1.0)
            .expect("positive shapes")
            .inverse_cdf(alpha / 2.0)
    };
    let high = if successes == trials {
        1.0
    } else {
        Beta::new(s + 1.0, n - s)
            .expect("positive shapes")
            .inverse_cdf(1.0 - alpha / 2.0)
    };
    (low, high)
}

/// `P(Binomial(n, q) <= k)`, through the regularized incomplete beta function.
fn binomial_cdf(n: u64, q: f64, k: u64) -> f64 {
    if k >= n {
        return 1.0;
    }
    beta_reg((n - k) as f64, k as f64 + 1.0, 1.0 - q)
}

/// The 1-based ranks `(l, u)` of the order statistics of `n` draws that bracket the
/// `q`-quantile with probability at least `1 - alpha`, exactly: `l` is the largest rank with
/// `P(B <= l - 1) <= alpha / 2` and `u` the smallest with `P(B >= u) <= alpha / 2`, where `B`
/// is Binomial(n, q), the number of draws below the quantile. `l = 0` and `u = n + 1` mean
/// that no order statistic bounds the quantile on that side.
///
/// ```
/// use coordsim::model::objective::quantile_ranks_exact;
/// // 1000 draws, the median at 95%: the classical ranks 469 and 532.
/// assert_eq!(quantile_ranks_exact(1000, 0.5, 0.05), (469, 532));
/// // Too few draws to bound a p99 from above.
/// assert_eq!(quantile_ranks_exact(100, 0.99, 0.05).1, 101);
/// ```
pub fn quantile_ranks_exact(n: u64, q: f64, alpha: f64) -> (u64, u64) {
    let tail = alpha / 2.0;
    // The smallest k in [0, n] with cdf(k) > tail (cdf(n) = 1 > tail).
    let first_above = |limit: f64| {
        let (mut lo, mut hi) = (0u64, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if binomial_cdf(n, q, mid) > limit {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    // P(B <= l - 1) <= tail for l - 1 < first_above(tail): l = first_above(tail).
    let l = first_above(tail);
    // P(B >= u) = 1 - cdf(u - 1) <= tail: u - 1 is the smallest k with cdf(k) >= 1 - tail.
    let limit = 1.0 - tail;
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if binomial_cdf(n, q, mid) >= limit {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let u = if binomial_cdf(n, q, lo) >= limit {
        lo + 1
    } else {
        n + 1
    };
    (l, u)
}

/// The value of the `rank`-th smallest recorded value (1-based), as HdrHistogram reports it
/// (the highest value of its bucket).
fn value_at_rank(histogram: &hdrhistogram::Histogram<u64>, rank: u64) -> u64 {
    // value_at_quantile reads the ceil(q n)-th value: half a rank below keeps rounding off it.
    histogram.value_at_quantile((rank as f64 - 0.5) / histogram.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::tally::tally_of as tally;

    #[test]
    fn objectives_are_read_with_their_errors() {
        let o = Objective::parse("latency_ms_p99", " <= 20 ").unwrap();
        assert_eq!(o.metric, Metric::LatencyMs(0.99));
        assert_eq!(o.side, Side::AtMost);
        assert_eq!(o.bound, 20.0);
        assert_eq!(o.to_string(), "latency_ms_p99 <= 20");
        let e = Objective::parse("latency_ms_p98", "<= 1").unwrap_err();
        assert!(e.contains("success_rate, latency_ms_p50"), "{e}");
        let e = Objective::parse("success_rate", "> 0.9").unwrap_err();
        assert!(e.contains("\">= VALUE\""), "{e}");
        let e = Objective::parse("success_rate", ">= 1.5").unwrap_err();
        assert!(e.contains("[0, 1]"), "{e}");
        let e = Objective::parse("latency_ms_p50", "<= fast").unwrap_err();
        assert!(e.contains("`fast` is not a number"), "{e}");
        assert!(Objective::parse("latency_ms_p50", "<= -1").is_err());
    }

    #[test]
    fn clopper_pearson_agrees_with_its_definition() {
        // At the ends of the interval, the observed count is in the alpha/2 tail: checked with
        // the binomial distribution itself.
        use statrs::distribution::{Binomial, DiscreteCDF};
        for &(s, n, alpha) in &[(5u64, 20u64, 0.05), (990, 1000, 0.01), (1, 3, 0.2)] {
            let (lo, hi) = clopper_pearson(s, n, alpha);
            let upper_tail = 1.0 - Binomial::new(lo, n).unwrap().cdf(s - 1);
            assert!(
                (upper_tail - alpha / 2.0).abs() < 1e-9,
                "{s}/{n}: {upper_tail}"
            );
            let lower_tail = Binomial::new(hi, n).unwrap().cdf(s);
            assert!(
                (lower_tail - alpha / 2.0).abs() < 1e-9,
                "{s}/{n}: {lower_tail}"
            );
        }
        // Every trial a success: the lower end is (alpha/2)^(1/n).
        let (lo, hi) = clopper_pearson(50, 50, 0.05);
        assert!((lo - 0.025f64.powf(1.0 / 50.0)).abs() < 1e-12);
        assert_eq!(hi, 1.0);
    }

    #[test]
    fn quantile_ranks_leave_at_most_alpha_half_on_each_side() {
        for &(n, q, alpha) in &[
            (1000u64, 0.5, 0.05),
            (1000, 0.99, 0.05),
            (20_000, 0.999, 0.001),
            (381, 0.99, 0.05),
            (7, 0.5, 0.2),
        ] {
            let (l, u) = quantile_ranks_exact(n, q, alpha);
            let tail = alpha / 2.0;
            if l >= 1 {
                // P(B <= l - 1) <= tail, and l is the largest such rank.
                assert!(binomial_cdf(n, q, l - 1) <= tail, "{n} {q}");
            }
            assert!(binomial_cdf(n, q, l) > tail, "{n} {q}");
            if u <= n {
                // P(B >= u) <= tail, and u is the smallest such rank.
                assert!(1.0 - binomial_cdf(n, q, u - 1) <= tail, "{n} {q}");
            }
            if u >= 2 {
                assert!(1.0 - binomial_cdf(n, q, u - 2) > tail, "{n} {q}");
            }
        }
        // For the p99 of 1000 the exact ranks agree with the normal approximation's.
        assert_eq!(
            quantile_ranks_exact(1000, 0.99, 0.05),
            crate::model::stats::quantile_ranks95(1000, 0.99).unwrap()
        );
    }

    #[test]
    fn verdicts_follow_the_interval() {
        // 950 of 1000: the 95% interval is about [0.934, 0.963].
        let t = tally(950, 50, |_| 1_000_000);
        let judge = |text: &str| {
            Objective::parse("success_rate", text)
                .unwrap()
                .judge(&t, 0.05)
        };
        assert_eq!(judge(">= 0.93").verdict, Verdict::Met);
        assert_eq!(judge(">= 0.95").verdict, Verdict::Undecided);
        assert_eq!(judge(">= 0.97").verdict, Verdict::Missed);
        assert_eq!(judge("<= 0.97").verdict, Verdict::Met);
        assert_eq!(judge("<= 0.93").verdict, Verdict::Missed);
        let j = judge(">= 0.95");
        assert_eq!(j.estimate, 0.95);
        assert!(j.low < 0.95 && 0.95 < j.high);
        // A stricter level widens the interval: undecided where 95% decided.
        let o = Objective::parse("success_rate", ">= 0.93").unwrap();
        assert_eq!(o.judge(&t, 0.05).verdict, Verdict::Met);
        assert_eq!(o.judge(&t, 1e-6).verdict, Verdict::Undecided);
    }

    #[test]
    fn latency_verdicts_read_the_histogram_outwards() {
        // Latencies 1..=10_000 us: the p99 is 9.9 ms.
        let t = tally(10_000, 0, |i| (i + 1) * 1_000);
        let judge = |text: &str| {
            Objective::parse("latency_ms_p99", text)
                .unwrap()
                .judge(&t, 0.05)
        };
        let j = judge("<= 10");
        assert_eq!(j.verdict, Verdict::Met);
        assert!(j.low <= 9.9 && 9.9 <= j.high && j.high <= 10.0, "{j:?}");
        assert_eq!(judge("<= 9.9").verdict, Verdict::Undecided);
        assert_eq!(judge("<= 9.5").verdict, Verdict::Missed);
        assert_eq!(judge(">= 9.5").verdict, Verdict::Met);
        // No successful trial: nothing is known of the latency.
        let none = tally(0, 10, |_| 0);
        let j = Objective::parse("latency_ms_p50", "<= 1")
            .unwrap()
            .judge(&none, 0.05);
        assert_eq!(j.verdict, Verdict::Undecided);
        // Too few to bound the p99 from above: it cannot be met, but a low bound can miss.
        let few = tally(100, 0, |_| 5_000_000);
        let j = Objective::parse("latency_ms_p99", "<= 1")
            .unwrap()
            .judge(&few, 0.05);
        assert_eq!(j.high, f64::INFINITY);
        assert_eq!(j.verdict, Verdict::Missed);
        let j = Objective::parse("latency_ms_p99", "<= 10")
            .unwrap()
            .judge(&few, 0.05);
        assert_eq!(j.verdict, Verdict::Undecided);
    }
}
