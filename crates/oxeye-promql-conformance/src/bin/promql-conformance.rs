//! Runs the PromQL conformance scripts and prints `file: N passed, M failed, K skipped` per file and a total.
//!
//! Usage: `promql-conformance [--verbose] [--skips] [--dir DIR] [FILE...]`. Without files, every `*.test` in the
//! directory runs (default: `../shared/conformance/promql` beside the repository). `--verbose` prints each
//! failure, `--skips` each skipped case with its reason. Exits with status 2 on bad usage or when a script
//! cannot be read or parsed; failing cases alone do not change the status (the baseline test judges them).

use std::path::PathBuf;
use std::process::ExitCode;

use oxeye_promql::Engine;
use oxeye_promql_conformance::{FileReport, conformance_dir, conformance_engine_options, is_stable, run_file};

struct Arguments {
    verbose: bool,
    show_skips: bool,
    dir: PathBuf,
    files: Vec<String>,
}

fn parse_arguments() -> Result<Arguments, String> {
    let mut arguments = Arguments { verbose: false, show_skips: false, dir: conformance_dir(), files: Vec::new() };
    let mut raw = std::env::args().skip(1);
    while let Some(argument) = raw.next() {
        match argument.as_str() {
            "--verbose" | "-v" => arguments.verbose = true,
            "--skips" => arguments.show_skips = true,
            "--dir" => arguments.dir = PathBuf::from(raw.next().ok_or("--dir needs a directory")?),
            "--help" | "-h" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            file => arguments.files.push(file.to_string()),
        }
    }
    Ok(arguments)
}

fn list_scripts(arguments: &Arguments) -> Result<Vec<PathBuf>, String> {
    if !arguments.files.is_empty() {
        return Ok(arguments
            .files
            .iter()
            .map(|file| {
                let path = PathBuf::from(file);
                if path.exists() { path } else { arguments.dir.join(file) }
            })
            .collect());
    }
    let entries = std::fs::read_dir(&arguments.dir)
        .map_err(|error| format!("cannot list {}: {error}", arguments.dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "test"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn print_report(report: &FileReport, arguments: &Arguments) {
    let kind = if is_stable(&report.file) { "" } else { " (experimental)" };
    println!("{}{kind}", report.summary());
    if arguments.verbose {
        for failure in &report.failed {
            println!("  FAIL {}:{}: {}\n       {}", report.file, failure.line, failure.query, failure.reason);
        }
    }
    if arguments.show_skips {
        for skip in &report.skipped {
            println!("  SKIP {}:{}: {} ({})", report.file, skip.line, skip.query, skip.reason);
        }
    }
}

fn main() -> ExitCode {
    let arguments = match parse_arguments() {
        Ok(arguments) => arguments,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("promql-conformance: {message}");
            }
            eprintln!("usage: promql-conformance [--verbose] [--skips] [--dir DIR] [FILE...]");
            return ExitCode::from(2);
        }
    };
    let scripts = match list_scripts(&arguments) {
        Ok(scripts) => scripts,
        Err(message) => {
            eprintln!("promql-conformance: {message}");
            return ExitCode::from(2);
        }
    };
    // An engine panic is reported as a failed case; the default hook would print every backtrace in between.
    if !arguments.verbose {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let engine = Engine::new(conformance_engine_options());
    let (mut passed, mut failed, mut skipped, mut script_errors) = (0, 0, 0, 0);
    for path in &scripts {
        let report = run_file(path, &engine);
        print_report(&report, &arguments);
        passed += report.passed.len();
        failed += report.failed.len();
        skipped += report.skipped.len();
        script_errors += usize::from(report.script_error.is_some());
    }
    println!("total: {passed} passed, {failed} failed, {skipped} skipped ({} files)", scripts.len());
    if script_errors > 0 {
        eprintln!("promql-conformance: {script_errors} script(s) could not be read or parsed");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
