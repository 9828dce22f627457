//! A network namespace for a command that must reach the Debian mirror and
//! nothing else, so that what it does to "the host's" network (the demo's
//! veth pair) happens in a namespace the test made and dies with it.
//!
//! A helper thread unshares a network namespace (namespaces are per
//! thread), brings up its loopback and listens there on one 127.0.0.x
//! address per mirror host named in the apt sources; the command starts
//! from that thread, in that namespace, with a mount namespace of its own
//! in which /etc/hosts maps each mirror host to its 127.0.0.x. Connections
//! are relayed byte for byte, from threads in the host's namespace, to the
//! real mirror: the HTTP requests keep their Host header, and ns-bootstrap
//! checks the signatures and hashes of what comes back as ever.

use std::ffi::CString;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The `http://` hosts (and ports) of the host's apt sources.
pub fn mirror_hosts() -> Vec<(String, u16)> {
    let mut texts = Vec::new();
    texts.extend(std::fs::read_to_string("/etc/apt/sources.list").ok());
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".list") || name.ends_with(".sources") {
                texts.extend(std::fs::read_to_string(entry.path()).ok());
            }
        }
    }
    let mut hosts = Vec::new();
    for text in &texts {
        for (_, rest) in text
            .match_indices("http://")
            .map(|(i, _)| text.split_at(i + 7))
        {
            let authority: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), port.parse().unwrap_or(80)),
                None => (authority, 80),
            };
            if !host.is_empty() && !hosts.contains(&(host.clone(), port)) {
                hosts.push((host, port));
            }
        }
    }
    assert!(!hosts.is_empty(), "no http:// mirror in the apt sources");
    hosts
}

pub struct Relay {
    stop: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
    }
}

/// Starts `command` in a new network namespace with the mirrors relayed;
/// `hosts_file` is written and bind-mounted on /etc/hosts for it.
pub fn spawn(mut command: Command, hosts_file: &Path) -> (Child, Relay) {
    let mirrors = mirror_hosts();
    let addresses: Vec<Ipv4Addr> = (0..mirrors.len())
        .map(|i| Ipv4Addr::new(127, 0, 0, 10 + i as u8))
        .collect();
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for ((host, _), address) in mirrors.iter().zip(&addresses) {
        hosts.push_str(&format!("{address} {host}\n"));
    }
    std::fs::write(hosts_file, hosts).expect("write the hosts file");
    let hosts_file = CString::new(hosts_file.as_os_str().as_bytes()).expect("no NUL");
    let ports: Vec<u16> = mirrors.iter().map(|(_, port)| *port).collect();

    let in_namespace = std::thread::spawn(move || {
        // SAFETY: unshare(2) with a flag that only affects this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            panic!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        }
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip");
        assert!(up.success(), "ip link set lo up: {up}");
        let listeners: Vec<TcpListener> = addresses
            .iter()
            .zip(&ports)
            .map(|(address, port)| {
                let listener = TcpListener::bind((*address, *port))
                    .unwrap_or_else(|e| panic!("listen on {address}:{port}: {e}"));
                listener.set_nonblocking(true).expect("non-blocking");
                listener
            })
            .collect();
        // SAFETY: in the forked child, before exec: system calls only, on
        // strings made before the fork.
        unsafe {
            command.pre_exec(move || private_hosts(&hosts_file));
        }
        let child = command.spawn().expect("start the command");
        (child, listeners)
    });
    let (child, listeners) = in_namespace.join().expect("namespace thread");

    let stop = Arc::new(AtomicBool::new(false));
    let acceptors = listeners
        .into_iter()
        .zip(mirrors)
        .map(|(listener, mirror)| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || accept(listener, mirror, &stop))
        })
        .collect();
    (child, Relay { stop, acceptors })
}

/// A mount namespace in which `hosts` is /etc/hosts (and nothing else
/// differs), private so that no mount of it reaches the host.
fn private_hosts(hosts: &CString) -> std::io::Result<()> {
    let check = |result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let none = std::ptr::null();
    // SAFETY: plain system calls on NUL-terminated strings that outlive
    // them.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            none.cast(),
        ))?;
        check(libc::mount(
            hosts.as_ptr(),
            c"/etc/hosts".as_ptr(),
            none,
            libc::MS_BIND,
            none.cast(),
        ))
    }
}

fn accept(listener: TcpListener, (host, port): (String, u16), stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let (host, port) = (host.clone(), port);
                std::thread::spawn(move || relay(client, &host, port));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Copies both ways until each side has closed its half.
fn relay(client: TcpStream, host: &str, port: u16) {
    let Ok(server) = TcpStream::connect((host, port)) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    };
    let (client2, server2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let upstream = std::thread::spawn(move || pipe(client2, server2));
    pipe(server, client);
    let _ = upstream.join();
}
