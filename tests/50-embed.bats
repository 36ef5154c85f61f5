#!/usr/bin/env bats
# etl-embed: vectors and bridge rows for every entity, unchanged text not re-embedded, search,
# tenant isolation in both stores, the OpenAI-compatible provider and Qdrant against fakes,
# failures retried then reported or dead-lettered, job completion exactly once, reindex resume.

TOKEN=6f0fa209-3c3e-4e21-9bbe-ecff52563b61

setup_file() {
	load test_helper
	start_pg
	etl-job migrate >/dev/null
	_write_seed_script
	seed_tenant 1 ""
	seed_tenant 2 Z
	seed_github 1
	msgs 1 >"$BATS_FILE_TMPDIR/m1"
	msgs 2 >"$BATS_FILE_TMPDIR/m2"
	msgs 1 7 true >"$BATS_FILE_TMPDIR/m7"
	start_fake_embed
	start_fake_qdrant
}

teardown_file() {
	stop_fake_embed || true
	stop_fake_qdrant || true
}

setup() {
	load test_helper
	# A fast, deterministic client for the fakes; the key is a secret that must never show.
	export ETL_EMBED_URL=$FAKE_EMBED_URL ETL_EMBED_MODEL=text-embedding-3-small
	export ETL_EMBED_API_KEY=sk-test-d0n0tl0g-4242 ETL_EMBED_BACKOFF_MS=20 ETL_EMBED_RETRIES=2
	export ETL_QDRANT_URL=$FAKE_QDRANT_URL ETL_QDRANT_BACKOFF_MS=20
}

# q SQL: tests/test_helper.bash.

# The dataset: tests/fixtures/jira-small (projects, issue types, statuses, 30 issues with their
# plain-text descriptions) plus five issues with distinctive descriptions; tenant 2 gets the same
# with keys prefixed Z (ZALPHA-11 has the same description as ALPHA-11).
_write_seed_script() {
	cat >"$BATS_FILE_TMPDIR/seed.py" <<'PY'
import glob, json, os, sys
src, tenant, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def adf_text(n):
    if isinstance(n, list):
        return "".join(adf_text(x) for x in n)
    if not isinstance(n, dict):
        return ""
    if n.get("type") == "text":
        return n.get("text", "")
    inner = adf_text(n.get("content") or [])
    return inner + ("\n" if n.get("type") in ("paragraph", "heading", "listItem") else "")
projects = json.load(open(os.path.join(src, "projects.json")))
wits, statuses, items = {}, {}, []
for p in projects:
    for it in p.get("issueTypes", []):
        wits[it["id"]] = {"external_id": it["id"], "name": it["name"],
                          "description": it.get("description")}
for f in sorted(glob.glob(os.path.join(src, "statuses", "*.json"))):
    for it in json.load(open(f)):
        for s in it["statuses"]:
            statuses[s["id"]] = {"external_id": s["id"], "name": s["name"],
                                 "category": s["statusCategory"]["key"],
                                 "description": s.get("description")}
for f in sorted(glob.glob(os.path.join(src, "issues", "*.json"))):
    d = json.load(open(f))
    fl = d["fields"]
    items.append({"external_id": d["id"], "key": prefix + d["key"], "summary": fl.get("summary"),
                  "description_text": adf_text(fl.get("description")).replace("\u0000", "").strip() or None,
                  "project": prefix + fl["project"]["key"], "wit": fl["issuetype"]["id"],
                  "status": fl["status"]["id"], "type_name": fl["issuetype"]["name"],
                  "status_name": fl["status"]["name"],
                  "priority": (fl.get("priority") or {}).get("name"), "labels": fl.get("labels") or []})
extra = [
    ("Invoice reconciliation double-counts refunds",
     "The nightly invoice reconciliation job double-counts refunds when the payment gateway retries a webhook within the same second. Finance noticed the totals drift by a few cents every morning."),
    ("Avatar upload fails on Safari",
     "Users on Safari 17 cannot upload avatars larger than 2 MB because the multipart boundary is truncated by the proxy. Chrome and Firefox are fine."),
    ("Search indexer restarts during cold start",
     "The Kubernetes liveness probe kills the search indexer during cold start, before it has loaded its shards; raise initialDelaySeconds to ninety seconds."),
    ("CSV export breaks German spreadsheets",
     "Exported CSV files use semicolons as separators in the German locale, which breaks the finance team's spreadsheet macros."),
    ("Mobile app logs users out",
     "After the OAuth token refresh, the mobile app keeps a stale session cookie and logs the user out every fifteen minutes."),
]
for i, (summary, desc) in enumerate(extra, start=11):
    items.append({"external_id": str(20000 + i), "key": prefix + "ALPHA-%d" % i, "summary": summary,
                  "description_text": desc, "project": prefix + "ALPHA", "wit": "10001",
                  "status": "3", "type_name": "Story", "status_name": "In Progress",
                  "priority": "High", "labels": ["customer"]})
print(json.dumps({"tenant": tenant,
                  "projects": [{"external_id": p["id"], "key": prefix + p["key"], "name": p["name"],
                                "project_type": p.get("projectTypeKey")} for p in projects],
                  "wits": list(wits.values()), "statuses": list(statuses.values()), "items": items},
                 ensure_ascii=False))
PY
}

seed_tenant() { # TENANT PREFIX: tenant, its Jira integration (same id) and its catalog and issues
	local data
	data=$(python3 "$BATS_FILE_TMPDIR/seed.py" "$ETL_FIXTURES_DIR/jira-small" "$1" "$2")
	psql -qAt -v ON_ERROR_STOP=1 -v data="$data" <<'SQL'
BEGIN;
SELECT (:'data'::jsonb->>'tenant')::bigint AS t \gset
INSERT INTO tenants (id, name) VALUES (:t, 'tenant ' || :t);
INSERT INTO integrations (id, tenant_id, provider, base_url)
	VALUES (:t, :t, 'jira', 'https://etlkit-test.atlassian.net');
INSERT INTO projects (tenant_id, integration_id, external_id, key, name, project_type)
	SELECT :t, :t, x.external_id, x.key, x.name, x.project_type
	FROM jsonb_to_recordset(:'data'::jsonb->'projects')
		AS x(external_id text, key text, name text, project_type text);
INSERT INTO wits (tenant_id, integration_id, external_id, name, description)
	SELECT :t, :t, x.external_id, x.name, x.description
	FROM jsonb_to_recordset(:'data'::jsonb->'wits') AS x(external_id text, name text, description text);
INSERT INTO statuses (tenant_id, integration_id, external_id, name, category, description)
	SELECT :t, :t, x.external_id, x.name, x.category, x.description
	FROM jsonb_to_recordset(:'data'::jsonb->'statuses')
		AS x(external_id text, name text, category text, description text);
INSERT INTO work_items (tenant_id, integration_id, external_id, key, project_id, wit_id, status_id,
		summary, description_text, type_name, status_name, priority, labels)
	SELECT :t, :t, x.external_id, x.key, p.id, w.id, s.id, x.summary, x.description_text,
		x.type_name, x.status_name, x.priority, ARRAY(SELECT jsonb_array_elements_text(x.labels))
	FROM jsonb_to_recordset(:'data'::jsonb->'items') AS x(external_id text, key text,
		summary text, description_text text, project text, wit text, status text,
		type_name text, status_name text, priority text, labels jsonb)
	LEFT JOIN projects p ON p.tenant_id = :t AND p.key = x.project
	LEFT JOIN wits w ON w.tenant_id = :t AND w.external_id = x.wit
	LEFT JOIN statuses s ON s.tenant_id = :t AND s.external_id = x.status;
COMMIT;
SQL
}

