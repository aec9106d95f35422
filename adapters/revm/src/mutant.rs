//! Canary mutants: revm with one deliberate, realistic bug planted, so that `schism selftest`
//! can measure whether and how soon the fuzzer tells a broken EVM from a healthy one.
//!
//! Each bug fires only in its edge case and leaves revm correct everywhere else. Bugs are planted
//! by swapping entries of the EVM's instruction table (the replacement delegates to revm's own
//! instruction outside the edge case, see `opcodes`), one precompile of its precompile set
//! (see `precompiles`), gas parameters or a configuration switch; execution itself is the same
//! path as the healthy [`crate::Revm`]. The one block-level bug lives in the block executor
//! (see `block`).
//!
//! All mutants are rows of `MUTANTS`. To add one:
//! 1. add a variant to [`Mutant`] (the table's order is the enum's order: the build checks it);
//! 2. write the replacement: an instruction in `opcodes.rs` or a precompile in
//!    `precompiles.rs`, delegating to revm's own code outside its edge;
//! 3. add its row to `MUTANTS`: variant, kebab-case name, area, one line saying what is broken,
//!    and how it is planted;
//! 4. add an edge case and a neighbouring ordinary case to `cases` in `mutant/tests.rs`, and the
//!    name to the self-test paragraph of the README.

mod block;
mod opcodes;
mod precompiles;
#[cfg(test)]
mod tests;

use crate::input::PreDb;
use crate::{KNOWN_DIFFERENCES, REVM_VERSION};
use opcodes as op;
use precompiles as pre;
use revm::bytecode::opcode::*;
use revm::context::CfgEnv;
use revm::context_interface::cfg::GasId;
use revm::database_interface::WrapDatabaseRef;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{Instruction, InstructionContext, InstructionExecResult};
use revm::precompile::PrecompileResult;
use schism_interface::{
    BlockInput, BlockOutcome, Case, Client, ClientError, Fork, KnownDifference, Outcome, StepObserver, SystemCall, SystemOutcome, TraceMode,
};

