//! Sharded runs: parts from independent processes merge into exactly a single run's result.

mod common;

use std::path::Path;

use std::collections::HashMap;

use common::{
    coordsim, data, error_line, map_u64, read_parquet, rewrite, rewrite_batches, without,
};

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];

fn tiny(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    coordsim(dir)
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            out,
            "--quiet",
        ])
        .args(["--trials", "50000"])
        .args(extra)
        .output()
        .unwrap()
}

fn assert_same_results(a: &Path, b: &Path) {
    let (sa, _) = read_parquet(&a.join("summary.parquet"));
    let (sb, _) = read_parquet(&b.join("summary.parquet"));
    assert_eq!(without(&sa, &TIMING), without(&sb, &TIMING));
    let (ha, _) = read_parquet(&a.join("histograms.parquet"));
    let (hb, _) = read_parquet(&b.join("histograms.parquet"));
    assert_eq!(ha, hb);
}

#[test]
fn merged_shards_equal_a_single_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(tiny(dir, "whole", &[]).status.success());
    for k in 0..3 {
        // A batch system may hand a job the submitting host's HOSTNAME.
        let out = coordsim(dir)
            .args([
                "run",
                data("tiny.toml").to_str().unwrap(),
                "--out",
                &format!("parts/part-{k}"),
                "--quiet",
            ])
            .args([
                "--trials",
                "50000",
                "--shard",
                &format!("{k}/3"),
                "--threads",
                "1",
            ])
            .env("HOSTNAME", "the-submit-host")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(dir.join(format!("parts/part-{k}/part.parquet")).is_file());
        assert!(!dir.join(format!("parts/part-{k}/summary.parquet")).exists());
        let (_, metadata) = read_parquet(&dir.join(format!("parts/part-{k}/part.parquet")));
        let metadata: std::collections::HashMap<_, _> = metadata.into_iter().collect();
        assert_eq!(metadata["coordsim.shard"], format!("{k}/3"));
        // 40 cells of 4 chunks: 160 work items in blocks of 53, 53 and 54.
        assert_eq!(
            metadata["coordsim.work_items"],
            if k == 2 { "54" } else { "53" }
        );
        for key in [
            "coordsim.version",
            "coordsim.host",
            "coordsim.started_utc",
            "coordsim.finished_utc",
        ] {
            assert!(!metadata[key].is_empty(), "{key}");
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(metadata["coordsim.host"], host.trim());
        assert_eq!(metadata["coordsim.threads"], "1");
    }
    coordsim(dir)
        .args(["verify", "parts"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "ok: parts: 3 of 3 shards, all 40 cells whole",
        ));
    coordsim(dir)
        .args(["merge", "parts/part-*", "--out", "merged", "--quiet"])
        .assert()
        .success();
    assert_same_results(&dir.join("whole"), &dir.join("merged"));
    // A merged result verifies like a whole run, and says when its parts ran and on how many
    // threads.
    coordsim(dir)
        .args(["verify", "merged"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with("ok: merged: "));
    let run = std::fs::read_to_string(dir.join("merged/coordsim-run.toml")).unwrap();
    assert!(run.contains("shard = \"0/1\""), "{run}");
    let parts: Vec<HashMap<String, String>> = (0..3)
        .map(|k| {
            let (_, m) = read_parquet(&dir.join(format!("parts/part-{k}/part.parquet")));
            m.into_iter().collect()
        })
        .collect();
    let (_, merged) = read_parquet(&dir.join("merged/summary.parquet"));
    let merged: HashMap<String, String> = merged.into_iter().collect();
    let earliest = parts
        .iter()
        .map(|m| &m["coordsim.started_utc"])
        .min()
        .unwrap();
    let latest = parts
        .iter()
        .map(|m| &m["coordsim.finished_utc"])
        .max()
        .unwrap();
    assert_eq!(&merged["coordsim.started_utc"], earliest);
    assert_eq!(&merged["coordsim.finished_utc"], latest);
    assert_eq!(merged["coordsim.threads"], "3");
    // merge never overwrites.
    let again = coordsim(dir)
        .args(["merge", "parts/part-*", "--out", "merged", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        error_line(&again),
        "--out merged: already exists; choose a new directory"
    );
}

#[test]
fn a_tampered_part_is_refused_and_reordered_rows_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(tiny(dir, "whole", &[]).status.success());
    for k in 0..2 {
        let out = tiny(dir, &format!("parts/p{k}"), &["--shard", &format!("{k}/2")]);
        assert!(out.status.success());
    }
    let path = dir.join("parts/p0/part.parquet");
    let original = std::fs::read(&path).unwrap();
    let (rows, metadata) = read_parquet(&path);

    // Counters altered, metadata as it was: a plausible part that is not the one written.
    let altered = map_u64(&rows, "successes", |row, v| v - u64::from(row == 0));
    let altered = map_u64(&altered, "failures", |row, v| v + u64::from(row == 0));
    rewrite(&path, &altered, &metadata, false);
    let merged = coordsim(dir)
        .args(["merge", "parts/p0", "parts/p1", "--out", "merged"])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(1));
    let error = error_line(&merged);
    assert!(
        error.starts_with("parts/p0/part.parquet: checksum ")
            && error.ends_with(" in its metadata: the file was altered"),
        "{error}"
    );
    assert!(!dir.join("merged").exists());
    let verified = coordsim(dir).args(["verify", "parts"]).output().unwrap();
    assert_eq!(verified.status.code(), Some(1));
    assert_eq!(error_line(&verified), error);
    // A row fewer.
    rewrite(&path, &rows.slice(1, rows.num_rows() - 1), &metadata, false);
    let merged = coordsim(dir)
        .args(["merge", "parts/p0", "parts/p1", "--out", "merged"])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(1));
    assert_eq!(
        error_line(&merged),
        format!(
            "parts/p0/part.parquet: {} rows, but its metadata says {}: the file was altered",
            rows.num_rows() - 1,
            rows.num_rows()
        )
    );

    // The same rows in reverse cell order (as a resumed shard could have written them): the
    // same result.
    std::fs::write(&path, &original).unwrap();
    let reversed: Vec<_> = (0..rows.num_rows())
        .rev()
        .map(|i| rows.slice(i, 1))
        .collect();
    rewrite_batches(&path, &reversed, &metadata, true);
    // verify holds a part to the bytes its shard wrote; merge needs its values only.
    let verified = coordsim(dir).args(["verify", "parts"]).output().unwrap();
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        error_line(&verified).starts_with("parts/p0/part.parquet: its bytes (crc32:length ")
            && error_line(&verified).ends_with("the file was altered"),
        "{}",
        error_line(&verified)
    );
    coordsim(dir)
        .args(["merge", "parts/p1", "parts/p0", "--out", "merged", "-q"])
        .assert()
        .success();
    assert_same_results(&dir.join("whole"), &dir.join("merged"));
}

