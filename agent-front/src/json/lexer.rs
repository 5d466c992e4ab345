//! Byte-at-a-time JSON lexer with qemu-ga's extensions (single-quoted
//! strings) and its error recovery: after a bad byte it reports the bad
//! token once, then skips input up to the next structural character, control
//! character or 0xFE/0xFF, so a host can always resynchronise.

use protocol::limits::MAX_REQUEST_BYTES;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    LeftCurly,
    RightCurly,
    LeftSquare,
    RightSquare,
    Colon,
    Comma,
    /// The raw token text including its quotes; escapes are checked later.
    String,
    Integer,
    Float,
    Keyword,
    /// Bytes that cannot start or continue any token.
    Error,
    /// A single token grew past the request size limit.
    TooLong,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Whitespace,
    Recovery,
    DoubleQuoted,
    DoubleQuotedEscape,
    SingleQuoted,
    SingleQuotedEscape,
    Minus,
    Zero,
    NonZero,
    Point,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
    Keyword,
}

/// What the current state does with the next byte.
enum Step {
    /// Append the byte and move to a state.
    Consume(State),
    /// The token ends before this byte; the byte is lexed again from Start.
    EndBefore(Option<TokenKind>),
    /// The byte completes a token.
    EndWith(TokenKind),
    /// The byte is invalid here; it becomes part of an error token.
    Fail,
}

pub struct Lexer {
    state: State,
    token: Vec<u8>,
}

impl Default for Lexer {
    fn default() -> Self {
        Self::new()
    }
}

impl Lexer {
    pub fn new() -> Self {
        Lexer {
            state: State::Start,
            token: Vec::new(),
        }
    }

