//! Sweep files: the TOML format, its validation, and the grid of cells it names.
//!
//! ```toml
//! name = "example"
//! seed = 42
//! trials = 1_000_000            # per cell; the cap per cell when a precision is set
//! # precision = 0.001           # optional: add trials to a cell until its success rate's 95%
//! # p99_precision = 0.01        # interval is +/- 0.001 wide, and its p99's +/- 1%
//!
//! [grid]                      # every list is an axis of the cartesian product
//! protocol = ["quorum", "two-phase-commit"]
//! nodes = [3, 5, 9]
//! crash = [0.0, 0.01]
//! loss = 0.0
//! latency = ["lan"]
//!
//! [params.quorum]             # per-protocol parameters; a list is an axis for that protocol only
//! k = [2, "majority"]
//!
//! [latency.lan]               # one-way message delay
//! kind = "shifted"
//! shift_ms = 0.05
//! of = { kind = "exponential", mean_ms = 0.5 }
//! ```
//!
//! A protocol parameter set under `[grid]` is an axis for every protocol of the sweep that has
//! it; `[params.<protocol>]` overrides it for one protocol. An optional `[[expect]]` list
//! states objectives the run checks when it ends ([`expect`]). Unknown keys are errors.

mod cell;
mod cost;
pub(crate) mod delays;
pub mod expect;
pub(crate) mod fields;
mod grid;
pub(crate) mod params;
mod registry;
pub mod tails;

pub use cell::{Cell, ParamsDisplay};
pub use cost::{Cost, Price};
pub use expect::Expectation;
pub use grid::{Axes, Cells, ParamAxis, ProtocolAxes};
pub use registry::{Duplicate, Registry};

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use thiserror::Error;

use crate::latency::Latency;
use crate::model::objective::Objectives;
use crate::model::precision::Precision;
use crate::model::{Extra, MAX_ZONES, ModelError, ParamSpec, ProtocolInfo, Simulate};

use fields::{Field, FieldError, Fields};

/// The sweep that `coordsim run` runs when given no file.
pub const DEFAULT_SWEEP: &str = include_str!("../../sweeps/default.toml");

/// How the default sweep is named in messages and metadata.
pub const DEFAULT_ORIGIN: &str = "sweeps/default.toml (embedded)";

/// The largest seed: a sweep file's integers are signed 64-bit, so `--seed` takes no more
/// than a file can hold, and a run's `sweep.toml` can always record its seed.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// Most trials a cell may ask for.
pub const MAX_TRIALS: u64 = 1_000_000_000_000;

/// Most nodes a cell may have.
pub const MAX_NODES: u64 = 1_000_000_000;

/// Most nodes a cell may have unless the run is forced with `--yes`. A trial's work and
/// memory grow with N: a model that simulates every node holds a reply or a state per node
/// and thread (8 bytes a node for quorum's replies), one that samples directly tables of N
/// probabilities; at a billion nodes either takes gigabytes, and the process is killed
/// before it can clean up.
pub const MAX_NODES_UNFORCED: u32 = 1_000_000;

/// Most bytes a sweep file may have.
pub const MAX_SWEEP_BYTES: u64 = 16 << 20;

/// What a sweep may ask for without `--yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most cells.
    pub cells: u128,
    /// Most nodes of a cell ([`MAX_NODES_UNFORCED`]).
    pub nodes: u32,
}

impl Limits {
    /// No limits beyond those of the format.
    pub const NONE: Limits = Limits {
        cells: u128::MAX,
        nodes: u32::MAX,
    };

    /// At most `cells` cells, and [`MAX_NODES_UNFORCED`] nodes per cell.
    pub fn cells(cells: u128) -> Self {
        Self {
            cells,
            nodes: MAX_NODES_UNFORCED,
        }
    }
}

/// Most regions a cell may have.
pub const MAX_REGIONS: u32 = 1_000;

/// The environment axes of `[grid]`, shared by every protocol.
pub const AXES: &[&str] = &[
    "protocol",
    "nodes",
    "crash",
    "loss",
    "zones",
    "zone_crash",
    "partition",
    "regions",
    "latency",
    "cross_latency",
    "persist",
    "process",
];

/// A sweep file that cannot be run, with the file and the field to blame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {}{message}", if location.is_empty() { String::new() } else { format!("{location}: ") })]
pub struct SweepError {
    /// The sweep file, as given.
    pub file: String,
    /// The dotted field path, or `line L, column C` for a syntax error.
    pub location: String,
    /// What is wrong, on one line.
    pub message: String,
}

