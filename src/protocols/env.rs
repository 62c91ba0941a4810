//! The failure and delay environment that every protocol of a cell shares.

use super::ModelError;
use crate::latency::Latency;
use crate::rng::{Chance, SimRng};

/// What [`Env::exchange`] observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// When the first acknowledgement arrived, if before the sender gave up.
    pub ack_ns: Option<u64>,
    /// Requests and acknowledgements sent.
    pub messages: u64,
    /// Requests sent.
    pub attempts: u32,
}

/// Independent node crashes, independent message loss and iid one-way delays.
///
/// A node is crashed, or not, for the whole trial: a crashed node sends and answers nothing.
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::Env;
/// use coordsim::rng::stream;
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let mut rng = stream(1, 0, 0);
/// assert_eq!(env.round_trip_ns(&mut rng), 2_000_000);
/// assert!(!env.crashed(&mut rng));
/// ```
#[derive(Debug, Clone)]
pub struct Env {
    crash: Chance,
    loss: Chance,
    latency: Latency,
}

impl Env {
    /// Nodes crash with probability `crash`, messages are lost with probability `loss`.
    pub fn new(crash: f64, loss: f64, latency: Latency) -> Result<Self, ModelError> {
        let crash = Chance::new(crash).map_err(|e| ModelError::new("crash", e))?;
        let loss = Chance::new(loss).map_err(|e| ModelError::new("loss", e))?;
        Ok(Self {
            crash,
            loss,
            latency,
        })
    }

    /// Whether a node is down for this trial.
    #[inline(always)]
    pub fn crashed(&self, rng: &mut SimRng) -> bool {
        self.crash.happens(rng)
    }

    /// Whether one message is lost.
    #[inline(always)]
    pub fn lost(&self, rng: &mut SimRng) -> bool {
        self.loss.happens(rng)
    }

    /// One one-way delay, in nanoseconds.
    #[inline(always)]
    pub fn delay_ns(&self, rng: &mut SimRng) -> u64 {
        self.latency.sample_ns(rng)
    }

    /// A request and its reply: two independent one-way delays.
    #[inline(always)]
    pub fn round_trip_ns(&self, rng: &mut SimRng) -> u64 {
        self.delay_ns(rng) + self.delay_ns(rng)
    }

    /// A request retransmitted every `timeout_ns` until an acknowledgement arrives, at most
    /// `max_attempts` times; the sender gives up `max_attempts * timeout_ns` after the first
    /// send. The receiver, if up, acknowledges every request it gets, so a slow acknowledgement
    /// of an early attempt still counts. Messages: every request and every acknowledgement.
    ///
    /// Loops until acknowledged when `max_attempts` is large: callers ensure `loss < 1`.
    #[inline]
    pub fn exchange(
        &self,
        rng: &mut SimRng,
        receiver_up: bool,
        timeout_ns: u64,
        max_attempts: u32,
    ) -> Exchange {
        if !receiver_up {
            return Exchange {
                ack_ns: None,
                messages: max_attempts.into(),
                attempts: max_attempts,
            };
        }
        let mut first_ack = u64::MAX;
        let mut messages = 0;
        let mut attempts = 0;
        while attempts < max_attempts {
            let start = u64::from(attempts).saturating_mul(timeout_ns);
            if first_ack <= start {
                break;
            }
            attempts += 1;
            messages += 1;
            if self.lost(rng) {
                continue;
            }
            messages += 1;
            if self.lost(rng) {
                continue;
            }
            first_ack = first_ack.min(start + self.round_trip_ns(rng));
        }
        let deadline = u64::from(max_attempts).saturating_mul(timeout_ns);
        Exchange {
            ack_ns: (first_ack <= deadline).then_some(first_ack),
            messages,
            attempts,
        }
    }

    /// The per-node crash probability.
    pub fn crash(&self) -> Chance {
        self.crash
    }

    /// The per-message loss probability.
    pub fn loss(&self) -> Chance {
        self.loss
    }
}
