//! Quantile functions accurate in both tails where no closed form serves (mixtures, round
//! trips): knots solved numerically once and interpolated.

use super::tail::Tail;
use crate::latency::{Law, MAX_DRAW_NS, Mix};

/// The tails of a distribution, for solving quantiles: the CDF (or survival function) and
/// the density at once.
pub trait Tails: Sync {
    /// The lowest possible value.
    fn lower_bound(&self) -> f64;
    /// A value near the median, to start from.
    fn middle(&self) -> f64;
    /// `(P(X <= x), density)`.
    fn cdf_pdf(&self, x: f64) -> (f64, f64);
    /// `(P(X > x), density)`.
    fn sf_pdf(&self, x: f64) -> (f64, f64);
}

impl Tails for Mix {
    fn lower_bound(&self) -> f64 {
        self.support().0
    }

    fn middle(&self) -> f64 {
        self.quantile(0.5)
    }

    fn cdf_pdf(&self, x: f64) -> (f64, f64) {
        (self.cdf(x), self.pdf(x))
    }

    fn sf_pdf(&self, x: f64) -> (f64, f64) {
        (self.sf(x), self.pdf(x))
    }
}

/// Octaves of tail probability tabulated on each side: down to 2^-(OCTAVES + 1).
const OCTAVES: i32 = 64;
/// Knots per octave near the median, where the curve bends most in these coordinates.
const DENSE: usize = 16;
/// Octaves (from 1/2 down) with `DENSE` knots.
const DENSE_OCTAVES: i32 = 6;
/// Knots per octave in the tails beyond, where the curve is nearly straight.
const SPARSE: usize = 4;

/// Knots in octave `o` (p in [2^-(o + 2), 2^-(o + 1))).
const fn per_octave(o: i32) -> usize {
    if o < DENSE_OCTAVES { DENSE } else { SPARSE }
}

/// Index of the first knot of octave `o`: the deeper octaves come first.
const fn octave_start(o: i32) -> usize {
    let deeper = OCTAVES - 1 - o;
    if o >= DENSE_OCTAVES {
        deeper as usize * SPARSE
    } else {
        (OCTAVES - DENSE_OCTAVES) as usize * SPARSE + (DENSE_OCTAVES - 1 - o) as usize * DENSE
    }
}

/// Quantiles at knots `p = 2^-(o + 2) (1 + j / m)` of each tail (`o < 64`; `m = 16` knots per
/// octave for `p >= 2^-7`, 4 beyond; and `p = 1/2`), solved to about 1e-10, and interpolated
/// between them by cubic Hermite polynomials in `(ln p, ln(x - lower bound))`, where
/// power-law, exponential and log-normal tails are all smooth and nearly straight: within
/// 1e-7 relative of the exact quantile everywhere (the tests check), and far closer in the
/// tails.
#[derive(Debug, Clone)]
pub struct Knots {
    lower_bound: f64,
    /// Per tail, knots in increasing `p`: `(ln p, ln(x - lower bound), slope)`.
    sides: [Vec<(f64, f64, f64)>; 2],
}

impl Knots {
    /// Solves the knots of `tails`: the lower tail on the calling thread, the upper one on a
    /// thread of its own, never on the rayon pool (a worker that waited on the pool here
    /// could pick up another chunk of the same cell, whose tables are the ones being built).
    pub fn solve(tails: &(dyn Tails + Sync)) -> Self {
        let [lower, upper] = std::thread::scope(|scope| {
            let upper = scope.spawn(|| upper_tail_knots(tails));
            let lower = side(tails, false);
            [lower, upper.join().expect("solving knots does not panic")]
        });
        Self {
            lower_bound: tails.lower_bound(),
            sides: [lower, upper],
        }
    }

