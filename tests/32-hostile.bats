#!/usr/bin/env bats
# etl-extract against hostile servers: the fakes' "hostile" knob answers like a broken or
# malicious server (huge, endless, gzip bomb, trickle, redirect to another host, HTML pages,
# 429 with absurd headers).  Each test runs both providers against a stored integration.

setup_file() {
	load test_helper
	start_pg
	start_fake_jira
	start_fake_github
	use_db etl_h_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export JIRA_TOKEN="ATATT-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	export GH_TOKEN="ghp_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	etl-job tenant add acme >/dev/null
	JIRA_INTEG=$(etl-job integration add --tenant acme --provider jira \
		--base-url "$FAKE_JIRA_URL" --email etl-test@example.com --token-env JIRA_TOKEN)
	GH_INTEG=$(etl-job integration add --tenant acme --provider github \
		--base-url "$FAKE_GITHUB_URL" --orgs etlkit-test --token-env GH_TOKEN)
	export JIRA_INTEG GH_INTEG
}

setup() {
	load test_helper
	use_db "h$BATS_TEST_NUMBER" etl_h_tmpl
	fake_reset "$FAKE_JIRA_URL"
	fake_reset "$FAKE_GITHUB_URL"
	# Small limits so that each hostile answer is met quickly.
	export ETL_HTTP_MAX_RESPONSE=$((8 << 20)) ETL_HTTP_BACKOFF_MS=20
}

# url_of PROVIDER, integ_of PROVIDER: the fake and the integration of a provider.
url_of() { if [[ $1 == jira ]]; then echo "$FAKE_JIRA_URL"; else echo "$FAKE_GITHUB_URL"; fi; }
integ_of() { if [[ $1 == jira ]]; then echo "$JIRA_INTEG"; else echo "$GH_INTEG"; fi; }

# hostile PROVIDER SPEC: the provider's fake answers its first request with SPEC.
hostile() {
	fake_ctl "$(url_of "$1")" "$(jq -cn --argjson s "$2" '{hostile: ({after: 0} + $s)}')" \
		>/dev/null
}

# extract PROVIDER: the provider's first step, its exit status in $status, its peak
# resident memory (KiB) in $BATS_TEST_TMPDIR/rss, stderr in $stderr.
extract() {
	run --separate-stderr "$ETL_PYTHON" -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$BATS_TEST_TMPDIR/rss" etl-extract "$1" --integration "$(integ_of "$1")" --only
}

# sent PROVIDER: body bytes the fake wrote for its first request before the client stopped.
sent() { fake_stats "$(url_of "$1")" | jq '.requests[0].sent'; }

# nothing_stored: no response row, and no message out.
nothing_stored() {
	[ -z "$output" ] || fail "messages were emitted: $output"
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq 0 ] || fail "rows were stored"
}

@test "hostile: a 300 MB body is refused from its Content-Length, nothing read or stored" {
	for p in jira github; do
		hostile $p '{"mode": "huge", "bytes": 300000000}'
		extract $p
		[ "$status" -eq 65 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"response larger than 8388608 bytes (ETL_HTTP_MAX_RESPONSE)"* ]] ||
			fail "$p: $stderr"
		nothing_stored
		# One request, no retry: the same request would bring the same answer.
		[ "$(fake_stats "$(url_of $p)" | jq .total)" -eq 1 ]
		[ "$(sent $p)" -lt 100000000 ]
		[ "$(cat "$BATS_TEST_TMPDIR/rss")" -lt 200000 ]
	done
}

@test "hostile: an endless chunked body stops at the cap: a data error, not out of memory" {
	for p in jira github; do
		# (Finite, so that a client without a cap ends too: 600 MB, then a hang-up.)
		hostile $p '{"mode": "endless", "bytes": 600000000}'
		extract $p
		[ "$status" -eq 65 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"response larger than 8388608 bytes"* ]] || fail "$p: $stderr"
		nothing_stored
		[ "$(fake_stats "$(url_of $p)" | jq .total)" -eq 1 ]
		[ "$(sent $p)" -lt 100000000 ]
		[ "$(cat "$BATS_TEST_TMPDIR/rss")" -lt 200000 ]
	done
}

