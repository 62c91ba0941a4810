//! Interrupted runs: kill -9 and Ctrl-C lose no finished work, and --resume completes the run
//! with exactly the numbers of an uninterrupted one.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{data, read_parquet, without};

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];
const TRIALS: &str = "600000";

fn start(dir: &Path, out: &str, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("coordsim"))
        .current_dir(dir)
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            out,
            "--quiet",
        ])
        .args([
            "--trials",
            TRIALS,
            "--threads",
            "2",
            "--checkpoint-secs",
            "0.2",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the run in `out` has committed at least one checkpoint file.
fn wait_for_checkpoint(out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = std::fs::read_dir(out.join("checkpoint"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                    .count()
            })
            .unwrap_or(0);
        if files >= 2 {
            return;
        }
        assert!(Instant::now() < deadline, "no checkpoint after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn resume(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    start(dir, out, &[&["--resume"], extra].concat())
        .wait_with_output()
        .unwrap()
}

fn assert_same(dir: &Path, a: &str, b: &str) {
    let (sa, _) = read_parquet(&dir.join(a).join("summary.parquet"));
    let (sb, _) = read_parquet(&dir.join(b).join("summary.parquet"));
    assert_eq!(without(&sa, &TIMING), without(&sb, &TIMING));
    let (ha, _) = read_parquet(&dir.join(a).join("histograms.parquet"));
    let (hb, _) = read_parquet(&dir.join(b).join("histograms.parquet"));
    assert_eq!(ha, hb);
}

#[test]
fn a_killed_run_resumes_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = start(dir, "reference", &[]).wait_with_output().unwrap();
    assert!(reference.status.success());

    let mut victim = start(dir, "killed", &[]);
    wait_for_checkpoint(&dir.join("killed"));
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    assert!(
        !dir.join("killed/summary.parquet").exists(),
        "the run finished before the kill"
    );

    // Resuming under another seed is refused, and changes nothing.
    let wrong = resume(dir, "killed", &["--seed", "99"]);
    assert_eq!(wrong.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("holds another run: seed 2024 (not 99)"),
        "{stderr}"
    );

    let resumed = resume(dir, "killed", &[]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(!dir.join("killed/checkpoint").exists());
    assert_same(dir, "reference", "killed");

    let again = resume(dir, "killed", &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is complete"));
}

#[test]
fn ctrl_c_saves_and_prints_the_resume_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = start(dir, "reference", &[]).wait_with_output().unwrap();
    assert!(reference.status.success());

    let victim = start(dir, "stopped", &[]);
    wait_for_checkpoint(&dir.join("stopped"));
    let status = Command::new("kill")
        .args(["-INT", &victim.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = victim.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("resume with: coordsim run "), "{stderr}");
    assert!(stderr.contains("--out stopped --resume"), "{stderr}");

    let resumed = resume(dir, "stopped", &[]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_same(dir, "reference", "stopped");
}
