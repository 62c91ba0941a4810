//! Adaptive precision end to end: results independent of the thread count, every cell met its
//! targets or used its cap and stopped at the first decision that met them (replayed from
//! independent runs with fixed trial counts), the summary column and metadata, the dry run,
//! and the refusal of shards.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use common::{coordsim, data, read_parquet, without};
use coordsim::engine::CHUNK_TRIALS;
use coordsim::model::precision::{MAX_GROWTH, MIN_GROWTH, next_target};
use coordsim::model::stats::{p99_relative_halfwidth, success_halfwidth};
use coordsim::model::tally::{LATENCY_MAX_NS, SIGNIFICANT_DIGITS};
use hdrhistogram::Histogram;
use predicates::prelude::*;

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];

/// The sweep's target half-width of the success rate.
const TARGET: f64 = 0.002;

fn run(dir: &Path, out: &str, extra: &[&str]) {
    run_sweep(dir, &data("adaptive.toml"), out, extra);
}

fn run_sweep(dir: &Path, sweep: &Path, out: &str, extra: &[&str]) {
    coordsim(dir)
        .args(["run", sweep.to_str().unwrap(), "--out", out, "--quiet"])
        .args(extra)
        .assert()
        .success();
}

/// The cells of `tests/data/adaptive.toml` without its precision target, run with a fixed
/// `trials` per cell: the same random streams, so each cell's first chunks are exactly those
/// of the adaptive run. Cached by trial count in `fixed`.
fn fixed_run<'a>(dir: &Path, trials: u64, fixed: &'a mut HashMap<u64, Vec<Cell>>) -> &'a [Cell] {
    fixed.entry(trials).or_insert_with(|| {
        let sweep = dir.join("fixed.toml");
        if !sweep.exists() {
            let text = std::fs::read_to_string(data("adaptive.toml")).unwrap();
            assert!(text.contains("\nprecision = 0.002\n"));
            std::fs::write(&sweep, text.replace("\nprecision = 0.002\n", "\n")).unwrap();
        }
        let out = format!("fixed-{trials}");
        run_sweep(dir, &sweep, &out, &["--trials", &trials.to_string()]);
        cells(&dir.join(&out))
    })
}

fn u64s(batch: &RecordBatch, name: &str) -> Vec<u64> {
    let c = batch.column_by_name(name).unwrap();
    c.as_primitive::<UInt64Type>().values().to_vec()
}

fn f64s(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let c = batch.column_by_name(name).unwrap();
    c.as_primitive::<Float64Type>().values().to_vec()
}

