//! guest-shutdown and guest-suspend-*, as qemu-ga does them.
//!
//! Shutdown runs `shutdown -h -P|-H|-r +0 "hypervisor initiated shutdown"`.
//! Suspend tries, in order, systemd (`systemctl status systemd-suspend`
//! and friends answer 1-3 when the unit exists, then `systemctl suspend`),
//! pm-utils (`pm-is-supported --suspend`, then `pm-suspend`) and the
//! kernel's `/sys/power/state`. The first way that is supported and works
//! ends the search; if none is supported, the guest says so.

use crate::child_filters::ChildKind;
use crate::runner::{self, ProgramOutput};
use crate::system::{Program, SystemPaths};
use protocol::limits::{POWER_PROGRAM_TIMEOUT_MS, SUSPEND_PROGRAM_TIMEOUT_MS};
use protocol::power::{ShutdownMode, SuspendMode};
use protocol::QgaError;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

const SHUTDOWN_MESSAGE: &str = "hypervisor initiated shutdown";

pub fn shutdown(system: &SystemPaths, mode: ShutdownMode) -> Result<(), QgaError> {
    let flag = match mode {
        ShutdownMode::Powerdown => "-P",
        ShutdownMode::Halt => "-H",
        ShutdownMode::Reboot => "-r",
    };
    tracing::info!(?mode, "guest-shutdown called");
    // qemu-ga's child exits with a failure when the exec fails.
    let program = system
        .program(Program::Shutdown)
        .ok_or_else(QgaError::shutdown_failed)?;
    let output = run(
        &program,
        &["-h", flag, "+0", SHUTDOWN_MESSAGE],
        POWER_PROGRAM_TIMEOUT_MS,
    )
    .map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => QgaError::shutdown_failed(),
        _ => QgaError::child_not_created(&e.to_string()),
    })?;
    match (output.code, output.signal) {
        (Some(0), _) => Ok(()),
        (_, Some(_)) => Err(QgaError::child_terminated_abnormally()),
        _ => Err(QgaError::shutdown_failed()),
    }
}

/// The ways to suspend, in the order qemu-ga tries them.
#[derive(Clone, Copy, Debug)]
enum Mechanism {
    Systemd,
    PmUtils,
    Sysfs,
}

pub fn suspend(system: &SystemPaths, mode: SuspendMode) -> Result<(), QgaError> {
    tracing::info!(?mode, "guest suspend called");
    // qemu-ga 7.2 reports success when a supported way failed and no later
    // one was supported; here that way's error reaches the host instead.
    let mut failure = None;
    for mechanism in [Mechanism::Systemd, Mechanism::PmUtils, Mechanism::Sysfs] {
        match supports(system, mechanism, mode) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::debug!(?mechanism, error = %e, "suspend support check failed");
                continue;
            }
        }
        match perform(system, mechanism, mode) {
            Ok(()) => {
                tracing::info!(?mechanism, ?mode, "suspend done");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(?mechanism, error = %e, "suspend failed");
                failure = Some(e);
            }
        }
    }
    Err(failure.unwrap_or_else(QgaError::suspend_not_supported))
}

fn supports(
    system: &SystemPaths,
    mechanism: Mechanism,
    mode: SuspendMode,
) -> Result<bool, QgaError> {
    match mechanism {
        Mechanism::Systemd => {
            let unit = match mode {
                SuspendMode::Disk => "systemd-hibernate",
                SuspendMode::Ram => "systemd-suspend",
                SuspendMode::Hybrid => "systemd-hybrid-sleep",
            };
            let Some(output) = check(system, Program::Systemctl, &["status", unit])? else {
                return Ok(false);
            };
            // systemctl status answers with LSB codes: 1-3 mean the unit
            // exists but is not running, 4 that there is no such unit.
            Ok(matches!(output.code, Some(1..=3)))
        }
        Mechanism::PmUtils => {
            let flag = match mode {
                SuspendMode::Disk => "--hibernate",
                SuspendMode::Ram => "--suspend",
                SuspendMode::Hybrid => "--suspend-hybrid",
            };
            let Some(output) = check(system, Program::PmIsSupported, &[flag])? else {
                return Ok(false);
            };
            match output.code {
                Some(0) => Ok(true),
                code => Err(QgaError::suspend_program_status(
                    "pm-is-supported",
                    code.unwrap_or(0),
                )),
            }
        }
        Mechanism::Sysfs => {
            let Some(word) = sysfs_word(mode) else {
                return Ok(false);
            };
            // qemu-ga reads at most 31 bytes and looks for the word.
            let mut buf = [0u8; 31];
            let n =
                match std::fs::File::open(sysfs_state(system)).and_then(|mut f| f.read(&mut buf)) {
                    Ok(n) => n,
                    Err(_) => return Ok(false),
                };
            Ok(buf[..n].windows(word.len()).any(|w| w == word.as_bytes()))
        }
    }
}

