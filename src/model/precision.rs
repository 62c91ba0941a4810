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
//!
//! ## Objectives
//!
//! A cell may also carry [objectives](crate::model::objective), each judged met, missed or
//! undecided from an interval. A run's verdicts share one error level `alpha` (5%): with `m`
//! checks (objectives times the cells each applies to), each gets `alpha / m` (Bonferroni), so
//! that every verdict of the run is right, or undecided, with probability at least 95%.
//!
//! In a run with a fixed trial count a check is judged once, on the cell's whole tally. In an
//! adaptive run an undecided cell keeps running until its objectives are decided (and its
//! precision targets met) or its cap is reached, so it is judged again and again; a verdict
//! taken at whichever look happens to decide would be wrong more often than one look's level.
//! Such a cell is therefore judged only at fixed *looks*, the chunk counts of [`looks`] (1, 2,
//! 3, 4, 5, 7, 9, 12, ... growing by a quarter, and the cap), whatever its tally says, and the
//! check's level is *spent* over them: the look at `c` chunks, following the look at `b`, gets
//! `alpha_check (c - b) / cap`, the linear spending function `alpha t` of the fraction `t` of
//! the cap's trials. These levels sum to `alpha_check` over all looks. The tally at `c` chunks
//! is the same whichever looks came before, so by the union bound the chance that any look's
//! interval misses is at most `alpha_check`, and the verdict of the look that stops the cell is
//! right (or undecided, at the cap) with at least the stated probability. An undecided cell's
//! next target is the squared ratio of its interval's half-width to the distance from its
//! estimate to the bound (clamped like a precision target), rounded up to a look.

use crate::model::objective::{Judgement, Objective, Objectives, Verdict};
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

/// The objectives of one cell and the error level its checks share before looks divide it.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    /// The cell's objectives.
    pub objectives: &'a [Objective],
    /// Each check's error level over the whole cell (the run's level over its checks).
    pub alpha: f64,
}

impl<'a> Checks<'a> {
    /// The objectives of `cell` in `objectives`.
    pub fn of(objectives: &'a Objectives, cell: u32) -> Self {
        Self {
            objectives: objectives.of(cell),
            alpha: objectives.alpha(),
        }
    }

    /// No objectives.
    pub const NONE: Checks<'static> = Checks {
        objectives: &[],
        alpha: 0.0,
    };

    /// Verdicts on a whole cell judged once, in a run with a fixed trial count.
    pub fn judge_once(&self, tally: &Tally) -> Vec<Judgement> {
        self.objectives
            .iter()
            .map(|o| o.judge(tally, self.alpha))
            .collect()
    }

    /// Verdicts of an adaptive cell at the look of `chunks` chunks out of `cap`.
    pub fn judge_at(&self, tally: &Tally, chunks: u64, cap: u64) -> Vec<Judgement> {
        let alpha = spent(self.alpha, chunks, cap);
        self.objectives
            .iter()
            .map(|o| o.judge(tally, alpha))
            .collect()
    }
}

/// The looks of an adaptive cell with objectives, in chunks: 1, then `max(c + 1, ceil(5c /
/// 4))` after `c`, below `cap`; then `cap`.
///
/// ```
/// use coordsim::model::precision::looks;
/// let l: Vec<u64> = looks(40).collect();
/// assert_eq!(l, [1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 30, 38, 40]);
/// ```
pub fn looks(cap: u64) -> impl Iterator<Item = u64> {
    let mut next = Some(1u64.min(cap));
    std::iter::from_fn(move || {
        let c = next?;
        next = (c < cap).then(|| c.saturating_mul(5).div_ceil(4).max(c + 1).min(cap));
        Some(c)
    })
}

/// The smallest look at or after `chunks`.
pub fn look_at_or_after(chunks: u64, cap: u64) -> u64 {
    looks(cap).find(|&c| c >= chunks).unwrap_or(cap)
}

/// The error level the look at `chunks` (a look) spends of `alpha`: `alpha (chunks - b) /
/// cap`, where `b` is the look before (0 before the first).
///
/// ```
/// use coordsim::model::precision::spent;
/// assert_eq!(spent(0.05, 1, 1), 0.05);
/// assert_eq!(spent(0.04, 5, 40), 0.04 * 1.0 / 40.0);
/// // Over all looks, the levels add up to alpha.
/// let total: f64 = coordsim::model::precision::looks(1000).map(|c| spent(0.05, c, 1000)).sum();
/// assert!((total - 0.05).abs() < 1e-15);
/// ```
pub fn spent(alpha: f64, chunks: u64, cap: u64) -> f64 {
    let before = looks(cap).take_while(|&c| c < chunks).last().unwrap_or(0);
    alpha * (chunks - before) as f64 / cap as f64
}

