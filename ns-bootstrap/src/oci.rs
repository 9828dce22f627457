//! OCI images (image-spec 1.1): the built tree as the one layer of an
//! image, written as an image layout directory (`TARGET.oci`) or as that
//! layout in one tar (`TARGET.oci.tar`, skopeo's `oci-archive:`).
//!
//! The layer is the same sorted, clamped tarball `--format=tar` writes,
//! hashed (its `diff_id`) and compressed (gzip by default, zstd, or none)
//! while it is written, and hashed again compressed (its digest): one
//! pass over the tree. The config, manifest and index are small JSON
//! documents written with their keys in a fixed order, so that the same
//! tree and the same time give the same manifest digest: two reproducible
//! builds, as root or as a normal user, make the same image.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::compression::Compression;
use crate::rooted;
use crate::tarball::{self, Tree};

/// Why the image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Tarball(#[from] tarball::Error),
    #[error("{0}: exists and is not empty (an image layout is written into a new directory)")]
    NotEmpty(PathBuf),
    #[error("an OCI layer is not compressed with xz: use --compress=gzip, zstd or none")]
    Xz,
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { what, path, source }
}

/// What describes the image besides its layer.
pub struct Image<'a> {
    /// Debian's name for the architecture (`amd64`, `arm64`, `armhf`, …).
    pub arch: &'a str,
    /// The ref name in the index (`org.opencontainers.image.ref.name`).
    pub ref_name: &'a str,
    /// Seconds since the epoch: the image's `created`.
    pub created: u64,
    pub compression: Compression,
    /// What made it, for the config's history (`ns-bootstrap … bookworm`).
    pub created_by: String,
    /// The manifest's annotations, besides `created` and the ref name.
    pub annotations: Vec<(String, String)>,
}

/// OCI's platform for a Debian architecture: (architecture, variant).
pub fn platform(arch: &str) -> (&str, Option<&'static str>) {
    match arch {
        "arm64" => ("arm64", Some("v8")),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "mips64el" => ("mips64le", None),
        "mipsel" => ("mipsle", None),
        other => (other, None),
    }
}

