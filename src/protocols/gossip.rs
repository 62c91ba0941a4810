//! Gossip: epidemic dissemination in synchronous rounds.
//!
//! Instead of one node telling everyone, every node that knows tells a few random others
//! (push), every node asks a few random others (pull), or both (push-pull). No node does more
//! than a constant amount of work per round, and the rumor reaches all N nodes in O(log N)
//! rounds: push with one call per round needs log2 N + ln N + O(1) rounds (Frieze and
//! Grimmett 1985, Pittel 1987), push-pull log3 N + O(log log N) (Karp, Schindelhauer, Shenker
//! and Vöcking 2000). The price is redundancy: O(N log N) messages where N - 1 would do.

use rand::{Rng, RngExt};

use super::direct::{self, Count};
use super::{Env, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, Value};
use crate::latency::NS_PER_MS;
use crate::order;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: node 0 knows a rumor at round 0; in every synchronous round each live node
calls `fanout` targets chosen uniformly among the other N - 1 nodes. push: each informed node
sends the rumor to its targets. pull: each node asks its targets, which answer (with the
rumor if they had it at the start of the round). push-pull: each call carries the rumor both
ways. Nodes informed in a round start spreading in the next. Node 0 is up; every other node
is down for the whole trial with probability crash, or with its zone (zones, zone_crash); with
probability partition the nodes split in two and every message across the cut is lost; each
other message is lost independently with probability loss. The latency model plays no part:
every round lasts round_ms.
Success: every live node is informed within max_rounds rounds (a partition or loss can make
that impossible: a failure at the cap).
Latency: rounds x round_ms.
Messages: push: one per call; pull and push-pull: a request per call and a reply from each
live target that got it; counted until every live node is informed (or the cap).
Rounds: rounds played.
Sampling: direct (the default for push, when nodes and messages are alike) draws each round's
calls that reach a live uninformed node and survive loss as one binomial count, then how many
distinct nodes they inform (each call lands on one of the U uninformed nodes uniformly: a new
one with probability (U - informed so far) / U), instead of a target per call; pull and
push-pull, and per-node, simulate every call."
    };
}

