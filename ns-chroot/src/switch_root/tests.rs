//! The switch's calls for made-up trees, through the recording double.

use std::collections::HashMap;

use ns_sys::recording::{Call, Recorder};

use super::*;

/// An initramfs (device 1) with /dev, /proc and /sys mounted (5, 6, 7)
/// and no /run; NEWROOT /root (device 9, the root of mount 50) has a
/// directory for each.
struct Tree {
    nodes: HashMap<PathBuf, Node>,
    facts: HashMap<PathBuf, MountFacts>,
}

fn dir(dev: u64) -> Node {
    Node { dev, is_dir: true }
}

impl Tree {
    fn initramfs() -> Tree {
        let mut nodes = HashMap::new();
        for (path, dev) in [
            ("/", 1),
            ("/dev", 5),
            ("/proc", 6),
            ("/sys", 7),
            ("/root", 9),
            ("/root/dev", 9),
            ("/root/proc", 9),
            ("/root/sys", 9),
            ("/root/run", 9),
        ] {
            nodes.insert(PathBuf::from(path), dir(dev));
        }
        let mut tree = Tree {
            nodes,
            facts: HashMap::new(),
        };
        tree.mount(
            "/",
            MountFacts {
                is_mount_root: Some(true),
                mount_id: Some(1),
            },
        );
        tree.mount(
            "/root",
            MountFacts {
                is_mount_root: Some(true),
                mount_id: Some(50),
            },
        );
        tree
    }

    fn with(mut self, path: &str, node: Option<Node>) -> Tree {
        match node {
            Some(node) => self.nodes.insert(path.into(), node),
            None => self.nodes.remove(Path::new(path)),
        };
        self
    }

    fn mount(&mut self, path: &str, facts: MountFacts) {
        self.facts.insert(path.into(), facts);
    }
}

impl Look for Tree {
    fn stat(&self, path: &Path) -> Result<Node, Errno> {
        self.nodes.get(path).copied().ok_or(Errno::ENOENT)
    }

    fn mount_facts(&self, path: &Path) -> Option<MountFacts> {
        self.facts.get(path).copied()
    }

    fn open_root(&self) -> Result<OwnedFd, Errno> {
        // Any directory will do: the tests only check that it is kept.
        Disk.open_root()
    }
}

fn moved(from: &str, to: &str) -> Call {
    Call::Mount {
        source: Some(from.into()),
        target: to.into(),
        fstype: None,
        flags: MsFlags::MS_MOVE,
        data: None,
    }
}

/// Runs the switch: its calls, its warnings, and the errno it ends with.
fn run(sys: &Recorder, tree: &Tree, newroot: &str) -> (Vec<Call>, Vec<String>, Option<Errno>) {
    let mut warnings = Vec::new();
    let result = switch(sys, tree, Path::new(newroot), &mut |line| {
        warnings.push(String::from_utf8_lossy(&line).into_owned())
    });
    (
        sys.calls(),
        warnings,
        result.ok().map(|switched| switched.last_errno),
    )
}

fn tail(newroot: &str) -> Vec<Call> {
    vec![
        Call::Chdir(newroot.into()),
        moved(newroot, "/"),
        Call::Chroot(".".into()),
        Call::Chdir("/".into()),
    ]
}

#[test]
fn each_api_mount_is_left_moved_or_detached() {
    let root = dir(1);
    let new = dir(9);
    assert_eq!(step(root, new, Some(dir(1)), Some(dir(9))), Step::Leave);
    assert_eq!(step(root, new, Some(dir(5)), Some(dir(9))), Step::Move);
    assert_eq!(step(root, new, None, Some(dir(9))), Step::Move);
    assert_eq!(step(root, new, Some(dir(5)), None), Step::Detach);
    assert_eq!(step(root, new, Some(dir(5)), Some(dir(3))), Step::Detach);
    assert_eq!(step(root, new, None, None), Step::Detach);
}

