//! State transfer: the accidental N², or deltas through a coordinator.
//!
//! A design in which every update makes each node send its full state to every other node
//! costs N(N - 1) transfers of the whole state per update: 90 at 10 nodes, 999,000 at 1,000.
//! Sending only the change, once, to a coordinator that forwards it to the others costs N
//! messages of the delta's size.

use super::{
    CLIENT, Choice, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Setting, Value, choice,
};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: one update, made at node 0, reaching the other N - 1 nodes. Each node is
crashed with probability crash for the whole trial; each message is lost independently with
probability loss.
transfer = \"full-state\": each live node sends its full state (state_bytes) to each of the
other N - 1 nodes. Messages: N - 1 per live node, N(N - 1) when every node is up; bytes
N(N - 1) x state_bytes.
transfer = \"delta\": node 0 sends the change (delta_bytes) to a coordinator outside the N
nodes, which never crashes and forwards it to the other N - 1 nodes. Messages: N (1 if the
first message is lost, 0 if node 0 is down); bytes N x delta_bytes.
Success: node 0 is up and the update reaches every other live node (node 0's own transfer to
it, or the coordinator's copy). Probability (1 - crash) (crash + (1 - crash)(1 - loss))^(N - 1)
for full-state, times (1 - loss) for delta.
Latency: full-state, the slowest one-way delay of node 0's transfers to the live nodes; delta,
the delay to the coordinator plus the slowest of its copies to the live nodes (0 with no
other live node). Delays do not grow with the message size. Rounds: 1 for full-state, 2 for
delta.
bytes: the bytes of every message sent, delivered or not."
    };
}

