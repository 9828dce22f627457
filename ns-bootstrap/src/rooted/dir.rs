//! Operations on the entries of one open directory inside a
//! [`Root`](super::Root), by name: each works relative to the directory's
//! descriptor and never follows the name (`O_NOFOLLOW`,
//! `AT_SYMLINK_NOFOLLOW`, `unlinkat`), so a symlink planted in a name's
//! place is an error or is replaced, never written through.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::{errno, invalid, is_kind, Name};

/// An open directory inside a [`Root`](super::Root), for operations on its
/// entries by name (never followed).
#[derive(Debug)]
pub struct Dir(pub(super) OwnedFd);

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
