//! The command line, parsed as util-linux parses it.

use super::*;
use ns_getopt::ToolError;

fn parse_ok(args: &[&str]) -> Unshare {
    let argv = std::iter::once("ns-unshare").chain(args.iter().copied());
    match parse(argv).map_err(|(_, e)| e.to_string()).unwrap().action {
        Action::Run(u) => *u,
        other => panic!("expected a run, got {other:?}"),
    }
}

fn parse_err(args: &[&str]) -> (u8, bool, String) {
    let argv = std::iter::once("ns-unshare").chain(args.iter().copied());
    let (_, error) = parse(argv).unwrap_err();
    (
        error.exit_code(),
        matches!(error, Error::Usage(_)),
        error.to_string(),
    )
}

fn longs(u: &Unshare) -> Vec<&'static str> {
    u.namespaces.iter().map(|kind| kind.option_name()).collect()
}

#[test]
fn walk_through_line() {
    let u = parse_ok(&[
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--map-root-user",
        "--user",
        "--pid",
        "--fork",
        "ns-chroot",
        "/debian",
        "bash",
    ]);
    assert_eq!(longs(&u), ["mount", "uts", "ipc", "net", "user", "pid"]);
    assert!(u.fork);
    assert_eq!(u.map_user, Some(IdArg::Number(0)));
    assert_eq!(u.map_group, Some(IdArg::Number(0)));
    assert_eq!(u.command, ["ns-chroot", "/debian", "bash"]);
}

#[test]
fn bundled_short_options() {
    let u = parse_ok(&["-muinpUCTf", "true"]);
    assert_eq!(u.namespaces.len(), 8);
    assert!(u.fork);
    assert!(u.persist.iter().all(Option::is_none));
}

#[test]
fn parsing_stops_at_the_program() {
    let u = parse_ok(&["-u", "sh", "-c", "--mount", "--"]);
    assert_eq!(longs(&u), ["uts"]);
    assert_eq!(u.command, ["sh", "-c", "--mount", "--"]);
    let u = parse_ok(&["--", "-m"]);
    assert!(u.namespaces.is_empty());
    assert_eq!(u.command, ["-m"]);
    assert!(parse_ok(&[]).command.is_empty());
}

#[test]
fn persistence_files_only_with_long_equals() {
    let u = parse_ok(&["--mount=/run/mnt", "--pid=/run/pid", "--net", "/x"]);
    let m = NsType::Mnt.index();
    let p = NsType::Pid.index();
    let n = NsType::Net.index();
    assert_eq!(u.persist[m], Some(PathBuf::from("/run/mnt")));
    assert_eq!(u.persist[p], Some(PathBuf::from("/run/pid")));
    assert_eq!(u.persist[n], None);
    assert_eq!(u.command, ["/x"], "--net takes no separate value");
    assert_eq!(
        parse_err(&["-m/tmp/x"]),
        (1, true, "invalid option -- '/'".into())
    );
    let u = parse_ok(&["--ut=/a", "--uts=/b"]);
    assert_eq!(
        u.persist[NsType::Uts.index()],
        Some(PathBuf::from("/b")),
        "the last file wins"
    );
}

#[test]
fn implied_options() {
    let u = parse_ok(&["--mount-proc"]);
    assert_eq!(longs(&u), ["mount"]);
    assert_eq!(u.mount_proc, Some(PathBuf::from("/proc")));
    let u = parse_ok(&["--mount-proc=/mnt/p"]);
    assert_eq!(u.mount_proc, Some(PathBuf::from("/mnt/p")));
    let u = parse_ok(&["--kill-child"]);
    assert!(u.fork);
    assert_eq!(u.kill_child, Some(libc::SIGKILL));
    assert_eq!(parse_ok(&["--kill-child=term"]).kill_child, Some(15));
    let u = parse_ok(&["--forward-signals"]);
    assert!(u.fork && u.forward_signals);
    for option in ["-r", "-c", "--map-user=1", "--map-group=1", "--map-auto"] {
        assert_eq!(longs(&parse_ok(&[option])), ["user"], "{option}");
    }
    assert_eq!(
        parse_ok(&["-c"]).map_user,
        Some(IdArg::Current),
        "-c maps the current ids"
    );
}

