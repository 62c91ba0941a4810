//! The failure and delay environment of a cell: crashes, zones, partitions, loss, regions.
//!
//! Nodes are numbered `0..N`. A client or coordinator that sits outside the N nodes is
//! [`CLIENT`]: it never crashes, is on the majority side of a partition, and is in region 0.
//! Node `i` is in zone `i % zones` and region `i % regions`.

use super::ModelError;
use crate::latency::Latency;
use crate::rng::{Chance, SimRng, mix64};

/// The node id of a client or coordinator outside the N nodes.
pub const CLIENT: u32 = u32::MAX;

/// Most failure zones a cell may have.
pub const MAX_ZONES: u32 = 64;

/// What [`Net::exchange`] observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// When the first acknowledgement arrived, if before the sender gave up.
    pub ack_ns: Option<u64>,
    /// Requests and acknowledgements sent.
    pub messages: u64,
    /// Requests sent.
    pub attempts: u32,
    /// Requests that reached the receiver (more than one means duplicates).
    pub delivered: u32,
}

/// The failure and delay model that every protocol of a cell shares.
///
/// Per trial: each of `zones` zones fails with probability `zone_crash`, taking its nodes
/// down; on top, each node crashes independently with probability `crash`; with probability
/// `partition` the nodes split in two at random (each node on either side with probability
/// 1/2, the client on side 0) and every message across the cut is lost; every other message
/// is lost independently with probability `loss`. A down node sends and answers nothing for
/// the whole trial. One-way delays are iid draws from `latency`, or from `cross` between
/// nodes of different regions.
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::model::{CLIENT, Env};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap()
///     .with_regions(2, Some(Constant::new(40.0).unwrap().into())).unwrap();
/// let mut rng = stream(1, 0, 0);
/// let net = env.begin(&mut rng);
/// assert_eq!(net.round_trip_ns(&mut rng, CLIENT, 0), 2_000_000);
/// assert_eq!(net.round_trip_ns(&mut rng, CLIENT, 1), 80_000_000);
/// assert!(net.up(&mut rng, 3));
/// ```
#[derive(Debug, Clone)]
pub struct Env {
    crash: Chance,
    loss: Chance,
    latency: Latency,
    cross: Option<Latency>,
    regions: u32,
    zones: u32,
    zone_crash: Chance,
    partition: Chance,
    persist: Option<Latency>,
    process: Option<Latency>,
}

/// One trial's draw of correlated failures, through which a protocol sends its messages.
#[derive(Debug, Clone, Copy)]
pub struct Net<'a> {
    env: &'a Env,
    zones_down: u64,
    cut: u64,
}

impl Env {
    /// Nodes crash with probability `crash`, messages are lost with probability `loss`, every
    /// delay is drawn from `latency`; no zones, partitions or regions.
    pub fn new(crash: f64, loss: f64, latency: Latency) -> Result<Self, ModelError> {
        Ok(Self {
            crash: Chance::new(crash).map_err(|e| ModelError::new("crash", e))?,
            loss: Chance::new(loss).map_err(|e| ModelError::new("loss", e))?,
            latency,
            cross: None,
            regions: 1,
            zones: 1,
            zone_crash: Chance::new(0.0).expect("0 is a probability"),
            partition: Chance::new(0.0).expect("0 is a probability"),
            persist: None,
            process: None,
        })
    }

    /// Time at the nodes: `persist` is the time of one durable write (an fsync), `process`
    /// the time to handle one received message. Each is drawn afresh, independently, every
    /// time a protocol that models it persists or handles a message; `None` is no time.
    /// Protocols apply them at the steps their model text names (those that name none ignore
    /// them).
    pub fn with_node_time(mut self, persist: Option<Latency>, process: Option<Latency>) -> Self {
        self.persist = persist;
        self.process = process;
        self
    }

    /// Whether a durable write or the handling of a message takes time.
    pub fn has_node_time(&self) -> bool {
        self.persist.is_some() || self.process.is_some()
    }

    /// The model of a durable write's time, if set.
    pub fn persist(&self) -> Option<&Latency> {
        self.persist.as_ref()
    }

    /// The model of the time to handle a message, if set.
    pub fn process(&self) -> Option<&Latency> {
        self.process.as_ref()
    }