/// A deliberate bug planted in revm, for self-tests of the fuzzer (its row in `MUTANTS` says how).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// SAR of a negative value by a shift >= 256 gives 0 instead of 2^256-1.
    SarNegativeShift,
    /// MCOPY with overlapping ranges and dst > src copies forwards byte by byte (no memmove).
    McopyOverlap,
    /// SSTORE restoring a slot to its original zero (0 -> x -> 0 in one tx) grants no refund.
    SstoreRefund,
    /// CALL/CALLCODE with value > 0 does not add the 2300 gas stipend to the callee.
    CallStipend,
    /// EXP charges 50 * (bytes - 1) instead of 50 * bytes for exponents >= 2^8.
    ExpGas,
    /// MODEXP (0x05) returns 1 instead of 0 for a zero exponent and modulus 1.
    PrecompileOutput,
    /// CREATE2 derives the address from the low 64 bits of the salt only.
    Create2Address,
    /// TSTORE is not journalled: a reverted frame's transient writes survive.
    TstoreRevert,
    /// CLZ of 0 gives 255 instead of 256.
    ClzZero,
    /// BLOBHASH at index == number of blobs gives the last hash instead of 0 (off by one).
    BlobhashIndex,
    /// A transaction reads storage slots that earlier transactions of the same block wrote as they were
    /// at the block's start (a per-block cache not refreshed between transactions).
    StaleSlotInBlock,
    /// SDIV(-2^255, -1) gives 0 instead of -2^255 (the overflow case answered like division by zero).
    SdivOverflow,
    /// SMOD takes the result's sign from the divisor instead of the dividend.
    SmodSign,
    /// ADDMOD reduces the sum truncated to 256 bits instead of the full 257-bit sum.
    AddmodWrap,
    /// MULMOD reduces the product truncated to 256 bits instead of the full 512-bit product.
    MulmodWrap,
    /// SIGNEXTEND reads its byte index as a u64, so an index >= 2^64 wraps to its low 64 bits.
    SignextendIndex,
    /// BYTE reads its index as a u64, so an index >= 2^64 wraps to its low 64 bits.
    ByteIndex,
    /// SHL reads its shift as a u64, so a shift >= 2^64 wraps to its low 64 bits.
    ShlShift,
    /// EXP(0, 0) gives 0 instead of 1.
    ExpZeroZero,
    /// KECCAK256 of zero bytes at a non-zero offset expands memory to the offset (and charges for it).
    Keccak256EmptyExpands,
    /// CALLDATACOPY past the end of the calldata leaves the rest of the destination as it was instead
    /// of zeroing it.
    CalldatacopyNoPad,
    /// RETURNDATACOPY checks only its offset against the return data and zero-pads past the end instead
    /// of failing.
    ReturndatacopyBounds,
    /// The identity precompile's (0x04) output aliases the caller's input memory, so RETURNDATACOPY
    /// sees later writes to it, such as an overlapping output copy (geth CVE-2021-39137).
    IdentityAliasing,
    /// A call or creation that returns no data (a successful CREATE, a call to a codeless account)
    /// leaves the previous return data in place instead of clearing it.
    ReturndataNotCleared,
    /// The 63/64 rule forwards floor(63 * g / 64) instead of g - floor(g / 64): one gas less when 64
    /// does not divide g.
    CallGasFloor,
    /// DELEGATECALL does not pass on the caller's CALLVALUE: the callee sees 0.
    DelegatecallValue,
    /// A creation may deploy code starting with 0xEF (EIP-3541 not enforced).
    EfCodeAccepted,
    /// From Cancun, SELFDESTRUCT still deletes a contract not created in the same transaction (EIP-6780
    /// missing).
    SelfdestructAnyContract,
    /// SSTORE runs with 2300 gas or less left instead of failing (the EIP-2200 reentrancy sentry
    /// missing).
    SstoreSentry,
    /// From London, the refund is still capped at gas used / 2 instead of gas used / 5 (EIP-3529).
    RefundCap,
    /// TLOAD is keyed by slot only: it reads the last value any contract stored at the slot.
    TloadSlotOnly,
    /// ECRECOVER (0x01) checks only the last byte of v, accepting v = 27 or 28 with other bytes set.
    EcrecoverV,
    /// RIPEMD-160 (0x03) returns the bare 20-byte hash instead of left-padding it to 32 bytes.
    Ripemd160Unpadded,
    /// The identity precompile (0x04) charges 3 gas per whole word, rounding the input's length down.
    IdentityGas,
    /// MODEXP (0x05) with a zero-length modulus returns one zero byte instead of nothing.
    ModexpZeroModulus,
    /// BN254 ecAdd (0x06) rejects the point at infinity (0, 0) as not on the curve.
    EcaddInfinity,
    /// BLAKE2F (0x09) accepts a final-block flag other than 0 or 1 (taking it as 1) instead of failing.
    Blake2fFlag,
    /// BLS12-381 G1ADD (0x0b) ignores the 16 padding bytes of each field element instead of requiring
    /// zeros.
    BlsFieldPadding,
    /// From Prague, the calldata floor (EIP-7623) counts a zero byte as 4 tokens instead of 1.
    CalldataFloorZeroBytes,
    /// An access list's storage key is charged 2400 gas (the address price) instead of 1900.
    AccessListKeyCost,
}

/// Which part of the protocol a mutant breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Area {
    /// Arithmetic and bitwise instructions.
    Arithmetic,
    /// Memory and copies into it.
    Memory,
    /// Calls, their gas and their return data.
    Calls,
    /// Contract creation and destruction.
    Creation,
    /// Persistent storage, its gas and refunds.
    Storage,
    /// Transient storage (EIP-1153).
    Transient,
    /// Transaction and block context instructions.
    Context,
    /// Precompiled contracts.
    Precompile,
    /// Transaction validity and intrinsic gas.
    Transaction,
    /// Rules across the transactions of a block.
    Block,
}

/// A replacement instruction: runs on the mutant's EVM in place of revm's.
type Op = for<'a, 'db> fn(InstructionContext<'a, Ctx<'db>, EthInterpreter>) -> InstructionExecResult;

/// A replacement precompile: gets the input, the gas limit, the state-gas reservoir and the
/// healthy precompile of the fork, to delegate to outside its edge.
type PrecompileMutant = fn(&[u8], u64, u64, &revm::precompile::Precompile) -> PrecompileResult;

