//! Every tool's output into a pipe whose reader is gone, and into a full
//! disk (/dev/full), beside the reference tools: the C tools die of
//! SIGPIPE quietly in the first case (coreutils' tests/misc/io-errors.sh
//! checks it) and report `write error: No space left on device` with
//! their failure status in the second.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nstools_tests::bin;

/// (reference program, our binary, arguments).
fn cases() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        ("/usr/sbin/chroot", "ns-chroot", vec!["--version"]),
        ("/usr/sbin/chroot", "ns-chroot", vec!["--help"]),
        ("/usr/bin/unshare", "ns-unshare", vec!["--version"]),
        ("/usr/bin/unshare", "ns-unshare", vec!["--help"]),
        ("/usr/bin/nsenter", "ns-nsenter", vec!["--version"]),
        ("/usr/bin/nsenter", "ns-nsenter", vec!["--help"]),
        ("/usr/bin/mount", "ns-mount", vec!["--version"]),
        ("/usr/bin/mount", "ns-mount", vec![]),
        ("/usr/bin/umount", "ns-umount", vec!["--version"]),
        ("/usr/bin/lsns", "ns-lsns", vec!["--version"]),
        ("/usr/bin/lsns", "ns-lsns", vec![]),
        ("/usr/bin/lsns", "ns-lsns", vec!["-J"]),
    ]
}

/// The write end of a pipe whose read end is already closed.
fn widowed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

/// (exit code, signal, stderr) of PROGRAM run as NAME with stdout `out`.
fn run(
    program: &PathBuf,
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

fn compare(make_stdout: impl Fn() -> Stdio) -> Vec<String> {
    let mut failures = Vec::new();
    for (reference, ours, args) in cases() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        let expected = run(&PathBuf::from(reference), name, &args, make_stdout());
        for program in [bin(ours), bin("nstools")] {
            let got = run(&program, name, &args, make_stdout());
            if got != expected {
                failures.push(format!(
                    "{} as {name} {args:?}: got {got:?}, the reference {expected:?}",
                    program.display()
                ));
            }
        }
    }
    failures
}

#[test]
fn a_closed_pipe_kills_quietly_with_sigpipe() {
    let failures = compare(|| Stdio::from(widowed_pipe()));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // And the signal is what kills them, not an exit status of their own.
    let (code, signal, stderr) = run(
        &bin("ns-chroot"),
        "chroot",
        &["--version"],
        Stdio::from(widowed_pipe()),
    );
    assert_eq!((code, signal, stderr.as_str()), (None, Some(13), ""));
}

#[test]
fn a_full_disk_is_a_write_error_with_the_reference_status() {
    let full = || {
        Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        )
    };
    let failures = compare(full);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (code, _, stderr) = run(&bin("ns-chroot"), "chroot", &["--version"], full());
    assert_eq!(code, Some(125));
    assert_eq!(stderr, "chroot: write error: No space left on device\n");
}
