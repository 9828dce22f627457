//! A [`MountOptions`] as the fd-based mount API and the `mount.<type>`
//! helpers take it, word by word in the order given (libmount's option
//! list): the `mount_setattr` attributes, the superblock parameters for
//! `fsconfig`, the propagation changes, and a helper's `-o` string.
//!
//! `ro=recursive` (2.39) applies a flag to every mount of a tree;
//! `ro=vfs` and `ro=fs` (2.41) put read-only on the mount or on the
//! filesystem only.

use ns_sys::mount::{MsFlags, MS_NOSYMFOLLOW};

use crate::fsapi::attr;
use crate::options::{classify, Kind, MountOptions};

/// The attributes one `mount_setattr` call sets and clears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub set: u64,
    pub clr: u64,
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }
}

/// One option of the list: `name`, its value (quotes dropped, whether
/// it had them), and its meaning.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    name: &'a str,
    value: Option<&'a str>,
    quoted: bool,
    kind: Option<Kind>,
}

fn words(options: &MountOptions) -> impl Iterator<Item = Item<'_>> {
    options.words().iter().map(|word| {
        let kind = classify(word);
        let (name, value) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word.as_str(), None),
        };
        let unquoted = value.and_then(|v| v.strip_prefix('"')?.strip_suffix('"'));
        Item {
            name,
            value: unquoted.or(value),
            quoted: unquoted.is_some(),
            kind,
        }
    })
}

/// What `user`, `users`, `owner` and `group` imply, where they stand.
const SECURE: [(MsFlags, &str); 3] = [
    (MsFlags::MS_NOEXEC, "noexec"),
    (MsFlags::MS_NOSUID, "nosuid"),
    (MsFlags::MS_NODEV, "nodev"),
];

/// The option list as libmount holds it once merged: what `user` and
/// `users` imply (noexec, nosuid, nodev) inserted after them, `owner`
/// and `group` replaced by what they imply (nosuid, nodev), then each
/// option once, its last instance kept, a flag's opposite counting as
/// the same option (`ro,...,rw` is `rw`).
fn merged(options: &MountOptions) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    for w in words(options) {
        match w.kind {
            Some(Kind::UserImplying(implied)) if w.value.is_none() => {
                if matches!(w.name, "user" | "users") {
                    items.push(w);
                }
                for (flag, name) in SECURE.into_iter().filter(|(f, _)| implied.contains(*f)) {
                    items.push(Item {
                        name,
                        value: None,
                        quoted: false,
                        kind: Some(Kind::Set(flag)),
                    });
                }
            }
            _ => items.push(w),
        }
    }
    let flag = |item: &Item<'_>| match item.kind {
        Some(Kind::Set(f)) => Some((f, false)),
        Some(Kind::Clear(f)) => Some((f, true)),
        _ => None,
    };
    let same = |a: &Item<'_>, b: &Item<'_>| {
        (a.name == b.name && a.value == b.value)
            || match (flag(a), flag(b)) {
                (Some((fa, ia)), Some((fb, ib))) => fa == fb && (ia || ib),
                _ => false,
            }
    };
    let mut kept: Vec<Item<'_>> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if !items[index + 1..].iter().any(|later| same(item, later)) {
            kept.push(*item);
        }
    }
    kept
}

/// Whether an option's value names `what` (`ro=vfs`, `nosuid=recursive`).
fn value_with(value: Option<&str>, what: &str) -> bool {
    value.is_some_and(|v| v.split([',', ':']).any(|item| item == what))
}

/// The mount attribute of a mount flag, if it has one.
fn flag_attr(flag: MsFlags) -> Option<u64> {
    Some(match flag {
        MsFlags::MS_RDONLY => attr::RDONLY,
        MsFlags::MS_NOSUID => attr::NOSUID,
        MsFlags::MS_NODEV => attr::NODEV,
        MsFlags::MS_NOEXEC => attr::NOEXEC,
        MsFlags::MS_NODIRATIME => attr::NODIRATIME,
        MsFlags::MS_RELATIME => attr::RELATIME,
        MsFlags::MS_NOATIME => attr::NOATIME,
        MsFlags::MS_STRICTATIME => attr::STRICTATIME,
        f if f == MS_NOSYMFOLLOW => attr::NOSYMFOLLOW,
        _ => return None,
    })
}

