//! Leader/replica replication: one node orders every write and copies it to the others.
//!
//! The most common way to replicate: clients write to a leader (primary), which forwards
//! each write to its replicas. How long the client waits is the design choice: for every
//! replica (sync: durable everywhere, but one slow or dead replica stalls writes), for one
//! (semi-sync), or for none (async: fast, but an acknowledged write can be lost with the
//! leader). When the leader dies, a new one must be elected before writes resume.

use super::election::{ElectionScratch, Timeouts, crash_within, elect_after_crash};
use super::raft::{
    ELECTION_TIMEOUT, HEARTBEAT, TIMEOUT_SPREAD, half_timeout_ns, heartbeat_ns, timeouts,
};
use std::sync::Arc;

use super::direct::{self, Lazy, NodeTime, Replies, Sampling};
use super::{
    CLIENT, Choice, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamSpec, Protocol,
    ProtocolInfo, Sampler, Setting, Value, choice,
};
use crate::latency::{Mix, to_ns};
use crate::order::{self, OrderStatistic, Rank};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a client sends a write to the leader (node 0), which forwards it to the other
nodes and answers the client after sync: every replica acknowledged; semi-sync: one did;
async: at once. Each node is crashed with probability crash for the whole trial; each message
is lost independently with probability loss (no retransmission).
If the leader is down, it crashed within its heartbeat interval, and the live nodes elect a
new leader with the Raft election model, as raft's phase = \"failover\" does (see `coordsim
protocols raft`): the leader broadcast a heartbeat at time 0 and crashed at a moment drawn
uniformly from [0, H) (H = heartbeat_ms, by default T/2); each other node's election timer
(uniform on [T, T (1 + timeout_spread)], T = election_timeout_ms) started when that heartbeat
reached it (a lost heartbeat leaves it running from the one H earlier). The old leader
leaves the replica set and the write goes to the new leader; its copies are how the others
hear from it. Without a live majority the election fails after the live nodes campaigned
through 1000 terms, whose messages and terms count.
Success: the client gets its answer: a leader exists, the write and answer arrive, and the
acknowledgements the mode waits for arrive (sync fails if any replica is down).
Latency: the downtime (if any: from the crash until the new leader is elected) + client to
leader + the wait for acknowledgements + leader to client. Messages: election messages, the write, copies to replicas, acknowledgements,
the answer. Rounds: 2 (client round trip and replication), plus election terms.
failovers: trials that needed a new leader.
Sampling: direct (the default, when nodes and messages are alike) draws whether the leader is
up; if it is, the acknowledgements sent and received come from their binomial distributions
and the wait from the fastest (semi-sync) or slowest (sync) round trip drawn directly, at any
N; a failover is still simulated node by node, at a cost that follows the election's messages
(2(N - 1) for one clean term; more terms and candidates as N grows). per-node simulates every
node and message.
Time at the nodes (grid.persist, grid.process; none unless set): the leader processes the
client's write, then persists its own copy while it sends the copies; a replica processes
its copy and persists it before acknowledging; the leader processes each acknowledgement and
answers once its own copy is durable and the acknowledgements the mode waits for have
arrived (async: once its own copy is durable); the client processes the answer. An election
applies them as `coordsim protocols raft` says. An acknowledgement then arrives d + q + p + d
+ q after its copy was sent, each term drawn afresh: independent and alike across replicas,
so direct sampling draws the fastest or slowest from the quantile function of that sum
(constant node time adds to the round trip exactly; random node time is summed with the
delays on a grid, within 3 x 2^-12 relative and 8 ns for five random terms, see order::sum),
and the leader's own write, its handling of the client's write and the client's handling of
the answer as single draws. A failover is simulated node by node with the node time, as
without it."
    };
}

choice! {
    /// What the leader waits for before answering.
    pub enum Mode {
        /// Every replica.
        Sync = "sync",
        /// One replica.
        SemiSync = "semi-sync",
        /// No replica.
        Async = "async",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Leader, LeaderMode};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Leader::new(env, 3, LeaderMode::Sync, 150.0, 1.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.latency_ns, outcome.messages), (4_000_000, 6));
/// ```
#[derive(Debug, Clone)]
pub struct Leader {
    env: Env,
    nodes: u32,
    mode: Mode,
    timeouts: Timeouts,
    heartbeat_ns: u64,
}