impl SweepError {
    fn field(file: &str, error: FieldError) -> Self {
        Self {
            file: file.to_string(),
            location: error.field,
            message: error.message,
        }
    }
}

/// A validated sweep: every cell expanded and shown to build its model.
pub struct Sweep {
    /// `name`: names the run directory.
    pub name: String,
    /// `seed`: with the cell and chunk index, determines every random number.
    pub seed: u64,
    /// `trials` per cell: the cap per cell when the run is adaptive.
    pub trials: u64,
    /// `precision` and `p99_precision`: targets that make the run adaptive
    /// ([`crate::model::precision`]).
    pub precision: Precision,
    /// Where the sweep came from: a path, or [`DEFAULT_ORIGIN`].
    pub origin: String,
    /// The sweep file's text, stored in the output's metadata.
    pub text: String,
    /// The axes the cells were expanded from.
    pub axes: Axes,
    /// Prices for the cost columns.
    pub cost: Cost,
    /// The cells, in expansion order (`cells.get(i).id == i`), each made when asked for.
    pub cells: Cells,
    /// The parameters of the sweep's protocols, each once, in registry order: the summary's
    /// parameter columns.
    pub params: Vec<&'static ParamSpec>,
    /// The protocols' own counts, each once, in registry order: the summary's `<name>_mean`
    /// columns.
    pub extras: Vec<&'static Extra>,
    /// `[[expect]]`: the objectives the run checks, with the cells each applies to.
    pub expectations: Vec<Expectation>,
    /// The same objectives by cell, with the error level of each check.
    pub objectives: Arc<Objectives>,
}

impl std::fmt::Debug for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("name", &self.name)
            .field("seed", &self.seed)
            .field("trials", &self.trials)
            .field("precision", &self.precision)
            .field("cells", &self.cells.len())
            .finish()
    }
}

