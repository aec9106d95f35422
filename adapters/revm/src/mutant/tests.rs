//! Each mutant against healthy revm: it diverges on a case that reaches its edge and agrees on
//! a neighbouring ordinary one.

use super::*;
use crate::Revm;
use revm::bytecode::opcode::*;
use revm::primitives::{Address, B256, Bytes, U256};
use schism_interface::case::{address_of_key, default_blob_params};
use schism_interface::fixture::{AccessListItem, Account, Accounts, Env, Indexes};
use schism_interface::{Case, Client, Fork, Outcome, TraceMode, Transaction, TxKind, TxValue};
use std::collections::HashSet;
use std::sync::Arc;

const KEY: B256 = B256::with_last_byte(0x01);
const CONTRACT: Address = Address::with_last_byte(0xc0);
const OTHER: Address = Address::with_last_byte(0xd0);

/// Bytecode, one instruction at a time.
#[derive(Default)]
struct Asm(Vec<u8>);

impl Asm {
    fn push(self, value: u64) -> Asm {
        self.push_word(U256::from(value))
    }

    /// The shortest PUSH of `value` (PUSH0 for zero).
    fn push_word(mut self, value: U256) -> Asm {
        let bytes = value.to_be_bytes_trimmed_vec();
        match bytes.len() {
            0 => self.0.push(PUSH0),
            n => {
                self.0.push(PUSH1 + (n as u8 - 1));
                self.0.extend(bytes);
            }
        }
        self
    }

    fn op(mut self, op: u8) -> Asm {
        self.0.push(op);
        self
    }

    /// SSTOREs the top of the stack at `slot`.
    fn store(self, slot: u64) -> Asm {
        self.push(slot).op(SSTORE)
    }

    /// CALL-like `op` (CALL/CALLCODE when `value` is given) to `to` with no input or output.
    fn call(self, op: u8, gas: u64, to: Address, value: Option<u64>) -> Asm {
        let args = self.push(0).push(0).push(0).push(0);
        let args = match value {
            Some(value) => args.push(value),
            None => args,
        };
        args.push_word(U256::from_be_slice(to.as_slice())).push(gas).op(op)
    }
}

fn account(code: Asm) -> Account {
    Account { balance: U256::from(1_000_000), code: Bytes::from(code.0), nonce: 1, ..Account::default() }
}

/// A `fork` case: the sender calls `CONTRACT` with `others` also in the pre-state.
fn case(fork: Fork, contract: Account, others: Vec<(Address, Account)>) -> Case {
    let sender = address_of_key(&KEY).expect("a valid key");
    let mut pre = Accounts::new();
    pre.insert(sender, Account { balance: U256::from(10u64).pow(U256::from(18)), ..Account::default() });
    pre.insert(CONTRACT, contract);
    pre.extend(others);
    Case {
        file: Arc::from("mutant.rs"),
        test: Arc::from("canary"),
        fork,
        index: Indexes::default(),
        env: Arc::new(Env {
            current_coinbase: Address::with_last_byte(0xcb),
            current_difficulty: U256::ZERO,
            current_gas_limit: 30_000_000,
            current_number: 1,
            current_timestamp: 1_000,
            current_base_fee: Some(10),
            current_random: Some(B256::ZERO),
            current_excess_blob_gas: Some(0),
            previous_hash: None,
            parent_beacon_block_root: None,
        }),
        pre: Arc::new(pre),
        tx: Transaction {
            kind: TxKind::Legacy,
            nonce: 0,
            gas_limit: 1_000_000,
            to: Some(CONTRACT),
            value: TxValue::Value(U256::ZERO),
            data: Bytes::new(),
            gas_price: Some(U256::from(10)),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            access_list: Vec::new(),
            max_fee_per_blob_gas: None,
            blob_versioned_hashes: Vec::new(),
            authorization_list: Vec::new(),
            secret_key: KEY,
            sender,
        },
        chain_id: 1,
        blob_params: default_blob_params(fork),
        expected: None,
        block_hashes: None,
    }
}

fn simple(fork: Fork, code: Asm) -> Case {
    case(fork, account(code), Vec::new())
}

/// A case whose transaction is a blob transaction carrying two versioned hashes.
fn with_blobs(mut case: Case) -> Case {
    case.tx.kind = TxKind::Blob;
    case.tx.gas_price = None;
    case.tx.max_fee_per_gas = Some(U256::from(10));
    case.tx.max_priority_fee_per_gas = Some(U256::ZERO);
    case.tx.max_fee_per_blob_gas = Some(U256::from(1));
    let hash = |last| {
        let mut h = B256::with_last_byte(last);
        h.0[0] = 0x01;
        h
    };
    case.tx.blob_versioned_hashes = vec![hash(0xaa), hash(0xbb)];
    case
}

