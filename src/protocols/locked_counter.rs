//! Locked counter: a shared counter behind a lock service, and the queue contention builds.
//!
//! The coordinated way to keep a counter exact: take a lock, read the counter, write it back
//! one higher, release the lock. Every increment costs a lock round trip and two more to the
//! store, and writers that want the lock at the same time wait in line: with W writers at
//! once, an increment waits on average for (W - 1)/2 others' whole read-modify-write cycles.
//! Compare `crdt-counter`, whose increments wait for nothing.

use rand::Rng;

use super::{
    CLIENT, Env, Extra, MAX_EXTRAS, ModelError, Outcome, ParamSpec, Protocol, ProtocolInfo,
};
use crate::rng::SimRng;

macro_rules! model {
    () => {
        "One trial: W = N writers (nodes 0..N) each want to increment a counter at time 0. Each
live writer sends an acquire to a lock service; the service grants the lock in the order
the acquires arrive (ties in random order), one holder at a time. The holder, once granted,
reads the counter from a store (a request and a reply), writes it back incremented (a
request and an acknowledgement) and sends a release to the lock service, which then grants
the next writer. The lock service and the store are outside the N nodes and never crash.
Every one-way delay is drawn from the latency model: a holder occupies the lock for its
grant, two round trips and its release (six delays; 6d with constant delays d). The trial
measures writer 0's increment.
Each writer is down for the whole trial with probability crash (a down writer does not
contend); writer 0 down is a failure. Each of writer 0's messages is lost independently with
probability loss, a failure (no retries); the other writers' messages are not lost.
Success: writer 0's write is acknowledged.
Latency: from writer 0's acquire to its write's acknowledgement; with constant delays d and
W live writers, 6 d k for queue position k, uniform on 1..W: mean 3 d (W + 1).
Messages: writer 0's, 7 per increment (acquire, grant, read, reply, write, ack, release);
fewer when one is lost. Rounds: 3 (the lock, the read, the write).
queue_wait_ns: time writer 0's acquire waited at the lock service before its grant was sent:
with constant delays, 6 d (k - 1), mean 3 d (W - 1)."
    };
}

#[doc = model!()]
///
/// ```
/// use coordsim::latency::Constant;
/// use coordsim::protocols::{LockedCounter};
/// use coordsim::model::{Env, Protocol};
/// use coordsim::rng::stream;
/// // One writer: acquire, grant, two round trips: 6 delays of 1 ms.
/// let env = Env::new(0.0, 0.0, Constant::new(1.0).unwrap().into()).unwrap();
/// let model = LockedCounter::new(env, 1);
/// let outcome = model.trial(&mut stream(1, 0, 0), &mut model.scratch());
/// assert_eq!((outcome.latency_ns, outcome.messages, outcome.extras[0]), (6_000_000, 7, 0));
/// ```
#[derive(Debug, Clone)]
pub struct LockedCounter {
    env: Env,
    writers: u32,
}

impl LockedCounter {
    /// `writers` writers contending for one lock.
    pub fn new(env: Env, writers: u32) -> Self {
        Self { env, writers }
    }
}

impl Protocol for LockedCounter {
    const EXTRAS: &'static [Extra] = &[Extra {
        name: "queue_wait_ns",
        doc: "time writer 0's acquire waited at the lock service, in ns",
    }];
    /// The live writers' acquires: (arrival at the lock service, tie-break, writer).
    type Scratch = Vec<(u64, u64, u32)>;

    fn scratch(&self) -> Vec<(u64, u64, u32)> {
        Vec::with_capacity(self.writers as usize)
    }

    fn trial(&self, rng: &mut SimRng, queue: &mut Vec<(u64, u64, u32)>) -> Outcome {
        let net = self.env.begin(rng);
        if !net.up(rng, 0) {
            return Outcome::failure(0, 1);
        }
        if net.lost(rng, 0, CLIENT) {
            return Outcome::failure(1, 1);
        }
        queue.clear();
        queue.push((net.delay_ns(rng, 0, CLIENT), rng.next_u64(), 0));
        for writer in 1..self.writers {
            if net.up(rng, writer) {
                queue.push((net.delay_ns(rng, writer, CLIENT), rng.next_u64(), writer));
            }
        }
        queue.sort_unstable();
        let mut free = 0u64;
        for &(arrival, _, writer) in queue.iter() {
            let granted = free.max(arrival);
            if writer == 0 {
                let mut extras = [0; MAX_EXTRAS];
                extras[0] = granted - arrival;
                // From the grant to the write's acknowledgement: grant, read, reply, write,
                // ack (messages 2 to 6), each lost or delivered in turn.
                let mut elapsed = granted;
                for sent in 2..=6u64 {
                    let (from, to) = if sent % 2 == 0 {
                        (CLIENT, 0)
                    } else {
                        (0, CLIENT)
                    };
                    if net.lost(rng, from, to) {
                        return Outcome::failure(sent, (sent / 2) as u32).with_extras(extras);
                    }
                    elapsed = elapsed.saturating_add(net.delay_ns(rng, from, to));
                }
                return Outcome::success(elapsed, 7, 3).with_extras(extras);
            }
            // Another writer holds the lock: grant, two round trips, release.
            let mut hold = 0u64;
            for _ in 0..6 {
                hold = hold.saturating_add(net.delay_ns(rng, CLIENT, writer));
            }
            free = granted.saturating_add(hold);
        }
        unreachable!("writer 0 is in the queue")
    }
}

