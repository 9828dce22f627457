//! Finding block devices without libblkid or udev: the devices the kernel
//! lists in /proc/partitions, their superblocks ([`superblock`]) and GPT
//! partition entries ([`gpt`]); `/dev/disk/by-*` links as a fallback.

pub mod gpt;
pub mod superblock;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use superblock::Superblock;

/// A `NAME=value` device specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Label,
    Uuid,
    PartLabel,
    PartUuid,
    /// udev's hardware ID (2.39+): only its `/dev/disk/by-id` link knows.
    Id,
}

/// Parses `LABEL=x`, `UUID="x"`, `PARTLABEL=x`, `PARTUUID=x`, `ID=x` (quotes
/// around the value are dropped, as libmount drops them). The value is
/// bytes: a label need not be UTF-8.
pub fn parse_tag(spec: &OsStr) -> Option<(TagKind, &[u8])> {
    let spec = spec.as_bytes();
    let equals = spec.iter().position(|&b| b == b'=')?;
    let (name, value) = (&spec[..equals], &spec[equals + 1..]);
    let kind = match name {
        b"LABEL" => TagKind::Label,
        b"UUID" => TagKind::Uuid,
        b"PARTLABEL" => TagKind::PartLabel,
        b"PARTUUID" => TagKind::PartUuid,
        b"ID" => TagKind::Id,
        _ => return None,
    };
    let unquoted = |quote: u8| {
        value
            .strip_prefix(&[quote])
            .and_then(|v| v.strip_suffix(&[quote]))
    };
    let value = unquoted(b'"').or_else(|| unquoted(b'\'')).unwrap_or(value);
    // No value, quoted or not, is no tag but a path (libblkid's parser).
    (!value.is_empty()).then_some((kind, value))
}

/// Reads up to `len` bytes at `offset`; a short device gives what it has.
fn read_at(path: &Path, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut data = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut data).ok()?;
    Some(data)
}

/// The filesystem on a device or image, if one is recognised.
pub fn probe_device(path: &Path) -> Option<Superblock> {
    let data = read_at(path, 0, superblock::PROBE_SIZE)?;
    superblock::probe(&data)
}

/// The block devices the kernel knows, as /dev paths, in its order.
pub fn block_devices() -> Vec<String> {
    let Ok(text) = std::fs::read_to_string("/proc/partitions") else {
        return Vec::new();
    };
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let blocks: u64 = fields.nth(2)?.parse().ok()?;
            let name = fields.next()?;
            // Extended-partition stubs are one block; empty devices none.
            (blocks > 1).then(|| name.to_string())
        })
        .collect()
}

fn partition_number(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/block/{name}/partition"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The device of partition `number` of disk `disk` (`sda`, 2 → `sda2`).
fn partition_device(disk: &str, number: u32) -> Option<String> {
    let dir = std::fs::read_dir(format!("/sys/class/block/{disk}")).ok()?;
    dir.filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with(disk) && partition_number(name) == Some(number))
}

