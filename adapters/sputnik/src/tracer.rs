//! Step traces: an etable placed in front of the gasometer that records one EIP-3155 step per
//! instruction, before the instruction is charged or run.

use evm::interpreter::Control;
use evm::interpreter::etable::Etable;
use evm::interpreter::trap::CallCreateTrap;
use evm::standard::{Machine, State};
use evm::uint::U256 as EvmU256;
use schism_interface::TraceStep;
use std::cell::{Cell, RefCell};

/// The steps recorded so far and the current call depth (1 at the top level), which the
/// invoker keeps up to date as frames are entered and left.
#[derive(Debug)]
pub(crate) struct TraceLog {
    /// Steps in execution order.
    pub steps: RefCell<Vec<TraceStep>>,
    /// Depth of the frame now running.
    pub depth: Cell<u32>,
}

impl TraceLog {
    /// An empty log at the top level.
    pub fn new() -> Self {
        TraceLog { steps: RefCell::new(Vec::new()), depth: Cell::new(1) }
    }
}

/// Records a step and lets the next etable in the chain run the instruction.
///
/// The crate keeps the refund counter private to its gasometer, so `refund` is always 0, and
/// the cost of a step is not known before it runs, so `gas_cost` is 0 (the revm adapter measures it after the step; this etable chain has no such hook).
pub(crate) struct StepTracer<'a> {
    /// Where the steps go.
    pub log: &'a TraceLog,
}

impl<H> Etable<H> for StepTracer<'_> {
    type State = State<'static>;
    type Trap = CallCreateTrap;

    fn eval(&self, machine: &mut Machine<'static>, _handle: &mut H, position: usize) -> Control<CallCreateTrap> {
        let mem_size = machine.memory.effective_len();
        let step = TraceStep {
            pc: position as u64,
            op: machine.code().get(position).copied().unwrap_or_default(),
            gas: machine.state.gasometer.gas64(),
            gas_cost: 0,
            mem_size: if mem_size > EvmU256::from(u64::MAX) { u64::MAX } else { mem_size.low_u64() },
            stack: machine.stack.data().iter().map(crate::output::u256).collect(),
            depth: self.log.depth.get(),
            refund: 0,
            return_data: None,
        };
        self.log.steps.borrow_mut().push(step);
        Control::NoAction
    }
}
