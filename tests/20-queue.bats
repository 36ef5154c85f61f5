#!/usr/bin/env bats
# etl-queue against a real, throwaway RabbitMQ node (tests/test_helper.bash).

setup_file() {
	load test_helper
	start_rabbitmq
	etl-queue setup
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	T1=11111111-1111-4111-8111-111111111111
	T2=22222222-2222-4222-8222-222222222222
	W=$BATS_TEST_TMPDIR
}

# gen STAGE N [TOKEN] [FIRST-SEQ] [PAD]: N valid messages for STAGE, one per line,
# each with a unique "seq"; PAD adds that many filler bytes.
gen() {
	"$ETL_PYTHON" - "$@" <<'PY'
import sys
stage, n = sys.argv[1], int(sys.argv[2])
tok = sys.argv[3] if len(sys.argv) > 3 else "11111111-1111-4111-8111-111111111111"
first = int(sys.argv[4]) if len(sys.argv) > 4 else 1
pad = "x" * (int(sys.argv[5]) if len(sys.argv) > 5 else 0)
extra = {"extraction": ',"integration_id":3,"last_sync_date":null',
         "transform": ',"integration_id":3,"raw_data_id":42',
         "embedding": ',"table_name":"work_items","external_id":"PROJ-1"'}[stage]
out = sys.stdout
for i in range(first, first + n):
    out.write('{"tenant_id":1,"job_id":7,"token":"%s","type":"jira_issues_with_changelogs",'
              '"provider":"jira","first_item":%s,"last_item":%s,"last_job_item":false%s,'
              '"seq":%d,"pad":"%s"}\n' % (tok, "true" if i == first else "false",
                                         "true" if i == first + n - 1 else "false",
                                         extra, i, pad))
PY
}

# purge_all: every queue empty, the dead letters too, so tests do not depend on each other.
# (purge_queues, messages QUEUE: tests/test_helper.bash.)
purge_all() {
	purge_queues
	etl-queue dlq purge >/dev/null
}

@test "etl-queue: --help lists the commands; bad usage exits 64 with the Try line" {
	run -0 --separate-stderr etl-queue --help
	for c in setup stats publish consume dlq purge count; do
		assert_output --partial "   $c "
	done
	run -0 etl-queue consume --help
	assert_output --partial "usage: etl-queue consume <queue>"
	run -64 --separate-stderr etl-queue --bogus
	[[ $stderr == *"unknown option '--bogus'"* ]]
	[[ $stderr == *"Try 'etl-queue --help' for more information."* ]]
	run -64 --separate-stderr etl-queue frobnicate
	[[ $stderr == *"unknown command 'frobnicate'"* ]]
	[[ $stderr == *"Try 'etl-queue --help'"* ]]
	run -64 --separate-stderr etl-queue publish
	run -64 --separate-stderr etl-queue stats --window 3
	run -64 --separate-stderr etl-queue count --token not-a-uuid
	run -64 --separate-stderr etl-queue count --token "$T1" --tier gold
	run -64 --separate-stderr etl-queue consume q --count many
}

@test "etl-queue setup: twice succeeds; stats shows the 16 queues, empty, as NDJSON" {
	purge_all
	run -0 --separate-stderr etl-queue setup
	run -0 --separate-stderr etl-queue setup
	run -0 --separate-stderr etl-queue stats
	[ "${#lines[@]}" -eq 16 ]
	run -0 jq -s -c 'map(.queue) | sort' <<<"$output"
	assert_output '["embedding_queue_basic","embedding_queue_enterprise","embedding_queue_free","embedding_queue_premium","etl.delay.3600s","etl.delay.600s","etl.delay.60s","etl.failed","extraction_queue_basic","extraction_queue_enterprise","extraction_queue_free","extraction_queue_premium","transform_queue_basic","transform_queue_enterprise","transform_queue_free","transform_queue_premium"]'
	run -0 bash -c 'etl-queue stats | jq -s -c "(map(.messages) | add), (map(.consumers) | add)"'
	assert_output $'0\n0'
}

