//! The filesystems guest-fsfreeze-* and guest-fstrim act on, chosen as
//! qemu-ga chooses them: every entry of /proc/self/mountinfo whose device
//! number has a non-zero major (a block device; proc, sysfs, tmpfs, NFS,
//! FUSE and other virtual filesystems have major 0), plus btrfs, which shows
//! an anonymous device but names its block device as the source. Bind mounts
//! and read-only mounts stay in the list: qemu-ga keeps them too, and the
//! kernel answers a second freeze of the same filesystem with EBUSY.

use protocol::QgaError;
use std::ffi::{CString, OsString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One mounted filesystem, in mount order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub dir: PathBuf,
    pub fstype: String,
    pub major: u32,
    pub minor: u32,
}

impl Mount {
    /// The mount point as the host sees it in results.
    pub fn dir_text(&self) -> String {
        String::from_utf8_lossy(self.dir.as_os_str().as_bytes()).into_owned()
    }
}

/// The current mount table's candidates, in mount order.
pub fn read() -> Result<Vec<Mount>, QgaError> {
    let text = std::fs::read(MOUNTINFO).map_err(|e| {
        let reason = e
            .raw_os_error()
            .map_or_else(|| e.to_string(), super::strerror);
        QgaError::mount_table_unreadable(&reason)
    })?;
    Ok(parse(&text, block_device_number))
}

/// Parses mountinfo text. `source_device` gives the device number of a
/// btrfs mount's source when it is a block device.
pub fn parse(text: &[u8], source_device: impl Fn(&Path) -> Option<(u32, u32)>) -> Vec<Mount> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| parse_line(line, &source_device))
        .collect()
}

fn parse_line(line: &[u8], source_device: impl Fn(&Path) -> Option<(u32, u32)>) -> Option<Mount> {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let (major, minor) = split_device(fields.get(2)?)?;
    let dir = PathBuf::from(OsString::from_vec(unescape(fields.get(4)?)));
    let separator = fields.iter().skip(6).position(|f| *f == b"-")? + 6;
    let fstype = String::from_utf8_lossy(fields.get(separator + 1)?).into_owned();
    let (major, minor) = if major != 0 {
        (major, minor)
    } else if fstype == "btrfs" {
        let source = PathBuf::from(OsString::from_vec(unescape(fields.get(separator + 2)?)));
        source_device(&source)?
    } else {
        return None;
    };
    Some(Mount {
        dir,
        fstype,
        major,
        minor,
    })
}

fn split_device(field: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(field).ok()?;
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The device number of a block device node.
pub fn block_device_number(path: &Path) -> Option<(u32, u32)> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    let rdev = meta.rdev();
    Some((libc::major(rdev), libc::minor(rdev)))
}

/// Undoes the kernel's escaping of mountinfo fields: `\ooo` (three octal
/// digits, the first 0-3) is that byte, `\\` is a backslash; anything else
/// stays as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let rest = &field[i..];
        if rest.starts_with(b"\\\\") {
            out.push(b'\\');
            i += 2;
        } else if rest.len() >= 4
            && rest[0] == b'\\'
            && (b'0'..=b'3').contains(&rest[1])
            && (b'0'..=b'7').contains(&rest[2])
            && (b'0'..=b'7').contains(&rest[3])
        {
            out.push((rest[1] - b'0') * 64 + (rest[2] - b'0') * 8 + (rest[3] - b'0'));
            i += 4;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

/// The inverse of `unescape` for the bytes that would break a line-based
/// record (backslash, newline) or a field (space, tab).
pub fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' | b'\n' | b' ' | b'\t' => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

/// Opens a mount point for the filesystem ioctls. O_NONBLOCK and O_NOCTTY
/// keep a mount point that is a FIFO or device node (a bind-mounted file)
/// from blocking or becoming a terminal; it is still opened, as qemu-ga
/// does. Returns the errno on failure.
pub fn open(dir: &Path) -> Result<OwnedFd, i32> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    // SAFETY: open with a valid C string; the fd is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Whether a host-given mount point names this mount (qemu-ga compares the
/// strings exactly).
pub fn names(mount: &Mount, requested: &[u8]) -> bool {
    mount.dir.as_os_str().as_bytes() == requested
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
42 27 7:0 / /mnt/with\\040space rw,relatime shared:5 master:1 - ext4 /dev/loop0 rw
43 27 7:0 / /srv/bind rw,relatime - ext4 /dev/loop0 rw
44 27 7:1 / /srv/ro ro,relatime - ext4 /dev/loop1 ro
45 27 0:50 / /data rw,relatime - btrfs /dev/loop2 rw,space_cache=v2
46 27 0:51 / /gone rw,relatime - btrfs /dev/nonexistent rw
47 27 0:52 / /net rw,relatime - nfs4 server:/export rw
garbage line
";

    fn fake_source(path: &Path) -> Option<(u32, u32)> {
        (path == Path::new("/dev/loop2")).then_some((7, 2))
    }

    #[test]
    fn keeps_block_devices_binds_read_only_and_btrfs_in_mount_order() {
        let mounts = parse(SAMPLE.as_bytes(), fake_source);
        let dirs: Vec<String> = mounts.iter().map(Mount::dir_text).collect();
        assert_eq!(
            dirs,
            ["/", "/mnt/with space", "/srv/bind", "/srv/ro", "/data"]
        );
        assert_eq!((mounts[4].major, mounts[4].minor), (7, 2));
        assert_eq!(mounts[4].fstype, "btrfs");
        assert_eq!(mounts[1].fstype, "ext4");
    }

    #[test]
    fn unescape_matches_the_kernels_escaping() {
        assert_eq!(unescape(b"/a\\040b\\011c\\012d\\134e"), b"/a b\tc\nd\\e");
        assert_eq!(unescape(b"/a\\\\b"), b"/a\\b");
        // Not an escape: kept as is.
        assert_eq!(unescape(b"/a\\9b\\"), b"/a\\9b\\");
    }

    #[test]
    fn escape_round_trips() {
        let raw = b"/odd path\\with\nnewline\tand tab";
        let escaped = escape(raw);
        assert!(!escaped.contains(&b'\n') && !escaped.contains(&b' '));
        assert_eq!(unescape(&escaped), raw);
    }

    #[test]
    fn requested_names_match_exactly() {
        let mounts = parse(SAMPLE.as_bytes(), fake_source);
        assert!(names(&mounts[1], b"/mnt/with space"));
        assert!(!names(&mounts[1], b"/mnt/with space/"));
        assert!(!names(&mounts[0], b"//"));
    }
}
