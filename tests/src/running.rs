//! A container that keeps running while a test looks at it from the host:
//! started with its stdin and stdout on pipes, it says `ready` once set
//! up and then waits for its stdin to close (its script ends in `read`).
//! Each wait on it is bounded, so a container that hangs fails the test
//! instead of hanging it, and is killed on the way out.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::TestCommand;

/// How long a container may take to get ready, or to end once told to.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running container; killed (and waited for) when dropped, so a failing
/// test leaves no process behind.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Running {
    /// Starts `command` and waits for its `ready` line.
    pub fn start(command: TestCommand) -> Running {
        let mut child = command
            .into_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the container");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        // From here on a panic drops `running`, which kills the container.
        let running = Running { child, stdin };
        // The line is read on a thread, so that a container that never
        // says it can be given up on (killing it ends the read).
        let (line_sent, line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = line_sent.send(read.map(|_| line));
        });
        match line.recv_timeout(PATIENCE) {
            Ok(Ok(line)) => assert_eq!(line, "ready\n", "the container did not get ready"),
            Ok(Err(error)) => panic!("read from the container: {error}"),
            Err(_) => panic!("the container said nothing for {PATIENCE:?}"),
        }
        running
    }

    /// The container's PID 1 as the host sees it: the child of the
    /// ns-unshare we started whose NSpid ends in 1.
    pub fn init(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for pid in self.children() {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let is_init = status
                    .lines()
                    .find_map(|line| line.strip_prefix("NSpid:"))
                    .is_some_and(|ids| ids.split_whitespace().last() == Some("1"));
                if is_init {
                    return pid;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no PID-namespace init under ns-unshare {}", self.child.id());
    }

    /// Kills the container's PID 1, and so everything in its PID
    /// namespace (a program a test entered into it included), unless the
    /// returned guard is dropped within `limit`: a program that hangs
    /// in there cannot hang the test that waits for its output.
    pub fn watchdog(&self, limit: Duration) -> Watchdog {
        let init = self.init();
        let (cancel, cancelled) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(init, libc::SIGKILL) };
            }
        });
        Watchdog { _cancel: cancel }
    }

    /// Lets the container end (its stdin closes) and returns its status;
    /// one that does not end in time is killed (and so fails).
    pub fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.child.try_wait().expect("wait for the container") {
                Some(status) => return status,
                None if Instant::now() > deadline => return self.kill(),
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// The processes ns-unshare forked (the container's PID 1).
    fn children(&self) -> Vec<i32> {
        let unshare = self.child.id();
        std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    }

    /// Kills the container's PID 1, which kills everything in its PID
    /// namespace (killing ns-unshare alone would leave its child
    /// running), then ns-unshare; returns how ns-unshare ended.
    fn kill(&mut self) -> ExitStatus {
        for pid in self.children() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait for the container")
    }
}

/// Dropped in time, it keeps the container alive (see [`Running::watchdog`]).
pub struct Watchdog {
    _cancel: mpsc::Sender<()>,
}

impl Drop for Running {
    /// A test that failed midway: the container is killed.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
