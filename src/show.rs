//! Reading a run's summary back for people: filter rows, pick columns, print a table, CSV,
//! JSON or Markdown.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table as Comfy, TableStyle};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

use crate::store::table::printable;

/// What `show` could not do.
#[derive(Debug, Error)]
pub enum ShowError {
    /// The summary could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A column, filter or format that does not fit (exit code 2).
    #[error("{0}")]
    Usage(String),
}

impl ShowError {
    /// The process exit code: 2 for a column, filter or format that does not fit, 1 for a
    /// summary that cannot be read.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Read { .. } => 1,
        }
    }
}

/// One value of the summary.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (a parameter the cell's protocol does not have).
    Null,
    /// An unsigned integer.
    Int(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// Rows of named columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Column names.
    pub columns: Vec<String>,
    /// Values, one vector per row.
    pub rows: Vec<Vec<Value>>,
}

fn values(array: &ArrayRef) -> Result<Vec<Value>, String> {
    let n = array.len();
    let get =
        |i: usize, f: &dyn Fn(usize) -> Value| if array.is_null(i) { Value::Null } else { f(i) };
    Ok(match array.data_type() {
        DataType::UInt32 => {
            let a = array.as_primitive::<UInt32Type>();
            (0..n)
                .map(|i| get(i, &|i| Value::Int(a.value(i).into())))
                .collect()
        }
        DataType::UInt64 => {
            let a = array.as_primitive::<UInt64Type>();
            (0..n)
                .map(|i| get(i, &|i| Value::Int(a.value(i))))
                .collect()
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| get(i, &|i| Value::Float(a.value(i))))
                .collect()
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| get(i, &|i| Value::Bool(a.value(i))))
                .collect()
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..n)
                .map(|i| get(i, &|i| Value::Text(a.value(i).to_string())))
                .collect()
        }
        DataType::Dictionary(key, value)
            if **key == DataType::Int32 && **value == DataType::Utf8 =>
        {
            let a = array.as_dictionary::<Int32Type>();
            let words = a.values().as_string::<i32>();
            (0..n)
                .map(|i| {
                    get(i, &|i| {
                        Value::Text(words.value(a.keys().value(i) as usize).to_string())
                    })
                })
                .collect()
        }
        other => return Err(format!("cannot show a column of type {other}")),
    })
}

/// The summary of the run directory `dir`.
pub fn load(dir: &Path) -> Result<Rows, ShowError> {
    let path = dir.join("summary.parquet");
    crate::store::guard::unpanicked(
        || load_unguarded(&path),
        |message| ShowError::Read {
            path: path.display().to_string(),
            message,
        },
    )
}

fn load_unguarded(path: &Path) -> Result<Rows, ShowError> {
    let path = path.to_path_buf();
    let read = |message: String| ShowError::Read {
        path: path.display().to_string(),
        message,
    };
    let file = crate::store::guard::open_regular(&path)
        .map_err(|e| ShowError::Usage(format!("{}: no summary to show ({e})", path.display())))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| read(e.to_string()))?;
    let mut out = Rows {
        columns: Vec::new(),
        rows: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(|e| read(e.to_string()))?;
        if out.columns.is_empty() {
            out.columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(values)
            .collect::<Result<_, _>>()
            .map_err(read)?;
        for i in 0..batch.num_rows() {
            out.rows
                .push(columns.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(out)
}

/// A comparison of a column with a value: `protocol=raft`, `nodes>=10`, `latency!=wan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    column: String,
    op: &'static str,
    value: String,
}

impl FromStr for Filter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        for op in ["<=", ">=", "!=", "=", "<", ">"] {
            if let Some((column, value)) = s.split_once(op) {
                return Ok(Filter {
                    column: column.trim().to_string(),
                    op,
                    value: value.trim().to_string(),
                });
            }
        }
        Err(format!("`{s}` is not COLUMN=VALUE (or !=, <, <=, >, >=)"))
    }
}

impl Filter {
    /// Whether this filter can compare its value with a column holding values like `sample`.
    fn check(&self, sample: Option<&Value>) -> Result<(), ShowError> {
        let refuse = |why: String| {
            Err(ShowError::Usage(format!(
                "--where {}{}{}: {why}",
                self.column, self.op, self.value
            )))
        };
        if self.value.is_empty() {
            return refuse("no value to compare with".into());
        }
        if self.value.starts_with(['=', '<', '>', '!']) {
            return refuse(format!(
                "`{}` is not a value (one operator: =, !=, <, <=, >, >=)",
                self.value
            ));
        }
        let ordering = !matches!(self.op, "=" | "!=");
        match sample {
            Some(Value::Int(_) | Value::Float(_)) if self.value.parse::<f64>().is_err() => refuse(
                format!("{} holds numbers; `{}` is not one", self.column, self.value),
            ),
            Some(Value::Bool(_)) if !matches!(self.value.as_str(), "true" | "false") => refuse(
                format!("{} holds true or false, not `{}`", self.column, self.value),
            ),
            Some(Value::Bool(_)) if ordering => refuse(format!(
                "{} holds true or false; compare it with = or !=",
                self.column
            )),
            Some(Value::Text(_)) if ordering => refuse(format!(
                "{} holds words; compare it with = or !=",
                self.column
            )),
            _ => Ok(()),
        }
    }