const ATIME_FLAGS: MsFlags = MsFlags::MS_RELATIME
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_STRICTATIME);

/// libmount's mnt_optlist_get_attrs: the attributes to set and clear on
/// the new mount (`recursive`: the `=recursive` ones, for the whole
/// tree). A remount (not a bind remount) clears what it does not name,
/// as mount(2) did.
pub fn vfs_attrs(options: &MountOptions, recursive: bool) -> Attrs {
    let flags = options.flags;
    let remount = flags.contains(MsFlags::MS_REMOUNT) && !flags.contains(MsFlags::MS_BIND);
    let mut reset = if remount && !recursive {
        attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC | attr::NOSYMFOLLOW
    } else {
        0
    };
    let mut attrs = Attrs::default();
    let mut atime = None;
    for item in merged(options) {
        let value = item.value;
        let (flag, set) = match item.kind {
            Some(Kind::Set(flag)) => (flag, true),
            Some(Kind::Clear(flag)) => (flag, false),
            _ => continue,
        };
        if value_with(value, "recursive") != recursive {
            continue;
        }
        let Some(a) = flag_attr(flag) else {
            continue;
        };
        // ro=fs is for the filesystem only.
        if a == attr::RDONLY && !value_with(value, "vfs") && value_with(value, "fs") {
            continue;
        }
        reset &= !a;
        if ATIME_FLAGS.contains(flag) {
            // The atime modes exclude each other: the last one wins.
            attrs.clr |= attr::ATIME;
            if set {
                atime = Some(a);
            }
        } else if set {
            attrs.set |= a;
        } else {
            attrs.clr |= a;
        }
    }
    if let Some(a) = atime {
        attrs.set |= a;
    }
    attrs.clr |= reset;
    attrs
}

/// A superblock parameter for `fsconfig`: a flag, or a string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Flag(String),
    String(String, String),
}

/// libmount's configure_superblock: the filesystem's own options, and
/// ro/rw (unless `ro=vfs`) and the superblock flags (sync, dirsync, mand,
/// lazytime and their opposites), in order. `force_rwro`: a remount says
/// `rw` when nothing says either.
pub fn superblock_params(options: &MountOptions, force_rwro: bool) -> Vec<Param> {
    const SUPERBLOCK: MsFlags = MsFlags::MS_SYNCHRONOUS
        .union(MsFlags::MS_DIRSYNC)
        .union(MsFlags::MS_MANDLOCK)
        .union(MsFlags::MS_LAZYTIME);
    let mut params = Vec::new();
    let mut has_rwro = false;
    for w in merged(options) {
        match w.kind {
            Some(Kind::Set(MsFlags::MS_RDONLY) | Kind::Clear(MsFlags::MS_RDONLY)) => {
                if value_with(w.value, "vfs") && !value_with(w.value, "fs") {
                    continue;
                }
                has_rwro = true;
                params.push(Param::Flag(w.name.to_string()));
            }
            Some(Kind::Set(flag) | Kind::Clear(flag)) if SUPERBLOCK.contains(flag) => {
                params.push(param(w.name, w.value));
            }
            Some(_) => {}
            None => params.push(param(w.name, w.value)),
        }
    }
    if force_rwro && !has_rwro {
        params.push(Param::Flag("rw".to_string()));
    }
    params
}

/// `name` (a flag) or `name=value` (a string: `name=` is the empty one);
/// `\,` and `\"` in a value are the characters themselves.
fn param(name: &str, value: Option<&str>) -> Param {
    match value {
        None => Param::Flag(name.to_string()),
        Some(value) => Param::String(
            name.to_string(),
            value.replace("\\,", ",").replace("\\\"", "\""),
        ),
    }
}

