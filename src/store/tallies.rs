//! Tally files: the mergeable state of a run, for checkpoints and shard parts.
//!
//! One Parquet row per cell: the counters, the exact sums (as `Decimal128(38, 0)`) and the
//! three histograms in HdrHistogram's V2 format. Key-value metadata identifies the run the
//! tallies belong to and the work items they cover.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, UInt32Type, UInt64Type};
use arrow_array::{ArrayRef, BinaryArray, Decimal128Array, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::OutputError;
use super::guard::{open_regular, unpanicked_file};
use super::stream::ParquetStream;
use crate::model::MAX_EXTRAS;
use crate::model::tally::Tally;

const SUMS: [&str; 3] = ["latency_sum_ns", "messages_sum", "rounds_sum"];
const MAXIMA: [&str; 3] = ["latency_max_ns", "messages_max", "rounds_max"];
const HISTOGRAMS: [&str; 3] = ["latency_ns_v2", "messages_v2", "rounds_v2"];

fn format_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> OutputError + '_ {
    move |e| OutputError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn decimal(values: Vec<i128>) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(
        Decimal128Array::from(values).with_precision_and_scale(38, 0)?,
    ))
}

fn schema() -> SchemaRef {
    batch(&[]).expect("an empty batch always builds").schema()
}

fn batch(rows: &[(u32, &Tally)]) -> Result<RecordBatch, String> {
    let mut fields = vec![Field::new("cell_id", DataType::UInt32, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(
        rows.iter().map(|(c, _)| *c).collect::<UInt32Array>(),
    )];
    let mut u64s = |name: &str, get: &dyn Fn(&Tally) -> u64| {
        fields.push(Field::new(name, DataType::UInt64, false));
        columns.push(Arc::new(
            rows.iter().map(|(_, t)| get(t)).collect::<UInt64Array>(),
        ));
    };
    u64s("chunks", &|t| t.chunks);
    u64s("successes", &|t| t.successes);
    u64s("failures", &|t| t.failures);
    u64s("blocked", &|t| t.blocked);
    u64s(MAXIMA[0], &|t| t.latency_max_ns);
    u64s(MAXIMA[1], &|t| t.messages_max);
    u64s(MAXIMA[2], &|t| t.rounds_max);
    u64s("busy_ns", &|t| t.busy_ns);
    let sums: [fn(&Tally) -> u128; 3] =
        [|t| t.latency_sum_ns, |t| t.messages_sum, |t| t.rounds_sum];
    let extras = (0..MAX_EXTRAS).map(|i| (format!("extra_{i}_sum"), i));
    let decimal_type = DataType::Decimal128(38, 0);
    for (name, get) in SUMS.iter().zip(sums) {
        fields.push(Field::new(*name, decimal_type.clone(), false));
        columns.push(
            decimal(rows.iter().map(|(_, t)| get(t) as i128).collect())
                .map_err(|e| e.to_string())?,
        );
    }
    for (name, i) in extras {
        fields.push(Field::new(name, decimal_type.clone(), false));
        columns.push(
            decimal(rows.iter().map(|(_, t)| t.extras_sum[i] as i128).collect())
                .map_err(|e| e.to_string())?,
        );
    }
    let histograms: [fn(&Tally) -> &Histogram<u64>; 3] =
        [Tally::latency_ns, Tally::messages, Tally::rounds];
    let mut serializer = V2Serializer::new();
    for (name, get) in HISTOGRAMS.iter().zip(histograms) {
        let mut blobs = Vec::with_capacity(rows.len());
        for (_, t) in rows {
            let mut bytes = Vec::new();
            serializer
                .serialize(get(t), &mut bytes)
                .map_err(|e| format!("{e:?}"))?;
            blobs.push(bytes);
        }
        fields.push(Field::new(*name, DataType::Binary, false));
        columns.push(Arc::new(BinaryArray::from_iter_values(blobs.iter())));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

/// A tally file being written: rows go to a temporary file, renamed into place by
/// [`TallyWriter::finish`] (and removed if the writer is dropped unfinished).
pub struct TallyWriter {
    stream: ParquetStream,
}

impl TallyWriter {
    /// Starts the tally file `path`.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        Ok(Self {
            stream: ParquetStream::create(path, schema())?,
        })
    }

    /// Appends `rows`.
    pub fn write(&mut self, rows: &[(u32, &Tally)]) -> Result<(), OutputError> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = batch(rows).map_err(|e| format_error(self.stream.path())(&e))?;
        self.stream.write(&batch)
    }

    /// Adds `metadata` and its checksum ([`super::integrity::metadata_checksum`], over it and
    /// the rows' count and checksum), closes and syncs the file and renames it into place.
    pub fn finish(self, mut metadata: Vec<(String, String)>) -> Result<(), OutputError> {
        let sealed = self.stream.checksum_metadata();
        let all = metadata.iter().chain(&sealed);
        let checksum =
            super::integrity::metadata_checksum(all.map(|(k, v)| (k.as_str(), v.as_str())));
        metadata.push((super::keys::METADATA_CHECKSUM.to_string(), checksum));
        self.stream.finish(metadata).map(drop)
    }
}

