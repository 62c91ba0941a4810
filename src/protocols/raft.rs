//! Raft: leader election with randomized timeouts, and log replication to a majority.
//!
//! Raft (Ongaro and Ousterhout, 2014) splits consensus in two. While a leader lives, every
//! command costs one round trip from the leader to its followers and commits when a majority
//! has it: its latency is an order statistic of the followers' round trips. When the leader
//! dies, followers wait out a randomized election timeout and elect a new one (see the
//! election model in `election.rs`); split votes cost extra timeouts, and the wider the
//! timeout range, the rarer they are. This model measures either phase, or the failover
//! from a crashed leader of the Raft paper's Figure 16 (Section 9.3).

use super::election::{ElectionScratch, Timeouts, crash_within, elect, elect_after_crash};
use super::{
    Choice, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Setting, Value, choice, kth_smallest,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial, phase = \"election\": N nodes, none of them leader, arm election timers drawn
uniformly from [T, T (1 + timeout_spread)] (T = election_timeout_ms) at time 0, and run Raft
elections (one vote per node per term, majority of all N to win, split votes followed by new
terms) until a leader is elected. Each node is crashed with probability crash for the whole
trial; each message is lost independently with probability loss.
Success: a leader is elected within 1000 terms (impossible without a live majority: the
live nodes then campaign in vain until a term would pass 1000, and those terms and their
messages count).
Latency: time to elect, from the arming of the timers. Messages: vote requests (to every
other node, up or not) and replies. Rounds: terms with a candidate. elections: the same
terms; split_votes: terms without a leader; unsafe_terms: terms with two leaders (Raft's
safety says never).
One trial, phase = \"failover\" (the Raft paper's Figure 16): node 0 led and broadcast a
heartbeat at time 0, then crashes at a moment drawn uniformly from [0, H) (H = heartbeat_ms,
by default T/2). Each other node started its election timer (uniform on
[T, T (1 + timeout_spread)]) when that heartbeat reached it (one-way delay plus processing; a
lost heartbeat leaves the timer running from the one H earlier); then the N - 1 survivors
elect as in phase = \"election\" (majority of all N to win). The new leader at once sends a
heartbeat to every other node (resent every H while lost).
Success: a new leader within 1000 terms, and its first heartbeat reaches a majority of all
N (itself included). Latency (downtime): from the crash until that heartbeat has reached
every live node (the paper's measure: \"until the other servers received the new leader's
first heartbeat\", Ongaro's thesis, Section 9.4). Messages: vote requests and replies, and
those heartbeats (the crashed leader's last heartbeat not counted). Rounds and extras: as in
phase = \"election\".
With down = d, the d highest-numbered nodes are down for the whole trial in every phase,
besides those crash takes (node 0, which leads in \"replication\" and \"failover\", is never
one of them).
With logs = \"distinct\" (phases \"election\" and \"failover\"), the live nodes' logs differ in
length, in a random order each trial, and a node votes only for a candidate whose log is at
least as long as its own (refusing, it still adopts a newer term but keeps its timer): only
the longer half of the live nodes can win.
One trial, phase = \"replication\": the leader (node 0, up) sends an entry to N - 1 followers
and commits when a majority of N (itself included) has it.
Success: N/2 followers acknowledge. Latency: the (N/2)-th fastest follower round trip.
Messages: N - 1 entries plus acknowledgements. Rounds: 1.
Time at the nodes (grid.persist, grid.process; none unless set): in elections a candidate
persists its term and vote before sending its vote requests, and a node that adopts a newer
term or grants a vote persists it before replying (with vote_writes = \"separate\", a node
that does both for one request writes the term, then the vote: two writes in turn, as
LogCabin, the implementation the paper measured, does); every vote request, vote and
heartbeat is processed at its receiver before it takes effect. In replication a follower
processes the entry and persists it before acknowledging, the leader processes each
acknowledgement, and the leader persists its own copy in parallel with sending: it commits
when a majority of N, its own persisted copy counted among them, has the entry (every
follower simulated, as without node time)."
    };
}

choice! {
    /// The servers' logs in an election.
    pub enum Logs {
        /// All logs equal: every candidate is eligible.
        Equal = "equal",
        /// The live servers' logs all differ in length (in a random order each trial): a
        /// server votes only for a candidate whose log is at least as long as its own, so only
        /// the longer half can win (the Raft paper's Figure 16 setup).
        Distinct = "distinct",
    }
}

choice! {
    /// How a voter that adopts a newer term and grants its vote in one request persists them.
    pub enum VoteWrites {
        /// One durable write holds the new term and the vote.
        Together = "together",
        /// The new term, then the vote, in two writes one after the other (LogCabin:
        /// `stepDown` writes the term, then the granted vote is written).
        Separate = "separate",
    }
}

choice! {
    /// Which part of Raft a trial measures.
    pub enum Phase {
        /// Electing a leader.
        Election = "election",
        /// Committing one entry under a stable leader.
        Replication = "replication",
        /// Replacing a leader that crashed within its heartbeat interval (Figure 16).
        Failover = "failover",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Raft, RaftPhase};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Raft::new(env, 5, RaftPhase::Election, 150.0, 1.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// assert!(outcome.latency_ns >= 150_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct Raft {
    env: Env,
    nodes: u32,
    /// Nodes `nodes - down..nodes` are down for the whole trial.
    down: u32,
    phase: Phase,
    timeouts: Timeouts,
    heartbeat_ns: u64,
}

/// Timeout parameters shared with `leader`.
pub(super) const ELECTION_TIMEOUT: ParamSpec = ParamSpec {
    name: "election_timeout_ms",
    kind: ParamKind::Millis { zero_ok: false },
    default: Value::Millis(150.0),
    doc: "shortest election timeout T",
};

/// Timeout range shared with `leader`.
pub(super) const TIMEOUT_SPREAD: ParamSpec = ParamSpec {
    name: "timeout_spread",
    kind: ParamKind::Positive,
    default: Value::Positive(1.0),
    doc: "width of the timeout range as a fraction of T: [T, T (1 + spread)]",
};

/// The leader's heartbeat interval before a failover (shared with `leader`).
pub(super) const HEARTBEAT: ParamSpec = ParamSpec {
    name: "heartbeat_ms",
    kind: ParamKind::Millis { zero_ok: true },
    default: Value::Millis(0.0),
    doc: "failover: the crashed leader's heartbeat interval H; 0 is T/2",
};

/// The default heartbeat interval: half the shortest election timeout, in ns.
pub(super) fn half_timeout_ns(election_timeout_ms: f64) -> u64 {
    (election_timeout_ms * NS_PER_MS / 2.0) as u64
}

/// The heartbeat interval `heartbeat_ms` gives, in ns: `default_ns` for 0.
pub(super) fn heartbeat_ns(heartbeat_ms: f64, default_ns: u64) -> Result<u64, ModelError> {
    if !(heartbeat_ms.is_finite() && heartbeat_ms >= 0.0) {
        return Err(ModelError::new(
            "heartbeat_ms",
            "must be a finite number >= 0",
        ));
    }
    Ok(if heartbeat_ms > 0.0 {
        ((heartbeat_ms * NS_PER_MS) as u64).max(1)
    } else {
        default_ns
    })
}

/// Terms before an election gives up.
pub(super) const MAX_TERMS: u32 = 1000;

/// Election timeouts from parameters in milliseconds.
pub(super) fn timeouts(election_timeout_ms: f64, spread: f64) -> Result<Timeouts, ModelError> {
    if !(election_timeout_ms.is_finite() && election_timeout_ms > 0.0) {
        return Err(ModelError::new(
            "election_timeout_ms",
            "must be a finite number > 0",
        ));
    }
    if !(spread.is_finite() && spread > 0.0) {
        return Err(ModelError::new(
            "timeout_spread",
            "must be a finite number > 0",
        ));
    }
    Ok(Timeouts {
        base_ns: (election_timeout_ms * NS_PER_MS) as u64,
        spread,
        max_terms: MAX_TERMS,
        distinct_logs: false,
        separate_vote_writes: false,
    })
}

impl Raft {
    /// Raft among `nodes` nodes.
    pub fn new(
        env: Env,
        nodes: u32,
        phase: Phase,
        election_timeout_ms: f64,
        timeout_spread: f64,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            env,
            nodes,
            down: 0,
            phase,
            timeouts: timeouts(election_timeout_ms, timeout_spread)?,
            heartbeat_ns: half_timeout_ns(election_timeout_ms),
        })
    }

    /// The servers' logs in elections (phases "election" and "failover").
    pub fn with_logs(mut self, logs: Logs) -> Self {
        self.timeouts.distinct_logs = logs == Logs::Distinct;
        self
    }

    /// How a voter persists a newer term and its vote when one request brings both.
    pub fn with_vote_writes(mut self, writes: VoteWrites) -> Self {
        self.timeouts.separate_vote_writes = writes == VoteWrites::Separate;
        self
    }

    /// The `down` highest-numbered nodes down for the whole trial, besides those `crash`
    /// takes; node 0 never is, so `down` must be less than the number of nodes.
    pub fn with_down(mut self, down: u32) -> Result<Self, ModelError> {
        if down >= self.nodes {
            return Err(ModelError::new("down", "must be less than nodes"));
        }
        self.down = down;
        Ok(self)
    }

    /// Whether `node` is up in this trial: not among the `down` and not crashed. The crash
    /// draw is made for every node, so `down` leaves the other nodes' draws unchanged.
    fn up(&self, rng: &mut SimRng, net: &Net<'_>, node: u32) -> bool {
        net.up(rng, node) && node < self.nodes - self.down
    }

    /// The leader's heartbeat interval for phase = "failover", in ms; 0 keeps the default,
    /// half the shortest election timeout.
    pub fn with_heartbeat_ms(mut self, heartbeat_ms: f64) -> Result<Self, ModelError> {
        self.heartbeat_ns = heartbeat_ns(heartbeat_ms, self.heartbeat_ns)?;
        Ok(self)
    }

    /// One failover trial (see the model text).
    fn failover(&self, rng: &mut SimRng, net: &Net<'_>, s: &mut RaftScratch) -> Outcome {
        const LEADER: u32 = 0;
        let h = self.heartbeat_ns;
        let crash_ns = crash_within(rng, h);
        s.up[LEADER as usize] = false;
        for node in 1..self.nodes {
            s.up[node as usize] = self.up(rng, net, node);
        }
        let up = &s.up;
        let e = elect_after_crash(
            rng,
            net,
            &mut s.election,
            |n| up[n as usize],
            self.nodes,
            self.timeouts,
            h,
        );
        let mut extras = [0; MAX_EXTRAS];
        extras[..3].copy_from_slice(&[e.terms.into(), e.split_votes.into(), e.unsafe_terms.into()]);
        let mut messages = e.messages;
        let (Some(elected), Some(leader)) = (e.elected_ns, e.leader) else {
            return Outcome::failure(messages, e.terms).with_extras(extras);
        };
        // The new leader's first heartbeat, to every other node, resent every H while lost.
        s.acks.clear();
        for to in (0..self.nodes).filter(|&to| to != leader) {
            let mut sent = elected;
            for _ in 0..MAX_TERMS {
                messages += 1;
                if !net.lost(rng, leader, to) {
                    if s.up[to as usize] {
                        s.acks.push(
                            sent.saturating_add(net.delay_ns(rng, leader, to))
                                .saturating_add(net.process_ns(rng)),
                        );
                    }
                    break;
                }
                sent = sent.saturating_add(h);
            }
        }
        // The heartbeat must make a majority of N (the leader counts itself); downtime ends
        // when every live node has it (`acks` holds one arrival per live node, lost or not
        // lost: a lost heartbeat is resent).
        if s.acks.len() < (self.nodes / 2) as usize {
            return Outcome::failure(messages, e.terms).with_extras(extras);
        }
        let heard = s.acks.iter().copied().max().unwrap_or(elected);
        Outcome::success(heard.saturating_sub(crash_ns), messages, e.terms).with_extras(extras)
    }

    /// One replication trial with time at the nodes: every follower simulated.
    fn replicate_timed(&self, rng: &mut SimRng, net: &Net<'_>, s: &mut RaftScratch) -> Outcome {
        // The leader's own durable copy counts toward the majority of N.
        let needed = (self.nodes / 2 + 1) as usize;
        s.acks.clear();
        s.acks.push(net.persist_ns(rng));
        let mut messages = u64::from(self.nodes - 1);
        for follower in 1..self.nodes {
            if !self.up(rng, net, follower) || net.lost(rng, 0, follower) {
                continue;
            }
            messages += 1;
            if !net.lost(rng, follower, 0) {
                let at = net
                    .delay_ns(rng, 0, follower)
                    .saturating_add(net.process_ns(rng))
                    .saturating_add(net.persist_ns(rng))
                    .saturating_add(net.delay_ns(rng, follower, 0))
                    .saturating_add(net.process_ns(rng));
                s.acks.push(at);
            }
        }
        if s.acks.len() < needed {
            return Outcome::failure(messages, 1);
        }
        Outcome::success(kth_smallest(&mut s.acks, needed), messages, 1)
    }
}

