//! What the Rust toolchain running us has: targets, rust-src, rustfmt and
//! clippy, and whether rustup manages it (and so can add what is missing).
//!
//! Read from the toolchain's sysroot rather than from `rustup … list`, so
//! the answer is the same for a toolchain rustup does not manage, and it
//! is the one rustc itself will act on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run::cargo;

/// The static target of the small tools.
pub const MUSL: &str = "x86_64-unknown-linux-musl";

pub struct Toolchain {
    sysroot: PathBuf,
}

impl Toolchain {
    /// The toolchain of the cargo that runs us (`cargo +nightly xtask`
    /// included: cargo passes its own path in `CARGO`).
    pub fn current() -> Result<Toolchain, String> {
        let mut rustc = Command::new(rustc_path());
        rustc.args(["--print", "sysroot"]);
        let output = rustc
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run `rustc --print sysroot`: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`rustc --print sysroot` failed ({})",
                output.status
            ));
        }
        let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Ok(Toolchain {
            sysroot: PathBuf::from(sysroot),
        })
    }

    /// The standard library is there for `target` (what rustc's "can't
    /// find crate for `core`" is about).
    pub fn has_target(&self, target: &str) -> bool {
        has_core(&self.sysroot.join("lib/rustlib").join(target).join("lib"))
    }

    /// The standard library's sources, which `-Z build-std` compiles.
    pub fn has_rust_src(&self) -> bool {
        self.sysroot
            .join("lib/rustlib/src/rust/library/std/Cargo.toml")
            .is_file()
    }

    /// `cargo TOOL --version` works (`fmt`, `clippy`): rustup's proxies
    /// exist even when the component does not, so the file is no answer.
    pub fn has_cargo_tool(&self, tool: &str) -> bool {
        cargo()
            .args([tool, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// rustc beside the cargo that runs us, else the one on PATH.
fn rustc_path() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| cargo.parent().map(|dir| dir.join("rustc")))
        .filter(|rustc| rustc.is_file())
        .unwrap_or_else(|| PathBuf::from("rustc"))
}

fn has_core(libdir: &Path) -> bool {
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

/// rustup is there to add targets and components.
pub fn has_rustup() -> bool {
    Command::new("rustup")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_there_when_its_core_is() {
        let dir = std::env::temp_dir().join(format!("xtask-toolchain-{}", std::process::id()));
        let lib = dir.join("lib/rustlib").join(MUSL).join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let toolchain = Toolchain {
            sysroot: dir.clone(),
        };
        // rustup leaves the directory behind after `target remove`.
        assert!(!toolchain.has_target(MUSL));
        std::fs::write(lib.join("libstd-0123.rlib"), "").unwrap();
        assert!(
            !toolchain.has_target(MUSL),
            "std without core is not a target"
        );
        std::fs::write(lib.join("libcore-0123.rlib"), "").unwrap();
        assert!(toolchain.has_target(MUSL));
        assert!(!toolchain.has_target("aarch64-unknown-linux-musl"));
        assert!(!toolchain.has_rust_src());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_running_toolchain_has_its_host_target() {
        let toolchain = Toolchain::current().unwrap();
        assert!(toolchain.has_target("x86_64-unknown-linux-gnu"));
    }
}
