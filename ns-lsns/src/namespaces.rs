//! Collecting namespaces: from every process's `/proc/PID/ns/*`, from
//! nsfs bind mounts (persistent namespaces), from namespace files that
//! processes hold open, and, for the tree views, the parents and owners
//! the `NS_GET_PARENT` / `NS_GET_USERNS` ioctls name.
//!
//! The order of everything mirrors util-linux, because the output depends
//! on it: processes in `/proc` order, a process's namespaces in the order
//! of [`NsType::ALL`], namespaces finally sorted by inode.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use ns_sys::mountinfo;
pub use ns_sys::NsType;

use crate::held::{self, Held};
use crate::netnsid::{Netlink, NetnsId};
use crate::pool;
use crate::proc::{self, Proc};

pub const PARENT: usize = 0;
pub const OWNER: usize = 1;

#[derive(Debug, Clone)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    /// Inode of each namespace (0: unknown), indexed by [`NsType::index`].
    pub ns_ids: [u64; 8],
    /// The process whose PID is our PPID, if it was read.
    pub parent: Option<usize>,
    /// The command (see [`Proc::command_of`]), if it was read with the
    /// rest: `Some(None)` when there was none to read.
    pub command: Option<Option<Vec<u8>>>,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub id: u64,
    pub kind: NsType,
    pub nprocs: usize,
    pub netnsid: NetnsId,
    /// Inodes of the parent and owner namespaces (0: none or unknown).
    pub related_id: [u64; 2],
    /// The parent and owner, once connected (tree views).
    pub related: [Option<usize>; 2],
    /// The process with the lowest PID.
    pub proc_: Option<usize>,
    /// Member processes in the order they were read.
    pub processes: Vec<usize>,
    /// The owner uid for a namespace without processes.
    pub uid_fallback: u32,
}

/// What to collect.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub types: [bool; 8],
    /// Read parent and owner (PNS/ONS columns, tree views, filters).
    pub related: bool,
    pub netnsid: bool,
    /// Connect parents/owners and read the missing ones (tree views).
    pub connect: bool,
    /// Look for namespace files held open by processes.
    pub open_files: bool,
    /// Read the command of each process that may be the one a namespace
    /// is shown with (see `read_raw`).
    pub commands: bool,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub processes: Vec<Process>,
    pub namespaces: Vec<Namespace>,
    by_ino: HashMap<u64, usize>,
    related_cache: HashMap<u64, [u64; 2]>,
    netnsid_cache: HashMap<u64, NetnsId>,
}

/// The nsfs mounts of `/proc/self/mountinfo`: (root, target), e.g.
/// `("net:[4026532290]", "/run/netns/blue")`, the mount point as the
/// kernel's bytes, whatever they are.
pub type NsfsMounts = Vec<(String, Vec<u8>)>;

struct Context<'a> {
    proc: &'a Proc,
    options: &'a ScanOptions,
    netlink: Option<Netlink>,
    /// How many of the assigned namespace ids no answer has named yet
    /// (`None`: unknown, ask for every namespace).
    ids_unseen: Option<usize>,
    nsfs_dev: Option<u64>,
}

impl Context<'_> {
    /// The NETNSID of the network namespace `fd` refers to. Once every
    /// assigned id has been answered, the others are unassigned: no
    /// need to ask (without ids, as is usual, nothing is asked at all).
    fn netnsid(&mut self, fd: RawFd) -> NetnsId {
        let Some(netlink) = &self.netlink else {
            return NetnsId::Unusable;
        };
        if self.ids_unseen == Some(0) {
            return NetnsId::Unassigned;
        }
        let id = netlink.query(fd);
        if let (NetnsId::Id(_), Some(unseen)) = (id, self.ids_unseen.as_mut()) {
            *unseen -= 1;
        }
        id
    }
}

impl Scan {
    pub fn get(&self, ino: u64) -> Option<usize> {
        self.by_ino.get(&ino).copied()
    }

