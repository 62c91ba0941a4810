//! Acknowledged delivery: request, acknowledgement, timeout and retransmission.
//!
//! The first rung that buys knowledge. The sender keeps the message until the receiver says
//! it has it; when no acknowledgement comes within a timeout it sends again, up to a retry
//! budget. Each retry converts a lost message into latency. A receiver that is down never
//! answers, and retries cannot fix that: they only spend messages.

use super::chatty::Retrying;
use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Value,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a sender (the client) sends a request to one receiver (node 0) at times 0, T, 2T, ... (T = timeout_ms)
until an acknowledgement arrives, at most 1 + retries times, and gives up at (1 + retries) T.
The receiver is crashed with probability crash for the whole trial; each request and each
acknowledgement is lost independently with probability loss; the receiver acknowledges every
request it gets, so a late acknowledgement of an earlier attempt still counts.
Success: an acknowledgement arrives before the sender gives up.
Latency: time from the first send to the first acknowledgement.
Messages: requests plus acknowledgements sent. Rounds: requests sent (attempts).
duplicates: requests delivered after the first; with no deduplication each one applies the
operation again (compare exactly-once)."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{Ack};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = Ack::new(env, 3, 10.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.status, outcome.messages, outcome.rounds), (Status::Success, 2, 1));
/// ```
#[derive(Debug, Clone)]
pub struct Ack {
    env: Env,
    attempts: u32,
    timeout_ns: u64,
}

impl Ack {
    /// Up to `retries` retransmissions, every `timeout_ms` milliseconds.
    pub fn new(env: Env, retries: u32, timeout_ms: f64) -> Result<Self, ModelError> {
        let attempts = retries
            .checked_add(1)
            .ok_or_else(|| ModelError::new("retries", "too many retries"))?;
        if !(timeout_ms.is_finite() && timeout_ms > 0.0) {
            return Err(ModelError::new("timeout_ms", "must be a finite number > 0"));
        }
        Ok(Self {
            env,
            attempts,
            timeout_ns: (timeout_ms * NS_PER_MS) as u64,
        })
    }
}

impl Protocol for Ack {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "duplicates",
        doc: "requests delivered after the first: without deduplication each applies the effect again",
    }];
    type Scratch = ();

    fn scratch(&self) {}

    #[inline]
    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let up = net.up(rng, 0);
        let exchange = net.exchange(rng, CLIENT, 0, up, self.timeout_ns, self.attempts);
        let outcome = match exchange.ack_ns {
            Some(ns) => Outcome::success(ns, exchange.messages, exchange.attempts),
            None => Outcome::failure(exchange.messages, exchange.attempts),
        };
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = u64::from(exchange.delivered.saturating_sub(1));
        outcome.with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "ack",
    summary: "request and acknowledgement, retransmitted after a timeout",
    model: model!(),
    params: &[
        ParamSpec {
            name: "retries",
            kind: ParamKind::Count { min: 0, max: 1000 },
            default: Value::Count(3),
            doc: "retransmissions after the first send",
        },
        ParamSpec {
            name: "timeout_ms",
            kind: ParamKind::Millis { zero_ok: false },
            default: Value::Millis(10.0),
            doc: "time to wait for an acknowledgement before sending again",
        },
    ],
    extras: Ack::EXTRAS,
    build: |setting| {
        let params = Retrying::read(setting);
        Ok(Box::new(Ack::new(
            setting.env().clone(),
            params.retries,
            params.timeout_ms,
        )?))
    },
};

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn retries_recover_lost_messages() {
        // Constant 1 ms delays and a 10 ms timeout: an attempt succeeds iff both its messages
        // arrive, so P(success) = (1 - crash) (1 - (1 - (1 - loss)^2)^(retries + 1)).
        let (crash, loss, retries): (f64, f64, i32) = (0.01, 0.2, 2);
        let tally = run(
            "ack",
            &format!("nodes = 2\ncrash = {crash}\nloss = {loss}\nretries = {retries}"),
            "kind = \"constant\"\nms = 1",
            1_000_000,
        );
        let attempt = (1.0 - loss) * (1.0 - loss);
        let p = (1.0 - crash) * (1.0 - (1.0 - attempt).powi(retries + 1));
        assert_rate(tally.successes, tally.trials(), p);
    }

    #[test]
    fn late_acknowledgements_count_and_stop_retries() {
        // Every round trip takes 30 ms against a 10 ms timeout: three requests go out (at 0,
        // 10 and 20 ms) before the first acknowledgement arrives at 30 ms.
        let tally = run(
            "ack",
            "nodes = 2\nretries = 5",
            "kind = \"constant\"\nms = 15",
            10_000,
        );
        assert_eq!(tally.successes, 10_000);
        assert_eq!(tally.messages_sum, 6 * 10_000);
        assert_eq!(tally.extras_sum[0], 2 * 10_000, "two duplicates per trial");
        assert_eq!(tally.latency_max_ns, 30_000_000);
    }
}
