//! A [`Sys`] that makes no system call: it writes each call down, and
//! fails the ones it is told to, so the tools' unit tests check the order
//! and the arguments of their calls without root.
//!
//! It is compiled into the library (not `cfg(test)`) so that the tools'
//! tests can use it; nothing in a binary refers to it, so the linker
//! leaves it out.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use crate::sys::{MountCall, Sys, WriteError};

/// One system call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        source: Option<OsString>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount2(PathBuf, MntFlags),
    Unshare(CloneFlags),
    Setns(CloneFlags),
    Chroot(PathBuf),
    Chdir(PathBuf),
    PivotRoot(PathBuf, PathBuf),
    Setgroups(Vec<u32>),
    Setgid(u32),
    Setuid(u32),
    Setresgid(u32),
    Setresuid(u32),
    WriteProc(PathBuf, Vec<u8>),
}

impl Call {
    /// A mount call as a test writes it: `mount("src", "/dst", flags)`.
    pub fn mount(source: &str, target: &str, fstype: Option<&str>, flags: MsFlags) -> Call {
        Call::Mount {
            source: Some(source.into()),
            target: target.into(),
            fstype: fstype.map(str::to_string),
            flags,
            data: None,
        }
    }

    /// A write of `text` to a kernel file.
    pub fn write(path: &str, text: &str) -> Call {
        Call::WriteProc(path.into(), text.as_bytes().to_vec())
    }
}

type Rule = (Box<dyn Fn(&Call) -> bool>, Errno);

/// The recording double.
#[derive(Default)]
pub struct Recorder {
    calls: RefCell<Vec<Call>>,
    failures: Vec<Rule>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Every call `matches` picks fails with `errno` (recorded all the
    /// same: it was made).
    pub fn failing(mut self, matches: impl Fn(&Call) -> bool + 'static, errno: Errno) -> Self {
        self.failures.push((Box::new(matches), errno));
        self
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: Call) -> Result<(), Errno> {
        let failure = self
            .failures
            .iter()
            .find(|(matches, _)| matches(&call))
            .map(|(_, errno)| *errno);
        self.calls.borrow_mut().push(call);
        match failure {
            Some(errno) => Err(errno),
            None => Ok(()),
        }
    }
}

impl Sys for Recorder {
    fn mount(&self, call: &MountCall<'_>) -> Result<(), Errno> {
        self.record(Call::Mount {
            source: call.source.map(OsStr::to_os_string),
            target: call.target.to_path_buf(),
            fstype: call.fstype.map(str::to_string),
            flags: call.flags,
            data: call.data.map(str::to_string),
        })
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        self.record(Call::Umount2(target.to_path_buf(), flags))
    }

    fn unshare(&self, flags: CloneFlags) -> Result<(), Errno> {
        self.record(Call::Unshare(flags))
    }

    fn setns(&self, _fd: BorrowedFd<'_>, nstype: CloneFlags) -> Result<(), Errno> {
        self.record(Call::Setns(nstype))
    }

    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::Chroot(path.to_path_buf()))
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::Chdir(path.to_path_buf()))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(Call::PivotRoot(
            new_root.to_path_buf(),
            put_old.to_path_buf(),
        ))
    }

    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        self.record(Call::Setgroups(gids.to_vec()))
    }

    fn setgid(&self, gid: u32) -> Result<(), Errno> {
        self.record(Call::Setgid(gid))
    }

    fn setuid(&self, uid: u32) -> Result<(), Errno> {
        self.record(Call::Setuid(uid))
    }

    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        self.record(Call::Setresgid(gid))
    }

    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        self.record(Call::Setresuid(uid))
    }

    fn write_proc(&self, path: &Path, data: &[u8]) -> Result<(), WriteError> {
        self.record(Call::WriteProc(path.to_path_buf(), data.to_vec()))
            .map_err(WriteError::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_fails_as_told() {
        let sys = Recorder::new().failing(|call| matches!(call, Call::Setuid(0)), Errno::EPERM);
        assert_eq!(sys.chroot(Path::new("/r")), Ok(()));
        assert_eq!(sys.setuid(0), Err(Errno::EPERM));
        assert_eq!(sys.setuid(1), Ok(()));
        assert_eq!(
            sys.calls(),
            [Call::Chroot("/r".into()), Call::Setuid(0), Call::Setuid(1)]
        );
    }
}
