//! Round trips of discrete laws with many values, convolved on a grid.
//!
//! The sum of two draws from a law of n values takes up to n(n + 1)/2 values: five billion
//! for an empirical sample of 100,000. Instead, the values are split into octaves of
//! nanoseconds, `[2^b, 2^(b+1))` (and everything below 2^13 ns as one), and the sums whose
//! larger term lies in octave b are convolved on a grid of 2^13 cells per octave, cells of
//! `h = 2^(b-13)` ns (1 ns below 2^14 ns, where the grid is exact): both terms binned by cell,
//! the sum's cell the sum of theirs, by fast Fourier transform. Each cell of sums becomes one
//! value, the mean of the sums it holds, with their probability: every sum lies within `2h`
//! of it, and the sum is at least `2^b`, so every value is within 2^-12 (relative) of the sums
//! it stands for, twice finer than the 3 significant digits the latency histograms keep.
//! Sums of two of the heaviest atoms (probability at least 2^-12 each) are kept exact, so that
//! a law with both many values and heavy atoms keeps its atoms.
//!
//! Many atoms beside a continuous part ([`round_trip_beside`]) take the same grid: the
//! continuous part becomes one value per cell of the finest grid its values fall on (1 ns
//! below 2^13 ns, `2^(b-13)` ns in octave b), the cell's probability at a point within it.
//! Only a sum's cell enters the convolution, so each value is again within `2h` of the exact
//! sums it stands for: within 2^-12 relative, or 2 ns below 2^14 ns. The part's mass beyond
//! probability 2^-70 at either end (and above the longest draw, [`MAX_DRAW_NS`], where draws
//! are capped too) goes to its first or last cell. Cells of sums below 10^-14 of the
//! probability of the octave convolved are dropped as the transform's rounding noise (at most
//! 3.3e-10 of it over its 2^15 cells), so that tails stay resolved far below an absolute floor.

use super::steps::{EXACT, Run};
use crate::latency::{Law, MAX_DRAW_NS, Mix};

/// Cells per octave: 2^13.
const CELLS_LOG2: u32 = 13;
const CELLS: usize = 1 << CELLS_LOG2;
/// The transform's length: the convolution of an octave's 2^13 cells with the 2^14 cells
/// below its top has 3 * 2^13 - 1 terms.
const LEN: usize = 4 * CELLS;

/// How far (relative) a value of a round trip on the grid may lie from the sums it stands
/// for: `2h` against a sum of at least `2^13 h`.
pub const RELATIVE_ERROR: f64 = 1.0 / 4096.0;

/// Atoms at least this likely have their pairwise sums computed exactly.
const HEAVY: f64 = 1.0 / 4096.0;

/// Cells whose probability, as the transform gives it, is below this are rounding noise
/// (about 1e-16 of the octave's total) or sums too unlikely to matter (a sample of 10^7
/// measurements makes pairs of probability 10^-14).
const NOISE: f64 = 1e-14;

/// The octave of a value: `[2^b, 2^(b+1))`, or 12 for everything below 2^13.
fn octave(x: f64) -> u32 {
    if x < CELLS as f64 {
        CELLS_LOG2 - 1
    } else {
        (x as u64).ilog2()
    }
}

/// Octave `b` on its grid: cells of width `h`, the octave's cells being `offset..offset +
/// CELLS` of that grid, from `start` to `end` ns (below 2^13 ns, one grid of 1 ns from 0).
struct Octave {
    h: f64,
    offset: usize,
    start: f64,
    end: f64,
}

impl Octave {
    fn of(b: u32) -> Self {
        let base = b < CELLS_LOG2;
        let h = if base {
            1.0
        } else {
            (1u64 << (b - CELLS_LOG2)) as f64
        };
        let offset = if base { 0 } else { CELLS };
        Self {
            h,
            offset,
            start: offset as f64 * h,
            end: (offset + CELLS) as f64 * h,
        }
    }
}

/// The round trip of the law made of `runs` (sorted, disjoint): values with their
/// probabilities, in increasing order.
pub fn round_trip(runs: &[Run]) -> Vec<(f64, f64)> {
    convolve(runs, runs, Floor::Absolute)
}

