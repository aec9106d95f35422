//! The `schism` command: parse the arguments, hand them to the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    schism_engine::cli::main_with(schism_engine::cli::Cli::parse())
}
