//! Each upstream test in a private mount and PID namespace, and what it
//! leaves behind found and removed: the suites do not clean up after a
//! failing test, and some not even after a passing one.
//!
//! - Mounts: compared inside the namespace, before and after the test (a
//!   mount left there fails the test; the namespace takes it along).
//! - Loop devices are not namespaced: those whose backing file lies under
//!   the watched directory (the suites' own images; other loop devices on
//!   the machine are someone else's) and still attached once the test's
//!   namespace is gone fail the test and are detached.
//! - Files: /run and /tmp are the namespace's own tmpfs mounts, and /sbin
//!   gets a writable overlay of the namespace (util-linux's mount/special
//!   writes `/sbin/mount.mytest`); on a kernel without overlayfs the files
//!   a suite is known to write there are removed after every test.
//! - Processes die with the PID namespace, also on a timeout.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The script PID 1 runs: the tmpfs mounts, the mount tables, the test.
const SCRIPT: &str = include_str!("sandbox.sh");

/// The commands the sandbox itself uses come from the system, whatever the
/// test is given.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a loop device with autoclear may take to go once the
/// namespace holding its mount is gone (the kernel detaches it from a work
/// queue).
const AUTOCLEAR_GRACE: Duration = Duration::from_secs(5);

pub struct Sandbox {
    /// Scratch files (the script, the mount tables).
    scratch: PathBuf,
    /// Loop devices backed by files under here are the tests'.
    watched: PathBuf,
    /// Files the suite may write on the host, removed after each test.
    host_files: &'static [&'static str],
}

/// How a test ended.
#[derive(Debug)]
pub struct Finished {
    /// The test's exit status; `None` when it was killed at the deadline.
    pub code: Option<i32>,
    /// Its stdout and stderr.
    pub output: String,
    /// What it left behind (now removed), one description each.
    pub left: Vec<String>,
}

impl Sandbox {
    /// Refuses to start when a host file the suite writes is already there
    /// (it is not ours to remove), or when loop devices of an interrupted
    /// earlier run are still attached (they are detached, and named).
    pub fn new(
        scratch: &Path,
        watched: &Path,
        host_files: &'static [&'static str],
    ) -> Result<Self, String> {
        for file in host_files {
            if Path::new(file).symlink_metadata().is_ok() {
                return Err(format!(
                    "{file} exists; the upstream tests write and remove it, so it must not be \
                     there before (move it away)"
                ));
            }
        }
        std::fs::create_dir_all(scratch)
            .map_err(|e| format!("create {}: {e}", scratch.display()))?;
        let watched = watched
            .canonicalize()
            .map_err(|e| format!("{}: {e}", watched.display()))?;
        for (device, backing) in detach_loop_devices(&watched)? {
            eprintln!("detached {device} ({backing}), left attached by an earlier run");
        }
        let script = scratch.join("sandbox.sh");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("write {}: {e}", script.display()))?;
        Ok(Sandbox {
            scratch: scratch.to_path_buf(),
            watched,
            host_files,
        })
    }

    /// Runs `program args` in `cwd` with exactly `env` (plus PATH when it
    /// does not set one) in a fresh mount and PID namespace, its output
    /// also written to `log`; killed after `timeout`.
    pub fn run(
        &self,
        program: &Path,
        args: &[OsString],
        env: &[(String, OsString)],
        cwd: &Path,
        log: &Path,
        timeout: Duration,
    ) -> Result<Finished, String> {
        let before = self.scratch.join("mountinfo.before");
        let after = self.scratch.join("mountinfo.after");
        for table in [&before, &after] {
            let _ = std::fs::remove_file(table);
        }
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("open {}: {e}", log.display()))?;
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--pid", "--fork", "--mount-proc"])
            // The sandbox must not outlive us: PID 1 gets SIGKILL when
            // unshare dies, and the namespace with it.
            .args(["--propagation", "private", "--kill-child", "--"])
            .arg("sh")
            .arg(self.scratch.join("sandbox.sh"))
            .arg(&before)
            .arg(&after)
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", SYSTEM_PATH)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run unshare for {}: {e}", program.display()))?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("wait for {}: {e}", program.display())),
            }
        };
        let output = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
        let before_text = std::fs::read(&before).ok();
        if status.is_some() && before_text.is_none() {
            return Err(format!(
                "the sandbox for {} did not start (unshare, or its tmpfs mounts):\n{output}",
                program.display()
            ));
        }
        let mut left = Vec::new();
        if let (Some(before), Ok(after)) = (before_text, std::fs::read(&after)) {
            left.extend(left_mounted(&before, &after));
        }
        for (device, backing) in self.settled_loop_devices()? {
            left.push(format!("loop device {device} ({backing})"));
        }
        for file in self.host_files {
            if Path::new(file).symlink_metadata().is_ok() {
                std::fs::remove_file(file).map_err(|e| format!("remove {file}: {e}"))?;
            }
        }
        Ok(Finished {
            code: status.map(|s| s.code().unwrap_or(128)),
            output,
            left,
        })
    }

    /// The watched loop devices still attached once autoclear has had its
    /// time; detached.
    fn settled_loop_devices(&self) -> Result<Vec<(String, String)>, String> {
        let start = Instant::now();
        while !loop_devices(&self.watched).is_empty() && start.elapsed() < AUTOCLEAR_GRACE {
            std::thread::sleep(Duration::from_millis(50));
        }
        detach_loop_devices(&self.watched)
    }
}

