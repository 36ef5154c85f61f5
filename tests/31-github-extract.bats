#!/usr/bin/env bats
# etl-extract for GitHub (GraphQL v4) against a real PostgreSQL and the fake GitHub.

# count OPERATION: GraphQL operations the fake answered since the last reset
# ("repositoryOwner.repositories", "repository.pullRequests", "node.commits", ...).
count() { fake_count "$FAKE_GITHUB_URL" "$1"; }

# kinds: "kind:rows,..." of every stored row, by kind.
kinds() {
	q "SELECT string_agg(k || ':' || n, ',' ORDER BY k) FROM (SELECT request_params->>'kind' k,
	   count(*) n FROM raw_extraction_data GROUP BY 1) s"
}

# Every (PR node id, connection, node id) stored: inline nodes of the PR pages and the nodes
# of the attached pages.
NESTED_SQL="WITH r AS (SELECT request_params p, convert_from(raw_data, 'UTF8')::jsonb b
	FROM raw_extraction_data),
  pr AS (SELECT x FROM r, jsonb_array_elements(b->'data'->'repository'->'pullRequests'->'nodes') x
	WHERE p->>'kind' = 'pull_requests'),
  conn(c) AS (VALUES ('commits'), ('reviews'), ('comments')),
  ids AS (SELECT pr.x->>'id' pr, c, n->>'id' id FROM pr, conn, jsonb_array_elements(pr.x->c->'nodes') n
	UNION ALL SELECT r.p->>'pr', c, n->>'id' FROM r, conn,
	jsonb_array_elements(r.b->'data'->'node'->c->'nodes') n WHERE r.p->>'kind' = 'pr_' || c),
  got AS (SELECT pr, c, count(DISTINCT id) n FROM ids GROUP BY 1, 2),
  want AS (SELECT DISTINCT x->>'id' pr, x->>'number' num, c, (x->c->>'totalCount')::int total
	FROM pr, conn)"

# incomplete: PR connections whose distinct stored nodes differ from totalCount (0 = all complete).
incomplete() {
	q "$NESTED_SQL SELECT count(*) FROM want LEFT JOIN got USING (pr, c)
	   WHERE coalesce(got.n, 0) <> want.total"
}

# pr5: "commits reviews comments" distinct ids stored for alpha-service PR #5.
pr5() {
	q "$NESTED_SQL SELECT string_agg(coalesce(got.n, 0)::text, ' ' ORDER BY
	   array_position(ARRAY['commits','reviews','comments'], want.c)) FROM want
	   LEFT JOIN got USING (pr, c) WHERE want.pr = '$PR5'"
}

# no_token FILE...: the token is in none of the files, the stored rows or the fake's log.
no_token() {
	local f
	for f in "$@"; do
		! grep -qF "$GH_TOKEN" "$f" || fail "the token is in $f"
	done
	! grep -qF "$GH_TOKEN" "$FAKE_GITHUB_LOG" || fail "the token is in the fake's log"
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE position('$GH_TOKEN' IN
		convert_from(raw_data, 'UTF8') || request_params::text || request_url) > 0"
	assert_output 0
}

# job_message JOB TOKEN [INTEGRATION]: the first extraction message of a job run.
job_message() {
	jq -cn --argjson t "$TENANT" --argjson i "${3:-$INTEG}" --argjson j "$1" --arg k "$2" \
		'{tenant_id: $t, job_id: $j, token: $k, type: "github_repositories",
		provider: "github", first_item: true, last_item: false, last_job_item: false,
		integration_id: $i, last_sync_date: null}'
}

# new_job TOKEN: a job whose run TOKEN is RUNNING; prints its id.
new_job() {
	q "INSERT INTO etl_jobs (tenant_id, integration_id, name, status) VALUES ($TENANT, $INTEG,
	   'job-$1', jsonb_build_object('overall', 'RUNNING', 'token', '$1', 'steps', '{}'::jsonb,
	   'reset_deadline', null, 'reset_attempt', 0)) RETURNING id"
}

# integ ARGS...: another GitHub integration of the tenant (in the template); prints its id.
integ() {
	etl-job integration add --tenant acme --provider github --base-url "$FAKE_GITHUB_URL" \
		--token-env GH_TOKEN "$@"
}

uuid() { cat /proc/sys/kernel/random/uuid; }

# The full sync's rows per kind (github-small, default sizes).
FULL_KINDS="pr_comments:1,pr_commits:2,pr_reviews:1,pull_requests:5,repositories:1"

