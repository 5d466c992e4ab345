//! From a block device in sysfs to the disks behind it, as qemu-ga 7.2 walks
//! them for guest-get-fsinfo and guest-get-disks: a virtual device
//! (device-mapper, md, loop) is followed through its `slaves`; a real one is
//! described by its device node and serial (udev's view) and by the
//! controller its sysfs path goes through (PCI address, bus type, and
//! bus/target/unit for IDE, SCSI, SATA; virtio, NVMe, s390 CCW).

use super::os::errno;
use super::scan::Scanner;
use crate::system::SystemPaths;
use protocol::qga::GuestDiskBusType as BusType;
use protocol::system::{CcwAddress, DiskAddress, PciAddress};
use protocol::QgaError;

/// What a walk found: the filesystem's device name (the first device met)
/// and each disk in the order found.
#[derive(Debug, Default)]
pub struct Found {
    pub name: Option<String>,
    pub disks: Vec<DiskAddress>,
}

impl Found {
    /// qemu-ga prepends each disk, so its list is the reverse of the order
    /// found.
    pub fn disks_as_listed(mut self) -> Vec<DiskAddress> {
        self.disks.reverse();
        self.disks
    }
}

fn basename(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((_, name)) => name.to_string(),
        None => trimmed.to_string(),
    }
}

fn realpath(path: &str) -> Result<String, i32> {
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| errno(&e))
}

/// Where the part of `syspath` below the sysfs root starts. qemu-ga looks
/// for markers such as `/devices/pci` or `/host` anywhere in the path; with
/// sysfs elsewhere than /sys only the part below the root may count.
fn below_root(paths: &SystemPaths, syspath: &str) -> usize {
    let Ok(root) = std::fs::canonicalize(&paths.sysfs_root) else {
        return 0;
    };
    let root = root.to_string_lossy();
    let root = root.trim_end_matches('/');
    match syspath.strip_prefix(root) {
        Some(rest) if rest.starts_with('/') => root.len(),
        _ => 0,
    }
}

/// Whether a resolved sysfs path is a virtual block device (device-mapper,
/// md, loop, zram).
pub fn is_virtual(paths: &SystemPaths, syspath: &str) -> bool {
    syspath[below_root(paths, syspath)..].contains("/devices/virtual/block/")
}

/// Walks the device at `devpath` (a sysfs path, possibly a symlink).
pub fn walk(paths: &SystemPaths, devpath: &str, found: &mut Found) -> Result<(), QgaError> {
    let syspath = match realpath(devpath) {
        Ok(p) => p,
        // A device node the container does not show: name only.
        Err(libc::ENOENT) => {
            found.name.get_or_insert_with(|| basename(devpath));
            return Ok(());
        }
        Err(e) => return Err(QgaError::call_failed("realpath", devpath, e)),
    };
    found.name.get_or_insert_with(|| basename(&syspath));
    if is_virtual(paths, &syspath) {
        walk_slaves(paths, &syspath, found)
    } else {
        describe_real(paths, &syspath, found)
    }
}

fn walk_slaves(paths: &SystemPaths, syspath: &str, found: &mut Found) -> Result<(), QgaError> {
    let dir_path = format!("{syspath}/slaves");
    let entries = match std::fs::read_dir(&dir_path) {
        Ok(entries) => entries,
        Err(e) if errno(&e) == libc::ENOENT => return Ok(()),
        Err(e) => return Err(QgaError::call_failed("opendir", &dir_path, errno(&e))),
    };
    for entry in entries {
        let entry = entry.map_err(|e| QgaError::call_failed("readdir", &dir_path, errno(&e)))?;
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let slave = format!("{syspath}/slaves/{}", entry.file_name().to_string_lossy());
            walk(paths, &slave, found)?;
        }
    }
    Ok(())
}

fn describe_real(paths: &SystemPaths, syspath: &str, found: &mut Found) -> Result<(), QgaError> {
    let mut disk = DiskAddress::unknown();
    if let Some(device) = UdevDevice::read(paths, syspath) {
        disk.dev = device.devnode();
        disk.serial = device.property("ID_SERIAL").filter(|s| !s.is_empty());
    }
    let start = below_root(paths, syspath);
    let relative = &syspath[start..];
    let has_hardware_info = if relative.contains("/devices/pci") {
        describe_pci(syspath, start, &mut disk)?
    } else if relative.contains("/devices/css") {
        describe_ccw(relative, &mut disk)
    } else if relative.contains("/virtio") {
        describe_nonpci_virtio(relative, &mut disk)
    } else {
        false
    };
    if has_hardware_info || disk.dev.is_some() || disk.serial.is_some() {
        found.disks.push(disk);
    }
    Ok(())
}

