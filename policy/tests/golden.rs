//! Golden tests: each `golden/NAME.toml` is checked as `--check-policy`
//! would, and the problems found and the verdict line must equal
//! `golden/NAME.out`. Run with `UPDATE_GOLDEN=1` to rewrite the expected
//! files after a deliberate change (then read the diff).

use policy::{CheckReport, Policy};
use std::path::Path;

#[test]
fn every_golden_policy_reports_exactly_its_expected_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "golden files missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let shown = format!("golden/{name}");
        let text = std::fs::read_to_string(&file).unwrap();
        let result = Policy::parse(&text, &shown);
        let report = CheckReport::new(&shown, &result);
        // The table is left out: it depends on which commands this build
        // implements, not on the policy alone.
        let mut got = String::new();
        for d in &report.diagnostics {
            got.push_str(&format!("{d}\n"));
        }
        got.push_str(&report.verdict);
        got.push('\n');
        let expected_path = file.with_extension("out");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} missing", expected_path.display()));
        if got != expected {
            mismatches.push(format!("--- {name}: expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
