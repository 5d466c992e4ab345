//! The host side: one client at a time on a listening socket, or the
//! virtio-serial port or serial line itself. Requests are answered in order; state updates
//! from the helper are applied whenever they arrive.

use crate::dispatch::{self, Outcome};
use crate::fdio;
use crate::heap::{HeapTrim, IDLE_BEFORE_TRIM};
use crate::json::{StreamItem, Streamer};
use crate::link::HelperLink;
use protocol::limits::CHANNEL_HANGUP_RETRY_MS;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// A listening stream socket (unix-listen): accept one client at a time.
    Listener,
    /// A character device (virtio-serial): one endless stream; a host that
    /// goes away shows up as end-of-file until it comes back.
    Port,
    /// A serial line (isa-serial): one stream; end-of-file (a hang-up) or
    /// an error means the line is gone, and the helper decides whether to
    /// open it again.
    Serial,
}

/// Why serving stopped.
pub enum Stopped {
    /// The helper link failed: a fresh front is needed.
    LinkLost(io::Error),
    /// The channel itself failed; the front exits with
    /// `FRONT_EXIT_CHANNEL_FAILED` so the helper can reopen it.
    ChannelFailed(io::Error),
}

const READ_CHUNK: usize = 64 << 10;

/// Serves until the helper link or the channel fails. The channel is
/// already non-blocking.
pub async fn serve(kind: ChannelKind, channel: OwnedFd, link: &mut HelperLink) -> Stopped {
    let channel = match fdio::register(channel) {
        Ok(c) => c,
        Err(e) => return Stopped::ChannelFailed(e),
    };
    let mut streamer = Streamer::new();
    let mut heap = HeapTrim::default();
    match kind {
        ChannelKind::Listener => loop {
            let client = tokio::select! {
                c = fdio::accept(&channel) => c,
                m = link.recv() => match m {
                    Ok(m) => { link.apply(m); continue; }
                    Err(e) => return Stopped::LinkLost(e),
                },
            };
            let client = match client.and_then(fdio::register) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            tracing::debug!("host connected");
            // A new client never inherits half a request from the last one.
            streamer.reset();
            match converse(
                &client,
                ChannelKind::Listener,
                &mut streamer,
                &mut heap,
                link,
            )
            .await
            {
                Ended::HostGone | Ended::ChannelFailed(_) => tracing::debug!("host disconnected"),
                Ended::LinkLost(e) => return Stopped::LinkLost(e),
            }
            // The host left: no transfer is under way.
            if heap.due() {
                heap.trim();
            }
        },
        ChannelKind::Port | ChannelKind::Serial => {
            match converse(&channel, kind, &mut streamer, &mut heap, link).await {
                Ended::LinkLost(e) => Stopped::LinkLost(e),
                Ended::ChannelFailed(e) => Stopped::ChannelFailed(e),
                Ended::HostGone => Stopped::ChannelFailed(io::Error::other("channel closed")),
            }
        }
    }
}

enum Ended {
    HostGone,
    LinkLost(io::Error),
    ChannelFailed(io::Error),
}

async fn converse(
    conn: &AsyncFd<OwnedFd>,
    kind: ChannelKind,
    streamer: &mut Streamer,
    heap: &mut HeapTrim,
    link: &mut HelperLink,
) -> Ended {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut hung_up = false;
    loop {
        let read = if hung_up {
            // The port reports a hang-up until the host reopens it: poll
            // gently instead of spinning on it, and keep taking the helper's
            // state updates meanwhile (the next request must see them).
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(CHANNEL_HANGUP_RETRY_MS)) => {}
                m = link.recv() => match m {
                    Ok(m) => { link.apply(m); continue; }
                    Err(e) => return Ended::LinkLost(e),
                },
            }
            match fdio::read_now(conn, &mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    hung_up = false;
                    continue;
                }
                other => other,
            }
        } else {
            tokio::select! {
                r = fdio::read(conn, &mut buf) => r,
                m = link.recv() => match m {
                    Ok(m) => { link.apply(m); continue; }
                    Err(e) => return Ended::LinkLost(e),
                },
                _ = tokio::time::sleep(IDLE_BEFORE_TRIM), if heap.due() => {
                    heap.trim();
                    continue;
                }
            }
        };
        let n = match read {
            Ok(0) if kind == ChannelKind::Port => {
                hung_up = true;
                continue;
            }
            Ok(0) if kind == ChannelKind::Serial => {
                return Ended::ChannelFailed(io::Error::other("serial line hung up"))
            }
            Ok(0) => return Ended::HostGone,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if kind != ChannelKind::Listener => return Ended::ChannelFailed(e),
            Err(e) => {
                tracing::debug!(error = %e, "client read failed");
                return Ended::HostGone;
            }
        };
        hung_up = false;
        heap.moved(n);
        let mut items: Vec<StreamItem> = Vec::new();
        streamer.feed(&buf[..n], &mut |item| items.push(item));
        for item in items {
            // State the helper sent since the last request (a policy reload)
            // applies to this one, whatever the reactor reported so far.
            if let Err(e) = link.apply_pending() {
                return Ended::LinkLost(e);
            }
            match dispatch::handle(item, link).await {
                Outcome::Reply(bytes) if bytes.is_empty() => {}
                Outcome::Reply(bytes) => {
                    heap.moved(bytes.len());
                    if let Err(e) = fdio::write_all(conn, &bytes) {
                        tracing::debug!(error = %e, "write to host failed");
                        match kind {
                            ChannelKind::Listener => return Ended::HostGone,
                            ChannelKind::Serial => return Ended::ChannelFailed(e),
                            ChannelKind::Port => {}
                        }
                    }
                }
                Outcome::LinkLost(e) => return Ended::LinkLost(e),
            }
        }
    }
}
