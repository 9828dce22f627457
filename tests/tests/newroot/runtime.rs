//! What switch_root and pivot_root get from the C runtime, beside the
//! reference's: a closed pipe kills them quietly (SIGPIPE), a full disk is
//! `write error: …` with status 1; and ours refuse to run set-user-ID
//! (each acts on the caller's paths and programs as root).

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

use nstools_tests::{bin, require_root, TempDir, TestCommand};

use crate::flavours::{Flavour, Tools};

/// The write end of a pipe whose read end is already closed.
fn widowed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn full_disk() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// (exit code, signal, stderr) of `program NAME ARGS` with stdout `out`.
fn run(
    program: &Path,
    name: &str,
    args: &[&str],
    out: Stdio,
) -> (Option<i32>, Option<i32>, String) {
    let output = Command::new(program)
        .arg0(name)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    (
        output.status.code(),
        output.status.signal(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn output_errors_end_as_the_reference_ends() {
    let ours = Tools::new(Flavour::Ours);
    let mut failures = Vec::new();
    for flavour in crate::flavours::REFERENCES {
        let theirs = Tools::new(flavour);
        for name in ["switch_root", "pivot_root"] {
            for args in [&["--help"][..], &["--version"][..]] {
                for (what, out) in [
                    ("closed pipe", widowed_pipe as fn() -> Stdio),
                    ("full disk", full_disk),
                ] {
                    // The wrapper of the newest reference is a script that
                    // names the tool with --argv0: run it by path.
                    let expected = run(&theirs.dir().join(name), name, args, out());
                    let got = run(&ours.dir().join(name), name, args, out());
                    let multicall = run(&bin("nstools"), name, args, out());
                    for (label, outcome) in [("ours", got), ("nstools", multicall)] {
                        if outcome != expected {
                            failures.push(format!(
                                "{label} {name} {args:?} into a {what}: {outcome:?}, \
                                 {flavour:?} {expected:?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (code, signal, stderr) = run(
        &bin("ns-switch-root"),
        "switch_root",
        &["--help"],
        full_disk(),
    );
    assert_eq!(
        (code, signal, stderr.as_str()),
        (
            Some(1),
            None,
            "switch_root: write error: No space left on device\n"
        )
    );
}

#[test]
fn ours_refuse_to_run_set_user_id() {
    if !require_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    for (binary, name, args) in [
        ("ns-switch-root", "switch_root", &["/", "/bin/true"][..]),
        ("ns-pivot-root", "pivot_root", &["/", "/"][..]),
        ("nstools", "switch_root", &["/", "/bin/true"][..]),
        ("nstools", "pivot_root", &["/", "/"][..]),
    ] {
        let dir = TempDir::new("newroot-setid");
        let copy = dir.path().join(name);
        std::fs::copy(bin(binary), &copy).expect("copy the binary");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755))
            .expect("chmod u+s");
        // /tmp may be mounted nosuid: the copy runs from a tmpfs of a
        // private mount namespace instead, so that the bit counts.
        let script = "mount -t tmpfs run /run && mkdir -m 755 /run/setid && \
                      cp -p \"$0\" /run/setid/ && \
                      exec setpriv --reuid=65534 --regid=65534 --clear-groups \
                      \"/run/setid/${0##*/}\" \"$@\"";
        let run = TestCommand::new("/usr/bin/unshare")
            .args(["--mount", "/bin/sh", "-c", script])
            .arg(&copy)
            .args(args)
            .run();
        run.expect_code(1);
        assert_eq!(
            run.stderr,
            format!(
                "{name}: refusing to run with set-user-ID or set-group-ID privileges \
                 (real/effective uid 65534/0, gid 65534/65534)\n"
            ),
            "{binary} as {name}: {run}"
        );
    }
}
