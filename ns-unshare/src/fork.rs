//! Processes: the helpers forked before `unshare(2)` that act from the
//! original namespaces once told to, the `--fork` child, waiting for it,
//! and dying of the signal it died of.

use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::Error;
use ns_getopt::ToolError;

/// A process forked before `unshare(2)`, so it stays in the namespaces
/// we leave. It blocks on a pipe until [`Helper::finish`], then runs its
/// job (binding namespace files, writing ID maps) and exits.
pub struct Helper {
    pid: Pid,
    go: OwnedFd,
}

/// Forks a helper that will run `job` once released. If we die first,
/// the pipe closes and the helper exits quietly.
pub fn spawn_helper<F>(prog: &str, job: F) -> Result<Helper, Error>
where
    F: FnOnce() -> Result<(), Error>,
{
    let (wait_end, go) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|errno| Error::system("pipe failed", errno))?;
    // SAFETY: ns-unshare is single-threaded, so the child may do anything
    // the parent could.
    match unsafe { fork() } {
        Err(errno) => Err(Error::system("fork failed", errno)),
        Ok(ForkResult::Child) => {
            drop(go);
            let mut byte = [0u8; 1];
            let code = loop {
                match nix::unistd::read(&wait_end, &mut byte) {
                    Err(Errno::EINTR) => continue,
                    Ok(1) => match job() {
                        Ok(()) => break 0,
                        Err(error) => {
                            ns_getopt::report(prog, &error);
                            break error.exit_code();
                        }
                    },
                    _ => break 1,
                }
            };
            std::process::exit(i32::from(code))
        }
        Ok(ForkResult::Parent { child }) => Ok(Helper { pid: child, go }),
    }
}

impl Helper {
    /// Lets the helper do its job and waits for it; its failure (already
    /// reported by the helper) becomes ours, with its exit status.
    pub fn finish(self) -> Result<(), Error> {
        let _ = nix::unistd::write(&self.go, &[1u8]);
        drop(self.go);
        match wait_for(self.pid)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            WaitStatus::Exited(_, code) => Err(Error::Exit(code as u8)),
            _ => Err(Error::Failed("helper process failed".to_string())),
        }
    }

    /// In the `--fork` child, which must not hold the helper's pipe.
    pub fn forget(self) {
        drop(self.go);
    }
}

/// Runs a program (newuidmap, newgidmap) and waits for it; its failure
/// status becomes ours, as util-linux's helper passes it on.
pub fn run_program(prog: &str, argv: &[std::ffi::OsString]) -> Result<(), Error> {
    // SAFETY: single-threaded, see spawn_helper.
    match unsafe { fork() } {
        Err(errno) => Err(Error::system("fork failed", errno)),
        Ok(ForkResult::Child) => {
            let errno = ns_chroot::exec::execvp(argv);
            let error = Error::Exec {
                program: argv[0].clone(),
                errno,
            };
            ns_getopt::report(prog, &error);
            std::process::exit(i32::from(error.exit_code()))
        }
        Ok(ForkResult::Parent { child }) => match wait_for(child)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            WaitStatus::Exited(_, code) => Err(Error::Exit(code as u8)),
            _ => Err(Error::Failed(format!(
                "{} was killed",
                argv[0].to_string_lossy()
            ))),
        },
    }
}

/// waitpid, across interruptions by forwarded signals.
fn wait_for(pid: Pid) -> Result<WaitStatus, Error> {
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::system("waitpid failed", errno)),
            Ok(status) => return Ok(status),
        }
    }
}

/// The child SIGTERM and SIGINT are passed on to with --forward-signals.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

const FORWARDED: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// `--fork`: returns the child's pid in the parent, `None` in the child.
///
/// Without --forward-signals the parent blocks SIGINT and SIGTERM while
/// it waits, so a Ctrl-C reaches the child (same process group) and the
/// parent reports how the child ended rather than dying first. With
/// `kill_child`, the child asks for that signal when the parent dies.
pub fn fork_program(forward_signals: bool, kill_child: Option<i32>) -> Result<Option<Pid>, Error> {
    let old_mask = if forward_signals {
        let action = SigAction::new(
            SigHandler::Handler(forward),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in FORWARDED {
            // SAFETY: the handler only reads an atomic and calls kill.
            unsafe { signal::sigaction(sig, &action) }.map_err(|errno| {
                Error::system(format_args!("sigaction {} failed", sig.as_str()), errno)
            })?;
        }
        SigSet::thread_get_mask().map_err(|errno| Error::system("sigprocmask failed", errno))?
    } else {
        let mut block = SigSet::empty();
        FORWARDED.iter().for_each(|sig| block.add(*sig));
        block
            .thread_swap_mask(SigmaskHow::SIG_BLOCK)
            .map_err(|errno| Error::system("sigprocmask block failed", errno))?
    };
    let parent_fd = match kill_child {
        Some(_) => pidfd_of_self()?,
        None => None,
    };

    // SAFETY: single-threaded, see spawn_helper.
    match unsafe { fork() } {
        Err(errno) => Err(Error::system("fork failed", errno)),
        Ok(ForkResult::Parent { child }) => {
            CHILD.store(child.as_raw(), Ordering::Relaxed);
            Ok(Some(child))
        }
        Ok(ForkResult::Child) => {
            CHILD.store(0, Ordering::Relaxed);
            old_mask
                .thread_set_mask()
                .map_err(|errno| Error::system("sigprocmask restore failed", errno))?;
            if let Some(signo) = kill_child {
                // SAFETY: plain prctl with integer arguments.
                if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signo as libc::c_ulong) } < 0 {
                    return Err(Error::system("prctl failed", Errno::last()));
                }
                // The parent may have died before prctl: then nobody
                // would kill us, and nobody wants our status either.
                if let Some(fd) = parent_fd {
                    if parent_has_exited(&fd)? {
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
fn pidfd_of_self() -> Result<Option<OwnedFd>, Error> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ENOSYS => Ok(None),
            errno => Err(Error::system("pidfd_open failed", errno)),
        };
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// A pidfd polls readable once its process has exited.
fn parent_has_exited(fd: &OwnedFd) -> Result<bool, Error> {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, 0u16)
        .map(|ready| ready > 0)
        .map_err(|errno| Error::system("poll parent pidfd failed", errno))
}

/// Waits for the `--fork` child and ends as it ended: its exit status, or
/// death by the same signal, so that our caller sees 128+N.
pub fn wait_program(child: Pid) -> Result<ExitCode, Error> {
    match wait_for(child)? {
        WaitStatus::Exited(_, code) => Ok(ExitCode::from(code as u8)),
        WaitStatus::Signaled(_, sig, _) => {
            die_of(sig);
            Err(Error::Failed("child exit failed".to_string()))
        }
        _ => Err(Error::Failed("child exit failed".to_string())),
    }
}

/// Kills this process with `sig`: default action restored (SIGKILL has no
/// other), unblocked, sent. Returns only if the signal did not kill.
fn die_of(sig: Signal) {
    if sig != Signal::SIGKILL {
        // SAFETY: restoring the default action installs no handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    }
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = set.thread_unblock();
    let _ = signal::kill(nix::unistd::getpid(), sig);
}
