//! `coordsim show` end to end: default columns, --columns, --where, the four formats, a
//! reader that closes the pipe early; and the cost columns' values against the [cost] section.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{coordsim, read_parquet};
use serde_json::Value;

/// Fire-and-forget only at 3 nodes, so the 5-node cells have no unit for relative_cost;
/// prices that differ from the defaults, and a premium on two-phase commit.
const SWEEP: &str = r#"
name = "show"
seed = 11
trials = 20_000

[grid]
protocol = ["fire-and-forget", "ack", "two-phase-commit"]
nodes = [3, 5]
crash = [0.0, 0.05]
loss = 0.01
latency = "lan"

[params.fire-and-forget]
nodes = 3

[cost]
message_bytes = 1000
ops_per_month = 2_000_000
usd_per_gb = 0.09

[cost.premium]
two-phase-commit = 5

[latency.lan]
kind = "shifted"
shift_ms = 0.05
of = { kind = "exponential", mean_ms = 0.5 }
"#;

/// The cells of SWEEP in expansion order: (protocol, nodes, crash).
const CELLS: [(&str, u64, f64); 10] = [
    ("fire-and-forget", 3, 0.0),
    ("fire-and-forget", 3, 0.05),
    ("ack", 3, 0.0),
    ("ack", 3, 0.05),
    ("ack", 5, 0.0),
    ("ack", 5, 0.05),
    ("two-phase-commit", 3, 0.0),
    ("two-phase-commit", 3, 0.05),
    ("two-phase-commit", 5, 0.0),
    ("two-phase-commit", 5, 0.05),
];

/// A finished run of SWEEP, in a temporary directory.
struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn run() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("show.toml"), SWEEP).unwrap();
    coordsim(tmp.path())
        .args(["run", "show.toml", "--out", "out", "--quiet"])
        .assert()
        .success();
    let dir = tmp.path().join("out");
    Run { _tmp: tmp, dir }
}

/// `coordsim show DIR ARGS...`: its standard output, after checking it succeeded quietly.
fn show(dir: &Path, args: &[&str]) -> String {
    let out = coordsim(dir.parent().unwrap())
        .arg("show")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "show {args:?} failed: {stderr}");
    assert!(stderr.is_empty(), "show {args:?} wrote to stderr: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `show --format json` as rows of (column, value) pairs in the order printed.
fn json_rows(dir: &Path, args: &[&str]) -> Vec<Vec<(String, Value)>> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let text = show(dir, &all);
    let parsed: Value = serde_json::from_str(&text).unwrap();
    parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

fn get<'a>(row: &'a [(String, Value)], column: &str) -> &'a Value {
    &row.iter().find(|(c, _)| c == column).unwrap().1
}

fn number(row: &[(String, Value)], column: &str) -> f64 {
    get(row, column)
        .as_f64()
        .unwrap_or_else(|| panic!("{column} is not a number in {row:?}"))
}