@test "hostile: a gzip bomb (500 KB that decode to 512 MB) is cut at the decoded cap" {
	for p in jira github; do
		hostile $p '{"mode": "gzip_bomb", "bytes": 536870912}'
		extract $p
		[ "$status" -eq 65 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"response larger than 8388608 bytes"* ]] || fail "$p: $stderr"
		nothing_stored
		[ "$(fake_stats "$(url_of $p)" | jq .total)" -eq 1 ]
		[ "$(cat "$BATS_TEST_TMPDIR/rss")" -lt 200000 ]
	done
}

@test "hostile: a server trickling a byte a second is dropped by the low-speed limit" {
	export ETL_HTTP_LOW_SPEED_TIME=2 ETL_HTTP_RETRIES=1
	for p in jira github; do
		fake_reset "$(url_of $p)"
		hostile $p '{"mode": "trickle", "interval_ms": 1000, "count": null}'
		extract $p
		[ "$status" -eq 69 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"Operation too slow"*"retrying"*"Operation too slow"* ]] ||
			fail "$p: $stderr"
		nothing_stored
		# Two attempts, each given up after a few bytes, not after the whole answer (the fake
		# records a request once its writes fail, a second or so after the hang-up).
		[ "$(fake_stats "$(url_of $p)" | jq .total)" -eq 2 ]
		for _ in $(seq 100); do
			[ "$(fake_stats "$(url_of $p)" | jq '.requests | length')" -eq 2 ] && break
			sleep 0.1
		done
		run -0 jq -c '[.requests[].sent < 20]' <<<"$(fake_stats "$(url_of $p)")"
		assert_output '[true,true]'
	done
}

@test "hostile: a redirect to another host is not followed: the credentials stay home" {
	for p in jira github; do
		if [[ $p == jira ]]; then other=github; else other=jira; fi
		fake_reset "$(url_of $other)"
		hostile $p "$(jq -cn --arg l "$(url_of $other)/steal" '{mode: "redirect", location: $l}')"
		extract $p
		[ "$status" -eq 65 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"HTTP 302"* ]] || fail "$p: $stderr"
		nothing_stored
		[ "$(fake_stats "$(url_of $other)" | jq .total)" -eq 0 ]
	done
}

@test "hostile: HTML pages (a 200 login page, a 404) are errors, never stored as data" {
	for p in jira github; do
		fake_reset "$(url_of $p)"
		fake_ctl "$(url_of $p)" '{"html_error": {"after": 0, "count": null, "status": 200}}' \
			>/dev/null
		extract $p
		[ "$status" -eq 69 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"HTTP 200 with a body that is not valid JSON"*"3 times"* ]] ||
			fail "$p: $stderr"
		nothing_stored
		fake_reset "$(url_of $p)"
		fake_ctl "$(url_of $p)" '{"html_error": {"after": 0, "count": null, "status": 404}}' \
			>/dev/null
		extract $p
		[ "$status" -eq 65 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"HTTP 404"* ]] || fail "$p: $stderr"
		nothing_stored
	done
}

@test "hostile: a 429 with absurd headers is a rate limit: checkpoint and exit 75, no crash" {
	for p in jira github; do
		hostile $p '{"mode": "absurd_429"}'
		run --separate-stderr etl-extract --max-wait 1 $p --integration "$(integ_of $p)" --only
		[ "$status" -eq 75 ] || fail "$p: exit $status: $stderr"
		[[ $stderr == *"rate limited"* ]] || fail "$p: $stderr"
		# The escape sequence of a header never reaches the log.
		[[ $stderr != *$'\e'* ]]
		nothing_stored
		# A negative Retry-After and one in the year 9999: the same.
		for ra in -5 "Fri, 31 Dec 9999 23:59:59 GMT"; do
			fake_reset "$(url_of $p)"
			hostile $p "$(jq -cn --arg ra "$ra" '{mode: "absurd_429",
				headers: [["Retry-After", $ra]]}')"
			run --separate-stderr etl-extract --max-wait 1 $p --integration "$(integ_of $p)" \
				--only
			[ "$status" -eq 75 ] || fail "$p ($ra): exit $status: $stderr"
			[[ $stderr != *"runtime error"* ]]
		done
	done
}

