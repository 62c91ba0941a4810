//! The `show` command: a run's summary as a table, CSV, JSON or Markdown.

use std::process::ExitCode;

use anyhow::Result;

use coordsim::show::{self, Format, ShowError};

use super::args::ShowArgs;
use super::error::UsageError;

pub(super) fn show(args: ShowArgs) -> Result<ExitCode> {
    let usage = |e: ShowError| match e {
        ShowError::Usage(m) => anyhow::Error::new(UsageError(m)),
        other => anyhow::Error::new(other),
    };
    let rows = show::load(&args.dir)
        .map_err(usage)?
        .filter(&args.filters)
        .map_err(usage)?;
    let columns = match args.columns.as_slice() {
        [all] if all == "all" => rows.columns.clone(),
        [] if args.format == Format::Table || args.format == Format::Markdown => {
            show::default_columns(&rows)
        }
        [] => rows.columns.clone(),
        some => some.to_vec(),
    };
    let rows = rows.select(&columns).map_err(usage)?;
    show::print(
        &mut std::io::stdout().lock(),
        &show::render(&rows, args.format),
    )?;
    Ok(ExitCode::SUCCESS)
}
