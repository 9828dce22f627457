//! The mount(2) calls util-linux makes for one request. The kernel takes
//! one propagation type per call and ignores per-mount flags on a new bind
//! mount, so libmount splits a request: the main call without propagation
//! flags, a bind remount for `bind,ro` (the flags on the bind), then one
//! call per propagation flag. ns-mount's commands and every tool that
//! mounts (ns-unshare, ns-bootstrap) go through [`mount`], so they make the
//! same calls.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
pub use nix::mount::{MntFlags, MsFlags};

use crate::sys::{MountCall, Sys};

const fn f(bits: libc::c_ulong) -> MsFlags {
    MsFlags::from_bits_retain(bits)
}

/// MS_NOSYMFOLLOW (Linux 5.10), which nix 0.32 does not name.
pub const MS_NOSYMFOLLOW: MsFlags = f(256);

/// Propagation flags; a mount request carrying them is done in calls of
/// their own.
pub const PROPAGATION: MsFlags =
    f(libc::MS_SHARED | libc::MS_SLAVE | libc::MS_PRIVATE | libc::MS_UNBINDABLE);

/// The flags that change a mount point (not the superblock); they are
/// what a bind remount may set.
pub const MNT_FLAGS: MsFlags = f(libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME)
.union(MS_NOSYMFOLLOW);

/// A propagation type (`mount --make-…`, `unshare --propagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    pub fn flags(self) -> MsFlags {
        match self {
            Propagation::Shared => MsFlags::MS_SHARED,
            Propagation::Slave => MsFlags::MS_SLAVE,
            Propagation::Private => MsFlags::MS_PRIVATE,
            Propagation::Unbindable => MsFlags::MS_UNBINDABLE,
        }
    }
}

/// Which mount(2) call of a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The main call (the mount itself, a remount, a move).
    Main,
    /// A follow-up call: a propagation change, or the remount that applies
    /// flags to a fresh bind mount (libmount's MNT_ERR_APPLYFLAGS).
    Additional,
}

/// A failed request: the call, its errno and the mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError {
    pub step: Step,
    pub errno: Errno,
    pub target: PathBuf,
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.step {
            Step::Main => "mount",
            Step::Additional => "mount (follow-up call)",
        };
        write!(
            f,
            "{what} on {}: {}",
            self.target.display(),
            crate::strerror(self.errno as i32)
        )
    }
}

impl std::error::Error for MountError {}

/// What libmount passes where there is no source or type.
fn none() -> Option<&'static OsStr> {
    Some(OsStr::new("none"))
}

/// A call of flags alone on `target` (a remount, a propagation change).
fn flags_call(target: &Path, flags: MsFlags) -> MountCall<'_> {
    MountCall {
        source: none(),
        target,
        fstype: None,
        flags,
        data: None,
    }
}

fn is_none_like(text: Option<&OsStr>) -> bool {
    text.is_none_or(|text| text == "none")
}

/// Mounts `source` (or "none") on `target` as util-linux's mount(8) would
/// with the same flags and data: see the module's introduction. A request
/// of propagation flags only (no type, no real source) is done with the
/// propagation calls alone.
pub fn mount(
    sys: &impl Sys,
    source: Option<&OsStr>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), MountError> {
    let failed = |step, errno| MountError {
        step,
        errno,
        target: target.to_path_buf(),
    };
    let propagation = flags & PROPAGATION;
    let silent = flags & MsFlags::MS_SILENT;
    let main_flags = flags - PROPAGATION;
    let propagation_only = !propagation.is_empty()
        && (main_flags - MsFlags::MS_REC - MsFlags::MS_SILENT).is_empty()
        && is_none_like(fstype.map(OsStr::new))
        && is_none_like(source);
    if !propagation_only {
        // MS_REC on a propagation call means "recursively"; on the main
        // call it stays only for rbind.
        let mut call_flags = main_flags;
        if !main_flags.contains(MsFlags::MS_BIND) {
            call_flags.remove(MsFlags::MS_REC);
        }
        let call = MountCall {
            source: source.or(none()),
            target,
            fstype,
            flags: call_flags,
            data,
        };
        sys.mount(&call)
            .map_err(|errno| failed(Step::Main, errno))?;
        if main_flags.contains(MsFlags::MS_BIND)
            && !main_flags.contains(MsFlags::MS_REMOUNT)
            && main_flags.intersects(MNT_FLAGS)
        {
            let remount = call_flags | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
            sys.mount(&flags_call(target, remount))
                .map_err(|errno| failed(Step::Additional, errno))?;
        }
    }
    for single in [
        MsFlags::MS_SHARED,
        MsFlags::MS_SLAVE,
        MsFlags::MS_PRIVATE,
        MsFlags::MS_UNBINDABLE,
    ] {
        if propagation.contains(single) {
            let rec = flags & MsFlags::MS_REC;
            sys.mount(&flags_call(target, single | rec | silent))
                .map_err(|errno| failed(Step::Additional, errno))?;
        }
    }
    Ok(())
}

