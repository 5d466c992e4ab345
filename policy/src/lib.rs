//! The admin's policy: which commands the host may run and, for the
//! commands whose arguments carry the risk, with which arguments. Parsing
//! reports every problem with file:line:column; evaluation says which rule
//! decided, so each decision can be audited and explained. No I/O beyond
//! reading the policy file.
//!
//! # Evaluating a request
//!
//! One entry point: [`Policy::decide`] takes a [`PolicyRequest`] (the
//! command, plus the risky arguments already resolved) and returns a
//! [`Decision`] `{ allowed, rule }`. The command-level verdict comes first
//! (qemu-ga's block and allow lists, then `[deny]`, `[allow]`, `default`);
//! a command it allows is then held to its `[rules.COMMAND]` table.
//! [`Policy::decide_command`] is the command-level verdict alone: what
//! `guest-info` reports as `enabled`.
//!
//! Which request to build, and where:
//!
//! | command | request | built by |
//! |---|---|---|
//! | guest-file-open | `FileOpen { path, mode }` | the open operation, with the path the kernel resolved (see below); the dispatcher may refuse early on [`path_glob::normalize_lexically`] of the host's path |
//! | guest-set-user-password | `SetUserPassword { user, crypted }` | the dispatcher |
//! | guest-ssh-get/add/remove-authorized-keys | `SshKeys { command, user }` | the dispatcher |
//! | guest-fsfreeze-freeze-list | `Mountpoints { command, mountpoints }` | the dispatcher for a listed request; with no list, the operation, for each mounted filesystem it would freeze |
//! | guest-fsfreeze-freeze, guest-fstrim | `Mountpoints { command, mountpoints: vec![one] }` | the operation, for each filesystem it would touch; refused ones are skipped (fstrim reports them in the entry's `error`) |
//! | guest-set-vcpus | `SetVcpus { offlining, online_after }` | the dispatcher, counting the online vCPUs before and after |
//! | guest-set-memory-blocks | `SetMemoryBlocks { offlining }` | the dispatcher |
//! | guest-shutdown | `Shutdown { mode }` | the dispatcher, "powerdown" when no mode was given |
//! | guest-exec | `Exec { path }` | the exec operation, after resolving the program (PATH search, symlinks) |
//! | any other | `Other(name)` | the dispatcher |
//!
//! `Other(name)` for a command that has a `[rules]` table is refused: the
//! rules cannot be checked without the arguments, so a request variant not
//! yet mapped to its view fails closed instead of slipping past its rules.
//! `guest-exec` is refused unless `[rules.guest-exec] programs` names the
//! programs it may run.
//!
//! # Opening files without a race (guest-file-open)
//!
//! The path rules are only as good as the path they see. The open
//! operation must check the path of the file it actually opens, and then
//! use exactly that file:
//!
//! 1. Open the host's path with `O_PATH | O_CLOEXEC` (following symlinks,
//!    as qemu-ga does). This pins an inode without reading or writing it.
//! 2. `readlink("/proc/self/fd/N")`: the path the kernel resolved, with
//!    every `..` and symlink gone. Refuse a result that is not a resolved
//!    absolute path (e.g. ends in " (deleted)").
//! 3. `policy.decide(&PolicyRequest::FileOpen { path: &resolved, mode })`.
//! 4. Open `/proc/self/fd/N` with the real flags (`O_RDONLY`, `O_WRONLY |
//!    O_TRUNC`, …, plus `O_NOCTTY | O_CLOEXEC`). This reopens the pinned
//!    inode, not whatever the path names now, so a path that becomes a
//!    symlink or is renamed between the check and the open cannot escape.
//!
//! For modes that may create the file ("w", "a", "w+", "a+") when it does
//! not exist yet, pin the parent instead: `O_PATH | O_DIRECTORY` on the
//! parent, resolve it as above, decide on `resolved_parent/name` (a plain
//! name, never `.` or `..`), then `openat(parent_fd, name, flags | O_CREAT |
//! O_NOFOLLOW)` so a symlink planted as the last component is not followed.
//!
//! # Validation
//!
//! [`Policy::parse`] refuses unknown keys and command names (with a
//! suggestion), values of the wrong type, bad patterns and conflicting
//! rules, each as `file:line:column: error: …`. [`Policy::diagnostics`]
//! lists the warnings of a valid policy: rules that can never apply (their
//! command is denied anyway, or a deny pattern always beats them), entries
//! listed twice, empty lists, programs that would run anything, unknown
//! names in qemu-ga's lists.

