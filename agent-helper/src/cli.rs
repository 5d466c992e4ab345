//! The command line, following qemu-ga's so existing unit files and habits
//! carry over. Every mistake is one line on stderr and exit status 1.

use crate::system::{Program, SystemPaths};
use std::path::PathBuf;

pub const DEFAULT_VIRTIO_PATH: &str = "/dev/virtio-ports/org.qemu.guest_agent.0";
pub const DEFAULT_STATEDIR: &str = "/var/run";
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-ga.pid";
pub const DEFAULT_POLICY: &str = "/etc/qga/policy.toml";
pub const DEFAULT_FRONT_USER: &str = "nobody";
pub const DEFAULT_FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    VirtioSerial,
    UnixListen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompMode {
    Kill,
    Log,
}

#[derive(Debug)]
pub struct RunOptions {
    pub method: Method,
    pub path: PathBuf,
    pub statedir: PathBuf,
    pub logfile: Option<PathBuf>,
    pub pidfile: PathBuf,
    pub verbose: bool,
    pub policy: PathBuf,
    pub front_user: String,
    pub front_path: Option<PathBuf>,
    pub seccomp: SeccompMode,
    pub sandbox_selftest: bool,
    /// Run with `freeze` before freezing and `thaw` after thawing.
    pub fsfreeze_hook: Option<PathBuf>,
    pub system: SystemPaths,
}

#[derive(Debug)]
pub enum Command {
    Run(Box<RunOptions>),
    CheckPolicy(PathBuf),
    Version,
    Help,
}

pub const USAGE: &str = "\
Usage: agent-helper [-m <method> -p <path>] [<options>]
Privilege-separated QEMU guest agent (qemu-ga compatible).

  -m, --method      transport method: virtio-serial (default) or unix-listen
  -p, --path        device/socket path (default for virtio-serial:
                    /dev/virtio-ports/org.qemu.guest_agent.0)
  -l, --logfile     set logfile path, logs to stderr by default
  -f, --pidfile     specify pidfile (default is /var/run/qemu-ga.pid)
  -t, --statedir    directory for state information (absolute path,
                    default is /var/run)
  -v, --verbose     log extra debugging information
  -F, --fsfreeze-hook[=FILE]
                    run FILE (default /etc/qemu/fsfreeze-hook) with 'freeze'
                    before freezing filesystems and 'thaw' after thawing
                    them; the file name must be attached (-F/path)
  -V, --version     print version information and exit
  -h, --help        display this help and exit
      --policy FILE       command policy (default /etc/qga/policy.toml)
      --check-policy FILE validate a policy file, print the effective
                          table, and exit (0 valid, 1 invalid)
      --front-user NAME   user the unprivileged front runs as (default nobody)
      --front-path FILE   agent-front binary (default: next to agent-helper)
      --seccomp kill|log  what a forbidden syscall does (default kill; log is
                          for bringing the agent up on a new distribution)
      --sandbox-selftest  every front makes one forbidden syscall right after
                          sandboxing: it must die by SIGSYS (and be restarted)
      --program NAME=FILE run FILE for NAME (chpasswd, shutdown, systemctl,
                          pm-is-supported, pm-hibernate, pm-suspend,
                          pm-suspend-hybrid) instead of the installed one
      --sysfs-root DIR    where sysfs is mounted (default /sys)
      --password-root DIR change passwords in DIR/etc/shadow (chpasswd -R)
                          instead of the system's own
      --procfs-root DIR   where procfs is mounted (default /proc)
      --udev-data-dir DIR udev's device database (default /run/udev/data)
";

/// Options qemu-ga has that this agent does not offer yet: named so the
/// error says so instead of "unknown option".
const NOT_YET: &[(&str, &str)] = &[
    ("d", "daemonize"),
    ("b", "block-rpcs"),
    ("a", "allow-rpcs"),
    ("D", "dump-conf"),
    ("r", "retry-path"),
    ("c", "config"),
];

/// (short, long, takes a value)
const OPTIONS: &[(&str, &str, bool)] = &[
    ("m", "method", true),
    ("p", "path", true),
    ("l", "logfile", true),
    ("f", "pidfile", true),
    ("t", "statedir", true),
    ("v", "verbose", false),
    ("V", "version", false),
    ("h", "help", false),
    ("", "policy", true),
    ("", "check-policy", true),
    ("", "front-user", true),
    ("", "front-path", true),
    ("", "seccomp", true),
    ("", "sandbox-selftest", false),
    ("", "program", true),
    ("", "sysfs-root", true),
    ("", "password-root", true),
    ("", "procfs-root", true),
    ("", "udev-data-dir", true),
];

pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut values: Vec<(&'static str, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let (first, rest) = short.split_at(short.chars().next().map_or(0, char::len_utf8));
            (
                first.to_string(),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        } else {
            return Err(format!("unexpected argument '{arg}'"));
        };
        if name == "F" || name == "fsfreeze-hook" {
            // qemu-ga's optional argument: only an attached value is taken,
            // so `-F /path` leaves `/path` as a stray argument.
            let hook = inline.unwrap_or_else(|| DEFAULT_FSFREEZE_HOOK.to_string());
            values.push(("fsfreeze-hook", Some(hook)));
            continue;
        }
        if let Some((s, l)) = NOT_YET.iter().find(|(s, l)| *s == name || *l == name) {
            return Err(format!(
                "option -{s}/--{l} is not supported by this version"
            ));
        }
        let Some(&(_, long, takes_value)) = OPTIONS
            .iter()
            .find(|(s, l, _)| (!s.is_empty() && *s == name) || *l == name)
        else {
            return Err(format!("unrecognized option '{arg}'"));
        };
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                None => return Err(format!("option '--{long}' requires an argument")),
            }
        } else if inline.is_some() && arg.starts_with("--") {
            return Err(format!("option '--{long}' doesn't allow an argument"));
        } else if let Some(rest) = inline {
            return Err(format!("unrecognized option '-{rest}' after '-{name}'"));
        } else {
            None
        };
        values.push((long, value));
    }
    build(values)
}

