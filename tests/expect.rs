//! `[[expect]]` end to end: objectives met and missed (exit code 1, files written), the
//! `expect` column, an objective at the edge that a fixed run leaves undecided and an adaptive
//! run decides, the same verdicts from shards merged, and bad objectives refused in one line.
//!
//! The model is fire-and-forget with a constant delay: its success rate is exactly
//! `1 - loss`, so which side of a bound each cell lies on is known.

mod common;

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt64Type};
use common::{coordsim, error_line, read_parquet};
use coordsim::engine::CHUNK_TRIALS;
use coordsim::model::precision::looks;

/// A sweep of fire-and-forget at loss 0.05 and 0.1 (success rates 0.95 and 0.9), with
/// `expect` appended.
fn sweep(trials: u64, expect: &str) -> String {
    format!(
        "name = \"expect\"\nseed = 11\ntrials = {trials}\n\n[grid]\nprotocol = \"fire-and-forget\"\n\
         nodes = 1\nloss = [0.05, 0.1]\nlatency = \"lan\"\n\n[latency.lan]\nkind = \"constant\"\n\
         ms = 1.0\n\n{expect}"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

/// Runs `args` in `dir`; returns the exit code and stdout.
fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = coordsim(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(name).unwrap();
    let dictionary = array.as_dictionary::<Int32Type>();
    let words = dictionary.values().as_string::<i32>();
    dictionary
        .keys()
        .iter()
        .map(|k| k.map(|k| words.value(k as usize).to_string()))
        .collect()
}

fn summary(dir: &Path) -> RecordBatch {
    read_parquet(&dir.join("summary.parquet")).0
}

const MET_AND_MISSED: &str = "[[expect]]\nwhere = \"loss = 0.05\"\nsuccess_rate = \">= 0.9\"\n\
latency_ms_p99 = \"<= 1.5\"\n\n[[expect]]\nwhere = \"loss = 0.1\"\nsuccess_rate = \">= 0.95\"\n";

#[test]
fn a_missed_objective_exits_1_after_writing_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write(dir, "s.toml", &sweep(20_000, MET_AND_MISSED));
    // A dry run lists each expectation with the cells it selects.
    let (code, stdout) = run(dir, &["run", &file, "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(
            "expect[0] (loss = 0.05): success_rate >= 0.9, latency_ms_p99 <= 1.5 in cells 0\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("expect[1] (loss = 0.1): success_rate >= 0.95 in cells 1\n"),
        "{stdout}"
    );
    let (code, stdout) = run(dir, &["run", &file, "--out", "out", "--quiet"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "met: success_rate >= 0.9 (expect[0]: loss = 0.05): 1 met, 0 missed, 0 undecided"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("met: latency_ms_p99 <= 1.5 (expect[0]: loss = 0.05): 1 met"),
        "{stdout}"
    );
    // An expectation's objectives in the order of the summary's columns.
    assert!(stdout.find("success_rate >= 0.9 ") < stdout.find("latency_ms_p99 <= 1.5"));
    assert!(
        stdout.contains("MISSED: success_rate >= 0.95 (expect[1]: loss = 0.1): 0 met, 1 missed"),
        "{stdout}"
    );
    // The cell that missed, with its estimate and an interval wholly below the bound.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("  cell 1 missed: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let numbers: Vec<f64> = line["  cell 1 missed: ".len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let [estimate, low, high] = numbers[..] else {
        panic!("{line}")
    };
    assert!(low <= estimate && estimate <= high && high < 0.95, "{line}");
    assert!(
        (estimate - 0.9).abs() < 5.0 * (0.9 * 0.1 / 20_000f64).sqrt(),
        "{line}"
    );
    assert!(stdout.contains("each of the 3 checks"), "{stdout}");
    // The results are complete and verify.
    let s = summary(&dir.join("out"));
    assert_eq!(
        column(&s, "expect"),
        [Some("met".to_string()), Some("missed".to_string())]
    );
    coordsim(dir).args(["verify", "out"]).assert().success();
    // Without objectives there is no such column.
    let plain = write(dir, "plain.toml", &sweep(1000, ""));
    let (code, stdout) = run(dir, &["run", &plain, "--out", "plain", "--quiet"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("checks"), "{stdout}");
    assert!(
        summary(&dir.join("plain"))
            .column_by_name("expect")
            .is_none()
    );
}

#[test]
fn an_objective_at_the_edge_is_undecided_then_decided_by_more_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 0.9 lies 0.005 above the bound: 2,000 trials cannot tell.
    let edge = "[[expect]]\nwhere = \"loss = 0.1\"\nsuccess_rate = \">= 0.895\"\n";
    let file = write(dir, "edge.toml", &sweep(2_000, edge));
    let (code, stdout) = run(dir, &["run", &file, "--out", "fixed", "--quiet"]);
    assert_eq!(code, 0, "undecided is not missed: {stdout}");
    assert!(
        stdout.contains(
            "undecided: success_rate >= 0.895 (expect[0]: loss = 0.1): 0 met, 0 missed, 1 undecided"
        ),
        "{stdout}"
    );
    assert_eq!(
        column(&summary(&dir.join("fixed")), "expect"),
        [None, Some("undecided".to_string())]
    );

    // With a precision target (met at once) and a cap of 200 chunks, the undecided cell runs
    // on from look to look until it is decided; the other cell has no objective and stops at
    // its first chunk.
    let cap = 200 * CHUNK_TRIALS;
    let cap_text = cap.to_string();
    for (threads, out) in [("1", "adaptive-1"), ("2", "adaptive-2")] {
        let (code, stdout) = run(
            dir,
            &[
                "run",
                &file,
                "--out",
                out,
                "--quiet",
                "--precision",
                "0.5",
                "--trials",
                &cap_text,
                "--threads",
                threads,
            ],
        );
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains("met: success_rate >= 0.895 (expect[0]: loss = 0.1): 1 met"),
            "{stdout}"
        );
    }
    let s = summary(&dir.join("adaptive-1"));
    assert_eq!(column(&s, "expect"), [None, Some("met".to_string())]);
    let trials: Vec<u64> = s
        .column_by_name("trials")
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec();
    assert_eq!(trials[0], CHUNK_TRIALS);
    let chunks = trials[1] / CHUNK_TRIALS;
    assert_eq!(trials[1] % CHUNK_TRIALS, 0);
    assert!(
        chunks > 1 && chunks < 200,
        "decided before the cap: {chunks} chunks"
    );
    assert!(
        looks(200).any(|c| c == chunks),
        "stopped at a look: {chunks}"
    );
    // The same trials and verdicts on two threads.
    let other = summary(&dir.join("adaptive-2"));
    assert_eq!(column(&other, "expect"), column(&s, "expect"));
    assert_eq!(
        other.column_by_name("trials").unwrap(),
        s.column_by_name("trials").unwrap()
    );
}

#[test]
fn shards_merged_are_judged_as_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write(dir, "s.toml", &sweep(3 * CHUNK_TRIALS, MET_AND_MISSED));
    let (whole, _) = run(dir, &["run", &file, "--out", "whole", "--quiet"]);
    assert_eq!(whole, 1);
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = format!("parts/{k}");
        // A shard judges nothing: its cells are incomplete.
        let (code, stdout) = run(
            dir,
            &["run", &file, "--out", &out, "--quiet", "--shard", &shard],
        );
        assert_eq!(code, 0, "{stdout}");
        assert!(!stdout.contains("checks"), "{stdout}");
    }
    let (code, stdout) = run(dir, &["merge", "parts/*", "--out", "merged", "--quiet"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("MISSED: success_rate >= 0.95"), "{stdout}");
    assert_eq!(
        column(&summary(&dir.join("merged")), "expect"),
        column(&summary(&dir.join("whole")), "expect")
    );
}

