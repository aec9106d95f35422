//! `schism minimize`: a divergent case shrunk to the smallest that still shows the same
//! divergence (the same signature).

use super::{CliError, Finish, examiner_for, parse_duration};
use crate::triage::{Budget, TriageError, expectation_of, folder, minimise};
use std::path::PathBuf;

/// Arguments of `schism minimize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A state-test file (its first case) or a filed folder.
    pub case: PathBuf,
    /// A client to compare, `ID` or `ID=PATH` (default: the folder's clients, else every
    /// in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Time allowed.
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Where to write the minimised case (default: beside the input, `<name>.min.json`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Per-case timeout of every client (default: 300s in-process, each subprocess tool's own).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Minimises the case and writes it; a problem when the clients agree on it (nothing to
/// minimise).
pub fn run(args: Args) -> Result<Finish, CliError> {
    let examiner = examiner_for(&args.clients, &args.case, args.timeout)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let base = if args.case.is_dir() { args.case.join("case") } else { args.case.with_extension("") };
        base.with_extension("min.json")
    });
    super::check_output(Some(&out))?;
    let (case, _) = folder::read(&args.case)?;
    let exam = examiner.examine(&case, true);
    let Some(signature) = exam.signature() else {
        // Not an error of the input but the command's answer, so it has no `error:` prefix.
        eprintln!("{}: the clients agree on this case; nothing to minimise", args.case.display());
        return Ok(Finish::Problems);
    };
    println!("signature {} ({} instructions)", signature.id(), minimise::instructions(&case));
    let budget = Budget { time: args.budget, ..Default::default() };
    let (mut small, m) = minimise::minimise(&case, budget, &mut |c| examiner.reproduces(c, &signature));
    let small_exam = examiner.examine(&small, false);
    small.expected = small_exam.majority().map(expectation_of);
    let info = serde_json::json!({ "comment": format!("minimised by schism from {}", args.case.display()), "schism": { "signature": signature.id() } });
    let text = folder::state_test_json(&small, &format!("{}-min", signature.id()), info)?;
    crate::atomic::write(&out, text.as_bytes()).map_err(|source| TriageError::Io { path: out.clone(), source })?;
    println!("minimised {}: {}", m.summary(), out.display());
    Ok(Finish::Clean)
}