/// The device node of a block device (`/dev/` + DEVNAME), resolving the
/// sysfs path first; None when there is none.
pub fn devnode_of(paths: &SystemPaths, path: &str) -> Option<String> {
    let syspath = realpath(path).ok()?;
    UdevDevice::read(paths, &syspath)?.devnode()
}

/// A udev property (such as DM_NAME) of a block device.
pub fn udev_property_of(paths: &SystemPaths, path: &str, key: &str) -> Option<String> {
    let syspath = realpath(path).ok()?;
    UdevDevice::read(paths, &syspath)?.property(key)
}

/// What libudev reports for a device: the kernel's `uevent` keys plus the
/// `E:` properties of udev's database entry (`b<major>:<minor>`), which only
/// exists where udev runs.
struct UdevDevice {
    uevent: Vec<(String, String)>,
    database: Vec<(String, String)>,
}

impl UdevDevice {
    fn read(paths: &SystemPaths, syspath: &str) -> Option<UdevDevice> {
        let uevent = std::fs::read_to_string(format!("{syspath}/uevent")).ok()?;
        let uevent: Vec<(String, String)> = uevent
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let value = |key: &str| uevent.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let database = match (value("MAJOR"), value("MINOR")) {
            (Some(major), Some(minor)) => {
                std::fs::read_to_string(paths.udev_data_dir.join(format!("b{major}:{minor}")))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }
            _ => Vec::new(),
        };
        Some(UdevDevice { uevent, database })
    }

    fn property(&self, key: &str) -> Option<String> {
        self.database
            .iter()
            .chain(&self.uevent)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn devnode(&self) -> Option<String> {
        let name = self.uevent.iter().find(|(k, _)| k == "DEVNAME")?.1.as_str();
        Some(if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/dev/{name}")
        })
    }
}

/// The drivers whose PCI device qemu-ga reports as a disk's controller.
const CONTROLLER_DRIVERS: &[&str] = &["ata_piix", "sym53c8xx", "virtio-pci", "ahci", "nvme"];

/// `/%x:%x:%x.%x`: one PCI device component, and its length.
fn pci_component(text: &str) -> Option<([u32; 4], usize)> {
    let mut s = Scanner::new(text);
    s.literal(b'/')?;
    let domain = s.unsigned(16)?;
    s.literal(b':')?;
    let bus = s.unsigned(16)?;
    s.literal(b':')?;
    let slot = s.unsigned(16)?;
    s.literal(b'.')?;
    let function = s.unsigned(16)?;
    Some(([domain, bus, slot, function], s.pos()))
}

/// After `/devices/pci`: `%*x:%*x/%x:%x:%x.%x` (the root bus, then the
/// first device), and its length.
fn pci_root_and_device(text: &str) -> Option<([u32; 4], usize)> {
    let mut s = Scanner::new(text);
    s.unsigned(16)?;
    s.literal(b':')?;
    s.unsigned(16)?;
    let (address, len) = pci_component(&text[s.pos()..])?;
    Some((address, s.pos() + len))
}

/// After `/target`: `%*u:%*u:%*u/%*u:%u:%u:%u`, the SCSI channel, target
/// and LUN of the device.
fn scsi_address(relative: &str) -> Option<[u32; 3]> {
    let at = relative.find("/target")?;
    let mut s = Scanner::new(&relative[at + 7..]);
    s.unsigned(10)?;
    s.literal(b':')?;
    s.unsigned(10)?;
    s.literal(b':')?;
    s.unsigned(10)?;
    s.literal(b'/')?;
    s.unsigned(10)?;
    s.literal(b':')?;
    let channel = s.unsigned(10)?;
    s.literal(b':')?;
    let target = s.unsigned(10)?;
    s.literal(b':')?;
    let lun = s.unsigned(10)?;
    Some([channel, target, lun])
}

fn driver_of(device_path: &str) -> Option<String> {
    let link = std::fs::read_link(format!("{device_path}/driver")).ok()?;
    Some(basename(&link.to_string_lossy()))
}

