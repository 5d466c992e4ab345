//! A compromised front, played by `hostile-front`, which the real helper
//! starts in the front's place (same privilege drop and filters) and which
//! relays raw datagrams from this test to the helper's end of the internal
//! socket. The helper must refuse what the policy forbids, drop what does
//! not decode, and keep serving.

use protocol::internal::{decode, encode, FromHelper, HelperReply, HelperRequest, ToHelper};
use protocol::limits::MAX_MESSAGE_BYTES;
use protocol::qga::GuestFsfreezeStatus;
use protocol::ErrorClass;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use tests::{bin_dir, Agent, AgentOptions};

const POLICY: &str = "[allow]\ncommands = [\"guest-fsfreeze-status\"]\n";

struct Relay {
    /// The agent's log file, shown when something goes wrong.
    log: std::path::PathBuf,
    out: UnixStream,
    lines: std::io::Lines<BufReader<UnixStream>>,
}

impl Relay {
    fn connect(agent: &Agent) -> (Relay, Vec<Vec<u8>>) {
        let stream = agent.connect().into_stream();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut relay = Relay {
            log: agent.log.clone(),
            out: stream.try_clone().unwrap(),
            lines: BufReader::new(stream).lines(),
        };
        let first = relay.collect();
        (relay, first)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Datagrams from the helper until the relay goes idle.
    fn collect(&mut self) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for line in self.lines.by_ref() {
            let line = line.expect("relay line");
            match line.as_str() {
                "idle" => return got,
                "closed" => panic!("helper closed the link; log:\n{}", self.log_text()),
                l if l.starts_with("send-error") => panic!("{l}"),
                hex => got.push(unhex(hex)),
            }
        }
        panic!("relay ended");
    }

    fn send(&mut self, datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let line: Vec<String> = datagrams.iter().map(|d| hex(d)).collect();
        writeln!(self.out, "{}", line.join(" ")).unwrap();
        self.collect()
    }

