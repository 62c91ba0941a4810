//! Quorum reads and writes: how often a partial quorum returns the latest value.
//!
//! Dynamo-style stores write to N replicas and acknowledge after W, read from N and answer
//! after R. With R + W > N every read quorum overlaps every write quorum, so a read issued
//! after a write commits sees it. With R + W <= N (partial quorums: lower latency, higher
//! availability) a read may miss the write, but the write keeps propagating, so the chance
//! of a stale read falls quickly with the time t since the write committed. The WARS model
//! of Probabilistically Bounded Staleness (Bailis et al., VLDB 2012) measures that chance
//! from four delay distributions: Write to a replica, its Ack, Read request, read reSponse.

use rand::RngExt;

use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, QuorumRule, Value, kth_smallest,
};
use crate::latency::{Exponential, Latency, Mixture, NS_PER_MS, Pareto};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial (the WARS model): a coordinator (the client) sends a write to N replicas
(nodes 0..N); replica i has it W_i after the send and acknowledges it, the Ack taking A_i.
The write commits at C, the w-th fastest W_i + A_i. A read is issued at C + t (t = t_ms): its
request reaches replica i at C + t + R_i and the response returns after S_i; the read takes
the first r responses. Replica i's response is fresh if W_i <= C + t + R_i. Each replica is
crashed with probability crash for the whole trial; each message is lost independently with
probability loss (a replica that missed the write is never fresh).
Delays: wars = \"latency\" draws W, A, R and S from the cell's latency model; the presets
are the production fits of the PBS work (LNKD-SSD, LNKD-DISK, YMMR, and WAN: LNKD-DISK plus
75 ms each way to every replica but one in the coordinator's datacenter, picked at random for
the write and again for the read).
Success: the read returns the latest value (t-visibility; always at t = 0 when r + w > N).
Latency: the read's latency (the r-th fastest R_i + S_i).
Messages: N writes, acknowledgements, N read requests, responses. Rounds: 2.
stale: reads that returned an old value. write_latency_ns: C, the write's latency (0 if
the write failed)."
    };
}

/// The W, A, R and S delay models of a PBS production fit.
#[derive(Debug, Clone)]
pub struct Wars {
    write: Latency,
    ack: Latency,
    read: Latency,
    response: Latency,
    /// Extra one-way delay to and from every replica but the coordinator's local one (the
    /// WAN preset).
    remote_ns: u64,
}

fn pareto_exp(pareto_weight: f64, xm_ms: f64, alpha: f64, lambda_per_ms: f64) -> Latency {
    let pareto = Pareto::new(xm_ms, alpha).expect("valid preset").into();
    let exp = Exponential::new(1.0 / lambda_per_ms)
        .expect("valid preset")
        .into();
    Mixture::new(vec![(pareto_weight, pareto), (1.0 - pareto_weight, exp)])
        .expect("valid preset")
        .into()
}

impl Wars {
    fn uniform(latency: Latency) -> Self {
        Self {
            write: latency.clone(),
            ack: latency.clone(),
            read: latency.clone(),
            response: latency,
            remote_ns: 0,
        }
    }

    /// A production fit of the PBS work, by name: `lnkd-ssd`, `lnkd-disk`, `ymmr`, `wan`; the
    /// parameters of the PBS simulator's delay models (ms; exponentials by their rate).
    pub fn preset(name: &str) -> Option<Self> {
        let ssd = || pareto_exp(0.9122, 0.235, 10.0, 1.66);
        let disk_write = || pareto_exp(0.38, 1.05, 1.51, 0.183);
        Some(match name {
            "lnkd-ssd" => Self::uniform(ssd()),
            "lnkd-disk" | "wan" => Self {
                write: disk_write(),
                ack: ssd(),
                read: ssd(),
                response: ssd(),
                remote_ns: if name == "wan" {
                    (75.0 * NS_PER_MS) as u64
                } else {
                    0
                },
            },
            "ymmr" => {
                let ars = || pareto_exp(0.982, 1.5, 3.8, 0.0217);
                Self {
                    write: pareto_exp(0.939, 3.0, 3.5, 0.0028),
                    ack: ars(),
                    read: ars(),
                    response: ars(),
                    remote_ns: 0,
                }
            }
            _ => return None,
        })
    }