impl Sweep {
    /// Reads and validates the sweep file at `path`.
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        Self::load_limited(path, Limits::NONE)
    }

    /// Like [`Sweep::load`], refusing what exceeds `limits` ([`Sweep::parse_limited`]).
    pub fn load_limited(path: &Path, limits: Limits) -> Result<Self, SweepError> {
        use std::io::Read;
        let file = path.display().to_string();
        let error = |message: String| SweepError {
            file: file.clone(),
            location: String::new(),
            message,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SWEEP_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| error(format!("cannot read: {}", describe(&e))))?;
        if bytes.len() as u64 > MAX_SWEEP_BYTES {
            return Err(error(format!(
                "more than {} MiB: not a sweep file",
                MAX_SWEEP_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            error(format!(
                "not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Self::parse_limited(&text, &file, limits)
    }

    /// The embedded default sweep.
    pub fn default_sweep() -> Self {
        Self::parse(DEFAULT_SWEEP, DEFAULT_ORIGIN).expect("the embedded default sweep is valid")
    }

    /// Validates sweep `text`; errors name `file`.
    pub fn parse(text: &str, file: &str) -> Result<Self, SweepError> {
        Self::parse_limited(text, file, Limits::NONE)
    }

    /// Like [`Sweep::parse`], refusing a grid of more than `limits.cells` cells, or a cell of
    /// more than `limits.nodes` nodes, before building any.
    pub fn parse_limited(text: &str, file: &str, limits: Limits) -> Result<Self, SweepError> {
        Self::parse_with(text, file, limits, &Registry::builtin())
    }

    /// Like [`Sweep::parse_limited`], with the protocols of `registry`: a library user's own
    /// protocols beside coordsim's.
    pub fn parse_with(
        text: &str,
        file: &str,
        limits: Limits,
        registry: &Registry,
    ) -> Result<Self, SweepError> {
        let max_cells = limits.cells;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let location = e
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}")
                })
                .unwrap_or_default();
            SweepError {
                file: file.to_string(),
                location,
                message: format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
            }
        })?;
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        let mut parsed =
            Parsed::read(&table, base, registry).map_err(|e| SweepError::field(file, e))?;
        let count = parsed.axes.cell_count();
        if count > max_cells {
            return Err(SweepError {
                file: file.to_string(),
                location: "grid".to_string(),
                message: format!(
                    "{count} cells exceed the limit of {max_cells} (pass --yes to run them, or raise --max-cells)"
                ),
            });
        }
        if count > u128::from(u32::MAX) {
            return Err(SweepError {
                file: file.to_string(),
                location: "grid".to_string(),
                message: format!("{count} cells: more than a sweep can number"),
            });
        }
        let cells = Cells::new(parsed.axes.clone());
        expect::match_cells(&mut parsed.expectations, &cells)
            .map_err(|e| SweepError::field(file, e))?;
        if let Some(cell) = cells.iter().find(|c| c.nodes > limits.nodes) {
            let error = ModelError::new(
                "nodes",
                format!(
                    "{} nodes exceed the limit of {} per cell (a trial's work and memory grow with N; pass --yes to run it)",
                    cell.nodes, limits.nodes
                ),
            );
            return Err(SweepError::field(file, parsed.blame(&cell, error)));
        }
        // Every cell's model is built once here, to refuse a sweep with a cell that cannot
        // be, and dropped: the engine builds the models of the cells it is running, so memory
        // does not grow with the grid's models (a direct sampler's tables grow with N).
        for cell in cells.iter() {
            cell.build()
                .map_err(|e| SweepError::field(file, parsed.blame(&cell, e)))?;
        }
        let used = || {
            registry.iter().filter(|p| {
                parsed
                    .axes
                    .protocols
                    .iter()
                    .any(|q| q.protocol.name == p.name)
            })
        };
        let params = once_each(used().flat_map(|p| p.params.iter()), |s| s.name);
        let extras = once_each(used().flat_map(|p| p.extras.iter()), |e| e.name);
        Ok(Self {
            name: parsed.name,
            seed: parsed.seed,
            trials: parsed.trials,
            precision: parsed.precision,
            origin: file.to_string(),
            text: text.to_string(),
            axes: parsed.axes,
            cost: parsed.cost,
            cells,
            params,
            extras,
            objectives: Arc::new(expect::objectives(&parsed.expectations)),
            expectations: parsed.expectations,
        })
    }

    /// A new model of cell `id`: it was built once already when the sweep was read, so it
    /// builds.
    pub fn model(&self, id: usize) -> Box<dyn Simulate> {
        self.cells
            .get(id)
            .build()
            .expect("a cell of a validated sweep builds")
    }

    /// A digest of every latency model as loaded (its parameters, and the samples of an
    /// empirical model's file): `name=crc,...`, CRC-32 of each model's full description. Two
    /// runs of one sweep text read the same files only if these are equal.
    pub fn inputs(&self) -> String {
        let mut models: Vec<&(Arc<str>, Arc<Latency>)> = self
            .axes
            .latency
            .iter()
            .chain(&self.axes.cross_latency)
            .chain(&self.axes.persist)
            .chain(&self.axes.process)
            .collect();
        models.sort_by(|a, b| a.0.cmp(&b.0));
        models.dedup_by(|a, b| a.0 == b.0);
        models
            .iter()
            .map(|(name, model)| {
                format!(
                    "{name}={:08x}",
                    crc32fast::hash(format!("{model:?}").as_bytes())
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Trials over all cells.
    pub fn total_trials(&self) -> u128 {
        u128::from(self.trials) * self.cells.len() as u128
    }

    /// The same sweep with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same sweep with another trial count per cell.
    pub fn with_trials(mut self, trials: u64) -> Self {
        self.trials = trials;
        self
    }

    /// The same sweep with other precision targets.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }
}

/// A sweep file read into axes, before its cells are built.
struct Parsed {
    name: String,
    seed: u64,
    trials: u64,
    precision: Precision,
    axes: Axes,
    cost: Cost,
    expectations: Vec<Expectation>,
}

impl Parsed {
    fn read(table: &toml::Table, base: &Path, registry: &Registry) -> Result<Self, FieldError> {
        let mut top = Fields::with_base("", table, base);
        let name = top.require("name")?;
        let name = name_of(&name)?;
        let seed = top.require("seed")?.integer(0, MAX_SEED)?;
        let trials = top.require("trials")?.integer(1, MAX_TRIALS)?;
        let target = |top: &mut Fields<'_>, key, check: fn(f64) -> Result<f64, String>| {
            top.take(key)
                .map(|field| check(field.number()?).map_err(|message| field.error(message)))
                .transpose()
        };
        let precision = Precision {
            success: target(&mut top, "precision", Precision::check_success)?,
            p99: target(&mut top, "p99_precision", Precision::check_p99)?,
        };
        if let Some(description) = top.take("description") {
            description.string()?;
        }
        let latency_models = match top.take("latency") {
            Some(field) => read_latency_models(field.table()?)?,
            None => BTreeMap::new(),
        };
        let grid_field = top.require("grid")?;
        let mut grid = grid_field.table()?;
        let params_field = top.take("params");
        let cost = match top.take("cost") {
            Some(field) => Cost::from_fields(field.table()?, registry)?,
            None => Cost::default(),
        };
        let expect_field = top.take("expect");
        top.finish()?;

        let protocols = read_protocols(&grid.require("protocol")?, registry)?;
        let expectations = match &expect_field {
            Some(field) => expect::read(field, &protocols)?,
            None => Vec::new(),
        };
        let nodes = distinct(&grid.require("nodes")?, |f| {
            f.integer(1, MAX_NODES).map(|n| n as u32)
        })?;
        let probabilities = |grid: &mut Fields<'_>, key| match grid.take(key) {
            Some(f) => distinct(&f, Field::probability),
            None => Ok(vec![0.0]),
        };
        let crash = probabilities(&mut grid, "crash")?;
        let loss = probabilities(&mut grid, "loss")?;
        let zone_crash = probabilities(&mut grid, "zone_crash")?;
        let partition = probabilities(&mut grid, "partition")?;
        let counts = |grid: &mut Fields<'_>, key, max: u32| match grid.take(key) {
            Some(f) => distinct(&f, |item| item.integer(1, max.into()).map(|n| n as u32)),
            None => Ok(vec![1]),
        };
        let zones = counts(&mut grid, "zones", MAX_ZONES)?;
        let regions = counts(&mut grid, "regions", MAX_REGIONS)?;
        let latency_names = |field: &Field<'_>| {
            distinct(field, |f| {
                let name = f.string()?;
                let model = latency_models.get(name).ok_or_else(|| {
                    let defined: Vec<&str> = latency_models.keys().map(String::as_str).collect();
                    f.error(format!(
                        "no latency model `{name}` is defined (defined: {})",
                        if defined.is_empty() {
                            "none".to_string()
                        } else {
                            defined.join(", ")
                        }
                    ))
                })?;
                Ok(Named(Arc::<str>::from(name), model.clone()))
            })
            .map(|named| {
                named
                    .into_iter()
                    .map(|Named(n, m)| (n, m))
                    .collect::<Vec<_>>()
            })
        };
        let latency = latency_names(&grid.require("latency")?)?;
        let cross_latency = match grid.take("cross_latency") {
            Some(field) => latency_names(&field)?,
            None => Vec::new(),
        };
        let persist = match grid.take("persist") {
            Some(field) => latency_names(&field)?,
            None => Vec::new(),
        };
        let process = match grid.take("process") {
            Some(field) => latency_names(&field)?,
            None => Vec::new(),
        };
        if regions.iter().any(|&r| r > 1) && cross_latency.is_empty() {
            return Err(FieldError::new(
                grid.path_of("cross_latency"),
                "missing: grid.regions > 1 needs a cross-region latency model",
            ));
        }

        // Protocol parameters under [grid]: an axis for every protocol that has the key.
        let mut grid_params: BTreeMap<&str, Field<'_>> = BTreeMap::new();
        let untaken: Vec<(&str, &toml::Value)> = grid.untaken().collect();
        for (key, _) in untaken {
            if !protocols.iter().any(|p| p.param(key).is_some()) {
                let names: Vec<&str> = protocols.iter().map(|p| p.name).collect();
                return Err(FieldError::new(
                    grid.path_of(key),
                    format!(
                        "unknown key `{key}`: not an axis ({}) nor a parameter of {}",
                        AXES.join(", "),
                        names.join(", ")
                    ),
                ));
            }
            let field = grid.take(key).expect("key is present");
            grid_params.insert(key, field);
        }
        grid.finish()?;

        let mut overrides: BTreeMap<&str, Fields<'_>> = BTreeMap::new();
        if let Some(field) = &params_field {
            let mut params = field.table()?;
            let keys: Vec<&str> = params.untaken().map(|(k, _)| k).collect();
            for key in keys {
                let section = params.take(key).expect("key is present");
                if registry.find(key).is_none() {
                    return Err(section.error(format!("unknown protocol `{key}`")));
                }
                if !protocols.iter().any(|p| p.name == key) {
                    return Err(section.error(format!("`{key}` is not in grid.protocol")));
                }
                overrides.insert(key, section.table()?);
            }
        }

        let mut with_axes = Vec::with_capacity(protocols.len());
        for protocol in protocols {
            let mut section = overrides.remove(protocol.name);
            let mut axes = Vec::with_capacity(protocol.params.len());
            for spec in protocol.params {
                let field = match section.as_mut().and_then(|s| s.take(spec.name)) {
                    Some(f) => Some(f),
                    None => grid_params.get(spec.name).cloned(),
                };
                let axis = match field {
                    Some(f) => ParamAxis {
                        values: distinct(&f, |item| params::parse_value(spec.kind, item))?,
                        source: f.path().to_string(),
                    },
                    None => ParamAxis {
                        values: vec![spec.default],
                        source: format!("params.{}.{}", protocol.name, spec.name),
                    },
                };
                axes.push(axis);
            }
            let nodes = match section.as_mut().and_then(|s| s.take("nodes")) {
                Some(f) => Some(distinct(&f, |item| {
                    item.integer(1, MAX_NODES).map(|n| n as u32)
                })?),
                None => None,
            };
            if let Some(section) = section {
                section.finish()?;
            }
            with_axes.push(ProtocolAxes {
                protocol,
                params: axes,
                nodes,
            });
        }

        let axes = Axes {
            protocols: with_axes,
            nodes,
            crash,
            loss,
            zones,
            zone_crash,
            partition,
            regions,
            latency,
            cross_latency,
            persist,
            process,
        };
        Ok(Self {
            name,
            seed,
            trials,
            precision,
            axes,
            cost,
            expectations,
        })
    }

    fn nodes_overridden(&self, cell: &Cell) -> bool {
        self.axes
            .protocols
            .iter()
            .any(|p| p.protocol.name == cell.protocol.name && p.nodes.is_some())
    }

    /// Turns a model's complaint about one cell into an error about the field to change.
    fn blame(&self, cell: &Cell, error: ModelError) -> FieldError {
        let field = match error.param {
            "nodes" if self.nodes_overridden(cell) => {
                format!("params.{}.nodes", cell.protocol.name)
            }
            axis if AXES.contains(&axis) => format!("grid.{axis}"),
            param => self
                .axes
                .protocols
                .iter()
                .find(|p| p.protocol.name == cell.protocol.name)
                .and_then(|p| {
                    let i = p.protocol.params.iter().position(|s| s.name == param)?;
                    Some(p.params[i].source.clone())
                })
                .unwrap_or_else(|| format!("params.{}.{param}", cell.protocol.name)),
        };
        FieldError::new(
            field,
            format!(
                "{} (cell {}: {} with nodes = {})",
                error.message, cell.id, cell.protocol.name, cell.nodes
            ),
        )
    }
}

