//! The mounted local filesystems as qemu-ga lists them for guest-get-fsinfo:
//! from procfs `self/mountinfo`, every mount whose device number has a
//! non-zero major (btrfs, which reports major 0, by its device node), in
//! table order; from `self/mounts` when mountinfo cannot be read.

use super::mounts::unescape;
use super::scan::Scanner;
use crate::system::SystemPaths;
use protocol::QgaError;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub dir: PathBuf,
    pub fs_type: String,
    pub major: u32,
    pub minor: u32,
}

pub fn local_mounts(paths: &SystemPaths) -> Result<Vec<Mount>, QgaError> {
    match std::fs::read(paths.proc("self/mountinfo")) {
        Ok(table) => Ok(from_mountinfo(&table)),
        Err(_) => from_mounts(paths),
    }
}

/// The device numbers of a block device node; None for anything else.
fn block_device_numbers(path: &[u8]) -> Option<(u32, u32)> {
    super::mounts::block_device_number(std::path::Path::new(OsStr::from_bytes(path)))
}

fn from_mountinfo(table: &[u8]) -> Vec<Mount> {
    let text = String::from_utf8_lossy(table);
    text.split_inclusive('\n')
        .filter_map(mountinfo_line)
        .collect()
}

/// `ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS... - TYPE SOURCE SUPER`.
fn mountinfo_line(line: &str) -> Option<Mount> {
    let mut s = Scanner::new(line);
    s.unsigned(10)?;
    s.unsigned(10)?;
    let mut major = s.unsigned(10)?;
    s.literal(b':')?;
    let mut minor = s.unsigned(10)?;
    s.word()?;
    let (dir_start, dir_end) = s.word()?;
    s.any_char()?;
    let dash = dir_end + line[dir_end..].find(" - ")?;
    let mut s = Scanner::new(&line[dash + 3..]);
    let (type_start, type_end) = s.word()?;
    let (dev_start, dev_end) = s.word()?;
    s.any_char()?;
    let after_dash = &line.as_bytes()[dash + 3..];
    let fs_type = String::from_utf8_lossy(&after_dash[type_start..type_end]).into_owned();
    let device = unescape(&after_dash[dev_start..dev_end]);
    if major == 0 {
        // btrfs reports major 0: its device node has the real numbers.
        if fs_type != "btrfs" {
            return None;
        }
        (major, minor) = block_device_numbers(&device)?;
    }
    let dir = unescape(&line.as_bytes()[dir_start..dir_end]);
    Some(Mount {
        dir: PathBuf::from(OsStr::from_bytes(&dir)),
        fs_type,
        major,
        minor,
    })
}

/// The fallback: `self/mounts`, with sources that are not a path and
/// network filesystems left out, as coreutils does.
fn from_mounts(paths: &SystemPaths) -> Result<Vec<Mount>, QgaError> {
    let path = paths.proc("self/mounts");
    let table = std::fs::read(&path).map_err(|_| QgaError::mount_table_failed(&path))?;
    let mut mounts = Vec::new();
    for line in table.split(|&b| b == b'\n') {
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(source), Some(dir), Some(fs_type)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if source.starts_with(b"#") {
            continue;
        }
        let source = unescape(source);
        let fs_type = String::from_utf8_lossy(&unescape(fs_type)).into_owned();
        if !source.starts_with(b"/") || fs_type == "smbfs" || fs_type == "cifs" {
            continue;
        }
        // A bind mount (its source is a directory) is not listed.
        if std::fs::metadata(OsStr::from_bytes(&source)).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let (major, minor) = block_device_numbers(&source).unwrap_or((0, 0));
        mounts.push(Mount {
            dir: PathBuf::from(OsStr::from_bytes(&unescape(dir))),
            fs_type,
            major,
            minor,
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
42 27 7:0 / /tmp/a\\040b rw,relatime shared:5 - ext4 /dev/loop0 rw
43 27 7:0 /sub /tmp/bind rw,relatime - ext4 /dev/loop0 rw
44 27 0:40 / /srv rw - btrfs /nonexistent/device rw
45 27 253:1 / /data rw - xfs /dev/mapper/vg-data rw
46 27 8:1 / /truncated rw
";

    #[test]
    fn mountinfo_keeps_block_devices_in_order() {
        let mounts = from_mountinfo(MOUNTINFO.as_bytes());
        let summary: Vec<_> = mounts
            .iter()
            .map(|m| {
                (
                    m.dir.to_string_lossy().into_owned(),
                    m.fs_type.as_str(),
                    m.major,
                    m.minor,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("/".to_string(), "ext4", 254, 0),
                ("/tmp/a b".to_string(), "ext4", 7, 0),
                ("/tmp/bind".to_string(), "ext4", 7, 0),
                ("/data".to_string(), "xfs", 253, 1),
            ]
        );
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(unescape(b"a\\040b\\134c\\\\d\\9"), b"a b\\c\\d\\9");
    }

    #[test]
    fn falls_back_to_the_mounts_table() {
        let f = Fixture::new("mounts");
        f.file(
            "proc/self/mounts",
            "/dev/vda / ext4 rw 0 0\nproc /proc proc rw 0 0\n//srv/share /mnt cifs rw 0 0\n/ /tmp/bound none bind 0 0\n",
        );
        let mounts = local_mounts(&f.paths()).unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].dir, PathBuf::from("/"));
        let none = Fixture::new("mounts-none");
        assert_eq!(
            local_mounts(&none.paths()).unwrap_err().desc,
            format!(
                "failed to open mtab file: '{}/self/mounts'",
                none.path("proc").display()
            )
        );
    }
}
