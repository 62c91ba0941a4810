//! `coordsim compare` end to end: no false alarm between two seeds of one sweep, a change of
//! known size found on exactly the cells it touches, every output format read back, bad input.

mod common;

use std::path::Path;

use common::{coordsim, error_line};
use serde_json::Value;

/// 36 cells: three protocols x 3 node counts x 2 crash rates x 2 loss rates, 20,000 trials
/// each (two chunks): a second or two in the test profile.
const SWEEP: &str = r#"
name = "compare"
seed = 1
trials = 20_000

[grid]
protocol = ["ack", "quorum", "two-phase-commit"]
nodes = [3, 5, 7]
crash = [0.01, 0.05]
loss = [0.0, 0.01]
latency = "lan"

[params.two-phase-commit]
timeout_ms = 5
coordinator_crash = 0.01

[latency.lan]
kind = "shifted"
shift_ms = 0.05
of = { kind = "exponential", mean_ms = 0.5 }
"#;

const CELLS: usize = 36;
const METRICS: usize = 5;

/// Runs `sweep` (with `seed`) into `dir/out`.
fn run(dir: &Path, out: &str, sweep: &str, seed: u64) {
    std::fs::write(dir.join(format!("{out}.toml")), sweep).unwrap();
    coordsim(dir)
        .args(["run", &format!("{out}.toml"), "--out", out, "--quiet"])
        .args(["--seed", &seed.to_string(), "--threads", "2"])
        .assert()
        .success();
}

/// `coordsim compare ARGS...` in `dir`: exit code and standard output.
fn compare(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = coordsim(dir).arg("compare").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let (code, text) = compare(dir, &[args, &["--format", "json"]].concat());
    (code, serde_json::from_str(&text).unwrap())
}