    /// Reads everything and sorts the namespaces by inode.
    pub fn collect(
        proc: &Proc,
        options: &ScanOptions,
        mounts: &NsfsMounts,
    ) -> std::io::Result<Scan> {
        let mut scan = Scan::default();
        let mut cx = Context {
            proc,
            options,
            netlink: if options.netnsid {
                Netlink::open().ok()
            } else {
                None
            },
            ids_unseen: None,
            nsfs_dev: None,
        };
        cx.ids_unseen = cx.netlink.as_ref().and_then(Netlink::assigned_count);
        if options.open_files {
            cx.nsfs_dev = held::nsfs_dev();
        }
        let wanted = cx.nsfs_dev.map(|nsfs_dev| held::Wanted {
            nsfs_dev,
            sockets: options.types[NsType::Net.index()],
        });
        let raws = pool::map_listed(
            |push| proc.for_each_pid(push),
            Seen::default,
            |seen, pid| read_raw(proc, options, wanted.as_ref(), seen, pid),
        )?;
        let mut socket_nets = Vec::new();
        for mut raw in raws.into_iter().flatten() {
            socket_nets.append(&mut raw.held.socket_nets);
            scan.add_process(&mut cx, raw);
        }
        scan.add_socket_nets(&mut cx, socket_nets);
        scan.link_parents();
        scan.assign_namespaces();
        scan.read_persistent(&mut cx, mounts);
        if options.connect {
            scan.connect(&mut cx);
        }
        scan.sort();
        Ok(scan)
    }

    /// One process, from what [`read_raw`] found; a process that vanishes
    /// meanwhile is skipped.
    fn add_process(&mut self, cx: &mut Context, raw: Raw) {
        for kind in NsType::ALL {
            let ino = raw.ns_ids[kind.index()];
            if ino == 0 {
                continue;
            }
            let need_related = cx.options.related && !self.related_cache.contains_key(&ino);
            let mut need_netnsid = kind == NsType::Net
                && cx.netlink.is_some()
                && !self.netnsid_cache.contains_key(&ino);
            if need_netnsid && cx.ids_unseen == Some(0) {
                // Known without opening the namespace.
                self.netnsid_cache.insert(ino, NetnsId::Unassigned);
                need_netnsid = false;
            }
            if need_related || need_netnsid {
                let name = kind.proc_path().to_bytes();
                let Some(fd) = cx.proc.open_checked(raw.pid, name, ino) else {
                    return;
                };
                if need_related {
                    let (parent, owner) = related_of(fd.as_raw_fd(), kind);
                    self.related_cache.insert(ino, [parent.0, owner.0]);
                }
                if need_netnsid {
                    let id = cx.netnsid(fd.as_raw_fd());
                    self.netnsid_cache.insert(ino, id);
                }
            }
        }
        self.processes.push(Process {
            pid: raw.pid,
            ppid: raw.ppid,
            uid: raw.uid,
            ns_ids: raw.ns_ids,
            parent: None,
            command: raw.command,
        });
        for (ino, fd_name) in raw.held.files {
            if self.by_ino.contains_key(&ino) {
                continue;
            }
            let mut name = [0u8; 20];
            name[..3].copy_from_slice(b"fd/");
            let len = fd_name
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(fd_name.len());
            name[3..3 + len].copy_from_slice(&fd_name[..len]);
            if let Some(fd) = cx.proc.open_checked(raw.pid, &name[..3 + len], ino) {
                self.add_for_fd(cx, fd.as_raw_fd(), ino);
            }
        }
    }

    /// Network namespaces only sockets hold: those no process is in.
    /// (One a process is in gets the same row from the process.)
    fn add_socket_nets(&mut self, cx: &mut Context, socket_nets: Vec<(u64, OwnedFd)>) {
        let entered: HashSet<u64> = self
            .processes
            .iter()
            .map(|p| p.ns_ids[NsType::Net.index()])
            .collect();
        for (ino, fd) in socket_nets {
            if !entered.contains(&ino) && !self.by_ino.contains_key(&ino) {
                self.add_for_fd(cx, fd.as_raw_fd(), ino);
            }
        }
    }

