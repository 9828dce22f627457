//! Our tools installed set-user-ID root, run by an unprivileged user.
//!
//! mount and umount: a setuid-root copy of ours beside util-linux's own
//! (setuid root on Debian), each run as nobody in a throwaway mount
//! namespace with its own /run and an /etc/fstab bound over the host's
//! (inside the namespace only). Both must allow exactly fstab's user
//! mounts, with the same messages, statuses, mounts and utab.
//!
//! The other tools must refuse to run set-ID at all.

use std::path::Path;

use nstools_tests::{bin, differences, require_root, Stderr, TempDir, TestCommand};

/// The fstab of the cases (`$W` is the work directory).
const FSTAB: &str = "\
none $W/u tmpfs user,noauto,size=1m 0 0
none $W/us tmpfs users,noauto 0 0
none $W/e tmpfs user,exec,noauto 0 0
none $W/n tmpfs noauto 0 0
/dev/null $W/o tmpfs owner,noauto 0 0
none $W/nm tmpfs user=root,noauto 0 0
none $W/mk/dir tmpfs user,noauto,X-mount.mkdir 0 0
none $W/e/mk tmpfs user,noauto,X-mount.mkdir 0 0
";

/// Runs `command` as nobody (PATH starts with `bin_dir`) after `setup`
/// as root, then shows (as root) what is mounted under $W and utab.
fn run(work: &Path, bin_dir: &str, setup: &str, command: &str) -> nstools_tests::Outcome {
    let w = work.display();
    let fstab = FSTAB.replace("$W", &w.to_string());
    let script = format!(
        "set -e
/usr/bin/mount -t tmpfs run /run; mkdir -p /run/mount
/usr/bin/mount -t tmpfs work {w}; cd {w}
mkdir -p bin u us e n o x nm sub/deep
cp \"$OURS_MOUNT\" bin/mount; cp \"$OURS_UMOUNT\" bin/umount
chown root:root bin/*; chmod 4755 bin/*
chmod 700 sub
cat > fstab <<'EOF'
{fstab}EOF
/usr/bin/mount --bind fstab /etc/fstab
set +e
{setup}
setpriv --reuid=65534 --regid=65534 --clear-groups env PATH={bin_dir}:/usr/bin:/bin sh -c '{command}'
echo status=$?
grep ' {w}/' /proc/self/mountinfo | cut -d' ' -f5- | sed 's/ [0-9]*:[0-9]* / /'
cat /run/mount/utab 2>/dev/null
"
    );
    TestCommand::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("OURS_MOUNT", bin("ns-mount"))
        .env("OURS_UMOUNT", bin("ns-umount"))
        .env("LIBMOUNT_FSTAB", format!("{w}/fstab"))
        .run()
}

#[test]
fn setuid_mount_and_umount_allow_only_user_mounts() {
    if !require_root() {
        return;
    }
    let work = TempDir::new("setid");
    let w = work.path().display().to_string();
    let ours_bin = format!("{w}/bin");
    let cases: &[(&str, &str)] = &[
        // fstab's user mounts, by target or by source; the implied
        // nosuid,nodev,noexec unless the entry says otherwise after.
        ("", "mount $W/u"),
        ("", "mount -v $W/us"),
        ("", "mount -r $W/e"),
        ("", "mount --target $W/u"),
        // Not a user mount, or more than a user may ask.
        ("", "mount $W/n"),
        ("", "mount $W/nm"),
        ("", "mount $W/o"),
        ("", "mount -t tmpfs none $W/x"),
        ("", "mount none $W/u"),
        ("", "mount -o ro $W/u"),
        ("", "mount -o exec,suid $W/u"),
        ("", "mount -w $W/us"),
        ("", "mount --bind /etc $W/x"),
        ("", "mount --make-private $W/u"),
        ("", "mount -T $W/fstab $W/n"),
        ("", "mount -N 1 $W/u"),
        ("", "mount --options-mode=ignore $W/u"),
        ("", "mount --options-source=fstab $W/u"),
        ("", "mount --options-source-force none $W/u"),
        ("", "mount -a"),
        ("", "mount $W/nonexistent"),
        ("", "mount $W/sub/deep"),
        // X-mount.mkdir is for root only: the caller makes the directory
        // (or fails to) as themselves.
        ("", "mount $W/mk/dir; ls -d $W/mk"),
        (
            "chmod 777 $W/e",
            "mount $W/e/mk; ls -ld $W/e/mk | cut -c1-10",
        ),
        // LIBMOUNT_FSTAB is ignored while set-ID: $W/fstab has no entry
        // the caller could use anyway, but it must not even be read.
        ("", "LIBMOUNT_FSTAB=/nonexistent mount $W/u"),
        // Listing stays allowed.
        ("", "mount -t tmpfs | grep -c work"),
        // umount: only the caller's user mounts, any users mount.
        ("", "mount $W/u && umount $W/u"),
        ("", "mount $W/us && umount -v $W/us"),
        ("/usr/bin/mount $W/us", "umount $W/us"),
        ("/usr/bin/mount -t tmpfs -o user none $W/u", "umount $W/u"),
        ("/usr/bin/mount -t tmpfs none $W/x", "umount $W/x"),
        ("/usr/bin/mount -t tmpfs none $W/x", "umount -l $W/x"),
        ("", "umount $W/x"),
        ("", "umount -q $W/x"),
        ("", "umount /proc"),
        ("", "umount $W/nothing"),
        ("", "umount $W/sub/deep"),
        ("/usr/bin/mount -t tmpfs none $W/x", "umount -R $W/x"),
        ("/usr/bin/mount -t tmpfs none $W/x", "umount -a"),
    ];
    let mut failures = Vec::new();
    for (setup, command) in cases {
        let (setup, command) = (setup.replace("$W", &w), command.replace("$W", &w));
        let reference = run(work.path(), "/usr/bin", &setup, &command);
        let ours = run(work.path(), &ours_bin, &setup, &command);
        if let Some(problem) = differences(&ours, &reference, Stderr::Identical) {
            failures.push(format!("`{setup}` / `{command}`: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// A setuid-root copy of one of our binaries in a fresh directory that
/// nobody may enter (0755), and a run of it as nobody.
fn run_setuid_copy(name: &str, as_name: &str, args: &[&str]) -> nstools_tests::Outcome {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("setid-copy");
    let copy = dir.path().join(as_name);
    std::fs::copy(bin(name), &copy).expect("copy the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).expect("chmod u+s");
    // /tmp may be mounted nosuid: the copy runs from a tmpfs of a private
    // mount namespace instead, so that the bit counts.
    let script = "/usr/bin/mount -t tmpfs run /run && mkdir -m 755 /run/setid && \
                  cp -p \"$0\" /run/setid/ && \
                  exec setpriv --reuid=65534 --regid=65534 --clear-groups \"/run/setid/${0##*/}\" \"$@\"";
    TestCommand::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(&copy)
        .args(args)
        .run()
}

