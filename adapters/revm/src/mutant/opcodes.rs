//! Replacement instructions: each runs revm's own instruction and departs from it only in its
//! mutant's edge case.

use super::Ctx;
use revm::bytecode::opcode::DELEGATECALL;
use revm::context_interface::CreateScheme;
use revm::context_interface::cfg::GasId;
use revm::context_interface::journaled_state::entry::JournalEntry;
use revm::interpreter::instructions::{arithmetic, bitwise, contract, host, memory, system, tx_info};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::{InputsTr, MemoryTr, ReturnData, RuntimeFlag};
use revm::interpreter::{
    CallInput, CallInputs, CallScheme, CallValue, FrameInput, Host, InstructionContext, InstructionExecResult, InstructionResult,
    InterpreterAction,
};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, Bytes, U256};
use std::cell::RefCell;
use std::ops::Range;

/// The context every replacement instruction runs with.
type Ictx<'a, H> = InstructionContext<'a, H, EthInterpreter>;

/// A second handle on an instruction's context, so a replacement can hand it to revm's own
/// instruction and still look at the interpreter afterwards.
fn reborrow<'b, H: ?Sized>(context: &'b mut Ictx<'_, H>) -> Ictx<'b, H> {
    InstructionContext { interpreter: &mut *context.interpreter, host: &mut *context.host }
}

/// The top `N` stack items, top first, when the stack holds them.
fn operands<H: ?Sized, const N: usize>(context: &Ictx<'_, H>) -> Option<[U256; N]> {
    let stack = &context.interpreter.stack;
    let items: [Option<U256>; N] = std::array::from_fn(|i| stack.peek(i).ok());
    items.iter().all(Option::is_some).then(|| items.map(Option::unwrap_or_default))
}

/// Runs revm's `healthy` instruction on `N` operands and, when `edge` gives a value for those
/// operands, puts it in the place of the result.
fn overriding<H: Host + ?Sized, const N: usize>(
    mut context: Ictx<'_, H>,
    healthy: fn(Ictx<'_, H>) -> InstructionExecResult,
    edge: impl FnOnce([U256; N]) -> Option<U256>,
) -> InstructionExecResult {
    let wrong = operands(&context).and_then(edge);
    healthy(reborrow(&mut context))?;
    if let Some(wrong) = wrong {
        context.interpreter.stack.set(0, wrong)?;
    }
    Ok(())
}

/// The low 64 bits of `value` when it is 2^64 or more (what a `uint64` conversion that ignores
/// overflow reads), for the index-wrapping mutants.
fn wrapped_u64(value: U256) -> Option<u64> {
    (value > U256::from(u64::MAX)).then(|| value.as_limbs()[0])
}

/// SAR: the sign is forgotten once the shift is out of range (the `shift >= 256` branch
/// returns zero for every value, as for SHR).
pub(super) fn sar(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, bitwise::sar, |[shift, value]| (shift >= U256::from(256) && value.bit(255)).then_some(U256::ZERO))
}

/// SDIV: the one overflowing quotient, `-2^255 / -1`, is answered with 0.
pub(super) fn sdiv(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let min = U256::from(1) << 255;
    overriding(context, arithmetic::sdiv, |[a, b]| (a == min && b == U256::MAX).then_some(U256::ZERO))
}

/// SMOD: `|a| mod |b|` signed like the divisor (a floored modulo's sign) instead of the dividend.
pub(super) fn smod(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, arithmetic::smod, |[a, b]| {
        let magnitude = |v: U256| if v.bit(255) { v.wrapping_neg() } else { v };
        let (a_abs, b_abs) = (magnitude(a), magnitude(b));
        if b_abs.is_zero() || a.bit(255) == b.bit(255) {
            return None;
        }
        let remainder = a_abs % b_abs;
        (!remainder.is_zero()).then(|| if b.bit(255) { remainder.wrapping_neg() } else { remainder })
    })
}