    /// The value at `tail` (tail probability at most 1/2).
    pub fn at(&self, tail: Tail) -> f64 {
        let knots = &self.sides[usize::from(tail.upper)];
        let p = tail.p.clamp(f64::MIN_POSITIVE, 0.5);
        let s = p.ln();
        // Octave and knot from the binary exponent and mantissa of p.
        let bits = p.to_bits();
        let octave = 1021 - ((bits >> 52) & 0x7ff) as i32;
        let fraction = (bits & ((1 << 52) - 1)) as f64 / (1u64 << 52) as f64;
        let i = if octave >= OCTAVES {
            0
        } else {
            let per = per_octave(octave);
            let j = ((fraction * per as f64) as usize).min(per - 1);
            (octave_start(octave) + j).min(knots.len() - 2)
        };
        let (s0, y0, d0) = knots[i];
        let (s1, y1, d1) = knots[i + 1];
        let h = s1 - s0;
        let y = if octave >= OCTAVES {
            // Beyond the deepest knot: continue its tangent.
            y0 + d0 * (s - s0)
        } else {
            let t = (s - s0) / h;
            let (t2, t3) = (t * t, t * t * t);
            (2.0 * t3 - 3.0 * t2 + 1.0) * y0
                + (t3 - 2.0 * t2 + t) * h * d0
                + (-2.0 * t3 + 3.0 * t2) * y1
                + (t3 - t2) * h * d1
        };
        self.lower_bound + y.exp()
    }
}

/// The knot probabilities of one tail, increasing.
fn knot_probabilities() -> Vec<f64> {
    let mut ps = Vec::new();
    for octave in (0..OCTAVES).rev() {
        let base = (-(octave + 2) as f64).exp2();
        let per = per_octave(octave);
        debug_assert_eq!(ps.len(), octave_start(octave));
        for j in 0..per {
            ps.push(base * (1.0 + j as f64 / per as f64));
        }
    }
    ps.push(0.5);
    ps
}

/// Upper-tail knots stop being solved beyond this delay: twice the longest one-way draw
/// ([`MAX_DRAW_NS`]), so at least any round trip. Far in a heavy tail (Pareto of shape 1/2
/// reaches 2^130 ms at p = 2^-65) each solve would cost integrals over ever wider intervals
/// for values that are capped anyway.
pub(crate) const CEILING_NS: f64 = 2.0 * MAX_DRAW_NS as f64;

/// Solves the knots of one tail, from the median outward, each from the previous one; deeper
/// upper knots beyond [`CEILING_NS`] repeat the last one solved.
fn side(tails: &dyn Tails, upper: bool) -> Vec<(f64, f64, f64)> {
    let lo = tails.lower_bound();
    let ps = knot_probabilities();
    let mut out = vec![(0.0, 0.0, 0.0); ps.len()];
    let sign = if upper { -1.0 } else { 1.0 };
    // g(y) = ln(tail probability at lo + e^y) - ln p, made increasing in y by `sign`, with
    // its slope.
    let g = |y: f64, target: f64| {
        let x = lo + y.exp();
        let (tail, pdf) = if upper {
            tails.sf_pdf(x)
        } else {
            tails.cdf_pdf(x)
        };
        let tail = tail.max(f64::MIN_POSITIVE);
        (sign * (tail.ln() - target), pdf * y.exp() / tail)
    };
    let mut previous: Option<(f64, f64, f64)> = None;
    let ceiling = (CEILING_NS - lo).max(f64::MIN_POSITIVE).ln();
    for (slot, &p) in out.iter_mut().zip(&ps).rev() {
        let target = p.ln();
        if let Some((_, y0, _)) = previous.filter(|&(_, y0, _)| upper && y0 >= ceiling) {
            // Beyond the longest delay a trial records: flat, unsolved.
            *slot = (target, y0, 0.0);
            continue;
        }
        // Predict from the previous knot's tangent, then polish by Newton's method.
        let start = match previous {
            Some((s0, y0, d0)) => y0 + d0 * (target - s0),
            None => (tails.middle() - lo).max(f64::MIN_POSITIVE).ln(),
        };
        let (y, slope) = solve_increasing(|y| g(y, target), start);
        // dy/ds: y against s = ln p, the inverse of the slope of ln(tail) in y.
        let dyds = sign / slope;
        let dyds = if dyds.is_finite() { dyds } else { 0.0 };
        *slot = (target, y, dyds);
        previous = Some(*slot);
    }
    repair_slopes(&mut out);
    out
}

