//! Every mount of ns-unshare: bind mounts that keep namespaces,
//! propagation changes, and `--mount-proc`. The calls go through ns-mount's
//! library (the same mount(2) calls util-linux makes); the messages stay
//! util-linux unshare's.

use std::path::Path;

use nix::errno::Errno;
use ns_mount::{MountFlags, Propagation as MountPropagation};

use crate::cli::Propagation;
use crate::Error;

/// The errno behind a failed library call (always a system call here).
fn errno(error: ns_mount::Error) -> Errno {
    error.errno().unwrap_or(Errno::EIO)
}

/// Binds `/proc/PID/ns/X` onto FILE (which must exist) to keep the
/// namespace after its last process is gone.
pub fn bind_namespace(source: &Path, target: &Path) -> Result<(), Error> {
    ns_mount::mount(Some(source), target, None, MountFlags::MS_BIND, None).map_err(|error| {
        let before = format!("mount {} on ", source.display());
        crate::error::system_path(&before, target, " failed", errno(error))
    })
}

/// Sets the propagation of every mount of the new namespace, so nothing
/// done inside leaks out (private) or as asked.
pub fn set_root_propagation(propagation: Propagation) -> Result<(), Error> {
    let propagation = match propagation {
        Propagation::Private => MountPropagation::Private,
        Propagation::Shared => MountPropagation::Shared,
        Propagation::Slave => MountPropagation::Slave,
        Propagation::Unchanged => return Ok(()),
    };
    ns_mount::set_propagation(Path::new("/"), propagation, true)
        .map_err(|error| Error::system("cannot change root filesystem propagation", errno(error)))
}

/// Makes the mounts at and under `dir` private before proc is mounted
/// there, when `/` was not made private recursively. A directory that is
/// no mount point answers EINVAL, which is fine: it has no propagation.
pub fn make_private(dir: &Path) -> Result<(), Error> {
    match ns_mount::set_propagation(dir, MountPropagation::Private, true).map_err(errno) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(errno) => Err(crate::error::system_path(
            "cannot change ",
            dir,
            " filesystem propagation",
            errno,
        )),
    }
}

/// A proc filesystem for the new PID namespace, without setuid, device
/// files or executables, as util-linux mounts it.
pub fn mount_proc(dir: &Path) -> Result<(), Error> {
    let flags = MountFlags::MS_NOSUID | MountFlags::MS_NOEXEC | MountFlags::MS_NODEV;
    ns_mount::mount(Some(Path::new("proc")), dir, Some("proc"), flags, None)
        .map_err(|error| crate::error::system_path("mount ", dir, " failed", errno(error)))
}
