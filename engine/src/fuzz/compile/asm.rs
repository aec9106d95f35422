//! The bytecode assembler: turns a blueprint's pieces into EVM code, pushing every operand
//! before its instruction, storing each result in the next storage slot (so that every
//! difference reaches the state root) and resolving jump targets.

use super::{Ctx, RESULT_SLOT, init_code};
use crate::fuzz::precompile::precompile_input;
use crate::fuzz::program::{CONVENTIONAL_INIT, CallKind, CallMemory, Gas, Input, Leaf, Length, MemOp, Offset, Piece, Place, Target, Value};
use crate::fuzz::vectors::{AFFORDABLE_EDGES, BOUNDARIES, OFFSET_EDGES};
use alloy_primitives::U256;
use revm_bytecode::opcode::{
    ADD, ADDMOD, ADDRESS, AND, BALANCE, BASEFEE, BLOBBASEFEE, BLOBHASH, BLOCKHASH, BYTE, CALL, CALLCODE, CALLDATACOPY, CALLDATALOAD,
    CALLDATASIZE, CALLER, CALLVALUE, CHAINID, CLZ, CODECOPY, CODESIZE, COINBASE, CREATE, CREATE2, DELEGATECALL, DIFFICULTY, DIV, DUP1,
    DUP2, DUP6, EQ, EXP, EXTCODECOPY, EXTCODEHASH, EXTCODESIZE, GAS, GASLIMIT, GASPRICE, GT, INVALID, ISZERO, JUMP, JUMPDEST, JUMPI,
    KECCAK256, LOG0, LT, MCOPY, MLOAD, MOD, MSIZE, MSTORE, MSTORE8, MUL, MULMOD, NOT, NUMBER, OR, ORIGIN, PC, POP, PUSH0, PUSH1, PUSH2,
    PUSH32, RETURN, RETURNDATACOPY, RETURNDATASIZE, REVERT, SAR, SDIV, SELFBALANCE, SELFDESTRUCT, SGT, SHL, SHR, SIGNEXTEND, SLOAD, SLT,
    SMOD, SSTORE, STATICCALL, STOP, SUB, SWAP1, SWAP2, TIMESTAMP, TLOAD, TSTORE, XOR,
};
use schism_interface::Fork;

/// Where return data is copied for hashing (an observation, not an operand).
const SCRATCH: u64 = 0x600;
/// The storage slot counting recursion depth.
const DEPTH_SLOT: u64 = 0xdead;
/// The storage slot holding the address the last creation made ([`Target::Created`]).
const CREATED_SLOT: u64 = 0xc4ea7ed;
/// The storage slot side observations are folded into ([`Asm::fold_top`]).
pub(super) const FOLD_SLOT: u64 = 0xf01d;
/// The multiplier of the fold (the 64-bit FNV prime): `fold = fold * K + x`.
const FOLD_K: u64 = 0x100_0000_01b3;
/// The gas below which the transaction's own frame stops before recording a result
/// ([`Asm::stop_if_starved`]): the dearest record, a cold fresh slot's SLOAD and SSTORE
/// (24,200 gas from Berlin), still fits.
pub(super) const STARVED: u64 = 25_000;
/// Data is written to memory before a call or creation only below this offset: beyond it the
/// writes alone would run out of gas.
const WRITABLE: u64 = 0x1_0000;

/// `slot = slot * FOLD_K + top`, the code [`Asm::store_top`] and [`Asm::fold_top`] end with,
/// copied whole rather than pushed instruction by instruction (these run after nearly every
/// instruction a program has; `the_templates_are_what_the_pushes_emit` checks them).
const fn fold_into(slot: u64) -> [u8; 17] {
    assert!(slot > 0xff && slot <= 0xffff && FOLD_K >> 40 != 0 && FOLD_K >> 48 == 0, "two-byte slots, a six-byte multiplier");
    let s = (slot as u16).to_be_bytes();
    let k = FOLD_K.to_be_bytes();
    [PUSH2, s[0], s[1], SLOAD, PUSH1 + 5, k[2], k[3], k[4], k[5], k[6], k[7], MUL, ADD, PUSH2, s[0], s[1], SSTORE]
}

/// The end of [`Asm::store_top`].
const FOLD_RESULT: [u8; 17] = fold_into(RESULT_SLOT);
/// [`Asm::fold_top`].
const FOLD_SIDE: [u8; 17] = fold_into(FOLD_SLOT);
/// [`Asm::stop_if_starved`]: skip the STOP when GAS > STARVED or CALLER != ORIGIN; the jump
/// target (the JUMPDEST at its end) is filled in at [`GUARD_TARGET`].
const GUARD: [u8; 15] = {
    assert!(STARVED > 0xff && STARVED <= 0xffff, "a two-byte threshold");
    let g = (STARVED as u16).to_be_bytes();
    [PUSH2, g[0], g[1], GAS, GT, CALLER, ORIGIN, XOR, OR, PUSH2, 0, 0, JUMPI, STOP, JUMPDEST]
};
/// Where [`GUARD`]'s jump target goes.
const GUARD_TARGET: usize = 10;

