//! Safe extraction of a package's data tarball into TARGET.
//!
//! Nothing may land outside TARGET, whatever the archive says:
//! - entry names with `..`, or absolute names, are refused;
//! - every directory on the way to an entry is resolved *inside* TARGET:
//!   a symlink met on the way (`bin -> usr/bin`, or a hostile
//!   `etc -> /etc`) is followed as if TARGET were `/`, so an absolute
//!   target stays inside TARGET and `..` stops at TARGET;
//! - the entry itself is never followed: an existing symlink in its place
//!   is replaced, not written through (a symlink then a file of the same
//!   name cannot write outside);
//! - a relative symlink whose target climbs above the root, and a hard
//!   link to a name with `..`, are refused;
//! - hard links are made between two names resolved the same way.
//!
//! Device nodes and FIFOs are made with mknod, owners are the archive's
//! numeric ids, modes include set-id bits (set after chown, which clears
//! them), times are the archive's (dpkg's behaviour).

use std::ffi::OsStr;
use std::fs::{File, FileTimes, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{lchown, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::sys::stat::{mknod, Mode, SFlag};

/// In a user namespace that maps one id only, owners other than root
/// cannot be set on disk: with this set to `Some`, they are kept here
/// instead (by path), for a tarball to carry them.
pub static UNMAPPED_OWNERS: std::sync::Mutex<
    Option<std::collections::HashMap<PathBuf, (u32, u32)>>,
> = std::sync::Mutex::new(None);

/// `chown` through `change`; an id the namespace does not map (EINVAL)
/// is recorded in [`UNMAPPED_OWNERS`] when that is on.
fn set_owner(
    path: &Path,
    uid: u32,
    gid: u32,
    change: impl FnOnce() -> io::Result<()>,
) -> Result<(), String> {
    match change() {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let mut owners = UNMAPPED_OWNERS.lock().unwrap_or_else(|p| p.into_inner());
            match owners.as_mut() {
                Some(owners) => {
                    owners.insert(path.to_path_buf(), (uid, gid));
                    Ok(())
                }
                None => Err(io_error("cannot change owner of", path, e)),
            }
        }
        Err(e) => Err(io_error("cannot change owner of", path, e)),
    }
}

/// How many symlinks a single resolution may follow (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// What one extraction did.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Paths as dpkg lists them in `info/PKG.list`: `/.` first, then each
    /// entry without a trailing slash.
    pub paths: Vec<String>,
    pub bytes: u64,
}

/// Splits an archive name into its components, refusing `..` and
/// absolute names. `./` and empty components are dropped.
pub fn components(name: &[u8]) -> Result<Vec<&[u8]>, String> {
    if name.starts_with(b"/") {
        return Err(format!(
            "absolute path '{}' in archive",
            String::from_utf8_lossy(name)
        ));
    }
    let mut out = Vec::new();
    for part in name.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "path '{}' leaves the root ('..')",
                    String::from_utf8_lossy(name)
                ))
            }
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

/// Resolves `parts` under `root` as if `root` were `/`: symlinks on the
/// way are followed inside root; the last part is followed only when
/// `follow_last`. Missing parts are kept as they are.
pub fn resolve_in_root(root: &Path, parts: &[&[u8]], follow_last: bool) -> Result<PathBuf, String> {
    let mut pending: Vec<Vec<u8>> = parts.iter().rev().map(|p| p.to_vec()).collect();
    let mut resolved: Vec<Vec<u8>> = Vec::new();
    let mut hops = 0;
    let mut missing = false;
    while let Some(part) = pending.pop() {
        match &part[..] {
            b"" | b"." => continue,
            b".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        if missing || (pending.is_empty() && !follow_last) {
            resolved.push(part);
            continue;
        }
        let mut here = root.to_path_buf();
        for p in &resolved {
            here.push(OsStr::from_bytes(p));
        }
        here.push(OsStr::from_bytes(&part));
        match std::fs::symlink_metadata(&here) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(format!(
                        "{}: too many levels of symbolic links",
                        here.display()
                    ));
                }
                let target =
                    std::fs::read_link(&here).map_err(|e| format!("{}: {e}", here.display()))?;
                let target = target.as_os_str().as_bytes();
                if target.starts_with(b"/") {
                    resolved.clear();
                }
                for piece in target.split(|b| *b == b'/').rev() {
                    pending.push(piece.to_vec());
                }
            }
            Ok(meta) if meta.is_dir() => resolved.push(part),
            Ok(_) if pending.is_empty() => resolved.push(part),
            Ok(_) => return Err(format!("{}: not a directory", here.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = true;
                resolved.push(part);
            }
            Err(e) => return Err(format!("{}: {e}", here.display())),
        }
    }
    let mut path = root.to_path_buf();
    for p in &resolved {
        path.push(OsStr::from_bytes(p));
    }
    Ok(path)
}