    fn keeps(&self, value: &Value) -> bool {
        use std::cmp::Ordering;
        let order = match (value, self.value.parse::<f64>()) {
            (Value::Int(n), Ok(x)) => (*n as f64).partial_cmp(&x),
            (Value::Float(v), Ok(x)) => v.partial_cmp(&x),
            (Value::Null, _) => None,
            (other, _) => Some(other.to_string().as_str().cmp(self.value.as_str())),
        };
        match (self.op, order) {
            ("=", Some(o)) => o == Ordering::Equal,
            ("!=", Some(o)) => o != Ordering::Equal,
            ("!=", None) => true,
            ("<", Some(o)) => o == Ordering::Less,
            ("<=", Some(o)) => o != Ordering::Greater,
            (">", Some(o)) => o == Ordering::Greater,
            (">=", Some(o)) => o != Ordering::Less,
            _ => false,
        }
    }
}

impl Rows {
    fn index(&self, column: &str) -> Result<usize, ShowError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| {
                ShowError::Usage(format!(
                    "no column `{column}` (columns: {})",
                    self.columns.join(", ")
                ))
            })
    }

    /// The rows every filter keeps. A filter whose value cannot be compared with its column's
    /// (no value, a number column and a word, an order on text or booleans) is refused, not
    /// read as one that keeps nothing.
    pub fn filter(mut self, filters: &[Filter]) -> Result<Self, ShowError> {
        let checks: Vec<(usize, &Filter)> = filters
            .iter()
            .map(|f| {
                let i = self.index(&f.column)?;
                let sample = self.rows.iter().map(|r| &r[i]).find(|v| **v != Value::Null);
                f.check(sample)?;
                Ok((i, f))
            })
            .collect::<Result<_, ShowError>>()?;
        self.rows
            .retain(|row| checks.iter().all(|(i, f)| f.keeps(&row[*i])));
        Ok(self)
    }

    /// Only `columns`, in that order.
    pub fn select(self, columns: &[String]) -> Result<Self, ShowError> {
        let indices: Vec<usize> = columns
            .iter()
            .map(|c| self.index(c))
            .collect::<Result<_, _>>()?;
        Ok(Rows {
            columns: columns.to_vec(),
            rows: self
                .rows
                .into_iter()
                .map(|row| indices.iter().map(|&i| row[i].clone()).collect())
                .collect(),
        })
    }
}

/// How to print rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned terminal table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A Markdown table.
    Markdown,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "markdown" | "md" => Format::Markdown,
            other => return Err(format!("`{other}` is not table, csv, json or markdown")),
        })
    }
}

/// A float with up to 6 significant digits, for people.
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..=9).contains(&magnitude) {
        return format!("{x:.5e}");
    }
    let decimals = (5 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `rows` in `format`.
pub fn render(rows: &Rows, format: Format) -> String {
    match format {
        Format::Table | Format::Markdown => {
            let mut t = Comfy::new();
            if format == Format::Markdown {
                t.load_style(ASCII_MARKDOWN);
            } else {
                t.load_style(
                    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')),
                );
            }
            // For a terminal: a control character in a name is shown escaped.
            t.set_content_arrangement(ContentArrangement::Disabled)
                .set_header(rows.columns.iter().map(|c| printable(c)));
            for row in &rows.rows {
                t.add_row(row.iter().map(|v| match v {
                    Value::Float(x) => short(*x),
                    other => printable(&other.to_string()),
                }));
            }
            for (i, _) in rows.columns.iter().enumerate() {
                let numeric = rows
                    .rows
                    .iter()
                    .all(|r| matches!(r[i], Value::Int(_) | Value::Float(_) | Value::Null));
                if let (true, Some(column)) = (numeric, t.column_mut(i)) {
                    column.set_cell_alignment(CellAlignment::Right);
                }
            }
            t.to_string()
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&rows.columns).expect("writing to memory");
            for row in &rows.rows {
                w.write_record(row.iter().map(|v| v.to_string()))
                    .expect("writing to memory");
            }
            String::from_utf8(w.into_inner().expect("writing to memory"))
                .expect("UTF-8")
                .trim_end()
                .to_string()
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = rows
                .rows
                .iter()
                .map(|row| {
                    let map = rows
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| {
                            let v = match v {
                                Value::Null => serde_json::Value::Null,
                                Value::Int(n) => (*n).into(),
                                Value::Bool(b) => (*b).into(),
                                Value::Float(x) => serde_json::Number::from_f64(*x)
                                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                                Value::Text(s) => s.clone().into(),
                            };
                            (c.clone(), v)
                        })
                        .collect();
                    serde_json::Value::Object(map)
                })
                .collect();
            serde_json::to_string_pretty(&objects).expect("JSON values serialize")
        }
    }
}