fn bools(batch: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    let c = batch.column_by_name(name).unwrap().as_boolean().clone();
    (0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect()
}

/// One cell of a run: what the precision criteria are computed from.
#[derive(Debug)]
struct Cell {
    trials: u64,
    successes: u64,
    /// The relative half-width of the p99's interval, from histograms.parquet.
    p99_halfwidth: Option<f64>,
}

/// The cells of the run in `dir`, the p99 interval rebuilt from its latency buckets.
fn cells(dir: &Path) -> Vec<Cell> {
    let (summary, _) = read_parquet(&dir.join("summary.parquet"));
    let (histograms, _) = read_parquet(&dir.join("histograms.parquet"));
    let cell = histograms.column_by_name("cell_id").unwrap();
    let cell = cell.as_primitive::<UInt32Type>();
    let metric = histograms.column_by_name("metric").unwrap();
    let metric = metric.as_dictionary::<Int32Type>();
    let names = metric.values().as_string::<i32>();
    let high = f64s(&histograms, "bucket_high");
    let count = u64s(&histograms, "count");
    let mut latency: BTreeMap<u32, Histogram<u64>> = BTreeMap::new();
    for i in 0..histograms.num_rows() {
        if names.value(metric.keys().value(i) as usize) != "latency_ms" {
            continue;
        }
        // A bucket's upper edge, recorded back, lands in the same bucket.
        latency
            .entry(cell.value(i))
            .or_insert_with(|| {
                Histogram::new_with_bounds(1, LATENCY_MAX_NS, SIGNIFICANT_DIGITS).unwrap()
            })
            .record_n((high[i] * 1e6).round() as u64, count[i])
            .unwrap();
    }
    let p99 = f64s(&summary, "latency_ms_p99");
    u64s(&summary, "trials")
        .into_iter()
        .zip(u64s(&summary, "successes"))
        .enumerate()
        .map(|(id, (trials, successes))| {
            let h = latency.get(&(id as u32));
            if let Some(h) = h {
                // The rebuilt histogram is the cell's: it gives the summary's p99.
                assert_eq!(h.value_at_quantile(0.99) as f64 / 1e6, p99[id], "cell {id}");
            }
            Cell {
                trials,
                successes,
                p99_halfwidth: h.and_then(p99_relative_halfwidth),
            }
        })
        .collect()
}

/// `clamp(1.2 r^2, 1.25, 4)`, with an unknown half-width (no p99 interval yet) as the most.
fn growth(ratio: Option<f64>) -> f64 {
    ratio.map_or(MAX_GROWTH, |r| (1.2 * r * r).clamp(MIN_GROWTH, MAX_GROWTH))
}

/// Replays every cell's decisions from runs with fixed trial counts ([`fixed_run`]): starting at one chunk, a cell that meets the targets with its first `c` chunks,
/// or has reached the cap, must have stopped there, with exactly those trials; one that does
/// not must have gone on, to the target the growth rule gives. Returns the targets each cell
/// went through.
fn replay(
    dir: &Path,
    adaptive: &[Cell],
    cap: u64,
    p99_target: Option<f64>,
    fixed: &mut HashMap<u64, Vec<Cell>>,
) -> Vec<Vec<u64>> {
    let cap_chunks = cap.div_ceil(CHUNK_TRIALS);
    let mut paths = Vec::new();
    for (id, cell) in adaptive.iter().enumerate() {
        let mut c = 1;
        let mut path = vec![c];
        loop {
            let prefix = &fixed_run(dir, (c * CHUNK_TRIALS).min(cap), fixed)[id];
            assert_eq!(prefix.trials, (c * CHUNK_TRIALS).min(cap));
            let success = success_halfwidth(prefix.successes, prefix.trials) / TARGET;
            let p99 = p99_target.map(|t| prefix.p99_halfwidth.map(|h| h / t));
            let met = success <= 1.0 && p99.is_none_or(|r| r.is_some_and(|r| r <= 1.0));
            if met || c == cap_chunks {
                assert_eq!(
                    (cell.trials, cell.successes),
                    (prefix.trials, prefix.successes),
                    "cell {id} should have stopped at {c} chunks (path {path:?})"
                );
                break;
            }
            assert!(
                cell.trials > prefix.trials,
                "cell {id} stopped at {c} chunks without meeting its targets"
            );
            let g = growth(Some(success)).max(p99.map_or(MIN_GROWTH, growth));
            c = next_target(c, g, cap_chunks);
            path.push(c);
        }
        paths.push(path);
    }
    paths
}

#[test]
fn results_do_not_depend_on_the_thread_count_and_cells_use_different_trials() {
    let tmp = tempfile::tempdir().unwrap();
    for threads in ["1", "2", "7"] {
        run(tmp.path(), &format!("t{threads}"), &["--threads", threads]);
    }
    let summary = |name: &str| {
        let (batch, _) = read_parquet(&tmp.path().join(name).join("summary.parquet"));
        without(&batch, &TIMING)
    };
    let histograms = |name: &str| read_parquet(&tmp.path().join(name).join("histograms.parquet")).0;
    for other in ["t2", "t7"] {
        assert_eq!(summary(other), summary("t1"), "{other}");
        assert_eq!(histograms(other), histograms("t1"), "{other}");
    }
    // fire-and-forget and quorum with k = all at crash 0, 0.1 and 0.5: p = 1, 0.9 and 0.5
    // for the first; 1, 0.729 and 0.125 for the second.
    let trials = u64s(&summary("t1"), "trials");
    assert_eq!(trials[0], CHUNK_TRIALS, "a certain success needs one chunk");
    assert!(trials[1] > trials[0] && trials[2] > trials[1], "{trials:?}");
    let distinct: std::collections::BTreeSet<u64> = trials.iter().copied().collect();
    assert!(distinct.len() >= 4, "{trials:?}");
}

#[test]
fn every_cell_stopped_at_the_first_decision_that_met_its_target_or_at_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut fixed = HashMap::new();
    // With the sweep's cap of 1,000,000 every cell meets +/- 0.002.
    run(dir, "adaptive", &[]);
    let (summary, metadata) = read_parquet(&dir.join("adaptive/summary.parquet"));
    let metadata: HashMap<String, String> = metadata.into_iter().collect();
    assert_eq!(metadata["coordsim.precision"], "0.002");
    assert_eq!(metadata["coordsim.trials_per_cell"], "1000000");
    assert!(!metadata.contains_key("coordsim.p99_precision"));
    let adaptive = cells(&dir.join("adaptive"));
    let (low, high) = (
        f64s(&summary, "success_ci95_low"),
        f64s(&summary, "success_ci95_high"),
    );
    for (id, cell) in adaptive.iter().enumerate() {
        let h = (high[id] - low[id]) / 2.0;
        assert_eq!(h, success_halfwidth(cell.successes, cell.trials));
        assert!(h <= TARGET, "cell {id}: +/- {h}");
    }
    assert!(
        bools(&summary, "precision_met")
            .iter()
            .all(|&m| m == Some(true))
    );
    let paths = replay(dir, &adaptive, 1_000_000, None, &mut fixed);
    assert!(paths.iter().any(|p| p.len() >= 3), "{paths:?}");

    // A cap of 100,000 (six chunks and 1696 trials) stops the uncertain cells short.
    run(dir, "capped", &["--trials", "100000"]);
    let (summary, _) = read_parquet(&dir.join("capped/summary.parquet"));
    let capped = cells(&dir.join("capped"));
    let met = bools(&summary, "precision_met");
    for (id, cell) in capped.iter().enumerate() {
        let h = success_halfwidth(cell.successes, cell.trials);
        match met[id] {
            Some(true) => assert!(h <= TARGET, "cell {id}: +/- {h}"),
            Some(false) => {
                assert_eq!(cell.trials, 100_000, "cell {id}");
                assert!(h > TARGET, "cell {id}: +/- {h}");
            }
            None => panic!("cell {id}: no precision_met"),
        }
    }
    assert!(met.contains(&Some(false)) && met.contains(&Some(true)));
    replay(dir, &capped, 100_000, None, &mut fixed);
}

