//! How a sweep file spells a protocol's parameters: a value of each [`ParamKind`].

use super::fields::{Field, FieldError};
use crate::latency::MAX_DELAY_MS;
use crate::model::{ParamKind, QuorumRule, Value};

/// Reads a value of `kind` from a sweep file.
pub fn parse_value(kind: ParamKind, field: &Field<'_>) -> Result<Value, FieldError> {
    match kind {
        ParamKind::Count { min, max } => field
            .integer(min.into(), max.into())
            .map(|n| Value::Count(n as u32)),
        ParamKind::Millis { zero_ok } => {
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
        ParamKind::Positive => {
            let x = field.number()?;
            if x > 0.0 {
                Ok(Value::Positive(x))
            } else {
                Err(field.error(format!("{x} must be > 0")))
            }
        }
        ParamKind::Choice(words) => {
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
        ParamKind::Probability => field.probability().map(Value::Probability),
        ParamKind::Quorum => match field.value {
            toml::Value::String(s) if s == "majority" => Ok(Value::Quorum(QuorumRule::Majority)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: ParamKind, text: &str) -> Result<Value, FieldError> {
        let value: toml::Value = text.parse::<toml::Table>().unwrap()["v"].clone();
        parse_value(kind, &Field::root("params.p.v", &value))
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
