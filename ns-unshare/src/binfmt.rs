//! `--mount-binfmt` and `--load-interp` (util-linux 2.42): since Linux 6.7
//! every user namespace may have a binfmt_misc instance of its own, so an
//! interpreter (qemu-user for a foreign root, say) is registered for the
//! new namespaces only. Older kernels refuse the mount with EPERM, which
//! is reported as util-linux reports it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ns_sys::mount::{self, MsFlags};
use ns_sys::sys::WriteError;
use ns_sys::Sys;

use crate::error::system_path;
use crate::Error;

/// Mounts the user namespace's binfmt_misc on `dir`, without setuid,
/// device files or executables, as util-linux does.
pub fn mount(sys: &impl Sys, dir: &Path) -> Result<(), Error> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount::mount(
        sys,
        Some(OsStr::new("binfmt_misc")),
        dir,
        Some("binfmt_misc"),
        flags,
        None,
    )
    .map_err(|error| system_path("mount ", dir, " failed", error.errno))
}

/// Writes a `:name:type:offset:magic:mask:interpreter:flags` definition to
/// `dir/register` in one write, as the kernel wants it.
pub fn register(sys: &impl Sys, dir: &Path, definition: &OsStr) -> Result<(), Error> {
    let register = dir.join("register");
    sys.write_proc(&register, definition.as_bytes())
        .map_err(|error| match error {
            // util-linux opens the directory first: a directory that is
            // not there is named, not its register file.
            WriteError::Open(errno) => match directory_error(dir) {
                Some(dir_errno) => system_path("cannot open ", dir, "", dir_errno),
                None => system_path("cannot open ", &register, "", errno),
            },
            WriteError::Write(errno) => system_path("write failed ", &register, "", errno),
        })
}

/// Why `dir` cannot be opened as a directory, if it cannot.
fn directory_error(dir: &Path) -> Option<nix::errno::Errno> {
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; the descriptor is closed at once.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Some(nix::errno::Errno::last());
    }
    // SAFETY: a descriptor we own.
    unsafe { libc::close(fd) };
    None
}

/// A definition with the `F` (fix binary) flag: the kernel opens the
/// interpreter when it is registered, so with `--root` it is registered
/// before the chroot, from the caller's filesystem. The flags are what
/// follows the last colon.
pub fn is_fixed(definition: &OsStr) -> bool {
    let bytes = definition.as_bytes();
    bytes
        .iter()
        .rposition(|&b| b == b':')
        .is_some_and(|colon| bytes[colon..].contains(&b'F'))
}

/// Where a fixed interpreter is registered before the chroot: the
/// default place, whatever `--mount-binfmt` named (as util-linux does).
pub fn before_chroot() -> PathBuf {
    PathBuf::from(crate::cli::BINFMT_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::recording::{Call, Recorder};

    #[test]
    fn the_fix_flag_is_after_the_last_colon() {
        assert!(is_fixed(OsStr::new(":qemu:M::\\x7fELF::/usr/bin/qemu:OCF")));
        assert!(is_fixed(OsStr::new(":x:E::xx::/bin/F:F")));
        assert!(!is_fixed(OsStr::new(":x:E::xx::/bin/F:")));
        assert!(!is_fixed(OsStr::new(":x:E::xx::/F/sh:OC")));
        assert!(!is_fixed(OsStr::new("F")), "no colon, no flags");
        assert!(!is_fixed(OsStr::new("")));
    }

    #[test]
    fn mounted_as_util_linux_mounts_it() {
        let sys = Recorder::new();
        mount(&sys, Path::new("/b")).unwrap();
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
        assert_eq!(
            sys.calls(),
            [Call::mount("binfmt_misc", "/b", Some("binfmt_misc"), flags)]
        );
    }

    #[test]
    fn a_refused_definition_names_the_register_file() {
        let sys = Recorder::new().failing(
            |call| matches!(call, Call::WriteProc(..)),
            nix::errno::Errno::EINVAL,
        );
        let error = register(&sys, Path::new("/b"), OsStr::new("bogus")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "write failed /b/register: Invalid argument"
        );
    }
}
