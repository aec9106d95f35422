//! # schism-sputnik
//!
//! schism adapter for SputnikVM (crates.io `evm` 1.x with `evm-precompile`), executed in-process.
//! The crate runs a message call; the adapter adds what it leaves to a block executor:
//! transaction validity checks, the EIP-4844 blob fee, and the post-state with its root.

mod input;
mod output;
mod tracer;

use evm::backend::OverlayedBackend;
use evm::interpreter::etable::{Chained, Etable};
use evm::interpreter::runtime::GasState;
use evm::interpreter::trap::CallCreateTrap;
use evm::interpreter::{Control, ExitError, ExitException, Interpreter, Opcode};
use evm::standard::{
    EtableResolver, ExecutionEtable, GasometerEtable, InvokerState, Machine, State, TransactValue,
};
use evm::uint::U256 as EvmU256;
use evm::{InvokerControl, InvokerExit};
use evm_precompile::StandardPrecompileSet;
use input::Rejection;
use output::ExitContext;
use schism_interface::alloy_primitives::Address;
use schism_interface::{
    Case, Client, ClientError, Fork, KnownDifference, Outcome, TraceMode, TxKind,
};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tracer::{StepTracer, TraceLog};

/// The `evm` crate version this adapter is built against.
const EVM_VERSION: &str = "1.1.1";
/// The id used on the command line, in the registry and in reports.
const ID: &str = "sputnik";
/// Frames deeper than this run on the crate's heap call stack instead of the native stack.
const HEAP_DEPTH: usize = 4;

type MainnetEtable =
    Chained<HaltOrderGuard, Chained<GasometerEtable<'static>, ExecutionEtable<'static>>>;

static ETABLE: MainnetEtable = mainnet_etable();
static PRECOMPILES: StandardPrecompileSet = StandardPrecompileSet;

const fn mainnet_etable() -> MainnetEtable {
    Chained(
        HaltOrderGuard,
        Chained(GasometerEtable::new(), ExecutionEtable::new()),
    )
}

/// Runs a transaction with `etable` (the mainnet one, or it behind a tracer). A macro because the
/// invoker's bounds are spelled out for each etable type by the crate, not for a generic one.
macro_rules! transact_with {
    ($etable:expr, $args:expr, $backend:expr, $depth:expr) => {{
        let resolver = EtableResolver::new(&PRECOMPILES, $etable);
        let invoker = evm::standard::Invoker::new(&resolver);
        let recorder = Recorder::new(&invoker, $depth);
        let result = evm::transact($args, Some(HEAP_DEPTH), $backend, &recorder);
        let exit = TopExit {
            frame_succeeded: recorder.frame_succeeded.get(),
            gas_left: recorder.exit_gas_left.get(),
            reverted_gas_left: recorder.reverted_gas_left.get(),
        };
        (result, exit)
    }};
}

/// How the top-level frame ended, as the [`Recorder`] saw it before the crate finalized.
#[derive(Debug, Clone, Copy)]
struct TopExit {
    /// The frame itself succeeded (a later error came from the code deposit).
    frame_succeeded: bool,
    /// Gas left in the frame.
    gas_left: Option<EvmU256>,
    /// Gas returned to the sender after a top-level REVERT.
    reverted_gas_left: Option<EvmU256>,
}

/// SputnikVM as a schism client.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sputnik;

impl Sputnik {
    /// A new adapter; it holds no state, every case gets a fresh backend.
    pub fn new() -> Sputnik {
        Sputnik
    }
}

impl Client for Sputnik {
    fn id(&self) -> &str {
        ID
    }

    fn version(&self) -> &str {
        EVM_VERSION
    }

