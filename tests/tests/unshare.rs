//! ns-unshare against util-linux unshare: each case is a small shell
//! script that runs `$U` (the reference, or ours through a symlink named
//! `unshare` so messages carry the same prefix) and prints what it sees
//! from inside: namespace links, hostname, links, ID maps, propagation,
//! exit statuses. Both runs must agree.
//!
//! The reference is util-linux 2.42.4 (from the cached forky root, run on
//! the host through its loader): every case runs against it. The cases
//! where the host's 2.38.1 does the same ([`Pin::Both`]) run against
//! that too; the test names say which release they pin.
//!
//! Every case runs inside a throwaway namespace made by the host's
//! unshare (`unshare --mount --uts --net --ipc`), so a case that goes
//! wrong cannot change the host's hostname, mounts, network or /etc (the
//! /etc/subuid a case needs is bind-mounted in there). The unprivileged
//! variant runs `$U` as nobody (`setpriv`) inside the same kind of box.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nstools_tests::reference::{self, Release};
use nstools_tests::{
    bin, differences, require_root, Outcome, ProbeBox, Stderr, TempDir, TestCommand, UNPRIVILEGED,
};

/// The host's unshare, which makes each case's throwaway box.
const BOX: &str = "/usr/bin/unshare";

/// Helpers every case script may use.
/// - `cmpns "$(...)"`: for namespace lines printed from inside
///   (`$U ... sh -c "$NSLIST"`), says whether each is the box's own
///   (`same`) or a new one (`new`); inode numbers differ between runs.
/// - `$D`: a directory of this run's own; `$ROOT`: a busybox root.
const PREAMBLE: &str = r#"
ulimit -c 0
nl='
'
NSLIST='for f in /proc/self/ns/*; do echo "${f##*/} $(readlink $f)"; done'
cmpns() {
    outer=$(sh -c "$NSLIST")
    printf '%s\n' "$1" | while read -r t v; do
        case "$nl$outer$nl" in
            *"$nl$t $v$nl"*) echo "$t same" ;;
            *) echo "$t new" ;;
        esac
    done
}
subids() {
    printf '%s:100000:65536\n' "$1" > "$D/subuid"
    cp "$D/subuid" "$D/subgid"
    mount --bind "$D/subuid" /etc/subuid && mount --bind "$D/subgid" /etc/subgid
}
"#;

/// What must agree between the two runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Status, stdout and stderr, byte for byte.
    All,
    /// Status and stdout; stderr only empty or not (wording differs on
    /// purpose: a 2.38 bug, or our added explanation).
    Output,
    /// Status and stderr emptiness (--help, --version: our own text).
    Status,
}

/// Who runs `$U`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    Nobody,
    Both,
}

/// Which releases a case pins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// 2.42.4 and the host's 2.38.1 agree.
    Both,
    /// 2.42.4 only: 2.38.1 lacks the option or words it otherwise.
    Newest,
}

struct Case {
    script: &'static str,
    compare: Compare,
    who: Who,
    pin: Pin,
}

const fn case(who: Who, compare: Compare, script: &'static str) -> Case {
    Case {
        script,
        compare,
        who,
        pin: Pin::Both,
    }
}

/// A case that pins util-linux 2.42.4 only.
const fn newest(who: Who, compare: Compare, script: &'static str) -> Case {
    Case {
        script,
        compare,
        who,
        pin: Pin::Newest,
    }
}

use Compare::{All, Output, Status};
use Who::{Both, Nobody, Root};

