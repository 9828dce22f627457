//! Every mount(2) call of ns-unshare, and nothing else: bind mounts that
//! keep namespaces, propagation changes, and `--mount-proc`. Kept thin so
//! the calls can later go through a shared mount library.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use crate::cli::Propagation;
use crate::Error;

const NONE: Option<&str> = None;

/// Binds `/proc/PID/ns/X` onto FILE (which must exist) to keep the
/// namespace after its last process is gone.
pub fn bind_namespace(source: &Path, target: &Path) -> Result<(), Error> {
    mount(Some(source), target, NONE, MsFlags::MS_BIND, NONE).map_err(|errno| {
        Error::system(
            format_args!("mount {} on {} failed", source.display(), target.display()),
            errno,
        )
    })
}

/// Sets the propagation of every mount of the new namespace, so nothing
/// done inside leaks out (private) or as asked.
pub fn set_root_propagation(propagation: Propagation) -> Result<(), Error> {
    let flags = match propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Shared => MsFlags::MS_SHARED,
        Propagation::Slave => MsFlags::MS_SLAVE,
        Propagation::Unchanged => return Ok(()),
    };
    mount(NONE, "/", NONE, flags | MsFlags::MS_REC, NONE)
        .map_err(|errno| Error::system("cannot change root filesystem propagation", errno))
}

/// Makes the mounts at and under `dir` private before proc is mounted
/// there, when `/` was not made private recursively. A directory that is
/// no mount point answers EINVAL, which is fine: it has no propagation.
pub fn make_private(dir: &Path) -> Result<(), Error> {
    match mount(NONE, dir, NONE, MsFlags::MS_PRIVATE | MsFlags::MS_REC, NONE) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(errno) => Err(Error::system(
            format_args!("cannot change {} filesystem propagation", dir.display()),
            errno,
        )),
    }
}

/// A proc filesystem for the new PID namespace, without setuid, device
/// files or executables, as util-linux mounts it.
pub fn mount_proc(dir: &Path) -> Result<(), Error> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount(Some("proc"), dir, Some("proc"), flags, NONE)
        .map_err(|errno| Error::system(format_args!("mount {} failed", dir.display()), errno))
}