    fn extra(&self, replica: u32, local: u32) -> u64 {
        if replica == local { 0 } else { self.remote_ns }
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Exponential;
/// use coordsim::protocols::{Env, Protocol, QuorumRw, Status, Wars};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Exponential::new(1.0).unwrap().into()).unwrap();
/// let strict = QuorumRw::new(env, 3, 2, 2, 0.0, Wars::preset("lnkd-disk")).unwrap();
/// let outcome = strict.trial(&mut stream(1, 0, 0), &mut strict.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// ```
#[derive(Debug, Clone)]
pub struct QuorumRw {
    env: Env,
    nodes: u32,
    r: u32,
    w: u32,
    t_ns: u64,
    /// A PBS fit, or None to draw every delay from the environment's latency model.
    wars: Option<Wars>,
}

/// A replica that is down for the trial (it answers nothing).
const DOWN: u64 = u64::MAX;
/// A replica that is up but never got the write (it answers reads with the old value).
const MISSED: u64 = u64::MAX - 1;

impl QuorumRw {
    /// N = `nodes` replicas, read quorum `r`, write quorum `w`, a read `t_ms` after commit;
    /// delays from `wars`, or from `env` when None.
    pub fn new(
        env: Env,
        nodes: u32,
        r: u32,
        w: u32,
        t_ms: f64,
        wars: Option<Wars>,
    ) -> Result<Self, ModelError> {
        for (name, k) in [("r", r), ("w", w)] {
            if k == 0 || k > nodes {
                return Err(ModelError::new(
                    name,
                    format!("{name} = {k} is outside [1, nodes = {nodes}]"),
                ));
            }
        }
        if !(t_ms.is_finite() && t_ms >= 0.0) {
            return Err(ModelError::new("t_ms", "must be a finite number >= 0"));
        }
        Ok(Self {
            env,
            nodes,
            r,
            w,
            t_ns: (t_ms * NS_PER_MS) as u64,
            wars,
        })
    }

    /// One delay between the coordinator and `replica`: from the fit's `pick`, or the network.
    fn delay(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        pick: fn(&Wars) -> &Latency,
        replica: u32,
        local: u32,
    ) -> u64 {
        match &self.wars {
            Some(wars) => pick(wars).sample_ns(rng) + wars.extra(replica, local),
            None => net.delay_ns(rng, CLIENT, replica),
        }
    }

    /// The replica in the coordinator's datacenter, for the write and for the read: chosen
    /// at random per operation when remote replicas cost extra, else node 0.
    fn locals(&self, rng: &mut SimRng) -> (u32, u32) {
        match &self.wars {
            Some(wars) if wars.remote_ns > 0 => (
                rng.random_range(0..self.nodes),
                rng.random_range(0..self.nodes),
            ),
            _ => (0, 0),
        }
    }
}

/// Per replica: when it got the write (or [`DOWN`], [`MISSED`]); the acks; the responses.
#[derive(Debug, Default)]
pub struct QuorumRwScratch {
    written: Vec<u64>,
    acks: Vec<u64>,
    responses: Vec<(u64, bool)>,
}

impl Protocol for QuorumRw {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "stale",
            doc: "reads that returned a value older than the committed write",
        },
        Extra {
            name: "write_latency_ns",
            doc: "the write's latency: its w-th acknowledgement, in ns",
        },
    ];
    type Scratch = QuorumRwScratch;

