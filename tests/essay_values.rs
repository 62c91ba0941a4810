//! The essay's stated values (`notebooks/essay-values.csv`) are the essay's own.
//!
//! Every `stated` value must appear verbatim in the essay, near its row's words: on a line of
//! the essay that holds the row's words or on one of the three lines after it, in the order
//! the table lists them (a table row of the essay can span a few lines, as the ladder's rungs
//! and the economics table's blocks do). The essay lives beside the project, in
//! `../shared/essay/`; without that folder the comparison is skipped, and says so.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const TABLES: [&str; 6] = [
    "cost sheet",
    "cost multiplication",
    "spectrum",
    "economics",
    "ladder",
    "quick formulas",
];

/// Lines after a row's words that may still hold its values.
const ROW_SPAN: usize = 3;

#[derive(Debug)]
struct Stated {
    table: String,
    row: String,
    column: String,
    stated: String,
    reading: String,
}

fn values() -> Vec<Stated> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks/essay-values.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["table", "row", "column", "stated", "reading"]);
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            Stated {
                table: record[0].to_string(),
                row: record[1].to_string(),
                column: record[2].to_string(),
                stated: record[3].to_string(),
                reading: record[4].to_string(),
            }
        })
        .collect()
}

#[test]
fn the_table_covers_every_table_of_the_essay() {
    let values = values();
    assert!(!values.is_empty(), "essay-values.csv has no rows");
    let tables: BTreeSet<&str> = values.iter().map(|v| v.table.as_str()).collect();
    assert_eq!(
        tables,
        TABLES.into_iter().collect(),
        "tables of essay-values.csv"
    );
    let mut cells = BTreeSet::new();
    for v in &values {
        for (name, field) in [
            ("row", &v.row),
            ("column", &v.column),
            ("stated", &v.stated),
            ("reading", &v.reading),
        ] {
            assert!(!field.trim().is_empty(), "{v:?}: empty {name}");
        }
        assert!(
            cells.insert((&v.table, &v.row, &v.column)),
            "{v:?}: a cell listed twice"
        );
    }
    // The ladder's two columns, for all seven rungs; the cost multiplication table's five rows
    // at four node counts; the spectrum's three rows for seven patterns.
    let count = |table: &str, column: &str| {
        values
            .iter()
            .filter(|v| v.table == table && v.column.contains(column))
            .count()
    };
    assert_eq!(count("ladder", "(dollars)"), 7);
    assert_eq!(count("ladder", "(latency)"), 7);
    assert_eq!(count("cost multiplication", "Nodes"), 20);
    assert_eq!(count("spectrum", ""), 21);
    assert_eq!(count("cost sheet", ""), 6);
    assert!(count("quick formulas", "") >= 6);
}

fn essays() -> Option<Vec<(PathBuf, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/essay");
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut texts: Vec<(PathBuf, String)> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    texts.sort();
    Some(texts)
}

/// Whether `values` appear in this order on a line holding `row` or the `ROW_SPAN` lines after.
fn stated_in_row(lines: &[&str], row: &str, values: &[&str]) -> bool {
    lines.iter().enumerate().any(|(i, line)| {
        if !line.contains(row) {
            return false;
        }
        let span = lines[i..lines.len().min(i + 1 + ROW_SPAN)].join("\n");
        let mut from = 0;
        values.iter().all(|value| match span[from..].find(value) {
            Some(at) => {
                from += at + value.len();
                true
            }
            None => false,
        })
    })
}

#[test]
fn every_stated_value_is_the_essays_own() {
    let Some(essays) = essays() else {
        eprintln!("skipped: no ../shared/essay/ beside the project, so no essay to compare with");
        return;
    };
    assert!(
        !essays.is_empty(),
        "../shared/essay/ holds no .txt file to compare with"
    );
    let text: String = essays.iter().map(|(_, t)| t.as_str()).collect();
    let lines: Vec<&str> = text.lines().collect();
    let values = values();
    let mut missing = Vec::new();
    for v in &values {
        if !text.contains(&v.stated) {
            missing.push(format!(
                "{} / {} / {}: {:?} is not in the essay",
                v.table, v.row, v.column, v.stated
            ));
        }
        if !text.contains(&v.row) {
            missing.push(format!(
                "{}: the row's words {:?} are not in the essay",
                v.table, v.row
            ));
        }
    }
    // Each row's values, in the table's order, where the essay writes that row.
    let mut rows: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for v in &values {
        match rows.last_mut() {
            Some((table, row, stated)) if *table == v.table && *row == v.row => {
                stated.push(&v.stated)
            }
            _ => rows.push((&v.table, &v.row, vec![&v.stated])),
        }
    }
    for (table, row, stated) in &rows {
        if !stated_in_row(&lines, row, stated) {
            missing.push(format!(
                "{table} / {row}: {stated:?} are not, in this order, where the essay writes {row:?}"
            ));
        }
    }
    let names: Vec<_> = essays
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "against {}:\n{}",
        names.join(", "),
        missing.join("\n")
    );
}

#[test]
fn a_value_out_of_its_row_is_found_out() {
    let lines = [
        "| **Consensus Rounds** | 1 | 2-3 | 3-4 | 5-7 |",
        "| other | 9 |",
    ];
    assert!(stated_in_row(
        &lines,
        "Consensus Rounds",
        &["1", "2-3", "5-7"]
    ));
    assert!(!stated_in_row(&lines, "Consensus Rounds", &["5-7", "2-3"]));
    assert!(!stated_in_row(&lines, "Consensus Rounds", &["2"; 3]));
    assert!(!stated_in_row(&lines, "Coordinator Load", &["1"]));
    assert!(stated_in_row(&lines, "Consensus Rounds", &["5-7", "9"]));
}
