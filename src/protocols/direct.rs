//! What protocols share to sample a trial directly instead of node by node: the `sampling`
//! parameter, and the counts of a request sent to n nodes and answered.

use std::sync::{Arc, OnceLock};

use rand::Rng;

use super::{Choice, Env, ParamSpec, Value, choice};
use crate::latency::Mix;
use crate::order::{self, Outcomes, Quantiles};
use crate::rng::SimRng;

choice! {
    /// How a cell asks its trials to be sampled.
    pub enum Sampling {
        /// From exact distributions, where the environment allows.
        Direct = "direct",
        /// Every node and message simulated.
        PerNode = "per-node",
    }
}

/// The `sampling` parameter of the protocols that can sample directly.
pub const SAMPLING: ParamSpec = ParamSpec {
    name: "sampling",
    kind: Sampling::KIND,
    default: Value::Choice(Sampling::Direct.word()),
    doc: "direct: draw counts and order statistics from their exact distributions when the \
          environment allows (no zones, partitions or regions; any latency model but an \
          HdrHistogram log mixed with other models, or a mixture of more than 4 continuous \
          models, for the delays and for persist and process where the protocol models time \
          at the nodes), so a trial costs the same at any N; per-node: simulate every node and \
          message. The summary's `sampler` column says which ran",
};

/// The one-way delay law of `env` when `sampling` asks for direct sampling and nothing in the
/// environment tells nodes apart.
pub fn direct_law(sampling: Sampling, env: &Env) -> Option<Mix> {
    if sampling != Sampling::Direct || !env.is_iid() {
        return None;
    }
    let law = env.latency().law()?;
    order::tabulates(&law).then_some(law)
}

/// Largest n whose counts (and order statistics) are tabulated.
pub const TABULATED: u32 = 256;

/// A request sent to each of n nodes, answered by each one that is up and got it: how many
/// answers were sent (`sent`, counted as messages) and how many arrived.
///
/// A node sends with probability `(1 - crash)(1 - loss)` and its answer arrives with
/// probability `1 - loss`, independently for every node, so `sent ~ Bin(n, (1 - crash)
/// (1 - loss))` and `arrived ~ Bin(sent, 1 - loss)`: a table of the joint outcomes for small
/// n (one draw, none when only one outcome is possible), two binomial draws beyond.
#[derive(Debug, Clone)]
pub struct Replies {
    n: u32,
    sends: f64,
    arrives: f64,
    draw: Draw<(u32, u32)>,
}

/// How a count is drawn.
// A tag byte (no niche in the table's vectors), so that a trial tells the cases apart with
// one comparison.
#[repr(u8)]
#[derive(Debug, Clone)]
enum Draw<T> {
    /// From a table, by one 64-bit draw.
    Table(Outcomes<T>),
    /// Certain: no draw.
    Certain(T),
    /// Beyond [`TABULATED`]: by binomial draws.
    Binomial,
}

impl<T: Copy> Draw<T> {
    /// Tabulates the outcomes for n up to [`TABULATED`].
    fn new(n: u32, outcomes: impl FnOnce() -> Vec<(f64, T)>) -> Self {
        if n > TABULATED {
            return Self::Binomial;
        }
        let table = Outcomes::new(outcomes());
        match table.len() {
            1 => Self::Certain(table.sample(0)),
            _ => Self::Table(table),
        }
    }
}

impl Replies {
    /// Requests to `n` nodes in `env`.
    pub fn new(env: &Env, n: u32) -> Self {
        let sends = (1.0 - env.crash().probability()) * (1.0 - env.loss().probability());
        let arrives = 1.0 - env.loss().probability();
        let draw = Draw::new(n, || {
            let mut outcomes = Vec::new();
            for (sent, p_sent) in order::binomial_pmf(n, sends).into_iter().enumerate() {
                for (arrived, p) in order::binomial_pmf(sent as u32, arrives)
                    .into_iter()
                    .enumerate()
                {
                    outcomes.push((p_sent * p, (sent as u32, arrived as u32)));
                }
            }
            outcomes
        });
        Self {
            n,
            sends,
            arrives,
            draw,
        }
    }

    /// The distribution of the number of answers that arrive.
    pub fn arrived_pmf(&self) -> Vec<f64> {
        order::binomial_pmf(self.n, self.sends * self.arrives)
    }

    /// `(sent, arrived)`.
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> (u32, u32) {
        self.sample_reusing(rng).0
    }

