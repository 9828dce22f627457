//! Debian's kernel for the boot test: the package linux-image-amd64 points
//! at, fetched once with apt (from the machine's own apt sources) and its
//! vmlinuz kept in target/cache/kernel/.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::run::{checked, workspace_root};

pub fn debian_kernel() -> Result<PathBuf, String> {
    let cache = workspace_root().join("target/cache/kernel");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let package = versioned_package()?;
    let vmlinuz = cache.join(format!("vmlinuz-{package}"));
    if vmlinuz.exists() {
        return Ok(vmlinuz);
    }

    checked(
        Command::new("apt-get")
            .args(["download", "-q", "-o", "APT::Sandbox::User=root", &package])
            .current_dir(&cache),
    )?;
    let deb = std::fs::read_dir(&cache)
        .map_err(|e| format!("{}: {e}", cache.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with(&format!("{package}_")) && name.ends_with(".deb")
        })
        .ok_or_else(|| {
            format!(
                "apt-get download {package} left no .deb in {}",
                cache.display()
            )
        })?;

    // Only ./boot/vmlinuz-* out of the package's data (the modules are not
    // needed: namespaces, proc, sysfs, devtmpfs and the serial console are
    // built in).
    let unpack = cache.join("unpack");
    let _ = std::fs::remove_dir_all(&unpack);
    std::fs::create_dir_all(&unpack).map_err(|e| format!("{}: {e}", unpack.display()))?;
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(&deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&unpack)
        .args(["-x", "--wildcards", "./boot/vmlinuz-*"])
        .stdin(dpkg.stdout.take().expect("piped"))
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    let dpkg = dpkg.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !tar.success() || !dpkg.success() {
        return Err(format!("cannot extract the kernel from {}", deb.display()));
    }
    let boot = unpack.join("boot");
    let extracted = std::fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .next()
        .ok_or("no vmlinuz in the kernel package")?;
    std::fs::rename(&extracted, &vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?;
    let _ = std::fs::remove_dir_all(&unpack);
    let _ = std::fs::remove_file(&deb);
    Ok(vmlinuz)
}

/// linux-image-amd64 is a metapackage; its dependency names the kernel.
fn versioned_package() -> Result<String, String> {
    let output = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends: "))
        .find(|name| name.starts_with("linux-image-") && !name.starts_with('<'))
        .map(str::to_string)
        .ok_or_else(|| "apt knows no linux-image-amd64 (run apt-get update)".to_string())
}
