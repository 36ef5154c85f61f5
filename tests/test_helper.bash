# shellcheck shell=bash
# tests/test_helper.bash - shared by every tests/NN-*.bats (STYLE.md G14).
#
#   setup_file()    { load test_helper; start_pg; start_fake_jira; }
#   teardown_file() { stop_all; }
#   setup()         { load test_helper; }
#
# Services (each one at most once per test file; start_* is idempotent, stop_* too):
#   start_pg / stop_pg                 throwaway PostgreSQL 15 cluster; exports ETL_DATABASE_URL,
#                                      PGHOST PGPORT PGUSER PGDATABASE, ETL_PG_PORT,
#                                      ETL_PG_DIR, ETL_PG_SOCKET_DIR
#   start_rabbitmq / stop_rabbitmq / restart_rabbitmq
#                                      throwaway RabbitMQ node; exports ETL_AMQP_URL,
#                                      RABBIT_NODE, ETL_AMQP_PORT, ETL_RMQ_DIR;
#                                      rabbitmqctl_t ARGS... runs rabbitmqctl against it
#   start_fake_jira [DIR] [ARGS...] / start_fake_github [DIR] [ARGS...] / stop_fakes
#                                      exports FAKE_JIRA_URL / FAKE_GITHUB_URL (+ _PID, _LOG)
#   fake_ctl URL JSON, fake_stats URL, fake_reset URL, fake_count URL ENDPOINT
#   jira_get PATH [CURL-ARGS...], github_query QUERY [VARIABLES-JSON]
#   free_port [N], port_is_listening PORT, stop_all, etl_test_timings
#   use_db NAME [TEMPLATE], q SQL              a fresh default database; psql -qAtX on it
#   purge_queues, messages QUEUE               empty the stage queues; a queue's ready count
#   start_job_env, token_of JOB                PostgreSQL, RabbitMQ, etl_tmpl, ETL_SECRET_KEY
#                                              and TOK for the job tests; a run's token
#
# A test file must not define these names again: a file's own functions are defined before
# setup loads this helper, so the helper's would replace them.
#
# Everything started is recorded in a per-file registry ($ETL_TEST_STATE_DIR), so stop_all (called by
# teardown_file, which bats runs even when setup_file or a test failed) stops it, whichever
# process started it.  A watchdog stops it too if the bats process dies without teardown.
# All waits are bounded.  Nothing here needs network access beyond 127.0.0.1.

if [[ -n ${BATS_VERSION:-} ]] && declare -F load >/dev/null; then
	bats_require_minimum_version 1.5.0
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
fi

# The repository is the parent of this file's directory (tests/): the same as
# $BATS_TEST_DIRNAME/.. for tests/NN-*.bats, and right for test files elsewhere too.
_etl_helper_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ETL_TEST_ROOT=$(cd "$_etl_helper_dir/.." && pwd)
export ETL_TEST_ROOT
export ETL_FAKES_DIR="$ETL_TEST_ROOT/tests/fakes"
export ETL_FIXTURES_DIR="$ETL_TEST_ROOT/tests/fixtures"
# `make check SANITIZE=1` points ETL_BIN_DIR at the sanitized build.
: "${ETL_BIN_DIR:=$ETL_TEST_ROOT/bin}"
: "${ETL_UNIT_DIR:=$ETL_TEST_ROOT/build/tests/unit}"
# The migrations of this tree, whichever build the programs come from.
: "${ETL_SQL_DIR:=$ETL_TEST_ROOT/share/sql}"
export ETL_BIN_DIR ETL_UNIT_DIR ETL_SQL_DIR
case ":$PATH:" in
"$ETL_BIN_DIR:"*) ;;
*) PATH="$ETL_BIN_DIR:$PATH" ;;
esac
export PATH

_etl_find_pg_bindir() {
	local d
	if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
		echo /usr/lib/postgresql/15/bin
		return 0
	fi
	for d in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V -r); do
		[[ -x $d/initdb ]] && { echo "$d"; return 0; }
	done
	d=$(command -v initdb 2>/dev/null) && { dirname "$d"; return 0; }
	return 1
}
: "${ETL_PG_BINDIR:=$(_etl_find_pg_bindir || echo /usr/lib/postgresql/15/bin)}"
: "${ETL_RABBITMQ_BINDIR:=/usr/lib/rabbitmq/bin}"
# The fakes need only the standard library: prefer the system interpreter (no pyenv shim).
if [[ -z ${ETL_PYTHON:-} ]]; then
	if [[ -x /usr/bin/python3 ]]; then ETL_PYTHON=/usr/bin/python3; else ETL_PYTHON=python3; fi
fi
export ETL_PG_BINDIR ETL_RABBITMQ_BINDIR ETL_PYTHON
export PYTHONDONTWRITEBYTECODE=1

# The process whose end means "the test file is over" (watchdog): the bats file process when
# this helper is loaded from setup_file, else whoever loaded it.
if [[ -n ${BATS_VERSION:-} && -z ${BATS_TEST_NAME:-} && -z ${ETL_TEST_OWNER_PID:-} ]]; then
	export ETL_TEST_OWNER_PID=$$
fi

