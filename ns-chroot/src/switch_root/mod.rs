//! ns-switch-root: a drop-in for util-linux `switch_root NEWROOT INIT
//! [ARG]...`, the last step of an initramfs. The stages, in order:
//! [`cli::parse`] turns argv into [`cli::SwitchRoot`]; [`switch`] moves
//! /dev, /proc, /sys and /run into NEWROOT, moves NEWROOT onto `/` and
//! changes the root into it (refusing first, with nothing moved, when the
//! last move cannot succeed); a child process empties the old root if it
//! is an initramfs ([`remove`]); INIT is executed by this process, which
//! keeps its PID.

pub mod cli;
pub mod remove;
pub mod statx;

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use ns_getopt::Start;
use ns_sys::sys::MountCall;
use ns_sys::Sys;

use crate::util_linux::{self, with_errno, UlError};
use cli::{Options, SwitchRoot};
use statx::MountFacts;

/// The API filesystems an initramfs mounts and the real root needs, in
/// util-linux's order. The old `/` itself cannot be unmounted.
pub const API_MOUNTS: [&str; 4] = ["/dev", "/proc", "/sys", "/run"];

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, cli::parse, run)
}

/// Does what the options say. On success it does not return: the process
/// becomes INIT.
pub fn run(options: &Options) -> Result<ExitCode, UlError> {
    let prog = &options.invoked_as;
    cli::TOOL.act(prog, &options.action, |switch| {
        switch_and_exec(prog, switch)
    })
}

fn switch_and_exec(prog: &str, options: &SwitchRoot) -> Result<ExitCode, UlError> {
    let mut warn = |line: Vec<u8>| util_linux::warn(prog, &line);
    let sorry = || UlError::failed("failed. Sorry.");
    let switched =
        switch(&ns_sys::Linux, &Disk, &options.newroot, &mut warn).map_err(|Reported| sorry())?;
    empty_old_root(switched, &mut warn).map_err(|Reported| sorry())?;
    exec_init(&options.init, &mut warn)
}

/// A file's device and kind, as the switch looks at them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub dev: u64,
    pub is_dir: bool,
}

/// What the switch reads of the file tree: a seam, so that the calls it
/// makes for a given tree are tested with made-up trees.
pub trait Look {
    /// stat(2), symlinks followed.
    fn stat(&self, path: &Path) -> Result<Node, Errno>;
    /// What statx(2) says of the path's mount (`None` if nothing).
    fn mount_facts(&self, path: &Path) -> Option<MountFacts>;
    /// Opens the current root directory, to empty it once left.
    fn open_root(&self) -> Result<OwnedFd, Errno>;
}

/// The real file tree.
pub struct Disk;

impl Look for Disk {
    fn stat(&self, path: &Path) -> Result<Node, Errno> {
        nix::sys::stat::stat(path).map(|stat| Node {
            dev: stat.st_dev,
            is_dir: stat.st_mode & libc::S_IFMT == libc::S_IFDIR,
        })
    }

    fn mount_facts(&self, path: &Path) -> Option<MountFacts> {
        statx::mount_facts(path)
    }

    fn open_root(&self) -> Result<OwnedFd, Errno> {
        use nix::fcntl::OFlag;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        nix::fcntl::open("/", flags, nix::sys::stat::Mode::empty())
    }
}

/// What to do with one of the API mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It is a plain directory of the old root: nothing is mounted there.
    Leave,
    /// NEWROOT has no directory for it (or has one on another
    /// filesystem, already mounted): it is detached.
    Detach,
    /// Moved to the same path in NEWROOT.
    Move,
}

/// util-linux's choice for one API mount: `here` is its stat on the old
/// root, `there` the stat of the same path inside NEWROOT (`None` when
/// stat failed).
pub fn step(old_root: Node, new_root: Node, here: Option<Node>, there: Option<Node>) -> Step {
    if here.is_some_and(|node| node.dev == old_root.dev) {
        return Step::Leave;
    }
    match there {
        Some(node) if node.dev == new_root.dev => Step::Move,
        _ => Step::Detach,
    }
}

