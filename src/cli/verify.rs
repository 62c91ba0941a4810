//! The `verify` command: whether a result directory (or a folder of parts) is whole.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use coordsim::verify;

/// Checks `dir` and prints what was checked.
pub(super) fn verify(dir: &Path) -> Result<ExitCode> {
    let lines = verify::verify(dir)?;
    lines.iter().for_each(|l| println!("{l}"));
    Ok(ExitCode::SUCCESS)
}
