# End-to-end test machinery shared by the per-provider files (70-e2e.bats for Jira,
# 71-e2e-github.bats for GitHub): one job run in a pipe, then through RabbitMQ with one
# and two workers per stage, then with a worker of each stage killed (-9) mid-job and
# restarted.  Every run must give the pipe run's final tables, the status steps idle ->
# running -> finished, FINISHED with the reset deadline, READY after etl-reset, and no
# message lost or dead-lettered.
#
# The including file's setup_file sets, besides $JOB: E2E_TABLES (the provider's final
# tables to compare), E2E_STEPS (how many steps its job has), E2E_API_URL (the fake to
# slow down); and defines e2e_check_pipe (what the pipe run must have loaded).

e2e_setup_file() {
	start_pg
	start_rabbitmq
	etl-queue setup
	use_db e2e_tmpl
	etl-job -q migrate
	ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export ETL_SECRET_KEY
	etl-job tenant add acme --tier premium >/dev/null
	export DUMPS=$BATS_FILE_TMPDIR
}

e2e_setup() {
	W=$BATS_TEST_TMPDIR
	WORKERS=()
	fake_reset "$E2E_API_URL"
}

e2e_teardown() {
	local p
	for p in "${WORKERS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

# The final tables without what differs between equivalent runs: surrogate ids
# (and the foreign keys holding them), row bookkeeping times, and the raw rows'
# references to each other.  Raw responses: as a set (a redelivered extraction
# may store a page twice).
dump_tables() {
	local t drop="ARRAY['id', 'created_at', 'last_updated_at', 'synced_at', 'discovered_at',
		'project_id', 'wit_id', 'status_id', 'work_item_id', 'from_status_id',
		'to_status_id', 'record_id', 'repository_id', 'pr_id']"
	for t in $E2E_TABLES vectors qdrant_vectors; do
		q "SELECT '$t ' || (to_jsonb(x) - $drop)::text FROM $t x ORDER BY 1"
	done
	# GitHub answers with its point budget (data.rateLimit), which changes from
	# run to run: the rest of the response must not.
	q "SELECT DISTINCT 'raw ' || type || ' ' || request_method || ' ' || request_url || ' '
		|| (request_params - 'for_raw_id')::text || ' ' || CASE provider
			WHEN 'github' THEN md5((convert_from(raw_data, 'UTF8')::jsonb
				#- '{data,rateLimit}')::text)
			ELSE md5(raw_data) END
		FROM raw_extraction_data ORDER BY 1"
}

# same_tables DUMP: DUMP is the pipe run's tables; else show how they differ.
same_tables() {
	diff "$DUMPS/pipe.dump" "$1" >"$1.diff" && return 0
	echo "the tables differ from the pipe run's (< pipe, > this run), per table:"
	grep '^[<>]' "$1.diff" | awk '{ print $1, $2 }' | sort | uniq -c
	head -c 2000 "$1.diff"
	return 1
}

# watch_start: follow the job's status as NDJSON (in $W/watch) until it ends.
watch_start() {
	etl-job watch "$JOB" --timeout 90 >"$W/watch" 2>"$W/watch.err" &
	WATCH=$!
	for _ in $(seq 100); do [ -s "$W/watch" ] && break; sleep 0.05; done
}

watch_end() {
	local rc=0
	wait "$WATCH" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$W/watch.err"; fail "watch exited $rc"; }
}

# Every step and stage went idle -> running -> finished, in that order and nothing
# else; with "strict", each state once.  A stage whose step had one message (first
# and last item at once) may go idle -> finished.  The watch ends when the job is
# FINISHED, which a stage's own last "finished" may follow by a moment: the last
# state seen may be "running" when the database has "finished" right after.
check_transitions() {
	run -0 jq -sr --arg strict "${1:-}" '
		[.[] | .status.steps // {} | to_entries[] | .key as $s | .value
		 | {extraction, transform, embedding} | to_entries[] | {k: "\($s).\(.key)", v: .value}]
		| group_by(.k) | map({k: .[0].k, seq: (reduce .[].v as $v ([];
			if (.[-1] // "") == $v then . else . + [$v] end))})
		| map(select(.seq as $q |
			if $strict != "" then ([["idle", "running", "finished"], ["idle", "finished"],
				["idle", "running"]] | index([$q]) | not)
			else ($q[0] != "idle" or ([$q[] | select(. != "idle" and . != "running"
				and . != "finished")] | length) > 0) end))
		| .[] | "\(.k): \(.seq | join(" -> "))"' "$W/watch"
	assert_output ""
	run -0 jq -sr '[.[].status.steps // {} | keys[]] | unique | length' "$W/watch"
	assert_output "$E2E_STEPS"
	# In the database, every stage of every step finished.
	for _ in $(seq 50); do
		run -0 etl-job status "$JOB"
		run -0 jq -r '[.steps[] | .extraction, .transform, .embedding] | unique | join(",")' \
			<<<"$output"
		[ "$output" = finished ] && break
		sleep 0.1
	done
	assert_output finished
}

# finished_then_ready: FINISHED with the countdown; etl-reset (queues checked) makes
# the job READY once the deadline has passed.
finished_then_ready() {
	run -0 etl-job status "$JOB"
	run -0 jq -r '[.overall, .reset_attempt, (((.reset_deadline | fromdate) - now) | floor
		| . > 0 and . <= 30)] | @tsv' <<<"$output"
	assert_output "$(printf 'FINISHED\t0\ttrue')"
	run -0 etl-reset
	assert_output ""
	q "UPDATE etl_jobs SET status = jsonb_set(status, '{reset_deadline}', to_jsonb(to_char(
		(now() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))
		WHERE id = $JOB"
	run -0 etl-reset
	assert_output "{\"job_id\":$JOB,\"action\":\"reset\",\"dry_run\":false}"
	run -0 etl-job status "$JOB"
	[ "$(jq -r .overall <<<"$output")" = READY ]
}

# nothing_left: every queue empty, nothing dead-lettered.
nothing_left() {
	run -0 etl-queue stats
	run -0 jq -sr 'map(select(.messages > 0)) | map("\(.queue): \(.messages)") | .[]' <<<"$output"
	assert_output ""
}

# worker STAGE N: start the Nth worker of STAGE on the premium queues.
worker() {
	local log="$W/$1.$2"
	case $1 in
	extract) etl-extract --from-queue extraction_queue_premium \
		--to-queue transform_queue_premium >"$log.out" 2>>"$log.err" & ;;
	transform) etl-transform --from-queue transform_queue_premium \
		--to-queue embedding_queue_premium >"$log.out" 2>>"$log.err" & ;;
	embed) etl-embed --from-queue embedding_queue_premium >>"$log.out" 2>>"$log.err" & ;;
	esac
	WORKERS+=($!)
	eval "PID_${1}_$2=$!"
}

# drain: wait until no message is left, ready or being handled (unacked), then
# stop the workers.  The job is FINISHED when the message with last_job_item is
# handled, which other workers' messages may follow (what etl-reset checks for).
drain() {
	local n
	for _ in $(seq 60); do
		n=$(etl-queue stats | jq -s 'map(.messages) | add')
		if [ "$n" -eq 0 ]; then
			n=$(rabbitmqctl_t -q list_queues messages | awk '$1 ~ /^[0-9]+$/ { s += $1 }
				END { print s + 0 }')
			[ "$n" -eq 0 ] && break
		fi
		sleep 0.2
	done
	stop_workers
}

# stop_workers: SIGTERM finishes the message in hand; every worker exits 0.
stop_workers() {
	local p rc
	for p in "${WORKERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${WORKERS[@]}"; do
		rc=0
		wait "$p" 2>/dev/null || rc=$?
		[ "$rc" -eq 0 ] || { cat "$W"/*.err; fail "worker $p exited $rc"; }
	done
	WORKERS=()
}

# kill_worker PID: kill -9, and forget it.
kill_worker() {
	local p keep=()
	kill -KILL "$1"
	wait "$1" 2>/dev/null || true
	for p in "${WORKERS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	WORKERS=("${keep[@]}")
}

# queue_run N: the job through the queues with N workers per stage.
queue_run() {
	local n
	etl-queue purge extraction_queue_premium >/dev/null
	for n in $(seq "$1"); do worker extract "$n"; worker transform "$n"; worker embed "$n"; done
	watch_start
	run -0 etl-job start "$JOB" --to-queue
	[ "$(jq -r .queue <<<"$output")" = extraction_queue_premium ]
	watch_end
	drain
}

# busy STAGE: how many steps have STAGE in a state other than idle.
busy() {
	etl-job status "$JOB" | jq --arg g "$1" '[.steps[] | .[$g] | select(. != "idle")] | length'
}

e2e_pipe() {
	use_db e2e_pipe e2e_tmpl
	watch_start
	etl-job start "$JOB" | etl-extract | etl-transform | etl-embed >"$W/embed.out" 2>"$W/pipe.err" ||
		{ cat "$W/pipe.err"; false; }
	watch_end
	check_transitions strict
	e2e_check_pipe
	# The run's history, with what each stage reported.
	run -0 etl-job runs "$JOB"
	run -0 jq -r '[.outcome, (.api_calls > 0)] | @tsv' <<<"$output"
	assert_output "$(printf 'finished\ttrue')"
	# Every stage counted its part: each vector once, as written.
	local vectors
	vectors=$(q "SELECT count(*) FROM vectors")
	run -0 etl-job runs "$JOB" --json
	run -0 jq -r '[.vectors_queued, ([.step_counts[].embedded // 0] | add),
		([.step_counts[].transformed // 0] | add > 0),
		(.stage_stats | keys | join(","))] | @tsv' <<<"$output"
	assert_output "$(printf '%s\t%s\ttrue\tembedding,extraction,transform' "$vectors" "$vectors")"
	dump_tables >"$DUMPS/pipe.dump"
	finished_then_ready
	# A second run, incremental, in the same database, changes nothing.
	etl-job start "$JOB" | etl-extract | etl-transform | etl-embed >/dev/null 2>"$W/pipe2.err" ||
		{ cat "$W/pipe2.err"; false; }
	dump_tables | grep -v '^raw ' >"$W/again.dump"
	diff <(grep -v '^raw ' "$DUMPS/pipe.dump") "$W/again.dump"
}

e2e_queues_one() {
	[ -s "$DUMPS/pipe.dump" ] || skip "the pipe run failed"
	use_db e2e_q1 e2e_tmpl
	queue_run 1
	check_transitions strict
	nothing_left
	dump_tables >"$W/q1.dump"
	same_tables "$W/q1.dump"
	finished_then_ready
}

e2e_queues_two() {
	[ -s "$DUMPS/pipe.dump" ] || skip "the pipe run failed"
	use_db e2e_q2 e2e_tmpl
	queue_run 2
	check_transitions
	nothing_left
	dump_tables >"$W/q2.dump"
	same_tables "$W/q2.dump"
	# Completed exactly once: one finished run, one FINISHED.
	run -0 q "SELECT string_agg(outcome, ',') FROM etl_job_runs"
	assert_output finished
	finished_then_ready
}

e2e_kill_workers() {
	[ -s "$DUMPS/pipe.dump" ] || skip "the pipe run failed"
	use_db e2e_kill e2e_tmpl
	etl-queue purge extraction_queue_premium >/dev/null
	# A slow API keeps the job going long enough to kill every stage in it.
	fake_ctl "$E2E_API_URL" '{"slow_ms": 150}' >/dev/null
	worker extract 1
	worker transform 1
	worker embed 1
	watch_start
	etl-job start "$JOB" --to-queue >/dev/null
	for stage in extract:extraction transform:transform embed:embedding; do
		name=${stage%%:*} key=${stage#*:}
		for _ in $(seq 200); do
			[ "$(busy "$key")" -gt 0 ] && break
			sleep 0.05
		done
		[ "$(etl-job status "$JOB" | jq -r .overall)" = RUNNING ] ||
			fail "the job ended before the $name worker could be killed"
		pid_var="PID_${name}_1"
		kill_worker "${!pid_var}"
		worker "$name" 1
	done
	fake_ctl "$E2E_API_URL" '{"slow_ms": null}' >/dev/null
	watch_end
	drain
	check_transitions
	nothing_left
	dump_tables >"$W/kill.dump"
	same_tables "$W/kill.dump"
	run -0 q "SELECT string_agg(outcome, ',') FROM etl_job_runs"
	assert_output finished
	finished_then_ready
}
