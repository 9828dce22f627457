//! ns-switch-root against util-linux's switch_root, as an initramfs uses
//! it: in new PID and mount namespaces the sandbox's tmpfs plays the
//! initramfs (see [`crate::sandbox`]: nothing of the host's in it but
//! /usr and /etc, read-only), with /dev, /proc, /sys and /run mounted and
//! files of its own; a bind-mounted busybox root plays the real root,
//! whose /sbin/init reports what it finds. Then the failures: INIT missing
//! or not executable, NEWROOT missing, a file, not a mount point, the
//! current root, no privilege. Every switch_root runs in a sandbox.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nstools_tests::{busybox_root, Outcome, TempDir};

use crate::flavours::{normalized, same_as_references, Tools};
use crate::sandbox::Sandbox;

/// The real root's /sbin/init (busybox sh): it is PID 1, says what it was
/// given and which mounts it has, then waits for switch_root's child (now
/// its own child) to end, as an init reaps, and lists what is left of the
/// old root through fd 3, which the initramfs opened on its `/`.
const INIT: &str = r##"#!/bin/sh
echo "init: pid=$$ args=$# [$1] [$2] cwd=$(pwd)"
for m in /dev /proc /sys /run; do
    echo "after $m mount-id=$(awk -v m=$m '$5 == m { print $1 }' /proc/self/mountinfo)"
done
cat /dev/marker
# `read` runs in this shell: no child of ours in the list but the one
# waited for; each `sleep` reaps it once it has exited.
i=0
while [ $i -lt 400 ]; do
    children=
    read -r children < /proc/1/task/1/children || true
    [ -z "$children" ] && break
    sleep 0.05
    i=$((i + 1))
done
echo "old root: $(ls -A /proc/1/fd/3/ | tr '\n' ' ')"
echo "# mountinfo"
cat /proc/self/mountinfo
"##;

/// The initramfs' own part, set up in the sandbox's box before the pivot
/// (its /newroot is the real root, its /proc the new PID namespace's):
/// API mounts and files of its own; NO_RUN leaves /run out.
const INITRAMFS: &str = r##"
mkdir plain dev sys plain/dev plain/proc plain/sys plain/run
[ -n "${NO_RUN:-}" ] || mkdir run
echo "memory to give back" > payload
mkdir -p deep/a/b/c && echo x > deep/a/b/c/file && ln -s /etc deep/etc-link
mount -t tmpfs -o size=1m devfake dev && echo "the initramfs' /dev" > dev/marker
mount -t sysfs sysfs sys
[ -n "${NO_RUN:-}" ] || mount -t tmpfs -o size=1m run run
"##;

/// After the pivot, before the switch: the mount ids the initramfs hands
/// over, and (fd 3) its root, for INIT to look at.
const HAND_OVER: &str = r##"
for m in /dev /proc /sys /run; do
    echo "before $m mount-id=$(awk -v m=$m '$5 == m { print $1 }' /proc/self/mountinfo)"
done
exec 3< /
"##;

/// A real root: busybox, /sbin/init, and the API mount points (`sys`
/// only with `with_sys`).
fn real_root(with_sys: bool) -> TempDir {
    let root = TempDir::new("switch-real-root");
    busybox_root(
        root.path(),
        &[("sbin/init", INIT), ("sbin/not-executable", INIT)],
    );
    let init = root.path().join("sbin/init");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for dir in ["dev", "proc", "run"]
        .into_iter()
        .chain(with_sys.then_some("sys"))
    {
        std::fs::create_dir(root.path().join(dir)).expect("mkdir");
    }
    root
}

/// One boot: the initramfs script, then `tail` (by default `exec
/// switch_root /newroot /sbin/init …`), in the sandbox with new PID and
/// mount namespaces.
struct Boot<'a> {
    env: &'a [(&'a str, &'a str)],
    tail: &'a str,
    real: &'a Path,
    fake: &'a Path,
}

