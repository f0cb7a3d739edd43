//! The committed record of which conformance cases pass, so that a regression is caught case by case.
//!
//! `baseline.txt` (in this crate's directory) holds, for every stable script, a line `<file> <passed-count>`,
//! then one line `<file>:<line>` per case known to fail (its `eval` line). Blank lines and `#` comments are
//! ignored. A run regresses when a case fails that the baseline does not list as failing, when a file passes
//! fewer cases than recorded (a passing case became skipped or vanished), or when a stable file has no entry or
//! no longer parses. Cases that now pass although listed as failing are improvements: re-bless to lock them in.

use std::collections::{BTreeMap, BTreeSet};

use crate::runner::FileReport;

/// Parsed `baseline.txt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Passed-case count per file.
    pub passed: BTreeMap<String, usize>,
    /// Known failing cases: (file, eval line).
    pub failing: BTreeSet<(String, usize)>,
}

/// Why a baseline file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline line {line}: expected `<file> <passed-count>` or `<file>:<line>`, found {text:?}")]
    Malformed { line: usize, text: String },
}

impl Baseline {
    /// Parses the text of `baseline.txt`.
    pub fn parse(text: &str) -> Result<Self, BaselineError> {
        let mut baseline = Baseline::default();
        for (index, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || BaselineError::Malformed { line: index + 1, text: line.to_string() };
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [file, count] => {
                    baseline.passed.insert(file.to_string(), count.parse().map_err(|_| malformed())?);
                }
                [case] => {
                    let (file, case_line) = case.rsplit_once(':').ok_or_else(malformed)?;
                    baseline.failing.insert((file.to_string(), case_line.parse().map_err(|_| malformed())?));
                }
                _ => return Err(malformed()),
            }
        }
        Ok(baseline)
    }

    /// Builds the baseline that records `reports` as they are.
    pub fn from_reports<'a>(reports: impl IntoIterator<Item = &'a FileReport>) -> Self {
        let mut baseline = Baseline::default();
        for report in reports {
            baseline.passed.insert(report.file.clone(), report.passed.len());
            for failure in &report.failed {
                baseline.failing.insert((report.file.clone(), failure.line));
            }
        }
        baseline
    }

    /// Renders the file text (stable order, so that diffs show exactly what changed).
    pub fn render(&self) -> String {
        let mut text = String::from(
            "# PromQL conformance baseline: passed cases per stable script, then every case known to fail.\n\
             # Checked by crates/oxeye-promql-conformance/tests/conformance.rs. Regenerate with\n\
             #   OXEYE_CONFORMANCE_BLESS=1 cargo test -p oxeye-promql-conformance --test conformance\n",
        );
        for (file, passed) in &self.passed {
            text.push_str(&format!("{file} {passed}\n"));
        }
        for (file, line) in &self.failing {
            text.push_str(&format!("{file}:{line}\n"));
        }
        text
    }

    /// What got worse in `reports` compared with this baseline, one message per problem.
    pub fn regressions(&self, reports: &[FileReport]) -> Vec<String> {
        let mut problems = Vec::new();
        for report in reports {
            if let Some(error) = &report.script_error {
                problems.push(format!("{}: script error: {error}", report.file));
                continue;
            }
            let Some(&recorded_passed) = self.passed.get(&report.file) else {
                problems.push(format!("{}: not in the baseline (bless to add it)", report.file));
                continue;
            };
            for failure in &report.failed {
                if !self.failing.contains(&(report.file.clone(), failure.line)) {
                    problems.push(format!(
                        "{}:{}: used to pass, now fails: {}\n    {}",
                        report.file, failure.line, failure.query, failure.reason
                    ));
                }
            }
            if report.passed.len() < recorded_passed {
                problems.push(format!(
                    "{}: {} cases pass, the baseline records {recorded_passed}",
                    report.file,
                    report.passed.len()
                ));
            }
        }
        problems
    }

    /// Cases listed as failing that now pass, as `file:line`.
    pub fn improvements(&self, reports: &[FileReport]) -> Vec<String> {
        reports
            .iter()
            .flat_map(|report| {
                report
                    .passed
                    .iter()
                    .filter(|&&line| self.failing.contains(&(report.file.clone(), line)))
                    .map(move |line| format!("{}:{line}", report.file))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::CaseFailure;

    fn report(file: &str, passed: &[usize], failed: &[usize]) -> FileReport {
        FileReport {
            file: file.to_string(),
            passed: passed.to_vec(),
            failed: failed.iter().map(|&line| CaseFailure { line, query: "q".into(), reason: "r".into() }).collect(),
            ..FileReport::default()
        }
    }

    #[test]
    fn render_and_parse_round_trip() {
        let reports = [report("a.test", &[1, 5], &[9]), report("b.test", &[], &[2, 4])];
        let baseline = Baseline::from_reports(&reports);
        let text = baseline.render();
        assert!(text.contains("\na.test 2\n") && text.contains("\nb.test:4\n"), "{text}");
        assert_eq!(Baseline::parse(&text).unwrap(), baseline);
        assert!(baseline.regressions(&reports).is_empty());
        assert!(Baseline::parse("a.test two").is_err());
        assert!(Baseline::parse("a.test:x").is_err());
    }

    #[test]
    fn regressions_are_reported_per_case() {
        let baseline = Baseline::from_reports(&[report("a.test", &[1, 5], &[9])]);
        let now_failing = baseline.regressions(&[report("a.test", &[1, 9], &[5])]);
        assert_eq!(now_failing.len(), 1, "{now_failing:?}");
        assert!(now_failing[0].starts_with("a.test:5: used to pass"));

        let fewer = baseline.regressions(&[report("a.test", &[1], &[9])]);
        assert_eq!(fewer, ["a.test: 1 cases pass, the baseline records 2"]);

        let unknown = baseline.regressions(&[report("z.test", &[], &[])]);
        assert_eq!(unknown.len(), 1);

        assert_eq!(baseline.improvements(&[report("a.test", &[1, 5, 9], &[])]), ["a.test:9"]);
    }
}
