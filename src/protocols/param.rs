//! Protocol parameters: their kinds, values and defaults, and how a sweep file spells them.

use std::fmt;

use crate::latency::MAX_DELAY_MS;
use crate::sweep::fields::{Field, FieldError};

/// How many replies a quorum needs: a number, or a rule resolved against the node count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumRule {
    /// Exactly this many.
    Fixed(u32),
    /// `floor(N / 2) + 1`.
    Majority,
    /// All `N`.
    All,
}

impl QuorumRule {
    /// The size of the quorum among `nodes` nodes.
    pub fn resolve(self, nodes: u32) -> u32 {
        match self {
            Self::Fixed(k) => k,
            Self::Majority => nodes / 2 + 1,
            Self::All => nodes,
        }
    }
}

impl fmt::Display for QuorumRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(k) => write!(f, "{k}"),
            Self::Majority => f.write_str("majority"),
            Self::All => f.write_str("all"),
        }
    }
}

/// What a parameter holds; decides how it is read, checked and written to the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// An integer in `[min, max]`; a `UInt32` column.
    Count {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A duration in milliseconds, finite and > 0 (>= 0 if `zero_ok`); a `Float64` column.
    Millis {
        /// Whether 0 is allowed.
        zero_ok: bool,
    },
    /// A finite number > 0; a `Float64` column.
    Positive,
    /// One of a fixed set of words; a dictionary string column.
    Choice(&'static [&'static str]),
    /// A probability in `[0, 1]`; a `Float64` column.
    Probability,
    /// A [`QuorumRule`]: an integer >= 1, `"majority"` or `"all"`; a `UInt32` column of the
    /// resolved size and a string column `<name>_spec` as written.
    Quorum,
}

/// How a parameter is stored in `summary.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `UInt32`.
    UInt32,
    /// `Float64`.
    Float64,
    /// A dictionary-encoded string.
    String,
    /// `UInt32` of the resolved size, and a string column `<name>_spec` as written.
    QuorumSize,
}

/// A parameter value, of the variant its [`ParamKind`] names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A [`ParamKind::Count`].
    Count(u32),
    /// A [`ParamKind::Millis`], in milliseconds.
    Millis(f64),
    /// A [`ParamKind::Positive`].
    Positive(f64),
    /// A [`ParamKind::Choice`].
    Choice(&'static str),
    /// A [`ParamKind::Probability`].
    Probability(f64),
    /// A [`ParamKind::Quorum`].
    Quorum(QuorumRule),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Millis(ms) => write!(f, "{ms}"),
            Self::Positive(x) => write!(f, "{x}"),
            Self::Choice(word) => f.write_str(word),
            Self::Probability(p) => write!(f, "{p}"),
            Self::Quorum(rule) => write!(f, "{rule}"),
        }
    }
}

/// One parameter of a protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Its key in `[grid]` and `[params.<protocol>]`, and its summary column.
    pub name: &'static str,
    /// What it holds.
    pub kind: ParamKind,
    /// The value used when the sweep does not set it.
    pub default: Value,
    /// One line for `coordsim protocols`.
    pub doc: &'static str,
}

