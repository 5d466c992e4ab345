//! The real-guest end-to-end harness: boot a Debian kernel under QEMU with
//! a busybox initramfs whose guest agent is this project's (or, for
//! comparison, Debian's qemu-ga), and drive it from the host the way
//! libvirt and Proxmox VE do, watching QEMU's own view through QMP.
//!
//! - `guest`: builds the initramfs and the data and swap disks.
//! - `machine`: the QEMU process and its command line.
//! - `libvirt`, `proxmox`: the two host-side client styles.
//! - `qmp`: QMP commands and events.
//! - `shell`: a root shell on a second virtio-serial port, to look inside.
//! - `session`: one guest and every way of talking to it.
//! - `checks`: the checks, in order, and the report.

pub mod checks;
pub mod conn;
pub mod guest;
pub mod libvirt;
pub mod machine;
pub mod proxmox;
pub mod qmp;
pub mod report;
pub mod session;
pub mod shell;

use serde_json::Value;

/// Errors are messages for the check report.
pub type Result<T> = std::result::Result<T, String>;

pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(message.into())
}

/// False for the commands that send nothing back on success.
pub fn expects_reply(command: &str) -> bool {
    !matches!(
        command,
        "guest-shutdown" | "guest-suspend-disk" | "guest-suspend-ram" | "guest-suspend-hybrid"
    )
}

/// The `return` member of a reply; an error reply is a failure.
pub fn returned(reply: &Value) -> Result<Value> {
    match (reply.get("return"), reply.get("error")) {
        (Some(r), _) => Ok(r.clone()),
        (None, Some(e)) => fail(format!("agent error {e}")),
        _ => fail(format!("reply without return or error: {reply}")),
    }
}

/// The (class, desc) of an error reply; a success is a failure.
pub fn error_of(reply: &Value) -> Result<(String, String)> {
    match reply.get("error") {
        Some(e) => Ok((
            e["class"].as_str().unwrap_or_default().to_string(),
            e["desc"].as_str().unwrap_or_default().to_string(),
        )),
        None => fail(format!("expected an error reply, got {reply}")),
    }
}
