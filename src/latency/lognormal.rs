//! A log-normally distributed delay.

use rand_distr::Distribution;

use super::{Delay, LatencyError, NS_PER_MS, built, check, number, to_ns};
use crate::rng::SimRng;
use crate::sweep::fields::{FieldError, Fields};

/// Log-normal delay `exp(ln(median_ms) + sigma * Z)`, Z standard normal, sampled by
/// `rand_distr::LogNormal` (ziggurat normal).
///
/// ```
/// use coordsim::latency::{Delay, LogNormal};
/// use coordsim::rng::stream;
/// let d = LogNormal::new(1.0, 0.5).unwrap();
/// let mut rng = stream(1, 0, 0);
/// let below = (0..10_000).filter(|_| d.sample_ns(&mut rng) <= 1_000_000).count();
/// assert!((4_750..5_250).contains(&below));
/// assert!(LogNormal::new(1.0, -0.5).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogNormal {
    dist: rand_distr::LogNormal<f64>,
}

impl LogNormal {
    /// Log-normal delay with median `median_ms` (> 0) and log-scale spread `sigma` (>= 0).
    pub fn new(median_ms: f64, sigma: f64) -> Result<Self, LatencyError> {
        let median = check("median_ms", median_ms, 0.0, true)?;
        let sigma = check("sigma", sigma, 0.0, false)?;
        let dist = rand_distr::LogNormal::new((median * NS_PER_MS).ln(), sigma)
            .map_err(|e| LatencyError::new("sigma", e.to_string()))?;
        Ok(Self { dist })
    }
}

impl Delay for LogNormal {
    const KIND: &'static str = "lognormal";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("median_ms", "median delay (> 0)"),
        ("sigma", "standard deviation of the log delay (>= 0)"),
    ];

    fn from_fields(fields: &mut Fields<'_>) -> Result<Self, FieldError> {
        let median = number(fields, "median_ms")?;
        let sigma = number(fields, "sigma")?;
        built(fields, Self::new(median, sigma))
    }

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        to_ns(self.dist.sample(rng))
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::tests::{assert_cdf, assert_mean, parse};

    #[test]
    fn matches_the_lognormal_distribution() {
        let d = parse("kind = \"lognormal\"\nmedian_ms = 1\nsigma = 0.5").unwrap();
        let (m, s2) = (1e6f64.ln(), 0.25f64);
        let mean = (m + s2 / 2.0).exp();
        let sd = ((s2.exp() - 1.0) * (2.0 * m + s2).exp()).sqrt();
        assert_mean(&d, mean, sd, 200_000);
        assert_cdf(&d, 1e6, 0.5, 200_000);
        // P(Z <= 1) = 0.841344746...
        assert_cdf(&d, 1e6 * 0.5f64.exp(), 0.841_344_746_068_543, 200_000);
    }
}
