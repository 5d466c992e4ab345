//! Base64 as qemu-ga reads and writes it. Input is first checked against
//! the alphabet (plus `=` and `\n`; anything else is refused with qemu-ga's
//! error), then decoded the lenient way glib does: `=` counts as a zero
//! digit, only the last two characters of each complete group of four can
//! shorten it, and an incomplete group at the end is dropped. So `"aGVsbG8"`
//! gives `"hel"` and `"a==="` gives `"h"`, exactly as from qemu-ga.

use crate::QgaError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn rank(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'=' => Some(0),
        _ => None,
    }
}

/// Decodes host-supplied base64 with qemu-ga's acceptance rules.
pub fn decode(text: &str) -> Result<Vec<u8>, QgaError> {
    let bytes = text.as_bytes();
    if bytes.iter().any(|&c| c != b'\n' && rank(c).is_none()) {
        return Err(QgaError::base64_invalid());
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut group = 0u32;
    let mut count = 0;
    // The last two characters seen, newest first.
    let mut last = [0u8; 2];
    for &c in bytes {
        let Some(r) = rank(c) else { continue };
        last = [c, last[0]];
        group = (group << 6) | r;
        count += 1;
        if count == 4 {
            out.push((group >> 16) as u8);
            if last[1] != b'=' {
                out.push((group >> 8) as u8);
            }
            if last[0] != b'=' {
                out.push(group as u8);
            }
            group = 0;
            count = 0;
        }
    }
    Ok(out)
}

/// Standard base64 with padding, as qemu-ga writes it.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let digit = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(digit(18));
        out.push(digit(12));
        out.push(if chunk.len() > 1 { digit(6) } else { '=' });
        out.push(if chunk.len() > 2 { digit(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and what qemu-ga 7.2 fed to `cat` for them.
    #[test]
    fn decodes_as_qemu_ga() {
        for (input, want) in [
            ("aGVsbG8=", &b"hello"[..]),
            ("aGVs\nbG8=", b"hello"),
            ("\n\naGVsbG8=\n", b"hello"),
            ("aGVsbG8==", b"hello"),
            ("aGVsbG8=x", b"hello"),
            ("aGVsbG8", b"hel"),
            ("a===", b"h"),
            ("aG", b""),
            ("", b""),
            ("AP8B", b"\x00\xff\x01"),
        ] {
            assert_eq!(decode(input).unwrap(), want, "{input:?}");
        }
        // Lengths qemu-ga produced for odd padding.
        assert_eq!(decode("=aGVs").unwrap().len(), 3);
        assert_eq!(decode("aGVs=bG8=").unwrap().len(), 6);
    }

    #[test]
    fn refuses_what_qemu_ga_refuses() {
        for input in [
            "aGVs bG8=",
            "aGVs\rbG8=",
            "aGVs\tbG8=",
            "-_",
            "aGVs.",
            "aGVs\u{e9}",
        ] {
            assert_eq!(
                decode(input).unwrap_err().desc,
                "Base64 data contains invalid characters",
                "{input:?}"
            );
        }
    }

    #[test]
    fn encodes_with_padding_and_round_trips() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"h"), "aA==");
        assert_eq!(encode(b"hi\n"), "aGkK");
        assert_eq!(encode(b"hello"), "aGVsbG8=");
        let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }
}
