//! The `show` command: a run's summary as a table, CSV, JSON or Markdown.

use std::process::ExitCode;

use anyhow::Result;

use coordsim::show::{self, Format};

use super::args::ShowArgs;

pub(super) fn show(args: ShowArgs) -> Result<ExitCode> {
    let rows = show::load(&args.dir)?.filter(&args.filters)?;
    let columns = match args.columns.as_slice() {
        [all] if all == "all" => rows.columns.clone(),
        [] if args.format == Format::Table || args.format == Format::Markdown => {
            show::default_columns(&rows)
        }
        [] => rows.columns.clone(),
        some => some.to_vec(),
    };
    let rows = rows.select(&columns)?;
    show::print(
        &mut std::io::stdout().lock(),
        &show::render(&rows, args.format),
    )?;
    Ok(ExitCode::SUCCESS)
}
