#!/usr/bin/env bats
# etl-job job commands: registry, start (the message contract), tick (concurrent,
# scheduling), inactive jobs and integrations, watch, set-status, runs, metrics.
# Real PostgreSQL and RabbitMQ.

# use_db, q, purge_queues, messages, token_of: tests/test_helper.bash.

setup_file() {
	load test_helper
	start_job_env
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	use_db "t$BATS_TEST_NUMBER" etl_tmpl
	W=$BATS_TEST_TMPDIR
}

# tenant NAME [TIER] -> "TENANT_ID INTEGRATION_ID" (a Jira integration)
tenant() {
	local t ig
	t=$(etl-job tenant add "$1" --tier "${2:-free}") || return 1
	ig=$(etl-job integration add --tenant "$t" --provider jira \
		--base-url https://x.test --token-env TOK) || return 1
	echo "$t $ig"
}

state_of() { etl-job status "$1" | jq -r .overall; }

@test "create prints the id alone; list, show, enable, disable, delete" {
	read -r t ig < <(tenant acme)
	run -0 --separate-stderr etl-job create --tenant acme --integration "$ig" --name "jira sync"
	assert_output --regexp '^[0-9]+$'
	j=$output
	[ -z "$stderr" ]
	# READY and due now, scheduled by the defaults.
	run -0 q "SELECT status->>'overall', next_run <= now(), retry_interval, cycle_interval
		FROM etl_jobs WHERE id = $j"
	assert_output "READY|t|00:15:00|01:00:00"
	j2=$(etl-job create --tenant "$t" --integration "$ig" --name other \
		--retry-interval '5 minutes' --cycle-interval '2 hours')
	run -0 q "SELECT retry_interval || ' ' || cycle_interval FROM etl_jobs WHERE id = $j2"
	assert_output "00:05:00 02:00:00"
	run -0 --separate-stderr etl-job list
	[ "${#lines[@]}" -eq 2 ]
	run -0 jq -sc 'map([.id, .name, .tenant, .provider, .status.overall, .active])' <<<"$output"
	assert_output "[[$j,\"jira sync\",\"acme\",\"jira\",\"READY\",true],[$j2,\"other\",\"acme\",\"jira\",\"READY\",true]]"
	run -0 script -qec "etl-job list" /dev/null
	assert_line --index 0 --regexp '^ID +TENANT +INTEGRATION +PROVIDER +NAME +ACTIVE +STATE'
	run -0 etl-job show "$j"
	run -0 jq -c '[.id, .name, .integration_id, .retry_interval_s, .cycle_interval_s]' <<<"$output"
	assert_output "[$j,\"jira sync\",$ig,900,3600]"
	run -0 etl-job disable "$j"
	run -0 q "SELECT active FROM etl_jobs WHERE id = $j"
	assert_output f
	run -0 etl-job enable "$j"
	run -0 q "SELECT active FROM etl_jobs WHERE id = $j"
	assert_output t
	# A running job is deleted only with --force; its runs go with it.
	etl-job start "$j" >/dev/null
	run -65 --separate-stderr etl-job delete "$j"
	[[ $stderr == *"job $j is running"* ]]
	run -0 etl-job delete "$j" --force
	run -0 etl-job delete "$j2"
	run -0 q "SELECT (SELECT count(*) FROM etl_jobs) + (SELECT count(*) FROM etl_job_runs)"
	assert_output 0
	run -66 --separate-stderr etl-job show "$j"
	[[ $stderr == *"unknown job $j"* ]]
}

@test "create, show, start: bad input exits 64, 65 or 66" {
	read -r t ig < <(tenant acme)
	read -r t2 i2 < <(tenant globex)
	etl-job create --tenant acme --integration "$ig" --name dup >/dev/null
	run -65 --separate-stderr etl-job create --tenant acme --integration "$ig" --name dup
	[[ $stderr == *"already has a job named 'dup'"* ]]
	run -66 --separate-stderr etl-job create --tenant acme --integration "$i2" --name x
	[[ $stderr == *"tenant 'acme' has no integration $i2"* ]]
	run -66 etl-job create --tenant nobody --integration "$ig" --name x
	run -65 --separate-stderr etl-job create --tenant acme --integration "$ig" --name x \
		--retry-interval 'soon'
	[[ $stderr == *"invalid interval"* ]]
	run -65 etl-job create --tenant acme --integration "$ig" --name x --cycle-interval '-1 hour'
	run -64 etl-job create --tenant acme --integration "$ig"
	run -64 etl-job create --tenant acme --integration x --name y
	run -64 etl-job create --tenant acme --integration "$ig" --name y extra
	run -64 etl-job show
	run -64 etl-job show abc
	run -64 --separate-stderr etl-job start 1 --bogus
	[[ $stderr == *"unknown option '--bogus'"* ]]
	[[ $stderr == *"Try 'etl-job start --help'"* ]]
	run -64 etl-job start 1 --tier gold
	run -66 etl-job start 999
	run -66 etl-job status 999
	run -66 etl-job watch 999
	run -64 etl-job set-status 1 DONE
	run -64 etl-job runs 1 --limit 0
	run -0 q "SELECT count(*) FROM etl_jobs"
	assert_output 1
}

@test "start: the first extraction message, RUNNING with every step idle, a run record" {
	read -r t ig < <(tenant acme premium)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	run -0 --separate-stderr etl-job start "$j"
	[ "${#lines[@]}" -eq 1 ]
	msg=$output
	tok=$(jq -r .token <<<"$msg")
	[[ $tok =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	# Exactly the contract's fields, in this order, and nothing else.
	run -0 jq -c 'del(.token)' <<<"$msg"
	assert_output "{\"tenant_id\":$t,\"integration_id\":$ig,\"job_id\":$j,\"type\":\"jira_projects_and_issue_types\",\"provider\":\"jira\",\"last_sync_date\":null,\"first_item\":true,\"last_item\":false,\"last_job_item\":false}"
	# It is valid for the extraction queue (etl-queue validates what it publishes).
	purge_queues
	etl-queue publish extraction_queue_free <<<"$msg"
	run -0 etl-job status "$j"
	run -0 jq -c '[.overall, .token == "'"$tok"'", .reset_deadline, ([.steps[] | .extraction, .transform, .embedding] | unique), (.steps | keys)]' <<<"$output"
	assert_output '["RUNNING",true,null,["idle"],["jira_dev_status","jira_issues_with_changelogs","jira_projects_and_issue_types","jira_statuses_and_relationships"]]'
	run -0 q "SELECT token || ' ' || outcome || ' ' || tenant_id FROM etl_job_runs WHERE job_id = $j"
	assert_output "$tok running $t"
	# Not twice.
	run -1 --separate-stderr etl-job start "$j"
	[[ $stderr == *"job $j is RUNNING: a run is in progress"* ]]
	[ -z "$output" ]
	# FINISHED waits for etl-reset, or --force; last_sync_date is the job's, in UTC.
	"$ETL_UNIT_DIR/status_tool" complete "$j" "$tok" 2024-01-02T03:04:05.678+02:00
	run -1 --separate-stderr etl-job start "$j"
	[[ $stderr == *"job $j is FINISHED: not started"*"--force"* ]]
	run -0 --separate-stderr etl-job start "$j" --force --full
	run -0 jq -c '[.last_sync_date, .full, .first_item]' <<<"$output"
	assert_output '["2024-01-02T01:04:05Z",true,true]'
	[ "$(jq -r .token <<<"$output")" != "$tok" ]
	run -0 q "SELECT string_agg(outcome, ',' ORDER BY id) FROM etl_job_runs WHERE job_id = $j"
	assert_output "finished,running"
}

@test "start: a message that cannot be written fails the run (74)" {
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	run -74 --separate-stderr bash -c "etl-job start $j >/dev/full"
	[[ $stderr == *"could not be written"* ]]
	run -0 q "SELECT status->>'overall', (SELECT outcome FROM etl_job_runs WHERE job_id = $j)
		FROM etl_jobs WHERE id = $j"
	assert_output "FAILED|failed"
}

@test "start --to-queue / --tier: published to the tier's extraction queue, confirmed" {
	purge_queues
	read -r t ig < <(tenant acme premium)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	run -0 --separate-stderr etl-job start "$j" --to-queue
	run -0 jq -r '[.job_id, .action, .queue] | @tsv' <<<"$output"
	assert_output "$(printf '%s\tstarted\textraction_queue_premium' "$j")"
	[ "$(messages extraction_queue_premium)" -eq 1 ]
	run -0 etl-queue consume extraction_queue_premium --count 1 --timeout 5
	run -0 jq -r '[.job_id, .type, .first_item, .token == "'"$(token_of "$j")"'"] | @tsv' <<<"$output"
	assert_output "$(printf '%s\tjira_projects_and_issue_types\ttrue\ttrue' "$j")"
	etl-job set-status "$j" READY
	run -0 etl-job start "$j" --tier basic
	[ "$(messages extraction_queue_basic)" -eq 1 ]
	# No broker: nothing changes.
	etl-job set-status "$j" READY
	run -69 --separate-stderr etl-job start "$j" --to-queue --url amqp://guest:guest@127.0.0.1:1/
	[ "$(state_of "$j")" = READY ]
}

@test "inactive job: skipped with a clear message; inactive integration: finished with an alert" {
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	etl-job disable "$j"
	run -1 --separate-stderr etl-job start "$j"
	[[ $stderr == *"job $j is inactive: skipped"* ]]
	[ -z "$output" ]
	[ "$(state_of "$j")" = READY ]
	run -0 q "SELECT count(*) FROM etl_job_runs"
	assert_output 0
	etl-job enable "$j"
	etl-job integration disable "$ig"
	run -1 --separate-stderr etl-job start "$j"
	[[ $stderr == *"integration is inactive: the job finished with an alert"* ]]
	[ -z "$output" ]
	run -0 etl-job status "$j"
	run -0 jq -c '[.overall, .alert, .token, (.reset_deadline != null)]' <<<"$output"
	assert_output "[\"FINISHED\",\"integration $ig is inactive: job skipped\",null,true]"
	run -0 q "SELECT outcome || ': ' || error_message FROM etl_job_runs WHERE job_id = $j"
	assert_output "cancelled: integration $ig is inactive: job skipped"
	# No sync happened: the watermark did not move.
	run -0 q "SELECT last_sync_date IS NULL FROM etl_jobs WHERE id = $j"
	assert_output t
}

@test "tick x5 concurrently: every due job started exactly once, on its tier's queue" {
	purge_queues
	tiers=(free basic premium enterprise)
	due=()
	for n in 0 1 2 3; do
		read -r t ig < <(tenant "tenant$n" "${tiers[$n]}")
		for k in 1 2 3; do
			due+=("$(etl-job create --tenant "$t" --integration "$ig" --name "job$k")")
		done
	done
	# Not due: inactive, later, already running, not started, inactive tenant.
	read -r t ig < <(tenant others)
	off=$(etl-job create --tenant "$t" --integration "$ig" --name off)
	etl-job disable "$off"
	later=$(etl-job create --tenant "$t" --integration "$ig" --name later)
	q "UPDATE etl_jobs SET next_run = now() + interval '1 hour' WHERE id = $later"
	busy=$(etl-job create --tenant "$t" --integration "$ig" --name busy)
	etl-job start "$busy" >/dev/null
	read -r t2 i2 < <(tenant sleeping)
	asleep=$(etl-job create --tenant "$t2" --integration "$i2" --name asleep)
	q "UPDATE tenants SET active = false WHERE id = $t2"
	# An inactive integration: the tick finishes that one with an alert.
	read -r t3 i3 < <(tenant dormant)
	alerted=$(etl-job create --tenant "$t3" --integration "$i3" --name alerted)
	etl-job integration disable "$i3"
	pids=()
	for k in 1 2 3 4 5; do
		etl-job tick >"$W/tick$k.out" 2>"$W/tick$k.err" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { cat "$W"/tick*.err; false; }; done
	cat "$W"/tick*.out >"$W/all"
	# Each due job once, across the five ticks.
	run -0 jq -r 'select(.action == "started") | .job_id' "$W/all"
	[ "$(sort -n <<<"$output" | tr '\n' ' ')" = "$(printf '%s\n' "${due[@]}" | sort -n | tr '\n' ' ')" ]
	run -0 jq -r 'select(.action == "alert") | .job_id' "$W/all"
	assert_output "$alerted"
	run -0 q "SELECT string_agg(job_id || ':' || n, ' ' ORDER BY job_id) FROM
		(SELECT job_id, count(*) AS n FROM etl_job_runs WHERE outcome = 'running'
		 GROUP BY job_id) x"
	expect=$(for d in "${due[@]}" "$busy"; do echo "$d:1"; done | sort -n | tr '\n' ' ')
	assert_output "${expect% }"
	for s in "$off" "$later" "$asleep"; do
		[ "$(state_of "$s")" = READY ] || fail "job $s was started"
	done
	# Three messages per tier, one per job, with the job's token.
	for n in 0 1 2 3; do
		[ "$(messages "extraction_queue_${tiers[$n]}")" -eq 3 ]
	done
	for tier in "${tiers[@]}"; do
		etl-queue consume "extraction_queue_$tier" --count 3 --timeout 5
	done >"$W/msgs"
	while read -r id tok; do
		[ "$(token_of "$id")" = "$tok" ] || fail "job $id: token $tok is not its run's"
	done < <(jq -r '"\(.job_id) \(.token)"' "$W/msgs")
	[ "$(jq -r .job_id "$W/msgs" | sort -u | wc -l)" -eq 12 ]
	# A second tick finds nothing due.
	run -0 --separate-stderr etl-job tick
	assert_output ""
}

@test "tick schedules the tenant's next job: 15 minutes between jobs, 60 back to the first" {
	purge_queues
	read -r t ig < <(tenant acme)
	a=$(etl-job create --tenant acme --integration "$ig" --name a)
	b=$(etl-job create --tenant acme --integration "$ig" --name b)
	c=$(etl-job create --tenant acme --integration "$ig" --name c --cycle-interval '2 hours')
	q "UPDATE etl_jobs SET next_run = NULL WHERE id IN ($b, $c)"
	# in ID: minutes from now to next_run, "-" when unscheduled
	due_in() { q "SELECT coalesce(round(extract(epoch FROM next_run - now()) / 60)::text, '-')
		FROM etl_jobs WHERE id = $1"; }
	run -0 etl-job tick
	[ "$(jq -r .job_id <<<"$output")" = "$a" ]
	[ "$(due_in "$a") $(due_in "$b") $(due_in "$c")" = "- 15 -" ]
	q "UPDATE etl_jobs SET next_run = now() WHERE id = $b"
	run -0 etl-job tick
	[ "$(jq -r .job_id <<<"$output")" = "$b" ]
	[ "$(due_in "$a") $(due_in "$b") $(due_in "$c")" = "- - 15" ]
	q "UPDATE etl_jobs SET next_run = now() WHERE id = $c"
	run -0 etl-job tick
	[ "$(jq -r .job_id <<<"$output")" = "$c" ]
	# The last job cycles back to the first after its cycle_interval.
	[ "$(due_in "$a") $(due_in "$b") $(due_in "$c")" = "120 - -" ]
	# A job that is not READY when due waits (RUNNING, then FINISHED until
	# etl-reset); then it starts.
	q "UPDATE etl_jobs SET next_run = now() WHERE id = $a"
	run -0 etl-job tick
	assert_output ""
	"$ETL_UNIT_DIR/status_tool" complete "$a" "$(token_of "$a")"
	run -0 etl-job tick
	assert_output ""
	etl-job set-status "$a" READY
	run -0 etl-job tick
	[ "$(jq -r .job_id <<<"$output")" = "$a" ]
}

@test "tick --loop starts jobs as they fall due and stops on SIGTERM" {
	purge_queues
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name a)
	q "UPDATE etl_jobs SET next_run = now() + interval '2 seconds' WHERE id = $j"
	etl-job tick --loop --interval 1 >"$W/out" 2>"$W/err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$W/out" ] && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid" || { cat "$W/err"; false; }
	run -0 jq -r .job_id "$W/out"
	assert_output "$j"
	[ "$(messages extraction_queue_free)" -eq 1 ]
}

@test "watch: follows the transitions of a run and exits with its final state" {
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	etl-job start "$j" >/dev/null
	tok=$(token_of "$j")
	etl-job watch "$j" --timeout 30 >"$W/watch" 2>"$W/err" &
	pid=$!
	for _ in $(seq 100); do [ -s "$W/watch" ] && break; sleep 0.05; done
	st="$ETL_UNIT_DIR/status_tool"
	for step in jira_projects_and_issue_types jira_statuses_and_relationships \
		jira_issues_with_changelogs jira_dev_status; do
		for stage in extraction transform embedding; do
			"$st" set "$j" "$tok" "$step" "$stage" running
			"$st" set "$j" "$tok" "$step" "$stage" finished
		done
	done
	"$st" complete "$j" "$tok"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$W/err"; fail "watch exited $rc"; }
	# One line per change: the state first, then 24 stage changes, then FINISHED.
	run -0 jq -r .status.overall "$W/watch"
	[ "${#lines[@]}" -eq 26 ]
	assert_line --index 0 RUNNING
	assert_line --index 25 FINISHED
	run -0 jq -r '.status.steps.jira_issues_with_changelogs.transform' "$W/watch"
	[ "$(uniq <<<"$output" | tr '\n' ' ')" = "idle running finished " ]
	run -0 jq -r '[.type, .job_id, .tenant_id] | @tsv' "$W/watch"
	assert_line --index 3 "$(printf 'job_status_update\t%s\t%s' "$j" "$t")"
	# FAILED: exit status 1.
	etl-job start "$j" --force >/dev/null
	tok=$(token_of "$j")
	etl-job watch "$j" --timeout 30 >"$W/watch2" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$W/watch2" ] && break; sleep 0.05; done
	"$st" fail "$j" "$tok" "boom"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 1 ]
	# A finished job: its state, at once; a timeout is 75.
	run -1 etl-job watch "$j"
	[ "$(jq -r .status.overall <<<"$output")" = FAILED ]
	etl-job set-status "$j" READY
	run -75 etl-job watch "$j" --timeout 1
	# On a terminal, a table of steps x stages.
	run -75 script -qec "etl-job watch $j --timeout 1" /dev/null
	assert_output --partial "READY"
	etl-job start "$j" >/dev/null
	"$st" fail "$j" "$(token_of "$j")" "api down"
	run -1 script -qec "etl-job watch $j --timeout 5" /dev/null
	assert_output --partial "Issues & Changelogs"
	assert_output --partial "FAILED"
	assert_output --partial "error: api down"
}

@test "watch without a job follows every job until SIGINT" {
	read -r t ig < <(tenant acme)
	a=$(etl-job create --tenant acme --integration "$ig" --name a)
	b=$(etl-job create --tenant acme --integration "$ig" --name b)
	etl-job watch >"$W/watch" 2>"$W/err" &
	pid=$!
	sleep 0.5
	etl-job start "$a" >/dev/null
	etl-job start "$b" >/dev/null
	for _ in $(seq 100); do [ "$(wc -l <"$W/watch")" -ge 2 ] && break; sleep 0.05; done
	kill -INT "$pid"
	wait "$pid" || { cat "$W/err"; false; }
	run -0 jq -r '"\(.job_id) \(.status.overall)"' "$W/watch"
	assert_line "$a RUNNING"
	assert_line "$b RUNNING"
}

@test "set-status: recovery transitions, and refusals of those that would lose data" {
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	run -1 --separate-stderr etl-job set-status "$j" READY
	[[ $stderr == *"already READY"* ]]
	run -65 --separate-stderr etl-job set-status "$j" RUNNING
	[[ $stderr == *"refusing READY -> RUNNING: a run needs a new token"*"etl-job start $j'"* ]]
	run -65 --separate-stderr etl-job set-status "$j" FAILED
	[[ $stderr == *"only a running job can fail"* ]]
	etl-job start "$j" >/dev/null
	tok=$(token_of "$j")
	run -65 --separate-stderr etl-job set-status "$j" FINISHED
	[[ $stderr == *"refusing RUNNING -> FINISHED"*"last_sync_date"* ]]
	# A stuck run back to READY: cancelled, steps idle, no token.
	"$ETL_UNIT_DIR/status_tool" set "$j" "$tok" jira_dev_status extraction running
	run -0 --separate-stderr etl-job set-status "$j" READY
	[[ $stderr == *"run $tok of job $j cancelled"* ]]
	run -0 etl-job status "$j"
	run -0 jq -c '[.overall, .token, ([.steps[] | .extraction, .transform, .embedding] | unique)]' <<<"$output"
	assert_output '["READY",null,["idle"]]'
	run -0 q "SELECT outcome FROM etl_job_runs WHERE token = '$tok'"
	assert_output cancelled
	# A straggler of the cancelled run changes nothing.
	run -1 "$ETL_UNIT_DIR/status_tool" set "$j" "$tok" jira_dev_status extraction finished
	etl-job start "$j" >/dev/null
	run -0 etl-job set-status "$j" FAILED
	run -0 q "SELECT status->>'overall' || ' ' || error_message FROM etl_jobs WHERE id = $j"
	assert_output "FAILED failed by etl-job set-status"
	run -65 --separate-stderr etl-job set-status "$j" RUNNING
	[[ $stderr == *"use 'etl-job start $j --force'"* ]]
	run -0 etl-job set-status "$j" NOT_STARTED
	run -0 etl-job set-status "$j" READY
	[ "$(state_of "$j")" = READY ]
}

@test "runs: history with the counters the stages add, atomically" {
	read -r t ig < <(tenant acme)
	j=$(etl-job create --tenant acme --integration "$ig" --name sync)
	etl-job start "$j" >/dev/null
	tok=$(token_of "$j")
	rt="$ETL_UNIT_DIR/runstats_tool"
	pids=()
	for k in $(seq 20); do
		"$rt" add "$tok" extraction jira_issues_with_changelogs 5 api_calls=2 messages=1 &
		pids+=($!)
		"$rt" add "$tok" transform jira_issues_with_changelogs 4 errors=1 &
		pids+=($!)
	done
	# (a bare `wait` would also wait for bats' own timeout watcher)
	for p in "${pids[@]}"; do wait "$p"; done
	"$rt" add "$tok" extraction rate_limit_hits=3 retries=2 checkpoint_resumes=1 peak_rss_kb=9000
	"$rt" add "$tok" extraction peak_rss_kb=4000
	"$rt" add "$tok" embedding jira_issues_with_changelogs 80 vectors_queued=80 embedding_ms=1500 peak_rss_kb=self
	# An ad-hoc run (no row) is a no-op, not an error.
	run -1 "$rt" add 00000000-0000-4000-8000-000000000000 extraction api_calls=1
	"$ETL_UNIT_DIR/status_tool" complete "$j" "$tok"
	run -0 --separate-stderr etl-job runs "$j"
	[ "${#lines[@]}" -eq 1 ]
	runs=$output
	run -0 jq -c '[.outcome, .step_counts.jira_issues_with_changelogs, .api_calls,
		.rate_limit_hits, .errors, .retries, .checkpoint_resumes, .stage_stats.extraction,
		.vectors_queued, .embedding_ms, (.finished_at != null), (.duration_s >= 0)]' <<<"$output"
	assert_output '["finished",{"embedded":80,"extracted":100,"transformed":80},40,3,20,2,1,{"messages":20,"peak_rss_kb":9000},80,1500,true,true]'
	run -0 jq '.stage_stats.embedding.peak_rss_kb > 1000 and .peak_rss_kb >= 9000' <<<"$runs"
	assert_output true
	run -0 script -qec "etl-job runs $j" /dev/null
	assert_line --index 0 --regexp '^STARTED \(UTC\) +OUTCOME +SECONDS +RECORDS'
	assert_output --partial finished
	etl-job start "$j" --force >/dev/null
	run -0 etl-job runs "$j" --limit 1
	[ "$(jq -r .outcome <<<"$output")" = running ]
	# Stages with many small messages add in batches of 64, then the rest.
	run -0 "$ETL_UNIT_DIR/runstats_tool" batch "$(token_of "$j")" transform jira_dev_status 150
	assert_output "$(printf '128\n150')"
}

