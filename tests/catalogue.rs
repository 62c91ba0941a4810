//! The catalogue of bad inputs: each exits non-zero with one line that says what is wrong and
//! where, and leaves nothing where the output was to go.

mod common;
#[path = "fuzz/damage.rs"]
mod damage;
#[path = "fuzz/fixtures.rs"]
mod fixtures;

use std::path::Path;

use common::{coordsim, data, error_line};
use damage::Damage;

struct Case {
    /// What is wrong.
    name: &'static str,
    /// The sweep: tiny.toml with `from` replaced by `to` (or appended when `from` is empty).
    from: &'static str,
    to: &'static str,
    /// Text appended to the sweep.
    append: &'static str,
    /// Extra command-line arguments.
    args: &'static [&'static str],
    /// The exit code and the one line on stderr, in full (without `error: `).
    code: i32,
    error: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "malformed TOML",
        from: "seed = 2024",
        to: "seed = = 2024",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: line 3, column 8: invalid TOML: extra `=`, expected nothing",
    },
    Case {
        name: "unclosed table header",
        from: "[grid]",
        to: "[grid",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: line 6, column 6: invalid TOML: unclosed table, expected `]`",
    },
    Case {
        name: "wrong type: string for a count",
        from: "nodes = [3, 7]",
        to: "nodes = \"seven\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.nodes: expected an integer, found a string",
    },
    Case {
        name: "wrong type: string for a probability",
        from: "loss = 0.01",
        to: "loss = \"low\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.loss: expected a number, found a string",
    },
    Case {
        name: "wrong type: table for the name",
        from: "name = \"tiny\"",
        to: "name = { a = 1 }",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: name: expected a string, found a table",
    },
    Case {
        name: "unknown top-level key",
        from: "seed = 2024",
        to: "seed = 2024\nthreads = 4",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: threads: unknown key `threads` (expected one of `cost`, `description`, `expect`, `grid`, `latency`, `name`, `p99_precision`, `params`, `precision`, `seed`, `trials`)",
    },
    Case {
        name: "unknown grid key",
        from: "loss = 0.01",
        to: "loss = 0.01\nlos = 0.1",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.los: unknown key `los`: not an axis (protocol, nodes, crash, loss, zones, zone_crash, partition, regions, latency, cross_latency, persist, process) nor a parameter of fire-and-forget, ack, quorum, two-phase-commit",
    },
    Case {
        name: "unknown protocol parameter",
        from: "timeout_ms = 5",
        to: "timeout_ms = 5\ntimeout = 5",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.two-phase-commit.timeout: unknown key `timeout` (expected one of `commit`, `coordinator_crash`, `nodes`, `sampling`, `timeout_ms`)",
    },
    Case {
        name: "unknown latency key",
        from: "mean_ms = 0.5",
        to: "mean_ms = 0.5, median_ms = 1",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.of.median_ms: unknown key `median_ms` (expected one of `kind`, `mean_ms`)",
    },
    Case {
        name: "unknown protocol",
        from: "\"ack\", \"quorum\"",
        to: "\"ack\", \"quorom\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.protocol[2]: unknown protocol `quorom` (known: fire-and-forget, ack, exactly-once, quorum, quorum-rw, leader, two-phase-commit, three-phase-commit, raft, paxos, paxos-commit, pbft, tree, full-mesh, gossip, sequencer, sharded-sequencer, chatty, batched, clock-sync, periodic-broadcast, state-transfer, crdt-counter, locked-counter, cache-hierarchy)",
    },
    Case {
        name: "unknown latency kind",
        from: "kind = \"mixture\"",
        to: "kind = \"gaussian\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.tail.kind: unknown latency kind `gaussian` (expected one of constant, uniform, exponential, lognormal, pareto, weibull, shifted, mixture, empirical)",
    },
    Case {
        name: "undefined latency model",
        from: "latency = [\"lan\", \"tail\"]",
        to: "latency = [\"lan\", \"wan\"]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.latency[1]: no latency model `wan` is defined (defined: lan, tail)",
    },
    Case {
        name: "NaN probability",
        from: "loss = 0.01",
        to: "loss = nan",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.loss: NaN is not a finite number",
    },
    Case {
        name: "infinite delay",
        from: "mean_ms = 0.5",
        to: "mean_ms = inf",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.of.mean_ms: inf is not a finite number",
    },
    Case {
        name: "probability above 1",
        from: "crash = [0.0, 0.05]",
        to: "crash = [0.0, 1.05]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.crash[1]: 1.05 is not a probability in [0, 1]",
    },
    Case {
        name: "negative probability",
        from: "loss = 0.01",
        to: "loss = -0.01",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.loss: -0.01 is not a probability in [0, 1]",
    },
    Case {
        name: "zero nodes",
        from: "nodes = [3, 7]",
        to: "nodes = [0, 7]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.nodes[0]: 0 is outside [1, 1000000000]",
    },
    Case {
        name: "negative nodes",
        from: "nodes = [3, 7]",
        to: "nodes = -3",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.nodes: -3 is outside [1, 1000000000]",
    },
    Case {
        name: "k above N",
        from: "k = [2, \"majority\"]",
        to: "k = [2, 5]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.quorum.k: k = 5 exceeds nodes = 3 (cell 17: quorum with nodes = 3)",
    },
    Case {
        name: "quorum of zero",
        from: "k = [2, \"majority\"]",
        to: "k = 0",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.quorum.k: 0 is outside [1, 4294967295]",
    },
    Case {
        name: "a read quorum that cannot be met",
        from: "\"two-phase-commit\"]",
        to: "\"two-phase-commit\", \"quorum-rw\"]",
        append: "\n[params.quorum-rw]\nr = 9\n",
        args: &[],
        code: 2,
        error: "bad.toml: params.quorum-rw.r: r = 9 is outside [1, nodes = 3] (cell 40: quorum-rw with nodes = 3)",
    },
    Case {
        name: "a staleness window measured from a read after the commit",
        from: "\"two-phase-commit\"]",
        to: "\"two-phase-commit\", \"quorum-rw\"]",
        append: "\n[params.quorum-rw]\nt_ms = 5\nmeasure = \"window\"\n",
        args: &[],
        code: 2,
        error: "bad.toml: params.quorum-rw.t_ms: must be 0 with measure = \"window\": the window is measured from the commit (cell 40: quorum-rw with nodes = 3)",
    },
    Case {
        name: "an empty grid axis",
        from: "crash = [0.0, 0.05]",
        to: "crash = []",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.crash: empty list",
    },
    Case {
        name: "no protocol",
        from: "protocol = [\"fire-and-forget\", \"ack\", \"quorum\", \"two-phase-commit\"]",
        to: "protocol = []",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.protocol: empty list",
    },
    Case {
        name: "no grid",
        from: "[grid]",
        to: "[grud]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid: missing (required)",
    },
    Case {
        name: "a repeated axis value",
        from: "nodes = [3, 7]",
        to: "nodes = [3, 3]",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.nodes[1]: repeats an earlier value of this axis",
    },
    Case {
        name: "too many cells",
        from: "nodes = [3, 7]",
        to: "nodes = [3, 4, 5, 6, 7]",
        append: "",
        args: &["--max-cells", "50"],
        code: 2,
        error: "bad.toml: grid: 100 cells exceed the limit of 50 (pass --yes to run them, or raise --max-cells)",
    },
    Case {
        name: "mixture weights not summing to 1",
        from: "weight = 0.05",
        to: "weight = 0.15",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.tail.components: weights sum to 1.1, not 1",
    },
    Case {
        name: "a negative latency parameter",
        from: "shape = 1.5",
        to: "shape = -1.5",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.tail.components[1].of.shape: shape = -1.5 must be a finite number > 0",
    },
    Case {
        name: "an empirical file that is missing",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"nowhere.csv\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.file: cannot read nowhere.csv: No such file or directory (os error 2)",
    },
    Case {
        name: "an empirical file that is empty",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"empty.csv\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.file: empty.csv: no latencies in the file",
    },
    Case {
        name: "an empirical file that is not numbers",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"words.csv\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.file: words.csv line 2: `fast` is not a number",
    },
    Case {
        name: "an HdrHistogram log without a unit",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"lat.hlog\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.unit: missing: an HdrHistogram log (.hlog) needs its unit (\"ns\", \"us\", \"ms\" or \"s\"); its values are usually ns or us",
    },
    Case {
        name: "zero trials",
        from: "trials = 40_000",
        to: "trials = 0",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: trials: 0 is outside [1, 1000000000000]",
    },
    Case {
        name: "absurdly many trials",
        from: "trials = 40_000",
        to: "trials = 10_000_000_000_000",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: trials: 10000000000000 is outside [1, 1000000000000]",
    },
    Case {
        name: "a zero timeout",
        from: "timeout_ms = 5",
        to: "timeout_ms = 0",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.two-phase-commit.timeout_ms: 0 must be > 0 (milliseconds)",
    },
    Case {
        name: "a choice not offered",
        from: "timeout_ms = 5",
        to: "timeout_ms = 5\ncommit = \"eventually\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.two-phase-commit.commit: `eventually` is not one of \"resend\", \"reliable\"",
    },
    Case {
        name: "too many zones",
        from: "loss = 0.01",
        to: "loss = 0.01\nzones = 65",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.zones: 65 is outside [1, 64]",
    },
    Case {
        name: "regions without a cross-region latency",
        from: "loss = 0.01",
        to: "loss = 0.01\nregions = 2",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.cross_latency: missing: grid.regions > 1 needs a cross-region latency model",
    },
    Case {
        name: "an overloaded sequencer",
        from: "\"two-phase-commit\"]",
        to: "\"two-phase-commit\", \"sequencer\"]",
        append: "\n[params.sequencer]\nrate_per_s = 9000\n",
        args: &[],
        code: 2,
        error: "bad.toml: params.sequencer.rate_per_s: load rho = rate_per_s / channels x service_ms = 2.250 >= 1: the queue would grow without bound (cell 40: sequencer with nodes = 3)",
    },
    Case {
        name: "a negative seed",
        from: "seed = 2024",
        to: "seed = -1",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: seed: -1 is outside [0, 9223372036854775807]",
    },
    Case {
        name: "a name that is a path",
        from: "name = \"tiny\"",
        to: "name = \"../x\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: name: `../x` is not a valid name (1 to 100 of A-Z a-z 0-9 - _ . , not starting with .)",
    },
    Case {
        name: "a zero precision",
        from: "trials = 40_000",
        to: "trials = 40_000\nprecision = 0",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: precision: 0 is outside (0, 0.5]: it is the target half-width of the 95% interval of the success rate",
    },
    Case {
        name: "a precision wider than any interval",
        from: "trials = 40_000",
        to: "trials = 40_000\nprecision = 0.6",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: precision: 0.6 is outside (0, 0.5]: it is the target half-width of the 95% interval of the success rate",
    },
    Case {
        name: "a precision in words",
        from: "trials = 40_000",
        to: "trials = 40_000\nprecision = \"tight\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: precision: expected a number, found a string",
    },
    Case {
        name: "a p99 precision finer than the histograms",
        from: "trials = 40_000",
        to: "trials = 40_000\np99_precision = 0.001",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: p99_precision: 0.001 is below 0.002: latencies are kept to 3 significant digits, too coarse to pin the p99 down further",
    },
    Case {
        name: "a p99 precision of 100%",
        from: "trials = 40_000",
        to: "trials = 40_000\np99_precision = 1",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: p99_precision: 1 is outside [0.002, 1): it is the target relative half-width of a 95% interval of the latency p99",
    },
    Case {
        name: "a precision on the command line out of range",
        from: "",
        to: "",
        append: "",
        args: &["--precision", "0.7"],
        code: 2,
        error: "invalid value '0.7' for '--precision <HALF_WIDTH>': 0.7 is outside (0, 0.5]: it is the target half-width of the 95% interval of the success rate (coordsim --help explains)",
    },
    Case {
        name: "a p99 precision on the command line too fine",
        from: "",
        to: "",
        append: "",
        args: &["--p99-precision", "0.0005"],
        code: 2,
        error: "invalid value '0.0005' for '--p99-precision <RELATIVE>': 0.0005 is below 0.002: latencies are kept to 3 significant digits, too coarse to pin the p99 down further (coordsim --help explains)",
    },
    Case {
        name: "precision in a shard",
        from: "",
        to: "",
        append: "",
        args: &["--precision", "0.01", "--shard", "1/2"],
        code: 2,
        error: "precision targets need all of a cell's trials in one process: they cannot run as shard 1/2 (run the sweep whole, or without precision)",
    },
    Case {
        name: "a sweep's precision in a shard",
        from: "trials = 40_000",
        to: "trials = 40_000\np99_precision = 0.05",
        append: "",
        args: &["--shard", "0/3"],
        code: 2,
        error: "precision targets need all of a cell's trials in one process: they cannot run as shard 0/3 (run the sweep whole, or without precision)",
    },
    Case {
        name: "a bad checkpoint interval",
        from: "",
        to: "",
        append: "",
        args: &["--checkpoint-secs=-1"],
        code: 2,
        error: "invalid value '-1' for '--checkpoint-secs <SECONDS>': `-1` is not a number of seconds > 0 (coordsim --help explains)",
    },
    Case {
        name: "an empirical file that is a device",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"/dev/zero\"",
        append: "",
        args: &["--dry-run"],
        code: 2,
        error: "bad.toml: latency.lan.file: /dev/zero is not a regular file",
    },
    Case {
        name: "an empirical file too large",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"empirical\"\nfile = \"big.csv\"",
        append: "",
        args: &["--dry-run"],
        code: 2,
        error: "bad.toml: latency.lan.file: big.csv has 100000001 bytes, more than the 100000000 an empirical latency file may have",
    },
    Case {
        name: "a constant delay of 10^300 ms",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"constant\"\nms = 1e300",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.ms: ms = 1e300 exceeds 3600000 (one hour, the longest delay a model may name)",
    },
    Case {
        name: "a control character in a name, escaped in the error line",
        from: "\"ack\", \"quorum\"",
        to: "\"ack\", \"qu\\u001b[31morum\"",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: grid.protocol[2]: unknown protocol `qu\\u{1b}[31morum` (known: fire-and-forget, ack, exactly-once, quorum, quorum-rw, leader, two-phase-commit, three-phase-commit, raft, paxos, paxos-commit, pbft, tree, full-mesh, gossip, sequencer, sharded-sequencer, chatty, batched, clock-sync, periodic-broadcast, state-transfer, crdt-counter, locked-counter, cache-hierarchy)",
    },
    Case {
        name: "a timeout of 10^13 ms",
        from: "timeout_ms = 5",
        to: "timeout_ms = 1e13",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: params.two-phase-commit.timeout_ms: 10000000000000 exceeds 3600000 (one hour, the longest time a parameter may name)",
    },
    Case {
        name: "a shift longer than an hour",
        from: "shift_ms = 0.05",
        to: "shift_ms = 3_600_001",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.shift_ms: shift_ms = 3600001 exceeds 3600000 (one hour, the longest delay a model may name)",
    },
    Case {
        name: "a uniform bound longer than an hour",
        from: "[latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\nof = { kind = \"exponential\", mean_ms = 0.5 }",
        to: "[latency.lan]\nkind = \"uniform\"\nlow_ms = 1\nhigh_ms = 1e7",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.lan.high_ms: high_ms = 10000000 exceeds 3600000 (one hour, the longest delay a model may name)",
    },
    Case {
        name: "a Pareto scale longer than an hour",
        from: "scale_ms = 2",
        to: "scale_ms = 4e6",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.tail.components[1].of.scale_ms: scale_ms = 4000000 exceeds 3600000 (one hour, the longest delay a model may name)",
    },
    Case {
        name: "a lognormal median longer than an hour",
        from: "median_ms = 1",
        to: "median_ms = 1e12",
        append: "",
        args: &[],
        code: 2,
        error: "bad.toml: latency.tail.components[0].of.median_ms: median_ms = 1000000000000 exceeds 3600000 (one hour, the longest delay a model may name)",
    },
    Case {
        name: "a cell of a billion nodes",
        from: "nodes = [3, 7]",
        to: "nodes = [3, 1_000_000_000]",
        append: "",
        args: &["--dry-run"],
        code: 2,
        error: "bad.toml: grid.nodes: 1000000000 nodes exceed the limit of 1000000 per cell (a trial's work and memory grow with N; pass --yes to run it) (cell 4: fire-and-forget with nodes = 1000000000)",
    },
    Case {
        name: "a seed a sweep file cannot hold",
        from: "",
        to: "",
        append: "",
        args: &["--seed", "18446744073709551615"],
        code: 2,
        error: "invalid value '18446744073709551615' for '--seed <SEED>': `18446744073709551615` is not a seed: an integer in [0, 9223372036854775807], as a sweep file's `seed` (coordsim --help explains)",
    },
    Case {
        name: "resuming nothing",
        from: "",
        to: "",
        append: "",
        args: &["--resume"],
        code: 2,
        error: "out: nothing to resume (no coordsim-run.toml; start a new run without --resume)",
    },
];

