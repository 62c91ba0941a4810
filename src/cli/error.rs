//! How a command's error ends the process: one line on stderr and exit code 2 for bad input,
//! 1 otherwise; and the code of a run interrupted by a signal (130).

use std::process::ExitCode;

use coordsim::advise::AdviseError;
use coordsim::run::RunError;
use coordsim::show::ShowError;
use coordsim::store::OutputError;
use coordsim::sweep::SweepError;
use coordsim::verify::VerifyError;

/// The exit code of a run stopped by a signal after saving its checkpoint: the shell's code
/// for SIGINT, whichever of SIGINT, SIGTERM or SIGHUP arrived.
pub(super) const INTERRUPTED: u8 = 130;

/// A request that cannot be carried out as asked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct UsageError(pub(super) String);

/// Prints `error` on one line and exits with the code its cause calls for: 2 for bad input,
/// 1 otherwise.
pub(super) fn report(error: &anyhow::Error) -> ExitCode {
    let message = printable(&format!("{error:#}").replace('\n', " "));
    eprintln!("error: {message}");
    let code = error.chain().find_map(|cause| {
        if cause.is::<SweepError>() || cause.is::<UsageError>() {
            return Some(2);
        }
        None.or_else(|| cause.downcast_ref::<RunError>().map(RunError::exit_code))
            .or_else(|| {
                cause
                    .downcast_ref::<OutputError>()
                    .map(OutputError::exit_code)
            })
            .or_else(|| {
                cause
                    .downcast_ref::<VerifyError>()
                    .map(VerifyError::exit_code)
            })
            .or_else(|| {
                cause
                    .downcast_ref::<AdviseError>()
                    .map(AdviseError::exit_code)
            })
            .or_else(|| cause.downcast_ref::<ShowError>().map(ShowError::exit_code))
    });
    ExitCode::from(code.unwrap_or(1))
}

/// `text` with its control characters escaped (`\u{1b}`): a sweep file's names and a damaged
/// file's bytes reach error lines, and must not drive the terminal.
pub(crate) fn printable(text: &str) -> String {
    coordsim::store::table::printable(text)
}
