//! guest-get-memory-blocks, guest-set-memory-blocks and
//! guest-get-memory-block-info through sysfs (`devices/system/memory`),
//! with qemu-ga's semantics: every block of a set request gets its own
//! response, and `error-code` carries the errno qemu-ga saw, including the
//! odd cases where it reports one beside `success`.

use super::os::{errno, open_at, open_dir};
use super::scan::{strtol, strtoul};
use crate::system::SystemPaths;
use protocol::qga::GuestMemoryBlockResponseType as Response;
use protocol::system::{MemoryBlock, MemoryBlockChange, MemoryBlockResult};
use protocol::QgaError;
use std::fs::File;
use std::os::unix::fs::FileExt;

fn memory_dir(paths: &SystemPaths) -> String {
    paths.sys("devices/system/memory/")
}

/// qemu-ga formats the index as a signed number, so index 2^64-1 looks for
/// `memory-1`.
fn block_dir(paths: &SystemPaths, phys_index: u64) -> String {
    paths.sys(&format!(
        "devices/system/memory/memory{}/",
        phys_index as i64
    ))
}

/// Reads up to `size` bytes of an attribute of `dir`. A failure carries the
/// errno qemu-ga's logic looks at afterwards (0 for an empty file) and its
/// message.
fn read_attribute(dir: &File, name: &str, size: usize) -> Result<Vec<u8>, (i32, QgaError)> {
    let file = open_at(dir, name, libc::O_RDONLY)
        .map_err(|e| (e, QgaError::sysfs_file_failed("open", name, e)))?;
    let mut buf = vec![0u8; size];
    match file.read_at(&mut buf, 0) {
        Ok(0) => Err((0, QgaError::sysfs_file_eof(name))),
        Ok(n) => {
            buf.truncate(n);
            Ok(buf)
        }
        Err(e) => {
            let errno = errno(&e);
            Err((errno, QgaError::sysfs_file_failed("pread", name, errno)))
        }
    }
}

fn write_attribute(dir: &File, name: &str, value: &str) -> Result<(), i32> {
    let file = open_at(dir, name, libc::O_WRONLY)?;
    file.write_at(value.as_bytes(), 0)
        .map(drop)
        .map_err(|e| errno(&e))
}

fn is_online(state: &[u8]) -> bool {
    state.starts_with(b"online")
}

pub fn get_memory_blocks(paths: &SystemPaths) -> Result<Vec<MemoryBlock>, QgaError> {
    let dir_path = memory_dir(paths);
    let entries = match std::fs::read_dir(&dir_path) {
        Ok(entries) => entries,
        // A system without memory blocks in sysfs: nothing to list.
        Err(e) if errno(&e) == libc::ENOENT => return Ok(Vec::new()),
        Err(e) => return Err(QgaError::memory_directory_failed(&dir_path, errno(&e))),
    };
    let mut blocks = Vec::new();
    // Directory order, as qemu-ga lists them.
    for entry in entries {
        let Ok(entry) = entry else { break };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let Some(index) = name.strip_prefix("memory").filter(|_| is_dir) else {
            continue;
        };
        blocks.push(read_block(paths, strtoul(index))?);
    }
    if blocks.is_empty() {
        return Err(QgaError::zero_memory_blocks());
    }
    Ok(blocks)
}

fn read_block(paths: &SystemPaths, phys_index: u64) -> Result<MemoryBlock, QgaError> {
    let dir_path = block_dir(paths, phys_index);
    let dir = open_dir(&dir_path).map_err(|e| QgaError::call_failed("open", &dir_path, e))?;
    let state = match read_attribute(&dir, "state", 10) {
        // Old kernels have no `state`: always online, never removable.
        Err((libc::ENOENT, _)) => {
            return Ok(MemoryBlock {
                phys_index,
                online: true,
                can_offline: false,
            })
        }
        Err((_, e)) => return Err(e),
        Ok(state) => state,
    };
    let can_offline = match read_attribute(&dir, "removable", 1) {
        Err((libc::ENOENT, _)) => false,
        Err((_, e)) => return Err(e),
        Ok(removable) => removable[0] != b'0',
    };
    Ok(MemoryBlock {
        phys_index,
        online: is_online(&state),
        can_offline,
    })
}

