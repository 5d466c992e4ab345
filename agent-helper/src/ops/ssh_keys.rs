//! guest-ssh-get/add/remove-authorized-keys: a user's
//! ~/.ssh/authorized_keys, with qemu-ga's results and error texts.
//!
//! The user owns their home directory and may have planted anything in it,
//! so everything below the home directory is reached through directory
//! descriptors and `O_NOFOLLOW`: a symbolic link as ~/.ssh or as
//! authorized_keys is refused rather than followed, a directory or file is
//! used only if it belongs to the user (or to root), and the new file is
//! written under a fresh name in ~/.ssh, given to the user, synced and
//! renamed over the old one, so no reader ever sees half a file and nothing
//! outside ~/.ssh is ever written. Keys are never logged.

use super::sysfile::strerror;
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, fsync, unlinkat, Gid, Uid, UnlinkatFlags, User};
use protocol::error::{file_access, FileAccess};
use protocol::limits::MAX_AUTHORIZED_KEYS_BYTES;
use protocol::ssh::{PublicKeys, UserName};
use protocol::QgaError;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const SSH_DIR: &str = ".ssh";
const KEYS_FILE: &str = "authorized_keys";

/// The account the keys belong to, and the paths qemu-ga names in its
/// messages.
struct Account {
    name: String,
    uid: Uid,
    gid: Gid,
    home: PathBuf,
    ssh_path: String,
    keys_path: String,
}

impl Account {
    fn lookup(user: &UserName) -> Result<Account, QgaError> {
        let user = match User::from_name(user.as_str()) {
            Ok(Some(u)) => u,
            // A user that does not exist leaves errno at 0, which qemu-ga
            // reports as it is.
            Ok(None) => {
                return Err(QgaError::user_lookup_failed(
                    user.as_str(),
                    &strerror(Errno::from_raw(0)),
                ))
            }
            Err(e) => return Err(QgaError::user_lookup_failed(user.as_str(), &strerror(e))),
        };
        // GLib's g_build_filename: one separator between the parts.
        let home_text = user.dir.to_string_lossy();
        let ssh_path = format!("{}/{SSH_DIR}", home_text.trim_end_matches('/'));
        let keys_path = format!("{ssh_path}/{KEYS_FILE}");
        if user.dir.as_os_str().is_empty() {
            return Err(QgaError::ssh_unsafe_path(
                &ssh_path,
                "the user has no home directory",
            ));
        }
        Ok(Account {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
            ssh_path,
            keys_path,
        })
    }

    /// Root owns what an admin set up; anything else must be the user's.
    fn may_own(&self, st: &FileStat) -> bool {
        st.st_uid == self.uid.as_raw() || st.st_uid == 0
    }

    fn refuse(&self, path: &str, why: &str) -> QgaError {
        QgaError::ssh_unsafe_path(path, why)
    }

    fn foreign_owner(&self, path: &str, st: &FileStat) -> QgaError {
        self.refuse(
            path,
            &format!("it belongs to uid {}, not to {}", st.st_uid, self.name),
        )
    }
}

