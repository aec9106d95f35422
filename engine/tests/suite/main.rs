//! The engine's integration tests, one binary: the `schism` command as a user runs it, the
//! shared adapter tests (blocks, system calls and traces on every in-process client), the
//! conformance runs with pass counts, faults of subprocess clients, filing under SIGKILL, the
//! farm, a farm of two nodes and its metrics, the regression fixtures, block sequences and
//! trace alignment. Shared helpers are in `util`.

mod adapters;
mod cli;
mod conformance;
mod conformance_external;
mod faults;
mod filing;
mod metrics;
mod regressions;
mod sequences;
mod trace_alignment;
mod util;
