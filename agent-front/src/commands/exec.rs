//! guest-exec and guest-exec-status. Arguments, environment, input and
//! output can be far larger than one internal message, so they travel in
//! slices: the request is staged piece by piece and then started, and a
//! finished process's output is fetched slice by slice after its status.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::{CallError, HelperLink};
use protocol::internal::{
    CapturedOutput, ExecExit, ExecStage, ExecStart, ExecStream, HelperReply, HelperRequest,
};
use protocol::limits::{EXEC_CHUNK_BYTES, MAX_EXEC_PATH_BYTES, MAX_EXEC_STRING_BYTES};
use protocol::qga::{
    ExecArgs, ExecStatusArgs, GuestExec, GuestExecCaptureOutputMode, GuestExecStatus,
};
use protocol::{qbase64, QgaError};

/// Room left in a staging message for its framing.
const STRING_OVERHEAD: usize = 8;

pub async fn exec(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: ExecArgs = decode(arguments)?;
    // qemu-ga decodes the input before anything else can fail.
    let input = match &a.input_data {
        Some(text) => Some(qbase64::decode(text).map_err(CallError::Request)?),
        None => None,
    };
    let args = a.arg.unwrap_or_default();
    let env = a.env.unwrap_or_default();
    // What the kernel would refuse with the same error, refused before any
    // piece is sent (such a string would not fit one message anyway).
    if a.path.len() >= MAX_EXEC_PATH_BYTES {
        return Err(exec_error(&a.path, libc::ENAMETOOLONG));
    }
    if args
        .iter()
        .chain(&env)
        .any(|s| s.len() >= MAX_EXEC_STRING_BYTES)
    {
        return Err(exec_error(&a.path, libc::E2BIG));
    }
    for stage in stages(&args, &env, input.as_deref().unwrap_or_default()) {
        match call(link, HelperRequest::ExecStage(stage)).await? {
            HelperReply::ExecStaged => {}
            other => return Err(unexpected(other)),
        }
    }
    let start = ExecStart {
        path: a.path,
        capture: a
            .capture_output
            .map_or(GuestExecCaptureOutputMode::None, |c| c.mode()),
        args: count(args.len()),
        env: count(env.len()),
        input: input.as_ref().map(|i| i.len() as u64),
    };
    match call(link, HelperRequest::Exec(start)).await? {
        HelperReply::ExecStarted { pid } => Ok(Some(to_value(&GuestExec { pid }))),
        other => Err(unexpected(other)),
    }
}

pub async fn status(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: ExecStatusArgs = decode(arguments)?;
    let state = match call(link, HelperRequest::ExecStatus { pid: a.pid }).await? {
        HelperReply::ExecStatus(s) => s,
        other => return Err(unexpected(other)),
    };
    let mut result = GuestExecStatus {
        exited: state.exited,
        ..Default::default()
    };
    match state.exit {
        Some(ExecExit::Code(c)) => result.exitcode = Some(i64::from(c)),
        Some(ExecExit::Signal(s)) => result.signal = Some(i64::from(s)),
        None => {}
    }
    // As qemu-ga: a stream appears only when something was captured.
    if let Some(out) = state.out.filter(shown) {
        result.out_data = Some(fetch(link, a.pid, ExecStream::Out, out).await?);
        result.out_truncated = Some(out.truncated);
    }
    if let Some(err) = state.err.filter(shown) {
        result.err_data = Some(fetch(link, a.pid, ExecStream::Err, err).await?);
        result.err_truncated = Some(err.truncated);
    }
    Ok(Some(to_value(&result)))
}

fn shown(c: &CapturedOutput) -> bool {
    c.len > 0 || c.truncated
}

/// Reads one captured stream from the helper, slice by slice, as base64.
async fn fetch(
    link: &mut HelperLink,
    pid: i64,
    stream: ExecStream,
    captured: CapturedOutput,
) -> Result<String, CallError> {
    let mut data = Vec::with_capacity(captured.len as usize);
    while (data.len() as u64) < captured.len {
        let request = HelperRequest::ExecOutput {
            pid,
            stream,
            offset: data.len() as u64,
        };
        match call(link, request).await? {
            HelperReply::ExecOutput(slice) if !slice.is_empty() => data.extend_from_slice(&slice),
            other => return Err(unexpected(other)),
        }
    }
    Ok(qbase64::encode(&data))
}

/// Splits arguments, environment and input into messages of at most
/// `EXEC_CHUNK_BYTES` of payload each. Nothing to stage gives no message.
fn stages(args: &[String], env: &[String], input: &[u8]) -> Vec<ExecStage> {
    let mut stages = Vec::new();
    let mut current = ExecStage::default();
    let mut size = 0;
    let mut flush = |current: &mut ExecStage, size: &mut usize| {
        if *size > 0 {
            stages.push(std::mem::take(current));
            *size = 0;
        }
    };
    for a in args {
        if size + a.len() + STRING_OVERHEAD > EXEC_CHUNK_BYTES {
            flush(&mut current, &mut size);
        }
        size += a.len() + STRING_OVERHEAD;
        current.args.push(a.clone());
    }
    for e in env {
        if size + e.len() + STRING_OVERHEAD > EXEC_CHUNK_BYTES {
            flush(&mut current, &mut size);
        }
        size += e.len() + STRING_OVERHEAD;
        current.env.push(e.clone());
    }
    let mut rest = input;
    while !rest.is_empty() {
        let room = EXEC_CHUNK_BYTES.saturating_sub(size);
        if room == 0 {
            flush(&mut current, &mut size);
            continue;
        }
        let (now, later) = rest.split_at(room.min(rest.len()));
        current.input.extend_from_slice(now);
        size += now.len();
        rest = later;
    }
    flush(&mut current, &mut size);
    stages
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn exec_error(path: &str, errno: i32) -> CallError {
    CallError::Request(QgaError::exec_failed(
        path,
        nix::errno::Errno::from_raw(errno).desc(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_fit_one_message_each_and_keep_order() {
        let args: Vec<String> = (0..3000).map(|i| format!("argument-{i:06}")).collect();
        let env = vec!["A=1".to_string(), "x".repeat(100_000)];
        let input: Vec<u8> = (0..400_000u32).map(|i| i as u8).collect();
        let stages = stages(&args, &env, &input);
        assert!(stages.len() > 3);
        for s in &stages {
            let bytes = protocol::internal::encode(&protocol::internal::ToHelper {
                seq: u32::MAX,
                request: HelperRequest::ExecStage(s.clone()),
                // The longest id a request can carry.
                id: Some(protocol::internal::audit_label(&"\"".repeat(1000))),
            })
            .expect("every stage fits a message");
            assert!(bytes.len() <= protocol::limits::MAX_MESSAGE_BYTES);
        }
        let all_args: Vec<String> = stages.iter().flat_map(|s| s.args.clone()).collect();
        let all_env: Vec<String> = stages.iter().flat_map(|s| s.env.clone()).collect();
        let all_input: Vec<u8> = stages.iter().flat_map(|s| s.input.clone()).collect();
        assert_eq!(all_args, args);
        assert_eq!(all_env, env);
        assert_eq!(all_input, input);
        assert!(super::stages(&[], &[], &[]).is_empty());
    }
}