#[test]
fn map_blocks_repeat_and_auto() {
    let u = parse_ok(&["--map-users=0:100000:10", "--map-users=100010,10,5"]);
    assert_eq!(
        u.map_users,
        [
            BlockArg::Block(Block {
                outer: 100000,
                inner: 0,
                count: 10,
                auto: false,
            }),
            BlockArg::Block(Block {
                outer: 100010,
                inner: 10,
                count: 5,
                auto: false,
            })
        ]
    );
    let u = parse_ok(&["--map-auto", "--map-groups", "auto"]);
    assert_eq!(u.map_users, [BlockArg::Auto]);
    assert_eq!(u.map_groups, [BlockArg::Auto, BlockArg::Auto]);
    let u = parse_ok(&["--map-subids", "--map-users=all", "--map-groups=subids"]);
    assert_eq!(longs(&u), ["user"]);
    assert_eq!(u.map_users, [BlockArg::Subids, BlockArg::All]);
    assert_eq!(u.map_groups, [BlockArg::Subids, BlockArg::Subids]);
    assert_eq!(
        parse_err(&["--map-users=All"]),
        (1, false, "invalid mapping 'All'".into())
    );
    assert_eq!(
        parse_err(&["--map-users=1:2"]),
        (1, false, "invalid mapping '1:2'".into())
    );
}

#[test]
fn owner_is_two_numbers() {
    let u = parse_ok(&["--owner", "1000:100"]);
    assert_eq!(longs(&u), ["user"]);
    assert_eq!(u.owner, Some((1000, 100)));
    assert_eq!(parse_ok(&["--owner= 1: +2"]).owner, Some((1, 2)));
    // -1 is C's (uid_t) -1: that ID is left as it is.
    assert_eq!(
        parse_ok(&["--owner=-1:-1"]).owner,
        Some((u32::MAX, u32::MAX))
    );
    for bad in [
        "",
        "1",
        "1:",
        ":1",
        "1:2:3",
        "x:1",
        "1 :2",
        "1:2 ",
        "1,2",
        "4294967296:0",
    ] {
        assert_eq!(
            parse_err(&["--owner", bad]),
            (1, false, "failed to parse owner".into()),
            "{bad:?}"
        );
    }
}

#[test]
fn binfmt_options_imply_user_mount_and_proc() {
    let u = parse_ok(&["--mount-binfmt"]);
    assert_eq!(longs(&u), ["mount", "user"]);
    assert_eq!(u.mount_binfmt, Some(PathBuf::from(BINFMT_DIR)));
    assert_eq!(u.mount_proc, Some(PathBuf::from("/proc")));
    // A place of its own needs no proc.
    let u = parse_ok(&["--mount-binfmt=/b"]);
    assert_eq!(u.mount_binfmt, Some(PathBuf::from("/b")));
    assert_eq!(u.mount_proc, None);
    // --mount-proc keeps its place, before or after.
    let u = parse_ok(&["--mount-proc=/p", "--mount-binfmt"]);
    assert_eq!(u.mount_proc, Some(PathBuf::from("/p")));
    let u = parse_ok(&["--mount-binfmt", "--mount-proc=/p"]);
    assert_eq!(u.mount_proc, Some(PathBuf::from("/p")));
    let u = parse_ok(&["-l", ":x:E::x::/bin/sh:", "true"]);
    assert_eq!(longs(&u), ["mount", "user"]);
    assert_eq!(u.load_interp, Some(OsString::from(":x:E::x::/bin/sh:")));
    assert_eq!(u.mount_binfmt, Some(PathBuf::from(BINFMT_DIR)));
    assert_eq!(u.command, ["true"]);
    let u = parse_ok(&["--mount-binfmt=/b", "-la", "-lb"]);
    assert_eq!(u.mount_binfmt, Some(PathBuf::from("/b")));
    assert_eq!(u.mount_proc, None);
    assert_eq!(u.load_interp, Some(OsString::from("b")), "the last wins");
    assert_eq!(
        parse_err(&["-l"]),
        (1, true, "option requires an argument -- 'l'".into())
    );
}

