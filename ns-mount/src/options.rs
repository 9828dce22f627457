//! Mount option strings (`-o nosuid,nodev,mode=755`), parsed once into a
//! typed [`MountOptions`]: the mount(2) flags, the filesystem's data
//! string, and the userspace-only options (fstab and utab bookkeeping,
//! loop set-up). A request from fstab merges fstab's options and the
//! command line's as values, never by joining and re-reading strings.
//!
//! The table mirrors libmount's two maps (the Linux flags and the
//! userspace options), so a word is classified as util-linux classifies it.

use std::fmt;

use ns_sys::mount::{MsFlags, MS_NOSYMFOLLOW};

/// What one option word means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Sets these mount(2) flags.
    Set(MsFlags),
    /// Clears these mount(2) flags.
    Clear(MsFlags),
    /// Means something to mount(8) only, never passed to the kernel.
    User,
    /// A userspace option that also sets these flags where it stands
    /// (`user` implies nosuid,nodev,noexec unless a later word says
    /// otherwise, `user,exec`).
    UserImplying(MsFlags),
}

/// What `user` and `users` imply (libmount's MS_SECURE).
const SECURE: MsFlags = f(libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
/// What `owner` and `group` imply (MS_OWNERSECURE).
const OWNER_SECURE: MsFlags = f(libc::MS_NOSUID | libc::MS_NODEV);

const fn f(bits: libc::c_ulong) -> MsFlags {
    MsFlags::from_bits_retain(bits)
}

/// The option words with a fixed meaning, in libmount's order.
const TABLE: &[(&str, Kind)] = &[
    ("ro", Kind::Set(f(libc::MS_RDONLY))),
    ("rw", Kind::Clear(f(libc::MS_RDONLY))),
    ("exec", Kind::Clear(f(libc::MS_NOEXEC))),
    ("noexec", Kind::Set(f(libc::MS_NOEXEC))),
    ("suid", Kind::Clear(f(libc::MS_NOSUID))),
    ("nosuid", Kind::Set(f(libc::MS_NOSUID))),
    ("dev", Kind::Clear(f(libc::MS_NODEV))),
    ("nodev", Kind::Set(f(libc::MS_NODEV))),
    ("sync", Kind::Set(f(libc::MS_SYNCHRONOUS))),
    ("async", Kind::Clear(f(libc::MS_SYNCHRONOUS))),
    ("dirsync", Kind::Set(f(libc::MS_DIRSYNC))),
    ("remount", Kind::Set(f(libc::MS_REMOUNT))),
    ("bind", Kind::Set(f(libc::MS_BIND))),
    ("rbind", Kind::Set(f(libc::MS_BIND | libc::MS_REC))),
    ("silent", Kind::Set(f(libc::MS_SILENT))),
    ("loud", Kind::Clear(f(libc::MS_SILENT))),
    ("mand", Kind::Set(f(libc::MS_MANDLOCK))),
    ("nomand", Kind::Clear(f(libc::MS_MANDLOCK))),
    ("atime", Kind::Clear(f(libc::MS_NOATIME))),
    ("noatime", Kind::Set(f(libc::MS_NOATIME))),
    ("iversion", Kind::Set(f(libc::MS_I_VERSION))),
    ("noiversion", Kind::Clear(f(libc::MS_I_VERSION))),
    ("diratime", Kind::Clear(f(libc::MS_NODIRATIME))),
    ("nodiratime", Kind::Set(f(libc::MS_NODIRATIME))),
    ("relatime", Kind::Set(f(libc::MS_RELATIME))),
    ("norelatime", Kind::Clear(f(libc::MS_RELATIME))),
    ("strictatime", Kind::Set(f(libc::MS_STRICTATIME))),
    ("nostrictatime", Kind::Clear(f(libc::MS_STRICTATIME))),
    ("lazytime", Kind::Set(f(libc::MS_LAZYTIME))),
    ("nolazytime", Kind::Clear(f(libc::MS_LAZYTIME))),
    ("unbindable", Kind::Set(f(libc::MS_UNBINDABLE))),
    (
        "runbindable",
        Kind::Set(f(libc::MS_UNBINDABLE | libc::MS_REC)),
    ),
    ("private", Kind::Set(f(libc::MS_PRIVATE))),
    ("rprivate", Kind::Set(f(libc::MS_PRIVATE | libc::MS_REC))),
    ("slave", Kind::Set(f(libc::MS_SLAVE))),
    ("rslave", Kind::Set(f(libc::MS_SLAVE | libc::MS_REC))),
    ("shared", Kind::Set(f(libc::MS_SHARED))),
    ("rshared", Kind::Set(f(libc::MS_SHARED | libc::MS_REC))),
    ("symfollow", Kind::Clear(MS_NOSYMFOLLOW)),
    ("nosymfollow", Kind::Set(MS_NOSYMFOLLOW)),
    ("defaults", Kind::User),
    ("auto", Kind::User),
    ("noauto", Kind::User),
    ("user", Kind::UserImplying(SECURE)),
    ("nouser", Kind::User),
    ("users", Kind::UserImplying(SECURE)),
    ("nousers", Kind::User),
    ("owner", Kind::UserImplying(OWNER_SECURE)),
    ("noowner", Kind::User),
    ("group", Kind::UserImplying(OWNER_SECURE)),
    ("nogroup", Kind::User),
    ("_netdev", Kind::User),
    ("loop", Kind::User),
    ("nofail", Kind::User),
];

/// Userspace options that take a value (`NAME=VALUE`).
const USER_WITH_VALUE: &[&str] = &[
    "user",
    "comment",
    "loop",
    "offset",
    "sizelimit",
    "encryption",
    "uhelper",
    "helper",
    "verity.hashdevice",
    "verity.roothash",
    "verity.hashoffset",
    "verity.roothashfile",
    "verity.fecdevice",
    "verity.fecoffset",
    "verity.fecroots",
    "verity.roothashsig",
    "verity.oncorruption",
];

/// Userspace options libmount keeps in /run/mount/utab (the others are for
/// fstab or for mount(8) itself only).
const UTAB_KEPT: &[&str] = &["user", "_netdev", "loop", "uhelper", "helper"];

/// An option string split by meaning, with its words kept in order for
/// libmount's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// mount(2) flags, with every set/clear applied in order.
    pub flags: MsFlags,
    /// The flags that were explicitly cleared (`rw`, `suid`, …): a remount
    /// keeps an existing flag unless it is named here.
    pub cleared: MsFlags,
    /// The filesystem's own options, passed as mount(2)'s data.
    pub data: Vec<String>,
    /// Options mount(8) interprets itself (`noauto`, `loop=`, `x-…`, …).
    pub user: Vec<String>,
    /// Every word, as given.
    words: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            data: Vec::new(),
            user: Vec::new(),
            words: Vec::new(),
        }
    }
}

