//! One-way message delay models: milliseconds in the sweep file, integer nanoseconds inside.
//!
//! Each model lives in its own file and implements [`Delay`]; its line in the `registry!` list
//! of this file makes it a [`Latency`] and a `kind` of the sweep format
//! (`crate::sweep::delays` reads it). A round trip is two independent draws.

mod constant;
mod empirical;
mod exponential;
mod law;
mod lognormal;
mod mixture;
mod pareto;
mod shifted;
mod uniform;
mod weibull;

pub use constant::Constant;
pub use empirical::{Empirical, unit_ns};
pub use exponential::Exponential;
pub use law::{Law, Mix, Part};
pub use lognormal::LogNormal;
pub use mixture::Mixture;
pub use pareto::Pareto;
pub use shifted::Shifted;
pub use uniform::Uniform;
pub use weibull::Weibull;

use thiserror::Error;

use crate::rng::SimRng;

/// Nanoseconds per millisecond.
pub const NS_PER_MS: f64 = 1e6;

/// The longest delay a model's parameters, or an empirical model's values, may name (a
/// constant, a shift, a uniform bound, a mean, a median or a scale), in milliseconds: one
/// hour. A longer one-way delay is a mistake of units, and keeps a trial's sums of delays far
/// from [`MAX_DRAW_NS`].
pub const MAX_DELAY_MS: f64 = 3_600_000.0;

/// The longest single delay a model draws, in nanoseconds: 2^48 ns, about 78 hours. Longer
/// draws of heavy-tailed models count as this long, so that a protocol may add up to 2^16
/// delays without overflowing 64 bits.
pub const MAX_DRAW_NS: u64 = 1 << 48;

/// Most bytes an empirical latency file may have: 100 MB, some ten million measurements.
/// Each value takes about 24 bytes in memory, once: the cells that use the model share it.
pub const MAX_EMPIRICAL_BYTES: u64 = 100_000_000;

/// A model parameter out of its domain.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{reason}")]
pub struct LatencyError {
    /// The sweep-file name of the bad parameter, e.g. `mean_ms`.
    pub param: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl LatencyError {
    pub(crate) fn new(param: &'static str, reason: impl Into<String>) -> Self {
        Self {
            param,
            reason: reason.into(),
        }
    }
}

/// Checks that `value` of `param` is finite and at least `min` (or above it, if `strict`);
/// a delay in milliseconds (`ms` or a name ending in `_ms`) must also be at most
/// [`MAX_DELAY_MS`].
pub(crate) fn check(
    param: &'static str,
    value: f64,
    min: f64,
    strict: bool,
) -> Result<f64, LatencyError> {
    let ok = value.is_finite() && if strict { value > min } else { value >= min };
    if !ok {
        let bound = if strict { ">" } else { ">=" };
        return Err(LatencyError::new(
            param,
            format!("{param} = {value} must be a finite number {bound} {min}"),
        ));
    }
    let delay = param == "ms" || param.ends_with("_ms");
    if delay && value > MAX_DELAY_MS {
        return Err(LatencyError::new(
            param,
            format!(
                "{param} = {} exceeds {MAX_DELAY_MS} (one hour, the longest delay a model may name)",
                // Huge numbers in exponent form, as they were likely written.
                if value >= 1e15 {
                    format!("{value:e}")
                } else {
                    value.to_string()
                }
            ),
        ));
    }
    Ok(value)
}

/// Rounds a non-negative delay in nanoseconds to an integer, at most [`MAX_DRAW_NS`].
#[inline(always)]
pub(crate) fn to_ns(x: f64) -> u64 {
    // Clamped as a float first (NaN to 0), the conversion needs none of the range checks of
    // `as u64`: half the instructions, the same result.
    let x = (x + 0.5).max(0.0).min(MAX_DRAW_NS as f64);
    // SAFETY: x is finite, in [0, 2^48], so its integer part fits an i64.
    unsafe { x.to_int_unchecked::<i64>() as u64 }
}

/// Builds a model from the values of its keys, in order.
pub type FromNumbers<T> = fn(&[f64]) -> Result<T, LatencyError>;

/// A delay model: a sampler of one-way delays, and the keys a sweep file gives it.
pub trait Delay: Sized {
    /// The `kind = "..."` that selects this model in a sweep file.
    const KIND: &'static str;
    /// Its other keys with their meaning, as `coordsim latency` lists them.
    const FIELDS: &'static [(&'static str, &'static str)];
    /// For a model made of numbers alone: builds it from the values of its [`Delay::FIELDS`],
    /// in order. `None` for a model made of other models or of a file, which the sweep
    /// reader builds key by key.
    const FROM_NUMBERS: Option<FromNumbers<Self>> = None;

