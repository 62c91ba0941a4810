//! `coordsim advise` on the requirement files of `sweeps/advise/`, whose answers follow from
//! the models: the bottom rung for plain delivery, a majority protocol of 3 nodes for a
//! linearizable store surviving one crash, three-phase commit where blocking is not allowed,
//! PBFT with 4 replicas for one Byzantine node, and "nothing meets it" for an unreachable
//! latency. Each is read back from `--format json` with serde. The frontier, the
//! sensitivity runs, the requirements' partition and availability keys and the latency price
//! are checked against the same output.

mod common;

use std::path::Path;

use common::{coordsim, error_line};
use serde_json::Value;

fn advise(dir: &Path, name: &str) -> (i32, Value) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sweeps/advise/{name}.toml"));
    advise_file(dir, &file, name, &[])
}

/// `advise FILE --format json --out DIR/OUT` with `extra` arguments; the exit code and the
/// JSON, whose frontier is checked.
fn advise_file(dir: &Path, file: &Path, out: &str, extra: &[&str]) -> (i32, Value) {
    let name = out;
    let out = coordsim(dir)
        .args([
            "advise",
            file.to_str().unwrap(),
            "--format",
            "json",
            "--out",
        ])
        .arg(dir.join(out))
        .args(extra)
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
    frontier_is_unbeaten(&json);
    (code, json)
}

/// The consistency levels from the lowest rung up.
const RUNGS: [&str; 6] = [
    "none",
    "eventual",
    "read-your-writes",
    "linearizable",
    "atomic-commit",
    "byzantine",
];

