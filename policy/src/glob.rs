//! Name globs for command and user names: `*` matches any run of
//! characters, `?` exactly one. Names are ASCII (validated), so bytes are
//! characters. Iterative with one backtrack point, so no input can make it
//! slow.

pub fn matches(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Characters a command pattern may contain.
pub fn is_valid_command_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-*?".contains(&c))
}

/// Characters a user-name pattern may contain: what `useradd` accepts
/// (letters, digits, `_`, `-`, `.`, a trailing `$`) plus the wildcards.
pub fn is_valid_user_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && !pattern.starts_with('-')
        && pattern
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_-.$*?".contains(&c))
}

pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            ("guest-*", "guest-ping", true),
            ("guest-*", "guest-", true),
            ("guest-get-*", "guest-ping", false),
            ("*-time", "guest-get-time", true),
            ("guest-?ing", "guest-ping", true),
            ("guest-?ing", "guest-pping", false),
            ("guest-ping", "guest-ping", true),
            ("guest-ping", "guest-pin", false),
            ("*file*", "guest-file-open", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*", "", true),
        ];
        for (p, n, want) in cases {
            assert_eq!(matches(p, n), want, "{p} vs {n}");
        }
    }
}
