//! What `cargo xtask test` needs besides a Rust toolchain, checked before
//! the first step: Debian packages (the reference tools, qemu, …), the
//! musl target, rustfmt, clippy and rust-src, and root. As root on Debian
//! whatever is missing is installed, and listed first; otherwise the task
//! prints the one command that installs it and exits 2.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use crate::run::{checked, display, Failure};
use crate::toolchain::{has_rustup, Toolchain, MUSL};

/// The Debian packages the tests use, and what for.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "busybox-static",
        "the small root filesystems of the integration tests; the initramfs' shell",
    ),
    (
        "uidmap",
        "newuidmap/newgidmap for unprivileged user namespaces",
    ),
    ("musl-tools", "the static builds of cargo xtask dist"),
    (
        "util-linux",
        "the reference unshare, mount, umount and lsns",
    ),
    ("iproute2", "ip in the ns-unshare, scenario and demo tests"),
    (
        "procps",
        "pgrep in the ns-unshare tests (no process left behind)",
    ),
    ("qemu-system-x86", "the initramfs booted under qemu"),
    ("cpio", "the initramfs read back by xtask's unit test"),
    ("man-db", "the generated man pages rendered with man -l"),
    (
        "e2fsprogs",
        "the images of ns-mount's loop-device tests; the boot's root disk (mkfs.ext4 -d, debugfs)",
    ),
    ("dosfstools", "the images of ns-mount's loop-device tests"),
    ("debootstrap", "ns-bootstrap's reference (tests and bench)"),
    ("mmdebstrap", "ns-bootstrap's reference (tests and bench)"),
    (
        "gnupg",
        "the test key that signs ns-bootstrap's local test mirror",
    ),
    ("git", "the newcomer test clones the repository"),
    (
        "gpgv",
        "the reference verifier ns-bootstrap's OpenPGP checks agree with",
    ),
    (
        "xz-utils",
        "the xz bomb of ns-bootstrap's hostile-input tests; the boot's uncompressed kernel",
    ),
    (
        "skopeo",
        "reads ns-bootstrap's OCI images back (oci: and oci-archive:)",
    ),
    (
        "umoci",
        "unpacks ns-bootstrap's OCI images; builds the bench's",
    ),
    ("podman", "loads and runs ns-bootstrap's OCI image"),
    (
        "runc",
        "podman's runtime in the OCI test (crun refuses hybrid cgroups)",
    ),
    (
        "gcc",
        "builds util-linux and coreutils for their own test suites (upstream-tests)",
    ),
    (
        "libc6-dev",
        "the C headers and libraries the upstream builds compile against",
    ),
    ("make", "runs the upstream builds and coreutils' tests"),
    (
        "pkg-config",
        "util-linux's configure looks its libraries up with it",
    ),
    (
        "libcap-ng-dev",
        "util-linux's setpriv, which its misc/canonicalize test runs",
    ),
    ("perl", "coreutils' tests (some are Perl, the rest use it)"),
];

/// The rustup components the steps use: formatting, clippy, and the
/// standard library's sources for dist's size-optimised build.
pub const COMPONENTS: &[&str] = &["rustfmt", "clippy", "rust-src"];

/// What this machine lacks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Missing {
    pub packages: Vec<String>,
    pub targets: Vec<String>,
    pub components: Vec<String>,
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.targets.is_empty() && self.components.is_empty()
    }

    fn rust(&self) -> bool {
        !self.targets.is_empty() || !self.components.is_empty()
    }

    /// One line per kind, for the list shown before installing.
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.packages.is_empty() {
            lines.push(format!("apt packages: {}", self.packages.join(" ")));
        }
        if !self.targets.is_empty() {
            lines.push(format!("rustup targets: {}", self.targets.join(" ")));
        }
        if !self.components.is_empty() {
            lines.push(format!("rustup components: {}", self.components.join(" ")));
        }
        lines
    }

    /// The commands that install it all; apt's with `sudo` unless root.
    fn commands(&self, root: bool) -> Vec<Vec<String>> {
        let words = |words: &[&str], rest: &[String]| -> Vec<String> {
            words
                .iter()
                .map(|w| w.to_string())
                .chain(rest.iter().cloned())
                .collect()
        };
        let mut commands = Vec::new();
        if !self.packages.is_empty() {
            let sudo: &[&str] = if root { &[] } else { &["sudo"] };
            commands.push(words(
                &[sudo, &["apt-get", "install", "--no-install-recommends"]].concat(),
                &self.packages,
            ));
        }
        if !self.targets.is_empty() {
            commands.push(words(&["rustup", "target", "add"], &self.targets));
        }
        if !self.components.is_empty() {
            commands.push(words(&["rustup", "component", "add"], &self.components));
        }
        commands
    }
}

