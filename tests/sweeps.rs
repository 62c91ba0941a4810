//! Every sweep file shipped in sweeps/ is valid.

use std::path::Path;

use coordsim::sweep::Sweep;

fn sweep_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sweep_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_sweep_parses() {
    let mut files = Vec::new();
    sweep_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps"),
        &mut files,
    );
    assert!(files.len() >= 9, "{files:?}");
    for file in files {
        let sweep = Sweep::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(!sweep.cells.is_empty(), "{}", file.display());
    }
}
