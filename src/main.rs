//! `coordsim`: set up the process, then hand it to the command line (`cli`).

mod cli;

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A file-size limit (ulimit -f) then fails a write with an error the run reports and
    // cleans up after, instead of killing the process mid-file.
    // SAFETY: setting a signal's disposition to "ignore" touches no Rust state.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    cli::main()
}