setup_file() {
	load test_helper
	start_pg
	start_fake_github
	use_db etl_gh_tmpl
	etl-job -q migrate
	export ETL_SECRET_KEY="test-key-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	export GH_TOKEN="ghp_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	TENANT=$(etl-job tenant add acme)
	INTEG=$(integ --orgs etlkit-test)
	INTEG_GLOB=$(integ --orgs etlkit-test --repos 'g*,*-LIB')
	INTEG_NAMED=$(integ --orgs nobody-here --repos 'etlkit-test/beta-service,etlkit-test/ghost')
	export TENANT INTEG INTEG_GLOB INTEG_NAMED
	export SMALL="$ETL_FIXTURES_DIR/github-small"
	PR5=$(jq -r '.[] | select(.number == 5) | .id' "$SMALL/prs/etlkit-test/alpha-service.json")
	export PR5
}

setup() {
	load test_helper
	use_db "g$BATS_TEST_NUMBER" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
}

# A test that switched the fake to another dataset switches it back.
teardown() {
	[ -z "${GH_DATA_SWITCHED:-}" ] || fake_ctl "$FAKE_GITHUB_URL" "{\"data\": \"$SMALL\"}" >/dev/null
}

# sent_prs FILE...: the distinct pull request numbers ("repo#n", sorted, one a line) of the
# pull_requests pages whose transform messages are in FILE... (several runs of one job).
sent_prs() {
	local ids
	ids=$(cat "$@" | jq -rs '[.[] | select(.raw_kind == "pull_requests") | .raw_data_id] | join(",")')
	[ -n "$ids" ] || return 0
	q "SELECT DISTINCT (request_params->>'name') || '#' || (x->>'number') FROM raw_extraction_data,
	   jsonb_array_elements(convert_from(raw_data, 'UTF8')::jsonb->'data'->'repository'->'pullRequests'->'nodes') x
	   WHERE id IN ($ids) ORDER BY 1"
}

# adhoc_message INTEGRATION: a single-step repositories message with no job.
adhoc_message() {
	jq -cn --argjson t "$TENANT" --argjson i "$1" --arg k "$(uuid)" \
		'{tenant_id: $t, job_id: null, token: $k, type: "github_repositories",
		provider: "github", first_item: true, last_item: false, last_job_item: false,
		integration_id: $i, last_sync_date: null, single_step: true}'
}

@test "github: a full sync of github-small: rows per kind, flags per step, every PR complete" {
	run -0 --separate-stderr etl-extract github --integration "$INTEG" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
	check_flags "$BATS_TEST_TMPDIR/out"
	[ "$(kinds)" = "$FULL_KINDS" ]
	# Every response the fake served is one raw row; attached rows have no message.
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 10 ]
	run -0 jq -sc '[.[].raw_data_id] | sort' "$BATS_TEST_TMPDIR/out"
	assert_output "$(q "SELECT '[' || string_agg(id::text, ',' ORDER BY id) || ']' FROM raw_extraction_data
		WHERE NOT request_params ? 'for_raw_id'")"
	# One message per page: the repositories page, then the five repositories' PR pages.
	run -0 jq -sc 'map([.type, .raw_kind, .first_item, .last_item, .last_job_item])' "$BATS_TEST_TMPDIR/out"
	assert_output '[["github_repositories","repositories",true,true,false],["github_prs_commits_reviews_comments","pull_requests",true,false,false],["github_prs_commits_reviews_comments","pull_requests",false,false,false],["github_prs_commits_reviews_comments","pull_requests",false,false,false],["github_prs_commits_reviews_comments","pull_requests",false,false,false],["github_prs_commits_reviews_comments","pull_requests",false,true,true]]'
	# The step argument stays out of transform messages.
	run -0 jq -sc 'map(select(has("repositories"))) | length' "$BATS_TEST_TMPDIR/out"
	assert_output 0
	# Rows: provider, the GraphQL endpoint, POST, params.
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE provider <> 'github'
		OR request_url <> '$FAKE_GITHUB_URL/graphql' OR request_method <> 'POST'
		OR http_status <> 200 OR token IS NULL OR page IS NULL"
	assert_output 0
	run -0 q "SELECT string_agg(request_params->>'name' || ':' || (request_params->>'first') || ':'
		|| (request_params->>'nested') || ':' || coalesce(request_params->>'since', 'null'), ','
		ORDER BY id) FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'"
	assert_output "alpha-service:50:100:null,beta-service:50:100:null,gamma-service:50:100:null,legacy-monolith:50:100:null,shared-lib:50:100:null"
	# Attached pages belong to the alpha-service page and name PR #5.
	run -0 q "SELECT DISTINCT (request_params->>'for_raw_id' = (SELECT id::text FROM raw_extraction_data
		WHERE request_params->>'name' = 'alpha-service')) || ':' || (request_params->>'number')
		|| ':' || (request_params->>'pr' = '$PR5') FROM raw_extraction_data
		WHERE request_params ? 'for_raw_id'"
	assert_output "true:5:true"
	# Every PR complete; #5 has exactly 250 commits, 130 reviews, 120 comments.
	[ "$(incomplete)" -eq 0 ]
	[ "$(pr5)" = "250 130 120" ]
	[ "$(q "$NESTED_SQL SELECT count(DISTINCT pr) FROM want")" -eq 18 ]
	no_token "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
}

