//! An order statistic of a law with atoms, tabulated for one 64-bit draw.

use std::sync::Arc;

use super::steps::{Item, Steps};
use super::table::{QuantileTable, SIDE, knot_probability, locate};
use super::tail::Tail;
use super::uniform::Split;

/// `Q(U(k:L))` for a law with atoms ([`Steps`]), at the knots of a [`super::QuantileTable`]
/// (64 per octave of tail probability, down to 2^-64 on both sides) and between them.
///
/// Between two knots whose values are the same atom, the value is that atom; between two
/// knots in one continuous stretch (or one bucket of equally likely integers, less than 1 ns
/// off), linear interpolation, as a `QuantileTable` does. Where
/// the interval holds the edge of an atom or a gap of the support, interpolating the values
/// would smear the atom over the gap, so the table interpolates the uniform order statistic
/// `U(k:L)` instead (smooth, as accurate as a `QuantileTable`'s values) and applies `Q`
/// itself: the value is always one the law takes, each atom drawn with its probability. For a
/// round trip computed on a grid (whose values are within its error anyway), intervals where
/// the straight line between the knots stays within the grid's error of every value are
/// interpolated.
#[derive(Debug, Clone)]
pub struct StepTable {
    /// `Q(U(k:L))` at the knots: the lower tail's in increasing probability, then the upper
    /// tail's.
    knots: Arc<[f64]>,
    /// At each knot, `U(k:L)` (as `w` and `1 - w`) and the piece of the law that `Q` takes
    /// it to.
    points: Arc<[(f64, f64, u32)]>,
    /// Bit i: the interval from knot i to knot i + 1 needs `Q` itself.
    exact: Arc<[u64]>,
    steps: Arc<Steps>,
}

