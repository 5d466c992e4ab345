//! Opening the host channel. The helper owns it and hands it to each front,
//! so a front restart never closes the virtio port (libvirt drops its
//! connection whenever the guest closes the port). With `-r` the helper
//! also opens it again later: when it is missing at start, and after the
//! front reported it failed.

use crate::cli::Method;
use nix::fcntl::OFlag;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr, VsockAddr};
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

pub fn open(method: Method, path: &Path) -> io::Result<OwnedFd> {
    match method {
        Method::VirtioSerial => open_port(path),
        Method::IsaSerial => open_serial(path),
        Method::UnixListen => listen_unix(path),
        Method::VsockListen => listen_vsock(path),
    }
}

/// How the front treats the channel: a listening socket, a virtio port
/// (end-of-file means the host is away), or a serial line (end-of-file or
/// an error means the line is gone).
pub fn front_kind(method: Method) -> &'static str {
    match method {
        Method::VirtioSerial => "port",
        Method::IsaSerial => "serial",
        Method::UnixListen | Method::VsockListen => "listener",
    }
}

/// Speed qemu-ga sets on a serial channel (`QGA_SERIAL_BAUDRATE`).
const SERIAL_SPEED: libc::speed_t = libc::B38400;

/// A serial device in raw mode, as qemu-ga sets it: no echo, no line
/// editing, no translation, 38400 baud, reads return as soon as a byte is
/// there; input queued before the agent opened it is dropped.
fn open_serial(path: &Path) -> io::Result<OwnedFd> {
    let fd = open_port(path)?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let fail = |what: &str| {
        let e = io::Error::last_os_error();
        io::Error::new(e.kind(), format!("{}: {what}: {e}", path.display()))
    };
    // SAFETY: termios calls on an open fd with a termios struct they fill.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(raw, &mut tio) != 0 {
            return Err(fail("not a terminal"));
        }
        libc::cfmakeraw(&mut tio);
        // qemu-ga clears every output and local flag, not only the ones
        // cfmakeraw clears.
        tio.c_oflag = 0;
        tio.c_lflag = 0;
        libc::cfsetispeed(&mut tio, SERIAL_SPEED);
        libc::cfsetospeed(&mut tio, SERIAL_SPEED);
        tio.c_cc[libc::VMIN] = 1;
        tio.c_cc[libc::VTIME] = 0;
        libc::tcflush(raw, libc::TCIFLUSH);
        if libc::tcsetattr(raw, libc::TCSANOW, &tio) != 0 {
            return Err(fail("setting raw mode"));
        }
    }
    Ok(fd)
}

/// A listening AF_VSOCK socket on `CID:PORT`; the front accepts one host
/// at a time, as on unix-listen.
fn listen_vsock(path: &Path) -> io::Result<OwnedFd> {
    let text = path.to_string_lossy();
    let (cid, port) = crate::cli::parse_vsock_address(&text).map_err(io::Error::other)?;
    let fd = socket::socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("vsock {text}: {e}")))?;
    socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &VsockAddr::new(cid, port),
    )
    .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("vsock {text}: {e}")))?;
    socket::listen(&fd, socket::Backlog::new(1).map_err(io::Error::from)?)?;
    Ok(fd)
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