/// Writes a MODEXP input `base^exponent mod modulus` (one byte each) at memory 0, calls
/// MODEXP, and stores its one-byte output (left-aligned) at slot 0 and its success at slot 1.
fn modexp_call(base: u8, exponent: u8, modulus: u8) -> Asm {
    let mut asm = Asm::default();
    for at in [0u64, 32, 64] {
        asm = asm.push(1).push(at).op(MSTORE);
    }
    for (at, byte) in [(96u64, base), (97, exponent), (98, modulus)] {
        asm = asm.push(byte.into()).push(at).op(MSTORE8);
    }
    asm.push(1).push(128).push(99).push(0).push(5).push(100_000).op(STATICCALL).store(1).push(128).op(MLOAD).store(0)
}

fn sar(shift: u64) -> Asm {
    Asm::default().push_word(U256::MAX - U256::from(5)).push(shift).op(SAR).store(0)
}

fn mcopy(dst: u64, src: u64) -> Asm {
    let word = U256::from_be_bytes(std::array::from_fn::<u8, 32, _>(|i| i as u8 + 1));
    Asm::default()
        .push_word(word)
        .push(0)
        .op(MSTORE)
        .push(32)
        .push(src)
        .push(dst)
        .op(MCOPY)
        .push(0)
        .op(MLOAD)
        .store(0)
        .push(32)
        .op(MLOAD)
        .store(1)
}

fn rewrite(first: u64, second: u64) -> Asm {
    Asm::default().push(first).push(0).op(SSTORE).push(second).push(0).op(SSTORE)
}

fn exp(exponent: u64) -> Asm {
    Asm::default().push(exponent).push(3).op(EXP).store(0)
}

fn create2(salt: U256) -> Asm {
    Asm::default().push_word(salt).push(0).push(0).push(0).op(CREATE2).store(0)
}

/// `CONTRACT` delegates to `OTHER`, which TSTOREs 1 and then runs `end`; `CONTRACT` stores
/// what it then TLOADs.
fn tstore_then(end: Asm) -> Case {
    let callee = Asm(Asm::default().push(1).push(0).op(TSTORE).0.into_iter().chain(end.0).collect());
    let caller = Asm::default().call(DELEGATECALL, 50_000, OTHER, None).op(POP).push(0).op(TLOAD).store(0);
    case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))])
}

/// `CONTRACT` calls `OTHER` (which writes memory, a few gas) with `gas` and `value`, and
/// stores whether the call succeeded.
fn call_with(gas: u64, value: u64) -> Case {
    let callee = Asm::default().push(1).push(0).op(MSTORE);
    let caller = Asm::default().call(CALL, gas, OTHER, Some(value)).store(0);
    case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))])
}

/// -1 in two's complement.
const MINUS_ONE: U256 = U256::MAX;

/// -2^255, the most negative word.
fn min_signed() -> U256 {
    U256::from(1) << 255
}

/// `op(a, b)` with `a` on top, stored at slot 0.
fn binary(op: u8, a: U256, b: U256) -> Asm {
    Asm::default().push_word(b).push_word(a).op(op).store(0)
}

/// `op(a, b, n)` with `a` on top, stored at slot 0.
fn ternary(op: u8, a: U256, b: U256, n: U256) -> Asm {
    Asm::default().push_word(n).push_word(b).push_word(a).op(op).store(0)
}

/// A Cancun case running `code` alone.
fn cancun(code: Asm) -> Case {
    simple(Fork::Cancun, code)
}

/// `binary` in a Cancun case.
fn binary_case(op: u8, a: U256, b: U256) -> Case {
    cancun(binary(op, a, b))
}

/// 2^64 + `low`: an operand whose low 64 bits are `low`.
fn above_u64(low: u64) -> U256 {
    (U256::from(1) << 64) + U256::from(low)
}

