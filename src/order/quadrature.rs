//! Gauss-Legendre quadrature on panels refined toward both ends of an interval.

use std::sync::OnceLock;

/// Points per panel.
const POINTS: usize = 8;

/// Nodes and weights of the `POINTS`-point Gauss-Legendre rule on [-1, 1], found by Newton's
/// method on the Legendre polynomial (Golub and Welsch give the same values).
fn rule() -> &'static ([f64; POINTS], [f64; POINTS]) {
    static RULE: OnceLock<([f64; POINTS], [f64; POINTS])> = OnceLock::new();
    RULE.get_or_init(|| {
        let n = POINTS;
        let (mut nodes, mut weights) = ([0.0; POINTS], [0.0; POINTS]);
        for i in 0..n {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut derivative = 0.0;
            for _ in 0..100 {
                // P_n(x) and P_n'(x) by the three-term recurrence.
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let k = k as f64;
                    let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            nodes[i] = x;
            weights[i] = 2.0 / ((1.0 - x * x) * derivative * derivative);
        }
        (nodes, weights)
    })
}

/// `∫_a^b f`, for `f` returning several integrands at once: Gauss-Legendre on panels that
/// halve toward both ends, `levels` deep on each side, so that endpoint singularities and
/// integrands concentrated near an end are resolved at every scale down to `(b - a)/2^levels`.
pub fn integrate<const M: usize>(
    a: f64,
    b: f64,
    levels: u32,
    mut f: impl FnMut(f64) -> [f64; M],
) -> [f64; M] {
    let mut total = [0.0; M];
    if b <= a {
        return total;
    }
    let (nodes, weights) = rule();
    let mut panel = |lo: f64, hi: f64| {
        let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
        for (x, w) in nodes.iter().zip(weights) {
            let values = f(mid + half * x);
            for (t, v) in total.iter_mut().zip(values) {
                *t += w * half * v;
            }
        }
    };
    let half = 0.5 * (b - a);
    let mut width = half;
    for _ in 0..levels {
        let inner = 0.5 * width;
        panel(a + inner, a + width);
        panel(b - width, b - inner);
        width = inner;
    }
    panel(a, a + width);
    panel(b - width, b);
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_smooth_and_singular_functions() {
        let [e] = integrate(0.0, 1.0, 20, |x| [x.exp()]);
        assert!((e - (1f64.exp() - 1.0)).abs() < 1e-14);
        // An integrable singularity at each end.
        let [s] = integrate(0.0, 1.0, 40, |x| [1.0 / (x * (1.0 - x)).sqrt()]);
        assert!((s - std::f64::consts::PI).abs() < 1e-6, "{s}");
        // Mass concentrated near one end at a tiny scale.
        let [c] = integrate(0.0, 1.0, 40, |x| [1e9 * (-1e9 * x).exp()]);
        assert!((c - 1.0).abs() < 1e-9, "{c}");
        let [v] = integrate(0.0, 1.0, 30, |x| [x.sqrt()]);
        assert!((v - 2.0 / 3.0).abs() < 1e-12);
        let [w1, w2] = integrate(2.0, 3.0, 5, |x| [1.0, x]);
        assert!((w1 - 1.0).abs() < 1e-14 && (w2 - 2.5).abs() < 1e-14);
    }
}
