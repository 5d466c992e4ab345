//! Whatever bytes the host sends, the agent answers with qemu-ga's errors,
//! keeps the connection, keeps its memory bounded, and still answers
//! guest-ping afterwards.

use serde_json::json;
use std::time::Duration;
use tests::{error_of, status_field, Agent, Client};

const POLICY: &str = "[allow]\ncommands = [\"guest-ping\", \"guest-info\"]\n";

fn ping_works(host: &mut Client) {
    // A sentinel first: it drops whatever half-request a case left behind.
    host.send(b"\xff");
    let _ = host.recv_json();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping","id":"after"}"#),
        json!({"return": {}, "id": "after"})
    );
}

fn drain(host: &mut Client) {
    while host.has_output_within(Duration::from_millis(200)) {
        let _ = host.recv_line();
    }
}

#[test]
fn malformed_and_binary_input_corpus() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let corpus: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02\x03".to_vec(),
        b"{\"execute\":\"guest-ping\"".to_vec(),
        b"}}}]]]::,,".to_vec(),
        b"{\"execute\":\"\xc3\x28\"}".to_vec(),
        b"{\"execute\":\"\\ud800\"}".to_vec(),
        b"{\"execute\":\"\\u0000\"}".to_vec(),
        b"{'execute':'guest-ping','arguments':{'a':[1,2,{'b':null}]}}".to_vec(),
        b"99999999999999999999999999999999999999".to_vec(),
        b"-".to_vec(),
        b"1e99999 ".to_vec(),
        b"tru fals nul ".to_vec(),
        b"{\"id\":18446744073709551616,\"execute\":\"guest-ping\"}".to_vec(),
        (0u8..=255).collect(),
        b"\r\n\t {\"execute\"\r\n:\t\"guest-ping\"}".to_vec(),
    ];
    for case in &corpus {
        host.send(case);
        drain(&mut host);
        ping_works(&mut host);
    }
    // Random bytes.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..50 {
        let bytes: Vec<u8> = (0..256)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        host.send(&bytes);
        drain(&mut host);
        ping_works(&mut host);
    }
}

#[test]
fn deep_nesting_is_refused_with_qemu_gas_error() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let depth = 5000;
    let mut request = b"{\"execute\":\"guest-ping\",\"arguments\":".to_vec();
    request.extend(std::iter::repeat_n(b'[', depth));
    host.send(&request);
    let (class, desc) = error_of(&host.recv_json());
    assert_eq!(
        (class.as_str(), desc.as_str()),
        ("GenericError", "JSON nesting depth limit exceeded")
    );
    drain(&mut host);
    ping_works(&mut host);
}

#[test]
fn oversized_request_is_refused_and_memory_stays_bounded() {
    let agent = Agent::start(POLICY);
    let front = agent.wait_new_front(0);
    let host = agent.connect();
    // One 65 MiB string: over the 64 MiB request limit.
    let mut request = b"{\"execute\":\"guest-ping\",\"arguments\":{\"x\":\"".to_vec();
    request.extend(std::iter::repeat_n(b'a', 65 << 20));
    request.extend_from_slice(b"\"}}");
    let writer = {
        let mut stream = host.into_stream();
        let clone = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            // The agent may have moved on before the last byte: that is fine.
            let _ = stream.write_all(&request);
        });
        clone
    };
    let mut host = ClientFrom::new(writer);
    let first = host.line();
    assert_eq!(
        first,
        r#"{"error": {"class": "GenericError", "desc": "JSON token size limit exceeded"}}"#
    );
    // The front holds at most one request's worth of bytes, plus buffers.
    let peak_kib: u64 = status_field(front, "VmHWM")
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    assert!(peak_kib < 200 * 1024, "front peak memory {peak_kib} KiB");
    drop(host);
    let mut host = agent.connect();
    ping_works(&mut host);
}

/// Reads reply lines from a raw stream.
struct ClientFrom {
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
}

impl ClientFrom {
    fn new(stream: std::os::unix::net::UnixStream) -> Self {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        ClientFrom {
            reader: std::io::BufReader::new(stream),
        }
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }
}
