//! Files inside TARGET, resolved as if TARGET were `/`.
//!
//! TARGET's contents are not ours to trust: an offline tarball's extra
//! entries, a package's data, or an earlier run may have left `etc -> /etc`
//! or `var/lib/dpkg -> ../../../../root` there. Every file ns-bootstrap
//! creates, writes, appends to, renames, removes or changes the mode of
//! inside TARGET goes through a [`Root`], so that no symlink and no `..`
//! can lead it outside:
//! - the directory an operation works in is opened with `openat2(2)` and
//!   `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (Linux 5.6+): absolute
//!   symlinks start again at TARGET, `..` stops at it, `/proc/self/...`
//!   style links are refused; on older kernels the same resolution is done
//!   one component at a time with `O_NOFOLLOW` (see [`walk`]);
//! - the last name is then used relative to that directory's descriptor
//!   and never followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `unlinkat`,
//!   `renameat`), so a planted symlink is replaced, not written through;
//! - nothing is re-resolved by path once opened (no check-then-use).
//!
//! Errors are `io::Error`s; callers say which path (relative to TARGET)
//! they concern, via [`Root::show`].
//!
//! Files: this one holds [`Root`] and the in-root resolution (`openat2(2)`
//! or the walk); `dir.rs` the operations on one directory's entries by
//! name ([`Dir`]); `private.rs` the unguessable scratch names made outside
//! TARGET ([`make_private_dir`], [`make_private_file`]).

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, SFlag};

mod dir;
mod private;
#[cfg(test)]
mod tests;

pub use dir::{set_mode_of, Dir};
pub use private::{make_private_dir, make_private_file};

/// How many symlinks one resolution may follow (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// A directory everything below which is resolved in-root.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// Resolve with the walk even where openat2 exists (tests of the
    /// fallback).
    walk_only: bool,
    /// Set once `openat2(2)` turned out to be missing (ENOSYS on kernels
    /// before 5.6, or a seccomp filter that refuses it): the walk is used
    /// from then on.
    no_openat2: AtomicBool,
}

/// A single path component: not empty, not `.` or `..`, no `/` or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(CString);

impl Name {
    pub fn new(bytes: &[u8]) -> io::Result<Name> {
        if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
            return Err(invalid(format!(
                "'{}' is not a file name",
                String::from_utf8_lossy(bytes)
            )));
        }
        CString::new(bytes)
            .map(Name)
            .map_err(|_| invalid("NUL in a file name".to_string()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Splits a path relative to the root into its parent (bytes) and last
/// name. `a/b/c` gives (`a/b`, `c`); a path with no last name (``, `.`,
/// `a/..`) is refused.
fn split_last(rel: &[u8]) -> io::Result<(&[u8], Name)> {
    let trimmed = trim_trailing_slashes(rel);
    let (parent, last) = match trimmed.iter().rposition(|b| *b == b'/') {
        Some(slash) => (&trimmed[..slash], &trimmed[slash + 1..]),
        None => (&b""[..], trimmed),
    };
    Ok((parent, Name::new(last)?))
}

fn trim_trailing_slashes(mut rel: &[u8]) -> &[u8] {
    while rel.len() > 1 && rel.ends_with(b"/") {
        rel = &rel[..rel.len() - 1];
    }
    rel
}

impl Root {
    /// Opens TARGET itself. The user named it: it is followed as given.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            walk_only: false,
            no_openat2: AtomicBool::new(false),
        })
    }

    /// TARGET as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `rel` as a path under TARGET, for messages.
    pub fn show(&self, rel: impl AsRef<[u8]>) -> String {
        self.path
            .join(OsStr::from_bytes(rel.as_ref()))
            .display()
            .to_string()
    }

    /// TARGET's own descriptor (`O_PATH`), e.g. to `fchdir` into it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The root directory itself, as a [`Dir`].
    pub fn top(&self) -> io::Result<Dir> {
        self.fd.try_clone().map(Dir)
    }

    /// Opens the directory at `rel`, resolved in-root.
    pub fn dir(&self, rel: impl AsRef<[u8]>) -> io::Result<Dir> {
        self.resolve(rel.as_ref(), OFlag::O_DIRECTORY).map(Dir)
    }