@test "hostile data: empty status, category and user names from Jira load as themselves" {
	# "" used to come back from the JSON decoder without its NUL: heap bytes became
	# status names (and the next request's path), or the process died.
	data="$BATS_TEST_TMPDIR/data"
	cp -r "$ETL_FIXTURES_DIR/jira-small" "$data"
	"$ETL_PYTHON" - "$data" <<'PY'
import glob, json, os, sys
root = sys.argv[1]
def blank(st):
    if st.get("id") == "10100":
        st["name"] = ""
        st["statusCategory"]["key"] = ""
for p in glob.glob(os.path.join(root, "statuses", "*.json")):
    doc = json.load(open(p))
    for t in doc:
        for st in t["statuses"]:
            blank(st)
    json.dump(doc, open(p, "w"))
for p in glob.glob(os.path.join(root, "issues", "*.json")):
    doc = json.load(open(p))
    blank(doc["fields"]["status"])
    for who in ("assignee", "reporter", "creator"):
        if doc["fields"].get(who):
            doc["fields"][who]["displayName"] = ""
    json.dump(doc, open(p, "w"))
PY
	fake_ctl "$FAKE_JIRA_URL" "$(jq -cn --arg d "$data" '{data: $d}')" >/dev/null
	run -0 --separate-stderr bash -c 'set -o pipefail; etl-extract jira --integration "$1" --full |
		etl-transform >/dev/null' _ "$JIRA_INTEG"
	# The nameless status is named by its id, as documented; every other name is the
	# dataset's.
	run -0 q "SELECT name || '/' || category FROM statuses WHERE external_id = '10100'"
	assert_output "10100/undefined"
	run -0 q "SELECT name FROM statuses WHERE external_id <> '10100' ORDER BY 1"
	printf '%s\n' "${lines[@]}" | sort -u >"$BATS_TEST_TMPDIR/got"
	jq -r '.[].statuses[] | select(.id != "10100") | .name' "$data"/statuses/*.json | sort -u |
		diff - "$BATS_TEST_TMPDIR/got"
	[ "$(q "SELECT count(*) FROM work_items WHERE assignee = '' OR assignee IS NULL")" -eq \
		"$(q "SELECT count(*) FROM work_items")" ]
	# Each request path carries only what was asked: no stray bytes from the heap.
	fake_stats "$FAKE_JIRA_URL" | jq -r '.requests[].path' >"$BATS_TEST_TMPDIR/paths"
	[ -s "$BATS_TEST_TMPDIR/paths" ]
	! LC_ALL=C grep -n '[^ -~]' "$BATS_TEST_TMPDIR/paths"
}

@test "hostile data: a message whose fields are empty strings is handled as written" {
	msg=$(jq -cn --arg t "$(cat /proc/sys/kernel/random/uuid)" \
		--slurpfile r "$ETL_FIXTURES_DIR/jira-small/statuses/ALPHA.json" '{tenant_id: 1,
		job_id: null, token: $t, type: "jira_statuses_and_relationships", provider: "jira",
		first_item: true, last_item: true, last_job_item: false, integration_id: 1,
		raw_data_id: null, raw: $r[0], raw_kind: "project_statuses",
		request_url: "https://x.atlassian.net/rest/api/3/project/ALPHA/statuses"}')
	run -65 --separate-stderr etl-transform --dry-run <<<"$(jq -c '.type = ""' <<<"$msg")"
	[[ $stderr == *"unknown message type ''"* ]] || fail "$stderr"
	run -65 --separate-stderr etl-transform --dry-run <<<"$(jq -c '.provider = ""' <<<"$msg")"
	[[ $stderr == *"provider '' does not match type"* ]] || fail "$stderr"
	# An empty raw_kind is no kind: the response's own shape decides, as when it is absent.
	run -0 --separate-stderr etl-transform --dry-run <<<"$(jq -c '.raw_kind = ""' <<<"$msg")"
	[[ $stderr != *"unknown raw_kind"* ]] || fail "$stderr"
	want=$(etl-transform --dry-run <<<"$(jq -c 'del(.raw_kind)' <<<"$msg")")
	[ "$output" = "$want" ]
	run -0 --separate-stderr etl-transform --dry-run <<<"$(jq -c '.request_url = ""' <<<"$msg")"
	[[ $stderr == *"its project is unknown"* ]] || fail "$stderr"
}