#[test]
fn a_finished_array_task_submitted_again_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/slurm/run-array.sbatch");
    let task = || {
        std::process::Command::new("bash")
            .arg(&script)
            .current_dir(dir)
            .env("SWEEP", data("tiny.toml"))
            .env("PARTS", dir.join("parts"))
            .env("COORDSIM", assert_cmd::cargo::cargo_bin("coordsim"))
            .env("COORDSIM_ARGS", "--trials 20000")
            .env("SLURM_ARRAY_TASK_ID", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_ARRAY_TASK_MIN", "0")
            .output()
            .unwrap()
    };
    let first = task();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let part = dir.join("parts/part-1/part.parquet");
    let written = std::fs::read(&part).unwrap();
    // Resubmitting the array after another task failed runs this one again: it has nothing
    // to do, and says so.
    let again = task();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("is complete: nothing to do"), "{stderr}");
    assert_eq!(std::fs::read(&part).unwrap(), written);
}

#[test]
fn slurm_array_variables_pick_the_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let out = coordsim(tmp.path())
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            "p",
            "--quiet",
            "--trials",
            "20000",
        ])
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("running shard 1/2 (from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT)"),
        "{stderr}"
    );
    let run = std::fs::read_to_string(tmp.path().join("p/coordsim-run.toml")).unwrap();
    assert!(run.contains("shard = \"1/2\""), "{run}");
    let out = coordsim(tmp.path())
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            "q",
            "--quiet",
        ])
        .env("JOB_COMPLETION_INDEX", "0")
        .env_remove("COORDSIM_SHARD_COUNT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COORDSIM_SHARD_COUNT"));
}

#[test]
fn merge_refuses_parts_that_do_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, extra) in [
        ("a0", vec!["--shard", "0/2"]),
        ("a1", vec!["--shard", "1/2"]),
        ("seed0", vec!["--shard", "0/2", "--seed", "7"]),
        ("three0", vec!["--shard", "0/3"]),
    ] {
        let out = tiny(dir, name, &extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let refuse = |parts: &[&str], expected: &str| {
        let out = coordsim(dir)
            .arg("merge")
            .args(parts)
            .args(["--out", "merged"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{parts:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{parts:?}: {stderr}");
        assert!(!dir.join("merged").exists());
    };
    refuse(&["a0"], "missing shard(s) 1/2");
    refuse(&["a0", "a0"], "are both shard 0/2");
    refuse(
        &["a0", "seed0"],
        "seed0/part.parquet does not belong with a0/part.parquet",
    );
    refuse(&["a1", "seed0"], "seed 7 (not 2024)");
    refuse(&["a0", "three0"], "shard count 3 (not 2)");
    refuse(&["nothing-here"], "not a part");
    coordsim(dir)
        .args(["merge", "a0", "a1", "--out", "merged", "-q"])
        .assert()
        .success();
}
