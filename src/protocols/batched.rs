//! Batched: many items in one request/response.
//!
//! The cure for chattiness: send every item of an operation in one request and get one
//! response. Two messages and one round trip regardless of the item count; compare `chatty`.

use super::chatty::{ITEMS, RETRIES, Retrying, TIMEOUT};
use super::{CLIENT, Env, ModelError, Outcome, Protocol, ProtocolInfo};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a client sends `items` items to a server (node 0) in one request and gets
one response, resent every timeout_ms until answered, at most 1 + retries times. The server
is crashed with probability crash for the whole trial; each message is lost independently
with probability loss. The items only set the operation's size: messages per item are
messages_mean / items.
Success: the response arrives. Latency: from the first send to the response.
Messages: requests and responses sent; 2 with no loss. Rounds: requests sent."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Batched};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Batched::new(env, 3, 50.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.messages, outcome.latency_ns), (2, 2_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct Batched {
    env: Env,
    attempts: u32,
    timeout_ns: u64,
}

impl Batched {
    /// One call, retried up to `retries` times every `timeout_ms`.
    pub fn new(env: Env, retries: u32, timeout_ms: f64) -> Result<Self, ModelError> {
        if !(timeout_ms.is_finite() && timeout_ms > 0.0) {
            return Err(ModelError::new("timeout_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            attempts: retries.saturating_add(1),
            timeout_ns: (timeout_ms * NS_PER_MS) as u64,
        })
    }
}

impl Protocol for Batched {
    type Scratch = ();

    fn scratch(&self) {}

    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let up = net.up(rng, 0);
        let exchange = net.exchange(rng, CLIENT, 0, up, self.timeout_ns, self.attempts);
        match exchange.ack_ns {
            Some(ns) => Outcome::success(ns, exchange.messages, exchange.attempts),
            None => Outcome::failure(exchange.messages, exchange.attempts),
        }
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "batched",
    summary: "all items of an operation in one request/response",
    model: model!(),
    params: &[ITEMS, RETRIES, TIMEOUT],
    extras: &[],
    build: |setting| {
        let params = Retrying::read(setting);
        Ok(Box::new(Batched::new(
            setting.env().clone(),
            params.retries,
            params.timeout_ms,
        )?))
    },
};

#[cfg(test)]
mod tests {
    use crate::protocols::tests::run;

    #[test]
    fn two_messages_whatever_the_item_count() {
        for items in [1, 100, 10_000] {
            let tally = run("batched", &format!("nodes = 1\nitems = {items}"), "", 1_000);
            assert_eq!(tally.messages_sum, 2_000);
        }
    }
}
