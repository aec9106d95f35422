//! Known differences: behaviours of SputnikVM 1.1 that differ from the specification and that
//! the adapter cannot make up for, each with the static look at a case that tells when it may
//! show and, where code can hide it, a look at the client's trace of a run that tells when it
//! did. A difference excuses the client on the whole case before it runs, so each predicate is
//! kept as narrow as a look at the code allows, and its doc says what it over-approximates.

use crate::input;
use schism_interface::alloy_primitives::Address;
use schism_interface::{Case, Fork, KnownDifference, Trace, TraceStep, TxKind};

const PUSH1: u8 = 0x60;
const PUSH32: u8 = 0x7f;
const CODECOPY: u8 = 0x39;
const COINBASE: u8 = 0x41;
const SLOAD: u8 = 0x54;
const SSTORE: u8 = 0x55;
const JUMP: u8 = 0x56;
const JUMPI: u8 = 0x57;
const MSIZE: u8 = 0x59;
const JUMPDEST: u8 = 0x5b;
const CREATE: u8 = 0xf0;
const CALL: u8 = 0xf1;
const CALLCODE: u8 = 0xf2;
const DELEGATECALL: u8 = 0xf4;
const CREATE2: u8 = 0xf5;
const STATICCALL: u8 = 0xfa;
const BALANCE: u8 = 0x31;
const EXTCODESIZE: u8 = 0x3b;
const EXTCODECOPY: u8 = 0x3c;
const EXTCODEHASH: u8 = 0x3f;
const SELFDESTRUCT: u8 = 0xff;

/// Behaviours of SputnikVM 1.1 that differ from the specification and that the adapter cannot
/// make up for.
pub static KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        id: "sputnik-no-eip7702",
        reason: "evm 1.1 has no EIP-7702: set-code transactions are not executed (the adapter reports \
                 them as unrepresentable) and delegation designators in the pre-state run as plain \
                 code starting with 0xEF",
        link: "https://github.com/rust-ethereum/evm/blob/master/src/standard/config.rs",
        applies: uses_eip7702,
        executed: None,
    },
    KnownDifference {
        id: "sputnik-no-eip2537",
        reason: "evm-precompile 1.0 has no BLS12-381 precompiles (EIP-2537, 0x0b..0x11): from Prague \
                 a call to them, or any other access to their accounts, runs as on an empty (and, under \
                 EIP-2929, cold) account. Matched by code that pushes their address and then touches an \
                 account, or by a run that executed an access to one (an address computed, or code \
                 assembled in memory and created)",
        link: "https://github.com/rust-ethereum/evm/blob/master/precompile/src/lib.rs",
        applies: calls_bls_precompile,
        executed: Some(touched_bls_precompile),
    },
    KnownDifference {
        id: "sputnik-coinbase-exists-pre-eip161",
        reason: "evm 1.1 marks the coinbase touched when a transaction starts (`mark_hot(coinbase, \
                 TouchKind::Coinbase)`), and before EIP-161 a touched account counts as existing: a \
                 value CALL or a SELFDESTRUCT to a coinbase absent from the state is not charged the \
                 25,000 new-account gas (Frontier, Homestead, Tangerine Whistle). Matched by code that \
                 names the coinbase and calls, or by a run that executed such a call. Found by schism fuzz.",
        link: "https://github.com/rust-ethereum/evm/blob/master/src/backend/overlayed.rs",
        applies: reaches_absent_coinbase_pre_eip161,
        executed: Some(called_absent_coinbase_pre_eip161),
    },
    KnownDifference {
        id: "sputnik-msize-after-codecopy",
        reason: "evm-interpreter 1.1 keeps the size MSIZE reports (`Memory::effective_len`) apart from \
                 the memory, and CODECOPY writes without resizing it: MSIZE after a CODECOPY that grows \
                 memory reports the size before the copy (gas is charged right). Matched by a CODECOPY \
                 that an MSIZE follows in the same code, or precedes inside a loop; over-approximates \
                 copies that do not grow memory; or by a run that executed an MSIZE after a CODECOPY \
                 in the same frame (code assembled in memory and created). Found by schism fuzz.",
        link: "https://github.com/rust-ethereum/evm/issues/99",
        applies: msize_after_codecopy,
        executed: Some(executed_msize_after_codecopy),
    },
    KnownDifference {
        id: "sputnik-selfdestruct-hides-outer-storage",
        reason: "evm 1.1's overlayed backend answers a storage read from the first substate that \
                 marks the account deleted, falling through to the pre-transaction state and skipping \
                 the writes of the substates above it: after a SELFDESTRUCT in a nested frame of an \
                 account whose storage an outer frame of the same transaction wrote, SLOAD (and \
                 SSTORE's gas) see the old value. Before Cancun; from Cancun (EIP-6780) only for an \
                 account created in the transaction. Matched by a SELFDESTRUCT anywhere and a storage \
                 access after a CALL, CALLCODE or DELEGATECALL (plus a creation from Cancun), or, \
                 when the code re-enters itself, by the trace: a nested SELFDESTRUCT executed, then \
                 a storage access. Over-approximates every re-entrant case with a self-destruct. \
                 Found by schism fuzz; \
                 new upstream, report text in adapters/sputnik/UPSTREAM.md.",
        link: "https://github.com/rust-ethereum/evm/blob/master/src/backend/overlayed.rs",
        applies: reads_storage_after_nested_selfdestruct,
        executed: Some(executed_storage_after_nested_selfdestruct),
    },
];

