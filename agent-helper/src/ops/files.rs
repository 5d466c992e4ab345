//! guest-file-*: the table of open handles and the operations on them.
//! Handles live here, in the helper, so they survive a front restart and a
//! host reconnect. Every guest file is opened by `open_guest_file`, the one
//! place where a check on the path belongs: it pins the file (or, for a new
//! one, its directory) with O_PATH, has the policy judge the path the
//! kernel resolved, and opens exactly the pinned inode, so a path swapped
//! for a symlink between the check and the open cannot escape.
//!
//! Files are plain descriptors, not stdio streams: data reaches the kernel
//! on every write, so there is nothing for guest-file-flush to push, and a
//! read stops only at `count` bytes or the end of the file, as fread(3)
//! does.

use super::strerror;
use crate::state::StateDir;
use protocol::file_mode::OpenMode;
use protocol::limits::{FILE_CHUNK_BYTES, MAX_FILE_READ_BYTES, MAX_OPEN_FILE_HANDLES};
use protocol::QgaError;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The permissions of a file guest-file-open creates, whatever the umask
/// (qemu-ga's too).
const NEW_FILE_MODE: u32 = 0o666;

/// Largest read of a file the kernel cannot splice, per step.
const COPY_STEP_BYTES: usize = 64 << 10;

/// Judges the resolved path of a file about to be opened (the policy's path
/// rules); a refusal is the host's error. `None` when nothing is to be
/// judged.
pub type PathJudge<'a> = Option<&'a dyn Fn(&Path) -> Result<(), QgaError>>;

pub struct FileTable {
    handles: BTreeMap<i64, File>,
    /// The next handle to give out; recorded in the statedir before use.
    next_handle: i64,
    state: StateDir,
}

impl FileTable {
    /// Picks up the handle counter from the statedir.
    pub fn new(state: StateDir) -> FileTable {
        let next_handle = state.load_fd_counter();
        FileTable {
            handles: BTreeMap::new(),
            next_handle,
            state,
        }
    }

    /// Records the handle counter in the statedir, as qemu-ga does at start
    /// (unless the record already says so: a synced rewrite costs time for
    /// nothing). The helper does it once the front is running, off the
    /// path to the first answer: `open` records the counter again before it
    /// hands out a handle, so nothing depends on this write.
    pub fn record_counter(&self) {
        if self.state.recorded_fd_counter() != Some(self.next_handle) {
            if let Err(e) = self.state.store_fd_counter(self.next_handle) {
                tracing::warn!(error = %e, "cannot record the file handle counter");
            }
        }
    }

    pub fn open(&mut self, path: &str, mode: OpenMode, judge: PathJudge) -> Result<i64, QgaError> {
        if self.handles.len() >= MAX_OPEN_FILE_HANDLES {
            return Err(QgaError::file_handles_exhausted(
                path,
                mode.as_str(),
                MAX_OPEN_FILE_HANDLES,
            ));
        }
        let file = open_guest_file(path, mode, judge)?;
        let handle = self.next_handle;
        let next = handle
            .checked_add(1)
            .ok_or_else(QgaError::persist_state_failed)?;
        if let Err(e) = self.state.store_fd_counter(next) {
            tracing::error!(error = %e, "cannot record the file handle counter");
            return Err(QgaError::persist_state_failed());
        }
        self.next_handle = next;
        self.handles.insert(handle, file);
        tracing::info!(handle, path, mode = mode.as_str(), "guest file opened");
        Ok(handle)
    }

