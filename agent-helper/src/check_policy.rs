//! `--check-policy FILE`: validate a policy without starting the agent and
//! print what it means, one row per known command.

use policy::Policy;
use protocol::commands::{Availability, COMMANDS};
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    let policy = match Policy::load(path) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(1);
        }
    };
    println!("{}: valid", path.display());
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for spec in COMMANDS {
        let decision = policy.decide_command(spec.name);
        let verdict = if decision.allowed { "allow" } else { "deny" };
        let note = match spec.availability {
            Availability::Available => "",
            Availability::NotImplemented => " (not implemented by this version)",
            Availability::NotOnLinux => " (not available on Linux)",
        };
        println!("{:width$}  {verdict:5}  {}{note}", spec.name, decision.rule);
    }
    ExitCode::SUCCESS
}
