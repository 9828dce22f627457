//! Loop devices for `mount -o loop` and for regular-file sources: a free
//! device from /dev/loop-control, configured in one LOOP_CONFIGURE call
//! (falling back to LOOP_SET_FD + LOOP_SET_STATUS64 on old kernels), with
//! autoclear so that the device goes away with the last unmount.
//!
//! nix has none of these ioctls and libc none of the structures, so both
//! are declared here from <linux/loop.h>.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;

pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;

const LO_NAME_SIZE: usize = 64;

/// `struct loop_info64`.
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; LO_NAME_SIZE],
    crypt_name: [u8; LO_NAME_SIZE],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config`.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// What to attach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopSetup {
    pub file: PathBuf,
    pub offset: u64,
    pub sizelimit: u64,
    pub read_only: bool,
    /// A specific device (`loop=/dev/loop3`), else the first free one.
    pub device: Option<PathBuf>,
}

fn errno_of(error: std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

fn ioctl(fd: &File, request: libc::c_ulong, arg: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: the loop ioctls take an integer or a pointer to a structure
    // that lives across the call; the kernel validates the rest.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    Errno::result(rc)
}

fn free_device() -> Result<PathBuf, Errno> {
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(errno_of)?;
    let number = ioctl(&control, LOOP_CTL_GET_FREE, 0)?;
    Ok(PathBuf::from(format!("/dev/loop{number}")))
}

fn info_for(setup: &LoopSetup, read_only: bool) -> LoopInfo64 {
    let mut info = LoopInfo64 {
        device: 0,
        inode: 0,
        rdevice: 0,
        offset: setup.offset,
        sizelimit: setup.sizelimit,
        number: 0,
        encrypt_type: 0,
        encrypt_key_size: 0,
        flags: LO_FLAGS_AUTOCLEAR | if read_only { LO_FLAGS_READ_ONLY } else { 0 },
        file_name: [0; LO_NAME_SIZE],
        crypt_name: [0; LO_NAME_SIZE],
        encrypt_key: [0; 32],
        init: [0; 2],
    };
    let name = setup.file.as_os_str().as_encoded_bytes();
    let len = name.len().min(LO_NAME_SIZE - 1);
    info.file_name[..len].copy_from_slice(&name[..len]);
    info
}

/// An attached loop device. Its file descriptor must stay open until the
/// device is mounted: with autoclear, the last close detaches it.
#[derive(Debug)]
pub struct Attached {
    pub device: PathBuf,
    /// A read-only file is attached read-only, as util-linux does.
    pub read_only: bool,
    pub file: File,
}

/// Attaches the file to a loop device.
pub fn attach(setup: &LoopSetup) -> Result<Attached, Errno> {
    let (backing, read_only) = match OpenOptions::new()
        .read(true)
        .write(!setup.read_only)
        .open(&setup.file)
    {
        Ok(file) => (file, setup.read_only),
        Err(e)
            if !setup.read_only && matches!(e.raw_os_error(), Some(libc::EROFS | libc::EACCES)) =>
        {
            (File::open(&setup.file).map_err(errno_of)?, true)
        }
        Err(e) => return Err(errno_of(e)),
    };
    // Another process may take the free device first: try again then.
    for _ in 0..16 {
        let device = match &setup.device {
            Some(device) => device.clone(),
            None => free_device()?,
        };
        let loop_file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&device)
            .map_err(errno_of)?;
        let config = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: 0,
            info: info_for(setup, read_only),
            reserved: [0; 8],
        };
        let configured = ioctl(
            &loop_file,
            LOOP_CONFIGURE,
            &config as *const LoopConfig as libc::c_ulong,
        );
        match configured {
            Ok(_) => {
                return Ok(Attached {
                    device,
                    read_only,
                    file: loop_file,
                })
            }
            Err(Errno::EBUSY) if setup.device.is_none() => continue,
            Err(Errno::EINVAL | Errno::ENOTTY) => {
                // Kernels before 5.8: the two-step set-up.
                match ioctl(
                    &loop_file,
                    LOOP_SET_FD,
                    backing.as_raw_fd() as libc::c_ulong,
                ) {
                    Ok(_) => {}
                    Err(Errno::EBUSY) if setup.device.is_none() => continue,
                    Err(e) => return Err(e),
                }
                let info = info_for(setup, read_only);
                if let Err(e) = ioctl(
                    &loop_file,
                    LOOP_SET_STATUS64,
                    &info as *const LoopInfo64 as libc::c_ulong,
                ) {
                    let _ = ioctl(&loop_file, LOOP_CLR_FD, 0);
                    return Err(e);
                }
                return Ok(Attached {
                    device,
                    read_only,
                    file: loop_file,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EBUSY)
}

/// What a bound loop device is attached to (LOOP_GET_STATUS64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub device: PathBuf,
    /// The backing file's device and inode numbers.
    pub backing_dev: u64,
    pub backing_inode: u64,
    pub offset: u64,
    pub sizelimit: u64,
    pub flags: u32,
}

impl Status {
    pub fn read_only(&self) -> bool {
        self.flags & LO_FLAGS_READ_ONLY != 0
    }
}

/// The status of an open loop device; ENXIO when it is not bound.
fn status_of(file: &File, device: &Path) -> Result<Status, Errno> {
    let mut info = info_for(&LoopSetup::default(), false);
    ioctl(
        file,
        LOOP_GET_STATUS64,
        &mut info as *mut LoopInfo64 as libc::c_ulong,
    )?;
    Ok(Status {
        device: device.to_path_buf(),
        backing_dev: info.device,
        backing_inode: info.inode,
        offset: info.offset,
        sizelimit: info.sizelimit,
        flags: info.flags,
    })
}

pub fn status(device: &Path) -> Result<Status, Errno> {
    let file = File::open(device).map_err(errno_of)?;
    status_of(&file, device)
}

/// Every bound loop device: the kernel lists a `loop` directory in
/// /sys/block/loopN only while a file is attached.
pub fn bound() -> Vec<Status> {
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut found: Vec<Status> = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b"loop"))
        .filter(|e| e.path().join("loop").exists())
        .filter_map(|e| {
            let device = Path::new("/dev").join(e.file_name());
            status(&device).ok()
        })
        .collect();
    found.sort_by_key(|s| loop_number(&s.device));
    found
}

fn loop_number(device: &Path) -> u64 {
    device
        .to_str()
        .and_then(|p| p.strip_prefix("/dev/loop"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A loop device already on the same file, as libmount looks for one
/// before attaching another (two devices on one file would corrupt it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlap {
    None,
    /// The same offset and size limit: the device to use again.
    Same(PathBuf),
    /// Another range that overlaps ours.
    Partial(PathBuf),
}

/// libmount's loopcxt_find_overlap over the bound devices: the first
/// device on the file (by device and inode) whose range matches or
/// overlaps `offset`..`offset + sizelimit` (0: to the end).
pub fn find_overlap(bound: &[Status], file: (u64, u64), offset: u64, sizelimit: u64) -> Overlap {
    for s in bound {
        if (s.backing_dev, s.backing_inode) != file {
            continue;
        }
        if s.offset == offset && s.sizelimit == sizelimit {
            return Overlap::Same(s.device.clone());
        }
        let after_theirs = s.sizelimit != 0 && offset >= s.offset.saturating_add(s.sizelimit);
        let before_theirs = sizelimit != 0 && offset.saturating_add(sizelimit) <= s.offset;
        if !after_theirs && !before_theirs {
            return Overlap::Partial(s.device.clone());
        }
    }
    Overlap::None
}

/// Whether `device` is a loop device on `file` (device and inode), at
/// `offset` when one is given.
pub fn is_on(device: &Path, file: (u64, u64), offset: Option<u64>) -> bool {
    status(device).is_ok_and(|s| {
        (s.backing_dev, s.backing_inode) == file && offset.is_none_or(|o| o == s.offset)
    })
}

/// The device and inode numbers of a file, as LOOP_GET_STATUS64 gives
/// them for the backing file.
pub fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Holds a loop device that is to be used again: an open descriptor
/// keeps autoclear from detaching it before the mount takes it.
pub fn reuse(device: &Path) -> Result<Attached, Errno> {
    let file = File::open(device).map_err(errno_of)?;
    // Lost the race with its autoclear teardown?
    let status = status_of(&file, device)?;
    Ok(Attached {
        device: device.to_path_buf(),
        read_only: status.read_only(),
        file,
    })
}

/// Detaches a loop device (LOOP_CLR_FD). With autoclear set and the
/// device still mounted, the kernel defers it to the last unmount.
pub fn detach(device: &Path) -> Result<(), Errno> {
    let file = File::open(device).map_err(errno_of)?;
    ioctl(&file, LOOP_CLR_FD, 0).map(drop)
}

/// Whether `path` names a loop device (`/dev/loopN`).
pub fn is_loop_device(path: &Path) -> bool {
    path.to_str()
        .and_then(|p| p.strip_prefix("/dev/loop"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_sizes_match_the_kernel() {
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }

    #[test]
    fn file_name_is_truncated_and_terminated() {
        let setup = LoopSetup {
            file: PathBuf::from("/".repeat(100)),
            ..LoopSetup::default()
        };
        let info = info_for(&setup, true);
        assert_eq!(info.file_name[62], b'/');
        assert_eq!(info.file_name[63], 0);
        assert_eq!(info.flags, LO_FLAGS_AUTOCLEAR | LO_FLAGS_READ_ONLY);
    }

    fn bound_on(device: &str, offset: u64, sizelimit: u64) -> Status {
        Status {
            device: PathBuf::from(device),
            backing_dev: 8,
            backing_inode: 12,
            offset,
            sizelimit,
            flags: 0,
        }
    }

    #[test]
    fn overlaps_as_libmount_finds_them() {
        let file = (8, 12);
        let whole = [bound_on("/dev/loop0", 0, 0)];
        assert_eq!(
            find_overlap(&whole, file, 0, 0),
            Overlap::Same("/dev/loop0".into())
        );
        assert_eq!(
            find_overlap(&whole, file, 4096, 0),
            Overlap::Partial("/dev/loop0".into())
        );
        assert_eq!(find_overlap(&whole, (8, 13), 0, 0), Overlap::None);
        // Side by side: [0, 5M) and [5M, end) do not overlap.
        let first = [bound_on("/dev/loop1", 0, 5 << 20)];
        assert_eq!(find_overlap(&first, file, 5 << 20, 0), Overlap::None);
        assert_eq!(
            find_overlap(&first, file, (5 << 20) - 1, 0),
            Overlap::Partial("/dev/loop1".into())
        );
        let second = [bound_on("/dev/loop2", 5 << 20, 0)];
        assert_eq!(find_overlap(&second, file, 0, 5 << 20), Overlap::None);
        assert_eq!(
            find_overlap(&second, file, 1, 5 << 20),
            Overlap::Partial("/dev/loop2".into())
        );
        // No overflow at the top of the range: theirs ends where ours
        // starts.
        let top = [bound_on("/dev/loop3", u64::MAX - 1, u64::MAX)];
        assert_eq!(find_overlap(&top, file, u64::MAX, u64::MAX), Overlap::None);
        assert_eq!(
            find_overlap(&top, file, u64::MAX - 1, 1),
            Overlap::Partial("/dev/loop3".into())
        );
    }

    #[test]
    fn loop_device_names() {
        assert!(is_loop_device(Path::new("/dev/loop0")));
        assert!(is_loop_device(Path::new("/dev/loop12")));
        assert!(!is_loop_device(Path::new("/dev/loop-control")));
        assert!(!is_loop_device(Path::new("/dev/loop")));
        assert!(!is_loop_device(Path::new("/dev/sda")));
    }
}
