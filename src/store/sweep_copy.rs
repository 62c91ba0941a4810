//! `sweep.toml`: the sweep file as run, so a result directory can be run again.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::{Export, OutputError, Results};
use crate::model::precision::Precision;

/// The sweep text with the seed, trials and precision targets actually used written into it
/// (replacing the file's values, so that running it again gives the same numbers), and noted
/// at the top.
pub struct SweepCopy;

/// What a run's `sweep.toml` says: one comment line, then the sweep file's `text` with the
/// values of `seed`, `trials` and the precision targets replaced by those used (or added at
/// the top when the file lacks them). `coordsim verify` rebuilds it from the metadata.
pub fn sweep_copy_text(
    version: &str,
    origin: &str,
    seed: u64,
    trials: u64,
    precision: &Precision,
    text: &str,
) -> String {
    let mut targets = String::new();
    if let Some(x) = precision.success {
        targets.push_str(&format!(", precision = {x}"));
    }
    if let Some(x) = precision.p99 {
        targets.push_str(&format!(", p99_precision = {x}"));
    }
    if !targets.is_empty() {
        targets.push_str(" (adaptive: trials is the cap per cell)");
    }
    let mut values = vec![("seed", seed.to_string()), ("trials", trials.to_string())];
    if let Some(x) = precision.success {
        values.push(("precision", float(x)));
    }
    if let Some(x) = precision.p99 {
        values.push(("p99_precision", float(x)));
    }
    format!(
        "# Run by coordsim {version} from {origin} with seed = {seed} and trials = {trials}{targets}.\n{}",
        with_values(text, &values)
    )
}

/// `x` as a TOML float.
fn float(x: f64) -> String {
    let text = x.to_string();
    if text.contains(['.', 'e', 'E']) || !x.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

/// `text` (a TOML document) with the top-level `values` replaced, each in place, and those it
/// lacks added as lines at the top (where a top-level key is always valid).
fn with_values(text: &str, values: &[(&str, String)]) -> String {
    let Ok(table) = toml::de::DeTable::parse(text) else {
        return text.to_string();
    };
    let mut edits: Vec<(std::ops::Range<usize>, &str)> = Vec::new();
    let mut added = String::new();
    for (key, value) in values {
        let found = table
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == *key)
            .map(|(_, v)| v.span());
        match found {
            Some(span) => edits.push((span, value)),
            None => added.push_str(&format!("{key} = {value}\n")),
        }
    }
    let mut out = text.to_string();
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    for (span, value) in edits {
        out.replace_range(span, value);
    }
    added + &out
}

impl Export for SweepCopy {
    fn file_name(&self) -> &'static str {
        "sweep.toml"
    }

    fn write(
        &self,
        results: &Results<'_>,
        file: &mut File,
        path: &Path,
    ) -> Result<(), OutputError> {
        let s = results.sweep;
        let text = sweep_copy_text(
            env!("CARGO_PKG_VERSION"),
            &s.origin,
            s.seed,
            s.trials,
            &s.precision,
            &s.text,
        );
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(OutputError::io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Sweep;

    #[test]
    fn the_copy_runs_the_same_sweep() {
        let text = "# a comment\nname = \"t\"\nseed = 2024 # the seed\ntrials = 40_000\n\
                    [grid]\nprotocol = \"fire-and-forget\"\nnodes = 3\nlatency = \"l\"\n\
                    [latency.l]\nkind = \"constant\"\nms = 1\n";
        let precision = Precision {
            success: Some(0.001),
            p99: None,
        };
        let max = i64::MAX as u64;
        let copy = sweep_copy_text("0.1.0", "t.toml", max, 7, &precision, text);
        let again = Sweep::parse(&copy, "copy.toml").unwrap();
        assert_eq!(again.seed, max);
        assert_eq!(again.trials, 7);
        assert_eq!(again.precision, precision);
        assert!(
            copy.contains("seed = 9223372036854775807 # the seed\n"),
            "{copy}"
        );
        assert!(copy.starts_with("# Run by coordsim 0.1.0 from t.toml with seed = "));
        // The values are rewritten in place; nothing else changes.
        let same = sweep_copy_text("0.1.0", "t.toml", 2024, 40_000, &Precision::NONE, text);
        assert_eq!(
            same.split_once('\n').unwrap().1,
            text.replace("40_000", "40000")
        );
    }
}
