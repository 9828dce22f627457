//! util-linux's own regression suite (`tests/ts/GROUP/TEST`), once with its
//! own build and once with ours standing in for its tools through the
//! `TS_CMD_*` variables of its `tests/commands.sh`.
//!
//! Each test script runs alone, as `tests/run.sh` would run it
//! (`--parsable --show-diff --srcdir=S --builddir=S`), in its own sandbox;
//! its output goes to `target/upstream/results/{util-linux,ours}/TEST.log`.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build::Recipe;
use super::ours::Ours;
use super::sandbox::{Finished, Sandbox};
use super::source::Release;
use super::verdict::{Outcome, Row};

pub const RELEASE: Release = Release {
    package: "util-linux",
    version: "2.42.4",
};

/// The optional parts off: no documentation, translations, Python, SELinux,
/// systemd, lastlog2 or btrfs; the test helpers after the programs.
pub const RECIPE: Recipe = Recipe {
    configure: &[
        "--disable-asciidoc",
        "--disable-poman",
        "--disable-nls",
        "--without-python",
        "--without-selinux",
        "--without-systemd",
        "--disable-liblastlog2",
        "--disable-pam-lastlog2",
        "--without-btrfs",
    ],
    configure_env: &[],
    goals: &["all", "check-programs"],
};

/// A tool of ours in util-linux's place.
pub struct Tool {
    /// The variable of tests/commands.sh that names util-linux's.
    pub variable: &'static str,
    /// util-linux's name for it: the name of the link to ours, since every
    /// tool of ours speaks as the name it is run as.
    pub name: &'static str,
    /// Our binary, in target/debug.
    pub ours: &'static str,
}

pub const TOOLS: &[Tool] = &[
    Tool {
        variable: "TS_CMD_MOUNT",
        name: "mount",
        ours: "ns-mount",
    },
    Tool {
        variable: "TS_CMD_UMOUNT",
        name: "umount",
        ours: "ns-umount",
    },
    Tool {
        variable: "TS_CMD_LSNS",
        name: "lsns",
        ours: "ns-lsns",
    },
    Tool {
        variable: "TS_CMD_UNSHARE",
        name: "unshare",
        ours: "ns-unshare",
    },
    Tool {
        variable: "TS_CMD_NSENTER",
        name: "nsenter",
        ours: "ns-nsenter",
    },
    // util-linux 2.42.4 has neither variable nor tests for these two; the
    // rows are here for the release that adds them.
    Tool {
        variable: "TS_CMD_SWITCH_ROOT",
        name: "switch_root",
        ours: "ns-switch-root",
    },
    Tool {
        variable: "TS_CMD_PIVOT_ROOT",
        name: "pivot_root",
        ours: "ns-pivot-root",
    },
];

/// A directory (or single script) under tests/ts/, and the tools of ours
/// it needs: without them its tests are not run at all (util-linux's
/// against util-linux's would prove nothing).
pub struct Group {
    pub path: &'static str,
    pub needs: &'static [&'static str],
}

/// The groups that exercise our tools. Groups a release lacks are said
/// and passed over: 2.42.4 has no umount, switch_root or pivot_root
/// directory (umount's tests are in mount/ and eject/umount).
pub const GROUPS: &[Group] = &[
    Group {
        path: "lsns",
        needs: &["lsns", "unshare", "mount", "umount"],
    },
    Group {
        path: "unshare",
        needs: &["unshare"],
    },
    Group {
        path: "mount",
        needs: &["mount", "umount"],
    },
    Group {
        path: "umount",
        needs: &["umount"],
    },
    Group {
        path: "libmount/loop",
        needs: &["mount", "umount"],
    },
    Group {
        path: "libmount/loop-overlay",
        needs: &["mount", "umount"],
    },
    Group {
        path: "misc/canonicalize",
        needs: &["mount", "umount"],
    },
    Group {
        path: "eject/umount",
        needs: &["mount"],
    },
    Group {
        path: "nsenter",
        needs: &["nsenter"],
    },
    Group {
        path: "switch_root",
        needs: &["switch_root"],
    },
    Group {
        path: "pivot_root",
        needs: &["pivot_root"],
    },
];

/// mount/special writes this helper and removes it only when its last
/// subtest gets that far.
pub const HOST_FILES: &[&str] = &["/sbin/mount.mytest"];

/// A test that takes longer has hung (they take seconds).
const TIMEOUT: Duration = Duration::from_secs(180);

/// What the run needs to know.
pub struct Suite<'a> {
    /// The built tree (source and build directory in one).
    pub tree: &'a Path,
    /// Our binaries, as built now.
    pub ours: &'a Ours,
    /// target/upstream/
    pub dir: &'a Path,
}

