//! What a run may have left: processes (found by the mark in their
//! environment, their root or working directory, or their owner) and
//! mounts.

use std::ops::RangeInclusive;
use std::path::Path;

/// Processes that carry `NAME=VALUE` in their environment, have their root
/// or working directory under `dir`, or run as one of `uids` (real uid).
pub fn processes(
    mark: Option<(&str, &str)>,
    dir: Option<&Path>,
    uids: &[RangeInclusive<u32>],
) -> Vec<String> {
    let wanted = mark.map(|(name, value)| format!("{name}={value}"));
    let mut found = Vec::new();
    let entries = std::fs::read_dir("/proc").expect("/proc");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == std::process::id().to_string() {
            continue;
        }
        let proc_dir = entry.path();
        let mut why = Vec::new();
        if let (Some(wanted), Ok(environ)) = (&wanted, std::fs::read(proc_dir.join("environ"))) {
            if environ
                .split(|b| *b == 0)
                .any(|var| var == wanted.as_bytes())
            {
                why.push("the mark".to_string());
            }
        }
        for link in ["root", "cwd"] {
            let target = std::fs::read_link(proc_dir.join(link));
            if dir.is_some_and(|dir| target.is_ok_and(|p| p.starts_with(dir))) {
                why.push(format!("its {link}"));
            }
        }
        if let Some(uid) = real_uid(&proc_dir) {
            if uids.iter().any(|range| range.contains(&uid)) {
                why.push(format!("uid {uid}"));
            }
        }
        if !why.is_empty() {
            let comm = std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
            found.push(format!("{pid} {} ({})", comm.trim(), why.join(", ")));
        }
    }
    found
}

fn real_uid(proc_dir: &Path) -> Option<u32> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Kills (SIGKILL) what `processes` finds; for cleanup after a failure.
pub fn kill(found: &[String]) {
    for line in found {
        if let Some(pid) = line.split(' ').next().and_then(|p| p.parse::<i32>().ok()) {
            // SAFETY: kill(2) of a process this test started (directly or
            // not), named by its pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The mount points of the calling process's mount namespace under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|target| Path::new(target).starts_with(dir))
        .map(str::to_string)
        .collect()
}
