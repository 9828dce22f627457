//! The configure step without its flushes: a seccomp filter, installed in
//! the sandbox before the first command, makes `fsync`, `fdatasync`,
//! `sync_file_range`, `syncfs` and `sync` succeed at once without doing
//! anything, for every process the commands start (what `eatmydata` does
//! with a preloaded library, for static programs too).
//!
//! Why: dpkg flushes its database after each of the some 700 status
//! changes of a minbase configure step, and maintainer scripts call
//! `sync`; on a journaled ext4 each flush is a journal commit, which made
//! the configure step of a warm minbase 5.3 s where it takes 2.9 s without
//! them. What they protect is a half-configured system against a crash,
//! and a bootstrap that crashes is made again, not repaired; the unpacked
//! files were never flushed either (neither debootstrap's nor ours), so
//! the finished tree is exactly as durable as before: on disk when the
//! kernel writes it back.
//!
//! Only for the architecture ns-bootstrap is built for: a foreign
//! program's calls (another architecture's numbers, checked first) pass
//! untouched, as does everything on architectures without a table here.

use std::io;

/// `AUDIT_ARCH_*` of the architecture built for.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xc000_003e);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xc000_00b7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// The calls made into no-ops.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const FLUSHES: [libc::c_long; 5] = [
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_sync_file_range,
    libc::SYS_syncfs,
    libc::SYS_sync,
];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const FLUSHES: [libc::c_long; 0] = [];

// Classic BPF, as seccomp(2) takes it.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO` with errno 0: the call is skipped and returns 0.
const SECCOMP_RET_SUCCEED: u32 = 0x0005_0000;
/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The filter: a call of another architecture passes; one of
/// [`FLUSHES`] succeeds without running; anything else passes.
fn program(arch: u32) -> Vec<libc::sock_filter> {
    let n = FLUSHES.len() as u8;
    let mut out = vec![
        op(LD_W_ABS, 0, 0, ARCH_OFFSET),
        // Another architecture: jump over the number checks to "allow".
        op(JEQ_K, 0, n + 1, arch),
        op(LD_W_ABS, 0, 0, NR_OFFSET),
    ];
    for (i, nr) in FLUSHES.iter().enumerate() {
        // A match jumps to the last instruction, "succeed".
        let to_succeed = n - i as u8;
        out.push(op(JEQ_K, to_succeed, 0, *nr as u32));
    }
    out.push(op(RET_K, 0, 0, SECCOMP_RET_ALLOW));
    out.push(op(RET_K, 0, 0, SECCOMP_RET_SUCCEED));
    out
}

/// Installs the filter in this process (inherited by its children).
/// Needs CAP_SYS_ADMIN in the current user namespace, which the sandbox
/// has, as root or as root of its own user namespace (so no
/// `no_new_privs`, which would disarm set-user-ID programs that
/// maintainer scripts may run). Returns false, doing nothing, where this
/// architecture has no table.
pub fn install() -> io::Result<bool> {
    let Some(arch) = AUDIT_ARCH else {
        return Ok(false);
    };
    let filter = program(arch);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, alive for the call; the kernel
    // copies the program.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a forked child: flushes of a descriptor that does not exist
    /// "succeed" once the filter is in, and other calls still fail as
    /// they should.
    #[test]
    fn flushes_succeed_without_running() {
        if AUDIT_ARCH.is_none() || !nix::unistd::geteuid().is_root() {
            return;
        }
        // SAFETY: the child only makes raw system calls and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain system calls on a bad descriptor.
                let code = unsafe {
                    let before = libc::fsync(-1) == -1;
                    let installed = matches!(install(), Ok(true));
                    let after = libc::fsync(-1) == 0
                        && libc::fdatasync(-1) == 0
                        && libc::syncfs(-1) == 0
                        && libc::sync_file_range(-1, 0, 0, 0) == 0;
                    // Not a flush: still refused.
                    let close_fails = libc::close(-1) == -1;
                    if before && installed && after && close_fails {
                        0
                    } else {
                        1
                    }
                };
                // SAFETY: leaving the forked child.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn every_flush_jumps_to_succeed() {
        let program = program(1);
        let last = program.len() - 1;
        for (i, instruction) in program.iter().enumerate() {
            if instruction.code == JEQ_K && i > 1 {
                assert_eq!(i + 1 + instruction.jt as usize, last);
            }
        }
        // The architecture check's "no" lands on "allow".
        assert_eq!(2 + program[1].jf as usize, last - 1);
    }
}
