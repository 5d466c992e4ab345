//! The helper's request handling: the policy and frozen-state checks sit in
//! front of one `match` over the closed set of requests, and each arm calls
//! one operation. The front is not trusted: everything is checked here again.

use crate::system::SystemPaths;
use crate::{audit, ops};
use policy::path_glob::normalize_lexically;
use policy::{Policy, PolicyRequest};
use protocol::commands::{self, FROZEN_REFUSAL};
use protocol::error::DisabledReason;
use protocol::internal::{audit_label, HelperReply, HelperRequest};
use protocol::limits::{MAX_MEMORY_BLOCKS_PER_REQUEST, MAX_VCPUS_PER_REQUEST};
use protocol::power::ShutdownMode;
use protocol::qga::GuestFsfreezeStatus;
use protocol::QgaError;
use std::os::fd::BorrowedFd;
use std::path::Path;

pub struct Context {
    pub policy: Policy,
    pub frozen: bool,
    /// What is frozen, the statedir record and the hook.
    pub fsfreeze: ops::fsfreeze::Fsfreeze,
    /// Where operations find programs, sysfs and the account files.
    pub system: SystemPaths,
    /// Open guest-file handles; they outlive any one front.
    pub files: ops::files::FileTable,
    /// guest-exec children, running or waiting to be collected.
    pub exec: ops::exec::ExecTable,
}

