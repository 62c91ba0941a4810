//! Sweep files: what they expand to, and the one-line errors they produce.

use super::*;
use crate::model::{QuorumRule, Value};

const EXAMPLE: &str = r#"
name = "example"
seed = 42
trials = 1_000_000

[grid]
protocol = ["quorum", "two-phase-commit"]
nodes = [3, 5, 9]
crash = [0.0, 0.01]
loss = 0.0
latency = ["lan"]

[params.quorum]
k = [2, "majority"]

[params.two-phase-commit]
timeout_ms = 50

[latency.lan]
kind = "shifted"
shift_ms = 0.05
of = { kind = "exponential", mean_ms = 0.5 }
"#;

fn error(text: &str) -> SweepError {
    Sweep::parse(text, "bad.toml").unwrap_err()
}

#[test]
fn the_example_expands_in_order() {
    let sweep = Sweep::parse(EXAMPLE, "example.toml").unwrap();
    // quorum: 3 nodes x 2 crash x 2 k; 2pc: 3 x 2.
    assert_eq!(sweep.cells.len(), 12 + 6);
    assert!(
        sweep
            .cells
            .iter()
            .enumerate()
            .all(|(i, c)| c.id as usize == i)
    );
    let first = sweep.cells.get(0);
    assert_eq!(
        (first.protocol.name, first.nodes, first.crash),
        ("quorum", 3, 0.0)
    );
    let direct = Value::Choice("direct");
    assert_eq!(
        first.params,
        vec![Value::Quorum(QuorumRule::Fixed(2)), direct]
    );
    assert_eq!(
        sweep.cells.get(1).params,
        vec![Value::Quorum(QuorumRule::Majority), direct]
    );
    assert_eq!(sweep.cells.get(2).crash, 0.01);
    assert_eq!(sweep.cells.get(12).protocol.name, "two-phase-commit");
    assert_eq!(
        sweep.cells.get(12).setting().unwrap().millis("timeout_ms"),
        50.0
    );
    assert_eq!(
        sweep
            .cells
            .get(12)
            .setting()
            .unwrap()
            .probability("coordinator_crash"),
        0.0
    );
    let names: Vec<&str> = sweep.params.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["k", "sampling", "timeout_ms", "coordinator_crash", "commit"]
    );
    assert_eq!(sweep.total_trials(), 18_000_000);
}

#[test]
fn grid_parameters_apply_to_every_protocol_that_has_them() {
    let text = EXAMPLE
        .replace(
            "protocol = [\"quorum\", \"two-phase-commit\"]",
            "protocol = [\"ack\", \"two-phase-commit\"]",
        )
        .replace("[params.quorum]\nk = [2, \"majority\"]\n", "")
        .replace("loss = 0.0", "loss = 0.0\ntimeout_ms = [5, 20]");
    let sweep = Sweep::parse(&text, "t.toml").unwrap();
    let ack: Vec<f64> = sweep
        .cells
        .iter()
        .filter(|c| c.protocol.name == "ack")
        .map(|c| c.setting().unwrap().millis("timeout_ms"))
        .collect();
    assert_eq!(ack.len(), 12);
    assert_eq!(&ack[..2], [5.0, 20.0]);
    // [params.two-phase-commit] overrides the grid axis.
    assert!(
        sweep
            .cells
            .iter()
            .filter(|c| c.protocol.name == "two-phase-commit")
            .all(|c| c.setting().unwrap().millis("timeout_ms") == 50.0)
    );
}

#[test]
fn the_default_sweep_is_valid() {
    let sweep = Sweep::default_sweep();
    assert_eq!(sweep.name, "default");
    assert!(sweep.cells.len() >= 24);
    let protocols: Vec<&str> = crate::protocols::BUILTIN.iter().map(|p| p.name).collect();
    for name in protocols {
        assert!(
            sweep.cells.iter().any(|c| c.protocol.name == name),
            "{name}"
        );
    }
}

