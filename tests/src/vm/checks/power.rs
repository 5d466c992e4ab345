//! Power: suspend to RAM and wake up, hibernate and resume in a new QEMU,
//! shut down; QEMU's QMP events say what really happened.

use super::{guest_pid, port_events};
use crate::vm::guest::AgentKind;
use crate::vm::report::Outcome;
use crate::vm::session::Vm;
use crate::vm::{fail, Result};
use serde_json::json;
use std::time::{Duration, Instant};

pub(super) fn suspend_ram(vm: &mut Vm) -> Result<Outcome> {
    let mark = vm.qmp().mark();
    let started = Instant::now();
    vm.libvirt_no_reply(json!({"execute": "guest-suspend-ram"}))?;
    vm.qmp()
        .wait_event(mark, "SUSPEND", Duration::from_secs(60))?;
    let suspended = started.elapsed();
    let state = vm.qmp().run_state()?;
    if state != "suspended" {
        return fail(format!("QEMU run state {state:?} after SUSPEND"));
    }
    let wake_mark = vm.qmp().mark();
    vm.qmp().execute("system_wakeup", json!({}))?;
    vm.qmp()
        .wait_event(wake_mark, "WAKEUP", Duration::from_secs(30))?;
    let answered = vm.wait_agent(Duration::from_secs(60))?;
    let state = vm.qmp().run_state()?;
    if state != "running" {
        return fail(format!("QEMU run state {state:?} after the wakeup"));
    }
    let port_changes = port_events(vm, mark);
    Ok(Outcome::Pass(format!(
        "QMP SUSPEND {:.2} s after the command, status suspended; after system_wakeup the agent answered in {:.2} s; port events: {port_changes}",
        suspended.as_secs_f64(),
        answered.as_secs_f64()
    )))
}

pub(super) fn suspend_disk(vm: &mut Vm) -> Result<Outcome> {
    let agent_binary = match vm.image.agent {
        AgentKind::Ours => "agent-helper",
        AgentKind::QemuGa => "qemu-ga",
    };
    let pid = guest_pid(vm, agent_binary)?.ok_or("no agent running")?;
    let marker = vm.sh(
        "cat /proc/sys/kernel/random/uuid > /run/before-hibernation && cat /run/before-hibernation",
    )?;
    let mark = vm.qmp().mark();
    let started = Instant::now();
    vm.libvirt_no_reply(json!({"execute": "guest-suspend-disk"}))?;
    let event = vm
        .qmp()
        .wait_event(mark, "SHUTDOWN", Duration::from_secs(180))?;
    let status = vm
        .machine()
        .wait_exit(Duration::from_secs(30))
        .ok_or("QEMU still running after the guest powered off")?;
    let saved = started.elapsed();
    if !status.success() {
        return fail(format!("QEMU exited with {status} after hibernation"));
    }
    vm.restart()?;
    vm.wait_agent(Duration::from_secs(180))?;
    let answered = vm.machine().started.elapsed();
    let after = vm.sh("cat /run/before-hibernation")?;
    if after != marker {
        return fail(format!(
            "the guest booted afresh instead of resuming (marker {marker:?}, now {after:?})"
        ));
    }
    let pid_after = guest_pid(vm, agent_binary)?;
    if pid_after != Some(pid) {
        return fail(format!(
            "agent pid {pid} before, {pid_after:?} after the resume"
        ));
    }
    let reopened = vm
        .port_opened_after_start()
        .map_or("?".into(), |t| format!("{t:.2}"));
    Ok(Outcome::Pass(format!(
        "image saved, guest off in {:.2} s ({}); in a new QEMU the image was restored and the port reopened at {reopened} s, agent answered at {:.2} s; same agent pid, tmpfs kept",
        saved.as_secs_f64(),
        event["data"],
        answered.as_secs_f64()
    )))
}

pub(super) fn shutdown(vm: &mut Vm) -> Result<Outcome> {
    let mark = vm.qmp().mark();
    let started = Instant::now();
    vm.libvirt_no_reply(json!({"execute": "guest-shutdown"}))?;
    let event = vm
        .qmp()
        .wait_event(mark, "SHUTDOWN", crate::vm::libvirt::SHUTDOWN_TIMEOUT)?;
    let down = started.elapsed();
    let status = vm
        .machine()
        .wait_exit(Duration::from_secs(30))
        .ok_or("QEMU still running after SHUTDOWN")?;
    if !status.success() {
        return fail(format!("QEMU exited with {status}"));
    }
    Ok(Outcome::Pass(format!(
        "QMP SHUTDOWN {} {:.2} s after the command; QEMU exited 0",
        event["data"],
        down.as_secs_f64()
    )))
}
