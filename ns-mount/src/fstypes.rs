//! Filesystem types as libmount sorts them: pseudo filesystems (no real
//! source), network filesystems (`host:path`), and the regular ones whose
//! source is a device or file to resolve.

/// Filesystems without a real source (libmount's list); their source is
/// printed as it is.
const PSEUDO_FS: &[&str] = &[
    "anon_inodefs",
    "apparmorfs",
    "autofs",
    "bdev",
    "binder",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "cpuset",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "dlmfs",
    "dmabuf",
    "drm",
    "efivarfs",
    "fuse",
    "fuse.archivemount",
    "fuse.avfsd",
    "fuse.dumpfs",
    "fuse.encfs",
    "fuse.gvfs-fuse-daemon",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.rofiles-fuse",
    "fuse.vmware-vmblock",
    "fuse.xwmfs",
    "fusectl",
    "hugetlbfs",
    "ipathfs",
    "mqueue",
    "nfsd",
    "none",
    "nsfs",
    "overlay",
    "pipefs",
    "proc",
    "pstore",
    "ramfs",
    "resctrl",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "smackfs",
    "sockfs",
    "spufs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "vboxsf",
    "virtiofs",
];

pub fn is_pseudo_fs(fstype: &str) -> bool {
    PSEUDO_FS.binary_search(&fstype).is_ok()
}

/// Network filesystems, whose source is `host:path`, never a local path.
pub fn is_net_fs(fstype: &str) -> bool {
    fstype.starts_with("nfs")
        || matches!(
            fstype,
            "cifs"
                | "smbfs"
                | "smb3"
                | "ncpfs"
                | "ncp"
                | "afs"
                | "gfs"
                | "gfs2"
                | "glusterfs"
                | "fuse.glusterfs"
                | "fuse.sshfs"
                | "ceph"
                | "9p"
                | "pvfs2"
                | "coda"
        )
}

pub fn is_regular_fs(fstype: &str) -> bool {
    !is_pseudo_fs(fstype) && !is_net_fs(fstype) && fstype != "swap"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_list_is_sorted_for_binary_search() {
        let mut sorted = PSEUDO_FS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PSEUDO_FS);
        assert!(is_pseudo_fs("tmpfs"));
        assert!(!is_pseudo_fs("ext4"));
        assert!(is_net_fs("nfs4"));
        assert!(is_regular_fs("ext4"));
    }
}
