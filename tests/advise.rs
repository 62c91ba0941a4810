//! `coordsim advise` on the requirement files of `sweeps/advise/`, whose answers follow from
//! the models: the bottom rung for plain delivery, a majority protocol of 3 nodes for a
//! linearizable store surviving one crash, three-phase commit where blocking is not allowed,
//! PBFT with 4 replicas for one Byzantine node, and "nothing meets it" for an unreachable
//! latency. Each is read back from `--format json` with serde.

mod common;

use std::path::Path;

use common::{coordsim, error_line};
use serde_json::Value;

fn advise(dir: &Path, name: &str) -> (i32, Value) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sweeps/advise/{name}.toml"));
    let out = coordsim(dir)
        .args([
            "advise",
            file.to_str().unwrap(),
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.join(name))
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

fn protocol(design: &Value) -> &str {
    design["protocol"].as_str().unwrap()
}

/// Every design ranked before the recommendation misses or leaves undecided an objective,
/// and none of a lower rung meets them all.
fn ranked_before_all_fail(json: &Value) {
    let designs = json["designs"].as_array().unwrap();
    let best = &json["recommended"];
    let at = designs.iter().position(|d| d == best).unwrap();
    for d in &designs[..at] {
        assert_eq!(d["meets"], false, "{d}");
    }
    assert_eq!(best["meets"], true);
    for (metric, verdict) in best["verdicts"].as_object().unwrap() {
        assert_eq!(verdict["verdict"], "met", "{metric}");
    }
}

#[test]
fn plain_delivery_takes_the_bottom_rung() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, json) = advise(tmp.path(), "delivery");
    assert_eq!(code, 0);
    let best = &json["recommended"];
    assert!(
        ["fire-and-forget", "ack"].contains(&protocol(best)),
        "{best}"
    );
    assert_eq!(best["consistency"], "none");
    ranked_before_all_fail(&json);
    // The run is an ordinary run directory.
    coordsim(tmp.path())
        .args(["verify", "delivery"])
        .assert()
        .success();
}

#[test]
fn a_linearizable_store_surviving_one_crash_is_a_majority_of_three() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, json) = advise(tmp.path(), "linearizable");
    assert_eq!(code, 0);
    let best = &json["recommended"];
    assert!(
        ["quorum", "raft", "paxos"].contains(&protocol(best)),
        "{best}"
    );
    assert_eq!(best["nodes"], 3);
    assert_eq!(best["consistency"], "linearizable");
    if protocol(best) == "paxos" {
        assert_eq!(best["params"]["variant"], "multi");
    }
    ranked_before_all_fail(&json);
    // Cheapest first among the designs that meet every objective.
    let meeting: Vec<f64> = json["designs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["meets"] == true)
        .map(|d| d["usd_per_month"].as_f64().unwrap())
        .collect();
    assert!(meeting.windows(2).all(|w| w[0] <= w[1]), "{meeting:?}");
}

#[test]
fn atomic_commit_that_must_not_block_is_three_phase() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, json) = advise(tmp.path(), "nonblocking-commit");
    assert_eq!(code, 0);
    assert_eq!(protocol(&json["recommended"]), "three-phase-commit");
    assert_eq!(json["recommended"]["nodes"], 5);
    let designs = json["designs"].as_array().unwrap();
    assert!(designs.iter().all(|d| protocol(d) != "two-phase-commit"));
}

#[test]
fn one_byzantine_node_takes_pbft_with_four_replicas() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, json) = advise(tmp.path(), "byzantine");
    assert_eq!(code, 0);
    let best = &json["recommended"];
    assert_eq!(protocol(best), "pbft");
    assert_eq!(best["nodes"], 4);
    assert_eq!(best["params"]["byzantine"], 1);
}

#[test]
fn an_unreachable_objective_says_nothing_meets_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, json) = advise(tmp.path(), "unreachable");
    assert_eq!(code, 1);
    assert!(json["recommended"].is_null());
    let designs = json["designs"].as_array().unwrap();
    assert!(!designs.is_empty());
    for d in designs {
        assert_eq!(d["verdicts"]["latency_ms_p99"]["verdict"], "missed", "{d}");
    }
    // The table names the closest designs.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/advise/unreachable.toml");
    let out = coordsim(tmp.path())
        .args(["advise", file.to_str().unwrap(), "--out", "table"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("nothing meets every objective; the closest designs:"),
        "{stdout}"
    );
}

#[test]
fn bad_requirements_are_one_line_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let env = "[environment]\nlatency = { kind = \"exponential\", mean_ms = 0.5 }\n";
    let cases = [
        (
            format!("name = \"x\"\nconsistency = \"strong\"\n{env}"),
            "r.toml: consistency: `strong` is not a consistency (none, eventual, linearizable, atomic-commit, byzantine)",
        ),
        (
            format!("name = \"x\"\nconsistency = \"byzantine\"\n{env}"),
            "r.toml: byzantine: consistency = \"byzantine\" needs byzantine >= 1",
        ),
        (
            "name = \"x\"\nconsistency = \"none\"\n".to_string(),
            "r.toml: environment: missing",
        ),
        (
            format!("name = \"x\"\nconsistency = \"none\"\nlatency_ms_p99 = 0\n{env}"),
            "r.toml: latency_ms_p99: a latency objective is a number of milliseconds > 0",
        ),
        (
            format!("name = \"x\"\nconsistency = \"none\"\n{env}zones = 3\n"),
            "r.toml: environment.zones: unknown key `zones`",
        ),
    ];
    for (text, message) in cases {
        std::fs::write(dir.join("r.toml"), &text).unwrap();
        let out = coordsim(dir)
            .args(["advise", "r.toml", "--out", "out"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let line = error_line(&out);
        assert!(line.starts_with(message), "{text}\n{line}\n{message}");
        assert!(!dir.join("out").exists());
    }
}

/// The consistency `advise` relies on, where the model can show it: quorum-rw with r + w > N
/// never reads a stale value (no failures, a read right after the commit), with r + w <= N it
/// does.
#[test]
fn quorum_rw_is_linearizable_only_when_read_and_write_quorums_meet() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("rw.toml"),
        "name = \"rw\"\nseed = 3\ntrials = 100_000\n[grid]\nprotocol = \"quorum-rw\"\n\
         nodes = 3\nlatency = \"l\"\n[params.quorum-rw]\nr = [1, 2]\nw = [1, 2]\n\
         [latency.l]\nkind = \"exponential\"\nmean_ms = 1\n",
    )
    .unwrap();
    coordsim(dir)
        .args(["run", "rw.toml", "--out", "out", "--quiet"])
        .assert()
        .success();
    let (summary, _) = common::read_parquet(&dir.join("out/summary.parquet"));
    let column = |name: &str| -> Vec<f64> {
        let c = summary.column_by_name(name).unwrap();
        if let Some(f) = c.as_primitive_opt::<Float64Type>() {
            return f.values().to_vec();
        }
        c.as_primitive::<arrow_array::types::UInt32Type>()
            .values()
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let (r, w, stale) = (column("r"), column("w"), column("stale_mean"));
    assert_eq!(r.len(), 4);
    for i in 0..4 {
        if r[i] + w[i] > 3.0 {
            assert_eq!(stale[i], 0.0, "r = {} w = {}", r[i], w[i]);
        } else {
            assert!(stale[i] > 0.01, "r = {} w = {}: {}", r[i], w[i], stale[i]);
        }
    }
}
