//! What one trial measured: how it ended, its latency, messages, rounds and own counts.

/// How one trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The operation completed.
    Success,
    /// The operation did not complete, and every node knows it.
    Failure,
    /// The operation did not complete and some node cannot decide until a failure is repaired
    /// (e.g. a 2PC participant that voted yes when its coordinator crashed).
    Blocked,
}

/// Most protocol-specific counts a trial may carry.
pub const MAX_EXTRAS: usize = 4;

/// A protocol-specific count of each trial (duplicates suppressed, elections held, ...),
/// summed over trials and reported as the column `<name>_mean`, its mean per trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extra {
    /// Name of the count; the summary column is `<name>_mean`.
    pub name: &'static str,
    /// One line for `coordsim protocols`.
    pub doc: &'static str,
}

/// What one trial measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Time to complete, in nanoseconds; meaningful for successes only.
    pub latency_ns: u64,
    /// Messages sent by every node during the trial, delivered or not.
    pub messages: u64,
    /// Sequential communication rounds on the critical path (as each protocol defines them).
    pub rounds: u32,
    /// The protocol's own counts, in the order of its [`crate::model::Protocol::EXTRAS`]; the rest are 0.
    pub extras: [u64; MAX_EXTRAS],
}

impl Outcome {
    /// A success after `latency_ns`.
    #[inline(always)]
    pub fn success(latency_ns: u64, messages: u64, rounds: u32) -> Self {
        Self {
            status: Status::Success,
            latency_ns,
            messages,
            rounds,
            extras: [0; MAX_EXTRAS],
        }
    }

    /// A failure.
    #[inline(always)]
    pub fn failure(messages: u64, rounds: u32) -> Self {
        Self {
            status: Status::Failure,
            latency_ns: 0,
            messages,
            rounds,
            extras: [0; MAX_EXTRAS],
        }
    }

    /// A blocked trial.
    #[inline(always)]
    pub fn blocked(messages: u64, rounds: u32) -> Self {
        Self {
            status: Status::Blocked,
            latency_ns: 0,
            messages,
            rounds,
            extras: [0; MAX_EXTRAS],
        }
    }
}

impl Outcome {
    /// The same outcome carrying the protocol's own counts.
    #[inline(always)]
    pub fn with_extras(mut self, extras: [u64; MAX_EXTRAS]) -> Self {
        self.extras = extras;
        self
    }
}
