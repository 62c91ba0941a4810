//! Sequencer: total order through one node, or one node per channel.
//!
//! The simplest way to make every node see messages in the same order is to send them all
//! through one sequencer that numbers and broadcasts them. Total order is then a queue: as
//! the message rate approaches the sequencer's capacity, waiting time explodes
//! (M/M/1: mean wait rho / (mu - lambda)). Partitioning the order by channel (a chat room
//! only needs order within the room) gives each channel its own sequencer and divides the
//! load.

use rand_distr::{Distribution, Exp};

use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Setting, Value,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: one message of a channel. Messages reach the channel's sequencer (node 0) as
a Poisson stream of rate rate_per_s / channels; the sequencer serves them in order, each for
an exponential time of mean service_ms (an M/M/1 queue, advanced from trial to trial by the
Lindley recursion and starting empty at each chunk of trials). The sender (the client) sends
the message to the sequencer, which after queueing and service broadcasts it to the other
N - 1 members (nodes 1..N). Each node is crashed with probability crash for the whole trial;
each message is lost independently with probability loss; a message that does not reach the
sequencer does not join its queue.
Success: every member gets the message.
Latency: send delay + queue wait + service + the slowest broadcast delay.
Messages: 1 + (N - 1). Rounds: 2.
queued: messages that joined the sequencer's queue (reached an up sequencer).
queue_wait_ns: time a queued message waited in the queue (0 for a message that never joined
it). The mean wait of a queued message is queue_wait_ns_mean / queued_mean, the M/M/1
rho / (mu - lambda); queue_wait_ns_mean alone is that times the fraction queued.
Time at the nodes (grid.persist, grid.process; none unless set): the sequencer's handling of
a message is its service time (process is not added there); after service it persists the
sequence number it assigned before broadcasting (a write outside the queue: it does not hold
up the next message's service); each member processes the broadcast before delivering it.
Latency: send delay + queue wait + service + persist + the slowest
broadcast delay plus processing."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Sequencer};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Sequencer::new(env, 5, 1000.0, 0.5, 1).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.messages, 5);
/// assert!(Sequencer::new(Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap(), 5, 3000.0, 0.5, 1).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Sequencer {
    env: Env,
    nodes: u32,
    interarrival: Exp<f64>,
    service: Exp<f64>,
}

impl Sequencer {
    /// A channel of `nodes` members among `channels` channels sharing `rate_per_s` messages
    /// per second, with a mean service time of `service_ms` per message.
    pub fn new(
        env: Env,
        nodes: u32,
        rate_per_s: f64,
        service_ms: f64,
        channels: u32,
    ) -> Result<Self, ModelError> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(ModelError::new("rate_per_s", "must be a finite number > 0"));
        }
        if !(service_ms.is_finite() && service_ms > 0.0) {
            return Err(ModelError::new("service_ms", "must be a finite number > 0"));
        }
        if channels == 0 {
            return Err(ModelError::new("channels", "needs at least one channel"));
        }
        let lambda_per_ns = rate_per_s / f64::from(channels) / 1e9;
        let service_ns = service_ms * NS_PER_MS;
        let rho = lambda_per_ns * service_ns;
        if rho >= 1.0 {
            return Err(ModelError::new(
                "rate_per_s",
                format!(
                    "load rho = rate_per_s / channels x service_ms = {rho:.3} >= 1: the queue \
                     would grow without bound"
                ),
            ));
        }
        let exp = |rate: f64| Exp::new(rate).map_err(|e| ModelError::new("rate_per_s", e));
        Ok(Self {
            env,
            nodes,
            interarrival: exp(lambda_per_ns)?,
            service: exp(1.0 / service_ns)?,
        })
    }
}

/// The queue: the wait of the next message to arrive, in ns.
#[derive(Debug, Default)]
pub struct Queue {
    wait_ns: f64,
}

impl Protocol for Sequencer {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "queue_wait_ns",
            doc: "time the message waited in the sequencer's queue, in ns (0 if never queued)",
        },
        Extra {
            name: "queued",
            doc: "messages that joined the queue: mean wait = queue_wait_ns / this",
        },
    ];
    type Scratch = Queue;

    fn scratch(&self) -> Queue {
        Queue::default()
    }

    fn trial(&self, rng: &mut SimRng, queue: &mut Queue) -> Outcome {
        let net = self.env.begin(rng);
        let messages = u64::from(self.nodes);
        if !net.up(rng, 0) || net.lost(rng, CLIENT, 0) {
            return Outcome::failure(1, 1);
        }
        let send = net.delay_ns(rng, CLIENT, 0);
        let wait = queue.wait_ns;
        let service = self.service.sample(rng);
        queue.wait_ns = (wait + service - self.interarrival.sample(rng)).max(0.0);
        let persist = net.persist_ns(rng);
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = wait as u64;
        extras[1] = 1;
        let mut slowest = 0;
        for member in 1..self.nodes {
            if !net.up(rng, member) || net.lost(rng, 0, member) {
                return Outcome::failure(messages, 2).with_extras(extras);
            }
            // Time at the nodes: 0, and nothing drawn, unless set.
            slowest = slowest.max(net.delay_ns(rng, 0, member) + net.process_ns(rng));
        }
        let ns = send + (wait + service) as u64 + persist + slowest;
        Outcome::success(ns, messages, 2).with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "sequencer",
    summary: "total order through a sequencer's queue; partitioned per channel",
    model: model!(),
    params: &[
        RATE_PER_S,
        SERVICE_MS,
        ParamSpec {
            name: "channels",
            kind: ParamKind::Count {
                min: 1,
                max: 1_000_000,
            },
            default: Value::Count(1),
            doc: "independent channels, each with its own sequencer (1: one global order)",
        },
    ],
    extras: Sequencer::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(Sequencer::new(
            setting.env().clone(),
            setting.nodes,
            params.rate_per_s,
            params.service_ms,
            params.channels,
        )?))
    },
};