    /// Forgets any half-read token (used when a new host connects).
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.token.clear();
    }

    /// Feeds bytes; completed tokens go to `emit`. Inside a string the
    /// ordinary bytes are taken in one run rather than one state step each:
    /// a large guest-file-write is almost all string.
    pub fn feed_slice(&mut self, input: &[u8], emit: &mut impl FnMut(Token)) {
        let mut i = 0;
        while i < input.len() {
            let quote = match self.state {
                State::DoubleQuoted => b'"',
                State::SingleQuoted => b'\'',
                _ => {
                    self.feed(input[i], emit);
                    i += 1;
                    continue;
                }
            };
            let run = input[i..]
                .iter()
                .position(|&b| b == quote || b == b'\\' || !(0x20..=0xFD).contains(&b))
                .unwrap_or(input.len() - i);
            if run == 0 {
                self.feed(input[i], emit);
                i += 1;
                continue;
            }
            // Never let one token pass the limit: feed the byte that crosses
            // it through the state machine, which reports it.
            let room = (MAX_REQUEST_BYTES + 1).saturating_sub(self.token.len());
            let take = run.min(room.saturating_sub(1));
            self.token.extend_from_slice(&input[i..i + take]);
            i += take;
            if take < run {
                self.feed(input[i], emit);
                i += 1;
            }
        }
    }

    /// Feeds one byte; completed tokens go to `emit`.
    pub fn feed(&mut self, byte: u8, emit: &mut impl FnMut(Token)) {
        loop {
            match self.step(byte) {
                Step::Consume(state) => {
                    self.state = state;
                    if state != State::Whitespace && state != State::Recovery {
                        self.token.push(byte);
                    }
                    if self.token.len() > MAX_REQUEST_BYTES {
                        self.finish(TokenKind::TooLong, emit);
                        self.state = State::Start;
                    }
                    return;
                }
                Step::EndWith(kind) => {
                    self.token.push(byte);
                    self.finish(kind, emit);
                    self.state = State::Start;
                    return;
                }
                Step::EndBefore(kind) => {
                    if let Some(kind) = kind {
                        self.finish(kind, emit);
                    }
                    self.state = State::Start;
                    // and lex this byte again from Start
                }
                Step::Fail => {
                    self.token.push(byte);
                    self.finish(TokenKind::Error, emit);
                    self.state = State::Recovery;
                    return;
                }
            }
        }
    }

    fn finish(&mut self, kind: TokenKind, emit: &mut impl FnMut(Token)) {
        emit(Token {
            kind,
            text: std::mem::take(&mut self.token),
        });
    }

    fn step(&self, b: u8) -> Step {
        use State::*;
        use Step::*;
        match self.state {
            Start => match b {
                b'"' => Consume(DoubleQuoted),
                b'\'' => Consume(SingleQuoted),
                b'0' => Consume(Zero),
                b'1'..=b'9' => Consume(NonZero),
                b'-' => Consume(Minus),
                b'{' => EndWith(TokenKind::LeftCurly),
                b'}' => EndWith(TokenKind::RightCurly),
                b'[' => EndWith(TokenKind::LeftSquare),
                b']' => EndWith(TokenKind::RightSquare),
                b',' => EndWith(TokenKind::Comma),
                b':' => EndWith(TokenKind::Colon),
                b'a'..=b'z' => Consume(Keyword),
                b' ' | b'\t' | b'\r' | b'\n' => Consume(Whitespace),
                _ => Fail,
            },
            Whitespace => match b {
                b' ' | b'\t' | b'\r' | b'\n' => Consume(Whitespace),
                _ => EndBefore(None),
            },
            Recovery => match b {
                b'\t' => Consume(Recovery),
                0x00..=0x1F | 0xFE | 0xFF => EndBefore(None),
                b'{' | b'}' | b'[' | b']' | b',' | b':' => EndBefore(None),
                _ => Consume(Recovery),
            },
            DoubleQuoted => match b {
                b'"' => EndWith(TokenKind::String),
                b'\\' => Consume(DoubleQuotedEscape),
                0x20..=0xFD => Consume(DoubleQuoted),
                _ => Fail,
            },
            DoubleQuotedEscape => match b {
                0x20..=0xFD => Consume(DoubleQuoted),
                _ => Fail,
            },
            SingleQuoted => match b {
                b'\'' => EndWith(TokenKind::String),
                b'\\' => Consume(SingleQuotedEscape),
                0x20..=0xFD => Consume(SingleQuoted),
                _ => Fail,
            },
            SingleQuotedEscape => match b {
                0x20..=0xFD => Consume(SingleQuoted),
                _ => Fail,
            },
            Minus => match b {
                b'0' => Consume(Zero),
                b'1'..=b'9' => Consume(NonZero),
                _ => Fail,
            },
            Zero => match b {
                b'0'..=b'9' => Fail,
                b'.' => Consume(Point),
                b'e' | b'E' => Consume(Exponent),
                0x80..=0xFF => Fail,
                _ => EndBefore(Some(TokenKind::Integer)),
            },
            NonZero => match b {
                b'0'..=b'9' => Consume(NonZero),
                b'.' => Consume(Point),
                b'e' | b'E' => Consume(Exponent),
                0x80..=0xFF => Fail,
                _ => EndBefore(Some(TokenKind::Integer)),
            },
            Point => match b {
                b'0'..=b'9' => Consume(Fraction),
                _ => Fail,
            },
            Fraction => match b {
                b'0'..=b'9' => Consume(Fraction),
                b'e' | b'E' => Consume(Exponent),
                0x80..=0xFF => Fail,
                _ => EndBefore(Some(TokenKind::Float)),
            },
            Exponent => match b {
                b'+' | b'-' => Consume(ExponentSign),
                b'0'..=b'9' => Consume(ExponentDigits),
                _ => Fail,
            },
            ExponentSign => match b {
                b'0'..=b'9' => Consume(ExponentDigits),
                _ => Fail,
            },
            ExponentDigits => match b {
                b'0'..=b'9' => Consume(ExponentDigits),
                0x80..=0xFF => Fail,
                _ => EndBefore(Some(TokenKind::Float)),
            },
            Keyword => match b {
                b'a'..=b'z' => Consume(Keyword),
                0x80..=0xFF => Fail,
                _ => EndBefore(Some(TokenKind::Keyword)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(input: &[u8]) -> Vec<(TokenKind, String)> {
        let mut lexer = Lexer::new();
        let mut out = Vec::new();
        for &b in input {
            lexer.feed(b, &mut |t| {
                out.push((t.kind, String::from_utf8_lossy(&t.text).into_owned()))
            });
        }
        out
    }

    #[test]
    fn tokens_of_a_request() {
        use TokenKind::*;
        let got = lex(b"{'execute': \"guest-sync\", \"arguments\": {\"id\": -12}}");
        let kinds: Vec<_> = got.iter().map(|t| t.0).collect();
        assert_eq!(
            kinds,
            [
                LeftCurly, String, Colon, String, Comma, String, Colon, LeftCurly, String, Colon,
                Integer, RightCurly, RightCurly
            ]
        );
        assert_eq!(got[10].1, "-12");
    }

    #[test]
    fn stray_then_recovery_at_structural_byte() {
        use TokenKind::*;
        let got = lex(b"{\"execute\":guest-ping}");
        assert_eq!(got[3], (Keyword, "guest".into()));
        assert_eq!(got[4], (Error, "-p".into()));
        assert_eq!(got[5], (RightCurly, "}".into()));
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn bulk_string_path_lexes_exactly_like_byte_steps() {
        let alphabet = b"\"'\\ab{}[]:,0-9e.tx\x01\n\xc3\xa9\xfe\xff";
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut stepped = Vec::new();
            let mut lexer = Lexer::new();
            for &b in &input {
                lexer.feed(b, &mut |t| stepped.push(t));
            }
            let mut bulk = Vec::new();
            let mut lexer = Lexer::new();
            let split = input.len() / 2;
            lexer.feed_slice(&input[..split], &mut |t| bulk.push(t));
            lexer.feed_slice(&input[split..], &mut |t| bulk.push(t));
            assert_eq!(stepped, bulk, "{:?}", String::from_utf8_lossy(&input));
        }
    }

    #[test]
    fn leading_zero_and_sentinel() {
        assert_eq!(lex(b"01 "), [(TokenKind::Error, "01".into())]);
        let got = lex(b"\xff{");
        assert_eq!(got[0].0, TokenKind::Error);
        assert_eq!(got[1].0, TokenKind::LeftCurly);
    }
}
