//! The command line: argument definitions, the commands, and how errors become exit codes.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use coordsim::engine::{self, Progress, RunOptions};
use coordsim::latency::Latency;
use coordsim::output::{CellRecord, OutputError, Results, RunDir, RunInfo, table};
use coordsim::protocols::{self, ProtocolInfo};
use coordsim::sweep::{MAX_TRIALS, Sweep, SweepError};

const EXAMPLES: &str = "\
Examples:
  coordsim run                         run the embedded default sweep into results/
  coordsim run sweeps/ladder.toml --out out/ladder --threads 2
  coordsim run sweeps/ladder.toml --dry-run
                                       list the cells and the trial count, run nothing
  coordsim protocols                   what can be simulated, with parameters
  coordsim protocols quorum            the full model of one protocol
  coordsim latency                     the latency models and their keys";

const SWEEP_FORMAT: &str = "\
A sweep file names a grid; every list is an axis of the cartesian product:

  name = \"example\"
  seed = 42
  trials = 1_000_000            # per cell

  [grid]
  protocol = [\"quorum\", \"two-phase-commit\"]
  nodes = [3, 5, 9]
  crash = [0.0, 0.01]           # per-node crash probability per trial
  loss = 0.0                    # per-message loss probability
  latency = [\"lan\"]           # names of the [latency.NAME] tables below

  [params.quorum]               # per-protocol parameters; a list is an axis for it only
  k = [2, \"majority\"]

  [latency.lan]                 # one-way message delay, in milliseconds
  kind = \"shifted\"
  shift_ms = 0.05
  of = { kind = \"exponential\", mean_ms = 0.5 }

`coordsim protocols` lists the parameters, `coordsim latency` the delay models.
Unknown keys are errors. Bad input exits with code 2 and writes nothing.

Examples:
  coordsim run                         run the embedded default sweep into results/
  coordsim run sweeps/ladder.toml --out out/ladder --threads 2
  coordsim run sweeps/ladder.toml --dry-run
                                       list the cells and the trial count, run nothing";

/// Measure the cost of coordination in distributed systems.
///
/// coordsim runs a sweep: a grid of protocols x node counts x failure rates x latency models,
/// written as a TOML file. Every cell of the grid runs millions of independent Monte Carlo
/// trials in parallel; the results (success probability with a 95% interval, latency
/// percentiles, messages and rounds per operation) go to Parquet files that pandas, DuckDB and
/// polars read as they are. The same sweep and seed give the same numbers on any machine and
/// any thread count.
#[derive(Debug, Parser)]
#[command(name = "coordsim", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a sweep and write summary.parquet, histograms.parquet and sweep.toml
    #[command(after_help = EXAMPLES, after_long_help = SWEEP_FORMAT)]
    Run(RunArgs),
    /// List the protocols with their parameters, or print one protocol's full model
    Protocols {
        /// A protocol name, e.g. quorum
        name: Option<String>,
    },
    /// List the latency models and the keys of each
    Latency,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Sweep file (TOML); without one, the embedded default sweep runs
    sweep: Option<PathBuf>,
    /// Output directory, which must not exist [default: results/<name>-<UTC time>]
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Worker threads [default: one per core]; results do not depend on it
    #[arg(long, short = 'j')]
    threads: Option<NonZeroUsize>,
    /// Use this seed instead of the sweep's
    #[arg(long)]
    seed: Option<u64>,
    /// Use this many trials per cell instead of the sweep's
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_TRIALS))]
    trials: Option<u64>,
    /// Print the cells and the trial count, run nothing
    #[arg(long)]
    dry_run: bool,
    /// Do not print the summary table at the end
    #[arg(long, short)]
    quiet: bool,
}

/// A request that cannot be carried out as asked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// Runs the parsed command line.
pub fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Protocols { name: None } => {
            println!("{}", protocol_list());
            Ok(())
        }
        Command::Protocols { name: Some(name) } => {
            let protocol = protocols::find(&name).ok_or_else(|| {
                let known: Vec<&str> = protocols::REGISTRY.iter().map(|p| p.name).collect();
                UsageError(format!(
                    "unknown protocol `{name}` (known: {})",
                    known.join(", ")
                ))
            })?;
            println!("{}", protocol_model(protocol));
            Ok(())
        }
        Command::Latency => {
            println!("{}", latency_list());
            Ok(())
        }
    }
}

/// Prints `error` on one line and picks the exit code: 2 for bad input, 1 otherwise.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}").replace('\n', " ");
    eprintln!("error: {message}");
    let usage = error.chain().any(|cause| {
        cause.is::<SweepError>()
            || cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<OutputError>(),
                Some(OutputError::Exists(_))
            )
    });
    ExitCode::from(if usage { 2 } else { 1 })
}