/// Writes `text` and a newline to `out`. A reader that has gone away (`coordsim show DIR |
/// head` closes the pipe after ten lines) is not an error: the output just ends there.
pub fn print(out: &mut impl Write, text: &str) -> io::Result<()> {
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The columns a terminal table shows when none are asked for: what the run varied, then the
/// headline results (with the trials of each cell and whether it met the precision targets,
/// for an adaptive run, and the verdict of its objectives when the sweep has any).
pub fn default_columns(rows: &Rows) -> Vec<String> {
    let constant = |i: usize| rows.rows.windows(2).all(|w| w[0][i] == w[1][i]);
    let mut columns = Vec::new();
    let results_start = rows
        .columns
        .iter()
        .position(|c| c == "trials")
        .unwrap_or(rows.columns.len());
    for (i, name) in rows.columns[..results_start].iter().enumerate() {
        if name == "cell_id" || name == "protocol" || !constant(i) {
            columns.push(name.clone());
        }
    }
    let adaptive = rows
        .columns
        .iter()
        .position(|c| c == "precision_met")
        .is_some_and(|i| rows.rows.iter().any(|r| r[i] != Value::Null));
    if adaptive {
        columns.extend(["trials".to_string(), "precision_met".to_string()]);
    }
    for name in [
        "success_rate",
        "blocked",
        "latency_ms_p50",
        "latency_ms_p99",
        "messages_mean",
        "relative_cost",
        "expect",
    ] {
        if rows.columns.iter().any(|c| c == name) {
            columns.push(name.to_string());
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows {
            columns: vec!["protocol".into(), "nodes".into(), "success_rate".into()],
            rows: vec![
                vec![
                    Value::Text("raft".into()),
                    Value::Int(3),
                    Value::Float(0.99),
                ],
                vec![
                    Value::Text("raft".into()),
                    Value::Int(10),
                    Value::Float(0.5),
                ],
                vec![Value::Text("quorum".into()), Value::Int(10), Value::Null],
            ],
        }
    }

    #[test]
    fn filters_compare_numbers_as_numbers() {
        let f = |s: &str| s.parse::<Filter>().unwrap();
        let kept = rows().filter(&[f("protocol=raft"), f("nodes>=5")]).unwrap();
        assert_eq!(kept.rows.len(), 1);
        assert_eq!(kept.rows[0][1], Value::Int(10));
        assert_eq!(rows().filter(&[f("nodes<9")]).unwrap().rows.len(), 1);
        assert_eq!(rows().filter(&[f("protocol!=raft")]).unwrap().rows.len(), 1);
        assert!(rows().filter(&[f("colour=red")]).is_err());
        assert!("nodes".parse::<Filter>().is_err());
    }

    #[test]
    fn formats() {
        let r = rows()
            .select(&["protocol".into(), "success_rate".into()])
            .unwrap();
        assert_eq!(
            render(&r, Format::Csv),
            "protocol,success_rate\nraft,0.99\nraft,0.5\nquorum,"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json[0]["success_rate"], 0.99);
        assert!(json[2]["success_rate"].is_null());
        assert!(render(&r, Format::Markdown).starts_with("| protocol | success_rate |"));
        assert_eq!(short(0.123456789), "0.123457");
        let met = Rows {
            columns: vec!["precision_met".into()],
            rows: vec![vec![Value::Bool(true)], vec![Value::Null]],
        };
        assert_eq!(render(&met, Format::Csv), "precision_met\ntrue\n\"\"");
        let json: serde_json::Value = serde_json::from_str(&render(&met, Format::Json)).unwrap();
        assert_eq!(json[0]["precision_met"], true);
        let f: Filter = "precision_met=true".parse().unwrap();
        assert_eq!(met.filter(&[f]).unwrap().rows.len(), 1);
        assert_eq!(short(1234.5), "1234.5");
    }

    #[test]
    fn json_keeps_the_column_order() {
        let r = rows()
            .select(&["success_rate".into(), "protocol".into(), "nodes".into()])
            .unwrap();
        let text = render(&r, Format::Json);
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
        assert!(at("success_rate") < at("protocol") && at("protocol") < at("nodes"));
    }

    /// A reader that has gone away after `room` bytes.
    struct ClosedAfter {
        room: usize,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_quietly() {
        let text = "protocol\nraft\n".repeat(100);
        assert!(print(&mut ClosedAfter { room: 10 }, &text).is_ok());
        assert!(print(&mut ClosedAfter { room: 0 }, &text).is_ok());
        let mut full = Vec::new();
        print(&mut full, "a").unwrap();
        assert_eq!(full, b"a\n");
    }
}
