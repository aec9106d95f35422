//! Compiles a [`Blueprint`] into a [`Case`]: bytecode for every contract (pushes before each
//! instruction, results stored with SSTORE so that every difference reaches the state root,
//! jump targets resolved), a pre-state, and a transaction of a type the fork allows.

use super::program::{Auth, Blueprint, CallKind, Contract, Gas, Input, Leaf, MemOp, Offset, Piece, Target, Value};
use super::vectors::{self, BOUNDARIES};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use schism_interface::case::default_blob_params;
use schism_interface::fixture::{AccessListItem, Account, Accounts, Authorization, Env, Indexes};
use schism_interface::{Case, Fork, Transaction, TxKind, TxValue};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Where call input is written in memory.
const IN_OFFSET: u64 = 0x200;
/// Where call output lands.
const RET_OFFSET: u64 = 0x40;
/// Where return data is copied for hashing.
const SCRATCH: u64 = 0x600;
/// First storage slot results are written to (walks use slots 0..8).
const RESULT_SLOT: u64 = 0x100;
/// The storage slot counting recursion depth.
const DEPTH_SLOT: u64 = 0xdead;
/// The chain id of generated cases.
const CHAIN_ID: u64 = 1;
/// The block's base fee (London on) for each `env` choice.
const BASE_FEES: [u64; 4] = [7, 7, 1, 1000];
/// Transaction gas limits, by `Tx::gas` (all within EIP-7825's cap). Mostly moderate: gas
/// bounds the work of a case, and coverage guidance otherwise drifts towards inputs that burn
/// millions of gas in loops, which costs throughput without reaching more behaviour.
const GAS_LIMITS: [u64; 8] = [50_000, 80_000, 100_000, 150_000, 200_000, 300_000, 500_000, 2_000_000];

/// An instruction that computes a value: opcode, number of inputs, first fork.
const COMPUTING: &[(u8, usize, Fork)] = &[
    (0x01, 2, Fork::Frontier),       // ADD
    (0x02, 2, Fork::Frontier),       // MUL
    (0x03, 2, Fork::Frontier),       // SUB
    (0x04, 2, Fork::Frontier),       // DIV
    (0x05, 2, Fork::Frontier),       // SDIV
    (0x06, 2, Fork::Frontier),       // MOD
    (0x07, 2, Fork::Frontier),       // SMOD
    (0x08, 3, Fork::Frontier),       // ADDMOD
    (0x09, 3, Fork::Frontier),       // MULMOD
    (0x0a, 2, Fork::Frontier),       // EXP
    (0x0b, 2, Fork::Frontier),       // SIGNEXTEND
    (0x10, 2, Fork::Frontier),       // LT
    (0x11, 2, Fork::Frontier),       // GT
    (0x12, 2, Fork::Frontier),       // SLT
    (0x13, 2, Fork::Frontier),       // SGT
    (0x14, 2, Fork::Frontier),       // EQ
    (0x15, 1, Fork::Frontier),       // ISZERO
    (0x16, 2, Fork::Frontier),       // AND
    (0x17, 2, Fork::Frontier),       // OR
    (0x18, 2, Fork::Frontier),       // XOR
    (0x19, 1, Fork::Frontier),       // NOT
    (0x1a, 2, Fork::Frontier),       // BYTE
    (0x1b, 2, Fork::Constantinople), // SHL
    (0x1c, 2, Fork::Constantinople), // SHR
    (0x1d, 2, Fork::Constantinople), // SAR
    (0x1e, 1, Fork::Osaka),          // CLZ
    (0x20, 2, Fork::Frontier),       // KECCAK256
    (0x30, 0, Fork::Frontier),       // ADDRESS
    (0x31, 1, Fork::Frontier),       // BALANCE
    (0x32, 0, Fork::Frontier),       // ORIGIN
    (0x33, 0, Fork::Frontier),       // CALLER
    (0x34, 0, Fork::Frontier),       // CALLVALUE
    (0x35, 1, Fork::Frontier),       // CALLDATALOAD
    (0x36, 0, Fork::Frontier),       // CALLDATASIZE
    (0x38, 0, Fork::Frontier),       // CODESIZE
    (0x3a, 0, Fork::Frontier),       // GASPRICE
    (0x3b, 1, Fork::Frontier),       // EXTCODESIZE
    (0x3d, 0, Fork::Byzantium),      // RETURNDATASIZE
    (0x3f, 1, Fork::Constantinople), // EXTCODEHASH
    (0x40, 1, Fork::Frontier),       // BLOCKHASH
    (0x41, 0, Fork::Frontier),       // COINBASE
    (0x42, 0, Fork::Frontier),       // TIMESTAMP
    (0x43, 0, Fork::Frontier),       // NUMBER
    (0x44, 0, Fork::Frontier),       // DIFFICULTY / PREVRANDAO
    (0x45, 0, Fork::Frontier),       // GASLIMIT
    (0x46, 0, Fork::Istanbul),       // CHAINID
    (0x47, 0, Fork::Istanbul),       // SELFBALANCE
    (0x48, 0, Fork::London),         // BASEFEE
    (0x49, 1, Fork::Cancun),         // BLOBHASH
    (0x4a, 0, Fork::Cancun),         // BLOBBASEFEE
    (0x51, 1, Fork::Frontier),       // MLOAD
    (0x54, 1, Fork::Frontier),       // SLOAD
    (0x58, 0, Fork::Frontier),       // PC
    (0x59, 0, Fork::Frontier),       // MSIZE
    (0x5a, 0, Fork::Frontier),       // GAS
    (0x5c, 1, Fork::Cancun),         // TLOAD
];

/// The precompile addresses of a fork, in address order.
pub fn precompiles(fork: Fork) -> Vec<u16> {
    let mut out: Vec<u16> = (1..=4).collect();
    if fork >= Fork::Byzantium {
        out.extend(5..=8);
    }
    if fork >= Fork::Istanbul {
        out.push(9);
    }
    if fork >= Fork::Cancun {
        out.push(0x0a);
    }
    if fork >= Fork::Prague {
        out.extend(0x0b..=0x11);
    }
    if fork >= Fork::Osaka {
        out.push(0x100);
    }
    out
}

