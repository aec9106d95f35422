//! EVM-level coverage: features recorded from execution, the same for every client that can
//! report its steps (natively or through an EIP-3155 trace). Each feature is hashed into a map
//! of hit counts, the shape both LibAFL's map feedback and libFuzzer's extra counters read.
//!
//! Features: opcode x depth; opcode x operand classes (zero, one, small, word-sized, high bit
//! set, all ones...) for the instructions whose operands matter; opcode x how its frame ended
//! when it was the last instruction of a halted frame; call and create instructions x target
//! kind x success; precompile x success; SSTORE gas cost x refund change (the storage slot
//! transitions of EIP-2200/3529); and, per case, status and error class of every client, a
//! gas-used bucket, the number of logs and the storage transitions between pre and post-state.

use alloy_primitives::U256;
use schism_interface::{Accounts, Outcome, StepObserver, StepView};

/// The number of entries in the feature map.
pub const MAP_SIZE: usize = 1 << 16;

/// The class of an operand: which boundary region it is in.
fn class(v: &U256) -> u64 {
    let limbs = v.as_limbs();
    if v.is_zero() {
        0
    } else if *v == U256::from(1) {
        1
    } else if *v == U256::MAX {
        2
    } else if limbs[3] >> 63 == 1 {
        3
    } else if limbs[1] == 0 && limbs[2] == 0 && limbs[3] == 0 {
        if limbs[0] < 32 {
            4
        } else if limbs[0] <= 256 {
            5
        } else {
            6
        }
    } else if limbs[3] == 0 && limbs[2] == 0 {
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
    pub fn hit(&mut self, kind: u64, value: u64) {
        // splitmix64 of the pair: features of different kinds spread over the whole map.
        let mut z = kind.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ value;
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
            self.hit(10, u64::from(prev.op) << 8 | end);
        }
        self.hit(11, self.steps.max(1).ilog2().into());
        for (i, outcome) in outcomes.iter().enumerate() {
            let status = outcome.status().map_or(99, |s| s as u64);
            let error = outcome.error.map_or(0, |e| error_code(&e) & 0xff);
            self.hit(12, (i as u64) << 16 | status << 8 | error);
        }
        let Some(outcome) = outcomes.first() else { return };
        if let Some(gas) = outcome.gas_used {
            self.hit(13, gas.max(1).ilog2().into());
        }
        self.hit(14, outcome.logs.len().min(16) as u64);
        if let Some(post) = &outcome.post_state {
            self.hit(15, post.len().min(32) as u64);
            for (address, account) in post {
                let before = pre.get(address);
                if before.is_none() {
                    self.hit(16, account.code.len().min(1) as u64);
                }
                for (slot, value) in &account.storage {
                    let old = before.and_then(|a| a.storage.get(slot)).copied().unwrap_or_default();
                    let transition = u64::from(old.is_zero()) << 2 | u64::from(value.is_zero()) << 1 | u64::from(old == *value);
                    self.hit(17, transition);
                }
            }
            for address in pre.keys().filter(|a| !post.contains_key(*a)) {
                self.hit(18, u64::from(address.0[19]));
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
        self.hit(1, u64::from(op) << 8 | depth);
        let stack = step.stack;
        let top = |i: usize| stack.len().checked_sub(i + 1).map(|k| &stack[k]);
        if operand_sensitive(op) {
            let a = top(0).map_or(15, class);
            let b = top(1).map_or(15, class);
            let c = if matches!(op, 0x08 | 0x09) { top(2).map_or(15, class) } else { 0 };
            self.hit(2, u64::from(op) << 16 | a << 8 | b << 4 | c);
        }
        if let Some(prev) = self.prev {
            // The result of a call or creation: on the next step at its depth, on top.
            let returned = if step.depth == prev.depth && (is_call(prev.op) || is_create(prev.op)) {
                Some(prev)
            } else if step.depth < prev.depth {
                if !ends_frame_normally(prev.op) {
                    // The frame halted exceptionally at its last instruction.
                    self.hit(5, u64::from(prev.op));
                }
                self.pending.pop()
            } else {
                None
            };
            if let Some(call) = returned {
                let success = top(0).is_some_and(|v| !v.is_zero());
                self.hit(
                    3,
                    u64::from(call.op) << 24 | u64::from(call.precompile) << 4 | u64::from(success) << 1 | u64::from(step.depth > 1),
                );
                if call.precompile != 0 {
                    self.hit(4, u64::from(call.precompile) << 1 | u64::from(success));
                    if success && !self.precompiles.contains(&call.precompile) {
                        self.precompiles.push(call.precompile);
                    }
                }
            }
            if prev.op == 0x55 && step.depth == prev.depth {
                let cost = prev.gas.saturating_sub(step.gas);
                let refund = step.refund as i64 - prev.refund as i64;
                self.hit(6, cost << 32 | (refund as u64 & 0xffff_ffff));
            }
            if step.depth > prev.depth {
                self.hit(7, u64::from(prev.op) << 8 | depth);
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
