//! Per-worker accumulators of trial outcomes, merged exactly in any order.

use hdrhistogram::Histogram;

use crate::model::{MAX_EXTRAS, Outcome, Status};

/// Significant decimal digits kept by every histogram.
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Largest latency a histogram tells apart: 2^61 - 1 ns, about 73 years, below the 2^62 an
/// HdrHistogram can grow to (a histogram holds the buckets up to the largest value recorded,
/// so the range costs nothing until used). Larger values are recorded as this.
pub const LATENCY_MAX_NS: u64 = (1 << 61) - 1;
/// Largest message count per trial a histogram tells apart.
pub const MESSAGES_MAX: u64 = 1 << 40;
/// Largest round count per trial a histogram tells apart.
pub const ROUNDS_MAX: u64 = u32::MAX as u64;

/// Counters and histograms of the trials of one cell, or of a part of them.
///
/// Everything that reaches an output is an integer: counts, exact sums and maxima, histogram
/// buckets. Merging is therefore exact, associative and commutative, so the result does not
/// depend on how trials were split among threads or in what order the parts are merged.
///
/// ```
/// use coordsim::model::Outcome;
/// use coordsim::model::tally::Tally;
/// let mut a = Tally::empty();
/// a.record(&Outcome::success(1_500, 2, 1), 0);
/// let mut b = Tally::empty();
/// b.record(&Outcome::failure(2, 1), 0);
/// a.merge(&b);
/// assert_eq!((a.successes, a.failures, a.trials()), (1, 1, 2));
/// assert_eq!(a.messages_sum, 4);
/// ```
#[derive(Debug, Clone)]
pub struct Tally {
    /// Successful trials.
    pub successes: u64,
    /// Failed trials.
    pub failures: u64,
    /// Blocked trials.
    pub blocked: u64,
    /// Sum of the latencies of successful trials, in nanoseconds.
    pub latency_sum_ns: u128,
    /// Largest latency of a successful trial, in nanoseconds (exact, not bucketed).
    pub latency_max_ns: u64,
    /// Sum of messages over all trials.
    pub messages_sum: u128,
    /// Most messages in one trial.
    pub messages_max: u64,
    /// Sum of rounds over all trials.
    pub rounds_sum: u128,
    /// Most rounds in one trial.
    pub rounds_max: u64,
    /// Sums of the protocol's own counts ([`crate::model::Protocol::EXTRAS`]).
    pub extras_sum: [u128; MAX_EXTRAS],
    /// Work items (chunks) merged into this tally.
    pub chunks: u64,
    /// Thread time spent on these trials, in nanoseconds: a measurement, not a result, and
    /// the one field that differs between runs.
    pub busy_ns: u64,
    latency_ns: Histogram<u64>,
    messages: Histogram<u64>,
    rounds: Histogram<u64>,
    /// Counts of small message and round numbers not yet moved into the histograms: a plain
    /// array increment is several times cheaper than a histogram record.
    small_messages: [u64; SMALL],
    small_rounds: [u64; SMALL],
}

/// Values below this are counted in a plain array first (see [`Tally::settle`]).
const SMALL: usize = 64;

/// The latency histogram's bucket layout (HdrHistogram's, for values from 1 to
/// [`LATENCY_MAX_NS`] at 3 significant digits: 2048 sub-buckets, half of them per doubling).
mod layout {
    /// Bits of a bucket's 1024 sub-buckets.
    pub const HALF_MAGNITUDE: u32 = 10;

    /// The bucket index of `value`.
    #[inline(always)]
    pub const fn index(value: u64) -> usize {
        // The bucket: how far `value` is shifted to leave it 11 bits (at most 53).
        let bucket = (value | 1024).ilog2() - HALF_MAGNITUDE;
        ((bucket << HALF_MAGNITUDE) as u64 + (value >> bucket)) as usize
    }

    /// The lowest value of bucket index `i`.
    pub fn value(i: usize) -> u64 {
        let bucket = (i >> HALF_MAGNITUDE) as i64 - 1;
        let sub = ((i & 1023) + 1024) as u64;
        if bucket < 0 {
            sub - 1024
        } else {
            sub << bucket
        }
    }
}

