//! Safe extraction of a package's data tarball into TARGET.
//!
//! Nothing may land outside TARGET, whatever the archive says:
//! - entry names with `..`, or absolute names, are refused;
//! - every directory on the way to an entry is resolved *inside* TARGET
//!   through [`Root`]: a symlink met on the way (`bin -> usr/bin`, or a
//!   hostile `etc -> /etc`) is followed as if TARGET were `/`, so an
//!   absolute target stays inside TARGET and `..` stops at it;
//! - the entry itself is never followed: it is made relative to its
//!   directory's descriptor, and an existing symlink in its place is
//!   replaced, not written through (a symlink then a file of the same name
//!   cannot write outside);
//! - a relative symlink whose target climbs above the root, and a hard
//!   link to a name with `..`, are refused;
//! - hard links are made between two names resolved the same way.
//!
//! The archive is read as a stream: a file's data goes from the
//! decompressor to the disk in pieces, whatever size its header claims.
//! Device nodes and FIFOs are made with mknod, owners are the archive's
//! numeric ids, modes include set-id bits (set after chown, which clears
//! them), times are the archive's (dpkg's behaviour).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;

use crate::rooted::{Dir, Name, Root};

/// Why an archive was not extracted. Paths are as the archive names them
/// (`/usr/bin/x`) or, for file system errors, under TARGET.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("data.tar: {0}")]
    Archive(io::Error),
    #[error("absolute path '{0}' in archive")]
    Absolute(String),
    #[error("path '{0}' leaves the root ('..')")]
    LeavesRoot(String),
    #[error("newline in the name '{0}' (dpkg refuses it)")]
    Newline(String),
    #[error("{0}: not a file name")]
    BadName(String),
    #[error("{0}: bad header: {1}")]
    Header(String, io::Error),
    #[error("symlink {link} -> {target} points outside the root")]
    SymlinkEscapes { link: String, target: String },
    #[error("{0}: link without a target")]
    NoTarget(String),
    #[error("{0}: hard link to the root")]
    HardLinkToRoot(String),
    #[error("{path}: unsupported entry type {kind:?}")]
    Unsupported { path: String, kind: tar::EntryType },
    #[error("{0}: is a directory")]
    IsADirectory(String),
    #[error("{0}: a symlink where a directory should be")]
    SymlinkForDirectory(String),
    #[error("{0}: a file where a directory should be")]
    FileForDirectory(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
}

/// Owners that a user namespace mapping one id only cannot set on disk,
/// by inode (device, inode number): a tarball carries them instead.
pub type UnmappedOwners = HashMap<(u64, u64), (u32, u32)>;

/// What one extraction did.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Paths as dpkg lists them in `info/PKG.list`: `/.` first, then each
    /// entry without a trailing slash.
    pub paths: Vec<String>,
    pub bytes: u64,
    /// Filled only when asked for (see [`Extractor::keep_unmapped_owners`]).
    pub unmapped_owners: UnmappedOwners,
}

/// Splits an archive name into its components, refusing `..` and
/// absolute names. `./` and empty components are dropped.
pub fn components(name: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let shown = || String::from_utf8_lossy(name).into_owned();
    if name.starts_with(b"/") {
        return Err(Error::Absolute(shown()));
    }
    // A newline would split the name's line in dpkg's file lists.
    if name.contains(&b'\n') {
        return Err(Error::Newline(shown()));
    }
    let mut out = Vec::new();
    for part in name.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Error::LeavesRoot(shown())),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Whether a relative symlink placed at `link` (components) climbs above
/// the root, judged by its text alone.
pub fn symlink_escapes(link: &[&[u8]], target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    // Depth of the directory the link sits in.
    let mut depth = link.len() as isize - 1;
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn io_error(what: &'static str, path: &str, source: io::Error) -> Error {
    Error::Io {
        what,
        path: path.to_string(),
        source,
    }
}

/// Extracts tarballs into one root.
pub struct Extractor<'a> {
    pub root: &'a Root,
    /// In a user namespace that maps one id only: owners other than root
    /// cannot be set on disk (EINVAL); keep them instead of failing.
    pub keep_unmapped_owners: bool,
}

/// The state of one archive's extraction.
struct Run<'a> {
    root: &'a Root,
    keep_unmapped: bool,
    done: Extracted,
}