impl Leader {
    /// A leader and `nodes - 1` replicas.
    pub fn new(
        env: Env,
        nodes: u32,
        mode: Mode,
        election_timeout_ms: f64,
        timeout_spread: f64,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            env,
            nodes,
            mode,
            timeouts: timeouts(election_timeout_ms, timeout_spread)?,
            heartbeat_ns: half_timeout_ns(election_timeout_ms),
        })
    }

    /// The crashed leader's heartbeat interval, in ms; 0 keeps the default, half the
    /// shortest election timeout.
    pub fn with_heartbeat_ms(mut self, heartbeat_ms: f64) -> Result<Self, ModelError> {
        self.heartbeat_ns = heartbeat_ns(heartbeat_ms, self.heartbeat_ns)?;
        Ok(self)
    }
}

/// Working memory: who is up, and the election's state.
#[derive(Debug)]
pub struct LeaderScratch {
    up: Vec<bool>,
    election: ElectionScratch,
}

impl Protocol for Leader {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "failovers",
        doc: "trials in which the leader was down and a new one was elected",
    }];
    type Scratch = LeaderScratch;

    fn scratch(&self) -> LeaderScratch {
        LeaderScratch {
            up: vec![false; self.nodes as usize],
            election: ElectionScratch::new(self.nodes),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut LeaderScratch) -> Outcome {
        let net = self.env.begin(rng);
        for node in 0..self.nodes {
            s.up[node as usize] = net.up(rng, node);
        }
        self.with_nodes_drawn(rng, &net, s)
    }
}

impl Leader {
    /// The rest of a trial once `s.up` says which nodes are up.
    fn with_nodes_drawn(&self, rng: &mut SimRng, net: &Net<'_>, s: &mut LeaderScratch) -> Outcome {
        let mut failover = Failover::default();
        let mut leader = 0;
        if !s.up[0] {
            let crash_ns = crash_within(rng, self.heartbeat_ns);
            let up = &s.up;
            let e = elect_after_crash(
                rng,
                net,
                &mut s.election,
                |n| up[n as usize],
                self.nodes,
                self.timeouts,
                self.heartbeat_ns,
            );
            failover = Failover {
                happened: true,
                elapsed_ns: 0,
                messages: e.messages,
                terms: e.terms,
            };
            match (e.elected_ns, e.leader) {
                (Some(ns), Some(new)) => {
                    failover.elapsed_ns = ns.saturating_sub(crash_ns);
                    leader = new;
                }
                _ => return failover.outcome(Outcome::failure(e.messages, 2)),
            }
        }
        // After a failover the old leader (node 0) has left the replica set.
        let replicas = self.nodes - 1 - u32::from(leader != 0);
        let mut copies = PerNodeReplication {
            model: self,
            net,
            up: &s.up,
            leader,
            timed: self.env.has_node_time(),
            first: u64::MAX,
            last: 0,
        };
        self.write(rng, net, leader, replicas, failover, &mut copies)
    }

    /// The client's write through `leader` to its `replicas` after `failover`: the hops
    /// between client and leader, the copies drawn by `copies`, and the wait the mode asks for.
    #[inline(always)]
    fn write(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        leader: u32,
        replicas: u32,
        failover: Failover,
        copies: &mut impl Replication,
    ) -> Outcome {
        let (mut elapsed, mut messages) = (failover.elapsed_ns, failover.messages);
        let fail = |messages| failover.outcome(Outcome::failure(messages, 2));
        messages += 1;
        if net.lost(rng, CLIENT, leader) {
            return fail(messages);
        }
        elapsed += net.delay_ns(rng, CLIENT, leader);
        // Both 0, and nothing drawn, without time at the nodes.
        elapsed += net.process_ns(rng);
        let own = net.persist_ns(rng);
        let (sent, acks) = copies.replicate(rng);
        messages += sent;
        let wait = match self.mode {
            Mode::Async => 0,
            Mode::SemiSync if replicas == 0 => 0,
            Mode::SemiSync if acks > 0 => copies.fastest(rng, acks),
            Mode::Sync if acks == replicas => copies.slowest(rng, replicas),
            Mode::SemiSync | Mode::Sync => return fail(messages),
        };
        messages += 1;
        if net.lost(rng, leader, CLIENT) {
            return fail(messages);
        }
        elapsed += wait.max(own) + net.delay_ns(rng, leader, CLIENT) + net.process_ns(rng);
        failover.outcome(Outcome::success(elapsed, messages, 2))
    }
}