/// The column names of the summary, as written.
fn summary_columns(dir: &Path) -> Vec<String> {
    let (batch, _) = read_parquet(&dir.join("summary.parquet"));
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The cells of a terminal table, one vector per line (the header first): each column spans
/// from its header's first character to the next header's, so empty cells stay in place.
fn table_cells(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap();
    let mut starts = Vec::new();
    for (i, c) in header.char_indices() {
        if c != ' ' && (i == 0 || header.as_bytes()[i - 1] == b' ') {
            starts.push(i);
        }
    }
    std::iter::once(header)
        .chain(lines.filter(|l| !l.trim_start().starts_with('─')))
        .map(|line| {
            (0..starts.len())
                .map(|k| {
                    let end = starts
                        .get(k + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    line.get(starts[k].min(end)..end)
                        .unwrap()
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

/// The cells of a Markdown table, one vector per line (the header first).
fn markdown_cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.starts_with("|-"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_table_shows_what_the_run_varied_and_the_headline_results() {
    let run = run();
    let text = show(&run.dir, &[]);
    let lines = table_cells(&text);
    // The parameters that vary (here between protocols: null for those without them), not
    // loss or latency, which are the same in every cell; then the headline results.
    assert_eq!(
        lines[0],
        [
            "cell_id",
            "protocol",
            "nodes",
            "crash",
            "retries",
            "timeout_ms",
            "coordinator_crash",
            "commit",
            "sampling",
            "sampler",
            "success_rate",
            "blocked",
            "latency_ms_p50",
            "latency_ms_p99",
            "messages_mean",
            "relative_cost"
        ],
        "{text}"
    );
    assert_eq!(lines.len(), 1 + CELLS.len(), "{text}");
    for (i, (line, (protocol, nodes, crash))) in lines[1..].iter().zip(CELLS).enumerate() {
        assert_eq!(line[0], i.to_string(), "{text}");
        assert_eq!(line[1], protocol, "{text}");
        assert_eq!(line[2], nodes.to_string(), "{text}");
        assert_eq!(line[3].parse::<f64>().unwrap(), crash, "{text}");
        assert_eq!(line[4].is_empty(), protocol != "ack", "retries: {text}");
        assert_eq!(
            line[7].is_empty(),
            protocol != "two-phase-commit",
            "commit: {text}"
        );
        let direct = matches!(protocol, "quorum" | "two-phase-commit");
        assert_eq!(line[8].is_empty(), !direct, "sampling: {text}");
        let sampler = if direct { "direct" } else { "per-node" };
        assert_eq!(line[9], sampler, "sampler: {text}");
        let rate: f64 = line[10].parse().unwrap();
        assert!(rate > 0.5 && rate <= 1.0, "{text}");
        assert_eq!(line[15].is_empty(), nodes == 5, "relative_cost: {text}");
    }
}

#[test]
fn columns_pick_and_order_and_where_filters() {
    let run = run();
    let csv = show(
        &run.dir,
        &[
            "--columns",
            "nodes,protocol,crash",
            "--where",
            "protocol=ack",
            "--where",
            "nodes>=5",
            "--format",
            "csv",
        ],
    );
    assert_eq!(csv, "nodes,protocol,crash\n5,ack,0\n5,ack,0.05\n");
    let csv = show(
        &run.dir,
        &[
            "--columns",
            "protocol",
            "--where",
            "protocol!=ack",
            "--where",
            "crash<0.01",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        csv,
        "protocol\nfire-and-forget\ntwo-phase-commit\ntwo-phase-commit\n"
    );
    let md = show(
        &run.dir,
        &[
            "--columns",
            "protocol,nodes",
            "--where",
            "nodes=5",
            "--format",
            "markdown",
        ],
    );
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "| protocol         | nodes |", "{md}");
    assert!(lines[1].starts_with("|--"), "{md}");
    assert_eq!(lines.len(), 2 + 4, "{md}");
    assert_eq!(lines[2], "| ack              |     5 |", "{md}");
}

#[test]
fn csv_and_json_show_every_column_by_default_and_markdown_the_table_columns() {
    let run = run();
    let columns = summary_columns(&run.dir);
    let csv = show(&run.dir, &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, columns);
    assert_eq!(reader.records().count(), CELLS.len());

    let rows = json_rows(&run.dir, &[]);
    assert_eq!(rows.len(), CELLS.len());
    for row in &rows {
        let keys: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, columns);
    }

    let md = show(&run.dir, &["--format", "markdown"]);
    let table = show(&run.dir, &[]);
    assert_eq!(markdown_cells(&md), table_cells(&table), "{md}");
    assert_eq!(
        show(&run.dir, &["--columns", "all", "--format", "csv"]),
        csv
    );
}

#[test]
fn json_keeps_the_requested_column_order() {
    let run = run();
    let order = ["success_rate", "protocol", "nodes", "cell_id", "blocked"];
    let rows = json_rows(&run.dir, &["--columns", &order.join(",")]);
    assert_eq!(rows.len(), CELLS.len());
    for (row, (protocol, nodes, _)) in rows.iter().zip(CELLS) {
        let keys: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, order);
        assert_eq!(get(row, "protocol"), protocol);
        assert_eq!(get(row, "nodes"), nodes);
    }
    // The printed text itself, not only the parsed objects, is in that order.
    let text = show(
        &run.dir,
        &["--format", "json", "--columns", &order.join(",")],
    );
    let first = &text[..text.find('}').unwrap()];
    let at = |key: &str| first.find(&format!("\"{key}\"")).unwrap();
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{first}");
}

#[test]
fn bad_columns_filters_and_formats_are_usage_errors() {
    let run = run();
    for (args, message) in [
        (vec!["--columns", "protocol,colour"], "no column `colour`"),
        (vec!["--where", "colour=red"], "no column `colour`"),
        (vec!["--where", "nodes"], "is not COLUMN=VALUE"),
        (
            vec!["--where", "nodes>=abc"],
            "--where nodes>=abc: nodes holds numbers; `abc` is not one",
        ),
        (
            vec!["--where", "nodes="],
            "--where nodes=: no value to compare with",
        ),
        (
            vec!["--where", "nodes==3"],
            "--where nodes==3: `=3` is not a value (one operator: =, !=, <, <=, >, >=)",
        ),
        (
            vec!["--where", "protocol>quorum"],
            "--where protocol>quorum: protocol holds words; compare it with = or !=",
        ),
        (
            vec!["--format", "yaml"],
            "is not table, csv, json or markdown",
        ),
    ] {
        let out = coordsim(run.dir.parent().unwrap())
            .arg("show")
            .arg(&run.dir)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_output_quietly() {
    let run = run();
    for format in ["table", "csv", "json", "markdown"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // like `| head -0`: every write now fails with EPIPE
        let out = Command::new(assert_cmd::cargo::cargo_bin("coordsim"))
            .arg("show")
            .arg(&run.dir)
            .args(["--format", format, "--columns", "all"])
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
}

#[test]
fn cost_columns_follow_the_cost_section() {
    let run = run();
    let rows = json_rows(&run.dir, &[]);
    let (bytes, ops, usd_per_gb) = (1000.0, 2_000_000.0, 0.09);
    let premium = |protocol: &str| {
        if protocol == "two-phase-commit" {
            5.0
        } else {
            1.0
        }
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-300);
    let unit = |crash: f64| {
        rows.iter()
            .find(|r| get(r, "protocol") == "fire-and-forget" && number(r, "crash") == crash)
            .map(|r| number(r, "transfer_usd_per_month"))
            .unwrap()
    };
    for (row, (protocol, nodes, crash)) in rows.iter().zip(CELLS) {
        let messages = number(row, "messages_mean");
        assert!(messages > 0.0);
        let usd = messages * ops * bytes / 1e9 * usd_per_gb * premium(protocol);
        let context = format!("{protocol} at {nodes} nodes, crash {crash}");
        assert!(
            close(number(row, "bytes_per_op"), messages * bytes),
            "{context}"
        );
        assert!(
            close(number(row, "messages_per_month"), messages * ops),
            "{context}"
        );
        assert!(
            close(number(row, "transfer_usd_per_month"), usd),
            "{context}"
        );
        let relative = get(row, "relative_cost");
        match (protocol, nodes) {
            ("fire-and-forget", _) => assert_eq!(relative.as_f64(), Some(1.0), "{context}"),
            (_, 3) => assert!(
                close(relative.as_f64().unwrap(), usd / unit(crash)),
                "{context}"
            ),
            // No fire-and-forget cell with 5 nodes: no unit.
            _ => assert!(relative.is_null(), "{context}: {relative}"),
        }
    }
    // The premium shows: two-phase commit costs 5x its messages' worth against ack.
    let cell = |p: &str| {
        rows.iter()
            .find(|r| {
                get(r, "protocol") == p && number(r, "nodes") == 3.0 && number(r, "crash") == 0.0
            })
            .unwrap()
    };
    let per_message =
        |r: &[(String, Value)]| number(r, "transfer_usd_per_month") / number(r, "messages_mean");
    assert!(close(
        per_message(cell("two-phase-commit")),
        5.0 * per_message(cell("ack"))
    ));
}

#[test]
fn periods_bytes_and_latency_are_priced() {
    // A periodic protocol's trial is one period (30 days / period_ms trials a month), a
    // protocol that counts its bytes is priced by them, and latency by usd_per_hour.
    let tmp = tempfile::tempdir().unwrap();
    let sweep = r#"
name = "rates"
seed = 3
trials = 2_000
[grid]
protocol = ["ack", "periodic-broadcast", "state-transfer"]
nodes = 10
latency = "l"
[params.periodic-broadcast]
period_ms = [100, 1000]
[params.state-transfer]
transfer = ["full-state", "delta"]
state_bytes = 5000
delta_bytes = 100
[cost]
message_bytes = 1000
ops_per_month = 2_000_000
usd_per_gb = 0.09
usd_per_hour = 3.6
[latency.l]
kind = "constant"
ms = 1
"#;
    std::fs::write(tmp.path().join("rates.toml"), sweep).unwrap();
    coordsim(tmp.path())
        .args(["run", "rates.toml", "--out", "out", "--quiet"])
        .assert()
        .success();
    let rows = json_rows(&tmp.path().join("out"), &[]);
    assert_eq!(rows.len(), 5);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-300);
    for row in &rows {
        let protocol = get(row, "protocol").as_str().unwrap().to_string();
        let messages = number(row, "messages_mean");
        let (trials_per_month, bytes) = match protocol.as_str() {
            "periodic-broadcast" => {
                let period = number(row, "period_ms");
                // N(N - 1) / period messages per second: 900 or 90 at 10 nodes.
                assert_eq!(messages, 90.0);
                assert!(close(number(row, "messages_per_s"), 90.0 * 1000.0 / period));
                (30.0 * 86_400.0 * 1000.0 / period, messages * 1000.0)
            }
            "state-transfer" => {
                let bytes = number(row, "bytes_mean");
                let expected = match get(row, "transfer").as_str().unwrap() {
                    "full-state" => 90.0 * 5000.0,
                    _ => 10.0 * 100.0,
                };
                assert_eq!(bytes, expected, "{protocol}");
                assert!(get(row, "messages_per_s").is_null());
                (2e6, bytes)
            }
            _ => {
                assert!(get(row, "messages_per_s").is_null());
                (2e6, messages * 1000.0)
            }
        };
        let context = format!("{protocol}: {row:?}");
        assert!(close(number(row, "bytes_per_op"), bytes), "{context}");
        assert!(
            close(
                number(row, "messages_per_month"),
                messages * trials_per_month
            ),
            "{context}"
        );
        let transfer = bytes * trials_per_month / 1e9 * 0.09;
        assert!(
            close(number(row, "transfer_usd_per_month"), transfer),
            "{context}"
        );
        let latency = trials_per_month * number(row, "latency_ms_mean") / 3.6e6 * 3.6;
        assert!(
            close(number(row, "latency_usd_per_month"), latency),
            "{context}"
        );
        assert!(
            close(number(row, "usd_per_month"), transfer + latency),
            "{context}"
        );
    }
}

#[test]
fn relative_cost_is_null_in_a_run_without_fire_and_forget() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = SWEEP.replace(
        r#"protocol = ["fire-and-forget", "ack", "two-phase-commit"]"#,
        r#"protocol = ["ack", "two-phase-commit"]"#,
    );
    let sweep = sweep.replace("[params.fire-and-forget]\nnodes = 3\n", "");
    std::fs::write(tmp.path().join("show.toml"), sweep).unwrap();
    coordsim(tmp.path())
        .args(["run", "show.toml", "--out", "out", "--quiet"])
        .assert()
        .success();
    let rows = json_rows(
        &tmp.path().join("out"),
        &["--columns", "protocol,relative_cost"],
    );
    assert_eq!(rows.len(), 8);
    assert!(
        rows.iter().all(|r| get(r, "relative_cost").is_null()),
        "{rows:?}"
    );
}