# When loaded from setup_file, make teardown_file call stop_all after the file's own
# teardown_file (if any): services never outlive the file even if it forgets stop_all.
if [[ -n ${BATS_VERSION:-} && -z ${BATS_TEST_NAME:-} && -z ${_ETL_TEARDOWN_WRAPPED:-} ]]; then
	_ETL_TEARDOWN_WRAPPED=1
	if declare -F teardown_file >/dev/null; then
		eval "$(declare -f teardown_file | sed '1s/^teardown_file/_etl_user_teardown_file/')"
	else
		_etl_user_teardown_file() { return 0; }
	fi
	teardown_file() {
		local _etl_rc=0
		_etl_user_teardown_file "$@" || _etl_rc=$?
		if stop_all; then
			_etl_state_cleanup
		else
			_etl_rc=1
		fi
		return "$_etl_rc"
	}
fi

# --------------------------------------------------------------------------------- basics

_etl_say() { printf '# etl-test: %s\n' "$*" >&2; }

_etl_now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }

_etl_elapsed() { # START -> seconds with 2 decimals since START
	awk -v a="$1" -v b="$(_etl_now)" 'BEGIN { printf "%.2f", b - a }'
}

# Where the registry of started services lives: one temp dir per test file, named when this
# helper is first loaded (setup_file), created when the first service starts, and shared with
# the file's tests through the environment.  Not under $BATS_FILE_TMPDIR: bats deletes that
# when it is killed, and the watchdog still needs the registry then.  Removed once everything is
# stopped (teardown_file, the watchdog, or stop_all outside bats).
if [[ -z ${ETL_TEST_STATE_DIR:-} ]]; then
	export ETL_TEST_STATE_DIR="${TMPDIR:-/tmp}/etltest-state.$$.$RANDOM$RANDOM"
	export _ETL_STATE_DIR_OWNED=$ETL_TEST_STATE_DIR
fi

_etl_state_cleanup() {
	if [[ -n ${_ETL_STATE_DIR_OWNED:-} && $_ETL_STATE_DIR_OWNED == "${ETL_TEST_STATE_DIR:-}" &&
		$_ETL_STATE_DIR_OWNED == */etltest-state.* ]]; then
		rm -rf "$_ETL_STATE_DIR_OWNED"
	fi
	return 0
}

_etl_state_dir() { # creates the registry directory if needed, prints its path
	if [[ ! -d $ETL_TEST_STATE_DIR ]]; then
		mkdir -p "$ETL_TEST_STATE_DIR" && chmod 700 "$ETL_TEST_STATE_DIR" || return 1
	fi
	echo "$ETL_TEST_STATE_DIR"
}

_etl_reg() { echo "$ETL_TEST_STATE_DIR/$1.reg"; }

_etl_timing() { # NAME SECONDS
	local sd
	sd=$(_etl_state_dir) || return 0
	printf '%s %s\n' "$1" "$2" >>"$sd/timings"
	return 0
}

# etl_test_timings: what start/stop took in this file ("pg_start 1.12" lines).
etl_test_timings() {
	[[ -f $ETL_TEST_STATE_DIR/timings ]] && cat "$ETL_TEST_STATE_DIR/timings"
	return 0
}

_etl_is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