impl Boot<'_> {
    fn run(&self, tools: &Tools) -> Outcome {
        Sandbox {
            dir: self.fake,
            tools: tools.dir(),
            real: Some(self.real),
            env: self.env,
            pid: true,
            unshare: &[],
            setup: INITRAMFS,
        }
        .command(&format!("{HAND_OVER}\n{}", self.tail), &[] as &[&str])
        .run()
    }
}

const SWITCH: &str = r##"exec switch_root /newroot /sbin/init one "two words""##;

/// The ids of `/dev`, `/proc`, `/sys`, `/run` printed as `WHEN M
/// mount-id=ID` (normalized).
fn ids(outcome: &Outcome, when: &str) -> Vec<String> {
    outcome
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix(when))
        .map(str::to_string)
        .collect()
}

#[test]
fn an_initramfs_hands_over_to_the_real_root() {
    if !nstools_tests::require_root() {
        return;
    }
    let real = real_root(true);
    let fake = TempDir::new("switch-initramfs");
    let boot = Boot {
        env: &[],
        tail: SWITCH,
        real: real.path(),
        fake: fake.path(),
    };
    let ours = same_as_references("switch_root from a tmpfs", |tools| boot.run(tools));
    ours.expect_code(0);
    assert!(ours.stderr.is_empty(), "{ours}");
    assert!(
        ours.stdout
            .contains("init: pid=1 args=2 [one] [two words] cwd=/\n"),
        "INIT is PID 1, with its arguments, in /: {ours}"
    );
    let before = ids(&ours, "before ");
    assert_eq!(before.len(), 4, "{ours}");
    assert!(before.iter().all(|id| !id.ends_with('=')), "{ours}");
    assert_eq!(
        before,
        ids(&ours, "after "),
        "the same mounts, moved: {ours}"
    );
    assert!(ours.stdout.contains("the initramfs' /dev\n"), "{ours}");
    assert!(
        ours.stdout.contains("old root: etc usr \n"),
        "the initramfs' files are gone, the mount points of other filesystems kept: {ours}"
    );
    let table = ours
        .stdout
        .split("# mountinfo\n")
        .nth(1)
        .unwrap_or_default();
    let root_line = format!(" {} / ", real.path().display());
    assert!(
        table.lines().next().is_some_and(|l| l.contains(&root_line)),
        "{ours}"
    );
    assert_eq!(
        table.lines().count(),
        5,
        "/, /dev, /proc, /sys, /run: {ours}"
    );
}

#[test]
fn what_is_not_there_is_detached_or_reported_as_util_linux_does() {
    if !nstools_tests::require_root() {
        return;
    }
    // The initramfs has no /run (util-linux still tries to move it, and
    // says so); the real root has no /sys (the initramfs' is detached).
    let real = real_root(false);
    let fake = TempDir::new("switch-initramfs");
    let boot = Boot {
        env: &[("NO_RUN", "1")],
        tail: SWITCH,
        real: real.path(),
        fake: fake.path(),
    };
    let ours = same_as_references("switch_root, no /run, no /sys", |tools| boot.run(tools));
    ours.expect_code(0);
    assert_eq!(
        ours.stderr,
        "switch_root: failed to mount moving /run to /newroot/run: No such file or directory\n\
         switch_root: forcing unmount of /run\n",
        "{ours}"
    );
    assert!(ours.stdout.contains("old root: etc usr \n"), "{ours}");
    let table = ours
        .stdout
        .split("# mountinfo\n")
        .nth(1)
        .unwrap_or_default();
    assert!(!table.contains(" /sys "), "{ours}");
    assert!(table.contains(" /proc "), "{ours}");
}

