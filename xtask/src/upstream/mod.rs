//! `cargo xtask upstream-tests [TEST...]`: util-linux's and coreutils' own
//! test suites, run against their own builds and against our tools.
//!
//! The release tarballs come from Debian's archive once ([`source`]), are
//! built once ([`build`]) under `target/upstream/`, and each test runs in a
//! sandbox that finds and removes what it leaves ([`sandbox`]). The task
//! prints every test with both outcomes and a summary per group, and fails
//! when a test the reference passes fails for ours without an exception in
//! `xtask/upstream-exceptions.txt`, or when a listed exception passes
//! ([`verdict`]).

mod build;
mod coreutils;
mod lock;
mod ours;
mod report;
mod sandbox;
mod source;
mod util_linux;
mod verdict;

use std::path::Path;
use std::time::Instant;

use crate::run::{workspace_root, Failure};
use sandbox::Sandbox;
use verdict::Row;

/// The exceptions: tests the reference passes and ours fails, each with
/// the behaviour to fix.
pub const EXCEPTIONS: &str = "xtask/upstream-exceptions.txt";

/// The commands the task runs, and the Debian package of each (those not
/// always installed are in `cargo xtask test`'s prerequisites).
const COMMANDS: &[(&str, &str)] = &[
    ("apt-get", "apt"),
    ("gcc", "gcc"),
    ("make", "make"),
    ("pkg-config", "pkg-config"),
    ("perl", "perl"),
    ("xz", "xz-utils"),
    ("sha256sum", "coreutils"),
    ("unshare", "util-linux"),
    ("setpriv", "util-linux"),
    ("losetup", "mount"),
    // Without these the suites skip tests (lsns's netns tests, every loop
    // device test) on both sides, which would pass unnoticed.
    ("ip", "iproute2"),
    ("mkfs.ext2", "e2fsprogs"),
];

/// Which tests a run covers: all, or those named (a test, a group such as
/// `mount` or `tests/chroot`, or a suite, `util-linux` or `coreutils`).
struct Selection(Vec<String>);

impl Selection {
    fn test(&self, suite: &str, test: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|f| {
                f == suite
                    || f == test
                    || test.starts_with(&format!("{}/", f.trim_end_matches('/')))
            })
    }

    fn suite(&self, suite: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|name| owner(name) == suite)
    }
}

/// The suite a name belongs to: coreutils' tests are named by their path,
/// `tests/…`; any other name is util-linux's.
fn owner(name: &str) -> &str {
    let suites = [util_linux::RELEASE.package, coreutils::RELEASE.package];
    if suites.contains(&name) {
        name
    } else if name.starts_with("tests/") {
        coreutils::RELEASE.package
    } else {
        util_linux::RELEASE.package
    }
}

