//! # schism-interface
//!
//! The contract between schism's engine and its clients: the fixture model, the [`Case`] every
//! client executes, the [`Outcome`] it reports, the [`Client`] trait, and the one state-root and
//! logs-hash implementation all in-process adapters share.

pub mod case;
pub mod client;
pub mod error;
pub mod fixture;
pub mod fork;
pub mod keys;
pub mod load;
pub mod observe;
pub mod outcome;
pub mod quantity;
pub mod sequence;
pub mod state;
pub mod trace;

pub use case::{Case, Expectation, Mismatch, Transaction, TxKind};
pub use client::{Client, ClientError, KnownDifference, NativeVerdict};
pub use error::{FixtureError, InvalidFixture};
pub use fixture::{Account, Accounts, Env, StateTest, StateTestFile, TxValue};
pub use fork::Fork;
pub use observe::{StepObserver, StepView};
pub use outcome::{ErrorClass, ExpectedException, InvalidTxKind, Outcome, TxStatus};
pub use sequence::{BlockInput, BlockOutcome, Schedule, SeqBlock, SeqTx, Sequence, SystemCall, SystemOutcome};
pub use trace::{Trace, TraceFields, TraceMode, TraceStep};

/// Re-exported so adapters use the same primitive types.
pub use alloy_primitives;
