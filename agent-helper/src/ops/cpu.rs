//! guest-get-vcpus and guest-set-vcpus through sysfs
//! (`devices/system/cpu/cpuN/online`), with qemu-ga's semantics: a CPU
//! without an `online` file is online and cannot be offlined; setting stops
//! at the first failure and reports an error only when nothing was
//! processed; a CPU already in the wanted state is left alone.

use super::os::{errno, open_at, open_dir, read_first_byte};
use super::scan::Scanner;
use crate::system::SystemPaths;
use protocol::system::{Vcpu, VcpuChange};
use protocol::QgaError;
use std::os::unix::fs::FileExt;

/// qemu-ga's path for a CPU, trailing slash included (its messages show it).
fn cpu_dir(paths: &SystemPaths, logical_id: i64) -> String {
    paths.sys(&format!("devices/system/cpu/cpu{logical_id}/"))
}

/// The id in a directory entry named like `cpu3`, read as `sscanf("cpu%ld")`
/// reads it (so `cpufreq` and `cpuidle` are not CPUs).
fn logical_id_of(entry_name: &str) -> Option<i64> {
    Scanner::new(entry_name.strip_prefix("cpu")?).long(10)
}

pub fn get_vcpus(paths: &SystemPaths) -> Result<Vec<Vcpu>, QgaError> {
    let cpus = paths.sys("devices/system/cpu");
    let entries =
        std::fs::read_dir(&cpus).map_err(|e| QgaError::list_entries_failed(&cpus, errno(&e)))?;
    let mut vcpus = Vec::new();
    // Directory order, as qemu-ga lists them.
    for entry in entries {
        let Ok(entry) = entry else { break };
        let name = entry.file_name();
        if let Some(id) = logical_id_of(&name.to_string_lossy()) {
            vcpus.push(read_vcpu(paths, id)?);
        }
    }
    Ok(vcpus)
}

fn read_vcpu(paths: &SystemPaths, logical_id: i64) -> Result<Vcpu, QgaError> {
    let dir_path = cpu_dir(paths, logical_id);
    let dir = open_dir(&dir_path).map_err(|e| QgaError::call_failed("open", &dir_path, e))?;
    let online_path = format!("{dir_path}/online");
    match open_at(&dir, "online", libc::O_RDONLY) {
        Err(libc::ENOENT) => Ok(Vcpu {
            logical_id,
            online: true,
            can_offline: false,
        }),
        Err(e) => Err(QgaError::call_failed("open", &online_path, e)),
        Ok(file) => Ok(Vcpu {
            logical_id,
            online: read_first_byte(&file, &online_path)? != b'0',
            can_offline: true,
        }),
    }
}

/// How many entries were processed, in order, up to the first failure.
pub fn set_vcpus(paths: &SystemPaths, changes: &[VcpuChange]) -> Result<i64, QgaError> {
    let mut processed = 0;
    for change in changes {
        if let Err(e) = set_vcpu(paths, change) {
            if processed == 0 {
                return Err(e);
            }
            break;
        }
        processed += 1;
    }
    Ok(processed)
}

