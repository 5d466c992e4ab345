//! guest-get-users: the users logged in according to the utmp file, one
//! entry per user name in order of first appearance, with the earliest
//! login time of that user, as qemu-ga reports them.
//!
//! The file is read directly rather than through getutxent(), whose
//! locking waits on an alarm signal: the records are the C library's
//! `struct utmpx`, so they decode with that very type.

use super::sysfile::errno_of;
use nix::errno::Errno;
use protocol::limits::MAX_SYSTEM_FILE_BYTES;
use protocol::qga::{Double, GuestUser};
use protocol::QgaError;
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;

/// The C library's `_PATH_UTMPX`.
pub const UTMP_PATH: &str = "/var/run/utmp";

const RECORD: usize = std::mem::size_of::<libc::utmpx>();

/// Logged-in users; an unreadable or missing utmp file means nobody, as
/// for qemu-ga.
pub fn users() -> Result<Vec<GuestUser>, QgaError> {
    Ok(read_records().map(|r| logged_in(&r)).unwrap_or_default())
}

fn read_records() -> Result<Vec<u8>, Errno> {
    let file = std::fs::File::open(UTMP_PATH).map_err(|e| errno_of(&e))?;
    // Writers update records under a write lock; a read lock keeps a
    // half-written record out. It is only tried, never waited for: a
    // member of the utmp group holding the lock must not stall the agent.
    let lock = libc::flock {
        l_type: libc::F_RDLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: F_SETLK with a valid flock on an open fd.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    let mut contents = Vec::new();
    file.take(MAX_SYSTEM_FILE_BYTES as u64)
        .read_to_end(&mut contents)
        .map_err(|e| errno_of(&e))?;
    Ok(contents)
}

/// The users of the USER_PROCESS records among whole records.
pub fn logged_in(records: &[u8]) -> Vec<GuestUser> {
    let mut users: Vec<GuestUser> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records.chunks_exact(RECORD) {
        // SAFETY: the chunk holds size_of::<utmpx>() bytes, utmpx is plain
        // old data for which every bit pattern is valid, and the read is
        // unaligned-safe.
        let entry: libc::utmpx = unsafe { std::ptr::read_unaligned(record.as_ptr().cast()) };
        if entry.ut_type != libc::USER_PROCESS {
            continue;
        }
        let name = user_name(record);
        // qemu-ga's arithmetic: seconds plus microseconds / 10^6, in doubles.
        let login = entry.ut_tv.tv_sec as f64 + entry.ut_tv.tv_usec as f64 / 1e6;
        match index.get(&name) {
            Some(&i) => {
                if login < users[i].login_time.0 {
                    users[i].login_time = Double(login);
                }
            }
            None => {
                index.insert(name.clone(), users.len());
                users.push(GuestUser {
                    user: name,
                    login_time: Double(login),
                    domain: None,
                });
            }
        }
    }
    users
}

/// `ut_user` as a C string: a name that fills its 32 bytes runs on into the
/// fields after it until a NUL, as qemu-ga's copy of it does.
fn user_name(record: &[u8]) -> String {
    let offset = std::mem::offset_of!(libc::utmpx, ut_user);
    let bytes = &record[offset..];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: libc::c_short, user: &str, sec: i64, usec: i64) -> Vec<u8> {
        // SAFETY: utmpx is plain old data; all zeroes is a valid value.
        let mut u: libc::utmpx = unsafe { std::mem::zeroed() };
        u.ut_type = kind;
        for (dst, &src) in u.ut_user.iter_mut().zip(user.as_bytes()) {
            *dst = src as libc::c_char;
        }
        u.ut_tv.tv_sec = sec as _;
        u.ut_tv.tv_usec = usec as _;
        // SAFETY: viewing a plain-old-data value as its bytes.
        unsafe { std::slice::from_raw_parts((&u as *const libc::utmpx).cast::<u8>(), RECORD) }
            .to_vec()
    }

    #[test]
    fn one_entry_per_user_with_the_earliest_login() {
        let mut file = Vec::new();
        file.extend(record(libc::USER_PROCESS, "alice", 1_700_000_100, 250_000));
        file.extend(record(libc::LOGIN_PROCESS, "LOGIN", 1, 0));
        file.extend(record(libc::USER_PROCESS, "bob", 1_700_000_050, 0));
        file.extend(record(libc::USER_PROCESS, "alice", 1_700_000_000, 500_000));
        file.extend(record(libc::DEAD_PROCESS, "carol", 1, 0));
        file.extend(record(libc::USER_PROCESS, "alice", 1_700_000_200, 0));
        file.extend_from_slice(&[7, 0, 0]); // a partial record is ignored
        let users = logged_in(&file);
        let seen: Vec<(&str, f64)> = users
            .iter()
            .map(|u| (u.user.as_str(), u.login_time.0))
            .collect();
        assert_eq!(seen, [("alice", 1_700_000_000.5), ("bob", 1_700_000_050.0)]);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn layout_is_glibcs() {
        assert_eq!(RECORD, 384);
        assert_eq!(std::mem::offset_of!(libc::utmpx, ut_user), 44);
    }
}
