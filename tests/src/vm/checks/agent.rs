//! The agent itself: guest-info through both client styles, the simple
//! queries, the policy (denial and reload), and the privilege separation
//! seen from inside the guest (a killed front, the processes' credentials).

use super::{guest_pid, guest_status, guest_time, port_events};
use crate::vm::guest::{
    AgentKind, AGENT_EXITS, DENIED_COMMAND, FRONT_USER, GUEST_POLICY, GUEST_POLICY_PATH,
};
use crate::vm::report::Outcome;
use crate::vm::session::Vm;
use crate::vm::{error_of, fail, Result};
use protocol::commands::{self, Availability};
use serde_json::json;
use std::time::{Duration, Instant};

pub(super) fn guest_info(vm: &mut Vm) -> Result<Outcome> {
    let via_libvirt = vm.libvirt_return(json!({"execute": "guest-info"}))?;
    let via_proxmox = vm.proxmox_return(json!({"execute": "guest-info"}))?;
    if via_libvirt != via_proxmox {
        return fail(format!(
            "guest-info differs between clients:\n{via_libvirt}\n{via_proxmox}"
        ));
    }
    let version = via_libvirt["version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let list = via_libvirt["supported_commands"]
        .as_array()
        .ok_or("guest-info without supported_commands")?;
    let mut enabled = std::collections::BTreeMap::new();
    for entry in list {
        let (Some(name), Some(on), Some(_)) = (
            entry["name"].as_str(),
            entry["enabled"].as_bool(),
            entry["success-response"].as_bool(),
        ) else {
            return fail(format!("malformed guest-info entry {entry}"));
        };
        enabled.insert(name.to_string(), on);
    }
    for always in [
        "guest-sync-delimited",
        "guest-sync",
        "guest-ping",
        "guest-info",
    ] {
        if enabled.get(always) != Some(&true) {
            return fail(format!("{always} is not enabled in guest-info"));
        }
    }
    if enabled.get(DENIED_COMMAND) != Some(&false) {
        return fail(format!("{DENIED_COMMAND} is not listed as disabled"));
    }
    if vm.image.agent == AgentKind::Ours {
        // A command this build implements and the guest's policy allows
        // must be enabled: a skip must never hide a broken command.
        let policy = policy::Policy::parse(GUEST_POLICY, "guest policy")
            .map_err(|e| format!("the guest policy does not parse: {e}"))?;
        for spec in commands::COMMANDS {
            let expected = spec.availability == Availability::Available
                && policy.decide_command(spec.name).allowed;
            if enabled.get(spec.name) != Some(&expected) {
                return fail(format!(
                    "guest-info lists {} as {:?}, expected enabled={expected}",
                    spec.name,
                    enabled.get(spec.name)
                ));
            }
        }
    }
    let on = enabled.values().filter(|&&e| e).count();
    let detail = format!(
        "version {version}, {} commands, {on} enabled; same through both clients",
        enabled.len()
    );
    vm.commands = enabled;
    Ok(Outcome::Pass(detail))
}

pub(super) fn get_time(vm: &mut Vm) -> Result<Outcome> {
    let (guest, off) = guest_time(vm)?;
    if guest % 1000 != 0 {
        return fail(format!(
            "{guest} is not whole microseconds, as qemu-ga's is"
        ));
    }
    if off.abs() > 60.0 {
        return fail(format!("guest clock {off:+.1} s from the host's"));
    }
    Ok(Outcome::Pass(format!(
        "guest clock {off:+.2} s from the host's"
    )))
}

pub(super) fn fsfreeze_status(vm: &mut Vm) -> Result<Outcome> {
    let status = vm.libvirt_return(json!({"execute": "guest-fsfreeze-status"}))?;
    if status != json!("thawed") {
        return fail(format!("status {status}, expected \"thawed\""));
    }
    Ok(Outcome::Pass("thawed".into()))
}

pub(super) fn denied_command(vm: &mut Vm) -> Result<Outcome> {
    let reply =
        vm.libvirt(json!({"execute": DENIED_COMMAND, "arguments": {"path": "/bin/true"}}))?;
    let (class, desc) = error_of(&reply)?;
    let expected = format!("Command {DENIED_COMMAND} has been disabled");
    if class != "CommandNotFound" || desc != expected {
        return fail(format!(
            "got {class}: {desc:?}, expected CommandNotFound: {expected:?}"
        ));
    }
    // The refusal leaves the connection usable.
    let pong = vm.libvirt_return(json!({"execute": "guest-ping"}))?;
    if pong != json!({}) {
        return fail(format!("guest-ping after the refusal returned {pong}"));
    }
    let how = match vm.image.agent {
        AgentKind::Ours => "denied by the guest's policy file",
        AgentKind::QemuGa => "blocked with -b",
    };
    Ok(Outcome::Pass(format!("{class}: {desc} ({how})")))
}

pub(super) fn front_restart(vm: &mut Vm) -> Result<Outcome> {
    if vm.image.agent == AgentKind::QemuGa {
        return Ok(Outcome::Skip(
            "qemu-ga is one process: no front to restart".into(),
        ));
    }
    // A libvirt-style connection, synced, before the front dies.
    vm.libvirt_return(json!({"execute": "guest-ping"}))?;
    let connections = vm.libvirt.connections;
    let mark = vm.qmp().mark();
    let old = guest_pid(vm, "agent-front")?.ok_or("no agent-front running in the guest")?;
    vm.sh(&format!("kill -9 {old}"))?;
    let killed = Instant::now();
    let new = loop {
        if let Some(pid) = guest_pid(vm, "agent-front")?.filter(|&p| p != old) {
            break pid;
        }
        if killed.elapsed() > Duration::from_secs(15) {
            return fail(format!("no new agent-front 15 s after killing {old}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let restarted = killed.elapsed();
    // The host notices nothing: its next sync goes over the same connection.
    if !vm.libvirt.is_connected() {
        return fail("the libvirt-style connection was dropped");
    }
    vm.libvirt.sync()?;
    vm.libvirt_return(json!({"execute": "guest-info"}))?;
    if vm.libvirt.connections != connections {
        return fail("the host had to reconnect");
    }
    let port_changes = port_events(vm, mark);
    if port_changes != "none" {
        return fail(format!("QEMU saw the agent port change: {port_changes}"));
    }
    Ok(Outcome::Pass(format!(
        "front {old} killed, {new} running {:.2} s later; next guest-sync answered on the same connection, the port never closed",
        restarted.as_secs_f64()
    )))
}

pub(super) fn privileges(vm: &mut Vm) -> Result<Outcome> {
    if vm.image.agent == AgentKind::QemuGa {
        let pid = guest_pid(vm, "qemu-ga")?.ok_or("no qemu-ga running")?;
        let st = guest_status(vm, pid)?;
        let field = |k: &str| st.get(k).cloned().unwrap_or_default();
        return Ok(Outcome::Skip(format!(
            "qemu-ga is one process: Uid {}, CapEff {}, Seccomp {}",
            field("Uid"),
            field("CapEff"),
            field("Seccomp")
        )));
    }
    let helper = guest_pid(vm, "agent-helper")?.ok_or("no agent-helper running")?;
    let front = guest_pid(vm, "agent-front")?.ok_or("no agent-front running")?;
    let h = guest_status(vm, helper)?;
    let f = guest_status(vm, front)?;
    let passwd = vm.sh(&format!("grep '^{FRONT_USER}:' /etc/passwd"))?;
    let passwd: Vec<&str> = passwd.trim().split(':').collect();
    let (front_uid, front_gid) = match passwd.as_slice() {
        [_, _, uid, gid, ..] => (uid.to_string(), gid.to_string()),
        _ => return fail(format!("no {FRONT_USER} in the guest's /etc/passwd")),
    };
    let want =
        |map: &std::collections::BTreeMap<String, String>, who: &str, key: &str, value: &str| {
            match map.get(key) {
                Some(v) if v == value => Ok(()),
                other => fail(format!("{who} {key} is {other:?}, expected {value:?}")),
            }
        };
    want(&h, "helper", "Uid", "0 0 0 0")?;
    want(&h, "helper", "Seccomp", "2")?;
    want(&f, "front", "Uid", &[front_uid.as_str(); 4].join(" "))?;
    want(&f, "front", "Gid", &[front_gid.as_str(); 4].join(" "))?;
    // Its own group at most (initgroups adds the primary group).
    let groups = f.get("Groups").cloned().unwrap_or_default();
    if groups.split_whitespace().any(|g| g != front_gid) {
        return fail(format!("front Groups {groups:?}"));
    }
    want(&f, "front", "PPid", &helper.to_string())?;
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        want(&f, "front", caps, "0000000000000000")?;
    }
    want(&f, "front", "NoNewPrivs", "1")?;
    want(&f, "front", "Seccomp", "2")?;
    Ok(Outcome::Pass(format!(
        "helper {helper}: uid 0, Seccomp 2; front {front}: uid/gid {front_uid}/{front_gid} ({FRONT_USER}), no other groups, no capabilities, NoNewPrivs 1, Seccomp 2"
    )))
}

/// What /proc/PID/attr/current reads for the front: the helper execs it
/// under no_new_privs, so the profile stacks `agent-front` on the helper's
/// own (both confine it).
const FRONT_APPARMOR_LABEL: &str = "agent-front//&agent-helper (enforce)";

fn write_guest_policy(vm: &mut Vm, text: &str) -> Result<()> {
    let quoted = text.replace('\'', r"'\''");
    vm.sh(&format!(
        "printf '%s' '{quoted}' > {GUEST_POLICY_PATH}.new && mv {GUEST_POLICY_PATH}.new {GUEST_POLICY_PATH} && kill -HUP $(pidof agent-helper)"
    ))?;
    Ok(())
}

/// Waits until guest-info shows `command` with `enabled`.
fn wait_enabled(vm: &mut Vm, command: &str, enabled: bool) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let info = vm.libvirt_return(json!({"execute": "guest-info"}))?;
        let now = info["supported_commands"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == command))
            .and_then(|c| c["enabled"].as_bool());
        if now == Some(enabled) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(10) {
            return fail(format!("{command} still enabled={now:?} 10 s after SIGHUP"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn policy_reload(vm: &mut Vm) -> Result<Outcome> {
    if vm.image.agent == AgentKind::QemuGa {
        return Ok(Outcome::Skip("qemu-ga 7.2 has no policy to reload".into()));
    }
    vm.libvirt_return(json!({"execute": "guest-get-time"}))?;
    let stricter = GUEST_POLICY.replace(
        &format!("commands = [\"{DENIED_COMMAND}\"]"),
        &format!("commands = [\"{DENIED_COMMAND}\", \"guest-get-time\"]"),
    );
    if stricter == GUEST_POLICY {
        return fail("cannot derive the stricter policy from the guest policy");
    }
    write_guest_policy(vm, &stricter)?;
    let took = wait_enabled(vm, "guest-get-time", false)?;
    let reply = vm.libvirt(json!({"execute": "guest-get-time"}))?;
    let (class, desc) = error_of(&reply)?;
    if class != "CommandNotFound" || desc != "Command guest-get-time has been disabled" {
        return fail(format!(
            "after the reload guest-get-time gave {class}: {desc:?}"
        ));
    }
    // A broken file leaves the policy in force.
    write_guest_policy(vm, "default = \"allow\"\nthis is not toml\n")?;
    std::thread::sleep(Duration::from_millis(500));
    let reply = vm.libvirt(json!({"execute": "guest-get-time"}))?;
    if error_of(&reply).is_err() {
        return fail("a policy file that does not parse replaced the policy in force");
    }
    write_guest_policy(vm, GUEST_POLICY)?;
    wait_enabled(vm, "guest-get-time", true)?;
    vm.libvirt_return(json!({"execute": "guest-get-time"}))?;
    Ok(Outcome::Pass(format!(
        "denying guest-get-time took effect {:.2} s after SIGHUP; an invalid file kept it denied; restoring the file re-enabled it",
        took.as_secs_f64()
    )))
}

/// The label AppArmor shows for a guest process, e.g. "agent-helper (enforce)".
fn apparmor_label(vm: &mut Vm, pid: u32) -> Result<String> {
    Ok(vm
        .sh(&format!("cat /proc/{pid}/attr/current"))?
        .trim()
        .to_string())
}

pub(super) fn apparmor(vm: &mut Vm) -> Result<Outcome> {
    if vm.image.agent == AgentKind::QemuGa {
        return Ok(Outcome::Skip(
            "the project's AppArmor profile confines agent-helper and agent-front: the qemu-ga guest loads none".into(),
        ));
    }
    let loaded = vm.sh("cat /sys/kernel/security/apparmor/profiles")?;
    for profile in ["agent-helper (enforce)", "agent-front (enforce)"] {
        if !loaded.lines().any(|l| l.trim() == profile) {
            return fail(format!(
                "the guest kernel has no {profile:?}; loaded: {loaded:?}"
            ));
        }
    }
    let helper = guest_pid(vm, "agent-helper")?.ok_or("no agent-helper running")?;
    let front = guest_pid(vm, "agent-front")?.ok_or("no agent-front running")?;
    let helper_label = apparmor_label(vm, helper)?;
    let front_label = apparmor_label(vm, front)?;
    if helper_label != "agent-helper (enforce)" {
        return fail(format!("helper {helper} is confined by {helper_label:?}"));
    }
    if front_label != FRONT_APPARMOR_LABEL {
        return fail(format!("front {front} is confined by {front_label:?}"));
    }
    // A denial is real: a shell that moves itself into the front's profile
    // cannot open /etc/passwd, which the same shell reads unconfined. The
    // redirection is the shell's own open, so no exec is involved.
    let read = "read -r line < /etc/passwd && echo read";
    let unconfined = vm.shell.run(read, Duration::from_secs(10))?;
    if unconfined.status != 0 {
        return fail(format!(
            "the unconfined shell cannot read /etc/passwd: {}",
            unconfined.text
        ));
    }
    let confined = vm.shell.run(
        &format!("echo 'changeprofile agent-front' > /proc/self/attr/current || exit 99; {read}"),
        Duration::from_secs(10),
    )?;
    if confined.status == 99 {
        return fail(format!(
            "cannot move a shell into agent-front: {}",
            confined.text
        ));
    }
    if confined.status == 0 || !confined.text.contains("Permission denied") {
        return fail(format!(
            "a shell in agent-front read /etc/passwd (status {}): {}",
            confined.status,
            confined.text.trim()
        ));
    }
    Ok(Outcome::Pass(format!(
        "both profiles loaded in enforce mode; helper {helper}: {helper_label:?}, front {front}: {front_label:?}; a shell moved into agent-front is refused /etc/passwd ({})",
        confined.text.trim()
    )))
}

/// After every other check: the profiles refused the agent nothing it did
/// (explicit `deny` rules are not logged, so the deliberate refusal above
/// leaves no line).
pub(super) fn no_apparmor_denials(vm: &mut Vm) -> Result<Outcome> {
    if vm.image.agent == AgentKind::QemuGa {
        return Ok(Outcome::Skip(
            "the qemu-ga guest loads no AppArmor profile".into(),
        ));
    }
    let denials = vm
        .shell
        .run(
            "dmesg | grep 'apparmor=\"DENIED\"'",
            Duration::from_secs(10),
        )?
        .text;
    if !denials.trim().is_empty() {
        return fail(format!("the kernel logged AppArmor denials:\n{denials}"));
    }
    Ok(Outcome::Pass(
        "no apparmor=\"DENIED\" line in the guest's kernel log".into(),
    ))
}

/// SIGTERM to the confined helper, as a service manager stops it: the
/// helper kills its front (a signal its AppArmor profile must let it send
/// to agent-front) and exits 0. busybox init then starts the agent again
/// for the checks that follow.
pub(super) fn sigterm_stops_helper_and_front(vm: &mut Vm) -> Result<Outcome> {
    let name = match vm.image.agent {
        AgentKind::Ours => "agent-helper",
        AgentKind::QemuGa => "qemu-ga",
    };
    let helper = guest_pid(vm, name)?.ok_or_else(|| format!("no {name} running"))?;
    let front = match vm.image.agent {
        AgentKind::Ours => Some(guest_pid(vm, "agent-front")?.ok_or("no agent-front running")?),
        AgentKind::QemuGa => None,
    };
    let exits_before = vm.sh(&format!("cat {AGENT_EXITS} 2>/dev/null || true"))?;
    let started = Instant::now();
    vm.sh(&format!("kill -TERM {helper}"))?;
    let pids: Vec<u32> = std::iter::once(helper).chain(front).collect();
    let deadline = started + Duration::from_secs(15);
    loop {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|pid| {
                vm.shell
                    .run(&format!("[ -d /proc/{pid} ]"), Duration::from_secs(10))
                    .is_ok_and(|o| o.status == 0)
            })
            .collect();
        if alive.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            return fail(format!("still running 15 s after SIGTERM: {alive:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = started.elapsed();
    // The launcher notes the exit once the helper is reaped.
    let exit_line = loop {
        let exits = vm.sh(&format!("cat {AGENT_EXITS} 2>/dev/null || true"))?;
        if let Some(new) = exits.strip_prefix(exits_before.as_str()) {
            if let Some(line) = new.lines().next() {
                break line.to_string();
            }
        }
        if Instant::now() >= deadline {
            return fail(format!("no exit noted in {AGENT_EXITS}: {exits:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if exit_line != "agent exited with status 0" {
        return fail(format!("{name} {helper} stopped badly: {exit_line}"));
    }
    let back = vm.wait_agent(Duration::from_secs(60))?;
    let front_text = front.map_or(String::new(), |f| format!(" and its front {f}"));
    Ok(Outcome::Pass(format!(
        "{name} {helper}{front_text} gone {:.2} s after SIGTERM; {exit_line}; restarted and answering {:.2} s later",
        gone.as_secs_f64(),
        back.as_secs_f64()
    )))
}

/// The host goes away while a large reply is on its way: a virtio port
/// whose host side closed refuses writes and polls as hung up, so the
/// front must wait for the host gently (not spin on the port), and the
/// next connection's sync must get through whatever of the old reply
/// follows.
pub(super) fn hang_up_with_reply_pending(vm: &mut Vm) -> Result<Outcome> {
    // 2.7 MiB of base64: more than QEMU's socket and the port's queue
    // hold, less than libvirt's cap on a line should any of it reach the
    // next connection.
    const SIZE: usize = 2 << 20;
    vm.sh(&format!("head -c {SIZE} /dev/urandom > /tmp/big-reply"))?;
    let handle = vm.libvirt_return(json!({"execute": "guest-file-open",
        "arguments": {"path": "/tmp/big-reply", "mode": "r"}}))?;
    // The process that writes replies: qemu-ga itself, or our front.
    let writer = match vm.image.agent {
        AgentKind::QemuGa => "qemu-ga",
        AgentKind::Ours => "agent-front",
    };
    let front = guest_pid(vm, writer)?.ok_or(format!("no {writer} in the guest"))?;
    vm.libvirt.send_and_hang_up(
        &json!({"execute": "guest-file-read", "arguments": {"handle": handle, "count": SIZE}}),
    )?;
    let cpu_ticks = |vm: &mut Vm| -> Result<u64> {
        let stat = vm.sh(&format!("cat /proc/{front}/stat"))?;
        crate::cpu_ticks(&stat).ok_or_else(|| format!("unreadable /proc/{front}/stat: {stat}"))
    };
    // Under emulation, reading and encoding the file takes the front a
    // while; after that it must go idle. A front spinning on the closed
    // port uses a whole CPU (100 ticks a second).
    let gone = Instant::now();
    let mut windows = Vec::new();
    loop {
        let before = cpu_ticks(vm)?;
        std::thread::sleep(Duration::from_secs(1));
        let busy = cpu_ticks(vm)? - before;
        windows.push(busy);
        if busy < 10 {
            break;
        }
        if gone.elapsed() > Duration::from_secs(15) {
            return fail(format!(
                "the front kept busy with the host gone (ticks per second: {windows:?})"
            ));
        }
    }
    let back = vm.wait_agent(Duration::from_secs(20))?;
    let same_front = guest_pid(vm, writer)? == Some(front);
    vm.libvirt_return(json!({"execute": "guest-file-close", "arguments": {"handle": handle}}))?;
    vm.sh("rm -f /tmp/big-reply")?;
    Ok(Outcome::Pass(format!(
        "front idle with the host gone (ticks per second: {windows:?}); answered a \
         new connection after {:.2} s ({})",
        back.as_secs_f64(),
        if same_front {
            "same front"
        } else {
            "a new front"
        }
    )))
}

/// A file written and read back through the agent in the guest, in calls
/// that cross the helper's chunks at unaligned positions: the data reaches
/// the front through its file-data pipe under the shipped AppArmor profile.
pub(super) fn file_round_trip(vm: &mut Vm) -> Result<Outcome> {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    const PATH: &str = "/tmp/round-trip";
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let handle = vm.libvirt_return(json!({"execute": "guest-file-open",
        "arguments": {"path": PATH, "mode": "w+"}}))?;
    let written = vm.libvirt_return(json!({"execute": "guest-file-write",
        "arguments": {"handle": handle, "buf-b64": B64.encode(&data)}}))?;
    if written["count"] != json!(data.len()) {
        return fail(format!("guest-file-write returned {written}"));
    }
    vm.libvirt_return(json!({"execute": "guest-file-seek",
        "arguments": {"handle": handle, "offset": 0, "whence": "set"}}))?;
    let mut back = Vec::new();
    let mut eof = false;
    for count in [1000, 1 << 20] {
        let reply = vm.libvirt_return(json!({"execute": "guest-file-read",
            "arguments": {"handle": handle, "count": count}}))?;
        let part = B64
            .decode(reply["buf-b64"].as_str().unwrap_or_default())
            .map_err(|e| format!("guest-file-read: {e}: {reply}"))?;
        back.extend_from_slice(&part);
        eof = reply["eof"] == json!(true);
    }
    vm.libvirt_return(json!({"execute": "guest-file-close", "arguments": {"handle": handle}}))?;
    let on_disk = vm.sh(&format!("wc -c < {PATH}; rm -f {PATH}"))?;
    if on_disk.trim() != data.len().to_string() {
        return fail(format!("the guest's file has {} bytes", on_disk.trim()));
    }
    if back != data || !eof {
        return fail(format!(
            "read back {} of {} bytes (eof {eof}), first difference at {:?}",
            back.len(),
            data.len(),
            back.iter().zip(&data).position(|(a, b)| a != b)
        ));
    }
    Ok(Outcome::Pass(format!(
        "{} bytes written and read back in calls of 1000 bytes and 1 MiB",
        data.len()
    )))
}

/// Every query a host may send, answered in the guest under the shipped
/// AppArmor profiles and seccomp filters (the later "no AppArmor denials"
/// check then covers what each one read): each must return, not fail.
pub(super) fn read_only_queries(vm: &mut Vm) -> Result<Outcome> {
    const QUERIES: &[&str] = &[
        "guest-get-osinfo",
        "guest-get-host-name",
        "guest-get-timezone",
        "guest-get-users",
        "guest-network-get-interfaces",
        "guest-network-get-route",
        "guest-get-fsinfo",
        "guest-get-disks",
        "guest-get-diskstats",
        "guest-get-cpustats",
        "guest-get-load",
        "guest-get-vcpus",
        "guest-get-memory-blocks",
        "guest-get-memory-block-info",
    ];
    let mut answered = Vec::new();
    let mut failed = Vec::new();
    for &query in QUERIES {
        if !vm.enabled(query) {
            // qemu-ga 7.2 lacks the newer ones; this agent must have all.
            if vm.image.agent == AgentKind::Ours {
                failed.push(format!("{query}: not enabled"));
            }
            continue;
        }
        let reply = vm.libvirt(json!({"execute": query}))?;
        if reply.get("return").is_some() {
            answered.push(query);
        } else {
            failed.push(format!("{query}: {reply}"));
        }
    }
    if !failed.is_empty() {
        return fail(failed.join("; "));
    }
    Ok(Outcome::Pass(format!(
        "{} queries answered: {}",
        answered.len(),
        answered.join(", ")
    )))
}
