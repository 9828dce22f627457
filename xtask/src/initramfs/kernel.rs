//! Debian's kernel for the boot test: the package linux-image-amd64 points
//! at, fetched once with apt (from the machine's own apt sources); its
//! vmlinuz and the few modules the boot loads ([`MODULES`] and what they
//! need) are kept in target/cache/kernel/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::modules;
use crate::run::{checked, workspace_root};

/// The modules the boot loads, by name: the virtio PCI transport and
/// disk, and ext4 (with what each needs). ext4 and jbd2 also ask for a
/// crc32c by an alias in their `softdep=`, which modprobe resolves and
/// insmod does not: crc32c_generic is named here, the one that works on
/// any CPU (crc32c-intel needs SSE4.2, which qemu's CPU under TCG lacks).
pub const MODULES: &[&str] = &["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// Debian's kernel and the modules the boot loads, in load order.
pub struct Kernel {
    /// The kernel to boot: the uncompressed ELF image when it could be
    /// taken out of vmlinuz (qemu starts it at its PVH entry, without the
    /// xz decompression that takes half the boot under TCG), else vmlinuz.
    pub image: PathBuf,
    /// (name, file), each after what it needs.
    pub modules: Vec<(String, PathBuf)>,
}

pub fn debian_kernel() -> Result<Kernel, String> {
    let cache = workspace_root().join("target/cache/kernel");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let package = versioned_package()?;
    let vmlinuz = cache.join(format!("vmlinuz-{package}"));
    let modules_dir = cache.join(format!("modules-{package}"));
    let order_file = modules_dir.join("order");
    let stamp = format!("# for: {}", MODULES.join(" "));
    if let (true, Ok(order)) = (vmlinuz.exists(), std::fs::read_to_string(&order_file)) {
        let mut lines = order.lines();
        if lines.next() == Some(stamp.as_str()) {
            let modules = lines
                .map(|name| (name.to_string(), modules_dir.join(format!("{name}.ko"))))
                .collect::<Vec<_>>();
            if modules.iter().all(|(_, path)| path.exists()) {
                let image = uncompressed(&vmlinuz);
                return Ok(Kernel { image, modules });
            }
        }
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

    // ./boot/vmlinuz-* and the modules tree; only the modules the boot
    // loads are kept (the tree is about 400 MB).
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
        .args(["-x", "--wildcards", "./boot/vmlinuz-*", "*/lib/modules/*"])
        .stdin(dpkg.stdout.take().expect("piped"))
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    let dpkg = dpkg.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !tar.success() || !dpkg.success() {
        return Err(format!("cannot extract the kernel from {}", deb.display()));
    }
    let result = keep_kernel_and_modules(&unpack, &vmlinuz, &modules_dir, &stamp);
    let _ = std::fs::remove_dir_all(&unpack);
    let _ = std::fs::remove_file(&deb);
    result.map(|modules| Kernel {
        image: uncompressed(&vmlinuz),
        modules,
    })
}

/// The ELF kernel inside `vmlinuz` (cached beside it as vmlinux-…), or
/// `vmlinuz` itself when it cannot be had: a bzImage carries it as one xz
/// stream after its setup code (Debian builds with CONFIG_KERNEL_XZ and
/// CONFIG_PVH).
fn uncompressed(vmlinuz: &Path) -> PathBuf {
    let name = vmlinuz
        .file_name()
        .map(|n| n.to_string_lossy().replacen("vmlinuz", "vmlinux", 1))
        .unwrap_or_default();
    let vmlinux = vmlinuz.with_file_name(name);
    if vmlinux.exists() {
        return vmlinux;
    }
    match extract_elf(vmlinuz, &vmlinux) {
        Ok(()) => vmlinux,
        Err(message) => {
            eprintln!("xtask: booting the compressed kernel ({message})");
            vmlinuz.to_path_buf()
        }
    }
}

fn extract_elf(vmlinuz: &Path, vmlinux: &Path) -> Result<(), String> {
    use std::io::Write;
    let image = std::fs::read(vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?;
    let start = image
        .windows(6)
        .position(|w| w == b"\xfd7zXZ\0")
        .ok_or("no xz stream in vmlinuz")?;
    let partial = vmlinux.with_extension("partial");
    let out = std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    // The stream is followed by the rest of the bzImage: one stream only.
    let mut xz = Command::new("xz")
        .args(["-d", "-c", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .map_err(|e| format!("xz: {e} (apt install xz-utils)"))?;
    // xz stops reading at the end of the stream: a broken pipe after it
    // is expected.
    let fed = xz
        .stdin
        .take()
        .expect("piped")
        .write_all(&image[start..])
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Ok(()),
            _ => Err(e),
        });
    let status = xz.wait().map_err(|e| format!("xz: {e}"))?;
    let mut magic = [0u8; 4];
    let elf = std::fs::File::open(&partial)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
        .is_ok_and(|()| &magic == b"\x7fELF");
    if fed.is_err() || !status.success() || !elf {
        let _ = std::fs::remove_file(&partial);
        return Err("the xz stream in vmlinuz is not an ELF kernel".to_string());
    }
    std::fs::rename(&partial, vmlinux).map_err(|e| format!("{}: {e}", vmlinux.display()))
}

/// Moves vmlinuz into the cache and copies the modules the boot needs, in
/// load order, into `modules_dir` with an `order` file (its first line
/// says for which MODULES it was made).
fn keep_kernel_and_modules(
    unpack: &Path,
    vmlinuz: &Path,
    modules_dir: &Path,
    stamp: &str,
) -> Result<Vec<(String, PathBuf)>, String> {
    let boot = unpack.join("boot");
    let extracted = std::fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .next()
        .ok_or("no vmlinuz in the kernel package")?;
    std::fs::rename(&extracted, vmlinuz).map_err(|e| format!("{}: {e}", vmlinuz.display()))?;

    let mut files = BTreeMap::new();
    index_modules(unpack, &mut files)?;
    // What each module needs, read from the modules reached from MODULES.
    let mut needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue: Vec<String> = MODULES.iter().map(|m| modules::canonical(m)).collect();
    while let Some(name) = queue.pop() {
        if needs.contains_key(&name) {
            continue;
        }
        let Some(path) = files.get(&name) else {
            continue; // load_order names it
        };
        let elf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let deps = modules::depends(&elf)
            .ok_or_else(|| format!("{}: no .modinfo section", path.display()))?;
        queue.extend(deps.iter().cloned());
        needs.insert(name, deps);
    }
    let order = modules::load_order(MODULES, &needs)?;

    let _ = std::fs::remove_dir_all(modules_dir);
    std::fs::create_dir_all(modules_dir).map_err(|e| format!("{}: {e}", modules_dir.display()))?;
    let mut kept = Vec::new();
    for name in &order {
        let to = modules_dir.join(format!("{name}.ko"));
        std::fs::copy(&files[name], &to).map_err(|e| format!("{}: {e}", to.display()))?;
        kept.push((name.clone(), to));
    }
    let order_file = modules_dir.join("order");
    std::fs::write(&order_file, format!("{stamp}\n{}\n", order.join("\n")))
        .map_err(|e| format!("{}: {e}", order_file.display()))?;
    Ok(kept)
}

/// Every `*.ko` below `dir`, by canonical module name.
fn index_modules(dir: &Path, files: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            index_modules(&path, files)?;
        } else if let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
        {
            files.insert(modules::canonical(name), path);
        }
    }
    Ok(())
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
