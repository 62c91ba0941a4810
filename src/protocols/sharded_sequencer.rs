//! Sharded sequencers: C channels hashed over S sequencers, with failover by rehashing.
//!
//! One global sequencer orders everything, so every message queues behind every other: as the
//! total rate nears its capacity the wait explodes, and its crash stops all traffic. Slack's
//! answer is order per channel: hash the channels over S sequencers, so that each carries
//! about C / S channels' load, and when one crashes, rehash its channels over the rest. A
//! message of a crashed sequencer's channel waits for the failover; the survivors carry more.
//!
//! The trial is sampled directly: a sequencer's queue is in its steady state (an M/M/1 queue
//! whose wait is 0 with probability 1 - rho, and exponential of rate mu - lambda otherwise),
//! so no queue is advanced from trial to trial.

use rand_distr::{Distribution, Exp};

use super::sequencer::{RATE_PER_S, SERVICE_MS};
use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Setting, Value,
};
use crate::latency::NS_PER_MS;
use crate::order;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: one message of channel 0 of `channels` channels, hashed uniformly at random
over `sequencers` sequencers, which share rate_per_s messages per second equally by channel.
Each sequencer is crashed with probability crash for the whole trial; L of them are up (none
up: a failure). If channel 0's sequencer is down, the message waits failover_ms while the
crashed sequencers' channels are rehashed uniformly over the L live ones. Either way every
other channel ends on the message's sequencer with probability 1/L, so that sequencer carries
k = 1 + Binomial(channels - 1, 1/L) channels, lambda = rate_per_s k / channels messages per
second. With mu = 1 / service_ms and rho = lambda / mu, a sequencer with rho >= 1 is saturated
(its queue grows without bound: a failure); otherwise the message waits in its steady state,
0 with probability 1 - rho and Exp(mu - lambda) otherwise, and is served for Exp(mu). The
sender (the client) sends to the sequencer, which broadcasts to the other N - 1 members of
the channel (nodes 1..N), each crashed with probability crash; each message is lost with
probability loss.
Success: the sequencer is not saturated and every member gets the message.
Latency: send delay + failover (if any) + queue wait + service + the slowest broadcast delay.
Messages: 1 + (N - 1). Rounds: 2.
utilization_ppm: rho of the message's sequencer, in parts per million (mean rho =
utilization_ppm_mean / 10^6). failed_over: 1 if channel 0's sequencer was down.
With one sequencer and one channel this is a global sequencer: rho = rate_per_s x service_ms.
Time at the nodes (grid.persist, grid.process; none unless set): the sequencer's handling of
a message is its service time (process is not added there); after service it persists the
sequence number it assigned before broadcasting (a write outside the queue: it does not hold
up the next message's service); each member processes the broadcast before delivering it.
Latency: send delay + failover (if any) + queue wait + service + persist + the slowest
broadcast delay plus processing."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::ShardedSequencer;
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = ShardedSequencer::new(env, 3, 100, 10, 50_000.0, 0.01, 1000.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!(outcome.messages, 3);
/// ```
#[derive(Debug, Clone)]
pub struct ShardedSequencer {
    env: Env,
    nodes: u32,
    channels: u32,
    sequencers: u32,
    /// Offered load of all channels on one sequencer: rate_per_s x service time in s.
    load: f64,
    /// Service rate per ns.
    mu: f64,
    service: Exp<f64>,
    failover_ns: u64,
}

impl ShardedSequencer {
    /// A channel of `nodes` members among `channels` channels over `sequencers` sequencers,
    /// sharing `rate_per_s` messages per second, served in `service_ms` on average, with a
    /// failover of `failover_ms`.
    pub fn new(
        env: Env,
        nodes: u32,
        channels: u32,
        sequencers: u32,
        rate_per_s: f64,
        service_ms: f64,
        failover_ms: f64,
    ) -> Result<Self, ModelError> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(ModelError::new("rate_per_s", "must be a finite number > 0"));
        }
        if !(service_ms.is_finite() && service_ms > 0.0) {
            return Err(ModelError::new("service_ms", "must be a finite number > 0"));
        }
        if !(failover_ms.is_finite() && failover_ms >= 0.0) {
            return Err(ModelError::new(
                "failover_ms",
                "must be a finite number >= 0",
            ));
        }
        let failover_ns = failover_ms * NS_PER_MS;
        if failover_ns >= crate::model::tally::LATENCY_MAX_NS as f64 {
            return Err(ModelError::new(
                "failover_ms",
                "beyond the latency histograms' range (one hour)",
            ));
        }
        let service_ns = service_ms * NS_PER_MS;
        let mu = 1.0 / service_ns;
        Ok(Self {
            env,
            nodes,
            channels,
            sequencers,
            load: rate_per_s * service_ms / 1e3,
            mu,
            service: Exp::new(mu).map_err(|e| ModelError::new("service_ms", e))?,
            failover_ns: failover_ns as u64,
        })
    }
}

