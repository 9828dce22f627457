//! `cargo xtask test`: the one test command, for developers and CI alike.
//! The steps: rustfmt, clippy, unit and integration tests, and the
//! initramfs booted under qemu. Every step runs even when an earlier one
//! fails, so one run shows all that is wrong; the task fails if any step
//! failed.

use crate::run::{cargo, checked};

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("test takes no arguments (got '{extra}')"));
    }
    let steps: [(&str, &[&str]); 4] = [
        ("formatting", &["fmt", "--all", "--check"]),
        (
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
        // The integration tests run the real binaries: build them first.
        ("build", &["build", "--workspace", "--bins"]),
        ("tests", &["test", "--workspace"]),
    ];
    let mut failed = Vec::new();
    for (name, cargo_args) in steps {
        eprintln!("==> {name}");
        if let Err(message) = checked(cargo().args(cargo_args)) {
            eprintln!("xtask: {message}");
            failed.push(name);
        }
    }
    // The static tools in a real (emulated) machine: the initramfs /init
    // mounts, unshares, chroots and lists namespaces as PID 1.
    eprintln!("==> initramfs boot");
    if let Err(message) = crate::initramfs::run(&["--boot".to_string()]) {
        eprintln!("xtask: {message}");
        failed.push("initramfs boot");
    }
    if failed.is_empty() {
        eprintln!("==> all checks passed");
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}
