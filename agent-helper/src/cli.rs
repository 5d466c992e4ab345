//! The command line, following qemu-ga's so existing unit files and habits
//! carry over, and qemu-ga's config file (read first: the command line
//! overrides its single values and adds to its lists). Every mistake is one
//! line on stderr and exit status 1.

use crate::qemu_conf::{self, CONFIG_ENV, DEFAULT_CONFIG};
use crate::system::{Program, SystemPaths};
use policy::rpc_lists::command_line_origin;
use policy::{Location, RpcLists};
use protocol::commands::COMMANDS;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const DEFAULT_VIRTIO_PATH: &str = "/dev/virtio-ports/org.qemu.guest_agent.0";
pub const DEFAULT_SERIAL_PATH: &str = "/dev/ttyS0";
pub const DEFAULT_STATEDIR: &str = "/var/run";
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-ga.pid";
pub const DEFAULT_POLICY: &str = "/etc/qga/policy.toml";
pub const DEFAULT_FRONT_USER: &str = "nobody";
pub const DEFAULT_FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    VirtioSerial,
    UnixListen,
    IsaSerial,
    VsockListen,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::VirtioSerial => "virtio-serial",
            Method::UnixListen => "unix-listen",
            Method::IsaSerial => "isa-serial",
            Method::VsockListen => "vsock-listen",
        }
    }
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
    pub compat: Compat,
    /// Wait for a missing channel path, and reopen it after an error.
    pub retry_path: bool,
    /// Fork into the background once the agent is serving.
    pub daemonize: bool,
}

/// What the qemu-ga options and config file add to the policy.
#[derive(Debug, Default)]
pub struct Compat {
    /// `-b`/`-a` and `block-rpcs`/`allow-rpcs`, layered over the policy.
    pub rpc_lists: RpcLists,
    /// The same lists as qemu-ga keeps them, for `-D`.
    pub dump_block: Vec<String>,
    pub dump_allow: Option<Vec<String>>,
    /// Problems with the config file that do not stop the agent.
    pub warnings: Vec<String>,
}

/// `--check-policy` and `--explain`: the policy file with the lists.
#[derive(Debug)]
pub struct PolicyQuery {
    pub policy: PathBuf,
    pub compat: Compat,
}

#[derive(Debug)]
pub enum Command {
    Run(Box<RunOptions>),
    /// `-D`: print the effective configuration in qemu-ga's format.
    DumpConf(Box<RunOptions>),
    CheckPolicy(PolicyQuery),
    Explain(PolicyQuery, String),
    /// `-b help` / `-a help`: list the commands.
    ListRpcs,
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
  -F, --fsfreeze-hook[=FILE]
                    run FILE (default /etc/qemu/fsfreeze-hook) with 'freeze'
                    before freezing filesystems and 'thaw' after thawing
                    them; the file name must be attached (-F/path)
  -V, --version     print version information and exit
  -b, --block-rpcs  comma-separated list of commands to disable, on top of
                    the policy (use \"help\" to list the commands)
  -a, --allow-rpcs  comma-separated list of commands to enable: every other
                    command is disabled, on top of the policy
  -c, --config      qemu-ga config file (default /etc/qemu/qemu-ga.conf,
                    or $QGA_CONF), read before the command line
  -D, --dump-conf   print the effective configuration in qemu-ga's config
                    file format and exit
  -h, --help        display this help and exit
      --policy FILE       command policy (default /etc/qga/policy.toml)
      --check-policy FILE validate a policy file, print the effective
                          table, and exit (0 valid, 1 invalid)
      --explain FILE JSON print the decision, and the rule that made it, for
                          one host request (exit 0 allowed, 2 refused,
                          1 invalid policy or request)
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

A command runs only if the policy allows it, no block list names it and,
when an allow list is given, the allow list names it.
";

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
    ("b", "block-rpcs", true),
    ("a", "allow-rpcs", true),
    ("c", "config", true),
    ("D", "dump-conf", false),
    ("", "policy", true),
    ("", "check-policy", true),
    ("", "explain", true),
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

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    CommandLine,
    Config {
        file: String,
        key: String,
        line: usize,
    },
}

#[derive(Clone, Debug)]
struct Setting {
    name: &'static str,
    value: Option<String>,
    origin: Origin,
}

/// Parses the command line, reading the config file it names (or
/// `$QGA_CONF`, or the default one if it exists).
pub fn parse(args: &[String]) -> Result<Command, String> {
    parse_with(
        args,
        std::env::var_os(CONFIG_ENV),
        Path::new(DEFAULT_CONFIG),
    )
}

fn parse_with(
    args: &[String],
    env_config: Option<OsString>,
    default_config: &Path,
) -> Result<Command, String> {
    let (command_line, positionals) = tokenize(args)?;
    // These act at once, as in qemu-ga, whatever else is wrong.
    for s in &command_line {
        match (s.name, s.value.as_deref()) {
            ("version", _) => return Ok(Command::Version),
            ("help", _) => return Ok(Command::Help),
            ("block-rpcs" | "allow-rpcs", Some("help" | "?")) => return Ok(Command::ListRpcs),
            _ => {}
        }
    }
    let named = command_line
        .iter()
        .rev()
        .find(|s| s.name == "config")
        .and_then(|s| s.value.clone())
        .map(PathBuf::from)
        .or_else(|| env_config.map(PathBuf::from));
    let mut settings = Vec::new();
    let mut warnings = Vec::new();
    let config_path = named
        .clone()
        .unwrap_or_else(|| default_config.to_path_buf());
    match qemu_conf::load(&config_path)? {
        Some(general) => {
            warnings.extend(general.warnings.iter().cloned());
            settings.extend(config_settings(&general, &config_path, &mut warnings)?);
        }
        // Most systems have no qemu-ga config; one that was asked for by
        // name must exist, or a block list could silently vanish.
        None if named.is_some() => {
            return Err(format!(
                "config file {} does not exist",
                config_path.display()
            ))
        }
        None => {}
    }
    settings.extend(command_line);
    build(settings, positionals, warnings)
}

/// Splits the arguments into settings (in order) and positional arguments.
fn tokenize(args: &[String]) -> Result<(Vec<Setting>, Vec<String>), String> {
    let mut settings = Vec::new();
    let mut positionals = Vec::new();
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
            positionals.push(arg.clone());
            continue;
        };
        if name == "F" || name == "fsfreeze-hook" {
            // qemu-ga's optional argument: only an attached value is taken,
            // so `-F /path` leaves `/path` as a stray argument.
            let hook = inline.unwrap_or_else(|| DEFAULT_FSFREEZE_HOOK.to_string());
            settings.push(Setting {
                name: "fsfreeze-hook",
                value: Some(hook),
                origin: Origin::CommandLine,
            });
            continue;
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
        settings.push(Setting {
            name: long,
            value,
            origin: Origin::CommandLine,
        });
    }
    Ok((settings, positionals))
}

