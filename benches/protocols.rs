//! Trials per second of every protocol model on one thread, at small and large N, sampled
//! directly (the default) and node by node.
//!
//! `cargo bench --bench protocols` runs it all; `cargo bench --bench protocols -- quorum`
//! runs the benchmarks whose names contain `quorum`. criterion reports the time per batch of
//! trials and the throughput in trials per second.

use std::hint::black_box;

use coordsim::model::Simulate;

use coordsim::model::tally::Tally;
use coordsim::protocols::BUILTIN;
use coordsim::rng::stream;
use coordsim::sweep::Sweep;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A one-cell sweep of `protocol` at `nodes`, with the reference environment: crash `crash`,
/// loss 0.001, one-way delay 0.05 ms + Exp(0.5 ms).
fn cell(protocol: &str, nodes: u32, sampling: &str, crash: f64) -> Option<Sweep> {
    let info = coordsim::sweep::Registry::builtin().find(protocol)?;
    let sampling = if info.param("sampling").is_some() {
        format!("sampling = \"{sampling}\"\n")
    } else if sampling == "direct" {
        return None;
    } else {
        String::new()
    };
    let nodes_key = if protocol == "pbft" {
        nodes.max(4)
    } else {
        nodes
    };
    let text = format!(
        "name = \"bench\"\nseed = 1\ntrials = 1\n[grid]\nprotocol = \"{protocol}\"\n\
         nodes = {nodes_key}\ncrash = {crash}\nloss = 0.001\nlatency = \"lan\"\n{sampling}\
         [latency.lan]\nkind = \"shifted\"\nshift_ms = 0.05\n\
         of = {{ kind = \"exponential\", mean_ms = 0.5 }}\n"
    );
    Some(Sweep::parse(&text, "bench").expect("valid bench sweep"))
}

/// Runs batches of `trials` trials of `sweep`'s only cell.
fn bench_cell(c: &mut Criterion, group: &str, id: BenchmarkId, sweep: &Sweep, trials: u64) {
    let model = sweep.model(0);
    let model: &dyn Simulate = model.as_ref();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(trials));
    g.sample_size(10);
    let mut tally = Tally::empty();
    let mut rng = stream(1, 0, 0);
    // Build any tables before timing.
    model.run(&mut rng, 1, &mut tally);
    g.bench_function(id, |b| {
        b.iter(|| model.run(black_box(&mut rng), trials, &mut tally));
    });
    black_box(&tally);
    g.finish();
}

/// Every protocol at N = 5 and N = 100, both ways of sampling where there are two.
fn every_protocol(c: &mut Criterion) {
    for protocol in BUILTIN {
        for nodes in [5u32, 100] {
            for sampling in ["direct", "per-node"] {
                let Some(sweep) = cell(protocol.name, nodes, sampling, 0.01) else {
                    continue;
                };
                let trials = if nodes == 5 { 10_000 } else { 1_000 };
                let id = BenchmarkId::new(format!("{}/{sampling}", protocol.name), nodes);
                bench_cell(c, "trials", id, &sweep, trials);
            }
        }
    }
}

/// The protocols sampled directly at large N: the cost per trial must not grow with N. The
/// leader runs with no crashes: a failover (a crashed leader) is simulated node by node, an
/// election among all N nodes.
fn large_n(c: &mut Criterion) {
    for protocol in ["quorum", "full-mesh", "leader", "two-phase-commit"] {
        for nodes in [1_000u32, 1_000_000] {
            let crash = if protocol == "leader" { 0.0 } else { 0.01 };
            let sweep = cell(protocol, nodes, "direct", crash).expect("has direct sampling");
            let id = BenchmarkId::new(protocol, nodes);
            bench_cell(c, "large-n", id, &sweep, 1_000);
        }
    }
}

criterion_group!(benches, every_protocol, large_n);
criterion_main!(benches);
