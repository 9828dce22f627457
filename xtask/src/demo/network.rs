//! The network step (root only): a veth pair with one end in the host's
//! network namespace and the other in the container's, an address on each,
//! and the host pinging the container's end. Traffic goes only to an
//! address inside the namespace the demo made; the container sends
//! nothing but its answers.
//!
//! `ip` and `ping` are the Debian root's, run with ns-chroot in the host's
//! network namespace (a chroot changes the root, not the network): the
//! host needs neither iproute2 nor iputils-ping. The pair dies with the container's
//! network namespace, so nothing of it outlives the demo.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::run::checked;

/// The demo's addresses, on the pair it makes (nothing is routed beyond).
pub const HOST_ADDRESS: &str = "10.200.0.1/24";
pub const CONTAINER_ADDRESS: &str = "10.200.0.2/24";
pub const HOST_IF: &str = "nstools-host";
pub const CONTAINER_IF: &str = "nstools-ctr";
/// 10.200.0.0/24 (network byte order, as /proc/net/route shows it).
const NET: [u8; 4] = [10, 200, 0, 0];
const MASK: [u8; 4] = [255, 255, 255, 0];
/// Where the root's programs are found.
const ROOT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Veth,
    Skipped(String),
}

impl Network {
    pub fn describe(&self) -> String {
        match self {
            Network::Veth => format!(
                "a veth pair, {HOST_IF} {HOST_ADDRESS} here and {CONTAINER_IF} \
                 {CONTAINER_ADDRESS} in the container, and a ping to the container"
            ),
            Network::Skipped(why) => format!("the veth step is skipped: {why}"),
        }
    }
}

/// Whether the veth step can run here.
pub fn plan(root: bool) -> Network {
    if !root {
        return Network::Skipped(
            "one end of the pair goes into the host's network namespace, and only root \
             may add an interface there"
                .to_string(),
        );
    }
    if !owns_network() {
        return Network::Skipped(
            "root here is root of a user namespace that does not own this network \
             namespace, so it may not add an interface to it"
                .to_string(),
        );
    }
    // /proc/self/net is this process's network namespace (/sys/class/net
    // is the one sysfs was mounted in).
    let devices = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    if interfaces(&devices).any(|name| name == HOST_IF) {
        return Network::Skipped(format!(
            "an interface {HOST_IF} exists already (is another demo running?)"
        ));
    }
    let routes = std::fs::read_to_string("/proc/self/net/route").unwrap_or_default();
    if let Some(device) = clashing_route(&routes) {
        return Network::Skipped(format!(
            "this host routes addresses of 10.200.0.0/24 already (through {device}); \
             the demo's would clash with them"
        ));
    }
    Network::Veth
}

/// Whether root here is root over the network namespace: its owning user
/// namespace is ours or a descendant of ours (root in a user namespace
/// that merely shares the host's network, as `unshare -U -r` makes, is
/// not).
fn owns_network() -> bool {
    let identity = |file: &std::fs::File| {
        file.metadata()
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| e.to_string())
    };
    let owner = |file: &std::fs::File, request| -> Result<std::fs::File, String> {
        // SAFETY: NS_GET_USERNS and NS_GET_PARENT take no argument and
        // return a new descriptor (or -1), which we then own.
        let fd = unsafe { libc::ioctl(file.as_raw_fd(), request) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    };
    let walk = || -> Result<bool, String> {
        let ours = identity(&open("/proc/self/ns/user")?)?;
        let mut user = owner(&open("/proc/self/ns/net")?, libc::NS_GET_USERNS)?;
        // Up from the owner: reaching ours means we are root above it;
        // leaving our view (EPERM) means the owner is not below us.
        loop {
            if identity(&user)? == ours {
                return Ok(true);
            }
            user = owner(&user, libc::NS_GET_PARENT)?;
        }
    };
    walk().unwrap_or(false)
}

fn open(path: &str) -> Result<std::fs::File, String> {
    std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))
}

/// Interface names in /proc/net/dev (two header lines, then `name: …`).
fn interfaces(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .skip(2)
        .filter_map(|line| line.split_once(':').map(|(name, _)| name.trim()))
}