@test "etl-queue: a URL ending in a slash (empty vhost) means vhost /, as %2F does" {
	local base="amqp://guest:guest@127.0.0.1:$ETL_AMQP_PORT"
	for url in "$base/" "$base/%2F" "$base/%2f" "$base"; do
		run -0 --separate-stderr etl-queue --url "$url" stats
		[ "${#lines[@]}" -eq 16 ] || fail "$url: ${#lines[@]} queues: $stderr"
	done
	run -78 --separate-stderr etl-queue --url "$base/nosuchvhost" stats
	[[ $stderr == *"nosuchvhost"* ]] || fail "$stderr"
}

@test "etl-queue setup: other arguments on an existing queue are a clear error, not a crash" {
	run -65 --separate-stderr etl-queue setup --delivery-limit 3
	[[ $stderr == *"cannot declare queue 'extraction_queue_free': PRECONDITION_FAILED"*"x-delivery-limit"* ]]
	run -0 etl-queue setup
}

@test "etl-queue: 10,000 messages published and consumed: same bytes, same order" {
	purge_all
	gen extraction 10000 >"$W/in"
	run -0 --separate-stderr etl-queue publish extraction_queue_free <"$W/in"
	[ "$(messages extraction_queue_free)" -eq 10000 ]
	etl-queue consume extraction_queue_free --prefetch 200 >"$W/out"
	cmp "$W/in" "$W/out"
	[ "$(messages extraction_queue_free)" -eq 0 ]
}

@test "etl-queue consume: a consumer killed mid-stream loses nothing; only in-flight lines repeat" {
	purge_all
	gen extraction 3000 "$T1" 1 300 >"$W/in"
	etl-queue publish extraction_queue_basic <"$W/in"
	mkfifo "$W/fifo"
	etl-queue consume extraction_queue_basic --prefetch 50 >"$W/fifo" 3>&- &
	local pid=$!
	# A slow reader: the consumer blocks on the full pipe, with messages unacked.
	"$ETL_PYTHON" -c '
import sys, time
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    out.write(line); out.flush(); time.sleep(0.002)
' "$W/fifo" "$W/out1" 3>&- &
	local reader=$!
	sleep 1
	kill -9 "$pid"
	wait "$reader"
	# The consumer may die in the middle of a line: that one is not acked.
	if [ -n "$(tail -c 1 "$W/out1")" ]; then sed -i '$d' "$W/out1"; fi
	local n1
	n1=$(wc -l <"$W/out1")
	[ "$n1" -gt 0 ] && [ "$n1" -lt 3000 ]
	etl-queue consume extraction_queue_basic --timeout 2 >"$W/out2"
	# Each run's lines are unique, both together are all, and the lines the
	# first run missed are all in the second.
	[ -z "$(sort "$W/out1" | uniq -d)" ]
	[ -z "$(sort "$W/out2" | uniq -d)" ]
	sort -u "$W/out1" "$W/out2" | cmp - <(sort "$W/in")
	comm -23 <(sort "$W/in") <(sort "$W/out1") | comm -23 - <(sort "$W/out2") >"$W/missing"
	[ ! -s "$W/missing" ]
	# Repeats: only what was written but not yet acked (one batch at most).
	local dup
	dup=$(comm -12 <(sort "$W/out1") <(sort "$W/out2") | wc -l)
	[ "$dup" -le 64 ]
	[ "$(messages extraction_queue_basic)" -eq 0 ]
}

