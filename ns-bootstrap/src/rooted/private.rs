//! Scratch files and directories outside TARGET (in TMPDIR, or beside a
//! tarball being written) whose names no other user can guess or have
//! prepared: `mkdtemp(3)` and `mkstemps(3)`.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::invalid;

/// A new directory with a name no one can guess, mode 0700, in `parent`
/// (`mkdtemp(3)`): a scratch directory in a shared place (TMPDIR, or
/// beside a tarball) that no other user can have prepared.
pub fn make_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    let mut raw = template(parent, prefix, "")?;
    // SAFETY: a writable, NUL-terminated buffer ending in "XXXXXX".
    let made = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(filled_in(raw))
}

/// A new file with a name no one can guess (`mkstemps(3)`), mode 0600:
/// e.g. a log kept in TMPDIR.
pub fn make_private_file(parent: &Path, prefix: &str, suffix: &str) -> io::Result<(PathBuf, File)> {
    let mut raw = template(parent, prefix, suffix)?;
    // SAFETY: a writable, NUL-terminated buffer whose name ends in
    // "XXXXXX" followed by `suffix`.
    let fd = unsafe { libc::mkstemps(raw.as_mut_ptr().cast(), suffix.len() as libc::c_int) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: mkstemps(3) returned a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    Ok((filled_in(raw), file))
}

/// `parent/prefixXXXXXXsuffix`, NUL-terminated, for mkdtemp(3) or
/// mkstemps(3) to fill in the X's in place.
fn template(parent: &Path, prefix: &str, suffix: &str) -> io::Result<Vec<u8>> {
    let mut template = parent.as_os_str().as_bytes().to_vec();
    if !template.ends_with(b"/") {
        template.push(b'/');
    }
    template.extend_from_slice(prefix.as_bytes());
    template.extend_from_slice(b"XXXXXX");
    template.extend_from_slice(suffix.as_bytes());
    let template = CString::new(template).map_err(|_| invalid("NUL in a path".to_string()))?;
    Ok(template.into_bytes_with_nul())
}

/// The path a template became, its NUL dropped.
fn filled_in(mut raw: Vec<u8>) -> PathBuf {
    raw.pop();
    PathBuf::from(OsStr::from_bytes(&raw))
}
