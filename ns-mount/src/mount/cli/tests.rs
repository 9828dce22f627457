use super::*;
use std::ffi::OsStr;

fn parse_ok(args: &[&str]) -> Options {
    let argv = std::iter::once("mount").chain(args.iter().copied());
    parse(argv).map_err(|(_, e)| e.to_string()).unwrap()
}

#[test]
fn options_mode_and_source() {
    let o = parse_ok(&["--options-mode=append", "--options-source", "fstab", "m"]);
    assert_eq!(o.options_mode, OptionsMode::Append);
    assert_eq!(
        o.tables_off,
        TablesOff {
            fstab: false,
            mtab: true
        }
    );
    let o = parse_ok(&["--options-source=", "--options-source-force", "m"]);
    assert_eq!(o.tables_off, TablesOff::default());
    assert!(o.options_source_force);
    let o = parse_ok(&["--options-source=mtab,disable", "m"]);
    assert!(o.tables_off.fstab && o.tables_off.mtab);
    assert_eq!(o.options_mode, OptionsMode::Prepend);
    for bad in [
        "--options-mode=bogus",
        "--options-source=bogus",
        "--options-source=fstab,",
    ] {
        let argv = ["mount", bad, "m"];
        assert!(parse(argv).is_err(), "{bad}");
    }
    // The last of conflicting words wins: the table's or -o's.
    let table = options::MountOptions::parse("noexec,size=1m,x-a");
    let given = options::MountOptions::parse("exec,size=2m");
    let joined = |mode: OptionsMode| {
        let o = mode.join(table.clone(), &given);
        let noexec = o.flags.contains(nix::mount::MsFlags::MS_NOEXEC);
        (o.words().join(","), noexec)
    };
    let all = "noexec,size=1m,x-a,exec,size=2m";
    assert_eq!(joined(OptionsMode::Prepend), (all.into(), false));
    let all = "exec,size=2m,noexec,size=1m,x-a";
    assert_eq!(joined(OptionsMode::Append), (all.into(), true));
    assert_eq!(joined(OptionsMode::Ignore), ("exec,size=2m".into(), false));
    assert_eq!(
        joined(OptionsMode::Replace),
        ("noexec,size=1m,x-a".into(), true)
    );
}

fn parse_err(args: &[&str]) -> (u8, String) {
    let argv = std::iter::once("mount").chain(args.iter().copied());
    let (_, error) = parse(argv).unwrap_err();
    (error.exit_code(), error.to_string())
}

#[test]
fn operands_and_options_mix() {
    let o = parse_ok(&["-t", "proc", "none", "/proc", "-o", "nosuid"]);
    assert_eq!(o.types.as_deref(), Some("proc"));
    assert_eq!(
        o.operands,
        vec![OsString::from("none"), OsString::from("/proc")]
    );
    assert_eq!(o.options.words(), ["nosuid"]);
}

#[test]
fn operations_become_options() {
    let o = parse_ok(&["--rbind", "-r", "--make-rslave", "/a", "/b"]);
    assert_eq!(o.options.words(), ["rbind", "ro", "rslave"]);
    assert!(o.operation && o.propagation);
    let o = parse_ok(&["-o", "move,ro", "/a", "/b"]);
    assert!(o.is_move);
    assert_eq!(o.options.words(), ["ro"]);
}

#[test]
fn mkdir_takes_an_attached_mode_only() {
    assert_eq!(
        parse_ok(&["-m0700", "x"]).options.words(),
        ["X-mount.mkdir=\"0700\""]
    );
    assert_eq!(
        parse_ok(&["--mkdir=0700", "x"]).options.mkdir_mode(),
        Some(Ok(0o700))
    );
    let o = parse_ok(&["-m", "x"]);
    assert_eq!(o.options.words(), ["X-mount.mkdir"]);
    assert_eq!(o.operands, vec![OsString::from("x")]);
}

#[test]
fn labels_and_uuids_become_tags() {
    assert_eq!(
        parse_ok(&["-L", "root"]).source.as_deref(),
        Some(OsStr::new("LABEL=\"root\""))
    );
    assert_eq!(
        parse_ok(&["-U", "ab"]).source.as_deref(),
        Some(OsStr::new("UUID=\"ab\""))
    );
}

#[test]
fn exclusive_options() {
    assert_eq!(
        parse_err(&["-B", "-M", "a", "b"]),
        (
            1,
            "mutually exclusive arguments: --bind --move --rbind".to_string()
        )
    );
    assert_eq!(
        parse_err(&["-L", "a", "--source", "b"]).1,
        "mutually exclusive arguments: --label --uuid --source"
    );
    // The same option twice is fine.
    parse_ok(&["-B", "-B", "a", "b"]);
}

#[test]
fn usage_errors() {
    assert_eq!(parse_err(&["-x"]), (1, "invalid option -- 'x'".to_string()));
    assert_eq!(
        parse_err(&["--bogus"]),
        (1, "unrecognized option '--bogus'".to_string())
    );
    assert_eq!(
        parse_err(&["-o"]),
        (1, "option requires an argument -- 'o'".to_string())
    );
    assert_eq!(
        parse_err(&["-o", "=x"]),
        (1, "unsupported option format: =x".to_string())
    );
    assert_eq!(
        parse_err(&["--make"]).1,
        "option '--make' is ambiguous; possibilities: '--make-shared' '--make-slave' '--make-private' '--make-unbindable' '--make-rshared' '--make-rslave' '--make-rprivate' '--make-runbindable'"
    );
}

#[test]
fn options_are_parsed_once_into_flags() {
    use ns_sys::mount::MsFlags;
    let o = parse_ok(&["-o", "bind,ro", "/a", "/b"]);
    assert_eq!(o.options.flags, MsFlags::MS_BIND | MsFlags::MS_RDONLY);
    let o = parse_ok(&["--ro", "--make-rprivate", "-o", "size=1m,x-a", "/a"]);
    assert_eq!(
        o.options.flags,
        MsFlags::MS_RDONLY | MsFlags::MS_PRIVATE | MsFlags::MS_REC
    );
    assert_eq!(o.options.data, ["size=1m"]);
    assert_eq!(o.options.user, ["x-a"]);
    assert!(o.options_given);
    assert!(!parse_ok(&["-o", ""]).options_given, "-o '' adds nothing");
    assert!(parse_ok(&["-o", ","]).options_given, "-o ',' does");
}

#[test]
fn exclusive_rows_ascend_as_util_linux_needs() {
    assert!(Exclusive::new(EXCLUSIVE).rows_ascend(&TOOL));
}

#[test]
fn every_table_option_is_handled() {
    for opt in TOOL.options {
        let mut argv = vec!["mount".to_string(), format!("--{}", opt.long)];
        if matches!(opt.value, ns_getopt::Value::Required(_)) {
            argv.push("ignore".to_string());
        }
        // An error is fine (a bad value); a panic (unhandled) is not.
        let _ = parse(argv);
    }
}
