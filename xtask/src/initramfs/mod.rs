//! `cargo xtask initramfs [--boot]`: a gzip'd cpio initramfs holding our
//! static tools, a static shell (busybox), the kernel modules of a virtio
//! disk and ext4, and an `/init` that exercises the tools and then hands
//! over to a real root with ns-switch-root; `--boot` boots it under qemu
//! (software emulation) with Debian's kernel and a disk made from the
//! cached Debian rootfs ([`disk`]), and fails unless every step's mark
//! shows on the serial console, the real root's included.

mod cpio;
mod disk;
mod kernel;
mod modules;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cpio::Entry;

const INIT: &str = include_str!("init.sh");
const BUSYBOX: &str = "/bin/busybox";
/// The tools /init runs; the image is useless without any of them.
const TOOLS: &[&str] = &[
    "ns-mount",
    "ns-umount",
    "ns-unshare",
    "ns-chroot",
    "ns-lsns",
    "ns-switch-root",
    "ns-nsenter",
];
/// The tools the real root gets, to show they work from there too.
const ROOT_TOOLS: &[&str] = &["ns-mount", "ns-umount", "ns-lsns"];
/// busybox's applets /init uses besides our tools.
const APPLETS: &[&str] = &[
    "sh", "grep", "sleep", "hostname", "ip", "wc", "id", "cat", "touch", "poweroff", "insmod",
    "awk", "cut",
];
/// busybox's own applets for what our tools do, for the size comparison
/// (busybox has no lsns).
const BUSYBOX_FOR_TOOLS: &[(&str, &str)] = &[
    ("ns-mount", "mount"),
    ("ns-umount", "umount"),
    ("ns-unshare", "unshare"),
    ("ns-chroot", "chroot"),
    ("ns-switch-root", "switch_root"),
    ("ns-nsenter", "nsenter"),
];
/// The marks /init, then the real root's init, print for the steps that
/// worked.
const MARKS: &[&str] = &[
    "mount-proc",
    "mount-sys",
    "mount-dev",
    "mount-tmp",
    "mount-list",
    "container-pid-1",
    "container-hostname-nstools-container",
    "container-net-lo-only",
    "container-uid-0",
    "lsns-sees-container",
    "lsns-json",
    "nsenter-inside",
    "container-exit-0",
    "no-leaked-mounts",
    "mount-run",
    "modules-loaded",
    "root-mounted",
    "umount-tmp",
    "done",
    "real-init-pid-1",
    "real-root-is-the-disk",
    "real-root-read-only",
    "real-root-dev-moved",
    "real-root-proc-moved",
    "real-root-sys-moved",
    "real-root-run-moved",
    "initramfs-emptied",
    "initramfs-memory-freed",
    "real-root-ns-mount",
    "real-root-ns-lsns",
    "real-root-ns-umount",
    "real-root-done",
];
/// The boot is meant to take less than this under TCG (a warning, not a
/// failure: the machine may be busy).
const BOOT_GOAL: Duration = Duration::from_secs(30);
/// Software emulation is slow; a boot that has shown nothing new for this
/// long is stuck.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(args: &[String]) -> Result<(), String> {
    let mut boot = false;
    for arg in args {
        match arg.as_str() {
            "--boot" => boot = true,
            other => return Err(format!("initramfs: unknown argument '{other}'")),
        }
    }
    let dist = crate::dist::run(&[])?;
    let kernel = kernel::debian_kernel()?;
    let image = build(&dist, &kernel.modules)?;
    println!("initramfs: {}", image.display());
    if boot {
        let rootfs = crate::rootfs::ensure(&crate::rootfs::Spec::default())?;
        let out_dir = image.parent().expect("target/initramfs");
        let disk = disk::build(&rootfs, &dist, ROOT_TOOLS, out_dir)?;
        boot_and_check(&kernel.image, &image, &disk)?;
    }
    Ok(())
}

