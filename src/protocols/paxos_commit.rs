//! Paxos Commit: atomic commit that survives the coordinator, by one Paxos instance per vote.
//!
//! Gray and Lamport ("Consensus on Transaction Commit", ACM TODS 31(1), 2006) replace 2PC's
//! transaction manager by 2F + 1 acceptors. Each resource manager (RM) has its own Paxos
//! instance deciding its vote, Prepared or Aborted; the transaction commits iff every instance
//! chose Prepared. In the normal case an RM is the instance's ballot-0 leader: it writes its
//! vote and sends it as a phase 2a message straight to the acceptors, which write it and send
//! phase 2b messages to the leader (who then tells the RMs), or, in Faster Paxos Commit,
//! straight to the RMs. Any F acceptors may fail without blocking the decision: a new leader
//! runs both Paxos phases on a majority. With F = 0 and the single acceptor on the leader's
//! node, the acceptor's write is the coordinator's commit record and this is 2PC ("The
//! Two-Phase Commit protocol is thus the degenerate case of the Paxos Commit algorithm with a
//! single acceptor", Section 5).

use super::{
    CLIENT, Choice, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec,
    Protocol, ProtocolInfo, Setting, Value, choice,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: N resource managers (RMs, nodes 0..N) commit one transaction with 2F + 1
acceptors (F = faults) and a leader; RM 0 starts the commit. Each RM's vote is decided by its
own Paxos instance; the transaction commits iff all N instances choose Prepared.
Placement (placement): \"separate\": the leader and acceptor 0 share a node of their own (the
client), acceptors 1..2F have one node each (N..N + 2F); \"co-located\": the leader, RM 0 and
acceptor 0 share node 0, acceptor i sits on RM i's node i (its own node when i >= N). A
message between two roles on one node is neither sent nor counted nor delayed.
Normal case: RM 0 forces its vote and sends its phase 2a (Prepared) to the F + 1 acceptors
0..F; the one to the leader's node is also the BeginCommit. The leader then sends Prepare to
RMs 1..N; each forces its vote and sends its 2a to acceptors 0..F. An acceptor that has the
2a of all N instances forces them in one write and sends one bundled 2b: to the leader
(variant = \"normal\"), which sends Commit to the N RMs once all F + 1 bundles are in; or to
each RM (variant = \"faster\"), which has learned the outcome once it holds the F + 1 bundles.
Failures: RM 0 and the leader's node are up; every other node is crashed with probability
crash for the whole trial (an RM and an acceptor on one node share its fate); each message is
lost independently with probability loss, except the decision (Commit, Abort) and the
recovery's messages, which are never lost. A lost BeginCommit: nothing starts, a failure.
Recovery: if the leader (normal) does not hold all F + 1 bundles, or some RM (faster) not
all of them, by timeout_ms after the Prepares (the leader's timer; in faster each RM still
waiting then asks the leader, one message), the leader runs ballot 1 for every instance:
phase 1a to the 2F + 1 acceptors and, from a majority, the 1b replies with what each
accepted (an acceptor promises ballot 1 when the 1a arrives and ignores ballot-0 2a messages
arriving later); an instance is Prepared if one of the first F + 1 replies accepted its RM's
vote, Aborted otherwise; then phase 2a/2b with a majority, and Commit or Abort to the N RMs.
With fewer than F + 1 acceptors up no majority answers: blocked (RM 0, at least, is prepared
and cannot decide).
Success: the transaction commits. Without loss it commits iff all N RMs are up and F + 1
acceptors are: for separate placement (1 - crash)^(N - 1) P(Binomial(2F, 1 - crash) >= F),
blocked with probability P(Binomial(2F, 1 - crash) < F).
Latency: from RM 0's decision to commit until the last RM has learned the outcome.
Messages (the paper's normal-case count, no acknowledgements): separate, normal
N(F + 3) + F - 1, faster 2N(F + 1) + N - 1; co-located (N >= 2F + 1) normal
(N - 1)(F + 3) + F, faster (N - 1)(2F + 3). F = 0 is 2PC: 3N - 1, or 3N - 3 co-located. A
recovery adds 2F 1a, one 1b per live remote acceptor, 2F 2a, one 2b per live remote acceptor,
and N (N - 1 co-located) decisions.
Rounds: 2 (votes, then the decision or the acceptors' bundles); 4 with a recovery.
writes: forced writes (the N votes and one per normal-case acceptor, N + F + 1 in the normal
case; one per acceptor per recovery phase). recoveries: trials that ran ballot 1.
Time at the nodes (grid.persist, grid.process; none unless set): an RM forces its vote
before sending its 2a (RM 0 at the start, the others after handling Prepare); an acceptor
handles each 2a and forces its bundled 2b record once it has all N; in recovery an acceptor
handles 1a and forces its promise before its 1b, handles 2a and forces it before its 2b;
the leader handles BeginCommit, each bundle and each 1b and 2b; an RM handles the decision
(or, faster, each bundle). Handlings and writes of different messages do not queue. The
leader forces nothing: the decision is durable at the acceptors. With constant delay d,
persist p and process q a normal-case commit takes, separate, 5d + 5q + 3p (normal) or
4d + 4q + 3p (faster); co-located, 4d + 4q + 3p (normal, F >= 1) or 3d + 3q + 3p (faster,
and normal with F = 0: 2PC's three message delays and three write delays).
Sampling: per-node; every message is simulated."
    };
}

choice! {
    /// Where phase 2b messages go.
    pub enum Variant {
        /// To the leader, which sends Commit to the RMs.
        Normal = "normal",
        /// Straight to the RMs (Faster Paxos Commit).
        Faster = "faster",
    }
}

choice! {
    /// Which roles share a node.
    pub enum Placement {
        /// RMs, acceptors and the leader on their own nodes (the leader with acceptor 0).
        Separate = "separate",
        /// The leader on RM 0's node, acceptor i on RM i's node.
        CoLocated = "co-located",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{PaxosCommit, PaxosCommitPlacement, PaxosCommitVariant};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = PaxosCommit::new(
///     env, 5, 1, PaxosCommitVariant::Normal, PaxosCommitPlacement::CoLocated, 50.0,
/// ).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// assert_eq!((outcome.latency_ns, outcome.messages), (4_000_000, 17));
/// ```
#[derive(Debug, Clone)]
pub struct PaxosCommit {
    env: Env,
    rms: u32,
    faults: u32,
    variant: Variant,
    placement: Placement,
    timeout_ns: u64,
}

impl PaxosCommit {
    /// `rms` resource managers, 2 `faults` + 1 acceptors, a recovery timeout of `timeout_ms`.
    pub fn new(
        env: Env,
        rms: u32,
        faults: u32,
        variant: Variant,
        placement: Placement,
        timeout_ms: f64,
    ) -> Result<Self, ModelError> {
        if rms == 0 {
            return Err(ModelError::new(
                "nodes",
                "needs at least one resource manager",
            ));
        }
        if faults > 1000 {
            return Err(ModelError::new("faults", "must be at most 1000"));
        }
        if !(timeout_ms.is_finite() && timeout_ms > 0.0) {
            return Err(ModelError::new("timeout_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            rms,
            faults,
            variant,
            placement,
            timeout_ns: (timeout_ms * NS_PER_MS) as u64,
        })
    }

    fn acceptors(&self) -> u32 {
        2 * self.faults + 1
    }

    /// The node of RM `j`.
    fn rm(&self, j: u32) -> u32 {
        j
    }

    /// The node of acceptor `i`; acceptor 0 is on the leader's node.
    fn acceptor(&self, i: u32) -> u32 {
        match (self.placement, i) {
            (Placement::Separate, 0) => CLIENT,
            (Placement::Separate, i) => self.rms + i - 1,
            (Placement::CoLocated, i) => i,
        }
    }

    /// The leader's node.
    fn leader(&self) -> u32 {
        self.acceptor(0)
    }

    /// How many nodes are numbered (0..this); the leader's may be [`CLIENT`].
    fn nodes(&self) -> u32 {
        match self.placement {
            Placement::Separate => self.rms + 2 * self.faults,
            Placement::CoLocated => self.rms.max(self.acceptors()),
        }
    }
}

/// Who is up, and per acceptor the arrival of each RM's 2a (`u64::MAX` if none).
#[derive(Debug, Default)]
pub struct PaxosCommitScratch {
    up: Vec<bool>,
    arrivals: Vec<u64>,
    done: Vec<u64>,
    replies: Vec<(u64, u32, u64)>,
    learned: Vec<u64>,
}

/// One trial's network and counts.
struct Trial<'a, 'n> {
    net: &'a Net<'n>,
    up: &'a [bool],
    messages: u64,
    writes: u64,
}

impl Trial<'_, '_> {
    fn is_up(&self, node: u32) -> bool {
        node == CLIENT || self.up[node as usize]
    }

    /// A message from `from` (sent at `at`) to `to`: when `to` has handled it, or None if it
    /// is lost or `to` is down. On one node: at once, not counted. `reliable`: never lost.
    fn send(
        &mut self,
        rng: &mut SimRng,
        from: u32,
        to: u32,
        at: u64,
        reliable: bool,
    ) -> Option<u64> {
        if from == to {
            return Some(at);
        }
        self.messages += 1;
        if !self.is_up(to) || (!reliable && self.net.lost(rng, from, to)) {
            return None;
        }
        Some(
            at.saturating_add(self.net.delay_ns(rng, from, to))
                .saturating_add(self.net.process_ns(rng)),
        )
    }

    /// A forced write starting at `at`: when it is durable.
    fn force(&mut self, rng: &mut SimRng, at: u64) -> u64 {
        self.writes += 1;
        at.saturating_add(self.net.persist_ns(rng))
    }
}

impl Protocol for PaxosCommit {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "writes",
            doc: "forced writes to stable storage (N + F + 1 in the normal case)",
        },
        Extra {
            name: "recoveries",
            doc: "trials in which the leader ran ballot 1 after its timeout",
        },
    ];
    type Scratch = PaxosCommitScratch;

    fn scratch(&self) -> PaxosCommitScratch {
        let acceptors = self.acceptors() as usize;
        PaxosCommitScratch {
            up: vec![true; self.nodes() as usize],
            arrivals: vec![u64::MAX; acceptors * self.rms as usize],
            done: vec![u64::MAX; acceptors],
            replies: Vec::with_capacity(acceptors),
            learned: vec![0; self.rms as usize],
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut PaxosCommitScratch) -> Outcome {
        let net = self.env.begin(rng);
        // RM 0's node (and with it, co-located, the leader's) is up.
        for node in 1..self.nodes() {
            s.up[node as usize] = net.up(rng, node);
        }
        let mut t = Trial {
            net: &net,
            up: &s.up,
            messages: 0,
            writes: 0,
        };
        let (n, quorum) = (self.rms as usize, self.faults as usize + 1);
        let leader = self.leader();
        s.arrivals.fill(u64::MAX);

        // RM 0 forces its vote and sends its 2a; the copy to the leader's node begins the commit.
        let vote0 = t.force(rng, 0);
        for i in 0..quorum as u32 {
            if let Some(at) = t.send(rng, self.rm(0), self.acceptor(i), vote0, false) {
                s.arrivals[i as usize * n] = at;
            }
        }
        let begin = s.arrivals[0];
        if begin == u64::MAX {
            return Outcome::failure(t.messages, 1).with_extras(self.extras(&t, 0));
        }
        // Prepare to RMs 1..N; each forces its vote and sends its 2a to acceptors 0..F.
        for j in 1..self.rms {
            let Some(at) = t.send(rng, leader, self.rm(j), begin, false) else {
                continue;
            };
            let vote = t.force(rng, at);
            for i in 0..quorum as u32 {
                if let Some(at) = t.send(rng, self.rm(j), self.acceptor(i), vote, false) {
                    s.arrivals[i as usize * n + j as usize] = at;
                }
            }
        }
        // Each normal-case acceptor with all N votes forces them once and sends its bundle.
        for i in 0..quorum {
            let latest = s.arrivals[i * n..(i + 1) * n]
                .iter()
                .copied()
                .max()
                .unwrap();
            s.done[i] = if latest == u64::MAX || !t.is_up(self.acceptor(i as u32)) {
                u64::MAX
            } else {
                t.force(rng, latest)
            };
        }
        let deadline = begin.saturating_add(self.timeout_ns);
        let recovery_at = match self.variant {
            Variant::Normal => {
                let mut decided = 0u64;
                for i in 0..quorum {
                    let bundle = match s.done[i] {
                        u64::MAX => None,
                        done => t.send(rng, self.acceptor(i as u32), leader, done, false),
                    };
                    decided = decided.max(bundle.unwrap_or(u64::MAX));
                }
                if decided <= deadline {
                    let told = self.tell(rng, &mut t, decided);
                    return Outcome::success(told, t.messages, 2).with_extras(self.extras(&t, 0));
                }
                deadline
            }
            Variant::Faster => {
                s.learned.fill(0);
                for i in 0..quorum {
                    for j in 0..self.rms {
                        let bundle = match s.done[i] {
                            u64::MAX => None,
                            done => t.send(rng, self.acceptor(i as u32), self.rm(j), done, false),
                        };
                        let learned = &mut s.learned[j as usize];
                        *learned = (*learned).max(bundle.unwrap_or(u64::MAX));
                    }
                }
                if s.learned.iter().all(|&at| at <= deadline) {
                    let last = s.learned.iter().copied().max().unwrap_or(0);
                    return Outcome::success(last, t.messages, 2).with_extras(self.extras(&t, 0));
                }
                // Each live RM still waiting asks the leader.
                let mut asked = u64::MAX;
                for j in 0..self.rms {
                    if s.learned[j as usize] > deadline && t.is_up(self.rm(j)) {
                        let at = t.send(rng, self.rm(j), leader, deadline, true);
                        asked = asked.min(at.unwrap_or(u64::MAX));
                    }
                }
                asked
            }
        };
        self.recover(rng, &mut t, &s.arrivals, &mut s.replies, recovery_at)
    }
}

impl PaxosCommit {
    fn extras(&self, t: &Trial<'_, '_>, recoveries: u64) -> [u64; MAX_EXTRAS] {
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = t.writes;
        extras[1] = recoveries;
        extras
    }

    /// The decision from the leader at `at` to every RM (never lost): when the last live RM
    /// has handled it.
    fn tell(&self, rng: &mut SimRng, t: &mut Trial<'_, '_>, at: u64) -> u64 {
        let mut last = at;
        for j in 0..self.rms {
            if let Some(told) = t.send(rng, self.leader(), self.rm(j), at, true) {
                last = last.max(told);
            }
        }
        last
    }

    /// One recovery phase from the leader, started at `at`, to every acceptor (never lost):
    /// each live acceptor handles the request and forces its state before replying. Fills
    /// `replies` with (reply handled, acceptor, request handled) of the live acceptors,
    /// fastest first.
    fn phase(
        &self,
        rng: &mut SimRng,
        t: &mut Trial<'_, '_>,
        replies: &mut Vec<(u64, u32, u64)>,
        at: u64,
    ) {
        replies.clear();
        let leader = self.leader();
        for i in 0..self.acceptors() {
            let node = self.acceptor(i);
            let Some(handled) = t.send(rng, leader, node, at, true) else {
                continue;
            };
            let durable = t.force(rng, handled);
            if let Some(reply) = t.send(rng, node, leader, durable, true) {
                replies.push((reply, i, handled));
            }
        }
        replies.sort_unstable();
    }

    /// Ballot 1 for every instance, from `at` (`u64::MAX`: no one asked, which cannot
    /// happen, as RM 0 is up).
    fn recover(
        &self,
        rng: &mut SimRng,
        t: &mut Trial<'_, '_>,
        arrivals: &[u64],
        replies: &mut Vec<(u64, u32, u64)>,
        at: u64,
    ) -> Outcome {
        let (n, quorum) = (self.rms as usize, self.faults as usize + 1);
        self.phase(rng, t, replies, at);
        if replies.len() < quorum {
            return Outcome::blocked(t.messages, 3).with_extras(self.extras(t, 1));
        }
        // Each of the first F + 1 promised ballot 1 when it handled the 1a: a ballot-0 2a it
        // had handled by then is accepted, one arriving later is ignored.
        let promised = replies[quorum - 1].0;
        let mut commit = true;
        for j in 0..n {
            let prepared = replies[..quorum].iter().any(|&(_, i, promise)| {
                (i as usize) < quorum && arrivals[i as usize * n + j] <= promise
            });
            commit &= prepared;
        }
        self.phase(rng, t, replies, promised);
        let chosen = replies[quorum - 1].0;
        let told = self.tell(rng, t, chosen);
        if commit {
            Outcome::success(told, t.messages, 4).with_extras(self.extras(t, 1))
        } else {
            Outcome::failure(t.messages, 4).with_extras(self.extras(t, 1))
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "paxos-commit",
    summary: "atomic commit by one Paxos instance per vote: 2F + 1 acceptors, no blocking on the leader",
    model: model!(),
    params: &[
        ParamSpec {
            name: "faults",
            kind: ParamKind::Count { min: 0, max: 1000 },
            default: Value::Count(1),
            doc: "F: acceptor failures tolerated, with 2F + 1 acceptors (0: two-phase commit)",
        },
        ParamSpec {
            name: "variant",
            kind: Variant::KIND,
            default: Value::Choice(Variant::Normal.word()),
            doc: "normal: phase 2b to the leader, which sends Commit; faster: phase 2b to the RMs",
        },
        ParamSpec {
            name: "placement",
            kind: Placement::KIND,
            default: Value::Choice(Placement::Separate.word()),
            doc: "separate nodes, or the leader on RM 0's node and acceptor i on RM i's",
        },
        ParamSpec {
            name: "timeout_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(50.0),
            doc: "how long after its Prepares the leader waits before running ballot 1",
        },
    ],
    extras: PaxosCommit::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(PaxosCommit::new(
            setting.env().clone(),
            setting.nodes,
            params.faults,
            params.variant,
            params.placement,
            params.timeout_ms,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    faults: u32,
    variant: Variant,
    placement: Placement,
    timeout_ms: f64,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            faults: setting.count("faults"),
            variant: setting.choice("variant"),
            placement: setting.choice("placement"),
            timeout_ms: setting.millis("timeout_ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Binomial, DiscreteCDF};

    use crate::model::stats::assert_rate;
    use crate::protocols::tests::{constant_node_time, run};

    /// The normal case's message delays, write delays and messages, as the model text derives
    /// them, for `n` RMs and `f` faults.
    fn normal_case(placement: &str, variant: &str, n: u64, f: u64) -> (u64, u64, u64) {
        match (placement, variant) {
            ("separate", "normal") => (if f == 0 { 4 } else { 5 }, 3, n * (f + 3) + f - 1),
            ("separate", "faster") => (4, 3, 2 * n * (f + 1) + n - 1),
            ("co-located", "normal") => (if f == 0 { 3 } else { 4 }, 3, (n - 1) * (f + 3) + f),
            ("co-located", "faster") => (3, 3, (n - 1) * (2 * f + 3)),
            _ => unreachable!(),
        }
    }

    #[test]
    fn node_time_adds_up_step_by_step() {
        // Constant delay d, persist p, process q, no failures: every trial takes exactly
        // k d + k q + 3 p (k message delays, each handled once, three writes on the path),
        // sends the derived count, and forces N + F + 1 records. N = 5 >= 2F + 1.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let latency = constant_node_time(d, p, q);
        let trials = 1000u64;
        for placement in ["separate", "co-located"] {
            for variant in ["normal", "faster"] {
                for f in [0u64, 1, 2] {
                    let (delays, writes, messages) = normal_case(placement, variant, 5, f);
                    let tally = run(
                        "paxos-commit",
                        &format!(
                            "nodes = 5\nfaults = {f}\nvariant = \"{variant}\"\n\
                             placement = \"{placement}\"\npersist = \"p\"\nprocess = \"q\""
                        ),
                        &latency,
                        trials,
                    );
                    let what = format!("{placement} {variant} F = {f}");
                    let k = delays as f64;
                    let ns = ((k * (d + q) + writes as f64 * p) * 1e6) as u64;
                    assert_eq!(tally.successes, trials, "{what}");
                    assert_eq!(tally.latency_max_ns, ns, "{what}");
                    assert_eq!(tally.latency_sum_ns, u128::from(trials * ns), "{what}");
                    assert_eq!(tally.messages_sum, u128::from(trials * messages), "{what}");
                    assert_eq!(
                        tally.extras_sum[0],
                        u128::from(trials * (5 + f + 1)),
                        "{what}"
                    );
                    assert_eq!(tally.extras_sum[1], 0, "{what}");
                }
            }
        }
    }

    #[test]
    fn the_papers_message_counts_at_five_rms() {
        // Gray and Lamport, Section 5: "for a transaction with 5 RMs, the Two-Phase Commit
        // uses 12 messages, regular Paxos Commit uses 17, and Faster Paxos Commit uses 20
        // (with co-location)" (F = 1; 2PC is F = 0).
        for (f, variant, messages) in [(0, "normal", 12u128), (1, "normal", 17), (1, "faster", 20)]
        {
            let tally = run(
                "paxos-commit",
                &format!(
                    "nodes = 5\nfaults = {f}\nvariant = \"{variant}\"\nplacement = \"co-located\""
                ),
                "kind = \"constant\"\nms = 1",
                100,
            );
            assert_eq!(tally.messages_sum, 100 * messages, "F = {f} {variant}");
        }
    }

    #[test]
    fn commits_iff_every_rm_and_a_majority_of_acceptors_are_up() {
        // Separate placement, crash c, no loss: RMs 1..N and acceptors 1..2F crash
        // independently (RM 0 and acceptor 0, on the leader's node, are up). A commit needs
        // every RM and F of the 2F remote acceptors: (1 - c)^(N - 1) P(Bin(2F, 1 - c) >= F);
        // with fewer than F the leader finds no majority: blocked. A 1 s timeout is never hit
        // by 0.5 ms exponential delays.
        for (n, f, c, variant) in [
            (4u64, 1u64, 0.1, "normal"),
            (3, 2, 0.3, "faster"),
            (6, 1, 0.05, "faster"),
        ] {
            let tally = run(
                "paxos-commit",
                &format!(
                    "nodes = {n}\nfaults = {f}\ncrash = {c}\nvariant = \"{variant}\"\ntimeout_ms = 1000"
                ),
                "",
                400_000,
            );
            let live = Binomial::new(1.0 - c, 2 * f).unwrap();
            let majority = if f == 0 { 1.0 } else { 1.0 - live.cdf(f - 1) };
            assert_rate(
                tally.successes,
                tally.trials(),
                (1.0 - c).powi(n as i32 - 1) * majority,
            );
            assert_rate(tally.blocked, tally.trials(), 1.0 - majority);
        }
    }

    #[test]
    fn a_crashed_rm_is_aborted_by_ballot_1() {
        // Crash 1: RM 1 is down and, with F = 0, the leader's own acceptor answers both
        // recovery phases. Its ballot 1 finds RM 0's vote only: Abort. Messages: RM 0's 2a,
        // one Prepare, no remote 1a/2a, two Aborts.
        let tally = run(
            "paxos-commit",
            "nodes = 2\nfaults = 0\ncrash = 1",
            "kind = \"constant\"\nms = 1",
            100,
        );
        assert_eq!((tally.successes, tally.blocked), (0, 0));
        assert_eq!(tally.messages_sum, 400);
        assert_eq!(tally.extras_sum[1], 100);
        // With F = 1 both remote acceptors are down too: no majority, blocked.
        let tally = run(
            "paxos-commit",
            "nodes = 2\nfaults = 1\ncrash = 1",
            "kind = \"constant\"\nms = 1",
            100,
        );
        assert_eq!(tally.blocked, 100);
    }

    #[test]
    fn a_lost_bundle_is_recovered_by_ballot_1() {
        // Separate placement, F = 1, constant d = 1 ms, loss 0.3, timeout T = 20 ms. A
        // success is the normal case's 5 ms, or a recovery: the leader's timer runs out T after
        // its Prepares (sent at 1 ms), then 1a/1b and 2a/2b (acceptor 0's replies are local, so
        // one remote reply completes each majority: 2 ms each), then the Commits (1 ms):
        // 1 + 20 + 2 + 2 + 1 = 26 ms.
        let tally = run(
            "paxos-commit",
            "nodes = 3\nfaults = 1\nloss = 0.3\ntimeout_ms = 20",
            "kind = \"constant\"\nms = 1",
            20_000,
        );
        let latency = tally.latency_ns();
        assert!(latency.count_at(5_000_000) > 0);
        assert!(latency.count_at(26_000_000) > 0);
        assert_eq!(
            latency.count_at(5_000_000) + latency.count_at(26_000_000),
            tally.successes
        );
        assert!(tally.extras_sum[1] > 0);
    }
}
