//! The tools chained as users chain them in scripts: the walk-through,
//! persistent namespaces entered later, a root reused across runs, and a
//! failure midway. Each checks that the host's mount table is the same
//! afterwards as before.
//!
//! The container root is a busybox root; our (debug, dynamically linked)
//! tools reach it by bind mounts made inside the container's own mount
//! namespace: the host's /usr (for the C library), /dev and target/debug.

use std::path::Path;
use std::time::Duration;

use nstools_tests::{bin, busybox_root, require_root, TempDir, TestCommand};

/// The host's mount table, for before/after comparisons.
fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo")
}

fn container_root(dir: &Path) -> String {
    let root = dir.join("root");
    busybox_root(&root, &[("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")]);
    for sub in ["usr", "dev", "proc", "sys", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir in root");
    }
    // merged-/usr links, so the host's loader and libc are found.
    for (link, target) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        std::os::unix::fs::symlink(target, root.join(link)).expect("symlink");
    }
    root.to_str().expect("utf-8 path").to_string()
}

/// The container around a busybox root: the host's /usr (for the C
/// library of our debug binaries) and /dev are bind-mounted in.
fn in_container(root: &str, script: &str) -> TestCommand {
    let binds = [("--bind", "/usr", "/usr"), ("--rbind", "/dev", "/dev")];
    nstools_tests::in_container(Path::new(root), &binds, "/bin/sh", script)
}

const INSIDE: &str = r#"
set -e
ns-mount -t proc none /proc
ns-mount -t sysfs none /sys
ns-mount -t tmpfs none /tmp
hostname walkthrough
echo "pid=$$"
echo "hostname=$(hostname)"
echo "links=$(ip -o link | wc -l)"
echo "uid=$(id -u)"
echo "uid_map=$(cat /proc/self/uid_map | tr -s ' ')"
ns-mount -t proc,sysfs,tmpfs | grep -v ' on /dev' | sed 's/ (.*//'
"#;

#[test]
fn walk_through_as_root() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("scenario-walk");
    let root = container_root(dir.path());
    let before = host_mounts();
    let run = in_container(&root, INSIDE).run();
    run.expect_code(0);
    let expected = "pid=1\nhostname=walkthrough\nlinks=1\nuid=0\nuid_map= 0 0 1\n\
                    none on /proc type proc\nnone on /sys type sysfs\nnone on /tmp type tmpfs\n";
    assert_eq!(run.stdout, expected, "{run}");
    assert_eq!(host_mounts(), before, "the host's mount table changed");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_ne!(
        hostname.trim(),
        "walkthrough",
        "the host's hostname changed"
    );
}

#[test]
fn walk_through_unprivileged() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("scenario-walk-user");
    let root = container_root(dir.path());
    let run = in_container(&root, INSIDE).unprivileged().run();
    run.expect_code(0);
    let (uid, _) = nstools_tests::UNPRIVILEGED;
    assert!(
        run.stdout
            .starts_with("pid=1\nhostname=walkthrough\nlinks=1\nuid=0\n"),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!("uid_map= 0 {uid} 1\n")),
        "{run}"
    );
}

/// A namespace kept by a bind mount outlives its processes and is entered
/// later with ns-nsenter, then released with ns-umount. All of it happens
/// in a private mount namespace, so the host never sees the bind mount.
#[test]
fn persistent_namespace_entered_later() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("scenario-persist");
    let before = host_mounts();
    let script = r#"
        set -e
        touch "$DIR/uts"
        ns-unshare --uts="$DIR/uts" hostname persisted
        ns-nsenter --uts="$DIR/uts" hostname
        ns-umount "$DIR/uts"
        ns-nsenter --uts="$DIR/uts" hostname 2>/dev/null || echo released
    "#;
    let tools = bin("ns-unshare")
        .parent()
        .expect("target dir")
        .display()
        .to_string();
    let run = TestCommand::new(bin("ns-unshare"))
        .args(["--mount", "/bin/sh", "-c", script])
        .env("DIR", dir.path())
        .env("PATH", format!("{tools}:/usr/bin:/bin:/usr/sbin:/sbin"))
        .run();
    run.expect_code(0);
    assert_eq!(run.stdout, "persisted\nreleased\n", "{run}");
    assert_eq!(host_mounts(), before, "the host's mount table changed");
}

