//! Properties of the evaluator over many generated policies and requests.
//! A small xorshift generator with fixed seeds keeps every run the same
//! (a failure names its seed and case) without any extra dependency.

use policy::path_glob::{normalize_lexically, PathPattern};
use policy::rpc_lists::command_line_origin;
use policy::{Policy, PolicyRequest, RpcLists};
use protocol::commands::{ALWAYS_ENABLED, COMMANDS};
use std::path::PathBuf;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

/// A pattern that matches `name` (and maybe others): some characters
/// become `?`, some runs become `*`.
fn pattern_for(rng: &mut Rng, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match rng.below(10) {
            0 => {
                out.push('*');
                i += rng.below(chars.len() - i + 1);
            }
            1 => {
                out.push('?');
                i += 1;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Every kind of request, with arguments drawn at random.
fn random_request<'a>(rng: &mut Rng, paths: &'a [PathBuf]) -> PolicyRequest<'a> {
    let path = paths[rng.below(paths.len())].as_path();
    match rng.below(9) {
        0 => PolicyRequest::FileOpen {
            path,
            mode: rng.pick(&["r", "w", "a+", "rb"]),
        },
        1 => PolicyRequest::SetUserPassword {
            user: rng.pick(&["root", "cloud-user", "ann"]),
            crypted: rng.chance(50),
        },
        2 => PolicyRequest::Mountpoints {
            command: rng.pick(&[
                "guest-fsfreeze-freeze",
                "guest-fsfreeze-freeze-list",
                "guest-fstrim",
            ]),
            mountpoints: vec![path],
        },
        3 => PolicyRequest::SetVcpus {
            offlining: rng.chance(50),
            online_after: rng.below(8) as u32,
        },
        4 => PolicyRequest::SetMemoryBlocks {
            offlining: rng.chance(50),
        },
        5 => PolicyRequest::Shutdown {
            mode: rng.pick(&["halt", "powerdown", "reboot"]),
        },
        6 => PolicyRequest::Exec { path },
        7 => PolicyRequest::SshKeys {
            command: rng.pick(&[
                "guest-ssh-get-authorized-keys",
                "guest-ssh-add-authorized-keys",
                "guest-ssh-remove-authorized-keys",
            ]),
            user: rng.pick(&["root", "cloud-user"]),
        },
        _ => PolicyRequest::Other(rng.pick(&command_names())),
    }
}

fn random_path(rng: &mut Rng) -> PathBuf {
    let words = [
        "var", "log", "etc", "shadow", "srv", "a.csv", "x", ".", "..",
    ];
    let mut path = String::new();
    for _ in 0..=rng.below(5) {
        path.push('/');
        path.push_str(rng.pick(&words));
    }
    PathBuf::from(path)
}

#[test]
fn nothing_is_allowed_under_default_deny_with_empty_lists() {
    let mut rng = Rng::new(1);
    let paths: Vec<PathBuf> = (0..50).map(|_| random_path(&mut rng)).collect();
    for text in [
        "",
        "default = \"deny\"\n",
        "default = \"deny\"\n[allow]\ncommands = []\n[deny]\ncommands = []\n",
    ] {
        let p = Policy::parse(text, "p.toml").unwrap();
        for case in 0..5000 {
            let request = random_request(&mut rng, &paths);
            let d = p.decide(&request);
            let always = ALWAYS_ENABLED.contains(&request.command());
            assert_eq!(d.allowed, always, "case {case}: {request:?} -> {}", d.rule);
        }
    }
}

#[test]
fn a_deny_pattern_always_beats_an_allow_pattern() {
    let names = command_names();
    for seed in 0..400 {
        let mut rng = Rng::new(seed);
        let allow: Vec<String> = (0..=rng.below(4))
            .map(|_| {
                let name = rng_name(&mut rng, &names);
                pattern_for(&mut rng, name)
            })
            .collect();
        let mut deny: Vec<String> = (0..=rng.below(4))
            .map(|_| {
                let name = rng_name(&mut rng, &names);
                pattern_for(&mut rng, name)
            })
            .collect();
        // The same pattern in both lists is refused as a conflict.
        deny.retain(|d| !allow.contains(d));
        let default = rng.pick(&["allow", "deny"]);
        let text = format!(
            "default = \"{default}\"\n[allow]\ncommands = {}\n[deny]\ncommands = {}\n",
            toml_list(&allow),
            toml_list(&deny)
        );
        let p = Policy::parse(&text, "p.toml").unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for name in &names {
            let denied_by = deny.iter().find(|d| glob_matches(d, name));
            let allowed_by = allow.iter().find(|a| glob_matches(a, name));
            let d = p.decide_command(name);
            // guest-exec has no program list here, so it is always refused.
            let want = ALWAYS_ENABLED.contains(name)
                || (denied_by.is_none()
                    && *name != "guest-exec"
                    && (allowed_by.is_some() || default == "allow"));
            assert_eq!(d.allowed, want, "seed {seed}, {name}: {text}\n{}", d.rule);
        }
    }
}

fn rng_name<'a>(rng: &mut Rng, names: &[&'a str]) -> &'a str {
    names[rng.below(names.len())]
}