@test "etl-queue publish: invalid lines are named by number, exit 65, valid ones all published" {
	purge_all
	gen transform 6 >"$W/valid"
	{
		sed -n 1p "$W/valid"
		sed -n 2p "$W/valid"
		echo '{"tenant_id":1,'
		sed -n 3p "$W/valid"
		sed -n 4p "$W/valid" | sed 's/jira_issues_with_changelogs/foo/'
		sed -n 4p "$W/valid"
		sed -n 5p "$W/valid" | sed 's/"token":"[^"]*",//'
		sed -n 5p "$W/valid" | sed 's/"token":"[^"]*"/"token":"not-a-uuid"/'
		echo '[1,2]'
		"$ETL_PYTHON" -c 'print("{\"tenant_id\":1,\"pad\":\"" + "y" * 10485760 + "\"}")'
		sed -n 6p "$W/valid"
	} >"$W/in"
	run -65 --separate-stderr etl-queue publish transform_queue_free <"$W/in"
	[[ $stderr == *"etl-queue: error: line 3: "* ]]
	[[ $stderr == *"etl-queue: error: line 5: unknown message type 'foo'"* ]]
	[[ $stderr == *"etl-queue: error: line 7: missing field 'token'"* ]]
	[[ $stderr == *"etl-queue: error: line 8: field 'token' must be a UUID string"* ]]
	[[ $stderr == *"etl-queue: error: line 9: "* ]]
	[[ $stderr == *"etl-queue: error: line 10: message of 104857"*" bytes exceeds the limit of 4194304"* ]]
	[[ $stderr != *"line 1:"* && $stderr != *"line 4:"* && $stderr != *"line 11:"* ]]
	run -0 --separate-stderr etl-queue consume transform_queue_free
	cmp <(printf '%s\n' "$output") <(sed 5d "$W/valid")

	# --strict stops at the first invalid line.
	run -65 --separate-stderr etl-queue publish transform_queue_free --strict <"$W/in"
	[[ $stderr == *"line 3: "* && $stderr != *"line 5:"* ]]
	run -0 --separate-stderr etl-queue consume transform_queue_free
	cmp <(printf '%s\n' "$output") <(head -n 2 "$W/valid")

	# --skip N skips the first N input lines.
	run -0 --separate-stderr etl-queue publish transform_queue_free --skip 10 <"$W/in"
	run -0 --separate-stderr etl-queue consume transform_queue_free
	cmp <(printf '%s\n' "$output") <(sed -n 6p "$W/valid")
}

@test "etl-queue publish: broker down exits 69 without the password; back up, nothing twice" {
	purge_all
	gen embedding 10 >"$W/in"
	stop_rabbitmq_node
	run -69 --separate-stderr env ETL_AMQP_URL="amqp://etl:Sup3rS3cretPw@127.0.0.1:$ETL_AMQP_PORT/%2f" \
		etl-queue publish embedding_queue_free <"$W/in"
	[[ $stderr == *"etl-queue: error: cannot connect to 'amqp://etl:***@127.0.0.1:$ETL_AMQP_PORT/%2f'"* ]]
	[[ $stderr != *Sup3rS3cretPw* ]]
	run -69 --separate-stderr etl-queue publish embedding_queue_free --url \
		"amqp://etl:Sup3rS3cretPw@127.0.0.1:$ETL_AMQP_PORT/%2f" <"$W/in"
	[[ $stderr != *Sup3rS3cretPw* ]]
	start_rabbitmq_node
	run -0 --separate-stderr etl-queue publish embedding_queue_free <"$W/in"
	run -0 --separate-stderr etl-queue consume embedding_queue_free
	cmp <(printf '%s\n' "$output") "$W/in"
}

@test "etl-queue publish: connection lost mid-stream exits 69 and says where to resume" {
	purge_all
	gen extraction 8000 "$T1" 1 >"$W/in"
	# The broker drops the connection while the publisher waits for input.
	{ head -n 5000 "$W/in"; sleep 4; tail -n +5001 "$W/in"; } |
		etl-queue publish extraction_queue_premium --window 50 2>"$W/err" 3>&- &
	local pid=$!
	sleep 1.5
	rabbitmqctl_t -q close_all_connections "test: connection lost" >/dev/null
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 69 ] || fail "exit $rc: $(cat "$W/err")"
	grep -q "etl-queue: error: .*connection" "$W/err"
	local skip
	skip=$(sed -n 's/.*rerun with --skip \([0-9]*\).*/\1/p' "$W/err")
	[ "$skip" -ge 4950 ] && [ "$skip" -le 5000 ] || fail "skip '$skip': $(cat "$W/err")"
	run -0 --separate-stderr etl-queue publish extraction_queue_premium --skip "$skip" <"$W/in"
	etl-queue consume extraction_queue_premium --prefetch 500 >"$W/out"
	# Every line arrived; repeats only among the unconfirmed window.
	cmp <(sort -u "$W/out") <(sort "$W/in")
	[ "$(sort "$W/out" | uniq -d | wc -l)" -le 50 ]
}

