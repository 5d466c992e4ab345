//! guest-get-timezone: the abbreviation and UTC offset in force now, as
//! qemu-ga reports them through GLib's local time zone.
//!
//! GLib and the C library read the same zoneinfo files and POSIX rules, so
//! the C library's `localtime_r` computes the answer. Where they part is
//! which `TZ` values count: GLib takes a fixed offset such as `+05:30` or
//! `Z` literally and falls back to UTC for anything it cannot use, where the
//! C library improvises. So a `TZ` value is first classified the way GLib
//! classifies it.

use protocol::qga::GuestTimezone;
use protocol::QgaError;
use std::ffi::CStr;
use std::io::Read;
use std::path::{Path, PathBuf};

extern "C" {
    /// POSIX `tzset`, which the libc crate does not declare.
    fn tzset();
}

/// What GLib makes of a `TZ` value.
#[derive(Debug, PartialEq, Eq)]
enum ZoneSource {
    /// An ISO 8601 offset or `UTC`: the value itself is the abbreviation.
    Fixed { offset: i64 },
    /// A POSIX rule or a zoneinfo file: the C library agrees with GLib.
    CLibrary,
    /// Nothing GLib can use: it reports UTC.
    Unusable,
}

pub fn timezone() -> Result<GuestTimezone, QgaError> {
    let tz = std::env::var("TZ").ok();
    let source = match &tz {
        None => ZoneSource::CLibrary,
        Some(id) => classify(id),
    };
    Ok(match (source, tz) {
        (ZoneSource::Fixed { offset }, Some(id)) => GuestTimezone {
            zone: Some(id),
            offset,
        },
        (ZoneSource::Unusable, _) => GuestTimezone {
            zone: Some("UTC".into()),
            offset: 0,
        },
        _ => local_now(),
    })
}

/// The C library's view of now in the process's time zone.
fn local_now() -> GuestTimezone {
    // SAFETY: time with a null pointer only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero tm is a valid value for localtime_r to fill.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: tzset has no preconditions; it re-reads TZ and the zone file
    // if they changed. localtime_r writes into our tm.
    let ok = unsafe {
        tzset();
        !libc::localtime_r(&now, &mut tm).is_null()
    };
    if !ok || tm.tm_zone.is_null() {
        return GuestTimezone {
            zone: Some("UTC".into()),
            offset: 0,
        };
    }
    // SAFETY: tm_zone points to a NUL-terminated abbreviation owned by the
    // C library, valid until the next tzset; it is copied at once.
    let zone = unsafe { CStr::from_ptr(tm.tm_zone) }
        .to_string_lossy()
        .into_owned();
    GuestTimezone {
        zone: Some(zone),
        offset: tm.tm_gmtoff,
    }
}

/// GLib tries a `TZ` value as a fixed offset, then as a POSIX rule, then as
/// a zoneinfo file.
fn classify(id: &str) -> ZoneSource {
    if let Some(offset) = fixed_offset(id) {
        return ZoneSource::Fixed { offset };
    }
    if is_posix_rule(id) || is_zoneinfo_file(id) {
        return ZoneSource::CLibrary;
    }
    ZoneSource::Unusable
}

/// `UTC`, `Z`, or `[+-]h[h][[:]mm[[:]ss]]`, east of UTC positive.
fn fixed_offset(id: &str) -> Option<i64> {
    if id == "UTC" || id == "Z" {
        return Some(0);
    }
    match id.as_bytes().first()? {
        b'+' => time_of_day(&id[1..]),
        b'-' => time_of_day(&id[1..]).map(|t| -t),
        b'0'..=b'9' => time_of_day(id),
        _ => None,
    }
}

/// GLib's `h`, `hh[[:]mm[[:]ss]]` with hours up to 24, in seconds.
fn time_of_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digit = |i: usize, max: u8| {
        b.get(i)
            .filter(|c| (b'0'..=max).contains(c))
            .map(|c| i64::from(c - b'0'))
    };
    let mut i = 0;
    let mut seconds = digit(i, b'9')? * 3600;
    i += 1;
    if i == b.len() {
        return Some(seconds);
    }
    if b[i] != b':' {
        seconds = seconds * 10 + digit(i, b'9')? * 3600;
        i += 1;
        if seconds > 24 * 3600 {
            return None;
        }
        if i == b.len() {
            return Some(seconds);
        }
    }
    for unit in [60, 1] {
        if b.get(i) == Some(&b':') {
            i += 1;
        }
        seconds += (digit(i, b'5')? * 10 + digit(i + 1, b'9')?) * unit;
        i += 2;
        if i == b.len() {
            return Some(seconds);
        }
    }
    None
}

/// `std offset [dst [offset] ,start[/time],end[/time]]`: names of three or
/// more letters (or `<...>`), and on Unix a daylight-saving zone needs its
/// dates.
fn is_posix_rule(id: &str) -> bool {
    let mut rest = id;
    if !take_name(&mut rest) || !take_offset(&mut rest) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    if !take_name(&mut rest) {
        return false;
    }
    take_offset(&mut rest);
    let Some(dates) = rest.strip_prefix(',') else {
        return false;
    };
    let mut parts = dates.splitn(3, ',');
    let start = parts.next().unwrap_or_default();
    let Some(end) = parts.next() else {
        return false;
    };
    is_rule_date(start) && is_rule_date(end)
}

