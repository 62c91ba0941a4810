//! A delay uniform between two bounds.

use rand_distr::Distribution;

use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Delay uniform on `[low_ms, high_ms]`, sampled by `rand_distr::Uniform` (one 64-bit draw).
///
/// ```
/// use coordsim::latency::{Delay, Uniform};
/// use coordsim::rng::stream;
/// let d = Uniform::new(1.0, 2.0).unwrap();
/// let x = d.sample_ns(&mut stream(1, 0, 0));
/// assert!((1_000_000..=2_000_000).contains(&x));
/// assert!(Uniform::new(2.0, 1.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Uniform {
    dist: rand_distr::Uniform<f64>,
    low_ns: f64,
    high_ns: f64,
}

impl Uniform {
    /// Delay uniform on `[low_ms, high_ms]`, with `0 <= low_ms <= high_ms`.
    pub fn new(low_ms: f64, high_ms: f64) -> Result<Self, LatencyError> {
        let low = check("low_ms", low_ms, 0.0, false)?;
        let high = check("high_ms", high_ms, 0.0, false)?;
        if high < low {
            return Err(LatencyError::new(
                "high_ms",
                format!("high_ms = {high} is below low_ms = {low}"),
            ));
        }
        let dist = rand_distr::Uniform::new_inclusive(low * NS_PER_MS, high * NS_PER_MS)
            .map_err(|e| LatencyError::new("high_ms", e.to_string()))?;
        Ok(Self {
            dist,
            low_ns: low * NS_PER_MS,
            high_ns: high * NS_PER_MS,
        })
    }
}

impl Delay for Uniform {
    const KIND: &'static str = "uniform";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("low_ms", "lower bound (>= 0)"),
        ("high_ms", "upper bound (>= low_ms)"),
    ];

    const FROM_NUMBERS: Option<FromNumbers<Self>> =
        Some(|numbers| Self::new(numbers[0], numbers[1]));

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        to_ns(self.dist.sample(rng))
    }
}

/// Uniform on [low, high]; a point when they are equal.
impl Law for Uniform {
    fn support(&self) -> (f64, f64) {
        (self.low_ns, self.high_ns)
    }

    fn cdf(&self, x: f64) -> f64 {
        if x < self.low_ns {
            0.0
        } else if x >= self.high_ns {
            1.0
        } else {
            (x - self.low_ns) / (self.high_ns - self.low_ns)
        }
    }

    fn sf(&self, x: f64) -> f64 {
        if x < self.low_ns {
            1.0
        } else if x >= self.high_ns {
            0.0
        } else {
            (self.high_ns - x) / (self.high_ns - self.low_ns)
        }
    }

    fn pdf(&self, x: f64) -> f64 {
        if x < self.low_ns || x > self.high_ns || self.high_ns == self.low_ns {
            0.0
        } else {
            1.0 / (self.high_ns - self.low_ns)
        }
    }

    fn quantile(&self, p: f64) -> f64 {
        self.low_ns + p * (self.high_ns - self.low_ns)
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        self.high_ns - t * (self.high_ns - self.low_ns)
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::law::tests::check_law;
    use crate::latency::tests::{assert_cdf, assert_mean, parse};

    #[test]
    fn its_law_is_consistent() {
        check_law(
            &super::Uniform::new(1.0, 3.0).unwrap(),
            &[1.5e6, 2e6, 2.9e6],
        );
    }

    #[test]
    fn matches_the_uniform_distribution() {
        let d = parse("kind = \"uniform\"\nlow_ms = 1\nhigh_ms = 3").unwrap();
        let sd = 2e6 / 12f64.sqrt();
        assert_mean(&d, 2e6, sd, 200_000);
        assert_cdf(&d, 1.5e6, 0.25, 200_000);
        let e = parse("kind = \"uniform\"\nlow_ms = 3\nhigh_ms = 1").unwrap_err();
        assert_eq!(e.field, "latency.x.high_ms");
    }
}
