//! The command line, read as util-linux nsenter 2.42 reads it.

use super::*;
use ns_getopt::ToolError;

fn read(args: &[&str]) -> Nsenter {
    let argv = std::iter::once("ns-nsenter").chain(args.iter().copied());
    parse(argv).expect("parse never fails").action
}

fn items(args: &[&str]) -> Vec<Item> {
    let read = read(args);
    assert!(matches!(read.end, End::Run(_)), "{:?}", read.end);
    read.items
}

/// The error that ended the reading: (status, usage error?, message).
fn failure(args: &[&str]) -> (u8, bool, String) {
    match read(args).end {
        End::Fail(error) => (
            error.exit_code(),
            matches!(error, Error::Usage(_)),
            error.to_string(),
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn ns(kind: NsType, value: Option<&str>) -> Item {
    Item::Namespace(kind, value.map(OsString::from))
}

#[test]
fn target_and_all_then_the_program() {
    let run = read(&["-t", "42", "-a", "sh", "-c", "echo -a"]);
    assert_eq!(
        run.items,
        [
            Item::Target {
                pid: 42,
                inode: None
            },
            Item::All
        ]
    );
    match run.end {
        End::Run(command) => assert_eq!(command, ["sh", "-c", "echo -a"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn namespace_values_are_attached_only() {
    assert_eq!(
        items(&["-m/run/mnt", "--net=/run/net", "-u", "--ipc"]),
        [
            ns(NsType::Mnt, Some("/run/mnt")),
            ns(NsType::Net, Some("/run/net")),
            ns(NsType::Uts, None),
            ns(NsType::Ipc, None),
        ]
    );
    // `-p /x` is -p without a value, then the program /x.
    let program = read(&["-p", "/x"]);
    assert_eq!(program.items, [ns(NsType::Pid, None)]);
    assert!(matches!(program.end, End::Run(ref c) if c == &["/x"]));
}

#[test]
fn short_values_keep_their_equals_sign_as_getopt_does() {
    assert_eq!(
        items(&["-m=/a", "-r=/b", "--root==c"]),
        [
            ns(NsType::Mnt, Some("=/a")),
            Item::Root(Some("=/b".into())),
            Item::Root(Some("=c".into())),
        ]
    );
    // -mu is the mount namespace of the file "u".
    assert_eq!(items(&["-mu"]), [ns(NsType::Mnt, Some("u"))]);
    assert_eq!(items(&["--mount="]), [ns(NsType::Mnt, Some(""))]);
}

#[test]
fn bundled_flags() {
    assert_eq!(
        items(&["-aFec", "-t1"]),
        [
            Item::All,
            Item::NoFork,
            Item::Env,
            Item::JoinCgroup,
            Item::Target {
                pid: 1,
                inode: None
            }
        ]
    );
}

fn inode(value: u64, well_formed: bool) -> Option<Inode> {
    Some(Inode { value, well_formed })
}

#[test]
fn pid_forms() {
    assert_eq!(parse_pid("42"), Some((42, None)));
    assert_eq!(parse_pid(" +42"), Some((42, None)));
    assert_eq!(parse_pid("42:7"), Some((42, inode(7, true))));
    assert_eq!(parse_pid("42: 7"), Some((42, inode(7, true))));
    assert_eq!(parse_pid("42:\t+010"), Some((42, inode(10, true))));
    // The inode's value is its leading number, saturated; the rest of the
    // text is judged later.
    assert_eq!(parse_pid("42:1:2"), Some((42, inode(1, false))));
    assert_eq!(parse_pid("42:5x"), Some((42, inode(5, false))));
    assert_eq!(parse_pid("42:5 "), Some((42, inode(5, false))));
    assert_eq!(parse_pid("42:1e3"), Some((42, inode(1, false))));
    assert_eq!(
        parse_pid("42:18446744073709551615"),
        Some((42, inode(u64::MAX, true)))
    );
    assert_eq!(
        parse_pid("42:99999999999999999999999"),
        Some((42, inode(u64::MAX, true)))
    );
    for bad in [
        "",
        "0",
        "-1",
        "x",
        "42x",
        "42:",
        "42: ",
        "42:0",
        "42:0000",
        "42:0x10",
        "42:-3",
        "42:-0",
        "42:- 3",
        "42:-99999999999999999999999",
        "42:++5",
        "42:x",
        "42:x5",
        "0:5",
        "42 :5",
        "2147483648",
        "2147483648:5",
    ] {
        assert_eq!(parse_pid(bad), None, "{bad:?}");
    }
    assert_eq!(
        failure(&["-t", "abc"]),
        (1, false, "invalid PID argument".into())
    );
}

#[test]
fn ids_and_follow() {
    assert_eq!(
        items(&["-S", "follow", "-G5", "--setuid=4294967296"]),
        [
            Item::SetUid(IdChoice::Follow),
            Item::SetGid(IdChoice::Id(5)),
            Item::SetUid(IdChoice::Id(0)),
        ]
    );
    assert_eq!(
        failure(&["-S", "abc"]),
        (1, false, "failed to parse uid: 'abc'".into())
    );
    assert_eq!(
        failure(&["-G", "-1"]).2,
        "failed to parse gid: '-1': Numerical result out of range"
    );
    assert_eq!(
        failure(&["-S", "99999999999999999999"]).2,
        "failed to parse uid: '99999999999999999999': Numerical result out of range"
    );
}

#[test]
fn socket_descriptors() {
    assert_eq!(items(&["-N", "3"]), [Item::NetSocket(3)]);
    assert_eq!(items(&["-N", "-1"]), [Item::NetSocket(-1)], "taken, unused");
    // Kept in a C int, as util-linux keeps it.
    assert_eq!(items(&["-N", "-2147483649"]), [Item::NetSocket(i32::MAX)]);
    assert_eq!(items(&["-N", "-4294967296"]), [Item::NetSocket(0)]);
    assert_eq!(
        failure(&["-N", "-9223372036854775809"]).2,
        "failed to parse file descriptor: '-9223372036854775809': Numerical result out of range"
    );
    assert_eq!(
        failure(&["-N", "x"]).2,
        "failed to parse file descriptor: 'x'"
    );
    assert_eq!(
        failure(&["-N", "2147483648"]).2,
        "failed to parse file descriptor: '2147483648': Numerical result out of range"
    );
}

#[test]
fn wd_and_wdns_exclude_each_other_first_seen_first() {
    assert_eq!(
        failure(&["-w", "-W"]).2,
        "options --wd and --wdns cannot be combined"
    );
    assert_eq!(
        failure(&["--wdns=/x", "--wd"]).2,
        "options --wdns and --wd cannot be combined"
    );
    assert_eq!(
        items(&["-w", "-w/x"]),
        [Item::Wd(None), Item::Wd(Some("/x".into()))]
    );
}

#[test]
fn the_items_before_a_bad_option_are_kept() {
    let bad = read(&["-r/x", "--bogus", "-a"]);
    assert_eq!(bad.items, [Item::Root(Some("/x".into()))]);
    match bad.end {
        End::Fail(error) => {
            assert!(matches!(error, Error::Usage(_)));
            assert_eq!(error.to_string(), "unrecognized option '--bogus'");
        }
        other => panic!("{other:?}"),
    }
    let help = read(&["-n/y", "-h", "--bogus"]);
    assert_eq!(help.items, [ns(NsType::Net, Some("/y"))]);
    assert!(matches!(help.end, End::Help));
}

#[test]
fn usage_errors_in_glibc_words() {
    assert_eq!(failure(&["-x"]), (1, true, "invalid option -- 'x'".into()));
    assert_eq!(
        failure(&["-t"]),
        (1, true, "option requires an argument -- 't'".into())
    );
    assert_eq!(
        failure(&["--u"]).2,
        "option '--u' is ambiguous; possibilities: '--uts' '--user' '--user-parent'"
    );
    assert_eq!(
        failure(&["--all=x"]).2,
        "option '--all' doesn't allow an argument"
    );
    assert_eq!(failure(&["-a="]), (1, true, "invalid option -- '='".into()));
    assert_eq!(
        items(&["--user-p", "--pres"]),
        [Item::UserParent, Item::PreserveCredentials]
    );
    assert_eq!(
        failure(&["--us"]).2,
        "option '--us' is ambiguous; possibilities: '--user' '--user-parent'"
    );
}

#[test]
fn flags_without_values_by_any_spelling() {
    assert_eq!(
        items(&["-Z", "--follow-context", "--follow", "--keep-caps", "--kee"]),
        [
            Item::FollowContext,
            Item::FollowContext,
            Item::FollowContext,
            Item::KeepCaps,
            Item::KeepCaps,
        ]
    );
    assert_eq!(
        failure(&["--keep-caps=yes"]).2,
        "option '--keep-caps' doesn't allow an argument"
    );
    assert_eq!(failure(&["-Zx"]), (1, true, "invalid option -- 'x'".into()));
}