/// Checks the frontier from the designs' own numbers: a design is on it exactly when it has
/// a p99 and no other design is as consistent, as fast and as cheap, and better in one.
fn frontier_is_unbeaten(json: &Value) {
    let designs = json["designs"].as_array().unwrap();
    let corner = |d: &Value| {
        (
            RUNGS.iter().position(|r| *r == d["consistency"]).unwrap(),
            d["latency_ms_p99"].as_f64(),
            d["usd_per_month"].as_f64().unwrap(),
        )
    };
    let beats = |a: &Value, b: &Value| {
        let ((ca, pa, ua), (cb, pb, ub)) = (corner(a), corner(b));
        let (Some(pa), Some(pb)) = (pa, pb) else {
            return false;
        };
        ca >= cb && pa <= pb && ua <= ub && (ca > cb || pa < pb || ua < ub)
    };
    for d in designs {
        let on = corner(d).1.is_some() && !designs.iter().any(|o| beats(o, d));
        assert_eq!(d["frontier"], on, "{d}");
    }
    let listed = json["frontier"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        designs.iter().filter(|d| d["frontier"] == true).count()
    );
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
    // The designs' run and each sensitivity run are ordinary run directories.
    for run in [
        "delivery/designs",
        "delivery/sensitivity/crash",
        "delivery/sensitivity/loss",
        "delivery/sensitivity/latency",
    ] {
        coordsim(tmp.path())
            .args(["verify", run])
            .assert()
            .success();
    }
    // The frontier plot names every design on the frontier, and is well-formed XML.
    let svg = std::fs::read_to_string(tmp.path().join("delivery/frontier.svg")).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    let on: Vec<&Value> = json["designs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["frontier"] == true)
        .collect();
    assert!(on.len() >= 2, "{on:?}");
    for d in on {
        let label = format!("{} N={}", protocol(d), d["nodes"]);
        assert!(svg.contains(&label), "{label}");
    }
    // Where one node in 100 is down, one receiver no longer delivers 99%: a rung up.
    let crash = &json["sensitivity"][0];
    assert_eq!(crash["input"], "crash");
    let at = |value: f64| {
        crash["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["value"].as_f64() == Some(value))
            .unwrap()["recommended"]
            .clone()
    };
    assert_eq!(at(0.001)["protocol"], best["protocol"]);
    assert_ne!(at(0.01)["consistency"], "none");
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
            "r.toml: consistency: `strong` is not a consistency (none, eventual, read-your-writes, linearizable, atomic-commit, byzantine)",
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
            "r.toml: environment.zones: unknown key `zones` (expected crash, loss, partition, latency)",
        ),
        (
            format!("name = \"x\"\nconsistency = \"linearizable\"\ncrashes = 1\nnodes = 2\n{env}"),
            "r.toml: nodes: 2 replicas cannot survive 1 crash(es): linearizable needs at least 3",
        ),
        (
            format!("name = \"x\"\nconsistency = \"none\"\n{env}crash = [0.01, 0.02]\n"),
            "r.toml: environment.crash: expected one probability in [0, 1)",
        ),
        (
            format!(
                "name = \"x\"\nconsistency = \"linearizable\"\npartitions = \"available\"\n{env}"
            ),
            "r.toml: partitions: no linearizable design stays available on both sides of a partition (CAP)",
        ),
        (
            format!("name = \"x\"\nconsistency = \"none\"\npartitions = \"always\"\n{env}"),
            "r.toml: partitions: `always` is not a partition requirement (majority, available)",
        ),
        (
            format!(
                "name = \"x\"\nconsistency = \"none\"\nsuccess_rate = 0.9\navailability = 0.9\n{env}"
            ),
            "r.toml: availability: give success_rate or availability, not both",
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

/// Writes `text` as a requirements file in `dir`; returns its path.
fn requirements(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A design's identity in the JSON: protocol, nodes and parameters.
fn identity(design: &Value) -> Value {
    if design.is_null() {
        return Value::Null;
    }
    serde_json::json!([design["protocol"], design["nodes"], design["params"]])
}

/// Each crash rate the sensitivity run tried recommends what `advise` recommends when the
/// requirements state that rate.
#[test]
fn sensitivity_agrees_with_advice_at_each_value_it_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, json) = advise(tmp.path(), "linearizable");
    let crash = &json["sensitivity"][0];
    assert_eq!(crash["input"], "crash");
    assert_eq!(crash["stated"], 0.01);
    let points = crash["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    let stated = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/advise/linearizable.toml"),
    )
    .unwrap();
    assert!(stated.contains("crash = 0.01\n"));
    for (i, point) in points.iter().enumerate() {
        let value = point["value"].as_f64().unwrap();
        let file = requirements(
            tmp.path(),
            &format!("at-{i}"),
            &stated.replace("crash = 0.01\n", &format!("crash = {value}\n")),
        );
        let (code, at) = advise_file(
            tmp.path(),
            &file,
            &format!("out-{i}"),
            &["--no-sensitivity"],
        );
        assert_eq!(
            identity(&point["recommended"]),
            identity(&at["recommended"]),
            "crash = {value}"
        );
        assert_eq!(code, if at["recommended"].is_null() { 1 } else { 0 });
    }
    // One in twenty crashed nodes is too many for 99.9% with three nodes.
    assert!(points.last().unwrap()["recommended"].is_null());
    let holds = &crash["holds"];
    assert!(holds["low"].as_f64().unwrap() <= 0.01 && holds["high"].as_f64().unwrap() >= 0.01);
}

/// `$/month` is transfer plus latency; a price on latency reorders the designs of a rung.
#[test]
fn a_price_on_latency_ranks_by_transfer_plus_latency() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/advise/linearizable.toml"),
    )
    .unwrap();
    let priced = requirements(
        tmp.path(),
        "priced",
        &format!("{base}\n[cost]\nusd_per_hour = 50\n"),
    );
    let (_, free) = advise(tmp.path(), "linearizable");
    let (_, paid) = advise_file(tmp.path(), &priced, "paid", &["--no-sensitivity"]);
    let order = |json: &Value| -> Vec<Value> {
        json["designs"]
            .as_array()
            .unwrap()
            .iter()
            .map(identity)
            .collect()
    };
    for d in paid["designs"].as_array().unwrap() {
        let (transfer, latency, total) = (
            d["transfer_usd_per_month"].as_f64().unwrap(),
            d["latency_usd_per_month"].as_f64().unwrap(),
            d["usd_per_month"].as_f64().unwrap(),
        );
        assert!(latency > 0.0, "{d}");
        assert!((transfer + latency - total).abs() <= 1e-9 * total, "{d}");
    }
    for d in free["designs"].as_array().unwrap() {
        assert_eq!(d["latency_usd_per_month"], 0.0);
    }
    let totals: Vec<f64> = paid["designs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["usd_per_month"].as_f64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    // Multi-Paxos sends more messages than the majority quorum but answers sooner.
    let at = |json: &Value, protocol: &str| {
        order(json)
            .iter()
            .position(|d| d[0] == protocol && (protocol != "paxos" || d[2]["variant"] == "multi"))
            .unwrap()
    };
    assert!(at(&free, "quorum") < at(&free, "paxos"));
    assert!(at(&paid, "paxos") < at(&paid, "quorum"));
}

