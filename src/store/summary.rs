//! `summary.parquet`: one row per cell, parameters and results as typed columns.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, RecordBatch, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::schema::types::ColumnPath;

use super::Results;
use crate::model::Value;
use crate::model::param::Column;
use crate::model::stats::{LatencyMs, Summary};
use crate::sweep::{Cell, Cost, Price, Sweep};

/// Every environment axis of a cell, as a key.
fn environment(cell: &Cell) -> String {
    format!(
        "{} {} {} {} {} {} {} {} {:?} {:?} {:?}",
        cell.nodes,
        cell.crash,
        cell.loss,
        cell.zones,
        cell.zone_crash,
        cell.partition,
        cell.regions,
        cell.latency_name,
        cell.cross_latency.as_ref().map(|(name, _)| name),
        cell.persist.as_ref().map(|(name, _)| name),
        cell.process.as_ref().map(|(name, _)| name)
    )
}

/// The environments that have a fire-and-forget cell: the unit of `relative_cost`.
///
/// Fire-and-forget sends exactly one message per trial, so its cost per month is known before
/// it runs, and a cell's relative cost needs no other cell's results: summary rows can be
/// written as their cells finish.
#[derive(Debug, Default)]
pub struct Baselines(HashSet<String>);

impl Baselines {
    /// The baselines of `sweep`.
    pub fn of(sweep: &Sweep) -> Self {
        Self(
            sweep
                .cells
                .iter()
                .filter(|cell| cell.protocol.name == FIRE_AND_FORGET)
                .map(|cell| environment(&cell))
                .collect(),
        )
    }

    /// The cost per month of the fire-and-forget cell of `cell`'s environment, if the sweep has
    /// one.
    fn usd_per_month(&self, cost: &Cost, cell: &Cell) -> Option<f64> {
        self.0
            .contains(&environment(cell))
            .then(|| cost.usd_per_month(FIRE_AND_FORGET, FIRE_AND_FORGET_MESSAGES))
    }
}

const FIRE_AND_FORGET: &str = "fire-and-forget";
/// Messages per trial of fire-and-forget, always.
const FIRE_AND_FORGET_MESSAGES: f64 = 1.0;

/// Reads one statistic of a cell's latency.
type Stat = fn(&LatencyMs) -> f64;

/// The summary table; its columns are listed in the README.
pub struct SummaryFile;

/// Most rows per page of the summary file: one page of each of its columns is in memory.
const PAGE_ROWS: usize = 4096;

/// Columns under construction: fields and arrays side by side.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn push(&mut self, name: &str, nullable: bool, array: ArrayRef) {
        self.fields
            .push(Field::new(name, array.data_type().clone(), nullable));
        self.arrays.push(array);
    }

    fn u32(&mut self, name: &str, nullable: bool, values: impl Iterator<Item = Option<u32>>) {
        self.push(name, nullable, Arc::new(values.collect::<UInt32Array>()));
    }

    fn u64(&mut self, name: &str, values: impl Iterator<Item = u64>) {
        self.push(name, false, Arc::new(values.collect::<UInt64Array>()));
    }

    fn bool(&mut self, name: &str, values: impl Iterator<Item = Option<bool>>) {
        self.push(name, true, Arc::new(values.collect::<BooleanArray>()));
    }

    fn f64(&mut self, name: &str, nullable: bool, values: impl Iterator<Item = Option<f64>>) {
        self.push(name, nullable, Arc::new(values.collect::<Float64Array>()));
    }

    fn strings<'a>(
        &mut self,
        name: &str,
        nullable: bool,
        values: impl Iterator<Item = Option<&'a str>>,
    ) {
        let array: DictionaryArray<Int32Type> = values.collect();
        self.push(name, nullable, Arc::new(array));
    }
}

