//! EVM-level coverage: features recorded from execution, the same for every client that can
//! report its steps (natively or through an EIP-3155 trace). Each feature is hashed into a map
//! of hit counts, the shape both LibAFL's map feedback and libFuzzer's extra counters read.
//!
//! Features, one [`FeatureKind`] each: opcode x depth; opcode x operand classes (zero, one,
//! small, word-sized, high bit set, all ones...) for the instructions whose operands matter;
//! opcode x how its frame ended when it was the last instruction of a halted frame; call and
//! create instructions x target kind x success; precompile x success; SSTORE gas cost x refund
//! change (the storage slot transitions of EIP-2200/3529); per case, status and error class of
//! every client, a gas-used bucket, the number of logs and the storage transitions between pre
//! and post-state; and, for block sequences, each block's result, rejections and receipts.

use alloy_primitives::U256;
use schism_interface::{Accounts, Outcome, StepObserver, StepView};

/// The number of entries in the feature map.
pub const MAP_SIZE: usize = 1 << 16;

/// The kinds of feature a [`Recorder`] counts. A kind's number is hashed with the feature's
/// value into a map index, and each doc line says what the value packs.
///
/// Adding a kind: one variant here with a number no other kind has, its doc line, and a
/// [`Recorder::hit`] where the feature is observed. Never renumber a kind: its number decides
/// which map entries it hits, and a renumbered kind makes saved corpora's coverage meaningless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum FeatureKind {
    /// An instruction at a call depth: `opcode << 8 | depth` (depth capped at 8).
    OpcodeDepth = 1,
    /// An operand-sensitive instruction with its top operands' classes: `opcode << 16 | a << 8 | b << 4 | c`.
    Operands = 2,
    /// A call or creation returned: `opcode << 24 | precompile << 4 | success << 1 | nested`.
    CallResult = 3,
    /// A precompile call returned: `precompile << 1 | success`.
    PrecompileResult = 4,
    /// The last instruction of a frame that halted exceptionally: its opcode.
    ExceptionalHalt = 5,
    /// An SSTORE's gas cost and refund change (the EIP-2200/3529 transitions): `cost << 32 | refund delta`.
    SstoreCost = 6,
    /// An instruction entered a new frame: `opcode << 8 | new depth`.
    FrameEntry = 7,
    /// How the execution ended: `last opcode << 8 | the first client's error code`.
    LastInstruction = 10,
    /// Instructions executed: their log2.
    Steps = 11,
    /// A client's status and error class: `client index << 16 | status << 8 | error`.
    ClientStatus = 12,
    /// Gas used: its log2.
    GasUsed = 13,
    /// Logs emitted, up to 16.
    Logs = 14,
    /// Accounts in the post-state, up to 32.
    PostAccounts = 15,
    /// An account the execution created: whether it has code.
    NewAccount = 16,
    /// A storage slot's change between pre- and post-state: `was zero << 2 | is zero << 1 | unchanged`.
    StorageTransition = 17,
    /// An account of the pre-state absent from the post-state: its address's last byte.
    DeletedAccount = 18,
    /// A block of a sequence: `block index << 8 | rejected`.
    Block = 0x5e0,
    /// A transaction a block of a sequence rejected: its rejection kind.
    RejectedTx = 0x5e1,
    /// A receipt of a sequence's block: `transaction index << 8 | error` (0 on success, else
    /// the error name's length plus 1).
    Receipt = 0x5e2,
}

/// The class of an operand: which boundary region it is in.
///
/// Read as four scalar limbs: the client has just written the word limb by limb, and vector
/// compares of it (as `U256`'s `==` and `is_zero` compile to) stall on store forwarding at
/// nearly every instruction a case runs.
fn class(v: &U256) -> u64 {
    let [l0, l1, l2, l3] = *v.as_limbs();
    if l1 | l2 | l3 == 0 {
        match l0 {
            0 => 0,
            1 => 1,
            2..32 => 4,
            32..=256 => 5,
            _ => 6,
        }
    } else if l3 >> 63 == 1 {
        if l0 & l1 & l2 & l3 == u64::MAX { 2 } else { 3 }
    } else if l2 | l3 == 0 {
        7
    } else {
        8
    }
}

/// True for instructions whose operand values decide their behaviour.
fn operand_sensitive(op: u8) -> bool {
    matches!(op, 0x01..=0x0b | 0x10..=0x1e | 0x20 | 0x37 | 0x39 | 0x3c | 0x3e | 0x51..=0x53 | 0x56 | 0x57 | 0x5e | 0xa0..=0xa4 | 0xf0..=0xf5 | 0xfa | 0xfd)
}

fn is_call(op: u8) -> bool {
    matches!(op, 0xf1 | 0xf2 | 0xf4 | 0xfa)
}

fn is_create(op: u8) -> bool {
    matches!(op, 0xf0 | 0xf5)
}

fn ends_frame_normally(op: u8) -> bool {
    matches!(op, 0x00 | 0xf3 | 0xfd | 0xff)
}

