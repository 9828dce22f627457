//! `execvp` as POSIX specifies it, written out so that the static musl
//! build behaves as the glibc-linked reference tools do: search `PATH`
//! (default `/bin:/usr/bin`), skip directories where the file is missing,
//! remember a permission error for the end, and run a file without a `#!`
//! line with `/bin/sh` (musl's `execvp` does not; glibc's does).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;

/// The PATH glibc searches when none is set.
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Replaces the process with `args[0]` looked up in PATH; returns only on
/// failure, with the error the caller turns into 126 or 127.
pub fn execvp(args: &[OsString]) -> Errno {
    // The Rust runtime ignores SIGPIPE for its own sake, and an ignored
    // signal stays ignored across exec: without this, `yes | head` run by
    // us would not end as it does when a C tool runs it. (Our tools
    // restore it at start; a library caller may not have.)
    crate::runtime::restore_sigpipe();
    let Some(program) = args.first() else {
        return Errno::ENOENT;
    };
    let Ok(argv) = args
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Errno::EINVAL;
    };
    if program.is_empty() {
        return Errno::ENOENT;
    }
    if program.as_bytes().contains(&b'/') {
        return exec_file(&argv[0], &argv);
    }
    let path = std::env::var_os("PATH").map(OsStringExt::into_vec);
    let mut saw_eacces = false;
    for dir in path
        .as_deref()
        .unwrap_or(DEFAULT_PATH)
        .split(|b| *b == b':')
    {
        // An empty PATH element means the current directory; glibc then
        // runs the bare name, so argv[0] and $0 stay as given.
        let mut candidate = dir.to_vec();
        if !dir.is_empty() {
            candidate.push(b'/');
        }
        candidate.extend_from_slice(program.as_bytes());
        let Ok(candidate) = CString::new(candidate) else {
            continue;
        };
        match exec_file(&candidate, &argv) {
            Errno::EACCES => saw_eacces = true,
            Errno::ENOENT
            | Errno::ENOTDIR
            | Errno::ESTALE
            | Errno::ELOOP
            | Errno::ENAMETOOLONG
            | Errno::ENODEV
            | Errno::ETIMEDOUT => {}
            other => return other,
        }
    }
    if saw_eacces {
        Errno::EACCES
    } else {
        Errno::ENOENT
    }
}

/// Runs one file; a file the kernel cannot execute (no `#!`, not ELF) is
/// handed to `/bin/sh`, as POSIX asks of execvp.
fn exec_file(file: &CString, argv: &[CString]) -> Errno {
    let error = nix::unistd::execv(file, argv).unwrap_err();
    if error != Errno::ENOEXEC {
        return error;
    }
    let shell = CString::new("/bin/sh").expect("no NUL in a literal");
    let mut shell_argv = vec![shell.clone(), file.clone()];
    shell_argv.extend(argv.iter().skip(1).cloned());
    let _ = nix::unistd::execv(&shell, &shell_argv);
    Errno::ENOEXEC
}

/// The exit status coreutils and util-linux give an exec failure: 127 when
/// there is no such program, 126 when it exists but cannot run.
pub fn exec_failure_status(error: Errno) -> u8 {
    if error == Errno::ENOENT {
        127
    } else {
        126
    }
}
