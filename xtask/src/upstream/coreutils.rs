//! coreutils' own tests that run `chroot`, once with its build and once
//! with our ns-chroot as `src/chroot` (every test puts `src/` first on its
//! PATH, so the binary itself is swapped, and swapped back). Each side is
//! one `make -jN check TESTS='T…' SUBDIRS=.` as root with root's groups
//! (`setpriv --init-groups`), in one sandbox: a make per test would cost
//! seconds each of reading coreutils' Makefile, and none of these tests
//! mounts anything (should one leave something behind, every test of the
//! batch fails). Automake's `T.trs` says how each ended; its `T.log` is kept
//! in `target/upstream/results/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build::Recipe;
use super::ours::Ours;
use super::sandbox::Sandbox;
use super::source::Release;
use super::util_linux::word;
use super::verdict::{Outcome, Row};

pub const RELEASE: Release = Release {
    package: "coreutils",
    version: "9.10",
};

/// configure refuses to run as root without FORCE_UNSAFE_CONFIGURE.
pub const RECIPE: Recipe = Recipe {
    configure: &["--disable-nls"],
    configure_env: &[("FORCE_UNSAFE_CONFIGURE", "1")],
    goals: &["all"],
};

/// The tests, by how they use chroot.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "chroot",
        &[
            "tests/chroot/chroot-credentials.sh",
            "tests/chroot/chroot-fail.sh",
        ],
    ),
    // `chroot --skip-chdir --user=NON_ROOT_USERNAME / CMD` to drop root,
    // and nproc run in a small root.
    (
        "via chroot",
        &[
            "tests/cp/preserve-gid.sh",
            "tests/cp/special-bits.sh",
            "tests/id/setgid.sh",
            "tests/mv/sticky-to-xpart.sh",
            "tests/rm/fail-2eperm.sh",
            "tests/rm/no-give-up.sh",
            "tests/touch/now-owned-by-other.sh",
            "tests/truncate/truncate-owned-by-other.sh",
            "tests/nproc/nproc-quota.sh",
        ],
    ),
    // Every program's --help, --version, bad options and write errors.
    (
        "all programs",
        &[
            "tests/help/help-version.sh",
            "tests/help/help-version-getopt.sh",
            "tests/misc/usage_vs_getopt.sh",
            "tests/misc/invalid-opt.pl",
            "tests/misc/io-errors.sh",
        ],
    ),
];

/// For the whole batch (help-version alone runs every program a few times).
const TIMEOUT: Duration = Duration::from_secs(900);

pub struct Suite<'a> {
    /// The built tree.
    pub tree: &'a Path,
    /// Our binaries, as built now.
    pub ours: &'a Ours,
    /// target/upstream/
    pub dir: &'a Path,
}