/// The instructions of `code`, each as its offset and opcode, push data skipped.
fn instructions(code: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut pc = 0;
    std::iter::from_fn(move || {
        let op = *code.get(pc)?;
        let at = pc;
        pc += 1 + if (PUSH1..=PUSH32).contains(&op) { usize::from(op - PUSH1 + 1) } else { 0 };
        Some((at, op))
    })
}

/// The code a case may run that a static look can see: every account's code in the pre-state
/// and, for a creation, the init code. Code a run deploys from data it assembles is not seen.
fn codes(case: &Case) -> impl Iterator<Item = &[u8]> + '_ {
    let init = case.tx.to.is_none().then_some(&case.tx.data[..]);
    case.pre.values().map(|a| &a.code[..]).chain(init)
}

/// Before EIP-161, with the coinbase absent from the pre-state, code that may call or
/// self-destruct to it: it names the coinbase (the COINBASE opcode or its address) and calls
/// or self-destructs.
fn reaches_absent_coinbase_pre_eip161(case: &Case) -> bool {
    let coinbase = case.env.current_coinbase;
    if case.fork >= Fork::SpuriousDragon || case.pre.contains_key(&coinbase) {
        return false;
    }
    let reaches = |code: &[u8]| {
        let (mut names, mut acts) = (false, false);
        for (pc, op) in instructions(code) {
            match op {
                COINBASE => names = true,
                0x73 => names |= code.get(pc + 1..pc + 21) == Some(coinbase.as_slice()),
                CALL | CALLCODE | SELFDESTRUCT => acts = true,
                _ => {}
            }
        }
        names && acts
    };
    case.tx.to == Some(coinbase) || case.pre.values().any(|a| reaches(&a.code))
}

/// Before EIP-161, with the coinbase absent from the pre-state, a run that executed a CALL,
/// CALLCODE or SELFDESTRUCT to it (code assembled in memory, an address computed).
fn called_absent_coinbase_pre_eip161(case: &Case, trace: &Trace) -> bool {
    let coinbase = case.env.current_coinbase;
    if case.fork >= Fork::SpuriousDragon || case.pre.contains_key(&coinbase) {
        return false;
    }
    trace.iter().any(|step| matches!(step.op, CALL | CALLCODE | SELFDESTRUCT) && touched(step) == Some(coinbase))
}

fn uses_eip7702(case: &Case) -> bool {
    case.fork >= Fork::Prague && (case.tx.kind == TxKind::SetCode || case.pre.values().any(|a| input::is_delegation(&a.code)))
}

/// True for the address of a BLS12-381 precompile (0x0b..0x11).
fn is_bls(address: &Address) -> bool {
    let bytes = address.as_slice();
    bytes[..19].iter().all(|b| *b == 0) && (0x0b..=0x11).contains(&bytes[19])
}

fn calls_bls_precompile(case: &Case) -> bool {
    case.fork >= Fork::Prague && (case.tx.to.as_ref().is_some_and(is_bls) || codes(case).any(code_calls_bls_precompile))
}

