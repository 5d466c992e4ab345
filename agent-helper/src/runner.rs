//! Running a program for an operation (chpasswd, hwclock, shutdown, the
//! fsfreeze hook, ...): a fixed path, an explicit argument list, a clean
//! environment, optional input on stdin (never on the command line, where
//! other users could read it), bounded captured output and a time limit.
//! The program runs under the seccomp filter of its kind
//! (`child_filters`), which the child applies just before its exec, on top
//! of the helper's filter it inherits.

use crate::child_filters::{self, ChildKind};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most bytes kept from each of stdout and stderr.
pub const MAX_CAPTURED_OUTPUT: usize = 64 << 10;

/// The PATH every program gets (with LC_ALL=C, and nothing else), and
/// where the helper looks for the programs it runs.
pub const PROGRAM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug)]
pub struct ProgramOutput {
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

impl ProgramOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// For log lines: the program's first line of complaint (stderr, else
    /// stdout), cut short.
    pub fn summary(&self) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        let text = String::from_utf8_lossy(text);
        let line = text.trim().lines().next().unwrap_or_default();
        line.chars().take(200).collect()
    }
}

pub fn run(
    kind: ChildKind,
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<ProgramOutput> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let filter = child_filters::filter(kind);
    let mut command = Command::new(program);
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes two syscalls on the program compiled before the fork.
    unsafe {
        command.pre_exec(move || child_filters::apply_in_child(filter));
    }
    let mut child = command
        .args(args)
        .env_clear()
        .env("PATH", PROGRAM_PATH)
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Small inputs (a password line) fit the pipe buffer; a program
        // that exits early just closes its end.
        let _ = pipe.write_all(input);
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out = (Vec::new(), Vec::new());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        drain(&mut stdout, &mut out.0);
        drain(&mut stderr, &mut out.1);
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        let fds = [
            stdout.as_ref().map(|p| p.as_raw_fd()),
            stderr.as_ref().map(|p| p.as_raw_fd()),
        ];
        wait_readable(&fds, Duration::from_millis(20));
    };
    drain(&mut stdout, &mut out.0);
    drain(&mut stderr, &mut out.1);
    if status.signal() == Some(libc::SIGSYS) {
        tracing::error!(
            program = %program.display(),
            "{}",
            child_filters::describe_sigsys(kind)
        );
    }
    Ok(ProgramOutput {
        code: status.code(),
        signal: status.signal(),
        stdout: out.0,
        stderr: out.1,
        timed_out,
    })
}

/// Reads what is available without blocking; closes the pipe at EOF.
fn drain<R: io::Read + AsRawFd>(pipe: &mut Option<R>, into: &mut Vec<u8>) {
    let Some(reader) = pipe.as_mut() else { return };
    loop {
        let mut pfd = libc::pollfd {
            fd: reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => {
                *pipe = None;
                return;
            }
            Ok(n) => {
                let room = MAX_CAPTURED_OUTPUT.saturating_sub(into.len());
                into.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

fn wait_readable(pipes: &[Option<std::os::fd::RawFd>], timeout: Duration) {
    let mut fds: Vec<libc::pollfd> = pipes
        .iter()
        .flatten()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if fds.is_empty() {
        std::thread::sleep(timeout);
        return;
    }
    // SAFETY: fds is a valid array of pollfds.
    unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout.as_millis() as i32,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_status_and_stdin() {
        let out = run(
            ChildKind::FsfreezeHook,
            Path::new("/bin/sh"),
            &["-c", "cat; echo err >&2; exit 3"],
            Some(b"in"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"err\n");
        assert!(!out.timed_out);
    }

    #[test]
    fn environment_is_clean() {
        let out = run(
            ChildKind::FsfreezeHook,
            Path::new("/usr/bin/env"),
            &[],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut names: Vec<_> = text.lines().filter_map(|l| l.split('=').next()).collect();
        names.sort_unstable();
        assert_eq!(names, ["LC_ALL", "PATH"]);
    }

    #[test]
    fn time_limit_kills() {
        let t = Instant::now();
        let out = run(
            ChildKind::Power,
            Path::new("/bin/sleep"),
            &["10"],
            None,
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.signal, Some(libc::SIGKILL));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn output_is_bounded() {
        let out = run(
            ChildKind::FsfreezeHook,
            Path::new("/bin/sh"),
            &["-c", "head -c 1000000 /dev/zero"],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), MAX_CAPTURED_OUTPUT);
        assert!(out.success());
    }

    fn seccomp_filters(status: &str) -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
            .expect("this kernel reports Seccomp_filters")
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn every_kind_runs_under_one_more_filter() {
        let own = seccomp_filters(&std::fs::read_to_string("/proc/self/status").unwrap());
        for kind in ChildKind::ALL {
            // head makes only the start-up syscalls every kind allows.
            let out = run(
                kind,
                Path::new("/usr/bin/head"),
                &["-n", "100", "/proc/self/status"],
                None,
                Duration::from_secs(5),
            )
            .unwrap();
            assert!(out.success(), "{}: {out:?}", kind.name());
            let status = String::from_utf8(out.stdout).unwrap();
            assert_eq!(seccomp_filters(&status), own + 1, "{}", kind.name());
            assert!(status.contains("\nSeccomp:\t2\n"), "{}", kind.name());
        }
    }

    #[test]
    fn a_syscall_outside_the_kind_kills_the_program() {
        // The shell's fork is outside the clock filter.
        let out = run(
            ChildKind::Clock,
            Path::new("/bin/sh"),
            &["-c", "/bin/true; echo done"],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.signal, Some(libc::SIGSYS));
        assert!(out.stdout.is_empty());
        let out = run(
            ChildKind::FsfreezeHook,
            Path::new("/bin/sh"),
            &["-c", "/bin/true; echo done"],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, b"done\n");
    }
}
