//! Random streams: the generator, one independent stream per work item, and cheap Bernoulli trials.

use rand::{Rng, SeedableRng};
use thiserror::Error;

/// The generator behind every trial: Xoshiro256++, named so that its output never changes
/// underneath a sweep (unlike `StdRng`, whose algorithm may change between releases).
pub type SimRng = rand_xoshiro::Xoshiro256PlusPlus;

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The output function of SplitMix64 (Steele, Lea and Flood, 2014): a bijection on `u64`
/// with full avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 256-bit Xoshiro256++ state of work item (`cell`, `chunk`) of a sweep with `seed`.
///
/// With `γ` the golden-ratio increment `0x9e3779b97f4a7c15` and `mix` = [`mix64`]:
///
/// ```text
/// s0 = mix(seed + 1γ)
/// s1 = mix(cell  ^ mix(seed + 2γ))
/// s2 = mix(chunk ^ mix(seed + 3γ))
/// s3 = mix(s0 ^ s1.rotate_left(21) ^ s2.rotate_left(42) ^ 4γ)
/// ```
///
/// For a fixed seed, `s1` is a bijection of `cell` and `s2` of `chunk`, so no two work items
/// of a sweep ever start from the same state. The all-zero state, which Xoshiro cannot leave,
/// is replaced by `s3 = γ` (it needs one particular seed, cell and chunk at once).
pub fn stream_state(seed: u64, cell: u64, chunk: u64) -> [u64; 4] {
    let s0 = mix64(seed.wrapping_add(GOLDEN_GAMMA));
    let s1 = mix64(cell ^ mix64(seed.wrapping_add(GOLDEN_GAMMA.wrapping_mul(2))));
    let s2 = mix64(chunk ^ mix64(seed.wrapping_add(GOLDEN_GAMMA.wrapping_mul(3))));
    let mut s3 = mix64(s0 ^ s1.rotate_left(21) ^ s2.rotate_left(42) ^ GOLDEN_GAMMA.wrapping_mul(4));
    if s0 | s1 | s2 | s3 == 0 {
        s3 = GOLDEN_GAMMA;
    }
    [s0, s1, s2, s3]
}

/// The generator of work item (`cell`, `chunk`); see [`stream_state`].
pub fn stream(seed: u64, cell: u64, chunk: u64) -> SimRng {
    let mut bytes = [0u8; 32];
    for (dst, word) in bytes
        .chunks_exact_mut(8)
        .zip(stream_state(seed, cell, chunk))
    {
        dst.copy_from_slice(&word.to_le_bytes());
    }
    SimRng::from_seed(bytes)
}

/// A probability that is not in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
#[error("{0} is not a probability in [0, 1]")]
pub struct ProbabilityError(pub f64);

/// A Bernoulli trial that costs one 64-bit draw, or none at all when `p` is 0 or 1.
///
/// `happens` is true with probability `threshold / 2^64`, the nearest such value to `p`
/// (probabilities below 2^-64 count as 0).
///
/// ```
/// use coordsim::rng::{stream, Chance};
/// let crash = Chance::new(0.25).unwrap();
/// let mut rng = stream(1, 0, 0);
/// let hits = (0..10_000).filter(|_| crash.happens(&mut rng)).count();
/// assert!((2_300..2_700).contains(&hits));
/// assert!(!Chance::new(0.0).unwrap().happens(&mut rng));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chance {
    threshold: u64,
    certain: bool,
    p: f64,
}

impl Chance {
    /// A trial that succeeds with probability `p`.
    pub fn new(p: f64) -> Result<Self, ProbabilityError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(ProbabilityError(p));
        }
        // 2^64 * p, saturating: values that round up to 2^64 are certain.
        let scaled = p * 18_446_744_073_709_551_616.0;
        let (threshold, certain) = if scaled >= 18_446_744_073_709_551_616.0 {
            (0, true)
        } else {
            (scaled as u64, false)
        };
        Ok(Self {
            threshold,
            certain,
            p,
        })
    }

    /// The probability it was built from.
    pub fn probability(&self) -> f64 {
        self.p
    }

    /// True if the trial can never succeed, so callers may skip work that depends on it.
    pub fn is_never(&self) -> bool {
        self.threshold == 0 && !self.certain
    }

    /// Draws the trial; draws no random number when the outcome is certain.
    #[inline(always)]
    pub fn happens(&self, rng: &mut SimRng) -> bool {
        if self.threshold == 0 {
            return self.certain;
        }
        rng.next_u64() < self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn streams_of_distinct_work_items_differ() {
        let mut states = HashSet::new();
        let mut firsts = HashSet::new();
        for cell in 0..64 {
            for chunk in 0..64 {
                assert!(states.insert(stream_state(7, cell, chunk)));
                firsts.insert(stream(7, cell, chunk).next_u64());
            }
        }
        assert_eq!(firsts.len(), 64 * 64);
        assert_ne!(stream_state(7, 0, 0), stream_state(8, 0, 0));
        assert_eq!(stream_state(7, 3, 5), stream_state(7, 3, 5));
    }

    #[test]
    fn stream_is_pinned() {
        // Changing the mixing function changes every published number; this pins it.
        let mut rng = stream(42, 1, 2);
        let first = rng.next_u64();
        assert_eq!(stream(42, 1, 2).next_u64(), first);
        assert_eq!(stream_state(0, 0, 0)[0], mix64(GOLDEN_GAMMA));
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161d_100b_05e5);
    }

    #[test]
    fn chance_rejects_non_probabilities() {
        for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Chance::new(p).is_err(), "{p}");
        }
    }

    #[test]
    fn certain_chances_draw_nothing() {
        let mut a = stream(1, 2, 3);
        let b = a.clone();
        assert!(!Chance::new(0.0).unwrap().happens(&mut a));
        assert!(Chance::new(1.0).unwrap().happens(&mut a));
        assert_eq!(a, b);
        assert!(Chance::new(0.0).unwrap().is_never());
        assert!(!Chance::new(1e-9).unwrap().is_never());
    }

    #[test]
    fn chance_frequency_within_five_sigma() {
        let p = 0.3;
        let n = 200_000u64;
        let chance = Chance::new(p).unwrap();
        let mut rng = stream(9, 0, 0);
        let hits = (0..n).filter(|_| chance.happens(&mut rng)).count() as f64;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!((hits - n as f64 * p).abs() < 5.0 * sigma, "{hits}");
    }
}