_etl_as() { # USER CMD... : run CMD as USER when we are root, as ourselves otherwise
	local user=$1
	shift
	if _etl_is_root && [[ $user != root ]]; then
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

_etl_pid_alive() { # PID : running and not a zombie
	local line
	[[ -n ${1:-} && -r /proc/$1/status ]] || return 1
	while IFS= read -r line; do
		if [[ $line == State:* ]]; then
			# (explicit statuses: a bare `return` in a function run from a trap handler, as
			# teardown_file is after a failure, returns the status from before the trap)
			if [[ $line != *"(zombie)"* && $line != *"(dead)"* ]]; then
				return 0
			fi
			return 1
		fi
	done 2>/dev/null </proc/"$1"/status
	return 1
}

_etl_wait_pid_gone() { # PID SECONDS
	local deadline=$((SECONDS + $2))
	while _etl_pid_alive "$1"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
	return 0
}

_etl_kill_pid() { # PID [GRACE-SECONDS] : TERM, wait, KILL
	local pid=$1 grace=${2:-5}
	_etl_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	_etl_wait_pid_gone "$pid" "$grace" && return 0
	kill -KILL "$pid" 2>/dev/null || true
	_etl_wait_pid_gone "$pid" 5
}

# free_port [N]: N (default 1) free TCP ports on 127.0.0.1, outside the ephemeral range so a
# client connection cannot grab one between the check and the bind.
free_port() {
	"$ETL_PYTHON" - "${1:-1}" <<'PY'
import random, socket, sys
n, out, rng = int(sys.argv[1]), [], random.SystemRandom()
for _ in range(5000):
    if len(out) == n:
        break
    p = rng.randint(20000, 32000)
    if p in out:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
        out.append(p)
    except OSError:
        pass
    finally:
        s.close()
if len(out) < n:
    sys.exit("free_port: no free port found")
print(" ".join(map(str, out)))
PY
}

# port_is_listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_is_listening() {
	(exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_etl_wait_port() { # PORT SECONDS [PID-that-must-stay-alive]
	local deadline=$((SECONDS + $2))
	until port_is_listening "$1"; do
		if [[ -n ${3:-} ]] && ! _etl_pid_alive "$3"; then
			return 2
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
	return 0
}

_etl_wait_port_closed() { # PORT SECONDS
	local deadline=$((SECONDS + $2))
	while port_is_listening "$1"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
	return 0
}

# Watchdog: when the owner process (the bats file process) disappears without teardown_file
# having run (killed by a CI timeout, say), stop everything registered.  One per state dir.
# It runs in its own session and ignores INT/TERM/HUP, so a signal sent to the whole process
# group of the test run does not take it down with the rest; it stops on SIGUSR1.
_etl_watchdog_start() {
	local sd pidf owner=${ETL_TEST_OWNER_PID:-$$}
	sd=$(_etl_state_dir) || return 0
	pidf="$sd/watchdog.pid"
	if [[ -f $pidf ]] && _etl_pid_alive "$(<"$pidf")"; then
		return 0
	fi
	# shellcheck disable=SC2016
	_ETL_WATCHDOG_OWNER=$owner setsid "${BASH:-bash}" -c 'source "$1"' _etl_watchdog \
		"$_etl_helper_dir/test_helper.bash" </dev/null >>"$sd/watchdog.log" 2>&1 3>&- &
	echo $! >"$pidf"
	return 0
}

_etl_watchdog_stop() {
	local sd pidf pid
	[[ -n ${ETL_IN_WATCHDOG:-} ]] && return 0
	sd=$ETL_TEST_STATE_DIR
	pidf="$sd/watchdog.pid"
	[[ -f $pidf ]] || return 0
	pid=$(<"$pidf")
	if _etl_pid_alive "$pid"; then
		kill -USR1 "$pid" 2>/dev/null || true
		if ! _etl_wait_pid_gone "$pid" 3; then
			kill -KILL "$pid" 2>/dev/null || true
			_etl_wait_pid_gone "$pid" 3 || true
		fi
	fi
	rm -f "$pidf"
	return 0
}

# ------------------------------------------------------------------------------ PostgreSQL

_etl_pg_export() {
	export ETL_PG_DIR=$_pg_dir ETL_PG_PORT=$_pg_port ETL_PG_SOCKET_DIR=$_pg_dir
	export ETL_DATABASE_URL="postgresql://postgres@127.0.0.1:$_pg_port/etl"
	export PGHOST=127.0.0.1 PGPORT=$_pg_port PGUSER=postgres PGDATABASE=etl
	unset PGPASSWORD PGSERVICE PGSERVICEFILE PGHOSTADDR PGSSLMODE
	return 0
}

_etl_pg_alive() {
	[[ -n ${_pg_dir:-} && -f $_pg_dir/data/postmaster.pid ]] || return 1
	_etl_pid_alive "$(head -n1 "$_pg_dir/data/postmaster.pid")"
}

_etl_pg_wait_ready() { # LAUNCHER-PID SECONDS: postmaster.pid says "ready" and the port answers
	local deadline=$((SECONDS + $2)) st
	while :; do
		st=
		[[ -f $_pg_dir/data/postmaster.pid ]] && st=$(sed -n 8p "$_pg_dir/data/postmaster.pid")
		if [[ $st == ready* ]] && port_is_listening "$_pg_port"; then
			return 0
		fi
		_etl_pid_alive "$1" || return 1
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}

start_pg() {
	local reg _pg_dir='' _pg_port='' t0 locale
	reg=$(_etl_reg pg) || return 1
	if [[ -f $reg ]]; then
		# shellcheck disable=SC1090
		source "$reg"
		if _etl_pg_alive; then
			_etl_pg_export
			return 0
		fi
		stop_pg || true
	fi
	t0=$(_etl_now)
	_etl_state_dir >/dev/null || return 1
	_pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/etltest-pg.XXXXXX") || return 1
	_pg_port=$(free_port) || { rm -rf "$_pg_dir"; return 1; }
	printf '_pg_dir=%q\n_pg_port=%q\n' "$_pg_dir" "$_pg_port" >"$reg"
	_etl_watchdog_start
	chmod 700 "$_pg_dir"
	if _etl_is_root; then
		chown postgres: "$_pg_dir" || { stop_pg; return 1; }
	fi
	locale=C.UTF-8
	if ! _etl_as postgres "$ETL_PG_BINDIR/initdb" -D "$_pg_dir/data" -U postgres -A trust \
		-E UTF8 --locale="$locale" -N </dev/null >"$_pg_dir/initdb.log" 2>&1 3>&-; then
		rm -rf "$_pg_dir/data"
		if ! _etl_as postgres "$ETL_PG_BINDIR/initdb" -D "$_pg_dir/data" -U postgres -A trust \
			-E UTF8 --locale=C -N </dev/null >>"$_pg_dir/initdb.log" 2>&1 3>&-; then
			_etl_say "initdb failed:"
			sed 's/^/#   /' "$_pg_dir/initdb.log" >&2
			stop_pg || true
			return 1
		fi
	fi
	cat >>"$_pg_dir/data/postgresql.conf" <<EOF

# etlkit test cluster
listen_addresses = '127.0.0.1'
port = $_pg_port
unix_socket_directories = '$_pg_dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
max_wal_size = '1GB'
logging_collector = off
log_min_messages = warning
log_checkpoints = off
log_connections = off
log_disconnections = off
log_line_prefix = '%m [%p] '
timezone = 'UTC'
lc_messages = 'C'
EOF
	# postgres runs in the foreground under a launcher that is our child (not daemonized by
	# pg_ctl): when it exits it is reaped, even where PID 1 does not reap orphans.
	local cmd=("$ETL_PG_BINDIR/postgres" -D "$_pg_dir/data")
	_etl_is_root && cmd=(runuser -u postgres -- "${cmd[@]}")
	setsid "${cmd[@]}" </dev/null >>"$_pg_dir/postgres.log" 2>&1 3>&- &
	echo $! >"$_pg_dir/launcher.pid"
	if ! _etl_pg_wait_ready "$!" "${ETL_PG_START_TIMEOUT:-60}"; then
		_etl_say "PostgreSQL did not become ready on port $_pg_port:"
		tail -n 20 "$_pg_dir/postgres.log" 2>/dev/null | sed 's/^/#   /' >&2
		stop_pg || true
		return 1
	fi
	if ! PGCONNECT_TIMEOUT=10 timeout 30 psql -X -q -v ON_ERROR_STOP=1 \
		"postgresql://postgres@127.0.0.1:$_pg_port/postgres" \
		-c 'CREATE DATABASE etl' </dev/null >>"$_pg_dir/pg_ctl.log" 2>&1 3>&-; then
		_etl_say "CREATE DATABASE etl failed:"
		tail -n 20 "$_pg_dir/pg_ctl.log" | sed 's/^/#   /' >&2
		stop_pg || true
		return 1
	fi
	_etl_pg_export
	_etl_timing pg_start "$(_etl_elapsed "$t0")"
	return 0
}

stop_pg() {
	local reg _pg_dir='' _pg_port='' t0 pid rc=0
	reg=$(_etl_reg pg) || return 1
	[[ -f $reg ]] || return 0
	# shellcheck disable=SC1090
	source "$reg"
	t0=$(_etl_now)
	if [[ -f $_pg_dir/data/postmaster.pid ]]; then
		pid=$(head -n1 "$_pg_dir/data/postmaster.pid")
		if _etl_pid_alive "$pid"; then
			_etl_as postgres timeout 40 "$ETL_PG_BINDIR/pg_ctl" -D "$_pg_dir/data" -m fast -w \
				-t 30 -s stop </dev/null >>"$_pg_dir/pg_ctl.log" 2>&1 3>&- ||
				_etl_as postgres timeout 20 "$ETL_PG_BINDIR/pg_ctl" -D "$_pg_dir/data" \
					-m immediate -w -t 10 -s stop </dev/null >>"$_pg_dir/pg_ctl.log" 2>&1 3>&- ||
				true
			if ! _etl_wait_pid_gone "$pid" 10; then
				kill -KILL "$pid" 2>/dev/null || true
				_etl_wait_pid_gone "$pid" 5 || { _etl_say "postgres $pid did not stop"; rc=1; }
			fi
		fi
	fi
	if [[ -s $_pg_dir/launcher.pid ]]; then
		_etl_kill_pid "$(head -n1 "$_pg_dir/launcher.pid")" 5 || rc=1
	fi
	if [[ -n $_pg_port ]] && ! _etl_wait_port_closed "$_pg_port" 20; then
		_etl_say "port $_pg_port still open after stopping PostgreSQL: $(ss -ltnpH "sport = :$_pg_port" 2>&1)"
		rc=1
	fi
	if ((rc == 0)); then
		[[ $_pg_dir == */etltest-pg.* ]] && rm -rf "$_pg_dir"
		rm -f "$reg"
	fi
	if [[ ${ETL_PG_PORT:-} == "$_pg_port" ]]; then
		unset ETL_DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE ETL_PG_DIR ETL_PG_PORT \
			ETL_PG_SOCKET_DIR
	fi
	_etl_timing pg_stop "$(_etl_elapsed "$t0")"
	return "$rc"
}

# use_db NAME [TEMPLATE]: a fresh database NAME (a copy of TEMPLATE when given), made the
# default for psql and the programs.  Tests that need the schema migrate a template once in
# setup_file and copy it per test: use_db "t$BATS_TEST_NUMBER" etl_tmpl.
use_db() {
	PGOPTIONS="-c client_min_messages=warning" psql -qX -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$1\"" \
		-c "CREATE DATABASE \"$1\"${2:+ TEMPLATE \"$2\"}" >/dev/null
	export PGDATABASE=$1
	export ETL_DATABASE_URL="postgresql://postgres@127.0.0.1:$ETL_PG_PORT/$1"
}

# q SQL: run SQL on the default database; rows on stdout, unaligned, without headers.
q() { psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# -------------------------------------------------------------------------------- RabbitMQ

_etl_rmq_export() {
	export ETL_RMQ_DIR=$_rmq_dir RABBIT_NODE=$_rmq_node ETL_AMQP_PORT=$_rmq_port
	export ETL_AMQP_URL="amqp://guest:guest@127.0.0.1:$_rmq_port/%2f"
	return 0
}

# rabbitmqctl_t ARGS...: rabbitmqctl against this file's node, with its cookie and HOME.
rabbitmqctl_t() {
	local dir=${ETL_RMQ_DIR:-} _rmq_env=()
	if [[ -z $dir || ! -f $dir/env.sh ]]; then
		echo "rabbitmqctl_t: no RabbitMQ node (call start_rabbitmq first)" >&2
		return 69
	fi
	# shellcheck disable=SC1091
	source "$dir/env.sh"
	_etl_as rabbitmq env -i -C "$dir" "${_rmq_env[@]}" timeout "${ETL_RMQCTL_TIMEOUT:-60}" \
		"$ETL_RABBITMQ_BINDIR/rabbitmqctl" -n "$RABBIT_NODE" "$@" </dev/null 3>&-
}

_etl_rmq_beam_pid() {
	[[ -s $_rmq_dir/pid ]] && head -n1 "$_rmq_dir/pid"
	return 0
}

_etl_rmq_launch() { # uses _rmq_dir _rmq_node _rmq_port; starts and waits for the node
	local _rmq_env=() cmd deadline t0 launcher rc
	t0=$(_etl_now)
	# shellcheck disable=SC1091
	source "$_rmq_dir/env.sh"
	rm -f "$_rmq_dir/pid"
	cmd=(env -i -C "$_rmq_dir" "${_rmq_env[@]}" "$ETL_RABBITMQ_BINDIR/rabbitmq-server")
	if _etl_is_root; then
		cmd=(runuser -u rabbitmq -- "${cmd[@]}")
	fi
	setsid "${cmd[@]}" </dev/null >>"$_rmq_dir/server.out" 2>&1 3>&- &
	launcher=$!
	echo "$launcher" >"$_rmq_dir/launcher.pid"
	rc=0
	_etl_wait_port "$_rmq_port" "${ETL_RABBITMQ_START_TIMEOUT:-90}" "$launcher" || rc=$?
	if ((rc != 0)); then
		_etl_say "RabbitMQ node $_rmq_node did not open port $_rmq_port" \
			"($([[ $rc == 2 ]] && echo "it exited" || echo "timeout"))"
		tail -n 30 "$_rmq_dir/server.out" "$_rmq_dir/log/$_rmq_node.log" 2>/dev/null |
			sed 's/^/#   /' >&2
		return 1
	fi
	if ! ETL_RMQ_DIR=$_rmq_dir RABBIT_NODE=$_rmq_node rabbitmqctl_t -q await_startup \
		--timeout 60 >>"$_rmq_dir/ctl.log" 2>&1; then
		_etl_say "rabbitmqctl await_startup failed for $_rmq_node:"
		tail -n 20 "$_rmq_dir/ctl.log" | sed 's/^/#   /' >&2
		return 1
	fi
	_etl_timing rabbitmq_start "$(_etl_elapsed "$t0")"
	return 0
}

_etl_rmq_halt() { # stops the node's processes, keeps its data dir
	local beam launcher rc=0 t0
	t0=$(_etl_now)
	beam=$(_etl_rmq_beam_pid)
	launcher=
	[[ -s $_rmq_dir/launcher.pid ]] && launcher=$(head -n1 "$_rmq_dir/launcher.pid")
	if _etl_pid_alive "$beam"; then
		# RabbitMQ >= 3.8 treats SIGTERM as a graceful stop (what `rabbitmqctl stop` asks for,
		# without booting the CLI): queues and messages on disk survive.  Then rabbitmqctl
		# stop, then SIGKILL, each bounded.
		kill -TERM "$beam" 2>/dev/null || true
		if ! _etl_wait_pid_gone "$beam" 20; then
			_etl_say "RabbitMQ $beam ignored SIGTERM; trying rabbitmqctl stop"
			ETL_RMQCTL_TIMEOUT=30 ETL_RMQ_DIR=$_rmq_dir RABBIT_NODE=$_rmq_node \
				rabbitmqctl_t -q stop "$_rmq_dir/pid" >>"$_rmq_dir/ctl.log" 2>&1 || true
			if ! _etl_wait_pid_gone "$beam" 10; then
				_etl_say "RabbitMQ $beam still running; killing it"
				kill -KILL "$beam" 2>/dev/null || true
				_etl_wait_pid_gone "$beam" 10 || rc=1
			fi
		fi
	fi
	if [[ -n $launcher ]]; then
		kill -TERM -- "-$launcher" 2>/dev/null || true
		if ! _etl_wait_pid_gone "$launcher" 10; then
			kill -KILL -- "-$launcher" 2>/dev/null || true
			_etl_wait_pid_gone "$launcher" 5 || rc=1
		fi
	fi
	if ! _etl_wait_port_closed "$_rmq_port" 15; then
		_etl_say "AMQP port $_rmq_port still open after stopping $_rmq_node:" \
			"$(ss -ltnpH "sport = :$_rmq_port" 2>&1)"
		rc=1
	fi
	_etl_timing rabbitmq_stop "$(_etl_elapsed "$t0")"
	return "$rc"
}

start_rabbitmq() {
	local reg _rmq_dir='' _rmq_node='' _rmq_port='' _rmq_dist='' ports cookie
	reg=$(_etl_reg rabbitmq) || return 1
	if [[ -f $reg ]]; then
		# shellcheck disable=SC1090
		source "$reg"
		if _etl_pid_alive "$(_etl_rmq_beam_pid)" && port_is_listening "$_rmq_port"; then
			_etl_rmq_export
			return 0
		fi
		stop_rabbitmq || true
	fi
	if [[ ! -x $ETL_RABBITMQ_BINDIR/rabbitmq-server ]]; then
		_etl_say "rabbitmq-server not found in $ETL_RABBITMQ_BINDIR"
		return 1
	fi
	_etl_state_dir >/dev/null || return 1
	_rmq_dir=$(mktemp -d "${TMPDIR:-/tmp}/etltest-rmq.XXXXXX") || return 1
	ports=$(free_port 2) || { rm -rf "$_rmq_dir"; return 1; }
	read -r _rmq_port _rmq_dist <<<"$ports"
	_rmq_node="etltest-$$-$RANDOM@localhost"
	printf '_rmq_dir=%q\n_rmq_node=%q\n_rmq_port=%q\n_rmq_dist=%q\n' \
		"$_rmq_dir" "$_rmq_node" "$_rmq_port" "$_rmq_dist" >"$reg"
	_etl_watchdog_start
	mkdir -p "$_rmq_dir/home" "$_rmq_dir/mnesia" "$_rmq_dir/log"
	: >"$_rmq_dir/enabled_plugins"
	: >"$_rmq_dir/rabbitmq-env.conf"
	cookie=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F')
	printf '%s' "$cookie" >"$_rmq_dir/home/.erlang.cookie"
	chmod 400 "$_rmq_dir/home/.erlang.cookie"
	cat >"$_rmq_dir/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$_rmq_port
loopback_users.guest = true
log.console = false
log.file.level = warning
disk_free_limit.absolute = 10MB
EOF
	# The environment of the node and of rabbitmqctl_t (env -i: nothing else leaks in).
	{
		printf '_rmq_env=(\n'
		printf '  %q\n' \
			"HOME=$_rmq_dir/home" \
			"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
			"LANG=C.UTF-8" "LC_ALL=C.UTF-8" \
			"RABBITMQ_NODENAME=$_rmq_node" \
			"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1" \
			"RABBITMQ_NODE_PORT=$_rmq_port" \
			"RABBITMQ_DIST_PORT=$_rmq_dist" \
			"RABBITMQ_MNESIA_BASE=$_rmq_dir/mnesia" \
			"RABBITMQ_LOG_BASE=$_rmq_dir/log" \
			"RABBITMQ_CONFIG_FILE=$_rmq_dir/rabbitmq.conf" \
			"RABBITMQ_ENABLED_PLUGINS_FILE=$_rmq_dir/enabled_plugins" \
			"RABBITMQ_CONF_ENV_FILE=$_rmq_dir/rabbitmq-env.conf" \
			"RABBITMQ_PID_FILE=$_rmq_dir/pid" \
			"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
			"RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
			"ERL_EPMD_ADDRESS=127.0.0.1"
		printf ')\n'
	} >"$_rmq_dir/env.sh"
	chmod 700 "$_rmq_dir"
	if _etl_is_root; then
		chown -R rabbitmq:rabbitmq "$_rmq_dir" || { stop_rabbitmq; return 1; }
	fi
	if ! _etl_rmq_launch; then
		stop_rabbitmq || true
		return 1
	fi
	_etl_rmq_export
	return 0
}

stop_rabbitmq() {
	local reg _rmq_dir='' _rmq_node='' _rmq_port='' _rmq_dist='' rc=0
	reg=$(_etl_reg rabbitmq) || return 1
	[[ -f $reg ]] || return 0
	# shellcheck disable=SC1090
	source "$reg"
	_etl_rmq_halt || rc=1
	if ((rc == 0)); then
		[[ $_rmq_dir == */etltest-rmq.* ]] && rm -rf "$_rmq_dir"
		rm -f "$reg"
	fi
	if [[ ${RABBIT_NODE:-} == "$_rmq_node" ]]; then
		unset ETL_AMQP_URL RABBIT_NODE ETL_AMQP_PORT ETL_RMQ_DIR
	fi
	return "$rc"
}

# restart_rabbitmq: stop the node, start it again on the same ports and data dir (durable
# queues and messages survive).  "Broker down, then back."
restart_rabbitmq() {
	local reg _rmq_dir='' _rmq_node='' _rmq_port='' _rmq_dist=''
	reg=$(_etl_reg rabbitmq) || return 1
	if [[ ! -f $reg ]]; then
		start_rabbitmq
		return $?
	fi
	# shellcheck disable=SC1090
	source "$reg"
	_etl_rmq_halt || return 1
	_etl_rmq_launch || return 1
	_etl_rmq_export
	return 0
}

# stop_rabbitmq_node / start_rabbitmq_node: the two halves of restart_rabbitmq, for tests that
# need the broker to stay down for a while.
stop_rabbitmq_node() {
	local reg _rmq_dir='' _rmq_node='' _rmq_port='' _rmq_dist=''
	reg=$(_etl_reg rabbitmq) || return 1
	[[ -f $reg ]] || return 0
	# shellcheck disable=SC1090
	source "$reg"
	_etl_rmq_halt
}

start_rabbitmq_node() {
	local reg _rmq_dir='' _rmq_node='' _rmq_port='' _rmq_dist=''
	reg=$(_etl_reg rabbitmq) || return 1
	[[ -f $reg ]] || { start_rabbitmq; return $?; }
	# shellcheck disable=SC1090
	source "$reg"
	_etl_pid_alive "$(_etl_rmq_beam_pid)" && { _etl_rmq_export; return 0; }
	_etl_rmq_launch || return 1
	_etl_rmq_export
}

# purge_queues: every stage queue of every tier empty (the dead letters stay), so tests do not
# depend on each other.
purge_queues() {
	local s t
	for s in extraction transform embedding; do
		for t in free basic premium enterprise; do
			etl-queue purge "${s}_queue_$t" >/dev/null
		done
	done
}

# messages QUEUE: the ready count that etl-queue stats reports.
messages() {
	etl-queue stats | jq -r --arg q "$1" 'select(.queue == $q) | .messages'
}

# ------------------------------------------------------------------------------- job tests

# start_job_env: what the tests of jobs and their runs need, in setup_file: PostgreSQL and
# RabbitMQ with the queues declared, the template database etl_tmpl migrated (and made the
# default), a random ETL_SECRET_KEY, and TOK, a token for `integration add --token-env TOK`.
start_job_env() {
	start_pg
	start_rabbitmq
	etl-queue setup
	use_db etl_tmpl
	etl-job -q migrate
	ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export ETL_SECRET_KEY
	export TOK=tok-0123456789-abcdef
}

# token_of JOB: the token of the job's current run.
token_of() { etl-job status "$1" | jq -r .token; }

# Extraction output (30-extract, 31-github-extract).
# check_flags FILE: per step exactly one first_item and one last_item (first before last),
# last_job_item once, on the last line, and one token on every line.
check_flags() {
	run -0 jq -sc 'group_by(.type) | map({t: .[0].type,
		f: map(select(.first_item)) | length, l: map(select(.last_item)) | length,
		ff: (.[0].first_item), ll: (.[-1].last_item)}) |
		map(select(.f != 1 or .l != 1 or (.ff | not) or (.ll | not)))' "$1"
	assert_output '[]'
	run -0 jq -sc '[(map(select(.last_job_item)) | length), .[-1].last_job_item,
		(map(.token) | unique | length)]' "$1"
	assert_output '[1,true,1]'
}

