//! The container: `ns-unshare … ns-chroot ROOTFS bash`, running a script
//! that talks to the host over two pipes (fd 3 from the host, fd 4 to it).
//!
//! The conversation: the container says `ready` once it has mounted its
//! filesystems and shown itself; the host looks at it with ns-lsns and
//! answers `veth` or `none`. After `veth` the container configures its
//! end of the pair, says `configured`, and waits until the host has pinged
//! it (any line, or the pipe closing).

use std::io::BufReader;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::network::{CONTAINER_ADDRESS, CONTAINER_IF};
use crate::run::{display, quote};

/// Runs inside the container (bash in the new root).
const SCRIPT: &str = r#"
set -e
say() { printf '\n--- %s\n' "$*"; }
say "inside: ns-mount -t proc none /proc; -t sysfs none /sys; -t tmpfs none /tmp"
ns-mount -t proc none /proc
ns-mount -t sysfs none /sys
ns-mount -t tmpfs none /tmp
ns-mount -t proc,sysfs,tmpfs
say "hostname nstools-demo: the UTS namespace is ours"
hostname nstools-demo
echo "hostname is now: $(hostname)"
say "ps: PID 1 is this shell, and it sees nothing of the host's processes"
ps -o pid,ppid,user,comm
say "ip link: a new network namespace has only lo"
ip -brief link
say "id: uid 0 inside is the invoking user outside (/proc/self/uid_map)"
id
cat /proc/self/uid_map
echo ready >&4
read -r network <&3 || network=none
if [ "$network" = veth ]; then
    say "network: our end of the veth pair gets CONTAINER_ADDRESS; the host pings it"
    ip link set lo up
    ip address add CONTAINER_ADDRESS dev CONTAINER_IF
    ip link set CONTAINER_IF up
    ip -brief address
    echo configured >&4
    read -r _ <&3 || true
fi
exec 3<&- 4>&-
if [ "$NSTOOLS_DEMO_SHELL" = 1 ]; then
    say "an interactive shell inside the container; exit to end the demo"
    exec bash -i
fi
"#;

/// The running container and the host's ends of its pipes.
pub struct Container {
    pub child: Child,
    /// Lines from the container (its fd 4).
    pub from: BufReader<std::fs::File>,
    /// Lines to the container (its fd 3).
    pub to: std::fs::File,
}

/// Starts `ns-unshare … /bin/sh -c '[bind &&] exec ns-chroot ROOTFS bash'`.
pub fn start(
    tools: &Path,
    rootfs: &Path,
    tools_copied: bool,
    shell: bool,
) -> Result<Container, String> {
    let (go_reader, go_writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (ready_reader, ready_writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let script = SCRIPT
        .replace("CONTAINER_ADDRESS", CONTAINER_ADDRESS)
        .replace("CONTAINER_IF", CONTAINER_IF);

    let tools_dir = tools.to_string_lossy().into_owned();
    let rootfs_dir = rootfs.to_string_lossy().into_owned();
    // ns-unshare runs one program: sh chains the optional bind mount (in
    // the new mount namespace, so only the container sees it) and the
    // chroot into bash running the script.
    let bind = if tools_copied {
        String::new()
    } else {
        format!(
            "{tools}/ns-mount --bind {tools} {root}/usr/local/bin && ",
            tools = quote(&tools_dir),
            root = quote(&rootfs_dir)
        )
    };
    // The script travels in the environment, so that command lines (in
    // ps and ns-lsns) stay short.
    let chain = format!(
        "{bind}exec {tools}/ns-chroot {root} /bin/bash -c 'eval \"$NSTOOLS_DEMO_SCRIPT\"'",
        tools = quote(&tools_dir),
        root = quote(&rootfs_dir)
    );
    let mut command = Command::new(tools.join("ns-unshare"));
    command
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--map-root-user",
            "--user",
            "--pid",
            // The cgroup and time namespaces too: every namespace is the
            // container's own, so that a normal user can enter them all
            // again (ns-nsenter -a, step 5).
            "--cgroup",
            "--time",
        ])
        .arg("--fork")
        .args(["/bin/sh", "-c", &chain])
        .env("NSTOOLS_DEMO_SCRIPT", &script)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("NSTOOLS_DEMO_SHELL", if shell { "1" } else { "0" });
    if !shell {
        command.stdin(Stdio::null());
    }
    // Renumber the pipe ends in the child to fds 3 and 4. They are first
    // copied above 10 here: dup2 onto itself would keep close-on-exec, and
    // one end may already sit on the other's target number.
    let go_high = high_copy(&go_reader)?;
    let ready_high = high_copy(&ready_writer)?;
    let (go_fd, ready_fd) = (go_high.as_raw_fd(), ready_high.as_raw_fd());
    // SAFETY: dup2 is async-signal-safe; it only renumbers our own pipes.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(go_fd, 3) < 0 || libc::dup2(ready_fd, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    println!("$ {}", display(&command));
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start ns-unshare: {e}"))?;
    // Only the container may hold the other ends: a line read then fails
    // with EOF once it is gone, instead of waiting forever.
    drop((go_reader, ready_writer, go_high, ready_high));
    Ok(Container {
        child,
        from: BufReader::new(std::fs::File::from(OwnedFd::from(ready_reader))),
        to: std::fs::File::from(OwnedFd::from(go_writer)),
    })
}

/// A close-on-exec duplicate of `fd` numbered 10 or above.
fn high_copy(fd: &impl AsRawFd) -> Result<OwnedFd, String> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if copy < 0 {
        return Err(format!(
            "fcntl(F_DUPFD_CLOEXEC): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `copy` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// The container's PID 1, as the host sees it: ns-unshare's only child.
pub fn init_pid(unshare_pid: u32) -> Result<u32, String> {
    let children = format!("/proc/{unshare_pid}/task/{unshare_pid}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "no container process under ns-unshare ({children})"
    ))
}
