//! Interrupted runs: kill -9 and Ctrl-C lose no finished work, and --resume completes the run
//! with exactly the numbers of an uninterrupted one, adaptive runs included.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{data, error_line, map_u64, read_parquet, rewrite, without};

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];
/// Trials per cell: enough that a run on two threads is still going after its second
/// checkpoint (about 2 s here), so that a kill or Ctrl-C after it always interrupts work.
const TRIALS: &str = "2400000";

/// An adaptive run of about the same size: 40 cells (more than run at once), each until its
/// success rate is known to +/- 0.0007, which takes from one chunk to about 2 million trials.
const ADAPTIVE: [&str; 4] = ["--precision", "0.0007", "--trials", "4000000"];

fn start(dir: &Path, out: &str, extra: &[&str]) -> Child {
    spawn(dir, out, &[&["--trials", TRIALS], extra].concat())
}

fn spawn(dir: &Path, out: &str, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("coordsim"))
        .current_dir(dir)
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            out,
            "--quiet",
        ])
        .args(["--threads", "2", "--checkpoint-secs", "0.2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Checkpoint files in the run directory `out`.
fn checkpoints(out: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(out.join("checkpoint"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.ends_with(".parquet") && !name.starts_with('.')
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Waits until the run in `out` has committed at least two checkpoint files.
fn wait_for_checkpoint(out: &Path) {
    wait_for_checkpoints(out, 2);
}

/// Waits until the run directory `out` holds at least `count` checkpoint files.
fn wait_for_checkpoints(out: &Path, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if checkpoints(out).len() >= count {
            return;
        }
        assert!(Instant::now() < deadline, "no checkpoint after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops `run` with Ctrl-C (SIGINT), checks that it exits with code 130, returns its stderr.
fn interrupt(run: Child) -> String {
    let status = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    stderr
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
    let stderr = interrupt(victim);
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

#[test]
fn an_adaptive_run_resumes_to_the_same_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = spawn(dir, "reference", &ADAPTIVE)
        .wait_with_output()
        .unwrap();
    assert!(reference.status.success());

    let mut victim = spawn(dir, "killed", &ADAPTIVE);
    wait_for_checkpoint(&dir.join("killed"));
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    assert!(
        !dir.join("killed/summary.parquet").exists(),
        "the run finished before the kill"
    );
    // Every checkpoint records the targets its items were run to; some cells were past their
    // first chunk when the run died.
    let files = checkpoints(&dir.join("killed"));
    let (_, metadata) = read_parquet(files.last().unwrap());
    let targets = &metadata
        .iter()
        .find(|(k, _)| k == "coordsim.targets")
        .expect("targets in the checkpoint")
        .1;
    assert!(!targets.is_empty(), "no cell grew before the kill");

    // Other targets, or none, are refused and change nothing.
    for (other, says) in [
        (
            &["--precision", "0.001", "--trials", "4000000"][..],
            "precision 0.0007 (not 0.001)",
        ),
        (&["--trials", "4000000"][..], "precision 0.0007 (not none)"),
    ] {
        let wrong = spawn(dir, "killed", &[&["--resume"], other].concat())
            .wait_with_output()
            .unwrap();
        assert_eq!(wrong.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(checkpoints(&dir.join("killed")), files);

    // Resumed, then stopped again with Ctrl-C (which saves the targets of the moment), then
    // resumed to the end: the same numbers as the uninterrupted run.
    let resumed = spawn(dir, "killed", &[&["--resume"], &ADAPTIVE[..]].concat());
    wait_for_checkpoints(&dir.join("killed"), files.len() + 2);
    let stderr = interrupt(resumed);
    assert!(
        stderr.contains("--trials 4000000 --precision 0.0007"),
        "{stderr}"
    );
    let resumed = spawn(dir, "killed", &[&["--resume"], &ADAPTIVE[..]].concat())
        .wait_with_output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_same(dir, "reference", "killed");
}

#[test]
fn a_tampered_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut victim = start(dir, "killed", &[]);
    wait_for_checkpoint(&dir.join("killed"));
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let file = checkpoints(&dir.join("killed"))[0].clone();
    let (rows, metadata) = read_parquet(&file);
    // One trial moved from success to failure; the metadata as it was.
    let altered = map_u64(&rows, "successes", |row, v| v - u64::from(row == 0));
    let altered = map_u64(&altered, "failures", |row, v| v + u64::from(row == 0));
    rewrite(&file, &altered, &metadata, false);
    let before = checkpoints(&dir.join("killed"));
    let resumed = resume(dir, "killed", &[]);
    assert_eq!(resumed.status.code(), Some(1));
    let error = error_line(&resumed);
    let name = format!(
        "killed/checkpoint/{}",
        file.file_name().unwrap().to_string_lossy()
    );
    assert!(
        error.starts_with(&format!("{name}: checksum "))
            && error.ends_with(" in its metadata: the file was altered"),
        "{error}"
    );
    assert_eq!(checkpoints(&dir.join("killed")), before);
    assert!(!dir.join("killed/summary.parquet").exists());
}

#[test]
fn an_interrupted_shard_resumes_and_merges_to_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = start(dir, "reference", &[]).wait_with_output().unwrap();
    assert!(reference.status.success());

    // Shard 0 of 2 stopped with Ctrl-C, then resumed: its cells finish out of order.
    let victim = start(dir, "parts/p0", &["--shard", "0/2"]);
    wait_for_checkpoint(&dir.join("parts/p0"));
    interrupt(victim);
    let run_file = std::fs::read_to_string(dir.join("parts/p0/coordsim-run.toml")).unwrap();
    let resumed = resume(dir, "parts/p0", &["--shard", "0/2"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let other = start(dir, "parts/p1", &["--shard", "1/2"])
        .wait_with_output()
        .unwrap();
    assert!(other.status.success());

    // The part's rows are in cell order, and it started when the first process did.
    let (part, metadata) = read_parquet(&dir.join("parts/p0/part.parquet"));
    let cells = part
        .column_by_name("cell_id")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::UInt32Array>()
        .unwrap()
        .values()
        .to_vec();
    assert!(cells.windows(2).all(|w| w[0] < w[1]), "{cells:?}");
    let started = &metadata
        .iter()
        .find(|(k, _)| k == "coordsim.started_utc")
        .unwrap()
        .1;
    assert!(
        run_file.contains(&format!("started_utc = \"{started}\"")),
        "{started} not in {run_file}"
    );

    common::coordsim(dir)
        .args(["verify", "parts"])
        .assert()
        .success();
    common::coordsim(dir)
        .args(["merge", "parts/*", "--out", "merged", "-q"])
        .assert()
        .success();
    assert_same(dir, "reference", "merged");
}

#[test]
fn slow_work_items_are_checkpointed_every_interval() {
    // One cell whose work items take about half a second each (quorum over 2000 replicas,
    // simulated one by one): a whole batch would take minutes; with a
    // checkpoint due every second, the batch is cut short and the checkpoints come a second
    // or so apart.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("slow.toml"),
        "name = \"slow\"\nseed = 1\ntrials = 3_276_800\n[grid]\nprotocol = \"quorum\"\n\
         nodes = 2000\nlatency = \"l\"\n[params.quorum]\nsampling = \"per-node\"\n\
         [latency.l]\nkind = \"exponential\"\nmean_ms = 1\n",
    )
    .unwrap();
    let started = Instant::now();
    let mut run = Command::new(assert_cmd::cargo::cargo_bin("coordsim"))
        .current_dir(dir)
        .args(["run", "slow.toml", "--out", "slow", "--quiet"])
        .args(["--threads", "2", "--checkpoint-secs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 && started.elapsed() < Duration::from_secs(20) {
        let count = checkpoints(&dir.join("slow")).len();
        if count > seen.len() {
            seen.push(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    println!("checkpoints at {seen:?}");
    // Each within a few seconds of the last (the interval and an item in flight, and room for
    // a busy machine); a whole batch would take 32 s.
    assert!(seen.len() >= 3, "checkpoints at {seen:?}");
    let mut last = Duration::ZERO;
    for at in &seen {
        assert!(
            *at - last < Duration::from_secs(6),
            "checkpoints at {seen:?}"
        );
        last = *at;
    }
}
