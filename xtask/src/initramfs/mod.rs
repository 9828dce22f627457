//! `cargo xtask initramfs [--boot]`: a gzip'd cpio initramfs holding our
//! static tools, a static shell (busybox) and an `/init` that exercises
//! them; `--boot` boots it under qemu (software emulation) with Debian's
//! kernel and fails unless every step's mark shows on the serial console.

mod cpio;
mod kernel;

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
    "ns-unshare",
    "ns-chroot",
    "ns-lsns",
    "ns-nsenter",
];
/// The marks /init prints for the steps that worked.
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
    "done",
];
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
    let image = build(&dist)?;
    println!("initramfs: {}", image.display());
    if boot {
        let kernel = kernel::debian_kernel()?;
        boot_and_check(&kernel, &image)?;
    }
    Ok(())
}

/// Writes target/initramfs/initramfs.cpio.gz and returns its path.
fn build(dist: &Path) -> Result<PathBuf, String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut entries = Vec::new();
    for dir in [
        "bin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "container",
        "container/bin",
    ] {
        entries.push(Entry::Dir {
            path: dir.into(),
            mode: 0o755,
        });
    }
    for dir in ["container/proc", "container/tmp", "container/dev"] {
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
    for applet in [
        "sh", "grep", "sleep", "hostname", "ip", "wc", "id", "cat", "touch", "poweroff",
    ] {
        entries.push(Entry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    for tool in TOOLS {
        entries.push(Entry::File {
            path: format!("bin/{tool}"),
            mode: 0o755,
            data: read(&dist.join(tool))?,
        });
    }

    let archive = cpio::write(&entries);
    let out_dir = crate::run::workspace_root().join("target/initramfs");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let image = out_dir.join("initramfs.cpio.gz");
    let file = std::fs::File::create(&image).map_err(|e| format!("{}: {e}", image.display()))?;
    let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    gzip.write_all(&archive)
        .and_then(|()| gzip.finish().map(drop))
        .map_err(|e| format!("{}: {e}", image.display()))?;
    Ok(image)
}

/// Boots the image, echoes the console, and checks the marks.
fn boot_and_check(kernel: &Path, image: &Path) -> Result<(), String> {
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
        // panic=-1: if /init dies the kernel reboots at once, and
        // -no-reboot turns that into qemu exiting.
        .args(["-append", "console=ttyS0 panic=-1 loglevel=3 rdinit=/init"])
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
                println!("  | {line}");
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
    println!(
        "initramfs: qemu exited ({status}) after {:.1} s",
        started.elapsed().as_secs_f64()
    );

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
