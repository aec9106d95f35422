//! Minimisation: the smallest case that still shows the same finding. Candidates are smaller
//! or simpler versions of the case; a candidate is kept when the predicate (the same signature,
//! see [`Examiner::reproduces`](super::Examiner::reproduces)) still holds.
//!
//! In order, until nothing changes or the budget is spent: drop accounts, authorizations,
//! access-list entries and blob hashes; delete instructions (chunks halving down to single
//! instructions, jumps kept on their JUMPDESTs); drop storage slots; shorten calldata; replace
//! PUSH values by smaller ones; bisect the gas limit; shrink value, balances and nonces.

use super::code::{Instruction, Program};
use alloy_primitives::{Bytes, U256};
use schism_interface::{Accounts, Case, Transaction, TxValue};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much work a minimisation may do.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall-clock limit.
    pub time: Duration,
    /// Limit on predicate evaluations.
    pub evaluations: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { time: Duration::from_secs(60), evaluations: 20_000 }
    }
}

impl Budget {
    /// This budget with its time cut to what is left before `deadline`, when there is one.
    pub fn until(self, deadline: Option<Instant>) -> Budget {
        match deadline {
            Some(deadline) => Budget { time: self.time.min(deadline.saturating_duration_since(Instant::now())), ..self },
            None => self,
        }
    }
}

/// What a minimisation did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Minimised {
    /// Instructions in the case's code before (every account's code and a creation's init code).
    pub instructions_before: usize,
    /// Instructions after.
    pub instructions_after: usize,
    /// Pre-state accounts before and after.
    pub accounts_before: usize,
    /// Pre-state accounts after.
    pub accounts_after: usize,
    /// Candidates evaluated.
    pub evaluations: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// False when the budget ran out before no candidate was left to try.
    pub complete: bool,
    /// Blocks before (block sequences only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_before: Option<usize>,
    /// Blocks after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_after: Option<usize>,
    /// Transactions before (block sequences only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txs_before: Option<usize>,
    /// Transactions after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txs_after: Option<usize>,
}

/// A kind of case that shrinks: the smallest version of it for which `holds` (the same
/// signature) is still true, within a budget.
pub trait Minimise: Sized {
    /// Shrinks the case while `holds` stays true.
    fn minimise(&self, budget: Budget, holds: &mut dyn FnMut(&Self) -> bool) -> (Self, Minimised);

    /// The record of the case filed as found.
    fn unminimised(&self) -> Minimised;
}

impl Minimise for Case {
    fn minimise(&self, budget: Budget, holds: &mut dyn FnMut(&Case) -> bool) -> (Case, Minimised) {
        minimise(self, budget, holds)
    }

    fn unminimised(&self) -> Minimised {
        Minimised::unminimised(self)
    }
}

impl Minimised {
    /// The record of a case filed as found.
    pub fn unminimised(case: &Case) -> Minimised {
        let n = instructions(case);
        Minimised {
            instructions_before: n,
            instructions_after: n,
            accounts_before: case.pre.len(),
            accounts_after: case.pre.len(),
            evaluations: 0,
            seconds: 0.0,
            complete: false,
            blocks_before: None,
            blocks_after: None,
            txs_before: None,
            txs_after: None,
        }
    }

    /// `from 647 to 5 instructions and from 7 to 2 accounts (427 candidates, 0.03 s)`.
    pub fn summary(&self) -> String {
        let blocks = match (self.blocks_before, self.blocks_after, self.txs_before, self.txs_after) {
            (Some(b0), Some(b1), Some(t0), Some(t1)) => format!("from {b0} to {b1} blocks, from {t0} to {t1} transactions, "),
            _ => String::new(),
        };
        format!(
            "{blocks}from {} to {} instructions and from {} to {} accounts ({} candidates, {:.2} s{})",
            self.instructions_before,
            self.instructions_after,
            self.accounts_before,
            self.accounts_after,
            self.evaluations,
            self.seconds,
            if self.complete { "" } else { ", budget spent" }
        )
    }
}

/// Instructions in all code of a case: every pre-state account's code and, for a creation,
/// the init code.
pub fn instructions(case: &Case) -> usize {
    code_instructions(&case.pre) + if case.tx.to.is_none() { Program::parse(&case.tx.data).len() } else { 0 }
}