# ------------------------------------------------------------------------------- the fakes

_etl_start_fake() { # KIND DATA-DIR [EXTRA-ARGS...]
	local kind=$1 data=$2 reg dir pid port up url t0 sd
	shift 2
	t0=$(_etl_now)
	if [[ ! -d $data ]]; then
		_etl_say "start_fake_$kind: no dataset directory $data"
		return 1
	fi
	reg=$(_etl_reg "fake_$kind") || return 1
	[[ -f $reg ]] && { _etl_stop_fake "$kind" || true; }
	sd=$(_etl_state_dir) || return 1
	dir="$sd/fake_$kind"
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$ETL_PYTHON" -u "$ETL_FAKES_DIR/fake_$kind.py" --port 0 --port-file "$dir/port" \
		--data "$data" --log "$dir/requests.log" --watch-pid "${ETL_TEST_OWNER_PID:-$$}" \
		"$@" </dev/null >>"$dir/server.out" 2>&1 3>&- &
	pid=$!
	printf '_fake_pid=%q\n_fake_dir=%q\n' "$pid" "$dir" >"$reg"
	_etl_watchdog_start
	local deadline=$((SECONDS + 30))
	until [[ -s $dir/port ]]; do
		if ! _etl_pid_alive "$pid" || ((SECONDS >= deadline)); then
			_etl_say "fake $kind did not write $dir/port (pid $pid" \
				"$(_etl_pid_alive "$pid" && echo running || echo exited)," \
				"$((SECONDS - deadline + 30)) s):"
			tail -n 20 "$dir/server.out" | sed 's/^/#   /' >&2
			_etl_stop_fake "$kind" || true
			return 1
		fi
		sleep 0.02
	done
	port=$(<"$dir/port")
	url="http://127.0.0.1:$port"
	up=0
	while ((SECONDS < deadline)); do
		if curl -fsS --max-time 2 -o /dev/null "$url/_health" 2>/dev/null; then
			up=1
			break
		fi
		sleep 0.05
	done
	if ((up == 0)); then
		_etl_say "fake $kind does not answer on $url"
		_etl_stop_fake "$kind" || true
		return 1
	fi
	local up_kind=${kind^^}
	export "FAKE_${up_kind}_URL=$url" "FAKE_${up_kind}_PID=$pid" \
		"FAKE_${up_kind}_LOG=$dir/requests.log" "FAKE_${up_kind}_DATA=$data"
	_etl_timing "fake_${kind}_start" "$(_etl_elapsed "$t0")"
	return 0
}

