//! Groups tokens into one top-level JSON value, as qemu-ga's streamer does:
//! a value is complete when its braces and brackets balance (or at once for
//! a bare scalar, or when a closing bracket has no opener). Every limit from
//! `protocol::limits` is enforced here, before anything is allocated for a
//! parsed value.

use super::lexer::{Lexer, Token, TokenKind};
use super::parser;
use protocol::limits::{MAX_JSON_NESTING, MAX_JSON_TOKENS, MAX_REQUEST_BYTES};
use protocol::QgaError;
use serde_json::Value;

/// One result of the input stream: a parsed value or the error qemu-ga
/// reports at that point.
#[derive(Debug, PartialEq)]
pub enum StreamItem {
    Value(Value),
    Error(QgaError),
}

#[derive(Default)]
pub struct Streamer {
    lexer: Lexer,
    tokens: Vec<Token>,
    braces: i64,
    brackets: i64,
    bytes: usize,
}

impl Streamer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops any half-received request (a new host connection starts clean).
    pub fn reset(&mut self) {
        self.lexer.reset();
        self.clear();
    }

    fn clear(&mut self) {
        self.tokens = Vec::new();
        self.braces = 0;
        self.brackets = 0;
        self.bytes = 0;
    }

    /// Feeds bytes; every completed value or error goes to `out`, in order.
    pub fn feed(&mut self, input: &[u8], out: &mut impl FnMut(StreamItem)) {
        let mut lexer = std::mem::take(&mut self.lexer);
        lexer.feed_slice(input, &mut |token| self.token(token, out));
        self.lexer = lexer;
    }

    fn token(&mut self, token: Token, out: &mut impl FnMut(StreamItem)) {
        match token.kind {
            TokenKind::Error => {
                return self.emit_error(out, &format!("stray '{}'", shown(&token.text)));
            }
            TokenKind::TooLong => return self.emit_limit(out, "JSON token size limit exceeded"),
            TokenKind::LeftCurly => self.braces += 1,
            TokenKind::RightCurly => self.braces -= 1,
            TokenKind::LeftSquare => self.brackets += 1,
            TokenKind::RightSquare => self.brackets -= 1,
            _ => {}
        }
        if self.bytes + token.text.len() + 1 > MAX_REQUEST_BYTES {
            return self.emit_limit(out, "JSON token size limit exceeded");
        }
        if self.tokens.len() + 1 > MAX_JSON_TOKENS {
            return self.emit_limit(out, "JSON token count limit exceeded");
        }
        if self.braces + self.brackets > MAX_JSON_NESTING as i64 {
            return self.emit_limit(out, "JSON nesting depth limit exceeded");
        }
        self.bytes += token.text.len();
        self.tokens.push(token);
        let open = self.braces > 0 || self.brackets > 0;
        if open && self.braces >= 0 && self.brackets >= 0 {
            return;
        }
        let tokens = std::mem::take(&mut self.tokens);
        self.clear();
        out(match parser::parse(&tokens) {
            Ok(value) => StreamItem::Value(value),
            Err(e) => StreamItem::Error(e),
        });
    }

    fn emit_error(&mut self, out: &mut impl FnMut(StreamItem), what: &str) {
        self.clear();
        out(StreamItem::Error(QgaError::json_parse(what)));
    }

    fn emit_limit(&mut self, out: &mut impl FnMut(StreamItem), desc: &str) {
        self.clear();
        out(StreamItem::Error(QgaError::generic(desc)));
    }
}

/// The bad bytes as qemu-ga shows them: cut at the first NUL (it formats a C
/// string), invalid UTF-8 shown as U+FFFD.
fn shown(text: &[u8]) -> String {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    String::from_utf8_lossy(&text[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: &[u8]) -> Vec<StreamItem> {
        let mut s = Streamer::new();
        let mut out = Vec::new();
        s.feed(input, &mut |i| out.push(i));
        out
    }

    fn err(desc: &str) -> StreamItem {
        StreamItem::Error(QgaError::generic(desc))
    }

    #[test]
    fn two_requests_in_one_read_and_one_split_byte_by_byte() {
        let got = run(b"{\"execute\":\"guest-ping\"}{\"a\":[1,2]}\n");
        assert_eq!(
            got,
            [
                StreamItem::Value(json!({"execute": "guest-ping"})),
                StreamItem::Value(json!({"a": [1, 2]}))
            ]
        );
        let mut s = Streamer::new();
        let mut out = Vec::new();
        for b in b"{\"execute\" :\n \"guest-ping\"}" {
            s.feed(&[*b], &mut |i| out.push(i));
        }
        assert_eq!(out, [StreamItem::Value(json!({"execute": "guest-ping"}))]);
    }

    #[test]
    fn qemu_ga_error_sequences() {
        let cases: &[(&[u8], &[&str])] = &[
            (
                b"{\"execute\":guest-ping}",
                &[
                    "JSON parse error, stray '-p'",
                    "JSON parse error, expecting value",
                ],
            ),
            (b"}", &["JSON parse error, expecting value"]),
            (
                b"{\"execute\" \"guest-ping\"}",
                &["JSON parse error, missing : in object pair"],
            ),
            (
                b"{\"execute\":\"guest-ping\",}",
                &["JSON parse error, expecting value"],
            ),
            (b"{\"a\":1,\"a\":2}", &["JSON parse error, duplicate key"]),
            (
                b"\"\\q\"",
                &["JSON parse error, invalid escape sequence in string"],
            ),
            (
                b"\"\xc3\x28\"",
                &["JSON parse error, invalid UTF-8 sequence in string"],
            ),
            (b"\x01", &["JSON parse error, stray '\u{1}'"]),
            (b"\x00", &["JSON parse error, stray ''"]),
            (b"\xff", &["JSON parse error, stray '\u{FFFD}'"]),
            (b"01 ", &["JSON parse error, stray '01'"]),
            (b"xyz ", &["JSON parse error, invalid keyword 'xyz'"]),
        ];
        for (input, want) in cases {
            let got = run(input);
            let want: Vec<_> = want.iter().map(|d| err(d)).collect();
            assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn sentinel_resets_a_half_request() {
        // The sentinel ends the half-read string token, which is what the
        // error shows (as qemu-ga does).
        let got = run(b"{\"execute\":\"gue\xff{\"execute\":\"guest-ping\"}");
        assert_eq!(
            got,
            [
                err("JSON parse error, stray '\"gue\u{FFFD}'"),
                StreamItem::Value(json!({"execute": "guest-ping"}))
            ]
        );
    }

    #[test]
    fn nesting_limit_then_one_error_per_stray_close() {
        let depth = MAX_JSON_NESTING + 1;
        let mut input = vec![b'['; depth];
        input.extend(std::iter::repeat_n(b']', depth));
        let got = run(&input);
        assert_eq!(got.len(), 1 + depth);
        assert_eq!(got[0], err("JSON nesting depth limit exceeded"));
        assert!(got[1..]
            .iter()
            .all(|i| *i == err("JSON parse error, expecting value")));
    }

    #[test]
    fn exact_nesting_limit_is_accepted() {
        let mut input = vec![b'['; MAX_JSON_NESTING];
        input.extend(std::iter::repeat_n(b']', MAX_JSON_NESTING));
        let got = run(&input);
        assert!(matches!(got.as_slice(), [StreamItem::Value(_)]));
    }
}
