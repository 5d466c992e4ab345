//! System settings the host changes: vCPUs, hot-added memory, passwords,
//! the clock.

use super::{guest_time, host_now_ns};
use crate::vm::report::Outcome;
use crate::vm::session::Vm;
use crate::vm::{error_of, fail, Result};
use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn vcpu_state(vm: &mut Vm) -> Result<Vec<(i64, bool, Option<bool>)>> {
    let list = vm.libvirt_return(json!({"execute": "guest-get-vcpus"}))?;
    list.as_array()
        .ok_or(format!("guest-get-vcpus returned {list}"))?
        .iter()
        .map(|c| {
            Ok((
                c["logical-id"].as_i64().ok_or(format!("bad vcpu {c}"))?,
                c["online"].as_bool().ok_or(format!("bad vcpu {c}"))?,
                c["can-offline"].as_bool(),
            ))
        })
        .collect()
}

pub(super) fn vcpus(vm: &mut Vm) -> Result<Outcome> {
    let mut cpus = vcpu_state(vm)?;
    cpus.sort();
    if cpus != vec![(0, true, Some(false)), (1, true, Some(true))] {
        return fail(format!(
            "guest-get-vcpus gave {cpus:?} (logical-id, online, can-offline)"
        ));
    }
    let set = |online: bool| json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 1, "online": online}]}});
    let n = vm.libvirt_return(set(false))?;
    if n != json!(1) {
        return fail(format!("guest-set-vcpus (offline) returned {n}"));
    }
    let online = vm.sh("cat /sys/devices/system/cpu/online")?;
    if online.trim() != "0" {
        return fail(format!(
            "after offlining cpu1 the guest has {online:?} online"
        ));
    }
    if vcpu_state(vm)?
        .iter()
        .any(|&(id, online, _)| id == 1 && online)
    {
        return fail("guest-get-vcpus still shows cpu1 online");
    }
    let n = vm.libvirt_return(set(true))?;
    if n != json!(1) {
        return fail(format!("guest-set-vcpus (online) returned {n}"));
    }
    let online = vm.sh("cat /sys/devices/system/cpu/online")?;
    if online.trim() != "0-1" {
        return fail(format!(
            "after onlining cpu1 the guest has {online:?} online"
        ));
    }
    Ok(Outcome::Pass(
        "cpu1 offline (online cpus \"0\") and back (\"0-1\"); cpu0 cannot go offline".into(),
    ))
}

const TEST_USER: &str = "testuser";
/// `openssl passwd -6 -salt qgavmtest Hashed-pass2`
const CRYPTED: &str = "$6$qgavmtest$MV5kDFbQ8mja2OBKF9malFebyEfa1Xoc4/fXe4NfyWEZDjriwBqxO909sdGuMTx7YBPWBCZjxd1i9HJihSUyU/";

fn shadow_hash(vm: &mut Vm, user: &str) -> Result<String> {
    let line = vm.sh(&format!("grep '^{user}:' /etc/shadow"))?;
    Ok(line.split(':').nth(1).unwrap_or_default().to_string())
}

pub(super) fn passwords(vm: &mut Vm) -> Result<Outcome> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let set = |user: &str, password: &str, crypted: bool| {
        json!({"execute": "guest-set-user-password", "arguments": {
            "username": user, "password": b64(password), "crypted": crypted}})
    };
    let before = shadow_hash(vm, TEST_USER)?;
    let plain = "Plain-pass1";
    let r = vm.libvirt_return(set(TEST_USER, plain, false))?;
    if r != json!({}) {
        return fail(format!("plain password: returned {r}"));
    }
    let hashed = shadow_hash(vm, TEST_USER)?;
    if hashed == before || !hashed.starts_with("$y$") || hashed.contains(plain) {
        return fail(format!(
            "after a plain password the shadow entry is {hashed:?}"
        ));
    }
    let r = vm.libvirt_return(set(TEST_USER, CRYPTED, true))?;
    if r != json!({}) {
        return fail(format!("crypted password: returned {r}"));
    }
    let stored = shadow_hash(vm, TEST_USER)?;
    if stored != CRYPTED {
        return fail(format!("a crypted password was stored as {stored:?}"));
    }
    // qemu-ga leaves the user check to chpasswd, and says only that.
    let reply = vm.libvirt(set("no-such-user", plain, false))?;
    let (class, desc) = error_of(&reply)?;
    if class != "GenericError" || desc != "child process has failed to set user password" {
        return fail(format!("unknown user: {class}: {desc:?}"));
    }
    Ok(Outcome::Pass(format!(
        "plain password stored as yescrypt ({}...), crypted one stored as given; unknown user: {desc:?}",
        &hashed[..hashed.len().min(12)]
    )))
}

