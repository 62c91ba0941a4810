//! Trials per second of each protocol model, one thread, at small and large N.
//!
//! `cargo bench --bench protocols` runs it; criterion reports time per batch of trials and
//! the throughput in trials per second.

use std::hint::black_box;

use coordsim::protocols::Simulate;
use coordsim::rng::stream;
use coordsim::sweep::Sweep;
use coordsim::tally::Tally;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TRIALS: u64 = 10_000;

const SWEEP: &str = r#"
name = "bench"
seed = 1
trials = 1
[grid]
protocol = ["fire-and-forget", "ack", "quorum", "two-phase-commit"]
nodes = [5, 100]
crash = 0.01
loss = 0.001
latency = "lan"
[params.quorum]
k = 3
[latency.lan]
kind = "shifted"
shift_ms = 0.05
of = { kind = "exponential", mean_ms = 0.5 }
"#;

fn protocols(c: &mut Criterion) {
    let sweep = Sweep::parse(SWEEP, "bench").expect("valid bench sweep");
    let mut group = c.benchmark_group("trials");
    group.throughput(Throughput::Elements(TRIALS));
    for cell in &sweep.cells {
        let model: &dyn Simulate = sweep.model(cell.id as usize);
        let name = format!("{}/N={}", cell.protocol.name, cell.nodes);
        let mut tally = Tally::empty();
        let mut rng = stream(1, u64::from(cell.id), 0);
        group.bench_function(name, |b| {
            b.iter(|| model.run(black_box(&mut rng), TRIALS, &mut tally));
        });
        black_box(&tally);
    }
    group.finish();
}

criterion_group!(benches, protocols);
criterion_main!(benches);
