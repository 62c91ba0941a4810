//! The command line's arguments and help text (clap), with the parsers of their values.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use coordsim::compare::render::Format as CompareFormat;
use coordsim::compare::{DEFAULT_ALPHA, Threshold};
use coordsim::engine::Shard;
use coordsim::model::precision::Precision;
use coordsim::show::{Filter, Format};
use coordsim::sweep::{MAX_SEED, MAX_TRIALS};

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
  coordsim compare base new --format markdown           what changed, cell by cell
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

  [[expect]]                    # optional objectives, checked when the run ends
  where = \"protocol = 'two-phase-commit' and nodes = 5\"   # optional: every cell
  success_rate = \">= 0.999\"     # also latency_ms_p50, _p90, _p99, _p999 (\"<= 20\")

Each objective is met, missed or undecided for each cell it selects; every verdict of a
run is right (or undecided) with probability 95% at least. A missed objective makes
`run` and `merge` exit with code 1 once the results are written. With a precision
target, an undecided cell runs on until it is decided or reaches the cap.

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
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
    /// Compare two runs cell by cell: success rate, latency p50 and p99, messages and dollars
    /// per month, each change with an interval and a verdict; exit code 1 on a regression
    #[command(after_help = COMPARE_HELP)]
    Compare(CompareArgs),
    /// From requirements to the cheapest design that meets them: every design that provides
    /// the consistency asked for is measured in the stated environment until each objective
    /// is decided, and ranked by dollars per month; exit code 1 when none meets them all
    #[command(after_help = ADVISE_HELP)]
    Advise(AdviseArgs),
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

