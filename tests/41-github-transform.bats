#!/usr/bin/env bats
# etl-transform for GitHub against a real PostgreSQL.  The input is built by
# tests/fixtures/transform/github_raw.py, a TEST FIXTURE BUILDER that posts the documents of
# lib/github/queries.h to the fake GitHub and stores the responses as etl-extract will (switch
# to `etl-extract github` once it exists).  Expected values come from the dataset files
# (tests/fixtures/transform/github_expect.py, an independent implementation of the derived
# columns of man/etl-transform.1).

FX="$BATS_TEST_DIRNAME/fixtures/transform"
TOKEN=7e1f0c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b
PRSTEP=github_prs_commits_reviews_comments

sql() { psql -qAtX -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }
expect() { "$ETL_PYTHON" "$FX/github_expect.py" "$ETL_FIXTURES_DIR/github-small" "$@"; }
uuid() { cat /proc/sys/kernel/random/uuid; }

T="'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
utc() { echo "to_char($1 AT TIME ZONE 'UTC', $T)"; }

# Every PR as github_expect.py prints it.
db_prs() {
	q "SELECT json_build_object('repo', r.full_name, 'number', p.number, 'title', p.title,
	  'state', p.state, 'draft', p.is_draft, 'author', p.author, 'merged_by', p.merged_by,
	  'updated', $(utc p.updated), 'merged', $(utc p.merged), 'commits', p.commit_count,
	  'reviews', p.review_count, 'comments', p.comment_count,
	  'first_commit_at', $(utc p.first_commit_at), 'first_review_at', $(utc p.first_review_at),
	  'review_cycles', p.review_cycles) FROM prs p JOIN repositories r ON r.id = p.repository_id" |
		jq -cS . | sort
}

db_repos() {
	q "SELECT json_build_object('full_name', full_name, 'owner', owner, 'description', description,
	  'language', primary_language, 'private', is_private, 'archived', is_archived,
	  'last_pr_updated', $(utc last_pr_updated)) FROM repositories" | jq -cS . | sort
}

# Every row of the final tables as stored, with the transaction that last wrote it.
stored() {
	q "SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
	  SELECT xmin::text || (c.*)::text r FROM repositories c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM prs c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM prs_commits c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM prs_reviews c
	  UNION ALL SELECT xmin::text || (c.*)::text FROM prs_comments c) x"
}

# msg ID KIND [FLAGS-JSON]: a transform message of the PR step for raw row ID.
msg() {
	jq -nc --argjson t "$TENANT" --argjson i "$INTEG" --arg tok "$TOKEN" --argjson id "$1" \
		--arg k "$2" --argjson f "${3:-"{}"}" '{tenant_id: $t, job_id: null, token: $tok,
		type: "github_prs_commits_reviews_comments", provider: "github", first_item: false,
		last_item: false, last_job_item: false, integration_id: $i, last_sync_date: null,
		raw_data_id: $id, raw_kind: $k} + $f'
}

# raw_copy SRC-ID NEW-ID JQ-FILTER: a new raw row of the PR step, SRC's response through FILTER.
raw_copy() {
	local body
	body=$(q "SELECT convert_from(raw_data, 'UTF8') FROM raw_extraction_data WHERE id = $1" | jq -c "$3")
	q "INSERT INTO raw_extraction_data (id, tenant_id, integration_id, token, type, provider,
	   request_params, raw_data) SELECT $2, tenant_id, integration_id, token, type, provider,
	   request_params, convert_to(\$b\$$body\$b\$, 'UTF8') FROM raw_extraction_data WHERE id = $1"
}

setup_file() {
	load test_helper
	start_pg
	use_db etl_gh_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export GITHUB_TOKEN="ghp_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	start_fake_github
	TENANT=$(etl-job tenant add acme)
	INTEG=$(etl-job integration add --tenant acme --provider github --base-url "$FAKE_GITHUB_URL" \
		--orgs etlkit-test --token-env GITHUB_TOKEN)
	export TENANT INTEG
	"$ETL_PYTHON" "$FX/github_raw.py" --url "$FAKE_GITHUB_URL" --sql "$BATS_FILE_TMPDIR/gh.sql" \
		--messages "$BATS_FILE_TMPDIR/gh.ndjson" --tenant "$TENANT" --integration "$INTEG" \
		--token "$TOKEN"
	"$ETL_PYTHON" "$FX/github_raw.py" --url "$FAKE_GITHUB_URL" --inline \
		--messages "$BATS_FILE_TMPDIR/inline.ndjson" --integration 1
	use_db etl_gh_raw etl_gh_tmpl
	sql "$BATS_FILE_TMPDIR/gh.sql"
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	use_db "g$BATS_TEST_NUMBER" etl_gh_raw
	M="$BATS_FILE_TMPDIR/gh.ndjson"
}

