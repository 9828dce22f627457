//! The file-descriptor mount API (Linux 5.2+, `mount_setattr` 5.12+):
//! `fsopen`, `fsconfig`, `fsmount`, `fspick`, `open_tree`,
//! `mount_setattr`, `move_mount`. util-linux 2.39+ mounts with it and
//! falls back to mount(2) where it is missing; neither nix nor libc wraps
//! these calls, so each is one raw `syscall` here, behind the [`FsApi`]
//! seam: [`Kernel`] makes the calls, [`Recorder`] writes them down so
//! that the order of a mount's calls is unit-tested without root.

use std::cell::RefCell;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `mount_setattr`'s flags, the `MOUNT_ATTR_*` of <linux/mount.h>.
pub mod attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    /// The atime mode field: one of RELATIME (0), NOATIME, STRICTATIME.
    pub const ATIME: u64 = 0x70;
    pub const RELATIME: u64 = 0x0;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const IDMAP: u64 = 0x0010_0000;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    /// An `MS_SHARED`/`MS_SLAVE`/`MS_PRIVATE`/`MS_UNBINDABLE` value.
    pub propagation: u64,
    pub userns_fd: u64,
}

/// How `open_tree` takes its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tree {
    /// A detached copy (a bind mount to be), not the mount itself.
    pub clone: bool,
    /// With everything mounted below (rbind).
    pub recursive: bool,
    /// The last component may be a symlink, taken as it is
    /// (`X-mount.nocanonicalize=source`).
    pub nofollow: bool,
    /// Resolved without symlinks and never above the starting point: a
    /// subdirectory of a fresh, detached mount (`X-mount.subdir`).
    pub beneath: bool,
}

/// One `fsconfig` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config<'a> {
    Flag(&'a str),
    String(&'a str, &'a [u8]),
    Create { exclusive: bool },
    Reconfigure,
}

