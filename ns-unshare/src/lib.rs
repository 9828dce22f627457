//! ns-unshare: run a program in new namespaces, a drop-in for util-linux
//! `unshare` (2.38.1, plus the options of 2.39–2.42 that matter for
//! building containers).
//!
//! `main` parses ([`cli::parse`]) and [`run`]s. The order of the steps in
//! [`run`] is the contract with the kernel and mirrors util-linux:
//!
//! 1. helpers are forked *before* `unshare(2)` for whatever must be done
//!    from the original namespaces: binding persistent namespace files
//!    once a new mount or user namespace is in place, and writing ID maps
//!    of several ranges (as root directly, else with newuidmap/newgidmap);
//! 2. `unshare(2)`, then time offsets (before any process enters the new
//!    time namespace);
//! 3. with `--fork`, the fork (so `pid_for_children` has a process), and
//!    the bind helper released; the parent waits and mirrors the child's
//!    end;
//! 4. in the process that becomes the program: single-ID maps
//!    (`setgroups` denied before `gid_map`), propagation, root and
//!    working directory, `/proc`, uid/gid, capabilities, exec.

pub mod caps;
pub mod cli;
pub mod error;
pub mod fork;
pub mod idmap;
pub mod mounts;
pub mod namespaces;
pub mod signame;

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::unistd::{Gid, Uid};

use cli::{Action, BlockArg, IdArg, Options, Propagation, Unshare};
pub use error::Error;
use idmap::{Block, Kind};
use namespaces::NAMESPACES;
use ns_chroot::accounts::Accounts;

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main<I>(args: I) -> ExitCode
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(refusal) = ns_getopt::c_runtime::start_unprivileged_tool() {
        let prog = ns_getopt::invoked_name(args.first().map(OsString::as_os_str), "ns-unshare");
        return ns_getopt::finish(&prog, Err(Error::Failed(refusal)));
    }
    let (prog, result) = match cli::parse(args) {
        Ok(options) => (options.invoked_as.clone(), run(&options)),
        Err((prog, error)) => (prog, Err(error)),
    };
    ns_getopt::finish(&prog, result)
}

/// Does what the options say. Without `--fork` it does not return on
/// success: the process becomes the program.
pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    match &options.action {
        Action::Help => print_stdout(&cli::help(prog)),
        Action::Version => print_stdout(&cli::version(prog)),
        Action::Unshare(unshare) => run_unshare(prog, unshare),
    }
}

/// `--help`, `--version`: a stdout that cannot be written is a failure.
fn print_stdout(text: &str) -> Result<ExitCode, Error> {
    ns_getopt::print_stdout(text)
        .map(|()| ExitCode::SUCCESS)
        .map_err(|error| {
            let text = ns_getopt::c_runtime::io_error_text(&error);
            Error::Failed(format!("write error: {text}"))
        })
}

/// The caller's identity, taken once at start as util-linux does.
struct Me {
    euid: u32,
    egid: u32,
}

