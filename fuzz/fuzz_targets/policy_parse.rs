//! The policy parser: any text either parses into a policy whose decisions
//! can be evaluated for every known command, or yields located errors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match policy::Policy::parse(text, "fuzz.toml") {
        Ok(p) => {
            for c in protocol::COMMANDS {
                let _ = p.decide_command(c.name);
            }
            let _ = p.enabled_flags();
        }
        Err(e) => assert!(!e.diagnostics.is_empty()),
    }
});
