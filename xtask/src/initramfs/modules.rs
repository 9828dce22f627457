//! Kernel modules for the boot: Debian's kernel builds the virtio disk
//! driver and ext4 as modules, so the initramfs carries them and /init
//! loads them (busybox insmod) before it mounts the root, as
//! initramfs-tools would. Without kmod on the machine, what a module needs
//! is read from its own `.modinfo` ELF section (`depends=a,b`), and the
//! modules are put in an order where each comes after what it needs.

use std::collections::BTreeMap;

/// Module names as the kernel spells them: `-` and `_` are the same.
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// The `key=value` strings of a module's `.modinfo` section, in order;
/// `None` when the file is not a 64-bit little-endian ELF with one.
pub fn modinfo(elf: &[u8]) -> Option<Vec<(String, String)>> {
    let section = section(elf, b".modinfo")?;
    Some(
        section
            .split(|b| *b == 0)
            .filter_map(|entry| {
                let text = std::str::from_utf8(entry).ok()?;
                let (key, value) = text.split_once('=')?;
                Some((key.to_string(), value.to_string()))
            })
            .collect(),
    )
}

/// The modules a module needs loaded first (`depends=`).
pub fn depends(elf: &[u8]) -> Option<Vec<String>> {
    let info = modinfo(elf)?;
    Some(
        info.iter()
            .filter(|(key, _)| key == "depends")
            .flat_map(|(_, value)| value.split(','))
            .filter(|name| !name.is_empty())
            .map(canonical)
            .collect(),
    )
}

/// The bytes of the section named `name` in an ELF64 LSB file.
fn section<'a>(elf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| -> Option<usize> {
        Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?) as usize)
    };
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let u64_at = |at: usize| -> Option<usize> {
        usize::try_from(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?)).ok()
    };
    let table = u64_at(0x28)?;
    let entry_size = u16_at(0x3a)?;
    let count = u16_at(0x3c)?;
    let names_index = u16_at(0x3e)?;
    if entry_size < 0x28 {
        return None;
    }
    // (name offset, file offset, size) of section `index`.
    let header = |index: usize| -> Option<(usize, usize, usize)> {
        let at = table.checked_add(index.checked_mul(entry_size)?)?;
        Some((u32_at(at)?, u64_at(at + 0x18)?, u64_at(at + 0x20)?))
    };
    let bytes = |offset: usize, size: usize| elf.get(offset..offset.checked_add(size)?);
    let (_, names_offset, names_size) = header(names_index)?;
    let names = bytes(names_offset, names_size)?;
    (0..count).find_map(|index| {
        let (name_at, offset, size) = header(index)?;
        let rest = names.get(name_at..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        (&rest[..end] == name)
            .then(|| bytes(offset, size))
            .flatten()
    })
}

/// `wanted` and everything they need, each after what it needs; `needs`
/// gives a module's dependencies. An unknown module or a cycle is an
/// error naming it.
pub fn load_order(
    wanted: &[&str],
    needs: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    fn visit(
        name: &str,
        needs: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), String> {
        if order.iter().any(|done| done == name) {
            return Ok(());
        }
        if path.iter().any(|open| open == name) {
            return Err(format!(
                "modules depend on each other: {}",
                path.join(" -> ")
            ));
        }
        let deps = needs
            .get(name)
            .ok_or_else(|| format!("the kernel package has no module {name}"))?;
        path.push(name.to_string());
        for dep in deps {
            visit(dep, needs, path, order)?;
        }
        path.pop();
        order.push(name.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    for name in wanted {
        visit(&canonical(name), needs, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with a `.shstrtab` and a `.modinfo` holding `info`.
    fn elf_with_modinfo(info: &[u8]) -> Vec<u8> {
        let names = b"\0.shstrtab\0.modinfo\0";
        let mut elf = vec![0u8; 0x40];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let names_at = elf.len();
        elf.extend_from_slice(names);
        let info_at = elf.len();
        elf.extend_from_slice(info);
        while !elf.len().is_multiple_of(8) {
            elf.push(0);
        }
        let table = elf.len();
        // Section 0 (null), 1 (.shstrtab), 2 (.modinfo).
        for (name, offset, size) in [
            (0u32, 0usize, 0usize),
            (1, names_at, names.len()),
            (11, info_at, info.len()),
        ] {
            let mut header = vec![0u8; 0x40];
            header[..4].copy_from_slice(&name.to_le_bytes());
            header[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            header[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            elf.extend_from_slice(&header);
        }
        elf[0x28..0x30].copy_from_slice(&(table as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&0x40u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        elf
    }

    #[test]
    fn depends_come_from_the_modinfo_section() {
        let elf = elf_with_modinfo(
            b"license=GPL\0softdep=pre: crypto-crc32c\0depends=jbd2,mbcache,crc16\0name=ext4\0",
        );
        assert_eq!(depends(&elf).unwrap(), ["jbd2", "mbcache", "crc16"]);
        let info = modinfo(&elf).unwrap();
        assert_eq!(info[1], ("softdep".into(), "pre: crypto-crc32c".into()));
        let none = elf_with_modinfo(b"depends=\0name=crc16\0");
        assert!(depends(&none).unwrap().is_empty());
    }

    #[test]
    fn not_an_elf_or_cut_short_is_none() {
        assert_eq!(modinfo(b"not an elf at all"), None);
        let elf = elf_with_modinfo(b"depends=a\0");
        assert_eq!(modinfo(&elf[..0x50]), None);
        let mut bad_table = elf.clone();
        bad_table[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(modinfo(&bad_table), None);
    }

    #[test]
    fn dependencies_load_first_once() {
        let needs: BTreeMap<String, Vec<String>> = [
            ("virtio_blk", vec!["virtio", "virtio_ring"]),
            ("virtio_pci", vec!["virtio_ring", "virtio"]),
            ("virtio", vec!["virtio_ring"]),
            ("virtio_ring", vec![]),
            ("crc32c_generic", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        assert_eq!(
            load_order(&["virtio_pci", "virtio-blk", "crc32c_generic"], &needs).unwrap(),
            [
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk",
                "crc32c_generic"
            ]
        );
        assert!(load_order(&["ext4"], &needs)
            .unwrap_err()
            .contains("no module ext4"));
        let mut cyclic = needs.clone();
        cyclic.insert("virtio_ring".into(), vec!["virtio_blk".into()]);
        assert!(load_order(&["virtio_blk"], &cyclic)
            .unwrap_err()
            .contains("depend on each other"));
    }
}
