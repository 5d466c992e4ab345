//! guest-file-* through the real agent: data round trips, qemu-ga's eof and
//! error semantics, and handles that live in the helper (numbered from the
//! statedir, surviving reconnects, front restarts and counted against the
//! open-handle bound).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use protocol::limits::{FILE_CHUNK_BYTES, MAX_OPEN_FILE_HANDLES};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;
use tests::{error_of, Agent, Client, TempDir};

const POLICY: &str = r#"
default = "deny"
[allow]
commands = ["guest-ping", "guest-info", "guest-file-*"]
"#;

fn desc(reply: &Value) -> String {
    error_of(reply).1
}

fn open(host: &mut Client, path: &Path, mode: &str) -> i64 {
    let reply = host.request(
        &json!({"execute": "guest-file-open", "arguments": {"path": path, "mode": mode}})
            .to_string(),
    );
    reply["return"]
        .as_i64()
        .unwrap_or_else(|| panic!("open {path:?} {mode}: {reply}"))
}

fn write(host: &mut Client, handle: i64, data: &[u8]) -> Value {
    host.request(
        &json!({"execute": "guest-file-write",
                "arguments": {"handle": handle, "buf-b64": B64.encode(data)}})
        .to_string(),
    )
}

fn read_reply(host: &mut Client, handle: i64, count: i64) -> Value {
    host.request(
        &json!({"execute": "guest-file-read", "arguments": {"handle": handle, "count": count}})
            .to_string(),
    )
}

/// (data, eof), checking that `count` matches the data.
fn read(host: &mut Client, handle: i64, count: i64) -> (Vec<u8>, bool) {
    let reply = read_reply(host, handle, count);
    let result = &reply["return"];
    let data = B64
        .decode(
            result["buf-b64"]
                .as_str()
                .unwrap_or_else(|| panic!("{reply}")),
        )
        .unwrap();
    assert_eq!(result["count"].as_u64(), Some(data.len() as u64), "{reply}");
    (data, result["eof"].as_bool().unwrap())
}

fn seek(host: &mut Client, handle: i64, offset: i64, whence: Value) -> Value {
    host.request(
        &json!({"execute": "guest-file-seek",
                "arguments": {"handle": handle, "offset": offset, "whence": whence}})
        .to_string(),
    )
}

fn close(host: &mut Client, handle: i64) -> Value {
    host.request(
        &json!({"execute": "guest-file-close", "arguments": {"handle": handle}}).to_string(),
    )
}

#[test]
fn every_byte_value_round_trips_and_new_files_get_mode_0666() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("bytes");
    let mut host = agent.connect();
    let h = open(&mut host, &path, "w+b");
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(
        write(&mut host, h, &all),
        json!({"return": {"count": 256, "eof": false}})
    );
    assert_eq!(
        seek(&mut host, h, 0, json!("set")),
        json!({"return": {"position": 0, "eof": false}})
    );
    assert_eq!(read(&mut host, h, 1000), (all.clone(), true));
    assert_eq!(close(&mut host, h), json!({"return": {}}));
    assert_eq!(std::fs::read(&path).unwrap(), all);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o666, "qemu-ga creates files 0666");
    // An existing file keeps its permissions.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let h = open(&mut host, &path, "a");
    close(&mut host, h);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600);
}