#[test]
fn errors_name_the_file_and_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "protocol = [\"quorum\", \"two-phase-commit\"]",
            "protocol = [\"quorum\", \"paxo\"]",
            "bad.toml: grid.protocol[1]: unknown protocol `paxo`",
        ),
        (
            "crash = [0.0, 0.01]",
            "crash = [0.0, 1.5]",
            "bad.toml: grid.crash[1]: 1.5 is not a probability in [0, 1]",
        ),
        (
            "k = [2, \"majority\"]",
            "k = [2, 7]",
            "bad.toml: params.quorum.k: k = 7 exceeds nodes = 3",
        ),
        (
            "mean_ms = 0.5",
            "mean_ms = -0.5",
            "bad.toml: latency.lan.of.mean_ms: mean_ms = -0.5 must be a finite number > 0",
        ),
        (
            "loss = 0.0",
            "loss = 0.0\nlos = 0.1",
            "bad.toml: grid.los: unknown key `los`",
        ),
        (
            "seed = 42",
            "seed = 42\ncolour = 1",
            "bad.toml: colour: unknown key `colour`",
        ),
        (
            "nodes = [3, 5, 9]",
            "nodes = [3, 0]",
            "bad.toml: grid.nodes[1]: 0 is outside [1, 1000000000]",
        ),
        (
            "nodes = [3, 5, 9]",
            "nodes = [3, 3]",
            "bad.toml: grid.nodes[1]: repeats an earlier value",
        ),
        (
            "latency = [\"lan\"]",
            "latency = [\"wan\"]",
            "bad.toml: grid.latency[0]: no latency model `wan` is defined (defined: lan)",
        ),
        (
            "timeout_ms = 50",
            "timeout_ms = 50\nretries = 2",
            "bad.toml: params.two-phase-commit.retries: unknown key `retries`",
        ),
        (
            "[params.two-phase-commit]",
            "[params.ack]",
            "bad.toml: params.ack: `ack` is not in grid.protocol",
        ),
        (
            "trials = 1_000_000",
            "trials = 0",
            "bad.toml: trials: 0 is outside [1, ",
        ),
        (
            "crash = [0.0, 0.01]",
            "crash = []",
            "bad.toml: grid.crash: empty list",
        ),
        (
            "crash = [0.0, 0.01]",
            "crash = nan",
            "bad.toml: grid.crash: NaN is not a finite number",
        ),
        (
            "name = \"example\"",
            "name = \"../up\"",
            "bad.toml: name: `../up` is not a valid name",
        ),
        ("seed = 42\n", "", "bad.toml: seed: missing (required)"),
    ];
    for (from, to, expected) in cases {
        assert!(EXAMPLE.contains(from), "{from}");
        let message = error(&EXAMPLE.replacen(from, to, 1)).to_string();
        assert!(
            message.starts_with(expected),
            "{message}\n  expected {expected}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn syntax_errors_give_a_line_and_column() {
    let e = error("name = \"x\"\nseed = = 1\n");
    assert_eq!(e.location, "line 2, column 8");
    assert!(
        e.to_string()
            .starts_with("bad.toml: line 2, column 8: invalid TOML"),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn environment_axes_and_per_protocol_nodes_expand_as_counted() {
    let text = EXAMPLE
        .replace("loss = 0.0", "loss = 0.0\nzones = [1, 3]\nzone_crash = 0.01\nregions = [1, 2]\ncross_latency = [\"lan\", \"wan\"]")
        .replace("k = [2, \"majority\"]", "k = [2, \"majority\"]\nnodes = [4, 6]")
        + "\n[latency.wan]\nkind = \"constant\"\nms = 40\n";
    let sweep = Sweep::parse(&text, "t.toml").unwrap();
    // Per protocol: nodes x crash(2) x zones(2) x (regions 1 + regions 2 x 2 cross) x params.
    // quorum: 2 nodes x 2 x 2 x 3 x 2 k = 48; 2pc: 3 nodes x 2 x 2 x 3 = 36.
    assert_eq!(sweep.cells.len(), 48 + 36);
    assert_eq!(sweep.axes.cell_count(), 84);
    let quorum_nodes: Vec<u32> = sweep
        .cells
        .iter()
        .filter(|c| c.protocol.name == "quorum")
        .map(|c| c.nodes)
        .collect();
    assert!(quorum_nodes.iter().all(|&n| n == 4 || n == 6));
    assert!(
        sweep
            .cells
            .iter()
            .all(|c| (c.regions > 1) == c.cross_latency.is_some())
    );
    let e = Sweep::parse(&text.replace("nodes = [4, 6]", "nodes = [1, 6]"), "t.toml").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.toml: params.quorum.k: k = 2 exceeds nodes = 1"),
        "{e}"
    );
    let e = Sweep::parse(
        &text.replace("cross_latency = [\"lan\", \"wan\"]", ""),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.location, "grid.cross_latency");
}

#[test]
fn node_time_axes_multiply_the_cells_and_reach_the_environment() {
    let text = EXAMPLE.replace(
        "loss = 0.0",
        "loss = 0.0\npersist = [\"lan\", \"disk\"]\nprocess = \"lan\"",
    ) + "\n[latency.disk]\nkind = \"constant\"\nms = 4\n";
    let sweep = Sweep::parse(&text, "t.toml").unwrap();
    assert_eq!(sweep.cells.len(), 2 * 18);
    assert_eq!(sweep.axes.cell_count(), 36);
    // persist varies faster than every axis but process and the parameters.
    let names: Vec<String> = sweep
        .cells
        .iter()
        .take(4)
        .map(|c| c.persist.as_ref().unwrap().0.to_string())
        .collect();
    assert_eq!(names, ["lan", "lan", "disk", "disk"]);
    assert!(sweep.cells.iter().all(|c| c.env().unwrap().has_node_time()));
    let plain = Sweep::parse(EXAMPLE, "t.toml").unwrap();
    assert!(
        plain
            .cells
            .iter()
            .all(|c| !c.env().unwrap().has_node_time())
    );
    let e = error(&text.replace("process = \"lan\"", "process = \"ssd\""));
    assert_eq!(e.location, "grid.process");
}

#[test]
fn precision_targets_make_a_sweep_adaptive() {
    let sweep = Sweep::parse(EXAMPLE, "example.toml").unwrap();
    assert!(!sweep.precision.is_adaptive());
    let text = EXAMPLE.replace(
        "trials = 1_000_000",
        "trials = 1_000_000\nprecision = 0.001\np99_precision = 0.01",
    );
    let sweep = Sweep::parse(&text, "t.toml").unwrap();
    assert_eq!(sweep.precision.success, Some(0.001));
    assert_eq!(sweep.precision.p99, Some(0.01));
    let e = error(&EXAMPLE.replace("trials = 1_000_000", "trials = 1_000_000\nprecision = 1"));
    assert_eq!(e.location, "precision");
    let e = error(&EXAMPLE.replace(
        "trials = 1_000_000",
        "trials = 1_000_000\np99_precision = 0",
    ));
    assert_eq!(e.location, "p99_precision");
    assert!(e.message.starts_with("0 is below 0.002"), "{}", e.message);
}
