//! `coordsim advise`: from requirements to the cheapest design that meets them.
//!
//! The essay's decision framework starts at the lowest rung of the coordination ladder and
//! climbs only when a requirement forces it. `advise` does that with measurements:
//!
//! 1. A requirements file states the consistency needed, the faults to survive, the
//!    objectives (a success rate, a latency p99), the environment (crash and loss rates and a
//!    latency model) and the prices of a sweep's `[cost]` section.
//! 2. Every design that provides the consistency under those faults ([`designs`]) becomes a
//!    cell of one sweep, with the objectives as an `[[expect]]` entry over every cell. The
//!    sweep runs adaptively: a cell stops as soon as each objective is decided at the 95%
//!    level (the run's stopping rule, [`crate::model::precision`]), or at the cap.
//! 3. The designs are ranked from the lowest rung up, and by dollars per month within a rung
//!    ([`Advice`]): the recommendation is the first that meets every objective, the cheapest
//!    of the lowest rung that can, and each design ranked before it is listed with the
//!    objective it missed or could not be shown to meet.
//!
//! ```toml
//! name = "orders"
//! consistency = "linearizable"   # none | eventual | linearizable | atomic-commit | byzantine
//! crashes = 1                    # crashed nodes to survive (f)
//! success_rate = 0.999           # the objectives: at least this success rate ...
//! latency_ms_p99 = 20            # ... and at most this p99 (optional)
//!
//! [environment]
//! crash = 0.01
//! loss = 0.001
//! latency = { kind = "exponential", mean_ms = 0.5 }
//! ```
//!
//! Which consistency each protocol provides, and how many nodes it needs for the faults, is
//! the table of [`designs`].

mod plot;
mod render;

pub use plot::{Point, frontier_svg};
pub use render::{json, table};

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::objective::{Judgement, Verdict};
use crate::run::{self, Finished, Plan, RunError};
use crate::store::CellRecord;
use crate::sweep::fields::{FieldError, Fields};
use crate::sweep::{Sweep, SweepError};

/// Requirements that cannot be read, or a run that failed.
#[derive(Debug, Error)]
pub enum AdviseError {
    /// The requirements file is wrong: the file and the field to blame.
    #[error("{file}: {}{message}", if location.is_empty() { String::new() } else { format!("{location}: ") })]
    Requirements {
        /// The file.
        file: String,
        /// The field.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The sweep built from the requirements does not parse (an environment the sweep
    /// format refuses).
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// The run of the designs failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The run was interrupted.
    #[error("interrupted: the designs were not all measured")]
    Interrupted,
}

impl AdviseError {
    /// The exit code it calls for: 2 for bad requirements, the run's own otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Requirements { .. } | Self::Sweep(_) => 2,
            Self::Run(e) => e.exit_code(),
            Self::Interrupted => 130,
        }
    }
}

/// The consistency a design provides, from the lowest rung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Consistency {
    /// Nothing is agreed: a message may be lost, and nobody learns of it.
    None,
    /// Every replica converges once updates stop.
    Eventual,
    /// Every operation appears to take effect at one instant between its call and return.
    Linearizable,
    /// All participants commit or all abort.
    AtomicCommit,
    /// Agreement despite replicas that lie.
    Byzantine,
}

const CONSISTENCY_WORDS: &[(&str, Consistency)] = &[
    ("none", Consistency::None),
    ("eventual", Consistency::Eventual),
    ("linearizable", Consistency::Linearizable),
    ("atomic-commit", Consistency::AtomicCommit),
    ("byzantine", Consistency::Byzantine),
];

impl Consistency {
    /// Its word in a requirements file.
    pub fn word(self) -> &'static str {
        CONSISTENCY_WORDS
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(w, _)| *w)
            .expect("every level has a word")
    }
}