@test "etl-queue publish: an unroutable queue fails clearly instead of being acked" {
	run -69 --separate-stderr etl-queue publish no_such_queue < <(gen extraction 3)
	[[ $stderr == *"line 1: cannot publish to queue 'no_such_queue': unroutable: NO_ROUTE"* ]]
	[[ $stderr == *"line 3: "* ]]
	[[ $stderr == *"3 of 3 messages were not delivered to queue 'no_such_queue'"* ]]
}

@test "etl-queue consume: empty queue exits 1; --requeue peeks; write error exits 74 and keeps it" {
	purge_all
	run -1 --separate-stderr etl-queue consume embedding_queue_premium --count 1 --timeout 0.3
	[ -z "$output" ]
	gen embedding 5 >"$W/in"
	etl-queue publish embedding_queue_premium <"$W/in"
	run -0 --separate-stderr etl-queue consume embedding_queue_premium --requeue
	cmp <(printf '%s\n' "$output") "$W/in"
	run -0 --separate-stderr etl-queue consume embedding_queue_premium --count 2
	cmp <(printf '%s\n' "$output") <(head -n 2 "$W/in")
	run -74 --separate-stderr bash -c 'etl-queue consume embedding_queue_premium >/dev/full'
	[[ $stderr == *"cannot write to standard output"* ]]
	run -0 --separate-stderr etl-queue consume embedding_queue_premium
	cmp <(printf '%s\n' "$output") <(tail -n 3 "$W/in")
}

@test "etl-queue consume --follow: SIGTERM finishes the message in hand and exits 0" {
	purge_all
	gen extraction 3 >"$W/in"
	etl-queue publish extraction_queue_enterprise <"$W/in"
	etl-queue consume extraction_queue_enterprise --follow >"$W/out" 3>&- &
	local pid=$!
	sleep 1
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	cmp "$W/in" "$W/out"
	[ "$(messages extraction_queue_enterprise)" -eq 0 ]
}