@test "github: repository patterns: globs on the name, explicit owner/name, NOT_FOUND skipped and counted" {
	run -0 --separate-stderr etl-extract github --integration "$INTEG_GLOB" --full
	run -0 q "SELECT string_agg(request_params->>'name', ',' ORDER BY id) FROM raw_extraction_data
		WHERE request_params->>'kind' = 'pull_requests'"
	assert_output "gamma-service,shared-lib"
	[ "$(count repository.pullRequests)" -eq 2 ]
	# An unknown login and an unknown repository are skipped with a warning; the named
	# repository is fetched although its owner is not in orgs.
	fake_reset "$FAKE_GITHUB_URL"
	use_db "g${BATS_TEST_NUMBER}b" etl_gh_tmpl
	run -0 --separate-stderr etl-extract -v github --integration "$INTEG_NAMED" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	[[ $stderr == *"repositories of nobody-here: no such organisation or user: skipped"* ]]
	[[ $stderr == *"repository etlkit-test/ghost: Could not resolve to a Repository"*"(NOT_FOUND): skipped"* ]]
	[[ $stderr == *"github_repositories: 1 responses"*"2 errors"* ]]
	[ "$(kinds)" = "pull_requests:1,repository:1" ]
	run -0 q "SELECT request_params->>'owner' || '/' || (request_params->>'name') FROM raw_extraction_data
		WHERE request_params->>'kind' = 'repository'"
	assert_output "etlkit-test/beta-service"
	[ "$(count repository)" -eq 2 ]
	# A repository gone between the steps (step argument): skipped, counted, the rest done.
	fake_reset "$FAKE_GITHUB_URL"
	use_db "g${BATS_TEST_NUMBER}c" etl_gh_tmpl
	run -0 --separate-stderr etl-extract -v < <(jq -cn --argjson t "$TENANT" --argjson i "$INTEG" \
		--arg k "$(uuid)" '{tenant_id: $t, job_id: null, token: $k,
		type: "github_prs_commits_reviews_comments", provider: "github", first_item: true,
		last_item: false, last_job_item: false, integration_id: $i, last_sync_date: null,
		repositories: [{owner: "etlkit-test", name: "ghost", id: "R_gone"},
		{owner: "etlkit-test", name: "shared-lib", id: "R_x"}]}')
	[[ $stderr == *"pull requests of etlkit-test/ghost: Could not resolve"*"skipped"* ]]
	[[ $stderr == *"github_prs_commits_reviews_comments: 1 responses"*"1 errors"* ]]
	[ "$(kinds)" = "pull_requests:1" ]
	run -0 jq -c '[.raw_kind, .first_item, .last_item, .last_job_item]' <<<"$output"
	assert_output '["pull_requests",true,true,true]'
}

@test "github: incremental: per-repository watermarks, only the newest pages are asked" {
	# The watermarks the transform would set: alpha and beta synced up to their newest PR,
	# the others never synced (no row, or a row without a watermark).
	q "INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, full_name,
	   last_pr_updated) VALUES
	   ($TENANT, $INTEG, 'R_kgDOKUl9rZ0RPSzowMDAwMDAwMDAwMDE', 'etlkit-test', 'alpha-service',
	    'etlkit-test/alpha-service', '2024-02-24T06:28:12Z'),
	   ($TENANT, $INTEG, 'R_kgDOKUl9rZ0RPSzowMDAwMDAwMDAwMDI', 'etlkit-test', 'beta-service',
	    'etlkit-test/beta-service', '2024-01-28T19:00:00Z'),
	   ($TENANT, $INTEG, 'R_gamma', 'etlkit-test', 'gamma-service', 'etlkit-test/gamma-service', NULL)"
	run -0 --separate-stderr etl-extract --page-size 2 github --integration "$INTEG" \
		--since 2024-03-01T00:00:00Z
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	# alpha 1 page of 4, beta 1 of 3 (its last PR is older than the watermark minus 300 s),
	# gamma 2 (no watermark), legacy-monolith 1 (empty), shared-lib 1.
	[ "$(count repository.pullRequests)" -eq 6 ]
	run -0 q "SELECT string_agg(request_params->>'name' || ':' || coalesce(request_params->>'since',
		'-'), ',' ORDER BY id) FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'"
	assert_output "alpha-service:2024-02-24T06:23:12Z,beta-service:2024-01-28T18:55:00Z,gamma-service:-,gamma-service:-,legacy-monolith:-,shared-lib:-"
	# The newest PRs are there.
	run -0 q "SELECT string_agg(x->>'number', ',' ORDER BY x->>'updatedAt' DESC) FROM raw_extraction_data,
		jsonb_array_elements(convert_from(raw_data, 'UTF8')::jsonb->'data'->'repository'->'pullRequests'->'nodes') x
		WHERE request_params->>'name' = 'alpha-service'"
	assert_output "1,2"
	# --full ignores the watermarks; alone, the PR step works on the repositories rows
	# (alpha, beta, gamma): every page of each (4 + 3 + 2).
	fake_reset "$FAKE_GITHUB_URL"
	run -0 --separate-stderr etl-extract --page-size 2 --only github --integration "$INTEG" \
		--full --step github_prs_commits_reviews_comments
	[ "$(count repository.pullRequests)" -eq 9 ]
}

