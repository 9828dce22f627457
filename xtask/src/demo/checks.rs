//! What the demo needs from this machine, checked before anything is
//! built: what it cannot do without is an error naming every missing piece
//! at once; what is optional (the musl target, rust-src, subordinate ids,
//! root for the network step) gets one line saying what the demo does
//! instead.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use ns_bootstrap::sources::{default_mirror, host_sources};
use ns_sys::idmap::{find_subid_range, Kind};

use super::network::{self, Network};
use super::tools::Build;
use crate::toolchain::Toolchain;

/// What the demo will do, given this machine.
pub struct Plan {
    pub tools: Build,
    pub network: Network,
}

/// The namespaces the container is made of.
const CONTAINER_NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID;

pub fn check(root: bool) -> Result<Plan, String> {
    let mut missing = Vec::new();

    match probe_namespaces() {
        Ok(()) => say(
            "namespaces",
            "user, mount, UTS, IPC, network and PID: available",
        ),
        Err(e) => missing.push(format!(
            "the container needs new user, mount, UTS, IPC, network and PID namespaces, \
             and unshare(2) refuses them here ({e}): see sysctl user.max_user_namespaces, \
             kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns"
        )),
    }

    match default_mirror(&host_sources(Path::new("/etc/apt"))) {
        Some(mirror) => say("mirror", &format!("{mirror} (the host's apt sources)")),
        None => missing.push(
            "ns-bootstrap takes its Debian mirror from the host's apt sources, and \
             /etc/apt/sources.list and /etc/apt/sources.list.d/ name none"
                .to_string(),
        ),
    }
    let keyring = ns_bootstrap::DEFAULT_KEYRING;
    if !Path::new(keyring).is_file() {
        missing.push(format!(
            "ns-bootstrap checks the mirror's signature with {keyring}, which is missing \
             (apt-get install debian-archive-keyring)"
        ));
    }

    if !root {
        say("rootfs", &unprivileged_build());
    }

    let toolchain = Toolchain::current()?;
    let tools = Build::choose(&toolchain);
    say("tools", &tools.describe());

    let network = network::plan(root);
    say("network", &network.describe());

    if missing.is_empty() {
        Ok(Plan { tools, network })
    } else {
        Err(format!(
            "the demo cannot run on this machine:\n  - {}",
            missing.join("\n  - ")
        ))
    }
}

fn say(what: &str, line: &str) {
    println!("  {what:<10} {line}");
}

/// Whether unshare(2) gives the container's namespaces: in a throwaway
/// child, which then runs `true`.
fn probe_namespaces() -> std::io::Result<()> {
    let mut probe = Command::new("true");
    probe.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child and makes one system
    // call, which is async-signal-safe; it touches no memory of ours.
    unsafe {
        probe.pre_exec(|| {
            if libc::unshare(CONTAINER_NAMESPACES) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let status = probe.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the probe failed ({status})"
        )))
    }
}

/// How ns-bootstrap will build as this (normal) user: with subordinate
/// ids a complete root, without them one that is only unpacked.
fn unprivileged_build() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let name = ns_sys::accounts::Accounts::load(Path::new("/"))
        .user_by_uid(uid)
        .map(|user| user.name.clone())
        .unwrap_or_default();
    let range = |kind: Kind| {
        std::fs::read_to_string(kind.subid_file())
            .ok()
            .and_then(|text| find_subid_range(&text, &name, uid).ok().flatten())
    };
    let helpers = ["newuidmap", "newgidmap"].iter().all(|p| on_path(p));
    describe_unprivileged(&name, range(Kind::Users), range(Kind::Groups), helpers)
}

/// What the build of a user `name` with these subordinate uid and gid
/// ranges (start, count) and (or without) newuidmap/newgidmap gets.
fn describe_unprivileged(
    name: &str,
    uids: Option<(u32, u32)>,
    gids: Option<(u32, u32)>,
    helpers: bool,
) -> String {
    let usable = |range: Option<(u32, u32)>| range.filter(|(_, count)| *count > 0);
    match (usable(uids), usable(gids), helpers) {
        (_, _, false) => "newuidmap/newgidmap are missing (apt-get install uidmap): only your \
             id is mapped, so the root is unpacked but not configured"
            .to_string(),
        (Some((start, count)), Some(_), true) => format!(
            "built in a user namespace: your id is its root, subordinate ids \
             {start}-{} the rest",
            u64::from(start) + u64::from(count) - 1
        ),
        _ => format!(
            "{name} has no subordinate ids in /etc/subuid and /etc/subgid: only your id is \
             mapped, so the root is unpacked but not configured"
        ),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .unwrap_or_default()
        .to_string_lossy()
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normal_user_is_told_how_the_root_is_built() {
        let full = describe_unprivileged("ann", Some((100000, 65536)), Some((100000, 65536)), true);
        assert!(full.contains("subordinate ids 100000-165535"), "{full}");
        for (uids, gids) in [
            (None, Some((100000, 65536))),
            (Some((100000, 65536)), None),
            (Some((100000, 0)), Some((100000, 65536))),
        ] {
            let partial = describe_unprivileged("ann", uids, gids, true);
            assert!(
                partial.starts_with("ann has no subordinate ids"),
                "{partial}"
            );
            assert!(partial.contains("unpacked but not configured"), "{partial}");
        }
        let no_helpers = describe_unprivileged("ann", Some((1, 2)), Some((1, 2)), false);
        assert!(
            no_helpers.contains("apt-get install uidmap"),
            "{no_helpers}"
        );
        // The last id of a range at the top of the id space does not wrap.
        let top = describe_unprivileged("ann", Some((u32::MAX, 1)), Some((1, 1)), true);
        assert!(top.contains(&format!("{0}-{0}", u32::MAX)), "{top}");
    }
}