    /// `(persist, process)` in nanoseconds when neither varies (an unset model is 0, a
    /// constant one its value); `None` when either is random. A protocol adds such times to
    /// its round trips as constants, so direct sampling stays exact.
    pub fn constant_node_time(&self) -> Option<(u64, u64)> {
        let ns = |model: &Option<Latency>| match model {
            None => Some(0),
            Some(Latency::Constant(c)) => Some(c.ns()),
            Some(_) => None,
        };
        Some((ns(&self.persist)?, ns(&self.process)?))
    }

    /// Nodes spread round-robin over `zones` zones, each failing with probability `zone_crash`.
    pub fn with_zones(mut self, zones: u32, zone_crash: f64) -> Result<Self, ModelError> {
        if !(1..=MAX_ZONES).contains(&zones) {
            return Err(ModelError::new(
                "zones",
                format!("zones = {zones} is outside [1, {MAX_ZONES}]"),
            ));
        }
        self.zones = zones;
        self.zone_crash = Chance::new(zone_crash).map_err(|e| ModelError::new("zone_crash", e))?;
        Ok(self)
    }

    /// A partition in two halves with probability `partition` per trial.
    pub fn with_partition(mut self, partition: f64) -> Result<Self, ModelError> {
        self.partition = Chance::new(partition).map_err(|e| ModelError::new("partition", e))?;
        Ok(self)
    }

    /// Nodes spread round-robin over `regions` regions; `cross` is the delay between regions
    /// (required when `regions > 1`).
    pub fn with_regions(
        mut self,
        regions: u32,
        cross: Option<Latency>,
    ) -> Result<Self, ModelError> {
        if regions == 0 {
            return Err(ModelError::new("regions", "needs at least one region"));
        }
        if regions > 1 && cross.is_none() {
            return Err(ModelError::new(
                "cross_latency",
                "regions > 1 needs a cross-region latency model (grid.cross_latency)",
            ));
        }
        self.regions = regions;
        self.cross = if regions > 1 { cross } else { None };
        Ok(self)
    }

    /// True when every node and message is independent and alike: no zones, partitions or
    /// regions. Models may then sample order statistics directly instead of node by node.
    pub fn is_iid(&self) -> bool {
        self.zone_crash.is_never() && self.partition.is_never() && self.regions == 1
    }

    /// The per-node crash probability.
    pub fn crash(&self) -> Chance {
        self.crash
    }

    /// The per-message loss probability.
    pub fn loss(&self) -> Chance {
        self.loss
    }

    /// The delay model between nodes of one region.
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    /// Draws this trial's zone failures and partition; draws nothing when there are none.
    #[inline(always)]
    pub fn begin(&self, rng: &mut SimRng) -> Net<'_> {
        let mut zones_down = 0u64;
        if !self.zone_crash.is_never() {
            for zone in 0..self.zones {
                if self.zone_crash.happens(rng) {
                    zones_down |= 1 << zone;
                }
            }
        }
        let mut cut = 0;
        if self.partition.happens(rng) {
            // A nonzero key: node i is on side mix64(key ^ i) & 1.
            cut = rand::Rng::next_u64(rng) | 1;
        }
        Net {
            env: self,
            zones_down,
            cut,
        }
    }
}

