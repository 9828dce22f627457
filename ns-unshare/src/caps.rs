//! `--keep-caps`: the capabilities a new user namespace grants are lost
//! at exec unless raised into the ambient set (Linux 4.3+).

use nix::errno::Errno;

use crate::Error;

/// `struct __user_cap_header_struct`; libc has no binding for it.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: two of them for 64 capability bits.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Makes every permitted capability inheritable, then ambient, so the
/// program keeps them across execve.
pub fn permitted_to_ambient() -> Result<(), Error> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data structs, as capget(2) expects for v3.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(Error::system("capget failed", Errno::last()));
    }
    for half in &mut data {
        half.inheritable = half.permitted;
    }
    // SAFETY: as above; capset only reads.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(Error::system("capset failed", Errno::last()));
    }
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(40)
        .min(63);
    let permitted = u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32);
    for cap in (0..=last).filter(|cap| permitted & (1 << cap) != 0) {
        // SAFETY: plain prctl with integer arguments.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                libc::c_ulong::from(cap),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc < 0 {
            return Err(Error::system("prctl(PR_CAP_AMBIENT) failed", Errno::last()));
        }
    }
    Ok(())
}
