//! Prints values exactly as qemu-ga does: `": "` and `", "` separators, pure
//! ASCII with uppercase `\uXXXX` escapes, and object members in the order of
//! QEMU's hash table, so a byte-for-byte comparison with qemu-ga is possible.

use serde_json::{Map, Value};

/// QEMU's QDict has 512 buckets, keyed by the TDB hash of the member name.
const QDICT_BUCKETS: u32 = 512;

fn tdb_hash(key: &str) -> u32 {
    let mut value = 0x238F_13AFu32.wrapping_mul(key.len() as u32);
    for (i, &byte) in key.as_bytes().iter().enumerate() {
        value = value.wrapping_add(u32::from(byte) << ((i * 5) % 24));
    }
    1_103_515_243u32.wrapping_mul(value).wrapping_add(12345)
}

/// Member names in QDict iteration order: by bucket, and within a bucket the
/// member inserted last comes first.
pub fn qdict_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let members: Vec<(&String, &Value)> = map.iter().collect();
    qdict_positions(members.len(), |i| members[i].0)
        .into_iter()
        .map(|i| members[i])
        .collect()
}

/// Positions of `len` keys (`key_at`, in insertion order) in QDict
/// iteration order.
fn qdict_positions<'k>(len: usize, key_at: impl Fn(usize) -> &'k str) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..len).collect();
    positions.sort_by_key(|&i| (tdb_hash(key_at(i)) % QDICT_BUCKETS, std::cmp::Reverse(i)));
    positions
}

/// One member of an object printed by `write_members`: its name and what
/// prints its value.
pub type Member<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>));

/// Prints an object whose members (in insertion order) print their own
/// values, in QDict order as `write_value` does: for a reply whose value
/// is not a `Value`, such as a file read's payload encoded straight into
/// the output.
pub fn write_members(members: &[Member], out: &mut Vec<u8>) {
    let ordered = qdict_positions(members.len(), |i| members[i].0)
        .into_iter()
        .map(|i| members[i]);
    write_object(ordered, out, |write, out| write(out));
}

/// `{"key": value, ...}` for members already in printing order, each value
/// printed by `write`.
fn write_object<'k, T>(
    members: impl IntoIterator<Item = (&'k str, T)>,
    out: &mut Vec<u8>,
    mut write: impl FnMut(T, &mut Vec<u8>),
) {
    out.push(b'{');
    for (n, (key, item)) in members.into_iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(b", ");
        }
        write_string(key, out);
        out.extend_from_slice(b": ");
        write(item, out);
    }
    out.push(b'}');
}

pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                write_double(n.as_f64().unwrap_or(0.0), out);
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(
            qdict_order(map)
                .into_iter()
                .map(|(key, item)| (key.as_str(), item)),
            out,
            write_value,
        ),
    }
}

pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // Printable ASCII other than `"` and `\` is copied as it is, in runs:
        // a large base64 payload is one run.
        let run = plain_run(&bytes[start..]);
        out.extend_from_slice(&bytes[start..start + run]);
        start += run;
        let Some(c) = s[start..].chars().next() else {
            break;
        };
        write_escaped(c, out);
        start += c.len_utf8();
    }
    out.push(b'"');
}

/// Without short-circuits, so a fold over a block of bytes stays free of
/// branches.
fn needs_escape(b: u8) -> bool {
    !(b' '..=b'~').contains(&b) | (b == b'"') | (b == b'\\')
}

/// Length of the leading run of bytes that need no escape. Whole blocks
/// first, tested without branches so the compiler turns the test into
/// vector compares, then byte by byte from the block that has one: the
/// payload of a file read is megabytes of base64.
fn plain_run(bytes: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut clean = 0;
    for block in bytes.chunks_exact(BLOCK) {
        let escapes = block.iter().fold(false, |any, &b| any | needs_escape(b));
        if escapes {
            break;
        }
        clean += BLOCK;
    }
    clean
        + bytes[clean..]
            .iter()
            .position(|&b| needs_escape(b))
            .unwrap_or(bytes.len() - clean)
}

/// Prints guest-file-read's return: count, buf-b64 and eof, inserted in
/// qemu-ga's order, with the data encoded straight into `out` (the one
/// result printed without a `Value`: its payload is the front's bulk).
pub fn write_file_read_result(data: &[u8], eof: bool, out: &mut Vec<u8>) {
    write_members(
        &[
            ("count", &|o| {
                o.extend_from_slice(data.len().to_string().as_bytes())
            }),
            ("buf-b64", &|o| {
                o.push(b'"');
                protocol::qbase64::encode_into(data, o);
                o.push(b'"');
            }),
            ("eof", &|o| write_value(&Value::Bool(eof), o)),
        ],
        out,
    );
}

/// Bytes `write_value` will print, about: enough to size the output once.
pub fn size_hint(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| size_hint(v) + 2).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 6 + size_hint(v))
                .sum::<usize>()
        }
        _ => 24,
    }
}

