//! The NETNSID of a network namespace, asked of the kernel as util-linux
//! asks: an `RTM_GETNSID` request over a `NETLINK_ROUTE` socket naming the
//! namespace by an open file descriptor. The id is relative to the network
//! namespace lsns runs in.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_SPACE(sizeof(struct rtgenmsg))`: the header plus the one-byte
/// family, padded to 4.
const PAYLOAD_OFFSET: usize = NLMSG_HDRLEN + 4;

/// What the kernel said about one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsId {
    Id(i32),
    /// The namespace has no id in ours (`NETNSA_NSID_NOT_ASSIGNED`).
    Unassigned,
    /// No answer (no socket, the namespace is gone, an error).
    Unusable,
}

impl NetnsId {
    /// The NETNSID cell: a number, "unassigned", or nothing.
    pub fn cell(self) -> Option<String> {
        match self {
            NetnsId::Id(id) => Some(id.to_string()),
            NetnsId::Unassigned => Some("unassigned".to_string()),
            NetnsId::Unusable => None,
        }
    }

    fn from_raw(raw: i32) -> NetnsId {
        match raw {
            id if id >= 0 => NetnsId::Id(id),
            -1 => NetnsId::Unassigned,
            _ => NetnsId::Unusable,
        }
    }
}

pub struct Netlink {
    socket: OwnedFd,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nobody else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { socket })
    }

    /// How many namespace ids the namespace lsns runs in has assigned
    /// (an `RTM_GETNSID` dump); `None` when the dump fails. Once that
    /// many ids have been answered, every other namespace's answer is
    /// known to be "unassigned" without asking.
    pub fn assigned_count(&self) -> Option<usize> {
        let mut request = [0u8; PAYLOAD_OFFSET];
        request[0..4].copy_from_slice(&(PAYLOAD_OFFSET as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&libc::RTM_GETNSID.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        request[6..8].copy_from_slice(&flags.to_ne_bytes());
        request[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
        request[NLMSG_HDRLEN] = libc::AF_UNSPEC as u8;
        // SAFETY: the buffer is valid for its length.
        let sent = unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
            )
        };
        if sent < 0 {
            return None;
        }
        let mut count = 0;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: the buffer is valid for its length.
            let received = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                )
            };
            if received <= 0 {
                return None;
            }
            match count_dump_part(&buf[..received as usize]) {
                DumpPart::More(n) => count += n,
                DumpPart::Done(n) => return Some(count + n),
                DumpPart::Failed => return None,
            }
        }
    }

    /// The id of the network namespace `target` refers to.
    pub fn query(&self, target: RawFd) -> NetnsId {
        let request = build_request(target);
        // SAFETY: the buffer is valid for its length.
        let sent = unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
            )
        };
        if sent < 0 {
            return NetnsId::Unusable;
        }
        let mut response = [0u8; 1024];
        // SAFETY: the buffer is valid for its length.
        let received = unsafe {
            libc::recv(
                self.socket.as_raw_fd(),
                response.as_mut_ptr().cast(),
                response.len(),
                0,
            )
        };
        if received < 0 {
            return NetnsId::Unusable;
        }
        parse_response(&response[..received as usize])
    }
}

/// The sequence number of the dump request (the single queries use 0).
const DUMP_SEQ: u32 = 1;

/// What one datagram of a dump answer held.
#[derive(Debug, PartialEq, Eq)]
pub enum DumpPart {
    /// This many assigned ids, and more datagrams to come.
    More(usize),
    /// This many assigned ids, and the end of the dump.
    Done(usize),
    /// An error or a malformed answer.
    Failed,
}

/// Counts the `RTM_NEWNSID` messages of one datagram of a dump answer
/// that carry an assigned id.
pub fn count_dump_part(data: &[u8]) -> DumpPart {
    let mut count = 0;
    let mut at = 0;
    while at + NLMSG_HDRLEN <= data.len() {
        let len = u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        if len < NLMSG_HDRLEN || at + len > data.len() {
            return DumpPart::Failed;
        }
        let kind = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
        let seq = u32::from_ne_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]);
        if seq != DUMP_SEQ {
            return DumpPart::Failed;
        }
        match kind {
            libc::RTM_NEWNSID => {
                if let NetnsId::Id(_) = parse_response(&data[at..at + len]) {
                    count += 1;
                }
            }
            k if k == libc::NLMSG_DONE as u16 => return DumpPart::Done(count),
            _ => return DumpPart::Failed,
        }
        at += (len + 3) & !3;
    }
    DumpPart::More(count)
}

/// `nlmsghdr` + `rtgenmsg{AF_UNSPEC}` + one `NETNSA_FD` attribute.
pub fn build_request(target: RawFd) -> [u8; PAYLOAD_OFFSET + 8] {
    let mut req = [0u8; PAYLOAD_OFFSET + 8];
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&libc::RTM_GETNSID.to_ne_bytes());
    req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req[NLMSG_HDRLEN] = libc::AF_UNSPEC as u8;
    req[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 2].copy_from_slice(&8u16.to_ne_bytes());
    req[PAYLOAD_OFFSET + 2..PAYLOAD_OFFSET + 4].copy_from_slice(&NETNSA_FD.to_ne_bytes());
    req[PAYLOAD_OFFSET + 4..].copy_from_slice(&target.to_ne_bytes());
    req
}

