//! Non-blocking reads and writes on raw fds driven by tokio's reactor. The
//! front never opens anything: every fd it uses was handed over by the
//! helper, so plain `read`/`write`/`recv`/`send` are all it needs.
//!
//! The reactor watches for input only. Watching for output too would wake
//! the front each time the host or the helper takes bytes off a socket
//! (every reply and every helper request), for nothing: writes are tried
//! at once and wait in `poll` only when the peer's buffer is full. The
//! front serves one request at a time, so that wait holds up nothing.

use protocol::limits::CHANNEL_HANGUP_RETRY_MS;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn check(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Reads whatever is available (0 means end of stream).
pub async fn read(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        // SAFETY: buf is valid for buf.len() bytes.
        let r = guard.try_io(|inner| {
            check(unsafe { libc::read(inner.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
        });
        if let Ok(result) = r {
            return result;
        }
    }
}

/// Reads without waiting for readiness first (after a hang-up, when the
/// reactor may not report the fd again).
pub fn read_now(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    check(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// Reads at most `max` bytes onto the end of `into`, straight into its
/// spare capacity (no zeroing first); how many (0 means end of stream).
pub fn read_appending(fd: &OwnedFd, into: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    into.reserve(max);
    let spare = &mut into.spare_capacity_mut()[..max];
    // SAFETY: read writes at most spare.len() bytes into the spare capacity.
    let n = check(unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) })?;
    // SAFETY: the kernel initialised n bytes of the spare capacity.
    unsafe { into.set_len(into.len() + n) };
    Ok(n)
}

pub fn write_all(fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let written = when_writable(fd, || {
            // SAFETY: data is valid for data.len() bytes.
            check(unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) })
        })?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[written..];
    }
    Ok(())
}

/// Runs `output` until the peer takes it: again after an interruption,
/// after `wait_writable` when the peer's buffer is full.
fn when_writable(
    fd: &AsyncFd<OwnedFd>,
    mut output: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        match output() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(fd)?,
            other => return other,
        }
    }
}

/// Waits until the peer has taken enough bytes for the next write.
///
/// A virtio-serial port whose host side is away refuses writes with EAGAIN
/// and polls as hung up, not writable, until the host is back. That can be
/// a moment between two host connections, with the new one's request
/// already read (the guest hears of the reconnection after its data), so
/// the reply is kept, not dropped; and since poll returns at once on a
/// hang-up, the write is retried every `CHANNEL_HANGUP_RETRY_MS` (as the
/// read side polls a hung-up port) instead of spinning. Other channels
/// report a peer that is gone on the write itself (EPIPE, EIO).
fn wait_writable(fd: &AsyncFd<OwnedFd>) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd; no timeout.
    match check(unsafe { libc::poll(&mut pfd, 1, -1) } as isize) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) => Err(e),
        Ok(_) if pfd.revents & libc::POLLOUT == 0 => {
            // SAFETY: poll on no fds only sleeps for the timeout.
            unsafe { libc::poll(std::ptr::null_mut(), 0, CHANNEL_HANGUP_RETRY_MS as i32) };
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// Receives one datagram into `buf`; returns its full length, which is
/// larger than `buf` when the datagram was truncated.
pub async fn recv_datagram(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        // SAFETY: buf is valid for buf.len() bytes.
        let r = guard.try_io(|inner| {
            check(unsafe {
                libc::recv(
                    inner.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            })
        });
        if let Ok(result) = r {
            return result;
        }
    }
}

/// Receives one datagram if one is queued (WouldBlock otherwise), without
/// involving the reactor.
pub fn recv_datagram_now(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    check(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        )
    })
}

pub fn send_datagram(fd: &AsyncFd<OwnedFd>, data: &[u8]) -> io::Result<()> {
    when_writable(fd, || {
        // SAFETY: data is valid for data.len() bytes.
        check(unsafe {
            libc::send(
                fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        })
    })
    .map(drop)
}

/// Accepts one connection, non-blocking and close-on-exec.
pub async fn accept(listener: &AsyncFd<OwnedFd>) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    loop {
        let mut guard = listener.readable().await?;
        let r = guard.try_io(|inner| {
            // SAFETY: accept4 with null address pointers.
            let fd = unsafe {
                libc::accept4(
                    inner.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            check(fd as isize).map(|fd| fd as i32)
        });
        match r {
            // SAFETY: accept4 returned a new fd that nothing else owns.
            Ok(Ok(fd)) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
}

/// Registers an owned fd with the reactor, for input only.
pub fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: OwnedFd guarantees the descriptor is open and owned by us for
    // as long as the AsyncFd holds it, which is what registration requires.
    Ok(unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?)
}