@test "github: RATE_LIMITED with HTTP 200 and a short reset is waited out, nothing lost" {
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"reset_in": 2}, "rate_limit_200": {"after": 2, "count": 1}}' >/dev/null
	run -0 --separate-stderr etl-extract -v github --integration "$INTEG" --full
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	[[ $stderr == *"rate limited (HTTP 200, RATE_LIMITED): waiting"* ]]
	# Counted for the run's metrics, though the HTTP answer was a 200.
	[[ $stderr == *" 1 rate-limit waits, 0 errors"* ]]
	# One more request than rows: the rate-limited answer was not stored.
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 11 ]
	[ "$(kinds)" = "$FULL_KINDS" ]
	[ "$(incomplete)" -eq 0 ]
	run -0 q "SELECT count(*) FROM raw_extraction_data WHERE convert_from(raw_data, 'UTF8') LIKE '%RATE_LIMITED%'"
	assert_output 0
}

@test "github: a long RATE_LIMITED checkpoints and exits 75; the rerun resumes with no gap and no duplicate" {
	# A clean run, for comparison.
	use_db "g${BATS_TEST_NUMBER}clean" etl_gh_tmpl
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" | etl-extract >/dev/null
	want=$(q "SELECT string_agg(request_params->>'kind' || ':' || (request_params->>'sig'), ',' ORDER BY id)
		FROM raw_extraction_data")

	use_db "g$BATS_TEST_NUMBER" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" >"$BATS_TEST_TMPDIR/msg"
	# From the fourth request on (the second nested page of PR #5), rate limited for an hour.
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_limit_200": {"after": 3, "count": null}}' >/dev/null
	run -75 --separate-stderr etl-extract --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out1"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err1"
	[[ $stderr == *"commits of pull request #5: rate limited: the API asks to wait"*"more than --max-wait 5 s; checkpointed"* ]]
	run -0 q "SELECT (status->'checkpoint'->>'step') || ' ' || (status->'checkpoint'->>'emitted') || ' '
		|| (status->'checkpoint'->>'repo') FROM etl_jobs WHERE id = $job"
	assert_output "github_prs_commits_reviews_comments 0 etlkit-test/alpha-service"
	# The page and its first attached page are stored; no message for the page yet.
	[ "$(kinds)" = "pr_commits:1,pull_requests:1,repositories:1" ]
	[ "$(jq -s 'map(select(.type == "github_prs_commits_reviews_comments")) | length' "$BATS_TEST_TMPDIR/out1")" -eq 0 ]

	fake_reset "$FAKE_GITHUB_URL"
	run -0 --separate-stderr etl-extract --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out2"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err2"
	# The stored three came from the rows: 10 responses, 7 asked.
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 7 ]
	[ "$(count repositoryOwner.repositories)" -eq 0 ]
	# The same rows as the clean run, in the same order: no gap, no duplicate.
	[ "$(q "SELECT string_agg(request_params->>'kind' || ':' || (request_params->>'sig'), ',' ORDER BY id)
		FROM raw_extraction_data")" = "$want" ]
	[ "$(incomplete)" -eq 0 ]
	[ "$(pr5)" = "250 130 120" ]
	cat "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2" >"$BATS_TEST_TMPDIR/all"
	check_flags "$BATS_TEST_TMPDIR/all"
	run -0 jq -sc '[.[].raw_data_id | select(. != null)] | sort' "$BATS_TEST_TMPDIR/all"
	assert_output "$(q "SELECT '[' || string_agg(id::text, ',' ORDER BY id) || ']' FROM raw_extraction_data
		WHERE NOT request_params ? 'for_raw_id'")"
	run -0 q "SELECT string_agg(s.value->>'extraction', ',') || ' ' || coalesce(e.status->>'checkpoint', 'none')
		FROM etl_jobs e, jsonb_each(e.status->'steps') s WHERE e.id = $job GROUP BY e.status"
	assert_output "finished,finished none"
	no_token "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/err1" "$BATS_TEST_TMPDIR/out2" "$BATS_TEST_TMPDIR/err2"
}

