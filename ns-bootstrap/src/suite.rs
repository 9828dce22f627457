//! What depends on the suite and the architecture: dpkg's name for this
//! machine, whether it runs another architecture's binaries, and
//! debootstrap's merged-/usr rules.

/// dpkg's name for the architecture this binary runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64el",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Suites whose packages expect a merged /usr (bookworm and later);
/// debootstrap then adds `usr-is-merged`.
pub fn merged_usr_by_default(codename: &str) -> bool {
    !matches!(
        codename,
        "buster" | "bullseye" | "stretch" | "jessie" | "wheezy" | "squeeze"
    )
}

/// The `/lib*` directories that become symlinks into /usr, per
/// architecture (debootstrap's list).
pub fn merged_usr_dirs(arch: &str) -> Vec<&'static str> {
    let mut dirs = vec!["bin", "sbin", "lib"];
    match arch {
        "amd64" | "ppc64el" | "s390x" | "mips64el" | "riscv64" | "loong64" | "ppc64" => {
            dirs.push("lib64")
        }
        "mipsel" | "mips" => dirs.push("lib32"),
        _ => {}
    }
    dirs
}

/// qemu's name for a Debian architecture (the binfmt_misc entry is
/// `qemu-NAME`).
pub fn qemu_name(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armhf" | "armel" => "arm",
        "i386" => "i386",
        "ppc64el" => "ppc64le",
        "mips64el" => "mips64el",
        "mipsel" => "mipsel",
        "loong64" => "loongarch64",
        other => other,
    }
}

/// Whether this machine runs ARCH's binaries: its own, or through an
/// enabled binfmt_misc entry.
pub fn can_run(arch: &str) -> bool {
    if arch == host_arch() || (host_arch() == "amd64" && arch == "i386") {
        return true;
    }
    let entry = format!("/proc/sys/fs/binfmt_misc/qemu-{}", qemu_name(arch));
    std::fs::read_to_string(entry).is_ok_and(|text| text.starts_with("enabled"))
}
