//! The front's host-side input path: bytes, split at an arbitrary point,
//! through qemu-ga's JSON stream parser, then every parsed object through
//! the envelope member checks and the argument decoders of every argument
//! type, and every value back through the reply writer. Nothing may panic,
//! and written replies must be pure ASCII with no raw newline.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../agent-front/src/json/mod.rs"]
#[allow(dead_code)]
mod json;

#[path = "../../agent-front/src/args.rs"]
#[allow(dead_code)]
mod args;

use protocol::qga::*;
use serde_json::Value;

fn decode_all(arguments: Option<&serde_json::Map<String, Value>>) {
    let _ = args::decode::<SyncArgs>(arguments);
    let _ = args::decode::<NoArgs>(arguments);
    let _ = args::decode::<SetTimeArgs>(arguments);
    let _ = args::decode::<ShutdownArgs>(arguments);
    let _ = args::decode::<FileOpenArgs>(arguments);
    let _ = args::decode::<FileHandleArgs>(arguments);
    let _ = args::decode::<FileReadArgs>(arguments);
    let _ = args::decode::<FileWriteArgs>(arguments);
    let _ = args::decode::<FileSeekArgs>(arguments);
    let _ = args::decode::<FsfreezeFreezeListArgs>(arguments);
    let _ = args::decode::<FstrimArgs>(arguments);
    let _ = args::decode::<SetVcpusArgs>(arguments);
    let _ = args::decode::<SetUserPasswordArgs>(arguments);
    let _ = args::decode::<SetMemoryBlocksArgs>(arguments);
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize) % (data.len() + 1);
    let mut streamer = json::Streamer::new();
    let mut items = Vec::new();
    streamer.feed(&data[..split], &mut |i| items.push(i));
    streamer.feed(&data[split..], &mut |i| items.push(i));
    for item in items {
        let json::StreamItem::Value(value) = item else { continue };
        let mut out = Vec::new();
        json::writer::write_value(&value, &mut out);
        assert!(out.iter().all(|&b| b.is_ascii() && b != b'\n'));
        if let Value::Object(map) = &value {
            let _ = json::writer::qdict_order(map);
            match map.get("arguments") {
                Some(Value::Object(a)) => decode_all(Some(a)),
                _ => decode_all(None),
            }
        }
    }
});
