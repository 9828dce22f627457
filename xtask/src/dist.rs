//! `cargo xtask dist`: static musl release builds of the small tools, which
//! go into initramfs images, copied to target/dist/ with their sizes.
//!
//! The size goals cannot be met with the prebuilt std: even with
//! `panic = "abort"` it links the panic hook's backtrace symbolizer (gimli,
//! addr2line, miniz, libunwind: about 150 KiB per binary). So dist rebuilds
//! std for our binaries with `-Z build-std` and the `immediate-abort` panic
//! strategy, on the stable toolchain through `RUSTC_BOOTSTRAP=1` (needs the
//! rust-src component). Measured here: ns-chroot 424 KiB -> 110 KiB. A
//! panic then aborts without a message; the debug builds that the tests
//! run keep full panic messages. Without rust-src, or if the toolchain
//! refuses the unstable flags (they change between releases), dist makes
//! the plain stable build and says so in one line. Without the musl target
//! there is no static build at all: dist says how to add it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{cargo, checked, workspace_root};
use crate::toolchain::{Toolchain, MUSL};

/// Non-PIE (no dynamic relocations to carry) and immediate-abort panics.
const SMALL_RUSTFLAGS: &str =
    "-Zunstable-options -Cpanic=immediate-abort -Crelocation-model=static";

/// (package, binaries) of every tool that ships as a static binary.
pub const TOOLS: &[(&str, &[&str])] = &[
    (
        "ns-chroot",
        &["ns-chroot", "ns-switch-root", "ns-pivot-root"],
    ),
    ("ns-lsns", &["ns-lsns"]),
    ("ns-mount", &["ns-mount", "ns-umount"]),
    ("ns-unshare", &["ns-unshare", "ns-nsenter"]),
];

/// The multi-call binary (package, binary): every tool in one executable.
pub const MULTICALL: &str = "nstools";

/// Size goals: each tool and the multi-call binary must fit an initramfs
/// comfortably (busybox-static, all applets, is about 1.9 MiB).
const SINGLE_LIMIT: u64 = 450 * 1024;
const MULTICALL_LIMIT: u64 = 700 * 1024;
/// Tools with a goal of their own, below SINGLE_LIMIT.
const OWN_LIMITS: &[(&str, u64)] = &[("ns-nsenter", 200 * 1024)];

/// Builds and copies; returns target/dist/.
pub fn run(args: &[String]) -> Result<PathBuf, String> {
    if let Some(extra) = args.first() {
        return Err(format!("dist takes no arguments (got '{extra}')"));
    }
    let root = workspace_root();
    let toolchain = Toolchain::current()?;
    if !toolchain.has_target(MUSL) {
        return Err(format!(
            "the {MUSL} target is not installed, so no static build can be made: \
             `rustup target add {MUSL}`"
        ));
    }
    let stable = || -> Result<[PathBuf; 2], String> {
        let mut outs = build_commands(&root.join("target"));
        for (command, _) in &mut outs {
            checked(command)?;
        }
        Ok(outs.map(|(_, out)| out))
    };
    let built_dirs = if !toolchain.has_rust_src() {
        eprintln!(
            "xtask: rust-src is not installed: the stable static build, with std's panic \
             machinery (`rustup component add rust-src` for the small one)"
        );
        stable()?
    } else {
        // Its own target dir: other RUSTFLAGS would otherwise invalidate the
        // everyday build cache, and the other way round.
        let mut small = build_commands(&root.join("target/dist-build"));
        let built = small.iter_mut().try_for_each(|(command, _)| {
            command
                .env("RUSTC_BOOTSTRAP", "1")
                .env("RUSTFLAGS", SMALL_RUSTFLAGS)
                .args(["-Z", "build-std=std,panic_abort"]);
            checked(command)
        });
        match built {
            Ok(()) => small.map(|(_, out)| out),
            Err(message) => {
                eprintln!(
                    "xtask: warning: the size-optimised build failed ({message}); \
                     falling back to the stable build, which carries std's panic machinery"
                );
                stable()?
            }
        }
    };

    let [tools_dir, multicall_dir] = built_dirs;
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    println!(
        "{:<15} {:>9} {:>8} {:>10}",
        "binary", "bytes", "KiB", "goal KiB"
    );
    let names = TOOLS.iter().flat_map(|(_, bins)| bins.iter().copied());
    let mut over = Vec::new();
    for name in names.chain(std::iter::once(MULTICALL)) {
        let from = match name {
            MULTICALL => multicall_dir.join(name),
            _ => tools_dir.join(name),
        };
        let to = dist.join(name);
        std::fs::copy(&from, &to)
            .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
        let size = std::fs::metadata(&to)
            .map_err(|e| format!("{}: {e}", to.display()))?
            .len();
        let own = OWN_LIMITS.iter().find(|(tool, _)| *tool == name);
        let limit = match own {
            _ if name == MULTICALL => MULTICALL_LIMIT,
            Some((_, limit)) => *limit,
            None => SINGLE_LIMIT,
        };
        let verdict = if size <= limit { "" } else { "  OVER" };
        println!(
            "{name:<15} {size:>9} {:>8.1} {:>10}{verdict}",
            size as f64 / 1024.0,
            limit / 1024
        );
        if size > limit {
            over.push(name);
        }
    }
    if !over.is_empty() {
        eprintln!("xtask: warning: over the size goal: {}", over.join(", "));
    }
    Ok(dist)
}

/// The profile the multi-call binary is built with (Cargo.toml).
const MULTICALL_PROFILE: &str = "multicall";

/// The two builds: the tools with the release profile (`opt-level = "s"`,
/// the speed they are benchmarked at), the multi-call binary, which
/// exists to be small, with its own (`opt-level = "z"`: some 40 KiB less
/// for everything in one). Returns each build's output directory.
fn build_commands(target_dir: &Path) -> [(Command, PathBuf); 2] {
    let mut tools = cargo();
    tools
        .args(["build", "--release", "--target", MUSL])
        .arg("--target-dir")
        .arg(target_dir);
    for (package, _) in TOOLS {
        tools.args(["--package", package]);
    }
    let mut multicall = cargo();
    multicall
        .args(["build", "--profile", MULTICALL_PROFILE, "--target", MUSL])
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--package", MULTICALL]);
    let out = target_dir.join(MUSL);
    [
        (tools, out.join("release")),
        (multicall, out.join(MULTICALL_PROFILE)),
    ]
}
