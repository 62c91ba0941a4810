//! A constant added to another delay model.

use super::{Delay, Latency, LatencyError, NS_PER_MS, check, to_ns};
use crate::rng::SimRng;

/// `shift_ms` plus a draw from another model: a propagation floor under a random queueing
/// delay. The inner model is the table `of`.
///
/// ```
/// use coordsim::latency::{Delay, Exponential, Shifted};
/// use coordsim::rng::stream;
/// let d = Shifted::new(0.05, Exponential::new(0.5).unwrap().into()).unwrap();
/// assert!(d.sample_ns(&mut stream(1, 0, 0)) >= 50_000);
/// ```
#[derive(Debug, Clone)]
pub struct Shifted {
    shift_ns: u64,
    of: Box<Latency>,
}

impl Shifted {
    /// `shift_ms` (>= 0) plus a draw from `of`.
    pub fn new(shift_ms: f64, of: Latency) -> Result<Self, LatencyError> {
        let shift = check("shift_ms", shift_ms, 0.0, false)?;
        Ok(Self {
            shift_ns: to_ns(shift * NS_PER_MS),
            of: Box::new(of),
        })
    }
}

impl Shifted {
    /// The shift, ns.
    pub fn shift_ns(&self) -> f64 {
        self.shift_ns as f64
    }

    /// The model shifted.
    pub fn inner(&self) -> &Latency {
        &self.of
    }
}

impl Delay for Shifted {
    const KIND: &'static str = "shifted";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        ("shift_ms", "constant added to every draw (>= 0)"),
        ("of", "the model shifted: a table with its own `kind`"),
    ];

    #[inline(always)]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        // The common shifted leaves inline; deeper compositions take a call.
        let inner = match &*self.of {
            Latency::Exponential(m) => m.sample_ns(rng),
            Latency::LogNormal(m) => m.sample_ns(rng),
            Latency::Constant(m) => m.sample_ns(rng),
            other => other.sample_ns_outlined(rng),
        };
        self.shift_ns.saturating_add(inner)
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::tests::{assert_cdf, parse};

    #[test]
    fn shifts_the_inner_distribution() {
        let text =
            "kind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }";
        let d = parse(text).unwrap();
        assert_cdf(&d, 5e4, 0.0, 100_000);
        assert_cdf(&d, 5e4 + 5e5, 1.0 - (-1f64).exp(), 200_000);
        let e =
            parse("kind = \"shifted\"\nshift_ms = 1\nof = { kind = \"exponential\" }").unwrap_err();
        assert_eq!(e.field, "latency.x.of.mean_ms");
    }
}
