//! ns-unshare: run a program in new namespaces, a drop-in for util-linux
//! `unshare` 2.42.
//!
//! In the layering (see ns-sys) it stands on ns-getopt (the command line)
//! and ns-sys (namespace types, id maps, mount calls, child processes,
//! `execvp`, the [`ns_sys::Sys`] calls). `main` parses ([`cli::parse`],
//! names resolved by `ids`) and `run`s. The order of the steps is the
//! contract with the kernel and mirrors util-linux (the unit tests below
//! check it with ns-sys's recording double):
//!
//! 1. helpers are forked *before* `unshare(2)` for whatever must be done
//!    from the original namespaces: binding persistent namespace files
//!    once a new mount or user namespace is in place, and writing ID maps
//!    of several ranges (as root directly, else with newuidmap/newgidmap);
//! 2. `--owner`'s groups, gid and uid, then `unshare(2)` (the namespace's
//!    owner is its creator's euid), then time offsets (before any process
//!    enters the new time namespace);
//! 3. with `--fork`, the fork (so `pid_for_children` has a process), and
//!    the bind helper released; the parent waits and mirrors the child's
//!    end;
//! 4. in the process that becomes the program: single-ID maps
//!    (`setgroups` denied before `gid_map`), propagation, root and
//!    working directory, `/proc`, binfmt_misc and its interpreter,
//!    uid/gid, capabilities, exec.

pub mod binfmt;
pub mod caps;
pub mod cli;
pub mod error;
mod helpers;
mod ids;
pub mod mounts;
pub mod namespaces;
// ns-nsenter, the crate's second binary. (Its docs are its own: an outer
// doc comment here would make rustdoc resolve their links from this file.)
pub mod nsenter;
pub mod signame;

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use ns_getopt::Start;
use ns_sys::accounts::Accounts;
use ns_sys::idmap::{self, Kind};
use ns_sys::sys::WriteError;
use ns_sys::{NsType, Sys};

use cli::{Options, Propagation, Unshare};
pub use error::Error;
use ids::{map_error, Me};
use namespaces::BIND_ORDER;

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, cli::parse, run)
}

/// Does what the options say. Without `--fork` it does not return on
/// success: the process becomes the program.
pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    cli::TOOL.act(prog, &options.action, |unshare| {
        run_unshare(&ns_sys::Linux, prog, unshare)
    })
}