impl Extractor<'_> {
    /// Extracts a (decompressed) data tarball. Conffiles (absolute paths)
    /// are written twice, as `NAME` and as `NAME.dpkg-new` (what dpkg
    /// unpacks; `dpkg --configure` finds the two identical).
    pub fn extract(&self, data: impl Read, conffiles: &[String]) -> Result<Extracted, Error> {
        let mut run = Run {
            root: self.root,
            keep_unmapped: self.keep_unmapped_owners,
            done: Extracted::default(),
        };
        let mut archive = tar::Archive::new(data);
        let entries = archive.entries().map_err(Error::Archive)?;
        for entry in entries {
            let mut entry = entry.map_err(Error::Archive)?;
            let name = entry.path_bytes().into_owned();
            let parts = components(&name)?;
            let Some((last, parents)) = parts.split_last() else {
                run.done.paths.push("/.".to_string());
                continue;
            };
            let rel = parts.join(&b'/');
            let listed = format!("/{}", String::from_utf8_lossy(&rel));
            let shown = self.root.show(&rel);
            let header = entry.header().clone();
            let parent_rel = parents.join(&b'/');
            let dir = self.root.create_dir_all(&parent_rel).map_err(|e| {
                io_error("cannot create directory", &self.root.show(&parent_rel), e)
            })?;
            let name = Name::new(last).map_err(|_| Error::BadName(listed.clone()))?;
            let meta = Meta {
                mode: header
                    .mode()
                    .map_err(|e| Error::Header(listed.clone(), e))?
                    & 0o7777,
                uid: header.uid().unwrap_or(0) as u32,
                gid: header.gid().unwrap_or(0) as u32,
                mtime: header.mtime().unwrap_or(0).min(i64::MAX as u64) as i64,
            };
            let at = At {
                dir: &dir,
                name: &name,
                shown: &shown,
            };
            match header.entry_type() {
                tar::EntryType::Directory => run.directory(&at, &rel, &meta)?,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let file = run.regular(&at, &mut entry, &meta)?;
                    if conffiles.iter().any(|c| c == &listed) {
                        // Both copies, as debootstrap leaves them after its
                        // tar extraction then `dpkg --unpack`: configure
                        // finds them identical and keeps the file, so
                        // scripts configured before this package already
                        // see its conffiles (as passwd's pwconv sees
                        // login's /etc/login.defs).
                        let new_name = Name::new(&[*last, b".dpkg-new"].concat())
                            .map_err(|_| Error::BadName(listed.clone()))?;
                        let new_shown = format!("{shown}.dpkg-new");
                        let mut copy = file;
                        io::Seek::rewind(&mut copy)
                            .map_err(|e| io_error("cannot read", &shown, e))?;
                        let at = At {
                            dir: &dir,
                            name: &new_name,
                            shown: &new_shown,
                        };
                        run.regular(&at, &mut copy, &meta)?;
                    }
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| Error::NoTarget(listed.clone()))?
                        .into_owned();
                    if symlink_escapes(&parts, &target) {
                        return Err(Error::SymlinkEscapes {
                            link: listed,
                            target: String::from_utf8_lossy(&target).into_owned(),
                        });
                    }
                    run.symlink(&at, &target, &meta)?;
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| Error::NoTarget(listed.clone()))?
                        .into_owned();
                    let target_parts = components(&target)?;
                    if target_parts.is_empty() {
                        return Err(Error::HardLinkToRoot(listed));
                    }
                    let target_rel = target_parts.join(&b'/');
                    // Named in the message: the link and what it would link to.
                    let linking = format!("{shown} to {}", self.root.show(&target_rel));
                    let (source_dir, source_name) = self
                        .root
                        .parent(&target_rel, false)
                        .map_err(|e| io_error("cannot link", &linking, e))?;
                    clear(&at)?;
                    dir.link_from(&name, &source_dir, &source_name)
                        .map_err(|e| io_error("cannot link", &linking, e))?;
                }
                kind @ (tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo) => {
                    let flag = match kind {
                        tar::EntryType::Char => SFlag::S_IFCHR,
                        tar::EntryType::Block => SFlag::S_IFBLK,
                        _ => SFlag::S_IFIFO,
                    };
                    let major = header.device_major().ok().flatten().unwrap_or(0);
                    let minor = header.device_minor().ok().flatten().unwrap_or(0);
                    run.node(
                        &at,
                        flag,
                        nix::sys::stat::makedev(major.into(), minor.into()),
                        &meta,
                    )?;
                }
                // PAX and GNU long-name headers are consumed by the tar crate.
                kind => return Err(Error::Unsupported { path: listed, kind }),
            }
            run.done.paths.push(listed);
        }
        Ok(run.done)
    }
}

