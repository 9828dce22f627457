//! Where the configure step runs: a child process with a private mount
//! namespace and its own PID namespace, proc, sysfs and a devpts instance
//! mounted inside TARGET,
//! and TARGET as its root. The small API is [`Sandbox::spawn`]: a list of
//! commands run one after the other in that child, and [`Running::wait`]:
//! what happened, as the child reports it over a pipe (which command
//! failed and how, or which step of the set-up), never guessed from an
//! exit status.
//!
//! Nothing can stay mounted: the mounts exist only in the child's
//! namespace, which the kernel tears down when the child exits — after
//! success, after a failure, and after Ctrl-C (the child is in our process
//! group and gets the same SIGINT; it also asks for SIGKILL should we die
//! first). Propagation is made private before mounting, so no mount event
//! reaches the host's shared mounts.
//!
//! Every command runs with its flushes (`fsync` and kin) made no-ops by a
//! seccomp filter: see the `nosync` module.
//!
//! The mounts and the propagation change are ns-sys's (`mount::mount`,
//! `mount::set_propagation`: the calls util-linux's mount makes); the
//! namespace itself is one `unshare(CLONE_NEWNS)` through nix; the
//! `execvp` is ns-sys's (the POSIX one).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::rooted::Root;

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use ns_sys::mount::{self, MsFlags, Propagation};
use ns_sys::Linux;

/// Files a command needs in place while it runs (and only then), as dpkg
/// puts a package's control area in `var/lib/dpkg/tmp.ci` for its
/// preinst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The directory, relative to TARGET; made before, removed after.
    pub dir: &'static str,
    /// (name, mode, content) of each file in it.
    pub files: Vec<(String, u32, Vec<u8>)>,
}

/// One command to run inside TARGET.
#[derive(Debug, Clone)]
pub struct Command {
    /// What it is, for the error message ("dpkg --configure", "preinst of X").
    pub label: String,
    pub argv: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub stage: Option<Stage>,
}

pub struct Sandbox<'r> {
    root: &'r Root,
    /// Device nodes to bind from the host onto placeholder files (a user
    /// namespace cannot mknod): paths relative to the root, e.g. `dev/null`.
    bind_devices: Vec<String>,
}

/// Where the commands' output goes: a log file, and optionally an extra
/// descriptor kept open for them (dpkg's `--status-fd`).
pub struct Io<'a> {
    pub log: &'a std::fs::File,
    pub keep_fd: Option<RawFd>,
}

impl<'r> Sandbox<'r> {
    pub fn new(root: &'r Root) -> Self {
        Sandbox {
            root,
            bind_devices: Vec::new(),
        }
    }

    /// Binds the host's `/dev/NAME` onto each `dev/NAME` placeholder.
    pub fn bind_devices(mut self, paths: Vec<String>) -> Self {
        self.bind_devices = paths;
        self
    }

