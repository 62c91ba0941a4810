//! Damaged files of real run directories (`fixtures.rs`): a whole run's summary, histograms,
//! sweep copy and run file, a shard's part and run file, and an interrupted run's checkpoint
//! and run file, each altered as `damage.rs` describes, then read by what reads them (verify
//! and show, verify and merge of the parts, resume from the checkpoints). Never a panic;
//! every refusal one line naming a file of the directory; a whole run whose result files
//! were altered never verifies.
#![no_main]

#[path = "../damage.rs"]
mod damage;
#[path = "../fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use coordsim::sweep::Sweep;
use damage::Damage;
use libfuzzer_sys::fuzz_target;

/// The fixtures every input starts from, made once per process.
fn fixtures() -> &'static (PathBuf, Sweep) {
    static FIXTURES: OnceLock<(PathBuf, Sweep)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("coordsim-fuzz-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let sweep = fixtures::make(&root.join("fixtures"));
        (root, sweep)
    })
}

/// A refusal: one line, naming a path under `dir`.
fn check_refusal(dir: &Path, message: &str) {
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains(&*dir.to_string_lossy()), "{message}");
}

fuzz_target!(|data: &[u8]| {
    let (root, sweep) = fixtures();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (fixture, file) = fixtures::TARGETS[which as usize % fixtures::TARGETS.len()];
    let original = std::fs::read(root.join("fixtures").join(fixture).join(file)).unwrap();
    let mut bytes = original.clone();
    for damage in Damage::list_from(rest, 4) {
        bytes = damage.apply(&bytes).unwrap_or(bytes);
    }
    // Damage that undoes itself (the same byte flipped twice) leaves the file as it was.
    if bytes == original {
        return;
    }
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let work = root.join(format!("work-{}", COUNT.fetch_add(1, Ordering::Relaxed)));
    let top = fixture.split('/').next().unwrap();
    fixtures::copy_dir(&root.join("fixtures").join(top), &work.join(top));
    let dir = work.join(fixture);
    std::fs::write(dir.join(file), &bytes).unwrap();
    match top {
        "whole" => {
            match coordsim::verify::verify(&dir) {
                Ok(lines) => assert!(
                    file == "coordsim-run.toml",
                    "an altered {file} verified: {lines:?}"
                ),
                Err(e) => check_refusal(&dir, &e.to_string()),
            }
            if let Err(e) = coordsim::show::load(&dir) {
                check_refusal(&dir, &e.to_string());
            }
        }
        "parts" => {
            let parts = work.join("parts");
            if let Err(e) = coordsim::verify::verify(&parts) {
                check_refusal(&parts, &e.to_string());
            }
            let shards = [parts.join("0"), parts.join("1")];
            if let Err(e) = coordsim::run::merge(&shards, &work.join("merged")) {
                check_refusal(&parts, &e.to_string());
            }
        }
        _ => {
            if let Err(e) = fixtures::resume(sweep, &dir) {
                check_refusal(&dir, &e.to_string());
            }
        }
    }
    std::fs::remove_dir_all(&work).unwrap();
});
