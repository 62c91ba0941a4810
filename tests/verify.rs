//! `coordsim verify` on altered run directories: every alteration fails with exit code 1 and
//! one line naming the file and what is wrong; none panics.

mod common;

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt32Type};
use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{Field, Schema};

use common::{coordsim, data, error_line, map_u64, read_parquet, rewrite};

/// A fresh run of tiny.toml in `dir/name`.
fn run(dir: &Path, name: &str) {
    coordsim(dir)
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out", name])
        .args(["--trials", "20000", "--quiet"])
        .assert()
        .success();
    coordsim(dir).args(["verify", name]).assert().success();
}

/// Runs `verify` on `dir/name` and returns its one error line, after checking the exit code.
fn refused(dir: &Path, name: &str) -> String {
    let out = coordsim(dir).args(["verify", name]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    error_line(&out)
}

/// `batch` with column `name` replaced by `array`.
fn replace(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(name).unwrap();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[i] = Field::new(name, array.data_type().clone(), fields[i].is_nullable());
    let mut columns = batch.columns().to_vec();
    columns[i] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Edits the metadata entry `key` of the Parquet file `path` (rows and checksum unchanged).
fn set_metadata(path: &Path, key: &str, value: &str) {
    let (batch, mut metadata) = read_parquet(path);
    for (k, v) in &mut metadata {
        if k == key {
            *v = value.to_string();
        }
    }
    rewrite(path, &batch, &metadata, false);
}

#[test]
fn wrong_schemas_are_refused_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // The metric names as plain strings, not dictionary-encoded.
    run(dir, "plain-metric");
    let path = dir.join("plain-metric/histograms.parquet");
    let (batch, metadata) = read_parquet(&path);
    let metric = batch
        .column_by_name("metric")
        .unwrap()
        .as_dictionary::<Int32Type>();
    let names = metric.values().as_string::<i32>();
    let plain: StringArray = metric
        .keys()
        .values()
        .iter()
        .map(|&k| Some(names.value(k as usize)))
        .collect();
    rewrite(
        &path,
        &replace(&batch, "metric", Arc::new(plain)),
        &metadata,
        true,
    );
    assert_eq!(
        refused(dir, "plain-metric"),
        "plain-metric/histograms.parquet: column 1 is `metric` of type Utf8, not `metric` of type Dictionary(Int32, Utf8)"
    );

    // Node counts widened to 64 bits.
    run(dir, "wide-nodes");
    let path = dir.join("wide-nodes/summary.parquet");
    let (batch, metadata) = read_parquet(&path);
    let wide: UInt64Array = batch
        .column_by_name("nodes")
        .unwrap()
        .as_primitive::<UInt32Type>()
        .values()
        .iter()
        .map(|&n| Some(u64::from(n)))
        .collect();
    rewrite(
        &path,
        &replace(&batch, "nodes", Arc::new(wide)),
        &metadata,
        true,
    );
    assert_eq!(
        refused(dir, "wide-nodes"),
        "wide-nodes/summary.parquet: column 2 is `nodes` of type UInt64, not `nodes` of type UInt32"
    );

    // A column dropped.
    run(dir, "dropped");
    let path = dir.join("dropped/summary.parquet");
    let (batch, metadata) = read_parquet(&path);
    let last = batch.num_columns() - 1;
    let kept: Vec<usize> = (0..last).collect();
    rewrite(&path, &batch.project(&kept).unwrap(), &metadata, true);
    assert_eq!(
        refused(dir, "dropped"),
        format!(
            "dropped/summary.parquet: no column `trials_per_s` ({last} columns, not {})",
            last + 1
        )
    );
}

#[test]
fn histograms_must_count_every_trial_and_every_success() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, metric, what) in [
        ("latency", "latency_ms", "successes"),
        ("rounds", "rounds", "trials"),
    ] {
        run(dir, name);
        let path = dir.join(name).join("histograms.parquet");
        let (batch, metadata) = read_parquet(&path);
        // One more trial in the first bucket of the metric.
        let metrics = batch
            .column_by_name("metric")
            .unwrap()
            .as_dictionary::<Int32Type>();
        let names = metrics.values().as_string::<i32>();
        let row = (0..batch.num_rows())
            .find(|&i| names.value(metrics.keys().value(i) as usize) == metric)
            .unwrap();
        let cell = batch
            .column_by_name("cell_id")
            .unwrap()
            .as_primitive::<UInt32Type>()
            .value(row);
        let altered = map_u64(&batch, "count", |i, v| v + u64::from(i == row));
        rewrite(&path, &altered, &metadata, true);
        let (summary, _) = read_parquet(&dir.join(name).join("summary.parquet"));
        let expected = summary
            .column_by_name(what)
            .unwrap()
            .as_primitive::<arrow_array::types::UInt64Type>()
            .value(cell as usize);
        assert_eq!(
            refused(dir, name),
            format!(
                "{name}/histograms.parquet: cell {cell}: the {metric} histogram counts {}, but the cell has {expected} {what}",
                expected + 1
            )
        );
    }
}

