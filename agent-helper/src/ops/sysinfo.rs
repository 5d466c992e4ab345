//! guest-get-host-name and guest-get-osinfo.

use super::os_release;
use super::sysfile::{self, strerror};
use nix::errno::Errno;
use protocol::limits::MAX_SYSTEM_FILE_BYTES;
use protocol::qga::GuestOSInfo;
use protocol::QgaError;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// qemu-ga asks `gethostname` for at most HOST_NAME_MAX (64) bytes with
/// the terminating NUL, so a name of 64 characters is an error there.
const HOST_NAME_BUFFER: usize = 64;

/// Where os-release lives, in the order qemu-ga tries: the first file that
/// reads and parses wins.
const OS_RELEASE_FILES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// qemu-ga reads this file instead when the variable is set (it is how its
/// own tests point it at a fixture).
const OS_RELEASE_OVERRIDE: &str = "QGA_OS_RELEASE";

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

pub fn host_name() -> Result<String, QgaError> {
    let uts = nix::sys::utsname::uname().map_err(|e| QgaError::host_name_failed(&strerror(e)))?;
    let name = uts.nodename();
    if name.len() + 1 > HOST_NAME_BUFFER {
        return Err(QgaError::host_name_failed(&strerror(Errno::ENAMETOOLONG)));
    }
    Ok(lossy(name))
}

pub fn os_info() -> Result<GuestOSInfo, QgaError> {
    let candidates: Vec<PathBuf> = match std::env::var_os(OS_RELEASE_OVERRIDE) {
        Some(path) => vec![PathBuf::from(path)],
        None => OS_RELEASE_FILES.iter().map(PathBuf::from).collect(),
    };
    let mut info = candidates
        .iter()
        .find_map(|path| read_os_release(path))
        .unwrap_or_default();
    let uts = nix::sys::utsname::uname().map_err(|e| QgaError::uname_failed(&strerror(e)))?;
    info.kernel_release = Some(lossy(uts.release()));
    info.kernel_version = Some(lossy(uts.version()));
    info.machine = Some(lossy(uts.machine()));
    Ok(info)
}

fn read_os_release(path: &Path) -> Option<GuestOSInfo> {
    let contents = sysfile::read(path, MAX_SYSTEM_FILE_BYTES).ok()?;
    os_release::parse(&contents)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_name_is_the_kernel_node_name() {
        let name = super::host_name().unwrap();
        assert_eq!(name, nix::unistd::gethostname().unwrap().to_string_lossy());
    }
}
