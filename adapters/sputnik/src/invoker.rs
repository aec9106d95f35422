//! The crate's standard invoker and etable as the adapter runs them: a guard in front of the
//! gasometer that orders halts as the specification does, and an invoker wrapper that records
//! how the top-level frame ended (and the call depth, for traces).

use evm::interpreter::etable::{Chained, Etable};
use evm::interpreter::runtime::GasState;
use evm::interpreter::trap::CallCreateTrap;
use evm::interpreter::{Control, ExitError, ExitException, Interpreter, Opcode};
use evm::standard::{ExecutionEtable, GasometerEtable, InvokerState, Machine, State};
use evm::uint::U256 as EvmU256;
use evm::{InvokerControl, InvokerExit};
use evm_precompile::StandardPrecompileSet;
use std::cell::Cell;

/// Frames deeper than this run on the crate's heap call stack instead of the native stack.
pub(crate) const HEAP_DEPTH: usize = 4;

pub(crate) type MainnetEtable = Chained<HaltOrderGuard, Chained<GasometerEtable<'static>, ExecutionEtable<'static>>>;

pub(crate) static ETABLE: MainnetEtable = mainnet_etable();
pub(crate) static PRECOMPILES: StandardPrecompileSet = StandardPrecompileSet;

pub(crate) const fn mainnet_etable() -> MainnetEtable {
    Chained(HaltOrderGuard, Chained(GasometerEtable::new(), ExecutionEtable::new()))
}

/// Runs a transaction with `etable` (the mainnet one, or it behind a tracer). A macro because the
/// invoker's bounds are spelled out for each etable type by the crate, not for a generic one.
macro_rules! transact_with {
    ($etable:expr, $args:expr, $backend:expr, $depth:expr) => {{
        let resolver = evm::standard::EtableResolver::new(&$crate::invoker::PRECOMPILES, $etable);
        let invoker = evm::standard::Invoker::new(&resolver);
        let recorder = $crate::invoker::Recorder::new(&invoker, $depth);
        let result = evm::transact($args, Some($crate::invoker::HEAP_DEPTH), $backend, &recorder);
        let exit = recorder.top_exit();
        (result, exit)
    }};
}

/// How the top-level frame ended, as the [`Recorder`] saw it before the crate finalized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopExit {
    /// The frame itself succeeded (a later error came from the code deposit).
    pub frame_succeeded: bool,
    /// Gas left in the frame.
    pub gas_left: Option<EvmU256>,
    /// Gas returned to the sender after a top-level REVERT.
    pub reverted_gas_left: Option<EvmU256>,
}

/// Runs before the crate's gasometer and halts, where the gasometer would report another halt
/// or fail, the way the specification and the other clients do:
///
/// - CREATE/CREATE2 with init code above the EIP-3860 limit halt before memory is charged, as
///   revm and geth do (out of gas when the length does not fit 64 bits). The crate charges
///   memory first; for a length above `usize::MAX` its gasometer even fails with
///   `ExitFatal::NotSupported`, which it propagates through every parent frame, where only the
///   creating frame must halt.
/// - An opcode the fork does not have is invalid before its operands are read. The crate
///   reads the memory operands of REVERT, RETURNDATACOPY, MCOPY, CREATE2, DELEGATECALL and
///   STATICCALL first, so it reports a stack underflow for them on a short stack.
pub(crate) struct HaltOrderGuard;

impl<H> Etable<H> for HaltOrderGuard {
    type State = State<'static>;
    type Trap = CallCreateTrap;

    fn eval(&self, machine: &mut Machine<'static>, _handle: &mut H, position: usize) -> Control<CallCreateTrap> {
        let Some(opcode) = machine.code().get(position).copied().map(Opcode) else {
            return Control::NoAction;
        };
        let config = machine.state.config;
        let missing = match opcode {
            Opcode::REVERT => !config.eip140_revert,
            Opcode::RETURNDATACOPY => !config.eip211_return_data,
            Opcode::MCOPY => !config.eip5656_mcopy,
            Opcode::CREATE2 => !config.eip1014_create2,
            Opcode::DELEGATECALL => !config.eip7_delegate_call,
            Opcode::STATICCALL => !config.eip214_static_call,
            _ => false,
        };
        if missing {
            machine.state.gasometer.oog();
            return Control::Exit(ExitException::InvalidOpcode(opcode).into());
        }
        let operands = match opcode {
            Opcode::CREATE => 3,
            Opcode::CREATE2 => 4,
            _ => return Control::NoAction,
        };
        let checked = config.eip3860_max_initcode_size && !machine.state.gasometer.is_static;
        if checked && machine.stack.len() >= operands {
            let limit = EvmU256::from(config.max_initcode_size().unwrap_or(usize::MAX));
            let halt = match machine.stack.peek(2) {
                // A length beyond 64 bits cannot even be sized: out of gas, as in revm and geth.
                Ok(len) if len > EvmU256::from(usize::MAX) => Some(ExitException::OutOfGas),
                Ok(len) if len > limit => Some(ExitException::CreateContractLimit),
                _ => None,
            };
            if let Some(halt) = halt {
                machine.state.gasometer.oog();
                return Control::Exit(halt.into());
            }
        }
        Control::NoAction
    }
}

