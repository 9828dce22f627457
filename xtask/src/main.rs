//! `cargo xtask TASK`: everything beyond `cargo build`.
//!
//! - `demo`  the walk-through, end to end, with our tools only
//! - `rootfs` a Debian root filesystem built with ns-bootstrap (cached)
//! - `test`  formatting, clippy, unit and integration tests (what CI runs)
//! - `dist`  static musl release binaries of the small tools in target/dist/
//! - `initramfs` an initramfs of the tools, booted under qemu with `--boot`
//! - `bench` our tools against the reference tools, alternating, as ratios

mod bench;
mod demo;
mod dist;
mod initramfs;
mod install;
mod man;
mod rootfs;
mod run;
mod test;
mod toolchain;

use std::process::ExitCode;

const USAGE: &str = "\
Usage: cargo xtask TASK [ARGS]

Tasks:
  demo [--shell]         the walk-through with our tools: bootstrap, enter every namespace,
                         look from the host with ns-lsns, a veth pair and a ping (as root)
  install [--prefix DIR] [--util-linux-names]
                         the static binaries, man pages and bash completions (default /usr/local)
  man                    man pages and bash completions from the option tables, into */doc/
  rootfs [--suite S] [--variant V] [--include A,B] [--out DIR]
                         a Debian rootfs built with ns-bootstrap, reused while intact
  test                   cargo fmt --check, clippy -D warnings, unit and integration tests
  dist                   static x86_64-unknown-linux-musl builds of the tools in target/dist/
  initramfs [--boot]     a gzip'd cpio initramfs with the static tools; --boot boots it
                         under qemu with Debian's kernel and checks every step's mark
  bench [--pairs N] [CASE...]
                         time our tools against the reference tools (alternating runs);
                         CASE filters by name prefix, e.g. `chroot`
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("dist") => dist::run(&args[1..]).map(|_| ()),
        Some("bench") => bench::run(&args[1..]),
        Some("initramfs") => initramfs::run(&args[1..]),
        Some("rootfs") => rootfs::run(&args[1..]),
        Some("man") => man::run(&args[1..]),
        Some("install") => install::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task '{other}'\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
