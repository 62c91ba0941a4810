//! Order statistics and counts sampled directly, so that a trial's cost does not grow with N.
//!
//! A quorum waits for the k-th fastest of L replies, a synchronous write for the slowest of
//! N - 1 replicas, a full mesh for the slowest of N(N - 1) messages. Simulating every node
//! and message costs O(N) random draws per trial; these samplers draw the same quantities
//! from their exact distributions instead:
//!
//! - how many nodes are up and how many messages arrive: binomial counts, one draw from a
//!   precomputed table for small N ([`Outcomes`]), `rand_distr`'s exact binomial sampler
//!   beyond;
//! - the k-th smallest of L independent delays X: `Q(U(k:L))`, with Q the quantile function
//!   of X and `U(k:L)` the k-th smallest of L uniforms, which is Beta(k, L - k + 1)
//!   (`uniform`). For the L a cell usually sees, `Q(U(k:L))` is tabulated once
//!   ([`QuantileTable`]: one 64-bit draw per trial); other L draw a Beta variate. The
//!   maximum of M is `Q(V^(1/M))`, one draw for any M.
//!
//! Q is exact for the elementary delay models ([`crate::latency::Law`]); for mixtures and for
//! round trips (the sum of two one-way delays, [`RoundTrip`]) it is solved numerically at
//! knots and interpolated (`quantiles`), accurate to about 1e-8 relative, far below the 3
//! significant digits the histograms keep. Laws with atoms (constants in a mixture, empirical
//! samples) take the generalized inverse `Q(u) = inf {x : F(x) >= u}`, for which `Q(U(k:L))`
//! is exact too (`steps`): their round trips are summed atom by atom, or for more than
//! `steps::EXACT` values (an empirical sample, many constants) computed on a grid within
//! 2^-12 relative (`grid`; a continuous part beside them cut into the grid's cells, within
//! 2^-12 or 2 ns), and their tables never interpolate across an atom's edge ([`StepTable`];
//! for a round trip on the grid, only within 2^-13 of its values).
//! A round trip lengthened by random time at the nodes (`d + q + p + d + q`: one-way delays,
//! the handling of each message, a durable write) is a sum of independent terms ([`sum()`]):
//! its constants shift it exactly, one random law once or twice keeps the exact quantiles
//! above, and more random terms are added two at a time on the same grid, every value within
//! `ceil(log2 m) 2^-12` (relative) plus 2 ns per addition of the exact sums for m random terms
//! ([`sum::relative_error`]: 7.3e-4 and 8 ns for five).
//! These samplers apply when nodes and messages are independent and alike (no zones,
//! partitions or regions), for every delay model but an HdrHistogram log mixed with other
//! models, or a mixture of more than [`MAX_CONVOLVED_TERMS`] continuous models
//! ([`tabulates`]); otherwise the protocols simulate node by node.
//! Tests compare both ways of sampling with two-sample Kolmogorov-Smirnov tests.

mod grid;
pub(crate) mod quadrature;
pub(crate) mod quantiles;
mod round_trip;
mod step_table;
pub(crate) mod steps;
pub mod sum;
mod table;
mod tail;
pub(crate) mod uniform;

pub use round_trip::RoundTrip;
pub use step_table::StepTable;
pub use steps::{Quantiles, Steps};
pub use table::QuantileTable;
pub use tail::Tail;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::Rng;
use rand_distr::{Binomial, Distribution};

use crate::latency::Mix;
use crate::rng::{Chance, SimRng};

/// Most continuous terms a law may have for its order statistics to be tabulated: a round
/// trip's distribution convolves every pair of terms, so building its table grows with the
/// square of their number. A law with more is sampled node by node, at a cost per draw that
/// grows with the logarithm of its terms.
pub const MAX_CONVOLVED_TERMS: usize = 4;

/// True if the order statistics of `law` are sampled directly: a continuous law of at most
/// [`MAX_CONVOLVED_TERMS`] terms, a point, or a law with atoms that `steps::supports`.
pub fn tabulates(law: &Mix) -> bool {
    let continuous = law.parts().iter().filter(|p| p.is_continuous()).count();
    continuous <= MAX_CONVOLVED_TERMS
        && (law.is_continuous() || law.point().is_some() || steps::supports(law))
}

