//! Path patterns for file, mountpoint and program rules, and the lexical
//! path normalisation `--explain` and early checks use.
//!
//! A pattern is an absolute path whose components may use wildcards:
//! `*` matches any run of characters within one component, `?` exactly one
//! character, and a component that is exactly `**` matches zero or more
//! whole components. So `/var/log/*.log` matches `/var/log/syslog.log` but
//! not `/var/log/apt/term.log`, and `/var/log/**` matches `/var/log`,
//! `/var/log/syslog` and `/var/log/apt/term.log`.
//!
//! Patterns match resolved paths (absolute, no `.` or `..`, no empty
//! component): a path that is not in that form never matches, so an
//! unresolved path can only be refused. Paths are bytes: a non-UTF-8 name
//! is matched byte for byte, and `?` takes one whole character where the
//! bytes form one.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// `**`: zero or more components.
    AnyDepth,
    /// One component, possibly with `*` and `?`.
    Component(Vec<u8>),
}

impl PathPattern {
    /// Validates a pattern; the error says what was expected.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "path pattern \"{text}\" is not absolute: expected a path starting with /"
            ));
        }
        if text.contains('\0') {
            return Err("path pattern contains a NUL character".into());
        }
        let mut parts = Vec::new();
        if text != "/" {
            let components: Vec<&str> = text[1..].split('/').collect();
            for (i, c) in components.iter().enumerate() {
                if c.is_empty() {
                    return Err(if i + 1 == components.len() {
                        format!(
                            "path pattern \"{text}\" ends with /: write \"{}\" for the path \
                             itself or \"{}**\" for everything under it",
                            text.trim_end_matches('/'),
                            text
                        )
                    } else {
                        format!("path pattern \"{text}\" has an empty component (//)")
                    });
                }
                if *c == "." || *c == ".." {
                    return Err(format!(
                        "path pattern \"{text}\" contains \"{c}\": patterns match resolved \
                         paths, so write the path without . and .."
                    ));
                }
                if *c == "**" {
                    parts.push(Part::AnyDepth);
                } else if c.contains("**") {
                    return Err(format!(
                        "path pattern \"{text}\": ** must be a whole component, as in \
                         /var/log/** (use * within a component)"
                    ));
                } else {
                    parts.push(Part::Component(c.as_bytes().to_vec()));
                }
            }
        }
        Ok(PathPattern {
            text: text.to_string(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if the pattern has no wildcard: it names exactly one path.
    pub fn is_literal(&self) -> bool {
        !self.text.contains(['*', '?'])
    }

    /// Whether `path`, which must be resolved, matches.
    pub fn matches(&self, path: &Path) -> bool {
        let Some(components) = resolved_components(path) else {
            return false;
        };
        // reach[j]: the parts seen so far can match the first j components.
        let n = components.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for part in &self.parts {
            let mut next = vec![false; n + 1];
            match part {
                Part::AnyDepth => {
                    let mut any = false;
                    for j in 0..=n {
                        any |= reach[j];
                        next[j] = any;
                    }
                }
                Part::Component(pattern) => {
                    for j in 1..=n {
                        next[j] = reach[j - 1] && component_matches(pattern, components[j - 1]);
                    }
                }
            }
            if !next.iter().any(|&r| r) {
                return false;
            }
            reach = next;
        }
        reach[n]
    }
}

/// The components of a resolved path, or `None` if it is not resolved.
fn resolved_components(path: &Path) -> Option<Vec<&[u8]>> {
    let bytes = path.as_os_str().as_bytes();
    let rest = bytes.strip_prefix(b"/")?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let components: Vec<&[u8]> = rest.split(|&b| b == b'/').collect();
    let resolved = components
        .iter()
        .all(|c| !c.is_empty() && *c != b"." && *c != b"..");
    resolved.then_some(components)
}

/// True if `path` is absolute with no `.`, `..` or empty component.
pub fn is_resolved(path: &Path) -> bool {
    resolved_components(path).is_some()
}

/// Resolves `.`, `..` and repeated slashes without looking at the
/// filesystem: symlinks are NOT followed, so this is only a first check.
/// A relative path is taken from `/`, the agent's working directory.
pub fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in path.as_os_str().as_bytes().split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    let mut joined = Vec::new();
    for c in &out {
        joined.push(b'/');
        joined.extend_from_slice(c);
    }
    if joined.is_empty() {
        joined.push(b'/');
    }
    PathBuf::from(OsStr::from_bytes(&joined))
}

/// `*` and `?` within one component, over bytes; `?` and the star's
/// backtracking step over whole UTF-8 characters, so a pattern never
/// splits one. Iterative with one backtrack point: linear-time per star.
fn component_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < name.len() {
        if pi < pattern.len() && pattern[pi] == b'?' {
            pi += 1;
            ni += char_len(name, ni);
        } else if pi < pattern.len() && pattern[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < pattern.len() && pattern[pi] == name[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            let next = sn + char_len(name, sn);
            pi = sp + 1;
            ni = next;
            star = Some((sp, next));
        } else {
            return false;
        }
    }
    pattern[pi..].iter().all(|&c| c == b'*')
}

/// Length of the UTF-8 character at `i`, or 1 for a byte that starts none.
fn char_len(bytes: &[u8], i: usize) -> usize {
    let end = (i + 4).min(bytes.len());
    for len in 1..=end - i {
        if std::str::from_utf8(&bytes[i..i + len]).is_ok() {
            return len;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(text: &str) -> PathPattern {
        PathPattern::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn matching_table() {
        let cases = [
            ("/var/log/**", "/var/log", true),
            ("/var/log/**", "/var/log/syslog", true),
            ("/var/log/**", "/var/log/apt/term.log", true),
            ("/var/log/**", "/var/logs", false),
            ("/var/log/**", "/var", false),
            ("/var/log/*", "/var/log/syslog", true),
            ("/var/log/*", "/var/log/apt/term.log", false),
            ("/var/log/*", "/var/log", false),
            ("/var/log/*.log", "/var/log/dpkg.log", true),
            ("/var/log/*.log", "/var/log/dpkg.log.1", false),
            ("/home/*/.ssh/**", "/home/ann/.ssh/authorized_keys", true),
            ("/home/*/.ssh/**", "/home/ann/x/.ssh/id", false),
            ("/**/shadow", "/etc/shadow", true),
            ("/**/shadow", "/shadow", true),
            ("/**/shadow", "/etc/gshadow", false),
            ("/**", "/", true),
            ("/**", "/anything/at/all", true),
            ("/", "/", true),
            ("/", "/etc", false),
            ("/etc/?asswd", "/etc/passwd", true),
            ("/etc/?asswd", "/etc/asswd", false),
            ("/data/caf?", "/data/caf\u{e9}", true),
            ("/data/??", "/data/\u{e9}", false),
            ("/data/*??", "/data/\u{20ac}", false),
            ("/a/**/b/**/c", "/a/b/c", true),
            ("/a/**/b/**/c", "/a/x/y/b/z/c", true),
            ("/a/**/b/**/c", "/a/x/y/c", false),
            // Unresolved paths never match.
            ("/var/log/**", "/var/log/../../etc/shadow", false),
            ("/**", "relative/path", false),
            ("/**", "/a//b", false),
            ("/**", "/a/./b", false),
        ];
        for (p, path, want) in cases {
            assert_eq!(pat(p).matches(Path::new(path)), want, "{p} vs {path}");
        }
    }

    #[test]
    fn non_utf8_names_match_byte_for_byte() {
        let path = Path::new(OsStr::from_bytes(b"/data/\xff\xfe"));
        assert!(pat("/data/*").matches(path));
        assert!(pat("/data/??").matches(path));
        assert!(!pat("/data/?").matches(path));
    }

    #[test]
    fn bad_patterns_say_what_was_expected() {
        let cases = [
            ("var/log", "is not absolute"),
            ("/var/log/", "ends with /"),
            ("/var//log", "empty component"),
            ("/var/../etc", "contains \"..\""),
            ("/var/./log", "contains \".\""),
            ("/var/log**", "** must be a whole component"),
        ];
        for (p, want) in cases {
            let e = PathPattern::parse(p).unwrap_err();
            assert!(e.contains(want), "{p}: {e}");
        }
    }

    #[test]
    fn lexical_normalisation() {
        let cases = [
            ("/var/log/../../etc/shadow", "/etc/shadow"),
            ("/../../..", "/"),
            ("//etc///passwd/", "/etc/passwd"),
            ("./etc/./hosts", "/etc/hosts"),
            ("etc/hosts", "/etc/hosts"),
            ("", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_lexically(Path::new(input)), Path::new(want));
        }
    }

    #[test]
    fn star_is_linear_on_hostile_input() {
        let name = "a".repeat(4000);
        let pattern = format!("/{}b", "*a".repeat(50));
        let start = std::time::Instant::now();
        assert!(!pat(&pattern).matches(Path::new(&format!("/{name}"))));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
