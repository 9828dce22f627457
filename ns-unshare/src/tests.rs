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
