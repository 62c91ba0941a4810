//! The `compare` command: two runs cell by cell, a verdict for each metric, exit code 1 on a
//! regression.

use std::process::ExitCode;

use anyhow::Result;

use coordsim::compare::{self, CompareError, Options, Verdict, Worse};
use coordsim::show;

use super::args::CompareArgs;
use super::error::UsageError;

pub(super) fn compare(args: CompareArgs) -> Result<ExitCode> {
    let thresholds = args
        .max_drop
        .into_iter()
        .map(|(m, t)| (m, Worse::Drop, t))
        .chain(args.max_rise.into_iter().map(|(m, t)| (m, Worse::Rise, t)))
        .collect();
    let options = Options {
        alpha: args.alpha,
        thresholds,
        ignore: args.ignore,
    };
    let report = compare::compare(&args.base, &args.new, &options).map_err(|e| match e {
        CompareError::Usage(m) => anyhow::Error::new(UsageError(m)),
        other => anyhow::Error::new(other),
    })?;
    let text = compare::render::render(&report, args.format, args.strict);
    show::print(&mut std::io::stdout().lock(), &text)?;
    let failed = report.count(Verdict::Regressed) > 0
        || (args.strict && report.count(Verdict::Inconclusive) > 0);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
