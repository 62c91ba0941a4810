//! Published figures, reproduced: `sweeps/papers/gray-lamport.toml` (Gray and Lamport,
//! "Consensus on Transaction Commit", ACM TODS 2006) run as shipped. With constant one-way
//! delays d and forced writes p, no processing time and no failures, every trial of a cell
//! takes exactly (message delays) d + (write delays) p and sends the same number of messages,
//! so measured and published values are compared with tolerance 0: the published values are
//! exact counts, and the model draws nothing random in these cells. README "Validation" has
//! the same table; `cargo test --profile ci --test papers_gray_lamport -- --nocapture` prints
//! it.

use coordsim::engine::{RunOptions, run_all};
use coordsim::model::Value;
use coordsim::sweep::Sweep;

/// The sweep's one-way delay and forced write, in ms.
const D_MS: u64 = 1;
const P_MS: u64 = 5;

/// The normal-case cost of a cell: (message delays, write delays, messages, writes).
///
/// Published (quoted in the README): 2PC (F = 0) takes four message delays and 3N - 1
/// messages, three delays and 3N - 3 messages co-located (Section 3.2); Paxos Commit has "the
/// same three stable storage write delays" (Section 5), "one extra message delay" (the
/// technical report's abstract), and the faster variant "the same message delay ... as
/// Two-Phase Commit" (the abstract); co-located with N = 5, F = 1, 17 messages (Paxos
/// Commit) and 20 (Faster, (N - 1)(2F + 3)). The other message counts and the writes,
/// N + F + 1, are derived in the protocol's model text from the same message flow.
fn published(placement: &str, variant: &str, n: u64, f: u64) -> (u64, u64, u64, u64) {
    let (delays, messages) = match (placement, variant) {
        ("separate", "normal") => (if f == 0 { 4 } else { 5 }, n * (f + 3) + f - 1),
        ("separate", "faster") => (4, 2 * n * (f + 1) + n - 1),
        ("co-located", "normal") => (if f == 0 { 3 } else { 4 }, (n - 1) * (f + 3) + f),
        ("co-located", "faster") => (3, (n - 1) * (2 * f + 3)),
        other => panic!("{other:?}"),
    };
    (delays, 3, messages, n + f + 1)
}

#[test]
fn normal_case_costs_match_the_paper_exactly() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sweeps/papers/gray-lamport.toml"
    );
    let sweep = Sweep::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap();
    let runs = run_all(&sweep, &RunOptions::default()).unwrap();
    assert_eq!(runs.len(), 36);
    println!("| placement | variant | N | F | delays | writes on the path | messages | writes |");
    println!("|---|---|---|---|---|---|---|---|");
    for run in runs {
        let cell = &sweep.cells.get(run.cell_id as usize);
        let word = |name| match cell.value(name) {
            Some(Value::Choice(w)) => w,
            v => panic!("{name}: {v:?}"),
        };
        let f = match cell.value("faults") {
            Some(Value::Count(f)) => u64::from(f),
            v => panic!("faults: {v:?}"),
        };
        let (placement, variant, n) = (word("placement"), word("variant"), u64::from(cell.nodes));
        let (delays, write_delays, messages, writes) = published(placement, variant, n, f);
        let tally = &run.tally;
        let trials = tally.trials();
        let what = format!("{placement} {variant} N = {n} F = {f}");
        // Tolerance 0: constant delays and writes, no failures, so every trial is identical.
        assert_eq!(tally.successes, trials, "{what}");
        let ns = (delays * D_MS + write_delays * P_MS) * 1_000_000;
        assert_eq!(tally.latency_max_ns, ns, "{what}");
        assert_eq!(
            tally.latency_sum_ns,
            u128::from(ns) * u128::from(trials),
            "{what}"
        );
        assert_eq!(tally.messages_sum, u128::from(messages * trials), "{what}");
        assert_eq!(tally.extras_sum[0], u128::from(writes * trials), "{what}");
        println!(
            "| {placement} | {variant} | {n} | {f} | {delays} | {write_delays} | {messages} | {writes} |"
        );
    }
}
