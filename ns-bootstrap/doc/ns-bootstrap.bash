# bash completion for ns-bootstrap (generated from its option table by `cargo xtask man`)
_ns_bootstrap()
{
	local cur prev
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	case $prev in
		'--arch')
			:
			return 0
			;;
		'--include')
			:
			return 0
			;;
		'--exclude')
			:
			return 0
			;;
		'--components')
			:
			return 0
			;;
		'--extra-suites')
			:
			return 0
			;;
		'--variant')
			COMPREPLY=( $(compgen -W "minbase buildd default" -- "$cur") )
			return 0
			;;
		'--keyring')
			COMPREPLY=( $(compgen -f -- "$cur") )
			return 0
			;;
		'--cache-dir')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'--make-tarball')
			COMPREPLY=( $(compgen -f -- "$cur") )
			return 0
			;;
		'--unpack-tarball')
			COMPREPLY=( $(compgen -f -- "$cur") )
			return 0
			;;
		'--mode')
			COMPREPLY=( $(compgen -W "auto root unshare" -- "$cur") )
			return 0
			;;
		'--format')
			COMPREPLY=( $(compgen -W "auto directory tar tar.gz tar.xz tar.zst oci oci-archive" -- "$cur") )
			return 0
			;;
		'--compress')
			COMPREPLY=( $(compgen -W "gzip zstd none" -- "$cur") )
			return 0
			;;
		'--oci-ref')
			:
			return 0
			;;
		'--setup-hook')
			:
			return 0
			;;
		'--extract-hook')
			:
			return 0
			;;
		'--essential-hook')
			:
			return 0
			;;
		'--customize-hook')
			:
			return 0
			;;
		'--hook-directory')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
		'--second-stage-target')
			COMPREPLY=( $(compgen -d -- "$cur") )
			return 0
			;;
	esac
	case $cur in
		-*)
			COMPREPLY=( $(compgen -W "--help --version --verbose --print-debs --download-only --arch --include --exclude --components --extra-suites --variant --merged-usr --no-merged-usr --keyring --no-check-gpg --force-check-gpg --check-valid-until --cache-dir --make-tarball --unpack-tarball --mode --format --compress --oci-ref --reproducible --setup-hook --extract-hook --essential-hook --customize-hook --hook-directory --foreign --second-stage --second-stage-target" -- "$cur") )
			return 0
			;;
	esac
	COMPREPLY=( $(compgen -d -- "$cur") )
	return 0
}
complete -F _ns_bootstrap ns-bootstrap
