//! Argument rules: which keys each `[rules.COMMAND]` table takes, the
//! parsed values, and how a request's arguments are judged against them.

use crate::location::Location;
use crate::path_glob::PathPattern;
use crate::{glob, path_glob};
use std::fmt::Write;
use std::path::Path;

/// The kind of value a rule key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A list of absolute path patterns (`*`, `?`, `**`).
    Paths,
    /// A list of user-name patterns (`*`, `?`).
    Users,
    /// A list of words from a fixed set.
    Words(&'static [&'static str]),
    Bool,
    /// A whole number in a range.
    Count {
        min: u32,
        max: u32,
    },
}

#[derive(Debug)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: KeyKind,
    /// What the key means when present, and what absence means.
    pub meaning: &'static str,
}

#[derive(Debug)]
pub struct CommandSchema {
    pub command: &'static str,
    pub keys: &'static [KeySpec],
}

/// The modes qemu-ga's guest-file-open accepts. A `b` changes nothing on
/// Linux, so rules and requests are compared without it.
pub const FILE_MODES: &[&str] = &[
    "r", "rb", "w", "wb", "a", "ab", "r+", "rb+", "r+b", "w+", "wb+", "w+b", "a+", "ab+", "a+b",
];
/// The modes as rules name them.
pub const FILE_MODES_CANONICAL: &[&str] = &["r", "w", "a", "r+", "w+", "a+"];
pub const SHUTDOWN_MODES: &[&str] = &["halt", "powerdown", "reboot"];

const SSH_KEYS: &[KeySpec] = &[
    KeySpec {
        name: "users",
        kind: KeyKind::Users,
        meaning: "users whose authorized keys it may touch (absent: any)",
    },
    KeySpec {
        name: "deny-users",
        kind: KeyKind::Users,
        meaning: "users whose authorized keys it never touches, whatever `users` says",
    },
];

const MOUNTPOINT_KEYS: &[KeySpec] = &[
    KeySpec {
        name: "mountpoints",
        kind: KeyKind::Paths,
        meaning: "mountpoints it may touch (absent: any)",
    },
    KeySpec {
        name: "deny-mountpoints",
        kind: KeyKind::Paths,
        meaning: "mountpoints it never touches, whatever `mountpoints` says",
    },
];

/// Every command that takes argument rules, and the keys of its table.
pub const SCHEMAS: &[CommandSchema] = &[
    CommandSchema {
        command: "guest-file-open",
        keys: &[
            KeySpec {
                name: "paths",
                kind: KeyKind::Paths,
                meaning: "files it may open, matched on the resolved path (absent: any)",
            },
            KeySpec {
                name: "deny-paths",
                kind: KeyKind::Paths,
                meaning: "files it never opens, whatever `paths` says",
            },
            KeySpec {
                name: "modes",
                kind: KeyKind::Words(FILE_MODES),
                meaning: "open modes allowed; [\"r\"] is read-only (absent: any)",
            },
        ],
    },
    CommandSchema {
        command: "guest-set-user-password",
        keys: &[
            KeySpec {
                name: "users",
                kind: KeyKind::Users,
                meaning: "users whose password it may set (absent: any)",
            },
            KeySpec {
                name: "deny-users",
                kind: KeyKind::Users,
                meaning: "users whose password it never sets, whatever `users` says",
            },
            KeySpec {
                name: "crypted",
                kind: KeyKind::Bool,
                meaning: "whether a pre-hashed (crypted) password is accepted (absent: true)",
            },
        ],
    },
    CommandSchema {
        command: "guest-fsfreeze-freeze",
        keys: MOUNTPOINT_KEYS,
    },
    CommandSchema {
        command: "guest-fsfreeze-freeze-list",
        keys: MOUNTPOINT_KEYS,
    },
    CommandSchema {
        command: "guest-fstrim",
        keys: MOUNTPOINT_KEYS,
    },
    CommandSchema {
        command: "guest-set-vcpus",
        keys: &[
            KeySpec {
                name: "offline",
                kind: KeyKind::Bool,
                meaning: "whether vCPUs may be taken offline (absent: true)",
            },
            KeySpec {
                name: "min-online",
                kind: KeyKind::Count { min: 1, max: 65536 },
                meaning: "fewest vCPUs left online (absent: 1)",
            },
        ],
    },
    CommandSchema {
        command: "guest-set-memory-blocks",
        keys: &[KeySpec {
            name: "offline",
            kind: KeyKind::Bool,
            meaning: "whether memory blocks may be taken offline (absent: true)",
        }],
    },
    CommandSchema {
        command: "guest-shutdown",
        keys: &[KeySpec {
            name: "modes",
            kind: KeyKind::Words(SHUTDOWN_MODES),
            meaning: "shutdown modes allowed (absent: any)",
        }],
    },
    CommandSchema {
        command: "guest-ssh-get-authorized-keys",
        keys: SSH_KEYS,
    },
    CommandSchema {
        command: "guest-ssh-add-authorized-keys",
        keys: SSH_KEYS,
    },
    CommandSchema {
        command: "guest-ssh-remove-authorized-keys",
        keys: SSH_KEYS,
    },
    CommandSchema {
        command: "guest-exec",
        keys: &[
            KeySpec {
                name: "programs",
                kind: KeyKind::Paths,
                meaning: "programs it may run, matched on the resolved path \
                          (absent: guest-exec is refused)",
            },
            KeySpec {
                name: "deny-programs",
                kind: KeyKind::Paths,
                meaning: "programs it never runs, whatever `programs` says",
            },
        ],
    },
];

