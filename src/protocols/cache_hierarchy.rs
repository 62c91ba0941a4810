//! Cache hierarchy: regional read-through caches in front of one master region (TAO's case).
//!
//! Facebook's TAO answers reads from a cache in the reader's region: a hit costs a local round
//! trip (about 1 ms), a miss reads through to the master region. Every write goes to the
//! master region (about 10 ms from a slave region), which commits it and replicates it to the
//! other regions asynchronously: their caches learn of it, and drop or replace the old value,
//! only after a replication lag of seconds. Reads stay cheap and the master stays the one
//! place that orders writes; the price is that a client in a slave region can read its own
//! write and get the value it just overwrote. The fix tracks the client's own writes: for a
//! window after a write, its reads go to the master region, never stale but paying the
//! cross-region trip.
//!
//! The model uses the cell's environment for its regions: nodes are the caches, spread
//! round-robin over the regions (`regions`, `cross_latency`), and the client sits in region 0.

use rand_distr::{Distribution, Exp};

use super::{
    CLIENT, Choice, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec,
    Protocol, ProtocolInfo, Setting, Value, choice,
};
use crate::latency::NS_PER_MS;
use crate::rng::{Chance, SimRng};

macro_rules! model {
    () => {
        "One trial: one operation by a client in region 0. The N nodes are caches, node i in
region i % regions; node 0 is the client's regional cache. The master (the master region's
cache, in front of the master database) is node 1 when client_region = \"slave\" (in region 1
when regions >= 2; with regions = 1 every trip is local) and node 0 itself when
client_region = \"master\" (or N = 1). Delays are the environment's: within a region from the
cell's latency model, between regions from cross_latency.
op = \"read\": the client asks node 0, which holds the key with probability hit and answers
(one round trip, 2 messages); otherwise it reads through to the master (node 0 to the master,
a cross-region round trip from a slave region, a local one to the database in the master
region), fills and answers (4 messages).
op = \"write\": the client sends the write to node 0, which forwards it to the master; the
master commits and acknowledges back through node 0 (4 messages, two round trips), and
replicates the write asynchronously to each of the other N - 1 caches (N - 1 messages, counted
once; replication is reliable, its only effect is its lag). The lag, from the client's
acknowledgement until node 0 no longer serves the old value, is exponential with mean lag_ms
(0: none).
op = \"read-after-write\": the write above, then gap_ms after its acknowledgement the client
reads the key. A client that tracks its own writes sends a read within window_ms of its write
(gap_ms < window_ms) straight to the master region's cache (one round trip to the master, 2
messages): it always returns the write. Otherwise the read goes to node 0 as op = \"read\"
does: a hit returns the old value while the lag has not passed (lag > gap_ms), a miss reads
through to the master and returns the write. So P(stale) = hit x exp(-gap_ms / lag_ms) when
gap_ms >= window_ms, and 0 when gap_ms < window_ms; in the master region the write is the
master's at once and no read is stale. Whether the key is cached is independent of the
write.
Success: every message on the critical path is delivered (each lost with probability loss,
or cut by a partition) to a cache that is up (node 0 and the master each crashed with
probability crash, drawn once per trial), and no read returns a stale value.
Latency: the operation's round trips; for read-after-write, the read's alone (op = \"write\"
gives the write's). Messages: every message sent, up to the first lost one or down cache,
including the N - 1 replication messages of a committed write. Rounds: the round trips on the
critical path (read 1 or 2, write 2, read-after-write 2 + the read's).
stale: 1 if the read returned the old value. hits: 1 if the read was answered from node 0's
cache. remote_reads: 1 if the read was answered by the master (a miss or a windowed read)."
    };
}

choice! {
    /// The operation a trial performs.
    pub enum Op {
        /// One read through the client's regional cache.
        Read = "read",
        /// One write to the master region.
        Write = "write",
        /// A write, then a read of the same key gap_ms later.
        ReadAfterWrite = "read-after-write",
    }
}

