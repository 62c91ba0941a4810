//! The command line: parse it, run the command, turn an error into one line and an exit code.

mod advise;
mod args;
mod compare;
mod error;

pub(crate) use error::printable;
mod listings;
mod progress;
mod run;
mod show;
mod verify;
mod words;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Command};

/// Parses the command line, runs it, and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    match execute(cli) {
        Ok(code) => code,
        Err(error) => error::report(&error),
    }
}

/// Runs the parsed command line.
fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Merge(args) => run::merge(args),
        Command::Show(args) => show::show(args),
        Command::Compare(args) => compare::compare(args),
        Command::Advise(args) => advise::advise(args),
        Command::Verify { dir } => verify::verify(&dir),
        Command::Protocols { name } => listings::protocols(name),
        Command::Latency => listings::latency(),
    }
}