/// Who carries the rumor in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The caller sends it.
    Push,
    /// The callee answers with it.
    Pull,
    /// Both.
    PushPull,
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Env, Gossip, GossipMode, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Gossip::new(env, 1000, GossipMode::Push, 1, 100, 10.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// assert!((10..40).contains(&outcome.rounds));
/// ```
#[derive(Debug, Clone)]
pub struct Gossip {
    env: Env,
    nodes: u32,
    mode: Mode,
    fanout: u32,
    max_rounds: u32,
    round_ns: u64,
}

/// Per node: up or not, and the round it was informed in (`u32::MAX`: not yet).
#[derive(Debug, Default)]
pub struct GossipScratch {
    up: Vec<bool>,
    informed_in: Vec<u32>,
    informed: Vec<u32>,
}

impl Gossip {
    /// Gossip among `nodes` nodes.
    pub fn new(
        env: Env,
        nodes: u32,
        mode: Mode,
        fanout: u32,
        max_rounds: u32,
        round_ms: f64,
    ) -> Result<Self, ModelError> {
        if fanout == 0 {
            return Err(ModelError::new("fanout", "fanout must be at least 1"));
        }
        if !(round_ms.is_finite() && round_ms > 0.0) {
            return Err(ModelError::new("round_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            nodes,
            mode,
            fanout,
            max_rounds,
            round_ns: (round_ms * NS_PER_MS) as u64,
        })
    }

    /// A node other than `caller`, uniformly.
    #[inline(always)]
    fn target(&self, rng: &mut SimRng, caller: u32) -> u32 {
        let t = rng.random_range(0..self.nodes - 1);
        if t >= caller { t + 1 } else { t }
    }

    /// One call from `caller` in `round`; returns (messages, node newly informed).
    #[inline(always)]
    fn call(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        s: &GossipScratch,
        caller: u32,
        round: u32,
    ) -> (u64, Option<u32>) {
        let callee = self.target(rng, caller);
        let knew = |node: u32| s.informed_in[node as usize] < round;
        let (caller_knew, callee_knew) = (knew(caller), knew(callee));
        if !s.up[callee as usize] {
            return (1, None);
        }
        match self.mode {
            Mode::Push => {
                let learns = !callee_knew && s.informed_in[callee as usize] == u32::MAX;
                if learns && !net.lost(rng, caller, callee) {
                    return (1, Some(callee));
                }
                (1, None)
            }
            Mode::Pull | Mode::PushPull => {
                if net.lost(rng, caller, callee) {
                    return (1, None);
                }
                let pushes = self.mode == Mode::PushPull && caller_knew;
                if pushes && s.informed_in[callee as usize] == u32::MAX {
                    return (2, Some(callee));
                }
                let pulls = callee_knew && s.informed_in[caller as usize] == u32::MAX;
                if pulls && !net.lost(rng, callee, caller) {
                    return (2, Some(caller));
                }
                (2, None)
            }
        }
    }
}

impl Protocol for Gossip {
    type Scratch = GossipScratch;

    fn scratch(&self) -> GossipScratch {
        let n = self.nodes as usize;
        GossipScratch {
            up: vec![false; n],
            informed_in: vec![u32::MAX; n],
            informed: Vec::with_capacity(n),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut GossipScratch) -> Outcome {
        let net = self.env.begin(rng);
        s.up[0] = true;
        let mut live = 1;
        for node in 1..self.nodes {
            s.up[node as usize] = net.up(rng, node);
            live += u32::from(s.up[node as usize]);
        }
        s.informed_in.fill(u32::MAX);
        s.informed_in[0] = 0;
        s.informed.clear();
        s.informed.push(0);
        let (mut messages, mut round) = (0u64, 0u32);
        while (s.informed.len() as u32) < live && round < self.max_rounds {
            round += 1;
            match self.mode {
                Mode::Push => {
                    for i in 0..s.informed.len() {
                        let caller = s.informed[i];
                        for _ in 0..self.fanout {
                            let (m, new) = self.call(rng, &net, s, caller, round);
                            messages += m;
                            if let Some(node) = new {
                                s.informed_in[node as usize] = round;
                                s.informed.push(node);
                            }
                        }
                    }
                }
                Mode::Pull | Mode::PushPull => {
                    for caller in 0..self.nodes {
                        if !s.up[caller as usize] {
                            continue;
                        }
                        for _ in 0..self.fanout {
                            let (m, new) = self.call(rng, &net, s, caller, round);
                            messages += m;
                            if let Some(node) = new {
                                s.informed_in[node as usize] = round;
                                s.informed.push(node);
                            }
                        }
                    }
                }
            }
        }
        if (s.informed.len() as u32) < live {
            return Outcome::failure(messages, round);
        }
        Outcome::success(u64::from(round) * self.round_ns, messages, round)
    }
}

/// Push gossip sampled directly: per round, the calls that reach a live uninformed node
/// and survive loss are one binomial count, and the nodes they inform a count of distinct
/// bins, drawn ball by ball.
#[derive(Debug)]
pub struct PushDirect {
    nodes: u32,
    fanout: u32,
    max_rounds: u32,
    round_ns: u64,
    live_others: Count,
    delivered: f64,
}

impl PushDirect {
    /// The push model of `Gossip::new(env, nodes, Push, fanout, max_rounds, round_ms)` in
    /// an environment where nodes and messages are alike.
    pub fn new(
        env: &Env,
        nodes: u32,
        fanout: u32,
        max_rounds: u32,
        round_ms: f64,
    ) -> Result<Self, ModelError> {
        let model = Gossip::new(env.clone(), nodes, Mode::Push, fanout, max_rounds, round_ms)?;
        Ok(Self {
            nodes,
            fanout,
            max_rounds,
            round_ns: model.round_ns,
            live_others: Count::new(nodes - 1, 1.0 - env.crash().probability()),
            delivered: 1.0 - env.loss().probability(),
        })
    }
}

impl Protocol for PushDirect {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let live = 1 + self.live_others.sample(rng);
        let others = f64::from(self.nodes - 1);
        let (mut informed, mut messages, mut round) = (1u32, 0u64, 0u32);
        while informed < live && round < self.max_rounds {
            round += 1;
            let calls = u64::from(informed) * u64::from(self.fanout);
            messages += calls;
            let uninformed = live - informed;
            let hits = order::binomial(rng, calls, f64::from(uninformed) / others * self.delivered);
            // Each hit is uniform over the uninformed nodes: count the distinct ones.
            let scale = (1u128 << 64) / u128::from(uninformed);
            let mut new = 0u32;
            for _ in 0..hits {
                let fresh = u128::from(uninformed - new) * scale;
                if u128::from(rng.next_u64()) < fresh {
                    new += 1;
                    if new == uninformed {
                        break;
                    }
                }
            }
            informed += new;
        }
        if informed < live {
            return Outcome::failure(messages, round);
        }
        Outcome::success(u64::from(round) * self.round_ns, messages, round)
    }

    fn sampler(&self) -> &'static str {
        "direct"
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "gossip",
    summary: "epidemic spreading in rounds: push, pull or push-pull to random nodes",
    model: model!(),
    params: &[
        ParamSpec {
            name: "mode",
            kind: ParamKind::Choice(&["push", "pull", "push-pull"]),
            default: Value::Choice("push"),
            doc: "who carries the rumor in a call",
        },
        ParamSpec {
            name: "fanout",
            kind: ParamKind::Count { min: 1, max: 1000 },
            default: Value::Count(1),
            doc: "calls per node per round",
        },
        ParamSpec {
            name: "max_rounds",
            kind: ParamKind::Count {
                min: 1,
                max: 1_000_000,
            },
            default: Value::Count(200),
            doc: "rounds before giving up (a failure)",
        },
        ParamSpec {
            name: "round_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(10.0),
            doc: "length of a round",
        },
        direct::SAMPLING,
    ],
    extras: &[],
    build: |cell| {
        let mode = match cell.choice("mode") {
            "push" => Mode::Push,
            "pull" => Mode::Pull,
            _ => Mode::PushPull,
        };
        let env = cell.env()?;
        let (fanout, max_rounds, round_ms) = (
            cell.count("fanout"),
            cell.count("max_rounds"),
            cell.millis("round_ms"),
        );
        if mode == Mode::Push
            && cell.choice("sampling") == "direct"
            && env.is_iid()
            && cell.nodes > 1
        {
            return Ok(Box::new(PushDirect::new(
                &env, cell.nodes, fanout, max_rounds, round_ms,
            )?));
        }
        Ok(Box::new(Gossip::new(
            env, cell.nodes, mode, fanout, max_rounds, round_ms,
        )?))
    },
};

#[cfg(test)]
mod tests {
    use crate::protocols::tests::run;

    /// Mean rounds and its standard error over `trials` trials.
    fn rounds(mode: &str, nodes: u32, trials: u64) -> (f64, f64) {
        let tally = run(
            "gossip",
            &format!("nodes = {nodes}\nmode = \"{mode}\""),
            "",
            trials,
        );
        assert_eq!(
            tally.successes, trials,
            "no failures, so every trial completes"
        );
        let h = tally.rounds();
        let mean = tally.rounds_sum as f64 / trials as f64;
        let var = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to() as f64 - mean).powi(2) * v.count_at_value() as f64)
            .sum::<f64>()
            / (trials - 1) as f64;
        (mean, (var / trials as f64).sqrt())
    }

    /// E[rounds] and Var[rounds] of push gossip with fanout 1 and no failures among `n` nodes,
    /// exactly: a Markov chain on the informed count k. In a round each of the k informed
    /// nodes calls one of the n - 1 others uniformly; when j of the u = n - k uninformed nodes
    /// have already been hit this round, a call hits a new one with probability
    /// (u - j) / (n - 1). A DP over the k calls gives the distribution of the hits; then
    /// E[T_k] = (1 + sum_{j>0} P(j) E[T_{k+j}]) / (1 - P(0)), and likewise E[T_k^2] from
    /// T_k = 1 + T_{k+j}.
    fn push_rounds_exact(n: usize) -> (f64, f64) {
        let (mut e, mut e2) = (vec![0.0f64; n + 1], vec![0.0f64; n + 1]);
        let mut hits = vec![0.0f64; n + 1];
        let callees = (n - 1) as f64;
        for k in (1..n).rev() {
            let u = n - k;
            hits[..=u].fill(0.0);
            hits[0] = 1.0;
            for call in 0..k {
                // In place, from the top: hits[j - 1] still holds the previous call's value.
                for j in (0..=u.min(call + 1)).rev() {
                    let stay = hits[j] * (1.0 - (u - j) as f64 / callees);
                    let hit = if j > 0 {
                        hits[j - 1] * (u - j + 1) as f64 / callees
                    } else {
                        0.0
                    };
                    hits[j] = stay + hit;
                }
            }
            let p0 = hits[0];
            let (mut s1, mut s2) = (0.0, 0.0);
            for j in 1..=u {
                s1 += hits[j] * e[k + j];
                s2 += hits[j] * (1.0 + 2.0 * e[k + j] + e2[k + j]);
            }
            e[k] = (1.0 + s1) / (1.0 - p0);
            e2[k] = (p0 * (1.0 + 2.0 * e[k]) + s2) / (1.0 - p0);
        }
        (e[1], e2[1] - e[1] * e[1])
    }

    #[test]
    fn the_exact_push_chain_reproduces_independent_values() {
        // The same chain computed independently (in Python, double precision), to 4 decimals.
        for (n, expected) in [(16, 7.4138), (100, 12.3045), (300, 15.0648)] {
            let (mean, var) = push_rounds_exact(n);
            assert!((mean - expected).abs() < 1e-4, "n = {n}: {mean}");
            assert!(
                (1.2..1.45).contains(&var.sqrt()),
                "n = {n}: sd {}",
                var.sqrt()
            );
        }
        assert_eq!(
            push_rounds_exact(2),
            (1.0, 0.0),
            "one call informs the other node"
        );
    }

    #[test]
    fn push_rounds_match_the_exact_markov_chain() {
        // The simulated mean within 5 standard errors of the exact mean, with the exact
        // variance: a model one round off (or with a different target rule) fails.
        for (n, trials) in [(16u32, 100_000u64), (100, 40_000), (300, 20_000)] {
            let (exact, var) = push_rounds_exact(n as usize);
            let (mean, _) = rounds("push", n, trials);
            let tolerance = 5.0 * (var / trials as f64).sqrt();
            assert!(
                (mean - exact).abs() <= tolerance,
                "n = {n}: mean {mean} rounds, exact {exact} +- {tolerance}"
            );
        }
    }

    #[test]
    fn push_needs_log2_n_plus_ln_n_rounds() {
        // A secondary, asymptotic check beyond the sizes the exact chain covers: Pittel (1987),
        // rounds = log2 n + ln n + O(1). The exact chain's O(1) term is 0.64, 1.06, 1.13 and
        // 1.16 at n = 16, 100, 300 and 1000, converging; at 10^3 and 10^4 it must lie within a
        // round of the chain's value at 1000 (a loose band: the exact test above is the sharp
        // one).
        let (exact_1000, _) = push_rounds_exact(1_000);
        let limit = exact_1000 - (1_000f64.log2() + 1_000f64.ln());
        for (n, trials) in [(1_000u32, 4_000u64), (10_000, 1_000)] {
            let (mean, se) = rounds("push", n, trials);
            let nf = f64::from(n);
            let x = mean - (nf.log2() + nf.ln());
            assert!(
                (x - limit).abs() <= 1.0 + 5.0 * se,
                "n = {n}: O(1) term {x}, {limit} at n = 1000"
            );
        }
    }

    #[test]
    fn push_pull_needs_log3_n_plus_log_log_n_rounds() {
        // Karp et al. (2000): log3 n + O(log log n) rounds. The excess over log3 n is positive
        // and, divided by ln ln n, does not grow with n.
        let mut ratios = Vec::new();
        for (n, trials) in [
            (16u32, 20_000u64),
            (100, 10_000),
            (1_000, 2_000),
            (10_000, 500),
        ] {
            let (mean, se) = rounds("push-pull", n, trials);
            let nf = f64::from(n);
            let excess = mean - nf.log(3.0);
            assert!(excess + 5.0 * se > 0.0, "n = {n}: {mean} rounds");
            ratios.push((excess / nf.ln().ln(), se / nf.ln().ln()));
        }
        let first = ratios[0];
        for &later in &ratios[1..] {
            let slack = 5.0 * (first.1.powi(2) + later.1.powi(2)).sqrt();
            assert!(
                later.0 <= first.0 + slack,
                "excess / ln ln n grows: {ratios:?}"
            );
        }
    }

    #[test]
    fn direct_push_matches_the_per_node_simulation() {
        use super::{Gossip, Mode, PushDirect};
        use crate::latency::tests::parse;
        use crate::protocols::Env;
        use crate::protocols::tests::{assert_same_distribution, draws};
        let latency = parse("kind = \"constant\"\nms = 1").unwrap();
        for (nodes, fanout, crash, loss, cap) in [
            (1000, 1, 0.0, 0.0, 200),
            (50, 2, 0.1, 0.2, 200),
            (200, 1, 0.05, 0.0, 12),
            (2, 1, 0.5, 0.5, 3),
        ] {
            let env = Env::new(crash, loss, latency.clone()).unwrap();
            let per_node = Gossip::new(env.clone(), nodes, Mode::Push, fanout, cap, 1.0).unwrap();
            let direct = PushDirect::new(&env, nodes, fanout, cap, 1.0).unwrap();
            let what = format!("N = {nodes} fanout = {fanout} crash = {crash} loss = {loss}");
            assert_same_distribution(&what, &per_node, &direct, 20_000);
            // Rounds: the latency is rounds x 1 ms, so compare the means at 5 sigma too.
            let mean = |(_, l, _): ([u64; 2], Vec<f64>, Vec<f64>)| {
                let n = l.len() as f64;
                let m = l.iter().sum::<f64>() / n;
                let v = l.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
                (m, v / n)
            };
            let (a, va) = mean(draws(&per_node, 20_000, 3));
            let (b, vb) = mean(draws(&direct, 20_000, 4));
            assert!(
                (a - b).abs() <= 5.0 * (va + vb).sqrt(),
                "{what}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn push_sends_one_message_per_informed_node_per_round() {
        let tally = run("gossip", "nodes = 2", "", 1_000);
        // Two nodes: node 0 reaches node 1 in the first round with one message.
        assert_eq!((tally.messages_sum, tally.rounds_sum), (1_000, 1_000));
    }

    #[test]
    fn a_permanent_partition_hits_the_round_cap() {
        let tally = run(
            "gossip",
            "nodes = 50\npartition = 1.0\nmax_rounds = 30",
            "",
            1_000,
        );
        assert_eq!(tally.rounds_max, 30);
        assert!(tally.failures > 900, "{}", tally.failures);
    }
}