const ADVISE_HELP: &str = "\
A requirements file:

  name = \"orders\"
  consistency = \"linearizable\"   # none | eventual | read-your-writes | linearizable |
                                 # atomic-commit | byzantine
  crashes = 1                    # crashed nodes to survive (f)
  nodes = 5                      # replicas of replicated designs [default: the fewest the
                                 # faults need: f + 1, 2f + 1 for majorities, 3b + 1]
  byzantine = 0                  # Byzantine nodes to survive (for consistency = \"byzantine\")
  partitions = \"majority\"        # majority: the majority side keeps working; available: both
                                 # sides keep serving (eventual consistency at most: CAP)
  participants = 3               # atomic commit: participants
  blocking = true                # atomic commit: may it block while the coordinator is down?
  success_rate = 0.999           # objective: at least this success rate (or: availability)
  latency_ms_p99 = 20            # objective: at most this p99 (optional)
  trials = 4_000_000             # per design at most
  seed = 1

  [environment]
  crash = 0.01                   # as a sweep's [grid] axes (one value each)
  loss = 0.001
  partition = 0                  # chance a trial's nodes are split in two
  latency = { kind = \"exponential\", mean_ms = 0.5 }   # as a sweep's [latency.NAME]

  [cost]                         # as a sweep's [cost]: message_bytes, ops_per_month,
                                 # usd_per_gb, usd_per_hour (of latency), [cost.premium]

Every design that provides the consistency asked for (or more) is measured; they are ranked
by $/month (transfer plus latency, to two significant digits; the lower rung first at equal
dollars), and the cheapest that meets every objective is recommended. The output directory
holds designs/ (the designs' run), sensitivity/crash, sensitivity/loss and
sensitivity/latency (every design again with one input moved by x0.1 to x10), and
frontier.svg (p99 against $/month; the frontier joined).

Exit codes: 0 a design meets every objective, 1 none does, 2 bad requirements.

Examples:
  coordsim advise sweeps/advise/linearizable.toml
  coordsim advise sweeps/advise/linearizable.toml --format json | jq .recommended
  coordsim advise sweeps/advise/linearizable.toml --no-sensitivity";

/// `coordsim advise`.
#[derive(Debug, Args)]
pub(super) struct AdviseArgs {
    /// Requirements file (TOML)
    pub(super) requirements: PathBuf,
    /// Output directory, which must not exist: the designs' run, the sensitivity runs and
    /// the frontier plot [default: results/advise-<name>-<UTC time>]
    #[arg(long, short)]
    pub(super) out: Option<PathBuf>,
    /// Worker threads [default: one per core]; results do not depend on it
    #[arg(long, short = 'j')]
    pub(super) threads: Option<NonZeroUsize>,
    /// table (a ranked table and the recommendation) or json (for scripts)
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub(super) format: String,
    /// Skip the sensitivity runs (crash, loss and latency moved one at a time)
    #[arg(long)]
    pub(super) no_sensitivity: bool,
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Sweep file (TOML); without one, the embedded default sweep runs
    pub(super) sweep: Option<PathBuf>,
    /// Output directory, which must not exist [default: results/<name>-<UTC time>]
    #[arg(long, short)]
    pub(super) out: Option<PathBuf>,
    /// Worker threads [default: one per core]; results do not depend on it
    #[arg(long, short = 'j')]
    pub(super) threads: Option<NonZeroUsize>,
    /// Use this seed instead of the sweep's: an integer in [0, 2^63 - 1], as in a sweep file
    #[arg(long, value_parser = seed)]
    pub(super) seed: Option<u64>,
    /// Use this many trials per cell instead of the sweep's (with a precision: the cap per
    /// cell)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_TRIALS))]
    pub(super) trials: Option<u64>,
    /// Run adaptively: add trials to each cell (16384 at a time, up to --trials) until the 95%
    /// interval of its success rate is this wide either side or narrower, in (0, 0.5];
    /// overrides the sweep's `precision`. Refused with --shard: a cell's trials must stay in
    /// one process
    #[arg(long, value_name = "HALF_WIDTH", value_parser = success_precision)]
    pub(super) precision: Option<f64>,
    /// Run adaptively: add trials to each cell until a 95% interval of its latency p99 is
    /// this wide either side, relative to the p99, or narrower, in [0.002, 1) (0.01 is +/- 1%);
    /// overrides the sweep's `p99_precision`. With --precision, both must be met
    #[arg(long, value_name = "RELATIVE", value_parser = p99_precision)]
    pub(super) p99_precision: Option<f64>,
    /// Print the cells and the trial count, run nothing
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Do not print the summary table at the end
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Run only shard K of N (0 <= K < N) and write a part for `coordsim merge`
    /// [default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and
    /// COORDSIM_SHARD_COUNT, when set]; refused with a precision target
    #[arg(long, value_name = "K/N")]
    pub(super) shard: Option<Shard>,
    /// Continue an interrupted run in --out from its checkpoint (after a crash, kill -9,
    /// Ctrl-C, SIGTERM or SIGHUP; the last three save and exit with 130). Refused while
    /// another process runs in the directory, and for a run of another sweep, seed, trial
    /// count, shard or contents of the files the sweep reads
    #[arg(long)]
    pub(super) resume: bool,
    /// Seconds between checkpoints of finished work
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = seconds)]
    pub(super) checkpoint_secs: f64,
    /// Refuse grids of more cells than this, unless --yes
    #[arg(long, default_value_t = 1_000_000, value_name = "CELLS")]
    pub(super) max_cells: u64,
    /// Run a grid larger than --max-cells, and cells of more than 1,000,000 nodes
    #[arg(long)]
    pub(super) yes: bool,
}

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// A run directory (holding summary.parquet)
    pub(super) dir: PathBuf,
    /// Columns to show, comma-separated, or `all` [default: the varied parameters and the
    /// headline results for a table; all columns for csv and json]
    #[arg(long, value_delimiter = ',')]
    pub(super) columns: Vec<String>,
    /// Keep rows where COLUMN=VALUE (also !=, <, <=, >, >=); repeat to combine
    #[arg(long = "where", value_name = "FILTER")]
    pub(super) filters: Vec<Filter>,
    /// Output format: table, csv, json or markdown
    #[arg(long, default_value = "table")]
    pub(super) format: Format,
}