@test "github: the rate limit nearly spent (rateLimit.remaining): paced until the reset" {
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"remaining": 40, "reset_in": 2}}' >/dev/null
	run -0 --separate-stderr etl-extract -v github --integration "$INTEG" --full
	[[ $stderr == *"GitHub points left"*"pausing until the reset"* ]]
	[[ $stderr == *"the rate limit is nearly spent: waiting"* ]]
	[ "$(kinds)" = "$FULL_KINDS" ]
	# Spent and longer than --max-wait: checkpoint and 75.
	use_db "g${BATS_TEST_NUMBER}b" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"remaining": 40, "reset_in": 3600}}' >/dev/null
	run -75 --separate-stderr etl-extract --max-wait 5 github --integration "$INTEG" --full
	[[ $stderr == *"rate limited: the API asks to wait"*"more than --max-wait 5 s"* ]]
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 1 ]
}

@test "github: secondary limit: 403 with retry-after 1 is waited out; without retry-after it is at least 60 s" {
	fake_ctl "$FAKE_GITHUB_URL" '{"secondary_403": {"after": 1, "count": 1, "retry_after": 1}}' >/dev/null
	run -0 --separate-stderr etl-extract github --integration "$INTEG" --full
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq '.by_status["403"]')" -eq 1 ]
	[ "$(kinds)" = "$FULL_KINDS" ]
	[ "$(incomplete)" -eq 0 ]
	use_db "g${BATS_TEST_NUMBER}b" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"secondary_403": {"after": 1, "count": null, "retry_after": null}}' >/dev/null
	run -75 --separate-stderr etl-extract --max-wait 5 github --integration "$INTEG" --full
	[[ $stderr == *"rate limited: the API asks to wait 60 s, more than --max-wait 5 s"* ]]
}

@test "github: 403 without rate-limit signs is a permission error (exit 78)" {
	fake_ctl "$FAKE_GITHUB_URL" '{"errors_5xx": {"status": 403, "count": null}}' >/dev/null
	run -78 --separate-stderr etl-extract github --integration "$INTEG" --full
	[[ $stderr == *"repositories of etlkit-test: GitHub denied access (HTTP 403"*"the token lacks a permission"* ]]
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr != *"$GH_TOKEN"* ]]
}

@test "github: 502 (query timeout): the page is asked again at half size, then success" {
	fake_ctl "$FAKE_GITHUB_URL" '{"errors_5xx": {"after": 1, "count": 1, "status": 502}}' >/dev/null
	run -0 --separate-stderr etl-extract github --integration "$INTEG" --full
	[[ $stderr == *"pull requests of etlkit-test/alpha-service: HTTP 502 (GitHub's query timeout): asking again with page size 25"* ]]
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq '.by_status["502"]')" -eq 1 ]
	run -0 q "SELECT string_agg(request_params->>'name' || ':' || (request_params->>'first') || ':'
		|| (request_params->>'nested'), ',' ORDER BY id) FROM raw_extraction_data
		WHERE request_params->>'kind' = 'pull_requests'"
	assert_output "alpha-service:25:50,beta-service:50:100,gamma-service:50:100,legacy-monolith:50:100,shared-lib:50:100"
	# Smaller nested pages: PR #5 needs 2 + 1 + 1 attached pages of 100 after its 50 inline.
	[ "$(kinds)" = "$FULL_KINDS" ]
	[ "$(incomplete)" -eq 0 ]
	[ "$(pr5)" = "250 130 120" ]
}

@test "github: 401 is a configuration error (exit 78) with a clear message, the token never shown" {
	fake_ctl "$FAKE_GITHUB_URL" '{"token": "another-token"}' >/dev/null
	run -78 --separate-stderr etl-extract github --integration "$INTEG"
	[[ $stderr == *"repositories of etlkit-test: GitHub refused the token (HTTP 401: Bad credentials): check the integration's token"* ]]
	[[ $stderr != *"$GH_TOKEN"* ]]
	[ -z "$output" ]
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq 0 ]
}

@test "github: --no-store needs no database; responses and attached pages travel inline" {
	run -0 --separate-stderr env -u ETL_DATABASE_URL -u PGHOST -u PGPORT -u PGDATABASE \
		GITHUB_API_URL="$FAKE_GITHUB_URL/" GITHUB_TOKEN="$GH_TOKEN" PGHOST=/nonexistent \
		etl-extract --no-store --orgs etlkit-test --repos 'alpha-*,beta-service' github --integration 7
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
	check_flags "$BATS_TEST_TMPDIR/out"
	run -0 jq -sc 'map([.raw_kind, .request_params.name, (.raw_changelogs // [] | length)])' "$BATS_TEST_TMPDIR/out"
	assert_output '[["repositories",null,0],["pull_requests","alpha-service",4],["pull_requests","beta-service",0]]'
	run -0 jq -sc 'map(select(.raw_data_id != null or (.raw | not))) | length' "$BATS_TEST_TMPDIR/out"
	assert_output 0
	run -0 jq -c --arg pr "$PR5" 'select(.raw_kind == "pull_requests") | (.raw.data.repository.pullRequests.nodes[] |
		select(.id == $pr)) as $p | [("commits", "reviews", "comments") as $c | ([$p[$c].nodes[].id] +
		[.raw_changelogs[].data.node[$c].nodes[]?.id] | unique | length)]' "$BATS_TEST_TMPDIR/out"
	assert_output '[250,130,120]'
	[ "$(q "SELECT count(*) FROM raw_extraction_data")" -eq 0 ]
	no_token "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
	# Without the token or the logins: configuration errors.
	run -78 --separate-stderr env -u GITHUB_TOKEN GITHUB_API_URL="$FAKE_GITHUB_URL" \
		etl-extract --no-store --orgs etlkit-test github --integration 7
	[[ $stderr == *"GITHUB_TOKEN is not set"* ]]
	run -78 --separate-stderr env GITHUB_TOKEN=x GITHUB_API_URL="$FAKE_GITHUB_URL" \
		etl-extract --no-store github --integration 7
	[[ $stderr == *"needs --orgs"* ]]
	run -64 --separate-stderr etl-extract --orgs etlkit-test github --integration 7
	[[ $stderr == *"--orgs and --repos go with --no-store"* ]]
}

