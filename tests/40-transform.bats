#!/usr/bin/env bats
# etl-transform for Jira, and `etl-job fields` / `etl-job status-map`, against a real
# PostgreSQL: raw rows written by tests/fixtures/transform/jira_raw.py (the responses the fake
# Jira serves, as etl-extract stores them), and end to end from etl-extract and the fake Jira.
# Expected values come from the dataset files (jq, and tests/fixtures/transform/metrics.py, an
# independent implementation of the metric definitions of man/etl-transform.1).

FX="$BATS_TEST_DIRNAME/fixtures/transform"
TOKEN=5d2c6a1e-8f3b-4c7d-9e0a-1b2c3d4e5f60

# use_db NAME [TEMPLATE], q SQL: tests/test_helper.bash.
sql() { psql -qAtX -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }

# raw DATASET OUTPREFIX [ARGS...]: raw rows (OUT.sql) and messages (OUT.ndjson) of a dataset.
raw() {
	local d=$1 out=$2
	shift 2
	"$ETL_PYTHON" "$FX/jira_raw.py" "$d" --sql "$out.sql" --messages "$out.ndjson" \
		--integration "$INTEG" --tenant "$TENANT" "$@"
}

# The final tables' content by natural keys: no surrogate ids, no bookkeeping times.
content() {
	q "SELECT t || ' ' || count(*) || ' ' || md5(string_agg(r, E'\n' ORDER BY r)) FROM (
	  SELECT 'work_items' t, (to_jsonb(w) - '{id,created_at,last_updated_at,project_id,wit_id,status_id}'::text[]
		|| jsonb_build_object('p', p.external_id, 'w', x.external_id, 's', s.external_id))::text r
		FROM work_items w LEFT JOIN projects p ON p.id = w.project_id
		LEFT JOIN wits x ON x.id = w.wit_id LEFT JOIN statuses s ON s.id = w.status_id
	  UNION ALL SELECT 'changelogs', (to_jsonb(c) - '{id,created_at,work_item_id,from_status_id,to_status_id}'::text[]
		|| jsonb_build_object('w', w.external_id, 'f', f.external_id, 't', s.external_id))::text
		FROM changelogs c JOIN work_items w ON w.id = c.work_item_id
		LEFT JOIN statuses f ON f.id = c.from_status_id LEFT JOIN statuses s ON s.id = c.to_status_id
	  UNION ALL SELECT 'projects', (to_jsonb(p) - '{id,created_at,last_updated_at,synced_at}'::text[])::text FROM projects p
	  UNION ALL SELECT 'wits', (to_jsonb(p) - '{id,created_at,last_updated_at,synced_at}'::text[])::text FROM wits p
	  UNION ALL SELECT 'statuses', (to_jsonb(p) - '{id,created_at,last_updated_at,synced_at}'::text[])::text FROM statuses p
	  UNION ALL SELECT 'custom_fields', (to_jsonb(p) - '{id,created_at,last_updated_at,synced_at}'::text[])::text FROM custom_fields p
	  UNION ALL SELECT 'projects_custom_fields', (to_jsonb(p) - '{id,discovered_at}'::text[])::text FROM projects_custom_fields p
	  UNION ALL SELECT 'projects_wits', p.external_id || '/' || w.external_id FROM projects_wits x
		JOIN projects p ON p.id = x.project_id JOIN wits w ON w.id = x.wit_id
	  UNION ALL SELECT 'projects_statuses', p.external_id || '/' || s.external_id FROM projects_statuses x
		JOIN projects p ON p.id = x.project_id JOIN statuses s ON s.id = x.status_id
	  UNION ALL SELECT 'work_items_prs_links', (to_jsonb(l) - '{id,created_at,last_updated_at,work_item_id}'::text[]
		|| jsonb_build_object('w', w.external_id))::text
		FROM work_items_prs_links l JOIN work_items w ON w.id = l.work_item_id) x
	  GROUP BY t ORDER BY t"
}

# Every row of the final tables as stored, with the transaction that last wrote it.
stored() {
	q "SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
	  SELECT xmin::text || (w.*)::text r FROM work_items w
	  UNION ALL SELECT xmin::text || (c.*)::text FROM changelogs c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM projects c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM wits c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM statuses c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM custom_fields c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM projects_custom_fields c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM projects_wits c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM projects_statuses c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM work_items_prs_links c) x"
}

# The metrics of every work item, as tests/fixtures/transform/metrics.py prints them.
db_metrics() {
	local t="'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
	q "SELECT json_build_object('key', key,
	 'work_first_committed_at', to_char(work_first_committed_at AT TIME ZONE 'UTC', $t),
	 'work_first_started_at', to_char(work_first_started_at AT TIME ZONE 'UTC', $t),
	 'work_last_started_at', to_char(work_last_started_at AT TIME ZONE 'UTC', $t),
	 'work_first_completed_at', to_char(work_first_completed_at AT TIME ZONE 'UTC', $t),
	 'work_last_completed_at', to_char(work_last_completed_at AT TIME ZONE 'UTC', $t),
	 'total_work_starts', total_work_starts, 'total_completions', total_completions,
	 'total_backlog_returns', total_backlog_returns,
	 'total_work_time_seconds', total_work_time_seconds,
	 'total_review_time_seconds', total_review_time_seconds,
	 'total_cycle_time_seconds', total_cycle_time_seconds,
	 'total_lead_time_seconds', total_lead_time_seconds,
	 'workflow_complexity_score', workflow_complexity_score,
	 'rework_indicator', rework_indicator, 'direct_completion', direct_completion,
	 'changelog_count', changelog_count) FROM work_items ORDER BY key" | jq -c .
}

