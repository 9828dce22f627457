//! The last stage of a mount: what util-linux says about it. The
//! outcome's status and message, the `-v` line, and libmount's wording of
//! a failed mount(2) call (which looks at the source and target to say
//! why), names as their bytes.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;

use ns_sys::mount::{MsFlags, Step};
use ns_sys::mountinfo::{self, MountEntry};
use ns_sys::Errno;

use crate::error::{DMESG_HINT, EX_SUCCESS, EX_USAGE};
use crate::fstypes::is_net_fs;
use crate::output::say;

/// The outcome of one mount, for the message and the exit status.
pub struct Outcome {
    /// The exit status util-linux gives.
    pub code: u8,
    /// The message (without the `PROG: SPEC: ` prefix and final dot),
    /// with the names in it as their bytes.
    pub message: Option<Vec<u8>>,
    /// Target (or source, if no target) for the message prefix.
    pub spec: OsString,
    /// Whether a mount(2) call failed (adds the dmesg line).
    pub syscall_failed: bool,
    /// Success message for -v.
    pub verbose: Option<Vec<u8>>,
    /// A restricted caller asked for more than a user mount: refused
    /// before any mount(2) call.
    pub not_permitted: bool,
    /// The kernel's messages about the mount (`w …` and, for `-v`,
    /// `i …`, are shown; `e …` are in `message`).
    pub notes: Vec<String>,
}

impl Outcome {
    /// A failure of `code` with `message` about `spec`, before or
    /// without a mount(2) call.
    pub fn failed(code: u8, spec: OsString, message: impl Into<Vec<u8>>) -> Outcome {
        Outcome {
            code,
            message: Some(message.into()),
            spec,
            syscall_failed: false,
            verbose: None,
            not_permitted: false,
            notes: Vec::new(),
        }
    }

    pub fn ok(spec: OsString, verbose: Option<Vec<u8>>) -> Outcome {
        Outcome {
            code: EX_SUCCESS,
            message: None,
            spec,
            syscall_failed: false,
            verbose,
            not_permitted: false,
            notes: Vec::new(),
        }
    }

    pub fn usage(spec: &OsStr, message: impl Into<Vec<u8>>) -> Outcome {
        Outcome::failed(EX_USAGE, spec.to_os_string(), message)
    }

    /// Prints the outcome's messages (the verbose one only with `-v`) and
    /// gives its status.
    pub fn report(&self, prog: &str, verbose: bool) -> u8 {
        if let Some(message) = &self.message {
            say(&[
                prog.as_bytes(),
                b": ",
                self.spec.as_bytes(),
                b": ",
                message,
                b".",
            ]);
            if self.syscall_failed {
                say(&[DMESG_HINT.as_bytes()]);
            }
        }
        self.print_notes('w', verbose);
        if self.code == EX_SUCCESS && verbose {
            if let Some(text) = &self.verbose {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text).and_then(|()| out.flush());
            }
        }
        self.code
    }

    /// The kernel's warnings (and with `-v` its infos) on stdout, under
    /// a header, as mount(8) 2.41+ prints them.
    fn print_notes(&self, kind: char, verbose: bool) {
        for (kind, one, many) in [
            (kind, "mount warning:", "mount warnings:"),
            ('i', "mount info:", "mount infos:"),
        ] {
            if kind == 'i' && !verbose {
                continue;
            }
            let prefix = format!("{kind} ");
            let lines: Vec<&str> = self
                .notes
                .iter()
                .filter_map(|n| n.strip_prefix(prefix.as_str()))
                .collect();
            if lines.is_empty() {
                continue;
            }
            let mut text = String::from(if lines.len() == 1 { one } else { many });
            text.push('\n');
            for line in lines {
                text.push_str("      * ");
                text.push_str(line);
                text.push('\n');
            }
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }

    pub fn not_permitted(spec: &OsStr) -> Outcome {
        Outcome {
            not_permitted: true,
            ..Outcome::usage(spec, "operation permitted for root only")
        }
    }
}

