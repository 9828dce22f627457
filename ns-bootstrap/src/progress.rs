//! What the user sees: debootstrap-style `I:`/`W:`/`E:` lines on stderr,
//! and on a terminal a status line redrawn in place (bytes downloaded,
//! packages unpacked and configured, elapsed time). Every line also goes
//! to the log kept in TARGET until the bootstrap succeeds.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Counts {
    pub download_total: AtomicU64,
    pub downloaded: AtomicU64,
    pub packages: AtomicUsize,
    pub unpacked: AtomicUsize,
    pub configured: AtomicUsize,
}

pub struct Reporter {
    pub verbose: bool,
    terminal: bool,
    start: Instant,
    pub counts: Counts,
    log: Mutex<Vec<String>>,
    /// Whether a status line is on screen (to be erased before a message).
    drawn: AtomicBool,
    phase: Mutex<&'static str>,
}

impl Reporter {
    pub fn new(verbose: bool) -> Self {
        Reporter {
            verbose,
            terminal: std::io::stderr().is_terminal(),
            start: Instant::now(),
            counts: Counts::default(),
            log: Mutex::new(Vec::new()),
            drawn: AtomicBool::new(false),
            phase: Mutex::new(""),
        }
    }

    fn line(&self, kind: char, message: &str) {
        let text = format!("{kind}: {message}");
        let mut stderr = std::io::stderr().lock();
        if self.drawn.swap(false, Ordering::Relaxed) {
            let _ = write!(stderr, "\r\x1b[K");
        }
        let _ = writeln!(stderr, "{text}");
        self.log.lock().expect("log lock").push(text);
    }

    pub fn info(&self, message: &str) {
        self.line('I', message);
    }

    /// Only with --verbose on screen; always in the log.
    pub fn detail(&self, message: &str) {
        if self.verbose {
            self.line('I', message);
        } else {
            self.log
                .lock()
                .expect("log lock")
                .push(format!("I: {message}"));
        }
    }

    pub fn warn(&self, message: &str) {
        self.line('W', message);
    }

    pub fn error(&self, message: &str) {
        self.line('E', message);
    }

    pub fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().expect("phase lock") = phase;
    }

    /// The log so far, one message per line.
    pub fn log_text(&self) -> String {
        let mut text = self.log.lock().expect("log lock").join("\n");
        text.push('\n');
        text
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn draw(&self) {
        let c = &self.counts;
        let mb = |bytes: u64| bytes as f64 / 1e6;
        let phase = *self.phase.lock().expect("phase lock");
        let text = format!(
            "[{:6.1}s] {phase:<12} downloaded {:.1}/{:.1} MB  unpacked {}/{}  configured {}/{}",
            self.elapsed().as_secs_f64(),
            mb(c.downloaded.load(Ordering::Relaxed)),
            mb(c.download_total.load(Ordering::Relaxed)),
            c.unpacked.load(Ordering::Relaxed),
            c.packages.load(Ordering::Relaxed),
            c.configured.load(Ordering::Relaxed),
            c.packages.load(Ordering::Relaxed),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K{text}");
        let _ = stderr.flush();
        self.drawn.store(true, Ordering::Relaxed);
    }

    /// Runs `work` while a thread redraws the status line (on a terminal).
    pub fn with_status<T>(&self, work: impl FnOnce() -> T) -> T {
        if !self.terminal {
            return work();
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let ticker = scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    self.draw();
                    std::thread::park_timeout(Duration::from_millis(100));
                }
            });
            let result = work();
            stop.store(true, Ordering::Relaxed);
            // Woken, not waited for: the scope's end joins it.
            ticker.thread().unpark();
            result
        })
    }

    /// Erases the status line.
    pub fn clear(&self) {
        if self.drawn.swap(false, Ordering::Relaxed) {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
