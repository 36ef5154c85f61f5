#!/usr/bin/env bats
# The Makefile on a machine where none of the packages is installed yet: README's
# `make demo` and `make check` install them (make deps) and must compile only after that,
# in the same invocation, also under -j.  A copy of the tree is built with stand-ins for
# dpkg-query, apt-get and id, and a pkg-config that knows nothing until apt-get ran: the
# headers of libpq and friends are reachable only through pkg-config's -I flags, so a
# compile that runs too early fails as it does on a fresh machine.

setup() {
	load test_helper
	tree=$BATS_TEST_TMPDIR/tree
	fakes=$BATS_TEST_TMPDIR/fakes
	installed=$BATS_TEST_TMPDIR/installed
	mkdir -p "$tree/tests" "$fakes"
	cp -R "$ETL_TEST_ROOT/Makefile" "$ETL_TEST_ROOT/lib" "$ETL_TEST_ROOT/cmd" \
		"$ETL_TEST_ROOT/bench" "$ETL_TEST_ROOT/share" "$tree/"
	cp -R "$ETL_TEST_ROOT/tests/unit" "$tree/tests/"
	rm -rf "$tree/lib/libetl.a" "$tree"/lib/*.o "$tree"/lib/*/*.o
	real_pkg_config=$(command -v pkg-config)
	cat >"$fakes/dpkg-query" <<EOF
#!/bin/sh
# Nothing is installed until apt-get ran.
[ -e "$installed" ] && echo 'install ok installed' || echo 'unknown ok not-installed'
EOF
	cat >"$fakes/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$BATS_TEST_TMPDIR/apt.log"
case " \$* " in *" install "*) touch "$installed" ;; esac
EOF
	cat >"$fakes/pkg-config" <<EOF
#!/bin/sh
[ -e "$installed" ] || { echo "pkg-config: command not found" >&2; exit 127; }
exec "$real_pkg_config" "\$@"
EOF
	printf '#!/bin/sh\necho 0\n' >"$fakes/id"
	# What the goals run after the build: only their order matters here.
	printf '#!/bin/sh\necho "demo ran"\n' >"$tree/share/examples/demo.sh"
	printf '#!/bin/sh\necho "tests ran"\necho "1 passed, 0 failed"\n' >"$tree/tests/run"
	chmod +x "$fakes"/* "$tree/share/examples/demo.sh" "$tree/tests/run"
}

# make in the copy, with the stand-ins first on PATH and nothing of an enclosing make.
fresh_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE PATH="$fakes:$PATH" \
		make -C "$tree" --no-print-directory "$@"
}

@test "make -j2 demo on a machine without the packages installs them, then builds" {
	run fresh_make -j2 demo
	assert_success
	assert_output --partial "demo ran"
	assert [ -x "$tree/bin/etl-job" ]
	run cat "$BATS_TEST_TMPDIR/apt.log"
	assert_output --partial "install -y -qq build-essential pkg-config libpq-dev"
}

@test "make -j2 check SANITIZE=1 on a machine without the packages installs them, then builds" {
	run fresh_make -j2 check SANITIZE=1
	assert_success
	assert_output --partial "tests ran"
	assert [ -x "$tree/build-asan/bin/etl-extract" ]
	assert [ -e "$installed" ]
}

@test "make without the packages and without deps says to run make deps" {
	run fresh_make build/lib/db.o
	assert_failure
	assert_output --partial "run 'make deps' (as root) to install them"
	refute_output --partial "No such file or directory"
}
