//! The parts of a sharded run: checking them, and merging them into the files of a whole
//! run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{self, CellRun, ItemSet, Shard};
use crate::model::precision::Checks;
use crate::model::tally::Tally;
use crate::store::keys;
use crate::store::layout::{CHECKPOINTS, PART_FILE, RUN_FILE};
use crate::store::run_file::{check_file_digests, read_entries};
use crate::store::{CellRecord, ResultsWriter, RunDir, RunInfo};
use crate::sweep::Sweep;

use super::identity::{Completion, write_run_file};
use super::lock::RunLock;
use super::{Identity, RunError, Verdicts};

/// What [`merge`] produced.
#[derive(Debug)]
pub struct Merged {
    /// The sweep the parts ran.
    pub sweep: Sweep,
    /// How many cells were merged.
    pub cells: u64,
    /// The cells' summaries, in order, when there are at most
    /// [`crate::store::SHOWN_CELLS`] (empty otherwise).
    pub records: Vec<CellRecord>,
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The verdicts of the cells' objectives.
    pub verdicts: Verdicts,
}

/// The part file of `path`, a part directory or the file itself. In a part directory, the run
/// file must say the shard finished.
pub(super) fn part_file(path: &Path) -> Result<PathBuf, RunError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let file = path.join(PART_FILE);
    let run_path = path.join(RUN_FILE);
    let run = if run_path.exists() {
        Some(read_entries(&run_path)?)
    } else {
        None
    };
    let finished = run
        .as_ref()
        .is_some_and(|r| r.contains_key(keys::FINISHED_UTC));
    if file.is_file() && (run.is_none() || finished) {
        return Ok(file);
    }
    if path.join(CHECKPOINTS).is_dir() || run.is_some() {
        return Err(RunError::Unfinished {
            path: path.to_path_buf(),
        });
    }
    Err(RunError::NotAPart {
        path: path.to_path_buf(),
    })
}

/// Checks one part on its own: its rows match the row count and checksum in its metadata,
/// every histogram decodes, and it holds each of its shard's cells once, with exactly the
/// shard's work items of that cell. Returns the part's identity.
pub fn check_part(file: &Path) -> Result<Identity, RunError> {
    let mismatch = |e: &dyn std::fmt::Display| RunError::unusable(file, e);
    let dir = file.parent().filter(|d| d.join(RUN_FILE).is_file());
    if let Some(dir) = dir {
        part_file(dir)?;
    }
    let reader = crate::store::tallies::TallyReader::open(file)?;
    let identity = Identity::from_metadata(&reader.metadata).map_err(|e| mismatch(&e))?;
    let sweep = Sweep::parse(&identity.sweep, &identity.origin)
        .map_err(|e| mismatch(&format!("its sweep no longer parses: {e}")))?
        .with_trials(identity.trials);
    let layout = engine::layout(&sweep);
    let shard = identity.shard;
    let block = layout.shard_items(shard);
    let mut expected = ItemSet::new();
    expected.insert_range(block.start, block.end);
    let items: ItemSet = reader
        .metadata
        .get(keys::ITEMS)
        .ok_or_else(|| mismatch(&"no `coordsim.items` in its metadata"))?
        .parse()
        .map_err(|e| mismatch(&e))?;
    if items != expected {
        return Err(mismatch(&format!(
            "its metadata names work items {items}, but shard {shard} has {expected}"
        )));
    }
    let mut chunks: BTreeMap<u32, u64> = BTreeMap::new();
    for row in reader {
        let (cell, tally) = row?;
        if chunks.insert(cell, tally.chunks).is_some() {
            return Err(mismatch(&format!("cell {cell} appears twice")));
        }
    }
    for cell in layout.shard_cells(shard) {
        let want = layout.cell_items_in(cell, shard);
        let have = chunks.remove(&cell).unwrap_or(0);
        if have != want {
            return Err(mismatch(&format!(
                "cell {cell}: {have} work items, not the shard's {want}"
            )));
        }
    }
    if let Some(cell) = chunks.keys().next() {
        return Err(mismatch(&format!("cell {cell} is not in shard {shard}")));
    }
    // Last, as verify does for a whole run: any other change of a byte.
    check_digest(file)?;
    Ok(identity)
}

