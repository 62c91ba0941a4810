//! A Weibull-distributed delay.

use rand_distr::Distribution;

use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Weibull delay: `P(X > x) = exp(-(x / scale_ms)^shape)`, sampled by inversion in
/// `rand_distr::Weibull`. `shape = 1` is the exponential with mean `scale_ms`.
///
/// ```
/// use coordsim::latency::{Delay, Weibull};
/// use coordsim::rng::stream;
/// let d = Weibull::new(1.0, 1.5).unwrap();
/// let _ns = d.sample_ns(&mut stream(1, 0, 0));
/// assert!(Weibull::new(-1.0, 1.5).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Weibull {
    dist: rand_distr::Weibull<f64>,
    scale_ns: f64,
    shape: f64,
}

impl Weibull {
    /// Weibull delay with scale `scale_ms` (> 0) and shape `shape` (> 0).
    pub fn new(scale_ms: f64, shape: f64) -> Result<Self, LatencyError> {
        let scale = check("scale_ms", scale_ms, 0.0, true)?;
        let shape = check("shape", shape, 0.0, true)?;
        let dist = rand_distr::Weibull::new(scale * NS_PER_MS, shape)
            .map_err(|e| LatencyError::new("shape", e.to_string()))?;
        Ok(Self {
            dist,
            scale_ns: scale * NS_PER_MS,
            shape,
        })
    }
}

impl Delay for Weibull {
    const KIND: &'static str = "weibull";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("scale_ms", "scale (> 0)"),
        ("shape", "shape (> 0; 1 is exponential)"),
    ];

    const FROM_NUMBERS: Option<FromNumbers<Self>> =
        Some(|numbers| Self::new(numbers[0], numbers[1]));

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        to_ns(self.dist.sample(rng))
    }
}

/// P(X > x) = exp(-(x / scale)^shape).
impl Law for Weibull {
    fn support(&self) -> (f64, f64) {
        (0.0, f64::INFINITY)
    }

    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            -(-(x / self.scale_ns).powf(self.shape)).exp_m1()
        }
    }

    fn sf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            1.0
        } else {
            (-(x / self.scale_ns).powf(self.shape)).exp()
        }
    }

    fn pdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let y = x / self.scale_ns;
        self.shape / self.scale_ns * y.powf(self.shape - 1.0) * (-y.powf(self.shape)).exp()
    }

    fn quantile(&self, p: f64) -> f64 {
        self.scale_ns * (-(-p).ln_1p()).powf(1.0 / self.shape)
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        self.scale_ns * (-t.ln()).powf(1.0 / self.shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::law::tests::check_law;
    use crate::latency::tests::{assert_cdf, parse};

    #[test]
    fn its_law_is_consistent() {
        check_law(
            &super::Weibull::new(1.0, 1.5).unwrap(),
            &[1e3, 5e5, 1e6, 5e6],
        );
        check_law(
            &super::Weibull::new(1.0, 0.5).unwrap(),
            &[1e3, 5e5, 1e6, 5e7],
        );
    }

    #[test]
    fn matches_the_weibull_distribution() {
        let d = parse("kind = \"weibull\"\nscale_ms = 2\nshape = 1.5").unwrap();
        for x in [1e6, 2e6, 4e6] {
            let cdf = 1.0 - (-(x / 2e6f64).powf(1.5)).exp();
            assert_cdf(&d, x, cdf, 200_000);
        }
    }
}
