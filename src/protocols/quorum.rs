//! Quorum: ask N replicas, proceed on the k-th reply.
//!
//! The workhorse of replicated storage. A coordinator sends a request to every replica and
//! waits for k replies; with k = majority any two quorums overlap, which is what lets reads
//! see the latest write. Waiting for the k-th reply instead of all N hides slow and crashed
//! replicas: latency is the k-th order statistic of the replicas' round trips, and the
//! operation survives as long as k replicas are up and reachable.

use std::sync::Arc;

use super::direct::{self, Lazy, NodeTime, Replies, Sampling};
use super::{
    CLIENT, Env, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, QuorumRule,
    Sampler, Setting, Value, kth_smallest,
};
use crate::latency::{Mix, to_ns};
use crate::order::{self, OrderStatistic, Rank};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a coordinator (the client, always up) sends a request to each of N replicas
(nodes 0..N) and waits for k replies. Each replica is crashed with probability crash for the whole trial; each request
and each reply is lost independently with probability loss; a reply arrives one round trip
(two one-way delays) after the request was sent.
Success: at least k replies arrive; with no loss, probability P(Binomial(N, 1 - crash) >= k).
Latency: the k-th smallest round trip among the replies that arrive.
Messages: N requests plus the replies sent (by live replicas that got the request).
Rounds: 1.
Sampling: direct (the default, when nodes and messages are alike) draws the number of replies
sent and arrived from their binomial distributions and the k-th fastest round trip of those
that arrived as Q(U(k:L)), where Q is the round trip's quantile function: one 64-bit draw
for most trials of a small cluster (the draw that picks the counts also feeds a table of
Q(U(k:L))), a few at any N; per-node simulates every replica.
Time at the nodes (grid.persist, grid.process; none unless set): a replica processes the
request and persists the write before it replies, and the coordinator processes each reply:
a reply arrives d1 + process + persist + d2 + process after the send, each term drawn afresh.
The replies' times stay independent and alike, so direct sampling takes Q as the quantile
function of that sum: constant node time adds to the round trip exactly; random node time
(any persist and process laws direct sampling takes) is summed with the delays on a grid,
within 3 x 2^-12 relative and 8 ns for five random terms (see order::sum)."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{Quorum};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.01, 0.0, Exponential::new(0.5).unwrap().into()).unwrap();
/// let model = Quorum::new(env, 5, 3).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert!(outcome.messages >= 5);
/// assert!(Quorum::new(Env::new(0.0, 0.0, Exponential::new(0.5).unwrap().into()).unwrap(), 3, 4).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Quorum {
    env: Env,
    nodes: u32,
    k: u32,
}

impl Quorum {
    /// Wait for `k` of `nodes` replies, `1 <= k <= nodes`.
    pub fn new(env: Env, nodes: u32, k: u32) -> Result<Self, ModelError> {
        if k == 0 {
            return Err(ModelError::new("k", "k must be at least 1"));
        }
        if k > nodes {
            return Err(ModelError::new(
                "k",
                format!("k = {k} exceeds nodes = {nodes}"),
            ));
        }
        Ok(Self { env, nodes, k })
    }
}

impl Protocol for Quorum {
    /// Round trips of the replies that arrived.
    type Scratch = Vec<u64>;

    fn scratch(&self) -> Vec<u64> {
        Vec::with_capacity(self.nodes as usize)
    }

    #[inline]
    fn trial(&self, rng: &mut SimRng, replies: &mut Vec<u64>) -> Outcome {
        if self.env.has_node_time() {
            return self.trial_timed(rng, replies);
        }
        replies.clear();
        let net = self.env.begin(rng);
        let mut messages = u64::from(self.nodes);
        for replica in 0..self.nodes {
            if !net.up(rng, replica) || net.lost(rng, CLIENT, replica) {
                continue;
            }
            messages += 1;
            if net.lost(rng, replica, CLIENT) {
                continue;
            }
            replies.push(net.round_trip_ns(rng, CLIENT, replica));
        }
        let k = self.k as usize;
        if replies.len() < k {
            return Outcome::failure(messages, 1);
        }
        Outcome::success(kth_smallest(replies, k), messages, 1)
    }
}