want_metrics() { "$ETL_PYTHON" "$FX/metrics.py" "$@" | jq -c .; }

uuid() { cat /proc/sys/kernel/random/uuid; }

setup_file() {
	load test_helper
	start_pg
	use_db etl_t_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export JIRA_TOKEN="ATATT-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	TENANT=$(etl-job tenant add acme)
	# The base URL is rewritten to the fake's when a test extracts.
	INTEG=$(etl-job integration add --tenant acme --provider jira \
		--base-url https://etlkit-test.atlassian.net --email etl@example.com \
		--token-env JIRA_TOKEN)
	export TENANT INTEG
	export SMALL="$ETL_FIXTURES_DIR/jira-small"
	export BIG="$BATS_FILE_TMPDIR/big"
	"$ETL_PYTHON" "$ETL_FAKES_DIR/gen_jira_dataset.py" --projects 3 --issues 300 --out "$BIG" \
		>/dev/null
	# The 300-issue dataset's raw rows, stored once.
	raw "$BIG" "$BATS_FILE_TMPDIR/big" --token "$TOKEN"
	use_db etl_t_big etl_t_tmpl
	sql "$BATS_FILE_TMPDIR/big.sql"
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	use_db "t$BATS_TEST_NUMBER" etl_t_big
	M="$BATS_FILE_TMPDIR/big.ndjson"
}