@test "github transform: a full load gives exactly the dataset's rows, watermarks and embeddings" {
	run --separate-stderr etl-transform <"$M"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/emb"
	read -r repos prs commits reviews comments < <(expect counts)
	[ "$(q "SELECT count(*) FROM repositories")" -eq "$repos" ]
	[ "$(q "SELECT count(*) FROM prs")" -eq "$prs" ]
	[ "$(q "SELECT count(*) FROM prs_commits")" -eq "$commits" ]
	[ "$(q "SELECT count(*) FROM prs_reviews")" -eq "$reviews" ]
	[ "$(q "SELECT count(*) FROM prs_comments")" -eq "$comments" ]
	# Every PR has as many rows as GitHub counts; no placeholder is left; all raw rows processed.
	[ "$(q "SELECT count(*) FROM prs p WHERE commit_count <> (SELECT count(*) FROM prs_commits c WHERE c.pr_id = p.id)
		OR review_count <> (SELECT count(*) FROM prs_reviews c WHERE c.pr_id = p.id)
		OR comment_count <> (SELECT count(*) FROM prs_comments c WHERE c.pr_id = p.id)")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM repositories WHERE updated IS NULL OR url IS NULL")" -eq 0 ]
	[ "$(q "SELECT string_agg(DISTINCT status, ',') FROM raw_extraction_data")" = processed ]
	# Columns, derived columns and watermarks, against the dataset.
	diff <(expect prs | jq -cS . | sort) <(db_prs)
	diff <(expect repos | jq -cS . | sort) <(db_repos)
	# One embedding message per repository and PR, by node id, flags recomputed per step.
	run -0 jq -sc 'group_by(.type) | map({t: .[0].type, n: length,
		tables: (map(.table_name) | unique), f: [.[] | .first_item] | index(true),
		l: ([.[] | .last_item] | index(true)), lj: ([.[] | .last_job_item] | index(true))})' \
		"$BATS_TEST_TMPDIR/emb"
	assert_output "[{\"t\":\"$PRSTEP\",\"n\":$prs,\"tables\":[\"prs\"],\"f\":0,\"l\":$((prs - 1)),\"lj\":$((prs - 1))},{\"t\":\"github_repositories\",\"n\":$repos,\"tables\":[\"repositories\"],\"f\":0,\"l\":$((repos - 1)),\"lj\":null}]"
	diff <(jq -r 'select(.table_name == "prs") | .external_id' "$BATS_TEST_TMPDIR/emb" | sort) \
		<(q "SELECT external_id FROM prs" | sort)
	[ "$(q "SELECT count(*) FROM etl_transform_keys")" -eq 0 ]
}

@test "github transform: alpha-service #5 has all 250 commits, 130 reviews, 120 comments and its derived columns" {
	etl-transform <"$M" >/dev/null
	# Four responses are attached pages: commits 101-200 and 201-250, reviews and comments 101-.
	[ "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params ? 'for_raw_id'")" -eq 4 ]
	run -0 q "SELECT (SELECT count(*) FROM prs_commits c WHERE c.pr_id = p.id), (SELECT count(*) FROM prs_reviews c
		WHERE c.pr_id = p.id), (SELECT count(*) FROM prs_comments c WHERE c.pr_id = p.id)
		FROM prs p JOIN repositories r ON r.id = p.repository_id WHERE r.name = 'alpha-service' AND p.number = 5"
	assert_output "250|130|120"
	run -0 expect prs
	want=$(jq -c 'select(.repo == "etlkit-test/alpha-service" and .number == 5) |
		[.first_commit_at, .first_review_at, .review_cycles]' <<<"$output")
	# 30 CHANGES_REQUESTED by others; the author's own 3 do not count.
	[ "$(jq '.[2]' <<<"$want")" -eq 30 ]
	run -0 q "SELECT json_build_array($(utc first_commit_at), $(utc first_review_at), review_cycles)
		FROM prs WHERE number = 5 AND url LIKE '%/alpha-service/%'"
	[ "$(jq -c . <<<"$output")" = "$want" ]
	# Its commits from the attached pages carry their fields.
	[ "$(q "SELECT count(*) FROM prs_commits c JOIN prs p ON p.id = c.pr_id WHERE p.number = 5
		AND p.url LIKE '%/alpha-service/%' AND (c.message IS NULL OR c.authored_date IS NULL
		OR c.external_id IS NULL OR c.author_login IS NULL)")" -eq 0 ]
}