/// Instructions in the code of every account.
pub fn code_instructions(pre: &Accounts) -> usize {
    pre.values().map(|a| Program::parse(&a.code).len()).sum()
}

struct Search<'p> {
    best: Case,
    holds: &'p mut dyn FnMut(&Case) -> bool,
    evaluations: u64,
    budget: Budget,
    started: Instant,
    /// The [`fingerprint`]s of candidates the predicate rejected: a later round of the search
    /// builds many of them again from an unchanged best case (about one evaluation in six of a
    /// farm's minimisations), and the predicate (every client run again) would reject them
    /// again. `None`: every candidate is evaluated (the tests' reference).
    rejected: Option<HashSet<(u64, u64)>>,
}

impl Search<'_> {
    fn exhausted(&self) -> bool {
        self.evaluations >= self.budget.evaluations || self.started.elapsed() >= self.budget.time
    }

    /// Tries a candidate; keeps it when the finding still holds.
    fn attempt(&mut self, candidate: Case) -> bool {
        if self.exhausted() || candidate == self.best {
            return false;
        }
        // Counted as an evaluation even when remembered, so that the budget ends the search
        // where it ended before the memory.
        self.evaluations += 1;
        let print = self.rejected.as_ref().map(|_| fingerprint(&candidate));
        if let (Some(rejected), Some(print)) = (&self.rejected, print)
            && rejected.contains(&print)
        {
            return false;
        }
        if (self.holds)(&candidate) {
            self.best = candidate;
            true
        } else {
            if let (Some(rejected), Some(print)) = (&mut self.rejected, print) {
                rejected.insert(print);
            }
            false
        }
    }

    fn with_pre(&self, edit: impl FnOnce(&mut Accounts)) -> Case {
        let mut case = self.best.clone();
        let mut pre = (*case.pre).clone();
        edit(&mut pre);
        case.pre = Arc::new(pre);
        case
    }

    /// Removes items of a list in chunks halving down to single items (ddmin's complement
    /// step). `len` reads the list's length from the best case, `drop` builds the case without
    /// items `from..to`.
    fn shrink_list(&mut self, len: impl Fn(&Case) -> usize, drop: impl Fn(&Case, usize, usize) -> Case) -> bool {
        let mut progress = false;
        let mut chunk = len(&self.best).div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < len(&self.best) && !self.exhausted() {
                let end = (start + chunk).min(len(&self.best));
                let candidate = drop(&self.best, start, end);
                if self.attempt(candidate) {
                    progress = true;
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 || self.exhausted() {
                return progress;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    fn accounts(&mut self) -> bool {
        self.shrink_list(
            |c| c.pre.len(),
            |c, from, to| {
                let mut case = c.clone();
                let pre: Accounts =
                    c.pre.iter().enumerate().filter(|(i, _)| *i < from || *i >= to).map(|(_, (a, acc))| (*a, acc.clone())).collect();
                case.pre = Arc::new(pre);
                case
            },
        )
    }

    /// Drops items of one of the transaction's lists.
    fn transaction_list<T>(&mut self, list: fn(&Transaction) -> &Vec<T>, list_mut: fn(&mut Transaction) -> &mut Vec<T>) -> bool {
        self.shrink_list(
            |c| list(&c.tx).len(),
            |c, from, to| {
                let mut case = c.clone();
                list_mut(&mut case.tx).drain(from..to);
                case
            },
        )
    }

    fn transaction_lists(&mut self) -> bool {
        let mut progress = self.transaction_list(|t| &t.authorization_list, |t| &mut t.authorization_list);
        progress |= self.transaction_list(|t| &t.access_list, |t| &mut t.access_list);
        progress |= self.transaction_list(|t| &t.blob_versioned_hashes, |t| &mut t.blob_versioned_hashes);
        progress
    }

    /// Deletes instructions from every account's code and from init code.
    fn code(&mut self) -> bool {
        let mut progress = false;
        let addresses: Vec<_> = self.best.pre.keys().copied().collect();
        for address in addresses {
            progress |= self.shrink_list(
                |c| c.pre.get(&address).map_or(0, |a| Program::parse(&a.code).len()),
                |c, from, to| {
                    let mut case = c.clone();
                    let mut pre = (*c.pre).clone();
                    if let Some(account) = pre.get_mut(&address) {
                        account.code = Program::parse(&account.code).without(|i| i >= from && i < to).assemble();
                    }
                    case.pre = Arc::new(pre);
                    case
                },
            );
        }
        if self.best.tx.to.is_none() {
            progress |= self.shrink_list(
                |c| Program::parse(&c.tx.data).len(),
                |c, from, to| {
                    let mut case = c.clone();
                    case.tx.data = Program::parse(&c.tx.data).without(|i| i >= from && i < to).assemble();
                    case
                },
            );
        } else {
            progress |= self.shrink_list(
                |c| c.tx.data.len(),
                |c, from, to| {
                    let mut case = c.clone();
                    let mut data = c.tx.data.to_vec();
                    data.drain(from..to);
                    case.tx.data = Bytes::from(data);
                    case
                },
            );
        }
        progress
    }

    fn storage(&mut self) -> bool {
        let mut progress = false;
        let addresses: Vec<_> = self.best.pre.keys().copied().collect();
        for address in addresses {
            progress |= self.shrink_list(
                |c| c.pre.get(&address).map_or(0, |a| a.storage.len()),
                |c, from, to| {
                    let mut case = c.clone();
                    let mut pre = (*c.pre).clone();
                    if let Some(account) = pre.get_mut(&address) {
                        account.storage = std::mem::take(&mut account.storage)
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| *i < from || *i >= to)
                            .map(|(_, s)| s)
                            .collect();
                    }
                    case.pre = Arc::new(pre);
                    case
                },
            );
        }
        progress
    }

    /// Replaces each PUSH value by a smaller one, and a PUSH by a narrower one.
    fn push_values(&mut self) -> bool {
        let push0 = self.best.fork >= schism_interface::Fork::Shanghai;
        let mut progress = false;
        let addresses: Vec<_> = self.best.pre.keys().copied().collect();
        for address in addresses {
            let mut index = 0;
            while let Some(program) = self.best.pre.get(&address).map(|a| Program::parse(&a.code)) {
                let Some(ins) = program.instructions.get(index) else { break };
                if ins.is_push() && ins.target.is_none() {
                    for value in smaller(ins.value()) {
                        let mut edited = program.clone();
                        edited.instructions[index] = Instruction::push(value, push0);
                        let code = edited.assemble();
                        if self.attempt(self.with_pre(|pre| {
                            if let Some(a) = pre.get_mut(&address) {
                                a.code = code;
                            }
                        })) {
                            progress = true;
                            break;
                        }
                    }
                }
                index += 1;
                if self.exhausted() {
                    break;
                }
            }
        }
        progress
    }

    /// Bisects the gas limit down to the least that still shows the finding (assuming that
    /// more gas keeps showing it).
    fn gas(&mut self) -> bool {
        let (mut lo, mut hi) = (0u64, self.best.tx.gas_limit);
        let mut progress = false;
        while hi - lo > 1 && !self.exhausted() {
            let mid = lo + (hi - lo) / 2;
            let mut candidate = self.best.clone();
            candidate.tx.gas_limit = mid;
            if self.attempt(candidate) {
                hi = mid;
                progress = true;
            } else {
                lo = mid;
            }
        }
        progress
    }

    /// Shrinks the value, the balances and the nonces.
    fn scalars(&mut self) -> bool {
        let mut progress = false;
        if let TxValue::Value(v) = self.best.tx.value {
            for value in smaller(v) {
                let mut candidate = self.best.clone();
                candidate.tx.value = TxValue::Value(value);
                if self.attempt(candidate) {
                    progress = true;
                    break;
                }
            }
        }
        let addresses: Vec<_> = self.best.pre.keys().copied().collect();
        for address in addresses {
            let Some(account) = self.best.pre.get(&address).cloned() else { continue };
            for balance in smaller(account.balance) {
                if self.attempt(self.with_pre(|pre| {
                    if let Some(a) = pre.get_mut(&address) {
                        a.balance = balance;
                    }
                })) {
                    progress = true;
                    break;
                }
            }
            if account.nonce > 1 && address != self.best.tx.sender {
                progress |= self.attempt(self.with_pre(|pre| {
                    if let Some(a) = pre.get_mut(&address) {
                        a.nonce = 1;
                    }
                }));
            }
        }
        progress
    }
}

/// A 128-bit hash of everything minimisation edits in a case (the pre-state, the transaction's
/// lists, data, gas limit and value): two candidates of one search with the same fingerprint
/// are the same candidate (a collision among a search's few thousand candidates has a
/// probability near 2^-105). A fingerprint, rather than the candidate, is kept: candidates
/// of a large pre-state are tens of kilobytes each.
fn fingerprint(case: &Case) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let hash = |seed: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        for (address, account) in case.pre.iter() {
            (address, &account.code, account.balance, account.nonce, &account.storage).hash(&mut h);
        }
        let tx = &case.tx;
        (&tx.data, tx.gas_limit, &tx.blob_versioned_hashes).hash(&mut h);
        // The lists' items and the value have no `Hash`; their `Debug` forms are short.
        format!("{:?} {:?} {:?}", tx.value, tx.access_list, tx.authorization_list).hash(&mut h);
        h.finish()
    };
    (hash(0), hash(1))
}