/// The facts about this machine that decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub root: bool,
    /// dpkg-query and apt-get are there (a Debian machine).
    pub debian: bool,
    pub rustup: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    Ready,
    /// Install it all (root on Debian, with rustup for the Rust pieces).
    Install,
    /// Exit 2 after saying this.
    Tell(String),
}

pub fn plan(missing: &Missing, host: Host) -> Plan {
    if !host.debian {
        return Plan::Tell(format!(
            "the tests run beside Debian 12's tools and need a Debian machine (dpkg-query \
             and apt-get), with these packages: {}",
            PACKAGES
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let can_install = host.root && (host.rustup || !missing.rust());
    match (missing.is_empty(), host.root) {
        (true, true) => Plan::Ready,
        (true, false) => Plan::Tell(
            "the integration tests make namespaces, mounts and users: run cargo xtask test \
             as root"
                .to_string(),
        ),
        (false, _) if can_install => Plan::Install,
        (false, _) => {
            let mut message = format!(
                "cargo xtask test needs what this machine lacks:\n  {}",
                missing.lines().join("\n  ")
            );
            if !host.root {
                message
                    .push_str("\n  root: the integration tests make namespaces, mounts and users");
            }
            if missing.rust() && !host.rustup {
                message.push_str(
                    "\n  rustup: this toolchain is not rustup's, so it cannot add targets \
                     or components (see https://rustup.rs)",
                );
            }
            let commands: Vec<String> = missing
                .commands(host.root)
                .iter()
                .map(|words| words.join(" "))
                .collect();
            message.push_str(&format!(
                "\nAs root on Debian cargo xtask test installs them itself; or run:\n  {}",
                commands.join(" && ")
            ));
            Plan::Tell(message)
        }
    }
}

/// Checks, and installs or explains; `Err` with status 2 when the tests
/// cannot run as things are.
pub fn ensure() -> Result<(), Failure> {
    let host = Host {
        // SAFETY: geteuid cannot fail and has no preconditions.
        root: unsafe { libc::geteuid() } == 0,
        debian: on_path("dpkg-query") && on_path("apt-get"),
        rustup: has_rustup(),
    };
    let missing = find_missing(host.debian)?;
    match plan(&missing, host) {
        Plan::Ready => Ok(()),
        Plan::Tell(message) => Err(Failure { message, code: 2 }),
        Plan::Install => {
            eprintln!(
                "==> installing what the tests need\n  {}",
                missing.lines().join("\n  ")
            );
            install(&missing)?;
            let left = find_missing(true)?;
            if left.is_empty() {
                Ok(())
            } else {
                Err(Failure::from(format!(
                    "still missing after installing: {}",
                    left.lines().join("; ")
                )))
            }
        }
    }
}

fn find_missing(debian: bool) -> Result<Missing, String> {
    let toolchain = Toolchain::current()?;
    let packages = if debian {
        installed_packages()?
    } else {
        BTreeSet::new()
    };
    Ok(Missing {
        packages: PACKAGES
            .iter()
            .map(|(package, _)| package.to_string())
            .filter(|package| debian && !packages.contains(package))
            .collect(),
        targets: [MUSL]
            .iter()
            .filter(|target| !toolchain.has_target(target))
            .map(|target| target.to_string())
            .collect(),
        components: COMPONENTS
            .iter()
            .filter(|component| match **component {
                "rustfmt" => !toolchain.has_cargo_tool("fmt"),
                "clippy" => !toolchain.has_cargo_tool("clippy"),
                _ => !toolchain.has_rust_src(),
            })
            .map(|component| component.to_string())
            .collect(),
    })
}

/// The packages of PACKAGES that dpkg has installed.
fn installed_packages() -> Result<BTreeSet<String>, String> {
    let mut query = Command::new("dpkg-query");
    query
        .args(["-W", "-f=${Package} ${db:Status-Abbrev}\\n"])
        .args(PACKAGES.iter().map(|(package, _)| package))
        .stderr(Stdio::null());
    // dpkg-query exits 1 when it knows some package not at all: that is an
    // answer (not installed), not a failure.
    let output = query
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", display(&query)))?;
    Ok(parse_installed(&String::from_utf8_lossy(&output.stdout)))
}

/// `PACKAGE STATUS` lines; `ii` is installed (anything else, such as `rc`
/// for removed with its configuration left, is not).
fn parse_installed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, status)| status.starts_with("ii"))
        .map(|(package, _)| package.to_string())
        .collect()
}

