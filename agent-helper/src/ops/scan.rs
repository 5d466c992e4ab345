//! Reading whitespace-separated fields the way C's `sscanf` does, so that
//! the /proc tables give exactly the fields, counts and values qemu-ga
//! reports: each conversion skips leading white space, numbers take an
//! optional sign, and the count of successful conversions decides which
//! optional members appear.

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

pub struct Scanner<'a> {
    rest: &'a [u8],
}

impl<'a> Scanner<'a> {
    pub fn new(line: &'a [u8]) -> Scanner<'a> {
        Scanner { rest: line }
    }

    fn skip_space(&mut self) {
        while let Some((&b, rest)) = self.rest.split_first() {
            if !is_c_space(b) {
                break;
            }
            self.rest = rest;
        }
    }

    /// `%s` (or `%Ns` with `max`): the next run of non-space bytes.
    pub fn word(&mut self, max: Option<usize>) -> Option<&'a [u8]> {
        self.skip_space();
        let limit = max.unwrap_or(usize::MAX);
        let len = self
            .rest
            .iter()
            .take(limit)
            .take_while(|&&b| !is_c_space(b))
            .count();
        if len == 0 {
            return None;
        }
        let (word, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(word)
    }

    /// A number in `radix` after an optional sign (and, for hexadecimal, an
    /// optional `0x`): the sign and the magnitude, `None` for a magnitude
    /// beyond 64 bits. Reports a matching failure when no digit follows.
    fn number(&mut self, radix: u32) -> Option<(bool, Option<u64>)> {
        self.skip_space();
        let mut s = self.rest;
        let negative = match s.first() {
            Some(b'-') => {
                s = &s[1..];
                true
            }
            Some(b'+') => {
                s = &s[1..];
                false
            }
            _ => false,
        };
        if radix == 16
            && s.len() > 2
            && s[0] == b'0'
            && (s[1] | 0x20) == b'x'
            && s[2].is_ascii_hexdigit()
        {
            s = &s[2..];
        }
        let digits = s
            .iter()
            .take_while(|&&b| (b as char).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let magnitude = s[..digits].iter().try_fold(0u64, |value, &b| {
            let digit = u64::from((b as char).to_digit(radix).unwrap_or(0));
            value
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(digit))
        });
        self.rest = &s[digits..];
        Some((negative, magnitude))
    }

    /// `strtoul`: a minus sign negates modulo 2^64, overflow saturates.
    fn unsigned_long(&mut self, radix: u32) -> Option<u64> {
        let (negative, magnitude) = self.number(radix)?;
        Some(match magnitude {
            None => u64::MAX,
            Some(m) if negative => m.wrapping_neg(),
            Some(m) => m,
        })
    }

    /// `%lu`.
    pub fn ulong(&mut self) -> Option<u64> {
        self.unsigned_long(10)
    }

    /// `%u`: `strtoul`'s value cut to an `unsigned int`.
    pub fn uint(&mut self) -> Option<u32> {
        self.unsigned_long(10).map(|v| v as u32)
    }

    /// `%x` / `%X` into an `unsigned int`.
    pub fn hex_uint(&mut self) -> Option<u32> {
        self.unsigned_long(16).map(|v| v as u32)
    }

    /// `%x` into an `int`: the same bits, read as signed.
    pub fn hex_int(&mut self) -> Option<i32> {
        self.hex_uint().map(|v| v as i32)
    }

    /// `%d`: `strtol`'s value (saturating at the `long` range) cut to an
    /// `int`.
    pub fn int(&mut self) -> Option<i32> {
        let (negative, magnitude) = self.number(10)?;
        let long = match magnitude {
            Some(m) if negative && m <= 1 << 63 => (m as i64).wrapping_neg(),
            Some(m) if !negative && m <= i64::MAX as u64 => m as i64,
            _ if negative => i64::MIN,
            _ => i64::MAX,
        };
        Some(long as i32)
    }
}

/// C's `atoi`: leading white space, a sign, then digits; anything else ends
/// the number (no digits give 0).
pub fn atoi(s: &[u8]) -> i32 {
    let mut scanner = Scanner::new(s);
    scanner.int().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_scanf() {
        let mut s = Scanner::new(b"  12 -1 +7 18446744073709551616 abc");
        assert_eq!(s.ulong(), Some(12));
        assert_eq!(s.ulong(), Some(u64::MAX));
        assert_eq!(s.uint(), Some(7));
        assert_eq!(s.ulong(), Some(u64::MAX), "overflow saturates");
        assert_eq!(s.ulong(), None, "a matching failure");
        assert_eq!(s.word(None), Some(&b"abc"[..]));
        assert_eq!(s.word(None), None, "only white space is left");
    }

    #[test]
    fn ints_and_hex() {
        let mut s = Scanner::new(b"4294967295 -5 ffffffff 0x10 00000100 2147483648");
        assert_eq!(s.uint(), Some(u32::MAX));
        assert_eq!(s.int(), Some(-5));
        assert_eq!(s.hex_int(), Some(-1));
        assert_eq!(s.hex_uint(), Some(16));
        assert_eq!(s.hex_uint(), Some(256));
        assert_eq!(s.int(), Some(i32::MIN), "the long value cut to int");
    }

    #[test]
    fn words_with_a_width() {
        let mut s = Scanner::new(b"0123456789abcdef0123456789abcdefXY 40");
        assert_eq!(s.word(Some(32)).unwrap().len(), 32);
        assert_eq!(s.word(Some(32)), Some(&b"XY"[..]));
        assert_eq!(s.hex_int(), Some(0x40));
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"12"), 12);
        assert_eq!(atoi(b"3x"), 3);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b""), 0);
    }
}
