//! The front's data path for file transfers, without sockets or the helper,
//! so a profiler sees only the front's own work:
//!
//!   cargo build --release -p tests --bin front-hotpath
//!   valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/front-hotpath
//!   callgrind_annotate cg.out | head -40
//!
//! One round: a guest-file-write request carrying 1 MiB (base64) through
//! the JSON stream parser, the argument decoder and the base64 decoder; and
//! a guest-file-read reply carrying 1 MiB encoded and printed as the front
//! prints it.

#[path = "../../../agent-front/src/json/mod.rs"]
#[allow(dead_code)]
mod json;

#[path = "../../../agent-front/src/args.rs"]
#[allow(dead_code)]
mod args;

use protocol::qbase64;
use protocol::qga::FileWriteArgs;
use serde_json::Value;

const PAYLOAD: usize = 1 << 20;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    let data: Vec<u8> = (0..PAYLOAD).map(|i| (i * 7 + i / 3) as u8).collect();
    let request = format!(
        "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":1000,\"buf-b64\":\"{}\"}}}}",
        qbase64::encode(&data)
    );
    let mut checksum = 0usize;
    for _ in 0..rounds {
        // Host to front: parse, decode arguments, decode base64.
        let mut streamer = json::Streamer::new();
        let mut items = Vec::new();
        for chunk in request.as_bytes().chunks(64 << 10) {
            streamer.feed(chunk, &mut |i| items.push(i));
        }
        let Some(json::StreamItem::Value(Value::Object(map))) = items.pop() else {
            panic!("request did not parse");
        };
        let arguments = map.get("arguments").and_then(Value::as_object);
        let args: FileWriteArgs = args::decode(arguments).expect("arguments");
        let decoded = qbase64::decode(&args.buf_b64).expect("base64");
        checksum = checksum.wrapping_add(decoded.len());

        // Front to host: encode and print a read reply.
        let mut out = Vec::new();
        json::writer::write_members(
            &[("return", &|o| {
                json::writer::write_file_read_result(&data, false, o)
            })],
            &mut out,
        );
        checksum = checksum.wrapping_add(out.len());
    }
    println!("{rounds} rounds, checksum {checksum}");
}