/// What a failover before the write cost: its time, messages and election terms (all 0
/// without one).
#[derive(Debug, Clone, Copy, Default)]
struct Failover {
    happened: bool,
    elapsed_ns: u64,
    messages: u64,
    terms: u32,
}

impl Failover {
    /// `outcome` (of 2 rounds) with the failover's terms added to its rounds, and counted.
    #[inline(always)]
    fn outcome(self, outcome: Outcome) -> Outcome {
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = u64::from(self.happened);
        Outcome {
            rounds: outcome.rounds + self.terms,
            ..outcome
        }
        .with_extras(extras)
    }
}

/// How a write's copies to the replicas are drawn: replica by replica, or from their
/// distributions.
trait Replication {
    /// Copies the write to the replicas: (messages sent, acknowledgements that arrived).
    fn replicate(&mut self, rng: &mut SimRng) -> (u64, u32);
    /// The fastest round trip of the `acks` acknowledgements that arrived.
    fn fastest(&mut self, rng: &mut SimRng, acks: u32) -> u64;
    /// The slowest round trip of the `acks` acknowledgements that arrived.
    fn slowest(&mut self, rng: &mut SimRng, acks: u32) -> u64;
}

/// Replica by replica: `replicate` keeps the fastest and slowest round trips.
struct PerNodeReplication<'a, 'n> {
    model: &'a Leader,
    net: &'a Net<'n>,
    up: &'a [bool],
    leader: u32,
    /// Whether the nodes take time (persist, process).
    timed: bool,
    first: u64,
    last: u64,
}

impl Replication for PerNodeReplication<'_, '_> {
    #[inline(always)]
    fn replicate(&mut self, rng: &mut SimRng) -> (u64, u32) {
        let (net, leader) = (self.net, self.leader);
        let (mut messages, mut acks) = (0u64, 0u32);
        // Every node but the leader, and but node 0 after a failover.
        let members = (0..self.model.nodes).filter(|&r| r != leader && (leader == 0 || r != 0));
        for replica in members {
            messages += 1;
            if !self.up[replica as usize] || net.lost(rng, leader, replica) {
                continue;
            }
            messages += 1;
            if self.model.mode == Mode::Async || net.lost(rng, replica, leader) {
                continue;
            }
            let rtt = if self.timed {
                net.delay_ns(rng, leader, replica)
                    .saturating_add(net.process_ns(rng))
                    .saturating_add(net.persist_ns(rng))
                    .saturating_add(net.delay_ns(rng, replica, leader))
                    .saturating_add(net.process_ns(rng))
            } else {
                net.round_trip_ns(rng, leader, replica)
            };
            acks += 1;
            self.first = self.first.min(rtt);
            self.last = self.last.max(rtt);
        }
        (messages, acks)
    }

    #[inline(always)]
    fn fastest(&mut self, _: &mut SimRng, _: u32) -> u64 {
        self.first
    }

    #[inline(always)]
    fn slowest(&mut self, _: &mut SimRng, _: u32) -> u64 {
        self.last
    }
}

/// The leader model sampled directly while the leader is up ([`crate::order`]); a trial
/// whose leader is down continues node by node.
#[derive(Debug)]
pub struct LeaderDirect {
    model: Leader,
    acks: Replies,
    round_trip: Mix,
    node_time: NodeTime,
    /// Constant node time added to every acknowledgement's time (0 without).
    constant_ns: u64,
    waits: Lazy<(OrderStatistic, OrderStatistic)>,
}

/// Working memory of [`LeaderDirect`]: the per-node model's (for failovers), and the fastest
/// and slowest acknowledgement samplers.
#[derive(Debug)]
pub struct LeaderDirectScratch {
    /// For failovers; none where the leader never crashes: at large N it is megabytes.
    per_node: Option<LeaderScratch>,
    waits: Arc<(OrderStatistic, OrderStatistic)>,
}

impl LeaderDirect {
    /// `model`, for an environment where nodes and messages are alike, with one-way delays
    /// drawn from `law` and time at the nodes, if any, that direct sampling takes
    /// ([`NodeTime::of`]).
    ///
    /// # Panics
    /// If it does not.
    pub fn new(model: Leader, law: Mix) -> Self {
        let node_time = NodeTime::of(&model.env, &law).expect("node time direct sampling takes");
        Self {
            acks: Replies::new(&model.env, model.nodes - 1),
            model,
            round_trip: law,
            constant_ns: node_time.constant_ns(),
            node_time,
            waits: Lazy::default(),
        }
    }
}

