//! Delay models as distributions: CDF, survival, density and quantiles, for samplers that
//! draw order statistics directly instead of one message at a time.

use super::Latency;

/// The distribution of an elementary delay model, in nanoseconds.
///
/// The two tails are computed separately so that each stays accurate far out: `cdf` and
/// `quantile` for the lower tail, `sf` and `quantile_sf` for the upper one.
///
/// ```
/// use coordsim::latency::{Exponential, Law};
/// let d = Exponential::new(1.0).unwrap();
/// assert!((d.cdf(1e6) - (1.0 - (-1f64).exp())).abs() < 1e-15);
/// assert!((d.quantile_sf(1e-30) / (1e6 * 1e30f64.ln()) - 1.0).abs() < 1e-15);
/// ```
pub trait Law {
    /// The lowest and highest possible delays (the highest may be infinite).
    fn support(&self) -> (f64, f64);
    /// P(X <= x).
    fn cdf(&self, x: f64) -> f64;
    /// P(X > x), accurate where it is tiny.
    fn sf(&self, x: f64) -> f64;
    /// The density at `x` (0 for a point mass).
    fn pdf(&self, x: f64) -> f64;
    /// The smallest x with P(X <= x) >= `p`, accurate for tiny `p`.
    fn quantile(&self, p: f64) -> f64;
    /// The x with P(X > x) = `t`, accurate for tiny `t`.
    fn quantile_sf(&self, t: f64) -> f64;
}

/// One term of a [`Mix`]: `shift` plus a draw from an elementary model, with probability
/// `weight`.
#[derive(Debug, Clone)]
pub struct Part {
    /// Probability of this term.
    pub weight: f64,
    /// Added to every draw, ns.
    pub shift: f64,
    /// An elementary model: constant, uniform, exponential, lognormal, pareto or weibull.
    pub base: Latency,
}

impl Part {
    /// The term's law, without its shift.
    pub(crate) fn law(&self) -> &dyn Law {
        match &self.base {
            Latency::Constant(m) => m,
            Latency::Uniform(m) => m,
            Latency::Exponential(m) => m,
            Latency::LogNormal(m) => m,
            Latency::Pareto(m) => m,
            Latency::Weibull(m) => m,
            Latency::Empirical(m) => m,
            other => unreachable!("{other:?} is not elementary"),
        }
    }

    /// True if this term has no point mass.
    pub fn is_continuous(&self) -> bool {
        let (low, high) = self.law().support();
        high > low && !matches!(self.base, Latency::Empirical(_))
    }

    /// The single value of this term, if it has only one.
    pub fn point(&self) -> Option<f64> {
        let (low, high) = self.law().support();
        (low == high).then_some(self.shift + low)
    }
}

/// A delay model written as a finite mixture of shifted elementary models (an `empirical`
/// model is one, discrete): what [`Latency::law`] gives for every model.
///
/// ```
/// use coordsim::latency::{Exponential, Latency, Law, Shifted};
/// let model: Latency = Shifted::new(0.05, Exponential::new(0.5).unwrap().into()).unwrap().into();
/// let mix = model.law().unwrap();
/// assert!(mix.is_continuous());
/// assert_eq!(mix.support().0, 50_000.0);
/// assert!((mix.cdf(550_000.0) - (1.0 - (-1f64).exp())).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct Mix {
    parts: Vec<Part>,
}

impl Mix {
    fn single(base: Latency) -> Self {
        Self {
            parts: vec![Part {
                weight: 1.0,
                shift: 0.0,
                base,
            }],
        }
    }

    /// The mixture of `parts`, whose weights must sum to 1.
    pub(crate) fn from_parts(parts: Vec<Part>) -> Self {
        Self { parts }
    }

    /// The terms; their weights sum to 1.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// True if no term has a point mass: every delay has probability 0.
    pub fn is_continuous(&self) -> bool {
        self.parts.iter().all(Part::is_continuous)
    }

    /// The single point this distribution puts all its mass on, if it does.
    pub fn point(&self) -> Option<f64> {
        let first = self.parts.first()?.point()?;
        self.parts
            .iter()
            .all(|p| p.point() == Some(first))
            .then_some(first)
    }