    /// Starts running `commands` in order; the child stops at the first
    /// failure, which [`Running::wait`] names. Must be called while this
    /// process has one thread (it forks); threads may start afterwards.
    pub fn spawn<'c>(&self, commands: &'c [Command], io: Io) -> Result<Running<'c>, Error> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(Error::Pipe)?;
        // SAFETY: the caller runs no other thread now (the download and
        // extraction threads are joined), so the child may allocate.
        match unsafe { fork() }.map_err(Error::Fork)? {
            ForkResult::Child => {
                drop(read);
                let code = match self.child(commands, &io, &write) {
                    Ok(()) => 0,
                    Err(report) => {
                        report.send(&write, &io);
                        1
                    }
                };
                // SAFETY: leaving the forked child without running the
                // parent's exit handlers or flushing its buffers twice.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Running {
                child,
                commands,
                reports: read,
            }),
        }
    }

    fn child(&self, commands: &[Command], io: &Io, reports: &OwnedFd) -> Result<(), Report> {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // A PID namespace too: when its first process (forked below) dies,
        // the kernel kills every process left in it, so no maintainer
        // script outlives an interrupted bootstrap.
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID)
            .map_err(|e| Report::setup("unshare(CLONE_NEWNS|CLONE_NEWPID)", e))?;
        // SAFETY: single-threaded (the sandbox child).
        match unsafe { fork() }.map_err(|e| Report::setup("fork", e))? {
            ForkResult::Child => {
                let code = match self.init(commands, io) {
                    Ok(()) => 0,
                    Err(report) => {
                        report.send(reports, io);
                        1
                    }
                };
                // SAFETY: see Sandbox::spawn.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                // The init sent its report already; pass the failure on.
                // SAFETY: see Sandbox::spawn.
                Ok(WaitStatus::Exited(_, code)) => unsafe { libc::_exit(code) },
                Ok(other) => Err(Report::setup("the namespace's init", format!("{other:?}"))),
                Err(e) => Err(Report::setup("waitpid", e)),
            },
        }
    }

    /// PID 1 of the new PID namespace: mounts, then the commands, each
    /// chrooted into TARGET.
    fn init(&self, commands: &[Command], io: &Io) -> Result<(), Report> {
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        mount::set_propagation(&Linux, Path::new("/"), Propagation::Private, true)
            .map_err(|e| Report::setup("make / private", e))?;
        // TARGET opened again, in this mount namespace: a descriptor from
        // before unshare(2) names the old namespace's mounts, which cannot
        // be mounted on (EINVAL) and would hide these mounts from the
        // chrooted commands.
        let root = Root::open(self.root.path())
            .map_err(|e| Report::setup(format!("open {}", self.root.path().display()), e))?;
        let root = &root;
        let nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        for (fstype, dir, flags, data) in [
            ("proc", "proc", nodev, None),
            ("sysfs", "sys", nodev | MsFlags::MS_RDONLY, None),
            (
                "devpts",
                "dev/pts",
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
            ),
        ] {
            // Mounted on the in-root directory through its descriptor:
            // a planted `proc -> /` cannot send a mount elsewhere.
            let dir_fd = root
                .create_dir_all(dir)
                .map_err(|e| Report::setup(format!("create {}", root.show(dir)), e))?;
            let target = fd_path(dir_fd.as_fd().as_raw_fd());
            let source = Some(OsStr::new(fstype));
            let mounted = mount::mount(&Linux, source, &target, Some(fstype), flags, data);
            let mounted = match (mounted, fstype) {
                // In a user namespace: sysfs needs a network namespace of
                // our own, and devpts' gid=5 a mapped group 5. The host's
                // sysfs bound instead, devpts with the default group.
                (Err(_), "sysfs") => mount::mount(
                    &Linux,
                    Some(OsStr::new("/sys")),
                    &target,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                ),
                (Err(_), "devpts") => mount::mount(
                    &Linux,
                    source,
                    &target,
                    Some(fstype),
                    flags,
                    Some("newinstance,ptmxmode=0666,mode=0620"),
                ),
                (result, _) => result,
            };
            mounted.map_err(|e| Report::setup(format!("mount {fstype}"), e))?;
        }
        for device in &self.bind_devices {
            let host = Path::new("/").join(device);
            let placeholder = root
                .resolve_path(device)
                .map_err(|e| Report::setup(format!("open {}", root.show(device)), e))?;
            let target = fd_path(placeholder.as_raw_fd());
            mount::mount(
                &Linux,
                Some(host.as_os_str()),
                &target,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .map_err(|e| Report::setup(format!("bind {}", host.display()), e))?;
        }
        // dpkg's and the scripts' flushes made no-ops (see nosync). Where
        // the filter cannot be had (a kernel without seccomp), they run:
        // slower, and otherwise the same.
        let _ = crate::nosync::install();
        // The init stays outside TARGET and each command is chrooted, as
        // under debootstrap: `ischroot` (which compares / with
        // /proc/1/root) then says "chroot", and libc6's postinst skips its
        // `telinit u; sleep 1`, meant for a booted system.
        for (index, command) in commands.iter().enumerate() {
            if let Some(stage) = &command.stage {
                put_stage(root, stage)?;
            }
            run_one(root, command, io).map_err(|status| Report::Command { index, status })?;
            if let Some(stage) = &command.stage {
                root.remove_all(stage.dir)
                    .map_err(|e| Report::setup(format!("remove {}", root.show(stage.dir)), e))?;
            }
        }
        Ok(())
    }
}

