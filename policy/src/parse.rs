//! From TOML text to a validated `Policy`, collecting every problem with its
//! place in the file.

use crate::glob;
use crate::location::Location;
use crate::{CommandPattern, DefaultAction, Policy};
use protocol::commands::COMMANDS;
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    default: Option<Spanned<String>>,
    allow: Option<RawCommandList>,
    deny: Option<RawCommandList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommandList {
    commands: Vec<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {word}: {}", self.location, self.message)
    }
}

/// Every error found in a policy file (at least one).
#[derive(Clone, Debug)]
pub struct PolicyErrors {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyErrors> {
    let at = |offset: usize| Location::from_offset(file, text, offset);
    let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyErrors {
        diagnostics: vec![Diagnostic::error(
            at(e.span().map_or(0, |s| s.start)),
            e.message().trim_end().replace('\n', ": "),
        )],
    })?;

    let mut diagnostics = Vec::new();
    let (default, default_location) = match &raw.default {
        None => (DefaultAction::Deny, None),
        Some(value) => {
            let location = at(value.span().start);
            let action = match value.get_ref().as_str() {
                "deny" => DefaultAction::Deny,
                "allow" => DefaultAction::Allow,
                other => {
                    diagnostics.push(Diagnostic::error(
                        location.clone(),
                        format!("expected \"allow\" or \"deny\" for `default`, found \"{other}\""),
                    ));
                    DefaultAction::Deny
                }
            };
            (action, Some(location))
        }
    };
    let mut patterns = |list: &Option<RawCommandList>| -> Vec<CommandPattern> {
        let Some(list) = list else { return Vec::new() };
        list.commands
            .iter()
            .filter_map(|p| {
                let location = at(p.span().start);
                match check_command_pattern(p.get_ref()) {
                    Ok(()) => Some(CommandPattern {
                        pattern: p.get_ref().clone(),
                        location,
                    }),
                    Err(message) => {
                        diagnostics.push(Diagnostic::error(location, message));
                        None
                    }
                }
            })
            .collect()
    };
    let allow = patterns(&raw.allow);
    let deny = patterns(&raw.deny);
    if !diagnostics.is_empty() {
        return Err(PolicyErrors { diagnostics });
    }
    Ok(Policy {
        default,
        default_location,
        allow,
        deny,
    })
}

/// A pattern must be well formed and name at least one known command.
fn check_command_pattern(pattern: &str) -> Result<(), String> {
    if !glob::is_valid_command_pattern(pattern) {
        return Err(format!(
            "invalid command pattern \"{pattern}\": expected a command name, \
             optionally with `*` or `?` wildcards (characters a-z, 0-9, -)"
        ));
    }
    if COMMANDS.iter().any(|c| glob::matches(pattern, c.name)) {
        return Ok(());
    }
    if glob::has_wildcard(pattern) {
        return Err(format!("pattern \"{pattern}\" matches no known command"));
    }
    match closest_command(pattern) {
        Some(near) => Err(format!(
            "unknown command \"{pattern}\" (did you mean \"{near}\"?)"
        )),
        None => Err(format!("unknown command \"{pattern}\"")),
    }
}

fn closest_command(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|c| (edit_distance(name, c.name), c.name))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
