//! Where every switch_root under test runs, ours and the references alike:
//! switch_root deletes the files of the root it leaves, so it must never
//! be given the host's. A script runs in new mount, UTS, IPC and network
//! namespaces, mounts a tmpfs (the initramfs) on a test's own directory,
//! binds the host's /usr and /etc into it read-only (the shell, the
//! loaders and the host's util-linux), copies the tools under test in, and
//! pivots into it, detaching the host's root before anything of the
//! script's own runs. Whatever the tool under test then does, even
//! deleting across mount points or following symlinks, it can reach only
//! the tmpfs, the read-only binds (EROFS) and the test's own directories.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use nstools_tests::TestCommand;

/// The script's first part, as the first process of the new namespaces
/// (PID 1 with `--pid`); a test's `setup` follows it, then [`PIVOT`].
/// From the environment: `BOX`, the test's directory the tmpfs goes on
/// (`OLD_ROOT=disk`: the directory itself, bound, plays a root on disk);
/// `TOOLS`, copied to /tools; `REAL`, if set, bound at /newroot; `PROC`,
/// if set, mounts the new PID namespace's proc at /proc (before the
/// pivot: in a user namespace the kernel mounts a proc only while another
/// is fully visible). Private propagation (unshare's default, made sure
/// of) keeps every mount out of the host's namespace, so the test's
/// directories hold nothing there when they are removed.
const PRELUDE: &str = r##"
mount --make-rprivate /
if [ "${OLD_ROOT:-}" = disk ]; then mount --bind "$BOX" "$BOX"; else mount -t tmpfs -o size=256m initramfs "$BOX"; fi
cd "$BOX"
mkdir host usr etc
for d in bin sbin lib lib64; do ln -s usr/$d $d; done
for d in usr etc; do mount --bind "/$d" "$d" && mount -o remount,bind,ro "$d"; done
cp -R "$TOOLS" tools
if [ -n "${REAL:-}" ]; then mkdir newroot && mount --bind "$REAL" newroot; fi
if [ -n "${PROC:-}" ]; then mkdir proc && mount -t proc proc proc; fi
"##;

/// The pivot, by the host's pivot_root (`HOST_PIVOT_ROOT`) whatever is
/// under test, and the host's root detached (by busybox: util-linux's
/// umount cannot work without /proc). `sh -e` stops the script at the
/// first failure, so the script's own part, after this, runs only once
/// both worked; the marker then says that `/` is the box.
const PIVOT: &str = r##"
cd "$BOX"
: > nstools-sandbox
"$HOST_PIVOT_ROOT" . host
busybox umount -l /host
cd /
if [ ! -e /nstools-sandbox ]; then echo "sandbox: / is not the box" >&2; exit 99; fi
rm /nstools-sandbox
rmdir /host
export PATH=/tools:/bin:/usr/bin
unset BOX TOOLS REAL PROC HOST_PIVOT_ROOT
"##;

/// One run in a box.
pub struct Sandbox<'a> {
    /// The test's directory the box is mounted on.
    pub dir: &'a Path,
    /// The tools under test (copied to /tools, first in PATH).
    pub tools: &'a Path,
    /// The real root, bound at /newroot.
    pub real: Option<&'a Path>,
    /// More environment for the script (`OLD_ROOT=disk`, …).
    pub env: &'a [(&'a str, &'a str)],
    /// A new PID namespace (`--fork --kill-child`: the script is its
    /// first process) with its proc at /proc. Without it there is no
    /// /proc: the host's would show the host's processes and, through
    /// the root link of each, the host's root. (Without it too the tool
    /// is not the namespace's init, which the kernel spares signals such
    /// as SIGPIPE.)
    pub pid: bool,
    /// More namespaces (`--user --map-root-user`).
    pub unshare: &'a [&'a str],
    /// The test's own shell, run in the box before the pivot (in a user
    /// namespace the kernel mounts a sysfs only while another is fully
    /// visible); the tools under test run only after it.
    pub setup: &'a str,
}

impl Sandbox<'_> {
    /// `script` after the prelude, with `sh -eu`, `args` as `$@`.
    pub fn command<A: AsRef<OsStr>>(&self, script: &str, args: &[A]) -> TestCommand {
        let script = format!("{PRELUDE}\n{}\n{PIVOT}\n{script}", self.setup);
        let mut command = TestCommand::new("/usr/bin/unshare")
            .args(["--mount", "--uts", "--ipc", "--net"])
            .args(self.unshare)
            .args(if self.pid {
                &["--pid", "--fork", "--kill-child"][..]
            } else {
                &[]
            })
            .args(["/bin/sh", "-euc", &script, "sh"])
            .args(args.iter())
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("BOX", self.dir)
            .env("TOOLS", self.tools)
            .env("HOST_PIVOT_ROOT", host_pivot_root())
            .env_remove("REAL")
            .env_remove("OLD_ROOT")
            .env_remove("PROC")
            .env_remove("SHELL")
            .timeout(Duration::from_secs(120));
        if let Some(real) = self.real {
            command = command.env("REAL", real);
        }
        if self.pid {
            command = command.env("PROC", "1");
        }
        for (key, value) in self.env {
            command = command.env(key, value);
        }
        command
    }
}

fn host_pivot_root() -> &'static str {
    ["/usr/sbin/pivot_root", "/sbin/pivot_root"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("the host's pivot_root (util-linux)")
}

#[test]
fn the_box_holds_nothing_writable_of_the_host() {
    if !nstools_tests::require_root() {
        return;
    }
    let dir = nstools_tests::TempDir::new("sandbox-probe");
    let tools = nstools_tests::TempDir::new("sandbox-tools");
    // Each write the host would see fails; the box's own tmpfs takes one.
    let script = r##"
for path in /usr/nstools-probe /etc/nstools-probe; do
    if error=$(touch "$path" 2>&1); then echo "wrote $path"; else echo "refused $path: ${error##*: }"; fi
done
ls -A /
touch /probe && echo "box writable"
echo "# mounts"
awk '{ print $5, substr($6, 1, 2), ($5 == "/" || $5 == "/proc") ? $(NF - 2) : "" }' /proc/self/mountinfo
"##;
    let box_ = Sandbox {
        dir: dir.path(),
        tools: tools.path(),
        real: None,
        env: &[],
        pid: true,
        unshare: &[],
        setup: "",
    };
    let out = box_.command(script, &[] as &[&str]).run();
    out.expect_code(0);
    assert!(
        out.stdout.starts_with(
            "refused /usr/nstools-probe: Read-only file system\n\
                 refused /etc/nstools-probe: Read-only file system\n"
        ),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("bin\netc\nlib\nlib64\nproc\nsbin\ntools\nusr\n"),
        "only what the prelude made: {out}"
    );
    // Every path the script can reach: the box, the two read-only binds
    // and the new PID namespace's proc; nothing else is mounted.
    assert!(
        out.stdout
            .ends_with("box writable\n# mounts\n/ rw tmpfs\n/usr ro \n/etc ro \n/proc rw proc\n"),
        "{out}"
    );
    assert!(!Path::new("/usr/nstools-probe").exists());
    assert!(!Path::new("/etc/nstools-probe").exists());
    assert_eq!(
        std::fs::read_dir(dir.path())
            .expect("the box's directory")
            .count(),
        0,
        "the tmpfs went with its namespace"
    );
}
