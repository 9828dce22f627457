//! Where the configure step runs: a child process with a private mount
//! namespace and its own PID namespace, proc, sysfs and a devpts instance
//! mounted inside TARGET,
//! and TARGET as its root. The small API is [`Sandbox::spawn`]: a list of
//! commands run one after the other in that child.
//!
//! Nothing can stay mounted: the mounts exist only in the child's
//! namespace, which the kernel tears down when the child exits — after
//! success, after a failure, and after Ctrl-C (the child is in our process
//! group and gets the same SIGINT; it also asks for SIGKILL should we die
//! first). Propagation is made private before mounting, so no mount event
//! reaches the host's shared mounts.
//!
//! The mounts and the propagation change go through ns-mount's library
//! (`ns_mount::mount`, `ns_mount::set_propagation`); the namespace itself
//! is one `unshare(CLONE_NEWNS)` through nix (ns-unshare's library has no
//! call-level API for it); the `execvp` is ns-chroot's (the POSIX one).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use ns_mount::{MountFlags as MsFlags, Propagation};

/// One command to run inside TARGET.
#[derive(Debug, Clone)]
pub struct Command {
    /// What it is, for the error message ("dpkg --configure", "preinst of X").
    pub label: String,
    pub argv: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

pub struct Sandbox {
    root: PathBuf,
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

impl Sandbox {
    pub fn new(root: &Path) -> Self {
        Sandbox {
            root: root.to_path_buf(),
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
    pub fn spawn<'c>(&self, commands: &'c [Command], io: Io) -> Result<Running<'c>, String> {
        // SAFETY: the caller runs no other thread now (the download and
        // extraction threads are joined), so the child may allocate.
        match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
            ForkResult::Child => {
                let code = match self.child(commands, &io) {
                    Ok(()) => 0,
                    Err((index, message)) => {
                        use std::io::Write;
                        let mut log = io.log;
                        let _ = writeln!(log, "E: {message}");
                        index.saturating_add(1).min(250) as i32
                    }
                };
                // SAFETY: leaving the forked child without running the
                // parent's exit handlers or flushing its buffers twice.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Running { child, commands }),
        }
    }

    fn child(&self, commands: &[Command], io: &Io) -> Result<(), (usize, String)> {
        let setup = |e: String| (usize::MAX - 1, e);
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // A PID namespace too: when its first process (forked below) dies,
        // the kernel kills every process left in it, so no maintainer
        // script outlives an interrupted bootstrap.
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID)
            .map_err(|e| setup(format!("unshare(CLONE_NEWNS|CLONE_NEWPID): {e}")))?;
        // SAFETY: single-threaded (the sandbox child).
        match unsafe { fork() }.map_err(|e| setup(format!("fork: {e}")))? {
            ForkResult::Child => {
                let code = match self.init(commands, io) {
                    Ok(()) => 0,
                    Err((index, message)) => {
                        use std::io::Write;
                        let mut log = io.log;
                        let _ = writeln!(log, "E: {message}");
                        index.saturating_add(1).min(250) as i32
                    }
                };
                // SAFETY: see Sandbox::spawn.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                // The init reported its failure already; pass its code on.
                // SAFETY: see Sandbox::spawn.
                Ok(WaitStatus::Exited(_, code)) => unsafe { libc::_exit(code) },
                Ok(other) => Err(setup(format!("the namespace's init: {other:?}"))),
                Err(e) => Err(setup(format!("waitpid: {e}"))),
            },
        }
    }

    /// PID 1 of the new PID namespace: mounts, then the commands, each
    /// chrooted into TARGET.
    fn init(&self, commands: &[Command], io: &Io) -> Result<(), (usize, String)> {
        let setup = |e: String| (usize::MAX - 1, e);
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        ns_mount::set_propagation(Path::new("/"), Propagation::Private, true)
            .map_err(|e| setup(format!("cannot make / private: {e}")))?;
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
            let target = self.root.join(dir);
            std::fs::create_dir_all(&target)
                .map_err(|e| setup(format!("cannot create {}: {e}", target.display())))?;
            let mounted =
                ns_mount::mount(Some(Path::new(fstype)), &target, Some(fstype), flags, data);
            let mounted = match (mounted, fstype) {
                // In a user namespace: sysfs needs a network namespace of
                // our own, and devpts' gid=5 a mapped group 5. The host's
                // sysfs bound instead, devpts with the default group.
                (Err(_), "sysfs") => ns_mount::mount(
                    Some(Path::new("/sys")),
                    &target,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                ),
                (Err(_), "devpts") => ns_mount::mount(
                    Some(Path::new(fstype)),
                    &target,
                    Some(fstype),
                    flags,
                    Some("newinstance,ptmxmode=0666,mode=0620"),
                ),
                (result, _) => result,
            };
            mounted.map_err(|e| setup(format!("cannot mount {fstype}: {e}")))?;
        }
        for device in &self.bind_devices {
            let host = Path::new("/").join(device);
            let target = self.root.join(device);
            ns_mount::mount(Some(&host), &target, None, MsFlags::MS_BIND, None)
                .map_err(|e| setup(format!("cannot bind {}: {e}", host.display())))?;
        }
        // The init stays outside TARGET and each command is chrooted, as
        // under debootstrap: `ischroot` (which compares / with
        // /proc/1/root) then says "chroot", and libc6's postinst skips its
        // `telinit u; sleep 1`, meant for a booted system.
        for (index, command) in commands.iter().enumerate() {
            run_one(&self.root, command, io)
                .map_err(|e| (index, format!("{}: {e}", command.label)))?;
        }
        Ok(())
    }
}

fn run_one(root: &Path, command: &Command, io: &Io) -> Result<(), String> {
    let log: OwnedFd = io.log.try_clone().map_err(|e| format!("log: {e}"))?.into();
    // SAFETY: this process is single-threaded (the sandbox child).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            // SAFETY: dup2 on descriptors this process owns.
            unsafe {
                libc::dup2(log.as_raw_fd(), 1);
                libc::dup2(log.as_raw_fd(), 2);
            }
            if let Err(e) = nix::unistd::chroot(root).and_then(|()| nix::unistd::chdir("/")) {
                eprintln!("cannot chroot to {}: {e}", root.display());
                // SAFETY: see Sandbox::run.
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
            let errno = ns_chroot::exec::execvp(&command.argv);
            eprintln!(
                "cannot run {}: {}",
                command.argv[0].to_string_lossy(),
                errno.desc()
            );
            // SAFETY: see Sandbox::run.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, code)) => Err(format!("exit status {code}")),
            Ok(WaitStatus::Signaled(_, signal, _)) => Err(format!("killed by {signal}")),
            Ok(other) => Err(format!("unexpected status {other:?}")),
            Err(e) => Err(format!("waitpid: {e}")),
        },
    }
}

/// The sandbox child, running.
pub struct Running<'c> {
    child: nix::unistd::Pid,
    commands: &'c [Command],
}

impl Running<'_> {
    /// Waits for the child; an error names the command that failed.
    pub fn wait(self) -> Result<(), String> {
        match waitpid(self.child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, code)) => {
                let failed = self
                    .commands
                    .get(code as usize - 1)
                    .map(|c| c.label.as_str())
                    .unwrap_or("set-up of the namespace");
                Err(format!("{failed} failed (see the log)"))
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                Err(format!("configure step killed by {signal}"))
            }
            Ok(other) => Err(format!("configure step: unexpected status {other:?}")),
            Err(e) => Err(format!("waitpid: {e}")),
        }
    }
}
