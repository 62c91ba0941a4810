//! A [`Report`] as a terminal table, Markdown (a pull-request comment), JSON or JUnit XML.

use std::str::FromStr;

use serde_json::json;

use super::{Comparison, METHOD, Report, Threshold, Verdict, Worse};
use crate::store::table::{sig, table};

/// How to print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned terminal table.
    Table,
    /// A Markdown document with one table, for a pull-request comment.
    Markdown,
    /// One JSON object.
    Json,
    /// JUnit XML: one testcase per cell and metric, a regression a failure.
    Junit,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "table" => Format::Table,
            "markdown" | "md" => Format::Markdown,
            "json" => Format::Json,
            "junit" => Format::Junit,
            other => return Err(format!("`{other}` is not table, markdown, json or junit")),
        })
    }
}

/// `report` in `format`; with `strict`, JUnit counts an inconclusive comparison as a failure.
pub fn render(report: &Report, format: Format, strict: bool) -> String {
    match format {
        Format::Table => text_table(report),
        Format::Markdown => markdown(report),
        Format::Json => serde_json::to_string_pretty(&to_json(report)).expect("JSON serializes"),
        Format::Junit => junit(report, strict),
    }
}

fn num(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    sig(x, 4)
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), num)
}

fn interval(c: &Comparison) -> String {
    c.interval
        .map_or("-".into(), |(lo, hi)| format!("[{}, {}]", num(lo), num(hi)))
}

fn threshold(c: &Comparison) -> String {
    let way = match c.worse {
        Worse::Drop => "drop",
        Worse::Rise => "rise",
    };
    match c.threshold {
        Threshold::Absolute(x) => format!("{way} {x}"),
        Threshold::Percent(p) => format!("{way} {p}% = {}", num(c.threshold_abs)),
    }
}

fn change(c: &Comparison) -> String {
    c.change().map_or("-".into(), |d| {
        if d > 0.0 {
            format!("+{}", num(d))
        } else {
            num(d)
        }
    })
}

const HEADER: [&str; 9] = [
    "cell",
    "metric",
    "verdict",
    "base",
    "new",
    "change",
    "interval",
    "threshold",
    "p (Holm)",
];

fn row(c: &Comparison) -> [String; 9] {
    [
        c.cell.clone(),
        c.metric.to_string(),
        c.verdict.as_str().to_string(),
        opt(c.base),
        opt(c.new),
        change(c),
        interval(c),
        threshold(c),
        c.p_regressed.map_or("-".into(), |p| format!("{p:.3}")),
    ]
}

/// The lines after the table: cells in one run only, comparisons without an interval.
fn notes(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for (role, cells) in [("base", &report.only_in_base), ("new", &report.only_in_new)] {
        for cell in cells.iter() {
            out.push(format!("only in {role}: {cell}"));
        }
    }
    for c in &report.comparisons {
        if let Some(note) = c.note {
            out.push(format!("{} {}: {note}", c.cell, c.metric));
        }
    }
    out
}

fn explanation(report: &Report) -> String {
    format!(
        "interval: {}% interval of new - base (Newcombe's hybrid score for success_rate, \
         order statistics of the latency histograms for percentiles, normal approximation for \
         means); p (Holm): {METHOD}-adjusted p-value of a regression beyond the threshold; \
         regressed or improved when it is at most {}",
        100.0 * (1.0 - report.alpha),
        report.alpha
    )
}