fn verdicts(report: &Value, verdict: &str) -> Vec<(String, String)> {
    report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| {
            (
                c["cell"].as_str().unwrap().to_string(),
                c["metric"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn two_seeds_of_one_sweep_raise_no_alarm() {
    // Every cell's true change is 0, inside every threshold, so a regression would be a false
    // alarm; Holm's method keeps the chance of any at most alpha = 5% over all 180
    // comparisons (far less, since the thresholds are above 0). The seeds are fixed, so the
    // outcome is too.
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), "a", SWEEP, 1);
    run(tmp.path(), "b", SWEEP, 2);
    let (code, report) = json(tmp.path(), &["a", "b"]);
    assert_eq!(code, 0, "{report:#}");
    let comparisons = report["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), CELLS * METRICS);
    assert_eq!(report["only_in_base"].as_array().unwrap().len(), 0);
    assert_eq!(report["only_in_new"].as_array().unwrap().len(), 0);
    assert_eq!(report["method"], "Holm");
    for c in comparisons {
        let v = c["verdict"].as_str().unwrap();
        assert!(v == "unchanged" || v == "inconclusive", "{c:#}");
        // Matched by parameters: the same cells, in the same order here.
        assert_eq!(c["base_cell_id"], c["new_cell_id"]);
    }
    // The same run against itself: every interval holds 0, nothing regressed or improved.
    let (code, itself) = json(tmp.path(), &["a", "a"]);
    assert_eq!(code, 0);
    assert!(verdicts(&itself, "regressed").is_empty());
    assert!(verdicts(&itself, "improved").is_empty());
    // --strict fails on the inconclusive comparisons, if any.
    let inconclusive = report["counts"]["inconclusive"].as_u64().unwrap();
    let (code, _) = compare(tmp.path(), &["a", "b", "--strict"]);
    assert_eq!(code, if inconclusive > 0 { 1 } else { 0 });
}

#[test]
fn a_known_change_regresses_exactly_the_cells_it_touches() {
    // The new run's coordinator crashes with probability 0.05 instead of 0.01: two-phase
    // commit's success, (1 - crash)^N (1 - loss)^2N (1 - coordinator_crash) without resends,
    // falls by 0.04 / 0.99 of the rest, at least 0.95^7 0.99^14 = 0.61 here: a drop of at
    // least 0.024. The standard error of a difference of two rates over 20,000 trials each
    // is at most sqrt(2 0.25 / 20000) = 0.005, so the drop exceeds the threshold of 0.001 by
    // 4.6 standard errors or more, beyond the 3.6 Holm's method asks for the first of 180
    // comparisons at alpha = 0.05 (two-sided). The other protocols' cells do not change.
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), "base", SWEEP, 1);
    let changed = SWEEP.replace("coordinator_crash = 0.01", "coordinator_crash = 0.05");
    run(tmp.path(), "new", &changed, 2);
    // Without --ignore, the changed parameter makes the 2PC cells different cells.
    let (code, unmatched) = json(tmp.path(), &["base", "new"]);
    assert_eq!(code, 0);
    assert_eq!(unmatched["only_in_base"].as_array().unwrap().len(), 12);
    assert_eq!(unmatched["only_in_new"].as_array().unwrap().len(), 12);
    assert_eq!(
        unmatched["comparisons"].as_array().unwrap().len(),
        24 * METRICS
    );

    let (code, report) = json(
        tmp.path(),
        &["base", "new", "--ignore", "coordinator_crash"],
    );
    assert_eq!(code, 1, "a regression exits with 1");
    let regressed = verdicts(&report, "regressed");
    let success: Vec<&(String, String)> = regressed
        .iter()
        .filter(|(_, m)| m == "success_rate")
        .collect();
    assert_eq!(success.len(), 12, "{regressed:?}");
    assert!(
        success
            .iter()
            .all(|(cell, _)| cell.starts_with("two-phase-commit")),
        "{regressed:?}"
    );
    assert!(
        regressed
            .iter()
            .all(|(cell, _)| cell.starts_with("two-phase-commit")),
        "{regressed:?}"
    );
    // The intervals of the 2PC success rates hold the drop.
    for c in report["comparisons"].as_array().unwrap() {
        if c["metric"] == "success_rate" && c["cell"].as_str().unwrap().starts_with("two-phase") {
            let hi = c["interval"][1].as_f64().unwrap();
            assert!(hi < -0.001, "{c:#}");
        }
    }
}

#[test]
fn every_format_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), "base", SWEEP, 1);
    let changed = SWEEP.replace("coordinator_crash = 0.01", "coordinator_crash = 0.05");
    run(tmp.path(), "new", &changed, 2);
    let args = ["base", "new", "--ignore", "coordinator_crash"];
    let (_, report) = json(tmp.path(), &args);
    let comparisons = report["comparisons"].as_array().unwrap();
    let regressed = report["counts"]["regressed"].as_u64().unwrap() as usize;
    assert!(regressed >= 12);

    // JUnit: one testcase per cell and metric, a failure for each regression.
    let (code, xml) = compare(tmp.path(), &[&args[..], &["--format", "junit"]].concat());
    assert_eq!(code, 1);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), comparisons.len());
    let failed: Vec<(String, String)> = cases
        .iter()
        .filter(|n| n.children().any(|c| c.has_tag_name("failure")))
        .map(|n| {
            (
                n.attribute("classname").unwrap().to_string(),
                n.attribute("name").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failed, verdicts(&report, "regressed"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some(&*regressed.to_string()));

    // Markdown: a header, a rule, and one row of 9 cells per comparison.
    let (code, md) = compare(tmp.path(), &[&args[..], &["--format", "markdown"]].concat());
    assert_eq!(code, 1);
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 1 + comparisons.len());
    assert!(rows[0].starts_with("| cell | metric | verdict |"));
    for (row, c) in rows[1..].iter().zip(comparisons) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 9, "{row}");
        assert_eq!(cells[0], c["cell"]);
        assert_eq!(cells[1], c["metric"]);
        assert_eq!(cells[2], c["verdict"]);
    }
    assert!(md.contains(&format!("{regressed} regressed")));

    // The table: one line per comparison under its header, and the method named.
    let (code, table) = compare(tmp.path(), &args);
    assert_eq!(code, 1);
    let lines = table
        .lines()
        .filter(|l| l.contains("success_rate") && l.contains("drop 0.001"))
        .count();
    assert_eq!(lines, CELLS);
    assert!(table.contains("Holm's method"));
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    for (args, expected) in [
        (vec!["missing", "empty"], "base missing: no such directory"),
        (vec!["empty", "empty"], "base empty: not a run directory"),
    ] {
        let out = coordsim(tmp.path())
            .arg("compare")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            error_line(&out).starts_with(expected),
            "{}",
            error_line(&out)
        );
    }
    // A run whose summary lacks a compared metric: different metric sets.
    run(tmp.path(), "a", SWEEP, 1);
    run(tmp.path(), "b", SWEEP, 2);
    let path = tmp.path().join("b/summary.parquet");
    let (batch, metadata) = common::read_parquet(&path);
    common::rewrite(
        &path,
        &common::without(&batch, &["latency_ms_p99"]),
        &metadata,
        true,
    );
    let out = coordsim(tmp.path())
        .args(["compare", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(error_line(&out).contains("different metric sets"));
    for args in [
        vec!["a", "a", "--max-rise", "success_rate=1%"],
        vec!["a", "a", "--max-drop", "colour=1"],
        vec!["a", "a", "--ignore", "colour"],
        vec!["a", "a", "--max-rise", "latency_ms_p99=-1"],
    ] {
        let out = coordsim(tmp.path())
            .arg("compare")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        error_line(&out);
    }
}
