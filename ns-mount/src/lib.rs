//! ns-mount: mount and unmount filesystems, drop-ins for util-linux
//! `mount` and `umount`, with no libblkid or libmount underneath: what
//! util-linux does through libraries (superblock probing, loop devices,
//! fstab and utab) is done here.
//!
//! In the layering (see ns-sys) it stands on ns-getopt (the command line)
//! and ns-sys (the mount(2) call sequences, mountinfo, accounts, the
//! [`ns_sys::Sys`] calls). The binaries are [`mount_main`] and
//! [`umount_main`]; [`mount`] and [`umount`] each lay out their stages
//! (argv → typed request → source and target resolved → the calls → the
//! messages). What both commands share:
//!
//! - [`options`]: option strings typed once (flags, data, userspace
//!   options), `-t` and `-O` patterns;
//! - [`fstab`], [`utab`]: the tables util-linux keeps in files;
//! - [`paths`], [`fstypes`]: libmount's canonical paths and kinds of
//!   filesystem;
//! - [`probe`], [`loopdev`], [`size`]: `LABEL=` and friends, loop devices,
//!   `offset=` sizes;
//! - [`privilege`]: the restricted mode of a set-user-ID install;
//! - [`listing`]: `mount` without operands;
//! - [`error`], [`output`]: exit statuses and how lines are written.

pub mod attrs;
pub mod error;
pub mod fsapi;
pub mod fstab;
pub mod fstypes;
pub mod helper;
pub mod idmap;
pub mod listing;
pub mod loopdev;
pub mod mount;
pub mod namespace;
pub mod options;
pub mod output;
pub mod paths;
pub mod privilege;
pub mod probe;
pub mod size;
pub mod umount;
pub mod utab;

pub use error::{Error, EX_FAIL, EX_SOMEOK, EX_SUCCESS, EX_SYSERR, EX_USAGE};
pub use mount::main as mount_main;
pub use umount::main as umount_main;
