//! Step observation: how a client reports each executed instruction to the fuzzer's coverage
//! feedback without building a full trace.

use crate::trace::TraceStep;
use alloy_primitives::U256;

/// One instruction about to execute, as every client can describe it.
#[derive(Clone, Copy, Debug)]
pub struct StepView<'a> {
    /// Program counter.
    pub pc: u64,
    /// Opcode byte.
    pub op: u8,
    /// Call depth, 1 at the top level.
    pub depth: u32,
    /// Gas left before the instruction.
    pub gas: u64,
    /// Refund counter.
    pub refund: u64,
    /// The stack, bottom first (the top is the last item).
    pub stack: &'a [U256],
}

/// Receives every executed instruction of a case, in order.
pub trait StepObserver {
    /// One instruction about to execute.
    fn step(&mut self, step: StepView<'_>);
}

impl<'a> From<&'a TraceStep> for StepView<'a> {
    fn from(s: &'a TraceStep) -> StepView<'a> {
        StepView { pc: s.pc, op: s.op, depth: s.depth, gas: s.gas, refund: s.refund, stack: &s.stack }
    }
}

/// Feeds a recorded trace to an observer, step by step.
pub fn replay(trace: &[TraceStep], observer: &mut dyn StepObserver) {
    for step in trace {
        observer.step(step.into());
    }
}
