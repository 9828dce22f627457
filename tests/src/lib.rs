//! Helpers for the integration tests: run a built binary (ours or the
//! reference tool) and capture what it did, make throwaway directories and
//! small root filesystems, and compare two runs.

pub mod mirror;
pub mod reference;
pub mod running;
pub mod tree;

use std::ffi::OsStr;
use std::fmt;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The path of one of our binaries, as `cargo build` left it next to the
/// test executable (target/debug/deps/… → target/debug/NAME).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/debug");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// Tests that change roots, create namespaces and switch users need root.
/// Run by anyone else they skip, saying so (as uutils' do); where every
/// test must run (`CI` set, as CI systems set it, or
/// `NSTOOLS_REQUIRE_ROOT`), not being root is a failure instead. Returns
/// whether the test goes on.
#[must_use]
pub fn require_root() -> bool {
    if nix_geteuid() == 0 {
        return true;
    }
    let required = ["CI", "NSTOOLS_REQUIRE_ROOT"].iter().any(|name| {
        std::env::var(name).is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
    });
    assert!(
        !required,
        "this test needs root (it creates throwaway namespaces), and CI runs every test"
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    eprintln!(
        "skipped {test}: it needs root (it creates throwaway namespaces); run the tests as root"
    );
    false
}

fn nix_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The uid/gid the unprivileged cases run as (`nobody`/`nogroup`).
pub const UNPRIVILEGED: (u32, u32) = (65534, 65534);

/// A command to run, built up like `std::process::Command` but capturing
/// everything and never inheriting the terminal.
pub struct TestCommand {
    command: Command,
    stdin: Vec<u8>,
    shown: String,
    /// Killed (SIGKILL) when it runs longer: a hang is a failure, not a
    /// stuck test run.
    timeout: Option<std::time::Duration>,
}

impl TestCommand {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let shown = program.as_ref().to_string_lossy().into_owned();
        TestCommand {
            command: Command::new(program),
            stdin: Vec::new(),
            shown,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&arg.as_ref().to_string_lossy());
        self.command.arg(arg);
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// Runs under another `argv[0]`, as a symlink or a multi-call binary would.
    pub fn arg0(mut self, arg0: impl AsRef<OsStr>) -> Self {
        self.command.arg0(arg0);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = input.into();
        self
    }

    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Drops to an unprivileged user (std clears supplementary groups too).
    pub fn unprivileged(mut self) -> Self {
        self.command.uid(UNPRIVILEGED.0).gid(UNPRIVILEGED.1);
        self
    }

    /// The underlying command, for a test that drives the process itself
    /// (signals, incremental output).
    pub fn into_command(mut self) -> Command {
        self.command.stdin(Stdio::null()).stderr(Stdio::inherit());
        self.command
    }

    // The child is reaped by waitpid(2) in wait_measured, which std's
    // Child does not see.
    #[allow(clippy::zombie_processes)]
    pub fn run(mut self) -> Outcome {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.shown));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = pipe.read_to_end(&mut out);
                out
            })
        };
        let (stdout, stderr) = (read_all(Box::new(stdout)), read_all(Box::new(stderr)));
        // A child that exits without reading its input is not an error.
        let _ = stdin.write_all(&self.stdin);
        drop(stdin);
        let (status, max_rss_kib, timed_out) = wait_measured(child.id() as i32, self.timeout);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let status = std::process::ExitStatus::from_raw(status);
        Outcome {
            command: self.shown,
            code: status.code(),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            max_rss_kib,
            timed_out,
        }
    }
}

/// Waits for `pid`, polling the peak resident memory of it and its
/// descendants: (wait status, peak in KiB, whether it was killed for
/// running past `timeout`). The peak is read from `/proc/PID/status`
/// (VmHWM) while they run, because the rusage of a process started by
/// vfork counts its parent's memory as its own.
fn wait_measured(pid: i32, timeout: Option<std::time::Duration>) -> (i32, u64, bool) {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut timed_out = false;
    let mut peak = 0;
    loop {
        peak = peak.max(tree_peak_kib(pid));
        let mut status = 0;
        // SAFETY: waitpid on our own child, with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return (status, peak, timed_out);
        }
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            panic!("waitpid({pid}): {}", std::io::Error::last_os_error());
        }
        if deadline.is_some_and(|d| std::time::Instant::now() > d) && !timed_out {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            timed_out = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The largest VmHWM among `pid` and its descendants (KiB).
fn tree_peak_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let own = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let mut peak = own;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    for task in tasks {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            peak = peak.max(tree_peak_kib(child));
        }
    }
    peak
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub command: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The peak resident set of the process and its descendants (KiB), as
    /// polled while they ran.
    pub max_rss_kib: u64,
    /// Killed for running past its [`TestCommand::timeout`].
    pub timed_out: bool,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: code {:?}, signal {:?}{}\n--- stdout\n{}--- stderr\n{}",
            self.command,
            self.code,
            self.signal,
            if self.timed_out { " (timed out)" } else { "" },
            self.stdout,
            self.stderr
        )
    }
}