    fn link_parents(&mut self) {
        let by_pid: HashMap<i32, usize> = self
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pid, i))
            .collect();
        for process in &mut self.processes {
            process.parent = by_pid.get(&process.ppid).copied();
        }
    }

    fn assign_namespaces(&mut self) {
        for index in 0..self.processes.len() {
            for kind in NsType::ALL {
                let ino = self.processes[index].ns_ids[kind.index()];
                if ino == 0 {
                    continue;
                }
                let ns = match self.by_ino.get(&ino) {
                    Some(&ns) => ns,
                    None => {
                        let related = self.related_cache.get(&ino).copied().unwrap_or([0, 0]);
                        let netnsid = match kind {
                            NsType::Net => self
                                .netnsid_cache
                                .get(&ino)
                                .copied()
                                .unwrap_or(NetnsId::Unusable),
                            _ => NetnsId::Unusable,
                        };
                        self.add(kind, ino, related, netnsid)
                    }
                };
                let pid = self.processes[index].pid;
                let namespace = &mut self.namespaces[ns];
                namespace.processes.push(index);
                namespace.nprocs += 1;
                let lower = match namespace.proc_ {
                    Some(lowest) => self.processes[lowest].pid > pid,
                    None => true,
                };
                if lower {
                    namespace.proc_ = Some(index);
                }
            }
        }
    }

    fn add(&mut self, kind: NsType, id: u64, related_id: [u64; 2], netnsid: NetnsId) -> usize {
        let index = self.namespaces.len();
        self.namespaces.push(Namespace {
            id,
            kind,
            nprocs: 0,
            netnsid,
            related_id,
            related: [None, None],
            proc_: None,
            processes: Vec::new(),
            uid_fallback: 0,
        });
        self.by_ino.insert(id, index);
        index
    }

    /// A namespace known only by a file descriptor (a bind mount, an open
    /// file, a parent or owner of another): its type, parent, owner and
    /// owner uid come from the ioctls. Its parent and owner are added too.
    fn add_for_fd(&mut self, cx: &mut Context, fd: RawFd, ino: u64) -> Option<usize> {
        // SAFETY: NS_GET_NSTYPE takes no argument.
        let flag = unsafe { libc::ioctl(fd, libc::NS_GET_NSTYPE) };
        let kind = NsType::from_clone_flag(flag)?;
        if !cx.options.types[kind.index()] {
            return None;
        }
        let (parent, owner) = related_of(fd, kind);
        let netnsid = if kind == NsType::Net {
            match self.netnsid_cache.get(&ino) {
                Some(&id) => id,
                None => {
                    let id = cx.netnsid(fd);
                    self.netnsid_cache.insert(ino, id);
                    id
                }
            }
        } else {
            NetnsId::Unusable
        };
        let index = self.add(kind, ino, [parent.0, owner.0], netnsid);
        let mut uid: libc::uid_t = 0;
        // SAFETY: NS_GET_OWNER_UID writes one uid_t; it fails (leaving 0)
        // for anything but a user namespace.
        if unsafe { libc::ioctl(fd, libc::NS_GET_OWNER_UID, &mut uid) } == 0 {
            self.namespaces[index].uid_fallback = uid;
        }
        if kind.is_hierarchical() && parent.0 != ino && parent.0 != 0 {
            let related = match self.get(parent.0) {
                Some(found) => Some(found),
                None => {
                    let added = parent
                        .1
                        .as_ref()
                        .and_then(|pfd| self.add_for_fd(cx, pfd.as_raw_fd(), parent.0));
                    if parent.0 == owner.0 {
                        self.namespaces[index].related[OWNER] = added;
                    }
                    added
                }
            };
            self.namespaces[index].related[PARENT] = related;
        }
        if self.namespaces[index].related[OWNER].is_none() && owner.0 != 0 {
            let related = match self.get(owner.0) {
                Some(found) => Some(found),
                None => owner
                    .1
                    .as_ref()
                    .and_then(|ofd| self.add_for_fd(cx, ofd.as_raw_fd(), owner.0)),
            };
            self.namespaces[index].related[OWNER] = related;
        }
        Some(index)
    }

    /// Namespaces bind-mounted somewhere (nsfs in mountinfo) that no
    /// process is in.
    fn read_persistent(&mut self, cx: &mut Context, mounts: &NsfsMounts) {
        for (root, target) in mounts {
            let Some(ino) = nsfs_root_ino(root) else {
                continue;
            };
            if self.by_ino.contains_key(&ino) {
                continue;
            }
            let Ok(path) = CString::new(target.as_slice()) else {
                continue;
            };
            // SAFETY: a valid C string; the fd is owned below.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                continue;
            }
            // SAFETY: fd was just opened and is owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            self.add_for_fd(cx, fd.as_raw_fd(), ino);
        }
    }

    /// Links every namespace to its parent and owner; a parent or owner no
    /// process is in ("missing") is read through the ioctls from one of
    /// its children.
    fn connect(&mut self, cx: &mut Context) {
        let mut orphans: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for index in 0..self.namespaces.len() {
            let ns = &self.namespaces[index];
            let (kind, ids) = (ns.kind, ns.related_id);
            if kind.is_hierarchical() {
                if let Some(found) = self.get(ids[PARENT]) {
                    self.namespaces[index].related[PARENT] = Some(found);
                }
            }
            if let Some(found) = self.get(ids[OWNER]) {
                self.namespaces[index].related[OWNER] = Some(found);
            }
            for rela in [PARENT, OWNER] {
                let ns = &self.namespaces[index];
                if ns.related_id[rela] != 0 && ns.related[rela].is_none() {
                    orphans[rela].push(index);
                }
            }
        }
        // util-linux keeps the orphans on a stack.
        for rela in [PARENT, OWNER] {
            while let Some(orphan) = orphans[rela].pop() {
                self.read_ghost(cx, orphan, rela);
            }
        }
    }

    fn read_ghost(&mut self, cx: &mut Context, orphan: usize, rela: usize) {
        let wanted = self.namespaces[orphan].related_id[rela];
        if let Some(found) = self.get(wanted) {
            self.namespaces[orphan].related[rela] = Some(found);
            return;
        }
        let Some(proc_) = self.namespaces[orphan].proc_ else {
            return;
        };
        let kind = self.namespaces[orphan].kind;
        let path = format!(
            "/proc/{}/ns/{}",
            self.processes[proc_].pid,
            kind.proc_name()
        );
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        let fd = file.as_raw_fd();
        let (ino, missing) = if rela == PARENT {
            parent_of(fd, kind)
        } else {
            owner_of(fd)
        };
        let Some(missing) = missing else { return };
        if ino != wanted {
            return;
        }
        self.namespaces[orphan].related[rela] = self.add_for_fd(cx, missing.as_raw_fd(), wanted);
    }

    /// Stable sort by inode, remapping every index.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.namespaces.len()).collect();
        order.sort_by_key(|&i| self.namespaces[i].id);
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let mut old: Vec<Option<Namespace>> = std::mem::take(&mut self.namespaces)
            .into_iter()
            .map(Some)
            .collect();
        self.namespaces = order
            .iter()
            .map(|&i| old[i].take().expect("each namespace moved once"))
            .collect();
        for ns in &mut self.namespaces {
            for related in &mut ns.related {
                *related = related.map(|i| new_index[i]);
            }
        }
        for index in self.by_ino.values_mut() {
            *index = new_index[*index];
        }
    }
}