seed_github() { # TENANT: a GitHub integration (id 100 + TENANT), a repository and two pull requests
	psql -qAt -v ON_ERROR_STOP=1 -v t="$1" <<'SQL'
INSERT INTO integrations (id, tenant_id, provider, base_url) VALUES (100 + :t, :t, 'github', 'https://api.github.com');
INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, full_name, description, primary_language)
	VALUES (:t, 100 + :t, 'R_kgDOAlpha', 'etlkit-test', 'alpha-service', 'etlkit-test/alpha-service',
		'Billing and invoicing service', 'Go');
INSERT INTO prs (tenant_id, integration_id, repository_id, external_id, number, title, body, state, author, base_ref, head_ref)
	SELECT :t, 100 + :t, r.id, v.ext, v.num, v.title, v.body, v.state, 'octocat', 'main', v.head
	FROM repositories r, (VALUES
		('PR_kwDOA1', 12, 'Deduplicate gateway webhooks by delivery id',
		 'Stores the delivery id of every webhook and ignores replays, so a retried delivery is applied once.', 'MERGED', 'fix/webhook-dedup'),
		('PR_kwDOA2', 13, 'Bump the Helm chart readiness timeout',
		 'The chart now waits for the indexer to report ready before routing traffic to it.', 'OPEN', 'chore/helm-ready')
	) AS v(ext, num, title, body, state, head)
	WHERE r.tenant_id = :t AND r.external_id = 'R_kgDOAlpha';
SQL
}

# msgs TENANT [JOB] [LAST_JOB]: one embedding message per entity of TENANT, per step with
# first_item / last_item, as etl-transform emits them.
msgs() {
	psql -qAt -v ON_ERROR_STOP=1 -v t="$1" -v job="${2:-null}" -v ljob="${3:-false}" -v tok="$TOKEN" <<'SQL'
WITH e AS (
	SELECT 1 AS o, 'jira_projects_and_issue_types' AS type, 'jira' AS prov, 'projects' AS tab,
		key AS ext, id, integration_id AS i FROM projects WHERE tenant_id = :t
	UNION ALL SELECT 2, 'jira_projects_and_issue_types', 'jira', 'wits', external_id, id, integration_id
		FROM wits WHERE tenant_id = :t
	UNION ALL SELECT 3, 'jira_statuses_and_relationships', 'jira', 'statuses', external_id, id,
		integration_id FROM statuses WHERE tenant_id = :t
	UNION ALL SELECT 4, 'jira_issues_with_changelogs', 'jira', 'work_items', key, id, integration_id
		FROM work_items WHERE tenant_id = :t
	UNION ALL SELECT 5, 'github_repositories', 'github', 'repositories', external_id, id,
		integration_id FROM repositories WHERE tenant_id = :t
	UNION ALL SELECT 6, 'github_prs_commits_reviews_comments', 'github', 'prs', external_id, id,
		integration_id FROM prs WHERE tenant_id = :t),
n AS (SELECT e.*, row_number() OVER (PARTITION BY type ORDER BY o, id) AS f,
	row_number() OVER (PARTITION BY type ORDER BY o DESC, id DESC) AS l,
	row_number() OVER (ORDER BY o DESC, id DESC) AS g FROM e)
SELECT json_build_object('tenant_id', :t, 'integration_id', i, 'job_id', :job, 'token', :'tok',
	'type', type, 'provider', prov, 'first_item', f = 1, 'last_item', l = 1,
	'last_job_item', :ljob AND g = 1, 'table_name', tab, 'external_id', ext)
FROM n ORDER BY o, id;
SQL
}

entities() { # TENANT: how many entities it has
	q "SELECT (SELECT count(*) FROM projects WHERE tenant_id = $1) + (SELECT count(*) FROM wits WHERE tenant_id = $1)
		+ (SELECT count(*) FROM statuses WHERE tenant_id = $1) + (SELECT count(*) FROM work_items WHERE tenant_id = $1)
		+ (SELECT count(*) FROM repositories WHERE tenant_id = $1) + (SELECT count(*) FROM prs WHERE tenant_id = $1)"
}

statuses_of() { jq -r .status "$1" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'; }

PHRASES=(
	"ALPHA-11|payment gateway retries a webhook"
	"ALPHA-12|multipart boundary is truncated by the proxy"
	"ALPHA-13|liveness probe kills the search indexer"
	"ALPHA-14|semicolons as separators in the German locale"
	"ALPHA-15|stale session cookie"
)

@test "hash/pg: every work item and mapping row gets exactly one vector and one bridge row" {
	run --separate-stderr etl-embed <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	n=$(entities 1)
	[ "$n" -eq 53 ]
	[ "$(wc -l <<<"$output")" -eq "$n" ]
	[ "$(jq -r .status <<<"$output" | sort -u)" = embedded ]
	run -0 q "SELECT count(*), count(DISTINCT (table_name, record_id)), count(DISTINCT point_id) FROM qdrant_vectors WHERE tenant_id = 1"
	assert_output "$n|$n|$n"
	run -0 q "SELECT count(*), count(DISTINCT (table_name, record_id)) FROM vectors WHERE tenant_id = 1"
	assert_output "$n|$n"
	# With the raw float32 copy that search reads.
	run -0 q "SELECT count(*) FROM vectors WHERE tenant_id = 1 AND octet_length(embedding_f32) = 4 * dim"
	assert_output "$n"
	# Each table's rows all have theirs, with the right source, dimension and provider.
	run -0 q "SELECT string_agg(table_name || ':' || source_type || ':' || c, ' ' ORDER BY table_name) FROM (
		SELECT table_name, source_type, count(*) c FROM qdrant_vectors WHERE tenant_id = 1
		AND vector_dim = 384 AND embedding_provider = 'hash' AND embedding_model = 'hash-v1'
		AND collection_name = 'vectors' GROUP BY 1, 2) x"
	assert_output "projects:JIRA:3 prs:GITHUB:2 repositories:GITHUB:1 statuses:JIRA:7 wits:JIRA:5 work_items:JIRA:35"
	run -0 q "SELECT count(*) FROM work_items w WHERE tenant_id = 1 AND NOT EXISTS (SELECT 1 FROM qdrant_vectors b
		WHERE b.tenant_id = 1 AND b.table_name = 'work_items' AND b.record_id = w.id AND b.external_id = w.key)"
	assert_output 0
	# The vectors are unit length and the bridge's hash is the vector row's.
	run -0 q "SELECT count(*) FROM vectors v JOIN qdrant_vectors b USING (tenant_id, table_name, record_id)
		WHERE v.tenant_id = 1 AND (abs((SELECT sum(x * x) FROM unnest(v.embedding) x) - 1) > 1e-4
		OR v.content_hash <> b.content_hash)"
	assert_output 0
	# Point ids are UUID v5, stable per tenant, table and record.
	run -0 q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1 AND substr(point_id::text, 15, 1) <> '5'"
	assert_output 0
}

