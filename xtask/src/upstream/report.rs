//! The tables the task prints: every test with both outcomes, then per
//! group how many ran, how many the reference passes, and how many of
//! those pass for ours.

use super::verdict::{Outcome, Row};

/// One word per outcome, the reason after it.
fn cell(outcome: Option<&Outcome>) -> String {
    match outcome {
        None => "-".to_string(),
        Some(Outcome::Pass) => "pass".to_string(),
        Some(Outcome::Skip(why)) => format!("skip ({why})"),
        Some(Outcome::Fail(why)) => format!("FAIL ({why})"),
    }
}

/// Cuts a reason to `width` characters so that one row stays one line.
fn clip(text: String, width: usize) -> String {
    if text.chars().count() <= width {
        return text;
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// `test  REFERENCE  ours`, one line per test.
pub fn tests(rows: &[Row], reference: &str) -> String {
    const REASON: usize = 44;
    let width = rows
        .iter()
        .map(|r| r.test.len())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut text = format!("{:width$}  {:REASON$}  ours\n", "test", reference);
    for row in rows {
        let theirs = clip(cell(Some(&row.reference)), REASON);
        let ours = clip(cell(row.ours.as_ref()), REASON);
        let line = format!("{:width$}  {theirs:REASON$}  {ours}", row.test);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Counts per group, in the order groups first appear.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that ran (not skipped) for the reference.
    pub ran: usize,
    /// Of those, passed by the reference.
    pub reference: usize,
    /// Of those the reference passes, passed by ours.
    pub ours: usize,
    /// Tests the reference passes that ours was not run on.
    pub ours_not_run: usize,
}

pub fn counts<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Counts {
    let mut counts = Counts::default();
    for row in rows {
        if matches!(row.reference, Outcome::Skip(_)) {
            continue;
        }
        counts.ran += 1;
        if !row.reference.passed() {
            continue;
        }
        counts.reference += 1;
        match &row.ours {
            Some(ours) if ours.passed() => counts.ours += 1,
            Some(_) => {}
            None => counts.ours_not_run += 1,
        }
    }
    counts
}

/// `group  tests  ran  REFERENCE passes  ours passes (of those)`, with a
/// total line.
pub fn summary(rows: &[Row], reference: &str) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for row in rows {
        if !groups.contains(&row.group.as_str()) {
            groups.push(&row.group);
        }
    }
    let width = groups.iter().map(|g| g.len()).chain([5]).max().unwrap_or(5);
    let mut text = format!(
        "{:width$}  tests  ran  {reference} passes  ours passes (of those)\n",
        "group"
    );
    let line = |name: &str, rows: Vec<&Row>| {
        let c = counts(rows.iter().copied());
        let pending = if c.ours_not_run > 0 {
            format!(" ({} not run: no tool of ours yet)", c.ours_not_run)
        } else {
            String::new()
        };
        format!(
            "{name:width$}  {:5}  {:3}  {:>w$}  {}{pending}\n",
            rows.len(),
            c.ran,
            c.reference,
            c.ours,
            w = reference.len() + 7
        )
    };
    for group in &groups {
        text.push_str(&line(
            group,
            rows.iter().filter(|r| r.group == *group).collect(),
        ));
    }
    text.push_str(&line("total", rows.iter().collect()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test: &str, reference: Outcome, ours: Option<Outcome>) -> Row {
        Row {
            suite: "util-linux",
            test: test.into(),
            group: test.rsplit_once('/').unwrap().0.into(),
            reference,
            ours,
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            row("mount/a", Outcome::Pass, Some(Outcome::Pass)),
            row(
                "mount/b",
                Outcome::Pass,
                Some(Outcome::Fail("exit 1".into())),
            ),
            row(
                "mount/c",
                Outcome::Skip("no cramfs".into()),
                Some(Outcome::Pass),
            ),
            row("lsns/d", Outcome::Fail("x".into()), Some(Outcome::Pass)),
            row("nsenter/e", Outcome::Pass, None),
        ]
    }

    #[test]
    fn counts_are_of_what_the_reference_passes() {
        let rows = rows();
        assert_eq!(
            counts(&rows),
            Counts {
                ran: 4,
                reference: 3,
                ours: 1,
                ours_not_run: 1
            }
        );
        let summary = summary(&rows, "util-linux");
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(
            lines[0],
            "group    tests  ran  util-linux passes  ours passes (of those)"
        );
        assert_eq!(lines[1], "mount        3    2                  2  1");
        assert_eq!(lines[2], "lsns         1    1                  0  0");
        assert_eq!(
            lines[3],
            "nsenter      1    1                  1  0 (1 not run: no tool of ours yet)"
        );
        assert!(lines[4].starts_with("total        5    4                  3  1"));
    }

    #[test]
    fn one_line_per_test_whatever_the_reason() {
        let mut rows = rows();
        rows[1].ours = Some(Outcome::Fail("x".repeat(200)));
        let table = tests(&rows, "util-linux");
        assert_eq!(table.lines().count(), rows.len() + 1);
        assert!(table.lines().nth(2).unwrap().ends_with('…'));
        assert!(table.contains("skip (no cramfs)"));
        assert!(table.lines().last().unwrap().ends_with(" -"));
    }
}
