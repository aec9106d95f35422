//! # schism-revm
//!
//! The revm adapter: executes schism cases in-process with crates.io `revm`, for every fork
//! from Frontier to Osaka; [`MutantRevm`] is the same client with one deliberate bug planted,
//! for the fuzzer's self-test.

mod input;
pub mod mutant;
mod output;
mod tracer;

pub use mutant::{Mutant, MutantRevm};

use schism_interface::{Case, Client, ClientError, Fork, KnownDifference, Outcome, StepObserver, SystemCall, SystemOutcome, TraceMode};

use revm::context::result::EVMError;
use revm::database_interface::WrapDatabaseRef;
use revm::{Context, ExecuteEvm, InspectEvm, MainBuilder, MainContext};

/// The revm crate version this adapter is built against.
pub const REVM_VERSION: &str = "43.0.3";

/// Where revm knowingly departs from the specification.
static KNOWN_DIFFERENCES: [KnownDifference; 1] = [KnownDifference {
    id: "revm-eip7610-storage-collision",
    reason: "revm treats a CREATE/CREATE2 target as free when it has no code and nonce 0, without \
             checking for non-empty storage (EIP-7610, retroactive to all forks); such accounts \
             cannot arise on mainnet, and revme's own runner skips these fixtures",
    link: "https://eips.ethereum.org/EIPS/eip-7610",
    applies: Case::has_storage_only_account,
    executed: None,
}];

/// The revm client.
#[derive(Debug, Default, Clone, Copy)]
pub struct Revm;

impl Revm {
    /// A revm client.
    pub fn new() -> Revm {
        Revm
    }
}

impl Client for Revm {
    fn id(&self) -> &str {
        "revm"
    }

    fn version(&self) -> &str {
        REVM_VERSION
    }

    fn supports(&self, fork: Fork) -> bool {
        input::spec_of(fork).is_some()
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        &KNOWN_DIFFERENCES
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        execute(self.id(), case, mode, None)
    }

    fn execute_observed(&self, case: &Case, observer: &mut dyn StepObserver) -> Result<Outcome, ClientError> {
        Ok(run(self.id(), case, Some(tracer::Observing { observer }), None)?.0)
    }

    fn observes_cheaply(&self) -> bool {
        true
    }

    fn execute_block_observed(
        &self,
        block: &schism_interface::sequence::BlockInput,
        observer: &mut dyn StepObserver,
    ) -> Result<schism_interface::sequence::BlockOutcome, ClientError> {
        // Each transaction's steps go to the observer as revm takes them: no trace is built.
        schism_interface::sequence::execute::by_transactions_observed(self, block, observer)
    }

    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        system_call(self.id(), call)
    }
}

/// A system call with revm's own entry point (`SystemCallEvm::system_call`, which neither charges
/// nor touches the caller or the coinbase), over the state the block has reached; shared by
/// [`Revm`] and [`MutantRevm`]. The protocol's rules around it are the shared executor's.
fn system_call(client: &str, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
    use revm::SystemCallEvm;
    use revm::context::result::ExecutionResult;
    let block = call.block;
    let spec = input::spec_of(block.fork).ok_or_else(|| ClientError::UnsupportedFork { client: client.to_owned(), fork: block.fork })?;
    let db = input::PreDb::new(call.state, Some(&block.block_hashes));
    let mut evm = Context::mainnet()
        .with_db(WrapDatabaseRef(&db))
        .with_block(input::block_for(&block.env, block.fork, block.blob_params))
        .with_cfg(input::cfg_for(block.fork, block.chain_id, block.blob_params, spec))
        .build_mainnet();
    let done = evm
        .system_call(call.contract, revm::primitives::Bytes::copy_from_slice(call.data))
        .map_err(|e| ClientError::Execution { client: client.to_owned(), detail: e.to_string() })?;
    let (output, failure) = match done.result {
        ExecutionResult::Success { output, .. } => (output.into_data(), None),
        failed => (Default::default(), Some(format!("{failed:?}"))),
    };
    Ok(SystemOutcome { post: output::applied(call.state, done.state, block.fork), output, failure })
}