/// Checks the part file `file` against the digest its directory's run file records, if it
/// is in a part directory of a complete shard: any change of a byte.
fn check_digest(file: &Path) -> Result<(), RunError> {
    let dir = file.parent().filter(|d| d.join(RUN_FILE).is_file());
    if let Some(dir) = dir
        && let Some(files) = read_entries(&dir.join(RUN_FILE))?.remove(keys::FILES)
    {
        check_file_digests(dir, &files, &[PART_FILE]).map_err(RunError::Altered)?;
    }
    Ok(())
}

/// The parts of a sharded run, checked and reduced to the cells of the whole run.
#[derive(Debug)]
pub struct Parts {
    /// What they ran, as a whole run (shard 0/1).
    pub identity: Identity,
    /// The sweep they ran.
    pub sweep: Sweep,
    /// The earliest start and latest finish of the parts, and their threads together.
    pub info: RunInfo,
    /// The parts' rows, not yet read.
    pub rows: PartRows,
}

/// The rows of the parts of a sharded run, to be read once ([`PartRows::cells`]).
pub struct PartRows {
    readers: Vec<(crate::store::tallies::TallyReader, PathBuf)>,
}

impl std::fmt::Debug for PartRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.readers.iter().map(|(_, file)| file))
            .finish()
    }
}

/// Opens the parts of a sharded run (part directories or their part files): all must come
/// from one run (sweep, seed, trials, version, shard count) and be every shard of it once.
/// [`PartRows::cells`] then reads their rows. This is what [`merge`] writes and `coordsim
/// verify` checks a folder of parts with.
pub fn read_parts(parts: &[PathBuf]) -> Result<Parts, RunError> {
    use crate::store::tallies::TallyReader;

    if parts.is_empty() {
        return Err(RunError::NoParts);
    }
    let mut readers = Vec::with_capacity(parts.len());
    let mut identities: Vec<(Identity, PathBuf)> = Vec::with_capacity(parts.len());
    for part in parts {
        let file = part_file(part)?;
        let reader = TallyReader::open(&file)?;
        let identity =
            Identity::from_metadata(&reader.metadata).map_err(|e| RunError::unusable(&file, e))?;
        if let Some((first, first_file)) = identities.first()
            && let Some(d) = Identity::difference(first, &identity)
        {
            return Err(RunError::ForeignPart {
                part: file.to_path_buf(),
                first: first_file.to_path_buf(),
                difference: d,
            });
        }
        identities.push((identity, file));
        readers.push(reader);
    }
    let count = identities[0].0.shard.count;
    let mut by_index: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for (identity, file) in &identities {
        if let Some(other) = by_index.insert(identity.shard.index, file) {
            return Err(RunError::DuplicateShard {
                first: other.to_path_buf(),
                second: file.to_path_buf(),
                shard: identity.shard,
            });
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Incomplete(format!(
            "missing shard(s) {}",
            missing.join(", ")
        )));
    }

    let identity = Identity {
        shard: Shard::WHOLE,
        ..identities[0].0.clone()
    };
    let sweep = Sweep::parse(&identity.sweep, &identity.origin)
        .map_err(|e| RunError::SweepChanged(e.to_string()))?
        .with_seed(identity.seed)
        .with_trials(identity.trials)
        .with_precision(identity.precision);
    let info = parts_info(&readers);
    let readers = readers
        .into_iter()
        .zip(identities)
        .map(|(reader, (_, file))| (reader, file))
        .collect();
    Ok(Parts {
        identity,
        sweep,
        info,
        rows: PartRows { readers },
    })
}