@test "hash/pg: re-running changes nothing, and changing one summary re-embeds only that item" {
	before=$(q "SELECT md5(string_agg(table_name || record_id || content_hash || last_updated_at, ',' ORDER BY table_name, record_id)) FROM qdrant_vectors WHERE tenant_id = 1")
	run --separate-stderr etl-embed -v <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(jq -r .status <<<"$output" | sort -u)" = unchanged ]
	[[ $stderr == *"0 embedded, 53 unchanged, 0 missing; 0 provider calls, 0 store requests"* ]] || fail "$stderr"
	after=$(q "SELECT md5(string_agg(table_name || record_id || content_hash || last_updated_at, ',' ORDER BY table_name, record_id)) FROM qdrant_vectors WHERE tenant_id = 1")
	[ "$before" = "$after" ]

	old=$(q "SELECT content_hash FROM qdrant_vectors b JOIN work_items w ON w.tenant_id = b.tenant_id AND w.id = b.record_id WHERE b.table_name = 'work_items' AND w.key = 'BETA-3'")
	q "UPDATE work_items SET summary = 'Invoice PDF takes forty seconds to render' WHERE tenant_id = 1 AND key = 'BETA-3'"
	run --separate-stderr etl-embed -v <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -r 'select(.status == "embedded") | .external_id' <<<"$output"
	assert_output BETA-3
	[[ $stderr == *"1 embedded, 52 unchanged"* ]]
	new=$(q "SELECT content_hash FROM qdrant_vectors b JOIN work_items w ON w.tenant_id = b.tenant_id AND w.id = b.record_id WHERE b.table_name = 'work_items' AND w.key = 'BETA-3'")
	[ "$old" != "$new" ]
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1")" -eq 53 ]
	run -0 etl-embed search "invoice PDF forty seconds render" --tenant 1 --limit 1
	[ "$(jq -r .external_id <<<"$output")" = BETA-3 ]
}