/// An `X-mount.mkdir=MODE` whose mode is no octal number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMode(pub String);

impl fmt::Display for InvalidMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid mode '{}'", self.0)
    }
}

impl std::error::Error for InvalidMode {}

impl MountOptions {
    /// Parses a whole option string.
    pub fn parse(options: &str) -> MountOptions {
        let mut parsed = MountOptions::default();
        parsed.apply(options);
        parsed
    }

    /// Adds the words of `options`, in order: later words override
    /// earlier ones.
    pub fn apply(&mut self, options: &str) {
        for word in split(options) {
            match classify(word) {
                Some(Kind::Set(flags)) => self.set(flags),
                Some(Kind::Clear(flags)) => {
                    self.flags.remove(flags);
                    self.cleared.insert(flags);
                }
                Some(Kind::User) => self.user.push(word.to_string()),
                Some(Kind::UserImplying(flags)) => {
                    self.set(flags);
                    self.user.push(word.to_string());
                }
                None => self.data.push(word.to_string()),
            }
            self.words.push(word.to_string());
        }
    }

    fn set(&mut self, flags: MsFlags) {
        self.flags.insert(flags);
        self.cleared.remove(flags);
    }

    /// These options followed by `later`'s, as if `later`'s words came
    /// after ours (fstab's options, then the command line's).
    pub fn merged(&self, later: &MountOptions) -> MountOptions {
        let concat = |a: &[String], b: &[String]| [a, b].concat();
        MountOptions {
            flags: (self.flags - later.cleared) | later.flags,
            cleared: (self.cleared - later.flags) | later.cleared,
            data: concat(&self.data, &later.data),
            user: concat(&self.user, &later.user),
            words: concat(&self.words, &later.words),
        }
    }

