//! Gossip: epidemic dissemination in synchronous rounds.
//!
//! Instead of one node telling everyone, every node that knows tells a few random others
//! (push), every node asks a few random others (pull), or both (push-pull). No node does more
//! than a constant amount of work per round, and the rumor reaches all N nodes in O(log N)
//! rounds: push with one call per round needs log2 N + ln N + O(1) rounds (Frieze and
//! Grimmett 1985, Pittel 1987), push-pull log3 N + O(log log N) (Karp, Schindelhauer, Shenker
//! and Vöcking 2000). The price is redundancy: O(N log N) messages where N - 1 would do.

use rand::{Rng, RngExt};

use super::direct::{self, Count, Sampling};
use super::{
    Choice, Env, ModelError, Net, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, Sampler,
    Setting, Value, choice,
};
use crate::latency::NS_PER_MS;
use crate::order;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: node 0 knows a rumor at round 0; in every synchronous round each live node
calls `fanout` targets chosen uniformly among the other N - 1 nodes. push: each informed node
sends the rumor to its targets. pull: each node asks its targets, which answer (with the
rumor if they had it at the start of the round). push-pull: each call carries the rumor both
ways. Nodes informed in a round start spreading in the next. Node 0 is up; every other node
is down for the whole trial with probability crash, or with its zone (zones, zone_crash); with
probability partition the nodes split in two and every message across the cut is lost; each
other message is lost independently with probability loss. The latency model plays no part:
every round lasts round_ms.
Success: every live node is informed within max_rounds rounds (a partition or loss can make
that impossible: a failure at the cap).
Latency: rounds x round_ms.
Messages: push: one per call; pull and push-pull: a request per call and a reply from each
live target that got it; counted until every live node is informed (or the cap).
Rounds: rounds played.
Sampling: direct (the default, when nodes and messages are alike: no zones, partitions or
regions) draws each round's counts from their exact distributions instead of a target per
call, so a trial costs a handful of draws per round (times the fanout for pull and
push-pull), which barely grows with N. push: the calls that reach a live uninformed node and
survive loss, one binomial count, and how many distinct nodes they inform (the occupancy
distribution, drawn exactly: ball by ball when few, otherwise by Poissonizing the calls).
pull: for each of the fanout calls in turn, how many of the still uninformed nodes learn (a
binomial), and how many of all calls reach a live callee and so draw a reply (binomials
given those counts). push-pull: the pushes as in push, then the nodes not pushed to pull as
in pull. Every count is exact, with no approximation; per-node simulates every call."
    };
}