@test "github transform: text keeps emoji, accents and CRLF exactly" {
	etl-transform <"$M" >/dev/null
	q "SELECT json_object_agg(id, t) FROM (SELECT external_id id, description t FROM repositories
	   UNION ALL SELECT external_id, body FROM prs UNION ALL SELECT external_id, message FROM prs_commits
	   UNION ALL SELECT external_id, body FROM prs_reviews
	   UNION ALL SELECT external_id, body FROM prs_comments) x" | jq -cS . >"$BATS_TEST_TMPDIR/got"
	expect texts | jq -cS . >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	# The comparison is not vacuous: CRLF, 4-byte UTF-8 and accents are there.
	[ "$(q "SELECT count(*) FROM prs WHERE body LIKE E'%\r\n%'")" -gt 0 ]
	[ "$(q "SELECT count(*) FROM prs_comments WHERE body LIKE '%𝄞%'")" -gt 0 ]
	[ "$(q "SELECT description FROM repositories WHERE name = 'alpha-service'")" = "Service alpha-service — ünïcödé ✓" ]
}

@test "github transform: a second identical run changes no row" {
	etl-transform <"$M" >"$BATS_TEST_TMPDIR/emb1"
	before=$(stored)
	etl-transform <"$M" >"$BATS_TEST_TMPDIR/emb2"
	[ "$(stored)" = "$before" ] || fail "a second identical run rewrote rows"
	cmp "$BATS_TEST_TMPDIR/emb1" "$BATS_TEST_TMPDIR/emb2"
}

@test "github transform: PR pages before their repositories: placeholders, then filled" {
	jq -c "select(.type == \"$PRSTEP\")" "$M" >"$BATS_TEST_TMPDIR/late"
	jq -c 'select(.type == "github_repositories")' "$M" >"$BATS_TEST_TMPDIR/repos"
	run -0 --separate-stderr etl-transform <"$BATS_TEST_TMPDIR/late"
	read -r repos prs _ < <(expect counts)
	# Every PR loaded onto a placeholder (the page's id and name; no update time, no URL).
	[ "$(q "SELECT count(*) FROM prs")" -eq "$prs" ]
	[ "$(q "SELECT count(*) FROM repositories WHERE updated IS NULL AND url IS NULL AND full_name = owner || '/' || name")" -eq "$repos" ]
	q "SELECT id, external_id FROM repositories ORDER BY id" >"$BATS_TEST_TMPDIR/ids"
	etl-transform <"$BATS_TEST_TMPDIR/repos" >/dev/null
	# Filled in place: same rows, now complete; the same tables as in order.
	cmp "$BATS_TEST_TMPDIR/ids" <(q "SELECT id, external_id FROM repositories ORDER BY id")
	[ "$(q "SELECT count(*) FROM repositories WHERE updated IS NULL OR url IS NULL")" -eq 0 ]
	diff <(expect prs | jq -cS . | sort) <(db_prs)
	# The PR step was complete: the placeholders got their watermark, the real rows kept it.
	diff <(expect repos | jq -cS . | sort) <(db_repos)
}