#[test]
fn multi_mib_data_crosses_chunk_boundaries_intact() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("big");
    let size = 3 * (1 << 20) + 7;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "w+");
    let started = Instant::now();
    assert_eq!(
        write(&mut host, h, &data),
        json!({"return": {"count": size, "eof": false}})
    );
    let wrote = started.elapsed();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    seek(&mut host, h, 0, json!(0));
    let started = Instant::now();
    let (back, eof) = read(&mut host, h, 48 << 20);
    let read_time = started.elapsed();
    assert!(eof);
    assert!(back == data, "read back differs");
    eprintln!("3 MiB through the agent: write {wrote:?}, read {read_time:?}");

    // Reads of a chunk minus one, a chunk and a chunk plus one, back to
    // back, see every byte once.
    seek(&mut host, h, 0, json!("set"));
    let mut got = Vec::new();
    for count in [FILE_CHUNK_BYTES - 1, FILE_CHUNK_BYTES, FILE_CHUNK_BYTES + 1] {
        let (part, eof) = read(&mut host, h, count as i64);
        assert_eq!(part.len(), count);
        assert!(!eof);
        got.extend_from_slice(&part);
    }
    assert!(got[..] == data[..got.len()]);

    // A read of exactly the rest stops short of seeing the end, as
    // fread(3) does; the next one reports it.
    let rest = (size - got.len()) as i64;
    let (part, eof) = read(&mut host, h, rest);
    assert_eq!((part.len() as i64, eof), (rest, false));
    got.extend_from_slice(&part);
    assert!(got == data);
    assert_eq!(read(&mut host, h, 10), (Vec::new(), true));
    close(&mut host, h);
}

#[test]
fn seek_and_eof_follow_qemu_ga() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("text");
    std::fs::write(&path, b"hello world").unwrap();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "r");
    assert_eq!(
        read_reply(&mut host, h, 0),
        json!({"return": {"count": 0, "buf-b64": "", "eof": false}})
    );
    assert_eq!(read(&mut host, h, 11), (b"hello world".to_vec(), false));
    assert_eq!(read(&mut host, h, 5), (Vec::new(), true));
    // The end of file is not sticky: data appended later is read.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"MORE"))
        .unwrap();
    assert_eq!(read(&mut host, h, 5), (b"MORE".to_vec(), true));
    assert_eq!(
        seek(&mut host, h, 0, json!("cur")),
        json!({"return": {"position": 15, "eof": false}})
    );
    assert_eq!(
        seek(&mut host, h, 100, json!(2)),
        json!({"return": {"position": 115, "eof": false}})
    );
    assert_eq!(read(&mut host, h, 4096), (Vec::new(), true));
    assert_eq!(
        seek(&mut host, h, -3, json!("end")),
        json!({"return": {"position": 12, "eof": false}})
    );
    assert_eq!(read(&mut host, h, 4096), (b"ORE".to_vec(), true));
    assert_eq!(
        desc(&seek(&mut host, h, -100, json!(1))),
        "failed to seek file: Invalid argument"
    );
    assert_eq!(
        desc(&seek(&mut host, h, 0, json!(7))),
        "invalid whence code 7"
    );
    assert_eq!(
        desc(&seek(&mut host, h, 0, json!("middle"))),
        "Parameter 'whence' does not accept value 'middle'"
    );
    assert_eq!(
        desc(&seek(&mut host, h, 0, json!(true))),
        "Invalid parameter type for 'whence', expected: GuestFileWhence"
    );
    // The position survived the failed seeks.
    assert_eq!(
        seek(&mut host, h, 0, json!("cur")),
        json!({"return": {"position": 15, "eof": false}})
    );
    // Writing a read-only handle fails; an empty write writes nothing and
    // succeeds, as fwrite(3) of nothing does.
    assert_eq!(
        desc(&write(&mut host, h, b"x")),
        "failed to write to file: Bad file descriptor"
    );
    assert_eq!(
        write(&mut host, h, b""),
        json!({"return": {"count": 0, "eof": false}})
    );
    close(&mut host, h);

    let wo = open(&mut host, &work.0.join("wo"), "w");
    assert_eq!(
        desc(&read_reply(&mut host, wo, 10)),
        "failed to read file: Bad file descriptor"
    );
    close(&mut host, wo);

    // A directory opens; reading it fails.
    let d = open(&mut host, &work.0, "r");
    assert_eq!(
        desc(&read_reply(&mut host, d, 10)),
        "failed to read file: Is a directory"
    );
    close(&mut host, d);
}

