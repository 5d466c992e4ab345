//! One test guest and every way of talking to it: the agent through a
//! libvirt-style or a Proxmox-style client, QMP, and the guest shell. QEMU's
//! chardev socket takes one client at a time, as a real host has one
//! management stack: a Proxmox-style call first closes the libvirt-style
//! connection, which the next libvirt-style command reopens (and syncs).

use super::guest::GuestImage;
use super::libvirt::{self, LibvirtClient};
use super::machine::{Accel, Machine, AGENT_PORT_ID};
use super::proxmox::{self, ProxmoxClient};
use super::qmp::{Mark, Qmp};
use super::shell::GuestShell;
use super::{fail, returned, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, UNIX_EPOCH};

pub struct Vm {
    pub image: GuestImage,
    pub accel: Accel,
    machine: Machine,
    qmp: Qmp,
    pub libvirt: LibvirtClient,
    pub proxmox: ProxmoxClient,
    pub shell: GuestShell,
    /// QMP events about the agent's port already looked at.
    port_mark: Mark,
    /// The agent port's state as QEMU last reported it (None: no report
    /// yet since QEMU started).
    pub port_open: Option<bool>,
    /// Times QEMU reported the guest closing the agent's port.
    pub port_closures: u32,
    /// QMP's timestamp of the last report of the port opening.
    port_opened_at: Option<f64>,
    /// Every command's `enabled` flag from guest-info, once read.
    pub commands: BTreeMap<String, bool>,
}

impl Vm {
    /// Starts QEMU and connects QMP and the guest shell (the agent is not
    /// up yet: see `ProxmoxClient::first_contact`).
    pub fn start(image: GuestImage, accel: Accel) -> Result<Vm> {
        let mut machine = Machine::start(&image, accel)?;
        let mut qmp = Qmp::connect(&machine.qmp_socket).map_err(|e| machine.explain(e))?;
        let mut shell = GuestShell::new(&machine.shell_socket);
        shell.connect()?;
        let port_mark = qmp.mark();
        Ok(Vm {
            libvirt: LibvirtClient::new(&machine.agent_socket),
            proxmox: ProxmoxClient::new(&machine.agent_socket),
            image,
            accel,
            machine,
            qmp,
            shell,
            port_mark,
            port_open: None,
            port_closures: 0,
            port_opened_at: None,
            commands: BTreeMap::new(),
        })
    }

    /// Starts a new QEMU on the same disks (after the guest powered off,
    /// e.g. into hibernation). Every connection is new.
    pub fn restart(&mut self) -> Result<()> {
        if self.machine.exited().is_none() {
            return fail("restart while QEMU is still running");
        }
        let mut machine = Machine::start(&self.image, self.accel)?;
        self.qmp = Qmp::connect(&machine.qmp_socket).map_err(|e| machine.explain(e))?;
        self.shell = GuestShell::new(&machine.shell_socket);
        self.shell.connect()?;
        self.libvirt = LibvirtClient::new(&machine.agent_socket);
        self.proxmox = ProxmoxClient::new(&machine.agent_socket);
        self.port_mark = self.qmp.mark();
        self.port_open = None;
        self.port_opened_at = None;
        self.machine = machine;
        Ok(())
    }

    pub fn machine(&mut self) -> &mut Machine {
        &mut self.machine
    }

    pub fn qmp(&mut self) -> &mut Qmp {
        &mut self.qmp
    }

    pub fn is_running(&mut self) -> bool {
        self.machine.exited().is_none()
    }

    /// Follows QEMU's reports about the agent's port, as libvirt does: a
    /// closed port drops the connection.
    fn track_port(&mut self) {
        for event in self.qmp.take_new(&mut self.port_mark) {
            if event["event"] == "VSERPORT_CHANGE" && event["data"]["id"] == AGENT_PORT_ID {
                let open = event["data"]["open"].as_bool().unwrap_or(false);
                self.port_open = Some(open);
                if open {
                    self.port_opened_at = event_time(&event);
                } else {
                    self.port_closures += 1;
                    self.libvirt.disconnect();
                }
            }
        }
    }