impl Asm {
    /// Writes `data` to memory from offset 0, a word at a time (the last one right-padded).
    fn write(mut self, data: &[u8]) -> Asm {
        for (i, chunk) in data.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self = self.push_word(U256::from_be_bytes(word)).push(32 * i as u64).op(MSTORE);
        }
        self
    }

    /// STATICCALL of the precompile at `address` with `input`, storing the call's success at
    /// slot 1, the return data's size at slot 2 and its first two words at slots 0 and 3.
    fn precompile(self, address: u8, input: &[u8], gas: u64) -> Asm {
        self.write(input)
            .push(0)
            .push(0)
            .push(input.len() as u64)
            .push(0)
            .push(address.into())
            .push(gas)
            .op(STATICCALL)
            .store(1)
            .op(RETURNDATASIZE)
            .store(2)
            .op(RETURNDATASIZE)
            .push(0)
            .push(0x200)
            .op(RETURNDATACOPY)
            .push(0x200)
            .op(MLOAD)
            .store(0)
            .push(0x220)
            .op(MLOAD)
            .store(3)
    }
}

/// A `fork` case calling the precompile at `address` with `input`.
fn precompile(fork: Fork, address: u8, input: &[u8]) -> Case {
    simple(fork, Asm::default().precompile(address, input, 100_000))
}

/// `words` as 32-byte big-endian words, concatenated.
fn words(words: &[U256]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
}

/// `CONTRACT` calls `OTHER` (running `callee`) with `gas` and stores whether the call succeeded.
fn calling(gas: u64, callee: Asm) -> Case {
    let caller = Asm::default().call(CALL, gas, OTHER, Some(0)).store(0);
    case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))])
}

/// A contract that returns the return data it gets from the identity precompile for 4 bytes,
/// copied with RETURNDATACOPY of `len` bytes.
fn returndatacopy_of(len: u64) -> Case {
    let callee = Asm::default()
        .write(&[1, 2, 3, 4])
        .push(0)
        .push(0)
        .push(4)
        .push(0)
        .push(4)
        .push(1_000)
        .op(STATICCALL)
        .op(POP)
        .push(len)
        .push(0)
        .push(0x100)
        .op(RETURNDATACOPY)
        .push(0x100)
        .op(MLOAD)
        .store(1);
    calling(100_000, callee)
}

/// Calls identity with the word at 0 and output at `out`, then copies the return data to 0x100
/// and stores it.
fn identity_then_copy(out: u64) -> Case {
    let word = U256::from_be_bytes(std::array::from_fn::<u8, 32, _>(|i| i as u8 + 1));
    let code = Asm::default()
        .push_word(word)
        .push(0)
        .op(MSTORE)
        .push(32)
        .push(out)
        .push(32)
        .push(0)
        .push(4)
        .push(1_000)
        .op(STATICCALL)
        .op(POP)
        .push(32)
        .push(0)
        .push(0x100)
        .op(RETURNDATACOPY)
        .push(0x100)
        .op(MLOAD)
        .store(0);
    cancun(code)
}

/// Calls identity with 32 bytes, then calls `second` with `len` bytes, and stores
/// RETURNDATASIZE.
fn returndata_after_call_to(second: Address, len: u64) -> Case {
    let identity = |asm: Asm, to: Address, len: u64| {
        asm.push(0).push(0).push(len).push(0).push_word(U256::from_be_slice(to.as_slice())).push(10_000).op(STATICCALL).op(POP)
    };
    let code = identity(identity(Asm::default(), Address::with_last_byte(4), 32), second, len).op(RETURNDATASIZE).store(0);
    cancun(code)
}

/// `CONTRACT` calls `OTHER` with `gas`; `OTHER` stores the gas it is left with. The
/// transaction's gas limit makes the caller's gas at the call 1 mod 64.
fn forwarded_gas(gas: u64) -> Case {
    let mut case = calling(gas, Asm::default().op(GAS).store(0));
    case.tx.gas_limit = 1_000_000 + JUMPDEST_PAD;
    case
}

/// Shifts the caller's gas at the call off a multiple of 64.
const JUMPDEST_PAD: u64 = 5;

/// The transaction sends `value` to `CONTRACT`, which DELEGATECALLs `OTHER`, which stores its
/// CALLVALUE.
fn delegated_value(value: u64) -> Case {
    let callee = Asm::default().op(CALLVALUE).store(0);
    let caller = Asm::default().call(DELEGATECALL, 50_000, OTHER, None).store(1);
    let mut case = case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))]);
    case.tx.value = TxValue::Value(U256::from(value));
    case
}

/// CREATE with init code returning the one byte `first`; stores the new address.
fn create_returning(first: u8) -> Case {
    // PUSH1 first PUSH0 MSTORE8 PUSH1 1 PUSH0 RETURN
    let init = [PUSH1, first, PUSH0, MSTORE8, PUSH1, 1, PUSH0, RETURN];
    let code = Asm::default().push_word(U256::from_be_slice(&init)).push(0).op(MSTORE).push(8).push(24).push(0).op(CREATE).store(0);
    cancun(code)
}

