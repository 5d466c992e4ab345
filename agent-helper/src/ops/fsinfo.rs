//! guest-get-fsinfo: each local mount (in qemu-ga's order, which is the
//! mount table's reversed), the device it lies on and the disks behind
//! that, and its usage from statvfs.

use super::block_devices::{self, Found};
use super::fs_mounts::{self, Mount};
use crate::system::SystemPaths;
use protocol::system::Filesystem;
use protocol::QgaError;
use std::path::Path;

pub fn get_fsinfo(paths: &SystemPaths) -> Result<Vec<Filesystem>, QgaError> {
    let mounts = fs_mounts::local_mounts(paths)?;
    let mut filesystems = mounts
        .iter()
        .map(|m| describe(paths, m))
        .collect::<Result<Vec<_>, _>>()?;
    // qemu-ga prepends each filesystem to its list.
    filesystems.reverse();
    Ok(filesystems)
}

fn describe(paths: &SystemPaths, mount: &Mount) -> Result<Filesystem, QgaError> {
    let devpath = paths.sys(&format!("dev/block/{}:{}", mount.major, mount.minor));
    let mut found = Found::default();
    block_devices::walk(paths, &devpath, &mut found)?;
    let (used_bytes, total_bytes) = match usage(&mount.dir) {
        Some((used, total)) => (Some(used), Some(total)),
        None => (None, None),
    };
    Ok(Filesystem {
        name: found.name.take().unwrap_or_default(),
        mountpoint: mount.dir.to_string_lossy().into_owned(),
        fs_type: mount.fs_type.clone(),
        used_bytes,
        total_bytes,
        disk: found.disks_as_listed(),
    })
}

/// Used and total bytes as `df` shows them to users: the blocks in use, and
/// those plus the blocks an unprivileged user may still take (the reserve
/// for root is left out of the total).
fn usage(mountpoint: &Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(mountpoint).ok()?;
    let fragment = st.fragment_size();
    let used = st.blocks().wrapping_sub(st.blocks_free());
    let total = used.wrapping_add(st.blocks_available());
    Some((used.wrapping_mul(fragment), total.wrapping_mul(fragment)))
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;
    use protocol::qga::GuestDiskBusType;

    #[test]
    fn mounts_in_qemu_ga_order_with_their_disks() {
        let f = Fixture::new("fsinfo");
        let ctl = "pci0000:00/0000:00:02.0";
        f.dir("sys/bus/pci/drivers/virtio-pci");
        f.link(
            &format!("sys/devices/{ctl}/driver"),
            f.path("sys/bus/pci/drivers/virtio-pci"),
        );
        let vda = format!("sys/devices/{ctl}/virtio1/block/vda");
        f.file(
            &format!("{vda}/uevent"),
            "MAJOR=254\nMINOR=0\nDEVNAME=vda\n",
        )
        .link("sys/dev/block/254:0", f.path(&vda))
        .file(
            "sys/devices/virtual/block/loop0/uevent",
            "MAJOR=7\nMINOR=0\nDEVNAME=loop0\n",
        )
        .dir("sys/devices/virtual/block/loop0/slaves")
        .link(
            "sys/dev/block/7:0",
            f.path("sys/devices/virtual/block/loop0"),
        )
        .file(
            "proc/self/mountinfo",
            "22 27 0:21 / /proc rw - proc proc rw\n\
                 27 1 254:0 / / rw - ext4 /dev/vda rw\n\
                 42 27 7:0 / /nonexistent/mnt rw - ext4 /dev/loop0 rw\n",
        );
        let filesystems = get_fsinfo(&f.paths()).unwrap();
        assert_eq!(filesystems.len(), 2);
        let loop0 = &filesystems[0];
        assert_eq!(
            (loop0.name.as_str(), loop0.mountpoint.as_str()),
            ("loop0", "/nonexistent/mnt")
        );
        assert!(loop0.disk.is_empty());
        // statvfs fails on a mountpoint that does not exist: no usage.
        assert_eq!((loop0.used_bytes, loop0.total_bytes), (None, None));
        let root = &filesystems[1];
        assert_eq!(
            (
                root.name.as_str(),
                root.mountpoint.as_str(),
                root.fs_type.as_str()
            ),
            ("vda", "/", "ext4")
        );
        assert_eq!(root.disk.len(), 1);
        assert_eq!(root.disk[0].bus_type, GuestDiskBusType::Virtio);
        assert_eq!(root.disk[0].dev.as_deref(), Some("/dev/vda"));
        let (used, total) = (root.used_bytes.unwrap(), root.total_bytes.unwrap());
        assert!(used > 0 && used <= total, "{used} {total}");
    }
}
