//! The seam between the tools' logic and the kernel: the calls that change
//! a process's mounts, namespaces, root and identity. [`Linux`] makes
//! them; [`crate::recording::Recorder`] writes them down, so that what is
//! called in what order (a bind mount then its remount, setgroups denied
//! before a gid_map is written) is tested without privileges, as youki
//! tests its mount arguments. Their real effect is tested as root by the
//! integration tests.
//!
//! Only what needs privileges or changes the process goes through here;
//! reading files and /proc does not.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

/// A failed write to a kernel file (`/proc/PID/uid_map`, …): which of the
/// two steps failed matters to the wording of util-linux's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    Open(Errno),
    Write(Errno),
}

impl WriteError {
    pub fn errno(self) -> Errno {
        match self {
            WriteError::Open(errno) | WriteError::Write(errno) => errno,
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (step, errno) = match self {
            WriteError::Open(errno) => ("open", errno),
            WriteError::Write(errno) => ("write", errno),
        };
        write!(f, "{step}: {}", crate::strerror(*errno as i32))
    }
}

impl std::error::Error for WriteError {}

/// The arguments of one mount(2) call; `source` and `fstype` may be
/// absent (util-linux passes "none" for remounts and propagation changes:
/// see [`crate::mount`]).
#[derive(Debug, Clone, Copy)]
pub struct MountCall<'a> {
    pub source: Option<&'a OsStr>,
    pub target: &'a Path,
    pub fstype: Option<&'a str>,
    pub flags: MsFlags,
    pub data: Option<&'a str>,
}

/// The system calls, one method each, errno out and no policy.
pub trait Sys {
    fn mount(&self, call: &MountCall<'_>) -> Result<(), Errno>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno>;
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), Errno>;
    fn chroot(&self, path: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno>;
    fn setgid(&self, gid: u32) -> Result<(), Errno>;
    fn setuid(&self, uid: u32) -> Result<(), Errno>;
    /// setresgid(2) with the same id thrice.
    fn setresgid(&self, gid: u32) -> Result<(), Errno>;
    /// setresuid(2) with the same id thrice.
    fn setresuid(&self, uid: u32) -> Result<(), Errno>;
    /// Writes `data` to an existing kernel file in one write(2): the
    /// kernel takes an id map, `setgroups` or a time offset in a single
    /// write only.
    fn write_proc(&self, path: &Path, data: &[u8]) -> Result<(), WriteError>;
}

/// The real system calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

impl Sys for Linux {
    fn mount(&self, c: &MountCall<'_>) -> Result<(), Errno> {
        nix::mount::mount(c.source, c.target, c.fstype, c.flags, c.data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }

    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno> {
        nix::sched::unshare(flags)
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), Errno> {
        nix::sched::setns(fd, nstype)
    }

    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chroot(path)
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        let gids: Vec<Gid> = gids.iter().copied().map(Gid::from_raw).collect();
        nix::unistd::setgroups(&gids)
    }

    fn setgid(&self, gid: u32) -> Result<(), Errno> {
        nix::unistd::setgid(Gid::from_raw(gid))
    }

    fn setuid(&self, uid: u32) -> Result<(), Errno> {
        nix::unistd::setuid(Uid::from_raw(uid))
    }

    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        let gid = Gid::from_raw(gid);
        nix::unistd::setresgid(gid, gid, gid)
    }

    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        let uid = Uid::from_raw(uid);
        nix::unistd::setresuid(uid, uid, uid)
    }

    fn write_proc(&self, path: &Path, data: &[u8]) -> Result<(), WriteError> {
        let errno = |e: std::io::Error| crate::errno_of(&e);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| WriteError::Open(errno(e)))?;
        file.write_all(data)
            .map_err(|e| WriteError::Write(errno(e)))
    }
}
