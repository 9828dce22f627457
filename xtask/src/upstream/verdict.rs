//! What the two runs mean: every test the reference passes must pass for
//! ours, unless the exceptions file lists it with a reason. An exception
//! that no longer holds — the test now passes for ours — fails the task
//! too: the file is the list of what is still to fix, and a line left
//! behind after a fix would hide the next regression of that test. An
//! exception for a test that did not run here (filtered out, skipped by
//! the reference for lack of a module or tool, or a tool of ours not built
//! yet) is neither: it is only counted. An exception naming no test of the
//! suites is a mistake and fails.

use std::collections::BTreeMap;

/// How one test ended for one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Skip(String),
    Fail(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        *self == Outcome::Pass
    }
}

/// One test of an upstream suite, run both ways.
#[derive(Debug, Clone)]
pub struct Row {
    /// `util-linux` or `coreutils`.
    pub suite: &'static str,
    /// As the suite names it: `mount/fstab-label`, `tests/chroot/chroot-fail.sh`.
    pub test: String,
    /// The group the table summarises it under (`mount`, `tests/chroot`).
    pub group: String,
    pub reference: Outcome,
    /// `None` when ours was not run (a tool of ours not built yet).
    pub ours: Option<Outcome>,
}

/// The exceptions file: test → reason.
pub type Exceptions = BTreeMap<String, String>;

/// `TEST REASON` lines; `#` starts a comment line, blank lines are
/// ignored. A test without a reason, or listed twice, is an error naming
/// the line.
pub fn parse_exceptions(text: &str) -> Result<Exceptions, String> {
    let mut exceptions = Exceptions::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (test, reason) = line
            .split_once(char::is_whitespace)
            .map(|(t, r)| (t, r.trim()))
            .unwrap_or((line, ""));
        if reason.is_empty() {
            return Err(format!(
                "line {}: {test} has no reason (TEST REASON...)",
                number + 1
            ));
        }
        if exceptions
            .insert(test.to_string(), reason.to_string())
            .is_some()
        {
            return Err(format!("line {}: {test} is listed twice", number + 1));
        }
    }
    Ok(exceptions)
}

/// The judgement over all rows.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The reference passes, ours does not, and no exception says why:
    /// (test, how ours ended).
    pub regressions: Vec<(String, String)>,
    /// Listed, but ours passes now.
    pub stale: Vec<String>,
    /// Listed, and still failing for ours: (test, reason).
    pub excused: Vec<(String, String)>,
    /// Listed, but not judged in this run.
    pub not_run: Vec<String>,
    /// Listed, but no such test in the suites.
    pub unknown: Vec<String>,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        !self.regressions.is_empty() || !self.stale.is_empty() || !self.unknown.is_empty()
    }
}

