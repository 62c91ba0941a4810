//! PBFT: Byzantine agreement with 3f + 1 replicas and quadratic messages.
//!
//! Practical Byzantine Fault Tolerance (Castro and Liskov, 1999) tolerates f replicas that
//! lie, not just crash, with n = 3f + 1. The primary orders a request (PRE-PREPARE); every
//! replica tells every other that it saw that order (PREPARE), and once 2f + 1 agree, that it
//! is ready to commit (COMMIT); the client trusts f + 1 matching replies. The all-to-all
//! phases make every request cost about 2 n^2 messages: Byzantine agreement is the top, and
//! most expensive, rung of the coordination ladder.

use super::{
    CLIENT, Choice, Env, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo,
    Setting, Value, choice, kth_smallest,
};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a client sends a request to the primary (node 0) of N replicas, tolerating
f = (N - 1) / 3 faults (0 below 4 replicas). The primary sends PRE-PREPARE to the N - 1 backups; each backup with
the PRE-PREPARE sends PREPARE to the N - 1 other replicas; a replica is prepared with the
PRE-PREPARE and 2f matching PREPAREs from backups (its own included); each prepared replica
sends COMMIT to the N - 1 others and commits with 2f + 1 matching COMMITs (its own included);
each committed replica replies to the client, which accepts f + 1 matching replies.
The last `byzantine` replicas are faulty: silent ones send nothing; equivocating ones send
PREPARE, COMMIT and a reply that match no one. The primary is never Byzantine in this model
(byzantine must be below N, and faulty replicas are always backups), so a lying primary and
the view change it would force are not measured. Each correct replica is crashed with
probability crash for the whole trial (a down primary fails the trial: no view change is
modeled); each message is lost independently with probability loss.
Success: the client accepts f + 1 matching replies. With no loss and no byzantine replicas,
P = (1 - crash) P(Binomial(N - 1, 1 - crash) >= 2f).
Latency: from the client's send to the (f + 1)-th matching reply.
Messages: 1 + (N - 1) + (N - 1)^2 + N (N - 1) + N with no failures. Rounds: 5.
Time at the nodes (grid.persist, grid.process; none unless set): every message (the request,
PRE-PREPARE, PREPARE, COMMIT and reply) is processed at its receiver before it counts there
(a backup sends its PREPARE once it processed the PRE-PREPARE); a prepared replica persists
its log (the PRE-PREPARE and PREPAREs that prepared it) before sending COMMIT, and a
committed replica persists its COMMITs before replying. With constant delay d, persist p and
process q and no failures, a request takes 5d + 5q + 2p from N = 4 on."
    };
}