fn perform(system: &SystemPaths, mechanism: Mechanism, mode: SuspendMode) -> Result<(), QgaError> {
    match mechanism {
        Mechanism::Systemd => {
            let verb = match mode {
                SuspendMode::Disk => "hibernate",
                SuspendMode::Ram => "suspend",
                SuspendMode::Hybrid => "hybrid-sleep",
            };
            let name = format!("systemctl {verb}");
            suspend_program(system, Program::Systemctl, &[verb], &name)
        }
        Mechanism::PmUtils => {
            let program = match mode {
                SuspendMode::Disk => Program::PmHibernate,
                SuspendMode::Ram => Program::PmSuspend,
                SuspendMode::Hybrid => Program::PmSuspendHybrid,
            };
            suspend_program(system, program, &[], program.name())
        }
        Mechanism::Sysfs => {
            let word = sysfs_word(mode).ok_or_else(QgaError::suspend_not_supported)?;
            // The write returns once the guest has woken up again.
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(sysfs_state(system))
                .and_then(|mut f| f.write_all(word.as_bytes()))
                .map_err(|e| {
                    tracing::warn!(error = %e, "writing the sleep state failed");
                    QgaError::suspend_failed()
                })
        }
    }
}

/// What the kernel's sleep-state file calls a mode; it has no hybrid.
fn sysfs_word(mode: SuspendMode) -> Option<&'static str> {
    match mode {
        SuspendMode::Disk => Some("disk"),
        SuspendMode::Ram => Some("mem"),
        SuspendMode::Hybrid => None,
    }
}

fn sysfs_state(system: &SystemPaths) -> std::path::PathBuf {
    system.sysfs_root.join("power/state")
}

/// Runs a support check; `None` when its program is not installed.
fn check(
    system: &SystemPaths,
    program: Program,
    args: &[&str],
) -> Result<Option<ProgramOutput>, QgaError> {
    let Some(path) = system.program(program) else {
        return Ok(None);
    };
    match run(&path, args, POWER_PROGRAM_TIMEOUT_MS) {
        Ok(output) => Ok(Some(output)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(QgaError::suspend_check_not_started(&e.to_string())),
    }
}

/// Runs the program that suspends; `name` is how errors call it.
fn suspend_program(
    system: &SystemPaths,
    program: Program,
    args: &[&str],
    name: &str,
) -> Result<(), QgaError> {
    let path = system
        .program(program)
        .ok_or_else(|| QgaError::suspend_program_missing(name))?;
    let output = run(&path, args, SUSPEND_PROGRAM_TIMEOUT_MS).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => QgaError::suspend_program_missing(name),
        _ => QgaError::suspend_check_not_started(&e.to_string()),
    })?;
    match (output.code, output.signal) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(QgaError::suspend_program_status(name, code)),
        (None, _) => Err(QgaError::child_terminated_abnormally()),
    }
}

fn run(program: &Path, args: &[&str], timeout_ms: u64) -> io::Result<ProgramOutput> {
    let output = runner::run(
        ChildKind::Power,
        program,
        args,
        None,
        Duration::from_millis(timeout_ms),
    )?;
    tracing::debug!(
        program = %program.display(),
        ?args,
        code = ?output.code,
        signal = ?output.signal,
        output = %output.summary(),
        "program finished"
    );
    Ok(output)
}