/// Judges `rows` against `exceptions`. `all_tests` are every test the
/// suites hold (run or not, filtered out or not), to tell an exception for
/// a test that did not run from one for a test that does not exist.
pub fn judge(rows: &[Row], exceptions: &Exceptions, all_tests: &[String]) -> Verdict {
    let mut verdict = Verdict::default();
    for row in rows {
        let (Outcome::Pass, Some(ours)) = (&row.reference, &row.ours) else {
            continue;
        };
        match (ours, exceptions.get(&row.test)) {
            (Outcome::Pass, Some(_)) => verdict.stale.push(row.test.clone()),
            (Outcome::Pass, None) => {}
            (_, Some(reason)) => verdict.excused.push((row.test.clone(), reason.clone())),
            (Outcome::Skip(why), None) => verdict
                .regressions
                .push((row.test.clone(), format!("skipped ({why})"))),
            (Outcome::Fail(why), None) => verdict.regressions.push((row.test.clone(), why.clone())),
        }
    }
    for test in exceptions.keys() {
        let judged = rows
            .iter()
            .any(|r| &r.test == test && r.reference.passed() && r.ours.is_some());
        if judged {
            continue;
        }
        if all_tests.contains(test) {
            verdict.not_run.push(test.clone());
        } else {
            verdict.unknown.push(test.clone());
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test: &str, reference: Outcome, ours: Option<Outcome>) -> Row {
        Row {
            suite: "util-linux",
            test: test.into(),
            group: test.split('/').next().unwrap().into(),
            reference,
            ours,
        }
    }

    fn fail(why: &str) -> Outcome {
        Outcome::Fail(why.into())
    }

    #[test]
    fn exceptions_need_a_reason_each() {
        let text = "# what ours fails today\n\n\
            mount/label   LABEL=x is built as LABEL=\"x\"\n\
            \tlsns/filter\t-n column widths  \n";
        let parsed = parse_exceptions(text).unwrap();
        assert_eq!(parsed["mount/label"], "LABEL=x is built as LABEL=\"x\"");
        assert_eq!(parsed["lsns/filter"], "-n column widths");
        let error = parse_exceptions("# x\nmount/label\n").unwrap_err();
        assert!(
            error.contains("line 2") && error.contains("no reason"),
            "{error}"
        );
        let error = parse_exceptions("mount/label  \t \n").unwrap_err();
        assert!(error.contains("no reason"), "{error}");
        let error = parse_exceptions("a/b one\na/b two\n").unwrap_err();
        assert!(
            error.contains("line 2") && error.contains("twice"),
            "{error}"
        );
        assert!(parse_exceptions("").unwrap().is_empty());
    }

    #[test]
    fn only_what_the_reference_passes_is_required() {
        let rows = [
            row("mount/a", Outcome::Pass, Some(Outcome::Pass)),
            row("mount/b", Outcome::Pass, Some(fail("exit 1"))),
            row("mount/c", fail("exit 1"), Some(fail("exit 1"))),
            row(
                "mount/d",
                Outcome::Skip("no cramfs".into()),
                Some(fail("x")),
            ),
            row(
                "mount/e",
                Outcome::Pass,
                Some(Outcome::Skip("no loop".into())),
            ),
            row("nsenter/f", Outcome::Pass, None),
        ];
        let all: Vec<String> = rows.iter().map(|r| r.test.clone()).collect();
        let verdict = judge(&rows, &Exceptions::new(), &all);
        assert_eq!(
            verdict.regressions,
            [
                ("mount/b".to_string(), "exit 1".to_string()),
                ("mount/e".to_string(), "skipped (no loop)".to_string())
            ]
        );
        assert!(verdict.failed());
    }

    #[test]
    fn exceptions_excuse_and_go_stale() {
        let rows = [
            row("mount/a", Outcome::Pass, Some(Outcome::Pass)),
            row("mount/b", Outcome::Pass, Some(fail("left mount /x"))),
            row(
                "mount/c",
                Outcome::Skip("no module".into()),
                Some(fail("x")),
            ),
        ];
        let mut all: Vec<String> = rows.iter().map(|r| r.test.clone()).collect();
        all.push("mount/filtered-out".into());
        let exceptions = parse_exceptions(
            "mount/a fixed since\nmount/b leaves a mount\nmount/c skipped here\n\
             mount/filtered-out not run\nmount/typo no such test\n",
        )
        .unwrap();
        let verdict = judge(&rows, &exceptions, &all);
        assert_eq!(
            verdict,
            Verdict {
                regressions: vec![],
                stale: vec!["mount/a".into()],
                excused: vec![("mount/b".into(), "leaves a mount".into())],
                not_run: vec!["mount/c".into(), "mount/filtered-out".into()],
                unknown: vec!["mount/typo".into()],
            }
        );
        assert!(verdict.failed());
        // Without the stale and unknown lines the run passes.
        let exceptions = parse_exceptions("mount/b leaves a mount\nmount/c here\n").unwrap();
        assert!(!judge(&rows, &exceptions, &all).failed());
    }
}