/// The helper splices file data into the front's pipe where the kernel can
/// and copies it where it cannot: files of every kind read alike.
#[test]
fn fifos_devices_and_proc_files_read_like_regular_files() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let work = TempDir::new("file-kinds");

    let fifo = work.0.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // Open for reading first (non-blocking, as guest-file-open does), then
    // write and close the writer: the reader sees the bytes, then the end.
    let h = open(&mut host, &fifo, "r");
    std::fs::write(&fifo, b"through a fifo").unwrap();
    assert_eq!(read(&mut host, h, 100), (b"through a fifo".to_vec(), true));
    close(&mut host, h);

    let zero = open(&mut host, Path::new("/dev/zero"), "r");
    assert_eq!(read(&mut host, zero, 1000), (vec![0u8; 1000], false));
    close(&mut host, zero);

    let version = open(&mut host, Path::new("/proc/version"), "r");
    let want = std::fs::read("/proc/version").unwrap();
    assert_eq!(read(&mut host, version, 4096), (want, true));
    close(&mut host, version);
}

#[test]
fn append_mode_writes_at_the_end_whatever_the_position() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("log");
    std::fs::write(&path, b"one\n").unwrap();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "a+");
    seek(&mut host, h, 0, json!("set"));
    assert_eq!(read(&mut host, h, 4), (b"one\n".to_vec(), false));
    seek(&mut host, h, 0, json!("set"));
    write(&mut host, h, b"two\n");
    close(&mut host, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
    // "w" truncates, "r+" does not.
    let h = open(&mut host, &path, "r+");
    write(&mut host, h, b"ONE");
    close(&mut host, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"ONE\ntwo\n");
    let h = open(&mut host, &path, "w");
    close(&mut host, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}

#[test]
fn unknown_and_closed_handles_are_refused_by_every_command() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("f");
    std::fs::write(&path, b"data").unwrap();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "r+");
    assert_eq!(close(&mut host, h), json!({"return": {}}));
    for handle in [h, 99, -1] {
        let not_found = format!("handle '{handle}' has not been found");
        let requests = [
            json!({"execute": "guest-file-close", "arguments": {"handle": handle}}),
            json!({"execute": "guest-file-flush", "arguments": {"handle": handle}}),
            json!({"execute": "guest-file-read", "arguments": {"handle": handle}}),
            // The handle is looked up before the count, the data and the
            // whence are checked.
            json!({"execute": "guest-file-read", "arguments": {"handle": handle, "count": -1}}),
            json!({"execute": "guest-file-write", "arguments": {"handle": handle, "buf-b64": "QUJD"}}),
            json!({"execute": "guest-file-write", "arguments": {"handle": handle, "buf-b64": "QU!D"}}),
            json!({"execute": "guest-file-write",
                   "arguments": {"handle": handle, "buf-b64": "QUJD", "count": 9}}),
            json!({"execute": "guest-file-seek",
                   "arguments": {"handle": handle, "offset": 0, "whence": 7}}),
        ];
        for request in requests {
            let reply = host.request(&request.to_string());
            assert_eq!(
                error_of(&reply),
                ("GenericError".to_string(), not_found.clone()),
                "{request}"
            );
        }
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[test]
fn bad_write_data_writes_nothing() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("f");
    std::fs::write(&path, b"keep").unwrap();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "r+");
    for (args, expected) in [
        (
            json!({"buf-b64": "QU!D"}),
            "Base64 data contains invalid characters",
        ),
        (
            json!({"buf-b64": "QUJD\r\n"}),
            "Base64 data contains invalid characters",
        ),
        (
            json!({"buf-b64": "QUJD", "count": 4}),
            "value '4' is invalid for argument count",
        ),
        (
            json!({"buf-b64": "QUJD", "count": -1}),
            "value '-1' is invalid for argument count",
        ),
        (
            json!({"buf-b64": "QU!D", "count": -1}),
            "Base64 data contains invalid characters",
        ),
    ] {
        let mut arguments = args.clone();
        arguments["handle"] = json!(h);
        let reply = host
            .request(&json!({"execute": "guest-file-write", "arguments": arguments}).to_string());
        assert_eq!(desc(&reply), expected, "{args}");
    }
    assert_eq!(
        seek(&mut host, h, 0, json!("cur")),
        json!({"return": {"position": 0, "eof": false}})
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    // count shortens the data; newlines in base64 are skipped.
    let reply = host.request(
        &json!({"execute": "guest-file-write",
                "arguments": {"handle": h, "buf-b64": "QUJD\nREVG", "count": 2}})
        .to_string(),
    );
    assert_eq!(reply, json!({"return": {"count": 2, "eof": false}}));
    close(&mut host, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"ABep");
}

