//! `coordsim`: parse the command line, run it, report errors as one line and an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::execute(cli) {
        Ok(code) => code,
        Err(error) => cli::report(&error),
    }
}