/// The `[general]` keys as the options they stand for.
fn config_settings(
    general: &qemu_conf::General,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<Setting>, String> {
    let file = path.display().to_string();
    let mut out = Vec::new();
    for s in &general.settings {
        let origin = Origin::Config {
            file: file.clone(),
            key: s.key.clone(),
            line: s.line,
        };
        let flag = |name: &'static str| -> Result<Option<Setting>, String> {
            match qemu_conf::parse_bool(&s.value) {
                Some(true) => Ok(Some(Setting {
                    name,
                    value: None,
                    origin: origin.clone(),
                })),
                Some(false) => Ok(None),
                None => Err(format!(
                    "{file}:{}: key '{}' has a value that cannot be interpreted as a boolean: \
                     '{}' (expected true or false)",
                    s.line, s.key, s.value
                )),
            }
        };
        let valued = |name: &'static str| Setting {
            name,
            value: Some(s.value.clone()),
            origin: origin.clone(),
        };
        let setting = match s.key.as_str() {
            "method" => Some(valued("method")),
            "path" => Some(valued("path")),
            "logfile" => Some(valued("logfile")),
            "pidfile" => Some(valued("pidfile")),
            "statedir" => Some(valued("statedir")),
            "block-rpcs" => Some(valued("block-rpcs")),
            "allow-rpcs" => Some(valued("allow-rpcs")),
            "fsfreeze-hook" => Some(valued("fsfreeze-hook")),
            "blacklist" => {
                warnings.push(format!(
                    "{file}:{}: warning: the 'blacklist' key is deprecated: write 'block-rpcs'",
                    s.line
                ));
                Some(valued("block-rpcs"))
            }
            "verbose" => flag("verbose")?,
            "daemon" => flag("daemonize")?,
            "retry-path" => flag("retry-path")?,
            _ => None,
        };
        out.extend(setting);
    }
    Ok(out)
}