/// An entry's metadata from its header.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

/// Where an entry goes: its directory, its name there, and how messages
/// show it.
struct At<'a> {
    dir: &'a Dir,
    name: &'a Name,
    shown: &'a str,
}

/// Removes whatever non-directory is at the entry's place.
fn clear(at: &At) -> Result<(), Error> {
    match at.dir.clear(at.name) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            Err(Error::IsADirectory(at.shown.to_string()))
        }
        Err(e) => Err(io_error("cannot remove", at.shown, e)),
    }
}

impl Run<'_> {
    /// chown; an id the namespace does not map (EINVAL) is kept for the
    /// tarball when that is asked for.
    fn own(
        &mut self,
        shown: &str,
        meta: &Meta,
        inode: impl FnOnce() -> io::Result<(u64, u64)>,
        change: impl FnOnce() -> io::Result<()>,
    ) -> Result<(), Error> {
        match change() {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.keep_unmapped => {
                let inode = inode().map_err(|e| io_error("cannot stat", shown, e))?;
                self.done
                    .unmapped_owners
                    .insert(inode, (meta.uid, meta.gid));
                Ok(())
            }
            Err(e) => Err(io_error("cannot change owner of", shown, e)),
        }
    }

    fn directory(&mut self, at: &At, rel: &[u8], meta: &Meta) -> Result<(), Error> {
        match at.dir.lstat(at.name) {
            Ok(stat) => {
                let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
                if kind == SFlag::S_IFDIR {
                    Ok(())
                } else if kind == SFlag::S_IFLNK {
                    // dpkg keeps a symlink to a directory (`bin -> usr/bin`).
                    match self.root.dir(rel) {
                        Ok(_) => Ok(()),
                        Err(_) => Err(Error::SymlinkForDirectory(at.shown.to_string())),
                    }
                } else {
                    Err(Error::FileForDirectory(at.shown.to_string()))
                }
            }
            Err(_) => {
                match at.dir.mkdir(at.name, 0o700) {
                    Ok(()) => {}
                    // Made meanwhile (the parent's creation made it).
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(()),
                    Err(e) => return Err(io_error("cannot create directory", at.shown, e)),
                }
                let sub = at
                    .dir
                    .subdir(at.name)
                    .map_err(|e| io_error("cannot open", at.shown, e))?;
                let file = File::from(
                    sub.as_fd()
                        .try_clone_to_owned()
                        .map_err(|e| io_error("cannot open", at.shown, e))?,
                );
                self.finish_file(&file, at.shown, meta)
            }
        }
    }

    /// Owner, mode (after chown, which clears set-id bits), then times.
    fn finish_file(&mut self, file: &File, shown: &str, meta: &Meta) -> Result<(), Error> {
        self.own(
            shown,
            meta,
            || file.metadata().map(|m| (m.dev(), m.ino())),
            || std::os::unix::fs::fchown(file, Some(meta.uid), Some(meta.gid)),
        )?;
        file.set_permissions(std::fs::Permissions::from_mode(meta.mode))
            .map_err(|e| io_error("cannot change mode of", shown, e))?;
        let time = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(meta.mtime.max(0) as u64);
        file.set_times(
            std::fs::FileTimes::new()
                .set_modified(time)
                .set_accessed(time),
        )
        .map_err(|e| io_error("cannot set times of", shown, e))
    }

    /// A regular file, streamed from `data`; returns it open for reading
    /// (a conffile's second copy is made from it).
    fn regular(&mut self, at: &At, data: &mut impl Read, meta: &Meta) -> Result<File, Error> {
        clear(at)?;
        let mut file = at
            .dir
            .open_file(
                at.name,
                OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL,
                0o600,
            )
            .map_err(|e| io_error("cannot create", at.shown, e))?;
        let bytes = io::copy(data, &mut file).map_err(|e| io_error("cannot write", at.shown, e))?;
        self.done.bytes += bytes;
        self.finish_file(&file, at.shown, meta)?;
        Ok(file)
    }

    fn symlink(&mut self, at: &At, target: &[u8], meta: &Meta) -> Result<(), Error> {
        clear(at)?;
        at.dir
            .symlink(at.name, target)
            .map_err(|e| io_error("cannot create symlink", at.shown, e))?;
        self.own(
            at.shown,
            meta,
            || at.dir.lstat(at.name).map(|s| (s.st_dev, s.st_ino)),
            || at.dir.lchown(at.name, meta.uid, meta.gid),
        )?;
        at.dir
            .set_times(at.name, meta.mtime)
            .map_err(|e| io_error("cannot set times of", at.shown, e))
    }

    fn node(&mut self, at: &At, kind: SFlag, dev: libc::dev_t, meta: &Meta) -> Result<(), Error> {
        clear(at)?;
        at.dir
            .mknod(at.name, kind, meta.mode, dev)
            .map_err(|e| io_error("cannot make node", at.shown, e))?;
        self.own(
            at.shown,
            meta,
            || at.dir.lstat(at.name).map(|s| (s.st_dev, s.st_ino)),
            || at.dir.lchown(at.name, meta.uid, meta.gid),
        )?;
        // mknod honours the umask; the mode must be exact.
        at.dir
            .set_mode(at.name, meta.mode)
            .map_err(|e| io_error("cannot change mode of", at.shown, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("ns-bootstrap-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("root")).unwrap();
        std::fs::create_dir_all(path.join("outside")).unwrap();
        Scratch(path)
    }

    enum E<'a> {
        Dir(&'a str),
        File(&'a str, &'a str),
        Symlink(&'a str, &'a str),
        Hard(&'a str, &'a str),
    }

    /// Builds a tarball with raw names (the tar crate's builder refuses
    /// `..`, which is what these tests need to write).
    fn tarball(entries: &[E]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            let (name, kind, link, data): (&str, _, Option<&str>, &[u8]) = match entry {
                E::Dir(n) => (n, tar::EntryType::Directory, None, b""),
                E::File(n, d) => (n, tar::EntryType::Regular, None, d.as_bytes()),
                E::Symlink(n, t) => (n, tar::EntryType::Symlink, Some(t), b""),
                E::Hard(n, t) => (n, tar::EntryType::Link, Some(t), b""),
            };
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                let raw = &mut header.as_old_mut().linkname;
                raw[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_entry_type(kind);
            header.set_mode(if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            });
            header.set_size(data.len() as u64);
            header.set_mtime(1_600_000_000);
            header.set_cksum();
            builder.append(&header, data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn extract(root: &Path, data: &[u8], conffiles: &[String]) -> Result<Extracted, String> {
        let root = Root::open(root).unwrap();
        let extractor = Extractor {
            root: &root,
            keep_unmapped_owners: false,
        };
        extractor
            .extract(data, conffiles)
            .map_err(|e| e.to_string())
    }

    fn run(root: &Path, entries: &[E]) -> Result<Extracted, String> {
        extract(root, &tarball(entries)[..], &[])
    }

    fn outside_is_empty(s: &Scratch) {
        let count = std::fs::read_dir(s.0.join("outside")).unwrap().count();
        assert_eq!(count, 0, "something was written outside the root");
    }

    #[test]
    fn ordinary_package_with_merged_usr_symlink() {
        let s = scratch("ordinary");
        let root = s.0.join("root");
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        let got = run(
            &root,
            &[
                E::Dir("./"),
                E::Dir("./bin/"),
                E::File("./bin/tool", "hello"),
                E::Dir("./etc/"),
                E::File("./etc/conf", "x"),
                E::Symlink("./bin/alias", "tool"),
                E::Hard("./bin/tool2", "./bin/tool"),
            ],
        )
        .unwrap();
        assert_eq!(
            got.paths,
            [
                "/.",
                "/bin",
                "/bin/tool",
                "/etc",
                "/etc/conf",
                "/bin/alias",
                "/bin/tool2"
            ]
        );
        assert_eq!(std::fs::read(root.join("usr/bin/tool")).unwrap(), b"hello");
        assert_eq!(std::fs::read(root.join("usr/bin/tool2")).unwrap(), b"hello");
        assert!(root
            .join("bin")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn conffiles_are_unpacked_twice() {
        let s = scratch("conffile");
        let root = s.0.join("root");
        let tar = tarball(&[E::Dir("./etc/"), E::File("./etc/app.conf", "c")]);
        let got = extract(&root, &tar[..], &["/etc/app.conf".to_string()]).unwrap();
        assert_eq!(got.paths, ["/etc", "/etc/app.conf"]);
        assert_eq!(
            std::fs::read(root.join("etc/app.conf.dpkg-new")).unwrap(),
            b"c"
        );
        assert_eq!(std::fs::read(root.join("etc/app.conf")).unwrap(), b"c");
    }

    #[test]
    fn dot_dot_is_refused() {
        let s = scratch("dotdot");
        let root = s.0.join("root");
        let error = run(&root, &[E::File("./../outside/evil", "x")]).unwrap_err();
        assert!(error.contains("leaves the root"), "{error}");
        outside_is_empty(&s);
    }

    #[test]
    fn absolute_name_is_refused() {
        let s = scratch("absolute");
        let root = s.0.join("root");
        let evil = format!("{}/outside/evil", s.0.display());
        let error = run(&root, &[E::File(&evil, "x")]).unwrap_err();
        assert!(error.contains("absolute path"), "{error}");
        outside_is_empty(&s);
    }

    #[test]
    fn symlink_then_file_stays_inside() {
        let s = scratch("symfile");
        let root = s.0.join("root");
        let outside = format!("{}/outside", s.0.display());
        // An absolute symlink to the host directory, then a file through it.
        run(
            &root,
            &[E::Symlink("./link", &outside), E::File("./link/evil", "x")],
        )
        .unwrap();
        outside_is_empty(&s);
        let inside = root.join(outside.trim_start_matches('/')).join("evil");
        assert_eq!(std::fs::read(inside).unwrap(), b"x");
        // The same name first a symlink, then a file: the link is replaced.
        run(
            &root,
            &[
                E::Symlink("./same", &format!("{outside}/f")),
                E::File("./same", "y"),
            ],
        )
        .unwrap();
        outside_is_empty(&s);
        assert_eq!(std::fs::read(root.join("same")).unwrap(), b"y");
    }

    #[test]
    fn relative_symlink_climbing_out_is_refused() {
        let s = scratch("climb");
        let root = s.0.join("root");
        let error = run(&root, &[E::Symlink("./a/up", "../../outside")]).unwrap_err();
        assert!(error.contains("points outside"), "{error}");
        // Inside is fine.
        run(&root, &[E::Dir("./a/"), E::Symlink("./a/ok", "../a")]).unwrap();
        outside_is_empty(&s);
    }

    #[test]
    fn hard_links_out_of_the_root_are_refused_or_kept_inside() {
        let s = scratch("hard");
        let root = s.0.join("root");
        std::fs::write(s.0.join("outside/secret"), "s").unwrap();
        let error = run(&root, &[E::Hard("./h", "../outside/secret")]).unwrap_err();
        assert!(error.contains("leaves the root"), "{error}");
        let absolute = format!("{}/outside/secret", s.0.display());
        let error = run(&root, &[E::Hard("./h", &absolute)]).unwrap_err();
        assert!(error.contains("absolute path"), "{error}");
        // Through an in-root symlink to the host path: resolved inside,
        // where there is no such file.
        let outside = format!("{}/outside", s.0.display());
        let result = run(
            &root,
            &[E::Symlink("./l", &outside), E::Hard("./h", "./l/secret")],
        );
        assert!(result.is_err());
        assert_eq!(
            std::fs::metadata(s.0.join("outside/secret")).unwrap().len(),
            1
        );
        std::fs::remove_file(s.0.join("outside/secret")).unwrap();
        outside_is_empty(&s);
    }

    #[test]
    fn escaping_symlink_texts() {
        assert!(symlink_escapes(&[b"a"], b".."));
        assert!(!symlink_escapes(&[b"a", b"b"], b".."));
        assert!(!symlink_escapes(&[b"a"], b"/abs"));
    }
}
