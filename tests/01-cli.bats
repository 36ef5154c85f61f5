#!/usr/bin/env bats
# Every program: the common flags, usage errors, and its exit-status table.

setup() { load test_helper; }

PROGS=(etl-extract etl-transform etl-embed etl-job etl-reset etl-queue)

@test "every program: --help prints usage on stdout and exits 0" {
	for p in "${PROGS[@]}"; do
		run --separate-stderr "$p" --help
		[ "$status" -eq 0 ] || fail "$p --help exited $status"
		[[ "$output" == usage:* ]] || fail "$p --help: no usage on stdout: $output"
		[ -z "$stderr" ] || fail "$p --help wrote to stderr: $stderr"
	done
}

@test "every program: --version names the program and etlkit" {
	for p in "${PROGS[@]}"; do
		run -0 "$p" --version
		assert_output --regexp "^$p \(etlkit\) [0-9]+\.[0-9]+\.[0-9]+$"
	done
}

@test "every program: an unknown option exits 64 and points to --help" {
	for p in "${PROGS[@]}"; do
		run --separate-stderr "$p" --bogus-option
		[ "$status" -eq 64 ] || fail "$p: exit $status"
		[ -z "$output" ] || fail "$p printed on stdout: $output"
		[[ "$stderr" == *"Try '$p --help' for more information."* ]] || fail "$p: $stderr"
	done
}

@test "programs still to come say so and exit 64" {
	for p in etl-extract etl-transform etl-embed etl-reset; do
		if ! grep -q etl_not_implemented "$ETL_TEST_ROOT/cmd/$p.c"; then
			continue
		fi
		run --separate-stderr "$p"
		[ "$status" -eq 64 ] || fail "$p: exit $status"
		[[ "$stderr" == *"$p: error: not implemented yet"* ]] || fail "$p: $stderr"
	done
}

@test "stdout write errors are reported, not ignored" {
	[ -w /dev/full ] || skip "no /dev/full"
	run --separate-stderr etl-job --help
	run --separate-stderr bash -c 'etl-job --help >/dev/full'
	[ "$status" -eq 74 ] || fail "exit $status: $stderr"
	[[ "$stderr" == *"cannot write to standard output"* ]]
}