fn set_vcpu(paths: &SystemPaths, change: &VcpuChange) -> Result<(), QgaError> {
    let dir_path = cpu_dir(paths, change.logical_id);
    let dir = open_dir(&dir_path).map_err(|e| QgaError::call_failed("open", &dir_path, e))?;
    let online_path = format!("{dir_path}/online");
    match open_at(&dir, "online", libc::O_RDWR) {
        Err(libc::ENOENT) if change.online => Ok(()),
        Err(libc::ENOENT) => Err(QgaError::vcpu_cannot_offline(change.logical_id)),
        Err(e) => Err(QgaError::call_failed("open", &online_path, e)),
        Ok(file) => {
            let online = read_first_byte(&file, &online_path)? != b'0';
            if online != change.online {
                let wanted = if change.online { b"1" } else { b"0" };
                file.write_at(wanted, 0)
                    .map_err(|e| QgaError::call_failed("pwrite", &online_path, errno(&e)))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    fn change(logical_id: i64, online: bool) -> VcpuChange {
        VcpuChange { logical_id, online }
    }

    /// cpu0 without an `online` file (x86's boot CPU), cpu1 online, cpu2
    /// offline, plus the non-CPU entries the real directory has.
    fn machine() -> Fixture {
        let f = Fixture::new("cpu");
        f.dir("sys/devices/system/cpu/cpu0/topology")
            .file("sys/devices/system/cpu/cpu1/online", "1\n")
            .file("sys/devices/system/cpu/cpu2/online", "0\n")
            .dir("sys/devices/system/cpu/cpufreq")
            .dir("sys/devices/system/cpu/cpuidle")
            .file("sys/devices/system/cpu/online", "0-1\n")
            .file("sys/devices/system/cpu/kernel_max", "8191\n");
        f
    }

    #[test]
    fn lists_every_cpu_with_its_state() {
        let f = machine();
        let mut vcpus = get_vcpus(&f.paths()).unwrap();
        vcpus.sort_by_key(|v| v.logical_id);
        let summary: Vec<_> = vcpus
            .iter()
            .map(|v| (v.logical_id, v.online, v.can_offline))
            .collect();
        assert_eq!(
            summary,
            [(0, true, false), (1, true, true), (2, false, true)]
        );
    }

    #[test]
    fn get_reports_the_first_unreadable_cpu() {
        let f = machine();
        // A directory where the attribute should be: open works, pread fails.
        std::fs::remove_file(f.path("sys/devices/system/cpu/cpu1/online")).unwrap();
        f.dir("sys/devices/system/cpu/cpu1/online");
        let err = get_vcpus(&f.paths()).unwrap_err();
        let path = format!(
            "{}/devices/system/cpu/cpu1//online",
            f.path("sys").display()
        );
        assert_eq!(err.desc, format!("pread(\"{path}\"): Is a directory"));
        std::fs::remove_dir(f.path("sys/devices/system/cpu/cpu1/online")).unwrap();
        f.file("sys/devices/system/cpu/cpu1/online", "");
        let err = get_vcpus(&f.paths()).unwrap_err();
        assert_eq!(err.desc, format!("pread(\"{path}\"): unexpected EOF"));
        let missing = Fixture::new("cpu-none");
        let err = get_vcpus(&missing.paths()).unwrap_err();
        assert_eq!(
            err.desc,
            format!(
                "failed to list entries: {}/devices/system/cpu: No such file or directory",
                missing.path("sys").display()
            )
        );
    }

    #[test]
    fn set_writes_only_what_changes() {
        let f = machine();
        let n = set_vcpus(
            &f.paths(),
            &[change(2, true), change(1, true), change(0, true)],
        )
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(f.read("sys/devices/system/cpu/cpu2/online"), "1\n");
        assert_eq!(f.read("sys/devices/system/cpu/cpu1/online"), "1\n");
        assert_eq!(set_vcpus(&f.paths(), &[change(1, false)]).unwrap(), 1);
        assert_eq!(f.read("sys/devices/system/cpu/cpu1/online"), "0\n");
        assert_eq!(set_vcpus(&f.paths(), &[]).unwrap(), 0);
    }

    #[test]
    fn set_stops_at_the_first_failure() {
        let f = machine();
        let paths = f.paths();
        let sys = f.path("sys").display().to_string();
        // The first entry fails: qemu-ga's error.
        let err = set_vcpus(&paths, &[change(9, true), change(2, true)]).unwrap_err();
        assert_eq!(
            err.desc,
            format!("open(\"{sys}/devices/system/cpu/cpu9/\"): No such file or directory")
        );
        assert_eq!(f.read("sys/devices/system/cpu/cpu2/online"), "0\n");
        let err = set_vcpus(&paths, &[change(0, false)]).unwrap_err();
        assert_eq!(err.desc, "logical processor #0 can't be offlined");
        let err = set_vcpus(&paths, &[change(-1, true)]).unwrap_err();
        assert_eq!(
            err.desc,
            format!("open(\"{sys}/devices/system/cpu/cpu-1/\"): No such file or directory")
        );
        // A later entry fails: the count so far, no error, nothing after it.
        let n = set_vcpus(
            &paths,
            &[change(2, true), change(0, false), change(1, false)],
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(f.read("sys/devices/system/cpu/cpu2/online"), "1\n");
        assert_eq!(f.read("sys/devices/system/cpu/cpu1/online"), "1\n");
    }

    #[test]
    fn a_refused_write_is_reported() {
        let f = machine();
        // /dev/full reads as NUL bytes (not '0': online) and refuses every
        // write, as the kernel refuses to offline a busy CPU.
        std::fs::remove_file(f.path("sys/devices/system/cpu/cpu2/online")).unwrap();
        f.link("sys/devices/system/cpu/cpu2/online", "/dev/full");
        let err = set_vcpus(&f.paths(), &[change(2, false)]).unwrap_err();
        assert_eq!(
            err.desc,
            format!(
                "pwrite(\"{}/devices/system/cpu/cpu2//online\"): No space left on device",
                f.path("sys").display()
            )
        );
    }

    #[test]
    fn cpu_names_follow_sscanf() {
        assert_eq!(logical_id_of("cpu12"), Some(12));
        assert_eq!(logical_id_of("cpufreq"), None);
        assert_eq!(logical_id_of("cpuidle"), None);
        assert_eq!(logical_id_of("kernel_max"), None);
        assert_eq!(logical_id_of("cpu"), None);
    }
}
