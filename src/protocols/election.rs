//! Raft leader election (Ongaro and Ousterhout, 2014), shared by `raft` and `leader` failover.
//!
//! A failover from a leader's crash ([`crash_within`], [`elect_after_crash`]), shared by
//! `raft` (phase = "failover") and `leader`: the leader broadcast a heartbeat at time 0 and
//! crashed uniformly within its heartbeat interval; each follower's election timer runs from
//! the last heartbeat it received.
//!
//! Every live node starts as a follower whose election timer fires after a random timeout
//! drawn uniformly from [T, T (1 + spread)]. A node whose timer fires becomes a candidate: it
//! increments its term, votes for itself, asks every other node for a vote and re-arms its
//! timer. A node grants at most one vote per term, to the first candidate that asks, and
//! re-arms its timer when it does; a node that sees a higher term adopts it and becomes a
//! follower. A candidate with votes from a majority of all N nodes is leader. When
//! candidates split the votes, no one wins the term and the next timer to fire starts a new
//! one: randomized timeouts make that rare, the more so the wider the range.
//!
//! Time at the nodes (`Net::persist_ns`, `Net::process_ns`, zero unless the cell sets
//! them): a candidate persists its new term and its own vote before it sends its vote
//! requests; a node that adopts a newer term or grants a vote persists that before it
//! replies (one write, or with `separate_vote_writes` a write of the new term and then one
//! of the vote when both change); every request and reply is handled (processing time) at
//! its receiver before it takes effect. Nodes handle messages as they arrive, without
//! queueing.
//!
//! The simulation is event driven: timers, vote requests and vote replies are events in time
//! order. It stops starting elections once a leader exists, then lets the messages in flight
//! arrive, so that a second leader in some term would be seen. Without a live majority no
//! one can win, but the live nodes still campaign: the simulation runs their terms until one
//! would pass `max_terms`, and their vote requests, replies and terms count like any others.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::RngExt;

use super::Net;
use crate::rng::SimRng;

/// No vote cast in the current term.
const NOBODY: u32 = u32::MAX;

/// What an election cost and produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Election {
    /// When the first leader was elected (it counted a majority of votes), from time 0.
    pub elected_ns: Option<u64>,
    /// The first leader.
    pub leader: Option<u32>,
    /// Vote requests and replies sent.
    pub messages: u64,
    /// Terms in which at least one node stood as candidate.
    pub terms: u32,
    /// Of those terms, the ones that ended without a leader (split votes, lost messages).
    pub split_votes: u32,
    /// Terms that produced more than one leader: Raft's safety property says none.
    pub unsafe_terms: u32,
}

/// The election's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Shortest election timeout T, in ns.
    pub base_ns: u64,
    /// Width of the timeout range as a fraction of T: timeouts are uniform on [T, T (1 + spread)].
    pub spread: f64,
    /// Most terms before giving up.
    pub max_terms: u32,
    /// Whether the live nodes' logs all differ in length (drawn afresh each election), so that
    /// a node grants its vote only to a candidate whose log is at least as long as its own
    /// (the election restriction of Raft's Section 5.4.1). Otherwise all logs are equal and
    /// every candidate is eligible.
    pub distinct_logs: bool,
    /// Whether a voter that adopts a newer term and grants its vote persists the two in
    /// separate writes, one after the other (LogCabin's order); otherwise one write holds
    /// both.
    pub separate_vote_writes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Timer {
        node: u32,
        epoch: u32,
    },
    RequestVote {
        from: u32,
        to: u32,
        term: u32,
    },
    Vote {
        from: u32,
        to: u32,
        term: u32,
        granted: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Down,
    Follower,
    Candidate,
    Leader,
}

/// Per-node state and the event queue, reused across trials.
#[derive(Debug, Default)]
pub struct ElectionScratch {
    role: Vec<Role>,
    term: Vec<u32>,
    voted_for: Vec<u32>,
    votes: Vec<u32>,
    epoch: Vec<u32>,
    /// Log length rank: a node votes only for candidates of equal or higher rank.
    log: Vec<u32>,
    /// The live nodes, when ranking their logs.
    live: Vec<u32>,
    /// Per term: candidates that stood, leaders elected.
    terms: Vec<(u32, u32)>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
}

impl ElectionScratch {
    /// Working memory for `nodes` nodes.
    pub fn new(nodes: u32) -> Self {
        let n = nodes as usize;
        Self {
            role: vec![Role::Down; n],
            term: vec![0; n],
            voted_for: vec![NOBODY; n],
            votes: vec![0; n],
            epoch: vec![0; n],
            log: vec![0; n],
            live: Vec::with_capacity(n),
            terms: Vec::with_capacity(64),
            queue: BinaryHeap::with_capacity(4 * n + 16),
        }
    }
}

