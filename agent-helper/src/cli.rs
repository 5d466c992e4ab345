//! The command line, following qemu-ga's so existing unit files and habits
//! carry over. Every mistake is one line on stderr and exit status 1.

use std::path::PathBuf;

pub const DEFAULT_VIRTIO_PATH: &str = "/dev/virtio-ports/org.qemu.guest_agent.0";
pub const DEFAULT_SERIAL_PATH: &str = "/dev/ttyS0";
pub const DEFAULT_STATEDIR: &str = "/var/run";
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-ga.pid";
pub const DEFAULT_POLICY: &str = "/etc/qga/policy.toml";
pub const DEFAULT_FRONT_USER: &str = "nobody";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    VirtioSerial,
    UnixListen,
    IsaSerial,
    VsockListen,
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
    /// Wait for a missing channel path, and reopen it after an error.
    pub retry_path: bool,
    /// Fork into the background once the agent is serving.
    pub daemonize: bool,
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

  -m, --method      transport method: one of unix-listen, virtio-serial,
                    isa-serial, or vsock-listen (virtio-serial is the default)
  -p, --path        device/socket path (the default for virtio-serial is
                    '/dev/virtio-ports/org.qemu.guest_agent.0',
                    the default for isa-serial is '/dev/ttyS0');
                    for vsock-listen: CID:PORT
  -r, --retry-path  attempt re-opening path if it's unavailable or closed
                    due to an error
  -d, --daemonize   become a daemon; the pidfile (-f) is locked and names it
  -l, --logfile     set logfile path, logs to stderr by default
  -f, --pidfile     specify pidfile (default is /var/run/qemu-ga.pid)
  -t, --statedir    directory for state information (absolute path,
                    default is /var/run)
  -v, --verbose     log extra debugging information
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
";

/// Options qemu-ga has that this agent does not offer yet: named so the
/// error says so instead of "unknown option".
const NOT_YET: &[(&str, &str)] = &[
    ("b", "block-rpcs"),
    ("a", "allow-rpcs"),
    ("F", "fsfreeze-hook"),
    ("D", "dump-conf"),
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
    ("r", "retry-path", false),
    ("d", "daemonize", false),
    ("", "policy", true),
    ("", "check-policy", true),
    ("", "front-user", true),
    ("", "front-path", true),
    ("", "seccomp", true),
    ("", "sandbox-selftest", false),
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
    let mut retry_path = false;
    let mut daemonize = false;
    for (name, value) in values {
        let value = value.unwrap_or_default();
        match name {
            "method" => {
                method = match value.as_str() {
                    "virtio-serial" => Method::VirtioSerial,
                    "unix-listen" => Method::UnixListen,
                    "isa-serial" => Method::IsaSerial,
                    "vsock-listen" => Method::VsockListen,
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
            "retry-path" => retry_path = true,
            "daemonize" => daemonize = true,
            _ => unreachable!("every option in OPTIONS is handled"),
        }
    }
    let path = match (path, method) {
        (Some(p), _) => p,
        (None, Method::VirtioSerial) => PathBuf::from(DEFAULT_VIRTIO_PATH),
        (None, Method::IsaSerial) => PathBuf::from(DEFAULT_SERIAL_PATH),
        (None, Method::UnixListen) => return Err("unix-listen needs a socket path (-p)".into()),
        (None, Method::VsockListen) => {
            return Err("vsock-listen needs an address (-p CID:PORT)".into())
        }
    };
    if method == Method::VsockListen {
        parse_vsock_address(&path.to_string_lossy())?;
    }
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
        retry_path,
        daemonize,
    })))
}

/// `CID:PORT`, both decimal, as qemu-ga takes them (CID 4294967295 is
/// VMADDR_CID_ANY).
pub fn parse_vsock_address(text: &str) -> Result<(u32, u32), String> {
    let (cid, port) = text
        .split_once(':')
        .ok_or_else(|| format!("error parsing vsock address '{text}' (expected CID:PORT)"))?;
    let number = |what: &str, v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("failed to parse {what} '{v}' in vsock address '{text}'"))
    };
    Ok((number("cid", cid)?, number("port", port)?))
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
        assert!(!o.retry_path && !o.daemonize);
        let o = run(&["-m", "isa-serial", "-r", "-d"]).unwrap();
        assert_eq!(o.method, Method::IsaSerial);
        assert_eq!(o.path, PathBuf::from(DEFAULT_SERIAL_PATH));
        assert!(o.retry_path && o.daemonize);
        let o = run(&["--method=vsock-listen", "-p", "4294967295:4000"]).unwrap();
        assert_eq!(o.method, Method::VsockListen);
        assert_eq!(
            parse_vsock_address(&o.path.to_string_lossy()),
            Ok((u32::MAX, 4000))
        );
    }

    #[test]
    fn mistakes_are_one_line() {
        for (args, want) in [
            (&["--bogus"][..], "unrecognized option '--bogus'"),
            (
                &["-m", "vsock-listen"][..],
                "vsock-listen needs an address (-p CID:PORT)",
            ),
            (
                &["-m", "vsock-listen", "-p", "5000"][..],
                "error parsing vsock address '5000' (expected CID:PORT)",
            ),
            (
                &["-m", "vsock-listen", "-p", "-1:5000"][..],
                "failed to parse cid '-1' in vsock address '-1:5000'",
            ),
            (
                &["-m", "vsock-listen", "-p", "3:x"][..],
                "failed to parse port 'x' in vsock address '3:x'",
            ),
            (
                &["-m", "carrier-pigeon"][..],
                "invalid method 'carrier-pigeon'",
            ),
            (&["-p"][..], "option '--path' requires an argument"),
            (
                &["-t", "rel"][..],
                "statedir 'rel' must be an absolute path",
            ),
            (
                &["-F"][..],
                "option -F/--fsfreeze-hook is not supported by this version",
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
