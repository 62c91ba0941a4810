//! Grid expansion: the axes of a sweep file as a cartesian product of cells.

use std::sync::Arc;

use super::cell::Cell;
use crate::latency::Latency;
use crate::model::{ProtocolInfo, Value};

/// One axis of a protocol parameter: its values and where they were written.
#[derive(Debug, Clone)]
pub struct ParamAxis {
    /// The values, in file order.
    pub values: Vec<Value>,
    /// The field they came from (`grid.k`, `params.quorum.k`), or where a default would go.
    pub source: String,
}

/// One protocol of a sweep and its own axes.
#[derive(Debug, Clone)]
pub struct ProtocolAxes {
    /// The protocol.
    pub protocol: &'static ProtocolInfo,
    /// Its parameter axes, in the order of its `params`.
    pub params: Vec<ParamAxis>,
    /// `params.<protocol>.nodes`, replacing `grid.nodes` for this protocol.
    pub nodes: Option<Vec<u32>>,
}

/// The axes of a sweep, checked and ready to expand.
#[derive(Debug, Clone)]
pub struct Axes {
    /// `grid.protocol`, with each protocol's own axes.
    pub protocols: Vec<ProtocolAxes>,
    /// `grid.nodes`.
    pub nodes: Vec<u32>,
    /// `grid.crash`.
    pub crash: Vec<f64>,
    /// `grid.loss`.
    pub loss: Vec<f64>,
    /// `grid.zones`.
    pub zones: Vec<u32>,
    /// `grid.zone_crash`.
    pub zone_crash: Vec<f64>,
    /// `grid.partition`.
    pub partition: Vec<f64>,
    /// `grid.regions`.
    pub regions: Vec<u32>,
    /// `grid.latency`: names and models.
    pub latency: Vec<(Arc<str>, Arc<Latency>)>,
    /// `grid.cross_latency`: names and models; an axis only for cells with `regions > 1`.
    pub cross_latency: Vec<(Arc<str>, Arc<Latency>)>,
    /// `grid.persist`: names and models of a durable write's time; empty for none.
    pub persist: Vec<(Arc<str>, Arc<Latency>)>,
    /// `grid.process`: names and models of a message's handling time; empty for none.
    pub process: Vec<(Arc<str>, Arc<Latency>)>,
}

/// The environment of a cell, before its protocol parameters.
struct Environment {
    nodes: u32,
    crash: f64,
    loss: f64,
    zones: u32,
    zone_crash: f64,
    partition: f64,
    regions: u32,
    latency: (Arc<str>, Arc<Latency>),
    cross_latency: Option<(Arc<str>, Arc<Latency>)>,
    persist: Option<(Arc<str>, Arc<Latency>)>,
    process: Option<(Arc<str>, Arc<Latency>)>,
}

impl Axes {
    /// Every environment, in expansion order: nodes, crash, loss, zones, zone_crash,
    /// partition, regions, latency, cross_latency, persist, process (the last varying
    /// fastest). Cells with one region take no cross-region latency, so that axis does not
    /// multiply them; without `persist` or `process` those axes are one value, none.
    fn environments<'a>(&'a self, nodes: &'a [u32]) -> impl Iterator<Item = Environment> + 'a {
        let crosses = |regions: u32| -> Vec<Option<(Arc<str>, Arc<Latency>)>> {
            if regions == 1 || self.cross_latency.is_empty() {
                vec![None]
            } else {
                self.cross_latency.iter().cloned().map(Some).collect()
            }
        };
        let optional =
            |axis: &[(Arc<str>, Arc<Latency>)]| -> Vec<Option<(Arc<str>, Arc<Latency>)>> {
                if axis.is_empty() {
                    vec![None]
                } else {
                    axis.iter().cloned().map(Some).collect()
                }
            };
        let (persists, processes) = (optional(&self.persist), optional(&self.process));
        let mut out = Vec::new();
        for &nodes in nodes {
            for &crash in &self.crash {
                for &loss in &self.loss {
                    for &zones in &self.zones {
                        for &zone_crash in &self.zone_crash {
                            for &partition in &self.partition {
                                for &regions in &self.regions {
                                    for latency in &self.latency {
                                        for cross_latency in crosses(regions) {
                                            for persist in &persists {
                                                for process in &processes {
                                                    out.push(Environment {
                                                        nodes,
                                                        crash,
                                                        loss,
                                                        zones,
                                                        zone_crash,
                                                        partition,
                                                        regions,
                                                        latency: latency.clone(),
                                                        cross_latency: cross_latency.clone(),
                                                        persist: persist.clone(),
                                                        process: process.clone(),
                                                    });
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out.into_iter()
    }

    /// Number of cells the grid expands to, without building them.
    pub fn cell_count(&self) -> u128 {
        let regions =
            |multi: bool| self.regions.iter().filter(|&&r| (r > 1) == multi).count() as u128;
        let cross = self.cross_latency.len().max(1) as u128;
        let environments = (self.crash.len()
            * self.loss.len()
            * self.zones.len()
            * self.zone_crash.len()
            * self.partition.len()
            * self.latency.len()
            * self.persist.len().max(1)
            * self.process.len().max(1)) as u128
            * (regions(false) + regions(true) * cross);
        self.protocols
            .iter()
            .map(|p| {
                let params: u128 = p.params.iter().map(|a| a.values.len() as u128).product();
                let nodes = p.nodes.as_ref().unwrap_or(&self.nodes).len() as u128;
                params * nodes * environments
            })
            .sum()
    }

    /// The cells, in expansion order: protocol, then the environment (see above), then the
    /// protocol's parameters in declaration order; the last axis varies fastest.
    pub fn expand(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for p in &self.protocols {
            for env in self.environments(p.nodes.as_ref().unwrap_or(&self.nodes)) {
                for params in product(&p.params) {
                    cells.push(Cell {
                        id: cells.len() as u32,
                        protocol: p.protocol,
                        nodes: env.nodes,
                        crash: env.crash,
                        loss: env.loss,
                        zones: env.zones,
                        zone_crash: env.zone_crash,
                        partition: env.partition,
                        regions: env.regions,
                        latency_name: env.latency.0.clone(),
                        latency: env.latency.1.clone(),
                        cross_latency: env.cross_latency.clone(),
                        persist: env.persist.clone(),
                        process: env.process.clone(),
                        params,
                    });
                }
            }
        }
        cells
    }
}

/// Every combination of one value per axis, the last axis fastest.
fn product(axes: &[ParamAxis]) -> Vec<Vec<Value>> {
    let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(*v);
                    next
                })
            })
            .collect();
    }
    combos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(values: &[u32]) -> ParamAxis {
        ParamAxis {
            values: values.iter().map(|&n| Value::Count(n)).collect(),
            source: "grid.x".into(),
        }
    }

    #[test]
    fn product_varies_the_last_axis_fastest() {
        let combos = product(&[axis(&[1, 2]), axis(&[7, 8, 9])]);
        let flat: Vec<Vec<u32>> = combos
            .iter()
            .map(|c| {
                c.iter()
                    .map(|v| match v {
                        Value::Count(n) => *n,
                        _ => unreachable!(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(flat[0], vec![1, 7]);
        assert_eq!(flat[1], vec![1, 8]);
        assert_eq!(flat[3], vec![2, 7]);
        assert_eq!(flat.len(), 6);
        assert_eq!(product(&[]), vec![Vec::<Value>::new()]);
    }
}
