//! Builds one JSON value from the tokens of one complete request, with
//! qemu-ga's error texts. The first error wins; nothing is half-built.

use super::lexer::{Token, TokenKind};
use protocol::QgaError;
use serde_json::{Map, Number, Value};

type Parsed<T> = Result<T, QgaError>;

fn error(what: &str) -> QgaError {
    QgaError::json_parse(what)
}

pub fn parse(tokens: &[Token]) -> Parsed<Value> {
    let mut cursor = Cursor { tokens, next: 0 };
    cursor.value()
}

struct Cursor<'a> {
    tokens: &'a [Token],
    next: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.next)
    }

    fn pop(&mut self) -> Parsed<&'a Token> {
        let token = self.peek().ok_or_else(|| error("premature EOI"))?;
        self.next += 1;
        Ok(token)
    }

    fn value(&mut self) -> Parsed<Value> {
        let token = self.peek().ok_or_else(|| error("premature EOI"))?;
        match token.kind {
            TokenKind::LeftCurly => self.object(),
            TokenKind::LeftSquare => self.array(),
            TokenKind::String => {
                self.next += 1;
                Ok(Value::String(string(&token.text)?))
            }
            TokenKind::Integer | TokenKind::Float => {
                self.next += 1;
                Ok(Value::Number(number(token)))
            }
            TokenKind::Keyword => {
                self.next += 1;
                match token.text.as_slice() {
                    b"true" => Ok(Value::Bool(true)),
                    b"false" => Ok(Value::Bool(false)),
                    b"null" => Ok(Value::Null),
                    other => Err(error(&format!(
                        "invalid keyword '{}'",
                        String::from_utf8_lossy(other)
                    ))),
                }
            }
            _ => Err(error("expecting value")),
        }
    }

    fn object(&mut self) -> Parsed<Value> {
        self.next += 1; // '{'
        let mut map = Map::new();
        if self.peek().ok_or_else(|| error("premature EOI"))?.kind == TokenKind::RightCurly {
            self.next += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.pair(&mut map)?;
            let token = self.pop()?;
            match token.kind {
                TokenKind::RightCurly => return Ok(Value::Object(map)),
                TokenKind::Comma => continue,
                _ => return Err(error("expected separator in dict")),
            }
        }
    }

    fn pair(&mut self, map: &mut Map<String, Value>) -> Parsed<()> {
        if self.peek().is_none() {
            return Err(error("premature EOI"));
        }
        let Value::String(key) = self.value()? else {
            return Err(error("key is not a string in object"));
        };
        if self.pop()?.kind != TokenKind::Colon {
            return Err(error("missing : in object pair"));
        }
        let value = self.value()?;
        if map.contains_key(&key) {
            return Err(error("duplicate key"));
        }
        map.insert(key, value);
        Ok(())
    }

    fn array(&mut self) -> Parsed<Value> {
        self.next += 1; // '['
        let mut list = Vec::new();
        if self.peek().ok_or_else(|| error("premature EOI"))?.kind == TokenKind::RightSquare {
            self.next += 1;
            return Ok(Value::Array(list));
        }
        loop {
            list.push(self.value()?);
            let token = self.pop()?;
            match token.kind {
                TokenKind::RightSquare => return Ok(Value::Array(list)),
                TokenKind::Comma => continue,
                _ => return Err(error("expected separator in list")),
            }
        }
    }
}

/// Integers that fit int64 stay signed, larger positive ones become uint64,
/// anything else a double, as qemu-ga reads numbers.
fn number(token: &Token) -> Number {
    // The lexer only lets ASCII digits, sign, point and exponent through.
    let text = std::str::from_utf8(&token.text).unwrap_or("0");
    if token.kind == TokenKind::Integer {
        if let Ok(i) = text.parse::<i64>() {
            return Number::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Number::from(u);
        }
    }
    let f: f64 = text.parse().unwrap_or(0.0);
    let finite = if f.is_finite() {
        f
    } else {
        f64::MAX.copysign(f)
    };
    Number::from_f64(finite).unwrap_or_else(|| Number::from(0))
}

