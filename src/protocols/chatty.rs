//! Chatty: the anti-pattern of several sequential round trips per item.
//!
//! An interface designed one call at a time (fetch, check, lock, write, ...) makes each item
//! cost several sequential round trips. Latency and message counts grow with the item count
//! times the calls per item; compare `batched`, which sends the same items in one request.

use super::{
    CLIENT, Env, ModelError, Outcome, ParamKind, ParamSpec, Protocol, ProtocolInfo, Setting, Value,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a client processes `items` items against a server (node 0), each item with
calls_per_item sequential request/response calls (8 messages per item at the default 4).
Each call is an acknowledged exchange: resent every timeout_ms until answered, at most
1 + retries times. The server is crashed with probability crash for the whole trial; each
message is lost independently with probability loss.
Success: every call is answered.
Latency: the sum of all calls' times (they are sequential).
Messages: requests and responses sent; 2 x calls_per_item x items with no loss.
Rounds: calls made."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Chatty};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Chatty::new(env, 10, 4, 3, 50.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.messages, outcome.latency_ns), (80, 80_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct Chatty {
    env: Env,
    calls: u32,
    attempts: u32,
    timeout_ns: u64,
}

impl Chatty {
    /// `items` items of `calls_per_item` calls each; each call retried up to `retries`
    /// times every `timeout_ms`.
    pub fn new(
        env: Env,
        items: u32,
        calls_per_item: u32,
        retries: u32,
        timeout_ms: f64,
    ) -> Result<Self, ModelError> {
        let calls = items
            .checked_mul(calls_per_item)
            .ok_or_else(|| ModelError::new("items", "items x calls_per_item is too large"))?;
        if !(timeout_ms.is_finite() && timeout_ms > 0.0) {
            return Err(ModelError::new("timeout_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            calls,
            attempts: retries.saturating_add(1),
            timeout_ns: (timeout_ms * NS_PER_MS) as u64,
        })
    }
}

impl Protocol for Chatty {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let up = net.up(rng, 0);
        let (mut elapsed, mut messages) = (0u64, 0u64);
        for call in 0..self.calls {
            let exchange = net.exchange(rng, CLIENT, 0, up, self.timeout_ns, self.attempts);
            messages += exchange.messages;
            match exchange.ack_ns {
                // Up to 10^6 calls of up to 1001 one-hour attempts each: past 2^64 ns.
                Some(ns) => elapsed = elapsed.saturating_add(ns),
                None => return Outcome::failure(messages, call + 1),
            }
        }
        Outcome::success(elapsed, messages, self.calls)
    }
}

/// Parameters shared with `batched`.
pub(super) const ITEMS: ParamSpec = ParamSpec {
    name: "items",
    kind: ParamKind::Count {
        min: 1,
        max: 1_000_000,
    },
    default: Value::Count(100),
    doc: "items processed per operation",
};

/// Retries of each call (shared with `batched`).
pub(super) const RETRIES: ParamSpec = ParamSpec {
    name: "retries",
    kind: ParamKind::Count { min: 0, max: 1000 },
    default: Value::Count(3),
    doc: "retransmissions of each call",
};

/// Timeout of each call (shared with `batched`).
pub(super) const TIMEOUT: ParamSpec = ParamSpec {
    name: "timeout_ms",
    kind: ParamKind::Millis { zero_ok: false },
    default: Value::Millis(50.0),
    doc: "time to wait for a response before resending",
};

/// The values of [`RETRIES`] and [`TIMEOUT`], as a setting gives them (shared with `ack`,
/// `batched` and `exactly-once`).
pub(super) struct Retrying {
    pub(super) retries: u32,
    pub(super) timeout_ms: f64,
}

impl Retrying {
    pub(super) fn read(setting: &Setting<'_>) -> Self {
        Self {
            retries: setting.count(RETRIES.name),
            timeout_ms: setting.millis(TIMEOUT.name),
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "chatty",
    summary: "several sequential round trips per item: the chatty-interface anti-pattern",
    model: model!(),
    params: &[
        ITEMS,
        ParamSpec {
            name: "calls_per_item",
            kind: ParamKind::Count { min: 1, max: 1000 },
            default: Value::Count(4),
            doc: "sequential request/response calls per item",
        },
        RETRIES,
        TIMEOUT,
    ],
    extras: &[],
    build: |setting| {
        let params = Params::read(setting);
        Ok(Box::new(Chatty::new(
            setting.env().clone(),
            params.items,
            params.calls_per_item,
            params.retrying.retries,
            params.retrying.timeout_ms,
        )?))
    },
};

/// The parameters of [`SPEC`], as a setting gives them.
struct Params {
    items: u32,
    calls_per_item: u32,
    retrying: Retrying,
}

impl Params {
    fn read(setting: &Setting<'_>) -> Self {
        Self {
            items: setting.count("items"),
            calls_per_item: setting.count("calls_per_item"),
            retrying: Retrying::read(setting),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn eight_messages_per_item_and_sequential_latency() {
        let tally = run("chatty", "nodes = 1\nitems = 25", "", 20_000);
        assert_eq!(tally.messages_sum, 20_000 * 200);
        // Latency: the sum of 100 round trips of Gamma(2, 0.5 ms): mean 100 ms, sd 7.07 ms.
        let mean = tally.latency_sum_ns as f64 / 20_000.0;
        let tolerance = 5.0 * 7.071e6 / (20_000f64).sqrt();
        assert!((mean - 1e8).abs() <= tolerance, "{mean}");
    }

    #[test]
    fn a_down_server_fails_every_item() {
        let tally = run("chatty", "nodes = 1\nitems = 10\ncrash = 0.2", "", 200_000);
        assert_rate(tally.successes, tally.trials(), 0.8);
    }
}
