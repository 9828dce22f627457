//! The namespaces to enter, and entering them as util-linux does.
//!
//! Each type is enabled or not and may have a file open for it (a
//! `--TYPE=FILE`, a namespace ID, the fallback `/proc/PID/ns/TYPE`). They
//! are entered in two passes: first every type but the user namespace,
//! errors ignored; then whatever is left, user namespace included, errors
//! reported. An unprivileged caller entering its own container thus
//! fails the first pass and gets the rights for the others from the user
//! namespace in the second; root leaving privileges behind enters the
//! user namespace last. Types without a file are entered with one
//! setns(2) call on the target's pidfd (atomically, the kernel taking the
//! user namespace first), the others one file at a time.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use ns_sys::{NsType, Sys};

use crate::Error;

/// util-linux's order of the types: the user namespace first (so that,
/// entered first, it grants the rights to enter the others), and the mount
/// namespace late (entering it changes the root and the working
/// directory). The order unshare binds namespace files in is the same.
pub const ENTER_ORDER: [NsType; 8] = crate::namespaces::BIND_ORDER;

/// One type: asked for or not, and the file to enter it through.
#[derive(Debug, Default)]
pub struct Slot {
    pub enabled: bool,
    pub fd: Option<OwnedFd>,
}

/// Every type, by its place in [`ENTER_ORDER`].
#[derive(Debug, Default)]
pub struct Namespaces {
    slots: [Slot; 8],
}

fn position(kind: NsType) -> usize {
    ENTER_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_else(|| unreachable!("ENTER_ORDER holds every type"))
}

impl Namespaces {
    pub fn slot(&self, kind: NsType) -> &Slot {
        &self.slots[position(kind)]
    }

    /// Asks for `kind`; a file given replaces the one it had.
    pub fn enable(&mut self, kind: NsType, fd: Option<OwnedFd>) {
        let slot = &mut self.slots[position(kind)];
        slot.enabled = true;
        if fd.is_some() {
            slot.fd = fd;
        }
    }

    fn disable(&mut self, kind: NsType) {
        self.slots[position(kind)] = Slot::default();
    }

    pub fn is_enabled(&self, kind: NsType) -> bool {
        self.slot(kind).enabled
    }

    /// The enabled types, in [`ENTER_ORDER`].
    pub fn enabled(&self) -> Vec<NsType> {
        ENTER_ORDER
            .into_iter()
            .filter(|kind| self.is_enabled(*kind))
            .collect()
    }

    /// The enabled types that have no file yet.
    pub fn without_fd(&self) -> Vec<NsType> {
        self.enabled()
            .into_iter()
            .filter(|kind| self.slot(*kind).fd.is_none())
            .collect()
    }

    /// The first enabled type's slot.
    pub fn first_enabled(&self) -> Option<&Slot> {
        self.slots.iter().find(|slot| slot.enabled)
    }
}

/// Enters every enabled type; `pidfd` is the target's, when the kernel
/// takes pidfds in setns(2). Returns the types the first pass left to the
/// second (util-linux raises `--keep-caps`' capabilities only when the
/// user namespace is among them).
pub fn enter(
    sys: &impl Sys,
    pidfd: Option<BorrowedFd<'_>>,
    namespaces: &mut Namespaces,
) -> Result<Vec<NsType>, Error> {
    // util-linux selects "every type but user" as a mask, and an empty
    // mask selects every type: a user namespace asked for alone is tried
    // in the first pass already.
    let alone = namespaces.enabled() == [NsType::User];
    pass(
        sys,
        pidfd,
        namespaces,
        |kind| alone || kind != NsType::User,
        false,
    )?;
    let left = namespaces.enabled();
    if !left.is_empty() {
        pass(sys, pidfd, namespaces, |_| true, true)?;
    }
    Ok(left)
}

