//! ns-sys: the kernel and system-file interfaces that more than one of the
//! nstools needs.
//!
//! The layering, bottom up:
//!
//! ```text
//!   ns-sys      kernel calls and system files (this crate)
//!   ns-getopt   command lines: getopt_long's conventions, option tables
//!   ns-chroot  ns-unshare  ns-mount  ns-lsns  ns-bootstrap   one crate per tool
//!   nstools     the multi-call binary
//! ```
//!
//! What is here answers "how does one do X with the kernel", never "what
//! does the tool say about it": every function returns an errno or a typed
//! error naming the path or name concerned, and each tool words its own
//! messages. Something only one tool uses stays in that tool.
//!
//! - [`sys`]: the [`Sys`] trait, the system calls that change a process's
//!   namespaces, mounts, root and identity, with the real implementation
//!   ([`Linux`]) and a recording double ([`recording::Recorder`]), so the
//!   order of the calls is unit-tested without privileges;
//! - [`mount`]: the mount(2) call sequences util-linux makes (a bind mount
//!   with per-mount flags is a bind and a remount; propagation in calls of
//!   its own);
//! - [`nstype`]: the namespace types, by clone flag, `/proc/PID/ns` name
//!   and util-linux option name;
//! - [`mountinfo`]: `/proc/PID/mountinfo`, parsed as bytes;
//! - [`accounts`]: `/etc/passwd` and `/etc/group` of a root, read as files;
//! - [`idmap`]: uid/gid maps, `/etc/subuid` ranges, and writing the maps;
//! - [`child`]: helpers forked before `unshare(2)`, a child that signals
//!   are passed on to, waiting, dying of the child's signal;
//! - [`exec`]: `execvp` as POSIX specifies it;
//! - [`runtime`]: what C programs get from their runtime (SIGPIPE, the
//!   set-ID check), [`mod@strerror`]: glibc's errno texts, and [`number`]:
//!   numbers as `strtol` reads them.

pub mod accounts;
pub mod child;
pub mod exec;
pub mod idmap;
pub mod mount;
pub mod mountinfo;
pub mod nstype;
pub mod number;
pub mod recording;
pub mod runtime;
pub mod strerror;
pub mod sys;

pub use nix::errno::Errno;
pub use nstype::NsType;
pub use strerror::{io_error_text, strerror};
pub use sys::{Linux, Sys};

/// The errno of an I/O error (EIO when it has none, which system calls
/// never return).
pub fn errno_of(error: &std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}
