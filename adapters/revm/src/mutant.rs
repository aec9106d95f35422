//! Canary mutants: revm with one deliberate, realistic bug planted, so that `schism selftest`
//! can measure whether and how soon the fuzzer tells a broken EVM from a healthy one.
//!
//! Each bug fires only in its edge case and leaves revm correct everywhere else. Bugs are planted
//! by swapping one entry of the EVM's instruction table (the replacement delegates to revm's own
//! instruction outside the edge case), one precompile of its precompile set, or one gas
//! parameter; execution itself is the same path as the healthy [`crate::Revm`].

use crate::{KNOWN_DIFFERENCES, REVM_VERSION};
use revm::bytecode::opcode;
use revm::context_interface::CreateScheme;
use revm::context_interface::cfg::GasId;
use revm::database_interface::Database;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::interpreter::instructions::{arithmetic, bitwise, contract, host, memory, tx_info};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{FrameInput, Host, Instruction, InstructionContext, InstructionExecResult, InstructionResult, InterpreterAction};
use revm::precompile::{
    Precompile, PrecompileEthFn, PrecompileFn, PrecompileResult, PrecompileSpecId, Precompiles, call_eth_precompile, modexp,
};
use revm::primitives::U256;
use schism_interface::fixture::Accounts;
use schism_interface::{
    BlockInput, BlockOutcome, Case, Client, ClientError, Fork, KnownDifference, Outcome, StepObserver, SystemCall, SystemOutcome, TraceMode,
};
use std::sync::OnceLock;

/// A deliberate bug planted in revm, for self-tests of the fuzzer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// SAR of a negative value by 256 or more gives 0 instead of all ones.
    SarNegativeShift,
    /// MCOPY copies forwards byte by byte, smearing overlapping ranges with dst > src.
    McopyOverlap,
    /// No refund for restoring a slot to an original zero (0 -> x -> 0).
    SstoreRefund,
    /// Value-bearing CALL and CALLCODE forward no 2300 gas stipend.
    CallStipend,
    /// EXP charges one exponent byte too few from two-byte exponents on.
    ExpGas,
    /// MODEXP returns 1 for `b^0 mod 1`, which is 0.
    PrecompileOutput,
    /// CREATE2 derives the address from the salt's low 64 bits only.
    Create2Address,
    /// TSTORE bypasses the journal, so a reverted frame keeps its transient writes.
    TstoreRevert,
    /// CLZ of zero gives 255 instead of 256.
    ClzZero,
    /// BLOBHASH one past the last index gives the last hash instead of zero.
    BlobhashIndex,
    /// A transaction reads slots written earlier in its block at their block-start values;
    /// only a block sequence can reveal it.
    StaleSlotInBlock,
}

impl Mutant {
    /// Every mutant, in a stable order.
    pub const ALL: [Mutant; 11] = [
        Mutant::SarNegativeShift,
        Mutant::McopyOverlap,
        Mutant::SstoreRefund,
        Mutant::CallStipend,
        Mutant::ExpGas,
        Mutant::PrecompileOutput,
        Mutant::Create2Address,
        Mutant::TstoreRevert,
        Mutant::ClzZero,
        Mutant::BlobhashIndex,
        Mutant::StaleSlotInBlock,
    ];