/// Latency counts by bucket index not yet moved into a tally's histogram, one array per
/// thread, kept between chunks and cleared where used: an array increment per trial instead
/// of a histogram record.
struct Pending {
    /// One per bucket index of any 64-bit value, so that no index needs a clamp: those beyond
    /// the histogram's are moved in as `saturating_record` records them.
    counts: Box<[u64; PENDING_COUNTS]>,
}

impl Pending {
    fn new() -> Self {
        debug_assert_eq!(
            Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_NS, SIGNIFICANT_DIGITS)
                .map(|h| h.distinct_values()),
            Ok(LATENCY_COUNTS)
        );
        let counts = vec![0; PENDING_COUNTS].into_boxed_slice();
        Self {
            counts: counts.try_into().expect("PENDING_COUNTS counts"),
        }
    }
}

/// How many counts a histogram with bounds `1..=max` has: HdrHistogram's count array holds
/// one more bucket than `max` needs, 1024 counts each.
const fn counts_for(max: u64) -> usize {
    let (mut untrackable, mut buckets) = (2048u64, 1);
    while untrackable <= max {
        untrackable <<= 1;
        buckets += 1;
    }
    (buckets + 1) * 1024
}

/// How many counts the latency histogram would have with fixed bounds.
const LATENCY_COUNTS: usize = counts_for(LATENCY_MAX_NS);

/// The range of a histogram: its largest value, and the counts a histogram with the fixed
/// bounds `1..=max` has.
#[derive(Clone, Copy)]
struct Bound {
    max: u64,
    counts: usize,
}

impl Bound {
    const fn new(max: u64) -> Self {
        Self {
            max,
            counts: counts_for(max),
        }
    }
}

const LATENCY: Bound = Bound::new(LATENCY_MAX_NS);
const MESSAGES: Bound = Bound::new(MESSAGES_MAX);
const ROUNDS: Bound = Bound::new(ROUNDS_MAX);

/// The value a histogram bounded by `max` records for `value`: itself where its bucket lies
/// in the count array a histogram with the fixed bounds `1..=max` has, `max` beyond, as
/// `saturating_record` does with such a histogram. The histograms grow with the largest
/// value recorded instead (a cell's tally costs what it records), and record exactly the
/// same buckets.
#[inline]
fn clamped(value: u64, bound: Bound) -> u64 {
    if layout::index(value) < bound.counts {
        value
    } else {
        bound.max
    }
}

/// Room for the bucket index of every 64-bit value (the largest is 56,319), rounded up to a
/// power of two so that masking an index with [`PENDING_MASK`] proves it in bounds.
const PENDING_COUNTS: usize = (layout::index(u64::MAX) + 1).next_power_of_two();
const PENDING_MASK: usize = PENDING_COUNTS - 1;

thread_local! {
    static PENDING: std::cell::RefCell<Pending> = std::cell::RefCell::new(Pending::new());
}

/// Records trials into a [`Tally`] (see [`Tally::recording`]): messages and rounds as runs of
/// equal values (most protocols send the same number most of the time) counted by trial
/// index; the latencies of successes stored as they come and counted `BUFFER` at a time,
/// in a per-thread array; all moved into the tally when recording ends. A usual trial
/// stores its latency and compares its message and round counts with the current runs'.
pub struct Recorder<'a> {
    tally: &'a mut Tally,
    pending: &'a mut [u64; PENDING_COUNTS],
    trials: u64,
    successes: u64,
    blocked: u64,
    latency_sum_ns: u128,
    latency_max_ns: u64,
    messages: Run,
    rounds: Run,
    extras_sum: [u128; MAX_EXTRAS],
    /// Latencies of successes not yet counted: the first `buffered`, always fewer than
    /// [`BUFFER`].
    buffer: [u64; BUFFER],
    buffered: usize,
}

/// Latencies counted at a time.
const BUFFER: usize = 256;

