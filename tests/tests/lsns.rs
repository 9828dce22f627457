//! ns-lsns against util-linux lsns, inside a fresh PID and mount
//! namespace populated with processes in every namespace type, a
//! persistent (bind-mounted) namespace and `ip netns` namespaces with a
//! NETNSID, so that both tools see the same, stable process table. The
//! host is never changed: everything lives in throwaway namespaces (with
//! a private tmpfs on /run for `ip netns`) and dies with the PID
//! namespace's init.
//!
//! The reference is util-linux 2.42.4 (the cached forky root's, run on
//! the host through its loader), for every case, with namespaces held
//! only by an open file or a socket in the population too. The cases
//! where the host's 2.38.1 prints the same (it lists no such namespaces)
//! run against it as well; the test names say which release they pin.

use std::path::Path;
use std::process::Command;

use nstools_tests::reference::{self, Release};
use nstools_tests::{bin, require_root, TempDir, TestCommand};

/// Starts the population, then runs every case (one per line of
/// `$CASES`, `eval`ed so variables and quotes work) with the reference
/// (`$REF`, the words of a command line) and with ours (`$OURS`, a
/// symlink named `lsns` so messages match), leaving each run's stdout,
/// stderr and status in `$OUT/N.{ref,ours}.{out,err,rc}`. A case may
/// start with `LANG=…`, `COLUMNS=…` or `LIBSMARTCOLS_JSON=…` assignments,
/// then `as_nobody` to
/// run as an unprivileged user (who sees only its own processes'
/// namespaces), or `tty_run` to run on a pseudo-terminal (of size 0, so
/// COLUMNS decides the width).
///
/// With `$HELD` set the population also has namespaces that only an open
/// file or a socket holds (2.39+ lists them).
const SCRIPT: &str = r#"
set -u
run_case() {
    local tool=$1; shift
    local env=()
    while [ $# -gt 0 ]; do
        case "$1" in
            LANG=*|COLUMNS=*|LIBSMARTCOLS_JSON=*) env+=("$1"); shift ;;
            *) break ;;
        esac
    done
    local before=()
    if [ "${1-}" = as_nobody ]; then
        shift
        before=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    fi
    # $tool unquoted: the reference is a loader's command line.
    if [ "${1-}" = tty_run ]; then
        shift
        env "${env[@]}" script -qec "$tool $*" /dev/null </dev/null
    else
        env "${env[@]}" "${before[@]}" $tool "$@" </dev/null
    fi
}
mount -t tmpfs tmpfs /run
mkdir -p /run/keep
spawn() { "$@" & }
spawn sleep 1000
spawn sh -c 'sleep 1000 & sleep 1001 & wait'
spawn unshare --net --uts --ipc sleep 1000
NETPID=$!
spawn unshare --user --map-root-user sleep 1000
USERPID=$!
spawn unshare --cgroup sleep 1000
spawn unshare --time --fork sleep 1000
spawn unshare --pid --fork --mount-proc sleep 1000
spawn unshare --mount --ipc sh -c 'sleep 1000 & exec sleep 1002'
spawn unshare --uts bash -c 'exec -a "we ird \"q\" \\x41 back\\slash" sleep 1000'
spawn unshare --uts bash -c $'exec -a "ctl\x01\x1b[31mred\x7f tab\there" sleep 1000'
spawn unshare --uts bash -c $'exec -a "h\xc3\xa9llo w\xc3\xb6rld \xe2\x94\x80 \xff\xfe bad" sleep 1000'
spawn unshare --uts bash -c 'exec -a "a-very-long-command-line-that-needs-truncation-on-a-narrow-terminal --with many --options" sleep 1000'
touch /run/keep/uts
spawn unshare --uts=/run/keep/uts sleep 1000
# A mount point whose name is no UTF-8: NSFS shows the kernel's bytes.
touch $'/run/keep/\xff\xfe uts'
spawn unshare --uts=$'/run/keep/\xff\xfe uts' sleep 1000
ip netns add blue
ip netns add red
ip netns set blue 7
spawn ip netns exec blue sleep 1000
spawn ip netns exec red sleep 1000
# An unprivileged user's processes, one in namespaces of its own.
spawn setpriv --reuid=65534 --regid=65534 --clear-groups sleep 1000
spawn setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user --map-root-user --net --uts sleep 1000
HELDNET=0 SOCKNET=0 INETNET=0 GONENET=0
if [ -n "${HELD-}" ]; then
    # A net namespace, then a uts and a user namespace, held only by
    # descriptors a shell keeps open into the sleep it becomes.
    spawn bash -c 'unshare --net sleep 1000 & p=$!; sleep 0.3; exec 7</proc/$p/ns/net; kill $p; exec sleep 1000'
    HELDPID=$!
    spawn bash -c 'unshare --user --uts sleep 1000 & p=$!; sleep 0.3; exec 8</proc/$p/ns/uts 9</proc/$p/ns/user; kill $p; exec sleep 1000'
    # Net namespaces held only by sockets: perl makes an inet socket, or
    # a unix socket pair (as util-linux's test_mkfds foreign-sockets
    # does), in a new namespace, notes its inode, then setns(2)es back.
    held_by_socket='use Socket; my $ns = (stat "/proc/self/ns/net")[1];
        if ($ARGV[0] eq "unix") { socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or die; push @keep, $a, $b }
        else { socket(my $s, PF_INET, SOCK_DGRAM, 0) or die; push @keep, $s }
        open(my $f, "<", "/proc/1/ns/net") or die; syscall(308, fileno($f), 0x40000000) == 0 or die "setns: $!"; close $f;
        open(my $o, ">", "/run/keep/$ARGV[0].ns") or die; print $o "$ns\n"; close $o; sleep 1000'
    spawn unshare --net perl -e "$held_by_socket" inet
    spawn unshare --net perl -e "$held_by_socket" unix
    for f in inet unix; do while [ ! -s /run/keep/$f.ns ]; do sleep 0.01; done; done
    INETNET=$(cat /run/keep/inet.ns)
    SOCKNET=$(cat /run/keep/unix.ns)
    while [ "$(readlink /proc/$HELDPID/exe)" != "$(readlink -f /bin/sleep)" ]; do sleep 0.01; done
    HELDNET=$(stat -L -c %i /proc/$HELDPID/fd/7)
    # One opened through `ip netns`' bind mount, which is then removed:
    # its descriptor reads `/`, not `net:[…]` (util-linux's
    # lsns/filedesc test).
    ip netns add gone
    GONENET=$(stat -L -c %i /run/netns/gone)
    spawn bash -c 'exec 7</run/netns/gone; touch /run/keep/gone.ready; exec sleep 1000'
    while [ ! -e /run/keep/gone.ready ]; do sleep 0.01; done
    ip netns delete gone
