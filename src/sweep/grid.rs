//! Grid expansion: the axes of a sweep file as a cartesian product of cells.

use std::sync::Arc;

use super::cell::Cell;
use crate::latency::Latency;
use crate::protocols::{ProtocolInfo, Value};

/// One axis of a protocol parameter: its values and where they were written.
#[derive(Debug, Clone)]
pub struct ParamAxis {
    /// The values, in file order.
    pub values: Vec<Value>,
    /// The field they came from (`grid.k`, `params.quorum.k`), or where a default would go.
    pub source: String,
}

/// The axes of a sweep, checked and ready to expand.
#[derive(Debug, Clone)]
pub struct Axes {
    /// `grid.protocol`, with each protocol's parameter axes in the order of its `params`.
    pub protocols: Vec<(&'static ProtocolInfo, Vec<ParamAxis>)>,
    /// `grid.nodes`.
    pub nodes: Vec<u32>,
    /// `grid.crash`.
    pub crash: Vec<f64>,
    /// `grid.loss`.
    pub loss: Vec<f64>,
    /// `grid.latency`: names and models.
    pub latency: Vec<(Arc<str>, Arc<Latency>)>,
}

impl Axes {
    /// Number of cells the grid expands to, without expanding it.
    pub fn cell_count(&self) -> u128 {
        let common =
            (self.nodes.len() * self.crash.len() * self.loss.len() * self.latency.len()) as u128;
        self.protocols
            .iter()
            .map(|(_, axes)| {
                axes.iter()
                    .map(|a| a.values.len() as u128)
                    .product::<u128>()
            })
            .sum::<u128>()
            * common
    }

    /// The cells, in expansion order: protocol, nodes, crash, loss, latency, then the
    /// protocol's parameters in declaration order; the last axis varies fastest.
    pub fn expand(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (protocol, axes) in &self.protocols {
            for &nodes in &self.nodes {
                for &crash in &self.crash {
                    for &loss in &self.loss {
                        for (latency_name, latency) in &self.latency {
                            for params in product(axes) {
                                cells.push(Cell {
                                    id: cells.len() as u32,
                                    protocol,
                                    nodes,
                                    crash,
                                    loss,
                                    latency_name: latency_name.clone(),
                                    latency: latency.clone(),
                                    params,
                                });
                            }
                        }
                    }
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