/// Offered load (shared with `sharded-sequencer`).
pub(super) const RATE_PER_S: ParamSpec = ParamSpec {
    name: "rate_per_s",
    kind: ParamKind::Positive,
    default: Value::Positive(2000.0),
    doc: "messages per second over all channels",
};

/// Service time (shared with `sharded-sequencer`).
pub(super) const SERVICE_MS: ParamSpec = ParamSpec {
    name: "service_ms",
    kind: ParamKind::Millis { zero_ok: false },
    default: Value::Millis(0.25),
    doc: "mean time a sequencer spends on one message (exponential)",
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    rate_per_s: f64,
    service_ms: f64,
    channels: u32,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            rate_per_s: setting.positive(RATE_PER_S.name),
            service_ms: setting.millis(SERVICE_MS.name),
            channels: setting.count("channels"),
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
            |env| Sequencer::new(env, 5, 1000.0, 0.5, 1).unwrap(),
            4.5,
        );
    }

    use super::*;
    use crate::engine::CHUNK_TRIALS;
    use crate::latency::Exponential;
    use crate::model::Simulate;
    use crate::model::stats::assert_rate;
    use crate::model::tally::Tally;
    use crate::rng::stream;

    /// Per chunk: the mean queue wait of a queued message (queue_wait_ns / queued), and the
    /// fraction of messages queued. Chunks start empty and are independent replicates.
    fn chunk_means(
        rate_per_s: f64,
        service_ms: f64,
        channels: u32,
        crash: f64,
        loss: f64,
        chunks: u64,
    ) -> Vec<(f64, u64)> {
        let env = Env::new(crash, loss, Exponential::new(0.5).unwrap().into()).unwrap();
        let model = Sequencer::new(env, 3, rate_per_s, service_ms, channels).unwrap();
        (0..chunks)
            .map(|chunk| {
                let mut tally = Tally::empty();
                model.run(&mut stream(5, 0, chunk), CHUNK_TRIALS, &mut tally);
                let queued = tally.extras_sum[1] as u64;
                (tally.extras_sum[0] as f64 / queued as f64, queued)
            })
            .collect()
    }

    #[test]
    fn mean_wait_is_the_m_m_1_formula() {
        // rho = 0.5 and 0.8: the mean wait of a queued message is W_q = rho / (mu - lambda),
        // also when crashes and losses keep messages out of the queue (those add no wait and
        // are not counted as queued). Tolerance: 5 standard errors of the mean of independent
        // chunk means, plus the empty start's deficit, which is at most the relaxation time
        // 1 / (mu (1 - sqrt(rho))^2) times the wait, over a chunk's queued messages.
        for (rate, service_ms, channels, crash, loss) in [
            (2000.0, 0.25, 1u32, 0.0, 0.0),
            (8000.0, 0.4, 4, 0.0, 0.0),
            (8000.0, 0.4, 4, 0.1, 0.2),
        ] {
            let lambda = rate / f64::from(channels) / 1e9;
            let mu = 1.0 / (service_ms * 1e6);
            let rho = lambda / mu;
            let expected = rho / (mu - lambda);
            let chunks = chunk_means(rate, service_ms, channels, crash, loss, 200);
            // A message joins the queue iff the sequencer is up and the send is not lost.
            let queued: u64 = chunks.iter().map(|c| c.1).sum();
            assert_rate(queued, 200 * CHUNK_TRIALS, (1.0 - crash) * (1.0 - loss));
            let fewest = chunks.iter().map(|c| c.1).min().unwrap();
            let means: Vec<f64> = chunks.iter().map(|c| c.0).collect();
            let k = means.len() as f64;
            let mean = means.iter().sum::<f64>() / k;
            let sd = (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
            let relaxation = 1.0 / (mu * (1.0 - rho.sqrt()).powi(2)) * lambda;
            let warmup = expected * relaxation / fewest as f64;
            let tolerance = 5.0 * sd / k.sqrt() + warmup;
            assert!(
                (mean - expected).abs() <= tolerance,
                "rho {rho}, crash {crash}, loss {loss}: mean wait {mean} ns, expected \
                 {expected} +- {tolerance}"
            );
        }
    }

    #[test]
    fn overload_is_refused() {
        let env = Env::new(0.0, 0.0, Exponential::new(0.5).unwrap().into()).unwrap();
        let e = Sequencer::new(env, 3, 10_000.0, 0.25, 2).unwrap_err();
        assert_eq!(e.param, "rate_per_s");
        assert!(e.message.contains("1.250"), "{}", e.message);
    }
}