    /// The handle is gone afterwards even when close(2) reports an error:
    /// Linux releases the descriptor either way.
    pub fn close(&mut self, handle: i64) -> Result<(), QgaError> {
        let file = self
            .handles
            .remove(&handle)
            .ok_or_else(|| QgaError::handle_not_found(handle))?;
        let fd = file.into_raw_fd();
        // SAFETY: fd came from into_raw_fd and is closed exactly once.
        if unsafe { libc::close(fd) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(QgaError::file_close_failed(&reason(&e)));
            }
        }
        Ok(())
    }

    /// Moves up to `count` bytes (at most one chunk) of the file into
    /// `pipe`, the front's file-data pipe, and says how many and whether the
    /// end of the file came first. A file the kernel can splice goes from
    /// the page cache into the pipe without a copy here; any other is read
    /// and written. A read that fails after some bytes arrived (a FIFO with
    /// nothing more to give) returns those bytes. The pipe is non-blocking:
    /// a front that left earlier data in it gets a short or failed read,
    /// never a stalled helper.
    pub fn read_into_pipe(
        &mut self,
        handle: i64,
        count: i64,
        pipe: BorrowedFd,
    ) -> Result<(u32, bool), QgaError> {
        let file = self.get(handle)?;
        if !(0..=MAX_FILE_READ_BYTES).contains(&count) {
            return Err(QgaError::invalid_argument_value(
                &count.to_string(),
                "count",
            ));
        }
        let count = count as usize;
        if count > FILE_CHUNK_BYTES {
            return Err(QgaError::internal("file read larger than one chunk"));
        }
        let mut moved = 0;
        let mut eof = false;
        let mut can_splice = true;
        while moved < count {
            let step = if can_splice {
                splice_into(file, pipe, count - moved)
            } else {
                copy_into(file, pipe, count - moved)
            };
            match step {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => moved += n,
                // This kind of file has no splice: copy it instead.
                Err(e) if can_splice && e.raw_os_error() == Some(libc::EINVAL) => {
                    can_splice = false
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) if moved > 0 => break,
                Err(e) => return Err(QgaError::file_read_failed(&reason(&e))),
            }
        }
        Ok((moved as u32, eof))
    }

    /// Writes one chunk; returns how many bytes went out. Empty data makes
    /// no system call at all, so it only confirms the handle.
    pub fn write(&mut self, handle: i64, data: &[u8]) -> Result<u64, QgaError> {
        let mut file = self.get(handle)?;
        if data.len() > FILE_CHUNK_BYTES {
            return Err(QgaError::internal("file write larger than one chunk"));
        }
        let mut written = 0;
        while written < data.len() {
            match file.write(&data[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) if written > 0 => break,
                Err(e) => return Err(QgaError::file_write_failed(&reason(&e))),
            }
        }
        Ok(written as u64)
    }

    /// `whence` is qemu-ga's code: 0 from the start, 1 from the current
    /// position, 2 from the end. Returns the new position.
    pub fn seek(&mut self, handle: i64, offset: i64, whence: i64) -> Result<i64, QgaError> {
        let file = self.get(handle)?;
        let whence = match whence {
            0 => libc::SEEK_SET,
            1 => libc::SEEK_CUR,
            2 => libc::SEEK_END,
            other => return Err(QgaError::invalid_whence(other)),
        };
        // SAFETY: lseek on a descriptor the table owns.
        let position = unsafe { libc::lseek(file.as_raw_fd(), offset, whence) };
        if position < 0 {
            let e = io::Error::last_os_error();
            return Err(QgaError::file_seek_failed(&reason(&e)));
        }
        Ok(position)
    }

    /// Nothing is buffered in the agent, so this only confirms the handle
    /// (qemu-ga's fflush does not sync to disk either).
    pub fn flush(&mut self, handle: i64) -> Result<(), QgaError> {
        self.get(handle).map(|_| ())
    }

    fn get(&self, handle: i64) -> Result<&File, QgaError> {
        self.handles
            .get(&handle)
            .ok_or_else(|| QgaError::handle_not_found(handle))
    }
}

/// Opens a guest file as fopen(3) would for `mode`: close-on-exec, never
/// as a controlling terminal, and non-blocking (as qemu-ga sets it), so a
/// FIFO without a writer cannot stall the agent. A created file gets mode
/// 0666 whatever the umask: it is created exclusively and then chmod'ed,
/// and an existing file keeps its permissions.
///
/// The file is pinned first (O_PATH, following symlinks as fopen does),
/// `judge` sees the path the kernel resolved for it, and the pinned inode
/// is then opened through /proc/self/fd with the real flags. A new file is
/// created under its pinned directory, at the judged path, without
/// following a symlink planted as its name.
fn open_guest_file(path: &str, mode: OpenMode, judge: PathJudge) -> Result<File, QgaError> {
    let spelling = mode.as_str();
    let fail = |e: &io::Error| QgaError::file_open_failed(path, spelling, &reason(e));
    let name_bytes = file_name_bytes(path);
    let name = Path::new(OsStr::from_bytes(&name_bytes));
    let access = mode.access();
    let mut options = std::fs::OpenOptions::new();
    options
        .read(access.read)
        .write(access.write && !access.append)
        .append(access.append)
        .truncate(access.truncate)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    if access.create {
        match create_new(name, &options, access, judge) {
            Ok(Some((file, created))) => {
                if let Err(e) = file.set_permissions(std::fs::Permissions::from_mode(NEW_FILE_MODE))
                {
                    drop(file);
                    created.remove();
                    return Err(QgaError::file_permission_failed(
                        path,
                        spelling,
                        &reason(&e),
                    ));
                }
                return Ok(file);
            }
            Ok(None) => {}
            Err(Failure::Io(e)) => return Err(fail(&e)),
            Err(Failure::Refused(e)) => return Err(e),
        }
    }
    let pinned = pin(name, 0).map_err(|e| fail(&e))?;
    if let Some(judge) = judge {
        judge(&resolved(&pinned).map_err(|e| e.into_error(&fail))?)?;
    }
    options.open(fd_path(&pinned)).map_err(|e| fail(&e))
}

