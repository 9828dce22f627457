# bash completion for ns-nsenter (generated from its option table by `cargo xtask man`)
_ns_nsenter()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'-t'|'--target')
			COMPREPLY=( $(cd /proc && compgen -W "$(echo [0-9]*)" -- "$cur") )
			return 0
			;;
		'-N'|'--net-socket')
			:
			return 0
			;;
		'-S'|'--setuid')
			COMPREPLY=( $(compgen -W "follow 0" -- "$cur") )
			return 0
			;;
		'-G'|'--setgid')
			COMPREPLY=( $(compgen -W "follow 0" -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-a --all -h --help -V --version -t --target -m --mount= -u --uts= -i --ipc= -n --net= -N --net-socket -p --pid= -U --user= -C --cgroup= -T --time= -S --setuid -G --setgid -r --root= -w --wd= -W --wdns= -e --env -F --no-fork -c --join-cgroup --preserve-credentials --keep-caps --user-parent -Z --follow-context" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -c -- "$cur") )
	return 0
}
complete -F _ns_nsenter ns-nsenter