/// The address of a precompile.
pub fn precompile_address(id: u16) -> Address {
    let mut bytes = [0u8; 20];
    bytes[18..].copy_from_slice(&id.to_be_bytes());
    Address::from(bytes)
}

/// Everything a compilation needs to know about the case being built.
struct Ctx {
    fork: Fork,
    contracts: usize,
    precompiles: Vec<u16>,
    /// The fork's precompiles without the [`EXPENSIVE`] ones.
    cheap: Vec<u16>,
    /// The fork's computing instructions: opcode and number of inputs.
    computing: Vec<(u8, usize)>,
}

/// Precompiles that take a millisecond or more per call (pairings, KZG): chosen an eighth as
/// often as the others, so that throughput stays high while every precompile is still reached.
const EXPENSIVE: [u16; 3] = [0x08, 0x0a, 0x0f];

impl Ctx {
    /// What compiling for `fork` with `contracts` contracts needs.
    fn new(fork: Fork, contracts: usize) -> Ctx {
        let precompiles = precompiles(fork);
        let cheap = precompiles.iter().copied().filter(|p| !EXPENSIVE.contains(p)).collect();
        let computing = COMPUTING.iter().filter(|(_, _, f)| fork >= *f).map(|(op, inputs, _)| (*op, *inputs)).collect();
        Ctx { fork, contracts: contracts.max(1), precompiles, cheap, computing }
    }

    /// The precompile a generated index names.
    fn precompile(&self, i: u8) -> u16 {
        if i.is_multiple_of(8) {
            return self.precompiles[usize::from(i / 8) % self.precompiles.len()];
        }
        self.cheap[usize::from(i) % self.cheap.len()]
    }

    fn address(&self, target: Target) -> Option<Address> {
        Some(match target {
            Target::Contract(i) => vectors::contract_address(usize::from(i) % self.contracts),
            Target::Precompile(i) => precompile_address(self.precompile(i)),
            Target::Sender => vectors::SENDER,
            Target::Coinbase => vectors::COINBASE,
            Target::Empty(i) => vectors::empty_address(i % 4),
            Target::Authority(i) => vectors::authorities()[usize::from(i) % 3],
            Target::This => return None,
        })
    }

    fn value(&self, value: Value) -> U256 {
        match value {
            Value::Boundary(i) => BOUNDARIES[usize::from(i) % BOUNDARIES.len()],
            Value::Near(i, d) => {
                let base = BOUNDARIES[usize::from(i) % BOUNDARIES.len()];
                if d >= 0 { base.wrapping_add(U256::from(d)) } else { base.wrapping_sub(U256::from(d.unsigned_abs())) }
            }
            Value::Small(v) => U256::from(v),
            Value::Word(w) => U256::from_be_bytes(w),
            Value::Address(t) => self.address(t).map_or(U256::ZERO, |a| U256::from_be_slice(a.as_slice())),
        }
    }
}

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
struct Asm<'c> {
    ctx: &'c Ctx,
    code: Vec<u8>,
    slot: u64,
}

impl<'c> Asm<'c> {
    fn new(ctx: &'c Ctx) -> Asm<'c> {
        Asm { ctx, code: Vec::new(), slot: RESULT_SLOT }
    }

    fn op(&mut self, op: u8) -> &mut Self {
        self.code.push(op);
        self
    }

    fn push(&mut self, v: U256) -> &mut Self {
        if v.is_zero() && self.ctx.fork >= Fork::Shanghai {
            return self.op(0x5f);
        }
        let bytes = v.to_be_bytes::<32>();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(31);
        self.code.push(0x60 + (31 - skip) as u8);
        self.code.extend_from_slice(&bytes[skip..]);
        self
    }

    fn push_u64(&mut self, v: u64) -> &mut Self {
        self.push(U256::from(v))
    }

    fn push_target(&mut self, target: Target) -> &mut Self {
        match self.ctx.address(target) {
            Some(a) => self.push(U256::from_be_slice(a.as_slice())),
            None => self.op(0x30),
        }
    }

    /// Stores the top of the stack in the next result slot.
    fn store_top(&mut self) -> &mut Self {
        let slot = self.slot;
        self.slot += 1;
        self.push_u64(slot).op(0x55)
    }

    /// A JUMPDEST here; its offset.
    fn label(&mut self) -> usize {
        self.code.push(0x5b);
        self.code.len() - 1
    }

    /// PUSH2 of a jump target to be filled in later; where to patch.
    fn forward(&mut self) -> usize {
        self.code.extend([0x61, 0, 0]);
        self.code.len() - 2
    }

    fn patch(&mut self, at: usize, target: usize) {
        let target = u16::try_from(target).unwrap_or(u16::MAX).to_be_bytes();
        self.code[at..at + 2].copy_from_slice(&target);
    }

    /// Writes `bytes` to memory at `at` with PUSH32/MSTORE pairs.
    fn write_memory(&mut self, at: u64, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.push(U256::from_be_bytes(word)).push_u64(at + 32 * i as u64).op(0x52);
        }
    }

    fn piece(&mut self, piece: &Piece) {
        match piece {
            Piece::Leaf(leaf) => self.leaf(leaf),
            Piece::Loop { count, body } => {
                self.push_u64(u64::from(count % 16) + 1);
                let top = self.label();
                for leaf in body {
                    self.leaf(leaf);
                }
                // counter - 1; loop while non-zero.
                self.push_u64(1).op(0x90).op(0x03).op(0x80);
                let at = self.forward();
                self.patch(at, top);
                self.op(0x57).op(0x50);
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
                self.op(if *create2 && self.ctx.fork >= Fork::Constantinople { 0xf5 } else { 0xf0 });
                self.op(0x80).store_top();
                if *call_after {
                    for _ in 0..5 {
                        self.push_u64(0);
                    }
                    self.op(0x85).op(0x5a).op(0xf1).store_top();
                }
                self.op(0x50);
            }
            Piece::Recurse { depth } => {
                // Past the 1024-frame limit now and then; shallow otherwise.
                let depth = if *depth == 255 { 1100 } else { u64::from(depth % 8) + 1 };
                // if sload(DEPTH_SLOT) >= depth: skip
                self.push_u64(depth).push_u64(DEPTH_SLOT).op(0x54).op(0x10).op(0x15);
                let skip = self.forward();
                self.op(0x57);
                self.push_u64(DEPTH_SLOT).op(0x54).push_u64(1).op(0x01).push_u64(DEPTH_SLOT).op(0x55);
                for _ in 0..5 {
                    self.push_u64(0);
                }
                self.op(0x30).op(0x5a).op(0xf1).store_top();
                let end = self.label();
                self.patch(skip, end);
            }
        }
    }