/// The instructions that compute a value from operands pushed before them: opcode, number of
/// inputs, first fork. A leaf picks one by index among those of the case's fork. Adding one is
/// one row; its inputs are pushed from the leaf's arguments (mostly boundary values).
pub(super) const COMPUTING: &[(u8, usize, Fork)] = &[
    (ADD, 2, Fork::Frontier),
    (MUL, 2, Fork::Frontier),
    (SUB, 2, Fork::Frontier),
    (DIV, 2, Fork::Frontier),
    (SDIV, 2, Fork::Frontier),
    (MOD, 2, Fork::Frontier),
    (SMOD, 2, Fork::Frontier),
    (ADDMOD, 3, Fork::Frontier),
    (MULMOD, 3, Fork::Frontier),
    (EXP, 2, Fork::Frontier),
    (SIGNEXTEND, 2, Fork::Frontier),
    (LT, 2, Fork::Frontier),
    (GT, 2, Fork::Frontier),
    (SLT, 2, Fork::Frontier),
    (SGT, 2, Fork::Frontier),
    (EQ, 2, Fork::Frontier),
    (ISZERO, 1, Fork::Frontier),
    (AND, 2, Fork::Frontier),
    (OR, 2, Fork::Frontier),
    (XOR, 2, Fork::Frontier),
    (NOT, 1, Fork::Frontier),
    (BYTE, 2, Fork::Frontier),
    (SHL, 2, Fork::Constantinople),
    (SHR, 2, Fork::Constantinople),
    (SAR, 2, Fork::Constantinople),
    (CLZ, 1, Fork::Osaka),
    (KECCAK256, 2, Fork::Frontier),
    (ADDRESS, 0, Fork::Frontier),
    (BALANCE, 1, Fork::Frontier),
    (ORIGIN, 0, Fork::Frontier),
    (CALLER, 0, Fork::Frontier),
    (CALLVALUE, 0, Fork::Frontier),
    (CALLDATALOAD, 1, Fork::Frontier),
    (CALLDATASIZE, 0, Fork::Frontier),
    (CODESIZE, 0, Fork::Frontier),
    (GASPRICE, 0, Fork::Frontier),
    (EXTCODESIZE, 1, Fork::Frontier),
    (RETURNDATASIZE, 0, Fork::Byzantium),
    (EXTCODEHASH, 1, Fork::Constantinople),
    (BLOCKHASH, 1, Fork::Frontier),
    (COINBASE, 0, Fork::Frontier),
    (TIMESTAMP, 0, Fork::Frontier),
    (NUMBER, 0, Fork::Frontier),
    (DIFFICULTY, 0, Fork::Frontier), // PREVRANDAO from Paris
    (GASLIMIT, 0, Fork::Frontier),
    (CHAINID, 0, Fork::Istanbul),
    (SELFBALANCE, 0, Fork::Istanbul),
    (BASEFEE, 0, Fork::London),
    (BLOBHASH, 1, Fork::Cancun),
    (BLOBBASEFEE, 0, Fork::Cancun),
    (MLOAD, 1, Fork::Frontier),
    (SLOAD, 1, Fork::Frontier),
    (PC, 0, Fork::Frontier),
    (MSIZE, 0, Fork::Frontier),
    (GAS, 0, Fork::Frontier),
    (TLOAD, 1, Fork::Cancun),
];

/// The index a [`Leaf::Op`] gives to pick `opcode`: its position in [`COMPUTING`], which is
/// its position in every fork's table that has it too as long as no row before it needs a later
/// fork (a test checks this for every instruction [`COMBINATIONS`](crate::fuzz::vectors::COMBINATIONS)
/// names). `None` for an instruction not in the table.
pub(crate) fn computing_index(opcode: u8) -> Option<u8> {
    COMPUTING.iter().position(|(op, _, _)| *op == opcode).and_then(|i| u8::try_from(i).ok())
}

/// How many computing instructions the newest fork has (all of [`COMPUTING`]).
pub(crate) fn computing_len() -> u8 {
    u8::try_from(COMPUTING.len()).unwrap_or(u8::MAX)
}

/// `base` moved by `d` bytes, not below zero.
fn shifted(base: U256, d: i8) -> U256 {
    if d >= 0 { base.saturating_add(U256::from(d)) } else { base.saturating_sub(U256::from(d.unsigned_abs())) }
}

/// What the relative offsets ([`Offset::Written`], [`Offset::CallInput`]) are relative to, in
/// program order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Marks {
    /// Where the last memory write went.
    written: U256,
    /// Where the last call's input lay (zero before any call).
    input: U256,
}

/// The memory offset or length an [`Offset`] names when it is known before the program runs
/// (relative to the `marks`); `None` for one read at run time.
fn offset(o: Offset, marks: Marks) -> Option<U256> {
    Some(match o {
        Offset::Zero => U256::ZERO,
        Offset::Small(v) => U256::from(v),
        Offset::Words(k) => U256::from(32 * u64::from(k % 64)),
        // An eighth of the edges are the unaffordable ones (2^32 - 1 and beyond): a non-empty
        // range there ends the frame.
        Offset::Edge(i) if i % 8 == 0 => OFFSET_EDGES[AFFORDABLE_EDGES + usize::from(i / 8) % (OFFSET_EDGES.len() - AFFORDABLE_EDGES)],
        Offset::Edge(i) => OFFSET_EDGES[usize::from(i) % AFFORDABLE_EDGES],
        Offset::Written(d) => shifted(marks.written, d),
        Offset::CallInput(d) => shifted(marks.input, d),
        Offset::Returned(_) => return None,
    })
}

/// The instruction a call of `kind` compiles to under `fork` (CALL where the fork lacks it).
fn call_opcode(kind: CallKind, fork: Fork) -> u8 {
    match kind {
        CallKind::Call => CALL,
        CallKind::CallCode => CALLCODE,
        CallKind::DelegateCall if fork >= Fork::Homestead => DELEGATECALL,
        CallKind::StaticCall if fork >= Fork::Byzantium => STATICCALL,
        _ => CALL,
    }
}

/// A bytecode assembler that keeps track of result slots and jump targets.
pub(super) struct Asm<'c> {
    ctx: &'c Ctx,
    /// The bytecode so far.
    pub(super) code: Vec<u8>,
    /// How many results [`Asm::store_top`] has recorded (keys re-entry slots apart).
    slot: u64,
    /// What relative offsets are relative to.
    marks: Marks,
    /// Whether a call was compiled before (its return data is read again after later memory
    /// writes).
    called: bool,
}

/// The capacity an assembler's buffer starts with: past nearly every program compiled, so that
/// a program grows without reallocating.
const BUFFER: usize = 16 * 1024;

/// The most buffers a thread keeps for its next assemblers (at most three are in use at once:
/// a contract's, and the two of an init code it creates).
const SPARE_BUFFERS: usize = 4;

std::thread_local! {
    /// Buffers of finished assemblers, cleared, for the thread's next ones.
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for Asm<'_> {
    /// Keeps the buffer, cleared, for the thread's next assembler.
    fn drop(&mut self) {
        if self.code.capacity() > 4 * BUFFER {
            return;
        }
        let mut buffer = std::mem::take(&mut self.code);
        buffer.clear();
        // A thread being torn down has no spares left to keep it in.
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_BUFFERS {
                spare.push(buffer);
            }
        });
    }
}

