//! The distribution of a round trip, the sum of two independent one-way delays, and its
//! quantile function: by convolution for continuous laws ([`RoundTrip`]), atom by atom for
//! laws with atoms ([`Steps::round_trip`]; on a [`grid`] for many values).

use std::sync::Arc;

use super::grid;
use super::quadrature::integrate;
use super::quantiles::{Knots, Tails};
use super::steps::{Continuous, Decomposed, EXACT, Quantiles, Run, Steps, decompose};
use crate::latency::{Latency, Law, Mix};

/// Panel levels of the convolution integrals beyond those that reach down to the terms'
/// own scale at each end of the interval.
const LEVELS: u32 = 24;

/// `X + Y`, with `X` and `Y` independent draws from one continuous delay law.
///
/// `P(X + Y <= x) = Σ_ij w_i w_j ∫ f_i(y) F_j(x - y) dy` over the terms of the law's mixture,
/// each integral by Gauss-Legendre quadrature on panels split where an integrand has a kink
/// (a uniform term's upper end). A single exponential term (shifted or not) has the closed
/// form of a Gamma(2) instead.
///
/// ```
/// use coordsim::latency::{Exponential, Latency};
/// use coordsim::order::RoundTrip;
/// let law = Latency::from(Exponential::new(1.0).unwrap()).law().unwrap();
/// let rtt = RoundTrip::new(law);
/// // Gamma(2, 1 ms): P(X + Y <= 2 ms) = 1 - 3 e^-2.
/// assert!((rtt.cdf(2e6) - (1.0 - 3.0 * (-2f64).exp())).abs() < 1e-14);
/// ```
#[derive(Debug, Clone)]
pub struct RoundTrip {
    law: Mix,
    gamma: Option<(f64, f64)>,
}

impl RoundTrip {
    /// The round trip of one-way delays drawn from `law`.
    pub fn new(law: Mix) -> Self {
        let gamma = match law.parts() {
            [part] => match &part.base {
                Latency::Exponential(e) => Some((2.0 * part.shift, e.mean_ns())),
                _ => None,
            },
            _ => None,
        };
        Self { law, gamma }
    }

    /// P(X + Y <= x).
    pub fn cdf(&self, x: f64) -> f64 {
        self.cdf_pdf(x).0
    }

    /// P(X + Y > x).
    pub fn sf(&self, x: f64) -> f64 {
        self.sf_pdf(x).0
    }

    /// The quantiles of the round trip: for a law with atoms, [`Steps::round_trip`]; `None`
    /// for the few laws it does not handle (`super::steps::supports`).
    pub fn quantiles(law: &Mix) -> Option<Quantiles> {
        if let Some(x) = law.point() {
            return Some(Quantiles::Point(2.0 * x));
        }
        if !law.is_continuous() {
            return Steps::round_trip(law).map(|s| Quantiles::Steps(Arc::new(s)));
        }
        Some(Quantiles::Knots(Knots::solve(&RoundTrip::new(law.clone()))))
    }

    /// `(tail, density)` by convolution, summing `tail(x, a, b)` over pairs of terms.
    fn convolve(&self, x: f64, upper: bool) -> (f64, f64) {
        let (mut tail, mut density) = (0.0, 0.0);
        for a in self.law.parts() {
            for b in self.law.parts() {
                let (t, d) = pair(a, b, x, upper);
                tail += a.weight * b.weight * t;
                density += a.weight * b.weight * d;
            }
        }
        (tail, density)
    }
}

