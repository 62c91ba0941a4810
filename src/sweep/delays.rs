//! Reading a delay model from its table in a sweep file (`[latency.<name>]`, or a model
//! nested in a shifted or mixture model).
//!
//! `kind` selects the model. A model made of numbers alone is built from the values of its
//! keys ([`Delay::FROM_NUMBERS`]): a new one needs no line here. Shifted and mixture models
//! nest other models, and an empirical model reads a file: those three are read below.

use super::fields::{Field, FieldError, Fields};
use crate::latency::{
    Delay, Empirical, Latency, LatencyError, MAX_EMPIRICAL_BYTES, Mixture, NS_PER_MS, Shifted,
    unit_ns,
};

/// Reads a model from its table; every key must be one the model knows.
pub fn read(mut fields: Fields<'_>) -> Result<Latency, FieldError> {
    let kind_field = fields.require("kind")?;
    let kind = kind_field.string()?;
    let Some(&(_, keys)) = Latency::KINDS.iter().find(|(k, _)| *k == kind) else {
        let kinds: Vec<&str> = Latency::KINDS.iter().map(|(k, _)| *k).collect();
        return Err(kind_field.error(format!(
            "unknown latency kind `{kind}` (expected one of {})",
            kinds.join(", ")
        )));
    };
    let model = match kind {
        Shifted::KIND => shifted(&mut fields)?.into(),
        Mixture::KIND => mixture(&mut fields)?.into(),
        Empirical::KIND => {
            check_empirical_file(&fields)?;
            empirical(&mut fields)?.into()
        }
        _ => {
            let numbers = keys
                .iter()
                .map(|(key, _)| fields.require(key)?.number())
                .collect::<Result<Vec<f64>, FieldError>>()?;
            let built =
                Latency::from_numbers(kind, &numbers).expect("every other kind is made of numbers");
            built.map_err(|e| at(&fields, e))?
        }
    };
    fields.finish()?;
    Ok(model)
}

/// Reads a model from a TOML value that must be a table.
pub fn read_field(field: &Field<'_>) -> Result<Latency, FieldError> {
    read(field.table()?)
}

/// A model's error, blamed on the key it names.
fn at(fields: &Fields<'_>, error: LatencyError) -> FieldError {
    FieldError::new(fields.path_of(error.param), error.reason)
}

fn shifted(fields: &mut Fields<'_>) -> Result<Shifted, FieldError> {
    let shift = fields.require("shift_ms")?.number()?;
    let of = read_field(&fields.require("of")?)?;
    Shifted::new(shift, of).map_err(|e| at(fields, e))
}

fn mixture(fields: &mut Fields<'_>) -> Result<Mixture, FieldError> {
    let list = fields.require("components")?;
    let mut components = Vec::new();
    for item in list.list()? {
        let mut component = item.table()?;
        let weight = component.require("weight")?.number()?;
        let of = read_field(&component.require("of")?)?;
        component.finish()?;
        components.push((weight, of));
    }
    Mixture::new(components).map_err(|e| list.error(e.reason))
}

fn empirical(fields: &mut Fields<'_>) -> Result<Empirical, FieldError> {
    let file_field = fields.require("file")?;
    let file = file_field.string()?;
    let column = match fields.take("column") {
        Some(f) => Some(f.string()?),
        None => None,
    };
    let unit = match fields.take("unit") {
        Some(f) => {
            let unit = f.string()?;
            Some(unit_ns(unit).ok_or_else(|| {
                f.error(format!(
                    "`{unit}` is not one of \"ns\", \"us\", \"ms\", \"s\""
                ))
            })?)
        }
        None => None,
    };
    let path = fields.base().join(file);
    let is_log = path.extension().is_some_and(|e| e == "hlog");
    // HdrHistogram logs are usually recorded in ns or us: guessing ms would be off by a
    // factor of 1000 or 10^6, so a log must say its unit.
    let unit = match (unit, is_log) {
        (Some(unit), _) => unit,
        (None, false) => NS_PER_MS,
        (None, true) => {
            return Err(FieldError::new(
                fields.path_of("unit"),
                "missing: an HdrHistogram log (.hlog) needs its unit (\"ns\", \"us\", \
                 \"ms\" or \"s\"); its values are usually ns or us",
            ));
        }
    };
    let built = if is_log {
        let histogram = Empirical::read_hdr_log(&path).map_err(|e| file_field.error(e))?;
        Empirical::from_histogram(&histogram, unit)
    } else {
        let values = Empirical::read_csv(&path, column).map_err(|e| file_field.error(e))?;
        Empirical::from_values(&values, unit)
    };
    built.map_err(|e| file_field.error(format!("{}: {}", path.display(), e.reason)))
}

/// Refuses an empirical model's `file` that is not a regular file of at most
/// [`MAX_EMPIRICAL_BYTES`] (a device such as /dev/zero would be read without end), before it
/// is read.
fn check_empirical_file(fields: &Fields<'_>) -> Result<(), FieldError> {
    let Some(file) = fields.peek("file").and_then(|v| v.as_str()) else {
        return Ok(()); // reported missing or mistyped when read
    };
    let path = fields.base().join(file);
    let error = |message: String| FieldError::new(fields.path_of("file"), message);
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => Err(error(format!("{} is not a regular file", path.display()))),
        Ok(m) if m.len() > MAX_EMPIRICAL_BYTES => Err(error(format!(
            "{} has {} bytes, more than the {MAX_EMPIRICAL_BYTES} an empirical latency file may have",
            path.display(),
            m.len()
        ))),
        // A missing file is reported when it is read, with the others it cannot read.
        _ => Ok(()),
    }
}
