# bash completion for ns-lsns (generated from its option table by `cargo xtask man`)
_ns_lsns()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'-p'|'--task')
			COMPREPLY=( $(cd /proc && compgen -W "$(echo [0-9]*)" -- "$cur") )
			return 0
			;;
		'-o'|'--output')
			COMPREPLY=( $(compgen -W "NS TYPE PATH NPROCS PID PPID COMMAND UID USER NETNSID NSFS PNS ONS" -- "$cur") )
			return 0
			;;
		'-Q'|'--filter')
			:
			return 0
			;;
		'-t'|'--type')
			COMPREPLY=( $(compgen -W "mnt net ipc user pid uts cgroup time" -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-J --json -p --task -h --help -o --output --output-all -P --persistent -Q --filter -u --notruncate -V --version -n --noheadings -W --nowrap -l --list -r --raw -t --type -T --tree= -H --list-columns" -- "$cur") )
			return 0
			;;
	esac
	:
	return 0
}
complete -F _ns_lsns ns-lsns
