//! `cargo xtask demo` the way a newcomer runs it: a fresh `git clone` of
//! this repository (its committed HEAD: uncommitted changes are not in
//! it) into a scratch directory, a Rust toolchain of their own, and the
//! README's command. Two newcomers:
//!
//! - root, with a toolchain that has neither the musl target nor rust-src:
//!   the demo says so and uses the host's build of the tools; its network
//!   step runs in a network namespace the test made (see relay.rs), so the
//!   veth pair never touches the host's, and the host pings the container;
//! - a normal user made for the test (useradd, which gives subordinate
//!   ids), with a toolchain that has the musl target but no rust-src: the
//!   root filesystem is built in a user namespace, the container runs as
//!   that user, the veth step is explained and skipped.
//!
//! Both must exit 0 and leave no mount and no process behind. The builds
//! are offline: the newcomers' cargo homes hold the crates this machine has
//! already downloaded (the tests talk to the Debian mirror only). Each
//! compiles a fresh checkout: a few minutes.

mod homes;
mod leftovers;
mod relay;

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nstools_tests::{bin, require_root, TempDir, TestCommand};

/// A fresh checkout compiles in about three minutes on two cores; a run
/// that has not finished in this long is stuck.
const DEADLINE: Duration = Duration::from_secs(25 * 60);
/// In the environment of everything the demo starts, to find leftovers.
const MARK: &str = "NSTOOLS_NEWCOMER_TEST";
const MUSL: &str = "x86_64-unknown-linux-musl";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// `git clone file://WORKSPACE DIR/nstools`: a real clone (no hard links
/// into this repository's objects, so a chown of it touches nothing here).
fn clone_into(dir: &Path) -> PathBuf {
    let clone = dir.join("nstools");
    let status = Command::new("git")
        .args(["clone", "--quiet"])
        .arg(format!("file://{}", workspace().display()))
        .arg(&clone)
        .stdin(Stdio::null())
        .status()
        .expect("run git (apt-get install git)");
    assert!(
        status.success(),
        "git clone of {}: {status}",
        workspace().display()
    );
    clone
}

/// The login environment of a newcomer whose toolchain is `homes`.
fn newcomer_env(command: &mut Command, homes: &homes::Homes, home: &Path, user: &str, mark: &str) {
    command
        .env_clear()
        .env("PATH", homes.path())
        .env("HOME", home)
        .env("USER", user)
        .env("LOGNAME", user)
        .env("RUSTUP_HOME", &homes.rustup)
        .env("CARGO_HOME", &homes.cargo)
        .env("CARGO_NET_OFFLINE", "true")
        .env(MARK, mark)
        .stdin(Stdio::null())
        .process_group(0);
}

/// Output of `command` into `log` (both streams, in order).
fn log_to(command: &mut Command, log: &Path) {
    let file = File::create(log).expect("create the log");
    command
        .stdout(file.try_clone().expect("clone the log"))
        .stderr(file);
}

/// Waits for `child` (the leader of its process group) until the deadline,
/// then kills the group. Returns its status and the log.
fn finish(mut child: Child, log: &Path) -> (Option<ExitStatus>, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > DEADLINE {
            // SAFETY: kill(2) of the process group this test started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("the demo took {:.0} s", start.elapsed().as_secs_f64());
    (status, std::fs::read_to_string(log).unwrap_or_default())
}

/// The end of a long log, for a failure message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

fn unique_mark() -> String {
    format!("{}-{:?}", std::process::id(), Instant::now())
}

#[test]
fn newcomer_as_root_without_the_musl_target() {
    if !require_root() {
        return;
    }
    let scratch = TempDir::new("newcomer-root");
    let dir = scratch.path();
    let clone = clone_into(dir);
    let homes = homes::make(
        &dir.join("toolchain"),
        &[&format!("rust-std-{MUSL}"), "rust-src", "rust-docs"],
        (0, 0),
    );
    assert!(
        !homes.toolchain.join(format!("lib/rustlib/{MUSL}")).exists(),
        "the newcomer's toolchain has the musl target"
    );
    let home = dir.join("home");
    std::fs::create_dir(&home).expect("mkdir home");
    let (before, after, log) = (
        dir.join("mounts.before"),
        dir.join("mounts.after"),
        dir.join("log"),
    );
    let mark = unique_mark();

    // The mount table of the namespace the demo runs in, before and after.
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(r#"cat /proc/self/mountinfo > "$1" && "$3" xtask demo; rc=$?; cat /proc/self/mountinfo > "$2"; exit $rc"#)
        .args(["sh".as_ref(), before.as_os_str(), after.as_os_str(), homes.cargo_bin().as_os_str()])
        .current_dir(&clone);
    newcomer_env(&mut command, &homes, &home, "root", &mark);
    log_to(&mut command, &log);
    let (child, relay) = relay::spawn(command, &dir.join("hosts"));
    let (status, output) = finish(child, &log);
    drop(relay);
    let left = leftovers::processes(Some((MARK, &mark)), Some(dir), &[]);
    leftovers::kill(&left);

    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "the demo failed:\n{}",
        tail(&output)
    );
    let mut problems = Vec::new();
    for expected in [
        // The one line about the missing target, and the check that makes
        // the fallback safe.
        &format!(
            "the {MUSL} target is not installed, so the host's (glibc) build of the tools instead"
        )[..],
        "is at least the host's",
        // The host pings the container's end, and every answer comes back.
        "ping -c 3 -W 2 10.200.0.2",
        "3 packets transmitted, 3 received",
        "nothing of it is left mounted or running",
    ] {
        if !output.contains(expected) {
            problems.push(format!("no '{expected}' in the output"));
        }
    }
    problems.extend(entered_from_the_host(&output));
    if output.contains("the veth step is skipped") {
        problems.push("the veth step was skipped as root".to_string());
    }
    let (before, after) = (read(&before), read(&after));
    if before.is_empty() || before != after {
        problems.push(format!(
            "the mount table changed:\n--- before\n{before}--- after\n{after}"
        ));
    }
    if !left.is_empty() {
        problems.push(format!("processes left: {left:?}"));
    }
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        tail(&output)
    );
}

