//! The `advise` command: requirements in, the cheapest design that meets them out; exit code
//! 1 when no design meets every objective.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use coordsim::advise::{self, AdviseOptions, Requirements};
use coordsim::store::RunDir;

use super::args::AdviseArgs;
use super::error::UsageError;

pub(super) fn advise(args: AdviseArgs) -> Result<ExitCode> {
    let requirements = Requirements::load(&args.requirements)?;
    let dir = match args.out {
        Some(dir) => dir,
        None => {
            let stamp = jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            RunDir::fresh_path(
                Path::new("results"),
                &format!("advise-{}", requirements.name),
                &stamp,
            )
        }
    };
    if dir.exists() {
        return Err(UsageError(format!(
            "{}: already exists; choose another --out",
            dir.display()
        ))
        .into());
    }
    let options = AdviseOptions {
        threads: args.threads.map(|n| n.get()),
        sensitivity: !args.no_sensitivity,
    };
    let advice = advise::advise(requirements, &dir, options)?;
    let text = if args.format == "json" {
        advise::json(&advice)
    } else {
        advise::table(&advice)
    };
    println!("{text}");
    Ok(if advice.recommended().is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