    /// Draws one one-way delay, in nanoseconds.
    fn sample_ns(&self, rng: &mut SimRng) -> u64;
}

macro_rules! registry {
    ($($variant:ident),* $(,)?) => {
        /// A delay model of any kind; see the module documentation for the list.
        #[derive(Debug, Clone)]
        pub enum Latency {
            $(
                #[allow(missing_docs)]
                $variant($variant),
            )*
        }

        impl Latency {
            /// Every kind with its keys, in registry order.
            pub const KINDS: &'static [(&'static str, &'static [(&'static str, &'static str)])] =
                &[$(($variant::KIND, $variant::FIELDS)),*];

            /// Draws one one-way delay, in nanoseconds.
            #[inline(always)]
            pub fn sample_ns(&self, rng: &mut SimRng) -> u64 {
                match self {
                    $(Self::$variant(model) => model.sample_ns(rng),)*
                }
            }

            /// Two independent delays summed (saturating): a request and its reply, drawn
            /// in that order with one dispatch on the kind.
            #[inline(always)]
            pub fn round_trip_ns(&self, rng: &mut SimRng) -> u64 {
                match self {
                    $(Self::$variant(model) => {
                        model.sample_ns(rng).saturating_add(model.sample_ns(rng))
                    })*
                }
            }

            /// [`Latency::sample_ns`] behind a call: what composite models (shifted,
            /// mixture) use for their components, so that inlining stops at one level.
            #[inline(never)]
            pub fn sample_ns_outlined(&self, rng: &mut SimRng) -> u64 {
                self.sample_ns(rng)
            }

            /// The model of kind `kind` built from the values of its keys, in order, when it
            /// is made of numbers alone ([`Delay::FROM_NUMBERS`]).
            pub fn from_numbers(
                kind: &str,
                numbers: &[f64],
            ) -> Option<Result<Self, LatencyError>> {
                $(
                    if kind == $variant::KIND {
                        return $variant::FROM_NUMBERS.map(|f| f(numbers).map(Self::$variant));
                    }
                )*
                None
            }
        }

        $(
            impl From<$variant> for Latency {
                fn from(model: $variant) -> Self {
                    Self::$variant(model)
                }
            }
        )*
    };
}

registry!(
    Constant,
    Uniform,
    Exponential,
    LogNormal,
    Pareto,
    Weibull,
    Shifted,
    Mixture,
    Empirical
);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rng::stream;

    /// Parses a latency table written as TOML.
    pub fn parse(text: &str) -> Result<Latency, crate::sweep::fields::FieldError> {
        let table: toml::Table = text.parse().unwrap();
        crate::sweep::delays::read(crate::sweep::fields::Fields::new("latency.x", &table))
    }

    /// Mean and standard deviation of `n` draws, in nanoseconds.
    pub fn moments(model: &Latency, n: usize) -> (f64, f64) {
        let mut rng = stream(11, 0, 0);
        let xs: Vec<f64> = (0..n).map(|_| model.sample_ns(&mut rng) as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt())
    }

    /// Checks that the fraction of `n` draws at or below `x_ns` is `cdf` within 5 sigma.
    pub fn assert_cdf(model: &Latency, x_ns: f64, cdf: f64, n: usize) {
        let mut rng = stream(12, 0, 0);
        let below = (0..n)
            .filter(|_| model.sample_ns(&mut rng) as f64 <= x_ns)
            .count() as f64;
        let sigma = (cdf * (1.0 - cdf) / n as f64).sqrt();
        let seen = below / n as f64;
        assert!(
            (seen - cdf).abs() <= 5.0 * sigma + 1e-12,
            "P(X <= {x_ns} ns): saw {seen}, expected {cdf} (5 sigma = {})",
            5.0 * sigma
        );
    }

    /// `model`'s first 10,000 draws from a stream are those of `reference` (a `rand_distr`
    /// sampler, in ns) from the same stream, rounded as [`to_ns`] rounds.
    pub fn assert_draws_as(
        model: &impl Delay,
        reference: impl rand_distr::Distribution<f64>,
        what: &str,
    ) {
        let (mut a, mut b) = (crate::rng::stream(7, 0, 0), crate::rng::stream(7, 0, 0));
        for i in 0..10_000 {
            let expected = to_ns(reference.sample(&mut b));
            assert_eq!(model.sample_ns(&mut a), expected, "{what}, draw {i}");
        }
    }

    /// Checks that the mean of `n` draws is `mean` within 5 standard errors (`sd` the model's).
    pub fn assert_mean(model: &Latency, mean: f64, sd: f64, n: usize) {
        let (seen, _) = moments(model, n);
        let tolerance = 5.0 * sd / (n as f64).sqrt() + 0.5;
        assert!(
            (seen - mean).abs() <= tolerance,
            "mean: saw {seen} ns, expected {mean} ns (tolerance {tolerance})"
        );
    }

    #[test]
    fn unknown_kind_and_keys_are_refused_with_their_path() {
        let e = parse("kind = \"gaussian\"").unwrap_err();
        assert_eq!(e.field, "latency.x.kind");
        assert!(
            e.message.starts_with("unknown latency kind `gaussian`"),
            "{}",
            e.message
        );
        let e = parse("kind = \"exponential\"\nmean_ms = 1\nmedian_ms = 2").unwrap_err();
        assert_eq!(e.field, "latency.x.median_ms");
        let e = parse("mean_ms = 1").unwrap_err();
        assert_eq!(e.field, "latency.x.kind");
    }

    #[test]
    fn every_kind_is_listed_once() {
        let mut kinds: Vec<&str> = Latency::KINDS.iter().map(|(k, _)| *k).collect();
        let n = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), n);
        assert_eq!(n, 9);
    }
}
