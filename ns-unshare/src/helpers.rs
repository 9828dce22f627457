//! ns-unshare's processes on top of ns-sys's [`child`]: helpers that
//! report their own failure (their status then becomes ours), the
//! `--fork` child, and ending as it ended.

use std::process::ExitCode;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use ns_getopt::ToolError;
use ns_sys::child::{self, ChildError, Helper, WhileWaiting};

use crate::Error;

/// A failure of ns-sys's process calls, in util-linux unshare's words.
pub fn child_error(error: ChildError) -> Error {
    match error {
        ChildError::Start { call, errno } => Error::system(format_args!("{call} failed"), errno),
        ChildError::Exec { program, errno } => Error::Exec { program, errno },
        // The helper said why before it exited.
        ChildError::Exit(code) => Error::Exit(code),
        ChildError::Signal(_) => Error::Failed(format!("helper process failed: {error}")),
        ChildError::Wait(errno) => Error::system("waitpid failed", errno),
    }
}

/// Forks a helper that runs `job` once released (see [`Helper`]); a
/// failure is reported by the helper itself, with `prog`'s name.
pub fn spawn(prog: &str, job: impl FnOnce() -> Result<(), Error>) -> Result<Helper, Error> {
    Helper::spawn(|| match job() {
        Ok(()) => 0,
        Err(error) => {
            ns_getopt::report(prog, &error);
            error.exit_code()
        }
    })
    .map_err(child_error)
}

/// Lets a helper do its job and waits for it.
pub fn finish(helper: Helper) -> Result<(), Error> {
    helper.finish().map_err(child_error)
}

/// The signals a terminal sends to the whole process group.
const TERMINAL: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// `--fork`: the child's pid in the parent, `None` in the child. Without
/// `--forward-signals` the parent blocks SIGINT and SIGTERM while it
/// waits: a Ctrl-C reaches the child (same process group) and the parent
/// reports how the child ended rather than dying first.
pub fn fork_program(forward_signals: bool, kill_child: Option<i32>) -> Result<Option<Pid>, Error> {
    let while_waiting = if forward_signals {
        WhileWaiting::Forward(&TERMINAL)
    } else {
        WhileWaiting::Block(&TERMINAL)
    };
    child::fork_child(while_waiting, kill_child).map_err(child_error)
}

/// Waits for the `--fork` child and ends as it ended: its exit status, or
/// death by the same signal, so that our caller sees 128+N.
pub fn wait_program(pid: Pid) -> Result<ExitCode, Error> {
    match child::wait(pid).map_err(|errno| Error::system("waitpid failed", errno))? {
        WaitStatus::Exited(_, code) => Ok(ExitCode::from(code as u8)),
        WaitStatus::Signaled(_, sig, _) => {
            child::die_of(sig);
            Err(Error::Failed("child exit failed".to_string()))
        }
        _ => Err(Error::Failed("child exit failed".to_string())),
    }
}