/// The round-trip quantiles of a one-way delay law, solved once per law for the whole
/// process (cells that share a latency model share them).
pub fn round_trip(law: &Mix) -> Option<Arc<Quantiles>> {
    law_quantiles("round trip", law, RoundTrip::quantiles)
}

/// The one-way quantiles of a delay law ([`Quantiles::of`]), once per law for the whole
/// process.
pub fn one_way(law: &Mix) -> Option<Arc<Quantiles>> {
    law_quantiles("one way", law, Quantiles::of)
}

/// The quantiles of a sum of independent draws, one from each of `terms`: a round trip
/// lengthened by time at the nodes ([`sum::quantiles`]: exact for constants and for one law
/// once or twice, on the grid within [`sum::relative_error`] otherwise), solved once per list
/// of laws for the whole process; `None` where a term is a law the grid does not take.
pub fn sum(terms: &[Mix]) -> Option<Arc<Quantiles>> {
    cached_quantiles(format!("sum {terms:?}"), || {
        sum::quantiles(terms).map(|(q, _)| q)
    })
}

/// Quantiles of `law` as `solve` finds them, cached by what and the law's description: the
/// same law always gives the same `Arc`, so tables derived from it can be keyed by it.
fn law_quantiles(
    what: &str,
    law: &Mix,
    solve: fn(&Mix) -> Option<Quantiles>,
) -> Option<Arc<Quantiles>> {
    cached_quantiles(format!("{what} {law:?}"), || solve(law))
}