/// A reference matcher, as simple as possible: recursion over characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// A reference path matcher: `**` spans components, `*`/`?` stay within one.
fn path_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[&str], n: &[&str]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(&"**") => (0..=n.len()).any(|k| go(&p[1..], &n[k..])),
            Some(c) => !n.is_empty() && glob_matches(c, n[0]) && go(&p[1..], &n[1..]),
        }
    }
    let split = |s: &str| -> Vec<String> {
        s.trim_start_matches('/')
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let (p, n) = (split(pattern), split(path));
    let p: Vec<&str> = p.iter().map(String::as_str).collect();
    let n: Vec<&str> = n.iter().map(String::as_str).collect();
    go(&p, &n)
}

fn random_path_pattern(rng: &mut Rng) -> String {
    let parts = [
        "var", "log", "etc", "srv", "*", "**", "?og", "s*", "*.csv", "x",
    ];
    let mut out = String::new();
    for _ in 0..=rng.below(4) {
        out.push('/');
        out.push_str(rng.pick(&parts));
    }
    out
}

#[test]
fn path_matching_agrees_with_a_reference_matcher() {
    let mut rng = Rng::new(7);
    for case in 0..20000 {
        let pattern = random_path_pattern(&mut rng);
        let path = normalize_lexically(&random_path(&mut rng));
        let compiled = PathPattern::parse(&pattern).unwrap();
        let want = path_matches(&pattern, path.to_str().unwrap());
        assert_eq!(
            compiled.matches(&path),
            want,
            "case {case}: {pattern} vs {}",
            path.display()
        );
    }
}

#[test]
fn a_deny_path_always_beats_an_allowed_path() {
    let (mut allowed, mut denied_by_deny) = (0, 0);
    for seed in 0..300 {
        let mut rng = Rng::new(1000 + seed);
        let allow: Vec<String> = (0..=rng.below(3))
            .map(|_| random_path_pattern(&mut rng))
            .collect();
        let mut deny: Vec<String> = (0..=rng.below(3))
            .map(|_| random_path_pattern(&mut rng))
            .collect();
        deny.retain(|d| !allow.contains(d));
        let text = format!(
            "[allow]\ncommands = [\"guest-file-open\"]\n[rules.guest-file-open]\npaths = {}\n\
             deny-paths = {}\n",
            toml_list(&allow),
            toml_list(&deny)
        );
        let p = Policy::parse(&text, "p.toml").unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for _ in 0..100 {
            let raw = random_path(&mut rng);
            let path = normalize_lexically(&raw);
            let shown = path.to_str().unwrap();
            let d = p.decide(&PolicyRequest::FileOpen {
                path: &path,
                mode: "r",
            });
            let by_deny = deny.iter().any(|d| path_matches(d, shown));
            let want = !by_deny && allow.iter().any(|a| path_matches(a, shown));
            assert_eq!(d.allowed, want, "seed {seed}: {shown}\n{text}{}", d.rule);
            allowed += usize::from(want);
            denied_by_deny += usize::from(by_deny && allow.iter().any(|a| path_matches(a, shown)));
            // An unresolved path is never allowed, whatever it would become.
            if raw != path {
                let d = p.decide(&PolicyRequest::FileOpen {
                    path: &raw,
                    mode: "r",
                });
                assert!(
                    !d.allowed,
                    "seed {seed}: unresolved {} allowed",
                    raw.display()
                );
            }
        }
    }
    // The generator must exercise both outcomes, including paths both
    // lists match.
    assert!(
        allowed > 1000 && denied_by_deny > 100,
        "{allowed} {denied_by_deny}"
    );
}

#[test]
fn a_blocked_command_is_refused_whatever_the_policy_says() {
    let names = command_names();
    for seed in 0..300 {
        let mut rng = Rng::new(5000 + seed);
        let default = rng.pick(&["allow", "deny"]);
        let allow: Vec<String> = (0..=rng.below(4))
            .map(|_| {
                let name = rng_name(&mut rng, &names);
                pattern_for(&mut rng, name)
            })
            .collect();
        let text = format!(
            "default = \"{default}\"\n[allow]\ncommands = {}\n[rules.guest-exec]\n\
             programs = [\"/usr/bin/true\"]\n",
            toml_list(&allow)
        );
        let blocked: Vec<&str> = (0..=rng.below(5))
            .map(|_| rng_name(&mut rng, &names))
            .collect();
        let allowed_list: Option<Vec<&str>> = rng.chance(50).then(|| {
            (0..=rng.below(8))
                .map(|_| rng_name(&mut rng, &names))
                .collect()
        });
        let mut lists = RpcLists::default();
        lists.add_block(&blocked.join(","), &command_line_origin("-b"));
        if let Some(a) = &allowed_list {
            lists.add_allow(&a.join(";"), &command_line_origin("-a"));
        }
        let p = Policy::parse(&text, "p.toml")
            .unwrap()
            .with_rpc_lists(lists);
        let plain = Policy::parse(&text, "p.toml").unwrap();
        for name in &names {
            let d = p.decide_command(name);
            if ALWAYS_ENABLED.contains(name) {
                assert!(d.allowed);
                continue;
            }
            let refused_by_lists =
                blocked.contains(name) || allowed_list.as_ref().is_some_and(|a| !a.contains(name));
            let want = !refused_by_lists && plain.decide_command(name).allowed;
            assert_eq!(d.allowed, want, "seed {seed}, {name}: {}", d.rule);
        }
    }
}
