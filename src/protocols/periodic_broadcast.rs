//! Periodic broadcast: every node tells every other node its state, every period.
//!
//! The "paranoid sync" anti-pattern: rather than sending changes when they happen, each node
//! announces its version to all the others on a timer. The bill is N(N - 1) messages every
//! period, N(N - 1) / period per second, whether or not anything changed; when the data
//! changes rarely, almost none of them carry news.

use super::{
    Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo,
    Setting, Value,
};
use crate::rng::{Chance, SimRng};

macro_rules! model {
    () => {
        "One trial: one period of period_ms. Each of N nodes is crashed with probability crash for
the period; each live node sends its state to each of the other N - 1 nodes (it does not
know which are down). Each node's state changes as a Poisson process of rate
changes_per_hour, so it changed during the period, and its N - 1 messages carry a change,
with probability q = 1 - exp(-changes_per_hour x period_ms / 3,600,000). Each message is lost
independently with probability loss.
Success: every message that carries a change reaches every live receiver (a period without
a change succeeds). Latency: the slowest one-way delay of those messages; 0 in a period
without a change.
Messages: N - 1 per live node; N(N - 1) when every node is up. Messages per second are
messages_mean x 1000 / period_ms: N(N - 1) / period; per month (30 days) 2,592,000 times
that. Rounds: 1.
changed_messages: the messages that carried a change; changed_messages_mean / messages_mean
is the fraction of the traffic that was news, 1 - exp(-changes_per_hour x period_ms /
3,600,000) with no crashes."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{PeriodicBroadcast};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// // The essay's paranoid sync: 30 nodes every 100 ms, data changing once an hour.
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = PeriodicBroadcast::new(env, 30, 100.0, 1.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.messages, 30 * 29);
/// ```
#[derive(Debug, Clone)]
pub struct PeriodicBroadcast {
    env: Env,
    nodes: u32,
    changed: Chance,
}

impl PeriodicBroadcast {
    /// `nodes` nodes broadcasting every `period_ms`, each node's state changing
    /// `changes_per_hour` times an hour on average.
    pub fn new(
        env: Env,
        nodes: u32,
        period_ms: f64,
        changes_per_hour: f64,
    ) -> Result<Self, ModelError> {
        if !(period_ms.is_finite() && period_ms > 0.0) {
            return Err(ModelError::new("period_ms", "must be a finite number > 0"));
        }
        if !(changes_per_hour.is_finite() && changes_per_hour >= 0.0) {
            return Err(ModelError::new(
                "changes_per_hour",
                "must be a finite number >= 0",
            ));
        }
        // 1 - e^(-x), accurate for the tiny x of rare changes.
        let q = -(-changes_per_hour * period_ms / 3_600_000.0).exp_m1();
        Ok(Self {
            env,
            nodes,
            changed: Chance::new(q).map_err(|e| ModelError::new("changes_per_hour", e))?,
        })
    }
}

impl Protocol for PeriodicBroadcast {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "changed_messages",
        doc: "messages that carried a change: the fraction that was news is this / messages",
    }];
    /// Which nodes are up this period.
    type Scratch = Vec<bool>;

    fn scratch(&self) -> Vec<bool> {
        vec![false; self.nodes as usize]
    }

    fn trial(&self, rng: &mut SimRng, up: &mut Vec<bool>) -> Outcome {
        let net = self.env.begin(rng);
        let live = net.up_each(rng, up);
        let others = u64::from(self.nodes.saturating_sub(1));
        let (mut changed, mut delivered, mut slowest) = (0u64, true, 0u64);
        for from in 0..self.nodes {
            if !up[from as usize] || !self.changed.happens(rng) {
                continue;
            }
            changed += 1;
            for to in (0..self.nodes).filter(|&to| to != from && up[to as usize]) {
                if net.lost(rng, from, to) {
                    delivered = false;
                } else {
                    slowest = slowest.max(net.delay_ns(rng, from, to));
                }
            }
        }
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = changed * others;
        let messages = live * others;
        let outcome = if delivered {
            Outcome::success(slowest, messages, 1)
        } else {
            Outcome::failure(messages, 1)
        };
        outcome.with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "periodic-broadcast",
    summary: "every node sends its state to every other every period: N(N - 1) / period msgs/s",
    model: model!(),
    params: &[
        ParamSpec {
            name: "period_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(100.0),
            doc: "time between broadcasts: messages per second = messages_mean x 1000 / this",
        },
        ParamSpec {
            name: "changes_per_hour",
            kind: ParamKind::Positive,
            default: Value::Positive(1.0),
            doc: "rate at which each node's state changes (Poisson)",
        },
    ],
    extras: PeriodicBroadcast::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(PeriodicBroadcast::new(
            setting.env().clone(),
            setting.nodes,
            params.period_ms,
            params.changes_per_hour,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    period_ms: f64,
    changes_per_hour: f64,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            period_ms: setting.millis("period_ms"),
            changes_per_hour: setting.positive("changes_per_hour"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn messages_per_second_are_n_n_minus_1_over_the_period() {
        // The essay: "30 nodes × 10/sec × 30 destinations = 9,000 msgs/sec"; a node does
        // not send to itself, so the model's count is 30 x 29 x 10 = 8,700.
        for (nodes, period_ms) in [(30u64, 100.0), (3, 1000.0), (1, 50.0)] {
            let trials = 1_000;
            let tally = run(
                "periodic-broadcast",
                &format!("nodes = {nodes}\nperiod_ms = {period_ms}"),
                "",
                trials,
            );
            let per_period = tally.messages_sum as f64 / trials as f64;
            let per_second = per_period * 1000.0 / period_ms;
            let expected = (nodes * (nodes - 1)) as f64 * 1000.0 / period_ms;
            assert!((per_second - expected).abs() < 1e-9, "{per_second}");
        }
        // The essay's case at the defaults (period 100 ms): 870 per period, 8,700 per second.
        let tally = run("periodic-broadcast", "nodes = 30", "", 10);
        assert_eq!(tally.messages_sum, 10 * 870);
    }

    #[test]
    fn live_nodes_send_and_changes_come_at_the_rate() {
        // Messages: Binomial(N, 1 - crash) live senders of N - 1 each. Changes: each live
        // sender's state changed with probability 1 - exp(-rate x period).
        let (nodes, crash, period_ms, per_hour) = (8u64, 0.1, 100.0, 7200.0);
        let trials = 200_000;
        let tally = run(
            "periodic-broadcast",
            &format!(
                "nodes = {nodes}\ncrash = {crash}\nperiod_ms = {period_ms}\n\
                 changes_per_hour = {per_hour}"
            ),
            "",
            trials,
        );
        let senders = (tally.messages_sum / u128::from(nodes - 1)) as u64;
        assert_rate(senders, nodes * trials, 1.0 - crash);
        let q = 1.0 - f64::exp(-per_hour * period_ms / 3.6e6);
        let changed = (tally.extras_sum[0] / u128::from(nodes - 1)) as u64;
        assert_rate(changed, nodes * trials, (1.0 - crash) * q);
    }

    #[test]
    fn success_needs_every_change_delivered() {
        // No crashes: C ~ Binomial(N, q) changed senders, each with N - 1 messages, so
        // P(success) = E[(1 - loss)^(C (N - 1))] = (1 - q + q (1 - loss)^(N - 1))^N.
        let (nodes, loss, period_ms, per_hour) = (6i32, 0.05f64, 100.0, 18_000.0);
        let q = 1.0 - f64::exp(-per_hour * period_ms / 3.6e6);
        let p = (1.0 - q + q * (1.0 - loss).powi(nodes - 1)).powi(nodes);
        let tally = run(
            "periodic-broadcast",
            &format!(
                "nodes = {nodes}\nloss = {loss}\nperiod_ms = {period_ms}\n\
                 changes_per_hour = {per_hour}"
            ),
            "",
            400_000,
        );
        assert_rate(tally.successes, tally.trials(), p);
    }

    #[test]
    fn rare_changes_make_almost_every_message_idle() {
        // Once an hour at 100 ms: q = 1 - e^(-1/36000) = 2.78e-5 of the messages are news.
        let trials = 200_000;
        let tally = run("periodic-broadcast", "nodes = 30", "", trials);
        let changed = (tally.extras_sum[0] / 29) as u64;
        assert_rate(changed, 30 * trials, -f64::exp_m1(-1.0 / 36_000.0));
        assert_eq!(tally.successes, trials);
    }
}