choice! {
    /// What a faulty replica does.
    pub enum Behavior {
        /// Sends nothing.
        Silent = "silent",
        /// Sends every message, with contents that match no one's.
        Equivocating = "equivocating",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Pbft, PbftBehavior};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Pbft::new(env, 4, 1, PbftBehavior::Silent).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.status, outcome.latency_ns), (Status::Success, 5_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct Pbft {
    env: Env,
    nodes: u32,
    f: u32,
    byzantine: u32,
    behavior: Behavior,
}

impl Pbft {
    /// PBFT among `nodes` replicas, the last `byzantine` of them faulty. Below 4 replicas
    /// f = 0: the protocol runs but tolerates no fault.
    pub fn new(
        env: Env,
        nodes: u32,
        byzantine: u32,
        behavior: Behavior,
    ) -> Result<Self, ModelError> {
        if byzantine >= nodes {
            return Err(ModelError::new(
                "byzantine",
                format!(
                    "byzantine = {byzantine} must be below nodes = {nodes} (the primary is correct)"
                ),
            ));
        }
        Ok(Self {
            env,
            nodes,
            f: (nodes - 1) / 3,
            byzantine,
            behavior,
        })
    }

    fn faulty(&self, node: u32) -> bool {
        node >= self.nodes - self.byzantine
    }
}

/// Per replica: up, PRE-PREPARE arrival, prepared and committed times; a buffer of arrivals.
#[derive(Debug, Default)]
pub struct PbftScratch {
    up: Vec<bool>,
    pre_prepared: Vec<u64>,
    prepared: Vec<u64>,
    committed: Vec<u64>,
    arrivals: Vec<u64>,
}

const NEVER: u64 = u64::MAX;

/// The `k`-th smallest of `values`: 0 if `k` is 0, NEVER if there are fewer than `k`.
fn kth(values: &mut [u64], k: usize) -> u64 {
    match k {
        0 => 0,
        k if values.len() < k => NEVER,
        k => kth_smallest(values, k),
    }
}

impl Protocol for Pbft {
    type Scratch = PbftScratch;

    fn scratch(&self) -> PbftScratch {
        let n = self.nodes as usize;
        PbftScratch {
            up: vec![false; n],
            pre_prepared: vec![NEVER; n],
            prepared: vec![NEVER; n],
            committed: vec![NEVER; n],
            arrivals: Vec::with_capacity(n),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut PbftScratch) -> Outcome {
        let net = self.env.begin(rng);
        let (n, f) = (self.nodes, self.f as usize);
        for node in 0..n {
            s.up[node as usize] = self.faulty(node) || net.up(rng, node);
        }
        let mut messages = 1u64;
        if !s.up[0] || net.lost(rng, CLIENT, 0) {
            return Outcome::failure(messages, 1);
        }
        let equivocates = self.behavior == Behavior::Equivocating;
        // Does `node` send the all-to-all messages of a phase (matching or not)?
        let speaks = |node: u32, correct_ready: bool| {
            if self.faulty(node) {
                equivocates
            } else {
                correct_ready
            }
        };
        // PRE-PREPARE.
        // Time at the nodes (process_ns, persist_ns): 0, and nothing drawn, unless set.
        s.pre_prepared[0] = net.delay_ns(rng, CLIENT, 0) + net.process_ns(rng);
        for b in 1..n {
            messages += 1;
            let arrives = s.up[b as usize] && !net.lost(rng, 0, b);
            s.pre_prepared[b as usize] = if arrives {
                s.pre_prepared[0] + net.delay_ns(rng, 0, b) + net.process_ns(rng)
            } else {
                NEVER
            };
        }
        // PREPARE: backups with the PRE-PREPARE send to all others.
        for i in 0..n {
            s.arrivals.clear();
            for j in (1..n).filter(|&j| j != i) {
                if !speaks(j, s.pre_prepared[j as usize] != NEVER) {
                    continue;
                }
                messages += 1;
                let counts = !self.faulty(j) && !self.faulty(i) && s.up[i as usize];
                if counts && !net.lost(rng, j, i) {
                    s.arrivals.push(
                        s.pre_prepared[j as usize] + net.delay_ns(rng, j, i) + net.process_ns(rng),
                    );
                }
            }
            let own = usize::from(i != 0);
            let needed = (2 * f).saturating_sub(own);
            let quorum = if needed == 0 {
                0
            } else {
                kth(&mut s.arrivals, needed)
            };
            let pp = s.pre_prepared[i as usize];
            // Its log durable, it sends COMMIT.
            s.prepared[i as usize] = if self.faulty(i) || pp == NEVER || quorum == NEVER {
                NEVER
            } else {
                pp.max(quorum) + net.persist_ns(rng)
            };
        }
        // COMMIT: prepared replicas send to all others.
        for i in 0..n {
            s.arrivals.clear();
            for j in (0..n).filter(|&j| j != i) {
                if !speaks(j, s.prepared[j as usize] != NEVER) {
                    continue;
                }
                messages += 1;
                let counts = !self.faulty(j) && !self.faulty(i) && s.up[i as usize];
                if counts && !net.lost(rng, j, i) {
                    s.arrivals.push(
                        s.prepared[j as usize] + net.delay_ns(rng, j, i) + net.process_ns(rng),
                    );
                }
            }
            let quorum = kth(&mut s.arrivals, 2 * f);
            let prepared = s.prepared[i as usize];
            // Its COMMITs durable, it replies.
            s.committed[i as usize] = if prepared == NEVER || quorum == NEVER {
                NEVER
            } else {
                prepared.max(quorum) + net.persist_ns(rng)
            };
        }
        // REPLY: committed replicas answer the client.
        s.arrivals.clear();
        for i in 0..n {
            if !speaks(i, s.committed[i as usize] != NEVER) {
                continue;
            }
            messages += 1;
            if !self.faulty(i) && !net.lost(rng, i, CLIENT) {
                s.arrivals.push(
                    s.committed[i as usize] + net.delay_ns(rng, i, CLIENT) + net.process_ns(rng),
                );
            }
        }
        match kth(&mut s.arrivals, f + 1) {
            NEVER => Outcome::failure(messages, 5),
            ns => Outcome::success(ns, messages, 5),
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "pbft",
    summary: "Byzantine agreement: n = 3f + 1, pre-prepare/prepare/commit, ~2 n^2 messages",
    model: model!(),
    params: &[
        ParamSpec {
            name: "byzantine",
            kind: ParamKind::Count {
                min: 0,
                max: 1_000_000,
            },
            default: Value::Count(0),
            doc: "faulty replicas (the last ones; the primary is correct)",
        },
        ParamSpec {
            name: "behavior",
            kind: Behavior::KIND,
            default: Value::Choice(Behavior::Silent.word()),
            doc: "what the faulty replicas do",
        },
    ],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(Pbft::new(
            setting.env().clone(),
            setting.nodes,
            params.byzantine,
            params.behavior,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    byzantine: u32,
    behavior: Behavior,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            byzantine: setting.count("byzantine"),
            behavior: setting.choice("behavior"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Binomial, DiscreteCDF};

    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn node_time_adds_up_step_by_step() {
        // Constant delay d = 1, persist p = 4, process q = 0.5 (ms), no failures: request,
        // PRE-PREPARE, PREPARE, COMMIT and reply each take d + q, and two writes (before
        // COMMIT, before the reply): 5d + 5q + 2p. Below 4 replicas (f = 0) a replica needs
        // no PREPARE or COMMIT of others: the primary replies at d + q + 2p, 2d + 2q + 2p.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let latency = crate::protocols::tests::constant_node_time(d, p, q);
        let ms = |x: f64| (x * 1e6) as u64;
        for (nodes, expected) in [
            (4, 5.0 * (d + q) + 2.0 * p),
            (7, 5.0 * (d + q) + 2.0 * p),
            (3, 2.0 * (d + q) + 2.0 * p),
        ] {
            let tally = run(
                "pbft",
                &format!("nodes = {nodes}\npersist = \"p\"\nprocess = \"q\""),
                &latency,
                1000,
            );
            assert_eq!(tally.successes, 1000, "N = {nodes}");
            assert_eq!(tally.latency_max_ns, ms(expected), "N = {nodes}");
            assert_eq!(tally.latency_sum_ns, 1000 * u128::from(ms(expected)));
        }
    }

    #[test]
    fn messages_follow_the_protocol_count() {
        for f in 1..=4u64 {
            let n = 3 * f + 1;
            let tally = run("pbft", &format!("nodes = {n}"), "", 200);
            let per_request = 1 + (n - 1) + (n - 1) * (n - 1) + n * (n - 1) + n;
            assert_eq!(tally.successes, 200);
            assert_eq!(tally.messages_sum, 200 * u128::from(per_request), "n = {n}");
        }
    }

    #[test]
    fn f_byzantine_replicas_are_tolerated_and_f_plus_1_are_not() {
        for behavior in ["silent", "equivocating"] {
            let grid = |b| format!("nodes = 7\nbyzantine = {b}\nbehavior = \"{behavior}\"");
            assert_eq!(
                run("pbft", &grid(2), "", 1_000).successes,
                1_000,
                "{behavior}"
            );
            assert_eq!(run("pbft", &grid(3), "", 1_000).successes, 0, "{behavior}");
        }
        // Equivocators still send: n - 1 PREPAREs and COMMITs and a reply each.
        let silent = run("pbft", "nodes = 4\nbyzantine = 1", "", 100).messages_max;
        let loud = run(
            "pbft",
            "nodes = 4\nbyzantine = 1\nbehavior = \"equivocating\"",
            "",
            100,
        )
        .messages_max;
        assert_eq!(loud - silent, 3 + 3 + 1);
    }

    #[test]
    fn availability_needs_the_primary_and_2f_backups() {
        let (n, crash) = (7u64, 0.15);
        let tally = run(
            "pbft",
            &format!("nodes = {n}\ncrash = {crash}"),
            "",
            1_000_000,
        );
        let b = Binomial::new(1.0 - crash, n - 1).unwrap();
        let p = (1.0 - crash) * (1.0 - b.cdf(2 * 2 - 1));
        assert_rate(tally.successes, tally.trials(), p);
    }
}