struct Sim<'s, 'n> {
    s: &'s mut ElectionScratch,
    net: &'s Net<'n>,
    timeouts: Timeouts,
    nodes: u32,
    majority: u32,
    seq: u64,
    result: Election,
}

impl Sim<'_, '_> {
    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.s.queue.push(Reverse((at, self.seq, event)));
    }

    fn arm(&mut self, rng: &mut SimRng, node: u32, now: u64) {
        let i = node as usize;
        self.s.epoch[i] += 1;
        let spread = rng.random::<f64>() * self.timeouts.spread * self.timeouts.base_ns as f64;
        // `timeout_spread` may be any positive number: the sum saturates (as the cast does).
        let at = now
            .saturating_add(self.timeouts.base_ns)
            .saturating_add(spread as u64);
        let epoch = self.s.epoch[i];
        self.push(at, Event::Timer { node, epoch });
    }

    fn term_slot(&mut self, term: u32) -> &mut (u32, u32) {
        let t = term as usize;
        if self.s.terms.len() <= t {
            self.s.terms.resize(t + 1, (0, 0));
        }
        &mut self.s.terms[t]
    }

    fn adopt(&mut self, node: u32, term: u32) {
        let i = node as usize;
        if term > self.s.term[i] {
            self.s.term[i] = term;
            self.s.role[i] = Role::Follower;
            self.s.voted_for[i] = NOBODY;
        }
    }

    fn win(&mut self, node: u32, now: u64) {
        let i = node as usize;
        self.s.role[i] = Role::Leader;
        let term = self.s.term[i];
        self.term_slot(term).1 += 1;
        if self.result.elected_ns.is_none() {
            self.result.elected_ns = Some(now);
            self.result.leader = Some(node);
        }
    }

    fn stand(&mut self, rng: &mut SimRng, node: u32, now: u64) -> bool {
        let i = node as usize;
        self.s.term[i] += 1;
        let term = self.s.term[i];
        if term > self.timeouts.max_terms {
            return false;
        }
        self.s.role[i] = Role::Candidate;
        self.s.voted_for[i] = node;
        self.s.votes[i] = 1;
        self.term_slot(term).0 += 1;
        self.arm(rng, node, now);
        // The candidate persists its term and its vote for itself before it asks for votes.
        let sent = now.saturating_add(self.net.persist_ns(rng));
        for to in (0..self.nodes).filter(|&to| to != node) {
            self.result.messages += 1;
            if self.s.role[to as usize] != Role::Down && !self.net.lost(rng, node, to) {
                let at = sent
                    .saturating_add(self.net.delay_ns(rng, node, to))
                    .saturating_add(self.net.process_ns(rng));
                self.push(
                    at,
                    Event::RequestVote {
                        from: node,
                        to,
                        term,
                    },
                );
            }
        }
        if self.s.votes[i] >= self.majority {
            self.win(node, sent);
        }
        true
    }

    fn run(&mut self, rng: &mut SimRng) {
        while let Some(Reverse((now, _, event))) = self.s.queue.pop() {
            match event {
                Event::Timer { node, epoch } => {
                    let i = node as usize;
                    let stale = epoch != self.s.epoch[i] || self.s.role[i] == Role::Leader;
                    if stale || self.result.elected_ns.is_some() {
                        continue;
                    }
                    if !self.stand(rng, node, now) {
                        return;
                    }
                }
                Event::RequestVote { from, to, term } => {
                    let j = to as usize;
                    let newer = term > self.s.term[j];
                    self.adopt(to, term);
                    // One vote per term, and only for a log at least as up to date as ours.
                    let granted = term == self.s.term[j]
                        && self.s.log[from as usize] >= self.s.log[j]
                        && (self.s.voted_for[j] == NOBODY || self.s.voted_for[j] == from);
                    if granted {
                        self.s.voted_for[j] = from;
                        self.arm(rng, to, now);
                    }
                    self.result.messages += 1;
                    if !self.net.lost(rng, to, from) {
                        // A new term or vote is persisted before the reply goes out (in
                        // two writes when both change and they are written separately); the
                        // reply is handled at the candidate on arrival.
                        let mut persist = 0;
                        if newer || granted {
                            persist = self.net.persist_ns(rng);
                        }
                        if newer && granted && self.timeouts.separate_vote_writes {
                            persist = persist.saturating_add(self.net.persist_ns(rng));
                        }
                        let at = now
                            .saturating_add(persist)
                            .saturating_add(self.net.delay_ns(rng, to, from))
                            .saturating_add(self.net.process_ns(rng));
                        let term = self.s.term[j];
                        self.push(
                            at,
                            Event::Vote {
                                from: to,
                                to: from,
                                term,
                                granted,
                            },
                        );
                    }
                }
                Event::Vote {
                    to, term, granted, ..
                } => {
                    self.adopt(to, term);
                    let c = to as usize;
                    if self.s.role[c] == Role::Candidate && term == self.s.term[c] && granted {
                        self.s.votes[c] += 1;
                        if self.s.votes[c] >= self.majority {
                            self.win(to, now);
                        }
                    }
                }
            }
        }
    }
}

