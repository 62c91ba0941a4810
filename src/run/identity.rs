//! What must be equal for tallies to be merged or a run resumed ([`Identity`]), and the run
//! file that records it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{CHUNK_TRIALS, Shard};
use crate::model::precision::Precision;
use crate::store::OutputError;
use crate::store::atomic;
use crate::store::keys;
use crate::store::layout::RUN_FILE;
use crate::store::run_file::{self, file_digest};
use crate::sweep::Sweep;

/// What must be equal for tallies to be merged, or a run to be resumed.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// coordsim's version: models may change between versions.
    pub version: String,
    /// The sweep file's text.
    pub sweep: String,
    /// Where the sweep came from.
    pub origin: String,
    /// What the sweep's files held when it was read ([`Sweep::inputs`]).
    pub inputs: String,
    /// The seed actually used.
    pub seed: u64,
    /// Trials per cell actually used (the cap of an adaptive run).
    pub trials: u64,
    /// The precision targets actually used.
    pub precision: Precision,
    /// Trials per work item.
    pub chunk_trials: u64,
    /// The share of the work items.
    pub shard: Shard,
}

impl Identity {
    /// The identity of running `sweep` as `shard`.
    pub fn of(sweep: &Sweep, shard: Shard) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            sweep: sweep.text.clone(),
            origin: sweep.origin.clone(),
            inputs: sweep.inputs(),
            seed: sweep.seed,
            trials: sweep.trials,
            precision: sweep.precision,
            chunk_trials: CHUNK_TRIALS,
            shard,
        }
    }

    /// As key-value metadata; the precision targets only when set.
    pub fn metadata(&self) -> Vec<(String, String)> {
        [
            (keys::VERSION, self.version.clone()),
            (keys::SWEEP, self.sweep.clone()),
            (keys::SWEEP_ORIGIN, self.origin.clone()),
            (keys::INPUTS, self.inputs.clone()),
            (keys::SEED, self.seed.to_string()),
            (keys::TRIALS_PER_CELL, self.trials.to_string()),
            (keys::CHUNK_TRIALS, self.chunk_trials.to_string()),
            (keys::SHARD, self.shard.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(keys::precision_metadata(&self.precision))
        .collect()
    }

    /// From key-value metadata written by [`Identity::metadata`].
    pub fn from_metadata(map: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| {
            map.get(key)
                .cloned()
                .ok_or_else(|| format!("no `{key}` in its metadata"))
        };
        let number = |key: &str| -> Result<u64, String> {
            get(key)?
                .parse()
                .map_err(|_| format!("bad `{key}` in its metadata"))
        };
        let target = |key: &str| -> Result<Option<f64>, String> {
            map.get(key)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("bad `{key}` in its metadata"))
                })
                .transpose()
        };
        Ok(Self {
            version: get(keys::VERSION)?,
            sweep: get(keys::SWEEP)?,
            origin: get(keys::SWEEP_ORIGIN)?,
            inputs: get(keys::INPUTS)?,
            seed: number(keys::SEED)?,
            trials: number(keys::TRIALS_PER_CELL)?,
            precision: Precision {
                success: target(keys::PRECISION)?,
                p99: target(keys::P99_PRECISION)?,
            },
            chunk_trials: number(keys::CHUNK_TRIALS)?,
            shard: get(keys::SHARD)?
                .parse()
                .map_err(|_| format!("bad `{}` in its metadata", keys::SHARD))?,
        })
    }

    /// How `other` differs from this identity, in words ("seed 7 (not 2024)"), ignoring the
    /// shard index.
    pub fn difference(&self, other: &Identity) -> Option<String> {
        let differ = |what: &str, theirs: &dyn std::fmt::Display, ours: &dyn std::fmt::Display| {
            Some(format!("{what} {theirs} (not {ours})"))
        };
        if self.version != other.version {
            return differ("coordsim version", &other.version, &self.version);
        }
        if self.sweep != other.sweep {
            return Some("another sweep file".to_string());
        }
        if self.inputs != other.inputs {
            let changed: Vec<&str> = other
                .inputs
                .split(',')
                .filter(|entry| !self.inputs.split(',').any(|e| e == *entry))
                .filter_map(|entry| entry.split_once('=').map(|(name, _)| name))
                .collect();
            return Some(format!(
                "other contents of the files the sweep reads (latency model {})",
                changed.join(", ")
            ));
        }
        if self.seed != other.seed {
            return differ("seed", &other.seed, &self.seed);
        }
        if self.trials != other.trials {
            return differ("trials", &other.trials, &self.trials);
        }
        let target = |x: Option<f64>| x.map_or_else(|| "none".to_string(), |x| x.to_string());
        if self.precision.success != other.precision.success {
            return differ(
                "precision",
                &target(other.precision.success),
                &target(self.precision.success),
            );
        }
        if self.precision.p99 != other.precision.p99 {
            return differ(
                "p99_precision",
                &target(other.precision.p99),
                &target(self.precision.p99),
            );
        }
        if self.chunk_trials != other.chunk_trials {
            return differ("chunk size", &other.chunk_trials, &self.chunk_trials);
        }
        if self.shard.count != other.shard.count {
            return differ("shard count", &other.shard.count, &self.shard.count);
        }
        None
    }

    /// The text of a run file ([`RUN_FILE`]): this identity, when the run started and, once
    /// it is complete, when it finished and the digests of its files.
    fn to_toml(&self, started: &str, finished: Option<&str>, files: Option<&str>) -> String {
        run_file::text(self.metadata(), started, finished, files)
    }
}

/// How a run ended, as its run file says once it is complete: when, and the digest of each
/// file it wrote ([`file_digest`]), so that `verify` checks their bytes.
pub(super) struct Completion<'a> {
    pub(super) finished: &'a str,
    pub(super) files: &'a [PathBuf],
}

/// Writes the run file of a run of `identity` started at `started` (and, when complete, how
/// it ended) into `dir`.
pub(super) fn write_run_file(
    dir: &Path,
    identity: &Identity,
    started: &str,
    completion: Option<Completion<'_>>,
) -> Result<(), OutputError> {
    let run_file = dir.join(RUN_FILE);
    let (finished, files) = match completion {
        Some(c) => {
            let mut digests = Vec::with_capacity(c.files.len());
            for path in c.files {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                digests.push(format!("{name}={}", file_digest(path)?));
            }
            (Some(c.finished), Some(digests.join(",")))
        }
        None => (None, None),
    };
    let text = identity.to_toml(started, finished, files.as_deref());
    atomic::write_bytes(&run_file, text.as_bytes()).map(drop)
}
