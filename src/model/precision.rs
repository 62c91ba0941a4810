//! Adaptive precision: run each cell until its estimates are as precise as asked, up to a cap.
//!
//! With `precision` (the target half-width of the 95% interval of the success rate) or
//! `p99_precision` (the target relative half-width of a 95% interval of the latency p99) set,
//! a run is adaptive and `trials` is the cap per cell. Each cell runs a prefix of its chunks,
//! `[0, c)`, starting with `c = 1`. When all `c` are done, [`Precision::decide`] looks at the
//! cell's exact tally of those chunks: if every target is met, or `c` is the cap, the cell is
//! finished; otherwise its new target is
//!
//! ```text
//! c' = min(cap, max(c + 1, ceil(c g))),   g = clamp(1.2 (half-width / target)^2, 1.25, 4)
//! ```
//!
//! (the larger `g` of the two criteria when both are set). A half-width shrinks like
//! `1 / sqrt(trials)`, so `(half-width / target)^2` is the factor of trials still needed; the
//! 1.2 aims a little past it so that a cell is usually met at its next decision, and the clamp
//! keeps an early, noisy estimate from overshooting (at most 4x the trials per step) or
//! creeping (at least 1.25x).
//!
//! Every decision depends only on the tally of the cell's chunks `[0, c)`, whose random streams
//! are fixed by `(seed, cell, chunk)`. The trials a cell uses, and its results, are therefore the
//! same for any thread count, schedule or interruption, and its first chunks give exactly the
//! numbers of a run with a fixed trial count.

use crate::model::stats::{p99_relative_halfwidth, success_halfwidth};
use crate::model::tally::Tally;

/// Largest target half-width of the success rate's interval: every interval of a rate in
/// [0, 1] is at most 1 wide.
pub const MAX_SUCCESS_PRECISION: f64 = 0.5;

/// Smallest target relative half-width of the p99's interval: latency histograms keep 3
/// significant digits (buckets up to 1/1024 of their value wide), so a finer target would be
/// met or missed by the bucketing rather than by the number of trials.
pub const MIN_P99_PRECISION: f64 = 0.002;

/// The least factor by which an unmet cell's trials grow.
pub const MIN_GROWTH: f64 = 1.25;

/// The largest factor by which an unmet cell's trials grow.
pub const MAX_GROWTH: f64 = 4.0;

/// Margin over the factor of trials the current half-width says is still needed.
pub const MARGIN: f64 = 1.2;

/// The precision targets of a run; a run with neither set is not adaptive.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Precision {
    /// Target half-width of the 95% interval of the success rate, in (0, 0.5].
    pub success: Option<f64>,
    /// Target relative half-width of the 95% interval of the latency p99, in [0.002, 1).
    pub p99: Option<f64>,
}

/// What to do with a cell whose chunks `[0, c)` are all done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The cell is finished; `met` says whether every target was met (if not, it used its cap).
    Finish {
        /// Every target met.
        met: bool,
    },
    /// Run the cell's chunks up to this new target.
    Grow(u64),
}

/// How a cell's tally compares with the targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Every target is met.
    pub met: bool,
    /// The factor by which its trials should grow, in [[`MIN_GROWTH`], [`MAX_GROWTH`]].
    pub growth: f64,
}

impl Precision {
    /// No targets: a run with a fixed number of trials per cell.
    pub const NONE: Precision = Precision {
        success: None,
        p99: None,
    };

    /// Whether any target is set.
    pub fn is_adaptive(&self) -> bool {
        self.success.is_some() || self.p99.is_some()
    }

    /// Checks a target half-width of the success rate's interval.
    pub fn check_success(x: f64) -> Result<f64, String> {
        if x.is_finite() && x > 0.0 && x <= MAX_SUCCESS_PRECISION {
            Ok(x)
        } else {
            Err(format!(
                "{x} is outside (0, {MAX_SUCCESS_PRECISION}]: it is the target half-width of the 95% interval of the success rate"
            ))
        }
    }

    /// Checks a target relative half-width of the p99's interval.
    pub fn check_p99(x: f64) -> Result<f64, String> {
        if (MIN_P99_PRECISION..1.0).contains(&x) {
            Ok(x)
        } else if x.is_finite() && (0.0..MIN_P99_PRECISION).contains(&x) {
            Err(format!(
                "{x} is below {MIN_P99_PRECISION}: latencies are kept to 3 significant digits, too coarse to pin the p99 down further"
            ))
        } else {
            Err(format!(
                "{x} is outside [{MIN_P99_PRECISION}, 1): it is the target relative half-width of a 95% interval of the latency p99"
            ))
        }
    }

    /// How `tally` compares with the targets. A cell too few of whose trials succeeded to
    /// bracket its p99 (fewer than 381: [`crate::model::stats::quantile_ranks95`]) does not meet a
    /// p99 target.
    pub fn assess(&self, tally: &Tally) -> Assessment {
        let mut met = true;
        let mut growth = MIN_GROWTH;
        let mut criterion = |ratio: f64| {
            // NaN and infinity (no interval yet) are unmet and grow the most.
            met &= ratio <= 1.0;
            let g = if ratio.is_finite() {
                (MARGIN * ratio * ratio).clamp(MIN_GROWTH, MAX_GROWTH)
            } else {
                MAX_GROWTH
            };
            growth = growth.max(g);
        };
        if let Some(target) = self.success {
            criterion(success_halfwidth(tally.successes, tally.trials()) / target);
        }
        if let Some(target) = self.p99 {
            let ratio =
                p99_relative_halfwidth(tally.latency_ns()).map_or(f64::INFINITY, |h| h / target);
            criterion(ratio);
        }
        Assessment { met, growth }
    }