#[test]
fn read_counts_above_the_limit_are_refused() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("f");
    std::fs::write(&path, b"abc").unwrap();
    let mut host = agent.connect();
    let h = open(&mut host, &path, "r");
    for count in [-1i64, (48 << 20) + 1, i64::MAX] {
        assert_eq!(
            desc(&read_reply(&mut host, h, count)),
            format!("value '{count}' is invalid for argument count")
        );
    }
    assert_eq!(read(&mut host, h, 48 << 20), (b"abc".to_vec(), true));
    close(&mut host, h);
}

#[test]
fn open_errors_and_modes() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let mut host = agent.connect();
    let missing = work.0.join("missing");
    let request = |path: &Path, mode: &str| {
        json!({"execute": "guest-file-open", "arguments": {"path": path, "mode": mode}}).to_string()
    };
    assert_eq!(
        desc(&host.request(&request(&missing, "r"))),
        format!(
            "failed to open file '{}' (mode: 'r'): No such file or directory",
            missing.display()
        )
    );
    assert!(!missing.exists());
    for bad in ["z", "", "rw", "wx", "re", "br"] {
        assert_eq!(
            desc(&host.request(&request(&missing, bad))),
            format!("invalid file open mode '{bad}'")
        );
    }
    assert_eq!(
        desc(&host.request(&request(&work.0, "w"))),
        format!(
            "failed to open file '{}' (mode: 'w'): Is a directory",
            work.0.display()
        )
    );
    let long = work.0.join("x".repeat(5000));
    assert!(desc(&host.request(&request(&long, "r"))).ends_with("): File name too long"));
    // The default mode is "r".
    std::fs::write(&missing, b"now here").unwrap();
    let reply = host.request(
        &json!({"execute": "guest-file-open", "arguments": {"path": missing}}).to_string(),
    );
    let h = reply["return"].as_i64().unwrap();
    assert_eq!(
        desc(&write(&mut host, h, b"x")),
        "failed to write to file: Bad file descriptor"
    );
    for mode in [
        "r", "rb", "w", "wb", "a", "ab", "r+", "r+b", "rb+", "w+", "w+b", "wb+", "a+", "a+b", "ab+",
    ] {
        let h = open(&mut host, &missing, mode);
        close(&mut host, h);
    }
}

/// The handles of a path in the helper's descriptor table, with their
/// open flags.
fn helper_fd_flags(helper: u32, path: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{helper}/fd"))
        .unwrap()
        .flatten()
    {
        if std::fs::read_link(entry.path()).ok().as_deref() == Some(path) {
            out.push(tests::fd_flags(
                helper,
                &entry.file_name().to_string_lossy(),
            ));
        }
    }
    out
}