/// Commands that run a program the host chooses: refused unless their
/// rules name the programs.
pub const RUNS_PROGRAMS: &[&str] = &["guest-exec"];

pub fn schema(command: &str) -> Option<&'static CommandSchema> {
    SCHEMAS.iter().find(|s| s.command == command)
}

/// A value with the place it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub location: Location,
}

#[derive(Clone, Debug)]
pub enum RuleValue {
    Paths(Vec<Located<PathPattern>>),
    /// User-name patterns.
    Users(Vec<Located<String>>),
    /// Words, normalised (file modes without `b`).
    Words(Vec<Located<String>>),
    Bool(bool),
    Count(u32),
}

/// One key of a rules table, as written.
#[derive(Clone, Debug)]
pub struct RuleEntry {
    pub key: &'static KeySpec,
    /// Where the key was written.
    pub location: Location,
    pub value: RuleValue,
}

/// The `[rules.COMMAND]` table of one command.
#[derive(Clone, Debug)]
pub struct CommandRules {
    pub command: &'static str,
    /// Where the table's name was written.
    pub location: Location,
    pub entries: Vec<RuleEntry>,
}

/// An argument verdict: why it is allowed (a note for the rule text, if
/// any rule was involved), or the rule that refuses it.
pub type Verdict = Result<Option<String>, String>;

impl CommandRules {
    fn entry(&self, key: &str) -> Option<&RuleEntry> {
        self.entries.iter().find(|e| e.key.name == key)
    }

    fn paths(&self, key: &str) -> Option<(&RuleEntry, &[Located<PathPattern>])> {
        self.entry(key).and_then(|e| match &e.value {
            RuleValue::Paths(p) => Some((e, p.as_slice())),
            _ => None,
        })
    }

    fn users(&self, key: &str) -> Option<(&RuleEntry, &[Located<String>])> {
        self.entry(key).and_then(|e| match &e.value {
            RuleValue::Users(u) => Some((e, u.as_slice())),
            _ => None,
        })
    }

    fn words(&self, key: &str) -> Option<(&RuleEntry, &[Located<String>])> {
        self.entry(key).and_then(|e| match &e.value {
            RuleValue::Words(w) => Some((e, w.as_slice())),
            _ => None,
        })
    }

    fn flag(&self, key: &str) -> Option<(&RuleEntry, bool)> {
        self.entry(key).and_then(|e| match e.value {
            RuleValue::Bool(b) => Some((e, b)),
            _ => None,
        })
    }

    fn count(&self, key: &str) -> Option<(&RuleEntry, u32)> {
        self.entry(key).and_then(|e| match e.value {
            RuleValue::Count(n) => Some((e, n)),
            _ => None,
        })
    }

    fn at(&self, entry: &RuleEntry) -> String {
        format!(
            "[rules.{}] {} at {}",
            self.command, entry.key.name, entry.location
        )
    }

    /// A path against an allow key and a deny key: deny beats allow, and an
    /// allow key that is present must match.
    fn judge_path(&self, allow: &str, deny: &str, path: &Path) -> Verdict {
        if !path_glob::is_resolved(path) {
            return Err(format!(
                "[rules.{}]: {path:?} is not a resolved absolute path",
                self.command
            ));
        }
        if let Some((_, patterns)) = self.paths(deny) {
            if let Some(p) = patterns.iter().find(|p| p.value.matches(path)) {
                return Err(format!(
                    "[rules.{}] {deny} \"{}\" at {} matches {path:?}",
                    self.command,
                    p.value.as_str(),
                    p.location
                ));
            }
        }
        match self.paths(allow) {
            None => Ok(None),
            Some((entry, patterns)) => match patterns.iter().find(|p| p.value.matches(path)) {
                Some(p) => Ok(Some(format!(
                    "[rules.{}] {allow} \"{}\" at {} matches {path:?}",
                    self.command,
                    p.value.as_str(),
                    p.location
                ))),
                None => Err(format!("{}: no pattern matches {path:?}", self.at(entry))),
            },
        }
    }

