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

    /// qemu-ga's QERR_QGA_COMMAND_FAILED.
    pub fn command_failed(what: &str) -> Self {
        Self::generic(format!("Guest agent command failed, error was '{what}'"))
    }

    // ---- guest-file-* -------------------------------------------------------

    pub fn invalid_open_mode(mode: &str) -> Self {
        Self::generic(format!("invalid file open mode '{mode}'"))
    }

    /// `reason` is strerror's text for the failure.
    pub fn file_open_failed(path: &str, mode: &str, reason: &str) -> Self {
        Self::generic(format!(
            "failed to open file '{path}' (mode: '{mode}'): {reason}"
        ))
    }

    /// The open-handle bound was reached; worded like the open failure
    /// clients already handle.
    pub fn file_handles_exhausted(path: &str, mode: &str, limit: usize) -> Self {
        Self::file_open_failed(
            path,
            mode,
            &format!("too many guest-file handles open (at most {limit})"),
        )
    }

    pub fn file_permission_failed(path: &str, mode: &str, reason: &str) -> Self {
        Self::generic(format!(
            "failed to set permission 0666 on new file '{path}' (mode: '{mode}'): {reason}"
        ))
    }

    /// The handle counter could not be written to the statedir.
    pub fn persist_state_failed() -> Self {
        Self::generic("failed to commit persistent state to disk")
    }

    pub fn handle_not_found(handle: i64) -> Self {
        Self::generic(format!("handle '{handle}' has not been found"))
    }

    pub fn file_read_failed(reason: &str) -> Self {
        Self::generic(format!("failed to read file: {reason}"))
    }

    pub fn file_write_failed(reason: &str) -> Self {
        Self::generic(format!("failed to write to file: {reason}"))
    }

    pub fn file_seek_failed(reason: &str) -> Self {
        Self::generic(format!("failed to seek file: {reason}"))
    }

    pub fn file_flush_failed(reason: &str) -> Self {
        Self::generic(format!("failed to flush file: {reason}"))
    }

    pub fn file_close_failed(reason: &str) -> Self {
        Self::generic(format!("failed to close handle: {reason}"))
    }

    /// qemu's base64 check failed (a character outside the alphabet).
    pub fn base64_invalid() -> Self {
        Self::generic("Base64 data contains invalid characters")
    }

    /// guest-exec could not start the program; `reason` is the strerror
    /// text, and the quotes are the ones glib puts around the path.
    pub fn exec_failed(path: &str, reason: &str) -> Self {
        Self::command_failed(&format!(
            "Failed to execute child process \u{201C}{path}\u{201D} ({reason})"
        ))
    }

    /// A guest-exec bound of this agent (qemu-ga has none) was reached.
    pub fn exec_limit(what: &str) -> Self {
        Self::generic(format!("guest-exec refused: {what}"))
    }

    /// A program run for a command was killed by a signal (or by its time
    /// limit).
    pub fn child_terminated_abnormally() -> Self {
        Self::generic("child process has terminated abnormally")
    }

    /// qemu-ga could not start the program it runs for a command.
    pub fn child_not_created(os_error: &str) -> Self {
        Self::generic(format!("failed to create child process: {os_error}"))
    }

    // ---- guest-set-user-password ----

    pub fn password_forbidden_characters() -> Self {
        Self::generic("forbidden characters in raw password")
    }

    pub fn username_forbidden_characters() -> Self {
        Self::generic("forbidden characters in username")
    }

    /// No chpasswd program (qemu-ga names the generic tool).
    pub fn password_program_missing() -> Self {
        Self::generic("cannot find 'passwd' program in PATH")
    }

    /// chpasswd failed; qemu-ga says the same for an unknown user.
    pub fn password_not_set() -> Self {
        Self::generic("child process has failed to set user password")
    }

    // ---- guest-shutdown and guest-suspend-* ----

    /// Sic: qemu-ga's text lacks the closing parenthesis.
    pub fn shutdown_mode_invalid() -> Self {
        Self::generic("mode is invalid (valid values are: halt|powerdown|reboot")
    }

    pub fn shutdown_failed() -> Self {
        Self::generic("child process has failed to shutdown")
    }

    pub fn suspend_not_supported() -> Self {
        Self::generic("the requested suspend mode is not supported by the guest")
    }

    /// Writing the sleep state to sysfs failed.
    pub fn suspend_failed() -> Self {
        Self::generic("child process has failed to suspend")
    }

    /// `program` is how qemu-ga names it: `systemctl suspend`, `pm-suspend`.
    pub fn suspend_program_missing(program: &str) -> Self {
        Self::generic(format!("the helper program '{program}' was not found"))
    }

    pub fn suspend_program_status(program: &str, code: i32) -> Self {
        Self::generic(format!(
            "the helper program '{program}' returned an unexpected exit status code ({code})"
        ))
    }

    /// A support check could not start its program.
    pub fn suspend_check_not_started(reason: &str) -> Self {
        Self::generic(format!("failed to create child process, error '{reason}'"))
    }
    pub fn invalid_whence(code: i64) -> Self {
        Self::generic(format!("invalid whence code {code}"))
    }

    // ---- guest-set-time -----------------------------------------------------

    /// Outside the years qemu-ga accepts (1970 to 2069, local time).
    pub fn invalid_time() -> Self {
        Self::generic("Invalid time")
    }

    pub fn set_time_failed(reason: &str) -> Self {
        Self::generic(format!("Failed to set time to guest: {reason}"))
    }

    /// hwclock exited with a non-zero status (qemu-ga uses this text for
    /// both directions).
    pub fn hwclock_failed() -> Self {
        Self::generic("hwclock failed to set hardware clock to system time")
    }

    // ---- vCPUs, memory blocks, network, filesystems and disks ----

    /// qemu-ga's `error_setg_errno`: the message, a colon, and the C
    /// library's text for `errno`.
    fn with_errno(what: impl fmt::Display, errno: i32) -> Self {
        Self::generic(format!("{what}: {}", strerror(errno)))
    }

    /// A system call on a path failed: `open("/sys/devices/system/cpu/cpu9/"): No such file or directory`.
    pub fn call_failed(call: &str, path: &str, errno: i32) -> Self {
        Self::with_errno(format_args!("{call}(\"{path}\")"), errno)
    }

    /// A read of a one-byte sysfs attribute found nothing.
    pub fn unexpected_eof(call: &str, path: &str) -> Self {
        Self::generic(format!("{call}(\"{path}\"): unexpected EOF"))
    }

    /// `verb` is `open`, `pread` or `pwrite`; `name` the attribute's file name.
    pub fn sysfs_file_failed(verb: &str, name: &str, errno: i32) -> Self {
        Self::with_errno(format_args!("{verb} sysfs file \"{name}\""), errno)
    }

    pub fn sysfs_file_eof(name: &str) -> Self {
        Self::generic(format!("pread sysfs file \"{name}\": unexpected EOF"))
    }

    pub fn vcpu_cannot_offline(logical_id: i64) -> Self {
        Self::generic(format!("logical processor #{logical_id} can't be offlined"))
    }

    pub fn list_entries_failed(path: &str, errno: i32) -> Self {
        Self::with_errno(format_args!("failed to list entries: {path}"), errno)
    }

    /// qemu-ga's text for the memory directory lacks the space before the
    /// quote; clients may match on it, so it stays.
    pub fn memory_directory_failed(path: &str, errno: i32) -> Self {
        Self::with_errno(format_args!("Can't open directory\"{path}\""), errno)
    }

    pub fn zero_memory_blocks() -> Self {
        Self::generic("guest reported zero memory blocks!")
    }

    pub fn getifaddrs_failed(errno: i32) -> Self {
        Self::with_errno("getifaddrs failed", errno)
    }

    pub fn mount_table_failed(path: &str) -> Self {
        Self::generic(format!("failed to open mtab file: '{path}'"))
    }

    pub fn block_directory_failed(path: &str, errno: i32) -> Self {
        Self::with_errno(format_args!("Can't open directory \"{path}\""), errno)
    }

    // ---- guest-fsfreeze-* and guest-fstrim; `reason` is strerror's text ----

    pub fn mount_table_unreadable(reason: &str) -> Self {
        Self::generic(format!("failed to read the mount table: {reason}"))
    }

    pub fn fsfreeze_open_failed(path: &str, reason: &str) -> Self {
        Self::generic(format!("failed to open {path}: {reason}"))
    }

    pub fn fsfreeze_failed(path: &str, reason: &str) -> Self {
        Self::generic(format!("failed to freeze {path}: {reason}"))
    }

    pub fn fsfreeze_hook_inaccessible(hook: &str, reason: &str) -> Self {
        Self::generic(format!("can't access fsfreeze hook '{hook}': {reason}"))
    }

    pub fn fsfreeze_hook_failed(status: i32) -> Self {
        Self::generic(format!("fsfreeze hook has failed with status {status}"))
    }

    /// Killed by a signal (including the agent's time limit).
    pub fn fsfreeze_hook_abnormal() -> Self {
        Self::generic("fsfreeze hook has terminated abnormally")
    }

    /// guest-fstrim's per-path `error` texts (qemu-ga puts them in the
    /// result, not in an error reply).
    pub fn fstrim_open_failed(reason: &str) -> String {
        format!("failed to open: {reason}")
    }

    pub fn fstrim_not_supported() -> String {
        "trim not supported".to_string()
    }

    pub fn fstrim_failed(reason: &str) -> String {
        format!("failed to trim: {reason}")
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

/// The C library's description of `errno`, without Rust's "(os error N)".
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.strip_suffix(&format!(" (os error {errno})")) {
        Some(plain) => plain.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_texts_are_the_c_librarys() {
        assert_eq!(strerror(2), "No such file or directory");
        assert_eq!(
            QgaError::call_failed("open", "/sys/devices/system/cpu/cpu9/", 2).desc,
            "open(\"/sys/devices/system/cpu/cpu9/\"): No such file or directory"
        );
        assert_eq!(
            QgaError::sysfs_file_failed("pwrite", "state", 16).desc,
            "pwrite sysfs file \"state\": Device or resource busy"
        );
    }
}
