//! `cargo xtask dist`: static musl release builds of the small tools, which
//! go into initramfs images, copied to target/dist/ with their sizes.

use std::path::PathBuf;

use crate::run::{cargo, checked, workspace_root};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// (package, binaries) of every tool that ships as a static binary.
pub const TOOLS: &[(&str, &[&str])] = &[("ns-chroot", &["ns-chroot"])];

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
    checked(&mut build)?;

    let root = workspace_root();
    let built = root.join("target").join(TARGET).join("release");
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    println!("{:<12} {:>9}", "binary", "bytes");
    for name in TOOLS.iter().flat_map(|(_, bins)| bins.iter()) {
        let from = built.join(name);
        let to = dist.join(name);
        std::fs::copy(&from, &to)
            .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
        let size = std::fs::metadata(&to)
            .map_err(|e| format!("{}: {e}", to.display()))?
            .len();
        println!("{name:<12} {size:>9}");
    }
    Ok(dist)
}
