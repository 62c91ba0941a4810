//! The candidate designs: which consistency each protocol provides, under which faults, with
//! how many nodes.

use super::{Partitions, Requirements};

/// The consistency a design provides, from the lowest rung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Consistency {
    /// Nothing is agreed: a message may be lost, and nobody learns of it.
    None,
    /// Every replica converges once updates stop.
    Eventual,
    /// A client reads its own writes, though others may read older values.
    ReadYourWrites,
    /// Every operation appears to take effect at one instant between its call and return.
    Linearizable,
    /// All participants commit or all abort.
    AtomicCommit,
    /// Agreement despite replicas that lie.
    Byzantine,
}

const CONSISTENCY_WORDS: &[(&str, Consistency)] = &[
    ("none", Consistency::None),
    ("eventual", Consistency::Eventual),
    ("read-your-writes", Consistency::ReadYourWrites),
    ("linearizable", Consistency::Linearizable),
    ("atomic-commit", Consistency::AtomicCommit),
    ("byzantine", Consistency::Byzantine),
];

impl Consistency {
    /// Every level, from the lowest rung up.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::Eventual,
        Self::ReadYourWrites,
        Self::Linearizable,
        Self::AtomicCommit,
        Self::Byzantine,
    ];

    /// The level a requirements file names.
    pub fn from_word(word: &str) -> Option<Self> {
        CONSISTENCY_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, c)| *c)
    }

    /// Every level's word, from the lowest rung up.
    pub fn words() -> impl Iterator<Item = &'static str> {
        CONSISTENCY_WORDS.iter().map(|(w, _)| *w)
    }

    /// Its word in a requirements file.
    pub fn word(self) -> &'static str {
        CONSISTENCY_WORDS
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(w, _)| *w)
            .expect("every level has a word")
    }
}

/// One design: a protocol with its node count and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// The protocol.
    pub protocol: &'static str,
    /// Its nodes.
    pub nodes: u32,
    /// Its parameters, as a sweep file writes them.
    pub params: Vec<(&'static str, toml::Value)>,
    /// The consistency it provides.
    pub consistency: Consistency,
    /// Why it provides it under the faults asked for, in a few words.
    pub why: &'static str,
}

impl Design {
    /// The design in words: `quorum N=3 k=majority`.
    pub fn label(&self) -> String {
        let mut words = format!("{} N={}", self.protocol, self.nodes);
        for (k, v) in &self.params {
            match v {
                toml::Value::String(s) => words.push_str(&format!(" {k}={s}")),
                other => words.push_str(&format!(" {k}={other}")),
            }
        }
        words
    }
}

/// What each protocol provides, as [`designs`] uses it, in words (`coordsim protocols NAME`
/// prints it).
pub const PROVIDES: &[(&str, &str)] = &[
    (
        "fire-and-forget",
        "none: a message may be lost and nobody learns of it (1 node)",
    ),
    (
        "ack",
        "none: delivery retried until acknowledged, nothing agreed (1 node)",
    ),
    (
        "gossip",
        "eventual: every live node learns the update; f + 1 nodes survive f crashes",
    ),
    (
        "cache-hierarchy",
        "read-your-writes with op = read-after-write and gap_ms < window_ms (the client's reads go to the master region for a window after its writes); eventual for other clients; one master, so no crash of it is survived",
    ),
    (
        "quorum-rw",
        "linearizable when r + w > N (a read quorum meets every write quorum; r = w = majority of 2f + 1 nodes survive f crashes), eventual when r + w <= N (a read may miss the latest write)",
    ),
    (
        "quorum",
        "linearizable with k = majority: majorities of 2f + 1 nodes intersect and survive f crashes",
    ),
    (
        "raft",
        "linearizable (phase = replication): a majority of 2f + 1 nodes commits, surviving f crashes",
    ),
    (
        "paxos",
        "linearizable (classic or multi): a majority of 2f + 1 acceptors, surviving f crashes",
    ),
    (
        "leader",
        "linearizable with mode = sync (every replica has each write before the answer), 2f + 1 nodes; semi-sync and async may lose acknowledged writes on failover",
    ),
    (
        "two-phase-commit",
        "atomic commit across N participants; blocks while a crashed coordinator is down",
    ),
    (
        "three-phase-commit",
        "atomic commit across N participants; a coordinator crash does not block",
    ),
    (
        "pbft",
        "Byzantine agreement: 3b + 1 replicas outvote b that lie",
    ),
];

/// The read-your-writes window of the cache-hierarchy design: longer than any replication lag
/// its reads could race.
const RYW_WINDOW_MS: i64 = 10_000;

