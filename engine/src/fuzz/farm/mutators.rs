//! Mutators: LibAFL [`Mutator`]s over [`Blueprint`]s, one per structured edit the blueprint
//! offers, plus byte-level havoc on its byte fields; all scheduled by one havoc scheduler.

use crate::fuzz::program::Blueprint;
use arbitrary::Unstructured;
use libafl::Error;
use libafl::corpus::{Corpus, CorpusId};
use libafl::mutators::{HavocScheduledMutator, MutationResult, Mutator, StateAwareMappingMutator, havoc_mutations_no_crossover};
use libafl::state::{HasCorpus, HasMaxSize, HasRand};
use libafl_bolts::Named;
use libafl_bolts::rands::Rand;
use libafl_bolts::tuples::tuple_list;
use std::borrow::Cow;
use std::num::NonZeroUsize;

/// Bytes of randomness handed to one structured edit: plenty for a few pieces and values.
const ENTROPY: usize = 1024;

/// How many edits are stacked on one input: 2^(1..=STACK_POW) (2, 4 or 8). Structured edits
/// are large, so fewer than LibAFL's byte-havoc default of up to 128.
const STACK_POW: usize = 3;

/// Fresh random bytes from the state's generator, for an [`Unstructured`].
pub(crate) fn entropy<R: Rand>(rand: &mut R, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rand.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn result(mutated: bool) -> MutationResult {
    if mutated { MutationResult::Mutated } else { MutationResult::Skipped }
}

/// One structured edit of a [`Blueprint`] (insert, replace or delete a piece, change the
/// transaction or the pre-state), fed with random bytes from the state.
#[derive(Debug)]
pub struct EditMutator {
    name: Cow<'static, str>,
    edit: fn(&mut Blueprint, &mut Unstructured<'_>) -> bool,
}

impl EditMutator {
    /// A mutator applying `edit`, called `name` in LibAFL's logs.
    pub fn new(name: &'static str, edit: fn(&mut Blueprint, &mut Unstructured<'_>) -> bool) -> Self {
        EditMutator { name: Cow::Borrowed(name), edit }
    }
}

impl Named for EditMutator {
    fn name(&self) -> &Cow<'static, str> {
        &self.name
    }
}

impl<S: HasRand> Mutator<Blueprint, S> for EditMutator {
    fn mutate(&mut self, state: &mut S, input: &mut Blueprint) -> Result<MutationResult, Error> {
        let bytes = entropy(state.rand_mut(), ENTROPY);
        Ok(result((self.edit)(input, &mut Unstructured::new(&bytes))))
    }

    fn post_exec(&mut self, _state: &mut S, _new_corpus_id: Option<CorpusId>) -> Result<(), Error> {
        Ok(())
    }
}

/// Splices pieces of another corpus entry, chosen at random, into the input.
#[derive(Debug)]
pub struct SpliceMutator {
    name: Cow<'static, str>,
}

impl SpliceMutator {
    /// The splice mutator.
    pub fn new() -> Self {
        SpliceMutator { name: Cow::Borrowed("splice") }
    }
}

impl Default for SpliceMutator {
    fn default() -> Self {
        Self::new()
    }
}

impl Named for SpliceMutator {
    fn name(&self) -> &Cow<'static, str> {
        &self.name
    }
}

impl<S: HasRand + HasCorpus<Blueprint>> Mutator<Blueprint, S> for SpliceMutator {
    fn mutate(&mut self, state: &mut S, input: &mut Blueprint) -> Result<MutationResult, Error> {
        let Some(count) = NonZeroUsize::new(state.corpus().count()) else {
            return Ok(MutationResult::Skipped);
        };
        let nth = state.rand_mut().below(count);
        let id = state.corpus().nth(nth);
        // Splicing an entry with itself only duplicates its pieces; leave that to insert.
        if *state.corpus().current() == Some(id) {
            return Ok(MutationResult::Skipped);
        }
        let other = state.corpus().cloned_input_for_id(id)?;
        let bytes = entropy(state.rand_mut(), ENTROPY);
        Ok(result(input.splice(&other, &mut Unstructured::new(&bytes))))
    }

    fn post_exec(&mut self, _state: &mut S, _new_corpus_id: Option<CorpusId>) -> Result<(), Error> {
        Ok(())
    }
}

/// Picks one of the input's byte fields (calldata, a raw code piece, ...) for byte havoc.
fn byte_field<'a, S: HasRand>(input: &'a mut Blueprint, state: &'a mut S) -> (Option<&'a mut Vec<u8>>, &'a mut S) {
    // Truncation on 32-bit targets only narrows the choice; any value is valid.
    let choice = state.rand_mut().next() as usize;
    (input.bytes_mut(choice), state)
}

/// Every mutator of the farm behind one havoc scheduler: each structured edit, splicing, and
/// LibAFL's byte havoc (without crossover) applied to one byte field.
pub fn blueprint_mutator<S>() -> impl Mutator<Blueprint, S>
where
    S: HasRand + HasCorpus<Blueprint> + HasMaxSize,
{
    let byte_havoc = StateAwareMappingMutator::new(byte_field::<S>, HavocScheduledMutator::new(havoc_mutations_no_crossover()));
    HavocScheduledMutator::with_max_stack_pow(
        tuple_list!(
            EditMutator::new("insert_piece", Blueprint::insert_piece),
            EditMutator::new("replace_piece", Blueprint::replace_piece),
            EditMutator::new("perturb_operand", Blueprint::perturb_operand),
            EditMutator::new("delete_piece", Blueprint::delete_piece),
            SpliceMutator::new(),
            EditMutator::new("mutate_tx", Blueprint::mutate_tx),
            EditMutator::new("mutate_pre", Blueprint::mutate_pre),
            byte_havoc,
        ),
        STACK_POW,
    )
}
