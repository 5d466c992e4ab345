//! The C library's text for an errno value, as qemu-ga prints it
//! (`strerror`), without Rust's " (os error N)" suffix.

use std::ffi::CStr;

pub fn of(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: buf is writable for its length; the XSI strerror_r that the
    // libc crate binds writes a NUL-terminated message into it.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r succeeded, so buf holds a NUL-terminated string.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub fn of_io(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(errno) => of(errno),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_texts() {
        assert_eq!(super::of(libc::ENOENT), "No such file or directory");
        assert_eq!(super::of(libc::EOPNOTSUPP), "Operation not supported");
        assert_eq!(super::of(libc::EIO), "Input/output error");
    }
}
