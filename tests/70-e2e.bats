#!/usr/bin/env bats
# End to end, Jira: a job on tests/fixtures/jira-small (fake Jira) run in a pipe, through
# RabbitMQ with one and two workers per stage, and with workers killed mid-job
# (tests/e2e_helper.bash says what every run must show).

setup_file() {
	load test_helper
	load e2e_helper
	e2e_setup_file
	start_fake_jira
	JIRA_TOKEN="ATATT-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
	export JIRA_TOKEN
	etl-job integration add --tenant acme --provider jira --base-url "$FAKE_JIRA_URL" \
		--email etl-test@example.com --token-env JIRA_TOKEN >/dev/null
	JOB=$(etl-job create --tenant acme --integration 1 --name "jira sync")
	export JOB E2E_STEPS=4 E2E_API_URL=$FAKE_JIRA_URL
	export E2E_TABLES="projects wits statuses custom_fields projects_custom_fields projects_wits
		projects_statuses work_items changelogs work_items_prs_links status_mappings
		custom_fields_mapping"
}

teardown_file() { stop_all; }

setup() {
	load test_helper
	load e2e_helper
	e2e_setup
}

teardown() { e2e_teardown; }

e2e_check_pipe() {
	[ "$(q "SELECT count(*) FROM work_items")" -eq "$(ls "$ETL_FIXTURES_DIR"/jira-small/issues | wc -l)" ]
	[ "$(q "SELECT count(*) FROM changelogs")" -gt 100 ]
	[ "$(q "SELECT count(*) FROM vectors")" -gt 30 ]
}

@test "pipe: etl-job start | etl-extract | etl-transform | etl-embed" { e2e_pipe; }

@test "queues, one worker per stage: the same tables as the pipe" { e2e_queues_one; }

@test "queues, two workers per stage: the same tables as the pipe" { e2e_queues_two; }

@test "kill -9 a worker of each stage mid-job, restart it: the job finishes, nothing lost" {
	e2e_kill_workers
}
