//! The requirements file, and the sweep that measures its designs.

use std::path::Path;

use super::{AdviseError, Consistency, Design};
use crate::sweep::fields::{FieldError, Fields};

/// What must keep working while the network is split in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitions {
    /// The side with a majority keeps working; the minority may stop (what majority quorums
    /// give).
    Majority,
    /// Both sides keep serving: only designs of eventual consistency or below can (CAP).
    Available,
}

impl Partitions {
    /// Its word in a requirements file.
    pub fn word(self) -> &'static str {
        match self {
            Self::Majority => "majority",
            Self::Available => "available",
        }
    }
}

/// The keys of `[environment]`.
const ENVIRONMENT_KEYS: [&str; 4] = ["crash", "loss", "partition", "latency"];

/// What a requirements file asks for.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// Names the run directory.
    pub name: String,
    /// The consistency needed.
    pub consistency: Consistency,
    /// Crashed nodes to survive.
    pub crashes: u32,
    /// The replicas a replicated design runs on, if stated: at least what the faults need.
    pub nodes: Option<u32>,
    /// Byzantine nodes to survive.
    pub byzantine: u32,
    /// Participants of an atomic commit.
    pub participants: u32,
    /// Whether an atomic commit may block while its coordinator is down.
    pub blocking_ok: bool,
    /// What must keep working during a partition.
    pub partitions: Partitions,
    /// The least success rate (`success_rate`, or `availability`).
    pub success_rate: f64,
    /// The largest latency p99, in milliseconds.
    pub latency_ms_p99: Option<f64>,
    /// Trials per design at most.
    pub trials: u64,
    /// The seed.
    pub seed: u64,
    /// The sweep's `[grid]` environment axes and `[latency.env]` table, and `[cost]`, as TOML.
    pub(super) environment: toml::Table,
    cost: Option<toml::Table>,
}

/// The name of the requirements' own latency model in the sweeps `advise` runs.
pub(super) const BASE_LATENCY: &str = "env";

