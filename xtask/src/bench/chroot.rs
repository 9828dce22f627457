//! ns-chroot against coreutils chroot.

use std::path::Path;

use super::{argv, ours, Case};

pub fn cases(dist: &Path) -> Vec<Case> {
    let ns_chroot = ours(dist, "ns-chroot");
    vec![
        Case {
            name: "chroot / /bin/true".into(),
            ours: argv(&[&ns_chroot, "/", "/bin/true"]),
            reference: argv(&["/usr/sbin/chroot", "/", "/bin/true"]),
        },
        Case {
            name: "chroot --userspec=nobody:nogroup / /bin/true".into(),
            ours: argv(&[&ns_chroot, "--userspec=nobody:nogroup", "/", "/bin/true"]),
            reference: argv(&[
                "/usr/sbin/chroot",
                "--userspec=nobody:nogroup",
                "/",
                "/bin/true",
            ]),
        },
    ]
}