/// Quantiles as `solve` finds them, cached by `key`.
fn cached_quantiles(
    key: String,
    solve: impl FnOnce() -> Option<Quantiles>,
) -> Option<Arc<Quantiles>> {
    type Cache = Mutex<Option<HashMap<String, Arc<Quantiles>>>>;
    static CACHE: Cache = Mutex::new(None);
    if let Some(q) = lock(&CACHE).get_or_insert_default().get(&key) {
        return Some(q.clone());
    }
    let q = Arc::new(solve()?);
    // Another thread may have solved it meanwhile: keep the first, so equal laws share one.
    Some(
        lock(&CACHE)
            .get_or_insert_default()
            .entry(key)
            .or_insert(q)
            .clone(),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tables of `Q(U(k:l))` of one base's quantiles, keyed by the base's address, l and k, with
/// the base itself: the cache holds it, so an address is never reused for other quantiles
/// while cached.
type TableCache<T> = Mutex<Option<HashMap<(usize, u32, u32), (Arc<Quantiles>, T)>>>;

/// The table of `(base, l, k)` from `cache`, built by `build` the first time; past `most`
/// tables the cache starts afresh (a table is a function of its key, so rebuilding one
/// changes no result).
fn cached_table<T: Clone>(
    cache: &TableCache<T>,
    most: usize,
    base: &Arc<Quantiles>,
    l: u32,
    k: u32,
    build: impl FnOnce() -> T,
) -> T {
    let key = (Arc::as_ptr(base) as usize, l, k);
    if let Some((_, table)) = lock(cache).get_or_insert_default().get(&key) {
        return table.clone();
    }
    // Built outside the lock: another thread may build the same table meanwhile, and the
    // first one in is kept.
    let table = build();
    let mut cache = lock(cache);
    let cache = cache.get_or_insert_default();
    if cache.len() >= most {
        cache.clear();
    }
    cache.entry(key).or_insert((base.clone(), table)).1.clone()
}

/// The table of `Q(U(k:l))` for the quantiles `base`, built once and shared by every cell
/// that needs it: a cell's tables depend on its delay law, k and l, not on its crash or loss
/// rates, so most cells of a wide sweep find theirs built. At most 1024 are kept (64 KiB
/// each).
fn shared_table(base: &Arc<Quantiles>, l: u32, k: u32) -> QuantileTable {
    static CACHE: TableCache<QuantileTable> = Mutex::new(None);
    cached_table(&CACHE, 1024, base, l, k, || {
        QuantileTable::new(|tail| base.at(uniform::order_quantile(l, k, tail).tail()))
    })
}

/// [`shared_table`] for a law with atoms ([`StepTable`]); at most 256 are kept (about
/// 270 KiB each).
fn shared_step_table(base: &Arc<Quantiles>, steps: &Arc<Steps>, l: u32, k: u32) -> StepTable {
    static CACHE: TableCache<StepTable> = Mutex::new(None);
    cached_table(&CACHE, 256, base, l, k, || {
        StepTable::new(steps.clone(), |tail| uniform::order_quantile(l, k, tail))
    })
}

/// A discrete distribution sampled by one 64-bit draw: outcomes in decreasing probability,
/// so that the scan usually stops at the first.
///
/// ```
/// use coordsim::order::Outcomes;
/// let coin = Outcomes::new(vec![(0.25, 'h'), (0.75, 't')]);
/// assert_eq!(coin.sample(0), 't');
/// assert_eq!(coin.sample(u64::MAX), 'h');
/// // A draw a third of the way into the first outcome leaves a third of the range.
/// let (t, rest) = coin.sample_reusing(u64::MAX / 4);
/// assert_eq!(t, 't');
/// assert!((rest.unwrap() as f64 / u64::MAX as f64 - 1.0 / 3.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone)]
pub struct Outcomes<T> {
    thresholds: Vec<u64>,
    values: Vec<T>,
    /// Draws below this reuse their rest (see [`Outcomes::sample_reusing`]): the first
    /// threshold when the first outcome is more likely than not, else 0 (none).
    reuse_below: u64,
    /// `2^128 / t - 2^64` for that threshold t, which stretches a draw below t back over the
    /// whole 64-bit range.
    stretch: u64,
    /// `values[0]`, the most likely outcome.
    first: T,
}

impl<T: Copy> Outcomes<T> {
    /// Outcomes with their probabilities (summing to 1). Outcomes below 2^-64, which one
    /// 64-bit draw cannot resolve, are dropped.
    ///
    /// # Panics
    /// If no outcome is left.
    pub fn new(mut items: Vec<(f64, T)>) -> Self {
        items.retain(|(p, _)| *p >= 1.0 / 18_446_744_073_709_551_616.0);
        items.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = items.iter().map(|(p, _)| p).sum();
        let mut cumulative = 0.0;
        let mut thresholds = Vec::with_capacity(items.len());
        for (p, _) in &items {
            cumulative += p / total;
            thresholds
                .push((cumulative * 18_446_744_073_709_551_616.0).min(u64::MAX as f64) as u64);
        }
        if let Some(last) = thresholds.last_mut() {
            *last = u64::MAX;
        }
        let (reuse_below, stretch) = match thresholds.as_slice() {
            [first, _, ..] if *first >= 1 << 63 => (
                *first,
                (u128::MAX / u128::from(*first) - (1u128 << 64)) as u64,
            ),
            _ => (0, 0),
        };
        let values: Vec<T> = items.into_iter().map(|(_, v)| v).collect();
        Self {
            thresholds,
            first: *values.first().expect("probabilities summing to 1"),
            values,
            reuse_below,
            stretch,
        }
    }

    /// The outcome of the uniform draw `x` and, when it is the first (most likely) outcome,
    /// a fresh uniform 64-bit value made from what is left of `x`: given the outcome, `x` is
    /// uniform below the first threshold t, and `x 2^64 / t` is uniform over the 64-bit range
    /// (to 64-bit resolution) and independent of the outcome. It saves a draw in most trials.
    #[inline(always)]
    pub fn sample_reusing(&self, x: u64) -> (T, Option<u64>) {
        if x < self.reuse_below {
            let rest = x + ((u128::from(x) * u128::from(self.stretch)) >> 64) as u64;
            return (self.first, Some(rest));
        }
        (self.sample(x), None)
    }

    /// How many outcomes are possible.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if none is (never: probabilities sum to 1).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The outcome of the uniform draw `x`.
    #[inline(always)]
    pub fn sample(&self, x: u64) -> T {
        // The last threshold is u64::MAX, so the scan stops within the slice (and at its end
        // for x = u64::MAX).
        let i = self
            .thresholds
            .iter()
            .position(|&t| x < t)
            .unwrap_or(self.values.len() - 1);
        self.values[i]
    }
}

/// `P(Bin(n, p) = j)` for every j, in log space so that tiny terms stay exact.
pub fn binomial_pmf(n: u32, p: f64) -> Vec<f64> {
    if p <= 0.0 || p >= 1.0 {
        let mut pmf = vec![0.0; n as usize + 1];
        pmf[if p >= 1.0 { n as usize } else { 0 }] = 1.0;
        return pmf;
    }
    let (ln_p, ln_q) = (p.ln(), (-p).ln_1p());
    let mut ln_choose = 0.0;
    (0..=n)
        .map(|j| {
            if j > 0 {
                ln_choose += f64::from(n - j + 1).ln() - f64::from(j).ln();
            }
            (ln_choose + f64::from(j) * ln_p + f64::from(n - j) * ln_q).exp()
        })
        .collect()
}

/// Most trials whose binomial count is drawn as that many Bernoulli draws: up to here they
/// cost less than setting up `rand_distr`'s sampler, which takes a `pow` on every call.
const BERNOULLI_SUM_MAX: u64 = 16;

/// A binomial draw: the sum of n Bernoulli draws for small n, `rand_distr`'s exact sampler
/// (inversion for small means, BTPE beyond) otherwise.
#[inline]
pub fn binomial(rng: &mut SimRng, n: u64, p: f64) -> u64 {
    if p <= 0.0 || n == 0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if n <= BERNOULLI_SUM_MAX {
        let chance = Chance::new(p).expect("a probability");
        return (0..n).map(|_| u64::from(chance.happens(rng))).sum();
    }
    Binomial::new(n, p).expect("a probability").sample(rng)
}

/// Which of L draws to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// The k-th smallest.
    Kth(u32),
    /// The largest.
    Max,
}

impl Rank {
    fn k(self, l: u64) -> u64 {
        match self {
            Rank::Kth(k) => k.into(),
            Rank::Max => l,
        }
    }
}

/// The k-th smallest (or the largest) of L independent draws from one distribution, for L
/// that vary from trial to trial: tabulated for the likely L, a Beta draw for the others.
#[derive(Debug, Clone)]
pub struct OrderStatistic {
    base: Arc<Quantiles>,
    rank: Rank,
    tables: Vec<Option<QuantileTable>>,
    /// The tables of a law with atoms (then `tables` is empty).
    step_tables: Vec<Option<StepTable>>,
}

/// Most tables one sampler builds.
const MAX_TABLES: usize = 16;

impl OrderStatistic {
    /// Draws from `base`, ranked by `rank`; `likely` lists the L worth a table, most likely
    /// first.
    pub fn new(base: Arc<Quantiles>, rank: Rank, likely: &[u32]) -> Self {
        let mut tables: Vec<Option<QuantileTable>> = Vec::new();
        let mut step_tables: Vec<Option<StepTable>> = Vec::new();
        for &l in likely.iter().take(MAX_TABLES) {
            let k = rank.k(l.into()) as u32;
            if l == 0 || k > l || matches!(*base, Quantiles::Point(_)) {
                continue;
            }
            if let Quantiles::Steps(steps) = &*base {
                let table = shared_step_table(&base, steps, l, k);
                if let Some(plain) = table.to_plain() {
                    // Every value interpolates: the plain table's faster path.
                    if tables.len() <= l as usize {
                        tables.resize(l as usize + 1, None);
                    }
                    tables[l as usize] = Some(plain);
                } else {
                    if step_tables.len() <= l as usize {
                        step_tables.resize(l as usize + 1, None);
                    }
                    step_tables[l as usize] = Some(table);
                }
                continue;
            }
            if tables.len() <= l as usize {
                tables.resize(l as usize + 1, None);
            }
            tables[l as usize] = Some(shared_table(&base, l, k));
        }
        Self {
            base,
            rank,
            tables,
            step_tables,
        }
    }

    /// The ranked draw among `l` (at least the rank's k; for the maximum, 0 draws give 0).
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng, l: u64) -> f64 {
        self.sample_with(None, rng, l)
    }

    /// [`OrderStatistic::sample`], taking the table's draw from `fresh` when given (a uniform
    /// 64-bit value no other draw depends on).
    #[inline(always)]
    pub fn sample_with(&self, fresh: Option<u64>, rng: &mut SimRng, l: u64) -> f64 {
        // Tables first: there are none for l = 0 or a point.
        if let Some(Some(table)) = self.tables.get(l as usize) {
            return table.sample(fresh.unwrap_or_else(|| rng.next_u64()));
        }
        if l == 0 {
            return 0.0;
        }
        if let Quantiles::Point(x) = *self.base {
            return x;
        }
        if let Some(Some(table)) = self.step_tables.get(l as usize) {
            return table.sample(fresh.unwrap_or_else(|| rng.next_u64()));
        }
        self.base
            .at(uniform::sample_order(rng, l, self.rank.k(l)).tail())
    }
}