/// ADDMOD: the sum wraps at 2^256 before it is reduced.
pub(super) fn addmod(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, arithmetic::addmod, |[a, b, n]| {
        let (sum, carry) = a.overflowing_add(b);
        (carry && !n.is_zero()).then(|| sum % n)
    })
}

/// MULMOD: the product wraps at 2^256 before it is reduced.
pub(super) fn mulmod(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, arithmetic::mulmod, |[a, b, n]| {
        let (product, overflow) = a.overflowing_mul(b);
        (overflow && !n.is_zero()).then(|| product % n)
    })
}

/// SIGNEXTEND: an index of 2^64 or more is read by its low 64 bits.
pub(super) fn signextend(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, arithmetic::signextend, |[index, value]| {
        let byte = wrapped_u64(index).filter(|b| *b < 31)?;
        let bit = usize::try_from(byte * 8 + 7).ok()?;
        let mask = (U256::from(1) << bit) - U256::from(1);
        Some(if value.bit(bit) { value | !mask } else { value & mask })
    })
}

/// BYTE: an index of 2^64 or more is read by its low 64 bits.
pub(super) fn byte(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, bitwise::byte, |[index, value]| {
        let index = usize::try_from(wrapped_u64(index).filter(|i| *i < 32)?).ok()?;
        Some(U256::from(value.byte(31 - index)))
    })
}

/// SHL: a shift of 2^64 or more is read by its low 64 bits.
pub(super) fn shl(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, bitwise::shl, |[shift, value]| {
        let shift = usize::try_from(wrapped_u64(shift).filter(|s| *s < 256)?).ok()?;
        Some(value << shift)
    })
}

/// EXP: a zero base short-cuts to 0, even for a zero exponent.
pub(super) fn exp_zero_zero(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, arithmetic::exp, |[base, exponent]| (base.is_zero() && exponent.is_zero()).then_some(U256::ZERO))
}

/// CLZ: zero counts 255 leading zeros.
pub(super) fn clz(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    overriding(context, bitwise::clz, |[value]| value.is_zero().then(|| U256::from(255)))
}

