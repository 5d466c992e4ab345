//! `--check-policy FILE`: validate a policy, with the qemu-ga lists given
//! on the same command line or in the config file, without starting the
//! agent; print the problems (stderr), the verdict and the effective table
//! (stdout). Exit 0 if the policy is valid, 1 if not.

use crate::cli::PolicyQuery;
use crate::policy_source::PolicySource;
use policy::CheckReport;
use std::process::ExitCode;

pub fn run(query: PolicyQuery) -> ExitCode {
    let (shown, source) = PolicySource::for_query(query);
    let report = CheckReport::new(&shown, &source.load());
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    println!("{}", report.verdict);
    if let Some(table) = &report.table {
        print!("{table}");
    }
    if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