@test "github: etl-job start <github job> | etl-extract runs both steps" {
	j=$(etl-job create --tenant acme --integration "$INTEG" --name gh-sync)
	etl-job start "$j" >"$BATS_TEST_TMPDIR/msg"
	run -0 jq -r '.type + " " + .provider' "$BATS_TEST_TMPDIR/msg"
	assert_output "github_repositories github"
	run -0 --separate-stderr etl-extract <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out"
	check_flags "$BATS_TEST_TMPDIR/out"
	run -0 jq -sc 'map(.type) | unique' "$BATS_TEST_TMPDIR/out"
	assert_output '["github_prs_commits_reviews_comments","github_repositories"]'
	[ "$(kinds)" = "$FULL_KINDS" ]
	[ "$(q "SELECT count(DISTINCT job_id) || ':' || min(job_id) FROM raw_extraction_data")" = "1:$j" ]
	run -0 q "SELECT string_agg(s.key || '=' || (s.value->>'extraction'), ',' ORDER BY s.key)
		FROM etl_jobs e, jsonb_each(e.status->'steps') s WHERE e.id = $j"
	assert_output "github_prs_commits_reviews_comments=finished,github_repositories=finished"
}

@test "github: endpoint from the base URL: /graphql appended, GitHub Enterprise /api/v3 -> /api/graphql" {
	# The fake serves /graphql only: a base URL of .../api/v3 would reach /api/graphql (404).
	ig=$(integ --orgs etlkit-test --base-url "$FAKE_GITHUB_URL/api/v3")
	run -65 --separate-stderr etl-extract github --integration "$ig"
	[[ $stderr == *"POST $FAKE_GITHUB_URL/api/graphql: HTTP 404"* ]]
	run -0 --separate-stderr etl-extract --only github --integration "$INTEG"
	[ "$(q "SELECT DISTINCT request_url FROM raw_extraction_data")" = "$FAKE_GITHUB_URL/graphql" ]
}

@test "github: a worker serving two integrations never lends the first's token to the second (exit 78)" {
	# Review #1: the client was cached by base URL only, and kept the first token when the
	# second integration had none.
	ig=$(integ --orgs etlkit-test)
	q "UPDATE integrations SET token_encrypted = NULL WHERE id = $ig"
	fake_ctl "$FAKE_GITHUB_URL" "{\"token\": \"$GH_TOKEN\"}" >/dev/null
	{ adhoc_message "$INTEG"; adhoc_message "$ig"; } >"$BATS_TEST_TMPDIR/msgs"
	run -78 --separate-stderr etl-extract <"$BATS_TEST_TMPDIR/msgs"
	[[ $stderr == *"integration $ig has no GitHub token"* ]]
	# The first message's one request, nothing for the second.
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq -c '[.total, .by_status["200"]]')" = "[1,1]" ]
	[ "$(q "SELECT count(*) || ':' || min(integration_id) FROM raw_extraction_data")" = "1:$INTEG" ]
	run -0 jq -sc 'map(.integration_id)' <<<"$output"
	assert_output "[$INTEG]"
	[[ $stderr != *"$GH_TOKEN"* ]]
}

