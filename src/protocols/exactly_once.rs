//! Exactly-once: retries made safe by an idempotency key and a deduplication table.
//!
//! Retransmission turns lost messages into delivered ones, but also into duplicates: the
//! receiver cannot tell a retry from a new request. Exactly-once processing tags each request
//! with an idempotency key; the receiver applies the first copy, remembers the key and its
//! answer, and acknowledges later copies without applying them again. The key must be kept
//! until the sender confirms it has the answer, which costs one more message.

use super::chatty::Retrying;
use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamKind, ParamSpec, Protocol,
    ProtocolInfo, Value,
};
use crate::latency::NS_PER_MS;
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a client sends a request carrying an idempotency key to a server (node 0)
at times 0, T, 2T, ... (T = timeout_ms) until an acknowledgement arrives, at most 1 + retries
times, and gives up at (1 + retries) T. The server applies the first copy it receives,
records the key, and acknowledges every copy; later copies are duplicates it suppresses.
Once acknowledged, the client sends one RELEASE so the server can forget the key.
The server is crashed with probability crash for the whole trial; each message is lost
independently with probability loss.
Success: the client learns the operation was applied (exactly once).
Latency: from the first send to the first acknowledgement.
Messages: requests, acknowledgements and the RELEASE. Rounds: requests sent.
duplicates: copies suppressed by the server. in_doubt: the effect was applied but the client
gave up without learning it. effects_applied: trials in which the server applied the effect
(the successes plus the in-doubt trials). messages_per_success is the cost per effect the
client learned of; the cost per applied effect is messages_mean / effects_applied_mean.
Not modelled: a late duplicate that reaches the server after the RELEASE made it forget the
key (it would be applied a second time); every copy after the first counts as suppressed."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{ExactlyOnce};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = ExactlyOnce::new(env, 3, 10.0).unwrap();
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.status, outcome.messages), (Status::Success, 3));
/// ```
#[derive(Debug, Clone)]
pub struct ExactlyOnce {
    env: Env,
    attempts: u32,
    timeout_ns: u64,
}

impl ExactlyOnce {
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

impl Protocol for ExactlyOnce {
    const EXTRAS: &'static [Extra] = &[
        Extra {
            name: "duplicates",
            doc: "request copies the server received after the first and suppressed",
        },
        Extra {
            name: "in_doubt",
            doc: "trials where the effect was applied but the client gave up without knowing",
        },
        Extra {
            name: "effects_applied",
            doc: "trials where the server applied the effect (successes and in-doubt trials)",
        },
    ];
    type Scratch = ();

    fn scratch(&self) {}

    #[inline]
    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        let up = net.up(rng, 0);
        let exchange = net.exchange(rng, CLIENT, 0, up, self.timeout_ns, self.attempts);
        let mut extras = [0; MAX_EXTRAS];
        extras[0] = u64::from(exchange.delivered.saturating_sub(1));
        extras[2] = u64::from(exchange.delivered > 0);
        let outcome = match exchange.ack_ns {
            // The RELEASE is fire-and-forget: its loss only delays garbage collection.
            Some(ns) => Outcome::success(ns, exchange.messages + 1, exchange.attempts),
            None => {
                extras[1] = u64::from(exchange.delivered > 0);
                Outcome::failure(exchange.messages, exchange.attempts)
            }
        };
        outcome.with_extras(extras)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "exactly-once",
    summary: "idempotency key, deduplication, acknowledgements and retries",
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
    extras: ExactlyOnce::EXTRAS,
    build: |setting| {
        let params = Retrying::read(setting);
        Ok(Box::new(ExactlyOnce::new(
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
    fn duplicates_are_suppressed_and_counted() {
        // Constant 1 ms delays, 10 ms timeout: an attempt is acknowledged iff both messages
        // arrive. With no crash, the number of deliveries is the number of attempts whose
        // request arrived; an in-doubt trial had a request arrive but every ack lost.
        let (loss, retries): (f64, i32) = (0.3, 2);
        let trials = 1_000_000;
        let tally = run(
            "exactly-once",
            &format!("nodes = 1\nloss = {loss}\nretries = {retries}"),
            "kind = \"constant\"\nms = 1",
            trials,
        );
        let attempt = (1.0 - loss) * (1.0 - loss);
        let p = 1.0 - (1.0 - attempt).powi(retries + 1);
        assert_rate(tally.successes, trials, p);
        // In doubt: no attempt succeeded, and not every request was lost.
        let in_doubt = (1.0 - attempt).powi(retries + 1) - loss.powi(retries + 1);
        assert_rate(tally.extras_sum[1] as u64, trials, in_doubt);
        // Applied: some request arrived. Exactly the successes plus the in-doubt trials.
        assert_rate(
            tally.extras_sum[2] as u64,
            trials,
            1.0 - loss.powi(retries + 1),
        );
        assert_eq!(
            tally.extras_sum[2],
            u128::from(tally.successes) + tally.extras_sum[1]
        );
        let ack = run(
            "ack",
            &format!("nodes = 1\nloss = {loss}\nretries = {retries}"),
            "kind = \"constant\"\nms = 1",
            trials,
        );
        assert_eq!(
            ack.extras_sum[0], tally.extras_sum[0],
            "same draws, same duplicates"
        );
        assert!(tally.extras_sum[0] > 0);
        assert_eq!(
            tally.messages_sum,
            ack.messages_sum + u128::from(tally.successes)
        );
    }
}
