//! What `--check-policy` prints: the problems found, a one-line verdict and,
//! for a valid policy, the effective table (each known command, allowed or
//! denied, the deciding rule, and its argument limits).

use crate::diagnostic::{Diagnostic, PolicyErrors, Severity};
use crate::rules;
use crate::Policy;
use protocol::commands::{Availability, COMMANDS};
use std::fmt;

pub struct CheckReport {
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    pub valid: bool,
    /// "FILE: valid" or "FILE: invalid (…)".
    pub verdict: String,
    /// The effective table, for a valid policy.
    pub table: Option<String>,
}

impl CheckReport {
    pub fn new(file: &str, result: &Result<Policy, PolicyErrors>) -> CheckReport {
        let (diagnostics, table) = match result {
            Ok(policy) => (policy.diagnostics(), Some(effective_table(policy))),
            Err(errors) => (errors.diagnostics.clone(), None),
        };
        let count = |severity| {
            diagnostics
                .iter()
                .filter(|d| d.severity == severity)
                .count()
        };
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        let mut parts = Vec::new();
        if errors > 0 {
            parts.push(plural(errors, "error"));
        }
        if warnings > 0 {
            parts.push(plural(warnings, "warning"));
        }
        let valid = result.is_ok();
        let word = if valid { "valid" } else { "invalid" };
        let verdict = if parts.is_empty() {
            format!("{file}: {word}")
        } else {
            format!("{file}: {word} ({})", parts.join(", "))
        };
        CheckReport {
            diagnostics,
            valid,
            verdict,
            table,
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        writeln!(f, "{}", self.verdict)?;
        if let Some(table) = &self.table {
            write!(f, "{table}")?;
        }
        Ok(())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One row per known command, in qemu-ga's registration order; an allowed
/// command with argument rules gets one indented line per limit.
pub fn effective_table(policy: &Policy) -> String {
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let indent = " ".repeat(width + 2 + 7 + 2);
    let mut out = String::new();
    out.push_str(&format!("{:width$}  {:7}  rule\n", "command", "verdict"));
    for spec in COMMANDS {
        let decision = policy.decide_command(spec.name);
        let verdict = if decision.allowed { "allow" } else { "deny" };
        let note = match spec.availability {
            Availability::Available => "",
            Availability::NotImplemented => " (not implemented by this version)",
            Availability::NotOnLinux => " (not available on Linux)",
        };
        out.push_str(&format!(
            "{:width$}  {verdict:7}  {}{note}\n",
            spec.name, decision.rule
        ));
        if !decision.allowed {
            continue;
        }
        if let Some(schema) = rules::schema(spec.name) {
            for line in rules::describe_limits(schema, policy.rules_for(spec.name)) {
                out.push_str(&format!("{indent}{line}\n"));
            }
        }
    }
    out
}