fn run(dir: &Path, case: &Case) {
    let text = std::fs::read_to_string(data("tiny.toml")).unwrap();
    assert!(
        case.from.is_empty() || text.contains(case.from),
        "{}: `{}` not in tiny.toml",
        case.name,
        case.from
    );
    let mut sweep = if case.from.is_empty() {
        text
    } else {
        text.replacen(case.from, case.to, 1)
    };
    sweep.push_str(case.append);
    std::fs::write(dir.join("bad.toml"), sweep).unwrap();
    let output = coordsim(dir)
        .args(["run", "bad.toml", "--out", "out"])
        .args(case.args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(case.code),
        "{}: {stderr}",
        case.name
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "{}: one line, got: {stderr}",
        case.name
    );
    let line = stderr.trim_end().trim_start_matches("error: ");
    assert_eq!(line, case.error, "{}", case.name);
    assert!(
        !dir.join("out").exists(),
        "{}: output left behind",
        case.name
    );
}

#[test]
fn every_bad_input_is_refused_in_one_line() {
    assert!(CASES.len() >= 30);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("empty.csv"), "").unwrap();
    std::fs::write(tmp.path().join("words.csv"), "1.5\nfast\n").unwrap();
    // A sparse file one byte over the limit: nothing of it is read.
    std::fs::File::create(tmp.path().join("big.csv"))
        .unwrap()
        .set_len(coordsim::latency::MAX_EMPIRICAL_BYTES + 1)
        .unwrap();
    for case in CASES {
        run(tmp.path(), case);
    }
}

