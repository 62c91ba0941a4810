//! Helpers shared by the integration tests: the binary, and Parquet read back with arrow.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The coordsim binary, run in `dir`.
pub fn coordsim(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("coordsim").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// A test data file.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A Parquet file as one record batch, and its key-value metadata.
pub fn read_parquet(path: &Path) -> (RecordBatch, Vec<(String, String)>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder
        .with_batch_size(usize::MAX)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let batch = match batches.as_slice() {
        [one] => one.clone(),
        [] => RecordBatch::new_empty(schema),
        more => panic!("expected one record batch, got {}", more.len()),
    };
    (batch, metadata)
}

/// `batch` without the named columns.
pub fn without(batch: &RecordBatch, columns: &[&str]) -> RecordBatch {
    let keep: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    batch.project(&keep).unwrap()
}
