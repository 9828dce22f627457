//! Filesystem superblocks: type, label and UUID, from the first bytes of
//! a device. Pure functions over a byte slice; a slice too short for a
//! superblock simply does not match.

/// What a superblock says about its filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    pub fstype: &'static str,
    /// The label's bytes (filesystems do not promise UTF-8).
    pub label: Option<Vec<u8>>,
    pub uuid: Option<String>,
}

/// How many bytes from the start of a device the probes need (btrfs keeps
/// its superblock at 64 KiB).
pub const PROBE_SIZE: usize = 0x10000 + 0x1000;

fn le16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn le32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// A label field: up to the first NUL, trailing blanks trimmed; empty is
/// no label.
fn label(bytes: &[u8]) -> Option<Vec<u8>> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = &bytes[..end];
    let end = text.iter().rposition(|&b| b != b' ').map_or(0, |at| at + 1);
    (end > 0).then(|| text[..end].to_vec())
}

/// The usual text form of a 16-byte UUID; all zeroes is no UUID.
pub fn uuid_string(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 || bytes.iter().all(|&b| b == 0) {
        return None;
    }
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex[0..4].concat(),
        hex[4..6].concat(),
        hex[6..8].concat(),
        hex[8..10].concat(),
        hex[10..16].concat()
    ))
}

/// ext2, ext3 and ext4: the superblock at 1 KiB, magic 0xEF53. The type is
/// told apart by features as libblkid does: a journal makes ext3, any
/// feature ext3 lacks makes ext4.
pub fn ext(data: &[u8]) -> Option<Superblock> {
    const SB: usize = 1024;
    if le16(data, SB + 0x38)? != 0xEF53 {
        return None;
    }
    let compat = le32(data, SB + 0x5C)?;
    let incompat = le32(data, SB + 0x60)?;
    let ro_compat = le32(data, SB + 0x64)?;
    const HAS_JOURNAL: u32 = 0x4;
    const JOURNAL_DEV: u32 = 0x8;
    // What ext3 understands; anything else needs ext4.
    const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10;
    const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;
    if incompat & JOURNAL_DEV != 0 {
        return None;
    }
    let fstype = if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        "ext4"
    } else if compat & HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    Some(Superblock {
        fstype,
        label: label(data.get(SB + 0x78..SB + 0x88)?),
        uuid: uuid_string(data.get(SB + 0x68..SB + 0x78)?),
    })
}

/// XFS: "XFSB" at 0, UUID at 32, a 12-byte label at 108.
pub fn xfs(data: &[u8]) -> Option<Superblock> {
    if data.get(0..4)? != b"XFSB" {
        return None;
    }
    Some(Superblock {
        fstype: "xfs",
        label: label(data.get(108..120)?),
        uuid: uuid_string(data.get(32..48)?),
    })
}

/// btrfs: the superblock at 64 KiB, magic "_BHRfS_M" at +64, fsid at +32,
/// a 256-byte label at +0x12b.
pub fn btrfs(data: &[u8]) -> Option<Superblock> {
    const SB: usize = 0x10000;
    if data.get(SB + 64..SB + 72)? != b"_BHRfS_M" {
        return None;
    }
    Some(Superblock {
        fstype: "btrfs",
        label: label(data.get(SB + 0x12b..SB + 0x12b + 256)?),
        uuid: uuid_string(data.get(SB + 32..SB + 48)?),
    })
}

/// FAT12/16/32 ("vfat"): a boot sector with 0x55AA, a file-system type
/// string, and the volume serial shown as `XXXX-XXXX`.
pub fn vfat(data: &[u8]) -> Option<Superblock> {
    if data.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    let bytes_per_sector = le16(data, 11)?;
    if !bytes_per_sector.is_power_of_two() || !(512..=4096).contains(&bytes_per_sector) {
        return None;
    }
    let (serial_at, label_at) = if data.get(82..87)? == b"FAT32" {
        (67, 71)
    } else if data.get(54..59)? == b"FAT12" || data.get(54..59)? == b"FAT16" {
        (39, 43)
    } else {
        return None;
    };
    let serial = le32(data, serial_at)?;
    let name = label(data.get(label_at..label_at + 11)?).filter(|l| l != b"NO NAME");
    Some(Superblock {
        fstype: "vfat",
        label: name,
        uuid: Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF)),
    })
}