/// The items of `items`, without a second item of the same `name`.
fn once_each<T>(items: impl Iterator<Item = T>, name: impl Fn(&T) -> &'static str) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.iter().any(|o| name(o) == name(&item)) {
            out.push(item);
        }
    }
    out
}

fn name_of(field: &Field<'_>) -> Result<String, FieldError> {
    let name = field.string()?;
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        return Err(field.error(format!(
            "`{name}` is not a valid name (1 to 100 of A-Z a-z 0-9 - _ . , not starting with .)"
        )));
    }
    Ok(name.to_string())
}

fn read_latency_models(
    mut section: Fields<'_>,
) -> Result<BTreeMap<String, Arc<Latency>>, FieldError> {
    let keys: Vec<&str> = section.untaken().map(|(k, _)| k).collect();
    let mut models = BTreeMap::new();
    for key in keys {
        let field = section.take(key).expect("key is present");
        models.insert(key.to_string(), Arc::new(delays::read_field(&field)?));
    }
    Ok(models)
}

fn read_protocols(
    field: &Field<'_>,
    registry: &Registry,
) -> Result<Vec<&'static ProtocolInfo>, FieldError> {
    distinct(field, |item| {
        let name = item.string()?;
        registry.find(name).ok_or_else(|| {
            item.error(format!(
                "unknown protocol `{name}` (known: {})",
                registry.names()
            ))
        })
    })
}

/// A latency model compared by name.
struct Named(Arc<str>, Arc<Latency>);

impl PartialEq for Named {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// The values of an axis (a value or a non-empty list), each read by `read`, none repeated.
fn distinct<'a, T: PartialEq>(
    field: &Field<'a>,
    read: impl Fn(&Field<'a>) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    let mut values: Vec<T> = Vec::new();
    for item in field.one_or_many()? {
        let value = read(&item)?;
        if values.contains(&value) {
            return Err(item.error("repeats an earlier value of this axis"));
        }
        values.push(value);
    }
    Ok(values)
}

/// An I/O error in words, without the `(os error N)` that its display appends.
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match (error.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests;
