//! ns-nsenter against util-linux nsenter: 2.42.4 (the forky reference
//! root) for every case, and the host's 2.38.1 for the cases the two
//! releases agree on; each test's name says which release it pins.
//!
//! Each case is a small shell script run in a throwaway box made by the
//! host's unshare (`--mount --uts --net --ipc --pid --fork --kill-child
//! --mount-proc`): the targets it starts with our ns-unshare, the bind
//! mounts that keep namespaces, the hostnames and links it changes all
//! live in there, and everything dies with the box's PID 1 when the
//! script ends, fails or is killed (the box dies with the timeout that
//! runs it). `$N` is the nsenter under test, invoked as `nsenter` (ours
//! through a symlink of that name, the reference through its loader), so
//! messages carry the same prefix; `$NB` runs it as nobody.
//!
//! What a case prints from inside is compared byte for byte: hostnames,
//! links, mount tables, `/proc/self/ns/*` (as "target", "box" or "other",
//! the inode numbers differing between runs), uid and gid maps, cwd and
//! root, the environment, and the exit status and messages.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nstools_tests::reference::{self, Release};
use nstools_tests::{bin, differences, require_root, Outcome, ProbeBox, Stderr, TempDir};

/// Helpers every case script may use.
/// - `start ARGS...`: a target made by our `ns-unshare ARGS`, running
///   `$SETUP` (if set) and then sleeping (through `$WRAP`, if set); its
///   pid (in the box) is `$T`. `ustart`: the same, as nobody.
/// - `nsin "$(...)"`: for namespace lines printed from inside (`sh -c
///   "$NSLIST"`), whether each is the box's (and so maybe the target's
///   too), the target's own, or another.
/// - `nsid FILE`: the 64-bit ID of a namespace (`NS_GET_ID`);
///   `pidfdino PID`: the inode of a pidfd of PID; `status CMD...`: how
///   CMD ended, `exit N` or `signal N` (the probe binary).
/// - `$D`: a directory of the run's own; `$ROOT`: a busybox root.
const PREAMBLE: &str = r#"
ulimit -c 0
nl='
'
NB="setpriv --reuid 65534 --regid 65534 --clear-groups"
NSLIST='for f in /proc/self/ns/*; do echo "${f##*/} $(readlink $f)"; done'
n=0
start() {
    n=$((n + 1))
    $AS "$US" "$@" sh -c "${SETUP:-:}; exec $WRAP sleep $((1000000 + n))" < /dev/null > /dev/null 2>&1 &
    tries=0
    until T=$(pgrep -xf "sleep $((1000000 + n))"); do
        tries=$((tries + 1))
        [ $tries -lt 500 ] || { echo "target $n did not start"; exit 99; }
        sleep 0.02
    done
}
nsin() {
    printf '%s\n' "$1" | while read -r t v; do
        if [ "$v" = "$(readlink /proc/self/ns/$t)" ]; then echo "$t box"
        elif [ "$v" = "$(readlink /proc/$T/ns/$t)" ]; then echo "$t target"
        else echo "$t other"; fi
    done
}
ustart() { AS=$NB start "$@"; }
nsid() { "$PROBE" nsid "$1"; }
pidfdino() { "$PROBE" pidfdino "$1"; }
status() { "$PROBE" status "$@"; }
"#;

/// Which releases a case is compared with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Releases {
    /// 2.42.4 and 2.38.1.
    Both,
    /// 2.42.4 only: an option or message 2.38.1 does not have.
    Newest,
}

/// What must agree between the two runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Status, stdout and stderr, byte for byte.
    All,
    /// Status and stderr emptiness (--help, --version: our own text).
    Status,
}

/// Who runs the case: the unprivileged ones start their targets and run
/// `$N` as nobody (`$NB`), entering their own user namespaces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    Nobody,
}

struct Case {
    who: Who,
    releases: Releases,
    compare: Compare,
    script: &'static str,
}

