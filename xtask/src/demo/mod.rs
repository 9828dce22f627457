//! `cargo xtask demo [--shell]`: the walk-through, with our tools only.
//!
//! 0. check what the demo needs from this machine, and say what it does
//!    where an optional piece is missing;
//! 1. bootstrap a Debian root filesystem (cached under target/rootfs/);
//! 2. build the tools (static, or the host's build without the musl
//!    target) and copy them into it;
//! 3. enter it with every namespace unshared, mount /proc, /sys and /tmp
//!    inside, and show that hostname, processes, network and uid are its own;
//! 4. from the host, list its namespaces with ns-lsns (and as JSON);
//! 5. from the host, enter it with ns-nsenter and run hostname and ps in it;
//! 6. as root: a veth pair between the host and the container, an address
//!    on each end, and the host pings the container.
//!
//! It needs nothing but a Rust toolchain on a Debian machine, as root or as
//! a normal user. Nothing outlives the demo: the container's mounts live in
//! its own mount namespace, and the veth pair dies with the container's
//! network namespace, so even a Ctrl-C leaves nothing behind.

mod checks;
mod container;
mod enter;
mod network;
mod tools;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;

use crate::rootfs::{self, Spec};
use crate::run::checked;
use container::Container;
use network::Network;

/// The small tools copied into the rootfs.
const TOOLS: &[&str] = &[
    "ns-unshare",
    "ns-chroot",
    "ns-mount",
    "ns-umount",
    "ns-lsns",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut shell = false;
    for arg in args {
        match arg.as_str() {
            "--shell" => shell = true,
            other => return Err(format!("demo: unknown argument '{other}'")),
        }
    }
    // SAFETY: geteuid cannot fail and has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;

    println!("\n==> what the demo needs from this machine");
    let plan = checks::check(root)?;

    step(
        1,
        "bootstrap a Debian root filesystem with ns-bootstrap (cached)",
    );
    let spec = Spec {
        include: vec!["procps".into(), "iproute2".into(), "iputils-ping".into()],
        ..Spec::default()
    };
    let rootfs = rootfs::ensure(&spec)?;

    step(2, "build the tools and copy them into it");
    let tools = tools::build(plan.tools, &rootfs)?;
    let copied = copy_tools(&tools, &rootfs)?;

    step(3, "enter it with every namespace unshared");
    let mut container = container::start(&tools, &rootfs, copied, shell)?;
    let result = host_side(&tools, &rootfs, &mut container, &plan.network);
    // Whatever happened, the container is gone before we return.
    drop(container.to);
    let status = container
        .child
        .wait()
        .map_err(|e| format!("wait for the container: {e}"))?;
    result?;
    if !status.success() {
        return Err(format!("the container failed ({status})"));
    }
    println!("\nThe demo is over; nothing of it is left mounted or running.");
    println!(
        "The same root as a container image any OCI engine runs, reproducibly:\n  \
         SOURCE_DATE_EPOCH=1700000000 ns-bootstrap --variant=minbase bookworm debian.oci.tar\n  \
         podman load -i debian.oci.tar   # or: skopeo copy oci-archive:debian.oci.tar:bookworm …"
    );
    Ok(())
}

fn step(number: u32, what: &str) {
    println!("\n==> step {number}: {what}");
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

/// Waits for the container to be ready, looks at it from the host, then
/// the network step (or tells the container there is none).
fn host_side(
    tools: &Path,
    rootfs: &Path,
    container: &mut Container,
    network: &Network,
) -> Result<(), String> {
    expect_line(container, "ready")?;
    let pid = container::init_pid(container.child.id())?;

    step(4, "from the host: ns-lsns shows the container's namespaces");
    let lsns = tools.join("ns-lsns");
    checked(Command::new(&lsns).args(["-p", &pid.to_string()]))?;
    println!("\n$ ns-lsns -J -p {pid}   # for scripts");
    checked(Command::new(&lsns).args(["-J", "-p", &pid.to_string()]))?;

    step(
        5,
        "from the host: ns-nsenter enters the container and runs hostname and ps in it",
    );
    if let Err(message) = enter::run(tools, pid) {
        let _ = tell(container, "none");
        return Err(message);
    }

    match network {
        Network::Skipped(why) => {
            step(6, &format!("skipped: {why}"));
            tell(container, "none")
        }
        Network::Veth => {
            step(
                6,
                "a veth pair between the host and the container; the host pings the container",
            );
            if let Err(message) = network::veth(tools, rootfs, pid) {
                let _ = tell(container, "none");
                return Err(message);
            }
            tell(container, "veth")?;
            expect_line(container, "configured")?;
            let pinged = network::ping(tools, rootfs);
            // The container waits for this line (or the pipe closing).
            let _ = tell(container, "done");
            pinged
        }
    }
}

fn tell(container: &mut Container, line: &str) -> Result<(), String> {
    writeln!(container.to, "{line}").map_err(|e| format!("signal the container: {e}"))
}

fn expect_line(container: &mut Container, expected: &str) -> Result<(), String> {
    let mut line = String::new();
    container
        .from
        .read_line(&mut line)
        .map_err(|e| format!("read from the container: {e}"))?;
    if line.trim() == expected {
        Ok(())
    } else {
        Err(format!("the container stopped before it said '{expected}'"))
    }
}