    fn leaf(&mut self, leaf: &Leaf) {
        let fork = self.ctx.fork;
        match leaf {
            Leaf::Op { op, args } => {
                let (opcode, inputs) = self.ctx.computing[usize::from(*op) % self.ctx.computing.len()];
                for arg in args[..inputs].iter().rev() {
                    let v = self.ctx.value(*arg);
                    // Memory-reading instructions get small offsets and lengths mostly.
                    let v = match opcode {
                        _ if matches!(arg, Value::Boundary(_)) => v,
                        0x20 | 0x51 => v % U256::from(0x400),
                        // BLOBHASH: indices around the number of blobs.
                        0x49 => v % U256::from(8),
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
                    self.op(0x90 + (k - 1) as u8);
                } else {
                    self.op(0x80 + (k - 1) as u8);
                }
                self.store_top();
                let left = if is_swap { n - 1 } else { n };
                for _ in 0..left {
                    self.op(0x50);
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
                self.push_u64(u64::from(*len)).push_u64(src).push_u64(dst).op(0x5e);
                self.push_u64(dst).op(0x51).store_top();
                self.push_u64(dst + 32).op(0x51).store_top();
            }
            Leaf::Storage { transient, walk } => {
                let transient = *transient && fork >= Fork::Cancun;
                let (store, load) = if transient { (0x5d, 0x5c) } else { (0x55, 0x54) };
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
                self.op(0x5a).store_top();
            }
            Leaf::Log { topics, topic, offset: o, len } => {
                let n = topics % 5;
                let first = self.ctx.value(*topic);
                for i in 0..n {
                    self.push(first.wrapping_add(U256::from(i)));
                }
                let (o, len) = (offset(*o) % U256::from(0x1000), offset(*len) % U256::from(0x400));
                self.push(len).push(o).op(0xa0 + n);
            }
            Leaf::Call { kind, target, gas, value, input } => self.call(*kind, *target, *gas, *value, input),
            Leaf::Reentry { transient, revert, value } => {
                let transient = *transient && fork >= Fork::Cancun;
                let (store, load) = if transient { (0x5d, 0x5c) } else { (0x55, 0x54) };
                let slot = 0xbeef_u64 + self.slot;
                self.op(0x33).op(0x30).op(0x14);
                let inner = self.forward();
                self.op(0x57);
                for _ in 0..5 {
                    self.push_u64(0);
                }
                self.op(0x30).op(0x5a).op(0xf1).store_top();
                self.push_u64(slot).op(load).store_top();
                let over = self.forward();
                self.op(0x56);
                let inner_at = self.label();
                self.patch(inner, inner_at);
                let v = self.ctx.value(*value);
                self.push(v).push_u64(slot).op(store);
                if *revert && fork >= Fork::Byzantium {
                    self.push_u64(0).push_u64(0).op(0xfd);
                } else {
                    self.op(0x00);
                }
                let over_at = self.label();
                self.patch(over, over_at);
            }
            Leaf::SelfDestruct(target) => {
                self.push_target(*target).op(0xff);
            }
            Leaf::End { kind, offset: o, len } => {
                let (o, len) = (offset(*o) % U256::from(0x1000), offset(*len) % U256::from(0x400));
                match kind % 4 {
                    0 => {
                        self.op(0x00);
                    }
                    1 => {
                        self.push(len).push(o).op(0xf3);
                    }
                    2 if fork >= Fork::Byzantium => {
                        self.push(len).push(o).op(0xfd);
                    }
                    _ => {
                        self.op(0xfe);
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
                    let imm = if (0x60..=0x7f).contains(&op) { usize::from(op - 0x5f) } else { 0 };
                    missing = (i + 1 + imm).saturating_sub(bytes.len());
                    i += 1 + imm;
                }
                self.code.extend(std::iter::repeat_n(0u8, missing));
            }
        }
    }

    fn memory(&mut self, op: MemOp, dst: U256, src: U256, len: U256) {
        let fork = self.ctx.fork;
        match op {
            MemOp::Mstore(v) | MemOp::Mstore8(v) => {
                let v = self.ctx.value(v);
                self.push(v).push(dst).op(if matches!(op, MemOp::Mstore(_)) { 0x52 } else { 0x53 });
            }
            MemOp::Mload => {}
            MemOp::Mcopy if fork >= Fork::Cancun => {
                self.push(len).push(src).push(dst).op(0x5e);
            }
            MemOp::CalldataCopy => {
                self.push(len).push(src).push(dst).op(0x37);
            }
            MemOp::CodeCopy | MemOp::Mcopy => {
                self.push(len).push(src).push(dst).op(0x39);
            }
            MemOp::ReturndataCopy if fork >= Fork::Byzantium => {
                self.push(len).push(src).push(dst).op(0x3e);
            }
            MemOp::ExtcodeCopy(t) => {
                self.push(len).push(src).push(dst).push_target(t).op(0x3c);
            }
            MemOp::Keccak | MemOp::ReturndataCopy => {
                self.push(len).push(dst).op(0x20).store_top();
                return;
            }
        }
        self.push(dst).op(0x51).store_top();
        self.op(0x59).store_top();
    }

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
            CallKind::Call => 0xf1,
            CallKind::CallCode => 0xf2,
            CallKind::DelegateCall if fork >= Fork::Homestead => 0xf4,
            CallKind::StaticCall if fork >= Fork::Byzantium => 0xfa,
            _ => 0xf1,
        };
        self.push_u64(0x40).push_u64(RET_OFFSET).push_u64(data.len() as u64).push_u64(IN_OFFSET);
        if matches!(opcode, 0xf1 | 0xf2) {
            let v = self.ctx.value(value);
            // Mostly affordable values; boundary values sometimes exceed the balance.
            let v = if matches!(value, Value::Small(_) | Value::Boundary(_)) { v } else { v % U256::from(1_000_000u64) };
            self.push(v);
        }
        self.push_target(target);
        match gas {
            Gas::All => {
                self.op(0x5a);
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
            self.op(0x3d).store_top();
            self.op(0x3d).push_u64(0).push_u64(SCRATCH).op(0x3e);
            self.op(0x3d).push_u64(SCRATCH).op(0x20).store_top();
        } else {
            self.push_u64(RET_OFFSET).op(0x51).store_top();
            self.push_u64(RET_OFFSET + 32).op(0x51).store_top();
        }
    }
}

/// Init code: the constructor's leaves, then the ending (normally returning `runtime`).
fn init_code(ctx: &Ctx, init: &[Leaf], runtime: &[Leaf], ending: u8) -> Vec<u8> {
    let mut body = Asm::new(ctx);
    for leaf in runtime {
        body.leaf(leaf);
    }
    body.op(0x00);
    let runtime = body.code;
    let mut asm = Asm::new(ctx);
    for leaf in init {
        asm.leaf(leaf);
    }
    match ending % 6 {
        3 if ctx.fork >= Fork::Byzantium => {
            asm.push_u64(0).push_u64(0).op(0xfd);
        }
        4 => {
            asm.push_u64(0xef).push_u64(0).op(0x53).push_u64(1).push_u64(0).op(0xf3);
        }
        5 => {
            asm.push_u64(0x6001).push_u64(0).op(0xf3);
        }
        _ => {
            // PUSH2 len PUSH2 offset PUSH1 0 CODECOPY PUSH2 len PUSH1 0 RETURN, 15 bytes.
            let offset = asm.code.len() + 15;
            let len = u16::try_from(runtime.len()).unwrap_or(u16::MAX).to_be_bytes();
            let off = u16::try_from(offset).unwrap_or(u16::MAX).to_be_bytes();
            asm.code.extend([0x61, len[0], len[1], 0x61, off[0], off[1], 0x60, 0, 0x39, 0x61, len[0], len[1], 0x60, 0, 0xf3]);
            asm.code.extend_from_slice(&runtime);
        }
    }
    asm.code
}

/// A well-formed (or, by `variant`, deliberately broken) input for precompile `id`.
pub fn precompile_input(id: u16, variant: u8, data: &[u8]) -> Vec<u8> {
    let byte = |i: usize| data.get(i).copied().unwrap_or(i as u8);
    let word = |i: usize| -> [u8; 32] { std::array::from_fn(|k| byte(i * 32 + k)) };
    let broken = variant % 8 == 7;
    match id {
        1 => {
            let (hash, v, r, s) = *vectors::ecrecover_vector();
            let mut out = Vec::with_capacity(128);
            out.extend_from_slice(if variant % 8 == 6 { &data[..data.len().min(32)] } else { hash.as_slice() });
            out.resize(32, 0);
            let mut v_word = [0u8; 32];
            v_word[31] = if broken { 29 } else { v };
            out.extend_from_slice(&v_word);
            out.extend_from_slice(r.as_slice());
            out.extend_from_slice(if variant % 8 == 5 { &[0xffu8; 32][..] } else { s.as_slice() });
            out
        }
        2..=4 => data.to_vec(),
        5 => {
            let lens = match variant % 8 {
                0 => [1, 1, 1],
                1 => [32, 32, 32],
                2 => [0, 0, 32],
                3 => [usize::from(byte(0) % 65), usize::from(byte(1) % 65), usize::from(byte(2) % 65)],
                4 => [16, 64, 16],
                5 => [32, 1, 1],
                6 => [1, 33, 1],
                _ => [0x1_0000, 32, 32],
            };
            let mut out = Vec::new();
            for len in lens {
                out.extend_from_slice(&U256::from(len).to_be_bytes::<32>());
            }
            let body = lens[0].min(256) + lens[1] + lens[2];
            out.extend((0..body).map(|i| byte(3 + i)));
            if variant % 8 == 5 {
                // Modulus 1 (every result is 0), with a zero exponent half of the time.
                let len = out.len();
                out[len - 1] = 1;
                if byte(0) % 2 == 0 {
                    out[len - 2] = 0;
                }
            }
            out
        }
        6 => [vectors::bn_g1(variant), vectors::bn_g1(byte(0))].concat(),
        7 => {
            let scalar = match byte(0) % 4 {
                0 => vectors::BN_N.to_be_bytes::<32>(),
                1 => BOUNDARIES[usize::from(byte(1)) % BOUNDARIES.len()].to_be_bytes::<32>(),
                _ => word(1),
            };
            [&vectors::bn_g1(variant)[..], &scalar[..]].concat()
        }
        8 => {
            let pairs = usize::from(variant % 4);
            let mut out = Vec::new();
            for k in 0..pairs {
                let g1 = if pairs == 2 { vectors::bn_g1(k as u8 + 1) } else { vectors::bn_g1(byte(k)) };
                let g2 = if pairs == 2 { vectors::bn_g2(1) } else { vectors::bn_g2(byte(k + 4)) };
                out.extend_from_slice(&g1);
                out.extend_from_slice(&g2);
            }
            if broken {
                out.pop();
            }
            out
        }
        9 => {
            let rounds: u32 = match variant % 4 {
                0 => 0,
                1 => 1,
                2 => 12,
                _ => u32::from(u16::from_be_bytes([byte(0), byte(1)]) % 2048),
            };
            let mut out = rounds.to_be_bytes().to_vec();
            out.extend((0..208).map(|i| byte(2 + i)));
            out.push(byte(210) % 3);
            if broken {
                out.pop();
            }
            out
        }
        0x0a => {
            let mut out = vectors::KZG_VALID.to_vec();
            if variant % 4 == 3 {
                let at = usize::from(byte(0)) % out.len();
                out[at] ^= 1 << (byte(1) % 8);
            }
            out
        }
        0x0b => [vectors::bls_g1(variant), vectors::bls_g1(byte(0))].concat(),
        0x0c => {
            let mut out = Vec::new();
            for k in 0..usize::from(variant % 3) + 1 {
                out.extend_from_slice(&vectors::bls_g1(byte(k) % 3));
                out.extend_from_slice(&word(k + 1));
            }
            out
        }
        0x0d => [vectors::bls_g2(variant), vectors::bls_g2(byte(0))].concat(),
        0x0e => {
            let mut out = Vec::new();
            for k in 0..usize::from(variant % 2) + 1 {
                out.extend_from_slice(&vectors::bls_g2(byte(k)));
                out.extend_from_slice(&word(k + 1));
            }
            out
        }
        0x0f => {
            let pairs = usize::from(variant % 3) + 1;
            let mut out = Vec::new();
            for k in 0..pairs {
                let (g1, g2) = if pairs == 2 {
                    (vectors::bls_g1(k as u8 + 1), vectors::bls_g2(1))
                } else {
                    (vectors::bls_g1(byte(k) % 3), vectors::bls_g2(byte(k + 3)))
                };
                out.extend_from_slice(&g1);
                out.extend_from_slice(&g2);
            }
            out
        }
        0x10 | 0x11 => {
            let elements = if id == 0x10 { 1 } else { 2 };
            let mut out = Vec::new();
            for k in 0..elements {
                let raw: [u8; 48] = std::array::from_fn(|i| byte(k * 48 + i));
                out.extend_from_slice(&vectors::bls_field_element(&raw, !broken));
            }
            out
        }
        0x100 => {
            let mut out = vectors::P256_VALID.to_vec();
            if variant % 4 == 3 {
                let at = usize::from(byte(0)) % out.len();
                out[at] ^= 1 << (byte(1) % 8);
            }
            out
        }
        _ => data.to_vec(),
    }
}

/// The forks in which a transaction type exists.
fn tx_kinds(fork: Fork) -> Vec<TxKind> {
    let mut kinds = vec![TxKind::Legacy];
    if fork >= Fork::Berlin {
        kinds.push(TxKind::AccessList);
    }
    if fork >= Fork::London {
        kinds.push(TxKind::Eip1559);
    }
    if fork >= Fork::Cancun {
        kinds.push(TxKind::Blob);
    }
    if fork >= Fork::Prague {
        kinds.push(TxKind::SetCode);
    }
    kinds
}

/// The fork a blueprint selects among `candidates` (sorted oldest first): the newest usually.
pub fn choose_fork(choice: u8, candidates: &[Fork]) -> Option<Fork> {
    let newest = *candidates.last()?;
    Some(if choice < 128 { newest } else { candidates[usize::from(choice) % candidates.len()] })
}

fn contract_code(ctx: &Ctx, contract: &Contract) -> Vec<u8> {
    let mut asm = Asm::new(ctx);
    for piece in &contract.program {
        asm.piece(piece);
    }
    asm.code
}

/// Builds the case a blueprint describes, under `fork`.
pub fn compile(blueprint: &Blueprint, fork: Fork) -> Case {
    let ctx = Ctx::new(fork, blueprint.contracts.len());
    let mut pre = Accounts::new();
    let sender_balance = U256::from(10u64).pow(U256::from(24));
    let sender_nonce = 1u64;
    pre.insert(vectors::SENDER, Account { balance: sender_balance, nonce: sender_nonce, ..Default::default() });
    for (i, contract) in blueprint.contracts.iter().enumerate() {
        let storage =
            contract.storage.iter().map(|(slot, value)| (U256::from(slot % 8), ctx.value(*value))).filter(|(_, v)| !v.is_zero()).collect();
        let balance = ctx.value(contract.balance) % U256::from(10u64).pow(U256::from(20));
        pre.insert(
            vectors::contract_address(i),
            Account { balance, code: Bytes::from(contract_code(&ctx, contract)), nonce: u64::from(contract.nonce % 4).max(1), storage },
        );
    }
    for (i, authority) in vectors::authorities().iter().enumerate() {
        let mut account = Account { balance: U256::from(10u64).pow(U256::from(18)), nonce: i as u64, ..Default::default() };
        if i == 2 && fork >= Fork::Prague {
            // An authority already delegating, to exercise re-delegation and clearing.
            let mut code = vec![0xef, 0x01, 0x00];
            code.extend_from_slice(vectors::contract_address(0).as_slice());
            account.code = Bytes::from(code);
        }
        pre.insert(*authority, account);
    }
    let env = environment(blueprint.env, fork);
    let tx = transaction(blueprint, &ctx, &pre, &env);
    Case {
        file: Arc::from("fuzz"),
        test: Arc::from("generated"),
        fork,
        index: Indexes::default(),
        env: Arc::new(env),
        pre: Arc::new(pre),
        tx,
        chain_id: CHAIN_ID,
        blob_params: default_blob_params(fork),
        expected: None,
        block_hashes: None,
    }
}

/// The transaction a later transaction of a sequence compiles to: the blueprint's own rules
/// (type, fees, access list, blobs, signed authorizations) applied to `tx`.
pub(crate) fn follow_transaction(blueprint: &Blueprint, tx: &super::program::Tx, fork: Fork, pre: &Accounts, env: &Env) -> Transaction {
    let ctx = Ctx::new(fork, blueprint.contracts.len());
    let mut b = Blueprint { tx: tx.clone(), follow: Vec::new(), ..blueprint.clone() };
    b.tx.create = 1;
    transaction(&b, &ctx, pre, env)
}

fn environment(choice: u8, fork: Fork) -> Env {
    Env {
        current_coinbase: vectors::COINBASE,
        current_difficulty: if fork >= Fork::Paris { U256::ZERO } else { U256::from(0x20000) },
        current_gas_limit: 36_000_000,
        current_number: 1 + u64::from(choice >> 4),
        current_timestamp: 1000,
        current_base_fee: (fork >= Fork::London).then(|| BASE_FEES[usize::from(choice % 4)]),
        current_random: (fork >= Fork::Paris).then(|| B256::with_last_byte(0x42)),
        current_excess_blob_gas: (fork >= Fork::Cancun).then_some(0),
        previous_hash: None,
        parent_beacon_block_root: None,
    }
}

fn transaction(blueprint: &Blueprint, ctx: &Ctx, pre: &Accounts, env: &Env) -> Transaction {
    let spec = &blueprint.tx;
    let kinds = tx_kinds(ctx.fork);
    let kind = kinds[usize::from(spec.kind) % kinds.len()];
    let create = spec.create.is_multiple_of(16) && matches!(kind, TxKind::Legacy | TxKind::AccessList | TxKind::Eip1559);
    let base_fee = U256::from(env.current_base_fee.unwrap_or(0));
    let tip = U256::from([0u64, 1, 2, 10][usize::from(spec.tip % 4)]);
    let (gas_price, max_fee, max_priority) = match kind {
        TxKind::Legacy | TxKind::AccessList => (Some(base_fee + tip + U256::from(1)), None, None),
        _ => (None, Some(base_fee * U256::from(2) + tip), Some(tip)),
    };
    let data = if create {
        let first = &blueprint.contracts[0];
        let leaves: Vec<Leaf> = first.program.iter().filter_map(|p| if let Piece::Leaf(l) = p { Some(l.clone()) } else { None }).collect();
        let runtime = blueprint
            .contracts
            .get(1)
            .map(|c| c.program.iter().filter_map(|p| if let Piece::Leaf(l) = p { Some(l.clone()) } else { None }).collect::<Vec<Leaf>>());
        Bytes::from(init_code(ctx, &leaves, &runtime.unwrap_or_default(), 0))
    } else {
        Bytes::from(spec.calldata.clone())
    };
    let access_list = spec
        .access
        .iter()
        .filter(|_| kind != TxKind::Legacy)
        .map(|(target, slots)| AccessListItem {
            address: ctx.address(*target).unwrap_or(vectors::contract_address(0)),
            storage_keys: slots.iter().map(|s| B256::with_last_byte(s % 8)).collect(),
        })
        .collect();
    let blob_versioned_hashes = if kind == TxKind::Blob {
        let n = usize::from(spec.blobs % 7).max(1);
        (0..n).map(|i| if i == 0 { vectors::KZG_VERSIONED_HASH } else { versioned_hash(i as u8) }).collect()
    } else {
        Vec::new()
    };
    let nonce = if spec.nonce.is_multiple_of(32) { 2 } else { 1 };
    let authorization_list = if kind == TxKind::SetCode {
        let auths: Vec<Auth> = if spec.auths.is_empty() {
            vec![Auth { authority: 0, target: Target::Contract(0), chain: 1, nonce: 0 }]
        } else {
            spec.auths.clone()
        };
        auths.iter().map(|a| authorization(ctx, pre, a, nonce)).collect()
    } else {
        Vec::new()
    };
    let value = ctx.value(spec.value);
    // Affordable values, except now and then a value at a boundary (beyond any balance).
    let value = if matches!(spec.value, Value::Near(_, 0)) { value } else { value % U256::from(10u64).pow(U256::from(21)) };
    Transaction {
        kind,
        nonce,
        gas_limit: GAS_LIMITS[usize::from(spec.gas % 8)],
        to: (!create).then(|| vectors::contract_address(0)),
        value: TxValue::Value(value),
        data,
        gas_price,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_priority,
        access_list,
        max_fee_per_blob_gas: (kind == TxKind::Blob).then(|| U256::from(10)),
        blob_versioned_hashes,
        authorization_list,
        secret_key: vectors::SENDER_KEY,
        sender: vectors::SENDER,
    }
}

fn versioned_hash(i: u8) -> B256 {
    let mut hash = keccak256([i]);
    hash.0[0] = 0x01;
    hash
}

#[derive(alloy_rlp::RlpEncodable)]
struct AuthTuple {
    chain_id: U256,
    address: Address,
    nonce: u64,
}

/// An authorization's signer, chain id, delegate and nonce.
type AuthKey = (usize, U256, Address, u64);

thread_local! {
    /// Signatures already made (parity, r, s): signing is the slowest part of compiling a case.
    static SIGNATURES: RefCell<HashMap<AuthKey, (u8, U256, U256)>> = RefCell::new(HashMap::new());
}

fn authorization(ctx: &Ctx, pre: &Accounts, auth: &Auth, tx_nonce: u64) -> Authorization {
    let (key, authority) = match auth.authority % 4 {
        3 => (vectors::SENDER_KEY, vectors::SENDER),
        i => (vectors::AUTHORITY_KEYS[usize::from(i)], vectors::authorities()[usize::from(i)]),
    };
    let chain_id = U256::from(match auth.chain % 4 {
        0 => 0,
        3 => 2,
        _ => CHAIN_ID,
    });
    let address = ctx.address(auth.target).unwrap_or(Address::ZERO);
    let current = pre.get(&authority).map_or(0, |a| a.nonce);
    // The sender's own authorization is checked after its nonce was bumped by the transaction.
    let right = if authority == vectors::SENDER { tx_nonce + 1 } else { current };
    let nonce = if auth.nonce % 4 == 3 { right + 1 } else { right };
    let index = usize::from(auth.authority % 4);
    let (parity, r, s) = SIGNATURES.with(|cache| {
        *cache.borrow_mut().entry((index, chain_id, address, nonce)).or_insert_with(|| sign_authorization(&key, chain_id, address, nonce))
    });
    Authorization {
        chain_id,
        address,
        nonce,
        // Both spellings, as execution-spec-tests writes them: geth's reader requires `v`.
        v: Some(U256::from(parity)),
        y_parity: Some(U256::from(parity)),
        r,
        s,
        signer: Some(authority),
    }
}

fn sign_authorization(key: &B256, chain_id: U256, address: Address, nonce: u64) -> (u8, U256, U256) {
    let mut message = vec![0x05];
    alloy_rlp::Encodable::encode(&AuthTuple { chain_id, address, nonce }, &mut message);
    let hash = keccak256(&message);
    match k256::ecdsa::SigningKey::from_slice(key.as_slice()).and_then(|k| k.sign_prehash_recoverable(hash.as_slice())) {
        Ok((signature, recovery)) => {
            let bytes = signature.to_bytes();
            (recovery.to_byte(), U256::from_be_slice(&bytes[..32]), U256::from_be_slice(&bytes[32..]))
        }
        Err(_) => (0, U256::ZERO, U256::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_minimal_and_push0_appears_from_shanghai() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.push(U256::ZERO).push(U256::from(0x1234)).push(U256::MAX);
        assert_eq!(&asm.code[..4], &[0x5f, 0x61, 0x12, 0x34]);
        assert_eq!(asm.code[4], 0x7f);
        let ctx = Ctx::new(Fork::London, 1);
        let mut asm = Asm::new(&ctx);
        asm.push(U256::ZERO);
        assert_eq!(asm.code, vec![0x60, 0]);
    }

    #[test]
    fn an_unfinished_raw_push_is_completed() {
        let ctx = Ctx::new(Fork::Cancun, 1);
        let mut asm = Asm::new(&ctx);
        asm.leaf(&Leaf::Raw(vec![0x01, 0x62, 0xaa]));
        assert_eq!(asm.code, vec![0x01, 0x62, 0xaa, 0, 0]);
    }

    #[test]
    fn precompiles_follow_the_forks() {
        assert_eq!(precompiles(Fork::Frontier), vec![1, 2, 3, 4]);
        assert_eq!(precompiles(Fork::Cancun).len(), 10);
        assert_eq!(precompiles(Fork::Prague).len(), 17);
        assert_eq!(precompiles(Fork::Osaka).last(), Some(&0x100));
    }

    #[test]
    fn set_code_authorizations_recover_to_their_authority() {
        let mut blueprint = Blueprint::default();
        blueprint.tx.kind = 4;
        blueprint.tx.auths = vec![Auth { authority: 1, target: Target::Contract(0), chain: 1, nonce: 0 }];
        let case = compile(&blueprint, Fork::Prague);
        assert_eq!(case.tx.kind, TxKind::SetCode);
        let auth = &case.tx.authorization_list[0];
        let mut message = vec![0x05];
        alloy_rlp::Encodable::encode(&AuthTuple { chain_id: auth.chain_id, address: auth.address, nonce: auth.nonce }, &mut message);
        let signature = alloy_primitives::Signature::new(auth.r, auth.s, auth.y_parity == Some(U256::from(1)));
        let recovered = signature.recover_address_from_prehash(&keccak256(&message)).expect("recovers");
        assert_eq!(recovered, vectors::authorities()[1]);
        assert_eq!(auth.nonce, 1);
    }

    /// Feeds everything compilation decides into a hasher: fields in a fixed order, each
    /// length-prefixed where it varies, so that two different cases never feed the same bytes.
    mod digest {
        use alloy_primitives::{Address, B256, Keccak256, U256};
        use schism_interface::fixture::{Accounts, Env};
        use schism_interface::{Transaction, TxValue};

        pub fn bytes(h: &mut Keccak256, b: &[u8]) {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }

        pub fn word(h: &mut Keccak256, v: U256) {
            h.update(v.to_be_bytes::<32>());
        }

        pub fn number(h: &mut Keccak256, v: u64) {
            h.update(v.to_be_bytes());
        }

        fn option<T: Copy>(h: &mut Keccak256, v: Option<T>, f: fn(&mut Keccak256, T)) {
            match v {
                None => h.update([0]),
                Some(v) => {
                    h.update([1]);
                    f(h, v);
                }
            }
        }

        fn address(h: &mut Keccak256, a: Address) {
            h.update(a);
        }

        fn hash(h: &mut Keccak256, b: B256) {
            h.update(b);
        }

        pub fn accounts(h: &mut Keccak256, pre: &Accounts) {
            number(h, pre.len() as u64);
            for (a, account) in pre {
                address(h, *a);
                word(h, account.balance);
                number(h, account.nonce);
                bytes(h, &account.code);
                number(h, account.storage.len() as u64);
                for (slot, value) in &account.storage {
                    word(h, *slot);
                    word(h, *value);
                }
            }
        }

        pub fn env(h: &mut Keccak256, env: &Env) {
            address(h, env.current_coinbase);
            word(h, env.current_difficulty);
            number(h, env.current_gas_limit);
            number(h, env.current_number);
            number(h, env.current_timestamp);
            option(h, env.current_base_fee, number);
            option(h, env.current_random, hash);
            option(h, env.current_excess_blob_gas, number);
            option(h, env.previous_hash, hash);
            option(h, env.parent_beacon_block_root, hash);
        }

        pub fn transaction(h: &mut Keccak256, tx: &Transaction) {
            h.update([tx.kind as u8]);
            number(h, tx.nonce);
            number(h, tx.gas_limit);
            option(h, tx.to, address);
            match &tx.value {
                TxValue::Value(v) => {
                    h.update([0]);
                    word(h, *v);
                }
                TxValue::Oversized(b) => {
                    h.update([1]);
                    bytes(h, b);
                }
            }
            bytes(h, &tx.data);
            option(h, tx.gas_price, word);
            option(h, tx.max_fee_per_gas, word);
            option(h, tx.max_priority_fee_per_gas, word);
            number(h, tx.access_list.len() as u64);
            for item in &tx.access_list {
                address(h, item.address);
                number(h, item.storage_keys.len() as u64);
                for key in &item.storage_keys {
                    hash(h, *key);
                }
            }
            option(h, tx.max_fee_per_blob_gas, word);
            number(h, tx.blob_versioned_hashes.len() as u64);
            for v in &tx.blob_versioned_hashes {
                hash(h, *v);
            }
            number(h, tx.authorization_list.len() as u64);
            for a in &tx.authorization_list {
                word(h, a.chain_id);
                address(h, a.address);
                number(h, a.nonce);
                option(h, a.v, word);
                option(h, a.y_parity, word);
                word(h, a.r);
                word(h, a.s);
                option(h, a.signer, address);
            }
            hash(h, tx.secret_key);
            address(h, tx.sender);
        }
    }

    /// Compiling is deterministic and stays byte-identical through refactors: a few thousand
    /// pseudo-random blueprints, each compiled under every fork (and, with later transactions,
    /// as a block sequence under the fork it selects), hash to a digest recorded once. A change
    /// that alters generated cases on purpose records the new digest here and says so.
    #[test]
    fn compiled_cases_match_the_recorded_digest() {
        use crate::fuzz::sequence::compile_sequence;
        // xorshift64: the same stream on every platform, with no dependency to drift.
        let mut state = 0x5c15_a0f1_2345_6789u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut h = alloy_primitives::Keccak256::new();
        let (mut cases, mut sequences) = (0u64, 0u64);
        for _ in 0..2000 {
            let len = 32 + (next() % 2048) as usize;
            let data: Vec<u8> = (0..len.div_ceil(8)).flat_map(|_| next().to_le_bytes()).take(len).collect();
            let blueprint = Blueprint::from_bytes(&data);
            for fork in Fork::ALL {
                let case = compile(&blueprint, fork);
                digest::number(&mut h, case.chain_id);
                digest::env(&mut h, &case.env);
                digest::accounts(&mut h, &case.pre);
                digest::transaction(&mut h, &case.tx);
                cases += 1;
            }
            if !blueprint.follow.is_empty() {
                let fork = choose_fork(blueprint.fork, &Fork::ALL).unwrap_or(Fork::Osaka);
                let seq = compile_sequence(&blueprint, fork);
                digest::accounts(&mut h, &seq.pre);
                for stx in seq.blocks.iter().flat_map(|b| &b.txs) {
                    digest::transaction(&mut h, &stx.tx);
                    digest::bytes(&mut h, stx.raw.as_ref().map_or(&[][..], |r| &r[..]));
                }
                sequences += 1;
            }
        }
        let digest = h.finalize();
        println!("{cases} cases, {sequences} sequences: {digest}");
        assert!(sequences > 100, "too few sequences ({sequences}) to cover later transactions");
        assert_eq!(digest, alloy_primitives::b256!("0x56bb136fad905c458c52e671c3426d81385514e2c8b0918f5c72ec69fcf9d3a1"));
    }

    /// Every precompile strategy's well-formed form is accepted by revm (so the constants, the
    /// curve points and signature vectors, are right).
    #[cfg(feature = "revm")]
    #[test]
    fn well_formed_precompile_inputs_succeed_on_revm() {
        use crate::fuzz::program::{CallKind, Contract};
        use schism_interface::{Client, TraceMode};
        let fork = Fork::Osaka;
        let all = precompiles(fork);
        let mut failures = Vec::new();
        for id in &all {
            let i = all.iter().position(|p| p == id).unwrap_or(0) as u8 * 8;
            // Variants known to be valid: 0 everywhere except the pairing checks, whose valid
            // form is two pairs.
            let variant = match id {
                8 => 2,
                0x0f => 1,
                _ => 0,
            };
            let call = Leaf::Call {
                kind: CallKind::StaticCall,
                target: Target::Precompile(i),
                gas: Gas::All,
                value: Value::Small(0),
                input: Input::Shaped { variant, data: (0..160u8).collect() },
            };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 7;
            blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program: vec![Piece::Leaf(call)] }];
            let case = compile(&blueprint, fork);
            let outcome = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
            let post = outcome.post_state.expect("post-state");
            let success = post[&vectors::contract_address(0)].storage.get(&U256::from(RESULT_SLOT)).copied();
            if success != Some(U256::from(1)) {
                failures.push(format!("{id:#x}"));
            }
        }
        assert!(failures.is_empty(), "precompiles rejecting their well-formed input: {failures:?}");
    }

    /// The modulus-1 form of MODEXP's input asks for `b^0 mod 1` half of the time.
    #[test]
    fn the_modexp_modulus_one_form_is_zero_power_mod_one() {
        let even = precompile_input(5, 5, &[0u8; 64]);
        assert_eq!(&even[..96], &[[0u8; 31].as_slice(), &[32], &[0u8; 31], &[1], &[0u8; 31], &[1]].concat()[..]);
        assert_eq!(even.len(), 96 + 34);
        assert_eq!(even[96 + 32], 0, "zero exponent");
        assert_eq!(even[96 + 33], 1, "modulus 1");
    }

    /// The generated modulus-one MODEXP input shows the `precompile-output` canary.
    #[cfg(feature = "revm")]
    #[test]
    fn the_modexp_modulus_one_form_shows_the_precompile_output_canary() {
        use crate::fuzz::program::{CallKind, Contract};
        use schism_interface::{Client, TraceMode};
        for fork in [Fork::Cancun, Fork::Osaka] {
            let i = precompiles(fork).iter().position(|p| *p == 5).unwrap_or(0) as u8 * 8;
            let input = Input::Shaped { variant: 5, data: vec![0u8; 64] };
            let call =
                Leaf::Call { kind: CallKind::StaticCall, target: Target::Precompile(i), gas: Gas::All, value: Value::Small(0), input };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 3;
            blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program: vec![Piece::Leaf(call)] }];
            let case = compile(&blueprint, fork);
            let a = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
            let b = schism_revm::MutantRevm::new(schism_revm::Mutant::PrecompileOutput).execute(&case, TraceMode::Off).expect("executes");
            assert_ne!(a.state_root, b.state_root, "{fork}");
        }
    }
}
