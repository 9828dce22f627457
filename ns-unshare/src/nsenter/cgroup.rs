//! `-c`: joining the target's cgroup (cgroup v2 only): its path from the
//! first line of `/proc/PID/cgroup` (`0::/PATH`), opened before the
//! namespaces are entered, written to once they are.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use crate::Error;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// `CGROUP2_SUPER_MAGIC`.
const CGROUP2_MAGIC: libc::c_long = 0x6367_7270;

/// Whether /sys/fs/cgroup is the unified (v2) hierarchy.
pub fn is_cgroup2() -> Result<bool, Error> {
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a C string literal and a struct we own.
    if unsafe { libc::statfs(c"/sys/fs/cgroup".as_ptr(), &mut fs) } != 0 {
        return Err(Error::system(
            format_args!("statfs {CGROUP_ROOT} failed"),
            Errno::last(),
        ));
    }
    Ok(fs.f_type as libc::c_long == CGROUP2_MAGIC)
}

/// The cgroup path in a `/proc/PID/cgroup` text: what follows the last
/// `:` of its first line (util-linux reads nothing else).
pub fn path_of(text: &[u8]) -> Option<&[u8]> {
    let first = text.split(|b| *b == b'\n').find(|line| !line.is_empty())?;
    let colon = first.iter().rposition(|b| *b == b':')?;
    Some(&first[colon + 1..])
}

/// The `cgroup.procs` file of the cgroup at `path`, opened to append.
pub fn open_procs(path: &[u8]) -> Result<std::fs::File, Error> {
    let mut file = format!("{CGROUP_ROOT}/").into_bytes();
    file.extend_from_slice(path);
    file.extend_from_slice(b"/cgroup.procs");
    std::fs::OpenOptions::new()
        .append(true)
        .open(Path::new(std::ffi::OsStr::from_bytes(&file)))
        .map_err(|e| Error::system("failed to open cgroup.procs", ns_sys::errno_of(&e)))
}

/// Moves this process into the cgroup (its children follow it).
pub fn join(procs: &mut std::fs::File) -> Result<(), Error> {
    procs
        .write_all(std::process::id().to_string().as_bytes())
        .map_err(|e| Error::system("write cgroup.procs failed", ns_sys::errno_of(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_from_the_first_line() {
        assert_eq!(path_of(b"0::/user.slice/x\n"), Some(&b"/user.slice/x"[..]));
        assert_eq!(path_of(b"\n0::/a:b\n1:cpu:/c\n"), Some(&b"b"[..]));
        assert_eq!(path_of(b"0::/\n"), Some(&b"/"[..]));
        assert_eq!(path_of(b""), None);
        assert_eq!(path_of(b"no colon\n"), None);
    }

    #[test]
    fn the_host_answers_whether_it_is_v2() {
        // Either answer is fine; a missing /sys/fs/cgroup is an error
        // that names it.
        match is_cgroup2() {
            Ok(_) => {}
            Err(error) => assert!(error.to_string().contains("/sys/fs/cgroup")),
        }
    }
}
