//! `coordsim verify`: is a result directory whole and unaltered?
//!
//! For a run directory: the files are all there; each Parquet file's rows match the row count
//! and checksum in its metadata; both files have their documented schemas (the summary's
//! exactly as the sweep in its metadata gives it); the summary has one row per cell; every
//! cell ran the sweep's trials (in an adaptive run: at most the cap, and all of it unless the
//! cell met its success-rate target); every cell's histograms count its trials (latency: its
//! successes); the metadata of both files agrees with `coordsim-run.toml` (version, sweep,
//! seed, trials, precision targets); `sweep.toml` is the sweep as run. For a shard's
//! directory: its part is intact and holds its shard's work items. For a folder of part
//! directories: every part checks out and together they are what `coordsim merge` needs, one
//! complete set of shards of one run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

use crate::model::precision::Precision;
use crate::run::RunError;
use crate::store::integrity::Checksum;
use crate::store::keys;
use crate::store::layout::{CHECKPOINTS, HISTOGRAMS, PART_FILE, RUN_FILE, SUMMARY};
use crate::store::{Histograms, Results, RunInfo, SummaryFile, sweep_copy_text};
use crate::sweep::Sweep;

/// Why a directory did not verify.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// Not a result directory at all (exit code 2).
    #[error("{0}")]
    NotAResult(String),
    /// A check failed (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl VerifyError {
    /// The process exit code: 2 for what is not a result directory, 1 for a failed check.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotAResult(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

fn failed(path: &Path, message: impl std::fmt::Display) -> VerifyError {
    VerifyError::Failed(format!("{}: {message}", path.display()))
}

/// A Parquet file read whole, its checksum checked against its metadata.
struct Checked {
    schema: arrow_schema::SchemaRef,
    batches: Vec<RecordBatch>,
    metadata: BTreeMap<String, String>,
}

fn read_checked(path: &Path) -> Result<Checked, VerifyError> {
    crate::store::guard::unpanicked(|| read_checked_unguarded(path), |e| failed(path, e))
}

fn read_checked_unguarded(path: &Path) -> Result<Checked, VerifyError> {
    let file = crate::store::guard::open_regular(path)
        .map_err(|e| failed(path, format!("missing or unreadable ({e})")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(path, e))?;
    let metadata = crate::store::tallies::metadata_of(&builder);
    let schema = builder.schema().clone();
    let mut checksum = Checksum::default();
    let mut batches = Vec::new();
    for batch in builder.build().map_err(|e| failed(path, e))? {
        let batch = batch.map_err(|e| failed(path, e))?;
        checksum.update(&batch).map_err(|e| failed(path, e))?;
        batches.push(batch);
    }
    checksum.check(&metadata).map_err(|e| failed(path, e))?;
    Ok(Checked {
        schema,
        batches,
        metadata,
    })
}

/// The values of an unsigned integer column, or `None` if it is missing or of another type.
fn u64s(batches: &[RecordBatch], column: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column)?;
        if let Some(a) = c.as_primitive_opt::<UInt64Type>() {
            out.extend(a.values().iter().copied());
        } else if let Some(a) = c.as_primitive_opt::<UInt32Type>() {
            out.extend(a.values().iter().map(|&v| u64::from(v)));
        } else {
            return None;
        }
    }
    Some(out)
}

/// The values of a Float64 column, nulls as `None`; empty if it is missing or of another type
/// (the schema check comes first).
fn f64s(batches: &[RecordBatch], column: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .filter_map(|b| b.column_by_name(column)?.as_primitive_opt::<Float64Type>())
        .flat_map(|c| (0..c.len()).map(move |i| (!c.is_null(i)).then(|| c.value(i))))
        .collect()
}

