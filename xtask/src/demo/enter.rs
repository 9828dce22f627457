//! The host enters the running container with ns-nsenter and runs
//! commands in it: `-a` every namespace of its PID 1 (a user namespace
//! first, when it is one's own), `-r -w` its root and working directory
//! (it chrooted into the rootfs, so its /proc and its binaries are
//! there), `--preserve-credentials` our own uid, which the container maps
//! to its root (its user namespace denies setgroups, so the groups could
//! not be switched).

use std::path::Path;
use std::process::Command;

use crate::run::checked;

/// What the host runs inside: the hostname the container set, and its
/// processes (its PID 1, and the ps that joined it).
const COMMANDS: &[&[&str]] = &[&["hostname"], &["ps", "-o", "pid,comm"]];

pub fn run(tools: &Path, pid: u32) -> Result<(), String> {
    let nsenter = tools.join("ns-nsenter");
    let pid = pid.to_string();
    for command in COMMANDS {
        println!();
        checked(
            Command::new(&nsenter)
                .args(["-t", &pid, "-a", "-r", "-w", "--preserve-credentials"])
                .args(*command),
        )?;
    }
    Ok(())
}