/// The trials from index `start` on, up to the next run, all with the same `value`.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    value: u64,
    start: u64,
}

impl Recorder<'_> {
    /// [`Tally::record`], cheaper.
    pub fn record(&mut self, outcome: &Outcome, extras: usize) {
        self.record_each(1, || *outcome, extras);
    }

    /// Records the outcomes of `trials` calls of `trial`.
    #[inline(always)]
    pub fn record_each(&mut self, trials: u64, mut trial: impl FnMut() -> Outcome, extras: usize) {
        let start = self.trials;
        for i in start..start + trials {
            let outcome = trial();
            self.record_at(i, &outcome, extras);
        }
        self.trials = start + trials;
    }

    /// Records trial number `i` of this recording.
    #[inline(always)]
    fn record_at(&mut self, i: u64, outcome: &Outcome, extras: usize) {
        match outcome.status {
            Status::Success => {
                // `% BUFFER` changes nothing but spares a bounds check.
                self.buffer[self.buffered % BUFFER] = outcome.latency_ns;
                self.buffered += 1;
                if self.buffered == BUFFER {
                    self.count_buffered();
                }
            }
            Status::Blocked => self.blocked += 1,
            Status::Failure => {}
        }
        if outcome.messages != self.messages.value {
            self.new_messages(i, outcome.messages);
        }
        if u64::from(outcome.rounds) != self.rounds.value {
            self.new_rounds(i, outcome.rounds.into());
        }
        for (sum, &x) in self.extras_sum.iter_mut().zip(&outcome.extras).take(extras) {
            *sum += u128::from(x);
        }
    }

    /// Counts the buffered latencies. In a loop of their own, away from the long chains of
    /// dependent instructions that make up a trial, the processor overlaps many of them.
    #[inline(never)]
    fn count_buffered(&mut self) {
        let (mut sum, mut max) = (self.latency_sum_ns, self.latency_max_ns);
        for &ns in &self.buffer[..self.buffered] {
            sum += u128::from(ns);
            max = max.max(ns);
            self.pending[layout::index(ns) & PENDING_MASK] += 1;
        }
        (self.latency_sum_ns, self.latency_max_ns) = (sum, max);
        self.successes += self.buffered as u64;
        self.buffered = 0;
    }

    #[inline(never)]
    fn new_messages(&mut self, i: u64, value: u64) {
        let run = std::mem::replace(&mut self.messages, Run { value, start: i });
        self.tally.add_messages(run.value, i - run.start);
    }

    #[inline(never)]
    fn new_rounds(&mut self, i: u64, value: u64) {
        let run = std::mem::replace(&mut self.rounds, Run { value, start: i });
        self.tally.add_rounds(run.value, i - run.start);
    }

    /// Moves everything recorded into the tally.
    fn finish(mut self) {
        self.count_buffered();
        let (trials, messages, rounds) = (self.trials, self.messages, self.rounds);
        let t = &mut *self.tally;
        t.add_messages(messages.value, trials - messages.start);
        t.add_rounds(rounds.value, trials - rounds.start);
        // The maximum bounds the counts to move, and a scan finds the lowest; the highest
        // first, so that the histogram grows once, to its final size.
        let counts = &mut self.pending[..=layout::index(self.latency_max_ns)];
        let lowest = counts.iter().position(|&c| c > 0).unwrap_or(counts.len());
        for (i, count) in counts.iter_mut().enumerate().skip(lowest).rev() {
            let count = std::mem::take(count);
            if count > 0 {
                record_n(&mut t.latency_ns, layout::value(i), count, LATENCY);
            }
        }
        t.successes += self.successes;
        t.blocked += self.blocked;
        t.failures += trials - self.successes - self.blocked;
        t.latency_sum_ns += self.latency_sum_ns;
        t.latency_max_ns = t.latency_max_ns.max(self.latency_max_ns);
        for (sum, x) in t.extras_sum.iter_mut().zip(self.extras_sum) {
            *sum += x;
        }
    }
}

/// An empty histogram that grows as values are recorded ([`clamped`]).
fn histogram() -> Histogram<u64> {
    Histogram::new(SIGNIFICANT_DIGITS).expect("valid significant digits")
}