    /// Waits (up to `limit`) until QEMU has reported that the guest opened
    /// the agent's port: libvirt only talks to the agent then (until then
    /// QEMU would hold every write back).
    fn wait_port_open(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        self.track_port();
        while self.port_open != Some(true) {
            if let Some(status) = self.machine.exited() {
                return fail(format!(
                    "QEMU exited ({status}) while waiting for the agent port"
                ));
            }
            if Instant::now() > deadline {
                return fail(format!(
                    "QEMU did not report the guest opening the agent port within {limit:?} (state {:?})",
                    self.port_open
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
            self.track_port();
        }
        Ok(())
    }

    /// When QEMU last reported the guest opening the agent's port, in
    /// seconds after this QEMU started.
    pub fn port_opened_after_start(&self) -> Option<f64> {
        let opened = self.port_opened_at?;
        let started = self
            .machine
            .started_at
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Some(opened - started)
    }

    /// The first answered guest-sync-delimited after QEMU started,
    /// Proxmox-style; returns how long it was waited for.
    pub fn first_contact(&mut self, limit: Duration) -> Result<Duration> {
        let machine = &mut self.machine;
        self.proxmox
            .first_contact(limit, &mut || machine.exited().is_none())
    }

    /// A command through the libvirt-style client: the whole reply.
    pub fn libvirt(&mut self, request: Value) -> Result<Value> {
        self.wait_port_open(Duration::from_secs(30))?;
        let limit = if request["execute"] == "guest-shutdown" {
            libvirt::SHUTDOWN_TIMEOUT
        } else {
            libvirt::COMMAND_TIMEOUT
        };
        self.libvirt.command(&request, limit)
    }

    /// A command through the libvirt-style client: its `return` value.
    pub fn libvirt_return(&mut self, request: Value) -> Result<Value> {
        let what = request["execute"].clone();
        let reply = self.libvirt(request)?;
        returned(&reply).map_err(|e| format!("{what}: {e}"))
    }

    /// A command that answers nothing on success, through the
    /// libvirt-style client.
    pub fn libvirt_no_reply(&mut self, request: Value) -> Result<()> {
        self.wait_port_open(Duration::from_secs(30))?;
        self.libvirt
            .command_without_reply(&request, Duration::from_secs(1))
    }

    /// A command through the Proxmox-style client: the whole reply.
    pub fn proxmox(&mut self, request: Value) -> Result<Value> {
        self.wait_port_open(Duration::from_secs(30))?;
        self.libvirt.disconnect();
        let what = request["execute"].clone();
        self.proxmox
            .call(&request, proxmox::COMMAND_TIMEOUT)?
            .ok_or_else(|| format!("{what}: no reply expected"))
    }

    pub fn proxmox_return(&mut self, request: Value) -> Result<Value> {
        let what = request["execute"].clone();
        let reply = self.proxmox(request)?;
        returned(&reply).map_err(|e| format!("{what}: {e}"))
    }

    /// Waits until the agent answers a libvirt-style sync and ping again
    /// (after a wakeup or a resume), reconnecting as libvirt does. Returns
    /// how long it took.
    pub fn wait_agent(&mut self, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + limit;
        let mut last_error = String::new();
        while Instant::now() < deadline {
            self.wait_port_open(deadline.saturating_duration_since(Instant::now()))?;
            match self.libvirt.sync() {
                Ok(()) => {
                    let pong = self.libvirt_return(json!({"execute": "guest-ping"}))?;
                    if pong != json!({}) {
                        return fail(format!("guest-ping returned {pong}"));
                    }
                    return Ok(started.elapsed());
                }
                Err(e) => {
                    last_error = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        fail(format!(
            "the agent did not answer within {limit:?}: {last_error}"
        ))
    }

    /// Runs a script in the guest's shell; a failure status is an error.
    pub fn sh(&mut self, script: &str) -> Result<String> {
        self.shell.check(script)
    }

    /// Whether guest-info listed `command` as enabled (true when guest-info
    /// has not been read).
    pub fn enabled(&self, command: &str) -> bool {
        self.commands
            .get(command)
            .copied()
            .unwrap_or(self.commands.is_empty())
    }
}

/// A QMP event's timestamp, in seconds since the epoch.
fn event_time(event: &Value) -> Option<f64> {
    let t = &event["timestamp"];
    Some(t["seconds"].as_f64()? + t["microseconds"].as_f64()? / 1e6)
}
