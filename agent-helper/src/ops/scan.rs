//! A cursor over text with the C library's number-reading rules (what
//! `sscanf` and `strtol` accept), for the sysfs paths, mount tables, /proc
//! tables and counters qemu-ga parses that way. Matching its rules keeps the
//! same inputs accepted and rejected, and the same values read.

pub struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

/// C's `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Scanner<'a> {
        Scanner::from_bytes(text.as_bytes())
    }

    /// For tables whose fields need not be UTF-8 (device and interface
    /// names).
    pub fn from_bytes(text: &'a [u8]) -> Scanner<'a> {
        Scanner { text, pos: 0 }
    }

    /// Bytes consumed so far (`%n`).
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// A whitespace directive: skips any amount, including none.
    pub fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// A literal character of the format.
    pub fn literal(&mut self, c: u8) -> Option<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// `%s`: leading whitespace skipped, then one or more non-space bytes.
    pub fn word(&mut self) -> Option<(usize, usize)> {
        self.skip_space();
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_space(b)) {
            self.pos += 1;
        }
        (self.pos > start).then_some((start, self.pos))
    }

    /// `%s`, or `%Ns` with a `width`: the bytes themselves.
    pub fn token(&mut self, width: Option<usize>) -> Option<&'a [u8]> {
        self.skip_space();
        let start = self.pos;
        let end = start.saturating_add(width.unwrap_or(usize::MAX));
        while self.pos < end && self.peek().is_some_and(|b| !is_space(b)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.text[start..self.pos])
    }

    /// `%c`: any one byte, whitespace included.
    pub fn any_char(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// An integer as `strtol`/`strtoul` read it in `radix` (10 or 16):
    /// leading whitespace, a sign, for base 16 an optional `0x`, then at
    /// least one digit. Returns whether it was negative and the magnitude,
    /// None for one beyond 64 bits; None (and nothing consumed) without
    /// digits.
    fn integer(&mut self, radix: u32) -> Option<(bool, Option<u64>)> {
        let start = self.pos;
        self.skip_space();
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if radix == 16
            && self.peek() == Some(b'0')
            && matches!(self.text.get(self.pos + 1), Some(b'x' | b'X'))
            && self
                .text
                .get(self.pos + 2)
                .is_some_and(|b| b.is_ascii_hexdigit())
        {
            self.pos += 2;
        }
        let digits_start = self.pos;
        let mut value = Some(0u64);
        while let Some(d) = self.peek().and_then(|b| (b as char).to_digit(radix)) {
            value = value
                .and_then(|v| v.checked_mul(u64::from(radix)))
                .and_then(|v| v.checked_add(u64::from(d)));
            self.pos += 1;
        }
        if self.pos == digits_start {
            self.pos = start;
            return None;
        }
        Some((negative, value))
    }

    /// `strtoul`: a negative number is negated in the unsigned type, and
    /// overflow gives the largest value, sign or not.
    fn strtoul_value(&mut self, radix: u32) -> Option<u64> {
        let (negative, magnitude) = self.integer(radix)?;
        Some(match magnitude {
            None => u64::MAX,
            Some(m) if negative => m.wrapping_neg(),
            Some(m) => m,
        })
    }

    /// `%u` / `%x` into an `unsigned int`: `strtoul`'s value, cut.
    pub fn unsigned(&mut self, radix: u32) -> Option<u32> {
        self.strtoul_value(radix).map(|v| v as u32)
    }

    /// `%d` into an `int`: `strtol`'s value, cut.
    pub fn int(&mut self) -> Option<i32> {
        self.long(10).map(|v| v as i32)
    }

    /// `%ld` / `%lld`, or `strtol`: clamps to the `i64` range.
    pub fn long(&mut self, radix: u32) -> Option<i64> {
        let (negative, magnitude) = self.integer(radix)?;
        Some(match magnitude {
            Some(m) if negative && m <= 1 << 63 => (m as i64).wrapping_neg(),
            Some(m) if !negative && m <= i64::MAX as u64 => m as i64,
            _ if negative => i64::MIN,
            _ => i64::MAX,
        })
    }

    /// `%lu`, or `strtoul` in base 10.
    pub fn unsigned_long(&mut self) -> Option<u64> {
        self.strtoul_value(10)
    }
}