fn take_name(rest: &mut &str) -> bool {
    let s = *rest;
    let (len, skip) = if let Some(inner) = s.strip_prefix('<') {
        let len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-'))
            .unwrap_or(inner.len());
        if inner.as_bytes().get(len) != Some(&b'>') {
            return false;
        }
        (len, len + 2)
    } else {
        let len = s
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(s.len());
        (len, len)
    };
    if len < 3 {
        return false;
    }
    *rest = &s[skip..];
    true
}

/// The run of `[+-:0-9]` that follows a name, valid or not; true if it is
/// an offset GLib accepts.
fn take_offset(rest: &mut &str) -> bool {
    let s = *rest;
    let len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '+' || c == '-' || c == ':'))
        .unwrap_or(s.len());
    *rest = &s[len..];
    let offset = &s[..len];
    match offset.as_bytes().first() {
        Some(b'+' | b'-') => time_of_day(&offset[1..]).is_some(),
        Some(b'0'..=b'9') => time_of_day(offset).is_some(),
        _ => false,
    }
}

/// `Mm.w.d`, `Jn` or `n`, then optionally `/time`.
fn is_rule_date(s: &str) -> bool {
    let (date, time) = match s.split_once('/') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let date_ok = if let Some(mwd) = date.strip_prefix('M') {
        let fields: Vec<&str> = mwd.split('.').collect();
        let in_range = |f: &str, lo: u32, hi: u32| {
            !f.is_empty()
                && f.len() <= 2
                && f.bytes().all(|b| b.is_ascii_digit())
                && f.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
        };
        fields.len() == 3
            && in_range(fields[0], 1, 12)
            && fields[1].len() == 1
            && in_range(fields[1], 1, 5)
            && fields[2].len() == 1
            && in_range(fields[2], 0, 6)
    } else {
        // Julian days count from 1 after a J and from 0 without.
        let (day, first) = match date.strip_prefix('J') {
            Some(day) => (day, 1),
            None => (date, 0),
        };
        !day.is_empty()
            && day.bytes().all(|b| b.is_ascii_digit())
            && day.parse::<u32>().is_ok_and(|d| (first..=365).contains(&d))
    };
    date_ok && time.is_none_or(is_rule_time)
}

/// The time of a rule date: hours up to 167, then `:mm` and `:ss`.
fn is_rule_time(t: &str) -> bool {
    let mut parts = t.split(':');
    let hours = parts.next().unwrap_or_default();
    let two_digits = |f: &str| f.len() == 2 && f.bytes().all(|b| b.is_ascii_digit()) && f < "60";
    (1..=3).contains(&hours.len())
        && hours.bytes().all(|b| b.is_ascii_digit())
        && hours.parse::<u32>().is_ok_and(|h| h <= 167)
        && parts.clone().count() <= 2
        && parts.all(two_digits)
}

/// A zoneinfo file GLib would load: under TZDIR (or /usr/share/zoneinfo)
/// unless absolute, a leading `:` ignored, starting with `TZif`.
fn is_zoneinfo_file(id: &str) -> bool {
    let name = id.strip_prefix(':').unwrap_or(id);
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
        Path::new(&dir).join(name)
    };
    let mut header = [0u8; 44];
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && header.starts_with(b"TZif")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glib_classification() {
        assert_eq!(classify("+05:30"), ZoneSource::Fixed { offset: 19800 });
        assert_eq!(classify("-0330"), ZoneSource::Fixed { offset: -12600 });
        assert_eq!(classify("5"), ZoneSource::Fixed { offset: 18000 });
        assert_eq!(classify("Z"), ZoneSource::Fixed { offset: 0 });
        assert_eq!(classify("UTC"), ZoneSource::Fixed { offset: 0 });
        assert_eq!(classify("JST-9"), ZoneSource::CLibrary);
        assert_eq!(classify("<+0530>-5:30"), ZoneSource::CLibrary);
        assert_eq!(classify("CET-1CEST,M3.5.0,M10.5.0/3"), ZoneSource::CLibrary);
        assert_eq!(classify("garbage123"), ZoneSource::Unusable);
        assert_eq!(classify("Nowhere/Land"), ZoneSource::Unusable);
        assert_eq!(classify(""), ZoneSource::Unusable);
        assert_eq!(
            classify("AB-1"),
            ZoneSource::Unusable,
            "names need 3 letters"
        );
        assert_eq!(classify("XYZ5ABC"), ZoneSource::Unusable, "DST needs dates");
        assert_eq!(classify("JST-24"), ZoneSource::CLibrary);
        assert_eq!(classify("JST-25"), ZoneSource::Unusable);
        assert_eq!(classify("JST-1:5"), ZoneSource::Unusable);
        assert_eq!(classify("+24:00"), ZoneSource::Fixed { offset: 86400 });
        assert_eq!(classify("25"), ZoneSource::Unusable);
        assert_eq!(classify("ABC5DEF,M3.2.0/25,M11.1.0"), ZoneSource::CLibrary);
        assert_eq!(classify("ABC5DEF,0,365"), ZoneSource::CLibrary);
        assert_eq!(classify("ABC5DEF,J0,J365"), ZoneSource::Unusable);
        assert_eq!(classify("ABC5DEF,M13.1.0,M11.1.0"), ZoneSource::Unusable);
    }

    #[test]
    fn zoneinfo_files() {
        if Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            assert_eq!(classify("Europe/Paris"), ZoneSource::CLibrary);
            assert_eq!(classify(":Europe/Paris"), ZoneSource::CLibrary);
            assert_eq!(
                classify("/usr/share/zoneinfo/Europe/Paris"),
                ZoneSource::CLibrary
            );
        }
        assert_eq!(classify("/etc/passwd"), ZoneSource::Unusable);
    }
}