/// The sorted numbers of the `ata<N>` (or `host<N>`) entries of `dir`,
/// at most eight, as qemu-ga collects them.
fn host_numbers(dir: &str, ata: bool) -> Result<Vec<u32>, QgaError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| QgaError::call_failed("opendir", dir, errno(&e)))?;
    let prefix = if ata { "ata" } else { "host" };
    let mut hosts = Vec::new();
    for entry in entries.flatten() {
        if hosts.len() == 8 {
            break;
        }
        let name = entry.file_name();
        if let Some(n) = name
            .to_string_lossy()
            .strip_prefix(prefix)
            .and_then(|rest| Scanner::new(rest).int())
        {
            hosts.push(n as u32);
        }
    }
    hosts.sort_unstable();
    Ok(hosts)
}

/// A disk behind a PCI controller. The controller is the first device on
/// the path, going down, whose driver qemu-ga knows; its address is
/// reported even when the bus details cannot be worked out. `start` is
/// where the part below the sysfs root begins; offsets are in `syspath`.
fn describe_pci(syspath: &str, start: usize, disk: &mut DiskAddress) -> Result<bool, QgaError> {
    let relative = &syspath[start..];
    let find = |marker: &str| relative.find(marker).map(|at| start + at);
    let Some(at) = find("/devices/pci") else {
        return Ok(false);
    };
    let Some((mut pci, len)) = pci_root_and_device(&syspath[at + 12..]) else {
        return Ok(false);
    };
    let mut end = at + 12 + len;
    let driver = loop {
        if let Some(driver) = driver_of(&syspath[..end]) {
            if CONTROLLER_DRIVERS.contains(&driver.as_str()) {
                break driver;
            }
        }
        match pci_component(&syspath[end..]) {
            Some((address, len)) => {
                pci = address;
                end += len;
            }
            None => return Ok(false),
        }
    };
    let target = scsi_address(relative);
    // "/ata<N>" for libata controllers, else "/host<N>".
    let (host_at, ata) = match find("/ata") {
        Some(at) => (Some((at, at + 4)), true),
        None => (find("/host").map(|at| (at, at + 5)), false),
    };
    let mut host = None;
    let mut hosts = Vec::new();
    if let Some((at, number_at)) = host_at {
        if let Some(n) = Scanner::new(&syspath[number_at..]).unsigned(10) {
            host = Some(n);
            hosts = host_numbers(&syspath[..at], ata)?;
        }
    }
    disk.pci_controller = PciAddress {
        domain: pci[0].into(),
        bus: pci[1].into(),
        slot: pci[2].into(),
        function: pci[3].into(),
    };
    // The index of this disk's host among its controller's hosts.
    let host_index = || host.and_then(|h| hosts.iter().position(|&x| x == h));
    match driver.as_str() {
        "ata_piix" => {
            // One host per IDE bus; target*:0:<unit>:0.
            let (Some(target), Some(bus)) = (target, host_index()) else {
                return Ok(false);
            };
            disk.bus_type = BusType::Ide;
            disk.bus = bus as i64;
            disk.unit = target[1].into();
        }
        "sym53c8xx" => {
            // LSI SCSI: target*:0:<unit>:0.
            let Some(target) = target else {
                return Ok(false);
            };
            disk.bus_type = BusType::Scsi;
            disk.unit = target[1].into();
        }
        "virtio-pci" => match target {
            // virtio-scsi: target*:0:0:<unit>.
            Some(target) => {
                disk.bus_type = BusType::Scsi;
                disk.unit = target[2].into();
            }
            // virtio-blk: one disk per device.
            None => disk.bus_type = BusType::Virtio,
        },
        "ahci" => {
            // One host per port.
            let (Some(_), Some(unit)) = (target, host_index()) else {
                return Ok(false);
            };
            disk.bus_type = BusType::Sata;
            disk.unit = unit as i64;
        }
        _ => disk.bus_type = BusType::Nvme,
    }
    Ok(true)
}

