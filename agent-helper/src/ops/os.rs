//! Small file-system calls the sysfs operations share, returning the raw
//! errno: qemu-ga's replies carry it (as text, or as `error-code`).

use protocol::QgaError;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The errno behind an I/O error (EIO if there is none, which the standard
/// library only produces for errors it makes up itself).
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Opens a directory for `open_at`.
pub fn open_dir(path: impl AsRef<Path>) -> Result<File, i32> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map_err(|e| errno(&e))
}

/// `openat(dir, name, flags)`, close-on-exec.
pub fn open_at(dir: &File, name: &str, flags: libc::c_int) -> Result<File, i32> {
    let c_name = CString::new(Path::new(name).as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    // SAFETY: openat with a valid directory fd and a NUL-terminated name.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c_name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: fd is a new descriptor owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The first byte of a one-character attribute such as `online`, with
/// qemu-ga's `pread("PATH")` errors.
pub fn read_first_byte(file: &File, path: &str) -> Result<u8, QgaError> {
    let mut byte = [0u8; 1];
    match file.read_at(&mut byte, 0) {
        Ok(0) => Err(QgaError::unexpected_eof("pread", path)),
        Ok(_) => Ok(byte[0]),
        Err(e) => Err(QgaError::call_failed("pread", path, errno(&e))),
    }
}
