//! Step 3: root and working directory, once the namespaces are entered
//! (a mount namespace moves both to its root): `-r`'s root, keeping the
//! working directory unless one is given; `-w`'s directory, opened before
//! entering (a tunnel to where we were), or `-W`'s, opened inside.

use std::os::fd::AsFd;

use ns_sys::Sys;

use super::plan::Plan;
use crate::Error;

/// Changes the root, then the working directory, as the plan says.
pub fn change(sys: &impl Sys, plan: &mut Plan) -> Result<(), Error> {
    let cwd_failed = |errno| Error::system("cannot open current working directory", errno);
    if plan.root.is_some() && plan.wd.is_none() && plan.wdns.is_none() {
        let cwd = std::fs::File::open(".").map_err(|e| cwd_failed(ns_sys::errno_of(&e)))?;
        plan.wd = Some(cwd.into());
    }
    if let Some(root) = plan.root.take() {
        nix::unistd::fchdir(root.as_fd()).map_err(|errno| {
            Error::system("change directory by root file descriptor failed", errno)
        })?;
        sys.chroot(".".as_ref())
            .map_err(|errno| Error::system("chroot failed", errno))?;
        sys.chdir("/".as_ref())
            .map_err(|errno| Error::system("cannot change directory to /", errno))?;
    }
    if let Some(dir) = &plan.wdns {
        let fd = std::fs::File::open(dir).map_err(|e| cwd_failed(ns_sys::errno_of(&e)))?;
        plan.wd = Some(fd.into());
    }
    if let Some(wd) = plan.wd.take() {
        nix::unistd::fchdir(wd.as_fd()).map_err(|errno| {
            Error::system(
                "change directory by working directory file descriptor failed",
                errno,
            )
        })?;
    }
    Ok(())
}
