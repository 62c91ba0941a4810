//! `sweep.toml`: the sweep file as run, so a result directory can be run again.

use std::fs::File;
use std::path::Path;

use super::{Export, OutputError, Results, write_bytes};

/// The sweep text, with the seed and trials actually used noted at the top.
pub struct SweepCopy;

impl Export for SweepCopy {
    fn file_name(&self) -> &'static str {
        "sweep.toml"
    }

    fn write(&self, results: &Results<'_>, file: File, path: &Path) -> Result<(), OutputError> {
        let s = results.sweep;
        let mut targets = String::new();
        if let Some(x) = s.precision.success {
            targets.push_str(&format!(", precision = {x}"));
        }
        if let Some(x) = s.precision.p99 {
            targets.push_str(&format!(", p99_precision = {x}"));
        }
        if !targets.is_empty() {
            targets.push_str(" (adaptive: trials is the cap per cell)");
        }
        let text = format!(
            "# Run by coordsim {} from {} with seed = {} and trials = {}{targets}.\n{}",
            env!("CARGO_PKG_VERSION"),
            s.origin,
            s.seed,
            s.trials,
            s.text
        );
        write_bytes(file, path, text.as_bytes())
    }
}