/// `CONTRACT`, existing before the transaction, self-destructs to `OTHER`.
fn selfdestruct_in(fork: Fork) -> Case {
    let code = Asm::default().push_word(U256::from_be_slice(OTHER.as_slice())).op(SELFDESTRUCT);
    case(fork, account(code), vec![(OTHER, account(Asm::default()))])
}

/// `CONTRACT` clears `slots` slots that held 1 (each clear earns a refund).
fn clears(slots: u64) -> Case {
    let mut code = Asm::default();
    for slot in 0..slots {
        code = code.push(0).push(slot).op(SSTORE);
    }
    let mut contract = account(code);
    contract.storage.extend((0..slots).map(|slot| (U256::from(slot), U256::from(1))));
    case(Fork::Cancun, contract, Vec::new())
}

/// `CONTRACT` TSTOREs 7 at `slot` and calls `OTHER`, which stores what it TLOADs at slot 0.
fn tload_after_tstore_at(slot: u64) -> Case {
    let callee = Asm::default().push(0).op(TLOAD).store(0);
    let caller = Asm::default().push(7).push(slot).op(TSTORE).call(CALL, 50_000, OTHER, Some(0)).store(1);
    case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))])
}

/// geth's ECRECOVER test vector, with v as given.
fn ecrecover_input(v: U256) -> Vec<u8> {
    let word = |hex: &str| U256::from_str_radix(hex, 16).expect("a hex word");
    words(&[
        word("456e9aea5e197a1f1af7a3e85a3212fa4049a3ba34c2289b4c860fc0b0c64ef3"),
        v,
        word("9242685bf161793cc25603c231bc2f568eb630ea16aa137d2664ac8038825608"),
        word("4f8ae3bd7535248d0bd448298cc2e2071e56992d0774dc340c368ae950852ada"),
    ])
}

/// A MODEXP input `3^5 mod m` with an `mod_len`-byte modulus of 7.
fn modexp_input(mod_len: u8) -> Vec<u8> {
    let mut input = words(&[U256::from(1), U256::from(1), U256::from(mod_len)]);
    input.extend([3, 5]);
    input.extend((0..mod_len).map(|i| if i + 1 == mod_len { 7 } else { 0 }));
    input
}

/// A BLAKE2F input of zero rounds with final-block flag `flag`.
fn blake2f_input(flag: u8) -> Vec<u8> {
    let mut input = vec![0u8; 213];
    input[212] = flag;
    input
}

/// The transaction carries `data` to `CONTRACT`, which does nothing.
fn with_calldata(fork: Fork, data: Vec<u8>) -> Case {
    let mut case = simple(fork, Asm::default().op(CALLDATASIZE).op(POP));
    case.tx.data = Bytes::from(data);
    case
}

/// An access-list transaction to `CONTRACT` listing it with `keys` storage keys.
fn with_access_list(keys: usize) -> Case {
    let mut case = cancun(Asm::default().push(0).op(SLOAD).op(POP));
    case.tx.kind = TxKind::AccessList;
    case.tx.access_list = vec![AccessListItem { address: CONTRACT, storage_keys: vec![B256::ZERO; keys] }];
    case
}

