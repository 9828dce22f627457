//! `cargo xtask test`: the one test command, for developers and CI alike.
//! First the prerequisites (installed as root on Debian, else the command
//! that installs them, and exit 2); then the steps: rustfmt, clippy, the
//! docs, unit and integration tests, util-linux's and coreutils' own test
//! suites against our tools, and the initramfs booted under qemu.
//! Every step runs even when an earlier one fails, so one run shows all
//! that is wrong; the task fails if any step failed.

use std::process::Command;
use std::time::Instant;

use crate::run::{cargo, checked, Failure};

pub fn run(args: &[String]) -> Result<(), Failure> {
    if let Some(extra) = args.first() {
        return Err(Failure::from(format!(
            "test takes no arguments (got '{extra}')"
        )));
    }
    crate::prerequisites::ensure()?;

    let mut docs = cargo();
    docs.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    let steps: Vec<(&str, Command)> = vec![
        ("formatting", cargo_with(&["fmt", "--all", "--check"])),
        (
            "clippy",
            cargo_with(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        // Broken intra-doc links and malformed doc comments.
        ("docs", docs),
        // The integration tests run the real binaries: build them first.
        ("build", cargo_with(&["build", "--workspace", "--bins"])),
        // Every test binary, even after one fails.
        (
            "tests",
            cargo_with(&["test", "--workspace", "--no-fail-fast"]),
        ),
    ];
    let mut failed = Vec::new();
    // How long each step took, for keeping CI within its time.
    let mut took = Vec::new();
    for (name, mut command) in steps {
        eprintln!("==> {name}");
        let start = Instant::now();
        if let Err(message) = checked(&mut command) {
            eprintln!("xtask: {message}");
            failed.push(name);
        }
        took.push(format!("{name} {:.0} s", start.elapsed().as_secs_f64()));
    }
    // The reference's own test suites, built once and cached under
    // target/upstream/ (cold: a download of seconds, about 2.5 minutes of
    // building on 2 cores; then the runs both ways).
    eprintln!("==> upstream tests");
    let start = Instant::now();
    if let Err(failure) = crate::upstream::run(&[]) {
        eprintln!("xtask: {}", failure.message);
        failed.push("upstream tests");
    }
    took.push(format!(
        "upstream tests {:.0} s",
        start.elapsed().as_secs_f64()
    ));
    // The static tools in a real (emulated) machine: the initramfs /init
    // mounts, unshares, chroots and lists namespaces as PID 1, then hands
    // over to a Debian root on a virtio disk with ns-switch-root.
    eprintln!("==> initramfs boot");
    let start = Instant::now();
    if let Err(message) = crate::initramfs::run(&["--boot".to_string()]) {
        eprintln!("xtask: {message}");
        failed.push("initramfs boot");
    }
    took.push(format!(
        "initramfs boot {:.0} s",
        start.elapsed().as_secs_f64()
    ));
    eprintln!("==> steps: {}", took.join(", "));
    if failed.is_empty() {
        eprintln!("==> all checks passed");
        Ok(())
    } else {
        Err(Failure::from(format!("failed: {}", failed.join(", "))))
    }
}

fn cargo_with(args: &[&str]) -> Command {
    let mut command = cargo();
    command.args(args);
    command
}