#[test]
fn a_file_in_the_way_of_the_output_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("file"), "not a directory").unwrap();
    let output = coordsim(tmp.path())
        .args(["run", data("tiny.toml").to_str().unwrap()])
        .args(["--out", "file/deeper/out", "--trials", "100"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        error_line(&output),
        "file: is a file, not a directory: cannot create file/deeper/out in it"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("file")).unwrap(),
        "not a directory"
    );
}

/// Whether this process's permissions bind: root's do not.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn an_unwritable_output_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory without write permission; as root, where permissions do not bind, sysfs,
    // where no one may create a directory.
    let (parent, expected) = if is_root() {
        let probe = Path::new("/sys/coordsim-probe");
        match std::fs::create_dir(probe) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            other => {
                let _ = std::fs::remove_dir(probe);
                println!("skipped: running as root and /sys takes new directories ({other:?})");
                return;
            }
        }
        (
            Path::new("/sys").to_path_buf(),
            "/sys/coordsim-out: Operation not permitted",
        )
    } else {
        let parent = tmp.path().join("read-only");
        std::fs::create_dir(&parent).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
        (parent, "read-only/coordsim-out: Permission denied")
    };
    let out = if is_root() {
        parent.join("coordsim-out")
    } else {
        Path::new("read-only/coordsim-out").to_path_buf()
    };
    let output = coordsim(tmp.path())
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out"])
        .arg(&out)
        .args(["--trials", "100"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(error_line(&output), expected);
    assert!(!parent.join("coordsim-out").exists());
}

#[test]
fn yes_lifts_the_cell_and_node_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("tiny.toml")).unwrap();
    std::fs::write(
        tmp.path().join("big.toml"),
        text.replacen("nodes = [3, 7]", "nodes = [3, 2_000_000]", 1),
    )
    .unwrap();
    let dry_run = |args: &[&str]| {
        coordsim(tmp.path())
            .args(["run", "big.toml", "--dry-run"])
            .args(args)
            .output()
            .unwrap()
    };
    for args in [&["--max-cells", "10"][..], &[]] {
        let refused = dry_run(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(error_line(&refused).contains("pass --yes"), "{args:?}");
        let forced = dry_run(&[args, &["--yes"]].concat());
        let stdout = String::from_utf8_lossy(&forced.stdout);
        assert!(forced.status.success(), "{args:?}");
        assert!(
            stdout.contains("big.toml: 40 cells x 40000 trials = 1600000 trials"),
            "{stdout}"
        );
    }
}

