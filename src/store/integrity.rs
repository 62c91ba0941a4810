//! Row counts and checksums carried in every Parquet file's metadata, and their check.
//!
//! The checksum is CRC-32 (IEEE) over the values, column by column, so that it depends on the
//! values only, not on how Parquet encoded them or how the rows were cut into batches. Each
//! column has two running CRCs: one over its non-null values in row order, each as fixed-width
//! little-endian bytes (integers and decimals at their width, floats as their IEEE bits,
//! booleans as one byte 0 or 1, strings and binary as a 4-byte length then the bytes, a
//! dictionary's entries as their string), and one over the row numbers (8 bytes each) of its
//! nulls. The file's checksum is the CRC-32 of both CRCs of every column, in column order.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::DataType;

use super::keys::{CHECKSUM, METADATA_CHECKSUM, PREFIX, ROWS};

/// A running checksum over the rows of one or more record batches.
#[derive(Debug, Default, Clone)]
pub struct Checksum {
    /// Per column: the CRC of its values and the CRC of its null rows.
    columns: Vec<(crc32fast::Hasher, crc32fast::Hasher)>,
    rows: u64,
    /// Values encoded for hashing, kept between batches.
    scratch: Vec<u8>,
}

impl Checksum {
    /// Adds every row of `batch`.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let columns = batch.columns();
        if self.columns.is_empty() {
            self.columns = vec![Default::default(); columns.len()];
        }
        if self.columns.len() != columns.len() {
            return Err(format!(
                "a batch of {} columns after batches of {}",
                columns.len(),
                self.columns.len()
            ));
        }
        for (column, (values, nulls)) in columns.iter().zip(&mut self.columns) {
            if column.null_count() > 0 {
                for row in (0..column.len()).filter(|&row| column.is_null(row)) {
                    nulls.update(&(self.rows + row as u64).to_le_bytes());
                }
            }
            hash_values(column.as_ref(), values, &mut self.scratch)?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finalize(&self) -> u32 {
        let mut all = crc32fast::Hasher::new();
        for (values, nulls) in &self.columns {
            all.update(&values.clone().finalize().to_le_bytes());
            all.update(&nulls.clone().finalize().to_le_bytes());
        }
        all.finalize()
    }

    /// The metadata entries: row count and checksum.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (ROWS.to_string(), self.rows.to_string()),
            (CHECKSUM.to_string(), format!("{:08x}", self.finalize())),
        ]
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The checksum so far, as written in metadata.
    pub fn hex(&self) -> String {
        format!("{:08x}", self.finalize())
    }

    /// Checks the rows seen against the row count and checksum recorded in `metadata`: the
    /// reason on one line if they differ or are missing.
    pub fn check(&self, metadata: &BTreeMap<String, String>) -> Result<(), String> {
        let rows = metadata
            .get(ROWS)
            .ok_or("no row count (coordsim.rows) in its metadata")?;
        if rows != &self.rows.to_string() {
            return Err(format!(
                "{} rows, but its metadata says {}: the file was altered",
                self.rows,
                rows.escape_debug()
            ));
        }
        let sum = metadata
            .get(CHECKSUM)
            .ok_or("no checksum (coordsim.checksum) in its metadata")?;
        if sum != &self.hex() {
            return Err(format!(
                "checksum {} does not match {} in its metadata: the file was altered",
                self.hex(),
                sum.escape_debug()
            ));
        }
        Ok(())
    }
}

/// The checksum of a file's key-value `metadata` ([`METADATA_CHECKSUM`]): CRC-32 over every
/// `coordsim.` entry but that one (not the Arrow schema the Parquet writer adds), in key order, each as its key's length (4 bytes, little-endian), the
/// key, its value's length (8 bytes) and the value. Its row count and checksum are among them,
/// so it binds what the metadata says (a checkpoint's work items) to the rows.
pub fn metadata_checksum<'a>(metadata: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = metadata
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && *k != METADATA_CHECKSUM)
        .collect();
    let mut hasher = crc32fast::Hasher::new();
    for (k, v) in sorted {
        hasher.update(&(k.len() as u32).to_le_bytes());
        hasher.update(k.as_bytes());
        hasher.update(&(v.len() as u64).to_le_bytes());
        hasher.update(v.as_bytes());
    }
    format!("{:08x}", hasher.finalize())
}