/// A stage's files, in-root (package code ran before: TARGET may hold
/// anything).
fn put_stage(root: &Root, stage: &Stage) -> Result<(), Report> {
    root.remove_all(stage.dir)
        .map_err(|e| Report::setup(format!("remove {}", root.show(stage.dir)), e))?;
    for (name, mode, content) in &stage.files {
        let rel = format!("{}/{name}", stage.dir);
        root.write(&rel, content, *mode)
            .map_err(|e| Report::setup(format!("write {}", root.show(&rel)), e))?;
    }
    Ok(())
}

/// The path through which the kernel reaches an open descriptor's file.
fn fd_path(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

fn run_one(root: &Root, command: &Command, io: &Io) -> Result<(), Status> {
    let log: OwnedFd = io
        .log
        .try_clone()
        .map_err(|e| Status::NotStarted(format!("log: {e}")))?
        .into();
    // SAFETY: this process is single-threaded (the sandbox child).
    match unsafe { fork() }.map_err(|e| Status::NotStarted(format!("fork: {e}")))? {
        ForkResult::Child => {
            // SAFETY: dup2 on descriptors this process owns.
            unsafe {
                libc::dup2(log.as_raw_fd(), 1);
                libc::dup2(log.as_raw_fd(), 2);
            }
            // Into TARGET through its descriptor, not its path again.
            let entered = nix::unistd::fchdir(root.fd())
                .and_then(|()| nix::unistd::chroot("."))
                .and_then(|()| nix::unistd::chdir("/"));
            if let Err(e) = entered {
                eprintln!("cannot chroot to {}: {e}", root.path().display());
                // SAFETY: see Sandbox::spawn.
                unsafe { libc::_exit(127) }
            }
            if let Some(fd) = io.keep_fd {
                // SAFETY: clears close-on-exec on a descriptor we hold, so
                // the command inherits it.
                unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
            }
            if let Ok(null) = std::fs::File::open("/dev/null") {
                // SAFETY: as above.
                unsafe { libc::dup2(null.as_raw_fd(), 0) };
            }
            // The environment of a clean root login, not ours.
            for (key, _) in std::env::vars_os() {
                std::env::remove_var(key);
            }
            for (key, value) in &command.env {
                std::env::set_var(key, value);
            }
            let errno = ns_sys::exec::execvp(&command.argv);
            eprintln!(
                "cannot run {}: {}",
                command.argv[0].to_string_lossy(),
                errno.desc()
            );
            // SAFETY: see Sandbox::spawn.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, code)) => Err(Status::Exit(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => Err(Status::Signal(signal as i32)),
            Ok(other) => Err(Status::NotStarted(format!("unexpected status {other:?}"))),
            Err(e) => Err(Status::NotStarted(format!("waitpid: {e}"))),
        },
    }
}

/// How a command ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Exit(i32),
    Signal(i32),
    /// It could not be started (fork, its log).
    NotStarted(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exit(code) => write!(f, "exit status {code}"),
            Status::Signal(signal) => match nix::sys::signal::Signal::try_from(*signal) {
                Ok(signal) => write!(f, "killed by {signal}"),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            Status::NotStarted(reason) => write!(f, "not started: {reason}"),
        }
    }
}

/// Why the commands did not all succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("fork: {0}")]
    Fork(nix::errno::Errno),
    #[error("pipe: {0}")]
    Pipe(nix::errno::Errno),
    #[error("set-up of the namespace failed: cannot {step}: {reason}")]
    Setup { step: String, reason: String },
    #[error("{label} failed ({status}; see the log)")]
    Command { label: String, status: Status },
    #[error("the sandbox ended without a report: {0}")]
    Ended(String),
}

