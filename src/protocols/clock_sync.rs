//! Clock sync: can clocks that are each a little wrong order events at different places?
//!
//! Each venue stamps its events with its own clock, and each clock is off true time by an
//! error drawn from a signed law: uniform on +/- e (a receiver's accuracy bound, such as GPS's
//! +/- 10 ms) or normal with deviation sigma. Two events Delta apart at two venues are stamped
//! in the wrong order when the first venue's clock is ahead of the second's by Delta or more:
//! with two clocks uniform on +/- e that happens with probability (2e - Delta)^2 / (8 e^2)
//! for 0 <= Delta <= 2e, with normal clocks with probability Phi(-Delta / (sigma sqrt 2)).
//! Over V venues, every one of the V(V - 1)/2 pairs must be right. Keeping the clocks within
//! their law costs messages every sync round: a request and a response per pair when every
//! pair synchronises (the essay's "10 venues = 45 possible pairs to sync"), or per venue
//! when each polls one reference clock.

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

use super::{
    Choice, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo,
    Setting, Value, choice,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: V = N venues, each with a clock whose offset from true time is drawn
independently from the error law: uniform on [-clock_error_ms, +clock_error_ms]
(clock_error = \"uniform\") or normal with mean 0 and deviation clock_error_ms
(clock_error = \"normal\"). An event at venue i at true time t is stamped t + offset_i.
pairs = \"one\": venue 0 has an event at t and venue 1 another at t + gap_ms (with one venue,
both are at venue 0). Success: the second stamp is later than the first, i.e.
offset_0 - offset_1 < gap_ms. P(misorder) = (2e - gap)^2 / (8 e^2) for uniform errors on +/- e
and 0 <= gap <= 2e (0 beyond 2e), Phi(-gap / (sigma sqrt 2)) for normal errors.
pairs = \"all\": every venue may have an event gap_ms before or after an event at any other
venue. Success: all V(V - 1)/2 pairs order such events correctly in both directions, i.e. the
spread max offset - min offset is less than gap_ms; for uniform errors, with r = gap / (2e),
P(success) = V r^(V - 1) - (V - 1) r^V.
Equal stamps are not an order: they count as misordered.
misordered_pairs: the pairs (i < j) that stamp an event at venue i and one gap_ms later at
venue j in the wrong order (offset_i - offset_j >= gap_ms); in \"one\" mode the one pair. Each
pair is misordered with the two-clock probability above, so misordered_pairs_mean divided by
V(V - 1)/2 (1 in \"one\" mode) is the per-pair rate; the \"all\" mode counts every pair, an
O(V^2) loop per trial.
Messages: one sync round's, which keeps the clocks within their law: sync = \"pairwise\",
a request and a response for each of the V(V - 1)/2 pairs, V(V - 1); sync = \"reference\",
a request and a response between each venue and one reference clock, 2V. One sync round
every period_ms: messages per second are messages_mean x 1000 / period_ms. Rounds: 1.
Latency: 0; the model measures order, not time. The environment (crash, loss, latency, zones,
partitions, regions) does not enter: the error law stands for what the sync achieves."
    };
}

choice! {
    /// The law of a clock's offset from true time.
    pub enum ErrorLaw {
        /// Uniform on +/- the error.
        Uniform = "uniform",
        /// Normal with the error as its deviation.
        Normal = "normal",
    }
}

choice! {
    /// Which venues a trial compares.
    pub enum Pairs {
        /// Venue 0 then venue 1.
        One = "one",
        /// Every pair of venues, in both orders.
        All = "all",
    }
}

choice! {
    /// How the clocks are kept in sync, which sets the messages of a sync round.
    pub enum Sync {
        /// Every pair of venues exchanges a request and a response.
        Pairwise = "pairwise",
        /// Every venue exchanges a request and a response with one reference clock.
        Reference = "reference",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::protocols::{ClockSync, ClockError, ClockPairs, ClockSyncMode};
/// use coordsim::model::{Protocol, Status};
/// use coordsim::rng::stream;
/// // Clocks within +/- 0.1 ms cannot misorder events 1 ms apart.
/// let model = ClockSync::new(10, ClockError::Uniform, 0.1, 1.0, ClockPairs::All, ClockSyncMode::Pairwise).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.status, outcome.messages, outcome.extras[0]), (Status::Success, 90, 0));
/// ```
#[derive(Debug, Clone)]
pub struct ClockSync {
    venues: u32,
    law: ErrorLaw,
    error_ns: f64,
    gap_ns: f64,
    pairs: Pairs,
    messages: u64,
}

impl ClockSync {
    /// `venues` clocks with errors of `law` and size `error_ms` (the half-width of a uniform
    /// law, the deviation of a normal one), comparing events `gap_ms` apart at the venues
    /// `pairs` names, kept in sync by `sync`.
    pub fn new(
        venues: u32,
        law: ErrorLaw,
        error_ms: f64,
        gap_ms: f64,
        pairs: Pairs,
        sync: Sync,
    ) -> Result<Self, ModelError> {
        if !(error_ms.is_finite() && error_ms > 0.0) {
            return Err(ModelError::new(
                "clock_error_ms",
                "must be a finite number > 0",
            ));
        }
        if !(gap_ms.is_finite() && gap_ms >= 0.0) {
            return Err(ModelError::new("gap_ms", "must be a finite number >= 0"));
        }
        let v = u64::from(venues);
        Ok(Self {
            venues,
            law,
            error_ns: error_ms * NS_PER_MS,
            gap_ns: gap_ms * NS_PER_MS,
            pairs,
            messages: match sync {
                Sync::Pairwise => v * v.saturating_sub(1),
                Sync::Reference => 2 * v,
            },
        })
    }

    /// One clock's offset from true time, in ns.
    #[inline]
    fn offset_ns(&self, rng: &mut SimRng) -> f64 {
        match self.law {
            ErrorLaw::Uniform => self.error_ns * (2.0 * rng.random::<f64>() - 1.0),
            ErrorLaw::Normal => self.error_ns * Distribution::<f64>::sample(&StandardNormal, rng),
        }
    }

    /// Whether an event at a venue with offset `first` and one `gap_ns` later at a venue with
    /// offset `second` are stamped in the wrong order (equal stamps included).
    #[inline]
    fn misordered(&self, first: f64, second: f64) -> bool {
        first - second >= self.gap_ns
    }
}

impl Protocol for ClockSync {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "misordered_pairs",
        doc: "pairs (i < j) that stamp an event at i and one gap_ms later at j in the wrong \
              order: per-pair rate = this / (V(V - 1)/2), or this alone with pairs = \"one\"",
    }];
    /// Every venue's offset in this trial.
    type Scratch = Vec<f64>;

    fn scratch(&self) -> Vec<f64> {
        match self.pairs {
            Pairs::One => Vec::new(),
            Pairs::All => vec![0.0; self.venues as usize],
        }
    }

    fn trial(&self, rng: &mut SimRng, offsets: &mut Vec<f64>) -> Outcome {
        let mut extras = [0; MAX_EXTRAS];
        let success = match self.pairs {
            Pairs::One => {
                let first = self.offset_ns(rng);
                // With one venue, both events are stamped by the same clock.
                let second = if self.venues >= 2 {
                    self.offset_ns(rng)
                } else {
                    first
                };
                let wrong = self.misordered(first, second);
                extras[0] = u64::from(wrong);
                !wrong
            }
            Pairs::All => {
                let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
                for offset in offsets.iter_mut() {
                    *offset = self.offset_ns(rng);
                    low = low.min(*offset);
                    high = high.max(*offset);
                }
                let mut wrong = 0;
                for (i, &first) in offsets.iter().enumerate() {
                    for &second in &offsets[i + 1..] {
                        wrong += u64::from(self.misordered(first, second));
                    }
                }
                extras[0] = wrong;
                // Both orders of every pair: the spread must be below the gap.
                !self.misordered(high, low)
            }
        };
        let outcome = if success {
            Outcome::success(0, self.messages, 1)
        } else {
            Outcome::failure(self.messages, 1)
        };
        outcome.with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "clock-sync",
    summary: "events at different venues ordered by clocks with signed errors; sync messages",
    model: model!(),
    params: &[
        ParamSpec {
            name: "clock_error",
            kind: ErrorLaw::KIND,
            default: Value::Choice(ErrorLaw::Uniform.word()),
            doc: "law of a clock's offset: uniform on +/- clock_error_ms, or normal with \
                  deviation clock_error_ms",
        },
        ParamSpec {
            name: "clock_error_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(10.0),
            doc: "half-width (uniform) or deviation (normal) of a clock's offset",
        },
        ParamSpec {
            name: "gap_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(1.0),
            doc: "true time between the two events compared",
        },
        ParamSpec {
            name: "pairs",
            kind: Pairs::KIND,
            default: Value::Choice(Pairs::One.word()),
            doc: "\"one\": venue 0 then venue 1; \"all\": every pair of venues, both orders",
        },
        ParamSpec {
            name: "sync",
            kind: Sync::KIND,
            default: Value::Choice(Sync::Pairwise.word()),
            doc: "messages of a sync round: every pair exchanges a request and a response \
                  (V(V - 1)), or every venue with one reference clock (2V)",
        },
        ParamSpec {
            name: "period_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(1000.0),
            doc: "time between sync rounds: messages per second = messages_mean x 1000 / this",
        },
    ],
    extras: ClockSync::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(ClockSync::new(
            setting.nodes,
            params.clock_error,
            params.clock_error_ms,
            params.gap_ms,
            params.pairs,
            params.sync,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    clock_error: ErrorLaw,
    clock_error_ms: f64,
    gap_ms: f64,
    pairs: Pairs,
    sync: Sync,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            clock_error: setting.choice("clock_error"),
            clock_error_ms: setting.millis("clock_error_ms"),
            gap_ms: setting.millis("gap_ms"),
            pairs: setting.choice("pairs"),
            sync: setting.choice("sync"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Continuous, ContinuousCDF, Normal};

    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    const TRIALS: u64 = 400_000;

    /// P(misorder) of two clocks uniform on +/- e, events `gap` apart.
    fn uniform_misorder(e: f64, gap: f64) -> f64 {
        if gap >= 2.0 * e {
            0.0
        } else {
            (2.0 * e - gap).powi(2) / (8.0 * e * e)
        }
    }

    /// P(misorder) of two clocks normal with deviation `sigma`, events `gap` apart.
    fn normal_misorder(sigma: f64, gap: f64) -> f64 {
        Normal::standard().cdf(-gap / (sigma * 2f64.sqrt()))
    }

    /// P(the spread of `v` iid standard normals is below `w`):
    /// v int phi(x) (Phi(x + w) - Phi(x))^(v - 1) dx, by Simpson's rule over [-12, 12].
    fn normal_spread_below(v: u32, w: f64) -> f64 {
        let n = Normal::standard();
        let steps = 24_000;
        let h = 24.0 / f64::from(steps);
        let mut sum = 0.0;
        for i in 0..=steps {
            let x = -12.0 + f64::from(i) * h;
            let weight = match i {
                0 => 1.0,
                i if i == steps => 1.0,
                i if i % 2 == 1 => 4.0,
                _ => 2.0,
            };
            sum += weight * n.pdf(x) * (n.cdf(x + w) - n.cdf(x)).powi(v as i32 - 1);
        }
        f64::from(v) * sum * h / 3.0
    }

    fn grid(law: &str, error_ms: f64, gap_ms: f64, pairs: &str, nodes: u32) -> String {
        format!(
            "nodes = {nodes}\nclock_error = \"{law}\"\nclock_error_ms = {error_ms}\n\
             gap_ms = {gap_ms}\npairs = \"{pairs}\""
        )
    }

    #[test]
    fn two_uniform_clocks_misorder_at_the_closed_form_rate() {
        // The essay's GPS: +/- 10 ms, records decided by 1 ms; and gaps across the range.
        for gap in [0.0, 1.0, 3.0, 10.0, 19.0, 20.0, 25.0] {
            let tally = run(
                "clock-sync",
                &grid("uniform", 10.0, gap, "one", 2),
                "",
                TRIALS,
            );
            let p = uniform_misorder(10.0, gap);
            assert_rate(tally.successes, tally.trials(), 1.0 - p);
            // The one pair's count is the failure.
            assert_eq!(tally.extras_sum[0], u128::from(TRIALS - tally.successes));
        }
    }

    #[test]
    fn two_normal_clocks_misorder_at_the_closed_form_rate() {
        for gap in [0.0, 1.0, 5.0, 14.0, 30.0] {
            let tally = run(
                "clock-sync",
                &grid("normal", 10.0, gap, "one", 2),
                "",
                TRIALS,
            );
            assert_rate(
                tally.successes,
                tally.trials(),
                1.0 - normal_misorder(10.0, gap),
            );
        }
    }

    #[test]
    fn every_pair_is_misordered_at_the_two_clock_rate() {
        // Each of the V(V - 1)/2 pairs is misordered with the two-clock probability p. The
        // pairs of one trial share clocks, so their indicators are dependent; the variance
        // of their mean is still at most p (1 - p) (all perfectly correlated), so 5 sigma of
        // the per-pair rate over the trials is at most 5 sqrt(p (1 - p) / trials).
        for (law, gap, p) in [
            ("uniform", 1.0, uniform_misorder(10.0, 1.0)),
            ("normal", 5.0, normal_misorder(10.0, 5.0)),
        ] {
            let venues = 10u32;
            let pairs = f64::from(venues * (venues - 1) / 2);
            let trials = 100_000;
            let tally = run(
                "clock-sync",
                &grid(law, 10.0, gap, "all", venues),
                "",
                trials,
            );
            let mean = tally.extras_sum[0] as f64 / trials as f64 / pairs;
            let tolerance = 5.0 * (p * (1.0 - p) / trials as f64).sqrt();
            assert!(
                (mean - p).abs() <= tolerance,
                "{law}: per-pair rate {mean}, expected {p} +- {tolerance}"
            );
        }
    }

    #[test]
    fn all_pairs_succeed_when_the_spread_is_below_the_gap() {
        // Uniform: the range of V uniforms on [0, 1] is Beta(V - 1, 2):
        // P(range < r) = V r^(V - 1) - (V - 1) r^V.
        for (venues, gap) in [(2u32, 5.0f64), (10, 15.0), (10, 19.0), (45, 19.5)] {
            let r = gap / 20.0;
            let v = f64::from(venues);
            let p = v * r.powf(v - 1.0) - (v - 1.0) * r.powf(v);
            let tally = run(
                "clock-sync",
                &grid("uniform", 10.0, gap, "all", venues),
                "",
                TRIALS,
            );
            assert_rate(tally.successes, tally.trials(), p);
        }
        // Two venues: both orders, so the failure is twice the one-order misorder.
        let tally = run(
            "clock-sync",
            &grid("uniform", 10.0, 5.0, "all", 2),
            "",
            TRIALS,
        );
        assert_rate(
            tally.successes,
            tally.trials(),
            1.0 - 2.0 * uniform_misorder(10.0, 5.0),
        );
        // Normal: the spread of V normals, integrated numerically.
        for (venues, gap) in [(2u32, 10.0), (10, 40.0)] {
            let p = normal_spread_below(venues, gap / 10.0);
            let tally = run(
                "clock-sync",
                &grid("normal", 10.0, gap, "all", venues),
                "",
                TRIALS,
            );
            assert_rate(tally.successes, tally.trials(), p);
        }
    }

    #[test]
    fn the_spread_integral_agrees_with_known_values() {
        // Two normals: the spread is |Z1 - Z2|, so P(< w) = 2 Phi(w / sqrt 2) - 1.
        let n = Normal::standard();
        for w in [0.5, 1.0, 3.0] {
            let expected = 2.0 * n.cdf(w / 2f64.sqrt()) - 1.0;
            assert!((normal_spread_below(2, w) - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn one_venue_orders_by_one_clock() {
        let tally = run(
            "clock-sync",
            &grid("uniform", 10.0, 1.0, "one", 1),
            "",
            1_000,
        );
        assert_eq!(tally.successes, 1_000);
        // A gap of 0 gives equal stamps: not an order.
        let tally = run(
            "clock-sync",
            &grid("uniform", 10.0, 0.0, "one", 1),
            "",
            1_000,
        );
        assert_eq!(tally.successes, 0);
    }

    #[test]
    fn sync_messages_are_pairwise_or_per_venue() {
        // The essay: "10 venues = 45 possible pairs to sync", a request and a response each.
        for (sync, nodes, per_trial) in [
            ("pairwise", 10u64, 90u64),
            ("pairwise", 2, 2),
            ("reference", 10, 20),
            ("reference", 1, 2),
        ] {
            let tally = run(
                "clock-sync",
                &format!("nodes = {nodes}\nsync = \"{sync}\""),
                "",
                1_000,
            );
            assert_eq!(tally.messages_sum, 1_000 * u128::from(per_trial), "{sync}");
        }
    }

    #[test]
    fn the_failure_axes_do_not_enter() {
        let clean = run(
            "clock-sync",
            &grid("uniform", 10.0, 1.0, "all", 5),
            "",
            20_000,
        );
        let failing = run(
            "clock-sync",
            &(grid("uniform", 10.0, 1.0, "all", 5) + "\ncrash = 0.3\nloss = 0.3"),
            "",
            20_000,
        );
        assert_eq!(clean, failing);
    }
}
