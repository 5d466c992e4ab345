//! agent-helper: the privileged half of the guest agent and its entry point.
//! It opens the host channel, starts the unprivileged agent-front with it,
//! sandboxes itself, and performs the privileged operations the front asks
//! for, after checking each against the policy itself.

mod audit;
mod channel;
mod check_policy;
mod child_filters;
mod cli;
mod daemon;
mod dispatch;
mod explain;
mod launch;
#[path = "../../agent-front/src/log_gate.rs"]
mod log_gate;
mod ops;
mod pidfile;
mod policy_source;
mod privileges;
mod qemu_conf;
mod runner;
mod sandbox;
mod state;
mod supervisor;
mod system;

use cli::{Command, Method, RunOptions};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use policy_source::PolicySource;
use protocol::QGA_COMPAT_VERSION;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::fmt::writer::MakeWriterExt;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Err(e) => {
            eprintln!("agent-helper: {e}");
            ExitCode::from(1)
        }
        Ok(Command::Version) => {
            println!(
                "agent-helper {} (QEMU Guest Agent {QGA_COMPAT_VERSION} compatible)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::ListRpcs) => {
            print!("{}", cli::rpc_list());
            ExitCode::SUCCESS
        }
        Ok(Command::DumpConf(options)) => {
            for warning in &options.compat.warnings {
                eprintln!("{warning}");
            }
            print!("{}", cli::dump_conf(&options));
            ExitCode::SUCCESS
        }
        Ok(Command::CheckPolicy(query)) => check_policy::run(query),
        Ok(Command::Explain(query, request)) => explain::run(query, &request),
        Ok(Command::Run(options)) => match run(*options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("agent-helper: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn run(mut options: RunOptions) -> Result<(), String> {
    if options.daemonize {
        // The daemon works from /: paths it uses later must not depend on
        // where it was started.
        let absolute = |p: &std::path::Path| std::path::absolute(p).map_err(|e| e.to_string());
        options.pidfile = absolute(&options.pidfile)?;
        options.policy = absolute(&options.policy)?;
        if let Some(hook) = &options.fsfreeze_hook {
            options.fsfreeze_hook = Some(absolute(hook)?);
        }
        if options.method != Method::VsockListen {
            options.path = absolute(&options.path)?;
        }
    }
    let mut log = init_logging(&options)?;
    if options.daemonize && log.is_none() {
        // A daemon's fronts must not hold on to the terminal either.
        let null = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/null")
            .map_err(|e| format!("/dev/null: {e}"))?;
        log = Some(OwnedFd::from(null));
    }
    for warning in &options.compat.warnings {
        tracing::warn!("{warning}");
    }
    let policy_source = PolicySource {
        path: options.policy.clone(),
        rpc_lists: options.compat.rpc_lists.clone(),
    };
    let policy = policy_source
        .load()
        .map_err(|e| format!("refusing to start with an invalid policy:\n{e}"))?;
    policy_source::log_warnings(&policy);
    let statedir = state::StateDir::open(&options.statedir).map_err(|e| e.to_string())?;
    let frozen = statedir.is_frozen();
    let user = nix::unistd::User::from_name(&options.front_user)
        .map_err(|e| format!("front user '{}': {e}", options.front_user))?
        .ok_or_else(|| format!("front user '{}' does not exist", options.front_user))?;
    if user.uid.is_root() {
        return Err(format!(
            "front user '{}' must not be root",
            options.front_user
        ));
    }
    let front_path = match options.front_path.clone() {
        Some(p) => p,
        None => default_front_path()?,
    };
    let launcher = launch::FrontLauncher {
        executable: open_above(&front_path, libc::O_PATH)?,
        uid: user.uid,
        gid: user.gid,
        channel_kind: channel::front_kind(options.method),
        verbose: options.verbose,
        seccomp: options.seccomp,
        sandbox_selftest: options.sandbox_selftest,
        dev_null: open_above(std::path::Path::new("/dev/null"), libc::O_RDWR)?,
    };
    let readiness = if options.daemonize {
        Some(daemon::daemonize()?)
    } else {
        None
    };
    let _pidfile = pidfile::PidFile::create(&options.pidfile).map_err(|e| e.to_string())?;
    let channel = match channel::open(options.method, &options.path) {
        Ok(fd) => Some(fd),
        Err(e) if options.retry_path => {
            tracing::warn!(error = %e, "channel unavailable; waiting for it (-r)");
            None
        }
        Err(e) => return Err(e.to_string()),
    };

    privileges::drop_unneeded(options.system.password_root.is_some())
        .map_err(|e| format!("dropping capabilities: {e}"))?;

    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGINT,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| format!("signalfd: {e}"))?;

    let changes_a_password_root = options.system.password_root.is_some();
    let files = ops::files::FileTable::new(statedir.clone());
    let fsfreeze = ops::fsfreeze::Fsfreeze::new(statedir, options.fsfreeze_hook.clone(), frozen);
    let ctx = dispatch::Context {
        policy,
        frozen,
        system: options.system.clone(),
        files,
        fsfreeze,
        exec: ops::exec::ExecTable::default(),
    };
    let source = supervisor::ChannelSource {
        method: options.method,
        path: options.path.clone(),
        retry: options.retry_path,
    };
    let mut supervisor =
        supervisor::Supervisor::new(launcher, source, channel, log, signals, policy_source, ctx);
    if supervisor.has_channel() {
        supervisor
            .start_front()
            .map_err(|e| format!("cannot start agent-front: {e}"))?;
    } else {
        supervisor.schedule_reopen();
    }
    // The front starts first, and gets the CPU first: the rest of the
    // helper's start-up (compiling and installing filters, the statedir
    // record) is not on the way to the host's first answer. On one CPU,
    // the parent of a fork would otherwise run on and keep the new front
    // waiting.
    std::thread::yield_now();
    // Before anything can run a program: the filters its children apply.
    child_filters::prepare(options.seccomp, changes_a_password_root)
        .map_err(|e| format!("seccomp: {e}"))?;
    sandbox::install_helper_filter(options.seccomp, changes_a_password_root)
        .map_err(|e| format!("seccomp: {e}"))?;
    supervisor.files().record_counter();
    tracing::info!(
        method = ?options.method,
        path = %options.path.display(),
        policy = %options.policy.display(),
        frozen,
        "agent ready"
    );
    if let Some(readiness) = readiness {
        readiness.done();
    }
    let supervisor::Exit::Signal(signal) = supervisor.run();
    tracing::info!(%signal, "agent stopping");
    supervisor.thaw_before_exit();
    if options.method == Method::UnixListen {
        let _ = std::fs::remove_file(&options.path);
    }
    Ok(())
}

/// Logs go to the log file (which each front also gets as its stderr) or to
/// stderr. Returns the fd to hand to fronts, if any.
fn init_logging(options: &RunOptions) -> Result<Option<OwnedFd>, String> {
    let level = if options.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(level);
    match &options.logfile {
        None => {
            builder
                .with_writer(std::io::stderr.with_filter(log_gate::is_open))
                .init();
            Ok(None)
        }
        Some(path) => {
            // Opened even when a previous run left filesystems frozen: the
            // log gate keeps it unwritten until the thaw.
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
                .map_err(|e| format!("logfile {}: {e}", path.display()))?;
            let for_front = file.try_clone().map_err(|e| e.to_string())?;
            builder
                .with_writer(std::sync::Mutex::new(file).with_filter(log_gate::is_open))
                .init();
            Ok(Some(OwnedFd::from(for_front)))
        }
    }
}

fn default_front_path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate agent-helper: {e}"))?;
    Ok(exe.with_file_name("agent-front"))
}

/// Opens a file close-on-exec at fd 10 or above, clear of the fds a front
/// gets (0-4).
fn open_above(path: &std::path::Path, flags: libc::c_int) -> Result<OwnedFd, String> {
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| fail(std::io::Error::other(e)))?;
    // SAFETY: open with a valid C string; the fd is owned by `file`.
    let raw = unsafe { libc::open(c_path.as_ptr(), flags | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a new descriptor nothing else owns.
    let file = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: fcntl on an open fd; the duplicate is owned by the result.
    let fd = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if fd < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
