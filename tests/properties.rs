//! Properties over random inputs: grid expansion, stream seeding, and exact merging.

use std::collections::HashSet;

use coordsim::model::Outcome;
use coordsim::model::tally::Tally;
use coordsim::rng::stream_state;
use coordsim::sweep::Sweep;
use proptest::prelude::*;

fn list<T: std::fmt::Display>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("[{}]", items.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Cells come out in expansion order, once per combination, as many as counted.
    #[test]
    fn grid_expansion_is_the_cartesian_product(
        nodes in prop::collection::btree_set(1u32..40, 1..4),
        crash in prop::collection::btree_set(0u32..100, 1..3),
        zones in prop::collection::btree_set(1u32..5, 1..3),
        k_majority in any::<bool>(),
        retries in prop::collection::btree_set(0u32..5, 1..3),
    ) {
        let nodes: Vec<u32> = nodes.into_iter().collect();
        let crash: Vec<f64> = crash.into_iter().map(|c| f64::from(c) / 100.0).collect();
        let zones: Vec<u32> = zones.into_iter().collect();
        let retries: Vec<u32> = retries.into_iter().collect();
        let k = if k_majority { "\"majority\"" } else { "1" };
        let text = format!(
            "name = \"p\"\nseed = 1\ntrials = 10\n[grid]\nprotocol = [\"quorum\", \"ack\"]\n\
             nodes = {}\ncrash = {}\nzones = {}\nlatency = \"l\"\n[params.quorum]\nk = {k}\n\
             [params.ack]\nretries = {}\n[latency.l]\nkind = \"constant\"\nms = 1\n",
            list(&nodes), list(&crash), list(&zones), list(&retries)
        );
        let sweep = Sweep::parse(&text, "p.toml").unwrap();
        let per_env = nodes.len() * crash.len() * zones.len();
        prop_assert_eq!(sweep.cells.len(), per_env + per_env * retries.len());
        prop_assert_eq!(sweep.axes.cell_count(), sweep.cells.len() as u128);
        let mut seen = HashSet::new();
        for (i, cell) in sweep.cells.iter().enumerate() {
            prop_assert_eq!(cell.id as usize, i);
            let key = format!("{} {} {} {} {:?}", cell.protocol.name, cell.nodes, cell.crash, cell.zones, cell.params);
            prop_assert!(seen.insert(key), "cell {} repeats a combination", i);
        }
        // Protocol is the outermost axis, the protocol's own parameters the innermost.
        prop_assert!(sweep.cells.iter().take(per_env).all(|c| c.protocol.name == "quorum"));
        if retries.len() > 1 {
            prop_assert_ne!(sweep.cells.get(per_env).params, sweep.cells.get(per_env + 1).params);
        }
    }

    /// No two work items of a sweep start from the same generator state.
    #[test]
    fn work_items_get_distinct_streams(
        seed in any::<u64>(),
        items in prop::collection::vec((0u64..1_000_000, 0u64..1_000_000), 2..200),
    ) {
        let mut states = std::collections::HashMap::new();
        for (cell, chunk) in items {
            let state = stream_state(seed, cell, chunk);
            if let Some(other) = states.insert(state, (cell, chunk)) {
                prop_assert_eq!(other, (cell, chunk), "two work items share a stream");
            }
            prop_assert!(state.iter().any(|&w| w != 0));
        }
    }

    /// Merging tallies gives the same result in any grouping and any order.
    #[test]
    fn merging_is_associative_and_commutative(
        outcomes in prop::collection::vec(
            (0u8..3, 0u64..10_000_000_000, 0u64..5_000, 0u32..300, 0u64..10),
            1..60,
        ),
        cut1 in any::<prop::sample::Index>(),
        cut2 in any::<prop::sample::Index>(),
    ) {
        let record = |slice: &[(u8, u64, u64, u32, u64)]| {
            let mut t = Tally::empty();
            for &(status, latency, messages, rounds, extra) in slice {
                let o = match status {
                    0 => Outcome::success(latency, messages, rounds),
                    1 => Outcome::failure(messages, rounds),
                    _ => Outcome::blocked(messages, rounds),
                };
                t.record(&o.with_extras([extra, 0, 0, 0]), 1);
            }
            t.settle();
            t
        };
        let (a, b) = {
            let (x, y) = (cut1.index(outcomes.len() + 1), cut2.index(outcomes.len() + 1));
            (x.min(y), x.max(y))
        };
        let (p, q, r) = (record(&outcomes[..a]), record(&outcomes[a..b]), record(&outcomes[b..]));
        let whole = record(&outcomes);
        let merge = |x: &Tally, y: &Tally| { let mut m = x.clone(); m.merge(y); m };
        prop_assert_eq!(&merge(&merge(&p, &q), &r), &whole);
        prop_assert_eq!(&merge(&p, &merge(&q, &r)), &whole);
        prop_assert_eq!(&merge(&merge(&r, &p), &q), &whole);
        prop_assert_eq!(&merge(&q, &merge(&r, &p)), &whole);
    }
}
