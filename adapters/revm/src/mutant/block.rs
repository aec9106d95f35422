//! The block-level canary `stale-slot-in-block`: a per-block storage cache that is not
//! refreshed between the transactions of a block.

use super::MutantRevm;
use revm::primitives::U256;
use schism_interface::fixture::Accounts;
use schism_interface::{BlockInput, BlockOutcome, Case, Client, ClientError, Fork, Outcome, SystemCall, SystemOutcome, TraceMode};

/// Executes `block` with every transaction reading the slots that earlier transactions of the
/// block wrote at their block-start values.
pub(super) fn execute_stale(client: &MutantRevm, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
    let stale = StaleView { inner: client, block_start: &block.pre };
    schism_interface::sequence::execute::by_transactions(&stale, block, mode)
}

/// The stale-slot canary: each transaction of a block sees the slots that earlier transactions
/// of the block changed at their block-start values; its own changes are then applied to the
/// real state. A single transaction, and a slot written in an earlier block, are unaffected.
struct StaleView<'a> {
    inner: &'a MutantRevm,
    block_start: &'a Accounts,
}

impl StaleView<'_> {
    /// `current` with every slot that differs from the block start read back at its
    /// block-start value.
    fn view(&self, current: &Accounts) -> Accounts {
        let mut view = current.clone();
        for (address, account) in view.iter_mut() {
            let start = self.block_start.get(address);
            let slots: Vec<U256> = account.storage.keys().copied().chain(start.iter().flat_map(|s| s.storage.keys().copied())).collect();
            for slot in slots {
                let old = start.and_then(|s| s.storage.get(&slot)).copied().unwrap_or_default();
                account.storage.insert(slot, old);
            }
        }
        view
    }
}

/// Applies what a transaction changed relative to `seen` (the view it ran on) to `real`.
fn rebase(real: &Accounts, seen: &Accounts, after: &Accounts) -> Accounts {
    let mut out = real.clone();
    for address in seen.keys().chain(after.keys()) {
        match (seen.get(address), after.get(address)) {
            (Some(_), None) => {
                out.remove(address);
            }
            (before, Some(a)) => {
                let entry = out.entry(*address).or_default();
                entry.balance = a.balance;
                entry.nonce = a.nonce;
                entry.code = a.code.clone();
                let empty = Default::default();
                let before_storage = before.map_or(&empty, |b| &b.storage);
                for slot in a.storage.keys().chain(before_storage.keys()) {
                    let now = a.storage.get(slot).copied().unwrap_or_default();
                    if before_storage.get(slot).copied().unwrap_or_default() != now {
                        entry.storage.insert(*slot, now);
                    }
                }
            }
            (None, None) => {}
        }
    }
    schism_interface::state::drop_zero_slots(&mut out);
    out
}

impl Client for StaleView<'_> {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn version(&self) -> &str {
        self.inner.version()
    }
    fn supports(&self, fork: Fork) -> bool {
        self.inner.supports(fork)
    }
    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        let seen = self.view(&case.pre);
        let viewed = Case { pre: std::sync::Arc::new(seen), ..case.clone() };
        let mut outcome = crate::execute(self.inner.id(), &viewed, mode, None)?;
        if let Some(after) = &outcome.post_state {
            let post = rebase(&case.pre, &viewed.pre, after);
            outcome.state_root = schism_interface::state::state_root(&post);
            outcome.post_state = Some(post);
        }
        Ok(outcome)
    }
    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        self.inner.system_call(call)
    }
}
