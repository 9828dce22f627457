//! Which build of the tools the demo uses: the static musl ones of
//! `cargo xtask dist` when the toolchain has the target, else the host's
//! own (glibc) build. Those run inside the Debian root too, as long as its
//! glibc is at least as new as the one they were linked against; Debian
//! stable's is, on a Debian 12 host (2.41 against 2.36), and that is
//! checked once the root exists.

use std::path::{Path, PathBuf};

use crate::run::{cargo, checked, workspace_root};
use crate::toolchain::{Toolchain, MUSL};

/// The packages whose binaries the demo runs.
const PACKAGES: &[&str] = &["ns-unshare", "ns-chroot", "ns-mount", "ns-lsns"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// `cargo xtask dist`: static, any root runs them.
    Static,
    /// The host's debug build, linked against the host's glibc.
    Host,
}

impl Build {
    pub fn choose(toolchain: &Toolchain) -> Build {
        if toolchain.has_target(MUSL) {
            Build::Static
        } else {
            Build::Host
        }
    }

    /// The one line that says which build, and why.
    pub fn describe(self) -> String {
        match self {
            Build::Static => format!("static {MUSL} builds (cargo xtask dist)"),
            Build::Host => format!(
                "the {MUSL} target is not installed, so the host's (glibc) build of the \
                 tools instead (`rustup target add {MUSL}` for the static ones)"
            ),
        }
    }
}

/// Builds the tools; returns the directory that holds them.
pub fn build(build: Build, rootfs: &Path) -> Result<PathBuf, String> {
    match build {
        Build::Static => crate::dist::run(&[]),
        Build::Host => {
            check_glibc(rootfs)?;
            let mut command = cargo();
            command.arg("build");
            // xtask is built already; naming it keeps the feature set (and
            // so the compiled dependencies) the same as its own build's.
            for package in std::iter::once(&"xtask").chain(PACKAGES) {
                command.args(["--package", package]);
            }
            checked(command.arg("--bins"))?;
            Ok(workspace_root().join("target/debug"))
        }
    }
}

/// The host's build runs inside the root only with a glibc at least as
/// new as the host's.
fn check_glibc(rootfs: &Path) -> Result<(), String> {
    let status = rootfs.join("var/lib/dpkg/status");
    let root = std::fs::read_to_string(&status)
        .ok()
        .and_then(|text| dpkg_glibc(&text));
    match (host_glibc(), root) {
        (Some(host), Some(root)) if root >= host => {
            println!(
                "  the root's glibc {}.{} is at least the host's {}.{}: the host's build runs inside",
                root.0, root.1, host.0, host.1
            );
            Ok(())
        }
        (Some(host), Some(root)) => Err(format!(
            "the root's glibc {}.{} is older than the host's {}.{}: the host's build of \
             the tools cannot run inside it; `rustup target add {MUSL}` gives static ones",
            root.0, root.1, host.0, host.1
        )),
        (host, root) => {
            println!(
                "  warning: cannot compare glibc versions (host {host:?}, root {root:?} from {}): \
                 trying the host's build",
                status.display()
            );
            Ok(())
        }
    }
}

/// The glibc this process runs with, (major, minor).
fn host_glibc() -> Option<(u32, u32)> {
    // SAFETY: gnu_get_libc_version returns a pointer to a static,
    // NUL-terminated string and has no preconditions.
    let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    parse_version(version.to_str().ok()?)
}

/// libc6's upstream version, (major, minor), from a dpkg status file;
/// None when it is not there (installed or merely unpacked) or unreadable.
fn dpkg_glibc(status: &str) -> Option<(u32, u32)> {
    status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let present = field("Status")
            .is_some_and(|s| !s.ends_with("not-installed") && !s.ends_with("config-files"));
        if field("Package") != Some("libc6") || !present {
            return None;
        }
        // [epoch:]upstream[-revision], upstream as 2.41 (or 2.41.1).
        let version = field("Version")?;
        let version = version.split_once(':').map_or(version, |(_, v)| v);
        let upstream = version.split('-').next()?;
        parse_version(upstream)
    })
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: libc-bin\nStatus: install ok installed\nVersion: 2.41-12\n\n\
        Package: libc6\nStatus: install ok installed\nPriority: optional\nVersion: 2.41-12\n\
        Description: GNU C Library: Shared libraries\n Contains the standard libraries.\n\n\
        Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.3.dfsg+really1.3.1-1+b1\n";

    #[test]
    fn libc6_version_from_dpkg_status() {
        assert_eq!(dpkg_glibc(STATUS), Some((2, 41)));
        // A root ns-bootstrap only unpacked (no subordinate ids) counts.
        let unpacked = "Package: libc6\nStatus: install ok unpacked\nVersion: 2.36-9+deb12u4\n";
        assert_eq!(dpkg_glibc(unpacked), Some((2, 36)));
        let epoch = "Package: libc6\nStatus: install ok installed\nVersion: 1:2.40.1-1\n";
        assert_eq!(dpkg_glibc(epoch), Some((2, 40)));
    }

    #[test]
    fn no_usable_libc6_is_none() {
        assert_eq!(dpkg_glibc(""), None);
        assert_eq!(
            dpkg_glibc("Package: libc6-dev\nStatus: install ok installed\nVersion: 2.41-1\n"),
            None
        );
        assert_eq!(
            dpkg_glibc("Package: libc6\nStatus: deinstall ok config-files\nVersion: 2.41-1\n"),
            None
        );
        assert_eq!(
            dpkg_glibc("Package: libc6\nStatus: install ok installed\nVersion: two\n"),
            None
        );
        assert_eq!(
            dpkg_glibc("Package: libc6\nStatus: install ok installed\n"),
            None
        );
        assert_eq!(
            dpkg_glibc("Package: libc6\nVersion: 2.41-1\n"),
            None,
            "no Status"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("2.41") > parse_version("2.9"));
        assert_eq!(parse_version("2.36"), Some((2, 36)));
        assert_eq!(parse_version("2"), None);
        assert!(host_glibc().is_some_and(|(major, _)| major == 2));
    }
}