/// The standard invoker, watching how the top-level frame ended: the crate drops the gas left
/// after a top-level REVERT from its error result, and reports a failed code deposit with the
/// same variants as a failing frame.
/// When tracing, it also keeps the call depth the tracer reports.
pub(crate) struct Recorder<'a, I> {
    inner: &'a I,
    reverted_gas_left: Cell<Option<EvmU256>>,
    frame_succeeded: Cell<bool>,
    exit_gas_left: Cell<Option<EvmU256>>,
    depth: Option<&'a Cell<u32>>,
}

impl<'a, I> Recorder<'a, I> {
    pub(crate) fn new(inner: &'a I, depth: Option<&'a Cell<u32>>) -> Self {
        Recorder { inner, reverted_gas_left: Cell::new(None), frame_succeeded: Cell::new(false), exit_gas_left: Cell::new(None), depth }
    }

    /// How the top-level frame ended.
    pub(crate) fn top_exit(&self) -> TopExit {
        TopExit {
            frame_succeeded: self.frame_succeeded.get(),
            gas_left: self.exit_gas_left.get(),
            reverted_gas_left: self.reverted_gas_left.get(),
        }
    }
}

impl<H, I> evm::Invoker<H> for Recorder<'_, I>
where
    I: evm::Invoker<H>,
    I::State: InvokerState + GasState,
{
    type State = I::State;
    type Interpreter = I::Interpreter;
    type Interrupt = I::Interrupt;
    type TransactArgs = I::TransactArgs;
    type TransactInvoke = I::TransactInvoke;
    type TransactValue = I::TransactValue;
    type SubstackInvoke = I::SubstackInvoke;

    fn new_transact(
        &self,
        args: Self::TransactArgs,
        handler: &mut H,
    ) -> Result<(Self::TransactInvoke, InvokerControl<Self::Interpreter, Self::State>), ExitError> {
        self.inner.new_transact(args, handler)
    }

    fn finalize_transact(
        &self,
        invoke: &Self::TransactInvoke,
        exit: InvokerExit<Self::State>,
        handler: &mut H,
    ) -> Result<Self::TransactValue, ExitError> {
        self.frame_succeeded.set(exit.result.is_ok());
        self.exit_gas_left.set(exit.substate.as_ref().map(GasState::gas));
        if matches!(exit.result, Err(ExitError::Reverted)) {
            self.reverted_gas_left.set(exit.substate.as_ref().map(|s| s.effective_gas(false)));
        }
        self.inner.finalize_transact(invoke, exit, handler)
    }

    fn enter_substack(
        &self,
        trap: <Self::Interpreter as Interpreter<H>>::Trap,
        machine: &mut Self::Interpreter,
        handler: &mut H,
        depth: usize,
    ) -> evm::interpreter::Capture<Result<(Self::SubstackInvoke, InvokerControl<Self::Interpreter, Self::State>), ExitError>, Self::Interrupt>
    {
        let entered = self.inner.enter_substack(trap, machine, handler, depth);
        // Every frame entered (or exited at once) is left through `exit_substack`.
        if let (Some(cell), evm::interpreter::Capture::Exit(Ok(_))) = (self.depth, &entered) {
            cell.set(cell.get().saturating_add(1));
        }
        entered
    }

    fn exit_substack(
        &self,
        trap_data: Self::SubstackInvoke,
        exit: InvokerExit<Self::State>,
        parent: &mut Self::Interpreter,
        handler: &mut H,
    ) -> Result<(), ExitError> {
        if let Some(cell) = self.depth {
            cell.set(cell.get().saturating_sub(1));
        }
        self.inner.exit_substack(trap_data, exit, parent, handler)
    }
}
