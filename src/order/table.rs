//! A quantile function tabulated for one 64-bit draw: the hot loop's order statistics.

use std::sync::Arc;

use super::tail::Tail;

/// Knots per octave of tail probability.
pub(super) const PER_OCTAVE: usize = 64;
/// Knots per side: octaves 2^-64 .. 2^-1, and 1/2.
pub(super) const SIDE: usize = 63 * PER_OCTAVE + 1;

/// A quantile function sampled by one 64-bit draw `x`: the draw's top bit picks the tail,
/// its leading zeros the octave of tail probability (2^-64 up to 1/2), the next six bits one
/// of 64 knots in the octave, and the remaining bits interpolate linearly between two knots.
/// So a value costs a few integer instructions and two loads, and every tail keeps the same
/// relative resolution down to probability 2^-64.
///
/// Between knots the error of linear interpolation is at most h^2 |Q''| / 8 with h 1/64 of
/// the octave: for an exponential tail `Q(1 - t) = -m ln t` that is m / 32768 absolute, far
/// below the 3 significant digits the histograms keep.
///
/// ```
/// use coordsim::order::QuantileTable;
/// // The exponential distribution with mean 1: Q(u) = -ln(1 - u).
/// let table = QuantileTable::new(|tail| if tail.upper { -tail.p.ln() } else { -(-tail.p).ln_1p() });
/// let median = table.sample(1 << 63);
/// assert!((median - 2f64.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct QuantileTable {
    /// Lower tail knots in increasing probability, then upper tail knots likewise.
    /// Shared by the clones: a table is built once and read by every cell that needs it.
    knots: Arc<[f64]>,
}

/// The knot at or before the uniform draw `x` (`x / 2^64`), counting the lower tail's knots
/// then the upper tail's, and how far `x` lies toward the next knot (0 to 1, linear in the
/// tail probability): the draw's top bit picks the tail, the octave of its distance to the
/// nearer end of the range the octave of knots, the next six bits the knot.
#[inline(always)]
pub(super) fn locate(x: u64) -> (usize, f64) {
    let side = (x >> 63) as usize;
    // The distance to the nearer end of the range, below 2^63 (0 reads the first knot).
    let y = x ^ 0u64.wrapping_sub(x >> 63);
    // The octave: the top bit of y, or 0 for y = 0 (as for y = 1).
    let octave = (y | 1).ilog2();
    let z = y << (63 - octave);
    let j = ((z >> 57) & 63) as usize;
    let fraction = ((z << 7) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (side * SIDE + octave as usize * PER_OCTAVE + j, fraction)
}

/// The tail probability of knot `i` of a side.
pub(super) fn knot_probability(i: usize) -> f64 {
    let (zeros, j) = (63 - i / PER_OCTAVE, i % PER_OCTAVE);
    (-(zeros as f64) - 1.0).exp2() * (1.0 + j as f64 / PER_OCTAVE as f64)
}

impl QuantileTable {
    /// Tabulates `quantile` at the knots of both tails.
    pub fn new(quantile: impl Fn(Tail) -> f64) -> Self {
        let mut knots = Vec::with_capacity(2 * SIDE);
        for upper in [false, true] {
            for i in 0..SIDE {
                knots.push(quantile(Tail {
                    upper,
                    p: knot_probability(i),
                }));
            }
        }
        Self {
            knots: knots.into(),
        }
    }

    /// The table of these knots (`2 * SIDE` of them, as [`QuantileTable::new`] makes).
    pub(super) fn from_knots(knots: Arc<[f64]>) -> Self {
        assert_eq!(knots.len(), 2 * SIDE);
        Self { knots }
    }

    /// The quantile at the uniform draw `x` (`x / 2^64`).
    #[inline(always)]
    pub fn sample(&self, x: u64) -> f64 {
        let (i, fraction) = locate(x);
        debug_assert!(i + 1 < self.knots.len());
        // SAFETY: `locate` reads the octave of a distance below 2^63, so octave <= 62 and
        // i <= side * SIDE + 62 * 64 + 63, which leaves i + 1 < 2 * SIDE = self.knots.len()
        // (`new` and `from_knots` always hold 2 * SIDE knots).
        let (a, b) = unsafe {
            (
                *self.knots.get_unchecked(i),
                *self.knots.get_unchecked(i + 1),
            )
        };
        a + fraction * (b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exponential() -> QuantileTable {
        QuantileTable::new(|t| if t.upper { -t.p.ln() } else { -(-t.p).ln_1p() })
    }

    #[test]
    fn lookups_follow_the_quantile_function() {
        let table = exponential();
        // x / 2^64 = u: check u and 1 - u across the octaves against -ln(1 - u).
        for zeros in 1..60 {
            for frac in [0.0, 0.3, 0.999] {
                let y = ((1u64 << (63 - zeros)) as f64 * (1.0 + frac)) as u64;
                let u = y as f64 / 2f64.powi(64);
                let low = table.sample(y);
                assert!(
                    (low - (-(-u).ln_1p())).abs() <= 1e-4 * u.max(1e-300),
                    "u = {u}"
                );
                let high = table.sample(!y);
                let exact = -(u.ln());
                assert!(
                    (high / exact - 1.0).abs() < 1e-4,
                    "1 - u, u = {u}: {high} vs {exact}"
                );
            }
        }
        assert!(table.sample(u64::MAX) > 43.0);
        assert!(table.sample(0) < 1e-18);
    }

    #[test]
    fn the_table_maps_uniform_draws_to_the_distribution() {
        // The fraction of draws below the exponential's quantiles matches, within 5 sigma.
        let table = exponential();
        let mut rng = crate::rng::stream(3, 0, 0);
        let n = 400_000;
        let draws: Vec<f64> = (0..n)
            .map(|_| table.sample(rand::Rng::next_u64(&mut rng)))
            .collect();
        for x in [0.01f64, 0.5, 1.0, 3.0, 8.0] {
            let p = 1.0 - (-x).exp();
            let seen = draws.iter().filter(|&&d| d <= x).count() as f64 / n as f64;
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (seen - p).abs() < 5.0 * sigma + 1e-9,
                "x = {x}: {seen} vs {p}"
            );
        }
    }
}