#[test]
fn a_p99_target_is_met_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p99 = 0.02;
    run(dir, "both", &["--p99-precision", "0.02"]);
    let (summary, metadata) = read_parquet(&dir.join("both/summary.parquet"));
    let metadata: HashMap<String, String> = metadata.into_iter().collect();
    assert_eq!(metadata["coordsim.p99_precision"], "0.02");
    let both = cells(&dir.join("both"));
    let met = bools(&summary, "precision_met");
    for (id, cell) in both.iter().enumerate() {
        if met[id] == Some(true) {
            assert!(success_halfwidth(cell.successes, cell.trials) <= TARGET);
            let h = cell.p99_halfwidth.expect("an interval");
            assert!(h <= p99, "cell {id}: p99 +/- {h}");
        } else {
            assert_eq!(cell.trials, 1_000_000, "cell {id}");
        }
    }
    // The p99 needs more trials than the success rate alone where the rate is certain.
    let alone = {
        run(dir, "alone", &[]);
        cells(&dir.join("alone"))
    };
    assert!(both[0].trials > alone[0].trials);
    replay(dir, &both, 1_000_000, Some(p99), &mut HashMap::new());
}

#[test]
fn the_command_line_sets_and_reports_precision() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = data("tiny.toml");
    let tiny = tiny.to_str().unwrap();
    // --precision on a sweep without one; the table shows trials per cell and whether met.
    coordsim(dir)
        .args(["run", tiny, "--out", "p", "--precision", "0.01", "--threads", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains(" trials ").and(predicate::str::contains(" met ")))
        .stdout(predicate::str::contains(" yes "))
        .stderr(predicate::str::contains(
            "up to 40000 trials (adaptive: each until the 95% interval of its success rate is within +/- 0.01)",
        ));
    coordsim(dir).args(["verify", "p"]).assert().success();
    coordsim(dir)
        .args([
            "show",
            "p",
            "--where",
            "precision_met=true",
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("precision_met"));
    let (summary, _) = read_parquet(&dir.join("p/summary.parquet"));
    assert!(bools(&summary, "precision_met").iter().all(|m| m.is_some()));
    let trials = u64s(&summary, "trials");
    assert!(trials.iter().any(|&t| t < 40_000) && trials.iter().all(|&t| t <= 40_000));
    let run = std::fs::read_to_string(dir.join("p/coordsim-run.toml")).unwrap();
    assert!(run.contains("precision = \"0.01\""), "{run}");
    let copy = std::fs::read_to_string(dir.join("p/sweep.toml")).unwrap();
    assert!(copy.starts_with("# Run by coordsim"), "{copy}");
    assert!(
        copy.lines()
            .next()
            .unwrap()
            .contains("precision = 0.01 (adaptive"),
        "{copy}"
    );

    // The command line overrides the sweep's targets; a dry run says what it would do.
    coordsim(dir)
        .args(["run", "--dry-run"])
        .arg(data("adaptive.toml"))
        .args(["--precision", "0.001", "--p99-precision", "0.05", "--trials", "500000"])
        .assert()
        .success()
        .stdout(predicate::str::contains("max trials"))
        .stdout(predicate::str::contains(
            "6 cells, adaptive: each until the 95% interval of its success rate is within +/- 0.001 and that of its latency p99 within +/- 5%, at most 500000 trials per cell (3000000 in all), seed 11",
        ));
    assert!(!dir.join("results").exists());
}

#[test]
fn shards_are_refused_with_precision() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let refused = |args: &[&str], env: &[(&str, &str)], expected: &str| {
        let mut cmd = coordsim(dir);
        cmd.args([
            "run",
            data("adaptive.toml").to_str().unwrap(),
            "--out",
            "out",
        ])
        .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!dir.join("out").exists());
    };
    let message =
        "precision targets need all of a cell's trials in one process: they cannot run as shard";
    refused(&["--shard", "1/2"], &[], &format!("{message} 1/2"));
    refused(
        &["--shard", "0/3", "--dry-run"],
        &[],
        &format!("{message} 0/3"),
    );
    refused(
        &[],
        &[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
        &format!("{message} 3/4 (from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT)"),
    );
    refused(
        &[],
        &[("JOB_COMPLETION_INDEX", "0"), ("COORDSIM_SHARD_COUNT", "2")],
        &format!("{message} 0/2 (from JOB_COMPLETION_INDEX and COORDSIM_SHARD_COUNT)"),
    );
    // A sweep without precision still shards; one "shard" of one is the whole run.
    coordsim(dir)
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            "part",
            "-q",
        ])
        .args(["--shard", "1/2", "--trials", "20000"])
        .assert()
        .success();
    coordsim(dir)
        .args([
            "run",
            data("adaptive.toml").to_str().unwrap(),
            "--out",
            "whole",
            "-q",
        ])
        .args(["--shard", "0/1", "--trials", "20000"])
        .assert()
        .success();
    assert!(dir.join("whole/summary.parquet").is_file());
}

