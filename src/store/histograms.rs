//! `histograms.parquet`: every non-empty histogram bucket, one row each (long format).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{DictionaryArray, Float64Array, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use super::Results;

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

    /// The buckets as an Arrow record batch.
    pub fn batch(results: &Results<'_>) -> Result<RecordBatch, ArrowError> {
        let rows = || {
            results
                .cells
                .iter()
                .flat_map(|r| r.buckets.iter().map(move |b| (r.cell_id, b)))
        };
        let cell_id: UInt32Array = rows().map(|(id, _)| Some(id)).collect();
        let metric: DictionaryArray<Int32Type> =
            rows().map(|(_, b)| Some(b.metric.name())).collect();
        let low: Float64Array = rows().map(|(_, b)| Some(b.low)).collect();
        let high: Float64Array = rows().map(|(_, b)| Some(b.high)).collect();
        let count: UInt64Array = rows().map(|(_, b)| Some(b.count)).collect();
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