/// An s390 channel I/O device: `/devices/css<N>/<cssid>.<ssid>.<subchno>/
/// <x>.<y>.<devno>/`.
fn describe_ccw(relative: &str, disk: &mut DiskAddress) -> bool {
    let Some(at) = relative.find("/devices/css") else {
        return false;
    };
    let rest = &relative[at + 12..];
    let parse = || {
        let mut s = Scanner::new(rest);
        s.unsigned(16)?;
        s.literal(b'/')?;
        let cssid = s.unsigned(16)?;
        s.literal(b'.')?;
        let ssid = s.unsigned(16)?;
        s.literal(b'.')?;
        let subchno = s.unsigned(16)?;
        s.literal(b'/')?;
        s.unsigned(16)?;
        s.literal(b'.')?;
        s.unsigned(16)?;
        s.literal(b'.')?;
        let devno = s.unsigned(16)?;
        Some((cssid, ssid, subchno, devno))
    };
    let Some((cssid, ssid, subchno, devno)) = parse() else {
        return false;
    };
    disk.ccw_address = Some(CcwAddress {
        cssid: cssid.into(),
        ssid: ssid.into(),
        subchno: subchno.into(),
        devno: devno.into(),
    });
    if rest.contains("/virtio") {
        describe_nonpci_virtio(relative, disk);
    }
    true
}

