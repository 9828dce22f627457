//! A second rustup home and cargo home, as a newcomer has them: the
//! toolchain these tests run with, less the components a test leaves out
//! (the musl target, rust-src, the docs), and the crates this machine has
//! already downloaded, so that the build needs no network (the tests talk
//! to the Debian mirror only).
//!
//! Files are hard links into the real homes (copies across filesystems);
//! what the new homes write is new files in their own directories. rustup
//! decides what is installed from the toolchain's `components` file and
//! per-component manifests, which are rewritten without the left-out ones.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub struct Homes {
    pub rustup: PathBuf,
    pub cargo: PathBuf,
    /// RUSTUP_HOME/toolchains/NAME.
    pub toolchain: PathBuf,
}

impl Homes {
    /// `cargo` as the newcomer's PATH finds it: rustup's proxy.
    pub fn cargo_bin(&self) -> PathBuf {
        self.cargo.join("bin/cargo")
    }

    /// The environment a login shell of the newcomer would have.
    pub fn path(&self) -> String {
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.cargo.join("bin").display()
        )
    }
}

/// The toolchain directory of the cargo running the tests
/// (RUSTUP_HOME/toolchains/NAME/bin/cargo).
fn toolchain_dir() -> PathBuf {
    let cargo = PathBuf::from(std::env::var_os("CARGO").expect("cargo test sets CARGO"));
    let dir = cargo
        .parent()
        .and_then(Path::parent)
        .expect("CARGO is TOOLCHAIN/bin/cargo")
        .to_path_buf();
    assert!(
        dir.join("lib/rustlib/components").is_file(),
        "{} is not a rustup toolchain: the newcomer tests copy one",
        dir.display()
    );
    dir
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cargo"))
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME"))
}

/// Makes `dir`/rustup and `dir`/cargo, owned by `owner` where they are
/// new; the toolchain without the components named in `leave_out` (a name
/// or the first part of one: `rust-docs` is `rust-docs-x86_64-…`).
pub fn make(dir: &Path, leave_out: &[&str], owner: (u32, u32)) -> Homes {
    let toolchain = toolchain_dir();
    let name = toolchain.file_name().expect("toolchain name").to_owned();
    let rustup = dir.join("rustup");
    let cargo = dir.join("cargo");
    let new_toolchain = rustup.join("toolchains").join(&name);

    let rustlib = toolchain.join("lib/rustlib");
    let components = read(&rustlib.join("components"));
    let (kept, dropped): (Vec<&str>, Vec<&str>) = components.lines().partition(|component| {
        !leave_out
            .iter()
            .any(|out| component == out || component.starts_with(&format!("{out}-")))
    });
    // What rustup installed for the dropped components: their manifests'
    // `file:` and `dir:` entries, and the manifests themselves.
    let mut files = BTreeSet::new();
    let mut dirs = Vec::new();
    for component in &dropped {
        let manifest = format!("lib/rustlib/manifest-{component}");
        for line in read(&toolchain.join(&manifest)).lines() {
            match line.split_once(':') {
                Some(("file", path)) => {
                    files.insert(PathBuf::from(path));
                }
                Some(("dir", path)) => dirs.push(PathBuf::from(path)),
                _ => panic!("{manifest}: unexpected line {line:?}"),
            }
        }
        files.insert(PathBuf::from(manifest));
    }
    let skip = |relative: &Path| {
        files.contains(relative) || dirs.iter().any(|dir| relative.starts_with(dir))
    };
    let components_file = Path::new("lib/rustlib/components");
    link_tree(
        &toolchain,
        &new_toolchain,
        Path::new(""),
        &|relative| !skip(relative) && relative != components_file,
        owner,
    );
    write(
        &new_toolchain.join(components_file),
        &format!("{}\n", kept.join("\n")),
        owner,
    );

    let settings = read(&home_of_rustup().join("settings.toml"));
    let version = settings
        .lines()
        .find(|line| line.starts_with("version"))
        .unwrap_or("version = \"12\"");
    write(
        &rustup.join("settings.toml"),
        &format!(
            "{version}\ndefault_toolchain = \"{}\"\nprofile = \"default\"\n\
             auto_self_update = \"disable\"\n",
            name.to_string_lossy()
        ),
        owner,
    );

    // rustup's proxies are rustup itself under other names.
    let rustup_binary = cargo_home().join("bin/rustup");
    make_dir(&cargo.join("bin"), owner);
    for proxy in ["rustup", "cargo", "rustc", "rustdoc"] {
        link_or_copy(&rustup_binary, &cargo.join("bin").join(proxy));
    }
    // The crates already downloaded; the index is copied, not linked,
    // because cargo rewrites its cache entries in place.
    let registry = cargo_home().join("registry");
    make_dir(&cargo.join("registry"), owner);
    for part in ["cache", "src"] {
        link_tree(
            &registry.join(part),
            &cargo.join("registry").join(part),
            Path::new(""),
            &|_| true,
            owner,
        );
    }
    copy_tree(
        &registry.join("index"),
        &cargo.join("registry/index"),
        owner,
    );
    Homes {
        rustup,
        cargo,
        toolchain: new_toolchain,
    }
}

fn home_of_rustup() -> PathBuf {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".rustup"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str, owner: (u32, u32)) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    chown(path, owner);
}

/// `mkdir -p`, each directory it makes owned by `owner`.
fn make_dir(path: &Path, owner: (u32, u32)) {
    let new: Vec<&Path> = path.ancestors().take_while(|dir| !dir.exists()).collect();
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for dir in new {
        chown(dir, owner);
    }
}

fn chown(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// Mirrors `from` under `to`: directories made (and owned by `owner`),
/// files linked, symlinks re-made; only paths `keep` accepts (relative).
fn link_tree(
    from: &Path,
    to: &Path,
    relative: &Path,
    keep: &dyn Fn(&Path) -> bool,
    owner: (u32, u32),
) {
    make_dir(to, owner);
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries.map(|e| e.expect("directory entry")) {
        let relative = relative.join(entry.file_name());
        if !keep(&relative) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            link_tree(&source, &target, &relative, keep, owner);
            // A directory only left-out files were in (the musl target's
            // lib/rustlib/x86_64-unknown-linux-musl) is not made at all.
            if is_empty(&target) && !is_empty(&source) {
                std::fs::remove_dir(&target).expect("remove an empty directory");
            }
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).expect("readlink");
            std::os::unix::fs::symlink(&link, &target).expect("symlink");
            chown(&target, owner);
        } else {
            link_or_copy(&source, &target);
        }
    }
}

fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    }
}

/// A real copy (new inodes), owned by `owner`.
fn copy_tree(from: &Path, to: &Path, owner: (u32, u32)) {
    make_dir(to, owner);
    for entry in std::fs::read_dir(from).unwrap().map(|e| e.unwrap()) {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&source, &target, owner);
        } else if kind.is_file() {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
            chown(&target, owner);
        }
    }
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}
