//! A QMP client: commands (system_wakeup, object-add, device_add,
//! query-status) and the events a management stack watches (SUSPEND,
//! WAKEUP, SHUTDOWN, VSERPORT_CHANGE). Events are kept in arrival order so a
//! check can wait for one that came after a point it marked.

use super::conn::{Conn, Recv};
use super::{fail, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Qmp {
    conn: Conn,
    next_id: u64,
    /// Every event received so far, oldest first.
    events: Vec<Value>,
}

/// A position in the event history.
#[derive(Clone, Copy, Debug)]
pub struct Mark(usize);

impl Qmp {
    pub fn connect(path: &Path) -> Result<Qmp> {
        let conn = Conn::connect(path).map_err(|e| format!("QMP connect: {e}"))?;
        let mut qmp = Qmp {
            conn,
            next_id: 1,
            events: Vec::new(),
        };
        let greeting = qmp.next_message(Instant::now() + Duration::from_secs(10))?;
        if greeting.get("QMP").is_none() {
            return fail(format!("QMP greeting expected, got {greeting}"));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn next_message(&mut self, deadline: Instant) -> Result<Value> {
        match self.conn.read_line(deadline) {
            Ok(Recv::Data(line)) => serde_json::from_slice(&line).map_err(|e| {
                format!(
                    "QMP sent non-JSON {:?}: {e}",
                    String::from_utf8_lossy(&line)
                )
            }),
            Ok(Recv::TimedOut) => fail("QMP: no message in time"),
            Ok(Recv::Closed) => fail("QMP: QEMU closed the monitor"),
            Err(e) => fail(format!("QMP read: {e}")),
        }
    }

    /// Runs a command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"execute": command, "arguments": arguments, "id": id});
        self.conn
            .send(format!("{request}\n").as_bytes())
            .map_err(|e| format!("QMP write: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let msg = self.next_message(deadline)?;
            if msg.get("event").is_some() {
                self.events.push(msg);
                continue;
            }
            if msg["id"] != json!(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return fail(format!("QMP {command} failed: {err}"));
            }
            return Ok(msg["return"].clone());
        }
    }

    /// Takes in the events that have already arrived, without waiting.
    pub fn poll(&mut self) -> Result<()> {
        loop {
            match self.conn.read_line(Instant::now()) {
                Ok(Recv::Data(line)) => {
                    let msg: Value = serde_json::from_slice(&line)
                        .map_err(|e| format!("QMP sent non-JSON: {e}"))?;
                    if msg.get("event").is_some() {
                        self.events.push(msg);
                    }
                }
                Ok(Recv::TimedOut) => return Ok(()),
                // QEMU has exited (a shutdown): the history stays readable.
                Ok(Recv::Closed) => return Ok(()),
                Err(e) => return fail(format!("QMP read: {e}")),
            }
        }
    }

    pub fn mark(&mut self) -> Mark {
        let _ = self.poll();
        Mark(self.events.len())
    }

    /// Events received since `mark`.
    pub fn events_since(&mut self, mark: Mark) -> Vec<Value> {
        let _ = self.poll();
        self.events[mark.0..].to_vec()
    }

    /// Events received since `mark`, moving `mark` past them.
    pub fn take_new(&mut self, mark: &mut Mark) -> Vec<Value> {
        let _ = self.poll();
        let new = self.events[mark.0..].to_vec();
        mark.0 = self.events.len();
        new
    }

    /// Waits for an event named `name` that arrived after `mark`.
    pub fn wait_event(&mut self, mark: Mark, name: &str, limit: Duration) -> Result<Value> {
        let deadline = Instant::now() + limit;
        let mut seen = mark.0;
        loop {
            if let Some(e) = self.events[seen..].iter().find(|e| e["event"] == name) {
                return Ok(e.clone());
            }
            seen = self.events.len();
            match self.conn.read_line(deadline) {
                Ok(Recv::Data(line)) => {
                    let msg: Value = serde_json::from_slice(&line)
                        .map_err(|e| format!("QMP sent non-JSON: {e}"))?;
                    if msg.get("event").is_some() {
                        self.events.push(msg);
                    }
                }
                Ok(Recv::TimedOut) => {
                    return fail(format!("no QMP {name} event within {limit:?}"));
                }
                Ok(Recv::Closed) => {
                    return fail(format!("QEMU closed QMP before a {name} event"));
                }
                Err(e) => return fail(format!("QMP read: {e}")),
            }
        }
    }

    /// The `status` of query-status (running, suspended, ...).
    pub fn run_state(&mut self) -> Result<String> {
        let status = self.execute("query-status", json!({}))?;
        Ok(status["status"].as_str().unwrap_or_default().to_string())
    }
}
