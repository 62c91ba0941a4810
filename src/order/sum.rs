//! The distribution of a sum of independent delays, and its quantile function: a round trip
//! lengthened by time at the nodes (a reply that arrives `d + q + p + d + q` after the request,
//! d one-way delays, q the handling of a message, p a durable write).
//!
//! Constant terms add to the sum exactly. Where the random terms are a single law, or one law
//! twice (a plain round trip), the quantiles are those of [`Quantiles::of`] or
//! [`RoundTrip::quantiles`] of the law shifted by the constants: exact (to the 1e-8 of solved
//! knots). Otherwise the random terms are put on the grid of `order::grid` (atoms exact, a
//! continuous part cut into cells of 1 ns below 2^13 ns and 2^-13 of each octave above) and
//! added two at a time in a balanced tree, the same laws first (`OnGrid::plus`); the
//! constants shift the result.
//!
//! Error: each addition puts every value within `2h` of the exact sums of the draws it stands
//! for, plus its two inputs' own errors, with `2h` at most 2^-12 of the larger input (a term
//! of at least 2^b ns, cells of `h = 2^(b-13)`) or 2 ns below 2^14 ns. The additions at one
//! level of the tree add disjoint terms, whose sums add up to at most the whole: so with m
//! random terms, a tree of depth `d = ceil(log2 m)` and m - 1 additions, every value of the
//! sum is within [`relative_error`]`(m) = d 2^-12` of the exact sums it stands for (relative,
//! to first order) plus `2 (m - 1)` ns ([`absolute_error_ns`]), and so is every quantile. Five
//! random terms (`d + q + p + d + q`) give 3 2^-12 = 7.3e-4 and 8 ns; three (random persist
//! and constant handling) 2 2^-12 = 4.9e-4 and 4 ns. In practice far finer (the tests see
//! at most 5.2e-5). A table of `Q(U(k:L))` may interpolate between values within 2^-13 more
//! (`GRID_TOLERANCE`). As for round trips on the grid, the part of a
//! continuous term beyond its 2^-70 quantiles is moved to its end cells, and cells below
//! 10^-14 of an octave's probability are dropped.

use std::sync::Arc;

use super::grid::{OnGrid, RELATIVE_ERROR};
use super::round_trip::{GRID_TOLERANCE, RoundTrip};
use super::steps::{Quantiles, Steps, decompose};
use crate::latency::Mix;

/// Where the sum's random part is exact, or how many random terms were added on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// No random term, one, or one law twice: exact.
    Exact,
    /// This many random terms (at least 2) added on the grid.
    Grid(usize),
}

/// How far, relative, a value of a sum of `m` random terms added on the grid may lie from the
/// exact sums it stands for: `ceil(log2 m) 2^-12` (0 for one term).
pub fn relative_error(m: usize) -> f64 {
    f64::from(m.max(1).next_power_of_two().trailing_zeros()) * RELATIVE_ERROR
}

/// The absolute part of that error: 2 ns per addition, `2 (m - 1)` ns.
pub fn absolute_error_ns(m: usize) -> f64 {
    2.0 * m.saturating_sub(1) as f64
}

/// The quantiles of `X_1 + ... + X_n`, `X_i` drawn from `terms[i]` independently (delays, not
/// negative), and how they were computed; `None` if a term is a law the grid does not take (an
/// HdrHistogram log beside a continuous model).
pub fn quantiles(terms: &[Mix]) -> Option<(Quantiles, Method)> {
    let mut constant = 0.0;
    let mut random: Vec<&Mix> = Vec::new();
    for term in terms {
        match term.point() {
            Some(x) => constant += x,
            None => random.push(term),
        }
    }
    let same = |a: &Mix, b: &Mix| format!("{a:?}") == format!("{b:?}");
    match random.as_slice() {
        [] => Some((Quantiles::Point(constant), Method::Exact)),
        [x] => Some((Quantiles::of(&x.shifted_by(constant))?, Method::Exact)),
        // Half the constants on each draw; a whole number of ns, so that a law's runs of
        // integers stay integers.
        [x, y] if same(x, y) && (constant / 2.0).fract() == 0.0 => Some((
            RoundTrip::quantiles(&x.shifted_by(constant / 2.0))?,
            Method::Exact,
        )),
        _ => {
            let m = random.len();
            let values = on_grid(&random)?;
            let atoms = values.values().map(|(x, p)| (x + constant, 1, p)).collect();
            let steps = Steps::new(atoms, None, GRID_TOLERANCE);
            Some((Quantiles::Steps(Arc::new(steps)), Method::Grid(m)))
        }
    }
}

