//! Unpacking, the stage after the downloads: every package's data written
//! once into TARGET, in package order (so overlapping paths end up as
//! dpkg would leave them), while the next packages are decompressed on
//! other cores.
//!
//! Memory stays bounded whatever the packages hold: a decoder thread
//! hands a package's data to the writer in pieces through a small bounded
//! channel (at most `PIECES` × `PIECE` bytes in flight per package, and
//! one package per decoder), never as a whole member.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;

use crate::deb::{self, ControlFiles};
use crate::download::Verified;
use crate::dpkgdb::Unpacked;
use crate::extract::{Extractor, UnmappedOwners};
use crate::packages::{self, Package};
use crate::progress::Reporter;
use crate::rooted::Root;

/// The size of one piece of decompressed data.
const PIECE: usize = 256 * 1024;
/// Pieces a decoder may be ahead of the writer, per package.
const PIECES: usize = 16;

type Piece = io::Result<Vec<u8>>;
/// A package as a decoder hands it over: its control files and its data.
type Opened = Result<(ControlFiles, Receiver<Piece>), deb::Error>;

/// Why unpacking stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("package {package}: decode: {source}")]
    Decode { package: String, source: deb::Error },
    #[error("package {package}: extract: {source}")]
    Extract {
        package: String,
        source: crate::extract::Error,
    },
    #[error("a decoder stopped early")]
    DecoderGone,
}

/// What unpacking made.
pub struct Unpacking {
    pub unpacked: Vec<Unpacked>,
    /// Owners a single-id user namespace could not set (for a tarball).
    pub unmapped_owners: UnmappedOwners,
}

/// Unpacks the packages, in order, from their verified files into `root`.
pub fn unpack_all(
    root: &Root,
    verified: Vec<Verified>,
    keep_unmapped_owners: bool,
    reporter: &Reporter,
) -> Result<Unpacking, Error> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let (packages, files): (Vec<&Package>, Vec<Mutex<Option<File>>>) = verified
        .into_iter()
        .map(|v| (v.package, Mutex::new(Some(v.file))))
        .unzip();
    let (send, receive) = mpsc::channel::<(usize, Opened)>();
    let extractor = Extractor {
        root,
        keep_unmapped_owners,
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let send = send.clone();
            let (next, files) = (&next, &files);
            scope.spawn(move || decode(next, files, &send));
        }
        drop(send);
        let mut pending: HashMap<usize, Opened> = HashMap::new();
        let mut out = Unpacking {
            unpacked: Vec::with_capacity(packages.len()),
            unmapped_owners: UnmappedOwners::new(),
        };
        let mut receive = receive.into_iter();
        for (index, package) in packages.iter().enumerate() {
            let opened = loop {
                if let Some(opened) = pending.remove(&index) {
                    break opened;
                }
                match receive.next() {
                    Some((i, opened)) => {
                        pending.insert(i, opened);
                    }
                    None => return Err(Error::DecoderGone),
                }
            };
            // An error returns, dropping the receivers: the decoders find
            // no one to hand to and stop.
            let (control_files, pieces) = opened.map_err(|source| Error::Decode {
                package: package.name.to_string(),
                source,
            })?;
            let control = String::from_utf8_lossy(
                &control_files
                    .get("control")
                    .expect("deb::read insists on a control file")
                    .1,
            )
            .into_owned();
            let conffiles = deb::conffiles_from(&control_files);
            reporter.detail(&format!("Extracting {}", package.name));
            let extracted =
                extractor
                    .extract(Pieces::new(pieces), &conffiles)
                    .map_err(|source| Error::Extract {
                        package: package.name.to_string(),
                        source,
                    })?;
            out.unmapped_owners.extend(extracted.unmapped_owners);
            let multi_arch_same = packages::parse_stanzas(&control)
                .ok()
                .and_then(|s| {
                    s.first()
                        .and_then(|s| s.get("Multi-Arch"))
                        .map(|v| v == "same")
                })
                .unwrap_or(false);
            out.unpacked.push(Unpacked {
                name: package.name.to_string(),
                architecture: package.architecture.to_string(),
                multi_arch_same,
                control,
                control_files,
                conffiles,
                overrides: [
                    ("Priority", Some(package.priority)),
                    ("Section", package.section),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                .collect(),
                paths: extracted.paths,
            });
            reporter.counts.unpacked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(out)
    })
}

/// A decoder thread: takes the next package, reads its control files,
/// hands them over with a channel, then feeds the channel its data.
fn decode(next: &AtomicUsize, files: &[Mutex<Option<File>>], send: &mpsc::Sender<(usize, Opened)>) {
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = files.get(index) else { return };
        let Some(file) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let deb = match deb::read(io::BufReader::with_capacity(PIECE, file)) {
            Ok(deb) => deb,
            Err(e) => {
                let _ = send.send((index, Err(e)));
                return;
            }
        };
        let (pieces, receiver) = mpsc::sync_channel::<Piece>(PIECES);
        if send.send((index, Ok((deb.control, receiver)))).is_err() {
            return;
        }
        feed(deb.data, &pieces);
    }
}

/// Decompresses into pieces until the data ends, fails, or the writer is
/// done with it (it stops reading at the tarball's end marker).
fn feed(mut data: Box<dyn Read + '_>, pieces: &SyncSender<Piece>) {
    loop {
        let mut piece = vec![0u8; PIECE];
        let mut filled = 0;
        while filled < PIECE {
            match data.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = pieces.send(Err(e));
                    return;
                }
            }
        }
        if filled == 0 {
            return;
        }
        piece.truncate(filled);
        if pieces.send(Ok(piece)).is_err() {
            return;
        }
    }
}

/// The writer's side: the pieces as one stream.
struct Pieces {
    receiver: Receiver<Piece>,
    current: Vec<u8>,
    at: usize,
}

impl Pieces {
    fn new(receiver: Receiver<Piece>) -> Self {
        Pieces {
            receiver,
            current: Vec::new(),
            at: 0,
        }
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.receiver.recv() {
                Ok(Ok(piece)) => {
                    self.current = piece;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The decoder is done: the end of the data.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
