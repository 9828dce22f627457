//! The "change root" family: ns-chroot, a drop-in for coreutils `chroot`
//! (this module), and two drop-ins for util-linux: [`switch_root`] (an
//! initramfs hands over to the real root) and [`pivot_root`]. The two
//! share their errors and their `-h`/`-V` options ([`util_linux`]).
//!
//! In the layering (see ns-sys) it stands on ns-getopt (the command line)
//! and ns-sys (accounts, `execvp`, the system calls). The stages, in
//! order: [`cli::parse`] turns argv into [`cli::Options`]; [`run`] changes
//! the root and directory, resolves `--userspec` and `--groups` in the new
//! root's account files ([`userspec`]), switches identity (groups, group,
//! user) and becomes COMMAND.

pub mod cli;
mod error;
pub mod pivot_root;
pub mod quote;
pub mod switch_root;
pub mod userspec;
pub mod util_linux;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use ns_getopt::Start;
use ns_sys::accounts::Accounts;
use ns_sys::Sys;

use cli::{Chroot, Options};
pub use error::{Error, EXIT_CANCELED};
use quote::quote_shell;

/// Parses argv, runs, and reports an error the way coreutils does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, cli::parse, run)
}

/// Does what the options say. On success it does not return: the process
/// becomes COMMAND.
pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    cli::TOOL.act(prog, &options.action, |chroot| {
        change_root_and_exec(&ns_sys::Linux, prog, chroot)
    })
}

fn change_root_and_exec(sys: &impl Sys, prog: &str, options: &Chroot) -> Result<ExitCode, Error> {
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

    sys.chroot(newroot).map_err(|errno| {
        Error::system(
            format_args!(
                "cannot change root directory to {}",
                quote_shell(newroot.as_os_str().as_bytes())
            ),
            errno,
        )
    })?;
    if !options.skip_chdir {
        sys.chdir(Path::new("/"))
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
        let identity = resolve_identity(prog, options, &accounts, host_groups)?;
        switch_identity(sys, &identity)?;
    }

    let errno = ns_sys::exec::execvp(&command);
    Err(Error::Exec {
        command: command[0].clone(),
        errno,
    })
}

/// Who COMMAND runs as: what to set, each part only if asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Identity {
    groups: Option<Vec<u32>>,
    gid: Option<u32>,
    uid: Option<u32>,
}

/// Resolves `--userspec` and `--groups` as coreutils does: a user without
/// a group gets its login group; a user with a name gets its
/// supplementary groups (unless `--groups` says otherwise).
fn resolve_identity(
    prog: &str,
    options: &Chroot,
    accounts: &Accounts,
    host_groups: Option<Vec<u32>>,
) -> Result<Identity, Error> {
    let mut ids = userspec::Ids::default();
    if let Some(spec) = &options.userspec {
        let resolved = userspec::resolve_userspec(spec, accounts)
            .map_err(|error| Error::Failed(error.to_string()))?;
        if resolved.dot_warning {
            eprintln!("{prog}: warning: '.' should be ':'");
        }
        ids = resolved.ids;
    }

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
                        let (last, others) = errors.split_last().expect("at least one error");
                        for error in others {
                            eprintln!("{prog}: {error}");
                        }
                        return Err(Error::Failed(last.to_string()));
                    }
                },
            }
        }
        (None, Some(gid), Some(name)) => accounts.group_list(name, gid),
        _ => Vec::new(),
    };
    let set_groups = ids.uid.is_some() || options.groups.is_some();
    Ok(Identity {
        groups: set_groups.then_some(groups),
        gid: ids.gid,
        uid: ids.uid,
    })
}

/// Sets supplementary groups, group and user, in that order (once the uid
/// changes, the rest is no longer allowed), as coreutils does.
fn switch_identity(sys: &impl Sys, identity: &Identity) -> Result<(), Error> {
    if let Some(groups) = &identity.groups {
        sys.setgroups(groups)
            .map_err(|errno| Error::system("failed to set supplemental groups", errno))?;
    }
    if let Some(gid) = identity.gid {
        sys.setgid(gid)
            .map_err(|errno| Error::system("failed to set group-ID", errno))?;
    }
    if let Some(uid) = identity.uid {
        sys.setuid(uid)
            .map_err(|errno| Error::system("failed to set user-ID", errno))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::accounts::{parse_group, parse_passwd};
    use ns_sys::recording::{Call, Recorder};
    use ns_sys::Errno;

    fn accounts() -> Accounts {
        Accounts {
            users: parse_passwd("alice:x:1000:1000::/home/alice:/bin/sh\n"),
            groups: parse_group("users:x:100:alice\nwheel:x:10:\n"),
        }
    }

    fn identity(userspec: Option<&str>, groups: Option<&str>) -> Result<Identity, Error> {
        let chroot = Chroot {
            userspec: userspec.map(str::to_string),
            groups: groups.map(str::to_string),
            ..Chroot::default()
        };
        resolve_identity("chroot", &chroot, &accounts(), None)
    }

    #[test]
    fn groups_then_group_then_user() {
        let sys = Recorder::new();
        switch_identity(&sys, &identity(Some("alice"), None).unwrap()).unwrap();
        assert_eq!(
            sys.calls(),
            [
                Call::Setgroups(vec![1000, 100]),
                Call::Setgid(1000),
                Call::Setuid(1000)
            ]
        );
    }

    #[test]
    fn only_what_was_asked_is_set() {
        let sys = Recorder::new();
        switch_identity(&sys, &identity(Some(":wheel"), None).unwrap()).unwrap();
        assert_eq!(sys.calls(), [Call::Setgid(10)]);
        let sys = Recorder::new();
        switch_identity(&sys, &identity(None, Some("wheel,7")).unwrap()).unwrap();
        assert_eq!(sys.calls(), [Call::Setgroups(vec![10, 7])]);
        assert_eq!(
            identity(Some("4321"), None).unwrap_err().to_string(),
            "no group specified for unknown uid: 4321"
        );
    }

    #[test]
    fn a_failed_call_stops_before_the_user_changes() {
        let sys = Recorder::new().failing(|call| matches!(call, Call::Setgid(_)), Errno::EPERM);
        let error = switch_identity(&sys, &identity(Some("alice:users"), None).unwrap());
        assert_eq!(
            error.unwrap_err().to_string(),
            "failed to set group-ID: Operation not permitted"
        );
        assert!(!sys.calls().contains(&Call::Setuid(1000)));
    }

    #[test]
    fn chroot_then_chdir_before_the_identity() {
        let sys = Recorder::new().failing(|call| matches!(call, Call::Chdir(_)), Errno::EACCES);
        let chroot = Chroot {
            newroot: "/nonexistent-root".into(),
            ..Chroot::default()
        };
        let error = change_root_and_exec(&sys, "chroot", &chroot).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot chdir to root directory: Permission denied"
        );
        assert_eq!(
            sys.calls(),
            [
                Call::Chroot("/nonexistent-root".into()),
                Call::Chdir("/".into())
            ]
        );
    }
}