fn text_table(report: &Report) -> String {
    let mut t = table(&HEADER, 3);
    for c in &report.comparisons {
        t.add_row(row(c));
    }
    let mut out = vec![
        format!(
            "base {} -> new {}",
            report.base.display(),
            report.new.display()
        ),
        t.to_string(),
    ];
    out.extend(notes(report));
    out.push(report.headline());
    out.push(explanation(report));
    out.join("\n")
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown(report: &Report) -> String {
    let regressed = report.count(Verdict::Regressed);
    let title = if regressed > 0 {
        format!("### coordsim compare: {regressed} regressed")
    } else {
        "### coordsim compare: no regression".to_string()
    };
    let mut out = vec![
        title,
        String::new(),
        format!(
            "base `{}`, new `{}`",
            report.base.display(),
            report.new.display()
        ),
        String::new(),
        report.headline(),
        String::new(),
        format!("| {} |", HEADER.join(" | ")),
        format!("|{}", "---|".repeat(HEADER.len())),
    ];
    for c in &report.comparisons {
        let cells: Vec<String> = row(c).iter().map(|s| markdown_cell(s)).collect();
        out.push(format!("| {} |", cells.join(" | ")));
    }
    let notes = notes(report);
    if !notes.is_empty() {
        out.push(String::new());
        out.extend(notes.iter().map(|n| format!("- {}", markdown_cell(n))));
    }
    out.push(String::new());
    out.push(format!("<sub>{}</sub>", explanation(report)));
    out.join("\n")
}

fn finite(x: Option<f64>) -> serde_json::Value {
    x.and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn to_json(report: &Report) -> serde_json::Value {
    let comparisons: Vec<serde_json::Value> = report
        .comparisons
        .iter()
        .map(|c| {
            json!({
                "cell": c.cell,
                "base_cell_id": c.cell_ids.0,
                "new_cell_id": c.cell_ids.1,
                "metric": c.metric,
                "verdict": c.verdict.as_str(),
                "base": finite(c.base),
                "new": finite(c.new),
                "change": finite(c.change()),
                "interval": c.interval.map(|(lo, hi)| vec![finite(Some(lo)), finite(Some(hi))]),
                "threshold": c.threshold.to_string(),
                "threshold_abs": finite(Some(c.threshold_abs)),
                "worse_when": match c.worse { Worse::Drop => "drop", Worse::Rise => "rise" },
                "p_regressed_holm": finite(c.p_regressed),
                "p_improved_holm": finite(c.p_improved),
                "note": c.note,
            })
        })
        .collect();
    let counts = |v: Verdict| report.count(v);
    json!({
        "base": report.base.display().to_string(),
        "new": report.new.display().to_string(),
        "method": METHOD,
        "alpha": report.alpha,
        "tested": report.tested(),
        "counts": {
            "regressed": counts(Verdict::Regressed),
            "improved": counts(Verdict::Improved),
            "unchanged": counts(Verdict::Unchanged),
            "inconclusive": counts(Verdict::Inconclusive),
        },
        "comparisons": comparisons,
        "only_in_base": report.only_in_base,
        "only_in_new": report.only_in_new,
    })
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(report: &Report, strict: bool) -> String {
    let failing = |c: &Comparison| {
        c.verdict == Verdict::Regressed || (strict && c.verdict == Verdict::Inconclusive)
    };
    let failures = report.comparisons.iter().filter(|c| failing(c)).count();
    let skipped = report.only_in_base.len() + report.only_in_new.len();
    let tests = report.comparisons.len() + skipped;
    let mut out = vec![
        r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_string(),
        format!(r#"<testsuites name="coordsim compare" tests="{tests}" failures="{failures}">"#),
        format!(
            r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#,
            xml(&format!(
                "{} -> {}",
                report.base.display(),
                report.new.display()
            ))
        ),
        "    <properties>".to_string(),
        format!(r#"      <property name="method" value="{METHOD}"/>"#),
        format!(r#"      <property name="alpha" value="{}"/>"#, report.alpha),
        "    </properties>".to_string(),
    ];
    for c in &report.comparisons {
        let detail = format!(
            "{}: base {}, new {}, change {}, interval {}, threshold {}, p (Holm) {}",
            c.verdict.as_str(),
            opt(c.base),
            opt(c.new),
            change(c),
            interval(c),
            threshold(c),
            c.p_regressed.map_or("-".into(), |p| format!("{p:.3}")),
        );
        let open = format!(
            r#"    <testcase classname="{}" name="{}">"#,
            xml(&c.cell),
            c.metric
        );
        out.push(open);
        if failing(c) {
            out.push(format!(
                r#"      <failure type="{}" message="{}"/>"#,
                c.verdict.as_str(),
                xml(&detail)
            ));
        } else {
            out.push(format!("      <system-out>{}</system-out>", xml(&detail)));
        }
        out.push("    </testcase>".to_string());
    }
    for (role, cells) in [("base", &report.only_in_base), ("new", &report.only_in_new)] {
        for cell in cells.iter() {
            out.push(format!(
                r#"    <testcase classname="{}" name="present"><skipped message="only in {role}"/></testcase>"#,
                xml(cell)
            ));
        }
    }
    out.push("  </testsuite>".to_string());
    out.push("</testsuites>".to_string());
    out.join("\n")
}
