# bash completion for ns-umount (generated from its option table by `cargo xtask man`)
_ns_umount()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'-O'|'--test-opts')
			:
			return 0
			;;
		'-t'|'--types')
			COMPREPLY=( $(compgen -W "ext4 ext3 ext2 xfs btrfs vfat iso9660 squashfs tmpfs proc sysfs" -- "$cur") )
			return 0
			;;
		'-N'|'--namespace')
			COMPREPLY=( $(cd /proc && compgen -W "$(echo [0-9]*)" -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-a --all -A --all-targets -d --detach-loop --fake -f --force -h --help -i --internal-only -l --lazy -c --no-canonicalize -n --no-mtab -q --quiet -r --read-only -R --recursive -O --test-opts -t --types -v --verbose -V --version -N --namespace" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -d -- "$cur") )
	return 0
}
complete -F _ns_umount ns-umount
