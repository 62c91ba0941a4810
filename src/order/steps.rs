//! Quantile functions of delay laws with atoms: constants in a mixture, empirical samples, and
//! their round trips.
//!
//! For any law with CDF F, the generalized inverse `Q(u) = inf {x : F(x) >= u}` maps a
//! uniform draw to a draw of the law, atoms included: Q is flat over `(F(a-), F(a)]` for an
//! atom a and jumps across a gap of the support. So `Q(U(k:L))` is the k-th smallest of L
//! draws for these laws too, and [`Steps`] is Q: the law's values in increasing order, each
//! with the probability at or below it and above it.

use super::grid;
use super::quantiles::{Knots, Quantiles, Tail, Tails};
use super::round_trip::RoundTrip;
use crate::latency::{Latency, Law, Mix, Part};

/// Most distinct values (or atoms beside a continuous part) whose round trips are summed pair
/// by pair, exactly: about half a million pairs. Beyond, the round trip is computed on a grid
/// ([`grid`]).
pub const EXACT: usize = 1024;

/// How far, relative, a table may interpolate between the values of a round trip computed on
/// the grid: half as far as the grid itself may be off ([`grid::RELATIVE_ERROR`]), so that a
/// value drawn is within 1.5 2^-12 (3.7e-4) of the exact sums, finer than the histograms'
/// 3 significant digits (buckets 1/2048 to 1/1024 wide, relative).
pub const GRID_TOLERANCE: f64 = grid::RELATIVE_ERROR / 2.0;

/// One piece of a law, in increasing order of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item {
    /// `count` equally likely consecutive integers (ns) from `low`: an atom if `count` is 1.
    Run {
        /// The first value.
        low: f64,
        /// How many.
        count: u64,
    },
    /// The continuous part of the law between two runs (or beyond the first or last):
    /// values in `[low, high]`, with `atoms_below` and `atoms_above` the probability of the
    /// runs below and above it.
    Stretch {
        /// Where it starts.
        low: f64,
        /// Where it ends.
        high: f64,
        /// The probability of the runs below.
        atoms_below: f64,
        /// The probability of the runs above.
        atoms_above: f64,
    },
}

/// A run of a law: `(low, count, probability)`, `count` equally likely integers from `low`.
pub type Run = (f64, u64, f64);

/// The quantile function of a law with atoms: its pieces in increasing order, each with the
/// probability at or below its end and above it (summed from either side, so that each stays
/// exact where it is small), and the quantiles of its continuous part, if it has one.
#[derive(Debug, Clone)]
pub struct Steps {
    items: Vec<Item>,
    /// `P(X <= end of item i)`.
    below: Vec<f64>,
    /// `P(X > end of item i)`.
    above: Vec<f64>,
    /// The continuous part: its probability and its own quantiles.
    continuous: Option<(f64, Quantiles)>,
    /// How far (relative) a table may interpolate between values: 0 where the values are
    /// exact, the grid's error for a round trip computed on one.
    tolerance: f64,
}

/// A law split into runs (sorted, disjoint) and a continuous part (its probability, and its
/// terms with weights summing to 1).
struct Decomposed {
    runs: Vec<Run>,
    continuous: Option<(f64, Mix)>,
}

/// True if [`Steps::one_way`] and [`Steps::round_trip`] handle `law` (and it is neither
/// continuous nor a point, which have their own quantiles): any mixture of constants,
/// empirical samples (an HdrHistogram log alone, its buckets being ranges) and continuous
/// models, except empirical samples beside continuous models, or more than [`EXACT`]
/// constants beside them. Cheap: it reads only the law's terms.
pub fn supports(law: &Mix) -> bool {
    if law.is_continuous() || law.point().is_some() {
        return false;
    }
    let parts = law.parts();
    fn empirical(p: &Part) -> Option<&crate::latency::Empirical> {
        match &p.base {
            Latency::Empirical(e) => Some(e),
            _ => None,
        }
    }
    let has_empirical = parts.iter().any(|p| empirical(p).is_some());
    let has_continuous = parts.iter().any(Part::is_continuous);
    let has_ranges = parts.iter().filter_map(empirical).any(|e| !e.is_sample());
    // Beside a continuous part, every pair of atoms is summed: at most EXACT of them.
    let points = parts.iter().filter(|p| p.point().is_some()).count();
    !(has_empirical && has_continuous)
        && (!has_ranges || parts.len() == 1)
        && (!has_continuous || points <= EXACT)
}