#[test]
fn handles_are_held_by_the_helper_close_on_exec_and_survive_reconnects_and_front_restarts() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("kept");
    let mut host = agent.connect();
    let h = open(&mut host, &path, "w+");
    write(&mut host, h, b"before");
    let flags = helper_fd_flags(agent.helper_pid(), &path);
    assert_eq!(flags.len(), 1, "one descriptor, in the helper");
    assert_ne!(flags[0] & libc::O_CLOEXEC as u32, 0, "close-on-exec");
    assert_ne!(flags[0] & libc::O_NONBLOCK as u32, 0, "non-blocking");
    let front = agent.front_pid().unwrap();
    assert!(
        helper_fd_flags(front, &path).is_empty(),
        "the front never has it"
    );

    // A new host connection sees the same handle.
    drop(host);
    let mut host = agent.connect();
    write(&mut host, h, b" reconnect");
    drop(host);

    // A new front too.
    // SAFETY: killing the agent's front process.
    unsafe { libc::kill(front as i32, libc::SIGKILL) };
    agent.wait_new_front(front);
    let mut host = agent.connect();
    write(&mut host, h, b" restart");
    seek(&mut host, h, 0, json!("set"));
    assert_eq!(
        read(&mut host, h, 100),
        (b"before reconnect restart".to_vec(), true)
    );
    assert_eq!(close(&mut host, h), json!({"return": {}}));
    assert!(helper_fd_flags(agent.helper_pid(), &path).is_empty());
}

#[test]
fn handle_numbers_keep_growing_across_agent_restarts() {
    let mut agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("f");
    let state = agent.dir.0.join("qga.state");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "[global]\nfd_counter=1000\n"
    );
    let mut host = agent.connect();
    assert_eq!(open(&mut host, &path, "w"), 1000);
    // A failed open takes no number.
    let reply = host.request(
        &json!({"execute": "guest-file-open", "arguments": {"path": work.0.join("no/such")}})
            .to_string(),
    );
    assert!(reply.get("error").is_some());
    assert_eq!(open(&mut host, &path, "r"), 1001);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "[global]\nfd_counter=1002\n"
    );
    drop(host);

    agent.restart();
    let mut host = agent.connect();
    // Handles do not outlive the agent; numbers are not reused.
    assert_eq!(
        desc(&close(&mut host, 1000)),
        "handle '1000' has not been found"
    );
    assert_eq!(open(&mut host, &path, "r"), 1002);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "[global]\nfd_counter=1003\n"
    );
}

#[test]
fn open_handles_are_bounded() {
    let agent = Agent::start(POLICY);
    let work = TempDir::new("files");
    let path = work.0.join("f");
    std::fs::write(&path, b"").unwrap();
    let mut host = agent.connect();
    let handles: Vec<i64> = (0..MAX_OPEN_FILE_HANDLES)
        .map(|_| open(&mut host, &path, "r"))
        .collect();
    let other = work.0.join("not-created");
    let reply = host.request(
        &json!({"execute": "guest-file-open", "arguments": {"path": other, "mode": "w"}})
            .to_string(),
    );
    assert_eq!(
        desc(&reply),
        format!(
            "failed to open file '{}' (mode: 'w'): too many guest-file handles open (at most {MAX_OPEN_FILE_HANDLES})",
            other.display()
        )
    );
    assert!(!other.exists(), "a refused open creates nothing");
    close(&mut host, handles[0]);
    let h = open(&mut host, &other, "w");
    assert_eq!(h, handles[MAX_OPEN_FILE_HANDLES - 1] + 1);
}

#[test]
fn file_commands_are_enabled_in_guest_info() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let info = host.request(r#"{"execute":"guest-info"}"#);
    for name in [
        "guest-file-open",
        "guest-file-close",
        "guest-file-read",
        "guest-file-write",
        "guest-file-seek",
        "guest-file-flush",
    ] {
        let entry = info["return"]["supported_commands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        assert_eq!(entry["enabled"], true, "{name}");
    }
    // flush succeeds on a live handle
    let work = TempDir::new("files");
    let h = open(&mut host, &work.0.join("f"), "w");
    assert_eq!(
        host.request(
            &json!({"execute": "guest-file-flush", "arguments": {"handle": h}}).to_string()
        ),
        json!({"return": {}})
    );
}
