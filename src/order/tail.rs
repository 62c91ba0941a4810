//! A probability named by its tail.

/// A probability in one tail: `P(X <= x) = p` (lower) or `P(X > x) = p` (upper). Naming the
/// tail keeps tiny upper-tail probabilities exact, where `1 - p` would round to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    /// True for the upper tail.
    pub upper: bool,
    /// The tail probability, in (0, 1).
    pub p: f64,
}

impl Tail {
    /// `P(X <= x) = p`.
    pub fn lower(p: f64) -> Self {
        Self { upper: false, p }
    }

    /// `P(X > x) = p`.
    pub fn upper(p: f64) -> Self {
        Self { upper: true, p }
    }

    /// The same point, named by its smaller tail (probability at most 1/2).
    pub fn smaller(self) -> Self {
        if self.p > 0.5 {
            Self {
                upper: !self.upper,
                p: 1.0 - self.p,
            }
        } else {
            self
        }
    }
}