/// Fails unless `actual` has exactly the columns of `expected`, in order, of the same types.
fn check_schema(
    path: &Path,
    actual: &arrow_schema::Schema,
    expected: &arrow_schema::Schema,
) -> Result<(), VerifyError> {
    for (i, want) in expected.fields().iter().enumerate() {
        match actual.fields().get(i) {
            Some(have) if have.name() == want.name() && have.data_type() == want.data_type() => {}
            Some(have) => {
                return Err(failed(
                    path,
                    format!(
                        "column {i} is `{}` of type {}, not `{}` of type {}",
                        have.name(),
                        have.data_type(),
                        want.name(),
                        want.data_type()
                    ),
                ));
            }
            None => {
                return Err(failed(
                    path,
                    format!(
                        "no column `{}` ({} columns, not {})",
                        want.name(),
                        actual.fields().len(),
                        expected.fields().len()
                    ),
                ));
            }
        }
    }
    if actual.fields().len() > expected.fields().len() {
        return Err(failed(
            path,
            format!(
                "an unexpected column `{}` ({} columns, not {})",
                actual.field(expected.fields().len()).name(),
                actual.fields().len(),
                expected.fields().len()
            ),
        ));
    }
    Ok(())
}

/// The summary's schema for `sweep`: the columns its summary has.
fn summary_schema(sweep: &Sweep) -> Result<arrow_schema::SchemaRef, String> {
    let info = RunInfo::default();
    SummaryFile::batch(
        &Results {
            sweep,
            cells: &[],
            info: &info,
        },
        &crate::store::Baselines::default(),
    )
    .map(|b| b.schema())
    .map_err(|e| e.to_string())
}

/// A sweep of one protocol without parameters or counts of its own: its summary has just the
/// columns every summary has.
const PLAIN_SWEEP: &str = "name = \"plain\"\nseed = 0\ntrials = 1\n[grid]\n\
    protocol = \"fire-and-forget\"\nnodes = 1\nlatency = \"l\"\n\
    [latency.l]\nkind = \"constant\"\nms = 1\n";