impl<'c> Asm<'c> {
    /// An empty program for the case `ctx` describes, assembled in a buffer kept from an earlier
    /// assembler of this thread where there is one: a program then grows without reallocating,
    /// and [`Asm::finish`] makes one allocation of its exact size (growing by `realloc`, with
    /// the consolidation of glibc's free lists its large requests set off, was a quarter of
    /// compiling's cache misses under callgrind, between client runs that leave those lists
    /// cold).
    pub(super) fn new(ctx: &'c Ctx) -> Asm<'c> {
        let code = SPARE.with(|spare| spare.borrow_mut().pop()).unwrap_or_else(|| Vec::with_capacity(BUFFER));
        Asm { ctx, code, slot: RESULT_SLOT, marks: Marks::default(), called: false }
    }

    /// The program, in an allocation of its own size (the buffer goes back to the thread).
    pub(super) fn finish(self) -> Vec<u8> {
        self.code.as_slice().to_vec()
    }

    /// One instruction without immediate.
    pub(super) fn op(&mut self, op: u8) -> &mut Self {
        self.code.push(op);
        self
    }

    /// The shortest push of `v` (PUSH0 from Shanghai).
    fn push(&mut self, v: U256) -> &mut Self {
        // Most values fit a word of 64 bits: read limb by limb, not as 256-bit vectors (a
        // vector load of a value just written as 64-bit words stalls on store forwarding, and
        // compilation is most of the harness's own time per run).
        let limbs = v.as_limbs();
        if limbs[1] | limbs[2] | limbs[3] == 0 {
            return self.push_u64(limbs[0]);
        }
        let bytes = v.to_be_bytes::<32>();
        let len = v.byte_len();
        self.code.push(PUSH1 + (len - 1) as u8);
        self.code.extend_from_slice(&bytes[32 - len..]);
        self
    }

    /// The shortest push of `v`.
    pub(super) fn push_u64(&mut self, v: u64) -> &mut Self {
        if v == 0 && self.ctx.fork >= Fork::Shanghai {
            return self.op(PUSH0);
        }
        let len = (8 - v.leading_zeros() as usize / 8).max(1);
        self.code.push(PUSH1 + (len - 1) as u8);
        self.code.extend_from_slice(&v.to_be_bytes()[8 - len..]);
        self
    }

    /// A push of the target's address (ADDRESS for the executing contract itself, the
    /// stored address for the last created).
    fn push_target(&mut self, target: Target) -> &mut Self {
        match (self.ctx.address(target), target) {
            (Some(a), _) => self.push(U256::from_be_slice(a.as_slice())),
            (None, Target::Created) => self.push_u64(CREATED_SLOT).op(SLOAD),
            (None, _) => self.op(ADDRESS),
        }
    }

    /// Adds `d` to the top of the stack (wrapping, as the EVM does).
    fn add_signed(&mut self, d: i8) -> &mut Self {
        match d {
            0 => self,
            1.. => self.push_u64(d.unsigned_abs().into()).op(ADD),
            _ => self.push_u64(d.unsigned_abs().into()).op(SWAP1).op(SUB),
        }
    }

    /// A push of the offset or length `o` names: a constant, or RETURNDATASIZE plus a shift
    /// (zero plus the shift, not below zero, before Byzantium).
    fn push_offset(&mut self, o: Offset) -> &mut Self {
        match (offset(o, self.marks), o) {
            (Some(v), _) => self.push(v),
            (None, Offset::Returned(d)) if self.ctx.fork >= Fork::Byzantium && d >= 0 => self.op(RETURNDATASIZE).add_signed(d),
            // RETURNDATASIZE - k, not below zero (a wrapped offset would only run out of gas):
            // (s - k) * (s >= k).
            (None, Offset::Returned(d)) if self.ctx.fork >= Fork::Byzantium => {
                self.op(RETURNDATASIZE).push_u64(d.unsigned_abs().into()).op(DUP2).op(DUP2).op(GT).op(ISZERO);
                self.op(SWAP2).op(SUB).op(MUL)
            }
            (None, Offset::Returned(d)) => self.push(shifted(U256::ZERO, d)),
            (None, _) => self.push(U256::ZERO),
        }
    }

    /// Notes that memory was written at `o` (when known before the run and affordable: a
    /// write past that ran out of gas or wrote nothing).
    fn wrote(&mut self, o: Offset) {
        if let Some(v) = offset(o, self.marks).filter(|v| *v < U256::from(WRITABLE)) {
            self.marks.written = v;
        }
    }

    /// The constant offset `o` names when data can be written there affordably.
    fn writable(&self, o: Offset) -> Option<u64> {
        offset(o, self.marks).and_then(|v| u64::try_from(v).ok()).filter(|v| *v < WRITABLE)
    }

    /// A push of a length: the data's (`len`), shifted, or any offset.
    fn push_length(&mut self, l: Length, len: usize) -> &mut Self {
        match l {
            Length::Data => self.push_u64(len as u64),
            Length::Delta(d) => self.push(shifted(U256::from(len), d)),
            Length::Of(o) => self.push_offset(o),
        }
    }

    /// A push of the gas a call forwards.
    fn push_gas(&mut self, gas: Gas) -> &mut Self {
        match gas {
            // GAS / 2: a callee that burns what it is given leaves its caller enough to go on
            // (all that is left is `Left` at run time, and its cap is `Share`).
            Gas::All => self.push_u64(2).op(GAS).op(DIV),
            Gas::Fixed(g) => self.push_u64(u64::from(g)),
            Gas::Stipend(d) => self.push_u64(2300u64.saturating_add_signed(i64::from(d))),
            Gas::Tiny(g) => self.push_u64(u64::from(g)),
            // GAS - k.
            Gas::Left(k) => self.push_u64(u64::from(k)).op(GAS).op(SUB),
            // GAS - GAS / 64 + d.
            Gas::Share(d) => self.op(GAS).op(DUP1).push_u64(64).op(SWAP1).op(DIV).op(SWAP1).op(SUB).add_signed(d),
        }
    }

    /// Records the top of the stack as a result: folded (`r = r * K + top`) into
    /// [`RESULT_SLOT`], apart from the side observations, so a program's first result reads
    /// as itself. A fresh slot per result cost 22,100 gas each, and so many cases ran out of
    /// gas (which reverts every result of the transaction) that the canaries were told apart
    /// three times less often.
    fn store_top(&mut self) -> &mut Self {
        self.slot += 1;
        self.stop_if_starved();
        self.code.extend_from_slice(&FOLD_RESULT);
        self
    }

    /// Folds the top of the stack into one slot (`fold = fold * K + top`): side observations
    /// (memory size and gas left after memory-touching instructions, memory after a call)
    /// reach the state root for a few hundred gas each instead of a fresh slot's 22,100, so
    /// programs observe much and still run long.
    fn fold_top(&mut self) -> &mut Self {
        self.code.extend_from_slice(&FOLD_SIDE);
        self
    }

    /// Ends the transaction's own frame (`CALLER == ORIGIN`) with STOP when less than
    /// [`STARVED`] gas is left, before a result is recorded: running out of gas there would
    /// revert every result the transaction stored (a fifth of random programs did, at the
    /// results' SSTORE), and a stopped frame keeps them. Inner frames are left to run out of
    /// gas: that is an edge case their callers observe. Only results are guarded, not side
    /// observations ([`Asm::fold_top`]), which follow a result closely and cost at most 5,000
    /// gas each: the check is 10 instructions, and a guard at every fold nearly doubled the
    /// instructions a case runs (dear for clients traced step by step).
    fn stop_if_starved(&mut self) {
        let at = self.code.len();
        self.code.extend_from_slice(&GUARD);
        self.patch(at + GUARD_TARGET, self.code.len() - 1);
    }

    /// A JUMPDEST here; its offset.
    fn label(&mut self) -> usize {
        self.code.push(JUMPDEST);
        self.code.len() - 1
    }

    /// A frame's opening: the value it was called with, folded into the results when it is
    /// not zero (so a frame that sees the wrong CALLVALUE, as a DELEGATECALL that drops its
    /// caller's, shows in the post-state; a zero costs 19 gas and no storage).
    pub(super) fn opening(&mut self) -> &mut Self {
        self.op(CALLVALUE).op(ISZERO);
        let skip = self.forward();
        self.op(JUMPI).op(CALLVALUE).fold_top();
        let here = self.label();
        self.patch(skip, here);
        self
    }

    /// PUSH2 of a jump target to be filled in later; where to patch.
    fn forward(&mut self) -> usize {
        self.code.extend([PUSH2, 0, 0]);
        self.code.len() - 2
    }

    /// Fills in the jump target pushed at `at` (see [`Asm::forward`]).
    fn patch(&mut self, at: usize, target: usize) {
        let target = u16::try_from(target).unwrap_or(u16::MAX).to_be_bytes();
        self.code[at..at + 2].copy_from_slice(&target);
    }

    /// Writes `bytes` to memory at `at` with PUSH32/MSTORE pairs.
    fn write_memory(&mut self, at: u64, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.push(U256::from_be_bytes(word)).push_u64(at + 32 * i as u64).op(MSTORE);
        }
    }