type Related = (u64, Option<OwnedFd>);

/// Parent and owner of the namespace `fd` refers to; a failing ioctl
/// (EPERM at the top of the hierarchy, EINVAL for flat types) reads as 0.
fn related_of(fd: RawFd, kind: NsType) -> (Related, Related) {
    (parent_of(fd, kind), owner_of(fd))
}

fn parent_of(fd: RawFd, kind: NsType) -> Related {
    if !kind.is_hierarchical() {
        return (0, None);
    }
    // SAFETY: NS_GET_PARENT takes no argument and returns a new fd.
    ioctl_fd(unsafe { libc::ioctl(fd, libc::NS_GET_PARENT) })
}

fn owner_of(fd: RawFd) -> Related {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new fd.
    ioctl_fd(unsafe { libc::ioctl(fd, libc::NS_GET_USERNS) })
}

fn ioctl_fd(result: libc::c_int) -> Related {
    if result < 0 {
        return (0, None);
    }
    // SAFETY: the ioctl returned a new fd that nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(result) };
    match proc::fstat(fd.as_raw_fd()) {
        Ok(st) => (st.st_ino, Some(fd)),
        Err(_) => (0, None),
    }
}

/// The device of nsfs, from one of our own namespace files.
/// What is read of one process without looking at the rest of the scan
/// (done in parallel for many processes).
struct Raw {
    pid: i32,
    ppid: i32,
    uid: u32,
    /// Inode of each namespace (0: not read), by [`NsType::index`].
    ns_ids: [u64; 8],
    /// Namespaces its open files hold.
    held: Held,
    command: Option<Option<Vec<u8>>>,
}

/// What one thread has met in the processes it read.
#[derive(Default)]
struct Seen {
    namespaces: HashSet<u64>,
    sockets: HashSet<u64>,
}

