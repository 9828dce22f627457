//! The old root's files, deleted once the switch is made, so the memory
//! an initramfs holds is given back: everything on the old root's
//! filesystem, never what is mounted on it (a directory on another
//! filesystem is left, with all it holds), as util-linux's
//! recursiveRemove does. A problem with one entry is reported and the
//! rest is still removed.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use nix::dir::{Dir, Type};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::sys::statfs::{FsType, TMPFS_MAGIC};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::util_linux::with_errno;

/// linux/magic.h's RAMFS_MAGIC, which the libc crate does not name (the
/// rootfs an initramfs is unpacked into is a ramfs when the kernel command
/// line says `root=`).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// Whether `root` is on a ramfs or a tmpfs, where an initramfs lives: the
/// only kind of old root util-linux empties.
pub fn is_initramfs(root: impl AsFd) -> bool {
    nix::sys::statfs::fstatfs(root).is_ok_and(|fs| {
        let kind = fs.filesystem_type();
        kind == RAMFS_MAGIC || kind == TMPFS_MAGIC
    })
}

/// Deletes everything below `dir` on `dir`'s own filesystem. `warn`
/// gets util-linux's lines for what could not be done.
pub fn remove_tree(dir: OwnedFd, warn: &mut dyn FnMut(Vec<u8>)) {
    let device = match fstat(dir.as_fd()) {
        Ok(stat) => stat.st_dev,
        Err(errno) => return warn(with_errno(&[b"stat failed"], errno)),
    };
    remove_below(dir, device, warn);
}

fn remove_below(dir: OwnedFd, device: libc::dev_t, warn: &mut dyn FnMut(Vec<u8>)) {
    let mut dir = match Dir::from_fd(dir) {
        Ok(dir) => dir,
        Err(errno) => return warn(with_errno(&[b"failed to open directory"], errno)),
    };
    // Names first, then removal: unlinking while readdir(3) walks the
    // same directory may skip entries.
    let mut entries = Vec::new();
    for entry in dir.iter() {
        match entry {
            Ok(entry) => {
                let name = entry.file_name().to_owned();
                if name.as_bytes() != b"." && name.as_bytes() != b".." {
                    entries.push((name, entry.file_type()));
                }
            }
            Err(errno) => return warn(with_errno(&[b"failed to read directory"], errno)),
        }
    }
    for (name, kind) in entries {
        remove_entry(&dir, &name, kind, device, warn);
    }
}

/// One entry: a file or link is unlinked; a directory on the same
/// filesystem is emptied and removed; a directory on another one (a
/// mount point) is left alone.
fn remove_entry(
    dir: &Dir,
    name: &CStr,
    kind: Option<Type>,
    device: libc::dev_t,
    warn: &mut dyn FnMut(Vec<u8>),
) {
    let mut is_dir = false;
    if matches!(kind, Some(Type::Directory) | None) {
        let stat = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(errno) => {
                return warn(with_errno(
                    &[b"stat of ", name.to_bytes(), b" failed"],
                    errno,
                ));
            }
        };
        if stat.st_dev != device {
            return;
        }
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            is_dir = true;
            // O_NOFOLLOW and a second look at the device: what is opened is
            // what was looked at, even if the name changed in between.
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
            if let Ok(child) = nix::fcntl::openat(dir, name, flags, Mode::empty()) {
                if fstat(child.as_fd()).is_ok_and(|opened| opened.st_dev == device) {
                    remove_below(child, device, warn);
                } else {
                    return;
                }
            }
        }
    }
    let flag = if is_dir {
        UnlinkatFlags::RemoveDir
    } else {
        UnlinkatFlags::NoRemoveDir
    };
    if let Err(errno) = unlinkat(dir, name, flag) {
        warn(with_errno(&[b"failed to unlink ", name.to_bytes()], errno));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;
    use std::path::Path;

    fn scratch(label: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ns-switch-root-remove-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open(dir: &Path) -> OwnedFd {
        nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn empties_the_tree_and_keeps_the_top() {
        let top = scratch("tree");
        let deep = top.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("file"), b"x").unwrap();
        std::fs::write(top.join("init"), b"#!/bin/sh\n").unwrap();
        let odd = top.join(std::ffi::OsString::from_vec(b"caf\xe9 \n".to_vec()));
        std::fs::create_dir(&odd).unwrap();
        std::fs::write(odd.join(".hidden"), b"").unwrap();
        let mut warnings = Vec::new();
        remove_tree(open(&top), &mut |line| warnings.push(line));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(top.is_dir());
        assert_eq!(std::fs::read_dir(&top).unwrap().count(), 0);
        std::fs::remove_dir(&top).unwrap();
    }

    #[test]
    fn a_symlink_is_removed_not_followed() {
        let top = scratch("links");
        let outside = scratch("outside");
        std::fs::write(outside.join("keep"), b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, top.join("to-dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep"), top.join("to-file")).unwrap();
        std::os::unix::fs::symlink("dangling", top.join("dangling")).unwrap();
        remove_tree(open(&top), &mut |line| panic!("{line:?}"));
        assert_eq!(std::fs::read_dir(&top).unwrap().count(), 0);
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
        std::fs::remove_dir_all(&top).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn only_ramfs_and_tmpfs_are_an_initramfs() {
        let table = ns_sys::mountinfo::read_self().unwrap();
        // Mount points that exist on most systems and never automount;
        // each is compared with its (topmost) mount's type.
        for path in ["/", "/proc", "/dev", "/dev/shm", "/run", "/tmp", "/sys"] {
            let Some(entry) = ns_sys::mountinfo::find_target(&table, path.as_ref()) else {
                continue;
            };
            // devtmpfs is a tmpfs inside, and says so to statfs(2).
            let kind = entry.fstype.as_str();
            assert_eq!(
                is_initramfs(open(Path::new(path))),
                matches!(kind, "tmpfs" | "ramfs" | "devtmpfs"),
                "{path} is {kind}"
            );
        }
    }
}