    /// The same distribution shifted by `shift` ns.
    fn shifted(mut self, shift: f64) -> Self {
        self.parts.iter_mut().for_each(|p| p.shift += shift);
        self
    }

    /// A copy shifted by `shift` ns.
    pub(crate) fn shifted_by(&self, shift: f64) -> Self {
        self.clone().shifted(shift)
    }

    /// The quantile of a single continuous term in closed form; `None` for a mixture, whose
    /// quantiles need a numerical inversion.
    pub fn closed_quantile(&self, p: f64, upper: bool) -> Option<f64> {
        match self.parts.as_slice() {
            [part] => {
                let law = part.law();
                Some(
                    part.shift
                        + if upper {
                            law.quantile_sf(p)
                        } else {
                            law.quantile(p)
                        },
                )
            }
            _ => None,
        }
    }
}

impl Law for Mix {
    fn support(&self) -> (f64, f64) {
        self.parts.iter().fold((f64::INFINITY, 0.0), |(lo, hi), p| {
            let (a, b) = p.law().support();
            (lo.min(p.shift + a), hi.max(p.shift + b))
        })
    }

    fn cdf(&self, x: f64) -> f64 {
        self.parts
            .iter()
            .map(|p| p.weight * p.law().cdf(x - p.shift))
            .sum()
    }

    fn sf(&self, x: f64) -> f64 {
        self.parts
            .iter()
            .map(|p| p.weight * p.law().sf(x - p.shift))
            .sum()
    }

    fn pdf(&self, x: f64) -> f64 {
        self.parts
            .iter()
            .map(|p| p.weight * p.law().pdf(x - p.shift))
            .sum()
    }

    fn quantile(&self, p: f64) -> f64 {
        self.closed_quantile(p, false)
            .unwrap_or_else(|| invert(self, p, false))
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        self.closed_quantile(t, true)
            .unwrap_or_else(|| invert(self, t, true))
    }
}