    fn supports(&self, fork: Fork) -> bool {
        input::config(fork).is_some()
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        let config = input::config(case.fork).ok_or_else(|| ClientError::UnsupportedFork {
            client: ID.to_owned(),
            fork: case.fork,
        })?;
        let checked = match input::check(case, config) {
            Ok(checked) => checked,
            Err(Rejection::Invalid(kind)) => return Ok(output::rejected(&case.pre, kind)),
            Err(Rejection::Unrepresentable(what)) => {
                return Err(ClientError::Unrepresentable {
                    client: ID.to_owned(),
                    what,
                });
            }
        };
        let mut backend = input::backend(case, &checked);
        let args = input::transact_args(case, &checked, config);
        let trace_log = (mode == TraceMode::Steps).then(TraceLog::new);
        let (result, top, changes) = catch_unwind(AssertUnwindSafe(|| {
            let mut overlay = OverlayedBackend::new(&backend, &config.runtime);
            let (result, top) = match &trace_log {
                None => transact_with!(&ETABLE, args, &mut overlay, None),
                Some(log) => {
                    let etable = Chained(StepTracer { log }, mainnet_etable());
                    transact_with!(&etable, args, &mut overlay, Some(&log.depth))
                }
            };
            (result, top, overlay.deconstruct().1)
        }))
        .map_err(|payload| ClientError::Panicked {
            client: ID.to_owned(),
            message: panic_message(&payload),
        })?;

        let gas_limit = case.tx.gas_limit;
        let (gas_used, error) = match result {
            Ok(TransactValue { used_gas, .. }) => (used_gas, None),
            Err(error) => {
                // A precompile that charged its gas and still failed rejected its input; the
                // crate's bn128 and modexp report that as out-of-gas.
                let (intrinsic, _) = input::intrinsic_gas(case, config);
                let available = EvmU256::from(gas_limit.saturating_sub(intrinsic));
                let context = ExitContext {
                    create: case.tx.to.is_none(),
                    frame_succeeded: top.frame_succeeded,
                    precompile_target: case.tx.to.is_some_and(|to| is_precompile(&to, case.fork)),
                    precompile_charged: top.gas_left.is_some_and(|left| left < available),
                };
                let class =
                    output::error_class(&error, context).ok_or_else(|| ClientError::Execution {
                        client: ID.to_owned(),
                        detail: format!("fatal exit {error:?}"),
                    })?;
                // Only a revert returns gas; every other error consumes the whole limit.
                let left = match error {
                    ExitError::Reverted => top.reverted_gas_left.unwrap_or_default(),
                    _ => EvmU256::zero(),
                };
                (EvmU256::from(gas_limit).saturating_sub(left), Some(class))
            }
        };
        if gas_used > EvmU256::from(gas_limit) {
            return Err(ClientError::Execution {
                client: ID.to_owned(),
                detail: format!("gas used {gas_used} above limit"),
            });
        }

        let logs = output::logs(&changes);
        backend.inner.apply_overlayed(&changes);
        let post =
            output::accounts(&backend.inner.state).ok_or_else(|| ClientError::Execution {
                client: ID.to_owned(),
                detail: "a nonce above 2^64-1 in the post-state".to_owned(),
            })?;
        let mut outcome = output::executed(post, logs, gas_used.low_u64(), error);
        outcome.trace = trace_log.map(|log| log.steps.into_inner());
        Ok(outcome)
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        KNOWN_DIFFERENCES
    }
}