    /// The stable kebab-case id of the mutant.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::SarNegativeShift => "sar-negative-shift",
            Mutant::McopyOverlap => "mcopy-overlap",
            Mutant::SstoreRefund => "sstore-refund",
            Mutant::CallStipend => "call-stipend",
            Mutant::ExpGas => "exp-gas",
            Mutant::PrecompileOutput => "precompile-output",
            Mutant::Create2Address => "create2-address",
            Mutant::TstoreRevert => "tstore-revert",
            Mutant::ClzZero => "clz-zero",
            Mutant::BlobhashIndex => "blobhash-index",
            Mutant::StaleSlotInBlock => "stale-slot-in-block",
        }
    }

    /// One line saying what is broken.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::SarNegativeShift => "SAR of a negative value by a shift >= 256 gives 0 instead of 2^256-1",
            Mutant::McopyOverlap => "MCOPY with overlapping ranges and dst > src copies forwards byte by byte (no memmove)",
            Mutant::SstoreRefund => "SSTORE restoring a slot to its original zero (0 -> x -> 0 in one tx) grants no refund",
            Mutant::CallStipend => "CALL/CALLCODE with value > 0 does not add the 2300 gas stipend to the callee",
            Mutant::ExpGas => "EXP charges 50 * (bytes - 1) instead of 50 * bytes for exponents >= 2^8",
            Mutant::PrecompileOutput => "MODEXP (0x05) returns 1 instead of 0 for a zero exponent and modulus 1",
            Mutant::Create2Address => "CREATE2 derives the address from the low 64 bits of the salt only",
            Mutant::TstoreRevert => "TSTORE is not journalled: a reverted frame's transient writes survive",
            Mutant::ClzZero => "CLZ of 0 gives 255 instead of 256",
            Mutant::BlobhashIndex => "BLOBHASH at index == number of blobs gives the last hash instead of 0 (off by one)",
            Mutant::StaleSlotInBlock => {
                "a transaction reads storage slots that earlier transactions of the same block wrote as they \
                 were at the block's start (a per-block cache not refreshed between transactions)"
            }
        }
    }

    /// True when only a block sequence can reveal the mutant.
    pub fn block_level(self) -> bool {
        self == Mutant::StaleSlotInBlock
    }

    /// The mutant with this name.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Plants the bug in a freshly built mainnet EVM.
    pub(crate) fn plant<DB: Database, INSP>(self, evm: &mut MainnetEvm<MainnetContext<DB>, INSP>) {
        let table = evm.instruction.instruction_table_mut();
        let mut replace = |op: u8, f: fn(Ictx<'_, MainnetContext<DB>>) -> InstructionExecResult| {
            table[op as usize] = Instruction::new(f);
        };
        match self {
            Mutant::SarNegativeShift => replace(opcode::SAR, sar),
            Mutant::McopyOverlap => replace(opcode::MCOPY, mcopy),
            Mutant::SstoreRefund => evm.ctx.cfg.gas_params.override_gas([(GasId::sstore_set_refund(), 0)]),
            Mutant::CallStipend => {
                replace(opcode::CALL, call_without_stipend::<{ opcode::CALL }, _>);
                replace(opcode::CALLCODE, call_without_stipend::<{ opcode::CALLCODE }, _>);
            }
            Mutant::ExpGas => replace(opcode::EXP, exp),
            Mutant::PrecompileOutput => {
                let spec = PrecompileSpecId::from_spec_id(evm.precompiles.spec);
                evm.precompiles.precompiles = modexp_mutant_set(spec);
            }
            Mutant::Create2Address => replace(opcode::CREATE2, create2),
            Mutant::TstoreRevert => replace(opcode::TSTORE, tstore_unjournalled),
            Mutant::ClzZero => replace(opcode::CLZ, clz),
            Mutant::BlobhashIndex => replace(opcode::BLOBHASH, blobhash),
            // A block-level bug: see `StaleView`.
            Mutant::StaleSlotInBlock => {}
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
        if self.mutant == Mutant::StaleSlotInBlock {
            let stale = StaleView { inner: self, block_start: &block.pre };
            return schism_interface::sequence::execute::by_transactions(&stale, block, mode);
        }
        schism_interface::sequence::execute::by_transactions(self, block, mode)
    }
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

/// The context every replacement instruction runs with.
type Ictx<'a, H> = InstructionContext<'a, H, EthInterpreter>;

/// A second handle on an instruction's context, so a replacement can hand it to revm's own
/// instruction and still look at the interpreter afterwards.
fn reborrow<'b, H: ?Sized>(context: &'b mut Ictx<'_, H>) -> Ictx<'b, H> {
    InstructionContext { interpreter: &mut *context.interpreter, host: &mut *context.host }
}

/// SAR: the sign is forgotten once the shift is out of range (the `shift >= 256` branch
/// returns zero for every value, as for SHR).
fn sar<H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let stack = &context.interpreter.stack;
    let edge = matches!((stack.peek(0), stack.peek(1)),
        (Ok(shift), Ok(value)) if shift >= U256::from(256) && value.bit(255));
    bitwise::sar(reborrow(&mut context))?;
    if edge {
        context.interpreter.stack.set(0, U256::ZERO)?;
    }
    Ok(())
}