mod diagnostic;
mod glob;
mod location;
mod parse;
pub mod path_glob;
mod report;
mod request;
pub mod rpc_lists;
pub mod rules;
mod suggest;

pub use diagnostic::{Diagnostic, PolicyErrors, Severity};
pub use location::Location;
pub use report::CheckReport;
pub use request::{AuditArguments, PolicyRequest};
pub use rpc_lists::RpcLists;

use protocol::commands::{ALWAYS_ENABLED, COMMANDS};
use rules::{CommandRules, RUNS_PROGRAMS};

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
    /// The file it was read from, as shown in messages.
    pub file: String,
    pub default: DefaultAction,
    /// Where `default` was written, if it was.
    pub default_location: Option<Location>,
    pub allow: Vec<CommandPattern>,
    pub deny: Vec<CommandPattern>,
    /// The `[rules.COMMAND]` tables, in file order.
    pub rules: Vec<CommandRules>,
    /// qemu-ga's block and allow lists, layered over the file.
    pub rpc_lists: RpcLists,
    /// Warnings found while parsing.
    pub parse_warnings: Vec<Diagnostic>,
}

/// The outcome of evaluating one request, with the rule that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub rule: String,
}

impl Decision {
    fn allow(rule: impl Into<String>) -> Decision {
        Decision {
            allowed: true,
            rule: rule.into(),
        }
    }

