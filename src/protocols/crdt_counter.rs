//! CRDT counter: updated locally, converged by anti-entropy.
//!
//! A grow-only counter (G-counter) keeps one count per replica; a replica increments its own
//! entry without asking anyone, and two states merge by taking each entry's maximum. A
//! PN-counter is two of them, one for increments and one for decrements. No update waits for
//! coordination: the write costs nothing on its path. The price is paid in the background:
//! replicas exchange their whole state with random peers every round (anti-entropy) until
//! every replica has seen every update, and each message carries N (or 2N) counts.

use rand::RngExt;

use super::gossip::{MAX_ROUNDS, ROUND_MS};
use super::{
    Choice, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamSpec, Protocol, ProtocolInfo,
    Setting, Value, choice,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: replica 0 increments its counter at time 0, locally (the write waits for no
message), and anti-entropy spreads it. In every synchronous round of round_ms each live
replica sends its whole state to one replica chosen uniformly among the other N - 1 (a
request), and a live replica that receives a request answers with its own state (a
response); a replica that receives a state merges it (entry-wise maximum), so it has the
increment if the sender had it at the start of the round. Replica 0 is up; every other
replica is down for the whole trial with probability crash, or with its zone (zones,
zone_crash); with probability partition the replicas split in two and every message across
the cut is lost; each other message is lost independently with probability loss. The latency
model plays no part: every round lasts round_ms.
Success: every live replica has the increment within max_rounds rounds (converged).
Latency: time to convergence, rounds x round_ms (the increment itself takes no time).
Messages: requests and responses sent until convergence (or the cap): a request per live
replica per round, and a response per request that reaches a live replica; 2 x live replicas
x rounds with no loss. Rounds: rounds played.
The spread is that of push-pull gossip with fanout 1 (its rounds have the same law), but
every live replica sends every round, informed or not: anti-entropy does not know which
replicas lack an update.
bytes: the bytes of every message sent, each carrying the whole state: 8 N bytes (one 64-bit
count per replica) for counter = \"g-counter\", 16 N for \"pn-counter\"."
    };
}

