//! GUID partition tables: each partition's PARTUUID and PARTLABEL.

use super::superblock::uuid_string;

/// One used partition entry; `number` is 1-based as the kernel numbers
/// partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    pub number: u32,
    pub uuid: String,
    pub label: Option<String>,
}

fn le32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn le64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// A GUID as stored on disk (first three fields little-endian), in text.
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    let swapped = [
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    ];
    uuid_string(&swapped)
}

/// The header at LBA 1 of a disk: where the entries are, how many, how big.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    pub entries_lba: u64,
    pub count: u32,
    pub entry_size: u32,
}

/// Parses the header from the disk's first bytes (`sector` is the logical
/// sector size, 512 or 4096).
pub fn header(data: &[u8], sector: usize) -> Option<GptHeader> {
    let h = data.get(sector..sector + 92)?;
    if &h[0..8] != b"EFI PART" {
        return None;
    }
    let header = GptHeader {
        entries_lba: le64(h, 72)?,
        count: le32(h, 80)?,
        entry_size: le32(h, 84)?,
    };
    // Sanity limits, so a corrupt header cannot make us read gigabytes.
    if header.entry_size < 128 || header.entry_size > 4096 || header.count > 4096 {
        return None;
    }
    Some(header)
}

/// Parses the entry array; unused entries (zero type GUID) are skipped.
pub fn entries(array: &[u8], header: &GptHeader) -> Vec<GptPartition> {
    let size = header.entry_size as usize;
    let mut partitions = Vec::new();
    for index in 0..header.count as usize {
        let Some(entry) = array.get(index * size..index * size + size) else {
            break;
        };
        if entry[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let Some(uuid) = guid_string(&entry[16..32]) else {
            continue;
        };
        let name: Vec<u16> = entry[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        let label = String::from_utf16_lossy(&name);
        partitions.push(GptPartition {
            number: index as u32 + 1,
            uuid,
            label: (!label.is_empty()).then_some(label),
        });
    }
    partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> Vec<u8> {
        let mut data = vec![0u8; 512 * 4];
        data[512..520].copy_from_slice(b"EFI PART");
        data[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        data[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
        data[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        // Entry 2 (index 1) used, entry 1 empty.
        let e = 1024 + 128;
        data[e] = 0xAF; // some type GUID
        let guid = [
            0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34,
            0x56, 0x78,
        ];
        data[e + 16..e + 32].copy_from_slice(&guid);
        for (i, c) in "EFI sys".encode_utf16().enumerate() {
            data[e + 56 + 2 * i..e + 58 + 2 * i].copy_from_slice(&c.to_le_bytes());
        }
        data
    }

    #[test]
    fn header_and_entries() {
        let data = disk();
        let h = header(&data, 512).unwrap();
        assert_eq!(h.entries_lba, 2);
        let parts = entries(&data[1024..], &h);
        assert_eq!(
            parts,
            vec![GptPartition {
                number: 2,
                uuid: "12345678-1234-5678-9abc-def012345678".into(),
                label: Some("EFI sys".into()),
            }]
        );
    }

    #[test]
    fn bad_headers_are_rejected() {
        let mut data = disk();
        data[512 + 84..512 + 88].copy_from_slice(&8u32.to_le_bytes());
        assert!(header(&data, 512).is_none());
        assert!(header(&[0u8; 100], 512).is_none());
        let h = header(&disk(), 512).unwrap();
        // A truncated entry array yields what is there.
        assert!(entries(&[0u8; 10], &h).is_empty());
    }
}
