//! guest-get-disks: every block device with a size (in qemu-ga's order,
//! the reverse of `/sys/block`'s), its device-mapper name, the devices it
//! is built on, its address when it is a real disk, and its partitions.

use super::block_devices::{self, Found};
use super::os::errno;
use crate::system::SystemPaths;
use protocol::system::{Disk, DiskAddress};
use protocol::QgaError;

pub fn get_disks(paths: &SystemPaths) -> Result<Vec<Disk>, QgaError> {
    let block = paths.sys("block");
    let entries = std::fs::read_dir(&block)
        .map_err(|e| QgaError::block_directory_failed(&block, errno(&e)))?;
    let mut disks = Vec::new();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let disk_dir = format!("{block}/{name}");
        // Empty devices (unbound loop devices, absent media) are skipped.
        match std::fs::read_to_string(format!("{disk_dir}/size")) {
            Ok(size) if size != "0\n" => {}
            _ => continue,
        }
        let Some(devnode) = block_devices::devnode_of(paths, &disk_dir) else {
            continue;
        };
        let address = std::fs::canonicalize(&disk_dir)
            .ok()
            .filter(|p| !block_devices::is_virtual(paths, &p.to_string_lossy()))
            .and_then(|_| address_of(paths, &disk_dir));
        disks.push(Disk {
            name: devnode.clone(),
            partition: false,
            dependencies: dependencies(paths, &disk_dir),
            address,
            alias: block_devices::udev_property_of(paths, &disk_dir, "DM_NAME")
                .filter(|a| !a.is_empty()),
        });
        disks.extend(partitions(paths, &name, &disk_dir, &devnode));
    }
    // qemu-ga prepends each disk and partition to its list.
    disks.reverse();
    Ok(disks)
}

/// The address of a real disk; errors only mean it has none.
fn address_of(paths: &SystemPaths, disk_dir: &str) -> Option<DiskAddress> {
    let mut found = Found::default();
    block_devices::walk(paths, disk_dir, &mut found).ok()?;
    found.disks.pop()
}

/// The device nodes of the devices this one is built on (`slaves`), in
/// qemu-ga's order; None when the directory cannot be read.
fn dependencies(paths: &SystemPaths, disk_dir: &str) -> Option<Vec<String>> {
    let dir = format!("{disk_dir}/slaves");
    let mut nodes: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let path = format!("{dir}/{}", e.file_name().to_string_lossy());
            block_devices::devnode_of(paths, &path)
        })
        .collect();
    nodes.reverse();
    Some(nodes)
}

/// Subdirectories named `<disk><N>` or `<disk>p<N>`, each depending on
/// its disk.
fn partitions(paths: &SystemPaths, disk_name: &str, disk_dir: &str, devnode: &str) -> Vec<Disk> {
    let Ok(entries) = std::fs::read_dir(disk_dir) else {
        return Vec::new();
    };
    let is_partition = |name: &str| {
        let Some(rest) = name.strip_prefix(disk_name) else {
            return false;
        };
        let rest = rest.strip_prefix('p').unwrap_or(rest);
        rest.starts_with(|c: char| c.is_ascii_digit())
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| is_partition(&e.file_name().to_string_lossy()))
        .filter_map(|e| {
            let path = format!("{disk_dir}/{}", e.file_name().to_string_lossy());
            Some(Disk {
                name: block_devices::devnode_of(paths, &path)?,
                partition: true,
                dependencies: Some(vec![devnode.to_string()]),
                address: None,
                alias: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;
    use protocol::qga::GuestDiskBusType;

    fn block_device(f: &Fixture, dir: &str, name: &str, dev: &str, size: &str) {
        let path = format!("sys/devices/{dir}");
        let (major, minor) = dev.split_once(':').unwrap();
        f.file(
            &format!("{path}/uevent"),
            &format!("MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\n"),
        )
        .file(&format!("{path}/size"), size)
        .dir(&format!("{path}/slaves"))
        .dir(&format!("{path}/holders"));
    }

    #[test]
    fn disks_partitions_and_device_mapper() {
        let f = Fixture::new("disks");
        let ctl = "pci0000:00/0000:00:02.0";
        f.dir("sys/bus/pci/drivers/virtio-pci");
        f.link(
            &format!("sys/devices/{ctl}/driver"),
            f.path("sys/bus/pci/drivers/virtio-pci"),
        );
        let vda = format!("{ctl}/virtio1/block/vda");
        block_device(&f, &vda, "vda", "254:0", "2097152\n");
        // Partitions have no slaves directory of their own.
        f.file(
            &format!("sys/devices/{vda}/vda1/uevent"),
            "MAJOR=254\nMINOR=1\nDEVNAME=vda1\n",
        );
        f.file(&format!("sys/devices/{vda}/vda1/size"), "1024\n");
        f.link("sys/block/vda", f.path(&format!("sys/devices/{vda}")));
        block_device(&f, "virtual/block/dm-0", "dm-0", "253:0", "1024\n");
        f.link(
            "sys/devices/virtual/block/dm-0/slaves/vda1",
            f.path(&format!("sys/devices/{vda}/vda1")),
        );
        f.link("sys/block/dm-0", f.path("sys/devices/virtual/block/dm-0"));
        f.file("udev/b253:0", "E:DM_NAME=vg-root\n");
        block_device(&f, "virtual/block/loop3", "loop3", "7:3", "0\n");
        f.link("sys/block/loop3", f.path("sys/devices/virtual/block/loop3"));
        // Not a symlink: not a disk.
        f.dir("sys/block/stray");

        let disks = get_disks(&f.paths()).unwrap();
        let mut names: Vec<_> = disks.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["/dev/dm-0", "/dev/vda", "/dev/vda1"]);
        let by_name = |n: &str| disks.iter().find(|d| d.name == n).unwrap();
        let vda = by_name("/dev/vda");
        assert!(!vda.partition);
        assert_eq!(vda.dependencies.as_deref(), Some(&[][..]));
        let address = vda.address.as_ref().unwrap();
        assert_eq!(address.bus_type, GuestDiskBusType::Virtio);
        assert_eq!(address.dev.as_deref(), Some("/dev/vda"));
        assert_eq!(vda.alias, None);
        let vda1 = by_name("/dev/vda1");
        assert!(vda1.partition);
        assert_eq!(vda1.dependencies, Some(vec!["/dev/vda".to_string()]));
        assert!(vda1.address.is_none());
        let dm = by_name("/dev/dm-0");
        assert_eq!(dm.alias.as_deref(), Some("vg-root"));
        assert_eq!(dm.dependencies, Some(vec!["/dev/vda1".to_string()]));
        assert!(dm.address.is_none());
        // A partition comes before its disk, as qemu-ga lists them.
        let pos = |n: &str| disks.iter().position(|d| d.name == n).unwrap();
        assert!(pos("/dev/vda1") < pos("/dev/vda"));
    }
}