/// The round trip of the atoms `atoms` (sorted, distinct) beside a continuous part of
/// probability `weight`, the law `continuous`: values with their probabilities, in increasing
/// order, each within 2^-12 (relative) or 2 ns of the exact sums it stands for.
pub fn round_trip_beside(atoms: &[Run], weight: f64, continuous: &Mix) -> Vec<(f64, f64)> {
    let mut all = atoms.to_vec();
    all.extend(cells(continuous, weight));
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    convolve(&all, atoms, Floor::Relative)
}

/// A law as the grid convolves it with another ([`OnGrid::plus`]): its values in increasing
/// order (atoms, runs of integers, a continuous part's cells, or the values of a sum computed
/// here), and those of them that are exact atoms (a law's own, or sums of exact atoms), whose
/// sums with the other law's heavy atoms are kept exact.
#[derive(Debug, Clone)]
pub struct OnGrid {
    values: Vec<Run>,
    exact: Vec<Run>,
}

impl OnGrid {
    /// The law of the runs `runs` (sorted, disjoint) beside a continuous part of probability
    /// `weight`, the law `continuous`, cut into the finest grid's cells (as in
    /// [`round_trip_beside`]). Values must not be negative.
    pub fn new(runs: &[Run], continuous: Option<(f64, &Mix)>) -> Self {
        let mut values = runs.to_vec();
        if let Some((weight, law)) = continuous {
            values.extend(cells(law, weight));
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let exact = runs.iter().copied().filter(|r| r.1 == 1).collect();
        Self { values, exact }
    }

    /// The values with their probabilities, in increasing order.
    pub fn values(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.values.iter().map(|&(x, count, p)| {
            debug_assert_eq!(count, 1, "a sum's values are single");
            (x, p)
        })
    }

    /// The law of X + Y, X drawn from `self` and Y from `other` independently.
    ///
    /// A pair of values goes to the octave of the larger, `[2^b, 2^(b+1))` (everything below
    /// 2^13 ns as one): both are binned into that octave's cells of `h = 2^(b-13)` ns (1 ns
    /// below 2^14 ns), and the pair's sum into the cell that is the sum of theirs, by fast
    /// Fourier transform, as for a round trip ([`round_trip`]); each cell of sums becomes one
    /// value, the mean of the sums it holds. A sum lies within 2h of its cell's value, and a
    /// value that stands for draws of a cell (a continuous part's, or a coarser one that holds
    /// it) lies in the same cell as those draws: so every value is within `2h` of the exact
    /// sums of the draws it stands for, plus how far `self`'s and `other`'s values were from
    /// theirs. With the larger term at least 2^b, `2h` is at most 2^-12 of the sum, or 2 ns
    /// below 2^14 ns ([`RELATIVE_ERROR`]). Sums of two heavy exact atoms (probability at least
    /// 2^-12, at most [`EXACT`] of each law) are kept exact, as in a round trip. Cells below
    /// 10^-14 of the probability of the octave's sums are dropped as the transform's rounding
    /// noise.
    pub fn plus(&self, other: &OnGrid) -> OnGrid {
        let heavy = |law: &OnGrid| {
            let mut heavy: Vec<(f64, f64)> = law
                .exact
                .iter()
                .filter(|r| r.2 >= HEAVY)
                .map(|r| (r.0, r.2))
                .collect();
            heavy.sort_by(|a, b| b.1.total_cmp(&a.1));
            heavy.truncate(EXACT);
            heavy
        };
        let (heavy_a, heavy_b) = (heavy(self), heavy(other));
        let mut pairs: Vec<(f64, f64, u32, f64, f64)> =
            Vec::with_capacity(heavy_a.len() * heavy_b.len());
        for &(x, p) in &heavy_a {
            for &(y, q) in &heavy_b {
                pairs.push((x + y, p * q, octave(x.max(y)), x, y));
            }
        }
        let mut out: Vec<(f64, f64)> = Vec::new();
        let (Some(first_a), Some(first_b)) = (self.values.first(), other.values.first()) else {
            return Self {
                values: Vec::new(),
                exact: Vec::new(),
            };
        };
        let end = |law: &OnGrid| {
            let last = law.values.last().expect("not empty");
            last.0 + (last.1 - 1) as f64
        };
        let top = octave(end(self).max(end(other)));
        for b in octave(first_a.0.min(first_b.0))..=top {
            convolve_two(&self.values, &other.values, b, &pairs, &mut out);
        }
        let merge = |mut values: Vec<(f64, f64)>| {
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut merged: Vec<Run> = Vec::with_capacity(values.len());
            for (x, p) in values {
                match merged.last_mut() {
                    Some(last) if last.0 == x => last.2 += p,
                    _ => merged.push((x, 1, p)),
                }
            }
            merged
        };
        let exact: Vec<(f64, f64)> = pairs.iter().map(|p| (p.0, p.1)).collect();
        out.extend_from_slice(&exact);
        Self {
            values: merge(out),
            exact: merge(exact),
        }
    }
}

/// The sums whose larger term lies in octave `b`, X from `a` and Y from `b_runs`, less the
/// heavy `pairs`, appended to `out`: X in the octave with Y up to its top, and Y in the octave
/// with X below it.
fn convolve_two(
    a: &[Run],
    b_runs: &[Run],
    b: u32,
    pairs: &[(f64, f64, u32, f64, f64)],
    out: &mut Vec<(f64, f64)>,
) {
    let Octave {
        h,
        offset,
        start,
        end,
    } = Octave::of(b);
    // Each law's octave at cells 0..CELLS, and the other's values up to the octave's top (Y)
    // or below its start (X) at cells 0..offset + CELLS: probability and probability times
    // the position within the cell, as the real and imaginary parts of one transform.
    let binned = |runs: &[Run], from: f64, to: f64, shift: usize| {
        let (mut re, mut im) = (vec![0.0; LEN], vec![0.0; LEN]);
        let any = bin(runs, from, to, h, shift, 1.0, &mut re, &mut im);
        let total: f64 = re.iter().sum();
        if any {
            fft(&mut re, &mut im, false);
        }
        (re, im, total)
    };
    let top_a = binned(a, start, end, offset);
    let top_b = binned(b_runs, start, end, offset);
    if top_a.2 == 0.0 && top_b.2 == 0.0 {
        return;
    }
    let upto_b = binned(b_runs, 0.0, end, 0);
    let below_a = binned(a, 0.0, start, 0);
    let noise = NOISE * (top_a.2 * upto_b.2 + top_b.2 * below_a.2);
    let (mut re, mut im) = (vec![0.0; LEN], vec![0.0; LEN]);
    for k in 0..LEN {
        let j = (LEN - k) % LEN;
        let (pta, qta) = split(&top_a.0, &top_a.1, k, j);
        let (pub_, qub) = split(&upto_b.0, &upto_b.1, k, j);
        let (ptb, qtb) = split(&top_b.0, &top_b.1, k, j);
        let (pba, qba) = split(&below_a.0, &below_a.1, k, j);
        let (m1, m2) = (mul(pta, pub_), mul(ptb, pba));
        let mass = (m1.0 + m2.0, m1.1 + m2.1);
        let terms = [mul(qta, pub_), mul(pta, qub), mul(qtb, pba), mul(ptb, qba)];
        let position = terms.iter().fold((0.0, 0.0), |s, t| (s.0 + t.0, s.1 + t.1));
        // mass + i position
        re[k] = mass.0 - position.1;
        im[k] = mass.1 + position.0;
    }
    emit(re, im, b, h, offset, pairs, noise, out);
}

/// Tail probability at either end of a continuous part beyond which its cells stop: far below
/// the deepest knot of a table (2^-65).
const CUT: f64 = 1.0 / 1_180_591_620_717_411_303_424.0;

/// The width of the finest grid's cell at `x`: 1 ns below 2^13 ns, `2^(b-13)` in octave b.
fn width(x: f64) -> f64 {
    Octave::of(octave(x)).h
}

/// `continuous` (probability `weight`) as one value per cell of the finest grid, from its
/// 2^-70 quantile to its upper 2^-70 quantile (at most [`MAX_DRAW_NS`]): the cell's
/// probability, at its mean as Simpson's rule estimates it (anywhere in the cell would keep the
/// bound). The mass beyond either end goes to the end cells.
fn cells(continuous: &Mix, weight: f64) -> Vec<Run> {
    let (support_lo, support_hi) = continuous.support();
    let lo = continuous.quantile(CUT).max(support_lo);
    let hi = continuous
        .quantile_sf(CUT)
        .min(support_hi)
        .min(MAX_DRAW_NS as f64);
    // P(X <= x) and P(X > x), each exact where it is small.
    let tails = |x: f64| (continuous.cdf(x), continuous.sf(x));
    let mut a = (lo / width(lo)).floor() * width(lo);
    let mut at_a = (0.0, 1.0);
    let mut out = Vec::new();
    loop {
        let h = width(a);
        let b = a + h;
        let last = b >= hi;
        let at_b = if last { (1.0, 0.0) } else { tails(b) };
        let at_mid = tails(a + 0.5 * h);
        // The cell's mass, and the mass between its middle and its end, from the smaller tail.
        let (mass, upper_half) = if at_a.0 < 0.5 {
            (at_b.0 - at_a.0, at_b.0 - at_mid.0)
        } else {
            (at_a.1 - at_b.1, at_mid.1 - at_b.1)
        };
        if mass > 0.0 {
            // E[X - a] / h = ∫ P(x < X <= b) dx / (h mass) by Simpson's rule: 1/6 to 5/6.
            let within = ((mass + 4.0 * upper_half) / (6.0 * mass)).clamp(0.0, 1.0);
            out.push((a + within * h, 1, weight * mass));
        }
        if last {
            return out;
        }
        (a, at_a) = (b, at_b);
    }
}

/// How small a cell of sums may be before it counts as the transform's rounding noise.
#[derive(Clone, Copy)]
enum Floor {
    /// [`NOISE`] itself, for laws of atoms alone: a pair of n equally likely values is 1/n^2
    /// likely, so a sample of up to 10^7 values loses none to it.
    Absolute,
    /// [`NOISE`] times the probability of the octave being convolved: the transform's
    /// rounding is relative to it, and a continuous part's tail is made of tiny cells.
    Relative,
}

/// The round trip of the law made of `all` (sorted; atoms and cells), the pairs of heavy atoms
/// among `atoms` summed exactly.
fn convolve(all: &[Run], atoms: &[Run], floor: Floor) -> Vec<(f64, f64)> {
    let mut heavy: Vec<(f64, f64)> = atoms
        .iter()
        .filter(|r| r.1 == 1 && r.2 >= HEAVY)
        .map(|r| (r.0, r.2))
        .collect();
    heavy.sort_by(|a, b| b.1.total_cmp(&a.1));
    heavy.truncate(EXACT);
    let mut out: Vec<(f64, f64)> = Vec::new();
    // Pairs of heavy atoms, exact: (sum, probability, octave of the larger term, the terms).
    let mut pairs: Vec<(f64, f64, u32, f64, f64)> = Vec::new();
    for (i, &(x, p)) in heavy.iter().enumerate() {
        for &(y, q) in &heavy[i..] {
            let mass = if x == y { p * q } else { 2.0 * p * q };
            pairs.push((x + y, mass, octave(x.max(y)), x, y));
        }
    }
    let Some(last) = all.last() else {
        return out;
    };
    let top = octave(last.0 + (last.1 - 1) as f64);
    for b in octave(all[0].0)..=top {
        convolve_octave(all, b, &pairs, floor, &mut out);
    }
    out.extend(pairs.iter().map(|p| (p.0, p.1)));
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(out.len());
    for (x, p) in out {
        match merged.last_mut() {
            Some(last) if last.0 == x => last.1 += p,
            _ => merged.push((x, p)),
        }
    }
    merged
}

/// The sums whose larger term lies in octave `b`, less the heavy `pairs`, appended to `out`.
fn convolve_octave(
    runs: &[Run],
    b: u32,
    pairs: &[(f64, f64, u32, f64, f64)],
    floor: Floor,
    out: &mut Vec<(f64, f64)>,
) {
    let Octave {
        h,
        offset,
        start,
        end,
    } = Octave::of(b);
    // The octave alone (probability, and probability times the position within the cell),
    // at cells 0..CELLS, as the real and imaginary parts of one transform.
    let (mut top_re, mut top_im) = (vec![0.0; LEN], vec![0.0; LEN]);
    if !bin(runs, start, end, h, offset, 1.0, &mut top_re, &mut top_im) {
        return;
    }
    let noise = match floor {
        Floor::Absolute => NOISE,
        Floor::Relative => NOISE * top_re.iter().sum::<f64>(),
    };
    // Everything up to the octave's top, the values below it counted twice (either term may
    // be the smaller), at cells 0..offset + CELLS.
    let (mut all_re, mut all_im) = (vec![0.0; LEN], vec![0.0; LEN]);
    bin(runs, start, end, h, 0, 1.0, &mut all_re, &mut all_im);
    bin(runs, 0.0, start, h, 0, 2.0, &mut all_re, &mut all_im);
    fft(&mut top_re, &mut top_im, false);
    fft(&mut all_re, &mut all_im, false);
    // Split each transform into those of its real and imaginary parts, and form those of the
    // convolutions: probability (real part) and position (imaginary part).
    let (mut re, mut im) = (vec![0.0; LEN], vec![0.0; LEN]);
    for k in 0..LEN {
        let j = (LEN - k) % LEN;
        let (pt, qt) = split(&top_re, &top_im, k, j);
        let (pa, qa) = split(&all_re, &all_im, k, j);
        let mass = mul(pt, pa);
        let (x, y) = (mul(qt, pa), mul(pt, qa));
        let position = (x.0 + y.0, x.1 + y.1);
        // mass + i position
        re[k] = mass.0 - position.1;
        im[k] = mass.1 + position.0;
    }
    emit(re, im, b, h, offset, pairs, noise, out);
}

/// The transforms of the real and imaginary parts of `r + i im` at k (and `j = n - k`), from
/// that of the whole: `p = (Z[k] + conj Z[j]) / 2`, `q = (Z[k] - conj Z[j]) / 2i`.
#[inline(always)]
fn split(r: &[f64], i: &[f64], k: usize, j: usize) -> ((f64, f64), (f64, f64)) {
    let p = (0.5 * (r[k] + r[j]), 0.5 * (i[k] - i[j]));
    let q = (0.5 * (i[k] + i[j]), -0.5 * (r[k] - r[j]));
    (p, q)
}

/// The product of two complex numbers.
#[inline(always)]
fn mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// Back from the transform `re + i im` of the sums of octave `b` (probability, and
/// probability times the position within the cell, as its real and imaginary parts) to
/// values appended to `out`: the heavy `pairs` of the octave taken out of their cells (they
/// are exact elsewhere), cells below `noise` dropped.
#[allow(clippy::too_many_arguments)]
fn emit(
    mut re: Vec<f64>,
    mut im: Vec<f64>,
    b: u32,
    h: f64,
    offset: usize,
    pairs: &[(f64, f64, u32, f64, f64)],
    noise: f64,
    out: &mut Vec<(f64, f64)>,
) {
    fft(&mut re, &mut im, true);
    let scale = 1.0 / LEN as f64;
    let (mut mass, mut position): (Vec<f64>, Vec<f64>) = (
        re.iter().map(|v| v * scale).collect(),
        im.iter().map(|v| v * scale).collect(),
    );
    let cell = |x: f64| {
        let c = (x / h).floor();
        (c as usize, x / h - c)
    };
    for &(_, p, octave, x, y) in pairs.iter().filter(|p| p.2 == b) {
        debug_assert_eq!(octave, b);
        let ((cx, fx), (cy, fy)) = (cell(x), cell(y));
        let k = cx + cy - offset;
        mass[k] -= p;
        position[k] -= p * (fx + fy);
    }
    for (k, (&m, &f)) in mass.iter().zip(&position).enumerate() {
        if m > noise {
            let within = (f / m).clamp(0.0, 2.0);
            out.push((h * ((k + offset) as f64 + within), m));
        }
    }
}

/// Adds `weight` times the probability of the values of `runs` in `[from, to)` to cells of
/// width `h` (cell c at index `c - shift`): the probability to `mass`, times the value's
/// position within its cell (0 to 1) to `position`. Returns whether any value was added.
#[allow(clippy::too_many_arguments)]
fn bin(
    runs: &[Run],
    from: f64,
    to: f64,
    h: f64,
    shift: usize,
    weight: f64,
    mass: &mut [f64],
    position: &mut [f64],
) -> bool {
    let first = runs.partition_point(|r| (r.0 + (r.1 - 1) as f64) < from);
    let mut any = false;
    for &(low, count, p) in &runs[first..] {
        if low >= to {
            break;
        }
        if count == 1 {
            let c = (low / h).floor();
            let i = c as usize - shift;
            mass[i] += weight * p;
            position[i] += weight * p * (low / h - c);
            any = true;
            continue;
        }
        let high = low + (count - 1) as f64;
        let (lo, hi) = (low.max(from), high.min(to - 1.0));
        if lo > hi {
            continue;
        }
        any = true;
        let each = weight * p / count as f64;
        // Cell by cell: the integers lo..=hi in each.
        let mut c = (lo / h).floor();
        while c * h <= hi {
            let (a, z) = (lo.max(c * h), hi.min((c + 1.0) * h - 1.0));
            let n = z - a + 1.0;
            let i = c as usize - shift;
            mass[i] += each * n;
            // Σ (x - c h) / h over x = a..=z.
            position[i] += each * n * (0.5 * (a + z) - c * h) / h;
            c += 1.0;
        }
    }
    any
}

/// `e^(-2 pi i k / n)` for `k < n / 2`, computed once for the grid's length.
fn twiddles(n: usize) -> std::sync::Arc<[(f64, f64)]> {
    let make = || -> std::sync::Arc<[(f64, f64)]> {
        (0..n / 2)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                (angle.cos(), angle.sin())
            })
            .collect()
    };
    static GRID: std::sync::OnceLock<std::sync::Arc<[(f64, f64)]>> = std::sync::OnceLock::new();
    if n == LEN {
        GRID.get_or_init(make).clone()
    } else {
        make()
    }
}

