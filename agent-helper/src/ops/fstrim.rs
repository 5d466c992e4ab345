//! guest-fstrim: FITRIM on every candidate filesystem (see `mounts`), each
//! with its own result. A filesystem or device without discard support
//! answers ENOTTY or EOPNOTSUPP; qemu-ga reports those as "trim not
//! supported" and any other failure with its errno text. The list comes out
//! in reverse mount order, as qemu-ga builds it.

use super::mounts::{self, Mount};
use super::strerror;
use protocol::internal::{FstrimPath, Trimmed};
use protocol::QgaError;
use std::os::fd::AsRawFd;

/// struct fstrim_range from <linux/fs.h>.
#[repr(C)]
struct FstrimRange {
    start: u64,
    len: u64,
    minlen: u64,
}

// _IOWR('X', 121, struct fstrim_range)
const FITRIM: libc::c_ulong = 0xC018_5879;

pub fn trim(minimum: Option<i64>) -> Result<Vec<FstrimPath>, QgaError> {
    let mounts = mounts::read()?;
    Ok(mounts
        .iter()
        .rev()
        .map(|m| FstrimPath {
            path: m.dir_text(),
            outcome: trim_one(m, minimum.unwrap_or(0)),
        })
        .collect())
}

fn trim_one(mount: &Mount, minimum: i64) -> Result<Trimmed, String> {
    let fd =
        mounts::open(&mount.dir).map_err(|errno| QgaError::fstrim_open_failed(&strerror(errno)))?;
    // The whole filesystem; the integer is handed over bit for bit, as
    // qemu-ga does (a negative minimum is a huge one, which the kernel
    // refuses).
    let mut range = FstrimRange {
        start: 0,
        len: u64::MAX,
        minlen: minimum as u64,
    };
    // SAFETY: FITRIM reads and writes one fstrim_range, which lives for the
    // duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), FITRIM, &mut range as *mut FstrimRange) };
    if rc != 0 {
        return Err(match mounts::last_errno() {
            libc::ENOTTY | libc::EOPNOTSUPP => QgaError::fstrim_not_supported(),
            other => QgaError::fstrim_failed(&strerror(other)),
        });
    }
    Ok(Trimmed {
        trimmed: range.len as i64,
        minimum: range.minlen as i64,
    })
}
