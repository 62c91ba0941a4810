//! `coordsim`: parse the command line, run it, report errors as one line and an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A file-size limit (ulimit -f) then fails a write with an error the run reports and
    // cleans up after, instead of killing the process mid-file.
    // SAFETY: setting a signal's disposition to "ignore" touches no Rust state.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help and --version
        Err(e) => {
            // One line, like every other error; --help has the rest.
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (coordsim --help explains)");
            return ExitCode::from(2);
        }
    };
    match cli::execute(cli) {
        Ok(code) => code,
        Err(error) => cli::report(&error),
    }
}