/// `strtol(text, NULL, radix)`: the leading number, or 0 when there is none.
pub fn strtol(text: &str, radix: u32) -> i64 {
    Scanner::new(text).long(radix).unwrap_or(0)
}

/// `strtoul(text, NULL, 10)`.
pub fn strtoul(text: &str) -> u64 {
    Scanner::new(text).unsigned_long().unwrap_or(0)
}

/// C's `atoi`: `strtol`'s value cut to an `int`, 0 without digits.
pub fn atoi(text: &[u8]) -> i32 {
    Scanner::from_bytes(text).int().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_the_c_library_reads_them() {
        assert_eq!(strtol("8000000\n", 16), 0x800_0000);
        assert_eq!(strtol("0x10", 16), 16);
        assert_eq!(strtol("0xg", 16), 0);
        assert_eq!(strtol("  -ff", 16), -255);
        assert_eq!(strtol("zz", 16), 0);
        assert_eq!(strtol("ffffffffffffffffff", 16), i64::MAX);
        assert_eq!(strtoul("12abc"), 12);
        assert_eq!(strtoul("-1"), u64::MAX);
        assert_eq!(strtoul(""), 0);
    }

    #[test]
    fn formats_piece_by_piece() {
        // "%*x:%*x/%x:%x:%x.%x%n" on a PCI path
        let mut s = Scanner::new("0000:00/0000:00:1f.2/ata1");
        s.unsigned(16).unwrap();
        s.literal(b':').unwrap();
        s.unsigned(16).unwrap();
        s.literal(b'/').unwrap();
        let domain = s.unsigned(16).unwrap();
        s.literal(b':').unwrap();
        let bus = s.unsigned(16).unwrap();
        s.literal(b':').unwrap();
        let slot = s.unsigned(16).unwrap();
        s.literal(b'.').unwrap();
        let function = s.unsigned(16).unwrap();
        assert_eq!((domain, bus, slot, function), (0, 0, 0x1f, 2));
        assert_eq!(s.pos(), "0000:00/0000:00:1f.2".len());

        let mut s = Scanner::new("  eth0: 1");
        assert_eq!(s.word(), Some((2, 7)));
        assert_eq!(s.any_char(), Some(b' '));
        assert_eq!(s.long(10), Some(1));
        assert_eq!(s.pos(), 9);
        assert_eq!(Scanner::new("x").int(), None);
        assert_eq!(Scanner::new("-1").unsigned(10), Some(u32::MAX));
    }

    #[test]
    fn overflow_as_the_c_library_handles_it() {
        let mut s = Scanner::new("  12 -1 +7 18446744073709551616 -18446744073709551616 abc");
        assert_eq!(s.unsigned_long(), Some(12));
        assert_eq!(s.unsigned_long(), Some(u64::MAX));
        assert_eq!(s.unsigned(10), Some(7));
        assert_eq!(s.unsigned_long(), Some(u64::MAX), "overflow saturates");
        assert_eq!(s.unsigned_long(), Some(u64::MAX), "with a sign too");
        assert_eq!(s.unsigned_long(), None, "a matching failure");
        assert_eq!(s.token(None), Some(&b"abc"[..]));
        assert_eq!(s.token(None), None, "only white space is left");
    }

    #[test]
    fn ints_and_hex() {
        let mut s =
            Scanner::new("4294967295 -5 ffffffff 0x10 00000100 2147483648 -9223372036854775809");
        assert_eq!(s.unsigned(10), Some(u32::MAX));
        assert_eq!(s.int(), Some(-5));
        assert_eq!(s.unsigned(16).map(|v| v as i32), Some(-1));
        assert_eq!(s.unsigned(16), Some(16));
        assert_eq!(s.unsigned(16), Some(256));
        assert_eq!(s.int(), Some(i32::MIN), "the long value cut to int");
        assert_eq!(s.int(), Some(0), "LONG_MIN cut to int");
    }

    #[test]
    fn tokens_with_a_width() {
        let mut s = Scanner::from_bytes(b"0123456789abcdef0123456789abcdefXY 40");
        assert_eq!(s.token(Some(32)).unwrap().len(), 32);
        assert_eq!(s.token(Some(32)), Some(&b"XY"[..]));
        assert_eq!(s.unsigned(16), Some(0x40));
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"12"), 12);
        assert_eq!(atoi(b"3x"), 3);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b""), 0);
    }
}