/// Records `count` times `value` into a histogram bounded by `bound` ([`clamped`]).
#[inline]
fn record_n(histogram: &mut Histogram<u64>, value: u64, count: u64, bound: Bound) {
    histogram
        .record_n(clamped(value, bound), count)
        .expect("an auto-resizing histogram records values up to 2^62");
}

impl Tally {
    /// A tally of no trials.
    pub fn empty() -> Self {
        Self {
            successes: 0,
            failures: 0,
            blocked: 0,
            latency_sum_ns: 0,
            latency_max_ns: 0,
            messages_sum: 0,
            messages_max: 0,
            rounds_sum: 0,
            rounds_max: 0,
            extras_sum: [0; MAX_EXTRAS],
            chunks: 0,
            busy_ns: 0,
            latency_ns: histogram(),
            messages: histogram(),
            rounds: histogram(),
            small_messages: [0; SMALL],
            small_rounds: [0; SMALL],
        }
    }

    /// A tally from its scalar fields (taken from `scalars`) and its three histograms, which
    /// must count from 1 at [`SIGNIFICANT_DIGITS`] digits, as [`Tally::empty`]'s do, so that
    /// tallies keep merging exactly.
    pub fn from_parts(
        mut scalars: Tally,
        mut latency_ns: Histogram<u64>,
        mut messages: Histogram<u64>,
        mut rounds: Histogram<u64>,
    ) -> Result<Self, String> {
        for (name, h, bound) in [
            ("latency", &mut latency_ns, LATENCY),
            ("messages", &mut messages, MESSAGES),
            ("rounds", &mut rounds, ROUNDS),
        ] {
            if (h.low(), h.sigfig()) != (1, SIGNIFICANT_DIGITS) {
                return Err(format!(
                    "{name} histogram counts from {} at {} digits, not from 1 at {SIGNIFICANT_DIGITS}",
                    h.low(),
                    h.sigfig(),
                ));
            }
            if !h.is_empty() && clamped(h.max(), bound) != h.max() {
                return Err(format!(
                    "{name} histogram holds {}, beyond its range (at most {})",
                    h.max(),
                    bound.max
                ));
            }
            h.auto(true);
        }
        scalars.latency_ns = latency_ns;
        scalars.messages = messages;
        scalars.rounds = rounds;
        Ok(scalars)
    }

    /// Adds one trial and the first `extras` of its own counts; never allocates and never
    /// fails (out-of-range values saturate in the histograms and stay exact in the sums and
    /// maxima).
    #[inline]
    pub fn record(&mut self, outcome: &Outcome, extras: usize) {
        if self.record_counts(outcome, extras) {
            record_n(&mut self.latency_ns, outcome.latency_ns, 1, LATENCY);
        }
    }