const fn case(who: Who, releases: Releases, script: &'static str) -> Case {
    Case {
        who,
        releases,
        compare: Compare::All,
        script,
    }
}

use Releases::{Both, Newest};
use Who::{Nobody, Root};

const CASES: &[Case] = &[
    // Each namespace type, observed from inside.
    case(Root, Both, r#"start -u; nsin "$($N -t $T -u sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -m; nsin "$($N -t $T -m sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -i; nsin "$($N -t $T -i sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -n; nsin "$($N -t $T -n sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -pf; nsin "$($N -t $T -p sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -pf; nsin "$($N -t $T -p -F sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -r; nsin "$($N -t $T -U sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -C; nsin "$($N -t $T -C sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -Tf; nsin "$($N -t $T -T sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -muinpCTf; nsin "$($N -t $T -a sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -r -muinpCTf; nsin "$($N -t $T -a sh -c "$NSLIST")""#),
    case(
        Root,
        Both,
        r#"start -muinpf; nsin "$($N --target=$T --mount --uts --ipc --net --pid sh -c "$NSLIST")""#,
    ),
    case(Root, Both, r#"start -u -n; nsin "$($N -t $T -u -n sh -c "$NSLIST")""#),
    case(Root, Both, r#"start -u -i; nsin "$($N -t $T --ut --ip sh -c "$NSLIST")""#),
    // getopt: -un is -u with the file "n".
    case(Root, Both, "start -u -n; $N -t $T -un true"),
    // -a leaves out a user namespace that is already ours.
    case(Root, Both, r#"start -u -n; nsin "$($N -t $T -a sh -c "$NSLIST")""#),
    // What the namespaces hold.
    case(Root, Both, "SETUP='hostname inside' start -u; $N -t $T -u hostname; hostname"),
    case(
        Root,
        Both,
        "SETUP='ip link set lo up' start -n; $N -t $T -n ip -o link | grep -c LOOPBACK,UP; ip -o link | grep -c LOOPBACK,UP",
    ),
    case(
        Root,
        Both,
        "mkdir $D/m; SETUP=\"mount -t tmpfs t $D/m; touch $D/m/seen\" start -m; $N -t $T -m ls $D/m; ls $D/m | wc -l",
    ),
    case(
        Root,
        Both,
        "mkdir $D/m; SETUP=\"mount -t tmpfs t $D/m\" start -m; $N -t $T -m findmnt -no FSTYPE,SOURCE $D/m",
    ),
    case(
        Root,
        Both,
        "SETUP='ipcmk -Q > /dev/null' start -i; $N -t $T -i ipcs -q | grep -c 0x; ipcs -q | grep -c 0x",
    ),
    case(
        Root,
        Both,
        "start -pf --mount-proc; $N -t $T -a sh -c 'echo $$; cat /proc/1/cmdline | tr \"\\0\" \" \"; echo'",
    ),
    case(
        Root,
        Both,
        "start -r; $N -t $T -U sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; id -G'",
    ),
    case(
        Root,
        Both,
        "start -T --boottime 1000 --monotonic=-5 -f; $N -t $T -T cat /proc/self/timens_offsets",
    ),
    case(
        Root,
        Both,
        "SETUP='mkdir -p /tmp/c' start -C; $N -t $T -C cat /proc/self/cgroup | grep -c ':/$'",
    ),
    // Persistent namespaces, made by ns-unshare --TYPE=FILE.
    case(
        Root,
        Both,
        "touch $D/uts; $US --uts=$D/uts hostname kept; $N --uts=$D/uts hostname; hostname",
    ),
    case(
        Root,
        Both,
        "touch $D/net; $US --net=$D/net ip link add v0 type veth peer name v1; $N --net=$D/net ip -o link | cut -d' ' -f2 | cut -d@ -f1",
    ),
    case(
        Root,
        Both,
        "touch $D/ipc $D/cg; $US --ipc=$D/ipc --cgroup=$D/cg true
        a=$($N --ipc=$D/ipc --cgroup=$D/cg sh -c 'readlink /proc/self/ns/ipc /proc/self/ns/cgroup')
        b=$(for f in ipc cg; do stat -Lc %i $D/$f; done)
        [ \"$(echo \"$a\" | tr -dc '0-9\\n')\" = \"$b\" ] && echo same",
    ),
    case(
        Root,
        Both,
        "touch $D/mnt; mkdir $D/m
        # This kernel refuses (EINVAL), now and then, to bind a mount
        # namespace made from inside another new one, or to enter the one
        # it bound, even a moment later: tried again, the binding undone
        # between; the entering under test is tried again too (a tool
        # that cannot enter fails every time).
        for i in 1 2 3 4 5 6 7 8; do
            $US --mount=$D/mnt sh -c \"mount -t tmpfs none $D/m; touch $D/m/hello\" 2>/dev/null &&
                /usr/bin/nsenter --mount=$D/mnt true 2>/dev/null && break
            umount $D/mnt 2>/dev/null
        done
        ls $D/m | wc -l
        for i in 1 2 3 4 5 6 7 8; do seen=$($N --mount=$D/mnt ls $D/m 2>&1) && break; sleep 0.1; done
        echo \"$seen\"",
    ),
    case(
        Root,
        Both,
        "touch $D/pid; $US --pid=$D/pid -f --mount-proc true; $N --pid=$D/pid sh -c 'echo $$'
        touch $D/pid2; start --pid=$D/pid2 -f --mount-proc; $N --pid=$D/pid2 sh -c 'echo $$'",
    ),
    case(
        Root,
        Both,
        "touch $D/time; $US --time=$D/time --boottime 50 true; $N --time=$D/time cat /proc/self/timens_offsets",
    ),
    case(
        Root,
        Both,
        "touch $D/user; $US --user=$D/user --map-user=7 --map-group=7 true
        $N --user=$D/user -S 7 -G 7 sh -c 'cat /proc/self/uid_map; id -u; id -g'",
    ),
    // 2.42 says "setgid()" where 2.38 said "setgid".
    case(
        Root,
        Newest,
        "touch $D/user; $US --user=$D/user --map-user=7 --map-group=7 true; $N --user=$D/user true",
    ),
    case(
        Root,
        Both,
        "touch $D/uts; SETUP='hostname live' start --uts=$D/uts; $N -t $T -u hostname; $N --uts=$D/uts hostname",
    ),
    // A file given overrides -a's for its type; short values are attached.
    case(
        Root,
        Both,
        "touch $D/uts; $US --uts=$D/uts hostname filed; SETUP='hostname targeted' start -u; $N -t $T -a --uts=$D/uts hostname; $N -t $T -u$D/uts hostname",
    ),
    case(Root, Newest, "touch $D/uts; $US --uts=$D/uts hostname eq; $N -u=$D/uts hostname; $N -r=/ -u=$D/uts true"),
    // Namespace IDs (2.42; Linux 6.19 opens them, older kernels say why).
    case(
        Root,
        Newest,
        "SETUP='hostname byid' start -u; i=$(nsid /proc/$T/ns/uts); $N --uts=:$i hostname 2>&1 | sed \"s/$i/ID/\"",
    ),
    case(Root, Newest, "$N --net=:x true; $N --net=: true; $N -n:-1 true; $N --net=./:x true"),
    // Root and working directory.
    case(
        Root,
        Both,
        "mkdir -p $D/w; SETUP=\"cd $D/w\" start -m; cd /usr; $N -t $T -m -w pwd; $N -t $T -m pwd; $N -t $T -m -w/tmp pwd",
    ),
    case(
        Root,
        Both,
        "start -m -R $ROOT; $N -t $T -m -r /bin/sh -c 'pwd; ls /probe; ls /bin/busybox'",
    ),
    case(
        Root,
        Both,
        "mkdir -p $ROOT/sub; SETUP='cd /sub' start -m -R $ROOT; $N -t $T -m -r -w /bin/sh -c 'pwd'",
    ),
    case(Root, Both, "cd /usr; $N -n/proc/self/ns/net -r$ROOT /bin/sh -c pwd; $N -n/proc/self/ns/net -r$ROOT -w/ /bin/sh -c pwd"),
    case(
        Root,
        Newest,
        "mkdir -p $ROOT/in; start -m; $N -t $T -m -r$ROOT -W/in /bin/sh -c pwd; $N -t $T -m -W$D pwd; $N -t $T -m -W/nonexistent true",
    ),
    case(Root, Newest, "start -m; $N -t $T -m -w -W true; $N -t $T -m -W/tmp --wd true"),
    // The environment of the target.
    case(
        Root,
        Newest,
        "WRAP='env -i A=1 B=2 A=3 SHELL=/nope PATH=/usr/bin:/bin' start -u; $N -t $T -u -e env; $N -t $T -u -e sh -c 'echo $B'",
    ),
    case(Root, Newest, "WRAP='env -i' start -u; $N -t $T -u -e /usr/bin/env | wc -c"),
    // Ids and capabilities.
    case(Root, Both, "start -n; $N -t $T -n -S 65534 -G 65534 sh -c 'id -u; id -g; id -G'"),
    case(Root, Both, "start -n; $N -t $T -n -G 5 sh -c 'id -u; id -g; id -G'"),
    case(Root, Both, "start -r; $N -t $T -U -S 0 -G 0 sh -c 'id -u; id -g'"),
    case(Root, Both, "start --map-user=3 --map-group=4; $N -t $T -U -S 3 -G 4 sh -c 'id -u; id -g'"),
    case(Root, Newest, "start --map-user=3; $N -t $T -U true; echo rc=$?"),
    case(Root, Both, "start -r; $N -t $T -U --preserve-credentials sh -c 'id -u; id -G'"),
    case(
        Root,
        Newest,
        "start --map-user=3 --map-group=4; $N -t $T -U -S follow -G follow sh -c 'id -u; id -g'",
    ),
    case(Root, Newest, "start -n; $NB $N -t $T -n -S follow true; $N -t $T -n -S follow -G follow id -u"),
    case(Root, Newest, "start -r -n; $N -t $T -U -n --keep-caps grep CapAmb /proc/self/status"),
    // util-linux enters a user namespace asked for alone in its first
    // pass, where --keep-caps is not looked at.
    case(Root, Newest, "start -r; $N -t $T -U --keep-caps grep CapAmb /proc/self/status"),
    case(Root, Both, "start -r -n; $N -t $T -U -n grep CapAmb /proc/self/status"),
    // --user-parent: nested user namespaces.
    case(
        Root,
        Newest,
        "SETUP='readlink /proc/self/ns/user > $D/outer; exec $US -r sh -c \"exec sleep 1000001\"' start -r
        until T=$(pgrep -xf 'sleep 1000001' | tail -1) && [ \"$(readlink /proc/$T/ns/user)\" != \"$(cat $D/outer)\" ]; do sleep 0.02; done
        $N -t $T --user-parent readlink /proc/self/ns/user | cmp -s - $D/outer && echo the parent
        $N -t $T -U --user-parent readlink /proc/self/ns/user | cmp -s - $D/outer && echo the parent again",
    ),
    case(Root, Newest, "start -u; $N -t $T --user-parent true; $N -t $T -u --user-parent true"),
    // -N: the network namespace of one of the target's sockets.
    case(
        Root,
        Newest,
        "ip link set lo up; exec 7<>/dev/udp/127.0.0.1/9; start -n; exec 7>&-
        readlink /proc/self/ns/net > $D/box
        $N -t $T -N 7 readlink /proc/self/ns/net | cmp -s - $D/box && echo the box
        $N -t $T -n readlink /proc/self/ns/net | cmp -s - $D/box || echo not with -n
        $N -t $T -N 0 true; $N -t $T -N 99 true; $N -N 7 true; $N -t $T -N -3 -u true
        $N -t $T -N -4294967289 readlink /proc/self/ns/net | cmp -s - $D/box && echo wrapped to 7",
    ),
    // -c: the target's cgroup (cgroup v2 only).
    case(
        Root,
        Newest,
        "start -u; $N -t $T -u -c true
        mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null || echo no cgroup2
        $N -t $T -u -c sh -c 'cat /proc/self/cgroup | grep -c \"^0::/$\"'",
    ),
    // Forking, exit statuses and signals.
    case(Root, Both, "start -u; $N -t $T -u true; echo $?; $N -t $T -u false; echo $?"),
    case(Root, Both, "start -pf; $N -t $T -p sh -c 'exit 42'; echo $?"),
    case(Root, Both, "start -pf; status $N -t $T -p sh -c 'kill -TERM $$'"),
    case(Root, Both, "start -pf; status $N -t $T -p sh -c 'kill -INT $$'"),
    case(Root, Both, "start -pf; status $N -t $T -p -F sh -c 'kill -HUP $$'"),
    case(Root, Both, "start -u; status $N -t $T -u sh -c 'kill -USR1 $$'"),
    case(Root, Both, "start -pf; status $N -t $T -p sh -c 'kill -PIPE $$'"),
    case(Root, Both, "start -pf; status $N -t $T -p sh -c 'kill -KILL $$'"),
    case(Root, Both, "start -pf; yes | $N -t $T -p head -1; echo ${PIPESTATUS[1]}"),
    case(
        Root,
        Both,
        "start -pf; $N -t $T -p sh -c 'kill -STOP $$; echo resumed' & p=$!
        until [ \"$(cut -d' ' -f3 /proc/$p/stat)\" = T ]; do sleep 0.02; done
        echo stopped; kill -CONT $p; wait $p; echo rc=$?",
    ),
    case(Root, Both, "start -u; $N -t $T -u nonexistent-program; echo $?; $N -t $T -u /etc/passwd; echo $?"),
    case(Root, Both, "start -u; SHELL=/bin/echo $N -t $T -u; unset SHELL; $N -t $T -u < /dev/null; echo rc=$?"),
    // Errors: no such process, not permitted, missing files, bad values.
    case(Root, Both, "$N -t 99999 -n true; $N -t 99999 --uts=/proc/self/ns/uts true"),
    // 2.38 says "neither filename nor target pid supplied for ns/net" for
    // the first, and runs the program without entering anything for the
    // second.
    case(Root, Newest, "$N -n true; $N --net=$D/missing true; $N --net=$D/missing -u true"),
    case(Root, Newest, "$N true; $N -F true; $N -t 1 -F true"),
    case(Root, Both, "$N -r true; $N -w true; $N -n/proc/self/ns/net -r true"),
    // 2.38 has no pidfds: its messages name the namespace file.
    case(Root, Newest, "start -u; $N -t $T -U true; $N -t $T -r$D/missing true; $N -t $T -w$D/missing -u true"),
    case(Root, Both, "start -u; $N -t $T -u$D/missing -n true; $N -t $T -S abc -u true; $N -t $T -G x true"),
    case(Root, Newest, "start -r; $NB $N -t $T -U true; $NB $N -t $T -n true"),
    case(Root, Both, "$N --bogus; $N -x; $N -t; $N --all=x; $N --target"),
    case(Root, Newest, "$N --u; $N -t abc -n true; $N -t 0 true; $N -t 5:0 true; $N -S -1 true; $N -N x true"),
    case(Root, Newest, "$N -a; $N -t 99999 -a true; $N -t 99999 -n true"),
    case(
        Root,
        Newest,
        "SETUP='hostname byino' start -u; $N -t $T:1 -u true; i=$(pidfdino $T); $N -t $T:$i -u hostname",
    ),
    // The inode is read more loosely than the pid: its leading number,
    // saturated at 64 bits, negative refused; the rest of its text is
    // refused only once the process has that inode (before -h, after the
    // options before it).
    case(
        Root,
        Newest,
        "SETUP='hostname loose' start -u; i=$(pidfdino $T)
        $N -t \"$T:${i}x\" -u hostname; $N -t \"$T:$i:1\" -u hostname; $N -t \"$T: +$i\" -u hostname
        $N -t $T:99999999999999999999999 -u true; $N -t $T:-$i -u true; $N -t \"$T :$i\" -u true
        $N -t \"$T:${i}1x\" -u true; $N -n$D/missing -t \"$T:${i}x\"; $N -t \"$T:$i \" -h | head -1",
    ),
    case(Root, Newest, "$N --net=$D/missing --help; $N -x --help; $N -r$D/missing --version"),
    case(Root, Newest, "SETUP='hostname z' start -u; $N -t $T -Z -u hostname; $N -Z true"),
    Case {
        compare: Compare::Status,
        ..case(Root, Both, "$N --help; $N -V; $N -h --bogus")
    },
    // As nobody, entering the user namespace of its own container.
    case(
        Nobody,
        Both,
        r#"ustart -r -muinpCTf; nsin "$($NB $N -t $T -a --preserve-credentials sh -c "$NSLIST")""#,
    ),
    case(
        Nobody,
        Both,
        "SETUP='hostname mine' ustart -r -u -n; $NB $N -t $T -U -u -n --preserve-credentials sh -c 'hostname; id -u; id -g; ip -o link | wc -l'",
    ),
    case(
        Nobody,
        Both,
        "ustart -r -muinpCTf --mount-proc; $NB $N -t $T -a --preserve-credentials sh -c 'echo $$; cat /proc/self/uid_map'",
    ),
    case(
        Nobody,
        Newest,
        "ustart -r -u -n; $NB $N -t $T -a true; echo rc=$?; $NB $N -t $T -U -u true; echo rc=$?",
    ),
    case(
        Nobody,
        Both,
        "ustart --map-user=0 --map-group=0 -n; $NB $N -t $T -U -n --preserve-credentials -S 0 -G 0 sh -c 'id -u; id -g'",
    ),
    case(
        Nobody,
        Both,
        "mkdir -p $D/w; chmod 777 $D/w; SETUP=\"cd $D/w\" ustart -r -m; cd /; $NB $N -t $T -U -m --preserve-credentials -w pwd",
    ),
    case(Nobody, Newest, "ustart -r -n; $NB $N -t $T -n true; $NB $N -t 1 -n true"),
    case(
        Nobody,
        Newest,
        "ustart -r -n; $NB $N -t $T -U -n --preserve-credentials --keep-caps grep CapAmb /proc/self/status",
    ),
    case(Nobody, Newest, "WRAP='env -i X=y' ustart -r -u; $NB $N -t $T -U -u --preserve-credentials -e /usr/bin/env"),
    case(Nobody, Both, "ustart -r -pf; status $NB $N -t $T -U -p --preserve-credentials sh -c 'kill -TERM $$'"),
];

/// Where we differ from util-linux on purpose: (who, script, our stdout,
/// the reference's stdout). The reference's is checked too, so that the
/// reason for the difference stays true.
const DEVIATIONS: &[(Who, &str, &str, &str)] = &[
    // A child killed by a signal its parent inherited ignored: util-linux
    // nsenter kills itself with the signal, which it ignores, and exits 1;
    // we restore the default first and die of it, as util-linux unshare
    // and ns-unshare do, so the caller sees what killed the program.
    (
        Root,
        "start -pf; trap '' INT; status $N -t $T -p perl -e '$SIG{INT} = q(DEFAULT); kill q(INT), $$; sleep 1'",
        "signal 2\n",
        "exit 1\n",
    ),
    (
        Nobody,
        "ustart -r -pf; trap '' TERM; status $NB $N -t $T -U -p --preserve-credentials perl -e '$SIG{TERM} = q(DEFAULT); kill q(TERM), $$; sleep 1'",
        "signal 15\n",
        "exit 1\n",
    ),
];

/// A normalised run: this run's directory reads `$D`, pids read `PID`.
fn normalise(outcome: &mut Outcome, dir: &Path) {
    let dir = dir.to_string_lossy().into_owned();
    for text in [&mut outcome.stdout, &mut outcome.stderr] {
        let mut out = text.replace(&dir, "$D");
        for lead in ["/proc/", "for PID ", "pidfd_open() for "] {
            out = replace_numbers_after(&out, lead);
        }
        *text = out;
    }
}

/// Every number right after `lead` becomes `PID`.
fn replace_numbers_after(text: &str, lead: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(lead) {
        let (before, after) = rest.split_at(at + lead.len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PID");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Everything a run needs: our `nsenter` (a symlink to ns-nsenter, so it
/// is invoked by that name) and a busybox root.
type Setup = ProbeBox;

fn setup() -> Setup {
    ProbeBox::new("nsenter", "ns-nsenter", &[])
}

/// The nsenter of a release, as one shell word list.
fn reference_command(release: Release) -> String {
    match release {
        // Found in PATH, so that getopt's messages say `nsenter:`.
        Release::Host => "nsenter".to_string(),
        Release::Newest => {
            let root = reference::newest_root();
            format!(
                "{loader} --argv0 nsenter --library-path {root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu {root}/usr/bin/nsenter",
                loader = root.join("lib64/ld-linux-x86-64.so.2").display(),
                root = root.display()
            )
        }
    }
}

/// Runs one case in a throwaway box, with our nsenter or the reference.
fn run_case(setup: &Setup, nsenter: &str, case: &Case) -> Outcome {
    let dir = TempDir::new("nsenter-case");
    // Writable by root in a user namespace that does not map its owner,
    // and by nobody.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod case dir");
    let script = format!("{PREAMBLE}\n{}", case.script);
    let mut outcome = nstools_tests::TestCommand::new("timeout")
        .args([
            "-s",
            "KILL",
            "60",
            "/usr/bin/unshare",
            "--mount",
            "--uts",
            "--net",
            "--ipc",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
        ])
        .args(["--", "bash", "-c", &script])
        .env("N", nsenter)
        .env("US", bin("ns-unshare"))
        .env("PROBE", bin("nsenter-probe"))
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("D", dir.path())
        .env("ROOT", &setup.root)
        .env("LC_ALL", "C")
        .env_remove("SHELL")
        .current_dir("/")
        .run();
    normalise(&mut outcome, dir.path());
    outcome.command = case.script.to_string();
    outcome
}

fn compare(release: Release, who: Who) {
    if !require_root() {
        return;
    }
    let setup = setup();
    let ours = setup.ours.join("nsenter").display().to_string();
    let theirs = reference_command(release);
    let mut failures = Vec::new();
    let mut count = 0;
    for case in CASES {
        if case.who != who || (release == Release::Host && case.releases == Newest) {
            continue;
        }
        count += 1;
        let reference = run_case(&setup, &theirs, case);
        let mine = run_case(&setup, &ours, case);
        // NSTOOLS_SHOW_CASES=1 shows what each case saw, to check by eye.
        if std::env::var_os("NSTOOLS_SHOW_CASES").is_some() {
            eprintln!("=== {reference}");
        }
        let difference = match case.compare {
            Compare::All => differences(&mine, &reference, Stderr::Identical),
            Compare::Status => {
                let same = (mine.code, mine.signal) == (reference.code, reference.signal)
                    && mine.stderr.is_empty() == reference.stderr.is_empty();
                (!same).then(|| format!("status differs\nours: {mine}\nreference: {reference}"))
            }
        };
        if let Some(difference) = difference {
            failures.push(format!("case {:?}:\n{difference}", case.script));
        }
    }
    assert!(count > 0, "no case ran");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ from {}:\n{}",
        failures.len(),
        reference::version(release, "nsenter"),
        failures.join("\n")
    );
}

fn deviations(who: Who) {
    if !require_root() {
        return;
    }
    let setup = setup();
    let ours = setup.ours.join("nsenter").display().to_string();
    let theirs = reference_command(Release::Newest);
    let mut failures = Vec::new();
    for (_, script, expected, reference_says) in DEVIATIONS.iter().filter(|d| d.0 == who) {
        let case = case(who, Newest, script);
        for (nsenter, expected) in [(&ours, expected), (&theirs, reference_says)] {
            let outcome = run_case(&setup, nsenter, &case);
            if outcome.stdout != *expected || outcome.code != Some(0) {
                failures.push(format!("expected stdout {expected:?}; got {outcome}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deviations_from_2_42_as_root() {
    deviations(Root);
}

#[test]
fn deviations_from_2_42_unprivileged() {
    deviations(Nobody);
}

#[test]
fn differential_2_42_as_root() {
    compare(Release::Newest, Root);
}

#[test]
fn differential_2_42_unprivileged() {
    compare(Release::Newest, Nobody);
}

#[test]
fn differential_2_38_as_root() {
    compare(Release::Host, Root);
}

#[test]
fn differential_2_38_unprivileged() {
    compare(Release::Host, Nobody);
}

#[test]
fn there_are_at_least_sixty_cases_of_each_kind_asked_for() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
    assert!(CASES.iter().any(|c| c.who == Nobody && c.releases == Both));
    assert!(CASES
        .iter()
        .any(|c| c.who == Nobody && c.releases == Newest));
}

/// Any command line is read without a panic, and whatever it ends with is
/// one of help, version, a program, or an error util-linux words.
mod properties {
    use proptest::prelude::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn arg() -> impl Strategy<Value = OsString> {
        let words = prop::sample::select(vec![
            "-a",
            "-t",
            "--target",
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-U",
            "-C",
            "-T",
            "-N",
            "--net-socket",
            "-S",
            "-G",
            "follow",
            "-r",
            "-w",
            "-W",
            "--wd",
            "--wdns",
            "-e",
            "-F",
            "-c",
            "-Z",
            "--user-parent",
            "--preserve-credentials",
            "--keep-caps",
            "--u",
            "--n",
            "-h",
            "-V",
            "--",
            "1",
            "0",
            "-1",
            "1:2",
            "1:0",
            ":5",
            ":x",
            "=x",
            "",
            "2147483648",
            "18446744073709551616",
            "/proc/self/ns/net",
            "-mu",
            "-r=/",
        ])
        .prop_map(OsString::from);
        let glued = ("--[a-z-]{1,12}", "[ -~]{0,12}")
            .prop_map(|(name, value)| OsString::from(format!("{name}={value}")));
        let bytes = prop::collection::vec(any::<u8>(), 0..16)
            .prop_map(|bytes| OsString::from_vec(bytes.into_iter().filter(|&b| b != 0).collect()));
        prop_oneof![4 => words, 1 => glued, 1 => bytes]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn nsenter_argv_never_panics(args in prop::collection::vec(arg(), 0..8)) {
            let argv = std::iter::once(OsString::from("nsenter")).chain(args);
            let parsed = ns_unshare::nsenter::cli::parse(argv);
            prop_assert!(parsed.is_ok(), "the reading always comes back");
        }

        #[test]
        fn pids_are_positive_and_inodes_not_zero(text in "[ +:0-9-]{0,14}") {
            if let Some((pid, inode)) = ns_unshare::nsenter::cli::parse_pid(&text) {
                prop_assert!(pid > 0);
                prop_assert!(inode.is_none_or(|inode| inode.value != 0));
            }
        }
    }
}