impl Protocol for LeaderDirect {
    const EXTRAS: &'static [Extra] = Leader::EXTRAS;
    type Scratch = LeaderDirectScratch;

    fn scratch(&self) -> LeaderDirectScratch {
        let replicas = self.model.nodes - 1;
        let waits = self.waits.get(|| {
            let base = self.node_time.reply(&self.round_trip);
            let small = replicas <= direct::TABULATED;
            let fastest: Vec<u32> = if small {
                order::likely(&self.acks.arrived_pmf(), 1e-3)
            } else {
                Vec::new()
            };
            let slowest = if small && replicas > 0 {
                vec![replicas]
            } else {
                Vec::new()
            };
            (
                OrderStatistic::new(base.clone(), Rank::Kth(1), &fastest),
                OrderStatistic::new(base, Rank::Max, &slowest),
            )
        });
        LeaderDirectScratch {
            per_node: (!self.model.env.crash().is_never()).then(|| self.model.scratch()),
            waits,
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut LeaderDirectScratch) -> Outcome {
        let m = &self.model;
        let net = m.env.begin(rng);
        if !net.up(rng, 0) {
            let per_node = s
                .per_node
                .as_mut()
                .expect("made where the leader can crash");
            per_node.up[0] = false;
            for node in 1..m.nodes {
                per_node.up[node as usize] = net.up(rng, node);
            }
            return m.with_nodes_drawn(rng, &net, per_node);
        }
        let replicas = m.nodes - 1;
        let mut copies = DirectReplication {
            acks: &self.acks,
            waits: &s.waits,
            replicas,
            constant_ns: self.constant_ns,
        };
        m.write(rng, &net, 0, replicas, Failover::default(), &mut copies)
    }

    fn sampler(&self) -> Sampler {
        Sampler::Direct
    }
}

/// From their distributions: the acknowledgements sent and arrived by [`Replies`], the
/// fastest and slowest round trips by order statistics (plus constant node time).
struct DirectReplication<'a> {
    acks: &'a Replies,
    waits: &'a (OrderStatistic, OrderStatistic),
    replicas: u32,
    constant_ns: u64,
}