    pub fn judge_file_open(&self, path: &Path, mode: &str) -> Verdict {
        let mode = normalize_file_mode(mode);
        if let Some((entry, modes)) = self.words("modes") {
            if !modes.iter().any(|m| m.value == mode) {
                return Err(format!(
                    "{}: mode \"{mode}\" is not allowed (allowed: {})",
                    self.at(entry),
                    list(modes.iter().map(|m| m.value.as_str()))
                ));
            }
        }
        self.judge_path("paths", "deny-paths", path)
    }

    pub fn judge_password(&self, user: &str, crypted: bool) -> Verdict {
        if crypted {
            if let Some((entry, false)) = self.flag("crypted") {
                return Err(format!(
                    "{}: pre-hashed (crypted) passwords are not accepted",
                    self.at(entry)
                ));
            }
        }
        self.judge_user(user)
    }

    /// A user name against `users` and `deny-users`.
    pub fn judge_user(&self, user: &str) -> Verdict {
        if let Some((_, denied)) = self.users("deny-users") {
            if let Some(p) = denied.iter().find(|p| glob::matches(&p.value, user)) {
                return Err(format!(
                    "[rules.{}] deny-users \"{}\" at {} matches \"{user}\"",
                    self.command, p.value, p.location
                ));
            }
        }
        match self.users("users") {
            None => Ok(None),
            Some((entry, allowed)) => {
                match allowed.iter().find(|p| glob::matches(&p.value, user)) {
                    Some(p) => Ok(Some(format!(
                        "[rules.{}] users \"{}\" at {} matches \"{user}\"",
                        self.command, p.value, p.location
                    ))),
                    None => Err(format!("{}: no pattern matches \"{user}\"", self.at(entry))),
                }
            }
        }
    }

    pub fn judge_mountpoints(&self, mountpoints: &[&Path]) -> Verdict {
        let mut notes = Vec::new();
        for mountpoint in mountpoints {
            if let Some(note) = self.judge_path("mountpoints", "deny-mountpoints", mountpoint)? {
                notes.push(note);
            }
        }
        Ok((!notes.is_empty()).then(|| notes.join("; ")))
    }

    pub fn judge_offlining(&self, offlining: bool, what: &str) -> Verdict {
        match self.flag("offline") {
            Some((entry, false)) if offlining => Err(format!(
                "{}: {what} may not be taken offline",
                self.at(entry)
            )),
            _ => Ok(None),
        }
    }

    pub fn judge_vcpus(&self, offlining: bool, online_after: u32) -> Verdict {
        self.judge_offlining(offlining, "vCPUs")?;
        match self.count("min-online") {
            Some((entry, min)) if online_after < min => Err(format!(
                "{}: {online_after} vCPUs would be online, fewer than {min}",
                self.at(entry)
            )),
            _ => Ok(None),
        }
    }

    pub fn judge_shutdown(&self, mode: &str) -> Verdict {
        match self.words("modes") {
            Some((entry, modes)) if !modes.iter().any(|m| m.value == mode) => Err(format!(
                "{}: mode \"{mode}\" is not allowed (allowed: {})",
                self.at(entry),
                list(modes.iter().map(|m| m.value.as_str()))
            )),
            _ => Ok(None),
        }
    }

    /// The program list, if the table names one.
    pub fn programs(&self) -> Option<&[Located<PathPattern>]> {
        self.paths("programs").map(|(_, p)| p)
    }

    pub fn judge_exec(&self, program: &Path) -> Verdict {
        self.judge_path("programs", "deny-programs", program)
    }
}

/// One line per key a command's rules take: its value in `rules`, or
/// what its absence means. For `--check-policy`.
pub fn describe_limits(schema: &CommandSchema, rules: Option<&CommandRules>) -> Vec<String> {
    schema
        .keys
        .iter()
        .map(|spec| match rules.and_then(|r| r.entry(spec.name)) {
            Some(e) => format!("{}: {}", spec.name, describe_value(&e.value)),
            None => format!("{}: {}", spec.name, absent_meaning(spec)),
        })
        .collect()
}

fn describe_value(value: &RuleValue) -> String {
    match value {
        RuleValue::Paths(p) if p.is_empty() => "[] (none)".into(),
        RuleValue::Paths(p) => list(p.iter().map(|p| p.value.as_str())),
        RuleValue::Users(w) | RuleValue::Words(w) if w.is_empty() => "[] (none)".into(),
        RuleValue::Users(w) | RuleValue::Words(w) => list(w.iter().map(|w| w.value.as_str())),
        RuleValue::Bool(b) => b.to_string(),
        RuleValue::Count(n) => n.to_string(),
    }
}

/// What a key's absence means, from the "(absent: …)" part of its meaning.
pub fn absent_meaning(spec: &KeySpec) -> String {
    spec.meaning
        .split_once("(absent: ")
        .map_or("none", |(_, rest)| rest.trim_end_matches(')'))
        .to_string()
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"{item}\"");
    }
    out
}

/// A file mode without `b`, which means nothing on Linux.
pub fn normalize_file_mode(mode: &str) -> String {
    mode.replace('b', "")
}