/// Writes target/initramfs/initramfs.cpio.gz and returns its path;
/// prints its size beside the same image with busybox's applets in place
/// of our tools.
fn build(dist: &Path, modules: &[(String, PathBuf)]) -> Result<PathBuf, String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut entries = Vec::new();
    for dir in [
        "bin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "run",
        "root",
        "lib",
        "lib/modules",
        "container",
        "container/bin",
        "container/proc",
        "container/tmp",
        "container/dev",
    ] {
        entries.push(Entry::Dir {
            path: dir.into(),
            mode: 0o755,
        });
    }
    // The kernel opens /dev/console for PID 1 before anything is mounted.
    entries.push(Entry::CharDevice {
        path: "dev/console".into(),
        mode: 0o600,
        major: 5,
        minor: 1,
    });
    entries.push(Entry::File {
        path: "init".into(),
        mode: 0o755,
        data: INIT.as_bytes().to_vec(),
    });
    entries.push(Entry::File {
        path: "bin/busybox".into(),
        mode: 0o755,
        data: read(Path::new(BUSYBOX)).map_err(|e| format!("{e} (apt install busybox-static)"))?,
    });
    for applet in APPLETS {
        entries.push(Entry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    for (name, path) in modules {
        entries.push(Entry::File {
            path: format!("lib/modules/{name}.ko"),
            mode: 0o644,
            data: read(path)?,
        });
    }
    let order: String = modules
        .iter()
        .map(|(name, _)| format!("{name}\n"))
        .collect();
    entries.push(Entry::File {
        path: "lib/modules/order".into(),
        mode: 0o644,
        data: order.into_bytes(),
    });
    let common = entries.clone();
    for tool in TOOLS {
        entries.push(Entry::File {
            path: format!("bin/{tool}"),
            mode: 0o755,
            data: read(&dist.join(tool))?,
        });
    }
    // What the real root's init compares the memory it sees freed with.
    let files_kb = file_bytes(&entries) / 1024;
    entries.push(Entry::File {
        path: "files-kb".into(),
        mode: 0o644,
        data: format!("{files_kb}\n").into_bytes(),
    });

    let out_dir = crate::run::workspace_root().join("target/initramfs");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let image = out_dir.join("initramfs.cpio.gz");
    let compressed = gzip(&cpio::write(&entries));
    std::fs::write(&image, &compressed).map_err(|e| format!("{}: {e}", image.display()))?;

    // The same image with our tools as links to the multi-call binary,
    // and with busybox-static's applets where our tools are.
    let mut multicall = common.clone();
    multicall.push(Entry::File {
        path: "bin/nstools".into(),
        mode: 0o755,
        data: read(&dist.join(crate::dist::MULTICALL))?,
    });
    for tool in TOOLS {
        multicall.push(Entry::Symlink {
            path: format!("bin/{tool}"),
            target: "nstools".into(),
        });
    }
    let as_multicall = gzip(&cpio::write(&multicall)).len();
    let mut busybox_only = common;
    for (_, applet) in BUSYBOX_FOR_TOOLS {
        busybox_only.push(Entry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    let theirs = gzip(&cpio::write(&busybox_only)).len();
    let modules_kb = modules
        .iter()
        .filter_map(|(_, path)| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum::<u64>()
        / 1024;
    let kib = |bytes: usize| bytes as f64 / 1024.0;
    println!(
        "initramfs: {:.1} KiB gzip'd cpio ({} entries, {files_kb} KiB of files, of which \
         {modules_kb} KiB kernel modules); our tools as links to nstools: {:.1} KiB; \
         busybox-static's {} applets instead of our tools: {:.1} KiB (busybox has no lsns)",
        kib(compressed.len()),
        entries.len(),
        kib(as_multicall),
        BUSYBOX_FOR_TOOLS
            .iter()
            .map(|(_, applet)| *applet)
            .collect::<Vec<_>>()
            .join(", "),
        kib(theirs),
    );
    Ok(image)
}

/// The bytes of the regular files among `entries`.
fn file_bytes(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|entry| match entry {
            Entry::File { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(data)
        .and_then(|()| gzip.finish())
        .expect("gzip into memory")
}

/// Boots the image, echoes the console, and checks the marks.
fn boot_and_check(kernel: &Path, image: &Path, disk: &Path) -> Result<(), String> {
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-accel", "tcg", "-m", "512M", "-smp", "1"])
        .args([
            "-display",
            "none",
            "-nodefaults",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(image)
        // Read-only: the boot leaves the image as it was made.
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio,readonly=on",
            disk.display()
        ))
        // panic=-1: if /init dies the kernel reboots at once, and
        // -no-reboot turns that into qemu exiting. root= and ro are read
        // by /init, as initramfs-tools reads them.
        .arg("-append")
        .arg(format!(
            "console=ttyS0 panic=-1 loglevel=3 rdinit=/init root=LABEL={} ro",
            disk::LABEL
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    eprintln!("$ {}", crate::run::display(&qemu));
    let mut child = qemu
        .spawn()
        .map_err(|e| format!("cannot run qemu-system-x86_64: {e} (apt install qemu-system-x86)"))?;
    let stdout = child.stdout.take().expect("piped stdout");

    // Lines arrive on a thread, so a silent, stuck guest can be timed out.
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut console = Vec::new();
    loop {
        match received.recv_timeout(BOOT_TIMEOUT) {
            Ok(line) => {
                println!("  | {:5.1} {line}", started.elapsed().as_secs_f64());
                console.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break, // qemu exited
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the guest printed nothing for {BOOT_TIMEOUT:?}: killed"
                ));
            }
        }
    }
    let status = child.wait().map_err(|e| format!("wait for qemu: {e}"))?;
    let took = started.elapsed();
    println!(
        "initramfs: qemu exited ({status}) after {:.1} s",
        took.as_secs_f64()
    );
    if took > BOOT_GOAL {
        eprintln!(
            "xtask: warning: the boot took {:.1} s, more than its goal of {} s",
            took.as_secs_f64(),
            BOOT_GOAL.as_secs()
        );
    }

    let failed: Vec<&str> = console
        .iter()
        .filter_map(|line| line.trim().strip_prefix("NSTOOLS-FAIL "))
        .collect();
    let missing: Vec<&str> = MARKS
        .iter()
        .copied()
        .filter(|mark| {
            !console
                .iter()
                .any(|line| line.trim() == format!("NSTOOLS-MARK {mark}"))
        })
        .collect();
    if failed.is_empty() && missing.is_empty() {
        println!("initramfs: all {} marks seen", MARKS.len());
        Ok(())
    } else {
        Err(format!(
            "boot check failed: failed steps {failed:?}, missing marks {missing:?}"
        ))
    }
}