/// EXP: the exponent's byte length is counted from its second byte, so exponents of two or
/// more bytes are charged one byte too few.
pub(super) fn exp_gas(context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
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

/// MCOPY: copies like a naive forward loop, `mem[dst + i] = mem[src + i]`, which smears the
/// source when the ranges overlap with the destination above the source.
pub(super) fn mcopy(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
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

/// KECCAK256: memory is grown to `offset + len` before the zero-length check, so hashing
/// nothing at a high offset expands (and pays for) memory.
pub(super) fn keccak256(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    if let Some([offset, len]) = operands(&context)
        && len.is_zero()
        && !offset.is_zero()
    {
        let Ok(end) = usize::try_from(offset) else { return Err(InstructionResult::InvalidOperandOOG) };
        // The last byte before `offset`: memory grows to `offset` rounded up to a word.
        let params = context.host.gas_params().clone();
        context.interpreter.resize_memory(&params, end - 1, 1)?;
    }
    system::keccak256(reborrow(&mut context))
}

/// CALLDATACOPY: copies the bytes the calldata has and leaves the rest of the destination as it
/// was (memory that the copy newly expands is zero either way).
pub(super) fn calldatacopy(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let kept = operands(&context).and_then(|[destination, offset, len]| {
        let (destination, len) = (usize::try_from(destination).ok()?, usize::try_from(len).ok()?);
        let available = context.interpreter.input.input().len().saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
        let start = destination.checked_add(available.min(len))?;
        let end = destination.checked_add(len)?.min(context.interpreter.memory.size());
        (start < end).then(|| (start, context.interpreter.memory.slice_len(start, end - start).to_vec()))
    });
    system::calldatacopy(reborrow(&mut context))?;
    if let Some((start, old)) = kept {
        context.interpreter.memory.set(start, &old);
    }
    Ok(())
}

/// Return data past which RETURNDATACOPY's padding is not worth emulating: copying that much
/// runs out of gas in any case.
const PAD_LIMIT: usize = 1 << 20;

/// RETURNDATACOPY: only the offset is checked against the return data; a copy running past its
/// end is zero-padded instead of failing.
pub(super) fn returndatacopy(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let buffer = context.interpreter.return_data.buffer().clone();
    let end = operands(&context).and_then(|[_, offset, len]| {
        let end = usize::try_from(offset).ok()?.checked_add(usize::try_from(len).ok()?)?;
        (usize::try_from(offset).ok()? <= buffer.len() && buffer.len() < end && end <= PAD_LIMIT).then_some(end)
    });
    let Some(end) = end else { return system::returndatacopy(context) };
    let mut padded = buffer.to_vec();
    padded.resize(end, 0);
    context.interpreter.return_data.set_buffer(padded.into());
    let result = system::returndatacopy(reborrow(&mut context));
    context.interpreter.return_data.set_buffer(buffer);
    result
}

/// CALL and CALLCODE: the callee of a value transfer gets only the gas the caller passed, not
/// the 2300 stipend on top.
pub(super) fn call_without_stipend<const KIND: u8>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::call::<KIND, EthInterpreter, _>(reborrow(&mut context));
    let stipend = context.host.gas_params().call_stipend();
    if let Some(inputs) = pending_call(&mut context, &result)
        && inputs.transfers_value()
    {
        inputs.gas_limit = inputs.gas_limit.saturating_sub(stipend);
    }
    result
}

/// The call an instruction that just suspended is about to make.
fn pending_call<'c>(context: &'c mut Ictx<'_, Ctx<'_>>, result: &InstructionExecResult) -> Option<&'c mut CallInputs> {
    if *result != Err(InstructionResult::Suspend) {
        return None;
    }
    match &mut context.interpreter.bytecode.action {
        Some(InterpreterAction::NewFrame(FrameInput::Call(inputs))) => Some(inputs),
        _ => None,
    }
}

/// The CALL family under the 63/64 rule computed as `floor(63 * g / 64)`: when the cap applies
/// and 64 does not divide `g`, the callee gets one gas less and the caller keeps it.
pub(super) fn call_gas_floor<const KIND: u8>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::call::<KIND, EthInterpreter, _>(reborrow(&mut context));
    let tangerine = context.interpreter.runtime_flag.spec_id().is_enabled_in(SpecId::TANGERINE);
    let stipend = context.host.gas_params().call_stipend();
    let left = context.interpreter.gas.remaining();
    if let Some(inputs) = pending_call(&mut context, &result)
        && tangerine
    {
        let forwarded = inputs.gas_limit - if inputs.transfers_value() { stipend } else { 0 };
        let available = left + forwarded;
        if !available.is_multiple_of(64) && forwarded == available - available / 64 {
            inputs.gas_limit -= 1;
            context.interpreter.gas.erase_cost(1);
        }
    }
    result
}

/// DELEGATECALL: the callee's CALLVALUE is 0 instead of the caller's.
pub(super) fn delegatecall_without_value(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::call::<DELEGATECALL, EthInterpreter, _>(reborrow(&mut context));
    if let Some(inputs) = pending_call(&mut context, &result)
        && inputs.scheme == CallScheme::DelegateCall
    {
        inputs.value = CallValue::Apparent(U256::ZERO);
    }
    result
}

