//! Full mesh: every node tells every other node.
//!
//! The pattern behind naive membership, all-to-all state exchange and broadcast-based
//! agreement: N(N - 1) messages, quadratic in the node count, and the operation finishes only
//! when the slowest of them arrives.

use std::sync::Arc;

use super::direct::{self, Count, Lazy, Sampling};
use super::{Env, ModelError, Outcome, ParamSpec, Protocol, ProtocolInfo, Sampler, Setting};
use crate::latency::{Mix, to_ns};
use crate::order::{self, OrderStatistic, Rank};
use crate::rng::{Chance, SimRng};

macro_rules! model {
    () => {
        "One trial: each of N nodes sends its state to each of the other N - 1 nodes.
Every node is crashed with probability crash; each message is lost independently with
probability loss.
Success: every node is up and all N(N - 1) messages arrive; probability
(1 - crash)^N (1 - loss)^(N(N - 1)).
Latency: the slowest of the N(N - 1) one-way delays.
Messages: N - 1 per live node; N(N - 1) when every node is up. Rounds: 1.
Sampling: direct (the default, when nodes and messages are alike) draws the number of live
nodes from its binomial distribution, whether all N(N - 1) messages arrive as one event, and
the slowest of them as Q(V^(1/M)) with M = N(N - 1): at most three draws per trial at any N;
per-node simulates every node and message."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{FullMesh};
/// use coordsim::model::{Env, Protocol};
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

/// The full mesh sampled directly ([`crate::order`]).
#[derive(Debug)]
pub struct FullMeshDirect {
    nodes: u32,
    live: Count,
    delivered: Chance,
    law: Mix,
    slowest: Lazy<OrderStatistic>,
}

impl FullMeshDirect {
    /// The mesh of `FullMesh::new(env, nodes)`, for an environment where nodes and messages
    /// are alike, with one-way delays drawn from `law`.
    pub fn new(env: &Env, law: Mix, nodes: u32) -> Self {
        let messages = f64::from(nodes) * (f64::from(nodes) - 1.0);
        let delivered = (messages * (-env.loss().probability()).ln_1p()).exp();
        Self {
            nodes,
            live: Count::new(nodes, 1.0 - env.crash().probability()),
            delivered: Chance::new(delivered).expect("a probability"),
            law,
            slowest: Lazy::default(),
        }
    }

    fn messages(&self) -> u64 {
        u64::from(self.nodes) * u64::from(self.nodes.saturating_sub(1))
    }
}

impl Protocol for FullMeshDirect {
    type Scratch = Arc<OrderStatistic>;

    fn scratch(&self) -> Arc<OrderStatistic> {
        self.slowest.get(|| {
            let quantiles = order::one_way(&self.law).expect("a law direct sampling accepts");
            let m = self.messages();
            let likely = if (1..=4096).contains(&m) {
                vec![m as u32]
            } else {
                Vec::new()
            };
            OrderStatistic::new(quantiles, Rank::Max, &likely)
        })
    }

    #[inline]
    fn trial(&self, rng: &mut SimRng, slowest: &mut Arc<OrderStatistic>) -> Outcome {
        let live = self.live.sample(rng);
        let messages = u64::from(live) * u64::from(self.nodes - 1);
        if live < self.nodes || !self.delivered.happens(rng) {
            return Outcome::failure(messages, 1);
        }
        Outcome::success(to_ns(slowest.sample(rng, self.messages())), messages, 1)
    }

    fn sampler(&self) -> Sampler {
        Sampler::Direct
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "full-mesh",
    summary: "every node sends to every other: N(N - 1) messages, done at the slowest",
    model: model!(),
    params: &[direct::SAMPLING] as &[ParamSpec],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        let env = setting.env().clone();
        Ok(match direct::direct_law(params.sampling, &env) {
            Some(law) => Box::new(FullMeshDirect::new(&env, law, setting.nodes)),
            None => Box::new(FullMesh::new(env, setting.nodes)?),
        })
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    sampling: Sampling,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            sampling: setting.choice("sampling"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::{assert_rate, median_tolerance};
    use crate::protocols::tests::run;

    #[test]
    fn direct_sampling_matches_the_per_node_simulation() {
        use crate::latency::tests::parse;
        for (latency, nodes, crash, loss) in [
            ("kind = \"exponential\"\nmean_ms = 0.5", 5, 0.01, 0.001),
            (
                "kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5",
                30,
                0.001,
                0.0001,
            ),
            ("kind = \"pareto\"\nscale_ms = 1\nshape = 2", 2, 0.1, 0.1),
            ("kind = \"uniform\"\nlow_ms = 1\nhigh_ms = 2", 1, 0.2, 0.0),
            (
                "kind = \"mixture\"\ncomponents = [\n\
              { weight = 0.99, of = { kind = \"lognormal\", median_ms = 1.0, sigma = 0.6 } },\n\
              { weight = 0.01, of = { kind = \"pareto\", scale_ms = 5.0, shape = 2.0 } },\n]",
                8,
                0.0,
                0.0,
            ),
        ] {
            let latency = parse(latency).unwrap();
            check(&format!("N = {nodes}"), &latency, nodes, crash, loss);
        }
        // Laws with atoms: the tail-at-scale mixture (whose slowest message is 1 s in all
        // but the smallest meshes), an atom beside a continuous part, samples whose largest
        // values the slowest message mostly is, and a sample and many constants beside a
        // continuous part.
        use crate::protocols::tests::{
            HALF_CONSTANT, TAIL_AT_SCALE, constants_beside_exponential, empirical,
            measured_beside_lognormal,
        };
        for (what, latency, nodes, crash, loss) in [
            (
                "tail at scale",
                parse(TAIL_AT_SCALE).unwrap(),
                4,
                0.01,
                0.001,
            ),
            ("tail at scale", parse(TAIL_AT_SCALE).unwrap(), 30, 0.0, 0.0),
            ("half constant", parse(HALF_CONSTANT).unwrap(), 2, 0.05, 0.0),
            (
                "200 samples, 0.1 ms steps",
                empirical(200, 5, 0.1),
                3,
                0.0,
                0.01,
            ),
            ("100,000 samples", empirical(100_000, 6, 0.0), 30, 0.0, 0.0),
            (
                "20,000 samples beside a log-normal",
                measured_beside_lognormal(20_000, 7),
                10,
                0.01,
                0.001,
            ),
            (
                "2,000 constants beside an exponential",
                constants_beside_exponential(2_000),
                30,
                0.0,
                0.0,
            ),
        ] {
            check(&format!("{what} N = {nodes}"), &latency, nodes, crash, loss);
        }
    }

    fn check(what: &str, latency: &crate::latency::Latency, nodes: u32, crash: f64, loss: f64) {
        use super::{FullMesh, FullMeshDirect};
        use crate::model::Env;
        use crate::protocols::tests::assert_same_distribution;
        let env = Env::new(crash, loss, latency.clone()).unwrap();
        let per_node = FullMesh::new(env.clone(), nodes).unwrap();
        let direct = FullMeshDirect::new(&env, latency.law().unwrap(), nodes);
        assert_same_distribution(what, &per_node, &direct, 50_000);
    }

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
