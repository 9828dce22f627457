//! The walk-through on a real Debian root: ns-bootstrap builds minbase,
//! then `ns-unshare --mount --uts --ipc --net --map-root-user --user --pid
//! --fork ns-chroot ROOT bash` enters it, as root and as an unprivileged
//! user, twice on the same root; nothing may leak to the host or to the
//! next run. Then, as from a second terminal, ns-nsenter enters the
//! running container from the host.
//!
//! Our debug binaries are linked against the host's glibc; the Debian root
//! has the same (or a newer) one, so they run inside it, bind-mounted in
//! from target/debug within the container's own mount namespace.

use std::path::Path;
use std::time::Duration;

use nstools_tests::running::Running;
use nstools_tests::{bin, in_container, require_root, TempDir, TestCommand, UNPRIVILEGED};

const INSIDE: &str = r#"
set -e
ns-mount -t proc none /proc
ns-mount -t sysfs none /sys
ns-mount -t tmpfs none /tmp
hostname debian-walk
echo "pid=$$"
echo "hostname=$(hostname)"
echo "links=$(ls /sys/class/net | tr '\n' ' ')"
echo "uid=$(id -u)"
echo "uid_map=$(tr -s ' ' < /proc/self/uid_map)"
echo "tmp=$(ls -A /tmp | wc -l)"
touch /tmp/left-behind
. /etc/os-release && echo "os=$ID"
dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' dpkg bash
ns-lsns -t pid -n -o NPROCS,PID
"#;

fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo")
}

fn enter(root: &Path, unprivileged: bool) -> nstools_tests::Outcome {
    let command = in_container(root, &[], "/bin/bash", INSIDE);
    if unprivileged {
        command.unprivileged().run()
    } else {
        command.run()
    }
}

#[test]
fn walk_through_on_a_debian_root() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("walk-debian");
    let root = dir.path().join("debian");
    let built = TestCommand::new(bin("ns-bootstrap"))
        .args(["--variant=minbase", "stable"])
        .arg(&root)
        .run();
    built.expect_code(0);

    let before = host_mounts();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    for (round, unprivileged) in [(1, false), (2, true), (3, false)] {
        let run = enter(&root, unprivileged);
        run.expect_code(0);
        let outer = if unprivileged { UNPRIVILEGED.0 } else { 0 };
        // bash execs its last command: ns-lsns is then PID 1, and alone
        // (headerless, so no column is as wide as its header: 2.42).
        let expected = format!(
            "pid=1\nhostname=debian-walk\nlinks=lo \nuid=0\nuid_map= 0 {outer} 1\ntmp=0\nos=debian\n\
             ii bash\nii dpkg\n1 1\n"
        );
        assert_eq!(run.stdout, expected, "round {round}: {run}");
        assert!(
            !root.join("tmp/left-behind").exists(),
            "round {round}: the tmpfs leaked"
        );
        assert_eq!(
            host_mounts(),
            before,
            "round {round}: the host's mount table changed"
        );
    }
    // From a second terminal: ns-nsenter enters the running container.
    for unprivileged in [false, true] {
        let inside = entered_from_the_host(&root, unprivileged);
        inside.expect_code(0);
        assert_eq!(
            inside.stdout,
            "debian\ndebian-walk\nbash\n0\n",
            "entered as {}: {inside}",
            if unprivileged {
                "a normal user"
            } else {
                "root"
            }
        );
        assert_eq!(host_mounts(), before, "the host's mount table changed");
    }
    let after = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(after, hostname, "the host's hostname changed");
}

/// The walk-through's container, running, entered from the host with
/// ns-nsenter: its namespaces (root takes `-a`; a normal user names the
/// six the container made, the host's cgroup and time namespaces being
/// root's to enter), its root and working directory, our own uid (which
/// it maps to its root). What runs there reads the Debian root.
fn entered_from_the_host(root: &Path, unprivileged: bool) -> nstools_tests::Outcome {
    let script =
        "ns-mount -t proc none /proc && hostname debian-walk && echo ready && read -r _; exit 0";
    let container = in_container(root, &[], "/bin/bash", script);
    let container = if unprivileged {
        container.unprivileged()
    } else {
        container
    };
    let running = Running::start(container);
    let namespaces: &[&str] = if unprivileged {
        &["--user", "--mount", "--uts", "--ipc", "--net", "--pid"]
    } else {
        &["-a"]
    };
    let watchdog = running.watchdog(Duration::from_secs(60));
    let enter = TestCommand::new(bin("ns-nsenter"))
        .args(["-t", &running.init().to_string()])
        .args(namespaces)
        .args(["-r", "-w", "--preserve-credentials", "/bin/bash", "-c"])
        .arg(". /etc/os-release; echo $ID; hostname; cat /proc/1/comm; id -u")
        .timeout(Duration::from_secs(60));
    let inside = if unprivileged {
        enter.unprivileged().run()
    } else {
        enter.run()
    };
    drop(watchdog);
    let status = running.finish();
    assert!(status.success(), "the container: {status}");
    inside
}
