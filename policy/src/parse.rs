//! From TOML text to a validated `Policy`, collecting every problem with its
//! place in the file: unknown keys and command names (with a suggestion),
//! values of the wrong type, bad patterns, conflicting and dead rules.

use crate::diagnostic::{self, Diagnostic, PolicyErrors};
use crate::location::Location;
use crate::path_glob::PathPattern;
use crate::rules::{
    self, CommandRules, KeyKind, KeySpec, Located, RuleEntry, RuleValue, FILE_MODES,
    FILE_MODES_CANONICAL,
};
use crate::{glob, suggest, CommandPattern, DefaultAction, Policy};
use protocol::commands::COMMANDS;
use std::ops::Range;
use std::path::Path;
use toml_edit::{ImDocument, Item, TableLike, Value};

const TOP_KEYS: &[&str] = &["default", "allow", "deny", "rules"];

/// Programs that run whatever they are told to: allowing one allows
/// everything.
const RUNS_ANYTHING: &[&str] = &[
    "/bin/sh",
    "/bin/bash",
    "/bin/dash",
    "/usr/bin/sh",
    "/usr/bin/bash",
    "/usr/bin/dash",
    "/usr/bin/zsh",
    "/usr/bin/env",
    "/usr/bin/python3",
    "/usr/bin/perl",
    "/usr/bin/sudo",
    "/usr/bin/su",
    "/usr/bin/busybox",
    "/usr/bin/xargs",
    "/usr/bin/find",
];

pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyErrors> {
    let mut p = Parser {
        file,
        text,
        diagnostics: Vec::new(),
    };
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = p.at(e.span());
            return Err(PolicyErrors {
                diagnostics: vec![Diagnostic::error(
                    at,
                    e.message().trim_end().replace('\n', ": "),
                )],
            });
        }
    };
    let root = doc.as_table();
    let mut policy = Policy {
        file: file.to_string(),
        ..Policy::deny_all()
    };
    let mut allow_key = None;
    for (key, item) in root.iter() {
        let key_at = p.key_at(root, key);
        match key {
            "default" => {
                if let Some((value, at)) = p.string(item, "`default`") {
                    policy.default = match value.as_str() {
                        "deny" => DefaultAction::Deny,
                        "allow" => DefaultAction::Allow,
                        other => {
                            p.error(
                                at.clone(),
                                format!(
                                    "expected \"allow\" or \"deny\" for `default`, found \
                                     \"{other}\""
                                ),
                            );
                            DefaultAction::Deny
                        }
                    };
                    policy.default_location = Some(at);
                }
            }
            "allow" => {
                allow_key = Some(key_at);
                policy.allow = p.command_section("allow", item);
            }
            "deny" => policy.deny = p.command_section("deny", item),
            "rules" => policy.rules = p.rules(item),
            other => p.unknown_key(key_at, other, "at the top level", TOP_KEYS),
        }
    }
    p.check_command_lists(&policy);
    if policy.default == DefaultAction::Allow && !policy.allow.is_empty() {
        if let Some(at) = allow_key {
            p.warning(
                at,
                "[allow] changes nothing while default = \"allow\": every command not denied \
                 is allowed already",
            );
        }
    }
    for r in &policy.rules {
        p.check_rules(r);
    }
    diagnostic::sort(&mut p.diagnostics);
    if p.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(PolicyErrors {
            diagnostics: p.diagnostics,
        });
    }
    policy.parse_warnings = p.diagnostics;
    Ok(policy)
}

