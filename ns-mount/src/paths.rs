//! Paths as libmount canonicalises them: targets resolved when they
//! exist, sources with symlinks resolved and `/dev/dm-N` named by its
//! mapper name, loop devices shown by their backing file.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use ns_sys::mountinfo::MountEntry;

use crate::fstypes::is_regular_fs;

/// Whether a path's bytes start with `prefix` (`/` for an absolute path).
pub fn starts_with(path: &OsStr, prefix: &[u8]) -> bool {
    path.as_bytes().starts_with(prefix)
}

/// A target path as libmount canonicalises it: resolved when it exists.
pub fn canonical_target(path: &OsStr) -> OsString {
    match std::fs::canonicalize(path) {
        Ok(resolved) => PathBuf::into_os_string(resolved),
        Err(_) => path.to_os_string(),
    }
}

/// libmount's canonical form of a source path: symlinks resolved,
/// `/dev/dm-N` shown as `/dev/mapper/NAME`.
pub fn canonical_source(path: &OsStr) -> OsString {
    if path.is_empty() {
        return OsString::from("none");
    }
    let resolved = match std::fs::canonicalize(path) {
        Ok(resolved) => resolved.into_os_string(),
        Err(_) => return path.to_os_string(),
    };
    if let Some(dm) = resolved.as_bytes().strip_prefix(b"/dev/dm-") {
        let dm = String::from_utf8_lossy(dm);
        if let Ok(name) = std::fs::read(format!("/sys/block/dm-{dm}/dm/name")) {
            let name = name.strip_suffix(b"\n").unwrap_or(&name);
            let mut mapper = b"/dev/mapper/".to_vec();
            mapper.extend_from_slice(name);
            let mapper = OsString::from_vec(mapper);
            if Path::new(&mapper).exists() {
                return mapper;
            }
        }
    }
    resolved
}

/// For an autoclear loop device (set up by mount), its backing file.
pub fn loop_backing_file(device: &OsStr) -> Option<OsString> {
    let name = device.as_bytes().strip_prefix(b"/dev/")?;
    if !name.starts_with(b"loop") {
        return None;
    }
    let base = Path::new("/sys/block")
        .join(OsStr::from_bytes(name))
        .join("loop");
    let autoclear = std::fs::read_to_string(base.join("autoclear")).ok()?;
    if autoclear.trim() != "1" {
        return None;
    }
    let file = std::fs::read(base.join("backing_file")).ok()?;
    let file = file.strip_suffix(b"\n").unwrap_or(&file);
    Some(OsString::from_vec(file.to_vec()))
}

/// The source as util-linux prints it in a listing.
pub fn pretty_source(entry: &MountEntry) -> OsString {
    if !is_regular_fs(&entry.fstype) {
        return entry.source.clone();
    }
    let canonical = canonical_source(&entry.source);
    if canonical.as_bytes().starts_with(b"/dev/loop") {
        if let Some(file) = loop_backing_file(&canonical) {
            return file;
        }
    }
    canonical
}