    /// Runs `f` with a [`Recorder`] that records into this tally, then settles it.
    pub fn recording<R>(&mut self, f: impl FnOnce(&mut Recorder<'_>) -> R) -> R {
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            let mut recorder = Recorder {
                tally: self,
                pending: &mut pending.counts,
                trials: 0,
                successes: 0,
                blocked: 0,
                latency_sum_ns: 0,
                latency_max_ns: 0,
                messages: Run::default(),
                rounds: Run::default(),
                extras_sum: [0; MAX_EXTRAS],
                buffer: [0; BUFFER],
                buffered: 0,
            };
            let out = f(&mut recorder);
            recorder.finish();
            self.settle();
            out
        })
    }

    /// Adds `count` trials that sent `value` messages each.
    fn add_messages(&mut self, value: u64, count: u64) {
        if count == 0 {
            return;
        }
        match self.small_messages.get_mut(value as usize) {
            Some(small) => *small += count,
            None => record_n(&mut self.messages, value, count, MESSAGES),
        }
        self.messages_sum += u128::from(value) * u128::from(count);
        self.messages_max = self.messages_max.max(value);
    }

    /// Adds `count` trials of `value` rounds each.
    fn add_rounds(&mut self, value: u64, count: u64) {
        if count == 0 {
            return;
        }
        match self.small_rounds.get_mut(value as usize) {
            Some(small) => *small += count,
            None => record_n(&mut self.rounds, value, count, ROUNDS),
        }
        self.rounds_sum += u128::from(value) * u128::from(count);
        self.rounds_max = self.rounds_max.max(value);
    }

    /// Everything [`Tally::record`] does but the latency histogram; true for a success.
    #[inline(always)]
    fn record_counts(&mut self, outcome: &Outcome, extras: usize) -> bool {
        let success = match outcome.status {
            Status::Success => {
                self.successes += 1;
                self.latency_sum_ns += u128::from(outcome.latency_ns);
                self.latency_max_ns = self.latency_max_ns.max(outcome.latency_ns);
                true
            }
            Status::Failure => {
                self.failures += 1;
                false
            }
            Status::Blocked => {
                self.blocked += 1;
                false
            }
        };
        match self.small_messages.get_mut(outcome.messages as usize) {
            Some(count) => *count += 1,
            None => record_n(&mut self.messages, outcome.messages, 1, MESSAGES),
        }
        self.messages_sum += u128::from(outcome.messages);
        self.messages_max = self.messages_max.max(outcome.messages);
        let rounds = u64::from(outcome.rounds);
        match self.small_rounds.get_mut(rounds as usize) {
            Some(count) => *count += 1,
            None => record_n(&mut self.rounds, rounds, 1, ROUNDS),
        }
        self.rounds_sum += u128::from(rounds);
        self.rounds_max = self.rounds_max.max(rounds);
        for (sum, &x) in self.extras_sum.iter_mut().zip(&outcome.extras).take(extras) {
            *sum += u128::from(x);
        }
        success
    }

    /// Moves the small counts into the histograms; [`Tally::messages`] and
    /// [`Tally::rounds`] are complete only after it (the engine settles every chunk).
    pub fn settle(&mut self) {
        for (histogram, small, bound) in [
            (&mut self.messages, &mut self.small_messages, MESSAGES),
            (&mut self.rounds, &mut self.small_rounds, ROUNDS),
        ] {
            for (value, count) in small.iter_mut().enumerate() {
                if *count > 0 {
                    record_n(histogram, value as u64, *count, bound);
                    *count = 0;
                }
            }
        }
    }

    /// Adds every trial of `other`.
    pub fn merge(&mut self, other: &Tally) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.blocked += other.blocked;
        self.latency_sum_ns += other.latency_sum_ns;
        self.latency_max_ns = self.latency_max_ns.max(other.latency_max_ns);
        self.messages_sum += other.messages_sum;
        self.messages_max = self.messages_max.max(other.messages_max);
        self.rounds_sum += other.rounds_sum;
        self.rounds_max = self.rounds_max.max(other.rounds_max);
        for (sum, x) in self.extras_sum.iter_mut().zip(other.extras_sum) {
            *sum += x;
        }
        self.chunks += other.chunks;
        self.busy_ns += other.busy_ns;
        let same = "histograms of equal bounds always add";
        self.latency_ns.add(&other.latency_ns).expect(same);
        self.messages.add(&other.messages).expect(same);
        self.rounds.add(&other.rounds).expect(same);
        for (mine, theirs) in [
            (&mut self.small_messages, &other.small_messages),
            (&mut self.small_rounds, &other.small_rounds),
        ] {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// Bytes the tally holds: its counters and its histograms' count arrays.
    pub fn memory_bytes(&self) -> usize {
        let counts = self.latency_ns.distinct_values()
            + self.messages.distinct_values()
            + self.rounds.distinct_values();
        std::mem::size_of::<Self>() + counts * std::mem::size_of::<u64>()
    }

    /// Trials recorded.
    pub fn trials(&self) -> u64 {
        self.successes + self.failures + self.blocked
    }

    /// Latencies of successful trials, in nanoseconds.
    pub fn latency_ns(&self) -> &Histogram<u64> {
        &self.latency_ns
    }

    /// Messages per trial (complete once [settled](Tally::settle)).
    pub fn messages(&self) -> &Histogram<u64> {
        &self.messages
    }

    /// Rounds per trial (complete once [settled](Tally::settle)).
    pub fn rounds(&self) -> &Histogram<u64> {
        &self.rounds
    }
}

