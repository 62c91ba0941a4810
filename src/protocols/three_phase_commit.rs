//! Three-phase commit: atomic commit that does not block on a coordinator crash.
//!
//! 2PC blocks because a participant that voted yes cannot tell whether the coordinator
//! decided commit before dying. 3PC (Skeen, 1981) inserts a PRE-COMMIT round: nobody commits
//! until everybody knows everybody voted yes. When the coordinator dies, the participants
//! elect a new one that looks at their states: if anyone is pre-committed, all voted yes and
//! it commits; otherwise nobody can have committed and it aborts. Either way nobody waits for
//! the dead coordinator. The price: a third round trip on every commit. (With network
//! partitions the two sides can decide differently; this model does not look for that.)

use super::two_phase_commit::{
    slowest_forced_round_trip, slowest_round_trip, until_acknowledged, until_acknowledged_forced,
};
use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Setting, Value,
};
use crate::latency::NS_PER_MS;
use crate::rng::{Chance, SimRng};

macro_rules! model {
    () => {
        "One trial: a coordinator (the client) and N participants (nodes 0..N) commit one
transaction. Phase 1 is 2PC's: PREPARE, then YES votes from participants that are up and got
it; each participant is crashed with probability crash for the whole trial, each message is
lost independently with probability loss. If all N votes arrive within timeout_ms the
coordinator sends PRE-COMMIT, then DO-COMMIT, each resent every timeout_ms until
acknowledged; otherwise it aborts (N ABORTs): a failure.
With probability coordinator_crash the coordinator crashes, with equal chance before sending
PRE-COMMIT or right after sending it. The participants notice after timeout_ms and run the
termination protocol: one that got PREPARE asks the N - 1 others for their state, every
other live participant replies (also one that missed PREPARE), and it sends the decision to
the N - 1 others: commit if any participant is pre-committed, abort otherwise. Termination
messages are never lost (neither loss nor a partition applies to them). If no participant
got PREPARE, nobody notices and nothing is sent. No trial is ever blocked.
Success: the transaction commits; with no loss and no timeout hit, probability
(1 - crash)^N (1 - coordinator_crash / 2).
Latency: the three phases' slowest acknowledgements; after a crash, the time until the
termination protocol's decision reaches every participant.
Messages: 6N with no failures, plus the termination protocol's: (N - 1) requests +
(live - 1) replies + (N - 1) decisions, live being the participants that are up.
Rounds: phases run.
terminations: trials that ran the termination protocol.
Time at the nodes (grid.persist, grid.process; none unless set): as in two-phase-commit, a
participant handles PREPARE and forces its prepare record before voting; it handles
PRE-COMMIT and forces its pre-commit record before acknowledging; the coordinator handles
every reply, forces its commit record once every PRE-COMMIT is acknowledged, then sends
DO-COMMIT, which each participant handles and forces before acknowledging (a resent copy is
acknowledged once the record is durable). With constant d, p and q a commit takes
3 (2d + 2q + p) + p. After a crash past PRE-COMMIT the participants' pre-commit records are
forced before their timers start; in the termination protocol every state request and reply
is handled at its receiver, the new coordinator forces its decision before sending it, and
each participant handles the decision. Every participant is simulated, as without node
time."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{ThreePhaseCommit};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = ThreePhaseCommit::new(env, 4, 50.0, 0.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.latency_ns, outcome.messages), (6_000_000, 24));
/// ```
#[derive(Debug, Clone)]
pub struct ThreePhaseCommit {
    env: Env,
    nodes: u32,
    timeout_ns: u64,
    coordinator_crash: Chance,
}

impl ThreePhaseCommit {
    /// `nodes` participants, a timeout of `timeout_ms`, and a coordinator that crashes with
    /// probability `coordinator_crash`.
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
        })
    }
}

/// Phase 1, as in 2PC (the same draws in the same order): PREPARE to every participant and
/// YES votes back. Returns (participants up, participants that got PREPARE, votes received).
fn prepare(net: &Net<'_>, rng: &mut SimRng, nodes: u32) -> (u64, u64, u64) {
    let (mut live, mut prepared, mut votes) = (0, 0, 0);
    for participant in 0..nodes {
        if !net.up(rng, participant) {
            continue;
        }
        live += 1;
        if net.lost(rng, CLIENT, participant) {
            continue;
        }
        prepared += 1;
        if !net.lost(rng, participant, CLIENT) {
            votes += 1;
        }
    }
    (live, prepared, votes)
}

impl Protocol for ThreePhaseCommit {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "terminations",
        doc: "trials in which the participants ran the termination protocol",
    }];
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        if self.env.has_node_time() {
            self.run::<true>(rng)
        } else {
            self.run::<false>(rng)
        }
    }
}