/// The calls, one method each, errno out and no policy.
pub trait FsApi {
    /// Whether the kernel has the API at all (fsopen is not ENOSYS).
    fn available(&self) -> bool;
    fn fsopen(&self, fstype: &str) -> Result<OwnedFd, Errno>;
    fn fsconfig(&self, fs: BorrowedFd<'_>, config: Config<'_>) -> Result<(), Errno>;
    fn fsmount(&self, fs: BorrowedFd<'_>) -> Result<OwnedFd, Errno>;
    /// The superblock configuration of the mount `tree` is on (remount).
    fn fspick(&self, tree: BorrowedFd<'_>) -> Result<OwnedFd, Errno>;
    /// `path` relative to `at` (or the working directory).
    fn open_tree(
        &self,
        at: Option<BorrowedFd<'_>>,
        path: &OsStr,
        how: Tree,
    ) -> Result<OwnedFd, Errno>;
    fn mount_setattr(
        &self,
        tree: BorrowedFd<'_>,
        recursive: bool,
        attr: &MountAttr,
    ) -> Result<(), Errno>;
    /// Attaches `tree` on `target` (or, `beneath`, under the mount
    /// there).
    fn move_mount(&self, tree: BorrowedFd<'_>, target: &Path, beneath: bool) -> Result<(), Errno>;
    /// The filesystem context's messages (`e …`, `w …`, `i …`), drained.
    fn messages(&self, fs: BorrowedFd<'_>) -> Vec<String>;
}

// The syscall numbers (asm-generic, the same on every architecture since
// the calls arrived in 5.2; mount_setattr in 5.12).
const SYS_OPEN_TREE: libc::c_long = 428;
const SYS_MOVE_MOUNT: libc::c_long = 429;
const SYS_FSOPEN: libc::c_long = 430;
const SYS_FSCONFIG: libc::c_long = 431;
const SYS_FSMOUNT: libc::c_long = 432;
const SYS_FSPICK: libc::c_long = 433;
const SYS_MOUNT_SETATTR: libc::c_long = 442;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const FSPICK_CLOEXEC: libc::c_uint = 1;
const FSPICK_NO_AUTOMOUNT: libc::c_uint = 4;
const FSPICK_EMPTY_PATH: libc::c_uint = 8;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSCONFIG_CMD_RECONFIGURE: libc::c_uint = 7;
const FSCONFIG_CMD_CREATE_EXCL: libc::c_uint = 8;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_BENEATH: libc::c_uint = 0x200;

fn cstring(bytes: &[u8]) -> Result<CString, Errno> {
    CString::new(bytes).map_err(|_| Errno::EINVAL)
}

/// A syscall that returns a new descriptor.
fn fd_result(rc: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = RawFd::try_from(Errno::result(rc)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The real calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel;

impl FsApi for Kernel {
    fn available(&self) -> bool {
        // fsopen with a NULL type, mount_setattr on no descriptor: EFAULT,
        // EINVAL or EBADF where the calls exist (libmount's probes; it
        // needs mount_setattr for every mount's flags).
        // SAFETY: fsopen reads no memory through a NULL name; it fails.
        let rc = unsafe { libc::syscall(SYS_FSOPEN, std::ptr::null::<u8>(), FSOPEN_CLOEXEC) };
        if rc >= 0 {
            // SAFETY: an unexpected descriptor of ours, closed at once.
            drop(unsafe { OwnedFd::from_raw_fd(rc as RawFd) });
        } else if Errno::last() == Errno::ENOSYS {
            return false;
        }
        let null = std::ptr::null::<u8>();
        // SAFETY: with no descriptor and no structure the call fails
        // before reading anything.
        let rc = unsafe { libc::syscall(SYS_MOUNT_SETATTR, -1, null, 0, null, 0) };
        !(rc < 0 && Errno::last() == Errno::ENOSYS)
    }

    fn fsopen(&self, fstype: &str) -> Result<OwnedFd, Errno> {
        let name = cstring(fstype.as_bytes())?;
        // SAFETY: a NUL-terminated name that lives across the call.
        fd_result(unsafe { libc::syscall(SYS_FSOPEN, name.as_ptr(), FSOPEN_CLOEXEC) })
    }

    fn fsconfig(&self, fs: BorrowedFd<'_>, config: Config<'_>) -> Result<(), Errno> {
        let (cmd, key, value) = match config {
            Config::Flag(key) => (FSCONFIG_SET_FLAG, Some(cstring(key.as_bytes())?), None),
            Config::String(key, value) => (
                FSCONFIG_SET_STRING,
                Some(cstring(key.as_bytes())?),
                Some(cstring(value)?),
            ),
            Config::Create { exclusive: false } => (FSCONFIG_CMD_CREATE, None, None),
            Config::Create { exclusive: true } => (FSCONFIG_CMD_CREATE_EXCL, None, None),
            Config::Reconfigure => (FSCONFIG_CMD_RECONFIGURE, None, None),
        };
        let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY: key and value are NUL-terminated or NULL, and live
        // across the call.
        let rc = unsafe {
            libc::syscall(
                SYS_FSCONFIG,
                fs.as_raw_fd(),
                cmd,
                ptr(&key),
                ptr(&value),
                0 as libc::c_int,
            )
        };
        Errno::result(rc).map(drop)
    }

    fn fsmount(&self, fs: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
        // SAFETY: plain integers.
        fd_result(unsafe { libc::syscall(SYS_FSMOUNT, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) })
    }

    fn fspick(&self, tree: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
        let flags = FSPICK_CLOEXEC | FSPICK_EMPTY_PATH | FSPICK_NO_AUTOMOUNT;
        // SAFETY: an empty NUL-terminated path, a descriptor we hold.
        fd_result(unsafe { libc::syscall(SYS_FSPICK, tree.as_raw_fd(), c"".as_ptr(), flags) })
    }

    fn open_tree(
        &self,
        at: Option<BorrowedFd<'_>>,
        path: &OsStr,
        how: Tree,
    ) -> Result<OwnedFd, Errno> {
        let dirfd = at.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
        let mut flags = libc::O_CLOEXEC as libc::c_uint;
        if how.clone {
            flags |= OPEN_TREE_CLONE;
        }
        if how.recursive {
            flags |= libc::AT_RECURSIVE as libc::c_uint;
        }
        if how.nofollow {
            flags |= libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
        }
        if how.beneath {
            // open_tree has no RESOLVE_* flags: the path is opened with
            // openat2 first, and the tree taken from that descriptor.
            let pinned = openat2_beneath(dirfd, path)?;
            let flags =
                flags | libc::AT_EMPTY_PATH as libc::c_uint | libc::AT_NO_AUTOMOUNT as libc::c_uint;
            // SAFETY: an empty NUL-terminated path, a descriptor we hold.
            return fd_result(unsafe {
                libc::syscall(SYS_OPEN_TREE, pinned.as_raw_fd(), c"".as_ptr(), flags)
            });
        }
        let path = cstring(path.as_bytes())?;
        // SAFETY: a NUL-terminated path that lives across the call.
        fd_result(unsafe { libc::syscall(SYS_OPEN_TREE, dirfd, path.as_ptr(), flags) })
    }

    fn mount_setattr(
        &self,
        tree: BorrowedFd<'_>,
        recursive: bool,
        attr: &MountAttr,
    ) -> Result<(), Errno> {
        let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
        if recursive {
            flags |= libc::AT_RECURSIVE as libc::c_uint;
        }
        // SAFETY: the structure lives across the call and its size is
        // passed with it.
        let rc = unsafe {
            libc::syscall(
                SYS_MOUNT_SETATTR,
                tree.as_raw_fd(),
                c"".as_ptr(),
                flags,
                attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(rc).map(drop)
    }

    fn move_mount(&self, tree: BorrowedFd<'_>, target: &Path, beneath: bool) -> Result<(), Errno> {
        let target = cstring(target.as_os_str().as_bytes())?;
        let mut flags = MOVE_MOUNT_F_EMPTY_PATH;
        if beneath {
            flags |= MOVE_MOUNT_BENEATH;
        }
        // SAFETY: NUL-terminated paths that live across the call.
        let rc = unsafe {
            libc::syscall(
                SYS_MOVE_MOUNT,
                tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                flags,
            )
        };
        Errno::result(rc).map(drop)
    }

    fn messages(&self, fs: BorrowedFd<'_>) -> Vec<String> {
        // One message per read(2); ENODATA when none is left.
        let mut messages = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: reading into a buffer we own, at most its length.
            let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                break;
            };
            if n == 0 {
                break;
            }
            let text = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
            if !text.is_empty() {
                messages.push(String::from_utf8_lossy(text).into_owned());
            }
        }
        messages
    }
}

/// `openat2(dirfd, path, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`.
fn openat2_beneath(dirfd: RawFd, path: &OsStr) -> Result<OwnedFd, Errno> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    const RESOLVE_BENEATH: u64 = 0x08;
    let path = cstring(path.as_bytes())?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
    };
    // SAFETY: the path and the structure live across the call, whose size
    // is passed with it.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })
}

/// An [`FsApi`] that makes no mount call: it writes each call down as a
/// line (`fsopen tmpfs`, `move_mount /dst`), hands out descriptors of
/// /dev/null, and fails the calls it is told to.
#[derive(Default)]
pub struct Recorder {
    calls: RefCell<Vec<String>>,
    failing: Vec<(String, Errno, Vec<String>)>,
    unavailable: bool,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// The first recorded call that starts with `prefix` fails with
    /// `errno`, leaving `messages` in the context.
    pub fn failing(mut self, prefix: &str, errno: Errno, messages: &[&str]) -> Recorder {
        let messages = messages.iter().map(|m| m.to_string()).collect();
        self.failing.push((prefix.to_string(), errno, messages));
        self
    }

    /// A kernel without the API.
    pub fn unavailable(mut self) -> Recorder {
        self.unavailable = true;
        self
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) -> Result<(), Errno> {
        let failure = self
            .failing
            .iter()
            .find(|(prefix, _, _)| call.starts_with(prefix.as_str()))
            .map(|(_, errno, _)| *errno);
        self.calls.borrow_mut().push(call);
        failure.map_or(Ok(()), Err)
    }

    fn fd(&self, call: String) -> Result<OwnedFd, Errno> {
        self.record(call)?;
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| ns_sys::errno_of(&e))
    }
}

impl FsApi for Recorder {
    fn available(&self) -> bool {
        !self.unavailable
    }

    fn fsopen(&self, fstype: &str) -> Result<OwnedFd, Errno> {
        self.fd(format!("fsopen {fstype}"))
    }

    fn fsconfig(&self, _: BorrowedFd<'_>, config: Config<'_>) -> Result<(), Errno> {
        self.record(match config {
            Config::Flag(key) => format!("fsconfig {key}"),
            Config::String(key, value) => {
                format!("fsconfig {key}={}", String::from_utf8_lossy(value))
            }
            Config::Create { exclusive } => {
                format!("fsconfig create{}", if exclusive { "-excl" } else { "" })
            }
            Config::Reconfigure => "fsconfig reconfigure".to_string(),
        })
    }

    fn fsmount(&self, _: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
        self.fd("fsmount".to_string())
    }

    fn fspick(&self, _: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
        self.fd("fspick".to_string())
    }

    fn open_tree(
        &self,
        at: Option<BorrowedFd<'_>>,
        path: &OsStr,
        how: Tree,
    ) -> Result<OwnedFd, Errno> {
        let mut call = format!("open_tree {}", path.to_string_lossy());
        for (set, word) in [
            (at.is_some(), " at"),
            (how.clone, " clone"),
            (how.recursive, " recursive"),
            (how.nofollow, " nofollow"),
            (how.beneath, " beneath"),
        ] {
            if set {
                call.push_str(word);
            }
        }
        self.fd(call)
    }

    fn mount_setattr(
        &self,
        _: BorrowedFd<'_>,
        recursive: bool,
        a: &MountAttr,
    ) -> Result<(), Errno> {
        self.record(format!(
            "mount_setattr set={:#x} clr={:#x} propagation={:#x}{}{}",
            a.attr_set,
            a.attr_clr,
            a.propagation,
            if a.userns_fd != 0 { " userns" } else { "" },
            if recursive { " recursive" } else { "" }
        ))
    }

    fn move_mount(&self, _: BorrowedFd<'_>, target: &Path, beneath: bool) -> Result<(), Errno> {
        let beneath = if beneath { " beneath" } else { "" };
        self.record(format!("move_mount {}{beneath}", target.display()))
    }

    fn messages(&self, _: BorrowedFd<'_>) -> Vec<String> {
        // The messages of the failure just recorded.
        let calls = self.calls.borrow();
        let Some(last) = calls.last() else {
            return Vec::new();
        };
        self.failing
            .iter()
            .find(|(prefix, _, _)| last.starts_with(prefix.as_str()))
            .map(|(_, _, messages)| messages.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_is_the_kernels_size() {
        assert_eq!(std::mem::size_of::<MountAttr>(), 32);
    }

    #[test]
    fn the_kernel_has_the_api_or_says_enosys() {
        // Either answer is fine; the probe must not leak or panic.
        let _ = Kernel.available();
        let error = Kernel.fsopen("no\0such").unwrap_err();
        assert_eq!(error, Errno::EINVAL);
    }
}
