//! ns-nsenter: run a program in the namespaces of another process, a
//! drop-in for util-linux `nsenter` 2.42.
//!
//! It shares ns-unshare's crate (util-linux ships the two together) and
//! its pieces: the errors and their exit statuses, capabilities for
//! `--keep-caps`, the login shell, the order of the namespace types, and
//! ns-sys's [`Sys`] calls, child processes and `execvp`. The steps, in
//! util-linux's order:
//!
//! 1. the options, acted on in order ([`plan`]);
//! 2. `-a`'s namespaces; the target's pidfd (Linux 5.8+ takes it in
//!    setns(2)), else its `/proc/PID/ns/*` files; root, working
//!    directory, environment and ids of the target; the cgroup to join;
//!    `--user-parent`'s and `-N`'s namespaces ([`target`]);
//! 3. the namespaces entered ([`join`]), root and working directory
//!    changed ([`directories`]), the environment replaced ([`env`](mod@env)), the
//!    cgroup joined ([`cgroup`]);
//! 4. unless `-F`, a fork when a PID namespace was entered ([`fork`]);
//! 5. groups, gid and uid, capabilities, exec.

pub mod cgroup;
pub mod cli;
pub mod directories;
pub mod env;
pub mod fork;
pub mod join;
pub mod kernel;
pub mod plan;
pub mod target;

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::process::ExitCode;

use ns_getopt::Start;
use ns_sys::{NsType, Sys};

use crate::Error;
use cli::{End, IdChoice, Options};
use plan::Plan;

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, cli::parse, run)
}

/// Acts on the options in order, then does what the command line ends
/// with. On success it does not return: the process (or its child)
/// becomes the program.
pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    let mut plan = Plan::default();
    for item in &options.action.items {
        plan.apply(item)?;
    }
    let command = match &options.action.end {
        End::Fail(error) => return Err(error.clone()),
        End::Help => {
            return cli::TOOL.act(prog, &ns_getopt::Action::<()>::Help, |_| unreachable!())
        }
        End::Version => {
            return cli::TOOL.act(prog, &ns_getopt::Action::<()>::Version, |_| unreachable!())
        }
        End::Run(command) => command,
    };
    enter(&ns_sys::Linux, plan, command)
}

fn enter(sys: &impl Sys, mut plan: Plan, command: &[OsString]) -> Result<ExitCode, Error> {
    if plan.follow_context {
        target::follow_context(plan.target)?;
    }
    if plan.all {
        plan.add_all()?;
    }
    let opened = target::open_from_target(&mut plan)?;
    let kinds = plan.namespaces.enabled();
    if kinds.is_empty() {
        return Err(Error::Failed("no namespace specified".into()));
    }
    let fork = plan.fork.unwrap_or(kinds.contains(&NsType::Pid));
    let user = kinds.contains(&NsType::User);

    // A user namespace always gets uid and gid (0 unless -S, -G) and no
    // supplementary groups: dropped before entering it, while we may, and
    // again after (it is an error only when both fail).
    let credentials = user && !plan.preserve_credentials;
    let (mut uid, mut gid) = (plan.uid, plan.gid);
    let mut setgroups_failed = false;
    if credentials {
        uid.get_or_insert(IdChoice::Id(0));
        gid.get_or_insert(IdChoice::Id(0));
        setgroups_failed = sys.setgroups(&[]).is_err();
    }

    let left = join::enter(
        sys,
        opened.pidfd.as_ref().map(AsFd::as_fd),
        &mut plan.namespaces,
    )?;
    drop(opened.pidfd);

    directories::change(sys, &mut plan)?;
    if let Some(environ) = opened.environ {
        env::take_from(environ)?;
    }
    if let Some(mut procs) = opened.cgroup_procs {
        cgroup::join(&mut procs)?;
    }
    // The target's ids, as the user namespace now entered maps them.
    if let Some(ids) = opened.ids {
        let stat = kernel::stat(ids.as_fd()).ok();
        let follow = |choice: &mut Option<IdChoice>, id: fn(&libc::stat) -> u32| {
            if *choice == Some(IdChoice::Follow) {
                *choice = Some(IdChoice::Id(stat.as_ref().map_or(0, id)));
            }
        };
        follow(&mut uid, |st| st.st_uid);
        follow(&mut gid, |st| st.st_gid);
    }

    if fork {
        if let Some(code) = fork::continue_as_child()? {
            return Ok(code);
        }
    }
    if let Some(IdChoice::Id(gid)) = gid {
        if let Err(errno) = sys.setgroups(&[]) {
            if setgroups_failed {
                return Err(Error::system("setgroups failed", errno));
            }
        }
        sys.setgid(gid)
            .map_err(|errno| Error::system("setgid() failed", errno))?;
    }
    if let Some(IdChoice::Id(uid)) = uid {
        sys.setuid(uid)
            .map_err(|errno| Error::system("setuid() failed", errno))?;
    }
    if plan.keep_caps && left.contains(&NsType::User) {
        crate::caps::permitted_to_ambient()?;
    }
    if command.is_empty() {
        return Err(crate::exec_shell());
    }
    let errno = ns_sys::exec::execvp(command);
    Err(Error::Exec {
        program: command[0].clone(),
        errno,
    })
}
