//! os-release(5) read the way qemu-ga reads it: as a GLib key file whose
//! lines sit in an `[os-release]` group, then each raw value through
//! qemu-ga's own unquoting. Any line GLib would reject makes the whole file
//! unusable, which sends qemu-ga on to the next candidate file.

use protocol::qga::GuestOSInfo;
use std::collections::HashMap;

const GROUP: &str = "os-release";

/// The os-release fields qemu-ga reports, from file contents; `None` when
/// GLib would not load the file.
pub fn parse(contents: &[u8]) -> Option<GuestOSInfo> {
    // GLib reads the file as a C string and wants valid UTF-8 up to its end.
    let contents = contents.split(|&b| b == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(contents).ok()?;
    let values = key_file_group(text)?;
    let field = |key: &str| values.get(key).map(|raw| unquote(raw.as_bytes()));
    Some(GuestOSInfo {
        id: field("ID"),
        name: field("NAME"),
        pretty_name: field("PRETTY_NAME"),
        version: field("VERSION"),
        version_id: field("VERSION_ID"),
        variant: field("VARIANT"),
        variant_id: field("VARIANT_ID"),
        ..GuestOSInfo::default()
    })
}

/// GLib's `g_ascii_isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// The raw values of the `[os-release]` group of a key file that starts
/// with that group, or `None` if GLib would refuse the file. A later value
/// of a key replaces an earlier one.
fn key_file_group(text: &str) -> Option<HashMap<String, String>> {
    let mut values = HashMap::new();
    let mut in_group = true;
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        // GLib drops a carriage return only before a newline.
        let line = match lines.peek() {
            Some(_) => line.strip_suffix('\r').unwrap_or(line),
            None => line,
        };
        let start = line.trim_start_matches(is_space);
        if start.is_empty() || start.starts_with('#') {
            continue;
        }
        if let Some(name) = group_header(start) {
            if !is_group_name(name) {
                return None;
            }
            in_group = name == GROUP;
            continue;
        }
        let (key, value) = start.split_once('=')?;
        if key.is_empty() {
            return None;
        }
        let key = key.trim_end_matches(is_space);
        if !is_key_name(key) {
            return None;
        }
        let value = value.trim_start_matches(is_space);
        if in_group {
            // The first group of the file is the only one whose Encoding
            // GLib checks, and ours is first.
            if key == "Encoding" && !value.eq_ignore_ascii_case("UTF-8") {
                return None;
            }
            values.insert(key.to_string(), value.to_string());
        }
    }
    Some(values)
}

/// `[name]`, optionally followed by spaces or tabs.
fn group_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let close = inner.find(']')?;
    let after = &inner[close + 1..];
    after
        .chars()
        .all(|c| c == ' ' || c == '\t')
        .then(|| &inner[..close])
}

fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '[' || c == ']' || c.is_ascii_control())
}

/// GLib's key names: no brackets except one trailing `[locale]`, no leading
/// or trailing space.
fn is_key_name(key: &str) -> bool {
    let base_len = key.find(['[', ']']).unwrap_or(key.len());
    let base = &key[..base_len];
    if base.is_empty() || base.starts_with(' ') || base.ends_with(' ') {
        return false;
    }
    let rest = &key[base_len..];
    if rest.is_empty() {
        return true;
    }
    let Some(locale) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    locale
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

/// qemu-ga's unquoting. A value that does not start with a double quote is
/// cut at its first space and then at its first semicolon (so a single-
/// quoted value keeps its quotes). A double-quoted value loses the quotes,
/// and a backslash before `$ ' " \ `` is dropped. The value is rewritten in
/// place as in qemu-ga, so an unterminated quote leaves the tail of the
/// original text after the rewritten part.
fn unquote(raw: &[u8]) -> String {
    let mut v = raw.to_vec();
    if v.first() != Some(&b'"') {
        for stop in [b' ', b';'] {
            if let Some(i) = v.iter().position(|&b| b == stop) {
                v.truncate(i);
            }
        }
        return String::from_utf8_lossy(&v).into_owned();
    }
    let (mut write, mut read) = (0, 1);
    while read < v.len() {
        if v[read] == b'\\' {
            let escaped = matches!(v.get(read + 1), Some(b'$' | b'\'' | b'"' | b'\\' | b'`'));
            if escaped {
                read += 1;
            }
        } else if v[read] == b'"' {
            v.truncate(write);
            break;
        }
        v[write] = v[read];
        write += 1;
        read += 1;
    }
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(text: &str) -> Option<GuestOSInfo> {
        parse(text.as_bytes())
    }

    #[test]
    fn debian() {
        let i = info(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )
        .unwrap();
        assert_eq!(
            i.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(i.id.as_deref(), Some("debian"));
        assert_eq!(i.version_id.as_deref(), Some("12"));
        assert_eq!(i.variant, None);
    }

    #[test]
    fn qemu_ga_quirks() {
        assert_eq!(unquote(b"plain value;x"), "plain");
        assert_eq!(unquote(b"a;b c"), "a");
        assert_eq!(unquote(b"'single quoted'"), "'single");
        assert_eq!(unquote(br#""a\"b\\c\$d\n""#), r#"a"b\c$d\n"#);
        assert_eq!(unquote(br#""trailing" junk"#), "trailing");
        // No closing quote: the rewritten text, then the original's tail.
        assert_eq!(unquote(br#""abc"#), "abcc");
        assert_eq!(unquote(b"\""), "\"");
        assert_eq!(unquote(br#""x\"#), r#"x\\"#);
    }

    #[test]
    fn glib_key_file_rules() {
        assert_eq!(info("ID=a\nID=b\n").unwrap().id.as_deref(), Some("b"));
        assert_eq!(info("  ID  =  x\r\n").unwrap().id.as_deref(), Some("x"));
        assert_eq!(info("[Other]\nID=x\n").unwrap().id, None);
        assert_eq!(
            info("[Other]\n[os-release]\nID=x").unwrap().id.as_deref(),
            Some("x")
        );
        assert!(info("not a key value line\nID=x\n").is_none());
        assert!(info("=x\n").is_none());
        assert!(info("A[b]c=1\n").is_none());
        assert!(info("NAME[de]=x\nID=y\n").is_some());
        assert!(info("Encoding=latin1\n").is_none());
        assert!(info("ID=\u{00e9}").is_some());
        assert!(parse(b"ID=\xff\n").is_none());
        assert_eq!(
            parse(b"ID=x\n\0garbage\xff").unwrap().id.as_deref(),
            Some("x")
        );
    }
}
