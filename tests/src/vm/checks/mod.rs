//! The end-to-end checks, run in order on one guest. A check that drives a
//! command the agent under test lists as disabled in guest-info is skipped
//! with the reason, so the suite stays honest while commands are still
//! being implemented, and each check comes alive when its command does.

mod agent;
mod power;
mod storage;
mod system;

use super::guest::{self, AgentBinaries, AgentKind, GUEST_AGENT_LOG};
use super::machine::{Accel, AGENT_PORT_ID};
use super::qmp::Mark;
use super::report::{progress, Outcome, Report};
use super::session::Vm;
use super::{fail, Result};
use protocol::commands::{self, Availability};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Check {
    name: &'static str,
    /// Commands the check drives: it is skipped when guest-info lists one
    /// of them as disabled.
    needs: &'static [&'static str],
    run: fn(&mut Vm) -> Result<Outcome>,
}

/// In order: hibernation before memory hotplug (an image taken with a
/// hot-added DIMM cannot resume in a QEMU started without it), the agent
/// stopped with SIGTERM (and started again) and the AppArmor log read once
/// everything else ran, shutdown last.
const CHECKS: &[Check] = &[
    Check {
        name: "guest-info (libvirt, Proxmox)",
        needs: &[],
        run: agent::guest_info,
    },
    Check {
        name: "guest-get-time",
        needs: &["guest-get-time"],
        run: agent::get_time,
    },
    Check {
        name: "guest-fsfreeze-status",
        needs: &["guest-fsfreeze-status"],
        run: agent::fsfreeze_status,
    },
    Check {
        name: "command denied by policy",
        needs: &[],
        run: agent::denied_command,
    },
    Check {
        name: "killed front restarted",
        needs: &[],
        run: agent::front_restart,
    },
    Check {
        name: "privileges inside the guest",
        needs: &[],
        run: agent::privileges,
    },
    Check {
        name: "AppArmor confines helper and front",
        needs: &[],
        run: agent::apparmor,
    },
    Check {
        name: "every query answers",
        needs: &[],
        run: agent::read_only_queries,
    },
    Check {
        name: "freeze/thaw, write blocked",
        needs: &[
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
        ],
        run: storage::freeze_thaw,
    },
    Check {
        name: "freeze-list, front killed while frozen",
        needs: &[
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
        ],
        run: storage::freeze_list_across_front_restart,
    },
    Check {
        name: "fstrim shrinks the image",
        needs: &["guest-fstrim"],
        run: storage::fstrim,
    },
    Check {
        name: "vCPU offline/online",
        needs: &["guest-get-vcpus", "guest-set-vcpus"],
        run: system::vcpus,
    },
    Check {
        name: "user passwords",
        needs: &["guest-set-user-password"],
        run: system::passwords,
    },
    Check {
        name: "file written and read back",
        needs: &[
            "guest-file-open",
            "guest-file-write",
            "guest-file-seek",
            "guest-file-read",
            "guest-file-close",
        ],
        run: agent::file_round_trip,
    },
    Check {
        name: "host hangs up with a reply pending",
        needs: &["guest-file-open", "guest-file-read", "guest-file-close"],
        run: agent::hang_up_with_reply_pending,
    },
    Check {
        name: "SSH keys of a user",
        needs: &[
            "guest-ssh-add-authorized-keys",
            "guest-ssh-get-authorized-keys",
            "guest-ssh-remove-authorized-keys",
        ],
        run: system::ssh_keys,
    },
    Check {
        name: "guest-set-time through the RTC",
        needs: &["guest-set-time", "guest-get-time"],
        run: system::set_time,
    },
    Check {
        name: "policy reload on SIGHUP",
        needs: &["guest-get-time"],
        run: agent::policy_reload,
    },
    Check {
        name: "suspend-ram + wakeup",
        needs: &["guest-suspend-ram"],
        run: power::suspend_ram,
    },
    Check {
        name: "suspend-disk + resume",
        needs: &["guest-suspend-disk"],
        run: power::suspend_disk,
    },
    Check {
        name: "memory hotplug + online",
        needs: &["guest-get-memory-blocks", "guest-set-memory-blocks"],
        run: system::memory_hotplug,
    },
    Check {
        name: "SIGTERM stops helper and front",
        needs: &[],
        run: agent::sigterm_stops_helper_and_front,
    },
    Check {
        name: "no AppArmor denials",
        needs: &[],
        run: agent::no_apparmor_denials,
    },
    Check {
        name: "guest-shutdown",
        needs: &["guest-shutdown"],
        run: power::shutdown,
    },
];