/// Checks the [`METADATA_CHECKSUM`] entry of `metadata` against its other entries: the reason
/// on one line if it differs or is missing.
pub fn check_metadata_checksum(metadata: &BTreeMap<String, String>) -> Result<(), String> {
    let recorded = metadata
        .get(METADATA_CHECKSUM)
        .ok_or("no metadata checksum (coordsim.metadata_checksum) in its metadata")?;
    let actual = metadata_checksum(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if recorded != &actual {
        return Err(format!(
            "metadata checksum {actual} does not match {} in its metadata: the metadata was altered",
            recorded.escape_debug()
        ));
    }
    Ok(())
}

/// Adds the non-null values of `array` to `hasher`, as the module documentation says. Values
/// that are not already little-endian bytes in memory are encoded into one buffer and hashed
/// at once, in `buffer` (a CRC over a buffer is the CRC over its pieces in turn).
fn hash_values(
    array: &dyn Array,
    hasher: &mut crc32fast::Hasher,
    buffer: &mut Vec<u8>,
) -> Result<(), String> {
    fn primitive<T: ArrowPrimitiveType, const N: usize>(
        array: &dyn Array,
        hasher: &mut crc32fast::Hasher,
        buffer: &mut Vec<u8>,
        bytes: impl Fn(T::Native) -> [u8; N],
    ) {
        let values = array.as_primitive::<T>();
        if values.null_count() == 0 && cfg!(target_endian = "little") {
            // In memory as little-endian bytes already.
            let slice: &[T::Native] = values.values();
            // SAFETY: a slice of plain numbers viewed as its bytes, same length in bytes.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    slice.as_ptr().cast::<u8>(),
                    std::mem::size_of_val(slice),
                )
            };
            hasher.update(raw);
        } else {
            for v in values.iter().flatten() {
                buffer.extend_from_slice(&bytes(v));
            }
            hasher.update(buffer);
            buffer.clear();
        }
    }
    fn text(buffer: &mut Vec<u8>, bytes: &[u8]) {
        buffer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        buffer.extend_from_slice(bytes);
    }
    buffer.clear();
    match array.data_type() {
        DataType::Boolean => {
            let values: Vec<u8> = array.as_boolean().iter().flatten().map(u8::from).collect();
            hasher.update(&values);
        }
        DataType::UInt32 => primitive::<UInt32Type, 4>(array, hasher, buffer, u32::to_le_bytes),
        DataType::UInt64 => primitive::<UInt64Type, 8>(array, hasher, buffer, u64::to_le_bytes),
        DataType::Float64 => {
            primitive::<Float64Type, 8>(array, hasher, buffer, |v| v.to_bits().to_le_bytes())
        }
        DataType::Decimal128(_, _) => {
            primitive::<Decimal128Type, 16>(array, hasher, buffer, i128::to_le_bytes)
        }
        DataType::Utf8 => {
            for v in array.as_string::<i32>().iter().flatten() {
                text(buffer, v.as_bytes());
            }
        }
        DataType::Binary => {
            for v in array.as_binary::<i32>().iter().flatten() {
                text(buffer, v);
            }
        }
        DataType::Dictionary(key, values)
            if **key == DataType::Int32 && **values == DataType::Utf8 =>
        {
            let d = array.as_dictionary::<Int32Type>();
            let strings = d.values().as_string::<i32>();
            for k in d.keys().iter().flatten() {
                let k = usize::try_from(k).map_err(|_| "a negative dictionary key".to_string())?;
                if k >= strings.len() {
                    return Err(format!(
                        "dictionary key {k} beyond its {} entries",
                        strings.len()
                    ));
                }
                text(buffer, strings.value(k).as_bytes());
            }
        }
        other => return Err(format!("no checksum for columns of type {other}")),
    }
    hasher.update(buffer);
    Ok(())
}
