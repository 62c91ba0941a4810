//! Reading a TOML table key by key, so that every error names the field it is about.

use std::fmt;
use std::path::Path;

use toml::{Table, Value};

/// An error about one field of a sweep file, before the file name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `latency.lan.of.mean_ms`; empty for the whole file.
    pub field: String,
    /// What is wrong, on one line.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// The keys of one table, taken one at a time; [`Fields::finish`] refuses any key not taken.
pub struct Fields<'a> {
    path: String,
    table: &'a Table,
    known: Vec<&'a str>,
    base: &'a Path,
}

/// One value of a sweep file and the path it was found at.
#[derive(Clone, Debug)]
pub struct Field<'a> {
    path: String,
    /// The raw TOML value.
    pub value: &'a Value,
    base: &'a Path,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

impl<'a> Fields<'a> {
    /// The keys of `table`, found at `path` (empty for the top level).
    pub fn new(path: impl Into<String>, table: &'a Table) -> Self {
        Self::with_base(path, table, Path::new(""))
    }

    /// Like [`Fields::new`], with relative file names resolved against `base`.
    pub fn with_base(path: impl Into<String>, table: &'a Table, base: &'a Path) -> Self {
        Self {
            path: path.into(),
            table,
            known: Vec::new(),
            base,
        }
    }

    /// The directory relative file names are resolved against.
    pub fn base(&self) -> &'a Path {
        self.base
    }

    /// The path of this table.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` in this table.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, if present; `key` becomes a known key either way.
    pub fn take(&mut self, key: &'a str) -> Option<Field<'a>> {
        self.known.push(key);
        let table: &'a Table = self.table;
        table.get(key).map(|value| Field {
            path: self.path_of(key),
            value,
            base: self.base,
        })
    }

    /// The value of `key`, or an error naming it if it is missing.
    pub fn require(&mut self, key: &'a str) -> Result<Field<'a>, FieldError> {
        let path = self.path_of(key);
        self.take(key)
            .ok_or_else(|| FieldError::new(path, "missing (required)"))
    }

    /// The value of `key`, if present, without taking it.
    pub fn peek(&self, key: &str) -> Option<&'a toml::Value> {
        let table: &'a Table = self.table;
        table.get(key)
    }

    /// Keys present in the table that have not been taken yet, in file order.
    pub fn untaken(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        self.table
            .iter()
            .filter(|(k, _)| !self.known.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Marks `key` as known without reading it.
    pub fn accept(&mut self, key: &'a str) {
        self.known.push(key);
    }

    /// Fails on the first key that was never taken.
    pub fn finish(self) -> Result<(), FieldError> {
        if let Some((key, _)) = self.untaken().next() {
            let mut expected: Vec<&str> = self.known.clone();
            expected.sort_unstable();
            expected.dedup();
            let list = expected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(FieldError::new(
                self.path_of(key),
                format!("unknown key `{key}` (expected one of {list})"),
            ));
        }
        Ok(())
    }
}

impl<'a> Field<'a> {
    /// A field that is not in a table, such as a whole file's top level.
    pub fn root(path: impl Into<String>, value: &'a Value) -> Self {
        Self {
            path: path.into(),
            value,
            base: Path::new(""),
        }
    }

    /// The dotted path of this value, with `[i]` for list elements.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error about this value.
    pub fn error(&self, message: impl fmt::Display) -> FieldError {
        FieldError::new(self.path(), message)
    }

    fn expected(&self, what: &str) -> FieldError {
        self.error(format!("expected {what}, found {}", type_name(self.value)))
    }

    /// A finite number (integers are accepted).
    pub fn number(&self) -> Result<f64, FieldError> {
        let x = match self.value {
            Value::Float(x) => *x,
            Value::Integer(i) => *i as f64,
            _ => return Err(self.expected("a number")),
        };
        if !x.is_finite() {
            return Err(self.error(format!("{x} is not a finite number")));
        }
        Ok(x)
    }

    /// A number in `[0, 1]`.
    pub fn probability(&self) -> Result<f64, FieldError> {
        let p = self.number()?;
        if !(0.0..=1.0).contains(&p) {
            return Err(self.error(format!("{p} is not a probability in [0, 1]")));
        }
        Ok(p)
    }

    /// An integer in `[min, max]`.
    pub fn integer(&self, min: u64, max: u64) -> Result<u64, FieldError> {
        let i = match self.value {
            Value::Integer(i) => *i,
            _ => return Err(self.expected("an integer")),
        };
        if i < 0 || (i as u64) < min || (i as u64) > max {
            return Err(self.error(format!("{i} is outside [{min}, {max}]")));
        }
        Ok(i as u64)
    }

    /// A string.
    pub fn string(&self) -> Result<&'a str, FieldError> {
        match self.value {
            Value::String(s) => Ok(s),
            _ => Err(self.expected("a string")),
        }
    }

    /// A table, as [`Fields`].
    pub fn table(&self) -> Result<Fields<'a>, FieldError> {
        match self.value {
            Value::Table(t) => Ok(Fields::with_base(self.path.clone(), t, self.base)),
            _ => Err(self.expected("a table")),
        }
    }

    /// The items of a list, each with its own path.
    pub fn list(&self) -> Result<Vec<Field<'a>>, FieldError> {
        match self.value {
            Value::Array(items) => Ok(self.items(items)),
            _ => Err(self.expected("a list")),
        }
    }

    /// A value or a list of values (an axis of the grid); a list must not be empty.
    pub fn one_or_many(&self) -> Result<Vec<Field<'a>>, FieldError> {
        match self.value {
            Value::Array(items) if items.is_empty() => Err(self.error("empty list")),
            Value::Array(items) => Ok(self.items(items)),
            _ => Ok(vec![self.clone()]),
        }
    }

    fn items(&self, items: &'a [Value]) -> Vec<Field<'a>> {
        items
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                path: format!("{}[{i}]", self.path),
                value,
                base: self.base,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let t = table("a = 1\nb = 2\n");
        let mut f = Fields::new("grid", &t);
        f.take("a");
        let err = f.finish().unwrap_err();
        assert_eq!(err.field, "grid.b");
        assert_eq!(err.message, "unknown key `b` (expected one of `a`)");
    }

    #[test]
    fn list_items_carry_an_index() {
        let t = table("x = [0.5, 2.0]\n");
        let mut f = Fields::new("grid", &t);
        let items = f.take("x").unwrap().one_or_many().unwrap();
        let err = items[1].probability().unwrap_err();
        assert_eq!(err.field, "grid.x[1]");
        assert_eq!(err.message, "2 is not a probability in [0, 1]");
    }

    #[test]
    fn numbers_must_be_finite_and_typed() {
        let t = table("a = nan\nb = \"x\"\nc = 3\nd = -1\n");
        let mut f = Fields::new("", &t);
        assert!(f.take("a").unwrap().number().is_err());
        let e = f.take("b").unwrap().number().unwrap_err();
        assert_eq!(e.message, "expected a number, found a string");
        assert_eq!(f.take("c").unwrap().number().unwrap(), 3.0);
        assert!(f.take("d").unwrap().integer(1, 10).is_err());
        assert!(f.require("e").is_err());
    }
}
