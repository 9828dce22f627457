# One upstream test, run by PID 1 of a mount and PID namespace of its own
# (unshare --mount --pid --fork --mount-proc --propagation private). What
# the tests write to /run and /tmp (libmount's utab and its temporary mount
# point, `ip netns add`'s /run/netns, …) goes to tmpfs mounts of this
# namespace, not to the host; a directory holding the tree itself (/tmp for
# a checkout there) stays the host's. The mount table is saved after that
# and again after the test, for the caller to find what the test left
# mounted; the namespace takes every mount and process with it on exit.
# $1, $2: where to save the tables; the rest: the test's command.
before=$1
after=$2
shift 2
for private in /run:0755 /tmp:1777; do
	dir=${private%:*}
	case $before in "$dir"/*) continue ;; esac
	mount -t tmpfs -o "mode=${private#*:},size=64m" nstools-sandbox "$dir" || exit 1
done
# mount/special installs a helper as /sbin/mount.mytest: /sbin's files
# (/usr/sbin on a merged /usr) get a writable layer of this namespace, so
# the helper never reaches the host's disk (nor another run's sandbox).
sbin=$(readlink -f /sbin)
case $before in /run/*) ;; *)
	if grep -qw overlay /proc/filesystems; then
		mkdir -p /run/nstools-sbin/upper /run/nstools-sbin/work &&
			mount -t overlay -o "lowerdir=$sbin,upperdir=/run/nstools-sbin/upper,workdir=/run/nstools-sbin/work" \
				nstools-sandbox "$sbin" || exit 1
	fi
	;;
esac
# `ip netns add` makes /run/netns a shared mount on first use and leaves it
# there for good (by design: every later namespace file is bound under it).
# Made here as ip makes it, so that a host where ip has run once is what the
# test sees, and ip's one-time mount is not counted as left by the test.
case $before in /run/*) ;; *)
	mkdir -p /run/netns &&
		mount --bind /run/netns /run/netns &&
		mount --make-shared /run/netns || exit 1
	;;
esac
cat /proc/self/mountinfo >"$before" || exit 1
"$@"
status=$?
cat /proc/self/mountinfo >"$after"
exit "$status"