pub fn handle(
    request: HelperRequest,
    id: Option<&str>,
    ctx: &mut Context,
    file_data: BorrowedFd,
) -> Result<HelperReply, QgaError> {
    let name = request.command_name();
    let spec = commands::lookup(name).ok_or_else(|| QgaError::command_not_found(name))?;
    let id = id.map(audit_label);
    let gate = Gate {
        policy: &ctx.policy,
        id: id.as_deref(),
    };
    let shut_out = if ctx.frozen && !spec.allowed_while_frozen {
        Some((DisabledReason::Frozen, FROZEN_REFUSAL))
    } else {
        spec.availability
            .refusal()
            .map(|rule| (DisabledReason::Unavailable, rule))
    };
    let judged = judged_where(&request);
    let checked = with_policy_view(&request, &ctx.system, |view| match (shut_out, judged) {
        (Some((reason, rule)), _) => {
            audit::decision(name, gate.id, false, rule, view.audit_arguments());
            Err(QgaError::disabled(name, reason))
        }
        (None, Judged::Here) => gate.check(view),
        (None, Judged::ByOperation) => Ok(()),
        (None, Judged::WithItsRequest) => gate.command_enabled(name),
    });
    if checked.is_err() && matches!(request, HelperRequest::Exec(_)) {
        // A refused guest-exec leaves nothing staged for the next one.
        ctx.exec.discard_staged();
    }
    checked?;
    match request {
        HelperRequest::GetTime => ops::time::get_time().map(HelperReply::Time),
        HelperRequest::FsfreezeStatus => Ok(HelperReply::FsfreezeStatus(if ctx.frozen {
            GuestFsfreezeStatus::Frozen
        } else {
            GuestFsfreezeStatus::Thawed
        })),
        HelperRequest::FsfreezeFreeze => ctx
            .fsfreeze
            .freeze(&mut ctx.frozen, None)
            .map(HelperReply::FsfreezeCount),
        HelperRequest::FsfreezeFreezeList(mountpoints) => ctx
            .fsfreeze
            .freeze(&mut ctx.frozen, mountpoints.as_deref())
            .map(HelperReply::FsfreezeCount),
        HelperRequest::FsfreezeThaw => ctx
            .fsfreeze
            .thaw(&mut ctx.frozen)
            .map(HelperReply::FsfreezeCount),
        HelperRequest::Fstrim { minimum } => ops::fstrim::trim(minimum).map(HelperReply::Fstrim),
        HelperRequest::SetUserPassword {
            username,
            password,
            crypted,
        } => ops::password::set_user_password(&ctx.system, &username, &password, crypted)
            .map(|()| HelperReply::PasswordSet),
        HelperRequest::Shutdown(mode) => {
            ops::power::shutdown(&ctx.system, mode).map(|()| HelperReply::PowerActionStarted)
        }
        HelperRequest::Suspend(mode) => {
            ops::power::suspend(&ctx.system, mode).map(|()| HelperReply::PowerActionStarted)
        }
        HelperRequest::SetTime { time_ns } => {
            ops::time::set_time(time_ns).map(|()| HelperReply::Done)
        }
        HelperRequest::FileOpen { path, mode } => {
            // The check that counts: on the path the kernel resolved, made
            // when the policy has rules for it.
            let judge = |resolved: &Path| {
                gate.check(&PolicyRequest::FileOpen {
                    path: resolved,
                    mode: mode.as_str(),
                })
            };
            let has_rules = gate.policy.rules_for("guest-file-open").is_some();
            let judge: ops::files::PathJudge = if has_rules { Some(&judge) } else { None };
            ctx.files
                .open(&path, mode, judge)
                .map(HelperReply::FileHandle)
        }
        HelperRequest::FileClose { handle } => ctx.files.close(handle).map(|()| HelperReply::Done),
        HelperRequest::FileRead { handle, count } => ctx
            .files
            .read_into_pipe(handle, count, file_data)
            .map(|(count, eof)| HelperReply::FileDataPiped { count, eof }),
        HelperRequest::FileWrite { handle, data } => {
            ctx.files.write(handle, &data).map(HelperReply::FileWritten)
        }
        HelperRequest::FileSeek {
            handle,
            offset,
            whence,
        } => ctx
            .files
            .seek(handle, offset, whence)
            .map(HelperReply::FilePosition),
        HelperRequest::FileFlush { handle } => ctx.files.flush(handle).map(|()| HelperReply::Done),
        HelperRequest::GetVcpus => ops::cpu::get_vcpus(&ctx.system).map(HelperReply::Vcpus),
        HelperRequest::SetVcpus(changes) => {
            within_limit(changes.len(), MAX_VCPUS_PER_REQUEST)?;
            ops::cpu::set_vcpus(&ctx.system, &changes).map(HelperReply::VcpusProcessed)
        }
        HelperRequest::GetMemoryBlocks => {
            ops::memory::get_memory_blocks(&ctx.system).map(HelperReply::MemoryBlocks)
        }
        HelperRequest::SetMemoryBlocks(changes) => {
            within_limit(changes.len(), MAX_MEMORY_BLOCKS_PER_REQUEST)?;
            Ok(HelperReply::MemoryBlockResults(
                ops::memory::set_memory_blocks(&ctx.system, &changes),
            ))
        }
        HelperRequest::GetMemoryBlockInfo => {
            ops::memory::get_memory_block_info(&ctx.system).map(HelperReply::MemoryBlockSize)
        }
        HelperRequest::NetworkGetInterfaces => {
            ops::network::get_interfaces(&ctx.system).map(HelperReply::NetworkInterfaces)
        }
        HelperRequest::GetFsinfo => {
            ops::fsinfo::get_fsinfo(&ctx.system).map(HelperReply::Filesystems)
        }
        HelperRequest::GetDisks => ops::disks::get_disks(&ctx.system).map(HelperReply::Disks),
        HelperRequest::GetHostName => ops::sysinfo::host_name().map(HelperReply::HostName),
        HelperRequest::GetUsers => ops::users::users().map(HelperReply::Users),
        HelperRequest::GetTimezone => ops::timezone::timezone().map(HelperReply::Timezone),
        HelperRequest::GetOsInfo => {
            ops::sysinfo::os_info().map(|i| HelperReply::OsInfo(Box::new(i)))
        }
        HelperRequest::SshGetAuthorizedKeys { user } => {
            ops::ssh_keys::get(&user).map(HelperReply::AuthorizedKeys)
        }
        HelperRequest::SshAddAuthorizedKeys { user, keys, reset } => {
            ops::ssh_keys::add(&user, &keys, reset).map(|()| HelperReply::Done)
        }
        HelperRequest::SshRemoveAuthorizedKeys { user, keys } => {
            ops::ssh_keys::remove(&user, &keys).map(|()| HelperReply::Done)
        }
        HelperRequest::GetDiskstats => ops::stats::diskstats().map(HelperReply::Diskstats),
        HelperRequest::GetCpustats => ops::stats::cpustats().map(HelperReply::Cpustats),
        HelperRequest::GetLoad => ops::stats::load().map(HelperReply::Load),
        HelperRequest::NetworkGetRoute => ops::routes::routes().map(HelperReply::Routes),
        HelperRequest::ExecStage(stage) => ctx.exec.stage(stage).map(|()| HelperReply::ExecStaged),
        HelperRequest::Exec(start) => {
            // The check that counts: on the program the path resolves to,
            // which is then the one that runs.
            let judge = |program: &Path| gate.check(&PolicyRequest::Exec { path: program });
            ctx.exec
                .start(start, &judge)
                .map(|pid| HelperReply::ExecStarted { pid })
        }
        HelperRequest::ExecStatus { pid } => ctx.exec.status(pid).map(HelperReply::ExecStatus),
        HelperRequest::ExecOutput {
            pid,
            stream,
            offset,
        } => ctx
            .exec
            .output(pid, stream, offset)
            .map(HelperReply::ExecOutput),
    }
}