/// Solves `cdf(x) = p` (or `sf(x) = p` for the upper tail) by bisection: slow, for tables
/// built once.
fn invert(law: &dyn Law, p: f64, upper: bool) -> f64 {
    let (low, high) = law.support();
    let below = |x: f64| {
        if upper { law.sf(x) > p } else { law.cdf(x) < p }
    };
    let mut lo = low;
    let mut hi = if high.is_finite() {
        high
    } else {
        let mut step = 1.0f64.max(low.abs());
        while below(low + step) {
            step *= 2.0;
        }
        low + step
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if below(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

impl Latency {
    /// This model as a mixture of shifted elementary distributions.
    pub fn law(&self) -> Option<Mix> {
        match self {
            Latency::Constant(_)
            | Latency::Uniform(_)
            | Latency::Exponential(_)
            | Latency::LogNormal(_)
            | Latency::Pareto(_)
            | Latency::Weibull(_)
            | Latency::Empirical(_) => Some(Mix::single(self.clone())),
            Latency::Shifted(m) => Some(m.inner().law()?.shifted(m.shift_ns())),
            Latency::Mixture(m) => {
                let mut parts = Vec::new();
                for (weight, component) in m.components() {
                    for part in component.law()?.parts {
                        parts.push(Part {
                            weight: weight * part.weight,
                            ..part
                        });
                    }
                }
                Some(Mix { parts })
            }
        }
    }
}

/// The standard normal quantile, accurate in both tails (through `erfc_inv`).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

/// P(Z > z) for a standard normal Z, accurate in the upper tail.
pub(crate) fn normal_sf(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::latency::tests::parse;

    /// Checks the identities every law must satisfy at `xs`: cdf + sf = 1, the quantiles
    /// invert the tails, and the density is the slope of the CDF.
    pub fn check_law(law: &dyn Law, xs: &[f64]) {
        for &x in xs {
            let (c, s) = (law.cdf(x), law.sf(x));
            assert!((c + s - 1.0).abs() < 1e-12, "cdf + sf at {x}: {c} + {s}");
            if c > 1e-300 && c < 0.9 {
                let q = law.quantile(c);
                assert!(
                    (q - x).abs() <= 1e-9 * x.abs().max(1.0),
                    "quantile({c}) = {q}, not {x}"
                );
            }
            if s > 1e-300 && s < 0.9 {
                let q = law.quantile_sf(s);
                assert!(
                    (q - x).abs() <= 1e-9 * x.abs().max(1.0),
                    "quantile_sf({s}) = {q}, not {x}"
                );
            }
            let h = 1e-5 * x.abs().max(1.0);
            let (lo, hi) = law.support();
            if x - h > lo && x + h < hi {
                let slope = (law.cdf(x + h) - law.cdf(x - h)) / (2.0 * h);
                let pdf = law.pdf(x);
                assert!(
                    (slope - pdf).abs() <= 1e-5 * pdf.max(1e-300) + 1e-12 / h,
                    "pdf at {x}: {pdf}, slope {slope}"
                );
            }
        }
    }

    #[test]
    fn mixtures_flatten_into_shifted_parts() {
        let model = parse(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.9, of = { kind = \"shifted\", shift_ms = 1, of = { kind = \"exponential\", mean_ms = 2 } } },\n\
             { weight = 0.1, of = { kind = \"pareto\", scale_ms = 5, shape = 2 } },\n]",
        )
        .unwrap();
        let mix = model.law().unwrap();
        assert_eq!(mix.parts().len(), 2);
        assert_eq!(mix.parts()[0].shift, 1e6);
        assert_eq!(mix.support(), (1e6, f64::INFINITY));
        // P(X <= 6 ms) = 0.9 (1 - e^(-5/2)) + 0.1 (1 - (5/6)^2).
        let expected = 0.9 * (1.0 - (-2.5f64).exp()) + 0.1 * (1.0 - (5.0f64 / 6.0).powi(2));
        assert!((mix.cdf(6e6) - expected).abs() < 1e-14);
        check_law(&mix, &[1.5e6, 3e6, 6e6, 2e7, 1e9]);
        assert!(mix.is_continuous() && mix.point().is_none());
    }

    #[test]
    fn constants_are_points_and_empirical_laws_are_discrete() {
        let mix = parse("kind = \"constant\"\nms = 2").unwrap().law().unwrap();
        assert_eq!(mix.point(), Some(2e6));
        assert!(!mix.is_continuous());
        let shifted =
            parse("kind = \"shifted\"\nshift_ms = 1\nof = { kind = \"constant\", ms = 2 }")
                .unwrap()
                .law()
                .unwrap();
        assert_eq!(shifted.point(), Some(3e6));
        let e = crate::latency::Empirical::from_values_ms(&[1.0, 2.0, 2.0, 4.0]).unwrap();
        let mix = Latency::from(e).law().unwrap();
        assert!(!mix.is_continuous() && mix.point().is_none());
        assert_eq!(
            (mix.cdf(1.99e6), mix.cdf(2e6), mix.sf(2e6)),
            (0.25, 0.75, 0.25)
        );
        assert_eq!((mix.quantile(0.25), mix.quantile(0.26)), (1e6, 2e6));
        assert_eq!((mix.quantile_sf(0.25), mix.quantile_sf(0.24)), (2e6, 4e6));
        let one = crate::latency::Empirical::from_values_ms(&[3.0, 3.0]).unwrap();
        assert_eq!(Latency::from(one).law().unwrap().point(), Some(3e6));
        // A mixture of two equal constants is a point too.
        let twice = parse(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n]",
        )
        .unwrap()
        .law()
        .unwrap();
        assert_eq!(twice.point(), Some(1e6));
    }

    #[test]
    fn the_normal_quantile_is_accurate_in_the_tails() {
        // erfc and its inverse agree to about 1e-10 in relative terms, far out in the tail.
        for p in [1e-300, 1e-100, 1e-40, 1e-20, 1e-5, 0.3, 0.5] {
            let z = normal_quantile(p);
            assert!((normal_sf(-z) / p - 1.0).abs() < 1e-9, "p = {p}: z = {z}");
        }
    }
}
