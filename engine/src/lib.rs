//! # schism-engine
//!
//! The engine of schism: the client registry, the conformance and comparison runner, verdicts,
//! reports, benchmarks and the command line behind the `schism` binary.

pub mod atomic;
pub mod bench;
pub mod chain;
pub mod cli;
pub mod compare;
pub mod deadline;
pub mod fuzz;
pub mod install;
pub mod junit;
pub mod panel;
pub mod registry;
pub mod report;
pub mod runner;
pub mod serve;
pub mod triage;
