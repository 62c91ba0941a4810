//! Quantile functions ([`Quantiles`]): a point, a closed form, knots, or the steps of a law
//! with atoms (constants in a mixture, empirical samples, and their round trips); and those
//! of one-way delays ([`Quantiles::of`]).
//!
//! For any law with CDF F, the generalized inverse `Q(u) = inf {x : F(x) >= u}` maps a
//! uniform draw to a draw of the law, atoms included: Q is flat over `(F(a-), F(a)]` for an
//! atom a and jumps across a gap of the support. So `Q(U(k:L))` is the k-th smallest of L
//! draws for these laws too, and [`Steps`] is Q: the law's values in increasing order, each
//! with the probability at or below it and above it.

use std::sync::Arc;

use super::quantiles::{Knots, Tails};
use super::tail::Tail;
use crate::latency::{Latency, Mix, Part};

/// Most distinct values (or atoms beside a continuous part) whose round trips are summed pair
/// by pair, exactly: about half a million pairs. Beyond, the round trip is computed on a grid
/// ([`super::grid`]), a continuous part beside the atoms cut into its cells.
pub const EXACT: usize = 1024;

/// A quantile function: a single point, a closed form, knots, or the steps of a law with
/// atoms.
#[derive(Debug, Clone)]
pub enum Quantiles {
    /// All the mass at one value.
    Point(f64),
    /// A single shifted elementary model, whose quantiles have closed forms.
    Closed(Mix),
    /// Knots solved numerically, interpolated.
    Knots(Knots),
    /// A law with atoms: flat over each atom, exact ([`Steps`]).
    Steps(Arc<Steps>),
}

impl Quantiles {
    /// The quantiles of a one-way delay law: `None` for the few laws [`Steps`] does not
    /// handle (`supports`).
    pub fn of(law: &Mix) -> Option<Self> {
        if let Some(x) = law.point() {
            return Some(Self::Point(x));
        }
        if !law.is_continuous() {
            return Steps::one_way(law).map(|s| Self::Steps(Arc::new(s)));
        }
        Some(if law.parts().len() == 1 {
            Self::Closed(law.clone())
        } else {
            Self::Knots(Knots::solve(law))
        })
    }

    /// The value at `tail`.
    #[inline]
    pub fn at(&self, tail: Tail) -> f64 {
        let tail = tail.smaller();
        match self {
            Self::Point(x) => *x,
            Self::Closed(law) => law
                .closed_quantile(tail.p, tail.upper)
                .expect("a single term"),
            Self::Knots(knots) => knots.at(tail),
            Self::Steps(steps) => steps.at(tail),
        }
    }
}

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
pub(super) struct Decomposed {
    pub(super) runs: Vec<Run>,
    pub(super) continuous: Option<(f64, Mix)>,
}

/// True if [`Steps::one_way`] and [`Steps::round_trip`] handle `law` (and it is neither
/// continuous nor a point, which have their own quantiles): any mixture of constants,
/// empirical samples and continuous models, or an HdrHistogram log alone (its buckets are
/// ranges, which the steps do not interleave with other terms). Cheap: it reads only the
/// law's terms.
pub fn supports(law: &Mix) -> bool {
    if law.is_continuous() || law.point().is_some() {
        return false;
    }
    let parts = law.parts();
    let has_ranges = parts.iter().any(|p| match &p.base {
        Latency::Empirical(e) => !e.is_sample(),
        _ => false,
    });
    !has_ranges || parts.len() == 1
}

pub(super) fn decompose(law: &Mix) -> Option<Decomposed> {
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
pub(super) struct Continuous<'a> {
    pub(super) weight: f64,
    pub(super) tails: &'a dyn Tails,
    pub(super) quantiles: Quantiles,
}

impl Steps {
    /// The quantiles of a one-way delay drawn from `law`, or `None` where `supports` says
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

    /// Steps from sorted disjoint runs and the continuous part, if any, whose probability is
    /// what the runs leave.
    pub(super) fn new(runs: Vec<Run>, continuous: Option<Continuous<'_>>, tolerance: f64) -> Self {
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
        // The last piece first, without a search: the slowest of many draws mostly lies in it
        // (the stretch beyond a sample's largest value, say).
        let i = if tail.upper {
            if hi > lo && self.above[hi - 1] > tail.p {
                hi
            } else {
                lo + self.above[lo..hi].partition_point(|&a| a > tail.p)
            }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::latency::Law;
    use crate::latency::tests::parse;

    fn law(text: &str) -> Mix {
        parse(text).unwrap().law().unwrap()
    }

    pub const TAIL_AT_SCALE: &str = "kind = \"mixture\"\ncomponents = [\n\
         { weight = 0.99, of = { kind = \"constant\", ms = 1 } },\n\
         { weight = 0.01, of = { kind = \"constant\", ms = 1000 } },\n]";

    #[test]
    fn mixtures_invert_their_cdf() {
        let law = parse(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.99, of = { kind = \"lognormal\", median_ms = 1.0, sigma = 0.6 } },\n\
             { weight = 0.01, of = { kind = \"pareto\", scale_ms = 5.0, shape = 2.0 } },\n]",
        )
        .unwrap()
        .law()
        .unwrap();
        let q = Quantiles::of(&law).unwrap();
        for p in [1e-15, 1e-6, 0.01, 0.3, 0.5] {
            let x = q.at(Tail::lower(p));
            assert!((law.cdf(x) / p - 1.0).abs() < 1e-7, "lower {p}: {x}");
            let x = q.at(Tail::upper(p));
            assert!((law.sf(x) / p - 1.0).abs() < 1e-7, "upper {p}: {x}");
        }
    }

    #[test]
    fn points_and_non_continuous_mixtures() {
        let law = parse("kind = \"constant\"\nms = 3").unwrap().law().unwrap();
        assert_eq!(Quantiles::of(&law).unwrap().at(Tail::upper(1e-9)), 3e6);
        let mixed = parse(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.5, of = { kind = \"exponential\", mean_ms = 1 } },\n]",
        )
        .unwrap()
        .law()
        .unwrap();
        let q = Quantiles::of(&mixed).unwrap();
        assert!(matches!(q, Quantiles::Steps(_)));
        // The atom at 1 ms holds u from 0.5 (1 - 1/e) to 0.5 (1 - 1/e) + 0.5.
        assert_eq!(q.at(Tail::lower(0.4)), 1e6);
        assert_eq!(q.at(Tail::upper(0.2)), 1e6);
        assert!(q.at(Tail::upper(0.1)) > 1e6);
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
        assert!(supports(&mixed.law().unwrap()));
        assert!(supports(&Latency::from(e).law().unwrap()));
        // A histogram log's buckets are ranges: alone only.
        let log = crate::protocols::tests::histogram(1_000, 1);
        assert!(supports(&log.law().unwrap()));
        let beside = Latency::Mixture(
            crate::latency::Mixture::new(vec![
                (0.5, log),
                (0.5, crate::latency::Constant::new(1.0).unwrap().into()),
            ])
            .unwrap(),
        );
        assert!(!supports(&beside.law().unwrap()));
    }
}
