#!/usr/bin/env bats
# The test harness itself: throwaway PostgreSQL and RabbitMQ, the fake Jira and GitHub
# servers, the dataset generator and tests/run.  Every other test file relies on these.

setup_file() {
	load test_helper
	start_pg
	start_rabbitmq
	start_fake_jira
	start_fake_github
}

teardown_file() {
	stop_all
}

setup() {
	load test_helper
	# every test starts from default knobs and zero counters
	[[ -z ${FAKE_JIRA_URL:-} ]] || fake_reset "$FAKE_JIRA_URL"
	[[ -z ${FAKE_GITHUB_URL:-} ]] || fake_reset "$FAKE_GITHUB_URL"
}

# --- small helpers for HTTP checks ------------------------------------------------------

# jira_req PATH [CURL-ARGS...]: sets $status_code, $body, $headers (file) for a Jira GET.
jira_req() {
	local path=$1
	shift
	headers="$BATS_TEST_TMPDIR/headers"
	status_code=$(curl -sS --max-time 30 -u 'etl-test@example.com:fake-api-token' \
		-D "$headers" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$@" "$FAKE_JIRA_URL$path")
	body=$(<"$BATS_TEST_TMPDIR/body")
}

# gh_req QUERY VARIABLES-JSON [CURL-ARGS...]: same for a GraphQL POST.
gh_req() {
	local q=$1 v=$2
	shift 2
	headers="$BATS_TEST_TMPDIR/headers"
	jq -cn --arg q "$q" --argjson v "$v" '{query: $q, variables: $v}' >"$BATS_TEST_TMPDIR/req"
	status_code=$(curl -sS --max-time 30 -H 'Content-Type: application/json' \
		-H 'Authorization: bearer fake-github-token' "$@" --data-binary "@$BATS_TEST_TMPDIR/req" \
		-D "$headers" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$FAKE_GITHUB_URL/graphql")
	body=$(<"$BATS_TEST_TMPDIR/body")
}

header() { # NAME: value of a response header from the last request (case-insensitive)
	tr -d '\r' <"$headers" | awk -v n="$(echo "$1" | tr '[:upper:]' '[:lower:]')" -F': ' \
		'tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }'
}

# ------------------------------------------------------------------------------- basics

@test "harness: PATH starts with the programs' directory, ETL_TEST_ROOT is the repository" {
	[[ $PATH == "$ETL_BIN_DIR:"* ]]
	[[ $ETL_BIN_DIR == /* ]]
	[ -f "$ETL_TEST_ROOT/Makefile" ]
	[ -x "$ETL_TEST_ROOT/tests/run" ]
}

@test "harness: free_port gives distinct ports nobody listens on" {
	run free_port 3
	assert_success
	read -r a b c <<<"$output"
	[[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ && $c =~ ^[0-9]+$ ]]
	[ "$a" != "$b" ]
	[ "$b" != "$c" ]
	[ "$a" != "$c" ]
	run ! port_is_listening "$a"
	run port_is_listening "$ETL_PG_PORT"
	assert_success
}

# ---------------------------------------------------------------------------- PostgreSQL

@test "postgres: psql works through ETL_DATABASE_URL and through PG* with no arguments" {
	[[ $ETL_DATABASE_URL == "postgresql://postgres@127.0.0.1:$ETL_PG_PORT/etl" ]]
	run psql "$ETL_DATABASE_URL" -XAtc 'select 1'
	assert_success
	assert_output 1
	run psql -XAtc 'select current_database() || chr(32) || current_user'
	assert_success
	assert_output 'etl postgres'
	run psql -XAtc "select current_setting('server_version_num')::int / 10000, current_setting('fsync')"
	assert_output '15|off'
}

@test "postgres: listens on 127.0.0.1 and on a unix socket in its own temp dir" {
	[ -S "$ETL_PG_SOCKET_DIR/.s.PGSQL.$ETL_PG_PORT" ]
	run psql -h "$ETL_PG_SOCKET_DIR" -XAtc "select inet_server_addr() is null"
	assert_success
	assert_output t
	run psql -XAtc "select current_setting('listen_addresses')"
	assert_output 127.0.0.1
	run psql -XAtc "select pg_encoding_to_char(encoding) from pg_database where datname = 'etl'"
	assert_output UTF8
}

@test "postgres: start_pg again is a no-op on the running cluster" {
	local port=$ETL_PG_PORT
	start_pg
	[ "$ETL_PG_PORT" = "$port" ]
	run psql -XAtc 'select 2'
	assert_output 2
}

# ------------------------------------------------------------------------------ RabbitMQ

@test "rabbitmq: AMQP port open on loopback only, speaks AMQP 0-9-1" {
	[[ $ETL_AMQP_URL == "amqp://guest:guest@127.0.0.1:$ETL_AMQP_PORT/%2f" ]]
	[[ $RABBIT_NODE == etltest-*@localhost ]]
	port_is_listening "$ETL_AMQP_PORT"
	run ss -ltnH "sport = :$ETL_AMQP_PORT"
	assert_output --partial "127.0.0.1:$ETL_AMQP_PORT"
	refute_output --partial "*:$ETL_AMQP_PORT"
	refute_output --partial "0.0.0.0:$ETL_AMQP_PORT"
	# every socket the node listens on (AMQP, Erlang distribution) is on 127.0.0.1
	local beam
	beam=$(head -n1 "$ETL_RMQ_DIR/pid")
	run bash -c "ss -ltnpH | grep 'pid=$beam,' | awk '{print \$4}'"
	[ "${#lines[@]}" -ge 2 ]
	for l in "${lines[@]}"; do [[ $l == 127.0.0.1:* ]]; done
	# AMQP 0-9-1 handshake up to connection.tune: the node answers and guest/guest (the
	# credentials in ETL_AMQP_URL) is accepted from loopback.
	run "$ETL_PYTHON" - "$ETL_AMQP_PORT" <<-'PY'
		import socket, struct, sys
		s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
		def frame():
		    hdr = b""
		    while len(hdr) < 7:
		        c = s.recv(7 - len(hdr))
		        if not c:
		            return None, b""
		        hdr += c
		    typ, ch, size = struct.unpack(">BHI", hdr)
		    body = b""
		    while len(body) < size + 1:
		        body += s.recv(size + 1 - len(body))
		    return typ, body[:size]
		s.sendall(b"AMQP\x00\x00\x09\x01")
		typ, p = frame()
		if typ != 1 or p[:4] != b"\x00\x0a\x00\x0a" or b"RabbitMQ" not in p:
		    sys.exit("no connection.start: %r" % p[:40])
		def shortstr(b): return bytes([len(b)]) + b
		def longstr(b): return struct.pack(">I", len(b)) + b
		args = struct.pack(">I", 0) + shortstr(b"PLAIN") + longstr(b"\0guest\0guest") + shortstr(b"en_US")
		payload = struct.pack(">HH", 10, 11) + args
		s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")
		typ, p = frame()
		print("connection.tune" if typ == 1 and p[:4] == b"\x00\x0a\x00\x1e" else "refused: %r" % p[:60])
	PY
	assert_output connection.tune
}

@test "rabbitmq: rabbitmqctl_t talks to this node (list_queues, add_vhost)" {
	run rabbitmqctl_t -q list_queues name
	assert_success
	run rabbitmqctl_t -q add_vhost etl-harness
	assert_success
	run rabbitmqctl_t -q list_vhosts name
	assert_success
	assert_line etl-harness
	run rabbitmqctl_t -q status
	assert_success
	refute_output --partial rabbitmq_management
}

@test "rabbitmq: restart_rabbitmq brings the node back on the same port with its data" {
	local port=$ETL_AMQP_PORT old_pid new_pid
	old_pid=$(head -n1 "$ETL_RMQ_DIR/pid")
	restart_rabbitmq
	[ "$ETL_AMQP_PORT" = "$port" ]
	port_is_listening "$port"
	new_pid=$(head -n1 "$ETL_RMQ_DIR/pid")
	[ "$new_pid" != "$old_pid" ]
	run ! kill -0 "$old_pid"
	run rabbitmqctl_t -q list_vhosts name
	assert_success
	assert_line etl-harness
}

@test "rabbitmq: stop_rabbitmq_node / start_rabbitmq_node keep the broker down in between" {
	local port=$ETL_AMQP_PORT
	stop_rabbitmq_node
	run ! port_is_listening "$port"
	run rabbitmqctl_t -q list_queues
	assert_failure
	start_rabbitmq_node
	port_is_listening "$port"
	run rabbitmqctl_t -q list_vhosts name
	assert_line etl-harness
}

# ------------------------------------------------------------------------------ fake Jira

@test "fake jira: missing or non-Basic auth is a 401, and the header value is never logged" {
	fake_reset "$FAKE_JIRA_URL"
	run curl -s -o /dev/null -w '%{http_code}' "$FAKE_JIRA_URL/rest/api/3/field"
	assert_output 401
	run curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer abc' \
		"$FAKE_JIRA_URL/rest/api/3/field"
	assert_output 401
	jira_req /rest/api/3/field
	[ "$status_code" = 200 ]
	jq -e 'length > 10 and any(.[]; .id == "customfield_10016" and .schema.type == "number")' \
		<<<"$body"
	run fake_stats "$FAKE_JIRA_URL"
	jq -e '.total == 3 and .auth_missing == 1 and .by_status["401"] == 2' <<<"$output"
	run grep -c 'ZXRsLXRlc3Q\|fake-api-token\|Bearer abc' "$FAKE_JIRA_LOG"
	assert_output 0
}

@test "fake jira: search/jql pages return every issue once; isLast and no token on the last" {
	fake_reset "$FAKE_JIRA_URL"
	fake_ctl "$FAKE_JIRA_URL" '{"page_size": 7}' >/dev/null
	local token="" pages=0 expected args
	: >"$BATS_TEST_TMPDIR/ids"
	while :; do
		args=(-G --data-urlencode 'jql=project in (ALPHA, BETA, GAMMA) ORDER BY updated ASC'
			--data-urlencode 'fields=summary,updated,status' --data-urlencode 'maxResults=100')
		[[ -n $token ]] && args+=(--data-urlencode "nextPageToken=$token")
		jira_req /rest/api/3/search/jql "${args[@]}"
		[ "$status_code" = 200 ]
		pages=$((pages + 1))
		jq -e 'has("total") | not' <<<"$body"
		jq -e '.issues | length <= 7 and all(.[]; .fields.summary and .key)' <<<"$body"
		jq -r '.issues[].id' <<<"$body" >>"$BATS_TEST_TMPDIR/ids"
		if jq -e '.isLast == true' <<<"$body" >/dev/null; then
			jq -e 'has("nextPageToken") | not' <<<"$body"
			break
		fi
		jq -e '.isLast == false and (.nextPageToken | type == "string")' <<<"$body"
		token=$(jq -r .nextPageToken <<<"$body")
		((pages < 50))
	done
	expected=$(find "$FAKE_JIRA_DATA/issues" -name '*.json' | wc -l)
	[ "$expected" -ge 20 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq "$expected" ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/ids" | wc -l)" -eq "$expected" ]
	[ "$pages" -eq $(((expected + 6) / 7)) ]
	[ "$(fake_count "$FAKE_JIRA_URL" 'GET /rest/api/3/search/jql')" -eq "$pages" ]
}

@test "fake jira: POST search/jql, id-only default, updated >= epoch-millis, ORDER BY DESC" {
	local ms
	ms=$(jq -r '.fields.updated' "$FAKE_JIRA_DATA/issues/ALPHA-3.json" |
		"$ETL_PYTHON" -c 'import sys,datetime; print(int(datetime.datetime.strptime(sys.stdin.read().strip(), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()*1000))')
	jira_req /rest/api/3/search/jql -X POST -H 'Content-Type: application/json' \
		--data "{\"jql\": \"project = ALPHA AND updated >= $ms ORDER BY updated DESC\", \"maxResults\": 100}"
	[ "$status_code" = 200 ]
	jq -e '.isLast and (.issues | length >= 1) and all(.issues[]; keys == ["id"])' <<<"$body"
	jq -e 'any(.issues[]; .id == "'"$(jq -r .id "$FAKE_JIRA_DATA/issues/ALPHA-3.json")"'")' <<<"$body"
	jira_req /rest/api/3/search/jql -X POST -H 'Content-Type: application/json' \
		--data "{\"jql\": \"project = ALPHA AND updated >= $ms ORDER BY updated DESC\", \"fields\": [\"updated\"]}"
	jq -e '[.issues[].fields.updated] | . == (sort | reverse)' <<<"$body"
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=updated >= "2000-01-01 00:00"'
	[ "$status_code" = 200 ]
}

@test "fake jira: unbounded or invalid JQL is a 400 in Jira's error shape; /search is gone" {
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=ORDER BY updated DESC'
	[ "$status_code" = 400 ]
	jq -e '.errorMessages[0] | test("Unbounded JQL")' <<<"$body"
	jira_req /rest/api/3/search/jql
	[ "$status_code" = 400 ]
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=bogusfield = 1'
	[ "$status_code" = 400 ]
	jq -e '.errors == {} and (.errorMessages | length == 1)' <<<"$body"
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=project = ALPHA' \
		--data-urlencode 'nextPageToken=not-a-token'
	[ "$status_code" = 400 ]
	jira_req /rest/api/3/search -G --data-urlencode 'jql=project = ALPHA'
	[ "$status_code" = 410 ]
	jira_req /rest/api/3/issue/NOPE-1
	[ "$status_code" = 404 ]
	jq -e '.errorMessages | length == 1' <<<"$body"
}

@test "fake jira: expand=changelog keeps 40 histories (newest first) and the real total" {
	local total
	total=$(jq '.changelog.histories | length' "$FAKE_JIRA_DATA/issues/ALPHA-2.json")
	[ "$total" -gt 100 ]
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=key = ALPHA-2' \
		--data-urlencode 'fields=status' --data-urlencode 'expand=changelog'
	[ "$status_code" = 200 ]
	jq -e --argjson t "$total" '.issues[0].changelog |
		.startAt == 0 and .maxResults == 40 and .total == $t and (.histories | length) == 40' \
		<<<"$body"
	jq -e '.issues[0].changelog.histories | .[0].created > .[-1].created' <<<"$body"
}

@test "fake jira: changelog/bulkfetch returns every history exactly once across pages" {
	local ids expected pages=0 token="" req
	ids=$(jq -s '[.[].id]' "$FAKE_JIRA_DATA"/issues/*.json)
	expected=$(jq -s '[.[].changelog.histories | length] | add' "$FAKE_JIRA_DATA"/issues/*.json)
	: >"$BATS_TEST_TMPDIR/hist"
	while :; do
		req=$(jq -cn --argjson ids "$ids" --arg t "$token" \
			'{issueIdsOrKeys: $ids, maxResults: 50} + (if $t == "" then {} else {nextPageToken: $t} end)')
		jira_req /rest/api/3/changelog/bulkfetch -X POST -H 'Content-Type: application/json' \
			--data "$req"
		[ "$status_code" = 200 ]
		pages=$((pages + 1))
		jq -e '[.issueChangeLogs[].changeHistories | length] | add <= 50' <<<"$body"
		jq -r '.issueChangeLogs[] | .issueId as $i | .changeHistories[] | "\($i) \(.id)"' \
			<<<"$body" >>"$BATS_TEST_TMPDIR/hist"
		token=$(jq -r '.nextPageToken // ""' <<<"$body")
		[[ -n $token ]] || break
		((pages < 100))
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/hist")" -eq "$expected" ]
	[ "$(cut -d' ' -f2 "$BATS_TEST_TMPDIR/hist" | sort -u | wc -l)" -eq "$expected" ]
	[ "$pages" -eq $(((expected + 49) / 50)) ]
	# the long changelog spans pages: its issue id starts more than one page
	local long_id
	long_id=$(jq -r .id "$FAKE_JIRA_DATA/issues/ALPHA-2.json")
	[ "$(grep -c "^$long_id " "$BATS_TEST_TMPDIR/hist")" -eq \
		"$(jq '.changelog.histories | length' "$FAKE_JIRA_DATA/issues/ALPHA-2.json")" ]
	# oldest first within an issue
	jira_req /rest/api/3/changelog/bulkfetch -X POST -H 'Content-Type: application/json' \
		--data '{"issueIdsOrKeys": ["ALPHA-2"], "fieldIds": ["status"]}'
	jq -e '.issueChangeLogs[0].changeHistories | (map(.created) == (map(.created) | sort))
		and all(.[]; all(.items[]; .fieldId == "status"))' <<<"$body"
	jira_req /rest/api/3/changelog/bulkfetch -X POST -H 'Content-Type: application/json' \
		--data '{"issueIdsOrKeys": []}'
	[ "$status_code" = 400 ]
}

@test "fake jira: issue changelog, project search, createmeta, statuses, dev-status shapes" {
	jira_req '/rest/api/3/issue/ALPHA-2/changelog?startAt=100&maxResults=100'
	jq -e '.startAt == 100 and .maxResults == 100 and .total > 100 and .isLast
		and (.values | length) == .total - 100 and has("self")' <<<"$body"
	jira_req '/rest/api/3/project/search?expand=issueTypes&maxResults=2'
	jq -e '.total == 3 and .isLast == false and (.nextPage | type == "string")
		and (.values | length) == 2 and all(.values[]; (.issueTypes | length) > 0)' <<<"$body"
	jira_req '/rest/api/3/project/search?startAt=2&maxResults=2'
	jq -e '.isLast and (.values | length) == 1 and (has("nextPage") | not)
		and all(.values[]; has("issueTypes") | not)' <<<"$body"
	jira_req '/rest/api/3/issue/createmeta/ALPHA/issuetypes/10001?maxResults=5'
	jq -e '.startAt == 0 and .maxResults == 5 and .total > 5 and (.fields | length) == 5
		and all(.fields[]; has("fieldId") and has("schema") and has("required"))' <<<"$body"
	jira_req /rest/api/3/project/ALPHA/statuses
	jq -e 'length > 1 and all(.[]; (.statuses | length) > 0)
		and ([.[].statuses[].statusCategory.key] | unique) == ["done", "indeterminate", "new"]' \
		<<<"$body"
	local linked
	linked=$(basename "$(ls "$FAKE_JIRA_DATA"/devstatus/*.json | head -n1)" .json)
	jira_req "/rest/dev-status/latest/issue/detail?issueId=$linked&applicationType=GitHub&dataType=pullrequest"
	jq -e '.errors == [] and (.detail[0].pullRequests | length) >= 1
		and all(.detail[0].pullRequests[]; .status and .url and .repositoryName and .author.name
		and .source.branch and .destination.branch) and .detail[0]._instance.type == "GitHub"' \
		<<<"$body"
}

@test "fake jira: rate_limit knob gives 429 + Retry-After + X-RateLimit-Reset, then recovers" {
	fake_reset "$FAKE_JIRA_URL"
	fake_ctl "$FAKE_JIRA_URL" \
		'{"rate_limit": {"after": 1, "count": 2, "retry_after": 3, "near_limit_after": 0}}' \
		>/dev/null
	jira_req /rest/api/3/field
	[ "$status_code" = 200 ]
	[ "$(header X-RateLimit-NearLimit)" = true ]
	jira_req /rest/api/3/field
	[ "$status_code" = 429 ]
	[ "$(header Retry-After)" = 3 ]
	[[ $(header X-RateLimit-Reset) =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T ]]
	jq -e '.errorMessages[0] | test("rate-limited")' <<<"$body"
	jira_req /rest/api/3/field
	[ "$status_code" = 429 ]
	jira_req /rest/api/3/field
	[ "$status_code" = 200 ]
	run fake_stats "$FAKE_JIRA_URL"
	jq -e '.total == 4 and .by_status["429"] == 2 and .by_status["200"] == 2
		and .by_endpoint["GET /rest/api/3/field"] == 4 and (.requests | length) == 4' <<<"$output"
}

@test "fake jira: errors_5xx, html_error, truncate and slow_ms knobs; _reset clears them" {
	fake_reset "$FAKE_JIRA_URL"
	fake_ctl "$FAKE_JIRA_URL" '{"errors_5xx": {"count": 1, "status": 503}}' >/dev/null
	jira_req /rest/api/3/field
	[ "$status_code" = 503 ]
	jira_req /rest/api/3/field
	[ "$status_code" = 200 ]
	fake_ctl "$FAKE_JIRA_URL" '{"errors_5xx": null, "html_error": {"count": 1}}' >/dev/null
	jira_req /rest/api/3/field
	[ "$status_code" = 502 ]
	[[ $(header Content-Type) == text/html* ]]
	fake_ctl "$FAKE_JIRA_URL" '{"truncate": {"count": 1, "endpoint": "/rest/api/3/field"}}' \
		>/dev/null
	jira_req /rest/api/3/field
	[ "$status_code" = 200 ]
	run ! jq -e . <<<"$body"
	fake_ctl "$FAKE_JIRA_URL" '{"slow_ms": 300}' >/dev/null
	local t0=$EPOCHREALTIME
	jira_req /rest/api/3/myself
	[ "$status_code" = 200 ]
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a >= 0.29) }'
	fake_reset "$FAKE_JIRA_URL"
	run curl -fsS "$FAKE_JIRA_URL/_control"
	assert_output '{}'
	run fake_stats "$FAKE_JIRA_URL"
	jq -e '.total == 0' <<<"$output"
}

@test "fake jira: a dataset change is served after POST /_control {\"reload\": true}" {
	local d="$BATS_TEST_TMPDIR/jira"
	cp -r "$FAKE_JIRA_DATA" "$d"
	fake_ctl "$FAKE_JIRA_URL" "{\"data\": \"$d\"}" >/dev/null
	jq '.fields.summary = "changed ✓"' "$d/issues/BETA-2.json" >"$d/x" && mv "$d/x" "$d/issues/BETA-2.json"
	fake_ctl "$FAKE_JIRA_URL" '{"reload": true}' >/dev/null
	jira_req /rest/api/3/search/jql -G --data-urlencode 'jql=key = BETA-2' \
		--data-urlencode fields=summary
	jq -e '.issues[0].fields.summary == "changed ✓"' <<<"$body"
	fake_ctl "$FAKE_JIRA_URL" "{\"data\": \"$FAKE_JIRA_DATA\"}" >/dev/null
}

# ---------------------------------------------------------------------------- fake GitHub

PRS_QUERY='query($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id number updatedAt
        commits(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { commit { oid } } }
        reviews(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { id state } }
        comments(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }
    }
  }
  rateLimit { cost remaining resetAt limit }
}'

@test "fake github: no bearer token is a 401" {
	run curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"query":"{ viewer { login } }"}' \
		"$FAKE_GITHUB_URL/graphql"
	assert_output 401
	gh_req '{ viewer { login } }' '{}'
	[ "$status_code" = 200 ]
	jq -e '.data.viewer.login | type == "string"' <<<"$body"
}

@test "fake github: organization repositories page with first/after" {
	local after=null pages=0 expected
	expected=$(jq '.["etlkit-test"] | length' "$FAKE_GITHUB_DATA/repos.json")
	: >"$BATS_TEST_TMPDIR/repos"
	while :; do
		gh_req 'query($login: String!, $first: Int!, $after: String) { organization(login: $login) {
			repositories(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
			nodes { id name nameWithOwner isArchived } } } }' \
			"{\"login\": \"etlkit-test\", \"first\": 2, \"after\": $after}"
		[ "$status_code" = 200 ]
		pages=$((pages + 1))
		jq -r '.data.organization.repositories.nodes[].id' <<<"$body" >>"$BATS_TEST_TMPDIR/repos"
		jq -e --argjson n "$expected" '.data.organization.repositories.totalCount == $n' <<<"$body"
		jq -e '.data.organization.repositories.pageInfo.hasNextPage' <<<"$body" >/dev/null || break
		after=$(jq '.data.organization.repositories.pageInfo.endCursor' <<<"$body")
		((pages < 20))
	done
	[ "$(sort -u "$BATS_TEST_TMPDIR/repos" | wc -l)" -eq "$expected" ]
	[ "$pages" -eq $(((expected + 1) / 2)) ]
}

@test "fake github: pullRequests page newest-updated first; nested lists cut to their first" {
	local after=null pages=0 expected
	expected=$(jq length "$FAKE_GITHUB_DATA/prs/etlkit-test/alpha-service.json")
	: >"$BATS_TEST_TMPDIR/prs"
	while :; do
		gh_req "$PRS_QUERY" "{\"owner\": \"etlkit-test\", \"name\": \"alpha-service\", \"first\": 3, \"after\": $after}"
		[ "$status_code" = 200 ]
		jq -e '(has("errors") | not) and .data.rateLimit.cost >= 1 and .data.rateLimit.limit == 5000' \
			<<<"$body"
		jq -e '.data.repository.pullRequests.nodes | all(.[];
			(.commits.nodes | length) == ([.commits.totalCount, 10] | min)
			and .commits.pageInfo.hasNextPage == (.commits.totalCount > 10))' <<<"$body"
		jq -r '.data.repository.pullRequests.nodes[] | "\(.updatedAt) \(.number)"' <<<"$body" \
			>>"$BATS_TEST_TMPDIR/prs"
		pages=$((pages + 1))
		jq -e '.data.repository.pullRequests.pageInfo.hasNextPage' <<<"$body" >/dev/null || break
		after=$(jq '.data.repository.pullRequests.pageInfo.endCursor' <<<"$body")
		((pages < 50))
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/prs")" -eq "$expected" ]
	[ "$(cut -d' ' -f2 "$BATS_TEST_TMPDIR/prs" | sort -u | wc -l)" -eq "$expected" ]
	cut -d' ' -f1 "$BATS_TEST_TMPDIR/prs" | sort -c -r
	[ "$(fake_count "$FAKE_GITHUB_URL" repository.pullRequests)" -ge "$pages" ]
}

@test "fake github: node(id:) pages a pull request's commits, reviews and comments" {
	local pr kind total after pages
	pr=$(jq -r '[.[] | select(.commits.totalCount > 200)][0].id' \
		"$FAKE_GITHUB_DATA/prs/etlkit-test/alpha-service.json")
	[[ -n $pr && $pr != null ]]
	for kind in commits reviews comments; do
		total=$(jq --arg id "$pr" --arg k "$kind" '.[] | select(.id == $id) | .[$k].totalCount' \
			"$FAKE_GITHUB_DATA/prs/etlkit-test/alpha-service.json")
		[ "$total" -gt 100 ]
		after=null pages=0
		: >"$BATS_TEST_TMPDIR/nested"
		while :; do
			gh_req "query(\$id: ID!, \$first: Int!, \$after: String) { node(id: \$id) {
				__typename ... on PullRequest { id $kind(first: \$first, after: \$after) {
				totalCount pageInfo { hasNextPage endCursor } nodes { id } } } } }" \
				"{\"id\": \"$pr\", \"first\": 100, \"after\": $after}"
			[ "$status_code" = 200 ]
			jq -e --arg k "$kind" '.data.node.__typename == "PullRequest" and (.data.node[$k].nodes | length) <= 100' <<<"$body"
			jq -r --arg k "$kind" '.data.node[$k].nodes[].id' <<<"$body" >>"$BATS_TEST_TMPDIR/nested"
			pages=$((pages + 1))
			jq -e --arg k "$kind" '.data.node[$k].pageInfo.hasNextPage' <<<"$body" >/dev/null || break
			after=$(jq --arg k "$kind" '.data.node[$k].pageInfo.endCursor' <<<"$body")
			((pages < 10))
		done
		[ "$(sort -u "$BATS_TEST_TMPDIR/nested" | wc -l)" -eq "$total" ]
		[ "$pages" -eq $(((total + 99) / 100)) ]
	done
	gh_req 'query { node(id: "PR_nope") { id } }' '{}'
	jq -e '.data.node == null and .errors[0].type == "NOT_FOUND"' <<<"$body"
	gh_req 'query { repository(owner: "etlkit-test", name: "alpha-service") {
		pullRequests(first: 101) { nodes { id } } } }' '{}'
	jq -e '.errors[0].message | test("exceeds the `first` limit of 100")' <<<"$body"
}

@test "fake github: rate_limit_200 knob is HTTP 200 with errors[].type RATE_LIMITED" {
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_limit_200": {"after": 1, "count": 1}}' >/dev/null
	gh_req '{ rateLimit { remaining } }' '{}'
	[ "$status_code" = 200 ]
	jq -e '.data.rateLimit.remaining > 0' <<<"$body"
	gh_req '{ rateLimit { remaining } }' '{}'
	[ "$status_code" = 200 ]
	jq -e '.data == null and .errors[0].type == "RATE_LIMITED"' <<<"$body"
	[ "$(header x-ratelimit-remaining)" = 0 ]
	gh_req '{ rateLimit { remaining } }' '{}'
	jq -e '(has("errors") | not) and .data.rateLimit.remaining > 0' <<<"$body"
}

@test "fake github: secondary_403 knob is a 403 with retry-after and the secondary message" {
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"secondary_403": {"count": 1, "retry_after": 7}}' >/dev/null
	gh_req '{ viewer { login } }' '{}'
	[ "$status_code" = 403 ]
	[ "$(header retry-after)" = 7 ]
	jq -e '(.message | test("secondary rate limit")) and (.documentation_url | type == "string")' \
		<<<"$body"
	gh_req '{ viewer { login } }' '{}'
	[ "$status_code" = 200 ]
	fake_ctl "$FAKE_GITHUB_URL" '{"errors_5xx": {"count": 1, "status": 502}}' >/dev/null
	gh_req '{ viewer { login } }' '{}'
	[ "$status_code" = 502 ]
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"remaining": 0, "reset_in": 60}}' >/dev/null
	gh_req '{ viewer { login } }' '{}'
	jq -e '.errors[0].type == "RATE_LIMITED"' <<<"$body"
	fake_reset "$FAKE_GITHUB_URL"
}

# ------------------------------------------------------------------------ dataset generator

@test "gen_jira_dataset: deterministic, and tests/fixtures is what it generates" {
	local d="$BATS_TEST_TMPDIR/gen"
	run "$ETL_PYTHON" "$ETL_FAKES_DIR/gen_jira_dataset.py" --projects 3 --issues 30 --out "$d/jira" \
		--github-out "$d/github"
	assert_success
	diff -r "$d/jira" "$ETL_FIXTURES_DIR/jira-small"
	diff -r "$d/github" "$ETL_FIXTURES_DIR/github-small"
	# The demo's sample data is the same dataset.
	diff -r "$ETL_TEST_ROOT/share/examples/jira-sample" "$ETL_FIXTURES_DIR/jira-small"
	diff -r "$ETL_TEST_ROOT/share/examples/github-sample" "$ETL_FIXTURES_DIR/github-small"
}

@test "gen_jira_dataset: 300 issues with the edge cases the extractors need" {
	local d="$BATS_TEST_TMPDIR/big"
	run "$ETL_PYTHON" "$ETL_FAKES_DIR/gen_jira_dataset.py" --projects 3 --issues 300 --out "$d" --seed 7
	assert_success
	[ "$(find "$d/issues" -name '*.json' | wc -l)" -eq 300 ]
	jq -s -e '
		(map(.changelog.histories | length) | max) > 100
		and ([.[].fields.status.statusCategory.key] | unique) == ["done", "indeterminate", "new"]
		and ([.[].fields.issuetype.name] | unique | length) >= 4
		and any(.[]; [.changelog.histories[].items[] | select(.field == "status") | .toString]
			| index("Reopened") != null)
		and any(.[]; [.changelog.histories[].items[] | select(.field == "status")]
			| any(.[]; .toString == "Backlog"))
		and all(.[]; .fields.updated | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}[+-][0-9]{4}$"))
		and any(.[]; .fields.customfield_10001 != null)
		and any(.[]; .fields.customfield_10003 | type == "array")
		and any(.[]; .fields.development | startswith("{pullrequest="))' "$d"/issues/*.json
	grep -q '🚀' "$d/issues/"*.json
	[ "$(find "$d/devstatus" -name '*.json' | wc -l)" -gt 10 ]
}

# ---------------------------------------------------------------------------------- tests/run

@test "tests/run: TAP summary line and exit status (pass, fail, skip, setup_file failure)" {
	local t="$BATS_TEST_TMPDIR/run"
	mkdir -p "$t"
	# (printf, not a heredoc: bats would preprocess @test lines inside this file's heredocs)
	printf '%s\n' '@test "one" { true; }' '@test "two" { true; }' \
		'@test "three # not a skip" { true; }' >"$t/a.bats"
	printf '%s\n' '@test "fails" { false; }' '@test "skipped" { skip "no reason"; }' \
		'@test "passes" { true; }' >"$t/b.bats"
	printf '%s\n' 'setup_file() { false; }' '@test "never runs" { true; }' >"$t/c.bats"
	# a clean environment, as `make check` has: no BATS_* or harness variables of this run
	local runner=(env -i "PATH=$PATH" "HOME=${HOME:-/root}" "TMPDIR=${TMPDIR:-/tmp}"
		"$ETL_TEST_ROOT/tests/run")
	run "${runner[@]}" "$t/a.bats"
	assert_success
	assert_line --index 0 '1..3'
	assert_equal "${lines[-1]}" '3 passed, 0 failed'
	run "${runner[@]}" "$t/a.bats" "$t/b.bats"
	assert_failure
	assert_equal "${lines[-1]}" '4 passed, 1 failed, 1 skipped'
	run "${runner[@]}" "$t/c.bats"
	assert_failure
	assert_equal "${lines[-1]}" '0 passed, 1 failed'
	run "${runner[@]}" "$t/nope.bats"
	assert_failure
	assert_equal "${lines[-1]}" '0 passed, 1 failed'
	run env -i "PATH=$PATH" bash -ec "'$ETL_TEST_ROOT/tests/run' '$t/a.bats' </dev/null | tail -n1"
	assert_success
	assert_output '3 passed, 0 failed'
	# and from inside this bats run, with all of its BATS_* variables: tests/run cleans up
	run "$ETL_TEST_ROOT/tests/run" "$t/b.bats"
	assert_failure
	assert_equal "${lines[-1]}" '1 passed, 1 failed, 1 skipped'
}

# ---------------------------------------------------------------------------------- teardown

@test "harness: stop_all stops everything; ports close; stop is idempotent" {
	local pg_port=$ETL_PG_PORT amqp_port=$ETL_AMQP_PORT pg_dir=$ETL_PG_DIR rmq_dir=$ETL_RMQ_DIR
	local jira_pid=$FAKE_JIRA_PID gh_pid=$FAKE_GITHUB_PID node=${RABBIT_NODE%@*}
	local pg_pid beam_pid jira_port gh_port
	pg_pid=$(head -n1 "$pg_dir/data/postmaster.pid")
	beam_pid=$(head -n1 "$rmq_dir/pid")
	jira_port=${FAKE_JIRA_URL##*:} gh_port=${FAKE_GITHUB_URL##*:}
	kill -0 "$pg_pid"
	kill -0 "$beam_pid"
	kill -0 "$jira_pid"
	kill -0 "$gh_pid"
	run stop_all
	assert_success
	for p in "$pg_port" "$amqp_port" "$jira_port" "$gh_port"; do
		run ! port_is_listening "$p"
	done
	for pid in "$pg_pid" "$beam_pid" "$jira_pid" "$gh_pid"; do
		run ! _etl_pid_alive "$pid"   # gone, or a zombie its parent has not reaped yet
	done
	[ ! -e "$pg_dir" ]
	[ ! -e "$rmq_dir" ]
	run epmd -names
	refute_output --partial "name $node "
	run stop_all
	assert_success
	run stop_pg
	assert_success
	run stop_rabbitmq
	assert_success
	# what the services took, as TAP comments (also in the report)
	etl_test_timings | sed 's/^/# timing: /' >&3
}