    /// `(sent, arrived)`, and a fresh uniform 64-bit value when the draw allowed one
    /// ([`Outcomes::sample_reusing`]).
    #[inline(always)]
    pub fn sample_reusing(&self, rng: &mut SimRng) -> ((u32, u32), Option<u64>) {
        match &self.draw {
            Draw::Table(table) => table.sample_reusing(rng.next_u64()),
            Draw::Certain(outcome) => (*outcome, None),
            Draw::Binomial => {
                let sent = order::binomial(rng, self.n.into(), self.sends);
                let arrived = order::binomial(rng, sent, self.arrives);
                ((sent as u32, arrived as u32), None)
            }
        }
    }
}

/// A binomial count `Bin(n, p)`: one draw from a table for small n (none when it is
/// certain), `rand_distr`'s exact sampler beyond.
#[derive(Debug, Clone)]
pub struct Count {
    n: u32,
    p: f64,
    draw: Draw<u32>,
}

impl Count {
    /// `Bin(n, p)`.
    pub fn new(n: u32, p: f64) -> Self {
        let draw = Draw::new(n, || {
            order::binomial_pmf(n, p)
                .into_iter()
                .enumerate()
                .map(|(j, q)| (q, j as u32))
                .collect()
        });
        Self { n, p, draw }
    }

    /// A draw.
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> u32 {
        match &self.draw {
            Draw::Table(table) => table.sample(rng.next_u64()),
            Draw::Certain(count) => *count,
            Draw::Binomial => order::binomial(rng, self.n.into(), self.p) as u32,
        }
    }
}

/// Tables built on a cell's first trial and shared by its threads, so that building a sweep
/// (or a dry run) costs nothing.
#[derive(Debug)]
pub struct Lazy<T>(OnceLock<Arc<T>>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<T> Lazy<T> {
    /// The tables, built by `build` the first time.
    pub fn get(&self, build: impl FnOnce() -> T) -> Arc<T> {
        self.0.get_or_init(|| Arc::new(build())).clone()
    }
}

/// The round-trip quantiles of `law`, which [`direct_law`] accepted.
pub fn round_trip(law: &Mix) -> Arc<Quantiles> {
    order::round_trip(law).expect("a law direct sampling accepts")
}

/// Time at the nodes as direct sampling takes it: a reply that comes back `d + q + p + d + q`
/// after its request (d one-way delays, q the handling of a message at either end, p a
/// durable write before replying), every term drawn afresh, independently of other replies.
#[derive(Debug, Clone)]
pub enum NodeTime {
    /// None, or constant: `(persist, process)` in ns (0 where unset). The reply's time is the
    /// plain round trip plus [`NodeTime::constant_ns`], exactly.
    Constant(u64, u64),
    /// Random: the laws of `d + q + p + d + q`'s terms, summed ([`order::sum()`]).
    Random(Vec<Mix>),
}

impl NodeTime {
    /// The time at the nodes of `env` with one-way delays drawn from `law`, when direct
    /// sampling takes it: none or constant, or models whose laws [`order::tabulates`] (as
    /// [`direct_law`] asks of the delays).
    pub fn of(env: &Env, law: &Mix) -> Option<Self> {
        if let Some((persist, process)) = env.constant_node_time() {
            return Some(Self::Constant(persist, process));
        }
        let model = |m: Option<&crate::latency::Latency>| -> Option<Option<Mix>> {
            match m {
                None => Some(None),
                Some(m) => m.law().filter(order::tabulates).map(Some),
            }
        };
        let (persist, process) = (model(env.persist())?, model(env.process())?);
        let mut terms = vec![law.clone()];
        terms.extend(process.clone());
        terms.extend(persist);
        terms.push(law.clone());
        terms.extend(process);
        Some(Self::Random(terms))
    }

    /// Whether the time at the nodes is random.
    pub fn is_random(&self) -> bool {
        matches!(self, Self::Random(_))
    }

    /// What constant node time adds to each reply: `p + 2q` (0 where random: the quantiles of
    /// [`NodeTime::reply`] hold it all).
    pub fn constant_ns(&self) -> u64 {
        match *self {
            Self::Constant(persist, process) => persist.saturating_add(process.saturating_mul(2)),
            Self::Random(_) => 0,
        }
    }

    /// The quantiles of a reply's time less [`NodeTime::constant_ns`]: the plain round trip of
    /// `law` where node time is constant, the sum of `d + q + p + d + q` where it is random.
    pub fn reply(&self, law: &Mix) -> Arc<Quantiles> {
        match self {
            Self::Constant(..) => round_trip(law),
            Self::Random(terms) => order::sum(terms).expect("laws direct sampling accepts"),
        }
    }
}