const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// Builds and boots a guest running `agent`, runs every check on it, and
/// prints one line per check as it finishes.
pub fn run_all(agent: AgentKind, binaries: &AgentBinaries, workdir: &Path) -> Report {
    const BUILD: &str = "build guest image";
    const BOOT: &str = "boot to sync + ping";
    let mut report = Report::new(agent);
    let accel = match Accel::choose() {
        Ok(a) => a,
        Err(e) => {
            report.record(BOOT, Outcome::Fail(e), 0.0);
            return report;
        }
    };
    report.accel = Some(accel);
    progress(&format!(
        "vm[{}]: building the guest in {} (accel {})",
        agent.label(),
        workdir.display(),
        accel.label()
    ));

    let started = Instant::now();
    let image = match guest::build(workdir, agent, binaries) {
        Ok(image) => {
            report.record(
                BUILD,
                Outcome::Pass(image_summary(&image.initramfs)),
                started.elapsed().as_secs_f64(),
            );
            image
        }
        Err(e) => {
            report.record(BUILD, Outcome::Fail(e), started.elapsed().as_secs_f64());
            return report;
        }
    };

    let started = Instant::now();
    let mut vm = match Vm::start(image, accel) {
        Ok(vm) => vm,
        Err(e) => {
            report.record(BOOT, Outcome::Fail(e), started.elapsed().as_secs_f64());
            return report;
        }
    };
    match first_contact(&mut vm) {
        Ok(detail) => report.record(BOOT, Outcome::Pass(detail), started.elapsed().as_secs_f64()),
        Err(e) => {
            report.record(BOOT, Outcome::Fail(e), started.elapsed().as_secs_f64());
            report.diagnostics = diagnostics(&mut vm);
            return report;
        }
    }

    for check in CHECKS {
        let started = Instant::now();
        let outcome = if !vm.is_running() {
            Outcome::Fail("not run: QEMU is no longer running".into())
        } else if let Some(reason) = skip_reason(&vm, check.needs) {
            Outcome::Skip(reason)
        } else {
            // A panic in a check is its failure, not the end of the run.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (check.run)(&mut vm)))
                .unwrap_or_else(|panic| fail(format!("panicked: {}", panic_text(&panic))))
                .unwrap_or_else(Outcome::Fail)
        };
        let failed = matches!(outcome, Outcome::Fail(_));
        report.record(check.name, outcome, started.elapsed().as_secs_f64());
        if failed && report.diagnostics.is_empty() {
            report.diagnostics = diagnostics(&mut vm);
        }
    }
    report
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn image_summary(initramfs: &Path) -> String {
    let bytes = std::fs::metadata(initramfs).map(|m| m.len()).unwrap_or(0);
    format!("initramfs {:.1} MiB", mib(bytes))
}

/// Waits, Proxmox-style, for the first answered guest-sync-delimited after
/// QEMU started, then a guest-ping.
fn first_contact(vm: &mut Vm) -> Result<String> {
    let waited = vm.first_contact(BOOT_LIMIT)?;
    let synced = vm.machine().started.elapsed();
    let pong = vm.proxmox_return(json!({"execute": "guest-ping"}))?;
    if pong != json!({}) {
        return fail(format!("guest-ping returned {pong}"));
    }
    let pinged = vm.machine().started.elapsed();
    Ok(format!(
        "first guest-sync-delimited answered {:.2} s after QEMU started (waited {:.2} s), guest-ping at {:.2} s",
        synced.as_secs_f64(),
        waited.as_secs_f64(),
        pinged.as_secs_f64()
    ))
}

fn skip_reason(vm: &Vm, needs: &[&str]) -> Option<String> {
    let disabled = needs.iter().find(|c| !vm.enabled(c))?;
    Some(match vm.image.agent {
        AgentKind::Ours => match commands::lookup(disabled).map(|c| c.availability) {
            Some(Availability::Available) => {
                format!("{disabled} is disabled in guest-info")
            }
            _ => {
                format!("{disabled} is not implemented by this agent yet (disabled in guest-info)")
            }
        },
        AgentKind::QemuGa => format!("{disabled} is disabled in qemu-ga's guest-info"),
    })
}

fn diagnostics(vm: &mut Vm) -> String {
    let mut out = String::from("--- guest console (end) ---\n");
    out.push_str(&vm.machine().console_tail(4000));
    if vm.is_running() {
        let sections = [
            (
                "agent log",
                // guest-info polling would fill the tail: leave it out.
                format!("grep -v 'command=\"guest-info\"' {GUEST_AGENT_LOG} | tail -n 40"),
            ),
            (
                "seccomp kills and logs",
                "dmesg | grep -E 'type=1326|audit: seccomp' | tail -n 20".to_string(),
            ),
            (
                "AppArmor denials",
                "dmesg | grep 'apparmor=\"DENIED\"' | tail -n 20".to_string(),
            ),
        ];
        for (title, command) in sections {
            out.push_str(&format!("\n--- {title} (end) ---\n"));
            match vm.shell.run(&command, Duration::from_secs(10)) {
                Ok(o) => out.push_str(&o.text),
                Err(e) => out.push_str(&format!("(unavailable: {e})\n")),
            }
        }
    }
    out
}

/// The pid of the process running `name` in the guest (one expected).
fn guest_pid(vm: &mut Vm, name: &str) -> Result<Option<u32>> {
    let out = vm
        .shell
        .run(&format!("pidof {name}"), Duration::from_secs(10))?;
    let pids: Vec<u32> = out
        .text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    match pids.as_slice() {
        [] => Ok(None),
        [pid] => Ok(Some(*pid)),
        more => fail(format!("{} {name} processes: {more:?}", more.len())),
    }
}

/// Selected /proc/PID/status fields of a guest process.
fn guest_status(vm: &mut Vm, pid: u32) -> Result<BTreeMap<String, String>> {
    let text = vm.sh(&format!("cat /proc/{pid}/status"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect())
}

/// The agent port's open/close reports since `mark`, e.g. "closed, open".
fn port_events(vm: &mut Vm, mark: Mark) -> String {
    let seen: Vec<&str> = vm
        .qmp()
        .events_since(mark)
        .iter()
        .filter(|e| e["event"] == "VSERPORT_CHANGE" && e["data"]["id"] == AGENT_PORT_ID)
        .map(|e| {
            if e["data"]["open"] == true {
                "open"
            } else {
                "closed"
            }
        })
        .collect();
    if seen.is_empty() {
        "none".into()
    } else {
        seen.join(", ")
    }
}

/// The host's clock, in nanoseconds since the epoch, as guest-get-time
/// counts.
fn host_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
}

/// guest-get-time's answer, and how far the guest's clock is from the
/// host's, in seconds.
fn guest_time(vm: &mut Vm) -> Result<(i64, f64)> {
    let guest = vm.libvirt_return(json!({"execute": "guest-get-time"}))?;
    let guest = guest
        .as_i64()
        .ok_or(format!("guest-get-time returned {guest}"))?;
    Ok((guest, (guest - host_now_ns()) as f64 / 1e9))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