/// The account an executed instruction touches, read from its operands on the stack: the
/// callee of CALL, CALLCODE, DELEGATECALL and STATICCALL (second from the top), the account of
/// BALANCE, EXTCODESIZE, EXTCODECOPY and EXTCODEHASH and the beneficiary of SELFDESTRUCT (the
/// top). An address is the word's low 20 bytes, as the instructions read it.
fn touched(step: &TraceStep) -> Option<Address> {
    let from_top = match step.op {
        CALL | CALLCODE | DELEGATECALL | STATICCALL => 1,
        BALANCE | EXTCODESIZE | EXTCODECOPY | EXTCODEHASH | SELFDESTRUCT => 0,
        _ => return None,
    };
    let word = step.stack.iter().rev().nth(from_top)?.to_be_bytes::<32>();
    Some(Address::from_slice(&word[12..]))
}

/// From Prague, a run that executed an access to a BLS12-381 precompile's account, whatever
/// computed the address or assembled the code: what the client did, not what the code shows.
fn touched_bls_precompile(case: &Case, trace: &Trace) -> bool {
    case.fork >= Fork::Prague && trace.iter().any(|step| touched(step).as_ref().is_some_and(is_bls))
}

/// A run that executed an MSIZE after a CODECOPY of the same frame (a deeper frame starts
/// with no copy; a frame returned to keeps its own).
fn executed_msize_after_codecopy(_case: &Case, trace: &Trace) -> bool {
    let mut copied: Vec<bool> = Vec::new();
    let mut depth = 0usize;
    for step in trace {
        let d = step.depth as usize;
        if copied.len() <= d {
            copied.resize(d + 1, false);
        }
        if d > depth {
            copied[d] = false;
        }
        depth = d;
        match step.op {
            CODECOPY => copied[d] = true,
            MSIZE if copied[d] => return true,
            _ => {}
        }
    }
    false
}

/// True when `code` pushes a BLS12-381 precompile's address (`PUSHn addr`) and touches an
/// account within the next twelve instructions: CALL, CALLCODE, DELEGATECALL, STATICCALL,
/// BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH or SELFDESTRUCT (a precompile is warm, an
/// empty account cold, so any of them costs differently). What lies between (the gas to
/// forward, other operands) does not matter. Addresses that are computed are not recognised; a
/// case touching the precompiles only so is filed instead of being explained.
fn code_calls_bls_precompile(code: &[u8]) -> bool {
    const TOUCHES: [u8; 9] = [0xf1, 0xf2, 0xf4, 0xfa, 0x31, 0x3b, 0x3c, 0x3f, 0xff];
    let ops: Vec<(usize, u8)> = instructions(code).collect();
    ops.iter().enumerate().any(|(i, &(pc, op))| {
        if !(PUSH1..=PUSH32).contains(&op) {
            return false;
        }
        let width = usize::from(op - PUSH1 + 1);
        let Some(value) = code.get(pc + 1..pc + 1 + width) else { return false };
        if value[..width - 1].iter().any(|b| *b != 0) || !(0x0b..=0x11).contains(&value[width - 1]) {
            return false;
        }
        ops[i + 1..].iter().take(12).any(|(_, o)| TOUCHES.contains(o))
    })
}

/// Code that may run MSIZE after a CODECOPY: a CODECOPY followed by an MSIZE, or an MSIZE after
/// a JUMPDEST and before a CODECOPY that a JUMP or JUMPI follows (a loop may run the copy
/// first).
fn msize_after_codecopy(case: &Case) -> bool {
    codes(case).any(|code| {
        let ops: Vec<u8> = instructions(code).map(|(_, op)| op).collect();
        let Some(first_copy) = ops.iter().position(|op| *op == CODECOPY) else { return false };
        if ops[first_copy..].contains(&MSIZE) {
            return true;
        }
        let Some(last_copy) = ops.iter().rposition(|op| *op == CODECOPY) else { return false };
        let jumps_back = ops[last_copy..].iter().any(|op| matches!(*op, JUMP | JUMPI));
        let looped_msize = ops[..last_copy].iter().skip_while(|op| **op != JUMPDEST).any(|op| *op == MSIZE);
        jumps_back && looped_msize
    })
}

