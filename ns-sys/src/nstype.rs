//! The namespace types, one enum for the three ways they are named: the
//! `CLONE_NEW*` flag of unshare(2) and setns(2), the file name under
//! `/proc/PID/ns/` (which lsns shows as TYPE), and the name of
//! util-linux's options (`unshare --mount`, `nsenter --mount`).

use std::ffi::CStr;

use nix::sched::CloneFlags;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NsType {
    Mnt,
    Net,
    Pid,
    Uts,
    Ipc,
    User,
    Cgroup,
    Time,
}

/// Per type, by [`NsType::index`]: the /proc name, its path under
/// `/proc/PID`, util-linux's option name, the clone flag (nix 0.32 has no
/// CLONE_NEWTIME: libc's is the kernel's 0x80).
type Names = (&'static str, &'static CStr, &'static str, libc::c_int);
const NAMES: [Names; 8] = [
    ("mnt", c"ns/mnt", "mount", libc::CLONE_NEWNS),
    ("net", c"ns/net", "net", libc::CLONE_NEWNET),
    ("pid", c"ns/pid", "pid", libc::CLONE_NEWPID),
    ("uts", c"ns/uts", "uts", libc::CLONE_NEWUTS),
    ("ipc", c"ns/ipc", "ipc", libc::CLONE_NEWIPC),
    ("user", c"ns/user", "user", libc::CLONE_NEWUSER),
    ("cgroup", c"ns/cgroup", "cgroup", libc::CLONE_NEWCGROUP),
    ("time", c"ns/time", "time", libc::CLONE_NEWTIME),
];

impl NsType {
    /// util-linux lsns' order, which is the order a process's namespaces
    /// are read in and the order of [`NsType::index`].
    pub const ALL: [NsType; 8] = [
        NsType::Mnt,
        NsType::Net,
        NsType::Pid,
        NsType::Uts,
        NsType::Ipc,
        NsType::User,
        NsType::Cgroup,
        NsType::Time,
    ];

    /// The position in [`NsType::ALL`], for tables indexed by type.
    pub fn index(self) -> usize {
        self as usize
    }

    fn names(self) -> &'static Names {
        &NAMES[self.index()]
    }

    /// The name under `/proc/PID/ns/`, and the type as lsns shows it.
    pub fn proc_name(self) -> &'static str {
        self.names().0
    }

    /// `ns/NAME`, relative to a `/proc/PID` directory, for openat(2).
    pub fn proc_path(self) -> &'static CStr {
        self.names().1
    }

    /// The namespace a process's children will be in, relative to
    /// `/proc/PID`: unshare(2) of a pid or time namespace does not move
    /// the caller, only its future children, so the new namespace is the
    /// `*_for_children` link.
    pub fn children_proc_path(self) -> &'static str {
        match self {
            NsType::Pid => "ns/pid_for_children",
            NsType::Time => "ns/time_for_children",
            other => match other.proc_path().to_str() {
                Ok(path) => path,
                Err(_) => unreachable!("the paths are ASCII"),
            },
        }
    }

    /// The name of util-linux's options for the type (`--mount`).
    pub fn option_name(self) -> &'static str {
        self.names().2
    }

    pub fn from_proc_name(name: &str) -> Option<NsType> {
        NsType::ALL
            .into_iter()
            .find(|kind| kind.proc_name() == name)
    }

    pub fn from_option_name(name: &str) -> Option<NsType> {
        NsType::ALL
            .into_iter()
            .find(|kind| kind.option_name() == name)
    }

    /// The `CLONE_NEW*` flag.
    pub fn clone_flag(self) -> CloneFlags {
        CloneFlags::from_bits_retain(self.names().3)
    }

    /// The type of a `CLONE_NEW*` flag, as the `NS_GET_NSTYPE` ioctl
    /// answers it.
    pub fn from_clone_flag(flag: libc::c_int) -> Option<NsType> {
        NsType::ALL
            .into_iter()
            .find(|kind| kind.clone_flag().bits() == flag)
    }

    /// Only pid and user namespaces nest (`NS_GET_PARENT`).
    pub fn is_hierarchical(self) -> bool {
        matches!(self, NsType::Pid | NsType::User)
    }
}

/// The flags of a set of types, for one unshare(2) call.
pub fn clone_flags(types: &[NsType]) -> CloneFlags {
    types
        .iter()
        .fold(CloneFlags::empty(), |flags, kind| flags | kind.clone_flag())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in NsType::ALL {
            assert_eq!(NsType::from_proc_name(kind.proc_name()), Some(kind));
            assert_eq!(NsType::from_option_name(kind.option_name()), Some(kind));
            assert_eq!(
                NsType::from_clone_flag(kind.clone_flag().bits()),
                Some(kind)
            );
            assert_eq!(NsType::ALL[kind.index()], kind);
            assert_eq!(
                kind.proc_path().to_str().unwrap(),
                format!("ns/{}", kind.proc_name())
            );
        }
        assert_eq!(NsType::from_proc_name("NET"), None);
        assert_eq!(NsType::from_proc_name("mount"), None, "an option name");
        assert_eq!(NsType::from_option_name("mnt"), None, "a /proc name");
        assert_eq!(NsType::from_clone_flag(0), None);
    }

    #[test]
    fn flags_are_the_kernels() {
        assert_eq!(NsType::Time.clone_flag().bits(), 0x80);
        assert_eq!(NsType::Mnt.clone_flag(), CloneFlags::CLONE_NEWNS);
        assert_eq!(
            clone_flags(&[NsType::User, NsType::Mnt]),
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        );
    }

    #[test]
    fn children_paths_for_pid_and_time_only() {
        assert_eq!(NsType::Pid.children_proc_path(), "ns/pid_for_children");
        assert_eq!(NsType::Time.children_proc_path(), "ns/time_for_children");
        assert_eq!(NsType::Mnt.children_proc_path(), "ns/mnt");
        assert_eq!(NsType::User.children_proc_path(), "ns/user");
    }
}
