//! `[[expect]]`: objectives that a run checks when it ends.
//!
//! ```toml
//! [[expect]]
//! where = "protocol = 'two-phase-commit' and nodes = 5"   # optional: every cell
//! success_rate = ">= 0.999"
//! latency_ms_p99 = "<= 20"
//! ```
//!
//! `where` is a conjunction of comparisons (`and`) of a grid axis or a protocol parameter
//! with a value: `=`, `!=`, `<`, `<=`, `>`, `>=`; words are quoted (`'raft'`), numbers not. A
//! comparison with a parameter the cell's protocol does not have is false. Every other key
//! names a summary column and bounds it (see [`crate::model::objective`]). Each expectation
//! applies to the cells its `where` selects, and must select at least one.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::objective::{METRICS, Objective, Objectives};
use crate::model::{ParamKind, ProtocolInfo, QuorumRule, Value};

use super::fields::{Field, FieldError};
use super::{Cell, Cells};

/// The probability that some verdict of a run is wrong: its checks share it.
pub const LEVEL: f64 = 0.05;

/// One `[[expect]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Where it is in the sweep file: `expect[0]`.
    pub source: String,
    /// Its `where`, as written (empty for every cell).
    pub filter: String,
    terms: Vec<Term>,
    /// Its objectives, in the order of the summary's columns.
    pub objectives: Vec<Objective>,
    /// The cells it applies to, ascending.
    pub cells: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
struct Term {
    column: String,
    op: Op,
    value: Literal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(f64),
    Word(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(x) => write!(f, "{x}"),
            Literal::Word(w) => write!(f, "'{w}'"),
        }
    }
}

/// What a column holds, for checking a comparison before any cell is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Word,
    /// A quorum size: a number, or a rule's word (`majority`, `all`).
    Quorum,
}

/// The axes `where` may name, with what they hold.
const AXIS_KINDS: &[(&str, Kind)] = &[
    ("protocol", Kind::Word),
    ("nodes", Kind::Number),
    ("crash", Kind::Number),
    ("loss", Kind::Number),
    ("zones", Kind::Number),
    ("zone_crash", Kind::Number),
    ("partition", Kind::Number),
    ("regions", Kind::Number),
    ("latency", Kind::Word),
    ("cross_latency", Kind::Word),
    ("persist", Kind::Word),
    ("process", Kind::Word),
];

impl Expectation {
    /// Whether it applies to `cell`.
    pub fn selects(&self, cell: &Cell) -> bool {
        self.terms.iter().all(|t| t.holds(cell))
    }
}

impl Term {
    fn holds(&self, cell: &Cell) -> bool {
        use std::cmp::Ordering;
        let value = |word: &str| Some(Cellvalue::Word(word.to_string()));
        let number = |x: f64| Some(Cellvalue::Number(x));
        let found = match self.column.as_str() {
            "protocol" => value(cell.protocol.name),
            "nodes" => number(cell.nodes.into()),
            "crash" => number(cell.crash),
            "loss" => number(cell.loss),
            "zones" => number(cell.zones.into()),
            "zone_crash" => number(cell.zone_crash),
            "partition" => number(cell.partition),
            "regions" => number(cell.regions.into()),
            "latency" => value(&cell.latency_name),
            "cross_latency" => cell.cross_latency.as_ref().and_then(|(n, _)| value(n)),
            "persist" => cell.persist.as_ref().and_then(|(n, _)| value(n)),
            "process" => cell.process.as_ref().and_then(|(n, _)| value(n)),
            param => cell.value(param).map(|v| match v {
                Value::Count(n) => Cellvalue::Number(n.into()),
                Value::Millis(x) | Value::Positive(x) | Value::Probability(x) => {
                    Cellvalue::Number(x)
                }
                Value::Choice(word) => Cellvalue::Word(word.to_string()),
                Value::Quorum(rule) => Cellvalue::Quorum(rule, rule.resolve(cell.nodes)),
            }),
        };
        let Some(found) = found else {
            return false;
        };
        let order = match (&found, &self.value) {
            (Cellvalue::Number(x), Literal::Number(y)) => x.partial_cmp(y),
            (Cellvalue::Quorum(_, k), Literal::Number(y)) => f64::from(*k).partial_cmp(y),
            (Cellvalue::Word(w), Literal::Word(y)) => Some(w.as_str().cmp(y.as_str())),
            (Cellvalue::Quorum(rule, _), Literal::Word(y)) => {
                Some(rule.to_string().as_str().cmp(y.as_str()))
            }
            _ => None,
        };
        let Some(order) = order else {
            return false;
        };
        match self.op {
            Op::Eq => order == Ordering::Equal,
            Op::Ne => order != Ordering::Equal,
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
        }
    }
}

/// A cell's value of a column.
enum Cellvalue {
    Number(f64),
    Word(String),
    Quorum(QuorumRule, u32),
}

