//! Child processes the way the namespace tools need them: a helper forked
//! before `unshare(2)` that acts from the original namespaces once told
//! to; a program run and waited for (newuidmap); a child the parent waits
//! for while Ctrl-C reaches it (or is passed on to it); and dying of the
//! signal a child died of, so that a caller sees 128+N.
//!
//! Every fork here expects a single-threaded process: the child may then
//! do anything the parent could.

use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// How a child failed, or could not be started or waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildError {
    /// A call made to start it failed (`pipe`, `fork`, `sigaction`, …).
    Start { call: &'static str, errno: Errno },
    /// The program could not be executed.
    Exec { program: OsString, errno: Errno },
    /// It exited with this status (not 0).
    Exit(u8),
    /// A signal killed it.
    Signal(Signal),
    /// waitpid(2) failed.
    Wait(Errno),
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |errno: &Errno| crate::strerror(*errno as i32);
        match self {
            ChildError::Start { call, errno } => write!(f, "{call} failed: {}", text(errno)),
            ChildError::Exec { program, errno } => write!(
                f,
                "failed to execute {}: {}",
                program.to_string_lossy(),
                text(errno)
            ),
            ChildError::Exit(code) => write!(f, "exited with status {code}"),
            ChildError::Signal(signal) => write!(f, "killed by {}", signal.as_str()),
            ChildError::Wait(errno) => write!(f, "waitpid failed: {}", text(errno)),
        }
    }
}

impl std::error::Error for ChildError {}

fn start(call: &'static str) -> impl Fn(Errno) -> ChildError {
    move |errno| ChildError::Start { call, errno }
}

