//! The kernel calls only nsenter makes, which neither nix nor the rest of
//! the crate wraps: pidfds, the namespace ioctls, file handles of
//! namespaces, and the kernel's version. Each returns an errno; the
//! caller words the message.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `PIDFD_GET_USER_NAMESPACE` and `PIDFD_GET_MNT_NAMESPACE`
/// (linux/pidfd.h, Linux 6.11): `_IO(0xFF, 9)` and `_IO(0xFF, 3)`.
const PIDFD_GET_USER_NAMESPACE: libc::c_ulong = 0xFF09;
const PIDFD_GET_MNT_NAMESPACE: libc::c_ulong = 0xFF03;

/// `SIOCGSKNS` (linux/sockios.h): the network namespace of a socket.
const SIOCGSKNS: libc::c_ulong = 0x894C;

/// The file system of pidfds since Linux 6.9 (`PIDFS_MAGIC`).
const PIDFS_MAGIC: libc::c_long = 0x5049_4446;

fn owned(rc: libc::c_long) -> Result<OwnedFd, Errno> {
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor, which nobody else
    // owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) })
}

/// pidfd_open(2) (Linux 5.3).
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// pidfd_getfd(2) (Linux 5.6): a copy of descriptor `fd` of the process.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_getfd takes two descriptors and flags and returns a
    // new fd.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// An ioctl that takes no argument and returns a new descriptor.
fn ioctl_fd(fd: BorrowedFd<'_>, request: libc::c_ulong) -> Result<OwnedFd, Errno> {
    // SAFETY: each request used here takes no argument (the pidfd ones
    // insist on a zero) and returns a new descriptor or -1.
    owned(libc::c_long::from(unsafe {
        libc::ioctl(fd.as_raw_fd(), request as _, 0 as libc::c_ulong)
    }))
}

/// The user namespace of the process a pidfd refers to (Linux 6.11).
pub fn pidfd_user_namespace(pidfd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    ioctl_fd(pidfd, PIDFD_GET_USER_NAMESPACE)
}

/// The mount namespace of the process a pidfd refers to (Linux 6.11).
pub fn pidfd_mount_namespace(pidfd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    ioctl_fd(pidfd, PIDFD_GET_MNT_NAMESPACE)
}

/// `NS_GET_USERNS`: the user namespace owning a namespace; for a user
/// namespace, its parent.
pub fn owning_user_namespace(ns: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    ioctl_fd(ns, libc::NS_GET_USERNS as libc::c_ulong)
}

/// `SIOCGSKNS`: the network namespace a socket belongs to.
pub fn socket_namespace(socket: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    ioctl_fd(socket, SIOCGSKNS)
}

/// Whether a pidfd lives on pidfs (Linux 6.9), whose inode numbers
/// identify a process for good.
pub fn is_pidfs(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into the struct we own.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } != 0 {
        return Err(Errno::last());
    }
    Ok(fs.f_type as libc::c_long == PIDFS_MAGIC)
}

/// The status of an open file: its owner, inode, …
pub fn stat(fd: BorrowedFd<'_>) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into the struct we own.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Errno::last());
    }
    Ok(st)
}

/// `struct file_handle` with room for `struct nsfs_file_handle`
/// (linux/nsfs.h: `ns_id`, `ns_type`, `ns_inum`).
#[repr(C)]
struct NsfsHandle {
    handle_bytes: u32,
    handle_type: i32,
    ns_id: u64,
    ns_type: u32,
    ns_inum: u32,
}

const NSFS_HANDLE_BYTES: u32 = 16;

/// Opens the namespace with the 64-bit namespace ID `id` through a file
/// handle of nsfs (Linux 6.19 opens them by ID alone). The handle type
/// and a descriptor on nsfs are taken from our own mount namespace, as
/// the kernel does not export them. `Err((true, errno))` when building
/// the handle failed, `Err((false, errno))` when opening it did.
pub fn open_namespace_by_id(id: u64) -> Result<OwnedFd, (bool, Errno)> {
    let fill = |errno| (true, errno);
    let me = pidfd_open(std::process::id() as i32).map_err(fill)?;
    let nsfs = pidfd_mount_namespace(me.as_fd()).map_err(fill)?;
    let mut handle = NsfsHandle {
        handle_bytes: NSFS_HANDLE_BYTES,
        handle_type: 0,
        ns_id: 0,
        ns_type: 0,
        ns_inum: 0,
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: the handle has room for handle_bytes bytes after its header;
    // the path is an empty C string (AT_EMPTY_PATH: the fd itself).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            nsfs.as_raw_fd(),
            c"".as_ptr(),
            &mut handle as *mut NsfsHandle,
            &mut mount_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH | libc::AT_HANDLE_FID,
        )
    };
    if rc < 0 {
        return Err(fill(Errno::last()));
    }
    handle.ns_id = id;
    handle.ns_type = 0;
    handle.ns_inum = 0;
    // SAFETY: a complete handle as the kernel filled it, with our ID.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            nsfs.as_raw_fd(),
            &mut handle as *mut NsfsHandle,
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    owned(rc).map_err(|errno| (false, errno))
}

/// The running kernel's version, (major, minor, patch), from uname(2);
/// `None` when its release string does not start with one.
pub fn kernel_version() -> Option<(u32, u32, u32)> {
    // SAFETY: an all-zero utsname is a valid value to be overwritten.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into the struct we own.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates the release within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    parse_release(release.to_str().ok()?)
}

/// `6.18.44-foo` → (6, 18, 44); a missing part reads 0, as util-linux's
/// `get_linux_version` reads it.
pub fn parse_release(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release.splitn(3, '.').map(|part| {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        part[..digits].parse::<u32>().ok()
    });
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases() {
        assert_eq!(parse_release("6.18.44-fc-v1045"), Some((6, 18, 44)));
        assert_eq!(parse_release("5.7"), Some((5, 7, 0)));
        assert_eq!(parse_release("5.8.0-rc1"), Some((5, 8, 0)));
        assert_eq!(parse_release("4"), Some((4, 0, 0)));
        assert_eq!(parse_release("x.1"), None);
        assert!(kernel_version().is_some());
    }

    #[test]
    fn own_pidfd_and_its_file_system() {
        let fd = pidfd_open(std::process::id() as i32).expect("pidfd_open of ourselves");
        // pidfs exists since 6.9; older kernels use anonymous inodes.
        let _ = is_pidfs(fd.as_fd()).expect("fstatfs");
        assert!(stat(fd.as_fd()).expect("fstat").st_ino > 0);
        assert_eq!(pidfd_open(-5).unwrap_err(), Errno::EINVAL);
    }
}