#[test]
fn bad_objectives_are_one_line_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = [
        (
            "[[expect]]\nwhere = \"nodez = 1\"\nsuccess_rate = \">= 0.9\"\n",
            "s.toml: expect[0].where: no column `nodez` to select cells by (columns: protocol, nodes,",
        ),
        (
            "[[expect]]\nwhere = \"loss = 0.5\"\nsuccess_rate = \">= 0.9\"\n",
            "s.toml: expect[0].where: `loss = 0.5` selects no cell of the grid",
        ),
        (
            "[[expect]]\nwhere = \"protocol = raft\"\nsuccess_rate = \">= 0.9\"\n",
            "s.toml: expect[0].where: `protocol = raft`: `raft` is neither a number nor a quoted word ('raft')",
        ),
        (
            "[[expect]]\nwhere = \"protocol > 'raft'\"\nsuccess_rate = \">= 0.9\"\n",
            "s.toml: expect[0].where: `protocol > 'raft'`: protocol holds words; compare it with = or !=",
        ),
        (
            "[[expect]]\nlatency_ms_p98 = \"<= 2\"\n",
            "s.toml: expect[0].latency_ms_p98: `latency_ms_p98` is not a metric an objective can bound",
        ),
        (
            "[[expect]]\nsuccess_rate = \"> 0.9\"\n",
            "s.toml: expect[0].success_rate: `> 0.9` is not a bound: write \">= VALUE\" or \"<= VALUE\"",
        ),
        (
            "[[expect]]\nwhere = \"loss = 0.1\"\n",
            "s.toml: expect[0]: no objective: add a bound",
        ),
        ("expect = 3\n", "s.toml: expect: expected a list"),
    ];
    for (expect, message) in cases {
        // Top-level keys go before the first table.
        let text = if expect.starts_with("[[") {
            sweep(1000, expect)
        } else {
            format!("{expect}{}", sweep(1000, ""))
        };
        write(dir, "s.toml", &text);
        let out = coordsim(dir)
            .args(["run", "s.toml", "--out", "out"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{expect}");
        let line = error_line(&out);
        assert!(line.starts_with(message), "{expect}:\n{line}\n{message}");
        assert!(!dir.join("out").exists(), "{expect}: nothing written");
    }
}

/// Text from a sweep file (a latency model's name, a `where` clause) reaches the terminal
/// with its control characters escaped: in the end-of-run table, the objectives' report and
/// the dry run.
#[test]
fn control_characters_of_a_sweep_file_are_escaped_on_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = sweep(
        1000,
        "[[expect]]\nwhere = \"latency = 'l\\u001b[31m'\"\nsuccess_rate = \">= 0.5\"\n",
    )
    .replace("latency = \"lan\"", "latency = \"l\\u001b[31m\"")
    .replace("[latency.lan]", "[latency.\"l\\u001b[31m\"]");
    let file = write(dir, "s.toml", &text);
    for args in [
        &["run", &file, "--out", "out"][..],
        &["run", &file, "--dry-run"][..],
    ] {
        let out = coordsim(dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains('\u{1b}'), "{args:?}: {stdout}");
        assert!(stdout.contains("l\\u{1b}[31m"), "{args:?}: {stdout}");
    }
}