/// The root left behind, and the errno util-linux's process would have
/// at this point (its warning about an old root that is not an initramfs
/// ends with that errno's text).
pub struct Switched {
    pub old_root: OwnedFd,
    pub last_errno: Errno,
}

/// A step failed; its warning has gone out already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// Warnings go out at once; the last failed call's errno is kept.
struct Report<'a> {
    warn: &'a mut dyn FnMut(Vec<u8>),
    last_errno: Errno,
}

impl Report<'_> {
    fn failed<T>(&mut self, result: Result<T, Errno>) -> Result<T, Errno> {
        if let Err(errno) = result {
            self.last_errno = errno;
        }
        result
    }

    fn warn(&mut self, parts: &[&[u8]], errno: Errno) -> Reported {
        self.last_errno = errno;
        (self.warn)(with_errno(parts, errno));
        Reported
    }
}

/// Switches the root to `newroot`, making util-linux's calls in its order
/// and warning as it warns; `Err` after the warning of a step that
/// failed (the caller ends with "failed. Sorry.").
pub fn switch(
    sys: &impl Sys,
    look: &impl Look,
    newroot: &Path,
    warn: &mut dyn FnMut(Vec<u8>),
) -> Result<Switched, Reported> {
    let mut report = Report {
        warn,
        last_errno: Errno::UnknownErrno,
    };
    let name = newroot.as_os_str().as_bytes();
    let old_root = look
        .stat(Path::new("/"))
        .map_err(|errno| report.warn(&[b"stat of / failed"], errno))?;
    let new_root = look
        .stat(newroot)
        .map_err(|errno| report.warn(&[b"stat of ", name, b" failed"], errno))?;
    refuse_a_doomed_switch(sys, look, newroot, new_root, &mut report)?;

    for dir in API_MOUNTS {
        let here = report.failed(look.stat(Path::new(dir))).ok();
        let inside = PathBuf::from(OsStr::from_bytes(&[name, dir.as_bytes()].concat()));
        let there = match here {
            Some(node) if node.dev == old_root.dev => None,
            _ => report.failed(look.stat(&inside)).ok(),
        };
        match step(old_root, new_root, here, there) {
            Step::Leave => {}
            Step::Detach => {
                let _ = report.failed(sys.umount2(Path::new(dir), MntFlags::MNT_DETACH));
            }
            Step::Move => {
                if let Err(errno) = sys.mount(&move_call(Path::new(dir), &inside)) {
                    let inside = inside.as_os_str().as_bytes();
                    let _ = report.warn(
                        &[b"failed to mount moving ", dir.as_bytes(), b" to ", inside],
                        errno,
                    );
                    (report.warn)([b"forcing unmount of ", dir.as_bytes()].concat());
                    let _ = report.failed(sys.umount2(Path::new(dir), MntFlags::MNT_FORCE));
                }
            }
        }
    }

    sys.chdir(newroot)
        .map_err(|errno| report.warn(&[b"failed to change directory to ", name], errno))?;
    let old_root = look
        .open_root()
        .map_err(|errno| report.warn(&[b"cannot open /"], errno))?;
    sys.mount(&move_call(newroot, Path::new("/")))
        .map_err(|errno| report.warn(&[b"failed to mount moving ", name, b" to /"], errno))?;
    sys.chroot(Path::new("."))
        .map_err(|errno| report.warn(&[b"failed to change root"], errno))?;
    sys.chdir(Path::new("/"))
        .map_err(|errno| report.warn(&[b"cannot change directory to /"], errno))?;
    Ok(Switched {
        old_root,
        last_errno: report.last_errno,
    })
}

