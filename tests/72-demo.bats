#!/usr/bin/env bats
# README's first command: `make demo` (share/examples/demo.sh) runs the Jira and
# the GitHub job end to end on the bundled sample data, in a pipe and through
# RabbitMQ workers, prints what it promises, and leaves nothing running.

setup() {
	load test_helper
	# The demo's services run as postgres and rabbitmq: a directory they can
	# enter (bats' own is private to root).
	DEMO_TMP=$(mktemp -d /tmp/etltest-demo.XXXXXX)
	chmod 755 "$DEMO_TMP"
}

teardown() {
	rm -rf "$DEMO_TMP"
}

# demo [--queue]: run the demo as a newcomer would, in its own environment (it
# starts and stops its own services, apart from this file's).
demo() {
	env -u BATS_VERSION -u ETL_TEST_STATE_DIR -u _ETL_STATE_DIR_OWNED -u ETL_DATABASE_URL -u ETL_AMQP_URL -u PGHOST -u PGPORT \
		-u PGDATABASE TMPDIR="$DEMO_TMP" ETL_BIN_DIR="$ETL_BIN_DIR" \
		"$ETL_TEST_ROOT/share/examples/demo.sh" "$@"
}

# check_demo: the summary of both jobs over the sample data.
check_demo() {
	local d="$ETL_FIXTURES_DIR"
	# what arrived: projects, work items, ... repositories, pull requests
	want=$(python3 - "$d" <<'PY'
import glob, json, sys
d = sys.argv[1]
projects = len(json.load(open(d + "/jira-small/projects.json")))
issues = len(glob.glob(d + "/jira-small/issues/*.json"))
repos = sum(len(v) for v in json.load(open(d + "/github-small/repos.json")).values())
prs = sum(len(json.load(open(f))) for f in glob.glob(d + "/github-small/prs/*/*.json"))
print(projects, issues, repos, prs)
PY
)
	run -0 awk -F'|' '/^ *projects \| work_items/ { getline; getline;
		gsub(/ /, ""); print $1, $2, $5, $6 }' <<<"$demo_out"
	assert_output "$want"
	# Both jobs finished, issues are joined to their pull requests, search answers.
	grep -qx '  FINISHED: 1:fff 2:fff 3:fff 4:fff' <<<"$demo_out"
	grep -qx '  FINISHED: 1:fff 2:fff' <<<"$demo_out"
	[[ $demo_out == *"etlkit-test/alpha-service#1 | MERGED"* ]]
	[[ $demo_out == *"Bug: Login drops unicode"* ]]
	[[ $demo_out == *"==> stopping what the demo started"* ]]
	# Nothing left behind: no demo directory, no service of the demo running.
	run ls "$DEMO_TMP"
	assert_output ""
	run pgrep -f "$DEMO_TMP"
	assert_failure
}

@test "make demo: both jobs in a pipe, the promised summary, nothing left running" {
	demo_out=$(demo 2>&1) || { echo "$demo_out"; false; }
	check_demo
}

@test "make demo-queue: the same jobs through RabbitMQ workers" {
	demo_out=$(demo --queue 2>&1) || { echo "$demo_out"; false; }
	check_demo
	[[ $demo_out == *"embedding_queue_premium"*"0 messages"*"1 consumer(s)"* ]]
}