    /// A piece of a contract's program.
    pub(super) fn piece(&mut self, piece: &Piece) {
        match piece {
            Piece::Leaf(leaf) => self.leaf(leaf),
            Piece::Loop { count, body } => {
                self.push_u64(u64::from(count % 16) + 1);
                let top = self.label();
                for leaf in body {
                    self.leaf(leaf);
                }
                // counter - 1; loop while non-zero.
                self.push_u64(1).op(SWAP1).op(SUB).op(DUP1);
                let at = self.forward();
                self.patch(at, top);
                self.op(JUMPI).op(POP);
            }
            Piece::Create { create2, salt, value, init, runtime, ending, call_after, memory } => {
                let code = init_code(self.ctx, init, runtime, *ending);
                let (at, len) = memory.unwrap_or(CONVENTIONAL_INIT);
                if let Some(start) = self.writable(at) {
                    self.write_memory(start, &code);
                    self.wrote(at);
                }
                if *create2 && self.ctx.fork >= Fork::Constantinople {
                    let salt = self.ctx.value(*salt);
                    self.push(salt);
                }
                self.push_length(len, code.len()).push_offset(at);
                let value = self.ctx.value(*value) % U256::from(1_000_000u64);
                self.push(value);
                self.op(if *create2 && self.ctx.fork >= Fork::Constantinople { CREATE2 } else { CREATE });
                self.op(DUP1).store_top();
                self.op(DUP1).push_u64(CREATED_SLOT).op(SSTORE);
                if *call_after {
                    for _ in 0..5 {
                        self.push_u64(0);
                    }
                    self.op(DUP6).op(GAS).op(CALL).store_top();
                }
                self.op(POP);
            }
            Piece::Recurse { depth } => {
                // Past the 1024-frame limit now and then; shallow otherwise.
                let depth = if *depth == 255 { 1100 } else { u64::from(depth % 8) + 1 };
                // if sload(DEPTH_SLOT) >= depth: skip
                self.push_u64(depth).push_u64(DEPTH_SLOT).op(SLOAD).op(LT).op(ISZERO);
                let skip = self.forward();
                self.op(JUMPI);
                self.push_u64(DEPTH_SLOT).op(SLOAD).push_u64(1).op(ADD).push_u64(DEPTH_SLOT).op(SSTORE);
                for _ in 0..5 {
                    self.push_u64(0);
                }
                self.op(ADDRESS).op(GAS).op(CALL).store_top();
                let end = self.label();
                self.patch(skip, end);
            }
        }
    }

