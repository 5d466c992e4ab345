//! The capabilities the helper keeps, each with the operation that needs
//! it; every other capability is dropped from all sets (bounding included)
//! before the helper serves anything. Programs it runs (chpasswd, shutdown,
//! hwclock, the fsfreeze hook) get at most these too.

use caps::{CapSet, Capability};
use std::collections::HashSet;

pub const KEPT_CAPABILITIES: &[(Capability, &str)] = &[
    (
        Capability::CAP_SETUID,
        "start the front as its unprivileged user",
    ),
    (
        Capability::CAP_SETGID,
        "start the front with its group only",
    ),
    (
        Capability::CAP_SETPCAP,
        "clear the front's capability bounding set",
    ),
    (
        Capability::CAP_KILL,
        "stop the front, which runs as another user",
    ),
    (Capability::CAP_SYS_ADMIN, "FIFREEZE/FITHAW and FITRIM"),
    (
        Capability::CAP_DAC_OVERRIDE,
        "guest-file-* and /etc/shadow regardless of file modes",
    ),
    (
        Capability::CAP_DAC_READ_SEARCH,
        "walk directories for guest-file-open and fsinfo",
    ),
    (
        Capability::CAP_FOWNER,
        "chpasswd and ssh keys replace files owned by others",
    ),
    (
        Capability::CAP_CHOWN,
        "ssh authorized_keys and files created for a user",
    ),
    (Capability::CAP_SYS_TIME, "guest-set-time and the RTC"),
    (Capability::CAP_SYS_BOOT, "guest-shutdown"),
    (
        Capability::CAP_AUDIT_WRITE,
        "PAM in chpasswd writes audit records",
    ),
    (
        Capability::CAP_SYS_RESOURCE,
        "hwclock and memory onlining on some kernels; the file-data pipe's size above the system's pipe limits",
    ),
];

/// Kept only when passwords are changed under another root directory
/// (`--password-root`, used by tests): chpasswd -R chroots there.
pub const PASSWORD_ROOT_CAPABILITIES: &[(Capability, &str)] = &[(
    Capability::CAP_SYS_CHROOT,
    "chpasswd -R enters the password root",
)];

/// Drops every capability not in `KEPT_CAPABILITIES` (plus
/// `PASSWORD_ROOT_CAPABILITIES` when a password root is set).
pub fn drop_unneeded(password_root: bool) -> Result<(), String> {
    let extra = if password_root {
        PASSWORD_ROOT_CAPABILITIES
    } else {
        &[]
    };
    let kept: HashSet<Capability> = KEPT_CAPABILITIES
        .iter()
        .chain(extra)
        .map(|&(c, _)| c)
        .collect();
    let err = |e: caps::errors::CapsError| e.to_string();
    for cap in caps::all() {
        if !kept.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).map_err(err)? {
            caps::drop(None, CapSet::Bounding, cap).map_err(err)?;
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(err)?;
    caps::clear(None, CapSet::Inheritable).map_err(err)?;
    let permitted = caps::read(None, CapSet::Permitted).map_err(err)?;
    let keep: HashSet<Capability> = permitted.intersection(&kept).copied().collect();
    caps::set(None, CapSet::Effective, &keep).map_err(err)?;
    caps::set(None, CapSet::Permitted, &keep).map_err(err)?;
    Ok(())
}