/// The propagation changes, in order: the flag and whether it is
/// recursive (`rslave`).
pub fn propagations(options: &MountOptions) -> Vec<(MsFlags, bool)> {
    let propagation = ns_sys::mount::PROPAGATION;
    merged(options)
        .into_iter()
        .filter_map(|w| match w.kind {
            Some(Kind::Set(flags)) if flags.intersects(propagation) => {
                Some((flags & propagation, flags.contains(MsFlags::MS_REC)))
            }
            _ => None,
        })
        .collect()
}

/// Words libmount never passes to a `mount.<type>` helper.
fn helper_skips(name: &str, kind: Option<Kind>) -> bool {
    if let Some(Kind::Set(flags)) = kind {
        if flags.intersects(ns_sys::mount::PROPAGATION) {
            return true;
        }
    }
    name.starts_with("x-")
        || name.starts_with("X-")
        || name.starts_with("verity.")
        || matches!(
            name,
            "defaults"
                | "auto"
                | "noauto"
                | "comment"
                | "loop"
                | "offset"
                | "sizelimit"
                | "encryption"
        )
}

/// The `-o` string of a `mount.<type>` helper: `ro` or `rw` first, then
/// the merged options a helper takes, in order.
pub fn helper_options(options: &MountOptions) -> String {
    let mut out = String::new();
    let mut read_only = false;
    for w in merged(options) {
        match w.kind {
            Some(Kind::Set(MsFlags::MS_RDONLY)) => read_only = true,
            Some(Kind::Clear(MsFlags::MS_RDONLY)) => read_only = false,
            kind if helper_skips(w.name, kind) => {}
            _ => push_item(&mut out, &w),
        }
    }
    format!("{}{out}", if read_only { "ro" } else { "rw" })
}

/// The options as 2.42's messages show them: `ro` or `rw` first, then
/// the merged list in order (a `user=NAME` kept for helpers is not in
/// it).
pub fn display_options(options: &MountOptions) -> String {
    let mut out = String::new();
    let mut read_only = false;
    for w in merged(options) {
        match w.kind {
            Some(Kind::Set(MsFlags::MS_RDONLY)) => read_only = true,
            Some(Kind::Clear(MsFlags::MS_RDONLY)) => read_only = false,
            Some(Kind::User) if w.name == "user" && w.value.is_some() => {}
            _ => push_item(&mut out, &w),
        }
    }
    format!("{}{out}", if read_only { "ro" } else { "rw" })
}

