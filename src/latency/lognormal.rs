//! A log-normally distributed delay.

use rand_distr::{Distribution, StandardNormal};

use super::law::{normal_quantile, normal_sf};
use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Log-normal delay `exp(ln(median_ms) + sigma * Z)`, Z standard normal, sampled as
/// `rand_distr::LogNormal` samples it (a ziggurat normal draw), written out so that it inlines.
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
    mu: f64,
    sigma: f64,
}

impl LogNormal {
    /// Log-normal delay with median `median_ms` (> 0) and log-scale spread `sigma` (>= 0).
    pub fn new(median_ms: f64, sigma: f64) -> Result<Self, LatencyError> {
        let median = check("median_ms", median_ms, 0.0, true)?;
        let sigma = check("sigma", sigma, 0.0, false)?;
        Ok(Self {
            mu: (median * NS_PER_MS).ln(),
            sigma,
        })
    }
}

impl Delay for LogNormal {
    const KIND: &'static str = "lognormal";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("median_ms", "median delay (> 0)"),
        ("sigma", "standard deviation of the log delay (>= 0)"),
    ];

    const FROM_NUMBERS: Option<FromNumbers<Self>> =
        Some(|numbers| Self::new(numbers[0], numbers[1]));

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        // `rand_distr::LogNormal::sample`, written out so that it inlines.
        to_ns((self.mu + self.sigma * Distribution::<f64>::sample(&StandardNormal, rng)).exp())
    }
}

/// ln X = mu + sigma Z: its tails through the normal's (`erfc` and its inverse).
impl Law for LogNormal {
    fn support(&self) -> (f64, f64) {
        if self.sigma == 0.0 {
            let x = self.mu.exp();
            (x, x)
        } else {
            (0.0, f64::INFINITY)
        }
    }

    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if self.sigma == 0.0 {
            return if x >= self.mu.exp() { 1.0 } else { 0.0 };
        }
        normal_sf(-(x.ln() - self.mu) / self.sigma)
    }

    fn sf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        if self.sigma == 0.0 {
            return if x >= self.mu.exp() { 0.0 } else { 1.0 };
        }
        normal_sf((x.ln() - self.mu) / self.sigma)
    }

    fn pdf(&self, x: f64) -> f64 {
        if x <= 0.0 || self.sigma == 0.0 {
            return 0.0;
        }
        let z = (x.ln() - self.mu) / self.sigma;
        (-0.5 * z * z).exp() / (x * self.sigma * (2.0 * std::f64::consts::PI).sqrt())
    }

    fn quantile(&self, p: f64) -> f64 {
        (self.mu + self.sigma * normal_quantile(p)).exp()
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        (self.mu - self.sigma * normal_quantile(t)).exp()
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::NS_PER_MS;
    use crate::latency::law::tests::check_law;
    use crate::latency::tests::{assert_cdf, assert_draws_as, assert_mean, parse};

    #[test]
    fn draws_what_rand_distr_lognormal_draws_bit_for_bit() {
        for (median_ms, sigma) in [(1.0, 0.5), (0.02, 0.0), (250.0, 2.0)] {
            let ln = rand_distr::LogNormal::new((median_ms * NS_PER_MS).ln(), sigma).unwrap();
            let d = super::LogNormal::new(median_ms, sigma).unwrap();
            assert_draws_as(&d, ln, &format!("median {median_ms} ms, sigma {sigma}"));
        }
    }

    #[test]
    fn its_law_is_consistent() {
        let d = super::LogNormal::new(1.0, 0.5).unwrap();
        check_law(&d, &[1e4, 3e5, 1e6, 4e6, 1e8]);
    }

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
