//! Any text given as a sweep file is either refused with an error naming the file, or
//! accepted as a sweep whose cells are numbered in order and run: never a panic. A few trials
//! of each accepted cell of at most `NODE_CAP` nodes run (the first `CELL_CAP` cells), so that
//! runtime failures such as an overflow in a model are found too.
#![no_main]

use coordsim::rng::stream;
use coordsim::sweep::{Limits, Sweep};
use coordsim::model::tally::Tally;
use libfuzzer_sys::fuzz_target;

/// Most nodes of a cell whose trials the target runs.
const NODE_CAP: u32 = 64;
/// Most cells whose trials the target runs.
const CELL_CAP: usize = 32;
/// Trials per cell.
const TRIALS: u64 = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Sweep::parse_limited(text, "fuzz.toml", Limits::cells(10_000)) {
        Ok(sweep) => {
            assert!(sweep.cells.iter().enumerate().all(|(i, c)| c.id as usize == i));
            assert_eq!(sweep.axes.cell_count(), sweep.cells.len() as u128);
            let runnable = sweep.cells.iter().filter(|c| c.nodes <= NODE_CAP);
            for cell in runnable.take(CELL_CAP) {
                let mut tally = Tally::empty();
                let mut rng = stream(sweep.seed, cell.id.into(), 0);
                sweep.model(cell.id as usize).run(&mut rng, TRIALS, &mut tally);
                assert_eq!(tally.trials(), TRIALS);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.toml"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
});
