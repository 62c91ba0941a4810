//! Paxos: consensus by majority, in two phases or one.
//!
//! Classic Paxos (Lamport) decides a value in two round trips from a proposer to the
//! acceptors: prepare/promise reserves a ballot, accept/accepted chooses the value, each phase
//! needing a majority. Multi-Paxos keeps a stable leader whose ballot is already reserved, so
//! each further decision costs only the second phase: one round trip. Either way a decision
//! survives any minority of failures, and learners are told the outcome.

use super::{
    Choice, Env, ModelError, Net, Outcome, ParamSpec, Protocol, ProtocolInfo, Setting, Value,
    choice, kth_smallest,
};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: the proposer (node 0, up, also an acceptor) decides one value with the N
acceptors (nodes 0..N). classic: phase 1 sends PREPARE to the other N - 1 acceptors and waits
for promises from a majority (N/2 + 1, itself included); phase 2 sends ACCEPT and waits for
a majority of ACCEPTED. multi (stable leader): phase 2 only. Then the proposer sends DECIDE
to the other N - 1 nodes (learners). Each acceptor is crashed with probability crash for the
whole trial; each message is lost independently with probability loss (no retransmission).
Success: every phase gets its majority; with no loss, P(Binomial(N - 1, 1 - crash) >= N/2).
Latency: the sum over phases of the (N/2)-th fastest round trip to the other acceptors.
Messages: requests and replies of each phase plus N - 1 DECIDEs: 5(N - 1) (classic) or
3(N - 1) (multi) with no failures. Rounds: phases run.
Time at the nodes (grid.persist, grid.process; none unless set): an acceptor handles PREPARE
and forces its promise before replying, and handles ACCEPT and forces the accepted value
before replying; the proposer handles each reply, and as an acceptor itself forces its own
promise and its own accepted value in parallel with sending the requests. A phase ends when a
majority of N, the proposer's own durable write counted among them, has replied: the
(N/2 + 1)-th smallest of p and the N - 1 round trips d + q + p + d + q (d one-way delays, q
processing, p a forced write). Multi-Paxos in steady state runs phase 2 only: one forced
write per acceptor. DECIDEs are not waited for. Every acceptor is simulated, as without node
time."
    };
}

choice! {
    /// Which Paxos.
    pub enum Variant {
        /// Prepare/promise, then accept/accepted.
        Classic = "classic",
        /// A stable leader: accept/accepted only.
        Multi = "multi",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Paxos, PaxosVariant};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Paxos::new(env, 5, PaxosVariant::Classic).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.latency_ns, outcome.messages, outcome.rounds), (4_000_000, 20, 2));
/// ```
#[derive(Debug, Clone)]
pub struct Paxos {
    env: Env,
    nodes: u32,
    variant: Variant,
}

impl Paxos {
    /// Paxos among `nodes` acceptors.
    pub fn new(env: Env, nodes: u32, variant: Variant) -> Result<Self, ModelError> {
        Ok(Self {
            env,
            nodes,
            variant,
        })
    }

    /// One phase: returns (time to a majority, messages), or None without a majority. With
    /// `TIMED`, time at the nodes (decided once per trial, so that a cell without it runs the
    /// plain loop).
    fn phase<const TIMED: bool>(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        up: &[bool],
        rtts: &mut Vec<u64>,
        messages: &mut u64,
    ) -> Option<u64> {
        rtts.clear();
        if TIMED {
            // The proposer's own promise or acceptance, forced while the requests travel.
            rtts.push(net.persist_ns(rng));
        }
        for acceptor in 1..self.nodes {
            *messages += 1;
            if !up[acceptor as usize] || net.lost(rng, 0, acceptor) {
                continue;
            }
            *messages += 1;
            if !net.lost(rng, acceptor, 0) {
                let rtt = if TIMED {
                    net.delay_ns(rng, 0, acceptor)
                        .saturating_add(net.process_ns(rng))
                        .saturating_add(net.persist_ns(rng))
                        .saturating_add(net.delay_ns(rng, acceptor, 0))
                        .saturating_add(net.process_ns(rng))
                } else {
                    net.round_trip_ns(rng, 0, acceptor)
                };
                rtts.push(rtt);
            }
        }
        if TIMED {
            // A majority of N, the proposer's own write among the candidates.
            let needed = (self.nodes / 2 + 1) as usize;
            if rtts.len() < needed {
                return None;
            }
            return Some(kth_smallest(rtts, needed));
        }
        let needed = (self.nodes / 2) as usize;
        if rtts.len() < needed {
            return None;
        }
        if needed == 0 {
            return Some(0);
        }
        Some(kth_smallest(rtts, needed))
    }
}

