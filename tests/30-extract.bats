#!/usr/bin/env bats
# etl-extract for Jira against a real PostgreSQL and the fake Jira.

# use_db NAME [TEMPLATE], q SQL: tests/test_helper.bash.

# use_data DIR: the fake serves DIR from now on; counters and knobs are reset.
use_data() {
	fake_reset "$FAKE_JIRA_URL"
	fake_ctl "$FAKE_JIRA_URL" "$(jq -cn --arg d "$1" '{data: $d, reload: true}')" >/dev/null
	fake_reset "$FAKE_JIRA_URL"
}

# count ENDPOINT: requests the fake answered for ENDPOINT since the last reset.
count() { fake_count "$FAKE_JIRA_URL" "$1"; }

# The dataset's complete histories: [{"id": issue id, "h": [history ids]}] sorted.
want_histories() {
	cat "$1"/issues/*.json | jq -c '{id, h: ([.changelog.histories[].id] | unique)}' |
		jq -sc 'sort_by(.id)'
}

# The histories stored (search pages + attached changelog rows), same shape.
stored_histories() {
	q "SELECT '{\"p\":' || request_params::text || ',\"b\":' || convert_from(raw_data, 'UTF8') || '}'
	   FROM raw_extraction_data WHERE request_params->>'kind' IN
	   ('search_jql', 'changelog_bulkfetch', 'issue_changelog') ORDER BY id" |
		jq -c 'if .b.issues then (.b.issues[] | {id, h: [.changelog.histories[]?.id]})
			elif .b.issueChangeLogs then (.b.issueChangeLogs[] | {id: .issueId,
				h: [.changeHistories[].id]})
			else {id: .p.issue, h: [.b.values[].id]} end' |
		jq -sc 'group_by(.id) | map({id: .[0].id, h: ([.[].h[]] | unique)}) | sort_by(.id)'
}

# The same for messages with inline responses (--no-store).
inline_histories() {
	jq -c 'select(.raw_kind == "search_jql") |
		(.raw.issues[] | {id, h: [.changelog.histories[]?.id]}),
		(.raw_changelogs[]?.issueChangeLogs[]? | {id: .issueId, h: [.changeHistories[].id]})' "$1" |
		jq -sc 'group_by(.id) | map({id: .[0].id, h: ([.[].h[]] | unique)}) | sort_by(.id)'
}

# job_message JOB TOKEN [LAST_SYNC]: the first extraction message of a job run.
job_message() {
	jq -cn --argjson t "$TENANT" --argjson i "$INTEG" --argjson j "$1" --arg k "$2" \
		--arg s "${3:-}" '{tenant_id: $t, job_id: $j, token: $k,
		type: "jira_projects_and_issue_types", provider: "jira", first_item: true,
		last_item: false, last_job_item: false, integration_id: $i,
		last_sync_date: (if $s == "" then null else $s end)}'
}

# new_job TOKEN: a job whose run TOKEN is RUNNING; prints its id.
new_job() {
	q "INSERT INTO etl_jobs (tenant_id, integration_id, name, status) VALUES ($TENANT, $INTEG,
	   'job-$1', jsonb_build_object('overall', 'RUNNING', 'token', '$1', 'steps', '{}'::jsonb,
	   'reset_deadline', null, 'reset_attempt', 0)) RETURNING id"
}

uuid() { cat /proc/sys/kernel/random/uuid; }

setup_file() {
	load test_helper
	start_pg
	start_fake_jira
	use_db etl_x_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export JIRA_TOKEN="ATATT-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	TENANT=$(etl-job tenant add acme)
	INTEG=$(etl-job integration add --tenant acme --provider jira --base-url "$FAKE_JIRA_URL" \
		--email etl-test@example.com --token-env JIRA_TOKEN)
	export TENANT INTEG
	export BIG="$BATS_FILE_TMPDIR/big"
	"$ETL_PYTHON" "$ETL_FAKES_DIR/gen_jira_dataset.py" --projects 3 --issues 300 --out "$BIG" \
		>/dev/null
	export SMALL="$ETL_FIXTURES_DIR/jira-small"
}

setup() {
	load test_helper
	use_db "x$BATS_TEST_NUMBER" etl_x_tmpl
	use_data "$SMALL"
}

@test "extract: a full sync of jira-small: one row per response, flags per step, complete changelogs" {
	run -0 --separate-stderr etl-extract jira --integration "$INTEG" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	# Every response the fake served is one raw row; attached rows have no message.
	total=$(fake_stats "$FAKE_JIRA_URL" | jq .total)
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq "$total" ]
	run -0 jq -sc '[.[].raw_data_id] | sort' "$BATS_TEST_TMPDIR/out"
	assert_output "$(q "SELECT '[' || string_agg(id::text, ',' ORDER BY id) || ']' FROM raw_extraction_data
		WHERE NOT request_params ? 'for_raw_id'")"
	# The four steps in order, dev status last, one message per issue with pull requests.
	run -0 jq -rs 'map(.type) | unique | length' "$BATS_TEST_TMPDIR/out"
	assert_output 4
	[ "$(jq -s '[.[] | select(.raw_kind == "dev_status")] | length' "$BATS_TEST_TMPDIR/out")" -eq \
		"$(ls "$SMALL"/devstatus | wc -l)" ]
	# Rows: type, provider, method, no credentials in the URL, params with kind.
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE provider <> 'jira'
		OR request_url NOT LIKE '$FAKE_JIRA_URL/%' OR request_params->>'kind' IS NULL
		OR http_status <> 200 OR token IS NULL OR page IS NULL"
	assert_output 0
	run -0 q "SELECT string_agg(DISTINCT request_params->>'kind', ',' ORDER BY request_params->>'kind')
		FROM raw_extraction_data"
	assert_output "changelog_bulkfetch,createmeta,dev_status,fields,project_search,project_statuses,reconcile_ids,search_jql"
	# Changelogs: the stored histories are the dataset's, for every issue.
	[ "$(stored_histories)" = "$(want_histories "$SMALL")" ]
	# The bytes are the bytes received (the fixture's \u0000 escape survives).
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE position('\\u0000' in
		convert_from(raw_data, 'UTF8')) > 0"
	[ "$output" -ge 1 ]
	[[ $stderr != *"$JIRA_TOKEN"* ]]
	! grep -q "$JIRA_TOKEN" "$BATS_TEST_TMPDIR/out"
}

@test "extract: 300 generated issues: complete changelogs, bulkfetch batches, requests per 1,000 issues" {
	use_data "$BIG"
	run -0 --separate-stderr etl-extract --reconcile-every 0 jira --integration "$INTEG" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	[ "$(stored_histories)" = "$(want_histories "$BIG")" ]
	# The issue with more than 100 histories is complete.
	run -0 q "SELECT max(jsonb_array_length(convert_from(raw_data, 'UTF8')::jsonb->'issueChangeLogs'->0->'changeHistories'))
		FROM raw_extraction_data WHERE request_params->>'kind' = 'changelog_bulkfetch'"
	[ "$output" -gt 100 ]
	# Three pages of issues, then the deleted-issue pass (a full sync runs it): one page.
	[ "$(count "POST /rest/api/3/search/jql")" -eq 4 ]
	[ "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'reconcile_ids'")" -eq 1 ]
	issues_calls=$(($(count "POST /rest/api/3/search/jql") - 1 + $(count "POST /rest/api/3/changelog/bulkfetch")))
	all_calls=$(fake_stats "$FAKE_JIRA_URL" | jq '.total - (.by_endpoint["GET /rest/dev-status/latest/issue/detail"] // 0)')
	echo "# default embedding (40): issues step $issues_calls requests = $((issues_calls * 1000 / 300)) per 1,000 issues; all steps but dev status $all_calls = $((all_calls * 1000 / 300)) per 1,000" >&3
	[ $((issues_calls * 1000 / 300)) -le 15 ]

	# Many truncated changelogs: still one bulkfetch call per page, many issues a call.
	use_db "x${BATS_TEST_NUMBER}b" etl_x_tmpl
	use_data "$BIG"
	fake_ctl "$FAKE_JIRA_URL" '{"changelog_embed_max": 2}' >/dev/null
	run -0 --separate-stderr etl-extract --reconcile-every 0 --only jira --integration "$INTEG" \
		--full --step jira_issues_with_changelogs
	[ "$(stored_histories)" = "$(want_histories "$BIG")" ]
	[ "$(count "POST /rest/api/3/changelog/bulkfetch")" -eq 3 ]
	run -0 q "SELECT min(jsonb_array_length(request_params->'issueIdsOrKeys'))
		FROM raw_extraction_data WHERE request_params->>'kind' = 'changelog_bulkfetch'"
	[ "$output" -ge 30 ]
	n=$(($(count "POST /rest/api/3/search/jql") - 1 + $(count "POST /rest/api/3/changelog/bulkfetch")))
	echo "# every page truncated (embed 2): $n requests = $((n * 1000 / 300)) per 1,000 issues" >&3
	# Smaller batches: more calls, same histories; a full sync in queries of 2 pages, each
	# after the last id seen: every issue exactly once.
	use_db "x${BATS_TEST_NUMBER}c" etl_x_tmpl
	use_data "$BIG"
	fake_ctl "$FAKE_JIRA_URL" '{"changelog_embed_max": 2, "page_size": 40}' >/dev/null
	run -0 --separate-stderr env ETL_JIRA_CHUNK_PAGES=2 etl-extract --reconcile-every 0 --only \
		--batch-size 10 jira --integration "$INTEG" --full --step jira_issues_with_changelogs
	[ "$(stored_histories)" = "$(want_histories "$BIG")" ]
	[ "$(count "POST /rest/api/3/changelog/bulkfetch")" -gt 20 ]
	run -0 q "SELECT count(DISTINCT request_params->>'jql') || ' ' || count(*) FILTER (WHERE
		request_params->>'jql' LIKE '% AND id > %') FROM raw_extraction_data
		WHERE request_params->>'kind' = 'search_jql'"
	assert_output "4 6"
	run -0 bash -c "psql -qAtX -c \"SELECT convert_from(raw_data, 'UTF8') FROM raw_extraction_data
		WHERE request_params->>'kind' = 'search_jql'\" | jq -r '.issues[].id' | sort | uniq -c |
		awk '{ n++; if (\$1 != 1) d++ } END { print n, d + 0 }'"
	assert_output "300 0"
}

@test "extract: bulkfetch not served (404): the per-issue changelog endpoint completes them" {
	fake_ctl "$FAKE_JIRA_URL" '{"errors_5xx": {"status": 404, "count": null, "endpoint": "bulkfetch"}}' >/dev/null
	run -0 --separate-stderr etl-extract --only jira --integration "$INTEG" --full \
		--step jira_issues_with_changelogs
	[[ $stderr == *"bulkfetch not served (HTTP 404)"* ]]
	[ "$(stored_histories)" = "$(want_histories "$SMALL")" ]
	[ "$(count "GET /rest/api/3/issue/{issueIdOrKey}/changelog")" -ge 2 ]
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'issue_changelog'
		AND (request_params->>'for_raw_id')::bigint IN (SELECT id FROM raw_extraction_data
		WHERE request_params->>'kind' = 'search_jql')"
	[ "$output" -ge 2 ]
}

@test "extract: incremental: no change = minimal requests, then only the 3 changed issues" {
	data="$BATS_TEST_TMPDIR/data"
	cp -r "$BIG" "$data"
	use_data "$data"
	run -0 --separate-stderr etl-extract jira --integration "$INTEG" --full
	since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	fake_reset "$FAKE_JIRA_URL"
	run -0 --separate-stderr etl-extract --reconcile-every 0 jira --integration "$INTEG" \
		--since "$since"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	run -0 fake_stats "$FAKE_JIRA_URL"
	run -0 jq -c '.by_endpoint' <<<"$output"
	assert_output '{"GET /rest/api/3/project/search":1,"GET /rest/api/3/field":1,"GET /rest/api/3/project/{projectIdOrKey}/statuses":3,"POST /rest/api/3/search/jql":1}'
	# The search asked for updated >= last sync minus the 5 min overlap, by epoch ms.
	want=$(( $(date -u -d "$since" +%s) * 1000 - 300000 ))
	run -0 q "SELECT request_params->>'jql' FROM raw_extraction_data
		WHERE request_params->>'kind' = 'search_jql' ORDER BY id DESC LIMIT 1"
	assert_output "project in (\"ALPHA\", \"BETA\", \"GAMMA\") AND updated >= $want ORDER BY id ASC"
	run -0 q "SELECT jsonb_array_length(convert_from(raw_data, 'UTF8')::jsonb->'issues')
		FROM raw_extraction_data WHERE id = (SELECT max(id) FROM raw_extraction_data
		WHERE request_params->>'kind' = 'search_jql')"
	assert_output 0
	# The dev status step had nothing to do: one completion message, the job's last.
	run -0 jq -c 'select(.type == "jira_dev_status") | [.raw_data_id, .first_item, .last_item, .last_job_item]' \
		"$BATS_TEST_TMPDIR/out"
	assert_output '[null,true,true,true]'

	# Three issues change.
	now=$(date -u +%Y-%m-%dT%H:%M:%S.000+0000)
	for k in ALPHA-5 BETA-7 GAMMA-20; do
		jq --arg n "$now" '.fields.updated = $n' "$data/issues/$k.json" >"$data/issues/$k.json.new"
		mv "$data/issues/$k.json.new" "$data/issues/$k.json"
	done
	fake_ctl "$FAKE_JIRA_URL" '{"reload": true}' >/dev/null
	fake_reset "$FAKE_JIRA_URL"
	run -0 --separate-stderr etl-extract --reconcile-every 0 jira --integration "$INTEG" \
		--since "$since"
	run -0 q "SELECT string_agg(i->>'key', ',' ORDER BY i->>'key') FROM raw_extraction_data,
		jsonb_array_elements(convert_from(raw_data, 'UTF8')::jsonb->'issues') i
		WHERE request_params->>'kind' = 'search_jql' AND id > (SELECT max(id) FROM raw_extraction_data
		WHERE request_params->>'kind' = 'project_search')"
	assert_output "ALPHA-5,BETA-7,GAMMA-20"
	[ "$(count "POST /rest/api/3/search/jql")" -eq 1 ]
}

@test "extract: Retry-After: 1 mid-step is waited out and the step goes on" {
	use_data "$BIG"
	fake_ctl "$FAKE_JIRA_URL" '{"rate_limit": {"after": 1, "count": 1, "retry_after": 1, "endpoint": "search/jql"}}' >/dev/null
	SECONDS=0
	run -0 --separate-stderr etl-extract --reconcile-every 0 --only jira --integration "$INTEG" \
		--full --step jira_issues_with_changelogs
	[ "$SECONDS" -ge 1 ]
	[ "$(fake_stats "$FAKE_JIRA_URL" | jq '.by_status["429"]')" -eq 1 ]
	[ "$(stored_histories)" = "$(want_histories "$BIG")" ]
	[ "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'search_jql'")" -eq 3 ]
}

@test "extract: Retry-After: 3600 checkpoints and exits 75; the rerun resumes with no gap and no duplicate" {
	use_data "$BIG"
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" >"$BATS_TEST_TMPDIR/msg"
	# The third search page is rate limited for an hour.
	fake_ctl "$FAKE_JIRA_URL" '{"rate_limit": {"after": 2, "count": null, "retry_after": 3600, "endpoint": "search/jql"}}' >/dev/null
	SECONDS=0
	run -75 --separate-stderr etl-extract --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	[ "$SECONDS" -lt 20 ]
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out1"
	[[ $stderr == *"rate limited: the API asks to wait 3600 s, more than --max-wait 5 s"* ]]
	run -0 q "SELECT status->'checkpoint'->>'step' || ' ' || (status->'checkpoint'->>'emitted')
		|| ' ' || (checkpoint->>'token') FROM etl_jobs WHERE id = $job"
	assert_output "jira_issues_with_changelogs 1 $token"
	rows1=$(q "SELECT count(*) FROM raw_extraction_data")
	# The first run sent page 1 of the step and held page 2.
	[ "$(jq -s '[.[] | select(.type == "jira_issues_with_changelogs")] | length' "$BATS_TEST_TMPDIR/out1")" -eq 1 ]

	fake_reset "$FAKE_JIRA_URL"
	run -0 --separate-stderr etl-extract --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out2"
	# Steps 1 and 2 and pages 1-2 came from the stored rows: only page 3 and what follows asked.
	run -0 jq -c '.by_endpoint' < <(fake_stats "$FAKE_JIRA_URL")
	refute_output --partial "project/search"
	refute_output --partial "/field"
	[ "$(count "POST /rest/api/3/search/jql")" -eq 2 ]   # page 3 and the deleted-issue pass
	# No duplicate row: each request once.
	run -0 q "SELECT count(*) - count(DISTINCT request_params->>'sig') FROM raw_extraction_data"
	assert_output 0
	[ "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'search_jql'")" -eq 3 ]
	# No gap: every history; the two runs' messages make one stream with the flags right.
	[ "$(stored_histories)" = "$(want_histories "$BIG")" ]
	cat "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2" >"$BATS_TEST_TMPDIR/all"
	check_flags "$BATS_TEST_TMPDIR/all"
	run -0 jq -sc '[.[].raw_data_id | select(. != null)] | (length - (unique | length))' "$BATS_TEST_TMPDIR/all"
	assert_output 0
	run -0 jq -sc '[.[].raw_data_id | select(. != null)] | sort' "$BATS_TEST_TMPDIR/all"
	assert_output "$(q "SELECT '[' || string_agg(id::text, ',' ORDER BY id) || ']' FROM raw_extraction_data
		WHERE NOT request_params ? 'for_raw_id'")"
	# Statuses finished, checkpoint gone.
	run -0 q "SELECT string_agg(s.value->>'extraction', ',') || ' ' || coalesce(e.status->>'checkpoint', 'none')
		FROM etl_jobs e, jsonb_each(e.status->'steps') s WHERE e.id = $job GROUP BY e.status"
	assert_output "finished,finished,finished,finished none"
}

@test "extract: --no-store needs no database; responses travel inline" {
	run -0 --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE \
		JIRA_BASE_URL="$FAKE_JIRA_URL" JIRA_EMAIL=etl-test@example.com JIRA_API_TOKEN="$JIRA_TOKEN" \
		PGHOST=/nonexistent etl-extract --no-store --projects alpha,beta jira --integration 7
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	run -0 jq -sc 'map(select(.raw_data_id != null or (.raw | not))) | length' "$BATS_TEST_TMPDIR/out"
	assert_output 0
	run -0 jq -rs 'map(select(.raw_kind == "project_statuses") | .request_params.project) | join(",")' \
		"$BATS_TEST_TMPDIR/out"
	assert_output "ALPHA,BETA"
	want=$(cat "$SMALL"/issues/{ALPHA,BETA}-*.json | jq -c '{id, h: ([.changelog.histories[].id] | unique)}' | jq -sc 'sort_by(.id)')
	[ "$(inline_histories "$BATS_TEST_TMPDIR/out")" = "$want" ]
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq 0 ]
	[[ $stderr != *"$JIRA_TOKEN"* ]]
	! grep -q "$JIRA_TOKEN" "$BATS_TEST_TMPDIR/out"
	# Without the site: a configuration error.
	run -78 --separate-stderr env -u JIRA_API_TOKEN JIRA_BASE_URL="$FAKE_JIRA_URL" \
		JIRA_EMAIL=x@y etl-extract --no-store jira --integration 7
	[[ $stderr == *"JIRA_API_TOKEN is not set"* ]]
}

@test "extract: --replay A-B and --replay-job emit the same transform messages with no API request" {
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" | etl-extract >"$BATS_TEST_TMPDIR/orig"
	proj='[.[] | {type, raw_data_id, raw_kind, first_item, last_item, last_job_item, token, job_id, tenant_id, integration_id}]'
	jq -sc "$proj" "$BATS_TEST_TMPDIR/orig" >"$BATS_TEST_TMPDIR/want"
	fake_reset "$FAKE_JIRA_URL"
	range=$(q "SELECT min(id) || '-' || max(id) FROM raw_extraction_data")
	run -0 --separate-stderr etl-extract --replay "$range"
	printf '%s\n' "${lines[@]}" | jq -sc "$proj" >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	run -0 --separate-stderr etl-extract --replay-job "$job"
	printf '%s\n' "${lines[@]}" | jq -sc "$proj" >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ "$(fake_stats "$FAKE_JIRA_URL" | jq .total)" -eq 0 ]
	# A sub-range: flags recomputed over what it holds.
	first=$(q "SELECT min(id) FROM raw_extraction_data WHERE request_params->>'kind' = 'project_statuses'")
	run -0 --separate-stderr etl-extract --replay "$first-$((first + 1))"
	run -0 jq -sc 'map([.raw_kind, .first_item, .last_item, .last_job_item])' <<<"$output"
	assert_output '[["project_statuses",true,false,false],["project_statuses",false,true,true]]'
	run -1 --separate-stderr etl-extract --replay 999999-1000000
	run -64 --separate-stderr etl-extract --replay 5-2
}

@test "extract: hostile API: HTML 502, truncated JSON, 500 bursts and a 5 MB description lose nothing" {
	data="$BATS_TEST_TMPDIR/data"
	cp -r "$SMALL" "$data"
	# A 5 MB description (ADF text).
	"$ETL_PYTHON" - "$data/issues/BETA-3.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["fields"]["description"] = {"type": "doc", "version": 1, "content": [{"type": "paragraph",
    "content": [{"type": "text", "text": "é lorem ipsum \u0000 🚀 " * 250000}]}]}
json.dump(d, open(p, "w"))
PY
	use_data "$data"
	fake_ctl "$FAKE_JIRA_URL" '{"html_error": {"after": 0, "count": 2, "status": 502},
		"truncate": {"after": 0, "count": 1, "endpoint": "search/jql"},
		"errors_5xx": {"after": 3, "count": 3, "status": 500, "endpoint": "project"}}' >/dev/null
	run -0 --separate-stderr etl-extract jira --integration "$INTEG" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	[[ $stderr == *"HTTP 502"*"retrying"* ]]
	[[ $stderr == *"not valid JSON"*"fetching it again"* ]]
	[[ $stderr == *"HTTP 500"*"retrying"* ]]
	[ "$(stored_histories)" = "$(want_histories "$data")" ]
	run -0 q "SELECT max(raw_size) FROM raw_extraction_data WHERE request_params->>'kind' = 'search_jql'"
	[ "$output" -gt 5000000 ]
	# Only answers with data were stored.
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE http_status <> 200"
	assert_output 0
	# A body that stays truncated: reported, exit 69, nothing emitted for it.
	use_db "x${BATS_TEST_NUMBER}b" etl_x_tmpl
	fake_reset "$FAKE_JIRA_URL"
	fake_ctl "$FAKE_JIRA_URL" '{"truncate": {"count": null, "endpoint": "field"}}' >/dev/null
	run -69 --separate-stderr etl-extract jira --integration "$INTEG"
	[[ $stderr == *"/rest/api/3/field: HTTP 200 with a body that is not valid JSON"*"3 times"* ]]
}

@test "extract: 401 from the API is a configuration error (exit 78) with a clear message" {
	fake_ctl "$FAKE_JIRA_URL" '{"credentials": "etl-test@example.com:another-token"}' >/dev/null
	run -78 --separate-stderr etl-extract jira --integration "$INTEG"
	[[ $stderr == *"the API refused the credentials (HTTP 401"*"check the integration's e-mail and API token"* ]]
	[[ $stderr != *"$JIRA_TOKEN"* ]]
	[ -z "$output" ]
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq 0 ]
}

@test "extract: two integrations of one site in one process: the second never borrows the first's token" {
	# The client was kept for the next message of the same site and e-mail, and kept
	# its credentials when the next integration had none.
	two=$(etl-job integration add --tenant acme --provider jira --base-url "$FAKE_JIRA_URL" \
		--email etl-test@example.com --token-env JIRA_TOKEN)
	q "UPDATE integrations SET token_encrypted = NULL WHERE id = $two"
	fake_ctl "$FAKE_JIRA_URL" "{\"credentials\": \"etl-test@example.com:$JIRA_TOKEN\"}" >/dev/null
	for i in "$INTEG" "$two"; do
		jq -cn --argjson t "$TENANT" --argjson i "$i" --arg k "$(cat /proc/sys/kernel/random/uuid)" \
			'{tenant_id: $t, job_id: null, token: $k, type: "jira_statuses_and_relationships",
			provider: "jira", first_item: true, last_item: false, last_job_item: false,
			integration_id: $i, last_sync_date: null, single_step: true,
			project_keys: ["ALPHA"]}'
	done >"$BATS_TEST_TMPDIR/msgs"
	run -78 --separate-stderr etl-extract <"$BATS_TEST_TMPDIR/msgs"
	[[ $stderr == *"needs an e-mail and an API token"* ]]
	# The first integration's one request, none for the second.
	[ "$(fake_stats "$FAKE_JIRA_URL" | jq -c '[.total, .by_status["200"]]')" = "[1,1]" ]
	[ "$(q "SELECT count(*) || ':' || min(integration_id) FROM raw_extraction_data")" = "1:$INTEG" ]
	[[ $stderr != *"$JIRA_TOKEN"* ]]
}

@test "extract: dev status failing (500, 404) is logged and counted, the job goes on" {
	for status in 500 404; do
		use_db "x${BATS_TEST_NUMBER}s$status" etl_x_tmpl
		fake_reset "$FAKE_JIRA_URL"
		fake_ctl "$FAKE_JIRA_URL" "{\"errors_5xx\": {\"status\": $status, \"count\": null, \"endpoint\": \"dev-status\"}}" >/dev/null
		token=$(uuid)
		job=$(new_job "$token")
		q "INSERT INTO etl_job_runs (tenant_id, job_id, token) VALUES ($TENANT, $job, '$token')"
		run -0 --separate-stderr etl-extract < <(job_message "$job" "$token")
		printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
		check_flags "$BATS_TEST_TMPDIR/out"
		[[ $stderr == *"dev status: 8 of 8 requests failed"* ]]
		run -0 jq -c 'select(.type == "jira_dev_status") | [.raw_data_id, .last_job_item]' \
			"$BATS_TEST_TMPDIR/out"
		assert_output '[null,true]'
		run -0 q "SELECT errors >= 8, api_calls > 0, (step_counts->'jira_issues_with_changelogs'->>'extracted')::int > 0
			FROM etl_job_runs WHERE token = '$token'"
		assert_output 't|t|t'
	done
}

@test "extract: the deleted-issue pass runs with --full and every Nth incremental run" {
	use_data "$BIG"
	old=2020-01-01T00:00:00Z
	passes() { q "SELECT count(DISTINCT token) FROM raw_extraction_data WHERE request_params->>'kind' = 'reconcile_ids'"; }
	etl-extract --reconcile-every 3 --only jira --integration "$INTEG" --since $old \
		--step jira_issues_with_changelogs >/dev/null
	[ "$(passes)" -eq 0 ]
	etl-extract --reconcile-every 3 --only jira --integration "$INTEG" --since $old \
		--step jira_issues_with_changelogs >/dev/null
	[ "$(passes)" -eq 0 ]
	etl-extract --reconcile-every 3 --only jira --integration "$INTEG" --since $old \
		--step jira_issues_with_changelogs >/dev/null
	[ "$(passes)" -eq 1 ]
	etl-extract --reconcile-every 3 --only jira --integration "$INTEG" --since $old \
		--step jira_issues_with_changelogs >/dev/null
	[ "$(passes)" -eq 1 ]
	fake_ctl "$FAKE_JIRA_URL" '{"page_size": 120}' >/dev/null
	etl-extract --reconcile-every 0 --only jira --integration "$INTEG" --full \
		--step jira_issues_with_changelogs >"$BATS_TEST_TMPDIR/out"
	[ "$(passes)" -eq 2 ]
	# The last pass: every issue id, pages flagged first/last, the projects it covers.
	tok=$(jq -r '.token' "$BATS_TEST_TMPDIR/out" | head -1)
	run -0 q "SELECT string_agg((request_params->>'page') || ':' || (request_params->>'first') || ':'
		|| (request_params->>'last'), ',' ORDER BY id) || ' ' || min(request_params->>'projects')
		FROM raw_extraction_data WHERE request_params->>'kind' = 'reconcile_ids' AND token = '$tok'"
	assert_output '1:true:false,2:false:false,3:false:true ["ALPHA", "BETA", "GAMMA"]'
	run -0 q "SELECT count(DISTINCT i->>'id') FROM raw_extraction_data,
		jsonb_array_elements(convert_from(raw_data, 'UTF8')::jsonb->'issues') i
		WHERE request_params->>'kind' = 'reconcile_ids' AND token = '$tok'"
	assert_output 300
	# Its messages close the step.
	run -0 jq -c 'select(.last_item) | .raw_kind' "$BATS_TEST_TMPDIR/out"
	assert_output '"reconcile_ids"'
}

@test "extract: usage errors exit 64; bad messages are reported (65)" {
	run -64 --separate-stderr etl-extract --projects A
	[[ $stderr == *"--projects goes with --no-store"* ]]
	run -64 --separate-stderr etl-extract jira
	run -64 --separate-stderr etl-extract --replay 3
	run -64 --separate-stderr etl-extract --replay 1-2 --no-store
	run -64 --separate-stderr etl-extract --page-size 101 jira --integration 1
	run -64 --separate-stderr etl-extract jira --integration "$INTEG" --since yesterday
	run -64 --separate-stderr etl-extract --step jira_dev_status
	run -65 --separate-stderr etl-extract <<<'{"tenant_id": 1}'
	[[ $stderr == *"line 1: invalid extraction message"* ]]
	# A message for an integration that does not exist: reported, the run goes on.
	token=$(uuid)
	run -65 --separate-stderr etl-extract < <(jq -cn --arg k "$token" '{tenant_id: 1, job_id: null,
		token: $k, type: "jira_dev_status", provider: "jira", first_item: true, last_item: false,
		last_job_item: false, integration_id: 99999, last_sync_date: null}')
	[[ $stderr == *"cannot load integration 99999"* ]]
	# A job that does not exist: the message is refused before any request.
	fake_reset "$FAKE_JIRA_URL"
	run -65 --separate-stderr etl-extract < <(job_message 424242 "$token")
	[[ $stderr == *"job 424242 does not exist"* ]]
	[ "$(fake_stats "$FAKE_JIRA_URL" | jq .total)" -eq 0 ]
}

@test "extract: the man page is lint-clean and documents every option" {
	run -0 groff -man -ww -z "$ETL_TEST_ROOT/man/etl-extract.1"
	assert_output ""
	for o in $(etl-extract --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "${o//-/\\\\-}" "$ETL_TEST_ROOT/man/etl-extract.1" || fail "man page lacks $o"
	done
}