/// A virtio disk not on PCI (s390, virtio-mmio).
fn describe_nonpci_virtio(relative: &str, disk: &mut DiskAddress) -> bool {
    if !relative.contains("/virtio") || !relative.contains("/block") {
        return false;
    }
    match scsi_address(relative) {
        Some([bus, target, unit]) => {
            disk.bus_type = BusType::Scsi;
            disk.bus = bus.into();
            disk.target = target.into();
            disk.unit = unit.into();
        }
        None => disk.bus_type = BusType::Virtio,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    /// A disk device in the fixture: its uevent (major:minor, DEVNAME) and
    /// `/sys/dev/block` link; `dir` is below `sys/devices/`.
    pub fn add_disk(f: &Fixture, dir: &str, name: &str, major: u32, minor: u32) {
        let path = format!("sys/devices/{dir}");
        f.file(
            &format!("{path}/uevent"),
            &format!("MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk\n"),
        )
        .dir(&format!("{path}/slaves"));
        f.link(&format!("sys/dev/block/{major}:{minor}"), f.path(&path));
    }

    fn driver(f: &Fixture, device: &str, name: &str) {
        f.dir(&format!("sys/bus/pci/drivers/{name}"));
        f.link(
            &format!("sys/devices/{device}/driver"),
            f.path(&format!("sys/bus/pci/drivers/{name}")),
        );
    }

    fn walk_dev(f: &Fixture, major: u32, minor: u32) -> Found {
        let paths = f.paths();
        let mut found = Found::default();
        walk(
            &paths,
            &paths.sys(&format!("dev/block/{major}:{minor}")),
            &mut found,
        )
        .unwrap();
        found
    }

    fn only_disk(found: Found) -> DiskAddress {
        let disks = found.disks_as_listed();
        assert_eq!(disks.len(), 1, "{disks:?}");
        disks.into_iter().next().unwrap()
    }

    #[test]
    fn virtio_blk_and_its_partition() {
        let f = Fixture::new("blk-virtio");
        let vda = "pci0000:00/0000:00:02.0/virtio1/block/vda";
        driver(&f, "pci0000:00/0000:00:02.0", "virtio-pci");
        add_disk(&f, vda, "vda", 254, 0);
        add_disk(&f, &format!("{vda}/vda1"), "vda1", 254, 1);
        let found = walk_dev(&f, 254, 1);
        assert_eq!(found.name.as_deref(), Some("vda1"));
        let disk = only_disk(found);
        assert_eq!(disk.bus_type, BusType::Virtio);
        assert_eq!(
            disk.pci_controller,
            PciAddress {
                domain: 0,
                bus: 0,
                slot: 2,
                function: 0
            }
        );
        assert_eq!(disk.dev.as_deref(), Some("/dev/vda1"));
        assert_eq!(disk.serial, None);
        assert_eq!((disk.bus, disk.target, disk.unit), (0, 0, 0));
    }

    #[test]
    fn serial_comes_from_the_udev_database() {
        let f = Fixture::new("blk-serial");
        driver(&f, "pci0000:00/0000:00:05.0", "virtio-pci");
        add_disk(
            &f,
            "pci0000:00/0000:00:05.0/virtio3/block/vdb",
            "vdb",
            254,
            16,
        );
        f.file(
            "udev/b254:16",
            "S:disk/by-id/virtio-DATA1\nE:ID_SERIAL=DATA1\n",
        );
        let disk = only_disk(walk_dev(&f, 254, 16));
        assert_eq!(disk.serial.as_deref(), Some("DATA1"));
        assert_eq!(disk.pci_controller.slot, 5);
    }

    #[test]
    fn virtio_scsi_reports_the_lun() {
        let f = Fixture::new("blk-vscsi");
        let dev = "pci0000:00/0000:00:04.0";
        driver(&f, dev, "virtio-pci");
        add_disk(
            &f,
            &format!("{dev}/virtio2/host2/target2:0:3/2:0:3:5/block/sdc"),
            "sdc",
            8,
            32,
        );
        let disk = only_disk(walk_dev(&f, 8, 32));
        assert_eq!(disk.bus_type, BusType::Scsi);
        // qemu-ga reports the LUN as the unit and leaves target at 0.
        assert_eq!((disk.bus, disk.target, disk.unit), (0, 0, 5));
    }

    #[test]
    fn sata_unit_is_the_host_index() {
        let f = Fixture::new("blk-ahci");
        let ctl = "pci0000:00/0000:00:1f.2";
        driver(&f, ctl, "ahci");
        for n in [1, 2, 3, 4, 5, 6] {
            f.dir(&format!("sys/devices/{ctl}/ata{n}"));
        }
        add_disk(
            &f,
            &format!("{ctl}/ata3/host2/target2:0:0/2:0:0:0/block/sda"),
            "sda",
            8,
            0,
        );
        let disk = only_disk(walk_dev(&f, 8, 0));
        assert_eq!(disk.bus_type, BusType::Sata);
        assert_eq!(disk.unit, 2);
        assert_eq!(disk.pci_controller.slot, 0x1f);
        assert_eq!(disk.pci_controller.function, 2);
    }

    #[test]
    fn ide_bus_is_the_host_index_and_unit_the_target() {
        let f = Fixture::new("blk-ide");
        let ctl = "pci0000:00/0000:00:01.1";
        driver(&f, ctl, "ata_piix");
        f.dir(&format!("sys/devices/{ctl}/ata1"))
            .dir(&format!("sys/devices/{ctl}/ata2"));
        add_disk(
            &f,
            &format!("{ctl}/ata2/host1/target1:0:1/1:0:1:0/block/sdb"),
            "sdb",
            8,
            16,
        );
        let disk = only_disk(walk_dev(&f, 8, 16));
        assert_eq!(disk.bus_type, BusType::Ide);
        assert_eq!((disk.bus, disk.unit), (1, 1));
    }

    #[test]
    fn lsi_scsi_and_nvme_behind_a_bridge() {
        let f = Fixture::new("blk-scsi-nvme");
        let lsi = "pci0000:00/0000:00:07.0";
        driver(&f, lsi, "sym53c8xx");
        add_disk(
            &f,
            &format!("{lsi}/host0/target0:0:4/0:0:4:0/block/sdd"),
            "sdd",
            8,
            48,
        );
        let disk = only_disk(walk_dev(&f, 8, 48));
        assert_eq!((disk.bus_type, disk.unit), (BusType::Scsi, 4));
        // The NVMe controller sits behind a PCI bridge with another driver:
        // the walk goes down to the device whose driver it knows.
        let bridge = "pci0000:00/0000:00:1c.0";
        driver(&f, bridge, "pcieport");
        let nvme = format!("{bridge}/0000:01:00.0");
        driver(&f, &nvme, "nvme");
        add_disk(&f, &format!("{nvme}/nvme/nvme0/nvme0n1"), "nvme0n1", 259, 0);
        let disk = only_disk(walk_dev(&f, 259, 0));
        assert_eq!(disk.bus_type, BusType::Nvme);
        assert_eq!(
            disk.pci_controller,
            PciAddress {
                domain: 0,
                bus: 1,
                slot: 0,
                function: 0
            }
        );
    }

    #[test]
    fn unknown_driver_keeps_the_device_node_only() {
        let f = Fixture::new("blk-unknown");
        let usb = "pci0000:00/0000:00:14.0";
        driver(&f, usb, "xhci_hcd");
        add_disk(
            &f,
            &format!("{usb}/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sde"),
            "sde",
            8,
            64,
        );
        let disk = only_disk(walk_dev(&f, 8, 64));
        assert_eq!(disk.bus_type, BusType::Unknown);
        assert_eq!(disk.pci_controller, PciAddress::UNKNOWN);
        assert_eq!(disk.dev.as_deref(), Some("/dev/sde"));
    }

    #[test]
    fn device_mapper_follows_its_slaves() {
        let f = Fixture::new("blk-dm");
        let ctl = "pci0000:00/0000:00:02.0";
        driver(&f, ctl, "virtio-pci");
        let vda = format!("{ctl}/virtio1/block/vda");
        add_disk(&f, &vda, "vda", 254, 0);
        add_disk(&f, &format!("{vda}/vda2"), "vda2", 254, 2);
        let ctl2 = "pci0000:00/0000:00:03.0";
        driver(&f, ctl2, "virtio-pci");
        let vdb = format!("{ctl2}/virtio2/block/vdb");
        add_disk(&f, &vdb, "vdb", 254, 16);
        add_disk(&f, "virtual/block/dm-0", "dm-0", 253, 0);
        f.link(
            "sys/devices/virtual/block/dm-0/slaves/vda2",
            f.path(&format!("sys/devices/{vda}/vda2")),
        );
        f.link(
            "sys/devices/virtual/block/dm-0/slaves/vdb",
            f.path(&format!("sys/devices/{vdb}")),
        );
        let found = walk_dev(&f, 253, 0);
        assert_eq!(found.name.as_deref(), Some("dm-0"));
        let mut devs: Vec<_> = found
            .disks_as_listed()
            .into_iter()
            .map(|d| (d.dev.unwrap(), d.pci_controller.slot))
            .collect();
        devs.sort();
        assert_eq!(
            devs,
            [("/dev/vda2".to_string(), 2), ("/dev/vdb".to_string(), 3)]
        );
    }

    #[test]
    fn loop_devices_have_no_disks_and_missing_devices_a_name() {
        let f = Fixture::new("blk-loop");
        add_disk(&f, "virtual/block/loop0", "loop0", 7, 0);
        let found = walk_dev(&f, 7, 0);
        assert_eq!(found.name.as_deref(), Some("loop0"));
        assert!(found.disks.is_empty());
        let found = walk_dev(&f, 0, 99);
        assert_eq!(found.name.as_deref(), Some("0:99"));
        assert!(found.disks.is_empty());
    }

    #[test]
    fn markers_in_the_root_path_do_not_count() {
        // sysfs of a host mounted into a container at .../hostroot/sys: the
        // "/host" of the root must not be taken for a SCSI host.
        let f = Fixture::new("blk-root-markers");
        let mut paths = f.paths();
        paths.sysfs_root = f.path("hostroot/ata9/virtio7/sys");
        let ctl = "hostroot/ata9/virtio7/sys/devices/pci0000:00/0000:00:1f.2";
        f.dir("hostroot/ata9/virtio7/sys/bus/pci/drivers/ahci");
        f.link(
            &format!("{ctl}/driver"),
            f.path("hostroot/ata9/virtio7/sys/bus/pci/drivers/ahci"),
        );
        f.dir(&format!("{ctl}/ata1")).dir(&format!("{ctl}/ata2"));
        let sda = format!("{ctl}/ata2/host1/target1:0:0/1:0:0:0/block/sda");
        f.file(&format!("{sda}/uevent"), "MAJOR=8\nMINOR=0\nDEVNAME=sda\n");
        let mut found = Found::default();
        walk(&paths, &f.path(&sda).display().to_string(), &mut found).unwrap();
        let disk = only_disk(found);
        assert_eq!((disk.bus_type, disk.unit), (BusType::Sata, 1));
    }

    #[test]
    fn ccw_and_mmio_virtio() {
        let f = Fixture::new("blk-ccw");
        add_disk(
            &f,
            "css0/0.0.0002/0.0.0001/virtio1/block/vda",
            "vda",
            254,
            0,
        );
        let disk = only_disk(walk_dev(&f, 254, 0));
        assert_eq!(
            disk.ccw_address,
            Some(CcwAddress {
                cssid: 0,
                ssid: 0,
                subchno: 2,
                devno: 1
            })
        );
        assert_eq!(disk.bus_type, BusType::Virtio);
        add_disk(
            &f,
            "platform/a003e00.virtio_mmio/virtio0/block/vdb",
            "vdb",
            254,
            16,
        );
        let disk = only_disk(walk_dev(&f, 254, 16));
        assert_eq!(disk.bus_type, BusType::Virtio);
        assert_eq!(disk.pci_controller, PciAddress::UNKNOWN);
    }
}
