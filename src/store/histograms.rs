//! `histograms.parquet`: every non-empty histogram bucket, one row each (long format).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::basic::Encoding;
use parquet::file::properties::{EnabledStatistics, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use super::{Bucket, Metric, Results};

/// Columns `cell_id`, `metric` (`latency_ms`, `messages`, `rounds`), `bucket_low`,
/// `bucket_high` (in the metric's unit) and `count`. Sorting a cell's buckets of one metric by
/// `bucket_high` and accumulating `count` gives its CDF.
pub struct Histograms;

impl Histograms {
    /// The file's schema.
    pub fn schema() -> SchemaRef {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        Arc::new(Schema::new(vec![
            Field::new("cell_id", DataType::UInt32, false),
            Field::new("metric", dictionary, false),
            Field::new("bucket_low", DataType::Float64, false),
            Field::new("bucket_high", DataType::Float64, false),
            Field::new("count", DataType::UInt64, false),
        ]))
    }

    /// The writer's settings for the file: no statistics but on `cell_id` (which a reader
    /// skips row groups by); `metric`, of three words, written plainly; `cell_id` (long runs
    /// of one value) and `count` delta-encoded. Building statistics, and dictionaries for
    /// these columns, cost more time than they save space; the bucket bounds, the same few
    /// values in every cell, keep their dictionaries.
    pub fn tune(props: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
        let path = |name: &str| ColumnPath::from(name);
        let props = props.set_column_dictionary_enabled(path("metric"), false);
        let props = ["cell_id", "count"].into_iter().fold(props, |props, name| {
            props
                .set_column_dictionary_enabled(path(name), false)
                .set_column_encoding(path(name), Encoding::DELTA_BINARY_PACKED)
        });
        ["metric", "bucket_low", "bucket_high", "count"]
            .into_iter()
            .fold(props, |props, name| {
                props.set_column_statistics_enabled(path(name), EnabledStatistics::None)
            })
    }

    /// The buckets as an Arrow record batch.
    pub fn batch(results: &Results<'_>) -> Result<RecordBatch, ArrowError> {
        let rows = || {
            results
                .cells
                .iter()
                .flat_map(|r| r.buckets.iter().map(move |b| (r.cell_id, b)))
        };
        // Each column is collected into a vector of the right size: the rows are many.
        let rows_n = results.cells.iter().map(|r| r.buckets.len()).sum();
        fn column<'a, T>(
            n: usize,
            rows: impl Iterator<Item = (u32, &'a Bucket)>,
            value: impl Fn(u32, &Bucket) -> T,
        ) -> Vec<T> {
            let mut out = Vec::with_capacity(n);
            out.extend(rows.map(|(id, b)| value(id, b)));
            out
        }
        let cell_id = UInt32Array::from(column(rows_n, rows(), |id, _| id));
        let names = StringArray::from_iter_values(Metric::ALL.map(Metric::name));
        let keys = Int32Array::from(column(rows_n, rows(), |_, b| b.metric as i32));
        let metric = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(names))?;
        let low = Float64Array::from(column(rows_n, rows(), |_, b| b.low));
        let high = Float64Array::from(column(rows_n, rows(), |_, b| b.high));
        let count = UInt64Array::from(column(rows_n, rows(), |_, b| b.count));
        RecordBatch::try_new(
            Self::schema(),
            vec![
                Arc::new(cell_id),
                Arc::new(metric),
                Arc::new(low),
                Arc::new(high),
                Arc::new(count),
            ],
        )
    }
}