fn decompose(law: &Mix) -> Option<Decomposed> {
    let mut runs: Vec<Run> = Vec::new();
    let mut continuous: Vec<Part> = Vec::new();
    for part in law.parts() {
        if let Some(x) = part.point() {
            runs.push((x, 1, part.weight));
        } else if let Latency::Empirical(e) = &part.base {
            let total = e.samples() as f64;
            for (low, high, count) in e.runs() {
                runs.push((
                    part.shift + low as f64,
                    high - low + 1,
                    part.weight * count as f64 / total,
                ));
            }
        } else {
            continuous.push(part.clone());
        }
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        match merged.last_mut() {
            Some(last) if last.1 == 1 && run.1 == 1 && last.0 == run.0 => last.2 += run.2,
            Some(last) if last.0 + (last.1 - 1) as f64 >= run.0 => return None,
            _ => merged.push(run),
        }
    }
    if !continuous.is_empty() && merged.iter().any(|r| r.1 > 1) {
        return None;
    }
    let weight: f64 = continuous.iter().map(|p| p.weight).sum();
    let continuous = (!continuous.is_empty()).then(|| {
        let parts = continuous
            .into_iter()
            .map(|p| Part {
                weight: p.weight / weight,
                ..p
            })
            .collect();
        (weight, Mix::from_parts(parts))
    });
    Some(Decomposed {
        runs: merged,
        continuous,
    })
}

/// The continuous part of a law as the pieces between its runs need it.
struct Continuous<'a> {
    weight: f64,
    tails: &'a dyn Tails,
    quantiles: Quantiles,
}

impl Steps {
    /// The quantiles of a one-way delay drawn from `law`, or `None` where [`supports`] says
    /// no.
    pub fn one_way(law: &Mix) -> Option<Self> {
        let Decomposed { runs, continuous } = decompose(law)?;
        Some(match continuous {
            None => Self::new(runs, None, 0.0),
            Some((weight, mix)) => {
                let quantiles = Quantiles::of(&mix)?;
                let continuous = Continuous {
                    weight,
                    tails: &mix,
                    quantiles,
                };
                Self::new(runs, Some(continuous), 0.0)
            }
        })
    }

    /// The quantiles of a round trip, the sum of two independent one-way delays drawn from
    /// `law`, or `None` where [`supports`] says no.
    ///
    /// Atoms a and b make an atom at a + b, exactly. A law of runs alone with at most
    /// [`EXACT`] values has its round trip summed pair by pair; a larger one (an empirical
    /// sample of many distinct values) is convolved on a grid ([`grid::round_trip`]), its
    /// values within [`grid::RELATIVE_ERROR`] of the exact sums and its heaviest atoms exact.
    /// Beside a continuous part C of probability c, the round trip's continuous part is
    /// `c^2 (C + C) + 2 c Σ p_a (a + C)`, solved at knots as continuous laws are.
    pub fn round_trip(law: &Mix) -> Option<Self> {
        let Decomposed { runs, continuous } = decompose(law)?;
        match continuous {
            None => {
                let values: u64 = runs.iter().map(|r| r.1).sum();
                if values as usize <= EXACT {
                    let atoms: Vec<Run> = runs
                        .iter()
                        .flat_map(|&(low, count, p)| {
                            (0..count).map(move |i| (low + i as f64, 1, p / count as f64))
                        })
                        .collect();
                    Some(Self::new(pair_sums(&atoms), None, 0.0))
                } else {
                    let atoms = grid::round_trip(&runs)
                        .into_iter()
                        .map(|(x, p)| (x, 1, p))
                        .collect();
                    Some(Self::new(atoms, None, GRID_TOLERANCE))
                }
            }
            Some((weight, mix)) => {
                if runs.len() > EXACT {
                    return None;
                }
                let tails = MixedRoundTrip {
                    atoms: runs.iter().map(|r| (r.0, r.2)).collect(),
                    weight,
                    both: RoundTrip::new(mix.clone()),
                    one: mix,
                };
                let quantiles = Quantiles::Knots(Knots::solve(&tails));
                let continuous = Continuous {
                    weight: tails.total(),
                    tails: &tails,
                    quantiles,
                };
                Some(Self::new(pair_sums(&runs), Some(continuous), 0.0))
            }
        }
    }