/// Rewrites `path` with `batch` and `metadata`, the row count and checksum recomputed: an
/// altered file that still matches its checksum.
fn rewrite(path: &Path, batch: &RecordBatch, metadata: &[(String, String)]) {
    common::rewrite_batches(path, std::slice::from_ref(batch), metadata, true);
}

#[test]
fn verify_checks_trials_against_the_cap_and_the_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run(dir, "capped", &["--trials", "100000"]);
    run_sweep(dir, &data("tiny.toml"), "fixed", &["--trials", "20000"]);
    for run in ["capped", "fixed"] {
        coordsim(dir)
            .args(["verify", run])
            .assert()
            .success()
            .stdout(predicate::str::starts_with("ok: "));
    }
    let verify_fails = |run: &str, expected: &str| {
        let out = coordsim(dir).args(["verify", run]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    };
    // An adaptive summary whose unmet cell claims to have met its target; one that claims
    // another cap; a fixed summary that claims a precision target.
    let path = dir.join("capped/summary.parquet");
    let (summary, metadata) = read_parquet(&path);
    let met = bools(&summary, "precision_met");
    let unmet = met.iter().position(|&m| m == Some(false)).unwrap();
    let i = summary.schema().index_of("precision_met").unwrap();
    let mut columns = summary.columns().to_vec();
    let mut flipped = met.clone();
    flipped[unmet] = Some(true);
    columns[i] = std::sync::Arc::new(arrow_array::BooleanArray::from(flipped));
    let altered = RecordBatch::try_new(summary.schema(), columns).unwrap();
    rewrite(&path, &altered, &metadata);
    verify_fails(
        "capped",
        &format!("cell {unmet}: precision_met, but its interval is +/- "),
    );
    let recapped: Vec<(String, String)> = metadata
        .iter()
        .map(|(k, v)| match k.as_str() {
            "coordsim.trials_per_cell" => (k.clone(), "200000".to_string()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    rewrite(&path, &summary, &recapped);
    verify_fails(
        "capped",
        &format!("cell {unmet}: stopped at 100000 trials without meeting its targets (cap 200000)"),
    );
    let path = dir.join("fixed/summary.parquet");
    let (summary, mut metadata) = read_parquet(&path);
    metadata.push(("coordsim.precision".to_string(), "0.01".to_string()));
    rewrite(&path, &summary, &metadata);
    verify_fails("fixed", "cell 0: no precision_met in an adaptive run");
}
