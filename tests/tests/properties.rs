//! Property tests (a short fuzz run) of what reads untrusted input as a
//! library: every tool's argv parsing, lsns' -Q parser and evaluator,
//! unshare's ID map arithmetic, mount's option and size parsing. The
//! properties: no panic (a debug build also checks every arithmetic
//! overflow), and the invariants each parser promises. Kept small: a few
//! hundred cases each, about a second in all.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use proptest::prelude::*;

/// An argument: an option of the tools (with or without a value glued
/// on), a value-like word, or arbitrary bytes (not UTF-8 included).
fn arg() -> impl Strategy<Value = OsString> {
    let words = prop::sample::select(vec![
        "-",
        "--",
        "-a",
        "-c",
        "-f",
        "-l",
        "-n",
        "-o",
        "-r",
        "-t",
        "-v",
        "-R",
        "-T",
        "-U",
        "-S",
        "-G",
        "-w",
        "-Q",
        "-m",
        "-p",
        "-u",
        "-i",
        "-C",
        "--map-users",
        "--map-groups",
        "--map-user",
        "--boottime",
        "--monotonic",
        "--userspec",
        "--groups",
        "--skip-chdir",
        "--kill-child",
        "--propagation",
        "--setgroups",
        "--mount-proc",
        "--make-rprivate",
        "--bind",
        "--rbind",
        "--source",
        "--target",
        "--target-prefix",
        "--options-mode",
        "--options-source",
        "--filter",
        "--output",
        "--type",
        "--task",
        "--tree",
        "--json",
        "--help",
        "--version",
        "--bogus",
        "--ma",
        "--map",
        "--s",
        "0",
        "1",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551616",
        "0:4294967295:1",
        "4294967295,0,1",
        "auto",
        "loop,offset=0x400",
        "offset=-1",
        "sizelimit=16E",
        "encryption=aes",
        "net",
        "NS > 1",
        "/",
        "/proc",
        "LABEL=x",
        "UUID=\"\"",
        "=x",
        "",
        "private",
        "slave",
        "allow",
    ])
    .prop_map(OsString::from);
    let glued = ("--[a-z-]{1,12}", "[ -~]{0,12}")
        .prop_map(|(name, value)| OsString::from(format!("{name}={value}")));
    let bytes = prop::collection::vec(any::<u8>(), 0..16)
        .prop_map(|bytes| OsString::from_vec(bytes.into_iter().filter(|&b| b != 0).collect()));
    prop_oneof![4 => words, 1 => glued, 1 => bytes]
}

fn argv(name: &'static str) -> impl Strategy<Value = Vec<OsString>> {
    prop::collection::vec(arg(), 0..8).prop_map(move |mut args| {
        args.insert(0, OsString::from(name));
        args
    })
}

/// A -Q expression from the filter language's pieces, and noise.
fn filter_text() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "(",
        ")",
        "!",
        "not ",
        " && ",
        " || ",
        " and ",
        " or ",
        " == ",
        " != ",
        " < ",
        " <= ",
        " > ",
        " >= ",
        " =~ ",
        " !~ ",
        " eq ",
        "NS",
        "TYPE",
        "PID",
        "NPROCS",
        "COMMAND",
        "NSFS",
        "'net'",
        "\"x\"",
        "'(",
        "'",
        "1",
        "1.5",
        "4K",
        "99999999999999999999K",
        "true",
        "false",
        "&",
        "|",
        "=",
        "\u{fffd}",
        " ",
    ])
    .prop_map(|t| t.as_bytes().to_vec());
    let byte = any::<u8>().prop_map(|b| vec![b]);
    prop::collection::vec(prop_oneof![8 => token, 1 => byte], 0..24)
        .prop_map(|pieces| pieces.concat())
}

/// A row to evaluate filters on.
fn cell(name: &str) -> ns_lsns::filter::Cell<'static> {
    let (data, number): (Option<&'static [u8]>, bool) = match name {
        "NS" => (Some(b"4026531835"), true),
        "TYPE" => (Some(b"net"), false),
        "PID" => (Some(b"42"), true),
        "NPROCS" => (None, true),
        "COMMAND" => (Some(b"sleep \xff 1"), false),
        _ => (None, false),
    };
    ns_lsns::filter::Cell { data, number }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn chroot_argv_never_panics(args in argv("chroot")) {
        let _ = ns_chroot::cli::parse(args);
    }

    #[test]
    fn unshare_argv_never_panics(args in argv("unshare")) {
        let _ = ns_unshare::cli::parse(args);
    }

    #[test]
    fn mount_and_umount_argv_never_panic(args in argv("mount")) {
        let _ = ns_mount::mount::cli::parse(args.clone());
        let _ = ns_mount::umount::cli::parse(args);
    }

    #[test]
    fn lsns_argv_never_panics(args in argv("lsns")) {
        let _ = ns_lsns::cli::parse(args);
    }

    #[test]
    fn filters_parse_and_evaluate_without_panic(text in filter_text()) {
        if let Ok(filter) = ns_lsns::filter::Filter::parse(&text) {
            let _ = filter.matches(&cell);
            let _ = filter.holders();
        }
    }

    #[test]
    fn nesting_fails_exactly_past_bisons_stack(depth in 0usize..12_000) {
        let text = format!("{}NS", "!".repeat(depth));
        let parsed = ns_lsns::filter::Filter::parse(text.as_bytes());
        // util-linux 2.42.4's lsns takes 9,997 and refuses 9,998.
        prop_assert_eq!(parsed.is_ok(), depth <= 9_997);
        if let Err(error) = parsed {
            prop_assert_eq!(error.to_string(), "memory exhausted");
        }
    }

    #[test]
    fn id_maps_stay_in_the_id_range(
        blocks in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..4),
        single in prop::option::of((any::<u32>(), any::<u32>())),
    ) {
        let blocks: Vec<_> = blocks
            .into_iter()
            .filter_map(|(inner, outer, count)| {
                ns_sys::idmap::parse_block(&format!("{inner}:{outer}:{count}")).ok()
            })
            .collect();
        let single = single.filter(|&(o, i)| o != u32::MAX && i != u32::MAX);
        if let Ok(ranges) = ns_sys::idmap::combine(&blocks, single) {
            for range in ranges {
                prop_assert!(ns_sys::idmap::check_range(range.inner, range.count));
                prop_assert!(ns_sys::idmap::check_range(range.outer, range.count));
            }
        }
    }

    #[test]
    fn sizes_and_options_never_panic(text in "[ 0-9a-zA-Z.+,=\"-]{0,24}") {
        let _ = ns_mount::size::strtosize(&text);
        let options = ns_mount::options::MountOptions::parse(&text);
        let _ = ns_mount::attrs::display_options(&options);
        let _ = ns_mount::attrs::helper_options(&options);
        let _ = ns_mount::attrs::vfs_attrs(&options, false);
        let _ = ns_mount::attrs::vfs_attrs(&options, true);
        let _ = ns_mount::attrs::superblock_params(&options, true);
        let _ = ns_mount::attrs::propagations(&options);
        let _ = ns_mount::options::match_options(&text, &text);
        let _ = ns_mount::idmap::parse(&text);
    }
}