/// Decodes a quoted string token: escapes, surrogate pairs and UTF-8 are
/// checked here, as qemu-ga's parser does.
fn string(raw: &[u8]) -> Parsed<String> {
    let body = &raw[1..raw.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'\\' {
            let escape = body.get(i + 1).copied().unwrap_or(0);
            i += 2;
            let c = match escape {
                b'"' => '"',
                b'\'' => '\'',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let (c, used) = unicode_escape(&body[i..])?;
                    i += used;
                    c
                }
                _ => return Err(error("invalid escape sequence in string")),
            };
            out.push(c);
            continue;
        }
        // Everything up to the next escape is plain text: check it as UTF-8
        // in one go (a backslash is ASCII, so it never splits a character).
        let end = body[i..]
            .iter()
            .position(|&c| c == b'\\')
            .map_or(body.len(), |p| i + p);
        match std::str::from_utf8(&body[i..end]) {
            Ok(text) => out.push_str(text),
            Err(_) => return Err(error("invalid UTF-8 sequence in string")),
        }
        i = end;
    }
    Ok(out)
}

/// After `\u`: four hex digits, and for a high surrogate a second `\uXXXX`
/// with the low half. Returns the character and the bytes used.
fn unicode_escape(rest: &[u8]) -> Parsed<(char, usize)> {
    let first = hex4(rest)?;
    if (0xD800..0xDC00).contains(&first) {
        if rest.get(4..6) != Some(b"\\u") {
            return Err(error("missing \\uXXXX for low surrogate"));
        }
        let second = hex4(&rest[6..])?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err(error("invalid \\uXXXX escape (not a low surrogate)"));
        }
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        let c = char::from_u32(code).ok_or_else(|| error("invalid \\uXXXX escape"))?;
        return Ok((c, 10));
    }
    if (0xDC00..0xE000).contains(&first) {
        return Err(error("invalid \\uXXXX escape (unpaired low surrogate)"));
    }
    // qemu-ga 7.2 accepts \u0000 (it keeps it as modified UTF-8 and echoes
    // it back as \u0000); so does this parser.
    let c = char::from_u32(first).ok_or_else(|| error("invalid \\uXXXX escape"))?;
    Ok((c, 4))
}

fn hex4(rest: &[u8]) -> Parsed<u32> {
    let digits = rest
        .get(..4)
        .ok_or_else(|| error("invalid hex escape sequence in string"))?;
    let mut value = 0;
    for &d in digits {
        let v = (d as char)
            .to_digit(16)
            .ok_or_else(|| error("invalid hex escape sequence in string"))?;
        value = value * 16 + v;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::super::{StreamItem, Streamer};
    use serde_json::{json, Value};

    fn one(input: &str) -> Value {
        let mut s = Streamer::new();
        let mut out = Vec::new();
        s.feed(format!("{input} ").as_bytes(), &mut |i| out.push(i));
        match out.pop() {
            Some(StreamItem::Value(v)) => v,
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn numbers_keep_qemu_types() {
        assert_eq!(one("-0"), json!(0));
        assert_eq!(one("9223372036854775807"), json!(i64::MAX));
        assert_eq!(one("18446744073709551615"), json!(u64::MAX));
        assert!(one("18446744073709551616").is_f64());
        assert!(one("1.5").is_f64());
        assert!(one("1e3").is_f64());
    }

    #[test]
    fn strings_single_quotes_escapes_and_surrogates() {
        assert_eq!(one("'it''"), json!("it")); // ends at the second quote
        assert_eq!(
            one(r#""a\"b\\c\/d\u00e9\ud83d\ude00""#),
            json!("a\"b\\c/dé😀")
        );
        assert_eq!(one("'say \\'hi\\''"), json!("say 'hi'"));
        assert_eq!(one("\"é\""), json!("é"));
    }
}
