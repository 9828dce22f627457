//! ns-pivot-root: a drop-in for util-linux `pivot_root NEW_ROOT PUT_OLD`,
//! one pivot_root(2) call. The stages: [`cli::parse`] turns argv into
//! [`cli::PivotRoot`]; [`run`] makes the call through [`ns_sys::Sys`] and
//! words its failure as util-linux does.

pub mod cli;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use ns_getopt::Start;
use ns_sys::Sys;

use crate::util_linux::{with_errno, UlError};
use cli::{Options, PivotRoot};

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, cli::parse, run)
}

/// Does what the options say.
pub fn run(options: &Options) -> Result<ExitCode, UlError> {
    cli::TOOL.act(&options.invoked_as, &options.action, |pivot| {
        pivot_root(&ns_sys::Linux, pivot)
    })
}

fn pivot_root(sys: &impl Sys, pivot: &PivotRoot) -> Result<ExitCode, UlError> {
    sys.pivot_root(&pivot.new_root, &pivot.put_old)
        .map_err(|errno| {
            UlError::Failed(with_errno(
                &[
                    b"failed to change root from `",
                    pivot.new_root.as_os_str().as_bytes(),
                    b"' to `",
                    pivot.put_old.as_os_str().as_bytes(),
                    b"'",
                ],
                errno,
            ))
        })
        .map(|()| ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::recording::{Call, Recorder};
    use ns_sys::Errno;

    #[test]
    fn one_call_with_the_paths_as_given() {
        let sys = Recorder::new();
        let pivot = PivotRoot {
            new_root: ".".into(),
            put_old: ".".into(),
        };
        assert_eq!(pivot_root(&sys, &pivot).unwrap(), ExitCode::SUCCESS);
        assert_eq!(sys.calls(), [Call::PivotRoot(".".into(), ".".into())]);
    }

    #[test]
    fn a_failure_names_both_paths_in_util_linux_quotes() {
        let sys = Recorder::new().failing(|_| true, Errno::EBUSY);
        let pivot = PivotRoot {
            new_root: "/new".into(),
            put_old: "/new/old".into(),
        };
        let error = pivot_root(&sys, &pivot).unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed to change root from `/new' to `/new/old': Device or resource busy"
        );
    }
}