/// The `-v` line of a mount that succeeded.
pub fn success_message(
    prog: &str,
    flags: MsFlags,
    propagation_only: bool,
    source: &OsStr,
    target: &OsStr,
) -> Vec<u8> {
    let (prog, source, target) = (prog.as_bytes(), source.as_bytes(), target.as_bytes());
    if flags.contains(MsFlags::MS_MOVE) {
        [prog, b": ", source, b" moved to ", target, b".\n"].concat()
    } else if flags.contains(MsFlags::MS_BIND) {
        [prog, b": ", source, b" bound on ", target, b".\n"].concat()
    } else if propagation_only {
        [prog, b": ", target, b" propagation flags changed.\n"].concat()
    } else {
        [prog, b": ", source, b" mounted on ", target, b".\n"].concat()
    }
}

pub struct MountFailure<'a> {
    pub errno: Errno,
    /// The call that failed (`mount`, `move_mount`, …), for the generic
    /// message.
    pub syscall: &'a str,
    pub step: Step,
    pub flags: MsFlags,
    pub source: Option<&'a OsStr>,
    pub target: &'a OsStr,
    pub fstype: Option<&'a str>,
    pub rw_only: bool,
    /// `nofail`: a missing device is no failure.
    pub nofail: bool,
}

/// util-linux's wording for a failed mount(2), the source named as its
/// bytes; `None` where `nofail` makes the failure a success.
pub fn mount_error_message(f: MountFailure<'_>) -> Option<Vec<u8>> {
    let src = f.source.unwrap_or(OsStr::new("none"));
    let lstat = |p: &OsStr| std::fs::symlink_metadata(p).ok();
    let stat = |p: &OsStr| std::fs::metadata(p).ok();
    // BEFORE SOURCE AFTER.
    let about = |before: &str, after: &str| -> Vec<u8> {
        [before.as_bytes(), src.as_bytes(), after.as_bytes()].concat()
    };
    let text = |text: &str| text.as_bytes().to_vec();
    if f.step == Step::Additional {
        return Some(
            if f.errno == Errno::EINVAL && !f.flags.contains(MsFlags::MS_REMOUNT) {
                text("not mount point or bad option")
            } else {
                mount_error_message(MountFailure {
                    step: Step::Main,
                    ..f
                })?
            },
        );
    }
    let generic = |errno: Errno| {
        format!("{}() failed: {}", f.syscall, ns_sys::strerror(errno as i32)).into_bytes()
    };
    let source_missing = || stat(src).is_none();
    Some(match f.errno {
        // Without privileges (a restricted mount that dropped them) the
        // kernel's refusal is about the caller.
        Errno::EPERM if ns_sys::runtime::Identity::current().euid != 0 => {
            text("must be superuser to use mount")
        }
        Errno::EPERM => match stat(f.target) {
            Some(m) if m.is_dir() || (f.flags.contains(MsFlags::MS_BIND) && m.is_file()) => {
                text("permission denied")
            }
            _ => text("mount point is not a directory"),
        },
        Errno::EBUSY => {
            if f.flags.contains(MsFlags::MS_REMOUNT) {
                text("mount point is busy")
            } else {
                let table = mountinfo::read_self().unwrap_or_default();
                match table
                    .iter()
                    .rev()
                    .find(|m| m.source == src && m.root == "/")
                {
                    Some(m) => [
                        about("", " already mounted on "),
                        m.target.as_bytes().to_vec(),
                    ]
                    .concat(),
                    None => about("", " already mounted or mount point busy"),
                }
            }
        }
        Errno::ENOENT => {
            if lstat(f.target).is_none() {
                text("mount point does not exist")
            } else if stat(f.target).is_none() {
                text("mount point is a symbolic link to nowhere")
            } else if source_missing() {
                if f.nofail {
                    return None;
                }
                about("special device ", " does not exist")
            } else {
                generic(f.errno)
            }
        }
        Errno::ENOTDIR => {
            if stat(f.target).is_none_or_not_dir() {
                text("mount point is not a directory")
            } else if source_missing() {
                if f.nofail {
                    return None;
                }
                about(
                    "special device ",
                    " does not exist (a path prefix is not a directory)",
                )
            } else {
                generic(f.errno)
            }
        }
        Errno::EINVAL => {
            if f.flags.contains(MsFlags::MS_REMOUNT) {
                text("mount point not mounted or bad option")
            } else if f.flags.contains(MsFlags::MS_MOVE) && source_under_shared(src) {
                text("bad option; moving a mount residing under a shared mount is unsupported")
            } else if f.fstype.is_some_and(is_net_fs) {
                text("bad option; for several filesystems (e.g. nfs, cifs) you might need a /sbin/mount.<type> helper program")
            } else {
                about(
                    "wrong fs type, bad option, bad superblock on ",
                    ", missing codepage or helper program, or other error",
                )
            }
        }
        Errno::EMFILE => text("mount table full"),
        Errno::EIO => about("can't read superblock on ", ""),
        Errno::ENODEV => match f.fstype {
            Some(t) => format!("unknown filesystem type '{t}'").into_bytes(),
            None => text("unknown filesystem type"),
        },
        Errno::ENOTBLK | Errno::ENXIO | Errno::ENOMEDIUM if f.nofail => return None,
        Errno::ENOTBLK => match stat(src) {
            None => about("", " is not a block device, and stat(2) fails?"),
            Some(m) if m.file_type().is_block_device() => about(
                "the kernel does not recognize ",
                " as a block device; maybe \"modprobe driver\" is necessary",
            ),
            Some(m) if m.is_file() => about("", " is not a block device; try \"-o loop\""),
            Some(_) => about("", " is not a block device"),
        },
        Errno::ENXIO => about("", " is not a valid block device"),
        Errno::EACCES | Errno::EROFS => {
            if f.flags.contains(MsFlags::MS_RDONLY) {
                about("cannot mount ", " read-only")
            } else if f.rw_only {
                about(
                    "",
                    " is write-protected but explicit read-write mode requested",
                )
            } else if f.flags.contains(MsFlags::MS_REMOUNT) {
                about("cannot remount ", " read-write, is write-protected")
            } else if f.flags.contains(MsFlags::MS_BIND) {
                about("bind ", " failed")
            } else {
                generic(f.errno)
            }
        }
        Errno::ENOMEDIUM => about("no medium found on ", ""),
        Errno::EBADMSG
            if stat(src).is_some_and(|m| m.is_file() || m.file_type().is_block_device()) =>
        {
            about("cannot mount; probably corrupted filesystem on ", "")
        }
        errno => generic(errno),
    })
}