_etl_stop_fake() { # KIND
	local kind=$1 reg _fake_pid='' _fake_dir='' up_kind=${1^^} rc=0
	reg=$(_etl_reg "fake_$kind") || return 1
	[[ -f $reg ]] || return 0
	# shellcheck disable=SC1090
	source "$reg"
	_etl_kill_pid "$_fake_pid" 5 || { _etl_say "fake $kind ($_fake_pid) did not stop"; rc=1; }
	((rc == 0)) && rm -f "$reg"
	local v="FAKE_${up_kind}_PID"
	if [[ ${!v:-} == "$_fake_pid" ]]; then
		unset "FAKE_${up_kind}_URL" "FAKE_${up_kind}_PID" "FAKE_${up_kind}_LOG" \
			"FAKE_${up_kind}_DATA"
	fi
	return "$rc"
}

# start_fake_jira [DATASET_DIR] [fake_jira.py ARGS...]  (default tests/fixtures/jira-small)
start_fake_jira() {
	local data=${1:-$ETL_FIXTURES_DIR/jira-small}
	(($#)) && shift
	_etl_start_fake jira "$data" "$@"
}

# start_fake_github [DATASET_DIR] [fake_github.py ARGS...]  (default tests/fixtures/github-small)
start_fake_github() {
	local data=${1:-$ETL_FIXTURES_DIR/github-small}
	(($#)) && shift
	_etl_start_fake github "$data" "$@"
}

stop_fake_jira() { _etl_stop_fake jira; }
stop_fake_github() { _etl_stop_fake github; }

# start_fake_embed [fake_embed.py ARGS...]: fake OpenAI-compatible /v1/embeddings server.
# Exports FAKE_EMBED_URL (the server; ETL_EMBED_URL may be it or "$FAKE_EMBED_URL/v1"),
# FAKE_EMBED_PID, FAKE_EMBED_LOG.  Stop it with stop_fake_embed.
start_fake_embed() {
	_etl_start_fake embed "$ETL_FAKES_DIR" "$@"
}

# start_fake_qdrant [fake_qdrant.py ARGS...]: fake Qdrant REST server (collections in memory).
# Exports FAKE_QDRANT_URL, FAKE_QDRANT_PID, FAKE_QDRANT_LOG.  Stop it with stop_fake_qdrant.
start_fake_qdrant() {
	_etl_start_fake qdrant "$ETL_FAKES_DIR" "$@"
}

stop_fake_embed() { _etl_stop_fake embed; }
stop_fake_qdrant() { _etl_stop_fake qdrant; }

stop_fakes() {
	local rc=0
	_etl_stop_fake jira || rc=1
	_etl_stop_fake github || rc=1
	return "$rc"
}

# fake_ctl URL JSON: set knobs (POST /_control); prints the server's answer.
fake_ctl() {
	curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' \
		--data-binary "$2" "$1/_control"
}

# fake_stats URL: request counters as JSON.
fake_stats() { curl -fsS --max-time 10 "$1/_stats"; }

# fake_reset URL: zero the counters, drop every knob.
fake_reset() { curl -fsS --max-time 10 -X POST -o /dev/null "$1/_reset"; }

# fake_count URL ENDPOINT: how many requests hit ENDPOINT ("GET /rest/api/3/search/jql",
# or a GitHub operation such as "repository.pullRequests"); 0 when none.
fake_count() {
	fake_stats "$1" | jq -r --arg e "$2" '(.by_endpoint[$e] // .by_operation[$e] // 0)'
}

# jira_get PATH [CURL-ARGS...]: GET on the fake Jira with Basic auth; body on stdout.
jira_get() {
	local path=$1
	shift
	curl -sS --max-time 30 -u 'etl-test@example.com:fake-api-token' "$@" \
		"${FAKE_JIRA_URL:?start_fake_jira first}$path"
}

# github_query QUERY [VARIABLES-JSON]: POST a GraphQL query to the fake GitHub; body on stdout.
github_query() {
	local vars=${2:-}
	[[ -n $vars ]] || vars='{}'
	jq -cn --arg q "$1" --argjson v "$vars" '{query: $q, variables: $v}' |
		curl -sS --max-time 30 -H 'Authorization: bearer fake-github-token' \
			-H 'Content-Type: application/json' --data-binary @- \
			"${FAKE_GITHUB_URL:?start_fake_github first}/graphql"
}

# ---------------------------------------------------------------------------------- all

# stop_all: stop everything this test file started (fakes, RabbitMQ, PostgreSQL).  Returns
# non-zero if something could not be stopped (after trying everything).
stop_all() {
	local rc=0
	stop_fakes || rc=1
	stop_rabbitmq || rc=1
	stop_pg || rc=1
	_etl_watchdog_stop
	# outside bats nothing else will remove the registry once everything is stopped
	if ((rc == 0)) && [[ -z ${BATS_VERSION:-} && -z ${ETL_IN_WATCHDOG:-} ]]; then
		_etl_state_cleanup
	fi
	return "$rc"
}

# The watchdog process itself (started by _etl_watchdog_start): wait for the owner to go.
if [[ -n ${_ETL_WATCHDOG_OWNER:-} ]]; then
	trap - ERR EXIT
	set +eE
	trap '' INT TERM HUP
	trap 'exit 0' USR1
	while _etl_pid_alive "$_ETL_WATCHDOG_OWNER"; do sleep 1; done
	_etl_say "owner $_ETL_WATCHDOG_OWNER is gone without teardown: stopping everything"
	if ETL_IN_WATCHDOG=1 stop_all; then
		_etl_state_cleanup
	fi
	exit 0
fi
