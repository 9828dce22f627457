//! A container that keeps running while a test looks at it from the host:
//! started with its stdin and stdout on pipes, it says `ready` once set
//! up and then waits for its stdin to close (its script ends in `read`).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use crate::TestCommand;

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
        let mut running = Running { child, stdin };
        let stdout = running.child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read from the container");
        assert_eq!(line, "ready\n", "the container did not get ready");
        running
    }

    /// The container's PID 1 as the host sees it: the child of the
    /// ns-unshare we started whose NSpid ends in 1.
    pub fn init(&self) -> i32 {
        let unshare = self.child.id();
        let children = format!("/proc/{unshare}/task/{unshare}/children");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let listed = std::fs::read_to_string(&children).unwrap_or_default();
            for pid in listed.split_whitespace() {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let is_init = status
                    .lines()
                    .find_map(|line| line.strip_prefix("NSpid:"))
                    .is_some_and(|ids| ids.split_whitespace().last() == Some("1"));
                if is_init {
                    return pid.parse().expect("a pid");
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no PID-namespace init under ns-unshare {unshare}");
    }

    /// Lets the container end (its stdin closes) and returns its status.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("wait for the container")
    }
}

impl Drop for Running {
    /// A test that failed midway: the container's PID 1 is killed, which
    /// kills everything in its PID namespace (killing ns-unshare alone
    /// would leave its child running), then ns-unshare.
    fn drop(&mut self) {
        if self.stdin.take().is_none() {
            return;
        }
        let unshare = self.child.id();
        let children = format!("/proc/{unshare}/task/{unshare}/children");
        for pid in std::fs::read_to_string(children)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse::<i32>().ok())
        {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
