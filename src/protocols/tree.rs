//! Tree: hierarchical fan-out and aggregation.
//!
//! How large systems avoid a coordinator that talks to everyone: the root tells b children,
//! each tells b more, and answers are aggregated on the way back up. A tree needs only
//! 2(N - 1) messages and log_b(N) levels, but every inner node is a single point of failure
//! for its subtree, so the whole operation still needs every node: (1 - p)^N.

use super::{
    Env, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, Setting, Value,
};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: nodes 0..N form a complete b-ary tree (b = branching; the children of node i
are b i + 1 ... b i + b) rooted at node 0; b = 1 is a chain, visiting the nodes one after
another. The root sends a request down to its children, each
node forwards it to its own children on arrival, and each node sends its aggregate up to its
parent once it has its children's aggregates. Every node is crashed with probability crash
(the root included); each message is lost independently with probability loss.
Success: every node is up and all 2(N - 1) messages arrive; with no loss, (1 - crash)^N.
Latency: from the root's send until the root has every aggregate.
Messages: requests sent down by reached live nodes, plus one aggregate per reached live
non-root node; 2(N - 1) when nothing fails.
Rounds: 2 x the tree's height (down, then up)."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Tree};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Tree::new(env, 13, 3).unwrap(); // two levels below the root
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.status, outcome.messages, outcome.rounds), (Status::Success, 24, 4));
/// assert_eq!(outcome.latency_ns, 4_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct Tree {
    env: Env,
    nodes: u32,
    branching: u32,
    height: u32,
}

/// Per node: when the request arrived (`u64::MAX` if never), then when its aggregate is ready.
#[derive(Debug, Default)]
pub struct TreeScratch {
    arrive: Vec<u64>,
    done: Vec<u64>,
}

impl Tree {
    /// A tree of `nodes` nodes with `branching` children per inner node (>= 1; 1 is a chain).
    pub fn new(env: Env, nodes: u32, branching: u32) -> Result<Self, ModelError> {
        if branching == 0 {
            return Err(ModelError::new("branching", "branching must be at least 1"));
        }
        // Height: levels below the root of a complete b-ary tree of N nodes.
        let (mut height, mut level_end, mut width) = (0u32, 1u64, 1u64);
        while level_end < u64::from(nodes) {
            width *= u64::from(branching);
            level_end += width;
            height += 1;
        }
        Ok(Self {
            env,
            nodes,
            branching,
            height,
        })
    }

    fn parent(&self, node: u32) -> u32 {
        (node - 1) / self.branching
    }
}

impl Protocol for Tree {
    type Scratch = TreeScratch;

    fn scratch(&self) -> TreeScratch {
        TreeScratch {
            arrive: vec![0; self.nodes as usize],
            done: vec![0; self.nodes as usize],
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut TreeScratch) -> Outcome {
        let net = self.env.begin(rng);
        let rounds = 2 * self.height;
        if !net.up(rng, 0) {
            return Outcome::failure(0, rounds);
        }
        let mut complete = true;
        let mut messages = 0;
        s.arrive[0] = 0;
        // Down: parents come before their children in index order.
        for node in 1..self.nodes {
            let from = s.arrive[self.parent(node) as usize];
            s.arrive[node as usize] = u64::MAX;
            if from == u64::MAX {
                continue;
            }
            messages += 1;
            if !net.up(rng, node) || net.lost(rng, self.parent(node), node) {
                complete = false;
                continue;
            }
            // A chain of 10^6 hops of heavy-tailed delays (each up to 2^48 ns) passes 2^64:
            // saturate below u64::MAX, which marks a node the message never reached.
            s.arrive[node as usize] = from
                .saturating_add(net.delay_ns(rng, self.parent(node), node))
                .min(u64::MAX - 1);
        }
        // Up: children come before their parents in reverse index order.
        s.done.copy_from_slice(&s.arrive);
        for node in (1..self.nodes).rev() {
            let ready = s.done[node as usize];
            if ready == u64::MAX {
                continue;
            }
            messages += 1;
            let parent = self.parent(node);
            if !complete {
                continue;
            }
            if net.lost(rng, node, parent) {
                complete = false;
                continue;
            }
            let at = ready
                .saturating_add(net.delay_ns(rng, node, parent))
                .min(u64::MAX - 1);
            let slot = &mut s.done[parent as usize];
            *slot = (*slot).max(at);
        }
        if complete {
            Outcome::success(s.done[0], messages, rounds)
        } else {
            Outcome::failure(messages, rounds)
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "tree",
    summary: "fan-out and aggregation over a b-ary tree: 2(N - 1) messages, log_b N levels",
    model: model!(),
    params: &[ParamSpec {
        name: "branching",
        kind: ParamKind::Count {
            min: 1,
            max: 1_000_000,
        },
        default: Value::Count(4),
        doc: "children per inner node (b; 1 is a chain: one node after another)",
    }],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(Tree::new(
            setting.env().clone(),
            setting.nodes,
            params.branching,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    branching: u32,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            branching: setting.count("branching"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn every_node_must_be_up() {
        let (nodes, crash) = (20, 0.01);
        let tally = run(
            "tree",
            &format!("nodes = {nodes}\ncrash = {crash}"),
            "",
            1_000_000,
        );
        assert_rate(
            tally.successes,
            tally.trials(),
            f64::powi(1.0 - crash, nodes),
        );
    }

    #[test]
    fn messages_are_twice_the_edges() {
        for (nodes, branching) in [(2u64, 2), (40, 3), (100, 7)] {
            let tally = run(
                "tree",
                &format!("nodes = {nodes}\nbranching = {branching}"),
                "",
                2_000,
            );
            assert_eq!(tally.successes, 2_000);
            assert_eq!(tally.messages_max, 2 * (nodes - 1));
            assert_eq!(tally.messages_sum, 2_000 * 2 * u128::from(nodes - 1));
        }
    }

    #[test]
    fn a_chain_visits_the_nodes_one_after_another() {
        // b = 1, N = 10, constant 1 ms links: 9 hops down and 9 back.
        let tally = run(
            "tree",
            "nodes = 10\nbranching = 1",
            "kind = \"constant\"\nms = 1",
            100,
        );
        assert_eq!((tally.latency_max_ns, tally.rounds_max), (18_000_000, 18));
    }

    #[test]
    fn latency_is_the_slowest_root_to_leaf_round_trip() {
        // Constant 1 ms links, N = 40, b = 3: leaves at depth 3 (nodes 13..39), so 6 ms.
        let tally = run(
            "tree",
            "nodes = 40\nbranching = 3",
            "kind = \"constant\"\nms = 1",
            100,
        );
        assert_eq!(tally.latency_max_ns, 6_000_000);
        assert_eq!(tally.rounds_max, 6);
    }
}