/// Where the policy judges a request.
#[derive(Clone, Copy)]
enum Judged {
    /// On the view `with_policy_view` gives.
    Here,
    /// By the operation, once it knows what the request really names
    /// (guest-exec: the program its path resolves to).
    ByOperation,
    /// A piece of a host request that is judged, and audited, as a whole
    /// (the staged arguments and input of a guest-exec, a slice of the
    /// output guest-exec-status returns): only the command must be enabled.
    WithItsRequest,
}

fn judged_where(request: &HelperRequest) -> Judged {
    match request {
        HelperRequest::Exec(_) => Judged::ByOperation,
        HelperRequest::ExecStage(_) | HelperRequest::ExecOutput { .. } => Judged::WithItsRequest,
        _ => Judged::Here,
    }
}

/// The front splits long lists; a longer one did not come from it.
fn within_limit(len: usize, limit: usize) -> Result<(), QgaError> {
    if len > limit {
        return Err(QgaError::internal(&format!(
            "{len} entries in one request exceed {limit}"
        )));
    }
    Ok(())
}

/// Calls `f` with what the policy sees of a request, before the operation
/// runs.
///
/// A request whose arguments carry the risk gets its own view here (see the
/// table in the policy crate's documentation). Checks that need the
/// system's answer (the path a file open really resolves to, the program a
/// PATH search finds, each filesystem a freeze-all or fstrim touches) are
/// made again by the operation through a `Gate`. Every other request is
/// `Other`, which the policy refuses for a command that has argument rules:
/// a request added without its view fails closed.
fn with_policy_view<R>(
    request: &HelperRequest,
    system: &SystemPaths,
    f: impl FnOnce(&PolicyRequest) -> R,
) -> R {
    match request {
        HelperRequest::SetUserPassword {
            username, crypted, ..
        } => f(&PolicyRequest::SetUserPassword {
            user: username.as_str(),
            crypted: *crypted,
        }),
        HelperRequest::Shutdown(mode) => f(&PolicyRequest::Shutdown {
            mode: shutdown_mode_name(*mode),
        }),
        // A first, lexical check (from the working directory, as the open
        // resolves a relative path); the open operation checks again on the
        // path the kernel resolved.
        HelperRequest::FileOpen { path, mode } => {
            let base = std::env::current_dir().unwrap_or_else(|_| "/".into());
            f(&PolicyRequest::FileOpen {
                path: &normalize_lexically(&base.join(path)),
                mode: mode.as_str(),
            })
        }
        HelperRequest::SetVcpus(changes) => {
            let mut online: Vec<i64> = ops::cpu::get_vcpus(system)
                .map(|all| {
                    all.iter()
                        .filter(|v| v.online)
                        .map(|v| v.logical_id)
                        .collect()
                })
                // Unknown: count none, so a minimum refuses rather than
                // guesses.
                .unwrap_or_default();
            for change in changes {
                online.retain(|&id| id != change.logical_id);
                if change.online {
                    online.push(change.logical_id);
                }
            }
            f(&PolicyRequest::SetVcpus {
                offlining: changes.iter().any(|c| !c.online),
                online_after: u32::try_from(online.len()).unwrap_or(u32::MAX),
            })
        }
        HelperRequest::SetMemoryBlocks(changes) => f(&PolicyRequest::SetMemoryBlocks {
            offlining: changes.iter().any(|c| !c.online),
        }),
        // Whole-system freezes and trims are checked against every
        // filesystem they would touch: allowed only if each one is.
        HelperRequest::FsfreezeFreeze
        | HelperRequest::FsfreezeFreezeList(None)
        | HelperRequest::Fstrim { .. } => {
            let mounts = ops::mounts::read().unwrap_or_default();
            f(&PolicyRequest::Mountpoints {
                command: request.command_name(),
                mountpoints: mounts.iter().map(|m| m.dir.as_path()).collect(),
            })
        }
        HelperRequest::FsfreezeFreezeList(Some(list)) => f(&PolicyRequest::Mountpoints {
            command: request.command_name(),
            mountpoints: list
                .iter()
                .map(|m| std::path::Path::new(m.as_str()))
                .collect(),
        }),
        HelperRequest::SshGetAuthorizedKeys { user }
        | HelperRequest::SshAddAuthorizedKeys { user, .. }
        | HelperRequest::SshRemoveAuthorizedKeys { user, .. } => f(&PolicyRequest::SshKeys {
            command: request.command_name(),
            user: user.as_str(),
        }),
        other => f(&PolicyRequest::Other(other.command_name())),
    }
}