    /// Steps from sorted disjoint runs and the continuous part, if any, whose probability is
    /// what the runs leave.
    fn new(runs: Vec<Run>, continuous: Option<Continuous<'_>>, tolerance: f64) -> Self {
        let mut items = Vec::with_capacity(runs.len() + 1);
        let mut masses = Vec::with_capacity(runs.len() + 1);
        let atoms_total: f64 = runs.iter().map(|r| r.2).sum();
        let mut atoms_below = 0.0;
        // The continuous part's probability between the previous run's end and x.
        let stretch = |from: f64, to: f64, c: &Continuous| -> f64 {
            let (lo, _) = c.tails.cdf_pdf(from);
            let (hi, _) = c.tails.cdf_pdf(to);
            let by_cdf = hi - lo;
            let by_sf = c.tails.sf_pdf(from).0 - c.tails.sf_pdf(to).0;
            c.weight * if lo < 0.5 { by_cdf } else { by_sf }
        };
        let mut previous_end = f64::NEG_INFINITY;
        for &(low, count, p) in &runs {
            if let Some(c) = &continuous {
                let mass = stretch(previous_end.max(c.tails.lower_bound()), low, c);
                if mass > 0.0 {
                    items.push(Item::Stretch {
                        low: previous_end.max(c.tails.lower_bound()),
                        high: low,
                        atoms_below,
                        atoms_above: atoms_total - atoms_below,
                    });
                    masses.push(mass);
                }
            }
            items.push(Item::Run { low, count });
            masses.push(p);
            atoms_below += p;
            previous_end = low + (count - 1) as f64;
        }
        if let Some(c) = &continuous {
            let from = previous_end.max(c.tails.lower_bound());
            let mass = c.weight * c.tails.sf_pdf(from).0;
            if mass > 0.0 {
                items.push(Item::Stretch {
                    low: from,
                    high: f64::INFINITY,
                    atoms_below: atoms_total,
                    atoms_above: 0.0,
                });
                masses.push(mass);
            }
        }
        let total: f64 = masses.iter().sum();
        for item in &mut items {
            if let Item::Stretch {
                atoms_below,
                atoms_above,
                ..
            } = item
            {
                *atoms_below /= total;
                *atoms_above /= total;
            }
        }
        let mut below = Vec::with_capacity(masses.len());
        let mut sum = 0.0;
        for m in &masses {
            sum += m / total;
            below.push(sum);
        }
        let mut above = vec![0.0; masses.len()];
        let mut sum = 0.0;
        for i in (0..masses.len()).rev() {
            above[i] = sum;
            sum += masses[i] / total;
        }
        Self {
            items,
            below,
            above,
            continuous: continuous.map(|c| (c.weight / total, c.quantiles)),
            tolerance,
        }
    }

    /// The pieces, in increasing order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How far (relative) a table may interpolate between values.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// The index of the piece holding the quantile at `tail`.
    #[inline]
    pub fn index(&self, tail: Tail) -> usize {
        self.index_between(tail, 0, self.items.len() - 1)
    }

