//! The client contract: what every EVM implementation, in-process or subprocess, provides to the
//! engine, and how it fails.

use crate::case::Case;
use crate::fork::Fork;
use crate::observe::StepObserver;
use crate::outcome::Outcome;
use crate::sequence::{BlockInput, BlockOutcome, SystemCall, SystemOutcome};
use crate::trace::{Trace, TraceFields, TraceMode};
use std::time::Duration;

/// An EVM implementation schism can execute cases on.
///
/// A divergence is never an error: `execute` fails only when the client could not produce an
/// outcome at all (crash, hang, unreadable output, a case it cannot represent).
pub trait Client: Send + Sync {
    /// The client's id: CLI value, registry key and report label, one spelling everywhere.
    fn id(&self) -> &str;

    /// The version of the crate or binary, recorded in every report.
    fn version(&self) -> &str;

    /// True when the client implements `fork`; it is never given a case of another fork.
    fn supports(&self, fork: Fork) -> bool;

    /// Executes one case.
    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError>;

    /// Executes several cases, handing each one's result to `done` with its position in
    /// `cases` as soon as it is known: every case exactly once, in order, a fault attributed to
    /// its own case and the cases after it still run. The default executes them one by one with
    /// [`Client::execute`]; clients that keep several cases in flight at once (a subprocess
    /// client feeding a long-lived child) override it and [`Client::pipelines`].
    fn execute_batch(&self, cases: &[&Case], mode: TraceMode, done: &mut dyn FnMut(usize, Result<Outcome, ClientError>)) {
        for (i, case) in cases.iter().enumerate() {
            done(i, self.execute(case, mode));
        }
    }

    /// True when [`Client::execute_batch`] costs less per case than [`Client::execute`], so
    /// that a runner with many cases should hand them over in batches.
    fn pipelines(&self) -> bool {
        false
    }

    /// A hint that untraced cases are coming: start now what takes long to start (a
    /// subprocess client's long-lived child), so that it starts while the caller reads its
    /// fixtures. Nothing by default.
    fn prepare(&self) {}

    /// Executes one case, reporting every executed instruction to `observer` (the fuzzer's
    /// EVM-level coverage). The default records a step trace and replays it; clients that can
    /// observe steps without building a trace override this and [`Client::observes_cheaply`].
    /// The outcome carries no trace.
    fn execute_observed(&self, case: &Case, observer: &mut dyn StepObserver) -> Result<Outcome, ClientError> {
        let mut outcome = self.execute(case, TraceMode::Steps)?;
        if let Some(trace) = outcome.trace.take() {
            crate::observe::replay(&trace, observer);
        }
        Ok(outcome)
    }

    /// True when [`Client::execute_observed`] costs little more than a plain execution.
    fn observes_cheaply(&self) -> bool {
        false
    }

    /// Which trace fields this client reports faithfully (see [`TraceFields`]); the others are
    /// not compared when traces are lined up to find where clients part ways.
    fn trace_fields(&self) -> TraceFields {
        TraceFields::ALL
    }

    /// Executes one block of a sequence over its pre-state. The default executes the block
    /// transaction by transaction with [`Client::execute`] and [`Client::system_call`];
    /// clients with a block-level entry point (transition tools) override it.
    fn execute_block(&self, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
        crate::sequence::execute::by_transactions(self, block, mode)
    }

    /// Executes one block with each transaction's steps reported to `observer`; the receipts
    /// carry no traces. The default runs [`Client::execute_block`] with step traces and
    /// replays them (right for any client, a transition tool included); a client that executes
    /// blocks with the default [`Client::execute_block`] and observes cheaply overrides it with
    /// [`crate::sequence::execute::by_transactions_observed`], which builds no trace.
    fn execute_block_observed(&self, block: &BlockInput, observer: &mut dyn StepObserver) -> Result<BlockOutcome, ClientError> {
        let mut outcome = self.execute_block(block, TraceMode::Steps)?;
        crate::sequence::execute::replay_traces(&mut outcome, observer);
        Ok(outcome)
    }

    /// Executes a system call (EIP-4788, EIP-2935, EIP-7002, EIP-7251) on the state given and
    /// reports what the client did, a failure included, without judging it: the protocol's
    /// rules around the call (no call to a contract without code, what a failure means, the
    /// system address left alone) are [`crate::sequence::execute::system_call`]'s, the only
    /// caller. The default cannot; see [`Client::block_skip`].
    fn system_call(&self, _call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        Err(ClientError::Unrepresentable { client: self.id().to_owned(), what: "system calls" })
    }