/// Smaller values to try in place of `v`, smallest first.
fn smaller(v: U256) -> Vec<U256> {
    let mut out = vec![U256::ZERO, U256::from(1)];
    for shift in [248, 224, 192, 128, 64, 32, 16, 8, 4, 1] {
        out.push(v >> shift);
    }
    out.retain(|x| *x < v);
    out.dedup();
    out
}

/// Shrinks `case` while `holds` stays true of it. `holds` must be true of `case` itself;
/// otherwise `case` comes back unchanged.
pub fn minimise(case: &Case, budget: Budget, holds: &mut dyn FnMut(&Case) -> bool) -> (Case, Minimised) {
    search(case, budget, holds, Some(HashSet::new()))
}

/// [`minimise`], remembering rejected candidates in `rejected` when it is `Some`.
fn search(case: &Case, budget: Budget, holds: &mut dyn FnMut(&Case) -> bool, rejected: Option<HashSet<(u64, u64)>>) -> (Case, Minimised) {
    let mut search = Search { best: case.clone(), holds, evaluations: 0, budget, started: Instant::now(), rejected };
    loop {
        let mut progress = false;
        progress |= search.accounts();
        progress |= search.transaction_lists();
        progress |= search.code();
        progress |= search.storage();
        progress |= search.push_values();
        progress |= search.gas();
        progress |= search.scalars();
        if !progress || search.exhausted() {
            break;
        }
    }
    let complete = !search.exhausted();
    let best = search.best;
    let minimised = Minimised {
        instructions_before: instructions(case),
        instructions_after: instructions(&best),
        accounts_before: case.pre.len(),
        accounts_after: best.pre.len(),
        evaluations: search.evaluations,
        seconds: search.started.elapsed().as_secs_f64(),
        complete,
        ..Minimised::unminimised(case)
    };
    (best, minimised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;
    use schism_interface::Account;

    /// A case calling a contract with `code`, plus two bystander accounts.
    fn case_with(code: Vec<u8>) -> Case {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bench/value-transfer.json");
        let schism_interface::load::FixtureFile::State(file) = schism_interface::load::read_fixture(&dir).expect("fixture") else {
            panic!("not a state test")
        };
        let (cases, _) = schism_interface::load::expand_file(&dir, &file);
        let mut case = cases.into_iter().next().expect("a case");
        let target = Address::repeat_byte(0xcc);
        let mut pre = (*case.pre).clone();
        pre.insert(
            target,
            Account { code: code.into(), nonce: 1, balance: U256::from(5), storage: [(U256::from(1), U256::from(1))].into() },
        );
        pre.insert(Address::repeat_byte(0xdd), Account { balance: U256::from(7), ..Default::default() });
        case.pre = Arc::new(pre);
        case.tx.to = Some(target);
        case.tx.data = Bytes::from(vec![1u8; 40]);
        case.tx.gas_limit = 100_000;
        case
    }

    #[test]
    fn keeps_only_what_the_predicate_needs_and_jumps_stay_valid() {
        // PUSH1 3, PUSH1 5, SAR, ... a loop and a jump, ..., PUSH2 0x100, SSTORE
        let mut code = vec![0x60, 0x03, 0x60, 0x05, 0x1d, 0x50];
        code.extend([0x61, 0x00, 0x0d, 0x56, 0xfe, 0xfe, 0xfe, 0x5b]); // PUSH2 13, JUMP, 3x INVALID, JUMPDEST @13
        code.extend([0x7f]);
        code.extend([0xab; 32]); // PUSH32
        code.extend([0x1d, 0x61, 0x01, 0x00, 0x55, 0x00]); // SAR, PUSH2 0x100, SSTORE, STOP
        let case = case_with(code);
        // The "bug": code that reaches a SAR of a value with its top bit set, stored.
        let mut holds = |c: &Case| {
            let Some(code) = c.tx.to.and_then(|t| c.pre.get(&t)).map(|a| a.code.clone()) else { return false };
            let p = Program::parse(&code);
            let sar = p.instructions.iter().position(|i| i.op == 0x1d);
            let big = p.instructions.iter().any(|i| i.is_push() && i.value().bit(255));
            sar.is_some() && big && code.contains(&0x55) && c.tx.gas_limit >= 30_000
        };
        let before = instructions(&case);
        let (small, m) = minimise(&case, Budget::default(), &mut holds);
        assert!(holds(&small));
        assert!(m.complete);
        assert_eq!(m.instructions_before, before);
        assert!(m.instructions_after <= 4, "{m:?}: {:?}", super::super::code::listing(&small.pre[&Address::repeat_byte(0xcc)].code));
        assert_eq!(small.tx.gas_limit, 30_000, "gas bisected to the least that holds");
        assert!(small.tx.data.is_empty(), "calldata dropped");
        assert!(!small.pre.contains_key(&Address::repeat_byte(0xdd)), "bystander dropped");
    }

    #[test]
    fn a_rejected_candidate_is_not_evaluated_again_and_the_result_is_the_same() {
        // Two rejected SARs before the one the "bug" needs, so later rounds rebuild candidates.
        let mut code = vec![0x60, 0x03, 0x60, 0x05, 0x1d, 0x50, 0x60, 0x07, 0x60, 0x09, 0x1d, 0x50];
        code.extend([0x7f]);
        code.extend([0xab; 32]); // PUSH32
        code.extend([0x1d, 0x61, 0x01, 0x00, 0x55, 0x00]); // SAR, PUSH2 0x100, SSTORE, STOP
        let case = case_with(code);
        let holds = |c: &Case| {
            let Some(code) = c.tx.to.and_then(|t| c.pre.get(&t)).map(|a| a.code.clone()) else { return false };
            let p = Program::parse(&code);
            p.instructions.iter().any(|i| i.is_push() && i.value().bit(255)) && code.contains(&0x1d) && c.tx.gas_limit >= 30_000
        };
        let mut asked: Vec<Case> = Vec::new();
        let mut remembering = |c: &Case| {
            asked.push(c.clone());
            holds(c)
        };
        let (small, m) = search(&case, Budget::default(), &mut remembering, Some(HashSet::new()));
        let mut forgetting = holds;
        let (reference, reference_m) = search(&case, Budget::default(), &mut forgetting, None);
        assert_eq!(small, reference, "the same minimised case");
        assert_eq!((m.evaluations, m.complete), (reference_m.evaluations, reference_m.complete), "the same evaluations counted");
        let rejected: Vec<&Case> = asked.iter().filter(|c| !holds(c)).collect();
        for (i, c) in rejected.iter().enumerate() {
            assert!(!rejected[..i].contains(c), "a rejected candidate was evaluated again");
        }
        assert!(asked.len() < m.evaluations as usize, "some candidates were remembered ({} asked)", asked.len());
    }

    #[test]
    fn the_budget_is_respected() {
        let case = case_with([0x60u8, 0x01].repeat(50));
        let mut calls = 0;
        let mut holds = |_: &Case| {
            calls += 1;
            true
        };
        let (_, m) = minimise(&case, Budget { time: Duration::from_secs(60), evaluations: 5 }, &mut holds);
        assert_eq!(m.evaluations, 5);
        assert!(!m.complete);
    }
}