fn shutdown_mode_name(mode: ShutdownMode) -> &'static str {
    match mode {
        ShutdownMode::Powerdown => "powerdown",
        ShutdownMode::Halt => "halt",
        ShutdownMode::Reboot => "reboot",
    }
}

/// The policy check with its audit event, for the dispatcher and for
/// operations that must check again once they know more (the resolved
/// path of a file, each mounted filesystem).
pub struct Gate<'a> {
    pub policy: &'a Policy,
    /// The host's request id (JSON text, bounded), for the audit log.
    pub id: Option<&'a str>,
}

impl Gate<'_> {
    /// Decides `request`, records the decision, and turns a refusal into
    /// the host's error: qemu-ga's "has been disabled" when the command
    /// itself is refused (as for its `-b`), a policy denial naming the rule
    /// when only these arguments are.
    pub fn check(&self, request: &PolicyRequest) -> Result<(), QgaError> {
        let name = request.command();
        let decision = self.policy.decide(request);
        audit::decision(
            name,
            self.id,
            decision.allowed,
            &decision.rule,
            request.audit_arguments(),
        );
        if decision.allowed {
            Ok(())
        } else if !self.policy.decide_command(name).allowed {
            Err(QgaError::disabled(name, DisabledReason::Policy))
        } else {
            Err(QgaError::denied_by_policy(name, &decision.rule))
        }
    }

    /// The command-level verdict alone, unaudited: for a piece of a request
    /// whose decision is recorded once, on the request itself.
    pub fn command_enabled(&self, name: &str) -> Result<(), QgaError> {
        if self.policy.decide_command(name).allowed {
            Ok(())
        } else {
            Err(QgaError::disabled(name, DisabledReason::Policy))
        }
    }
}
