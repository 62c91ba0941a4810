//! The commands a user types: default runs, dry runs, and the protocol and latency listings.

mod common;

use common::{coordsim, data};
use predicates::prelude::*;

#[test]
fn the_default_sweep_runs_into_a_new_directory_each_time() {
    let tmp = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        coordsim(tmp.path())
            .args(["run", "--trials", "2000", "--threads", "2"])
            .assert()
            .success()
            .stdout(predicate::str::contains("two-phase-commit"))
            .stdout(predicate::str::contains("wrote summary.parquet"));
    }
    let runs: Vec<String> = std::fs::read_dir(tmp.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert!(run.starts_with("default-20"), "{run}");
        let dir = tmp.path().join("results").join(run);
        assert!(dir.join("summary.parquet").is_file());
        assert!(dir.join("histograms.parquet").is_file());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect();
        assert!(leftovers.is_empty(), "temporary files left in {run}");
    }
}

#[test]
fn one_cell_on_one_thread_is_said_in_the_singular() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("one.toml");
    std::fs::write(
        &sweep,
        "name = \"one\"\nseed = 1\ntrials = 1000\n[grid]\nprotocol = \"quorum\"\nnodes = 3\n\
         latency = \"l\"\n[latency.l]\nkind = \"exponential\"\nmean_ms = 1.0\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    coordsim(tmp.path())
        .args(["run", "--threads", "1", "--quiet", "--out"])
        .arg(&out)
        .arg(&sweep)
        .assert()
        .success()
        .stderr(predicate::str::contains("running 1 cell x 1000 trials"))
        .stderr(predicate::str::contains("on 1 thread into"))
        .stdout(predicate::str::contains("1 cell, 1000 trials in"))
        .stdout(predicate::str::contains("/s on 1 thread); wrote"));
}

#[test]
fn a_dry_run_lists_cells_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    coordsim(tmp.path())
        .args(["run", "--dry-run", data("tiny.toml").to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "40 cells x 40000 trials = 1600000 trials, seed 2024",
        ))
        .stdout(predicate::str::contains("k=majority(4)"));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn protocols_and_latency_models_are_listed_with_their_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let listing = coordsim(tmp.path()).arg("protocols").assert().success();
    let text = String::from_utf8(listing.get_output().stdout.clone()).unwrap();
    for protocol in coordsim::protocols::BUILTIN {
        assert!(text.contains(protocol.name), "{}", protocol.name);
        for param in protocol.params {
            assert!(text.contains(&format!("{} = {}", param.name, param.default)));
        }
    }
    coordsim(tmp.path())
        .args(["protocols", "quorum"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Binomial(N, 1 - crash) >= k"));
    let listing = coordsim(tmp.path()).arg("latency").assert().success();
    let text = String::from_utf8(listing.get_output().stdout.clone()).unwrap();
    for (kind, fields) in coordsim::latency::Latency::KINDS {
        assert!(text.contains(kind), "{kind}");
        assert!(fields.iter().all(|(key, _)| text.contains(key)));
    }
}
