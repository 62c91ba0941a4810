//! The frontier: the measured iron triangle of consistency, speed and cost.
//!
//! A design is on the frontier when no other design beats it on all three at once: none is
//! at least as consistent, at least as fast at the p99 and at least as cheap, and strictly
//! better in one of them. A design with no p99 (no trial succeeded) is on no frontier and
//! beats nothing.

use super::Consistency;

/// One design's corner of the triangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corner {
    /// The consistency it provides.
    pub consistency: Consistency,
    /// Its latency p99 in ms; NaN when no trial succeeded.
    pub p99_ms: f64,
    /// Its dollars per month.
    pub usd_per_month: f64,
}

impl Corner {
    /// Whether `self` beats `other`: no worse in any of the three and better in one.
    fn beats(&self, other: &Corner) -> bool {
        let no_worse = self.consistency >= other.consistency
            && self.p99_ms <= other.p99_ms
            && self.usd_per_month <= other.usd_per_month;
        let better = self.consistency > other.consistency
            || self.p99_ms < other.p99_ms
            || self.usd_per_month < other.usd_per_month;
        no_worse && better
    }
}

/// Whether each corner is on the frontier (none of the others beats it).
pub fn frontier(corners: &[Corner]) -> Vec<bool> {
    corners
        .iter()
        .map(|c| {
            c.p99_ms.is_finite()
                && c.usd_per_month.is_finite()
                && !corners.iter().any(|other| other.beats(c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corner(consistency: Consistency, p99_ms: f64, usd_per_month: f64) -> Corner {
        Corner {
            consistency,
            p99_ms,
            usd_per_month,
        }
    }

    #[test]
    fn a_design_beaten_on_all_three_is_off_the_frontier() {
        use Consistency::*;
        let corners = [
            corner(None, 1.0, 0.1),               // fastest, cheapest, weakest: on
            corner(Eventual, 2.0, 0.5),           // beaten by the linearizable one below: off
            corner(Linearizable, 2.0, 0.4),       // on
            corner(Linearizable, 3.0, 0.3),       // slower but cheaper: on
            corner(Linearizable, 3.0, 0.3),       // its twin: neither beats the other, both on
            corner(Linearizable, 4.0, 0.35),      // beaten by the one at 3.0 ms and $0.3: off
            corner(Linearizable, f64::NAN, 0.01), // no p99: off, and beats nothing
        ];
        assert_eq!(
            frontier(&corners),
            [true, false, true, true, true, false, false]
        );
    }

    #[test]
    fn higher_consistency_alone_keeps_a_design_on() {
        use Consistency::*;
        let corners = [corner(Eventual, 1.0, 1.0), corner(Byzantine, 1.0, 1.0)];
        assert_eq!(frontier(&corners), [false, true]);
    }
}
