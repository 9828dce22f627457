#!/bin/sh
# /sbin/init of the ext4 disk the nstools initramfs switches to (written
# into the image by `cargo xtask initramfs --boot`). It checks what
# ns-switch-root promised and prints one "NSTOOLS-MARK name" line per check
# that holds, "NSTOOLS-FAIL name" otherwise; then it powers the machine off.
# The initramfs' /init passed the mount ids it had for /dev /proc /sys /run
# (NSTOOLS_IDS), its memory use (NSTOOLS_RAM_KB) and its root on fd 3.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
mark() { echo "NSTOOLS-MARK $1"; }
fail() { echo "NSTOOLS-FAIL $1"; }
check() { name=$1; shift; if "$@"; then mark "$name"; else fail "$name"; fi; }

# Fields of the mount on $1 in mountinfo: id, options, type and source
# (the optional fields before " - " vary).
mount_of() {
    awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $1, $6, $(i + 1), $(i + 2) }' \
        /proc/self/mountinfo | tail -n 1
}

check real-init-pid-1 [ "$$" = 1 ]
set -- $(mount_of /)
echo "root: $*"
check real-root-is-the-disk [ "$3 $4" = "ext4 /dev/vda" ]
case $2 in ro,*|ro) mark real-root-read-only ;; *) fail real-root-read-only ;; esac

for entry in $NSTOOLS_IDS; do
    dir=${entry%%=*} id=${entry#*=}
    set -- $(mount_of "$dir")
    check "real-root-$(echo "$dir" | tr -d /)-moved" [ "${1:-none}" = "$id" ]
done

# switch_root's child empties the old root; it is this process's child
# now. `read` runs in this shell, and each sleep reaps an ended child.
i=0
while [ $i -lt 100 ]; do
    children=
    read -r children < /proc/1/task/1/children || true
    [ -z "$children" ] && break
    sleep 0.1
    i=$((i + 1))
done
left=$(ls -A /proc/1/fd/3/ | tr '\n' ' ')
echo "left of the initramfs: [$left]"
check initramfs-emptied [ -z "$left" ]
# The initramfs lives in page cache that only its files held (ramfs:
# unevictable; tmpfs: shared memory).
ram_kb() { awk '/^(Unevictable|Shmem):/ { kb += $2 } END { print kb }' /proc/meminfo; }
now=$(ram_kb)
echo "initramfs memory: ${NSTOOLS_RAM_KB:-?} kB before the switch, $now kB after (its files: ${NSTOOLS_FILES_KB:-?} kB)"
check initramfs-memory-freed [ $((NSTOOLS_RAM_KB - now)) -ge $((NSTOOLS_FILES_KB * 3 / 4)) ]

check real-root-ns-mount sh -c 'ns-mount | grep -q "^/dev/vda on / type ext4 (ro"'
check real-root-ns-lsns sh -c 'ns-lsns -n -t mnt -o PID | grep -qx " *1"'
ns-mount -t tmpfs none /tmp && check real-root-ns-umount ns-umount /tmp

mark real-root-done
# Off at once (no init system to stop): the console has what it needs.
echo o > /proc/sysrq-trigger
sleep 10
