//! A fixed delay.

use super::{Delay, FromNumbers, LatencyError, Law, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// Every message takes exactly `ms` milliseconds; draws no random number.
///
/// ```
/// use coordsim::latency::{Constant, Delay};
/// use coordsim::rng::stream;
/// let d = Constant::new(0.25).unwrap();
/// assert_eq!(d.sample_ns(&mut stream(1, 0, 0)), 250_000);
/// assert!(Constant::new(-1.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    ns: u64,
}

impl Constant {
    /// A delay of `ms` milliseconds (finite, >= 0).
    pub fn new(ms: f64) -> Result<Self, LatencyError> {
        let ms = check("ms", ms, 0.0, false)?;
        Ok(Self {
            ns: to_ns(ms * NS_PER_MS),
        })
    }

    /// The delay, in nanoseconds: what every draw returns.
    pub fn ns(&self) -> u64 {
        self.ns
    }
}

impl Delay for Constant {
    const KIND: &'static str = "constant";
    const FIELDS: &'static [(&'static str, &'static str)] = &[("ms", "the delay (>= 0)")];

    const FROM_NUMBERS: Option<FromNumbers<Self>> = Some(|numbers| Self::new(numbers[0]));

    #[inline(always)]
    fn sample_ns(&self, _rng: &mut SimRng) -> u64 {
        self.ns
    }
}

/// All the mass at one point.
impl Law for Constant {
    fn support(&self) -> (f64, f64) {
        (self.ns as f64, self.ns as f64)
    }

    fn cdf(&self, x: f64) -> f64 {
        if x >= self.ns as f64 { 1.0 } else { 0.0 }
    }

    fn sf(&self, x: f64) -> f64 {
        1.0 - self.cdf(x)
    }

    fn pdf(&self, _x: f64) -> f64 {
        0.0
    }

    fn quantile(&self, _p: f64) -> f64 {
        self.ns as f64
    }

    fn quantile_sf(&self, _t: f64) -> f64 {
        self.ns as f64
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::tests::parse;

    #[test]
    fn parses_and_rounds_to_nanoseconds() {
        let d = parse("kind = \"constant\"\nms = 0.0000004").unwrap();
        assert_eq!(d.sample_ns(&mut crate::rng::stream(0, 0, 0)), 0);
        let e = parse("kind = \"constant\"\nms = -2").unwrap_err();
        assert_eq!(e.field, "latency.x.ms");
        assert_eq!(e.message, "ms = -2 must be a finite number >= 0");
    }
}
