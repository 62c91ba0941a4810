//! Work items: their global numbering, shards, and sets of finished items.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Trials per work item. Part of what a seed means: changing it changes every result.
pub const CHUNK_TRIALS: u64 = 1 << 14;

/// A piece of work: one chunk of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkItem {
    /// Its global index: cell-major, `cell * chunks_per_cell + chunk`.
    pub index: u64,
    /// The cell's id.
    pub cell: u32,
    /// The chunk's index within the cell.
    pub chunk: u64,
    /// Trials in the chunk.
    pub trials: u64,
}

/// The work items of a sweep: every cell cut into chunks of [`CHUNK_TRIALS`] trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Cells in the sweep.
    pub cells: u32,
    /// Trials per cell.
    pub trials: u64,
}

impl Layout {
    /// Work items per cell.
    pub fn chunks_per_cell(&self) -> u64 {
        self.trials.div_ceil(CHUNK_TRIALS)
    }

    /// Work items in the sweep.
    pub fn items(&self) -> u64 {
        u64::from(self.cells) * self.chunks_per_cell()
    }

    /// The work item with global index `index`.
    pub fn item(&self, index: u64) -> WorkItem {
        let per_cell = self.chunks_per_cell();
        let chunk = index % per_cell;
        WorkItem {
            index,
            cell: (index / per_cell) as u32,
            chunk,
            trials: CHUNK_TRIALS.min(self.trials - chunk * CHUNK_TRIALS),
        }
    }

    /// The work items of `shard`: the `index`-th of `count` contiguous blocks of nearly equal
    /// size, `[floor(index * items / count), floor((index + 1) * items / count))`.
    pub fn shard_items(&self, shard: Shard) -> std::ops::Range<u64> {
        let items = u128::from(self.items());
        let bound = |k: u64| (u128::from(k) * items / u128::from(shard.count)) as u64;
        bound(shard.index)..bound(shard.index + 1)
    }

    /// The global indices of the work items of `cell`.
    pub fn cell_items(&self, cell: u32) -> std::ops::Range<u64> {
        let per_cell = self.chunks_per_cell();
        let first = u64::from(cell) * per_cell;
        first..first + per_cell
    }

    /// The work items and trials of each cell among `items`, cell by cell: what tallies of
    /// exactly those items count. Costs a step per cell touched, not per item.
    pub fn cell_work(&self, items: &ItemSet) -> std::collections::BTreeMap<u32, (u64, u64)> {
        let per_cell = self.chunks_per_cell();
        let mut work = std::collections::BTreeMap::new();
        if per_cell == 0 {
            return work;
        }
        for &(start, end) in items.ranges() {
            let mut at = start;
            while at < end {
                let cell = at / per_cell;
                let stop = end.min(cell.saturating_add(1).saturating_mul(per_cell));
                let last = (stop - 1) % per_cell;
                // Every chunk is whole but a cell's last, which holds what is left.
                let mut trials = (stop - at) * CHUNK_TRIALS;
                if last + 1 == per_cell {
                    trials -= per_cell * CHUNK_TRIALS - self.trials;
                }
                let entry: &mut (u64, u64) = work.entry(cell as u32).or_default();
                entry.0 += stop - at;
                entry.1 += trials;
                at = stop;
            }
        }
        work
    }

    /// The cells with work items in `shard`.
    pub fn shard_cells(&self, shard: Shard) -> std::ops::Range<u32> {
        let block = self.shard_items(shard);
        if block.is_empty() {
            return 0..0;
        }
        let per_cell = self.chunks_per_cell();
        (block.start / per_cell) as u32..((block.end - 1) / per_cell) as u32 + 1
    }

    /// Trials in the work items of `shard`: a chunk each, less the shortfall of each cell's
    /// last chunk in it.
    pub fn shard_trials(&self, shard: Shard) -> u64 {
        let block = self.shard_items(shard);
        let per_cell = self.chunks_per_cell();
        let short = per_cell * CHUNK_TRIALS - self.trials;
        // Cell c's last item, (c + 1) per_cell - 1, is below `end` for end / per_cell cells.
        let last_chunks = block.end / per_cell - block.start / per_cell;
        (block.end - block.start) * CHUNK_TRIALS - last_chunks * short
    }