#[test]
fn value_checks_in_option_order() {
    assert_eq!(
        parse_err(&["--propagation", "foo"]).2,
        "unsupported propagation mode: foo"
    );
    assert_eq!(
        parse_err(&["--setgroups=x"]).2,
        "unsupported --setgroups argument 'x'"
    );
    assert_eq!(parse_err(&["--kill-child=9"]).2, "unknown signal: 9");
    assert_eq!(parse_err(&["-S", "x"]).2, "failed to parse uid: 'x'");
    assert_eq!(parse_err(&["-G", ""]).2, "failed to parse gid: ''");
    assert_eq!(parse_ok(&["-S", "4294967296"]).setuid, Some(0));
    // 2.42: negative is out of range (2.38 wrapped it to 4294967291).
    assert_eq!(
        parse_err(&["-S", "-5"]).2,
        "failed to parse uid: '-5': Numerical result out of range"
    );
    assert_eq!(
        parse_err(&["-G", &"9".repeat(30)]).2,
        format!(
            "failed to parse gid: '{}': Numerical result out of range",
            "9".repeat(30)
        )
    );
    assert_eq!(
        parse_err(&["-T", "--monotonic=5x"]).2,
        "failed to parse monotonic offset: '5x'"
    );
    assert_eq!(parse_ok(&["-T", "--boottime", "-5"]).boottime, Some(-5));
    assert_eq!(parse_ok(&["-T", "--boottime", " +5"]).boottime, Some(5));
    for (huge, sign) in [("18446744073709551615", ""), ("9223372036854775808", "-")] {
        let value = format!("{sign}{huge}9");
        assert_eq!(
            parse_err(&["-T", "--boottime", &value]).2,
            format!("failed to parse boottime offset: '{value}': Numerical result out of range")
        );
    }
    assert_eq!(
        parse_err(&["-T", "--monotonic=18446744073709551615"]).2,
        "failed to parse monotonic offset: '18446744073709551615': Numerical result out of range"
    );
    assert_eq!(
        parse_err(&["-T", "--monotonic=-"]).2,
        "failed to parse monotonic offset: '-'"
    );
    let (code, usage, text) = parse_err(&["--monotonic", "5"]);
    assert_eq!((code, usage), (1, false));
    assert!(text.contains("(-T)"));
}

#[test]
fn usage_errors() {
    assert_eq!(
        parse_err(&["-x"]),
        (1, true, "invalid option -- 'x'".into())
    );
    assert_eq!(
        parse_err(&["--bogus"]),
        (1, true, "unrecognized option '--bogus'".into())
    );
    assert_eq!(
        parse_err(&["-S"]),
        (1, true, "option requires an argument -- 'S'".into())
    );
    assert_eq!(
        parse_err(&["--propagation"]),
        (
            1,
            true,
            "option '--propagation' requires an argument".into()
        )
    );
    assert_eq!(
        parse_err(&["--fork=1"]),
        (1, true, "option '--fork' doesn't allow an argument".into())
    );
    let (_, usage, text) = parse_err(&["--map"]);
    assert!(usage && text.starts_with("option '--map' is ambiguous"));
}

#[test]
fn abbreviations() {
    let u = parse_ok(&["--mount", "--ut", "--map-r", "--prop", "slave", "--wd=/t"]);
    assert_eq!(longs(&u), ["mount", "uts", "user"]);
    assert_eq!(u.propagation, Propagation::Slave);
    assert_eq!(u.wd, Some(PathBuf::from("/t")));
}

#[test]
fn every_table_option_is_handled() {
    for opt in TOOL.options {
        let mut argv = vec!["unshare".to_string(), format!("--{}", opt.long)];
        if matches!(opt.value, ns_getopt::Value::Required(_)) {
            argv.push("1".to_string());
        }
        // An error is fine (a bad value); a panic (unhandled) is not.
        let _ = parse(argv);
        if let Some(short) = opt.short {
            let mut argv = vec!["unshare".to_string(), format!("-{short}")];
            if matches!(opt.value, ns_getopt::Value::Required(_)) {
                argv.push("1".to_string());
            }
            let _ = parse(argv);
        }
    }
}

#[test]
fn help_names_every_option() {
    let help = TOOL.help("unshare");
    assert!(help.starts_with("\nUsage:\n unshare [options]"));
    for opt in TOOL.options {
        assert!(help.contains(&format!("--{}", opt.long)), "{}", opt.long);
    }
}

#[test]
fn help_and_version() {
    let argv = ["unshare", "-h", "--bogus"];
    assert_eq!(parse(argv).unwrap().action, Action::Help);
    assert_eq!(parse(["unshare", "-V"]).unwrap().action, Action::Version);
    assert_eq!(
        parse(["/usr/bin/unshare", "-V"]).unwrap().invoked_as,
        "unshare"
    );
}