    /// The words, as given.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The data string, or `None` when there is none.
    pub fn data_string(&self) -> Option<String> {
        if self.data.is_empty() {
            None
        } else {
            Some(self.data.join(","))
        }
    }

    /// The value of a userspace option: `Some(None)` for a bare `loop`,
    /// `Some(Some("/dev/loop3"))` for `loop=/dev/loop3`; the last one wins.
    pub fn user_value(&self, name: &str) -> Option<Option<&str>> {
        self.user
            .iter()
            .rev()
            .find_map(|word| user_word(word, name))
    }

    /// As [`MountOptions::user_value`], but the first one counts.
    pub fn first_user_value(&self, name: &str) -> Option<Option<&str>> {
        self.user.iter().find_map(|word| user_word(word, name))
    }

    pub fn has_user(&self, name: &str) -> bool {
        self.user_value(name).is_some()
    }

    /// The userspace options that util-linux records in utab.
    pub fn utab_options(&self) -> Vec<&str> {
        self.user
            .iter()
            .map(String::as_str)
            .filter(|word| {
                word.starts_with("x-")
                    || UTAB_KEPT
                        .iter()
                        .any(|kept| word == kept || word.starts_with(&format!("{kept}=")))
            })
            .collect()
    }

    /// `X-mount.mkdir[=MODE]`: `Some(mode)` when asked (0755 by default).
    pub fn mkdir_mode(&self) -> Option<Result<u32, InvalidMode>> {
        let value = self
            .user_value("X-mount.mkdir")
            .or_else(|| self.user_value("x-mount.mkdir"))?;
        Some(match value {
            None | Some("") => Ok(0o755),
            Some(text) => u32::from_str_radix(text, 8).map_err(|_| InvalidMode(text.to_string())),
        })
    }
}