/// What a requirements file asks for.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// Names the run directory.
    pub name: String,
    /// The consistency needed.
    pub consistency: Consistency,
    /// Crashed nodes to survive.
    pub crashes: u32,
    /// Byzantine nodes to survive.
    pub byzantine: u32,
    /// Participants of an atomic commit.
    pub participants: u32,
    /// Whether an atomic commit may block while its coordinator is down.
    pub blocking_ok: bool,
    /// The least success rate.
    pub success_rate: f64,
    /// The largest latency p99, in milliseconds.
    pub latency_ms_p99: Option<f64>,
    /// Trials per design at most.
    pub trials: u64,
    /// The seed.
    pub seed: u64,
    /// The sweep's `[grid]` environment axes and `[latency.env]` table, and `[cost]`, as TOML.
    environment: toml::Table,
    cost: Option<toml::Table>,
}

/// One design: a protocol with its node count and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// The protocol.
    pub protocol: &'static str,
    /// Its nodes.
    pub nodes: u32,
    /// Its parameters, as a sweep file writes them.
    pub params: Vec<(&'static str, toml::Value)>,
    /// The consistency it provides.
    pub consistency: Consistency,
    /// Why it provides it under the faults asked for, in a few words.
    pub why: &'static str,
}

/// What each protocol provides, as [`designs`] uses it, in words (`coordsim protocols NAME`
/// prints it).
pub const PROVIDES: &[(&str, &str)] = &[
    (
        "fire-and-forget",
        "none: a message may be lost and nobody learns of it (1 node)",
    ),
    (
        "ack",
        "none: delivery retried until acknowledged, nothing agreed (1 node)",
    ),
    (
        "gossip",
        "eventual: every live node learns the update; f + 1 nodes survive f crashes",
    ),
    (
        "quorum-rw",
        "linearizable when r + w > N (a read quorum meets every write quorum; r = w = majority of 2f + 1 nodes survive f crashes), eventual when r + w <= N (a read may miss the latest write)",
    ),
    (
        "quorum",
        "linearizable with k = majority: majorities of 2f + 1 nodes intersect and survive f crashes",
    ),
    (
        "raft",
        "linearizable (phase = replication): a majority of 2f + 1 nodes commits, surviving f crashes",
    ),
    (
        "paxos",
        "linearizable (classic or multi): a majority of 2f + 1 acceptors, surviving f crashes",
    ),
    (
        "leader",
        "linearizable with mode = sync (every replica has each write before the answer), 2f + 1 nodes; semi-sync and async may lose acknowledged writes on failover",
    ),
    (
        "two-phase-commit",
        "atomic commit across N participants; blocks while a crashed coordinator is down",
    ),
    (
        "three-phase-commit",
        "atomic commit across N participants; a coordinator crash does not block",
    ),
    (
        "pbft",
        "Byzantine agreement: 3b + 1 replicas outvote b that lie",
    ),
];

