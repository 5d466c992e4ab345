//! agent-front: the unprivileged half of the guest agent. It is started by
//! agent-helper, never by hand: it receives the host channel and its end of
//! the internal socket as inherited fds, already without privileges.

mod args;
mod commands;
mod dispatch;
mod fdio;
mod heap;
mod json;
mod link;
mod log_gate;
mod sandbox;
mod seccomp_rules;
mod serve;

use sandbox::Enforcement;
use serve::{ChannelKind, Stopped};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use tracing_subscriber::fmt::writer::MakeWriterExt;

struct Options {
    channel_fd: RawFd,
    channel_kind: ChannelKind,
    link_fd: RawFd,
    file_data_fd: RawFd,
    verbose: bool,
    enforcement: Enforcement,
    /// Self-test: make one forbidden syscall right after sandboxing.
    probe_forbidden_syscall: bool,
}

const USAGE: &str = "usage: agent-front --channel-fd N --channel listener|port|serial --link-fd N \
--file-data-fd N [--verbose] [--seccomp kill|log] [--probe-forbidden-syscall]\n(agent-front is started by agent-helper)";

fn parse_options() -> Result<Options, String> {
    let mut channel_fd = None;
    let mut channel_kind = None;
    let mut link_fd = None;
    let mut file_data_fd = None;
    let mut verbose = false;
    let mut enforcement = Enforcement::Kill;
    let mut probe_forbidden_syscall = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--channel-fd" => channel_fd = Some(parse_fd(&value()?)?),
            "--link-fd" => link_fd = Some(parse_fd(&value()?)?),
            "--file-data-fd" => file_data_fd = Some(parse_fd(&value()?)?),
            "--channel" => {
                channel_kind = Some(match value()?.as_str() {
                    "listener" => ChannelKind::Listener,
                    "port" => ChannelKind::Port,
                    "serial" => ChannelKind::Serial,
                    other => return Err(format!("unknown channel kind '{other}'")),
                })
            }
            "--seccomp" => {
                enforcement = match value()?.as_str() {
                    "kill" => Enforcement::Kill,
                    "log" => Enforcement::Log,
                    other => return Err(format!("unknown seccomp mode '{other}'")),
                }
            }
            "--verbose" => verbose = true,
            "--probe-forbidden-syscall" => probe_forbidden_syscall = true,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(Options {
        channel_fd: channel_fd.ok_or("--channel-fd is required")?,
        channel_kind: channel_kind.ok_or("--channel is required")?,
        link_fd: link_fd.ok_or("--link-fd is required")?,
        file_data_fd: file_data_fd.ok_or("--file-data-fd is required")?,
        verbose,
        enforcement,
        probe_forbidden_syscall,
    })
}

fn parse_fd(text: &str) -> Result<RawFd, String> {
    match text.parse::<RawFd>() {
        Ok(fd) if fd > 2 => Ok(fd),
        _ => Err(format!("invalid fd '{text}'")),
    }
}

/// Takes ownership of an inherited fd after checking it is open.
fn inherited(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: F_GETFD only inspects the descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(format!("fd {fd} is not open"));
    }
    // SAFETY: the fd is open and was handed to this process to own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("agent-front: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr.with_filter(log_gate::is_open))
        .with_ansi(false)
        .with_max_level(if options.verbose {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        })
        .init();
    match run(options) {
        Ok(Stopped::LinkLost(e)) => {
            tracing::error!("front exiting: helper link lost: {e}");
            ExitCode::from(1)
        }
        Ok(Stopped::ChannelFailed(e)) => {
            tracing::error!("front exiting: channel failed: {e}");
            ExitCode::from(protocol::internal::FRONT_EXIT_CHANNEL_FAILED)
        }
        Err(e) => {
            tracing::error!("front exiting: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(options: Options) -> Result<Stopped, String> {
    let channel = inherited(options.channel_fd)?;
    let link_fd = inherited(options.link_fd)?;
    fdio::set_nonblocking(&channel).map_err(|e| e.to_string())?;
    let file_data = inherited(options.file_data_fd)?;
    fdio::set_nonblocking(&link_fd).map_err(|e| e.to_string())?;
    fdio::set_nonblocking(&file_data).map_err(|e| e.to_string())?;
    heap::keep_between_requests();
    // Everything that needs a syscall outside the filter happens above or
    // inside the runtime constructor; nothing after this line may.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    sandbox::install(options.enforcement).map_err(|e| format!("seccomp: {e}"))?;
    if options.probe_forbidden_syscall {
        sandbox::probe_forbidden_syscall();
    }
    runtime.block_on(async move {
        let mut link = link::HelperLink::connect(link_fd, file_data)
            .await
            .map_err(|e| format!("helper link: {e}"))?;
        tracing::info!(channel = ?options.channel_kind, "front ready");
        Ok(serve::serve(options.channel_kind, channel, &mut link).await)
    })
}