    /// A leaf: straight-line code.
    pub(super) fn leaf(&mut self, leaf: &Leaf) {
        let fork = self.ctx.fork;
        match leaf {
            Leaf::Op { op, args } => {
                let (opcode, inputs) = self.ctx.computing[usize::from(*op) % self.ctx.computing.len()];
                for arg in args[..inputs].iter().rev() {
                    let v = self.ctx.value(*arg);
                    // Memory-reading instructions get small offsets and lengths mostly.
                    let v = match opcode {
                        _ if matches!(arg, Value::Boundary(_)) => v,
                        KECCAK256 | MLOAD => v % U256::from(0x400),
                        // Indices below, at and past the number of blobs: half of them
                        // counted from 0, half from the transaction's last blob.
                        BLOBHASH if v.bit(0) => U256::from(self.ctx.blobs.saturating_sub(1)) + (v >> 1) % U256::from(3),
                        BLOBHASH => (v >> 1) % U256::from(8),
                        _ => v,
                    };
                    self.push(v);
                }
                self.op(opcode).store_top();
            }
            Leaf::Stack { depth, op } => {
                let n = usize::from(depth % 17).max(2);
                for i in 0..n {
                    self.push(BOUNDARIES[(usize::from(*depth) + i) % BOUNDARIES.len()]);
                }
                let is_swap = op % 32 >= 16;
                let mut k = usize::from(op % 16) + 1;
                // Mostly within the pushed values; now and then too shallow a stack, which
                // underflows (a case worth running too).
                if *op < 224 {
                    k = k.min(if is_swap { (n - 1).max(1) } else { n });
                }
                if is_swap {
                    self.op(SWAP1 + (k - 1) as u8);
                } else {
                    self.op(DUP1 + (k - 1) as u8);
                }
                self.store_top();
                let left = if is_swap { n - 1 } else { n };
                for _ in 0..left {
                    self.op(POP);
                }
            }
            Leaf::Memory { op, dst, src, len } => self.memory(*op, *dst, *src, *len),
            Leaf::Overlap { src, delta, len } => {
                if fork < Fork::Cancun {
                    return;
                }
                let src = u64::from(*src) + 0x80;
                let dst = src.saturating_add_signed(i64::from(*delta));
                let pattern: Vec<u8> = (1..=96u8).collect();
                self.write_memory(src - (src % 32), &pattern);
                self.push_u64(u64::from(*len)).push_u64(src).push_u64(dst).op(MCOPY);
                self.push_u64(dst).op(MLOAD).store_top();
                self.push_u64(dst + 32).op(MLOAD).store_top();
            }
            Leaf::Storage { transient, walk } => {
                let transient = *transient && fork >= Fork::Cancun;
                let (store, load) = if transient { (TSTORE, TLOAD) } else { (SSTORE, SLOAD) };
                let mut slots: Vec<u8> = walk.iter().map(|(s, _)| s % 8).collect();
                slots.sort_unstable();
                slots.dedup();
                // Transient slots are read before the walk too: what other frames and contracts
                // of the transaction left there. (Persistent ones are not, so that the walk's
                // first SSTORE still meets a cold slot.)
                if transient {
                    for slot in &slots {
                        self.push_u64(u64::from(*slot)).op(load).fold_top();
                    }
                }
                for (slot, value) in walk {
                    let v = self.ctx.value(*value);
                    self.push(v).push_u64(u64::from(slot % 8)).op(store);
                }
                for slot in slots {
                    self.push_u64(u64::from(slot)).op(load).store_top();
                }
                self.op(GAS).store_top();
            }
            Leaf::Log { topics, topic, offset: o, len } => {
                let n = topics % 5;
                let first = self.ctx.value(*topic);
                for i in 0..n {
                    self.push(first.wrapping_add(U256::from(i)));
                }
                self.push_offset(*len).push_offset(*o).op(LOG0 + n);
                self.op(MSIZE).fold_top();
            }
            Leaf::Call { kind, target, gas, value, input, memory } => {
                self.call(*kind, *target, *gas, *value, input, memory.unwrap_or(CallMemory::CONVENTIONAL))
            }
            Leaf::Reentry { transient, revert, value } => {
                let transient = *transient && fork >= Fork::Cancun;
                let (store, load) = if transient { (TSTORE, TLOAD) } else { (SSTORE, SLOAD) };
                let slot = 0xbeef_u64 + self.slot;
                self.op(CALLER).op(ADDRESS).op(EQ);
                let inner = self.forward();
                self.op(JUMPI);
                for _ in 0..5 {
                    self.push_u64(0);
                }
                self.op(ADDRESS).op(GAS).op(CALL).store_top();
                self.push_u64(slot).op(load).store_top();
                let over = self.forward();
                self.op(JUMP);
                let inner_at = self.label();
                self.patch(inner, inner_at);
                let v = self.ctx.value(*value);
                self.push(v).push_u64(slot).op(store);
                if *revert && fork >= Fork::Byzantium {
                    self.push_u64(0).push_u64(0).op(REVERT);
                } else {
                    self.op(STOP);
                }
                let over_at = self.label();
                self.patch(over, over_at);
            }
            Leaf::SelfDestruct(target) => {
                self.push_target(*target).op(SELFDESTRUCT);
            }
            Leaf::LastCall { kind, target, value, margin } => self.last_call(*kind, *target, *value, *margin),
            Leaf::End { kind, offset: o, len } => match kind % 4 {
                0 => {
                    self.op(STOP);
                }
                1 => {
                    self.push_offset(*len).push_offset(*o).op(RETURN);
                }
                2 if fork >= Fork::Byzantium => {
                    self.push_offset(*len).push_offset(*o).op(REVERT);
                }
                _ => {
                    self.op(INVALID);
                }
            },
            Leaf::Raw(bytes) => {
                self.code.extend_from_slice(bytes);
                // An unfinished PUSH would swallow the next piece: complete its immediate.
                let mut i = 0;
                let mut missing = 0;
                while i < bytes.len() {
                    let op = bytes[i];
                    let imm = if (PUSH1..=PUSH32).contains(&op) { usize::from(op - PUSH0) } else { 0 };
                    missing = (i + 1 + imm).saturating_sub(bytes.len());
                    i += 1 + imm;
                }
                self.code.extend(std::iter::repeat_n(0u8, missing));
            }
        }
    }

    /// A memory instruction, then what it left in memory, the memory size and the gas left
    /// stored.
    fn memory(&mut self, op: MemOp, dst: Offset, src: Offset, len: Offset) {
        let fork = self.ctx.fork;
        match op {
            MemOp::Mstore(v) | MemOp::Mstore8(v) => {
                let v = self.ctx.value(v);
                self.push(v).push_offset(dst).op(if matches!(op, MemOp::Mstore(_)) { MSTORE } else { MSTORE8 });
            }
            MemOp::Mload => {}
            MemOp::Mcopy if fork >= Fork::Cancun => {
                self.push_offset(len).push_offset(src).push_offset(dst).op(MCOPY);
            }
            MemOp::CalldataCopy => {
                self.push_offset(len).push_offset(src).push_offset(dst).op(CALLDATACOPY);
            }
            MemOp::CodeCopy | MemOp::Mcopy => {
                self.push_offset(len).push_offset(src).push_offset(dst).op(CODECOPY);
            }
            MemOp::ReturndataCopy if fork >= Fork::Byzantium => {
                self.push_offset(len).push_offset(src).push_offset(dst).op(RETURNDATACOPY);
            }
            MemOp::ExtcodeCopy(t) => {
                self.push_offset(len).push_offset(src).push_offset(dst).push_target(t).op(EXTCODECOPY);
            }
            MemOp::Keccak | MemOp::ReturndataCopy => {
                self.push_offset(len).push_offset(dst).op(KECCAK256).store_top();
                self.op(MSIZE).fold_top();
                return;
            }
        }
        self.push_offset(dst).op(MLOAD).store_top();
        self.wrote(dst);
        self.op(MSIZE).fold_top();
        self.op(GAS).fold_top();
        if !matches!(op, MemOp::Mload) {
            self.reread_return_data();
        }
    }

