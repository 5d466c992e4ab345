//! The fopen(3) modes guest-file-open accepts, as qemu-ga spells them. A
//! mode keeps its spelling so error texts can quote it back exactly.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpenMode {
    R,
    Rb,
    W,
    Wb,
    A,
    Ab,
    RPlus,
    RPlusB,
    RbPlus,
    WPlus,
    WPlusB,
    WbPlus,
    APlus,
    APlusB,
    AbPlus,
}

/// What a mode asks of open(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
    /// Create the file if it is missing.
    pub create: bool,
    pub truncate: bool,
    pub append: bool,
}

const SPELLINGS: &[(&str, OpenMode)] = &[
    ("r", OpenMode::R),
    ("rb", OpenMode::Rb),
    ("w", OpenMode::W),
    ("wb", OpenMode::Wb),
    ("a", OpenMode::A),
    ("ab", OpenMode::Ab),
    ("r+", OpenMode::RPlus),
    ("r+b", OpenMode::RPlusB),
    ("rb+", OpenMode::RbPlus),
    ("w+", OpenMode::WPlus),
    ("w+b", OpenMode::WPlusB),
    ("wb+", OpenMode::WbPlus),
    ("a+", OpenMode::APlus),
    ("a+b", OpenMode::APlusB),
    ("ab+", OpenMode::AbPlus),
];

impl OpenMode {
    /// Exactly qemu-ga's list: no `x`, `e` or other glibc extensions.
    pub fn parse(spelling: &str) -> Option<OpenMode> {
        SPELLINGS
            .iter()
            .find(|(s, _)| *s == spelling)
            .map(|&(_, m)| m)
    }

    pub fn as_str(self) -> &'static str {
        SPELLINGS
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |&(s, _)| s)
    }

    pub fn access(self) -> Access {
        let s = self.as_str();
        let plus = s.contains('+');
        match s.as_bytes()[0] {
            b'r' => Access {
                read: true,
                write: plus,
                create: false,
                truncate: false,
                append: false,
            },
            b'w' => Access {
                read: plus,
                write: true,
                create: true,
                truncate: true,
                append: false,
            },
            _ => Access {
                read: plus,
                write: true,
                create: true,
                truncate: false,
                append: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips_and_others_are_refused() {
        for (s, m) in SPELLINGS {
            assert_eq!(OpenMode::parse(s), Some(*m));
            assert_eq!(m.as_str(), *s);
        }
        for bad in [
            "", "z", "x", "wx", "rw", "br", "r+bb", "re", "we", "R", "w+x",
        ] {
            assert_eq!(OpenMode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn access_follows_fopen() {
        let r = OpenMode::parse("rb").unwrap().access();
        assert!(r.read && !r.write && !r.create);
        let w = OpenMode::parse("w+b").unwrap().access();
        assert!(w.read && w.write && w.create && w.truncate && !w.append);
        let a = OpenMode::parse("a").unwrap().access();
        assert!(!a.read && a.write && a.create && a.append && !a.truncate);
        let rp = OpenMode::parse("r+").unwrap().access();
        assert!(rp.read && rp.write && !rp.create && !rp.truncate);
    }
}