/// CREATE2: the salt is narrowed to its low 64 bits before hashing.
pub(super) fn create2(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::create::<true, EthInterpreter, _>(reborrow(&mut context));
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

/// SELFDESTRUCT: the journal is told the fork is Shanghai while it destroys, so the EIP-6780
/// restriction to contracts created in the same transaction is skipped.
pub(super) fn selfdestruct_pre_cancun(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let spec = context.host.journaled_state.inner.cfg.spec;
    if !spec.is_enabled_in(SpecId::CANCUN) {
        return host::selfdestruct(context);
    }
    context.host.journaled_state.inner.cfg.spec = SpecId::SHANGHAI;
    let result = host::selfdestruct(reborrow(&mut context));
    context.host.journaled_state.inner.cfg.spec = spec;
    result
}

/// SSTORE: the EIP-2200 sentry is skipped: the instruction runs with the call stipend's worth
/// of gas lent to it, and pays it back after.
pub(super) fn sstore_without_sentry(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let stipend = context.host.gas_params().call_stipend();
    let istanbul = context.interpreter.runtime_flag.spec_id().is_enabled_in(SpecId::ISTANBUL);
    if !istanbul || context.interpreter.gas.remaining() > stipend {
        return host::sstore(context);
    }
    let loan = stipend + 1;
    context.interpreter.gas.erase_cost(loan);
    let result = host::sstore(reborrow(&mut context));
    let repaid = context.interpreter.gas.record_regular_cost(loan);
    match result {
        Ok(()) if !repaid => Err(InstructionResult::OutOfGas),
        other => other,
    }
}

/// TSTORE: the write happens, but its journal entry is dropped, so reverting the frame does
/// not undo it.
pub(super) fn tstore_unjournalled(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let before = context.host.journaled_state.inner.journal.len();
    host::tstore(reborrow(&mut context))?;
    context.host.journaled_state.inner.journal.truncate(before);
    Ok(())
}

/// TLOAD: reads the value most recently stored at the slot by any contract.
pub(super) fn tload_slot_only(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let Some([slot]) = operands(&context) else { return host::tload(context) };
    let own = context.interpreter.input.target_address();
    let journal = &context.host.journaled_state.inner;
    let writer = journal.journal.iter().rev().find_map(|entry| match entry {
        JournalEntry::TransientStorageChange { key, address, .. } if *key == slot => Some(*address),
        _ => None,
    });
    let foreign = writer.filter(|w| *w != own).map(|w| context.host.journaled_state.inner.tload(w, slot));
    host::tload(reborrow(&mut context))?;
    if let Some(value) = foreign {
        context.interpreter.stack.set(0, value)?;
    }
    Ok(())
}

/// BLOBHASH: the bounds check is off by one, so the index equal to the number of blobs reads
/// the last hash.
pub(super) fn blobhash(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
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

/// What a mutant remembers about a call frame's last call, for the return-data mutants.
#[derive(Clone, Debug, Default)]
enum FrameNote {
    /// Nothing.
    #[default]
    None,
    /// The last call went to the identity precompile with this input range (local to the
    /// frame's memory): its return data is that memory, as it is now.
    Aliased(Range<usize>),
    /// The return data a call that returns nothing leaves in place.
    Kept(Bytes),
}

thread_local! {
    /// Per call depth, what the frame at that depth noted. A transaction runs on one thread, and
    /// `Mutant::plant` forgets everything before it starts.
    static FRAMES: RefCell<Vec<FrameNote>> = const { RefCell::new(Vec::new()) };
}

/// Forgets every frame's note, before a transaction.
pub(super) fn forget_frames() {
    FRAMES.with(|frames| frames.borrow_mut().clear());
}

/// The note of the frame at `depth`.
fn note(depth: usize) -> FrameNote {
    FRAMES.with(|frames| frames.borrow().get(depth).cloned().unwrap_or_default())
}

/// Sets the note of the frame at `depth`, and clears its child's: a frame at `depth + 1` only
/// starts with a call from this one.
fn set_note(depth: usize, note: FrameNote) {
    FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        if frames.len() < depth + 2 {
            frames.resize(depth + 2, FrameNote::None);
        }
        frames[depth] = note;
        frames[depth + 1] = FrameNote::None;
    });
}

