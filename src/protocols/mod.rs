//! The protocols coordsim simulates, one file each, behind the [`Protocol`] trait.
//!
//! A protocol file holds the model (a struct implementing [`Protocol`], whose documentation
//! states what one trial is, what success means and which messages count) and a
//! [`ProtocolInfo`] named `SPEC` that lists its parameters and builds it from a grid cell.
//! Adding a protocol is one new file and one line in the `registry!` list of this file, which
//! declares its module and its place in [`BUILTIN`].
//!
//! Two names feed the summary's cost columns: a periodic protocol, whose trial is one
//! period, names its period `period_ms` (a duration parameter), and a protocol whose messages
//! differ in size counts the bytes it sends as its own count `bytes`.

pub mod direct;
mod election;

pub use ack::Ack;
pub use batched::Batched;
pub use cache_hierarchy::{CacheHierarchy, ClientRegion as CacheClientRegion, Op as CacheOp};
pub use chatty::Chatty;
pub use clock_sync::{
    ClockSync, ErrorLaw as ClockError, Pairs as ClockPairs, Sync as ClockSyncMode,
};
pub use crdt_counter::{Counter as CrdtCounterKind, CrdtCounter};
pub use exactly_once::ExactlyOnce;
pub use fire_and_forget::FireAndForget;
pub use full_mesh::FullMesh;
pub use gossip::{Gossip, Mode as GossipMode};
pub use leader::{Leader, Mode as LeaderMode};
pub use locked_counter::LockedCounter;
pub use paxos::{Paxos, Variant as PaxosVariant};
pub use paxos_commit::{
    PaxosCommit, Placement as PaxosCommitPlacement, Variant as PaxosCommitVariant,
};
pub use pbft::{Behavior as PbftBehavior, Pbft};
pub use periodic_broadcast::PeriodicBroadcast;
pub use quorum::Quorum;
pub use quorum_rw::{Delays as WarsDelays, QuorumRw, Wars};
pub use raft::{Logs as RaftLogs, Phase as RaftPhase, Raft, VoteWrites as RaftVoteWrites};
pub use sequencer::Sequencer;
pub use sharded_sequencer::ShardedSequencer;
pub use state_transfer::{StateTransfer, Transfer as StateTransferMode};
pub use three_phase_commit::ThreePhaseCommit;
pub use tree::Tree;
pub use two_phase_commit::TwoPhaseCommit;

// What every protocol file takes from the model core, through `super::`.
use crate::model::{
    CLIENT, Choice, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec,
    Protocol, ProtocolInfo, QuorumRule, Sampler, Setting, Value, choice,
};

/// Declares each protocol's module (a file in this folder holding its model and a
/// [`ProtocolInfo`] named `SPEC`) and lists it in [`BUILTIN`], in the given order: adding a
/// protocol is its file plus one line here.
macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*

        /// coordsim's protocols, in the order `coordsim protocols` lists them (a sweep's
        /// protocols come from a [`crate::sweep::Registry`], which starts with these).
        pub const BUILTIN: &[&ProtocolInfo] = &[$(&$module::SPEC),*];
    };
}

registry!(
    fire_and_forget,
    ack,
    exactly_once,
    quorum,
    quorum_rw,
    leader,
    two_phase_commit,
    three_phase_commit,
    raft,
    paxos,
    paxos_commit,
    pbft,
    tree,
    full_mesh,
    gossip,
    sequencer,
    sharded_sequencer,
    chatty,
    batched,
    clock_sync,
    periodic_broadcast,
    state_transfer,
    crdt_counter,
    locked_counter,
    cache_hierarchy,
);

/// The `k`-th smallest of `values` (`1 <= k <= values.len()`), possibly reordering them: a
/// sorting network (compare-exchanges as branch-free min/max, so random values cost no
/// mispredicted branches) for up to 8 values, an insertion sort up to 16, quickselect beyond.
#[inline]
pub(crate) fn kth_smallest(values: &mut [u64], k: usize) -> u64 {
    debug_assert!((1..=values.len()).contains(&k));
    match values.len() {
        0..=4 => network::sort4(network::padded(values))[k - 1],
        5 => network::sort5(network::padded(values))[k - 1],
        6..=8 => network::sort8(network::padded(values))[k - 1],
        9..=16 => {
            for i in 1..values.len() {
                let mut j = i;
                while j > 0 && values[j - 1] > values[j] {
                    values.swap(j - 1, j);
                    j -= 1;
                }
            }
            values[k - 1]
        }
        _ => *values.select_nth_unstable(k - 1).1,
    }
}

