//! Two-phase commit: atomic commitment, and the protocol that blocks.
//!
//! A coordinator asks every participant to prepare (phase 1); each participant that can
//! commit makes its changes durable and votes yes, after which it may no longer decide alone.
//! If every vote arrives before the timeout the coordinator decides commit and tells everyone
//! (phase 2), resending until each participant acknowledges; a missing vote means abort. All
//! of N participants must be up and reachable, so availability falls as (1 - p)^N. Worse, if
//! the coordinator crashes after participants voted yes and before they learn the decision,
//! they are stuck holding locks: blocked, until the coordinator recovers.

use std::sync::Arc;

use super::direct::{self, Lazy, NodeTime, Replies, Sampling};
use super::{
    CLIENT, Choice, Env, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo,
    Sampler, Setting, Value, choice,
};
use crate::latency::{Mix, NS_PER_MS, to_ns};
use crate::model::Simulate;
use crate::order::{OrderStatistic, Rank};
use crate::rng::{Chance, SimRng};

macro_rules! model {
    () => {
        "One trial: a coordinator (the client) and N participants (nodes 0..N) commit one
transaction.
Phase 1: the coordinator sends PREPARE to each participant; a participant that is up and gets
it votes YES (and is then prepared). Each participant is crashed with probability crash for
the whole trial; each message is lost independently with probability loss.
With probability coordinator_crash the coordinator crashes after sending PREPARE and before
deciding: the trial is blocked if any participant is prepared (it cannot decide alone), and a
failure otherwise.
Otherwise, if all N votes arrive within timeout_ms of the PREPAREs the coordinator decides
COMMIT; if not, it sends ABORT to all N participants at the timeout: a failure.
Phase 2 (commit): COMMIT goes to each participant, which acknowledges it; a lost COMMIT or
acknowledgement is resent every timeout_ms until acknowledged (commit = \"resend\"), or the
phase runs over a reliable channel that loses nothing (commit = \"reliable\").
Success: the transaction commits; with no timeout hit, probability
(1 - crash)^N (1 - loss)^(2N) (1 - coordinator_crash).
Latency: slowest PREPARE round trip plus slowest COMMIT acknowledgement.
Messages: PREPAREs, votes, then COMMITs and acknowledgements (or N ABORTs).
Rounds: 2 (prepare, then commit or abort); 1 when the coordinator crashed.
Time at the nodes (grid.persist, grid.process; none unless set), presumed-nothing 2PC where
every log record is forced: a participant handles PREPARE and forces its prepare record
before voting YES; the coordinator handles each vote, and once all are in forces its COMMIT
record before sending COMMIT; a participant handles COMMIT and forces its commit record
before acknowledging (once, for the first copy it handles; a resent copy is acknowledged once
the record is durable); the coordinator handles each acknowledgement. Each phase's round trip
is then d + q + p + d + q (d one-way delays, q processing, p a forced write), the vote timeout
counts from the PREPAREs to the last vote handled, and the latency adds the coordinator's
forced write between the phases. The coordinator's unforced end record is not waited for.
Sampling: direct (the default, when nodes and messages are alike) draws the numbers of
participants prepared and votes received from their binomial distributions and each phase's
slowest round trip as the maximum of N round trips, Q(U^(1/N)); a commit phase that resends
lost messages is still simulated per participant. Each participant's round trip
d + q + p + d + q is drawn afresh, independently of the others', so Q is the quantile
function of that sum: constant persist and process times add to it as constants, exactly;
random ones are summed with the delays on a grid (within 3 x 2^-12 relative and 8 ns for
five random terms, see order::sum). The coordinator's forced write between the phases is one
draw of its own. per-node simulates every message."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{TwoPhaseCommit};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = TwoPhaseCommit::new(env, 4, 50.0, 0.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!(outcome.status, Status::Success);
/// assert_eq!((outcome.latency_ns, outcome.messages), (4_000_000, 16));
/// ```
#[derive(Debug, Clone)]
pub struct TwoPhaseCommit {
    env: Env,
    nodes: u32,
    timeout_ns: u64,
    coordinator_crash: Chance,
    reliable_commit: bool,
}

impl TwoPhaseCommit {
    /// Phase 2 over a reliable channel: COMMITs and acknowledgements are never lost, so the
    /// commit phase costs exactly one round trip per participant.
    pub fn with_reliable_commit(mut self, reliable: bool) -> Self {
        self.reliable_commit = reliable;
        self
    }

    /// `nodes` participants, a vote timeout of `timeout_ms`, and a coordinator that crashes
    /// between the phases with probability `coordinator_crash`.
    pub fn new(
        env: Env,
        nodes: u32,
        timeout_ms: f64,
        coordinator_crash: f64,
    ) -> Result<Self, ModelError> {
        if nodes == 0 {
            return Err(ModelError::new("nodes", "needs at least one participant"));
        }
        if !(timeout_ms.is_finite() && timeout_ms > 0.0) {
            return Err(ModelError::new("timeout_ms", "must be a finite number > 0"));
        }
        let coordinator_crash =
            Chance::new(coordinator_crash).map_err(|e| ModelError::new("coordinator_crash", e))?;
        Ok(Self {
            env,
            nodes,
            timeout_ns: (timeout_ms * NS_PER_MS) as u64,
            coordinator_crash,
            reliable_commit: false,
        })
    }
}

impl TwoPhaseCommit {
    /// One trial, whichever way `draws` draws its counts and round trips.
    #[inline(always)]
    fn run(&self, rng: &mut SimRng, draws: &mut impl Draws) -> Outcome {
        let n = u64::from(self.nodes);
        let (prepared, votes) = draws.prepare(rng);
        let mut messages = n + prepared;
        if self.coordinator_crash.happens(rng) {
            return if prepared > 0 {
                Outcome::blocked(messages, 1)
            } else {
                Outcome::failure(messages, 1)
            };
        }
        let abort = |messages: u64| Outcome::failure(messages + n, 2);
        if votes < n {
            return abort(messages);
        }
        let prepare_ns = draws.slowest_prepare(rng);
        if prepare_ns > self.timeout_ns {
            return abort(messages);
        }
        let decide_ns = draws.decide(rng);
        let (commit_ns, sent) = draws.commit(rng);
        messages += sent;
        let ns = prepare_ns
            .saturating_add(decide_ns)
            .saturating_add(commit_ns);
        Outcome::success(ns, messages, 2)
    }
}

/// What a trial draws: phase 1's counts, the slowest PREPARE round trip, and phase 2.
trait Draws {
    /// Phase 1: (participants prepared, votes that reached the coordinator).
    fn prepare(&mut self, rng: &mut SimRng) -> (u64, u64);
    /// The slowest PREPARE round trip, once every vote arrived.
    fn slowest_prepare(&mut self, rng: &mut SimRng) -> u64;
    /// The coordinator's forced write of its decision (0 without node time).
    fn decide(&mut self, rng: &mut SimRng) -> u64;
    /// Phase 2: (time of the slowest acknowledgement, messages sent).
    fn commit(&mut self, rng: &mut SimRng) -> (u64, u64);
}

/// Participant by participant, over the trial's network; with time at the nodes when
/// `TIMED` (decided once per trial, so that a cell without it runs the plain loops).
struct PerNodeDraws<'a, 'n, const TIMED: bool> {
    model: &'a TwoPhaseCommit,
    net: &'a Net<'n>,
}

impl<const TIMED: bool> Draws for PerNodeDraws<'_, '_, TIMED> {
    #[inline(always)]
    fn prepare(&mut self, rng: &mut SimRng) -> (u64, u64) {
        prepare(self.net, rng, self.model.nodes)
    }

    #[inline(always)]
    fn slowest_prepare(&mut self, rng: &mut SimRng) -> u64 {
        if TIMED {
            slowest_forced_round_trip(self.net, rng, self.model.nodes)
        } else {
            slowest_round_trip(self.net, rng, self.model.nodes)
        }
    }

    #[inline(always)]
    fn decide(&mut self, rng: &mut SimRng) -> u64 {
        if TIMED { self.net.persist_ns(rng) } else { 0 }
    }

    #[inline(always)]
    fn commit(&mut self, rng: &mut SimRng) -> (u64, u64) {
        let m = self.model;
        match (m.reliable_commit, TIMED) {
            (true, false) => (
                slowest_round_trip(self.net, rng, m.nodes),
                2 * u64::from(m.nodes),
            ),
            (true, true) => (
                slowest_forced_round_trip(self.net, rng, m.nodes),
                2 * u64::from(m.nodes),
            ),
            (false, false) => until_acknowledged(self.net, rng, m.nodes, m.timeout_ns),
            (false, true) => until_acknowledged_forced(self.net, rng, m.nodes, m.timeout_ns),
        }
    }
}

impl Protocol for TwoPhaseCommit {
    type Scratch = ();

    fn scratch(&self) {}

    #[inline]
    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        if self.env.has_node_time() {
            self.run(
                rng,
                &mut PerNodeDraws::<true> {
                    model: self,
                    net: &net,
                },
            )
        } else {
            self.run(
                rng,
                &mut PerNodeDraws::<false> {
                    model: self,
                    net: &net,
                },
            )
        }
    }
}

/// Two-phase commit sampled directly: the phase-1 counts from their binomial distributions,
/// each phase's slowest round trip as the maximum of N ([`crate::order`]). `TIME` is what the
/// nodes take ([`PLAIN`], [`CONSTANT`] or [`RANDOM`]), fixed when the model is built so that
/// a trial does not ask; [`direct_model`] builds the one an environment needs.
#[derive(Debug)]
pub struct TwoPhaseCommitDirect<const TIME: u8> {
    model: TwoPhaseCommit,
    /// [`CONSTANT`]: the coordinator's forced write, in ns (0 otherwise).
    persist_ns: u64,
    /// [`CONSTANT`]: what each phase's slowest round trip gains at the nodes (handled at the
    /// participant, forced, handled at the coordinator), in ns (0 otherwise).
    forced_ns: u64,
    /// The time at the nodes: the round trips' quantiles hold it where it is random.
    timing: NodeTime,
    votes: Replies,
    round_trip: Mix,
    slowest: Lazy<OrderStatistic>,
}

/// The time at the nodes of `env` as direct sampling takes it ([`NodeTime::of`]), and its
/// kind as [`TwoPhaseCommitDirect`]'s `TIME`: random, constant where a model is set, or none.
///
/// # Panics
/// If direct sampling does not take the time at the nodes.
fn node_time(env: &Env, law: &Mix) -> (NodeTime, u8) {
    let timing = NodeTime::of(env, law).expect("node time direct sampling takes");
    let kind = match timing {
        NodeTime::Random(_) => RANDOM,
        NodeTime::Constant(..) if env.has_node_time() => CONSTANT,
        NodeTime::Constant(..) => PLAIN,
    };
    (timing, kind)
}

/// `model` sampled directly, with one-way delays drawn from `law` ([`TwoPhaseCommitDirect`]
/// with the `TIME` its environment's node time needs).
///
/// # Panics
/// If direct sampling does not take the time at the nodes.
pub fn direct_model(model: TwoPhaseCommit, law: Mix) -> Box<dyn Simulate> {
    match node_time(&model.env, &law).1 {
        RANDOM => Box::new(TwoPhaseCommitDirect::<RANDOM>::new(model, law)),
        CONSTANT => Box::new(TwoPhaseCommitDirect::<CONSTANT>::new(model, law)),
        _ => Box::new(TwoPhaseCommitDirect::<PLAIN>::new(model, law)),
    }
}

impl<const TIME: u8> TwoPhaseCommitDirect<TIME> {
    /// `model`, for an environment where nodes and messages are alike, with one-way delays
    /// drawn from `law` and time at the nodes, if any, that direct sampling takes
    /// ([`NodeTime::of`]): constant node time adds to every round trip as a constant, random
    /// node time is summed into the round trip's quantiles.
    ///
    /// # Panics
    /// If direct sampling does not take the time at the nodes, or `TIME` is not what the
    /// nodes take.
    pub fn new(model: TwoPhaseCommit, law: Mix) -> Self {
        let (timing, kind) = node_time(&model.env, &law);
        assert_eq!(TIME, kind, "the kind of node time (0 none, 1 constant, 2 random)");
        Self {
            persist_ns: match timing {
                NodeTime::Constant(persist_ns, _) => persist_ns,
                NodeTime::Random(_) => 0,
            },
            forced_ns: timing.constant_ns(),
            timing,
            votes: Replies::new(&model.env, model.nodes),
            model,
            round_trip: law,
            slowest: Lazy::default(),
        }
    }
}

impl<const TIME: u8> Protocol for TwoPhaseCommitDirect<TIME> {
    type Scratch = Arc<OrderStatistic>;

    fn scratch(&self) -> Arc<OrderStatistic> {
        let n = self.model.nodes;
        self.slowest.get(|| {
            let likely = if n <= direct::TABULATED {
                vec![n]
            } else {
                Vec::new()
            };
            OrderStatistic::new(self.timing.reply(&self.round_trip), Rank::Max, &likely)
        })
    }

    #[inline]
    fn trial(&self, rng: &mut SimRng, slowest: &mut Arc<OrderStatistic>) -> Outcome {
        let m = &self.model;
        m.run(
            rng,
            &mut DirectDraws::<TIME> {
                model: m,
                n: m.nodes.into(),
                votes: &self.votes,
                slowest,
                fresh: None,
                persist_ns: self.persist_ns,
                forced_ns: self.forced_ns,
            },
        )
    }

    fn sampler(&self) -> Sampler {
        Sampler::Direct
    }
}

/// No time at the nodes ([`TwoPhaseCommitDirect`], [`DirectDraws`]).
pub const PLAIN: u8 = 0;
/// Constant time at the nodes.
pub const CONSTANT: u8 = 1;
/// Random time at the nodes.
pub const RANDOM: u8 = 2;

/// From their distributions: phase 1's counts by [`Replies`], the slowest round trips by
/// `slowest`; a commit phase that resends lost messages participant by participant. `TIME`
/// says what the nodes take: [`PLAIN`], nothing; [`CONSTANT`], `forced_ns` added to each
/// phase's slowest round trip and `persist_ns` for the coordinator's decision; [`RANDOM`],
/// round trips whose quantiles hold the node time, and the decision's write drawn.
struct DirectDraws<'a, const TIME: u8> {
    model: &'a TwoPhaseCommit,
    n: u64,
    votes: &'a Replies,
    slowest: &'a OrderStatistic,
    /// The uniform draw the counts left for the slowest PREPARE round trip, if any.
    fresh: Option<u64>,
    persist_ns: u64,
    forced_ns: u64,
}

impl<const TIME: u8> Draws for DirectDraws<'_, TIME> {
    #[inline(always)]
    fn prepare(&mut self, rng: &mut SimRng) -> (u64, u64) {
        let ((prepared, votes), fresh) = self.votes.sample_reusing(rng);
        self.fresh = fresh;
        (prepared.into(), votes.into())
    }

    #[inline(always)]
    fn slowest_prepare(&mut self, rng: &mut SimRng) -> u64 {
        let ns = to_ns(self.slowest.sample_with(self.fresh, rng, self.n));
        if TIME == CONSTANT {
            ns.saturating_add(self.forced_ns)
        } else {
            ns
        }
    }

    #[inline(always)]
    fn decide(&mut self, rng: &mut SimRng) -> u64 {
        match TIME {
            CONSTANT => self.persist_ns,
            // The coordinator's forced write: one draw, apart from the participants'.
            RANDOM => self.model.env.begin(rng).persist_ns(rng),
            _ => 0,
        }
    }

    #[inline(always)]
    fn commit(&mut self, rng: &mut SimRng) -> (u64, u64) {
        let (m, n) = (self.model, self.n);
        if m.reliable_commit || m.env.loss().is_never() {
            let ns = to_ns(self.slowest.sample(rng, n));
            if TIME == CONSTANT {
                (ns.saturating_add(self.forced_ns), 2 * n)
            } else {
                (ns, 2 * n)
            }
        } else if TIME != PLAIN {
            // The per-node exchange draws its node time as the per-node model does.
            let net = m.env.begin(rng);
            until_acknowledged_forced(&net, rng, m.nodes, m.timeout_ns)
        } else {
            let net = m.env.begin(rng);
            until_acknowledged(&net, rng, m.nodes, m.timeout_ns)
        }
    }
}

/// Phase 1 of an atomic commit from the coordinator ([`CLIENT`]) to participants
/// `0..nodes`: returns (participants prepared, votes that reached the coordinator).
pub(super) fn prepare(net: &Net<'_>, rng: &mut SimRng, nodes: u32) -> (u64, u64) {
    let (mut prepared, mut votes) = (0, 0);
    for participant in 0..nodes {
        if !net.up(rng, participant) || net.lost(rng, CLIENT, participant) {
            continue;
        }
        prepared += 1;
        if !net.lost(rng, participant, CLIENT) {
            votes += 1;
        }
    }
    (prepared, votes)
}

/// The slowest round trip from the coordinator to participants `0..nodes`.
pub(super) fn slowest_round_trip(net: &Net<'_>, rng: &mut SimRng, nodes: u32) -> u64 {
    (0..nodes)
        .map(|participant| net.round_trip_ns(rng, CLIENT, participant))
        .max()
        .unwrap_or(0)
}

/// The slowest forced round trip from the coordinator to participants `0..nodes`: the
/// request, its handling and a forced write at the participant, the reply, its handling at
/// the coordinator.
pub(super) fn slowest_forced_round_trip(net: &Net<'_>, rng: &mut SimRng, nodes: u32) -> u64 {
    (0..nodes)
        .map(|participant| forced_round_trip(net, rng, participant))
        .max()
        .unwrap_or(0)
}

/// One forced round trip from the coordinator to `participant` (see
/// [`slowest_forced_round_trip`]).
#[inline(always)]
fn forced_round_trip(net: &Net<'_>, rng: &mut SimRng, participant: u32) -> u64 {
    net.delay_ns(rng, CLIENT, participant)
        .saturating_add(net.process_ns(rng))
        .saturating_add(net.persist_ns(rng))
        .saturating_add(net.delay_ns(rng, participant, CLIENT))
        .saturating_add(net.process_ns(rng))
}

/// [`until_acknowledged`] with time at the nodes: each (live) participant handles every copy it
/// gets, forces its record once, on the first copy to arrive, and acknowledges each copy
/// once it has handled it and the record is durable; the coordinator handles each
/// acknowledgement. Sends stop, as in [`Net::exchange`], once an acknowledgement is in.
pub(super) fn until_acknowledged_forced(
    net: &Net<'_>,
    rng: &mut SimRng,
    nodes: u32,
    timeout_ns: u64,
) -> (u64, u64) {
    let (mut slowest, mut messages) = (0u64, 0u64);
    // (copy handled, acknowledgement's way back) of each acknowledgement that arrives.
    let mut acks: Vec<(u64, u64)> = Vec::new();
    for participant in 0..nodes {
        acks.clear();
        // The first copy handled, and when the record forced then is durable.
        let (mut first, mut persist) = (u64::MAX, 0u64);
        let mut attempt = 0u64;
        loop {
            let start = attempt.saturating_mul(timeout_ns);
            // Copies sent from here on arrive after `start`: acknowledgements in by then are
            // final.
            if earliest_ack(&acks, first.saturating_add(persist)) <= start {
                break;
            }
            attempt += 1;
            messages += 1;
            if net.lost(rng, CLIENT, participant) {
                continue;
            }
            let handled = start
                .saturating_add(net.delay_ns(rng, CLIENT, participant))
                .saturating_add(net.process_ns(rng));
            if first == u64::MAX {
                persist = net.persist_ns(rng);
            }
            first = first.min(handled);
            messages += 1;
            if net.lost(rng, participant, CLIENT) {
                continue;
            }
            let back = net
                .delay_ns(rng, participant, CLIENT)
                .saturating_add(net.process_ns(rng));
            acks.push((handled, back));
        }
        let ack_ns = earliest_ack(&acks, first.saturating_add(persist));
        slowest = slowest.max(ack_ns);
    }
    (slowest, messages)
}

/// The first acknowledgement in, of copies handled and sent back as `acks` says, once the
/// record is durable at `durable`.
fn earliest_ack(acks: &[(u64, u64)], durable: u64) -> u64 {
    acks.iter()
        .map(|&(handled, back)| handled.max(durable).saturating_add(back))
        .min()
        .unwrap_or(u64::MAX)
}

/// A message from the coordinator to every live participant, resent every `timeout_ns` until
/// acknowledged: returns (time of the slowest acknowledgement, messages sent).
pub(super) fn until_acknowledged(
    net: &Net<'_>,
    rng: &mut SimRng,
    nodes: u32,
    timeout_ns: u64,
) -> (u64, u64) {
    let (mut slowest, mut messages) = (0u64, 0u64);
    for participant in 0..nodes {
        let exchange = net.exchange(rng, CLIENT, participant, true, timeout_ns, u32::MAX);
        messages += exchange.messages;
        slowest = slowest.max(exchange.ack_ns.unwrap_or(u64::MAX));
    }
    (slowest, messages)
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "two-phase-commit",
    summary: "atomic commit: prepare/vote then commit/ack; blocks if the coordinator dies",
    model: model!(),
    params: &[
        ParamSpec {
            name: "timeout_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(50.0),
            doc: "how long the coordinator waits for votes, and between COMMIT resends",
        },
        ParamSpec {
            name: "coordinator_crash",
            kind: ParamKind::Probability,
            default: Value::Probability(0.0),
            doc: "probability the coordinator crashes between the phases",
        },
        ParamSpec {
            name: "commit",
            kind: Commit::KIND,
            default: Value::Choice(Commit::Resend.word()),
            doc: "phase 2 messages: lost like any other and resent, or never lost",
        },
        direct::SAMPLING,
    ],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        let env = setting.env().clone();
        // Direct where the delays and the time at the nodes allow it.
        let law = direct::direct_law(params.sampling, &env)
            .filter(|law| NodeTime::of(&env, law).is_some());
        let model = TwoPhaseCommit::new(
            env,
            setting.nodes,
            params.timeout_ms,
            params.coordinator_crash,
        )?
        .with_reliable_commit(params.commit == Commit::Reliable);
        Ok(match law {
            Some(law) => direct_model(model, law),
            None => Box::new(model),
        })
    },
};