    /// A call: its input written to memory (when affordable), the call with the input and
    /// output ranges the blueprint chose, then its success, return data (size and hash),
    /// the memory at its output and the memory size stored.
    fn call(&mut self, kind: CallKind, target: Target, gas: Gas, value: Value, input: &Input, memory: CallMemory) {
        let fork = self.ctx.fork;
        let precompile = match target {
            Target::Precompile(i) => Some(self.ctx.precompile(i)),
            _ => None,
        };
        let data: Vec<u8> = match (input, precompile) {
            (Input::Empty, _) => Vec::new(),
            (Input::Shaped { variant, data }, Some(p)) => precompile_input(p, *variant, data),
            (Input::Shaped { data, .. }, None) => data.clone(),
            (Input::Words(words), _) => words.iter().flat_map(|w| self.ctx.value(*w).to_be_bytes::<32>()).collect(),
        };
        // Where the input goes, fixed before anything moves the last-written mark.
        let input_start = offset(memory.input_at, self.marks);
        if let Some(at) = input_start.and_then(|v| u64::try_from(v).ok()).filter(|v| *v < WRITABLE) {
            self.write_memory(at, &data);
            self.marks.written = U256::from(at);
        }
        let opcode = call_opcode(kind, fork);
        // Operands in reverse: output length and offset, input length and offset.
        self.push_offset(memory.output_len);
        let output_start = match (memory.output_at, input_start) {
            (Place::Apart(o), _) => {
                let start = offset(o, self.marks);
                self.push_offset(o);
                start
            }
            (Place::OverInput(d), Some(v)) => {
                let start = shifted(v, d);
                self.push(start);
                Some(start)
            }
            (Place::OverInput(d), None) => {
                self.push_offset(memory.input_at).add_signed(d);
                None
            }
        };
        self.push_length(memory.input_len, data.len());
        match input_start {
            Some(v) => self.push(v),
            None => self.push_offset(memory.input_at),
        };
        if matches!(opcode, CALL | CALLCODE) {
            let v = self.call_value(value);
            self.push(v);
        }
        self.push_target(target).push_gas(gas);
        self.op(opcode).store_top();
        if fork >= Fork::Byzantium {
            self.op(RETURNDATASIZE).store_top();
            self.return_data_hash().store_top();
        }
        // The memory the output went to (and, before Byzantium, the word after it: there is no
        // return data to hash).
        if let Some(at) = output_start.and_then(|v| u64::try_from(v).ok()).filter(|v| *v < WRITABLE) {
            self.push_u64(at).op(MLOAD).fold_top();
            if fork < Fork::Byzantium {
                self.push_u64(at + 32).op(MLOAD).fold_top();
            }
        }
        if let Some(v) = output_start.filter(|v| *v < U256::from(WRITABLE)) {
            self.marks.written = v;
        }
        let input_start = input_start.filter(|v| *v < U256::from(WRITABLE));
        if let Some(v) = input_start {
            self.marks.input = v;
        }
        self.called = true;
        self.op(MSIZE).fold_top();
        // The input overwritten (each byte changed) and the return data read again.
        if let (Some(d), Some(v)) = (memory.rewrite, input_start) {
            let at = shifted(v, d);
            self.push(at).op(MLOAD).op(NOT).push(at).op(MSTORE);
            self.reread_return_data();
        }
    }

    /// The value a call sends: mostly affordable; boundary values sometimes exceed the
    /// balance.
    fn call_value(&self, value: Value) -> U256 {
        let v = self.ctx.value(value);
        if matches!(value, Value::Small(_) | Value::Boundary(_)) { v } else { v % U256::from(1_000_000u64) }
    }

    /// A call that ends the frame with just about the gas it costs (see [`Leaf::LastCall`]):
    /// the burn loop `JUMPDEST PUSH goal GAS GT PUSH2 top JUMPI` (22 gas a turn) leaves the
    /// call, after its `GAS` operand, between `goal - 39` and `goal - 18`; the goal is the
    /// reckoned cost plus the margin plus 40. Before Tangerine Whistle a call costs the gas it
    /// forwards, so there the call is plain.
    fn last_call(&mut self, kind: CallKind, target: Target, value: Value, margin: i8) {
        let fork = self.ctx.fork;
        let opcode = call_opcode(kind, fork);
        for _ in 0..4 {
            self.push_u64(0);
        }
        let mut cost = 0u64;
        if matches!(opcode, CALL | CALLCODE) {
            let v = self.call_value(value);
            if !v.is_zero() {
                cost += 9000;
            }
            self.push(v);
        }
        self.push_target(target);
        if fork >= Fork::Tangerine {
            cost += match fork >= Fork::Berlin {
                // Warm from the start: precompiles, the contract itself and the transaction's
                // target, the sender (and the coinbase from Shanghai); cold otherwise, unless an
                // earlier access warmed it, which the margin's spread absorbs.
                true if self.warm(target) => 100,
                true => 2600,
                false => 700,
            };
            let goal = cost.saturating_add_signed(i64::from(margin)) + 40;
            let top = self.label();
            self.push_u64(goal).op(GAS).op(GT);
            let at = self.forward();
            self.patch(at, top);
            self.op(JUMPI);
        }
        self.op(GAS).op(opcode).op(STOP);
    }

    /// Whether `target` is warm at the start of every transaction (Berlin on).
    fn warm(&self, target: Target) -> bool {
        match target {
            Target::Precompile(_) | Target::This | Target::Contract(0) | Target::Sender => true,
            Target::Coinbase => self.ctx.fork >= Fork::Shanghai,
            _ => false,
        }
    }

    /// The current return data hashed into the fold: after a memory write that follows a call,
    /// so that return data that aliases memory (geth CVE-2020-26241: the identity precompile's
    /// output was its input's memory) shows the write. Nothing before Byzantium or any call.
    fn reread_return_data(&mut self) {
        if self.called && self.ctx.fork >= Fork::Byzantium {
            self.return_data_hash().fold_top();
        }
    }

