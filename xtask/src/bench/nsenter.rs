//! ns-nsenter against util-linux nsenter: entering every namespace of a
//! running container (`-a`: a fork into its PID namespace) and its network
//! namespace alone, each running /bin/true.
//!
//! The container is `unshare --mount --uts --ipc --net --pid --cgroup
//! --time --fork --kill-child sleep`, held by a parent-death signal: it
//! dies with this process, whatever happens to the bench.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{argv, ours, Case, Filters};

const REFERENCE: &str = "/usr/bin/nsenter";

/// Starts the container; returns the host PID of its sleeping process.
fn container() -> Result<u32, String> {
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--pid",
            "--cgroup",
            "--time",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "sleep",
            "1000000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let unshare = super::spawn_dying_with_us(&mut command)?;
    // Reaped when this process exits; the container dies with it.
    let children = format!("/proc/{unshare}/task/{unshare}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = listed.split_whitespace().next() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                return pid.parse().map_err(|_| format!("{children}: {listed}"));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("the container did not start in time".to_string())
}

pub fn cases(dist: &Path, filters: &Filters) -> Vec<Case> {
    if !filters.may_select("nsenter") {
        return Vec::new();
    }
    let pid = match container() {
        Ok(pid) => pid.to_string(),
        Err(error) => {
            eprintln!("nsenter bench: {error}; skipping");
            return Vec::new();
        }
    };
    let ns_nsenter = ours(dist, "ns-nsenter");
    [&["-a"][..], &["-n"][..]]
        .into_iter()
        .map(|what| {
            let with = |program: &str| {
                let mut command = vec![program, "-t", &pid];
                command.extend_from_slice(what);
                command.push("/bin/true");
                argv(&command)
            };
            Case {
                name: format!("nsenter -t PID {} /bin/true", what.join(" ")),
                ours: with(&ns_nsenter),
                reference: with(REFERENCE),
            }
        })
        .collect()
}
