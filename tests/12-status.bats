#!/usr/bin/env bats
# lib/status: one atomic update per change, NOTIFY with the whole status,
# token-guarded, no lost updates under concurrency.

setup_file() {
	load test_helper
	start_pg
	etl-job migrate >/dev/null
	psql -qAt -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO tenants (id, name) VALUES (1, 'acme');
INSERT INTO integrations (id, tenant_id, provider, base_url) VALUES (1, 1, 'jira', 'https://x.test');
INSERT INTO etl_jobs (id, tenant_id, integration_id, name, status)
	VALUES (7, 1, 1, 'jira sync', '{"overall": "READY", "steps": {}}');
SQL
}

teardown_file() { stop_all; }

setup() { load test_helper; }

TOKEN=6f0fa209-3c3e-4e21-9bbe-ecff52563b61
OTHER=11111111-2222-4333-8444-555555555555

status_of() { psql -qAt -c "SELECT $1 FROM etl_jobs WHERE id = 7"; }

@test "start: RUNNING with the token and every Jira step idle, only from READY" {
	run -0 "$ETL_UNIT_DIR/status_tool" start 7 "$TOKEN" jira
	run -0 status_of "status->>'overall'"
	assert_output RUNNING
	run -0 status_of "status->>'token'"
	assert_output "$TOKEN"
	run -0 status_of "(SELECT string_agg(k || '=' || (v->>'order') || ':' || (v->>'extraction') || (v->>'transform') || (v->>'embedding'), ',' ORDER BY k) FROM jsonb_each(status->'steps') AS e(k, v))"
	assert_output "jira_dev_status=4:idleidleidle,jira_issues_with_changelogs=3:idleidleidle,jira_projects_and_issue_types=1:idleidleidle,jira_statuses_and_relationships=2:idleidleidle"
	# A second start of a RUNNING job changes nothing.
	run -1 "$ETL_UNIT_DIR/status_tool" start 7 "$OTHER" jira force
	run -0 status_of "status->>'token'"
	assert_output "$TOKEN"
}

@test "set-stage: 60 concurrent updates of different stages lose none" {
	steps=(jira_projects_and_issue_types jira_statuses_and_relationships jira_issues_with_changelogs jira_dev_status)
	stages=(extraction transform embedding)
	# Wait for these pids only: a bare `wait` would also wait for the
	# harness's watchdog.
	pids=()
	for round in 1 2 3 4 5; do
		for s in "${steps[@]}"; do
			for g in "${stages[@]}"; do
				"$ETL_UNIT_DIR/status_tool" set 7 "$TOKEN" "$s" "$g" "r$round" &
				pids+=($!)
			done
		done
	done
	wait "${pids[@]}"
	pids=()
	for s in "${steps[@]}"; do
		for g in "${stages[@]}"; do
			"$ETL_UNIT_DIR/status_tool" set 7 "$TOKEN" "$s" "$g" finished &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	run -0 status_of "(SELECT count(*) FROM jsonb_each(status->'steps') AS e(k, v), jsonb_each_text(v) AS f(stage, st) WHERE stage IN ('extraction','transform','embedding') AND st = 'finished')"
	assert_output 12
	run -0 status_of "status->'steps'->'jira_dev_status'->>'display_name'"
	assert_output "Development Status"
}

@test "a straggler of another run cannot change the status" {
	run -1 "$ETL_UNIT_DIR/status_tool" set 7 "$OTHER" jira_dev_status embedding failed
	run -0 status_of "status->'steps'->'jira_dev_status'->>'embedding'"
	assert_output finished
}

@test "running never replaces finished (a slow first-message worker)" {
	run -1 "$ETL_UNIT_DIR/status_tool" set 7 "$TOKEN" jira_dev_status embedding running
	run -0 status_of "status->'steps'->'jira_dev_status'->>'embedding'"
	assert_output finished
}

@test "every change is notified on etl_job_status with the whole status" {
	"$ETL_UNIT_DIR/status_tool" listen 2 10000 >"$BATS_TEST_TMPDIR/notes" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	for _ in $(seq 50); do grep -q listening "$BATS_TEST_TMPDIR/err" && break; sleep 0.1; done
	"$ETL_UNIT_DIR/status_tool" set 7 "$TOKEN" jira_dev_status transform failed
	"$ETL_UNIT_DIR/status_tool" checkpoint 7 "$TOKEN" '{"step":"jira_issues_with_changelogs","cursor":"abc"}'
	wait "$pid"
	run -0 jq -r '[.type, .job_id, .tenant_id, .status.steps.jira_dev_status.transform, (.status.checkpoint.cursor // "-")] | @tsv' "$BATS_TEST_TMPDIR/notes"
	assert_line --index 0 "$(printf 'job_status_update\t7\t1\tfailed\t-')"
	assert_line --index 1 "$(printf 'job_status_update\t7\t1\tfailed\tabc')"
}

@test "complete: FINISHED, reset deadline in 30 s, exactly once" {
	run -0 "$ETL_UNIT_DIR/status_tool" complete 7 "$TOKEN" 2026-01-02T03:04:05Z
	run -0 status_of "status->>'overall' || ' ' || (status->>'reset_attempt') || ' ' || (abs(extract(epoch FROM (status->>'reset_deadline')::timestamptz - now()) - 30) < 5)"
	assert_output "FINISHED 0 true"
	run -0 status_of "last_sync_date AT TIME ZONE 'UTC'"
	assert_output "2026-01-02 03:04:05"
	run -1 "$ETL_UNIT_DIR/status_tool" complete 7 "$TOKEN"
}

@test "a status past 8000 bytes notifies the ids alone" {
	psql -qAt -c "UPDATE etl_jobs SET status = status || jsonb_build_object('overall', 'RUNNING', 'alert', repeat('x', 9000)) WHERE id = 7"
	"$ETL_UNIT_DIR/status_tool" listen 1 10000 >"$BATS_TEST_TMPDIR/notes" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	for _ in $(seq 50); do grep -q listening "$BATS_TEST_TMPDIR/err" && break; sleep 0.1; done
	run -0 "$ETL_UNIT_DIR/status_tool" fail 7 "$TOKEN" "boom"
	wait "$pid"
	run -0 jq -c . "$BATS_TEST_TMPDIR/notes"
	assert_output '{"type":"job_status_update","job_id":7,"tenant_id":1,"truncated":true}'
	run -0 status_of "status->>'overall' || ' ' || error_message"
	assert_output "FAILED boom"
}