choice! {
    /// How phase 2's messages travel.
    enum Commit {
        /// Lost like any other, and resent until acknowledged.
        Resend = "resend",
        /// Over a channel that loses nothing.
        Reliable = "reliable",
    }
}

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    timeout_ms: f64,
    coordinator_crash: f64,
    commit: Commit,
    sampling: Sampling,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            timeout_ms: setting.millis("timeout_ms"),
            coordinator_crash: setting.probability("coordinator_crash"),
            commit: setting.choice("commit"),
            sampling: setting.choice("sampling"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn success_needs_every_participant_and_every_phase_one_message() {
        // A 1 s timeout is never hit by 1 ms exponential delays (P ~ e^-1000).
        for (nodes, crash, loss) in [(3u32, 0.01f64, 0.001f64), (10, 0.005, 0.01)] {
            let tally = run(
                "two-phase-commit",
                &format!("nodes = {nodes}\ncrash = {crash}\nloss = {loss}\ntimeout_ms = 1000"),
                "kind = \"exponential\"\nmean_ms = 1",
                1_000_000,
            );
            let n = f64::from(nodes);
            let p = (1.0 - crash).powf(n) * (1.0 - loss).powf(2.0 * n);
            assert_rate(tally.successes, tally.trials(), p);
            assert_eq!(tally.blocked, 0);
        }
    }

    #[test]
    fn a_coordinator_crash_between_phases_blocks_prepared_participants() {
        // Blocked iff the coordinator crashes and some participant is prepared:
        // P = cc (1 - crash^N) with no loss.
        let (nodes, crash, cc) = (2, 0.3, 0.1);
        let tally = run(
            "two-phase-commit",
            &format!("nodes = {nodes}\ncrash = {crash}\ncoordinator_crash = {cc}"),
            "",
            1_000_000,
        );
        assert_rate(
            tally.blocked,
            tally.trials(),
            cc * (1.0 - f64::powi(crash, nodes)),
        );
    }

    #[test]
    fn one_participant_commits_after_four_one_way_delays() {
        // N = 1, no failures: latency = PREPARE + vote + COMMIT + ack, the sum of four
        // Exp(m) delays: Gamma(4, m), mean 4m, standard deviation 2m.
        let m_ns = 500_000.0;
        let trials = 1_000_000u64;
        let tally = run("two-phase-commit", "nodes = 1", "", trials);
        assert_eq!(tally.successes, trials);
        let mean = tally.latency_sum_ns as f64 / trials as f64;
        let tolerance = 5.0 * 2.0 * m_ns / (trials as f64).sqrt();
        assert!((mean - 4.0 * m_ns).abs() <= tolerance, "mean {mean} ns");
    }

    #[test]
    fn direct_sampling_matches_the_per_node_simulation() {
        use super::{PLAIN, TwoPhaseCommit, TwoPhaseCommitDirect};
        use crate::latency::tests::parse;
        use crate::model::Env;
        use crate::protocols::tests::assert_same_distribution;
        let lognormal = parse("kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5").unwrap();
        let exponential = parse("kind = \"exponential\"\nmean_ms = 1").unwrap();
        let tail_at_scale = parse(crate::protocols::tests::TAIL_AT_SCALE).unwrap();
        let half_constant = parse(crate::protocols::tests::HALF_CONSTANT).unwrap();
        let sample = crate::protocols::tests::empirical(5_000, 7, 0.0);
        for (latency, nodes, crash, loss, cc, timeout, reliable) in [
            (&lognormal, 10, 0.01, 0.001, 0.0, 50.0, true),
            (&lognormal, 10, 0.05, 0.01, 0.01, 5.0, false),
            (&exponential, 3, 0.1, 0.05, 0.1, 4.0, true),
            (&exponential, 100, 0.001, 0.0, 0.0, 20.0, false),
            (&tail_at_scale, 10, 0.01, 0.001, 0.0, 1500.0, true),
            (&half_constant, 5, 0.01, 0.0, 0.0, 4.0, true),
            (&sample, 20, 0.01, 0.001, 0.0, 50.0, true),
        ] {
            let env = Env::new(crash, loss, latency.clone()).unwrap();
            let model = TwoPhaseCommit::new(env, nodes, timeout, cc)
                .unwrap()
                .with_reliable_commit(reliable);
            let direct = TwoPhaseCommitDirect::<PLAIN>::new(model.clone(), latency.law().unwrap());
            assert_same_distribution(
                &format!("N = {nodes} crash = {crash} loss = {loss} timeout = {timeout}"),
                &model,
                &direct,
                100_000,
            );
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
    fn node_time_adds_two_forced_round_trips_and_the_decision() {
        // Constant delay d, persist p, process q: each phase's round trip is d + q + p + d + q,
        // and the coordinator forces its decision between them: 4d + 4q + 3p exactly, whether
        // sampled directly or per participant, COMMITs resent or reliable.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let commit_ns = ((4.0 * d + 4.0 * q + 3.0 * p) * 1e6) as u64;
        for sampling in ["direct", "per-node"] {
            for commit in ["resend", "reliable"] {
                let tally = run(
                    "two-phase-commit",
                    &format!(
                        "nodes = 7\npersist = \"p\"\nprocess = \"q\"\nsampling = \"{sampling}\"\n\
                         commit = \"{commit}\""
                    ),
                    &constants(d, p, q),
                    1000,
                );
                assert_eq!(tally.successes, 1000, "{sampling} {commit}");
                assert_eq!(tally.latency_max_ns, commit_ns, "{sampling} {commit}");
                assert_eq!(tally.latency_sum_ns, 1000 * u128::from(commit_ns));
                assert_eq!(tally.messages_sum, 4 * 7 * 1000);
            }
        }
        // Node time counts against the vote timeout: 2d + 2q + p = 7 ms > 6 ms aborts.
        let tally = run(
            "two-phase-commit",
            "nodes = 3\ntimeout_ms = 6\npersist = \"p\"\nprocess = \"q\"",
            &constants(d, p, q),
            1000,
        );
        assert_eq!(tally.successes, 0);
    }

    #[test]
    fn random_persist_times_add_three_forced_writes() {
        // N = 1, constant delay d and process q, exponential persist of mean P: three forced
        // writes, 4d + 4q + Gamma(3, P): mean 4d + 4q + 3P, standard deviation sqrt(3) P.
        // Loss makes the resent COMMIT's exchange run too (sends every 50 ms).
        let (d, q, p_ns, trials) = (1.0, 0.25, 2e6, 400_000u64);
        let latency = format!(
            "kind = \"constant\"\nms = {d}\n[latency.p]\nkind = \"exponential\"\nmean_ms = 2\n\
             [latency.q]\nkind = \"constant\"\nms = {q}"
        );
        let tally = run(
            "two-phase-commit",
            "nodes = 1\npersist = \"p\"\nprocess = \"q\"\ntimeout_ms = 1000",
            &latency,
            trials,
        );
        assert_eq!(tally.successes, trials);
        let mean = tally.latency_sum_ns as f64 / trials as f64;
        let expected = (4.0 * d + 4.0 * q) * 1e6 + 3.0 * p_ns;
        let tolerance = 5.0 * 3f64.sqrt() * p_ns / (trials as f64).sqrt();
        assert!(
            (mean - expected).abs() <= tolerance,
            "mean {mean} ns, expected {expected} +- {tolerance}"
        );
    }

    #[test]
    fn a_resent_commit_is_acknowledged_once_the_record_is_durable() {
        // One participant, loss 0.3, constant delay 1 ms, persist 4 ms, process 0.5 ms, COMMIT
        // resent every 20 ms. Phase 1 and the decision: 7 + 4 ms. Phase 2, by what is lost:
        // nothing, 7 ms; the first COMMIT, 20 + 7 ms; only the first acknowledgement, 20 +
        // 1.5 (the copy handled, the record long durable) + 1.5 = 23 ms.
        let tally = run(
            "two-phase-commit",
            "nodes = 1\nloss = 0.3\ntimeout_ms = 20\npersist = \"p\"\nprocess = \"q\"",
            &constants(1.0, 4.0, 0.5),
            20_000,
        );
        let latency = tally.latency_ns();
        for ms in [18u64, 38, 34] {
            assert!(latency.count_at(ms * 1_000_000) > 0, "no commit at {ms} ms");
        }
        assert!(latency.equivalent(latency.min(), 18_000_000));
    }

    #[test]
    fn constant_node_time_keeps_direct_sampling_exact() {
        use super::{CONSTANT, TwoPhaseCommit, TwoPhaseCommitDirect};
        use crate::latency::tests::parse;
        use crate::model::Env;
        use crate::protocols::tests::assert_same_distribution;
        let lognormal = parse("kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5").unwrap();
        let persist = parse("kind = \"constant\"\nms = 2").unwrap();
        let process = parse("kind = \"constant\"\nms = 0.1").unwrap();
        for (nodes, loss, reliable) in [(10, 0.001, true), (5, 0.01, false)] {
            let env = Env::new(0.01, loss, lognormal.clone())
                .unwrap()
                .with_node_time(Some(persist.clone()), Some(process.clone()));
            let model = TwoPhaseCommit::new(env, nodes, 8.0, 0.01)
                .unwrap()
                .with_reliable_commit(reliable);
            let law = lognormal.law().unwrap();
            let direct = TwoPhaseCommitDirect::<CONSTANT>::new(model.clone(), law);
            assert_same_distribution(
                &format!("N = {nodes} loss = {loss} reliable = {reliable}"),
                &model,
                &direct,
                100_000,
            );
        }
    }

    #[test]
    fn random_node_time_samples_directly() {
        // Random writes (exponential, mean 2 ms) and handling (log-normal, median 0.05 ms):
        // each phase's slowest d + q + p + d + q from the sum's quantiles, the coordinator's
        // write drawn once, a resent commit phase participant by participant, against every
        // participant simulated, at significance 1e-6 per Kolmogorov-Smirnov test.
        use super::{RANDOM, TwoPhaseCommit, TwoPhaseCommitDirect};
        use crate::protocols::tests::{assert_same_law, random_node_time};
        let lan =
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }";
        for (nodes, crash, loss, cc, timeout, reliable) in [
            (10, 0.01, 0.001, 0.0, 50.0, true),
            (10, 0.05, 0.01, 0.01, 12.0, false),
            (3, 0.1, 0.05, 0.1, 8.0, true),
            (100, 0.001, 0.0, 0.0, 30.0, false),
        ] {
            let env = random_node_time(crash, loss, lan);
            let law = env.latency().law().unwrap();
            let model = TwoPhaseCommit::new(env, nodes, timeout, cc)
                .unwrap()
                .with_reliable_commit(reliable);
            let direct = TwoPhaseCommitDirect::<RANDOM>::new(model.clone(), law);
            assert_same_law(
                &format!("2PC N = {nodes} loss = {loss} timeout = {timeout} reliable = {reliable}"),
                &model,
                &direct,
                100_000,
                1e-6,
            );
        }
    }

    #[test]
    fn commits_cost_four_messages_per_participant() {
        let tally = run("two-phase-commit", "nodes = 6", "", 10_000);
        assert_eq!(tally.successes, 10_000);
        assert_eq!(tally.messages_sum, 24 * 10_000);
        assert_eq!(tally.rounds_sum, 2 * 10_000);
    }
}
