//! Namespaces held by open files (util-linux 2.41): a namespace file a
//! process keeps open (`/proc/PID/fd/N` reads `net:[INODE]`, or a path
//! when it was opened through a bind mount such as `ip netns`' — `/` once
//! that mount is gone), and the network namespace of a socket
//! (`socket:[INODE]`), which the socket keeps alive after every process
//! has left it.

use std::collections::HashSet;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::namespaces::NsType;
use crate::proc::{self, ProcDir};

/// `SIOCGSKNS` (linux/sockios.h): an fd of a socket's network namespace.
const SIOCGSKNS: libc::c_ulong = 0x894C;

/// What a scan of one process's descriptors looks for.
pub struct Wanted {
    /// The device of nsfs: a namespace file is on it.
    pub nsfs_dev: u64,
    /// Ask sockets for their network namespace (network namespaces are
    /// listed).
    pub sockets: bool,
}

/// What one process's descriptors hold.
#[derive(Default)]
pub struct Held {
    /// Namespace files: (inode, descriptor number NUL-padded).
    pub files: Vec<(u64, [u8; 16])>,
    /// Network namespaces of sockets other than the process's own:
    /// (inode, an fd of the namespace).
    pub socket_nets: Vec<(u64, OwnedFd)>,
}

/// Scans `/proc/PID/fd` of `dir`: one `readlinkat` per descriptor, a
/// `stat` only to confirm a namespace file or to ask a path whether it is
/// on nsfs (as util-linux stats every descriptor), and for a socket not met
/// before (`seen_sockets`, shared by the processes one thread reads) a
/// copy of it taken with `pidfd_getfd` to ask for its namespace, as
/// util-linux does. `own_net` is the process's own network namespace,
/// known already.
pub fn scan(
    dir: &ProcDir,
    pid: i32,
    wanted: &Wanted,
    own_net: u64,
    seen_sockets: &mut HashSet<u64>,
) -> Held {
    let mut held = Held::default();
    let Ok(fds) = dir.open_at(c"fd", libc::O_DIRECTORY) else {
        return held;
    };
    let fds = fds.as_raw_fd();
    let mut pidfd: Option<Option<OwnedFd>> = None;
    let _ = proc::for_each_entry(fds, true, |name, _| {
        if name.first().is_none_or(|b| !b.is_ascii_digit()) || name.len() > 15 {
            return;
        }
        let mut path = [0u8; 16];
        path[..name.len()].copy_from_slice(name);
        let Ok(cpath) = CStr::from_bytes_until_nul(&path) else {
            return;
        };
        let mut text = [0u8; 64];
        // SAFETY: a NUL-terminated name, a buffer valid for its length.
        let len =
            unsafe { libc::readlinkat(fds, cpath.as_ptr(), text.as_mut_ptr().cast(), text.len()) };
        if len <= 0 {
            return;
        }
        let text = &text[..len as usize];
        let Some(ino) = proc::parse_ns_link(text) else {
            // A namespace file opened by a path: known by its device.
            if text.first() == Some(&b'/') {
                if let Ok(st) = proc::stat_at(fds, cpath) {
                    let seen = held.files.iter().any(|&(seen, _)| seen == st.st_ino);
                    if st.st_dev == wanted.nsfs_dev && !seen {
                        held.files.push((st.st_ino, path));
                    }
                }
            }
            return;
        };
        let Some(colon) = text.iter().position(|&b| b == b':') else {
            return;
        };
        let kind = &text[..colon];
        if kind == b"socket" {
            if !wanted.sockets || !seen_sockets.insert(ino) {
                return;
            }
            let Some(fd) = std::str::from_utf8(name).ok().and_then(|n| n.parse().ok()) else {
                return;
            };
            let pidfd = pidfd.get_or_insert_with(|| pidfd_open(pid));
            if let Some((net, nsfd)) = pidfd.as_ref().and_then(|p| socket_net(p.as_raw_fd(), fd)) {
                if net != own_net && held.socket_nets.iter().all(|&(seen, _)| seen != net) {
                    held.socket_nets.push((net, nsfd));
                }
            }
            return;
        }
        let is_namespace = std::str::from_utf8(kind)
            .ok()
            .and_then(NsType::from_proc_name)
            .is_some();
        if !is_namespace || held.files.iter().any(|&(seen, _)| seen == ino) {
            return;
        }
        // Confirmed by stat: a namespace file, not a look-alike.
        if let Ok(st) = proc::stat_at(fds, cpath) {
            if st.st_dev == wanted.nsfs_dev && st.st_ino == ino {
                held.files.push((ino, path));
            }
        }
    });
    held
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) with no flags returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a new fd that nobody else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The network namespace of socket `fd` of the process `pidfd` refers to:
/// its inode and an fd of it. Failures (the process or the descriptor
/// gone, not ours to take) read as nothing: this is extra information.
fn socket_net(pidfd: RawFd, fd: RawFd) -> Option<(u64, OwnedFd)> {
    // SAFETY: pidfd_getfd(2) returns a new fd (a copy of the socket).
    let socket = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) };
    if socket < 0 {
        return None;
    }
    // SAFETY: a new fd that nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(socket as RawFd) };
    // SAFETY: SIOCGSKNS takes no argument and returns a new fd.
    let nsfd = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSKNS as _) };
    if nsfd < 0 {
        return None;
    }
    // SAFETY: a new fd that nobody else owns.
    let nsfd = unsafe { OwnedFd::from_raw_fd(nsfd) };
    let ino = proc::fstat(nsfd.as_raw_fd()).ok()?.st_ino;
    Some((ino, nsfd))
}

/// The device of nsfs, from one of our own namespace files.
pub fn nsfs_dev() -> Option<u64> {
    NsType::ALL.into_iter().find_map(|kind| {
        std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name()))
            .ok()
            .map(|m| std::os::linux::fs::MetadataExt::st_dev(&m))
    })
}
