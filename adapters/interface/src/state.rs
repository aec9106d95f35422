//! The one state-root and logs-hash implementation every in-process adapter uses: a
//! Merkle-Patricia root over the post-state (alloy-trie) and keccak256 of the RLP list of logs.

use crate::fixture::{Account, Accounts};
use crate::fork::Fork;
use alloy_primitives::{Address, B256, Bytes, Log, b256, keccak256};
use alloy_trie::TrieAccount;
use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Post-states remembered with their roots per thread: more than the states one client gives
/// for a generated block sequence (a state per transaction and per block).
const REMEMBERED_ROOTS: usize = 32;

/// keccak256 of no bytes.
const KECCAK_EMPTY: B256 = b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// The latest post-states whose roots were computed, newest last, and their roots, where
/// remembering is on: when clients that run one after the other agree, each root is computed
/// once (an equality check is far cheaper than hashing the trie). Several are kept because a
/// block sequence gives each client one state per block before the next client runs; shared by
/// the process's threads, since each in-process client runs on a worker thread of its own.
static LAST_ROOTS: std::sync::Mutex<std::collections::VecDeque<(Accounts, B256)>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

thread_local! {    /// Whether roots are deferred on this thread (see [`with_roots_deferred`]).
    static DEFER_ROOTS: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread remembers roots (see [`remember_roots_on_this_thread`]).
    static REMEMBER_ROOTS: Cell<bool> = const { Cell::new(false) };
    /// keccak256 of recently hashed code, by buffer. Each entry keeps its buffer alive, so an
    /// address in the map always denotes the same (immutable) bytes.
    static CODE_HASHES: RefCell<HashMap<(usize, usize), (Bytes, B256)>> = RefCell::new(HashMap::new());
}

/// Makes [`state_root`] on this thread remember the last post-states and their roots, for
/// callers that run several clients on the same case one after the other (the fuzzer).
/// Elsewhere (clients on different cases at once) remembering would only cost a copy per root.
pub fn remember_roots_on_this_thread() {
    REMEMBER_ROOTS.with(|r| r.set(true));
}

/// How this thread treats state roots: deferred, remembered. A caller that hands a client's
/// run to another thread takes it there with [`with_roots_as`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roots {
    /// Roots deferred (see [`with_roots_deferred`]).
    pub deferred: bool,
    /// Roots remembered (see [`remember_roots_on_this_thread`]).
    pub remembered: bool,
}

/// How this thread treats state roots now.
pub fn roots_here() -> Roots {
    Roots { deferred: DEFER_ROOTS.with(Cell::get), remembered: REMEMBER_ROOTS.with(Cell::get) }
}

/// Runs `f` treating roots as `roots` says on this thread, then restores what was set before,
/// also when `f` panics.
pub fn with_roots_as<T>(roots: Roots, f: impl FnOnce() -> T) -> T {
    struct Restore(Roots);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEFER_ROOTS.with(|d| d.set(self.0.deferred));
            REMEMBER_ROOTS.with(|r| r.set(self.0.remembered));
        }
    }
    let _restore = Restore(roots_here());
    DEFER_ROOTS.with(|d| d.set(roots.deferred));
    REMEMBER_ROOTS.with(|r| r.set(roots.remembered));
    f()
}

/// The root [`state_root`] returns while roots are deferred: no state has it (it is not a
/// keccak256 output anyone can aim at), and it stands for "compare the post-state itself".
pub const DEFERRED_ROOT: B256 = b256!("defe22ed00000000000000000000000000000000000000000000000000000000");

/// Runs `f` with state roots deferred on this thread, then restores what was set before, also
/// when `f` panics. While deferred, [`state_root`] returns [`DEFERRED_ROOT`] without hashing:
/// for a caller that compares outcomes by their post-states and computes roots only where they
/// are needed (the fuzzer: when every client agrees on the post-state, no root is needed at
/// all), and for the transactions of a block from Byzantium on (only the block's root counts).
pub fn with_roots_deferred<T>(f: impl FnOnce() -> T) -> T {
    with_roots_as(Roots { deferred: true, ..roots_here() }, f)
}

/// The state root of a set of accounts. Zero-valued storage slots count as absent.
pub fn state_root(accounts: &Accounts) -> B256 {
    if DEFER_ROOTS.with(Cell::get) {
        return DEFERRED_ROOT;
    }
    if !REMEMBER_ROOTS.with(Cell::get) {
        return compute_root(accounts);
    }
    let cached = LAST_ROOTS.lock().ok().and_then(|last| last.iter().rev().find(|(a, _)| a == accounts).map(|(_, root)| *root));
    if let Some(root) = cached {
        return root;
    }
    let root = compute_root(accounts);
    if let Ok(mut last) = LAST_ROOTS.lock() {
        if last.len() == REMEMBERED_ROOTS {
            last.pop_front();
        }
        last.push_back((accounts.clone(), root));
    }
    root
}

