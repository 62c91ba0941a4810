//! Row counts and checksums carried in every Parquet file's metadata, and their check.
//!
//! The checksum is CRC-32 (IEEE) over a canonical text of the values, row by row: each value
//! as text (floats in Rust's shortest round-trip form, booleans as `true` or `false`, binary as
//! its bytes, null as `\0`) followed by the unit separator `0x1f`, each row followed by the
//! record separator `0x1e`.
//! It depends on the values only, not on how Parquet encoded them.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// Metadata key of the row count.
pub const ROWS: &str = "coordsim.rows";
/// Metadata key of the checksum (8 hex digits).
pub const CHECKSUM: &str = "coordsim.checksum";

/// A running checksum over the rows of one or more record batches.
#[derive(Debug, Default, Clone)]
pub struct Checksum {
    hasher: crc32fast::Hasher,
    rows: u64,
}

impl Checksum {
    /// Adds every row of `batch`.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let columns = batch.columns();
        let mut text = Vec::new();
        for row in 0..batch.num_rows() {
            text.clear();
            for column in columns {
                value(column.as_ref(), row, &mut text)?;
                text.push(0x1f);
            }
            text.push(0x1e);
            self.hasher.update(&text);
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// The metadata entries: row count and checksum.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (ROWS.to_string(), self.rows.to_string()),
            (
                CHECKSUM.to_string(),
                format!("{:08x}", self.hasher.clone().finalize()),
            ),
        ]
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The checksum so far, as written in metadata.
    pub fn hex(&self) -> String {
        format!("{:08x}", self.hasher.clone().finalize())
    }

    /// Checks the rows seen against the row count and checksum recorded in `metadata`: the
    /// reason on one line if they differ or are missing.
    pub fn check(&self, metadata: &BTreeMap<String, String>) -> Result<(), String> {
        let rows = metadata
            .get(ROWS)
            .ok_or("no row count (coordsim.rows) in its metadata")?;
        if rows != &self.rows.to_string() {
            return Err(format!(
                "{} rows, but its metadata says {rows}: the file was altered",
                self.rows
            ));
        }
        let sum = metadata
            .get(CHECKSUM)
            .ok_or("no checksum (coordsim.checksum) in its metadata")?;
        if sum != &self.hex() {
            return Err(format!(
                "checksum {} does not match {sum} in its metadata: the file was altered",
                self.hex()
            ));
        }
        Ok(())
    }
}

fn value(array: &dyn Array, row: usize, out: &mut Vec<u8>) -> Result<(), String> {
    use std::io::Write;
    if array.is_null(row) {
        out.push(0);
        return Ok(());
    }
    let write = |out: &mut Vec<u8>, v: &dyn std::fmt::Display| {
        write!(out, "{v}").expect("writing to memory");
    };
    match array.data_type() {
        DataType::Boolean => write(out, &array.as_boolean().value(row)),
        DataType::UInt32 => write(out, &array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => write(out, &array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float64 => write(out, &array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, _) => {
            write(out, &array.as_primitive::<Decimal128Type>().value(row))
        }
        DataType::Utf8 => out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes()),
        DataType::Binary => out.extend_from_slice(array.as_binary::<i32>().value(row)),
        DataType::Dictionary(key, values)
            if **key == DataType::Int32 && **values == DataType::Utf8 =>
        {
            let d = array.as_dictionary::<Int32Type>();
            let k = d.keys().value(row) as usize;
            out.extend_from_slice(d.values().as_string::<i32>().value(k).as_bytes());
        }
        other => return Err(format!("no checksum for columns of type {other}")),
    }
    Ok(())
}