const COMPARE_HELP: &str = "\
Cells are matched by their parameters (protocol, nodes, crash, loss, zones, ..., latency
model, protocol parameters), not by cell id; cells in one run only are listed. --ignore
leaves out the parameter a change is about, so that its cells match.

For each matched cell and metric: the change new - base with its interval, and a verdict:
  regressed     worse than the threshold (Holm-adjusted p-value <= --alpha)
  improved      better by more than the threshold (likewise, a family of its own)
  unchanged     the interval lies within the threshold either side
  inconclusive  neither: too few trials to tell
Intervals: success_rate, Newcombe's hybrid score interval of a difference of proportions;
latency percentiles, order statistics of each run's latency histogram (distribution-free,
Bonferroni over the two runs); messages_mean and transfer_usd_per_month, normal
approximation with the variance of the message histogram (a plain change, said so, where a
run has no such histogram). False alarms: Holm's method over every cell and metric keeps the
chance of any false regression at most --alpha.

Default thresholds (a percentage is of the base run's value):
  --max-drop success_rate=0.001
  --max-rise latency_ms_p50=5%   --max-rise latency_ms_p99=5%
  --max-rise messages_mean=1%    --max-rise transfer_usd_per_month=1%

Exit codes: 0 no regression; 1 a regression (or, with --strict, an inconclusive result);
2 bad input (a missing directory, not a run directory, different metric sets).

Examples:
  coordsim compare out/base out/new
  coordsim compare out/base out/new --max-drop success_rate=0.0001 --max-rise latency_ms_p99=5%
  coordsim compare out/base out/new --ignore timeout_ms --format markdown > comment.md
  coordsim compare out/base out/new --format junit > compare.xml --strict";

#[derive(Debug, Args)]
pub(super) struct CompareArgs {
    /// The base run's directory (a whole or merged run)
    pub(super) base: PathBuf,
    /// The new run's directory
    pub(super) new: PathBuf,
    /// Largest tolerated drop of a metric that gets worse dropping, METRIC=X or METRIC=X%
    /// (of the base value); repeat for several [default: success_rate=0.001]
    #[arg(long, value_name = "METRIC=X", value_parser = metric_threshold)]
    pub(super) max_drop: Vec<(String, Threshold)>,
    /// Largest tolerated rise of a metric that gets worse rising, METRIC=X or METRIC=X%;
    /// repeat for several [default: latency_ms_p50=5%, latency_ms_p99=5%, messages_mean=1%,
    /// transfer_usd_per_month=1%]
    #[arg(long, value_name = "METRIC=X", value_parser = metric_threshold)]
    pub(super) max_rise: Vec<(String, Threshold)>,
    /// Family-wise error rate: the chance of any false regression (Holm's method), and
    /// 1 - the confidence of the intervals shown
    #[arg(long, default_value_t = DEFAULT_ALPHA, value_parser = alpha)]
    pub(super) alpha: f64,
    /// Leave this parameter column out of the matching (the parameter the change is about,
    /// e.g. timeout_ms); repeat or separate with commas for several
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub(super) ignore: Vec<String>,
    /// Exit with code 1 on an inconclusive result too (JUnit: a failure)
    #[arg(long)]
    pub(super) strict: bool,
    /// Output format: table, markdown, json or junit
    #[arg(long, default_value = "table")]
    pub(super) format: CompareFormat,
}

/// `METRIC=THRESHOLD`.
fn metric_threshold(text: &str) -> Result<(String, Threshold), String> {
    let (metric, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not METRIC=X or METRIC=X%"))?;
    Ok((metric.trim().to_string(), value.parse()?))
}

/// A significance level in (0, 1).
fn alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!("`{text}` is not a level in (0, 1)")),
    }
}

#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// Part directories (or their part.parquet files); globs such as 'parts/*' are expanded
    #[arg(required = true)]
    pub(super) parts: Vec<PathBuf>,
    /// Output directory, which must not exist
    #[arg(long, short)]
    pub(super) out: PathBuf,
    /// Do not print the summary table
    #[arg(long, short)]
    pub(super) quiet: bool,
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