choice! {
    /// Where the client sits.
    pub enum ClientRegion {
        /// In a slave region: the master is a cross-region trip away.
        Slave = "slave",
        /// In the master region.
        Master = "master",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{CacheHierarchy, CacheOp, CacheClientRegion};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// // 0.5 ms within a region, 5 ms between: a write from a slave region takes 1 + 10 ms.
/// let env = Env::new(0.0, 0.0, Constant::new(0.5).unwrap().into()).unwrap()
///     .with_regions(2, Some(Constant::new(5.0).unwrap().into())).unwrap();
/// let model = CacheHierarchy::new(
///     env, 3, CacheOp::Write, CacheClientRegion::Slave, 0.9, 1000.0, 0.0, 100.0,
/// ).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.status, outcome.latency_ns, outcome.messages), (Status::Success, 11_000_000, 6));
/// ```
#[derive(Debug, Clone)]
pub struct CacheHierarchy {
    env: Env,
    nodes: u32,
    op: Op,
    /// The master's node: 1 for a slave-region client, 0 in the master region.
    master: u32,
    hit: Chance,
    /// The replication lag's law; `None` for no lag.
    lag: Option<Exp<f64>>,
    window_ns: f64,
    gap_ns: f64,
}

/// How a read ended.
struct Read {
    ns: u64,
    messages: u64,
    rounds: u32,
    stale: bool,
    hit: bool,
    remote: bool,
    /// Whether a reply reached the client (no message lost, no cache down).
    ok: bool,
}

impl CacheHierarchy {
    /// An operation `op` by a client in `client_region`, among `nodes` caches whose reads hit
    /// with probability `hit`, replicated after an exponential lag of mean `lag_ms`, with a
    /// read-your-writes window of `window_ms` and a read `gap_ms` after the write.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: Env,
        nodes: u32,
        op: Op,
        client_region: ClientRegion,
        hit: f64,
        lag_ms: f64,
        window_ms: f64,
        gap_ms: f64,
    ) -> Result<Self, ModelError> {
        for (name, ms) in [
            ("lag_ms", lag_ms),
            ("window_ms", window_ms),
            ("gap_ms", gap_ms),
        ] {
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(ModelError::new(name, "must be a finite number >= 0"));
            }
        }
        let lag = if lag_ms > 0.0 {
            Some(Exp::new(1.0 / (lag_ms * NS_PER_MS)).map_err(|e| ModelError::new("lag_ms", e))?)
        } else {
            None
        };
        Ok(Self {
            env,
            nodes,
            op,
            master: match client_region {
                ClientRegion::Slave if nodes >= 2 => 1,
                _ => 0,
            },
            hit: Chance::new(hit).map_err(|e| ModelError::new("hit", e))?,
            lag,
            window_ns: window_ms * NS_PER_MS,
            gap_ns: gap_ms * NS_PER_MS,
        })
    }

    /// A request from `a` to `b` and its reply: the round trip, or the messages sent if `b`
    /// is down or a message is lost.
    #[inline]
    fn round_trip(net: &Net<'_>, rng: &mut SimRng, a: u32, b: u32, b_up: bool) -> Result<u64, u64> {
        if net.lost(rng, a, b) {
            return Err(1);
        }
        if !b_up || net.lost(rng, b, a) {
            return Err(if b_up { 2 } else { 1 });
        }
        Ok(net.round_trip_ns(rng, a, b))
    }

    /// A read by the client; `lagging` if node 0 still holds the value a write replaced, and
    /// `windowed` if the read goes to the master.
    #[inline]
    fn read(
        &self,
        net: &Net<'_>,
        rng: &mut SimRng,
        up: [bool; 2],
        lagging: bool,
        windowed: bool,
    ) -> Read {
        let mut read = Read {
            ns: 0,
            messages: 0,
            rounds: 1,
            stale: false,
            hit: false,
            remote: false,
            ok: false,
        };
        if windowed {
            read.remote = true;
            match Self::round_trip(net, rng, CLIENT, self.master, up[1]) {
                Ok(ns) => (read.ns, read.messages, read.ok) = (ns, 2, true),
                Err(sent) => read.messages = sent,
            }
            return read;
        }
        let local = match Self::round_trip(net, rng, CLIENT, 0, up[0]) {
            Ok(ns) => ns,
            Err(sent) => {
                read.messages = sent;
                return read;
            }
        };
        read.hit = self.hit.happens(rng);
        if read.hit {
            (read.ns, read.messages, read.ok, read.stale) = (local, 2, true, lagging);
            return read;
        }
        read.remote = true;
        read.rounds = 2;
        match Self::round_trip(net, rng, 0, self.master, up[1]) {
            Ok(ns) => (read.ns, read.messages, read.ok) = (local.saturating_add(ns), 4, true),
            Err(sent) => read.messages = 2 + sent,
        }
        read
    }

    /// A write by the client: its latency and messages, or the messages sent before it failed.
    #[inline]
    fn write(&self, net: &Net<'_>, rng: &mut SimRng, up: [bool; 2]) -> Result<(u64, u64), u64> {
        // Client to node 0, node 0 to the master, and the acknowledgements back.
        if net.lost(rng, CLIENT, 0) || !up[0] {
            return Err(1);
        }
        let forward = Self::round_trip(net, rng, 0, self.master, up[1]).map_err(|sent| 1 + sent)?;
        if net.lost(rng, 0, CLIENT) {
            return Err(3 + u64::from(self.nodes - 1));
        }
        let ns = net.round_trip_ns(rng, CLIENT, 0).saturating_add(forward);
        Ok((ns, 4 + u64::from(self.nodes - 1)))
    }
}

