//! Aligned terminal tables: the end-of-run summary, the cells of a dry run.

use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table, TableStyle};

use super::CellRecord;
use crate::sweep::{Cell, ParamsDisplay, Sweep};

/// No borders; one rule under the header.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));

/// A table in coordsim's terminal style with `header`, its columns from `numeric_from` on
/// aligned right.
pub fn table(header: &[&str], numeric_from: usize) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for i in numeric_from..header.len() {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// `text` with its control characters escaped (`\u{1b}`): names from a sweep file or a
/// damaged result file must not drive the terminal.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn cell_columns(cell: &Cell) -> Vec<String> {
    vec![
        cell.id.to_string(),
        cell.protocol.name.to_string(),
        cell.nodes.to_string(),
        cell.crash.to_string(),
        cell.loss.to_string(),
        // A latency model's name is a sweep file's key: any text, control characters escaped.
        printable(&cell.latency_name),
        printable(&ParamsDisplay(cell).to_string()),
    ]
}

const CELL_HEADER: [&str; 7] = [
    "cell", "protocol", "nodes", "crash", "loss", "latency", "params",
];

/// Formats a number with up to `digits` significant digits, without exponent for common sizes.
pub fn sig(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

/// The end-of-run summary, one row per cell; for an adaptive run with the trials each cell
/// used and whether it met the precision targets.
pub fn summary(sweep: &Sweep, records: &[CellRecord]) -> String {
    let adaptive = sweep.precision.is_adaptive();
    let mut header = CELL_HEADER.to_vec();
    if adaptive {
        header.extend(["trials", "met"]);
    }
    header.extend([
        "success",
        "95% CI",
        "blocked",
        "p50 ms",
        "p99 ms",
        "msgs/trial",
        "rounds",
    ]);
    let expect = !sweep.expectations.is_empty();
    if expect {
        header.push("expect");
    }
    let mut t = table(&header, 7);
    for record in records {
        let s = &record.summary;
        let mut row = cell_columns(&sweep.cells.get(record.cell_id as usize));
        if adaptive {
            row.push(s.trials.to_string());
            row.push(match record.precision_met {
                Some(true) => "yes".to_string(),
                Some(false) => "no (cap)".to_string(),
                None => "-".to_string(),
            });
        }
        let latency = |get: fn(&crate::model::stats::LatencyMs) -> f64| {
            s.latency_ms.as_ref().map_or("-".into(), |l| sig(get(l), 4))
        };
        row.extend([
            format!("{:.6}", s.success_rate),
            format!("{:.6}-{:.6}", s.success_ci95_low, s.success_ci95_high),
            s.blocked.to_string(),
            latency(|l| l.p50),
            latency(|l| l.p99),
            sig(s.messages_mean, 4),
            sig(s.rounds_mean, 3),
        ]);
        if expect {
            let worst = record.verdicts.iter().map(|j| j.verdict).max();
            row.push(worst.map_or("-", |v| v.as_str()).to_string());
        }
        t.add_row(row);
    }
    t.to_string()
}

/// The cells a sweep would run, with their trials (at most, for an adaptive run).
pub fn cells(sweep: &Sweep) -> String {
    let mut header = CELL_HEADER.to_vec();
    header.push(if sweep.precision.is_adaptive() {
        "max trials"
    } else {
        "trials"
    });
    let mut t = table(&header, 7);
    for cell in sweep.cells.iter() {
        let mut row = cell_columns(&cell);
        row.push(sweep.trials.to_string());
        t.add_row(row);
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::sig;

    #[test]
    fn significant_digits() {
        assert_eq!(sig(1.23456, 4), "1.235");
        assert_eq!(sig(1234.5, 4), "1234");
        assert_eq!(sig(0.0012345, 3), "0.00123");
        assert_eq!(sig(0.0, 3), "0");
    }
}
