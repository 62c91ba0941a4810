//! Inputs that crashed the fuzz target (`tests/fuzz/run.sh`), replayed through the same
//! checks: a sweep text is refused with one line naming the file, or accepted and trials of
//! each of its cells (of at most 64 nodes, the first 32) run without a panic.

use coordsim::model::tally::Tally;
use coordsim::rng::stream;
use coordsim::sweep::{Limits, Sweep};

/// Trials per cell: the fuzz target runs 4; more make each replay catch what a lucky draw
/// found there.
const TRIALS: u64 = 2_000;

/// What `tests/fuzz/fuzz_targets/sweep.rs` does with one input.
fn replay(text: &str) {
    match Sweep::parse_limited(text, "fuzz.toml", Limits::cells(10_000)) {
        Ok(sweep) => {
            assert!(
                sweep
                    .cells
                    .iter()
                    .enumerate()
                    .all(|(i, c)| c.id as usize == i)
            );
            let runnable = sweep.cells.iter().filter(|c| c.nodes <= 64);
            for cell in runnable.take(32) {
                let mut tally = Tally::empty();
                let mut rng = stream(sweep.seed, cell.id.into(), 0);
                sweep
                    .model(cell.id as usize)
                    .run(&mut rng, TRIALS, &mut tally);
                assert_eq!(tally.trials(), TRIALS);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.toml"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
}

/// Each input with what it broke.
const INPUTS: &[(&str, &str)] = &[
    (
        // Found by tests/fuzz/run.sh in 67 s (203,000 runs) from the heavy-tails seed, with
        // draws not yet capped and round trips not yet saturating: a Pareto tail of shape
        // 0.3 drew delays near 2^64 ns, and a round trip's sum overflowed.
        "Net::round_trip_ns overflowed on two huge Pareto draws",
        r#"# A fuzz seed: every protocol under a heavy-tailed delay, igridery environment. Mutations of
# the shape reach the longest draws a model makes.
name = "heavy-tails"
seed = 5
trials = 100
[grid]
protocol = ["fire-and-forget", "ack", "exactly-once", "quorum", "quorum-rw", "leader",
            "two-phase-commit", "three-phase-commit", "raft", "paxos", "pbft", "tree",
            "full-mesh", "gossip", "sequencer", "chatty", "batched"]
nodes = [3, 4]
crash = 0.1
loss = 0.1
regions = 2
cross_latency = "tail"
latency = "tail"
[params.quorum]
sampling = "per-node"
[latency.tail]
kind = "pareto"
scale_ms = 2
shape = 0.3
"#,
    ),
    (
        // The same tail through quorum-rw, which adds delays of its own (found with the
        // round trip saturating but draws not yet capped).
        "quorum-rw added two huge Pareto draws",
        r#"name = "rw"
seed = 3
trials = 1000
[grid]
protocol = "quorum-rw"
nodes = 4
latency = "tail"
[latency.tail]
kind = "pareto"
scale_ms = 1
shape = 0.2
"#,
    ),
];

#[test]
fn inputs_that_crashed_the_fuzz_target_pass() {
    for (what, text) in INPUTS {
        println!("{what}");
        replay(text);
    }
}