pub fn run(args: &[String]) -> Result<(), Failure> {
    if let Some(option) = args.iter().find(|a| a.starts_with('-')) {
        return Err(Failure::from(format!(
            "upstream-tests takes test names, not options (got '{option}')"
        )));
    }
    // SAFETY: geteuid cannot fail and has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure {
            message: "the upstream tests mount, attach loop devices and make namespaces: run \
                      cargo xtask upstream-tests as root"
                .to_string(),
            code: 2,
        });
    }
    let missing: Vec<&str> = COMMANDS
        .iter()
        .filter(|(command, _)| !crate::prerequisites::on_path(command))
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        return Err(Failure {
            message: format!(
                "the upstream tests need what this machine lacks: apt-get install {}",
                missing.join(" ")
            ),
            code: 2,
        });
    }
    let selection = Selection(args.to_vec());
    let root = workspace_root();
    let exceptions_path = root.join(EXCEPTIONS);
    let exceptions = std::fs::read_to_string(&exceptions_path)
        .map_err(|e| format!("read {}: {e}", exceptions_path.display()))
        .and_then(|text| {
            verdict::parse_exceptions(&text)
                .map_err(|e| format!("{}: {e}", exceptions_path.display()))
        })?;
    let dir = root.join("target/upstream");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    // The suites compare paths they are given with the kernel's mount
    // table, which holds them resolved: through a symlinked target/ (or a
    // parent) every mount test would fail for both sides.
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("resolve {}: {e}", dir.display()))?;
    let ours = ours::Ours::build()?;

    let mut took = Vec::new();
    let releases: Vec<_> = [util_linux::RELEASE, coreutils::RELEASE]
        .into_iter()
        .filter(|r| selection.suite(r.package))
        .collect();
    let start = Instant::now();
    let tarballs = source::Archive::new(&dir)?.tarballs(&releases)?;
    took.push(format!("download {:.0} s", start.elapsed().as_secs_f64()));

    let mut trees = Vec::new();
    for (release, tarball) in releases.iter().zip(&tarballs) {
        let recipe = if release.package == util_linux::RELEASE.package {
            &util_linux::RECIPE
        } else {
            &coreutils::RECIPE
        };
        let start = Instant::now();
        trees.push(build::build(tarball, &dir, &release.tree(), recipe)?);
        took.push(format!(
            "build {} {:.0} s",
            release.package,
            start.elapsed().as_secs_f64()
        ));
    }

    let _lock = lock::acquire()?;
    let mut rows: Vec<Row> = Vec::new();
    let mut all_tests = Vec::new();
    for (release, tree) in releases.iter().zip(&trees) {
        let start = Instant::now();
        eprintln!("==> {} {}'s own tests", release.package, release.version);
        let selected = |test: &str| selection.test(release.package, test);
        if release.package == util_linux::RELEASE.package {
            let suite = util_linux::Suite {
                tree,
                ours: &ours,
                dir: &dir,
            };
            all_tests.extend(suite.tests().into_iter().map(|(test, _)| test));
            let sandbox = Sandbox::new(&dir.join("sandbox"), tree, util_linux::HOST_FILES)?;
            rows.extend(suite.run(&sandbox, &selected)?);
        } else {
            let suite = coreutils::Suite {
                tree,
                ours: &ours,
                dir: &dir,
            };
            all_tests.extend(coreutils::Suite::tests());
            let sandbox = Sandbox::new(&dir.join("sandbox"), tree, &[])?;
            rows.extend(suite.run(&sandbox, &selected)?);
        }
        took.push(format!(
            "run {} {:.0} s",
            release.package,
            start.elapsed().as_secs_f64()
        ));
    }
    // A suite not selected is not looked at: its exceptions are not judged.
    all_tests.extend(
        exceptions
            .keys()
            .filter(|test| !releases.iter().any(|r| r.package == owner(test)))
            .cloned(),
    );

    print(&rows, &releases);
    let verdict = verdict::judge(&rows, &exceptions, &all_tests);
    report_verdict(&verdict, &exceptions_path);
    eprintln!("==> took: {}", took.join(", "));
    eprintln!(
        "    the logs: {}/{{util-linux,coreutils,ours}}/",
        dir.join("results").display()
    );
    if verdict.failed() {
        return Err(Failure::from(format!(
            "upstream tests: {} regression(s), {} stale exception(s), {} unknown exception(s)",
            verdict.regressions.len(),
            verdict.stale.len(),
            verdict.unknown.len()
        )));
    }
    Ok(())
}

fn print(rows: &[Row], releases: &[source::Release]) {
    for release in releases {
        let rows: Vec<Row> = rows
            .iter()
            .filter(|r| r.suite == release.package)
            .cloned()
            .collect();
        let name = release.package;
        println!("\n{name} {}'s own tests:\n", release.version);
        print!("{}", report::tests(&rows, name));
        println!();
        print!("{}", report::summary(&rows, name));
    }
}

fn report_verdict(verdict: &verdict::Verdict, exceptions: &Path) {
    let file = exceptions.display();
    println!();
    for (test, reason) in &verdict.excused {
        println!("excepted: {test}: {reason}");
    }
    for test in &verdict.not_run {
        println!("exception not judged here (not run, or skipped by the reference): {test}");
    }
    for (test, how) in &verdict.regressions {
        println!("REGRESSION: {test}: the reference passes, ours: {how}");
    }
    for test in &verdict.stale {
        println!("STALE EXCEPTION: {test} passes for ours now: remove its line from {file}");
    }
    for test in &verdict.unknown {
        println!("UNKNOWN EXCEPTION: {test} is no test of the suites: fix its line in {file}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        let all = Selection(vec![]);
        assert!(all.suite("util-linux") && all.suite("coreutils"));
        assert!(all.test("util-linux", "mount/label"));
        let some = Selection(vec!["mount".into(), "tests/chroot/".into()]);
        assert!(some.suite("util-linux") && some.suite("coreutils"));
        assert!(some.test("util-linux", "mount/label"));
        assert!(!some.test("util-linux", "mounted/x"));
        assert!(!some.test("util-linux", "lsns/filter"));
        assert!(some.test("coreutils", "tests/chroot/chroot-fail.sh"));
        assert!(!some.test("coreutils", "tests/rm/no-give-up.sh"));
        let one = Selection(vec!["util-linux".into()]);
        assert!(one.suite("util-linux") && !one.suite("coreutils"));
        assert!(one.test("util-linux", "lsns/filter"));
        let one = Selection(vec!["tests/misc/io-errors.sh".into()]);
        assert!(!one.suite("util-linux") && one.suite("coreutils"));
        assert!(one.test("coreutils", "tests/misc/io-errors.sh"));
        let one = Selection(vec!["libmount/loop".into()]);
        assert!(one.suite("util-linux") && !one.suite("coreutils"));
        assert!(one.test("util-linux", "libmount/loop"));
        assert!(!one.test("util-linux", "libmount/loop-overlay"));
    }
}