fi
sleep 0.5
NETNS=$(stat -L -c %i /proc/$NETPID/ns/net)
USERNS=$(stat -L -c %i /proc/$USERPID/ns/user)
n=0
while IFS= read -r args; do
    n=$((n + 1))
    eval "run_case \"\$REF\" $args" >"$OUT/$n.ref.out" 2>"$OUT/$n.ref.err"
    echo $? >"$OUT/$n.ref.rc"
    eval "run_case \"\$OURS\" $args" >"$OUT/$n.ours.out" 2>"$OUT/$n.ours.err"
    echo $? >"$OUT/$n.ours.rc"
done <<<"$CASES"
"#;

/// Each case: lsns arguments, `eval`ed by the script. Cases that run
/// under `script` get a pseudo-terminal whose size is 0, so COLUMNS
/// decides the width.
const CASES: &[&str] = &[
    "",
    "-l",
    "-J",
    "-r",
    "-u",
    "-W",
    "-l -J",
    "-l -r",
    "-t net",
    "-t net -J",
    "-t net -l -W",
    "-t net -r",
    "-t mnt -l",
    "-t uts -o +NSFS",
    "-t uts -o +NSFS -J",
    "-t cgroup",
    "-t ipc -r",
    "-o NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER",
    "-o ns,Type,command",
    "-o +PPID,uid",
    "--output-all",
    "--output-all -J",
    "--output-all -r",
    "-o +PNS,ONS -l",
    "-T",
    "-Tparent",
    "--tree=owner -J",
    "--tree=process -t pid",
    "-p $NETPID",
    "-p $NETPID -J",
    "-p $USERPID -l -o NS,TYPE",
    "$NETNS",
    "$NETNS -l",
    "$NETNS -J",
    "$USERNS -o PID,COMMAND",
    "$USERNS -r",
    "-t uts -l -o NS,COMMAND",
    "-t uts -l -o NS,COMMAND -r",
    "-t uts -l -o NS,COMMAND -J",
    "-t net -o +NSFS -W",
    "-n -r -o NS,TYPE",
    "-t foo",
    "-o FOO",
    "-o NS,",
    "-o NS,,TYPE",
    "-p abc",
    "-p 99999999999",
    "abc",
    "-- -1",
    "123",
    "-Tfoo",
    "-p 1 123",
    "--bogus",
    "--no",
    "--t",
    "-x",
    "-o",
    "--tree=",
    "--output-all -o NS",
    "LANG=C -t uts",
    "LANG=C -t uts -l -o NS,COMMAND",
    "COLUMNS=50 tty_run",
    "COLUMNS=60 tty_run -l",
    "COLUMNS=45 tty_run -t net",
    "COLUMNS=200 tty_run -t uts",
    "COLUMNS=30 tty_run -u -l",
    "COLUMNS=70 tty_run -t uts -l -o NS,COMMAND,PID",
    // Without namespaces only a bind mount holds for it (2.39+): an
    // unprivileged user does not see their processes.
    "as_nobody -T owner -t user -t mnt",
    "as_nobody -p 1",
    "as_nobody $NETNS",
];