    /// Sends one request and waits for the reply with its sequence number.
    /// Late replies to earlier (mutated but valid) requests are skipped; on
    /// a loaded machine a reply can take longer than one relay poll.
    fn call(&mut self, seq: u32, request: HelperRequest) -> FromHelper {
        let mut replies = self.send(&[encode(&ToHelper {
            seq,
            request,
            id: None,
        })
        .unwrap()]);
        for _ in 0..100 {
            for bytes in replies.drain(..) {
                let message: FromHelper = decode(&bytes).expect("helper reply decodes");
                if matches!(message, FromHelper::Reply { seq: got, .. } if got == seq) {
                    return message;
                }
            }
            replies = self.send(&[]);
        }
        panic!("no reply to request {seq}; log:\n{}", self.log_text());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn start() -> Agent {
    start_with_policy(POLICY)
}

fn start_with_policy(policy: &str) -> Agent {
    Agent::start_with(AgentOptions {
        policy,
        extra_args: vec![
            "--front-path".into(),
            bin_dir()
                .join("hostile-front")
                .to_string_lossy()
                .into_owned(),
        ],
    })
}

fn assert_status_works(relay: &mut Relay, seq: u32) {
    match relay.call(seq, HelperRequest::FsfreezeStatus) {
        FromHelper::Reply { seq: got, result } => {
            assert_eq!(got, seq);
            assert_eq!(
                result,
                Ok(HelperReply::FsfreezeStatus(GuestFsfreezeStatus::Thawed))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn helper_refuses_a_policy_denied_request_on_its_own() {
    let agent = start();
    let (mut relay, first) = Relay::connect(&agent);
    let state: FromHelper = decode(&first[0]).unwrap();
    let FromHelper::State(state) = state else {
        panic!("{state:?}")
    };
    assert!(!state.frozen);
    match relay.call(9, HelperRequest::GetTime) {
        FromHelper::Reply {
            seq: 9,
            result: Err(e),
        } => {
            assert_eq!(e.class, ErrorClass::CommandNotFound);
            assert_eq!(e.desc, "Command guest-get-time has been disabled");
        }
        other => panic!("denied request got {other:?}"),
    }
    assert_status_works(&mut relay, 10);
    assert!(agent
        .log_text()
        .contains("command=\"guest-get-time\" allowed=false"));
}

#[test]
fn helper_drops_truncated_oversized_and_garbage_messages_and_keeps_serving() {
    let mut agent = start();
    let (mut relay, _) = Relay::connect(&agent);
    let valid = encode(&ToHelper {
        seq: 1,
        request: HelperRequest::FsfreezeStatus,
        id: None,
    })
    .unwrap();
    let mut trailing = valid.clone();
    trailing.push(0);
    let hostile = vec![
        valid[..1].to_vec(),              // truncated
        vec![0u8; MAX_MESSAGE_BYTES + 1], // oversized
        vec![1, 0xC8, 0x01],              // unknown request variant
        trailing,                         // bytes after the message
        vec![0xFF; 16],                   // varint overflow
        Vec::new(),                       // empty datagram
    ];
    assert!(
        relay.send(&hostile).is_empty(),
        "no reply to undecodable messages"
    );
    assert_status_works(&mut relay, 2);

    // Ten thousand random and mutated messages, in batches.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for batch in 0..100 {
        let mut datagrams = Vec::new();
        for _ in 0..100 {
            let mut bytes = valid.clone();
            match next() % 3 {
                0 => {
                    let len = (next() % 64) as usize + 1;
                    bytes = (0..len).map(|_| next() as u8).collect();
                }
                1 => {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] ^= (next() as u8) | 1;
                }
                _ => bytes.truncate((next() as usize) % bytes.len()),
            }
            datagrams.push(bytes);
        }
        // Mutations can produce valid requests; every reply must decode.
        for reply in relay.send(&datagrams) {
            let _: FromHelper = decode(&reply).expect("helper replies are well formed");
        }
        assert_status_works(&mut relay, 1000 + batch);
    }
    assert!(agent.is_running(), "helper survived");
    let log = agent.log_text();
    let dropped = log
        .lines()
        .filter(|l| l.contains("from front dropped"))
        .count();
    assert!(dropped >= 5, "bad messages are logged:\n{log}");
    assert!(dropped < 40, "but rate-limited ({dropped} lines)");
}

#[test]
fn exec_pieces_are_policy_checked_like_the_commands_they_belong_to() {
    let agent = start();
    let (mut relay, _) = Relay::connect(&agent);
    let requests = [
        (
            HelperRequest::ExecStage(protocol::internal::ExecStage {
                input: vec![0; 1000],
                ..Default::default()
            }),
            "guest-exec",
        ),
        (
            HelperRequest::ExecOutput {
                pid: 1,
                stream: protocol::internal::ExecStream::Out,
                offset: 0,
            },
            "guest-exec-status",
        ),
    ];
    for (seq, (request, command)) in requests.into_iter().enumerate() {
        match relay.call(seq as u32, request) {
            FromHelper::Reply { result: Err(e), .. } => {
                assert_eq!(e.class, ErrorClass::CommandNotFound);
                assert_eq!(e.desc, format!("Command {command} has been disabled"));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_status_works(&mut relay, 50);
}

/// The helper judges the program itself: a front that sends a guest-exec
/// for a program the policy does not name gets a refusal, and what it
/// staged for it is dropped.
#[test]
fn exec_of_a_program_the_policy_does_not_name_is_refused_by_the_helper() {
    use protocol::internal::{ExecStage, ExecStart};
    use protocol::qga::GuestExecCaptureOutputMode;
    let allowed = std::fs::canonicalize("/bin/true").unwrap();
    let agent = start_with_policy(&format!(
        "[allow]\ncommands = [\"guest-fsfreeze-status\", \"guest-exec\", \"guest-exec-status\"]\n\
         [rules.guest-exec]\nprograms = [{:?}]\n",
        allowed.display().to_string()
    ));
    let (mut relay, _) = Relay::connect(&agent);
    let start = |path: &str, args: u32| {
        HelperRequest::Exec(ExecStart {
            path: path.into(),
            capture: GuestExecCaptureOutputMode::None,
            args,
            env: 0,
            input: None,
        })
    };
    let stage = HelperRequest::ExecStage(ExecStage {
        args: vec!["-c".into(), "id".into()],
        ..Default::default()
    });
    assert!(matches!(
        relay.call(1, stage),
        FromHelper::Reply {
            result: Ok(HelperReply::ExecStaged),
            ..
        }
    ));
    match relay.call(2, start("/bin/sh", 2)) {
        FromHelper::Reply { result: Err(e), .. } => {
            assert_eq!(e.class, ErrorClass::GenericError);
            assert!(
                e.desc.starts_with("Command guest-exec denied by policy ("),
                "{}",
                e.desc
            );
        }
        other => panic!("{other:?}"),
    }
    // The refused request's pieces are gone: a request without any starts.
    match relay.call(3, start("/bin/true", 0)) {
        FromHelper::Reply {
            result: Ok(HelperReply::ExecStarted { pid }),
            ..
        } => assert!(pid > 0),
        other => panic!("{other:?}"),
    }
    assert_status_works(&mut relay, 4);
}

#[test]
fn a_forged_request_id_cannot_flood_or_forge_the_audit_log() {
    let agent = start();
    let (mut relay, _) = Relay::connect(&agent);
    // A line break to start a forged line, then enough to flood the log.
    let id = format!(
        "1\n2026-01-01T00:00:00Z  INFO audit: decision forged{}",
        "x".repeat(100_000)
    );
    let replies = relay.send(&[encode(&ToHelper {
        seq: 5,
        request: HelperRequest::GetTime,
        id: Some(id),
    })
    .unwrap()]);
    let reply: FromHelper = decode(&replies[0]).unwrap();
    assert!(
        matches!(
            reply,
            FromHelper::Reply {
                seq: 5,
                result: Err(_)
            }
        ),
        "{reply:?}"
    );
    let log = agent.log_text();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("audit: decision") && l.contains("guest-get-time"))
        .collect();
    assert_eq!(audit.len(), 1, "{log}");
    assert!(audit[0].len() < 500, "{}", audit[0]);
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "{log}"
    );
    assert!(audit[0].contains(r#"id="1\n2026-01-01"#), "{}", audit[0]);
}

#[test]
fn helper_bounds_file_requests_itself() {
    use protocol::limits::{FILE_CHUNK_BYTES, FILE_DATA_PIPE_BYTES};
    let agent =
        start_with_policy("[allow]\ncommands = [\"guest-fsfreeze-status\", \"guest-file-*\"]\n");
    let (mut relay, _) = Relay::connect(&agent);
    let work = tests::TempDir::new("hostile-files");
    let path = work.0.join("f");
    std::fs::write(&path, vec![7u8; 3 * FILE_CHUNK_BYTES]).unwrap();
    let result = |reply: FromHelper| match reply {
        FromHelper::Reply { result, .. } => result,
        other => panic!("{other:?}"),
    };
    let open = HelperRequest::FileOpen {
        path: path.to_string_lossy().into_owned(),
        mode: protocol::file_mode::OpenMode::parse("r+").unwrap(),
    };
    let Ok(HelperReply::FileHandle(handle)) = result(relay.call(1, open)) else {
        panic!("open failed")
    };
    let desc = |r: Result<HelperReply, protocol::QgaError>| r.unwrap_err().desc;
    // Replies never exceed one chunk of data, whatever the front asks.
    for count in [FILE_CHUNK_BYTES as i64 + 1, 48 << 20] {
        let reply = result(relay.call(2, HelperRequest::FileRead { handle, count }));
        assert_eq!(
            desc(reply),
            "guest agent internal error: file read larger than one chunk"
        );
    }
    let reply = result(relay.call(3, HelperRequest::FileRead { handle, count: -5 }));
    assert_eq!(desc(reply), "value '-5' is invalid for argument count");
    let too_much = HelperRequest::FileWrite {
        handle,
        data: vec![1u8; FILE_CHUNK_BYTES + 1],
    };
    assert_eq!(
        desc(result(relay.call(4, too_much))),
        "guest agent internal error: file write larger than one chunk"
    );
    let seek = HelperRequest::FileSeek {
        handle,
        offset: 0,
        whence: 9,
    };
    assert_eq!(desc(result(relay.call(5, seek))), "invalid whence code 9");
    let full = HelperRequest::FileRead {
        handle,
        count: FILE_CHUNK_BYTES as i64,
    };
    // This front leaves the data in its file-data pipe: once the pipe is
    // full, a read finds no room and fails at once instead of holding the
    // helper.
    let fit = FILE_DATA_PIPE_BYTES / FILE_CHUNK_BYTES;
    for seq in 6..6 + fit as u32 {
        match result(relay.call(seq, full.clone())) {
            Ok(HelperReply::FileDataPiped { count, eof }) => {
                assert_eq!(count as usize, FILE_CHUNK_BYTES);
                assert!(!eof);
            }
            other => panic!("{other:?}"),
        }
    }
    let reply = result(relay.call(6 + fit as u32, full));
    assert!(
        desc(reply).ends_with("Resource temporarily unavailable"),
        "{}",
        relay.log_text()
    );
    assert!(
        std::fs::read(&path).unwrap().iter().all(|&b| b == 7),
        "nothing written"
    );
    assert_status_works(&mut relay, 7 + fit as u32);
}

/// A compromised front asks the helper directly for files the policy keeps
/// out of reach, and for more handles than the helper allows: it gets
/// neither, and the helper keeps serving.
#[test]
fn a_hostile_front_cannot_open_outside_the_rules_or_exhaust_handles() {
    let dir = tests::TempDir::new("hostile-files");
    let allowed = dir.0.join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::write(allowed.join("ok.txt"), b"fine").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", allowed.join("link-to-shadow")).unwrap();
    let policy = format!(
        "[allow]\ncommands = [\"guest-fsfreeze-status\", \"guest-file-*\"]\n\
         [rules.guest-file-open]\npaths = [\"{}/**\"]\nmodes = [\"r\"]\n",
        allowed.display()
    );
    let agent = start_with_policy(&policy);
    let (mut relay, _) = Relay::connect(&agent);
    let open = |path: &str, mode: &str| HelperRequest::FileOpen {
        path: path.to_string(),
        mode: protocol::file_mode::OpenMode::parse(mode).unwrap(),
    };
    let escapes = [
        ("/etc/shadow", "r"),
        (&*format!("{}/../../../etc/shadow", allowed.display()), "r"),
        (&*format!("{}/link-to-shadow", allowed.display()), "r"),
        (&*format!("{}/ok.txt", allowed.display()), "w"),
    ];
    for (i, (path, mode)) in escapes.iter().enumerate() {
        match relay.call(10 + i as u32, open(path, mode)) {
            FromHelper::Reply { result: Err(e), .. } => {
                assert!(
                    e.desc.contains("denied") || e.desc.contains("disabled"),
                    "{path}: {e:?}"
                )
            }
            other => panic!("{path} ({mode}) was not refused: {other:?}"),
        }
    }
    let inside = format!("{}/ok.txt", allowed.display());
    let mut opened = 0;
    let mut refused = 0;
    for i in 0..200u32 {
        match relay.call(100 + i, open(&inside, "r")) {
            FromHelper::Reply {
                result: Ok(HelperReply::FileHandle(_)),
                ..
            } => opened += 1,
            FromHelper::Reply { result: Err(_), .. } => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        opened,
        protocol::limits::MAX_OPEN_FILE_HANDLES,
        "handles are bounded"
    );
    assert_eq!(refused, 200 - opened);
    assert_status_works(&mut relay, 999);
}

/// Values that fail qemu-ga's checks cannot be made on the front's side of
/// the link, and do not decode on the helper's: a request whose key is a
/// comment line, or whose user name holds a NUL, is dropped unanswered,
/// while the same request with proper values is answered.
#[test]
fn helper_drops_ssh_requests_with_unchecked_values() {
    use protocol::ssh::{PublicKeys, UserName};
    let agent = start();
    let (mut relay, _) = Relay::connect(&agent);
    let request = |user: &str, key: &str| HelperRequest::SshAddAuthorizedKeys {
        user: UserName::new(user),
        keys: PublicKeys::check(&[key.to_string()]).unwrap(),
        reset: true,
    };
    // Encoded with a placeholder (the first byte of `from`), which is then
    // changed on the wire.
    let patched = |request: HelperRequest, from: &[u8], to: u8| {
        let mut bytes = encode(&ToHelper {
            seq: 3,
            request,
            id: None,
        })
        .unwrap();
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("placeholder in the message");
        bytes[at] = to;
        bytes
    };
    let comment_key = patched(request("root", "Xplanted key"), b"Xplanted", b'#');
    let nul_user = patched(request("rootX", "k"), b"X", 0);
    let newline_key = patched(request("root", "Xb"), b"Xb", b'\n');
    assert!(
        relay.send(&[comment_key, nul_user, newline_key]).is_empty(),
        "no reply to values that fail the check"
    );
    match relay.call(4, request("root", "k")) {
        FromHelper::Reply {
            seq: 4,
            result: Err(e),
        } => assert_eq!(
            e.desc,
            "Command guest-ssh-add-authorized-keys has been disabled"
        ),
        other => panic!("{other:?}"),
    }
    assert_status_works(&mut relay, 5);
}

#[test]
fn a_front_that_stops_reading_is_stopped_and_replaced() {
    let mut agent = start();
    let (mut relay, _) = Relay::connect(&agent);
    // Far more requests than the link holds replies for, in one line: the
    // relay reads nothing back until it has sent them all, so the helper's
    // replies fill the link and its sends wait.
    let flood: Vec<String> = (0..20_000)
        .map(|seq| {
            hex(&encode(&ToHelper {
                seq,
                request: HelperRequest::FsfreezeStatus,
                id: None,
            })
            .unwrap())
        })
        .collect();
    writeln!(relay.out, "{}", flood.join(" ")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !agent
        .log_text()
        .contains("the front stopped reading its replies; stopping it")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the helper kept waiting on a front that does not read:\n{}",
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(agent.is_running(), "helper survived");
    // The next front is started and served.
    let (mut relay, _) = Relay::connect(&agent);
    assert_status_works(&mut relay, 1);
    assert!(agent.log_text().contains("restarting front"));
}