impl Suite<'_> {
    /// Every test of the groups present in this release, with its group.
    pub fn tests(&self) -> Vec<(String, String)> {
        let ts = self.tree.join("tests/ts");
        let mut tests = Vec::new();
        for group in GROUPS {
            for script in scripts(&ts.join(group.path)) {
                let id = script
                    .strip_prefix(&ts)
                    .unwrap_or(&script)
                    .to_string_lossy()
                    .into_owned();
                tests.push((id, group.path.to_string()));
            }
        }
        tests
    }

    /// Runs the selected groups' tests both ways. `selected` decides by
    /// test name.
    pub fn run(
        &self,
        sandbox: &Sandbox,
        selected: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Row>, String> {
        let links = self.link_ours()?;
        let ts = self.tree.join("tests/ts");
        let mut rows = Vec::new();
        for group in GROUPS {
            let path = ts.join(group.path);
            if !path.exists() {
                eprintln!("util-linux {}: no {} group", RELEASE.version, group.path);
                continue;
            }
            let missing: Vec<&str> = group
                .needs
                .iter()
                .filter(|name| !links.iter().any(|(tool, _)| tool.name == **name))
                .copied()
                .collect();
            if !missing.is_empty() {
                eprintln!(
                    "util-linux {}: not run, no tool of ours for {}",
                    group.path,
                    missing.join(", ")
                );
                continue;
            }
            for script in scripts(&path) {
                let test = script
                    .strip_prefix(&ts)
                    .unwrap_or(&script)
                    .to_string_lossy()
                    .into_owned();
                if !selected(&test) {
                    continue;
                }
                let reference = self.run_one(sandbox, &script, &test, "util-linux", &[])?;
                let env: Vec<(String, OsString)> = links
                    .iter()
                    .map(|(tool, link)| (tool.variable.to_string(), link.clone().into()))
                    .collect();
                let ours = self.run_one(sandbox, &script, &test, "ours", &env)?;
                eprintln!(
                    "{test}: util-linux {}, ours {}",
                    word(&reference),
                    word(&ours)
                );
                rows.push(Row {
                    suite: "util-linux",
                    test,
                    group: group.path.to_string(),
                    reference,
                    ours: Some(ours),
                });
            }
        }
        Ok(rows)
    }

    /// `target/upstream/ours/NAME` → `target/debug/ns-…` for each tool of
    /// ours that this checkout builds.
    fn link_ours(&self) -> Result<Vec<(&'static Tool, PathBuf)>, String> {
        let dir = self.dir.join("ours");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let mut links = Vec::new();
        for tool in TOOLS {
            let Some(binary) = self.ours.binary(tool.ours) else {
                continue;
            };
            let link = dir.join(tool.name);
            std::os::unix::fs::symlink(binary, &link)
                .map_err(|e| format!("link {} to {}: {e}", link.display(), binary.display()))?;
            links.push((tool, link));
        }
        Ok(links)
    }

    fn run_one(
        &self,
        sandbox: &Sandbox,
        script: &Path,
        test: &str,
        side: &str,
        env: &[(String, OsString)],
    ) -> Result<Outcome, String> {
        let tree = self.tree.to_string_lossy();
        let args: Vec<OsString> = [
            "--parsable".to_string(),
            "--show-diff".to_string(),
            format!("--srcdir={tree}"),
            format!("--builddir={tree}"),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        let mut env = env.to_vec();
        if let Some(home) = std::env::var_os("HOME") {
            env.push(("HOME".into(), home));
        }
        let log = self
            .dir
            .join("results")
            .join(side)
            .join(format!("{test}.log"));
        let finished = sandbox.run(script, &args, &env, self.tree, &log, TIMEOUT)?;
        Ok(outcome(&finished, TIMEOUT))
    }
}

/// The executable scripts under `path` (or `path` itself when it is one),
/// as run.sh finds them: no dot or `~` in the name, sorted.
fn scripts(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if meta.permissions().mode() & 0o111 != 0 && !name.contains(['.', '~']) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// pass, skip or FAIL, for the progress lines.
pub fn word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Skip(_) => "skip",
        Outcome::Fail(_) => "FAIL",
    }
}

