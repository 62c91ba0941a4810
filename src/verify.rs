//! `coordsim verify`: is a result directory whole and unaltered?
//!
//! For a run directory: the files are all there; each Parquet file's rows match the row count
//! and checksum in its metadata; the summary has the documented columns and one row per cell;
//! every cell ran the sweep's trials (in an adaptive run: at most the cap, and all of it
//! unless the cell met its success-rate target); every cell's message histogram counts every
//! trial. For a shard's directory: the same for
//! its part. For a folder of part directories: every part checks out and together they are
//! one complete set of shards of one run.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

use crate::output::integrity::{CHECKSUM, Checksum, ROWS};
use crate::run::{Identity, PART_FILE, RUN_FILE, SUMMARY_FILE};

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

fn failed(path: &Path, message: impl std::fmt::Display) -> VerifyError {
    VerifyError::Failed(format!("{}: {message}", path.display()))
}

/// A Parquet file read whole, its checksum checked against its metadata.
struct Checked {
    batches: Vec<RecordBatch>,
    metadata: BTreeMap<String, String>,
}

fn read_checked(path: &Path) -> Result<Checked, VerifyError> {
    let file =
        File::open(path).map_err(|e| failed(path, format!("missing or unreadable ({e})")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(path, e))?;
    let metadata: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let mut checksum = Checksum::default();
    let mut batches = Vec::new();
    for batch in builder.build().map_err(|e| failed(path, e))? {
        let batch = batch.map_err(|e| failed(path, e))?;
        checksum.update(&batch).map_err(|e| failed(path, e))?;
        batches.push(batch);
    }
    let rows = metadata
        .get(ROWS)
        .ok_or_else(|| failed(path, "no row count in its metadata"))?;
    if rows != &checksum.rows().to_string() {
        return Err(failed(
            path,
            format!("{} rows, but its metadata says {rows}", checksum.rows()),
        ));
    }
    let sum = metadata
        .get(CHECKSUM)
        .ok_or_else(|| failed(path, "no checksum in its metadata"))?;
    if sum != &checksum.hex() {
        return Err(failed(
            path,
            format!(
                "checksum {} does not match {sum} in its metadata",
                checksum.hex()
            ),
        ));
    }
    Ok(Checked { batches, metadata })
}

fn u64s(batches: &[RecordBatch], column: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column)?;
        match c.data_type() {
            DataType::UInt64 => out.extend(c.as_primitive::<UInt64Type>().values().iter().copied()),
            DataType::UInt32 => out.extend(
                c.as_primitive::<UInt32Type>()
                    .values()
                    .iter()
                    .map(|&v| u64::from(v)),
            ),
            _ => return None,
        }
    }
    Some(out)
}

/// The columns every summary has, with their types.
const SUMMARY_COLUMNS: &[(&str, &str)] = &[
    ("cell_id", "UInt32"),
    ("nodes", "UInt32"),
    ("crash", "Float64"),
    ("loss", "Float64"),
    ("trials", "UInt64"),
    ("successes", "UInt64"),
    ("failures", "UInt64"),
    ("blocked", "UInt64"),
    ("success_rate", "Float64"),
    ("success_ci95_low", "Float64"),
    ("success_ci95_high", "Float64"),
    ("precision_met", "Boolean"),
    ("latency_ms_p99", "Float64"),
    ("messages_mean", "Float64"),
    ("elapsed_s", "Float64"),
];

