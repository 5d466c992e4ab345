//! guest-get-diskstats, guest-get-cpustats and guest-get-load: the kernel's
//! /proc tables, read field by field as qemu-ga reads them, so the same
//! members are present for the same kernel.

use super::scan::{atoi, Scanner};
use super::sysfile::{self, strerror};
use protocol::limits::MAX_SYSTEM_FILE_BYTES;
use protocol::qga::{
    Double, GuestDiskStats, GuestDiskStatsInfo, GuestLinuxCpuStats, GuestLoadAverage,
};
use protocol::QgaError;
use std::path::Path;

const DISKSTATS: &str = "/proc/diskstats";
const CPUSTATS: &str = "/proc/stat";
const LOADAVG: &str = "/proc/loadavg";

fn read_proc(path: &str) -> Result<Vec<u8>, QgaError> {
    sysfile::read(Path::new(path), MAX_SYSTEM_FILE_BYTES)
        .map_err(|e| QgaError::proc_open(path, &strerror(e)))
}

pub fn diskstats() -> Result<Vec<GuestDiskStatsInfo>, QgaError> {
    Ok(parse_diskstats(&read_proc(DISKSTATS)?))
}

/// The fields of one /proc/diskstats line after the device name, in order,
/// and whether each is an `unsigned int` (%u) rather than an
/// `unsigned long` (%lu) in qemu-ga's scan.
const DISK_FIELD_IS_UINT: [bool; 17] = [
    false, false, false, false, false, false, false, // rd_ios .. wr_sec
    true, true, true, true, // wr_ticks, ios_pgr, tot_ticks, rq_ticks
    false, false, false, true, // dc_ios, dc_merges, dc_sec, dc_ticks
    false, true, // fl_ios, fl_ticks
];

pub fn parse_diskstats(text: &[u8]) -> Vec<GuestDiskStatsInfo> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut s = Scanner::from_bytes(line);
        let (Some(major), Some(minor), Some(name)) =
            (s.unsigned(10), s.unsigned(10), s.token(None))
        else {
            continue;
        };
        let mut f = [0u64; 17];
        let mut count = 3;
        for (slot, &is_uint) in f.iter_mut().zip(&DISK_FIELD_IS_UINT) {
            let value = if is_uint {
                s.unsigned(10).map(u64::from)
            } else {
                s.unsigned_long()
            };
            match value {
                Some(v) => {
                    *slot = v;
                    count += 1;
                }
                None => break,
            }
        }
        if count < 7 {
            continue;
        }
        let mut stats = GuestDiskStats::default();
        if count == 7 {
            // A partition on kernels before 2.6.25: reads, read sectors,
            // writes, write sectors.
            stats.read_ios = Some(f[0]);
            stats.read_sectors = Some(f[1]);
            stats.write_ios = Some(f[2]);
            stats.write_sectors = Some(f[3]);
        }
        if count >= 14 {
            stats.read_ios = Some(f[0]);
            stats.read_merges = Some(f[1]);
            stats.read_sectors = Some(f[2]);
            stats.read_ticks = Some(f[3]);
            stats.write_ios = Some(f[4]);
            stats.write_merges = Some(f[5]);
            stats.write_sectors = Some(f[6]);
            stats.write_ticks = Some(f[7]);
            stats.ios_pgr = Some(f[8]);
            stats.total_ticks = Some(f[9]);
            stats.weight_ticks = Some(f[10]);
        }
        if count >= 18 {
            stats.discard_ios = Some(f[11]);
            stats.discard_merges = Some(f[12]);
            stats.discard_sectors = Some(f[13]);
            stats.discard_ticks = Some(f[14]);
        }
        if count >= 20 {
            stats.flush_ios = Some(f[15]);
            stats.flush_ticks = Some(f[16]);
        }
        out.push(GuestDiskStatsInfo {
            name: String::from_utf8_lossy(name).into_owned(),
            major: u64::from(major),
            minor: u64::from(minor),
            stats,
        });
    }
    out
}

pub fn cpustats() -> Result<Vec<GuestLinuxCpuStats>, QgaError> {
    Ok(parse_cpustats(&read_proc(CPUSTATS)?, clock_ticks()))
}

/// USER_HZ, the unit of /proc/stat (no system call: the C library has it
/// from the auxiliary vector).
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// One entry per `cpuN` line, in milliseconds. A line that starts with
/// `cpu` but has fewer than four times ends the list, as in qemu-ga.
pub fn parse_cpustats(text: &[u8], hz: u64) -> Vec<GuestLinuxCpuStats> {
    let ms = |ticks: u64| ticks.wrapping_mul(1000) / hz;
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut s = Scanner::from_bytes(line);
        let Some(name) = s.token(None) else {
            continue;
        };
        // The first line, "cpu", is the sum of all CPUs.
        if !name.starts_with(b"cpu") || name.len() == 3 {
            continue;
        }
        let mut t = [0u64; 10];
        let mut count = 1;
        for slot in t.iter_mut() {
            match s.unsigned_long() {
                Some(v) => {
                    *slot = v;
                    count += 1;
                }
                None => break,
            }
        }
        if count < 5 {
            break;
        }
        let present = |needed: usize, value: u64| (count > needed).then(|| ms(value));
        out.push(GuestLinuxCpuStats {
            cpu: i64::from(atoi(&name[3..])),
            user: ms(t[0]),
            nice: ms(t[1]),
            system: ms(t[2]),
            idle: ms(t[3]),
            iowait: present(5, t[4]),
            irq: present(6, t[5]),
            softirq: present(6, t[6]),
            steal: present(8, t[7]),
            guest: present(9, t[8]),
            guestnice: present(10, t[9]),
        });
    }
    out
}

