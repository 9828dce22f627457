# bash completion for ns-pivot-root (generated from its option table by `cargo xtask man`)
_ns_pivot_root()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-h --help -V --version" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -d -- "$cur") )
	return 0
}
complete -F _ns_pivot_root ns-pivot-root
