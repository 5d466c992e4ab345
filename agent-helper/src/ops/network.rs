//! guest-network-get-interfaces: getifaddrs (a netlink dump) for names,
//! hardware and IP addresses, and procfs `net/dev` for the counters, shaped
//! as qemu-ga shapes them. Interfaces come in getifaddrs order; each has a
//! hardware address when the kernel reports one (loopback's is all zeros);
//! `ip-addresses` and `statistics` appear only on interfaces with an IPv4
//! or IPv6 address, and `statistics` only when `net/dev` has the name.

use super::scan::Scanner;
use crate::system::SystemPaths;
use nix::ifaddrs::InterfaceAddress;
use protocol::system::{InterfaceStats, IpAddress, IpFamily, NetworkInterface};
use protocol::QgaError;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

pub fn get_interfaces(paths: &SystemPaths) -> Result<Vec<NetworkInterface>, QgaError> {
    let entries: Vec<InterfaceAddress> = nix::ifaddrs::getifaddrs()
        .map_err(|e| QgaError::getifaddrs_failed(e as i32))?
        .collect();
    // Read once: qemu-ga reads it per interface, which can only differ by
    // counters that moved in between.
    let net_dev = std::fs::read_to_string(paths.proc("net/dev")).ok();
    Ok(assemble(&entries, net_dev.as_deref()))
}

fn assemble(entries: &[InterfaceAddress], net_dev: Option<&str>) -> Vec<NetworkInterface> {
    let hardware = hardware_addresses(entries);
    let mut interfaces: Vec<NetworkInterface> = Vec::new();
    for entry in entries {
        let name = &entry.interface_name;
        let index = match interfaces.iter().position(|i| &i.name == name) {
            Some(index) => index,
            None => {
                interfaces.push(NetworkInterface {
                    name: name.clone(),
                    hardware_address: hardware_address_of(&hardware, name),
                    ip_addresses: None,
                    statistics: None,
                });
                interfaces.len() - 1
            }
        };
        let Some(address) = ip_address(entry) else {
            continue;
        };
        let interface = &mut interfaces[index];
        interface
            .ip_addresses
            .get_or_insert_with(Vec::new)
            .push(address);
        if interface.statistics.is_none() {
            interface.statistics = net_dev.and_then(|text| statistics(text, name));
        }
    }
    interfaces
}

/// Each link's hardware address from the link entries of the dump (the
/// kernel's `dev_addr`, what SIOCGIFHWADDR also reads), first six bytes.
fn hardware_addresses(entries: &[InterfaceAddress]) -> HashMap<&str, [u8; 6]> {
    let mut map = HashMap::new();
    for entry in entries {
        let link = entry.address.as_ref().and_then(|a| a.as_link_addr());
        if let Some(bytes) = link.and_then(|l| l.addr()) {
            map.entry(entry.interface_name.as_str()).or_insert(bytes);
        }
    }
    map
}

/// An IPv4 label such as `eth0:1` has its device's hardware address (the
/// kernel ignores the label part of an interface name there).
fn hardware_address_of(map: &HashMap<&str, [u8; 6]>, name: &str) -> Option<String> {
    let device = name.split(':').next().unwrap_or(name);
    map.get(device).map(|b| {
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    })
}

fn ip_address(entry: &InterfaceAddress) -> Option<IpAddress> {
    let address = entry.address.as_ref()?;
    let netmask = entry.netmask.as_ref();
    if let Some(v4) = address.as_sockaddr_in() {
        let ip = v4.ip();
        let prefix = netmask
            .and_then(|m| m.as_sockaddr_in())
            .map_or(0, |m| u32::from(m.ip()).count_ones());
        return Some(IpAddress {
            address: ip.to_string(),
            family: IpFamily::V4,
            prefix: prefix.into(),
        });
    }
    if let Some(v6) = address.as_sockaddr_in6() {
        let prefix = netmask
            .and_then(|m| m.as_sockaddr_in6())
            .map_or(0, |m| u128::from(m.ip()).count_ones());
        return Some(IpAddress {
            address: format_ipv6(&v6.ip()),
            family: IpFamily::V6,
            prefix: prefix.into(),
        });
    }
    None
}

/// IPv6 text as the C library's `inet_ntop` writes it. Rust's formatting
/// agrees except for the deprecated IPv4-compatible form (`::a.b.c.d`),
/// which inet_ntop still uses.
fn format_ipv6(ip: &Ipv6Addr) -> String {
    let s = ip.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let o = ip.octets();
        return format!("::{}", Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    ip.to_string()
}

/// The counters of `name` in procfs `net/dev`: the first line whose text
/// before the colon is exactly the name and that has sixteen numbers.
fn statistics(net_dev: &str, name: &str) -> Option<InterfaceStats> {
    net_dev.lines().find_map(|line| {
        let line = line.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let (label, counters) = line.split_once(':')?;
        if label != name {
            return None;
        }
        let mut scanner = Scanner::new(counters);
        let mut values = [0u64; 16];
        for value in &mut values {
            *value = scanner.long(10)? as u64;
        }
        Some(InterfaceStats {
            rx_bytes: values[0],
            rx_packets: values[1],
            rx_errs: values[2],
            rx_dropped: values[3],
            tx_bytes: values[8],
            tx_packets: values[9],
            tx_errs: values[10],
            tx_dropped: values[11],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 135138544    3527    1    2    0     0          0         0   211761    2182    3    4    0     0       0          0
broken: 1 2 3
";

    #[test]
    fn counters_come_from_the_named_line() {
        let lo = statistics(NET_DEV, "lo").unwrap();
        assert_eq!((lo.rx_bytes, lo.rx_packets, lo.tx_bytes), (3193, 29, 3193));
        let eth0 = statistics(NET_DEV, "eth0").unwrap();
        assert_eq!(
            (
                eth0.rx_errs,
                eth0.rx_dropped,
                eth0.tx_packets,
                eth0.tx_errs,
                eth0.tx_dropped
            ),
            (1, 2, 2182, 3, 4)
        );
        // No line, a label only, or too few numbers: no statistics.
        assert!(statistics(NET_DEV, "eth").is_none());
        assert!(statistics(NET_DEV, "eth0:1").is_none());
        assert!(statistics(NET_DEV, "broken").is_none());
    }

    #[test]
    fn ipv6_text_matches_inet_ntop() {
        for (ip, text) in [
            ("::1", "::1"),
            ("::", "::"),
            ("fe80::fc:ff:fe00:1", "fe80::fc:ff:fe00:1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::c000:201", "::192.0.2.1"),
            ("2001:db8:0:1::", "2001:db8:0:1::"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ] {
            assert_eq!(format_ipv6(&ip.parse().unwrap()), text, "{ip}");
        }
    }

    #[test]
    fn this_machine_has_loopback_as_qemu_ga_reports_it() {
        let interfaces = get_interfaces(&SystemPaths::default()).unwrap();
        let lo = interfaces.iter().find(|i| i.name == "lo").expect("lo");
        assert_eq!(lo.hardware_address.as_deref(), Some("00:00:00:00:00:00"));
        let addresses = lo.ip_addresses.as_ref().expect("lo has addresses");
        assert!(addresses
            .iter()
            .any(|a| a.address == "127.0.0.1" && a.family == IpFamily::V4 && a.prefix == 8));
        assert!(lo.statistics.is_some());
    }
}
