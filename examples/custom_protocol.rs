//! A protocol defined outside coordsim, swept from a TOML sweep through the same engine and
//! written to the same files as coordsim's own.
//!
//! **Primary-backup replication.** A client sends a write to the primary (node 0). The
//! primary forwards it to each of its `N - 1` backups and waits for every acknowledgement,
//! then acknowledges the client. Nothing is retried: the write succeeds only if every node is
//! up and every message arrives.
//!
//! - *A trial*: one write, nodes crashed with probability `crash` each, every message lost
//!   with probability `loss`, one-way delays drawn from the cell's latency model.
//! - *Success*: the client gets its acknowledgement, so
//!   `P(success) = ((1 - crash) (1 - loss)^2)^N`: each node up, and its two messages (the
//!   client's request and the primary's reply for node 0, forward and acknowledgement for a
//!   backup) delivered.
//! - *Latency*: request + the slowest backup's round trip + reply.
//! - *Messages*: every message sent, delivered or not; a message to a crashed or unreachable
//!   node counts, its reply is never sent.
//!
//! Run it with `cargo run --release --example custom_protocol [DIR]`: it runs the sweep below
//! into `DIR` (a temporary directory if none is given), checks each cell's success rate
//! against the formula above (5 standard errors), and verifies the files as
//! `coordsim verify` does.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use coordsim::engine::{Progress, RunOptions};
use coordsim::model::stats::Summary;
use coordsim::model::{
    CLIENT, Env, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, Setting, Value,
};
use coordsim::rng::SimRng;
use coordsim::run::{self, Finished, Plan};
use coordsim::sweep::{Limits, Registry, Sweep};

/// The model: `nodes` nodes, node 0 the primary.
struct PrimaryBackup {
    env: Env,
    nodes: u32,
}

impl Protocol for PrimaryBackup {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        // The client's request.
        let mut messages = 1;
        if !net.up(rng, 0) || net.lost(rng, CLIENT, 0) {
            return Outcome::failure(messages, 1);
        }
        let request_ns = net.delay_ns(rng, CLIENT, 0);
        // Forward to every backup; wait for the slowest acknowledgement.
        let mut acknowledged = true;
        let mut slowest_ns = 0;
        for backup in 1..self.nodes {
            messages += 1;
            if !net.up(rng, backup) || net.lost(rng, 0, backup) {
                acknowledged = false;
                continue;
            }
            messages += 1;
            if net.lost(rng, backup, 0) {
                acknowledged = false;
                continue;
            }
            slowest_ns = slowest_ns.max(net.round_trip_ns(rng, 0, backup));
        }
        if !acknowledged {
            return Outcome::failure(messages, 2);
        }
        // The reply.
        messages += 1;
        if net.lost(rng, 0, CLIENT) {
            return Outcome::failure(messages, 3);
        }
        let reply_ns = net.delay_ns(rng, 0, CLIENT);
        Outcome::success(request_ns + slowest_ns + reply_ns, messages, 3)
    }
}

/// How a sweep names it, documents it and builds it.
static PRIMARY_BACKUP: ProtocolInfo = ProtocolInfo {
    name: "primary-backup",
    summary: "a primary forwards each write to every backup and waits for all of them",
    model: "One write: client -> primary -> every backup -> primary -> client, no retries.",
    params: &[ParamSpec {
        name: "backups",
        kind: ParamKind::Count { min: 0, max: 64 },
        default: Value::Count(1),
        doc: "backups the primary waits for (the cell's nodes are 1 + backups)",
    }],
    extras: &[],
    build,
};

fn build(setting: &Setting<'_>) -> Result<Box<dyn coordsim::model::Simulate>, ModelError> {
    let nodes = setting.count("backups") + 1;
    if setting.nodes < nodes {
        return Err(ModelError::new(
            "backups",
            format!("{} backups need {nodes} nodes", nodes - 1),
        ));
    }
    Ok(Box::new(PrimaryBackup {
        env: setting.env().clone(),
        nodes,
    }))
}

/// The sweep: 1, 2 and 4 backups, three crash rates, a LAN's delays.
const SWEEP: &str = r#"
name = "primary-backup"
seed = 11
trials = 200_000

[grid]
protocol = "primary-backup"
nodes = 5
crash = [0.0, 0.01, 0.05]
loss = 0.001
latency = "lan"

[params.primary-backup]
backups = [1, 2, 4]

[latency.lan]
kind = "lognormal"
median_ms = 0.3
sigma = 0.5
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::builtin().with(&PRIMARY_BACKUP)?;
    let sweep = Sweep::parse_with(SWEEP, "primary-backup.toml", Limits::NONE, &registry)?;
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("coordsim-example-{}", std::process::id())),
    };
    let plan = Plan {
        options: RunOptions::default(),
        dir: dir.clone(),
        resume: false,
    };
    let finished = run::execute(&sweep, &plan, &AtomicBool::new(false), &Progress::default())?;
    let Finished::Complete { records, files, .. } = finished else {
        return Err("the run was interrupted".into());
    };
    println!("cell  backups  crash  success  expected  p99 ms  messages");
    for record in &records {
        let cell = &sweep.cells.get(record.cell_id as usize);
        let nodes = f64::from(cell.setting()?.count("backups") + 1);
        let expected = ((1.0 - cell.crash) * (1.0 - cell.loss).powi(2)).powf(nodes);
        let s: &Summary = &record.summary;
        let sigma = (expected * (1.0 - expected) / s.trials as f64).sqrt();
        println!(
            "{:>4}  {:>7}  {:>5}  {:.5}  {:.5}  {:>6.3}  {:.3}",
            record.cell_id,
            nodes - 1.0,
            cell.crash,
            s.success_rate,
            expected,
            s.latency_ms.map_or(f64::NAN, |l| l.p99),
            s.messages_mean
        );
        if (s.success_rate - expected).abs() > 5.0 * sigma.max(1.0 / s.trials as f64) {
            return Err(format!(
                "cell {}: success rate {} is not {expected} within 5 standard errors",
                record.cell_id, s.success_rate
            )
            .into());
        }
    }
    for line in coordsim::verify::verify(&dir)? {
        println!("{line}");
    }
    println!("wrote {} files in {}", files.len(), dir.display());
    Ok(())
}
