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

impl Axes {
    /// Number of cells the grid expands to, without building them.
    pub fn cell_count(&self) -> u128 {
        let environments = self.crash.len() as u128
            * self.loss.len() as u128
            * self.zones.len() as u128
            * self.zone_crash.len() as u128
            * self.partition.len() as u128
            * self.places().len() as u128
            * self.persist.len().max(1) as u128
            * self.process.len().max(1) as u128;
        self.protocols
            .iter()
            .map(|p| {
                let params: u128 = p.params.iter().map(|a| a.values.len() as u128).product();
                let nodes = p.nodes.as_ref().unwrap_or(&self.nodes).len() as u128;
                params * nodes * environments
            })
            .sum()
    }

    /// The (regions, latency, cross-region latency) combinations in expansion order: cells
    /// with one region take no cross-region latency, so that axis does not multiply them.
    fn places(&self) -> Vec<Place> {
        let mut out = Vec::new();
        for (r, &regions) in self.regions.iter().enumerate() {
            for latency in 0..self.latency.len() {
                if regions == 1 || self.cross_latency.is_empty() {
                    out.push(Place {
                        regions: r,
                        latency,
                        cross: None,
                    });
                } else {
                    out.extend((0..self.cross_latency.len()).map(|c| Place {
                        regions: r,
                        latency,
                        cross: Some(c),
                    }));
                }
            }
        }
        out
    }
}

/// One (regions, latency, cross-region latency) combination, as indices into the axes.
#[derive(Debug, Clone, Copy)]
struct Place {
    regions: usize,
    latency: usize,
    cross: Option<usize>,
}

/// The cells of a grid, in expansion order, each made from the axes when asked for: memory
/// holds the axes, not the cells, whatever their number.
///
/// The order: protocol, then nodes, crash, loss, zones, zone_crash, partition, regions,
/// latency, cross_latency, persist, process, then the protocol's parameters in declaration
/// order; the last axis varies fastest. Cells with one region take no cross-region latency;
/// without `persist` or `process` those axes are one value, none.
#[derive(Debug, Clone)]
pub struct Cells {
    axes: Axes,
    places: Vec<Place>,
    /// The first id of each protocol's cells, and one past the last cell.
    starts: Vec<u32>,
}

