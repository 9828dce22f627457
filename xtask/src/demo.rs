//! `cargo xtask demo [--shell]`: the walk-through, with our tools only.
//!
//! 1. bootstrap a Debian root filesystem (cached under target/rootfs/);
//! 2. copy the static tools into it;
//! 3. enter it with every namespace unshared, mount /proc, /sys and /tmp
//!    inside, and show that hostname, processes, network and uid are its own;
//! 4. from the host, list its namespaces with ns-lsns (and as JSON);
//! 5. as root: a veth pair between the host and the container, an address
//!    on each end, and a ping across.
//!
//! Nothing outlives the demo: the container's mounts live in its own mount
//! namespace, and the veth pair dies with the container's network
//! namespace, so even a Ctrl-C leaves nothing behind.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::rootfs::{self, Spec};
use crate::run::{checked, display};

/// The small tools copied into the rootfs.
const TOOLS: &[&str] = &[
    "ns-unshare",
    "ns-chroot",
    "ns-mount",
    "ns-umount",
    "ns-lsns",
];
/// The demo's addresses, on the veth pair it makes (nothing is routed
/// beyond it).
const HOST_ADDRESS: &str = "10.200.0.1/24";
const CONTAINER_ADDRESS: &str = "10.200.0.2/24";
const HOST_IF: &str = "nstools-host";
const CONTAINER_IF: &str = "nstools-ctr";

/// Runs inside the container (bash in the new root). fd 3 carries the
/// host's go-ahead, fd 4 tells the host the container is ready.
const CONTAINER_SCRIPT: &str = r#"
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
exec 4>&-
read -r network <&3
if [ "$network" = veth ]; then
    say "network: configure our end of the veth pair and ping the host"
    ip link set lo up
    ip address add CONTAINER_ADDRESS dev CONTAINER_IF
    ip link set CONTAINER_IF up
    ip -brief address
    ping -c 3 -W 2 HOST_IP
fi
if [ "$NSTOOLS_DEMO_SHELL" = 1 ]; then
    say "an interactive shell inside the container; exit to end the demo"
    exec bash -i
fi
"#;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut shell = false;
    for arg in args {
        match arg.as_str() {
            "--shell" => shell = true,
            other => return Err(format!("demo: unknown argument '{other}'")),
        }
    }
    let root = unsafe_is_root();

    step(
        1,
        "bootstrap a Debian root filesystem with ns-bootstrap (cached)",
    );
    let spec = Spec {
        include: vec!["procps".into(), "iproute2".into(), "iputils-ping".into()],
        ..Spec::default()
    };
    let rootfs = rootfs::ensure(&spec)?;

    step(2, "copy the static tools into it");
    let dist = crate::dist::run(&[])?;
    let copied = copy_tools(&dist, &rootfs)?;

    step(3, "enter it with every namespace unshared");
    let (mut container, ready, go) = start_container(&dist, &rootfs, copied, shell)?;
    let result = host_side(&dist, &mut container, ready, go, root);
    // Whatever happened, the container is gone before we return.
    let status = container
        .wait()
        .map_err(|e| format!("wait for the container: {e}"))?;
    result?;
    if !status.success() {
        return Err(format!("the container failed ({status})"));
    }
    println!("\nThe demo is over; nothing of it is left mounted or running.");
    Ok(())
}

fn step(number: u32, what: &str) {
    println!("\n==> step {number}: {what}");
}

