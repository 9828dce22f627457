//! What statx(2) tells of a path's mount, which stat(2) cannot: whether
//! the path is the root of a mount (`STATX_ATTR_MOUNT_ROOT`, Linux 5.8)
//! and which mount it is on (`STATX_MNT_ID`, Linux 5.8). nix 0.32 has no
//! statx, so this is one raw system call.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A path's place among the mounts, as far as the kernel says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountFacts {
    /// Whether the path is the root of a mount; `None` on kernels that do
    /// not say.
    pub is_mount_root: Option<bool>,
    /// The mount's id (as in mountinfo); `None` on kernels that do not say.
    pub mount_id: Option<u64>,
}

/// statx(2) of `path` (symlinks followed, as mount(2) follows them); `None`
/// when the call fails or does not exist here.
pub fn mount_facts(path: &Path) -> Option<MountFacts> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statx is a valid value of this plain C struct.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a buffer of the kernel's struct
    // size, both alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            path.as_ptr(),
            0,
            libc::STATX_BASIC_STATS | libc::STATX_MNT_ID,
            &mut buf as *mut libc::statx,
        )
    };
    if rc != 0 {
        return None;
    }
    Some(facts_of(&buf))
}

fn facts_of(buf: &libc::statx) -> MountFacts {
    let root_bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    MountFacts {
        is_mount_root: (buf.stx_attributes_mask & root_bit != 0)
            .then_some(buf.stx_attributes & root_bit != 0),
        mount_id: (buf.stx_mask & libc::STATX_MNT_ID != 0).then_some(buf.stx_mnt_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(mask: u32, attributes_mask: u64, attributes: u64, mnt_id: u64) -> libc::statx {
        // SAFETY: an all-zero statx is a valid value of this plain C struct.
        let mut buf: libc::statx = unsafe { std::mem::zeroed() };
        buf.stx_mask = mask;
        buf.stx_attributes_mask = attributes_mask;
        buf.stx_attributes = attributes;
        buf.stx_mnt_id = mnt_id;
        buf
    }

    #[test]
    fn only_what_the_kernel_filled_in_counts() {
        let root = libc::STATX_ATTR_MOUNT_ROOT as u64;
        assert_eq!(facts_of(&with(0, 0, root, 7)), MountFacts::default());
        assert_eq!(
            facts_of(&with(libc::STATX_MNT_ID, root, 0, 7)),
            MountFacts {
                is_mount_root: Some(false),
                mount_id: Some(7)
            }
        );
        assert_eq!(facts_of(&with(0, root, root, 0)).is_mount_root, Some(true));
    }

    #[test]
    fn the_root_directory_is_the_root_of_a_mount() {
        // "/" is always the root of a mount; /proc/self is not (a symlink
        // in procfs, followed to a directory that is not a mount's root).
        let Some(root) = mount_facts(Path::new("/")) else {
            return; // statx filtered out here (an old seccomp profile)
        };
        if root.is_mount_root.is_some() {
            assert_eq!(root.is_mount_root, Some(true));
            let proc_self = mount_facts(Path::new("/proc/self")).unwrap();
            assert_eq!(proc_self.is_mount_root, Some(false));
        }
        assert_eq!(mount_facts(Path::new("/nonexistent-nstools")), None);
    }
}