/// A case that may read storage below a nested self-destruct: some code self-destructs, and
/// some code reads or writes storage after a CALL, CALLCODE or DELEGATECALL returns (the frame
/// whose child self-destructed its account). From Cancun only a created account is deleted, so
/// a creation is needed too.
fn reads_storage_after_nested_selfdestruct(case: &Case) -> bool {
    let has = |op: u8| codes(case).any(|code| instructions(code).any(|(_, o)| o == op));
    if !has(SELFDESTRUCT) {
        return false;
    }
    if case.fork >= Fork::Cancun && case.tx.to.is_some() && !has(CREATE) && !has(CREATE2) {
        return false;
    }
    codes(case).any(|code| {
        let mut called = false;
        for (_, op) in instructions(code) {
            match op {
                CALL | CALLCODE | DELEGATECALL => called = true,
                SLOAD | SSTORE if called => return true,
                _ => {}
            }
        }
        false
    })
}

/// What the client executed shows a storage access after a nested self-destruct: a
/// SELFDESTRUCT below the transaction's frame, then an SLOAD or SSTORE (from Cancun, with a
/// creation executed first or a creating transaction). Code that re-enters itself reads storage
/// at its start, which the look at the code (an access after a call) does not see.
fn executed_storage_after_nested_selfdestruct(case: &Case, trace: &Trace) -> bool {
    let mut created = case.tx.to.is_none() || case.fork < Fork::Cancun;
    let mut destructed = false;
    for step in trace {
        match step.op {
            CREATE | CREATE2 => created = true,
            SELFDESTRUCT if step.depth > 1 && created => destructed = true,
            SLOAD | SSTORE if destructed => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sputnik;
    use crate::tests::cases;
    use schism_interface::{Client, TraceMode};

    #[test]
    fn a_contract_calling_a_bls_precompile_is_a_known_difference() {
        let cases = cases("../../corpus/bench/bls12-381.json");
        assert!(cases.iter().all(calls_bls_precompile));
        // PUSH1 0x0b as data of a wider push, or not followed by GAS and a call, is no call.
        assert!(!code_calls_bls_precompile(&[0x61, 0x60, 0x0b, 0x5a, 0xfa]));
        assert!(!code_calls_bls_precompile(&[0x60, 0x0b, 0x1b]));
        assert!(!code_calls_bls_precompile(&[0x60, 0x0a, 0x5a, 0xfa]));
        assert!(code_calls_bls_precompile(&[0x60, 0x11, 0x5a, 0xf1]));
    }

    #[test]
    fn the_coinbase_difference_covers_its_finding_only() {
        use schism_interface::alloy_primitives::{Bytes, U256};
        let mut case = cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json").remove(0);
        let coinbase = case.env.current_coinbase;
        let mut code = vec![0x73];
        code.extend_from_slice(coinbase.as_slice());
        code.push(0xff); // PUSH20 coinbase, SELFDESTRUCT
        let target = case.tx.to.expect("a call");
        let mut pre = (*case.pre).clone();
        pre.remove(&coinbase);
        if let Some(a) = pre.get_mut(&target) {
            a.code = Bytes::from(code);
        }
        case.pre = std::sync::Arc::new(pre);
        case.fork = Fork::Tangerine;
        assert!(reaches_absent_coinbase_pre_eip161(&case));
        case.fork = Fork::SpuriousDragon;
        assert!(!reaches_absent_coinbase_pre_eip161(&case), "EIP-161 forks are not affected");
        case.fork = Fork::Tangerine;
        let mut pre = (*case.pre).clone();
        pre.insert(coinbase, schism_interface::Account { balance: U256::ZERO, ..Default::default() });
        case.pre = std::sync::Arc::new(pre);
        assert!(!reaches_absent_coinbase_pre_eip161(&case), "a coinbase in the state exists anyway");
    }

    /// add11 (Cancun) with `code` as the called contract's code, under `fork`.
    fn with_code(fork: Fork, code: &[u8]) -> Case {
        let mut case = cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json").remove(0);
        let target = case.tx.to.expect("a call");
        let mut pre = (*case.pre).clone();
        if let Some(a) = pre.get_mut(&target) {
            a.code = code.to_vec().into();
        }
        case.pre = std::sync::Arc::new(pre);
        case.fork = fork;
        case
    }

    #[test]
    fn msize_after_codecopy_covers_its_finding_only() {
        use crate::Sputnik;
        use schism_interface::{Client, TraceMode};
        // PUSH1 0x40 PUSH1 0 PUSH1 0 CODECOPY, MSIZE, PUSH1 0 SSTORE: memory grows to 64 bytes.
        let finding = [0x60, 0x40, 0x60, 0x00, 0x60, 0x00, 0x39, 0x59, 0x60, 0x00, 0x55];
        let case = with_code(Fork::Cancun, &finding);
        assert!(msize_after_codecopy(&case));
        // The finding itself: the crate stores 0 where the specification stores 64.
        let out = Sputnik::new().execute(&case, TraceMode::Off).expect("executes");
        let target = case.tx.to.expect("a call");
        let stored = out.post_state.as_ref().and_then(|p| p.get(&target)).map(|a| a.storage.clone()).unwrap_or_default();
        assert!(stored.is_empty(), "evm 1.1 reports MSIZE 0 after the copy: {stored:?}");
        // MSIZE before the copy, with no jump back, and MSIZE as push data, are not covered.
        assert!(!msize_after_codecopy(&with_code(Fork::Cancun, &[0x59, 0x60, 0x40, 0x60, 0x00, 0x60, 0x00, 0x39, 0x00])));
        assert!(!msize_after_codecopy(&with_code(Fork::Cancun, &[0x60, 0x40, 0x60, 0x00, 0x60, 0x00, 0x39, 0x60, 0x59])));
        // In a loop: JUMPDEST MSIZE ... CODECOPY ... JUMPI.
        let looped = [0x5b, 0x59, 0x50, 0x60, 0x40, 0x60, 0x00, 0x60, 0x00, 0x39, 0x60, 0x00, 0x60, 0x00, 0x57];
        assert!(msize_after_codecopy(&with_code(Fork::Cancun, &looped)));
        // A JUMPDEST only after the copy (the farm's first case that had one) is no loop.
        assert!(!msize_after_codecopy(&with_code(Fork::Cancun, &[0x59, 0x60, 0x00, 0x80, 0x80, 0x39, 0x5b, 0x00, 0x56])));
    }

    #[test]
    fn the_nested_selfdestruct_difference_covers_its_finding_only() {
        let dead = Address::with_last_byte(0xd0);
        // The finding's shape: SSTORE, DELEGATECALL to a self-destructing contract, SLOAD.
        let mut reader = vec![0x60, 0x01, 0x60, 0x01, 0x55, 0x60, 0x00, 0x80, 0x80, 0x80, 0x73];
        reader.extend_from_slice(dead.as_slice());
        reader.extend([0x5a, 0xf4, 0x50, 0x60, 0x01, 0x54, 0x00]);
        let mut case = with_code(Fork::Shanghai, &reader);
        let mut pre = (*case.pre).clone();
        pre.insert(dead, schism_interface::Account { code: vec![0x60, 0x00, 0xff].into(), ..Default::default() });
        case.pre = std::sync::Arc::new(pre);
        assert!(reads_storage_after_nested_selfdestruct(&case));
        case.fork = Fork::Cancun;
        assert!(!reads_storage_after_nested_selfdestruct(&case), "from Cancun only created accounts are deleted");
        case.fork = Fork::Shanghai;
        // Storage accessed only before the call, or no self-destruct at all: not covered.
        let before_only = with_code(Fork::Shanghai, &reader[..reader.len() - 4]);
        assert!(!reads_storage_after_nested_selfdestruct(&before_only));
        let mut pre = (*case.pre).clone();
        pre.remove(&dead);
        case.pre = std::sync::Arc::new(pre);
        assert!(!reads_storage_after_nested_selfdestruct(&case));
    }

    /// The farm's re-entrant finding (`corpus/known/sputnik-selfdestruct-reentered.json`: the
    /// contract DELEGATECALLs and CALLs itself, reading its depth slot at its start, and
    /// self-destructs at its end) still shows the difference, which only the trace explains.
    #[test]
    fn the_nested_selfdestruct_difference_covers_a_re_entrant_finding_by_its_trace() {
        let cases = cases("../../corpus/known/sputnik-selfdestruct-reentered.json");
        let case = &cases[0];
        let sputnik = Sputnik::new();
        let revm_like = case.expected.as_ref().map(|e| e.hash).expect("the majority's root");
        let outcome = sputnik.execute(case, TraceMode::Steps).expect("executes");
        assert_ne!(outcome.state_root, revm_like, "the difference still shows");
        let known =
            &KNOWN_DIFFERENCES[KNOWN_DIFFERENCES.iter().position(|k| k.id == "sputnik-selfdestruct-hides-outer-storage").expect("listed")];
        assert!(!(known.applies)(case), "the look at the code misses it");
        assert!(known.explains(case, outcome.trace.as_ref()), "the trace shows it");
        // A trace without the nested self-destruct does not.
        let without: Vec<TraceStep> = outcome.trace.unwrap_or_default().into_iter().filter(|s| s.op != SELFDESTRUCT).collect();
        assert!(!executed_storage_after_nested_selfdestruct(case, &without));
    }

    #[test]
    fn any_access_to_a_bls_precompile_is_covered() {
        // The farm's findings, minimised: PUSH0 gas between address and CALL, EXTCODEHASH.
        assert!(code_calls_bls_precompile(&[0x5f, 0x3d, 0x5f, 0x81, 0x5f, 0x60, 0x10, 0x5f, 0xf1]));
        assert!(code_calls_bls_precompile(&[0x60, 0x0b, 0x3f, 0x50]));
        assert!(code_calls_bls_precompile(&[0x60, 0x11, 0xff]));
        assert!(!code_calls_bls_precompile(&[0x60, 0x10, 0x01, 0x50]), "no account touched");
    }

    #[test]
    fn a_bls_call_with_computed_gas_is_covered() {
        // PUSH1 0x0e, all but a 64th of the gas plus 0x49, CALLCODE: the finding's call.
        let share = [0x60, 0x0e, 0x5a, 0x80, 0x60, 0x40, 0x90, 0x04, 0x90, 0x03, 0x60, 0x49, 0x01, 0xf2];
        assert!(code_calls_bls_precompile(&share));
        assert!(calls_bls_precompile(&with_code(Fork::Prague, &share)));
        assert!(!calls_bls_precompile(&with_code(Fork::Cancun, &share)), "before Prague 0x0e is no precompile");
        // k GAS SUB, and a fixed gas.
        assert!(code_calls_bls_precompile(&[0x60, 0x11, 0x60, 0x07, 0x5a, 0x03, 0xfa]));
        assert!(code_calls_bls_precompile(&[0x60, 0x0b, 0x61, 0x10, 0x00, 0xf1]));
        // Over-approximated: the address consumed by something else first still counts (the
        // farm judges the rule on minimised cases, where nothing else is left).
        assert!(code_calls_bls_precompile(&[0x60, 0x0b, 0x5a, 0x55, 0x5a, 0xf1]));
    }

    /// `inner` run as init code that the called contract assembles in memory from PUSH32 data
    /// (PUSH32 inner, PUSH1 0, MSTORE, then CREATE of 32 bytes at 0), under `fork`; the case
    /// and SputnikVM's trace of it.
    fn created_from_memory(fork: Fork, inner: &[u8]) -> (Case, Trace) {
        use crate::Sputnik;
        use schism_interface::{Client, TraceMode};
        let mut word = [0u8; 32];
        word[..inner.len()].copy_from_slice(inner);
        let mut outer = vec![PUSH32];
        outer.extend_from_slice(&word);
        outer.extend([0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0x60, 0x00, CREATE, 0x60, 0x00, SSTORE, 0x00]);
        let case = with_code(fork, &outer);
        let out = Sputnik::new().execute(&case, TraceMode::Steps).expect("executes");
        (case, out.trace.expect("a trace"))
    }

    /// The known difference that explains `case` given SputnikVM's `trace` of it.
    fn explained(case: &Case, trace: &Trace) -> Option<&'static str> {
        KNOWN_DIFFERENCES.iter().find(|k| k.explains(case, Some(trace))).map(|k| k.id)
    }

    #[test]
    fn a_bls_call_in_init_code_built_in_memory_is_judged_on_the_trace() {
        // The created contract's init code: STATICCALL(gas, 0x0c, 0, 0, 0, 0), STOP. Its bytes
        // are PUSH32 data of the called contract, which a look at the code cannot see.
        let staticcall = |to: u8| [0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, to, 0x5a, STATICCALL, 0x00];
        let (case, trace) = created_from_memory(Fork::Prague, &staticcall(0x0c));
        assert!(!calls_bls_precompile(&case), "the static look misses it");
        assert!(trace.iter().any(|s| s.depth == 2 && s.op == STATICCALL), "the init code ran");
        assert!(touched_bls_precompile(&case, &trace));
        assert_eq!(explained(&case, &trace), Some("sputnik-no-eip2537"));
        assert_eq!(KNOWN_DIFFERENCES.iter().find(|k| k.explains(&case, None)).map(|k| k.id), None, "no trace, no judgement");
        // The same call to the identity precompile, which SputnikVM has, stays unexplained; so
        // does the BLS call before Prague, where 0x0c is no precompile.
        let (case, trace) = created_from_memory(Fork::Prague, &staticcall(0x04));
        assert!(trace.iter().any(|s| s.depth == 2 && s.op == STATICCALL));
        assert_eq!(explained(&case, &trace), None);
        let (case, trace) = created_from_memory(Fork::Cancun, &staticcall(0x0c));
        assert_eq!(explained(&case, &trace), None);
    }

    #[test]
    fn a_call_to_the_absent_coinbase_from_init_code_built_in_memory_is_judged_on_the_trace() {
        // The created contract's init code: CALL(gas, COINBASE, 0, 0, 0, 0, 0), STOP; the
        // farm's finding assembled the same from PUSH32 data.
        let call = [0x60, 0x00, 0x80, 0x80, 0x80, 0x80, COINBASE, 0x5a, CALL, 0x00];
        let absent = |fork: Fork| {
            let (mut case, _) = created_from_memory(fork, &call);
            let mut pre = (*case.pre).clone();
            pre.remove(&case.env.current_coinbase);
            case.pre = std::sync::Arc::new(pre);
            let out = crate::Sputnik::new().execute(&case, schism_interface::TraceMode::Steps).expect("executes");
            (case, out.trace.expect("a trace"))
        };
        use schism_interface::Client;
        let (case, trace) = absent(Fork::Tangerine);
        assert!(!reaches_absent_coinbase_pre_eip161(&case), "the static look misses it");
        assert_eq!(explained(&case, &trace), Some("sputnik-coinbase-exists-pre-eip161"));
        let (case, trace) = absent(Fork::SpuriousDragon);
        assert_eq!(explained(&case, &trace), None, "EIP-161 forks are not affected");
    }

    #[test]
    fn msize_after_codecopy_in_init_code_built_in_memory_is_judged_on_the_trace() {
        // The created contract's init code: CODECOPY(0, 0, 64), MSIZE, POP, STOP.
        let copy = [0x60, 0x40, 0x60, 0x00, 0x60, 0x00, CODECOPY, MSIZE, 0x50, 0x00];
        let (case, trace) = created_from_memory(Fork::Cancun, &copy);
        assert!(!msize_after_codecopy(&case), "the static look misses it");
        assert_eq!(explained(&case, &trace), Some("sputnik-msize-after-codecopy"));
        // MSIZE before the copy, or only in the frame that made the copy's caller, is no match.
        let (case, trace) = created_from_memory(Fork::Cancun, &[MSIZE, 0x50, 0x60, 0x40, 0x60, 0x00, 0x60, 0x00, CODECOPY, 0x00]);
        assert_eq!(explained(&case, &trace), None);
    }

    #[test]
    fn predicates_take_any_code() {
        // They run on every generated case before the client does, outside its panic guard.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let opcodes = [0x39, 0x59, 0x5b, 0x56, 0x57, 0x5a, 0x60, 0x61, 0x7f, 0xf1, 0xf2, 0xf4, 0xfa, 0xff, 0x54, 0x55, 0x0b, 0x0e];
        for len in 0..2000 {
            let code: Vec<u8> = (0..len % 64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    opcodes[(x % opcodes.len() as u64) as usize]
                })
                .collect();
            for fork in [Fork::Frontier, Fork::Shanghai, Fork::Prague] {
                let case = with_code(fork, &code);
                for known in KNOWN_DIFFERENCES {
                    let _ = (known.applies)(&case);
                }
            }
        }
    }

    #[test]
    fn known_differences_are_narrow() {
        let cases = cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json");
        for case in &cases {
            assert!(KNOWN_DIFFERENCES.iter().all(|d| !(d.applies)(case)), "{}", case.label());
        }
    }
}
