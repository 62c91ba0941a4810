//! The run directories whose files `damage.rs` alters, shared by the deterministic test
//! (`tests/damaged_files.rs`) and the fuzz target (`tests/fuzz/fuzz_targets/files.rs`): a
//! whole run, the two shards of a sharded run, and a run interrupted after its first
//! checkpoint, all of one small sweep.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coordsim::engine::{Progress, RunOptions, Shard};
use coordsim::run::{Finished, Plan, execute};
use coordsim::sweep::Sweep;

/// Four cells of three work items each: small enough to run again for every alteration.
pub const SWEEP: &str = "name = \"damaged\"\nseed = 7\ntrials = 40000\n\n[grid]\n\
    protocol = [\"ack\", \"quorum\"]\nnodes = [3, 5]\nlatency = \"lan\"\n\n\
    [latency.lan]\nkind = \"exponential\"\nmean_ms = 0.5\n";

/// The sweep file's name, in the fixtures' root.
pub const SWEEP_FILE: &str = "damaged.toml";

/// Which files are damaged: the fixture's directory and the file in it.
pub const TARGETS: [(&str, &str); 9] = [
    ("whole", "summary.parquet"),
    ("whole", "histograms.parquet"),
    ("whole", "sweep.toml"),
    ("whole", "coordsim-run.toml"),
    ("parts/0", "part.parquet"),
    ("parts/1", "part.parquet"),
    ("parts/1", "coordsim-run.toml"),
    ("stopped", "checkpoint/000001.parquet"),
    ("stopped", "coordsim-run.toml"),
];

/// The sweep, read from [`SWEEP_FILE`] (its origin in the files' metadata, wherever the
/// fixtures are: the same metadata in every fixture).
pub fn sweep() -> Sweep {
    Sweep::parse(SWEEP, SWEEP_FILE).unwrap()
}

fn run(sweep: &Sweep, dir: &Path, shard: Shard, resume: bool, stop: &AtomicBool) -> Finished {
    let plan = Plan {
        options: RunOptions {
            threads: Some(1),
            shard,
            checkpoint_every: Some(Duration::ZERO),
        },
        dir: dir.to_path_buf(),
        resume,
    };
    // A child process another test thread starts may hold a copy of the lock's descriptor
    // for a moment (between its fork and exec): try again.
    for _ in 0..100 {
        match execute(sweep, &plan, stop, &Progress::default()) {
            Err(coordsim::run::RunError::Locked { .. }) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.expect("the fixture runs"),
        }
    }
    panic!("{}: locked for a second", dir.display())
}

/// Resumes the run in `dir` on one thread.
pub fn resume(sweep: &Sweep, dir: &Path) -> Result<Finished, coordsim::run::RunError> {
    let plan = Plan {
        options: RunOptions {
            threads: Some(1),
            shard: Shard::WHOLE,
            checkpoint_every: None,
        },
        dir: dir.to_path_buf(),
        resume: true,
    };
    execute(sweep, &plan, &AtomicBool::new(false), &Progress::default())
}

/// Makes the fixtures in `root`: the sweep file, `whole/`, `parts/0/`, `parts/1/` and
/// `stopped/` (interrupted once its first checkpoint is in place, with a second one from a
/// resumption cut short the same way).
pub fn make(root: &Path) -> Sweep {
    std::fs::create_dir_all(root.join("parts")).unwrap();
    std::fs::write(root.join(SWEEP_FILE), SWEEP).unwrap();
    let sweep = sweep();
    let go = AtomicBool::new(false);
    run(&sweep, &root.join("whole"), Shard::WHOLE, false, &go);
    for k in 0..2 {
        let shard = Shard::new(k, 2).unwrap();
        run(&sweep, &root.join(format!("parts/{k}")), shard, false, &go);
    }
    let stopped = root.join("stopped");
    for (file, resume) in [("000001.parquet", false), ("000002.parquet", true)] {
        let stop = AtomicBool::new(false);
        let finished = std::thread::scope(|s| {
            let watcher = s.spawn(|| {
                // Until the run stops (or fails): the stop flag is set either way.
                while !stop.load(Ordering::Relaxed) {
                    if stopped.join("checkpoint").join(file).exists() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            });
            let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&sweep, &stopped, Shard::WHOLE, resume, &stop)
            }));
            stop.store(true, Ordering::Relaxed);
            watcher.join().unwrap();
            finished
        });
        match finished {
            Ok(Finished::Interrupted { .. }) => {}
            Ok(other) => panic!("not interrupted: {other:?}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    sweep
}

/// Copies the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
