//! Every mount of ns-unshare: bind mounts that keep namespaces,
//! propagation changes, and `--mount-proc`. The calls are ns-sys's (the
//! same mount(2) calls util-linux makes); the messages util-linux
//! unshare's.

use std::ffi::OsStr;
use std::path::Path;

use nix::errno::Errno;
use ns_sys::mount::{self, MsFlags, Propagation as MountPropagation};
use ns_sys::Sys;

use crate::cli::Propagation;
use crate::error::system_path;
use crate::Error;

/// Binds `/proc/PID/ns/X` onto FILE (which must exist) to keep the
/// namespace after its last process is gone.
pub fn bind_namespace(sys: &impl Sys, source: &Path, target: &Path) -> Result<(), Error> {
    let source_text = source.as_os_str();
    mount::mount(sys, Some(source_text), target, None, MsFlags::MS_BIND, None).map_err(|error| {
        let before = format!("mount {} on ", source.display());
        system_path(&before, target, " failed", error.errno)
    })
}

/// Sets the propagation of every mount of the new namespace, so nothing
/// done inside leaks out (private) or as asked.
pub fn set_root_propagation(sys: &impl Sys, propagation: Propagation) -> Result<(), Error> {
    let propagation = match propagation {
        Propagation::Private => MountPropagation::Private,
        Propagation::Shared => MountPropagation::Shared,
        Propagation::Slave => MountPropagation::Slave,
        Propagation::Unchanged => return Ok(()),
    };
    mount::set_propagation(sys, Path::new("/"), propagation, true)
        .map_err(|error| Error::system("cannot change root filesystem propagation", error.errno))
}

/// Makes the mounts at and under `dir` private before proc is mounted
/// there, when `/` was not made private recursively. A directory that is
/// no mount point answers EINVAL, which is fine: it has no propagation.
pub fn make_private(sys: &impl Sys, dir: &Path) -> Result<(), Error> {
    match mount::set_propagation(sys, dir, MountPropagation::Private, true) {
        Ok(()) => Ok(()),
        Err(error) if error.errno == Errno::EINVAL => Ok(()),
        Err(error) => Err(system_path(
            "cannot change ",
            dir,
            " filesystem propagation",
            error.errno,
        )),
    }
}

/// A proc filesystem for the new PID namespace, without setuid, device
/// files or executables, as util-linux mounts it.
pub fn mount_proc(sys: &impl Sys, dir: &Path) -> Result<(), Error> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount::mount(
        sys,
        Some(OsStr::new("proc")),
        dir,
        Some("proc"),
        flags,
        None,
    )
    .map_err(|error| system_path("mount ", dir, " failed", error.errno))
}