impl Suite<'_> {
    pub fn tests() -> Vec<String> {
        GROUPS
            .iter()
            .flat_map(|(_, tests)| tests.iter().map(|t| t.to_string()))
            .collect()
    }

    pub fn run(
        &self,
        sandbox: &Sandbox,
        selected: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Row>, String> {
        let chosen: Vec<(&str, &str)> = GROUPS
            .iter()
            .flat_map(|(group, tests)| tests.iter().map(move |t| (*group, *t)))
            .filter(|(_, test)| selected(test))
            .collect();
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let tests: Vec<&str> = chosen.iter().map(|(_, test)| *test).collect();
        let references = self.run_batch(sandbox, &tests, "coreutils")?;
        let ns_chroot = self
            .ours
            .binary("ns-chroot")
            .ok_or("cargo built no ns-chroot")?;
        let swap = Swap::new(&self.tree.join("src/chroot"), ns_chroot)?;
        let ours = self.run_batch(sandbox, &tests, "ours")?;
        swap.restore()?;
        let mut rows = Vec::new();
        for (((group, test), reference), ours) in chosen.into_iter().zip(references).zip(ours) {
            eprintln!(
                "{test}: coreutils {}, ours {}",
                word(&reference),
                word(&ours)
            );
            rows.push(Row {
                suite: "coreutils",
                test: test.to_string(),
                group: group.to_string(),
                reference,
                ours: Some(ours),
            });
        }
        Ok(rows)
    }

    /// The outcome of each of `tests`, in order.
    fn run_batch(
        &self,
        sandbox: &Sandbox,
        tests: &[&str],
        side: &str,
    ) -> Result<Vec<Outcome>, String> {
        for test in tests {
            for stale in ["trs", "log"] {
                let _ = std::fs::remove_file(self.tree.join(test).with_extension(stale));
            }
        }
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let args: Vec<OsString> = [
            "--reuid=0",
            "--regid=0",
            "--init-groups",
            "make",
            // Never relink src/chroot over our binary.
            "-o",
            "src/chroot",
            &format!("-j{jobs}"),
            "check",
            "SUBDIRS=.",
            "VERBOSE=no",
            &format!("TESTS={}", tests.join(" ")),
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let mut env = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            env.push(("HOME".to_string(), home));
        }
        let results = self.dir.join("results").join(side);
        let finished = sandbox.run(
            Path::new("setpriv"),
            &args,
            &env,
            self.tree,
            &results.join("make.log"),
            TIMEOUT,
        )?;
        let mut outcomes = Vec::new();
        for test in tests {
            let details = std::fs::read_to_string(self.tree.join(test).with_extension("log"))
                .unwrap_or_default();
            let kept = results.join(format!("{test}.log"));
            if let Some(parent) = kept.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("create {}: {e}", parent.display()))?;
            }
            std::fs::write(&kept, &details)
                .map_err(|e| format!("write {}: {e}", kept.display()))?;
            let trs = std::fs::read_to_string(self.tree.join(test).with_extension("trs"))
                .unwrap_or_default();
            let mut outcome = match (finished.code, result(&trs)) {
                (_, Some("PASS")) => Outcome::Pass,
                (_, Some("SKIP")) => Outcome::Skip(skip_reason(&details)),
                (_, Some(other)) => Outcome::Fail(format!("{other}{}", exit_status(&details))),
                (None, None) => Outcome::Fail(format!("timed out after {} s", TIMEOUT.as_secs())),
                (Some(code), None) => Outcome::Fail(format!("no result (make exit {code})")),
            };
            if !finished.left.is_empty() {
                let left = format!("the batch left {}", finished.left.join(", "));
                outcome = match outcome {
                    Outcome::Fail(why) => Outcome::Fail(format!("{why}; {left}")),
                    _ => Outcome::Fail(left),
                };
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// `:test-result: PASS` of an automake `.trs` file.
fn result(trs: &str) -> Option<&str> {
    trs.lines()
        .find_map(|l| l.strip_prefix(":test-result:"))
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// `T: skipped test: WHY` in the test's log.
fn skip_reason(log: &str) -> String {
    log.lines()
        .find_map(|l| l.split_once("skipped test: ").map(|(_, why)| why.trim()))
        .unwrap_or("no reason given")
        .to_string()
}

/// ` (exit status: N)` from automake's last log line, when there.
fn exit_status(log: &str) -> String {
    log.lines()
        .rev()
        .find_map(|l| l.rfind(" (exit status: ").map(|at| l[at..].to_string()))
        .unwrap_or_default()
}

/// coreutils' `src/chroot` replaced by a link to ours, until restored. An
/// earlier run that died before restoring is undone first.
struct Swap {
    binary: PathBuf,
    saved: PathBuf,
    restored: bool,
}

impl Swap {
    fn new(binary: &Path, ours: &Path) -> Result<Self, String> {
        if !ours.is_file() {
            return Err(format!("{}: not built", ours.display()));
        }
        let saved = binary.with_extension("coreutils");
        let swap = Swap {
            binary: binary.to_path_buf(),
            saved: saved.clone(),
            restored: false,
        };
        if saved.exists() {
            swap.put_back()?;
        }
        std::fs::rename(binary, &saved)
            .map_err(|e| format!("move {} to {}: {e}", binary.display(), saved.display()))?;
        std::os::unix::fs::symlink(ours, binary)
            .map_err(|e| format!("link {} to {}: {e}", binary.display(), ours.display()))?;
        Ok(swap)
    }

    fn put_back(&self) -> Result<(), String> {
        let _ = std::fs::remove_file(&self.binary);
        std::fs::rename(&self.saved, &self.binary).map_err(|e| {
            format!(
                "move {} back to {}: {e}",
                self.saved.display(),
                self.binary.display()
            )
        })
    }

    fn restore(mut self) -> Result<(), String> {
        self.restored = true;
        self.put_back()
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        if !self.restored {
            let _ = self.put_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automake_results() {
        assert_eq!(
            result(":test-result: PASS\n:global-test-result: PASS\n"),
            Some("PASS")
        );
        assert_eq!(
            result(":global-test-result: FAIL\n:test-result: FAIL\n"),
            Some("FAIL")
        );
        assert_eq!(result(":test-result:\n"), None);
        assert_eq!(result(""), None);
        let log = "+ returns_ 1 chroot\nio-errors.sh: skipped test: /dev/full is required\n\
            SKIP tests/misc/io-errors.sh (exit status: 77)\n";
        assert_eq!(skip_reason(log), "/dev/full is required");
        assert_eq!(exit_status(log), " (exit status: 77)");
        assert_eq!(skip_reason(""), "no reason given");
        assert_eq!(exit_status("nothing"), "");
    }

    #[test]
    fn the_swap_is_undone_even_when_dropped() {
        let dir = std::env::temp_dir().join(format!("xtask-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let binary = dir.join("src/chroot");
        let ours = dir.join("ns-chroot");
        std::fs::write(&binary, "theirs").unwrap();
        std::fs::write(&ours, "ours").unwrap();
        {
            let _swap = Swap::new(&binary, &ours).unwrap();
            assert_eq!(std::fs::read_to_string(&binary).unwrap(), "ours");
        }
        assert_eq!(std::fs::read_to_string(&binary).unwrap(), "theirs");
        // An interrupted run's swap is put back before the next.
        std::fs::rename(&binary, binary.with_extension("coreutils")).unwrap();
        std::os::unix::fs::symlink(&ours, &binary).unwrap();
        let swap = Swap::new(&binary, &ours).unwrap();
        assert_eq!(std::fs::read_to_string(&binary).unwrap(), "ours");
        swap.restore().unwrap();
        assert_eq!(std::fs::read_to_string(&binary).unwrap(), "theirs");
        assert!(!binary.with_extension("coreutils").exists());
        assert!(Swap::new(&binary, &dir.join("missing")).is_err());
        assert_eq!(std::fs::read_to_string(&binary).unwrap(), "theirs");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