@test "metrics: Prometheus text format with the last run and the queue depths" {
	purge_queues
	read -r t ig < <(tenant 'acme "quoted"\corp')
	j=$(etl-job create --tenant "$t" --integration "$ig" --name sync)
	etl-job start "$j" --to-queue >/dev/null
	tok=$(token_of "$j")
	"$ETL_UNIT_DIR/runstats_tool" add "$tok" extraction jira_issues_with_changelogs 30 \
		api_calls=12 rate_limit_hits=1 peak_rss_kb=2048
	"$ETL_UNIT_DIR/status_tool" complete "$j" "$tok"
	run -0 --separate-stderr etl-job metrics
	echo "$output" >"$W/prom"
	# The exposition format: HELP and TYPE before each family's samples, families
	# contiguous, valid names, labels escaped, numeric values, no duplicate series.
	run -0 "$ETL_PYTHON" - "$W/prom" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{%s(?:,%s)*\})? (-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf)$' % (name, label, label))
typed, helped, done, seen, cur = {}, set(), set(), set(), None
for n, line in enumerate(open(sys.argv[1]).read().splitlines(), 1):
    m = re.match(r'^# (HELP|TYPE) (%s) (.+)$' % name, line)
    if m:
        kind, fam, rest = m.groups()
        if fam != cur:
            if fam in done: sys.exit("line %d: family %s is not contiguous" % (n, fam))
            if cur: done.add(cur)
            cur = fam
        if kind == 'TYPE':
            assert rest in ('gauge', 'counter', 'untyped', 'histogram', 'summary'), line
            typed[fam] = rest
        else:
            helped.add(fam)
        continue
    m = sample.match(line)
    if not m: sys.exit("line %d: not a sample: %s" % (n, line))
    if m.group(1) != cur or cur not in typed: sys.exit("line %d: %s outside its family" % (n, m.group(1)))
    key = m.group(1) + (m.group(2) or '')
    if key in seen: sys.exit("line %d: duplicate series %s" % (n, key))
    seen.add(key)