fn run_unshare(sys: &impl Sys, prog: &str, u: &Unshare) -> Result<ExitCode, Error> {
    // SIGCHLD may come ignored from our own parent; then the kernel would
    // reap our children itself and waitpid could not see them. (SIGPIPE
    // was restored at start.)
    // SAFETY: restoring the default action installs no handler.
    let _ = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let me = Me::current();
    let loaded = std::cell::OnceCell::new();
    let accounts = || loaded.get_or_init(|| Accounts::load(Path::new("/")));

    let map_user = ids::resolve_id(u.map_user.as_ref(), me.euid, "uid", |name| {
        accounts().user_by_name(name).map(|user| user.uid)
    })?;
    let map_group = ids::resolve_id(u.map_group.as_ref(), me.egid, "gid", |name| {
        accounts().group_by_name(name).map(|group| group.gid)
    })?;
    let user_blocks = ids::resolve_blocks(&u.map_users, Kind::Users, &me, &accounts)?;
    let group_blocks = ids::resolve_blocks(&u.map_groups, Kind::Groups, &me, &accounts)?;

    let flags = ns_sys::nstype::clone_flags(&u.namespaces);
    let persist = &u.persist;
    let persisting = persist.iter().any(Option::is_some);

    // A new mount or user namespace takes away the right to mount on the
    // host's files: a helper left outside binds the namespace files.
    let ppid = nix::unistd::getpid().as_raw();
    let bind_helper = if persisting && (u.wants(NsType::Mnt) || u.wants(NsType::User)) {
        Some(helpers::spawn(prog, || {
            bind_namespace_files(sys, ppid, persist)
        })?)
    } else {
        None
    };

    // Blocks of IDs are written from outside (the kernel lets only a
    // process with privilege over the parent namespace map more than
    // its own ID); the single --map-user then joins them. So does it
    // when --owner gives the namespace away: its new owner could not map
    // our ID.
    let owner = u.owner.unwrap_or((idmap::NO_ID, idmap::NO_ID));
    let combine = |blocks: &[idmap::Block], single: Option<u32>, own: u32, owner: u32| {
        if blocks.is_empty() && (single.is_none() || owner == idmap::NO_ID) {
            return Ok((None, single));
        }
        let single = single.map(|inner| (own, inner));
        let ranges = idmap::combine(blocks, single).map_err(map_error)?;
        Ok::<_, Error>((Some(ranges), None))
    };
    let (user_ranges, single_user) = combine(&user_blocks, map_user, me.euid, owner.0)?;
    let (group_ranges, single_group) = combine(&group_blocks, map_group, me.egid, owner.1)?;
    let map_helper = if user_ranges.is_some() || group_ranges.is_some() {
        Some(helpers::spawn(prog, || {
            for (kind, ranges) in [(Kind::Users, &user_ranges), (Kind::Groups, &group_ranges)] {
                if let Some(ranges) = ranges {
                    idmap::write_ranges(sys, kind, ppid, ranges).map_err(map_error)?;
                }
            }
            Ok(())
        })?)
    } else {
        None
    };

    become_owner(sys, owner)?;
    sys.unshare(flags)
        .map_err(|errno| unshare_failed(prog, errno, u.wants(NsType::User)))?;

    if let Some(helper) = map_helper {
        helpers::finish(helper)?;
    }
    set_time_offsets(sys, u)?;

    let child = if u.fork {
        helpers::fork_program(u.forward_signals, u.kill_child)?
    } else {
        None
    };
    let bind_helper = match (child, bind_helper) {
        (None, Some(helper)) if u.fork => {
            helper.forget();
            None
        }
        (_, helper) => helper,
    };

    if persisting && (child.is_some() || !u.fork) {
        let bound = match bind_helper {
            Some(helper) => helpers::finish(helper),
            None => bind_namespace_files(sys, nix::unistd::getpid().as_raw(), persist),
        };
        if let Err(error) = bound {
            if let Some(child) = child {
                // Nobody could enter the namespaces as asked: do not
                // leave the program running behind our failure.
                let _ = signal::kill(child, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
            }
            return Err(error);
        }
    }
    if let Some(child) = child {
        return helpers::wait_program(child);
    }

    set_up_process(sys, u, &me, single_user, single_group)?;
    become_program(u)
}

/// `--owner`: the user namespace belongs to the euid that creates it, so
/// we become that user (and group, without supplementary groups) first.
/// The helpers forked before keep our privileges to map IDs and bind the
/// namespace files. 4294967295 leaves an ID as it is.
fn become_owner(sys: &impl Sys, (uid, gid): (u32, u32)) -> Result<(), Error> {
    if gid != idmap::NO_ID {
        sys.setgroups(&[])
            .map_err(|errno| Error::system("setgroups failed", errno))?;
        sys.setgid(gid)
            .map_err(|errno| Error::system("setgid() failed", errno))?;
    }
    if uid != idmap::NO_ID {
        sys.setuid(uid)
            .map_err(|errno| Error::system("setuid() failed", errno))?;
    }
    Ok(())
}

/// In the process that becomes the program: single-ID maps (setgroups
/// denied before the gid_map), propagation, root and working directory,
/// `/proc`, binfmt_misc and its interpreter, then groups, gid and uid,
/// capabilities.
fn set_up_process(
    sys: &impl Sys,
    u: &Unshare,
    me: &Me,
    single_user: Option<u32>,
    single_group: Option<u32>,
) -> Result<(), Error> {
    if let Some(uid) = single_user {
        idmap::write_single(sys, Kind::Users, uid, me.euid).map_err(map_error)?;
    }
    if let Some(gid) = single_group {
        if u.setgroups == Some(true) {
            return Err(Error::Failed(
                "options --setgroups=allow and --map-group are mutually exclusive".to_string(),
            ));
        }
        // Since Linux 3.19 an unprivileged gid_map needs setgroups denied
        // first.
        idmap::set_setgroups(sys, false).map_err(map_error)?;
        idmap::write_single(sys, Kind::Groups, gid, me.egid).map_err(map_error)?;
    }
    if let Some(allow) = u.setgroups {
        idmap::set_setgroups(sys, allow).map_err(map_error)?;
    }
    if u.wants(NsType::Mnt) {
        mounts::set_root_propagation(sys, u.propagation)?;
    }

    // A fixed (`F`) interpreter is opened by the kernel as it is
    // registered: with --root, from the caller's filesystem, before the
    // chroot. The registration is the user namespace's, so it holds in
    // the binfmt_misc mounted inside the root below.
    let interp = u.load_interp.as_deref();
    let fixed_before_root = interp.is_some_and(binfmt::is_fixed) && u.root.is_some();
    if let (true, Some(interp)) = (fixed_before_root, interp) {
        let dir = binfmt::before_chroot();
        binfmt::mount(sys, &dir)?;
        binfmt::register(sys, &dir, interp)?;
    }

    let mut wd = u.wd.clone();
    if let Some(root) = &u.root {
        sys.chroot(root).map_err(|errno| {
            error::system_path("cannot change root directory to '", root, "'", errno)
        })?;
        wd.get_or_insert_with(|| PathBuf::from("/"));
    }
    if let Some(wd) = &wd {
        sys.chdir(wd)
            .map_err(|errno| error::system_path("cannot change directory to ", wd, "", errno))?;
    }
    if let Some(dir) = &u.mount_proc {
        // A recursive private / already covers an existing /proc mount.
        if u.root.is_none() && u.propagation != Propagation::Private {
            mounts::make_private(sys, dir)?;
        }
        mounts::mount_proc(sys, dir)?;
    }
    if let Some(dir) = &u.mount_binfmt {
        binfmt::mount(sys, dir)?;
        if let (false, Some(interp)) = (fixed_before_root, interp) {
            binfmt::register(sys, dir, interp)?;
        }
    }

    if let Some(gid) = u.setgid {
        sys.setgroups(&[])
            .map_err(|errno| Error::system("setgroups failed", errno))?;
        sys.setgid(gid)
            .map_err(|errno| Error::system("setgid() failed", errno))?;
    }
    if let Some(uid) = u.setuid {
        sys.setuid(uid)
            .map_err(|errno| Error::system("setuid() failed", errno))?;
    }
    if u.keep_caps && u.wants(NsType::User) {
        caps::permitted_to_ambient()?;
    }
    Ok(())
}

/// Becomes the program (or the login shell); returns only its failure.
fn become_program(u: &Unshare) -> Result<ExitCode, Error> {
    if u.command.is_empty() {
        return Err(exec_shell());
    }
    let errno = ns_sys::exec::execvp(&u.command);
    Err(Error::Exec {
        program: u.command[0].clone(),
        errno,
    })
}

/// Binds `/proc/PID/ns/X` onto each file asked for, user namespace first.
fn bind_namespace_files(
    sys: &impl Sys,
    pid: i32,
    persist: &[Option<PathBuf>; 8],
) -> Result<(), Error> {
    for kind in BIND_ORDER {
        if let Some(target) = &persist[kind.index()] {
            let source = PathBuf::from(format!("/proc/{pid}/{}", kind.children_proc_path()));
            mounts::bind_namespace(sys, &source, target)?;
        }
    }
    Ok(())
}

/// util-linux's line, then the reason in plain words for EPERM.
fn unshare_failed(prog: &str, errno: Errno, wants_user: bool) -> Error {
    let first = format!("unshare failed: {}", ns_sys::strerror(errno as i32));
    match errno {
        Errno::EPERM => {
            let why = namespaces::explain_eperm(
                &namespaces::current_caller(wants_user),
                &namespaces::UsernsKnobs::read(),
            );
            Error::Failed(format!("{first}\n{prog}: {why}"))
        }
        Errno::EINVAL => Error::Failed(format!(
            "{first}\n{prog}: this kernel does not support one of the namespace types asked for"
        )),
        Errno::ENOSPC | Errno::EUSERS => Error::Failed(format!(
            "{first}\n{prog}: a namespace limit (/proc/sys/user/max_*_namespaces or nesting depth) is reached"
        )),
        _ => Error::Failed(first),
    }
}

/// `--boottime`, `--monotonic`: `CLOCK OFFSET 0` (seconds, nanoseconds)
/// written to timens_offsets, which the kernel takes only while no
/// process is in the time namespace, that is before the fork.
fn set_time_offsets(sys: &impl Sys, u: &Unshare) -> Result<(), Error> {
    let path = Path::new("/proc/self/timens_offsets");
    for (clock, offset) in [
        (libc::CLOCK_BOOTTIME, u.boottime),
        (libc::CLOCK_MONOTONIC, u.monotonic),
    ] {
        let Some(offset) = offset else { continue };
        let text = format!("{clock} {offset} 0");
        sys.write_proc(path, text.as_bytes())
            .map_err(|error| match error {
                WriteError::Open(errno) => error::system_path("failed to open ", path, "", errno),
                WriteError::Write(errno) => {
                    error::system_path("failed to write to ", path, "", errno)
                }
            })?;
    }
    Ok(())
}

/// No program: `$SHELL`, else the user's shell from the passwd file of
/// the root in effect, else /bin/sh; run as a login shell (`-NAME`).
pub(crate) fn exec_shell() -> Error {
    let shell: OsString = std::env::var_os("SHELL")
        .filter(|shell| !shell.is_empty())
        .or_else(|| {
            Accounts::load(Path::new("/"))
                .user_by_uid(nix::unistd::getuid().as_raw())
                .map(|user| OsString::from(&user.shell))
                .filter(|shell| !shell.is_empty())
        })
        .unwrap_or_else(|| "/bin/sh".into());
    let base = Path::new(&shell)
        .file_name()
        .map(|name| name.as_bytes().to_vec())
        .unwrap_or_default();
    let arg0 = CString::new([b"-".as_slice(), &base].concat());
    let program = CString::new(shell.as_bytes());
    let errno = match (program, arg0) {
        (Ok(program), Ok(arg0)) => nix::unistd::execv(&program, &[arg0]).unwrap_err(),
        _ => Errno::EINVAL,
    };
    Error::Exec {
        program: shell,
        errno,
    }
}

#[cfg(test)]
mod tests;