/// The metadata of the tally file at `path`, without reading its rows.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>, OutputError> {
    unpanicked_file(path, || {
        let file = open_regular(path).map_err(OutputError::io(path))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format_error(path)(&e))?;
        Ok(metadata_of(&builder))
    })
}

/// A Parquet file's key-value metadata, as a map.
pub(crate) fn metadata_of(
    builder: &ParquetRecordBatchReaderBuilder<File>,
) -> BTreeMap<String, String> {
    builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a tally file row by row: only one batch of serialized rows and one tally are in
/// memory at a time. The rows are checked against the row count and checksum in the file's
/// metadata as they are read: after the last row, a file that does not match yields an error
/// (so a reader must be read to its end before its rows are trusted).
pub struct TallyReader {
    path: PathBuf,
    batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    deserializer: Deserializer,
    checksum: super::integrity::Checksum,
    checked: bool,
    /// The file's key-value metadata.
    pub metadata: BTreeMap<String, String>,
}

impl TallyReader {
    /// Opens the tally file at `path`.
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        let fail = format_error(path);
        let file = open_regular(path).map_err(OutputError::io(path))?;
        let (metadata, batches) = unpanicked_file(path, || {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(&e))?;
            let metadata = metadata_of(&builder);
            let batches = builder.with_batch_size(64).build().map_err(|e| fail(&e))?;
            Ok((metadata, batches))
        })?;
        // Written by every tally file of this version; a file without one is checked by its
        // reader (a checkpoint must have one).
        if metadata.contains_key(super::keys::METADATA_CHECKSUM) {
            super::integrity::check_metadata_checksum(&metadata).map_err(|e| fail(&e))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            batches,
            batch: None,
            row: 0,
            deserializer: Deserializer::new(),
            checksum: Default::default(),
            checked: false,
            metadata,
        })
    }

    fn row(&mut self) -> Result<(u32, Tally), OutputError> {
        let fail = format_error(&self.path);
        let batch = self.batch.as_ref().expect("a batch is loaded");
        let i = self.row;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| fail(&format!("no column `{name}`")))
        };
        let u64_at = |name: &str| -> Result<u64, OutputError> {
            let c = column(name)?;
            let a = c
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(|| fail(&format!("`{name}` is not UInt64")))?;
            Ok(a.value(i))
        };
        let sum_at = |name: &str| -> Result<u128, OutputError> {
            let c = column(name)?;
            let a = c
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| fail(&format!("`{name}` is not Decimal128")))?;
            u128::try_from(a.value(i)).map_err(|_| fail(&format!("negative `{name}`")))
        };
        let cell = column("cell_id")?
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| fail(&"`cell_id` is not UInt32"))?
            .value(i);
        let mut histograms = Vec::with_capacity(3);
        for name in HISTOGRAMS {
            let c = column(name)?;
            let a = c
                .as_binary_opt::<i32>()
                .ok_or_else(|| fail(&format!("`{name}` is not Binary")))?;
            let h: Histogram<u64> = self
                .deserializer
                .deserialize(&mut a.value(i))
                .map_err(|e| fail(&format!("cell {cell}: bad histogram: {e:?}")))?;
            histograms.push(h);
        }
        let [latency_ns, messages, rounds]: [Histogram<u64>; 3] = histograms
            .try_into()
            .map_err(|_| fail(&"three histograms"))?;
        let mut extras_sum = [0; MAX_EXTRAS];
        for (k, slot) in extras_sum.iter_mut().enumerate() {
            *slot = sum_at(&format!("extra_{k}_sum"))?;
        }
        let mut scalars = Tally::empty();
        scalars.successes = u64_at("successes")?;
        scalars.failures = u64_at("failures")?;
        scalars.blocked = u64_at("blocked")?;
        scalars.latency_sum_ns = sum_at(SUMS[0])?;
        scalars.latency_max_ns = u64_at(MAXIMA[0])?;
        scalars.messages_sum = sum_at(SUMS[1])?;
        scalars.messages_max = u64_at(MAXIMA[1])?;
        scalars.rounds_sum = sum_at(SUMS[2])?;
        scalars.rounds_max = u64_at(MAXIMA[2])?;
        scalars.extras_sum = extras_sum;
        scalars.chunks = u64_at("chunks")?;
        scalars.busy_ns = u64_at("busy_ns")?;
        let tally = Tally::from_parts(scalars, latency_ns, messages, rounds)
            .map_err(|e| fail(&format!("cell {cell}: {e}")))?;
        Ok((cell, tally))
    }
}

