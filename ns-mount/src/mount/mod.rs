//! ns-mount's command, a drop-in for util-linux `mount`. One request goes
//! through four stages, one file each:
//!
//! 1. [`cli`]: argv parsed into [`cli::Options`], the mount options typed
//!    once ([`MountOptions`]: flags, data, userspace options);
//! 2. `resolve`: the `Request` completed from fstab or the mount
//!    table, the source resolved (tags, canonical paths, a loop device),
//!    the mount point prepared;
//! 3. the mount, here (`Context::mount_one`): the type probed if need
//!    be, then ns-sys's [`ns_sys::mount::mount`], which makes util-linux's
//!    mount(2) calls (`-o bind,ro SRC DST`: a bind, then a read-only bind
//!    remount);
//! 4. `messages`: the outcome as util-linux words it.
//!
//! Without operands the table is listed ([`crate::listing`]); `-a` runs
//! the stages for each fstab entry (`all`).

mod all;
pub mod cli;
mod exec;
mod fdmount;
mod messages;
mod resolve;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ns_getopt::Start;

use ns_sys::mountinfo;
use ns_sys::Sys;

use crate::error::{Error, EX_SUCCESS, EX_SYSERR, EX_USAGE};
use crate::fsapi::FsApi;
use crate::fstab::{self, Fstab, FstabEntry};
use crate::listing;
use crate::options::MountOptions;
use crate::output::say;
use crate::privilege::{self, Privilege};
use crate::probe;
use cli::Options;
use messages::Outcome;

/// Parses argv, runs, reports errors as util-linux does.
/// No set-ID refusal: mount and umount have util-linux's restricted mode.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    let run = |o: &Options| run(&ns_sys::Linux, o).map(ExitCode::from);
    ns_getopt::main(args, &cli::TOOL, Start::SetIdAware, cli::parse, run)
}

fn bad_usage() -> Error {
    Error::Usage("bad usage".into())
}

/// Runs the parsed command line; returns the exit status.
pub fn run(sys: &impl Sys, o: &Options) -> Result<u8, Error> {
    run_with(sys, &crate::fsapi::Kernel, o)
}

/// [`run`] with the fd-based mount calls made through `api`.
pub fn run_with(sys: &impl Sys, api: &dyn FsApi, o: &Options) -> Result<u8, Error> {
    let prog = &o.invoked_as;
    if o.help {
        return crate::error::print_stdout(&cli::TOOL.help(prog));
    }
    if o.version {
        // The features, as util-linux lists libmount's: scripts (and its
        // own suite) look for "fd-based" there.
        let version = cli::TOOL.version(prog);
        let version = version.trim_end();
        let line = format!("{version} (fd-based-mount, idmapping, namespaces, loopdev)\n");
        return crate::error::print_stdout(&line);
    }
    if let Some(ns) = &o.namespace {
        crate::namespace::enter(sys, ns)?;
    }
    if o.source.is_none() && o.target.is_none() && o.operands.is_empty() && !o.all {
        if o.operation || o.options_given {
            return Err(bad_usage());
        }
        return list(o);
    }
    let mut cx = Context::new(sys, api, o);
    // A restricted caller may list by type, not mount by it.
    if o.types.is_some() {
        cx.privilege.drop_to_caller(sys)?;
    }
    if o.operation && (o.types.is_some() || o.all || o.source.is_some()) {
        return Err(bad_usage());
    }
    if o.all {
        return Ok(cx.mount_all());
    }
    let (source, target) = match (o.operands.len(), &o.source, &o.target) {
        (0, _, _) => (o.source.clone(), o.target.clone()),
        (1, source, target) if source.is_none() || target.is_none() => {
            let operand = o.operands[0].clone();
            let is_tag = probe::parse_tag(&operand).is_some();
            if is_tag && source.is_some() {
                return Err(Error::failed("source specified more than once", EX_USAGE));
            }
            if is_tag || target.is_some() {
                (Some(operand), target.clone())
            } else {
                (source.clone(), Some(operand))
            }
        }
        (2, None, None) => (Some(o.operands[0].clone()), Some(o.operands[1].clone())),
        _ => return Err(bad_usage()),
    };
    // A restricted caller names a source or a target, which fstab
    // completes; never both. Each must be a path the caller can reach.
    let (source, target) = if !cx.privilege.is_restricted() {
        (source, target)
    } else if source.is_some() && target.is_some() {
        cx.privilege.drop_to_caller(sys)?;
        (source, target)
    } else {
        match (sanitize(source), sanitize(target)) {
            (Ok(source), Ok(target)) => (source, target),
            (source, target) => {
                cx.privilege.drop_to_caller(sys)?;
                let given = |path: Result<_, _>| path.unwrap_or_else(|given| given);
                (given(source), given(target))
            }
        }
    };
    let request = Request {
        source,
        target,
        fstype: None,
        options: o.options.clone(),
        from_fstab: false,
        table_root: None,
    };
    let mut outcome = cx.mount_one(request.clone());
    if outcome.not_permitted && cx.privilege.is_restricted() {
        // Not a user mount: try again as the caller, so that the kernel
        // refuses it as it refuses them (util-linux does the same).
        cx.privilege.drop_to_caller(sys)?;
        outcome = cx.mount_one(request);
    }
    Ok(outcome.report(prog, o.verbose))
}

