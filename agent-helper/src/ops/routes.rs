//! guest-network-get-route: the IPv4 and IPv6 routing tables from
//! /proc/net/route and /proc/net/ipv6_route, field by field as qemu-ga
//! (9.1 and later) reads them.

use super::scan::Scanner;
use super::sysfile::{self, strerror};
use protocol::limits::MAX_SYSTEM_FILE_BYTES;
use protocol::qga::GuestNetworkRoute;
use protocol::QgaError;
use std::fmt::Write;
use std::path::Path;

const ROUTE_FILES: [(&str, Family); 2] = [
    ("/proc/net/route", Family::V4),
    ("/proc/net/ipv6_route", Family::V6),
];

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// Both tables, IPv4 first. qemu-ga reads what it can and then reports the
/// first table it could not open (a kernel without IPv6 has no
/// ipv6_route), so does this.
pub fn routes() -> Result<Vec<GuestNetworkRoute>, QgaError> {
    let mut routes = Vec::new();
    let mut failure = None;
    for (path, family) in ROUTE_FILES {
        match sysfile::read(Path::new(path), MAX_SYSTEM_FILE_BYTES) {
            Ok(text) => routes.extend(parse(&text, family)),
            Err(e) => {
                failure.get_or_insert_with(|| QgaError::proc_open(path, &strerror(e)));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(routes),
    }
}

fn parse(text: &[u8], family: Family) -> Vec<GuestNetworkRoute> {
    let mut lines = text.split(|&b| b == b'\n');
    if let Family::V4 = family {
        // The column titles.
        lines.next();
    }
    // split() yields an empty piece after the last newline, which getline
    // would not return; it fails to scan either way.
    lines
        .filter_map(|line| match family {
            Family::V4 => parse_v4(line),
            Family::V6 => parse_v6(line),
        })
        .collect()
}

/// `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`,
/// addresses in hexadecimal in host (little-endian) byte order.
fn parse_v4(line: &[u8]) -> Option<GuestNetworkRoute> {
    let mut s = Scanner::from_bytes(line);
    let iface = s.token(None)?;
    let destination = s.unsigned(16)?;
    let gateway = s.unsigned(16)?;
    let flags = s.unsigned(16)?;
    let refcnt = s.int()?;
    let use_count = s.int()?;
    let metric = s.int()?;
    let mask = s.unsigned(16)?;
    let mtu = s.int()?;
    let window = s.int()?;
    let irtt = s.int()?;
    Some(GuestNetworkRoute {
        iface: String::from_utf8_lossy(iface).into_owned(),
        destination: dotted_quad(destination),
        metric: i64::from(metric),
        gateway: Some(dotted_quad(gateway)),
        mask: Some(dotted_quad(mask)),
        irtt: Some(i64::from(irtt)),
        flags: Some(u64::from(flags)),
        refcnt: Some(i64::from(refcnt)),
        use_count: Some(i64::from(use_count)),
        window: Some(i64::from(window)),
        mtu: Some(i64::from(mtu)),
        version: 4,
        ..GuestNetworkRoute::default()
    })
}

/// `%x` into an `int`: the same bits, read as signed.
fn hex_int(s: &mut Scanner) -> Option<i32> {
    s.unsigned(16).map(|v| v as i32)
}

/// The kernel prints the address as it lies in memory, so its first byte is
/// the lowest byte of the number read.
fn dotted_quad(value: u32) -> String {
    let [a, b, c, d] = value.to_le_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// `dest dest_len src src_len next_hop metric refcnt use flags iface`, with
/// 32-digit addresses and the numbers in hexadecimal.
fn parse_v6(line: &[u8]) -> Option<GuestNetworkRoute> {
    let mut s = Scanner::from_bytes(line);
    let destination = s.token(Some(32))?;
    let destination_len = hex_int(&mut s)?;
    let source = s.token(Some(32))?;
    let source_len = hex_int(&mut s)?;
    let next_hop = s.token(Some(32))?;
    let metric = hex_int(&mut s)?;
    let refcnt = hex_int(&mut s)?;
    let use_count = hex_int(&mut s)?;
    let flags = hex_int(&mut s)?;
    let iface = s.token(None)?;
    // qemu-ga leaves out a route whose destination does not decode, and
    // only the member for a source or next hop that does not.
    let destination = ipv6_text(destination)?;
    Some(GuestNetworkRoute {
        iface: String::from_utf8_lossy(iface).into_owned(),
        destination,
        metric: i64::from(metric),
        // An int flag word widened to uint64, sign and all.
        flags: Some(i64::from(flags) as u64),
        refcnt: Some(i64::from(refcnt)),
        use_count: Some(i64::from(use_count)),
        desprefixlen: Some(destination_len.to_string()),
        source: ipv6_text(source),
        srcprefixlen: Some(source_len.to_string()),
        nexthop: ipv6_text(next_hop),
        version: 6,
        ..GuestNetworkRoute::default()
    })
}

/// 32 hexadecimal digits as an IPv6 address in the C library's
/// `inet_ntop` form.
fn ipv6_text(hex: &[u8]) -> Option<String> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(inet_ntop6(&bytes))
}

/// The C library's IPv6 text form: the first longest run of two or more
/// zero groups becomes `::`, groups are lowercase hexadecimal without
/// leading zeros, and an IPv4-compatible (`::a.b.c.d`) or IPv4-mapped
/// (`::ffff:a.b.c.d`) address ends in dotted decimal.
fn inet_ntop6(bytes: &[u8; 16]) -> String {
    let words: Vec<u16> = bytes
        .chunks(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    // (start, length) of the longest zero run; the first wins a tie.
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let len = words[i..].iter().take_while(|&&w| w == 0).count();
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((i, len));
            }
            i += len;
        } else {
            i += 1;
        }
    }
    let best = best.filter(|&(_, len)| len >= 2);
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = best {
            if i == start {
                out.push(':');
                i += len;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        let embedded_v4 = best.is_some_and(|(start, len)| {
            start == 0 && (len == 6 || (len == 5 && words[5] == 0xffff))
        });
        if i == 6 && embedded_v4 {
            let _ = write!(
                out,
                "{}.{}.{}.{}",
                bytes[12], bytes[13], bytes[14], bytes[15]
            );
            return out;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if best.is_some_and(|(start, len)| start + len == 8) {
        out.push(':');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        let addr: std::net::Ipv6Addr = s.parse().unwrap();
        inet_ntop6(&addr.octets())
    }

    #[test]
    fn ipv6_text_like_glibc() {
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("fe80::"), "fe80::");
        assert_eq!(v6("fd00::1"), "fd00::1");
        assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(v6("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
        assert_eq!(v6("1:2:3:4:5:6:7:0"), "1:2:3:4:5:6:7:0");
        assert_eq!(v6("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
        assert_eq!(v6("::192.0.2.1"), "::192.0.2.1");
        assert_eq!(v6("::1:0:0:1"), "::1:0:0:1");
    }

    #[test]
    fn ipv4_table() {
        let text = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT \n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0 \n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t1500\t0\t0 \n";
        let r = parse(text, Family::V4);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].destination, "0.0.0.0");
        assert_eq!(r[0].gateway.as_deref(), Some("192.0.2.1"));
        assert_eq!(r[0].flags, Some(3));
        assert_eq!(r[0].metric, 100);
        assert_eq!(r[1].mask.as_deref(), Some("255.255.255.0"));
        assert_eq!(r[1].mtu, Some(1500));
        assert_eq!(r[1].source, None);
    }

    #[test]
    fn ipv6_table() {
        let text = b"fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
            00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000002 00000000 80200001       lo\n\
            zz000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        let r = parse(text, Family::V6);
        assert_eq!(r.len(), 2, "an undecodable destination drops the route");
        assert_eq!(r[0].destination, "fd00::");
        assert_eq!(r[0].desprefixlen.as_deref(), Some("64"));
        assert_eq!(r[0].metric, 256);
        assert_eq!(r[0].nexthop.as_deref(), Some("::"));
        assert_eq!(r[1].destination, "::1");
        assert_eq!(r[1].metric, -1);
        // RTF_LOCAL sets the sign bit of the int qemu-ga reads it into.
        assert_eq!(r[1].flags, Some(0xFFFF_FFFF_8020_0001));
        assert_eq!(r[1].iface, "lo");
        assert_eq!(r[1].gateway, None);
    }
}