/// For each mutant: a case that reaches its edge and one that uses the same operation with
/// ordinary operands; none for the block-level mutant, which no single transaction reaches
/// (engine/tests/sequences.rs shows it in a block).
fn cases(mutant: Mutant) -> Option<(Case, Case)> {
    let n = U256::from;
    Some(match mutant {
        Mutant::SarNegativeShift => (cancun(sar(256)), cancun(sar(4))),
        Mutant::McopyOverlap => (cancun(mcopy(1, 0)), cancun(mcopy(0, 1))),
        Mutant::SstoreRefund => {
            let mut restore_nonzero = account(rewrite(6, 5));
            restore_nonzero.storage.insert(U256::ZERO, U256::from(5));
            (cancun(rewrite(1, 0)), case(Fork::Cancun, restore_nonzero, Vec::new()))
        }
        Mutant::CallStipend => (call_with(0, 1), call_with(100, 0)),
        Mutant::ExpGas => (cancun(exp(0x1234)), cancun(exp(0x12))),
        Mutant::PrecompileOutput => (simple(Fork::Prague, modexp_call(3, 0, 1)), simple(Fork::Prague, modexp_call(3, 0, 7))),
        Mutant::Create2Address => (cancun(create2(U256::from(u64::MAX) + U256::from(2))), cancun(create2(U256::from(7)))),
        Mutant::TstoreRevert => (tstore_then(Asm::default().push(0).push(0).op(REVERT)), tstore_then(Asm::default().op(STOP))),
        Mutant::ClzZero => {
            (simple(Fork::Osaka, Asm::default().push(0).op(CLZ).store(0)), simple(Fork::Osaka, Asm::default().push(1).op(CLZ).store(0)))
        }
        Mutant::BlobhashIndex => (
            with_blobs(cancun(Asm::default().push(2).op(BLOBHASH).store(0))),
            with_blobs(cancun(Asm::default().push(1).op(BLOBHASH).store(0))),
        ),
        Mutant::StaleSlotInBlock => return None,
        Mutant::SdivOverflow => (binary_case(SDIV, min_signed(), MINUS_ONE), binary_case(SDIV, min_signed() + n(1), MINUS_ONE)),
        Mutant::SmodSign => (binary_case(SMOD, n(7), MINUS_ONE - n(2)), binary_case(SMOD, n(7), n(3))),
        Mutant::AddmodWrap => (cancun(ternary(ADDMOD, U256::MAX, n(2), n(10))), cancun(ternary(ADDMOD, n(5), n(7), n(10)))),
        Mutant::MulmodWrap => (cancun(ternary(MULMOD, min_signed(), n(4), n(7))), cancun(ternary(MULMOD, n(6), n(7), n(10)))),
        Mutant::SignextendIndex => (binary_case(SIGNEXTEND, above_u64(0), n(0xff)), binary_case(SIGNEXTEND, n(0), n(0xff))),
        Mutant::ByteIndex => (binary_case(BYTE, above_u64(31), n(0xab)), binary_case(BYTE, n(31), n(0xab))),
        Mutant::ShlShift => (binary_case(SHL, above_u64(1), n(1)), binary_case(SHL, n(1), n(1))),
        Mutant::ExpZeroZero => (binary_case(EXP, n(0), n(0)), binary_case(EXP, n(2), n(0))),
        Mutant::Keccak256EmptyExpands => {
            let hash_nothing_at = |offset| cancun(Asm::default().push(0).push(offset).op(KECCAK256).store(0).op(MSIZE).store(1));
            (hash_nothing_at(1000), hash_nothing_at(0))
        }
        Mutant::CalldatacopyNoPad => {
            let copy = |len| {
                let code = Asm::default()
                    .push_word(U256::MAX)
                    .push(0)
                    .op(MSTORE)
                    .push(len)
                    .push(0)
                    .push(0)
                    .op(CALLDATACOPY)
                    .push(0)
                    .op(MLOAD)
                    .store(0);
                let mut case = cancun(code);
                case.tx.data = Bytes::from_static(&[1, 2, 3, 4]);
                case
            };
            (copy(32), copy(4))
        }
        Mutant::ReturndatacopyBounds => (returndatacopy_of(32), returndatacopy_of(4)),
        Mutant::IdentityAliasing => (identity_then_copy(16), identity_then_copy(32)),
        Mutant::ReturndataNotCleared => {
            (returndata_after_call_to(Address::with_last_byte(0xee), 0), returndata_after_call_to(Address::with_last_byte(4), 16))
        }
        Mutant::CallGasFloor => (forwarded_gas(u64::from(u32::MAX)), forwarded_gas(50_000)),
        Mutant::DelegatecallValue => (delegated_value(5), delegated_value(0)),
        Mutant::EfCodeAccepted => (create_returning(0xef), create_returning(0xfe)),
        Mutant::SelfdestructAnyContract => (selfdestruct_in(Fork::Cancun), selfdestruct_in(Fork::Shanghai)),
        Mutant::SstoreSentry => {
            (calling(2_250, Asm::default().push(0).push(0).op(SSTORE)), calling(5_000, Asm::default().push(0).push(0).op(SSTORE)))
        }
        Mutant::RefundCap => (clears(3), clears(1)),
        Mutant::TloadSlotOnly => (tload_after_tstore_at(0), tload_after_tstore_at(1)),
        Mutant::EcrecoverV => {
            (precompile(Fork::Cancun, 1, &ecrecover_input(n(0x11c))), precompile(Fork::Cancun, 1, &ecrecover_input(n(28))))
        }
        Mutant::Ripemd160Unpadded => (precompile(Fork::Cancun, 3, b"abc"), simple(Fork::Cancun, Asm::default().precompile(3, b"abc", 10))),
        Mutant::IdentityGas => (precompile(Fork::Cancun, 4, &[7; 33]), precompile(Fork::Cancun, 4, &[7; 64])),
        Mutant::ModexpZeroModulus => (precompile(Fork::Cancun, 5, &modexp_input(0)), precompile(Fork::Cancun, 5, &modexp_input(1))),
        Mutant::EcaddInfinity => {
            let generator = words(&[n(1), n(2), n(1), n(2)]);
            (precompile(Fork::Cancun, 6, &[0; 128]), precompile(Fork::Cancun, 6, &generator))
        }
        Mutant::Blake2fFlag => (precompile(Fork::Cancun, 9, &blake2f_input(2)), precompile(Fork::Cancun, 9, &blake2f_input(1))),
        Mutant::BlsFieldPadding => {
            let mut padded = [0u8; 256];
            padded[0] = 1;
            (precompile(Fork::Prague, 0x0b, &padded), precompile(Fork::Prague, 0x0b, &[0; 256]))
        }
        Mutant::CalldataFloorZeroBytes => (with_calldata(Fork::Prague, vec![0; 1000]), with_calldata(Fork::Prague, vec![1; 1000])),
        Mutant::AccessListKeyCost => (with_access_list(1), with_access_list(0)),
    })
}