/// Runs one election among the nodes `0..nodes` for which `up` is true; a leader needs the
/// votes of a majority of all `nodes`. Without a live majority the live nodes campaign in
/// vain through `max_terms` terms, and the result counts those terms and messages.
pub fn elect(
    rng: &mut SimRng,
    net: &Net<'_>,
    s: &mut ElectionScratch,
    up: impl Fn(u32) -> bool,
    nodes: u32,
    timeouts: Timeouts,
) -> Election {
    elect_from(rng, net, s, up, nodes, timeouts, |_, _| 0)
}

/// As [`elect`], but each live node's first election timer starts at `start(rng, node)`
/// (called once per live node, in node order, before that node's timeout is drawn) instead
/// of at 0: a failover's followers start theirs at the last heartbeat each received.
pub fn elect_from(
    rng: &mut SimRng,
    net: &Net<'_>,
    s: &mut ElectionScratch,
    up: impl Fn(u32) -> bool,
    nodes: u32,
    timeouts: Timeouts,
    mut start: impl FnMut(&mut SimRng, u32) -> u64,
) -> Election {
    s.queue.clear();
    s.terms.clear();
    let majority = nodes / 2 + 1;
    for node in 0..nodes {
        let i = node as usize;
        s.role[i] = if up(node) { Role::Follower } else { Role::Down };
        s.term[i] = 0;
        s.voted_for[i] = NOBODY;
        s.votes[i] = 0;
        s.epoch[i] = 0;
        s.log[i] = 0;
    }
    if timeouts.distinct_logs {
        // The live nodes' log lengths are a uniformly random order of 0, 1, ...
        s.live.clear();
        s.live
            .extend((0..nodes).filter(|&n| s.role[n as usize] != Role::Down));
        for k in (1..s.live.len()).rev() {
            let j = rng.random_range(0..=k);
            s.live.swap(k, j);
        }
        for (rank, &node) in s.live.iter().enumerate() {
            s.log[node as usize] = rank as u32;
        }
    }
    let mut sim = Sim {
        s,
        net,
        timeouts,
        nodes,
        majority,
        seq: 0,
        result: Election::default(),
    };
    // Even without a live majority (no leader possible) the live nodes campaign until a
    // term would pass max_terms: their messages and terms are part of the cost.
    for node in 0..nodes {
        if sim.s.role[node as usize] != Role::Down {
            let at = start(rng, node);
            sim.arm(rng, node, at);
        }
    }
    sim.run(rng);
    let mut result = sim.result;
    for &(candidates, leaders) in &s.terms {
        if candidates > 0 {
            result.terms += 1;
            result.split_votes += u32::from(leaders == 0);
            result.unsafe_terms += u32::from(leaders > 1);
        }
    }
    result
}

/// The moment a leader crashes within its heartbeat interval of `heartbeat_ns`, after the
/// heartbeat it broadcast at time 0: uniform on [0, H).
pub fn crash_within(rng: &mut SimRng, heartbeat_ns: u64) -> u64 {
    (rng.random::<f64>() * heartbeat_ns as f64) as u64
}

