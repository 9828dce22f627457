//! The multi-call binary: one static executable for the initramfs, which
//! behaves as the tool named by `argv[0]` (`unshare`, `ns-unshare`, …), as
//! busybox does; `nstools TOOL ARGS…` works too. It is the top of the
//! layering (see ns-sys): each tool's library `main` below it, and from
//! ns-sys only the C runtime's set-ID check for its own answers.

use std::ffi::OsString;
use std::process::ExitCode;

type Main = fn(Vec<OsString>) -> ExitCode;

/// (util-linux name, our name, entry point).
const APPLETS: &[(&str, &str, Main)] = &[
    ("unshare", "ns-unshare", |args| ns_unshare::main(args)),
    ("nsenter", "ns-nsenter", |args| {
        ns_unshare::nsenter::main(args)
    }),
    ("chroot", "ns-chroot", |args| ns_chroot::main(args)),
    ("switch_root", "ns-switch-root", |args| {
        ns_chroot::switch_root::main(args)
    }),
    ("pivot_root", "ns-pivot-root", |args| {
        ns_chroot::pivot_root::main(args)
    }),
    ("mount", "ns-mount", |args| ns_mount::mount_main(args)),
    ("umount", "ns-umount", |args| ns_mount::umount_main(args)),
    ("lsns", "ns-lsns", |args| ns_lsns::main(args)),
];

fn find(name: &str) -> Option<Main> {
    APPLETS
        .iter()
        .find(|(reference, ours, _)| name == *reference || name == *ours)
        .map(|(_, _, main)| *main)
}

fn main() -> ExitCode {
    ns_sys::runtime::restore_sigpipe();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked = ns_getopt::invoked_name(args.first().map(OsString::as_os_str), "nstools");
    if let Some(main) = find(&invoked) {
        return main(args);
    }
    // `nstools TOOL ARGS…`: the tool sees itself invoked as TOOL.
    let tool = args.get(1).map(|arg| arg.to_string_lossy().into_owned());
    let identity = ns_sys::runtime::Identity::current();
    if let Some(refusal) = identity.set_id_refusal() {
        // Each tool checks for itself at start (mount and umount have a
        // restricted mode, as util-linux's; the others refuse to run);
        // nstools' own answers (the list, the usage) are refused here.
        if tool.as_deref().is_none_or(|name| find(name).is_none()) {
            eprintln!("{invoked}: {refusal}");
            return ExitCode::from(1);
        }
    }
    match tool.as_deref() {
        Some("--list") => {
            for (reference, ours, _) in APPLETS {
                println!("{ours}\n{reference}");
            }
            ExitCode::SUCCESS
        }
        Some(name) if find(name).is_some() => {
            args.remove(0);
            find(name).map_or(ExitCode::FAILURE, |main| main(args))
        }
        Some(name) if !name.starts_with('-') => {
            eprintln!("{invoked}: {name}: no such tool (see '{invoked} --list')");
            ExitCode::from(127)
        }
        _ => {
            let names: Vec<&str> = APPLETS.iter().map(|(reference, _, _)| *reference).collect();
            eprintln!(
                "Usage: {invoked} TOOL [ARGS...]   or a link to {invoked} named TOOL\n\
                 Tools: {}\n(each also answers to its ns- name; --list lists them)",
                names.join(", ")
            );
            ExitCode::from(1)
        }
    }
}