#[test]
fn the_block_level_mutant_agrees_on_every_single_transaction() {
    let stale = MutantRevm::new(Mutant::StaleSlotInBlock);
    for mutant in Mutant::ALL {
        let Some((edge, ordinary)) = cases(mutant) else { continue };
        for case in [edge, ordinary] {
            assert_eq!(run(&Revm, &case), run(&stale, &case), "{}", mutant.name());
        }
    }
}

fn run(client: &dyn Client, case: &Case) -> Outcome {
    client.execute(case, TraceMode::Off).expect("executes")
}

/// Every mutant's failures of `check`, which compares the healthy and the broken outcome of
/// the case `pick` takes from `cases`, one line each.
fn failures(pick: fn((Case, Case)) -> Case, check: fn(&Outcome, &Outcome) -> Result<(), String>) -> Vec<String> {
    Mutant::ALL
        .into_iter()
        .filter_map(|mutant| {
            let case = pick(cases(mutant)?);
            let healthy = run(&Revm, &case);
            let broken = run(&MutantRevm::new(mutant), &case);
            let failure =
                if healthy.error.is_some() { Err(format!("the healthy run fails: {:?}", healthy.error)) } else { check(&healthy, &broken) };
            failure.err().map(|why| format!("{}: {why}", mutant.name()))
        })
        .collect()
}

#[test]
fn every_mutant_diverges_on_its_edge() {
    let failures = failures(
        |(edge, _)| edge,
        |healthy, broken| {
            if healthy.state_root == broken.state_root { Err("same post-state root".into()) } else { Ok(()) }
        },
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_mutant_agrees_off_its_edge() {
    let failures = failures(
        |(_, ordinary)| ordinary,
        |healthy, broken| {
            let same = (healthy.state_root, healthy.gas_used, healthy.logs_hash) == (broken.state_root, broken.gas_used, broken.logs_hash);
            if same { Ok(()) } else { Err(format!("healthy {healthy:?}\nbroken {broken:?}")) }
        },
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn edges_break_as_described() {
    let slot = |outcome: &Outcome, slot: u64| {
        let post = outcome.post_state.as_ref().expect("in-process clients give the post-state");
        post.get(&CONTRACT).and_then(|a| a.storage.get(&U256::from(slot)).copied()).unwrap_or_default()
    };
    let both = |mutant| {
        let (edge, _) = cases(mutant).expect("a single-transaction mutant");
        (run(&Revm, &edge), run(&MutantRevm::new(mutant), &edge))
    };
    let (healthy, broken) = both(Mutant::SarNegativeShift);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::MAX, U256::ZERO));
    let (healthy, broken) = both(Mutant::ExpGas);
    assert_eq!(broken.gas_used.map(|g| g + 50), healthy.gas_used);
    let (healthy, broken) = both(Mutant::SstoreRefund);
    assert!(broken.gas_used > healthy.gas_used);
    let (healthy, broken) = both(Mutant::CallStipend);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(1), U256::ZERO));
    let (healthy, broken) = both(Mutant::PrecompileOutput);
    assert_eq!(slot(&healthy, 1), U256::from(1), "the MODEXP call succeeds");
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(1) << 248));
    let (healthy, broken) = both(Mutant::TstoreRevert);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(1)));
    let (healthy, broken) = both(Mutant::ClzZero);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(256), U256::from(255)));
    let (healthy, broken) = both(Mutant::McopyOverlap);
    // Healthy: bytes 1..=32 shifted up by one; broken: byte 0x01 smeared over the copy.
    assert_eq!(slot(&healthy, 0), U256::from_be_bytes(std::array::from_fn::<u8, 32, _>(|i| i.max(1) as u8)));
    assert_eq!(slot(&broken, 0), U256::from_be_bytes([1; 32]));
    let (healthy, broken) = both(Mutant::Create2Address);
    assert_ne!(slot(&healthy, 0), U256::ZERO);
    assert_ne!(slot(&broken, 0), U256::ZERO);
    assert_ne!(slot(&healthy, 0), slot(&broken, 0));
    let (healthy, broken) = both(Mutant::BlobhashIndex);
    assert_eq!(slot(&healthy, 0), U256::ZERO);
    assert_ne!(slot(&broken, 0), U256::ZERO);
}