pub fn set_memory_blocks(
    paths: &SystemPaths,
    changes: &[MemoryBlockChange],
) -> Vec<MemoryBlockResult> {
    changes.iter().map(|c| set_block(paths, c)).collect()
}

fn set_block(paths: &SystemPaths, change: &MemoryBlockChange) -> MemoryBlockResult {
    let done = |response, error_code| MemoryBlockResult {
        phys_index: change.phys_index,
        response,
        error_code,
    };
    if let Err(e) = std::fs::read_dir(memory_dir(paths)) {
        let errno = errno(&e);
        // qemu-ga only names the ENOENT case; for any other error it leaves
        // the response at its zero value, which is "success", beside the errno.
        let response = if errno == libc::ENOENT {
            Response::OperationNotSupported
        } else {
            Response::Success
        };
        return done(response, Some(errno.into()));
    }
    let dir = match open_dir(block_dir(paths, change.phys_index)) {
        Ok(dir) => dir,
        Err(libc::ENOENT) => return done(Response::NotFound, Some(libc::ENOENT.into())),
        Err(e) => return done(Response::OperationFailed, Some(e.into())),
    };
    match read_attribute(&dir, "state", 10) {
        // No `state` file: onlining "succeeds" (with the errno beside it),
        // offlining is not supported.
        Err((libc::ENOENT, _)) => {
            let response = if change.online {
                Response::Success
            } else {
                Response::OperationNotSupported
            };
            done(response, Some(libc::ENOENT.into()))
        }
        Err((e, _)) => done(Response::OperationFailed, Some(e.into())),
        Ok(state) if is_online(&state) == change.online => done(Response::Success, None),
        Ok(_) => {
            let wanted = if change.online { "online" } else { "offline" };
            match write_attribute(&dir, "state", wanted) {
                Ok(()) => done(Response::Success, None),
                Err(e) => done(Response::OperationFailed, Some(e.into())),
            }
        }
    }
}