impl Requirements {
    /// Reads a requirements file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Self, AdviseError> {
        let file = path.display().to_string();
        let fail = |location: String, message: String| AdviseError::Requirements {
            file: file.clone(),
            location,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                String::new(),
                format!("cannot read: {}", crate::sweep::describe(&e)),
            )
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            fail(
                String::new(),
                format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
            )
        })?;
        Self::read(&table).map_err(|e| fail(e.field, e.message))
    }

    pub(super) fn read(table: &toml::Table) -> Result<Self, FieldError> {
        let mut top = Fields::new("", table);
        let name = top.require("name")?.string()?.to_string();
        let consistency_field = top.require("consistency")?;
        let word = consistency_field.string()?;
        let consistency = Consistency::from_word(word).ok_or_else(|| {
            let words: Vec<&str> = Consistency::words().collect();
            consistency_field.error(format!(
                "`{word}` is not a consistency ({})",
                words.join(", ")
            ))
        })?;
        let count = |top: &mut Fields<'_>, key, default: u32, min: u64, max: u64| {
            top.take(key)
                .map(|f| f.integer(min, max).map(|n| n as u32))
                .transpose()
                .map(|v| v.unwrap_or(default))
        };
        let crashes = count(&mut top, "crashes", 0, 0, 1000)?;
        let byzantine = count(&mut top, "byzantine", 0, 0, 1000)?;
        let nodes = top
            .take("nodes")
            .map(|f| {
                let n = f.integer(1, 1000)? as u32;
                // What the faults need: f + 1 copies, 2f + 1 for majorities, 3b + 1 replicas
                // against b liars.
                let need = match consistency {
                    Consistency::None | Consistency::Eventual => crashes + 1,
                    Consistency::ReadYourWrites | Consistency::Linearizable => 2 * crashes + 1,
                    Consistency::Byzantine => 3 * byzantine.max(1) + 1,
                    Consistency::AtomicCommit => {
                        return Err(
                            f.error("an atomic commit runs on its participants: set participants")
                        );
                    }
                };
                if n < need {
                    return Err(f.error(format!(
                        "{n} replicas cannot survive {crashes} crash(es): {} needs at least {need}",
                        consistency.word()
                    )));
                }
                Ok(n)
            })
            .transpose()?;
        let participants = count(&mut top, "participants", 3, 2, 1000)?;
        let blocking_ok = match top.take("blocking") {
            Some(f) => match f.value {
                toml::Value::Boolean(b) => *b,
                _ => return Err(f.error("expected true or false")),
            },
            None => true,
        };
        let partitions = match top.take("partitions") {
            Some(f) => match f.string()? {
                "majority" => Partitions::Majority,
                "available" => Partitions::Available,
                other => {
                    return Err(f.error(format!(
                        "`{other}` is not a partition requirement (majority, available)"
                    )));
                }
            },
            None => Partitions::Majority,
        };
        if partitions == Partitions::Available && consistency > Consistency::Eventual {
            return Err(FieldError::new(
                "partitions",
                format!(
                    "no {} design stays available on both sides of a partition (CAP): ask for eventual consistency, or partitions = \"majority\"",
                    consistency.word()
                ),
            ));
        }
        let success_rate = match (top.take("success_rate"), top.take("availability")) {
            (Some(f), None) | (None, Some(f)) => f.probability()?,
            (None, None) => 0.0,
            (Some(_), Some(f)) => {
                return Err(
                    f.error("give success_rate or availability, not both: they are one objective")
                );
            }
        };
        let latency_ms_p99 = top
            .take("latency_ms_p99")
            .map(|f| {
                let x = f.number()?;
                if x > 0.0 {
                    Ok(x)
                } else {
                    Err(f.error("a latency objective is a number of milliseconds > 0"))
                }
            })
            .transpose()?;
        let trials = match top.take("trials") {
            Some(f) => f.integer(1, crate::sweep::MAX_TRIALS)?,
            None => 4_000_000,
        };
        let seed = match top.take("seed") {
            Some(f) => f.integer(0, crate::sweep::MAX_SEED)?,
            None => 1,
        };
        let environment = match top.take("environment") {
            Some(f) => match f.value {
                toml::Value::Table(t) => t.clone(),
                _ => return Err(f.error("expected a table")),
            },
            None => return Err(FieldError::new("environment", "missing")),
        };
        if !environment.contains_key("latency") {
            return Err(FieldError::new(
                "environment.latency",
                "missing: a latency model, as a sweep's [latency.NAME] table",
            ));
        }
        if let Some(key) = environment
            .keys()
            .find(|k| !ENVIRONMENT_KEYS.contains(&k.as_str()))
        {
            return Err(FieldError::new(
                format!("environment.{key}"),
                format!(
                    "unknown key `{key}` (expected {})",
                    ENVIRONMENT_KEYS.join(", ")
                ),
            ));
        }
        // One value each: sensitivity moves them from there.
        for key in ["crash", "loss", "partition"] {
            if let Some(v) = environment.get(key) {
                let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                if !x.is_some_and(|x| (0.0..1.0).contains(&x)) {
                    return Err(FieldError::new(
                        format!("environment.{key}"),
                        "expected one probability in [0, 1)",
                    ));
                }
            }
        }
        let cost = match top.take("cost") {
            Some(f) => match f.value {
                toml::Value::Table(t) => Some(t.clone()),
                _ => return Err(f.error("expected a table")),
            },
            None => None,
        };
        if let Some(description) = top.take("description") {
            description.string()?;
        }
        top.finish()?;
        if consistency == Consistency::Byzantine && byzantine == 0 {
            return Err(FieldError::new(
                "byzantine",
                "consistency = \"byzantine\" needs byzantine >= 1 (the liars to survive)",
            ));
        }
        Ok(Self {
            name,
            consistency,
            crashes,
            nodes,
            byzantine,
            participants,
            blocking_ok,
            partitions,
            success_rate,
            latency_ms_p99,
            trials,
            seed,
            environment,
            cost,
        })
    }

    /// The sweep of `designs` in this environment, with the objectives as `[[expect]]` over
    /// every cell and a precision target that every cell meets at once, so that each runs
    /// until its objectives are decided (or the cap).
    pub fn sweep_text(&self, designs: &[Design]) -> String {
        let mut latency = toml::Table::new();
        latency.insert(BASE_LATENCY.into(), self.environment["latency"].clone());
        self.sweep_text_in(designs, None, latency)
    }

    /// [`Requirements::sweep_text`] with one environment axis (`crash` or `loss`) set to
    /// several values, or with several latency models by name.
    pub(super) fn sweep_text_in(
        &self,
        designs: &[Design],
        axis: Option<(&str, Vec<f64>)>,
        latencies: toml::Table,
    ) -> String {
        use toml::{Table, Value};
        let mut protocols: Vec<&str> = Vec::new();
        for d in designs {
            if !protocols.contains(&d.protocol) {
                protocols.push(d.protocol);
            }
        }
        let mut sweep = Table::new();
        sweep.insert(
            "name".into(),
            Value::String(format!("advise-{}", self.name)),
        );
        sweep.insert("seed".into(), Value::Integer(self.seed as i64));
        sweep.insert("trials".into(), Value::Integer(self.trials as i64));
        sweep.insert("precision".into(), Value::Float(0.5));
        let mut grid = Table::new();
        grid.insert(
            "protocol".into(),
            Value::Array(
                protocols
                    .iter()
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ),
        );
        grid.insert("nodes".into(), Value::Integer(1));
        for key in ["crash", "loss", "partition"] {
            if let Some(v) = self.environment.get(key) {
                grid.insert(key.into(), v.clone());
            }
        }
        if let Some((key, values)) = axis {
            grid.insert(
                key.into(),
                Value::Array(values.into_iter().map(Value::Float).collect()),
            );
        }
        grid.insert(
            "latency".into(),
            Value::Array(latencies.keys().map(|k| Value::String(k.clone())).collect()),
        );
        sweep.insert("grid".into(), Value::Table(grid));
        // Each protocol's nodes and parameters: an axis of the values its designs take.
        let mut params = Table::new();
        for p in &protocols {
            let mine: Vec<&Design> = designs.iter().filter(|d| d.protocol == *p).collect();
            let mut section = Table::new();
            let mut nodes: Vec<Value> = Vec::new();
            for d in &mine {
                let n = Value::Integer(d.nodes.into());
                if !nodes.contains(&n) {
                    nodes.push(n);
                }
            }
            section.insert("nodes".into(), Value::Array(nodes));
            for d in &mine {
                for (key, value) in &d.params {
                    let axis = section
                        .entry(key.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(values) = axis
                        && !values.contains(value)
                    {
                        values.push(value.clone());
                    }
                }
            }
            params.insert(p.to_string(), Value::Table(section));
        }
        sweep.insert("params".into(), Value::Table(params));
        sweep.insert("latency".into(), Value::Table(latencies));
        if let Some(cost) = &self.cost {
            sweep.insert("cost".into(), Value::Table(cost.clone()));
        }
        let mut expect = Table::new();
        expect.insert(
            "success_rate".into(),
            Value::String(format!(">= {}", self.success_rate)),
        );
        if let Some(p99) = self.latency_ms_p99 {
            expect.insert("latency_ms_p99".into(), Value::String(format!("<= {p99}")));
        }
        sweep.insert("expect".into(), Value::Array(vec![Value::Table(expect)]));
        toml::to_string(&sweep).expect("a table of plain values serializes")
    }
}