choice! {
    /// Who carries the rumor in a call.
    pub enum Mode {
        /// The caller sends it.
        Push = "push",
        /// The callee answers with it.
        Pull = "pull",
        /// Both.
        PushPull = "push-pull",
    }
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Gossip, GossipMode};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Gossip::new(env, 1000, GossipMode::Push, 1, 100, 10.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!(outcome.status, Status::Success);
/// assert!((10..40).contains(&outcome.rounds));
/// ```
#[derive(Debug, Clone)]
pub struct Gossip {
    env: Env,
    nodes: u32,
    mode: Mode,
    fanout: u32,
    max_rounds: u32,
    round_ns: u64,
}

/// Per node: up or not, and the round it was informed in (`u32::MAX`: not yet).
#[derive(Debug, Default)]
pub struct GossipScratch {
    up: Vec<bool>,
    informed_in: Vec<u32>,
    informed: Vec<u32>,
}

impl Gossip {
    /// Gossip among `nodes` nodes.
    pub fn new(
        env: Env,
        nodes: u32,
        mode: Mode,
        fanout: u32,
        max_rounds: u32,
        round_ms: f64,
    ) -> Result<Self, ModelError> {
        if fanout == 0 {
            return Err(ModelError::new("fanout", "fanout must be at least 1"));
        }
        if !(round_ms.is_finite() && round_ms > 0.0) {
            return Err(ModelError::new("round_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            nodes,
            mode,
            fanout,
            max_rounds,
            round_ns: (round_ms * NS_PER_MS) as u64,
        })
    }

    /// A node other than `caller`, uniformly.
    #[inline(always)]
    fn target(&self, rng: &mut SimRng, caller: u32) -> u32 {
        let t = rng.random_range(0..self.nodes - 1);
        if t >= caller { t + 1 } else { t }
    }

    /// One call from `caller` in `round`; returns (messages, node newly informed).
    #[inline(always)]
    fn call(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        s: &GossipScratch,
        caller: u32,
        round: u32,
    ) -> (u64, Option<u32>) {
        let callee = self.target(rng, caller);
        let knew = |node: u32| s.informed_in[node as usize] < round;
        let (caller_knew, callee_knew) = (knew(caller), knew(callee));
        if !s.up[callee as usize] {
            return (1, None);
        }
        match self.mode {
            Mode::Push => {
                let learns = !callee_knew && s.informed_in[callee as usize] == u32::MAX;
                if learns && !net.lost(rng, caller, callee) {
                    return (1, Some(callee));
                }
                (1, None)
            }
            Mode::Pull | Mode::PushPull => {
                if net.lost(rng, caller, callee) {
                    return (1, None);
                }
                let pushes = self.mode == Mode::PushPull && caller_knew;
                if pushes && s.informed_in[callee as usize] == u32::MAX {
                    return (2, Some(callee));
                }
                let pulls = callee_knew && s.informed_in[caller as usize] == u32::MAX;
                if pulls && !net.lost(rng, callee, caller) {
                    return (2, Some(caller));
                }
                (2, None)
            }
        }
    }
}

impl Protocol for Gossip {
    type Scratch = GossipScratch;

    fn scratch(&self) -> GossipScratch {
        let n = self.nodes as usize;
        GossipScratch {
            up: vec![false; n],
            informed_in: vec![u32::MAX; n],
            informed: Vec::with_capacity(n),
        }
    }

    fn trial(&self, rng: &mut SimRng, s: &mut GossipScratch) -> Outcome {
        let net = self.env.begin(rng);
        s.up[0] = true;
        let mut live = 1;
        for node in 1..self.nodes {
            s.up[node as usize] = net.up(rng, node);
            live += u64::from(s.up[node as usize]);
        }
        s.informed_in.fill(u32::MAX);
        s.informed_in[0] = 0;
        s.informed.clear();
        s.informed.push(0);
        spread!(live, self.max_rounds, self.round_ns, |round, _informed| {
            let before = s.informed.len();
            let mut messages = 0;
            match self.mode {
                Mode::Push => {
                    for i in 0..before {
                        let caller = s.informed[i];
                        messages += self.calls(rng, &net, s, caller, round);
                    }
                }
                Mode::Pull | Mode::PushPull => {
                    for caller in 0..self.nodes {
                        if s.up[caller as usize] {
                            messages += self.calls(rng, &net, s, caller, round);
                        }
                    }
                }
            }
            ((s.informed.len() - before) as u64, messages)
        })
    }
}

impl Gossip {
    /// The `fanout` calls of `caller` in `round`, recording the nodes they inform: returns
    /// their messages.
    #[inline(always)]
    fn calls(
        &self,
        rng: &mut SimRng,
        net: &Net<'_>,
        s: &mut GossipScratch,
        caller: u32,
        round: u32,
    ) -> u64 {
        let mut messages = 0;
        for _ in 0..self.fanout {
            let (m, new) = self.call(rng, net, s, caller, round);
            messages += m;
            if let Some(node) = new {
                s.informed_in[node as usize] = round;
                s.informed.push(node);
            }
        }
        messages
    }
}

/// Rounds of gossip among `live` nodes, node 0 informed at the start, until every one is
/// informed or `max_rounds` were played, each round lasting `round_ns`, and the outcome they
/// give: `spread!(live, max_rounds, round_ns, |round, informed| play)`, where `play` plays
/// round `round` (from 1) from `informed` informed nodes and gives (nodes newly informed,
/// messages). Written once for both samplers, as a macro so that each sampler's loop compiles
/// as if written in place.
macro_rules! spread {
    ($live:expr, $max_rounds:expr, $round_ns:expr, |$round:ident, $informed:ident| $play:expr $(,)?) => {{
        let live: u64 = $live;
        let (mut $informed, mut messages, mut $round) = (1u64, 0u64, 0u32);
        while $informed < live && $round < $max_rounds {
            $round += 1;
            let (new, sent): (u64, u64) = $play;
            $informed += new;
            messages += sent;
        }
        if $informed < live {
            Outcome::failure(messages, $round)
        } else {
            Outcome::success(
                u64::from($round).saturating_mul($round_ns),
                messages,
                $round,
            )
        }
    }};
}
use spread;

/// Gossip sampled directly, every mode: a round draws counts from their exact distributions
/// instead of a target per call, so a trial costs O(rounds) draws (times the fanout for
/// pull and push-pull), not O(N) per round.
///
/// The state at the start of a round is L live nodes (node 0 and `Bin(N - 1, 1 - crash)`
/// others) of which I are informed and U = L - I are not; by symmetry nothing else about it
/// matters. Every call goes to one of the caller's N - 1 others, uniformly, and its request
/// arrives with probability d = 1 - loss when the callee is up. Let
///
/// - q = (L - 1) d / (N - 1): a live node's call reaches a live callee (any caller: L - 1
///   of its others are live);
/// - a = U d / (N - 1): an informed caller's call reaches an uninformed node;
/// - p = I d^2 / (N - 1): an uninformed caller's call reaches a node informed at the start
///   of the round and its reply arrives (a useful pull).
///
/// Calls are independent given the state, and the per-node model's order of calls within a
/// round does not matter: a node informed during a round neither pushes nor answers with the
/// rumor until the next, and whether a request or reply is sent does not depend on who
/// knows what.
///
/// **Push.** Only the I informed nodes call: I f messages. The calls that reach an
/// uninformed node number `A ~ Bin(I f, a)`, each uniform over the U uninformed nodes (an
/// informed caller is never among them), so the newly informed count is the number of
/// distinct bins hit by A balls in U bins ([`distinct`]).
///
/// **Pull.** All L live nodes call f times, and each call is a request plus a reply from a
/// live callee that got it: L f + D messages, with D the calls that reach a live callee,
/// informed or not. Informed callers' calls inform nobody: `Bin(I f, q)` of them reach a
/// callee. An uninformed caller's call is useful (p), reaches a callee without being
/// useful (q - p: useful calls all reach one), or does not (1 - q); the caller learns iff
/// one of its f calls is useful. Taking the calls by their index k = 1..f across the
/// callers still waiting (W_1 = U): `n_k ~ Bin(W_k, p)` learn at call k and
/// W_{k+1} = W_k - n_k; the W_k - n_k other calls reach a callee with probability
/// (q - p) / (1 - p) each; a caller that learned at call k makes f - k further calls, each
/// reaching a callee with probability q. So the newly informed count is sum n_k (marginally
/// `Bin(U, 1 - (1 - p)^f)`), and D adds `Bin(.., q)` and `Bin(.., (q - p) / (1 - p))`
/// draws of those call counts: O(f) binomial draws per round, jointly exact.
///
/// **Push-pull.** Pull's calls and messages, with the informed callers' pushes on top: of
/// their I f calls, `A ~ Bin(I f, a)` reach an uninformed node (and push to it) and
/// `Bin(I f - A, (q - a) / (1 - a))` reach an informed one; the pushed set is a uniform
/// random subset of the uninformed of size P = [`distinct`]`(A, U)`, independent of the
/// uninformed nodes' own calls. The U - P nodes not pushed to then pull as above; the P
/// pushed to make their f P calls, each reaching a callee with probability q. New: P plus
/// the pulls.
///
/// Everything here is exact: the counts follow the per-node model's law, given the same
/// environment, with no approximation (tests compare the two samplers).
#[derive(Debug)]
pub struct Direct {
    mode: Mode,
    nodes: u32,
    fanout: u32,
    max_rounds: u32,
    round_ns: u64,
    live_others: Count,
    delivered: f64,
}

impl Direct {
    /// The model of `Gossip::new(env, nodes, mode, fanout, max_rounds, round_ms)` in an
    /// environment where nodes and messages are alike (`env.is_iid()`), with `nodes > 1`.
    pub fn new(
        env: &Env,
        nodes: u32,
        mode: Mode,
        fanout: u32,
        max_rounds: u32,
        round_ms: f64,
    ) -> Result<Self, ModelError> {
        let model = Gossip::new(env.clone(), nodes, mode, fanout, max_rounds, round_ms)?;
        if nodes < 2 {
            return Err(ModelError::new(
                "nodes",
                "direct gossip needs at least 2 nodes",
            ));
        }
        Ok(Self {
            mode,
            nodes,
            fanout,
            max_rounds,
            round_ns: model.round_ns,
            live_others: Count::new(nodes - 1, 1.0 - env.crash().probability()),
            delivered: 1.0 - env.loss().probability(),
        })
    }

    /// One round of pull or push-pull from `informed` of `live` nodes: (newly informed,
    /// messages).
    #[inline]
    fn exchange_round(&self, rng: &mut SimRng, live: u64, informed: u64) -> (u64, u64) {
        let f = u64::from(self.fanout);
        let (d, others) = (self.delivered, f64::from(self.nodes - 1));
        let uninformed = live - informed;
        let reach = (live - 1) as f64 * d / others;
        let informed_calls = informed * f;
        // The informed callers' calls: pushes to uninformed nodes, and the others that reach
        // a callee.
        let (pushed, mut reached) = match self.mode {
            Mode::PushPull => {
                let to_uninformed = uninformed as f64 * d / others;
                let pushes = order::binomial(rng, informed_calls, to_uninformed);
                // P(reaches an informed callee | does not reach an uninformed one).
                let to_informed = if to_uninformed < 1.0 {
                    ((informed - 1) as f64 * d / others / (1.0 - to_uninformed)).min(1.0)
                } else {
                    0.0
                };
                let rest = order::binomial(rng, informed_calls - pushes, to_informed);
                (distinct(rng, pushes, uninformed), pushes + rest)
            }
            _ => (0, order::binomial(rng, informed_calls, reach)),
        };
        // The uninformed callers not pushed to, call index by call index.
        let useful = informed as f64 * d * d / others;
        let (mut waiting, mut pulled) = (uninformed - pushed, 0u64);
        // Calls whose only question is whether they reach a callee: those of nodes pushed
        // to, and of nodes that already learned by an earlier call.
        let mut free = pushed * f;
        // Calls of waiting nodes that were not useful.
        let mut useless = 0u64;
        for k in 1..=f {
            if waiting == 0 {
                break;
            }
            let learn = order::binomial(rng, waiting, useful);
            useless += waiting - learn;
            free += learn * (f - k);
            waiting -= learn;
            pulled += learn;
        }
        // Useful calls reached their callee; P(reaches | not useful) = (q - p) / (1 - p).
        reached += pulled;
        if useful < 1.0 {
            let given_useless = ((live - 1) as f64 - informed as f64 * d) * d / others;
            reached += order::binomial(rng, useless, (given_useless / (1.0 - useful)).min(1.0));
        }
        reached += order::binomial(rng, free, reach);
        (pushed + pulled, live * f + reached)
    }
}

impl Protocol for Direct {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let live = 1 + u64::from(self.live_others.sample(rng));
        spread!(
            live,
            self.max_rounds,
            self.round_ns,
            |_round, informed| match self.mode {
                Mode::Push => {
                    let calls = informed * u64::from(self.fanout);
                    let uninformed = live - informed;
                    let reach = uninformed as f64 / f64::from(self.nodes - 1) * self.delivered;
                    let hits = order::binomial(rng, calls, reach);
                    (distinct(rng, hits, uninformed), calls)
                }
                Mode::Pull | Mode::PushPull => self.exchange_round(rng, live, informed),
            },
        )
    }

    fn sampler(&self) -> Sampler {
        Sampler::Direct
    }
}

/// Most balls [`distinct`] throws one by one.
const ONE_BY_ONE_MAX: u64 = 256;
/// Most bins [`distinct`] fills by geometric skips when the balls are many.
const SKIP_BINS_MAX: u64 = 16;
/// The largest mean number of balls per bin of one Poissonized throw.
const TAU_MAX: f64 = 4.0;
/// How many standard deviations below the ball count a Poissonized throw aims.
const MARGIN_SD: f64 = 3.0;

/// How many of `bins` bins receive at least one of `balls` balls, each thrown into a bin
/// chosen independently and uniformly (the classical occupancy distribution), drawn
/// exactly in a number of draws that grows about as log log of the balls:
///
/// - up to [`ONE_BY_ONE_MAX`] balls, one by one: with j bins hit, the next ball hits a new
///   one with probability (bins - j) / bins, one 64-bit draw each;
/// - into at most [`SKIP_BINS_MAX`] bins, bin by bin: with j of them hit, the balls up to and
///   including the one that hits the next new bin are geometric (success (bins - j) / bins),
///   one draw per bin;
/// - otherwise Poissonized. If each bin receives an independent `Poisson(tau)` number of
///   balls, the total M is `Poisson(tau bins)` and, given M = m, the balls are m balls
///   thrown uniformly; so the empty bins after M balls have the occupancy law for m balls,
///   whatever the law of M. The bins' counts are drawn class by class (the occupied ones
///   `Bin(bins, 1 - e^-tau)`, then among those with at least j balls the ones with exactly
///   j, `Bin(.., P(X = j | X >= j))`), which gives M and the empty bins Z in a handful of
///   binomial draws. Tau aims M a few standard deviations below `balls`; a draw with
///   M > balls is drawn again (that only conditions on M, which the law of Z given M does
///   not depend on). The remaining balls - M balls then land in the Z empty bins as
///   `Bin(balls - M, Z / bins)` balls uniform over them: the same problem, far smaller.
pub(crate) fn distinct(rng: &mut SimRng, mut balls: u64, mut bins: u64) -> u64 {
    let mut hit = 0;
    loop {
        if balls == 0 || bins == 0 {
            return hit;
        }
        if balls <= ONE_BY_ONE_MAX {
            return hit + one_by_one(rng, balls, bins);
        }
        if bins <= SKIP_BINS_MAX {
            return hit + bin_by_bin(rng, balls, bins);
        }
        let (b, n) = (balls as f64, bins as f64);
        let tau = ((b - MARGIN_SD * b.sqrt()) / n).min(TAU_MAX);
        let (thrown, empty) = loop {
            let (thrown, empty) = poissonized(rng, bins, tau);
            if thrown <= balls {
                break (thrown, empty);
            }
        };
        hit += bins - empty;
        balls = order::binomial(rng, balls - thrown, empty as f64 / n);
        bins = empty;
    }
}

/// [`distinct`], ball by ball.
#[inline]
fn one_by_one(rng: &mut SimRng, balls: u64, bins: u64) -> u64 {
    // A 64-bit draw below (bins - new) 2^64 / bins: probability (bins - new) / bins.
    let scale = (1u128 << 64) / u128::from(bins);
    let mut new = 0u64;
    for _ in 0..balls {
        if u128::from(rng.next_u64()) < u128::from(bins - new) * scale {
            new += 1;
            if new == bins {
                break;
            }
        }
    }
    new
}

/// [`distinct`], new bin by new bin: with j bins hit, the balls that land in them before
/// the next new one are `floor(ln V / ln(j / bins))` for V uniform on (0, 1].
fn bin_by_bin(rng: &mut SimRng, balls: u64, bins: u64) -> u64 {
    // The first ball hits a new bin.
    let (mut left, mut hit) = (balls - 1, 1u64);
    while hit < bins {
        let v = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        let repeats = (v.ln() / (hit as f64 / bins as f64).ln()).floor();
        if repeats >= left as f64 {
            break;
        }
        left -= repeats as u64 + 1;
        hit += 1;
    }
    hit
}

/// Each of `bins` bins receives `Poisson(tau)` balls: (balls in all, empty bins).
fn poissonized(rng: &mut SimRng, bins: u64, tau: f64) -> (u64, u64) {
    let occupied = order::binomial(rng, bins, -(-tau).exp_m1());
    // The bins with at least j balls, j = 1, 2, ...: each adds one ball per such bin.
    let (mut at_least, mut balls, mut j) = (occupied, 0u64, 1u64);
    while at_least > 0 {
        balls += at_least;
        at_least -= order::binomial(rng, at_least, poisson_stop(j, tau));
        j += 1;
    }
    (balls, bins - occupied)
}

/// `P(X = j | X >= j)` for `X ~ Poisson(tau)`: `1 / sum_{k >= 0} tau^k j! / (j + k)!`, a
/// series of positive terms.
fn poisson_stop(j: u64, tau: f64) -> f64 {
    let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, j);
    loop {
        k += 1;
        term *= tau / k as f64;
        sum += term;
        if term <= sum * 1e-17 {
            return 1.0 / sum;
        }
    }
}