@test "transform: a full sync of 300 issues loads exactly the dataset's rows" {
	run --separate-stderr etl-transform <"$M"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/emb"
	# Counts, from the dataset files.
	[ "$(q "SELECT count(*) FROM work_items")" -eq 300 ]
	[ "$(q "SELECT count(*) FROM projects")" -eq 3 ]
	[ "$(q "SELECT count(*) FROM wits")" -eq "$(jq '[.[].issueTypes[].id] | unique | length' "$BIG/projects.json")" ]
	[ "$(q "SELECT count(*) FROM projects_wits")" -eq "$(jq '[.[].issueTypes[]] | length' "$BIG/projects.json")" ]
	[ "$(q "SELECT count(*) FROM statuses")" -eq "$(cat "$BIG"/statuses/*.json | jq -s '[.[][].statuses[].id] | unique | length')" ]
	[ "$(q "SELECT count(*) FROM projects_statuses")" -eq "$(for f in "$BIG"/statuses/*.json; do jq '[.[].statuses[].id] | unique | length' "$f"; done | paste -sd+ | bc)" ]
	[ "$(q "SELECT count(*) FROM custom_fields")" -eq "$(jq '[.[] | select(.custom)] | length' "$BIG/fields.json")" ]
	[ "$(q "SELECT count(*) FROM projects_custom_fields")" -eq 3 ]
	[ "$(q "SELECT count(*) FROM changelogs")" -eq "$(cat "$BIG"/issues/*.json | jq -s '[.[].changelog.histories[].items[]] | length')" ]
	[ "$(q "SELECT count(*) FROM work_items_prs_links")" -eq "$(cat "$BIG"/devstatus/*.json | jq -s '[.[].detail[].pullRequests[]] | length')" ]
	# Every foreign key resolved, no placeholder left, every raw row processed.
	[ "$(q "SELECT count(*) FROM work_items WHERE project_id IS NULL OR wit_id IS NULL OR status_id IS NULL")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM changelogs WHERE field = 'status' AND (from_status_id IS NULL OR to_status_id IS NULL)")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM projects WHERE synced_at IS NULL") $(q "SELECT count(*) FROM statuses WHERE synced_at IS NULL")" = "0 0" ]
	[ "$(q "SELECT string_agg(DISTINCT status, ',') FROM raw_extraction_data")" = processed ]
	# The issue with 131 histories (130 beyond the 40 embedded) has them all.
	[ "$(q "SELECT changelog_count FROM work_items WHERE key = 'ALPHA-9'")" -eq 131 ]
	[ "$(q "SELECT count(DISTINCT c.external_id) FROM changelogs c JOIN work_items w ON w.id = c.work_item_id WHERE w.key = 'ALPHA-9'")" -eq 131 ]
	# Standard fields of every issue, against the files.
	cat "$BIG"/issues/*.json | jq -r '[.key, .fields.summary, .fields.status.name, .fields.issuetype.name,
		(.fields.priority.name // ""), (.fields.assignee.displayName // ""), (.fields.parent.key // ""),
		(.fields.labels | join(",")), ([.fields.components[].name] | join(",")), (.fields.duedate // "")] | @tsv' |
		sort >"$BATS_TEST_TMPDIR/want"
	q "SELECT concat_ws(E'\t', key, summary, status_name, type_name, coalesce(priority, ''),
		coalesce(assignee, ''), coalesce(parent_key, ''), array_to_string(labels, ','),
		array_to_string(components, ','), coalesce(due_date::text, '')) FROM work_items" |
		sort >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# Descriptions: the ADF as received (minus U+0000) and its text, unicode intact.
	nul=$(grep -l 'Pasted from a terminal:\\u0000' "$BIG"/issues/*.json | head -1)
	key=$(jq -r .key "$nul")
	[ "$(q "SELECT description->'content'->-1->'content'->0->>'text' FROM work_items WHERE key = '$key'")" = "Pasted from a terminal: a NUL byte that jsonb rejects." ]
	[ "$(q "SELECT description_text ~ 'terminal: a NUL' FROM work_items WHERE key = '$key'")" = t ]
	[ "$(q "SELECT count(*) FROM work_items WHERE description_text ~ '𝄞|🚀|日本語|Ελληνικά'")" -gt 10 ]
	run -0 jq -c '.fields.description' "$BIG/issues/ALPHA-12.json"
	[ "$(q "SELECT description FROM work_items WHERE key = 'ALPHA-12'" | jq -cS .)" = "$(jq -cS . <<<"$output")" ]
	# One embedding message per entity of each step, flags recomputed over them.
	run -0 jq -sc 'group_by(.type) | map({t: .[0].type, n: length,
		tables: (map(.table_name) | unique), f: [.[] | .first_item] | index(true),
		l: ([.[] | .last_item] | index(true)), lj: ([.[] | .last_job_item] | index(true))})' \
		"$BATS_TEST_TMPDIR/emb"
	assert_output '[{"t":"jira_dev_status","n":1,"tables":[null],"f":null,"l":0,"lj":0},{"t":"jira_issues_with_changelogs","n":300,"tables":["work_items"],"f":0,"l":299,"lj":null},{"t":"jira_projects_and_issue_types","n":8,"tables":["projects","wits"],"f":0,"l":7,"lj":null},{"t":"jira_statuses_and_relationships","n":7,"tables":["statuses"],"f":0,"l":6,"lj":null}]'
	# The keys of the run are forgotten once emitted.
	[ "$(q "SELECT count(*) FROM etl_transform_keys")" -eq 0 ]
}

@test "transform: the fifteen metrics of every issue match their definitions" {
	etl-transform <"$M" >/dev/null
	db_metrics >"$BATS_TEST_TMPDIR/got"
	want_metrics "$BIG" >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# ALPHA-10, checked by hand: created 2024-01-14T08:16:02.771 in Backlog;
	#   t1 01-15 12:57:02 Backlog->In Progress  committed, start 1
	#   t2 01-16 00:14:02 In Progress->Backlog   work 11h17m = 40620 s, return 1
	#   t3 01-16 05:05:02 Backlog->In Progress  start 2
	#   t4 01-16 17:32:02 In Progress->In Review work 12h27m = 44820 s
	#   t5 01-17 22:57:02 In Review->Done        review 29h25m = 105900 s, completion 1
	#   t6 01-18 23:25:02 Done->Reopened         Reopened (new, "open") is backlog: return 2
	#   t7 01-20 04:49:02 Reopened->In Progress  start 3
	#   t8 01-20 16:00:02 In Progress->In Review work 11h11m = 40260 s
	#   t9 01-21 08:44:02 In Review->Done        review 16h44m = 60240 s, completion 2
	# work 125700 s, review 166140 s, cycle = lead = t9 - t1 = 5d 19h47m = 503220 s,
	# complexity 9 transitions + 2 returns + 2 restarts = 13.
	run -0 q "SELECT concat_ws(' ', work_first_committed_at, work_first_started_at,
		work_last_started_at, work_first_completed_at, work_last_completed_at, total_work_starts,
		total_completions, total_backlog_returns, total_work_time_seconds,
		total_review_time_seconds, total_cycle_time_seconds, total_lead_time_seconds,
		workflow_complexity_score, rework_indicator, direct_completion)
		FROM work_items WHERE key = 'ALPHA-10'"
	assert_output "2024-01-15 12:57:02.771+00 2024-01-15 12:57:02.771+00 2024-01-20 04:49:02.771+00 2024-01-17 22:57:02.771+00 2024-01-21 08:44:02.771+00 3 2 2 125700 166140 503220 503220 13 t f"
	# A Won't Do straight from the backlog is a direct completion without a cycle time.
	[ "$(q "SELECT count(*) FROM work_items WHERE direct_completion AND total_cycle_time_seconds IS NULL AND status_name = 'Won''t Do'")" -gt 0 ]
}

@test "transform: mapped custom fields fill their columns, the others go to the overflow JSON" {
	etl-transform <"$M" >/dev/null   # discovers the custom fields
	etl-job fields map --integration "$INTEG" --slot story_points --field customfield_10016 >/dev/null
	run -0 etl-job fields map --integration "$INTEG" --slot team --field customfield_10001
	assert_output "team = customfield_10001 (Team)"
	etl-job fields map --integration "$INTEG" --slot code_changed --field customfield_10070 >/dev/null
	etl-job fields map --integration "$INTEG" --slot 1 --field customfield_10012 >/dev/null
	etl-job fields map --integration "$INTEG" --slot 02 --field customfield_10003 >/dev/null
	etl-job fields map --integration "$INTEG" --slot custom_field_03 --field customfield_10060 >/dev/null
	etl-transform <"$M" >/dev/null
	cat "$BIG"/issues/*.json | jq -r '.fields as $f | [.key, ($f.customfield_10016 // "" | tostring),
		($f.customfield_10001.name // ""),
		(if $f.customfield_10070 == null then "" elif ($f.customfield_10070 | map(.value) | index("Yes")) then "t" else "f" end),
		($f.customfield_10012.value // ""),
		(if $f.customfield_10003 then ($f.customfield_10003 | map(.displayName) | join(", ")) else "" end)] | @tsv' |
		sort >"$BATS_TEST_TMPDIR/want"
	q "SELECT concat_ws(E'\t', key, coalesce(story_points::text, ''), coalesce(team, ''),
		coalesce(code_changed::text, ''), coalesce(custom_field_01, ''), coalesce(custom_field_02, ''))
		FROM work_items" | sed 's/\ttrue\t/\tt\t/; s/\tfalse\t/\tf\t/' | sort >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ "$(q "SELECT count(*) FROM work_items WHERE team = 'Platform Team 🚀'")" -gt 0 ]
	# The unknown custom type (risk matrix, an object) lands as its JSON.
	cat "$BIG"/issues/*.json | jq -c 'select(.fields.customfield_10060) | [.key, .fields.customfield_10060]' |
		jq -c '.[1] |= (. | tojson | fromjson)' | sort >"$BATS_TEST_TMPDIR/want"
	q "SELECT json_build_array(key, custom_field_03::json) FROM work_items WHERE custom_field_03 IS NOT NULL" |
		jq -c . | sort >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# Overflow: every other custom field that is not null, as received.
	cat "$BIG"/issues/*.json | jq -cS '[.key, (.fields | with_entries(select((.key | startswith("customfield_"))
		and .value != null and (.key | IN("customfield_10016", "customfield_10001", "customfield_10070",
		"customfield_10012", "customfield_10003", "customfield_10060") | not))))]' | sort >"$BATS_TEST_TMPDIR/want"
	q "SELECT json_build_array(key, custom_fields_overflow) FROM work_items" | jq -cS . | sort >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# Unmapped, a field goes back to the overflow on the next transform (a replay).
	run -0 etl-job fields unmap --integration "$INTEG" --slot story_points
	assert_output "story_points = -"
	etl-transform <"$M" >/dev/null
	[ "$(q "SELECT count(*) FROM work_items WHERE story_points IS NOT NULL")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM work_items WHERE custom_fields_overflow ? 'customfield_10016'")" -eq \
		"$(cat "$BIG"/issues/*.json | jq -s 'map(select(.fields.customfield_10016 != null)) | length')" ]
	[ "$(q "SELECT (custom_fields_overflow->'customfield_10016')::text FROM work_items WHERE key = 'ALPHA-10'")" = \
		"$(jq -c .fields.customfield_10016 "$BIG/issues/ALPHA-10.json")" ]
}

@test "transform: a second identical run changes no row; a replay reproduces the tables" {
	etl-transform <"$M" >"$BATS_TEST_TMPDIR/emb1"
	before=$(stored)
	content >"$BATS_TEST_TMPDIR/c1"
	etl-transform <"$M" >"$BATS_TEST_TMPDIR/emb2"
	[ "$(stored)" = "$before" ] || fail "a second identical run rewrote rows"
	cmp "$BATS_TEST_TMPDIR/emb1" "$BATS_TEST_TMPDIR/emb2"
	# The same raw rows replayed into an empty set of final tables: the same content.
	q "DELETE FROM work_items; DELETE FROM projects; DELETE FROM wits; DELETE FROM statuses;
	   DELETE FROM custom_fields; DELETE FROM projects_custom_fields"
	[ "$(q "SELECT count(*) FROM changelogs") $(q "SELECT count(*) FROM projects_wits")" = "0 0" ]
	etl-transform <"$M" >/dev/null
	content >"$BATS_TEST_TMPDIR/c2"
	diff "$BATS_TEST_TMPDIR/c1" "$BATS_TEST_TMPDIR/c2"
}

@test "transform: status-map set changes the metrics on the next transform" {
	etl-transform <"$M" >/dev/null
	run -0 etl-job status-map list --integration "$INTEG" --json
	assert_line --partial '"id" : "10102", "name" : "In Review", "category" : "indeterminate", "step" : "review", "default" : true'
	assert_line --partial '"id" : "4", "name" : "Reopened", "category" : "new", "step" : "backlog", "default" : true'
	before=$(q "SELECT sum(total_review_time_seconds) FROM work_items")
	[ "$before" -gt 0 ]
	run -0 etl-job status-map set --integration "$INTEG" --status "in review" --step in_progress
	assert_output "In Review (10102) = in_progress"
	run -0 etl-job status-map list --integration "$INTEG" --json
	assert_line --partial '"id" : "10102", "name" : "In Review", "category" : "indeterminate", "step" : "in_progress", "default" : false'
	# Nothing changes until the data is transformed again.
	[ "$(q "SELECT sum(total_review_time_seconds) FROM work_items")" -eq "$before" ]
	etl-transform <"$M" >/dev/null
	[ "$(q "SELECT sum(total_review_time_seconds) FROM work_items")" -eq 0 ]
	db_metrics >"$BATS_TEST_TMPDIR/got"
	want_metrics "$BIG" --map 10102=in_progress >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# Back to the default.
	run -0 etl-job status-map set --integration "$INTEG" --status 10102 --step default
	etl-transform <"$M" >/dev/null
	[ "$(q "SELECT sum(total_review_time_seconds) FROM work_items")" -eq "$before" ]
}

@test "transform: order tolerant, and older data never overwrites newer" {
	# Issues and dev status first, the catalog steps after.
	jq -c 'select(.type == "jira_issues_with_changelogs" or .type == "jira_dev_status")' "$M" >"$BATS_TEST_TMPDIR/late"
	jq -c 'select(.type == "jira_projects_and_issue_types" or .type == "jira_statuses_and_relationships")' "$M" >>"$BATS_TEST_TMPDIR/late"
	run -0 --separate-stderr etl-transform <"$BATS_TEST_TMPDIR/late"
	# Loaded, foreign keys set from placeholders, completed by the catalog.
	[ "$(q "SELECT count(*) FROM work_items WHERE project_id IS NULL OR wit_id IS NULL OR status_id IS NULL")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM work_items")" -eq 300 ]
	[ "$(q "SELECT count(*) FROM projects WHERE synced_at IS NULL OR lead_account_id IS NULL")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM statuses WHERE synced_at IS NULL OR category = 'undefined'")" -eq 0 ]
	# Metrics used what was known then; a replay of the step brings them in line.
	jq -c 'select(.type == "jira_issues_with_changelogs")' "$M" | etl-transform >/dev/null
	content >"$BATS_TEST_TMPDIR/late.c"
	use_db "t${BATS_TEST_NUMBER}b" etl_t_big
	etl-transform <"$M" >/dev/null
	content >"$BATS_TEST_TMPDIR/inorder.c"
	diff "$BATS_TEST_TMPDIR/inorder.c" "$BATS_TEST_TMPDIR/late.c"

	# Pages out of order: the last page of issues first, then all of them, reversed.
	jq -c 'select(.raw_kind == "search_jql")' "$M" | tac >"$BATS_TEST_TMPDIR/rev"
	use_db "t${BATS_TEST_NUMBER}c" etl_t_big
	etl-transform <"$BATS_TEST_TMPDIR/rev" >/dev/null
	# An older version of ALPHA-10 (a day earlier, another summary) arrives after the newer.
	new_id=$(q "SELECT max(id) + 1 FROM raw_extraction_data")
	q "INSERT INTO raw_extraction_data (id, tenant_id, integration_id, token, type, provider, request_params, raw_data)
	   SELECT $new_id, tenant_id, integration_id, token, type, provider, request_params,
	   convert_to(jsonb_build_object('issues', jsonb_build_array(
		jsonb_set(jsonb_set(i, '{fields,summary}', '\"stale summary\"'),
		'{fields,updated}', to_jsonb('2024-01-01T00:00:00.000+0000'::text))))::text, 'UTF8')
	   FROM raw_extraction_data r, jsonb_array_elements(replace(convert_from(r.raw_data, 'UTF8'),
		'\u0000', '')::jsonb->'issues') i
	   WHERE r.request_params->>'kind' = 'search_jql' AND i->>'key' = 'ALPHA-10'"
	want=$(q "SELECT summary || '|' || updated || '|' || changelog_count FROM work_items WHERE key = 'ALPHA-10'")
	printf '{"tenant_id":%s,"job_id":null,"token":"%s","type":"jira_issues_with_changelogs","provider":"jira","first_item":true,"last_item":true,"last_job_item":false,"integration_id":%s,"raw_data_id":%s,"raw_kind":"search_jql"}\n' \
		"$TENANT" "$TOKEN" "$INTEG" "$new_id" | etl-transform >/dev/null
	[ "$(q "SELECT summary || '|' || updated || '|' || changelog_count FROM work_items WHERE key = 'ALPHA-10'")" = "$want" ]
	[ "$(q "SELECT count(*) FROM changelogs c JOIN work_items w ON w.id = c.work_item_id WHERE w.key = 'ALPHA-10'")" -eq \
		"$(jq '[.changelog.histories[].items[]] | length' "$BIG/issues/ALPHA-10.json")" ]
	# The issues step in any page order gives the same work items as in order.
	q "SELECT md5(string_agg((to_jsonb(w) - '{id,created_at,last_updated_at,project_id,wit_id,status_id}'::text[])::text, '' ORDER BY key)) FROM work_items w" >"$BATS_TEST_TMPDIR/rev.c"
	use_db "t${BATS_TEST_NUMBER}d" etl_t_big
	jq -c 'select(.raw_kind == "search_jql")' "$M" | etl-transform >/dev/null
	q "SELECT md5(string_agg((to_jsonb(w) - '{id,created_at,last_updated_at,project_id,wit_id,status_id}'::text[])::text, '' ORDER BY key)) FROM work_items w" >"$BATS_TEST_TMPDIR/fwd.c"
	cmp "$BATS_TEST_TMPDIR/rev.c" "$BATS_TEST_TMPDIR/fwd.c"
}

@test "transform: hostile data is loaded or reported, never lost; exit 65, the run goes on" {
	"$ETL_PYTHON" "$FX/hostile.py" --sql "$BATS_TEST_TMPDIR/h.sql" --messages "$BATS_TEST_TMPDIR/h.ndjson" \
		--tenant "$TENANT" --integration "$INTEG"
	sql "$BATS_TEST_TMPDIR/h.sql"
	run --separate-stderr etl-transform <"$BATS_TEST_TMPDIR/h.ndjson"
	[ "$status" -eq 65 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/emb"
	# Each bad response named with its line and why; the rest loaded.
	[[ "$stderr" == *"line 2: search page is not JSON"*"<!DOCTYPE html>"* ]]
	[[ "$stderr" == *"line 3: search page is not JSON (unterminated string"* ]]
	[[ "$stderr" == *"line 4: changelog page 1 of raw row: not JSON"* ]]
	[[ "$stderr" == *"line 5: search page has no 'issues' array: The value 'X' does not exist"* ]]
	[[ "$stderr" == *"an issue without an id is skipped"* ]]
	[[ "$stderr" == *"issue HOST-3: unreadable due date"* ]]
	run -0 q "SELECT id - 5000, status, error_message IS NOT NULL FROM raw_extraction_data WHERE id >= 5000 ORDER BY id"
	assert_output "$(printf '0|processed|f\n1|failed|t\n2|failed|t\n3|failed|t\n4|failed|t\n5|failed|t\n6|processed|f')"
	# The last_item still closed the step: one embedding message per loaded issue.
	run -0 jq -rc '[.external_id, .first_item, .last_item] | @tsv' "$BATS_TEST_TMPDIR/emb"
	assert_output "$(printf '30002\ttrue\tfalse\nHOST-1\tfalse\tfalse\nHOST-3\tfalse\tfalse\nHOST-4\tfalse\tfalse\nHOST-5\tfalse\ttrue')"
	# Missing and null fields: loaded with what there is.
	run -0 q "SELECT external_id, key, coalesce(summary, '-'), created IS NULL, labels, custom_fields_overflow FROM work_items
		WHERE external_id IN ('30001', '30002') ORDER BY external_id"
	assert_output "$(printf '30001|HOST-1|-|t|{}|{}\n30002|30002|-|t|{}|{}')"
	# U+0000 stripped from text and JSON, 4-byte UTF-8 kept, lone surrogates replaced.
	run -0 q "SELECT summary, description_text, custom_fields_overflow->>'customfield_99999',
		custom_fields_overflow->'customfield_77777'->'deep'->1->>'y', labels FROM work_items WHERE key = 'HOST-3'"
	assert_output "$(printf 'NULhere and 𝄞 clef 🚀|zerobyte, emoji 🎉, clef 𝄞\ninside unknown node|lone \xef\xbf\xbd surrogate|nul|{ok,7,nullabel}')"
	[ "$(q "SELECT due_date IS NULL AND updated IS NULL FROM work_items WHERE key = 'HOST-3'")" = t ]
	[ "$(q "SELECT custom_fields_overflow->'customfield_88888' FROM work_items WHERE key = 'HOST-3'")" = '[null, true, {"value": "opt"}, [1, 2]]' ]
	# Changelog entries without an id or a readable date are skipped; items without a field kept.
	run -0 q "SELECT c.external_id || ':' || c.item_index || ':' || c.field FROM changelogs c
		JOIN work_items w ON w.id = c.work_item_id WHERE w.key = 'HOST-3' ORDER BY 1"
	assert_output "$(printf '900001:0:status\n900003:0:labels\n900003:1:unknown')"
	# The 5 MB description, whole.
	[ "$(q "SELECT length(description_text), pg_column_size(description) > 0 FROM work_items WHERE key = 'HOST-4'")" = "5242880|t" ]
	[ "$(q "SELECT summary FROM work_items WHERE key = 'HOST-5'")" = fine ]
	# Lines that are not messages: named, the run goes on.
	printf '%s\n' 'not json' '{"tenant_id":1}' >"$BATS_TEST_TMPDIR/bad"
	run --separate-stderr etl-transform <"$BATS_TEST_TMPDIR/bad"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"line 1:"*"line 2:"* ]]
	run --separate-stderr etl-transform <<<'{"tenant_id":1,"job_id":null,"token":"'"$TOKEN"'","type":"jira_dev_status","provider":"jira","first_item":true,"last_item":false,"last_job_item":false,"integration_id":1,"raw_data_id":999999}'
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"line 1: raw row 999999 of tenant 1 not found"* ]]
}

@test "transform: --dry-run needs no database and prints the rows" {
	"$ETL_PYTHON" "$FX/jira_raw.py" "$SMALL" --inline --messages "$BATS_TEST_TMPDIR/in" --integration 1
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		etl-transform --dry-run <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/rows"
	# Rows only (no embedding message), one per row the transform would write.
	run -0 jq -sc 'map(.table) | group_by(.) | map({(.[0]): length}) | add' "$BATS_TEST_TMPDIR/rows"
	assert_output '{"changelogs":247,"custom_fields":12,"projects":6,"projects_custom_fields":14,"projects_statuses":19,"projects_wits":14,"statuses":19,"wits":10,"work_items":30,"work_items_prs_links":17}'
	run -0 jq -c 'select(.table == "work_items" and .key == "10007") | .row |
		[.key, .status_name, .total_work_starts, .total_backlog_returns, .changelog_count, .labels]' "$BATS_TEST_TMPDIR/rows"
	assert_output '["ALPHA-3","Done",3,2,12,["performance","security","ux"]]'
	run -0 jq -c 'select(.table == "projects" and .row.placeholder == false) | [.key, .row.key]' "$BATS_TEST_TMPDIR/rows"
	assert_output "$(printf '["10000","ALPHA"]\n["10001","BETA"]\n["10002","GAMMA"]')"
	# The metrics are the definitions', status steps from the categories seen.
	jq -c 'select(.table == "work_items") | .row | {key, work_first_committed_at, work_first_started_at,
		work_last_started_at, work_first_completed_at, work_last_completed_at, total_work_starts,
		total_completions, total_backlog_returns, total_work_time_seconds, total_review_time_seconds,
		total_cycle_time_seconds, total_lead_time_seconds, workflow_complexity_score, rework_indicator,
		direct_completion, changelog_count}' "$BATS_TEST_TMPDIR/rows" | sort >"$BATS_TEST_TMPDIR/got"
	want_metrics "$SMALL" | sort >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# A message naming a raw row cannot be done without a database.
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		etl-transform --dry-run < <(head -1 "$M")
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"needs a database"* ]]
	# With a database, a dry run reads (the mapping, the raw rows) and writes nothing.
	jq -c 'select(.type == "jira_projects_and_issue_types")' "$M" | etl-transform >/dev/null
	etl-job fields map --integration "$INTEG" --slot story_points --field customfield_10016 >/dev/null
	run -0 --separate-stderr etl-transform --dry-run <"$M"
	[ "$(q "SELECT count(*) FROM work_items") $(q "SELECT count(*) FROM raw_extraction_data
		WHERE status <> 'pending' AND type <> 'jira_projects_and_issue_types'")" = "0 0" ]
	run -0 jq -r 'select(.table == "work_items" and .row.key == "ALPHA-10") | .row.story_points' <<<"$output"
	assert_output "$(jq -r .fields.customfield_10016 "$BIG/issues/ALPHA-10.json")"
}

@test "transform: a complete reconcile pass soft-deletes what it did not list, an incomplete one nothing" {
	etl-transform <"$M" >/dev/null
	raw "$BIG" "$BATS_TEST_TMPDIR/rec" --steps 3 --reconcile --reconcile-page 70 --drop ALPHA-5,BETA-7 \
		--first-id 100000 --token "$(uuid)"
	# Only the reconcile pages, one page missing: nothing happens.
	jq -c 'select(.raw_kind != "search_jql")' "$BATS_TEST_TMPDIR/rec.ndjson" >"$BATS_TEST_TMPDIR/all"
	sed 2d "$BATS_TEST_TMPDIR/all" >"$BATS_TEST_TMPDIR/holed"
	sql "$BATS_TEST_TMPDIR/rec.sql"
	etl-transform <"$BATS_TEST_TMPDIR/holed" >/dev/null
	[ "$(q "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL")" -eq 0 ]
	# The whole pass (another run): the two dropped issues are marked, nothing else.
	tok=$(uuid)
	jq -c --arg t "$tok" '.token = $t' "$BATS_TEST_TMPDIR/all" | etl-transform >/dev/null
	run -0 q "SELECT key FROM work_items WHERE deleted_at IS NOT NULL ORDER BY key"
	assert_output "$(printf 'ALPHA-5\nBETA-7')"
	[ "$(q "SELECT count(*) FROM etl_transform_keys")" -eq 0 ]
	# A replay of older pages does not bring them back; a pass listing them again does.
	etl-transform <"$M" >/dev/null
	[ "$(q "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL")" -eq 2 ]
	raw "$BIG" "$BATS_TEST_TMPDIR/rec2" --steps 3 --reconcile --first-id 200000 --token "$(uuid)"
	sql "$BATS_TEST_TMPDIR/rec2.sql"
	jq -c 'select(.raw_kind != "search_jql")' "$BATS_TEST_TMPDIR/rec2.ndjson" | etl-transform >/dev/null
	[ "$(q "SELECT count(*) FROM work_items WHERE deleted_at IS NOT NULL")" -eq 0 ]
}

@test "transform: job status running on first_item, finished on last_item; last_job_item forwarded" {
	tok=$(uuid)
	job=$(q "INSERT INTO etl_jobs (tenant_id, integration_id, name, status) VALUES ($TENANT, $INTEG, 'j',
		jsonb_build_object('overall', 'RUNNING', 'token', '$tok', 'steps', '{}'::jsonb,
		'reset_deadline', null, 'reset_attempt', 0)) RETURNING id")
	jq -c --arg t "$tok" --argjson j "$job" '.token = $t | .job_id = $j' "$M" >"$BATS_TEST_TMPDIR/in"
	# The first message of the issues step alone: running.
	grep -m1 '"jira_issues_with_changelogs","provider":"jira","first_item":true' "$BATS_TEST_TMPDIR/in" |
		etl-transform >/dev/null
	[ "$(q "SELECT status->'steps'->'jira_issues_with_changelogs'->>'transform' FROM etl_jobs WHERE id = $job")" = running ]
	run -0 etl-transform <"$BATS_TEST_TMPDIR/in"
	run -0 q "SELECT string_agg(s.key || '=' || (s.value->>'transform'), ' ' ORDER BY s.key)
		FROM etl_jobs, jsonb_each(status->'steps') s WHERE id = $job"
	assert_output "jira_dev_status=finished jira_issues_with_changelogs=finished jira_projects_and_issue_types=finished jira_statuses_and_relationships=finished"
	# Another run's messages leave this run's status alone.
	jq -c '.token = "0badda7a-0000-4000-8000-000000000009"' "$BATS_TEST_TMPDIR/in" | head -1 | etl-transform >/dev/null
	[ "$(q "SELECT status->'steps'->'jira_projects_and_issue_types'->>'transform' FROM etl_jobs WHERE id = $job")" = finished ]
}

@test "etl-job fields and status-map: listing and errors" {
	etl-transform <"$M" >/dev/null
	run -0 etl-job fields list --integration "$INTEG"
	[ "${#lines[@]}" -eq 12 ]
	assert_line '{"field" : "customfield_10001", "name" : "Team", "type" : "team", "slot" : null, "projects" : ["ALPHA","BETA","GAMMA"], "active" : true}'
	etl-job fields map --integration "$INTEG" --slot 20 --field customfield_10050 >/dev/null
	etl-job fields map --integration "$INTEG" --slot team --field customfield_10050 >/dev/null
	run -0 jq -r 'select(.field == "customfield_10050") | .slot' < <(etl-job fields list --integration "$INTEG")
	assert_output "20,team"
	run -66 --separate-stderr etl-job fields map --integration "$INTEG" --slot 3 --field customfield_404
	[[ "$stderr" == *"unknown custom field 'customfield_404'"* ]]
	run -64 --separate-stderr etl-job fields map --integration "$INTEG" --slot 21 --field customfield_10050
	[[ "$stderr" == *"invalid slot '21'"* ]]
	run -64 --separate-stderr etl-job fields map --integration "$INTEG" --slot 3
	[[ "$stderr" == *"missing --field"* ]]
	run -66 --separate-stderr etl-job fields list --integration 999
	[[ "$stderr" == *"unknown integration 999"* ]]
	run -0 --separate-stderr etl-job fields map --integration "$INTEG" --slot story_points --field customfield_10050
	[[ "$stderr" == *"story_points keeps numbers only"* ]]
	run -64 --separate-stderr etl-job status-map set --integration "$INTEG" --status Done --step finished
	[[ "$stderr" == *"invalid step 'finished'"* ]]
	run -66 --separate-stderr etl-job status-map set --integration "$INTEG" --status Nope --step done
	[[ "$stderr" == *"unknown status 'Nope'"* ]]
	q "INSERT INTO statuses (tenant_id, integration_id, external_id, name, category) VALUES ($TENANT, $INTEG, '777', 'Done', 'done')"
	run -64 --separate-stderr etl-job status-map set --integration "$INTEG" --status done --step done
	[[ "$stderr" == *"status name 'done' is ambiguous: give one of the ids 10001, 777"* ]]
	run -0 etl-job status-map list --integration "$INTEG"
	[ "${#lines[@]}" -eq 8 ]
	run -0 etl-job status-map --help
	assert_output --partial "usage: etl-job status-map (list | set)"
	run -0 etl-job --help
	assert_output --partial "fields map --integration <id> --slot <slot> --field <customfield_N>"
}

@test "transform: etl-extract | etl-transform loads the same rows as the stored responses" {
	use_db "t$BATS_TEST_NUMBER" etl_t_tmpl   # no stored rows yet
	start_fake_jira "$BIG"
	q "UPDATE integrations SET base_url = '$FAKE_JIRA_URL'"
	run --separate-stderr bash -c 'etl-extract jira --integration "$1" --full | etl-transform' _ "$INTEG"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "${#lines[@]}" -eq 316 ]
	[ "$(q "SELECT count(*) FROM work_items") $(q "SELECT string_agg(DISTINCT status, ',') FROM raw_extraction_data")" = "300 processed" ]
	content >"$BATS_TEST_TMPDIR/e2e"
	db_metrics >"$BATS_TEST_TMPDIR/got"
	want_metrics "$BIG" >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# The fixture's rows give the same final tables.
	use_db "t${BATS_TEST_NUMBER}b" etl_t_big
	etl-transform <"$M" >/dev/null
	content >"$BATS_TEST_TMPDIR/fixture"
	diff "$BATS_TEST_TMPDIR/fixture" "$BATS_TEST_TMPDIR/e2e"
	# --replay of the stored range reproduces the tables.
	export PGDATABASE="t$BATS_TEST_NUMBER"
	export ETL_DATABASE_URL="postgresql://postgres@127.0.0.1:$ETL_PG_PORT/$PGDATABASE"
	range=$(q "SELECT min(id) || '-' || max(id) FROM raw_extraction_data")
	q "DELETE FROM work_items; DELETE FROM projects; DELETE FROM wits; DELETE FROM statuses;
	   DELETE FROM custom_fields; DELETE FROM projects_custom_fields"
	etl-extract --replay "$range" | etl-transform >/dev/null
	content >"$BATS_TEST_TMPDIR/replay"
	diff "$BATS_TEST_TMPDIR/e2e" "$BATS_TEST_TMPDIR/replay"
	# And with no database at all: --no-store into --dry-run.
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		JIRA_BASE_URL="$FAKE_JIRA_URL" JIRA_EMAIL=etl@example.com JIRA_API_TOKEN=x \
		bash -c 'etl-extract --no-store jira --integration 1 --full | etl-transform --dry-run'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -sc 'map(select(.table == "work_items")) | length' <<<"$output"
	assert_output 300
}

@test "transform helpers: JSON fit for jsonb, times and dates (unit)" {
	run -0 "$ETL_UNIT_DIR/test_transform"
	refute_output --partial "not ok"
	assert_output --regexp "1\.\.[0-9]+"
}
