#!/usr/bin/env bats
# lib/stage: the loop every stage runs, on stdin and on RabbitMQ queues,
# driven by tests/unit/stage_echo (echoes messages; "act" makes it fail).

setup_file() {
	load test_helper
	start_rabbitmq
	etl-queue setup >/dev/null
}

teardown_file() { stop_all; }

teardown() {
	[ -z "$WORKER" ] || kill -KILL "$WORKER" 2>/dev/null || true
}

setup() {
	load test_helper
	WORKER=
	ECHO="$ETL_UNIT_DIR/stage_echo"
	T=6f0fa209-3c3e-4e21-9bbe-ecff52563b61
}

msg() { # SEQ [ACT]
	printf '{"tenant_id":1,"job_id":7,"token":"%s","type":"jira_dev_status","provider":"jira","integration_id":1,"raw_data_id":%s,"first_item":false,"last_item":false,"last_job_item":false,"seq":%s%s}\n' \
		"$T" "$1" "$1" "${2:+,\"act\":\"$2\"}"
}

@test "stdin: bad lines are named and the run goes on; exit 65" {
	{ msg 1; echo 'not json'; msg 3 data; echo '[1]'; msg 5; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr "$ECHO" <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 65 ]
	run -0 jq -r .seq <<<"$output"
	assert_output "$(printf '1\n5')"
	[[ "$stderr" == *"line 2: invalid any message: invalid literal at byte 1"* ]]
	[[ "$stderr" == *"line 3: act says data error"* ]]
	[[ "$stderr" == *"line 4: invalid any message: expected a JSON object, got array"* ]]
}

@test "stdin: --strict stops at the first bad line" {
	{ msg 1; msg 2 data; msg 3; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr "$ECHO" --strict <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 65 ]
	assert_output --partial '"seq":1'
	refute_output --partial '"seq":3'
}

@test "stdin: a temporary failure stops the run, naming where to resume" {
	{ msg 1; msg 2 temp; msg 3; } >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr "$ECHO" <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *"line 2: act says temporary failure; stopping (rerun the input from line 2)"* ]]
	refute_output --partial '"seq":3'
}

@test "stdin: messages to this stage run in-process after the current one" {
	{ msg 1 self; msg 2; } >"$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr "$ECHO" <"$BATS_TEST_TMPDIR/in"
	run -0 jq -rc '[.seq, (.act // "-")] | @tsv' <<<"$output"
	assert_output "$(printf '1\tself\n1\tdone\n2\t-')"
}

@test "queue: consumed, emitted to the next queue, acked; unknown fields intact" {
	etl-queue purge transform_queue_free >/dev/null
	for i in $(seq 1 200); do msg "$i"; done | etl-queue publish transform_queue_free
	run -0 "$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free --idle 1500
	run -0 etl-queue consume embedding_queue_free --count 200
	run -0 jq -s -c '[.[].seq] == [range(1;201)] and all(.echoed)' <<<"$output"
	assert_output true
	run -0 etl-queue stats
	run -0 jq -r 'select(.queue=="transform_queue_free") | .messages' <<<"$output"
	assert_output 0
}

@test "queue: bad and failing messages are dead-lettered with the reason" {
	etl-queue dlq purge >/dev/null
	{ msg 1; msg 2 data; msg 3 temp; msg 4; } | etl-queue publish transform_queue_free
	run -0 "$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free --idle 1500 --attempts 3
	run -0 etl-queue consume embedding_queue_free --count 10
	run -0 jq -r .seq <<<"$output"
	assert_output "$(printf '1\n4')"
	run -0 --separate-stderr etl-queue dlq list
	dead=$output
	assert_output --partial "act says data error"
	assert_output --partial "act says temporary failure"
	run -0 jq -s length <<<"$output"
	assert_output 2
	# They name the queue they came from, so requeue can send them back.
	run -0 jq -r '[.queue, .reason, .count] | @tsv' <<<"$dead"
	assert_output "$(printf 'transform_queue_free\trejected\t1\ntransform_queue_free\trejected\t1')"
	etl-queue purge transform_queue_free >/dev/null
	run -0 --separate-stderr etl-queue dlq requeue
	run -0 etl-queue consume transform_queue_free --count 10
	run -0 jq -r .seq <<<"$output"
	assert_output "$(printf '2\n3')"
	run -0 etl-queue dlq list
	assert_output ""
}