/// Executes a case with revm, with `mutant` planted when given: what [`Revm`] and
/// [`MutantRevm`] do for each trace mode; `client` is the id errors are reported under.
fn execute(client: &str, case: &Case, mode: TraceMode, mutant: Option<Mutant>) -> Result<Outcome, ClientError> {
    match mode {
        TraceMode::Off => Ok(run::<tracer::StepTracer>(client, case, None, mutant)?.0),
        TraceMode::Steps => {
            let (mut outcome, tracer) = run(client, case, Some(tracer::StepTracer::default()), mutant)?;
            outcome.trace = tracer.map(|t| t.steps);
            Ok(outcome)
        }
    }
}

/// The one execution path of [`Revm`] and [`MutantRevm`]: executes a case, with `inspector`
/// watching when one is given (and handed back) and `mutant` planted when given.
fn run<I>(client: &str, case: &Case, inspector: Option<I>, mutant: Option<Mutant>) -> Result<(Outcome, Option<I>), ClientError>
where
    I: for<'db> revm::Inspector<revm::handler::MainnetContext<WrapDatabaseRef<&'db input::PreDb<'db>>>>,
{
    let spec = input::spec_of(case.fork).ok_or_else(|| ClientError::UnsupportedFork { client: client.to_owned(), fork: case.fork })?;
    let tx = match input::tx_env(case) {
        Ok(tx) => tx,
        Err(rejection) => return Ok((Outcome::rejected(&case.pre, rejection), inspector)),
    };
    let db = input::PreDb::new(&case.pre, case.block_hashes.as_deref());
    let ctx = Context::mainnet().with_db(WrapDatabaseRef(&db)).with_block(input::block_env(case)).with_cfg(input::cfg_env(case, spec));
    let (result, inspector) = match inspector {
        None => {
            let mut evm = ctx.build_mainnet();
            if let Some(mutant) = mutant {
                mutant.plant(&mut evm);
            }
            (evm.transact(tx), None)
        }
        Some(inspector) => {
            let mut evm = ctx.build_mainnet_with_inspector(inspector);
            if let Some(mutant) = mutant {
                mutant.plant(&mut evm);
            }
            let result = evm.inspect_tx(tx);
            (result, Some(evm.inspector))
        }
    };
    match result {
        Ok(done) => Ok((output::executed(case, done.result, done.state, None), inspector)),
        Err(EVMError::Transaction(invalid)) => Ok((Outcome::rejected(&case.pre, output::invalid_kind(&invalid)), inspector)),
        Err(other) => Err(ClientError::Execution { client: client.to_owned(), detail: other.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schism_interface::load::{FixtureFile, expand_file, read_fixture};
    use std::path::Path;

    fn run_file(rel: &str) -> (usize, Vec<String>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(rel);
        let FixtureFile::State(file) = read_fixture(&path).expect("fixture reads") else { panic!("not a state test") };
        let (cases, errors) = expand_file(&path, &file);
        assert!(errors.is_empty());
        let mut failures = Vec::new();
        for case in &cases {
            let outcome = Revm.execute(case, TraceMode::Off).expect("executes");
            let expected = case.expected.as_ref().expect("filled");
            let mismatches: Vec<_> = expected.check(&outcome).into_iter().filter(|m| !m.is_soft()).collect();
            if !mismatches.is_empty() {
                failures.push(format!("{}: {mismatches:?}", case.label()));
            }
        }
        (cases.len(), failures)
    }

    #[test]
    fn passes_a_cancun_fixture() {
        let (n, failures) = run_file("GeneralStateTests/stExample/mergeTest.json");
        assert!(n > 0);
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn passes_an_osaka_fixture_with_rejections() {
        let (n, failures) = run_file("osaka/eip7825_transaction_gas_limit_cap/tx_gas_limit/transaction_gas_limit_cap.json");
        assert!(n > 0);
        assert!(failures.is_empty(), "{failures:?}");
    }
}