#[test]
fn an_old_root_on_disk_is_left_with_a_warning() {
    if !nstools_tests::require_root() {
        return;
    }
    let real = real_root(true);
    let fake = TempDir::new("switch-disk-root");
    let boot = Boot {
        env: &[("OLD_ROOT", "disk")],
        tail: SWITCH,
        real: real.path(),
        fake: fake.path(),
    };
    let ours = same_as_references("switch_root from a disk", |tools| {
        let outcome = boot.run(tools);
        // The next flavour starts from the same empty directory.
        for entry in std::fs::read_dir(fake.path()).expect("read the old root") {
            let path = entry.expect("entry").path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
        outcome
    });
    ours.expect_code(0);
    assert!(
        ours.stderr
            .starts_with("switch_root: old root filesystem is not an initramfs: "),
        "{ours}"
    );
    assert!(ours.stdout.contains("payload"), "nothing removed: {ours}");
}

#[test]
fn init_missing_or_not_executable() {
    if !nstools_tests::require_root() {
        return;
    }
    let real = real_root(true);
    let fake = TempDir::new("switch-initramfs");
    // access(2) lets root "execute" a directory; execve(2) does not.
    for (init, code, text, warned) in [
        ("/nonexistent", 127, "No such file or directory", true),
        ("/sbin/not-executable", 126, "Permission denied", true),
        ("/sbin", 126, "Permission denied", false),
    ] {
        let tail = format!("exec switch_root /newroot {init}");
        let boot = Boot {
            env: &[],
            tail: &tail,
            real: real.path(),
            fake: fake.path(),
        };
        let ours = same_as_references(&format!("INIT {init}"), |tools| boot.run(tools));
        ours.expect_code(code);
        let mut expected = String::new();
        if warned {
            expected.push_str(&format!("switch_root: cannot access {init}: {text}\n"));
        }
        expected.push_str(&format!("switch_root: failed to execute {init}: {text}\n"));
        assert_eq!(ours.stderr, expected, "{ours}");
    }
}

/// A switch that fails before it is made: the initramfs' mounts, listed
/// after it, are where they were with ours. util-linux has moved or
/// detached them by then, so only its messages and status are compared.
/// `message` is ours, whole or up to the kernel's errno (which may differ
/// between kernels; the references' words are compared whole).
fn refused(newroot: &str, message: &str) {
    let real = real_root(true);
    let fake = TempDir::new("switch-initramfs");
    let tail = format!(
        r##"status=0; switch_root {newroot} /sbin/init || status=$?
echo "status $status"
for m in /dev /proc /sys /run; do
    echo "$m: $(awk -v m=$m '$5 == m {{ print $8, $9 }}' /proc/self/mountinfo)"
done"##
    );
    let boot = Boot {
        env: &[],
        tail: &tail,
        real: real.path(),
        fake: fake.path(),
    };
    let ours = normalized(&boot.run(&Tools::new(crate::flavours::Flavour::Ours)));
    ours.expect_code(0);
    assert!(ours.stdout.contains("status 1\n"), "{ours}");
    for (m, kind) in [
        ("/dev", "tmpfs devfake"),
        ("/proc", "proc proc"),
        ("/sys", "sysfs sysfs"),
        ("/run", "tmpfs run"),
    ] {
        assert!(
            ours.stdout.contains(&format!("{m}: {kind}\n")),
            "{m} left in place: {ours}"
        );
    }
    assert!(
        ours.stderr.starts_with(&format!("switch_root: {message}"))
            && ours.stderr.ends_with("\nswitch_root: failed. Sorry.\n")
            && ours.stderr.lines().count() == 2,
        "{ours}"
    );
    // Their listing fails where they moved /proc away: only their own
    // lines are compared.
    let own_lines = |stderr: &str| -> String {
        stderr
            .lines()
            .filter(|line| line.starts_with("switch_root: "))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    for flavour in crate::flavours::REFERENCES {
        let theirs = boot.run(&Tools::new(flavour));
        assert!(
            theirs.stdout.contains("status 1\n"),
            "{flavour:?}: {theirs}"
        );
        assert_eq!(
            ours.stderr,
            own_lines(&theirs.stderr),
            "{flavour:?}: {theirs}"
        );
    }
}

#[test]
fn a_newroot_that_cannot_become_root_moves_nothing() {
    if !nstools_tests::require_root() {
        return;
    }
    refused(
        "/plain",
        "failed to mount moving /plain to /: Invalid argument",
    );
    refused(
        "/payload",
        "failed to change directory to /payload: Not a directory",
    );
    refused(
        "/nowhere",
        "stat of /nowhere failed: No such file or directory",
    );
    // The current root itself: util-linux detaches /dev, /proc, /sys and
    // /run (each is its own target), then the kernel refuses (ELOOP on
    // Linux 6.18, EINVAL on older ones).
    refused("/", "failed to mount moving / to /: ");
    refused("/.", "failed to mount moving /. to /: ");
    // Relative: the last move names it from inside itself, after chdir.
    refused(
        "newroot",
        "failed to mount moving newroot to /: No such file or directory",
    );
}

#[test]
fn without_privilege_every_step_fails_as_util_linux_reports_it() {
    if !nstools_tests::require_root() {
        return;
    }
    let real = real_root(true);
    let fake = TempDir::new("switch-initramfs");
    let script = "exec setpriv --reuid=65534 --regid=65534 --clear-groups \
                  switch_root /newroot /sbin/init";
    let ours = same_as_references("switch_root as nobody", |tools| {
        Sandbox {
            dir: fake.path(),
            tools: tools.dir(),
            real: Some(real.path()),
            env: &[],
            pid: false,
            unshare: &[],
            setup: "",
        }
        .command(script, &[] as &[&str])
        .run()
    });
    ours.expect_code(1);
    assert!(
        ours.stderr.contains("Operation not permitted\n")
            && ours.stderr.ends_with("switch_root: failed. Sorry.\n"),
        "{ours}"
    );
}

#[test]
fn an_unprivileged_user_switches_in_a_user_namespace() {
    if !nstools_tests::require_root() {
        return;
    }
    let real = real_root(true);
    let fake = TempDir::new("switch-initramfs");
    let run = |tools: &Tools| {
        Sandbox {
            dir: fake.path(),
            tools: tools.dir(),
            real: Some(real.path()),
            env: &[],
            pid: true,
            unshare: &["--user", "--map-root-user"],
            setup: INITRAMFS,
        }
        .command(&format!("{HAND_OVER}\n{SWITCH}"), &[] as &[&str])
        .unprivileged()
        .run()
    };
    let ours = same_as_references("switch_root in a user namespace", run);
    ours.expect_code(0);
    assert!(ours.stdout.contains("init: pid=1 "), "{ours}");
    assert!(ours.stdout.contains("old root: etc usr \n"), "{ours}");
}

#[test]
fn command_lines_and_their_errors_match() {
    if !nstools_tests::require_root() {
        return;
    }
    // None of these switches: they fail before any mount call (and
    // run in a box all the same).
    let fake = TempDir::new("switch-initramfs");
    let cases: &[&[&str]] = &[
        &[],
        &["/nonexistent-root"],
        &["--", "/nonexistent-root"],
        &["--", "/nonexistent-root", "/init"],
        &["", "/init"],
        &["/nonexistent-root", ""],
        &["-x", "/", "/init"],
        &["--bogus", "/", "/init"],
        &["--help=x"],
        &["/nonexistent-root", "/init", "-V"],
    ];
    for args in cases {
        let ours = same_as_references(&format!("switch_root {args:?}"), |tools| {
            Sandbox {
                dir: fake.path(),
                tools: tools.dir(),
                real: None,
                env: &[],
                pid: false,
                unshare: &[],
                setup: "",
            }
            .command("exec switch_root \"$@\"", args)
            .run()
        });
        ours.expect_code(1);
    }
}
