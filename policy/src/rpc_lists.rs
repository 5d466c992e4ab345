//! qemu-ga's command lists (`-b/--block-rpcs`, `-a/--allow-rpcs` and the
//! `block-rpcs`/`allow-rpcs` keys of its config file), layered over the
//! policy file so existing deployments keep their meaning:
//!
//! - a command a block list names is refused, whatever else says;
//! - if any allow list is given, a command none names is refused;
//! - everything else is decided by the policy file.
//!
//! So the lists can only take commands away from what the policy allows.
//! Lists accumulate, as in qemu-ga. Names are exact command names,
//! separated by `,` (qemu-ga's separator) or `;` (the GLib list separator
//! some configurations use); blanks around a name are ignored.

use crate::diagnostic::Diagnostic;
use crate::location::Location;
use crate::suggest;
use protocol::commands::{ALWAYS_ENABLED, COMMANDS};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcLists {
    pub block: Vec<RpcEntry>,
    /// `None` when no allow list was given at all.
    pub allow: Option<Vec<RpcEntry>>,
}

/// One name from a list, with where it came from: a place in the config
/// file, or the option that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcEntry {
    pub name: String,
    pub origin: Location,
}

/// Where a command-line list came from, as shown in rules and messages.
pub fn command_line_origin(option: &str) -> Location {
    Location::file_only(option)
}

impl RpcLists {
    pub fn is_empty(&self) -> bool {
        self.block.is_empty() && self.allow.is_none()
    }

    pub fn add_block(&mut self, names: &str, origin: &Location) {
        self.block.extend(split(names, origin));
    }

    pub fn add_allow(&mut self, names: &str, origin: &Location) {
        self.allow
            .get_or_insert_with(Vec::new)
            .extend(split(names, origin));
    }

    /// The refusal, if the lists refuse `name`.
    pub(crate) fn refusal(&self, name: &str) -> Option<String> {
        if let Some(e) = self.block.iter().find(|e| e.name == name) {
            return Some(format!("block-rpcs \"{name}\" from {}", e.origin));
        }
        let allow = self.allow.as_ref()?;
        if allow.iter().any(|e| e.name == name) {
            return None;
        }
        let mut origins: Vec<String> = allow.iter().map(|e| e.origin.file.clone()).collect();
        origins.dedup();
        if origins.is_empty() {
            return Some("allow-rpcs is empty".into());
        }
        Some(format!(
            "allow-rpcs from {} does not name it",
            origins.join(", ")
        ))
    }

    /// Unknown names (with a suggestion), names that cannot be blocked, and
    /// an empty allow list. qemu-ga ignores unknown names silently; they
    /// are warnings here so a typo does not go unnoticed.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let known = |name: &str| COMMANDS.iter().any(|c| c.name == name);
        let lists = [("block-rpcs", &self.block[..])]
            .into_iter()
            .chain(self.allow.as_deref().map(|a| ("allow-rpcs", a)));
        for (list, entries) in lists {
            for e in entries {
                if !known(&e.name) {
                    out.push(Diagnostic::warning(
                        e.origin.clone(),
                        format!(
                            "unknown command \"{}\" in {list}{}, ignored",
                            e.name,
                            suggest::did_you_mean(&e.name, COMMANDS.iter().map(|c| c.name))
                        ),
                    ));
                } else if list == "block-rpcs" && ALWAYS_ENABLED.contains(&e.name.as_str()) {
                    out.push(Diagnostic::warning(
                        e.origin.clone(),
                        format!(
                            "\"{}\" in block-rpcs stays enabled: protocol synchronisation is \
                             always enabled",
                            e.name
                        ),
                    ));
                }
            }
        }
        if self.allow.as_ref().is_some_and(|a| a.is_empty()) {
            out.push(Diagnostic::warning(
                Location::file_only("allow-rpcs"),
                "allow-rpcs is empty: every command but guest-sync and \
                 guest-sync-delimited is refused",
            ));
        }
        out
    }
}

fn split(names: &str, origin: &Location) -> Vec<RpcEntry> {
    names
        .split([',', ';'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| RpcEntry {
            name: name.to_string(),
            origin: origin.clone(),
        })
        .collect()
}