impl SummaryFile {
    /// The writer's settings for a file of `schema`: dictionaries for the text columns only,
    /// and pages of at most `PAGE_ROWS` rows. The writer holds a numeric column's
    /// dictionary (every distinct value, up to 1 MiB) and each column's page being filled in
    /// memory, so with the defaults memory would grow with the number of cells.
    pub fn tune(schema: &Schema, props: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
        let props = props.set_data_page_row_count_limit(PAGE_ROWS);
        schema
            .fields()
            .iter()
            .filter(|f| !matches!(f.data_type(), DataType::Dictionary(..) | DataType::Utf8))
            .fold(props, |props, f| {
                props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false)
            })
    }

    /// The summary rows of `results.cells` as an Arrow record batch; `baselines` are those of
    /// the whole sweep.
    pub fn batch(
        results: &Results<'_>,
        baselines: &Baselines,
    ) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let sweep = results.sweep;
        let cells: Vec<Cell> = results
            .cells
            .iter()
            .map(|r| sweep.cells.get(r.cell_id as usize))
            .collect();
        let rows = || cells.iter().zip(results.cells.iter().map(|r| &r.summary));
        let mut c = Columns::default();
        c.u32("cell_id", false, rows().map(|(cell, _)| Some(cell.id)));
        c.strings(
            "protocol",
            false,
            rows().map(|(cell, _)| Some(cell.protocol.name)),
        );
        c.u32("nodes", false, rows().map(|(cell, _)| Some(cell.nodes)));
        c.f64("crash", false, rows().map(|(cell, _)| Some(cell.crash)));
        c.f64("loss", false, rows().map(|(cell, _)| Some(cell.loss)));
        c.u32("zones", false, rows().map(|(cell, _)| Some(cell.zones)));
        c.f64(
            "zone_crash",
            false,
            rows().map(|(cell, _)| Some(cell.zone_crash)),
        );
        c.f64(
            "partition",
            false,
            rows().map(|(cell, _)| Some(cell.partition)),
        );
        c.u32("regions", false, rows().map(|(cell, _)| Some(cell.regions)));
        c.strings(
            "latency",
            false,
            rows().map(|(cell, _)| Some(&*cell.latency_name)),
        );
        c.strings(
            "cross_latency",
            true,
            rows().map(|(cell, _)| cell.cross_latency.as_ref().map(|(name, _)| &**name)),
        );
        c.strings(
            "persist",
            true,
            rows().map(|(cell, _)| cell.persist.as_ref().map(|(name, _)| &**name)),
        );
        c.strings(
            "process",
            true,
            rows().map(|(cell, _)| cell.process.as_ref().map(|(name, _)| &**name)),
        );
        for spec in &sweep.params {
            let value = |cell: &Cell| cell.value(spec.name);
            match spec.kind.column() {
                Column::UInt32 => c.u32(
                    spec.name,
                    true,
                    rows().map(|(cell, _)| match value(cell) {
                        Some(Value::Count(n)) => Some(n),
                        _ => None,
                    }),
                ),
                Column::Float64 => c.f64(
                    spec.name,
                    true,
                    rows().map(|(cell, _)| match value(cell) {
                        Some(Value::Millis(x) | Value::Positive(x) | Value::Probability(x)) => {
                            Some(x)
                        }
                        _ => None,
                    }),
                ),
                Column::String => c.strings(
                    spec.name,
                    true,
                    rows().map(|(cell, _)| match value(cell) {
                        Some(Value::Choice(word)) => Some(word),
                        _ => None,
                    }),
                ),
                Column::QuorumSize => {
                    let rules = || {
                        rows().map(|(cell, _)| match value(cell) {
                            Some(Value::Quorum(rule)) => Some((rule, cell.nodes)),
                            _ => None,
                        })
                    };
                    c.u32(
                        spec.name,
                        true,
                        rules().map(|r| r.map(|(rule, n)| rule.resolve(n))),
                    );
                    let labels: Vec<Option<String>> = rules()
                        .map(|r| r.map(|(rule, _)| rule.to_string()))
                        .collect();
                    c.strings(
                        &format!("{}_spec", spec.name),
                        true,
                        labels.iter().map(|l| l.as_deref()),
                    );
                }
            }
        }
        c.strings(
            "sampler",
            false,
            rows().map(|(cell, _)| Some(sweep.model(cell.id as usize).sampler().as_str())),
        );
        let s = || rows().map(|(_, s)| s);
        c.u64("trials", s().map(|s| s.trials));
        c.u64("successes", s().map(|s| s.successes));
        c.u64("failures", s().map(|s| s.failures));
        c.u64("blocked", s().map(|s| s.blocked));
        c.f64("success_rate", false, s().map(|s| Some(s.success_rate)));
        c.f64(
            "success_ci95_low",
            false,
            s().map(|s| Some(s.success_ci95_low)),
        );
        c.f64(
            "success_ci95_high",
            false,
            s().map(|s| Some(s.success_ci95_high)),
        );
        c.bool(
            "precision_met",
            results.cells.iter().map(|r| r.precision_met),
        );
        if !sweep.expectations.is_empty() {
            // The cell's worst verdict: missed, then undecided, then met.
            c.strings(
                "expect",
                true,
                results.cells.iter().map(|r| {
                    r.verdicts
                        .iter()
                        .map(|j| j.verdict)
                        .max()
                        .map(|v| v.as_str())
                }),
            );
        }
        let latency: [(&str, Stat); 6] = [
            ("latency_ms_mean", |l| l.mean),
            ("latency_ms_p50", |l| l.p50),
            ("latency_ms_p90", |l| l.p90),
            ("latency_ms_p99", |l| l.p99),
            ("latency_ms_p999", |l| l.p999),
            ("latency_ms_max", |l| l.max),
        ];
        for (name, get) in latency {
            c.f64(
                name,
                true,
                s().map(|s: &Summary| s.latency_ms.as_ref().map(get)),
            );
        }
        c.f64("messages_mean", false, s().map(|s| Some(s.messages_mean)));
        c.u64("messages_p99", s().map(|s| s.messages_p99));
        c.u64("messages_max", s().map(|s| s.messages_max));
        let cost = &sweep.cost;
        let prices: Vec<Price> = rows().map(|(cell, s)| cost.price(cell, s)).collect();
        c.f64(
            "bytes_per_op",
            false,
            prices.iter().map(|p| Some(p.bytes_per_op)),
        );
        c.f64(
            "messages_per_month",
            false,
            prices.iter().map(|p| Some(p.messages_per_month)),
        );
        c.f64(
            "messages_per_s",
            true,
            prices.iter().map(|p| p.messages_per_s),
        );
        c.f64(
            "transfer_usd_per_month",
            false,
            prices.iter().map(|p| Some(p.transfer_usd)),
        );
        c.f64(
            "latency_usd_per_month",
            true,
            prices.iter().map(|p| p.latency_usd),
        );
        c.f64(
            "usd_per_month",
            true,
            prices.iter().map(|p| p.usd_per_month()),
        );
        c.f64(
            "relative_cost",
            true,
            rows().zip(&prices).map(|((cell, _), price)| {
                let unit = baselines.usd_per_month(cost, cell)?;
                (unit > 0.0).then(|| price.transfer_usd / unit)
            }),
        );
        c.f64(
            "messages_per_success",
            true,
            s().map(|s| s.messages_per_success),
        );
        c.f64("rounds_mean", false, s().map(|s| Some(s.rounds_mean)));
        for extra in &sweep.extras {
            c.f64(
                &format!("{}_mean", extra.name),
                true,
                rows().map(|(cell, s)| {
                    let i = cell
                        .protocol
                        .extras
                        .iter()
                        .position(|e| e.name == extra.name)?;
                    Some(s.extras_mean[i])
                }),
            );
        }
        c.f64("elapsed_s", false, s().map(|s| Some(s.elapsed_s)));
        c.f64("trials_per_s", false, s().map(|s| Some(s.trials_per_s)));
        RecordBatch::try_new(Arc::new(Schema::new(c.fields)), c.arrays)
    }
}