fn write_escaped(c: char, out: &mut Vec<u8>) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.extend_from_slice(format!("\\u{unit:04X}").as_bytes());
            }
        }
    }
}

/// C's `%.17g`, which QEMU uses for doubles.
fn write_double(f: f64, out: &mut Vec<u8>) {
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let scientific = format!("{f:.16e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let text = if !(-4..17).contains(&exponent) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (16 - exponent).max(0) as usize;
        trim_fraction(&format!("{f:.decimals$}")).to_string()
    };
    out.extend_from_slice(text.as_bytes());
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_run_stops_at_the_first_byte_to_escape_wherever_it_is() {
        let naive = |b: &[u8]| b.iter().position(|&c| needs_escape(c)).unwrap_or(b.len());
        let base = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec();
        for special in [0u8, 0x1F, b'"', b'\\', 0x7F, 0x80, 0xFF, b' ', b'~'] {
            for at in 0..base.len() {
                let mut bytes = base.clone();
                bytes[at] = special;
                for from in 0..=at {
                    assert_eq!(
                        plain_run(&bytes[from..]),
                        naive(&bytes[from..]),
                        "byte {special:#x} at {at}, from {from}"
                    );
                }
            }
        }
    }

    fn text(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn member_order_matches_qemu_ga() {
        // Orders observed on Debian's qemu-ga 7.2.
        assert_eq!(
            text(&json!({"return": {}, "id": 1})),
            r#"{"return": {}, "id": 1}"#
        );
        assert_eq!(
            text(&json!({"error": {}, "id": 1})),
            r#"{"id": 1, "error": {}}"#
        );
        assert_eq!(
            text(&json!({"class": "A", "desc": "B"})),
            r#"{"class": "A", "desc": "B"}"#
        );
        assert_eq!(
            text(&json!({"count": 0, "buf-b64": "", "eof": false})),
            r#"{"count": 0, "buf-b64": "", "eof": false}"#
        );
        assert_eq!(
            text(&json!({"position": 0, "eof": false})),
            r#"{"eof": false, "position": 0}"#
        );
        assert_eq!(
            text(&json!({"name": "x", "enabled": true, "success-response": true})),
            r#"{"enabled": true, "name": "x", "success-response": true}"#
        );
    }

    #[test]
    fn ascii_only_uppercase_escapes() {
        assert_eq!(
            text(&json!("é😀\u{7f}\u{1}\n/\"\\")),
            r#""\u00E9\uD83D\uDE00\u007F\u0001\n/\"\\""#
        );
        assert_eq!(text(&json!([])), "[]");
        assert_eq!(
            text(&json!([1, -2, u64::MAX])),
            "[1, -2, 18446744073709551615]"
        );
    }

    #[test]
    fn doubles_like_percent_17g() {
        assert_eq!(text(&json!(1.5)), "1.5");
        assert_eq!(text(&json!(0.1)), "0.10000000000000001");
        assert_eq!(text(&json!(1e20)), "1e+20");
        assert_eq!(text(&json!(1.0)), "1");
    }

    /// C's own `%.17g`, to hold the writer to.
    fn c_format(f: f64) -> String {
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: the format takes one double; buf is large enough for any
        // %.17g output and snprintf NUL-terminates it.
        unsafe { libc::snprintf(buf.as_mut_ptr(), buf.len(), c"%.17g".as_ptr(), f) };
        // SAFETY: snprintf wrote a NUL-terminated string into buf.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn doubles_match_the_c_library() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut samples = vec![
            0.52,
            2.06,
            1e-5,
            1.5e-7,
            123456789012345678.0,
            1e16,
            1e17,
            9.999999999999999e16,
            1_700_000_001.999_999,
            1_690_000_000.5,
            -0.1,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        for _ in 0..20_000 {
            let f = f64::from_bits(next());
            if f.is_finite() {
                samples.push(f);
            }
            // Login times and load averages: seconds with a fraction.
            samples.push((next() % 4_000_000_000) as f64 + (next() % 1_000_000) as f64 / 1e6);
            samples.push((next() % 10_000) as f64 / 100.0);
        }
        for f in samples {
            let mut out = Vec::new();
            write_double(f, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), c_format(f), "{f:e}");
        }
    }

    #[test]
    fn a_read_result_prints_as_the_same_result_built_as_a_value() {
        for (data, eof) in [(&b""[..], true), (b"a", false), (&[0xFFu8; 1000][..], true)] {
            let mut direct = Vec::new();
            write_file_read_result(data, eof, &mut direct);
            let mut map = serde_json::Map::new();
            map.insert("count".into(), json!(data.len()));
            map.insert("buf-b64".into(), json!(protocol::qbase64::encode(data)));
            map.insert("eof".into(), json!(eof));
            let mut as_value = Vec::new();
            write_value(&Value::Object(map), &mut as_value);
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(as_value).unwrap()
            );
        }
    }
}