    /// [`Steps::index`], known to lie in `lo..=hi`.
    #[inline]
    pub fn index_between(&self, tail: Tail, lo: usize, hi: usize) -> usize {
        let i = if tail.upper {
            lo + self.above[lo..hi].partition_point(|&a| a > tail.p)
        } else {
            lo + self.below[lo..hi].partition_point(|&b| b < tail.p)
        };
        i.min(hi)
    }

    /// `Q` at `tail`.
    #[inline]
    pub fn at(&self, tail: Tail) -> f64 {
        let tail = tail.smaller();
        self.within(self.index(tail), tail)
    }

    /// `Q` at `tail`, known to lie in pieces `lo..=hi`.
    #[inline]
    pub fn at_between(&self, tail: Tail, lo: usize, hi: usize) -> f64 {
        self.within(self.index_between(tail, lo, hi), tail)
    }

    /// The probability at or below the end of piece `i` (lower), or above it (upper).
    pub fn cumulative(&self, i: usize, upper: bool) -> f64 {
        if upper { self.above[i] } else { self.below[i] }
    }

    /// `Q` at `tail`, which falls in piece `i`.
    #[inline]
    pub fn within(&self, i: usize, tail: Tail) -> f64 {
        match self.items[i] {
            Item::Run { low, count: 1 } => low,
            Item::Run { low, count } => {
                let n = count as f64;
                if tail.upper {
                    let mass = if i == 0 { 1.0 } else { self.above[i - 1] } - self.above[i];
                    let j = ((tail.p - self.above[i]) / mass * n).floor();
                    low + (n - 1.0 - j.clamp(0.0, n - 1.0))
                } else {
                    let before = if i == 0 { 0.0 } else { self.below[i - 1] };
                    let mass = self.below[i] - before;
                    let k = ((tail.p - before) / mass * n).ceil();
                    low + (k.clamp(1.0, n) - 1.0)
                }
            }
            Item::Stretch {
                low,
                high,
                atoms_below,
                atoms_above,
            } => {
                let (weight, quantiles) = self.continuous.as_ref().expect("a continuous part");
                let p = if tail.upper {
                    (tail.p - atoms_above) / weight
                } else {
                    (tail.p - atoms_below) / weight
                };
                let p = p.clamp(f64::MIN_POSITIVE, 1.0);
                quantiles
                    .at(Tail {
                        upper: tail.upper,
                        p,
                    })
                    .clamp(low, high)
            }
        }
    }
}

/// All sums of two atoms of `atoms`, with their probabilities, merged where equal.
fn pair_sums(atoms: &[Run]) -> Vec<Run> {
    let mut sums = Vec::with_capacity(atoms.len() * (atoms.len() + 1) / 2);
    for (i, a) in atoms.iter().enumerate() {
        sums.push((2.0 * a.0, 1, a.2 * a.2));
        for b in &atoms[i + 1..] {
            sums.push((a.0 + b.0, 1, 2.0 * a.2 * b.2));
        }
    }
    sums.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<Run> = Vec::with_capacity(sums.len());
    for s in sums {
        match merged.last_mut() {
            Some(last) if last.0 == s.0 => last.2 += s.2,
            _ => merged.push(s),
        }
    }
    merged
}

/// The continuous part of the round trip of atoms `a` (probabilities `p_a`) beside a
/// continuous part C of probability c: `c^2 (C + C) + 2 c Σ p_a (a + C)`, normalized.
struct MixedRoundTrip {
    atoms: Vec<(f64, f64)>,
    weight: f64,
    both: RoundTrip,
    one: Mix,
}

impl MixedRoundTrip {
    /// The probability of the part: `c^2 + 2 c Σ p_a`.
    fn total(&self) -> f64 {
        let a: f64 = self.atoms.iter().map(|x| x.1).sum();
        self.weight * self.weight + 2.0 * self.weight * a
    }