/// Where both sides of a partition must keep serving, only the rungs up to eventual are
/// designs; each is measured under the stated partitions.
#[test]
fn partitions_that_must_stay_available_keep_to_eventual_designs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = requirements(
        tmp.path(),
        "split",
        "name = \"split\"\nconsistency = \"none\"\ncrashes = 1\npartitions = \"available\"\n\
         availability = 0.9\ntrials = 100_000\n[environment]\npartition = 0.05\n\
         latency = { kind = \"exponential\", mean_ms = 0.5 }\n",
    );
    let (code, json) = advise_file(tmp.path(), &file, "out", &["--no-sensitivity"]);
    assert_eq!(code, 0);
    let designs = json["designs"].as_array().unwrap();
    assert!(designs.iter().any(|d| d["consistency"] == "eventual"));
    for d in designs {
        assert!(
            ["none", "eventual"].contains(&d["consistency"].as_str().unwrap()),
            "{d}"
        );
    }
    // The availability objective is the success rate's.
    assert!(json["recommended"]["verdicts"]["success_rate"]["verdict"] == "met");
    let sweep = std::fs::read_to_string(tmp.path().join("out/designs/sweep.toml")).unwrap();
    assert!(sweep.contains("partition = 0.05"), "{sweep}");
}

/// Read-your-writes is met by every design at or above it on the ladder, and by none below:
/// the regional caches of `cache-hierarchy`, whose client reads from the master for a window
/// after its writes, where no crash need be survived (its master is one node), and the
/// linearizable designs. The cheapest that meets every objective is recommended, whichever
/// rung it is on.
#[test]
fn read_your_writes_takes_designs_at_or_above_its_rung() {
    let tmp = tempfile::tempdir().unwrap();
    for crashes in [0, 1] {
        let file = requirements(
            tmp.path(),
            &format!("ryw-{crashes}"),
            &format!(
                "name = \"ryw\"\nconsistency = \"read-your-writes\"\ncrashes = {crashes}\n\
                 success_rate = 0.99\ntrials = 100_000\n[environment]\ncrash = 0.001\n\
                 latency = {{ kind = \"exponential\", mean_ms = 0.5 }}\n"
            ),
        );
        let out = format!("out-{crashes}");
        let (code, json) = advise_file(tmp.path(), &file, &out, &["--no-sensitivity"]);
        assert_eq!(code, 0);
        let designs = json["designs"].as_array().unwrap();
        for d in designs {
            let rung = RUNGS.iter().position(|r| *r == d["consistency"]).unwrap();
            assert!(rung >= 2, "{d}");
        }
        let cache = designs.iter().find(|d| protocol(d) == "cache-hierarchy");
        assert_eq!(cache.is_some(), crashes == 0);
        if let Some(cache) = cache {
            assert_eq!(cache["consistency"], "read-your-writes");
            assert_eq!(cache["params"]["op"], "read-after-write");
        }
        ranked_before_all_fail(&json);
    }
}

/// `nodes` sets the replicas of replicated designs, above what the faults need.
#[test]
fn stated_nodes_size_the_replicated_designs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = requirements(
        tmp.path(),
        "five",
        "name = \"five\"\nconsistency = \"linearizable\"\ncrashes = 1\nnodes = 5\n\
         success_rate = 0.99\ntrials = 100_000\n[environment]\ncrash = 0.01\n\
         latency = { kind = \"exponential\", mean_ms = 0.5 }\n",
    );
    let (code, json) = advise_file(tmp.path(), &file, "out", &["--no-sensitivity"]);
    assert_eq!(code, 0);
    let designs = json["designs"].as_array().unwrap();
    assert!(designs.iter().any(|d| protocol(d) == "quorum"));
    for d in designs {
        assert_eq!(d["nodes"], 5, "{d}");
    }
}