/// ISO 9660: the primary volume descriptor at 32 KiB; the label is the
/// volume identifier, the "UUID" the creation time as libblkid forms it.
pub fn iso9660(data: &[u8]) -> Option<Superblock> {
    const PVD: usize = 0x8000;
    if data.get(PVD)? != &1 || data.get(PVD + 1..PVD + 6)? != b"CD001" {
        return None;
    }
    let date = data.get(PVD + 813..PVD + 829)?;
    let uuid = if date.iter().all(u8::is_ascii_digit) && date.iter().any(|&d| d != b'0') {
        let d = String::from_utf8_lossy(date);
        Some(format!(
            "{}-{}-{}-{}-{}-{}-{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &d[8..10],
            &d[10..12],
            &d[12..14],
            &d[14..16]
        ))
    } else {
        None
    };
    Some(Superblock {
        fstype: "iso9660",
        label: label(data.get(PVD + 40..PVD + 72)?),
        uuid,
    })
}

/// squashfs: "hsqs" at 0 (little-endian superblock); no label or UUID.
pub fn squashfs(data: &[u8]) -> Option<Superblock> {
    if data.get(0..4)? != b"hsqs" {
        return None;
    }
    Some(Superblock {
        fstype: "squashfs",
        label: None,
        uuid: None,
    })
}

/// cramfs: magic 0x28cd3d45 (either byte order) at 0, or at 512 behind
/// a boot block; the 16-byte volume name at +48 is its label, as libblkid
/// reads it. Probed so that a kernel without cramfs says "unknown
/// filesystem type 'cramfs'", which util-linux's suite takes as a skip.
pub fn cramfs(data: &[u8]) -> Option<Superblock> {
    const MAGIC: u32 = 0x28cd_3d45;
    let at = [0, 512].into_iter().find(|&at| {
        le32(data, at).is_some_and(|m| m == MAGIC || m.swap_bytes() == MAGIC)
            && data.get(at + 16..at + 32) == Some(b"Compressed ROMFS")
    })?;
    Some(Superblock {
        fstype: "cramfs",
        label: label(data.get(at + 48..at + 64)?),
        uuid: None,
    })
}