fn io_error(what: &str, path: &Path, error: impl std::fmt::Display) -> String {
    format!("{what} {}: {error}", path.display())
}

/// Removes whatever non-directory is at `path`, so a new entry replaces it.
fn clear(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(format!("{}: is a directory", path.display())),
        Ok(_) => std::fs::remove_file(path).map_err(|e| io_error("cannot remove", path, e)),
        Err(_) => Ok(()),
    }
}

fn mtime(header: &tar::Header) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(header.mtime().unwrap_or(0))
}

/// Extracts a (decompressed) data tarball into `root`. Conffiles (absolute
/// paths) are written twice, as `NAME` and as `NAME.dpkg-new` (what dpkg
/// unpacks; `dpkg --configure` finds the two identical).
pub fn extract(root: &Path, data: impl Read, conffiles: &[String]) -> Result<Extracted, String> {
    let mut done = Extracted::default();
    let mut archive = tar::Archive::new(data);
    let entries = archive.entries().map_err(|e| format!("data.tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("data.tar: {e}"))?;
        let name = entry.path_bytes().into_owned();
        let parts = components(&name)?;
        let Some((last, parents)) = parts.split_last() else {
            done.paths.push("/.".to_string());
            continue;
        };
        let listed = format!("/{}", String::from_utf8_lossy(&parts.join(&b'/')));
        let header = entry.header().clone();
        let kind = header.entry_type();
        let parent = resolve_in_root(root, parents, true)?;
        if !parent.is_dir() {
            std::fs::create_dir_all(&parent)
                .map_err(|e| io_error("cannot create directory", &parent, e))?;
        }
        let path = parent.join(OsStr::from_bytes(last));
        let mode = header.mode().map_err(|e| format!("{listed}: {e}"))? & 0o7777;
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        match kind {
            tar::EntryType::Directory => {
                make_directory(root, &path, &parts, mode, uid, gid, mtime(&header))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if conffiles.iter().any(|c| c == &listed) {
                    // Both copies, as debootstrap leaves them after its tar
                    // extraction then `dpkg --unpack`: configure finds them
                    // identical and keeps the file, so scripts configured
                    // before this package already see its conffiles (as
                    // passwd's pwconv sees login's /etc/login.defs).
                    let mut content = Vec::new();
                    entry
                        .read_to_end(&mut content)
                        .map_err(|e| format!("{listed}: {e}"))?;
                    let new = parent.join(OsStr::from_bytes(&[*last, b".dpkg-new"].concat()));
                    for target in [&path, &new] {
                        write_file(target, &mut &content[..], mode, uid, gid, mtime(&header))?;
                    }
                    done.bytes += content.len() as u64;
                } else {
                    done.bytes += write_file(&path, &mut entry, mode, uid, gid, mtime(&header))?;
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| format!("{listed}: symlink without a target"))?
                    .into_owned();
                if symlink_escapes(&parts, &target) {
                    return Err(format!(
                        "symlink {listed} -> {} points outside the root",
                        String::from_utf8_lossy(&target)
                    ));
                }
                clear(&path)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(|e| io_error("cannot create symlink", &path, e))?;
                set_owner(&path, uid, gid, || lchown(&path, Some(uid), Some(gid)))?;
                set_symlink_time(&path, mtime(&header))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| format!("{listed}: hard link without a target"))?
                    .into_owned();
                let target_parts = components(&target)?;
                let Some((target_last, target_parents)) = target_parts.split_last() else {
                    return Err(format!("{listed}: hard link to the root"));
                };
                let source = resolve_in_root(root, target_parents, true)?
                    .join(OsStr::from_bytes(target_last));
                clear(&path)?;
                std::fs::hard_link(&source, &path).map_err(|e| {
                    io_error("cannot link", &path, format!("{}: {e}", source.display()))
                })?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let flag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                clear(&path)?;
                mknod(
                    &path,
                    flag,
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::makedev(major.into(), minor.into()),
                )
                .map_err(|e| io_error("cannot make node", &path, e))?;
                finish(&path, mode, uid, gid)?;
            }
            // PAX and GNU long-name headers are consumed by the tar crate.
            other => {
                return Err(format!("{listed}: unsupported entry type {other:?}"));
            }
        }
        done.paths.push(listed);
    }
    Ok(done)
}