#[test]
fn the_default_sweep_obeys_the_cell_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let output = coordsim(tmp.path())
        .args(["run", "--max-cells", "10", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        error_line(&output),
        "sweeps/default.toml (embedded): grid: 298 cells exceed the limit of 10 (pass --yes to run them, or raise --max-cells)"
    );
    assert!(output.stdout.is_empty());
    coordsim(tmp.path())
        .args(["run", "--max-cells", "10", "--yes", "--dry-run"])
        .assert()
        .success();
}

#[test]
fn a_device_is_not_read_as_a_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let output = coordsim(tmp.path())
        .args(["run", "/dev/zero", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        error_line(&output),
        "/dev/zero: more than 16 MiB: not a sweep file"
    );
}

#[test]
fn a_full_disk_fails_cleanly() {
    // A file-size limit of 64 KiB: the histograms file cannot be written. The output goes two
    // folders deep: neither is left behind.
    let tmp = tempfile::tempdir().unwrap();
    let output = run_with_file_limit(tmp.path(), 64, "nested/deeper/out", 20_000);
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let error = error_line(&output);
    assert_eq!(
        error, "nested/deeper/out/histograms.parquet: File too large",
        "{stderr}"
    );
    assert!(
        !tmp.path().join("nested").exists(),
        "partial output left: {stderr}"
    );
}