@test "queue: a message that must wait is parked in a delay queue, not held or dead-lettered" {
	etl-queue purge transform_queue_free >/dev/null
	etl-queue purge embedding_queue_free >/dev/null
	etl-queue dlq purge >/dev/null
	until=$(( $(date +%s%3N) + 2500 ))
	{ msg 1 | jq -c --argjson u "$until" '. + {act: "wait", until: $u}'; msg 2; } |
		etl-queue publish transform_queue_free
	"$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free \
		--park-min 1000 --idle 6000 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	WORKER=$pid
	# While it waits, it is in the one-minute delay queue, and the worker goes on.
	for _ in $(seq 40); do
		n=$(etl-queue stats | jq -r 'select(.queue == "etl.delay.60s") | .messages')
		[ "$n" = 1 ] && break
		sleep 0.05
	done
	[ "$n" = 1 ]
	run -0 etl-queue consume embedding_queue_free --count 1 --timeout 5
	[ "$(jq -r .seq <<<"$output")" = 2 ]
	# When its time is up it comes back to its queue and is handled.
	run -0 etl-queue consume embedding_queue_free --count 1 --timeout 10
	[ "$(jq -r '[.seq, .echoed] | @tsv' <<<"$output")" = "$(printf '1\ttrue')" ]
	[ "$(date +%s%3N)" -ge "$until" ]
	kill -TERM "$pid"
	wait "$pid"
	grep -q "act says wait; parked for 3 s in 'etl.delay.60s' (1 of 48)" "$BATS_TEST_TMPDIR/err"
	run -0 --separate-stderr etl-queue dlq list
	assert_output ""
}

@test "queue: a message parked too often is dead-lettered with the reason" {
	etl-queue purge transform_queue_free >/dev/null
	etl-queue dlq purge >/dev/null
	msg 1 | jq -c '. + {act: "wait", wait_ms: 1200}' | etl-queue publish transform_queue_free
	"$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free \
		--park-min 1000 --max-parks 2 --idle 4000 2>"$BATS_TEST_TMPDIR/err" &
	WORKER=$!
	for _ in $(seq 100); do
		[ -n "$(etl-queue dlq list 2>/dev/null)" ] && break
		sleep 0.1
	done
	kill -TERM "$WORKER"
	wait "$WORKER"
	grep -q "parked for 2 s in 'etl.delay.60s' (1 of 2)" "$BATS_TEST_TMPDIR/err"
	grep -q "parked for 2 s in 'etl.delay.60s' (2 of 2)" "$BATS_TEST_TMPDIR/err"
	run -0 --separate-stderr etl-queue dlq list
	run -0 jq -r '[.queue, .error, .message.seq] | @tsv' <<<"$output"
	assert_output "$(printf 'transform_queue_free\tact says wait (parked 2 times: giving up)\t1')"
}

@test "queue: a worker killed mid-stream loses nothing; SIGTERM finishes the message in hand" {
	etl-queue purge transform_queue_free >/dev/null
	etl-queue purge embedding_queue_free >/dev/null
	for i in $(seq 1 3000); do msg "$i"; done | etl-queue publish transform_queue_free
	"$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free &
	pid=$!
	sleep 0.7
	kill -9 "$pid"
	wait "$pid" || true
	"$ECHO" --from-queue transform_queue_free --to-queue embedding_queue_free &
	pid=$!
	for _ in $(seq 100); do
		n=$(etl-queue stats | jq -r 'select(.queue=="transform_queue_free") | .messages')
		[ "$n" = 0 ] && break
		sleep 0.2
	done
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	run -0 etl-queue consume embedding_queue_free
	# Every message arrived; only those in flight at the kill may repeat.
	run -0 jq -s '[.[].seq] | unique | length' <<<"$output"
	assert_output 3000
}
