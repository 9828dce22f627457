//! ns-chroot: run a command with a different root directory, a drop-in for
//! coreutils `chroot`.
//!
//! `main` is the whole program: [`cli::parse`] turns argv into
//! [`cli::Options`], [`run`] does the work. The account database
//! ([`accounts`]) and `execvp` ([`exec`]) are public because ns-unshare and
//! ns-lsns need the same: user names from the root in effect, and running a
//! program exactly as the reference tools run it.

pub mod accounts;
pub mod cli;
mod error;
pub mod exec;
pub mod quote;
pub mod userspec;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use nix::unistd::{Gid, Uid};

use accounts::Accounts;
use cli::{Action, Chroot, Options};
pub use error::{Error, EXIT_CANCELED};
use quote::quote_shell;

/// Parses argv, runs, and reports an error the way coreutils does.
pub fn main<I>(args: I) -> ExitCode
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(refusal) = ns_getopt::c_runtime::start_unprivileged_tool() {
        let prog = ns_getopt::invoked_name(args.first().map(OsString::as_os_str), "ns-chroot");
        return ns_getopt::finish(&prog, Err(Error::Failed(refusal)));
    }
    let (prog, result) = match cli::parse(args) {
        Ok(options) => (options.invoked_as.clone(), run(&options)),
        Err((prog, error)) => (prog, Err(error)),
    };
    ns_getopt::finish(&prog, result)
}

/// Does what the options say. On success it does not return: the process
/// becomes COMMAND.
pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    match &options.action {
        Action::Help => print_stdout(&cli::help(prog)),
        Action::Version => print_stdout(&cli::version(prog)),
        Action::Chroot(chroot) => change_root_and_exec(prog, chroot),
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

fn change_root_and_exec(prog: &str, options: &Chroot) -> Result<ExitCode, Error> {
    let newroot = &options.newroot;
    // coreutils compares the canonical path with "/": a NEWROOT that is
    // the current root is a no-op, and only then may the cwd stay.
    let is_old_root = std::fs::canonicalize(newroot).is_ok_and(|path| path == Path::new("/"));
    if options.skip_chdir && !is_old_root {
        return Err(Error::Usage(
            "option --skip-chdir only permitted if NEWROOT is old '/'".to_string(),
        ));
    }

    // Group names the new root does not know may still be known here;
    // coreutils resolves the list on both sides and falls back to this one.
    let host_groups = match &options.groups {
        Some(list) if !list.is_empty() && !is_old_root => {
            userspec::resolve_group_list(list, &Accounts::load(Path::new("/"))).ok()
        }
        _ => None,
    };

    nix::unistd::chroot(newroot).map_err(|errno| {
        Error::system(
            format_args!(
                "cannot change root directory to {}",
                quote_shell(newroot.as_os_str().as_bytes())
            ),
            errno,
        )
    })?;
    if !options.skip_chdir {
        nix::unistd::chdir("/")
            .map_err(|errno| Error::system("cannot chdir to root directory", errno))?;
    }

    let command = if options.command.is_empty() {
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
        vec![shell, "-i".into()]
    } else {
        options.command.clone()
    };

    if options.userspec.is_some() || options.groups.is_some() {
        // After chroot, "/etc/passwd" is the new root's.
        let accounts = Accounts::load(Path::new("/"));
        switch_identity(prog, options, &accounts, host_groups)?;
    }

    let errno = exec::execvp(&command);
    Err(Error::Exec {
        command: command[0].clone(),
        errno,
    })
}

/// Sets supplementary groups, group and user, in that order (once the uid
/// changes, the rest is no longer allowed), as coreutils does.
fn switch_identity(
    prog: &str,
    options: &Chroot,
    accounts: &Accounts,
    host_groups: Option<Vec<u32>>,
) -> Result<(), Error> {
    let mut ids = userspec::Ids::default();
    if let Some(spec) = &options.userspec {
        let resolved = userspec::resolve_userspec(spec, accounts).map_err(Error::Failed)?;
        if resolved.dot_warning {
            eprintln!("{prog}: warning: '.' should be ':'");
        }
        ids = resolved.ids;
    }

    // A user without a group gets its login group; a user with a name gets
    // its supplementary groups (unless --groups says otherwise).
    let mut username = None;
    if let Some(uid) = ids.uid {
        if options.groups.is_none() || ids.gid.is_none() {
            match accounts.user_by_uid(uid) {
                Some(user) => {
                    ids.gid.get_or_insert(user.gid);
                    username = Some(user.name.as_str());
                }
                None if ids.gid.is_none() => {
                    return Err(Error::Failed(format!(
                        "no group specified for unknown uid: {uid}"
                    )));
                }
                None => {}
            }
        }
    }

    let groups: Vec<u32> = match (&options.groups, ids.gid, username) {
        (Some(list), _, _) if !list.is_empty() => {
            match userspec::resolve_group_list(list, accounts) {
                Ok(gids) => gids,
                Err(errors) => match host_groups {
                    Some(gids) => gids,
                    None => {
                        for message in &errors[..errors.len() - 1] {
                            eprintln!("{prog}: {message}");
                        }
                        return Err(Error::Failed(errors[errors.len() - 1].clone()));
                    }
                },
            }
        }
        (None, Some(gid), Some(name)) => accounts.group_list(name, gid),
        _ => Vec::new(),
    };

    if ids.uid.is_some() || options.groups.is_some() {
        let gids: Vec<Gid> = groups.iter().copied().map(Gid::from_raw).collect();
        nix::unistd::setgroups(&gids)
            .map_err(|errno| Error::system("failed to set supplemental groups", errno))?;
    }
    if let Some(gid) = ids.gid {
        nix::unistd::setgid(Gid::from_raw(gid))
            .map_err(|errno| Error::system("failed to set group-ID", errno))?;
    }
    if let Some(uid) = ids.uid {
        nix::unistd::setuid(Uid::from_raw(uid))
            .map_err(|errno| Error::system("failed to set user-ID", errno))?;
    }
    Ok(())
}