/// The election that replaces node 0, the leader that broadcast a heartbeat at time 0 (and
/// every `heartbeat_ns` before): each live node's first timer starts when that heartbeat
/// reached it (one-way delay plus processing), or, if it was lost, when the last one it got
/// did, H earlier per heartbeat lost. Times are from the heartbeat; `crash_within` draws the
/// crash. The other nodes elect as in [`elect`] (`up(0)` is false).
pub fn elect_after_crash(
    rng: &mut SimRng,
    net: &Net<'_>,
    s: &mut ElectionScratch,
    up: impl Fn(u32) -> bool,
    nodes: u32,
    timeouts: Timeouts,
    heartbeat_ns: u64,
) -> Election {
    const CRASHED: u32 = 0;
    let h = heartbeat_ns.max(1);
    // A heartbeat lost this many times in a row leaves the timer running from so far back
    // that it has fired by time 0 in any case.
    let back = timeouts.base_ns / h + 2;
    elect_from(rng, net, s, up, nodes, timeouts, |rng, node| {
        let mut lost = 0;
        while lost < back && net.lost(rng, CRASHED, node) {
            lost += 1;
        }
        let heard = net
            .delay_ns(rng, CRASHED, node)
            .saturating_add(net.process_ns(rng));
        heard.saturating_sub(lost * h)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::{Constant, Exponential};
    use crate::model::Env;
    use crate::rng::stream;

    const TIMEOUTS: Timeouts = Timeouts {
        base_ns: 150_000_000,
        spread: 1.0,
        max_terms: 1000,
        distinct_logs: false,
        separate_vote_writes: false,
    };

    fn run(nodes: u32, up: &[u32]) -> Election {
        let env = Env::new(0.0, 0.0, Exponential::new(0.5).unwrap().into()).unwrap();
        let mut rng = stream(9, 0, 0);
        let net = env.begin(&mut rng);
        let mut scratch = ElectionScratch::new(nodes);
        elect(
            &mut rng,
            &net,
            &mut scratch,
            |n| up.contains(&n),
            nodes,
            TIMEOUTS,
        )
    }

    #[test]
    fn a_lone_live_node_campaigns_through_every_term() {
        // One live node of 3: it stands in terms 1 to 1000, asking both others each time;
        // the down nodes never answer. 1000 terms, all split, 2000 messages, no leader.
        let e = run(3, &[1]);
        assert_eq!(e.elected_ns, None);
        assert_eq!((e.terms, e.split_votes, e.unsafe_terms), (1000, 1000, 0));
        assert_eq!(e.messages, 2 * 1000);
    }

    #[test]
    fn a_live_minority_campaigns_and_answers() {
        // Two live nodes of 5: every term has a candidate (terms are never skipped), each
        // candidate asks the 4 others and the other live node answers: at least 5 messages
        // per term, at most 10 (both stand in the same term).
        let e = run(5, &[0, 3]);
        assert_eq!(e.elected_ns, None);
        assert_eq!((e.terms, e.split_votes), (1000, 1000));
        assert!((5_000..=10_000).contains(&e.messages), "{}", e.messages);
    }

    #[test]
    fn only_the_longer_logs_can_win() {
        // Five live nodes with log ranks 0 to 4 in a random order: a node votes only for a
        // log at least as long as its own, so rank r collects at most r + 1 votes and only
        // ranks 2, 3 and 4 can reach the majority of 3. Constant 1 ms delays, a 1% timeout
        // range: the first candidate's requests arrive before the other timers fire in most
        // elections, and it wins exactly when its rank allows.
        let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
        let timeouts = Timeouts {
            spread: 0.01,
            distinct_logs: true,
            ..TIMEOUTS
        };
        let mut scratch = ElectionScratch::new(5);
        let mut won = [0u32; 5];
        for trial in 0..2000 {
            let mut rng = stream(9, 1, trial);
            let net = env.begin(&mut rng);
            let e = elect(&mut rng, &net, &mut scratch, |_| true, 5, timeouts);
            let mut ranks = scratch.log.clone();
            ranks.sort_unstable();
            assert_eq!(ranks, [0, 1, 2, 3, 4], "distinct ranks");
            assert_eq!(e.unsafe_terms, 0);
            won[scratch.log[e.leader.unwrap() as usize] as usize] += 1;
        }
        assert_eq!(won[..2], [0, 0], "ranks 0 and 1 never win: {won:?}");
        assert!(won[2..].iter().all(|&w| w > 200), "{won:?}");
        // With equal logs every node is eligible and every rank stays 0.
        let mut rng = stream(9, 2, 0);
        let net = env.begin(&mut rng);
        let e = elect(&mut rng, &net, &mut scratch, |_| true, 5, TIMEOUTS);
        assert!(e.leader.is_some() && scratch.log.iter().all(|&r| r == 0));
    }

    #[test]
    fn an_ineligible_candidate_costs_a_term_without_resetting_timers() {
        // Three nodes, constant 1 ms delays, no time at the nodes. Whichever node times out
        // first (at t in [T, 2T]) is elected at t + 2 ms if its log is not the shortest.
        // If it is the shortest (rank 0), both others adopt its term and refuse, keeping
        // their timers: the next timer to fire elects its node (one term on, or two when both
        // fire within 1 ms), and the election ends by 2T + 4 ms, as no timer was reset.
        let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
        let timeouts = Timeouts {
            distinct_logs: true,
            ..TIMEOUTS
        };
        let mut scratch = ElectionScratch::new(3);
        let mut refused = 0;
        for trial in 0..2000 {
            let mut rng = stream(9, 3, trial);
            let net = env.begin(&mut rng);
            let e = elect(&mut rng, &net, &mut scratch, |_| true, 3, timeouts);
            let elected = e.elected_ns.unwrap();
            assert!(elected <= 2 * TIMEOUTS.base_ns + 4_000_000, "{elected}");
            assert_ne!(scratch.log[e.leader.unwrap() as usize], 0);
            if e.terms > 1 {
                refused += 1;
                assert!(e.messages >= 8, "{e:?}");
            }
        }
        // The shortest log times out first in a third of the elections.
        assert!((550..=780).contains(&refused), "{refused}");
    }

    #[test]
    fn nobody_live_costs_nothing() {
        assert_eq!(run(3, &[]), Election::default());
    }
}
