//! What the checks found: one row per check with its outcome and time,
//! printed as each finishes and as a table at the end.

use super::guest::AgentKind;
use super::machine::Accel;
use std::io::Write;

#[derive(Clone, Debug)]
pub enum Outcome {
    Pass(String),
    Skip(String),
    Fail(String),
}

#[derive(Clone, Debug)]
pub struct CheckResult {
    pub name: &'static str,
    pub outcome: Outcome,
    pub seconds: f64,
}

pub struct Report {
    pub agent: AgentKind,
    pub accel: Option<Accel>,
    pub results: Vec<CheckResult>,
    /// Console and agent log when something failed.
    pub diagnostics: String,
}

impl Report {
    pub fn new(agent: AgentKind) -> Report {
        Report {
            agent,
            accel: None,
            results: Vec::new(),
            diagnostics: String::new(),
        }
    }

    pub fn record(&mut self, name: &'static str, outcome: Outcome, seconds: f64) {
        let (word, detail) = outcome_text(&outcome);
        progress(&format!(
            "vm[{}]: {name}: {word} ({seconds:.2} s) {detail}",
            self.agent.label()
        ));
        self.results.push(CheckResult {
            name,
            outcome,
            seconds,
        });
    }

    pub fn any_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Fail(_)))
    }

    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Fail(e) => Some(format!("{}: {e}", r.name)),
                _ => None,
            })
            .collect()
    }

    /// The table of checks, results and times.
    pub fn table(&self) -> String {
        let mut out = format!(
            "VM end-to-end checks, agent {}, accel {}\n",
            self.agent.label(),
            self.accel.map_or("?", Accel::label)
        );
        out.push_str(&format!(
            "{:<34} {:<6} {:>8}  detail\n",
            "check", "result", "seconds"
        ));
        let mut total = 0.0;
        for r in &self.results {
            let (word, detail) = outcome_text(&r.outcome);
            total += r.seconds;
            out.push_str(&format!(
                "{:<34} {:<6} {:>8.2}  {}\n",
                r.name, word, r.seconds, detail
            ));
        }
        out.push_str(&format!("{:<34} {:<6} {:>8.2}\n", "total", "", total));
        out
    }
}

fn outcome_text(outcome: &Outcome) -> (&'static str, &str) {
    match outcome {
        Outcome::Pass(d) => ("pass", d),
        Outcome::Skip(d) => ("skip", d),
        Outcome::Fail(d) => ("FAIL", d),
    }
}

/// The same checks for several agents side by side.
pub fn comparison_table(reports: &[Report]) -> String {
    let mut out = format!("{:<34}", "check");
    for r in reports {
        out.push_str(&format!(" {:>16}", r.agent.label()));
    }
    out.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for r in reports {
        for c in &r.results {
            if !names.contains(&c.name) {
                names.push(c.name);
            }
        }
    }
    for name in names {
        out.push_str(&format!("{name:<34}"));
        for r in reports {
            let cell = match r.results.iter().find(|c| c.name == name) {
                Some(c) => format!("{} {:.2} s", outcome_text(&c.outcome).0, c.seconds),
                None => "-".into(),
            };
            out.push_str(&format!(" {cell:>16}"));
        }
        out.push('\n');
    }
    out
}

/// A line on the real stderr, outside the test harness's capture, so a
/// passing run still shows its progress and times.
pub fn progress(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
