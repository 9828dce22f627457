//! ns-pivot-root against util-linux's pivot_root: the new root a bind
//! mount of a small busybox root, then what `/` holds and the mount table,
//! and the kernel's refusals (not a mount point, PUT_OLD outside NEW_ROOT,
//! EBUSY, shared propagation, no privilege), each in a new mount namespace.

use std::path::Path;

use nstools_tests::{busybox_root, TempDir, TestCommand};

use crate::flavours::{in_namespaces, same_as_references, Tools};

/// A busybox root with an `old` directory for PUT_OLD and a `proc` one.
fn new_root() -> TempDir {
    let root = TempDir::new("pivot-root");
    busybox_root(root.path(), &[("etc/hostname", "pivoted\n")]);
    for dir in ["old", "proc"] {
        std::fs::create_dir(root.path().join(dir)).expect("mkdir");
    }
    root
}

/// After the pivot: the new `/`, then its mount table once a proc is
/// mounted and the old root detached (only mounts of this test, never the
/// host's, which may change while the tests run). proc first: in a user
/// namespace the kernel mounts one only while another is fully visible.
const AFTER: &str = r##"
cd /
export PATH=/bin
echo "# ls /"; ls /
cat /etc/hostname
mount -t proc proc /proc
umount -l "$old"
echo "# mountinfo"; cat /proc/self/mountinfo
"##;

#[test]
fn pivot_into_a_bind_mount_with_put_old_inside() {
    if !nstools_tests::require_root() {
        return;
    }
    let root = new_root();
    let script = format!(
        r##"
mount --bind "$1" "$1"
cd "$1"
pivot_root . old
old=/old
# The old root's mount, now at /old (its fields but the ids).
grep ' /old ' /old/proc/self/mountinfo | cut -d' ' -f3- | sed 's/^/old root: /'
{AFTER}"##
    );
    let ours = same_as_references("pivot_root . old", |tools| {
        in_namespaces(tools, &[], &script, &[root.path()])
    });
    ours.expect_code(0);
    assert!(
        ours.stdout.contains("# ls /\nbin\netc\nold\nproc\n"),
        "{ours}"
    );
    assert!(ours.stdout.contains("pivoted\n"), "{ours}");
    assert!(ours.stdout.contains("old root: "), "{ours}");
    let root_line = format!(" {} / ", root.path().display());
    assert!(ours.stdout.contains(&root_line), "{root_line}: {ours}");
}

#[test]
fn pivot_dot_dot_stacks_the_old_root_for_a_lazy_unmount() {
    if !nstools_tests::require_root() {
        return;
    }
    let root = new_root();
    let script = format!(
        r##"
mount --bind "$1" "$1"
cd "$1"
pivot_root . .
old=.
{AFTER}"##
    );
    let ours = same_as_references("pivot_root . .", |tools| {
        in_namespaces(tools, &[], &script, &[root.path()])
    });
    ours.expect_code(0);
    assert!(
        ours.stdout.contains("# ls /\nbin\netc\nold\nproc\n"),
        "{ours}"
    );
    // Two mounts left: the new root and its proc.
    let table = ours
        .stdout
        .split("# mountinfo\n")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(table.lines().count(), 2, "{ours}");
}

/// A refusal: the script sets the scene, then `pivot_root "$@"`.
fn refused(label: &str, setup: &str, args: &[&Path], errno_text: &str) {
    let script = format!("{setup}\nexec pivot_root \"$N\" \"$P\"");
    let ours = same_as_references(label, |tools| in_namespaces(tools, &[], &script, args));
    ours.expect_code(1);
    assert!(
        ours.stderr
            .starts_with("pivot_root: failed to change root from `")
            && ours.stderr.ends_with(&format!("': {errno_text}\n")),
        "{label}: {ours}"
    );
}