/// An open descriptor for `name` in `dir` (or for a path when `dir` is
/// `None`).
fn open_in(dir: Option<&OwnedFd>, name: &Path, flags: OFlag, mode: Mode) -> Result<OwnedFd, Errno> {
    let raw = openat(
        dir.map(|d| d.as_raw_fd()),
        name,
        flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        mode,
    )?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn open_home(account: &Account) -> Result<OwnedFd, Errno> {
    // The home directory's path comes from the passwd database, which the
    // admin controls, so it is followed like any system path.
    open_in(
        None,
        &account.home,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
}

/// ~/.ssh, if it is a directory; `Ok(Err(errno))` when there is none.
fn open_ssh_dir(account: &Account, home: &OwnedFd) -> Result<Result<OwnedFd, Errno>, QgaError> {
    let st = match fstatat(
        Some(home.as_raw_fd()),
        SSH_DIR,
        AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => st,
        Err(e) => return Ok(Err(e)),
    };
    match file_type(&st) {
        SFlag::S_IFDIR => {}
        SFlag::S_IFLNK => {
            return Err(account.refuse(&account.ssh_path, "it is a symbolic link"));
        }
        _ => return Ok(Err(Errno::ENOTDIR)),
    }
    let dir = match open_in(
        Some(home),
        Path::new(SSH_DIR),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(Errno::ELOOP) => {
            return Err(account.refuse(&account.ssh_path, "it is a symbolic link"));
        }
        Err(e) => return Ok(Err(e)),
    };
    let st = fstat(dir.as_raw_fd()).map_err(|e| {
        QgaError::ssh_read_failed(
            &account.keys_path,
            &file_access(FileAccess::Open, &account.keys_path, "", &strerror(e)),
        )
    })?;
    if !account.may_own(&st) {
        return Err(account.foreign_owner(&account.ssh_path, &st));
    }
    Ok(Ok(dir))
}

/// Creates ~/.ssh (0700, owned by the user), as qemu-ga does when there is
/// none.
fn make_ssh_dir(account: &Account, home: &OwnedFd) -> Result<OwnedFd, QgaError> {
    let path = &account.ssh_path;
    mkdirat(Some(home.as_raw_fd()), SSH_DIR, Mode::S_IRWXU)
        .map_err(|e| QgaError::ssh_mkdir_failed(path, &strerror(e)))?;
    let changed = || account.refuse(path, "it was replaced while being created");
    let dir = open_in(
        Some(home),
        Path::new(SSH_DIR),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|_| changed())?;
    let st = fstat(dir.as_raw_fd()).map_err(|_| changed())?;
    if st.st_uid != account.uid.as_raw() {
        // Only the empty directory just made may be given to the user: the
        // user could have swapped in another root-owned directory.
        if st.st_uid != 0 || !is_empty_dir(&dir) {
            return Err(changed());
        }
        fchown(dir.as_raw_fd(), Some(account.uid), Some(account.gid))
            .map_err(|e| QgaError::ssh_chown_failed(path, &strerror(e)))?;
    }
    fchmod(dir.as_raw_fd(), Mode::S_IRWXU)
        .map_err(|e| QgaError::ssh_chmod_dir_failed(path, &strerror(e)))?;
    Ok(dir)
}

fn is_empty_dir(dir: &OwnedFd) -> bool {
    let listing = format!("/proc/self/fd/{}", dir.as_raw_fd());
    std::fs::read_dir(listing).is_ok_and(|mut entries| entries.next().is_none())
}

/// The lines of authorized_keys, `None` if there is no such file. Like
/// qemu-ga, the text ends at a NUL byte, and an empty file has no lines.
fn read_lines(account: &Account, ssh: &OwnedFd) -> Result<Option<Vec<Vec<u8>>>, QgaError> {
    let path = &account.keys_path;
    let failed = |what, e: Errno| {
        QgaError::ssh_read_failed(path, &file_access(what, path, "", &strerror(e)))
    };
    let file = match open_in(
        Some(ssh),
        Path::new(KEYS_FILE),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(file) => file,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => return Err(account.refuse(path, "it is a symbolic link")),
        Err(e) => return Err(failed(FileAccess::Open, e)),
    };
    let st = fstat(file.as_raw_fd()).map_err(|e| failed(FileAccess::Open, e))?;
    if file_type(&st) != SFlag::S_IFREG {
        return Err(account.refuse(path, "it is not a regular file"));
    }
    if !account.may_own(&st) {
        return Err(account.foreign_owner(path, &st));
    }
    if st.st_uid != account.uid.as_raw() && st.st_nlink != 1 {
        // The user may have linked a file of root's here to read it.
        return Err(account.refuse(path, "it is a hard link to a file of root's"));
    }
    let mut contents = Vec::new();
    std::fs::File::from(file)
        .take(MAX_AUTHORIZED_KEYS_BYTES as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(|e| failed(FileAccess::Read, super::sysfile::errno_of(&e)))?;
    if contents.len() > MAX_AUTHORIZED_KEYS_BYTES {
        return Err(QgaError::ssh_keys_too_large(
            path,
            MAX_AUTHORIZED_KEYS_BYTES,
        ));
    }
    let text = contents.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Ok(Some(Vec::new()));
    }
    Ok(Some(
        text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect(),
    ))
}

/// Six random letters and digits, as in GLib's temporary names.
fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    // SAFETY: getrandom writes at most bytes.len() bytes into bytes.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // Uniqueness comes from O_EXCL; randomness only avoids retries.
        let pid = std::process::id().to_le_bytes();
        bytes[..4].copy_from_slice(&pid);
    }
    bytes
        .iter()
        .map(|&b| CHARS[usize::from(b) % CHARS.len()] as char)
        .collect()
}