/// A path given to a restricted mount, canonicalized as the caller would
/// see it (libmount's ul_canonicalize_path_restricted); tags and absent
/// values pass as they are. `Err` gives back what was given.
fn sanitize(given: Option<OsString>) -> Result<Option<OsString>, Option<OsString>> {
    match given {
        Some(path) if probe::parse_tag(&path).is_none() => {
            match privilege::as_caller(|| std::fs::canonicalize(&path)) {
                Ok(resolved) => Ok(Some(resolved.into_os_string())),
                Err(_) => Err(Some(path)),
            }
        }
        other => Ok(other),
    }
}

/// `mount` alone: the mount table, as util-linux prints it.
fn list(o: &Options) -> Result<u8, Error> {
    let mtab = |e: std::io::Error| Error::failed(format!("failed to read mtab: {e}"), EX_SYSERR);
    let utab = crate::utab::read();
    // utab adds options only now and then: the plain pass otherwise.
    let plain = utab.iter().all(|u| u.options.is_empty());
    let stdout = std::io::stdout();
    let mut out =
        listing::Counted::new(std::io::BufWriter::with_capacity(64 * 1024, stdout.lock()));
    let find_label = |source: &OsStr| probe::label_of(source);
    let label: Option<listing::LabelFinder<'_>> = if o.show_labels {
        Some(&find_label)
    } else {
        None
    };
    // mountinfo's text, not listmount(2)/statmount(2): one statmount per
    // mount with the fields a listing needs took 1.6-1.7x the time of
    // reading the whole text (a throwaway C program, 3,000 mounts, Linux
    // 6.18), the kernel doing the same per-mount work (paths, options)
    // plus a call for each.
    let path = Path::new("/proc/self/mountinfo");
    let written = if plain {
        let mut file = std::fs::File::open(path).map_err(mtab)?;
        match listing::stream_listing_text(&mut file, &mut out, o.types.as_deref(), label) {
            Err(listing::StreamError::Read(e)) => return Err(mtab(e)),
            Err(listing::StreamError::Write(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    } else {
        let table = mountinfo::parse(&mountinfo::read_text(path).map_err(mtab)?);
        listing::write_listing(&mut out, &table, &utab, o.types.as_deref(), label)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| ns_getopt::write_failed_after(&e, out.count))?;
    Ok(EX_SUCCESS)
}

/// The fstab in effect: `LIBMOUNT_FSTAB` or /etc/fstab; a set-user-ID
/// mount reads /etc/fstab whatever the caller's environment says.
fn fstab_path(privilege: &Privilege) -> PathBuf {
    std::env::var_os("LIBMOUNT_FSTAB")
        .filter(|_| !privilege.environment_is_untrusted())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/fstab"))
}

/// Reads and parses an fstab, reporting bad lines as util-linux does. A
/// directory stands for its `*.fstab` files in version order (libmount's
/// fstab directory); anything but a regular file or a directory (a
/// device, a FIFO) is refused unread, as libmount refuses it.
pub(crate) fn read_fstab(prog: &str, path: &Path) -> Result<Fstab, Error> {
    let refused = || {
        Error::failed_bytes(
            [path.as_os_str().as_bytes(), b": failed to parse"].concat(),
            EX_USAGE,
        )
    };
    let meta = std::fs::metadata(path).map_err(|_| refused())?;
    if meta.is_dir() {
        let mut names: Vec<OsString> = std::fs::read_dir(path)
            .map_err(|_| refused())?
            .flatten()
            .map(|entry| entry.file_name())
            .filter(|name| fstab::is_fstab_file_name(name.as_bytes()))
            .filter(|name| std::fs::metadata(path.join(name)).is_ok_and(|m| m.is_file()))
            .collect();
        names.sort_by(|a, b| fstab::version_order(a.as_bytes(), b.as_bytes()));
        let mut all = Fstab::default();
        for name in names {
            // One that cannot be read is passed over, the rest still count.
            let Ok(text) = std::fs::read(path.join(&name)) else {
                continue;
            };
            let parsed = report_bad_lines(prog, name.as_bytes(), fstab::parse(&text));
            all.entries.extend(parsed.entries);
            all.bad_lines.extend(parsed.bad_lines);
        }
        return Ok(all);
    }
    if !meta.is_file() {
        return Err(refused());
    }
    let text = std::fs::read(path).map_err(|_| refused())?;
    Ok(report_bad_lines(
        prog,
        path.as_os_str().as_bytes(),
        fstab::parse(&text),
    ))
}

fn report_bad_lines(prog: &str, name: &[u8], parsed: Fstab) -> Fstab {
    for line in &parsed.bad_lines {
        let what = format!(": parse error at line {line} -- ignored");
        say(&[prog.as_bytes(), b": ", name, what.as_bytes()]);
    }
    parsed
}

/// One mount to do: what the command line or an fstab entry asks for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub source: Option<OsString>,
    pub target: Option<OsString>,
    pub fstype: Option<String>,
    pub options: MountOptions,
    pub from_fstab: bool,
    /// The mounted filesystem's root, when the mount table completed the
    /// request (a remount): utab's ROOT= for it.
    pub table_root: Option<OsString>,
}

/// What every request of one command shares.
pub struct Context<'a, S: Sys> {
    sys: &'a S,
    api: &'a dyn FsApi,
    o: &'a Options,
    privilege: Privilege,
    fstab: Option<Fstab>,
    /// Set when the type came from `-t` as a single type (not a pattern).
    fstype: Option<String>,
    fstype_pattern: Option<String>,
}