/// The call depth of the running frame.
fn depth(context: &Ictx<'_, Ctx<'_>>) -> usize {
    context.host.journaled_state.inner.depth
}

/// The identity precompile's address.
const IDENTITY: Address = Address::with_last_byte(0x04);

/// The CALL family, noting a call to the identity precompile.
pub(super) fn aliasing_call<const KIND: u8>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::call::<KIND, EthInterpreter, _>(reborrow(&mut context));
    let depth = depth(&context);
    let local = context.interpreter.memory.local_memory_offset();
    let note = match pending_call(&mut context, &result) {
        Some(inputs) if inputs.bytecode_address == IDENTITY => match &inputs.input {
            CallInput::SharedBuffer(range) if !range.is_empty() => FrameNote::Aliased(range.start - local..range.end - local),
            _ => FrameNote::None,
        },
        _ => FrameNote::None,
    };
    if result == Err(InstructionResult::Suspend) {
        set_note(depth, note);
    }
    result
}

/// CREATE and CREATE2, which replace the return data as a call does.
pub(super) fn aliasing_create<const IS_CREATE2: bool>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let result = contract::create::<IS_CREATE2, EthInterpreter, _>(reborrow(&mut context));
    if result == Err(InstructionResult::Suspend) {
        set_note(depth(&context), FrameNote::None);
    }
    result
}

/// RETURNDATACOPY after a call to the identity precompile: the return data is the input's
/// memory as it is now.
pub(super) fn aliased_returndatacopy(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    if let FrameNote::Aliased(input) = note(depth(&context))
        && input.len() == context.interpreter.return_data.buffer().len()
        && input.end <= context.interpreter.memory.size()
    {
        let now = Bytes::copy_from_slice(&context.interpreter.memory.slice(input));
        context.interpreter.return_data.set_buffer(now);
    }
    system::returndatacopy(reborrow(&mut context))
}

/// The return data as the stale mutant sees it: the buffer, or what an earlier call left when
/// the buffer is empty.
fn kept_return_data(context: &Ictx<'_, Ctx<'_>>) -> Bytes {
    let buffer = context.interpreter.return_data.buffer();
    match note(depth(context)) {
        FrameNote::Kept(kept) if buffer.is_empty() => kept,
        _ => buffer.clone(),
    }
}

/// The CALL family, remembering the return data it would leave in place.
pub(super) fn stale_call<const KIND: u8>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let kept = kept_return_data(&context);
    let depth = depth(&context);
    let result = contract::call::<KIND, EthInterpreter, _>(reborrow(&mut context));
    if result == Err(InstructionResult::Suspend) {
        set_note(depth, FrameNote::Kept(kept));
    }
    result
}

/// CREATE and CREATE2, remembering the return data they would leave in place.
pub(super) fn stale_create<const IS_CREATE2: bool>(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    let kept = kept_return_data(&context);
    let depth = depth(&context);
    let result = contract::create::<IS_CREATE2, EthInterpreter, _>(reborrow(&mut context));
    if result == Err(InstructionResult::Suspend) {
        set_note(depth, FrameNote::Kept(kept));
    }
    result
}

/// Puts the kept return data back in the buffer when the last call returned nothing.
fn restore_kept(context: &mut Ictx<'_, Ctx<'_>>) {
    let kept = kept_return_data(context);
    if context.interpreter.return_data.buffer().is_empty() && !kept.is_empty() {
        context.interpreter.return_data.set_buffer(kept);
    }
}

/// RETURNDATASIZE, seeing the kept return data.
pub(super) fn stale_returndatasize(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    restore_kept(&mut context);
    system::returndatasize(context)
}

/// RETURNDATACOPY, seeing the kept return data.
pub(super) fn stale_returndatacopy(mut context: Ictx<'_, Ctx<'_>>) -> InstructionExecResult {
    restore_kept(&mut context);
    system::returndatacopy(context)
}
