//! The order of ns-unshare's calls, as util-linux makes them, checked
//! with ns-sys's recording double (no namespace is made).

use super::*;
use cli::Action;
use ns_sys::mount::MsFlags;
use ns_sys::recording::{Call, Recorder};

fn unshare(args: &[&str]) -> Unshare {
    let argv = std::iter::once("unshare").chain(args.iter().copied());
    match cli::parse(argv)
        .map_err(|(_, e)| e.to_string())
        .unwrap()
        .action
    {
        Action::Run(u) => *u,
        other => panic!("expected a run, got {other:?}"),
    }
}

const ME: Me = Me {
    euid: 1000,
    egid: 100,
};

fn proc_mount(dir: &str) -> Call {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    Call::mount("proc", dir, Some("proc"), flags)
}

fn private(dir: &str) -> Call {
    Call::mount("none", dir, None, MsFlags::MS_PRIVATE | MsFlags::MS_REC)
}

/// What a kernel without /proc/self/setgroups (before 3.19) skips.
fn setgroups_file() -> bool {
    Path::new("/proc/self/setgroups").exists()
}

#[test]
fn maps_then_propagation_then_proc() {
    let u = unshare(&["-r", "--mount-proc", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, Some(0), Some(0)).unwrap();
    let mut expected = vec![Call::write("/proc/self/uid_map", "0 1000 1")];
    if setgroups_file() {
        expected.push(Call::write("/proc/self/setgroups", "deny"));
    }
    expected.extend([
        Call::write("/proc/self/gid_map", "0 100 1"),
        private("/"),
        proc_mount("/proc"),
    ]);
    assert_eq!(sys.calls(), expected);
}

#[test]
fn root_and_directory_then_proc_then_identity() {
    let u = unshare(&[
        "-m",
        "--propagation=unchanged",
        "--mount-proc=/p",
        "-R",
        "/new",
        "-w",
        "/wd",
        "-G",
        "5",
        "-S",
        "6",
        "true",
    ]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls(),
        [
            Call::Chroot("/new".into()),
            Call::Chdir("/wd".into()),
            proc_mount("/p"),
            Call::Setgroups(vec![]),
            Call::Setgid(5),
            Call::Setuid(6),
        ]
    );
}

#[test]
fn a_root_alone_changes_to_its_top() {
    let u = unshare(&["-R", "/new", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls(),
        [Call::Chroot("/new".into()), Call::Chdir("/".into())]
    );
}

#[test]
fn proc_under_a_shared_root_is_made_private_first() {
    let u = unshare(&["--propagation=shared", "--mount-proc", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls(),
        [
            Call::mount("none", "/", None, MsFlags::MS_SHARED | MsFlags::MS_REC),
            private("/proc"),
            proc_mount("/proc"),
        ]
    );
    // A directory that is no mount point has no propagation to change.
    let sys = Recorder::new().failing(
        |call| matches!(call, Call::Mount { flags, .. } if flags.contains(MsFlags::MS_PRIVATE)),
        Errno::EINVAL,
    );
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(sys.calls().last(), Some(&proc_mount("/proc")));
}

#[test]
fn setgroups_allow_with_a_group_map_writes_no_map() {
    let u = unshare(&["--map-group=0", "--setgroups=allow", "true"]);
    let sys = Recorder::new();
    let error = set_up_process(&sys, &u, &ME, None, Some(0)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "options --setgroups=allow and --map-group are mutually exclusive"
    );
    assert_eq!(sys.calls(), []);
}

#[test]
fn failures_are_worded_as_util_linux_words_them() {
    let u = unshare(&["-R", "/nonexistent", "true"]);
    let sys = Recorder::new().failing(|call| matches!(call, Call::Chroot(_)), Errno::ENOENT);
    let error = set_up_process(&sys, &u, &ME, None, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot change root directory to '/nonexistent': No such file or directory"
    );
    assert_eq!(sys.calls(), [Call::Chroot("/nonexistent".into())]);

    let u = unshare(&["-r", "true"]);
    let sys = Recorder::new().failing(|call| matches!(call, Call::WriteProc(..)), Errno::EPERM);
    let error = set_up_process(&sys, &u, &ME, Some(0), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "write failed /proc/self/uid_map: Operation not permitted"
    );
}

#[test]
fn time_offsets_boottime_first() {
    let u = unshare(&["-T", "--monotonic=5", "--boottime=-7", "true"]);
    let sys = Recorder::new();
    set_time_offsets(&sys, &u).unwrap();
    assert_eq!(
        sys.calls(),
        [
            Call::write(
                "/proc/self/timens_offsets",
                &format!("{} -7 0", libc::CLOCK_BOOTTIME)
            ),
            Call::write(
                "/proc/self/timens_offsets",
                &format!("{} 5 0", libc::CLOCK_MONOTONIC)
            ),
        ]
    );
}

#[test]
fn namespace_files_are_bound_user_first() {
    let u = unshare(&["--mount=/run/m", "--user=/run/u", "--pid=/run/p", "true"]);
    let sys = Recorder::new();
    bind_namespace_files(&sys, 42, &u.persist).unwrap();
    assert_eq!(
        sys.calls(),
        [
            Call::mount("/proc/42/ns/user", "/run/u", None, MsFlags::MS_BIND),
            Call::mount(
                "/proc/42/ns/pid_for_children",
                "/run/p",
                None,
                MsFlags::MS_BIND
            ),
            Call::mount("/proc/42/ns/mnt", "/run/m", None, MsFlags::MS_BIND),
        ]
    );
}

fn binfmt_mount(dir: &str) -> Call {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    Call::mount("binfmt_misc", dir, Some("binfmt_misc"), flags)
}

#[test]
fn binfmt_after_proc_then_the_interpreter() {
    let u = unshare(&["-r", "-pf", "-l", ":x:E::x::/bin/sh:", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls(),
        [
            private("/"),
            proc_mount("/proc"),
            binfmt_mount("/proc/sys/fs/binfmt_misc"),
            Call::write("/proc/sys/fs/binfmt_misc/register", ":x:E::x::/bin/sh:"),
        ]
    );
    let u = unshare(&["--mount-binfmt=/b", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(sys.calls(), [private("/"), binfmt_mount("/b")]);
}

/// A fixed interpreter with --root is registered before the chroot, from
/// the caller's filesystem, and binfmt_misc is mounted again inside.
#[test]
fn a_fixed_interpreter_is_registered_before_the_root_changes() {
    let fixed = ":q:M::\\x7fELF::/usr/bin/qemu:F";
    let u = unshare(&["-l", fixed, "-R", "/new", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls(),
        [
            private("/"),
            binfmt_mount("/proc/sys/fs/binfmt_misc"),
            Call::write("/proc/sys/fs/binfmt_misc/register", fixed),
            Call::Chroot("/new".into()),
            Call::Chdir("/".into()),
            proc_mount("/proc"),
            binfmt_mount("/proc/sys/fs/binfmt_misc"),
        ]
    );
    // Without F it is registered inside the new root.
    let u = unshare(&["-l", ":q:M::x::/q:OC", "-R", "/new", "true"]);
    let sys = Recorder::new();
    set_up_process(&sys, &u, &ME, None, None).unwrap();
    assert_eq!(
        sys.calls()[1..],
        [
            Call::Chroot("/new".into()),
            Call::Chdir("/".into()),
            proc_mount("/proc"),
            binfmt_mount("/proc/sys/fs/binfmt_misc"),
            Call::write("/proc/sys/fs/binfmt_misc/register", ":q:M::x::/q:OC"),
        ]
    );
}

#[test]
fn a_kernel_without_binfmt_in_user_namespaces_says_so_as_util_linux() {
    let u = unshare(&["--mount-binfmt=/b", "true"]);
    let sys = Recorder::new().failing(
        |call| matches!(call, Call::Mount { fstype: Some(t), .. } if t == "binfmt_misc"),
        Errno::EPERM,
    );
    let error = set_up_process(&sys, &u, &ME, None, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "mount /b failed: Operation not permitted"
    );
}

#[test]
fn the_owner_gives_up_groups_then_gid_then_uid() {
    let sys = Recorder::new();
    become_owner(&sys, (1000, 100)).unwrap();
    assert_eq!(
        sys.calls(),
        [
            Call::Setgroups(vec![]),
            Call::Setgid(100),
            Call::Setuid(1000)
        ]
    );
    let sys = Recorder::new();
    become_owner(&sys, (1000, u32::MAX)).unwrap();
    assert_eq!(sys.calls(), [Call::Setuid(1000)]);
    let sys = Recorder::new().failing(|call| matches!(call, Call::Setuid(_)), Errno::EPERM);
    let error = become_owner(&sys, (5, u32::MAX)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "setuid() failed: Operation not permitted"
    );
}
