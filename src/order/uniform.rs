//! Order statistics of uniforms: the k-th smallest of L independent uniforms, `U(k:L)`,
//! which has the Beta(k, L - k + 1) distribution.
//!
//! The k-th smallest of L draws from any distribution with quantile function Q is
//! `Q(U(k:L))`, so these are the only order statistics that need solving; `P(U(k:L) <= w)`
//! is the binomial tail `P(Bin(L, w) >= k)`.

use std::sync::OnceLock;

use rand::Rng;
use rand_distr::{Beta, Distribution};
use statrs::function::beta::beta_reg;
use statrs::function::gamma::ln_gamma;

use super::quantiles::solve_increasing;
use super::tail::Tail;
use crate::rng::SimRng;

/// A point of (0, 1) held as `w` and `1 - w`, each exact where it is small.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// The point.
    pub w: f64,
    /// `1 - w`.
    pub s: f64,
}

impl Split {
    /// The point `w`, named by its smaller tail.
    pub fn tail(self) -> Tail {
        if self.w <= self.s {
            Tail::lower(self.w)
        } else {
            Tail::upper(self.s)
        }
    }

    fn from_w(w: f64) -> Self {
        Self { w, s: 1.0 - w }
    }

    fn from_s(s: f64) -> Self {
        Self { w: 1.0 - s, s }
    }
}

/// Largest L whose binomial tails are summed term by term.
const SUMMED: u32 = 64;

/// `(P(Bin(l, w) >= k), P(Bin(l, w) < k))`, each computed from its own side so that it stays
/// accurate where it is tiny: summed term by term for small l, as regularized incomplete beta
/// functions (`P(Bin(l, w) >= k) = I_w(k, l - k + 1)`, a continued fraction) beyond.
pub fn binomial_tails(l: u32, k: u32, at: Split) -> (f64, f64) {
    if l > SUMMED {
        let (a, b) = (f64::from(k), f64::from(l - k + 1));
        return (beta_reg(a, b, at.w), beta_reg(b, a, at.s));
    }
    summed_tails(l, k, at)
}

/// [`binomial_tails`] term by term.
fn summed_tails(l: u32, k: u32, at: Split) -> (f64, f64) {
    let (ln_w, ln_s) = (at.w.ln(), at.s.ln());
    match ln_choose_rows().get(l as usize) {
        Some(row) => summed_tails_ln(row, k, ln_w, ln_s),
        None => summed_tails_ln(&ln_choose_row(l), k, ln_w, ln_s),
    }
}

/// [`summed_tails`] with `ln_choose` the row `ln C(l, j)`, j = 0..=l, at the point with
/// logarithms `ln_w` and `ln_s = ln(1 - w)`.
fn summed_tails_ln(ln_choose: &[f64], k: u32, ln_w: f64, ln_s: f64) -> (f64, f64) {
    let l = ln_choose.len() as u32 - 1;
    let (mut below, mut above) = (0.0, 0.0);
    for j in 0..=l {
        let term = (ln_choose[j as usize] + f64::from(j) * ln_w + f64::from(l - j) * ln_s).exp();
        if j < k {
            below += term;
        } else {
            above += term;
        }
    }
    (above, below)
}

/// `ln C(l, j)`, j = 0..=l, built up term by term: `ln C(l, j) = ln C(l, j - 1) +
/// ln(l - j + 1) - ln j`.
fn ln_choose_row(l: u32) -> Vec<f64> {
    let mut ln_choose = 0.0;
    (0..=l)
        .map(|j| {
            if j > 0 {
                ln_choose += f64::from(l - j + 1).ln() - f64::from(j).ln();
            }
            ln_choose
        })
        .collect()
}

/// [`ln_choose_row`] for every l up to [`SUMMED`], built once per process rather than at
/// every evaluation of a tail.
fn ln_choose_rows() -> &'static [Vec<f64>] {
    static ROWS: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    ROWS.get_or_init(|| (0..=SUMMED).map(ln_choose_row).collect())
}

/// `ln L + ln C(L - 1, k - 1)`: the constant of the density of `U(k:L)`,
/// `L C(L-1, k-1) w^(k-1) (1 - w)^(L-k)`.
fn density_scale(l: u32, k: u32) -> f64 {
    // ln C(l - 1, k - 1)
    let ln_choose = if l > SUMMED {
        ln_gamma(f64::from(l)) - ln_gamma(f64::from(k)) - ln_gamma(f64::from(l - k + 1))
    } else {
        (1..k)
            .map(|j| f64::from(l - j).ln() - f64::from(j).ln())
            .sum()
    };
    f64::from(l).ln() + ln_choose
}

