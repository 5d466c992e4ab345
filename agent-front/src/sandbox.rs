//! The front's own seccomp filter, installed before it reads a single byte
//! from the host. The table is `seccomp_rules::FRONT_SYSCALLS`: the front
//! opens nothing, execs nothing and creates no socket; every fd it uses was
//! handed over by the helper.

pub use crate::seccomp_rules::Enforcement;
use crate::seccomp_rules::{build_filter, FRONT_SYSCALLS};

/// Installs the filter on this (single) thread. no_new_privs is already set
/// by the helper; seccompiler sets it again in case the front was started
/// by hand.
pub fn install(enforcement: Enforcement) -> Result<(), String> {
    let program = build_filter(&[FRONT_SYSCALLS], enforcement)?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

/// Self-test of the installed filter: opening a file is outside the table,
/// so this call must end the process with SIGSYS. If it returns, the filter
/// is not working and the front refuses to go on.
pub fn probe_forbidden_syscall() {
    tracing::warn!("sandbox self-test: calling openat, which must be fatal");
    // SAFETY: openat with a valid C string; the result is only inspected.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, c"/".as_ptr(), libc::O_RDONLY) };
    tracing::error!(fd, "sandbox self-test failed: openat was not stopped");
    std::process::exit(70);
}