impl Iterator for TallyReader {
    type Item = Result<(u32, Tally), OutputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.path.clone();
        unpanicked_file(&path, || Ok(self.next_unguarded())).unwrap_or_else(|e| Some(Err(e)))
    }
}

impl TallyReader {
    fn next_unguarded(&mut self) -> Option<Result<(u32, Tally), OutputError>> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            match self.batches.next() {
                Some(Ok(batch)) => {
                    if let Err(e) = self.checksum.update(&batch) {
                        return Some(Err(format_error(&self.path)(&e)));
                    }
                    self.batch = Some(batch);
                    self.row = 0;
                }
                Some(Err(e)) => return Some(Err(format_error(&self.path)(&e))),
                None if self.checked => return None,
                None => {
                    self.checked = true;
                    self.batch = None;
                    return self
                        .checksum
                        .check(&self.metadata)
                        .err()
                        .map(|e| Err(format_error(&self.path)(&e)));
                }
            }
        }
        let row = self.row();
        self.row += 1;
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RunOptions, run_all};
    use crate::sweep::Sweep;

    /// Writes the tallies of `rows` with `metadata` to `path`, atomically.
    fn write_tallies(
        path: &Path,
        rows: &[(u32, &Tally)],
        metadata: Vec<(String, String)>,
    ) -> Result<(), OutputError> {
        let mut writer = TallyWriter::create(path)?;
        writer.write(rows)?;
        writer.finish(metadata)
    }

    /// Rows of a tally file, and its key-value metadata.
    type TallyFile = (Vec<(u32, Tally)>, BTreeMap<String, String>);

    /// The tallies and metadata of the tally file at `path`, checked against the row count and
    /// checksum in its metadata.
    fn read_tallies(path: &Path) -> Result<TallyFile, OutputError> {
        let mut reader = TallyReader::open(path)?;
        let rows = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok((rows, reader.metadata))
    }

    #[test]
    fn tallies_round_trip_exactly() {
        let sweep = Sweep::default_sweep().with_trials(3_000);
        let cells = run_all(&sweep, &RunOptions::default()).unwrap();
        let rows: Vec<(u32, &Tally)> = cells.iter().map(|c| (c.cell_id, &*c.tally)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_tallies(&path, &rows, vec![("k".into(), "v".into())]).unwrap();
        let (back, metadata) = read_tallies(&path).unwrap();
        assert_eq!(metadata["k"], "v");
        assert_eq!(back.len(), rows.len());
        for ((c0, t0), (c1, t1)) in rows.iter().zip(&back) {
            assert_eq!(c0, c1);
            assert_eq!(*t0, t1);
            assert_eq!(t0.busy_ns, t1.busy_ns);
        }
    }
}