#[test]
fn a_failed_start_leaves_nothing() {
    // No file may grow at all: the run file, the first thing written, fails. The run
    // directory and the two folders created for it are removed.
    let tmp = tempfile::tempdir().unwrap();
    let output = run_with_file_limit(tmp.path(), 0, "a/b/out", 100);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        error_line(&output),
        "a/b/out/coordsim-run.toml: File too large"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// Runs tests/data/tiny.toml in `dir` into `out` under `ulimit -f KIB` (no file may grow
/// beyond `kib` KiB).
fn run_with_file_limit(dir: &Path, kib: u32, out: &str, trials: u64) -> std::process::Output {
    let binary = assert_cmd::cargo::cargo_bin("coordsim");
    std::process::Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "ulimit -f {kib}; exec '{}' run '{}' --out {out} --trials {trials} --quiet",
            binary.display(),
            data("tiny.toml").display()
        ))
        .output()
        .unwrap()
}

/// A damaged file of a run directory: a file of the fixtures (`tests/fuzz/fixtures.rs`: a
/// whole run, two shards, a run interrupted after a checkpoint) altered, then read.
struct DamagedCase {
    /// What is wrong.
    name: &'static str,
    /// The file, under the fixtures' root.
    file: &'static str,
    /// What is done to it (given the fixtures' root).
    damage: fn(&Path) -> Vec<Damage>,
    /// The command, run in a copy of the fixtures.
    args: &'static [&'static str],
    /// The exit code and the one error line, in full (without `error: `).
    code: i32,
    error: &'static str,
}