/// The upper tail's knots, on a thread of [`Knots::solve`]'s own: a function of its own so
/// that instruction counts can name it (`benches/gate.sh`).
#[inline(never)]
fn upper_tail_knots(tails: &(dyn Tails + Sync)) -> Vec<(f64, f64, f64)> {
    side(tails, true)
}

/// Where a slope could not be computed (a density of 0 or infinity at the knot), uses the
/// secant of the neighbouring knots.
fn repair_slopes(knots: &mut [(f64, f64, f64)]) {
    for i in 0..knots.len() {
        if knots[i].2 == 0.0 || !knots[i].2.is_finite() {
            let (a, b) = (i.saturating_sub(1), (i + 1).min(knots.len() - 1));
            if b > a {
                knots[i].2 = (knots[b].1 - knots[a].1) / (knots[b].0 - knots[a].0);
            }
        }
    }
}

/// The root of an increasing `g` (returning value and slope) near `start`, with the slope
/// at the last evaluation: Newton's method from `start`, kept inside the bracket the evaluations establish
/// (doubling steps outward until there is one, bisection when a step leaves it).
pub(crate) fn solve_increasing(g: impl Fn(f64) -> (f64, f64), start: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut y = start;
    let mut step = 0.5;
    let mut last = (y, f64::NAN);
    for _ in 0..300 {
        let (value, slope) = g(y);
        last = (y, slope);
        if value == 0.0 {
            return last;
        }
        if value < 0.0 {
            lo = y;
        } else {
            hi = y;
        }
        let newton = y - value / slope;
        let (next, by_newton) = if slope > 0.0 && newton.is_finite() && newton > lo && newton < hi {
            (newton, true)
        } else if lo.is_finite() && hi.is_finite() {
            (0.5 * (lo + hi), false)
        } else {
            step *= 2.0;
            (if lo.is_finite() { y + step } else { y - step }, false)
        };
        // 1e-10 in ln x: the integrals behind g are not much more accurate than that. A Newton
        // step of s lands about K s^2 from the root (K = |g''/2g'|), so one below 1e-8 is the
        // last even where K is large (1e-6 was not enough at a uniform law's upper end);
        // bisection steps must shrink to 1e-10 themselves.
        let tolerance = if by_newton { 1e-8 } else { 1e-10 };
        if step > 1e4 || (next - y).abs() <= tolerance * (1.0 + y.abs()) {
            return (next, last.1);
        }
        y = next;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::tests::parse;

    /// The largest relative error of `knots` against the closed form of `law` over a sweep of
    /// both tails.
    fn worst_error(law: &Mix, knots: &Knots) -> f64 {
        let mut worst = 0.0f64;
        for upper in [false, true] {
            for e in 0..600 {
                let p = 0.5 * (-(e as f64) / 10.0).exp2();
                let tail = Tail { upper, p };
                let exact = law.closed_quantile(p, upper).unwrap();
                if upper && exact > CEILING_NS {
                    // Unsolved beyond the ceiling: at least the ceiling, at most the truth.
                    let x = knots.at(tail);
                    assert!((CEILING_NS..=exact).contains(&x), "{p}: {x} vs {exact}");
                    continue;
                }
                let error = (knots.at(tail) - exact).abs() / exact.max(1.0);
                worst = worst.max(error);
            }
        }
        worst
    }

    #[test]
    fn knots_match_closed_forms_in_both_tails() {
        for text in [
            "kind = \"exponential\"\nmean_ms = 0.5",
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
            "kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5",
            "kind = \"pareto\"\nscale_ms = 1\nshape = 1.5",
            "kind = \"weibull\"\nscale_ms = 1\nshape = 0.7",
            "kind = \"uniform\"\nlow_ms = 1\nhigh_ms = 2",
        ] {
            let law = parse(text).unwrap().law().unwrap();
            let knots = Knots::solve(&law);
            let worst = worst_error(&law, &knots);
            assert!(worst < 1e-7, "{text}: relative error {worst}");
        }
    }
}
