//! The one error type a host ever sees. Every description text is formatted
//! here, so each of qemu-ga's messages exists exactly once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// qemu-ga only ever answers with these two classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorClass {
    GenericError,
    CommandNotFound,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QgaError {
    pub class: ErrorClass,
    pub desc: String,
}

impl fmt::Display for QgaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.desc)
    }
}

impl std::error::Error for QgaError {}

/// Why a known command is disabled; qemu-ga appends it after a colon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// Blocked by the admin's policy (qemu-ga's `-b` gives no reason either).
    Policy,
    /// Filesystems are frozen.
    Frozen,
    /// Not available on this platform or in this build.
    Unavailable,
}

impl QgaError {
    pub fn generic(desc: impl Into<String>) -> Self {
        QgaError {
            class: ErrorClass::GenericError,
            desc: desc.into(),
        }
    }

    pub fn command_not_found(name: &str) -> Self {
        QgaError {
            class: ErrorClass::CommandNotFound,
            desc: format!("The command {name} has not been found"),
        }
    }

    pub fn disabled(name: &str, reason: DisabledReason) -> Self {
        let desc = match reason {
            DisabledReason::Policy | DisabledReason::Unavailable => {
                format!("Command {name} has been disabled")
            }
            DisabledReason::Frozen => {
                format!("Command {name} has been disabled: the agent is in frozen state")
            }
        };
        QgaError {
            class: ErrorClass::CommandNotFound,
            desc,
        }
    }

    /// A lexer or parser error on the host stream.
    pub fn json_parse(what: &str) -> Self {
        Self::generic(format!("JSON parse error, {what}"))
    }

    pub fn input_not_object() -> Self {
        Self::generic("QMP input must be a JSON object")
    }

    pub fn input_member_wrong_type(member: &str, expected: &str) -> Self {
        Self::generic(format!("QMP input member '{member}' must be {expected}"))
    }

    pub fn input_member_unexpected(member: &str) -> Self {
        Self::generic(format!("QMP input member '{member}' is unexpected"))
    }

    pub fn input_lacks_execute() -> Self {
        Self::generic("QMP input lacks member 'execute'")
    }

    pub fn parameter_missing(path: &str) -> Self {
        Self::generic(format!("Parameter '{path}' is missing"))
    }

    pub fn parameter_type(path: &str, expected: &str) -> Self {
        Self::generic(format!(
            "Invalid parameter type for '{path}', expected: {expected}"
        ))
    }

    pub fn parameter_unexpected(path: &str) -> Self {
        Self::generic(format!("Parameter '{path}' is unexpected"))
    }

    pub fn parameter_bad_enum(path: &str, value: &str) -> Self {
        Self::generic(format!(
            "Parameter '{path}' does not accept value '{value}'"
        ))
    }

    /// qemu-ga's QERR_INVALID_PARAMETER.
    pub fn invalid_parameter(name: &str) -> Self {
        Self::generic(format!("Invalid parameter '{name}'"))
    }

    /// qemu-ga's QERR_INVALID_PARAMETER_VALUE-like "value is invalid" text.
    pub fn invalid_argument_value(value: &str, argument: &str) -> Self {
        Self::generic(format!(
            "value '{value}' is invalid for argument {argument}"
        ))
    }

    /// The helper refused a request on its own policy check.
    pub fn denied_by_policy(name: &str, rule: &str) -> Self {
        Self::generic(format!("Command {name} denied by policy ({rule})"))
    }

    /// The helper could not be reached or answered nonsense.
    pub fn internal(what: &str) -> Self {
        Self::generic(format!("guest agent internal error: {what}"))
    }

    pub fn unsupported() -> Self {
        Self::generic("this feature or command is not currently supported")
    }

    // ---- system information (qemu-ga's `error_setg_errno` texts) ----------

    /// A /proc file could not be opened (qemu-ga 7.2's `open("...")` text).
    pub fn proc_open(path: &str, strerror: &str) -> Self {
        Self::generic(format!("open(\"{path}\"): {strerror}"))
    }