struct Run {
    out: String,
    err: String,
    rc: String,
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// What util-linux 2.39 to 2.42 added or changed, against 2.42.4 only:
/// headerless widths, `-P`, `-Q`, `-H`, namespaces held only by an open
/// file or a socket (NETNSID `unassigned`).
const CASES_NEWEST: &[&str] = &[
    // A width hint no longer widens a column as wide as its header.
    "-t user -t pid",
    "-t time",
    "-T -t user -o NS,TYPE,NPROCS,PNS,ONS",
    "as_nobody -t user -t pid -t ipc",
    "as_nobody -l -o NS,TYPE,NPROCS,PID,USER,COMMAND -t user",
    // A PID below 1 is out of range; 2.39+'s words for exclusive options.
    "-p -5",
    "-p 0",
    // --li: --list and 2.39's --list-columns.
    "--li",
    // 2.42's LIBSMARTCOLS_JSON layouts (JSON Lines of trees: see
    // json_lines_are_valid_json).
    "LIBSMARTCOLS_JSON=compact -J",
    "LIBSMARTCOLS_JSON=compact -J -l -t net",
    "LIBSMARTCOLS_JSON=compact -J -T",
    "LIBSMARTCOLS_JSON=compact -H -J",
    "LIBSMARTCOLS_JSON=compact -J -Q 'NPROCS > 1000'",
    "LIBSMARTCOLS_JSON=compact -J $NETNS -l",
    "LIBSMARTCOLS_JSON=lines -J -l",
    "LIBSMARTCOLS_JSON=lines -J -l -t net -o +NSFS,PNS",
    "LIBSMARTCOLS_JSON=lines -H -J",
    "LIBSMARTCOLS_JSON=lines -J -Q 'NPROCS > 1000'",
    "LIBSMARTCOLS_JSON=lines -r",
    "LIBSMARTCOLS_JSON=pretty -J -t uts",
    "-J -r",
    "-n",
    "-l -n -u",
    "-n -l",
    "-n -t net",
    "-n -t uts -o NSFS,NS",
    "-n -t uts -o NS,NSFS,TYPE",
    "-n -o NS,PID,NPROCS -t net",
    "-n -o NETNSID,NS -t uts",
    "-n -T",
    "-n -Tparent",
    "-n --output-all",
    "-n -o +PNS,ONS",
    "-n -W -t net",
    "COLUMNS=50 tty_run -n",
    "COLUMNS=80 tty_run -n -t net",
    "COLUMNS=200 tty_run -n -o PID,TYPE",
    "COLUMNS=200 tty_run -o PID,TYPE,NS",
    "COLUMNS=200 tty_run -t net -o NS,PID",
    "-t net",
    "-t net -J",
    "-t net -o NS,TYPE,NPROCS,PID,NSFS,COMMAND",
    "-t net -J -o NS,NPROCS,PID,USER,NSFS",
    "-t uts -l",
    "-l -o NS,TYPE,NPROCS,PID,USER,PNS,ONS",
    "-l -o NS,TYPE,NETNSID,NPROCS",
    "-P",
    "-P -t net -o NS,TYPE,NPROCS",
    "-P -t net -o NS,NETNSID,NSFS",
    "-P -J -t user",
    "-P -p 1",
    "-T owner",
    "--tree=owner",
    "--tree=parent -J",
    "-J -H",
    "-r -H",
    "-H",
    "-H -n",
    "-H -J -r",
    "-Q 'TYPE == \"net\"'",
    "-Q 'NPROCS > 1'",
    "-Q 'NPROCS > 1 && TYPE != \"user\"' -l",
    "-Q 'NPROCS == 0' -o NS,TYPE,NPROCS,PID,USER,COMMAND",
    "-Q 'COMMAND =~ \"^sleep\"' -o NS,PID",
    "-Q 'COMMAND =~ \"sleep\" && !(COMMAND =~ \"1000$\")' -o NS,COMMAND",
    "-Q 'TYPE == \"net\" or TYPE eq \"uts\"'",
    "-Q \"TYPE == 'net'\"",
    "-Q 'TYPE == \" uts \"' -o NS,TYPE",
    "-Q '!(TYPE == \"net\")' -n -o NS",
    "-Q 'not TYPE == \"mnt\"' -o NS,TYPE",
    "-Q 'PID < 5' -J",
    "-Q 'PID == \"0\"' -o NS,TYPE,PID",
    "-Q 'PID' -o NS,PID",
    "-Q '1'",
    "-Q 'false' -o NS",
    "-Q 'NPROCS > 1K'",
    "-Q 'NPROCS > 1.5'",
    "-Q 'NS =~ \"^40265318\"' -o NS",
    "-Q 'TYPE == \"uts\" == true' -o NS,TYPE",
    "-Q 'TYPE > \"p\"' -o NS,TYPE",
    "-Q 'NSFS != \"\"' -o NS,NSFS",
    "-Q 'ONS > 4026531837' -o NS,ONS",
    "-Q \"NS == $NETNS\" -n -r -o TYPE,NPROCS,USER",
    "-Q \"NS == $HELDNET\" -n -r -o TYPE,NPROCS,USER,NETNSID",
    "-Q \"NS == $SOCKNET\" -n -r -o NS,TYPE,NPROCS,PID,USER,COMMAND",
    "--noheadings --raw --output TYPE --filter \"NS == $INETNET\"",
    "--noheadings --raw --output TYPE,NPROCS,USER -Q \"NS == $GONENET\"",
    "$GONENET",
    "-Q 'NETNSID == \"unassigned\"' -o NS,NPROCS",
    "-T owner -Q 'TYPE == \"user\"'",
    "-Q 'TYPE == net'",
    "-Q 'FOO == 1'",
    "-Q 'NS =='",
    "-Q '(TYPE == \"net\"'",
    "-Q '== 1'",
    "-Q ')'",
    "-Q 'TYPE \"net\"'",
    "-Q 'TYPE == \"net\" ('",
    "-Q \"'\"",
    "-Q ''",
    "-Q ' '",
    "-Q 'TYPE = \"net\"'",
    "-Q 'PID >= 1 &' -o NS",
    "-Q '\"abc'",
    "-Q '=' --bogus",
    "-Q 'TYPE =~ NS'",
    "-Q 'TYPE =~ \"(\"'",
    "-Q '99999999999999999999K'",
    "-Q 'TYPE == 1'",
    "-Q '1 =~ \"1\"'",
    "-o NS,TYPE,NETNSID -Q 'NETNSID == 7'",
    "-t net -o NS,NETNSID -Q 'NETNSID == \"7\"'",
    "-n -r -o NS -Q 'NETNSID == \"7\"'",
    "$HELDNET",
    "$HELDNET -l",
    "$SOCKNET -J",
    "-p $NETPID",
    "$NETNS -l",
    "-H -p 1",
    "-P -T",
    "--persistent --list --output=NS,TYPE",
    "--filter='TYPE == \"uts\"' --noheadings --raw",
    "--list-columns --raw",
    "as_nobody",
    "as_nobody -J -t net",
    "as_nobody -P",
    "as_nobody -T owner",
    "as_nobody -n",
    "as_nobody -Q 'USER == \"nobody\"' -o NS,TYPE,PID",
];

#[test]
fn differential_against_2_42_4() {
    if !require_root() {
        return;
    }
    let cases: Vec<&str> = CASES.iter().chain(CASES_NEWEST).copied().collect();
    differential(&cases, Release::Newest);
}

#[test]
fn differential_against_2_38_1() {
    if !require_root() {
        return;
    }
    differential(CASES, Release::Host);
}

/// Runs `cases` with the reference and ours (see [`SCRIPT`]) and fails
/// with every difference. Against 2.42.4 the population has namespaces
/// held only by descriptors too.
fn differential(cases: &[&str], release: Release) {
    let ours = bin("ns-lsns");
    let out = TempDir::new("lsns-diff");
    // Ours runs as argv[0] `lsns` (a symlink), so messages match.
    let link_dir = TempDir::new("lsns-link");
    let link = link_dir.path().join("lsns");
    std::os::unix::fs::symlink(&ours, &link).expect("symlink lsns");

    let mut command = in_pid_namespace("180", SCRIPT);
    command
        .env("OUT", out.path())
        .env("OURS", &link)
        .env("REF", reference::shell_command(release, "lsns"))
        .env("CASES", cases.join("\n"))
        .env("LANG", "C.UTF-8")
        .env_remove("COLUMNS");
    match release {
        Release::Newest => command.env("HELD", "1"),
        Release::Host => command.env_remove("HELD"),
    };
    let status = command.status().expect("run the differential script");
    assert!(status.success(), "the differential script failed: {status}");

    let mut failures = Vec::new();
    let mut matched = 0;
    for (index, case) in cases.iter().enumerate() {
        let n = index + 1;
        let load = |which: &str| Run {
            out: read(&out.path().join(format!("{n}.{which}.out"))),
            err: read(&out.path().join(format!("{n}.{which}.err"))),
            rc: read(&out.path().join(format!("{n}.{which}.rc"))),
        };
        let (reference, ours) = (load("ref"), load("ours"));
        assert!(!reference.rc.is_empty(), "case {case:?} did not run");
        // A wrapper that failed would fail alike for both.
        assert!(
            !reference.err.starts_with("setpriv:") && !reference.err.contains("ld-linux"),
            "case {case:?} did not start: {}",
            reference.err
        );
        let mut problems = Vec::new();
        if reference.rc != ours.rc {
            problems.push(format!(
                "status {} vs {}",
                ours.rc.trim(),
                reference.rc.trim()
            ));
        }
        if reference.out != ours.out {
            problems.push("stdout differs".to_string());
        }
        if reference.err != ours.err {
            problems.push("stderr differs".to_string());
        }
        if problems.is_empty() {
            matched += 1;
        } else {
            failures.push(format!(
                "case `{case}`: {}\n--- ours stdout\n{}--- reference stdout\n{}--- ours stderr\n{}--- reference stderr\n{}",
                problems.join(", "),
                ours.out,
                reference.out,
                ours.err,
                reference.err
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{matched}/{} cases match; failures:\n{}",
        cases.len(),
        failures.join("\n")
    );
}

/// `bash -c SCRIPT` as the init of a fresh PID namespace with its own
/// /proc (and so its own mount namespace), killed after `seconds`.
fn in_pid_namespace(seconds: &str, script: &str) -> Command {
    let mut command = Command::new("timeout");
    command.args([
        seconds,
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "bash",
        "-c",
        script,
    ]);
    command
}

/// A small JSON validator: enough to reject anything malformed.
fn valid_json(text: &str) -> bool {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\t' | b'\r') {
            i += 1;
        }
        i
    }
    fn value(b: &[u8], i: usize) -> Option<usize> {
        let i = ws(b, i);
        match *b.get(i)? {
            b'{' => {
                let mut i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    return Some(i + 1);
                }
                loop {
                    i = string(b, ws(b, i))?;
                    i = ws(b, i);
                    if b.get(i) != Some(&b':') {
                        return None;
                    }
                    i = ws(b, value(b, i + 1)?);
                    match b.get(i)? {
                        b',' => i += 1,
                        b'}' => return Some(i + 1),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let mut i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    return Some(i + 1);
                }
                loop {
                    i = ws(b, value(b, i)?);
                    match b.get(i)? {
                        b',' => i += 1,
                        b']' => return Some(i + 1),
                        _ => return None,
                    }
                }
            }
            b'"' => string(b, i),
            b'n' => b[i..].starts_with(b"null").then_some(i + 4),
            b't' => b[i..].starts_with(b"true").then_some(i + 4),
            b'f' => b[i..].starts_with(b"false").then_some(i + 5),
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b".eE+-".contains(&b[j])) {
                    j += 1;
                }
                std::str::from_utf8(&b[i..j]).ok()?.parse::<f64>().ok()?;
                Some(j)
            }
            _ => None,
        }
    }
    fn string(b: &[u8], i: usize) -> Option<usize> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let mut i = i + 1;
        loop {
            match *b.get(i)? {
                b'"' => return Some(i + 1),
                b'\\' => match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        let hex = b.get(i + 2..i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => i += 1,
            }
        }
    }
    let b = text.as_bytes();
    value(b, 0).is_some_and(|end| ws(b, end) == b.len())
}