/// `(P(A + B <= x) or P(A + B > x), density of A + B at x)` for one pair of terms.
fn pair(a: &crate::latency::Part, b: &crate::latency::Part, x: f64, upper: bool) -> (f64, f64) {
    let law_a = a.law();
    let law_b = b.law();
    let (a_lo, a_hi) = law_a.support();
    let (b_lo, b_hi) = law_b.support();
    let (a_lo, a_hi) = (a_lo + a.shift, a_hi + a.shift);
    let (b_lo, b_hi) = (b_lo + b.shift, b_hi + b.shift);
    if x <= a_lo + b_lo {
        return (if upper { 1.0 } else { 0.0 }, 0.0);
    }
    // y ranges over A's values with B = x - y at or above its lower bound.
    let end = a_hi.min(x - b_lo);
    // Kinks inside: B's upper end (F_B, f_B bend there), A's own upper end is `end` or beyond.
    // Panels must reach down to the scale on which the terms' densities change, however wide
    // the interval (far in a heavy tail it is many orders of magnitude wider).
    let scale = |law: &dyn Law| law.quantile(0.5) - law.support().0;
    let scale = scale(law_a).min(scale(law_b)).max(f64::MIN_POSITIVE);
    let levels = LEVELS + ((end - a_lo) / scale).log2().clamp(0.0, 200.0) as u32;
    let mut cuts = vec![a_lo];
    if b_hi.is_finite() && x - b_hi > a_lo && x - b_hi < end {
        cuts.push(x - b_hi);
    }
    cuts.push(end);
    let tail_b = |z: f64| if upper { law_b.sf(z) } else { law_b.cdf(z) };
    let (mut tail, mut density) = (0.0, 0.0);
    for w in cuts.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        if hi <= lo {
            continue;
        }
        // The innermost panel at each end, where a density may be infinite (a Weibull term of
        // shape below 1), is integrated against the singular term's distribution instead:
        // ∫ f g ≈ (mass of f there) g(middle), exact as the panel shrinks. Gauss-Legendre on
        // it was off by 1e-3 relative for a Weibull of shape 0.3.
        let cap = (hi - lo) * (-f64::from(levels) - 1.0).exp2();
        let [t, d] = integrate(lo + cap, hi - cap, levels, |y| {
            let fa = law_a.pdf(y - a.shift);
            let z = x - y - b.shift;
            [fa * tail_b(z), fa * law_b.pdf(z)]
        });
        tail += t;
        density += d;
        // A's mass in the lower cap, times B there.
        let mass_a = mass(law_a, lo - a.shift, lo + cap - a.shift);
        let z = x - (lo + 0.5 * cap) - b.shift;
        tail += mass_a * tail_b(z);
        density += mass_a * law_b.pdf(z);
        // The upper cap: B's value x - y is near its own lower end there, where its density
        // may be infinite: A's mass times B's tail, A's density times B's mass.
        let y = hi - 0.5 * cap;
        tail += mass(law_a, hi - cap - a.shift, hi - a.shift) * tail_b(x - y - b.shift);
        density += law_a.pdf(y - a.shift) * mass(law_b, x - hi - b.shift, x - hi + cap - b.shift);
    }
    if upper && end < a_hi {
        // A beyond x - b_lo: B cannot bring the sum back below x.
        tail += law_a.sf(end - a.shift);
    }
    (tail, density)
}

/// P(lo < X <= hi), from whichever tail keeps the difference exact.
fn mass(law: &dyn Law, lo: f64, hi: f64) -> f64 {
    if law.cdf(lo) < 0.5 {
        law.cdf(hi) - law.cdf(lo)
    } else {
        law.sf(lo) - law.sf(hi)
    }
}

impl Tails for RoundTrip {
    fn lower_bound(&self) -> f64 {
        2.0 * self.law.support().0
    }

    fn middle(&self) -> f64 {
        2.0 * self.law.quantile(0.5)
    }

    fn cdf_pdf(&self, x: f64) -> (f64, f64) {
        match self.gamma {
            Some((shift, mean)) => {
                let z = ((x - shift) / mean).max(0.0);
                // 1 - e^-z (1 + z), accurate for small z.
                let cdf = if z < 1e-3 {
                    // The series, free of the cancellation below.
                    z * z * (0.5 - z / 3.0 + z * z / 8.0 - z * z * z / 30.0)
                } else {
                    -(-z).exp_m1() - z * (-z).exp()
                };
                (cdf, z * (-z).exp() / mean)
            }
            None => self.convolve(x, false),
        }
    }