/// The values of `pmf` with probability at least `floor`, most likely first.
pub fn likely(pmf: &[f64], floor: f64) -> Vec<u32> {
    let mut values: Vec<(f64, u32)> = pmf
        .iter()
        .enumerate()
        .filter(|(_, p)| **p >= floor)
        .map(|(j, p)| (*p, j as u32))
        .collect();
    values.sort_by(|a, b| b.0.total_cmp(&a.0));
    values.into_iter().map(|(_, j)| j).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laws_of_many_continuous_terms_are_not_tabulated() {
        let mixture = |terms: usize, constant: bool| {
            let mut parts: Vec<String> = (0..terms)
                .map(|i| {
                    format!(
                        "{{ weight = 0.25, of = {{ kind = \"exponential\", mean_ms = {} }} }}",
                        i + 1
                    )
                })
                .collect();
            if constant {
                parts.push("{ weight = 0.25, of = { kind = \"constant\", ms = 1 } }".into());
            }
            let text = format!("kind = \"mixture\"\ncomponents = [{}]", parts.join(", "));
            crate::latency::tests::parse(
                &text.replace("0.25", &(1.0 / parts.len() as f64).to_string()),
            )
            .unwrap()
            .law()
            .unwrap()
        };
        assert!(tabulates(&mixture(MAX_CONVOLVED_TERMS, false)));
        assert!(!tabulates(&mixture(MAX_CONVOLVED_TERMS + 1, false)));
        assert!(tabulates(&mixture(MAX_CONVOLVED_TERMS - 1, true)));
        assert!(!tabulates(&mixture(MAX_CONVOLVED_TERMS + 1, true)));
    }

    #[test]
    fn binomial_draws_follow_the_pmf_on_both_sides_of_the_bernoulli_sum() {
        // Each count's frequency against its probability, at 5 sigma, for n drawn as a sum
        // of Bernoulli draws (up to BERNOULLI_SUM_MAX) and by rand_distr (beyond).
        let mut rng = crate::rng::stream(12, 0, 0);
        let draws = 100_000;
        for n in [1u32, 5, 16, 17, 40] {
            for p in [0.03, 0.5, 0.97] {
                let mut counts = vec![0u64; n as usize + 1];
                for _ in 0..draws {
                    counts[binomial(&mut rng, n.into(), p) as usize] += 1;
                }
                for (j, q) in binomial_pmf(n, p).into_iter().enumerate() {
                    crate::model::stats::assert_rate(counts[j], draws, q);
                }
            }
        }
    }

    // The sizes above straddle the switch between the two ways of drawing.
    const _: () = assert!(BERNOULLI_SUM_MAX == 16);

    #[test]
    fn the_reused_draw_is_uniform() {
        // Outcome 0 with probability 0.9: the stretched rest must be uniform on the 64-bit
        // range. Check the fraction below several points at 5 sigma.
        let outcomes = Outcomes::new(vec![(0.9, 0u8), (0.06, 1), (0.04, 2)]);
        let mut rng = crate::rng::stream(6, 0, 0);
        let mut rests = Vec::new();
        let mut counts = [0u64; 3];
        for _ in 0..400_000 {
            let (v, rest) = outcomes.sample_reusing(rng.next_u64());
            counts[v as usize] += 1;
            assert_eq!(rest.is_some(), v == 0);
            rests.extend(rest);
        }
        crate::model::stats::assert_rate(counts[0], 400_000, 0.9);
        crate::model::stats::assert_rate(counts[2], 400_000, 0.04);
        let n = rests.len() as u64;
        for q in [1e-3, 0.1, 0.5, 0.77, 0.999] {
            let below = rests
                .iter()
                .filter(|&&r| (r as f64) < q * 2f64.powi(64))
                .count();
            crate::model::stats::assert_rate(below as u64, n, q);
        }
    }
}