/// Tries every known filesystem. The order matters only for images that
/// carry two signatures; specific magics go before FAT's weak one.
pub fn probe(data: &[u8]) -> Option<Superblock> {
    ext(data)
        .or_else(|| xfs(data))
        .or_else(|| btrfs(data))
        .or_else(|| squashfs(data))
        .or_else(|| cramfs(data))
        .or_else(|| iso9660(data))
        .or_else(|| vfat(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: [u8; 16] = [
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ];
    const UUID_TEXT: &str = "12345678-9abc-def0-0123-456789abcdef";

    fn image() -> Vec<u8> {
        vec![0; PROBE_SIZE]
    }

    fn ext_image(compat: u32, incompat: u32, ro_compat: u32) -> Vec<u8> {
        let mut data = image();
        data[1024 + 0x38..1024 + 0x3a].copy_from_slice(&0xEF53u16.to_le_bytes());
        data[1024 + 0x5c..1024 + 0x60].copy_from_slice(&compat.to_le_bytes());
        data[1024 + 0x60..1024 + 0x64].copy_from_slice(&incompat.to_le_bytes());
        data[1024 + 0x64..1024 + 0x68].copy_from_slice(&ro_compat.to_le_bytes());
        data[1024 + 0x68..1024 + 0x78].copy_from_slice(&UUID);
        data[1024 + 0x78..1024 + 0x7d].copy_from_slice(b"rootf");
        data
    }

    #[test]
    fn ext_versions_by_features() {
        let ext2 = ext(&ext_image(0, 0x2, 0x1)).unwrap();
        assert_eq!(ext2.fstype, "ext2");
        assert_eq!(ext2.label.as_deref(), Some(&b"rootf"[..]));
        assert_eq!(ext2.uuid.as_deref(), Some(UUID_TEXT));
        assert_eq!(ext(&ext_image(0x4, 0x2, 0x1)).unwrap().fstype, "ext3");
        assert_eq!(
            ext(&ext_image(0x4, 0x2 | 0x40, 0x1)).unwrap().fstype,
            "ext4"
        );
        assert_eq!(ext(&ext_image(0x4, 0x2, 0x8)).unwrap().fstype, "ext4");
        // An external journal device is not a mountable filesystem.
        assert!(ext(&ext_image(0, 0x8, 0)).is_none());
    }

    #[test]
    fn xfs_btrfs_squashfs() {
        let mut data = image();
        data[0..4].copy_from_slice(b"XFSB");
        data[32..48].copy_from_slice(&UUID);
        data[108..112].copy_from_slice(b"data");
        let sb = probe(&data).unwrap();
        assert_eq!(
            (sb.fstype, sb.label.as_deref(), sb.uuid.as_deref()),
            ("xfs", Some(&b"data"[..]), Some(UUID_TEXT))
        );

        let mut data = image();
        data[0x10000 + 64..0x10000 + 72].copy_from_slice(b"_BHRfS_M");
        data[0x10000 + 32..0x10000 + 48].copy_from_slice(&UUID);
        data[0x10000 + 0x12b..0x10000 + 0x12b + 4].copy_from_slice(b"pool");
        let sb = probe(&data).unwrap();
        assert_eq!(
            (sb.fstype, sb.label.as_deref()),
            ("btrfs", Some(&b"pool"[..]))
        );

        let mut data = image();
        data[0..4].copy_from_slice(b"hsqs");
        assert_eq!(probe(&data).unwrap().fstype, "squashfs");
    }

    #[test]
    fn cramfs_in_either_byte_order_and_behind_a_boot_block() {
        for (at, magic) in [(0, 0x28cd_3d45u32), (512, 0x453d_cd28)] {
            let mut data = image();
            data[at..at + 4].copy_from_slice(&magic.to_le_bytes());
            data[at + 16..at + 32].copy_from_slice(b"Compressed ROMFS");
            data[at + 48..at + 53].copy_from_slice(b"crlbl");
            let sb = probe(&data).unwrap();
            assert_eq!(sb.fstype, "cramfs");
            assert_eq!(sb.label.as_deref(), Some(&b"crlbl"[..]));
        }
        // The magic without the signature is not cramfs.
        let mut data = image();
        data[0..4].copy_from_slice(&0x28cd_3d45u32.to_le_bytes());
        assert!(probe(&data).is_none());
    }

    #[test]
    fn vfat_labels_and_serials() {
        let mut data = image();
        data[11..13].copy_from_slice(&512u16.to_le_bytes());
        data[510] = 0x55;
        data[511] = 0xAA;
        data[82..90].copy_from_slice(b"FAT32   ");
        data[67..71].copy_from_slice(&0x1234ABCDu32.to_le_bytes());
        data[71..82].copy_from_slice(b"BOOT       ");
        let sb = probe(&data).unwrap();
        assert_eq!(sb.fstype, "vfat");
        assert_eq!(sb.label.as_deref(), Some(&b"BOOT"[..]));
        assert_eq!(sb.uuid.as_deref(), Some("1234-ABCD"));

        let mut data = image();
        data[11..13].copy_from_slice(&512u16.to_le_bytes());
        data[510] = 0x55;
        data[511] = 0xAA;
        data[54..62].copy_from_slice(b"FAT16   ");
        data[43..54].copy_from_slice(b"NO NAME    ");
        let sb = probe(&data).unwrap();
        assert_eq!(sb.label, None);
        // An MBR (0x55AA, no FAT type, no sector size) is not FAT.
        let mut mbr = image();
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert!(probe(&mbr).is_none());
    }

    #[test]
    fn iso9660_volume_id_and_date() {
        let mut data = image();
        data[0x8000] = 1;
        data[0x8001..0x8006].copy_from_slice(b"CD001");
        data[0x8000 + 40..0x8000 + 72].copy_from_slice(b"DEBIAN_12                       ");
        data[0x8000 + 813..0x8000 + 829].copy_from_slice(b"2023061010203040");
        let sb = probe(&data).unwrap();
        assert_eq!(sb.fstype, "iso9660");
        assert_eq!(sb.label.as_deref(), Some(&b"DEBIAN_12"[..]));
        assert_eq!(sb.uuid.as_deref(), Some("2023-06-10-10-20-30-40"));
    }

    #[test]
    fn short_and_empty_input_match_nothing() {
        assert!(probe(&[]).is_none());
        assert!(probe(&[0u8; 100]).is_none());
        assert!(probe(&image()).is_none());
        let mut truncated = ext_image(0, 0, 0);
        truncated.truncate(1024 + 0x40);
        assert!(probe(&truncated).is_none());
    }
}
