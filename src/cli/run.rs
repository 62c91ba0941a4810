//! The `run` and `merge` commands: a sweep run whole, as a shard or resumed, and shard parts
//! merged, with what they print.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use coordsim::engine::{self, Progress, RunOptions, Shard};
use coordsim::model::precision::Precision;
use coordsim::run::{self, Finished, Plan};
use coordsim::store::{CellRecord, RunDir, SHOWN_CELLS, layout, table};
use coordsim::sweep::{DEFAULT_ORIGIN, DEFAULT_SWEEP, Limits, Sweep, tails};

use super::args::{MergeArgs, RunArgs};
use super::error::{INTERRUPTED, UsageError};
use super::progress::with_progress_bar;
use super::words::{count, si};

pub(super) fn run(args: RunArgs) -> Result<ExitCode> {
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
        for e in &sweep.expectations {
            let objectives: Vec<String> = e.objectives.iter().map(|o| o.to_string()).collect();
            let mut cells: Vec<String> = e.cells.iter().take(12).map(|c| c.to_string()).collect();
            if e.cells.len() > 12 {
                cells.push(format!("... ({} in all)", e.cells.len()));
            }
            println!(
                "{} ({}): {} in cells {}",
                e.source,
                if e.filter.is_empty() {
                    "every cell".to_string()
                } else {
                    super::printable(&e.filter)
                },
                objectives.join(", "),
                cells.join(", ")
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
    for line in tails::warnings(&sweep) {
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
            verdicts,
            dir,
        } => {
            let cells = engine::layout(&sweep).shard_cells(shard).len();
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
                count(engine::layout(&sweep).shard_cells(shard).len(), "cell"),
                si(trials as f64 / wall_s.max(1e-9)),
                count(threads, "thread"),
                names.join(", "),
                dir.display()
            );
            // A shard's cells are judged when the parts are merged.
            if shard.count > 1 {
                return Ok(ExitCode::SUCCESS);
            }
            Ok(objectives(&sweep, verdicts))
        }
    }
}

/// Prints what the sweep's objectives came to; exit code 1 if a cell missed one.
fn objectives(sweep: &Sweep, verdicts: run::Verdicts) -> ExitCode {
    if sweep.expectations.is_empty() {
        return ExitCode::SUCCESS;
    }
    let report = verdicts.report(sweep);
    println!("{}", report.render());
    if report.missed() {
        eprintln!("error: an objective was missed (see above); the results are written");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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

pub(super) fn merge(args: MergeArgs) -> Result<ExitCode> {
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
    let merged = run::merge(&parts, &args.out)?;
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
    Ok(objectives(&merged.sweep, merged.verdicts))
}

/// Prints the table of a run's cells, or where to read it when they are too many to print.
fn print_cells(sweep: &Sweep, records: &[CellRecord], cells: u64, dir: &Path) {
    if records.len() as u64 == cells {
        println!("{}", table::summary(sweep, records));
    } else {
        println!(
            "{cells} cells, more than the {} printed here: read them with `coordsim show {}`",
            SHOWN_CELLS,
            dir.display()
        );
    }
}
