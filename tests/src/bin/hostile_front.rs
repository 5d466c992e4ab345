//! Plays a compromised agent-front for the security tests. agent-helper
//! starts it exactly as it starts the real front (`--front-path`), so it has
//! the same uid, capabilities and seccomp filters, and holds the helper's
//! internal socket at fd 4. It accepts one test client on the channel (fd 3)
//! and relays: each line the client sends holds hex datagrams to send to the
//! helper; each datagram from the helper goes back as a hex line. Only
//! syscalls the front's launch filter allows are used.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

const CHANNEL_FD: i32 = 3;
const LINK_FD: i32 = 4;

fn main() {
    // SAFETY: fd 3 is the listening channel handed over by the helper.
    let listener = unsafe { UnixListener::from_raw_fd(CHANNEL_FD) };
    // SAFETY: fd 4 is the internal socket handed over by the helper.
    let link = unsafe { OwnedFd::from_raw_fd(LINK_FD) };
    let _ = listener.set_nonblocking(false);
    loop {
        let Ok((client, _)) = listener.accept() else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        let _ = relay(client, &link);
    }
}

fn relay(client: UnixStream, link: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut out = client.try_clone()?;
    let mut lines = BufReader::new(client).lines();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        // Forward everything the helper sent so far.
        loop {
            let mut pfd = libc::pollfd {
                fd: link.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
            if ready <= 0 {
                break;
            }
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::recv(link.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                writeln!(out, "closed")?;
                return Ok(());
            }
            writeln!(out, "{}", hex(&buf[..n as usize]))?;
        }
        writeln!(out, "idle")?;
        let Some(line) = lines.next() else {
            return Ok(());
        };
        // One line may carry several datagrams, separated by spaces.
        for datagram in line?.split_whitespace() {
            let bytes = unhex(datagram);
            // SAFETY: bytes is valid for its length.
            let r = unsafe {
                libc::send(
                    link.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if r < 0 {
                writeln!(out, "send-error {}", io::Error::last_os_error())?;
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}