/// A JSON string literal.
fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object of string values, in the order given.
fn object(pairs: &[(String, String)]) -> String {
    let fields: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// A content descriptor (media type, digest, size) with more fields.
fn descriptor(media_type: &str, digest: &str, size: u64, more: &str) -> String {
    format!(
        "{{\"mediaType\":{},\"digest\":{},\"size\":{size}{more}}}",
        json(media_type),
        json(digest)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Passes writes on while hashing them and counting their bytes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn digest(self) -> (W, String, u64) {
        (
            self.inner,
            format!("sha256:{}", hex(&self.hasher.finalize())),
            self.size,
        )
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An image layout being written into a fresh directory.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn create(dir: &Path) -> Result<Layout, Error> {
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::NotEmpty(dir.to_path_buf()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", dir)(e)),
        }
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(io_error("create", &blobs))?;
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// A small document as a blob: (digest, size).
    fn blob(&self, data: &[u8]) -> Result<(String, u64), Error> {
        let digest = format!("sha256:{}", hex(&Sha256::digest(data)));
        let path = self.blob_path(&digest);
        std::fs::write(&path, data).map_err(io_error("write", &path))?;
        Ok((digest, data.len() as u64))
    }

    /// The tree as the layer blob: (compressed digest, size, diff_id).
    fn layer(&self, tree: &Tree, compression: Compression) -> Result<(String, u64, String), Error> {
        let blobs = self.dir.join("blobs/sha256");
        let (partial, file) = rooted::make_private_file(&blobs, ".layer-", "")
            .map_err(io_error("create a file in", &blobs))?;
        let written = (|| {
            let compressed = Hashing::new(BufWriter::with_capacity(1 << 20, file));
            let mut diff_id = String::new();
            let compressed = tarball::compress(
                compression,
                compressed,
                &partial.display().to_string(),
                |out| {
                    let uncompressed = tree.write_to(Hashing::new(out))?;
                    diff_id = uncompressed.digest().1;
                    Ok(())
                },
            )?;
            let (file, digest, size) = compressed.digest();
            let file = file
                .into_inner()
                .map_err(|e| io_error("write", &partial)(e.into_error()))?;
            file.sync_all().map_err(io_error("write", &partial))?;
            Ok((digest, size, diff_id))
        })();
        match written {
            Ok((digest, size, diff_id)) => {
                let path = self.blob_path(&digest);
                std::fs::rename(&partial, &path).map_err(io_error("rename into", &path))?;
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o644),
                )
                .map_err(io_error("change the mode of", &path))?;
                Ok((digest, size, diff_id))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }
}

/// The layer's media type for its compression.
fn layer_media_type(compression: Compression) -> Result<&'static str, Error> {
    match compression {
        Compression::None => Ok("application/vnd.oci.image.layer.v1.tar"),
        Compression::Gzip => Ok("application/vnd.oci.image.layer.v1.tar+gzip"),
        Compression::Zstd => Ok("application/vnd.oci.image.layer.v1.tar+zstd"),
        Compression::Xz => Err(Error::Xz),
    }
}

/// Writes the image as a layout in `dir` (new or empty); returns the
/// manifest's digest.
pub fn write_layout(tree: &Tree, dir: &Path, image: &Image) -> Result<String, Error> {
    let layer_type = layer_media_type(image.compression)?;
    let layout = Layout::create(dir)?;
    let (layer_digest, layer_size, diff_id) = layout.layer(tree, image.compression)?;
    let created = crate::release::rfc3339(image.created);
    let (architecture, variant) = platform(image.arch);
    let variant_field = variant.map_or(String::new(), |v| format!(",\"variant\":{}", json(v)));
    let config = format!(
        "{{\"created\":{created},\"architecture\":{arch}{variant_field},\"os\":\"linux\",\
         \"config\":{{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\
         \"Cmd\":[\"bash\"]}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{diff_id}]}},\
         \"history\":[{{\"created\":{created},\"created_by\":{created_by}}}]}}",
        created = json(&created),
        arch = json(architecture),
        diff_id = json(&diff_id),
        created_by = json(&image.created_by),
    );
    let (config_digest, config_size) = layout.blob(config.as_bytes())?;
    let mut annotations = vec![
        (
            "org.opencontainers.image.created".to_string(),
            created.clone(),
        ),
        (
            "org.opencontainers.image.ref.name".to_string(),
            image.ref_name.to_string(),
        ),
    ];
    annotations.extend(image.annotations.iter().cloned());
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
         \"config\":{config},\"layers\":[{layer}],\"annotations\":{annotations}}}",
        config = descriptor(
            "application/vnd.oci.image.config.v1+json",
            &config_digest,
            config_size,
            ""
        ),
        layer = descriptor(layer_type, &layer_digest, layer_size, ""),
        annotations = object(&annotations),
    );
    let (manifest_digest, manifest_size) = layout.blob(manifest.as_bytes())?;
    let platform = format!(
        ",\"annotations\":{},\"platform\":{{\"architecture\":{}{variant_field},\"os\":\"linux\"}}",
        object(&[(
            "org.opencontainers.image.ref.name".to_string(),
            image.ref_name.to_string()
        )]),
        json(architecture)
    );
    let index = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
         \"manifests\":[{}]}}",
        descriptor(
            "application/vnd.oci.image.manifest.v1+json",
            &manifest_digest,
            manifest_size,
            &platform
        )
    );
    for (name, data) in [
        ("index.json", index.as_bytes()),
        (
            "oci-layout",
            b"{\"imageLayoutVersion\":\"1.0.0\"}".as_slice(),
        ),
    ] {
        let path = layout.dir.join(name);
        std::fs::write(&path, data).map_err(io_error("write", &path))?;
    }
    Ok(manifest_digest)
}

/// The layout at `dir` as one tar into `out`: `oci-layout`, `index.json`,
/// then the blobs, owned by root, dated `created`.
pub fn archive_layout(dir: &Path, out: impl Write, name: &str, created: u64) -> Result<(), Error> {
    let mut builder = tar::Builder::new(out);
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            what: "archive",
            path,
            source,
        }
    };
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(created);
        header.set_size(size);
        header
    };
    let mut blobs: Vec<PathBuf> = std::fs::read_dir(dir.join("blobs/sha256"))
        .map_err(io_error("read", dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error("read", dir))?;
    blobs.sort();
    for file in ["oci-layout", "index.json"] {
        let path = dir.join(file);
        let data = std::fs::read(&path).map_err(io_error("read", &path))?;
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        builder
            .append_data(&mut h, file, &data[..])
            .map_err(fail(&path))?;
    }
    for name in ["blobs/", "blobs/sha256/"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        builder
            .append_data(&mut h, name, io::empty())
            .map_err(fail(dir))?;
    }
    for path in blobs {
        let file = File::open(&path).map_err(io_error("read", &path))?;
        let size = file.metadata().map_err(io_error("read", &path))?.len();
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        let name_in_tar = format!(
            "blobs/sha256/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        builder
            // Exactly the size in the header, even should the file change.
            .append_data(&mut h, name_in_tar, file.take(size))
            .map_err(fail(&path))?;
    }
    let mut out = builder.into_inner().map_err(fail(dir))?;
    out.flush().map_err(|source| Error::Io {
        what: "write",
        path: PathBuf::from(name),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_and_platforms() {
        assert_eq!(json("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(platform("armhf"), ("arm", Some("v7")));
        assert_eq!(platform("amd64"), ("amd64", None));
        assert_eq!(platform("i386"), ("386", None));
        assert!(layer_media_type(Compression::Xz).is_err());
    }

    #[test]
    fn the_same_tree_and_time_make_the_same_image() {
        let scratch = rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-oci-").unwrap();
        let root = scratch.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/debian_version"), "12.0\n").unwrap();
        let owners = Default::default();
        let tree = Tree::collect(&root, &[], Some(1000), &owners).unwrap();
        let image = Image {
            arch: "amd64",
            ref_name: "bookworm",
            created: 1000,
            compression: Compression::Gzip,
            created_by: "ns-bootstrap bookworm".to_string(),
            annotations: vec![(
                "org.example.note".to_string(),
                "a \"quoted\" value".to_string(),
            )],
        };
        let first = write_layout(&tree, &scratch.join("a.oci"), &image).unwrap();
        let second = write_layout(&tree, &scratch.join("b.oci"), &image).unwrap();
        assert_eq!(first, second);
        let index = std::fs::read_to_string(scratch.join("a.oci/index.json")).unwrap();
        assert!(index.contains(&first), "{index}");
        assert!(index.contains("\"org.opencontainers.image.ref.name\":\"bookworm\""));
        // A layout is written into a new directory only.
        assert!(matches!(
            write_layout(&tree, &scratch.join("a.oci"), &image),
            Err(Error::NotEmpty(_))
        ));
        let mut archived = Vec::new();
        archive_layout(&scratch.join("a.oci"), &mut archived, "memory", 1000).unwrap();
        let mut names = Vec::new();
        for entry in tar::Archive::new(&archived[..]).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(
            &names[..4],
            ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]
        );
        assert_eq!(names.len(), 7, "{names:?}");
        std::fs::remove_dir_all(scratch).unwrap();
    }
}
