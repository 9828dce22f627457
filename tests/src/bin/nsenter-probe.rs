//! What the nsenter tests need to know that no shell tool prints:
//! `nsenter-probe nsid FILE`, the 64-bit ID of the namespace FILE refers
//! to (`NS_GET_ID`, Linux 6.18), and `nsenter-probe pidfdino PID`, the
//! inode of a pidfd of PID (pidfs, Linux 6.9), which `nsenter -t
//! PID:INODE` checks. Prints `unknown` when the kernel cannot tell.
//! `nsenter-probe status CMD...` runs CMD and says how it ended: `exit N`
//! or `signal N` (a shell's `$?` cannot tell 143 from SIGTERM).

use std::os::fd::AsRawFd;
use std::process::ExitCode;

/// `NS_GET_ID`: `_IOR(0xb7, 0xd, __u64)`.
const NS_GET_ID: libc::c_ulong = 0x8008_b70d;

fn nsid(path: &str) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let mut id: u64 = 0;
    // SAFETY: NS_GET_ID writes one u64 through the pointer.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_ID as _, &mut id as *mut u64) };
    (rc == 0).then_some(id)
}

fn pidfd_inode(pid: &str) -> Option<u64> {
    let pid: libc::pid_t = pid.parse().ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on the fd just opened, into a struct we own; the fd is
    // closed right after.
    let rc = unsafe { libc::fstat(fd as i32, &mut st) };
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd as i32) };
    (rc == 0).then_some(st.st_ino)
}

fn status(command: &[std::ffi::OsString]) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let Some((program, args)) = command.split_first() else {
        return usage();
    };
    match std::process::Command::new(program).args(args).status() {
        Ok(status) => {
            match (status.code(), status.signal()) {
                (Some(code), _) => println!("exit {code}"),
                (None, Some(signal)) => println!("signal {signal}"),
                (None, None) => println!("unknown"),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("nsenter-probe: {}: {error}", program.to_string_lossy());
            ExitCode::from(2)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: nsenter-probe nsid FILE | pidfdino PID | status CMD...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let all: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if all.first().is_some_and(|first| first == "status") {
        return status(&all[1..]);
    }
    let args: Vec<String> = all
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let answer = match (args.first().map(String::as_str), args.get(1)) {
        (Some("nsid"), Some(path)) => nsid(path),
        (Some("pidfdino"), Some(pid)) => pidfd_inode(pid),
        _ => return usage(),
    };
    match answer {
        Some(value) => println!("{value}"),
        None => println!("unknown"),
    }
    ExitCode::SUCCESS
}