enum Failure {
    /// The system's error, reported as qemu-ga reports a failed open.
    Io(io::Error),
    /// The policy's refusal.
    Refused(QgaError),
}

impl Failure {
    fn into_error(self, fail: &dyn Fn(&io::Error) -> QgaError) -> QgaError {
        match self {
            Failure::Io(e) => fail(&e),
            Failure::Refused(e) => e,
        }
    }
}

/// A file this open created, to remove again if it cannot be finished.
struct Created {
    dir: OwnedFd,
    name: std::ffi::CString,
}

impl Created {
    fn remove(self) {
        // SAFETY: unlinkat on a directory fd we own and a valid C string.
        unsafe { libc::unlinkat(self.dir.as_raw_fd(), self.name.as_ptr(), 0) };
    }
}

/// Creates `name` if it does not exist yet: `Ok(None)` if it does. The
/// directory is pinned and resolved, the new file's path judged, and the
/// file created in that directory with O_EXCL | O_NOFOLLOW.
fn create_new(
    name: &Path,
    options: &std::fs::OpenOptions,
    access: protocol::file_mode::Access,
    judge: PathJudge,
) -> Result<Option<(File, Created)>, Failure> {
    let Some(file_name) = plain_file_name(name) else {
        // "dir/", "." or "..": no new file can come of it; open(2) says why.
        let mut exclusive = options.clone();
        exclusive.create_new(true).mode(0o000);
        return match exclusive.open(name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(Failure::Io(e)),
            Ok(_) => Err(Failure::Io(io::Error::from_raw_os_error(libc::EISDIR))),
        };
    };
    let parent = match name.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = pin(parent, libc::O_DIRECTORY).map_err(Failure::Io)?;
    if let Some(judge) = judge {
        let target = resolved(&dir)?.join(file_name);
        judge(&target).map_err(Failure::Refused)?;
    }
    let c_name = std::ffi::CString::new(file_name.as_bytes())
        .map_err(|e| Failure::Io(io::Error::other(e)))?;
    let rw = match (access.read, access.write) {
        (true, true) => libc::O_RDWR,
        (false, true) => libc::O_WRONLY,
        _ => libc::O_RDONLY,
    };
    let flags = rw
        | if access.append { libc::O_APPEND } else { 0 }
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_NOFOLLOW
        | libc::O_CLOEXEC
        | libc::O_NONBLOCK
        | libc::O_NOCTTY;
    // SAFETY: openat on a directory fd we own and a valid C string.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c_name.as_ptr(), flags, 0o000) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::AlreadyExists => Ok(None),
            _ => Err(Failure::Io(e)),
        };
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    Ok(Some((file, Created { dir, name: c_name })))
}

/// The last component of `name` if it is a plain file name (not ".", ".."
/// and without a trailing slash).
fn plain_file_name(name: &Path) -> Option<&OsStr> {
    let bytes = name.as_os_str().as_bytes();
    if bytes.ends_with(b"/") {
        return None;
    }
    let last = bytes.rsplit(|&b| b == b'/').next()?;
    if last.is_empty() || last == b"." || last == b".." {
        return None;
    }
    Some(OsStr::from_bytes(last))
}