/// The discrete Fourier transform of `re + i im` in place (radix 2), or its inverse without
/// the 1/n.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    assert!(n.is_power_of_two() && im.len() == n);
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let all = twiddles(n);
    let sign = if inverse { -1.0 } else { 1.0 };
    // The first two stages at once (radix 4): their twiddles are 1 and -i (i inverse).
    if n >= 4 {
        for (re, im) in re.chunks_exact_mut(4).zip(im.chunks_exact_mut(4)) {
            let (a0, a1) = (re[0] + re[1], im[0] + im[1]);
            let (b0, b1) = (re[0] - re[1], im[0] - im[1]);
            let (c0, c1) = (re[2] + re[3], im[2] + im[3]);
            // (re[2] - re[3]) + i (im[2] - im[3]), times -i (forward) or i (inverse).
            let (d0, d1) = (sign * (im[2] - im[3]), -sign * (re[2] - re[3]));
            re[0] = a0 + c0;
            im[0] = a1 + c1;
            re[2] = a0 - c0;
            im[2] = a1 - c1;
            re[1] = b0 + d0;
            im[1] = b1 + d1;
            re[3] = b0 - d0;
            im[3] = b1 - d1;
        }
    }
    let mut stage: Vec<(f64, f64)> = Vec::with_capacity(n / 2);
    let mut len = if n >= 4 { 8 } else { 2 };
    while len <= n {
        let half = len / 2;
        let stride = n / len;
        stage.clear();
        stage.extend((0..half).map(|k| {
            let (c, s) = all[k * stride];
            (c, sign * s)
        }));
        for (re, im) in re.chunks_exact_mut(len).zip(im.chunks_exact_mut(len)) {
            let (re_a, re_b) = re.split_at_mut(half);
            let (im_a, im_b) = im.split_at_mut(half);
            for ((((ra, ia), rb), ib), &(wr, wi)) in re_a
                .iter_mut()
                .zip(im_a.iter_mut())
                .zip(re_b.iter_mut())
                .zip(im_b.iter_mut())
                .zip(&stage)
            {
                let (xr, xi) = (*rb * wr - *ib * wi, *rb * wi + *ib * wr);
                *rb = *ra - xr;
                *ib = *ia - xi;
                *ra += xr;
                *ia += xi;
            }
        }
        len *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Law;
    use crate::order::Tail;
    use crate::order::steps::{Item, Steps};

    /// The largest relative distance between the grid's round-trip quantiles of `values`
    /// (ns, sorted) and the exact ones, from every sum of two of them, at tail probabilities
    /// down to 1e-6 on both sides.
    fn worst_error(values: &[f64], steps: &Steps) -> f64 {
        let n = values.len();
        let mut sums: Vec<f64> = Vec::with_capacity(n * n);
        for x in values {
            sums.extend(values.iter().map(|y| x + y));
        }
        sums.sort_by(f64::total_cmp);
        let total = sums.len() as f64;
        let mut worst = 0.0f64;
        for e in 1..=200 {
            let p = 0.5 * (-f64::from(e) / 10.0).exp();
            for upper in [false, true] {
                // The smallest sum with P(S <= s) >= u (lower) or P(S > s) <= p (upper).
                let rank = if upper {
                    total - (p * total).floor()
                } else {
                    (p * total).ceil()
                };
                let exact = sums[(rank as usize).clamp(1, sums.len()) - 1];
                let seen = steps.at(Tail { upper, p });
                worst = worst.max((seen - exact).abs() / exact);
            }
        }
        worst
    }

    fn sample(n: usize, seed: u64) -> (Vec<f64>, crate::latency::Latency) {
        let latency = crate::protocols::tests::empirical(n, seed, 0.0);
        let crate::latency::Latency::Empirical(e) = &latency else {
            unreachable!()
        };
        let values = e.runs().iter().map(|r| r.0 as f64).collect();
        (values, latency)
    }

    #[test]
    fn grid_round_trips_are_within_their_error() {
        // 2,000 log-normal values, all distinct: the grid's quantiles against the sorted
        // 4 million sums.
        let (values, latency) = sample(2_000, 21);
        assert_eq!(values.len(), 2_000);
        let steps = Steps::round_trip(&latency.law().unwrap()).unwrap();
        assert_eq!(steps.tolerance(), RELATIVE_ERROR / 2.0);
        let worst = worst_error(&values, &steps);
        assert!(worst <= RELATIVE_ERROR, "{worst}");
        // In practice several times finer than the bound (4.0e-5 here).
        assert!(worst < RELATIVE_ERROR / 4.0, "{worst}");
    }

    #[test]
    fn heavy_atoms_stay_exact_on_the_grid() {
        // 1,500 distinct values and a third of the sample exactly 1 ms: the round trip is
        // exactly 2 ms with probability 1/9 (and the light sums its grid cell holds, whose
        // mean may be 2 ms too), and the rest stays within the grid's error.
        let (mut values, _) = sample(1_500, 22);
        values.retain(|&x| x != 1e6);
        let mut ms: Vec<f64> = values.iter().map(|x| x / 1e6).collect();
        ms.extend(std::iter::repeat_n(1.0, values.len() / 2));
        let latency: crate::latency::Latency = crate::latency::Empirical::from_values_ms(&ms)
            .unwrap()
            .into();
        let steps = Steps::round_trip(&latency.law().unwrap()).unwrap();
        let i = steps
            .items()
            .iter()
            .position(|it| *it == Item::Run { low: 2e6, count: 1 })
            .unwrap();
        let third = (values.len() / 2) as f64 / ms.len() as f64;
        let mass = steps.cumulative(i, false) - steps.cumulative(i - 1, false);
        assert!((mass - third * third).abs() < 1e-5, "{mass}");
        let mut all: Vec<f64> = ms.iter().map(|x| x * 1e6).collect();
        all.sort_by(f64::total_cmp);
        let worst = worst_error(&all, &steps);
        assert!(worst <= RELATIVE_ERROR, "{worst}");
    }

    /// The exact round trip of a law of atoms beside a continuous part: `P(S <= x)` (lower)
    /// or `P(S > x)` over pairs of atoms, an atom and a continuous draw, and two continuous
    /// draws (a closed form or quadrature, [`crate::order::RoundTrip`]).
    struct Exact {
        /// Sums of pairs of atoms, increasing.
        sums: Vec<f64>,
        /// The probability of the sums before index i, and of those from i on (n + 1 each).
        below: Vec<f64>,
        above: Vec<f64>,
        atoms: Vec<(f64, f64)>,
        weight: f64,
        continuous: Mix,
        both: crate::order::RoundTrip,
    }

    impl Exact {
        fn new(law: &Mix) -> Self {
            let split = crate::order::steps::decompose(law).unwrap();
            let atoms: Vec<(f64, f64)> = split.runs.iter().map(|r| (r.0, r.2)).collect();
            let (weight, continuous) = split.continuous.unwrap();
            let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(atoms.len() * atoms.len());
            for a in &atoms {
                pairs.extend(atoms.iter().map(|b| (a.0 + b.0, a.1 * b.1)));
            }
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (mut below, mut above) = (vec![0.0; pairs.len() + 1], vec![0.0; pairs.len() + 1]);
            for (i, &(_, p)) in pairs.iter().enumerate() {
                below[i + 1] = below[i] + p;
            }
            for (i, &(_, p)) in pairs.iter().enumerate().rev() {
                above[i] = above[i + 1] + p;
            }
            Self {
                sums: pairs.into_iter().map(|s| s.0).collect(),
                below,
                above,
                atoms,
                weight,
                both: crate::order::RoundTrip::new(continuous.clone()),
                continuous,
            }
        }

        fn tail(&self, x: f64, upper: bool) -> f64 {
            let i = self.sums.partition_point(|&s| s <= x);
            let pairs = if upper { self.above[i] } else { self.below[i] };
            let one: f64 = self
                .atoms
                .iter()
                .map(|&(a, p)| {
                    p * if upper {
                        self.continuous.sf(x - a)
                    } else {
                        self.continuous.cdf(x - a)
                    }
                })
                .sum();
            let both = if upper {
                self.both.sf(x)
            } else {
                self.both.cdf(x)
            };
            let c = self.weight;
            pairs + 2.0 * c * one + c * c * both
        }
    }

    #[test]
    fn continuous_parts_on_the_grid_are_within_their_error() {
        // 2,000 constants beside an exponential, 2,000 measurements beside a log-normal: at
        // tail probabilities from 1/2 down to 1e-9 on both sides, the exact quantile lies
        // within 2^-12 (or 2 ns) of the grid's, to the accuracy of the reference's tails
        // (1e-6 relative, the convolution's quadrature; the closed form of two exponentials is
        // exact).
        for latency in [
            crate::protocols::tests::constants_beside_exponential(2_000),
            crate::protocols::tests::measured_beside_lognormal(2_000, 24),
        ] {
            let law = latency.law().unwrap();
            let steps = Steps::round_trip(&law).unwrap();
            assert_eq!(steps.tolerance(), RELATIVE_ERROR / 2.0);
            assert!(
                steps
                    .items()
                    .iter()
                    .all(|i| matches!(i, Item::Run { count: 1, .. }))
            );
            let exact = Exact::new(&law);
            let slack = 1e-6;
            for e in 0..=100 {
                let p = 0.5 * (-f64::from(e) / 5.0).exp();
                for upper in [false, true] {
                    let x = steps.at(Tail { upper, p });
                    let (lo, hi) = (
                        x * (1.0 - RELATIVE_ERROR) - 2.0,
                        x * (1.0 + RELATIVE_ERROR) + 2.0,
                    );
                    // Q(p) in [lo, hi]: the tail crosses p between them.
                    let (at_lo, at_hi) = (exact.tail(lo, upper), exact.tail(hi, upper));
                    let ok = if upper {
                        at_lo >= p * (1.0 - slack) && at_hi <= p * (1.0 + slack)
                    } else {
                        at_lo <= p * (1.0 + slack) && at_hi >= p * (1.0 - slack)
                    };
                    assert!(ok, "{upper} {p}: {x}, tails {at_lo} {at_hi}");
                }
            }
        }
    }

    #[test]
    fn the_transform_convolves() {
        let n = 16;
        let (a, b) = ([1.0, 2.0, 3.0], [0.5, -1.0]);
        let (mut ar, mut ai, mut br, mut bi) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        ar[..3].copy_from_slice(&a);
        br[..2].copy_from_slice(&b);
        fft(&mut ar, &mut ai, false);
        fft(&mut br, &mut bi, false);
        let (mut cr, mut ci): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|k| (ar[k] * br[k] - ai[k] * bi[k], ar[k] * bi[k] + ai[k] * br[k]))
            .unzip();
        fft(&mut cr, &mut ci, true);
        let expected = [0.5, 0.0, -0.5, -3.0];
        for k in 0..n {
            let e = expected.get(k).copied().unwrap_or(0.0);
            assert!((cr[k] / n as f64 - e).abs() < 1e-12, "{k}: {}", cr[k]);
            assert!(ci[k].abs() < 1e-12);
        }
    }
}
