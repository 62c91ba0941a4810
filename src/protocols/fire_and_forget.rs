//! Fire-and-forget: the bottom rung of the coordination ladder.
//!
//! A sender hands one message to the network and moves on. Nothing comes back, so nobody
//! waits and nothing is agreed: the cost is one message and one delay, whatever the size of
//! the system. The price is knowledge: the sender never learns whether the message arrived.
//! Success here is what an omniscient observer would see.

use super::{CLIENT, Env, ModelError, Outcome, ParamSpec, Protocol, ProtocolInfo};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: a sender (the client) sends one message to one receiver (node 0) and waits for
nothing.
Success: the receiver is up and the message is not lost; probability (1 - crash)(1 - loss).
Latency: the message's one-way delay.
Messages: 1. Rounds: 1.
The node count does not enter the model: every node's message is independent of the others'."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{FireAndForget};
/// use coordsim::model::{Env, Protocol, Status};
/// use coordsim::rng::stream;
/// let model = FireAndForget::new(Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap());
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut ());
/// assert_eq!((outcome.status, outcome.latency_ns, outcome.messages), (Status::Success, 1_000_000, 1));
/// ```
#[derive(Debug, Clone)]
pub struct FireAndForget {
    env: Env,
}

impl FireAndForget {
    /// One message through `env`.
    pub fn new(env: Env) -> Self {
        Self { env }
    }
}

impl Protocol for FireAndForget {
    type Scratch = ();

    fn scratch(&self) {}

    #[inline]
    fn trial(&self, rng: &mut SimRng, _: &mut ()) -> Outcome {
        let net = self.env.begin(rng);
        if !net.up(rng, 0) || net.lost(rng, CLIENT, 0) {
            return Outcome::failure(1, 1);
        }
        Outcome::success(net.delay_ns(rng, CLIENT, 0), 1, 1)
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "fire-and-forget",
    summary: "one message, no acknowledgement: no coordination at all",
    model: model!(),
    params: &[] as &[ParamSpec],
    extras: &[],
    build: |setting| -> Result<_, ModelError> {
        Ok(Box::new(FireAndForget::new(setting.env().clone())))
    },
};

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    #[test]
    fn success_is_up_times_delivered() {
        let (crash, loss) = (0.02, 0.05);
        let tally = run(
            "fire-and-forget",
            &format!("nodes = 3\ncrash = {crash}\nloss = {loss}"),
            "",
            1_000_000,
        );
        assert_rate(
            tally.successes,
            tally.trials(),
            (1.0 - crash) * (1.0 - loss),
        );
        assert_eq!(tally.messages_sum, u128::from(tally.trials()));
    }
}