    /// Opens (for reading, as `O_PATH`) whatever `rel` resolves to in-root,
    /// following a final symlink in-root too.
    pub fn resolve_path(&self, rel: impl AsRef<[u8]>) -> io::Result<OwnedFd> {
        self.resolve(rel.as_ref(), OFlag::empty())
    }

    /// The directory at `rel`, made (mode 0755, then the umask) where it
    /// or any directory on the way is missing.
    pub fn create_dir_all(&self, rel: impl AsRef<[u8]>) -> io::Result<Dir> {
        self.create_dir_all_hops(rel.as_ref(), 0)
    }

    /// A dangling symlink on the way (`etc -> /srv/etc` where TARGET has
    /// no `srv`) gets its in-root target made, as tar and the old
    /// path-based extraction did; `hops` bounds how many.
    fn create_dir_all_hops(&self, rel: &[u8], hops: usize) -> io::Result<Dir> {
        let rel = trim_trailing_slashes(rel);
        match self.dir(rel) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let (parent_rel, last) = split_last(rel)?;
                let parent = self.create_dir_all_hops(parent_rel, hops)?;
                match parent.mkdir(&last, 0o755) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e),
                    _ => {}
                }
                // Resolved again from the root: the same rules whatever
                // the new name is.
                match self.dir(rel) {
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        let stat = parent.lstat(&last)?;
                        if !is_kind(&stat, SFlag::S_IFLNK) {
                            return Err(e);
                        }
                        if hops >= MAX_SYMLINKS {
                            return Err(errno(Errno::ELOOP));
                        }
                        let target =
                            nix::fcntl::readlinkat(&parent.0, last.0.as_c_str()).map_err(errno)?;
                        let target = target.as_bytes();
                        let mut next = Vec::new();
                        if !target.starts_with(b"/") {
                            next.extend_from_slice(parent_rel);
                            next.push(b'/');
                        }
                        next.extend_from_slice(target);
                        self.create_dir_all_hops(&next, hops + 1)?;
                        self.dir(rel)
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    /// The directory holding `rel`'s last name (made where missing when
    /// `create`), and that name.
    pub fn parent(&self, rel: impl AsRef<[u8]>, create: bool) -> io::Result<(Dir, Name)> {
        let (parent, name) = split_last(rel.as_ref())?;
        let dir = if create {
            self.create_dir_all(parent)?
        } else {
            self.dir(parent)?
        };
        Ok((dir, name))
    }

    /// Writes `data` as a new regular file at `rel` with `mode`, replacing
    /// whatever non-directory was there (a symlink is replaced, never
    /// followed); missing parents are made.
    pub fn write(&self, rel: impl AsRef<[u8]>, data: &[u8], mode: u32) -> io::Result<()> {
        let (dir, name) = self.parent(rel, true)?;
        let mut file = dir.replace_file(&name, mode)?;
        file.write_all(data)
    }

    /// Opens `rel` for appending, creating it (0644) if missing; refuses
    /// anything but a regular file (a symlink, a FIFO, a device).
    pub fn append(&self, rel: impl AsRef<[u8]>) -> io::Result<File> {
        let (dir, name) = self.parent(rel, true)?;
        dir.open_file(
            &name,
            OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
            0o644,
        )
    }

    /// Reads the regular file at `rel` (its last name not followed).
    pub fn read(&self, rel: impl AsRef<[u8]>) -> io::Result<Vec<u8>> {
        let (dir, name) = self.parent(rel, false)?;
        let mut file = dir.open_file(&name, OFlag::O_RDONLY, 0)?;
        let mut data = Vec::new();
        io::Read::read_to_end(&mut file, &mut data)?;
        Ok(data)
    }

    /// What is at `rel`, its last name not followed.
    pub fn lstat(&self, rel: impl AsRef<[u8]>) -> io::Result<FileStat> {
        let (dir, name) = self.parent(rel, false)?;
        dir.lstat(&name)
    }

    /// Removes the non-directory at `rel`.
    pub fn remove_file(&self, rel: impl AsRef<[u8]>) -> io::Result<()> {
        let (dir, name) = self.parent(rel, false)?;
        dir.unlink(&name)
    }

    /// Removes `rel` and everything below it, never crossing a symlink.
    pub fn remove_all(&self, rel: impl AsRef<[u8]>) -> io::Result<()> {
        let (dir, name) = self.parent(rel, false)?;
        dir.remove_all(&name)
    }

    /// Renames `from` to `to` (both in-root; neither followed).
    pub fn rename(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> io::Result<()> {
        let (from_dir, from_name) = self.parent(from, false)?;
        let (to_dir, to_name) = self.parent(to, true)?;
        nix::fcntl::renameat(
            &from_dir.0,
            from_name.0.as_c_str(),
            &to_dir.0,
            to_name.0.as_c_str(),
        )
        .map_err(errno)
    }

    /// Changes the mode of `rel` (its last name not followed).
    pub fn set_mode(&self, rel: impl AsRef<[u8]>, mode: u32) -> io::Result<()> {
        let (dir, name) = self.parent(rel, false)?;
        dir.set_mode(&name, mode)
    }

    /// A symlink at `rel` pointing to `target` (not checked: a symlink's
    /// text is data; it is only ever followed in-root).
    pub fn symlink(&self, target: impl AsRef<[u8]>, rel: impl AsRef<[u8]>) -> io::Result<()> {
        let (dir, name) = self.parent(rel, true)?;
        dir.symlink(&name, target.as_ref())
    }

    /// `rel` resolved in-root as an `O_PATH` descriptor with `extra` flags
    /// (`O_DIRECTORY` for a directory).
    fn resolve(&self, rel: &[u8], extra: OFlag) -> io::Result<OwnedFd> {
        if !self.walk_only && !self.no_openat2.load(Ordering::Relaxed) {
            match openat2_in_root(self.fd.as_fd(), rel, extra) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    self.no_openat2.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        walk(self.fd.as_fd(), rel, extra)
    }
}

/// `openat2(2)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`. The kernel
/// says EAGAIN when a rename elsewhere raced the lookup: tried again.
fn openat2_in_root(root: BorrowedFd, rel: &[u8], extra: OFlag) -> io::Result<OwnedFd> {
    let path = if rel.is_empty() { &b"."[..] } else { rel };
    let path = CString::new(path).map_err(|_| invalid("NUL in a path".to_string()))?;
    let how = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | extra)
        .resolve(
            nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT
                | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    let mut tries = 0;
    loop {
        match nix::fcntl::openat2(root, path.as_c_str(), how) {
            Err(Errno::EAGAIN) if tries < 16 => tries += 1,
            other => return other.map_err(errno),
        }
    }
}

/// The same resolution as `openat2_in_root` without `openat2(2)`: one
/// component at a time, each opened `O_PATH | O_NOFOLLOW`; a symlink's
/// text is spliced in (an absolute one restarting at the root), `..` pops
/// to the directory before (never above the root). Each step holds the
/// descriptor of where it is, so nothing is looked up by path twice.
pub fn walk(root: BorrowedFd, rel: &[u8], extra: OFlag) -> io::Result<OwnedFd> {
    let base = OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    // The directories entered, root excluded.
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut pending: Vec<Vec<u8>> = rel
        .split(|b| *b == b'/')
        .rev()
        .map(<[u8]>::to_vec)
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match &part[..] {
            b"" | b"." => continue,
            b".." => {
                stack.pop();
                continue;
            }
            _ => {}
        }
        let here = stack.last().map_or(root, |fd| fd.as_fd());
        let name = CString::new(part).map_err(|_| invalid("NUL in a path".to_string()))?;
        let fd = nix::fcntl::openat(here, name.as_c_str(), base, Mode::empty()).map_err(errno)?;
        let stat = nix::sys::stat::fstat(&fd).map_err(errno)?;
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(errno(Errno::ELOOP));
            }
            let target = nix::fcntl::readlinkat(&fd, "").map_err(errno)?;
            let target = target.as_bytes();
            // A `/proc/self/...` style link is a magic link only in
            // procfs; a plain symlink's text is resolved in-root.
            if target.starts_with(b"/") {
                stack.clear();
            }
            pending.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
        } else if kind == SFlag::S_IFDIR {
            stack.push(fd);
        } else if pending.iter().all(|p| p.is_empty() || p == b".") {
            if extra.contains(OFlag::O_DIRECTORY) {
                return Err(errno(Errno::ENOTDIR));
            }
            return Ok(fd);
        } else {
            return Err(errno(Errno::ENOTDIR));
        }
    }
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => nix::fcntl::openat(root, ".", base | extra, Mode::empty()).map_err(errno),
    }
}

fn is_kind(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == kind
}
