//! The command line: argument definitions, the commands, and how errors become exit codes.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use coordsim::engine::{Progress, RunOptions, Shard};
use coordsim::latency::Latency;
use coordsim::model::ProtocolInfo;
use coordsim::model::precision::Precision;
use coordsim::protocols::{self};
use coordsim::run::{self, Finished, Plan, RunError};
use coordsim::show::{self, Filter, Format, ShowError};
use coordsim::store::{CellRecord, OutputError, RunDir, layout, table};
use coordsim::sweep::{
    DEFAULT_ORIGIN, DEFAULT_SWEEP, Limits, MAX_SEED, MAX_TRIALS, Sweep, SweepError,
};

const EXAMPLES: &str = "\
Examples:
  coordsim run                         run the embedded default sweep into results/
  coordsim run sweeps/ladder.toml --out out/ladder --threads 2
  coordsim run sweeps/ladder.toml --dry-run
                                       list the cells and the trial count, run nothing
  coordsim run sweeps/ladder.toml --precision 0.001 --trials 10000000
                                       each cell until its success rate is known to +/- 0.001
  coordsim protocols                   what can be simulated, with parameters
  coordsim protocols quorum            the full model of one protocol
  coordsim latency                     the latency models and their keys
  coordsim run sweep.toml --shard 0/4 --out parts/0     one of four independent processes
  coordsim merge 'parts/*' --out merged                 the four parts as one result
  coordsim show merged --where protocol=raft            print a run's summary
  coordsim run sweep.toml --out out/big --resume        continue after a crash or Ctrl-C";

const SWEEP_FORMAT: &str = "\
A sweep file names a grid; every list is an axis of the cartesian product:

  name = \"example\"
  seed = 42
  trials = 1_000_000            # per cell (the cap per cell with a precision)
  precision = 0.001             # optional: add trials to each cell until the 95% interval of
                                # its success rate is +/- 0.001 or narrower
  p99_precision = 0.01          # optional: ... and that of its latency p99 +/- 1% or narrower

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
    /// Merge the parts of a sharded run into summary.parquet and histograms.parquet
    Merge(MergeArgs),
    /// Print a run's summary: a table, CSV, JSON or Markdown
    #[command(after_help = "\
Examples:
  coordsim show results/default-20261124T065000Z
  coordsim show out/ladder --where protocol=raft --where nodes>=10
  coordsim show out/ladder --columns protocol,nodes,success_rate,latency_ms_p99 --format markdown
  coordsim show out/ladder --format csv > ladder.csv")]
    Show(ShowArgs),
    /// Check that a result directory (or a folder of shard parts) is whole and unaltered
    Verify {
        /// A run directory, a shard's directory, or a folder of shard directories
        dir: PathBuf,
    },
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
    /// Use this seed instead of the sweep's: an integer in [0, 2^63 - 1], as in a sweep file
    #[arg(long, value_parser = seed)]
    seed: Option<u64>,
    /// Use this many trials per cell instead of the sweep's (with a precision: the cap per
    /// cell)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_TRIALS))]
    trials: Option<u64>,
    /// Run adaptively: add trials to each cell (16384 at a time, up to --trials) until the 95%
    /// interval of its success rate is this wide either side or narrower, in (0, 0.5];
    /// overrides the sweep's `precision`. Refused with --shard: a cell's trials must stay in
    /// one process
    #[arg(long, value_name = "HALF_WIDTH", value_parser = success_precision)]
    precision: Option<f64>,
    /// Run adaptively: add trials to each cell until a 95% interval of its latency p99 is
    /// this wide either side, relative to the p99, or narrower, in [0.002, 1) (0.01 is +/- 1%);
    /// overrides the sweep's `p99_precision`. With --precision, both must be met
    #[arg(long, value_name = "RELATIVE", value_parser = p99_precision)]
    p99_precision: Option<f64>,
    /// Print the cells and the trial count, run nothing
    #[arg(long)]
    dry_run: bool,
    /// Do not print the summary table at the end
    #[arg(long, short)]
    quiet: bool,
    /// Run only shard K of N (0 <= K < N) and write a part for `coordsim merge`
    /// [default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and
    /// COORDSIM_SHARD_COUNT, when set]; refused with a precision target
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Continue an interrupted run in --out from its checkpoint (after a crash, kill -9,
    /// Ctrl-C, SIGTERM or SIGHUP; the last three save and exit with 130). Refused while
    /// another process runs in the directory, and for a run of another sweep, seed, trial
    /// count, shard or contents of the files the sweep reads
    #[arg(long)]
    resume: bool,
    /// Seconds between checkpoints of finished work
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = seconds)]
    checkpoint_secs: f64,
    /// Refuse grids of more cells than this, unless --yes
    #[arg(long, default_value_t = 1_000_000, value_name = "CELLS")]
    max_cells: u64,
    /// Run a grid larger than --max-cells, and cells of more than 1,000,000 nodes
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// A run directory (holding summary.parquet)
    dir: PathBuf,
    /// Columns to show, comma-separated, or `all` [default: the varied parameters and the
    /// headline results for a table; all columns for csv and json]
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    /// Keep rows where COLUMN=VALUE (also !=, <, <=, >, >=); repeat to combine
    #[arg(long = "where", value_name = "FILTER")]
    filters: Vec<Filter>,
    /// Output format: table, csv, json or markdown
    #[arg(long, default_value = "table")]
    format: Format,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// Part directories (or their part.parquet files); globs such as 'parts/*' are expanded
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Output directory, which must not exist
    #[arg(long, short)]
    out: PathBuf,
    /// Do not print the summary table
    #[arg(long, short)]
    quiet: bool,
}

