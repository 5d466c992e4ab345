//! qemu-ga's configuration file: a GLib key file whose `[general]` group
//! holds the same settings as the command line (read first; the command
//! line then overrides single values and adds to the lists), and `-D`'s
//! output in the same format.
//!
//! The reader follows GLib's key-file rules as qemu-ga sees them: `#`
//! comments, `[group]` lines, `key=value` with blanks around the key and
//! before the value ignored, the last of repeated keys winning, escapes
//! `\s \t \n \r \\` in values, booleans `true`/`false`/`1`/`0`, and every
//! other line an error.

use std::path::Path;

pub const DEFAULT_CONFIG: &str = "/etc/qemu/qemu-ga.conf";

/// The environment variable qemu-ga reads its config path from.
pub const CONFIG_ENV: &str = "QGA_CONF";

/// The keys qemu-ga reads from `[general]`, and the deprecated spelling of
/// `block-rpcs` it still accepts.
pub const KNOWN_KEYS: &[&str] = &[
    "daemon",
    "method",
    "path",
    "logfile",
    "pidfile",
    "fsfreeze-hook",
    "statedir",
    "verbose",
    "retry-path",
    "block-rpcs",
    "allow-rpcs",
    "blacklist",
];

/// One value of `[general]`, unescaped, with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The `[general]` settings in file order (a repeated key keeps only its
/// last value), and warnings about keys qemu-ga would ignore.
#[derive(Debug, Default)]
pub struct General {
    pub settings: Vec<Setting>,
    pub warnings: Vec<String>,
}

/// Reads a config file. `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<General>, String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown}: not valid UTF-8"))?;
    parse(&text, &shown.to_string()).map(Some)
}

pub fn parse(text: &str, file: &str) -> Result<General, String> {
    let mut general = General::default();
    let mut group: Option<&str> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        let fail = |what: String| format!("{file}:{line_no}: {what}");
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.trim_end().strip_suffix(']').filter(|n| {
                !n.is_empty() && !n.contains(['[', ']']) && !n.chars().any(char::is_control)
            });
            match name {
                Some(name) => group = Some(name),
                None => return Err(fail(format!("invalid group line '{line}'"))),
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(fail(format!(
                "line '{line}' is not a key-value pair, group, or comment"
            )));
        };
        let key = key.trim_end();
        if key.is_empty() {
            return Err(fail(format!("line '{line}' has no key")));
        }
        let Some(group) = group else {
            return Err(fail("key file does not start with a group".into()));
        };
        if group != "general" {
            continue;
        }
        let value = unescape(value.trim_start()).map_err(fail)?;
        // A localised key (`key[lang]`) is a different key to qemu-ga.
        if !KNOWN_KEYS.contains(&key) && !key.contains('[') {
            general.warnings.push(format!(
                "{file}:{line_no}: warning: unknown key '{key}' in [general], ignored"
            ));
        }
        general.settings.retain(|s| s.key != key);
        general.settings.push(Setting {
            key: key.to_string(),
            value,
            line: line_no,
        });
    }
    Ok(general)
}

/// GLib's boolean values.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim_end() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => return Err(format!("invalid escape sequence '\\{other}' in value")),
            None => return Err("value ends with a lone '\\'".into()),
        }
    }
    Ok(out)
}

/// A value as GLib writes it: blanks at the start and line breaks and
/// backslashes anywhere escaped, everything else as is.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut leading = true;
    for c in value.chars() {
        match c {
            ' ' if leading => out.push_str("\\s"),
            '\t' if leading => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => {
                leading = false;
                out.push_str("\\\\");
            }
            other => {
                if other != ' ' && other != '\t' {
                    leading = false;
                }
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glib_key_file_rules() {
        let text = "# comment\n\n[other]\nmethod=ignored\n[general]\n  method = unix-listen  \r\n\
                    path=/a # not a comment\nverbose = 1 \nstatedir=/a\\tb\\\\c\\sd\\n\n\
                    path=/b\nverbose[de]=true\n[general]\nbogus=1\n";
        let g = parse(text, "q.conf").unwrap();
        let got: Vec<(&str, &str, usize)> = g
            .settings
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str(), s.line))
            .collect();
        assert_eq!(
            got,
            [
                ("method", "unix-listen  ", 6),
                ("verbose", "1 ", 8),
                ("statedir", "/a\tb\\c d\n", 9),
                ("path", "/b", 10),
                ("verbose[de]", "true", 11),
                ("bogus", "1", 13),
            ]
        );
        assert_eq!(
            g.warnings,
            ["q.conf:13: warning: unknown key 'bogus' in [general], ignored"]
        );
        assert_eq!(parse_bool("1 "), Some(true));
        assert_eq!(parse_bool("TRUE"), None);
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn malformed_files_are_refused_with_their_line() {
        for (text, want) in [
            (
                "x=1\n[general]\n",
                "q.conf:1: key file does not start with a group",
            ),
            (
                "[general]\nverbose\n",
                "q.conf:2: line 'verbose' is not a key-value pair, group, or comment",
            ),
            (
                "[general]\n;c\n",
                "q.conf:2: line ';c' is not a key-value pair, group, or comment",
            ),
            (
                "[general]\npath=a\\qb\n",
                "q.conf:2: invalid escape sequence '\\q' in value",
            ),
            ("[general\n", "q.conf:1: invalid group line '[general'"),
        ] {
            assert_eq!(parse(text, "q.conf").unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn escaping_matches_glib() {
        for (value, want) in [
            ("  a b ", "\\s\\sa b "),
            ("\t a\tb", "\\t\\sa\tb"),
            ("\n a", "\\n\\sa"),
            ("x\r\\;#=y", "x\\r\\\\;#=y"),
            ("/a\tb\\c d\n", "/a\tb\\\\c d\\n"),
            ("", ""),
        ] {
            assert_eq!(escape(value), want, "{value:?}");
        }
    }
}
