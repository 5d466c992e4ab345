//! guest-set-user-password: chpasswd (`-e` for a hashed password) reads
//! `user:password` on its stdin, never on a command line, where any user
//! could read it. The password appears in no log line and no error.

use crate::child_filters::ChildKind;
use crate::runner::{self, ProgramOutput};
use crate::system::{Program, SystemPaths};
use protocol::limits::PASSWORD_PROGRAM_TIMEOUT_MS;
use protocol::password::{Password, UserName};
use protocol::QgaError;
use std::time::Duration;

pub fn set_user_password(
    system: &SystemPaths,
    username: &UserName,
    password: &Password,
    crypted: bool,
) -> Result<(), QgaError> {
    // qemu-ga leaves an unknown user to chpasswd and reports its failure;
    // checking first gives the same error without running anything.
    if !user_exists(system, username) {
        tracing::info!(user = username.as_str(), "password not set: no such user");
        return Err(QgaError::password_not_set());
    }
    let program = system
        .program(Program::Chpasswd)
        .ok_or_else(QgaError::password_program_missing)?;
    let root = system
        .password_root
        .as_ref()
        .map(|r| {
            r.to_str()
                .ok_or_else(|| QgaError::internal("password root is not UTF-8"))
        })
        .transpose()?;
    let mut args = Vec::new();
    if crypted {
        args.push("-e");
    }
    if let Some(root) = root {
        args.extend(["-R", root]);
    }
    let mut line = Vec::with_capacity(username.as_str().len() + password.as_bytes().len() + 2);
    line.extend_from_slice(username.as_str().as_bytes());
    line.push(b':');
    line.extend_from_slice(password.as_bytes());
    line.push(b'\n');
    let result = runner::run(
        ChildKind::Password,
        &program,
        &args,
        Some(&line),
        Duration::from_millis(PASSWORD_PROGRAM_TIMEOUT_MS),
    );
    line.fill(0);
    std::hint::black_box(&mut line);
    let output = result.map_err(|e| QgaError::child_not_created(&e.to_string()))?;
    if output.success() {
        tracing::info!(user = username.as_str(), crypted, "password set");
        return Ok(());
    }
    tracing::warn!(
        user = username.as_str(),
        code = ?output.code,
        signal = ?output.signal,
        timed_out = output.timed_out,
        stderr = %stderr_without(&output, password),
        "chpasswd failed"
    );
    if output.signal.is_some() {
        Err(QgaError::child_terminated_abnormally())
    } else {
        Err(QgaError::password_not_set())
    }
}

/// Whether `/etc/passwd` of the password root has the account. chpasswd
/// only changes local accounts, so the local file is the one to ask.
fn user_exists(system: &SystemPaths, username: &UserName) -> bool {
    let path = system.passwd_file();
    match std::fs::read(&path) {
        Ok(contents) => contents
            .split(|&b| b == b'\n')
            .any(|entry| entry.split(|&b| b == b':').next() == Some(username.as_str().as_bytes())),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the account list");
            false
        }
    }
}

/// chpasswd's complaint for the log, unless it somehow contains the
/// password.
fn stderr_without(output: &ProgramOutput, password: &Password) -> String {
    let text = &output.stderr;
    let secret = password.as_bytes();
    if !secret.is_empty() && text.windows(secret.len()).any(|w| w == secret) {
        return "(withheld: it contains the password)".into();
    }
    String::from_utf8_lossy(text).trim().to_string()
}