struct Parser<'t> {
    file: &'t str,
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn at(&self, span: Option<Range<usize>>) -> Location {
        match span {
            Some(span) => Location::from_offset(self.file, self.text, span.start),
            None => Location::file_only(self.file),
        }
    }

    fn key_at(&self, table: &dyn TableLike, key: &str) -> Location {
        self.at(table.get_key_value(key).and_then(|(k, _)| k.span()))
    }

    fn item_at(&self, item: &Item) -> Location {
        self.at(item.span())
    }

    fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(at, message));
    }

    fn warning(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(at, message));
    }

    fn unknown_key(&mut self, at: Location, key: &str, place: &str, expected: &[&str]) {
        let hint = match suggest::closest(key, expected.iter().copied()) {
            Some(near) => format!(" (did you mean `{near}`?)"),
            None => String::new(),
        };
        self.error(
            at,
            format!(
                "unknown key `{key}` {place}{hint}; expected {}",
                one_of(expected.iter().map(|k| format!("`{k}`")))
            ),
        );
    }

    fn string(&mut self, item: &Item, what: &str) -> Option<(String, Location)> {
        match item.as_value() {
            Some(Value::String(s)) => Some((s.value().clone(), self.at(s.span()))),
            _ => {
                self.error(
                    self.item_at(item),
                    format!("expected a string for {what}, found {}", type_name(item)),
                );
                None
            }
        }
    }

    /// Every string of an array, with its place; other elements are errors.
    fn strings(&mut self, item: &Item, what: &str) -> Vec<(String, Location)> {
        let Some(array) = item.as_array() else {
            self.error(
                self.item_at(item),
                format!(
                    "expected an array of strings for {what}, found {}",
                    type_name(item)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v {
                Value::String(s) => out.push((s.value().clone(), self.at(s.span()))),
                other => self.error(
                    self.at(other.span()),
                    format!(
                        "expected a string in {what}, found {}",
                        value_type_name(other)
                    ),
                ),
            }
        }
        out
    }

    /// `[allow]` or `[deny]`: a table with one key, `commands`.
    fn command_section(&mut self, section: &str, item: &Item) -> Vec<CommandPattern> {
        let Some(table) = item.as_table_like() else {
            self.error(
                self.item_at(item),
                format!(
                    "expected a table [{section}] with `commands = [...]`, found {}",
                    type_name(item)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in table.iter() {
            let key_at = self.key_at(table, key);
            if key != "commands" {
                self.unknown_key(key_at, key, &format!("in [{section}]"), &["commands"]);
                continue;
            }
            for (pattern, at) in self.strings(value, &format!("[{section}] commands")) {
                match check_command_pattern(&pattern) {
                    Ok(()) => out.push(CommandPattern {
                        pattern,
                        location: at,
                    }),
                    Err(message) => self.error(at, message),
                }
            }
        }
        out
    }

    fn rules(&mut self, item: &Item) -> Vec<CommandRules> {
        let Some(table) = item.as_table_like() else {
            self.error(
                self.item_at(item),
                format!(
                    "expected [rules.COMMAND] tables, found {} for `rules`",
                    type_name(item)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (command, value) in table.iter() {
            let at = self.key_at(table, command);
            if !COMMANDS.iter().any(|c| c.name == command) {
                let hint = suggest::did_you_mean(command, COMMANDS.iter().map(|c| c.name));
                self.error(
                    at,
                    format!("unknown command \"{command}\" in [rules]{hint}"),
                );
                continue;
            }
            let Some(schema) = rules::schema(command) else {
                self.error(
                    at,
                    format!(
                        "{command} takes no argument rules; they exist only for {}",
                        rules::SCHEMAS
                            .iter()
                            .map(|s| s.command)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            let Some(keys) = value.as_table_like() else {
                self.error(
                    self.item_at(value),
                    format!(
                        "expected a table [rules.{command}], found {}",
                        type_name(value)
                    ),
                );
                continue;
            };
            let mut entries = Vec::new();
            for (key, value) in keys.iter() {
                let key_at = self.key_at(keys, key);
                let Some(spec) = schema.keys.iter().find(|k| k.name == key) else {
                    let names: Vec<&str> = schema.keys.iter().map(|k| k.name).collect();
                    self.unknown_key(key_at, key, &format!("in [rules.{command}]"), &names);
                    continue;
                };
                let errors_before = self.error_count();
                let parsed = self.rule_value(command, spec, value);
                // A value with errors is reported once, not again as empty.
                if let Some(value) = parsed.filter(|_| self.error_count() == errors_before) {
                    entries.push(RuleEntry {
                        key: spec,
                        location: key_at,
                        value,
                    });
                }
            }
            out.push(CommandRules {
                command: schema.command,
                location: at,
                entries,
            });
        }
        out
    }

    fn rule_value(&mut self, command: &str, spec: &KeySpec, item: &Item) -> Option<RuleValue> {
        let what = format!("`{}` in [rules.{command}]", spec.name);
        match spec.kind {
            KeyKind::Paths => {
                let mut out = Vec::new();
                for (text, at) in self.strings(item, &what) {
                    match PathPattern::parse(&text) {
                        Ok(value) => out.push(Located {
                            value,
                            location: at,
                        }),
                        Err(message) => self.error(at, message),
                    }
                }
                Some(RuleValue::Paths(out))
            }
            KeyKind::Users => {
                let mut out = Vec::new();
                for (text, at) in self.strings(item, &what) {
                    if glob::is_valid_user_pattern(&text) {
                        out.push(Located {
                            value: text,
                            location: at,
                        });
                    } else {
                        self.error(
                            at,
                            format!(
                                "invalid user pattern \"{text}\": expected a user name \
                                 (letters, digits, _, -, ., a final $), optionally with * or ?"
                            ),
                        );
                    }
                }
                Some(RuleValue::Users(out))
            }
            KeyKind::Words(valid) => {
                let mut out = Vec::new();
                for (text, at) in self.strings(item, &what) {
                    if valid.contains(&text.as_str()) {
                        let value = if valid == FILE_MODES {
                            rules::normalize_file_mode(&text)
                        } else {
                            text
                        };
                        out.push(Located {
                            value,
                            location: at,
                        });
                    } else {
                        let shown = if valid == FILE_MODES {
                            FILE_MODES_CANONICAL
                        } else {
                            valid
                        };
                        let hint = if valid == FILE_MODES && (text == "rw" || text == "wr") {
                            " (\"r+\" reads and writes)".to_string()
                        } else if text == "poweroff" {
                            " (qemu-ga calls it \"powerdown\")".to_string()
                        } else {
                            suggest::did_you_mean(&text, shown.iter().copied())
                        };
                        self.error(
                            at,
                            format!(
                                "unknown value \"{text}\" for {what}{hint}; expected {}",
                                one_of(shown.iter().map(|w| format!("\"{w}\"")))
                            ),
                        );
                    }
                }
                Some(RuleValue::Words(out))
            }
            KeyKind::Bool => match item.as_value() {
                Some(Value::Boolean(b)) => Some(RuleValue::Bool(*b.value())),
                _ => {
                    self.error(
                        self.item_at(item),
                        format!(
                            "expected true or false for {what}, found {}",
                            type_name(item)
                        ),
                    );
                    None
                }
            },
            KeyKind::Count { min, max } => match item.as_value() {
                Some(Value::Integer(n))
                    if (i64::from(min)..=i64::from(max)).contains(n.value()) =>
                {
                    Some(RuleValue::Count(*n.value() as u32))
                }
                Some(Value::Integer(n)) => {
                    self.error(
                        self.item_at(item),
                        format!(
                            "{} is out of range for {what}: expected {min} to {max}",
                            n.value()
                        ),
                    );
                    None
                }
                _ => {
                    self.error(
                        self.item_at(item),
                        format!(
                            "expected a whole number for {what}, found {}",
                            type_name(item)
                        ),
                    );
                    None
                }
            },
        }
    }

    /// Conflicts and dead entries between `[allow]` and `[deny]`.
    fn check_command_lists(&mut self, policy: &Policy) {
        let listed = |list: &[CommandPattern]| -> Vec<(String, Location)> {
            list.iter()
                .map(|p| (p.pattern.clone(), p.location.clone()))
                .collect()
        };
        let (allow, deny) = (listed(&policy.allow), listed(&policy.deny));
        self.check_pair(
            ("[allow] commands", &allow),
            ("[deny] commands", &deny),
            |i, allowed| !glob::has_wildcard(allowed) && glob::matches(&deny[i].0, allowed),
        );
    }

    /// Conflicts, dead entries and empty lists within one rules table, and
    /// programs that would allow anything.
    fn check_rules(&mut self, r: &CommandRules) {
        let pairs = [
            ("paths", "deny-paths"),
            ("mountpoints", "deny-mountpoints"),
            ("programs", "deny-programs"),
            ("users", "deny-users"),
        ];
        for (allow_key, deny_key) in pairs {
            let value = |key: &str| {
                r.entries
                    .iter()
                    .find(|e| e.key.name == key)
                    .map(|e| &e.value)
            };
            let (allow, deny) = (listed(value(allow_key)), listed(value(deny_key)));
            let deny_paths: Vec<Option<PathPattern>> = match value(deny_key) {
                Some(RuleValue::Paths(p)) => p.iter().map(|p| Some(p.value.clone())).collect(),
                _ => vec![None; deny.len()],
            };
            self.check_pair(
                (&format!("[rules.{}] {allow_key}", r.command), &allow),
                (&format!("[rules.{}] {deny_key}", r.command), &deny),
                |i, allowed| {
                    if allowed.contains(['*', '?']) {
                        return false;
                    }
                    match &deny_paths[i] {
                        Some(pattern) => pattern.matches(Path::new(allowed)),
                        None => glob::matches(&deny[i].0, allowed),
                    }
                },
            );
        }
        for e in &r.entries {
            let empty = match &e.value {
                RuleValue::Paths(p) => p.is_empty(),
                RuleValue::Users(w) | RuleValue::Words(w) => w.is_empty(),
                _ => false,
            };
            if empty && !e.key.name.starts_with("deny-") {
                self.warning(
                    e.location.clone(),
                    format!(
                        "`{}` is empty: every {} request is refused",
                        e.key.name, r.command
                    ),
                );
            }
            if let (true, RuleValue::Paths(patterns)) = (e.key.name == "programs", &e.value) {
                for p in patterns {
                    let runs_anything = RUNS_ANYTHING
                        .iter()
                        .find(|program| p.value.matches(Path::new(program)));
                    if let Some(program) = runs_anything {
                        self.warning(
                            p.location.clone(),
                            format!(
                                "programs \"{}\" lets the host run {program}, which runs any \
                                 program: this allows everything",
                                p.value.as_str()
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Between an allow list and a deny list: the same pattern in both is
    /// an error (which one did the author mean?); an entry listed twice, or
    /// a literal allow entry a deny pattern always beats, is a warning.
    fn check_pair(
        &mut self,
        (allow_name, allow): (&str, &[(String, Location)]),
        (deny_name, deny): (&str, &[(String, Location)]),
        deny_covers: impl Fn(usize, &str) -> bool,
    ) {
        for (name, list) in [(allow_name, allow), (deny_name, deny)] {
            for (i, (text, at)) in list.iter().enumerate() {
                if let Some((_, first)) = list[..i].iter().find(|(t, _)| t == text) {
                    self.warning(
                        at.clone(),
                        format!("\"{text}\" is listed twice in {name} (first at {first})"),
                    );
                }
            }
        }
        for (text, at) in deny {
            if let Some((_, allowed_at)) = allow.iter().find(|(t, _)| t == text) {
                self.error(
                    at.clone(),
                    format!(
                        "conflicting rules: \"{text}\" is in both {allow_name} (at {allowed_at}) \
                         and {deny_name}; remove it from the one you did not mean"
                    ),
                );
            }
        }
        for (allowed, at) in allow {
            if deny.iter().any(|(t, _)| t == allowed) {
                continue;
            }
            if let Some(i) = (0..deny.len()).find(|&i| deny_covers(i, allowed)) {
                let (pattern, deny_at) = &deny[i];
                self.warning(
                    at.clone(),
                    format!(
                        "{allow_name} \"{allowed}\" never applies: {deny_name} \"{pattern}\" at \
                         {deny_at} beats it"
                    ),
                );
            }
        }
    }
}

/// The (text, place) of each entry of a list value.
fn listed(value: Option<&RuleValue>) -> Vec<(String, Location)> {
    match value {
        Some(RuleValue::Paths(p)) => p
            .iter()
            .map(|p| (p.value.as_str().to_string(), p.location.clone()))
            .collect(),
        Some(RuleValue::Users(u)) => u
            .iter()
            .map(|u| (u.value.clone(), u.location.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A command pattern must be well formed and name at least one known command.
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
    Err(format!(
        "unknown command \"{pattern}\"{}",
        suggest::did_you_mean(pattern, COMMANDS.iter().map(|c| c.name))
    ))
}

/// "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
fn one_of(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.len() {
        0 => "nothing".into(),
        1 => items[0].clone(),
        2 => format!("{} or {}", items[0], items[1]),
        _ => format!("one of {}", items.join(", ")),
    }
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => value_type_name(v),
    }
}

fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}