    /// Pushes the hash of the current return data (copied to [`SCRATCH`] first).
    fn return_data_hash(&mut self) -> &mut Self {
        self.op(RETURNDATASIZE).push_u64(0).push_u64(SCRATCH).op(RETURNDATACOPY);
        self.op(RETURNDATASIZE).push_u64(SCRATCH).op(KECCAK256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm_bytecode::opcode::PUSH3;

    #[test]
    fn the_templates_are_what_the_pushes_emit() {
        for fork in [Fork::Frontier, Fork::Cancun] {
            let ctx = Ctx::new(fork, 1);
            let mut asm = Asm::new(&ctx);
            asm.op(ADD);
            asm.store_top();
            asm.fold_top();
            let mut pushed = Asm::new(&ctx);
            pushed.op(ADD);
            pushed.push_u64(STARVED).op(GAS).op(GT).op(CALLER).op(ORIGIN).op(XOR).op(OR);
            let skip = pushed.forward();
            pushed.op(JUMPI).op(STOP);
            let here = pushed.label();
            pushed.patch(skip, here);
            pushed.push_u64(RESULT_SLOT).op(SLOAD).push_u64(FOLD_K).op(MUL).op(ADD).push_u64(RESULT_SLOT).op(SSTORE);
            pushed.push_u64(FOLD_SLOT).op(SLOAD).push_u64(FOLD_K).op(MUL).op(ADD).push_u64(FOLD_SLOT).op(SSTORE);
            assert_eq!(asm.code, pushed.code, "{fork}");
        }
    }

    #[test]
    fn pushes_are_minimal_and_push0_appears_from_shanghai() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.push(U256::ZERO).push(U256::from(0x1234)).push(U256::MAX);
        assert_eq!(&asm.code[..4], &[PUSH0, PUSH2, 0x12, 0x34]);
        assert_eq!(asm.code[4], PUSH32);
        let ctx = Ctx::new(Fork::London, 1);
        let mut asm = Asm::new(&ctx);
        asm.push(U256::ZERO);
        assert_eq!(asm.code, vec![PUSH1, 0]);
        // Every width, across the 64-bit fast path's edges: the shortest push, big-endian.
        let ctx = Ctx::new(Fork::Cancun, 1);
        for v in
            [U256::from(1), U256::from(0xff), U256::from(0x100), U256::from(u64::MAX), U256::from(u64::MAX) + U256::from(1), U256::MAX >> 8]
        {
            let mut asm = Asm::new(&ctx);
            asm.push(v);
            let len = v.byte_len();
            assert_eq!(asm.code[0], PUSH1 + (len - 1) as u8, "{v:#x}");
            assert_eq!(U256::from_be_slice(&asm.code[1..]), v, "{v:#x}");
            assert_eq!(asm.code.len(), len + 1, "{v:#x}");
        }
    }

    #[test]
    fn combinations_pick_their_instruction_under_every_fork_that_has_it() {
        for (ops, _) in crate::fuzz::vectors::COMBINATIONS {
            for opcode in *ops {
                let index = computing_index(*opcode).expect("a computing instruction");
                for fork in Fork::ALL {
                    let ctx = Ctx::new(fork, 1);
                    let Some(first) = COMPUTING.iter().find(|(op, _, _)| op == opcode).map(|(_, _, f)| *f) else { continue };
                    if fork >= first {
                        assert_eq!(ctx.computing[usize::from(index) % ctx.computing.len()].0, *opcode, "{opcode:#x} under {fork}");
                    }
                }
            }
        }
    }

    /// Position of `needle` in `code`.
    fn find(code: &[u8], needle: &[u8]) -> Option<usize> {
        code.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn a_call_s_ranges_are_the_blueprint_s() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        let memory = CallMemory {
            input_at: Offset::Words(3),
            input_len: Length::Delta(-1),
            output_at: Place::OverInput(4),
            output_len: Offset::Small(7),
            rewrite: None,
        };
        let input = Input::Shaped { variant: 0, data: vec![0xaa; 40] };
        asm.call(CallKind::StaticCall, Target::Contract(0), Gas::Left(3), Value::Small(0), &input, memory);
        // out_len 7, out_offset 96 + 4, in_len 40 - 1, in_offset 96, then the callee and gas.
        let operands = [PUSH1, 7, PUSH1, 100, PUSH1, 39, PUSH1, 96];
        assert!(find(&asm.code, &operands).is_some(), "{:x?}", asm.code);
        let gas = [PUSH1, 3, GAS, SUB, STATICCALL];
        assert!(find(&asm.code, &gas).is_some(), "GAS - 3 forwarded");
        // The output range is where the next Written offset points.
        assert_eq!(asm.marks.written, U256::from(100));
    }

    #[test]
    fn offsets_read_at_run_time_and_relative_to_the_last_write() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.memory(MemOp::Mstore(Value::Small(1)), Offset::Small(50), Offset::Zero, Offset::Zero);
        assert_eq!(asm.marks.written, U256::from(50));
        let at = asm.code.len();
        asm.memory(MemOp::ReturndataCopy, Offset::Written(-3), Offset::Returned(-1), Offset::Returned(2));
        let code = &asm.code[at..];
        // len = RETURNDATASIZE + 2, src = RETURNDATASIZE - 1, dst = 47.
        let expected =
            [RETURNDATASIZE, PUSH1, 2, ADD, RETURNDATASIZE, PUSH1, 1, DUP2, DUP2, GT, ISZERO, SWAP2, SUB, MUL, PUSH1, 47, RETURNDATACOPY];
        assert_eq!(&code[..expected.len()], &expected);
        // Before Byzantium there is no return data: zero plus the shift, not below zero.
        let ctx = Ctx::new(Fork::Homestead, 1);
        let mut asm = Asm::new(&ctx);
        asm.push_offset(Offset::Returned(-1)).push_offset(Offset::Returned(5));
        assert_eq!(asm.code, vec![PUSH1, 0, PUSH1, 5]);
    }

    #[test]
    fn edges_reach_past_2_to_the_32_and_2_to_the_64_an_eighth_of_the_time() {
        let huge =
            (0..=255u8).filter(|i| offset(Offset::Edge(*i), Marks::default()).is_some_and(|v| v >= U256::from(0xffff_ffffu64))).count();
        assert_eq!(huge, 32);
        assert_eq!(offset(Offset::Edge(0), Marks::default()), Some(OFFSET_EDGES[AFFORDABLE_EDGES]));
        let beyond_64 =
            (0..=255u8).filter(|i| offset(Offset::Edge(*i), Marks::default()).is_some_and(|v| v > U256::from(u64::MAX))).count();
        assert!(beyond_64 > 0, "offsets past 2^64 are drawn");
    }

