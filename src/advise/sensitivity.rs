//! Sensitivity: how far crash, loss or latency can move before the recommendation changes.
//!
//! Each input is moved on its own, the others kept as stated, and every design is measured
//! again at each value, with the same objectives and the same stopping rule:
//! - a crash or loss rate is multiplied by 0.1, 0.5, 2, 5 and 10 (up to 0.5); a rate stated
//!   as 0 is set to 0.001, 0.01 and 0.1 instead;
//! - latency is scaled by the same factors: every time in the model (`ms` and each `*_ms`
//!   key, in nested models too) is multiplied, which scales the whole law. An empirical
//!   model has no such key and is not moved.
//!
//! The result for an input is the range of values, around the stated one, over which the
//! recommendation stays the same design, and what it becomes beyond.

use super::Design;

/// An input of the environment that sensitivity moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The crash rate.
    Crash,
    /// The loss rate.
    Loss,
    /// The latency model, scaled.
    Latency,
}

impl Input {
    /// Every input, in the order they are reported.
    pub const ALL: [Self; 3] = [Self::Crash, Self::Loss, Self::Latency];

    /// Its name: the environment key it moves.
    pub fn word(self) -> &'static str {
        match self {
            Self::Crash => "crash",
            Self::Loss => "loss",
            Self::Latency => "latency",
        }
    }
}

/// The factors an input is moved by.
pub const FACTORS: [f64; 5] = [0.1, 0.5, 2.0, 5.0, 10.0];
/// The values a rate stated as 0 is moved to.
const FROM_ZERO: [f64; 3] = [0.001, 0.01, 0.1];
/// The largest rate tried.
const MAX_RATE: f64 = 0.5;

/// The rates `stated` is moved to, lowest first, without the stated one.
pub fn rates(stated: f64) -> Vec<f64> {
    if stated == 0.0 {
        return FROM_ZERO.to_vec();
    }
    let mut out: Vec<f64> = FACTORS
        .iter()
        .map(|f| f * stated)
        .filter(|r| *r <= MAX_RATE && *r != stated)
        .collect();
    out.dedup();
    out
}

/// `model` (a latency model as a sweep writes it) with every time multiplied by `factor`,
/// or `None` if it has no time to scale (an empirical model, anywhere in it).
pub fn scale_latency(model: &toml::Value, factor: f64) -> Option<toml::Value> {
    use toml::Value;
    let time = |v: &Value| match v {
        Value::Integer(i) => Some(Value::Float(*i as f64 * factor)),
        Value::Float(x) => Some(Value::Float(x * factor)),
        _ => None,
    };
    match model {
        Value::Integer(_) | Value::Float(_) => time(model),
        Value::Table(t) => {
            if t.get("kind").and_then(Value::as_str) == Some("empirical") {
                return None;
            }
            let mut out = toml::Table::new();
            for (key, value) in t {
                let scaled = if key == "ms" || key.ends_with("_ms") {
                    time(value)?
                } else if key == "of" {
                    scale_latency(value, factor)?
                } else if key == "components" {
                    let Value::Array(parts) = value else {
                        return None;
                    };
                    Value::Array(
                        parts
                            .iter()
                            .map(|p| scale_latency(p, factor))
                            .collect::<Option<_>>()?,
                    )
                } else {
                    value.clone()
                };
                out.insert(key.clone(), scaled);
            }
            Some(Value::Table(out))
        }
        _ => None,
    }
}

/// What one value of an input recommends.
#[derive(Debug, Clone)]
pub struct Point {
    /// The value: a rate, or the factor latency is scaled by.
    pub value: f64,
    /// The recommended design there, with its dollars per month; `None` when nothing meets
    /// every objective.
    pub recommended: Option<(Design, f64)>,
}

/// How one input moves the recommendation.
#[derive(Debug, Clone)]
pub struct Sensitivity {
    /// The input.
    pub input: Input,
    /// Its stated value (1 for latency: the model as stated).
    pub stated: f64,
    /// Every value tried, the stated one included, lowest first.
    pub points: Vec<Point>,
    /// Why the input was not moved, if it was not.
    pub not_moved: Option<&'static str>,
}

impl Sensitivity {
    /// The index of the stated value among the points.
    fn stated_index(&self) -> Option<usize> {
        self.points.iter().position(|p| p.value == self.stated)
    }

    /// The lowest and highest values, around the stated one, over which the recommendation
    /// stays what it is at the stated value.
    pub fn holds(&self) -> Option<(f64, f64)> {
        let i = self.stated_index()?;
        let same = |p: &Point| design_of(p) == design_of(&self.points[i]);
        let low = self.points[..i]
            .iter()
            .rposition(|p| !same(p))
            .map_or(0, |j| j + 1);
        let high = self.points[i..]
            .iter()
            .position(|p| !same(p))
            .map_or(self.points.len() - 1, |j| i + j - 1);
        Some((self.points[low].value, self.points[high].value))
    }