fn build(
    settings: Vec<Setting>,
    positionals: Vec<String>,
    warnings: Vec<String>,
) -> Result<Command, String> {
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
    let mut check_policy = None;
    let mut explain = None;
    let mut dump = false;
    let mut retry_path = false;
    let mut daemonize = false;
    let mut compat = Compat {
        warnings,
        ..Compat::default()
    };
    for Setting {
        name,
        value,
        origin,
    } in settings
    {
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
            "retry-path" => retry_path = true,
            "daemonize" => daemonize = true,
            "block-rpcs" | "allow-rpcs" => add_list(&mut compat, name, &value, &origin),
            // Read before everything else.
            "config" => {}
            "dump-conf" => dump = true,
            "policy" => policy = PathBuf::from(value),
            "check-policy" => check_policy = Some(PathBuf::from(value)),
            "explain" => explain = Some(PathBuf::from(value)),
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
    if let Some(policy) = explain {
        let [request] = <[String; 1]>::try_from(positionals).map_err(|_| {
            "--explain takes a policy file and one request, e.g. --explain policy.toml \
             '{\"execute\":\"guest-ping\"}'"
                .to_string()
        })?;
        return Ok(Command::Explain(PolicyQuery { policy, compat }, request));
    }
    if let Some(arg) = positionals.first() {
        return Err(format!("unexpected argument '{arg}'"));
    }
    if let Some(policy) = check_policy {
        return Ok(Command::CheckPolicy(PolicyQuery { policy, compat }));
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
    let options = Box::new(RunOptions {
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
        compat,
        retry_path,
        daemonize,
    });
    Ok(if dump {
        Command::DumpConf(options)
    } else {
        Command::Run(options)
    })
}

fn absolute(option: &str, value: &str) -> Result<PathBuf, String> {
    if !value.starts_with('/') {
        return Err(format!("--{option} '{value}' must be an absolute path"));
    }
    Ok(PathBuf::from(value))
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

/// Adds one `-b`/`-a` value (or config value) to the lists.
fn add_list(compat: &mut Compat, name: &str, value: &str, origin: &Origin) {
    let location = match origin {
        Origin::CommandLine if name == "block-rpcs" => command_line_origin("-b/--block-rpcs"),
        Origin::CommandLine => command_line_origin("-a/--allow-rpcs"),
        Origin::Config { file, line, .. } => Location {
            file: file.clone(),
            line: *line,
            column: 1,
        },
    };
    // qemu-ga splits each value on commas and prepends, so each value's
    // names come out reversed in -D; keep that for identical output.
    let raw = value.split(',').rev().map(String::from);
    if name == "block-rpcs" {
        compat.rpc_lists.add_block(value, &location);
        compat.dump_block.extend(raw);
    } else {
        compat.rpc_lists.add_allow(value, &location);
        compat.dump_allow.get_or_insert_with(Vec::new).extend(raw);
    }
}

/// `-b help`: every command, in qemu-ga's registration order (7.2's
/// commands as it prints them, then the newer ones).
pub fn rpc_list() -> String {
    COMMANDS.iter().map(|c| format!("{}\n", c.name)).collect()
}

/// `-D`: the effective configuration, key for key as qemu-ga writes it.
/// An `allow-rpcs` line appears only when an allow list was given, so the
/// output without one is exactly qemu-ga 7.2's.
pub fn dump_conf(o: &RunOptions) -> String {
    let mut out = String::from("[general]\n");
    let mut line = |key: &str, value: &str| {
        out.push_str(&format!("{key}={}\n", qemu_conf::escape(value)));
    };
    line("daemon", if o.daemonize { "true" } else { "false" });
    line("method", o.method.name());
    line("path", &o.path.to_string_lossy());
    if let Some(logfile) = &o.logfile {
        line("logfile", &logfile.to_string_lossy());
    }
    line("pidfile", &o.pidfile.to_string_lossy());
    line("statedir", &o.statedir.to_string_lossy());
    line("verbose", if o.verbose { "true" } else { "false" });
    line("retry-path", if o.retry_path { "true" } else { "false" });
    line("block-rpcs", &o.compat.dump_block.join(","));
    if let Some(allow) = &o.compat.dump_allow {
        line("allow-rpcs", &allow.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses as the agent would on a machine without a default config
    /// file, with `-c config` first if one is given.
    fn parse_env(args: &[&str], config: Option<&str>) -> Result<Command, String> {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(config) = config {
            args.splice(0..0, ["-c".to_string(), config.to_string()]);
        }
        parse_with(&args, None, Path::new("/nonexistent/qemu-ga.conf"))
    }

    fn run(args: &[&str]) -> Result<RunOptions, String> {
        match parse_env(args, None) {
            Ok(Command::Run(o)) => Ok(*o),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e),
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
            (&["-d", "x"][..], "unexpected argument 'x'"),
            (
                &["--retry-path=yes"][..],
                "option '--retry-path' doesn't allow an argument",
            ),
            (
                &["-m", "unix-listen"][..],
                "unix-listen needs a socket path (-p)",
            ),
            (&["stray"][..], "unexpected argument 'stray'"),
            (
                &["--explain", "p.toml"][..],
                "--explain takes a policy file and one request, e.g. --explain policy.toml \
                 '{\"execute\":\"guest-ping\"}'",
            ),
        ] {
            assert_eq!(run(args).unwrap_err(), want);
        }
    }

    #[test]
    fn block_and_allow_lists_accumulate_in_qemu_ga_order() {
        let o = run(&[
            "-b",
            "guest-ping,guest-info",
            "--block-rpcs=guest-exec",
            "-a",
            "a,b",
        ])
        .unwrap();
        let names: Vec<&str> = o
            .compat
            .rpc_lists
            .block
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["guest-ping", "guest-info", "guest-exec"]);
        assert_eq!(
            o.compat.dump_block,
            ["guest-info", "guest-ping", "guest-exec"]
        );
        assert_eq!(o.compat.dump_allow, Some(vec!["b".into(), "a".into()]));
        let dumped = dump_conf(&o);
        assert!(dumped.ends_with("block-rpcs=guest-info,guest-ping,guest-exec\nallow-rpcs=b,a\n"));
    }

    #[test]
    fn help_lists_act_at_once() {
        assert!(matches!(
            parse_env(&["-b", "help"], None),
            Ok(Command::ListRpcs)
        ));
        assert!(matches!(
            parse_env(&["-a", "?"], None),
            Ok(Command::ListRpcs)
        ));
        assert!(rpc_list().starts_with("guest-sync-delimited\nguest-sync\nguest-ping\n"));
    }

    #[test]
    fn config_file_then_command_line() {
        let dir = std::env::temp_dir().join(format!("qga-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("qemu-ga.conf");
        std::fs::write(
            &conf,
            "[general]\nmethod=unix-listen\npath=/conf/sock\nverbose=1\n\
             block-rpcs=guest-exec,guest-file-open\nallow-rpcs=guest-ping\nbogus=x\n",
        )
        .unwrap();
        let conf_str = conf.to_str().unwrap();
        let o = match parse_env(&["-p", "/cli/sock", "-b", "guest-info"], Some(conf_str)) {
            Ok(Command::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        assert_eq!(o.method, Method::UnixListen);
        assert_eq!(o.path, PathBuf::from("/cli/sock"));
        assert!(o.verbose);
        let block: Vec<String> = o
            .compat
            .rpc_lists
            .block
            .iter()
            .map(|e| format!("{} {}", e.name, e.origin))
            .collect();
        assert_eq!(
            block,
            [
                format!("guest-exec {conf_str}:5:1"),
                format!("guest-file-open {conf_str}:5:1"),
                "guest-info -b/--block-rpcs".to_string(),
            ]
        );
        assert_eq!(
            o.compat.warnings,
            [format!(
                "{conf_str}:7: warning: unknown key 'bogus' in [general], ignored"
            )]
        );
        for (text, want) in [
            ("[general]\ndaemon=maybe\n", ":2: key 'daemon' has a value that cannot be interpreted as a boolean: 'maybe' (expected true or false)"),
            ("[general]\nverbose=yes\n", ":2: key 'verbose' has a value that cannot be interpreted as a boolean: 'yes' (expected true or false)"),
        ] {
            std::fs::write(&conf, text).unwrap();
            let e = parse_env(&[], Some(conf_str)).unwrap_err();
            assert_eq!(e, format!("{conf_str}{want}"));
        }
        std::fs::write(&conf, "[general]\nfsfreeze-hook=/x\n").unwrap();
        match parse_env(&[], Some(conf_str)).unwrap() {
            Command::Run(o) => assert_eq!(o.fsfreeze_hook, Some(PathBuf::from("/x"))),
            other => panic!("{other:?}"),
        }
        std::fs::write(&conf, "[general]\ndaemon=false\nretry-path=0\n").unwrap();
        match parse_env(&[], Some(conf_str)).unwrap() {
            Command::Run(o) => assert!(!o.daemonize && !o.retry_path),
            other => panic!("{other:?}"),
        }
        std::fs::write(
            &conf,
            "[general]\ndaemon=true\nretry-path=1\nmethod=isa-serial\n",
        )
        .unwrap();
        match parse_env(&[], Some(conf_str)).unwrap() {
            Command::Run(o) => {
                assert!(o.daemonize && o.retry_path);
                assert_eq!(o.path, PathBuf::from(DEFAULT_SERIAL_PATH));
            }
            other => panic!("{other:?}"),
        }
        match parse_env(&["-D", "-d"], Some(conf_str)).unwrap() {
            Command::DumpConf(o) => assert_eq!(
                dump_conf(&o),
                "[general]\ndaemon=true\nmethod=isa-serial\npath=/dev/ttyS0\n\
                 pidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\n\
                 retry-path=true\nblock-rpcs=\n"
            ),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(&conf).unwrap();
        assert_eq!(
            parse_env(&[], Some(conf_str)).unwrap_err(),
            format!("config file {conf_str} does not exist")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
