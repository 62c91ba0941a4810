//! Full mesh: every node tells every other node.
//!
//! The pattern behind naive membership, all-to-all state exchange and broadcast-based
//! agreement: N(N - 1) messages, quadratic in the node count, and the operation finishes only
//! when the slowest of them arrives.

use super::{Env, ModelError, Outcome, ParamSpec, Protocol, ProtocolInfo};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: each of N nodes sends its state to each of the other N - 1 nodes.
Every node is crashed with probability crash; each message is lost independently with
probability loss.
Success: every node is up and all N(N - 1) messages arrive; probability
(1 - crash)^N (1 - loss)^(N(N - 1)).
Latency: the slowest of the N(N - 1) one-way delays.
Messages: N - 1 per live node; N(N - 1) when every node is up. Rounds: 1."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{Env, FullMesh, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Exponential::new(0.5).unwrap().into()).unwrap();
/// let model = FullMesh::new(env, 10).unwrap();
/// assert_eq!(model.trial(&mut stream(1, 0, 0), &mut ()).messages, 90);
/// ```
#[derive(Debug, Clone)]
pub struct FullMesh {
    env: Env,
    nodes: u32,
}

impl FullMesh {
    /// A mesh of `nodes` nodes.
    pub fn new(env: Env, nodes: u32) -> Result<Self, ModelError> {
        Ok(Self { env, nodes })
    }
}

impl Protocol for FullMesh {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let n = u64::from(self.nodes);
        let live = (0..self.nodes).filter(|&node| net.up(rng, node)).count() as u64;
        let messages = live * (n - 1);
        if live < n {
            return Outcome::failure(messages, 1);
        }
        let mut slowest = 0;
        for from in 0..self.nodes {
            for to in (0..self.nodes).filter(|&to| to != from) {
                if net.lost(rng, from, to) {
                    return Outcome::failure(messages, 1);
                }
                slowest = slowest.max(net.delay_ns(rng, from, to));
            }
        }
        Outcome::success(slowest, messages, 1)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "full-mesh",
    summary: "every node sends to every other: N(N - 1) messages, done at the slowest",
    model: model!(),
    params: &[] as &[ParamSpec],
    extras: &[],
    build: |cell| Ok(Box::new(FullMesh::new(cell.env()?, cell.nodes)?)),
};

#[cfg(test)]
mod tests {
    use crate::protocols::tests::run;
    use crate::stats::{assert_rate, median_tolerance};

    #[test]
    fn messages_are_quadratic() {
        for nodes in [1u64, 2, 5, 30] {
            let tally = run("full-mesh", &format!("nodes = {nodes}"), "", 1_000);
            assert_eq!(tally.messages_sum, 1_000 * u128::from(nodes * (nodes - 1)));
            assert_eq!(tally.successes, 1_000);
        }
    }

    #[test]
    fn success_needs_every_node_and_message() {
        let (nodes, crash, loss) = (6, 0.01, 0.001);
        let tally = run(
            "full-mesh",
            &format!("nodes = {nodes}\ncrash = {crash}\nloss = {loss}"),
            "",
            1_000_000,
        );
        let p = f64::powi(1.0 - crash, nodes) * f64::powi(1.0 - loss, nodes * (nodes - 1));
        assert_rate(tally.successes, tally.trials(), p);
    }

    #[test]
    fn latency_is_the_maximum_of_n_n_minus_1_delays() {
        // Max of M iid Exp(m): F(x) = (1 - e^(-x/m))^M, so the median is
        // x = -m ln(1 - 2^(-1/M)) and the density there is M (1/2)^((M-1)/M) e^(-x/m) / m.
        let (nodes, m_ns) = (5u32, 5e5);
        let draws = f64::from(nodes * (nodes - 1));
        let median = -m_ns * (1.0 - 0.5f64.powf(1.0 / draws)).ln();
        let density = draws * 0.5f64.powf((draws - 1.0) / draws) * (-median / m_ns).exp() / m_ns;
        let trials = 1_000_000;
        let tally = run("full-mesh", &format!("nodes = {nodes}"), "", trials);
        let seen = tally.latency_ns().value_at_quantile(0.5) as f64;
        let tolerance = median_tolerance(trials, density, median);
        assert!(
            (seen - median).abs() <= tolerance,
            "median {seen} ns, expected {median} +- {tolerance}"
        );
    }
}