fn install(missing: &Missing) -> Result<(), String> {
    if !missing.packages.is_empty() {
        let apt = |args: &[&str]| {
            let mut command = Command::new("apt-get");
            command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            command
        };
        checked(&mut apt(&["update", "-qq"]))?;
        let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
        checked(install.args(&missing.packages))?;
    }
    for words in missing.commands(true).iter().filter(|w| w[0] == "rustup") {
        checked(Command::new(&words[0]).args(&words[1..]))?;
    }
    Ok(())
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .unwrap_or_default()
        .to_string_lossy()
        .split(':')
        .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(packages: &[&str], targets: &[&str], components: &[&str]) -> Missing {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Missing {
            packages: own(packages),
            targets: own(targets),
            components: own(components),
        }
    }

    const ROOT_DEBIAN: Host = Host {
        root: true,
        debian: true,
        rustup: true,
    };

    #[test]
    fn nothing_missing_as_root_runs() {
        assert_eq!(plan(&Missing::default(), ROOT_DEBIAN), Plan::Ready);
    }

    #[test]
    fn root_on_debian_installs() {
        let some = missing(&["git", "qemu-system-x86"], &[MUSL], &["rust-src"]);
        assert_eq!(plan(&some, ROOT_DEBIAN), Plan::Install);
        assert_eq!(
            some.commands(true),
            [
                vec![
                    "apt-get",
                    "install",
                    "--no-install-recommends",
                    "git",
                    "qemu-system-x86"
                ],
                vec!["rustup", "target", "add", MUSL],
                vec!["rustup", "component", "add", "rust-src"],
            ]
        );
        // Packages alone need no rustup.
        let apt_only = missing(&["git"], &[], &[]);
        let no_rustup = Host {
            rustup: false,
            ..ROOT_DEBIAN
        };
        assert_eq!(plan(&apt_only, no_rustup), Plan::Install);
    }

    #[test]
    fn a_normal_user_gets_one_command() {
        let user = Host {
            root: false,
            ..ROOT_DEBIAN
        };
        let some = missing(&["git"], &[MUSL], &["rustfmt", "clippy"]);
        let Plan::Tell(message) = plan(&some, user) else {
            panic!("a normal user cannot install packages");
        };
        let command = message.lines().last().unwrap().trim();
        assert_eq!(
            command,
            format!(
                "sudo apt-get install --no-install-recommends git && rustup target add {MUSL} \
                 && rustup component add rustfmt clippy"
            )
        );
        assert!(message.contains("apt packages: git"), "{message}");
        assert!(message.contains("root:"), "{message}");
        // Nothing missing, but not root: said, not run.
        let Plan::Tell(message) = plan(&Missing::default(), user) else {
            panic!("the integration tests need root");
        };
        assert!(message.contains("as root"), "{message}");
    }

    #[test]
    fn rust_pieces_without_rustup_are_explained() {
        let no_rustup = Host {
            rustup: false,
            ..ROOT_DEBIAN
        };
        let some = missing(&["git"], &[MUSL], &[]);
        let Plan::Tell(message) = plan(&some, no_rustup) else {
            panic!("without rustup the target cannot be added");
        };
        assert!(message.contains("not rustup's"), "{message}");
        assert!(
            message.ends_with(&format!(
                "apt-get install --no-install-recommends git && rustup target add {MUSL}"
            )),
            "{message}"
        );
    }

    #[test]
    fn not_debian_names_the_packages() {
        let other = Host {
            debian: false,
            ..ROOT_DEBIAN
        };
        let Plan::Tell(message) = plan(&Missing::default(), other) else {
            panic!("no dpkg, no check");
        };
        assert!(
            message.contains("busybox-static") && message.contains("Debian"),
            "{message}"
        );
    }

    #[test]
    fn dpkg_query_lines() {
        let text = "busybox-static ii \nuidmap rc \ngit iU \nqemu-system-x86 ii \n\ngarbage\n";
        let installed = parse_installed(text);
        assert_eq!(
            installed.into_iter().collect::<Vec<_>>(),
            ["busybox-static", "qemu-system-x86"]
        );
    }

    #[test]
    fn every_package_says_why() {
        for (package, why) in PACKAGES {
            assert!(!why.is_empty(), "{package}");
        }
        let names: BTreeSet<_> = PACKAGES.iter().map(|(p, _)| p).collect();
        assert_eq!(names.len(), PACKAGES.len(), "a package listed twice");
    }
}
