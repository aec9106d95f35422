//! The corpus scheduler: LibAFL's minimising scheduler (favour the smallest, fastest entry for
//! each feature), culled only when the corpus changed.
//!
//! LibAFL's `MinimizerScheduler::next` culls on every call: it walks every feature's top-rated
//! entry and marks it favoured. Only an added entry changes the top-rated map (favoured marks
//! are never taken back), so a cull with no entry added since the last one marks nothing new;
//! yet with thousands of features it took an eighth of a one-job farm's time (`perf` over
//! `schism fuzz --jobs 1`, seed 7). This wrapper culls when the corpus grew and otherwise picks
//! exactly as LibAFL's `next` does. Early in a farm the corpus grows at nearly every pick, so a
//! cull also waits for [`CULL_EVERY`] since the last (it still took 4.7% of a 20-second one-job
//! farm): an entry added meanwhile is picked as a non-favoured one for at most that long.

use libafl::Error;
use libafl::common::HasMetadata;
use libafl::corpus::{Corpus, CorpusId};
use libafl::observers::CanTrack;
use libafl::schedulers::minimizer::{DEFAULT_SKIP_NON_FAVORED_PROB, IsFavoredMetadata, MinimizerScheduler};
use libafl::schedulers::{RemovableScheduler, Scheduler, TestcasePenalty};
use libafl::state::{HasCorpus, HasRand};
use libafl_bolts::rands::Rand;
use libafl_bolts::serdeany::SerdeAny;
use libafl_bolts::{AsIter, HasRefCnt, tuples::MatchName};
use std::time::{Duration, Instant};

/// The shortest time between two culls.
pub const CULL_EVERY: Duration = Duration::from_millis(250);

/// A [`MinimizerScheduler`] that culls only after the corpus changed, at most every
/// [`CULL_EVERY`].
pub struct CullOnChange<CS, F, I, M, O> {
    inner: MinimizerScheduler<CS, F, I, M, O>,
    /// The corpus size at the last cull, and when it was.
    culled_at: Option<(usize, Instant)>,
}

impl<CS, F, I, M, O> CullOnChange<CS, F, I, M, O> {
    /// Wraps `inner` (made with LibAFL's default skip probability).
    pub fn new(inner: MinimizerScheduler<CS, F, I, M, O>) -> Self {
        CullOnChange { inner, culled_at: None }
    }
}

impl<CS, F, I, M, O, S> Scheduler<I, S> for CullOnChange<CS, F, I, M, O>
where
    CS: Scheduler<I, S> + RemovableScheduler<I, S>,
    F: TestcasePenalty<I, S>,
    M: for<'a> AsIter<'a, Item = usize> + SerdeAny + HasRefCnt,
    S: HasCorpus<I> + HasMetadata + HasRand,
    O: CanTrack,
{
    fn on_add(&mut self, state: &mut S, id: CorpusId) -> Result<(), Error> {
        self.inner.on_add(state, id)
    }

    fn on_evaluation<OT>(&mut self, state: &mut S, input: &I, observers: &OT) -> Result<(), Error>
    where
        OT: MatchName,
    {
        self.inner.on_evaluation(state, input, observers)
    }

    fn next(&mut self, state: &mut S) -> Result<CorpusId, Error> {
        let size = state.corpus().count_all();
        let due = match self.culled_at {
            None => true,
            Some((at, when)) => at != size && when.elapsed() >= CULL_EVERY,
        };
        if due {
            self.inner.cull(state)?;
            self.culled_at = Some((size, Instant::now()));
        }
        // LibAFL's `next` after its cull: non-favoured entries are mostly skipped.
        let mut id = self.inner.base_mut().next(state)?;
        while !state.corpus().get(id)?.borrow().has_metadata::<IsFavoredMetadata>()
            && state.rand_mut().coinflip(DEFAULT_SKIP_NON_FAVORED_PROB)
        {
            id = self.inner.base_mut().next(state)?;
        }
        Ok(id)
    }

    fn set_current_scheduled(&mut self, state: &mut S, next_id: Option<CorpusId>) -> Result<(), Error> {
        self.inner.set_current_scheduled(state, next_id)
    }
}