@test "github transform: an older PR page never overwrites a newer one" {
	etl-transform <"$M" >/dev/null
	page=$(q "SELECT id FROM raw_extraction_data WHERE request_params->>'name' = 'alpha-service'")
	base=$(q "SELECT max(id) FROM raw_extraction_data")
	want=$(q "SELECT title || '|' || updated FROM prs WHERE number = 1 AND url LIKE '%/alpha-service/%'")
	nodes='.data.repository.pullRequests.nodes'
	# A day older, another title, review and comment text: nothing changes.
	raw_copy "$page" $((base + 1)) "$nodes |= map(select(.number == 1) | .updatedAt = \"2024-02-23T06:28:12Z\"
		| .title = \"stale\" | .reviews.nodes[0].body = \"stale\" | .comments.nodes[0].body = \"stale\")"
	msg $((base + 1)) pull_requests | etl-transform >/dev/null
	[ "$(q "SELECT title || '|' || updated FROM prs WHERE number = 1 AND url LIKE '%/alpha-service/%'")" = "$want" ]
	[ "$(q "SELECT count(*) FROM prs_reviews WHERE body = 'stale'") $(q "SELECT count(*) FROM prs_comments WHERE body = 'stale'")" = "0 0" ]
	# A newer version wins, nested rows with it; a pending review and the author's own do not
	# make a first review.
	raw_copy "$page" $((base + 2)) "$nodes |= map(select(.number == 1) | .updatedAt = \"2024-03-01T00:00:00Z\"
		| .title = \"fresh\" | .comments.nodes[0].body = \"fresh\"
		| .reviews.nodes |= map(.state = \"PENDING\") | .reviews.nodes[0].author.login = .author.login
		| .reviews.nodes[0].state = \"APPROVED\")"
	msg $((base + 2)) pull_requests | etl-transform >/dev/null
	[ "$(q "SELECT title || '|' || $(utc updated) || '|' || coalesce(first_review_at::text, '-') || '|' || review_cycles
		FROM prs WHERE number = 1 AND url LIKE '%/alpha-service/%'")" = "fresh|2024-03-01T00:00:00Z|-|0" ]
	[ "$(q "SELECT count(*) FROM prs_comments WHERE body = 'fresh'")" -eq 1 ]
	[ "$(q "SELECT count(*) FROM prs_reviews r JOIN prs p ON p.id = r.pr_id WHERE p.number = 1
		AND p.url LIKE '%/alpha-service/%' AND r.state = 'PENDING'")" -eq 2 ]
}

# The commits, reviews and comments stored for alpha-service #1: "commits reviews comments".
pr1_nested() {
	q "SELECT (SELECT count(*) FROM prs_commits c WHERE c.pr_id = p.id) || ' ' ||
	   (SELECT count(*) FROM prs_reviews c WHERE c.pr_id = p.id) || ' ' ||
	   (SELECT count(*) FROM prs_comments c WHERE c.pr_id = p.id)
	   FROM prs p WHERE p.number = 1 AND p.url LIKE '%/alpha-service/%'"
}

@test "github transform: a newer complete PR drops the commits, reviews and comments GitHub no longer has" {
	etl-transform <"$M" >/dev/null
	page=$(q "SELECT id FROM raw_extraction_data WHERE request_params->>'name' = 'alpha-service'")
	base=$(q "SELECT max(id) FROM raw_extraction_data")
	read -r sha review comment < <(q "SELECT convert_from(raw_data, 'UTF8') FROM raw_extraction_data
		WHERE id = $page" | jq -r '.data.repository.pullRequests.nodes[] | select(.number == 1) |
		"\(.commits.nodes[0].commit.oid) \(.reviews.nodes[0].id) \(.comments.nodes[0].id)"')
	read -r _ _ commits reviews comments < <(expect counts)
	[ "$(pr1_nested)" = "3 3 4" ]
	nodes='.data.repository.pullRequests.nodes'
	drop='.commits.nodes |= .[1:] | .reviews.nodes |= .[1:] | .comments.nodes |= .[1:]'
	recount='.commits.totalCount -= 1 | .reviews.totalCount -= 1 | .comments.totalCount -= 1'
	updated() { q "SELECT $(utc updated) FROM prs WHERE number = 1 AND url LIKE '%/alpha-service/%'"; }
	# Newer, but fewer nodes than totalCount (pages missing): it loads, nothing is deleted.
	raw_copy "$page" $((base + 1)) "$nodes |= map(select(.number == 1)
		| .updatedAt = \"2024-03-01T00:00:00Z\" | $drop)"
	msg $((base + 1)) pull_requests | etl-transform >/dev/null 2>&1
	[ "$(updated)" = 2024-03-01T00:00:00Z ]
	[ "$(pr1_nested)" = "3 3 4" ]
	# Complete, but older than the version stored: nothing is deleted.
	raw_copy "$page" $((base + 2)) "$nodes |= map(select(.number == 1)
		| .updatedAt = \"2024-02-28T00:00:00Z\" | $drop | $recount)"
	msg $((base + 2)) pull_requests | etl-transform >/dev/null
	[ "$(updated)" = 2024-03-01T00:00:00Z ]
	[ "$(pr1_nested)" = "3 3 4" ]
	# Newer and complete (a force-push, a deleted review and comment): exactly those rows go.
	raw_copy "$page" $((base + 3)) "$nodes |= map(select(.number == 1)
		| .updatedAt = \"2024-03-02T00:00:00Z\" | $drop | $recount)"
	msg $((base + 3)) pull_requests | etl-transform >/dev/null
	[ "$(pr1_nested)" = "2 2 3" ]
	[ "$(q "SELECT (SELECT count(*) FROM prs_commits WHERE sha = '$sha') + (SELECT count(*) FROM prs_reviews
		WHERE external_id = '$review') + (SELECT count(*) FROM prs_comments WHERE external_id = '$comment')")" -eq 0 ]
	# The other PRs keep theirs.
	[ "$(q "SELECT (SELECT count(*) FROM prs_commits) || ' ' || (SELECT count(*) FROM prs_reviews) || ' ' ||
		(SELECT count(*) FROM prs_comments)")" = "$((commits - 1)) $((reviews - 1)) $((comments - 1))" ]
	# A connection that became empty empties (no staged row, still a complete set).
	raw_copy "$page" $((base + 4)) "$nodes |= map(select(.number == 1)
		| .updatedAt = \"2024-03-03T00:00:00Z\" | $drop | $recount
		| .reviews.nodes = [] | .reviews.totalCount = 0)"
	msg $((base + 4)) pull_requests | etl-transform >/dev/null
	[ "$(pr1_nested)" = "2 0 3" ]
}

@test "github transform: the watermark moves only for the repositories this run transformed" {
	etl-transform <"$M" >/dev/null
	# beta-service's newest PR changes in the table, alpha-service loses its watermark; then
	# a PR step run of alpha-service's page alone.
	q "UPDATE prs p SET updated = '2030-01-01T00:00:00Z' FROM repositories r
	   WHERE r.id = p.repository_id AND r.name = 'beta-service'"
	q "UPDATE repositories SET last_pr_updated = NULL WHERE name = 'alpha-service'"
	page=$(q "SELECT id FROM raw_extraction_data WHERE request_params->>'name' = 'alpha-service'")
	msg "$page" pull_requests '{"first_item": true, "last_item": true}' | etl-transform >/dev/null
	# alpha-service has its watermark again; beta-service, not in this run, kept its own.
	diff <(expect repos | jq -cS . | sort) <(db_repos)
	[ "$(q "SELECT count(*) FROM etl_transform_keys")" -eq 0 ]
}

@test "github transform: a response that is not JSON is quoted up to 40 bytes, never past its end" {
	etl-transform <"$M" >/dev/null
	base=$(q "SELECT max(id) FROM raw_extraction_data")
	page=$(q "SELECT id FROM raw_extraction_data WHERE request_params->>'name' = 'alpha-service'")
	raw_copy "$page" $((base + 1)) '.'
	q "UPDATE raw_extraction_data SET raw_data = convert_to('<html>', 'UTF8') WHERE id = $((base + 1))"
	raw_copy "$page" $((base + 2)) '.'
	q "UPDATE raw_extraction_data SET raw_data = convert_to(repeat('<p>', 20), 'UTF8') WHERE id = $((base + 2))"
	run -65 --separate-stderr etl-transform < <(msg $((base + 1)) pull_requests; msg $((base + 2)) pull_requests)
	# Whole lines: the excerpt ends where the response does, or after 40 bytes and "...".
	grep -Fqx "etl-transform: error: line 1: pull request page is not JSON (unexpected character at byte 1): <html>" \
		<<<"$stderr" || fail "$stderr"
	grep -Fqx "etl-transform: error: line 2: pull request page is not JSON (unexpected character at byte 1): $(printf '<p>%.0s' {1..13})<..." \
		<<<"$stderr" || fail "$stderr"
}

@test "github transform: hostile responses are reported, exit 65, the other messages load" {
	# Loaded once; then beta-service's PRs are gone and no watermark is set.
	etl-transform <"$M" >/dev/null
	q "DELETE FROM prs p USING repositories r WHERE r.id = p.repository_id AND r.name = 'beta-service';
	   UPDATE repositories SET last_pr_updated = NULL"
	base=$(q "SELECT max(id) FROM raw_extraction_data")
	page=$(q "SELECT id FROM raw_extraction_data WHERE request_params->>'name' = 'beta-service'")
	att=$(q "SELECT min(id) FROM raw_extraction_data WHERE request_params ? 'for_raw_id'")
	ins() {   # ID BYTES: a PR page whose response is BYTES
		q "INSERT INTO raw_extraction_data (id, tenant_id, integration_id, token, type, provider,
		   request_params, raw_data) VALUES ($1, $TENANT, $INTEG, '$TOKEN', '$PRSTEP', 'github',
		   '{\"kind\": \"pull_requests\", \"owner\": \"etlkit-test\", \"name\": \"gone\"}',
		   convert_to(\$b\$$2\$b\$, 'UTF8'))"
	}
	ins $((base + 1)) '{"data":null,"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded for user ID 1."}]}'
	ins $((base + 2)) '<!DOCTYPE html><html><body>Unicorn! 502</body></html>'
	ins $((base + 3)) "$(q "SELECT left(convert_from(raw_data, 'UTF8'), 300) FROM raw_extraction_data WHERE id = $page")"
	ins $((base + 4)) '{"data":{"repository":null}}'
	ins $((base + 5)) '{"data":{}}'
	# A page whose attached commits page is an error: the whole page fails.
	q "UPDATE raw_extraction_data SET raw_data = convert_to('{\"errors\":[{\"message\":\"Something went wrong\"}]}', 'UTF8') WHERE id = $att"
	{
		jq -c 'select(.type == "github_repositories")' "$M"
		msg $((base + 1)) pull_requests '{"first_item": true}'
		msg $((base + 2)) pull_requests
		msg $((base + 3)) pull_requests
		msg $((base + 4)) pull_requests
		msg "$(q "SELECT request_params->>'for_raw_id' FROM raw_extraction_data WHERE id = $att")" pull_requests
		msg "$page" pull_requests
		msg $((base + 5)) no_such_kind '{"last_item": true}'
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr etl-transform <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 65 ] || fail "exit $status: $stderr"
	[[ "$stderr" == *"line 2: pull request page is a GitHub error: API rate limit exceeded for user ID 1. (RATE_LIMITED)"* ]]
	[[ "$stderr" == *"line 3: pull request page is not JSON"*"<!DOCTYPE html>"* ]]
	[[ "$stderr" == *"line 4: pull request page is not JSON ("* ]]
	[[ "$stderr" == *"line 5: pull request page has no repository.pullRequests.nodes array"* ]]
	[[ "$stderr" == *"line 6: attached page 1 is a GitHub error: Something went wrong"* ]]
	[[ "$stderr" == *"line 8: unknown raw_kind 'no_such_kind' for GitHub"* ]]
	run -0 q "SELECT id - $base, status, error_message IS NOT NULL FROM raw_extraction_data WHERE id > $base ORDER BY id"
	assert_output "$(printf '1|failed|t\n2|failed|t\n3|failed|t\n4|failed|t\n5|failed|t')"
	# The bytes stay; the good page loaded again; the last_item closed the step.
	[ "$(q "SELECT convert_from(raw_data, 'UTF8') FROM raw_extraction_data WHERE id = $((base + 2))")" = '<!DOCTYPE html><html><body>Unicorn! 502</body></html>' ]
	[ "$(q "SELECT count(*) FROM prs p JOIN repositories r ON r.id = p.repository_id WHERE r.name = 'beta-service'")" -eq \
		"$(jq length "$ETL_FIXTURES_DIR/github-small/prs/etlkit-test/beta-service.json")" ]
	[ "$(q "SELECT count(*) FROM prs p JOIN repositories r ON r.id = p.repository_id WHERE r.name = 'alpha-service'")" -eq \
		"$(jq length "$ETL_FIXTURES_DIR/github-small/prs/etlkit-test/alpha-service.json")" ]
	[ "$(q "SELECT status FROM raw_extraction_data WHERE id = (SELECT request_params->>'for_raw_id' FROM raw_extraction_data WHERE id = $att)::bigint")" = failed ]
	[ "$(q "SELECT count(*) FROM etl_transform_keys")" -eq 0 ]
	# The watermark moved for beta-service only (alpha-service's page failed in this run).
	run -0 q "SELECT name || '=' || ($(utc last_pr_updated) IS NOT NULL) FROM repositories WHERE name IN ('alpha-service', 'beta-service') ORDER BY name"
	assert_output "$(printf 'alpha-service=false\nbeta-service=true')"
}

