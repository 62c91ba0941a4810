//! The engine's floors: drawing the random numbers a trial needs, recording an outcome, a
//! quantile-table lookup, and writing the Parquet files; and the reference quorum trial to
//! set beside them.
//!
//! `cargo bench --bench engine`.

use std::hint::black_box;

use coordsim::engine::{CHUNK_TRIALS, GROUP_ITEMS, RunOptions, run_all};
use coordsim::latency::{Delay, Exponential, Shifted};
use coordsim::model::tally::Tally;
use coordsim::model::{Env, Outcome};
use coordsim::order::{self, OrderStatistic, QuantileTable, Rank};
use coordsim::protocols::direct::{self, Replies};
use coordsim::rng::{Chance, stream};
use coordsim::store::{CellRecord, ResultsWriter, RunInfo};
use coordsim::sweep::Sweep;
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
    // The variates a directly sampled quorum trial draws, the way it draws them: the counts of
    // replies sent and arrived (a table lookup from one 64-bit draw) and the k-th fastest
    // round trip of those that arrived (a quantile-table lookup, from the same draw's unused
    // bits when it has enough).
    let env = Env::new(0.01, 0.0, delay.clone().into()).unwrap();
    let replies = Replies::new(&env, 5);
    let likely: Vec<u32> = order::likely(&replies.arrived_pmf(), 1e-3)
        .into_iter()
        .filter(|&l| l >= 3)
        .collect();
    let law = env.latency().law().unwrap();
    let kth = OrderStatistic::new(direct::round_trip(&law), Rank::Kth(3), &likely);
    let mut rng4 = stream(6, 0, 0);
    group.bench_function("quorum-direct-variates", |b| {
        b.iter(|| {
            (0..TRIALS).fold(0.0, |a, _| {
                let ((_, arrived), fresh) = replies.sample_reusing(&mut rng4);
                if arrived < 3 {
                    return a;
                }
                a + kth.sample_with(fresh, &mut rng4, arrived.into())
            })
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
                recorder.record_each(
                    TRIALS,
                    || Outcome::success(400_000 + (rng.next_u64() >> 44), 10, 1),
                    0,
                );
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

/// Writing summary.parquet and histograms.parquet for the default sweep's 202 cells, as a run
/// writes them: streamed, a group of cells at a time.
fn parquet(c: &mut Criterion) {
    let sweep = Sweep::default_sweep().with_trials(2_000);
    let records: Vec<CellRecord> = run_all(&sweep, &RunOptions::default())
        .unwrap()
        .iter()
        .map(CellRecord::of)
        .collect();
    let info = RunInfo::default();
    let mut group = c.benchmark_group("parquet");
    group.sample_size(20);
    group.bench_function("results", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut writer = ResultsWriter::create(dir.path(), &sweep).unwrap();
            for record in &records {
                writer.push(record.clone()).unwrap();
            }
            writer.finish(&info).unwrap();
        });
    });
    group.finish();
}

/// The reference quorum trial (`sweeps/bench/quorum*.toml`), sampled directly and node by
/// node, to set beside its floor above: recorded as the engine records it, a group of
/// work items per recording session.
fn reference_trials(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference");
    let session = GROUP_ITEMS as u64 * CHUNK_TRIALS;
    group.throughput(Throughput::Elements(session));
    for (name, file) in [
        ("quorum-direct", "quorum.toml"),
        ("quorum-per-node", "quorum-per-node.toml"),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sweeps/bench")
            .join(file);
        let sweep = Sweep::load(&path).unwrap();
        let model = sweep.model(0);
        let mut tally = Tally::empty();
        let mut rng = stream(5, 0, 0);
        model.run(&mut rng, 1, &mut tally); // builds any tables
        group.bench_function(name, |b| {
            b.iter(|| model.run(black_box(&mut rng), session, &mut tally));
        });
        black_box(&tally);
    }
    group.finish();
}

criterion_group!(benches, rng_floor, reference_trials, parquet);
criterion_main!(benches);
