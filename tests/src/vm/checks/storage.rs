//! The data disk: freeze and thaw (the way Proxmox brackets a backup) with
//! a write held up in between, and fstrim making the host's image shrink.

use super::mib;
use crate::vm::guest::{DATA_MOUNT, HOOK_ACTIONS};
use crate::vm::report::Outcome;
use crate::vm::session::Vm;
use crate::vm::{error_of, fail, Result};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) fn freeze_thaw(vm: &mut Vm) -> Result<Outcome> {
    let target = format!("{DATA_MOUNT}/written-while-frozen");
    vm.sh(&format!(
        "rm -f {target} /run/write-finished {HOOK_ACTIONS}; sync"
    ))?;
    // Proxmox freezes around a backup.
    let result = match vm.proxmox_return(json!({"execute": "guest-fsfreeze-freeze"})) {
        Ok(frozen) => while_frozen(vm, &frozen, &target),
        Err(e) => Err(e),
    };
    if result.is_err() {
        // Never leave the guest frozen for the checks that follow (a thaw
        // with nothing frozen does no harm).
        let _ = vm.proxmox(json!({"execute": "guest-fsfreeze-thaw"}));
    }
    result
}

fn while_frozen(vm: &mut Vm, frozen: &Value, target: &str) -> Result<Outcome> {
    if frozen != &json!(1) {
        return fail(format!(
            "freeze returned {frozen}, expected 1 (only {DATA_MOUNT} is a block-device filesystem)"
        ));
    }
    let status = vm.proxmox_return(json!({"execute": "guest-fsfreeze-status"}))?;
    if status != json!("frozen") {
        return fail(format!("status {status} while frozen"));
    }
    if vm.enabled("guest-get-time") {
        let reply = vm.libvirt(json!({"execute": "guest-get-time"}))?;
        let (class, desc) = error_of(&reply)?;
        let expected = "Command guest-get-time has been disabled: the agent is in frozen state";
        if class != "CommandNotFound" || desc != expected {
            return fail(format!(
                "while frozen, guest-get-time gave {class}: {desc:?}"
            ));
        }
    }
    // A write started now must wait for the thaw. (Only /run is touched
    // from the shell meanwhile: the frozen disk would block the shell too.)
    vm.sh(&format!(
        "(echo written > {target}; touch /run/write-finished) </dev/null >/dev/null 2>&1 &"
    ))?;
    std::thread::sleep(Duration::from_millis(1500));
    if vm
        .sh("test -e /run/write-finished && echo finished || echo blocked")?
        .trim()
        != "blocked"
    {
        return fail("a write to the frozen filesystem went through");
    }
    let thaw_started = Instant::now();
    let thawed = vm.proxmox_return(json!({"execute": "guest-fsfreeze-thaw"}))?;
    if &thawed != frozen {
        return fail(format!("thaw returned {thawed}, freeze {frozen}"));
    }
    loop {
        if vm
            .sh("test -e /run/write-finished && echo finished || echo blocked")?
            .trim()
            == "finished"
        {
            break;
        }
        if thaw_started.elapsed() > Duration::from_secs(10) {
            return fail("the blocked write did not finish after the thaw");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let released = thaw_started.elapsed();
    let written = vm.sh(&format!("cat {target}"))?;
    if written.trim() != "written" {
        return fail(format!("the file holds {written:?}"));
    }
    let status = vm.proxmox_return(json!({"execute": "guest-fsfreeze-status"}))?;
    if status != json!("thawed") {
        return fail(format!("status {status} after the thaw"));
    }
    // Debian's fsfreeze hook ran its hook.d script before the freeze and
    // after the thaw, under the agent's program filter and profile.
    let actions = vm.sh(&format!("cat {HOOK_ACTIONS} 2>/dev/null; true"))?;
    let actions: Vec<&str> = actions.split_whitespace().collect();
    if actions != ["freeze", "thaw"] {
        return fail(format!("the fsfreeze hook was called with {actions:?}"));
    }
    Ok(Outcome::Pass(format!(
        "froze {frozen} filesystem; a write waited until the thaw (done {:.2} s after it); \
         thawed {thawed}; the hook ran for freeze and thaw",
        released.as_secs_f64()
    )))
}

/// guest-fsfreeze-freeze-list on the data disk by name, then (for this
/// agent) the front is killed while the disk is frozen: the helper keeps the
/// frozen state, the new front refuses what it must, and the thaw works.
pub(super) fn freeze_list_across_front_restart(vm: &mut Vm) -> Result<Outcome> {
    let list = json!({"execute": "guest-fsfreeze-freeze-list",
                      "arguments": {"mountpoints": [DATA_MOUNT]}});
    let frozen = vm.proxmox_return(list)?;
    let result = frozen_through_restart(vm, &frozen);
    if result.is_err() {
        let _ = vm.proxmox(json!({"execute": "guest-fsfreeze-thaw"}));
    }
    result
}

fn frozen_through_restart(vm: &mut Vm, frozen: &Value) -> Result<Outcome> {
    if frozen != &json!(1) {
        return fail(format!(
            "freeze-list of {DATA_MOUNT} returned {frozen}, expected 1"
        ));
    }
    let restarted = if vm.image.agent == crate::vm::guest::AgentKind::Ours {
        let old =
            super::guest_pid(vm, "agent-front")?.ok_or("no agent-front running in the guest")?;
        vm.sh(&format!("kill -9 {old}"))?;
        let killed = Instant::now();
        loop {
            if super::guest_pid(vm, "agent-front")?.is_some_and(|p| p != old) {
                break;
            }
            if killed.elapsed() > Duration::from_secs(15) {
                return fail(format!("no new agent-front 15 s after killing {old}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        format!(
            "front killed while frozen, new one up in {:.2} s; ",
            killed.elapsed().as_secs_f64()
        )
    } else {
        String::new()
    };
    let status = vm.proxmox_return(json!({"execute": "guest-fsfreeze-status"}))?;
    if status != json!("frozen") {
        return fail(format!("status {status} after the front restart"));
    }
    let reply = vm.proxmox(json!({"execute": "guest-fsfreeze-freeze"}))?;
    let (class, desc) = error_of(&reply)?;
    let expected = "Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state";
    if class != "CommandNotFound" || desc != expected {
        return fail(format!(
            "a second freeze while frozen gave {class}: {desc:?}"
        ));
    }
    let thawed = vm.proxmox_return(json!({"execute": "guest-fsfreeze-thaw"}))?;
    if thawed != json!(1) {
        return fail(format!("thaw returned {thawed}"));
    }
    let status = vm.proxmox_return(json!({"execute": "guest-fsfreeze-status"}))?;
    if status != json!("thawed") {
        return fail(format!("status {status} after the thaw"));
    }
    Ok(Outcome::Pass(format!(
        "freeze-list [{DATA_MOUNT}] froze 1; {restarted}status stayed frozen, freeze refused, thaw returned 1"
    )))
}

/// Bytes the host really stores for a (sparse) disk image.
fn allocated(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.blocks() * 512)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(super) fn fstrim(vm: &mut Vm) -> Result<Outcome> {
    const FILL_MIB: u64 = 96;
    let disk = vm.image.data_disk.clone();
    let before = allocated(&disk)?;
    vm.sh(&format!(
        "dd if=/dev/zero of={DATA_MOUNT}/fill bs=1M count={FILL_MIB} 2>&1 && sync"
    ))?;
    let filled = allocated(&disk)?;
    if filled < before + ((FILL_MIB / 2) << 20) {
        return fail(format!(
            "writing {FILL_MIB} MiB grew the image only from {:.1} to {:.1} MiB",
            mib(before),
            mib(filled)
        ));
    }
    vm.sh(&format!("rm {DATA_MOUNT}/fill && sync"))?;
    // Proxmox trims after moving a disk; it sends no arguments.
    let result = vm.proxmox_return(json!({"execute": "guest-fstrim"}))?;
    let paths = result["paths"]
        .as_array()
        .ok_or(format!("fstrim returned {result}"))?;
    let data = paths
        .iter()
        .find(|p| p["path"] == DATA_MOUNT)
        .ok_or(format!("{DATA_MOUNT} missing from {result}"))?;
    if let Some(e) = data.get("error") {
        return fail(format!("fstrim of {DATA_MOUNT} failed: {e}"));
    }
    let trimmed = data["trimmed"].as_u64().unwrap_or(0);
    if trimmed < FILL_MIB << 20 {
        return fail(format!("only {trimmed} bytes trimmed: {data}"));
    }
    let after = allocated(&disk)?;
    if after + ((FILL_MIB / 2) << 20) > filled {
        return fail(format!(
            "the image did not shrink: {:.1} MiB before the trim, {:.1} MiB after",
            mib(filled),
            mib(after)
        ));
    }
    Ok(Outcome::Pass(format!(
        "image {:.1} MiB, {:.1} MiB after a {FILL_MIB} MiB file, {:.1} MiB after deleting it and fstrim ({:.1} MiB trimmed)",
        mib(before),
        mib(filled),
        mib(after),
        mib(trimmed)
    )))
}