/// The device of a route (not the default one) whose prefix overlaps
/// 10.200.0.0/24, from /proc/net/route (hex, in memory byte order).
fn clashing_route(text: &str) -> Option<&str> {
    let net = u32::from_ne_bytes(NET);
    let mask = u32::from_ne_bytes(MASK);
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (device, destination, route_mask) = (fields.first()?, fields.get(1)?, fields.get(7)?);
        let destination = u32::from_str_radix(destination, 16).ok()?;
        let route_mask = u32::from_str_radix(route_mask, 16).ok()?;
        let common = mask & route_mask;
        (route_mask != 0 && destination & common == net & common).then_some(*device)
    })
}

/// Makes the pair, the container's end moved into the namespace of `pid`.
///
/// The root's `ip` looks for /proc/PID/ns/net before it takes a PID, so it
/// runs with a /proc mounted in a mount namespace of its own (made private
/// by ns-unshare), which ends with it: the host's mounts never change.
pub fn veth(tools: &Path, rootfs: &Path, pid: u32) -> Result<(), String> {
    let script = format!(
        "ip link add {HOST_IF} type veth peer name {CONTAINER_IF} netns {pid} && \
         ip address add {HOST_ADDRESS} dev {HOST_IF} && ip link set {HOST_IF} up"
    );
    let mut command = Command::new(tools.join("ns-unshare"));
    command
        .args(["--mount", "/bin/sh", "-c"])
        .arg(r#""$0"/ns-mount -t proc proc "$1"/proc && exec "$0"/ns-chroot "$1" /bin/sh -c "$2""#)
        .arg(tools)
        .arg(rootfs)
        .arg(&script)
        .env("PATH", ROOT_PATH);
    checked(&mut command)
}

/// The host pings the container's end.
pub fn ping(tools: &Path, rootfs: &Path) -> Result<(), String> {
    let address = CONTAINER_ADDRESS
        .split('/')
        .next()
        .unwrap_or(CONTAINER_ADDRESS);
    checked(
        Command::new(tools.join("ns-chroot"))
            .arg(rootfs)
            .args(["ping", "-c", "3", "-W", "2", address])
            .env("PATH", ROOT_PATH),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive                        |  Transmit\n \
        face |bytes    packets errs drop fifo frame compressed multicast|bytes\n    \
        lo:  123 4 0 0 0 0 0 0 123 4 0 0 0 0 0 0\n  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n";

    #[test]
    fn interface_names() {
        assert_eq!(interfaces(DEV).collect::<Vec<_>>(), ["lo", "eth0"]);
        assert_eq!(interfaces("").count(), 0);
    }

    fn route(device: &str, destination: [u8; 4], mask: [u8; 4]) -> String {
        format!(
            "{device}\t{:08X}\t00000000\t0001\t0\t0\t0\t{:08X}\t0\t0\t0\n",
            u32::from_ne_bytes(destination),
            u32::from_ne_bytes(mask)
        )
    }

    #[test]
    fn routes_that_clash_with_the_demo_net() {
        let header =
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n";
        let table = |rows: &[String]| format!("{header}{}", rows.concat());
        // The default route and other nets are fine.
        let fine = table(&[
            route("eth0", [0, 0, 0, 0], [0, 0, 0, 0]),
            route("eth0", [10, 128, 0, 0], [255, 255, 240, 0]),
            route("docker0", [172, 17, 0, 0], [255, 255, 0, 0]),
            route("x", [10, 200, 1, 0], [255, 255, 255, 0]),
        ]);
        assert_eq!(clashing_route(&fine), None);
        // The same /24, a wider net around it, a host route inside it.
        for (destination, mask) in [
            ([10, 200, 0, 0], [255, 255, 255, 0]),
            ([10, 0, 0, 0], [255, 0, 0, 0]),
            ([10, 200, 0, 77], [255, 255, 255, 255]),
        ] {
            let clash = table(&[
                route("eth0", [0; 4], [0; 4]),
                route("vpn0", destination, mask),
            ]);
            assert_eq!(
                clashing_route(&clash),
                Some("vpn0"),
                "{destination:?}/{mask:?}"
            );
        }
        // Malformed lines are skipped, not trusted.
        assert_eq!(clashing_route(&format!("{header}vpn0 zz 0 0\nbad\n")), None);
    }

    #[test]
    fn this_process_is_above_its_network_namespace_owner() {
        // Whoever runs the unit tests runs them in a network namespace
        // their own user namespace (or one above) owns.
        assert!(owns_network());
    }

    #[test]
    fn a_normal_user_skips_the_step_and_says_why() {
        let Network::Skipped(why) = plan(false) else {
            panic!("a normal user cannot add an interface to the host's namespace");
        };
        assert!(why.contains("root"), "{why}");
    }
}