fn run_unshare(prog: &str, u: &Unshare) -> Result<ExitCode, Error> {
    // SIGCHLD may come ignored from our own parent; then the kernel would
    // reap our children itself and waitpid could not see them. (SIGPIPE
    // was restored at start.)
    // SAFETY: restoring the default action installs no handler.
    let _ = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let me = Me {
        euid: nix::unistd::geteuid().as_raw(),
        egid: nix::unistd::getegid().as_raw(),
    };
    let loaded = std::cell::OnceCell::new();
    let accounts = || loaded.get_or_init(|| Accounts::load(Path::new("/")));

    let map_user = resolve_id(u.map_user.as_ref(), me.euid, "uid", |name| {
        accounts().user_by_name(name).map(|user| user.uid)
    })?;
    let map_group = resolve_id(u.map_group.as_ref(), me.egid, "gid", |name| {
        accounts().group_by_name(name).map(|group| group.gid)
    })?;
    let user_blocks = resolve_blocks(&u.map_users, Kind::Users, &me, &accounts)?;
    let group_blocks = resolve_blocks(&u.map_groups, Kind::Groups, &me, &accounts)?;

    let flags = u
        .namespaces
        .iter()
        .fold(CloneFlags::empty(), |flags, index| {
            flags | NAMESPACES[*index].flag
        });
    let persist = u.persist.clone();
    let persisting = persist.iter().any(Option::is_some);

    // A new mount or user namespace takes away the right to mount on the
    // host's files: a helper left outside binds the namespace files.
    let ppid = nix::unistd::getpid().as_raw();
    let bind_helper = if persisting && (u.wants("mount") || u.wants("user")) {
        let persist = persist.clone();
        Some(fork::spawn_helper(prog, move || {
            bind_namespace_files(ppid, &persist)
        })?)
    } else {
        None
    };

    // Blocks of IDs are written from outside (the kernel lets only a
    // process with privilege over the parent namespace map more than
    // its own ID); the single --map-user then joins them.
    let (user_ranges, single_user) = if user_blocks.is_empty() {
        (None, map_user)
    } else {
        let single = map_user.map(|inner| (me.euid, inner));
        let ranges = idmap::combine(&user_blocks, single).map_err(Error::Failed)?;
        (Some(ranges), None)
    };
    let (group_ranges, single_group) = if group_blocks.is_empty() {
        (None, map_group)
    } else {
        let single = map_group.map(|inner| (me.egid, inner));
        let ranges = idmap::combine(&group_blocks, single).map_err(Error::Failed)?;
        (Some(ranges), None)
    };
    let map_helper = if user_ranges.is_some() || group_ranges.is_some() {
        let helper_prog = prog.to_string();
        Some(fork::spawn_helper(prog, move || {
            if let Some(ranges) = &user_ranges {
                idmap::write_ranges(&helper_prog, Kind::Users, ppid, ranges)?;
            }
            if let Some(ranges) = &group_ranges {
                idmap::write_ranges(&helper_prog, Kind::Groups, ppid, ranges)?;
            }
            Ok(())
        })?)
    } else {
        None
    };

    nix::sched::unshare(flags).map_err(|errno| unshare_failed(prog, errno, u.wants("user")))?;

    if let Some(helper) = map_helper {
        helper.finish()?;
    }
    // Offsets can be set only while no process is in the time namespace,
    // that is before the fork.
    if let Some(offset) = u.boottime {
        set_time_offset(libc::CLOCK_BOOTTIME, offset)?;
    }
    if let Some(offset) = u.monotonic {
        set_time_offset(libc::CLOCK_MONOTONIC, offset)?;
    }

    let child = if u.fork {
        fork::fork_program(u.forward_signals, u.kill_child)?
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
            Some(helper) => helper.finish(),
            None => bind_namespace_files(nix::unistd::getpid().as_raw(), &persist),
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
        return fork::wait_program(child);
    }

    become_program(u, &me, single_user, single_group)
}

/// The part that runs in the process that becomes the program.
fn become_program(
    u: &Unshare,
    me: &Me,
    single_user: Option<u32>,
    single_group: Option<u32>,
) -> Result<ExitCode, Error> {
    if let Some(uid) = single_user {
        idmap::write_single(Kind::Users, uid, me.euid)?;
    }
    if let Some(gid) = single_group {
        if u.setgroups == Some(true) {
            return Err(Error::Failed(
                "options --setgroups=allow and --map-group are mutually exclusive".to_string(),
            ));
        }
        // Since Linux 3.19 an unprivileged gid_map needs setgroups denied
        // first.
        idmap::set_setgroups(false)?;
        idmap::write_single(Kind::Groups, gid, me.egid)?;
    }
    if let Some(allow) = u.setgroups {
        idmap::set_setgroups(allow)?;
    }
    if u.wants("mount") {
        mounts::set_root_propagation(u.propagation)?;
    }

    let mut wd = u.wd.clone();
    if let Some(root) = &u.root {
        nix::unistd::chroot(root).map_err(|errno| {
            error::system_path("cannot change root directory to '", root, "'", errno)
        })?;
        wd.get_or_insert_with(|| PathBuf::from("/"));
    }
    if let Some(wd) = &wd {
        nix::unistd::chdir(wd)
            .map_err(|errno| error::system_path("cannot chdir to '", wd, "'", errno))?;
    }
    if let Some(dir) = &u.mount_proc {
        // A recursive private / already covers an existing /proc mount.
        if u.root.is_none() && u.propagation != Propagation::Private {
            mounts::make_private(dir)?;
        }
        mounts::mount_proc(dir)?;
    }

    if let Some(gid) = u.setgid {
        nix::unistd::setgroups(&[]).map_err(|errno| Error::system("setgroups failed", errno))?;
        nix::unistd::setgid(Gid::from_raw(gid))
            .map_err(|errno| Error::system("setgid failed", errno))?;
    }
    if let Some(uid) = u.setuid {
        nix::unistd::setuid(Uid::from_raw(uid))
            .map_err(|errno| Error::system("setuid failed", errno))?;
    }
    if u.keep_caps && u.wants("user") {
        caps::permitted_to_ambient()?;
    }

    if u.command.is_empty() {
        return Err(exec_shell());
    }
    let errno = ns_chroot::exec::execvp(&u.command);
    Err(Error::Exec {
        program: u.command[0].clone(),
        errno,
    })
}

