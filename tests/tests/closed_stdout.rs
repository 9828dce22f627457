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

/// Output longer than one stdio buffer fails in mid-stream, where glibc
/// only sets the stream's error flag: util-linux's close_stdout then says
/// a bare `write error`, and so must ours (the system error is for output
/// that fails in the flush at exit, as above).
#[test]
fn a_full_disk_after_a_full_buffer_is_a_bare_write_error() {
    if !nstools_tests::require_root() {
        return;
    }
    let dir = nstools_tests::TempDir::new("full-buffer");
    // 150 tmpfs mounts make `mount`'s listing about 9 KiB; the UTS
    // namespace's holder has a 6,000-byte command line for lsns' COMMAND.
    let script = r#"
        set -e
        for i in $(seq 150); do mkdir "$1/m$i"; mount -t tmpfs scratch "$1/m$i"; done
        long=$(printf '%6000s' x | tr ' ' y)
        unshare --uts sh -c 'sleep 30; :' "$long" &
        holder=$!
        sleep 0.3
        set +e
        for pair in "mount /usr/bin/mount" "mount $2" "mount $4" \
                    "lsns /usr/bin/lsns" "lsns $3" "lsns $4"; do
            name=${pair%% *}; program=${pair#* }
            if [ "$name" = lsns ]; then args="-t uts"; else args=""; fi
            (exec -a "$name" "$program" $args > /dev/full)
            echo "$name ($program): status $?"
        done 2>&1
        kill $holder
    "#;
    let out = nstools_tests::TestCommand::new("unshare")
        // In its own PID namespace, so that nothing it started outlives it.
        .args(["--mount", "--propagation", "private", "--pid", "--fork"])
        .args(["bash", "-c", script, "bash"])
        .arg(dir.path())
        .arg(bin("ns-mount"))
        .arg(bin("ns-lsns"))
        .arg(bin("nstools"))
        .run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let mut seen = Vec::new();
    for pair in lines.chunks(2) {
        let [message, status] = pair else {
            panic!("odd output: {out}");
        };
        let status = status.split(": status ").nth(1).unwrap_or_default();
        seen.push((message.to_string(), status.to_string()));
    }
    assert_eq!(seen.len(), 6, "{out}");
    for (tool, group) in [("mount", &seen[..3]), ("lsns", &seen[3..])] {
        for (message, status) in group {
            assert_eq!(
                (message.as_str(), status.as_str()),
                (format!("{tool}: write error").as_str(), "1"),
                "{out}"
            );
        }
    }
}