print(len(seen))
PY
	[ "$output" -gt 20 ]
	grep -qF 'tenant="acme \"quoted\"\\corp"' "$W/prom"
	grep -qE "^etl_job_state\{job_id=\"$j\",.*state=\"FINISHED\"\} 1$" "$W/prom"
	grep -qE "^etl_job_last_run_outcome\{job_id=\"$j\",.*outcome=\"finished\"\} 1$" "$W/prom"
	grep -qE "^etl_job_last_run_records\{job_id=\"$j\",.*step=\"jira_issues_with_changelogs\",stage=\"extraction\"\} 30$" "$W/prom"
	grep -qE "^etl_job_last_run_api_calls\{job_id=\"$j\",.*\} 12$" "$W/prom"
	grep -qE "^etl_job_last_run_peak_rss_bytes\{job_id=\"$j\",.*stage=\"extraction\"\} 2097152$" "$W/prom"
	grep -qE "^etl_job_runs_total\{job_id=\"$j\",.*outcome=\"finished\"\} 1$" "$W/prom"
	grep -qE '^etl_queue_up 1$' "$W/prom"
	grep -qE '^etl_queue_messages\{queue="extraction_queue_free"\} 1$' "$W/prom"
	grep -qE '^etl_queue_consumers\{queue="etl.failed"\} 0$' "$W/prom"
	# No broker configured: no queue metrics; an unreachable one: etl_queue_up 0.
	run -0 env -u ETL_AMQP_URL etl-job metrics
	refute_output --partial etl_queue
	run -0 --separate-stderr etl-job metrics --url amqp://guest:guest@127.0.0.1:1/
	assert_line "etl_queue_up 0"
	# --output writes the file whole, for the textfile collector.
	run -0 etl-job metrics --output "$W/etl.prom"
	assert_output ""
	grep -q '^etl_job_state' "$W/etl.prom"
	compgen -G "$W/*.tmp.*" >/dev/null && fail "a temporary file was left"
	run -74 etl-job metrics --output /nonexistent/dir/etl.prom
}