/// The point where `U(k:L)` has tail probability `tail`: the quantile of Beta(k, L - k + 1),
/// in closed form for the minimum and the maximum, by Newton's method on the binomial tails
/// otherwise.
pub fn order_quantile(l: u32, k: u32, tail: Tail) -> Split {
    debug_assert!((1..=l).contains(&k));
    let tail = tail.smaller();
    let n = f64::from(l);
    // Closed forms: P(U(l:l) <= w) = w^l, P(U(1:l) > w) = (1 - w)^l.
    if k == l {
        let ln_w = if tail.upper {
            (-tail.p).ln_1p() / n
        } else {
            tail.p.ln() / n
        };
        return Split {
            w: ln_w.exp(),
            s: -ln_w.exp_m1(),
        };
    }
    if k == 1 {
        let ln_s = if tail.upper {
            tail.p.ln() / n
        } else {
            (-tail.p).ln_1p() / n
        };
        return Split {
            w: -ln_s.exp_m1(),
            s: ln_s.exp(),
        };
    }
    let (above_half, below_half) = binomial_tails(l, k, Split { w: 0.5, s: 0.5 });
    // Which side of 1/2 the answer is on, and so which of w and 1 - w to solve for.
    let (solve_for_w, target) = if tail.upper {
        if tail.p <= below_half {
            (false, tail.p)
        } else {
            (true, 1.0 - tail.p)
        }
    } else if tail.p <= above_half {
        (true, tail.p)
    } else {
        (false, 1.0 - tail.p)
    };
    let ln_target = target.ln();
    let at = |ln_v: f64| {
        let v = ln_v.exp().min(0.5);
        if solve_for_w {
            Split::from_w(v)
        } else {
            Split::from_s(v)
        }
    };
    // h(ln v) = ln P(U(k:L) <= w) (solving for w) or ln P(U(k:L) > w) (for s = 1 - w),
    // increasing in v either way.
    // The density's constant and, for small L, the tails' terms' constants are computed once
    // per quantile (the rows once per process), and ln w and ln(1 - w) once per step.
    let scale = density_scale(l, k);
    let row = ln_choose_rows().get(l as usize);
    let h = |ln_v: f64| {
        let point = at(ln_v);
        let (ln_w, ln_s) = (point.w.ln(), point.s.ln());
        let (above, below) = match row {
            Some(row) => summed_tails_ln(row, k, ln_w, ln_s),
            None => binomial_tails(l, k, point),
        };
        let mass = if solve_for_w { above } else { below };
        let v = if solve_for_w { point.w } else { point.s };
        let density = (scale + f64::from(k - 1) * ln_w + f64::from(l - k) * ln_s).exp();
        let slope = density * v / mass.max(f64::MIN_POSITIVE);
        (mass.max(f64::MIN_POSITIVE).ln() - ln_target, slope)
    };
    // Start from the tail's leading term: mass ~ C v^m with m the order of contact at 0.
    let m = f64::from(if solve_for_w { k } else { l - k + 1 });
    let start = (ln_target / m).min(0.5f64.ln());
    at(solve_increasing(h, start).0.min(0.5f64.ln()))
}