/// Step 5: ns-nsenter, from the host, ran hostname and `ps -o pid,comm`
/// inside the container: its hostname alone on a line, and its PID 1
/// (bash) in ps's list.
fn entered_from_the_host(output: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !output.contains("==> step 5: from the host: ns-nsenter enters the container") {
        problems.push("no ns-nsenter step".to_string());
    }
    if !output.lines().any(|line| line.trim() == "nstools-demo") {
        problems.push("ns-nsenter ... hostname did not print the container's".to_string());
    }
    // (Step 3's ps, inside, shows four columns.)
    let init = |line: &str| line.split_whitespace().eq(["1", "bash"]);
    if !output.lines().any(init) {
        problems.push("ns-nsenter ... ps did not show the container's PID 1".to_string());
    }
    problems
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A user made for one test, removed (with whatever still runs as it)
/// when dropped.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl User {
    fn add(home: &Path) -> User {
        let name = format!("nstools-newcomer-{}", std::process::id());
        let status = Command::new("useradd")
            .args([
                "--create-home",
                "--shell",
                "/bin/bash",
                "--user-group",
                "--home-dir",
            ])
            .arg(home)
            .arg(&name)
            .status()
            .expect("run useradd");
        assert!(status.success(), "useradd {name}: {status}");
        let passwd = read(Path::new("/etc/passwd"));
        let fields: Vec<&str> = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields[0] == name)
            .expect("the new user in /etc/passwd");
        User {
            uid: fields[2].parse().expect("uid"),
            gid: fields[3].parse().expect("gid"),
            name,
            home: home.to_path_buf(),
        }
    }

    /// The user's range in `file` (/etc/subuid), as useradd gave it.
    fn subordinate(&self, file: &str) -> Option<(u32, u32)> {
        read(Path::new(file)).lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() == 3 && fields[0] == self.name)
                .then(|| Some((fields[1].parse().ok()?, fields[2].parse().ok()?)))
                .flatten()
        })
    }

    fn ids(&self) -> Vec<std::ops::RangeInclusive<u32>> {
        let mut ids = vec![self.uid..=self.uid];
        if let Some((start, count)) = self.subordinate("/etc/subuid") {
            ids.push(start..=start + count - 1);
        }
        ids
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // userdel refuses a user that still runs something.
        leftovers::kill(&leftovers::processes(None, None, &self.ids()));
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// chown -R, without following symbolic links.
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for entry in std::fs::read_dir(path).expect("read_dir").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

#[test]
fn newcomer_as_a_normal_user() {
    if !require_root() {
        return;
    }
    let scratch = TempDir::new("newcomer-user");
    let user = User::add(&scratch.path().join("home"));
    let (gid_start, gid_count) = user
        .subordinate("/etc/subgid")
        .expect("useradd gives a new user subordinate ids (SUB_GID_COUNT in /etc/login.defs)");
    let clone = clone_into(&user.home);
    chown_tree(&clone, user.uid, user.gid);
    let homes = homes::make(
        &user.home.join("toolchain"),
        &["rust-src", "rust-docs"],
        (user.uid, user.gid),
    );
    assert!(homes.toolchain.join(format!("lib/rustlib/{MUSL}")).exists());
    assert!(!homes.toolchain.join("lib/rustlib/src").exists());
    let log = scratch.path().join("log");
    let mark = unique_mark();

    let mut command = Command::new(homes.cargo_bin());
    command.args(["xtask", "demo"]).current_dir(&clone);
    newcomer_env(&mut command, &homes, &user.home, &user.name, &mark);
    command.uid(user.uid).gid(user.gid);
    log_to(&mut command, &log);
    let child = command.spawn().expect("start the demo");
    let (status, output) = finish(child, &log);
    let left = leftovers::processes(Some((MARK, &mark)), Some(scratch.path()), &user.ids());
    leftovers::kill(&left);

    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "the demo failed:\n{}",
        tail(&output)
    );
    let mut problems = Vec::new();
    for expected in [
        "built in a user namespace: your id is its root",
        "rust-src is not installed: the stable static build",
        "the veth step is skipped: one end of the pair goes into the host's network namespace, \
         and only root may add an interface there",
        "==> step 6: skipped",
        "nothing of it is left mounted or running",
    ] {
        if !output.contains(expected) {
            problems.push(format!("no '{expected}' in the output"));
        }
    }
    problems.extend(entered_from_the_host(&output));
    // Inside, uid 0 is the user (and only the user: --map-root-user).
    let uid = user.uid.to_string();
    if !output
        .lines()
        .any(|line| line.split_whitespace().eq(["0", uid.as_str(), "1"]))
    {
        problems.push(format!("no uid_map line '0 {uid} 1' from inside"));
    }
    // Built unprivileged: the root's root is the user on disk, and the
    // shadow group (of etc/shadow) one of the user's subordinate gids.
    let rootfs = std::fs::read_dir(clone.join("target/rootfs"))
        .expect("target/rootfs")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.is_dir())
        .expect("a root filesystem in target/rootfs");
    let owner = |path: &str| {
        std::fs::symlink_metadata(rootfs.join(path))
            .map(|m| (m.uid(), m.gid()))
            .ok()
    };
    if owner("etc/os-release") != Some((user.uid, user.gid)) {
        problems.push(format!(
            "etc/os-release is owned by {:?}, not the user",
            owner("etc/os-release")
        ));
    }
    let shadow = owner("etc/shadow").map(|(_, gid)| gid);
    if !shadow.is_some_and(|gid| (gid_start..gid_start + gid_count).contains(&gid)) {
        problems.push(format!(
            "etc/shadow's group is {shadow:?}, not a subordinate gid of {gid_start}+{gid_count}"
        ));
    }
    // A normal user cannot mount in the host's namespace at all; the
    // demo's mounts live and die in the container's.
    let mounts = leftovers::mounts_under(scratch.path());
    if !mounts.is_empty() {
        problems.push(format!("mounts left: {mounts:?}"));
    }
    if !left.is_empty() {
        problems.push(format!("processes left: {left:?}"));
    }
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        tail(&output)
    );
}

