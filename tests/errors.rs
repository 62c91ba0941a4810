//! Bad input: exit code 2, one line on stderr naming the file and the field, and no output.

mod common;

use std::path::Path;

use common::{coordsim, data};

/// Writes `text` as `bad.toml` in `dir`, runs it into `dir/out`, and checks the refusal.
fn refuse(dir: &Path, text: &str, expected: &str) {
    std::fs::write(dir.join("bad.toml"), text).unwrap();
    let output = coordsim(dir)
        .args(["run", "bad.toml", "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: {expected}")),
        "{stderr}\nexpected: error: {expected}"
    );
    assert!(
        !dir.join("out").exists(),
        "no output directory after: {expected}"
    );
    assert!(output.stdout.is_empty());
}

fn tiny() -> String {
    std::fs::read_to_string(data("tiny.toml")).unwrap()
}

#[test]
fn each_bad_input_is_refused_with_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = [
        (
            "seed = 2024",
            "seed = = 2024",
            "bad.toml: line 3, column 8: invalid TOML",
        ),
        (
            "\"ack\", \"quorum\"",
            "\"ack\", \"quorom\"",
            "bad.toml: grid.protocol[2]: unknown protocol `quorom`",
        ),
        (
            "crash = [0.0, 0.05]",
            "crash = [0.0, 1.05]",
            "bad.toml: grid.crash[1]: 1.05 is not a probability in [0, 1]",
        ),
        (
            "loss = 0.01",
            "loss = -0.01",
            "bad.toml: grid.loss: -0.01 is not a probability in [0, 1]",
        ),
        (
            "k = [2, \"majority\"]",
            "k = [2, 5]",
            "bad.toml: params.quorum.k: k = 5 exceeds nodes = 3",
        ),
        (
            "mean_ms = 0.5",
            "mean_ms = -0.5",
            "bad.toml: latency.lan.of.mean_ms: mean_ms = -0.5 must be a finite number > 0",
        ),
        (
            "shape = 1.5",
            "shape = -1.5",
            "bad.toml: latency.tail.components[1].of.shape: shape = -1.5 must be a finite number > 0",
        ),
        (
            "timeout_ms = 5",
            "timeout_ms = 5\ntimeout = 5",
            "bad.toml: params.two-phase-commit.timeout: unknown key `timeout`",
        ),
        (
            "seed = 2024",
            "seed = 2024\nthreads = 4",
            "bad.toml: threads: unknown key `threads`",
        ),
        (
            "coordinator_crash = 0.01",
            "coordinator_crash = 2",
            "bad.toml: params.two-phase-commit.coordinator_crash: 2 is not a probability in [0, 1]",
        ),
    ];
    let text = tiny();
    for (from, to, expected) in cases {
        assert!(text.contains(from), "{from}");
        refuse(dir, &text.replacen(from, to, 1), expected);
    }
}

#[test]
fn an_existing_output_directory_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let output = coordsim(tmp.path())
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr,
        "error: --out out: already exists; choose a new directory or --resume\n"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);

    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_missing_sweep_file_and_bad_flags_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let output = coordsim(tmp.path())
        .args(["run", "nope.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: nope.toml: cannot read"),
        "{stderr}"
    );
    assert!(!tmp.path().join("results").exists());
    for args in [
        &["run", "--threads", "0"][..],
        &["run", "--trials", "0"],
        &["frobnicate"],
    ] {
        let output = coordsim(tmp.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    let output = coordsim(tmp.path())
        .args(["protocols", "paxos-made-simple"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