    fn deny(rule: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            rule: rule.into(),
        }
    }
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
            file: "(built-in deny-all policy)".into(),
            default: DefaultAction::Deny,
            default_location: None,
            allow: Vec::new(),
            deny: Vec::new(),
            rules: Vec::new(),
            rpc_lists: RpcLists::default(),
            parse_warnings: Vec::new(),
        }
    }

    /// The same policy with qemu-ga's block and allow lists layered over it.
    pub fn with_rpc_lists(mut self, lists: RpcLists) -> Policy {
        self.rpc_lists = lists;
        self
    }

    /// The `[rules.COMMAND]` table of a command, if the file has one.
    pub fn rules_for(&self, command: &str) -> Option<&CommandRules> {
        self.rules.iter().find(|r| r.command == command)
    }

    /// The full decision for one request: the command-level verdict, then
    /// the command's argument rules.
    pub fn decide(&self, request: &PolicyRequest) -> Decision {
        let name = request.command();
        // A view that does not fit its command is a caller's mistake: refuse.
        match request {
            PolicyRequest::Mountpoints { command: c, .. } if !is_mountpoint_command(c) => {
                return Decision::deny(format!("{c} does not take mountpoints"));
            }
            PolicyRequest::SshKeys { command: c, .. } if !is_ssh_keys_command(c) => {
                return Decision::deny(format!("{c} does not manage authorized keys"));
            }
            _ => {}
        }
        let command = self.decide_command(name);
        if !command.allowed || ALWAYS_ENABLED.contains(&name) {
            return command;
        }
        let Some(rules) = self.rules_for(name) else {
            return command;
        };
        let verdict = match request {
            PolicyRequest::Other(_) => Err(format!(
                "[rules.{name}] at {} needs the request's arguments, which this request does \
                 not carry",
                rules.location
            )),
            PolicyRequest::FileOpen { path, mode } => rules.judge_file_open(path, mode),
            PolicyRequest::SetUserPassword { user, crypted } => {
                rules.judge_password(user, *crypted)
            }
            PolicyRequest::SshKeys { user, .. } => rules.judge_user(user),
            PolicyRequest::Mountpoints { mountpoints, .. } => rules.judge_mountpoints(mountpoints),
            PolicyRequest::SetVcpus {
                offlining,
                online_after,
            } => rules.judge_vcpus(*offlining, *online_after),
            PolicyRequest::SetMemoryBlocks { offlining } => {
                rules.judge_offlining(*offlining, "memory blocks")
            }
            PolicyRequest::Shutdown { mode } => rules.judge_shutdown(mode),
            PolicyRequest::Exec { path } => rules.judge_exec(path),
        };
        match verdict {
            Ok(None) => command,
            Ok(Some(note)) => Decision::allow(format!("{}; {note}", command.rule)),
            Err(rule) => Decision::deny(rule),
        }
    }

    /// Decides a command by name, before looking at any argument: qemu-ga's
    /// lists, then a deny pattern, which beats an allow pattern, which
    /// beats the default. A command that runs programs also needs its
    /// program list. This is what `guest-info` reports as `enabled`.
    pub fn decide_command(&self, name: &str) -> Decision {
        let decision = self.decide_by_lists(name);
        if decision.allowed && RUNS_PROGRAMS.contains(&name) {
            let named = self
                .rules_for(name)
                .and_then(|r| r.programs())
                .is_some_and(|p| !p.is_empty());
            if !named {
                return Decision::deny(format!(
                    "{name} runs programs: refused unless [rules.{name}] programs names them"
                ));
            }
        }
        decision
    }

    /// The command-level verdict from the lists and the default alone.
    fn decide_by_lists(&self, name: &str) -> Decision {
        if ALWAYS_ENABLED.contains(&name) {
            return Decision::allow("built-in: protocol synchronisation is always enabled");
        }
        if !COMMANDS.iter().any(|c| c.name == name) {
            return Decision::deny("unknown command");
        }
        if let Some(refusal) = self.rpc_lists.refusal(name) {
            return Decision::deny(refusal);
        }
        if let Some(p) = self.deny.iter().find(|p| glob::matches(&p.pattern, name)) {
            return Decision::deny(format!("deny \"{}\" at {}", p.pattern, p.location));
        }
        if let Some(p) = self.allow.iter().find(|p| glob::matches(&p.pattern, name)) {
            return Decision::allow(format!("allow \"{}\" at {}", p.pattern, p.location));
        }
        let word = match self.default {
            DefaultAction::Allow => "allow",
            DefaultAction::Deny => "deny",
        };
        let rule = match &self.default_location {
            Some(at) => format!("default = \"{word}\" at {at}"),
            None => format!("default = \"{word}\" (built-in)"),
        };
        Decision {
            allowed: self.default == DefaultAction::Allow,
            rule,
        }
    }

    /// The enabled flag of every row of `COMMANDS`, in table order.
    pub fn enabled_flags(&self) -> Vec<bool> {
        COMMANDS
            .iter()
            .map(|c| self.decide_command(c.name).allowed)
            .collect()
    }

    /// The command-level rule of every row of `COMMANDS`, in table order.
    pub fn command_rules(&self) -> Vec<String> {
        COMMANDS
            .iter()
            .map(|c| self.decide_command(c.name).rule)
            .collect()
    }

    /// Warnings about a valid policy, in file order: those found while
    /// parsing, rules that can never apply, and problems with qemu-ga's
    /// lists.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out = self.parse_warnings.clone();
        for r in &self.rules {
            let by_lists = self.decide_by_lists(r.command);
            if !by_lists.allowed {
                out.push(Diagnostic::warning(
                    r.location.clone(),
                    format!(
                        "[rules.{}] never applies: {} is denied by {}",
                        r.command, r.command, by_lists.rule
                    ),
                ));
            }
        }
        for name in RUNS_PROGRAMS {
            let by_lists = self.decide_by_lists(name);
            let decision = self.decide_command(name);
            if by_lists.allowed && !decision.allowed {
                let at = self
                    .rules_for(name)
                    .map_or_else(|| self.allow_location(name), |r| r.location.clone());
                out.push(Diagnostic::warning(
                    at,
                    format!(
                        "{name} is allowed by {} but is still refused: {}",
                        by_lists.rule, decision.rule
                    ),
                ));
            }
        }
        diagnostic::sort(&mut out);
        out.extend(self.rpc_lists.diagnostics());
        out
    }

    /// Where the pattern or default that allows `name` was written.
    fn allow_location(&self, name: &str) -> Location {
        self.allow
            .iter()
            .find(|p| glob::matches(&p.pattern, name))
            .map(|p| p.location.clone())
            .or_else(|| self.default_location.clone())
            .unwrap_or_else(|| Location::file_only(&self.file))
    }
}

/// The commands that read or change a user's SSH authorized keys.
pub fn is_ssh_keys_command(command: &str) -> bool {
    [
        "guest-ssh-get-authorized-keys",
        "guest-ssh-add-authorized-keys",
        "guest-ssh-remove-authorized-keys",
    ]
    .contains(&command)
}

/// The commands whose argument rules are about mountpoints.
pub fn is_mountpoint_command(command: &str) -> bool {
    [
        "guest-fsfreeze-freeze",
        "guest-fsfreeze-freeze-list",
        "guest-fstrim",
    ]
    .contains(&command)
}

#[cfg(test)]
mod tests;
