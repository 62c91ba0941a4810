//! Sharded runs: parts from independent processes merge into exactly a single run's result.

mod common;

use std::path::Path;

use common::{coordsim, data, read_parquet, without};

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
        let out = tiny(
            dir,
            &format!("parts/part-{k}"),
            &["--shard", &format!("{k}/3"), "--threads", "1"],
        );
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
    }
    coordsim(dir)
        .args(["merge", "parts/part-*", "--out", "merged", "--quiet"])
        .assert()
        .success();
    assert_same_results(&dir.join("whole"), &dir.join("merged"));
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