#[test]
fn json_validator_rejects_garbage() {
    assert!(valid_json("{\"a\": [1, null, \"x\\n\"]}\n"));
    assert!(!valid_json("{\"a\": }"));
    assert!(!valid_json("{\"a\": \"\x01\"}"));
    assert!(!valid_json("[1,]"));
}

/// lsns runs hundreds of times while processes in new namespaces start
/// and exit around it: every run succeeds, in time, with valid JSON.
#[test]
fn churn() {
    if !require_root() {
        return;
    }
    let ours = bin("ns-lsns");
    let out = TempDir::new("lsns-churn");
    const RUNS: usize = 300;
    let script = format!(
        r#"
set -u
churn() {{
    while :; do
        unshare --net --uts --ipc sleep 0.0$((RANDOM % 5)) &
        unshare --mount --pid --fork true &
        sleep 0.00$((RANDOM % 9))
        wait -n 2>/dev/null
    done
}}
churn & churn & churn &
for i in $(seq {RUNS}); do
    case $((i % 3)) in
        0) args="-J" ;;
        1) args="-J -l -o +PPID,PATH,NETNSID" ;;
        2) args="-J -T" ;;
    esac
    timeout 10 "$OURS" $args >"$OUT/$i.json" 2>"$OUT/$i.err"
    echo $? >"$OUT/$i.rc"
    if [ $((i % 50)) = 0 ]; then
        pid=$(unshare -n sleep 0.01 & echo $!)
        timeout 10 "$OURS" -p "$pid" >/dev/null 2>>"$OUT/p.err"
        echo $? >>"$OUT/p.rc"
    fi