/// The context the mutants' EVM runs with (the one [`crate::Revm`] builds).
type Ctx<'db> = MainnetContext<WrapDatabaseRef<&'db PreDb<'db>>>;

/// How a mutant is planted.
#[derive(Clone, Copy)]
enum Plant {
    /// These instructions replace revm's.
    Instructions(&'static [(u8, Op)]),
    /// These gas parameters replace the fork's.
    Gas(&'static [(GasId, u64)]),
    /// A change to the EVM's configuration.
    Cfg(fn(&mut CfgEnv)),
    /// The precompile at this address (its last byte) is replaced.
    Precompile(u8, PrecompileMutant),
    /// Nothing in the EVM: the block executor is replaced (see `block`).
    Block,
}

/// One mutant: what it is called, what it breaks and how.
#[derive(Clone, Copy)]
struct Row {
    mutant: Mutant,
    name: &'static str,
    area: Area,
    description: &'static str,
    plant: Plant,
}

/// Shorthand for a table row.
const fn row(mutant: Mutant, name: &'static str, area: Area, description: &'static str, plant: Plant) -> Row {
    Row { mutant, name, area, description, plant }
}

use Area::*;
use Plant::{Block as BlockExecutor, Cfg, Gas, Instructions};

/// Every mutant, in the order of [`Mutant`]'s variants.
#[rustfmt::skip]
const MUTANTS: [Row; 40] = [
    row(Mutant::SarNegativeShift, "sar-negative-shift", Arithmetic,
        "SAR of a negative value by a shift >= 256 gives 0 instead of 2^256-1",
        Instructions(&[(SAR, op::sar)])),
    row(Mutant::McopyOverlap, "mcopy-overlap", Memory,
        "MCOPY with overlapping ranges and dst > src copies forwards byte by byte (no memmove)",
        Instructions(&[(MCOPY, op::mcopy)])),
    row(Mutant::SstoreRefund, "sstore-refund", Storage,
        "SSTORE restoring a slot to its original zero (0 -> x -> 0 in one tx) grants no refund",
        Gas(&[(GasId::sstore_set_refund(), 0)])),
    row(Mutant::CallStipend, "call-stipend", Calls,
        "CALL/CALLCODE with value > 0 does not add the 2300 gas stipend to the callee",
        Instructions(&[(CALL, op::call_without_stipend::<CALL>), (CALLCODE, op::call_without_stipend::<CALLCODE>)])),
    row(Mutant::ExpGas, "exp-gas", Arithmetic,
        "EXP charges 50 * (bytes - 1) instead of 50 * bytes for exponents >= 2^8",
        Instructions(&[(EXP, op::exp_gas)])),
    row(Mutant::PrecompileOutput, "precompile-output", Precompile,
        "MODEXP (0x05) returns 1 instead of 0 for a zero exponent and modulus 1",
        Plant::Precompile(0x05, pre::modexp_mod_one)),
    row(Mutant::Create2Address, "create2-address", Creation,
        "CREATE2 derives the address from the low 64 bits of the salt only",
        Instructions(&[(CREATE2, op::create2)])),
    row(Mutant::TstoreRevert, "tstore-revert", Transient,
        "TSTORE is not journalled: a reverted frame's transient writes survive",
        Instructions(&[(TSTORE, op::tstore_unjournalled)])),
    row(Mutant::ClzZero, "clz-zero", Arithmetic,
        "CLZ of 0 gives 255 instead of 256",
        Instructions(&[(CLZ, op::clz)])),
    row(Mutant::BlobhashIndex, "blobhash-index", Context,
        "BLOBHASH at index == number of blobs gives the last hash instead of 0 (off by one)",
        Instructions(&[(BLOBHASH, op::blobhash)])),
    row(Mutant::StaleSlotInBlock, "stale-slot-in-block", Block,
        "a transaction reads storage slots that earlier transactions of the same block wrote as they \
         were at the block's start (a per-block cache not refreshed between transactions)",
        BlockExecutor),
    row(Mutant::SdivOverflow, "sdiv-overflow", Arithmetic,
        "SDIV(-2^255, -1) gives 0 instead of -2^255 (the overflow case answered like division by zero)",
        Instructions(&[(SDIV, op::sdiv)])),
    row(Mutant::SmodSign, "smod-sign", Arithmetic,
        "SMOD takes the result's sign from the divisor instead of the dividend",
        Instructions(&[(SMOD, op::smod)])),
    row(Mutant::AddmodWrap, "addmod-wrap", Arithmetic,
        "ADDMOD reduces the sum truncated to 256 bits instead of the full 257-bit sum",
        Instructions(&[(ADDMOD, op::addmod)])),
    row(Mutant::MulmodWrap, "mulmod-wrap", Arithmetic,
        "MULMOD reduces the product truncated to 256 bits instead of the full 512-bit product",
        Instructions(&[(MULMOD, op::mulmod)])),
    row(Mutant::SignextendIndex, "signextend-index", Arithmetic,
        "SIGNEXTEND reads its byte index as a u64, so an index >= 2^64 wraps to its low 64 bits",
        Instructions(&[(SIGNEXTEND, op::signextend)])),
    row(Mutant::ByteIndex, "byte-index", Arithmetic,
        "BYTE reads its index as a u64, so an index >= 2^64 wraps to its low 64 bits",
        Instructions(&[(BYTE, op::byte)])),
    row(Mutant::ShlShift, "shl-shift", Arithmetic,
        "SHL reads its shift as a u64, so a shift >= 2^64 wraps to its low 64 bits",
        Instructions(&[(SHL, op::shl)])),
    row(Mutant::ExpZeroZero, "exp-zero-zero", Arithmetic,
        "EXP(0, 0) gives 0 instead of 1",
        Instructions(&[(EXP, op::exp_zero_zero)])),
    row(Mutant::Keccak256EmptyExpands, "keccak256-empty-expands", Memory,
        "KECCAK256 of zero bytes at a non-zero offset expands memory to the offset (and charges for it)",
        Instructions(&[(KECCAK256, op::keccak256)])),
    row(Mutant::CalldatacopyNoPad, "calldatacopy-no-pad", Memory,
        "CALLDATACOPY past the end of the calldata leaves the rest of the destination as it was instead of zeroing it",
        Instructions(&[(CALLDATACOPY, op::calldatacopy)])),
    row(Mutant::ReturndatacopyBounds, "returndatacopy-bounds", Memory,
        "RETURNDATACOPY checks only its offset against the return data and zero-pads past the end instead of failing",
        Instructions(&[(RETURNDATACOPY, op::returndatacopy)])),
    row(Mutant::IdentityAliasing, "identity-aliasing", Calls,
        "the identity precompile's (0x04) output aliases the caller's input memory, so RETURNDATACOPY sees \
         later writes to it, such as an overlapping output copy (geth CVE-2021-39137)",
        Instructions(&[
            (CALL, op::aliasing_call::<CALL>), (CALLCODE, op::aliasing_call::<CALLCODE>),
            (DELEGATECALL, op::aliasing_call::<DELEGATECALL>), (STATICCALL, op::aliasing_call::<STATICCALL>),
            (CREATE, op::aliasing_create::<false>), (CREATE2, op::aliasing_create::<true>),
            (RETURNDATACOPY, op::aliased_returndatacopy),
        ])),
    row(Mutant::ReturndataNotCleared, "returndata-not-cleared", Calls,
        "a call or creation that returns no data (a successful CREATE, a call to a codeless account) \
         leaves the previous return data in place instead of clearing it",
        Instructions(&[
            (CALL, op::stale_call::<CALL>), (CALLCODE, op::stale_call::<CALLCODE>),
            (DELEGATECALL, op::stale_call::<DELEGATECALL>), (STATICCALL, op::stale_call::<STATICCALL>),
            (CREATE, op::stale_create::<false>), (CREATE2, op::stale_create::<true>),
            (RETURNDATASIZE, op::stale_returndatasize), (RETURNDATACOPY, op::stale_returndatacopy),
        ])),
    row(Mutant::CallGasFloor, "call-gas-floor", Calls,
        "the 63/64 rule forwards floor(63 * g / 64) instead of g - floor(g / 64): one gas less when 64 does not divide g",
        Instructions(&[
            (CALL, op::call_gas_floor::<CALL>), (CALLCODE, op::call_gas_floor::<CALLCODE>),
            (DELEGATECALL, op::call_gas_floor::<DELEGATECALL>), (STATICCALL, op::call_gas_floor::<STATICCALL>),
        ])),
    row(Mutant::DelegatecallValue, "delegatecall-value", Calls,
        "DELEGATECALL does not pass on the caller's CALLVALUE: the callee sees 0",
        Instructions(&[(DELEGATECALL, op::delegatecall_without_value)])),
    row(Mutant::EfCodeAccepted, "ef-code-accepted", Creation,
        "a creation may deploy code starting with 0xEF (EIP-3541 not enforced)",
        Cfg(|cfg| cfg.disable_eip3541 = true)),
    row(Mutant::SelfdestructAnyContract, "selfdestruct-any-contract", Creation,
        "from Cancun, SELFDESTRUCT still deletes a contract not created in the same transaction (EIP-6780 missing)",
        Instructions(&[(SELFDESTRUCT, op::selfdestruct_pre_cancun)])),
    row(Mutant::SstoreSentry, "sstore-sentry", Storage,
        "SSTORE runs with 2300 gas or less left instead of failing (the EIP-2200 reentrancy sentry missing)",
        Instructions(&[(SSTORE, op::sstore_without_sentry)])),
    row(Mutant::RefundCap, "refund-cap", Storage,
        "from London, the refund is still capped at gas used / 2 instead of gas used / 5 (EIP-3529)",
        Gas(&[(GasId::max_refund_quotient(), 2)])),
    row(Mutant::TloadSlotOnly, "tload-slot-only", Transient,
        "TLOAD is keyed by slot only: it reads the last value any contract stored at the slot",
        Instructions(&[(TLOAD, op::tload_slot_only)])),
    row(Mutant::EcrecoverV, "ecrecover-v", Precompile,
        "ECRECOVER (0x01) checks only the last byte of v, accepting v = 27 or 28 with other bytes set",
        Plant::Precompile(0x01, pre::ecrecover_last_byte_v)),
    row(Mutant::Ripemd160Unpadded, "ripemd160-unpadded", Precompile,
        "RIPEMD-160 (0x03) returns the bare 20-byte hash instead of left-padding it to 32 bytes",
        Plant::Precompile(0x03, pre::ripemd160_unpadded)),
    row(Mutant::IdentityGas, "identity-gas", Precompile,
        "the identity precompile (0x04) charges 3 gas per whole word, rounding the input's length down",
        Plant::Precompile(0x04, pre::identity_words_rounded_down)),
    row(Mutant::ModexpZeroModulus, "modexp-zero-modulus", Precompile,
        "MODEXP (0x05) with a zero-length modulus returns one zero byte instead of nothing",
        Plant::Precompile(0x05, pre::modexp_zero_length_modulus)),
    row(Mutant::EcaddInfinity, "ecadd-infinity", Precompile,
        "BN254 ecAdd (0x06) rejects the point at infinity (0, 0) as not on the curve",
        Plant::Precompile(0x06, pre::ecadd_rejecting_infinity)),
    row(Mutant::Blake2fFlag, "blake2f-flag", Precompile,
        "BLAKE2F (0x09) accepts a final-block flag other than 0 or 1 (taking it as 1) instead of failing",
        Plant::Precompile(0x09, pre::blake2f_any_flag)),
    row(Mutant::BlsFieldPadding, "bls-field-padding", Precompile,
        "BLS12-381 G1ADD (0x0b) ignores the 16 padding bytes of each field element instead of requiring zeros",
        Plant::Precompile(0x0b, pre::bls_g1add_ignoring_padding)),
    row(Mutant::CalldataFloorZeroBytes, "calldata-floor-zero-bytes", Transaction,
        "from Prague, the calldata floor (EIP-7623) counts a zero byte as 4 tokens instead of 1",
        Gas(&[(GasId::tx_floor_token_zero_byte_multiplier(), 4)])),
    row(Mutant::AccessListKeyCost, "access-list-key-cost", Transaction,
        "an access list's storage key is charged 2400 gas (the address price) instead of 1900",
        Gas(&[(GasId::tx_access_list_storage_key_cost(), 2400)])),
];

// The table is in the enum's order, so a mutant finds its row by index.
const _: () = {
    let mut i = 0;
    while i < MUTANTS.len() {
        assert!(MUTANTS[i].mutant as usize == i, "MUTANTS is not in the order of Mutant's variants");
        i += 1;
    }
};

impl Mutant {
    /// Every mutant, in a stable order.
    pub const ALL: [Mutant; MUTANTS.len()] = {
        let mut all = [Mutant::SarNegativeShift; MUTANTS.len()];
        let mut i = 0;
        while i < MUTANTS.len() {
            all[i] = MUTANTS[i].mutant;
            i += 1;
        }
        all
    };

    fn row(self) -> Row {
        MUTANTS[self as usize]
    }

    /// The stable kebab-case id of the mutant.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// One line saying what is broken.
    pub fn description(self) -> &'static str {
        self.row().description
    }

    /// The part of the protocol it breaks.
    pub fn area(self) -> Area {
        self.row().area
    }

    /// True when only a block sequence can reveal the mutant.
    pub fn block_level(self) -> bool {
        matches!(self.row().plant, Plant::Block)
    }

    /// The mutant with this name.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Plants the bug in a freshly built mainnet EVM, before it runs a transaction.
    pub(crate) fn plant<INSP>(self, evm: &mut MainnetEvm<Ctx<'_>, INSP>) {
        op::forget_frames();
        match self.row().plant {
            Plant::Instructions(replacements) => {
                let table = evm.instruction.instruction_table_mut();
                for &(opcode, f) in replacements {
                    table[usize::from(opcode)] = Instruction::new(f);
                }
            }
            Plant::Gas(values) => evm.ctx.cfg.gas_params.override_gas(values.iter().copied()),
            Plant::Cfg(change) => change(&mut evm.ctx.cfg),
            Plant::Precompile(address, _) => {
                evm.precompiles.precompiles = pre::mutant_set(self, address, evm.precompiles.spec);
            }
            Plant::Block => {}
        }
    }
}

/// revm with one mutant planted: a schism Client whose `id()` is `revm~<mutant name>`.
#[derive(Debug, Clone)]
pub struct MutantRevm {
    mutant: Mutant,
    id: String,
}

impl MutantRevm {
    /// revm with `mutant` planted.
    pub fn new(mutant: Mutant) -> Self {
        MutantRevm { mutant, id: format!("revm~{}", mutant.name()) }
    }

