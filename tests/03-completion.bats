#!/usr/bin/env bats
# STYLE.md G15: every --long option that a program's --help prints, and each of
# its subcommands' --help, is in its man page and offered by completions/etl.bash.

setup() {
	load test_helper
	COMP=$ETL_TEST_ROOT/completions/etl.bash
}

PROGS=(etl-extract etl-transform etl-embed etl-job etl-reset etl-queue)

# long_opts TEXT: the --long options in TEXT, one a line.
long_opts() { grep -o -- '--[a-z][a-z0-9-]*' <<<"$1" | sort -u; }

# comp PROG WORD...: what completing the last WORD offers, one a line.
comp() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_etl_complete "$1"; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@"
}

# paths PROG: its command paths as completion knows them ("" first), one a
# line, each after "leaf|" or "group|" (a group has subcommands).
paths() {
	bash -c 'source "$1"; walk() { local w subs; subs=$(_etl_subcmds "$3" "$2")
		printf "%s|%s\n" "$([[ -n $subs ]] && echo group || echo leaf)" "$2"
		for w in $subs; do walk x "${2:+$2 }$w" "$3"; done; }
		walk x "" "$2"' _ "$COMP" "$1"
}

@test "completions/etl.bash: valid bash, registered for all six programs" {
	run -0 bash -n "$COMP"
	run -0 bash -c 'source "$1"; complete -p etl-extract etl-transform etl-embed etl-job etl-reset etl-queue' _ "$COMP"
	[ "${#lines[@]}" -eq 6 ]
	run -0 comp etl-job st
	assert_output "$(printf 'status-map\nstart\nstatus')"
	run -0 comp etl-job start 7 --tier ''
	assert_output "$(printf 'free\nbasic\npremium\nenterprise')"
	run -0 comp etl-job set-status 7 R
	assert_output "$(printf 'READY\nRUNNING')"
	run -0 comp etl-queue consume tr
	[ "${#lines[@]}" -eq 4 ]
	run -0 comp etl-reset --dr
	assert_output "--dry-run"
}

@test "every command of etl-job --help and etl-queue --help is completed" {
	for p in etl-job etl-queue; do
		top=$(comp "$p" '')
		cmds=$("$p" --help | sed -n '/^[Cc]ommands:/,/^$/p' |
			sed -n 's/^  \{1,3\}\([a-z][a-z-]*\).*/\1/p' | sort -u)
		[ -n "$cmds" ] || fail "$p: no commands in --help"
		for c in $cmds; do
			grep -qx -- "$c" <<<"$top" || fail "$p: command '$c' is not completed"
		done
	done
}

@test "every --long option of every --help is in the man page and completed" {
	for p in "${PROGS[@]}"; do
		man=$ETL_TEST_ROOT/man/$p.1
		[ -f "$man" ] || fail "$p has no man page man/$p.1"
		run -0 groff -man -ww -z "$man"
		assert_output ""
		top_help=$("$p" --help)
		all_offered=""
		while IFS='|' read -r kind path; do
			# shellcheck disable=SC2086
			help=$("$p" $path --help) || fail "'$p $path --help' failed"
			[[ $help == usage:* ]] || fail "'$p $path --help' prints no usage"
			# shellcheck disable=SC2086
			offered=$(comp "$p" $path --)
			all_offered+=$'\n'$offered
			for o in $(long_opts "$help"); do
				grep -qF -- "$(sed 's/-/\\-/g' <<<"$o")" "$man" ||
					fail "$p${path:+ $path}: $o is not in man/$p.1"
				grep -qE -- "(^|[^a-z-])$o([^a-z0-9-]|\$)" "$COMP" ||
					fail "$p${path:+ $path}: $o is not in completions/etl.bash"
				# A subcommand with its own usage offers its own options.
				if [[ $kind == leaf && -n $path && $help != "$top_help" ]]; then
					grep -qx -- "$o" <<<"$offered" ||
						fail "'$p $path --' does not offer $o"
				fi
			done
		done < <(paths "$p")
		# The top-level help's options (every mode's) are offered somewhere.
		for o in $(long_opts "$top_help"); do
			grep -qx -- "$o" <<<"$all_offered" || fail "$p: $o is never offered"
		done
	done
}