/// One process's [`Raw`], or `None` when it is gone.
///
/// `seen.namespaces` holds the namespaces of the processes this thread has read,
/// all of lower PIDs (see [`pool::map_listed`]). A namespace is shown
/// with its lowest PID, which is the first of its members its thread
/// meets; so reading the command of every process that is the first one
/// its thread meets in one of its namespaces reads every command a plain
/// listing shows, while the directory is open, at the price of a spare
/// read per namespace and thread at most.
fn read_raw(
    proc: &Proc,
    options: &ScanOptions,
    wanted: Option<&held::Wanted>,
    seen: &mut Seen,
    pid: i32,
) -> Option<Raw> {
    let dir = proc.dir(pid).ok()?;
    let uid = dir.uid().ok()?;
    let stat = dir.stat()?;
    let mut ns_ids = [0u64; 8];
    for kind in NsType::ALL {
        if !options.types[kind.index()] {
            continue;
        }
        match dir.ns_ino(kind.proc_path()) {
            Ok(ino) => ns_ids[kind.index()] = ino,
            Err(error) => match error.raw_os_error() {
                // Not there (a zombie, an old kernel) or not ours to see:
                // not a member, as for util-linux.
                Some(libc::ENOENT | libc::EACCES) => {}
                _ => return None,
            },
        }
    }
    let mut first = false;
    for ino in ns_ids.into_iter().filter(|&ino| ino != 0) {
        first |= seen.namespaces.insert(ino);
    }
    let command = (options.commands && first).then(|| dir.command());
    let held = match wanted {
        Some(wanted) => held::scan(
            &dir,
            pid,
            wanted,
            ns_ids[NsType::Net.index()],
            &mut seen.sockets,
        ),
        None => Held::default(),
    };
    Some(Raw {
        pid: stat.pid,
        ppid: stat.ppid,
        uid,
        ns_ids,
        held,
        command,
    })
}

/// The nsfs mounts of a mountinfo text, in order, with `\NNN` escapes of
/// root and mount point decoded (as libmount decodes them).
pub fn parse_nsfs_mounts(text: &[u8]) -> NsfsMounts {
    mountinfo::parse(text)
        .into_iter()
        .filter(|mount| mount.fstype == "nsfs")
        .map(|mount| {
            let root = String::from_utf8_lossy(mount.root.as_bytes()).into_owned();
            (root, mount.target.into_vec())
        })
        .collect()
}

/// The inode in an nsfs mount root such as `net:[4026532290]`.
pub fn nsfs_root_ino(root: &str) -> Option<u64> {
    let start = root.find('[')? + 1;
    let rest = &root[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if !rest[end..].starts_with(']') || end == 0 {
        return None;
    }
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsfs_roots() {
        assert_eq!(nsfs_root_ino("net:[4026532290]"), Some(4026532290));
        assert_eq!(nsfs_root_ino("mnt:[1]"), Some(1));
        assert_eq!(nsfs_root_ino("net:[]"), None);
        assert_eq!(nsfs_root_ino("net:[12"), None);
        assert_eq!(nsfs_root_ino("net:[12x]"), None);
        assert_eq!(nsfs_root_ino("/"), None);
    }

    #[test]
    fn mountinfo_nsfs_entries() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            530 29 0:4 net:[4026532290] /run/netns/blue rw shared:5 - nsfs nsfs rw\n\
            531 29 0:4 mnt:[4026532300] /tmp/my\\040ns rw - nsfs nsfs rw\n\
            532 29 0:4 uts:[4026532301] /tmp/\xff\xfe rw - nsfs nsfs rw\n\
            garbage line\n";
        assert_eq!(
            parse_nsfs_mounts(text),
            vec![
                ("net:[4026532290]".to_string(), b"/run/netns/blue".to_vec()),
                ("mnt:[4026532300]".to_string(), b"/tmp/my ns".to_vec()),
                ("uts:[4026532301]".to_string(), b"/tmp/\xff\xfe".to_vec()),
            ]
        );
    }

    #[test]
    fn sort_remaps_relations() {
        let mut scan = Scan::default();
        let a = scan.add(NsType::User, 30, [0, 0], NetnsId::Unusable);
        let b = scan.add(NsType::Net, 10, [0, 30], NetnsId::Unusable);
        scan.namespaces[b].related[OWNER] = Some(a);
        scan.sort();
        assert_eq!(scan.namespaces[0].id, 10);
        assert_eq!(scan.namespaces[0].related[OWNER], Some(1));
        assert_eq!(scan.get(30), Some(1));
    }
}
