//! Step 4: the fork into a PID namespace. setns(2) puts only our
//! children in it, so the program runs in a child; the parent waits,
//! stops when the child stops (for the shell's job control) and ends as
//! the child ended: its status, or death by its signal (128+N for our
//! caller), the signal's default restored first, as ns-unshare does.

use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use ns_sys::child::{self, WhileWaiting};

use crate::Error;

/// Forks; the parent waits and ends as the child ended (`Some(status)`,
/// or death by its signal), the child gets `None`.
pub fn continue_as_child() -> Result<Option<ExitCode>, Error> {
    // SAFETY: restoring the default action installs no handler.
    let _ = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let Some(child) =
        child::fork_child(WhileWaiting::Block(&[]), None).map_err(crate::helpers::child_error)?
    else {
        return Ok(None);
    };
    loop {
        match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::Stopped(..)) => {
                // A stopped child (Ctrl-Z) stops us too, for the shell to
                // see; continued, we continue it.
                let _ = signal::kill(nix::unistd::getpid(), Signal::SIGSTOP);
                let _ = signal::kill(child, Signal::SIGCONT);
            }
            Ok(WaitStatus::Exited(_, code)) => return Ok(Some(ExitCode::from(code as u8))),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                child::die_of(sig);
                return Err(Error::Exit(1));
            }
            _ => return Err(Error::Exit(1)),
        }
    }
}