choice! {
    /// What an update sends.
    pub enum Transfer {
        /// Every node sends its whole state to every other node.
        FullState = "full-state",
        /// The updating node sends the change to a coordinator, which forwards it.
        Delta = "delta",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{StateTransfer, StateTransferMode};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// // The essay: "1000 nodes = 999,000 transfers".
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = StateTransfer::new(env.clone(), 1000, StateTransferMode::FullState, 1_000_000, 1_000);
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.messages, outcome.extras[0]), (999_000, 999_000_000_000));
/// let model = StateTransfer::new(env, 1000, StateTransferMode::Delta, 1_000_000, 1_000);
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.messages, outcome.extras[0], outcome.latency_ns), (1000, 1_000_000, 2_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct StateTransfer {
    env: Env,
    nodes: u32,
    transfer: Transfer,
    state_bytes: u64,
    delta_bytes: u64,
}

impl StateTransfer {
    /// An update among `nodes` nodes, sent as `transfer` says, of a state of `state_bytes`
    /// and a change of `delta_bytes`.
    pub fn new(
        env: Env,
        nodes: u32,
        transfer: Transfer,
        state_bytes: u32,
        delta_bytes: u32,
    ) -> Self {
        Self {
            env,
            nodes,
            transfer,
            state_bytes: u64::from(state_bytes),
            delta_bytes: u64::from(delta_bytes),
        }
    }
}

impl Protocol for StateTransfer {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "bytes",
        doc: "bytes of every message sent: N(N - 1) x state_bytes or N x delta_bytes",
    }];
    /// Which nodes are up this trial.
    type Scratch = Vec<bool>;

    fn scratch(&self) -> Vec<bool> {
        vec![false; self.nodes as usize]
    }

    fn trial(&self, rng: &mut SimRng, up: &mut Vec<bool>) -> Outcome {
        let net = self.env.begin(rng);
        let live = net.up_each(rng, up);
        let others = u64::from(self.nodes.saturating_sub(1));
        let mut extras = [0; MAX_EXTRAS];
        // Node 0's copies to the live others, from `from`: whether all arrive, the slowest.
        let copies = |rng: &mut SimRng, from: u32| {
            let mut slowest = 0;
            for to in (1..self.nodes).filter(|&to| up[to as usize]) {
                if net.lost(rng, from, to) {
                    return None;
                }
                slowest = u64::max(slowest, net.delay_ns(rng, from, to));
            }
            Some(slowest)
        };
        match self.transfer {
            Transfer::FullState => {
                let messages = live * others;
                extras[0] = messages.saturating_mul(self.state_bytes);
                let slowest = if up[0] { copies(rng, 0) } else { None };
                match slowest {
                    Some(ns) => Outcome::success(ns, messages, 1),
                    None => Outcome::failure(messages, 1),
                }
                .with_extras(extras)
            }
            Transfer::Delta => {
                if !up[0] {
                    return Outcome::failure(0, 1).with_extras(extras);
                }
                if net.lost(rng, 0, CLIENT) {
                    extras[0] = self.delta_bytes;
                    return Outcome::failure(1, 1).with_extras(extras);
                }
                let first = net.delay_ns(rng, 0, CLIENT);
                let messages = 1 + others;
                extras[0] = messages * self.delta_bytes;
                match copies(rng, CLIENT) {
                    Some(ns) => Outcome::success(first.saturating_add(ns), messages, 2),
                    None => Outcome::failure(messages, 2),
                }
                .with_extras(extras)
            }
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "state-transfer",
    summary: "an update as full state from every node to every other, or one delta via a \
              coordinator",
    model: model!(),
    params: &[
        ParamSpec {
            name: "transfer",
            kind: Transfer::KIND,
            default: Value::Choice(Transfer::FullState.word()),
            doc: "\"full-state\": every node to every other, N(N - 1) transfers; \"delta\": \
                  the change via a coordinator, N messages",
        },
        ParamSpec {
            name: "state_bytes",
            kind: ParamKind::Count {
                min: 1,
                max: u32::MAX,
            },
            default: Value::Count(1_000_000),
            doc: "size of a node's full state",
        },
        ParamSpec {
            name: "delta_bytes",
            kind: ParamKind::Count {
                min: 1,
                max: u32::MAX,
            },
            default: Value::Count(1_000),
            doc: "size of one update's change",
        },
    ],
    extras: StateTransfer::EXTRAS,
    build: |setting| -> Result<_, ModelError> {
        let params = Params::read(setting);
        Ok(Box::new(StateTransfer::new(
            setting.env().clone(),
            setting.nodes,
            params.transfer,
            params.state_bytes,
            params.delta_bytes,
        )))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    transfer: Transfer,
    state_bytes: u32,
    delta_bytes: u32,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            transfer: setting.choice("transfer"),
            state_bytes: setting.count("state_bytes"),
            delta_bytes: setting.count("delta_bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn full_state_sends_n_n_minus_1_states_per_update() {
        // The essay: "10 nodes = 90 transfers", "100 nodes = 9,900 transfers", "1000 nodes =
        // 999,000 transfers".
        for (nodes, transfers) in [(10u64, 90u64), (100, 9_900), (1000, 999_000), (1, 0)] {
            let tally = run(
                "state-transfer",
                &format!("nodes = {nodes}\nstate_bytes = 5000"),
                "",
                100,
            );
            assert_eq!(tally.messages_sum, 100 * u128::from(transfers), "{nodes}");
            assert_eq!(tally.extras_sum[0], 100 * 5000 * u128::from(transfers));
            assert_eq!(tally.successes, 100);
        }
    }

    #[test]
    fn deltas_send_n_messages_of_the_delta() {
        for nodes in [1u64, 10, 1000] {
            let tally = run(
                "state-transfer",
                &format!("nodes = {nodes}\ntransfer = \"delta\"\ndelta_bytes = 300"),
                "",
                100,
            );
            assert_eq!(tally.messages_sum, 100 * u128::from(nodes), "{nodes}");
            assert_eq!(tally.extras_sum[0], 100 * 300 * u128::from(nodes));
            assert_eq!(tally.rounds_sum, 200);
        }
    }

    #[test]
    fn success_needs_every_live_node_reached() {
        let (nodes, crash, loss) = (7i32, 0.05f64, 0.02);
        let other = crash + (1.0 - crash) * (1.0 - loss);
        for (transfer, p) in [
            ("full-state", (1.0 - crash) * other.powi(nodes - 1)),
            (
                "delta",
                (1.0 - crash) * (1.0 - loss) * other.powi(nodes - 1),
            ),
        ] {
            let tally = run(
                "state-transfer",
                &format!(
                    "nodes = {nodes}\ncrash = {crash}\nloss = {loss}\ntransfer = \"{transfer}\""
                ),
                "",
                400_000,
            );
            assert_rate(tally.successes, tally.trials(), p);
        }
    }

    #[test]
    fn full_state_counts_the_live_senders() {
        // Binomial(N, 1 - crash) live senders of N - 1 transfers each.
        let (nodes, crash) = (12u64, 0.2);
        let trials = 100_000;
        let tally = run(
            "state-transfer",
            &format!("nodes = {nodes}\ncrash = {crash}"),
            "",
            trials,
        );
        let senders = (tally.messages_sum / u128::from(nodes - 1)) as u64;
        assert_rate(senders, nodes * trials, 1.0 - crash);
    }
}
