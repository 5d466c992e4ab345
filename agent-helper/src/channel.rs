//! Opening the host channel. The helper owns it and hands it to each front,
//! so a front restart never closes the virtio port (libvirt drops its
//! connection whenever the guest closes the port).

use crate::cli::Method;
use nix::fcntl::OFlag;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

pub fn open(method: Method, path: &Path) -> io::Result<OwnedFd> {
    match method {
        Method::VirtioSerial => open_port(path),
        Method::UnixListen => listen_unix(path),
    }
}

fn open_port(path: &Path) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("{}: {e}", path.display()),
        )
    })?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

fn listen_unix(path: &Path) -> io::Result<OwnedFd> {
    // A socket left behind by an earlier run is replaced; anything else at
    // that path is an error rather than something to delete.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("{}: {e}", path.display()),
        )
    })?;
    socket::listen(&fd, socket::Backlog::new(1).map_err(io::Error::from)?)?;
    Ok(fd)
}