/// What the sandbox's processes report to the parent: one line on the
/// report pipe, fields separated by tabs (text fields have none).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Report {
    Setup { step: String, reason: String },
    Command { index: usize, status: Status },
}

fn field(text: &str) -> String {
    text.replace(['\t', '\n'], " ")
}

impl Report {
    fn setup(step: impl std::fmt::Display, reason: impl std::fmt::Display) -> Report {
        Report::Setup {
            step: step.to_string(),
            reason: reason.to_string(),
        }
    }

    fn encode(&self) -> String {
        match self {
            Report::Setup { step, reason } => {
                format!("setup\t{}\t{}\n", field(step), field(reason))
            }
            Report::Command { index, status } => match status {
                Status::Exit(code) => format!("command\t{index}\texit\t{code}\n"),
                Status::Signal(signal) => format!("command\t{index}\tsignal\t{signal}\n"),
                Status::NotStarted(reason) => {
                    format!("command\t{index}\tnot-started\t{}\n", field(reason))
                }
            },
        }
    }

    fn decode(line: &str) -> Option<Report> {
        let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        match fields[..] {
            ["setup", step, reason] => Some(Report::setup(step, reason)),
            ["command", index, kind, value] => {
                let index = index.parse().ok()?;
                let status = match kind {
                    "exit" => Status::Exit(value.parse().ok()?),
                    "signal" => Status::Signal(value.parse().ok()?),
                    "not-started" => Status::NotStarted(value.to_string()),
                    _ => return None,
                };
                Some(Report::Command { index, status })
            }
            _ => None,
        }
    }

    /// To the parent, and as an `E:` line to the log.
    fn send(&self, reports: &OwnedFd, io: &Io) {
        let mut pipe = std::fs::File::from(reports.try_clone().expect("a descriptor to dup"));
        let _ = pipe.write_all(self.encode().as_bytes());
        let mut log = io.log;
        let _ = match self {
            Report::Setup { step, reason } => writeln!(log, "E: cannot {step}: {reason}"),
            Report::Command { index, status } => writeln!(log, "E: command {index}: {status}"),
        };
    }
}

/// The sandbox child, running.
pub struct Running<'c> {
    child: nix::unistd::Pid,
    commands: &'c [Command],
    /// The read end of the report pipe.
    reports: OwnedFd,
}

impl Running<'_> {
    /// Waits for the child; an error names the command that failed, and
    /// how, or the step of the set-up.
    pub fn wait(self) -> Result<(), Error> {
        let status = loop {
            match waitpid(self.child, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        let mut text = String::new();
        let _ = std::fs::File::from(self.reports).read_to_string(&mut text);
        match (Report::decode(&text), status) {
            (Some(Report::Setup { step, reason }), _) => Err(Error::Setup { step, reason }),
            (Some(Report::Command { index, status }), _) => Err(Error::Command {
                label: self
                    .commands
                    .get(index)
                    .map_or_else(|| format!("command {index}"), |c| c.label.clone()),
                status,
            }),
            (None, Ok(WaitStatus::Exited(_, 0))) => Ok(()),
            (None, other) => Err(Error::Ended(format!("{other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        for report in [
            Report::setup("mount proc", "EPERM: Operation not permitted"),
            Report::setup("open /x\ty", "a\nb"),
            Report::Command {
                index: 250,
                status: Status::Exit(1),
            },
            Report::Command {
                index: 0,
                status: Status::Signal(9),
            },
            Report::Command {
                index: 3,
                status: Status::NotStarted("fork: EAGAIN".to_string()),
            },
        ] {
            let decoded = Report::decode(&report.encode()).unwrap();
            match (&report, &decoded) {
                (Report::Setup { .. }, Report::Setup { step, reason }) => {
                    assert!(!step.contains('\t') && !reason.contains('\n'));
                }
                _ => assert_eq!(decoded, report),
            }
        }
        assert_eq!(Report::decode("garbage"), None);
        assert_eq!(Report::decode(""), None);
    }
}
