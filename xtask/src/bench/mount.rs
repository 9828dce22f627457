//! ns-mount and ns-umount against util-linux mount and umount.
//!
//! Each mount table lives in its own mount namespace, made private by
//! `unshare --mount --propagation private` and held by a sleeping process
//! that dies with this one (parent-death signal): nothing is mounted on the
//! host, and nothing outlives the bench. Inside, a tmpfs hides /tmp, and
//! /tmp/tpl carries N tmpfs mounts. Both tools are started in it by the
//! bench harness (setns before exec: no nsenter in the timings).
//!
//! `umount -R` consumes its tree: before each timed run (untimed) the
//! template is copied with one `mount --rbind /tmp/tpl /tmp/tree`, and only
//! the unmount is timed. util-linux re-reads the mount table for every
//! unmount (quadratic; about a minute for 5,000 mounts here), so its pairs
//! are limited for the big trees, as the case names say.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{argv, ours, Case, Filters, Namespaces, NsCase, StagedCase};

/// 3,000 is the listing the issue tracker measures; `umount -R` skips it
/// (util-linux's quadratic unmount would cost minutes there).
const SIZES: [usize; 3] = [1000, 3000, 5000];

/// Starts a namespace holder with `mounts` tmpfs mounts under /tmp/tpl;
/// returns its PID once they are all there.
fn populate(mounts: usize) -> Result<u32, String> {
    let script = format!(
        "set -e; /usr/bin/mount -t tmpfs bench /tmp; mkdir /tmp/tpl /tmp/tree /tmp/p; \
         /usr/bin/mount -t tmpfs tpl /tmp/tpl; i=0; \
         while [ $i -lt {mounts} ]; do mkdir /tmp/tpl/$i; /usr/bin/mount -t tmpfs t$i /tmp/tpl/$i; i=$((i+1)); done; \
         exec sleep 1000000"
    );
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // The namespace dies with its holder.
    let pid = super::spawn_dying_with_us(&mut command)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map_err(|_| format!("the namespace holder for {mounts} mounts died"))?;
        if comm.trim() == "sleep" {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            return Err(format!("{mounts} mounts were not ready in time"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The namespaces, made once for both case lists.
struct Holders {
    by_size: Vec<(usize, String)>,
}

fn holders(filters: &Filters) -> &'static Holders {
    static HOLDERS: std::sync::OnceLock<Holders> = std::sync::OnceLock::new();
    HOLDERS.get_or_init(|| {
        let mut by_size = Vec::new();
        // Thousands of mounts are only worth making when a case can run.
        if filters.may_select("mount") || filters.may_select("umount") {
            for size in SIZES {
                match populate(size) {
                    Ok(pid) => by_size.push((size, pid.to_string())),
                    Err(error) => eprintln!("mount bench: {error}; skipping {size}"),
                }
            }
        }
        Holders { by_size }
    })
}

fn enter(pid: &str) -> Namespaces {
    Namespaces {
        mnt: Some(format!("/proc/{pid}/ns/mnt")),
        pid: None,
    }
}

pub fn cases(dist: &Path, filters: &Filters) -> Vec<NsCase> {
    let ns_mount = ours(dist, "ns-mount");
    let ns_umount = ours(dist, "ns-umount");
    let mut cases = Vec::new();
    for (size, pid) in &holders(filters).by_size {
        cases.push(NsCase {
            case: Case {
                name: format!("mount (list {size} mounts)"),
                ours: argv(&[&ns_mount]),
                reference: argv(&["/usr/bin/mount"]),
            },
            namespaces: enter(pid),
        });
        if *size == SIZES[0] {
            let pair = |m: &str, u: &str| {
                argv(&[
                    "sh",
                    "-c",
                    &format!("{m} -t tmpfs none /tmp/p && {u} /tmp/p"),
                ])
            };
            cases.push(NsCase {
                case: Case {
                    name: "mount -t tmpfs + umount".into(),
                    ours: pair(&ns_mount, &ns_umount),
                    reference: pair("/usr/bin/mount", "/usr/bin/umount"),
                },
                namespaces: enter(pid),
            });
        }
    }
    cases
}

pub fn staged_cases(dist: &Path, filters: &Filters) -> Vec<StagedCase> {
    let ns_umount = ours(dist, "ns-umount");
    let mut cases = Vec::new();
    for (size, pid) in &holders(filters).by_size {
        if *size == 3000 {
            continue;
        }
        // util-linux: ~2.5 s at 1,000 mounts, ~60 s at 5,000.
        let pairs = if *size >= 5000 { 3 } else { 10 };
        cases.push(StagedCase {
            name: format!("umount -R ({size} mounts, {pairs} pairs)"),
            prepare: argv(&["/usr/bin/mount", "--rbind", "/tmp/tpl", "/tmp/tree"]),
            ours: argv(&[&ns_umount, "-R", "/tmp/tree"]),
            reference: argv(&["/usr/bin/umount", "-R", "/tmp/tree"]),
            pairs,
            namespaces: enter(pid),
        });
    }
    cases
}
