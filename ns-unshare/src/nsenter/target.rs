//! Step 2: what is taken from the target before anything is entered,
//! while we still see its /proc and have our own rights: its pidfd (or,
//! without one, its namespace files), its root and working directory, its
//! environment and ids, the cgroup to join, the namespaces `--user-parent`
//! and `-N` name, and with `-Z` its SELinux context.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use ns_sys::NsType;

use super::cli::IdChoice;
use super::plan::Plan;
use super::{cgroup, kernel};
use crate::Error;

/// What is read from the target before entering anything.
pub struct Opened {
    pub pidfd: Option<OwnedFd>,
    pub environ: Option<OwnedFd>,
    pub ids: Option<OwnedFd>,
    pub cgroup_procs: Option<std::fs::File>,
}

/// The target's pidfd or namespace files, and everything else read from
/// it before anything is entered.
pub fn open_from_target(plan: &mut Plan) -> Result<Opened, Error> {
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
        socket_namespace(plan, pidfd.as_ref(), socket)?;
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

/// `-Z`: the program runs in the target's SELinux context. Without
/// SELinux (no selinuxfs) there is nothing to follow, as util-linux
/// finds too.
pub fn follow_context(target: Option<i32>) -> Result<(), Error> {
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

pub fn read_all(fd: OwnedFd) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where selinuxfs is not mounted, -Z is accepted and does nothing:
    /// no target needed, nothing read or written.
    #[test]
    fn follow_context_without_selinux_changes_nothing() {
        if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            return;
        }
        assert!(follow_context(None).is_ok());
        assert!(follow_context(Some(i32::MAX)).is_ok());
    }
}