#[test]
fn metadata_and_run_files_must_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    run(dir, "seed");
    set_metadata(&dir.join("seed/summary.parquet"), "coordsim.seed", "7");
    assert_eq!(
        refused(dir, "seed"),
        "seed/summary.parquet: its coordsim.seed is `7`, but coordsim-run.toml says `2024`"
    );

    run(dir, "trials");
    set_metadata(
        &dir.join("trials/histograms.parquet"),
        "coordsim.trials_per_cell",
        "20000000",
    );
    assert_eq!(
        refused(dir, "trials"),
        "trials/histograms.parquet: its coordsim.trials_per_cell is `20000000`, but coordsim-run.toml says `20000`"
    );

    run(dir, "version");
    set_metadata(
        &dir.join("version/histograms.parquet"),
        "coordsim.version",
        "0.0.9",
    );
    assert_eq!(
        refused(dir, "version"),
        format!(
            "version/histograms.parquet: its coordsim.version is `0.0.9`, but coordsim-run.toml says `{}`",
            env!("CARGO_PKG_VERSION")
        )
    );

    run(dir, "run-file");
    let path = dir.join("run-file/coordsim-run.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("seed = \"2024\"", "seed = \"7\"")).unwrap();
    assert_eq!(
        refused(dir, "run-file"),
        "run-file/summary.parquet: its coordsim.seed is `2024`, but coordsim-run.toml says `7`"
    );

    run(dir, "precision");
    let path = dir.join("precision/coordsim-run.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}precision = \"0.01\"\n")).unwrap();
    assert_eq!(
        refused(dir, "precision"),
        "precision/summary.parquet: no coordsim.precision in its metadata, but coordsim-run.toml says `0.01`"
    );

    run(dir, "sweep-copy");
    let path = dir.join("sweep-copy/sweep.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("loss = 0.01", "loss = 0.02")).unwrap();
    let line = text.lines().position(|l| l == "loss = 0.01").unwrap() + 1;
    assert_eq!(
        refused(dir, "sweep-copy"),
        format!(
            "sweep-copy/sweep.toml: line {line} differs from the sweep as run (the metadata's coordsim.sweep with its seed, trials and targets)"
        )
    );
}

#[test]
fn a_sweep_copy_runs_the_same_sweep_again() {
    // With the largest seed a sweep file holds, and other trials: the run's sweep.toml, run
    // as it is, gives the same numbers.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let seed = i64::MAX.to_string();
    coordsim(dir)
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out", "first"])
        .args(["--trials", "20000", "--seed", &seed, "--quiet"])
        .assert()
        .success();
    coordsim(dir)
        .args(["run", "first/sweep.toml", "--out", "again", "--quiet"])
        .assert()
        .success();
    let (a, _) = read_parquet(&dir.join("first/summary.parquet"));
    let (b, _) = read_parquet(&dir.join("again/summary.parquet"));
    let timing = ["elapsed_s", "trials_per_s"];
    assert_eq!(common::without(&a, &timing), common::without(&b, &timing));
}
