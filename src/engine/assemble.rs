//! Putting cells back together from the tallies of batches, checkpoints and shards.

use std::collections::BTreeMap;

use super::{Batch, CellRun, Layout, Shard};
use crate::tally::Tally;

/// Collects partial tallies and hands out each cell once all its work items (of one shard)
/// are in.
///
/// ```
/// use coordsim::engine::{Assembler, Layout, Shard, CHUNK_TRIALS};
/// use coordsim::tally::Tally;
/// let layout = Layout { cells: 1, trials: 2 * CHUNK_TRIALS };
/// let mut assembler = Assembler::new(layout, Shard::WHOLE);
/// let mut half = Tally::empty();
/// half.chunks = 1;
/// assert!(assembler.add(0, half.clone()).is_none());
/// assert_eq!(assembler.add(0, half).unwrap().tally.chunks, 2);
/// ```
#[derive(Debug)]
pub struct Assembler {
    layout: Layout,
    shard: Shard,
    open: BTreeMap<u32, Tally>,
}

impl Assembler {
    /// Cells of `layout`, each complete when its items of `shard` are in.
    pub fn new(layout: Layout, shard: Shard) -> Self {
        Self {
            layout,
            shard,
            open: BTreeMap::new(),
        }
    }

    /// Adds a partial tally of `cell`; returns the cell if that completed it.
    pub fn add(&mut self, cell: u32, tally: Tally) -> Option<CellRun> {
        let open = self.open.entry(cell).or_insert_with(Tally::empty);
        open.merge(&tally);
        if open.chunks < self.layout.cell_items_in(cell, self.shard) {
            return None;
        }
        let tally = self.open.remove(&cell).expect("just merged");
        Some(CellRun {
            cell_id: cell,
            tally,
        })
    }

    /// Adds every tally of a batch; returns the cells it completed, in cell order.
    pub fn add_batch(&mut self, batch: Batch) -> Vec<CellRun> {
        batch
            .tallies
            .into_iter()
            .filter_map(|(cell, tally)| self.add(cell, tally))
            .collect()
    }

    /// Cells still waiting for work items.
    pub fn open_cells(&self) -> usize {
        self.open.len()
    }
}