impl PartRows {
    /// Reads every row of the parts of a run of `sweep`, giving each cell to `on_cell` as soon
    /// as the parts have all of its work items; returns the cells. Each part must match its row
    /// count and checksum, and together they must hold every work item of every cell once.
    /// Rows may come in any cell order; memory holds the cells not yet whole.
    pub fn cells(
        self,
        sweep: &Sweep,
        mut on_cell: impl FnMut(CellRecord) -> Result<(), RunError>,
    ) -> Result<u64, RunError> {
        let layout = engine::layout(sweep);
        let chunks = layout.chunks_per_cell();
        // Cells with some of their work items so far; a cell leaves when it has all of them.
        let mut open: BTreeMap<u32, Tally> = BTreeMap::new();
        let mut complete = vec![false; layout.cells as usize];
        let mut cells = 0;
        for (reader, file) in self.readers {
            // Read to the end: the checksum is checked after the last row.
            for row in reader {
                let (cell, part) = row?;
                if cell >= layout.cells {
                    return Err(RunError::unusable(
                        &file,
                        format!(
                            "cell {cell} is not in the sweep (it has {} cells)",
                            layout.cells
                        ),
                    ));
                }
                let tally = match open.entry(cell) {
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(part),
                    std::collections::btree_map::Entry::Occupied(e) => {
                        let tally = e.into_mut();
                        tally.merge(&part);
                        tally
                    }
                };
                // Shards of one run (checked before) share no work item: the file being read
                // is damaged (its checksum, checked after its last row, would say so too).
                if complete[cell as usize] || tally.chunks > chunks {
                    return Err(RunError::unusable(
                        &file,
                        format!(
                            "cell {cell}: its rows and those read before them hold more than \
                             the cell's {chunks} work items"
                        ),
                    ));
                }
                if tally.chunks == chunks {
                    let tally = open.remove(&cell).expect("just merged");
                    complete[cell as usize] = true;
                    // Parts never come from adaptive runs (they need whole cells), but should one
                    // claim targets, each cell reports whether it meets them.
                    let precision_met = sweep
                        .precision
                        .is_adaptive()
                        .then(|| sweep.precision.assess(&tally).met);
                    let verdicts = Checks::of(&sweep.objectives, cell).judge_once(&tally);
                    on_cell(CellRecord::of(&CellRun {
                        cell_id: cell,
                        tally: tally.into(),
                        precision_met,
                        verdicts,
                    }))?;
                    cells += 1;
                }
            }
        }
        if let Some(cell) = complete.iter().position(|&c| !c) {
            let held = open.get(&(cell as u32)).map_or(0, |t| t.chunks);
            return Err(RunError::Incomplete(format!(
                "cell {cell}: the parts hold {held} of its {chunks} work items"
            )));
        }
        Ok(cells)
    }
}

/// The earliest start and the latest finish recorded in the parts' metadata, and the sum of
/// their threads (0 for parts that do not say).
pub(super) fn parts_info(readers: &[crate::store::tallies::TallyReader]) -> RunInfo {
    let times = |key: &str| -> Vec<jiff::Timestamp> {
        readers
            .iter()
            .filter_map(|r| r.metadata.get(key)?.parse().ok())
            .collect()
    };
    let started = times(keys::STARTED_UTC).into_iter().min();
    let finished = times(keys::FINISHED_UTC).into_iter().max();
    let threads = readers
        .iter()
        .filter_map(|r| r.metadata.get(keys::THREADS)?.parse::<usize>().ok())
        .sum();
    RunInfo {
        started: started.map_or_else(String::new, |t| t.to_string()),
        finished: finished.map_or_else(String::new, |t| t.to_string()),
        threads,
        wall_s: match (started, finished) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        },
    }
}

/// Merges the parts of a sharded run into the files of a whole run in `out`: the same
/// values a single process would have produced, and a run file of the whole run, so that the
/// result verifies like one. Refuses what [`read_parts`] refuses.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<Merged, RunError> {
    let Parts {
        identity,
        sweep,
        info,
        rows,
    } = read_parts(parts)?;
    let dir = RunDir::create(out)?;
    let lock = RunLock::take(dir.path())?;
    write_run_file(dir.path(), &identity, &info.started, None)?;
    let mut writer = ResultsWriter::create(dir.path(), &sweep)?;
    let mut verdicts = Verdicts::default();
    let cells = rows.cells(&sweep, |record| {
        verdicts.add(record.cell_id, &record.verdicts);
        Ok(writer.push(record)?)
    })?;
    let (files, records) = writer.finish(&info)?;
    let completion = Completion {
        finished: &info.finished,
        files: &files,
    };
    write_run_file(dir.path(), &identity, &info.started, Some(completion))?;
    lock.remove()?;
    dir.keep();
    Ok(Merged {
        sweep,
        cells,
        records,
        files,
        verdicts,
    })
}
