//! The root shell the test guest runs on its second virtio-serial port:
//! how the host side of a check looks inside the guest and acts there.
//! Each command runs in its own `sh -c` (so a mistake in it cannot end the
//! shell) and is followed by a marker line carrying its exit status.

use super::conn::{Conn, Recv};
use super::{fail, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct GuestShell {
    socket: PathBuf,
    conn: Option<Conn>,
    counter: u64,
}

/// What a guest command printed (stdout and stderr) and its exit status.
#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub text: String,
}

impl GuestShell {
    pub fn new(socket: &Path) -> GuestShell {
        GuestShell {
            socket: socket.to_path_buf(),
            conn: None,
            counter: 0,
        }
    }

    /// Connects now, so the guest's shell finds a host when it opens the
    /// port.
    pub fn connect(&mut self) -> Result<()> {
        if self.conn.is_none() {
            self.conn =
                Some(Conn::connect(&self.socket).map_err(|e| format!("guest shell connect: {e}"))?);
        }
        Ok(())
    }

    /// Runs `script` with /bin/sh in the guest.
    pub fn run(&mut self, script: &str, limit: Duration) -> Result<Output> {
        self.connect()?;
        self.counter += 1;
        let n = self.counter;
        let quoted = script.replace('\'', r"'\''");
        let line = format!("sh -c '{quoted}' </dev/null 2>&1; echo \"@@qga-shell {n} $?@@\"\n");
        let conn = self.conn.as_mut().expect("connected");
        if let Err(e) = conn.send(line.as_bytes()) {
            self.conn = None;
            return fail(format!("guest shell write: {e}"));
        }
        let deadline = Instant::now() + limit;
        let prefix = format!("@@qga-shell {n} ");
        let mut text = String::new();
        loop {
            match conn.read_line(deadline) {
                Ok(Recv::Data(bytes)) => {
                    let l = String::from_utf8_lossy(&bytes);
                    if let Some(rest) = l.strip_prefix(&prefix) {
                        let status = rest.trim_end_matches("@@").parse().unwrap_or(-1);
                        return Ok(Output { status, text });
                    }
                    if l.starts_with("@@qga-shell ") {
                        // A marker of an earlier command that timed out:
                        // what came before it was that command's.
                        text.clear();
                        continue;
                    }
                    text.push_str(&l);
                    text.push('\n');
                }
                Ok(Recv::TimedOut) => {
                    return fail(format!(
                        "guest shell: `{script}` did not finish within {limit:?} (output so far: {text:?})"
                    ))
                }
                Ok(Recv::Closed) | Err(_) => {
                    self.conn = None;
                    return fail(format!("guest shell: connection lost during `{script}`"));
                }
            }
        }
    }

    /// Runs `script` and returns its output; a non-zero status is an error.
    pub fn check(&mut self, script: &str) -> Result<String> {
        let out = self.run(script, Duration::from_secs(30))?;
        if out.status != 0 {
            return fail(format!(
                "guest command `{script}` failed (status {}): {}",
                out.status,
                out.text.trim_end()
            ));
        }
        Ok(out.text)
    }
}