impl StepTable {
    /// The table of `Q(order(tail))`, `order` the quantile function of `U(k:L)`.
    pub fn new(steps: Arc<Steps>, order: impl Fn(Tail) -> Split) -> Self {
        let mut knots = Vec::with_capacity(2 * SIDE);
        let mut points = Vec::with_capacity(2 * SIDE);
        for upper in [false, true] {
            for i in 0..SIDE {
                let at = order(Tail {
                    upper,
                    p: knot_probability(i),
                });
                let tail = at.tail();
                let piece = steps.index(tail);
                knots.push(steps.within(piece, tail));
                points.push((at.w, at.s, piece as u32));
            }
        }
        let mut exact = vec![0u64; (2 * SIDE).div_ceil(64)];
        for side in 0..2 {
            for i in side * SIDE..(side + 1) * SIDE - 1 {
                if needs_exact(&steps, &knots, &points, i, side == 1) {
                    exact[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Self {
            knots: knots.into(),
            points: points.into(),
            exact: exact.into(),
            steps,
        }
    }

    /// The same table as a [`QuantileTable`] when no interval needs `Q` itself (every value
    /// interpolates between its knots), which samples with fewer instructions.
    pub fn to_plain(&self) -> Option<QuantileTable> {
        self.exact
            .iter()
            .all(|&bits| bits == 0)
            .then(|| QuantileTable::from_knots(self.knots.clone()))
    }

    /// The order statistic at the uniform draw `x` (`x / 2^64`).
    #[inline(always)]
    pub fn sample(&self, x: u64) -> f64 {
        let (i, fraction) = locate(x);
        let (a, b) = (self.knots[i], self.knots[i + 1]);
        if (self.exact[i / 64] >> (i % 64)) & 1 == 0 {
            return a + fraction * (b - a);
        }
        self.exactly(i, fraction)
    }

    /// `Q` at `U(k:L)` interpolated between knots `i` and `i + 1`.
    #[inline]
    fn exactly(&self, i: usize, fraction: f64) -> f64 {
        let (w0, s0, k0) = self.points[i];
        let (w1, s1, k1) = self.points[i + 1];
        let w = w0 + fraction * (w1 - w0);
        let s = s0 + fraction * (s1 - s0);
        let tail = if w <= s {
            Tail::lower(w)
        } else {
            Tail::upper(s)
        };
        self.steps
            .at_between(tail, k0.min(k1) as usize, k0.max(k1) as usize)
    }
}

/// Whether the interval from knot `i` to `i + 1` needs `Q` itself: it holds the edge of an
/// atom or a gap, and the straight line between its knots strays from some value of the law
/// there by more than the law's tolerance.
fn needs_exact(
    steps: &Steps,
    knots: &[f64],
    points: &[(f64, f64, u32)],
    i: usize,
    upper_side: bool,
) -> bool {
    let (k0, k1) = (points[i].2 as usize, points[i + 1].2 as usize);
    let items = steps.items();
    if k0 == k1 {
        // One atom (flat), one continuous stretch (smooth), or one range of equally likely
        // integers (Q a staircase of unit steps, from which the line strays by less than 1 ns).
        return false;
    }
    let tolerance = steps.tolerance();
    if tolerance == 0.0 {
        return true;
    }
    let (lo, hi) = (k0.min(k1), k0.max(k1));
    let (a, b) = (knots[i], knots[i + 1]);
    let (w0, s0, _) = points[i];
    let (w1, s1, _) = points[i + 1];
    let lower = w0 + w1 <= s0 + s1;
    // Where the draw crosses from piece k to piece k + 1, as a fraction of the interval.
    let boundary = |k: usize| -> f64 {
        let c = steps.cumulative(k, !lower);
        let t = if lower {
            (c - w0) / (w1 - w0)
        } else {
            (c - s0) / (s1 - s0)
        };
        t.clamp(0.0, 1.0)
    };
    // Piece lo is entered at fraction 0 on the lower side (the draw's u increases), 1 on the
    // upper side.
    let (start, end) = if upper_side { (1.0, 0.0) } else { (0.0, 1.0) };
    for (k, item) in items.iter().enumerate().take(hi + 1).skip(lo) {
        let Item::Run { low: x, count: 1 } = *item else {
            return true;
        };
        let from = if k == lo { start } else { boundary(k - 1) };
        let to = if k == hi { end } else { boundary(k) };
        for t in [from, to] {
            if (a + t * (b - a) - x).abs() > tolerance * x {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::tests::parse;
    use crate::order::uniform::order_quantile;

    fn steps(text: &str, round_trip: bool) -> Arc<Steps> {
        let law = parse(text).unwrap().law().unwrap();
        Arc::new(if round_trip {
            Steps::round_trip(&law).unwrap()
        } else {
            Steps::one_way(&law).unwrap()
        })
    }

    #[test]
    fn atoms_come_out_with_their_probabilities() {
        // The slowest of 3 round trips of the tail-at-scale mixture: 2 ms with probability
        // 0.9801^3, 1001 ms with (0.9801 + 0.0198)^3 - 0.9801^3, 2000 ms with the rest.
        let rt = steps(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.99, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.01, of = { kind = \"constant\", ms = 1000 } },\n]",
            true,
        );
        let table = StepTable::new(rt, |tail| order_quantile(3, 3, tail));
        let mut rng = crate::rng::stream(5, 0, 0);
        let n = 1_000_000u64;
        let mut counts = [0u64; 3];
        for _ in 0..n {
            let x = table.sample(rand::Rng::next_u64(&mut rng));
            let slot = [2e6, 1.001e9, 2e9]
                .iter()
                .position(|&v| v == x)
                .unwrap_or_else(|| panic!("{x} is no value of the law"));
            counts[slot] += 1;
        }
        let p2 = 0.9801f64.powi(3);
        let p1001 = 0.9999f64.powi(3) - p2;
        crate::model::stats::assert_rate(counts[0], n, p2);
        crate::model::stats::assert_rate(counts[1], n, p1001);
        crate::model::stats::assert_rate(counts[2], n, 1.0 - p2 - p1001);
    }

    #[test]
    fn an_empirical_maximum_takes_only_sample_values() {
        // The largest of 20 draws from 50 values 1..=50 ms: P(max <= j) = (j / 50)^20.
        let values: Vec<f64> = (1..=50).map(f64::from).collect();
        let e = crate::latency::Empirical::from_values_ms(&values).unwrap();
        let law = crate::latency::Latency::from(e).law().unwrap();
        let table = StepTable::new(Arc::new(Steps::one_way(&law).unwrap()), |tail| {
            order_quantile(20, 20, tail)
        });
        let mut rng = crate::rng::stream(6, 0, 0);
        let n = 400_000u64;
        let mut counts = [0u64; 51];
        for _ in 0..n {
            let x = table.sample(rand::Rng::next_u64(&mut rng));
            assert_eq!(x % 1e6, 0.0, "{x}");
            counts[(x / 1e6) as usize] += 1;
        }
        for j in 35..=50 {
            let p = (f64::from(j) / 50.0).powi(20) - (f64::from(j - 1) / 50.0).powi(20);
            crate::model::stats::assert_rate(counts[j as usize], n, p);
        }
    }

    #[test]
    fn tables_of_grid_round_trips_stay_within_their_bound() {
        // The 3rd fastest of 5 round trips of 2,000 distinct measurements (on the grid):
        // every draw within 1.5 2^-12 of the exact order statistic of the same uniform draw,
        // Q(U(3:5)) with Q from the sorted 4 million sums.
        let latency = crate::protocols::tests::empirical(2_000, 23, 0.0);
        let crate::latency::Latency::Empirical(e) = &latency else {
            unreachable!()
        };
        let values: Vec<f64> = e
            .runs()
            .iter()
            .flat_map(|r| std::iter::repeat_n(r.0 as f64, r.2 as usize))
            .collect();
        assert_eq!(values.len(), 2_000);
        let mut sums: Vec<f64> = values
            .iter()
            .flat_map(|x| values.iter().map(move |y| x + y))
            .collect();
        sums.sort_by(f64::total_cmp);
        let steps = Arc::new(Steps::round_trip(&latency.law().unwrap()).unwrap());
        let table = StepTable::new(steps, |tail| order_quantile(5, 3, tail));
        let bound = 1.5 / 4096.0;
        let mut rng = crate::rng::stream(9, 0, 0);
        let mut worst = 0.0f64;
        for _ in 0..100_000 {
            let x = rand::Rng::next_u64(&mut rng);
            let v = x as f64 / 2f64.powi(64);
            if !(1e-6..=1.0 - 1e-6).contains(&v) {
                continue;
            }
            let tail = if v <= 0.5 {
                Tail::lower(v)
            } else {
                Tail::upper(1.0 - v)
            };
            let u = order_quantile(5, 3, tail).w;
            let exact = sums[((u * sums.len() as f64).ceil() as usize).clamp(1, sums.len()) - 1];
            worst = worst.max((table.sample(x) - exact).abs() / exact);
        }
        assert!(worst <= bound, "{worst}");
    }

    #[test]
    fn atoms_beside_a_continuous_part_keep_their_probability() {
        // Half at 1 ms, half exponential: the minimum of 2 one-way delays is exactly 1 ms with
        // probability P(both >= 1 ms) - P(both > 1 ms) = (1/2 + e^-1/2)^2 - (e^-1/2)^2.
        let one_way = steps(
            "kind = \"mixture\"\ncomponents = [\n\
             { weight = 0.5, of = { kind = \"constant\", ms = 1 } },\n\
             { weight = 0.5, of = { kind = \"exponential\", mean_ms = 1 } },\n]",
            false,
        );
        let table = StepTable::new(one_way, |tail| order_quantile(2, 1, tail));
        let mut rng = crate::rng::stream(7, 0, 0);
        let n = 1_000_000u64;
        let (mut at, mut below) = (0u64, 0u64);
        for _ in 0..n {
            let x = table.sample(rand::Rng::next_u64(&mut rng));
            at += u64::from(x == 1e6);
            below += u64::from(x < 1e6);
        }
        let e = (-1f64).exp();
        crate::model::stats::assert_rate(at, n, (0.5 + 0.5 * e).powi(2) - (0.5 * e).powi(2));
        crate::model::stats::assert_rate(below, n, 1.0 - (0.5 + 0.5 * e).powi(2));
    }
}