/// Who is up, and round trips of one phase.
#[derive(Debug, Default)]
pub struct PaxosScratch {
    up: Vec<bool>,
    rtts: Vec<u64>,
}

impl Protocol for Paxos {
    type Scratch = PaxosScratch;

    fn scratch(&self) -> PaxosScratch {
        PaxosScratch {
            up: vec![true; self.nodes as usize],
            rtts: Vec::with_capacity(self.nodes as usize + 1),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut PaxosScratch) -> Outcome {
        let net = self.env.begin(rng);
        for acceptor in 1..self.nodes {
            s.up[acceptor as usize] = net.up(rng, acceptor);
        }
        let phases = match self.variant {
            Variant::Classic => 2,
            Variant::Multi => 1,
        };
        let timed = self.env.has_node_time();
        let (mut elapsed, mut messages) = (0u64, 0);
        for phase in 1..=phases {
            let ns = if timed {
                self.phase::<true>(rng, &net, &s.up, &mut s.rtts, &mut messages)
            } else {
                self.phase::<false>(rng, &net, &s.up, &mut s.rtts, &mut messages)
            };
            match ns {
                Some(ns) => elapsed = elapsed.saturating_add(ns),
                None => return Outcome::failure(messages, phase),
            }
        }
        messages += u64::from(self.nodes - 1);
        Outcome::success(elapsed, messages, phases)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "paxos",
    summary: "consensus: classic two-phase Paxos, or Multi-Paxos with a stable leader",
    model: model!(),
    params: &[ParamSpec {
        name: "variant",
        kind: Variant::KIND,
        default: Value::Choice(Variant::Classic.word()),
        doc: "classic: prepare then accept; multi: accept only (stable leader)",
    }],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(Paxos::new(
            setting.env().clone(),
            setting.nodes,
            params.variant,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    variant: Variant,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            variant: setting.choice("variant"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Binomial, DiscreteCDF};

    use crate::model::stats::assert_rate;
    use crate::protocols::tests::{
        assert_median_is_order_statistic, round_trip_order_statistic_moments, run,
    };

    #[test]
    fn a_majority_of_acceptors_decides() {
        for (nodes, crash) in [(3u64, 0.2), (7, 0.3)] {
            let tally = run(
                "paxos",
                &format!("nodes = {nodes}\ncrash = {crash}"),
                "",
                1_000_000,
            );
            let b = Binomial::new(1.0 - crash, nodes - 1).unwrap();
            assert_rate(tally.successes, tally.trials(), 1.0 - b.cdf(nodes / 2 - 1));
        }
    }

    #[test]
    fn messages_per_decision() {
        for (variant, per_node) in [("classic", 5u64), ("multi", 3)] {
            let tally = run(
                "paxos",
                &format!("nodes = 9\nvariant = \"{variant}\""),
                "",
                1_000,
            );
            assert_eq!(
                tally.messages_sum,
                1_000 * u128::from(per_node * 8),
                "{variant}"
            );
        }
    }

    #[test]
    fn node_time_adds_a_forced_write_and_two_handlings_per_phase() {
        // Constant delay d, persist p, process q, no failures: every acceptor replies at
        // 2d + 2q + p, after the proposer's own write (p): classic 2(2d + 2q + p), multi once.
        // With 1 node the proposer's own write is the majority: p per phase.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let latency = crate::protocols::tests::constant_node_time(d, p, q);
        let phase = 2.0 * d + 2.0 * q + p;
        for (nodes, variant, ms) in [
            (5, "classic", 2.0 * phase),
            (4, "classic", 2.0 * phase),
            (5, "multi", phase),
            (1, "classic", 2.0 * p),
            (1, "multi", p),
        ] {
            let tally = run(
                "paxos",
                &format!(
                    "nodes = {nodes}\nvariant = \"{variant}\"\npersist = \"p\"\nprocess = \"q\""
                ),
                &latency,
                1000,
            );
            let ns = (ms * 1e6) as u64;
            assert_eq!(tally.successes, 1000, "{nodes} {variant}");
            assert_eq!(
                tally.latency_sum_ns,
                1000 * u128::from(ns),
                "{nodes} {variant}"
            );
        }
    }

    #[test]
    fn process_time_alone_adds_two_handlings_to_the_fastest_reply() {
        // 3 nodes, Multi-Paxos, a process time q = 0.25 ms and no persist model (0): the
        // proposer's own acceptance is instant, and the first of two replies makes the
        // majority: 2q plus the smaller of two Gamma(2, m) round trips, whose mean is
        // ∫ S(x)^2 dx with S(x) = e^(-x/m) (1 + x/m): m (1/2 + 1/2 + 1/4) = 1.25 m.
        let (m_ns, trials) = (5e5, 200_000u64);
        let tally = run(
            "paxos",
            "nodes = 3\nvariant = \"multi\"\nprocess = \"q\"",
            "kind = \"exponential\"\nmean_ms = 0.5\n[latency.q]\nkind = \"constant\"\nms = 0.25",
            trials,
        );
        assert_eq!(tally.successes, trials);
        let mean = tally.latency_sum_ns as f64 / trials as f64;
        let expected = 1.25 * m_ns + 5e5;
        // The smaller round trip's standard deviation is below 2m.
        let tolerance = 5.0 * 2.0 * m_ns / (trials as f64).sqrt();
        assert!(
            (mean - expected).abs() <= tolerance,
            "mean {mean} ns, expected {expected} +- {tolerance}"
        );
    }

    #[test]
    fn multi_paxos_latency_is_one_round_trip_to_a_majority() {
        // No failures, one-way delays exponential with mean m = 0.5 ms: phase 2 waits for the
        // (N/2)-th fastest of the N - 1 other acceptors' Gamma(2, m) round trips (the
        // proposer's own acceptance makes the majority). Median against the exact median.
        let (m_ns, trials) = (5e5, 200_000u64);
        for nodes in [3u64, 5, 7] {
            let grid = format!("nodes = {nodes}\nvariant = \"multi\"");
            let tally = run("paxos", &grid, "", trials);
            assert_eq!(tally.successes, trials);
            let what = format!("N = {nodes}");
            assert_median_is_order_statistic(&tally, nodes / 2, nodes - 1, m_ns, &what);
        }
    }

    #[test]
    fn classic_paxos_latency_is_two_independent_majority_round_trips() {
        // Classic Paxos runs two such phases with independent delays: its latency is the sum
        // of two independent copies of the order statistic above. Exact mean 2 E[X] and
        // variance 2 Var[X] (numerical integration); the sample mean within 5 standard errors.
        let (m_ns, trials) = (5e5, 200_000u64);
        for nodes in [3u64, 5, 7] {
            let tally = run("paxos", &format!("nodes = {nodes}"), "", trials);
            assert_eq!(tally.successes, trials);
            let (mean, var) = round_trip_order_statistic_moments(nodes / 2, nodes - 1, m_ns);
            let (expected, sd) = (2.0 * mean, (2.0 * var).sqrt());
            let seen = tally.latency_sum_ns as f64 / trials as f64;
            let tolerance = 5.0 * sd / (trials as f64).sqrt();
            assert!(
                (seen - expected).abs() <= tolerance,
                "N = {nodes}: mean {seen} ns, expected {expected} +- {tolerance}"
            );
        }
    }
}