    fn combine(&self, x: f64, upper: bool) -> (f64, f64) {
        let c = self.weight;
        let (t, d) = if upper {
            self.both.sf_pdf(x)
        } else {
            self.both.cdf_pdf(x)
        };
        let (mut tail, mut density) = (c * c * t, c * c * d);
        for &(a, p) in &self.atoms {
            let (t, d) = if upper {
                self.one.sf_pdf(x - a)
            } else {
                self.one.cdf_pdf(x - a)
            };
            tail += 2.0 * c * p * t;
            density += 2.0 * c * p * d;
        }
        let total = self.total();
        (tail / total, density / total)
    }
}

impl Tails for MixedRoundTrip {
    fn lower_bound(&self) -> f64 {
        let lo = self.one.support().0;
        self.atoms.iter().map(|a| a.0 + lo).fold(2.0 * lo, f64::min)
    }

    fn middle(&self) -> f64 {
        // Bisection on the CDF: a start for the knots' solver, once.
        let (mut lo, mut hi) = (self.lower_bound(), self.lower_bound().max(1.0));
        while self.combine(hi, false).0 < 0.5 && hi < 1e30 {
            hi *= 2.0;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.combine(mid, false).0 < 0.5 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    fn cdf_pdf(&self, x: f64) -> (f64, f64) {
        self.combine(x, false)
    }

    fn sf_pdf(&self, x: f64) -> (f64, f64) {
        self.combine(x, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::tests::parse;

    fn law(text: &str) -> Mix {
        parse(text).unwrap().law().unwrap()
    }

    const TAIL_AT_SCALE: &str = "kind = \"mixture\"\ncomponents = [\n\
         { weight = 0.99, of = { kind = \"constant\", ms = 1 } },\n\
         { weight = 0.01, of = { kind = \"constant\", ms = 1000 } },\n]";

    #[test]
    fn constants_are_flat_runs_of_the_quantile_function() {
        let q = Steps::one_way(&law(TAIL_AT_SCALE)).unwrap();
        assert_eq!(q.at(Tail::lower(1e-9)), 1e6);
        assert_eq!(q.at(Tail::upper(0.0101)), 1e6);
        assert_eq!(q.at(Tail::upper(0.0099)), 1e9);
        assert_eq!(q.at(Tail::upper(1e-300)), 1e9);
        // Round trips: 2 ms with 0.99^2, 1001 ms with 2 0.99 0.01, 2000 ms with 0.01^2.
        let rt = Steps::round_trip(&law(TAIL_AT_SCALE)).unwrap();
        assert_eq!(rt.items().len(), 3);
        assert_eq!(rt.at(Tail::upper(0.01985)), 1.001e9);
        assert_eq!(rt.at(Tail::upper(0.0197)), 1.001e9);
        assert_eq!(rt.at(Tail::upper(0.0201)), 2e6);
        assert_eq!(rt.at(Tail::upper(0.00011)), 1.001e9);
        assert_eq!(rt.at(Tail::upper(0.00009)), 2e9);
        assert!((rt.cumulative(0, false) - 0.9801).abs() < 1e-15);
        assert!((rt.cumulative(1, true) - 1e-4).abs() < 1e-18);
    }

    #[test]
    fn atoms_beside_a_continuous_part() {
        // Half the mass at 1 ms, half exponential with mean 1 ms: F(x) = 0.5 (1 - e^-x) for
        // x < 1 ms, plus 0.5 from 1 ms on.
        let mixed = law("kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.5, of = { kind = \"exponential\", mean_ms = 1 } },\n]");
        let q = Steps::one_way(&mixed).unwrap();
        let below = 0.5 * (1.0 - (-1f64).exp());
        assert_eq!(q.at(Tail::lower(below + 1e-9)), 1e6);
        assert_eq!(q.at(Tail::upper(0.5 * (-1f64).exp() + 1e-9)), 1e6);
        for p in [1e-12, 0.1, below - 1e-6] {
            let x = q.at(Tail::lower(p));
            assert!(
                (-0.5 * (-x / 1e6).exp_m1() / p - 1.0).abs() < 1e-7,
                "{p}: {x}"
            );
        }
        for p in [1e-15, 1e-3, 0.1] {
            let x = q.at(Tail::upper(p));
            assert!((0.5 * (-x / 1e6).exp() / p - 1.0).abs() < 1e-7, "{p}: {x}");
        }
        // The round trip: an atom at 2 ms of 1/4, and continuous parts.
        let rt = Steps::round_trip(&mixed).unwrap();
        let atom = rt
            .items()
            .iter()
            .position(|i| *i == Item::Run { low: 2e6, count: 1 })
            .unwrap();
        let mass = rt.cumulative(atom, false) - rt.cumulative(atom - 1, false);
        assert!((mass - 0.25).abs() < 1e-9, "{mass}");
        // P(X + Y <= 2 ms) = 1/4 (atom) + 2 (1/2)(1/2) P(E <= 1 ms) + 1/4 P(E1 + E2 <= 2 ms).
        let expected = 0.25 + 0.5 * (1.0 - (-1f64).exp()) + 0.25 * (1.0 - 3.0 * (-2f64).exp());
        assert!((rt.cumulative(atom, false) - expected).abs() < 1e-9);
    }

    #[test]
    fn empirical_quantiles_are_the_sorted_sample() {
        let e = crate::latency::Empirical::from_values_ms(&[3.0, 1.0, 2.0, 2.0]).unwrap();
        let q = Steps::one_way(&Latency::from(e).law().unwrap()).unwrap();
        assert_eq!(q.items().len(), 3);
        for (u, x) in [
            (0.1, 1e6),
            (0.25, 1e6),
            (0.26, 2e6),
            (0.75, 2e6),
            (0.76, 3e6),
        ] {
            let tail = if u <= 0.5 {
                Tail::lower(u)
            } else {
                Tail::upper(1.0 - u)
            };
            assert_eq!(q.at(tail), x, "{u}");
        }
    }

    #[test]
    fn small_round_trips_are_summed_pair_by_pair() {
        let e = crate::latency::Empirical::from_values_ms(&[1.0, 2.0, 2.0, 5.0]).unwrap();
        let rt = Steps::round_trip(&Latency::from(e).law().unwrap()).unwrap();
        // Sums: 2 (1/16), 3 (4/16), 4 (4/16), 6 (2/16), 7 (4/16), 10 (1/16).
        let values: Vec<f64> = rt
            .items()
            .iter()
            .map(|i| match i {
                Item::Run { low, .. } => *low / 1e6,
                Item::Stretch { .. } => f64::NAN,
            })
            .collect();
        assert_eq!(values, [2.0, 3.0, 4.0, 6.0, 7.0, 10.0]);
        assert!((rt.cumulative(2, false) - 9.0 / 16.0).abs() < 1e-15);
        assert!((rt.cumulative(4, true) - 1.0 / 16.0).abs() < 1e-15);
    }

    #[test]
    fn supported_laws() {
        assert!(supports(&law(TAIL_AT_SCALE)));
        assert!(!supports(&law("kind = \"constant\"\nms = 1")));
        assert!(!supports(&law("kind = \"exponential\"\nmean_ms = 1")));
        let e = crate::latency::Empirical::from_values_ms(&[1.0, 2.0]).unwrap();
        let mixed = Latency::Mixture(
            crate::latency::Mixture::new(vec![
                (0.5, e.clone().into()),
                (0.5, crate::latency::Exponential::new(1.0).unwrap().into()),
            ])
            .unwrap(),
        );
        assert!(!supports(&mixed.law().unwrap()));
        assert!(supports(&Latency::from(e).law().unwrap()));
    }
}