fn memory_blocks(vm: &mut Vm) -> Result<Vec<(u64, bool)>> {
    let list = vm.libvirt_return(json!({"execute": "guest-get-memory-blocks"}))?;
    list.as_array()
        .ok_or(format!("guest-get-memory-blocks returned {list}"))?
        .iter()
        .map(|b| {
            Ok((
                b["phys-index"].as_u64().ok_or(format!("bad block {b}"))?,
                b["online"].as_bool().ok_or(format!("bad block {b}"))?,
            ))
        })
        .collect()
}

fn mem_total_kib(vm: &mut Vm) -> Result<u64> {
    let line = vm.sh("grep MemTotal /proc/meminfo")?;
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or(format!("MemTotal line {line:?}"))
}

pub(super) fn memory_hotplug(vm: &mut Vm) -> Result<Outcome> {
    let before = memory_blocks(vm)?;
    let total_before = mem_total_kib(vm)?;
    vm.qmp().execute(
        "object-add",
        json!({"qom-type": "memory-backend-ram", "id": "hotmem0", "size": 256u64 << 20}),
    )?;
    vm.qmp().execute(
        "device_add",
        json!({"driver": "pc-dimm", "id": "hotdimm0", "memdev": "hotmem0"}),
    )?;
    let started = Instant::now();
    let added = loop {
        let now = memory_blocks(vm)?;
        let added: Vec<(u64, bool)> = now
            .into_iter()
            .filter(|b| !before.iter().any(|o| o.0 == b.0))
            .collect();
        if added.len() >= 2 {
            break added;
        }
        if started.elapsed() > Duration::from_secs(15) {
            return fail(format!("the hot-added DIMM shows as blocks {added:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if added.iter().any(|b| b.1) {
        return fail(format!(
            "new blocks {added:?} came up online (the guest boots with memhp_default_state=offline)"
        ));
    }
    let request: Vec<Value> = added
        .iter()
        .map(|b| json!({"phys-index": b.0, "online": true}))
        .collect();
    let responses = vm.libvirt_return(
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": request}}),
    )?;
    let responses = responses
        .as_array()
        .ok_or(format!("guest-set-memory-blocks returned {responses}"))?;
    if responses.len() != added.len() || responses.iter().any(|r| r["response"] != "success") {
        return fail(format!("guest-set-memory-blocks answered {responses:?}"));
    }
    let after = memory_blocks(vm)?;
    if added
        .iter()
        .any(|b| !after.iter().any(|a| a.0 == b.0 && a.1))
    {
        return fail(format!("blocks not online afterwards: {after:?}"));
    }
    let total_after = mem_total_kib(vm)?;
    let grown = total_after.saturating_sub(total_before);
    if grown < 200 << 10 {
        return fail(format!("MemTotal grew by {grown} kB only"));
    }
    let block_size = if vm.enabled("guest-get-memory-block-info") {
        let info = vm.libvirt_return(json!({"execute": "guest-get-memory-block-info"}))?;
        format!(
            ", block size {} MiB",
            info["size"].as_u64().unwrap_or(0) >> 20
        )
    } else {
        String::new()
    };
    let indexes: Vec<u64> = added.iter().map(|b| b.0).collect();
    Ok(Outcome::Pass(format!(
        "256 MiB DIMM: blocks {indexes:?} appeared offline, onlined; MemTotal +{} MiB{block_size}",
        grown >> 10
    )))
}

/// guest-set-time runs hwclock (busybox's here) under the clock program
/// filter against the guest's real RTC: an hour ahead (`hwclock -w` writes
/// the RTC), back to the host's time, then from the RTC (`hwclock -s`).
pub(super) fn set_time(vm: &mut Vm) -> Result<Outcome> {
    let offset = |vm: &mut Vm| guest_time(vm).map(|(_, offset)| offset);
    let set = |vm: &mut Vm, arguments: Value| -> Result<()> {
        let r = vm.libvirt_return(json!({"execute": "guest-set-time", "arguments": arguments}))?;
        if r != json!({}) {
            return fail(format!("guest-set-time {arguments} returned {r}"));
        }
        Ok(())
    };
    const HOUR_NS: i64 = 3_600_000_000_000;
    set(vm, json!({"time": host_now_ns() + HOUR_NS}))?;
    let ahead = offset(vm)?;
    set(vm, json!({"time": host_now_ns()}))?;
    let back = offset(vm)?;
    set(vm, json!({}))?;
    let from_rtc = offset(vm)?;
    if (ahead - 3600.0).abs() > 30.0 || back.abs() > 30.0 || from_rtc.abs() > 30.0 {
        return fail(format!(
            "clock {ahead:+.1} s after +1 h, {back:+.1} s after setting it back, \
             {from_rtc:+.1} s after reading the RTC"
        ));
    }
    Ok(Outcome::Pass(format!(
        "clock {ahead:+.1} s after +1 h, {back:+.1} s back, {from_rtc:+.1} s from the RTC"
    )))
}

/// SSH keys of a user through the agent, confined by AppArmor: added to
/// ~/.ssh/authorized_keys (owned by the user, private; like qemu-ga, no
/// newline after the last key), listed, removed.
pub(super) fn ssh_keys(vm: &mut Vm) -> Result<Outcome> {
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVQxVrYbUwBn0UQpQr3qf7lgBf1yZKfoTnPZz7Gkj2s agent-test";
    let listed = |vm: &mut Vm| -> Result<bool> {
        let got = vm.libvirt_return(json!({"execute": "guest-ssh-get-authorized-keys",
            "arguments": {"username": TEST_USER}}))?;
        let keys = got["keys"]
            .as_array()
            .ok_or(format!("guest-ssh-get-authorized-keys returned {got}"))?;
        Ok(keys.iter().any(|k| k == KEY))
    };
    let r = vm.libvirt_return(json!({"execute": "guest-ssh-add-authorized-keys",
        "arguments": {"username": TEST_USER, "keys": [KEY]}}))?;
    if r != json!({}) {
        return fail(format!("add returned {r}"));
    }
    if !listed(vm)? {
        return fail("the added key is not listed");
    }
    let file = vm.sh(&format!(
        "stat -c '%u %a' /home/{TEST_USER}/.ssh/authorized_keys; cat /home/{TEST_USER}/.ssh/authorized_keys; echo"
    ))?;
    let (owner_mode, content) = file.split_once('\n').unwrap_or((&file, ""));
    if owner_mode.trim() != "1000 600" || !content.contains(KEY) {
        return fail(format!(
            "authorized_keys is {owner_mode:?} with {content:?}"
        ));
    }
    let r = vm.libvirt_return(json!({"execute": "guest-ssh-remove-authorized-keys",
        "arguments": {"username": TEST_USER, "keys": [KEY]}}))?;
    if r != json!({}) {
        return fail(format!("remove returned {r}"));
    }
    if listed(vm)? {
        return fail("the removed key is still listed");
    }
    Ok(Outcome::Pass(format!(
        "key added (authorized_keys {}), listed, removed",
        owner_mode.trim()
    )))
}