    /// How many work items of `cell` belong to `shard`.
    pub fn cell_items_in(&self, cell: u32, shard: Shard) -> u64 {
        let per_cell = self.chunks_per_cell();
        let first = u64::from(cell) * per_cell;
        let block = self.shard_items(shard);
        let (start, end) = (block.start.max(first), block.end.min(first + per_cell));
        end.saturating_sub(start)
    }
}

/// One of `count` independent processes sharing a sweep: it runs the `index`-th of `count`
/// contiguous blocks of work items ([`Layout::shard_items`]), so the shares are equal within
/// one item and even a single huge cell is spread over every process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's share, from 0.
    pub index: u64,
    /// How many shares there are.
    pub count: u64,
}

impl Shard {
    /// The whole sweep in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Share `index` of `count`, `index < count`.
    pub fn new(index: u64, count: u64) -> Result<Self, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError(format!("{index}/{count}")));
        }
        Ok(Self { index, count })
    }
}

/// A shard that is not `K/N` with `0 <= K < N`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("shard `{0}` is not K/N with 0 <= K < N")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s.split_once('/').ok_or_else(|| ShardError(s.to_string()))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| ShardError(s.to_string()))
        };
        Shard::new(parse(k)?, parse(n)?).map_err(|_| ShardError(s.to_string()))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A set of work item indices, as sorted disjoint half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemSet {
    ranges: Vec<(u64, u64)>,
}

impl ItemSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `index`.
    pub fn insert(&mut self, index: u64) {
        self.insert_range(index, index + 1);
    }

    /// Adds `[start, end)`.
    pub fn insert_range(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let i = self.ranges.partition_point(|r| r.1 < start);
        let mut j = i;
        let (mut lo, mut hi) = (start, end);
        while j < self.ranges.len() && self.ranges[j].0 <= hi {
            lo = lo.min(self.ranges[j].0);
            hi = hi.max(self.ranges[j].1);
            j += 1;
        }
        self.ranges.splice(i..j, [(lo, hi)]);
    }

    /// Adds every item of `other`.
    pub fn extend(&mut self, other: &ItemSet) {
        for &(a, b) in &other.ranges {
            self.insert_range(a, b);
        }
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= index);
        self.ranges.get(i).is_some_and(|r| r.0 <= index)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Items in the set.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a).sum()
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// The ranges `[a, b)` of `[start, end)` that are not in the set, in order.
    pub fn gaps(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = self.ranges.partition_point(|r| r.1 <= start);
        let mut ranges = self.ranges[first..].iter();
        let mut at = start;
        std::iter::from_fn(move || {
            while at < end {
                match ranges.next() {
                    Some(&(a, b)) if a < end => {
                        if a > at {
                            let gap = (at, a);
                            at = b;
                            return Some(gap);
                        }
                        at = at.max(b);
                    }
                    _ => {
                        let gap = (at, end);
                        at = end;
                        return Some(gap);
                    }
                }
            }
            None
        })
    }

    /// Whether the two sets share an item.
    pub fn overlaps(&self, other: &ItemSet) -> bool {
        other.ranges.iter().any(|&(a, b)| {
            let i = self.ranges.partition_point(|r| r.1 <= a);
            self.ranges.get(i).is_some_and(|r| r.0 < b)
        })
    }
}

impl fmt::Display for ItemSet {
    /// `a-b,c-d` with inclusive bounds; empty for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}-{}", b - 1)?;
        }
        Ok(())
    }
}