/// The step before the current one, kept to judge how it turned out.
#[derive(Clone, Copy, Debug)]
struct Prev {
    op: u8,
    depth: u32,
    gas: u64,
    refund: u64,
    /// For calls: the target's precompile number, or 0 for a non-precompile.
    precompile: u16,
}

/// Records features of one execution into a hit-count map.
pub struct Recorder<'m> {
    map: &'m mut [u8],
    prev: Option<Prev>,
    /// Calls and creations whose callee frame is running, innermost last.
    pending: Vec<Prev>,
    /// Instructions executed.
    pub steps: u64,
    /// Opcodes seen (for statistics across a run).
    pub opcodes: [bool; 256],
    /// Precompiles called, by number (for statistics across a run).
    pub precompiles: Vec<u16>,
}

impl<'m> Recorder<'m> {
    /// A recorder writing into `map` (of any non-zero length; [`MAP_SIZE`] in the farm).
    pub fn new(map: &'m mut [u8]) -> Recorder<'m> {
        Recorder { map, prev: None, pending: Vec::new(), steps: 0, opcodes: [false; 256], precompiles: Vec::new() }
    }

    /// Counts one feature.
    pub fn hit(&mut self, kind: FeatureKind, value: u64) {
        // splitmix64 of the pair: features of different kinds spread over the whole map.
        let mut z = (kind as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ value;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let len = self.map.len();
        if len > 0 {
            let i = (z as usize) % len;
            self.map[i] = self.map[i].saturating_add(1);
        }
    }

    /// Features of a finished execution: how the last frame ended, and the outcome of every
    /// client (`outcomes`), with the pre-state to judge storage transitions against.
    pub fn finish(&mut self, pre: &Accounts, outcomes: &[&Outcome]) {
        if let Some(prev) = self.prev.take() {
            let end = outcomes.first().and_then(|o| o.error).map_or(0, |e| error_code(&e));
            self.hit(FeatureKind::LastInstruction, u64::from(prev.op) << 8 | end);
        }
        self.hit(FeatureKind::Steps, self.steps.max(1).ilog2().into());
        for (i, outcome) in outcomes.iter().enumerate() {
            let status = outcome.status().map_or(99, |s| s as u64);
            let error = outcome.error.map_or(0, |e| error_code(&e) & 0xff);
            self.hit(FeatureKind::ClientStatus, (i as u64) << 16 | status << 8 | error);
        }
        let Some(outcome) = outcomes.first() else { return };
        if let Some(gas) = outcome.gas_used {
            self.hit(FeatureKind::GasUsed, gas.max(1).ilog2().into());
        }
        self.hit(FeatureKind::Logs, outcome.logs.len().min(16) as u64);
        if let Some(post) = &outcome.post_state {
            self.hit(FeatureKind::PostAccounts, post.len().min(32) as u64);
            for (address, account) in post {
                let before = pre.get(address);
                if before.is_none() {
                    self.hit(FeatureKind::NewAccount, account.code.len().min(1) as u64);
                }
                for (slot, value) in &account.storage {
                    let old = before.and_then(|a| a.storage.get(slot)).copied().unwrap_or_default();
                    let transition = u64::from(old.is_zero()) << 2 | u64::from(value.is_zero()) << 1 | u64::from(old == *value);
                    self.hit(FeatureKind::StorageTransition, transition);
                }
            }
            for address in pre.keys().filter(|a| !post.contains_key(*a)) {
                self.hit(FeatureKind::DeletedAccount, u64::from(address.0[19]));
            }
        }
    }

    fn precompile_of(target: &U256) -> u16 {
        let id = target.as_limbs()[0];
        let small = target.as_limbs()[1..].iter().all(|l| *l == 0);
        match (small, id) {
            (true, 1..=0x11) | (true, 0x100) => id as u16,
            _ => 0,
        }
    }
}

impl StepObserver for Recorder<'_> {
    fn step(&mut self, step: StepView<'_>) {
        self.steps += 1;
        let op = step.op;
        self.opcodes[usize::from(op)] = true;
        let depth = u64::from(step.depth.min(8));
        self.hit(FeatureKind::OpcodeDepth, u64::from(op) << 8 | depth);
        let stack = step.stack;
        let top = |i: usize| stack.len().checked_sub(i + 1).map(|k| &stack[k]);
        if operand_sensitive(op) {
            let a = top(0).map_or(15, class);
            let b = top(1).map_or(15, class);
            let c = if matches!(op, 0x08 | 0x09) { top(2).map_or(15, class) } else { 0 };
            self.hit(FeatureKind::Operands, u64::from(op) << 16 | a << 8 | b << 4 | c);
        }
        if let Some(prev) = self.prev {
            // The result of a call or creation: on the next step at its depth, on top.
            let returned = if step.depth == prev.depth && (is_call(prev.op) || is_create(prev.op)) {
                Some(prev)
            } else if step.depth < prev.depth {
                if !ends_frame_normally(prev.op) {
                    // The frame halted exceptionally at its last instruction.
                    self.hit(FeatureKind::ExceptionalHalt, u64::from(prev.op));
                }
                self.pending.pop()
            } else {
                None
            };
            if let Some(call) = returned {
                let success = top(0).is_some_and(|v| !v.is_zero());
                self.hit(
                    FeatureKind::CallResult,
                    u64::from(call.op) << 24 | u64::from(call.precompile) << 4 | u64::from(success) << 1 | u64::from(step.depth > 1),
                );
                if call.precompile != 0 {
                    self.hit(FeatureKind::PrecompileResult, u64::from(call.precompile) << 1 | u64::from(success));
                    if success && !self.precompiles.contains(&call.precompile) {
                        self.precompiles.push(call.precompile);
                    }
                }
            }
            if prev.op == 0x55 && step.depth == prev.depth {
                let cost = prev.gas.saturating_sub(step.gas);
                let refund = step.refund as i64 - prev.refund as i64;
                self.hit(FeatureKind::SstoreCost, cost << 32 | (refund as u64 & 0xffff_ffff));
            }
            if step.depth > prev.depth {
                self.hit(FeatureKind::FrameEntry, u64::from(prev.op) << 8 | depth);
                self.pending.push(prev);
            }
        }
        let precompile = if is_call(op) { top(1).map_or(0, Self::precompile_of) } else { 0 };
        self.prev = Some(Prev { op, depth: step.depth, gas: step.gas, refund: step.refund, precompile });
    }
}

/// A number for an error class (a hash: classes carry rejection kinds).
fn error_code(e: &schism_interface::ErrorClass) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    e.hash(&mut h);
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of non-zero entries of a map.
    fn count(map: &[u8]) -> usize {
        map.iter().filter(|v| **v != 0).count()
    }