/// Sorting networks of the fewest comparators (Knuth, TAOCP vol. 3, 5.3.4), unrolled.
mod network {
    /// `values` (at most `N`) padded with `u64::MAX`, which sorts last.
    #[inline(always)]
    pub fn padded<const N: usize>(values: &[u64]) -> [u64; N] {
        std::array::from_fn(|i| values.get(i).copied().unwrap_or(u64::MAX))
    }

    macro_rules! networks {
        ($($sort:ident($n:literal): $(($i:literal, $j:literal))*;)*) => {$(
            /// Sorts the array.
            #[inline(always)]
            pub fn $sort(mut a: [u64; $n]) -> [u64; $n] {
                $(
                    let (x, y) = (a[$i], a[$j]);
                    a[$i] = x.min(y);
                    a[$j] = x.max(y);
                )*
                a
            }
        )*};
    }

    networks! {
        sort4(4): (0, 1) (2, 3) (0, 2) (1, 3) (1, 2);
        sort5(5): (0, 3) (1, 4) (0, 2) (1, 3) (0, 1) (2, 4) (1, 2) (3, 4) (2, 3);
        sort8(8): (0, 2) (1, 3) (4, 6) (5, 7) (0, 4) (1, 5) (2, 6) (3, 7) (0, 1) (2, 3) (4, 5)
            (6, 7) (2, 4) (3, 5) (1, 4) (3, 6) (1, 2) (3, 4) (5, 6);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::{RunOptions, run_all};
    use crate::model::Status;
    use crate::model::tally::Tally;
    use crate::sweep::Sweep;

    /// An empirical latency model: `n` log-normal delays (median 1 ms, sigma 0.5) drawn from
    /// stream `seed`, rounded to multiples of `step_ms` (none if 0).
    pub fn empirical(n: usize, seed: u64, step_ms: f64) -> crate::latency::Latency {
        use crate::latency::{Delay, Empirical, LogNormal};
        let law = LogNormal::new(1.0, 0.5).unwrap();
        let mut rng = crate::rng::stream(seed, 0, 0);
        let values: Vec<f64> = (0..n)
            .map(|_| {
                let ms = law.sample_ns(&mut rng) as f64 / 1e6;
                if step_ms > 0.0 {
                    (ms / step_ms).round() * step_ms
                } else {
                    ms
                }
            })
            .collect();
        Empirical::from_values_ms(&values).unwrap().into()
    }

    /// An empirical latency model read from an HdrHistogram of `n` log-normal delays (median
    /// 1 ms, sigma 0.5) recorded in microseconds to 3 significant digits: buckets of equally
    /// likely integers.
    pub fn histogram(n: usize, seed: u64) -> crate::latency::Latency {
        use crate::latency::{Delay, Empirical, LogNormal};
        let law = LogNormal::new(1.0, 0.5).unwrap();
        let mut rng = crate::rng::stream(seed, 0, 0);
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
        for _ in 0..n {
            h.record((law.sample_ns(&mut rng) / 1000).max(1)).unwrap();
        }
        Empirical::from_histogram(&h, 1e3).unwrap().into()
    }

    /// A sample beside a continuous model: [`empirical`]`(n, seed, 0)` with probability 0.8,
    /// a log-normal law (median 5 ms, sigma 0.5) otherwise.
    pub fn measured_beside_lognormal(n: usize, seed: u64) -> crate::latency::Latency {
        use crate::latency::{LogNormal, Mixture};
        let slow = LogNormal::new(5.0, 0.5).unwrap().into();
        Mixture::new(vec![(0.8, empirical(n, seed, 0.0)), (0.2, slow)])
            .unwrap()
            .into()
    }

    /// Many constants beside a continuous model: `n` constants 2.5 us apart from 2.5 us,
    /// each with probability 1/(2n), and an exponential law (mean 1 ms) with probability 1/2.
    pub fn constants_beside_exponential(n: usize) -> crate::latency::Latency {
        use crate::latency::{Constant, Exponential, Mixture};
        let mut parts: Vec<(f64, crate::latency::Latency)> = (1..=n)
            .map(|i| {
                let ms = 0.0025 * i as f64;
                (0.5 / n as f64, Constant::new(ms).unwrap().into())
            })
            .collect();
        parts.push((0.5, Exponential::new(1.0).unwrap().into()));
        Mixture::new(parts).unwrap().into()
    }

    /// The tail-at-scale mixture: 1 ms with probability 0.99, 1 s otherwise.
    pub const TAIL_AT_SCALE: &str = "kind = \"mixture\"\ncomponents = [\n\
         { weight = 0.99, of = { kind = \"constant\", ms = 1 } },\n\
         { weight = 0.01, of = { kind = \"constant\", ms = 1000 } },\n]";

    /// Half the delays 1 ms exactly, half exponential with mean 1 ms.
    pub const HALF_CONSTANT: &str = "kind = \"mixture\"\ncomponents = [\n\
         { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
         { weight = 0.5, of = { kind = \"exponential\", mean_ms = 1 } },\n]";

    /// Latency tables for [`run`]: one-way delays of `d_ms`, and the models `p` (persist) and
    /// `q` (process) of `p_ms` and `q_ms`, all constant; a grid names them with
    /// `persist = "p"` and `process = "q"`.
    pub fn constant_node_time(d_ms: f64, p_ms: f64, q_ms: f64) -> String {
        format!(
            "kind = \"constant\"\nms = {d_ms}\n[latency.p]\nkind = \"constant\"\nms = {p_ms}\n\
             [latency.q]\nkind = \"constant\"\nms = {q_ms}"
        )
    }

    /// Checks that constant node time (persist 4 ms, process 0.5 ms) leaves `build`'s model
    /// the same trial by trial (same seed, status, messages, extras) but for a latency
    /// exactly `shift_ms` longer on every success. Delays are a constant 1 ms; crash and loss
    /// 0.01. Constant times draw nothing, so both models see the same random stream.
    pub fn assert_node_time_shifts<P: crate::model::Protocol>(
        build: impl Fn(crate::model::Env) -> P,
        shift_ms: f64,
    ) {
        use crate::latency::{Constant, Latency};
        use crate::model::Status;
        let constant = |ms: f64| Latency::from(Constant::new(ms).unwrap());
        let plain = crate::model::Env::new(0.01, 0.01, constant(1.0)).unwrap();
        let timed = plain
            .clone()
            .with_node_time(Some(constant(4.0)), Some(constant(0.5)));
        let models = [plain, timed].map(build);
        let mut rngs = [1, 1].map(|seed| crate::rng::stream(seed, 0, 0));
        let mut scratch = [models[0].scratch(), models[1].scratch()];
        let mut successes = 0;
        for _ in 0..10_000 {
            let [a, b] = [0, 1].map(|i| models[i].trial(&mut rngs[i], &mut scratch[i]));
            assert_eq!(
                (a.status, a.messages, a.extras),
                (b.status, b.messages, b.extras)
            );
            if a.status == Status::Success {
                successes += 1;
                assert_eq!(b.latency_ns, a.latency_ns + (shift_ms * 1e6) as u64);
            }
        }
        assert!(successes > 9_000, "{successes}");
    }

    /// Runs a one-cell sweep of `protocol` with extra `[grid]` lines and a latency table
    /// (exponential, mean 0.5 ms, when empty), and returns the cell's tally.
    pub fn run(protocol: &str, grid: &str, latency: &str, trials: u64) -> Tally {
        let latency = if latency.is_empty() {
            "kind = \"exponential\"\nmean_ms = 0.5"
        } else {
            latency
        };
        let text = format!(
            "name = \"test\"\nseed = 1\ntrials = {trials}\n[grid]\nprotocol = \"{protocol}\"\n\
             latency = \"l\"\n{grid}\n[latency.l]\n{latency}\n"
        );
        let sweep = Sweep::parse(&text, "test.toml").unwrap();
        assert_eq!(sweep.cells.len(), 1, "one cell");
        let mut cells = run_all(&sweep, &RunOptions::default()).unwrap();
        std::sync::Arc::unwrap_or_clone(cells.pop().unwrap().tally)
    }

    /// The k-th smallest of `n` independent round trips, each two exponential one-way delays
    /// of mean `m_ns` (a Gamma(2, m) round trip, CDF 1 - e^(-x/m) (1 + x/m)): its CDF and
    /// density at `x_ns`, by the Beta(k, n - k + 1) law of the k-th smallest of n uniforms.
    pub fn round_trip_order_statistic(k: u64, n: u64, m_ns: f64, x_ns: f64) -> (f64, f64) {
        use statrs::distribution::{Beta, Continuous, ContinuousCDF};
        let y = x_ns / m_ns;
        let (cdf, pdf) = (1.0 - (-y).exp() * (1.0 + y), y * (-y).exp() / m_ns);
        let beta = Beta::new(k as f64, (n - k + 1) as f64).unwrap();
        (beta.cdf(cdf), beta.pdf(cdf) * pdf)
    }

    /// The median of [`round_trip_order_statistic`] (by bisection) and its density there.
    pub fn round_trip_order_statistic_median(k: u64, n: u64, m_ns: f64) -> (f64, f64) {
        let (mut lo, mut hi) = (0.0, 100.0 * m_ns);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if round_trip_order_statistic(k, n, m_ns, mid).0 < 0.5 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let median = 0.5 * (lo + hi);
        (median, round_trip_order_statistic(k, n, m_ns, median).1)
    }

    /// Asserts that `tally`'s median latency is the exact median of the k-th smallest of `n`
    /// Gamma(2, m) round trips ([`round_trip_order_statistic_median`]), within the median's
    /// 5-sigma tolerance at the tally's trials.
    pub fn assert_median_is_order_statistic(tally: &Tally, k: u64, n: u64, m_ns: f64, what: &str) {
        let (expected, density) = round_trip_order_statistic_median(k, n, m_ns);
        let median = tally.latency_ns().value_at_quantile(0.5) as f64;
        let tolerance = crate::model::stats::median_tolerance(tally.trials(), density, expected);
        assert!(
            (median - expected).abs() <= tolerance,
            "{what}: median {median} ns, expected {expected} ns +- {tolerance}"
        );
    }

    /// Mean and variance of [`round_trip_order_statistic`]: E[X] = int P(X > x) dx and
    /// E[X^2] = int 2x P(X > x) dx (Simpson's rule over [0, 100 m]).
    pub fn round_trip_order_statistic_moments(k: u64, n: u64, m_ns: f64) -> (f64, f64) {
        let steps = 20_000;
        let h = 100.0 * m_ns / f64::from(steps);
        let (mut m1, mut m2) = (0.0, 0.0);
        for i in 0..=steps {
            let x = f64::from(i) * h;
            let weight = match i {
                0 => 1.0,
                i if i == steps => 1.0,
                i if i % 2 == 1 => 4.0,
                _ => 2.0,
            };
            let sf = 1.0 - round_trip_order_statistic(k, n, m_ns, x).0;
            m1 += weight * sf;
            m2 += weight * 2.0 * x * sf;
        }
        let (m1, m2) = (m1 * h / 3.0, m2 * h / 3.0);
        (m1, m2 - m1 * m1)
    }

    #[test]
    fn order_statistic_helpers_agree_with_known_values() {
        // One round trip: the Gamma(2) median is 1.678347 m, mean 2 m, variance 2 m^2.
        let (median, density) = round_trip_order_statistic_median(1, 1, 1.0);
        assert!((median - 1.678_346_990_016_661).abs() < 1e-9, "{median}");
        assert!((density - median * (-median).exp()).abs() < 1e-9);
        let (mean, var) = round_trip_order_statistic_moments(1, 1, 1.0);
        assert!(
            (mean - 2.0).abs() < 1e-6 && (var - 2.0).abs() < 1e-6,
            "{mean} {var}"
        );
        // The faster of two: P(X > x) = e^(-2x) (1 + x)^2, so E[X] = 5/4.
        let (mean, _) = round_trip_order_statistic_moments(1, 2, 1.0);
        assert!((mean - 1.25).abs() < 1e-6, "{mean}");
    }

    /// What `trials` trials of `model` produced: successes and blocked trials, the latencies
    /// of the successes, and every trial's messages.
    pub fn draws<P: Protocol>(model: &P, trials: u64, seed: u64) -> ([u64; 2], Vec<f64>, Vec<f64>) {
        let mut rng = crate::rng::stream(seed, 0, 0);
        let mut scratch = model.scratch();
        let (mut counts, mut latency, mut messages) = ([0; 2], Vec::new(), Vec::new());
        for _ in 0..trials {
            let outcome = model.trial(&mut rng, &mut scratch);
            match outcome.status {
                Status::Success => {
                    counts[0] += 1;
                    latency.push(outcome.latency_ns as f64);
                }
                Status::Blocked => counts[1] += 1,
                Status::Failure => {}
            }
            messages.push(outcome.messages as f64);
        }
        (counts, latency, messages)
    }

    /// Panics unless two samplers of one model agree: success and blocked rates within 5
    /// standard errors of their difference, and latencies and messages by two-sample
    /// Kolmogorov-Smirnov tests at significance 0.001 each.
    pub fn assert_same_distribution<A: Protocol, B: Protocol>(
        what: &str,
        a: &A,
        b: &B,
        trials: u64,
    ) {
        use crate::model::stats::{ks_critical, ks_statistic};
        let (ca, mut la, mut ma) = draws(a, trials, 1);
        let (cb, mut lb, mut mb) = draws(b, trials, 2);
        for (name, sa, sb) in [("success", ca[0], cb[0]), ("blocked", ca[1], cb[1])] {
            let (pa, pb) = (sa as f64 / trials as f64, sb as f64 / trials as f64);
            let pooled = (sa + sb) as f64 / (2 * trials) as f64;
            let se = (2.0 * pooled * (1.0 - pooled) / trials as f64).sqrt();
            assert!(
                (pa - pb).abs() <= 5.0 * se + 1e-12,
                "{what}: {name} {pa} vs {pb} (se {se})"
            );
        }
        for (name, x, y) in [
            ("latency", &mut la, &mut lb),
            ("messages", &mut ma, &mut mb),
        ] {
            if x.is_empty() || y.is_empty() {
                assert_eq!(x.len(), y.len(), "{what}: {name}");
                continue;
            }
            let critical = ks_critical(x.len(), y.len(), 0.001);
            let d = ks_statistic(x, y);
            assert!(d <= critical, "{what}: {name} KS D = {d} > {critical}");
        }
    }

    /// Panics unless two samplers of one model agree, at significance `alpha` for each
    /// two-sample Kolmogorov-Smirnov test (of latencies and of messages; critical values from
    /// the sample sizes, [`crate::model::stats::ks_critical`]): success and blocked rates, and
    /// the mean messages per trial, within 5 standard errors of their difference. Prints and
    /// returns each test's statistic and critical value: `[latency, messages]`.
    pub fn assert_same_law<A: Protocol, B: Protocol>(
        what: &str,
        a: &A,
        b: &B,
        trials: u64,
        alpha: f64,
    ) -> [(f64, f64); 2] {
        use crate::model::stats::{ks_critical, ks_statistic};
        let (ca, mut la, mut ma) = draws(a, trials, 1);
        let (cb, mut lb, mut mb) = draws(b, trials, 2);
        let n = trials as f64;
        for (name, sa, sb) in [("success", ca[0], cb[0]), ("blocked", ca[1], cb[1])] {
            let (pa, pb) = (sa as f64 / n, sb as f64 / n);
            let pooled = (sa + sb) as f64 / (2.0 * n);
            let se = (2.0 * pooled * (1.0 - pooled) / n).sqrt();
            assert!(
                (pa - pb).abs() <= 5.0 * se + 1e-12,
                "{what}: {name} {pa} vs {pb} (se {se})"
            );
        }
        let moments = |x: &[f64]| {
            let mean = x.iter().sum::<f64>() / x.len() as f64;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
            (mean, var)
        };
        let ((mean_a, var_a), (mean_b, var_b)) = (moments(&ma), moments(&mb));
        let se = (var_a / n + var_b / n).sqrt();
        assert!(
            (mean_a - mean_b).abs() <= 5.0 * se + 1e-12,
            "{what}: messages mean {mean_a} vs {mean_b} (se {se})"
        );
        let mut seen = [(0.0, 0.0); 2];
        for (i, (name, x, y)) in [
            ("latency", &mut la, &mut lb),
            ("messages", &mut ma, &mut mb),
        ]
        .into_iter()
        .enumerate()
        {
            if x.is_empty() || y.is_empty() {
                assert_eq!(x.len(), y.len(), "{what}: {name}");
                continue;
            }
            let critical = ks_critical(x.len(), y.len(), alpha);
            let d = ks_statistic(x, y);
            eprintln!("{what}: {name} KS D = {d:.5}, critical {critical:.5} (alpha {alpha})");
            assert!(d <= critical, "{what}: {name} KS D = {d} > {critical}");
            seen[i] = (d, critical);
        }
        seen
    }

    /// An environment with crash and loss probabilities, delays `latency`, and random time at
    /// the nodes: a write exponential of mean 2 ms, the handling of a message log-normal of
    /// median 0.05 ms (sigma 0.5).
    pub fn random_node_time(crash: f64, loss: f64, latency: &str) -> crate::model::Env {
        use crate::latency::tests::parse;
        let persist = parse("kind = \"exponential\"\nmean_ms = 2").unwrap();
        let process = parse("kind = \"lognormal\"\nmedian_ms = 0.05\nsigma = 0.5").unwrap();
        crate::model::Env::new(crash, loss, parse(latency).unwrap())
            .unwrap()
            .with_node_time(Some(persist), Some(process))
    }

    #[test]
    fn every_latency_law_samples_directly() {
        // Laws with atoms, at edge sizes and failures: each cell of the direct samplers
        // runs directly (no panic, every trial counted), but for a mixture of empirical
        // samples with a continuous model, which runs node by node.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one.csv"), "2\n2\n").unwrap();
        std::fs::write(dir.path().join("few.csv"), "0\n0.5\n0.5\n3\n1000\n").unwrap();
        let many: String = (0..3000)
            .map(|i| format!("{}\n", f64::from(i) * 0.37 % 97.0))
            .collect();
        std::fs::write(dir.path().join("many.csv"), many).unwrap();
        let models = [
            ("one", "kind = \"empirical\"\nfile = \"one.csv\"", true),
            ("few", "kind = \"empirical\"\nfile = \"few.csv\"", true),
            ("many", "kind = \"empirical\"\nfile = \"many.csv\"", true),
            (
                "shifted",
                "kind = \"shifted\"\nshift_ms = 1\nof = { kind = \"empirical\", file = \"many.csv\" }",
                true,
            ),
            ("tail", TAIL_AT_SCALE, true),
            ("half", HALF_CONSTANT, true),
            (
                "zero",
                "kind = \"mixture\"\ncomponents = [\n\
                 { weight = 0.5, of = { kind = \"constant\", ms = 0 } },\n\
                 { weight = 0.5, of = { kind = \"uniform\", low_ms = 0, high_ms = 1 } },\n]",
                true,
            ),
            (
                "sampled",
                "kind = \"mixture\"\ncomponents = [\n\
                 { weight = 0.9, of = { kind = \"empirical\", file = \"few.csv\" } },\n\
                 { weight = 0.1, of = { kind = \"constant\", ms = 3600000 } },\n]",
                true,
            ),
            (
                "mixed",
                "kind = \"mixture\"\ncomponents = [\n\
                 { weight = 0.9, of = { kind = \"empirical\", file = \"few.csv\" } },\n\
                 { weight = 0.1, of = { kind = \"exponential\", mean_ms = 1 } },\n]",
                true,
            ),
        ];
        let mut text = "name = \"laws\"\nseed = 5\ntrials = 400\n[grid]\n\
             protocol = [\"quorum\", \"leader\", \"two-phase-commit\", \"full-mesh\"]\n\
             nodes = [1, 2, 5, 40]\ncrash = [0.0, 0.2]\nloss = [0.0, 0.1]\nlatency = ["
            .to_string();
        let names: Vec<String> = models.iter().map(|m| format!("\"{}\"", m.0)).collect();
        text += &names.join(", ");
        text += "]\n";
        for (name, model, _) in &models {
            text += &format!("[latency.{name}]\n{model}\n");
        }
        let path = dir.path().join("laws.toml");
        std::fs::write(&path, &text).unwrap();
        let sweep = Sweep::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for cell in sweep.cells.iter() {
            let direct = models
                .iter()
                .find(|m| *m.0 == *cell.latency_name)
                .unwrap()
                .2;
            let sampler = sweep.model(cell.id as usize).sampler();
            assert_eq!(sampler == Sampler::Direct, direct, "{}", cell.latency_name);
        }
        for cell in run_all(&sweep, &RunOptions::default()).unwrap() {
            assert_eq!(cell.tally.trials(), 400, "cell {}", cell.cell_id);
        }
    }

    #[test]
    fn every_protocol_runs_at_small_sizes_under_every_failure() {
        // Edge sizes and every failure mechanism at once: no panic, every trial counted.
        for p in BUILTIN {
            let grid = "nodes = [1, 2, 3, 4, 7]\ncrash = [0.0, 0.3]\nloss = [0.0, 0.2]\n\
                        zones = 2\nzone_crash = 0.1\npartition = [0.0, 0.5]\n\
                        regions = [1, 2]\ncross_latency = \"l\"";
            let text = format!(
                "name = \"smoke\"\nseed = 3\ntrials = 300\n[grid]\nprotocol = \"{}\"\n\
                 latency = \"l\"\n{grid}\n[latency.l]\nkind = \"exponential\"\nmean_ms = 0.5\n",
                p.name
            );
            let sweep = Sweep::parse(&text, "smoke.toml").unwrap_or_else(|e| panic!("{e}"));
            for cell in run_all(&sweep, &RunOptions::default()).unwrap() {
                assert_eq!(cell.tally.trials(), 300, "{} cell {}", p.name, cell.cell_id);
            }
        }
    }

    #[test]
    fn registry_names_are_unique_and_params_are_consistent() {
        let mut seen: Vec<&ParamSpec> = Vec::new();
        for (i, p) in BUILTIN.iter().enumerate() {
            assert!(BUILTIN[..i].iter().all(|q| q.name != p.name), "{}", p.name);
            assert!(!p.model.is_empty() && !p.summary.is_empty());
            assert!(p.extras.len() <= MAX_EXTRAS, "{}", p.name);
            for spec in p.params {
                assert!(
                    !crate::sweep::AXES.contains(&spec.name),
                    "{}.{} shadows a grid axis",
                    p.name,
                    spec.name
                );
                if let ParamKind::Choice(words) = spec.kind {
                    assert!(
                        matches!(spec.default, Value::Choice(w) if words.contains(&w)),
                        "{}.{}: the default is one of the words",
                        p.name,
                        spec.name
                    );
                }
                // A name is one summary column, of one type, in every protocol.
                if let Some(other) = seen.iter().find(|s| s.name == spec.name) {
                    assert_eq!(
                        other.kind.column(),
                        spec.kind.column(),
                        "{}.{}",
                        p.name,
                        spec.name
                    );
                }
                seen.push(spec);
            }
        }
    }

    #[test]
    fn sorting_networks_sort_every_input() {
        // The 0-1 principle: a comparator network that sorts every sequence of 0s and 1s
        // sorts every sequence.
        fn sorts<const N: usize>(sort: fn([u64; N]) -> [u64; N]) -> bool {
            (0..1u32 << N).all(|bits| {
                let a = std::array::from_fn(|i| u64::from(bits >> i & 1));
                sort(a).windows(2).all(|w| w[0] <= w[1])
            })
        }
        assert!(sorts(network::sort4));
        assert!(sorts(network::sort5));
        assert!(sorts(network::sort8));
        // And it can fail: an array reversed by a lone exchange is not sorted.
        assert!(!sorts::<3>(|a| [a[2], a[1], a[0]]));
    }

    #[test]
    fn kth_smallest_agrees_with_sorting() {
        use rand::Rng;
        let mut rng = crate::rng::stream(11, 0, 0);
        for len in 1..=40 {
            for _ in 0..50 {
                // Few distinct values, so that ties are common.
                let values: Vec<u64> = (0..len).map(|_| rng.next_u64() % 7).collect();
                let mut sorted = values.clone();
                sorted.sort_unstable();
                for k in 1..=len {
                    let mut v = values.clone();
                    assert_eq!(kth_smallest(&mut v, k), sorted[k - 1], "{values:?} k = {k}");
                }
            }
        }
    }
}
