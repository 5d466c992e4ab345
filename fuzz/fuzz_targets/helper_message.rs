//! The helper's message decoder, the only way bytes from the front become a
//! request: any datagram either decodes to exactly one message (which then
//! round-trips) or is refused; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::internal::{decode, encode, ToHelper};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode::<ToHelper>(data) {
        let _ = message.request.command_name();
        let again = encode(&message).expect("a decoded message encodes");
        assert_eq!(decode::<ToHelper>(&again).expect("round trip"), message);
    }
});