    fn scratch(&self) -> QuorumRwScratch {
        let n = self.nodes as usize;
        QuorumRwScratch {
            written: vec![DOWN; n],
            acks: Vec::with_capacity(n),
            responses: Vec::with_capacity(n),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut QuorumRwScratch) -> Outcome {
        let net = self.env.begin(rng);
        let (write_local, read_local) = self.locals(rng);
        let mut messages = u64::from(self.nodes);
        let mut extras = [0; MAX_EXTRAS];
        s.acks.clear();
        for replica in 0..self.nodes {
            let i = replica as usize;
            if !net.up(rng, replica) {
                s.written[i] = DOWN;
                continue;
            }
            if net.lost(rng, CLIENT, replica) {
                s.written[i] = MISSED;
                continue;
            }
            let w = self.delay(rng, &net, |x| &x.write, replica, write_local);
            s.written[i] = w;
            messages += 1;
            if !net.lost(rng, replica, CLIENT) {
                s.acks
                    .push(w + self.delay(rng, &net, |x| &x.ack, replica, write_local));
            }
        }
        let w = self.w as usize;
        if s.acks.len() < w {
            return Outcome::failure(messages, 1).with_extras(extras);
        }
        let commit = kth_smallest(&mut s.acks, w);
        extras[1] = commit;
        let read_at = commit + self.t_ns;
        messages += u64::from(self.nodes);
        s.responses.clear();
        for replica in 0..self.nodes {
            let written = s.written[replica as usize];
            if written == DOWN || net.lost(rng, CLIENT, replica) {
                continue;
            }
            messages += 1;
            let arrives = read_at + self.delay(rng, &net, |x| &x.read, replica, read_local);
            if net.lost(rng, replica, CLIENT) {
                continue;
            }
            let back = arrives + self.delay(rng, &net, |x| &x.response, replica, read_local);
            s.responses
                .push((back - read_at, written != MISSED && written <= arrives));
        }
        let r = self.r as usize;
        if s.responses.len() < r {
            return Outcome::failure(messages, 2).with_extras(extras);
        }
        s.responses.select_nth_unstable(r - 1);
        let latency = s.responses[..r].iter().map(|x| x.0).max().unwrap_or(0);
        let fresh = s.responses[..r].iter().any(|x| x.1);
        if fresh {
            Outcome::success(latency, messages, 2).with_extras(extras)
        } else {
            extras[0] = 1;
            Outcome::failure(messages, 2).with_extras(extras)
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "quorum-rw",
    summary: "Dynamo-style N/R/W reads after writes: t-visibility by the PBS WARS model",
    model: model!(),
    params: &[
        ParamSpec {
            name: "r",
            kind: ParamKind::Quorum,
            default: Value::Quorum(QuorumRule::Fixed(1)),
            doc: "read quorum: responses the read waits for",
        },
        ParamSpec {
            name: "w",
            kind: ParamKind::Quorum,
            default: Value::Quorum(QuorumRule::Fixed(1)),
            doc: "write quorum: acknowledgements before the write commits",
        },
        ParamSpec {
            name: "t_ms",
            kind: ParamKind::Millis { zero_ok: true },
            default: Value::Millis(0.0),
            doc: "time from the write's commit to the read",
        },
        ParamSpec {
            name: "wars",
            kind: ParamKind::Choice(&["latency", "lnkd-ssd", "lnkd-disk", "ymmr", "wan"]),
            default: Value::Choice("latency"),
            doc: "W/A/R/S delays: the cell's latency model, or a PBS production fit",
        },
    ],
    extras: QuorumRw::EXTRAS,
    build: |cell| {
        let wars = match cell.choice("wars") {
            "latency" => None,
            name => Some(Wars::preset(name).expect("every other choice is a preset")),
        };
        Ok(Box::new(QuorumRw::new(
            cell.env()?,
            cell.nodes,
            cell.quorum("r").resolve(cell.nodes),
            cell.quorum("w").resolve(cell.nodes),
            cell.millis("t_ms"),
            wars,
        )?))
    },
};

#[cfg(test)]
mod tests {
    use crate::protocols::tests::run;

    #[test]
    fn overlapping_quorums_are_always_consistent() {
        for wars in ["latency", "lnkd-ssd", "lnkd-disk", "ymmr", "wan"] {
            for (n, r, w) in [(3, 2, 2), (5, 1, 5), (5, 3, 3), (7, 4, 4)] {
                let grid = format!("nodes = {n}\nr = {r}\nw = {w}\nwars = \"{wars}\"");
                let tally = run("quorum-rw", &grid, "", 20_000);
                assert_eq!(tally.successes, 20_000, "{wars} N={n} R={r} W={w}");
            }
        }
    }

    #[test]
    fn partial_quorums_are_stale_at_first_and_converge() {
        // N = 3, R = W = 1 on LNKD-DISK: some reads right after the commit are stale; 100 ms
        // later fewer are, and 10 s later none is.
        let stale = |t_ms: f64| {
            let grid = format!("nodes = 3\nwars = \"lnkd-disk\"\nt_ms = {t_ms}");
            let tally = run("quorum-rw", &grid, "", 200_000);
            tally.extras_sum[0] as u64
        };
        let (at_0, at_100, at_10s) = (stale(0.0), stale(100.0), stale(10_000.0));
        assert!(at_0 > 1_000, "{at_0}");
        assert!(at_100 < at_0 / 2, "{at_100} vs {at_0}");
        assert!(at_10s <= at_100, "{at_10s}");
    }
}
