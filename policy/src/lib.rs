//! The admin's policy: which commands the host may run. Parsing reports
//! every problem with file:line:column; evaluation says which rule decided,
//! so a decision can be audited and explained.

mod glob;
mod location;
mod parse;

pub use location::Location;
pub use parse::{Diagnostic, PolicyErrors};

use protocol::commands::{ALWAYS_ENABLED, COMMANDS};

/// What a command not named by any rule gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Allow,
    Deny,
}

/// One command-name pattern from the file, with where it was written.
#[derive(Clone, Debug)]
pub struct CommandPattern {
    pub pattern: String,
    pub location: Location,
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub default: DefaultAction,
    /// Where `default` was written, if it was.
    pub default_location: Option<Location>,
    pub allow: Vec<CommandPattern>,
    pub deny: Vec<CommandPattern>,
}

/// The outcome of evaluating one request, with the rule that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub rule: String,
}

impl Policy {
    /// Parses and validates policy text; `file` is only used in messages.
    pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyErrors> {
        parse::parse(text, file)
    }

    /// Reads and parses a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, PolicyErrors> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyErrors {
            diagnostics: vec![Diagnostic::error(
                Location::file_only(&shown),
                format!("cannot read policy: {e}"),
            )],
        })?;
        Self::parse(&text, &shown)
    }

    /// A policy that refuses everything but the always-enabled commands.
    pub fn deny_all() -> Policy {
        Policy {
            default: DefaultAction::Deny,
            default_location: None,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// Decides a command by name: a deny pattern beats an allow pattern,
    /// which beats the default.
    pub fn decide_command(&self, name: &str) -> Decision {
        if ALWAYS_ENABLED.contains(&name) {
            return Decision {
                allowed: true,
                rule: "built-in: protocol synchronisation is always enabled".into(),
            };
        }
        if let Some(p) = self.deny.iter().find(|p| glob::matches(&p.pattern, name)) {
            return Decision {
                allowed: false,
                rule: format!("deny \"{}\" at {}", p.pattern, p.location),
            };
        }
        if let Some(p) = self.allow.iter().find(|p| glob::matches(&p.pattern, name)) {
            return Decision {
                allowed: true,
                rule: format!("allow \"{}\" at {}", p.pattern, p.location),
            };
        }
        let (allowed, word) = match self.default {
            DefaultAction::Allow => (true, "allow"),
            DefaultAction::Deny => (false, "deny"),
        };
        let rule = match &self.default_location {
            Some(at) => format!("default = \"{word}\" at {at}"),
            None => format!("default = \"{word}\" (built-in)"),
        };
        Decision { allowed, rule }
    }

    /// The enabled flag of every row of `COMMANDS`, in table order.
    pub fn enabled_flags(&self) -> Vec<bool> {
        COMMANDS
            .iter()
            .map(|c| self.decide_command(c.name).allowed)
            .collect()
    }
}

#[cfg(test)]
mod tests;