@test "github transform: --dry-run needs no database and prints the rows" {
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		etl-transform --dry-run <"$BATS_FILE_TMPDIR/inline.ndjson"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/rows"
	read -r repos prs commits reviews comments < <(expect counts)
	pages=$(grep -c '"raw_kind":"pull_requests"' "$BATS_FILE_TMPDIR/inline.ndjson")
	# Rows only: each repository, one placeholder per PR page, every PR and nested row once.
	run -0 jq -sc 'map(.table) | group_by(.) | map({(.[0]): length}) | add' "$BATS_TEST_TMPDIR/rows"
	assert_output "{\"prs\":$prs,\"prs_comments\":$comments,\"prs_commits\":$commits,\"prs_reviews\":$reviews,\"repositories\":$((repos + pages))}"
	[ "$(jq -s 'map(select(.table == "repositories" and .row.placeholder)) | length' "$BATS_TEST_TMPDIR/rows")" -eq "$pages" ]
	run -0 expect prs
	want=$(jq -c 'select(.repo == "etlkit-test/alpha-service" and .number == 5) |
		[.commits, .reviews, .comments, .review_cycles, .first_commit_at[:19], .first_review_at[:19]]' <<<"$output")
	run -0 jq -c 'select(.table == "prs" and .row.number == 5 and (.row.url | test("alpha-service"))) | .row |
		[.commit_count, .review_count, .comment_count, .review_cycles, .first_commit_at[:19], .first_review_at[:19]]' \
		"$BATS_TEST_TMPDIR/rows"
	assert_output "$want"
	# A message naming a raw row cannot be done without a database.
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		etl-transform --dry-run < <(head -1 "$M")
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"needs a database"* ]]
}