    pub fn uname_failed(strerror: &str) -> Self {
        Self::generic(format!("uname failed: {strerror}"))
    }

    pub fn host_name_failed(strerror: &str) -> Self {
        Self::generic(format!("cannot get hostname: {strerror}"))
    }

    pub fn load_average_failed(strerror: &str) -> Self {
        Self::generic(format!("cannot query load average: {strerror}"))
    }

    /// The helper's reply would not fit one internal message.
    pub fn reply_too_large(bytes: usize, limit: usize) -> Self {
        Self::internal(&format!(
            "a reply of {bytes} bytes exceeds the internal message limit of {limit} bytes"
        ))
    }

    // ---- ssh authorized keys ------------------------------------------------

    pub fn ssh_invalid_key(key: &str) -> Self {
        Self::generic(format!("invalid OpenSSH public key: '{key}'"))
    }

    /// `reason` is qemu-ga's: the text of errno after the passwd lookup,
    /// which is "Success" for a user that does not exist.
    pub fn user_lookup_failed(user: &str, reason: &str) -> Self {
        Self::generic(format!("failed to lookup user '{user}': {reason}"))
    }

    /// `detail` comes from `file_access`.
    pub fn ssh_read_failed(path: &str, detail: &str) -> Self {
        Self::generic(format!("failed to read '{path}': {detail}"))
    }

    /// `detail` comes from `file_access`.
    pub fn ssh_write_failed(path: &str, detail: &str) -> Self {
        Self::generic(format!("failed to write to '{path}': {detail}"))
    }

    pub fn ssh_keys_too_large(path: &str, limit: usize) -> Self {
        Self::generic(format!(
            "failed to read '{path}': the file is larger than {limit} bytes"
        ))
    }

    pub fn ssh_mkdir_failed(path: &str, strerror: &str) -> Self {
        Self::generic(format!("failed to create directory '{path}': {strerror}"))
    }

    /// qemu-ga says "directory" for the authorized_keys file too.
    pub fn ssh_chown_failed(path: &str, strerror: &str) -> Self {
        Self::generic(format!(
            "failed to set ownership of directory '{path}': {strerror}"
        ))
    }

    pub fn ssh_chmod_dir_failed(path: &str, strerror: &str) -> Self {
        Self::generic(format!(
            "failed to set permissions of directory '{path}': {strerror}"
        ))
    }

    pub fn ssh_chmod_failed(path: &str, strerror: &str) -> Self {
        Self::generic(format!("failed to set permissions of '{path}': {strerror}"))
    }

    /// A path in a user's home that the agent refuses to follow or trust
    /// (a symbolic link, another owner, not a regular file or directory).
    pub fn ssh_unsafe_path(path: &str, why: &str) -> Self {
        Self::generic(format!("refusing to use '{path}': {why}"))
    }
}

/// How GLib words a failed file access; qemu-ga wraps these texts in its own
/// ("failed to read '...': Failed to open file “...”: ...").
#[derive(Clone, Copy, Debug)]
pub enum FileAccess {
    Open,
    Read,
    Create,
    Write,
    Sync,
    Rename,
}

/// GLib's message for a failed access to `path` (`target` is the new name of
/// a rename).
pub fn file_access(what: FileAccess, path: &str, target: &str, strerror: &str) -> String {
    match what {
        FileAccess::Open => format!("Failed to open file \u{201C}{path}\u{201D}: {strerror}"),
        FileAccess::Read => {
            format!("Failed to read from file \u{201C}{path}\u{201D}: {strerror}")
        }
        FileAccess::Create => {
            format!("Failed to create file \u{201C}{path}\u{201D}: {strerror}")
        }
        FileAccess::Write => {
            format!("Failed to write file \u{201C}{path}\u{201D}: write() failed: {strerror}")
        }
        FileAccess::Sync => {
            format!("Failed to write file \u{201C}{path}\u{201D}: fsync() failed: {strerror}")
        }
        FileAccess::Rename => format!(
            "Failed to rename file \u{201C}{path}\u{201D} to \u{201C}{target}\u{201D}: g_rename() failed: {strerror}"
        ),
    }
}
