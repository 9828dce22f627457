//! The thin layer over mount(2), umount2(2) and setns(2): nix where it has
//! the call, errno out, no policy.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, EX_SYSERR};

/// mount(2). `source` and `fstype` may be absent (bind remounts,
/// propagation changes pass "none" as util-linux does).
pub fn mount(
    source: Option<&OsStr>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    nix::mount::mount(source, target, fstype, flags, data)
}

/// umount2(2).
pub fn umount(target: &Path, flags: MntFlags) -> Result<(), Errno> {
    nix::mount::umount2(target, flags)
}

/// `-N`/`--namespace` of mount and umount: a PID names its
/// `/proc/PID/ns/mnt`, anything else is a namespace file. util-linux checks
/// at parse time that it can be opened.
pub fn namespace_argument(value: &OsStr) -> Result<PathBuf, Error> {
    let pid = value.to_str().and_then(|text| text.parse::<u32>().ok());
    let path = match pid.filter(|&pid| pid > 0) {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/ns/mnt")),
        None => PathBuf::from(value),
    };
    match std::fs::File::open(&path) {
        Ok(_) => Ok(path),
        Err(e) => {
            let text = ns_sys::io_error_text(&e);
            let message = [
                b"failed to set target namespace to ".as_slice(),
                path.as_os_str().as_bytes(),
                b": ",
                text.as_bytes(),
            ]
            .concat();
            Err(Error::failed_bytes(message, EX_SYSERR))
        }
    }
}

/// Enters the mount namespace of the file `path` (`/proc/PID/ns/mnt` or
/// a bind-mounted namespace file).
pub fn enter_mount_namespace(path: &Path) -> Result<(), Errno> {
    let file = std::fs::File::open(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNS)
}
