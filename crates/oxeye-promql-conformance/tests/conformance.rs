//! Prometheus's PromQL test scripts against oxeye's engine, checked case by case against `baseline.txt`.
//!
//! Every stable script must be present in `../shared/conformance/promql/`; no case that passed when the baseline
//! was recorded may fail now (see `oxeye_promql_conformance::baseline`). Experimental scripts run and are
//! reported, never failing the test. Run with `-- --nocapture` to see the per-file table, and with
//! `OXEYE_CONFORMANCE_BLESS=1` to rewrite `baseline.txt` from the current results.

use std::path::PathBuf;

use oxeye_promql::Engine;
use oxeye_promql_conformance::{
    Baseline, EXPERIMENTAL_FILES, FileReport, STABLE_FILES, conformance_dir, conformance_engine_options, run_file,
};

const BLESS_VARIABLE: &str = "OXEYE_CONFORMANCE_BLESS";

fn baseline_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("baseline.txt")
}

fn run_files(files: &[&str]) -> Vec<FileReport> {
    let engine = Engine::new(conformance_engine_options());
    let dir = conformance_dir();
    files.iter().map(|file| run_file(&dir.join(file), &engine)).collect()
}

fn print_table(title: &str, reports: &[FileReport]) {
    println!("{title}");
    for report in reports {
        println!("  {}", report.summary());
    }
    let passed: usize = reports.iter().map(|report| report.passed.len()).sum();
    let failed: usize = reports.iter().map(|report| report.failed.len()).sum();
    let skipped: usize = reports.iter().map(|report| report.skipped.len()).sum();
    println!("  total: {passed} passed, {failed} failed, {skipped} skipped");
}

#[test]
fn stable_scripts_do_not_regress() {
    let dir = conformance_dir();
    let missing: Vec<&str> = STABLE_FILES.iter().copied().filter(|file| !dir.join(file).is_file()).collect();
    assert!(missing.is_empty(), "stable PromQL scripts missing from {}: {missing:?}", dir.display());

    let reports = run_files(&STABLE_FILES);
    print_table("stable PromQL scripts:", &reports);

    if std::env::var(BLESS_VARIABLE).is_ok_and(|value| value == "1") {
        let text = Baseline::from_reports(&reports).render();
        std::fs::write(baseline_path(), text)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", baseline_path().display()));
        println!("wrote {}", baseline_path().display());
        return;
    }

    let text = std::fs::read_to_string(baseline_path()).unwrap_or_else(|error| {
        panic!("cannot read {}: {error}; run with {BLESS_VARIABLE}=1 to create it", baseline_path().display())
    });
    let baseline = Baseline::parse(&text).unwrap_or_else(|error| panic!("{}: {error}", baseline_path().display()));
    let improvements = baseline.improvements(&reports);
    if !improvements.is_empty() {
        println!("now passing, listed as failing in the baseline (re-bless with {BLESS_VARIABLE}=1 to lock them in):");
        for case in &improvements {
            println!("  {case}");
        }
    }
    let regressions = baseline.regressions(&reports);
    assert!(
        regressions.is_empty(),
        "{} PromQL conformance regression(s) against {}:\n{}\n(if intended, re-bless with {BLESS_VARIABLE}=1)",
        regressions.len(),
        baseline_path().display(),
        regressions.join("\n")
    );
}

#[test]
fn experimental_scripts_are_reported() {
    let dir = conformance_dir();
    let present: Vec<&str> = EXPERIMENTAL_FILES.iter().copied().filter(|file| dir.join(file).is_file()).collect();
    for file in EXPERIMENTAL_FILES.iter().filter(|file| !present.contains(file)) {
        println!("experimental script {file} is missing from {}", dir.display());
    }
    print_table("experimental PromQL scripts (not required):", &run_files(&present));
}