#[test]
fn other_tools_refuse_to_run_set_id() {
    if !require_root() {
        return;
    }
    let expected = |prog: &str| {
        format!(
            "{prog}: refusing to run with set-user-ID or set-group-ID privileges \
             (real/effective uid 65534/0, gid 65534/65534)\n"
        )
    };
    let cases: &[(&str, &str, &[&str], i32)] = &[
        (
            "ns-chroot",
            "chroot",
            &["--userspec=0:0", "/", "/bin/id", "-u"],
            125,
        ),
        ("ns-chroot", "ns-chroot", &["/", "/bin/true"], 125),
        ("ns-unshare", "unshare", &["--mount", "/bin/true"], 1),
        ("ns-nsenter", "nsenter", &["-t", "1", "-a", "/bin/true"], 1),
        ("ns-lsns", "lsns", &[], 1),
        (
            "nstools",
            "chroot",
            &["--userspec=0:0", "/", "/bin/id", "-u"],
            125,
        ),
        ("nstools", "lsns", &["--version"], 1),
        ("nstools", "nstools", &["--list"], 1),
    ];
    let mut failures = Vec::new();
    for (binary, name, args, code) in cases {
        let run = run_setuid_copy(binary, name, args);
        if run.code != Some(*code) || run.stderr != expected(name) || !run.stdout.is_empty() {
            failures.push(format!("{binary} as {name}: expected {code}: {run}"));
        }
    }
    // `nstools chroot …` refuses as chroot does.
    let run = run_setuid_copy("nstools", "nstools", &["chroot", "/", "/bin/true"]);
    if run.code != Some(125) || run.stderr != expected("chroot") {
        failures.push(format!("nstools chroot: {run}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn setuid_multicall_mount_is_restricted_too() {
    if !require_root() {
        return;
    }
    // As `mount`, the multi-call binary is the restricted mount: a mount
    // that is not fstab's is refused by the kernel as the caller's.
    let run = run_setuid_copy("nstools", "mount", &["-t", "tmpfs", "none", "/mnt"]);
    assert_eq!(run.code, Some(32), "{run}");
    assert!(
        run.stderr
            .starts_with("mount: /mnt: must be superuser to use mount.\n"),
        "{run}"
    );
}