/// Replaces authorized_keys with `lines` joined by newlines (no newline at
/// the end, as qemu-ga writes it), owned by the user, mode 0600.
fn write_lines(account: &Account, ssh: &OwnedFd, lines: &[&[u8]]) -> Result<(), QgaError> {
    let path = &account.keys_path;
    let contents = lines.join(&b'\n');
    let (tmp_name, file) = create_temporary(account, ssh)?;
    let tmp_path = format!("{}/{tmp_name}", account.ssh_path);
    let failed = |what, e: Errno| {
        QgaError::ssh_write_failed(path, &file_access(what, &tmp_path, path, &strerror(e)))
    };
    let mut file = std::fs::File::from(file);
    let result = (|| {
        file.write_all(&contents)
            .map_err(|e| failed(FileAccess::Write, super::sysfile::errno_of(&e)))?;
        fchown(file.as_raw_fd(), Some(account.uid), Some(account.gid))
            .map_err(|e| QgaError::ssh_chown_failed(path, &strerror(e)))?;
        fchmod(file.as_raw_fd(), Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| QgaError::ssh_chmod_failed(path, &strerror(e)))?;
        fsync(file.as_raw_fd()).map_err(|e| failed(FileAccess::Sync, e))?;
        renameat(
            Some(ssh.as_raw_fd()),
            tmp_name.as_str(),
            Some(ssh.as_raw_fd()),
            KEYS_FILE,
        )
        .map_err(|e| failed(FileAccess::Rename, e))
    })();
    if result.is_err() {
        let _ = unlinkat(
            Some(ssh.as_raw_fd()),
            tmp_name.as_str(),
            UnlinkatFlags::NoRemoveDir,
        );
        return result;
    }
    // The rename is done; a failure to sync the directory only risks it
    // being undone by a crash, which is no reason to report failure.
    let _ = fsync(ssh.as_raw_fd());
    Ok(())
}

fn create_temporary(account: &Account, ssh: &OwnedFd) -> Result<(String, OwnedFd), QgaError> {
    let mut last = Errno::EEXIST;
    for _ in 0..100 {
        let name = format!("{KEYS_FILE}.{}", random_suffix());
        match open_in(
            Some(ssh),
            Path::new(&name),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
            Mode::S_IRUSR | Mode::S_IWUSR,
        ) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EEXIST) => continue,
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    let tmp_path = format!("{}/{KEYS_FILE}.XXXXXX", account.ssh_path);
    Err(QgaError::ssh_write_failed(
        &account.keys_path,
        &file_access(FileAccess::Create, &tmp_path, "", &strerror(last)),
    ))
}

/// GLib's `g_strstrip`.
fn strip(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

/// The keys of authorized_keys: lines stripped of surrounding white space,
/// without blank lines and comments, last line first (qemu-ga builds the
/// list by prepending).
pub fn get(user: &UserName) -> Result<Vec<String>, QgaError> {
    let account = Account::lookup(user)?;
    let missing = |e: Errno| {
        QgaError::ssh_read_failed(
            &account.keys_path,
            &file_access(FileAccess::Open, &account.keys_path, "", &strerror(e)),
        )
    };
    let home = open_home(&account).map_err(missing)?;
    let ssh = open_ssh_dir(&account, &home)?.map_err(missing)?;
    let lines = read_lines(&account, &ssh)?.ok_or_else(|| missing(Errno::ENOENT))?;
    Ok(lines
        .iter()
        .map(|l| strip(l))
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .rev()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect())
}

/// Appends the keys not already present (or, with `reset`, writes only the
/// given keys), creating ~/.ssh if need be.
pub fn add(user: &UserName, keys: &PublicKeys, reset: bool) -> Result<(), QgaError> {
    let account = Account::lookup(user)?;
    let no_dir = |e: Errno| QgaError::ssh_mkdir_failed(&account.ssh_path, &strerror(e));
    let home = open_home(&account).map_err(no_dir)?;
    let (ssh, existing) = match open_ssh_dir(&account, &home)? {
        Ok(ssh) => {
            let existing = if reset {
                None
            } else {
                read_lines(&account, &ssh)?
            };
            (ssh, existing)
        }
        Err(_) => (make_ssh_dir(&account, &home)?, None),
    };
    let mut lines: Vec<&[u8]> = existing
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(Vec::as_slice)
        .collect();
    for key in keys.as_slice() {
        if !lines.contains(&key.as_bytes()) {
            lines.push(key.as_bytes());
        }
    }
    write_lines(&account, &ssh, &lines)
}

/// Removes every line equal to one of the keys. A user without the file
/// has nothing to remove.
pub fn remove(user: &UserName, keys: &PublicKeys) -> Result<(), QgaError> {
    let account = Account::lookup(user)?;
    let Ok(home) = open_home(&account) else {
        return Ok(());
    };
    let Ok(ssh) = open_ssh_dir(&account, &home)? else {
        return Ok(());
    };
    let Some(existing) = read_lines(&account, &ssh)? else {
        return Ok(());
    };
    let lines: Vec<&[u8]> = existing
        .iter()
        .map(Vec::as_slice)
        .filter(|line| !keys.as_slice().iter().any(|k| k.as_bytes() == *line))
        .collect();
    write_lines(&account, &ssh, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_like_glib() {
        assert_eq!(strip(b"  k1 a \t"), b"k1 a");
        assert_eq!(strip(b"   "), b"");
        assert_eq!(strip(b""), b"");
    }

    #[test]
    fn unknown_user_text() {
        let e = Account::lookup(&UserName::new("no-such-user-qga"))
            .err()
            .unwrap();
        assert_eq!(e.desc, "failed to lookup user 'no-such-user-qga': Success");
    }
}
