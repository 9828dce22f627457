//! The namespace types in the order ns-unshare binds them, and why
//! `unshare(2)` said EPERM, in words. The types themselves (flags, /proc
//! names, option names) are ns-sys's [`NsType`].

use ns_sys::NsType;

/// util-linux's binding order for `--TYPE=FILE`: the user namespace
/// first, so a file of a later type is bound while the namespace that
/// owns it is already persistent.
pub const BIND_ORDER: [NsType; 8] = [
    NsType::User,
    NsType::Cgroup,
    NsType::Ipc,
    NsType::Uts,
    NsType::Net,
    NsType::Pid,
    NsType::Mnt,
    NsType::Time,
];

/// What the system says about user namespaces, read from /proc; `None`
/// where a file is missing (a kernel without that knob).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsernsKnobs {
    /// /proc/sys/user/max_user_namespaces
    pub max_user_namespaces: Option<u64>,
    /// /proc/sys/kernel/unprivileged_userns_clone (Debian's older kernels)
    pub unprivileged_userns_clone: Option<u64>,
    /// /proc/sys/kernel/apparmor_restrict_unprivileged_userns (Ubuntu)
    pub apparmor_restrict: Option<u64>,
}

impl UsernsKnobs {
    pub fn read() -> UsernsKnobs {
        let knob = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
        };
        UsernsKnobs {
            max_user_namespaces: knob("/proc/sys/user/max_user_namespaces"),
            unprivileged_userns_clone: knob("/proc/sys/kernel/unprivileged_userns_clone"),
            apparmor_restrict: knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        }
    }
}

/// What the caller of `unshare(2)` was, as far as EPERM goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// A user namespace was asked for.
    pub wants_user: bool,
    /// The caller holds CAP_SYS_ADMIN in its user namespace.
    pub has_sys_admin: bool,
    /// The caller's root is not its mount namespace's root (chroot): the
    /// kernel refuses new user namespaces there.
    pub chrooted: bool,
    pub euid: u32,
}

/// Why `unshare(2)` failed with EPERM, in plain words: util-linux says only
/// "Operation not permitted", which leaves users guessing.
pub fn explain_eperm(caller: &Caller, knobs: &UsernsKnobs) -> String {
    if caller.wants_user {
        if knobs.max_user_namespaces == Some(0) {
            return "user namespaces are disabled on this system \
                    (sysctl user.max_user_namespaces is 0)"
                .to_string();
        }
        if caller.euid != 0 && !caller.has_sys_admin && knobs.unprivileged_userns_clone == Some(0) {
            return "unprivileged user namespaces are disabled on this system \
                    (sysctl kernel.unprivileged_userns_clone is 0)"
                .to_string();
        }
        if caller.chrooted {
            return "the kernel refuses to create a user namespace from inside a chroot"
                .to_string();
        }
        if caller.euid != 0 && !caller.has_sys_admin && knobs.apparmor_restrict == Some(1) {
            return "AppArmor restricts unprivileged user namespaces \
                    (sysctl kernel.apparmor_restrict_unprivileged_userns is 1)"
                .to_string();
        }
        return "the kernel or a security policy (seccomp, LSM, container runtime) \
                refused to create a user namespace"
            .to_string();
    }
    if !caller.has_sys_admin {
        return "creating these namespaces needs CAP_SYS_ADMIN; as an unprivileged user, \
                add --user or --map-root-user (-r) to create a user namespace first"
            .to_string();
    }
    "a security policy (seccomp, LSM, container runtime) refused to create the namespaces"
        .to_string()
}

/// The caller's own situation, read from /proc.
pub fn current_caller(wants_user: bool) -> Caller {
    Caller {
        wants_user,
        has_sys_admin: has_cap_sys_admin(
            &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        ),
        chrooted: is_chrooted(),
        euid: nix::unistd::geteuid().as_raw(),
    }
}

/// The capability number of CAP_SYS_ADMIN (linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;

/// CAP_SYS_ADMIN in the `CapEff:` line of /proc/self/status.
pub fn has_cap_sys_admin(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// The classic chroot test: our root directory is not pid 1's. When pid
/// 1's root is out of reach, we cannot tell, and say no.
fn is_chrooted() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata("/"), std::fs::metadata("/proc/1/root/.")) {
        (Ok(root), Ok(init_root)) => (root.dev(), root.ino()) != (init_root.dev(), init_root.ino()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_order_is_user_first_and_complete() {
        assert_eq!(
            BIND_ORDER[0],
            NsType::User,
            "the user namespace binds first"
        );
        for kind in NsType::ALL {
            assert!(BIND_ORDER.contains(&kind), "{kind:?}");
        }
    }

    #[test]
    fn cap_sys_admin_from_status() {
        assert!(has_cap_sys_admin("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(!has_cap_sys_admin("CapEff:\t0000000000000000\n"));
        assert!(has_cap_sys_admin("CapEff:\t0000000000200000\n"));
        assert!(!has_cap_sys_admin("CapEff:\tzz\n"));
        assert!(!has_cap_sys_admin(""));
    }

    #[test]
    fn eperm_without_user_namespace_suggests_one() {
        let caller = Caller {
            euid: 1000,
            ..Caller::default()
        };
        let why = explain_eperm(&caller, &UsernsKnobs::default());
        assert!(why.contains("CAP_SYS_ADMIN") && why.contains("--map-root-user"));
    }

    #[test]
    fn eperm_with_user_namespace_names_the_sysctl() {
        let caller = Caller {
            wants_user: true,
            euid: 1000,
            ..Caller::default()
        };
        let disabled = UsernsKnobs {
            max_user_namespaces: Some(0),
            ..UsernsKnobs::default()
        };
        assert!(explain_eperm(&caller, &disabled).contains("user.max_user_namespaces"));
        let debian = UsernsKnobs {
            max_user_namespaces: Some(100),
            unprivileged_userns_clone: Some(0),
            apparmor_restrict: None,
        };
        assert!(explain_eperm(&caller, &debian).contains("unprivileged_userns_clone"));
        let ubuntu = UsernsKnobs {
            apparmor_restrict: Some(1),
            ..UsernsKnobs::default()
        };
        assert!(explain_eperm(&caller, &ubuntu).contains("AppArmor"));
        let chrooted = Caller {
            chrooted: true,
            ..caller
        };
        assert!(explain_eperm(&chrooted, &UsernsKnobs::default()).contains("chroot"));
    }
}