    fn sf_pdf(&self, x: f64) -> (f64, f64) {
        match self.gamma {
            Some((shift, mean)) => {
                let z = ((x - shift) / mean).max(0.0);
                ((-z).exp() * (1.0 + z), z * (-z).exp() / mean)
            }
            None => self.convolve(x, true),
        }
    }
}

/// How far, relative, a table may interpolate between the values of a round trip computed on
/// the grid: half as far as the grid itself may be off ([`grid::RELATIVE_ERROR`]), so that a
/// value drawn is within 1.5 2^-12 (3.7e-4) of the exact sums, finer than the histograms'
/// 3 significant digits (buckets 1/2048 to 1/1024 wide, relative).
pub const GRID_TOLERANCE: f64 = grid::RELATIVE_ERROR / 2.0;

impl Steps {
    /// The quantiles of a round trip, the sum of two independent one-way delays drawn from
    /// `law`, or `None` where `super::steps::supports` says no.
    ///
    /// Atoms a and b make an atom at a + b, exactly. A law of runs alone with at most
    /// `EXACT` values has its round trip summed pair by pair; a larger one (an empirical
    /// sample of many distinct values) is convolved on a grid (`grid::round_trip`), its
    /// values within `grid::RELATIVE_ERROR` of the exact sums and its heaviest atoms exact.
    /// Beside a continuous part C of probability c, at most `EXACT` atoms keep their sums
    /// exact and the round trip's continuous part is `c^2 (C + C) + 2 c Σ p_a (a + C)`, solved
    /// at knots as continuous laws are; more atoms (an empirical sample beside a log-normal)
    /// would cost that many terms in every evaluation, so C is cut into the grid's cells and
    /// the whole law convolved there (`grid::round_trip_beside`): its values within
    /// `grid::RELATIVE_ERROR` (or 2 ns) of the exact sums, its heaviest atoms' sums exact.
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
                    let atoms = grid::round_trip_beside(&runs, weight, &mix)
                        .into_iter()
                        .map(|(x, p)| (x, 1, p))
                        .collect();
                    return Some(Self::new(atoms, None, GRID_TOLERANCE));
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
    use crate::order::quantiles::CEILING_NS;
    use crate::order::steps::Item;
    use crate::order::steps::tests::TAIL_AT_SCALE;
    use crate::order::tail::Tail;

    fn law(text: &str) -> Mix {
        parse(text).unwrap().law().unwrap()
    }

    #[test]
    fn exponential_round_trips_are_gamma_2() {
        // Quadrature on a two-term mixture of the same exponential must agree with the
        // closed form of a single one.
        let one = law("kind = \"exponential\"\nmean_ms = 0.5");
        let two = law("kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.3, of = { kind = \"exponential\", mean_ms = 0.5 } },\n\
             { weight = 0.7, of = { kind = \"exponential\", mean_ms = 0.5 } },\n]");
        let (closed, numeric) = (RoundTrip::new(one), RoundTrip::new(two));
        assert!(closed.gamma.is_some() && numeric.gamma.is_none());
        for x in [1e2, 1e4, 2e5, 1e6, 5e6, 2e7] {
            let (c, n) = (closed.cdf_pdf(x), numeric.cdf_pdf(x));
            assert!((c.0 / n.0 - 1.0).abs() < 1e-10, "cdf at {x}: {c:?} {n:?}");
            assert!((c.1 / n.1 - 1.0).abs() < 1e-10, "pdf at {x}: {c:?} {n:?}");
            let (c, n) = (closed.sf_pdf(x), numeric.sf_pdf(x));
            assert!((c.0 / n.0 - 1.0).abs() < 1e-10, "sf at {x}: {c:?} {n:?}");
        }
    }

