# bash completion for ns-unshare (generated from its option table by `cargo xtask man`)
_ns_unshare()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'--map-user')
			COMPREPLY=( $(compgen -u -- "$cur") )
			return 0
			;;
		'--map-users')
			COMPREPLY=( $(compgen -W "auto subids all" -- "$cur") )
			return 0
			;;
		'--map-group')
			COMPREPLY=( $(compgen -g -- "$cur") )
			return 0
			;;
		'--map-groups')
			COMPREPLY=( $(compgen -W "auto subids all" -- "$cur") )
			return 0
			;;
		'--owner')
			:
			return 0
			;;
		'--propagation')
			COMPREPLY=( $(compgen -W "slave shared private unchanged" -- "$cur") )
			return 0
			;;
		'--setgroups')
			COMPREPLY=( $(compgen -W "allow deny" -- "$cur") )
			return 0
			;;
		'-S'|'--setuid')
			:
			return 0
			;;
		'-G'|'--setgid')
			:
			return 0
			;;
		'-R'|'--root')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'-w'|'--wd')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'--monotonic')
			:
			return 0
			;;
		'--boottime')
			:
			return 0
			;;
		'-l'|'--load-interp')
			:
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-h --help -V --version -m --mount= -u --uts= -i --ipc= -n --net= -p --pid= -U --user= -C --cgroup= -T --time= -f --fork --kill-child= --forward-signals --mount-proc= --mount-binfmt= --map-user --map-users --map-group --map-groups -r --map-root-user -c --map-current-user --map-auto --map-subids --owner --propagation --setgroups --keep-caps -S --setuid -G --setgid -R --root -w --wd --monotonic --boottime -l --load-interp" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -c -- "$cur") )
	return 0
}
complete -F _ns_unshare ns-unshare
