//! What the reference tools get from their C runtime and Rust's runtime
//! does otherwise, for every tool to set right at start: the default
//! SIGPIPE disposition, and the check that a tool meant to run with the
//! caller's own privileges was not installed set-user-ID or set-group-ID.

/// Restores SIGPIPE's default action. Rust's runtime ignores it before
/// `main`, so a write to a closed pipe would fail with EPIPE and the tool
/// would print an error; the C tools die of the signal instead, quietly
/// (status 141), which is what pipelines (`tool | head -1`) expect. An
/// ignored signal also stays ignored across exec, which is why
/// [`crate::exec::execvp`] restores it too.
pub fn restore_sigpipe() {
    // SAFETY: installing the default action runs no code of ours in a
    // signal handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The process's real and effective user and group IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub ruid: u32,
    pub euid: u32,
    pub rgid: u32,
    pub egid: u32,
}

impl Identity {
    pub fn current() -> Identity {
        // SAFETY: these four calls have no preconditions and cannot fail.
        unsafe {
            Identity {
                ruid: libc::getuid(),
                euid: libc::geteuid(),
                rgid: libc::getgid(),
                egid: libc::getegid(),
            }
        }
    }

    /// Whether the program runs with privileges its caller does not have
    /// (a set-user-ID or set-group-ID executable).
    pub fn is_set_id(&self) -> bool {
        self.ruid != self.euid || self.rgid != self.egid
    }

    /// The refusal of a tool that must not run set-ID: chroot, unshare
    /// and lsns take paths, programs and files from the caller and would
    /// act on them with the executable owner's rights (`chroot
    /// --userspec=0:0` would hand out a root shell). `None` when the
    /// identities agree.
    pub fn set_id_refusal(&self) -> Option<SetIdRefusal> {
        self.is_set_id().then_some(SetIdRefusal(*self))
    }
}

/// A tool refusing to run set-ID, with the identities that made it refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetIdRefusal(pub Identity);

impl std::fmt::Display for SetIdRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.0;
        write!(
            f,
            "refusing to run with set-user-ID or set-group-ID privileges \
             (real/effective uid {}/{}, gid {}/{})",
            id.ruid, id.euid, id.rgid, id.egid
        )
    }
}

impl std::error::Error for SetIdRefusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_id_is_a_difference_of_real_and_effective_ids() {
        let same = Identity {
            ruid: 1000,
            euid: 1000,
            rgid: 100,
            egid: 100,
        };
        assert!(!same.is_set_id());
        assert_eq!(same.set_id_refusal(), None);
        let setuid = Identity { euid: 0, ..same };
        assert!(setuid.is_set_id());
        let message = setuid.set_id_refusal().unwrap().to_string();
        assert!(message.contains("uid 1000/0, gid 100/100"), "{message}");
        let setgid = Identity { egid: 0, ..same };
        assert!(setgid.is_set_id());
    }
}