/// Changes the propagation type of the mount at `target` (and of every
/// mount below it when `recursive`), as `mount --make-[r]private` does.
pub fn set_propagation(
    sys: &impl Sys,
    target: &Path,
    propagation: Propagation,
    recursive: bool,
) -> Result<(), MountError> {
    let mut flags = propagation.flags();
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    sys.mount(&flags_call(target, flags))
        .map_err(|errno| MountError {
            step: Step::Main,
            errno,
            target: target.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{Call, Recorder};

    fn calls(source: &str, fstype: Option<&str>, flags: MsFlags) -> Vec<Call> {
        let sys = Recorder::new();
        mount(
            &sys,
            Some(OsStr::new(source)),
            Path::new("/dst"),
            fstype,
            flags,
            None,
        )
        .unwrap();
        sys.calls()
    }

    #[test]
    fn bind_ro_is_a_bind_then_a_read_only_remount() {
        assert_eq!(
            calls("/src", None, MsFlags::MS_BIND | MsFlags::MS_RDONLY),
            [
                Call::mount("/src", "/dst", None, MsFlags::MS_BIND | MsFlags::MS_RDONLY),
                Call::mount(
                    "none",
                    "/dst",
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT
                ),
            ]
        );
    }

    #[test]
    fn plain_bind_is_one_call_and_rbind_keeps_ms_rec() {
        assert_eq!(
            calls("/src", None, MsFlags::MS_BIND),
            [Call::mount("/src", "/dst", None, MsFlags::MS_BIND)]
        );
        let rbind = MsFlags::MS_BIND | MsFlags::MS_REC;
        assert_eq!(
            calls("/src", None, rbind | MsFlags::MS_NOSUID),
            [
                Call::mount("/src", "/dst", None, rbind | MsFlags::MS_NOSUID),
                Call::mount(
                    "none",
                    "/dst",
                    None,
                    rbind | MsFlags::MS_NOSUID | MsFlags::MS_REMOUNT
                ),
            ]
        );
    }

    #[test]
    fn a_bind_remount_is_not_remounted_again() {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        assert_eq!(
            calls("none", None, flags),
            [Call::mount("none", "/dst", None, flags)]
        );
    }

    #[test]
    fn propagation_goes_in_calls_of_its_own() {
        // --rbind --make-rslave: the bind keeps MS_REC, the slave call
        // is recursive.
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_SLAVE;
        assert_eq!(
            calls("/src", None, flags),
            [
                Call::mount("/src", "/dst", None, MsFlags::MS_BIND | MsFlags::MS_REC),
                Call::mount("none", "/dst", None, MsFlags::MS_SLAVE | MsFlags::MS_REC),
            ]
        );
        // A type and propagation: MS_REC leaves the main call.
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_PRIVATE | MsFlags::MS_REC;
        assert_eq!(
            calls("tmp", Some("tmpfs"), flags),
            [
                Call::mount("tmp", "/dst", Some("tmpfs"), MsFlags::MS_NOSUID),
                Call::mount("none", "/dst", None, MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            ]
        );
    }

    #[test]
    fn propagation_only_makes_no_main_call() {
        let flags = MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SILENT;
        assert_eq!(
            calls("none", None, flags),
            [
                Call::mount(
                    "none",
                    "/dst",
                    None,
                    MsFlags::MS_SHARED | MsFlags::MS_SILENT
                ),
                Call::mount(
                    "none",
                    "/dst",
                    None,
                    MsFlags::MS_PRIVATE | MsFlags::MS_SILENT
                ),
            ]
        );
    }

    #[test]
    fn a_failed_call_names_its_step_and_stops_the_sequence() {
        let sys = Recorder::new().failing(
            |call| matches!(call, Call::Mount { flags, .. } if flags.contains(MsFlags::MS_REMOUNT)),
            Errno::EPERM,
        );
        let error = mount(
            &sys,
            Some(OsStr::new("/src")),
            Path::new("/dst"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_SHARED,
            None,
        )
        .unwrap_err();
        assert_eq!(error.step, Step::Additional);
        assert_eq!(error.errno, Errno::EPERM);
        assert_eq!(
            sys.calls().len(),
            2,
            "no propagation call after the failure"
        );
        let sys = Recorder::new().failing(|_| true, Errno::ENOENT);
        let error = set_propagation(&sys, Path::new("/"), Propagation::Private, true).unwrap_err();
        assert_eq!((error.step, error.errno), (Step::Main, Errno::ENOENT));
        assert_eq!(
            sys.calls(),
            [Call::mount(
                "none",
                "/",
                None,
                MsFlags::MS_PRIVATE | MsFlags::MS_REC
            )]
        );
    }
}
