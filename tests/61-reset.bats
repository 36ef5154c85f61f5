#!/usr/bin/env bats
# etl-reset: the reset countdown (steps finished, no message of the run left in any
# queue, backoff 60/180/300 s), concurrent passes, --dry-run, --watch, --stuck.
# Real PostgreSQL and RabbitMQ.

# use_db, q, purge_queues, token_of: tests/test_helper.bash.

setup_file() {
	load test_helper
	start_job_env
	q "INSERT INTO tenants (id, name, tier) VALUES (1, 'acme', 'premium')"
	TEST_INTEGRATION=$(etl-job integration add --tenant acme --provider jira \
		--base-url https://x.test --token-env TOK)
	export TEST_INTEGRATION
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	use_db "t$BATS_TEST_NUMBER" etl_tmpl
	W=$BATS_TEST_TMPDIR
	ST=$ETL_UNIT_DIR/status_tool
	purge_queues
}

# finished_job NAME: a job whose run went through every step and completed,
# its countdown already over.  Prints the job id.
finished_job() {
	local j tok step stage
	j=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name "$1") || return 1
	etl-job start "$j" >/dev/null || return 1
	tok=$(token_of "$j")
	for step in jira_projects_and_issue_types jira_statuses_and_relationships \
		jira_issues_with_changelogs jira_dev_status; do
		for stage in extraction transform embedding; do
			"$ST" set "$j" "$tok" "$step" "$stage" finished >/dev/null || return 1
		done
	done
	"$ST" complete "$j" "$tok" >/dev/null || return 1
	expire "$j"
	echo "$j"
}

# expire JOB: its reset deadline has passed.
expire() {
	q "UPDATE etl_jobs SET status = jsonb_set(status, '{reset_deadline}', to_jsonb(to_char(
		(now() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))
		WHERE id = $1"
}

# one_message JOB [QUEUE]: a message of the job's run, queued.
one_message() {
	local tok
	tok=$(token_of "$1")
	printf '{"tenant_id":1,"integration_id":1,"job_id":%s,"token":"%s","type":"jira_dev_status","provider":"jira","first_item":false,"last_item":false,"last_job_item":false,"last_sync_date":null,"raw_data_id":null,"table_name":"work_items","external_id":"P-1"}\n' \
		"$1" "$tok" | etl-queue publish "${2:-embedding_queue_premium}" >/dev/null
}

# deadline_in JOB: seconds from now to its reset_deadline, and reset_attempt
deadline_in() {
	q "SELECT round(extract(epoch FROM (status->>'reset_deadline')::timestamptz - now()))
		|| ' ' || (status->>'reset_attempt') FROM etl_jobs WHERE id = $1"
}

@test "a message of the run still queued: the deadline moves on by 60 s, then reset once drained" {
	j=$(finished_job sync)
	one_message "$j"
	run -0 --separate-stderr etl-reset
	run -0 jq -c '[.job_id, .action, .seconds, .attempt, (.reason | test("1 message of run .* still queued"))]' <<<"$output"
	assert_output "[$j,\"extend\",60,1,true]"
	read -r secs attempt < <(deadline_in "$j")
	[ "$secs" -ge 58 ] && [ "$secs" -le 60 ]
	[ "$attempt" -eq 1 ]
	[ "$(etl-job status "$j" | jq -r .overall)" = FINISHED ]
	# Not due yet: nothing to do.
	run -0 etl-reset
	assert_output ""
	# Still there at the next deadlines: 180, then 300, 300 s.
	for want in "180 2" "300 3" "300 4"; do
		expire "$j"
		run -0 etl-reset
		read -r secs attempt < <(deadline_in "$j")
		[ "$(( (secs + 1) / 10 * 10 )) $attempt" = "$want" ] || fail "got $secs $attempt, want $want"
	done
	# The message left the queue (consumed): reset to READY, steps idle, notified.
	etl-queue consume embedding_queue_premium --count 1 --timeout 5 >/dev/null
	expire "$j"
	"$ST" listen 1 20000 >"$W/notes" 2>"$W/err" &
	pid=$!
	for _ in $(seq 50); do grep -q listening "$W/err" && break; sleep 0.1; done
	run -0 etl-reset
	assert_output "{\"job_id\":$j,\"action\":\"reset\",\"dry_run\":false}"
	wait "$pid"
	run -0 jq -c '.status | [.overall, .token, .reset_deadline, .reset_attempt, ([.steps[] | .extraction, .transform, .embedding] | unique)]' "$W/notes"
	assert_output '["READY",null,null,0,["idle"]]'
	run -0 etl-job status "$j"
	[ "$(jq -r .overall <<<"$output")" = READY ]
	# READY again: etl-job start works without --force.
	run -0 etl-job start "$j"
}

@test "a message in another tier's or stage's queue counts too; other runs' do not" {
	j=$(finished_job sync)
	k=$(finished_job other)
	one_message "$k" transform_queue_enterprise
	run -0 etl-reset
	run -0 jq -r '"\(.job_id) \(.action)"' <<<"$output"
	assert_line "$j reset"
	assert_line "$k extend"
}