choice! {
    /// Which counter CRDT, which sets a state's size.
    pub enum Counter {
        /// Grow-only: one count per replica.
        GCounter = "g-counter",
        /// Increments and decrements: two counts per replica.
        PnCounter = "pn-counter",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{CrdtCounter, CrdtCounterKind};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// // Two replicas converge in one round: a request and a response of 2 x 8 bytes each.
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = CrdtCounter::new(env, 2, CrdtCounterKind::GCounter, 10.0, 100).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// assert_eq!((outcome.latency_ns, outcome.messages, outcome.extras[0]), (10_000_000, 4, 64));
/// ```
#[derive(Debug, Clone)]
pub struct CrdtCounter {
    env: Env,
    nodes: u32,
    state_bytes: u64,
    round_ns: u64,
    max_rounds: u32,
}

/// Per replica: up or not, and the round it got the increment in (`u32::MAX`: not yet).
#[derive(Debug, Default)]
pub struct Replicas {
    up: Vec<bool>,
    informed_in: Vec<u32>,
}

impl CrdtCounter {
    /// A counter of kind `counter` on `nodes` replicas, anti-entropy every `round_ms`, for at
    /// most `max_rounds` rounds.
    pub fn new(
        env: Env,
        nodes: u32,
        counter: Counter,
        round_ms: f64,
        max_rounds: u32,
    ) -> Result<Self, ModelError> {
        if !(round_ms.is_finite() && round_ms > 0.0) {
            return Err(ModelError::new("round_ms", "must be a finite number > 0"));
        }
        let per_replica = match counter {
            Counter::GCounter => 8,
            Counter::PnCounter => 16,
        };
        Ok(Self {
            env,
            nodes,
            state_bytes: per_replica * u64::from(nodes),
            round_ns: (round_ms * NS_PER_MS) as u64,
            max_rounds,
        })
    }
}

impl Protocol for CrdtCounter {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "bytes",
        doc: "bytes of every message sent: each carries the whole state, 8 N or 16 N bytes",
    }];
    type Scratch = Replicas;

    fn scratch(&self) -> Replicas {
        Replicas {
            up: vec![false; self.nodes as usize],
            informed_in: vec![u32::MAX; self.nodes as usize],
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut Replicas) -> Outcome {
        let net = self.env.begin(rng);
        let mut live = 1u32;
        s.up[0] = true;
        s.informed_in[0] = 0;
        for node in 1..self.nodes {
            s.up[node as usize] = net.up(rng, node);
            live += u32::from(s.up[node as usize]);
            s.informed_in[node as usize] = u32::MAX;
        }
        let (mut informed, mut messages, mut round) = (1u32, 0u64, 0u32);
        while informed < live && round < self.max_rounds {
            round += 1;
            for caller in (0..self.nodes).filter(|&n| s.up[n as usize]) {
                let t = rng.random_range(0..self.nodes - 1);
                let callee = if t >= caller { t + 1 } else { t };
                messages += 1;
                if !s.up[callee as usize] || net.lost(rng, caller, callee) {
                    continue;
                }
                // Each side merges what the other had at the start of the round.
                let (c, e) = (caller as usize, callee as usize);
                let (had_caller, had_callee) = (s.informed_in[c] < round, s.informed_in[e] < round);
                if had_caller && s.informed_in[e] == u32::MAX {
                    s.informed_in[e] = round;
                    informed += 1;
                }
                messages += 1;
                if net.lost(rng, callee, caller) {
                    continue;
                }
                if had_callee && s.informed_in[c] == u32::MAX {
                    s.informed_in[c] = round;
                    informed += 1;
                }
            }
        }
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = messages.saturating_mul(self.state_bytes);
        let outcome = if informed == live {
            Outcome::success(
                u64::from(round).saturating_mul(self.round_ns),
                messages,
                round,
            )
        } else {
            Outcome::failure(messages, round)
        };
        outcome.with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "crdt-counter",
    summary: "a G- or PN-counter updated locally and converged by anti-entropy",
    model: model!(),
    params: &[
        ParamSpec {
            name: "counter",
            kind: Counter::KIND,
            default: Value::Choice(Counter::GCounter.word()),
            doc: "\"g-counter\": a count per replica (8 N bytes); \"pn-counter\": two (16 N)",
        },
        ParamSpec {
            doc: "length of an anti-entropy round",
            ..ROUND_MS
        },
        MAX_ROUNDS,
    ],
    extras: CrdtCounter::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(CrdtCounter::new(
            setting.env().clone(),
            setting.nodes,
            params.counter,
            params.round_ms,
            params.max_rounds,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    counter: Counter,
    round_ms: f64,
    max_rounds: u32,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            counter: setting.choice("counter"),
            round_ms: setting.millis(ROUND_MS.name),
            max_rounds: setting.count(MAX_ROUNDS.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Counter, CrdtCounter};
    use crate::latency::Exponential;
    use crate::model::Env;
    use crate::model::stats::{assert_rate, ks_critical, ks_statistic};
    use crate::protocols::tests::{draws, run};
    use crate::protocols::{Gossip, GossipMode};

    #[test]
    fn convergence_has_the_law_of_push_pull_gossip() {
        // The increment spreads as a push-pull rumor with fanout 1: the rounds to convergence
        // of the two models agree (two-sample Kolmogorov-Smirnov at significance 0.001).
        for (nodes, crash, loss) in [(50u32, 0.0, 0.0), (200, 0.05, 0.02)] {
            let env = Env::new(crash, loss, Exponential::new(0.5).unwrap().into()).unwrap();
            let crdt = CrdtCounter::new(env.clone(), nodes, Counter::GCounter, 10.0, 200).unwrap();
            let gossip = Gossip::new(env, nodes, GossipMode::PushPull, 1, 200, 10.0).unwrap();
            let trials = 20_000;
            let (a, mut la, _) = draws(&crdt, trials, 1);
            let (b, mut lb, _) = draws(&gossip, trials, 2);
            assert_eq!((a[0], b[0]), (trials, trials), "every trial converges");
            let d = ks_statistic(&mut la, &mut lb);
            let critical = ks_critical(la.len(), lb.len(), 0.001);
            assert!(d <= critical, "N = {nodes}: KS D = {d} > {critical}");
        }
    }

    #[test]
    fn every_live_replica_sends_every_round() {
        // No loss or crash: 2 messages per replica per round, each of 8 N (16 N) bytes.
        for (counter, per_replica) in [("g-counter", 8u128), ("pn-counter", 16)] {
            let nodes = 40u128;
            let tally = run(
                "crdt-counter",
                &format!("nodes = {nodes}\ncounter = \"{counter}\""),
                "",
                2_000,
            );
            assert_eq!(tally.successes, 2_000);
            assert_eq!(tally.messages_sum, 2 * nodes * tally.rounds_sum);
            assert_eq!(
                tally.extras_sum[0],
                tally.messages_sum * per_replica * nodes
            );
            // Latency: rounds x 10 ms.
            assert_eq!(tally.latency_sum_ns, tally.rounds_sum * 10_000_000);
        }
    }

    #[test]
    fn two_replicas_converge_in_a_round_at_the_closed_form_rate() {
        // In a round, replica 0's request reaches replica 1 (1 - l), or it is lost and
        // replica 1's request reaches replica 0 and the reply carries the increment back
        // (l (1 - l)^2). One round allowed: success with that probability.
        let loss = 0.3f64;
        let p_round = (1.0 - loss) + loss * (1.0 - loss).powi(2);
        let trials = 200_000;
        let tally = run(
            "crdt-counter",
            &format!("nodes = 2\nloss = {loss}\nmax_rounds = 1"),
            "",
            trials,
        );
        assert_rate(tally.successes, trials, p_round);
    }
}
