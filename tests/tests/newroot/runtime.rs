//! What switch_root and pivot_root get from the C runtime, beside the
//! reference's: a closed pipe kills them quietly (SIGPIPE), a full disk is
//! `write error: …` with status 1; and ours refuse to run set-user-ID
//! (each acts on the caller's paths and programs as root). Each runs in a
//! sandbox (its stdout passed in), never with the host's root as `/`.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use nstools_tests::{bin, require_root, TempDir};

use crate::flavours::{Flavour, Tools};
use crate::sandbox::Sandbox;

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

/// (exit code, signal, stderr) of `NAME ARGS`, found among `tools` in a
/// sandbox, with stdout `out`.
fn run(tools: &Tools, name: &str, args: &[&str], out: Stdio) -> (Option<i32>, Option<i32>, String) {
    let dir = TempDir::new("newroot-runtime");
    let output = Sandbox {
        dir: dir.path(),
        tools: tools.dir(),
        real: None,
        env: &[],
        pid: false,
        unshare: &[],
        setup: "",
    }
    .command(
        "name=$1; shift; exec \"$name\" \"$@\"",
        &[&[name][..], args].concat(),
    )
    .into_command()
    .stdout(out)
    .stderr(Stdio::piped())
    .output()
    .unwrap_or_else(|e| panic!("unshare: {e}"));
    (
        output.status.code(),
        output.status.signal(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn output_errors_end_as_the_reference_ends() {
    if !require_root() {
        return;
    }
    let ours = Tools::new(Flavour::Ours);
    let multicall = Tools::new(Flavour::Multicall);
    let mut failures = Vec::new();
    for flavour in crate::flavours::REFERENCES {
        let theirs = Tools::new(flavour);
        for name in ["switch_root", "pivot_root"] {
            for args in [&["--help"][..], &["--version"][..]] {
                for (what, out) in [
                    ("closed pipe", widowed_pipe as fn() -> Stdio),
                    ("full disk", full_disk),
                ] {
                    let expected = run(&theirs, name, args, out());
                    let got = run(&ours, name, args, out());
                    let as_nstools = run(&multicall, name, args, out());
                    for (label, outcome) in [("ours", got), ("nstools", as_nstools)] {
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
    let (code, signal, stderr) = run(&ours, "switch_root", &["--help"], full_disk());
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
    for (binary, name, args) in [
        ("ns-switch-root", "switch_root", &["/", "/bin/true"][..]),
        ("ns-pivot-root", "pivot_root", &["/", "/"][..]),
        ("nstools", "switch_root", &["/", "/bin/true"][..]),
        ("nstools", "pivot_root", &["/", "/"][..]),
    ] {
        let tools = TempDir::new("newroot-setid-tools");
        std::fs::copy(bin(binary), tools.path().join(name)).expect("copy the binary");
        let dir = TempDir::new("newroot-setid");
        // The copy in the box: a tmpfs mounted without nosuid (the host's
        // /tmp may be nosuid), so that the bit counts.
        let script = "name=$1; shift; chmod 4755 \"/tools/$name\"; \
                      exec setpriv --reuid=65534 --regid=65534 --clear-groups \"/tools/$name\" \"$@\"";
        let run = Sandbox {
            dir: dir.path(),
            tools: tools.path(),
            real: None,
            env: &[],
            pid: false,
            unshare: &[],
            setup: "",
        }
        .command(script, &[&[name][..], args].concat())
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
