//! Any text given as a sweep file is either refused with an error naming the file, or
//! accepted as a sweep whose cells are numbered in order: never a panic.
#![no_main]

use coordsim::sweep::Sweep;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Sweep::parse_limited(text, "fuzz.toml", 10_000) {
        Ok(sweep) => {
            assert!(sweep.cells.iter().enumerate().all(|(i, c)| c.id as usize == i));
            assert_eq!(sweep.axes.cell_count(), sweep.cells.len() as u128);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.toml"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
});