/// Draws `U(k:L)`: one 64-bit draw for the minimum and the maximum, a Beta variate
/// (Cheng's algorithms in `rand_distr`) otherwise, taken from the tail nearer to it so
/// that `1 - U` keeps its precision.
pub fn sample_order(rng: &mut SimRng, l: u64, k: u64) -> Split {
    let n = l as f64;
    if k == l || k == 1 {
        // V uniform on (0, 1]: the maximum is V^(1/l), the minimum 1 - V^(1/l).
        let v = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        let ln = v.ln() / n;
        let (near_one, far) = (ln.exp(), -ln.exp_m1());
        return if k == l {
            Split {
                w: near_one,
                s: far,
            }
        } else {
            Split {
                w: far,
                s: near_one,
            }
        };
    }
    let (a, b) = (k as f64, (l - k + 1) as f64);
    if k <= l - k + 1 {
        let w = Beta::new(a, b).expect("positive shapes").sample(rng);
        Split::from_w(w)
    } else {
        let s = Beta::new(b, a).expect("positive shapes").sample(rng);
        Split::from_s(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Beta as BetaDist, ContinuousCDF};

    #[test]
    fn the_maximum_has_a_closed_form() {
        // The maximum of 4 uniforms: P(U(4:4) <= w) = w^4.
        let at = order_quantile(4, 4, Tail::lower(0.0625));
        assert!((at.w - 0.5).abs() < 1e-15);
    }

    #[test]
    fn quantiles_match_the_beta_distribution() {
        for (l, k) in [
            (5u32, 3u32),
            (9, 2),
            (9, 8),
            (30, 16),
            (64, 33),
            (4, 4),
            (7, 1),
        ] {
            let beta = BetaDist::new(f64::from(k), f64::from(l - k + 1)).unwrap();
            for p in [1e-12, 1e-4, 0.05, 0.3, 0.5] {
                let lower = order_quantile(l, k, Tail::lower(p));
                assert!(
                    (beta.cdf(lower.w) / p - 1.0).abs() < 1e-9,
                    "({l},{k}) lower {p}"
                );
                // P(U > w) = P(1 - U < 1 - w), and 1 - U is Beta(L - k + 1, k).
                let mirror = BetaDist::new(f64::from(l - k + 1), f64::from(k)).unwrap();
                let upper = order_quantile(l, k, Tail::upper(p));
                assert!(
                    (mirror.cdf(upper.s) / p - 1.0).abs() < 1e-9,
                    "({l},{k}) upper {p}"
                );
                assert!((lower.w + lower.s - 1.0).abs() < 1e-15);
            }
        }
        // Far tails stay exact in the small coordinate.
        let deep = order_quantile(5, 3, Tail::upper(1e-40));
        let (_, below) = binomial_tails(5, 3, deep);
        assert!((below / 1e-40 - 1.0).abs() < 1e-9, "{deep:?}");
    }

    /// The tails and the density as first written: every logarithm taken where it is used.
    fn tails_and_density_by_terms(l: u32, k: u32, at: Split) -> (f64, f64, f64) {
        let (ln_w, ln_s) = (at.w.ln(), at.s.ln());
        let mut ln_choose = 0.0;
        let (mut below, mut above) = (0.0, 0.0);
        for j in 0..=l {
            if j > 0 {
                ln_choose += f64::from(l - j + 1).ln() - f64::from(j).ln();
            }
            let term = (ln_choose + f64::from(j) * ln_w + f64::from(l - j) * ln_s).exp();
            if j < k {
                below += term;
            } else {
                above += term;
            }
        }
        let ln_choose: f64 = (1..k)
            .map(|j| f64::from(l - j).ln() - f64::from(j).ln())
            .sum();
        let density = (f64::from(l).ln()
            + ln_choose
            + f64::from(k - 1) * at.w.ln()
            + f64::from(l - k) * at.s.ln())
        .exp();
        (above, below, density)
    }

    #[test]
    fn precomputed_logarithms_give_the_same_bits() {
        // The tables of ln C(l, j) and the density's constant are the sums the terms built:
        // every tail and density is bit for bit what it was with every logarithm taken anew.
        for l in 1..=SUMMED {
            for k in 1..=l {
                for w in [1e-300, 1e-12, 0.001, 0.25, 0.5, 0.75, 0.999, 1.0 - 1e-12] {
                    let at = Split::from_w(w);
                    let (above, below, density) = tails_and_density_by_terms(l, k, at);
                    let (ln_w, ln_s) = (at.w.ln(), at.s.ln());
                    let (a, b) = summed_tails_ln(&ln_choose_rows()[l as usize], k, ln_w, ln_s);
                    assert_eq!(
                        [a.to_bits(), b.to_bits()],
                        [above.to_bits(), below.to_bits()],
                        "({l},{k}) at {w}"
                    );
                    let scale = density_scale(l, k);
                    let ours = (scale + f64::from(k - 1) * ln_w + f64::from(l - k) * ln_s).exp();
                    assert_eq!(ours.to_bits(), density.to_bits(), "({l},{k}) at {w}");
                }
            }
        }
    }

    #[test]
    fn incomplete_beta_tails_agree_with_summed_terms() {
        for (l, k) in [(65u32, 33u32), (200, 101), (1000, 990), (1000, 3)] {
            for w in [1e-9, 1e-3, 0.01, 0.3, 0.5, 0.9, 0.995, 1.0 - 1e-9] {
                let at = Split::from_w(w);
                let (a, b) = binomial_tails(l, k, at);
                let (x, y) = summed_tails(l, k, at);
                for (beta, sum) in [(a, x), (b, y)] {
                    if sum > 1e-300 {
                        assert!(
                            (beta / sum - 1.0).abs() < 1e-9,
                            "({l},{k}) at {w}: {beta} vs {sum}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sampled_order_statistics_have_the_beta_mean() {
        // E[U(k:L)] = k / (L + 1); five standard errors of n draws.
        let mut rng = crate::rng::stream(5, 0, 0);
        let n = 200_000;
        for (l, k) in [(1001u32, 500u32), (50, 50), (50, 1), (1000, 990)] {
            let mean = (0..n)
                .map(|_| sample_order(&mut rng, l.into(), k.into()).w)
                .sum::<f64>()
                / n as f64;
            let (a, b) = (f64::from(k), f64::from(l - k + 1));
            let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
            let expected = a / (a + b);
            assert!(
                (mean - expected).abs() < 5.0 * sd / (n as f64).sqrt(),
                "({l},{k}): {mean}"
            );
        }
    }
}