fn unsafe_is_root() -> bool {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Copies the tools into ROOTFS/usr/local/bin; false when the rootfs is
/// not ours to write (a normal user with a rootfs built by root): the
/// container then gets them by a bind mount instead.
fn copy_tools(dist: &Path, rootfs: &Path) -> Result<bool, String> {
    let bin = rootfs.join("usr/local/bin");
    for tool in TOOLS {
        let to = bin.join(tool);
        match std::fs::copy(dist.join(tool), &to) {
            Ok(_) => println!("  {}", to.display()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                println!(
                    "  {} is not writable: the tools will be bind-mounted",
                    bin.display()
                );
                return Ok(false);
            }
            Err(e) => return Err(format!("{}: {e}", to.display())),
        }
    }
    Ok(true)
}

/// Starts `ns-unshare … ns-chroot ROOTFS bash -c SCRIPT` with the two
/// control pipes on fds 3 and 4.
fn start_container(
    dist: &Path,
    rootfs: &Path,
    tools_copied: bool,
    shell: bool,
) -> Result<(Child, OwnedFd, OwnedFd), String> {
    let (go_reader, go_writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (ready_reader, ready_writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let host_ip = HOST_ADDRESS.split('/').next().unwrap_or(HOST_ADDRESS);
    let script = CONTAINER_SCRIPT
        .replace("CONTAINER_ADDRESS", CONTAINER_ADDRESS)
        .replace("CONTAINER_IF", CONTAINER_IF)
        .replace("HOST_IP", host_ip);

    let tools_dir = dist.to_string_lossy().into_owned();
    let rootfs_dir = rootfs.to_string_lossy().into_owned();
    // ns-unshare runs one program: sh chains the optional bind mount (in
    // the new mount namespace, so only the container sees it) and the
    // chroot into bash running the script ($0).
    let bind = if tools_copied {
        String::new()
    } else {
        format!(
            "{tools}/ns-mount --bind {tools} {root}/usr/local/bin && ",
            tools = shell_quote(&tools_dir),
            root = shell_quote(&rootfs_dir)
        )
    };
    // The script travels in the environment, so that command lines (in
    // ps and ns-lsns) stay short.
    let chain = format!(
        "{bind}exec {tools}/ns-chroot {root} /bin/bash -c 'eval \"$NSTOOLS_DEMO_SCRIPT\"'",
        tools = shell_quote(&tools_dir),
        root = shell_quote(&rootfs_dir)
    );
    let mut command = Command::new(dist.join("ns-unshare"));
    command
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--map-root-user",
            "--user",
            "--pid",
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
    drop(go_reader);
    drop(ready_writer);
    Ok((child, ready_reader.into(), go_writer.into()))
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

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Waits for the container to be ready, looks at it from the host, sets up
/// the veth pair (as root), and lets it go on.
fn host_side(
    dist: &Path,
    container: &mut Child,
    ready: OwnedFd,
    go: OwnedFd,
    root: bool,
) -> Result<(), String> {
    let mut ready = BufReader::new(std::fs::File::from(ready));
    let mut line = String::new();
    ready
        .read_line(&mut line)
        .map_err(|e| format!("read from the container: {e}"))?;
    if line.trim() != "ready" {
        return Err("the container stopped before it was ready".into());
    }
    let pid = container_pid(container.id())?;

    step(4, "from the host: ns-lsns shows the container's namespaces");
    let lsns = dist.join("ns-lsns");
    checked(Command::new(&lsns).args(["-p", &pid.to_string()]))?;
    println!("\n$ ns-lsns -J -p {pid}   # for scripts");
    checked(Command::new(&lsns).args(["-J", "-p", &pid.to_string()]))?;

    let mut go = std::fs::File::from(go);
    if root {
        step(
            5,
            "a veth pair between the host and the container, and a ping across",
        );
        let result = veth(pid);
        if result.is_err() {
            let _ = writeln!(go, "none");
        }
        result?;
        writeln!(go, "veth").map_err(|e| format!("signal the container: {e}"))?;
    } else {
        step(
            5,
            "skipped: a veth pair in the host's network namespace needs root",
        );
        writeln!(go, "none").map_err(|e| format!("signal the container: {e}"))?;
    }
    Ok(())
}

/// The container's PID 1, as the host sees it: ns-unshare's only child.
fn container_pid(unshare_pid: u32) -> Result<u32, String> {
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

fn veth(pid: u32) -> Result<(), String> {
    let ip = |args: &[&str]| checked(Command::new("ip").args(args));
    ip(&[
        "link",
        "add",
        HOST_IF,
        "type",
        "veth",
        "peer",
        "name",
        CONTAINER_IF,
        "netns",
        &pid.to_string(),
    ])?;
    ip(&["address", "add", HOST_ADDRESS, "dev", HOST_IF])?;
    ip(&["link", "set", HOST_IF, "up"])?;
    Ok(())
}
