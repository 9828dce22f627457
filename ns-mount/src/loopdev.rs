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

    #[test]
    fn loop_device_names() {
        assert!(is_loop_device(Path::new("/dev/loop0")));
        assert!(is_loop_device(Path::new("/dev/loop12")));
        assert!(!is_loop_device(Path::new("/dev/loop-control")));
        assert!(!is_loop_device(Path::new("/dev/loop")));
        assert!(!is_loop_device(Path::new("/dev/sda")));
    }
}