/// util-linux moves and detaches the API mounts before it finds out that
/// NEWROOT cannot become `/`, and leaves them so: an initramfs whose root
/// did not mount is then without /dev and /proc for its rescue shell. So
/// when the kernel is sure to refuse the last move, it is refused here,
/// before anything changes, with the message util-linux ends with:
/// NEWROOT is not a directory (chdir fails), or statx(2) says it is not
/// the root of a mount or is on the current root's mount (mount(2) with
/// MS_MOVE checks the same), or, given relative, it is not found again
/// from inside itself (the last move is made after chdir). The last move
/// is then made first, from where it will be made, to report the kernel's
/// own errno; only EPERM (no privilege to mount at all, so the steps
/// before it change nothing either) goes on as util-linux does.
fn refuse_a_doomed_switch(
    sys: &impl Sys,
    look: &impl Look,
    newroot: &Path,
    new_root: Node,
    report: &mut Report<'_>,
) -> Result<(), Reported> {
    let name = newroot.as_os_str().as_bytes();
    if !new_root.is_dir {
        return Err(report.warn(&[b"failed to change directory to ", name], Errno::ENOTDIR));
    }
    let last = as_the_last_move_finds_it(newroot);
    let found = last == newroot || look.stat(&last).is_ok();
    let facts = look.mount_facts(&last).unwrap_or_default();
    let root_id = look
        .mount_facts(Path::new("/"))
        .and_then(|facts| facts.mount_id);
    let on_the_root_mount = facts.mount_id.is_some() && facts.mount_id == root_id;
    if found && facts.is_mount_root != Some(false) && !on_the_root_mount {
        return Ok(());
    }
    match sys.mount(&move_call(&last, Path::new("/"))) {
        Err(Errno::EPERM) => Ok(()),
        Err(errno) => Err(report.warn(&[b"failed to mount moving ", name, b" to /"], errno)),
        Ok(()) => {
            // The kernel moved what statx said it would not: the root is
            // now NEWROOT, without /dev, /proc, /sys and /run. Stop rather
            // than empty a root that is not the old one.
            (report.warn)([name, b": moved onto / before /dev, /proc, /sys and /run"].concat());
            Err(Reported)
        }
    }
}

/// NEWROOT as mount(2) will look it up for the last move: after
/// chdir(NEWROOT), so a relative one from inside itself (util-linux's
/// `switch_root root /sbin/init` moves `root/root`, if anything).
fn as_the_last_move_finds_it(newroot: &Path) -> PathBuf {
    if newroot.is_absolute() {
        newroot.to_path_buf()
    } else {
        newroot.join(newroot)
    }
}

/// mount(2) with MS_MOVE, as util-linux calls it (no type, no data).
fn move_call<'a>(source: &'a Path, target: &'a Path) -> MountCall<'a> {
    MountCall {
        source: Some(source.as_os_str()),
        target,
        fstype: None,
        flags: MsFlags::MS_MOVE,
        data: None,
    }
}

/// Empties the old root in a child process, as util-linux does, so INIT
/// starts without waiting for it: only a ramfs or tmpfs (an initramfs);
/// any other root is left with util-linux's warning.
fn empty_old_root(switched: Switched, warn: &mut dyn FnMut(Vec<u8>)) -> Result<(), Reported> {
    // SAFETY: the process is single-threaded here (the tools start no
    // threads), so the child may allocate and do anything the parent could.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            if remove::is_initramfs(&switched.old_root) {
                remove::remove_tree(switched.old_root, warn);
            } else {
                warn(with_errno(
                    &[b"old root filesystem is not an initramfs"],
                    switched.last_errno,
                ));
            }
            // SAFETY: _exit ends the child without running the parent's
            // exit handlers or flushing buffers it shares with the parent.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => Ok(()),
        Err(errno) => {
            // util-linux fails here without a word; say why.
            warn(with_errno(&[b"cannot fork"], errno));
            Err(Reported)
        }
    }
}

/// Executes INIT (no PATH search: it is a path in the new root), after
/// util-linux's warning when it is not executable.
fn exec_init(init: &[OsString], warn: &mut dyn FnMut(Vec<u8>)) -> Result<ExitCode, UlError> {
    let program = init[0].clone();
    if let Err(errno) = nix::unistd::access(program.as_os_str(), nix::unistd::AccessFlags::X_OK) {
        warn(with_errno(&[b"cannot access ", program.as_bytes()], errno));
    }
    let argv: Result<Vec<CString>, _> = init
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect();
    // An argument with a NUL byte cannot come from a real argv.
    let errno = match argv {
        Ok(argv) => {
            ns_sys::runtime::restore_sigpipe();
            nix::unistd::execv(&argv[0], &argv).unwrap_err()
        }
        Err(_) => Errno::EINVAL,
    };
    Err(UlError::Exec { program, errno })
}

#[cfg(test)]
mod tests;
