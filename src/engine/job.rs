//! What the engine runs ([`Job`]): a layout of work items, a seed, precision targets, and a
//! source of models built when the engine reaches a cell. A [`Sweep`] is one.

use super::Layout;
use std::sync::Arc;

use crate::model::Simulate;
use crate::model::objective::Objectives;
use crate::model::precision::Precision;
use crate::sweep::Sweep;

/// Builds the model of a cell when the engine reaches it; the engine drops it once the cell
/// is finished, so that memory holds the cells in flight.
pub trait Models: Sync {
    /// The model of cell `cell`.
    fn model(&self, cell: u32) -> Box<dyn Simulate>;
}

impl<F: Fn(u32) -> Box<dyn Simulate> + Sync> Models for F {
    fn model(&self, cell: u32) -> Box<dyn Simulate> {
        self(cell)
    }
}

impl Models for Sweep {
    fn model(&self, cell: u32) -> Box<dyn Simulate> {
        Sweep::model(self, cell as usize)
    }
}

/// Everything the engine needs to run cells: how many and how many trials each, the seed of
/// their random streams, the precision targets of an adaptive run, and their models.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// The cells and their trials (the cap of an adaptive run).
    pub layout: Layout,
    /// The seed of every random stream.
    pub seed: u64,
    /// Precision targets; none set for a fixed number of trials.
    pub precision: Precision,
    /// The cells' models.
    pub models: &'a dyn Models,
    /// The cells' objectives.
    pub objectives: &'a Arc<Objectives>,
}

impl<'a> From<&'a Sweep> for Job<'a> {
    fn from(sweep: &'a Sweep) -> Self {
        Self {
            layout: layout(sweep),
            seed: sweep.seed,
            precision: sweep.precision,
            models: sweep,
            objectives: &sweep.objectives,
        }
    }
}

/// The work items of a sweep.
pub fn layout(sweep: &Sweep) -> Layout {
    Layout {
        cells: sweep.cells.len() as u32,
        trials: sweep.trials,
    }
}