/// MCOPY: copies like a naive forward loop, `mem[dst + i] = mem[src + i]`, which smears the
/// source when the ranges overlap with the destination above the source.
fn mcopy<H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let stack = &context.interpreter.stack;
    let operands = [stack.peek(0), stack.peek(1), stack.peek(2)].map(|v| v.ok().and_then(|v| usize::try_from(v).ok()));
    memory::mcopy(reborrow(&mut context))?;
    let [Some(dst), Some(src), Some(len)] = operands else { return Ok(()) };
    if len > 0 && src < dst && dst < src.saturating_add(len) {
        // After revm's correct copy, [src, dst) still holds the original bytes, and a forward
        // byte loop repeats exactly that prefix across the destination.
        let prefix = context.interpreter.memory.slice_len(src, dst - src).to_vec();
        let smeared: Vec<u8> = prefix.iter().copied().cycle().take(len).collect();
        context.interpreter.memory.set(dst, &smeared);
    }
    Ok(())
}

/// CALL and CALLCODE: the callee of a value transfer gets only the gas the caller passed, not
/// the 2300 stipend on top.
fn call_without_stipend<const KIND: u8, H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let result = contract::call::<KIND, EthInterpreter, H>(reborrow(&mut context));
    if result == Err(InstructionResult::Suspend)
        && let Some(InterpreterAction::NewFrame(FrameInput::Call(inputs))) = &mut context.interpreter.bytecode.action
        && inputs.transfers_value()
    {
        inputs.gas_limit = inputs.gas_limit.saturating_sub(context.host.gas_params().call_stipend());
    }
    result
}

/// EXP: the exponent's byte length is counted from its second byte, so exponents of two or
/// more bytes are charged one byte too few.
fn exp<H: Host + ?Sized>(context: Ictx<'_, H>) -> InstructionExecResult {
    let exponent = context.interpreter.stack.peek(1)?;
    if exponent < U256::from(256) {
        return arithmetic::exp(context);
    }
    let params = context.host.gas_params();
    let cost = params.exp_cost(exponent).saturating_sub(params.get(GasId::exp_byte_gas()));
    if !context.interpreter.gas.record_regular_cost(cost) {
        return Err(InstructionResult::OutOfGas);
    }
    let Some([base, exponent]) = context.interpreter.stack.popn::<2>() else {
        return Err(InstructionResult::StackUnderflow);
    };
    if !context.interpreter.stack.push(base.pow(exponent)) {
        return Err(InstructionResult::StackOverflow);
    }
    Ok(())
}

/// CREATE2: the salt is narrowed to its low 64 bits before hashing.
fn create2<H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let result = contract::create::<true, EthInterpreter, H>(reborrow(&mut context));
    if result == Err(InstructionResult::Suspend)
        && let Some(InterpreterAction::NewFrame(FrameInput::Create(inputs))) = &mut context.interpreter.bytecode.action
        && let CreateScheme::Create2 { salt } = inputs.scheme()
        && salt > U256::from(u64::MAX)
    {
        let narrowed = U256::from(salt.as_limbs()[0]).to_be_bytes::<32>();
        let address = inputs.caller().create2(narrowed, inputs.init_code_hash());
        inputs.set_scheme(CreateScheme::Custom { address });
    }
    result
}

/// TSTORE: the write happens, but its journal entry is dropped, so reverting the frame does
/// not undo it.
fn tstore_unjournalled<DB: Database>(mut context: Ictx<'_, MainnetContext<DB>>) -> InstructionExecResult {
    let before = context.host.journaled_state.inner.journal.len();
    host::tstore(reborrow(&mut context))?;
    context.host.journaled_state.inner.journal.truncate(before);
    Ok(())
}

