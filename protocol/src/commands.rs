//! The one table of every command the agent knows, in qemu-ga's
//! registration order. `guest-info`, the frozen-state gate, the policy's list
//! of known names and both dispatchers read it, so a new command is one row
//! here plus one operation.

/// Which process answers a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Protocol commands the unprivileged front answers by itself.
    Front,
    /// Commands that touch the system: forwarded to the helper.
    Helper,
}

/// Whether this build can run a command on this platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Known command, not implemented by this build yet: listed by
    /// `guest-info` as disabled and refused as disabled, never faked.
    NotImplemented,
    /// qemu-ga disables it on Linux too (e.g. `guest-get-devices`).
    NotOnLinux,
}

impl Availability {
    /// Why this build refuses the command, as the audit log says it.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            Availability::Available => None,
            Availability::NotImplemented => Some("not implemented by this version"),
            Availability::NotOnLinux => Some("not available on Linux"),
        }
    }
}

/// Why a command is refused while filesystems are frozen, as the audit log
/// says it.
pub const FROZEN_REFUSAL: &str =
    "frozen: only the freeze-safe commands run while filesystems are frozen";

#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    /// False for the commands that send nothing back on success.
    pub success_response: bool,
    /// True for the few commands qemu-ga still runs while filesystems are
    /// frozen.
    pub allowed_while_frozen: bool,
    pub side: Side,
    pub availability: Availability,
}

const fn row(
    name: &'static str,
    success_response: bool,
    allowed_while_frozen: bool,
    side: Side,
    availability: Availability,
) -> CommandSpec {
    CommandSpec {
        name,
        success_response,
        allowed_while_frozen,
        side,
        availability,
    }
}

use Availability::{Available, NotOnLinux};
use Side::{Front, Helper};

/// Every command of qemu-ga 7.2, in its registration order (`guest-info`
/// lists them in reverse, as qemu-ga does), then the newer commands clients
/// already use, in the order later qemu-ga releases register them.
pub const COMMANDS: &[CommandSpec] = &[
    //   name                                reply  frozen side    availability
    row("guest-sync-delimited", true, true, Front, Available),
    row("guest-sync", true, true, Front, Available),
    row("guest-ping", true, true, Front, Available),
    row("guest-get-time", true, false, Helper, Available),
    row("guest-set-time", true, false, Helper, Available),
    row("guest-info", true, true, Front, Available),
    row("guest-shutdown", false, false, Helper, Available),
    row("guest-file-open", true, false, Helper, Available),
    row("guest-file-close", true, false, Helper, Available),
    row("guest-file-read", true, false, Helper, Available),
    row("guest-file-write", true, false, Helper, Available),
    row("guest-file-seek", true, false, Helper, Available),
    row("guest-file-flush", true, false, Helper, Available),
    row("guest-fsfreeze-status", true, true, Helper, Available),
    row("guest-fsfreeze-freeze", true, false, Helper, Available),
    row("guest-fsfreeze-freeze-list", true, false, Helper, Available),
    row("guest-fsfreeze-thaw", true, true, Helper, Available),
    row("guest-fstrim", true, false, Helper, Available),
    row("guest-suspend-disk", false, false, Helper, Available),
    row("guest-suspend-ram", false, false, Helper, Available),
    row("guest-suspend-hybrid", false, false, Helper, Available),
    row(
        "guest-network-get-interfaces",
        true,
        false,
        Helper,
        Available,
    ),
    row("guest-get-vcpus", true, false, Helper, Available),
    row("guest-set-vcpus", true, false, Helper, Available),
    row("guest-get-disks", true, false, Helper, Available),
    row("guest-get-fsinfo", true, false, Helper, Available),
    row("guest-set-user-password", true, false, Helper, Available),
    row("guest-get-memory-blocks", true, false, Helper, Available),
    row("guest-set-memory-blocks", true, false, Helper, Available),
    row(
        "guest-get-memory-block-info",
        true,
        false,
        Helper,
        Available,
    ),
    row("guest-exec-status", true, false, Helper, Available),
    row("guest-exec", true, false, Helper, Available),
    row("guest-get-host-name", true, false, Helper, Available),
    row("guest-get-users", true, false, Helper, Available),
    row("guest-get-timezone", true, false, Helper, Available),
    row("guest-get-osinfo", true, false, Helper, Available),
    row("guest-get-devices", true, false, Helper, NotOnLinux),
    row(
        "guest-ssh-get-authorized-keys",
        true,
        false,
        Helper,
        Available,
    ),
    row(
        "guest-ssh-add-authorized-keys",
        true,
        false,
        Helper,
        Available,
    ),
    row(
        "guest-ssh-remove-authorized-keys",
        true,
        false,
        Helper,
        Available,
    ),
    row("guest-get-diskstats", true, false, Helper, Available),
    row("guest-get-cpustats", true, false, Helper, Available),
    // Newer than 7.2, in upstream's registration order.
    row("guest-get-load", true, false, Helper, Available),
    row("guest-network-get-route", true, false, Helper, Available),
];

/// Commands that are always enabled whatever the policy says: without them a
/// host cannot even resynchronise the stream, and they reveal nothing.
pub const ALWAYS_ENABLED: &[&str] = &["guest-sync", "guest-sync-delimited"];

/// Position of a command in `COMMANDS`.
pub fn index_of(name: &str) -> Option<usize> {
    COMMANDS.iter().position(|c| c.name == name)
}

pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn frozen_allow_list_is_qemu_gas() {
        let mut frozen: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.allowed_while_frozen)
            .map(|c| c.name)
            .collect();
        frozen.sort_unstable();
        assert_eq!(
            frozen,
            [
                "guest-fsfreeze-status",
                "guest-fsfreeze-thaw",
                "guest-info",
                "guest-ping",
                "guest-sync",
                "guest-sync-delimited"
            ]
        );
    }

    #[test]
    fn only_power_commands_lack_a_success_response() {
        let silent: Vec<_> = COMMANDS
            .iter()
            .filter(|c| !c.success_response)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            silent,
            [
                "guest-shutdown",
                "guest-suspend-disk",
                "guest-suspend-ram",
                "guest-suspend-hybrid"
            ]
        );
    }
}