#[test]
fn an_initramfs_hands_over_its_mounts_then_its_root() {
    // /run is not there: util-linux still tries to move it (stat failed,
    // so it is not known to be a plain directory), fails, says so and
    // forces an unmount.
    let sys = Recorder::new().failing(
        |call| matches!(call, Call::Mount { source: Some(s), .. } if s == "/run"),
        Errno::ENOENT,
    );
    let (calls, warnings, errno) = run(&sys, &Tree::initramfs(), "/root");
    let mut expected = vec![
        moved("/dev", "/root/dev"),
        moved("/proc", "/root/proc"),
        moved("/sys", "/root/sys"),
        moved("/run", "/root/run"),
        Call::Umount2("/run".into(), MntFlags::MNT_FORCE),
    ];
    expected.extend(tail("/root"));
    assert_eq!(calls, expected);
    assert_eq!(
        warnings,
        [
            "failed to mount moving /run to /root/run: No such file or directory",
            "forcing unmount of /run"
        ]
    );
    assert_eq!(errno, Some(Errno::ENOENT));
}

#[test]
fn a_plain_directory_is_left_and_a_missing_target_detaches() {
    let tree = Tree::initramfs()
        .with("/run", Some(dir(1)))
        .with("/root/sys", None);
    let sys = Recorder::new();
    let (calls, warnings, errno) = run(&sys, &tree, "/root");
    let mut expected = vec![
        moved("/dev", "/root/dev"),
        moved("/proc", "/root/proc"),
        Call::Umount2("/sys".into(), MntFlags::MNT_DETACH),
    ];
    expected.extend(tail("/root"));
    assert_eq!(calls, expected);
    assert!(warnings.is_empty(), "{warnings:?}");
    // stat of /root/sys failed: that is the errno util-linux is left with.
    assert_eq!(errno, Some(Errno::ENOENT));
}

#[test]
fn paths_inside_newroot_are_its_bytes_and_the_name() {
    // util-linux joins them as strings: "/root/" gives "/root//dev".
    let sys = Recorder::new().failing(
        |call| matches!(call, Call::Mount { source: Some(s), .. } if s == "/dev"),
        Errno::EBUSY,
    );
    let (_, warnings, _) = run(&sys, &Tree::initramfs(), "/root/");
    assert_eq!(
        warnings[0],
        "failed to mount moving /dev to /root//dev: Device or resource busy"
    );
}

#[test]
fn nothing_moves_when_newroot_is_not_the_root_of_a_mount() {
    let mut tree = Tree::initramfs();
    tree.mount(
        "/root",
        MountFacts {
            is_mount_root: Some(false),
            mount_id: Some(1),
        },
    );
    let sys = Recorder::new().failing(|call| *call == moved("/root", "/"), Errno::EINVAL);
    let (calls, warnings, errno) = run(&sys, &tree, "/root");
    assert_eq!(calls, [moved("/root", "/")], "only the refused move");
    assert_eq!(
        warnings,
        ["failed to mount moving /root to /: Invalid argument"]
    );
    assert_eq!(errno, None, "the switch failed");
}

#[test]
fn the_current_root_mount_cannot_be_newroot() {
    let tree = Tree::initramfs();
    let sys = Recorder::new().failing(|call| *call == moved("/", "/"), Errno::ELOOP);
    let (calls, warnings, _) = run(&sys, &tree, "/");
    assert_eq!(calls, [moved("/", "/")]);
    assert_eq!(
        warnings,
        ["failed to mount moving / to /: Too many levels of symbolic links"]
    );
}

