//! The coverage-guided differential fuzzer: a structured input ([`program::Blueprint`]) that
//! compiles to a state test ([`compile`]), EVM-level coverage features ([`features`]), and the
//! harness that runs one input on every client and files divergences ([`harness`]), and the
//! LibAFL farm that drives the harness on many cores ([`farm`]).

pub mod compile;
pub mod corpus;
pub mod entry;
pub mod farm;
pub mod features;
pub mod harness;
pub mod precompile;
pub mod program;
pub mod rediscover;
pub mod selftest;
pub mod sequence;
pub mod vectors;

pub use features::MAP_SIZE;
pub use harness::{Harness, HarnessOptions, HarnessStats, Run};
pub use program::Blueprint;

use schism_interface::Fork;

/// Why fuzzing cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// No client was selected.
    #[error("no clients to fuzz")]
    NoClients,
    /// The selected clients share no fork.
    #[error("the selected clients have no fork in common")]
    NoCommonFork,
    /// Fewer than two selected clients support the fork asked for.
    #[error("fork {fork} is supported by {supported_by} of the selected clients; at least two are needed")]
    Fork {
        /// The fork asked for.
        fork: Fork,
        /// How many selected clients support it.
        supported_by: usize,
    },
    /// A file or directory of the farm could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A link of a farm across machines, or the metrics endpoint, could not be set up.
    #[error("{what} {addr}: {source}")]
    Listen {
        /// What was to listen or connect there (`--node-listen`, `--metrics`, ...).
        what: &'static str,
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The fuzzing engine failed.
    #[error("fuzzing engine: {0}")]
    Engine(String),
    /// A self-test was asked for a mutant this build does not have.
    #[error("unknown mutant `{name}` (known: {})", known.join(", "))]
    UnknownMutant {
        /// The name asked for.
        name: String,
        /// The mutants this build has.
        known: Vec<String>,
    },
    /// A selected client cannot be made.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// More fuzzing jobs than cores this process may run on.
    #[error("--jobs {jobs}: this process may run on {cores} cores")]
    Jobs {
        /// Jobs asked for.
        jobs: usize,
        /// Cores available.
        cores: usize,
    },
}