@test "steps not finished: extended, with the steps named" {
	j=$(finished_job sync)
	tok=$(token_of "$j")
	# A stage still running (lib/status never turns finished back into
	# running, so write it directly).
	[ -n "$tok" ]
	q "UPDATE etl_jobs SET status = jsonb_set(status, '{steps,jira_dev_status,embedding}', '\"running\"') WHERE id = $j"
	run -0 etl-reset
	run -0 jq -r .reason <<<"$output"
	assert_output "steps not finished: jira_dev_status"
	read -r secs attempt < <(deadline_in "$j")
	[ "$attempt" -eq 1 ]
}

@test "--dry-run says what it would do and changes nothing" {
	j=$(finished_job sync)
	k=$(finished_job other)
	one_message "$k"
	before=$(q "SELECT string_agg(status::text, ',' ORDER BY id) FROM etl_jobs")
	run -0 --separate-stderr etl-reset --dry-run
	run -0 jq -c '[.job_id, .action, .dry_run]' <<<"$output"
	assert_line "[$j,\"reset\",true]"
	assert_line "[$k,\"extend\",true]"
	[ "$(q "SELECT string_agg(status::text, ',' ORDER BY id) FROM etl_jobs")" = "$before" ]
}

@test "without ETL_AMQP_URL the queues are not checked, and -v says so" {
	j=$(finished_job sync)
	one_message "$j"
	run -0 --separate-stderr env -u ETL_AMQP_URL etl-reset -v
	assert_output "{\"job_id\":$j,\"action\":\"reset\",\"dry_run\":false}"
	[[ $stderr == *"info: ETL_AMQP_URL is not set: not checking the queues"* ]]
	run -0 --separate-stderr env -u ETL_AMQP_URL etl-reset
	[ -z "$stderr" ]
	# A broker that cannot be reached: the job stays FINISHED, exit 69.
	k=$(finished_job other)
	run -69 --separate-stderr etl-reset --url amqp://guest:guest@127.0.0.1:1/
	[ "$(etl-job status "$k" | jq -r .overall)" = FINISHED ]
}

@test "a job finished with an alert (inactive integration) is reset without checks" {
	j=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name sync)
	etl-job integration disable "$TEST_INTEGRATION"
	run -1 etl-job start "$j"
	etl-job integration enable "$TEST_INTEGRATION"
	expire "$j"
	run -0 etl-reset
	assert_output "{\"job_id\":$j,\"action\":\"reset\",\"dry_run\":false}"
	run -0 etl-job status "$j"
	run -0 jq -c '[.overall, .alert]' <<<"$output"
	assert_output "[\"READY\",\"integration $TEST_INTEGRATION is inactive: job skipped\"]"
}

@test "concurrent etl-reset runs never reset or extend a job twice" {
	jobs=()
	for n in $(seq 8); do
		jobs+=("$(finished_job "job$n")")
	done
	# Half of them with work left.
	for n in 1 3 5 7; do one_message "${jobs[$n]}"; done
	"$ST" listen 8 30000 >"$W/notes" 2>"$W/err" &
	lpid=$!
	for _ in $(seq 50); do grep -q listening "$W/err" && break; sleep 0.1; done
	pids=()
	for k in 1 2 3 4 5; do
		etl-reset >"$W/r$k.out" 2>"$W/r$k.err" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { cat "$W"/r*.err; false; }; done
	wait "$lpid"
	cat "$W"/r*.out >"$W/all"
	# One action per job across the five runs...
	run -0 jq -r .job_id "$W/all"
	[ "$(sort -n <<<"$output" | tr '\n' ' ')" = "$(printf '%s\n' "${jobs[@]}" | sort -n | tr '\n' ' ')" ]
	for n in 0 2 4 6; do
		[ "$(jq -r "select(.job_id == ${jobs[$n]}) | .action" "$W/all")" = reset ]
		[ "$(etl-job status "${jobs[$n]}" | jq -r .overall)" = READY ]
	done
	for n in 1 3 5 7; do
		[ "$(jq -r "select(.job_id == ${jobs[$n]}) | .action" "$W/all")" = extend ]
		read -r secs attempt < <(deadline_in "${jobs[$n]}")
		[ "$attempt" -eq 1 ] || fail "job ${jobs[$n]} extended $attempt times"
	done
	# ... and one notification each.
	[ "$(jq -r .job_id "$W/notes" | sort -u | wc -l)" -eq 8 ]
	[ "$(wc -l <"$W/notes")" -eq 8 ]
	# The queued messages are still there (the checks only borrowed them).
	[ "$(etl-queue stats | jq -r 'select(.queue == "embedding_queue_premium") | .messages')" -eq 4 ]
}

@test "--watch resets a job once its deadline passes, and stops on SIGTERM" {
	j=$(finished_job sync)
	q "UPDATE etl_jobs SET status = jsonb_set(status, '{reset_deadline}', to_jsonb(to_char(
		(now() + interval '2 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))
		WHERE id = $j"
	etl-reset --watch --interval 1 >"$W/out" 2>"$W/err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$W/out" ] && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid" || { cat "$W/err"; false; }
	run -0 cat "$W/out"
	assert_output "{\"job_id\":$j,\"action\":\"reset\",\"dry_run\":false}"
}