/// The sum of `terms` (at least two) on the grid: equal laws side by side, added two at a
/// time, level by level.
fn on_grid(terms: &[&Mix]) -> Option<OnGrid> {
    let keys: Vec<String> = terms.iter().map(|t| format!("{t:?}")).collect();
    let mut order: Vec<usize> = (0..terms.len()).collect();
    // Stable: equal laws end up next to each other, in the order they first appear.
    order.sort_by_key(|&i| keys.iter().position(|k| *k == keys[i]));
    let mut level: Vec<OnGrid> = Vec::with_capacity(terms.len());
    for i in order {
        let split = decompose(terms[i])?;
        let continuous = split.continuous.as_ref().map(|(w, law)| (*w, law));
        level.push(OnGrid::new(&split.runs, continuous));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => a.plus(b),
                [a] => a.clone(),
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level.pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::{Constant, Empirical, Exponential, Latency};
    use crate::order::Tail;

    fn law(latency: Latency) -> Mix {
        latency.law().unwrap()
    }

    fn exponential(mean_ms: f64) -> Mix {
        law(Exponential::new(mean_ms).unwrap().into())
    }

    /// Tail probabilities from 1/2 down to `deepest`, about five per factor of e.
    fn tails(deepest: f64) -> Vec<f64> {
        (0..)
            .map(|e| 0.5 * (-f64::from(e) / 5.0).exp())
            .take_while(|&p| p >= deepest)
            .collect()
    }

    /// Checks that the exact quantile at each tail probability lies within the bound of
    /// `method` of the computed one: `P(S < lo) <= p <= P(S <= hi)` (lower tail) or
    /// `P(S > hi) <= p <= P(S >= lo)` (upper), `lo` and `hi` the computed quantile less and
    /// plus the bound, each probability given `slack` (relative) for the reference's
    /// rounding. `exact(x, upper, strict)` is `P(S < x)`, `P(S <= x)`, `P(S > x)` or
    /// `P(S >= x)`. Returns the largest relative distance seen between the computed quantile and
    /// the nearest point the bound allows (0 when within 1 ns), as a measure of how tight it is.
    fn assert_within_bound(
        q: &Quantiles,
        method: Method,
        exact: impl Fn(f64, bool, bool) -> f64,
        deepest: f64,
        slack: f64,
    ) -> f64 {
        let (rel, abs) = match method {
            Method::Exact => (1e-7, 1.0),
            Method::Grid(m) => (relative_error(m), absolute_error_ns(m)),
        };
        let mut worst = 0.0f64;
        for p in tails(deepest) {
            for upper in [false, true] {
                let x = q.at(Tail { upper, p });
                let (lo, hi) = (x * (1.0 - rel) - abs, x * (1.0 + rel) + abs);
                let ok = if upper {
                    exact(hi, true, true) <= p * (1.0 + slack)
                        && exact(lo, true, false) >= p * (1.0 - slack)
                } else {
                    exact(lo, false, true) <= p * (1.0 + slack)
                        && exact(hi, false, false) >= p * (1.0 - slack)
                };
                assert!(
                    ok,
                    "{method:?} upper {upper} p {p}: {x}, exact tails at {lo}: {} {}, at {hi}: {} {}",
                    exact(lo, upper, true),
                    exact(lo, upper, false),
                    exact(hi, upper, true),
                    exact(hi, upper, false),
                );
                // How close to the bound: bisect for the smallest band around x that holds the
                // exact quantile.
                let (mut a, mut b) = (0.0, 1.0);
                for _ in 0..40 {
                    let f = 0.5 * (a + b);
                    let (lo, hi) = (x - f * (x * rel + abs), x + f * (x * rel + abs));
                    let inside = if upper {
                        exact(hi, true, true) <= p * (1.0 + slack)
                            && exact(lo, true, false) >= p * (1.0 - slack)
                    } else {
                        exact(lo, false, true) <= p * (1.0 + slack)
                            && exact(hi, false, false) >= p * (1.0 - slack)
                    };
                    if inside { b = f } else { a = f }
                }
                let distance = b * (x * rel + abs);
                if distance > 1.0 {
                    worst = worst.max(distance / x);
                }
            }
        }
        worst
    }

    /// An empirical law of the integers (ns) `values`, each equally likely.
    fn sample(values: &[u64]) -> Mix {
        let ms: Vec<f64> = values.iter().map(|&v| v as f64 / 1e6).collect();
        law(Empirical::from_values_ms(&ms).unwrap().into())
    }

    /// `n` distinct integers from `[low, high)`, drawn with a seeded generator.
    fn distinct(n: usize, low: u64, high: u64, seed: u64) -> Vec<u64> {
        use rand::RngExt;
        let mut rng = crate::rng::stream(seed, 0, 0);
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < n {
            seen.insert(rng.random_range(low..high));
        }
        seen.into_iter().collect()
    }

    /// The exact law of a sum of independent laws of integers (ns), each given as
    /// `(value, probability)`: its probabilities at 0, 1, 2, ... ns, by direct convolution.
    fn exact_sum(terms: &[Vec<(u64, f64)>]) -> Vec<f64> {
        let mut pmf = vec![1.0];
        for term in terms {
            let top = term.iter().map(|a| a.0).max().unwrap() as usize;
            let mut next = vec![0.0; pmf.len() + top];
            for &(x, p) in term {
                let x = x as usize;
                for (n, &q) in next[x..x + pmf.len()].iter_mut().zip(&pmf) {
                    *n += p * q;
                }
            }
            pmf = next;
        }
        pmf
    }

    #[test]
    fn sums_of_many_atoms_are_within_their_bound() {
        // One-way delays: 5,000 distinct values from 1 to 40 us, and 1 us exactly for a fifth
        // of the sample (a heavy atom); handling: 4,500 distinct values below 10 us; a write:
        // 4,200 distinct values from 0.5 to 60 us. The reply's time d + q + p + d + q is
        // computed on the grid (five random terms: within 3 2^-12 and 8 ns) and checked
        // against the exact law, convolved over every integer.
        let mut d = distinct(5_000, 1_000, 40_000, 1);
        d.extend(std::iter::repeat_n(1_000, 1_250));
        let q = distinct(4_500, 0, 10_000, 2);
        let p = distinct(4_200, 500, 60_000, 3);
        let weights = |values: &[u64]| -> Vec<(u64, f64)> {
            let mut counts = std::collections::BTreeMap::new();
            for &v in values {
                *counts.entry(v).or_insert(0u64) += 1;
            }
            let n = values.len() as f64;
            counts.into_iter().map(|(v, c)| (v, c as f64 / n)).collect()
        };
        let (wd, wq, wp) = (weights(&d), weights(&q), weights(&p));
        let pmf = exact_sum(&[wd.clone(), wd, wq.clone(), wp, wq]);
        let mut below = vec![0.0; pmf.len() + 1];
        for (i, &m) in pmf.iter().enumerate() {
            below[i + 1] = below[i] + m;
        }
        let mut above = vec![0.0; pmf.len() + 1];
        for i in (0..pmf.len()).rev() {
            above[i] = above[i + 1] + pmf[i];
        }
        // P(S <= x) is below[floor(x) + 1]; P(S < x) is below[ceil(x)].
        let at = |i: f64| (i.max(0.0) as usize).min(pmf.len());
        let exact = |x: f64, upper: bool, strict: bool| match (upper, strict) {
            (false, true) => below[at(x.ceil())],
            (false, false) => below[at(x.floor() + 1.0)],
            (true, true) => above[at(x.floor() + 1.0)],
            (true, false) => above[at(x.ceil())],
        };
        let (d, q, p) = (sample(&d), sample(&q), sample(&p));
        let (sum, method) = quantiles(&[d.clone(), q.clone(), p, d, q]).unwrap();
        assert_eq!(method, Method::Grid(5));
        assert_eq!(relative_error(5), 3.0 / 4096.0);
        assert_eq!(absolute_error_ns(5), 8.0);
        let worst = assert_within_bound(&sum, method, exact, 1e-6, 1e-9);
        eprintln!(
            "atoms on the grid: worst distance {worst:.2e} (bound {:.2e})",
            3.0 / 4096.0
        );
    }

    /// `P(S <= x)` or `P(S > x)` of the sum of exponentials of rates `rates` (per ns), all
    /// distinct: `P(S > x) = Σ_i C_i e^(-r_i x)`, `C_i = Π_{j != i} r_j / (r_j - r_i)`.
    fn hypoexponential(rates: &[f64], x: f64, upper: bool) -> f64 {
        if x <= 0.0 {
            return if upper { 1.0 } else { 0.0 };
        }
        let c = |i: usize| -> f64 {
            rates
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &r)| r / (r - rates[i]))
                .product()
        };
        (0..rates.len())
            .map(|i| {
                let tail = if upper {
                    (-rates[i] * x).exp()
                } else {
                    -(-rates[i] * x).exp_m1()
                };
                c(i) * tail
            })
            .sum()
    }

    /// `P(S <= x)` or `P(S > x)` of the sum of n exponentials of mean m (ns): Erlang(n),
    /// `P(S > x) = e^-y Σ_{k<n} y^k / k!`, `P(S <= x) = e^-y Σ_{k>=n} y^k / k!` (y = x / m).
    fn erlang(n: u32, m: f64, x: f64, upper: bool) -> f64 {
        let y = (x / m).max(0.0);
        let mut term = (-y).exp();
        let mut sum = 0.0;
        for k in 0..n + 200 {
            if k > 0 {
                term *= y / f64::from(k);
            }
            if (k < n) == upper {
                sum += term;
            }
        }
        sum
    }

    #[test]
    fn sums_of_exponentials_are_within_their_bound() {
        // Five exponentials of one mean, d + d + d + d + d: Erlang(5). Then a round trip of
        // exponentials (mean 0.5 ms), an exponential write (2 ms) and handling (0.05 ms, 0.2 ms
        // for the two ends here, so that every rate differs): hypoexponential. Both on the
        // grid, within 3 2^-12 and 8 ns, at tail probabilities down to 1e-9 (upper) and 1e-6
        // (lower, where the closed form's alternating sum keeps 1e-8).
        let e = exponential(0.5);
        let (erl, method) = quantiles(&[e.clone(), e.clone(), e.clone(), e.clone(), e]).unwrap();
        assert_eq!(method, Method::Grid(5));
        let worst = assert_within_bound(
            &erl,
            method,
            |x, upper, _| erlang(5, 0.5e6, x, upper),
            1e-9,
            1e-8,
        );
        eprintln!("Erlang(5) on the grid: worst distance {worst:.2e}");
        let means = [0.5, 0.05, 2.0, 0.45, 0.2];
        let rates: Vec<f64> = means.iter().map(|m| 1.0 / (m * 1e6)).collect();
        let terms: Vec<Mix> = means.iter().map(|&m| exponential(m)).collect();
        let (hypo, method) = quantiles(&terms).unwrap();
        assert_eq!(method, Method::Grid(5));
        let worst = assert_within_bound(
            &hypo,
            method,
            |x, upper, _| hypoexponential(&rates, x, upper),
            1e-6,
            1e-7,
        );
        eprintln!("hypoexponential on the grid: worst distance {worst:.2e}");
    }

    #[test]
    fn constants_shift_exactly() {
        let c = |ms: f64| law(Constant::new(ms).unwrap().into());
        // Constants alone: a point.
        let (q, method) = quantiles(&[c(1.0), c(0.25), c(2.0)]).unwrap();
        assert_eq!(method, Method::Exact);
        assert_eq!(q.at(Tail::upper(1e-9)), 3.25e6);
        // One random term: its own quantiles, shifted.
        let (q, method) = quantiles(&[c(1.0), exponential(2.0), c(0.5)]).unwrap();
        assert_eq!(method, Method::Exact);
        for p in tails(1e-12) {
            let x = q.at(Tail::upper(p)) - 1.5e6;
            assert!((x / (-2e6 * p.ln()) - 1.0).abs() < 1e-12, "{p}: {x}");
        }
        // One law twice beside constants: a round trip, shifted (Gamma(2) of the exponential).
        let (q, method) =
            quantiles(&[exponential(0.5), c(0.25), exponential(0.5), c(2.0)]).unwrap();
        assert_eq!(method, Method::Exact);
        for p in tails(1e-12) {
            for upper in [false, true] {
                let x = q.at(Tail { upper, p });
                let tail = erlang(2, 0.5e6, x - 2.25e6, upper);
                assert!((tail / p - 1.0).abs() < 1e-6, "{upper} {p}: {x}, {tail}");
            }
        }
        // More random terms on the grid: the constants shift the grid's sum exactly.
        let terms = [exponential(0.5), exponential(0.05), exponential(2.0)];
        let (plain, _) = quantiles(&terms).unwrap();
        let mut shifted = terms.to_vec();
        shifted.insert(1, c(3.0));
        let (q, method) = quantiles(&shifted).unwrap();
        assert_eq!(method, Method::Grid(3));
        for p in tails(1e-9) {
            for upper in [false, true] {
                let tail = Tail { upper, p };
                assert_eq!(q.at(tail), plain.at(tail) + 3e6);
            }
        }
        let rates = [2e-6, 2e-5, 5e-7];
        let worst = assert_within_bound(
            &plain,
            Method::Grid(3),
            |x, upper, _| hypoexponential(&rates, x, upper),
            1e-6,
            1e-7,
        );
        eprintln!("three exponentials on the grid: worst distance {worst:.2e}");
    }

    #[test]
    fn the_bound_grows_with_the_depth_of_the_tree() {
        assert_eq!(relative_error(1), 0.0);
        assert_eq!(relative_error(2), RELATIVE_ERROR);
        assert_eq!(relative_error(3), 2.0 * RELATIVE_ERROR);
        assert_eq!(relative_error(4), 2.0 * RELATIVE_ERROR);
        assert_eq!(relative_error(5), 3.0 * RELATIVE_ERROR);
        assert_eq!(absolute_error_ns(3), 4.0);
        // A law the grid cannot take: a histogram log (ranges of values) beside a continuous
        // model.
        let log = crate::protocols::tests::histogram(1_000, 1);
        let beside = law(Latency::Mixture(
            crate::latency::Mixture::new(vec![
                (0.5, log),
                (0.5, Exponential::new(1.0).unwrap().into()),
            ])
            .unwrap(),
        ));
        let e = exponential(1.0);
        assert!(quantiles(&[beside, e.clone(), e]).is_none());
    }
}
