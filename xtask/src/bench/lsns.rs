//! ns-lsns against util-linux lsns, with 0, 500 and 2,000 extra processes
//! each in its own network and UTS namespaces.
//!
//! Each population lives in its own PID namespace (with its own /proc),
//! so both tools, started in its PID and mount namespaces (setns by the
//! bench harness, no nsenter in the timings), see exactly that many
//! processes. A population
//! is killed with its PID namespace's init, which dies with the unshare
//! that made it, which dies with this process (parent-death signals): no
//! process outlives the bench, whatever happens to it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{argv, ours, Case, Filters, Measured, Namespaces, NsCase};

const SIZES: [usize; 3] = [0, 500, 2000];

/// Starts a population and returns the host PID of its PID namespace's
/// init, once all its processes run.
fn populate(extra: usize) -> Result<u32, String> {
    let script = format!(
        "i=0; while [ $i -lt {extra} ]; do unshare --net --uts sleep 1000000 & i=$((i+1)); done; exec sleep 1000000"
    );
    let mut command = Command::new("unshare");
    command
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let unshare = super::spawn_dying_with_us(&mut command)?;
    // The child is reaped when this process exits; the population dies
    // with it.

    let deadline = Instant::now() + Duration::from_secs(120);
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    loop {
        if let Some(&init) = children(unshare).first() {
            // The init's children: the namespaced sleeps (the last exec
            // turns the init itself into a sleep).
            let comm = std::fs::read_to_string(format!("/proc/{init}/comm")).unwrap_or_default();
            if children(init).len() >= extra && comm.trim() == "sleep" {
                return Ok(init);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("population of {extra} did not start in time"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The populations are only worth starting when an lsns case can run.
pub fn cases(dist: &Path, filters: &Filters) -> Vec<NsCase> {
    if !filters.may_select("lsns") {
        return Vec::new();
    }
    let ns_lsns = ours(dist, "ns-lsns");
    let mut cases = Vec::new();
    for extra in SIZES {
        let init = match populate(extra) {
            Ok(init) => init.to_string(),
            Err(error) => {
                eprintln!("lsns bench: {error}; skipping {extra}");
                continue;
            }
        };
        let namespaces = Namespaces {
            mnt: Some(format!("/proc/{init}/ns/mnt")),
            pid: Some(format!("/proc/{init}/ns/pid")),
        };
        for args in [&[][..], &["-J"][..], &["-t", "net"][..]] {
            let mut ours_argv: Vec<&str> = vec![&ns_lsns];
            ours_argv.extend_from_slice(args);
            let mut reference: Vec<&str> = vec!["/usr/bin/lsns"];
            reference.extend_from_slice(args);
            cases.push(NsCase {
                case: Case {
                    name: format!("lsns {} ({extra} extra)", args.join(" "))
                        .replace("lsns  (", "lsns ("),
                    ours: argv(&ours_argv),
                    reference: argv(&reference),
                },
                namespaces: namespaces.clone(),
            });
        }
    }
    cases
}

/// How time grows with the number of processes: for each command, the
/// time at each population over the time at the previous one, ours and
/// util-linux's (linear growth from 500 to 2,000 is about 4x).
pub fn report_growth(timings: &[(String, Measured)]) {
    let mut lines = Vec::new();
    for args in ["", "-J", "-t net"] {
        let name =
            |extra: usize| format!("lsns {args} ({extra} extra)").replace("lsns  (", "lsns (");
        let at = |extra: usize| {
            timings
                .iter()
                .find(|(n, _)| *n == name(extra))
                .map(|(_, m)| m)
        };
        for pair in SIZES.windows(2).filter(|pair| pair[0] > 0) {
            let (Some(small), Some(large)) = (at(pair[0]), at(pair[1])) else {
                continue;
            };
            let growth = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
            lines.push(format!(
                "{:<44} {:>9.2}x {:>9.2}x",
                format!("lsns {args} {} -> {} extra", pair[0], pair[1]).replace("lsns  ", "lsns "),
                growth(small.ours_median, large.ours_median),
                growth(small.reference_median, large.reference_median),
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<44} {:>10} {:>10}",
        "growth with more processes", "ours", "ref"
    );
    for line in lines {
        println!("{line}");
    }
}