@test "--stuck AGE: RUNNING jobs with no progress fail, or with --requeue go back to READY" {
	a=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name a)
	b=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name b)
	c=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name c)
	for j in "$a" "$b" "$c"; do etl-job start "$j" >/dev/null; done
	q "UPDATE etl_jobs SET last_updated_at = now() - interval '2 hours';
	   UPDATE etl_job_runs SET last_activity_at = now() - interval '2 hours'"
	# c made progress that changes no status: its run's counters moved.
	"$ETL_UNIT_DIR/runstats_tool" add "$(token_of "$c")" extraction api_calls=1
	run -0 --separate-stderr etl-reset --stuck 1h --dry-run
	run -0 jq -r '"\(.job_id) \(.action) \(.idle_s >= 7199)"' <<<"$output"
	assert_output "$(printf '%s fail true\n%s fail true' "$a" "$b")"
	[ "$(etl-job status "$a" | jq -r .overall)" = RUNNING ]
	ta=$(token_of "$a")
	run -0 --separate-stderr etl-reset --stuck 90m
	[ "${#lines[@]}" -eq 2 ]
	[[ $stderr == *"job $a: no progress for"*"FAILED"* ]]
	run -0 q "SELECT status->>'overall' || ' ' || error_message FROM etl_jobs WHERE id = $a"
	assert_output --regexp "^FAILED no progress for [0-9]+ s \(etl-reset --stuck\)$"
	run -0 q "SELECT outcome FROM etl_job_runs WHERE token = '$ta'"
	assert_output failed
	[ "$(etl-job status "$c" | jq -r .overall)" = RUNNING ]
	# --requeue: back to READY, the run cancelled.
	etl-job set-status "$a" READY
	etl-job start "$a" >/dev/null
	q "UPDATE etl_jobs SET last_updated_at = now() - interval '3 days' WHERE id = $a;
	   UPDATE etl_job_runs SET last_activity_at = now() - interval '3 days' WHERE job_id = $a"
	run -0 --separate-stderr etl-reset --stuck 2d --requeue
	assert_output --regexp "^\{\"job_id\":$a,\"action\":\"requeue\""
	[ "$(etl-job status "$a" | jq -r .overall)" = READY ]
	# Nothing stuck: nothing printed.
	run -0 etl-reset --stuck 1d
	assert_output ""
}

@test "--stuck AGE: a run waiting out a rate limit is idle from its checkpoint's retry_at" {
	d=$(etl-job create --tenant acme --integration "$TEST_INTEGRATION" --name d)
	etl-job start "$d" >/dev/null
	# Parked two hours ago until the limit resets in 30 minutes.
	retry_at() {
		q "UPDATE etl_jobs SET last_updated_at = now() - interval '2 hours',
		   status = jsonb_set(status, '{checkpoint}', jsonb_build_object('retry_at',
		     to_char((now() + interval '$1') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))
		   WHERE id = $d;
		   UPDATE etl_job_runs SET last_activity_at = now() - interval '2 hours' WHERE job_id = $d"
	}
	retry_at '30 minutes'
	run -0 --separate-stderr etl-reset --stuck 1h --dry-run
	assert_output ""
	# The limit reset 90 minutes ago and nothing moved since: stuck.
	retry_at '-90 minutes'
	run -0 --separate-stderr etl-reset --stuck 1h --dry-run
	run -0 jq -r '"\(.job_id) \(.idle_s >= 5399 and .idle_s < 5500)"' <<<"$output"
	assert_output "$d true"
	# A checkpoint without retry_at (or a malformed one) changes nothing.
	q "UPDATE etl_jobs SET status = jsonb_set(status, '{checkpoint}', '{\"retry_at\": \"soon\"}')
	   WHERE id = $d"
	run -0 --separate-stderr etl-reset --stuck 1h --dry-run
	run -0 jq -r .job_id <<<"$output"
	assert_output "$d"
	# Out of the way of the tests that follow.
	run -0 --separate-stderr etl-job set-status "$d" FAILED
}

@test "etl-reset: usage" {
	run -64 --separate-stderr etl-reset --requeue
	[[ $stderr == *"--requeue needs --stuck"* ]]
	run -64 --separate-stderr etl-reset --stuck soon
	[[ $stderr == *"invalid age 'soon'"* ]]
	run -64 etl-reset --stuck 5x
	run -64 etl-reset --interval 0
	run -64 etl-reset extra
	run -64 --separate-stderr etl-reset --bogus
	[[ $stderr == *"Try 'etl-reset --help'"* ]]
	run -0 etl-reset --help
	assert_line --index 0 --regexp '^usage: etl-reset'
	run -69 --separate-stderr etl-reset --dsn "postgresql://u:s3cretpw@127.0.0.1:1/x"
	[[ $stderr != *s3cretpw* ]]
}
