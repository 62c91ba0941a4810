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

/// Rewrites the Parquet file `path` with `batch` and `metadata`. With `reseal`, the row count
/// and checksum in the metadata (and a tally file's metadata checksum) are recomputed for the
/// new rows (an altered file that still matches its checksums); without, they are kept as
/// they were (a tampered file).
pub fn rewrite(path: &Path, batch: &RecordBatch, metadata: &[(String, String)], reseal: bool) {
    rewrite_batches(path, std::slice::from_ref(batch), metadata, reseal);
}

/// [`rewrite`] with the rows of several batches, in order.
pub fn rewrite_batches(
    path: &Path,
    batches: &[RecordBatch],
    metadata: &[(String, String)],
    reseal: bool,
) {
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    let sealed = |k: &str| k == "coordsim.rows" || k == "coordsim.checksum";
    let mut kv: Vec<KeyValue> = metadata
        .iter()
        .filter(|(k, _)| !reseal || !sealed(k))
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    if reseal {
        let mut checksum = coordsim::store::integrity::Checksum::default();
        for batch in batches {
            checksum.update(batch).unwrap();
        }
        kv.extend(
            checksum
                .metadata()
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v)),
        );
        // A tally file's metadata checksum, over the entries as they now are.
        let key = coordsim::store::keys::METADATA_CHECKSUM;
        if let Some(at) = kv.iter().position(|e| e.key == key) {
            kv.remove(at);
            let entries = kv
                .iter()
                .map(|e| (e.key.as_str(), e.value.as_deref().unwrap_or("")));
            let value = coordsim::store::integrity::metadata_checksum(entries);
            kv.push(KeyValue::new(key.to_string(), value));
        }
    }
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let file = File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// `batch` with the UInt64 column `name` replaced by `f` of its values.
pub fn map_u64(batch: &RecordBatch, name: &str, f: impl Fn(usize, u64) -> u64) -> RecordBatch {
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    let i = batch.schema().index_of(name).unwrap();
    let values: arrow_array::UInt64Array = batch
        .column(i)
        .as_primitive::<UInt64Type>()
        .values()
        .iter()
        .enumerate()
        .map(|(row, &v)| f(row, v))
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[i] = std::sync::Arc::new(values);
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// The stderr of `output`, checked to hold one `error: ` line (after any banner), returned
/// without its prefix.
pub fn error_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some(errors[0]),
        "the error comes last: {stderr}"
    );
    errors[0].trim_start_matches("error: ").to_string()
}

/// The key-value entries to set in the tally file `path` for its `key` to say `value` with its
/// metadata checksum made to match: damage that only the checks of its content can find.
pub fn resealed(path: &Path, key: &str, value: &str) -> Vec<(String, String)> {
    let (_, mut metadata) = read_parquet(path);
    for (k, v) in metadata.iter_mut() {
        if k == key {
            *v = value.to_string();
        }
    }
    let entries = metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let checksum = coordsim::store::integrity::metadata_checksum(entries);
    vec![
        (key.to_string(), value.to_string()),
        (
            coordsim::store::keys::METADATA_CHECKSUM.to_string(),
            checksum,
        ),
    ]
}
