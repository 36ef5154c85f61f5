#!/usr/bin/env bats
# End to end, GitHub: a job on tests/fixtures/github-small (fake GitHub GraphQL) run in a
# pipe, through RabbitMQ with one and two workers per stage, and with workers killed
# mid-job (tests/e2e_helper.bash says what every run must show).

setup_file() {
	load test_helper
	load e2e_helper
	e2e_setup_file
	start_fake_github
	GITHUB_TOKEN="ghp_$(od -An -tx1 -N18 /dev/urandom | tr -d ' \n')"
	export GITHUB_TOKEN
	etl-job integration add --tenant acme --provider github --base-url "$FAKE_GITHUB_URL" \
		--orgs etlkit-test --token-env GITHUB_TOKEN >/dev/null
	JOB=$(etl-job create --tenant acme --integration 1 --name "github sync")
	export JOB E2E_STEPS=2 E2E_API_URL=$FAKE_GITHUB_URL
	export E2E_TABLES="repositories prs prs_commits prs_reviews prs_comments"
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	load e2e_helper
	e2e_setup
}

teardown() { e2e_teardown; }

# Every repository, pull request and nested node of the dataset, counted from it.
e2e_check_pipe() {
	local want
	want=$(python3 - "$ETL_FIXTURES_DIR/github-small" <<'PY'
import glob, json, sys
d = sys.argv[1]
repos = sum(len(v) for v in json.load(open(d + "/repos.json")).values())
prs = [p for f in glob.glob(d + "/prs/*/*.json") for p in json.load(open(f))]
print(repos, len(prs), *(sum(len(p[c]["nodes"]) for p in prs)
			  for c in ("commits", "reviews", "comments")))
PY
)
	run -0 q "SELECT concat_ws(' ', (SELECT count(*) FROM repositories),
		(SELECT count(*) FROM prs), (SELECT count(*) FROM prs_commits),
		(SELECT count(*) FROM prs_reviews), (SELECT count(*) FROM prs_comments))"
	assert_output "$want"
	# One vector per repository and pull request.
	run -0 q "SELECT count(*) FROM vectors"
	assert_output "$(( $(cut -d' ' -f1 <<<"$want") + $(cut -d' ' -f2 <<<"$want") ))"
}

@test "github pipe: etl-job start | etl-extract | etl-transform | etl-embed" { e2e_pipe; }

@test "github queues, one worker per stage: the same tables as the pipe" { e2e_queues_one; }

@test "github queues, two workers per stage: the same tables as the pipe" { e2e_queues_two; }

@test "github: kill -9 a worker of each stage mid-job, restart it: the job finishes, nothing lost" {
	e2e_kill_workers
}

@test "github: a worker under a long rate limit parks the message and finishes the job after the reset" {
	[ -s "$DUMPS/pipe.dump" ] || skip "the pipe run failed"
	use_db e2e_park e2e_tmpl
	etl-queue purge extraction_queue_premium >/dev/null
	etl-queue dlq purge >/dev/null
	# The points are spent for 12 s: longer than the worker's --max-wait.
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"remaining": 0, "reset_in": 12}}' >/dev/null
	etl-extract --from-queue extraction_queue_premium --to-queue transform_queue_premium \
		--max-wait 5 >"$W/extract.out" 2>"$W/extract.err" &
	WORKERS+=($!)
	worker transform 1
	worker embed 1
	watch_start
	etl-job start "$JOB" --to-queue >/dev/null
	# Parked, not held by the worker, not dead-lettered; the job waits, RUNNING.
	for _ in $(seq 100); do
		n=$(etl-queue stats | jq -r 'select(.queue == "etl.delay.60s") | .messages')
		[ "$n" = 1 ] && break
		sleep 0.1
	done
	[ "$n" = 1 ] || { cat "$W/extract.err"; fail "the message was not parked"; }
	[ "$(etl-job status "$JOB" | jq -r .overall)" = RUNNING ]
	[ "$(etl-queue stats | jq -r 'select(.queue == "extraction_queue_premium") | .messages')" = 0 ]
	# The checkpoint says until when it waits (etl-reset --stuck counts from there).
	run -0 etl-job status "$JOB"
	run -0 jq -r '.checkpoint.retry_at | fromdate - now | . > 0 and . < 20' <<<"$output"
	assert_output true
	watch_end
	drain
	grep -q "parked for 1[0-9] s in 'etl.delay.60s' (1 of 48)" "$W/extract.err"
	check_transitions
	nothing_left
	dump_tables >"$W/park.dump"
	same_tables "$W/park.dump"
	finished_then_ready
}
