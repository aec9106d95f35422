//! The bytecode assembler: turns a blueprint's pieces into EVM code, pushing every operand
//! before its instruction, storing each result in the next storage slot (so that every
//! difference reaches the state root) and resolving jump targets.

use super::{Ctx, RESULT_SLOT, init_code};
use crate::fuzz::precompile::precompile_input;
use crate::fuzz::program::{CallKind, Gas, Input, Leaf, MemOp, Offset, Piece, Target, Value};
use crate::fuzz::vectors::BOUNDARIES;
use alloy_primitives::U256;
use revm_bytecode::opcode::{
    ADD, ADDMOD, ADDRESS, AND, BALANCE, BASEFEE, BLOBBASEFEE, BLOBHASH, BLOCKHASH, BYTE, CALL, CALLCODE, CALLDATACOPY, CALLDATALOAD,
    CALLDATASIZE, CALLER, CALLVALUE, CHAINID, CLZ, CODECOPY, CODESIZE, COINBASE, CREATE, CREATE2, DELEGATECALL, DIFFICULTY, DIV, DUP1,
    DUP6, EQ, EXP, EXTCODECOPY, EXTCODEHASH, EXTCODESIZE, GAS, GASLIMIT, GASPRICE, GT, INVALID, ISZERO, JUMP, JUMPDEST, JUMPI, KECCAK256,
    LOG0, LT, MCOPY, MLOAD, MOD, MSIZE, MSTORE, MSTORE8, MUL, MULMOD, NOT, NUMBER, OR, ORIGIN, PC, POP, PUSH0, PUSH1, PUSH2, PUSH32,
    RETURN, RETURNDATACOPY, RETURNDATASIZE, REVERT, SAR, SDIV, SELFBALANCE, SELFDESTRUCT, SGT, SHL, SHR, SIGNEXTEND, SLOAD, SLT, SMOD,
    SSTORE, STATICCALL, STOP, SUB, SWAP1, TIMESTAMP, TLOAD, TSTORE, XOR,
};
use schism_interface::Fork;

/// Where call input is written in memory.
const IN_OFFSET: u64 = 0x200;
/// Where call output lands.
const RET_OFFSET: u64 = 0x40;
/// Where return data is copied for hashing.
const SCRATCH: u64 = 0x600;
/// The storage slot counting recursion depth.
const DEPTH_SLOT: u64 = 0xdead;

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

/// The memory offset or length an [`Offset`] names.
fn offset(o: Offset) -> U256 {
    // Offsets that run out of gas (beyond 2^32) are a few of the edges only.
    const EDGES: [u64; 16] = [1, 31, 32, 33, 63, 64, 95, 96, 0x3ff, 0x400, 0x401, 0xfff, 0x1000, 0xffff, 0xffff_ffff, u64::MAX];
    match o {
        Offset::Zero => U256::ZERO,
        Offset::Small(v) => U256::from(v),
        Offset::Words(k) => U256::from(32 * u64::from(k % 64)),
        Offset::Edge(255) => U256::MAX,
        Offset::Edge(i) if i % 32 >= 16 => U256::from(EDGES[usize::from(i % 14)]),
        Offset::Edge(i) => U256::from(EDGES[usize::from(i % 16)]),
    }
}

/// A bytecode assembler that keeps track of result slots and jump targets.
pub(super) struct Asm<'c> {
    ctx: &'c Ctx,
    /// The bytecode so far.
    pub(super) code: Vec<u8>,
    /// The next result slot [`Asm::store_top`] writes.
    slot: u64,
}