    fn step(op: u8, depth: u32, stack: &[U256]) -> StepView<'_> {
        StepView { pc: 0, op, depth, gas: 1000, refund: 0, stack }
    }

    /// Each kind hits the map index it always hit, so that saved corpora keep their coverage.
    #[test]
    fn feature_kinds_keep_their_map_indexes() {
        let expected: [(FeatureKind, usize); 19] = [
            (FeatureKind::OpcodeDepth, 52655),
            (FeatureKind::Operands, 26100),
            (FeatureKind::CallResult, 17743),
            (FeatureKind::PrecompileResult, 33260),
            (FeatureKind::ExceptionalHalt, 29851),
            (FeatureKind::SstoreCost, 41706),
            (FeatureKind::FrameEntry, 13025),
            (FeatureKind::LastInstruction, 45222),
            (FeatureKind::Steps, 15625),
            (FeatureKind::ClientStatus, 57078),
            (FeatureKind::GasUsed, 56187),
            (FeatureKind::Logs, 43311),
            (FeatureKind::PostAccounts, 19737),
            (FeatureKind::NewAccount, 32939),
            (FeatureKind::StorageTransition, 4693),
            (FeatureKind::DeletedAccount, 32646),
            (FeatureKind::Block, 17646),
            (FeatureKind::RejectedTx, 2472),
            (FeatureKind::Receipt, 36281),
        ];
        for (kind, index) in expected {
            let mut map = vec![0u8; MAP_SIZE];
            Recorder::new(&mut map).hit(kind, 0);
            assert_eq!(map.iter().position(|v| *v != 0), Some(index), "{kind:?}");
        }
    }

    #[test]
    fn operands_fall_in_their_boundary_regions() {
        let cases = [
            (U256::ZERO, 0),
            (U256::from(1), 1),
            (U256::MAX, 2),
            (U256::from(1) << 255, 3),
            (U256::MAX - U256::from(1), 3),
            (U256::from(2), 4),
            (U256::from(31), 4),
            (U256::from(32), 5),
            (U256::from(256), 5),
            (U256::from(257), 6),
            (U256::from(u64::MAX), 6),
            (U256::from(1) << 64, 7),
            (U256::from(1) << 127, 7),
            (U256::from(1) << 128, 8),
            (U256::from(1) << 254, 8),
        ];
        for (v, expected) in cases {
            assert_eq!(class(&v), expected, "{v:#x}");
        }
    }

    #[test]
    fn operand_classes_make_distinct_features() {
        let mut a = vec![0u8; MAP_SIZE];
        let mut b = vec![0u8; MAP_SIZE];
        Recorder::new(&mut a).step(step(0x1d, 1, &[U256::MAX, U256::from(300)]));
        Recorder::new(&mut b).step(step(0x1d, 1, &[U256::from(1), U256::from(3)]));
        assert_ne!(a, b);
        assert_eq!(count(&a), 2);
    }

    #[test]
    fn a_successful_precompile_call_is_recorded() {
        let mut map = vec![0u8; MAP_SIZE];
        let mut r = Recorder::new(&mut map);
        // STATICCALL(gas, 0x02, ...): the target is second from the top.
        r.step(step(0xfa, 1, &[U256::ZERO, U256::ZERO, U256::ZERO, U256::ZERO, U256::from(2), U256::from(5000)]));
        r.step(step(0x60, 1, &[U256::from(1)]));
        assert_eq!(r.precompiles, vec![2]);
    }
}