impl Precision {
    /// The decision for a cell with objectives whose chunks `[0, chunks)` are done and in
    /// `tally`: finished when its precision targets are met and its objectives decided at this
    /// look, or at the cap; otherwise grown to a later look (see the module documentation).
    /// Without objectives, exactly [`Precision::decide`].
    pub fn decide_with(
        &self,
        tally: &Tally,
        chunks: u64,
        cap: u64,
        checks: Checks<'_>,
    ) -> Decision {
        if checks.objectives.is_empty() {
            return self.decide(tally, chunks, cap);
        }
        let assessment = self.assess(tally);
        let mut growth = if assessment.met {
            MIN_GROWTH
        } else {
            assessment.growth
        };
        let mut pending = false;
        for (objective, judgement) in checks
            .objectives
            .iter()
            .zip(checks.judge_at(tally, chunks, cap))
        {
            if judgement.verdict == Verdict::Undecided {
                pending = true;
                let factor = MARGIN * judgement.trials_factor(objective.bound);
                growth = growth.max(if factor.is_finite() {
                    factor.clamp(MIN_GROWTH, MAX_GROWTH)
                } else {
                    MAX_GROWTH
                });
            }
        }
        if (assessment.met && !pending) || chunks >= cap {
            return Decision::Finish {
                met: assessment.met,
            };
        }
        Decision::Grow(look_at_or_after(next_target(chunks, growth, cap), cap))
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

    use crate::model::tally::tally_of as tally;

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

    /// A tally of `successes` of `trials` in `chunks` chunks, with no latencies.
    fn counts(successes: u64, trials: u64, chunks: u64) -> Tally {
        let mut t = Tally::empty();
        t.successes = successes;
        t.failures = trials - successes;
        t.chunks = chunks;
        t
    }

    #[test]
    fn looks_grow_by_a_quarter_and_spend_alpha_once() {
        for cap in [1u64, 2, 7, 100, 12_345, 1 << 40] {
            let l: Vec<u64> = looks(cap).collect();
            assert_eq!(l[0], 1);
            assert_eq!(*l.last().unwrap(), cap);
            assert!(
                l.windows(2)
                    .all(|w| w[1] > w[0] && w[1] <= (w[0] * 5).div_ceil(4).max(w[0] + 1))
            );
            let total: f64 = l.iter().map(|&c| spent(0.05, c, cap)).sum();
            assert!((total - 0.05).abs() < 1e-12, "{cap}: {total}");
            for c in [1, cap / 3 + 1, cap] {
                let at = look_at_or_after(c, cap);
                assert!(l.contains(&at) && at >= c);
            }
        }
    }

    #[test]
    fn an_undecided_cell_grows_to_a_look_and_a_decided_one_finishes() {
        let met = Precision {
            success: Some(0.5),
            p99: None,
        };
        let objective = [Objective::parse("success_rate", ">= 0.9").unwrap()];
        let checks = Checks {
            objectives: &objective,
            alpha: 0.05,
        };
        // 905 of 1000 at the first look: undecided, and grown to a look.
        let t = counts(905, 1000, 1);
        match met.decide_with(&t, 1, 1000, checks) {
            Decision::Grow(next) => assert_eq!(next, look_at_or_after(next, 1000)),
            d => panic!("{d:?}"),
        }
        // At the cap the cell finishes undecided.
        let t = counts(905_000, 1_000_000, 1000);
        assert_eq!(
            met.decide_with(&t, 1000, 1000, checks),
            Decision::Finish { met: true }
        );
        assert_eq!(
            checks.judge_at(&t, 1000, 1000)[0].verdict,
            Verdict::Met,
            "905,000 of 1,000,000 is above 0.9 even at the cap's share of alpha"
        );
        // Clearly above the bound: finished at the first look.
        let t = counts(990, 1000, 1);
        assert_eq!(
            met.decide_with(&t, 1, 1000, checks),
            Decision::Finish { met: true }
        );
        // Without objectives, the plain decision.
        assert_eq!(
            met.decide_with(&counts(905, 1000, 1), 1, 1000, Checks::NONE),
            met.decide(&counts(905, 1000, 1), 1, 1000)
        );
    }

    /// Cells whose success rate lies exactly on the bound of `success_rate >= 0.9`: a verdict
    /// of "missed" is wrong. Each cell runs to the looks `decide_with` picks; the fraction of
    /// cells that end "missed" must stay within the error level (alpha / 2 on this side), up to
    /// 5 standard errors of the estimate. Judging each look at the full level instead, which
    /// the same loop does alongside, is wrong far more often: the test tells the two apart.
    #[test]
    fn spending_alpha_over_looks_keeps_the_error_rate() {
        use rand::SeedableRng;
        use rand_distr::{Binomial, Distribution};
        const CELLS: u64 = 4000;
        const CHUNK: u64 = 100;
        const CAP: u64 = 200;
        let p = 0.9;
        let objective = [Objective::parse("success_rate", ">= 0.9").unwrap()];
        let checks = Checks {
            objectives: &objective,
            alpha: 0.05,
        };
        let precision = Precision {
            success: Some(0.5),
            p99: None,
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let chunk = Binomial::new(CHUNK, p).unwrap();
        let (mut wrong, mut wrong_naive) = (0u64, 0u64);
        for _ in 0..CELLS {
            // One stream of chunks per cell, read by both procedures.
            let successes: Vec<u64> = (0..CAP).map(|_| chunk.sample(&mut rng)).collect();
            let tally_at = |c: u64| counts(successes[..c as usize].iter().sum(), c * CHUNK, c);
            let mut c = 1;
            loop {
                let t = tally_at(c);
                match precision.decide_with(&t, c, CAP, checks) {
                    Decision::Grow(next) => c = next,
                    Decision::Finish { .. } => {
                        if checks.judge_at(&t, c, CAP)[0].verdict == Verdict::Missed {
                            wrong += 1;
                        }
                        break;
                    }
                }
            }
            // Naive: every look at the full 5%, stopping at the first decision.
            let first = looks(CAP)
                .map(|c| objective[0].judge(&tally_at(c), 0.05).verdict)
                .find(|v| *v != Verdict::Undecided);
            if first == Some(Verdict::Missed) {
                wrong_naive += 1;
            }
        }
        let level = 0.025;
        let limit = level + 5.0 * (level * (1.0 - level) / CELLS as f64).sqrt();
        let rate = wrong as f64 / CELLS as f64;
        let naive = wrong_naive as f64 / CELLS as f64;
        eprintln!(
            "wrong verdicts: {rate} spent over looks, {naive} at the full level each look; limit {limit}"
        );
        assert!(rate <= limit, "spent: {rate} wrong, limit {limit}");
        assert!(naive > limit, "naive: {naive} wrong, limit {limit}");
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
