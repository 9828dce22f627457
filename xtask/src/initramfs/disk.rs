//! The real root the initramfs hands over to: the cached Debian rootfs
//! (`cargo xtask rootfs`) as an ext4 image labelled [`LABEL`], made with
//! `mkfs.ext4 -d` (no mount, no loop device). The rootfs is only read:
//! the image's /sbin/init (a script that checks the switch and prints
//! marks) and our tools in /usr/local/sbin are written into the image
//! afterwards with debugfs, so the cache stays as `cargo xtask rootfs`
//! left it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run::display;

/// The label /init finds the root by (`root=LABEL=…` on the command line).
pub const LABEL: &str = "nstools-root";

/// The image's /sbin/init.
const REAL_INIT: &str = include_str!("real-init.sh");

/// Where our tools go in the image (on PATH for root, like any admin's).
const TOOLS_DIR: &str = "/usr/local/sbin";

/// Writes `out_dir/root.ext4` from `rootfs`, with `tools` (binaries in
/// `dist`) and the checking init; returns its path.
pub fn build(
    rootfs: &Path,
    dist: &Path,
    tools: &[&str],
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let image = out_dir.join("root.ext4");
    let _ = std::fs::remove_file(&image);
    let (bytes, entries) = usage(rootfs)?;
    // Room for ext4's own structures and a little slack: the image is
    // sparse, so only what is written takes space.
    let mib = (bytes + bytes / 3) / (1 << 20) + 64;
    let inodes = entries + entries / 5 + 4096;
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args(["-q", "-F", "-L", LABEL, "-N", &inodes.to_string(), "-d"])
        .arg(rootfs)
        .arg(&image)
        .arg(format!("{mib}M"));
    run_quietly(&mut mkfs, "apt install e2fsprogs")?;

    let init_source = out_dir.join("real-init.sh");
    std::fs::write(&init_source, REAL_INIT)
        .map_err(|e| format!("{}: {e}", init_source.display()))?;
    let init = format!("{}/init", in_image_dir(rootfs, "sbin"));
    let mut writes = vec![(init_source, init)];
    for tool in tools {
        writes.push((dist.join(tool), format!("{TOOLS_DIR}/{tool}")));
    }
    let mut script = String::new();
    for (from, to) in &writes {
        // `rm` first: write refuses to replace, and a link there (systemd's
        // /sbin/init) must not be written through.
        script.push_str(&format!(
            "rm {to}\nwrite {from} {to}\nsif {to} mode 0100755\nsif {to} uid 0\nsif {to} gid 0\n",
            from = from.display()
        ));
    }
    let mut debugfs = Command::new("debugfs");
    debugfs.arg("-w").args(["-f", "-"]).arg(&image);
    feed(&mut debugfs, &script)?;
    // debugfs reports a failed command on stderr and exits 0: check.
    for (_, to) in &writes {
        let output = Command::new("debugfs")
            .args(["-R", &format!("stat {to}")])
            .arg(&image)
            .output()
            .map_err(|e| format!("debugfs: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !text.contains("Mode:  0755") {
            return Err(format!(
                "{to} is not in {} as written: {}",
                image.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(image)
}

/// Bytes allocated to the files of a tree, and how many entries it has.
fn usage(dir: &Path) -> Result<(u64, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let mut bytes = 0;
    let mut entries = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let meta = entry
                .path()
                .symlink_metadata()
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            bytes += meta.blocks() * 512;
            entries += 1;
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok((bytes, entries))
}

/// A directory of the root as the image has it: `/sbin` is `/usr/sbin`
/// in a merged-/usr root (debugfs does not follow the link for us).
fn in_image_dir(rootfs: &Path, dir: &str) -> String {
    match std::fs::read_link(rootfs.join(dir)) {
        Ok(target) if target.is_relative() => format!("/{}", target.display()),
        Ok(target) => target.display().to_string(),
        Err(_) => format!("/{dir}"),
    }
}

fn run_quietly(command: &mut Command, hint: &str) -> Result<(), String> {
    let shown = display(command);
    eprintln!("$ {shown}");
    let output = command
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e} ({hint})"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs `command` with `input` on its stdin, its output kept unless it fails.
fn feed(command: &mut Command, input: &str) -> Result<(), String> {
    use std::io::Write;
    let shown = display(command);
    eprintln!("$ {shown} <<EOF\n{input}EOF");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .map_err(|e| format!("{shown}: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_sbin_is_followed() {
        let dir = std::env::temp_dir().join(format!("xtask-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("usr/sbin")).unwrap();
        std::os::unix::fs::symlink("usr/sbin", dir.join("sbin")).unwrap();
        std::fs::create_dir(dir.join("etc")).unwrap();
        assert_eq!(in_image_dir(&dir, "sbin"), "/usr/sbin");
        assert_eq!(in_image_dir(&dir, "etc"), "/etc");
        let (bytes, entries) = usage(&dir).unwrap();
        assert_eq!(entries, 4);
        assert!(bytes > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
