//! Step tracing: an inspector that records one EIP-3155 step per executed instruction.

use revm::context::ContextTr;
use revm::context_interface::JournalTr;
use revm::inspector::Inspector;
use revm::interpreter::Interpreter;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::{Jumps, MemoryTr};
use schism_interface::TraceStep;

/// Records every step; the gas cost of a step is known only after it ran.
#[derive(Debug, Default)]
pub(crate) struct StepTracer {
    /// The steps so far.
    pub(crate) steps: Vec<TraceStep>,
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for StepTracer {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        self.steps.push(TraceStep {
            pc: interp.bytecode.pc() as u64,
            op: interp.bytecode.opcode(),
            gas: interp.gas.remaining(),
            gas_cost: 0,
            mem_size: interp.memory.size() as u64,
            stack: interp.stack.data().clone(),
            depth: context.journal_mut().depth() as u32,
            refund: interp.gas.refunded().max(0) as u64,
            return_data: None,
        });
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if let Some(last) = self.steps.last_mut() {
            last.gas_cost = last.gas.saturating_sub(interp.gas.remaining());
        }
    }
}

/// Hands every step to a schism observer, without copying the stack.
pub(crate) struct Observing<'a> {
    /// Where the steps go.
    pub(crate) observer: &'a mut dyn schism_interface::StepObserver,
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Observing<'_> {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        self.observer.step(schism_interface::StepView {
            pc: interp.bytecode.pc() as u64,
            op: interp.bytecode.opcode(),
            depth: context.journal_mut().depth() as u32,
            gas: interp.gas.remaining(),
            refund: interp.gas.refunded().max(0) as u64,
            stack: interp.stack.data(),
        });
    }
}