trait NotDir {
    fn is_none_or_not_dir(&self) -> bool;
}

impl NotDir for Option<std::fs::Metadata> {
    fn is_none_or_not_dir(&self) -> bool {
        match self {
            Some(m) => !m.is_dir(),
            None => true,
        }
    }
}

/// Whether the mount holding `path` has a shared parent (a move out of a
/// shared mount is refused by the kernel with EINVAL).
fn source_under_shared(path: &OsStr) -> bool {
    let table = mountinfo::read_self().unwrap_or_default();
    let Some(mount) = mountinfo::find_target(&table, path) else {
        return false;
    };
    table
        .iter()
        .find(|m| m.id == mount.parent)
        .is_some_and(MountEntry::is_shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_wording() {
        let message = |errno, flags| {
            mount_error_message(MountFailure {
                errno,
                syscall: "move_mount",
                step: Step::Main,
                flags,
                source: Some(OsStr::new("/nonexistent-source")),
                target: OsStr::new("/nonexistent-target"),
                fstype: Some("bogus"),
                rw_only: false,
                nofail: false,
            })
            .map(|message| String::from_utf8(message).unwrap())
            .unwrap()
        };
        assert_eq!(
            message(Errno::ENOENT, MsFlags::empty()),
            "mount point does not exist"
        );
        assert_eq!(
            message(Errno::ENODEV, MsFlags::empty()),
            "unknown filesystem type 'bogus'"
        );
        assert_eq!(
            message(Errno::EINVAL, MsFlags::MS_REMOUNT),
            "mount point not mounted or bad option"
        );
        assert_eq!(
            message(Errno::EROFS, MsFlags::MS_RDONLY),
            "cannot mount /nonexistent-source read-only"
        );
        // 2.42 names the call that failed.
        assert_eq!(
            message(Errno::ELOOP, MsFlags::empty()),
            "move_mount() failed: Too many levels of symbolic links"
        );
    }
}
