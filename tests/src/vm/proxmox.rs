//! The agent as Proxmox VE talks to it: a connection per call; one write
//! holding a 0xFF (to reset the agent's parser), `guest-sync-delimited` with
//! a fresh id and the command itself; everything before the 0xFF that
//! starts the sync reply is discarded, the sync id must match, and the
//! command's reply follows in order. 5 s for sync and commands, 60 s for
//! guest-shutdown.

use super::conn::{Conn, Recv};
use super::{fail, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

pub struct ProxmoxClient {
    socket: PathBuf,
    counter: u64,
}

/// A fresh sync id: time-based like Proxmox's, never repeated in a run.
fn fresh_id(counter: &mut u64) -> u64 {
    *counter += 1;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos() as u64;
    (nanos % 1_000_000) * 1000 + *counter % 1000
}

impl ProxmoxClient {
    pub fn new(socket: &Path) -> ProxmoxClient {
        ProxmoxClient {
            socket: socket.to_path_buf(),
            counter: 0,
        }
    }

    /// One call: the command's whole reply, or None for a command that
    /// answers nothing on success (once the sync reply proved the agent
    /// read the write that carried it).
    pub fn call(&mut self, request: &Value, limit: Duration) -> Result<Option<Value>> {
        let name = request["execute"].as_str().unwrap_or("?").to_string();
        let id = fresh_id(&mut self.counter);
        let mut conn = Conn::connect(&self.socket)
            .map_err(|e| format!("connect {}: {e}", self.socket.display()))?;
        let sync = json!({"execute": "guest-sync-delimited", "arguments": {"id": id}});
        let mut write = vec![0xFF];
        write.extend_from_slice(sync.to_string().as_bytes());
        write.extend_from_slice(request.to_string().as_bytes());
        conn.send(&write)
            .map_err(|e| format!("{name}: write: {e}"))?;
        if read_sync_reply(&mut conn, &[id], Instant::now() + SYNC_TIMEOUT)?.is_none() {
            return fail(format!("{name}: no sync reply within {SYNC_TIMEOUT:?}"));
        }
        if !super::expects_reply(&name) {
            return Ok(None);
        }
        match conn.read_line(Instant::now() + limit) {
            Ok(Recv::Data(line)) => serde_json::from_slice(&line).map(Some).map_err(|e| {
                format!(
                    "{name}: reply is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&line)
                )
            }),
            Ok(Recv::TimedOut) => fail(format!("{name}: no reply within {limit:?}")),
            Ok(Recv::Closed) => fail(format!("{name}: connection closed before the reply")),
            Err(e) => fail(format!("{name}: {e}")),
        }
    }

    /// The first contact after QEMU starts: until the guest opens its port,
    /// QEMU holds the host's writes back, so the 0xFF + guest-sync-delimited
    /// is sent again every second until one is answered; then every later
    /// one's reply is read too, so nothing stale is left for the next call.
    /// `running` says whether QEMU is still up (a dead one is not waited
    /// for).
    pub fn first_contact(
        &mut self,
        limit: Duration,
        running: &mut dyn FnMut() -> bool,
    ) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + limit;
        let mut conn = Conn::connect(&self.socket)
            .map_err(|e| format!("connect {}: {e}", self.socket.display()))?;
        let mut sent = Vec::new();
        let answered = loop {
            if Instant::now() > deadline {
                return fail(format!(
                    "no answer to guest-sync-delimited within {limit:?}"
                ));
            }
            let id = fresh_id(&mut self.counter);
            let sync = json!({"execute": "guest-sync-delimited", "arguments": {"id": id}});
            let mut write = vec![0xFF];
            write.extend_from_slice(sync.to_string().as_bytes());
            conn.send(&write)
                .map_err(|e| format!("guest-sync-delimited write: {e}"))?;
            sent.push(id);
            if !running() {
                return fail("QEMU exited before the agent answered");
            }
            let wait = (Instant::now() + Duration::from_secs(1)).min(deadline);
            if let Some(answered) = read_sync_reply(&mut conn, &sent, wait)? {
                break answered;
            }
        };
        let first_answer = started.elapsed();
        let position = sent.iter().position(|&i| i == answered).expect("sent");
        for &later in &sent[position + 1..] {
            if read_sync_reply(&mut conn, &[later], Instant::now() + SYNC_TIMEOUT)?.is_none() {
                return fail(format!("guest-sync-delimited {later} was never answered"));
            }
        }
        Ok(first_answer)
    }
}