/// From the host, ns-nsenter enters a running container (its namespaces,
/// its root and working directory, our own uid, which it maps to its root)
/// and runs commands there: the container's hostname, processes and /proc,
/// from its root. As root and as a normal user, nothing left behind.
///
/// Root enters with `-a`. The walk-through's container keeps the host's
/// cgroup and time namespaces, which only root may enter again (setns(2)
/// wants rights over a namespace's owner, here the host's user namespace),
/// so a normal user names the six it made.
fn entered_from_the_host(unprivileged: bool) {
    let dir = TempDir::new("scenario-enter");
    let root = container_root(dir.path());
    let before = host_mounts();
    let script = "ns-mount -t proc none /proc && hostname entered && cd /tmp && echo ready && read -r _; exit 0";
    let container = in_container(&root, script);
    let container = if unprivileged {
        container.unprivileged()
    } else {
        container
    };
    let running = nstools_tests::running::Running::start(container);
    let namespaces: &[&str] = if unprivileged {
        &["--user", "--mount", "--uts", "--ipc", "--net", "--pid"]
    } else {
        &["-a"]
    };
    let watchdog = running.watchdog(Duration::from_secs(60));
    let enter = TestCommand::new(bin("ns-nsenter"))
        .args(["-t", &running.init().to_string()])
        .args(namespaces)
        .args(["-r", "-w"])
        .args(["--preserve-credentials", "/bin/sh", "-c"])
        .arg("hostname; pwd; cat /proc/1/comm; id -u; ls /usr/bin/busybox 2>&1 | wc -l")
        .timeout(Duration::from_secs(60));
    let inside = if unprivileged {
        enter.unprivileged().run()
    } else {
        enter.run()
    };
    drop(watchdog);
    let status = running.finish();
    inside.expect_code(0);
    // The root is the container's: busybox, and the host's /usr only as
    // its own bind mount shows it (no busybox in there).
    assert_eq!(inside.stdout, "entered\n/tmp\nsh\n0\n1\n", "{inside}");
    assert!(status.success(), "the container: {status}");
    assert_eq!(host_mounts(), before, "the host's mount table changed");
}

#[test]
fn entered_from_the_host_as_root() {
    if !require_root() {
        return;
    }
    entered_from_the_host(false);
}

#[test]
fn entered_from_the_host_unprivileged() {
    if !require_root() {
        return;
    }
    entered_from_the_host(true);
}

/// The same root serves run after run: what one container mounted inside
/// is gone when it ends, on the host and for the next container.
#[test]
fn root_reused_across_runs() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("scenario-reuse");
    let root = container_root(dir.path());
    let before = host_mounts();
    for round in 1..=3 {
        let script = r#"
            set -e
            [ -z "$(ls /proc)" ] || { echo "proc not empty"; exit 9; }
            ns-mount -t proc none /proc
            ns-mount -t tmpfs none /tmp
            echo round > /tmp/mark
            ls /proc/1/ns | grep -qx mnt && echo ok
        "#;
        let run = in_container(&root, script).run();
        run.expect_code(0);
        assert_eq!(run.stdout, "ok\n", "round {round}: {run}");
        assert!(
            !Path::new(&root).join("tmp/mark").exists(),
            "round {round}: tmpfs leaked"
        );
    }
    assert_eq!(host_mounts(), before, "the host's mount table changed");
}

/// The child of ns-unshare that is PID 1 of its new PID namespace (its
/// NSpid line ends in 1); ns-unshare may briefly have other children, such
/// as the helper that writes the id maps.
fn namespace_init(unshare: u32) -> i32 {
    let children = format!("/proc/{unshare}/task/{unshare}/children");
    for _ in 0..500 {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        for pid in listed.split_whitespace() {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let is_init = status
                .lines()
                .find_map(|line| line.strip_prefix("NSpid:"))
                .is_some_and(|ids| ids.split_whitespace().last() == Some("1"));
            if is_init {
                return pid.parse().expect("a pid");
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no PID-namespace init among the children of ns-unshare {unshare}");
}

/// A container that fails midway, or is killed, leaves nothing mounted and
/// no process behind; its status reaches the caller.
#[test]
fn failure_midway_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("scenario-fail");
    let root = container_root(dir.path());
    let before = host_mounts();

    let failing = "ns-mount -t proc none /proc; ns-mount -t tmpfs none /tmp; exit 3";
    in_container(&root, failing).run().expect_code(3);

    // Killed from the host (PID 1 of a PID namespace ignores SIGKILL from
    // inside it): ns-unshare dies of the same signal, as the caller sees.
    let killed = "ns-mount -t proc none /proc && sleep 60 & echo ready; wait";
    let mut child = in_container(&root, killed)
        .into_command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the container");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("piped")),
        &mut ready,
    )
    .expect("read from the container");
    assert_eq!(ready, "ready\n");
    let init = namespace_init(child.id());
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(init, libc::SIGKILL) }, 0);
    let status = child.wait().expect("wait for ns-unshare");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );

    // No /proc inside, so no list of filesystems to try for `nosuchfs`:
    // util-linux (2.38 and 2.42) gives up with status 1 there.
    let bad_mount = "ns-mount -t tmpfs none /tmp && ns-mount -t nosuchfs none /proc";
    let run = in_container(&root, bad_mount).run();
    run.expect_code(1);
    assert_eq!(
        run.stderr, "ns-mount: /proc: mount failed: Operation not permitted.\n",
        "{run}"
    );
    let bad_type = "ns-mount -t tmpfs none /tmp && ns-mount -t bogusfs none /proc";
    in_container(&root, bad_type).run().expect_code(32);

    assert_eq!(host_mounts(), before, "the host's mount table changed");
    // --pid and --fork: the sleeping child died with the namespace's init.
    let leftover = TestCommand::new("pgrep").args(["-f", "^sleep 60$"]).run();
    assert_eq!(
        leftover.code,
        Some(1),
        "a process outlived its container: {leftover}"
    );
}