fn run(args: RunArgs) -> Result<()> {
    let mut sweep = match &args.sweep {
        Some(path) => Sweep::load(path)?,
        None => Sweep::default_sweep(),
    };
    if let Some(seed) = args.seed {
        sweep = sweep.with_seed(seed);
    }
    if let Some(trials) = args.trials {
        sweep = sweep.with_trials(trials);
    }
    if args.dry_run {
        println!("{}", table::cells(&sweep));
        println!(
            "{}: {} cells x {} trials = {} trials, seed {}",
            sweep.origin,
            sweep.cells.len(),
            sweep.trials,
            sweep.total_trials(),
            sweep.seed
        );
        return Ok(());
    }

    let started = jiff::Timestamp::now();
    let dir = match &args.out {
        Some(path) => RunDir::create(path)?,
        None => {
            let stamp = started.strftime("%Y%m%dT%H%M%SZ").to_string();
            RunDir::create_unique(Path::new("results"), &sweep.name, &stamp)?
        }
    };
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, usize::from);
    eprintln!(
        "running {} cells x {} trials from {} on {threads} threads into {}",
        sweep.cells.len(),
        sweep.trials,
        sweep.origin,
        dir.path().display()
    );

    let clock = Instant::now();
    let progress = Progress::default();
    let options = RunOptions {
        threads: Some(threads),
    };
    let mut records = Vec::with_capacity(sweep.cells.len());
    with_progress_bar(&sweep, &progress, || {
        engine::run(&sweep, &options, &progress, |cell| {
            records.push(CellRecord::of(&cell));
            Ok::<(), anyhow::Error>(())
        })
    })?;
    let wall_s = clock.elapsed().as_secs_f64();
    let info = RunInfo {
        started: started.to_string(),
        finished: jiff::Timestamp::now().to_string(),
        threads,
        wall_s,
    };
    let results = Results {
        sweep: &sweep,
        cells: &records,
        info: &info,
    };
    let files = dir.write_all(&results).context("writing results")?;
    let path = dir.keep();

    if !args.quiet {
        println!("{}", table::summary(&sweep, &records));
    }
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let total = sweep.total_trials();
    println!(
        "{} cells, {total} trials in {wall_s:.2} s ({}/s on {threads} threads); wrote {} in {}",
        sweep.cells.len(),
        si(total as f64 / wall_s.max(1e-9)),
        names.join(", "),
        path.display()
    );
    Ok(())
}

/// Runs `work` with a progress bar on stderr when stderr is a terminal.
fn with_progress_bar<T>(sweep: &Sweep, progress: &Progress, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let total = u64::try_from(sweep.total_trials()).unwrap_or(u64::MAX);
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "[{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
        )
        .expect("valid template"),
    );
    let done = AtomicBool::new(false);
    let cells = sweep.cells.len();
    let start = Instant::now();
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let trials = progress.trials_done.load(Ordering::Relaxed);
                let rate = trials as f64 / start.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(trials);
                bar.set_message(format!(
                    "cells {}/{cells} | {} trials/s",
                    progress.cells_done.load(Ordering::Relaxed),
                    si(rate)
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work();
        done.store(true, Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    out
}

/// `12.3M`-style numbers.
fn si(x: f64) -> String {
    let (value, suffix) = match x {
        x if x >= 1e9 => (x / 1e9, "G"),
        x if x >= 1e6 => (x / 1e6, "M"),
        x if x >= 1e3 => (x / 1e3, "k"),
        x => (x, ""),
    };
    format!("{value:.1}{suffix}")
}

fn protocol_list() -> String {
    let mut out = String::from("Protocols (coordsim protocols NAME prints the full model):\n\n");
    for p in protocols::REGISTRY {
        out.push_str(&format!("  {:<20} {}\n", p.name, p.summary));
        for spec in p.params {
            out.push_str(&format!(
                "  {:<20}   {} = {} ({}): {}\n",
                "",
                spec.name,
                spec.default,
                spec.kind.describe(),
                spec.doc
            ));
        }
    }
    out.push_str(
        "\nEvery protocol also takes the grid's environment axes: nodes, crash (per-node crash \
         probability per trial), loss (per-message loss probability), zones and zone_crash \
         (correlated failures), partition (probability of a two-way split), regions and \
         cross_latency, and latency (the one-way delay model).",
    );
    out
}

fn protocol_model(p: &ProtocolInfo) -> String {
    let mut out = format!("{}: {}\n\n{}\n\nParameters:\n", p.name, p.summary, p.model);
    out.push_str("  nodes, crash, loss, zones, zone_crash, partition, regions, latency, cross_latency: the grid's environment axes\n");
    for spec in p.params {
        out.push_str(&format!(
            "  {} = {} ({}): {}\n",
            spec.name,
            spec.default,
            spec.kind.describe(),
            spec.doc
        ));
    }
    if !p.extras.is_empty() {
        out.push_str("\nIts own counts (summary columns <name>_mean, the mean per trial):\n");
        for extra in p.extras {
            out.push_str(&format!("  {}: {}\n", extra.name, extra.doc));
        }
    }
    out.trim_end().to_string()
}

fn latency_list() -> String {
    let mut out = String::from(
        "Latency models: one-way message delay, defined under [latency.NAME] with kind = \"...\"\n\n",
    );
    for (kind, fields) in Latency::KINDS {
        out.push_str(&format!("  {kind}\n"));
        for (key, doc) in *fields {
            out.push_str(&format!("      {key:<12} {doc}\n"));
        }
    }
    out.trim_end().to_string()
}