impl Outcome {
    /// Asserts an exit code, showing the whole run when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit status:\n{self}");
        self
    }
}

/// How closely stderr must agree in a differential case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Both empty, or both not.
    SameEmptiness,
    /// Byte for byte (our messages mirror the reference's).
    Identical,
}

/// A differential comparison: same status, same stdout, stderr as asked.
/// Returns a description of the difference, if any.
pub fn differences(ours: &Outcome, reference: &Outcome, stderr: Stderr) -> Option<String> {
    let mut problems = Vec::new();
    if (ours.code, ours.signal) != (reference.code, reference.signal) {
        problems.push("exit status differs");
    }
    if ours.stdout != reference.stdout {
        problems.push("stdout differs");
    }
    let stderr_differs = match stderr {
        Stderr::SameEmptiness => ours.stderr.is_empty() != reference.stderr.is_empty(),
        Stderr::Identical => ours.stderr != reference.stderr,
    };
    if stderr_differs {
        problems.push("stderr differs");
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "{}\nours: {ours}\nreference: {reference}",
            problems.join(", ")
        ))
    }
}

/// A directory under /tmp removed (recursively) when dropped, also when
/// the test fails. Mode 0755 so an unprivileged user can use what is in it.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("nstools-{label}-{}-{unique}", std::process::id()));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The walk-through's namespaces: `ns-unshare --mount --uts --ipc --net
/// --map-root-user --user --pid --fork`.
pub const WALK_THROUGH: &[&str] = &[
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--map-root-user",
    "--user",
    "--pid",
    "--fork",
];

/// Where our built tools appear inside a container.
pub const TOOLS_INSIDE: &str = "/opt/nstools";

/// The walk-through's container around `root`: `ns-unshare WALK_THROUGH sh
/// -c 'BINDS && exec ns-chroot ROOT SHELL -c SCRIPT'`. Our built tools are
/// bind-mounted at TOOLS_INSIDE (and found first in PATH), after `binds`
/// (ns-mount flag, host path, path inside the root); all of it inside the
/// container's own mount namespace, so the host never sees a mount.
pub fn in_container(
    root: &Path,
    binds: &[(&str, &str, &str)],
    shell: &str,
    script: &str,
) -> TestCommand {
    let tools = bin("ns-unshare")
        .parent()
        .expect("target dir")
        .display()
        .to_string();
    let root = root.display();
    std::fs::create_dir_all(format!("{root}{TOOLS_INSIDE}")).expect("mkdir the tools' mount point");
    let mut chain = String::new();
    for (flag, host, inside) in binds
        .iter()
        .chain([&("--bind", tools.as_str(), TOOLS_INSIDE)])
    {
        chain.push_str(&format!(
            "{tools}/ns-mount {flag} {host} {root}{inside} && "
        ));
    }
    chain.push_str(&format!("exec {tools}/ns-chroot {root} {shell} -c \"$0\""));
    TestCommand::new(bin("ns-unshare"))
        .args(WALK_THROUGH)
        .args(["/bin/sh", "-c", &chain, script])
        .env(
            "PATH",
            format!("{TOOLS_INSIDE}:/usr/sbin:/usr/bin:/sbin:/bin"),
        )
}

/// A differential test's box for a tool run by the reference's name: a
/// directory holding a symlink `name` to our `binary` (put first in PATH,
/// or run by that path, so getopt's messages name it `name`), and a
/// busybox root whose root and nobody log in to `/probe`, a script that
/// says which shell it was run as, with `extra` files besides.
pub struct ProbeBox {
    _keep: TempDir,
    /// The directory holding our `name`.
    pub ours: PathBuf,
    pub root: PathBuf,
}

impl ProbeBox {
    pub fn new(name: &str, binary: &str, extra: &[(&str, &str)]) -> ProbeBox {
        let keep = TempDir::new(name);
        let ours = keep.path().join("ours");
        std::fs::create_dir(&ours).expect("mkdir ours");
        std::os::unix::fs::symlink(bin(binary), ours.join(name)).expect("symlink");
        let root = keep.path().join("root");
        let mut files = vec![
            (
                "etc/passwd",
                "root:x:0:0:root:/root:/probe\nnobody:x:65534:65534::/:/probe\n",
            ),
            ("probe", "#!/bin/sh\necho \"shell $0\"\n"),
        ];
        files.extend_from_slice(extra);
        busybox_root(&root, &files);
        std::fs::set_permissions(
            root.join("probe"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod probe");
        ProbeBox {
            _keep: keep,
            ours,
            root,
        }
    }
}

/// Debian's static busybox (package busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// A minimal root filesystem: static busybox with its applets as symlinks
/// in /bin, and the files given as (path, contents), e.g. etc/passwd.
pub fn busybox_root(dir: &Path, files: &[(&str, &str)]) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin");
    std::fs::copy(BUSYBOX, bin.join("busybox"))
        .unwrap_or_else(|e| panic!("{BUSYBOX} (apt install busybox-static): {e}"));
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet symlink");
        }
    }
    for (path, contents) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("file in a directory")).expect("mkdir");
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