    #[test]
    fn uniform_round_trips_are_triangular() {
        // U(1, 3) ms + U(1, 3) ms: triangular on [2, 6] ms with its peak at 4 ms.
        let rtt = RoundTrip::new(law("kind = \"uniform\"\nlow_ms = 1\nhigh_ms = 3"));
        for x in [2.5e6, 3.9e6, 4.0e6, 4.5e6, 5.99e6] {
            let u = (x - 2e6) / 4e6;
            let cdf = if u <= 0.5 {
                2.0 * u * u
            } else {
                1.0 - 2.0 * (1.0 - u) * (1.0 - u)
            };
            assert!(
                (rtt.cdf(x) - cdf).abs() < 1e-12,
                "{x}: {} vs {cdf}",
                rtt.cdf(x)
            );
            assert!((rtt.sf(x) - (1.0 - cdf)).abs() < 1e-12);
        }
        assert_eq!(rtt.cdf(1.9e6), 0.0);
        assert_eq!(rtt.sf(6.1e6), 0.0);
    }

    #[test]
    fn lognormal_round_trips_have_the_known_moments_of_a_sum() {
        // Mean of X + Y is 2 e^(mu + s^2/2); integrate the survival function for it.
        let rtt = RoundTrip::new(law("kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5"));
        let q = RoundTrip::quantiles(&rtt.law).unwrap();
        let [mean] = integrate(0.0, 1.0, 40, |p| [q.at(Tail::lower(p))]);
        let expected = 2.0 * (1e6f64.ln() + 0.125).exp();
        assert!((mean / expected - 1.0).abs() < 1e-7, "{mean} vs {expected}");
        // Heavy tails: P(X + Y > x) ~ 2 P(X > x) far out.
        let x = 1e6 * 12f64.exp();
        let ratio = rtt.sf(x) / (2.0 * rtt.law.sf(x));
        assert!((1.0..1.5).contains(&ratio), "{ratio}");
    }

    #[test]
    fn round_trip_quantiles_invert_the_convolution() {
        for text in [
            "kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5",
            "kind = \"pareto\"\nscale_ms = 1\nshape = 1.5",
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        ] {
            let l = law(text);
            let rtt = RoundTrip::new(l.clone());
            let q = RoundTrip::quantiles(&l).unwrap();
            for p in [1e-18, 1e-9, 1e-3, 0.1, 0.4, 0.5] {
                for upper in [false, true] {
                    let x = q.at(Tail { upper, p });
                    let seen = if upper { rtt.sf(x) } else { rtt.cdf(x) };
                    if upper && x >= CEILING_NS {
                        // Unsolved beyond the ceiling: the quantile there is at least x.
                        assert!(seen >= p, "{text}: {p}: {seen} at {x}");
                        continue;
                    }
                    // The quadrature holds about 1e-6 relative far out in a heavy tail.
                    let tolerance = if p < 1e-12 { 5e-6 } else { 1e-6 };
                    assert!(
                        (seen / p - 1.0).abs() < tolerance,
                        "{text}: {upper} {p}: {seen}"
                    );
                }
            }
        }
    }

    #[test]
    fn infinite_densities_at_zero_integrate_exactly() {
        // A Weibull of shape below 1 has an infinite density at 0. The reference integrates
        // in probability instead, P(X + Y <= x) = ∫_0^F(x) F(x - Q(u)) du, where nothing is
        // singular: a different route to the same number.
        for shape in [0.3, 0.5, 0.8] {
            let l = law(&format!(
                "kind = \"weibull\"\nscale_ms = 1\nshape = {shape}"
            ));
            let rtt = RoundTrip::new(l.clone());
            for x in [1e1, 1e4, 3e5, 1e6, 5e6, 1e8] {
                let [reference] = integrate(0.0, l.cdf(x), 60, |u| {
                    [
                        l.cdf(x - l.closed_quantile(u.min(0.5), false).unwrap().min(x))
                            * f64::from(u <= 0.5)
                            + l.cdf(
                                x - l.closed_quantile((1.0 - u).min(0.5), true).unwrap().min(x),
                            ) * f64::from(u > 0.5),
                    ]
                });
                let seen = rtt.cdf(x);
                assert!(
                    (seen / reference - 1.0).abs() < 1e-7,
                    "shape {shape}, x {x}: {seen} vs {reference}"
                );
            }
        }
    }

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
}