impl ParamKind {
    /// Reads a value of this kind from a sweep file.
    pub fn parse(self, field: &Field<'_>) -> Result<Value, FieldError> {
        match self {
            Self::Count { min, max } => field
                .integer(min.into(), max.into())
                .map(|n| Value::Count(n as u32)),
            Self::Millis { zero_ok } => {
                let ms = field.number()?;
                if ms > MAX_DELAY_MS {
                    Err(field.error(format!(
                        "{ms} exceeds {MAX_DELAY_MS} (one hour, the longest time a parameter may name)"
                    )))
                } else if ms > 0.0 || (zero_ok && ms == 0.0) {
                    Ok(Value::Millis(ms))
                } else {
                    let bound = if zero_ok { ">=" } else { ">" };
                    Err(field.error(format!("{ms} must be {bound} 0 (milliseconds)")))
                }
            }
            Self::Positive => {
                let x = field.number()?;
                if x > 0.0 {
                    Ok(Value::Positive(x))
                } else {
                    Err(field.error(format!("{x} must be > 0")))
                }
            }
            Self::Choice(words) => {
                let word = field.string()?;
                words
                    .iter()
                    .find(|w| **w == word)
                    .map(|w| Value::Choice(w))
                    .ok_or_else(|| {
                        field.error(format!(
                            "`{word}` is not one of {}",
                            words
                                .iter()
                                .map(|w| format!("\"{w}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
            }
            Self::Probability => field.probability().map(Value::Probability),
            Self::Quorum => match field.value {
                toml::Value::String(s) if s == "majority" => {
                    Ok(Value::Quorum(QuorumRule::Majority))
                }
                toml::Value::String(s) if s == "all" => Ok(Value::Quorum(QuorumRule::All)),
                toml::Value::String(s) => Err(field.error(format!(
                    "`{s}` is not a quorum size (expected an integer >= 1, \"majority\" or \"all\")"
                ))),
                _ => field
                    .integer(1, u32::MAX.into())
                    .map(|k| Value::Quorum(QuorumRule::Fixed(k as u32))),
            },
        }
    }

    /// The summary column(s) this kind is written as: two kinds with the same column can
    /// share a parameter name across protocols.
    pub fn column(self) -> Column {
        match self {
            Self::Count { .. } => Column::UInt32,
            Self::Millis { .. } | Self::Positive | Self::Probability => Column::Float64,
            Self::Choice(_) => Column::String,
            Self::Quorum => Column::QuorumSize,
        }
    }

    /// Words for `coordsim protocols`.
    pub fn describe(self) -> String {
        match self {
            Self::Count { min, max } if max == u32::MAX => format!("integer >= {min}"),
            Self::Count { min, max } => format!("integer in [{min}, {max}]"),
            Self::Millis { zero_ok: false } => "milliseconds > 0".into(),
            Self::Millis { zero_ok: true } => "milliseconds >= 0".into(),
            Self::Positive => "number > 0".into(),
            Self::Choice(words) => words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" | "),
            Self::Probability => "probability in [0, 1]".into(),
            Self::Quorum => "integer >= 1, \"majority\" or \"all\"".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: ParamKind, text: &str) -> Result<Value, FieldError> {
        let value: toml::Value = text.parse::<toml::Table>().unwrap()["v"].clone();
        kind.parse(&Field::root("params.p.v", &value))
    }

    #[test]
    fn quorum_sizes() {
        assert_eq!(
            parse(ParamKind::Quorum, "v = 3"),
            Ok(Value::Quorum(QuorumRule::Fixed(3)))
        );
        assert_eq!(
            parse(ParamKind::Quorum, "v = \"majority\""),
            Ok(Value::Quorum(QuorumRule::Majority))
        );
        assert!(parse(ParamKind::Quorum, "v = 0").is_err());
        assert!(parse(ParamKind::Quorum, "v = \"most\"").is_err());
        assert_eq!(QuorumRule::Majority.resolve(5), 3);
        assert_eq!(QuorumRule::Majority.resolve(4), 3);
        assert_eq!(QuorumRule::All.resolve(4), 4);
    }

    #[test]
    fn kinds_check_their_ranges() {
        let retries = ParamKind::Count { min: 0, max: 100 };
        assert_eq!(parse(retries, "v = 3"), Ok(Value::Count(3)));
        assert!(parse(retries, "v = 101").is_err());
        assert!(parse(retries, "v = 1.5").is_err());
        let ms = ParamKind::Millis { zero_ok: false };
        assert!(parse(ms, "v = 0").is_err());
        assert_eq!(parse(ms, "v = 50"), Ok(Value::Millis(50.0)));
        assert_eq!(
            parse(ParamKind::Millis { zero_ok: true }, "v = 0"),
            Ok(Value::Millis(0.0))
        );
        let mode = ParamKind::Choice(&["push", "pull"]);
        assert_eq!(parse(mode, "v = \"pull\""), Ok(Value::Choice("pull")));
        let e = parse(mode, "v = \"shove\"").unwrap_err();
        assert_eq!(e.message, "`shove` is not one of \"push\", \"pull\"");
        let e = parse(ParamKind::Probability, "v = 1.5").unwrap_err();
        assert_eq!(e.field, "params.p.v");
    }
}