const VERIFY: &[&str] = &["verify", "whole"];
const RESUME: &[&str] = &[
    "run",
    "damaged.toml",
    "--out",
    "stopped",
    "--resume",
    "--quiet",
];
const MERGE: &[&str] = &["merge", "parts/0", "parts/1", "--out", "merged", "--quiet"];
const CHECKPOINT: &str = "stopped/checkpoint/000001.parquet";

fn toml_line(key: &str, value: &str) -> Vec<Damage> {
    vec![Damage::TomlLine {
        key: key.to_string(),
        value: value.as_bytes().to_vec(),
    }]
}

/// The first checkpoint's `key` set to `value`, its metadata checksum made to match.
fn resealed(root: &Path, key: &str, value: &str) -> Vec<Damage> {
    common::resealed(&root.join(CHECKPOINT), key, value)
        .into_iter()
        .map(|(key, value)| Damage::Metadata {
            key,
            value: value.into_bytes(),
        })
        .collect()
}

const DAMAGED: &[DamagedCase] = &[
    DamagedCase {
        name: "control characters from a damaged run file",
        file: "whole/coordsim-run.toml",
        damage: |_| toml_line("version", "\"\\u001b[31m\""),
        args: VERIFY,
        code: 1,
        error: concat!(
            "whole/summary.parquet: its coordsim.version is `",
            env!("CARGO_PKG_VERSION"),
            "`, but coordsim-run.toml says `\\u{1b}[31m`"
        ),
    },
    DamagedCase {
        name: "a files entry that is not NAME=DIGEST",
        file: "whole/coordsim-run.toml",
        damage: |_| toml_line("files", "\"summary.parquet\""),
        args: VERIFY,
        code: 1,
        error: "whole/coordsim-run.toml: bad `files` entry: `summary.parquet` is not NAME=DIGEST",
    },
    DamagedCase {
        name: "a files entry outside the run directory",
        file: "whole/coordsim-run.toml",
        damage: |_| toml_line("files", "\"../whole/summary.parquet=0:0\""),
        args: VERIFY,
        code: 1,
        error: "whole/coordsim-run.toml: bad `files` entry: `../whole/summary.parquet` is not a file name",
    },
    DamagedCase {
        name: "a files entry without the result files",
        file: "whole/coordsim-run.toml",
        damage: |_| toml_line("files", "\"\""),
        args: VERIFY,
        code: 1,
        error: "whole/coordsim-run.toml: bad `files` entry: no digest of summary.parquet",
    },
    DamagedCase {
        name: "a files entry naming a missing file",
        file: "whole/coordsim-run.toml",
        damage: |_| {
            vec![Damage::Replace {
                from: b"summary.parquet=".to_vec(),
                to: b"summary.parQuet=".to_vec(),
            }]
        },
        args: VERIFY,
        code: 1,
        error: "whole/summary.parQuet: No such file or directory (named by the `files` entry of coordsim-run.toml)",
    },
    DamagedCase {
        name: "a run file that is not UTF-8",
        file: "stopped/coordsim-run.toml",
        damage: |_| {
            vec![Damage::Insert {
                at: 0,
                bytes: b"\xff\xfe".to_vec(),
            }]
        },
        args: RESUME,
        code: 1,
        error: "stopped/coordsim-run.toml: not a run file: not UTF-8 text (invalid utf-8 sequence of 1 bytes from index 0)",
    },
    DamagedCase {
        name: "a run file edited to another run's",
        file: "stopped/coordsim-run.toml",
        damage: |_| toml_line("seed", "\"8\""),
        args: RESUME,
        code: 2,
        error: "stopped holds another run: seed 8 (not 7) in its coordsim-run.toml; resume with the same sweep, seed, trials and shard",
    },
    DamagedCase {
        name: "a checkpoint without its metadata checksum",
        file: CHECKPOINT,
        damage: |_| {
            vec![Damage::RenameKey {
                key: "coordsim.metadata_checksum".to_string(),
                to: "coordsim.metadata_checksuX".to_string(),
            }]
        },
        args: RESUME,
        code: 1,
        error: "stopped/checkpoint/000001.parquet: no metadata checksum (coordsim.metadata_checksum) in its metadata",
    },
    DamagedCase {
        name: "a checkpoint's item range ending at u64::MAX",
        file: CHECKPOINT,
        damage: |root| resealed(root, "coordsim.items", "0-18446744073709551615"),
        args: RESUME,
        code: 1,
        error: "stopped/checkpoint/000001.parquet: bad range `0-18446744073709551615`",
    },
    DamagedCase {
        name: "a checkpoint's work items beyond the run",
        file: CHECKPOINT,
        damage: |root| resealed(root, "coordsim.items", "0-1000000000000"),
        args: RESUME,
        code: 1,
        error: "stopped/checkpoint/000001.parquet: work items 0-1000000000000 are not all among the run's 0-11",
    },
    DamagedCase {
        name: "a checkpoint's work items of other cells than its rows",
        file: CHECKPOINT,
        damage: |root| resealed(root, "coordsim.items", "11-11"),
        args: RESUME,
        code: 1,
        error: "stopped/checkpoint/000001.parquet: a row of cell 0, which none of its work items 11-11 is of",
    },
    DamagedCase {
        name: "a shard whose run file lost its finish",
        file: "parts/1/coordsim-run.toml",
        damage: |_| {
            vec![Damage::Replace {
                from: b"finished_utc = ".to_vec(),
                to: b"finished_at = ".to_vec(),
            }]
        },
        args: MERGE,
        code: 2,
        error: "parts/1: the shard did not finish (no finished_utc in its coordsim-run.toml; run it again with --resume)",
    },
];

#[test]
fn every_damaged_file_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fixtures");
    fixtures::make(&root);
    for case in DAMAGED {
        let work = tmp.path().join("work");
        for top in ["whole", "parts", "stopped"] {
            fixtures::copy_dir(&root.join(top), &work.join(top));
        }
        std::fs::write(work.join(fixtures::SWEEP_FILE), fixtures::SWEEP).unwrap();
        let path = work.join(case.file);
        let mut bytes = std::fs::read(&path).unwrap();
        for damage in (case.damage)(&root) {
            bytes = damage
                .apply(&bytes)
                .unwrap_or_else(|| panic!("{}: {damage:?} changes nothing", case.name));
        }
        std::fs::write(&path, bytes).unwrap();
        let output = coordsim(&work).args(case.args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(case.code),
            "{}: {stderr}",
            case.name
        );
        assert_eq!(error_line(&output), case.error, "{}", case.name);
        std::fs::remove_dir_all(&work).unwrap();
    }
}