/// CLZ: zero counts 255 leading zeros.
fn clz<H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let edge = context.interpreter.stack.peek(0) == Ok(U256::ZERO);
    bitwise::clz(reborrow(&mut context))?;
    if edge {
        context.interpreter.stack.set(0, U256::from(255))?;
    }
    Ok(())
}

/// BLOBHASH: the bounds check is off by one, so the index equal to the number of blobs reads
/// the last hash.
fn blobhash<H: Host + ?Sized>(mut context: Ictx<'_, H>) -> InstructionExecResult {
    let index = context.interpreter.stack.peek(0).ok().and_then(|i| usize::try_from(i).ok());
    tx_info::blob_hash(reborrow(&mut context))?;
    if let Some(index) = index.filter(|i| *i > 0)
        && context.host.blob_hash(index).is_none()
        && let Some(last) = context.host.blob_hash(index - 1)
    {
        context.interpreter.stack.set(0, last)?;
    }
    Ok(())
}

/// The precompile set of `spec` with MODEXP replaced by its mutant, built once per spec.
fn modexp_mutant_set(spec: PrecompileSpecId) -> &'static Precompiles {
    static SETS: [OnceLock<Precompiles>; PrecompileSpecId::NEXT as usize + 1] =
        [const { OnceLock::new() }; PrecompileSpecId::NEXT as usize + 1];
    let healthy = Precompiles::new(spec);
    let Some(slot) = SETS.get(spec as usize) else { return healthy };
    slot.get_or_init(|| {
        let mut set = healthy.clone();
        let address = *modexp::BYZANTIUM.address();
        if let Some(original) = healthy.get(&address) {
            // The same fork boundaries as revm's own table: EIP-2565 (Berlin) and EIP-7883 (Osaka)
            // repriced MODEXP, EIP-7823 (Osaka) bounded its inputs.
            let run: PrecompileFn = if spec >= PrecompileSpecId::OSAKA {
                |input, gas, reservoir| modexp_mod_one(modexp::osaka_run, input, gas, reservoir)
            } else if spec >= PrecompileSpecId::BERLIN {
                |input, gas, reservoir| modexp_mod_one(modexp::berlin_run, input, gas, reservoir)
            } else {
                |input, gas, reservoir| modexp_mod_one(modexp::byzantium_run, input, gas, reservoir)
            };
            set.extend([Precompile::new(original.id().clone(), address, run)]);
        }
        set
    })
}

/// MODEXP that short-cuts a zero exponent to 1 without reducing it modulo the modulus.
fn modexp_mod_one(run: PrecompileEthFn, input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    let mut output = call_eth_precompile(run, input, gas_limit, reservoir);
    if output.status.is_success() && zero_power_mod_one(input) {
        let mut bytes = output.bytes.to_vec();
        if let Some(last) = bytes.last_mut() {
            *last = 1;
        }
        output.bytes = bytes.into();
    }
    Ok(output)
}

/// True when a MODEXP input asks for `b^0 mod 1` (inputs are implicitly right-padded with zeros).
fn zero_power_mod_one(input: &[u8]) -> bool {
    let length = |at: usize| {
        let mut word = [0u8; 32];
        let given = present(input, at, 32);
        word[..given.len()].copy_from_slice(given);
        usize::try_from(U256::from_be_bytes(word)).ok()
    };
    let (Some(base_len), Some(exp_len), Some(mod_len)) = (length(0), length(32), length(64)) else {
        return false;
    };
    let exp_start = 96usize.saturating_add(base_len);
    let mod_start = exp_start.saturating_add(exp_len);
    let exponent = present(input, exp_start, exp_len);
    let modulus = present(input, mod_start, mod_len);
    exponent.iter().all(|b| *b == 0)
        && modulus.len() == mod_len
        && modulus.split_last().is_some_and(|(last, rest)| *last == 1 && rest.iter().all(|b| *b == 0))
}