const CASES: &[Case] = &[
    // Each namespace type, observed from inside.
    case(Root, All, r#"cmpns "$($U -u sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -m sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -i sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -n sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -p sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -pf sh -c "$NSLIST")""#),
    case(Both, All, r#"cmpns "$($U -U sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -C sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -T sh -c "$NSLIST")""#),
    case(Root, All, r#"cmpns "$($U -Tf sh -c "$NSLIST")""#),
    case(Both, All, r#"cmpns "$($U -rmuinpCTf sh -c "$NSLIST")""#),
    case(
        Root,
        All,
        r#"cmpns "$($U --mount --uts --ipc --net --pid --fork --user --cgroup --time sh -c "$NSLIST")""#,
    ),
    case(Both, All, r#"cmpns "$($U -r --ut --ne --ip sh -c "$NSLIST")""#),
    // What the namespaces change.
    case(Root, All, "$U -u sh -c 'hostname inner; hostname'; hostname | wc -c"),
    case(Both, All, "$U -rn ip -o link | cut -d' ' -f2,3"),
    case(Root, All, "$U -n ip -o addr | wc -l"),
    case(Both, All, "$U -rpf sh -c 'echo $$'"),
    case(Both, All, "$U -rpf --mount-proc sh -c 'echo $$; cat /proc/1/comm; ls -d /proc/[0-9]* > /dev/null'"),
    case(Both, All, "$U -rpf --mount-proc findmnt -no FSTYPE,OPTIONS /proc"),
    case(Root, All, "$U -pf --mount-proc findmnt -no FSTYPE,OPTIONS,PROPAGATION /proc"),
    case(
        Root,
        All,
        "mkdir $D/p; $U -pf --mount-proc=$D/p sh -c \"ls -d $D/p/1 $D/p/self/; findmnt -no FSTYPE $D/p\"",
    ),
    case(
        Root,
        All,
        "mount --make-rshared /; $U -pf --mount-proc --propagation shared findmnt -no PROPAGATION /proc",
    ),
    case(
        Root,
        All,
        "mount --make-rshared /; $U -pf --mount-proc --propagation unchanged findmnt -no PROPAGATION /proc /",
    ),
    case(Root, All, "$U -pf --mount-proc=/nonexistent true"),
    case(Both, All, "$U -rpf --mount-proc -R $ROOT /bin/sh -c 'ls -d /proc/1'"),
    // Propagation.
    case(Root, All, "mount --make-rshared /; $U -m findmnt -no PROPAGATION /"),
    case(Root, All, "mount --make-rshared /; $U -m --propagation shared findmnt -no PROPAGATION /"),
    case(Root, All, "mount --make-rshared /; $U -m --propagation slave findmnt -no PROPAGATION /"),
    case(Root, All, "mount --make-rshared /; $U -m --propagation private findmnt -no PROPAGATION /"),
    case(Root, All, "mount --make-rshared /; $U -m --propagation unchanged findmnt -no PROPAGATION /"),
    case(Root, All, "mount --make-rshared /; $U -u --propagation slave findmnt -no PROPAGATION /"),
    case(Both, All, "$U -rm sh -c 'mount -t tmpfs none $D && findmnt -no FSTYPE $D'; findmnt -no FSTYPE $D | wc -l"),
    // User namespaces and maps.
    case(
        Both,
        All,
        "$U -r sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'",
    ),
    case(
        Both,
        All,
        "$U -c sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'",
    ),
    case(Both, All, "$U --map-user=1000 --map-group=1000 sh -c 'id -u; id -g; cat /proc/self/uid_map'"),
    case(Both, All, "$U --map-user=nobody --map-group=nogroup sh -c 'id -u; id -g'"),
    case(Both, All, "$U --map-user=0 sh -c 'id -u; id -g; cat /proc/self/setgroups; wc -c < /proc/self/gid_map'"),
    case(Both, All, "$U --map-group=0 sh -c 'id -g; cat /proc/self/setgroups'"),
    case(Both, All, "$U -U sh -c 'id -u; id -g; wc -c < /proc/self/uid_map'"),
    case(Both, All, "$U -U --setgroups deny cat /proc/self/setgroups"),
    case(Root, All, "$U -U --setgroups allow cat /proc/self/setgroups"),
    case(Both, All, "$U -r --setgroups allow true"),
    case(Both, All, "$U -r --setgroups=deny cat /proc/self/setgroups"),
    newest(Both, All, "$U --map-user=nosuchuser true"),
    newest(Both, All, "$U --map-group=nosuchgroup true"),
    case(
        Root,
        All,
        "subids root; $U --map-users=100000,0,10 --map-groups=100000,0,10 cat /proc/self/uid_map /proc/self/gid_map",
    ),
    case(Root, All, "subids root; $U --map-auto cat /proc/self/uid_map /proc/self/gid_map"),
    case(Root, All, "subids root; $U --map-users=auto cat /proc/self/uid_map"),
    case(
        Root,
        All,
        "subids root; $U --map-users=100000,0,1000 --map-user=5 cat /proc/self/uid_map",
    ),
    case(Nobody, All, "subids nobody; $U --map-auto sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u'"),
    // 2.42: the auto block moves up past root and keeps every ID (2.38.1
    // lost the topmost one).
    newest(Nobody, All, "subids nobody; $U --map-auto --map-root-user cat /proc/self/uid_map"),
    newest(Nobody, All, "subids nobody; $U --map-auto --map-user=5 cat /proc/self/uid_map"),
    case(Nobody, All, "subids nobody; $U --map-users=200000,0,10 true"),
    case(Both, Output, "subids 1000; $U --map-auto true"),
    newest(Both, All, "subids 1000; $U --map-auto true"),
    // 2.42: --map-subids and subids|all, INNER:OUTER:COUNT blocks.
    newest(Root, All, "subids root; $U --map-subids cat /proc/self/uid_map /proc/self/gid_map"),
    newest(Root, All, "subids root; $U --map-users=subids --map-user=100005 cat /proc/self/uid_map"),
    newest(Nobody, All, "subids nobody; $U --map-subids sh -c 'cat /proc/self/uid_map; id -u'"),
    newest(Both, All, "subids 1000; $U --map-subids true"),
    newest(
        Root,
        All,
        "$U --map-users=all --map-groups=all sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u'",
    ),
    newest(
        Root,
        All,
        "$U --map-users=all -r cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
    ),
    newest(
        Both,
        All,
        "$U -r sh -c \"$U --map-users=all --map-groups=all cat /proc/self/uid_map /proc/self/gid_map\"",
    ),
    newest(Nobody, All, "$U --map-users=all true"),
    newest(
        Root,
        All,
        "$U --map-users=0:100000:10 --map-users=10:200000:5 --map-groups 0:100000:1 cat /proc/self/uid_map /proc/self/gid_map",
    ),
    newest(
        Root,
        All,
        "$U --map-users=0:100000:65536 --map-user=0 --map-group=0 --map-groups=0:100000:65536 sh -c 'id -u; id -g; cat /proc/self/uid_map'",
    ),
    newest(Both, All, "$U --map-users=1:2 true; $U --map-users=0:1:2:3 true; $U --map-groups=x true"),
    newest(Both, All, "$U --map-user=-1 true; $U --map-user=' 5' id -u; $U --map-user=5x true"),
    newest(Both, All, "$U --map-user= true; $U --map-group=4294967295 true; $U --map-user=+0 id -u"),
    newest(Both, All, "$U --map-user=4294967296 true; $U --map-user=4294967295 true"),
    // 2.42's --owner: root creates a user namespace that nobody owns.
    newest(Root, All, "$U --owner 65534:65534 sh -c 'id -u; wc -l < /proc/self/uid_map'"),
    newest(
        Root,
        All,
        "$U --owner 65534:65534 -r sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map'",
    ),
    newest(
        Root,
        All,
        "$U --owner=65534:65534 --map-user=65534 --map-group=65534 sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'",
    ),
    newest(
        Root,
        All,
        "touch $D/u; $U --owner 65534:65534 --map-users=0:65534:1 --map-groups=0:65534:1 --user=$D/u true
        setpriv --reuid 65534 --regid 65534 --clear-groups nsenter --user=$D/u sh -c 'id -u; id -g; grep CapEff /proc/self/status'
        umount $D/u",
    ),
    newest(Root, All, "$U --owner 65534:0 -m sh -c 'id -u; id -g'"),
    newest(Root, All, "$U --owner=-1:-1 sh -c 'id -u; wc -l < /proc/self/uid_map'"),
    newest(Root, All, "$U --owner 65534:65534 --map-user=0 --map-group=0 sh -c 'id -u; cat /proc/self/uid_map'"),
    newest(Both, All, "$U --owner 1:2:3 true; $U --owner x true; $U --owner 1 true; $U --owner"),
    newest(Nobody, All, "$U --owner 65534:65534 true; $U --owner 0:-1 true"),
    // 2.42's --mount-binfmt and --load-interp: the user namespace's own
    // binfmt_misc (Linux 6.7+; before, both fail alike).
    newest(Root, All, "$U --mount-binfmt true"),
    newest(Both, All, "$U -r --mount-binfmt -pf ls /proc/sys/fs/binfmt_misc"),
    newest(Both, All, "$U -r --mount-binfmt=$D findmnt -no FSTYPE,OPTIONS $D"),
    newest(Both, All, "$U -r --mount-binfmt=/nonexistent true"),
    newest(Both, All, "$U -rpf -l :t:E::tst::/bin/sh: cat /proc/sys/fs/binfmt_misc/t"),
    newest(Both, All, "$U -rpf --mount-binfmt=$D --load-interp=:t:E::tst::/bin/sh: ls $D"),
    newest(Both, All, "$U -rpf --mount-binfmt=/nonexistent -l :t:E::tst::/bin/sh: true"),
    newest(Both, All, "$U -rpf -l bogus true; $U -rpf -l ':t:E::tst::/bin/sh:' -l ':t:E::tst::/bin/sh:' true"),
    newest(
        Both,
        All,
        "cp -a $ROOT $D/r; printf 'echo hi from $0\\n' > $D/r/x.tst; chmod 755 $D/r/x.tst
        $U -rpf -l \":t:E::tst::$D/r/bin/sh:F\" -R $D/r /x.tst
        $U -rpf -l \":t:E::tst::$D/r/bin/sh:\" -R $D/r /x.tst",
    ),
    newest(Both, All, "$U -l"),
    case(Both, Output, "$U --map-users=1,2 true"),
    case(Both, Output, "$U --map-users=1,2,3,4 true"),
    // Exit statuses and signals.
    case(Both, All, "$U true; echo $?; $U false; echo $?"),
    case(Both, All, "$U -r sh -c 'exit 42'; echo $?"),
    case(Both, All, "$U -rf sh -c 'exit 42'; echo $?"),
    case(Root, All, "exec $U -f sh -c 'kill -TERM $$'"),
    case(Both, All, "exec $U -rf sh -c 'kill -INT $$'"),
    case(Root, All, "exec $U -f sh -c 'kill -HUP $$'"),
    case(Root, All, "exec $U -f sh -c 'kill -USR1 $$'"),
    case(Root, All, "exec $U -f sh -c 'kill -ALRM $$'"),
    case(Root, All, "exec $U -f sh -c 'kill -PIPE $$'"),
    case(Root, All, "exec $U -f sh -c 'kill -ABRT $$'"),
    case(Both, All, "exec $U -rpf sh -c 'kill -TERM $$; sleep 1'"),
    case(Root, All, "exec $U sh -c 'kill -TERM $$'"),
    case(Both, All, "$U -rf sh -c 'kill -TERM $$'; echo rc=$?"),
    case(Both, All, "yes | $U -rf head -1; echo ${PIPESTATUS:-x}"),
    case(Both, All, "$U -r sh -c 'yes | head -2'"),
    // 2.42 dies of the child's SIGKILL too (2.38.1 exits 1).
    // (The shell's own "Killed" line names a pid: left out.)
    newest(Both, All, "{ $U -rf sh -c 'kill -KILL $$'; echo rc=$?; } 2>/dev/null"),
    newest(Root, All, "{ $U -f sh -c 'kill -SEGV $$'; echo rc=$?; } 2>/dev/null"),
    // 2.42's --forward-signals: SIGTERM reaches the child.
    newest(
        Both,
        All,
        "$U -r --forward-signals sh -c 'trap \"echo got TERM; exit 3\" TERM; touch $D/ready; while :; do sleep 0.05; done' & p=$!
        while [ ! -e $D/ready ]; do sleep 0.01; done; kill -TERM $p; wait $p; echo rc=$?",
    ),
    // The parent waits through SIGTERM and SIGINT instead of dying.
    case(
        Root,
        All,
        "$U -f sh -c 'sleep 0.5; echo child done' & p=$!; sleep 0.2; kill -TERM $p; kill -INT $p; wait $p; echo rc=$?",
    ),
    // --kill-child: no orphan survives; without it, the child lives on.
    case(
        Both,
        All,
        "$U -r --kill-child sh -c 'echo $$ > $D/child; exec sleep 30' & p=$!
        while [ ! -s $D/child ]; do sleep 0.01; done; c=$(cat $D/child)
        kill -KILL $p; wait $p 2>/dev/null; echo unshare=$?
        for i in $(seq 200); do kill -0 $c 2>/dev/null || break; sleep 0.01; done
        kill -0 $c 2>/dev/null && { echo alive; kill -KILL $c; } || echo gone",
    ),
    case(
        Root,
        All,
        "$U --kill-child=SIGTERM sh -c 'echo $$ > $D/child; exec sleep 30' & p=$!
        while [ ! -s $D/child ]; do sleep 0.01; done; c=$(cat $D/child)
        kill -KILL $p; wait $p 2>/dev/null; echo unshare=$?
        for i in $(seq 200); do kill -0 $c 2>/dev/null || break; sleep 0.01; done
        kill -0 $c 2>/dev/null && { echo alive; kill -KILL $c; } || echo gone",
    ),
    case(
        Root,
        All,
        "$U -f sh -c 'echo $$ > $D/child; exec sleep 30' & p=$!
        while [ ! -s $D/child ]; do sleep 0.01; done; c=$(cat $D/child)
        kill -KILL $p; wait $p 2>/dev/null; echo unshare=$?; sleep 0.1
        kill -0 $c 2>/dev/null && { echo alive; kill -KILL $c; } || echo gone",
    ),
    // --kill-child with a PID namespace: the whole tree goes.
    case(
        Root,
        All,
        "$U -pf --kill-child --mount-proc sh -c 'sleep 31.5 & touch $D/ready; wait' & p=$!
        while [ ! -e $D/ready ]; do sleep 0.01; done; kill -KILL $p; wait $p 2>/dev/null
        for i in $(seq 200); do pgrep -fx 'sleep 31.5' > /dev/null || break; sleep 0.01; done
        pgrep -fx 'sleep 31.5' > /dev/null && echo left || echo none left",
    ),
    case(Both, All, "$U --kill-child=FOO true"),
    case(Both, All, "$U --kill-child=9 true"),
    case(Both, All, "$U -r --kill-child=rtmin+2 --kill-child=sigterm true; echo $?"),
    // Programs that cannot run; the shell when there is no program.
    case(Both, All, "$U nope"),
    case(Both, All, "$U -r /etc/passwd"),
    case(Both, All, "$U -r /tmp"),
    case(Both, All, "$U -rf nope; echo $?"),
    case(
        Both,
        All,
        "printf '#!/bin/sh\\necho \"arg0=$0 args=$#\"\\n' > $D/probe; chmod 755 $D/probe; SHELL=$D/probe $U -r",
    ),
    case(Both, All, "SHELL=/nonexistent $U -r"),
    // No program and no $SHELL: the shell of the passwd entry (2.38.1
    // ran /bin/sh).
    newest(Both, All, "$U -r -R $ROOT"),
    case(Both, All, "$U -r -- echo -m --bogus; $U -r echo -u --"),
    // Usage errors and bad values.
    case(Both, All, "$U -x"),
    case(Both, All, "$U --bogus"),
    newest(Both, All, "$U --map"),
    newest(Both, All, "$U --m true; $U --mount- true; $U --map-u=0 true; $U --s true; $U --o"),
    case(Both, All, "$U -S"),
    case(Both, All, "$U --fork=1 true"),
    case(Both, All, "$U -m/tmp true"),
    case(Both, All, "$U --propagation foo true"),
    case(Both, All, "$U --propagation"),
    case(Both, All, "$U --setgroups maybe true"),
    case(Both, All, "$U -S x true"),
    case(Both, All, "$U -G 1x true"),
    case(Both, All, "$U -T --monotonic 5x true"),
    case(Both, Output, "$U --monotonic 5 true"),
    newest(Both, All, "$U --monotonic 5 true"),
    newest(Both, All, "$U -S -5 true; $U -G -1 true; $U -r -S 4294967296 id -u"),
    newest(Both, All, "$U -T --boottime=18446744073709551615 true"),
    case(Both, Status, "$U -h"),
    case(Both, Status, "$U -V"),
    case(Nobody, Output, "$U -m true"),
    case(Nobody, Output, "$U -un true"),
    // Root, working directory, ids, capabilities.
    case(Both, All, "$U -r -R $ROOT /bin/sh -c 'pwd; ls /'"),
    case(Both, All, "$U -r -R $ROOT -w /bin pwd"),
    case(Both, All, "$U -r -R /nonexistent true"),
    newest(Both, All, "$U -r -w /nonexistent true"),
    case(Both, All, "$U -r -w $D pwd"),
    // Names that are not UTF-8: the directory named is the one used (a
    // lossy conversion would name `x` then U+FFFD), and messages show its
    // bytes; `od -c` makes every byte count.
    case(
        Both,
        All,
        "X=$(printf '%s/x\\377' $D); mkdir -p \"$X\" $(printf '%s/x\\357\\277\\275' $D); $U -r -w \"$X\" pwd | LC_ALL=C sed \"s|$D|D|\" | od -An -c",
    ),
    case(
        Both,
        All,
        "X=$(printf '%s/r\\377' $D); cp -a $ROOT \"$X\"; $U -r -R \"$X\" /bin/sh -c 'pwd; ls /bin/sh'",
    ),
    newest(
        Both,
        All,
        "cd $D; $U -r -w $(printf 'no\\377') true 2>&1 | od -An -c; $U -r -R $(printf '/no\\376') true 2>&1 | od -An -c",
    ),
    case(
        Root,
        All,
        "X=$(printf '%s/p\\377' $D); mkdir \"$X\"; $U -pf --mount-proc=\"$X\" sh -c \"ls -d '$X'/1\" | LC_ALL=C sed \"s|$D|D|\" | od -An -c",
    ),
    case(Root, All, "$U -S 65534 -G 65534 sh -c 'id -u; id -g; id -G'"),
    case(Both, All, "$U -r -S 0 -G 0 sh -c 'id -u; id -G'"),
    newest(Both, All, "$U -U -S 5 true"),
    case(Both, All, "$U -U -G 5 true"),
    case(Both, All, "$U --map-user=1 --keep-caps grep Cap /proc/self/status"),
    case(Both, All, "$U --map-user=1 grep Cap /proc/self/status"),
    case(Root, All, "$U --keep-caps grep CapAmb /proc/self/status"),
    // Time namespaces.
    case(
        Both,
        All,
        "$U -r -T --monotonic 5 --boottime=-7 -f cat /proc/self/timens_offsets",
    ),
    case(Root, All, "$U -T --boottime 100 cat /proc/self/timens_offsets"),
    case(
        Root,
        All,
        "a=$(cut -d. -f1 /proc/uptime); b=$($U -T --boottime 100000 -f cut -d. -f1 /proc/uptime)
        [ $((b - a)) -ge 99999 ] && [ $((b - a)) -le 100002 ] && echo shifted",
    ),
    // Persistent namespaces, entered again with nsenter.
    case(
        Root,
        All,
        "touch $D/uts; $U --uts=$D/uts hostname kept; nsenter --uts=$D/uts hostname; umount $D/uts",
    ),
    case(
        Root,
        All,
        "touch $D/net; $U --net=$D/net ip link set lo up; nsenter --net=$D/net ip -o link | cut -d' ' -f2,3",
    ),
    case(
        Root,
        All,
        "touch $D/ipc; $U --ipc=$D/ipc readlink /proc/self/ns/ipc > $D/a
        nsenter --ipc=$D/ipc readlink /proc/self/ns/ipc | cmp -s - $D/a && echo same ipc",
    ),
    case(
        Root,
        All,
        "touch $D/cg; $U --cgroup=$D/cg readlink /proc/self/ns/cgroup > $D/a
        nsenter --cgroup=$D/cg readlink /proc/self/ns/cgroup | cmp -s - $D/a && echo same cgroup",
    ),
    case(
        Root,
        All,
        "touch $D/mnt; mkdir $D/m
        # This kernel refuses (EINVAL), now and then, to bind a mount
        # namespace made from inside another new one, or to enter the one
        # it bound, even a moment later: both tools try again, the binding
        # undone between, and the entering is tried again too.
        for i in 1 2 3 4 5 6 7 8; do
            $U --mount=$D/mnt sh -c \"mount -t tmpfs none $D/m; touch $D/m/hello\" 2>/dev/null &&
                /usr/bin/nsenter --mount=$D/mnt true 2>/dev/null && break
            umount $D/mnt 2>/dev/null
        done
        ls $D/m | wc -l
        for i in 1 2 3 4 5 6 7 8; do seen=$(nsenter --mount=$D/mnt ls $D/m 2>&1) && break; sleep 0.1; done
        echo \"$seen\"",
    ),
    case(
        Root,
        All,
        "touch $D/pid; $U --pid=$D/pid -f --mount-proc sh -c 'echo $$'; findmnt -no FSTYPE $D/pid",
    ),
    case(
        Root,
        All,
        "touch $D/time; $U --time=$D/time --boottime 50 true; nsenter --time=$D/time cat /proc/self/timens_offsets",
    ),
    case(
        Root,
        All,
        "touch $D/uts $D/net $D/ipc; $U --uts=$D/uts --net=$D/net --ipc=$D/ipc -f true; for f in uts net ipc; do findmnt -no FSTYPE $D/$f; done",
    ),
    case(Root, All, "$U --uts=$D/missing true"),
    case(Root, All, "$U --mount=$D/missing true"),
    case(Root, All, "touch $D/pid; $U --pid=$D/pid true"),
    // 2.38.1 could not bind a user namespace it made.
    newest(
        Root,
        All,
        "touch $D/user; $U -r --user=$D/user readlink /proc/self/ns/user > $D/a
        nsenter --user=$D/user readlink /proc/self/ns/user | cmp - $D/a && echo same user",
    ),
    case(Nobody, Output, "touch $D/uts; $U -r --uts=$D/uts true"),
    // The walk-through: every namespace, root mapped, the program in a
    // new root through ns-chroot.
    case(
        Both,
        All,
        "$U --mount --uts --ipc --net --map-root-user --user --pid --fork sh -c 'echo $$; id -u; hostname box; hostname; ip -o link | wc -l; cat /proc/self/setgroups; findmnt -no PROPAGATION /'",
    ),
    case(
        Both,
        All,
        "$U --mount --uts --ipc --net --map-root-user --user --pid --fork --mount-proc $CHROOT $ROOT /bin/sh -c 'echo $$; id -u; ls /; mount -t proc proc /proc && cat /proc/1/comm'",
    ),
];

/// A normalised run: this run's directory reads `$D`, pids read `PID`.
fn normalise(outcome: &mut Outcome, dir: &Path) {
    let dir = dir.to_string_lossy().into_owned();
    for text in [&mut outcome.stdout, &mut outcome.stderr] {
        let mut out = text.replace(&dir, "$D");
        while let Some(at) = out.find("/proc/").and_then(|start| {
            let digits = &out[start + 6..];
            let len = digits.bytes().take_while(u8::is_ascii_digit).count();
            (len > 0).then_some((start + 6, len))
        }) {
            out.replace_range(at.0..at.0 + at.1, "PID");
        }
        *text = out;
    }
}

/// Everything a run needs: a directory with a symlink `unshare` to our
/// tool (put first in PATH for our runs, so both tools are invoked as
/// plain `unshare`, as getopt's messages show argv[0]), and a busybox
/// root.
type Setup = ProbeBox;

fn setup() -> Setup {
    let setup = ProbeBox::new("unshare", "ns-unshare", &[("etc/group", "root:x:0:\n")]);
    std::fs::create_dir_all(setup.root.join("proc")).expect("mkdir proc");
    setup
}

/// Runs one case in a throwaway box, with our tool (`None`) or a
/// reference release.
fn run_case(setup: &Setup, reference: Option<Release>, case: &Case, nobody: bool) -> Outcome {
    let ours = reference.is_none();
    let dir = TempDir::new("unshare-case");
    if nobody {
        std::os::unix::fs::chown(dir.path(), Some(UNPRIVILEGED.0), Some(UNPRIVILEGED.1))
            .expect("chown case dir");
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Ours and the host's are `unshare` in PATH (getopt's messages show
    // argv[0] as given); 2.42.4 runs through the forky root's loader,
    // which gives it argv[0] `unshare` too.
    let tool = match reference {
        Some(Release::Newest) => reference::shell_command(Release::Newest, "unshare"),
        Some(Release::Host) | None => "unshare".to_string(),
    };
    let u = if nobody {
        format!(
            "setpriv --reuid {} --regid {} --clear-groups {tool}",
            UNPRIVILEGED.0, UNPRIVILEGED.1,
        )
    } else {
        tool
    };
    let system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let path = if ours {
        format!("{}:{system_path}", setup.ours.display())
    } else {
        system_path.to_string()
    };
    let script = format!("{PREAMBLE}\n{}", case.script);
    let mut outcome = TestCommand::new("timeout")
        .args([
            "-s", "KILL", "60", BOX, "--mount", "--uts", "--net", "--ipc",
        ])
        .args(["--", "bash", "-c", &script])
        .env("U", &u)
        .env("PATH", &path)
        .env("D", dir.path())
        .env("ROOT", &setup.root)
        .env("CHROOT", bin("ns-chroot"))
        .env("LC_ALL", "C")
        .env_remove("SHELL")
        .current_dir("/")
        .run();
    normalise(&mut outcome, dir.path());
    outcome.command = format!(
        "{} unshare: {}",
        match reference {
            None => "our",
            Some(Release::Newest) => "2.42.4's",
            Some(Release::Host) => "the host's",
        },
        case.script
    );
    outcome
}

fn compare_all(release: Release, nobody: bool) {
    if !require_root() {
        return;
    }
    let setup = setup();
    let mut failures = Vec::new();
    let mut count = 0;
    for case in CASES {
        let applies = match case.who {
            Both => true,
            Root => !nobody,
            Nobody => nobody,
        };
        if !applies || (release == Release::Host && case.pin == Pin::Newest) {
            continue;
        }
        count += 1;
        let reference = run_case(&setup, Some(release), case, nobody);
        let ours = run_case(&setup, None, case, nobody);
        let difference = match case.compare {
            All => differences(&ours, &reference, Stderr::Identical),
            Output => differences(&ours, &reference, Stderr::SameEmptiness),
            Status => {
                let same = (ours.code, ours.signal) == (reference.code, reference.signal)
                    && ours.stderr.is_empty() == reference.stderr.is_empty();
                (!same).then(|| format!("status differs\nours: {ours}\nreference: {reference}"))
            }
        };
        if let Some(difference) = difference {
            let who = if nobody { "as nobody" } else { "as root" };
            failures.push(format!("case {:?} {who}:\n{difference}", case.script));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn differential_against_2_42_4_as_root() {
    compare_all(Release::Newest, false);
}

#[test]
fn differential_against_2_42_4_unprivileged() {
    compare_all(Release::Newest, true);
}

#[test]
fn differential_against_2_38_1_as_root() {
    compare_all(Release::Host, false);
}

#[test]
fn differential_against_2_38_1_unprivileged() {
    compare_all(Release::Host, true);
}

/// Where ours deliberately differs from util-linux 2.42.4: each script's
/// stdout and status are checked against what ours should do.
const OURS_ONLY: &[(Who, &str, &str)] = &[
    // EPERM: util-linux's line, then why.
    (
        Nobody,
        "$U -m true 2>&1; echo rc=$?",
        "unshare: unshare failed: Operation not permitted\nunshare: creating these namespaces needs CAP_SYS_ADMIN; as an unprivileged user, add --user or --map-root-user (-r) to create a user namespace first\nrc=1\n",
    ),
    // (uid_t) -1 is no ID: util-linux 2.42.4 maps `0:4294967295:1` as
    // `0 0 1` (root to root); we refuse it and every range reaching it.
    (
        Root,
        "$U --map-users=0:4294967295:1 cat /proc/self/uid_map 2>&1; echo rc=$?",
        "unshare: invalid mapping '0:4294967295:1': a range may not reach 4294967295 ((uid_t) -1, which is no ID)\nrc=1\n",
    ),
    (
        Root,
        "$U --map-groups=4294967295:0:1 true 2>/dev/null; echo rc=$?
        $U --map-users=4294967290:0:6 true 2>/dev/null; echo rc=$?
        $U --map-users=0:4294967290:5 cat /proc/self/uid_map | tr -s ' '",
        "rc=1\nrc=1\n 0 4294967290 5\n",
    ),
    // util-linux 2.42.4 reads a subuid line's name with strtoul too, and
    // a name that is no number reads as 0: root would get the first
    // range of any such user. Ours takes root's own line only.
    (
        Root,
        "subids nobody; $U --map-auto true 2>&1; echo rc=$?",
        "unshare: no line matching user \"root\" in /etc/subuid\nrc=1\n",
    ),
    // --owner beyond 32 bits: C would cut 4294967296 to root.
    (
        Root,
        "$U --owner 4294967296:0 true 2>&1; echo rc=$?",
        "unshare: failed to parse owner\nrc=1\n",
    ),
];

fn check_ours_only(nobody: bool) {
    if !require_root() {
        return;
    }
    let setup = setup();
    let mut failures = Vec::new();
    for (who, script, expected) in OURS_ONLY {
        if (*who == Root && nobody) || (*who == Nobody && !nobody) {
            continue;
        }
        let case = case(*who, All, script);
        let outcome = run_case(&setup, None, &case, nobody);
        if outcome.stdout != *expected || outcome.code != Some(0) {
            failures.push(format!(
                "expected stdout {expected:?}, status 0; got {outcome}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn beyond_the_reference_as_root() {
    check_ours_only(false);
}

#[test]
fn beyond_the_reference_unprivileged() {
    check_ours_only(true);
}

/// `--forward-signals`: a SIGTERM that reaches the parent before it has
/// stored its child's pid (the child already running, the parent not yet
/// back from fork(2)) must still be passed on, not dropped. The window is
/// short, so many runs at once (each child tells its starter it is ready,
/// the starter sends SIGTERM at once) make the machine busy enough to hit
/// it: before the fix, 13 to 18 of the 64 runs hung here.
#[test]
fn forward_signals_passes_on_a_signal_that_comes_during_the_fork() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("forward-race");
    let script = r#"
one() {
    d=$D/$1; mkdir "$d"
    $U -r --forward-signals sh -c 'trap "exit 3" TERM; : > "$0/ready"; while :; do sleep 0.05; done' "$d" >/dev/null &
    p=$!
    while [ ! -e "$d/ready" ]; do :; done
    kill -TERM $p
    wait $p
    echo "rc=$?" >> "$d/status"
}
for i in $(seq 1 64); do timeout -s KILL 20 bash -c "$(declare -f one); one $i" & done
wait
for i in $(seq 1 64); do cat "$D/$i/status" 2>/dev/null || echo "run $i: no status (hung, killed)"; done | sort | uniq -c
"#;
    let outcome = TestCommand::new(BOX)
        .args([
            "--mount", "--uts", "--net", "--ipc", "--", "bash", "-c", script,
        ])
        .env("U", bin("ns-unshare"))
        .env("D", dir.path())
        .run();
    assert_eq!(outcome.stdout.trim(), "64 rc=3", "{outcome}");
}

/// The kernel runs a program through an interpreter registered with
/// `--load-interp` in the new namespaces only (Linux 6.7+ gives each user
/// namespace its binfmt_misc; older kernels refuse the mount, and this
/// test says so and checks that ours reports it as util-linux does).
#[test]
fn load_interp_runs_a_program_through_its_interpreter() {
    if !require_root() {
        return;
    }
    let setup = setup();
    let script = "cp -a $ROOT $D/r; printf 'echo hi from $0\\n' > $D/r/x.tst; chmod 755 $D/r/x.tst
        $U -rpf -l \":t:E::tst::$D/r/bin/sh:F\" -R $D/r /x.tst 2>&1; echo rc=$?
        $U -rpf -l ':t:E::tst::/bin/sh:' cat /proc/sys/fs/binfmt_misc/t 2>&1
        test -e /proc/sys/fs/binfmt_misc/t && echo leaked || echo not on the host";
    let case = case(Both, All, script);
    let supported = kernel_at_least(6, 7);
    for nobody in [false, true] {
        let outcome = run_case(&setup, None, &case, nobody);
        let expected = if supported {
            "hi from /x.tst\nrc=0\nenabled\ninterpreter /bin/sh\nflags: \nextension .tst\nnot on the host\n"
        } else {
            eprintln!("this kernel gives user namespaces no binfmt_misc of their own (Linux 6.7+): only the failure is checked");
            "unshare: mount /proc/sys/fs/binfmt_misc failed: Operation not permitted\nrc=1\nunshare: mount /proc/sys/fs/binfmt_misc failed: Operation not permitted\nnot on the host\n"
        };
        assert_eq!(outcome.stdout, expected, "{outcome}");
    }
}

/// Whether the running kernel is at least MAJOR.MINOR.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let found = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    found >= (major, minor)
}