    /// The decision for a cell whose chunks `[0, chunks)` are all done and in `tally`, with at
    /// most `cap` chunks.
    pub fn decide(&self, tally: &Tally, chunks: u64, cap: u64) -> Decision {
        let assessment = self.assess(tally);
        if assessment.met || chunks >= cap {
            return Decision::Finish {
                met: assessment.met,
            };
        }
        Decision::Grow(next_target(chunks, assessment.growth, cap))
    }
}

/// `min(cap, max(chunks + 1, ceil(chunks g)))`.
///
/// ```
/// use coordsim::model::precision::next_target;
/// assert_eq!(next_target(1, 4.0, 100), 4);
/// assert_eq!(next_target(1, 1.25, 100), 2);
/// assert_eq!(next_target(10, 1.25, 100), 13);
/// assert_eq!(next_target(40, 4.0, 100), 100);
/// ```
pub fn next_target(chunks: u64, growth: f64, cap: u64) -> u64 {
    let grown = (chunks as f64 * growth).ceil();
    let grown = if grown >= cap as f64 {
        cap
    } else {
        grown as u64
    };
    grown.max(chunks + 1).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    fn tally(successes: u64, failures: u64, latency_ns: impl Fn(u64) -> u64) -> Tally {
        let mut t = Tally::empty();
        for i in 0..successes {
            t.record(&Outcome::success(latency_ns(i), 1, 1), 0);
        }
        for _ in 0..failures {
            t.record(&Outcome::failure(1, 1), 0);
        }
        t.settle();
        t
    }

    #[test]
    fn targets_are_checked() {
        assert!(Precision::check_success(0.001).is_ok());
        assert!(Precision::check_success(0.5).is_ok());
        for bad in [0.0, -0.1, 0.51, f64::NAN, f64::INFINITY] {
            assert!(Precision::check_success(bad).is_err(), "{bad}");
        }
        assert!(Precision::check_p99(0.002).is_ok());
        assert!(Precision::check_p99(0.5).is_ok());
        let e = Precision::check_p99(0.001).unwrap_err();
        assert!(e.contains("3 significant digits"), "{e}");
        for bad in [0.0, 1.0, -1.0, f64::NAN] {
            assert!(Precision::check_p99(bad).is_err(), "{bad}");
        }
        assert!(!Precision::NONE.is_adaptive());
    }

    #[test]
    fn the_success_rate_grows_trials_by_the_squared_ratio() {
        // 500/1000: half-width 0.0309; at a target of 0.01 the ratio is 3.09 and 1.2 x 9.5
        // clamps to 4.
        let t = tally(500, 500, |_| 1_000);
        let p = Precision {
            success: Some(0.01),
            p99: None,
        };
        let a = p.assess(&t);
        assert!(!a.met);
        assert_eq!(a.growth, MAX_GROWTH);
        assert_eq!(p.decide(&t, 3, 100), Decision::Grow(12));
        assert_eq!(p.decide(&t, 3, 10), Decision::Grow(10));
        assert_eq!(p.decide(&t, 10, 10), Decision::Finish { met: false });
        // At a target of 0.028 the ratio is 1.104: 1.2 x 1.219 = 1.46.
        let p = Precision {
            success: Some(0.028),
            p99: None,
        };
        let a = p.assess(&t);
        let h = success_halfwidth(500, 1000) / 0.028;
        assert_eq!(a.growth, 1.2 * h * h);
        assert_eq!(p.decide(&t, 10, 100), Decision::Grow(15));
        // Met.
        let p = Precision {
            success: Some(0.04),
            p99: None,
        };
        assert_eq!(p.decide(&t, 1, 100), Decision::Finish { met: true });
    }

    #[test]
    fn the_p99_needs_enough_successes_and_takes_the_larger_factor() {
        let p = Precision {
            success: Some(0.5),
            p99: Some(0.01),
        };
        // 380 successes cannot bracket a p99.
        let few = tally(380, 0, |i| 1_000 + i);
        let a = p.assess(&few);
        assert!(!a.met);
        assert_eq!(a.growth, MAX_GROWTH);
        // A constant latency: every order statistic in one bucket, the interval 0 wide.
        let constant = tally(400, 10, |_| 1_000_000);
        assert_eq!(
            p.assess(&constant),
            Assessment {
                met: true,
                growth: MIN_GROWTH
            }
        );
        // 1..=100_000 ns: relative half-width 0.00065 (see p99_relative_halfwidth).
        let uniform = tally(100_000, 0, |i| i + 1);
        let loose = Precision {
            success: None,
            p99: Some(0.002),
        };
        assert!(loose.assess(&uniform).met);
        let tight = Precision {
            success: Some(0.5),
            p99: Some(0.0002),
        };
        let a = tight.assess(&uniform);
        assert!(!a.met);
        let r = p99_relative_halfwidth(uniform.latency_ns()).unwrap() / 0.0002;
        assert_eq!(a.growth, (1.2 * r * r).clamp(MIN_GROWTH, MAX_GROWTH));
    }

    #[test]
    fn targets_always_grow_and_stop_at_the_cap() {
        for chunks in 1..50u64 {
            for growth in [MIN_GROWTH, 1.5, 2.0, MAX_GROWTH] {
                let next = next_target(chunks, growth, 60);
                assert!(next > chunks, "{chunks} {growth}");
                assert!(next <= 60);
                assert!(next as f64 >= (chunks as f64 * growth).min(60.0));
            }
        }
        assert_eq!(next_target(59, 4.0, 60), 60);
        assert_eq!(next_target(u64::MAX / 2, 4.0, u64::MAX), u64::MAX);
    }
}
