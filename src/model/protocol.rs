//! The [`Protocol`] trait a model implements, and [`Simulate`], the loop over its trials
//! behind a trait object.

use std::fmt;

use super::outcome::{Extra, Outcome};
use super::tally::Tally;
use crate::rng::SimRng;

/// A protocol model with all its parameters fixed: it runs one trial at a time.
pub trait Protocol: Send + Sync + 'static {
    /// The protocol's own counts, reported in [`Outcome::extras`].
    const EXTRAS: &'static [Extra] = &[];

    /// Working memory reused across the trials of a chunk, so that trials allocate nothing.
    type Scratch: Send;

    /// Fresh working memory, sized for this model.
    fn scratch(&self) -> Self::Scratch;

    /// Runs one independent trial.
    fn trial(&self, rng: &mut SimRng, scratch: &mut Self::Scratch) -> Outcome;

    /// How trials are sampled.
    fn sampler(&self) -> Sampler {
        Sampler::PerNode
    }
}

/// A [`Protocol`] behind a trait object: runs chunks of trials in a loop compiled for the
/// concrete protocol, so dynamic dispatch costs one call per chunk, not per trial.
pub trait Simulate: Send + Sync {
    /// Runs `trials` trials drawing from `rng` and records them in `tally`.
    fn run(&self, rng: &mut SimRng, trials: u64, tally: &mut Tally);

    /// Runs chunks of trials drawing from `rng`, recording them all in `tally` in one go (the
    /// latency counts move into its histogram once, not once per chunk): before each chunk,
    /// `next` sets `rng` to the chunk's stream and returns its trial count, or `None` to
    /// stop. [`Simulate::run`] is this with a single chunk.
    fn run_streams(
        &self,
        rng: &mut SimRng,
        next: &mut dyn FnMut(&mut SimRng) -> Option<u64>,
        tally: &mut Tally,
    );

    /// [`Protocol::sampler`].
    fn sampler(&self) -> Sampler;
}

impl<P: Protocol> Simulate for P {
    fn run(&self, rng: &mut SimRng, trials: u64, tally: &mut Tally) {
        let mut once = Some(trials);
        self.run_streams(rng, &mut |_| once.take(), tally);
    }

    // The one loop over trials, so that `trial` has one caller and is inlined into it. Each
    // chunk starts from fresh scratch: a model whose scratch carries state from trial to trial
    // (a sequencer's queue) then gives a chunk the same trials whichever chunks a thread ran
    // before it.
    fn run_streams(
        &self,
        rng: &mut SimRng,
        next: &mut dyn FnMut(&mut SimRng) -> Option<u64>,
        tally: &mut Tally,
    ) {
        let mut scratch = self.scratch();
        let mut first = true;
        tally.recording(|recorder| {
            while let Some(trials) = next(rng) {
                if !std::mem::take(&mut first) {
                    scratch = self.scratch();
                }
                recorder.record_each(trials, || self.trial(rng, &mut scratch), Self::EXTRAS.len());
            }
        });
    }

    fn sampler(&self) -> Sampler {
        Protocol::sampler(self)
    }
}

/// How a model samples its trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// Every node and message simulated.
    PerNode,
    /// Counts and order statistics drawn from their distributions.
    Direct,
}

impl Sampler {
    /// The word in the summary's `sampler` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerNode => "per-node",
            Self::Direct => "direct",
        }
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