/// The bytes of `input[start..start + len]` that the input holds; the rest are implicit zeros.
fn present(input: &[u8], start: usize, len: usize) -> &[u8] {
    let end = start.saturating_add(len).min(input.len());
    input.get(start.min(end)..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Revm;
    use revm::bytecode::opcode::*;
    use revm::primitives::{Address, B256, Bytes};
    use schism_interface::case::{address_of_key, default_blob_params};
    use schism_interface::fixture::{Account, Accounts, Env, Indexes};
    use schism_interface::{Transaction, TxKind, TxValue};
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

    /// For each mutant: a case that reaches its edge and one that uses the same operation with
    /// ordinary operands; none for the block-level mutant, which no single transaction reaches
    /// (engine/tests/sequences.rs shows it in a block).
    fn cases(mutant: Mutant) -> Option<(Case, Case)> {
        Some(match mutant {
            Mutant::SarNegativeShift => (simple(Fork::Cancun, sar(256)), simple(Fork::Cancun, sar(4))),
            Mutant::McopyOverlap => (simple(Fork::Cancun, mcopy(1, 0)), simple(Fork::Cancun, mcopy(0, 1))),
            Mutant::SstoreRefund => {
                let mut restore_nonzero = account(rewrite(6, 5));
                restore_nonzero.storage.insert(U256::ZERO, U256::from(5));
                (simple(Fork::Cancun, rewrite(1, 0)), case(Fork::Cancun, restore_nonzero, Vec::new()))
            }
            Mutant::CallStipend => (call_with(0, 1), call_with(100, 0)),
            Mutant::ExpGas => (simple(Fork::Cancun, exp(0x1234)), simple(Fork::Cancun, exp(0x12))),
            Mutant::PrecompileOutput => (simple(Fork::Prague, modexp_call(3, 0, 1)), simple(Fork::Prague, modexp_call(3, 0, 7))),
            Mutant::Create2Address => {
                (simple(Fork::Cancun, create2(U256::from(u64::MAX) + U256::from(2))), simple(Fork::Cancun, create2(U256::from(7))))
            }
            Mutant::TstoreRevert => (tstore_then(Asm::default().push(0).push(0).op(REVERT)), tstore_then(Asm::default().op(STOP))),
            Mutant::ClzZero => {
                (simple(Fork::Osaka, Asm::default().push(0).op(CLZ).store(0)), simple(Fork::Osaka, Asm::default().push(1).op(CLZ).store(0)))
            }
            Mutant::BlobhashIndex => (
                with_blobs(simple(Fork::Cancun, Asm::default().push(2).op(BLOBHASH).store(0))),
                with_blobs(simple(Fork::Cancun, Asm::default().push(1).op(BLOBHASH).store(0))),
            ),
            Mutant::StaleSlotInBlock => return None,
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

    #[test]
    fn every_mutant_diverges_on_its_edge() {
        for mutant in Mutant::ALL {
            let Some((edge, _)) = cases(mutant) else { continue };
            let healthy = run(&Revm, &edge);
            let broken = run(&MutantRevm::new(mutant), &edge);
            assert_eq!(healthy.error, None, "{}: the healthy run succeeds", mutant.name());
            assert_ne!(healthy.state_root, broken.state_root, "{}", mutant.name());
        }
    }

    #[test]
    fn every_mutant_agrees_off_its_edge() {
        for mutant in Mutant::ALL {
            let Some((_, ordinary)) = cases(mutant) else { continue };
            let healthy = run(&Revm, &ordinary);
            let broken = run(&MutantRevm::new(mutant), &ordinary);
            assert_eq!(healthy.error, None, "{}: the healthy run succeeds", mutant.name());
            assert_eq!(healthy.state_root, broken.state_root, "{}", mutant.name());
            assert_eq!(healthy.gas_used, broken.gas_used, "{}", mutant.name());
            assert_eq!(healthy.logs_hash, broken.logs_hash, "{}", mutant.name());
        }
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
    fn names_are_distinct_and_round_trip() {
        let names: HashSet<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Mutant::ALL.len());
        for mutant in Mutant::ALL {
            assert_eq!(Mutant::from_name(mutant.name()), Some(mutant));
            assert!(mutant.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert!(!mutant.description().is_empty());
            assert_eq!(MutantRevm::new(mutant).id(), format!("revm~{}", mutant.name()));
        }
        assert_eq!(Mutant::from_name("no-such-bug"), None);
    }
}