/// The exit code of a run stopped by a signal after saving its checkpoint: the shell's code
/// for SIGINT, whichever of SIGINT, SIGTERM or SIGHUP arrived.
const INTERRUPTED: u8 = 130;

/// A request that cannot be carried out as asked (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// Runs the parsed command line.
pub fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Merge(args) => merge(args),
        Command::Show(args) => show(args),
        Command::Verify { dir } => match coordsim::verify::verify(&dir) {
            Ok(lines) => {
                lines.iter().for_each(|l| println!("{l}"));
                Ok(ExitCode::SUCCESS)
            }
            Err(coordsim::verify::VerifyError::NotAResult(m)) => Err(UsageError(m).into()),
            Err(e) => Err(e.into()),
        },
        Command::Protocols { name: None } => {
            println!("{}", protocol_list());
            Ok(ExitCode::SUCCESS)
        }
        Command::Protocols { name: Some(name) } => {
            let registry = coordsim::sweep::Registry::builtin();
            let protocol = registry.find(&name).ok_or_else(|| {
                let known: Vec<&str> = registry.iter().map(|p| p.name).collect();
                UsageError(format!(
                    "unknown protocol `{name}` (known: {})",
                    known.join(", ")
                ))
            })?;
            println!("{}", protocol_model(protocol));
            Ok(ExitCode::SUCCESS)
        }
        Command::Latency => {
            println!("{}", latency_list());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints `error` on one line and picks the exit code: 2 for bad input, 1 otherwise.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let message = printable(&format!("{error:#}").replace('\n', " "));
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

/// `text` with its control characters escaped (`\u{1b}`): a sweep file's names reach error
/// lines, and must not drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let limits = if args.yes {
        Limits::NONE
    } else {
        Limits::cells(args.max_cells.into())
    };
    let mut sweep = match &args.sweep {
        Some(path) => Sweep::load_limited(path, limits)?,
        None => Sweep::parse_limited(DEFAULT_SWEEP, DEFAULT_ORIGIN, limits)?,
    };
    if let Some(seed) = args.seed {
        sweep = sweep.with_seed(seed);
    }
    if let Some(trials) = args.trials {
        sweep = sweep.with_trials(trials);
    }
    let precision = Precision {
        success: args.precision.or(sweep.precision.success),
        p99: args.p99_precision.or(sweep.precision.p99),
    };
    sweep = sweep.with_precision(precision);
    let adaptive = precision.is_adaptive();
    let refuse_shard = |shard: Shard, source: &str| -> Result<()> {
        if adaptive && shard.count > 1 {
            return Err(UsageError(format!(
                "precision targets need all of a cell's trials in one process: they cannot run as shard {shard}{source} (run the sweep whole, or without precision)"
            ))
            .into());
        }
        Ok(())
    };
    if let Some(shard) = args.shard {
        refuse_shard(shard, "")?;
    }
    if args.dry_run {
        println!("{}", table::cells(&sweep));
        if adaptive {
            println!(
                "{}: {}, adaptive: each until {}, at most {} trials per cell ({} in all), seed {}",
                sweep.origin,
                count(sweep.cells.len(), "cell"),
                targets(&precision),
                sweep.trials,
                sweep.total_trials(),
                sweep.seed
            );
        } else {
            println!(
                "{}: {} x {} trials = {} trials, seed {}",
                sweep.origin,
                count(sweep.cells.len(), "cell"),
                sweep.trials,
                sweep.total_trials(),
                sweep.seed
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shard = match args.shard {
        Some(shard) => shard,
        None => match shard_from_env()? {
            Some((shard, source)) => {
                refuse_shard(shard, &format!(" (from {source})"))?;
                eprintln!("running shard {shard} (from {source})");
                shard
            }
            None => Shard::WHOLE,
        },
    };
    let dir = match &args.out {
        Some(path) => path.clone(),
        None if args.resume => {
            return Err(UsageError(
                "--resume needs --out: the directory of the run to resume".into(),
            )
            .into());
        }
        None => {
            let stamp = jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            let name = match shard.count {
                1 => sweep.name.clone(),
                n => format!("{}-shard-{}-of-{n}", sweep.name, shard.index),
            };
            RunDir::fresh_path(Path::new("results"), &name, &stamp)
        }
    };
    if !args.resume && dir.exists() {
        return Err(UsageError(format!(
            "--out {}: already exists; choose a new directory or --resume",
            dir.display()
        ))
        .into());
    }
    if args.resume && !dir.join(layout::RUN_FILE).is_file() {
        return Err(UsageError(format!(
            "{}: nothing to resume (no {}; start a new run without --resume)",
            dir.display(),
            layout::RUN_FILE
        ))
        .into());
    }
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, usize::from);
    for line in coordsim::sweep::tails::warnings(&sweep) {
        eprintln!("{line}");
    }
    eprintln!(
        "{} {} x {} from {}{} on {} into {}",
        if args.resume { "resuming" } else { "running" },
        count(sweep.cells.len(), "cell"),
        if adaptive {
            format!(
                "up to {} trials (adaptive: each until {})",
                sweep.trials,
                targets(&precision)
            )
        } else {
            format!("{} trials", sweep.trials)
        },
        sweep.origin,
        if shard.count > 1 {
            format!(" (shard {shard})")
        } else {
            String::new()
        },
        count(threads, "thread"),
        dir.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    // Ctrl-C, SIGTERM (how Slurm and Kubernetes stop a job: a time limit, preemption,
    // scancel) and SIGHUP all save and exit with INTERRUPTED; a second signal exits at once,
    // and the checkpoint on disk stays resumable.
    let _ = ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::SeqCst) {
            std::process::exit(INTERRUPTED.into());
        }
        eprintln!(
            "\ninterrupted: finishing the work items in flight and saving (interrupt again to quit now)"
        );
    });
    let plan = Plan {
        options: RunOptions {
            threads: Some(threads),
            shard,
            checkpoint_every: Some(Duration::from_secs_f64(args.checkpoint_secs)),
        },
        dir,
        resume: args.resume,
    };
    let clock = Instant::now();
    let progress = Progress::default();
    let finished = with_progress_bar(&sweep, shard, &progress, || {
        run::execute(&sweep, &plan, &stop, &progress)
    })
    .map_err(|e| match e {
        RunError::Output(e) => anyhow::Error::new(e),
        e if e.exit_code() == 2 => anyhow::Error::new(UsageError(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    let wall_s = clock.elapsed().as_secs_f64();
    match finished {
        Finished::Interrupted { done, total, dir } => {
            if adaptive {
                eprintln!(
                    "saved {done} work items (of at most {total}) in {}",
                    dir.display()
                );
            } else {
                eprintln!("saved {done} of {total} work items in {}", dir.display());
            }
            eprintln!("resume with: {}", resume_command(&args, &dir, shard));
            Ok(ExitCode::from(INTERRUPTED))
        }
        Finished::Complete {
            files,
            records,
            dir,
        } => {
            let cells = coordsim::engine::layout(&sweep).shard_cells(shard).len();
            if !args.quiet && shard.count == 1 {
                print_cells(&sweep, &records, cells as u64, &dir);
            }
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            // This process's trials: a resumed run's rate leaves out the trials reloaded.
            let trials = progress.trials_done.load(Ordering::Relaxed)
                - progress.trials_resumed.load(Ordering::Relaxed);
            println!(
                "{}, {trials} trials in {wall_s:.2} s ({}/s on {}); wrote {} in {}",
                count(
                    coordsim::engine::layout(&sweep).shard_cells(shard).len(),
                    "cell"
                ),
                si(trials as f64 / wall_s.max(1e-9)),
                count(threads, "thread"),
                names.join(", "),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The command that resumes this run.
fn resume_command(args: &RunArgs, dir: &Path, shard: Shard) -> String {
    let mut words = vec!["coordsim".to_string(), "run".to_string()];
    if let Some(sweep) = &args.sweep {
        words.push(sweep.display().to_string());
    }
    words.extend([
        "--out".to_string(),
        dir.display().to_string(),
        "--resume".to_string(),
    ]);
    if let Some(seed) = args.seed {
        words.push(format!("--seed {seed}"));
    }
    if let Some(trials) = args.trials {
        words.push(format!("--trials {trials}"));
    }
    if let Some(x) = args.precision {
        words.push(format!("--precision {x}"));
    }
    if let Some(x) = args.p99_precision {
        words.push(format!("--p99-precision {x}"));
    }
    if shard.count > 1 {
        words.push(format!("--shard {shard}"));
    }
    words.join(" ")
}

/// What an adaptive run aims for, in words.
fn targets(precision: &Precision) -> String {
    let mut aims = Vec::new();
    if let Some(x) = precision.success {
        aims.push(format!(
            "the 95% interval of its success rate is within +/- {x}"
        ));
    }
    if let Some(x) = precision.p99 {
        let percent = format!("{:.4}", x * 100.0);
        let percent = percent.trim_end_matches('0').trim_end_matches('.');
        aims.push(format!("that of its latency p99 within +/- {percent}%"));
    }
    aims.join(" and ")
}

/// The shard a batch scheduler assigned to this process, and the variables that said so.
fn shard_from_env() -> Result<Option<(Shard, &'static str)>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let number = |name: &str, value: String| -> Result<u64> {
        value
            .trim()
            .parse()
            .map_err(|_| UsageError(format!("{name} = `{value}` is not a number")).into())
    };
    if let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT")) {
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(min) => number("SLURM_ARRAY_TASK_MIN", min)?,
            None => 0,
        };
        let id = number("SLURM_ARRAY_TASK_ID", id)?;
        let count = number("SLURM_ARRAY_TASK_COUNT", count)?;
        let shard =
            Shard::new(id.saturating_sub(min), count).map_err(|e| UsageError(e.to_string()))?;
        return Ok(Some((
            shard,
            "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT",
        )));
    }
    if let Some(index) = var("JOB_COMPLETION_INDEX") {
        let count = var("COORDSIM_SHARD_COUNT").ok_or_else(|| {
            UsageError("JOB_COMPLETION_INDEX is set: set COORDSIM_SHARD_COUNT to the job's completions, or pass --shard K/N".into())
        })?;
        let shard = Shard::new(
            number("JOB_COMPLETION_INDEX", index)?,
            number("COORDSIM_SHARD_COUNT", count)?,
        )
        .map_err(|e| UsageError(e.to_string()))?;
        return Ok(Some((
            shard,
            "JOB_COMPLETION_INDEX and COORDSIM_SHARD_COUNT",
        )));
    }
    Ok(None)
}

fn show(args: ShowArgs) -> Result<ExitCode> {
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

fn merge(args: MergeArgs) -> Result<ExitCode> {
    let mut parts = Vec::new();
    for pattern in &args.parts {
        let text = pattern.to_string_lossy();
        if pattern.exists() || !text.contains(['*', '?', '[']) {
            parts.push(pattern.clone());
            continue;
        }
        let matches: Vec<PathBuf> = glob::glob(&text)
            .map_err(|e| UsageError(format!("{text}: {e}")))?
            .filter_map(|m| m.ok())
            .collect();
        if matches.is_empty() {
            return Err(UsageError(format!("{text}: matches no part")).into());
        }
        parts.extend(matches);
    }
    let merged = run::merge(&parts, &args.out).map_err(|e| match e {
        RunError::Output(e) => anyhow::Error::new(e),
        e if e.exit_code() == 2 => anyhow::Error::new(UsageError(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    if !args.quiet {
        print_cells(&merged.sweep, &merged.records, merged.cells, &args.out);
    }
    println!(
        "merged {}: {}; wrote {}",
        count(parts.len(), "part"),
        count(merged.cells as usize, "cell"),
        merged
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the table of a run's cells, or where to read it when they are too many to print.
fn print_cells(sweep: &Sweep, records: &[CellRecord], cells: u64, dir: &Path) {
    if records.len() as u64 == cells {
        println!("{}", table::summary(sweep, records));
    } else {
        println!(
            "{cells} cells, more than the {} printed here: read them with `coordsim show {}`",
            coordsim::store::SHOWN_CELLS,
            dir.display()
        );
    }
}

/// Runs `work` with a progress bar on stderr when stderr is a terminal: the trials and
/// cells of `shard` done (those of an earlier process included, when resumed), and the rate
/// and time left from this process's own trials.
fn with_progress_bar<T>(
    sweep: &Sweep,
    shard: Shard,
    progress: &Progress,
    work: impl FnOnce() -> T,
) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let (total, cells) = shard_size(sweep, shard);
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let adaptive = if sweep.precision.is_adaptive() {
        " | adaptive"
    } else {
        ""
    };
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .expect("valid template"),
    );
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let trials = progress.trials_done.load(Ordering::Relaxed);
                let (length, rate, left) = bar_numbers(
                    total,
                    progress.trials_planned.load(Ordering::Relaxed),
                    trials,
                    progress.trials_resumed.load(Ordering::Relaxed),
                    start.elapsed().as_secs_f64(),
                );
                bar.set_length(length);
                bar.set_position(trials);
                let eta = left.map_or_else(
                    || "-".to_string(),
                    |s| format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
                );
                bar.set_message(format!(
                    "cells {}/{cells} | {} trials/s{adaptive} | ETA {eta}",
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

/// The trials and cells of `shard`: the progress bar's totals. The trials are known for a
/// fixed trial count; an adaptive run (never sharded) replaces them by its growing estimate.
fn shard_size(sweep: &Sweep, shard: Shard) -> (u64, usize) {
    let layout = coordsim::engine::layout(sweep);
    (layout.shard_trials(shard), layout.shard_cells(shard).len())
}

/// The progress bar's length, the rate of this process's trials per second and the seconds
/// left at that rate, from the shard's `total` trials (or `planned`, the adaptive estimate,
/// when nonzero), the trials `done` (those `resumed` from a checkpoint included) and the
/// seconds this process has run.
fn bar_numbers(
    total: u64,
    planned: u64,
    done: u64,
    resumed: u64,
    elapsed_s: f64,
) -> (u64, f64, Option<u64>) {
    let length = if planned > 0 {
        planned.max(done)
    } else {
        total
    };
    let rate = done.saturating_sub(resumed) as f64 / elapsed_s.max(1e-9);
    let left = (rate > 0.0).then(|| (length.saturating_sub(done) as f64 / rate).round() as u64);
    (length, rate, left)
}

/// A seed: what a sweep file's `seed` may hold.
fn seed(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(seed) if seed <= MAX_SEED => Ok(seed),
        _ => Err(format!(
            "`{text}` is not a seed: an integer in [0, {MAX_SEED}], as a sweep file's `seed`"
        )),
    }
}

/// A target half-width of the success rate's interval.
fn success_precision(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    Precision::check_success(x)
}

/// A target relative half-width of the p99's interval.
fn p99_precision(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    Precision::check_p99(x)
}

/// A number of seconds, finite and > 0.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        _ => Err(format!("`{text}` is not a number of seconds > 0")),
    }
}

/// `n` and `noun`, plural unless `n` is 1: "1 cell", "2 cells".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
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
    for p in protocols::BUILTIN {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_counts_the_shard_and_this_process() {
        let sweep = Sweep::parse(
            "name = \"p\"\nseed = 1\ntrials = 40000\n[grid]\nprotocol = \"ack\"\n\
             nodes = [1, 2, 3, 4, 5]\nlatency = \"l\"\n[latency.l]\nkind = \"constant\"\nms = 1\n",
            "p.toml",
        )
        .unwrap();
        // 5 cells of 3 chunks (16384, 16384, 7232 trials): shard 1 of 2 runs items 7..15,
        // cells 2 to 4: 5 whole chunks and 3 short ones.
        let shard = Shard::new(1, 2).unwrap();
        assert_eq!(shard_size(&sweep, shard), (5 * 16384 + 3 * 7232, 3));
        assert_eq!(shard_size(&sweep, Shard::WHOLE), (200_000, 5));
        // Resumed at 50,000 trials, 10 s later at 60,000: 1000 trials/s, 40 s left of 100,000.
        assert_eq!(
            bar_numbers(100_000, 0, 60_000, 50_000, 10.0),
            (100_000, 1000.0, Some(40))
        );
        // An adaptive estimate replaces the total; nothing run yet leaves the time unknown.
        assert_eq!(
            bar_numbers(100_000, 300_000, 0, 0, 1.0),
            (300_000, 0.0, None)
        );
    }
}