done
"#
    );
    let status = in_pid_namespace("200", &script)
        .env("OUT", out.path())
        .env("OURS", &ours)
        .status()
        .expect("run the churn script");
    assert!(status.success(), "the churn script failed: {status}");

    let mut failures = Vec::new();
    for i in 1..=RUNS {
        let rc = read(&out.path().join(format!("{i}.rc")));
        let json = read(&out.path().join(format!("{i}.json")));
        let err = read(&out.path().join(format!("{i}.err")));
        if rc.trim() != "0" || !err.is_empty() || !valid_json(&json) {
            failures.push(format!(
                "run {i}: status {rc:?}, stderr {err:?}, json:\n{json}"
            ));
        }
    }
    let p_rc = read(&out.path().join("p.rc"));
    assert!(
        p_rc.lines().all(|line| line == "0"),
        "-p of an exiting process failed or hung: {p_rc:?} {}",
        read(&out.path().join("p.err"))
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// 2.39+: a namespace held only by a bind mount is listed (NPROCS 0, its
/// owner as USER, its mount point as NSFS), and `-P` lists only such.
#[test]
fn persistent_namespaces_without_processes() {
    if !require_root() {
        return;
    }
    let ours = bin("ns-lsns");
    let script = r#"
set -eu
mount -t tmpfs tmpfs /run
ip netns add lonely
ino=$(stat -L -c %i /run/netns/lonely)
"$OURS" -P -t net -n -r -o NS,TYPE,NPROCS,USER,NSFS
echo "ino=$ino"
"$OURS" -P -J -o NS,PID,COMMAND -t net
# 2.42: the NETNSID of a namespace no process is in, also for a filter
# on the column when it is not shown.
"$OURS" -P -t net -n -r -o NS,NETNSID
ip netns set lonely 5
"$OURS" -n -r -o NS -Q 'NETNSID == "5"'
"#;
    let output = in_pid_namespace("60", script)
        .env("OURS", &ours)
        .output()
        .expect("run the persistent script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ino = stdout
        .lines()
        .find_map(|line| line.strip_prefix("ino="))
        .expect("inode printed");
    assert!(
        stdout.starts_with(&format!("{ino} net 0 root /run/netns/lonely\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{{\n   \"namespaces\": [\n      {{\n         \"ns\": {ino},\n         \"pid\": null,\n         \"command\": null\n      }}\n   ]\n}}\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("}}\n{ino} unassigned\n{ino}\n")),
        "{stdout}"
    );
}

/// 2.41: `-Q` selects rows by an expression over the columns, also over
/// columns that are not shown.
#[test]
fn filter_expressions() {
    if !require_root() {
        return;
    }
    let ours = bin("ns-lsns");
    let script = r#"
set -eu
unshare --net --uts sleep 1000 &
pid=$!
sleep 0.3
"$OURS" -n -r -o TYPE,PID -Q "PID == $pid"
echo ---
"$OURS" -n -r -o TYPE -Q "PID == $pid && (TYPE == 'net' || TYPE =~ '^ut')"
echo ---
"$OURS" -n -r -o TYPE -Q "PID == $pid && !(TYPE eq 'net')"
echo ---
"$OURS" -Q 'NOSUCH == 1' || echo "status $?"
"#;
    let output = in_pid_namespace("60", script)
        .env("OURS", &ours)
        .output()
        .expect("run the filter script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pid = stdout
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("");
    let blocks: Vec<Vec<&str>> = stdout
        .split("---\n")
        .map(|block| {
            let mut lines: Vec<&str> = block.lines().collect();
            lines.sort();
            lines
        })
        .collect();
    let net_uts = [format!("net {pid}"), format!("uts {pid}")];
    assert_eq!(blocks[0], net_uts, "{stdout}{stderr}");
    assert_eq!(blocks[1], ["net", "uts"], "{stdout}");
    assert_eq!(blocks[2], ["uts"], "{stdout}");
    assert_eq!(blocks[3], ["status 1"], "{stdout}");
    assert!(stderr.contains("unknown column: NOSUCH"), "{stderr}");
}

/// JSON Lines (`LIBSMARTCOLS_JSON=lines`, 2.42): a line per row, each
/// valid JSON, children nested with their colon. (util-linux 2.42.4
/// writes `"children"[`, which no parser takes: ours differs there.)
#[test]
fn json_lines_are_valid_json() {
    if !require_root() {
        return;
    }
    let ours = bin("ns-lsns");
    let script = r#"
set -eu
unshare --net --uts sleep 1000 &
sleep 0.3
for args in "-J" "-J -T" "-J -Tparent" "-J -l" "-J -H"; do
    LIBSMARTCOLS_JSON=lines "$OURS" $args
    echo ---
done
"#;
    let output = in_pid_namespace("60", script)
        .env("OURS", &ours)
        .output()
        .expect("run the JSON Lines script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let blocks: Vec<&str> = stdout.split("---\n").filter(|b| !b.is_empty()).collect();
    assert_eq!(blocks.len(), 5, "{stdout}");
    for block in &blocks {
        assert!(block.ends_with("}\n"), "{block}");
        for line in block.lines() {
            assert!(line.starts_with('{') && valid_json(line), "{line}");
        }
    }
    assert!(blocks[1].contains("\"children\":[{"), "{}", blocks[1]);
    assert_eq!(blocks[4].lines().count(), 13, "one line per column");
}

/// `-H` lists the columns with their types.
#[test]
fn list_columns() {
    let output = Command::new(bin("ns-lsns"))
        .args(["-H", "-r"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.starts_with("NS <integer> namespace\\x20identifier\\x20(inode\\x20number)\n"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 13);
    // 2.42: -H lists after every option is read.
    let output = Command::new(bin("ns-lsns"))
        .args(["-H", "-J"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("{\n   \"lsns-columns\": ["), "{stdout}");
}

/// Without /proc (a mount namespace of its own where it is unmounted):
/// util-linux 2.42.4 says why and exits 32 (2.38.1 listed nothing).
#[test]
fn without_proc_the_mount_table_error_of_2_42() {
    if !require_root() {
        return;
    }
    let run = TestCommand::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("umount -l /proc && exec \"$0\"")
        .arg(bin("ns-lsns"))
        .run();
    run.expect_code(32);
    assert_eq!(
        run.stderr, "ns-lsns: failed to parse /proc/self/mountinfo: No such file or directory\n",
        "{run}"
    );
}

/// A -Q expression nested deeper than bison's stack: util-linux 2.42.4's
/// "memory exhausted", not a stack overflow; a long flat one is fine.
#[test]
fn deep_filters_fail_as_bison_does() {
    let bangs = "!".repeat(100_000);
    let run = TestCommand::new(bin("ns-lsns")).args(["-Q", &bangs]).run();
    run.expect_code(1);
    assert_eq!(
        run.stderr,
        format!("ns-lsns: failed to parse \"{bangs}\": memory exhausted\n")
    );
    let parens = format!("{}NS{}", "(".repeat(50_000), ")".repeat(50_000));
    let run = TestCommand::new(bin("ns-lsns"))
        .args(["-n", "-Q", &parens])
        .run();
    run.expect_code(1);
    assert!(run.stderr.ends_with("\": memory exhausted\n"), "{run}");
    // One argument may hold at most 128 KiB (MAX_ARG_STRLEN).
    let flat = format!("{}NS > 0", "NS == 0 || ".repeat(10_000));
    let run = TestCommand::new(bin("ns-lsns"))
        .args(["-n", "-o", "NS", "-Q", &flat])
        .run();
    run.expect_code(0);
    assert!(!run.stdout.is_empty(), "{run}");
}