/// The non-empty buckets of one of a tally's histograms, in ascending order: each as its
/// lowest and highest value and its count. The same buckets as `iter_recorded`, found by
/// visiting only the indices from the smallest value recorded (0 included) to the largest.
pub fn recorded(histogram: &Histogram<u64>) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    let (first, last) = match histogram.is_empty() {
        true => (1, 0),
        false => (
            layout::index(histogram.min()),
            layout::index(histogram.max()),
        ),
    };
    (first..=last).filter_map(|i| {
        let value = layout::value(i);
        let count = histogram.count_at(value);
        (count > 0).then(|| {
            let high = histogram.highest_equivalent(value);
            (histogram.lowest_equivalent(high), high, count)
        })
    })
}

/// Equal results: every field but the measured [`Tally::busy_ns`].
impl PartialEq for Tally {
    fn eq(&self, other: &Self) -> bool {
        self.successes == other.successes
            && self.failures == other.failures
            && self.blocked == other.blocked
            && self.latency_sum_ns == other.latency_sum_ns
            && self.latency_max_ns == other.latency_max_ns
            && self.messages_sum == other.messages_sum
            && self.messages_max == other.messages_max
            && self.rounds_sum == other.rounds_sum
            && self.rounds_max == other.rounds_max
            && self.extras_sum == other.extras_sum
            && self.chunks == other.chunks
            && self.latency_ns == other.latency_ns
            && self.messages == other.messages
            && self.rounds == other.rounds
            && self.small_messages == other.small_messages
            && self.small_rounds == other.small_rounds
    }
}