impl Protocol for ShardedSequencer {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "utilization_ppm",
            doc: "rho of the message's sequencer, in parts per million",
        },
        Extra {
            name: "failed_over",
            doc: "1 if channel 0's sequencer was down and its channels were rehashed",
        },
    ];
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let messages = u64::from(self.nodes);
        let up = 1.0 - self.env.crash().probability();
        let live = order::binomial(rng, u64::from(self.sequencers), up);
        if live == 0 {
            return Outcome::failure(1, 1);
        }
        // Sequencers are exchangeable: channel 0's is down with probability (S - L) / S.
        let dead = u64::from(self.sequencers) - live;
        let failed_over =
            dead > 0 && order::binomial(rng, 1, dead as f64 / f64::from(self.sequencers)) == 1;
        let k = 1 + order::binomial(rng, u64::from(self.channels - 1), 1.0 / live as f64);
        // rho = load x k / channels. Saturation compares before dividing, so a sequencer
        // carrying exactly its capacity (load x k = channels) is saturated, not 1 ulp short.
        let offered = self.load * k as f64;
        let saturated = offered >= f64::from(self.channels);
        let rho = offered / f64::from(self.channels);
        let lambda = rho * self.mu;
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = (rho * 1e6).round().min(u64::MAX as f64) as u64;
        extras[1] = u64::from(failed_over);
        if saturated || net.lost(rng, CLIENT, 0) {
            return Outcome::failure(1, 1).with_extras(extras);
        }
        let send = net.delay_ns(rng, CLIENT, 0);
        let queued = order::binomial(rng, 1, rho) == 1;
        let wait = if queued {
            Exp::new(self.mu - lambda)
                .expect("mu > lambda when not saturated")
                .sample(rng)
        } else {
            0.0
        };
        let service = self.service.sample(rng);
        let persist = net.persist_ns(rng);
        let mut slowest = 0;
        for member in 1..self.nodes {
            if !net.up(rng, member) || net.lost(rng, 0, member) {
                return Outcome::failure(messages, 2).with_extras(extras);
            }
            // Time at the nodes: 0, and nothing drawn, unless set.
            slowest = slowest.max(net.delay_ns(rng, 0, member) + net.process_ns(rng));
        }
        let failover = if failed_over { self.failover_ns } else { 0 };
        let ns = send
            .saturating_add(failover)
            .saturating_add((wait + service) as u64)
            .saturating_add(persist)
            .saturating_add(slowest);
        Outcome::success(ns, messages, 2).with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "sharded-sequencer",
    summary: "channels hashed over sequencers, rehashed when one crashes (Slack's case)",
    model: model!(),
    params: &[
        ParamSpec {
            name: "channels",
            kind: ParamKind::Count {
                min: 1,
                max: 1_000_000,
            },
            default: Value::Count(100),
            doc: "channels, each ordered by one sequencer",
        },
        ParamSpec {
            name: "sequencers",
            kind: ParamKind::Count {
                min: 1,
                max: 1_000_000,
            },
            default: Value::Count(10),
            doc: "sequencers the channels are hashed over (1: one global sequencer)",
        },
        ParamSpec {
            default: Value::Positive(50_000.0),
            ..RATE_PER_S
        },
        ParamSpec {
            default: Value::Millis(0.01),
            ..SERVICE_MS
        },
        ParamSpec {
            name: "failover_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(1000.0),
            doc: "time to detect a crashed sequencer and rehash its channels",
        },
    ],
    extras: ShardedSequencer::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(ShardedSequencer::new(
            setting.env().clone(),
            setting.nodes,
            params.channels,
            params.sequencers,
            params.rate_per_s,
            params.service_ms,
            params.failover_ms,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    channels: u32,
    sequencers: u32,
    rate_per_s: f64,
    service_ms: f64,
    failover_ms: f64,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            channels: setting.count("channels"),
            sequencers: setting.count("sequencers"),
            rate_per_s: setting.positive(RATE_PER_S.name),
            service_ms: setting.millis(SERVICE_MS.name),
            failover_ms: setting.millis("failover_ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_time_adds_a_persist_and_a_members_processing() {
        // The sequencer persists the number it assigned (p = 4 ms) and a member processes
        // the broadcast (q = 0.5 ms): exactly p + q longer, the queue and service unchanged.
        crate::protocols::tests::assert_node_time_shifts(
            |env| super::ShardedSequencer::new(env, 5, 100, 10, 50_000.0, 0.01, 1000.0).unwrap(),
            4.5,
        );
    }

    use super::*;
    use crate::latency::Constant;
    use crate::model::Simulate;
    use crate::model::stats::assert_rate;
    use crate::model::tally::Tally;
    use crate::rng::stream;

    const TRIALS: u64 = 400_000;

    fn run(
        crash: f64,
        channels: u32,
        sequencers: u32,
        rate: f64,
        service_ms: f64,
        failover_ms: f64,
    ) -> Tally {
        let env = Env::new(crash, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
        let model =
            ShardedSequencer::new(env, 1, channels, sequencers, rate, service_ms, failover_ms)
                .unwrap();
        let mut tally = Tally::empty();
        model.run(&mut stream(9, 0, 0), TRIALS, &mut tally);
        tally
    }

    #[test]
    fn a_global_sequencer_has_the_m_m_1_sojourn() {
        // One sequencer, one channel, rho = 0.8: latency = send (1 ms) + wait + service, whose
        // mean is 1 / (mu - lambda) = 0.05 ms at a service of 0.01 ms. Its standard deviation
        // is also 1 / (mu - lambda) (the M/M/1 sojourn is exponential): 5 standard errors.
        let t = run(0.0, 1, 1, 80_000.0, 0.01, 0.0);
        assert_eq!(t.successes, TRIALS);
        let mean_ms = t.latency_sum_ns as f64 / TRIALS as f64 / 1e6;
        let sojourn = 1.0 / (1.0 / 0.01 - 80.0);
        let tolerance = 5.0 * sojourn / (TRIALS as f64).sqrt();
        assert!((mean_ms - 1.0 - sojourn).abs() < tolerance, "{mean_ms}");
        assert_eq!(t.extras_sum[0], u128::from(TRIALS) * 800_000);
        // Past capacity every message fails.
        let saturated = run(0.0, 1, 1, 120_000.0, 0.01, 0.0);
        assert_eq!(saturated.successes, 0);
    }

    #[test]
    fn channels_share_sequencers_and_failover_comes_at_the_crash_rate() {
        // 100 channels over 10 sequencers, none crashed: k = 1 + Bin(99, 1/10), so the mean
        // utilization is (1 + 9.9) / 100 x rate x service.
        let t = run(0.0, 100, 10, 50_000.0, 0.01, 1000.0);
        let rho_mean = t.extras_sum[0] as f64 / 1e6 / TRIALS as f64;
        let expected = 10.9 / 100.0 * 50_000.0 * 0.01e-3;
        // k's standard deviation is sqrt(99 x 0.09) = 2.98 channels.
        let tolerance = 5.0 * (2.98 / 100.0 * 50_000.0 * 0.01e-3) / (TRIALS as f64).sqrt();
        assert!((rho_mean - expected).abs() < tolerance, "{rho_mean}");
        assert_eq!(t.extras_sum[1], 0);
        // With crashes, channel 0's sequencer is down at the crash rate (among trials with a
        // live sequencer, almost all of them here), and each failover adds its wait.
        let t = run(0.1, 100, 10, 50_000.0, 0.01, 1000.0);
        let failed_over = t.extras_sum[1] as u64;
        assert_rate(failed_over, t.trials(), 0.1);
        let slow = t.latency_ns().count_between(900_000_000, u64::MAX);
        assert_eq!(slow, failed_over);
    }

    #[test]
    fn a_sequencer_at_exactly_its_capacity_is_saturated() {
        // 1,000 channels over 10 sequencers at 1,000,000 messages/s and 0.01 ms of service:
        // a sequencer with k channels is at rho = k / 100, saturated from k = 100 on. So a
        // message fails exactly when 1 + Bin(999, 1/10) >= 100, and no success waits long.
        use statrs::distribution::{Binomial, DiscreteCDF};
        let t = run(0.0, 1000, 10, 1_000_000.0, 0.01, 0.0);
        let p_saturated = Binomial::new(0.1, 999).unwrap().sf(98);
        assert_rate(TRIALS - t.successes, TRIALS, p_saturated);
        assert!(
            t.latency_ns().max() < 1_000_000_000,
            "{}",
            t.latency_ns().max()
        );
    }
}
