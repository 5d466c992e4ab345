//! Bounded reads of the system files the information commands look at, and
//! errno texts worded as the C library words them (qemu-ga's errors quote
//! `strerror`).

use nix::errno::Errno;
use std::io::Read;
use std::path::Path;

/// The whole file, or EFBIG when it is longer than `limit`.
pub fn read(path: &Path, limit: usize) -> Result<Vec<u8>, Errno> {
    let file = std::fs::File::open(path).map_err(|e| errno_of(&e))?;
    let mut contents = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(|e| errno_of(&e))?;
    if contents.len() > limit {
        return Err(Errno::EFBIG);
    }
    Ok(contents)
}

pub fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The C library's text for `errno`, as `strerror` gives it.
pub fn strerror(errno: Errno) -> String {
    protocol::error::strerror(errno as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_wording() {
        assert_eq!(strerror(Errno::ENOENT), "No such file or directory");
        assert_eq!(strerror(Errno::ELOOP), "Too many levels of symbolic links");
    }

    #[test]
    fn bounded() {
        assert_eq!(read(Path::new("/proc/self/stat"), 4), Err(Errno::EFBIG));
        assert!(read(Path::new("/proc/self/stat"), 1 << 20).is_ok());
        assert_eq!(read(Path::new("/nonexistent"), 4), Err(Errno::ENOENT));
    }
}