fn verify_run(dir: &Path) -> Result<Vec<String>, VerifyError> {
    for file in ["histograms.parquet", "sweep.toml", RUN_FILE] {
        if !dir.join(file).is_file() {
            return Err(failed(&dir.join(file), "missing"));
        }
    }
    let summary_path = dir.join(SUMMARY_FILE);
    let summary = read_checked(&summary_path)?;
    let schema = summary.batches.first().map(|b| b.schema());
    if let Some(schema) = &schema {
        for (name, kind) in SUMMARY_COLUMNS {
            match schema.field_with_name(name) {
                Ok(f) if format!("{:?}", f.data_type()) == *kind => {}
                Ok(f) => {
                    return Err(failed(
                        &summary_path,
                        format!("column {name} is {:?}, not {kind}", f.data_type()),
                    ));
                }
                Err(_) => return Err(failed(&summary_path, format!("no column {name}"))),
            }
        }
    }
    let cells: usize = summary.batches.iter().map(|b| b.num_rows()).sum();
    let declared = summary
        .metadata
        .get("coordsim.cells")
        .and_then(|c| c.parse::<usize>().ok());
    if declared != Some(cells) {
        return Err(failed(
            &summary_path,
            format!("{cells} rows for {declared:?} cells"),
        ));
    }
    let ids = u64s(&summary.batches, "cell_id").unwrap_or_default();
    if ids.iter().enumerate().any(|(i, &id)| id != i as u64) {
        return Err(failed(&summary_path, "cell ids are not 0, 1, 2, ..."));
    }
    let trials = u64s(&summary.batches, "trials").unwrap_or_default();
    check_trials(&summary_path, &summary, &trials)?;

    let histograms_path = dir.join("histograms.parquet");
    let histograms = read_checked(&histograms_path)?;
    let mut counted: HashMap<u64, u64> = HashMap::new();
    for b in &histograms.batches {
        let (Some(cell), Some(metric), Some(count)) = (
            b.column_by_name("cell_id"),
            b.column_by_name("metric"),
            b.column_by_name("count"),
        ) else {
            return Err(failed(&histograms_path, "missing cell_id, metric or count"));
        };
        let cell = cell.as_primitive::<UInt32Type>();
        let metric = metric.as_dictionary::<Int32Type>();
        let names = metric.values().as_string::<i32>();
        let count = count.as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            if names.value(metric.keys().value(i) as usize) == "messages" {
                *counted.entry(cell.value(i).into()).or_default() += count.value(i);
            }
        }
    }
    for (id, t) in trials.iter().enumerate() {
        let seen = counted.get(&(id as u64)).copied().unwrap_or(0);
        if seen != *t {
            return Err(failed(
                &histograms_path,
                format!("cell {id}: the message histogram counts {seen} trials, not {t}"),
            ));
        }
    }
    if summary.metadata.get("coordsim.sweep") != histograms.metadata.get("coordsim.sweep") {
        return Err(failed(
            dir,
            "summary and histograms come from different sweeps",
        ));
    }
    Ok(vec![format!(
        "ok: {}: summary.parquet ({cells} cells) and histograms.parquet match their checksums; every cell's histograms count all its trials",
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
    let cap = number("coordsim.trials_per_cell")?
        .ok_or_else(|| failed(path, "no `coordsim.trials_per_cell` in its metadata"))?
        as u64;
    let success = number("coordsim.precision")?;
    let adaptive = success.is_some() || number("coordsim.p99_precision")?.is_some();
    let column = |name: &str| -> Vec<Option<f64>> {
        summary
            .batches
            .iter()
            .filter_map(|b| b.column_by_name(name))
            .flat_map(|c| {
                let c = c.as_primitive::<Float64Type>();
                (0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i)))
            })
            .collect()
    };
    let met: Vec<Option<bool>> = summary
        .batches
        .iter()
        .filter_map(|b| b.column_by_name("precision_met"))
        .flat_map(|c| {
            let c = c.as_boolean();
            (0..c.len()).map(|i| (!c.is_null(i)).then(|| c.value(i)))
        })
        .collect();
    let (low, high) = (column("success_ci95_low"), column("success_ci95_high"));
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

fn verify_part(path: &Path) -> Result<(Identity, u64), VerifyError> {
    let part = read_checked(path)?;
    let identity = Identity::from_metadata(&part.metadata).map_err(|e| failed(path, e))?;
    let chunks: u64 = u64s(&part.batches, "chunks")
        .unwrap_or_default()
        .iter()
        .sum();
    Ok((identity, chunks))
}

fn verify_parts(dir: &Path, parts: &[PathBuf]) -> Result<Vec<String>, VerifyError> {
    let mut lines = Vec::new();
    let mut shards: BTreeMap<u64, (Identity, PathBuf)> = BTreeMap::new();
    let mut chunks = 0;
    for part in parts {
        let (identity, c) = verify_part(part)?;
        chunks += c;
        if let Some((first, first_path)) = shards.values().next()
            && let Some(d) = first.difference(&identity)
        {
            return Err(failed(
                part,
                format!("does not belong with {}: {d}", first_path.display()),
            ));
        }
        if let Some((_, other)) =
            shards.insert(identity.shard.index, (identity.clone(), part.clone()))
        {
            return Err(failed(
                part,
                format!("repeats shard {} of {}", identity.shard, other.display()),
            ));
        }
        lines.push(format!(
            "ok: {}: shard {}, checksum matches",
            part.display(),
            identity.shard
        ));
    }
    let (identity, _) = shards.values().next().expect("at least one part");
    let count = identity.shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|k| !shards.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(failed(
            dir,
            format!("missing shard(s) {}", missing.join(", ")),
        ));
    }
    let sweep = crate::sweep::Sweep::parse(&identity.sweep, &identity.origin)
        .map_err(|e| failed(dir, format!("the parts' sweep no longer parses: {e}")))?
        .with_trials(identity.trials);
    let expected = crate::engine::layout(&sweep).items();
    if chunks != expected {
        return Err(failed(
            dir,
            format!("the parts hold {chunks} of the sweep's {expected} work items"),
        ));
    }
    lines.push(format!(
        "ok: {}: {count} of {count} shards, all {expected} work items",
        dir.display()
    ));
    Ok(lines)
}

/// Verifies the result directory `dir`; returns one line per check that passed.
pub fn verify(dir: &Path) -> Result<Vec<String>, VerifyError> {
    if dir.join(SUMMARY_FILE).exists() {
        return verify_run(dir);
    }
    if dir.join(PART_FILE).exists() {
        return verify_parts(dir, &[dir.join(PART_FILE)])
            .map(|mut lines| {
                lines.truncate(1);
                lines
            })
            .or_else(|e| match e {
                // A single part is not a complete set; only its own checks apply.
                VerifyError::Failed(m)
                    if m.contains("missing shard") || m.contains("work items") =>
                {
                    let (identity, _) = verify_part(&dir.join(PART_FILE))?;
                    Ok(vec![format!(
                        "ok: {}: shard {}, checksum matches",
                        dir.join(PART_FILE).display(),
                        identity.shard
                    )])
                }
                other => Err(other),
            });
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| VerifyError::NotAResult(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path().join(PART_FILE))
        .filter(|p| p.is_file())
        .collect();
    parts.sort();
    if parts.is_empty() {
        let hint = if dir.join(crate::run::CHECKPOINTS).is_dir() {
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