impl<'a, S: Sys> Context<'a, S> {
    fn new(sys: &'a S, api: &'a dyn FsApi, o: &'a Options) -> Context<'a, S> {
        let (fstype, fstype_pattern) = match &o.types {
            Some(t) if o.all || t.contains(',') || t.starts_with("no") => (None, Some(t.clone())),
            Some(t) => (Some(t.clone()), None),
            None => (None, None),
        };
        Context {
            sys,
            api,
            o,
            privilege: o.privilege,
            fstab: None,
            fstype,
            fstype_pattern,
        }
    }

    /// The fstab entries: `-T` files, else /etc/fstab (read on first use).
    fn fstab(&mut self) -> &[FstabEntry] {
        if self.fstab.is_none() {
            let mut merged = Fstab::default();
            if self.o.fstabs.is_empty() {
                let path = fstab_path(&self.privilege);
                if let Ok(table) = read_fstab(&self.o.invoked_as, &path) {
                    merged = table;
                }
            } else {
                for table in &self.o.fstabs {
                    merged.entries.extend(table.entries.iter().cloned());
                }
            }
            self.fstab = Some(merged);
        }
        &self.fstab.as_ref().expect("fstab just read").entries
    }

    /// libmount's mnt_context_mount for one request.
    fn mount_one(&mut self, request: Request) -> Outcome {
        match self.resolve(request) {
            Ok(resolved) => self.mount_resolved(resolved),
            Err(outcome) => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsapi;
    use ns_sys::mount::MsFlags;
    use ns_sys::recording::{Call, Recorder};

    /// The mount(2) calls `mount ARGS` makes on a kernel without the
    /// fd-based API (paths taken as given: `-c`).
    fn calls(args: &[&str]) -> (u8, Vec<Call>) {
        let argv = ["mount", "-c"].iter().chain(args).copied();
        let options = cli::parse(argv).map_err(|(_, e)| e.to_string()).unwrap();
        let sys = Recorder::new();
        let code = run_with(&sys, &fsapi::Recorder::new().unavailable(), &options).unwrap();
        (code, sys.calls())
    }

    /// The fd-based calls `mount ARGS` makes where the kernel has them.
    fn fd_calls(args: &[&str]) -> (u8, Vec<String>) {
        let argv = ["mount", "-c"].iter().chain(args).copied();
        let options = cli::parse(argv).map_err(|(_, e)| e.to_string()).unwrap();
        let sys = Recorder::new();
        let api = fsapi::Recorder::new();
        let code = run_with(&sys, &api, &options).unwrap();
        assert!(sys.calls().is_empty(), "no mount(2) with the fd-based API");
        (code, api.calls())
    }

    #[test]
    fn the_fd_based_calls_of_2_42() {
        assert_eq!(
            fd_calls(&["-t", "tmpfs", "-o", "size=1m,nosuid", "none", "/dst"]).1,
            [
                "fsopen tmpfs",
                "fsconfig source=none",
                "fsconfig size=1m",
                "fsconfig create",
                "fsmount",
                "mount_setattr set=0x2 clr=0x0 propagation=0x0",
                "move_mount /dst",
            ]
        );
        // --move -o ro: the moved mount read-only (2.42).
        assert_eq!(
            fd_calls(&["--move", "-o", "ro", "/src", "/dst"]).1,
            [
                "open_tree /src",
                "mount_setattr set=0x1 clr=0x0 propagation=0x0",
                "move_mount /dst"
            ]
        );
        assert_eq!(
            fd_calls(&["-R", "-o", "ro=recursive", "--make-rslave", "/src", "/dst"]).1,
            [
                "open_tree /src clone recursive",
                "mount_setattr set=0x1 clr=0x0 propagation=0x0 recursive",
                "move_mount /dst",
                "mount_setattr set=0x0 clr=0x0 propagation=0x80000 recursive",
            ]
        );
        assert_eq!(
            fd_calls(&["--make-private", "/dst"]).1,
            [
                "open_tree /dst",
                "mount_setattr set=0x0 clr=0x0 propagation=0x40000"
            ]
        );
        assert_eq!(
            fd_calls(&["--beneath", "--exclusive", "-t", "ext4", "/dev/x", "/dst"]).1,
            [
                "fsopen ext4",
                "fsconfig source=/dev/x",
                "fsconfig create-excl",
                "fsmount",
                "move_mount /dst beneath",
            ]
        );
    }

    #[test]
    fn a_type_list_is_tried_in_order() {
        let argv = ["mount", "-c", "-t", "foo,bar,tmpfs", "none", "/dst"];
        let options = cli::parse(argv).map_err(|(_, e)| e.to_string()).unwrap();
        let api = fsapi::Recorder::new()
            .failing("fsopen foo", ns_sys::Errno::ENODEV, &[])
            .failing("fsopen bar", ns_sys::Errno::ENODEV, &[]);
        assert_eq!(
            run_with(&Recorder::new(), &api, &options).unwrap(),
            EX_SUCCESS
        );
        let opened: Vec<String> = api
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("fsopen"))
            .collect();
        assert_eq!(opened, ["fsopen foo", "fsopen bar", "fsopen tmpfs"]);
    }

    #[test]
    fn bind_ro_is_a_bind_then_a_read_only_remount() {
        let bind_ro = MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        assert_eq!(
            calls(&["-o", "bind,ro", "/src", "/dst"]),
            (
                EX_SUCCESS,
                vec![
                    Call::mount("/src", "/dst", None, bind_ro),
                    Call::mount("none", "/dst", None, bind_ro | MsFlags::MS_REMOUNT),
                ]
            )
        );
        // -B -r and --bind --ro are the same words.
        assert_eq!(
            calls(&["-B", "-r", "/src", "/dst"]),
            calls(&["--bind", "--ro", "/src", "/dst"])
        );
        assert_eq!(calls(&["-B", "-r", "/src", "/dst"]).1.len(), 2);
    }

    #[test]
    fn rbind_and_propagation() {
        let rbind = MsFlags::MS_BIND | MsFlags::MS_REC;
        assert_eq!(
            calls(&["--rbind", "--make-rslave", "/src", "/dst"]).1,
            [
                Call::mount("/src", "/dst", None, rbind),
                Call::mount("none", "/dst", None, MsFlags::MS_SLAVE | MsFlags::MS_REC),
            ]
        );
        assert_eq!(
            calls(&["--make-private", "/dst"]).1,
            [Call::mount("none", "/dst", None, MsFlags::MS_PRIVATE)]
        );
        assert_eq!(
            calls(&["--move", "/src", "/dst"]).1,
            [Call::mount("/src", "/dst", None, MsFlags::MS_MOVE)]
        );
    }

    #[test]
    fn a_typed_mount_passes_its_data() {
        let (code, calls) = calls(&["-t", "tmpfs", "-o", "nosuid,size=1m", "tmp", "/dst"]);
        assert_eq!(code, EX_SUCCESS);
        assert_eq!(
            calls,
            [Call::Mount {
                source: Some("tmp".into()),
                target: "/dst".into(),
                fstype: Some("tmpfs".into()),
                flags: MsFlags::MS_NOSUID,
                data: Some("size=1m".into()),
            }]
        );
    }

    #[test]
    fn fake_makes_no_call() {
        assert_eq!(
            calls(&["-f", "-o", "bind,ro", "/src", "/dst"]),
            (EX_SUCCESS, vec![])
        );
    }
}
