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

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

/// How many symlinks one resolution may follow (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// Set once `openat2(2)` turned out to be missing (ENOSYS on kernels
/// before 5.6, or a seccomp filter that refuses it): the walk is used
/// from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// A directory everything below which is resolved in-root.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// Resolve with the walk even where openat2 exists (tests of the
    /// fallback).
    walk_only: bool,
}

/// An open directory inside a [`Root`], for operations on its entries by
/// name (never followed).
#[derive(Debug)]
pub struct Dir(OwnedFd);

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
        if !self.walk_only && !NO_OPENAT2.load(Ordering::Relaxed) {
            match openat2_in_root(self.fd.as_fd(), rel, extra) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
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

impl Dir {
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// `name` opened with `flags` (`O_NOFOLLOW` added: a symlink there is
    /// an error, not a way out); only a regular file is accepted.
    pub fn open_file(&self, name: &Name, flags: OFlag, mode: u32) -> io::Result<File> {
        let fd = nix::fcntl::openat(
            &self.0,
            name.0.as_c_str(),
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::from_bits_truncate(mode),
        )
        .map_err(errno)?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        // Blocking again: O_NONBLOCK was only there so that opening a
        // FIFO planted in the file's place cannot hang.
        let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL).map_err(errno)?;
        let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(errno)?;
        Ok(file)
    }

    /// A new regular file `name` (mode set exactly, whatever the umask),
    /// after removing whatever non-directory was there.
    pub fn replace_file(&self, name: &Name, mode: u32) -> io::Result<File> {
        self.clear(name)?;
        let file = self.open_file(
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            0o600,
        )?;
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        Ok(file)
    }

    /// Removes the non-directory `name`, if there is one; returns whether
    /// something was removed. A directory there is an error.
    pub fn clear(&self, name: &Name) -> io::Result<bool> {
        match self.lstat(name) {
            Ok(stat) if is_kind(&stat, SFlag::S_IFDIR) => Err(errno(Errno::EISDIR)),
            Ok(_) => self.unlink(name).map(|()| true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn lstat(&self, name: &Name) -> io::Result<FileStat> {
        nix::sys::stat::fstatat(&self.0, name.0.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(errno)
    }

    pub fn unlink(&self, name: &Name) -> io::Result<()> {
        nix::unistd::unlinkat(
            &self.0,
            name.0.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(errno)
    }

    pub fn mkdir(&self, name: &Name, mode: u32) -> io::Result<()> {
        nix::sys::stat::mkdirat(
            self.0.as_fd(),
            name.0.as_c_str(),
            Mode::from_bits_truncate(mode),
        )
        .map_err(errno)
    }

    /// The subdirectory `name`, never through a symlink.
    pub fn subdir(&self, name: &Name) -> io::Result<Dir> {
        let fd = nix::fcntl::openat(
            &self.0,
            name.0.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Dir(fd))
    }

    pub fn symlink(&self, name: &Name, target: &[u8]) -> io::Result<()> {
        let target = CString::new(target).map_err(|_| invalid("NUL in a link".to_string()))?;
        nix::unistd::symlinkat(target.as_c_str(), &self.0, name.0.as_c_str()).map_err(errno)
    }

    pub fn mknod(&self, name: &Name, kind: SFlag, mode: u32, dev: libc::dev_t) -> io::Result<()> {
        nix::sys::stat::mknodat(
            self.0.as_fd(),
            name.0.as_c_str(),
            kind,
            Mode::from_bits_truncate(mode),
            dev,
        )
        .map_err(errno)
    }

    /// A hard link `name` to `from`'s `from_name` (neither followed).
    pub fn link_from(&self, name: &Name, from: &Dir, from_name: &Name) -> io::Result<()> {
        nix::unistd::linkat(
            &from.0,
            from_name.0.as_c_str(),
            &self.0,
            name.0.as_c_str(),
            AtFlags::empty(),
        )
        .map_err(errno)
    }

    pub fn lchown(&self, name: &Name, uid: u32, gid: u32) -> io::Result<()> {
        nix::unistd::fchownat(
            &self.0,
            name.0.as_c_str(),
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(errno)
    }

    /// chmod without following: `fchmodat(2)` always follows, so the entry
    /// is opened `O_PATH | O_NOFOLLOW`, checked not to be a symlink, and
    /// changed through its descriptor (what glibc's `fchmodat` does for
    /// `AT_SYMLINK_NOFOLLOW`).
    pub fn set_mode(&self, name: &Name, mode: u32) -> io::Result<()> {
        let fd = nix::fcntl::openat(
            &self.0,
            name.0.as_c_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        set_mode_of(&fd, mode)
    }

    /// Sets both times of `name` (not followed).
    pub fn set_times(&self, name: &Name, seconds: i64) -> io::Result<()> {
        let time = nix::sys::time::TimeSpec::new(seconds, 0);
        nix::sys::stat::utimensat(
            &self.0,
            name.0.as_c_str(),
            &time,
            &time,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(errno)
    }

    /// Removes `name` and, for a directory, everything below it; a symlink
    /// is removed itself, never entered.
    pub fn remove_all(&self, name: &Name) -> io::Result<()> {
        match self.lstat(name) {
            Ok(stat) if is_kind(&stat, SFlag::S_IFDIR) => {
                let sub = self.subdir(name)?;
                for entry in sub.names()? {
                    sub.remove_all(&entry)?;
                }
                nix::unistd::unlinkat(
                    &self.0,
                    name.0.as_c_str(),
                    nix::unistd::UnlinkatFlags::RemoveDir,
                )
                .map_err(errno)
            }
            Ok(_) => self.unlink(name),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The names in this directory (`.` and `..` left out).
    pub fn names(&self) -> io::Result<Vec<Name>> {
        // A descriptor of its own: reading a directory moves its offset.
        let fd = nix::fcntl::openat(
            &self.0,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(errno)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(errno)?;
            let bytes = entry.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(Name::new(bytes)?);
            }
        }
        Ok(names)
    }
}

fn is_kind(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == kind
}

/// chmod through an `O_PATH` descriptor of something that is not a
/// symlink: `/proc/self/fd/N` names the inode itself.
pub fn set_mode_of(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    let stat = nix::sys::stat::fstat(fd).map_err(errno)?;
    if is_kind(&stat, SFlag::S_IFLNK) {
        return Err(errno(Errno::ELOOP));
    }
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path.as_str(),
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(errno)
}

/// A new directory with a name no one can guess, mode 0700, in `parent`
/// (`mkdtemp(3)`): a scratch directory in a shared place (TMPDIR, or
/// beside a tarball) that no other user can have prepared.
pub fn make_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    let mut template = parent.as_os_str().as_bytes().to_vec();
    if !template.ends_with(b"/") {
        template.push(b'/');
    }
    template.extend_from_slice(prefix.as_bytes());
    template.extend_from_slice(b"XXXXXX");
    let template = CString::new(template).map_err(|_| invalid("NUL in a path".to_string()))?;
    let mut raw = template.into_bytes_with_nul();
    // SAFETY: a writable, NUL-terminated buffer ending in "XXXXXX".
    let made = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(io::Error::last_os_error());
    }
    raw.pop();
    Ok(PathBuf::from(OsStr::from_bytes(&raw)))
}

/// A new file with a name no one can guess (`mkstemps(3)`), mode 0600:
/// e.g. a log kept in TMPDIR.
pub fn make_private_file(parent: &Path, prefix: &str, suffix: &str) -> io::Result<(PathBuf, File)> {
    let mut template = parent.as_os_str().as_bytes().to_vec();
    if !template.ends_with(b"/") {
        template.push(b'/');
    }
    template.extend_from_slice(prefix.as_bytes());
    template.extend_from_slice(b"XXXXXX");
    template.extend_from_slice(suffix.as_bytes());
    let template = CString::new(template).map_err(|_| invalid("NUL in a path".to_string()))?;
    let mut raw = template.into_bytes_with_nul();
    // SAFETY: a writable, NUL-terminated buffer whose name ends in
    // "XXXXXX" followed by `suffix`.
    let fd = unsafe { libc::mkstemps(raw.as_mut_ptr().cast(), suffix.len() as libc::c_int) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    raw.pop();
    // SAFETY: mkstemps(3) returned a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    Ok((PathBuf::from(OsStr::from_bytes(&raw)), file))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch() -> (Scratch, Root, PathBuf) {
        let dir = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-rooted-").unwrap();
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        let root = Root::open(&dir.join("root")).unwrap();
        let outside = dir.join("outside");
        (Scratch(dir), root, outside)
    }

    fn outside_untouched(outside: &Path) {
        let names: Vec<_> = std::fs::read_dir(outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| n == "victim"),
            "written outside: {names:?}"
        );
        if let Ok(text) = std::fs::read(outside.join("victim")) {
            assert_eq!(text, b"host\n", "the host file changed");
        }
    }

    /// Runs the same checks with openat2 and with the walk.
    fn both(check: impl Fn(&Root, &Path)) {
        for fallback in [false, true] {
            let (_s, mut root, outside) = scratch();
            root.walk_only = fallback;
            std::fs::write(outside.join("victim"), "host\n").unwrap();
            check(&root, &outside);
            outside_untouched(&outside);
        }
    }

    #[test]
    fn writes_through_planted_symlinks_stay_inside() {
        both(|root, outside| {
            let r = root.path();
            let out = outside.display().to_string();
            // An absolute symlink to the host directory, as a parent.
            std::os::unix::fs::symlink(&out, r.join("etc")).unwrap();
            root.write("etc/fstab", b"x\n", 0o644).unwrap();
            let inside = r.join(out.trim_start_matches('/')).join("fstab");
            assert_eq!(std::fs::read(inside).unwrap(), b"x\n");
            // A relative one climbing out.
            std::os::unix::fs::symlink("../../../../../../..", r.join("up")).unwrap();
            root.write(format!("up{out}/victim"), b"evil", 0o755)
                .unwrap();
            // The last name a symlink to the host file: replaced.
            std::os::unix::fs::symlink(format!("{out}/victim"), r.join("log")).unwrap();
            root.write("log", b"mine", 0o644).unwrap();
            assert!(!std::fs::symlink_metadata(r.join("log"))
                .unwrap()
                .file_type()
                .is_symlink());
            // Appending through a symlinked last name is refused.
            std::os::unix::fs::symlink(format!("{out}/victim"), r.join("app")).unwrap();
            assert_eq!(
                root.append("app").unwrap_err().raw_os_error(),
                Some(libc::ELOOP)
            );
            // A FIFO in a log's place neither hangs nor is written.
            nix::unistd::mkfifo(&r.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
            assert!(root.append("fifo").is_err());
            // chmod and rename do not follow either.
            std::os::unix::fs::symlink(format!("{out}/victim"), r.join("m")).unwrap();
            assert!(root.set_mode("m", 0o4755).is_err());
            root.rename("m", "etc/moved").unwrap();
            assert!(r
                .join(out.trim_start_matches('/'))
                .join("moved")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink());
            // Removal through a symlinked parent removes inside only.
            root.remove_file(format!("up{out}/victim")).unwrap();
        });
    }

    #[test]
    fn remove_all_never_crosses_a_symlink() {
        both(|root, outside| {
            let r = root.path();
            std::fs::create_dir_all(r.join("d/e")).unwrap();
            std::fs::write(r.join("d/e/f"), "").unwrap();
            std::os::unix::fs::symlink(outside, r.join("d/host")).unwrap();
            root.remove_all("d").unwrap();
            assert!(!r.join("d").exists());
            // Through a symlinked parent: only what it names in-root,
            // which is nothing here.
            std::os::unix::fs::symlink(outside, r.join("o")).unwrap();
            assert_eq!(
                root.remove_all("o/victim").unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
        });
    }

    #[test]
    fn resolution_rules() {
        both(|root, _| {
            let r = root.path();
            std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
            assert_eq!(
                root.dir("loop/x").unwrap_err().raw_os_error(),
                Some(libc::ELOOP)
            );
            std::fs::write(r.join("file"), "").unwrap();
            assert_eq!(
                root.dir("file/x").unwrap_err().raw_os_error(),
                Some(libc::ENOTDIR)
            );
            std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
            root.create_dir_all("bin/sub").unwrap();
            assert!(r.join("usr/bin/sub").is_dir());
            root.write("bin/sub/tool", b"t", 0o755).unwrap();
            assert_eq!(root.read("usr/bin/sub/tool").unwrap(), b"t");
            assert!(Name::new(b"..").is_err());
            assert!(root.write("", b"", 0o644).is_err());
            assert!(root.write("a/..", b"", 0o644).is_err());
        });
    }

    #[test]
    fn private_names_are_fresh() {
        let a = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-t-").unwrap();
        let b = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-t-").unwrap();
        assert_ne!(a, b);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let (path, _file) = make_private_file(&a, "log-", ".log").unwrap();
        assert!(path.to_string_lossy().ends_with(".log"));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(a).unwrap();
        std::fs::remove_dir(b).unwrap();
    }
}