#[test]
fn the_value_call_stipend_is_missing_for_callcode_too() {
    let callee = Asm::default().push(1).push(0).op(MSTORE);
    let caller = Asm::default().call(CALLCODE, 0, OTHER, Some(1)).store(0);
    let case = case(Fork::Cancun, account(caller), vec![(OTHER, account(callee))]);
    let healthy = run(&Revm, &case);
    let broken = run(&MutantRevm::new(Mutant::CallStipend), &case);
    assert_ne!(healthy.state_root, broken.state_root);
}

#[test]
fn mutants_trace_like_they_execute() {
    for mutant in Mutant::ALL {
        let Some((edge, _)) = cases(mutant) else { continue };
        let client = MutantRevm::new(mutant);
        let plain = run(&client, &edge);
        let traced = client.execute(&edge, TraceMode::Steps).expect("executes");
        assert_eq!(plain.state_root, traced.state_root, "{}", mutant.name());
        assert!(traced.trace.is_some_and(|steps| !steps.is_empty()), "{}", mutant.name());
    }
    let (edge, _) = cases(Mutant::ExpGas).expect("a single-transaction mutant");
    let cost = |client: &dyn Client| {
        let steps = client.execute(&edge, TraceMode::Steps).expect("executes").trace.expect("traced");
        steps.iter().find(|s| s.op == EXP).map(|s| s.gas_cost).expect("an EXP step")
    };
    assert_eq!(cost(&Revm), 10 + 2 * 50);
    assert_eq!(cost(&MutantRevm::new(Mutant::ExpGas)), 10 + 50);
}

#[test]
fn names_are_distinct_kebab_case_and_round_trip() {
    assert!(Mutant::ALL.len() >= 31, "the canary set has {} mutants", Mutant::ALL.len());
    let names: HashSet<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(names.len(), Mutant::ALL.len());
    for mutant in Mutant::ALL {
        let name = mutant.name();
        assert_eq!(Mutant::from_name(name), Some(mutant));
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{name}");
        assert!(name.split('-').all(|word| !word.is_empty()), "{name}: no leading, trailing or double hyphen");
        assert!(!mutant.description().is_empty() && !mutant.description().contains('\n'), "{name}");
        assert_eq!(MutantRevm::new(mutant).id(), format!("revm~{name}"));
    }
    assert_eq!(Mutant::from_name("no-such-bug"), None);
}

#[test]
fn only_the_block_executor_mutant_is_block_level() {
    let block_level: Vec<_> = Mutant::ALL.into_iter().filter(|m| m.block_level()).collect();
    assert_eq!(block_level, [Mutant::StaleSlotInBlock]);
    assert!(Mutant::ALL.into_iter().all(|m| m.block_level() == (m.area() == Area::Block)));
}