fn build(values: Vec<(&'static str, Option<String>)>) -> Result<Command, String> {
    let mut method = Method::VirtioSerial;
    let mut path = None;
    let mut statedir = PathBuf::from(DEFAULT_STATEDIR);
    let mut logfile = None;
    let mut pidfile = PathBuf::from(DEFAULT_PIDFILE);
    let mut verbose = false;
    let mut policy = PathBuf::from(DEFAULT_POLICY);
    let mut front_user = DEFAULT_FRONT_USER.to_string();
    let mut front_path = None;
    let mut seccomp = SeccompMode::Kill;
    let mut sandbox_selftest = false;
    let mut fsfreeze_hook = None;
    let mut system = SystemPaths::default();
    for (name, value) in values {
        let value = value.unwrap_or_default();
        match name {
            "method" => {
                method = match value.as_str() {
                    "virtio-serial" => Method::VirtioSerial,
                    "unix-listen" => Method::UnixListen,
                    "isa-serial" | "vsock-listen" => {
                        return Err(format!("method '{value}' is not supported by this version"))
                    }
                    _ => return Err(format!("invalid method '{value}'")),
                }
            }
            "path" => path = Some(PathBuf::from(value)),
            "statedir" => {
                if !value.starts_with('/') {
                    return Err(format!("statedir '{value}' must be an absolute path"));
                }
                statedir = PathBuf::from(value)
            }
            "logfile" => logfile = Some(PathBuf::from(value)),
            "pidfile" => pidfile = PathBuf::from(value),
            "verbose" => verbose = true,
            "version" => return Ok(Command::Version),
            "help" => return Ok(Command::Help),
            "policy" => policy = PathBuf::from(value),
            "check-policy" => return Ok(Command::CheckPolicy(PathBuf::from(value))),
            "front-user" => front_user = value,
            "front-path" => front_path = Some(PathBuf::from(value)),
            "seccomp" => {
                seccomp = match value.as_str() {
                    "kill" => SeccompMode::Kill,
                    "log" => SeccompMode::Log,
                    _ => return Err(format!("invalid seccomp mode '{value}' (kill or log)")),
                }
            }
            "sandbox-selftest" => sandbox_selftest = true,
            "fsfreeze-hook" => fsfreeze_hook = Some(PathBuf::from(value)),
            "program" => {
                let (program, file) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--program '{value}' is not NAME=FILE"))?;
                let program = Program::from_name(program)
                    .ok_or_else(|| format!("--program: unknown program '{program}'"))?;
                system
                    .program_overrides
                    .push((program, absolute("program", file)?));
            }
            "sysfs-root" => system.sysfs_root = absolute("sysfs-root", &value)?,
            "password-root" => system.password_root = Some(absolute("password-root", &value)?),
            "procfs-root" => system.procfs_root = absolute("procfs-root", &value)?,
            "udev-data-dir" => system.udev_data_dir = absolute("udev-data-dir", &value)?,
            _ => unreachable!("every option in OPTIONS is handled"),
        }
    }
    let path = match (path, method) {
        (Some(p), _) => p,
        (None, Method::VirtioSerial) => PathBuf::from(DEFAULT_VIRTIO_PATH),
        (None, Method::UnixListen) => return Err("unix-listen needs a socket path (-p)".into()),
    };
    Ok(Command::Run(Box::new(RunOptions {
        method,
        path,
        statedir,
        logfile,
        pidfile,
        verbose,
        policy,
        front_user,
        front_path,
        seccomp,
        sandbox_selftest,
        fsfreeze_hook,
        system,
    })))
}

fn absolute(option: &str, value: &str) -> Result<PathBuf, String> {
    if !value.starts_with('/') {
        return Err(format!("--{option} '{value}' must be an absolute path"));
    }
    Ok(PathBuf::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<RunOptions, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args)? {
            Command::Run(o) => Ok(*o),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn qemu_ga_spellings() {
        let o = run(&["-m", "unix-listen", "-p/tmp/s", "--statedir=/st", "-v"]).unwrap();
        assert_eq!(o.method, Method::UnixListen);
        assert_eq!(o.path, PathBuf::from("/tmp/s"));
        assert_eq!(o.statedir, PathBuf::from("/st"));
        assert!(o.verbose);
        let o = run(&[]).unwrap();
        assert_eq!(o.path, PathBuf::from(DEFAULT_VIRTIO_PATH));
        assert_eq!(o.system.sysfs_root, PathBuf::from("/sys"));
        assert_eq!(o.system.password_root, None);
    }

    #[test]
    fn system_paths() {
        let o = run(&[
            "--program=shutdown=/t/record",
            "--sysfs-root",
            "/t/sys",
            "--password-root=/t/root",
            "--procfs-root=/t/proc",
            "--udev-data-dir",
            "/t/udev",
        ])
        .unwrap();
        assert_eq!(
            o.system.program_overrides,
            [(Program::Shutdown, PathBuf::from("/t/record"))]
        );
        assert_eq!(o.system.sysfs_root, PathBuf::from("/t/sys"));
        assert_eq!(o.system.password_root, Some(PathBuf::from("/t/root")));
        assert_eq!(o.system.procfs_root, PathBuf::from("/t/proc"));
        assert_eq!(o.system.udev_data_dir, PathBuf::from("/t/udev"));
    }

    #[test]
    fn fsfreeze_hook_takes_only_an_attached_value() {
        assert_eq!(run(&[]).unwrap().fsfreeze_hook, None);
        assert_eq!(
            run(&["-F"]).unwrap().fsfreeze_hook,
            Some(PathBuf::from(DEFAULT_FSFREEZE_HOOK))
        );
        assert_eq!(
            run(&["--fsfreeze-hook"]).unwrap().fsfreeze_hook,
            Some(PathBuf::from(DEFAULT_FSFREEZE_HOOK))
        );
        assert_eq!(
            run(&["-F/opt/hook"]).unwrap().fsfreeze_hook,
            Some(PathBuf::from("/opt/hook"))
        );
        assert_eq!(
            run(&["--fsfreeze-hook=/opt/hook", "-v"])
                .unwrap()
                .fsfreeze_hook,
            Some(PathBuf::from("/opt/hook"))
        );
        assert_eq!(
            run(&["-F", "/opt/hook"]).unwrap_err(),
            "unexpected argument '/opt/hook'"
        );
    }

    #[test]
    fn mistakes_are_one_line() {
        for (args, want) in [
            (&["--bogus"][..], "unrecognized option '--bogus'"),
            (
                &["-m", "vsock-listen"][..],
                "method 'vsock-listen' is not supported by this version",
            ),
            (
                &["-m", "carrier-pigeon"][..],
                "invalid method 'carrier-pigeon'",
            ),
            (&["-p"][..], "option '--path' requires an argument"),
            (
                &["--program", "rm=/bin/rm"][..],
                "--program: unknown program 'rm'",
            ),
            (
                &["--program", "shutdown"][..],
                "--program 'shutdown' is not NAME=FILE",
            ),
            (
                &["--sysfs-root", "sys"][..],
                "--sysfs-root 'sys' must be an absolute path",
            ),
            (
                &["-t", "rel"][..],
                "statedir 'rel' must be an absolute path",
            ),
            (
                &["-d"][..],
                "option -d/--daemonize is not supported by this version",
            ),
            (
                &["-m", "unix-listen"][..],
                "unix-listen needs a socket path (-p)",
            ),
        ] {
            assert_eq!(run(args).unwrap_err(), want);
        }
    }
}
