//! The reference tools the differential tests compare against: util-linux
//! 2.42.x and coreutils 9.10 (the newest releases, the reference) from a
//! Debian forky root that our own ns-bootstrap builds once and caches under
//! `target/reference/`, and the host's own (util-linux 2.38.1), pinned where
//! the two agree.
//!
//! The newest tools run on the host — its /proc, its mounts, its namespaces
//! — through the forky root's own dynamic loader and libraries, never by
//! chrooting: `LOADER --argv0 NAME --library-path LIBS BINARY ARGS`, so
//! their messages say `NAME:` as an installed one's would.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::TestCommand;

/// Which release of the reference tools a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// util-linux 2.42.x and coreutils 9.10 from the cached forky root: the
    /// reference.
    Newest,
    /// The host's /usr/bin and /usr/sbin (util-linux 2.38.1 on Debian 12).
    Host,
}

/// The directories a Debian root keeps its commands in, searched in order.
const COMMAND_DIRS: [&str; 4] = ["usr/bin", "usr/sbin", "bin", "sbin"];

/// The forky root holding the newest reference tools, built on first use
/// (by whichever test gets there first; the others wait on a lock) with
/// the ns-bootstrap under test from the host's mirror. Panics with the
/// reason when it cannot be built: a differential test without its
/// reference would prove nothing.
pub fn newest_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(build_newest_root)
}

/// `name` (`mount`, `lsns`, `chroot`, …) of the given release, ready for
/// arguments: a reference tool to compare ours against.
pub fn command(release: Release, name: &str) -> TestCommand {
    let argv = command_line(release, name);
    TestCommand::new(&argv[0]).args(&argv[1..])
}

/// The command line that runs `name` of a release, ready for arguments:
/// for the newest, the loader with its options and the binary, so that a
/// shell script can `exec` it under the reference tool's name.
pub fn command_line(release: Release, name: &str) -> Vec<PathBuf> {
    match release {
        Release::Host => vec![COMMAND_DIRS
            .iter()
            .map(|dir| Path::new("/").join(dir).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("the host has no {name} in {COMMAND_DIRS:?}"))],
        Release::Newest => newest_argv(name).into_iter().map(PathBuf::from).collect(),
    }
}

/// The version line `name --version` prints for a release (for messages
/// and for the tests that pin one release's behaviour).
pub fn version(release: Release, name: &str) -> String {
    let out = command(release, name).arg("--version").run();
    out.stdout.lines().next().unwrap_or_default().to_string()
}

fn build_newest_root() -> PathBuf {
    let target = crate::bin("ns-bootstrap")
        .parent()
        .and_then(Path::parent)
        .expect("target/")
        .join("reference");
    let root = target.join("forky");
    let done = root.join(".nstools-reference-complete");
    if done.exists() {
        return root;
    }
    std::fs::create_dir_all(&target).expect("create target/reference");
    let lock = std::fs::File::create(target.join(".lock")).expect("create target/reference/.lock");
    // SAFETY: flock on a descriptor we own; released when `lock` closes.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        panic!(
            "flock target/reference/.lock: {}",
            std::io::Error::last_os_error()
        );
    }
    if done.exists() {
        return root;
    }
    // Built beside the final place and renamed into it, so an interrupted
    // build never looks complete.
    let partial = target.join("forky.partial");
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&root);
    let mut bootstrap = Command::new(crate::bin("ns-bootstrap"));
    bootstrap
        // switch_root and pivot_root are in util-linux-extra since trixie.
        .args(["--variant=minbase", "--include=util-linux-extra", "forky"])
        .arg(&partial)
        .arg(crate::mirror::host_mirror());
    let output = bootstrap.output().expect("run ns-bootstrap");
    assert!(
        output.status.success(),
        "building the reference root (util-linux 2.42, coreutils 9.10) with `ns-bootstrap \
         --variant=minbase forky` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(partial.join(".nstools-reference-complete"), b"")
        .expect("mark the reference root complete");
    std::fs::rename(&partial, &root).expect("move the reference root into place");
    root
}

/// Runs the same arguments through ours and a reference and returns both
/// outcomes: (ours, reference).
pub fn both<S: AsRef<OsStr> + Clone>(
    ours: &Path,
    release: Release,
    name: &str,
    args: &[S],
) -> (crate::Outcome, crate::Outcome) {
    let mine = TestCommand::new(ours)
        .arg0(name)
        .args(args.iter().cloned())
        .run();
    let theirs = command(release, name).args(args.iter().cloned()).run();
    (mine, theirs)
}

/// The newest release's `name` run through its root's own loader and
/// libraries on the host, named `name` (as a symlink would name it).
fn newest_argv(name: &str) -> Vec<String> {
    let root = newest_root();
    let binary = COMMAND_DIRS
        .iter()
        .map(|dir| root.join(dir).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{} has no {name}", root.display()));
    let libraries = format!(
        "{}:{}",
        root.join("usr/lib/x86_64-linux-gnu").display(),
        root.join("lib/x86_64-linux-gnu").display()
    );
    let text = |path: PathBuf| path.to_string_lossy().into_owned();
    vec![
        text(root.join("lib64/ld-linux-x86-64.so.2")),
        "--argv0".into(),
        name.into(),
        "--library-path".into(),
        libraries,
        text(binary),
    ]
}

/// `name` of the given release as the words of one command line joined
/// by spaces, for scripts that run the reference as `$U ARGS` (`$U`
/// expanded unquoted, so split at the spaces), also under setpriv or
/// timeout. The host's is its bare name, found in the system PATH as a
/// user's shell finds it (getopt's messages show `argv[0]` as given).
/// Panics if a word has white space or a quote in it.
pub fn shell_command(release: Release, name: &str) -> String {
    let words: Vec<String> = match release {
        Release::Host => {
            assert!(
                COMMAND_DIRS
                    .iter()
                    .any(|dir| Path::new("/").join(dir).join(name).exists()),
                "the host has no {name} in {COMMAND_DIRS:?}"
            );
            vec![name.to_string()]
        }
        Release::Newest => newest_argv(name),
    };
    for word in &words {
        assert!(
            !word.contains(|c: char| c.is_whitespace() || "'\"\\$`*?[".contains(c)),
            "{word:?} cannot be split out of a shell variable"
        );
    }
    words.join(" ")
}
