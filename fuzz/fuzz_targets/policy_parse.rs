//! The policy parser: any text either parses into a policy whose decisions
//! can be evaluated for every known command and every kind of request, or
//! yields located errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{CheckReport, PolicyRequest};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let result = policy::Policy::parse(text, "fuzz.toml");
    let _ = CheckReport::new("fuzz.toml", &result).to_string();
    match result {
        Ok(p) => {
            for c in protocol::COMMANDS {
                let _ = p.decide_command(c.name);
                let _ = p.decide(&PolicyRequest::Other(c.name));
            }
            let _ = p.enabled_flags();
            let _ = p.diagnostics();
            for path in ["/var/log/syslog", "/", "/etc/../etc/shadow", "relative"] {
                let path = Path::new(path);
                let _ = p.decide(&PolicyRequest::FileOpen { path, mode: "r+" });
                let _ = p.decide(&PolicyRequest::Exec { path });
                let _ = p.decide(&PolicyRequest::Mountpoints {
                    command: "guest-fstrim",
                    mountpoints: vec![path],
                });
            }
            let _ = p.decide(&PolicyRequest::SetUserPassword { user: "root", crypted: true });
            let _ = p.decide(&PolicyRequest::SetVcpus { offlining: true, online_after: 0 });
            let _ = p.decide(&PolicyRequest::Shutdown { mode: "halt" });
        }
        Err(e) => assert!(e.diagnostics.iter().any(|d| d.is_error())),
    }
});