/// A test's outcome from its exit status and its last report line
/// (`    COMPONENT: NAME   ... OK`, `... SKIPPED (why)`, `... FAILED (why)`);
/// anything it left behind fails it, whatever it said.
pub fn outcome(finished: &Finished, timeout: Duration) -> Outcome {
    let report = finished.output.lines().rev().find_map(report);
    let mut failures = Vec::new();
    match finished.code {
        None => failures.push(format!("timed out after {} s", timeout.as_secs())),
        Some(0) => match &report {
            Some(Report::Ok) | Some(Report::Skipped(_)) => {}
            Some(Report::Failed(why)) => failures.push(why.clone()),
            None => failures.push("exit 0 without a result".to_string()),
        },
        Some(code) => failures.push(match &report {
            Some(Report::Failed(why)) if !why.is_empty() => why.clone(),
            _ => format!("exit {code}"),
        }),
    }
    if !finished.left.is_empty() {
        failures.push(format!("left {}", finished.left.join(", ")));
    }
    match (failures.is_empty(), report) {
        (false, _) => Outcome::Fail(failures.join("; ")),
        (true, Some(Report::Skipped(why))) => Outcome::Skip(why),
        (true, _) => Outcome::Pass,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Report {
    Ok,
    Skipped(String),
    Failed(String),
}

/// A `--parsable` report line; diff lines and others are `None`.
fn report(line: &str) -> Option<Report> {
    let (_, verdict) = line.rsplit_once(" ...")?;
    let inner = |rest: &str| {
        rest.trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(rest.trim())
            .to_string()
    };
    if verdict == " OK" || verdict.starts_with(" OK (") {
        Some(Report::Ok)
    } else if let Some(rest) = verdict.strip_prefix(" SKIPPED") {
        Some(Report::Skipped(inner(rest)))
    } else if let Some(rest) = verdict.strip_prefix(" FAILED") {
        Some(Report::Failed(inner(rest)))
    } else {
        verdict
            .strip_prefix(" KNOWN FAILED")
            .map(|rest| Report::Failed(inner(rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(code: Option<i32>, output: &str, left: &[&str]) -> Finished {
        Finished {
            code,
            output: output.into(),
            left: left.iter().map(|s| s.to_string()).collect(),
        }
    }

    const T: Duration = Duration::from_secs(180);

    #[test]
    fn report_lines() {
        assert_eq!(
            report("        mount: by label                           ... OK"),
            Some(Report::Ok)
        );
        assert_eq!(
            report("         lsns: ioctl_ns      ... OK (all 3 sub-tests PASSED)"),
            Some(Report::Ok)
        );
        assert_eq!(
            report("       cramfs: mkfs          ... SKIPPED (missing in PATH: mkfs.cramfs)"),
            Some(Report::Skipped("missing in PATH: mkfs.cramfs".into()))
        );
        assert_eq!(
            report("        mount: fstab-label: [02] x   ... FAILED (mount-tag)"),
            Some(Report::Failed("mount-tag".into()))
        );
        assert_eq!(report("-mount: /mnt: mount point does not exist..."), None);
        assert_eq!(report("+ ...and more"), None);
        assert_eq!(report(""), None);
    }

    #[test]
    fn outcomes() {
        let ok = "diff-{{{\n}}}-diff\n        mount: x    ... OK\n";
        assert_eq!(outcome(&finished(Some(0), ok, &[]), T), Outcome::Pass);
        let skipped = "        mount: x    ... SKIPPED (no cramfs)\n";
        assert_eq!(
            outcome(&finished(Some(0), skipped, &[]), T),
            Outcome::Skip("no cramfs".into())
        );
        // The last report decides; a diff's lines are not reports.
        let failed = "   mount: x: [01] a   ... OK\n\ndiff-{{{\n-a ...\n+b ... OK\n}}}-diff\n\
            \n   mount: x: [02] b   ... FAILED (b)\n   mount: x   ... FAILED (1 from 2 sub-tests)\n";
        assert_eq!(
            outcome(&finished(Some(1), failed, &[]), T),
            Outcome::Fail("1 from 2 sub-tests".into())
        );
        assert_eq!(
            outcome(&finished(Some(2), "", &[]), T),
            Outcome::Fail("exit 2".into())
        );
        assert_eq!(
            outcome(&finished(Some(0), "nothing said\n", &[]), T),
            Outcome::Fail("exit 0 without a result".into())
        );
        assert_eq!(
            outcome(&finished(None, ok, &[]), T),
            Outcome::Fail("timed out after 180 s".into())
        );
    }

    #[test]
    fn what_a_test_leaves_fails_it() {
        let ok = "        mount: x    ... OK\n";
        let left = [
            "mount /mnt (ext2 from /dev/loop3)",
            "loop device /dev/loop3 (/i)",
        ];
        assert_eq!(
            outcome(&finished(Some(0), ok, &left), T),
            Outcome::Fail(
                "left mount /mnt (ext2 from /dev/loop3), loop device /dev/loop3 (/i)".into()
            )
        );
        let skipped = "        mount: x    ... SKIPPED (why)\n";
        assert!(matches!(
            outcome(&finished(Some(0), skipped, &left[1..]), T),
            Outcome::Fail(_)
        ));
        let failed = "        mount: x    ... FAILED (x)\n";
        assert_eq!(
            outcome(&finished(Some(1), failed, &left[1..]), T),
            Outcome::Fail("x; left loop device /dev/loop3 (/i)".into())
        );
    }

    #[test]
    fn every_group_needs_known_tools() {
        for group in GROUPS {
            for name in group.needs {
                assert!(
                    TOOLS.iter().any(|t| t.name == *name),
                    "{}: {name}",
                    group.path
                );
            }
        }
    }
}