fn logical_sector_size(disk: &str) -> usize {
    std::fs::read_to_string(format!("/sys/class/block/{disk}/queue/logical_block_size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&size: &usize| size == 512 || size == 4096)
        .unwrap_or(512)
}

/// Every GPT partition of every disk, as (device path, entry).
fn gpt_partitions() -> Vec<(String, gpt::GptPartition)> {
    let mut found = Vec::new();
    for disk in block_devices() {
        if partition_number(&disk).is_some() {
            continue;
        }
        let path = PathBuf::from("/dev").join(&disk);
        let sector = logical_sector_size(&disk);
        let Some(head) = read_at(&path, 0, sector * 2) else {
            continue;
        };
        let Some(header) = gpt::header(&head, sector) else {
            continue;
        };
        let len = header.count as usize * header.entry_size as usize;
        let Some(array) = read_at(&path, header.entries_lba * sector as u64, len) else {
            continue;
        };
        for partition in gpt::entries(&array, &header) {
            if let Some(device) = partition_device(&disk, partition.number) {
                found.push((format!("/dev/{device}"), partition));
            }
        }
    }
    found
}

fn by_link(kind: TagKind, value: &[u8]) -> Option<PathBuf> {
    let dir = match kind {
        TagKind::Label => "by-label",
        TagKind::Uuid => "by-uuid",
        TagKind::PartLabel => "by-partlabel",
        TagKind::PartUuid => "by-partuuid",
        TagKind::Id => "by-id",
    };
    let mut escaped = Vec::with_capacity(value.len());
    for &b in value {
        match b {
            b'/' => escaped.extend_from_slice(b"\\x2f"),
            b' ' => escaped.extend_from_slice(b"\\x20"),
            b => escaped.push(b),
        }
    }
    let link = Path::new("/dev/disk")
        .join(dir)
        .join(OsStr::from_bytes(&escaped));
    std::fs::canonicalize(link).ok()
}

/// The device carrying a label or UUID, found by reading superblocks and
/// partition tables, else through udev's links.
pub fn find_device(kind: TagKind, value: &[u8]) -> Option<PathBuf> {
    let scanned = match kind {
        TagKind::Label | TagKind::Uuid => block_devices().into_iter().find_map(|name| {
            let path = PathBuf::from("/dev").join(&name);
            let sb = probe_device(&path)?;
            let field = if kind == TagKind::Label {
                sb.label
            } else {
                sb.uuid.map(String::into_bytes)
            };
            (field.as_deref() == Some(value)).then_some(path)
        }),
        TagKind::PartLabel | TagKind::PartUuid => {
            gpt_partitions().into_iter().find_map(|(device, part)| {
                let matches = if kind == TagKind::PartLabel {
                    part.label.as_deref().map(str::as_bytes) == Some(value)
                } else {
                    part.uuid.as_bytes().eq_ignore_ascii_case(value)
                };
                matches.then(|| PathBuf::from(device))
            })
        }
        // Nothing on the device says it: udev names it from the hardware.
        TagKind::Id => None,
    };
    scanned.or_else(|| by_link(kind, value))
}

/// The system's answers to fstab look-ups: paths resolved as libmount
/// resolves them, tags found by reading superblocks and partition
/// tables, each device read once.
#[derive(Default)]
pub struct SystemTags {
    superblocks: RefCell<HashMap<OsString, Option<Superblock>>>,
}

impl crate::fstab::Resolve for SystemTags {
    fn canonical_source(&self, path: &OsStr) -> OsString {
        crate::paths::canonical_source(path)
    }

    fn canonical_target(&self, path: &OsStr) -> OsString {
        crate::paths::canonical_target(path)
    }

    fn device_of(&self, kind: TagKind, value: &[u8]) -> Option<OsString> {
        find_device(kind, value).map(PathBuf::into_os_string)
    }

    fn device_has(&self, device: &OsStr, kind: TagKind, value: &[u8]) -> bool {
        match kind {
            TagKind::Label | TagKind::Uuid => {
                let mut cache = self.superblocks.borrow_mut();
                let superblock = cache
                    .entry(device.to_os_string())
                    .or_insert_with(|| probe_readable(Path::new(device)));
                superblock.as_ref().is_some_and(|sb| match kind {
                    TagKind::Label => sb.label.as_deref() == Some(value),
                    _ => sb.uuid.as_deref().map(str::as_bytes) == Some(value),
                })
            }
            TagKind::PartLabel | TagKind::PartUuid | TagKind::Id => find_device(kind, value)
                .is_some_and(|found| crate::paths::canonical_source(found.as_os_str()) == device),
        }
    }
}

/// The superblock of a block device or image file (nothing else is read:
/// a FIFO or a directory would block or fail).
fn probe_readable(path: &Path) -> Option<Superblock> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).ok()?;
    if !(meta.file_type().is_block_device() || meta.is_file()) {
        return None;
    }
    probe_device(path)
}

/// The filesystem label of a source device, for `mount -l`.
pub fn label_of(source: &OsStr) -> Option<Vec<u8>> {
    if !source.as_bytes().starts_with(b"/") {
        return None;
    }
    let path = Path::new(source);
    let meta = std::fs::metadata(path).ok()?;
    use std::os::unix::fs::FileTypeExt;
    if !meta.file_type().is_block_device() {
        return None;
    }
    probe_device(path)?.label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        fn tag(spec: &str) -> Option<(TagKind, &[u8])> {
            parse_tag(OsStr::new(spec))
        }
        assert_eq!(tag("LABEL=root"), Some((TagKind::Label, &b"root"[..])));
        assert_eq!(tag("UUID=\"ab-cd\""), Some((TagKind::Uuid, &b"ab-cd"[..])));
        assert_eq!(
            tag("PARTLABEL='x y'"),
            Some((TagKind::PartLabel, &b"x y"[..]))
        );
        assert_eq!(tag("PARTUUID=1"), Some((TagKind::PartUuid, &b"1"[..])));
        assert_eq!(tag("ID=1"), Some((TagKind::Id, &b"1"[..])));
        assert_eq!(tag("IDX=1"), None);
        assert_eq!(tag("LABEL="), None);
        assert_eq!(tag("UUID=\"\""), None);
        assert_eq!(tag("/dev/sda1"), None);
        assert_eq!(tag("LABEL=\""), Some((TagKind::Label, &b"\""[..])));
        let latin1 = OsStr::from_bytes(b"LABEL=\xe9t\xe9");
        assert_eq!(parse_tag(latin1), Some((TagKind::Label, &b"\xe9t\xe9"[..])));
    }
}