/// Discards up to the 0xFF, then reads the sync reply; its id must be one
/// of `ids`. Returns the id answered, or None if no 0xFF came in time.
fn read_sync_reply(conn: &mut Conn, ids: &[u64], deadline: Instant) -> Result<Option<u64>> {
    match conn.skip_past(0xFF, deadline) {
        Ok(Recv::Data(_discarded)) => {}
        Ok(Recv::TimedOut) => return Ok(None),
        Ok(Recv::Closed) => return fail("connection closed before the sync reply"),
        Err(e) => return fail(format!("reading the sync reply: {e}")),
    }
    // The reply has begun: give its line the full sync timeout.
    let line = match conn.read_line(Instant::now() + SYNC_TIMEOUT) {
        Ok(Recv::Data(line)) => line,
        Ok(Recv::TimedOut) => return fail("the sync reply stopped after its 0xFF"),
        Ok(Recv::Closed) => return fail("connection closed inside the sync reply"),
        Err(e) => return fail(format!("reading the sync reply: {e}")),
    };
    let reply: Value = serde_json::from_slice(&line).map_err(|e| {
        format!(
            "sync reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&line)
        )
    })?;
    match reply["return"].as_u64() {
        Some(id) if ids.contains(&id) => Ok(Some(id)),
        _ => fail(format!(
            "wrong guest-sync-delimited reply {reply}, ids {ids:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    /// A stand-in agent that reads one write and answers with `answer`
    /// applied to the sync id it carried.
    fn serve(answer: fn(u64) -> Vec<u8>) -> crate::TempDir {
        let dir = crate::TempDir::new("proxmox-client");
        let listener = UnixListener::bind(dir.0.join("s")).unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).unwrap();
            assert_eq!(buf[0], 0xFF, "the write starts with 0xFF");
            let text = String::from_utf8_lossy(&buf[1..n]).into_owned();
            let sync_end = text.find("}}").unwrap() + 2;
            let sync: Value = serde_json::from_str(&text[..sync_end]).unwrap();
            assert_eq!(sync["execute"], "guest-sync-delimited");
            let command: Value = serde_json::from_str(&text[sync_end..]).unwrap();
            assert_eq!(
                command["execute"], "guest-ping",
                "command in the same write"
            );
            let id = sync["arguments"]["id"].as_u64().unwrap();
            stream.write_all(&answer(id)).unwrap();
        });
        dir
    }

    #[test]
    fn everything_before_the_0xff_is_discarded() {
        let dir = serve(|id| {
            let mut out = b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n\xff".to_vec();
            out.extend_from_slice(
                format!("{{\"return\": {id}}}\n{{\"return\": {{}}}}\n").as_bytes(),
            );
            out
        });
        let mut client = ProxmoxClient::new(&dir.0.join("s"));
        let reply = client
            .call(&json!({"execute": "guest-ping"}), COMMAND_TIMEOUT)
            .unwrap();
        assert_eq!(reply, Some(json!({"return": {}})));
    }

    #[test]
    fn a_sync_reply_with_another_id_is_refused() {
        let dir = serve(|id| {
            let mut out = vec![0xFF];
            out.extend_from_slice(format!("{{\"return\": {}}}\n", id + 1).as_bytes());
            out
        });
        let mut client = ProxmoxClient::new(&dir.0.join("s"));
        let err = client
            .call(&json!({"execute": "guest-ping"}), COMMAND_TIMEOUT)
            .unwrap_err();
        assert!(err.contains("wrong guest-sync-delimited reply"), "{err}");
    }
}