impl Replication for DirectReplication<'_> {
    #[inline(always)]
    fn replicate(&mut self, rng: &mut SimRng) -> (u64, u32) {
        let (sent, arrived) = self.acks.sample(rng);
        (u64::from(self.replicas) + u64::from(sent), arrived)
    }

    #[inline(always)]
    fn fastest(&mut self, rng: &mut SimRng, acks: u32) -> u64 {
        to_ns(self.waits.0.sample(rng, acks.into())) + self.constant_ns
    }

    #[inline(always)]
    fn slowest(&mut self, rng: &mut SimRng, acks: u32) -> u64 {
        to_ns(self.waits.1.sample(rng, acks.into())) + self.constant_ns
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "leader",
    summary: "primary/replica replication (sync, semi-sync, async) with failover by election",
    model: model!(),
    params: &[
        ParamSpec {
            name: "mode",
            kind: Mode::KIND,
            default: Value::Choice(Mode::SemiSync.word()),
            doc: "what the leader waits for before answering",
        },
        ELECTION_TIMEOUT,
        TIMEOUT_SPREAD,
        HEARTBEAT,
        direct::SAMPLING,
    ],
    extras: Leader::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        let env = setting.env().clone();
        // Direct where the delays and the time at the nodes allow it.
        let law = direct::direct_law(params.sampling, &env)
            .filter(|law| NodeTime::of(&env, law).is_some());
        let model = Leader::new(
            env,
            setting.nodes,
            params.mode,
            params.election_timeout_ms,
            params.timeout_spread,
        )?
        .with_heartbeat_ms(params.heartbeat_ms)?;
        Ok(match law {
            Some(law) => Box::new(LeaderDirect::new(model, law)),
            None => Box::new(model),
        })
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    mode: Mode,
    election_timeout_ms: f64,
    timeout_spread: f64,
    heartbeat_ms: f64,
    sampling: Sampling,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            mode: setting.choice("mode"),
            election_timeout_ms: setting.millis("election_timeout_ms"),
            timeout_spread: setting.positive("timeout_spread"),
            heartbeat_ms: setting.millis("heartbeat_ms"),
            sampling: setting.choice("sampling"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    fn leader(mode: &str, nodes: u32, crash: f64) -> crate::model::tally::Tally {
        let grid = format!("nodes = {nodes}\ncrash = {crash}\nmode = \"{mode}\"");
        run("leader", &grid, "", 1_000_000)
    }

    #[test]
    fn availability_by_mode() {
        let (n, p): (u32, f64) = (4, 0.05);
        let q = 1.0 - p;
        // Leader up: sync needs all 3 replicas; semi-sync one of them; async none.
        // Leader down: a majority (3 of 4) must be up among the other 3 to elect, and then
        // sync needs the 2 remaining replicas up (they are: all 3 are up), semi-sync one.
        let elect = q.powi(3);
        assert_rate(
            leader("sync", n, p).successes,
            1_000_000,
            q.powi(4) + p * elect,
        );
        let semi = q * (1.0 - p.powi(3)) + p * elect;
        assert_rate(leader("semi-sync", n, p).successes, 1_000_000, semi);
        assert_rate(leader("async", n, p).successes, 1_000_000, q + p * elect);
    }

    #[test]
    fn direct_sampling_matches_the_per_node_simulation() {
        use super::{Leader, LeaderDirect, Mode};
        use crate::latency::tests::parse;
        use crate::model::Env;
        use crate::protocols::tests::assert_same_distribution;
        let lognormal = parse("kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5").unwrap();
        let tail_at_scale = parse(crate::protocols::tests::TAIL_AT_SCALE).unwrap();
        let sample = crate::protocols::tests::empirical(2_000, 8, 0.0);
        for (latency, mode, nodes, crash, loss) in [
            (&lognormal, Mode::Sync, 5, 0.02, 0.01),
            (&lognormal, Mode::SemiSync, 5, 0.1, 0.05),
            (&lognormal, Mode::Async, 3, 0.2, 0.01),
            (&lognormal, Mode::SemiSync, 1, 0.0, 0.0),
            (&lognormal, Mode::Sync, 80, 0.001, 0.0),
            (&tail_at_scale, Mode::Sync, 5, 0.0, 0.01),
            (&tail_at_scale, Mode::SemiSync, 7, 0.01, 0.01),
            (&sample, Mode::SemiSync, 9, 0.0, 0.01),
            (&sample, Mode::Sync, 9, 0.0, 0.0),
        ] {
            let env = Env::new(crash, loss, latency.clone()).unwrap();
            let model = Leader::new(env, nodes, mode, 150.0, 1.0).unwrap();
            let direct = LeaderDirect::new(model.clone(), latency.law().unwrap());
            assert_same_distribution(
                &format!("{mode:?} N = {nodes} crash = {crash}"),
                &model,
                &direct,
                50_000,
            );
        }
    }

    #[test]
    fn node_time_adds_up_step_by_step() {
        // Constant delay d = 1, persist p = 4, process q = 0.5 (ms), no failures. The write
        // reaches the leader at d + q; a replica's acknowledgement is back d + q + p + d + q
        // later, the leader's own copy durable p later; the answer takes d + q.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let latency = crate::protocols::tests::constant_node_time(d, p, q);
        let ms = |x: f64| (x * 1e6) as u64;
        for (mode, nodes, expected) in [
            ("sync", 3, 4.0 * d + 4.0 * q + p),
            ("semi-sync", 5, 4.0 * d + 4.0 * q + p),
            ("semi-sync", 1, 2.0 * d + 2.0 * q + p),
            ("async", 3, 2.0 * d + 2.0 * q + p),
        ] {
            for sampling in ["direct", "per-node"] {
                let tally = run(
                    "leader",
                    &format!(
                        "nodes = {nodes}\nmode = \"{mode}\"\nsampling = \"{sampling}\"\n\
                         persist = \"p\"\nprocess = \"q\""
                    ),
                    &latency,
                    1000,
                );
                assert_eq!(tally.successes, 1000, "{mode} N = {nodes}");
                assert_eq!(tally.latency_max_ns, ms(expected), "{mode} N = {nodes}");
                assert_eq!(tally.latency_sum_ns, 1000 * u128::from(ms(expected)));
            }
        }
        // A persist longer than the replicas' round trip holds up an async write alone.
        let tally = run(
            "leader",
            "nodes = 3\nmode = \"async\"\npersist = \"p\"",
            &latency,
            1000,
        );
        assert_eq!(tally.latency_max_ns, ms(2.0 * d + p));
    }

    #[test]
    fn random_node_time_samples_directly() {
        // Random writes (exponential, mean 2 ms) and handling (log-normal, median 0.05 ms):
        // each acknowledgement's time d + q + p + d + q summed on the grid, the leader's own
        // write and the handling at either end drawn once, against every node simulated, at
        // significance 1e-6 per Kolmogorov-Smirnov test. Crashes bring failovers, simulated
        // node by node either way.
        use super::{Leader, LeaderDirect, Mode};
        use crate::protocols::tests::{assert_same_law, random_node_time};
        let lan =
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }";
        let tail_at_scale = crate::protocols::tests::TAIL_AT_SCALE;
        for (latency, mode, nodes, crash, loss) in [
            (lan, Mode::Sync, 5, 0.02, 0.01),
            (lan, Mode::SemiSync, 5, 0.1, 0.05),
            (lan, Mode::Async, 3, 0.2, 0.01),
            (lan, Mode::Sync, 80, 0.001, 0.0),
            (lan, Mode::SemiSync, 100, 0.0, 0.01),
            (tail_at_scale, Mode::Sync, 7, 0.0, 0.01),
        ] {
            let env = random_node_time(crash, loss, latency);
            let law = env.latency().law().unwrap();
            let model = Leader::new(env, nodes, mode, 150.0, 1.0).unwrap();
            let direct = LeaderDirect::new(model.clone(), law);
            assert_same_law(
                &format!("leader {mode:?} N = {nodes} crash = {crash} loss = {loss}"),
                &model,
                &direct,
                50_000,
                1e-6,
            );
        }
    }

    #[test]
    fn failovers_cost_an_election_timeout() {
        let tally = leader("async", 3, 0.2);
        assert_rate(tally.extras_sum[0] as u64, tally.trials(), 0.2);
        // The crash comes at most H = T/2 = 75 ms after the heartbeat, and no timer fires
        // before T = 150 ms after it: a failover's downtime exceeds T - H = 75 ms; without
        // one, a write takes ~1 ms.
        assert!(tally.latency_max_ns >= 75_000_000);
        let p99 = tally.latency_ns().value_at_quantile(0.99);
        assert!(
            p99 >= 75_000_000,
            "more than 1% of successes needed a failover: {p99}"
        );
        let failover_min = tally
            .latency_ns()
            .iter_recorded()
            .map(|v| v.value_iterated_to())
            .find(|&ns| ns > 10_000_000)
            .unwrap();
        assert!(failover_min >= 75_000_000, "{failover_min}");
    }

    #[test]
    fn the_crash_is_uniform_within_the_heartbeat_interval() {
        // Same seed, no loss: the runs draw the same nodes, timers and delays, and the crash
        // from the same uniform U, at U H. The timers run from the heartbeat, so each
        // failover's downtime is the election's time minus U H: lengthening H from 75 ms to
        // 100 ms shortens it by U x 25 ms, on average 12.5 ms, with standard deviation
        // 25 / sqrt(12) ms per failover. Trials without one are unchanged.
        let run_h = |h: f64| {
            run(
                "leader",
                &format!(
                    "nodes = 5
crash = 0.1
mode = \"async\"\nheartbeat_ms = {h}"
                ),
                "",
                400_000,
            )
        };
        let (short, long) = (run_h(75.0), run_h(100.0));
        assert_eq!(short.successes, long.successes);
        assert_eq!(short.extras_sum[0], long.extras_sum[0]);
        // Async writes always succeed with the leader up (no loss): the other successes are
        // failovers that elected a leader.
        let failovers = (short.successes - (short.trials() - short.extras_sum[0] as u64)) as f64;
        let shift = (short.latency_sum_ns as f64 - long.latency_sum_ns as f64) / failovers;
        let tolerance = 5.0 * 25e6 / 12f64.sqrt() / failovers.sqrt();
        assert!(
            (shift - 12.5e6).abs() <= tolerance,
            "shift {shift} ns, expected 12.5 ms +- {tolerance}"
        );
    }
}