fn compute_root(accounts: &Accounts) -> B256 {
    state_root_unhashed(accounts.iter().map(|(address, account)| (*address, trie_account(account))))
}

/// keccak256 of an account's code, remembered for the buffers hashed recently (the same
/// pre-state code is hashed by every client of a case).
pub fn code_hash(code: &Bytes) -> B256 {
    if code.is_empty() {
        return KECCAK_EMPTY;
    }
    let key = (code.as_ptr() as usize, code.len());
    CODE_HASHES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, hash)) = cache.get(&key) {
            return *hash;
        }
        if cache.len() >= 256 {
            cache.clear();
        }
        let hash = keccak256(code);
        cache.insert(key, (code.clone(), hash));
        hash
    })
}

/// The storage root of one account's slots. Zero-valued slots count as absent.
pub fn storage_root(account: &Account) -> B256 {
    storage_root_unhashed(account.storage.iter().filter(|(_, value)| !value.is_zero()).map(|(slot, value)| (B256::from(*slot), *value)))
}

fn trie_account(account: &Account) -> TrieAccount {
    TrieAccount::new(account.nonce, account.balance, storage_root(account), code_hash(&account.code))
}

/// keccak256 of the RLP encoding of the list of logs, as the fixtures' `logs` field.
pub fn logs_hash(logs: &[Log]) -> B256 {
    let mut out = Vec::new();
    alloy_rlp::encode_list(logs, &mut out);
    keccak256(out)
}

/// Applies EIP-161 to a post-state: from Spurious Dragon on, an account that the transaction
/// touched and that is empty afterwards is deleted. Untouched empty accounts stay, as they do
/// in every client (the pre-state of a test may hold them).
pub fn clear_touched_empty(accounts: &mut Accounts, fork: Fork, touched: impl Fn(&Address) -> bool) {
    if fork.clears_empty_accounts() {
        accounts.retain(|address, account| !(account.is_empty() && touched(address)));
    }
}

/// Removes zero-valued storage slots, which a trie never holds.
pub fn drop_zero_slots(accounts: &mut Accounts) {
    for account in accounts.values_mut() {
        account.storage.retain(|_, value| !value.is_zero());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{LogData, U256, address, b256, bytes};

    #[test]
    fn empty_state_and_logs_have_the_well_known_roots() {
        assert_eq!(state_root(&Accounts::new()), b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"));
        assert_eq!(logs_hash(&[]), b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"));
    }

    #[test]
    fn remembered_roots_and_code_hashes_are_exact() {
        let mut accounts = Accounts::from([(
            address!("00000000000000000000000000000000000000aa"),
            Account { balance: U256::from(1), code: bytes!("6001"), ..Default::default() },
        )]);
        remember_roots_on_this_thread();
        assert_eq!(with_roots_deferred(|| state_root(&accounts)), DEFERRED_ROOT);
        let first = state_root(&accounts);
        assert_eq!(state_root(&accounts), first);
        accounts.values_mut().for_each(|a| a.balance = U256::from(2));
        assert_ne!(state_root(&accounts), first);
        let code = bytes!("600160005500");
        assert_eq!(code_hash(&code), keccak256(&code));
        assert_eq!(code_hash(&code), keccak256(&code));
        assert_eq!(code_hash(&Bytes::new()), keccak256([]));
    }

    #[test]
    fn zero_slots_do_not_change_the_root() {
        let mut a = Account { balance: U256::from(1), ..Default::default() };
        let mut accounts = Accounts::from([(address!("00000000000000000000000000000000000000aa"), a.clone())]);
        let before = state_root(&accounts);
        a.storage.insert(U256::from(7), U256::ZERO);
        accounts.insert(address!("00000000000000000000000000000000000000aa"), a);
        assert_eq!(state_root(&accounts), before);
    }

    #[test]
    fn one_log_hash_differs_from_none() {
        let log = Log {
            address: address!("00000000000000000000000000000000000000aa"),
            data: LogData::new_unchecked(vec![B256::ZERO], bytes!("01")),
        };
        assert_ne!(logs_hash(&[log]), logs_hash(&[]));
    }

    #[test]
    fn eip161_deletes_only_touched_empty_accounts() {
        let touched = address!("00000000000000000000000000000000000000aa");
        let untouched = address!("00000000000000000000000000000000000000bb");
        let mut accounts = Accounts::from([(touched, Account::default()), (untouched, Account::default())]);
        let mut homestead = accounts.clone();
        clear_touched_empty(&mut homestead, Fork::Homestead, |_| true);
        assert_eq!(homestead.len(), 2);
        clear_touched_empty(&mut accounts, Fork::Cancun, |a| *a == touched);
        assert!(!accounts.contains_key(&touched));
        assert!(accounts.contains_key(&untouched));
    }
}
