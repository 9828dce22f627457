//! `-R`, `-A` and `-a`: the mount table read once and walked, children
//! and over-mounts before their parent, so the time grows linearly with
//! the number of mounts (util-linux 2.38 re-reads the table per unmount).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use ns_sys::mountinfo::{self, MountEntry};
use ns_sys::Sys;

use super::{Options, Unmounter};
use crate::error::{EX_SUCCESS, EX_USAGE};
use crate::options::{match_fstype, match_options};
use crate::output::{padded, progress, say_about};
use crate::paths::canonical_target as canonical;
use crate::utab::UtabEntry;

/// What `umount -a` leaves alone unless `-t` says otherwise.
const DEFAULT_ALL_TYPES: &str = "noproc,nodevfs,nodevpts,nosysfs,norpc_pipefs,nonfsd,noselinuxfs";

impl<S: Sys> Unmounter<'_, S> {
    /// `-R` or `-A` of something not in the table.
    fn not_found(&self, spec: &OsStr) -> u8 {
        if !self.o.quiet {
            let what = if Path::new(spec).exists() {
                "not mounted"
            } else {
                "not found"
            };
            say_about(self.prog(), spec, what.as_bytes());
        }
        EX_USAGE
    }

    /// `-R`: one read of the mount table, then depth first, children and
    /// over-mounts before their parent: linear in the number of mounts.
    pub(super) fn recursive(&self, spec: &OsStr) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        // The first mount on the target (2.42; 2.38 took the last, and
        // left what was under an over-mount).
        let first = |t: &OsStr| table.iter().find(|e| e.target == t);
        let top = first(spec).or_else(|| first(&canonical(spec)));
        let Some(top) = top else {
            return self.not_found(spec);
        };
        let tree = Tree::new(&table);
        let utab = crate::utab::read();
        self.recurse(&tree, top, &utab)
    }

    fn recurse(&self, tree: &Tree<'_>, mount: &MountEntry, utab: &[UtabEntry]) -> u8 {
        // An iterative walk, so a deep tree cannot overflow the stack:
        // each mount is visited, then its over-mount and children before
        // it is unmounted.
        let mut stack: Vec<(&MountEntry, bool)> = vec![(mount, false)];
        while let Some((entry, expanded)) = stack.pop() {
            if expanded {
                let code = self.unmount_entry(entry, utab);
                if code != EX_SUCCESS {
                    return code;
                }
                continue;
            }
            stack.push((entry, true));
            let children = tree.children(entry.id);
            let over = children.iter().find(|c| c.target == entry.target).copied();
            // Pushed so that they pop as util-linux 2.42 visits them: the
            // over-mount first, then the other children by descending
            // mount ID (2.38 went the other way).
            for child in children.iter() {
                if Some(child.id) != over.map(|o| o.id) {
                    stack.push((child, false));
                }
            }
            if let Some(over) = over {
                stack.push((over, false));
            }
        }
        EX_SUCCESS
    }

    /// `-a`: everything in the table, last mounted first, filtered by type
    /// and options.
    pub(super) fn all(&self) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let utab = crate::utab::read();
        let types = self.o.types.as_deref().unwrap_or(DEFAULT_ALL_TYPES);
        let mut code = EX_SUCCESS;
        // Each unmount is reported in -a's own words, not umount_one's.
        let silent_options = Options {
            verbose: false,
            ..self.o.clone()
        };
        let silent = Unmounter {
            sys: self.sys,
            o: &silent_options,
            privilege: self.privilege.clone(),
            helpers_installed: self.helpers_installed.clone(),
        };
        let mut out = progress();
        for entry in table.iter().rev() {
            let ignored = !match_fstype(&entry.fstype, types)
                || self
                    .o
                    .test_opts
                    .as_deref()
                    .is_some_and(|p| !match_options(&entry.options(), p));
            if ignored {
                if self.o.verbose {
                    let _ = padded(&mut out, &entry.target, "ignored");
                }
                continue;
            }
            let result = silent.unmount_entry(entry, &utab);
            if result == EX_SUCCESS && self.o.verbose {
                let _ = padded(&mut out, &entry.target, "successfully unmounted");
            }
            code |= result;
        }
        let _ = out.flush();
        code
    }

    /// `-A`: every mount of the device behind `spec`.
    pub(super) fn all_targets(&self, spec: &OsStr) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let Some(found) = self.find(spec, &table) else {
            return self.not_found(spec);
        };
        let Some(entry) = mountinfo::find_target(&table, &found.target) else {
            return EX_USAGE;
        };
        let devno = entry.devno();
        let tree = Tree::new(&table);
        let utab = crate::utab::read();
        let mut gone: Vec<u32> = Vec::new();
        for m in table.iter().rev() {
            if m.devno() != devno || gone.contains(&m.id) {
                continue;
            }
            let code = if self.o.recursive {
                let mut below = Vec::new();
                tree.collect(m.id, &mut below);
                gone.extend(below);
                self.recurse(&tree, m, &utab)
            } else {
                self.unmount_entry(m, &utab)
            };
            if code != EX_SUCCESS {
                return code;
            }
        }
        EX_SUCCESS
    }
}

/// Children of each mount, by parent id, in ascending id.
struct Tree<'a> {
    children: HashMap<u32, Vec<&'a MountEntry>>,
}

impl<'a> Tree<'a> {
    fn new(table: &'a [MountEntry]) -> Tree<'a> {
        let mut children: HashMap<u32, Vec<&'a MountEntry>> = HashMap::new();
        for entry in table {
            if entry.id != entry.parent {
                children.entry(entry.parent).or_default().push(entry);
            }
        }
        for list in children.values_mut() {
            list.sort_by_key(|e| e.id);
        }
        Tree { children }
    }

    fn children(&self, id: u32) -> &[&'a MountEntry] {
        self.children.get(&id).map_or(&[], Vec::as_slice)
    }

    fn collect(&self, id: u32, into: &mut Vec<u32>) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            into.push(id);
            stack.extend(self.children(id).iter().map(|c| c.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_orders_children_by_id() {
        let table = mountinfo::parse(
            b"1 0 0:1 / / rw - ext4 /dev/root rw\n5 1 0:5 / /b rw - tmpfs none rw\n3 1 0:3 / /a rw - tmpfs none rw\n7 3 0:7 / /a/x rw - tmpfs none rw\n",
        );
        let tree = Tree::new(&table);
        let ids: Vec<u32> = tree.children(1).iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3, 5]);
        let mut all = Vec::new();
        tree.collect(1, &mut all);
        all.sort_unstable();
        assert_eq!(all, vec![1, 3, 5, 7]);
    }
}
