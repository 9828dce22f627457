# bash completion for ns-mount (generated from its option table by `cargo xtask man`)
_ns_mount()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'-T'|'--fstab')
			COMPREPLY=( $(compgen -f -- "$cur") )
			return 0
			;;
		'-o'|'--options')
			:
			return 0
			;;
		'-O'|'--test-opts')
			:
			return 0
			;;
		'-t'|'--types')
			COMPREPLY=( $(compgen -W "ext4 ext3 ext2 xfs btrfs vfat iso9660 squashfs tmpfs proc sysfs devtmpfs" -- "$cur") )
			return 0
			;;
		'-U'|'--uuid')
			:
			return 0
			;;
		'-L'|'--label')
			:
			return 0
			;;
		'--map-groups')
			:
			return 0
			;;
		'--map-users')
			:
			return 0
			;;
		'--target')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'--target-prefix')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'--source')
			COMPREPLY=( $(compgen -f -- "$cur") )
			return 0
			;;
		'--options-mode')
			COMPREPLY=( $(compgen -W "ignore append prepend replace" -- "$cur") )
			return 0
			;;
		'--options-source')
			COMPREPLY=( $(compgen -W "fstab mtab disable" -- "$cur") )
			return 0
			;;
		'-N'|'--namespace')
			COMPREPLY=( $(cd /proc && compgen -W "$(echo [0-9]*)" -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "-a --all --beneath --exclusive -f --fake -T --fstab -F --fork -h --help -n --no-mtab -r --read-only --ro -v --verbose -V --version -w --read-write --rw -o --options -O --test-opts -t --types -U --uuid -L --label -B --bind -M --move -R --rbind --make-shared --make-slave --make-private --make-unbindable --make-rshared --make-rslave --make-rprivate --make-runbindable --map-groups --map-users -m --mkdir= -c --no-canonicalize -i --internal-only -l --show-labels --target --target-prefix --source --onlyonce --options-mode --options-source --options-source-force -N --namespace" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -f -- "$cur") )
	return 0
}
complete -F _ns_mount ns-mount
