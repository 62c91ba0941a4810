//! The `verify` command: whether a result directory (or a folder of parts) is whole.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use coordsim::verify::{self, VerifyError};

use super::error::UsageError;

/// Checks `dir` and prints what was checked; a directory that is no result is bad input.
pub(super) fn verify(dir: &Path) -> Result<ExitCode> {
    match verify::verify(dir) {
        Ok(lines) => {
            lines.iter().for_each(|l| println!("{l}"));
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::NotAResult(m)) => Err(UsageError(m).into()),
        Err(e) => Err(e.into()),
    }
}