/// Rounds before giving up (shared with `crdt-counter`'s anti-entropy).
pub(super) const MAX_ROUNDS: ParamSpec = ParamSpec {
    name: "max_rounds",
    kind: ParamKind::Count {
        min: 1,
        max: 1_000_000,
    },
    default: Value::Count(200),
    doc: "rounds before giving up (a failure)",
};

/// Round length (shared with `crdt-counter`'s anti-entropy).
pub(super) const ROUND_MS: ParamSpec = ParamSpec {
    name: "round_ms",
    kind: ParamKind::Millis { zero_ok: false },
    default: Value::Millis(10.0),
    doc: "length of a round",
};

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "gossip",
    summary: "epidemic spreading in rounds: push, pull or push-pull to random nodes",
    model: model!(),
    params: &[
        ParamSpec {
            name: "mode",
            kind: Mode::KIND,
            default: Value::Choice(Mode::Push.word()),
            doc: "who carries the rumor in a call",
        },
        ParamSpec {
            name: "fanout",
            kind: ParamKind::Count { min: 1, max: 1000 },
            default: Value::Count(1),
            doc: "calls per node per round",
        },
        MAX_ROUNDS,
        ROUND_MS,
        direct::SAMPLING,
    ],
    extras: &[],
    build: |setting| {
        let Params {
            mode,
            fanout,
            max_rounds,
            round_ms,
            sampling,
        } = Params::read(setting);
        let env = setting.env().clone();
        let nodes = setting.nodes;
        if sampling == Sampling::Direct && env.is_iid() && nodes > 1 {
            return Ok(Box::new(Direct::new(
                &env, nodes, mode, fanout, max_rounds, round_ms,
            )?));
        }
        Ok(Box::new(Gossip::new(
            env, nodes, mode, fanout, max_rounds, round_ms,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    mode: Mode,
    fanout: u32,
    max_rounds: u32,
    round_ms: f64,
    sampling: Sampling,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            mode: setting.choice("mode"),
            fanout: setting.count("fanout"),
            max_rounds: setting.count(MAX_ROUNDS.name),
            round_ms: setting.millis(ROUND_MS.name),
            sampling: setting.choice("sampling"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::protocols::tests::run;

    /// Mean rounds and its standard error over `trials` trials, sampled as `sampling` says.
    fn rounds_sampled(mode: &str, nodes: u32, sampling: &str, trials: u64) -> (f64, f64) {
        let tally = run(
            "gossip",
            &format!("nodes = {nodes}\nmode = \"{mode}\"\nsampling = \"{sampling}\""),
            "",
            trials,
        );
        assert_eq!(
            tally.successes, trials,
            "no failures, so every trial completes"
        );
        let h = tally.rounds();
        let mean = tally.rounds_sum as f64 / trials as f64;
        let var = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to() as f64 - mean).powi(2) * v.count_at_value() as f64)
            .sum::<f64>()
            / (trials - 1) as f64;
        (mean, (var / trials as f64).sqrt())
    }

    /// Mean rounds and its standard error, sampled directly.
    fn rounds(mode: &str, nodes: u32, trials: u64) -> (f64, f64) {
        rounds_sampled(mode, nodes, "direct", trials)
    }

    /// E[rounds] and Var[rounds] of a Markov chain on the informed count k that starts at 1
    /// and ends at n, where `new(k)[j]` is the probability that a round from k informs j
    /// more: E[T_k] = (1 + sum_{j>0} P(j) E[T_{k+j}]) / (1 - P(0)), and likewise E[T_k^2]
    /// from T_k = 1 + T_{k+j}.
    fn chain_rounds(n: usize, new: impl Fn(usize) -> Vec<f64>) -> (f64, f64) {
        let (mut e, mut e2) = (vec![0.0f64; n + 1], vec![0.0f64; n + 1]);
        for k in (1..n).rev() {
            let hits = new(k);
            let p0 = hits[0];
            let (mut s1, mut s2) = (0.0, 0.0);
            for j in 1..=n - k {
                s1 += hits[j] * e[k + j];
                s2 += hits[j] * (1.0 + 2.0 * e[k + j] + e2[k + j]);
            }
            e[k] = (1.0 + s1) / (1.0 - p0);
            e2[k] = (p0 * (1.0 + 2.0 * e[k]) + s2) / (1.0 - p0);
        }
        (e[1], e2[1] - e[1] * e[1])
    }

    /// E[rounds] and Var[rounds] of push gossip with fanout 1 and no failures among `n` nodes,
    /// exactly: a Markov chain on the informed count k. In a round each of the k informed
    /// nodes calls one of the n - 1 others uniformly; when j of the u = n - k uninformed nodes
    /// have already been hit this round, a call hits a new one with probability
    /// (u - j) / (n - 1). A DP over the k calls gives the distribution of the hits.
    fn push_rounds_exact(n: usize) -> (f64, f64) {
        let callees = (n - 1) as f64;
        chain_rounds(n, |k| {
            let u = n - k;
            let mut hits = vec![0.0f64; u + 1];
            hits[0] = 1.0;
            for call in 0..k {
                // In place, from the top: hits[j - 1] still holds the previous call's value.
                for j in (0..=u.min(call + 1)).rev() {
                    let stay = hits[j] * (1.0 - (u - j) as f64 / callees);
                    let hit = if j > 0 {
                        hits[j - 1] * (u - j + 1) as f64 / callees
                    } else {
                        0.0
                    };
                    hits[j] = stay + hit;
                }
            }
            hits
        })
    }

    /// `table[m][j]`: the probability that m balls thrown uniformly into `bins` bins hit j
    /// distinct ones, for m up to `balls`, by the recurrence over the balls (positive terms
    /// only): a ball hits a new bin with probability (bins - j) / bins.
    fn occupancy_table(balls: usize, bins: usize) -> Vec<Vec<f64>> {
        let width = balls.min(bins) + 1;
        let mut table = vec![vec![0.0f64; width]];
        table[0][0] = 1.0;
        for m in 0..balls {
            let last = &table[m];
            let mut next = vec![0.0f64; width];
            for j in 0..width.min(m + 2) {
                let stay = last[j] * j as f64 / bins as f64;
                let new = if j > 0 {
                    last[j - 1] * (bins - j + 1) as f64 / bins as f64
                } else {
                    0.0
                };
                next[j] = stay + new;
            }
            table.push(next);
        }
        table
    }

    /// Pull with fanout 1 and no failures: each of the u = n - k uninformed nodes calls one
    /// of its n - 1 others and learns if that one is among the k informed:
    /// `Bin(n - k, k / (n - 1))` new.
    fn pull_rounds_exact(n: usize) -> (f64, f64) {
        chain_rounds(n, |k| {
            crate::order::binomial_pmf((n - k) as u32, k as f64 / (n - 1) as f64)
        })
    }

    /// Push-pull with fanout 1 and no failures: A ~ Bin(k, u / (n - 1)) of the k informed
    /// nodes' calls reach one of the u = n - k uninformed, P = distinct ones among those (the
    /// occupancy law), and each of the u - P others learns by its own call with probability
    /// k / (n - 1).
    fn push_pull_rounds_exact(n: usize) -> (f64, f64) {
        chain_rounds(n, |k| {
            let u = n - k;
            let calls = crate::order::binomial_pmf(k as u32, u as f64 / (n - 1) as f64);
            let occupancy = occupancy_table(k, u);
            let mut new = vec![0.0f64; u + 1];
            for (a, pa) in calls.iter().enumerate() {
                for (pushed, pp) in occupancy[a].iter().enumerate() {
                    let pulls =
                        crate::order::binomial_pmf((u - pushed) as u32, k as f64 / (n - 1) as f64);
                    for (pulled, pl) in pulls.iter().enumerate() {
                        new[pushed + pulled] += pa * pp * pl;
                    }
                }
            }
            new
        })
    }

    #[test]
    fn the_exact_push_chain_reproduces_independent_values() {
        // The same chain computed independently (in Python, double precision), to 4 decimals.
        for (n, expected) in [(16, 7.4138), (100, 12.3045), (300, 15.0648)] {
            let (mean, var) = push_rounds_exact(n);
            assert!((mean - expected).abs() < 1e-4, "n = {n}: {mean}");
            assert!(
                (1.2..1.45).contains(&var.sqrt()),
                "n = {n}: sd {}",
                var.sqrt()
            );
        }
        assert_eq!(
            push_rounds_exact(2),
            (1.0, 0.0),
            "one call informs the other node"
        );
    }

    #[test]
    fn push_rounds_match_the_exact_markov_chain() {
        // The simulated mean within 5 standard errors of the exact mean, with the exact
        // variance: a model one round off (or with a different target rule) fails.
        for (n, trials) in [(16u32, 100_000u64), (100, 40_000), (300, 20_000)] {
            let (exact, var) = push_rounds_exact(n as usize);
            let (mean, _) = rounds("push", n, trials);
            let tolerance = 5.0 * (var / trials as f64).sqrt();
            assert!(
                (mean - exact).abs() <= tolerance,
                "n = {n}: mean {mean} rounds, exact {exact} +- {tolerance}"
            );
        }
    }

    #[test]
    fn push_needs_log2_n_plus_ln_n_rounds() {
        // A secondary, asymptotic check beyond the sizes the exact chain covers: Pittel (1987),
        // rounds = log2 n + ln n + O(1). The exact chain's O(1) term is 0.64, 1.06, 1.13 and
        // 1.16 at n = 16, 100, 300 and 1000, converging; at 10^3 and 10^4 it must lie within a
        // round of the chain's value at 1000 (a loose band: the exact test above is the sharp
        // one).
        let (exact_1000, _) = push_rounds_exact(1_000);
        let limit = exact_1000 - (1_000f64.log2() + 1_000f64.ln());
        for (n, trials) in [(1_000u32, 4_000u64), (10_000, 1_000)] {
            let (mean, se) = rounds("push", n, trials);
            let nf = f64::from(n);
            let x = mean - (nf.log2() + nf.ln());
            assert!(
                (x - limit).abs() <= 1.0 + 5.0 * se,
                "n = {n}: O(1) term {x}, {limit} at n = 1000"
            );
        }
    }

    #[test]
    fn push_pull_needs_log3_n_plus_log_log_n_rounds() {
        // Karp et al. (2000): log3 n + O(log log n) rounds. The excess over log3 n is positive
        // and, divided by ln ln n, does not grow with n.
        let mut ratios = Vec::new();
        for (n, trials) in [
            (16u32, 20_000u64),
            (100, 10_000),
            (1_000, 2_000),
            (10_000, 500),
        ] {
            let (mean, se) = rounds("push-pull", n, trials);
            let nf = f64::from(n);
            let excess = mean - nf.log(3.0);
            assert!(excess + 5.0 * se > 0.0, "n = {n}: {mean} rounds");
            ratios.push((excess / nf.ln().ln(), se / nf.ln().ln()));
        }
        let first = ratios[0];
        for &later in &ratios[1..] {
            let slack = 5.0 * (first.1.powi(2) + later.1.powi(2)).sqrt();
            assert!(
                later.0 <= first.0 + slack,
                "excess / ln ln n grows: {ratios:?}"
            );
        }
    }

    #[test]
    fn pull_and_push_pull_rounds_match_their_exact_markov_chains() {
        // Both samplers' mean rounds within 5 standard errors (of the exact variance) of the
        // exact chains': the per-node model against the derivation, the direct sampler
        // against both.
        type Exact = fn(usize) -> (f64, f64);
        let cases: [(&str, Exact, u32, u64); 4] = [
            ("pull", pull_rounds_exact, 16, 40_000),
            ("pull", pull_rounds_exact, 200, 10_000),
            ("push-pull", push_pull_rounds_exact, 16, 40_000),
            ("push-pull", push_pull_rounds_exact, 60, 20_000),
        ];
        for (mode, exact_of, n, trials) in cases {
            let (exact, var) = exact_of(n as usize);
            let tolerance = 5.0 * (var / trials as f64).sqrt();
            for sampling in ["direct", "per-node"] {
                let (mean, _) = rounds_sampled(mode, n, sampling, trials);
                assert!(
                    (mean - exact).abs() <= tolerance,
                    "{mode} {sampling} n = {n}: mean {mean} rounds, exact {exact} +- {tolerance}"
                );
            }
        }
    }

    #[test]
    fn the_exact_chains_agree_on_two_nodes() {
        // Two nodes: node 0 reaches node 1 in the first round in every mode.
        assert_eq!(pull_rounds_exact(2), (1.0, 0.0));
        assert_eq!(push_pull_rounds_exact(2), (1.0, 0.0));
        // The occupancy table: 2 balls in 2 bins hit both with probability 1/2.
        assert_eq!(occupancy_table(2, 2)[2], vec![0.0, 0.5, 0.5]);
    }

    #[test]
    fn distinct_follows_the_occupancy_distribution() {
        // Each way of drawing against the exact law: the rate of every value and of every
        // value or less, at 5 sigma. One by one (50 balls); Poissonized once, then one by one
        // (300, 260, 700); Poissonized twice (2000); Poissonized at the largest mean per bin,
        // then one by one (7000 in 1000 bins, where about one bin stays empty; 1500 in
        // 300); bin by bin, called directly since `distinct` uses it where all bins are
        // almost surely hit (20, 40, 5 balls); and those near-certain cases.
        use super::{bin_by_bin, distinct};
        let mut rng = crate::rng::stream(21, 0, 0);
        let draws = 100_000u64;
        type Draw = fn(&mut crate::rng::SimRng, u64, u64) -> u64;
        let cases: [(u64, u64, Draw); 14] = [
            (50, 80, distinct),
            (300, 100_000, distinct),
            (260, 200, distinct),
            (700, 2_000, distinct),
            (2_000, 1_500, distinct),
            (7_000, 1_000, distinct),
            (1_500, 300, distinct),
            (20, 16, bin_by_bin),
            (40, 10, bin_by_bin),
            (5, 3, bin_by_bin),
            (20_000, 1_000, distinct),
            (1_000, 17, distinct),
            (5_000, 12, distinct),
            (257, 3, distinct),
        ];
        for (balls, bins, draw) in cases {
            let pmf = occupancy_table(balls as usize, bins as usize)
                .pop()
                .unwrap();
            let mut counts = vec![0u64; pmf.len()];
            for _ in 0..draws {
                counts[draw(&mut rng, balls, bins) as usize] += 1;
            }
            // Values (and cumulative counts) expected at least 10 times: below that a rate is
            // far from normal. Values expected never are never drawn.
            let expected = |p: f64| draws as f64 * p.min(1.0 - p) >= 10.0;
            let (mut below, mut cdf) = (0u64, 0.0f64);
            for (j, &p) in pmf.iter().enumerate() {
                below += counts[j];
                cdf += p;
                let what = format!("{balls} balls in {bins} bins: {j}");
                if p == 0.0 {
                    assert_eq!(counts[j], 0, "{what}");
                }
                if expected(p) {
                    let z = crate::model::stats::z_score(counts[j], draws, p);
                    assert!(z.abs() <= 5.0, "{what}: z = {z}");
                }
                if expected(cdf) {
                    let z = crate::model::stats::z_score(below, draws, cdf.min(1.0));
                    assert!(z.abs() <= 5.0, "{what} or fewer: z = {z}");
                }
            }
        }
    }

    #[test]
    fn the_poisson_classes_stop_with_the_right_probability() {
        // P(X = j | X >= j) against the pmf summed directly.
        for tau in [1e-3f64, 0.3, 1.0, 4.0] {
            let mut pmf = vec![(-tau).exp()];
            for j in 1..80 {
                let last = pmf[j - 1];
                pmf.push(last * tau / j as f64);
            }
            for j in 1..20 {
                let tail: f64 = pmf[j..].iter().sum();
                let stop = super::poisson_stop(j as u64, tau);
                assert!(
                    (stop - pmf[j] / tail).abs() <= 1e-13 * stop,
                    "tau = {tau}, j = {j}: {stop} vs {}",
                    pmf[j] / tail
                );
            }
        }
    }

    #[test]
    fn direct_sampling_matches_the_per_node_simulation() {
        use super::{Direct, Gossip, Mode};
        use crate::latency::tests::parse;
        use crate::model::Env;
        use crate::protocols::tests::{assert_same_distribution, draws};
        let latency = parse("kind = \"constant\"\nms = 1").unwrap();
        // (mode, nodes, fanout, crash, loss, round cap): small and larger N, fanouts that
        // make the pushes many (every way `distinct` draws), failures, and caps that end
        // trials in failure.
        let cases = [
            (Mode::Push, 1000, 1, 0.0, 0.0, 200),
            (Mode::Push, 50, 2, 0.1, 0.2, 200),
            (Mode::Push, 200, 1, 0.05, 0.0, 12),
            (Mode::Push, 2, 1, 0.5, 0.5, 3),
            (Mode::Push, 2000, 3, 0.05, 0.1, 200),
            (Mode::Pull, 1000, 1, 0.0, 0.0, 200),
            (Mode::Pull, 300, 2, 0.1, 0.2, 200),
            (Mode::Pull, 200, 1, 0.05, 0.0, 9),
            (Mode::Pull, 50, 3, 0.3, 0.5, 200),
            (Mode::Pull, 2, 1, 0.5, 0.5, 3),
            (Mode::Pull, 3, 2, 0.0, 0.3, 2),
            (Mode::PushPull, 1000, 1, 0.0, 0.0, 200),
            (Mode::PushPull, 1000, 3, 0.02, 0.05, 200),
            (Mode::PushPull, 300, 2, 0.1, 0.2, 200),
            (Mode::PushPull, 200, 1, 0.05, 0.0, 6),
            (Mode::PushPull, 100, 20, 0.0, 0.1, 200),
            (Mode::PushPull, 50, 3, 0.3, 0.5, 200),
            (Mode::PushPull, 2, 1, 0.5, 0.5, 3),
            (Mode::PushPull, 3, 2, 0.0, 0.3, 2),
        ];
        for (mode, nodes, fanout, crash, loss, cap) in cases {
            let env = Env::new(crash, loss, latency.clone()).unwrap();
            let per_node = Gossip::new(env.clone(), nodes, mode, fanout, cap, 1.0).unwrap();
            let direct = Direct::new(&env, nodes, mode, fanout, cap, 1.0).unwrap();
            let what = format!(
                "{mode:?} N = {nodes} fanout = {fanout} crash = {crash} loss = {loss} cap = {cap}"
            );
            let trials = if nodes >= 1000 { 10_000 } else { 20_000 };
            assert_same_distribution(&what, &per_node, &direct, trials);
            // Rounds and messages: the means at 5 sigma too (a latency is rounds x 1 ms).
            let means = |(_, l, m): ([u64; 2], Vec<f64>, Vec<f64>)| {
                let moments = |x: &[f64]| {
                    let n = x.len() as f64;
                    let mean = x.iter().sum::<f64>() / n;
                    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                    (mean, var / n)
                };
                (moments(&l), moments(&m))
            };
            let (a, b) = (
                means(draws(&per_node, trials, 3)),
                means(draws(&direct, trials, 4)),
            );
            for (name, (x, vx), (y, vy)) in [("rounds", a.0, b.0), ("messages", a.1, b.1)] {
                if x.is_nan() || y.is_nan() {
                    // Fewer than two successes: no latencies to compare (the success rates
                    // were compared above).
                    continue;
                }
                assert!(
                    (x - y).abs() <= 5.0 * (vx + vy).sqrt() + 1e-9,
                    "{what}: mean {name} {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn pull_sends_a_request_and_a_reply_per_call_without_failures() {
        // No crash or loss: every live node makes `fanout` calls a round, each answered.
        for (mode, fanout) in [("pull", 1), ("pull", 3), ("push-pull", 2)] {
            let tally = run(
                "gossip",
                &format!("nodes = 500\nmode = \"{mode}\"\nfanout = {fanout}"),
                "",
                2_000,
            );
            assert_eq!(tally.successes, 2_000);
            assert_eq!(
                tally.messages_sum,
                2 * 500 * fanout * tally.rounds_sum,
                "{mode}"
            );
        }
    }

    #[test]
    fn push_sends_one_message_per_informed_node_per_round() {
        let tally = run("gossip", "nodes = 2", "", 1_000);
        // Two nodes: node 0 reaches node 1 in the first round with one message.
        assert_eq!((tally.messages_sum, tally.rounds_sum), (1_000, 1_000));
    }

    #[test]
    fn a_permanent_partition_hits_the_round_cap() {
        let tally = run(
            "gossip",
            "nodes = 50\npartition = 1.0\nmax_rounds = 30",
            "",
            1_000,
        );
        assert_eq!(tally.rounds_max, 30);
        assert!(tally.failures > 900, "{}", tally.failures);
    }
}