/// `--map-user`/`--map-group`: a name first, else a number. A number
/// beyond 32 bits, or 4294967295 (`(uid_t) -1`, no ID), is refused as
/// util-linux 2.42 refuses it (2.38 cut the first to 32 bits, mapping
/// 4294967296 to root, and read the second as "no mapping").
fn resolve_id(
    arg: Option<&IdArg>,
    current: u32,
    what: &str,
    by_name: impl FnOnce(&str) -> Option<u32>,
) -> Result<Option<u32>, Error> {
    let id = match arg {
        None => return Ok(None),
        Some(IdArg::Number(id)) => *id,
        Some(IdArg::Current) => current,
        Some(IdArg::Given(text)) => match by_name(text) {
            Some(id) => id,
            None => idmap::parse_ulong(text)
                .and_then(|value| u32::try_from(value).ok())
                .filter(|&id| id != idmap::NO_ID)
                .ok_or_else(|| Error::Failed(format!("failed to parse {what}: '{text}'")))?,
        },
    };
    if id == idmap::NO_ID {
        return Err(Error::Failed(format!(
            "cannot map {what} {id}: it is (uid_t) -1, which is no ID"
        )));
    }
    Ok(Some(id))
}

fn resolve_blocks<'a>(
    args: &[BlockArg],
    kind: Kind,
    me: &Me,
    accounts: &dyn Fn() -> &'a Accounts,
) -> Result<Vec<Block>, Error> {
    args.iter()
        .map(|arg| match arg {
            BlockArg::Block(block) => Ok(*block),
            BlockArg::Auto => {
                // Both files are searched by the user's name (or uid).
                let name = accounts()
                    .user_by_uid(me.euid)
                    .map(|user| user.name.clone())
                    .ok_or_else(|| Error::Failed(format!("you (user {}) don't exist.", me.euid)))?;
                idmap::auto_block(kind, &name, me.euid)
            }
        })
        .collect()
}

/// Binds `/proc/PID/ns/X` onto each file asked for, user namespace first.
fn bind_namespace_files(pid: i32, persist: &[Option<PathBuf>]) -> Result<(), Error> {
    for (ns, target) in NAMESPACES.iter().zip(persist) {
        if let Some(target) = target {
            let source = PathBuf::from(format!("/proc/{pid}/{}", ns.proc_file));
            mounts::bind_namespace(&source, target)?;
        }
    }
    Ok(())
}

/// util-linux's line, then the reason in plain words for EPERM.
fn unshare_failed(prog: &str, errno: Errno, wants_user: bool) -> Error {
    let first = format!(
        "unshare failed: {}",
        ns_getopt::c_runtime::strerror(errno as i32)
    );
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

/// Writes `CLOCK OFFSET 0` (seconds, nanoseconds) to timens_offsets.
fn set_time_offset(clock: libc::clockid_t, offset: i64) -> Result<(), Error> {
    let path = "/proc/self/timens_offsets";
    let errno = |error: std::io::Error| Errno::from_raw(error.raw_os_error().unwrap_or(0));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::system(format_args!("failed to open {path}"), errno(e)))?;
    file.write_all(format!("{clock} {offset} 0").as_bytes())
        .map_err(|e| Error::system(format_args!("failed to write to {path}"), errno(e)))
}

/// No program: `$SHELL`, else the user's shell from the passwd file of
/// the root in effect, else /bin/sh; run as a login shell (`-NAME`).
fn exec_shell() -> Error {
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