    /// The planted mutant.
    pub fn mutant(&self) -> Mutant {
        self.mutant
    }
}

impl Client for MutantRevm {
    fn id(&self) -> &str {
        &self.id
    }

    fn version(&self) -> &str {
        REVM_VERSION
    }

    fn supports(&self, fork: Fork) -> bool {
        crate::input::spec_of(fork).is_some()
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        &KNOWN_DIFFERENCES
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        crate::execute(&self.id, case, mode, Some(self.mutant))
    }

    fn execute_observed(&self, case: &Case, observer: &mut dyn StepObserver) -> Result<Outcome, ClientError> {
        Ok(crate::run(&self.id, case, Some(crate::tracer::Observing { observer }), Some(self.mutant))?.0)
    }

    fn observes_cheaply(&self) -> bool {
        true
    }

    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        crate::system_call(&self.id, call)
    }

    fn execute_block(&self, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
        if self.mutant.block_level() {
            return block::execute_stale(self, block, mode);
        }
        schism_interface::sequence::execute::by_transactions(self, block, mode)
    }

    fn execute_block_observed(&self, block: &BlockInput, observer: &mut dyn StepObserver) -> Result<BlockOutcome, ClientError> {
        if self.mutant.block_level() {
            // The stale block executor traces; its traces are replayed.
            let mut outcome = block::execute_stale(self, block, TraceMode::Steps)?;
            schism_interface::sequence::execute::replay_traces(&mut outcome, observer);
            return Ok(outcome);
        }
        schism_interface::sequence::execute::by_transactions_observed(self, block, observer)
    }
}