/// An O_PATH descriptor for `path` (following symlinks): it pins the inode
/// without reading or writing it.
fn pin(path: &Path, extra_flags: libc::c_int) -> io::Result<OwnedFd> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: open with a valid C string.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC | extra_flags,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The path the kernel resolved for a pinned inode, checked to name that
/// inode still: a file deleted, moved or swapped meanwhile is refused
/// rather than judged by a path that is no longer its own.
fn resolved(pinned: &OwnedFd) -> Result<PathBuf, Failure> {
    let path = std::fs::read_link(fd_path(pinned)).map_err(Failure::Io)?;
    let pinned_meta = File::from(pinned.try_clone().map_err(Failure::Io)?)
        .metadata()
        .map_err(Failure::Io)?;
    let same = std::fs::metadata(&path)
        .is_ok_and(|m| m.dev() == pinned_meta.dev() && m.ino() == pinned_meta.ino());
    if !same || !policy::path_glob::is_resolved(&path) {
        return Err(Failure::Refused(QgaError::denied_by_policy(
            "guest-file-open",
            &format!("{path:?} no longer names the file being opened"),
        )));
    }
    Ok(path)
}

/// The bytes of the file name qemu-ga would use: it keeps a `\u0000` from
/// the JSON request as modified UTF-8 (0xC0 0x80), so that is the name it
/// opens or creates.
fn file_name_bytes(path: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(path.len());
    for &b in path.as_bytes() {
        match b {
            0 => bytes.extend_from_slice(&[0xC0, 0x80]),
            _ => bytes.push(b),
        }
    }
    bytes
}

/// One splice of at most `max` bytes from the file's position into the
/// pipe; 0 at the end of the file.
fn splice_into(file: &File, pipe: BorrowedFd, max: usize) -> io::Result<usize> {
    // SAFETY: splice between two open fds, with no offset pointers.
    let n = unsafe {
        libc::splice(
            file.as_raw_fd(),
            std::ptr::null_mut(),
            pipe.as_raw_fd(),
            std::ptr::null_mut(),
            max,
            libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One read of at most `max` bytes (and at most `COPY_STEP_BYTES`) from a
/// file that cannot be spliced, written into the pipe; says how many bytes
/// reached the pipe, 0 at the end of the file.
fn copy_into(mut file: &File, pipe: BorrowedFd, max: usize) -> io::Result<usize> {
    let mut buf = vec![0u8; max.min(COPY_STEP_BYTES)];
    let n = file.read(&mut buf)?;
    let mut written = 0;
    while written < n {
        match nix::unistd::write(pipe, &buf[written..n]) {
            Ok(w) => written += w,
            Err(nix::errno::Errno::EINTR) => {}
            // Only a front that left earlier data in the pipe fills it: what
            // did not fit is lost, and the count stays true to the pipe.
            Err(_) if written > 0 => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(written)
}

/// strerror's text for an I/O error.
fn reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => strerror(code),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The path for files the kernel cannot splice (none is at hand in a
    /// test: a directory only fails), tried on a regular file.
    #[test]
    fn copy_into_moves_the_bytes_into_the_pipe() {
        let dir = std::env::temp_dir().join(format!("copy-into-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        // SAFETY: fcntl on an open fd with an integer argument.
        assert!(unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) } > 0);
        let mut moved = 0;
        loop {
            let n = copy_into(&file, write_end.as_fd(), data.len()).unwrap();
            if n == 0 {
                break;
            }
            moved += n;
        }
        assert_eq!(moved, data.len());
        drop(write_end);
        let mut got = Vec::new();
        File::from(read_end).read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A pipe the front left nearly full takes part of a step: the count
    /// says exactly what went in, so it never disagrees with the pipe.
    #[test]
    fn copy_into_a_nearly_full_pipe_counts_what_went_in() {
        let dir = std::env::temp_dir().join(format!("copy-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data");
        std::fs::write(&path, vec![7u8; 10_000]).unwrap();
        let file = File::open(&path).unwrap();
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        // SAFETY: fcntl on an open fd with an integer argument.
        assert_eq!(
            unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, 65536) },
            65536
        );
        // 15 of the pipe's 16 pages taken by data the front did not read.
        assert_eq!(
            nix::unistd::write(&write_end, &[0u8; 15 * 4096]).unwrap(),
            15 * 4096
        );
        let moved = copy_into(&file, write_end.as_fd(), 10_000).unwrap();
        assert_eq!(moved, 4096);
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        assert_eq!(
            unsafe { libc::ioctl(read_end.as_raw_fd(), libc::FIONREAD, &mut queued) },
            0
        );
        assert_eq!(queued as usize, 15 * 4096 + moved);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