/// The memory block size in bytes, from `block_size_bytes` (hexadecimal).
pub fn get_memory_block_info(paths: &SystemPaths) -> Result<u64, QgaError> {
    let dir_path = memory_dir(paths);
    let dir = open_dir(&dir_path).map_err(|e| QgaError::call_failed("open", &dir_path, e))?;
    let text = read_attribute(&dir, "block_size_bytes", 20).map_err(|(_, e)| e)?;
    Ok(strtol(&String::from_utf8_lossy(&text), 16) as u64)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::Fixture;
    use super::*;

    fn change(phys_index: u64, online: bool) -> MemoryBlockChange {
        MemoryBlockChange { phys_index, online }
    }

    fn result(phys_index: u64, response: Response, error_code: Option<i64>) -> MemoryBlockResult {
        MemoryBlockResult {
            phys_index,
            response,
            error_code,
        }
    }

    /// memory0 online and not removable, memory1 online and removable,
    /// memory7 offline, memory9 from a kernel without `state`; plus the
    /// attribute files the real directory has.
    fn machine() -> Fixture {
        let f = Fixture::new("memory");
        let m = "sys/devices/system/memory";
        f.file(&format!("{m}/block_size_bytes"), "8000000\n")
            .file(&format!("{m}/auto_online_blocks"), "online\n")
            .file(&format!("{m}/memory0/state"), "online\n")
            .file(&format!("{m}/memory0/removable"), "0\n")
            .file(&format!("{m}/memory1/state"), "online\n")
            .file(&format!("{m}/memory1/removable"), "1\n")
            .file(&format!("{m}/memory7/state"), "offline\n")
            .file(&format!("{m}/memory7/removable"), "1\n")
            .dir(&format!("{m}/memory9"))
            .dir(&format!("{m}/power"));
        f
    }

    #[test]
    fn lists_blocks_with_state_and_removability() {
        let f = machine();
        let mut blocks = get_memory_blocks(&f.paths()).unwrap();
        blocks.sort_by_key(|b| b.phys_index);
        let summary: Vec<_> = blocks
            .iter()
            .map(|b| (b.phys_index, b.online, b.can_offline))
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, false),
                (1, true, true),
                (7, false, true),
                (9, true, false)
            ]
        );
    }

    #[test]
    fn get_errors_are_qemu_gas() {
        let f = machine();
        f.file("sys/devices/system/memory/memory1/state", "");
        assert_eq!(
            get_memory_blocks(&f.paths()).unwrap_err().desc,
            "pread sysfs file \"state\": unexpected EOF"
        );
        let empty = Fixture::new("memory-empty");
        empty.file("sys/devices/system/memory/block_size_bytes", "8000000\n");
        assert_eq!(
            get_memory_blocks(&empty.paths()).unwrap_err().desc,
            "guest reported zero memory blocks!"
        );
        // No memory directory at all: an empty list, not an error.
        let none = Fixture::new("memory-none");
        assert!(get_memory_blocks(&none.paths()).unwrap().is_empty());
    }

    #[test]
    fn every_response_kind() {
        let f = machine();
        let paths = f.paths();
        let m = "sys/devices/system/memory";
        // memory5's state reads as zeros and refuses writes (ENOSPC), as a
        // block the kernel cannot online would refuse them.
        f.link(&format!("{m}/memory5/state"), "/dev/full");
        // memory6's state is unreadable (a directory: EISDIR).
        f.dir(&format!("{m}/memory6/state"));
        let results = set_memory_blocks(
            &paths,
            &[
                change(7, true),
                change(1, true),
                change(1, false),
                change(42, true),
                change(u64::MAX, true),
                change(9, true),
                change(9, false),
                change(5, true),
                change(6, true),
            ],
        );
        assert_eq!(
            results,
            [
                result(7, Response::Success, None),
                result(1, Response::Success, None),
                result(1, Response::Success, None),
                result(42, Response::NotFound, Some(2)),
                result(u64::MAX, Response::NotFound, Some(2)),
                result(9, Response::Success, Some(2)),
                result(9, Response::OperationNotSupported, Some(2)),
                result(5, Response::OperationFailed, Some(28)),
                result(6, Response::OperationFailed, Some(21)),
            ]
        );
        // Only the changing blocks were written, each in turn (a fixture
        // file keeps the tail of a longer old value).
        assert!(f.read(&format!("{m}/memory7/state")).starts_with("online"));
        assert_eq!(f.read(&format!("{m}/memory1/state")), "offline");
        assert!(set_memory_blocks(&paths, &[]).is_empty());
        let none = Fixture::new("memory-none");
        assert_eq!(
            set_memory_blocks(&none.paths(), &[change(0, true)]),
            [result(0, Response::OperationNotSupported, Some(2))]
        );
    }

    #[test]
    fn block_size_is_hexadecimal() {
        let f = machine();
        assert_eq!(get_memory_block_info(&f.paths()).unwrap(), 128 << 20);
        f.file("sys/devices/system/memory/block_size_bytes", "80000000\n");
        assert_eq!(get_memory_block_info(&f.paths()).unwrap(), 2 << 30);
        std::fs::remove_file(f.path("sys/devices/system/memory/block_size_bytes")).unwrap();
        assert_eq!(
            get_memory_block_info(&f.paths()).unwrap_err().desc,
            "open sysfs file \"block_size_bytes\": No such file or directory"
        );
        let none = Fixture::new("memory-none");
        assert_eq!(
            get_memory_block_info(&none.paths()).unwrap_err().desc,
            format!(
                "open(\"{}/devices/system/memory/\"): No such file or directory",
                none.path("sys").display()
            )
        );
    }
}
