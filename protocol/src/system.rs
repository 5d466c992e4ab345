//! What the helper reads about the system for the vCPU, memory-block,
//! network, filesystem and disk commands, as it travels over the internal
//! link. Postcard needs every member on the wire, so optional members are
//! plain `Option`s here; the `From` impls turn each into qemu-ga's result
//! type, which leaves absent members out.

use crate::qga::{
    GuestCCWAddress, GuestDiskAddress, GuestDiskBusType, GuestDiskInfo, GuestFilesystemInfo,
    GuestIpAddress, GuestIpAddressType, GuestLogicalProcessor, GuestMemoryBlock,
    GuestMemoryBlockResponse, GuestMemoryBlockResponseType, GuestNetworkInterface,
    GuestNetworkInterfaceStat, GuestPCIAddress,
};
use serde::{Deserialize, Serialize};

// ---- vCPUs ------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vcpu {
    pub logical_id: i64,
    pub online: bool,
    pub can_offline: bool,
}

/// One entry of guest-set-vcpus: the state the host wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuChange {
    pub logical_id: i64,
    pub online: bool,
}

impl From<Vcpu> for GuestLogicalProcessor {
    fn from(v: Vcpu) -> Self {
        GuestLogicalProcessor {
            logical_id: v.logical_id,
            online: v.online,
            can_offline: Some(v.can_offline),
        }
    }
}

// ---- memory blocks ----------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryBlock {
    pub phys_index: u64,
    pub online: bool,
    pub can_offline: bool,
}

/// One entry of guest-set-memory-blocks: the state the host wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryBlockChange {
    pub phys_index: u64,
    pub online: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryBlockResult {
    pub phys_index: u64,
    pub response: GuestMemoryBlockResponseType,
    /// The errno qemu-ga reports beside some responses.
    pub error_code: Option<i64>,
}

impl From<MemoryBlock> for GuestMemoryBlock {
    fn from(b: MemoryBlock) -> Self {
        GuestMemoryBlock {
            phys_index: b.phys_index,
            online: b.online,
            can_offline: Some(b.can_offline),
        }
    }
}

impl From<MemoryBlockResult> for GuestMemoryBlockResponse {
    fn from(r: MemoryBlockResult) -> Self {
        GuestMemoryBlockResponse {
            phys_index: r.phys_index,
            response: r.response,
            error_code: r.error_code,
        }
    }
}

// ---- network ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpFamily {
    V4,
    V6,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAddress {
    pub address: String,
    pub family: IpFamily,
    pub prefix: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_dropped: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub name: String,
    pub hardware_address: Option<String>,
    pub ip_addresses: Option<Vec<IpAddress>>,
    pub statistics: Option<InterfaceStats>,
}

impl From<IpAddress> for GuestIpAddress {
    fn from(a: IpAddress) -> Self {
        GuestIpAddress {
            ip_address: a.address,
            ip_address_type: match a.family {
                IpFamily::V4 => GuestIpAddressType::Ipv4,
                IpFamily::V6 => GuestIpAddressType::Ipv6,
            },
            prefix: a.prefix,
        }
    }
}

impl From<InterfaceStats> for GuestNetworkInterfaceStat {
    fn from(s: InterfaceStats) -> Self {
        GuestNetworkInterfaceStat {
            rx_bytes: s.rx_bytes,
            rx_packets: s.rx_packets,
            rx_errs: s.rx_errs,
            rx_dropped: s.rx_dropped,
            tx_bytes: s.tx_bytes,
            tx_packets: s.tx_packets,
            tx_errs: s.tx_errs,
            tx_dropped: s.tx_dropped,
        }
    }
}

impl From<NetworkInterface> for GuestNetworkInterface {
    fn from(i: NetworkInterface) -> Self {
        GuestNetworkInterface {
            name: i.name,
            hardware_address: i.hardware_address,
            ip_addresses: i
                .ip_addresses
                .map(|list| list.into_iter().map(Into::into).collect()),
            statistics: i.statistics.map(Into::into),
        }
    }
}

// ---- filesystems and disks --------------------------------------------------

/// A PCI address; qemu-ga reports -1 in every member when it has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciAddress {
    pub domain: i64,
    pub bus: i64,
    pub slot: i64,
    pub function: i64,
}

impl PciAddress {
    pub const UNKNOWN: PciAddress = PciAddress {
        domain: -1,
        bus: -1,
        slot: -1,
        function: -1,
    };
}

/// An s390 channel I/O address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CcwAddress {
    pub cssid: i64,
    pub ssid: i64,
    pub subchno: i64,
    pub devno: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskAddress {
    pub pci_controller: PciAddress,
    pub bus_type: GuestDiskBusType,
    pub bus: i64,
    pub target: i64,
    pub unit: i64,
    pub serial: Option<String>,
    pub dev: Option<String>,
    pub ccw_address: Option<CcwAddress>,
}

impl DiskAddress {
    /// What qemu-ga starts from before it learns anything about a disk.
    pub fn unknown() -> DiskAddress {
        DiskAddress {
            pci_controller: PciAddress::UNKNOWN,
            bus_type: GuestDiskBusType::Unknown,
            bus: 0,
            target: 0,
            unit: 0,
            serial: None,
            dev: None,
            ccw_address: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    pub name: String,
    pub mountpoint: String,
    pub fs_type: String,
    pub used_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub disk: Vec<DiskAddress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub partition: bool,
    pub dependencies: Option<Vec<String>>,
    pub address: Option<DiskAddress>,
    pub alias: Option<String>,
}

impl From<PciAddress> for GuestPCIAddress {
    fn from(p: PciAddress) -> Self {
        GuestPCIAddress {
            domain: p.domain,
            bus: p.bus,
            slot: p.slot,
            function: p.function,
        }
    }
}

impl From<CcwAddress> for GuestCCWAddress {
    fn from(c: CcwAddress) -> Self {
        GuestCCWAddress {
            cssid: c.cssid,
            ssid: c.ssid,
            subchno: c.subchno,
            devno: c.devno,
        }
    }
}

impl From<DiskAddress> for GuestDiskAddress {
    fn from(d: DiskAddress) -> Self {
        GuestDiskAddress {
            pci_controller: d.pci_controller.into(),
            bus_type: d.bus_type,
            bus: d.bus,
            target: d.target,
            unit: d.unit,
            serial: d.serial,
            dev: d.dev,
            ccw_address: d.ccw_address.map(Into::into),
        }
    }
}

impl From<Filesystem> for GuestFilesystemInfo {
    fn from(f: Filesystem) -> Self {
        GuestFilesystemInfo {
            name: f.name,
            mountpoint: f.mountpoint,
            fs_type: f.fs_type,
            used_bytes: f.used_bytes,
            total_bytes: f.total_bytes,
            disk: f.disk.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Disk> for GuestDiskInfo {
    fn from(d: Disk) -> Self {
        GuestDiskInfo {
            name: d.name,
            partition: d.partition,
            dependencies: d.dependencies,
            address: d.address.map(Into::into),
            alias: d.alias,
        }
    }
}
