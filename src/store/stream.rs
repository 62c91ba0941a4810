//! A Parquet file written a record batch at a time: every output file of a run is one.
//!
//! Rows go to a temporary file beside the final one (`.<name>.tmp`) as they come, with a
//! running row count and checksum ([`super::integrity`]); [`ParquetStream::finish`] adds the
//! key-value metadata and the checksum to the footer, syncs the file and renames it into
//! place. A stream dropped unfinished removes its temporary file, so a failure never leaves a
//! truncated file under a final name, and memory holds one row group at most, never the file.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::integrity::Checksum;
use super::{OutputError, parquet_error};

/// Most rows per row group: a reader can skip a group by its statistics.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Most bytes per row group: the writer holds one group's pages in memory, so this bounds
/// what a file costs in memory however many rows it has.
pub const ROW_GROUP_BYTES: usize = 8 << 20;

/// The temporary name a file is written under before it is renamed to `path`.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// A Parquet file being written (see the module documentation).
pub struct ParquetStream {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
    checksum: Checksum,
}

impl ParquetStream {
    /// Starts the zstd-compressed Parquet file `path` with columns `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, OutputError> {
        let tmp = temporary_path(path);
        let file = File::create(&tmp).map_err(OutputError::io(&tmp))?;
        let level = ZstdLevel::try_new(3).map_err(|e| OutputError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .build();
        let writer = match ArrowWriter::try_new(file, schema, Some(props)) {
            Ok(writer) => writer,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(parquet_error(path, e));
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            writer: Some(writer),
            checksum: Checksum::default(),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the rows of `batch`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), OutputError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.checksum
            .update(batch)
            .map_err(|message| OutputError::Format {
                path: self.path.clone(),
                message,
            })?;
        let writer = self.writer.as_mut().expect("not finished");
        writer
            .write(batch)
            .map_err(|e| parquet_error(&self.path, e))
    }

    /// Adds `metadata` and the row count and checksum, closes and syncs the file and renames
    /// it into place; returns its path.
    pub fn finish(mut self, metadata: Vec<(String, String)>) -> Result<PathBuf, OutputError> {
        let mut writer = self.writer.take().expect("not finished");
        for (k, v) in metadata.into_iter().chain(self.checksum.metadata()) {
            writer.append_key_value_metadata(KeyValue::new(k, v));
        }
        // Writes the footer, then hands back the file.
        let file = writer
            .into_inner()
            .map_err(|e| parquet_error(&self.path, e))?;
        file.sync_all().map_err(OutputError::io(&self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(OutputError::io(&self.path))?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for ParquetStream {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