@test "github: etl-extract --no-store | etl-transform --dry-run maps the whole dataset, no database" {
	run --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
		GITHUB_API_URL="$FAKE_GITHUB_URL" GITHUB_TOKEN=ghp_dry_run_only \
		bash -c 'set -o pipefail; etl-extract --no-store --orgs etlkit-test github |
			tee "$1" | etl-transform --dry-run' _ "$BATS_TEST_TMPDIR/msgs"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/rows"
	read -r repos prs commits reviews comments < <(expect counts)
	pages=$(grep -c '"raw_kind":"pull_requests"' "$BATS_TEST_TMPDIR/msgs")
	run -0 jq -sc 'map(.table) | group_by(.) | map({(.[0]): length}) | add' "$BATS_TEST_TMPDIR/rows"
	assert_output "{\"prs\":$prs,\"prs_comments\":$comments,\"prs_commits\":$commits,\"prs_reviews\":$reviews,\"repositories\":$((repos + pages))}"
}

@test "github transform: job status running on first_item, finished on last_item" {
	tok=$(uuid)
	job=$(q "INSERT INTO etl_jobs (tenant_id, integration_id, name, status) VALUES ($TENANT, $INTEG, 'g',
		jsonb_build_object('overall', 'RUNNING', 'token', '$tok', 'steps', '{}'::jsonb,
		'reset_deadline', null, 'reset_attempt', 0)) RETURNING id")
	q "UPDATE raw_extraction_data SET token = '$tok', job_id = $job"
	jq -c --arg t "$tok" --argjson j "$job" '.token = $t | .job_id = $j' "$M" >"$BATS_TEST_TMPDIR/in"
	grep -m1 "\"$PRSTEP\",\"provider\":\"github\",\"first_item\":true" "$BATS_TEST_TMPDIR/in" |
		etl-transform >/dev/null
	[ "$(q "SELECT status->'steps'->'$PRSTEP'->>'transform' FROM etl_jobs WHERE id = $job")" = running ]
	run -0 etl-transform <"$BATS_TEST_TMPDIR/in"
	run -0 q "SELECT string_agg(s.key || '=' || (s.value->>'transform'), ' ' ORDER BY s.key)
		FROM etl_jobs, jsonb_each(status->'steps') s WHERE id = $job"
	assert_output "github_prs_commits_reviews_comments=finished github_repositories=finished"
}