@test "github: a 502 then a long RATE_LIMITED, rerun: the messages of both runs cover every PR of a clean run" {
	# Review #2: after a 502 the smaller page size carried on; the rerun asked full-size
	# pages again, nothing matched the stored rows past that point, yet the first
	# "emitted" messages were still suppressed by count: new responses never sent.
	use_db "g${BATS_TEST_NUMBER}clean" etl_gh_tmpl
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" | etl-extract --page-size 4 >"$BATS_TEST_TMPDIR/clean"
	sent_prs "$BATS_TEST_TMPDIR/clean" >"$BATS_TEST_TMPDIR/want"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/want")" -eq 18 ]

	use_db "g$BATS_TEST_NUMBER" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" >"$BATS_TEST_TMPDIR/msg"
	# PR page 2 (alpha-service) times out once; from the 6th PR page on, rate limited for an hour.
	fake_ctl "$FAKE_GITHUB_URL" '{"errors_5xx": {"after": 1, "count": 1, "status": 502, "endpoint": "repository.pullRequests"},
		"rate_limit_200": {"after": 5, "count": null, "endpoint": "repository.pullRequests"}}' >/dev/null
	run -75 --separate-stderr etl-extract --page-size 4 --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out1"
	[[ $stderr == *"HTTP 502 (GitHub's query timeout): asking again with page size 2"* ]]
	# Stopped in beta-service (alpha's last pages were asked 2 at a time); 3 messages sent.
	run -0 q "SELECT concat_ws(' ', status->'checkpoint'->>'emitted', status->'checkpoint'->>'repo',
		status->'checkpoint'->>'first', status->'checkpoint'->>'nested') FROM etl_jobs WHERE id = $job"
	assert_output "3 etlkit-test/beta-service 4 100"

	fake_reset "$FAKE_GITHUB_URL"
	run -0 --separate-stderr etl-extract --page-size 4 --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out2"
	# Catching up took the stored (smaller) sizes: no page the first run stored was asked again.
	[ "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'")" -eq \
		"$(q "SELECT count(DISTINCT (request_params->>'name', coalesce(request_params->>'after', '')))
		FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'")" ]
	sent_prs "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2" >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ "$(incomplete)" -eq 0 ]
}

@test "github: a rerun whose requests all differ (another --page-size) sends every response it asked anew" {
	# Review #2, the core: only a message answered from a stored row may be suppressed.
	token=$(uuid)
	job=$(new_job "$token")
	job_message "$job" "$token" >"$BATS_TEST_TMPDIR/msg"
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_limit_200": {"after": 5, "count": null, "endpoint": "repository.pullRequests"}}' >/dev/null
	run -75 --separate-stderr etl-extract --page-size 4 --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out1"
	run -0 q "SELECT status->'checkpoint'->>'emitted' FROM etl_jobs WHERE id = $job"
	assert_output 4
	fake_reset "$FAKE_GITHUB_URL"
	run -0 --separate-stderr etl-extract --page-size 3 --max-wait 5 <"$BATS_TEST_TMPDIR/msg"
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out2"
	# Every PR page of the rerun was asked anew (3 a page): every one has its message.
	run -0 jq -s '[.[] | select(.raw_kind == "pull_requests")] | length' "$BATS_TEST_TMPDIR/out2"
	assert_output "$(q "SELECT count(*) FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'
		AND request_params->>'first' = '3'")"
	[ "$(sent_prs "$BATS_TEST_TMPDIR/out2" | wc -l)" -eq 18 ]
}

@test "github: NOT_FOUND past the first page, in a nested page or inside the answer fails 75, never skipped" {
	# Review #3: any NOT_FOUND was taken for "the object is gone": later pages or nested
	# pages were silently dropped.
	fake_ctl "$FAKE_GITHUB_URL" '{"not_found": {"after": 1, "endpoint": "repository.pullRequests", "path": ["repository"]}}' >/dev/null
	run -75 --separate-stderr etl-extract --page-size 4 github --integration "$INTEG" --full
	[[ $stderr == *"pull requests of etlkit-test/alpha-service: part of the answer is missing: Could not resolve"*"(NOT_FOUND); not skipped"* ]]
	[ "$(count repository.pullRequests)" -eq 2 ]
	# A nested page of PR #5 (its pull request node gone).
	use_db "g${BATS_TEST_NUMBER}b" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"not_found": {"endpoint": "node.commits", "path": ["node"]}}' >/dev/null
	run -75 --separate-stderr etl-extract github --integration "$INTEG" --full
	[[ $stderr == *"commits of pull request #5: part of the answer is missing"* ]]
	[ "$(count repository.pullRequests)" -eq 1 ]
	# A path inside the answer, on a first page: the data is there, but not all of it.
	use_db "g${BATS_TEST_NUMBER}c" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"not_found": {"endpoint": "repository.pullRequests",
		"path": ["repository", "pullRequests", "nodes", 0, "author"]}}' >/dev/null
	run -75 --separate-stderr etl-extract github --integration "$INTEG" --full
	[[ $stderr == *"pull requests of etlkit-test/alpha-service: part of the answer is missing"* ]]
	[ "$(kinds)" = "repositories:1" ]
}