#[test]
fn the_kernel_refusals_are_reported_alike() {
    if !nstools_tests::require_root() {
        return;
    }
    let root = new_root();
    let elsewhere = TempDir::new("pivot-elsewhere");
    let r = &[root.path(), elsewhere.path()];
    // A directory of the current root's mount: EBUSY, checked before
    // whether it is a mount point.
    refused(
        "new root on the root mount",
        r##"N="$1" P="$1/old""##,
        r,
        "Device or resource busy",
    );
    refused(
        "new root not a mount point",
        r##"mount -t tmpfs t "$2"; mkdir -p "$2/sub/old"; N="$2/sub" P="$2/sub/old""##,
        r,
        "Invalid argument",
    );
    refused(
        "put_old outside new root",
        r##"mount --bind "$1" "$1"; mount -t tmpfs t "$2"; N="$1" P="$2""##,
        r,
        "Invalid argument",
    );
    refused(
        "shared propagation",
        r##"mount --make-rshared /; mount --bind "$1" "$1"; N="$1" P="$1/old""##,
        r,
        "Invalid argument",
    );
    refused(
        "missing",
        r##"N="$1/nonexistent" P="$1/old""##,
        r,
        "No such file or directory",
    );
    refused(
        "a file",
        r##"mount --bind "$1" "$1"; N="$1/etc/hostname" P="$1/old""##,
        r,
        "Not a directory",
    );
    refused(
        "no privilege",
        r##"mount --bind "$1" "$1"; N="$1" P="$1/old"
exec setpriv --reuid=65534 --regid=65534 --clear-groups pivot_root "$N" "$P""##,
        r,
        "Operation not permitted",
    );
}

#[test]
fn an_unprivileged_user_pivots_in_a_user_namespace() {
    if !nstools_tests::require_root() {
        return;
    }
    let root = new_root();
    let script = format!(
        r##"
mount --bind "$1" "$1"
cd "$1"
pivot_root . old
old=/old
{AFTER}"##
    );
    let ours = same_as_references("unprivileged pivot_root . old", |tools| {
        let tools_path = tools.path();
        TestCommand::new("/usr/bin/unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
            ])
            .args(["/bin/sh", "-euc", &script, "sh"])
            .arg(root.path())
            .env("PATH", tools_path)
            .unprivileged()
            .timeout(std::time::Duration::from_secs(60))
            .run()
    });
    ours.expect_code(0);
    assert!(
        ours.stdout.contains("# ls /\nbin\netc\nold\nproc\n"),
        "{ours}"
    );
}

#[test]
fn command_lines_and_their_errors_match() {
    if !nstools_tests::require_root() {
        return;
    }
    // None of these names an existing directory: pivot_root(2), where it
    // is reached, fails; and each runs in a namespace of its own anyway.
    let cases: &[&[&str]] = &[
        &[],
        &["a"],
        &["a", "b", "c"],
        &["--", "a", "b"],
        &["a", "--", "b"],
        &["/nonexistent-a", "--"],
        &["--", "/nonexistent-a"],
        &["--", "--"],
        &["-x", "a", "b"],
        &["a", "b", "--bogus"],
        &["--help=x"],
        &["", "/nonexistent-b"],
        &["-", "/nonexistent-b"],
    ];
    for args in cases {
        let label = format!("pivot_root {args:?}");
        let ours = same_as_references(&label, |tools| {
            in_namespaces(tools, &[], "exec pivot_root \"$@\"", args)
        });
        assert_eq!(ours.code, Some(1), "{ours}");
    }
}

#[test]
fn help_names_the_invoked_name_and_version_is_ours() {
    let tools = Tools::new(crate::flavours::Flavour::Ours);
    let help = TestCommand::new(tools.dir().join("pivot_root"))
        .arg0("pivot_root")
        .arg("--help")
        .run();
    help.expect_code(0);
    assert!(
        help.stdout
            .starts_with("\nUsage:\n pivot_root [options] new_root put_old\n"),
        "{help}"
    );
}