@test "hash/pg: a phrase from an issue's description finds that issue first, for several issues" {
	for p in "${PHRASES[@]}"; do
		want=${p%%|*} text=${p#*|}
		run --separate-stderr etl-embed search "$text" --tenant 1 --limit 5
		[ "$status" -eq 0 ] || fail "search '$text': exit $status: $stderr"
		got=$(head -n1 <<<"$output" | jq -r .external_id)
		[ "$got" = "$want" ] || fail "search '$text': first hit $got, wanted $want: $output"
		[ "$(wc -l <<<"$output")" -eq 5 ]
	done
	# --source: only that source's entities.
	run -0 etl-embed search "retried webhook delivery applied once" --tenant 1 --source github --limit 10
	[ "$(jq -r .table <<<"$output" | sort -u | tr '\n' ' ')" = "prs repositories " ]
	[ "$(head -n1 <<<"$output" | jq -r .external_id)" = PR_kwDOA1 ]
	run -0 etl-embed search "payment gateway retries a webhook" --tenant 1 --source JIRA --limit 50
	[ "$(jq -r .table <<<"$output" | grep -c -E '^(prs|repositories)$')" -eq 0 ]
	# Rows written before 0010 have no float32 copy and are read from the real[]: the same
	# vectors, the same scores.
	run -0 etl-embed search "liveness probe kills the search indexer" --tenant 1 --limit 20
	from_f32=$output
	q "CREATE TABLE f32_saved AS SELECT id, embedding_f32 FROM vectors WHERE tenant_id = 1;
		UPDATE vectors SET embedding_f32 = NULL WHERE tenant_id = 1"
	run -0 etl-embed search "liveness probe kills the search indexer" --tenant 1 --limit 20
	q "UPDATE vectors v SET embedding_f32 = s.embedding_f32 FROM f32_saved s WHERE v.id = s.id; DROP TABLE f32_saved"
	[ "$output" = "$from_f32" ] || fail "real[] and float32 differ: $output // $from_f32"
	[ "$(head -n1 <<<"$output" | jq -r .external_id)" = ALPHA-13 ]
}

@test "search: NDJSON hits with score, table, external id and title; a table on request" {
	run -0 etl-embed search "stale session cookie" --tenant 1 --limit 2
	first=$(head -n1 <<<"$output")
	run -0 jq -c 'keys' <<<"$first"
	assert_output '["external_id","score","table","title"]'
	run -0 jq -r 'select(.score <= 1 and .score > 0) | .title' <<<"$first"
	assert_output "Mobile app logs users out"
	run -0 etl-embed search "stale session cookie" --tenant 1 --limit 2 --table
	assert_line --index 0 --regexp '^SCORE +TABLE +EXTERNAL_ID +TITLE$'
	assert_line --index 1 --regexp '^0\.[0-9]{4} +work_items +ALPHA-15 +Mobile app logs users out$'
	# No vectors (another tenant, another model): no hits, still success.
	run -0 etl-embed search "stale session cookie" --tenant 3
	assert_output ""
	run -64 etl-embed search --tenant 1
	run -64 etl-embed search "x"
	run -64 etl-embed search "x" --tenant 1 --source jira2
}

@test "tenant isolation (pg): a search for tenant A never returns tenant B's vectors" {
	run -0 etl-embed <"$BATS_FILE_TMPDIR/m2"
	[ "$(q "SELECT count(*) FROM vectors WHERE tenant_id = 2")" -eq 50 ]
	for p in "${PHRASES[@]}"; do
		text=${p#*|}
		run -0 etl-embed search "$text" --tenant 1 --limit 100
		[ "$(wc -l <<<"$output")" -eq 53 ]
		! grep -q '"external_id":"Z' <<<"$output" || fail "tenant 2 row in tenant 1's hits: $output"
		run -0 etl-embed search "$text" --tenant 2 --limit 100
		[ "$(head -n1 <<<"$output" | jq -r .external_id)" = "Z${p%%|*}" ]
		[ "$(jq -r .external_id <<<"$output" | grep -c '^Z')" -eq "$(jq -r 'select(.table == "work_items" or .table == "projects") | .external_id' <<<"$output" | wc -l)" ]
	done
}

@test "missing, unsupported and invalid messages: reported, the valid lines still processed" {
	m='{"tenant_id":1,"job_id":null,"token":"'$TOKEN'","type":"jira_issues_with_changelogs","provider":"jira","first_item":false,"last_item":false,"last_job_item":false,"integration_id":1,"table_name":"work_items","external_id":"ALPHA-999"}'
	run --separate-stderr etl-embed <<EOF
$m
${m/work_items/changelogs}
{"tenant_id":1,"token":"$TOKEN"}
not json
${m/ALPHA-999/20011}
EOF
	[ "$status" -eq 65 ] || fail "exit $status: $stderr"
	run -0 jq -r '[.table, .external_id, .status] | @tsv' <<<"$output"
	assert_line --index 0 "$(printf 'work_items\tALPHA-999\tmissing')"
	assert_line --index 1 "$(printf 'changelogs\tALPHA-999\tunsupported')"
	# The Jira issue id works too, and the result names the key.
	assert_line --index 2 "$(printf 'work_items\tALPHA-11\tunchanged')"
	[[ $stderr == *"line 3: invalid embedding message: missing field 'job_id'"* ]] || fail "$stderr"
	[[ $stderr == *"line 4: invalid embedding message"* ]]
}

@test "a work item gone from its table loses its vector and bridge row" {
	q "UPDATE work_items SET deleted_at = now() WHERE tenant_id = 1 AND key = 'ALPHA-15'"
	run -0 etl-embed <<<"$(grep '"ALPHA-15"' "$BATS_FILE_TMPDIR/m1")"
	[ "$(jq -r .status <<<"$output")" = deleted ]
	run -0 q "SELECT (SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1 AND external_id = 'ALPHA-15')
		+ (SELECT count(*) FROM vectors WHERE tenant_id = 1 AND external_id = 'ALPHA-15')"
	assert_output 0
	run -0 etl-embed search "stale session cookie" --tenant 1 --limit 100
	! grep -q '"ALPHA-15"' <<<"$output"
	# Again: nothing left to remove.
	run -0 etl-embed <<<"$(grep '"ALPHA-15"' "$BATS_FILE_TMPDIR/m1")"
	[ "$(jq -r .status <<<"$output")" = missing ]
	# Back in Jira: embedded again.
	q "UPDATE work_items SET deleted_at = NULL WHERE tenant_id = 1 AND key = 'ALPHA-15'"
	run -0 etl-embed <<<"$(grep '"ALPHA-15"' "$BATS_FILE_TMPDIR/m1")"
	[ "$(jq -r .status <<<"$output")" = embedded ]
	[ "$(q "SELECT count(*) FROM vectors WHERE tenant_id = 1")" -eq 53 ]
}

@test "job status: running on first_item, finished on last_item, the job completed exactly once" {
	q "INSERT INTO etl_jobs (id, tenant_id, integration_id, name, status) VALUES (7, 1, 1, 'jira sync',
		'{\"overall\": \"RUNNING\", \"token\": \"$TOKEN\", \"steps\": {}}')"
	# The first message of the issues step alone: running.
	grep '"jira_issues_with_changelogs"' "$BATS_FILE_TMPDIR/m7" | head -n1 | etl-embed >/dev/null
	run -0 q "SELECT status->'steps'->'jira_issues_with_changelogs'->>'embedding' FROM etl_jobs WHERE id = 7"
	assert_output running
	# Everything but the very last message: every step finished, the job still running.
	head -n -1 "$BATS_FILE_TMPDIR/m7" | etl-embed >/dev/null
	run -0 q "SELECT string_agg(k || '=' || (v->>'embedding'), ' ' ORDER BY k), status->>'overall' FROM etl_jobs, jsonb_each(status->'steps') AS s(k, v) WHERE id = 7 GROUP BY status"
	assert_output "github_prs_commits_reviews_comments=running github_repositories=finished jira_issues_with_changelogs=finished jira_projects_and_issue_types=finished jira_statuses_and_relationships=finished|RUNNING"
	# A first message handled after its step's last (another worker was faster): still finished.
	grep '"jira_issues_with_changelogs"' "$BATS_FILE_TMPDIR/m7" | head -n1 | etl-embed >/dev/null
	run -0 q "SELECT status->'steps'->'jira_issues_with_changelogs'->>'embedding' FROM etl_jobs WHERE id = 7"
	assert_output finished
	# The last message (last_job_item) given to eight processes at once: one completes the job.
	tail -n1 "$BATS_FILE_TMPDIR/m7" >"$BATS_FILE_TMPDIR/last"
	pids=()
	for i in 1 2 3 4 5 6 7 8; do
		etl-embed <"$BATS_FILE_TMPDIR/last" >"$BATS_FILE_TMPDIR/out.$i" 2>"$BATS_FILE_TMPDIR/err.$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a worker exited $?: $(cat "$BATS_FILE_TMPDIR"/err.*)"
	done
	run -0 bash -c "cat $BATS_FILE_TMPDIR/out.* | jq -r .job_completed | sort | uniq -c | awk '{print \$2 \"=\" \$1}' | tr '\n' ' '"
	assert_output "false=7 true=1 "
	run -0 q "SELECT status->>'overall', status->>'reset_attempt', status->'reset_deadline' IS NOT NULL,
		last_run_finished_at IS NOT NULL, last_sync_date = last_run_started_at OR last_run_started_at IS NULL,
		status->'steps'->'github_prs_commits_reviews_comments'->>'embedding' FROM etl_jobs WHERE id = 7"
	assert_output "FINISHED|0|t|t|t|finished"
	# A completion message of another run changes nothing.
	sed "s/$TOKEN/11111111-2222-4333-8444-555555555555/" "$BATS_FILE_TMPDIR/last" | etl-embed | grep -q '"job_completed":false'
}

@test "openai provider: many texts per request in reindex, unchanged texts never sent again" {
	fake_reset "$FAKE_EMBED_URL"
	run --separate-stderr etl-embed reindex --tenant 1 --provider openai --dim 256 --batch 16
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -r '[.embedded, .resumed, .provider, .model, .dim, .store] | @tsv' <<<"$output"
	assert_output "$(printf '53\tfalse\topenai\ttext-embedding-3-small\t256\tpg')"
	# Per table in pages of 16: projects 3, wits 5, statuses 7, work items 16+16+3, repo 1, PRs 2.
	run -0 jq -c '[.inputs, ([.requests[] | .inputs] | sort)]' <<<"$(fake_stats "$FAKE_EMBED_URL")"
	assert_output '[53,[1,2,3,3,5,7,16,16]]'
	[ "$(fake_stats "$FAKE_EMBED_URL" | jq '[.requests[] | select(.auth)] | length')" -eq 8 ]
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1 AND embedding_provider = 'openai' AND vector_dim = 256")" -eq 53 ]
	# The stage with the same provider: nothing to embed, no request at all.
	fake_reset "$FAKE_EMBED_URL"
	run -0 etl-embed --provider openai --dim 256 <"$BATS_FILE_TMPDIR/m1"
	[ "$(jq -r .status <<<"$output" | sort -u)" = unchanged ]
	[ "$(fake_count "$FAKE_EMBED_URL" "POST /v1/embeddings")" -eq 0 ]
	q "UPDATE work_items SET description_text = description_text || ' Reopened twice.' WHERE tenant_id = 1 AND key = 'GAMMA-2'"
	run -0 etl-embed --provider openai --dim 256 <"$BATS_FILE_TMPDIR/m1"
	[ "$(jq -r 'select(.status == "embedded") | .external_id' <<<"$output")" = GAMMA-2 ]
	[ "$(fake_stats "$FAKE_EMBED_URL" | jq .inputs)" -eq 1 ]
	run -0 etl-embed search "payment gateway retries a webhook" --tenant 1 --provider openai --dim 256 --limit 1
	[ "$(jq -r .external_id <<<"$output")" = ALPHA-11 ]
}