/// `Some(value)` when `word` is the userspace option `name` (`Some(None)`
/// bare, `Some(Some(v))` for `name=v`, quotes dropped).
fn user_word<'a>(word: &'a str, name: &str) -> Option<Option<&'a str>> {
    if word == name {
        return Some(None);
    }
    word.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('='))
        .map(|value| Some(unquote(value)))
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Splits an option string at commas that are not inside double quotes
/// (`context="a,b"` is one option), dropping empty words.
pub fn split(options: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                if i > start {
                    words.push(&options[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < options.len() {
        words.push(&options[start..]);
    }
    words
}

/// The meaning of a word. A mount flag with a value (`ro=recursive`,
/// `nosuid=recursive`, `ro=vfs`) is the flag, as libmount's option map
/// matches names: the value qualifies it for the fd-based API and is
/// ignored by mount(2).
pub(crate) fn classify(word: &str) -> Option<Kind> {
    if let Some((_, kind)) = TABLE.iter().find(|(name, _)| *name == word) {
        return Some(*kind);
    }
    if word.starts_with("x-") || word.starts_with("X-") {
        return Some(Kind::User);
    }
    let (name, _) = word.split_once('=')?;
    if USER_WITH_VALUE.contains(&name) {
        return Some(Kind::User);
    }
    match TABLE.iter().find(|(entry, _)| *entry == name) {
        Some((_, kind @ (Kind::Set(_) | Kind::Clear(_)))) => Some(*kind),
        _ => None,
    }
}

/// Whether `options` (an option string) matches an `-O` pattern list as
/// libmount 2.42 matches it: every word must be present; a `no` prefix
/// means the rest must be absent (so `nofail` asks for no `fail`, and an
/// entry without options has none), a `+` prefix takes the word
/// literally, a lone `no` matches nothing; `NAME=VALUE` must match the
/// value too.
pub fn match_options(options: &str, pattern: &str) -> bool {
    if options.is_empty() && pattern.is_empty() {
        return true;
    }
    let words = split(options);
    for want in split(pattern) {
        let (negated, want) = if let Some(rest) = want.strip_prefix('+') {
            (false, rest)
        } else if let Some(rest) = want.strip_prefix("no") {
            if rest.is_empty() {
                return false;
            }
            (true, rest)
        } else {
            (false, want)
        };
        let (name, value) = match want.split_once('=') {
            Some((name, value)) => (name, Some(value).filter(|v| !v.is_empty())),
            None => (want, None),
        };
        // An empty pattern word matches anything.
        let present = name.is_empty()
            || words.iter().any(|w| {
                let (n, v) = w.split_once('=').unwrap_or((w, ""));
                n == name && value.is_none_or_eq(v)
            });
        if present == negated {
            return false;
        }
    }
    true
}

trait NoneOrEq {
    fn is_none_or_eq(&self, other: &str) -> bool;
}

impl NoneOrEq for Option<&str> {
    fn is_none_or_eq(&self, other: &str) -> bool {
        match self {
            Some(value) => *value == other,
            None => true,
        }
    }
}

/// Whether filesystem type `fstype` matches a `-t` list as libmount matches
/// it: `nfs,ext4`, `noproc,sysfs` (a leading `no` negates the whole list),
/// `nosysfs` in the middle of a list negates one entry.
pub fn match_fstype(fstype: &str, pattern: &str) -> bool {
    let (negated, list) = match pattern.strip_prefix("no") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    for (i, item) in list.split(',').enumerate() {
        // The first item lost its "no" already; the others may carry one.
        if i > 0 {
            if let Some(rest) = item.strip_prefix("no") {
                if rest.eq_ignore_ascii_case(fstype) {
                    return false;
                }
            }
        }
        if item.eq_ignore_ascii_case(fstype) {
            return !negated;
        }
    }
    negated
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::mount::PROPAGATION;

    fn parse(text: &str) -> MountOptions {
        MountOptions::parse(text)
    }

    #[test]
    fn flags_and_data_are_split() {
        let parsed = parse("nosuid,nodev,mode=755");
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        assert_eq!(parsed.data_string().as_deref(), Some("mode=755"));
        assert_eq!(parsed.words(), ["nosuid", "nodev", "mode=755"]);
    }

    #[test]
    fn later_words_override_earlier_ones() {
        let parsed = parse("ro,rw,noexec,exec,nosuid");
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID);
        assert!(parsed
            .cleared
            .contains(MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC));
    }

    #[test]
    fn flags_with_values_are_the_flags() {
        let parsed = parse("ro=recursive,nosuid=vfs,mode=1");
        assert_eq!(parsed.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(parsed.data, vec!["mode=1"]);
        assert_eq!(parse("rw=recursive").cleared, MsFlags::MS_RDONLY);
        // Only mount flags: a userspace word with a value it does not take
        // stays the filesystem's.
        assert_eq!(parse("noauto=1").data, vec!["noauto=1"]);
    }

    #[test]
    fn userspace_options_are_not_data() {
        let parsed = parse("defaults,noauto,nofail,x-systemd.foo=1,X-mount.mkdir=0700,comment=hi,loop=/dev/loop2,offset=512,_netdev,size=1m");
        assert_eq!(parsed.flags, MsFlags::empty());
        assert_eq!(parsed.data, vec!["size=1m"]);
        assert_eq!(parsed.user_value("loop"), Some(Some("/dev/loop2")));
        assert_eq!(parsed.user_value("offset"), Some(Some("512")));
        assert_eq!(parsed.mkdir_mode(), Some(Ok(0o700)));
        assert_eq!(
            parsed.utab_options(),
            vec!["x-systemd.foo=1", "loop=/dev/loop2", "_netdev"]
        );
    }

    #[test]
    fn bare_mkdir_defaults_to_0755_and_bad_modes_are_errors() {
        assert_eq!(parse("X-mount.mkdir").mkdir_mode(), Some(Ok(0o755)));
        assert_eq!(
            parse("X-mount.mkdir=abc").mkdir_mode(),
            Some(Err(InvalidMode("abc".to_string())))
        );
        assert_eq!(parse("ro").mkdir_mode(), None);
    }

    #[test]
    fn user_options_imply_secure_flags_where_they_stand() {
        let secure = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        assert_eq!(parse("user").flags, secure);
        assert_eq!(parse("users,exec").flags, secure - MsFlags::MS_NOEXEC);
        assert_eq!(parse("exec,users").flags, secure, "an earlier exec loses");
        assert_eq!(parse("owner").flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        assert_eq!(parse("group,suid,dev").flags, MsFlags::empty());
        assert_eq!(parse("user=alice").flags, MsFlags::empty());
        assert_eq!(parse("user,exec").user, vec!["user"]);
    }

    #[test]
    fn merging_is_reading_the_later_words_after_the_earlier() {
        for (first, then) in [
            ("ro,nosuid,mode=1", "rw,exec,size=2"),
            ("user,noauto", "exec,loop"),
            ("bind", "ro,rslave"),
            ("", "noexec"),
            ("nodev,dev", ""),
            ("rbind,ro", "remount,rw,nosymfollow"),
        ] {
            let merged = parse(first).merged(&parse(then));
            let joined = parse(&format!("{first},{then}"));
            assert_eq!(merged, joined, "{first} then {then}");
        }
    }

    #[test]
    fn bind_rbind_and_propagation() {
        assert_eq!(
            parse("rbind,ro").flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(
            parse("rprivate").flags,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC
        );
        assert!(parse("shared").flags.intersects(PROPAGATION));
    }

    #[test]
    fn quoted_commas_stay_in_one_word() {
        assert_eq!(
            split(r#"context="a,b",ro,,"#),
            vec![r#"context="a,b""#, "ro"]
        );
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split(",,,"), Vec::<&str>::new());
    }

    #[test]
    fn unterminated_quote_takes_the_rest() {
        assert_eq!(split(r#"a,"b,c"#), vec!["a", r#""b,c"#]);
    }

    #[test]
    fn fstype_patterns() {
        assert!(match_fstype("ext4", "ext4"));
        assert!(match_fstype("ext4", "xfs,ext4"));
        assert!(!match_fstype("ext4", "xfs"));
        assert!(!match_fstype("proc", "noproc,sysfs"));
        assert!(!match_fstype("sysfs", "noproc,sysfs"));
        assert!(match_fstype("tmpfs", "noproc,sysfs"));
        assert!(!match_fstype("sysfs", "tmpfs,nosysfs"));
        assert!(match_fstype("TMPFS", "tmpfs"));
        assert!(!match_fstype("ext", "ext4"));
    }

    #[test]
    fn option_patterns() {
        // "noX" asks for X to be absent; "+noX" for the word noX.
        assert!(match_options("rw,noauto,size=1m", "noauto"));
        assert!(!match_options("rw,auto", "noauto"));
        assert!(match_options("rw,noauto", "+noauto"));
        assert!(!match_options("rw,size=1m", "+noauto"));
        assert!(match_options("rw,size=1m", "rw,nouser"));
        assert!(match_options("rw,size=1m", "size"));
        // 2.42: no options is no fail option.
        assert!(match_options("", "nofail"));
        assert!(!match_options("", "auto"));
        assert!(!match_options("rw", "no"));
        assert!(match_options("rw,size=1m", "size=1m"));
        assert!(!match_options("rw,size=1m", "size=2m"));
        assert!(match_options("", ""));
    }
}
