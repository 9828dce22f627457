# bash completion for ns-chroot (generated from its option table by `cargo xtask man`)
_ns_chroot()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'--groups')
			COMPREPLY=( $(compgen -g -- "$cur") )
			return 0
			;;
		'--userspec')
			COMPREPLY=( $(compgen -u -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "--groups --userspec --skip-chdir --help --version" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -d -- "$cur") )
	return 0
}
complete -F _ns_chroot ns-chroot