#[test]
fn a_relative_newroot_is_looked_up_from_inside_itself_before_anything_moves() {
    // `switch_root root /init` from /: after chdir("root") the last move
    // looks for root/root. The trial move names it so: moving "root" from
    // here would succeed, and too early.
    let tree = Tree::initramfs().with("root", Some(dir(9)));
    let sys = Recorder::new().failing(|call| *call == moved("root/root", "/"), Errno::ENOENT);
    let (calls, warnings, errno) = run(&sys, &tree, "root");
    assert_eq!(calls, [moved("root/root", "/")]);
    assert_eq!(
        warnings,
        ["failed to mount moving root to /: No such file or directory"]
    );
    assert_eq!(errno, None);

    // Found again inside itself, as the root of a mount: util-linux's steps.
    let mut tree = Tree::initramfs()
        .with("root", Some(dir(9)))
        .with("root/root", Some(dir(9)))
        .with("root/dev", Some(dir(9)));
    tree.mount(
        "root/root",
        MountFacts {
            is_mount_root: Some(true),
            mount_id: Some(51),
        },
    );
    let sys = Recorder::new();
    let (calls, _, _) = run(&sys, &tree, "root");
    assert_eq!(calls[0], moved("/dev", "root/dev"));
    assert!(calls.ends_with(&tail("root")), "{calls:?}");
}

#[test]
fn without_privilege_util_linux_steps_are_kept() {
    // EPERM on the refused move: no mount call can succeed, so the steps
    // are made as util-linux makes them, with its warnings.
    let mut tree = Tree::initramfs();
    tree.mount(
        "/root",
        MountFacts {
            is_mount_root: Some(false),
            mount_id: Some(1),
        },
    );
    let sys = Recorder::new().failing(
        |call| matches!(call, Call::Mount { .. } | Call::Umount2(..)),
        Errno::EPERM,
    );
    let (calls, warnings, _) = run(&sys, &tree, "/root");
    assert_eq!(calls[0], moved("/root", "/"));
    assert_eq!(calls[1], moved("/dev", "/root/dev"));
    assert_eq!(calls.last(), Some(&moved("/root", "/")));
    assert_eq!(
        warnings.first().map(String::as_str),
        Some("failed to mount moving /dev to /root/dev: Operation not permitted")
    );
    assert_eq!(
        warnings.last().map(String::as_str),
        Some("failed to mount moving /root to /: Operation not permitted")
    );
}

#[test]
fn a_file_as_newroot_fails_as_chdir_would_before_anything_moves() {
    let tree = Tree::initramfs().with(
        "/root",
        Some(Node {
            dev: 9,
            is_dir: false,
        }),
    );
    let sys = Recorder::new();
    let (calls, warnings, _) = run(&sys, &tree, "/root");
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(
        warnings,
        ["failed to change directory to /root: Not a directory"]
    );
}

#[test]
fn a_missing_newroot_is_a_failed_stat() {
    let sys = Recorder::new();
    let (calls, warnings, errno) = run(&sys, &Tree::initramfs(), "/nowhere");
    assert!(calls.is_empty());
    assert_eq!(
        warnings,
        ["stat of /nowhere failed: No such file or directory"]
    );
    assert_eq!(errno, None);
}

#[test]
fn a_kernel_without_statx_gets_util_linux_order() {
    let mut tree = Tree::initramfs();
    tree.facts.clear();
    let sys = Recorder::new().failing(|call| *call == moved("/root", "/"), Errno::EINVAL);
    let (calls, warnings, _) = run(&sys, &tree, "/root");
    assert_eq!(calls[0], moved("/dev", "/root/dev"));
    assert_eq!(
        warnings.last().map(String::as_str),
        Some("failed to mount moving /root to /: Invalid argument")
    );
}

#[test]
fn later_failures_stop_the_switch_with_their_own_words() {
    for (failing, text) in [
        (
            Call::Chdir("/root".into()),
            "failed to change directory to /root: Permission denied",
        ),
        (
            Call::Chroot(".".into()),
            "failed to change root: Permission denied",
        ),
        (
            Call::Chdir("/".into()),
            "cannot change directory to /: Permission denied",
        ),
    ] {
        let expected = failing.clone();
        let sys = Recorder::new().failing(move |call| *call == failing, Errno::EACCES);
        let (calls, warnings, errno) = run(&sys, &Tree::initramfs(), "/root");
        assert_eq!(calls.last(), Some(&expected));
        assert_eq!(warnings, [text]);
        assert_eq!(errno, None);
    }
}
