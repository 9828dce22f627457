//! `X-mount.idmap=` (and `--map-users`, `--map-groups`): the user
//! namespace whose ID mapping an idmapped mount takes. Either a namespace
//! file (`/proc/PID/ns/user`), or mappings `[u:|g:|b:]INNER:OUTER:COUNT`
//! separated by blanks, written into a user namespace made for the
//! purpose, as libmount's hook_idmap does: INNER is the ID on the
//! filesystem, OUTER the one the mount shows.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Which IDs a mapping maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    Users,
    Groups,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub ids: Ids,
    pub inner: u32,
    pub outer: u32,
    pub count: u32,
}

/// What `X-mount.idmap=` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idmap {
    /// A user namespace file.
    Namespace(String),
    Mappings(Vec<Mapping>),
}

/// Parses the option's value; `None` for what libmount refuses (an empty
/// value, a mapping that is not three numbers).
pub fn parse(value: &str) -> Option<Idmap> {
    let value = value.trim_start_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    if value.starts_with('/') {
        return Some(Idmap::Namespace(value.to_string()));
    }
    let mut mappings = Vec::new();
    for token in value.split(' ').filter(|t| !t.is_empty()) {
        let (ids, rest) = match token.split_at_checked(2) {
            Some(("b:", rest)) => (Ids::Both, rest),
            Some(("u:", rest)) => (Ids::Users, rest),
            Some(("g:", rest)) => (Ids::Groups, rest),
            _ => (Ids::Both, token),
        };
        let mut numbers = rest.splitn(3, ':').map(leading_number);
        let (Some(Some(inner)), Some(Some(outer)), Some(Some(count))) =
            (numbers.next(), numbers.next(), numbers.next())
        else {
            return None;
        };
        mappings.push(Mapping {
            ids,
            inner,
            outer,
            count,
        });
    }
    Some(Idmap::Mappings(mappings))
}

/// A number as sscanf's `%u` reads one: the digits at the start.
fn leading_number(text: &str) -> Option<u32> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The `uid_map` or `gid_map` text of the mappings.
pub fn map_text(mappings: &[Mapping], users: bool) -> String {
    mappings
        .iter()
        .filter(|m| match m.ids {
            Ids::Both => true,
            Ids::Users => users,
            Ids::Groups => !users,
        })
        .map(|m| format!("{} {} {}\n", m.inner, m.outer, m.count))
        .collect()
}

/// The user namespace to attach: the file opened, or a new namespace
/// with the mappings written.
pub fn user_namespace(idmap: &Idmap) -> Result<OwnedFd, Errno> {
    match idmap {
        Idmap::Namespace(path) => File::open(path)
            .map(OwnedFd::from)
            .map_err(|e| ns_sys::errno_of(&e)),
        Idmap::Mappings(mappings) => new_namespace(mappings),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which we then own.
    Errno::result(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both are new descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A child enters a new user namespace and waits there while we write
/// its maps and open its namespace file; then it exits, and the open file
/// keeps the namespace.
fn new_namespace(mappings: &[Mapping]) -> Result<OwnedFd, Errno> {
    let (ready_read, ready_write) = pipe()?;
    let (done_read, done_write) = pipe()?;
    // SAFETY: ns-mount is single-threaded; the child makes only
    // async-signal-safe calls (unshare, write, read, _exit).
    let pid = Errno::result(unsafe { libc::fork() })?;
    if pid == 0 {
        drop(ready_read);
        drop(done_write);
        // SAFETY: plain system calls on descriptors we hold.
        unsafe {
            let byte = [1u8];
            if libc::unshare(libc::CLONE_NEWUSER) != 0
                || libc::write(ready_write.as_raw_fd(), byte.as_ptr().cast(), 1) != 1
            {
                libc::_exit(1);
            }
            let mut buf = [0u8; 1];
            // Returns when the parent closes its end.
            libc::read(done_read.as_raw_fd(), buf.as_mut_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_write);
    drop(done_read);
    let result = (|| {
        let mut byte = [0u8; 1];
        // SAFETY: reading one byte into a buffer we own.
        let n = unsafe { libc::read(ready_read.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
        if n != 1 {
            return Err(Errno::ECHILD);
        }
        let write = |file: &str, text: &str| -> Result<(), Errno> {
            if text.is_empty() {
                return Ok(());
            }
            std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|e| ns_sys::errno_of(&e))
        };
        // Without privileges a gid_map needs setgroups denied first.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            let _ = write("setgroups", "deny\n");
        }
        write("uid_map", &map_text(mappings, true))?;
        write("gid_map", &map_text(mappings, false))?;
        File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| ns_sys::errno_of(&e))
    })();
    drop(done_write);
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_as_libmount_reads_them() {
        let Some(Idmap::Mappings(m)) = parse("u:1000:0:1 g:1001:1:2  5000:1000:2") else {
            panic!("not parsed");
        };
        assert_eq!(m.len(), 3);
        assert_eq!(map_text(&m, true), "1000 0 1\n5000 1000 2\n");
        assert_eq!(map_text(&m, false), "1001 1 2\n5000 1000 2\n");
        assert_eq!(
            parse("/proc/1/ns/user"),
            Some(Idmap::Namespace("/proc/1/ns/user".into()))
        );
        assert_eq!(parse("  "), None);
        assert_eq!(parse("1:2"), None);
        assert_eq!(parse("x:1:2:3"), None);
        assert_eq!(parse("u:a:1:1"), None);
        // sscanf stops at the first non-digit of the last number.
        assert!(parse("0:0:1x").is_some());
    }
}
