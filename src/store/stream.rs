//! A Parquet file written a record batch at a time: every output file of a run is one.
//!
//! Rows go to a temporary file beside the final one ([`super::atomic`]) as they come, with a
//! running row count and checksum ([`super::integrity`]); [`ParquetStream::finish`] adds the
//! key-value metadata and the checksum to the footer and commits the file. A stream dropped
//! unfinished removes its temporary file, so a failure never leaves a truncated file under a
//! final name, and memory holds one row group at most, never the file.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

use super::atomic::AtomicFile;
use super::integrity::Checksum;
use super::{OutputError, parquet_error};

/// Most rows per row group: a reader can skip a group by its statistics.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Most bytes per row group: the writer holds one group's pages in memory, so this bounds
/// what a file costs in memory however many rows it has.
pub const ROW_GROUP_BYTES: usize = 8 << 20;

/// Rows the writer encodes at a time (its default is 1024): fewer, larger steps over the
/// many rows of `histograms.parquet`.
const WRITE_BATCH_ROWS: usize = 8192;

/// zstd's fastest regular level: the files are written once per run, and a higher level
/// costs more time than the bytes it saves.
const ZSTD_LEVEL: i32 = 1;

/// A Parquet file being written (see the module documentation).
pub struct ParquetStream {
    atomic: AtomicFile,
    writer: Option<ArrowWriter<File>>,
    checksum: Checksum,
}

impl ParquetStream {
    /// Starts the zstd-compressed Parquet file `path` with columns `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, OutputError> {
        Self::create_with(path, schema, |props| props)
    }

    /// [`ParquetStream::create`], with writer properties changed by `tune` (per-column
    /// encodings and statistics, which change no value).
    pub fn create_with(
        path: &Path,
        schema: SchemaRef,
        tune: impl FnOnce(WriterPropertiesBuilder) -> WriterPropertiesBuilder,
    ) -> Result<Self, OutputError> {
        let (atomic, file) = AtomicFile::create(path)?;
        let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(|e| OutputError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let props = tune(
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(level))
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
                .set_write_batch_size(WRITE_BATCH_ROWS),
        )
        .build();
        let writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| parquet_error(path, e))?;
        Ok(Self {
            atomic,
            writer: Some(writer),
            checksum: Checksum::default(),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        self.atomic.path()
    }

    /// Appends the rows of `batch`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), OutputError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.checksum
            .update(batch)
            .map_err(|message| OutputError::Format {
                path: self.atomic.path().to_path_buf(),
                message,
            })?;
        let writer = self.writer.as_mut().expect("not finished");
        writer
            .write(batch)
            .map_err(|e| parquet_error(self.atomic.path(), e))
    }

    /// The row count and checksum of the rows written so far, as metadata entries.
    pub fn checksum_metadata(&self) -> Vec<(String, String)> {
        self.checksum.metadata()
    }

    /// Adds `metadata` and the row count and checksum, closes the file and commits it;
    /// returns its path.
    pub fn finish(mut self, metadata: Vec<(String, String)>) -> Result<PathBuf, OutputError> {
        let mut writer = self.writer.take().expect("not finished");
        for (k, v) in metadata.into_iter().chain(self.checksum.metadata()) {
            writer.append_key_value_metadata(KeyValue::new(k, v));
        }
        // Writes the footer, then hands back the file.
        let file = writer
            .into_inner()
            .map_err(|e| parquet_error(self.atomic.path(), e))?;
        self.atomic.commit(file)
    }
}
