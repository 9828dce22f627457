//! The differential tests' references are what they claim to be: the
//! cached forky root holds util-linux 2.42 and coreutils 9.10 and runs them
//! on the host, speaking as the names they are given.

use nstools_tests::reference::{command, version, Release};
use nstools_tests::require_root;

#[test]
fn newest_reference_is_util_linux_2_42_and_coreutils_9_10() {
    if !require_root() {
        return;
    }
    for tool in [
        "mount",
        "umount",
        "lsns",
        "unshare",
        "nsenter",
        "switch_root",
        "pivot_root",
    ] {
        let line = version(Release::Newest, tool);
        assert!(
            line.starts_with(&format!("{tool} from util-linux 2.42")),
            "{tool} --version: {line:?}"
        );
    }
    let line = version(Release::Newest, "chroot");
    assert_eq!(line, "chroot (GNU coreutils) 9.10");
    // It runs on the host's /proc, and says its own name in errors.
    let out = command(Release::Newest, "lsns").arg("--bogus").run();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.starts_with("lsns: "), "{out}");
    let host = version(Release::Host, "mount");
    assert!(host.starts_with("mount from util-linux 2.38"), "{host}");
}