impl Quorum {
    /// One trial with time at the nodes: the per-node trial with each reply's round trip
    /// lengthened by the replica's processing and persisting and the coordinator's processing.
    #[inline(never)]
    fn trial_timed(&self, rng: &mut SimRng, replies: &mut Vec<u64>) -> Outcome {
        replies.clear();
        let net = self.env.begin(rng);
        let mut messages = u64::from(self.nodes);
        for replica in 0..self.nodes {
            if !net.up(rng, replica) || net.lost(rng, CLIENT, replica) {
                continue;
            }
            messages += 1;
            if net.lost(rng, replica, CLIENT) {
                continue;
            }
            let at = net
                .delay_ns(rng, CLIENT, replica)
                .saturating_add(net.process_ns(rng))
                .saturating_add(net.persist_ns(rng))
                .saturating_add(net.delay_ns(rng, replica, CLIENT))
                .saturating_add(net.process_ns(rng));
            replies.push(at);
        }
        let k = self.k as usize;
        if replies.len() < k {
            return Outcome::failure(messages, 1);
        }
        Outcome::success(kth_smallest(replies, k), messages, 1)
    }
}

/// The quorum model sampled directly: the replies from their binomial counts, the latency
/// as the k-th order statistic of the round trips that arrived ([`crate::order`]).
#[derive(Debug)]
pub struct QuorumDirect {
    replies: Replies,
    k: u32,
    nodes: u32,
    round_trip: Mix,
    node_time: NodeTime,
    /// Constant node time added to every reply's time (0 without).
    constant_ns: u64,
    tables: Lazy<OrderStatistic>,
}

impl QuorumDirect {
    /// The model of `Quorum::new(env, nodes, k)`, for an environment where nodes and
    /// messages are alike, with one-way delays drawn from `law` and time at the nodes, if
    /// any, that direct sampling takes ([`NodeTime::of`]).
    pub fn new(env: &Env, law: Mix, nodes: u32, k: u32) -> Result<Self, ModelError> {
        Quorum::new(env.clone(), nodes, k)?;
        let node_time = NodeTime::of(env, &law).ok_or_else(|| {
            ModelError::new(
                "sampling",
                "direct sampling of quorum takes persist and process laws it can tabulate",
            )
        })?;
        Ok(Self {
            replies: Replies::new(env, nodes),
            k,
            nodes,
            round_trip: law,
            constant_ns: node_time.constant_ns(),
            node_time,
            tables: Lazy::default(),
        })
    }
}

impl Protocol for QuorumDirect {
    type Scratch = Arc<OrderStatistic>;

    fn scratch(&self) -> Arc<OrderStatistic> {
        self.tables.get(|| {
            let likely: Vec<u32> = order::likely(&self.replies.arrived_pmf(), 1e-3)
                .into_iter()
                .filter(|&l| l >= self.k)
                .collect();
            let likely = if self.nodes <= direct::TABULATED {
                likely
            } else {
                Vec::new()
            };
            OrderStatistic::new(
                self.node_time.reply(&self.round_trip),
                Rank::Kth(self.k),
                &likely,
            )
        })
    }

    #[inline]
    fn trial(&self, rng: &mut SimRng, kth: &mut Arc<OrderStatistic>) -> Outcome {
        let ((sent, arrived), fresh) = self.replies.sample_reusing(rng);
        let messages = u64::from(self.nodes) + u64::from(sent);
        if arrived < self.k {
            return Outcome::failure(messages, 1);
        }
        let latency = kth.sample_with(fresh, rng, arrived.into());
        Outcome::success(to_ns(latency) + self.constant_ns, messages, 1)
    }