@test "openai provider: 5xx bursts and short rate limits are retried; the key is never logged" {
	fake_reset "$FAKE_EMBED_URL"
	fake_ctl "$FAKE_EMBED_URL" '{"errors_5xx": {"count": 2, "status": 503}}' >/dev/null
	head -n3 "$BATS_FILE_TMPDIR/m1" >"$BATS_FILE_TMPDIR/m3"
	run --separate-stderr etl-embed -vv --provider openai --dim 48 <"$BATS_FILE_TMPDIR/m3"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(jq -r .status <<<"$output" | sort -u)" = embedded ]
	run -0 jq -c .by_status <<<"$(fake_stats "$FAKE_EMBED_URL")"
	assert_output '{"503":2,"200":3}'
	fake_reset "$FAKE_EMBED_URL"
	fake_ctl "$FAKE_EMBED_URL" '{"rate_limit": {"count": 1, "retry_after": 1}}' >/dev/null
	t0=$SECONDS
	run --separate-stderr etl-embed -vv --provider openai --dim 40 <"$BATS_FILE_TMPDIR/m3"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	((SECONDS - t0 >= 1))
	[[ $stderr != *"$ETL_EMBED_API_KEY"* ]] || fail "the API key was logged"
	# A wrong key is a configuration error: stop at once (78), the key masked in the reason.
	fake_ctl "$FAKE_EMBED_URL" '{"api_key": "sk-the-right-one"}' >/dev/null
	run --separate-stderr etl-embed -vv --provider openai --dim 32 <"$BATS_FILE_TMPDIR/m3"
	[ "$status" -eq 78 ] || fail "exit $status: $stderr"
	[[ $stderr == *"HTTP 401"* && $stderr != *"$ETL_EMBED_API_KEY"* ]] || fail "$stderr"
	[ -z "$output" ]
	fake_reset "$FAKE_EMBED_URL"
}

@test "openai provider down or rate limited too long: reported, exit 69 / 75, nothing marked embedded" {
	fake_reset "$FAKE_EMBED_URL"
	port=$(free_port)
	run --separate-stderr env ETL_EMBED_URL="http://127.0.0.1:$port" etl-embed --provider openai --dim 24 <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 69 ] || fail "exit $status: $stderr"
	[ -z "$output" ]
	[[ $stderr == *"line 1: projects ALPHA: embeddings request failed"*"Couldn't connect"* ]] || fail "$stderr"
	[ "$(grep -c 'retrying in' <<<"$stderr")" -eq 2 ]
	fake_ctl "$FAKE_EMBED_URL" '{"rate_limit": {"after": 2, "count": null, "retry_after": 30}}' >/dev/null
	run --separate-stderr env ETL_EMBED_MAX_WAIT_MS=200 etl-embed --provider openai --dim 24 <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 75 ] || fail "exit $status: $stderr"
	[[ $stderr == *"line 3: projects GAMMA: embeddings request failed"*"rate limited (HTTP 429), server asks to wait 30 s"* ]] || fail "$stderr"
	# The two lines before were embedded and said so; nothing else claims a 24-dimension vector.
	[ "$(jq -r .status <<<"$output" | tr '\n' ' ')" = "embedded embedded " ]
	run -0 q "SELECT string_agg(external_id, ' ' ORDER BY record_id) FROM qdrant_vectors WHERE tenant_id = 1 AND vector_dim = 24"
	assert_output "ALPHA BETA"
	[ "$(q "SELECT count(*) FROM vectors WHERE tenant_id = 1 AND dim = 24")" -eq 2 ]
	fake_reset "$FAKE_EMBED_URL"
}

@test "reindex: stopped by a rate limit, the rerun continues where it was" {
	fake_reset "$FAKE_EMBED_URL"
	fake_ctl "$FAKE_EMBED_URL" '{"rate_limit": {"after": 4, "count": null, "retry_after": 30}}' >/dev/null
	run --separate-stderr env ETL_EMBED_MAX_WAIT_MS=200 etl-embed reindex --tenant 1 --source JIRA --provider openai --dim 64 --batch 5
	[ "$status" -eq 75 ] || fail "exit $status: $stderr"
	[[ $stderr == *"reindex stopped at"*"(rerun to continue)"* ]]
	first=$(fake_stats "$FAKE_EMBED_URL" | jq .inputs)
	[ "$first" -gt 0 ] && [ "$first" -lt 50 ]
	fake_reset "$FAKE_EMBED_URL"
	run --separate-stderr etl-embed reindex --tenant 1 --source JIRA --provider openai --dim 64 --batch 5
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -r '[.resumed, .embedded, .total, .source] | @tsv' <<<"$output"
	assert_output "$(printf 'true\t%d\t50\tJIRA' $((50 - first)))"
	[ "$(fake_stats "$FAKE_EMBED_URL" | jq .inputs)" -eq $((50 - first)) ]
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1 AND source_type = 'JIRA' AND vector_dim = 64")" -eq 50 ]
	# Finished: the next run starts over; --restart too.
	run -0 etl-embed reindex --tenant 1 --source JIRA --restart
	[ "$(jq -r '[.resumed, .embedded, .provider] | @tsv' <<<"$output")" = "$(printf 'false\t50\thash')" ]
}