/// Reads the `NETNSA_NSID` attribute of an `RTM_NEWNSID` answer; anything
/// else (an error message, a short or malformed answer) is unusable.
pub fn parse_response(data: &[u8]) -> NetnsId {
    let u16_at = |at: usize| {
        data.get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let Some(len) = data
        .get(0..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return NetnsId::Unusable;
    };
    if len < NLMSG_HDRLEN || len > data.len() || u16_at(4) != Some(libc::RTM_NEWNSID) {
        return NetnsId::Unusable;
    }
    let mut at = PAYLOAD_OFFSET;
    while at + 4 <= len {
        let (Some(rta_len), Some(rta_type)) = (u16_at(at), u16_at(at + 2)) else {
            break;
        };
        let rta_len = rta_len as usize;
        if rta_len < 4 || at + rta_len > len {
            break;
        }
        if rta_type == NETNSA_NSID && rta_len >= 8 {
            let b = &data[at + 4..at + 8];
            return NetnsId::from_raw(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        }
        at += (rta_len + 3) & !3;
    }
    NetnsId::Unusable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(kind: u16, attrs: &[(u16, i32)]) -> Vec<u8> {
        let mut data = vec![0u8; PAYLOAD_OFFSET];
        for &(kind, value) in attrs {
            data.extend_from_slice(&8u16.to_ne_bytes());
            data.extend_from_slice(&kind.to_ne_bytes());
            data.extend_from_slice(&value.to_ne_bytes());
        }
        let len = data.len() as u32;
        data[0..4].copy_from_slice(&len.to_ne_bytes());
        data[4..6].copy_from_slice(&kind.to_ne_bytes());
        data
    }

    #[test]
    fn request_layout() {
        let req = build_request(7);
        assert_eq!(req.len(), 28);
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()), 28);
        assert_eq!(u16::from_ne_bytes(req[4..6].try_into().unwrap()), 90);
        assert_eq!(
            u16::from_ne_bytes(req[22..24].try_into().unwrap()),
            NETNSA_FD
        );
        assert_eq!(i32::from_ne_bytes(req[24..28].try_into().unwrap()), 7);
    }

    #[test]
    fn ids_and_unassigned() {
        let ok = answer(libc::RTM_NEWNSID, &[(NETNSA_NSID, 3)]);
        assert_eq!(parse_response(&ok), NetnsId::Id(3));
        let none = answer(libc::RTM_NEWNSID, &[(NETNSA_NSID, -1)]);
        assert_eq!(parse_response(&none), NetnsId::Unassigned);
        assert_eq!(NetnsId::Unassigned.cell().as_deref(), Some("unassigned"));
        assert_eq!(NetnsId::Id(0).cell().as_deref(), Some("0"));
        assert_eq!(NetnsId::Unusable.cell(), None);
    }

    #[test]
    fn dump_parts_are_counted() {
        let mut part = answer(libc::RTM_NEWNSID, &[(NETNSA_NSID, 3)]);
        part[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
        let mut unassigned = answer(libc::RTM_NEWNSID, &[(NETNSA_NSID, -1)]);
        unassigned[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
        let mut two = part.clone();
        two.extend_from_slice(&unassigned);
        two.extend_from_slice(&part);
        assert_eq!(count_dump_part(&two), DumpPart::More(2));
        let mut done = answer(libc::NLMSG_DONE as u16, &[]);
        done[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
        let mut last = part.clone();
        last.extend_from_slice(&done);
        assert_eq!(count_dump_part(&last), DumpPart::Done(1));
        assert_eq!(count_dump_part(&done), DumpPart::Done(0));
        let mut error = answer(libc::NLMSG_ERROR as u16, &[]);
        error[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
        assert_eq!(count_dump_part(&error), DumpPart::Failed);
        // A stray answer to another request, or a cut message.
        assert_eq!(
            count_dump_part(&answer(libc::RTM_NEWNSID, &[])),
            DumpPart::Failed
        );
        assert_eq!(count_dump_part(&part[..part.len() - 2]), DumpPart::Failed);
    }

    #[test]
    fn errors_and_garbage_are_unusable() {
        let error = answer(libc::NLMSG_ERROR as u16, &[(NETNSA_NSID, 3)]);
        assert_eq!(parse_response(&error), NetnsId::Unusable);
        assert_eq!(parse_response(&[]), NetnsId::Unusable);
        assert_eq!(parse_response(&[1, 2, 3]), NetnsId::Unusable);
        let mut short = answer(libc::RTM_NEWNSID, &[(NETNSA_NSID, 3)]);
        short.truncate(24);
        assert_eq!(parse_response(&short), NetnsId::Unusable);
        let other = answer(libc::RTM_NEWNSID, &[(5, 3)]);
        assert_eq!(parse_response(&other), NetnsId::Unusable);
    }
}