/// The designs that provide `consistency` or more of the ladder (none, eventual,
/// read-your-writes, linearizable), or exactly atomic commit or Byzantine agreement, under the
/// faults of `r`. Where both sides of a partition must keep serving, the ladder stops at
/// eventual: a design above it cannot stay available on both sides (CAP). Replicated designs
/// run on the `nodes` the requirements state, or else on the fewest the faults need:
///
/// | consistency | designs | nodes |
/// |---|---|---|
/// | none | fire-and-forget, ack (1 or 3 retries, after 2 or 10 ms) | 1 |
/// | eventual | gossip (push, fanout 1 or 2), quorum-rw with R = W = 1 | f + 1 (at least 2) |
/// | read-your-writes | cache-hierarchy (a read right after the client's write, within a 10 s window; only for f = 0) | 2 |
/// | linearizable | quorum (majority), quorum-rw (R = W = majority), raft (replication), paxos (classic and multi; raft and paxos from f = 1), leader (sync, election timeout 50 or 150 ms) | 2f + 1 |
/// | atomic-commit | two-phase-commit (only where blocking is allowed), three-phase-commit | participants |
/// | byzantine | pbft | 3b + 1 |
pub fn designs(r: &Requirements) -> Vec<Design> {
    use toml::Value;
    let word = |w: &str| Value::String(w.to_string());
    let mut out = Vec::new();
    let top = match r.partitions {
        Partitions::Majority => Consistency::Linearizable,
        Partitions::Available => Consistency::Eventual,
    };
    let ladder = |c: Consistency| r.consistency <= c && c <= top;
    if ladder(Consistency::None) {
        out.push(Design {
            protocol: "fire-and-forget",
            nodes: 1,
            params: Vec::new(),
            consistency: Consistency::None,
            why: "one receiver, nothing agreed",
        });
        // Retransmission: how often, and how soon.
        for retries in [1, 3] {
            for timeout_ms in [2, 10] {
                out.push(Design {
                    protocol: "ack",
                    nodes: 1,
                    params: vec![
                        ("retries", Value::Integer(retries)),
                        ("timeout_ms", Value::Integer(timeout_ms)),
                    ],
                    consistency: Consistency::None,
                    why: "one receiver, delivery retried until acknowledged",
                });
            }
        }
    }
    if ladder(Consistency::Eventual) {
        let n = r.nodes.unwrap_or(0).max(r.crashes + 1).max(2);
        for fanout in [1, 2] {
            out.push(Design {
                protocol: "gossip",
                nodes: n,
                params: vec![("mode", word("push")), ("fanout", Value::Integer(fanout))],
                consistency: Consistency::Eventual,
                why: "f + 1 copies; every live node learns the update",
            });
        }
        out.push(Design {
            protocol: "quorum-rw",
            nodes: n,
            params: vec![("r", Value::Integer(1)), ("w", Value::Integer(1))],
            consistency: Consistency::Eventual,
            why: "R + W <= N: a read may miss the latest write",
        });
    }
    // A regional cache in front of a master, reads of the client's own writes sent to the
    // master for a window: one master, so no crash is survived.
    if ladder(Consistency::ReadYourWrites) && r.crashes == 0 {
        out.push(Design {
            protocol: "cache-hierarchy",
            nodes: 2,
            params: vec![
                ("op", word("read-after-write")),
                ("window_ms", Value::Integer(RYW_WINDOW_MS)),
                ("gap_ms", Value::Integer(0)),
            ],
            consistency: Consistency::ReadYourWrites,
            why: "the client's reads go to the master for a window after its writes",
        });
    }
    if ladder(Consistency::Linearizable) {
        let n = r.nodes.unwrap_or(0).max(2 * r.crashes + 1);
        let majority = || word("majority");
        let linearizable: [(&'static str, Vec<(&'static str, Value)>); 7] = [
            ("quorum", vec![("k", majority())]),
            ("quorum-rw", vec![("r", majority()), ("w", majority())]),
            ("raft", vec![("phase", word("replication"))]),
            ("paxos", vec![("variant", word("classic"))]),
            ("paxos", vec![("variant", word("multi"))]),
            // Failover: how soon a follower stands for election.
            (
                "leader",
                vec![
                    ("mode", word("sync")),
                    ("election_timeout_ms", Value::Integer(50)),
                ],
            ),
            (
                "leader",
                vec![
                    ("mode", word("sync")),
                    ("election_timeout_ms", Value::Integer(150)),
                ],
            ),
        ];
        for (protocol, params) in linearizable {
            // Raft and Paxos count only the messages among their nodes: at one node they
            // measure nothing, not even the client's trip.
            if n == 1 && matches!(protocol, "raft" | "paxos") {
                continue;
            }
            out.push(Design {
                protocol,
                nodes: n,
                params,
                consistency: Consistency::Linearizable,
                why: "majorities of 2f + 1 intersect and survive f crashes",
            });
        }
    }
    if r.consistency == Consistency::AtomicCommit {
        if r.blocking_ok {
            out.push(Design {
                protocol: "two-phase-commit",
                nodes: r.participants,
                params: Vec::new(),
                consistency: Consistency::AtomicCommit,
                why: "all vote, then all commit; blocks while the coordinator is down",
            });
        }
        out.push(Design {
            protocol: "three-phase-commit",
            nodes: r.participants,
            params: Vec::new(),
            consistency: Consistency::AtomicCommit,
            why: "a pre-commit round: a coordinator crash does not block",
        });
    }
    if r.consistency == Consistency::Byzantine {
        out.push(Design {
            protocol: "pbft",
            nodes: r.nodes.unwrap_or(0).max(3 * r.byzantine.max(1) + 1),
            params: vec![("byzantine", Value::Integer(r.byzantine.into()))],
            consistency: Consistency::Byzantine,
            why: "3b + 1 replicas outvote b liars",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_s_protocol_states_what_it_provides() {
        let table = "name = \"x\"\nconsistency = \"none\"\n[environment]\nlatency = 1\n";
        for (consistency, extra) in [
            ("none", ""),
            ("linearizable", "crashes = 2\n"),
            ("atomic-commit", ""),
            ("byzantine", "byzantine = 2\n"),
        ] {
            let text = table.replace("\"none\"", &format!("\"{consistency}\"\n{extra}"));
            let r = Requirements::read(&text.parse().unwrap()).unwrap();
            for d in designs(&r) {
                assert!(
                    PROVIDES.iter().any(|(p, _)| *p == d.protocol),
                    "{}",
                    d.protocol
                );
                assert!(
                    crate::protocols::BUILTIN
                        .iter()
                        .any(|p| p.name == d.protocol)
                );
            }
        }
    }
}
