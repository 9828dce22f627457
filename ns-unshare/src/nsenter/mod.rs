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
//!    `--user-parent`'s and `-N`'s namespaces;
//! 3. the namespaces entered ([`join`]), root and working directory
//!    changed, the environment replaced, the cgroup joined;
//! 4. unless `-F`, a fork when a PID namespace was entered (the parent
//!    waits and ends as the child ended);
//! 5. groups, gid and uid, capabilities, exec.

pub mod cgroup;
pub mod cli;
pub mod env;
pub mod join;
pub mod kernel;
pub mod plan;

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use ns_getopt::Start;
use ns_sys::child::{self, WhileWaiting};
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

/// What is read from the target before entering anything.
struct Opened {
    pidfd: Option<OwnedFd>,
    environ: Option<OwnedFd>,
    ids: Option<OwnedFd>,
    cgroup_procs: Option<std::fs::File>,
}

fn enter(sys: &impl Sys, mut plan: Plan, command: &[OsString]) -> Result<ExitCode, Error> {
    if plan.follow_context {
        follow_context(plan.target)?;
    }
    if plan.all {
        plan.add_all()?;
    }
    let opened = open_from_target(&mut plan)?;
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

    change_directories(sys, &mut plan)?;
    if let Some(environ) = opened.environ {
        replace_environment(environ)?;
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
        if let Some(code) = continue_as_child()? {
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

/// Step 2: the target's pidfd or namespace files, and everything else read
/// from it before anything is entered.
fn open_from_target(plan: &mut Plan) -> Result<Opened, Error> {
    let without_fd = plan.namespaces.without_fd();
    let socket = plan.socket.filter(|fd| *fd >= 0);
    let mut pidfd = None;
    if !without_fd.is_empty() || socket.is_some() || plan.user_parent {
        let Some(target) = plan.target else {
            return Err(Error::Failed("no target PID specified".into()));
        };
        // setns(2) takes a pidfd since Linux 5.8.
        if kernel::kernel_version().is_some_and(|version| version > (5, 7, 0)) {
            pidfd = kernel::pidfd_open(target).ok();
        }
        if pidfd.is_none() {
            for kind in &without_fd {
                let fd = plan.open_of_target(&kind.proc_path().to_string_lossy())?;
                plan.namespaces.enable(*kind, Some(fd));
            }
        }
    }
    if plan.root_of_target {
        plan.root = Some(plan.open_of_target("root")?);
    }
    if plan.wd_of_target {
        plan.wd = Some(plan.open_of_target("cwd")?);
    }
    let environ = plan
        .env
        .then(|| plan.open_of_target("environ"))
        .transpose()?;
    let follows = [plan.uid, plan.gid].contains(&Some(IdChoice::Follow));
    let ids = follows.then(|| plan.open_of_target("")).transpose()?;
    let cgroup_procs = if plan.join_cgroup {
        if !cgroup::is_cgroup2()? {
            return Err(Error::Failed(
                "--join-cgroup is only supported in cgroup v2".into(),
            ));
        }
        let fd = plan.open_of_target("cgroup")?;
        let text = read_all(fd).unwrap_or_default();
        let path = cgroup::path_of(&text)
            .ok_or_else(|| Error::system("failed to get cgroup path", Errno::last()))?;
        Some(cgroup::open_procs(path)?)
    } else {
        None
    };
    if plan.user_parent {
        parent_user_namespace(plan, pidfd.as_ref())?;
    }
    if let Some(socket) = socket {
        socket_namespace(plan, pidfd.as_ref(), socket as i32)?;
    }
    Ok(Opened {
        pidfd,
        environ,
        ids,
        cgroup_procs,
    })
}

/// `--user-parent`: the user namespace above the one asked for (or the
/// target's, or the one owning the first namespace asked for) replaces
/// it.
fn parent_user_namespace(plan: &mut Plan, pidfd: Option<&OwnedFd>) -> Result<(), Error> {
    let user = plan.namespaces.slot(NsType::User);
    let mut local = None;
    let mut from = if user.enabled {
        user.fd.as_ref().map(AsFd::as_fd)
    } else {
        None
    };
    if from.is_none() {
        if let Some(pidfd) = pidfd {
            local = kernel::pidfd_user_namespace(pidfd.as_fd()).ok();
        }
    }
    if from.is_none() && local.is_none() {
        from = plan
            .namespaces
            .first_enabled()
            .and_then(|slot| slot.fd.as_ref())
            .map(AsFd::as_fd);
    }
    if from.is_none() && local.is_none() {
        local = Some(plan.open_of_target("ns/user")?);
    }
    let fd = from.or(local.as_ref().map(AsFd::as_fd));
    let parent = match fd {
        Some(fd) => kernel::owning_user_namespace(fd),
        None => Err(Errno::EBADF),
    }
    .map_err(|errno| Error::system("failed to open parent namespace", errno))?;
    drop(local);
    plan.namespaces.enable(NsType::User, Some(parent));
    Ok(())
}

/// `-N FD`: the network namespace of the target's socket FD.
fn socket_namespace(plan: &mut Plan, pidfd: Option<&OwnedFd>, socket: i32) -> Result<(), Error> {
    let target = plan.target.unwrap_or(0);
    let local;
    let pidfd = match pidfd {
        Some(pidfd) => pidfd,
        None => {
            local = kernel::pidfd_open(target).map_err(|errno| {
                Error::system(format_args!("failed to pidfd_open() for {target}"), errno)
            })?;
            &local
        }
    };
    use std::os::fd::AsRawFd;
    let copy = kernel::pidfd_getfd(pidfd.as_fd(), socket).map_err(|errno| {
        Error::system(
            format_args!("pidfd_getfd({}, {socket})", pidfd.as_raw_fd()),
            errno,
        )
    })?;
    let raw = copy.as_raw_fd();
    kernel::stat(copy.as_fd())
        .map_err(|errno| Error::system(format_args!("fstat({raw})"), errno))?;
    let netns = kernel::socket_namespace(copy.as_fd())
        .map_err(|errno| Error::system(format_args!("ioctl({raw}, SIOCGSKNS)"), errno))?;
    plan.namespaces.enable(NsType::Net, Some(netns));
    Ok(())
}

/// Step 3: the root (the working directory kept, unless one is given),
/// then the working directory: `-w`'s opened before entering, `-W`'s
/// inside.
fn change_directories(sys: &impl Sys, plan: &mut Plan) -> Result<(), Error> {
    let cwd_failed = |errno| Error::system("cannot open current working directory", errno);
    if plan.root.is_some() && plan.wd.is_none() && plan.wdns.is_none() {
        let cwd = std::fs::File::open(".").map_err(|e| cwd_failed(ns_sys::errno_of(&e)))?;
        plan.wd = Some(cwd.into());
    }
    if let Some(root) = plan.root.take() {
        nix::unistd::fchdir(root.as_fd()).map_err(|errno| {
            Error::system("change directory by root file descriptor failed", errno)
        })?;
        sys.chroot(".".as_ref())
            .map_err(|errno| Error::system("chroot failed", errno))?;
        sys.chdir("/".as_ref())
            .map_err(|errno| Error::system("cannot change directory to /", errno))?;
    }
    if let Some(dir) = &plan.wdns {
        let fd = std::fs::File::open(dir).map_err(|e| cwd_failed(ns_sys::errno_of(&e)))?;
        plan.wd = Some(fd.into());
    }
    if let Some(wd) = plan.wd.take() {
        nix::unistd::fchdir(wd.as_fd()).map_err(|errno| {
            Error::system(
                "change directory by working directory file descriptor failed",
                errno,
            )
        })?;
    }
    Ok(())
}

fn read_all(fd: OwnedFd) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `-e`: the target's environment, read from the file opened before.
fn replace_environment(environ: OwnedFd) -> Result<(), Error> {
    let bytes = read_all(environ)
        .map_err(|e| Error::system("failed to get environment variables", ns_sys::errno_of(&e)))?;
    env::replace(&env::variables(&bytes))
        .map_err(|errno| Error::system("failed to set environment variables", errno))
}

/// `-Z`: the program runs in the target's SELinux context. Without
/// SELinux (no selinuxfs) there is nothing to follow, as util-linux
/// finds too.
fn follow_context(target: Option<i32>) -> Result<(), Error> {
    const SELINUX_MAGIC: libc::c_long = 0xf97c_ff8c;
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a C string literal and a struct we own.
    let mounted = unsafe { libc::statfs(c"/sys/fs/selinux".as_ptr(), &mut fs) } == 0
        && fs.f_type as libc::c_long == SELINUX_MAGIC;
    if !mounted {
        return Ok(());
    }
    let Some(pid) = target else {
        return Err(Error::Failed(
            "no target PID specified for --follow-context".into(),
        ));
    };
    let context = std::fs::read(format!("/proc/{pid}/attr/current"))
        .map_err(|_| Error::Failed(format!("failed to get {pid} SELinux context")))?;
    let context: Vec<u8> = context
        .split(|b| *b == 0 || *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    std::fs::write("/proc/thread-self/attr/exec", &context).map_err(|_| {
        Error::Failed(format!(
            "failed to set exec context to '{}'",
            String::from_utf8_lossy(&context)
        ))
    })
}

/// Step 4: forks; in the parent waits for the child, stopping when it
/// stops, and ends as it ended (`Some(status)`, or death by its signal);
/// `None` in the child.
fn continue_as_child() -> Result<Option<ExitCode>, Error> {
    // SAFETY: restoring the default action installs no handler.
    let _ = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let Some(child) =
        child::fork_child(WhileWaiting::Block(&[]), None).map_err(crate::helpers::child_error)?
    else {
        return Ok(None);
    };
    loop {
        match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::Stopped(..)) => {
                // A stopped child (Ctrl-Z) stops us too, for the shell to
                // see; continued, we continue it.
                let _ = signal::kill(nix::unistd::getpid(), Signal::SIGSTOP);
                let _ = signal::kill(child, Signal::SIGCONT);
            }
            Ok(WaitStatus::Exited(_, code)) => return Ok(Some(ExitCode::from(code as u8))),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                child::die_of(sig);
                return Err(Error::Exit(1));
            }
            _ => return Err(Error::Exit(1)),
        }
    }
}