/// True for the precompile addresses the crate implements under `fork`.
fn is_precompile(address: &Address, fork: Fork) -> bool {
    let bytes = address.as_slice();
    if bytes[..19].iter().any(|b| *b != 0) {
        return false;
    }
    let last = bytes[19];
    let highest = match fork {
        f if f >= Fork::Cancun => 10,
        f if f >= Fork::Istanbul => 9,
        f if f >= Fork::Byzantium => 8,
        _ => 4,
    };
    (1..=highest).contains(&last)
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
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
struct HaltOrderGuard;

impl<H> Etable<H> for HaltOrderGuard {
    type State = State<'static>;
    type Trap = CallCreateTrap;

    fn eval(
        &self,
        machine: &mut Machine<'static>,
        _handle: &mut H,
        position: usize,
    ) -> Control<CallCreateTrap> {
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
struct Recorder<'a, I> {
    inner: &'a I,
    reverted_gas_left: Cell<Option<EvmU256>>,
    frame_succeeded: Cell<bool>,
    exit_gas_left: Cell<Option<EvmU256>>,
    depth: Option<&'a Cell<u32>>,
}

impl<'a, I> Recorder<'a, I> {
    fn new(inner: &'a I, depth: Option<&'a Cell<u32>>) -> Self {
        Recorder {
            inner,
            reverted_gas_left: Cell::new(None),
            frame_succeeded: Cell::new(false),
            exit_gas_left: Cell::new(None),
            depth,
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
    ) -> Result<
        (
            Self::TransactInvoke,
            InvokerControl<Self::Interpreter, Self::State>,
        ),
        ExitError,
    > {
        self.inner.new_transact(args, handler)
    }

    fn finalize_transact(
        &self,
        invoke: &Self::TransactInvoke,
        exit: InvokerExit<Self::State>,
        handler: &mut H,
    ) -> Result<Self::TransactValue, ExitError> {
        self.frame_succeeded.set(exit.result.is_ok());
        self.exit_gas_left
            .set(exit.substate.as_ref().map(GasState::gas));
        if matches!(exit.result, Err(ExitError::Reverted)) {
            self.reverted_gas_left
                .set(exit.substate.as_ref().map(|s| s.effective_gas(false)));
        }
        self.inner.finalize_transact(invoke, exit, handler)
    }

    fn enter_substack(
        &self,
        trap: <Self::Interpreter as Interpreter<H>>::Trap,
        machine: &mut Self::Interpreter,
        handler: &mut H,
        depth: usize,
    ) -> evm::interpreter::Capture<
        Result<
            (
                Self::SubstackInvoke,
                InvokerControl<Self::Interpreter, Self::State>,
            ),
            ExitError,
        >,
        Self::Interrupt,
    > {
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

/// Behaviours of SputnikVM 1.1 that differ from the specification and that the adapter cannot
/// make up for.
pub static KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        id: "sputnik-no-eip7702",
        reason: "evm 1.1 has no EIP-7702: set-code transactions are not executed (the adapter reports \
                 them as unrepresentable) and delegation designators in the pre-state run as plain \
                 code starting with 0xEF",
        link: "https://github.com/rust-ethereum/evm/blob/master/src/standard/config.rs",
        applies: uses_eip7702,
    },
    KnownDifference {
        id: "sputnik-no-eip2537",
        reason: "evm-precompile 1.0 has no BLS12-381 precompiles (EIP-2537, 0x0b..0x11): from Prague \
                 a direct call to them runs as a call to an empty account",
        link: "https://github.com/rust-ethereum/evm/blob/master/precompile/src/lib.rs",
        applies: calls_bls_precompile,
    },
];

fn uses_eip7702(case: &Case) -> bool {
    case.fork >= Fork::Prague
        && (case.tx.kind == TxKind::SetCode
            || case.pre.values().any(|a| input::is_delegation(&a.code)))
}

fn calls_bls_precompile(case: &Case) -> bool {
    let bls = |to: &Address| {
        let bytes = to.as_slice();
        bytes[..19].iter().all(|b| *b == 0) && (0x0b..=0x11).contains(&bytes[19])
    };
    case.fork >= Fork::Prague && case.tx.to.as_ref().is_some_and(bls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schism_interface::load::{FixtureFile, expand_file, read_fixture};
    use std::path::Path;

    fn cases(path: &str) -> Vec<Case> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let FixtureFile::State(file) = read_fixture(&path).expect("fixture reads") else {
            panic!("not a state test: {}", path.display())
        };
        let (cases, errors) = expand_file(&path, &file);
        assert!(errors.is_empty(), "{errors:?}");
        cases
    }

    fn assert_all_pass(cases: &[Case]) {
        let client = Sputnik::new();
        assert!(!cases.is_empty());
        for case in cases {
            let outcome = client.execute(case, TraceMode::Off).expect("executes");
            let expected = case.expected.as_ref().expect("filled fixture");
            let mismatches = expected.check(&outcome);
            assert!(
                mismatches.iter().all(|m| m.is_soft()),
                "{}: {mismatches:?}",
                case.label()
            );
        }
    }

    #[test]
    fn identity_and_forks() {
        let client = Sputnik::new();
        assert_eq!(client.id(), "sputnik");
        assert_eq!(client.version(), EVM_VERSION);
        assert!(client.supports(Fork::Frontier));
        assert!(client.supports(Fork::Cancun));
        assert!(client.supports(Fork::Prague));
        assert!(!client.supports(Fork::Constantinople));
        assert!(!client.supports(Fork::Osaka));
    }

    #[test]
    fn executes_a_cancun_fixture_with_the_expected_root() {
        assert_all_pass(&cases(
            "../../../shared/fixtures/GeneralStateTests/stExample/add11.json",
        ));
    }

    #[test]
    fn rejects_what_the_fixture_rejects() {
        let cases =
            cases("../../../shared/fixtures/GeneralStateTests/stTransactionTest/NoSrcAccount.json");
        assert!(
            cases
                .iter()
                .any(|c| c.expected.as_ref().is_some_and(|e| e.exception.is_some()))
        );
        assert_all_pass(&cases);
    }

    #[test]
    fn create_with_an_init_code_length_beyond_64_bits_runs_out_of_gas() {
        // The crate alone ends this with a fatal error instead of an out-of-gas halt.
        assert_all_pass(&cases(
            "../../../shared/fixtures/GeneralStateTests/stSystemOperationsTest/createNameRegistratorOOG_MemExpansionOOV.json",
        ));
    }

    #[test]
    fn traces_steps_without_changing_the_outcome() {
        let case = &cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json")[0];
        let client = Sputnik::new();
        let plain = client.execute(case, TraceMode::Off).expect("executes");
        let traced = client.execute(case, TraceMode::Steps).expect("executes");
        assert_eq!(plain.trace, None);
        let trace = traced.trace.clone().expect("a trace");
        assert_eq!((trace[0].pc, trace[0].depth), (0, 1));
        assert!(
            trace
                .windows(2)
                .all(|w| w[1].gas <= w[0].gas || w[1].depth != w[0].depth)
        );
        assert_eq!(
            Outcome {
                trace: None,
                ..traced
            },
            plain
        );
    }

    #[test]
    fn oversized_values_and_max_nonces_are_rejections() {
        use schism_interface::{ErrorClass, InvalidTxKind, TxValue};
        let mut case =
            cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json")[0].clone();
        case.tx.value = TxValue::Oversized(vec![1u8; 33].into());
        let out = Sputnik::new()
            .execute(&case, TraceMode::Off)
            .expect("executes");
        assert_eq!(
            out.error,
            Some(ErrorClass::InvalidTransaction(
                InvalidTxKind::RlpInvalidValue
            ))
        );
        assert_eq!(out.gas_used, 0);
        assert_eq!(out.post_state.as_ref(), Some(&*case.pre));
        case.tx.value = TxValue::Value(Default::default());
        case.tx.nonce = u64::MAX;
        let out = Sputnik::new()
            .execute(&case, TraceMode::Off)
            .expect("executes");
        assert_eq!(
            out.error,
            Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceIsMax))
        );
    }

    #[test]
    fn known_differences_are_narrow() {
        let cases = cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json");
        for case in &cases {
            assert!(
                KNOWN_DIFFERENCES.iter().all(|d| !(d.applies)(case)),
                "{}",
                case.label()
            );
        }
    }
}