/// The registry entry.
pub const SPEC: ProtocolInfo = ProtocolInfo {
    name: "locked-counter",
    summary: "a counter behind a lock service: W = N writers queue for the lock",
    model: model!(),
    params: &[] as &[ParamSpec],
    extras: LockedCounter::EXTRAS,
    build: |setting| -> Result<_, ModelError> {
        Ok(Box::new(LockedCounter::new(
            setting.env().clone(),
            setting.nodes,
        )))
    },
};

#[cfg(test)]
mod tests {
    use crate::model::stats::assert_rate;
    use crate::protocols::tests::run;

    const CONSTANT: &str = "kind = \"constant\"\nms = 1";

    #[test]
    fn contention_queues_writers_uniformly() {
        // Constant delays d = 1 ms: writer 0 is k-th in line, k uniform on 1..W, and done at
        // 6 d k: mean 3 d (W + 1); it waited 6 d (k - 1), mean 3 d (W - 1). The tolerance is
        // 5 standard errors of the mean of a uniform on 6 d {1..W}: sd 6 d sqrt((W^2 - 1)/12).
        for writers in [1u32, 2, 10, 50] {
            let trials = 100_000u64;
            let tally = run(
                "locked-counter",
                &format!("nodes = {writers}"),
                CONSTANT,
                trials,
            );
            assert_eq!(tally.successes, trials);
            assert_eq!(tally.messages_sum, 7 * u128::from(trials));
            let w = f64::from(writers);
            let mean = tally.latency_sum_ns as f64 / trials as f64;
            let wait = tally.extras_sum[0] as f64 / trials as f64;
            let sd = 6e6 * ((w * w - 1.0) / 12.0).sqrt();
            let tolerance = 5.0 * sd / (trials as f64).sqrt() + 1e-6;
            assert!(
                (mean - 3e6 * (w + 1.0)).abs() <= tolerance,
                "W = {writers}: {mean}"
            );
            assert!(
                (wait - 3e6 * (w - 1.0)).abs() <= tolerance,
                "W = {writers}: {wait}"
            );
            // Every latency is a multiple of 6 ms, at most 6 W ms.
            assert_eq!(tally.latency_max_ns, 6_000_000 * u64::from(writers));
        }
    }

    #[test]
    fn down_writers_do_not_contend() {
        // Writer 0 up (else a failure); the others up with 1 - crash each: the mean queue
        // position is 1 + (W - 1)(1 - crash)/2, the mean latency 6 d times that.
        let (writers, crash) = (21u32, 0.5);
        let trials = 200_000u64;
        let tally = run(
            "locked-counter",
            &format!("nodes = {writers}\ncrash = {crash}"),
            CONSTANT,
            trials,
        );
        assert_rate(tally.successes, trials, 1.0 - crash);
        let mean = tally.latency_sum_ns as f64 / tally.successes as f64;
        let expected = 6e6 * (1.0 + f64::from(writers - 1) * (1.0 - crash) / 2.0);
        // Position given the others: uniform on 1..L; its variance is at most that of a
        // uniform on 1..W.
        let sd = 6e6 * ((f64::from(writers * writers) - 1.0) / 12.0).sqrt();
        let tolerance = 5.0 * sd / (tally.successes as f64).sqrt();
        assert!((mean - expected).abs() <= tolerance, "{mean} vs {expected}");
    }

    #[test]
    fn a_lost_message_of_writer_0_fails_its_increment() {
        let loss = 0.05f64;
        let tally = run(
            "locked-counter",
            &format!("nodes = 5\nloss = {loss}"),
            CONSTANT,
            400_000,
        );
        // Acquire, grant, read, reply, write, ack must arrive: 6 messages.
        assert_rate(tally.successes, tally.trials(), (1.0 - loss).powi(6));
    }
}