impl Cells {
    /// The cells of `axes`, which must number at most `u32::MAX` ([`Axes::cell_count`]).
    pub fn new(axes: Axes) -> Self {
        assert!(axes.cell_count() <= u128::from(u32::MAX), "too many cells");
        let places = axes.places();
        let environments = axes.crash.len()
            * axes.loss.len()
            * axes.zones.len()
            * axes.zone_crash.len()
            * axes.partition.len()
            * places.len()
            * axes.persist.len().max(1)
            * axes.process.len().max(1);
        let mut starts = vec![0u32];
        for p in &axes.protocols {
            let params: usize = p.params.iter().map(|a| a.values.len()).product();
            let nodes = p.nodes.as_ref().unwrap_or(&axes.nodes).len();
            let last = *starts.last().expect("starts at 0");
            starts.push(last + (params * nodes * environments) as u32);
        }
        Self {
            axes,
            places,
            starts,
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        *self.starts.last().expect("starts at 0") as usize
    }

    /// Whether the grid has no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `id`, made from the axes.
    ///
    /// # Panics
    /// If `id >= self.len()`.
    pub fn get(&self, id: usize) -> Cell {
        assert!(id < self.len(), "cell {id} of {}", self.len());
        let id = id as u32;
        let p = self.starts.partition_point(|&start| start <= id) - 1;
        let axes = &self.axes;
        let protocol = &axes.protocols[p];
        let mut rest = (id - self.starts[p]) as usize;
        let mut digit = |len: usize| {
            let d = rest % len;
            rest /= len;
            d
        };
        let mut params = vec![Value::Count(0); protocol.params.len()];
        for (value, axis) in params.iter_mut().zip(&protocol.params).rev() {
            *value = axis.values[digit(axis.values.len())];
        }
        let optional = |axis: &[(Arc<str>, Arc<Latency>)], d: usize| axis.get(d).cloned();
        let process = optional(&axes.process, digit(axes.process.len().max(1)));
        let persist = optional(&axes.persist, digit(axes.persist.len().max(1)));
        let place = self.places[digit(self.places.len())];
        let partition = axes.partition[digit(axes.partition.len())];
        let zone_crash = axes.zone_crash[digit(axes.zone_crash.len())];
        let zones = axes.zones[digit(axes.zones.len())];
        let loss = axes.loss[digit(axes.loss.len())];
        let crash = axes.crash[digit(axes.crash.len())];
        let nodes = protocol.nodes.as_ref().unwrap_or(&axes.nodes);
        let nodes = nodes[digit(nodes.len())];
        let (latency_name, latency) = axes.latency[place.latency].clone();
        Cell {
            id,
            protocol: protocol.protocol,
            nodes,
            crash,
            loss,
            zones,
            zone_crash,
            partition,
            regions: axes.regions[place.regions],
            latency_name,
            latency,
            cross_latency: place.cross.map(|c| axes.cross_latency[c].clone()),
            persist,
            process,
            params,
        }
    }

    /// Every cell, in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Cell> + '_ {
        (0..self.len()).map(|id| self.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Exponential;
    use crate::model::QuorumRule;

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

    type Named = Option<(Arc<str>, Arc<Latency>)>;

    /// The grid written as nested loops, the last axis innermost: what [`Cells`] must give.
    fn expanded(axes: &Axes) -> Vec<Cell> {
        let optional = |axis: &[(Arc<str>, Arc<Latency>)]| -> Vec<Named> {
            if axis.is_empty() {
                vec![None]
            } else {
                axis.iter().cloned().map(Some).collect()
            }
        };
        let mut cells = Vec::new();
        for p in &axes.protocols {
            for &nodes in p.nodes.as_ref().unwrap_or(&axes.nodes) {
                for &crash in &axes.crash {
                    for &loss in &axes.loss {
                        for &zones in &axes.zones {
                            for &zone_crash in &axes.zone_crash {
                                for &partition in &axes.partition {
                                    for &regions in &axes.regions {
                                        for latency in &axes.latency {
                                            let crosses = if regions == 1 {
                                                vec![None]
                                            } else {
                                                optional(&axes.cross_latency)
                                            };
                                            for cross_latency in crosses {
                                                for persist in optional(&axes.persist) {
                                                    for process in optional(&axes.process) {
                                                        for params in product(&p.params) {
                                                            cells.push(Cell {
                                                                id: cells.len() as u32,
                                                                protocol: p.protocol,
                                                                nodes,
                                                                crash,
                                                                loss,
                                                                zones,
                                                                zone_crash,
                                                                partition,
                                                                regions,
                                                                latency_name: latency.0.clone(),
                                                                latency: latency.1.clone(),
                                                                cross_latency: cross_latency
                                                                    .clone(),
                                                                persist: persist.clone(),
                                                                process: process.clone(),
                                                                params,
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
            }
        }
        cells
    }

    /// Every field of a cell, as text.
    fn described(cell: &Cell) -> String {
        let name = |m: &Named| m.as_ref().map(|(n, _)| n.to_string());
        format!(
            "{} {} {} {} {} {} {} {} {} {} {:?} {:?} {:?} {:?}",
            cell.id,
            cell.protocol.name,
            cell.nodes,
            cell.crash,
            cell.loss,
            cell.zones,
            cell.zone_crash,
            cell.partition,
            cell.regions,
            cell.latency_name,
            name(&cell.cross_latency),
            name(&cell.persist),
            name(&cell.process),
            cell.params
        )
    }

    fn law(name: &str, mean_ms: f64) -> (Arc<str>, Arc<Latency>) {
        let latency: Latency = Exponential::new(mean_ms).unwrap().into();
        (name.into(), Arc::new(latency))
    }

    fn builtin(name: &str) -> &'static ProtocolInfo {
        crate::protocols::BUILTIN
            .iter()
            .find(|p| p.name == name)
            .expect("a built-in protocol")
    }

    fn protocol(info: &'static ProtocolInfo, nodes: Option<Vec<u32>>) -> ProtocolAxes {
        let params = info
            .params
            .iter()
            .map(|spec| ParamAxis {
                values: match spec.name {
                    "k" => vec![Value::Count(2), Value::Quorum(QuorumRule::Majority)],
                    _ => vec![spec.default],
                },
                source: format!("grid.{}", spec.name),
            })
            .collect();
        ProtocolAxes {
            protocol: info,
            params,
            nodes,
        }
    }

    /// The axes of `protocol` in one environment.
    fn one_environment(protocol: ProtocolAxes) -> Axes {
        Axes {
            protocols: vec![protocol],
            nodes: vec![3],
            crash: vec![0.0],
            loss: vec![0.0],
            zones: vec![1],
            zone_crash: vec![0.0],
            partition: vec![0.0],
            regions: vec![1],
            latency: vec![law("lan", 0.5)],
            cross_latency: Vec::new(),
            persist: Vec::new(),
            process: Vec::new(),
        }
    }

    #[test]
    fn cells_made_on_demand_are_the_nested_expansion() {
        let quorum = builtin("quorum");
        let two_pc = builtin("two-phase-commit");
        let plain = one_environment(protocol(quorum, None));
        let wide = Axes {
            protocols: vec![
                protocol(quorum, None),
                protocol(two_pc, Some(vec![4, 6])),
                protocol(quorum, Some(vec![7])),
            ],
            nodes: vec![3, 5, 9],
            crash: vec![0.0, 0.01, 0.1],
            loss: vec![0.0, 0.02],
            zones: vec![1, 3],
            zone_crash: vec![0.0, 0.05],
            partition: vec![0.0, 0.001],
            regions: vec![1, 2, 3],
            latency: vec![law("lan", 0.5), law("wan", 20.0)],
            cross_latency: vec![law("x1", 30.0), law("x2", 60.0), law("x3", 90.0)],
            persist: vec![law("ssd", 0.05), law("disk", 5.0)],
            process: vec![law("cpu", 0.01)],
        };
        let no_cross = Axes {
            cross_latency: Vec::new(),
            persist: Vec::new(),
            ..wide.clone()
        };
        for axes in [plain, wide, no_cross] {
            let want = expanded(&axes);
            let cells = Cells::new(axes.clone());
            assert_eq!(cells.len(), want.len());
            assert_eq!(axes.cell_count(), want.len() as u128);
            assert!(want.len() > 1);
            for (got, want) in cells.iter().zip(&want) {
                assert_eq!(described(&got), described(want));
            }
        }
    }

    #[test]
    #[should_panic(expected = "cell 1 of 1")]
    fn a_cell_past_the_last_is_refused() {
        Cells::new(one_environment(protocol(builtin("fire-and-forget"), None))).get(1);
    }
}