@test "qdrant: collection created once, points upserted in batches, search and tenant filter" {
	fake_reset "$FAKE_QDRANT_URL"
	run --separate-stderr etl-embed reindex --tenant 1 --store qdrant --batch 16
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run --separate-stderr etl-embed reindex --tenant 2 --store qdrant --batch 16
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -c .by_endpoint <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '{"GET /collections/etl_t1_d384":1,"PUT /collections/etl_t1_d384":1,"PUT /collections/etl_t1_d384/index":2,"PUT /collections/etl_t1_d384/points":8,"GET /collections/etl_t2_d384":1,"PUT /collections/etl_t2_d384":1,"PUT /collections/etl_t2_d384/index":2,"PUT /collections/etl_t2_d384/points":6}'
	run -0 jq -c '[.requests[] | select(.points) | .points] | sort' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '[1,2,3,3,3,3,5,5,7,7,16,16,16,16]'
	# Payload indexes on the fields the searches filter on (tested further below).
	for c in etl_t1_d384 etl_t2_d384; do
		run -0 jq -c '.result.payload_schema | with_entries(.value |= .data_type)' <<<"$(curl -fsS "$FAKE_QDRANT_URL/collections/$c")"
		assert_output '{"source_type":"keyword","tenant_id":"integer"}'
	done
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 1 AND collection_name = 'etl_t1_d384'")" -eq 53 ]
	run -0 q "SELECT count(*) FROM qdrant_vectors WHERE collection_name = 'etl_t2_d384' AND tenant_id = 2"
	assert_output 50
	# Every point is where the bridge says, with the payload the search needs.
	scroll=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{"limit": 100, "with_payload": true}' \
		"$FAKE_QDRANT_URL/collections/etl_t1_d384/points/scroll" |
		jq -r '.result.points[] | [.id, .payload.tenant_id, .payload.source_type, .payload.table_name, .payload.external_id] | @tsv' | sort)
	[ "$(wc -l <<<"$scroll")" -eq 53 ]
	bridge=$(q "SELECT point_id || chr(9) || tenant_id || chr(9) || source_type || chr(9) || table_name || chr(9) || external_id FROM qdrant_vectors WHERE tenant_id = 1" | sort)
	[ "$scroll" = "$bridge" ]
	# Messages for already embedded entities: no upsert, and the collection is not created again.
	fake_reset "$FAKE_QDRANT_URL"
	run -0 etl-embed --store qdrant <"$BATS_FILE_TMPDIR/m1"
	[ "$(jq -r .status <<<"$output" | sort -u)" = unchanged ]
	[ "$(fake_stats "$FAKE_QDRANT_URL" | jq .total)" -eq 0 ]
	# Search, filtered on the tenant (and source), finds each phrase's issue first.
	for p in "${PHRASES[@]}"; do
		run -0 etl-embed search "${p#*|}" --tenant 1 --store qdrant --limit 100
		[ "$(head -n1 <<<"$output" | jq -r .external_id)" = "${p%%|*}" ] || fail "${p#*|}: $(head -n3 <<<"$output")"
		! grep -q '"external_id":"Z' <<<"$output"
		run -0 etl-embed search "${p#*|}" --tenant 2 --store qdrant --limit 3
		[ "$(head -n1 <<<"$output" | jq -r .external_id)" = "Z${p%%|*}" ]
	done
	run -0 etl-embed search "webhook" --tenant 1 --store qdrant --source GITHUB
	[ "$(jq -r .table <<<"$output" | sort -u | tr '\n' ' ')" = "prs repositories " ]
	run -0 jq -c '[.requests[] | select(.endpoint | endswith("/points/query")) | .filter.must[0]] | unique' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '[{"key":"tenant_id","match":{"value":1}},{"key":"tenant_id","match":{"value":2}}]'
	run -0 jq -c '[.requests[] | select(.endpoint | endswith("/points/query")) | .filter.must[1] // empty] | unique' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '[{"key":"source_type","match":{"value":"GITHUB"}}]'
	# Even a point of tenant 2 slipped into tenant 1's collection is never shown to tenant 1.
	curl -fsS -X PUT -H 'Content-Type: application/json' "$FAKE_QDRANT_URL/collections/etl_t1_d384/points?wait=true" \
		-d "$(curl -fsS "$FAKE_QDRANT_URL/collections/etl_t2_d384/points/$(q "SELECT point_id FROM qdrant_vectors WHERE tenant_id = 2 AND external_id = 'ZALPHA-15'")" |
			jq -c '{points: [{id: "00000000-0000-4000-8000-000000000001", vector: .result.vector, payload: .result.payload}]}')" >/dev/null
	run -0 etl-embed search "stale session cookie" --tenant 1 --store qdrant --limit 100
	! grep -q ZALPHA <<<"$output"
	# An entity gone from its table: its point deleted (wait=true), then its bridge row.
	q "UPDATE work_items SET deleted_at = now() WHERE tenant_id = 2 AND key = 'ZALPHA-14'"
	fake_reset "$FAKE_QDRANT_URL"
	run -0 etl-embed --store qdrant <<<"$(grep '"ZALPHA-14"' "$BATS_FILE_TMPDIR/m2")"
	[ "$(jq -r .status <<<"$output")" = deleted ]
	[ "$(fake_count "$FAKE_QDRANT_URL" "POST /collections/etl_t2_d384/points/delete")" -eq 1 ]
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE tenant_id = 2 AND external_id = 'ZALPHA-14'")" -eq 0 ]
	run -0 etl-embed search "semicolons as separators in the German locale" --tenant 2 --store qdrant --limit 100
	! grep -q '"ZALPHA-14"' <<<"$output"
	q "UPDATE work_items SET deleted_at = NULL WHERE tenant_id = 2 AND key = 'ZALPHA-14'"
}

