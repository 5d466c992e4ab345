//! guest-file-open, -close, -read, -write, -seek and -flush. The handles
//! live in the helper; the front decodes and encodes the data and splits
//! large reads and writes into helper requests of at most
//! `FILE_CHUNK_BYTES`, so every internal message stays small.
//!
//! qemu-ga looks the handle up before it checks anything else, so an
//! argument the front finds invalid is reported only after the helper has
//! confirmed the handle (with a request that changes nothing).

use super::{call, decode, unexpected, Arguments, CommandResult, Output};
use crate::link::{CallError, HelperLink};
use protocol::file_mode::OpenMode;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::limits::{FILE_CHUNK_BYTES, MAX_FILE_READ_BYTES, MAX_PATH_BYTES};
use protocol::qbase64;
use protocol::qga::{FileHandleArgs, FileOpenArgs, FileReadArgs, FileSeekArgs, FileWriteArgs};
use protocol::QgaError;
use serde_json::json;
use std::io;

/// qemu-ga's default `count` for guest-file-read.
const DEFAULT_READ_COUNT: i64 = 4096;

/// The kernel's text for ENAMETOOLONG, for paths too long to forward.
const NAME_TOO_LONG: &str = "File name too long";

pub async fn open(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: FileOpenArgs = decode(arguments)?;
    let spelling = a.mode.as_deref().unwrap_or("r");
    let mode = OpenMode::parse(spelling)
        .ok_or_else(|| CallError::Request(QgaError::invalid_open_mode(spelling)))?;
    if a.path.len() >= MAX_PATH_BYTES {
        // open(2) would refuse it the same way.
        return Err(CallError::Request(QgaError::file_open_failed(
            &a.path,
            spelling,
            NAME_TOO_LONG,
        )));
    }
    match call(link, HelperRequest::FileOpen { path: a.path, mode }).await? {
        HelperReply::FileHandle(handle) => Ok(Some(json!(handle))),
        other => Err(unexpected(other)),
    }
}

pub async fn close(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: FileHandleArgs = decode(arguments)?;
    done(call(link, HelperRequest::FileClose { handle: a.handle }).await?)
}

pub async fn flush(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: FileHandleArgs = decode(arguments)?;
    done(call(link, HelperRequest::FileFlush { handle: a.handle }).await?)
}

/// Reads like fread(3): until `count` bytes or the end of the file, in
/// helper reads of at most one chunk, each taken from the file-data pipe;
/// the reply then prints the whole as base64 at once.
pub async fn read(arguments: Arguments<'_>, link: &mut HelperLink) -> Result<Output, CallError> {
    let a: FileReadArgs = decode(arguments)?;
    let handle = a.handle;
    let count = a.count.unwrap_or(DEFAULT_READ_COUNT);
    if !(0..=MAX_FILE_READ_BYTES).contains(&count) {
        // Passed through unchanged: the helper reports a bad handle first,
        // then this count.
        let reply = call(link, HelperRequest::FileRead { handle, count }).await?;
        return Err(unexpected(reply));
    }
    let wanted = count as usize;
    let mut data: Vec<u8> = Vec::new();
    let mut eof = false;
    loop {
        let chunk = (wanted - data.len()).min(FILE_CHUNK_BYTES);
        let request = HelperRequest::FileRead {
            handle,
            count: chunk as i64,
        };
        let (part, part_eof) = match call(link, request).await {
            Ok(HelperReply::FileDataPiped { count, eof }) if count as usize <= chunk => {
                (count as usize, eof)
            }
            // More than was asked for would leave the pipe out of step with
            // the replies: only a fresh front (and pipe) recovers from that.
            Ok(HelperReply::FileDataPiped { count, .. }) => {
                return Err(CallError::Link(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("helper announced {count} bytes of file data for {chunk} asked"),
                )))
            }
            Ok(other) => return Err(unexpected(other)),
            // Bytes already read are consumed from the file: return them;
            // the error recurs on the next read.
            Err(CallError::Request(_)) if !data.is_empty() => break,
            Err(e) => return Err(e),
        };
        if data.is_empty() && part == chunk && wanted > chunk {
            // A full first chunk: the rest is likely coming too.
            data.reserve_exact(wanted);
        }
        link.take_file_data(part, &mut data)
            .map_err(CallError::Link)?;
        eof = part_eof;
        if eof || part < chunk || data.len() >= wanted {
            break;
        }
    }
    Ok(Output::FileRead { data, eof })
}

/// Decodes the data, then writes it in chunks. A short write or a failure
/// after some chunks were written ends the loop and reports what was
/// written.
pub async fn write(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: FileWriteArgs = decode(arguments)?;
    let handle = a.handle;
    let data = match qbase64::decode(&a.buf_b64) {
        Ok(data) => data,
        Err(e) => {
            check_handle(link, handle).await?;
            return Err(CallError::Request(e));
        }
    };
    let count = match a.count {
        None => data.len(),
        Some(c) if c >= 0 && c as u64 <= data.len() as u64 => c as usize,
        Some(c) => {
            check_handle(link, handle).await?;
            return Err(CallError::Request(QgaError::invalid_argument_value(
                &c.to_string(),
                "count",
            )));
        }
    };
    let data = &data[..count];
    if data.is_empty() {
        check_handle(link, handle).await?;
        return Ok(Some(json!({"count": 0, "eof": false})));
    }
    let mut written: u64 = 0;
    for chunk in data.chunks(FILE_CHUNK_BYTES) {
        let request = HelperRequest::FileWrite {
            handle,
            data: chunk.to_vec(),
        };
        match call(link, request).await {
            Ok(HelperReply::FileWritten(n)) => {
                written += n;
                if n < chunk.len() as u64 {
                    break;
                }
            }
            Ok(other) => return Err(unexpected(other)),
            Err(CallError::Request(_)) if written > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(json!({"count": written, "eof": false})))
}

pub async fn seek(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: FileSeekArgs = decode(arguments)?;
    let request = HelperRequest::FileSeek {
        handle: a.handle,
        offset: a.offset,
        whence: a.whence.code(),
    };
    match call(link, request).await? {
        // qemu-ga reports end-of-file after a seek, which a successful
        // seek always clears.
        HelperReply::FilePosition(position) => {
            Ok(Some(json!({"position": position, "eof": false})))
        }
        other => Err(unexpected(other)),
    }
}

/// Confirms the handle exists with an empty write, which writes nothing.
async fn check_handle(link: &mut HelperLink, handle: i64) -> Result<(), CallError> {
    let request = HelperRequest::FileWrite {
        handle,
        data: Vec::new(),
    };
    match call(link, request).await? {
        HelperReply::FileWritten(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn done(reply: HelperReply) -> CommandResult {
    match reply {
        HelperReply::Done => Ok(Some(json!({}))),
        other => Err(unexpected(other)),
    }
}