    fn sampler(&self) -> Sampler {
        Sampler::Direct
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "quorum",
    summary: "a coordinator asks N replicas and proceeds on the k-th reply",
    model: model!(),
    params: &[
        ParamSpec {
            name: "k",
            kind: ParamKind::Quorum,
            default: Value::Quorum(QuorumRule::Majority),
            doc: "replies the coordinator waits for (majority = N/2 + 1, all = N)",
        },
        direct::SAMPLING,
    ],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        let (nodes, k) = (setting.nodes, params.k.resolve(setting.nodes));
        let env = setting.env().clone();
        // Direct where the delays and the time at the nodes allow it.
        let law = direct::direct_law(params.sampling, &env)
            .filter(|law| NodeTime::of(&env, law).is_some());
        Ok(match law {
            Some(law) => Box::new(QuorumDirect::new(&env, law, nodes, k)?),
            None => Box::new(Quorum::new(env, nodes, k)?),
        })
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    k: QuorumRule,
    sampling: Sampling,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            k: setting.quorum("k"),
            sampling: setting.choice("sampling"),
        }
    }
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Binomial, DiscreteCDF};

    use crate::model::stats::{assert_rate, median_tolerance};
    use crate::protocols::tests::run;

    #[test]
    fn availability_is_binomial() {
        for (nodes, k, crash) in [(5u32, 3u32, 0.1), (9, 5, 0.3), (3, 3, 0.05)] {
            let tally = run(
                "quorum",
                &format!("nodes = {nodes}\ncrash = {crash}\nk = {k}"),
                "",
                1_000_000,
            );
            let b = Binomial::new(1.0 - crash, nodes.into()).unwrap();
            let p = 1.0 - b.cdf(u64::from(k) - 1);
            assert_rate(tally.successes, tally.trials(), p);
        }
    }

    #[test]
    fn median_round_trip_of_one_replica_is_the_gamma_median() {
        // N = k = 1, one-way delay Exp(mean m): the round trip is Gamma(2, m), whose median x
        // solves 1 - e^(-x/m) (1 + x/m) = 1/2, x = 1.678346990016661 m.
        let m_ns: f64 = 500_000.0;
        let trials = 1_000_000u64;
        let tally = run("quorum", "nodes = 1\nk = 1", "", trials);
        let median = tally.latency_ns().value_at_quantile(0.5) as f64;
        let expected = 1.678_346_990_016_661 * m_ns;
        // The Gamma(2, m) density at x is (x/m) e^(-x/m) / m.
        let density = (expected / m_ns) * (-expected / m_ns).exp() / m_ns;
        let tolerance = median_tolerance(trials, density, expected);
        assert!(
            (median - expected).abs() <= tolerance,
            "median {median} ns, expected {expected} ns +- {tolerance}"
        );
    }

    #[test]
    fn zones_fail_replicas_together() {
        // Six replicas in three zones (two each), k = 4: at most one zone may be down.
        let z: f64 = 0.1;
        let tally = run(
            "quorum",
            &format!("nodes = 6\nk = 4\nzones = 3\nzone_crash = {z}"),
            "",
            1_000_000,
        );
        assert_rate(
            tally.successes,
            tally.trials(),
            (1.0 - z).powi(3) + 3.0 * z * (1.0 - z).powi(2),
        );
    }

    #[test]
    fn a_partition_leaves_the_replicas_on_the_clients_side() {
        // Always partitioned: each replica is on the client's side with probability 1/2.
        let tally = run("quorum", "nodes = 5\nk = 3\npartition = 1.0", "", 1_000_000);
        let b = Binomial::new(0.5, 5).unwrap();
        assert_rate(tally.successes, tally.trials(), 1.0 - b.cdf(2));
    }

    #[test]
    fn cross_region_replies_take_the_cross_region_delay() {
        // Replicas 0 and 2 share the client's region (2 ms round trips), 1 and 3 do not
        // (80 ms): the third reply is a cross-region one.
        let grid = "nodes = 4\nk = 3\nregions = 2\ncross_latency = \"far\"\n";
        let text = format!(
            "name = \"t\"\nseed = 1\ntrials = 100\n[grid]\nprotocol = \"quorum\"\nlatency = \"near\"\n{grid}\n\
             [latency.near]\nkind = \"constant\"\nms = 1\n[latency.far]\nkind = \"constant\"\nms = 40\n"
        );
        let sweep = crate::sweep::Sweep::parse(&text, "t.toml").unwrap();
        let cells = crate::engine::run_all(&sweep, &Default::default()).unwrap();
        assert_eq!(cells[0].tally.latency_max_ns, 80_000_000);
        assert_eq!(
            cells[0].tally.latency_ns().min(),
            cells[0].tally.latency_ns().lowest_equivalent(80_000_000)
        );
    }

    #[test]
    fn direct_sampling_matches_the_per_node_simulation() {
        use crate::latency::tests::parse;
        use crate::protocols::tests::{
            HALF_CONSTANT, TAIL_AT_SCALE, constants_beside_exponential, empirical, histogram,
            measured_beside_lognormal,
        };
        let models = [
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
            "kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5",
            "kind = \"pareto\"\nscale_ms = 1\nshape = 1.5",
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.99, of = { kind = \"lognormal\", median_ms = 1.0, sigma = 0.6 } },\n\
             { weight = 0.01, of = { kind = \"pareto\", scale_ms = 5.0, shape = 2.0 } },\n]",
            "kind = \"constant\"\nms = 1",
        ];
        for (i, model) in models.iter().enumerate() {
            let latency = parse(model).unwrap();
            check(model, &latency, i);
        }
        // Laws with atoms: constants beside each other and beside a continuous part, a
        // sample small enough to sum exactly (with ties), and one summed on the grid; samples
        // and many constants beside a continuous part (exactly up to 1,024 atoms, on the grid
        // beyond).
        for (what, latency) in [
            ("tail at scale", parse(TAIL_AT_SCALE).unwrap()),
            ("half constant", parse(HALF_CONSTANT).unwrap()),
            ("500 samples, 0.1 ms steps", empirical(500, 3, 0.1)),
            ("20,000 samples", empirical(20_000, 4, 0.0)),
            ("a histogram log", histogram(20_000, 5)),
            (
                "500 samples beside a log-normal",
                measured_beside_lognormal(500, 6),
            ),
            (
                "20,000 samples beside a log-normal",
                measured_beside_lognormal(20_000, 7),
            ),
            (
                "2,000 constants beside an exponential",
                constants_beside_exponential(2_000),
            ),
        ] {
            check(what, &latency, 1);
        }
    }

    #[test]
    fn round_trips_keep_their_atoms() {
        // Half the one-way delays exactly 1 ms, half exponential (mean 1 ms): a round trip is
        // exactly 2 ms with probability 1/4, below it with
        // P(E < 1 ms) + P(E1 + E2 < 2 ms) / 4, and the 2nd fastest of 3 is exactly 2 ms with
        // P(Bin(3, F(2 ms)) >= 2) - P(Bin(3, F(2 ms-)) >= 2).
        use super::{Quorum, QuorumDirect};
        use crate::latency::tests::parse;
        use crate::model::Env;
        use crate::protocols::tests::{HALF_CONSTANT, draws};
        let latency = parse(HALF_CONSTANT).unwrap();
        let (e1, e2) = ((-1f64).exp(), (-2f64).exp());
        let below = 0.5 * (1.0 - e1) + 0.25 * (1.0 - 3.0 * e2);
        let two_of_three = |f: f64| 3.0 * f * f * (1.0 - f) + f * f * f;
        let trials = 1_000_000;
        for (nodes, k, p) in [
            (1, 1, 0.25),
            (3, 2, two_of_three(below + 0.25) - two_of_three(below)),
        ] {
            let env = Env::new(0.0, 0.0, latency.clone()).unwrap();
            let direct = QuorumDirect::new(&env, latency.law().unwrap(), nodes, k).unwrap();
            let per_node = Quorum::new(env, nodes, k).unwrap();
            for latencies in [draws(&direct, trials, 1).1, draws(&per_node, trials, 2).1] {
                let at = latencies.iter().filter(|&&x| x == 2e6).count() as u64;
                assert_rate(at, trials, p);
                let under = latencies.iter().filter(|&&x| x < 2e6).count() as u64;
                let p_under = if nodes == 1 {
                    below
                } else {
                    two_of_three(below)
                };
                assert_rate(under, trials, p_under);
            }
        }
    }

    /// Direct against per-node sampling of `latency` at several sizes (all of them for
    /// `i = 1`).
    fn check(what: &str, latency: &crate::latency::Latency, i: usize) {
        use super::{Quorum, QuorumDirect};
        use crate::model::Env;
        use crate::protocols::tests::assert_same_distribution;
        for (nodes, k, crash, loss) in [
            (5, 3, 0.05, 0.01),
            (101, 51, 0.1, 0.01),
            (7, 7, 0.0, 0.0),
            (9, 1, 0.2, 0.1),
        ] {
            if i > 0 && nodes == 101 && i != 1 {
                continue;
            }
            let env = Env::new(crash, loss, latency.clone()).unwrap();
            let per_node = Quorum::new(env.clone(), nodes, k).unwrap();
            let direct = QuorumDirect::new(&env, latency.law().unwrap(), nodes, k).unwrap();
            assert_same_distribution(
                &format!("{what} N = {nodes} k = {k}"),
                &per_node,
                &direct,
                100_000,
            );
        }
    }

    /// Constant one-way delays of `delay_ms`, and constant models `p` and `q` (for
    /// `grid.persist`, `grid.process`) of `persist_ms` and `process_ms`.

    #[test]
    fn node_time_lengthens_every_round_trip() {
        // Constant delay d = 1, persist p = 4, process q = 0.5 (ms): every reply arrives at
        // d + q + p + d + q, so the k-th does too, whatever the sampling asked for.
        let (d, p, q) = (1.0, 4.0, 0.5);
        let at = ((2.0 * d + p + 2.0 * q) * 1e6) as u64;
        for sampling in ["direct", "per-node"] {
            let tally = run(
                "quorum",
                &format!(
                    "nodes = 5\nk = 3\npersist = \"p\"\nprocess = \"q\"\nsampling = \"{sampling}\""
                ),
                &crate::protocols::tests::constant_node_time(d, p, q),
                1000,
            );
            assert_eq!(tally.successes, 1000);
            assert_eq!(tally.latency_max_ns, at);
            assert_eq!(tally.latency_sum_ns, 1000 * u128::from(at));
            assert_eq!(tally.messages_sum, 10 * 1000);
        }
        // Process time alone: 2d + 2q.
        let tally = run(
            "quorum",
            "nodes = 3\nprocess = \"q\"",
            &crate::protocols::tests::constant_node_time(d, p, q),
            1000,
        );
        assert_eq!(tally.latency_max_ns, ((2.0 * d + 2.0 * q) * 1e6) as u64);
    }

    #[test]
    fn a_random_persist_adds_its_mean() {
        // N = k = 1, constant d = 1 and q = 0.5, persist exponential of mean 2 (ms): the
        // latency is 2d + 2q + P, mean 5 ms, standard deviation 2 ms.
        let trials = 200_000u64;
        let tally = run(
            "quorum",
            "nodes = 1\nk = 1\npersist = \"p\"\nprocess = \"q\"",
            "kind = \"constant\"\nms = 1\n[latency.p]\nkind = \"exponential\"\nmean_ms = 2\n\
             [latency.q]\nkind = \"constant\"\nms = 0.5",
            trials,
        );
        assert_eq!(tally.successes, trials);
        let mean = tally.latency_sum_ns as f64 / trials as f64;
        let tolerance = 5.0 * 2e6 / (trials as f64).sqrt();
        assert!((mean - 5e6).abs() <= tolerance, "mean {mean}");
        assert_eq!(
            tally.latency_ns().min(),
            tally.latency_ns().lowest_equivalent(3_000_000)
        );
    }

    #[test]
    fn random_node_time_samples_directly() {
        // Random writes (exponential, mean 2 ms) and handling (log-normal, median 0.05 ms):
        // each reply's time d + q + p + d + q summed on the grid, against every replica
        // simulated, at significance 1e-6 per Kolmogorov-Smirnov test.
        use super::{Quorum, QuorumDirect};
        use crate::protocols::tests::{assert_same_law, random_node_time};
        let lan =
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }";
        let sample = "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.5, of = { kind = \"lognormal\", median_ms = 1, sigma = 0.5 } },\n]";
        for (latency, nodes, k, crash, loss) in [
            (lan, 5, 3, 0.05, 0.01),
            (lan, 101, 51, 0.1, 0.01),
            (lan, 9, 1, 0.2, 0.1),
            (lan, 7, 7, 0.0, 0.0),
            (sample, 31, 16, 0.01, 0.001),
        ] {
            let env = random_node_time(crash, loss, latency);
            let law = env.latency().law().unwrap();
            let per_node = Quorum::new(env.clone(), nodes, k).unwrap();
            let direct = QuorumDirect::new(&env, law, nodes, k).unwrap();
            assert_same_law(
                &format!("quorum N = {nodes} k = {k} crash = {crash} loss = {loss}"),
                &per_node,
                &direct,
                100_000,
                1e-6,
            );
        }
    }

    #[test]
    fn random_node_time_runs_directly() {
        // The registry's model takes random node time directly; per-node on request.
        let latency = "kind = \"constant\"\nms = 1\n[latency.p]\nkind = \"exponential\"\n\
                       mean_ms = 2";
        for (sampling, sampler) in [("direct", "direct"), ("per-node", "per-node")] {
            let text = format!(
                "name = \"t\"\nseed = 1\ntrials = 100\n[grid]\nprotocol = \"quorum\"\n\
                 nodes = 5\npersist = \"p\"\nsampling = \"{sampling}\"\nlatency = \"l\"\n\
                 [latency.l]\n{latency}\n"
            );
            let sweep = crate::sweep::Sweep::parse(&text, "t.toml").unwrap();
            assert_eq!(sweep.model(0).sampler().as_str(), sampler);
            let cells = crate::engine::run_all(&sweep, &Default::default()).unwrap();
            assert_eq!(cells[0].tally.trials(), 100);
        }
    }

    #[test]
    fn messages_count_requests_and_sent_replies() {
        let tally = run("quorum", "nodes = 7\nk = 4", "", 10_000);
        assert_eq!(tally.messages_sum, 14 * 10_000);
        let tally = run("quorum", "nodes = 7\nk = 4\ncrash = 1.0", "", 1_000);
        assert_eq!((tally.successes, tally.messages_max), (0, 7));
    }
}
