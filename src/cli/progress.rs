//! The progress bar on stderr while a sweep runs: trials, cells, rate and time left.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use coordsim::engine::{self, Progress, Shard};
use coordsim::sweep::Sweep;

use super::words::si;

/// Runs `work` with a progress bar on stderr when stderr is a terminal: the trials and
/// cells of `shard` done (those of an earlier process included, when resumed), and the rate
/// and time left from this process's own trials.
pub(super) fn with_progress_bar<T>(
    sweep: &Sweep,
    shard: Shard,
    progress: &Progress,
    work: impl FnOnce() -> T,
) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let (total, cells) = shard_size(sweep, shard);
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let adaptive = if sweep.precision.is_adaptive() {
        " | adaptive"
    } else {
        ""
    };
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .expect("valid template"),
    );
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let trials = progress.trials_done.load(Ordering::Relaxed);
                let (length, rate, left) = bar_numbers(
                    total,
                    progress.trials_planned.load(Ordering::Relaxed),
                    trials,
                    progress.trials_resumed.load(Ordering::Relaxed),
                    start.elapsed().as_secs_f64(),
                );
                bar.set_length(length);
                bar.set_position(trials);
                let eta = left.map_or_else(
                    || "-".to_string(),
                    |s| format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
                );
                bar.set_message(format!(
                    "cells {}/{cells} | {} trials/s{adaptive} | ETA {eta}",
                    progress.cells_done.load(Ordering::Relaxed),
                    si(rate)
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work();
        done.store(true, Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    out
}

/// The trials and cells of `shard`: the progress bar's totals. The trials are known for a
/// fixed trial count; an adaptive run (never sharded) replaces them by its growing estimate.
fn shard_size(sweep: &Sweep, shard: Shard) -> (u64, usize) {
    let layout = engine::layout(sweep);
    (layout.shard_trials(shard), layout.shard_cells(shard).len())
}

/// The progress bar's length, the rate of this process's trials per second and the seconds
/// left at that rate, from the shard's `total` trials (or `planned`, the adaptive estimate,
/// when nonzero), the trials `done` (those `resumed` from a checkpoint included) and the
/// seconds this process has run.
fn bar_numbers(
    total: u64,
    planned: u64,
    done: u64,
    resumed: u64,
    elapsed_s: f64,
) -> (u64, f64, Option<u64>) {
    let length = if planned > 0 {
        planned.max(done)
    } else {
        total
    };
    let rate = done.saturating_sub(resumed) as f64 / elapsed_s.max(1e-9);
    let left = (rate > 0.0).then(|| (length.saturating_sub(done) as f64 / rate).round() as u64);
    (length, rate, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_counts_the_shard_and_this_process() {
        let sweep = Sweep::parse(
            "name = \"p\"\nseed = 1\ntrials = 40000\n[grid]\nprotocol = \"ack\"\n\
             nodes = [1, 2, 3, 4, 5]\nlatency = \"l\"\n[latency.l]\nkind = \"constant\"\nms = 1\n",
            "p.toml",
        )
        .unwrap();
        // 5 cells of 3 chunks (16384, 16384, 7232 trials): shard 1 of 2 runs items 7..15,
        // cells 2 to 4: 5 whole chunks and 3 short ones.
        let shard = Shard::new(1, 2).unwrap();
        assert_eq!(shard_size(&sweep, shard), (5 * 16384 + 3 * 7232, 3));
        assert_eq!(shard_size(&sweep, Shard::WHOLE), (200_000, 5));
        // Resumed at 50,000 trials, 10 s later at 60,000: 1000 trials/s, 40 s left of 100,000.
        assert_eq!(
            bar_numbers(100_000, 0, 60_000, 50_000, 10.0),
            (100_000, 1000.0, Some(40))
        );
        // An adaptive estimate replaces the total; nothing run yet leaves the time unknown.
        assert_eq!(
            bar_numbers(100_000, 300_000, 0, 0, 1.0),
            (300_000, 0.0, None)
        );
    }
}