    /// A zero-length range costs nothing wherever it starts: the generated KECCAK256 of
    /// nothing at 2^64 succeeds and records the hash of the empty string.
    #[cfg(feature = "revm")]
    #[test]
    fn a_zero_length_range_at_a_huge_offset_runs() {
        use crate::fuzz::compile::compile;
        use crate::fuzz::program::{Blueprint, Contract, Piece};
        use schism_interface::{Client, TraceMode};
        let leaf = Leaf::Memory { op: MemOp::Keccak, dst: Offset::Edge(24), src: Offset::Zero, len: Offset::Zero };
        assert_eq!(offset(Offset::Edge(24), Marks::default()), Some(U256::from_limbs([0, 1, 0, 0])), "2^64");
        let mut blueprint = Blueprint::default();
        blueprint.tx.gas = 3;
        blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program: vec![Piece::Leaf(leaf)] }];
        let case = compile(&blueprint, Fork::Cancun);
        let outcome = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
        let post = outcome.post_state.expect("post-state");
        let stored = post[&crate::fuzz::vectors::contract_address(0)].storage.get(&U256::from(RESULT_SLOT)).copied();
        // The result slot starts at 1 and folds: 1 * K + the hash.
        let hash = U256::from_be_bytes(alloy_primitives::keccak256([]).0);
        assert_eq!(stored, Some(U256::from(FOLD_K).wrapping_add(hash)));
    }

    /// The shapes of geth's CVE-2021-39137 and CVE-2020-26241 are in the generator's reach: a
    /// call to the identity precompile whose output lands over its own input, or whose input
    /// is written over after it returned (by the call's own rewrite or by a later memory
    /// instruction at [`Offset::CallInput`]), tells the `identity-aliasing` canary from
    /// healthy revm; the same call with its output apart and its input left alone does not.
    #[cfg(feature = "revm")]
    #[test]
    fn an_identity_call_whose_input_memory_changes_shows_the_aliasing_canary() {
        use crate::fuzz::compile::compile;
        use crate::fuzz::program::{Blueprint, Contract, Piece};
        use schism_interface::{Client, TraceMode};
        let roots = |output_at: Place, rewrite: Option<i8>, after: Option<Leaf>| {
            let memory =
                CallMemory { input_at: Offset::Words(4), input_len: Length::Data, output_at, output_len: Offset::Small(48), rewrite };
            let call = Leaf::Call {
                kind: CallKind::StaticCall,
                target: Target::Precompile(4),
                gas: Gas::All,
                value: Value::Small(0),
                input: Input::Shaped { variant: 0, data: (1..=64u8).collect() },
                memory: Some(memory),
            };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 7;
            let program = std::iter::once(call).chain(after).map(Piece::Leaf).collect();
            blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program }];
            let case = compile(&blueprint, Fork::Cancun);
            assert_eq!(crate::fuzz::precompile::cheap_precompiles(Fork::Cancun)[3], 4, "Precompile(4) is the identity");
            let healthy = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
            let mutant =
                schism_revm::MutantRevm::new(schism_revm::Mutant::IdentityAliasing).execute(&case, TraceMode::Off).expect("executes");
            (healthy.state_root, mutant.state_root)
        };
        let apart = Place::Apart(Offset::Words(12));
        let (healthy, mutant) = roots(Place::OverInput(16), None, None);
        assert_ne!(healthy, mutant, "overlapping ranges reveal the aliasing");
        let (healthy, mutant) = roots(apart, None, None);
        assert_eq!(healthy, mutant, "ranges apart do not");
        let (healthy, mutant) = roots(apart, Some(5), None);
        assert_ne!(healthy, mutant, "the input rewritten after the call does");
        let mstore = Leaf::Memory { op: MemOp::Mstore(Value::Small(9)), dst: Offset::CallInput(-7), src: Offset::Zero, len: Offset::Zero };
        let (healthy, mutant) = roots(apart, None, Some(mstore));
        assert_ne!(healthy, mutant, "so does a later MSTORE over the input");
        let mstore = Leaf::Memory { op: MemOp::Mstore(Value::Small(9)), dst: Offset::Words(40), src: Offset::Zero, len: Offset::Zero };
        let (healthy, mutant) = roots(apart, None, Some(mstore));
        assert_eq!(healthy, mutant, "but not one elsewhere");
    }

    /// A squeezed last call reaches its instruction with its reckoned cost plus the margin
    /// and at most 22 more: a value-bearing CALLCODE to a cold empty account (11,600 gas)
    /// with a margin of -30 runs out of gas on healthy revm, with +5 it goes through.
    #[cfg(feature = "revm")]
    #[test]
    fn a_last_call_keeps_just_about_its_cost() {
        use crate::fuzz::compile::compile;
        use crate::fuzz::program::{Blueprint, Contract, Piece};
        use revm_bytecode::opcode::CALLCODE;
        use schism_interface::{Client, ErrorClass, TraceMode};
        let run = |margin: i8| {
            let leaf = Leaf::LastCall { kind: CallKind::CallCode, target: Target::Empty(1), value: Value::Small(1), margin };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 7;
            blueprint.contracts = vec![Contract { balance: Value::Small(9), nonce: 1, storage: vec![], program: vec![Piece::Leaf(leaf)] }];
            let case = compile(&blueprint, Fork::Cancun);
            let outcome = schism_revm::Revm::new().execute(&case, TraceMode::Steps).expect("executes");
            let trace = outcome.trace.clone().expect("a trace");
            let at_call = trace.iter().find(|s| s.op == CALLCODE).expect("the CALLCODE runs").gas;
            (at_call, outcome.error)
        };
        for margin in [-64i8, -30, -1, 0, 5, 31] {
            let (gas, _) = run(margin);
            let low = 11_600i64 + i64::from(margin);
            assert!((low + 1..=low + 22).contains(&(gas as i64)), "margin {margin}: {gas} gas at the CALLCODE");
        }
        assert_eq!(run(-30).1, Some(ErrorClass::OutOfGas));
        assert_eq!(run(5).1, None);
    }

    #[test]
    fn an_unfinished_raw_push_is_completed() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.leaf(&Leaf::Raw(vec![ADD, PUSH3, 0xaa]));
        assert_eq!(asm.code, vec![ADD, PUSH3, 0xaa, 0, 0]);
    }
}
