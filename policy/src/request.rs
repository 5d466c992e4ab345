//! What the policy sees of a request: the command and, for the commands
//! whose arguments carry the risk, those arguments, already resolved by the
//! caller. Nothing secret is ever part of it (no password, no file data).

use std::path::Path;

/// One request as the policy evaluates it. See the crate documentation for
/// which variant each command uses and who builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyRequest<'a> {
    /// A command none of whose arguments the policy looks at. For a command
    /// that has argument rules in the policy this is refused: whoever sends
    /// it has not given the policy the arguments it needs.
    Other(&'a str),
    /// `guest-file-open`. `path` must be resolved (absolute, no `.`, `..`
    /// or symlink): the open operation passes the path the kernel resolved
    /// for the file it opened. `mode` is qemu-ga's fopen-style mode, "r"
    /// when the host gave none.
    FileOpen { path: &'a Path, mode: &'a str },
    /// `guest-set-user-password`; `crypted` says the password is already a
    /// crypt(3) hash. The password itself never reaches the policy.
    SetUserPassword { user: &'a str, crypted: bool },
    /// `guest-ssh-get-authorized-keys`, `guest-ssh-add-authorized-keys` or
    /// `guest-ssh-remove-authorized-keys`, for one user. The keys themselves
    /// never reach the policy.
    SshKeys { command: &'a str, user: &'a str },
    /// `guest-fsfreeze-freeze`, `guest-fsfreeze-freeze-list` or
    /// `guest-fstrim`, for the mountpoints it would touch (as the mount
    /// table names them). Allowed only if every one is.
    Mountpoints {
        command: &'a str,
        mountpoints: Vec<&'a Path>,
    },
    /// `guest-set-vcpus`: whether the request takes any vCPU offline, and
    /// how many vCPUs would be online once it is done.
    SetVcpus { offlining: bool, online_after: u32 },
    /// `guest-set-memory-blocks`: whether the request takes any block
    /// offline.
    SetMemoryBlocks { offlining: bool },
    /// `guest-shutdown` with its mode ("powerdown" when the host gave none).
    Shutdown { mode: &'a str },
    /// `guest-exec`, with the program resolved to an absolute path (after
    /// the PATH search and symlinks).
    Exec { path: &'a Path },
}

impl PolicyRequest<'_> {
    /// The qemu-ga command this request is for.
    pub fn command(&self) -> &str {
        match self {
            PolicyRequest::Other(name) => name,
            PolicyRequest::FileOpen { .. } => "guest-file-open",
            PolicyRequest::SetUserPassword { .. } => "guest-set-user-password",
            PolicyRequest::SshKeys { command, .. } => command,
            PolicyRequest::Mountpoints { command, .. } => command,
            PolicyRequest::SetVcpus { .. } => "guest-set-vcpus",
            PolicyRequest::SetMemoryBlocks { .. } => "guest-set-memory-blocks",
            PolicyRequest::Shutdown { .. } => "guest-shutdown",
            PolicyRequest::Exec { .. } => "guest-exec",
        }
    }

    /// The arguments the policy looked at, for the audit log.
    pub fn audit_arguments(&self) -> AuditArguments<'_> {
        let mut a = AuditArguments::default();
        match self {
            PolicyRequest::Other(_) => {}
            PolicyRequest::FileOpen { path, mode } => {
                a.path = Some(path);
                a.mode = Some(mode);
            }
            PolicyRequest::SetUserPassword { user, crypted } => {
                a.user = Some(user);
                a.crypted = Some(*crypted);
            }
            PolicyRequest::SshKeys { user, .. } => a.user = Some(user),
            PolicyRequest::Mountpoints { mountpoints, .. } => a.mountpoints = Some(mountpoints),
            PolicyRequest::SetVcpus {
                offlining,
                online_after,
            } => {
                a.offlining = Some(*offlining);
                a.online_after = Some(*online_after);
            }
            PolicyRequest::SetMemoryBlocks { offlining } => a.offlining = Some(*offlining),
            PolicyRequest::Shutdown { mode } => a.mode = Some(mode),
            PolicyRequest::Exec { path } => a.program = Some(path),
        }
        a
    }
}

/// The audited arguments of a request, each present only for the commands
/// that have it. Deliberately without any password or file content.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditArguments<'a> {
    pub path: Option<&'a Path>,
    pub mode: Option<&'a str>,
    pub user: Option<&'a str>,
    pub crypted: Option<bool>,
    pub mountpoints: Option<&'a [&'a Path]>,
    pub offlining: Option<bool>,
    pub online_after: Option<u32>,
    pub program: Option<&'a Path>,
}
