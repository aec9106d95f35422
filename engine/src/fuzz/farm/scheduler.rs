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
//!
//! The scheduler weighs a new entry by its length ([`CacheLength`] keeps it on the entry).

use libafl::Error;
use libafl::common::HasMetadata;
use libafl::corpus::{Corpus, CorpusId, Testcase};
use libafl::feedbacks::{Feedback, StateInitializer};
use libafl::observers::CanTrack;
use libafl::schedulers::minimizer::{DEFAULT_SKIP_NON_FAVORED_PROB, IsFavoredMetadata, MinimizerScheduler};
use libafl::schedulers::{RemovableScheduler, Scheduler, TestcasePenalty};
use libafl::state::{HasCorpus, HasRand};
use libafl_bolts::rands::Rand;
use libafl_bolts::serdeany::SerdeAny;
use libafl_bolts::{AsIter, HasLen, HasRefCnt, Named, tuples::MatchName};
use std::borrow::Cow;
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

/// A feedback that finds nothing interesting and records each new entry's length on it while
/// its input is still in memory. `InMemoryOnDiskCorpus::add` drops the input, and the
/// scheduler's length penalty then read the entry back from its file and parsed it (a
/// hundredth of a one-job farm's samples in `perf`); with the length recorded, it reads none.
#[derive(Debug, Default)]
pub struct CacheLength;

impl Named for CacheLength {
    fn name(&self) -> &Cow<'static, str> {
        static NAME: Cow<'static, str> = Cow::Borrowed("cache_length");
        &NAME
    }
}

impl<S> StateInitializer<S> for CacheLength {}

impl<EM, I: HasLen, OT, S: HasCorpus<I>> Feedback<EM, I, OT, S> for CacheLength {
    fn append_metadata(&mut self, state: &mut S, _: &mut EM, _: &OT, testcase: &mut Testcase<I>) -> Result<(), Error> {
        // With the input present this only measures it, and keeps the length.
        testcase.load_len(state.corpus())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libafl::corpus::InMemoryOnDiskCorpus;
    use libafl::inputs::BytesInput;

    #[test]
    fn an_entry_keeps_its_length_once_its_input_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut corpus = InMemoryOnDiskCorpus::<BytesInput>::no_meta(dir.path()).expect("corpus");
        let mut testcase = Testcase::new(BytesInput::new(vec![1, 2, 3]));
        assert_eq!(testcase.load_len(&corpus).expect("len"), 3);
        let id = corpus.add(testcase).expect("add");
        let mut entry = corpus.get(id).expect("entry").borrow_mut();
        assert!(entry.input().is_none(), "the corpus dropped the input");
        assert_eq!(entry.cached_len(), Some(3), "the length stays");
    }
}