@test "qdrant: a collection of another dimension is a configuration error" {
	curl -fsS -X PUT -H 'Content-Type: application/json' -d '{"vectors": {"size": 8, "distance": "Cosine"}}' \
		"$FAKE_QDRANT_URL/collections/etl_t1_d16" >/dev/null
	run --separate-stderr etl-embed --store qdrant --dim 16 <"$BATS_FILE_TMPDIR/m1"
	[ "$status" -eq 78 ] || fail "exit $status: $stderr"
	[[ $stderr == *"qdrant collection etl_t1_d16 holds vectors of 8 dimensions, not 16"* ]] || fail "$stderr"
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE collection_name = 'etl_t1_d16'")" -eq 0 ]
	# The fake enforces what Qdrant does.
	run -0 curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
		-d '{"points": [{"id": "not-a-uuid", "vector": [1,0,0,0,0,0,0,0]}]}' "$FAKE_QDRANT_URL/collections/etl_t1_d16/points"
	assert_output 400
	run -0 curl -sS -X PUT -H 'Content-Type: application/json' \
		-d '{"points": [{"id": 7, "vector": [1,0,0]}]}' "$FAKE_QDRANT_URL/collections/etl_t1_d16/points"
	assert_output --partial 'Vector dimension error: expected dim: 8, got 3'
	run -0 curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d '{"query": [1,0,0,0,0,0,0,0]}' "$FAKE_QDRANT_URL/collections/nope/points/query"
	assert_output 404
}

@test "qdrant: payload indexes on the fields searches filter on, made once; a failure there is temporary" {
	# A new collection: created, then both indexes (wait=true), then the points.
	head -n2 "$BATS_FILE_TMPDIR/m1" >"$BATS_FILE_TMPDIR/mq1"
	sed -n 3p "$BATS_FILE_TMPDIR/m1" >"$BATS_FILE_TMPDIR/mq2"
	fake_reset "$FAKE_QDRANT_URL"
	run --separate-stderr etl-embed -v --store qdrant --dim 28 <"$BATS_FILE_TMPDIR/mq1"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[[ $stderr == *"created qdrant payload index tenant_id (integer) of etl_t1_d28"* ]] || fail "$stderr"
	[[ $stderr == *"created qdrant payload index source_type (keyword) of etl_t1_d28"* ]] || fail "$stderr"
	run -0 jq -c '[.requests[] | [.method, .endpoint, .query, .field_name, .field_schema, .status]]' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '[["GET","GET /collections/etl_t1_d28","",null,null,404],["PUT","PUT /collections/etl_t1_d28","",null,null,200],["PUT","PUT /collections/etl_t1_d28/index","wait=true","tenant_id","integer",200],["PUT","PUT /collections/etl_t1_d28/index","wait=true","source_type","keyword",200],["PUT","PUT /collections/etl_t1_d28/points","wait=true",null,null,200],["PUT","PUT /collections/etl_t1_d28/points","wait=true",null,null,200]]'
	run -0 jq -c '.result.payload_schema' <<<"$(curl -fsS "$FAKE_QDRANT_URL/collections/etl_t1_d28")"
	assert_output '{"source_type":{"data_type":"keyword","points":2},"tenant_id":{"data_type":"integer","points":2}}'
	# Indexed are exactly the fields the searches filter on.
	run -0 etl-embed search "projects" --tenant 1 --store qdrant --dim 28 --source JIRA
	run -0 jq -c '[.requests[] | select(.endpoint | endswith("/points/query")) | .filter.must[].key] | sort' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '["source_type","tenant_id"]'
	# The next run finds them in the collection info and makes none.
	fake_reset "$FAKE_QDRANT_URL"
	run --separate-stderr etl-embed --store qdrant --dim 28 <"$BATS_FILE_TMPDIR/mq2"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(jq -r .status <<<"$output")" = embedded ]
	run -0 jq -c .by_endpoint <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '{"GET /collections/etl_t1_d28":1,"PUT /collections/etl_t1_d28/points":1}'
	# Creating an index again is harmless in Qdrant (and the fake); one missing (a collection
	# of an older etlkit, an index dropped by hand) is made on first use.
	run -0 curl -fsS -X PUT -H 'Content-Type: application/json' -d '{"field_name": "tenant_id", "field_schema": "integer"}' \
		"$FAKE_QDRANT_URL/collections/etl_t1_d28/index?wait=true"
	[ "$(jq -c '[.status, .result.status]' <<<"$output")" = '["ok","completed"]' ]
	curl -fsS -X DELETE "$FAKE_QDRANT_URL/collections/etl_t1_d28/index/source_type?wait=true" >/dev/null
	fake_reset "$FAKE_QDRANT_URL"
	run --separate-stderr etl-embed reindex --tenant 1 --source GITHUB --store qdrant --dim 28
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	run -0 jq -c '[.requests[] | select(.field_name) | [.field_name, .field_schema]]' <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '[["source_type","keyword"]]'
	# Index creation failing: the message fails as temporary (75) like any Qdrant 5xx, with
	# the index named; no point is written and no bridge row claims one.
	fake_reset "$FAKE_QDRANT_URL"
	fake_ctl "$FAKE_QDRANT_URL" '{"errors_5xx": {"count": null, "status": 503, "endpoint": "/index"}}' >/dev/null
	run --separate-stderr env ETL_QDRANT_RETRIES=1 etl-embed --store qdrant --dim 36 <"$BATS_FILE_TMPDIR/mq1"
	[ "$status" -eq 75 ] || fail "exit $status: $stderr"
	[ -z "$output" ]
	[[ $stderr == *"line 1: projects ALPHA: cannot create qdrant payload index tenant_id of etl_t1_d36: PUT http://"*"/collections/etl_t1_d36/index?wait=true: HTTP 503 after 1 retries: Service Unavailable; stopping"* ]] || fail "$stderr"
	[ "$(fake_count "$FAKE_QDRANT_URL" "PUT /collections/etl_t1_d36/index")" -eq 2 ]
	[ "$(fake_count "$FAKE_QDRANT_URL" "PUT /collections/etl_t1_d36/points")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE collection_name = 'etl_t1_d36'")" -eq 0 ]
	# Qdrant back: the rerun finds the collection without indexes, makes them, embeds.
	fake_reset "$FAKE_QDRANT_URL"
	run --separate-stderr etl-embed --store qdrant --dim 36 <"$BATS_FILE_TMPDIR/mq1"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(jq -r .status <<<"$output" | sort -u)" = embedded ]
	run -0 jq -c .by_endpoint <<<"$(fake_stats "$FAKE_QDRANT_URL")"
	assert_output '{"GET /collections/etl_t1_d36":1,"PUT /collections/etl_t1_d36/index":2,"PUT /collections/etl_t1_d36/points":2}'
	run -0 jq -c '.result.payload_schema | keys' <<<"$(curl -fsS "$FAKE_QDRANT_URL/collections/etl_t1_d36")"
	assert_output '["source_type","tenant_id"]'
}