    /// Why this client cannot execute blocks of `fork`, if it cannot (a block of Cancun or later
    /// needs system calls).
    fn block_skip(&self, fork: Fork) -> Option<&'static str> {
        let _ = fork;
        None
    }

    /// Runs a whole blockchain test file with the client's own runner, where it has one (geth's
    /// `evm blocktest`): one verdict per test. `None` when it has none; the engine then drives
    /// the file's sequences block by block through [`Client::execute_block`].
    fn run_blockchain_file(&self, path: &std::path::Path) -> Option<Result<Vec<NativeVerdict>, ClientError>> {
        let _ = path;
        None
    }

    /// Documented behaviours of this client that differ from the specification.
    fn known_differences(&self) -> &'static [KnownDifference] {
        &[]
    }
}

/// A client's own runner's verdict on one blockchain test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeVerdict {
    /// The test's name in the file.
    pub test: String,
    /// True when the runner passed it.
    pub pass: bool,
    /// The runner's words on a failure.
    pub detail: Option<String>,
}

/// A documented, understood difference between a client and the specification, so that
/// results it explains are classified instead of reported as failures.
#[derive(Clone, Copy, Debug)]
pub struct KnownDifference {
    /// Short stable id, used in reports.
    pub id: &'static str,
    /// What differs and why.
    pub reason: &'static str,
    /// Where it is tracked or documented.
    pub link: &'static str,
    /// True for the cases this difference explains, judged by a look at the case (its code,
    /// transaction and environment); before a client runs, this alone keeps it out.
    pub applies: fn(&Case) -> bool,
    /// True for the cases this difference explains, judged on what the client executed (its
    /// step trace of the case), for what a look at the case cannot see: an address an
    /// instruction computes, code that init code assembles in memory. `None`: `applies`
    /// alone judges.
    pub executed: Option<fn(&Case, &Trace) -> bool>,
}

impl KnownDifference {
    /// Whether it explains `case`, on which the client executed `trace` when it recorded one:
    /// by the look at the case, or else by what the trace shows.
    pub fn explains(&self, case: &Case, trace: Option<&Trace>) -> bool {
        (self.applies)(case) || matches!((self.executed, trace), (Some(executed), Some(trace)) if executed(case, trace))
    }
}

/// A client failing to produce an outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client was given a fork it does not implement.
    #[error("{client}: fork {fork} is not supported")]
    UnsupportedFork {
        /// Client id.
        client: String,
        /// The fork asked for.
        fork: Fork,
    },
    /// The case holds something the client's API cannot represent.
    #[error("{client}: cannot represent the case: {what}")]
    Unrepresentable {
        /// Client id.
        client: String,
        /// What could not be represented.
        what: &'static str,
    },
    /// The client's own machinery failed (database error, internal invariant).
    #[error("{client}: execution failed: {detail}")]
    Execution {
        /// Client id.
        client: String,
        /// The client's own error text.
        detail: String,
    },
    /// The client panicked.
    #[error("{client}: panicked: {message}")]
    Panicked {
        /// Client id.
        client: String,
        /// The panic payload.
        message: String,
    },
    /// The client did not answer in time.
    #[error("{client}: no answer after {after:?}")]
    Timeout {
        /// Client id.
        client: String,
        /// How long it was given.
        after: Duration,
    },
    /// The client process exited or was killed.
    #[error("{client}: process ended ({status}); stderr: {stderr_tail}")]
    Crashed {
        /// Client id.
        client: String,
        /// Exit status as the OS reports it.
        status: String,
        /// The last lines of its standard error.
        stderr_tail: String,
    },
    /// The client printed more than a line or a case may hold.
    #[error("{client}: output too large: {what} over {limit} bytes")]
    OutputTooLarge {
        /// Client id.
        client: String,
        /// A line, or the output of one case.
        what: &'static str,
        /// The cap in bytes.
        limit: usize,
    },
    /// The client printed something that cannot be read.
    #[error("{client}: unreadable output `{line}`: {reason}")]
    MalformedOutput {
        /// Client id.
        client: String,
        /// The offending line.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ClientError {
    /// The kind of fault, as named in reports: `unsupported_fork`, `unrepresentable`,
    /// `execution`, `panicked`, `timeout`, `crashed`, `output_too_large` or `malformed_output`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::UnsupportedFork { .. } => "unsupported_fork",
            ClientError::Unrepresentable { .. } => "unrepresentable",
            ClientError::Execution { .. } => "execution",
            ClientError::Panicked { .. } => "panicked",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Crashed { .. } => "crashed",
            ClientError::OutputTooLarge { .. } => "output_too_large",
            ClientError::MalformedOutput { .. } => "malformed_output",
        }
    }
}
