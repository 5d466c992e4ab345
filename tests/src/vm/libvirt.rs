//! The agent as libvirt (9.0) talks to it: one long-lived connection;
//! `guest-sync` with a fresh id (milliseconds since the epoch) once per
//! connection and again after any timeout, replies to other ids dropped;
//! then bare commands, one reply line each. 5 s for sync and commands, 60 s
//! for guest-shutdown. libvirt drops the connection whenever QEMU reports
//! that the guest closed the port, and opens a new one when it reopens.

use super::conn::{Conn, Recv};
use super::{fail, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// libvirt's cap on one reply line.
const MAX_REPLY_BYTES: usize = 10 << 20;

pub struct LibvirtClient {
    socket: PathBuf,
    conn: Option<Conn>,
    synced: bool,
    /// Whether this connection has seen a sync reply (before it, libvirt
    /// tolerates lines that are not JSON).
    seen_sync_reply: bool,
    last_sync_id: u64,
    /// Connections opened so far (a check can see that none was needed).
    pub connections: u32,
    /// Replies to older syncs or timed-out commands that a sync dropped.
    pub dropped_stale: u32,
}

impl LibvirtClient {
    pub fn new(socket: &Path) -> LibvirtClient {
        LibvirtClient {
            socket: socket.to_path_buf(),
            conn: None,
            synced: false,
            seen_sync_reply: false,
            last_sync_id: 0,
            connections: 0,
            dropped_stale: 0,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Closes the connection (the guest closed the port, or another client
    /// needs QEMU's single-client socket).
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.synced = false;
    }

    fn connection(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            let conn = Conn::connect(&self.socket)
                .map_err(|e| format!("connect {}: {e}", self.socket.display()))?;
            self.conn = Some(conn);
            self.synced = false;
            self.seen_sync_reply = false;
            self.connections += 1;
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    /// guest-sync with a fresh id; everything before its reply is dropped.
    pub fn sync(&mut self) -> Result<()> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64;
        let id = now_ms.max(self.last_sync_id + 1);
        self.last_sync_id = id;
        let request = json!({"execute": "guest-sync", "arguments": {"id": id}});
        let conn = self.connection()?;
        if let Err(e) = conn.send(format!("{request}\n").as_bytes()) {
            self.disconnect();
            return fail(format!("guest-sync write: {e}"));
        }
        let deadline = Instant::now() + SYNC_TIMEOUT;
        loop {
            let line = match self.read_reply_line(deadline, "guest-sync")? {
                Some(line) => line,
                None => return fail(format!("guest-sync: no reply within {SYNC_TIMEOUT:?}")),
            };
            match serde_json::from_slice::<Value>(&line) {
                Ok(reply) if reply["return"] == json!(id) => {
                    self.synced = true;
                    self.seen_sync_reply = true;
                    return Ok(());
                }
                // Another sync's reply, or a late reply to a command that
                // timed out: libvirt ignores it.
                Ok(_) => self.dropped_stale += 1,
                Err(_) if !self.seen_sync_reply => self.dropped_stale += 1,
                Err(e) => {
                    return fail(format!(
                        "guest-sync: line that is not JSON after the first sync ({e}): {:?}",
                        String::from_utf8_lossy(&line)
                    ))
                }
            }
        }
    }

    /// One line, or None on timeout; a closed connection is an error (and
    /// the next call reconnects).
    fn read_reply_line(&mut self, deadline: Instant, what: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.conn.as_mut().expect("connected");
        match conn.read_line(deadline) {
            Ok(Recv::Data(line)) if line.len() > MAX_REPLY_BYTES => {
                fail(format!("{what}: reply over {MAX_REPLY_BYTES} bytes"))
            }
            Ok(Recv::Data(line)) => Ok(Some(line)),
            Ok(Recv::TimedOut) => {
                // A reply may still come: resync before the next command.
                self.synced = false;
                Ok(None)
            }
            Ok(Recv::Closed) => {
                self.disconnect();
                fail(format!("{what}: QEMU closed the agent socket"))
            }
            Err(e) => {
                self.disconnect();
                fail(format!("{what}: {e}"))
            }
        }
    }

    /// Syncs when this connection has not (or after a timeout), then sends
    /// one bare command; returns its name for messages.
    fn send_command(&mut self, request: &Value) -> Result<String> {
        if !self.synced {
            self.sync()?;
        }
        let name = request["execute"].as_str().unwrap_or("?").to_string();
        let conn = self.connection()?;
        if let Err(e) = conn.send(format!("{request}\n").as_bytes()) {
            self.disconnect();
            return fail(format!("{name} write: {e}"));
        }
        Ok(name)
    }

    /// Sends a command and closes the connection without reading a byte
    /// of the reply, as a host that goes away mid-request.
    pub fn send_and_hang_up(&mut self, request: &Value) -> Result<()> {
        self.send_command(request)?;
        self.disconnect();
        Ok(())
    }

    /// Sends a command and returns the whole reply object (`return` or
    /// `error`). Syncs first when this connection has not, or after a
    /// timeout.
    pub fn command(&mut self, request: &Value, limit: Duration) -> Result<Value> {
        let name = self.send_command(request)?;
        let deadline = Instant::now() + limit;
        match self.read_reply_line(deadline, &name)? {
            None => fail(format!("{name}: no reply within {limit:?}")),
            Some(line) => serde_json::from_slice(&line).map_err(|e| {
                format!(
                    "{name}: reply is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&line)
                )
            }),
        }
    }

    /// Sends a command that answers nothing on success (guest-shutdown,
    /// guest-suspend-*). Returns an error reply if one comes within
    /// `grace`; silence is success, as libvirt takes it.
    pub fn command_without_reply(&mut self, request: &Value, grace: Duration) -> Result<()> {
        let name = self.send_command(request)?;
        let deadline = Instant::now() + grace;
        let conn = self.conn.as_mut().expect("connected");
        match conn.read_line(deadline) {
            Ok(Recv::Data(line)) => fail(format!(
                "{name} answered {:?} where no reply was due",
                String::from_utf8_lossy(&line)
            )),
            // Silence, or the port closing as the guest goes down: success.
            Ok(Recv::TimedOut) | Ok(Recv::Closed) | Err(_) => {
                // Whatever comes later belongs to the next connection's sync.
                self.synced = false;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// A stand-in agent: reads one request line at a time and answers
    /// each with what `answer` makes of it.
    fn serve(answer: fn(&Value) -> String) -> (crate::TempDir, std::thread::JoinHandle<()>) {
        let dir = crate::TempDir::new("libvirt-client");
        let listener = UnixListener::bind(dir.0.join("s")).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            for line in BufReader::new(stream).lines() {
                let request: Value = serde_json::from_str(&line.unwrap()).unwrap();
                writer.write_all(answer(&request).as_bytes()).unwrap();
            }
        });
        (dir, server)
    }

    #[test]
    fn sync_drops_garbage_and_stale_replies_then_commands_are_bare() {
        let (dir, _server) = serve(|request| match request["execute"].as_str() {
            Some("guest-sync") => format!(
                "not json\n{{\"return\": 1}}\n{{\"return\": {}}}\n",
                request["arguments"]["id"]
            ),
            _ => "{\"return\": {}}\n".into(),
        });
        let mut client = LibvirtClient::new(&dir.0.join("s"));
        let reply = client
            .command(&json!({"execute": "guest-ping"}), COMMAND_TIMEOUT)
            .unwrap();
        assert_eq!(reply, json!({"return": {}}));
        assert_eq!(client.dropped_stale, 2);
        // Synced once per connection: the next command goes bare.
        client
            .command(&json!({"execute": "guest-ping"}), COMMAND_TIMEOUT)
            .unwrap();
        assert_eq!(client.connections, 1);
    }

    #[test]
    fn garbage_after_the_first_sync_reply_is_an_error() {
        let (dir, _server) =
            serve(|request| format!("{{\"return\": {}}}\nnot json\n", request["arguments"]["id"]));
        let mut client = LibvirtClient::new(&dir.0.join("s"));
        client.sync().unwrap();
        let err = client.sync().unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }
}
