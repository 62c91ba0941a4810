//! The engine's floors: drawing the random numbers a trial needs, recording an outcome, a
//! quantile-table lookup, and writing the Parquet files.
//!
//! `cargo bench --bench engine`.

use std::hint::black_box;

use coordsim::engine::{RunOptions, run_all};
use coordsim::latency::{Delay, Exponential, Shifted};
use coordsim::order::QuantileTable;
use coordsim::output::{CellRecord, Export, Histograms, Results, RunInfo, SummaryFile};
use coordsim::protocols::Outcome;
use coordsim::rng::{Chance, stream};
use coordsim::sweep::Sweep;
use coordsim::tally::Tally;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng;

const TRIALS: u64 = 10_000;

/// The random numbers of one quorum trial (N = 5), and nothing else: for the per-node
/// simulation, five crash draws and ten shifted exponential delays; for direct sampling, one
/// 64-bit draw for the replies and one for the order statistic.
fn rng_floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(TRIALS));
    let mut rng2 = stream(3, 0, 0);
    group.bench_function("quorum-direct-random-numbers", |b| {
        b.iter(|| {
            (0..TRIALS).fold(0u64, |a, _| {
                a ^ rng2.next_u64().wrapping_add(rng2.next_u64())
            })
        });
    });
    let crash = Chance::new(0.01).unwrap();
    let delay = Shifted::new(0.05, Exponential::new(0.5).unwrap().into()).unwrap();
    let mut rng = stream(1, 0, 0);
    group.bench_function("quorum-random-numbers", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for _ in 0..TRIALS {
                for _ in 0..5 {
                    sum += u64::from(crash.happens(&mut rng));
                    sum += delay.sample_ns(&mut rng) + delay.sample_ns(&mut rng);
                }
            }
            black_box(sum)
        });
    });
    group.bench_function("u64", |b| {
        b.iter(|| (0..TRIALS).fold(0u64, |a, _| a ^ rng.next_u64()));
    });
    group.bench_function("record-outcome", |b| {
        let mut tally = Tally::empty();
        let mut rng = stream(2, 0, 0);
        b.iter(|| {
            tally.recording(|recorder| {
                for _ in 0..TRIALS {
                    let ns = 400_000 + (rng.next_u64() >> 44);
                    recorder.record(&Outcome::success(ns, 10, 1), 0);
                }
            })
        });
        black_box(&tally);
    });
    group.bench_function("histogram-record", |b| {
        let mut tally = Tally::empty();
        let mut rng = stream(2, 0, 0);
        b.iter(|| {
            for _ in 0..TRIALS {
                let ns = 400_000 + (rng.next_u64() >> 44);
                tally.record(&Outcome::success(ns, 10, 1), 0);
            }
        });
        black_box(&tally);
    });
    let table = QuantileTable::new(|t| if t.upper { -t.p.ln() } else { -(-t.p).ln_1p() });
    let mut rng3 = stream(4, 0, 0);
    group.bench_function("quantile-table", |b| {
        b.iter(|| (0..TRIALS).fold(0.0, |a, _| a + table.sample(rng3.next_u64())));
    });
    group.finish();
}

/// Writing summary.parquet and histograms.parquet for the default sweep's 202 cells.
fn parquet(c: &mut Criterion) {
    let sweep = Sweep::default_sweep().with_trials(2_000);
    let records: Vec<CellRecord> = run_all(&sweep, &RunOptions::default())
        .unwrap()
        .iter()
        .map(CellRecord::of)
        .collect();
    let info = RunInfo {
        started: String::new(),
        finished: String::new(),
        threads: 1,
        wall_s: 0.0,
    };
    let results = Results {
        sweep: &sweep,
        cells: &records,
        info: &info,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("parquet");
    group.sample_size(20);
    for (name, export) in [
        ("summary", &SummaryFile as &dyn Export),
        ("histograms", &Histograms),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        group.bench_function(name, |b| {
            b.iter(|| {
                let file = std::fs::File::create(&path).unwrap();
                export.write(&results, file, &path).unwrap();
            });
        });
    }
    group.finish();
}

criterion_group!(benches, rng_floor, parquet);
criterion_main!(benches);
