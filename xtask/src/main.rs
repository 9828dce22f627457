//! `cargo xtask TASK`: everything beyond `cargo build`.
//!
//! - `demo`  the walk-through, end to end, with our tools only
//! - `rootfs` a Debian root filesystem built with ns-bootstrap (cached)
//! - `test`  prerequisites, formatting, clippy, docs, unit and integration
//!   tests, the initramfs booted (what CI runs)
//! - `dist`  static musl release binaries of the small tools in target/dist/
//! - `initramfs` an initramfs of the tools, booted under qemu with `--boot`
//! - `bench` our tools against the reference tools, alternating, as ratios
//! - `upstream-tests` util-linux's and coreutils' own test suites, against
//!   their builds and against our tools

mod bench;
mod demo;
mod dist;
mod initramfs;
mod install;
mod man;
mod prerequisites;
mod rootfs;
mod run;
mod test;
mod toolchain;
mod upstream;

use std::process::ExitCode;

use run::Failure;

const USAGE: &str = "\
Usage: cargo xtask TASK [ARGS]

Tasks:
  demo [--shell]         the walk-through with our tools: bootstrap, enter every namespace,
                         look from the host with ns-lsns, a veth pair and a ping (as root);
                         needs nothing but a Rust toolchain
  install [--prefix DIR] [--util-linux-names]
                         the static binaries, man pages and bash completions (default /usr/local)
  man                    man pages and bash completions from the option tables, into */doc/
  rootfs [--suite S] [--variant V] [--include A,B] [--out DIR]
                         a Debian rootfs built with ns-bootstrap, reused while intact
  test                   installs what it needs (as root on Debian; else says how, exit 2),
                         then cargo fmt --check, clippy -D warnings, cargo doc -D warnings,
                         unit and integration tests, the initramfs booted under qemu
  dist                   static x86_64-unknown-linux-musl builds of the tools in target/dist/
  initramfs [--boot]     a gzip'd cpio initramfs with the static tools; --boot boots it
                         under qemu with Debian's kernel and the cached rootfs as an ext4
                         disk it switches to, and checks every step's mark
  bench [--pairs N] [CASE...]
                         time our tools against the reference tools (alternating runs);
                         CASE filters by name prefix, e.g. `chroot`
  upstream-tests [TEST...]
                         util-linux 2.42.4's and coreutils 9.10's own tests (downloaded from
                         the Debian mirror and built once, in target/upstream/), run against
                         their own builds and against our tools; fails when ours fails a test
                         the reference passes that xtask/upstream-exceptions.txt does not list,
                         or passes one it lists. TEST: a test (mount/label), a group (mount,
                         tests/chroot) or a suite (util-linux, coreutils)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result: Result<(), Failure> = match args.first().map(String::as_str) {
        Some("test") => test::run(rest),
        Some("dist") => dist::run(rest).map(|_| ()).map_err(Failure::from),
        Some("bench") => bench::run(rest).map_err(Failure::from),
        Some("initramfs") => initramfs::run(rest).map_err(Failure::from),
        Some("rootfs") => rootfs::run(rest).map_err(Failure::from),
        Some("man") => man::run(rest).map_err(Failure::from),
        Some("install") => install::run(rest).map_err(Failure::from),
        Some("demo") => demo::run(rest).map_err(Failure::from),
        Some("upstream-tests") => upstream::run(rest),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Failure::from(format!("unknown task '{other}'\n\n{USAGE}"))),
        None => Err(Failure::from(USAGE.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("xtask: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
