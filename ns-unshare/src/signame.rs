//! Signal names as util-linux reads them (`--kill-child=SIGNAME`): an
//! optional `SIG` prefix, any case; `RTMIN+N`, `RTMAX-N` and `RTN` for
//! real-time signals; numbers are not names.

/// glibc's real-time range on Linux (the C library keeps 32 and 33).
const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The signal number of a name, or `None`.
pub fn signal_number(name: &str) -> Option<i32> {
    let name = strip_prefix_ignore_case(name, "sig").unwrap_or(name);
    if let Some(rest) = strip_prefix_ignore_case(name, "rt") {
        return realtime(rest);
    }
    NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, number)| *number)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `MIN+N`, `MAX-N` or `N` after `RT`: leading digits count, as strtol
/// reads them; the result must stay within the real-time range.
fn realtime(rest: &str) -> Option<i32> {
    let (digits, from_max) = if let Some(n) = strip_prefix_ignore_case(rest, "min+") {
        (n, false)
    } else if let Some(n) = strip_prefix_ignore_case(rest, "max-") {
        (n, true)
    } else {
        (rest, false)
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let offset: i32 = digits[..end].parse().ok()?;
    let number = if from_max {
        SIGRTMAX - offset
    } else {
        SIGRTMIN.checked_add(offset)?
    };
    (SIGRTMIN..=SIGRTMAX).contains(&number).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_prefix() {
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("sigterm"), Some(15));
        assert_eq!(signal_number("SigKill"), Some(9));
        assert_eq!(signal_number("cld"), Some(17));
        assert_eq!(signal_number("IOT"), Some(6));
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(signal_number("RTMIN+0"), Some(34));
        assert_eq!(signal_number("RTMIN+2"), Some(36));
        assert_eq!(signal_number("rtmax-1"), Some(63));
        assert_eq!(signal_number("RT1"), Some(35));
        assert_eq!(signal_number("RTMIN+2x"), Some(36), "strtol stops at x");
        assert_eq!(signal_number("RTMIN"), None);
        assert_eq!(signal_number("RTMAX"), None);
        assert_eq!(signal_number("RTMIN-1"), None);
        assert_eq!(signal_number("RTMIN+31"), None);
        assert_eq!(signal_number("RTMIN+ 2"), None);
        assert_eq!(signal_number("RTMIN+99999999999"), None);
    }

    #[test]
    fn numbers_and_junk_are_not_names() {
        for bad in ["9", "0", "", "SIG", "FOO", "TERMX", "é"] {
            assert_eq!(signal_number(bad), None, "{bad:?}");
        }
    }
}