/// `,NAME[=VALUE]`, the value quoted if it was.
fn push_item(out: &mut String, w: &Item<'_>) {
    out.push(',');
    out.push_str(w.name);
    match w.value {
        Some(value) if w.quoted => {
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        Some(value) => {
            out.push('=');
            out.push_str(value);
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MountOptions {
        MountOptions::parse(text)
    }

    #[test]
    fn attributes_of_a_new_mount() {
        let a = vfs_attrs(&parse("nosuid,ro,exec,mode=1"), false);
        assert_eq!(a.set, attr::NOSUID | attr::RDONLY);
        assert_eq!(a.clr, attr::NOEXEC);
        // The atime modes: the field cleared, the last one set.
        let a = vfs_attrs(&parse("noatime,strictatime"), false);
        assert_eq!((a.set, a.clr), (attr::STRICTATIME, attr::ATIME));
        let a = vfs_attrs(&parse("relatime"), false);
        assert_eq!((a.set, a.clr), (attr::RELATIME, attr::ATIME));
        assert!(vfs_attrs(&parse("mode=1,defaults"), false).is_empty());
    }

    #[test]
    fn recursive_attributes_are_their_own_call() {
        let options = parse("rbind,ro=recursive,noexec=recursive,nosuid");
        assert_eq!(vfs_attrs(&options, false).set, attr::NOSUID);
        assert_eq!(vfs_attrs(&options, true).set, attr::RDONLY | attr::NOEXEC);
    }

    #[test]
    fn a_remount_clears_what_it_does_not_name() {
        let a = vfs_attrs(&parse("remount,nosuid"), false);
        assert_eq!(a.set, attr::NOSUID);
        assert_eq!(
            a.clr,
            attr::RDONLY | attr::NODEV | attr::NOEXEC | attr::NOSYMFOLLOW
        );
        // The mount's options then the command line's: the last of ro
        // and rw counts, once (libmount merges its option list).
        let a = vfs_attrs(&parse("ro,noexec,relatime,remount,rw"), false);
        assert_eq!(a.set, attr::NOEXEC | attr::RELATIME);
        assert_eq!(
            a.clr,
            attr::RDONLY | attr::ATIME | attr::NOSUID | attr::NODEV | attr::NOSYMFOLLOW
        );
        // A bind remount, and the recursive call, add and remove only.
        assert_eq!(vfs_attrs(&parse("remount,bind,ro"), false).clr, 0);
    }

    #[test]
    fn read_only_on_either_layer() {
        assert_eq!(vfs_attrs(&parse("ro=fs"), false).set, 0);
        assert_eq!(vfs_attrs(&parse("ro=vfs"), false).set, attr::RDONLY);
        assert_eq!(
            superblock_params(&parse("ro=vfs,size=1"), false),
            [Param::String("size".into(), "1".into())]
        );
        assert_eq!(
            superblock_params(&parse("ro=fs"), false),
            [Param::Flag("ro".into())]
        );
    }

    #[test]
    fn superblock_parameters_in_order() {
        assert_eq!(
            superblock_params(
                &parse("nosuid,size=1m,sync,ro,context=\"a,b\",uid=,noauto,x-a=1,huge"),
                false
            ),
            [
                Param::String("size".into(), "1m".into()),
                Param::Flag("sync".into()),
                Param::Flag("ro".into()),
                Param::String("context".into(), "a,b".into()),
                Param::String("uid".into(), String::new()),
                Param::Flag("huge".into()),
            ]
        );
        assert_eq!(
            superblock_params(&parse("remount,nosuid"), true),
            [Param::Flag("rw".into())]
        );
    }

    #[test]
    fn propagation_in_order() {
        assert_eq!(
            propagations(&parse("private,bind,rslave,unbindable")),
            [
                (MsFlags::MS_PRIVATE, false),
                (MsFlags::MS_SLAVE, true),
                (MsFlags::MS_UNBINDABLE, false)
            ]
        );
    }

    #[test]
    fn options_as_2_42_shows_them_in_messages() {
        for (given, shown) in [
            (
                "sync,x-foo,defaults,nofail,loop,offset=x,data=ordered",
                "rw,sync,x-foo,defaults,nofail,loop,offset=x,data=ordered",
            ),
            ("ro,loop,offset=x", "ro,loop,offset=x"),
            (
                "loop,offset=x,rw,exec,size=1",
                "rw,loop,offset=x,exec,size=1",
            ),
            ("nosuid,noexec,exec,offset=x", "rw,nosuid,exec,offset=x"),
            ("user,loop", "rw,user,noexec,nosuid,nodev,loop"),
            ("loop,ro=recursive,private", "ro,loop,private"),
            ("owner,loop", "rw,nosuid,nodev,loop"),
            ("user=alice,x", "rw,x"),
        ] {
            assert_eq!(display_options(&parse(given)), shown, "{given}");
        }
    }

    #[test]
    fn helper_option_strings() {
        // What util-linux's mount/special test expects.
        assert_eq!(helper_options(&parse("")), "rw");
        assert_eq!(helper_options(&parse("foo,defaults")), "rw,foo");
        assert_eq!(
            helper_options(&parse("user,abc")),
            "rw,user,noexec,nosuid,nodev,abc"
        );
        assert_eq!(helper_options(&parse("user=name,abc")), "rw,user=name,abc");
        assert_eq!(
            helper_options(&parse(
                "ro,private,x-a,loop,offset=1,noauto,comment=c,vers=4"
            )),
            "ro,vers=4"
        );
        assert_eq!(
            helper_options(&parse("user,exec")),
            "rw,user,nosuid,nodev,exec"
        );
        assert_eq!(helper_options(&parse("owner")), "rw,nosuid,nodev");
    }
}