/// Reads the `expect` list, checking each `where` against the columns of `protocols`; the
/// cells are matched later ([`match_cells`]).
pub(super) fn read(
    field: &Field<'_>,
    protocols: &[&'static ProtocolInfo],
) -> Result<Vec<Expectation>, FieldError> {
    let mut out = Vec::new();
    for item in field.list()? {
        let mut table = item.table()?;
        let source = item.path().to_string();
        let (filter, terms) = match table.take("where") {
            Some(f) => {
                let text = f.string()?;
                let terms = parse_where(text, protocols).map_err(|m| f.error(m))?;
                (text.to_string(), terms)
            }
            None => (String::new(), Vec::new()),
        };
        let keys: Vec<&str> = table.untaken().map(|(k, _)| k).collect();
        let mut objectives = Vec::new();
        for key in keys {
            let f = table.take(key).expect("key is present");
            let text = f.string()?;
            objectives.push(Objective::parse(key, text).map_err(|m| f.error(m))?);
        }
        // In the order of the summary's columns, whatever the order of the keys.
        objectives.sort_by_key(|o: &Objective| METRICS.iter().position(|(_, m)| *m == o.metric));
        if objectives.is_empty() {
            return Err(item.error(
                "no objective: add a bound such as success_rate = \">= 0.999\" or latency_ms_p99 = \"<= 20\"",
            ));
        }
        table.finish()?;
        out.push(Expectation {
            source,
            filter,
            terms,
            objectives,
            cells: Vec::new(),
        });
    }
    Ok(out)
}

/// Fills in the cells each expectation selects; one that selects none is an error.
pub(super) fn match_cells(
    expectations: &mut [Expectation],
    cells: &Cells,
) -> Result<(), FieldError> {
    for e in expectations {
        e.cells = cells
            .iter()
            .filter(|c| e.selects(c))
            .map(|c| c.id)
            .collect();
        if e.cells.is_empty() {
            return Err(FieldError::new(
                format!("{}.where", e.source),
                format!("`{}` selects no cell of the grid", e.filter),
            ));
        }
    }
    Ok(())
}

/// Every cell's objectives, in the order of the expectations, each check at the run's
/// [`LEVEL`] divided among all checks.
pub fn objectives(expectations: &[Expectation]) -> Objectives {
    let mut cells: BTreeMap<u32, Vec<Objective>> = BTreeMap::new();
    for e in expectations {
        for &cell in &e.cells {
            cells
                .entry(cell)
                .or_default()
                .extend(e.objectives.iter().copied());
        }
    }
    Objectives::new(LEVEL, cells)
}

fn parse_where(text: &str, protocols: &[&'static ProtocolInfo]) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for part in split_and(text) {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("`{text}`: a comparison is missing around `and`"));
        }
        terms.push(parse_term(part, protocols)?);
    }
    Ok(terms)
}

/// `text` split at each ` and ` (any case) outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quote) = (0, None);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b.is_ascii_whitespace()
                && text[i..].len() >= 5
                && text[i + 1..].to_ascii_lowercase().starts_with("and")
                && text[i + 4..].starts_with(|c: char| c.is_ascii_whitespace()) =>
            {
                parts.push(&text[start..i]);
                i += 4;
                start = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

fn parse_term(part: &str, protocols: &[&'static ProtocolInfo]) -> Result<Term, String> {
    const OPS: [(&str, Op); 7] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let at = part.find(['=', '<', '>', '!']).ok_or_else(|| {
        format!("`{part}` is not COLUMN OP VALUE (OP one of =, !=, <, <=, >, >=)")
    })?;
    let column = part[..at].trim();
    let rest = &part[at..];
    let (op_text, op) = OPS
        .iter()
        .find(|(t, _)| rest.starts_with(t))
        .copied()
        .ok_or_else(|| format!("`{part}`: `{}` is not an operator", &rest[..1]))?;
    let raw = rest[op_text.len()..].trim();
    let value = if let Some(inner) = raw
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
    {
        Literal::Word(inner.to_string())
    } else if let Ok(x) = raw.parse::<f64>() {
        Literal::Number(x)
    } else if raw.is_empty() {
        return Err(format!("`{part}`: no value to compare with"));
    } else {
        return Err(format!(
            "`{part}`: `{raw}` is neither a number nor a quoted word ('{raw}')"
        ));
    };
    let kind = kind_of(column, protocols)?;
    let ordering = !matches!(op, Op::Eq | Op::Ne);
    match (kind, &value) {
        (Kind::Word, Literal::Number(_)) => {
            return Err(format!("`{part}`: {column} holds words; quote the value"));
        }
        (Kind::Number, Literal::Word(_)) => {
            return Err(format!("`{part}`: {column} holds numbers, not {value}"));
        }
        (Kind::Word, _) | (Kind::Quorum, Literal::Word(_)) if ordering => {
            return Err(format!(
                "`{part}`: {column} holds words; compare it with = or !="
            ));
        }
        _ => {}
    }
    Ok(Term {
        column: column.to_string(),
        op,
        value,
    })
}

fn kind_of(column: &str, protocols: &[&'static ProtocolInfo]) -> Result<Kind, String> {
    if let Some((_, kind)) = AXIS_KINDS.iter().find(|(n, _)| *n == column) {
        return Ok(*kind);
    }
    let spec = protocols.iter().find_map(|p| p.param(column));
    match spec.map(|s| s.kind) {
        Some(ParamKind::Choice(_)) => Ok(Kind::Word),
        Some(ParamKind::Quorum) => Ok(Kind::Quorum),
        Some(_) => Ok(Kind::Number),
        None => {
            let mut names: Vec<&str> = AXIS_KINDS.iter().map(|(n, _)| *n).collect();
            for p in protocols {
                for s in p.params {
                    if !names.contains(&s.name) {
                        names.push(s.name);
                    }
                }
            }
            Err(format!(
                "no column `{column}` to select cells by (columns: {})",
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_splits_outside_quotes_only() {
        assert_eq!(split_and("a = 1 and b = 2"), ["a = 1", " b = 2"]);
        assert_eq!(
            split_and("a = 'x and y' AND b=2"),
            ["a = 'x and y'", " b=2"]
        );
        assert_eq!(split_and("brand = 1"), ["brand = 1"]);
        assert_eq!(split_and("a = 1 and"), ["a = 1 and"]);
    }
}
