//! A Pareto (power-law tail) delay.

use rand_distr::Distribution;

use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Pareto delay: `P(X > x) = (scale_ms / x)^shape` for `x >= scale_ms`, sampled by inversion
/// in `rand_distr::Pareto`. Its mean is infinite for `shape <= 1`.
///
/// ```
/// use coordsim::latency::{Delay, Pareto};
/// use coordsim::rng::stream;
/// let d = Pareto::new(1.0, 2.0).unwrap();
/// assert!(d.sample_ns(&mut stream(1, 0, 0)) >= 1_000_000);
/// assert!(Pareto::new(1.0, 0.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pareto {
    dist: rand_distr::Pareto<f64>,
    scale_ns: f64,
    shape: f64,
}

impl Pareto {
    /// Pareto delay with minimum `scale_ms` (> 0) and tail index `shape` (> 0).
    pub fn new(scale_ms: f64, shape: f64) -> Result<Self, LatencyError> {
        let scale = check("scale_ms", scale_ms, 0.0, true)?;
        let shape = check("shape", shape, 0.0, true)?;
        let dist = rand_distr::Pareto::new(scale * NS_PER_MS, shape)
            .map_err(|e| LatencyError::new("shape", e.to_string()))?;
        Ok(Self {
            dist,
            scale_ns: scale * NS_PER_MS,
            shape,
        })
    }
}

impl Delay for Pareto {
    const KIND: &'static str = "pareto";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("scale_ms", "minimum delay (> 0)"),
        ("shape", "tail index (> 0; the mean is infinite when <= 1)"),
    ];

    const FROM_NUMBERS: Option<FromNumbers<Self>> =
        Some(|numbers| Self::new(numbers[0], numbers[1]));

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        to_ns(self.dist.sample(rng))
    }
}

/// P(X > x) = (scale / x)^shape.
impl Law for Pareto {
    fn support(&self) -> (f64, f64) {
        (self.scale_ns, f64::INFINITY)
    }

    fn cdf(&self, x: f64) -> f64 {
        if x <= self.scale_ns {
            0.0
        } else {
            -(self.shape * (self.scale_ns / x).ln()).exp_m1()
        }
    }

    fn sf(&self, x: f64) -> f64 {
        if x <= self.scale_ns {
            1.0
        } else {
            (self.scale_ns / x).powf(self.shape)
        }
    }

    fn pdf(&self, x: f64) -> f64 {
        if x < self.scale_ns {
            0.0
        } else {
            self.shape / x * (self.scale_ns / x).powf(self.shape)
        }
    }

    fn quantile(&self, p: f64) -> f64 {
        self.scale_ns * (-(-p).ln_1p() / self.shape).exp()
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        self.scale_ns * (-t.ln() / self.shape).exp()
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::law::tests::check_law;
    use crate::latency::tests::{assert_cdf, assert_mean, parse};

    #[test]
    fn its_law_is_consistent() {
        let d = super::Pareto::new(1.0, 1.5).unwrap();
        check_law(&d, &[1.001e6, 2e6, 1e8, 1e15]);
    }

    #[test]
    fn matches_the_pareto_distribution() {
        let d = parse("kind = \"pareto\"\nscale_ms = 1\nshape = 3").unwrap();
        // mean = a x_m / (a - 1); variance = x_m^2 a / ((a - 1)^2 (a - 2)).
        let sd = (1e12_f64 * 3.0 / 4.0).sqrt();
        assert_mean(&d, 1.5e6, sd, 200_000);
        assert_cdf(&d, 2e6, 1.0 - 0.125, 200_000);
    }
}