/// Where user namespaces are refused (here: a limit of 0 set inside one),
/// the demo says so before it builds anything, and exits 1. Root of that
/// user namespace does not own the host's network namespace: the veth step
/// is announced as skipped, not attempted.
#[test]
fn refused_namespaces_are_named_before_anything_is_built() {
    if !require_root() {
        return;
    }
    let script = r#"echo 0 > /proc/sys/user/max_user_namespaces || exit 98
"$0" --user true 2>/dev/null && exit 99
exec "$1" demo"#;
    let run = TestCommand::new(bin("ns-unshare"))
        .args(["--user", "--map-root-user", "/bin/sh", "-c", script])
        .arg(bin("ns-unshare"))
        .arg(bin("xtask"))
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("the demo cannot run on this machine:\n  - the container needs new user")
            && run.stderr.contains("unshare(2) refuses them here"),
        "{run}"
    );
    assert!(
        run.stdout.contains(
            "the veth step is skipped: root here is root of a user namespace that does not \
             own this network namespace"
        ),
        "{run}"
    );
    assert!(!run.stdout.contains("==> step 1"), "{run}");
}

/// The leftover finder finds what it is meant to (so that "nothing left"
/// means something): a process by its mark, its working directory, its uid.
#[test]
fn leftovers_are_found_by_mark_directory_and_uid() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("leftovers");
    let mark = unique_mark();
    let mut sleeper = Command::new("sleep")
        .arg("60")
        .env(MARK, &mark)
        .current_dir(dir.path())
        .uid(nstools_tests::UNPRIVILEGED.0)
        .spawn()
        .expect("start sleep");
    let pid = sleeper.id().to_string();
    let nobody = nstools_tests::UNPRIVILEGED.0;
    let mine = |found: Vec<String>| {
        found
            .iter()
            .any(|line| line.split(' ').next() == Some(&pid))
    };
    let by_mark = mine(leftovers::processes(Some((MARK, &mark)), None, &[]));
    let by_dir = mine(leftovers::processes(None, Some(dir.path()), &[]));
    let by_uid = mine(leftovers::processes(None, None, &[nobody..=nobody]));
    let other_mark = mine(leftovers::processes(Some((MARK, "other")), None, &[]));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(
        by_mark && by_dir && by_uid,
        "mark {by_mark}, dir {by_dir}, uid {by_uid}"
    );
    assert!(!other_mark, "found by another mark");
}
