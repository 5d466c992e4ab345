//! A byte stream to one of QEMU's unix sockets, read with deadlines: the
//! base of the agent clients, the QMP client and the guest shell.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Conn {
    stream: UnixStream,
    pending: Vec<u8>,
}

/// What a read before a deadline gave.
#[derive(Debug)]
pub enum Recv<T> {
    Data(T),
    TimedOut,
    /// The other end closed the connection.
    Closed,
}

impl Conn {
    pub fn connect(path: &Path) -> io::Result<Conn> {
        let stream = UnixStream::connect(path)?;
        Ok(Conn {
            stream,
            pending: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads whatever arrives before the deadline into the buffer.
    fn fill(&mut self, deadline: Instant) -> io::Result<Recv<()>> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(wait))?;
        let mut buf = [0u8; 65536];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(Recv::Closed),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(Recv::Data(()))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Recv::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Recv::Data(())),
            Err(e) => Err(e),
        }
    }

    /// The next `\n`-terminated line (without the `\n`).
    pub fn read_line(&mut self, deadline: Instant) -> io::Result<Recv<Vec<u8>>> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Ok(Recv::Data(line[..line.len() - 1].to_vec()));
            }
            match self.fill(deadline)? {
                Recv::Data(()) => {}
                Recv::TimedOut => return Ok(Recv::TimedOut),
                Recv::Closed => return Ok(Recv::Closed),
            }
        }
    }

    /// Drops everything up to and including the next `byte`; the bytes
    /// dropped are returned.
    pub fn skip_past(&mut self, byte: u8, deadline: Instant) -> io::Result<Recv<Vec<u8>>> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == byte) {
                let mut dropped: Vec<u8> = self.pending.drain(..=i).collect();
                dropped.pop();
                return Ok(Recv::Data(dropped));
            }
            match self.fill(deadline)? {
                Recv::Data(()) => {}
                Recv::TimedOut => return Ok(Recv::TimedOut),
                Recv::Closed => return Ok(Recv::Closed),
            }
        }
    }
}
