//! The front's end of the internal socket: send one typed request, wait for
//! the reply with the same sequence number, and apply the state updates the
//! helper sends in between. guest-file-read data comes separately, through
//! the file-data pipe, in the amounts the replies announce.

use crate::fdio;
use protocol::internal::{self, AgentState, FromHelper, HelperReply, HelperRequest, ToHelper};
use protocol::limits::MAX_MESSAGE_BYTES;
use protocol::QgaError;
use std::io;
use std::os::fd::OwnedFd;
use tokio::io::unix::AsyncFd;

pub struct HelperLink {
    fd: AsyncFd<OwnedFd>,
    /// Read end of the file-data pipe (non-blocking).
    file_data: OwnedFd,
    next_seq: u32,
    buf: Vec<u8>,
    /// What the helper last told us: enabled commands and frozen state.
    pub state: AgentState,
    /// The host's id for the request being run, passed along for the
    /// helper's audit log.
    pub request_id: Option<String>,
}

impl HelperLink {
    /// Wraps the (already non-blocking) socket and waits for the helper's first state message.
    pub async fn connect(fd: OwnedFd, file_data: OwnedFd) -> io::Result<HelperLink> {
        let mut link = HelperLink {
            fd: fdio::register(fd)?,
            file_data,
            next_seq: 1,
            buf: vec![0; MAX_MESSAGE_BYTES + 1],
            state: AgentState {
                enabled: Vec::new(),
                frozen: false,
                rules: Vec::new(),
            },
            request_id: None,
        };
        loop {
            if let FromHelper::State(state) = link.recv().await? {
                link.set_state(state);
                return Ok(link);
            }
        }
    }

    /// Next message from the helper. An error means the helper is gone or
    /// broken; the front then exits and the helper starts a new one.
    pub async fn recv(&mut self) -> io::Result<FromHelper> {
        let n = fdio::recv_datagram(&self.fd, &mut self.buf).await?;
        self.decode(n)
    }

    /// Checks and decodes the datagram of `n` bytes in the buffer.
    fn decode(&self, n: usize) -> io::Result<FromHelper> {
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "helper closed the link",
            ));
        }
        if n > self.buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "oversized message from helper",
            ));
        }
        internal::decode(&self.buf[..n]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Applies every message already queued on the link, without waiting.
    pub fn apply_pending(&mut self) -> io::Result<()> {
        loop {
            let n = match fdio::recv_datagram_now(&self.fd, &mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            let message = self.decode(n)?;
            self.apply(message);
        }
    }

    /// Appends the `count` bytes a guest-file-read reply announced. The
    /// helper put them in the pipe before replying, so they are all there
    /// now; fewer means a broken helper, and the link is given up.
    pub fn take_file_data(&mut self, count: usize, into: &mut Vec<u8>) -> io::Result<()> {
        into.reserve(count);
        let mut left = count;
        while left > 0 {
            match fdio::read_appending(&self.file_data, into, left) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file-data pipe closed",
                    ))
                }
                Ok(n) => left -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "file data announced but not in the pipe",
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Applies a message that arrived while no request was waiting.
    pub fn apply(&mut self, message: FromHelper) {
        match message {
            FromHelper::State(state) => self.set_state(state),
            FromHelper::Reply { seq, .. } => {
                tracing::warn!(seq, "reply to no pending request dropped");
            }
        }
    }

    /// A log line written while filesystems are frozen could block on a
    /// frozen log file, so logging follows the frozen state.
    fn set_state(&mut self, state: AgentState) {
        crate::log_gate::follow(state.frozen);
        if state.enabled != self.state.enabled {
            let enabled = state.enabled.iter().filter(|&&e| e).count();
            tracing::info!(enabled, "command gate updated by the helper");
        }
        self.state = state;
    }

    /// Runs one request in the helper. Link failures become an error for
    /// this request; the caller decides whether the front can go on.
    pub async fn call(&mut self, request: HelperRequest) -> Result<HelperReply, CallError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let bytes = internal::encode(&ToHelper {
            seq,
            request,
            id: self.request_id.clone(),
        })
        .map_err(|e| CallError::Request(QgaError::internal(&e.to_string())))?;
        fdio::send_datagram(&self.fd, &bytes).map_err(CallError::Link)?;
        loop {
            match self.recv().await.map_err(CallError::Link)? {
                FromHelper::Reply { seq: got, result } if got == seq => {
                    return result.map_err(CallError::Request)
                }
                other => self.apply(other),
            }
        }
    }
}

pub enum CallError {
    /// The helper answered with an error for this request.
    Request(QgaError),
    /// The link itself failed.
    Link(io::Error),
}