    /// The nearest values below and above the range of [`Sensitivity::holds`], where the
    /// recommendation changes.
    pub fn changes(&self) -> (Option<&Point>, Option<&Point>) {
        let Some((low, high)) = self.holds() else {
            return (None, None);
        };
        let below = self.points.iter().rev().find(|p| p.value < low);
        let above = self.points.iter().find(|p| p.value > high);
        (below, above)
    }
}

fn design_of(p: &Point) -> Option<&Design> {
    p.recommended.as_ref().map(|(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_move_by_the_factors_up_to_one_half() {
        assert_eq!(rates(0.01), [0.001, 0.005, 0.02, 0.05, 0.1]);
        assert_eq!(rates(0.2), [0.020000000000000004, 0.1, 0.4]);
        assert_eq!(rates(0.0), FROM_ZERO);
    }

    #[test]
    fn scaling_a_model_scales_every_time_in_it() {
        let model: toml::Value = toml::from_str::<toml::Table>(
            r#"m = { kind = "mixture", components = [
                { weight = 0.9, of = { kind = "shifted", shift_ms = 1, of = { kind = "exponential", mean_ms = 0.5 } } },
                { weight = 0.1, of = { kind = "lognormal", median_ms = 4.0, sigma = 0.5 } } ] }"#,
        )
        .unwrap()["m"]
            .clone();
        let scaled = scale_latency(&model, 10.0).unwrap();
        let c = scaled["components"].as_array().unwrap();
        assert_eq!(c[0]["weight"].as_float(), Some(0.9));
        assert_eq!(c[0]["of"]["shift_ms"].as_float(), Some(10.0));
        assert_eq!(c[0]["of"]["of"]["mean_ms"].as_float(), Some(5.0));
        assert_eq!(c[1]["of"]["median_ms"].as_float(), Some(40.0));
        assert_eq!(c[1]["of"]["sigma"].as_float(), Some(0.5));
        assert_eq!(
            scale_latency(&toml::Value::Integer(2), 0.5),
            Some(toml::Value::Float(1.0))
        );
        let empirical: toml::Value =
            toml::from_str::<toml::Table>("m = { kind = \"empirical\", file = \"a.csv\" }")
                .unwrap()["m"]
                .clone();
        assert_eq!(scale_latency(&empirical, 2.0), None);
    }

    #[test]
    fn a_scaled_model_is_the_stated_law_times_the_factor() {
        use crate::rng::stream;
        use crate::sweep::delays::read;
        use crate::sweep::fields::Fields;
        for text in [
            "kind = \"exponential\"\nmean_ms = 0.5",
            "kind = \"uniform\"\nlow_ms = 1\nhigh_ms = 3",
            "kind = \"lognormal\"\nmedian_ms = 2\nsigma = 0.7",
            "kind = \"weibull\"\nscale_ms = 1.5\nshape = 0.8",
            "kind = \"pareto\"\nscale_ms = 1\nshape = 3",
            "kind = \"constant\"\nms = 4",
        ] {
            let table: toml::Table = text.parse().unwrap();
            let scaled = scale_latency(&toml::Value::Table(table.clone()), 5.0).unwrap();
            let base = read(Fields::new("latency.x", &table)).unwrap();
            let five = read(Fields::new("latency.x", scaled.as_table().unwrap())).unwrap();
            // Draws from the same stream: the scaled law is the base law times 5, draw by
            // draw, up to the rounding of each draw to whole nanoseconds.
            let (mut a, mut b) = (stream(3, 0, 0), stream(3, 0, 0));
            for _ in 0..1000 {
                let x = base.sample_ns(&mut a) as f64;
                let y = five.sample_ns(&mut b) as f64;
                assert!((y - 5.0 * x).abs() <= 3.0 + 1e-12 * y, "{text}: {x} {y}");
            }
        }
    }

    fn point(value: f64, design: Option<&str>) -> Point {
        Point {
            value,
            recommended: design.map(|p| {
                (
                    Design {
                        protocol: match p {
                            "raft" => "raft",
                            _ => "quorum",
                        },
                        nodes: 3,
                        params: Vec::new(),
                        consistency: super::super::Consistency::Linearizable,
                        why: "",
                    },
                    1.0,
                )
            }),
        }
    }

    #[test]
    fn the_recommendation_holds_over_the_values_around_the_stated_one() {
        let s = Sensitivity {
            input: Input::Crash,
            stated: 0.01,
            points: vec![
                point(0.001, Some("quorum")),
                point(0.005, Some("raft")),
                point(0.01, Some("raft")),
                point(0.02, Some("raft")),
                point(0.05, None),
                point(0.1, Some("raft")),
            ],
            not_moved: None,
        };
        assert_eq!(s.holds(), Some((0.005, 0.02)));
        let (below, above) = s.changes();
        assert_eq!(below.unwrap().value, 0.001);
        assert_eq!(above.unwrap().value, 0.05);
        assert!(above.unwrap().recommended.is_none());
    }
}