/// The mounts in `after` that `before` lacks (by mount ID), described.
pub fn left_mounted(before: &[u8], after: &[u8]) -> Vec<String> {
    let known: Vec<u32> = ns_sys::mountinfo::parse(before)
        .iter()
        .map(|e| e.id)
        .collect();
    ns_sys::mountinfo::parse(after)
        .into_iter()
        .filter(|e| !known.contains(&e.id))
        .map(|e| {
            format!(
                "mount {} ({} from {})",
                e.target.to_string_lossy(),
                e.fstype,
                e.source.to_string_lossy()
            )
        })
        .collect()
}

/// The attached loop devices backed by files under `watched`: (device,
/// backing file).
fn loop_devices(watched: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(backing) = std::fs::read(entry.path().join("loop/backing_file")) else {
            continue;
        };
        let backing = String::from_utf8_lossy(&backing).trim_end().to_string();
        if is_under(&backing, watched) {
            found.push((format!("/dev/{name}"), backing));
        }
    }
    found.sort();
    found
}

/// The kernel's backing-file name is the path when it was attached, with
/// ` (deleted)` appended once the file is gone.
fn is_under(backing: &str, dir: &Path) -> bool {
    let path = backing.strip_suffix(" (deleted)").unwrap_or(backing);
    Path::new(path).starts_with(dir) && path.len() > dir.as_os_str().len()
}

/// Detaches the watched loop devices; returns them.
fn detach_loop_devices(watched: &Path) -> Result<Vec<(String, String)>, String> {
    let found = loop_devices(watched);
    for (device, backing) in &found {
        let status = Command::new("losetup")
            .arg("-d")
            .arg(device)
            .env("PATH", SYSTEM_PATH)
            .status()
            .map_err(|e| format!("cannot run losetup -d {device}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "losetup -d {device} ({backing}) failed ({status}); detach it by hand"
            ));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_left_are_those_with_new_ids() {
        let before = b"22 1 8:1 / / rw - ext4 /dev/vda1 rw\n\
            30 22 0:5 / /proc rw - proc proc rw\n";
        let after = b"22 1 8:1 / / rw - ext4 /dev/vda1 rw\n\
            41 22 0:40 / /tmp/a\\040b rw - tmpfs none rw\n\
            garbage line\n\
            42 41 7:3 / /tmp/a\\040b/m rw - ext2 /dev/loop3 rw\n";
        assert_eq!(
            left_mounted(before, after),
            [
                "mount /tmp/a b (tmpfs from none)",
                "mount /tmp/a b/m (ext2 from /dev/loop3)"
            ]
        );
        // An unmounted /proc is not something left behind.
        assert!(left_mounted(before, b"22 1 8:1 / / rw - ext4 /dev/vda1 rw\n").is_empty());
        assert!(left_mounted(b"", b"").is_empty());
    }

    #[test]
    fn backing_files_under_the_watched_tree() {
        let dir = Path::new("/w/target/upstream");
        assert!(is_under("/w/target/upstream/x/img", dir));
        assert!(is_under("/w/target/upstream/x/img (deleted)", dir));
        assert!(!is_under("/w/target/upstream", dir));
        assert!(!is_under("/w/target/upstreamer/img", dir));
        assert!(!is_under("/tmp/other-engineers.img", dir));
        assert!(!is_under("", dir));
    }
}