@test "queues: two workers on one queue complete the job once; failures dead-lettered with the reason" {
	start_rabbitmq
	etl-queue setup >/dev/null
	q "INSERT INTO etl_jobs (id, tenant_id, integration_id, name, status) VALUES (7, 1, 1, 'jira sync',
		jsonb_build_object('overall', 'RUNNING', 'token', '$TOKEN', 'steps', '{}'::jsonb))
		ON CONFLICT (tenant_id, id) DO UPDATE SET status = excluded.status, last_run_finished_at = NULL"
	# Both workers consume before anything is published, so both get messages.
	pids=()
	for w in 1 2; do
		etl-embed --from-queue embedding_queue_free --idle-exit 3 >"$BATS_FILE_TMPDIR/w$w" 2>"$BATS_FILE_TMPDIR/w$w.err" &
		pids+=($!)
	done
	for _ in $(seq 100); do
		[ "$(etl-queue stats | jq -r 'select(.queue == "embedding_queue_free") | .consumers')" = 2 ] && break
		sleep 0.1
	done
	etl-queue publish embedding_queue_free <"$BATS_FILE_TMPDIR/m7"
	for p in "${pids[@]}"; do
		wait "$p" || fail "worker $p exited $?: $(cat "$BATS_FILE_TMPDIR"/w*.err)"
	done
	[ -s "$BATS_FILE_TMPDIR/w1" ] && [ -s "$BATS_FILE_TMPDIR/w2" ]
	run -0 bash -c "cat $BATS_FILE_TMPDIR/w1 $BATS_FILE_TMPDIR/w2 | jq -r '[.table, .external_id] | @tsv' | sort | uniq -d"
	assert_output ""
	[ "$(cat "$BATS_FILE_TMPDIR/w1" "$BATS_FILE_TMPDIR/w2" | wc -l)" -eq 53 ]
	[ "$(cat "$BATS_FILE_TMPDIR/w1" "$BATS_FILE_TMPDIR/w2" | jq -r 'select(.status == "embedded") | .table' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" = "projects=3 prs=2 repositories=1 statuses=7 wits=5 work_items=35 " ]
	[ "$(cat "$BATS_FILE_TMPDIR/w1" "$BATS_FILE_TMPDIR/w2" | jq -c 'select(.job_completed != null) | .job_completed')" = true ]
	[ "$(q "SELECT status->>'overall' FROM etl_jobs WHERE id = 7")" = FINISHED ]
	# The embedding service down: tried --max-attempts times, then to etl.failed with the reason.
	port=$(free_port)
	grep '"ALPHA-12"' "$BATS_FILE_TMPDIR/m1" | etl-queue publish embedding_queue_free
	run --separate-stderr env ETL_EMBED_URL="http://127.0.0.1:$port" ETL_EMBED_RETRIES=0 \
		etl-embed --from-queue embedding_queue_free --provider openai --dim 20 --max-attempts 2 --idle-exit 1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -z "$output" ]
	[[ $stderr == *"attempt 1 of 2 failed"* && $stderr == *"dead-lettering"* ]] || fail "$stderr"
	run -0 etl-queue dlq list
	run -0 jq -r '[.message.external_id, .error] | @tsv' <<<"$output"
	assert_output --regexp "^ALPHA-12	work_items ALPHA-12: embeddings request failed: POST http://127.0.0.1:$port/v1/embeddings: .*Couldn't connect"
	[ "$(q "SELECT count(*) FROM qdrant_vectors WHERE vector_dim = 20")" -eq 0 ]
}

@test "end to end from a Jira sync: every work item and mapping row once; a second sync re-embeds nothing" {
	start_fake_jira
	use_db embed_e2e
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" JIRA_TOKEN=ATATT-e2e-token
	etl-job tenant add acme >/dev/null
	etl-job integration add --tenant acme --provider jira --base-url "$FAKE_JIRA_URL" \
		--email etl-test@example.com --token-env JIRA_TOKEN >/dev/null
	job=$(etl-job create --tenant acme --integration 1 --name "jira sync")
	etl-job start "$job" | etl-extract | etl-transform | etl-embed >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" ||
		fail "pipe failed: $(cat "$BATS_TEST_TMPDIR/err")"
	run -0 jq -r 'select(.table != null) | .table + ":" + .status' "$BATS_TEST_TMPDIR/out"
	[ "$(sort <<<"$output" | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" = "projects:embedded=3 statuses:embedded=7 wits:embedded=5 work_items:embedded=30 " ]
	[ "$(jq -r 'select(.last_job_item) | .job_completed' "$BATS_TEST_TMPDIR/out")" = true ]
	[ "$(q "SELECT status->>'overall' FROM etl_jobs WHERE id = $job")" = FINISHED ]
	for t in projects wits statuses work_items; do
		run -0 q "SELECT count(*), count(*) FILTER (WHERE
			(SELECT count(*) FROM qdrant_vectors b WHERE b.tenant_id = x.tenant_id AND b.table_name = '$t' AND b.record_id = x.id) = 1
			AND (SELECT count(*) FROM vectors v WHERE v.tenant_id = x.tenant_id AND v.table_name = '$t' AND v.record_id = x.id) = 1)
			FROM $t x"
		[ "${output%|*}" -gt 0 ] && [ "${output%|*}" = "${output#*|}" ] || fail "$t: $output"
	done
	run -0 etl-embed search "Filter ignores the watermark" --tenant 1 --limit 1
	[ "$(jq -r .external_id <<<"$output")" = ALPHA-8 ]
	before=$(q "SELECT md5(string_agg(content_hash || last_updated_at, ',' ORDER BY table_name, record_id)) FROM qdrant_vectors")
	etl-job start "$job" --force | etl-extract | etl-transform | etl-embed >"$BATS_TEST_TMPDIR/out2" 2>"$BATS_TEST_TMPDIR/err2" ||
		fail "second pipe failed: $(cat "$BATS_TEST_TMPDIR/err2")"
	! jq -r .status "$BATS_TEST_TMPDIR/out2" | grep -q embedded
	[ "$(q "SELECT md5(string_agg(content_hash || last_updated_at, ',' ORDER BY table_name, record_id)) FROM qdrant_vectors")" = "$before" ]
	[ "$(q "SELECT status->>'overall' FROM etl_jobs WHERE id = $job")" = FINISHED ]
}

@test "embed units: hash embedder, top-k kernel, binary array parameters" {
	run -0 "$ETL_UNIT_DIR/test_embed"
	refute_output --partial "not ok"
	assert_output --regexp "1\.\.[0-9]+"
}

@test "etl-embed: the man page is lint-clean and documents every option" {
	run -0 groff -man -ww -z "$ETL_TEST_ROOT/man/etl-embed.1"
	assert_output ""
	for o in $(etl-embed --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "${o//-/\\\\-}" "$ETL_TEST_ROOT/man/etl-embed.1" || fail "man page lacks $o"
	done
}