/// One pass over the enabled types `select` picks: those without a file
/// through the pidfd in one call, then each file. A type entered is done
/// with (its file closed); a failure is an error only when `report`.
fn pass(
    sys: &impl Sys,
    pidfd: Option<BorrowedFd<'_>>,
    namespaces: &mut Namespaces,
    select: impl Fn(NsType) -> bool,
    report: bool,
) -> Result<(), Error> {
    let chosen: Vec<NsType> = namespaces
        .enabled()
        .into_iter()
        .filter(|kind| select(*kind))
        .collect();
    if let Some(pidfd) = pidfd {
        let through_pidfd: Vec<NsType> = chosen
            .iter()
            .copied()
            .filter(|kind| namespaces.slot(*kind).fd.is_none())
            .collect();
        if !through_pidfd.is_empty() {
            let flags = ns_sys::nstype::clone_flags(&through_pidfd);
            match sys.setns(pidfd, flags) {
                Ok(()) => through_pidfd
                    .iter()
                    .for_each(|kind| namespaces.disable(*kind)),
                Err(errno) if report => {
                    return Err(Error::system("reassociate to namespaces failed", errno))
                }
                Err(_) => {}
            }
        }
    }
    for kind in chosen {
        let Some(fd) = &namespaces.slot(kind).fd else {
            continue;
        };
        match sys.setns(fd.as_fd(), kind.clone_flag()) {
            Ok(()) => namespaces.disable(kind),
            Err(errno) if report => {
                return Err(Error::system(
                    format_args!(
                        "reassociate to namespace '{}' failed",
                        kind.proc_path().to_string_lossy()
                    ),
                    errno,
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sched::CloneFlags;
    use ns_sys::recording::{Call, Recorder};

    fn file() -> OwnedFd {
        std::fs::File::open("/dev/null").expect("/dev/null").into()
    }

    fn flags(kinds: &[NsType]) -> CloneFlags {
        ns_sys::nstype::clone_flags(kinds)
    }

    fn enabled(kinds: &[NsType]) -> Namespaces {
        let mut namespaces = Namespaces::default();
        for kind in kinds {
            namespaces.enable(*kind, None);
        }
        namespaces
    }

    #[test]
    fn one_call_through_the_pidfd_then_the_user_namespace() {
        let sys = Recorder::new();
        let pidfd = file();
        let mut ns = enabled(&[NsType::Net, NsType::User, NsType::Mnt, NsType::Uts]);
        enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap();
        assert_eq!(
            sys.calls(),
            [
                Call::Setns(flags(&[NsType::Uts, NsType::Net, NsType::Mnt])),
                Call::Setns(flags(&[NsType::User])),
            ]
        );
        assert!(ns.enabled().is_empty());
    }

    #[test]
    fn unprivileged_first_pass_fails_and_the_second_takes_all_at_once() {
        let sys = Recorder::new().failing(
            |call| matches!(call, Call::Setns(f) if !f.contains(CloneFlags::CLONE_NEWUSER)),
            Errno::EPERM,
        );
        let pidfd = file();
        let mut ns = enabled(&[NsType::Net, NsType::User, NsType::Pid]);
        enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap();
        assert_eq!(
            sys.calls(),
            [
                Call::Setns(flags(&[NsType::Net, NsType::Pid])),
                Call::Setns(flags(&[NsType::User, NsType::Net, NsType::Pid])),
            ]
        );
    }

    #[test]
    fn files_one_at_a_time_in_util_linux_order() {
        let sys = Recorder::new();
        let mut ns = Namespaces::default();
        for kind in [
            NsType::Time,
            NsType::Mnt,
            NsType::User,
            NsType::Cgroup,
            NsType::Net,
        ] {
            ns.enable(kind, Some(file()));
        }
        enter(&sys, None, &mut ns).unwrap();
        let kinds = [
            NsType::Cgroup,
            NsType::Net,
            NsType::Mnt,
            NsType::Time,
            NsType::User,
        ];
        let expected: Vec<Call> = kinds.iter().map(|k| Call::Setns(flags(&[*k]))).collect();
        assert_eq!(sys.calls(), expected);
    }

    #[test]
    fn a_file_and_the_pidfd_mixed() {
        let sys = Recorder::new();
        let pidfd = file();
        let mut ns = enabled(&[NsType::Uts, NsType::Ipc]);
        ns.enable(NsType::Net, Some(file()));
        enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap();
        assert_eq!(
            sys.calls(),
            [
                Call::Setns(flags(&[NsType::Ipc, NsType::Uts])),
                Call::Setns(flags(&[NsType::Net])),
            ]
        );
    }

    #[test]
    fn second_pass_failures_are_reported_in_util_linux_words() {
        let sys = Recorder::new().failing(|_| true, Errno::EPERM);
        let mut ns = Namespaces::default();
        ns.enable(NsType::Net, Some(file()));
        let error = enter(&sys, None, &mut ns).unwrap_err();
        assert_eq!(
            error.to_string(),
            "reassociate to namespace 'ns/net' failed: Operation not permitted"
        );
        let pidfd = file();
        let mut ns = enabled(&[NsType::Uts]);
        let error = enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap_err();
        assert_eq!(
            error.to_string(),
            "reassociate to namespaces failed: Operation not permitted"
        );
    }

    #[test]
    fn a_user_namespace_alone_is_entered_in_the_first_pass() {
        let sys = Recorder::new();
        let pidfd = file();
        let mut ns = enabled(&[NsType::User]);
        let left = enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap();
        assert_eq!(sys.calls(), [Call::Setns(flags(&[NsType::User]))]);
        assert!(left.is_empty(), "no second pass, so no --keep-caps");

        let sys = Recorder::new().failing(|_| true, Errno::EINVAL);
        let mut ns = enabled(&[NsType::User]);
        let error = enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap_err();
        assert_eq!(sys.calls().len(), 2, "tried in both passes");
        assert_eq!(
            error.to_string(),
            "reassociate to namespaces failed: Invalid argument"
        );
    }

    #[test]
    fn the_user_namespace_is_left_to_the_second_pass() {
        let sys = Recorder::new();
        let mut ns = enabled(&[NsType::User, NsType::Net]);
        let pidfd = file();
        let left = enter(&sys, Some(pidfd.as_fd()), &mut ns).unwrap();
        assert_eq!(left, [NsType::User]);
    }

    #[test]
    fn enabling_again_keeps_the_file() {
        let mut ns = Namespaces::default();
        ns.enable(NsType::Net, Some(file()));
        ns.enable(NsType::Net, None);
        assert!(ns.slot(NsType::Net).fd.is_some());
        assert_eq!(ns.without_fd(), []);
        ns.enable(NsType::Uts, None);
        assert_eq!(ns.without_fd(), [NsType::Uts]);
        assert_eq!(ns.enabled(), [NsType::Uts, NsType::Net]);
    }
}