#[test]
fn new_edges_break_as_described() {
    let slot_of = |outcome: &Outcome, address: Address, slot: u64| {
        let post = outcome.post_state.as_ref().expect("in-process clients give the post-state");
        post.get(&address).and_then(|a| a.storage.get(&U256::from(slot)).copied()).unwrap_or_default()
    };
    let slot = |outcome: &Outcome, slot: u64| slot_of(outcome, CONTRACT, slot);
    let both = |mutant| {
        let (edge, _) = cases(mutant).expect("a single-transaction mutant");
        (run(&Revm, &edge), run(&MutantRevm::new(mutant), &edge))
    };
    let (healthy, broken) = both(Mutant::SdivOverflow);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (min_signed(), U256::ZERO));
    let (healthy, broken) = both(Mutant::SmodSign);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(1), MINUS_ONE));
    let (healthy, broken) = both(Mutant::AddmodWrap);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(7), U256::from(1)));
    let (healthy, broken) = both(Mutant::MulmodWrap);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(4), U256::ZERO));
    let (healthy, broken) = both(Mutant::SignextendIndex);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(0xff), U256::MAX));
    let (healthy, broken) = both(Mutant::ByteIndex);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(0xab)));
    let (healthy, broken) = both(Mutant::ShlShift);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(2)));
    let (healthy, broken) = both(Mutant::ExpZeroZero);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(1), U256::ZERO));
    let (healthy, broken) = both(Mutant::Keccak256EmptyExpands);
    assert_eq!((slot(&healthy, 1), slot(&broken, 1)), (U256::ZERO, U256::from(1024)));
    let (healthy, broken) = both(Mutant::CalldatacopyNoPad);
    let ones_after = |prefix: U256| prefix | (U256::MAX >> 32);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(0x01020304u32) << 224, ones_after(U256::from(0x01020304u32) << 224)));
    let (healthy, broken) = both(Mutant::ReturndatacopyBounds);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(1)));
    let (healthy, broken) = both(Mutant::IdentityAliasing);
    let word = U256::from_be_bytes(std::array::from_fn::<u8, 32, _>(|i| i as u8 + 1));
    let aliased = U256::from_be_bytes(std::array::from_fn::<u8, 32, _>(|i| (i % 16) as u8 + 1));
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (word, aliased));
    let (healthy, broken) = both(Mutant::ReturndataNotCleared);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(32)));
    let (healthy, broken) = both(Mutant::CallGasFloor);
    assert_eq!(slot_of(&healthy, OTHER, 0), slot_of(&broken, OTHER, 0) + U256::from(1));
    let (healthy, broken) = both(Mutant::DelegatecallValue);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::from(5), U256::ZERO));
    let (healthy, broken) = both(Mutant::EfCodeAccepted);
    assert_eq!(slot(&healthy, 0), U256::ZERO);
    assert_ne!(slot(&broken, 0), U256::ZERO);
    let (healthy, broken) = both(Mutant::SelfdestructAnyContract);
    let exists = |outcome: &Outcome| outcome.post_state.as_ref().is_some_and(|post| post.contains_key(&CONTRACT));
    assert!(exists(&healthy) && !exists(&broken));
    let (healthy, broken) = both(Mutant::SstoreSentry);
    assert_eq!((slot(&healthy, 0), slot(&broken, 0)), (U256::ZERO, U256::from(1)));
    let (healthy, broken) = both(Mutant::RefundCap);
    assert!(broken.gas_used < healthy.gas_used);
    let (healthy, broken) = both(Mutant::TloadSlotOnly);
    assert_eq!((slot_of(&healthy, OTHER, 0), slot_of(&broken, OTHER, 0)), (U256::ZERO, U256::from(7)));
    let (healthy, broken) = both(Mutant::EcrecoverV);
    let signer = U256::from_str_radix("7156526fbd7a3c72969b54f64e42c10fbb768c8a", 16).expect("hex");
    assert_eq!((slot(&healthy, 2), slot(&broken, 0)), (U256::ZERO, signer));
    let (healthy, broken) = both(Mutant::Ripemd160Unpadded);
    assert_eq!((slot(&healthy, 2), slot(&broken, 2)), (U256::from(32), U256::from(20)));
    let (healthy, broken) = both(Mutant::IdentityGas);
    assert_eq!(broken.gas_used.map(|g| g + 3), healthy.gas_used);
    let (healthy, broken) = both(Mutant::ModexpZeroModulus);
    assert_eq!((slot(&healthy, 2), slot(&broken, 2)), (U256::ZERO, U256::from(1)));
    for mutant in [Mutant::EcaddInfinity, Mutant::Blake2fFlag, Mutant::BlsFieldPadding] {
        let (healthy, broken) = both(mutant);
        let expected = if mutant == Mutant::EcaddInfinity { (1, 0) } else { (0, 1) };
        assert_eq!((slot(&healthy, 1), slot(&broken, 1)), (U256::from(expected.0), U256::from(expected.1)), "{}", mutant.name());
    }
    let (healthy, broken) = both(Mutant::CalldataFloorZeroBytes);
    assert_eq!((healthy.gas_used, broken.gas_used), (Some(21_000 + 10 * 1000), Some(21_000 + 40 * 1000)));
    let (healthy, broken) = both(Mutant::AccessListKeyCost);
    assert_eq!(broken.gas_used.map(|g| g - 500), healthy.gas_used);
}