impl Net<'_> {
    /// The environment.
    pub fn env(&self) -> &Env {
        self.env
    }

    /// Whether `node` is up for this trial: its zone is up and it did not crash.
    #[inline(always)]
    pub fn up(&self, rng: &mut SimRng, node: u32) -> bool {
        if node == CLIENT {
            return true;
        }
        if self.zones_down != 0 && self.zones_down & (1 << (node % self.env.zones)) != 0 {
            return false;
        }
        !self.env.crash.happens(rng)
    }

    /// Draws whether each of nodes `0..up.len()` is up, in node order, into `up`; returns how
    /// many are.
    #[inline]
    pub fn up_each(&self, rng: &mut SimRng, up: &mut [bool]) -> u64 {
        let mut live = 0;
        for (node, up) in (0u32..).zip(up.iter_mut()) {
            *up = self.up(rng, node);
            live += u64::from(*up);
        }
        live
    }

    /// Whether this trial has a partition.
    pub fn partitioned(&self) -> bool {
        self.cut != 0
    }

    /// The partition side of `node` (always 0 without a partition, and for [`CLIENT`]).
    #[inline(always)]
    pub fn side(&self, node: u32) -> u64 {
        if self.cut == 0 || node == CLIENT {
            0
        } else {
            mix64(self.cut ^ u64::from(node)) & 1
        }
    }

    /// Whether a message from `from` to `to` is lost: it crosses the partition, or the
    /// network drops it.
    #[inline(always)]
    pub fn lost(&self, rng: &mut SimRng, from: u32, to: u32) -> bool {
        (self.cut != 0 && self.side(from) != self.side(to)) || self.env.loss.happens(rng)
    }

    /// One one-way delay from `from` to `to`, in nanoseconds.
    #[inline(always)]
    pub fn delay_ns(&self, rng: &mut SimRng, from: u32, to: u32) -> u64 {
        match &self.env.cross {
            Some(cross) if region(from, self.env.regions) != region(to, self.env.regions) => {
                cross.sample_ns(rng)
            }
            _ => self.env.latency.sample_ns(rng),
        }
    }

    /// One durable write's time, in nanoseconds: 0 (and nothing drawn) without a model.
    #[inline(always)]
    pub fn persist_ns(&self, rng: &mut SimRng) -> u64 {
        match &self.env.persist {
            Some(persist) => persist.sample_ns(rng),
            None => 0,
        }
    }

    /// The time to handle one received message, in nanoseconds: 0 (and nothing drawn)
    /// without a model.
    #[inline(always)]
    pub fn process_ns(&self, rng: &mut SimRng) -> u64 {
        match &self.env.process {
            Some(process) => process.sample_ns(rng),
            None => 0,
        }
    }

    /// A request from `a` to `b` and its reply: two independent one-way delays (their sum
    /// saturating, should a heavy tail draw near 2^64 ns).
    #[inline(always)]
    pub fn round_trip_ns(&self, rng: &mut SimRng, a: u32, b: u32) -> u64 {
        // Both ways cross regions or neither. The match repeats `delay_ns`'s on purpose: a
        // helper returning the model cost the per-node quorum 6.9% more instructions.
        match &self.env.cross {
            Some(cross) if region(a, self.env.regions) != region(b, self.env.regions) => {
                cross.round_trip_ns(rng)
            }
            _ => self.env.latency.round_trip_ns(rng),
        }
    }

    /// A request from `from` to `to` retransmitted every `timeout_ns` until an
    /// acknowledgement arrives, at most `max_attempts` times; the sender gives up
    /// `max_attempts * timeout_ns` after the first send. The receiver, if up, acknowledges
    /// every request it gets, so a slow acknowledgement of an early attempt still counts.
    /// Messages: every request and every acknowledgement.
    ///
    /// Loops until acknowledged when `max_attempts` is large: callers ensure that the message
    /// can get through (`loss < 1`, no partition between the two).
    #[inline]
    pub fn exchange(
        &self,
        rng: &mut SimRng,
        from: u32,
        to: u32,
        receiver_up: bool,
        timeout_ns: u64,
        max_attempts: u32,
    ) -> Exchange {
        if !receiver_up || (self.cut != 0 && self.side(from) != self.side(to)) {
            return Exchange {
                ack_ns: None,
                messages: max_attempts.into(),
                attempts: max_attempts,
                delivered: 0,
            };
        }
        let mut first_ack = u64::MAX;
        let mut messages = 0;
        let mut attempts = 0;
        let mut delivered = 0;
        while attempts < max_attempts {
            let start = u64::from(attempts).saturating_mul(timeout_ns);
            if first_ack <= start {
                break;
            }
            attempts += 1;
            messages += 1;
            if self.env.loss.happens(rng) {
                continue;
            }
            delivered += 1;
            messages += 1;
            if self.env.loss.happens(rng) {
                continue;
            }
            first_ack = first_ack.min(start.saturating_add(self.round_trip_ns(rng, from, to)));
        }
        let deadline = u64::from(max_attempts).saturating_mul(timeout_ns);
        Exchange {
            ack_ns: (first_ack <= deadline).then_some(first_ack),
            messages,
            attempts,
            delivered,
        }
    }
}