impl FromStr for ItemSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = ItemSet::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            // One line whatever the text holds.
            let part = part.escape_debug().to_string();
            let (a, b) = part
                .split_once('-')
                .ok_or_else(|| format!("bad range `{part}`"))?;
            let a: u64 = a.parse().map_err(|_| format!("bad range `{part}`"))?;
            let b: u64 = b.parse().map_err(|_| format!("bad range `{part}`"))?;
            // An inclusive end of u64::MAX has no exclusive end: no such item exists.
            if b < a || b == u64::MAX {
                return Err(format!("bad range `{part}`"));
            }
            set.insert_range(a, b + 1);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_cover_each_cell_exactly() {
        let layout = Layout {
            cells: 3,
            trials: 2 * CHUNK_TRIALS + 5,
        };
        assert_eq!(layout.chunks_per_cell(), 3);
        let items: Vec<WorkItem> = (0..layout.items()).map(|g| layout.item(g)).collect();
        assert_eq!(items[4].cell, 1);
        assert_eq!(items[4].chunk, 1);
        assert_eq!(items[5].trials, 5);
        assert_eq!(
            items.iter().map(|i| i.trials).sum::<u64>(),
            3 * layout.trials
        );
    }

    #[test]
    fn shards_partition_the_items() {
        let layout = Layout {
            cells: 5,
            trials: 7 * CHUNK_TRIALS - 100,
        };
        for count in 1..=6 {
            let mut seen = vec![0; layout.items() as usize];
            let mut sizes = Vec::new();
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                let block = layout.shard_items(shard);
                let trials: u64 = block.clone().map(|g| layout.item(g).trials).sum();
                assert_eq!(layout.shard_trials(shard), trials);
                let cells = layout.shard_cells(shard);
                assert_eq!(
                    cells
                        .clone()
                        .map(|c| layout.cell_items_in(c, shard))
                        .sum::<u64>(),
                    block.end - block.start
                );
                assert!(cells.clone().all(|c| layout.cell_items_in(c, shard) > 0));
                sizes.push(block.end - block.start);
                for g in block.clone() {
                    seen[g as usize] += 1;
                }
                for cell in 0..layout.cells {
                    let expected = block
                        .clone()
                        .filter(|&g| layout.item(g).cell == cell)
                        .count() as u64;
                    assert_eq!(layout.cell_items_in(cell, shard), expected);
                }
            }
            assert!(seen.iter().all(|&n| n == 1));
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "{sizes:?}"
            );
        }
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard::new(2, 4).unwrap());
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn item_sets_merge_ranges() {
        let mut s = ItemSet::new();
        for i in [5, 3, 4, 10, 9, 0] {
            s.insert(i);
        }
        assert_eq!(s.to_string(), "0-0,3-5,9-10");
        assert_eq!(s.len(), 6);
        assert!(s.contains(4) && !s.contains(6) && !s.contains(11));
        let parsed: ItemSet = s.to_string().parse().unwrap();
        assert_eq!(parsed, s);
        let mut t = ItemSet::new();
        t.insert_range(6, 9);
        assert!(!s.overlaps(&t));
        let gaps: Vec<(u64, u64)> = s.gaps(0, 12).collect();
        assert_eq!(gaps, [(1, 3), (6, 9), (11, 12)]);
        assert_eq!(s.gaps(4, 5).count(), 0);
        assert_eq!(s.gaps(4, 7).collect::<Vec<_>>(), [(6, 7)]);
        assert_eq!(s.gaps(7, 8).collect::<Vec<_>>(), [(7, 8)]);
        assert_eq!(ItemSet::new().gaps(2, 4).collect::<Vec<_>>(), [(2, 4)]);
        s.extend(&t);
        assert_eq!(s.to_string(), "0-0,3-10");
        assert!(s.overlaps(&t));
        assert_eq!("".parse::<ItemSet>().unwrap(), ItemSet::new());
    }

    #[test]
    fn cell_work_counts_items_and_trials_per_cell() {
        let layout = Layout {
            cells: 3,
            trials: 2 * CHUNK_TRIALS + 5,
        };
        let items: ItemSet = "1-4,8-8".parse().unwrap();
        let work = layout.cell_work(&items);
        let expected = [
            (0, (2, CHUNK_TRIALS + 5)),
            (1, (2, 2 * CHUNK_TRIALS)),
            (2, (1, 5)),
        ];
        assert_eq!(work.into_iter().collect::<Vec<_>>(), expected);
        for g in 0..layout.items() {
            let mut one = ItemSet::new();
            one.insert(g);
            let item = layout.item(g);
            assert_eq!(layout.cell_work(&one)[&item.cell], (1, item.trials));
        }
    }

    #[test]
    fn an_item_range_ending_at_the_last_u64_is_refused() {
        for text in [
            "0-18446744073709551615",
            "18446744073709551615-18446744073709551615",
        ] {
            assert_eq!(text.parse::<ItemSet>(), Err(format!("bad range `{text}`")));
        }
        let last: ItemSet = "0-18446744073709551614".parse().unwrap();
        assert_eq!(last.len(), u64::MAX);
    }
}
