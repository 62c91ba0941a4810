//! One grid cell: a protocol with every parameter fixed.

use std::fmt;
use std::sync::Arc;

use crate::latency::Latency;
use crate::model::{
    Env, ModelError, ParamSpec, ProtocolInfo, QuorumRule, Setting, Simulate, Value,
};

/// One point of the grid: a protocol, its environment and its parameters.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Position in the grid's expansion order, from 0; names the cell in every output.
    pub id: u32,
    /// The protocol.
    pub protocol: &'static ProtocolInfo,
    /// Number of nodes N.
    pub nodes: u32,
    /// Per-node crash probability per trial.
    pub crash: f64,
    /// Per-message loss probability.
    pub loss: f64,
    /// Failure zones the nodes are spread over.
    pub zones: u32,
    /// Per-zone failure probability per trial.
    pub zone_crash: f64,
    /// Probability per trial that the nodes split in two.
    pub partition: f64,
    /// Regions the nodes are spread over.
    pub regions: u32,
    /// Name of the latency model in the sweep file.
    pub latency_name: Arc<str>,
    /// The one-way delay model (within a region).
    pub latency: Arc<Latency>,
    /// Name and model of the delay between regions (only when `regions > 1`).
    pub cross_latency: Option<(Arc<str>, Arc<Latency>)>,
    /// Name and model of the time of one durable write at a node (`grid.persist`), if any.
    pub persist: Option<(Arc<str>, Arc<Latency>)>,
    /// Name and model of the time a node takes to handle one message (`grid.process`), if
    /// any.
    pub process: Option<(Arc<str>, Arc<Latency>)>,
    /// One value per parameter of the protocol, in the order of `protocol.params`.
    pub params: Vec<Value>,
}

impl Cell {
    /// The failure and delay environment of this cell.
    pub fn env(&self) -> Result<Env, ModelError> {
        Env::new(self.crash, self.loss, Latency::clone(&self.latency))?
            .with_zones(self.zones, self.zone_crash)?
            .with_partition(self.partition)?
            .with_regions(
                self.regions,
                self.cross_latency.as_ref().map(|(_, l)| Latency::clone(l)),
            )
            .map(|env| {
                env.with_node_time(
                    self.persist.as_ref().map(|(_, l)| Latency::clone(l)),
                    self.process.as_ref().map(|(_, l)| Latency::clone(l)),
                )
            })
    }

    /// The value of parameter `name`, if the protocol has it.
    pub fn value(&self, name: &str) -> Option<Value> {
        let i = self.protocol.params.iter().position(|p| p.name == name)?;
        Some(self.params[i])
    }

    /// The parameters with their specs.
    pub fn param_values(&self) -> impl Iterator<Item = (&'static ParamSpec, Value)> + '_ {
        self.protocol.params.iter().zip(self.params.iter().copied())
    }

    /// The model of this cell.
    pub fn build(&self) -> Result<Box<dyn Simulate>, ModelError> {
        (self.protocol.build)(&self.setting()?)
    }

    /// What the protocol is built from: the node count, the environment and the parameters.
    pub fn setting(&self) -> Result<Setting<'_>, ModelError> {
        Ok(Setting::new(
            self.nodes,
            self.env()?,
            self.protocol.params,
            &self.params,
        ))
    }
}

/// The environment settings that differ from the defaults, then the protocol parameters, as
/// `zones=3 zone_crash=0.01 k=majority(3) timeout_ms=50`.
pub struct ParamsDisplay<'a>(pub &'a Cell);

impl fmt::Display for ParamsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cell = self.0;
        let mut words: Vec<String> = Vec::new();
        if cell.zones > 1 {
            words.push(format!(
                "zones={} zone_crash={}",
                cell.zones, cell.zone_crash
            ));
        }
        if cell.partition > 0.0 {
            words.push(format!("partition={}", cell.partition));
        }
        if let Some((name, _)) = &cell.cross_latency {
            words.push(format!("regions={} cross_latency={name}", cell.regions));
        }
        if let Some((name, _)) = &cell.persist {
            words.push(format!("persist={name}"));
        }
        if let Some((name, _)) = &cell.process {
            words.push(format!("process={name}"));
        }
        for word in &words {
            write!(f, "{word} ")?;
        }
        for (i, (spec, value)) in cell.param_values().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match value {
                Value::Quorum(rule @ (QuorumRule::Majority | QuorumRule::All)) => {
                    write!(f, "{}={rule}({})", spec.name, rule.resolve(cell.nodes))?
                }
                _ => write!(f, "{}={value}", spec.name)?,
            }
        }
        Ok(())
    }
}