/// The designs that provide `consistency` or more of the ladder (none, eventual,
/// linearizable), or exactly atomic commit or Byzantine agreement, under the faults of `r`:
///
/// | consistency | designs | nodes |
/// |---|---|---|
/// | none | fire-and-forget, ack | 1 |
/// | eventual | gossip (push), quorum-rw with R = W = 1 | f + 1 (at least 2) |
/// | linearizable | quorum (majority), quorum-rw (R = W = majority), raft (replication), paxos (classic and multi), leader (sync) | 2f + 1 |
/// | atomic-commit | two-phase-commit (only where blocking is allowed), three-phase-commit | participants |
/// | byzantine | pbft | 3b + 1 |
pub fn designs(r: &Requirements) -> Vec<Design> {
    use toml::Value;
    let word = |w: &str| Value::String(w.to_string());
    let mut out = Vec::new();
    let ladder = |c: Consistency| r.consistency <= c && c <= Consistency::Linearizable;
    if ladder(Consistency::None) {
        for protocol in ["fire-and-forget", "ack"] {
            out.push(Design {
                protocol,
                nodes: 1,
                params: Vec::new(),
                consistency: Consistency::None,
                why: "one receiver, nothing agreed",
            });
        }
    }
    if ladder(Consistency::Eventual) {
        let n = (r.crashes + 1).max(2);
        out.push(Design {
            protocol: "gossip",
            nodes: n,
            params: vec![("mode", word("push"))],
            consistency: Consistency::Eventual,
            why: "f + 1 copies; every live node learns the update",
        });
        out.push(Design {
            protocol: "quorum-rw",
            nodes: n,
            params: vec![("r", Value::Integer(1)), ("w", Value::Integer(1))],
            consistency: Consistency::Eventual,
            why: "R + W <= N: a read may miss the latest write",
        });
    }
    if ladder(Consistency::Linearizable) {
        let n = 2 * r.crashes + 1;
        let majority = || word("majority");
        let linearizable: [(&'static str, Vec<(&'static str, Value)>); 6] = [
            ("quorum", vec![("k", majority())]),
            ("quorum-rw", vec![("r", majority()), ("w", majority())]),
            ("raft", vec![("phase", word("replication"))]),
            ("paxos", vec![("variant", word("classic"))]),
            ("paxos", vec![("variant", word("multi"))]),
            ("leader", vec![("mode", word("sync"))]),
        ];
        for (protocol, params) in linearizable {
            out.push(Design {
                protocol,
                nodes: n,
                params,
                consistency: Consistency::Linearizable,
                why: "majorities of 2f + 1 intersect and survive f crashes",
            });
        }
    }
    if r.consistency == Consistency::AtomicCommit {
        if r.blocking_ok {
            out.push(Design {
                protocol: "two-phase-commit",
                nodes: r.participants,
                params: Vec::new(),
                consistency: Consistency::AtomicCommit,
                why: "all vote, then all commit; blocks while the coordinator is down",
            });
        }
        out.push(Design {
            protocol: "three-phase-commit",
            nodes: r.participants,
            params: Vec::new(),
            consistency: Consistency::AtomicCommit,
            why: "a pre-commit round: a coordinator crash does not block",
        });
    }
    if r.consistency == Consistency::Byzantine {
        out.push(Design {
            protocol: "pbft",
            nodes: 3 * r.byzantine.max(1) + 1,
            params: vec![("byzantine", Value::Integer(r.byzantine.into()))],
            consistency: Consistency::Byzantine,
            why: "3b + 1 replicas outvote b liars",
        });
    }
    out
}

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

    fn read(table: &toml::Table) -> Result<Self, FieldError> {
        let mut top = Fields::new("", table);
        let name = top.require("name")?.string()?.to_string();
        let consistency_field = top.require("consistency")?;
        let word = consistency_field.string()?;
        let consistency = CONSISTENCY_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let words: Vec<&str> = CONSISTENCY_WORDS.iter().map(|(w, _)| *w).collect();
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
        let participants = count(&mut top, "participants", 3, 2, 1000)?;
        let blocking_ok = match top.take("blocking") {
            Some(f) => match f.value {
                toml::Value::Boolean(b) => *b,
                _ => return Err(f.error("expected true or false")),
            },
            None => true,
        };
        let success_rate = match top.take("success_rate") {
            Some(f) => f.probability()?,
            None => 0.0,
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
            .find(|k| !["crash", "loss", "latency"].contains(&k.as_str()))
        {
            return Err(FieldError::new(
                format!("environment.{key}"),
                format!("unknown key `{key}` (expected crash, loss, latency)"),
            ));
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
            byzantine,
            participants,
            blocking_ok,
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
        for key in ["crash", "loss"] {
            if let Some(v) = self.environment.get(key) {
                grid.insert(key.into(), v.clone());
            }
        }
        grid.insert("latency".into(), Value::String("env".into()));
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
        let mut latency = Table::new();
        latency.insert("env".into(), self.environment["latency"].clone());
        sweep.insert("latency".into(), Value::Table(latency));
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

/// One measured design.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The design.
    pub design: Design,
    /// Its cell in the run.
    pub cell: u32,
    /// Its summary.
    pub record: CellRecord,
    /// Dollars per month of messages at the requirements' prices.
    pub usd_per_month: f64,
    /// The verdict on each objective: `success_rate`, then `latency_ms_p99` if asked for.
    pub verdicts: Vec<(&'static str, Judgement)>,
}

impl Measured {
    /// Whether it met every objective.
    pub fn meets(&self) -> bool {
        self.verdicts.iter().all(|(_, j)| j.verdict == Verdict::Met)
    }
}

/// What `advise` found.
#[derive(Debug, Clone)]
pub struct Advice {
    /// The requirements.
    pub requirements: Requirements,
    /// Every design, from the lowest rung up and cheapest first within a rung.
    pub designs: Vec<Measured>,
    /// The run directory.
    pub dir: PathBuf,
}

impl Advice {
    /// The first design that meets every objective, if any: the cheapest of the lowest rung
    /// that has one.
    pub fn recommended(&self) -> Option<&Measured> {
        self.designs.iter().find(|m| m.meets())
    }
}

/// Measures the designs of `requirements` into `dir` and ranks them.
pub fn advise(
    requirements: Requirements,
    dir: &Path,
    threads: Option<usize>,
) -> Result<Advice, AdviseError> {
    let designs = designs(&requirements);
    let text = requirements.sweep_text(&designs);
    let sweep = Sweep::parse(&text, &format!("advise-{}", requirements.name))?;
    let plan = Plan {
        options: crate::engine::RunOptions {
            threads,
            shard: crate::engine::Shard::WHOLE,
            checkpoint_every: Some(std::time::Duration::from_secs(5)),
        },
        dir: dir.to_path_buf(),
        resume: false,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let finished = run::execute(&sweep, &plan, &stop, &crate::engine::Progress::default())?;
    let Finished::Complete { records, dir, .. } = finished else {
        return Err(AdviseError::Interrupted);
    };
    let metrics: Vec<&'static str> = sweep.expectations[0]
        .objectives
        .iter()
        .map(|o| o.metric.name())
        .collect();
    let mut measured: Vec<Measured> = records
        .into_iter()
        .map(|record| {
            let cell = &sweep.cells[record.cell_id as usize];
            let design = designs
                .iter()
                .find(|d| {
                    d.protocol == cell.protocol.name
                        && d.nodes == cell.nodes
                        && d.params.iter().all(|(k, v)| {
                            cell.value(k)
                                .is_some_and(|x| value_matches(&x, v, cell.nodes))
                        })
                })
                .cloned();
            (record, design)
        })
        .filter_map(|(record, design)| {
            let design = design?;
            let cell = &sweep.cells[record.cell_id as usize];
            let usd = sweep
                .cost
                .usd_per_month(cell.protocol.name, record.summary.messages_mean);
            let verdicts = metrics
                .iter()
                .copied()
                .zip(record.verdicts.iter().copied())
                .collect();
            Some(Measured {
                design,
                cell: record.cell_id,
                usd_per_month: usd,
                verdicts,
                record,
            })
        })
        .collect();
    // From the lowest rung up, then by cost: climb only when a requirement forces it.
    measured.sort_by(|a, b| {
        (a.design.consistency, a.usd_per_month)
            .partial_cmp(&(b.design.consistency, b.usd_per_month))
            .expect("costs are numbers")
    });
    Ok(Advice {
        requirements,
        designs: measured,
        dir,
    })
}

/// Whether a cell's parameter value is the one a design names.
fn value_matches(value: &crate::model::Value, wanted: &toml::Value, nodes: u32) -> bool {
    use crate::model::Value as V;
    match (value, wanted) {
        (V::Quorum(rule), toml::Value::String(w)) => rule.to_string() == *w,
        (V::Quorum(rule), toml::Value::Integer(k)) => i64::from(rule.resolve(nodes)) == *k,
        (V::Choice(word), toml::Value::String(w)) => word == w,
        (V::Count(n), toml::Value::Integer(k)) => i64::from(*n) == *k,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_s_protocol_states_what_it_provides() {
        let table = "name = \"x\"\nconsistency = \"none\"\n[environment]\nlatency = 1\n";
        for (consistency, extra) in [
            ("none", ""),
            ("linearizable", "crashes = 2\n"),
            ("atomic-commit", ""),
            ("byzantine", "byzantine = 2\n"),
        ] {
            let text = table.replace("\"none\"", &format!("\"{consistency}\"\n{extra}"));
            let r = Requirements::read(&text.parse().unwrap()).unwrap();
            for d in designs(&r) {
                assert!(
                    PROVIDES.iter().any(|(p, _)| *p == d.protocol),
                    "{}",
                    d.protocol
                );
                assert!(
                    crate::protocols::BUILTIN
                        .iter()
                        .any(|p| p.name == d.protocol)
                );
            }
        }
    }
}