/// A settled tally of `successes` trials with latencies `latency_ns(i)` and `failures` failed
/// ones, each of one message and one round: for tests of what reads tallies.
#[cfg(test)]
pub(crate) fn tally_of(successes: u64, failures: u64, latency_ns: impl Fn(u64) -> u64) -> Tally {
    use crate::model::Outcome;
    let mut t = Tally::empty();
    for i in 0..successes {
        t.record(&Outcome::success(latency_ns(i), 1, 1), 0);
    }
    for _ in 0..failures {
        t.record(&Outcome::failure(1, 1), 0);
    }
    t.settle();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::empty();
        outcomes.iter().for_each(|o| t.record(o, 1));
        t.settle();
        t
    }

    #[test]
    fn recorded_buckets_are_those_the_histogram_iterates() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for case in 0..200u32 {
            let mut h = histogram();
            // Values over 1 to 2^(8 + case % 50), including both ends of the range.
            let top = 1u64 << (8 + case % 50);
            for _ in 0..(case % 17) * 40 {
                let v = rng.random_range(1..=top);
                h.record_n(v, 1 + u64::from(case % 3)).unwrap();
            }
            if case % 5 == 0 {
                h.record(top).unwrap();
                h.record(1).unwrap();
            }
            if case % 3 == 0 {
                // No messages or rounds: a count at value 0.
                h.record(0).unwrap();
            }
            let expected: Vec<(u64, u64, u64)> = h
                .iter_recorded()
                .map(|v| {
                    let high = v.value_iterated_to();
                    (h.lowest_equivalent(high), high, v.count_at_value())
                })
                .collect();
            assert_eq!(recorded(&h).collect::<Vec<_>>(), expected, "case {case}");
        }
        assert_eq!(recorded(&histogram()).count(), 0);
    }

    #[test]
    fn merge_is_order_independent() {
        let a = tally(&[
            Outcome::success(10, 3, 1).with_extras([2, 9, 0, 0]),
            Outcome::blocked(4, 1),
        ]);
        let b = tally(&[Outcome::success(5_000_000, 300, 2)]);
        let c = tally(&[Outcome::failure(7, 2), Outcome::success(42, 1, 1)]);
        let mut abc = a.clone();
        abc.merge(&b);
        abc.merge(&c);
        let mut cba = c.clone();
        cba.merge(&b);
        cba.merge(&a);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut a_bc = a.clone();
        a_bc.merge(&bc);
        assert_eq!(abc, cba);
        assert_eq!(abc, a_bc);
        assert_eq!(abc.trials(), 5);
        assert_eq!(abc.latency_max_ns, 5_000_000);
        assert_eq!(abc.latency_ns().len(), 3);
        assert_eq!(
            abc.extras_sum,
            [2, 0, 0, 0],
            "only the first extra was recorded"
        );
    }

    #[test]
    fn the_recorder_fills_the_same_histogram_as_record() {
        let mut rng = crate::rng::stream(8, 0, 0);
        let outcomes: Vec<Outcome> = (0..20_000)
            .map(|i| {
                let x = rand::Rng::next_u64(&mut rng);
                // Values at every scale, including 0, bucket edges and beyond the maximum.
                let ns = match i % 5 {
                    0 => x >> (x % 64),
                    1 => x % 4096,
                    2 => LATENCY_MAX_NS + (x >> 60),
                    3 => 1 << (x % 63),
                    _ => x,
                };
                let (messages, rounds) = (x % 100 / 40, (x >> 20) as u32 % 3);
                match i % 7 {
                    0 => Outcome::failure(messages, rounds),
                    1 => Outcome::blocked(messages + 70, rounds),
                    _ => Outcome::success(ns, messages, rounds),
                }
                .with_extras([x % 5, 0, 0, 0])
            })
            .collect();
        let direct = tally(&outcomes);
        let mut recorded = Tally::empty();
        recorded.recording(|r| outcomes.iter().for_each(|o| r.record(o, 1)));
        assert_eq!(direct, recorded);
        assert_eq!((direct.failures, direct.blocked), (2858, 2857));
        assert_eq!(direct.latency_ns().len(), 20_000 - 2858 - 2857);
        // The per-thread array was left clean: a second recording starts from nothing.
        let mut again = Tally::empty();
        again.recording(|r| r.record(&Outcome::success(1_000, 1, 1), 0));
        assert_eq!(again.latency_ns().len(), 1);
    }

    #[test]
    fn the_recorder_saturates_values_beyond_the_histogram_as_record_does() {
        // The histogram's maximum, the value after it and the largest value there is, each at
        // its own index: the last two beyond the histogram's count array.
        let values = [LATENCY_MAX_NS, LATENCY_MAX_NS + 1, u64::MAX];
        assert!(layout::index(values[0]) < LATENCY_COUNTS);
        assert!(layout::index(values[1]) >= LATENCY_COUNTS);
        assert_eq!(
            layout::index(u64::MAX) & PENDING_MASK,
            layout::index(u64::MAX)
        );
        let outcomes = values.map(|ns| Outcome::success(ns, 1, 1));
        let mut recorded = Tally::empty();
        recorded.recording(|r| outcomes.iter().for_each(|o| r.record(o, 0)));
        assert_eq!(recorded, tally(&outcomes));
        assert_eq!(recorded.latency_ns().len(), 3);
        assert_eq!(recorded.latency_max_ns, u64::MAX);
        // Nothing was left behind for the next recording.
        let mut again = Tally::empty();
        again.recording(|r| r.record(&Outcome::success(LATENCY_MAX_NS, 1, 1), 0));
        assert_eq!(again.latency_ns().len(), 1);
    }

    #[test]
    fn out_of_range_values_saturate_but_stay_exact_in_sums() {
        let huge = u64::MAX - 5;
        let t = tally(&[Outcome::success(huge, MESSAGES_MAX * 2, u32::MAX)]);
        assert_eq!(t.latency_max_ns, huge);
        assert_eq!(t.latency_sum_ns, u128::from(huge));
        assert_eq!(t.latency_ns().max(), LATENCY_MAX_NS);
        assert_eq!(t.messages_max, MESSAGES_MAX * 2);
    }
}