#[inline(always)]
fn region(node: u32, regions: u32) -> u32 {
    if node == CLIENT { 0 } else { node % regions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Constant;
    use crate::model::stats::assert_rate;
    use crate::rng::stream;

    fn env() -> Env {
        Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap()
    }

    #[test]
    fn zones_fail_together() {
        let env = env().with_zones(4, 0.25).unwrap();
        let mut rng = stream(3, 0, 0);
        let trials = 100_000;
        let (mut same, mut down) = (0, 0);
        for _ in 0..trials {
            let net = env.begin(&mut rng);
            // Nodes 1 and 5 share zone 1: they are down together, or up together.
            let (a, b) = (net.up(&mut rng, 1), net.up(&mut rng, 5));
            same += u64::from(a == b);
            down += u64::from(!a);
        }
        assert_eq!(same, trials);
        assert_rate(down, trials, 0.25);
    }

    #[test]
    fn partitions_split_nodes_at_random_and_cut_messages() {
        let env = env().with_partition(1.0).unwrap();
        let mut rng = stream(4, 0, 0);
        let trials = 100_000;
        let mut cut = 0;
        for _ in 0..trials {
            let net = env.begin(&mut rng);
            assert!(net.partitioned());
            let crosses = net.side(CLIENT) != net.side(7);
            assert_eq!(net.lost(&mut rng, CLIENT, 7), crosses);
            cut += u64::from(crosses);
        }
        assert_rate(cut, trials, 0.5);
        let quiet = env.clone().with_partition(0.0).unwrap();
        let before = rng.clone();
        let net = quiet.begin(&mut rng);
        assert!(!net.partitioned() && net.up(&mut rng, 3));
        assert_eq!(before, rng, "nothing is drawn when nothing can fail");
        assert!(quiet.is_iid() && !env.is_iid());
    }

    #[test]
    fn heavy_tails_saturate_instead_of_overflowing() {
        // P(X > x) = (1 ms / x)^0.2: one draw in 10^4 is beyond 10^20 ms, far past 2^64 ns.
        // Quorum over one replica, each node simulated: the latency is one round trip, two
        // such draws added.
        let pareto = "kind = \"pareto\"\nscale_ms = 1\nshape = 0.2";
        let trials = 200_000;
        let tally = crate::protocols::tests::run(
            "quorum",
            "nodes = 1\nsampling = \"per-node\"",
            pareto,
            trials,
        );
        assert_eq!(tally.trials(), trials);
        assert_eq!(tally.successes, trials);
        // Some round trips hit the ceiling of two longest draws.
        let ceiling = 2 * crate::latency::MAX_DRAW_NS;
        assert_eq!(tally.latency_max_ns, ceiling);
        // Every protocol, in every environment, with the same tail: no overflow anywhere.
        for p in crate::protocols::BUILTIN {
            let grid = "nodes = [1, 4]\ncrash = 0.1\nloss = 0.1\nregions = [1, 2]\n\
                        cross_latency = \"l\"";
            let text = format!(
                "name = \"tails\"\nseed = 3\ntrials = 3000\n[grid]\nprotocol = \"{}\"\n\
                 latency = \"l\"\n{grid}\n[latency.l]\n{pareto}\n",
                p.name
            );
            let sweep = crate::sweep::Sweep::parse(&text, "tails.toml").unwrap();
            let cells =
                crate::engine::run_all(&sweep, &crate::engine::RunOptions::default()).unwrap();
            assert!(cells.iter().all(|c| c.tally.trials() == 3000), "{}", p.name);
        }
    }

    #[test]
    fn node_time_is_zero_and_draws_nothing_without_a_model() {
        let plain = env();
        let mut rng = stream(5, 0, 0);
        let before = rng.clone();
        let net = plain.begin(&mut rng);
        assert_eq!((net.persist_ns(&mut rng), net.process_ns(&mut rng)), (0, 0));
        assert_eq!(before, rng);
        assert!(!plain.has_node_time());
        let timed = env().with_node_time(
            Some(Constant::new(2.0).unwrap().into()),
            Some(Constant::new(0.5).unwrap().into()),
        );
        let net = timed.begin(&mut rng);
        assert_eq!(net.persist_ns(&mut rng), 2_000_000);
        assert_eq!(net.process_ns(&mut rng), 500_000);
        assert!(timed.has_node_time());
        assert_eq!(plain.constant_node_time(), Some((0, 0)));
        assert_eq!(timed.constant_node_time(), Some((2_000_000, 500_000)));
        let random = env().with_node_time(
            None,
            Some(crate::latency::tests::parse("kind = \"exponential\"\nmean_ms = 1").unwrap()),
        );
        assert_eq!(random.constant_node_time(), None);
    }

    #[test]
    fn regions_need_a_cross_latency() {
        assert_eq!(
            env().with_regions(2, None).unwrap_err().param,
            "cross_latency"
        );
        assert!(env().with_regions(1, None).unwrap().is_iid());
    }
}