impl<'c> Asm<'c> {
    /// An empty program for the case `ctx` describes.
    pub(super) fn new(ctx: &'c Ctx) -> Asm<'c> {
        Asm { ctx, code: Vec::new(), slot: RESULT_SLOT }
    }

    /// One instruction without immediate.
    pub(super) fn op(&mut self, op: u8) -> &mut Self {
        self.code.push(op);
        self
    }

    /// The shortest push of `v` (PUSH0 from Shanghai).
    fn push(&mut self, v: U256) -> &mut Self {
        if v.is_zero() && self.ctx.fork >= Fork::Shanghai {
            return self.op(PUSH0);
        }
        let bytes = v.to_be_bytes::<32>();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(31);
        self.code.push(PUSH1 + (31 - skip) as u8);
        self.code.extend_from_slice(&bytes[skip..]);
        self
    }

    /// The shortest push of `v`.
    pub(super) fn push_u64(&mut self, v: u64) -> &mut Self {
        self.push(U256::from(v))
    }

    /// A push of the target's address (ADDRESS for the executing contract itself).
    fn push_target(&mut self, target: Target) -> &mut Self {
        match self.ctx.address(target) {
            Some(a) => self.push(U256::from_be_slice(a.as_slice())),
            None => self.op(ADDRESS),
        }
    }

    /// Stores the top of the stack in the next result slot.
    fn store_top(&mut self) -> &mut Self {
        let slot = self.slot;
        self.slot += 1;
        self.push_u64(slot).op(SSTORE)
    }

    /// A JUMPDEST here; its offset.
    fn label(&mut self) -> usize {
        self.code.push(JUMPDEST);
        self.code.len() - 1
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
            Piece::Create { create2, salt, value, init, runtime, ending, call_after } => {
                let code = init_code(self.ctx, init, runtime, *ending);
                self.write_memory(IN_OFFSET, &code);
                if *create2 && self.ctx.fork >= Fork::Constantinople {
                    let salt = self.ctx.value(*salt);
                    self.push(salt);
                }
                self.push_u64(code.len() as u64).push_u64(IN_OFFSET);
                let value = self.ctx.value(*value) % U256::from(1_000_000u64);
                self.push(value);
                self.op(if *create2 && self.ctx.fork >= Fork::Constantinople { CREATE2 } else { CREATE });
                self.op(DUP1).store_top();
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
                        // Indices around the number of blobs.
                        BLOBHASH => v % U256::from(8),
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
            Leaf::Memory { op, dst, src, len } => self.memory(*op, offset(*dst), offset(*src), offset(*len)),
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
                for (slot, value) in walk {
                    let v = self.ctx.value(*value);
                    self.push(v).push_u64(u64::from(slot % 8)).op(store);
                }
                let mut slots: Vec<u8> = walk.iter().map(|(s, _)| s % 8).collect();
                slots.sort_unstable();
                slots.dedup();
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
                let (o, len) = (offset(*o) % U256::from(0x1000), offset(*len) % U256::from(0x400));
                self.push(len).push(o).op(LOG0 + n);
            }
            Leaf::Call { kind, target, gas, value, input } => self.call(*kind, *target, *gas, *value, input),
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
            Leaf::End { kind, offset: o, len } => {
                let (o, len) = (offset(*o) % U256::from(0x1000), offset(*len) % U256::from(0x400));
                match kind % 4 {
                    0 => {
                        self.op(STOP);
                    }
                    1 => {
                        self.push(len).push(o).op(RETURN);
                    }
                    2 if fork >= Fork::Byzantium => {
                        self.push(len).push(o).op(REVERT);
                    }
                    _ => {
                        self.op(INVALID);
                    }
                }
            }
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

    /// A memory instruction, then what it left in memory stored.
    fn memory(&mut self, op: MemOp, dst: U256, src: U256, len: U256) {
        let fork = self.ctx.fork;
        match op {
            MemOp::Mstore(v) | MemOp::Mstore8(v) => {
                let v = self.ctx.value(v);
                self.push(v).push(dst).op(if matches!(op, MemOp::Mstore(_)) { MSTORE } else { MSTORE8 });
            }
            MemOp::Mload => {}
            MemOp::Mcopy if fork >= Fork::Cancun => {
                self.push(len).push(src).push(dst).op(MCOPY);
            }
            MemOp::CalldataCopy => {
                self.push(len).push(src).push(dst).op(CALLDATACOPY);
            }
            MemOp::CodeCopy | MemOp::Mcopy => {
                self.push(len).push(src).push(dst).op(CODECOPY);
            }
            MemOp::ReturndataCopy if fork >= Fork::Byzantium => {
                self.push(len).push(src).push(dst).op(RETURNDATACOPY);
            }
            MemOp::ExtcodeCopy(t) => {
                self.push(len).push(src).push(dst).push_target(t).op(EXTCODECOPY);
            }
            MemOp::Keccak | MemOp::ReturndataCopy => {
                self.push(len).push(dst).op(KECCAK256).store_top();
                return;
            }
        }
        self.push(dst).op(MLOAD).store_top();
        self.op(MSIZE).store_top();
    }

    /// A call with its input written to memory first, then its success and return data stored.
    fn call(&mut self, kind: CallKind, target: Target, gas: Gas, value: Value, input: &Input) {
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
        self.write_memory(IN_OFFSET, &data);
        let opcode = match kind {
            CallKind::Call => CALL,
            CallKind::CallCode => CALLCODE,
            CallKind::DelegateCall if fork >= Fork::Homestead => DELEGATECALL,
            CallKind::StaticCall if fork >= Fork::Byzantium => STATICCALL,
            _ => CALL,
        };
        self.push_u64(0x40).push_u64(RET_OFFSET).push_u64(data.len() as u64).push_u64(IN_OFFSET);
        if matches!(opcode, CALL | CALLCODE) {
            let v = self.ctx.value(value);
            // Mostly affordable values; boundary values sometimes exceed the balance.
            let v = if matches!(value, Value::Small(_) | Value::Boundary(_)) { v } else { v % U256::from(1_000_000u64) };
            self.push(v);
        }
        self.push_target(target);
        match gas {
            Gas::All => {
                self.op(GAS);
            }
            Gas::Fixed(g) => {
                self.push_u64(u64::from(g));
            }
            Gas::Stipend(d) => {
                self.push_u64(2300u64.saturating_add_signed(i64::from(d)));
            }
            Gas::Tiny(g) => {
                self.push_u64(u64::from(g));
            }
        }
        self.op(opcode).store_top();
        if fork >= Fork::Byzantium {
            self.op(RETURNDATASIZE).store_top();
            self.op(RETURNDATASIZE).push_u64(0).push_u64(SCRATCH).op(RETURNDATACOPY);
            self.op(RETURNDATASIZE).push_u64(SCRATCH).op(KECCAK256).store_top();
        } else {
            self.push_u64(RET_OFFSET).op(MLOAD).store_top();
            self.push_u64(RET_OFFSET + 32).op(MLOAD).store_top();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm_bytecode::opcode::PUSH3;

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
    }

    #[test]
    fn an_unfinished_raw_push_is_completed() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.leaf(&Leaf::Raw(vec![ADD, PUSH3, 0xaa]));
        assert_eq!(asm.code, vec![ADD, PUSH3, 0xaa, 0, 0]);
    }
}