@test "etl-queue dlq: poison message dead-lettered, listed with its reason, requeued, purged" {
	purge_all
	gen transform 1 >"$W/in"
	etl-queue publish transform_queue_basic <"$W/in"
	# Each failed attempt (a write error) rejects with requeue: the sixth passes
	# x-delivery-limit 5 and the broker dead-letters the message.
	for i in 1 2 3 4 5 6; do
		run -74 --separate-stderr bash -c 'etl-queue consume transform_queue_basic --timeout 2 >/dev/full'
	done
	local i=0
	while [ "$(messages etl.failed)" -ne 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(messages transform_queue_basic)" -eq 0 ]
	run -0 --separate-stderr etl-queue dlq list
	[ "${#lines[@]}" -eq 1 ]
	run -0 jq -c '[.queue, .reason, .count, .error]' <<<"$output"
	assert_output '["transform_queue_basic","delivery_limit",1,null]'
	run -0 bash -c 'etl-queue dlq list | jq -c .message'
	cmp <(printf '%s\n' "$output") "$W/in"
	# list does not remove
	[ "$(messages etl.failed)" -eq 1 ]
	run -0 --separate-stderr etl-queue dlq requeue
	assert_output '{"requeued":1,"failed":0}'
	[ "$(messages etl.failed)" -eq 0 ]
	run -0 --separate-stderr etl-queue consume transform_queue_basic
	cmp <(printf '%s\n' "$output") "$W/in"
	run -1 --separate-stderr etl-queue dlq requeue
	# and purge
	etl-queue publish etl.failed <"$W/in"
	[ "$(messages etl.failed)" -eq 1 ]
	run -0 --separate-stderr etl-queue dlq purge
	assert_output '{"queue":"etl.failed","purged":1}'
	[ "$(messages etl.failed)" -eq 0 ]
}

@test "etl-queue consume: a body that is not one JSON line is rejected to etl.failed and reported" {
	purge_all
	# A raw publisher that does not check anything: the benchmark's baseline.
	local raw=${ETL_BENCH_DIR:-$ETL_TEST_ROOT/build/bench}/queue_bench
	[ -x "$raw" ] || make -s -C "$ETL_TEST_ROOT" "${raw#"$ETL_TEST_ROOT"/}" >/dev/null
	gen transform 2 >"$W/in"
	{ sed -n 1p "$W/in"; echo 'not json at all'; sed -n 2p "$W/in"; } |
		"$raw" publish transform_queue_enterprise 10
	run -65 --separate-stderr etl-queue consume transform_queue_enterprise
	cmp <(printf '%s\n' "$output") "$W/in"
	[[ $stderr == *"etl-queue: error: delivery 2 from queue 'transform_queue_enterprise': not one line of JSON: "*"rejected to the dead-letter queue"* ]]
	local i=0
	while [ "$(messages etl.failed)" -ne 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	run -0 --separate-stderr etl-queue dlq list
	run -0 jq -c '[.queue, .reason, .message, .body]' <<<"$output"
	assert_output '["transform_queue_enterprise","rejected",null,"not json at all"]'
	etl-queue dlq purge >/dev/null
}

@test "etl-queue count: exact per queue; nothing lost, duplicated or reordered, even past the delivery limit" {
	purge_all
	# Two job runs interleaved in three queues.
	{ gen extraction 30 "$T1" 1; gen extraction 20 "$T2" 100; gen extraction 5 "$T1" 200; } >"$W/x"
	{ gen transform 7 "$T2" 1; gen transform 11 "$T1" 100; } >"$W/t"
	gen embedding 40 "$T2" 1 >"$W/e"
	etl-queue publish extraction_queue_free <"$W/x"
	etl-queue publish transform_queue_free <"$W/t"
	etl-queue publish embedding_queue_enterprise <"$W/e"
	run -0 --separate-stderr etl-queue count --token "$T1"
	run -0 jq -c 'select(.messages > 0 or .total != null) | [.queue, .messages, .total]' <<<"$output"
	assert_output $'["extraction_queue_free",35,null]\n["transform_queue_free",11,null]\n[null,null,46]'
	run -0 --separate-stderr etl-queue count --token "$T2" --tier enterprise
	run -0 jq -c '[.queue, .messages, .total]' <<<"$output"
	# Parked messages of every tier wait in the delay queues: counted too.
	assert_output $'["extraction_queue_enterprise",0,null]\n["transform_queue_enterprise",0,null]\n["embedding_queue_enterprise",40,null]\n["etl.delay.60s",0,null]\n["etl.delay.600s",0,null]\n["etl.delay.3600s",0,null]\n[null,null,40]'
	# Seven more counts: more than x-delivery-limit (5) returns.  Nothing may
	# be dead-lettered; messages on their last attempt move to the back, in order.
	for i in 1 2 3 4 5 6 7; do
		run -0 --separate-stderr etl-queue count --token "$T1" --tier free
		run -0 jq -r 'select(.total != null) | .total' <<<"$output"
		assert_output 46
	done
	[ "$(messages etl.failed)" -eq 0 ]
	run -0 --separate-stderr etl-queue consume extraction_queue_free
	cmp <(printf '%s\n' "$output") "$W/x"
	run -0 --separate-stderr etl-queue consume transform_queue_free
	cmp <(printf '%s\n' "$output") "$W/t"
	run -0 --separate-stderr etl-queue consume embedding_queue_enterprise
	cmp <(printf '%s\n' "$output") "$W/e"
}