impl ThreePhaseCommit {
    /// One trial; with `TIMED`, time at the nodes (decided once per trial, so that a cell
    /// without it runs the plain loops).
    #[inline(always)]
    fn run<const TIMED: bool>(&self, rng: &mut SimRng) -> Outcome {
        let n = u64::from(self.nodes);
        let net = self.env.begin(rng);
        let (live, prepared, votes) = prepare(&net, rng, self.nodes);
        let mut messages = n + prepared;
        let mut extras = [0; MAX_EXTRAS];
        let crash = self.coordinator_crash.happens(rng);
        let after_pre_commit = crash && rand::Rng::next_u64(rng) & 1 == 1;
        // The termination protocol: state requests to the N - 1 others, replies from the other
        // live participants (whether or not they got PREPARE), the decision to the N - 1 others.
        let termination = (n - 1) + live.saturating_sub(1) + (n - 1);
        if crash && !after_pre_commit {
            if prepared == 0 {
                return Outcome::failure(messages, 1);
            }
            extras[0] = 1;
            return Outcome::failure(messages + termination, 2).with_extras(extras);
        }
        if votes < n {
            return Outcome::failure(messages + n, 2);
        }
        let prepare_ns = if TIMED {
            slowest_forced_round_trip(&net, rng, self.nodes)
        } else {
            slowest_round_trip(&net, rng, self.nodes)
        };
        if prepare_ns > self.timeout_ns {
            return Outcome::failure(messages + n, 2);
        }
        if after_pre_commit {
            // PRE-COMMIT goes out, then the coordinator dies.
            messages += n;
            let (mut pre_committed, mut slowest) = (0u64, 0u64);
            for participant in 0..self.nodes {
                if !net.lost(rng, CLIENT, participant) {
                    pre_committed += 1;
                    let mut at = net.delay_ns(rng, CLIENT, participant);
                    if TIMED {
                        at = at
                            .saturating_add(net.process_ns(rng))
                            .saturating_add(net.persist_ns(rng));
                    }
                    slowest = slowest.max(at);
                }
            }
            extras[0] = 1;
            // Every participant voted, so all N are live: N - 1 replies.
            messages += termination;
            if pre_committed == 0 {
                return Outcome::failure(messages, 3).with_extras(extras);
            }
            let (ask, tell) = if TIMED {
                let handled = |rng: &mut SimRng, from, to| {
                    net.delay_ns(rng, from, to)
                        .saturating_add(net.process_ns(rng))
                };
                let ask = (1..self.nodes)
                    .map(|p| handled(rng, 0, p).saturating_add(handled(rng, p, 0)))
                    .max()
                    .unwrap_or(0);
                // The new coordinator forces its decision before it sends it.
                let forced = net.persist_ns(rng);
                let tell = (1..self.nodes)
                    .map(|p| handled(rng, 0, p))
                    .max()
                    .unwrap_or(0);
                (ask.saturating_add(forced), tell)
            } else {
                let ask = (1..self.nodes)
                    .map(|p| net.round_trip_ns(rng, 0, p))
                    .max()
                    .unwrap_or(0);
                let tell = (1..self.nodes)
                    .map(|p| net.delay_ns(rng, 0, p))
                    .max()
                    .unwrap_or(0);
                (ask, tell)
            };
            let ns = prepare_ns
                .saturating_add(slowest)
                .saturating_add(self.timeout_ns)
                .saturating_add(ask)
                .saturating_add(tell);
            return Outcome::success(ns, messages, 4).with_extras(extras);
        }
        let acknowledged = if TIMED {
            until_acknowledged_forced
        } else {
            until_acknowledged
        };
        let (pre_commit_ns, sent) = acknowledged(&net, rng, self.nodes, self.timeout_ns);
        messages += sent;
        // The coordinator forces its commit record before DO-COMMIT.
        let decide_ns = if TIMED { net.persist_ns(rng) } else { 0 };
        let (commit_ns, sent) = acknowledged(&net, rng, self.nodes, self.timeout_ns);
        messages += sent;
        let ns = prepare_ns
            .saturating_add(pre_commit_ns)
            .saturating_add(decide_ns)
            .saturating_add(commit_ns);
        Outcome::success(ns, messages, 3)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "three-phase-commit",
    summary: "2PC plus a pre-commit round: a coordinator crash no longer blocks",
    model: model!(),
    params: &[
        ParamSpec {
            name: "timeout_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(50.0),
            doc: "vote timeout, resend interval, and how long participants wait for a dead coordinator",
        },
        ParamSpec {
            name: "coordinator_crash",
            kind: ParamKind::Probability,
            default: Value::Probability(0.0),
            doc: "probability the coordinator crashes during the commit",
        },
    ],
    extras: ThreePhaseCommit::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(ThreePhaseCommit::new(
            setting.env().clone(),
            setting.nodes,
            params.timeout_ms,
            params.coordinator_crash,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    timeout_ms: f64,
    coordinator_crash: f64,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            timeout_ms: setting.millis("timeout_ms"),
            coordinator_crash: setting.probability("coordinator_crash"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn coordinator_crashes_never_block() {
        let (nodes, crash, cc): (i32, f64, f64) = (4, 0.02, 0.2);
        let grid = format!("nodes = {nodes}\ncrash = {crash}\ncoordinator_crash = {cc}");
        let tally = run("three-phase-commit", &grid, "", 1_000_000);
        assert_eq!(tally.blocked, 0);
        assert_rate(
            tally.successes,
            tally.trials(),
            (1.0 - crash).powi(nodes) * (1.0 - cc / 2.0),
        );
        // The same cell under 2PC blocks whenever the coordinator dies after a prepare.
        let two = run("two-phase-commit", &grid, "", 1_000_000);
        assert_rate(two.blocked, two.trials(), cc * (1.0 - crash.powi(nodes)));
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
    fn node_time_adds_three_forced_round_trips_and_the_decision() {
        // Constant d, p, q, no failures: 3 (2d + 2q + p) + p.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let grid = "nodes = 5\ntimeout_ms = 50\npersist = \"p\"\nprocess = \"q\"";
        let tally = run("three-phase-commit", grid, &constants(d, p, q), 1000);
        let ns = ((3.0 * (2.0 * d + 2.0 * q + p) + p) * 1e6) as u64;
        assert_eq!(tally.successes, 1000);
        assert_eq!(tally.latency_sum_ns, 1000 * u128::from(ns));
        assert_eq!(tally.messages_sum, 30 * 1000);
        // The coordinator always crashes; in the half of trials where it does so after
        // PRE-COMMIT: phase 1 (2d + 2q + p), PRE-COMMIT forced (d + q + p), the timeout T,
        // the state round trip (2d + 2q), the decision forced (p) and handled (d + q).
        let tally = run(
            "three-phase-commit",
            &format!("{grid}\ncoordinator_crash = 1"),
            &constants(d, p, q),
            1000,
        );
        let ns = ((6.0 * d + 6.0 * q + 3.0 * p + 50.0) * 1e6) as u64;
        assert!(tally.successes > 400 && tally.successes < 600);
        assert_eq!(tally.latency_max_ns, ns);
        assert_eq!(
            tally.latency_sum_ns,
            u128::from(tally.successes) * u128::from(ns)
        );
    }

    #[test]
    fn a_commit_costs_six_messages_per_participant() {
        let tally = run("three-phase-commit", "nodes = 5", "", 1_000);
        assert_eq!((tally.successes, tally.messages_sum), (1_000, 30_000));
    }

    #[test]
    fn every_live_participant_answers_the_termination_protocol() {
        // N = 4, no participant crash, loss 0.2, the coordinator always crashes, constant
        // 1 ms delays (no timeout is hit). Before PRE-COMMIT (half the trials): N PREPAREs,
        // `prepared` votes, and if anyone got PREPARE the termination protocol: N - 1
        // requests, N - 1 replies (every participant is live, whether or not it got PREPARE)
        // and N - 1 decisions. After PRE-COMMIT: with all 2N phase-1 messages through
        // (q = 0.8^8), 3N + 3(N - 1); otherwise 2N + prepared (the ABORTs). The mean within 5
        // standard errors (the sample standard deviation of the exact per-trial counts).
        let (n, loss, trials) = (4.0f64, 0.2f64, 400_000u64);
        let grid = format!("nodes = {n}\nloss = {loss}\ncoordinator_crash = 1.0");
        let tally = run(
            "three-phase-commit",
            &grid,
            "kind = \"constant\"\nms = 1",
            trials,
        );
        let prepared = n * (1.0 - loss);
        let q = (1.0 - loss).powf(2.0 * n);
        let before = n + prepared + (1.0 - loss.powf(n)) * 3.0 * (n - 1.0);
        let after = q * (6.0 * n - 3.0) + 2.0 * n * (1.0 - q) + prepared - n * q;
        let expected = 0.5 * (before + after);
        let mean = tally.messages_sum as f64 / trials as f64;
        let var = tally
            .messages()
            .iter_recorded()
            .map(|v| (v.value_iterated_to() as f64 - mean).powi(2) * v.count_at_value() as f64)
            .sum::<f64>()
            / (trials - 1) as f64;
        let tolerance = 5.0 * (var / trials as f64).sqrt();
        assert!(
            (mean - expected).abs() <= tolerance,
            "messages {mean}, expected {expected} +- {tolerance}"
        );
    }
}
