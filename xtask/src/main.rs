//! `cargo xtask TASK`: everything beyond `cargo build`.
//!
//! - `test`  formatting, clippy, unit and integration tests (what CI runs)
//! - `dist`  static musl release binaries of the small tools in target/dist/
//! - `initramfs` an initramfs of the tools, booted under qemu with `--boot`
//! - `bench` our tools against the reference tools, alternating, as ratios

mod bench;
mod dist;
mod initramfs;
mod run;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
Usage: cargo xtask TASK [ARGS]

Tasks:
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
