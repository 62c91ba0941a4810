//! Every sweep file shipped in sweeps/ is valid, and so is every requirements file of
//! sweeps/advise/ (`coordsim advise`).

use std::path::Path;

use coordsim::advise::{Requirements, designs};
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
    // The published figures' sweeps (sweeps/papers/) are among them.
    for paper in ["pbs-table4.toml", "tail-at-scale.toml"] {
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(Path::new("papers").join(paper))),
            "{paper} not found: {files:?}"
        );
    }
    let mut requirements = 0;
    for file in files {
        if file.parent().is_some_and(|d| d.ends_with("advise")) {
            let r = Requirements::load(&file).unwrap_or_else(|e| panic!("{e}"));
            assert!(!designs(&r).is_empty(), "{}", file.display());
            requirements += 1;
            continue;
        }
        let sweep = Sweep::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(!sweep.cells.is_empty(), "{}", file.display());
    }
    assert!(requirements >= 5);
}