/// Working memory of both phases.
#[derive(Debug)]
pub struct RaftScratch {
    election: ElectionScratch,
    up: Vec<bool>,
    acks: Vec<u64>,
}

impl Protocol for Raft {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "elections",
            doc: "terms in which some node stood as candidate",
        },
        Extra {
            name: "split_votes",
            doc: "terms that ended without a leader",
        },
        Extra {
            name: "unsafe_terms",
            doc: "terms with more than one leader (always 0 in a correct Raft)",
        },
    ];
    type Scratch = RaftScratch;

    fn scratch(&self) -> RaftScratch {
        RaftScratch {
            election: ElectionScratch::new(self.nodes),
            up: vec![false; self.nodes as usize],
            acks: Vec::with_capacity(self.nodes as usize),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut RaftScratch) -> Outcome {
        let net = self.env.begin(rng);
        match self.phase {
            Phase::Failover => self.failover(rng, &net, s),
            Phase::Replication if self.env.has_node_time() => self.replicate_timed(rng, &net, s),
            Phase::Election => {
                for node in 0..self.nodes {
                    s.up[node as usize] = self.up(rng, &net, node);
                }
                let up = &s.up;
                let e = elect(
                    rng,
                    &net,
                    &mut s.election,
                    |n| up[n as usize],
                    self.nodes,
                    self.timeouts,
                );
                let mut extras = [0; MAX_EXTRAS];
                extras[..3].copy_from_slice(&[
                    e.terms.into(),
                    e.split_votes.into(),
                    e.unsafe_terms.into(),
                ]);
                let outcome = match e.elected_ns {
                    Some(ns) => Outcome::success(ns, e.messages, e.terms),
                    None => Outcome::failure(e.messages, e.terms),
                };
                outcome.with_extras(extras)
            }
            Phase::Replication => {
                let needed = (self.nodes / 2) as usize;
                s.acks.clear();
                let mut messages = u64::from(self.nodes - 1);
                for follower in 1..self.nodes {
                    if !self.up(rng, &net, follower) || net.lost(rng, 0, follower) {
                        continue;
                    }
                    messages += 1;
                    if !net.lost(rng, follower, 0) {
                        s.acks.push(net.round_trip_ns(rng, 0, follower));
                    }
                }
                if s.acks.len() < needed {
                    return Outcome::failure(messages, 1);
                }
                if needed == 0 {
                    return Outcome::success(0, messages, 1);
                }
                Outcome::success(kth_smallest(&mut s.acks, needed), messages, 1)
            }
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "raft",
    summary: "Raft: randomized-timeout leader election, or majority log replication",
    model: model!(),
    params: &[
        ParamSpec {
            name: "phase",
            kind: Phase::KIND,
            default: Value::Choice(Phase::Replication.word()),
            doc: "which part of Raft a trial measures",
        },
        ELECTION_TIMEOUT,
        TIMEOUT_SPREAD,
        HEARTBEAT,
        ParamSpec {
            name: "logs",
            kind: Logs::KIND,
            default: Value::Choice(Logs::Equal.word()),
            doc: "elections: \"equal\" logs, or \"distinct\" lengths (votes only for a log at \
                  least as long as the voter's)",
        },
        ParamSpec {
            name: "vote_writes",
            kind: VoteWrites::KIND,
            default: Value::Choice(VoteWrites::Together.word()),
            doc: "elections with grid.persist: a voter's newer term and vote in one write \
                  (\"together\"), or the term then the vote (\"separate\", as LogCabin)",
        },
        ParamSpec {
            name: "down",
            kind: ParamKind::Count {
                min: 0,
                max: u32::MAX,
            },
            default: Value::Count(0),
            doc: "nodes down for the whole trial besides those crash takes: the highest-numbered \
                  (node 0 never)",
        },
    ],
    extras: Raft::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(
            Raft::new(
                setting.env().clone(),
                setting.nodes,
                params.phase,
                params.election_timeout_ms,
                params.timeout_spread,
            )?
            .with_heartbeat_ms(params.heartbeat_ms)?
            .with_logs(params.logs)
            .with_vote_writes(params.vote_writes)
            .with_down(params.down)?,
        ))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    phase: Phase,
    election_timeout_ms: f64,
    timeout_spread: f64,
    heartbeat_ms: f64,
    logs: Logs,
    vote_writes: VoteWrites,
    down: u32,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            phase: setting.choice("phase"),
            election_timeout_ms: setting.millis("election_timeout_ms"),
            timeout_spread: setting.positive("timeout_spread"),
            heartbeat_ms: setting.millis("heartbeat_ms"),
            logs: setting.choice("logs"),
            vote_writes: setting.choice("vote_writes"),
            down: setting.count("down"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Binomial, DiscreteCDF};

    use crate::model::stats::assert_rate;
    use crate::protocols::tests::{assert_median_is_order_statistic, run};

    #[test]
    fn never_two_leaders_in_one_term() {
        for (nodes, spread, loss) in [(3, 0.002, 0.0), (5, 0.005, 0.0), (9, 0.01, 0.05)] {
            let tally = run(
                "raft",
                &format!(
                    "nodes = {nodes}\nphase = \"election\"\ntimeout_spread = {spread}\nloss = {loss}"
                ),
                "",
                100_000,
            );
            assert_eq!(tally.successes, 100_000, "a leader is always found");
            // Timeout ranges narrower than a message delay: many terms split, so the safety
            // check below is exercised under heavy contention.
            assert!(
                tally.extras_sum[1] * 4 > tally.extras_sum[0],
                "narrow ranges split often"
            );
            assert_eq!(tally.extras_sum[2], 0, "two leaders in one term");
        }
    }

    #[test]
    fn split_votes_fall_as_the_timeout_range_widens() {
        // Fraction of terms without a leader, for widening timeout ranges on a 5-node cluster.
        let mut last: Option<(f64, f64)> = None;
        for spread in [0.01, 0.05, 0.2, 1.0] {
            let tally = run(
                "raft",
                &format!("nodes = 5\nphase = \"election\"\ntimeout_spread = {spread}"),
                "",
                200_000,
            );
            let (terms, splits) = (tally.extras_sum[0] as f64, tally.extras_sum[1] as f64);
            let p = splits / terms;
            if let Some((p0, var0)) = last {
                // Both fractions are estimates: a two-sample z-test with the variance of each
                // (terms as Bernoulli trials, split or not; with a geometric number of terms
                // per trial this is also the ratio estimator's variance). The new fraction must
                // lie more than 5 standard deviations of the difference below the previous one.
                let z = (p - p0) / (var0 + p * (1.0 - p) / terms).sqrt();
                assert!(z < -5.0, "spread {spread}: {p} vs {p0}, z = {z}");
            }
            last = Some((p, p * (1.0 - p) / terms));
        }
    }

    #[test]
    fn replication_commits_on_a_majority() {
        // Node 0 leads and is up; N/2 of the other N - 1 must be up.
        let (nodes, crash) = (5u64, 0.3);
        let tally = run(
            "raft",
            &format!("nodes = {nodes}\ncrash = {crash}"),
            "",
            1_000_000,
        );
        let b = Binomial::new(1.0 - crash, nodes - 1).unwrap();
        assert_rate(tally.successes, tally.trials(), 1.0 - b.cdf(nodes / 2 - 1));
    }

    #[test]
    fn replication_latency_is_the_majoritys_round_trip() {
        // No failures, one-way delays exponential with mean m = 0.5 ms: the leader commits on
        // the (N/2)-th fastest of the N - 1 followers' Gamma(2, m) round trips (its own copy
        // makes the majority). The histogram's median against that order statistic's exact
        // median.
        let (m_ns, trials) = (5e5, 200_000u64);
        for nodes in [3u64, 5, 7] {
            let tally = run("raft", &format!("nodes = {nodes}"), "", trials);
            assert_eq!(tally.successes, trials);
            let what = format!("N = {nodes}");
            assert_median_is_order_statistic(&tally, nodes / 2, nodes - 1, m_ns, &what);
        }
    }

    /// Constant one-way delays of `delay_ms`, and constant models `p` and `q` (for
    /// `grid.persist`, `grid.process`) of `persist_ms` and `process_ms`.
    fn constants(delay_ms: f64, persist_ms: f64, process_ms: f64) -> String {
        format!(
            "kind = \"constant\"\nms = {delay_ms}\n[latency.p]\nkind = \"constant\"\n\
             ms = {persist_ms}\n[latency.q]\nkind = \"constant\"\nms = {process_ms}"
        )
    }

    #[test]
    fn failover_without_delays_waits_out_the_first_survivors_timer() {
        // N = 3, no delays, no node time: both survivors heard the last heartbeat at 0, the
        // first timer (the smaller of two uniforms on [T, 2T]) elects at once, and its
        // heartbeat reaches the other survivor at once. Downtime = min(t1, t2) - c, c uniform
        // on [0, T/2): mean T + T/3 - T/4, variance T^2/18 + (T/2)^2/12.
        let (t, trials) = (150e6f64, 200_000u64);
        let tally = run(
            "raft",
            "nodes = 3\nphase = \"failover\"",
            &constants(0.0, 0.0, 0.0),
            trials,
        );
        assert_eq!(tally.successes, trials);
        assert_eq!(tally.extras_sum[1], 0, "no split votes without delays");
        let mean = tally.latency_sum_ns as f64 / trials as f64;
        let expected = t + t / 3.0 - t / 4.0;
        let sd = (t * t / 18.0 + t * t / 48.0).sqrt();
        let tolerance = 5.0 * sd / (trials as f64).sqrt();
        assert!(
            (mean - expected).abs() <= tolerance,
            "mean {mean} ns, expected {expected} +- {tolerance}"
        );
        // At least T - T/2 (timer at T, crash just before the next heartbeat), at most 2T.
        let min = tally.latency_ns().min() as f64;
        assert!(min >= 0.999 * t / 2.0 && min < 0.51 * t, "min {min}");
        assert!(tally.latency_max_ns as f64 <= 2.0 * t * 1.001);
        // Each trial: 2 vote requests (one to the crashed leader) and 1 reply, 2 heartbeats.
        assert_eq!(tally.messages_sum, 5 * u128::from(trials));
    }

    #[test]
    fn node_time_adds_up_step_by_step() {
        // Constant delay d = 1, persist p = 4, process q = 0.5 (ms), 5 nodes, no failures.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let ms = |x: f64| (x * 1e6) as u64;
        let with = "\npersist = \"p\"\nprocess = \"q\"";
        // Replication: every follower acknowledges at d + q + p + d + q, the leader's own
        // copy is durable at p: commit at 2d + 2q + p exactly.
        let tally = run(
            "raft",
            &format!("nodes = 5{with}"),
            &constants(d, p, q),
            1000,
        );
        assert_eq!(tally.successes, 1000);
        let commit = ms(2.0 * d + 2.0 * q + p);
        assert_eq!(tally.latency_max_ns, commit);
        assert_eq!(tally.latency_sum_ns, 1000 * u128::from(commit));
        // Election: the first candidate (timer t, uniform on [T, 2T]) persists p, its requests
        // take d + q, each voter persists p and its vote takes d + q: elected at
        // t + 2p + 2d + 2q, unless a second timer fires before the requests arrive.
        let tally = run(
            "raft",
            &format!("nodes = 5\nphase = \"election\"{with}"),
            &constants(d, p, q),
            20_000,
        );
        assert_eq!(tally.successes, 20_000);
        let least = ms(150.0 + 2.0 * (p + d + q));
        assert!(
            tally
                .latency_ns()
                .equivalent(tally.latency_ns().min(), least),
            "{} vs {least}",
            tally.latency_ns().min()
        );
        // Without node time the same election is 2p + 2q shorter.
        let plain = run(
            "raft",
            "nodes = 5\nphase = \"election\"",
            &constants(d, 0.0, 0.0),
            20_000,
        );
        assert!(
            plain
                .latency_ns()
                .equivalent(plain.latency_ns().min(), ms(150.0 + 2.0 * d))
        );
        assert_eq!(tally.extras_sum[2] + plain.extras_sum[2], 0);
    }

    #[test]
    fn separate_vote_writes_put_two_writes_before_a_vote() {
        // As above (d = 1, p = 4, q = 0.5 ms, 5 nodes). Every voter adopts the first
        // candidate's newer term and grants its vote: with separate writes it persists twice
        // before the vote goes out, so the earliest election is t + 3p + 2d + 2q, p later
        // than with one write.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let ms = |x: f64| (x * 1e6) as u64;
        for (writes, voter_writes) in [("together", 1.0), ("separate", 2.0)] {
            let grid = format!(
                "nodes = 5\nphase = \"election\"\npersist = \"p\"\nprocess = \"q\"\n\
                 vote_writes = \"{writes}\""
            );
            let tally = run("raft", &grid, &constants(d, p, q), 20_000);
            assert_eq!(tally.successes, 20_000, "{writes}");
            let least = ms(150.0 + (1.0 + voter_writes) * p + 2.0 * (d + q));
            let min = tally.latency_ns().min();
            assert!(
                tally.latency_ns().equivalent(min, least),
                "{writes}: {min} vs {least}"
            );
        }
    }

    #[test]
    fn failover_never_elects_two_leaders_in_a_term() {
        let tally = run(
            "raft",
            "nodes = 5\nphase = \"failover\"\ntimeout_spread = 0.01\nloss = 0.05\n\
             persist = \"p\"\nprocess = \"q\"",
            "kind = \"exponential\"\nmean_ms = 0.5\n[latency.p]\nkind = \"exponential\"\n\
                 mean_ms = 2\n[latency.q]\nkind = \"constant\"\nms = 0.1",
            50_000,
        );
        assert_eq!(tally.successes, 50_000);
        assert!(tally.extras_sum[1] > 0, "narrow ranges split");
        assert_eq!(tally.extras_sum[2], 0, "two leaders in one term");
    }

    #[test]
    fn an_election_needs_a_live_majority() {
        let tally = run(
            "raft",
            "nodes = 3\nphase = \"election\"\ncrash = 0.4",
            "",
            200_000,
        );
        // P(at least 2 of 3 up) = 0.6^3 + 3 (0.6^2)(0.4) = 0.648.
        assert_rate(tally.successes, tally.trials(), 0.648);
        // Without a majority the cost is still paid: a lone live node (3 (0.6)(0.4^2) =
        // 0.288) campaigns through all 1000 terms; with no node up (0.4^3) nobody does.
        // Elections that succeed end within a few terms.
        let count = |keep: fn(u64) -> bool| {
            tally
                .rounds()
                .iter_recorded()
                .filter(|v| keep(v.value_iterated_to()))
                .map(|v| v.count_at_value())
                .sum::<u64>()
        };
        assert_rate(count(|r| r == 1000), tally.trials(), 0.288);
        assert_rate(count(|r| r == 0), tally.trials(), 0.064);
        assert_eq!(tally.rounds_max, 1000);
    }

    #[test]
    fn down_nodes_take_no_part() {
        // Five nodes, no crashes. An election or a commit needs 3 live nodes, a failover 3
        // live survivors of the leader: down = 2 (1 in a failover) leaves them, one more does
        // not.
        let trials = 20_000;
        for (phase, enough) in [("election", 2), ("replication", 2), ("failover", 1)] {
            for (down, successes) in [(enough, trials), (enough + 1, 0)] {
                let grid = format!("nodes = 5\nphase = \"{phase}\"\ndown = {down}");
                let tally = run("raft", &grid, "", trials);
                assert_eq!(tally.successes, successes, "{phase}, down = {down}");
            }
        }
        // With 2 of 5 down, the leader commits when both live followers have the entry: the
        // larger of two Gamma(2, m) round trips, against that order statistic's exact median.
        let (m_ns, trials) = (5e5, 200_000u64);
        let tally = run("raft", "nodes = 5\ndown = 2", "", trials);
        assert_median_is_order_statistic(&tally, 2, 2, m_ns, "2 of 5 down");
    }

    #[test]
    fn down_must_leave_node_zero() {
        use crate::latency::Constant;
        use crate::model::Env;
        use crate::protocols::{Raft, RaftPhase};
        let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
        let raft = || Raft::new(env.clone(), 5, RaftPhase::Election, 150.0, 1.0).unwrap();
        assert!(raft().with_down(4).is_ok());
        assert_eq!(raft().with_down(5).unwrap_err().param, "down");
    }
}
