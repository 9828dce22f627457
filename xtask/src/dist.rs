//! `cargo xtask dist`: static musl release builds of the small tools, which
//! go into initramfs images, copied to target/dist/ with their sizes.

use std::path::PathBuf;

use crate::run::{cargo, checked, workspace_root};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// (package, binaries) of every tool that ships as a static binary.
pub const TOOLS: &[(&str, &[&str])] = &[
    ("ns-chroot", &["ns-chroot"]),
    ("ns-lsns", &["ns-lsns"]),
    ("ns-mount", &["ns-mount", "ns-umount"]),
    ("ns-unshare", &["ns-unshare"]),
];

/// The multi-call binary (package, binary): every tool in one executable.
pub const MULTICALL: &str = "nstools";

/// Size goals: each tool and the multi-call binary must fit an initramfs
/// comfortably (busybox-static, all applets, is about 1.9 MiB).
const SINGLE_LIMIT: u64 = 450 * 1024;
const MULTICALL_LIMIT: u64 = 700 * 1024;

/// Builds and copies; returns target/dist/.
pub fn run(args: &[String]) -> Result<PathBuf, String> {
    if let Some(extra) = args.first() {
        return Err(format!("dist takes no arguments (got '{extra}')"));
    }
    let mut build = cargo();
    build.args(["build", "--release", "--target", TARGET]);
    for (package, _) in TOOLS {
        build.args(["--package", package]);
    }
    build.args(["--package", MULTICALL]);
    checked(&mut build)?;

    let root = workspace_root();
    let built = root.join("target").join(TARGET).join("release");
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    println!(
        "{:<12} {:>9} {:>8} {:>10}",
        "binary", "bytes", "KiB", "goal KiB"
    );
    let names = TOOLS.iter().flat_map(|(_, bins)| bins.iter().copied());
    let mut over = Vec::new();
    for name in names.chain(std::iter::once(MULTICALL)) {
        let from = built.join(name);
        let to = dist.join(name);
        std::fs::copy(&from, &to)
            .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
        let size = std::fs::metadata(&to)
            .map_err(|e| format!("{}: {e}", to.display()))?
            .len();
        let limit = if name == MULTICALL {
            MULTICALL_LIMIT
        } else {
            SINGLE_LIMIT
        };
        let verdict = if size <= limit { "" } else { "  OVER" };
        println!(
            "{name:<12} {size:>9} {:>8.1} {:>10}{verdict}",
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