# Programs a test left running (their pids, one a line, in $W/pids).
teardown() {
	[[ -f $W/pids ]] || return 0
	while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$W/pids"
}

# scrubbed PID SECRET: the process's command line loses SECRET for a "***" (bounded wait),
# while it keeps running.
scrubbed() {
	local cmdline
	for _ in $(seq 100); do
		cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) ||
			fail "process $1 ended: $(cat "$W/err.bg" 2>/dev/null)"
		if [[ $cmdline == *'***'* && $cmdline != *"$2"* ]]; then
			return 0
		fi
		sleep 0.1
	done
	fail "the command line of $1 still shows the password: $cmdline"
}

@test "a password in --dsn or --url is gone from the command line (ps) once options are parsed" {
	local pw=Sup3rS3cretPw
	local uri="postgresql://postgres:$pw@127.0.0.1:$ETL_PG_PORT/$PGDATABASE"
	local conninfo="host=127.0.0.1 port=$ETL_PG_PORT dbname=$PGDATABASE user=postgres password=$pw"
	local amqp="amqp://guest:guest@127.0.0.1:$ETL_AMQP_PORT/"
	purge_queues
	run_bg() { "$@" >/dev/null 2>>"$W/err.bg" & echo $! >>"$W/pids"; }
	run_bg etl-job --dsn "$uri" watch --timeout 120
	run_bg etl-job watch --dsn="$conninfo" --timeout 120
	run_bg etl-job tick --loop --interval 3600 -d "$uri" --url "$amqp"
	run_bg etl-reset --watch --interval 3600 --dsn "$conninfo" --url "$amqp"
	run_bg etl-extract --from-queue extraction_queue_enterprise --dsn "$uri"
	run_bg etl-transform --from-queue transform_queue_enterprise --dsn="$uri"
	run_bg etl-embed --from-queue embedding_queue_enterprise -d "$conninfo"
	run_bg etl-queue --url "$amqp" consume extraction_queue_basic --follow
	while read -r pid; do
		case $(tr '\0' ' ' <"/proc/$pid/cmdline") in
		*amqp://*) scrubbed "$pid" ":guest@" ;;
		*) scrubbed "$pid" "$pw" ;;
		esac
	done <"$W/pids"
	# Each still works with what it was given: all still run.
	sleep 1
	while read -r pid; do
		kill -0 "$pid" || fail "process $pid ended: $(cat "$W/err.bg")"
	done <"$W/pids"
}
