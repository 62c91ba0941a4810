//! Wide sweeps: many cells, written as they finish. The files a run streams out hold exactly
//! the values of the same cells held in memory and written at once.

mod common;

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use common::{coordsim, read_parquet, without};
use coordsim::engine::{RunOptions, run_all};
use coordsim::store::{Baselines, CellRecord, Histograms, Results, RunInfo, SummaryFile};
use coordsim::sweep::Sweep;

/// 480 cells: more than a batch, a group of written rows and a checkpoint's cells in memory;
/// fire-and-forget listed last, so that the cells whose relative cost it sets come before it.
const SWEEP: &str = r#"name = "wide"
seed = 11
trials = 2000

[grid]
protocol = ["quorum", "two-phase-commit", "ack", "fire-and-forget"]
nodes = [3, 5]
crash = [0.0, 0.002, 0.004, 0.006, 0.008, 0.01, 0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.024, 0.026, 0.028, 0.03, 0.032, 0.034, 0.036, 0.038, 0.04, 0.042, 0.044, 0.046, 0.048, 0.05, 0.052, 0.054, 0.056, 0.058]
loss = [0.0, 0.01]
latency = "lan"

[latency.lan]
kind = "lognormal"
median_ms = 1
sigma = 0.5
"#;

/// Columns that measure the run, not its results.
const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];

fn in_memory(sweep: &Sweep) -> (RecordBatch, RecordBatch) {
    let records: Vec<CellRecord> = run_all(sweep, &RunOptions::default())
        .unwrap()
        .iter()
        .map(CellRecord::of)
        .collect();
    let info = RunInfo::default();
    let results = Results {
        sweep,
        cells: &records,
        info: &info,
    };
    (
        SummaryFile::batch(&results, &Baselines::of(sweep)).unwrap(),
        Histograms::batch(&results).unwrap(),
    )
}

#[test]
fn a_streamed_wide_sweep_holds_the_values_of_one_held_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("wide.toml"), SWEEP).unwrap();
    let sweep = Sweep::parse(SWEEP, "wide.toml").unwrap();
    assert_eq!(sweep.cells.len(), 480);
    coordsim(tmp.path())
        .args([
            "run",
            "wide.toml",
            "--out",
            "out",
            "--threads",
            "2",
            "--quiet",
        ])
        .assert()
        .success();
    let (summary, _) = read_parquet(&tmp.path().join("out/summary.parquet"));
    let (histograms, _) = read_parquet(&tmp.path().join("out/histograms.parquet"));
    let (expected_summary, expected_histograms) = in_memory(&sweep);
    assert_eq!(summary.num_rows(), 480);
    assert_eq!(
        without(&summary, &TIMING),
        without(&expected_summary, &TIMING)
    );
    assert_eq!(histograms, expected_histograms);
    assert!(histograms.num_rows() > 10_000, "{}", histograms.num_rows());

    // The relative cost is each cell's cost over that of the fire-and-forget cell of its
    // environment, as measured in this run: the streamed rows, written before that cell ran,
    // say the same.
    let column = |name: &str| {
        summary
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone()
    };
    let (usd, relative) = (column("transfer_usd_per_month"), column("relative_cost"));
    // Rows are in cell order.
    let key = |row: usize| {
        let cell = &sweep.cells.get(row);
        format!("{} {} {}", cell.nodes, cell.crash, cell.loss)
    };
    let baseline: HashMap<String, f64> = (0..summary.num_rows())
        .filter(|&row| sweep.cells.get(row).protocol.name == "fire-and-forget")
        .map(|row| (key(row), usd.value(row)))
        .collect();
    assert_eq!(baseline.len(), 120);
    for row in 0..summary.num_rows() {
        let expected = usd.value(row) / baseline[&key(row)];
        assert_eq!(relative.value(row), expected, "row {row}");
    }
}