@test "github: a repository created again under the same name does not inherit the old one's watermark" {
	# Review #4: the watermark was matched by id OR name.
	q "INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, full_name,
	   last_pr_updated) VALUES ($TENANT, $INTEG, 'R_deleted_alpha', 'etlkit-test', 'alpha-service',
	   'etlkit-test/alpha-service', '2024-02-24T06:28:12Z')"
	run -0 --separate-stderr etl-extract --page-size 2 github --integration "$INTEG" \
		--since 2024-03-01T00:00:00Z
	# Every page of alpha-service (4 of 2), no since.
	run -0 q "SELECT count(*) || ':' || count(request_params->>'since') FROM raw_extraction_data
		WHERE request_params->>'kind' = 'pull_requests' AND request_params->>'name' = 'alpha-service'"
	assert_output "4:0"
}

@test "github: a user's listing holds the repositories it owns, not those it collaborates on" {
	# Review #6: repositoryOwner.repositories defaults to [OWNER, COLLABORATOR].
	dir="$BATS_TEST_TMPDIR/gh-user"
	cp -r "$SMALL" "$dir"
	jq '. + {"dev-user": [{"id": "R_dotfiles", "name": "dotfiles", "nameWithOwner": "dev-user/dotfiles",
		"owner": {"login": "dev-user", "__typename": "User"}, "url": "https://github.com/dev-user/dotfiles",
		"isPrivate": false, "isArchived": false, "isFork": false, "createdAt": "2023-01-01T00:00:00Z",
		"updatedAt": "2023-01-02T00:00:00Z", "pushedAt": "2023-01-02T00:00:00Z"},
		.["etlkit-test"][0]]}' "$SMALL/repos.json" >"$dir/repos.json"
	export GH_DATA_SWITCHED=1
	fake_ctl "$FAKE_GITHUB_URL" "{\"data\": \"$dir\"}" >/dev/null
	iu=$(integ --orgs dev-user)
	run -0 --separate-stderr etl-extract github --integration "$iu" --full
	run -0 q "SELECT string_agg(request_params->>'owner' || '/' || (request_params->>'name'), ',' ORDER BY id)
		FROM raw_extraction_data WHERE request_params->>'kind' = 'pull_requests'"
	assert_output "dev-user/dotfiles"
	run -0 q "SELECT convert_from(raw_data, 'UTF8')::jsonb->'data'->'repositoryOwner'->'repositories'->>'totalCount'
		FROM raw_extraction_data WHERE request_params->>'kind' = 'repositories'"
	assert_output 1
}

@test "github: a cursor that does not advance fails 65 instead of looping" {
	# Review #7: hasNextPage true with the same endCursor was paged forever.
	fake_ctl "$FAKE_GITHUB_URL" '{"stuck_cursor": {"after": 1, "endpoint": "repository.pullRequests"}}' >/dev/null
	run -65 --separate-stderr etl-extract --page-size 2 github --integration "$INTEG" --full
	[[ $stderr == *"pull requests of etlkit-test/alpha-service: GitHub says there is a next page but the cursor does not advance"* ]]
	[ "$(count repository.pullRequests)" -eq 2 ]
	# In a pull request's nested pages too.
	use_db "g${BATS_TEST_NUMBER}b" etl_gh_tmpl
	fake_reset "$FAKE_GITHUB_URL"
	fake_ctl "$FAKE_GITHUB_URL" '{"stuck_cursor": {"endpoint": "node.commits"}}' >/dev/null
	run -65 --separate-stderr etl-extract github --integration "$INTEG" --full
	[[ $stderr == *"commits of pull request #5: GitHub says there is a next page but the cursor does not advance"* ]]
	[ "$(count node.commits)" -eq 1 ]
}

@test "github: more than 10 rate-limit waits for one query: the message says so, not a wait past --max-wait" {
	# Minor (client.c rate_fail): the cap tripped with a short wait but the message spoke of
	# a wait longer than --max-wait.  The reset is at once: each wait is short.
	fake_ctl "$FAKE_GITHUB_URL" '{"rate_points": {"reset_in": 1}, "rate_limit_200": {"count": null}}' >/dev/null
	run -75 --separate-stderr etl-extract --max-wait 5 github --integration "$INTEG" --full
	[[ $stderr == *"repositories of etlkit-test: rate limited: too many rate-limit waits (10) for one request; checkpointed"* ]]
	[[ $stderr != *"more than --max-wait"* ]]
	[ "$(fake_stats "$FAKE_GITHUB_URL" | jq .total)" -eq 11 ]
}

@test "github: --no-store --orgs is split like the repository pattern (blanks trimmed)" {
	# Minor (one list splitter): --orgs kept the blanks, so ' etlkit-test' was another login.
	run -0 --separate-stderr env -u ETL_DATABASE_URL GITHUB_API_URL="$FAKE_GITHUB_URL" \
		GITHUB_TOKEN="$GH_TOKEN" etl-extract --no-store --orgs ' etlkit-test , ' --repos 'beta-*' \
		github --integration 7
	[[ $stderr != *"no such organisation"* ]]
	run -0 jq -sc 'map([.raw_kind, .request_params.name])' <<<"$output"
	assert_output '[["repositories",null],["pull_requests","beta-service"]]'
}