/// waitpid(2), across interruptions by signals passed on.
pub fn wait(pid: Pid) -> Result<WaitStatus, Errno> {
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Waits for `pid`: `Ok` when it exited 0.
fn wait_success(pid: Pid) -> Result<(), ChildError> {
    match wait(pid).map_err(ChildError::Wait)? {
        WaitStatus::Exited(_, 0) => Ok(()),
        WaitStatus::Exited(_, code) => Err(ChildError::Exit(code as u8)),
        WaitStatus::Signaled(_, signal, _) => Err(ChildError::Signal(signal)),
        _ => Err(ChildError::Wait(Errno::ECHILD)),
    }
}

/// A process forked before `unshare(2)`, so it stays in the namespaces we
/// leave. It blocks on a pipe until [`Helper::finish`], then runs its job
/// (binding namespace files, writing ID maps) and exits.
pub struct Helper {
    pid: Pid,
    go: OwnedFd,
}

impl Helper {
    /// Forks a helper that runs `job` once released and exits with the
    /// status `job` returns (having said why, if it failed). If we die
    /// first, the pipe closes and the helper exits 1 quietly.
    pub fn spawn(job: impl FnOnce() -> u8) -> Result<Helper, ChildError> {
        let (wait_end, go) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(start("pipe"))?;
        // SAFETY: the caller is single-threaded (see the module).
        match unsafe { fork() }.map_err(start("fork"))? {
            ForkResult::Child => {
                drop(go);
                let mut byte = [0u8; 1];
                let code = loop {
                    match nix::unistd::read(&wait_end, &mut byte) {
                        Err(Errno::EINTR) => continue,
                        Ok(1) => break job(),
                        _ => break 1,
                    }
                };
                std::process::exit(i32::from(code))
            }
            ForkResult::Parent { child } => Ok(Helper { pid: child, go }),
        }
    }

    /// Lets the helper do its job and waits for it.
    pub fn finish(self) -> Result<(), ChildError> {
        let _ = nix::unistd::write(&self.go, &[1u8]);
        drop(self.go);
        wait_success(self.pid)
    }

    /// In a child forked meanwhile, which must not hold the helper's pipe.
    pub fn forget(self) {
        drop(self.go);
    }
}

/// Runs a program (looked up as [`crate::exec::execvp`] does) and waits
/// for it. An exec failure comes back to us over a close-on-exec pipe, so
/// the caller words it.
pub fn run_program(argv: &[OsString]) -> Result<(), ChildError> {
    let (report_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(start("pipe"))?;
    // SAFETY: the caller is single-threaded (see the module).
    match unsafe { fork() }.map_err(start("fork"))? {
        ForkResult::Child => {
            drop(report_end);
            let errno = crate::exec::execvp(argv);
            let _ = nix::unistd::write(&write_end, &(errno as i32).to_ne_bytes());
            // SAFETY: _exit ends the process without running the parent's
            // atexit handlers or flushing its buffers a second time.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut report = [0u8; 4];
            let mut got = 0;
            while got < report.len() {
                match nix::unistd::read(&report_end, &mut report[got..]) {
                    Err(Errno::EINTR) => continue,
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            if got == report.len() {
                let _ = wait(child);
                return Err(ChildError::Exec {
                    program: argv.first().cloned().unwrap_or_default(),
                    errno: Errno::from_raw(i32::from_ne_bytes(report)),
                });
            }
            wait_success(child)
        }
    }
}

/// The child the signals are passed on to. A signal handler can reach
/// nothing but a static: this is the one piece of global mutable state of
/// the nstools, set by the parent once it knows the child and read by
/// [`pass_on`] only.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn pass_on(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

/// What the parent does, while it waits, with the signals a terminal
/// sends to the whole process group.
#[derive(Debug, Clone, Copy)]
pub enum WhileWaiting<'a> {
    /// Blocked: the child (in the same process group) gets them and the
    /// parent reports how it ended rather than dying first
    /// (`unshare --fork`).
    Block(&'a [Signal]),
    /// Caught and passed on to the child (`unshare --forward-signals`; a
    /// build whose parent must clean up after it).
    Forward(&'a [Signal]),
}

/// Forks: `Ok(Some(child))` in the parent, `Ok(None)` in the child, which
/// gets the signal dispositions and mask the parent had. With
/// `death_signal`, the child asks for that signal when the parent dies
/// (and exits 1 at once if it died already).
pub fn fork_child(
    while_waiting: WhileWaiting<'_>,
    death_signal: Option<i32>,
) -> Result<Option<Pid>, ChildError> {
    // Set up before the fork, so that no signal falls between the two.
    // Forwarded signals are blocked across the fork too: one that came
    // before the parent knew its child's pid would find nobody to pass
    // it to and be lost (the child may already run and be waited on).
    // Unblocked once the pid is stored, it is delivered and passed on.
    let signals = match while_waiting {
        WhileWaiting::Forward(signals) | WhileWaiting::Block(signals) => signals,
    };
    let mut block = SigSet::empty();
    signals.iter().for_each(|sig| block.add(*sig));
    let old_mask = block
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(start("sigprocmask"))?;
    if let WhileWaiting::Forward(signals) = while_waiting {
        let action = SigAction::new(
            SigHandler::Handler(pass_on),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in signals {
            // SAFETY: the handler only reads an atomic and calls kill.
            unsafe { signal::sigaction(*sig, &action) }.map_err(start("sigaction"))?;
        }
    }
    let parent_fd = match death_signal {
        Some(_) => pidfd_of_self()?,
        None => None,
    };

    // SAFETY: the caller is single-threaded (see the module).
    match unsafe { fork() }.map_err(start("fork"))? {
        ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), Ordering::Relaxed);
            if let WhileWaiting::Forward(_) = while_waiting {
                old_mask.thread_set_mask().map_err(start("sigprocmask"))?;
            }
            Ok(Some(child))
        }
        ForkResult::Child => {
            if let WhileWaiting::Forward(signals) = while_waiting {
                for sig in signals {
                    // SAFETY: restoring the default action installs no
                    // handler.
                    let _ = unsafe { signal::signal(*sig, SigHandler::SigDfl) };
                }
            }
            old_mask.thread_set_mask().map_err(start("sigprocmask"))?;
            if let Some(signo) = death_signal {
                // SAFETY: plain prctl with integer arguments.
                if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signo as libc::c_ulong) } < 0 {
                    return Err(start("prctl")(Errno::last()));
                }
                // The parent may have died before prctl: then nobody
                // would kill us, and nobody wants our status either.
                if let Some(fd) = parent_fd {
                    if has_exited(&fd)? {
                        std::process::exit(1);
                    }
                }
            }
            Ok(None)
        }
    }
}

/// A pidfd of this process (Linux 5.3+); `None` on older kernels, where
/// the parent-died check is skipped.
fn pidfd_of_self() -> Result<Option<OwnedFd>, ChildError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ENOSYS => Ok(None),
            errno => Err(start("pidfd_open")(errno)),
        };
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// A pidfd polls readable once its process has exited.
fn has_exited(fd: &OwnedFd) -> Result<bool, ChildError> {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, 0u16)
        .map(|ready| ready > 0)
        .map_err(start("poll"))
}

/// Kills this process with `sig`: default action restored (SIGKILL has no
/// other), unblocked, sent. Returns only if the signal did not kill.
pub fn die_of(sig: Signal) {
    if sig != Signal::SIGKILL {
        // SAFETY: restoring the default action installs no handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    }
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = set.thread_unblock();
    let _ = signal::kill(nix::unistd::getpid(), sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_reported_by_the_parent() {
        let error = run_program(&["/nonexistent/program".into()]).unwrap_err();
        assert_eq!(
            error,
            ChildError::Exec {
                program: "/nonexistent/program".into(),
                errno: Errno::ENOENT
            }
        );
        assert_eq!(
            error.to_string(),
            "failed to execute /nonexistent/program: No such file or directory"
        );
    }

    #[test]
    fn exit_statuses_come_back() {
        assert_eq!(run_program(&["true".into()]), Ok(()));
        assert_eq!(run_program(&["false".into()]), Err(ChildError::Exit(1)));
    }
}
