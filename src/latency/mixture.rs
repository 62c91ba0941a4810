//! A weighted mixture of delay models.

use rand::Rng;

use super::{Delay, Latency, LatencyError};
use crate::rng::SimRng;

/// With probability `weight_i`, a draw from component `i`: a fast path with a rare slow one.
/// One 64-bit draw picks the component; weights must be positive and sum to 1.
///
/// ```
/// use coordsim::latency::{Constant, Delay, Mixture};
/// use coordsim::rng::stream;
/// let fast = Constant::new(1.0).unwrap().into();
/// let slow = Constant::new(100.0).unwrap().into();
/// let d = Mixture::new(vec![(0.99, fast), (0.01, slow)]).unwrap();
/// let ns = d.sample_ns(&mut stream(1, 0, 0));
/// assert!(ns == 1_000_000 || ns == 100_000_000);
/// assert!(Mixture::new(vec![(0.5, Constant::new(1.0).unwrap().into())]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Mixture {
    /// Upper 64-bit thresholds of each component but the last, ascending.
    thresholds: Vec<u64>,
    /// Each component's probability (the weights normalized to sum to exactly 1).
    weights: Vec<f64>,
    components: Vec<Latency>,
}

/// How far the weights may sum from 1.
const WEIGHT_TOLERANCE: f64 = 1e-9;

impl Mixture {
    /// A mixture of `(weight, model)` pairs; weights in (0, 1], summing to 1.
    pub fn new(components: Vec<(f64, Latency)>) -> Result<Self, LatencyError> {
        if components.is_empty() {
            return Err(LatencyError::new(
                "components",
                "needs at least one component",
            ));
        }
        let mut total = 0.0;
        for (weight, _) in &components {
            if !(weight.is_finite() && *weight > 0.0 && *weight <= 1.0) {
                return Err(LatencyError::new(
                    "components",
                    format!("weight {weight} is not in (0, 1]"),
                ));
            }
            total += weight;
        }
        if (total - 1.0).abs() > WEIGHT_TOLERANCE {
            return Err(LatencyError::new(
                "components",
                format!("weights sum to {}, not 1", (total * 1e9).round() / 1e9),
            ));
        }
        let mut cumulative = 0.0;
        let mut thresholds = Vec::with_capacity(components.len() - 1);
        for (weight, _) in &components[..components.len() - 1] {
            cumulative += weight / total;
            thresholds
                .push((cumulative * 18_446_744_073_709_551_616.0).min(u64::MAX as f64) as u64);
        }
        Ok(Self {
            thresholds,
            weights: components.iter().map(|(w, _)| w / total).collect(),
            components: components.into_iter().map(|(_, m)| m).collect(),
        })
    }

    /// The components with their probabilities.
    pub fn components(&self) -> impl Iterator<Item = (f64, &Latency)> {
        self.weights.iter().copied().zip(&self.components)
    }
}

impl Delay for Mixture {
    const KIND: &'static str = "mixture";
    const FIELDS: &'static [(&'static str, &'static str)] = &[(
        "components",
        "list of { weight = w, of = { kind = ... } }; weights > 0 summing to 1",
    )];

    #[inline]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        let u = rng.next_u64();
        // The number of thresholds at or below u: a scan for a few components, a binary
        // search for many (the same index).
        let i = if self.thresholds.len() <= 8 {
            self.thresholds.iter().take_while(|&&t| u >= t).count()
        } else {
            self.thresholds.partition_point(|&t| u >= t)
        };
        self.components[i].sample_ns_outlined(rng)
    }
}

#[cfg(test)]
mod tests {
    use crate::latency::tests::{assert_cdf, parse};

    const TEXT: &str = r#"
kind = "mixture"
components = [
  { weight = 0.9, of = { kind = "constant", ms = 1 } },
  { weight = 0.1, of = { kind = "constant", ms = 10 } },
]"#;

    #[test]
    fn picks_components_by_weight() {
        let d = parse(TEXT).unwrap();
        assert_cdf(&d, 1e6, 0.9, 200_000);
        assert_cdf(&d, 1e7, 1.0, 1_000);
    }

    #[test]
    fn weights_must_sum_to_one() {
        let e = parse(&TEXT.replace("0.1", "0.2")).unwrap_err();
        assert_eq!(e.field, "latency.x.components");
        assert!(e.message.starts_with("weights sum to 1.1"), "{}", e.message);
        let e = parse(&TEXT.replace("weight = 0.9, ", "")).unwrap_err();
        assert_eq!(e.field, "latency.x.components[0].weight");
    }
}
