#!/bin/sh
# PID 1 of the nstools initramfs (built by `cargo xtask initramfs`).
# Mounts the API filesystems with ns-mount, runs a container with
# ns-unshare and ns-chroot, looks at it from outside with ns-lsns and
# enters it with ns-nsenter, then mounts the real root and hands over to
# it with ns-switch-root; prints one "NSTOOLS-MARK name" line per step
# that worked (the real root's init goes on). The xtask reads the serial
# console and fails unless every expected mark appeared.
export PATH=/bin
mark() { echo "NSTOOLS-MARK $1"; }
fail() { echo "NSTOOLS-FAIL $1"; }

ns-mount -t proc proc /proc && mark mount-proc || fail mount-proc
ns-mount -t sysfs sysfs /sys && mark mount-sys || fail mount-sys
ns-mount -t devtmpfs devtmpfs /dev && mark mount-dev || fail mount-dev
ns-mount -t tmpfs -o mode=1777 tmpfs /tmp && mark mount-tmp || fail mount-tmp
ns-mount | grep -q '^proc on /proc type proc ' && mark mount-list || fail mount-list

# The walk-through's container: every namespace, root mapped to root. Its
# root is /container, with the tools bind-mounted in from inside its own
# mount namespace (nothing leaks to the initramfs' namespace).
ns-unshare --mount --uts --ipc --net --pid --user --map-root-user --fork /bin/sh -c '
    ns-mount --bind /bin /container/bin || exit 10
    exec ns-chroot /container /bin/sh -c "
        ns-mount -t proc none /proc || exit 11
        hostname nstools-container
        echo NSTOOLS-MARK container-pid-\$\$
        echo NSTOOLS-MARK container-hostname-\$(hostname)
        [ \$(ip -o link | wc -l) = 1 ] && echo NSTOOLS-MARK container-net-lo-only
        [ \$(id -u) = 0 ] && echo NSTOOLS-MARK container-uid-0
        while [ ! -e /tmp/stop ]; do sleep 0.2; done
    "' > /tmp/container.log 2>&1 &
container=$!

# From outside: the container's namespaces appear in ns-lsns.
seen=
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if ns-lsns -t uts -n -o COMMAND | grep -q 'sleep\|while'; then seen=1; break; fi
    sleep 0.5
done
[ -n "$seen" ] && mark lsns-sees-container || fail lsns-sees-container
ns-lsns -t pid -o NS,TYPE,NPROCS,PID,COMMAND
ns-lsns -J -t net | grep -q '"namespaces"' && mark lsns-json || fail lsns-json

# From outside, into it: every namespace of its PID 1 (ns-unshare's only
# child; ns-unshare itself stays in our PID namespace), its root and its
# /proc. ns-lsns saw ns-unshare, whose command line holds the script, as
# soon as it ran: wait for the container's last mark before entering.
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    grep -q container-uid-0 /tmp/container.log && break
    sleep 0.5
done
# (The file lists "PID " with a trailing blank.)
read -r init _ < /proc/$container/task/$container/children
inside=$(ns-nsenter -t "$init" -a -r sh -c 'echo $(hostname) $(cat /proc/1/comm) $(id -u)')
[ "$inside" = "nstools-container sh 0" ] && mark nsenter-inside || fail "nsenter-inside: $inside"

# /container/tmp is the container's /tmp: tell it to stop.
touch /container/tmp/stop
wait $container && mark container-exit-0 || fail "container-exit-$?"
cat /tmp/container.log

# Nothing the container mounted is left in our namespace.
ns-mount | grep -q ' on /container' && fail container-mounts-leaked || mark no-leaked-mounts

# The hand-over, as initramfs-tools makes it: /run, the modules for the
# disk and its filesystem, the root the kernel command line names
# (root=LABEL=... here) found by ns-mount's own probing and mounted on
# /root read-only, then ns-switch-root to the root's /sbin/init.
ns-mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run && mark mount-run || fail mount-run
loaded=0
while read -r module; do
    insmod "/lib/modules/$module.ko" && loaded=$((loaded + 1)) || fail "insmod-$module"
done < /lib/modules/order
[ "$loaded" = "$(wc -l < /lib/modules/order)" ] && mark modules-loaded || fail modules-loaded

ROOT= ROOTFSTYPE= ROOTFLAGS= readonly=y init=/sbin/init
for x in $(cat /proc/cmdline); do
    case $x in
    init=*) init=${x#init=} ;;
    root=*) ROOT=${x#root=} ;;
    rootfstype=*) ROOTFSTYPE=${x#rootfstype=} ;;
    rootflags=*) ROOTFLAGS="-o ${x#rootflags=}" ;;
    ro) readonly=y ;;
    rw) readonly=n ;;
    esac
done
if [ "$readonly" = y ]; then roflag=-r; else roflag=-w; fi
# The disk appears as its driver probes it; initramfs-tools waits for it
# (rootdelay), so a few tries here.
mounted=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if ns-mount $roflag ${ROOTFSTYPE:+-t "$ROOTFSTYPE"} $ROOTFLAGS "$ROOT" /root; then
        mounted=1
        break
    fi
    sleep 0.5
done
if [ -z "$mounted" ]; then fail root-mounted; poweroff -f; fi
mark root-mounted
# What ns-switch-root does not move must not stay behind, hidden.
ns-umount /tmp && mark umount-tmp || fail umount-tmp

# For the real root's init to check: the mounts it should find moved, the
# memory the initramfs' files hold, and (fd 3) the initramfs' root.
ids=
for m in /dev /proc /sys /run; do
    ids="$ids $m=$(grep "^[0-9]* [0-9]* [0-9:]* [^ ]* $m " /proc/self/mountinfo | cut -d' ' -f1)"
done
export NSTOOLS_IDS="$ids"
export NSTOOLS_RAM_KB=$(awk '/^(Unevictable|Shmem):/ { kb += $2 } END { print kb }' /proc/meminfo)
export NSTOOLS_FILES_KB=$(cat /files-kb)
mark done
exec 3< /
exec ns-switch-root /root "$init"