impl Protocol for CacheHierarchy {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "stale",
            doc: "1 if the read returned the value the client's write replaced",
        },
        Extra {
            name: "hits",
            doc: "1 if the read was answered from the client's regional cache",
        },
        Extra {
            name: "remote_reads",
            doc: "1 if the read was answered by the master region (a miss or a windowed read)",
        },
    ];
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let up0 = net.up(rng, 0);
        let up = [
            up0,
            if self.master == 0 {
                up0
            } else {
                net.up(rng, self.master)
            },
        ];
        let mut extras = [0; MAX_EXTRAS];
        let (read, write_messages, write_rounds) = match self.op {
            Op::Write => {
                return match self.write(&net, rng, up) {
                    Ok((ns, messages)) => Outcome::success(ns, messages, 2),
                    Err(messages) => Outcome::failure(messages, 2),
                };
            }
            Op::Read => (self.read(&net, rng, up, false, false), 0, 0),
            Op::ReadAfterWrite => {
                let written = match self.write(&net, rng, up) {
                    Ok((_, messages)) => messages,
                    Err(messages) => return Outcome::failure(messages, 2),
                };
                let windowed = self.gap_ns < self.window_ns;
                // The lag is drawn whatever the path, so that the window changes nothing
                // else in the trial's draws.
                let lag = self.lag.map_or(0.0, |law| law.sample(rng));
                let lagging = self.master != 0 && lag > self.gap_ns;
                (self.read(&net, rng, up, lagging, windowed), written, 2)
            }
        };
        extras[0] = u64::from(read.stale);
        extras[1] = u64::from(read.hit);
        extras[2] = u64::from(read.remote);
        let messages = write_messages + read.messages;
        let rounds = write_rounds + read.rounds;
        if read.ok && !read.stale {
            Outcome::success(read.ns, messages, rounds)
        } else {
            Outcome::failure(messages, rounds)
        }
        .with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "cache-hierarchy",
    summary: "regional read-through caches, writes to a master region, asynchronous \
              replication; read-your-writes by a window (TAO's case)",
    model: model!(),
    params: &[
        ParamSpec {
            name: "op",
            kind: Op::KIND,
            default: Value::Choice(Op::Read.word()),
            doc: "the trial's operation: a read, a write, or a write then a read gap_ms later",
        },
        ParamSpec {
            name: "client_region",
            kind: ClientRegion::KIND,
            default: Value::Choice(ClientRegion::Slave.word()),
            doc: "the client's region: a slave region (the master is node 1) or the master's",
        },
        ParamSpec {
            name: "hit",
            kind: ParamKind::Probability,
            default: Value::Probability(0.95),
            doc: "probability that the regional cache holds the key",
        },
        ParamSpec {
            name: "lag_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(1000.0),
            doc: "mean replication lag to the other regions (exponential; 0: none)",
        },
        ParamSpec {
            name: "window_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(0.0),
            doc: "reads this soon after the client's own write go to the master (0: never)",
        },
        ParamSpec {
            name: "gap_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(100.0),
            doc: "time from the write's acknowledgement to the read (read-after-write)",
        },
    ],
    extras: CacheHierarchy::EXTRAS,
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(CacheHierarchy::new(
            setting.env().clone(),
            setting.nodes,
            params.op,
            params.client_region,
            params.hit,
            params.lag_ms,
            params.window_ms,
            params.gap_ms,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    op: Op,
    client_region: ClientRegion,
    hit: f64,
    lag_ms: f64,
    window_ms: f64,
    gap_ms: f64,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            op: setting.choice("op"),
            client_region: setting.choice("client_region"),
            hit: setting.probability("hit"),
            lag_ms: setting.millis("lag_ms"),
            window_ms: setting.millis("window_ms"),
            gap_ms: setting.millis("gap_ms"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Constant;
    use crate::model::Simulate;
    use crate::model::stats::assert_rate;
    use crate::model::tally::Tally;
    use crate::rng::stream;

    const TRIALS: u64 = 400_000;

    /// 0.5 ms one way within a region, 5 ms between regions: a local round trip is 1 ms, a
    /// cross-region one 10 ms.
    fn env(crash: f64, loss: f64) -> Env {
        Env::new(crash, loss, Constant::new(0.5).unwrap().into())
            .unwrap()
            .with_regions(2, Some(Constant::new(5.0).unwrap().into()))
            .unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        env: Env,
        nodes: u32,
        op: Op,
        region: ClientRegion,
        hit: f64,
        lag_ms: f64,
        window_ms: f64,
        gap_ms: f64,
    ) -> Tally {
        let model =
            CacheHierarchy::new(env, nodes, op, region, hit, lag_ms, window_ms, gap_ms).unwrap();
        let mut tally = Tally::empty();
        model.run(&mut stream(7, 0, 0), TRIALS, &mut tally);
        tally.settle();
        tally
    }

    /// Trials whose latency is `ms` (the histogram's bucket of it).
    fn at(t: &Tally, ms: u64) -> u64 {
        let h = t.latency_ns();
        let ns = ms * 1_000_000;
        h.count_between(h.lowest_equivalent(ns), h.highest_equivalent(ns))
    }

    #[test]
    fn reads_hit_in_the_region_and_misses_cross_to_the_master() {
        let t = run(
            env(0.0, 0.0),
            3,
            Op::Read,
            ClientRegion::Slave,
            0.9,
            1000.0,
            0.0,
            0.0,
        );
        assert_eq!(t.successes, TRIALS);
        // A hit is one local round trip (1 ms, 2 messages); a miss adds a cross-region one
        // (11 ms, 4 messages), with probability 1 - hit.
        let (hits, remote) = (t.extras_sum[1] as u64, t.extras_sum[2] as u64);
        assert_eq!(hits + remote, TRIALS);
        assert_rate(remote, TRIALS, 0.1);
        assert_eq!((at(&t, 1), at(&t, 11)), (hits, remote));
        assert_eq!(t.messages_sum, u128::from(2 * TRIALS + 2 * remote));
        assert_eq!(t.rounds_sum, u128::from(TRIALS + remote));
        assert_eq!(t.extras_sum[0], 0);
        // In the master region a miss reads the database next door: 2 ms.
        let t = run(
            env(0.0, 0.0),
            3,
            Op::Read,
            ClientRegion::Master,
            0.9,
            1000.0,
            0.0,
            0.0,
        );
        assert_rate(at(&t, 2), TRIALS, 0.1);
        assert_eq!(at(&t, 1) + at(&t, 2), TRIALS);
    }

    #[test]
    fn writes_go_to_the_master_and_replicate_to_every_other_cache() {
        for nodes in [1u32, 3, 10] {
            for (region, ms) in [(ClientRegion::Slave, 11), (ClientRegion::Master, 2)] {
                let t = run(
                    env(0.0, 0.0),
                    nodes,
                    Op::Write,
                    region,
                    0.9,
                    1000.0,
                    0.0,
                    0.0,
                );
                // With one cache there is only the master region.
                let ms = if nodes == 1 { 2 } else { ms };
                assert_eq!((t.successes, at(&t, ms)), (TRIALS, TRIALS), "{nodes}");
                let messages = 4 + u64::from(nodes - 1);
                assert_eq!(t.messages_sum, u128::from(TRIALS * messages), "{nodes}");
            }
        }
    }

    #[test]
    fn read_after_write_is_stale_at_the_closed_form_without_a_window() {
        // Stale: the read hits the regional cache and the lag exceeds the gap, so
        // P(stale) = hit x exp(-gap / lag).
        for (hit, lag, gap) in [
            (0.95, 1000.0, 100.0),
            (0.95, 1000.0, 1000.0),
            (0.5, 1000.0, 2000.0),
            (1.0, 3000.0, 10.0),
            (0.8, 0.0, 10.0),
        ] {
            let t = run(
                env(0.0, 0.0),
                3,
                Op::ReadAfterWrite,
                ClientRegion::Slave,
                hit,
                lag,
                0.0,
                gap,
            );
            let p = if lag > 0.0 {
                hit * f64::exp(-gap / lag)
            } else {
                0.0
            };
            let stale = t.extras_sum[0] as u64;
            assert_rate(stale, TRIALS, p);
            assert_eq!(t.successes, TRIALS - stale);
            // The successes' latencies are the read's: 1 ms fresh hits, 11 ms misses.
            let remote = t.extras_sum[2] as u64;
            assert_rate(remote, TRIALS, 1.0 - hit);
            assert_eq!((at(&t, 1), at(&t, 11)), (TRIALS - stale - remote, remote));
            // The write's 4 + 2 messages and the read's 2 or 4.
            assert_eq!(t.messages_sum, u128::from(8 * TRIALS + 2 * remote));
        }
    }

    #[test]
    fn the_window_sends_reads_to_the_master_and_none_is_stale() {
        // gap < window: every read crosses to the master (10 ms, 2 messages), none stale.
        let t = run(
            env(0.0, 0.0),
            3,
            Op::ReadAfterWrite,
            ClientRegion::Slave,
            0.95,
            1000.0,
            5000.0,
            100.0,
        );
        assert_eq!((t.successes, t.extras_sum[0]), (TRIALS, 0));
        assert_eq!((t.extras_sum[2], at(&t, 10)), (u128::from(TRIALS), TRIALS));
        assert_eq!(t.messages_sum, u128::from(8 * TRIALS));
        // gap >= window: the window is over, the read is local again and may be stale.
        let t = run(
            env(0.0, 0.0),
            3,
            Op::ReadAfterWrite,
            ClientRegion::Slave,
            0.95,
            1000.0,
            100.0,
            100.0,
        );
        assert_rate(t.extras_sum[0] as u64, TRIALS, 0.95 * f64::exp(-0.1));
        // In the master region the write is the master's at once: never stale.
        let t = run(
            env(0.0, 0.0),
            3,
            Op::ReadAfterWrite,
            ClientRegion::Master,
            0.95,
            1000.0,
            0.0,
            100.0,
        );
        assert_eq!((t.successes, t.extras_sum[0]), (TRIALS, 0));
    }

    #[test]
    fn lost_messages_and_down_caches_fail_the_read() {
        // A hit needs its two messages and node 0 up; a miss also the master's round trip.
        let (crash, loss, hit) = (0.05, 0.02, 0.7);
        let trip = (1.0 - crash) * (1.0 - loss) * (1.0 - loss);
        let t = run(
            env(crash, loss),
            3,
            Op::Read,
            ClientRegion::Slave,
            hit,
            1000.0,
            0.0,
            0.0,
        );
        assert_rate(t.successes, TRIALS, trip * (hit + (1.0 - hit) * trip));
    }
}