/// Checks the summary's schema against the sweep in its metadata: exactly, when that sweep
/// still parses here; otherwise (an empirical latency file it names is not where it was) the
/// columns every summary has, each of its type, and only parameter or count columns besides.
fn check_summary_schema(path: &Path, summary: &Checked) -> Result<(), VerifyError> {
    let text = summary
        .metadata
        .get(keys::SWEEP)
        .ok_or_else(|| failed(path, "no `coordsim.sweep` in its metadata"))?;
    let origin = summary
        .metadata
        .get(keys::SWEEP_ORIGIN)
        .map_or("sweep", String::as_str);
    if let Ok(sweep) = Sweep::parse(text, origin) {
        let expected = summary_schema(&sweep).map_err(|e| failed(path, e))?;
        return check_schema(path, &summary.schema, &expected);
    }
    let plain = Sweep::parse(PLAIN_SWEEP, "plain.toml").expect("the plain sweep parses");
    let fixed = summary_schema(&plain).map_err(|e| failed(path, e))?;
    for want in fixed.fields() {
        match summary.schema.field_with_name(want.name()) {
            Ok(have) if have.data_type() == want.data_type() => {}
            Ok(have) => {
                return Err(failed(
                    path,
                    format!(
                        "column `{}` is of type {}, not {}",
                        want.name(),
                        have.data_type(),
                        want.data_type()
                    ),
                ));
            }
            Err(_) => return Err(failed(path, format!("no column `{}`", want.name()))),
        }
    }
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    for have in summary.schema.fields() {
        let allowed = fixed.field_with_name(have.name()).is_ok()
            || matches!(have.data_type(), DataType::UInt32 | DataType::Float64)
            || have.data_type() == &dictionary;
        if !allowed {
            return Err(failed(
                path,
                format!(
                    "column `{}` is of type {}: no parameter or count column is",
                    have.name(),
                    have.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// The metadata keys a run directory's Parquet files share with its `coordsim-run.toml`.
const RUN_KEYS: [&str; 7] = [
    keys::VERSION,
    keys::SWEEP,
    keys::SWEEP_ORIGIN,
    keys::SEED,
    keys::TRIALS_PER_CELL,
    keys::PRECISION,
    keys::P99_PRECISION,
];

/// Fails unless the file's metadata agrees with the run file on [`RUN_KEYS`].
fn check_metadata(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    run: &BTreeMap<String, String>,
) -> Result<(), VerifyError> {
    for key in RUN_KEYS {
        let short = |v: &String| {
            if v.contains('\n') || v.len() > 60 {
                "another text".to_string()
            } else {
                format!("`{v}`")
            }
        };
        match (metadata.get(key), run.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => {}
            (Some(a), Some(b)) if key == keys::SWEEP => {
                let _ = (a, b);
                return Err(failed(
                    path,
                    format!("its {key} is not the sweep in {RUN_FILE}"),
                ));
            }
            (Some(a), Some(b)) => {
                return Err(failed(
                    path,
                    format!(
                        "its {key} is {}, but {RUN_FILE} says {}",
                        short(a),
                        short(b)
                    ),
                ));
            }
            (Some(a), None) => {
                return Err(failed(
                    path,
                    format!("its {key} is {}, but {RUN_FILE} has none", short(a)),
                ));
            }
            (None, Some(b)) => {
                return Err(failed(
                    path,
                    format!("no {key} in its metadata, but {RUN_FILE} says {}", short(b)),
                ));
            }
        }
    }
    Ok(())
}

/// Fails unless `sweep.toml` is what a run with the summary's metadata writes.
fn check_sweep_copy(dir: &Path, metadata: &BTreeMap<String, String>) -> Result<(), VerifyError> {
    let path = dir.join("sweep.toml");
    let get = |key: &str| {
        metadata
            .get(key)
            .ok_or_else(|| failed(&dir.join(SUMMARY), format!("no `{key}` in its metadata")))
    };
    let number = |key: &str| -> Result<u64, VerifyError> {
        get(key)?
            .parse()
            .map_err(|_| failed(&dir.join(SUMMARY), format!("bad `{key}` in its metadata")))
    };
    let target = |key: &str| metadata.get(key).and_then(|v| v.parse::<f64>().ok());
    let expected = sweep_copy_text(
        get(keys::VERSION)?,
        get(keys::SWEEP_ORIGIN)?,
        number(keys::SEED)?,
        number(keys::TRIALS_PER_CELL)?,
        &Precision {
            success: target(keys::PRECISION),
            p99: target(keys::P99_PRECISION),
        },
        get(keys::SWEEP)?,
    );
    let text = std::fs::read_to_string(&path).map_err(|e| failed(&path, e))?;
    if text != expected {
        let line = text
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| text.lines().count().min(expected.lines().count()))
            + 1;
        return Err(failed(
            &path,
            format!(
                "line {line} differs from the sweep as run (the metadata's coordsim.sweep with its seed, trials and targets)"
            ),
        ));
    }
    Ok(())
}

fn verify_run(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let run_path = dir.join(RUN_FILE);
    if !run_path.is_file() {
        return Err(failed(&run_path, "missing"));
    }
    let run = crate::store::run_file::read_entries(&run_path)
        .map_err(|e| VerifyError::Failed(e.to_string()))?;
    if !run.contains_key(keys::FINISHED_UTC) {
        return Err(failed(
            &run_path,
            "the run did not finish (no finished_utc): --resume it",
        ));
    }
    for file in ["histograms.parquet", "sweep.toml"] {
        if !dir.join(file).is_file() {
            return Err(failed(&dir.join(file), "missing"));
        }
    }

    match run.get(keys::SHARD).map(String::as_str) {
        Some("0/1") => {}
        other => {
            return Err(failed(
                &run_path,
                format!("shard {other:?}: not the run file of a whole run"),
            ));
        }
    }
    let summary_path = dir.join(SUMMARY);
    let summary = read_checked(&summary_path)?;
    let histograms_path = dir.join("histograms.parquet");
    let histograms = read_checked(&histograms_path)?;
    check_summary_schema(&summary_path, &summary)?;
    check_schema(&histograms_path, &histograms.schema, &Histograms::schema())?;

    let cells: usize = summary.batches.iter().map(|b| b.num_rows()).sum();
    let declared = summary
        .metadata
        .get(keys::CELLS)
        .and_then(|c| c.parse::<usize>().ok());
    if declared != Some(cells) {
        return Err(failed(
            &summary_path,
            format!("{cells} rows for {declared:?} cells"),
        ));
    }
    let ids = u64s(&summary.batches, "cell_id").unwrap_or_default();
    if ids.len() != cells || ids.iter().enumerate().any(|(i, &id)| id != i as u64) {
        return Err(failed(&summary_path, "cell ids are not 0, 1, 2, ..."));
    }
    let trials = u64s(&summary.batches, "trials").unwrap_or_default();
    let successes = u64s(&summary.batches, "successes").unwrap_or_default();
    check_trials(&summary_path, &summary, &trials)?;

    // Every bucket's count, by cell and metric.
    const METRICS: [&str; 3] = ["latency_ms", "messages", "rounds"];
    let mut counted: HashMap<(u64, usize), u64> = HashMap::new();
    for b in &histograms.batches {
        let (Some(cell), Some(metric), Some(count)) = (
            b.column_by_name("cell_id")
                .and_then(|c| c.as_primitive_opt::<UInt32Type>()),
            b.column_by_name("metric")
                .and_then(|c| c.as_dictionary_opt::<Int32Type>()),
            b.column_by_name("count")
                .and_then(|c| c.as_primitive_opt::<UInt64Type>()),
        ) else {
            return Err(failed(
                &histograms_path,
                "bad cell_id, metric or count column",
            ));
        };
        let Some(names) = metric.values().as_string_opt::<i32>() else {
            return Err(failed(&histograms_path, "metric names are not strings"));
        };
        for i in 0..b.num_rows() {
            let name = names.value(metric.keys().value(i) as usize);
            let Some(m) = METRICS.iter().position(|&x| x == name) else {
                return Err(failed(&histograms_path, format!("unknown metric `{name}`")));
            };
            let id = u64::from(cell.value(i));
            if id >= cells as u64 {
                return Err(failed(
                    &histograms_path,
                    format!("cell {id} is not in the summary"),
                ));
            }
            let total = counted.entry((id, m)).or_default();
            *total = total.saturating_add(count.value(i));
        }
    }
    for (id, (&t, &s)) in trials.iter().zip(&successes).enumerate() {
        for (m, metric) in METRICS.iter().enumerate() {
            let (want, what) = if m == 0 {
                (s, "successes")
            } else {
                (t, "trials")
            };
            let seen = counted.get(&(id as u64, m)).copied().unwrap_or(0);
            if seen != want {
                return Err(failed(
                    &histograms_path,
                    format!(
                        "cell {id}: the {metric} histogram counts {seen}, but the cell has {want} {what}"
                    ),
                ));
            }
        }
    }
    check_metadata(&summary_path, &summary.metadata, &run)?;
    check_metadata(&histograms_path, &histograms.metadata, &run)?;
    check_sweep_copy(dir, &summary.metadata)?;
    // Last: the checks above say what is wrong with the values; this catches any other
    // change of a byte (column statistics that a filtered read relies on, page headers).
    let files = run
        .get(keys::FILES)
        .ok_or_else(|| failed(&run_path, "no `files` digests of a complete run"))?;
    crate::store::run_file::check_file_digests(dir, files, &[SUMMARY, HISTOGRAMS, "sweep.toml"])
        .map_err(VerifyError::Failed)?;
    Ok(vec![format!(
        "ok: {}: summary.parquet ({cells} cells) and histograms.parquet match their checksums, \
         schemas and {RUN_FILE}; every cell's histograms count its trials (latency: its \
         successes); sweep.toml is the sweep as run; every file's bytes are those the run wrote",
        dir.display()
    )])
}

/// Every cell ran `coordsim.trials_per_cell` trials; in an adaptive run at most that, and a
/// cell that stopped short met its success-rate target (recomputed from its interval; the p99
/// target needs the histograms and is not rechecked).
fn check_trials(path: &Path, summary: &Checked, trials: &[u64]) -> Result<(), VerifyError> {
    let number = |key: &str| -> Result<Option<f64>, VerifyError> {
        summary
            .metadata
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| failed(path, format!("bad `{key}` in its metadata")))
            })
            .transpose()
    };
    let cap = number(keys::TRIALS_PER_CELL)?
        .ok_or_else(|| failed(path, "no `coordsim.trials_per_cell` in its metadata"))?
        as u64;
    let success = number(keys::PRECISION)?;
    let adaptive = success.is_some() || number(keys::P99_PRECISION)?.is_some();
    let met: Vec<Option<bool>> = summary
        .batches
        .iter()
        .filter_map(|b| b.column_by_name("precision_met")?.as_boolean_opt())
        .flat_map(|c| (0..c.len()).map(move |i| (!c.is_null(i)).then(|| c.value(i))))
        .collect();
    let (low, high) = (
        f64s(&summary.batches, "success_ci95_low"),
        f64s(&summary.batches, "success_ci95_high"),
    );
    for (id, &t) in trials.iter().enumerate() {
        let met = met.get(id).copied().flatten();
        if !adaptive {
            if t != cap {
                return Err(failed(path, format!("cell {id}: {t} trials, not {cap}")));
            }
            if met.is_some() {
                return Err(failed(
                    path,
                    format!("cell {id}: precision_met in a run without precision targets"),
                ));
            }
            continue;
        }
        if t > cap {
            return Err(failed(
                path,
                format!("cell {id}: {t} trials, more than the cap of {cap}"),
            ));
        }
        match met {
            None => {
                return Err(failed(
                    path,
                    format!("cell {id}: no precision_met in an adaptive run"),
                ));
            }
            Some(false) if t != cap => {
                return Err(failed(
                    path,
                    format!(
                        "cell {id}: stopped at {t} trials without meeting its targets (cap {cap})"
                    ),
                ));
            }
            Some(true) => {
                if let (Some(target), Some(Some(lo)), Some(Some(hi))) =
                    (success, low.get(id), high.get(id))
                    && (hi - lo) / 2.0 > target
                {
                    return Err(failed(
                        path,
                        format!(
                            "cell {id}: precision_met, but its interval is +/- {} (target {target})",
                            (hi - lo) / 2.0
                        ),
                    ));
                }
            }
            Some(false) => {}
        }
    }
    Ok(())
}

fn mismatch(path: &Path) -> impl Fn(RunError) -> VerifyError + '_ {
    move |e| match e {
        e if e.exit_code() == 2 => failed(path, e.to_string()),
        other => VerifyError::Failed(other.to_string()),
    }
}

fn verify_parts(dir: &Path, parts: &[PathBuf]) -> Result<Vec<String>, VerifyError> {
    let mut lines = Vec::new();
    for part in parts {
        let identity = crate::run::check_part(part).map_err(mismatch(part))?;
        lines.push(format!(
            "ok: {}: shard {}, checksum matches, all of its work items",
            part.display(),
            identity.shard
        ));
    }
    // What merge needs: one run, every shard once, every cell whole.
    let whole = crate::run::read_parts(parts).map_err(mismatch(dir))?;
    let cells = whole
        .rows
        .cells(&whole.sweep, |_| Ok(()))
        .map_err(mismatch(dir))?;
    lines.push(format!(
        "ok: {}: {count} of {count} shards, all {cells} cells whole",
        dir.display(),
        count = parts.len(),
    ));
    Ok(lines)
}

/// Verifies the result directory `dir`; returns one line per check that passed.
pub fn verify(dir: &Path) -> Result<Vec<String>, VerifyError> {
    if dir.join(SUMMARY).exists() {
        return verify_run(dir);
    }
    let part = dir.join(PART_FILE);
    if part.exists() {
        // A single part is not a complete set; only its own checks apply.
        let identity = crate::run::check_part(&part).map_err(mismatch(&part))?;
        return Ok(vec![format!(
            "ok: {}: shard {}, checksum matches, all of its work items",
            part.display(),
            identity.shard
        )]);
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| VerifyError::NotAResult(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path().join(PART_FILE))
        .filter(|p| p.is_file())
        .collect();
    parts.sort();
    if parts.is_empty() {
        let hint = if dir.join(CHECKPOINTS).is_dir() {
            " (an unfinished run: --resume it)"
        } else {
            ""
        };
        return Err(VerifyError::NotAResult(format!(
            "{}: no summary.parquet, part.parquet or part directories{hint}",
            dir.display()
        )));
    }
    verify_parts(dir, &parts)
}