fn make_directory(
    root: &Path,
    path: &Path,
    parts: &[&[u8]],
    mode: u32,
    uid: u32,
    gid: u32,
    time: SystemTime,
) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => {
            // dpkg keeps a symlink to a directory (`bin -> usr/bin`).
            let resolved = resolve_in_root(root, parts, true)?;
            if resolved.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "{}: a symlink where a directory should be",
                    path.display()
                ))
            }
        }
        Ok(_) => Err(format!(
            "{}: a file where a directory should be",
            path.display()
        )),
        Err(_) => {
            match std::fs::create_dir(path) {
                Ok(()) => {}
                // Another package made it meanwhile.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(io_error("cannot create directory", path, e)),
            }
            finish(path, mode, uid, gid)?;
            let dir = File::open(path).map_err(|e| io_error("cannot open", path, e))?;
            dir.set_times(FileTimes::new().set_modified(time).set_accessed(time))
                .map_err(|e| io_error("cannot set times of", path, e))
        }
    }
}

fn finish(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), String> {
    set_owner(path, uid, gid, || lchown(path, Some(uid), Some(gid)))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("cannot change mode of", path, e))
}

fn write_file(
    path: &Path,
    data: &mut impl Read,
    mode: u32,
    uid: u32,
    gid: u32,
    time: SystemTime,
) -> Result<u64, String> {
    clear(path)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_error("cannot create", path, e))?;
    let bytes = io::copy(data, &mut file).map_err(|e| io_error("cannot write", path, e))?;
    set_owner(path, uid, gid, || {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
    })?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("cannot change mode of", path, e))?;
    file.set_times(FileTimes::new().set_modified(time).set_accessed(time))
        .map_err(|e| io_error("cannot set times of", path, e))?;
    Ok(bytes)
}

fn set_symlink_time(path: &Path, time: SystemTime) -> Result<(), String> {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let spec = libc::timespec {
        tv_sec: since.as_secs() as libc::time_t,
        tv_nsec: 0,
    };
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))?;
    // nix's utimensat wants a directory descriptor; AT_FDCWD is simpler
    // through libc. SAFETY: a valid C string and two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            [spec, spec].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io_error(
            "cannot set times of",
            path,
            io::Error::last_os_error(),
        ));
    }
    Ok(())
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
    fn resolution_loops_and_escapes() {
        let s = scratch("resolve");
        let root = s.0.join("root");
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(&root, &[b"loop", b"x"], true).is_err());
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        assert_eq!(
            resolve_in_root(&root, &[b"up", b"etc"], true).unwrap(),
            root.join("etc")
        );
        assert!(symlink_escapes(&[b"a"], b".."));
        assert!(!symlink_escapes(&[b"a", b"b"], b".."));
        assert!(!symlink_escapes(&[b"a"], b"/abs"));
    }
}