pub fn load() -> Result<GuestLoadAverage, QgaError> {
    let text = sysfile::read(Path::new(LOADAVG), MAX_SYSTEM_FILE_BYTES)
        .map_err(|e| QgaError::load_average_failed(&strerror(e)))?;
    parse_loadavg(&text)
        .ok_or_else(|| QgaError::load_average_failed(&strerror(nix::errno::Errno::EINVAL)))
}

/// The first three numbers of /proc/loadavg, read as the C library's
/// `getloadavg` reads them (at most 64 bytes, `strtod` in the C locale).
pub fn parse_loadavg(text: &[u8]) -> Option<GuestLoadAverage> {
    let text = &text[..text.len().min(64)];
    let mut rest = std::str::from_utf8(text).ok()?;
    let mut figures = [0f64; 3];
    for figure in figures.iter_mut() {
        let (value, after) = strtod(rest)?;
        *figure = value;
        rest = after;
    }
    Some(GuestLoadAverage {
        load1m: Double(figures[0]),
        load5m: Double(figures[1]),
        load15m: Double(figures[2]),
    })
}

/// The longest decimal number at the start of `s` (after white space) and
/// what follows it.
fn strtod(s: &str) -> Option<(f64, &str)> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let bytes = s.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end += 1;
    }
    let int_digits = bytes[end..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    end += int_digits;
    let mut frac_digits = 0;
    if bytes.get(end) == Some(&b'.') {
        frac_digits = bytes[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if int_digits + frac_digits > 0 {
            end += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exp_digits = bytes[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits > 0 {
            end = e + exp_digits;
        }
    }
    let value = s[..end].parse::<f64>().ok()?;
    Some((value, &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats_members_follow_the_field_count() {
        let text = b"   7       0 loop0 57 0 2106 3 22 0 30 5 0 0 15 8 8 112046 0 22 5\n\
            8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n\
            8 1 sda1 10 20 30 40\n\
            8 2 sda2 1 2 3 4 5 6 7 8\n\
            8 3 sda3 1 2\n\
            \n";
        let d = parse_diskstats(text);
        assert_eq!(d.len(), 4);
        assert_eq!(
            (d[0].name.as_str(), d[0].major, d[0].minor),
            ("loop0", 7, 0)
        );
        assert_eq!(d[0].stats.read_sectors, Some(2106));
        assert_eq!(d[0].stats.discard_sectors, Some(112046));
        assert_eq!(d[0].stats.flush_ticks, Some(5));
        // Discard fields but no flush fields.
        assert_eq!(d[1].stats.weight_ticks, Some(11));
        assert_eq!(d[1].stats.discard_ios, Some(12));
        assert_eq!(d[1].stats.flush_ios, None);
        // An old-style partition line.
        let p = &d[2].stats;
        assert_eq!(
            (
                p.read_ios,
                p.read_sectors,
                p.write_ios,
                p.write_sectors,
                p.read_merges
            ),
            (Some(10), Some(20), Some(30), Some(40), None)
        );
        // Between the two layouts: the device, with no statistics.
        assert_eq!(d[3].stats, GuestDiskStats::default());
    }

    #[test]
    fn cpustats_in_milliseconds() {
        let text = b"cpu  15020 3515 11944 188267 614 0 131 21 0 0\n\
            cpu0 6778 1826 5483 95520 82 0 42 9 0 0\n\
            cpu1 8242 1689 6460 92746\n\
            intr 1 2 3\n\
            cpu2 1 2 3\n\
            cpu3 1 2 3 4\n";
        let c = parse_cpustats(text, 100);
        assert_eq!(c.len(), 2, "a short cpu line ends the list");
        assert_eq!(c[0].cpu, 0);
        assert_eq!(c[0].idle, 955200);
        assert_eq!(c[0].softirq, Some(420));
        assert_eq!(c[0].guestnice, Some(0));
        assert_eq!(c[1].cpu, 1);
        assert_eq!(c[1].iowait, None);
        assert_eq!(c[1].user, 82420);
    }

    #[test]
    fn loadavg_like_strtod() {
        let l = parse_loadavg(b"2.06 1.06 0.50 7/158 3519\n").unwrap();
        assert_eq!(l.load1m, Double(2.06));
        assert_eq!(l.load15m, Double(0.5));
        assert!(parse_loadavg(b"x").is_none());
    }
}
