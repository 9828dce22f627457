//! ns-unshare against util-linux unshare: a single namespace, the usual
//! container set with a fork, and an unprivileged-style user namespace
//! with root mapped (run as root here, the maps are written directly).

use std::path::Path;

use super::{argv, ours, Case};

const REFERENCE: &str = "/usr/bin/unshare";

pub fn cases(dist: &Path) -> Vec<Case> {
    let ns_unshare = ours(dist, "ns-unshare");
    [
        &["--uts", "/bin/true"][..],
        &["-muinpf", "/bin/true"][..],
        &["-r", "/bin/true"][..],
    ]
    .into_iter()
    .map(|args| {
        let with = |program: &str| {
            let mut command = vec![program];
            command.extend_from_slice(args);
            argv(&command)
        };
        Case {
            name: format!("unshare {}", args.join(" ")),
            ours: with(&ns_unshare),
            reference: with(REFERENCE),
        }
    })
    .collect()
}
