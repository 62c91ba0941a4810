//! An exponentially distributed delay.

use rand_distr::{Distribution, Exp1};

use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Exponential delay with mean `mean_ms`, sampled by the ziggurat method of `rand_distr::Exp`
/// (Marsaglia and Tsang, 2000).
///
/// ```
/// use coordsim::latency::{Delay, Exponential};
/// use coordsim::rng::stream;
/// let d = Exponential::new(0.5).unwrap();
/// let mut rng = stream(1, 0, 0);
/// let mean = (0..10_000).map(|_| d.sample_ns(&mut rng) as f64).sum::<f64>() / 1e4;
/// assert!((mean - 500_000.0).abs() < 25_000.0);
/// assert!(Exponential::new(0.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Exponential {
    /// The factor `Exp` scales a unit draw by (`1 / lambda`, bit for bit).
    scale: f64,
    mean_ns: f64,
}

impl Exponential {
    /// Exponential delay with mean `mean_ms` (> 0).
    pub fn new(mean_ms: f64) -> Result<Self, LatencyError> {
        let mean = check("mean_ms", mean_ms, 0.0, true)?;
        Ok(Self {
            scale: 1.0 / (1.0 / (mean * NS_PER_MS)),
            mean_ns: mean * NS_PER_MS,
        })
    }

    /// The mean, ns.
    pub fn mean_ns(&self) -> f64 {
        self.mean_ns
    }
}

impl Delay for Exponential {
    const KIND: &'static str = "exponential";
    const FIELDS: &'static [(&'static str, &'static str)] = &[("mean_ms", "mean delay (> 0)")];

    const FROM_NUMBERS: Option<FromNumbers<Self>> = Some(|numbers| Self::new(numbers[0]));

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        // `Exp::sample`, written out so that it inlines: a unit draw times `1 / lambda`.
        to_ns(Distribution::<f64>::sample(&Exp1, rng) * self.scale)
    }
}

/// P(X > x) = exp(-x / mean).
impl Law for Exponential {
    fn support(&self) -> (f64, f64) {
        (0.0, f64::INFINITY)
    }

    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            -(-x / self.mean_ns).exp_m1()
        }
    }

    fn sf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            1.0
        } else {
            (-x / self.mean_ns).exp()
        }
    }

    fn pdf(&self, x: f64) -> f64 {
        if x < 0.0 {
            0.0
        } else {
            (-x / self.mean_ns).exp() / self.mean_ns
        }
    }

    fn quantile(&self, p: f64) -> f64 {
        -self.mean_ns * (-p).ln_1p()
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        -self.mean_ns * t.ln()
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::NS_PER_MS;
    use crate::latency::law::tests::check_law;
    use crate::latency::tests::{assert_cdf, assert_draws_as, assert_mean, parse};

    #[test]
    fn its_law_is_consistent() {
        let d = super::Exponential::new(0.5).unwrap();
        check_law(&d, &[1.0, 1e3, 5e5, 5e6, 1e8]);
    }

    #[test]
    fn draws_what_rand_distr_exp_draws_bit_for_bit() {
        for mean_ms in [0.5, 0.001, 3.7, 1234.5] {
            let exp = rand_distr::Exp::new(1.0 / (mean_ms * NS_PER_MS)).unwrap();
            let d = super::Exponential::new(mean_ms).unwrap();
            assert_draws_as(&d, exp, &format!("mean {mean_ms} ms"));
        }
    }

    #[test]
    fn matches_the_exponential_distribution() {
        let d = parse("kind = \"exponential\"\nmean_ms = 0.5").unwrap();
        assert_mean(&d, 5e5, 5e5, 200_000);
        assert_cdf(&d, 5e5 * 2f64.ln(), 0.5, 200_000);
        assert_cdf(&d, 5e5 * 4.0, 1.0 - (-4f64).exp(), 200_000);
        let e = parse("kind = \"exponential\"\nmean_ms = 0").unwrap_err();
        assert_eq!(e.message, "mean_ms = 0 must be a finite number > 0");
    }
}
