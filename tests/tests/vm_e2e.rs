//! The agent in a real guest: a Debian kernel under QEMU (KVM where it
//! really works, TCG otherwise), the agent on its virtio-serial port started
//! as in production, driven from the host as libvirt and Proxmox VE drive
//! it. One boot for all checks; each prints its time, and a table closes the
//! run. QGA_VM_AGENT=qemu-ga runs the same checks against Debian's qemu-ga,
//! QGA_VM_AGENT=both runs both and compares them (then only this agent's
//! failures fail the test: qemu-ga 7.2 fails "host hangs up with a reply
//! pending", and the table shows it); QGA_VM_KEEP=1 keeps the guest's
//! files. There is no silent pass: if QEMU cannot run, this fails.

use tests::vm::checks;
use tests::vm::guest::{AgentBinaries, AgentKind};
use tests::vm::report::{comparison_table, progress};
use tests::TempDir;

fn agents() -> Vec<AgentKind> {
    match std::env::var("QGA_VM_AGENT").as_deref() {
        Ok("qemu-ga") => vec![AgentKind::QemuGa],
        Ok("both") => vec![AgentKind::Ours, AgentKind::QemuGa],
        Ok("ours") | Err(_) => vec![AgentKind::Ours],
        Ok(other) => panic!("QGA_VM_AGENT={other}: use ours, qemu-ga or both"),
    }
}

#[test]
fn agent_in_a_real_guest() {
    let binaries = AgentBinaries {
        bin_dir: tests::bin_dir(),
        qemu_ga: "/usr/sbin/qemu-ga".into(),
    };
    let mut reports = Vec::new();
    for agent in agents() {
        let dir = TempDir::new(&format!("vm-{}", agent.label()));
        let report = checks::run_all(agent, &binaries, &dir.0);
        if !report.diagnostics.is_empty() {
            progress(&report.diagnostics);
        }
        progress(&report.table());
        if std::env::var_os("QGA_VM_KEEP").is_some() {
            progress(&format!("guest files kept in {}", dir.0.display()));
            std::mem::forget(dir);
        }
        reports.push(report);
    }
    if reports.len() > 1 {
        progress(&comparison_table(&reports));
    }
    let compared = reports.len() > 1;
    let failures: Vec<String> = reports
        .iter()
        .filter(|r| !(compared && r.agent == AgentKind::QemuGa))
        .flat_map(|r| {
            r.failures()
                .into_iter()
                .map(move |f| format!("[{}] {f}", r.agent.label()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "VM checks failed:\n{}",
        failures.join("\n")
    );
}
