//! `-N`/`--namespace` of mount and umount: the mount namespace to work in.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ns_sys::{Errno, NsType, Sys};

use crate::error::{Error, EX_SYSERR};

/// The option's value: a PID names its `/proc/PID/ns/mnt`, anything else
/// is a namespace file. util-linux checks at parse time that it can be
/// opened.
pub fn argument(value: &OsStr) -> Result<PathBuf, Error> {
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
pub fn enter(sys: &impl Sys, path: &Path) -> Result<(), Error> {
    let file = std::fs::File::open(path).map_err(|e| ns_sys::errno_of(&e));
    file.and_then(|file| sys.setns(file.as_fd(), NsType::Mnt.clone_flag()))
        .map_err(|_: Errno| Error::failed("failed to switch namespace", EX_SYSERR))
}
