#!/usr/bin/env bash
# share/examples/demo.sh [--queue] - etlkit's main job, for a newcomer (`make demo`,
# `make demo-queue`).
#
# Starts a throwaway PostgreSQL (and with --queue a RabbitMQ node) under a temp
# dir on private ports, and the fake Jira and GitHub of tests/fakes serving the
# sample data of share/examples/jira-sample (3 projects, 30 issues with complete
# changelogs, custom fields, linked pull requests) and share/examples/github-sample
# (4 repositories, their pull requests with every commit, review and comment);
# creates a tenant, a Jira and a GitHub integration and a job for each; runs each
# job
#
#     etl-job start ID | etl-extract | etl-transform | etl-embed
#
# (or through one RabbitMQ worker per stage) with its live progress on standard
# error (etl-job watch); prints a summary, issues with their pull requests, and
# the top hits of a semantic search; and stops everything it started, whatever
# happens.  Needs no network.
#
# The services come from tests/test_helper.bash, which works outside bats too:
# the demo and the tests start them the same way.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
queue=0
case ${1:-} in
--queue) queue=1 ;;
"") ;;
*) echo "usage: $0 [--queue]" >&2; exit 64 ;;
esac

# shellcheck disable=SC1091  # tests/test_helper.bash, found at run time
source "$root/tests/test_helper.bash"

if [[ -t 1 ]]; then
	bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'
else
	bold='' dim='' off=''
fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/etl-demo.XXXXXX")
workers=()
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${workers[@]}"; do wait "$p" 2>/dev/null || true; done
	printf '\n%s==> stopping what the demo started%s\n' "$bold" "$off"
	stop_all || rc=1
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in etl-job etl-extract etl-transform etl-embed etl-reset etl-queue; do
	if [[ ! -x $ETL_BIN_DIR/$p ]]; then
		echo "demo: $ETL_BIN_DIR/$p is missing: run 'make' first" >&2
		exit 69
	fi
done

step "starting a throwaway PostgreSQL, the fake Jira and the fake GitHub (share/examples)"
start_pg
start_fake_jira "$root/share/examples/jira-sample"
start_fake_github "$root/share/examples/github-sample"
if ((queue)); then
	step "starting a throwaway RabbitMQ node"
	start_rabbitmq
	show etl-queue setup
	etl-queue setup
fi
echo "PostgreSQL: $ETL_DATABASE_URL"
echo "fake Jira:  $FAKE_JIRA_URL"
echo "fake GitHub: $FAKE_GITHUB_URL/graphql"

step "creating the schema, a tenant, a Jira and a GitHub integration, a job for each"
# A throwaway key for the stored credentials, and the fakes' API tokens, which
# reach etl-job through the environment only.
ETL_SECRET_KEY=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
JIRA_API_TOKEN=demo-token-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
GITHUB_TOKEN=ghp_demo$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
export ETL_SECRET_KEY JIRA_API_TOKEN GITHUB_TOKEN
show etl-job migrate
etl-job -q migrate
show etl-job tenant add demo --tier premium
tenant=$(etl-job tenant add demo --tier premium)
show "etl-job integration add --tenant demo --provider jira --base-url $FAKE_JIRA_URL \\"
show "    --email demo@example.com --token-env JIRA_API_TOKEN"
integration=$(etl-job integration add --tenant demo --provider jira \
	--base-url "$FAKE_JIRA_URL" --email demo@example.com --token-env JIRA_API_TOKEN)
show "etl-job create --tenant demo --integration $integration --name \"jira sync\""
job=$(etl-job create --tenant demo --integration "$integration" --name "jira sync")
show "etl-job integration add --tenant demo --provider github --base-url $FAKE_GITHUB_URL \\"
show "    --orgs etlkit-test --token-env GITHUB_TOKEN"
gh_integration=$(etl-job integration add --tenant demo --provider github \
	--base-url "$FAKE_GITHUB_URL" --orgs etlkit-test --token-env GITHUB_TOKEN)
show "etl-job create --tenant demo --integration $gh_integration --name \"github sync\""
gh_job=$(etl-job create --tenant demo --integration "$gh_integration" --name "github sync")
echo "tenant $tenant: Jira integration $integration, job $job;" \
	"GitHub integration $gh_integration, job $gh_job"

# Live progress on standard error: the table on a terminal, one line per change
# otherwise.
watch_job() {
	if [[ -t 2 ]]; then
		etl-job watch "$1" --timeout 300 >&2
	else
		etl-job watch "$1" --timeout 300 | jq -r --unbuffered '.status as $s |
			"  \($s.overall): " + ([$s.steps // {} | to_entries | sort_by(.value.order)[]
			| "\(.value.order):\(.value.extraction[0:1])\(.value.transform[0:1])\(.value.embedding[0:1])"]
			| join(" "))' >&2
	fi
}

# run_job ID NAME: the job in a pipe, or through the workers, with its progress.
run_job() {
	local watcher
	if ((queue)); then
		step "running the $2 job through RabbitMQ"
		watch_job "$1" &
		watcher=$!
		show "etl-job start $1 --to-queue"
		etl-job start "$1" --to-queue
		wait "$watcher" || true
		# The job is FINISHED when its last message is handled; other workers
		# may still be busy: wait for the queues to empty (as etl-reset does).
		for _ in $(seq 100); do
			[[ $(etl-queue stats | jq -s 'map(.messages) | add') == 0 ]] && break
			sleep 0.1
		done
	else
		step "running the $2 job in a pipe"
		show "etl-job start $1 | etl-extract | etl-transform | etl-embed"
		watch_job "$1" &
		watcher=$!
		sleep 0.2
		etl-job start "$1" | etl-extract | etl-transform | etl-embed >>"$work/embed.out"
		wait "$watcher" || true
	fi
}

if ((queue)); then
	step "starting one worker per stage"
	show "etl-extract --from-queue extraction_queue_premium --to-queue transform_queue_premium &"
	etl-extract --from-queue extraction_queue_premium --to-queue transform_queue_premium \
		2>"$work/extract.err" &
	workers+=($!)
	show "etl-transform --from-queue transform_queue_premium --to-queue embedding_queue_premium &"
	etl-transform --from-queue transform_queue_premium --to-queue embedding_queue_premium \
		2>"$work/transform.err" &
	workers+=($!)
	show "etl-embed --from-queue embedding_queue_premium &"
	etl-embed --from-queue embedding_queue_premium >"$work/embed.out" 2>"$work/embed.err" &
	workers+=($!)
fi
run_job "$job" Jira
run_job "$gh_job" GitHub
if ((queue)); then
	show "etl-queue stats   # the premium queues: empty, one consumer each"
	etl-queue stats | jq -r 'select(.queue | endswith("premium"))
		| "  \(.queue)\t\(.messages) messages\t\(.consumers) consumer(s)"'
	for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${workers[@]}"; do wait "$p" || echo "demo: a worker exited $?" >&2; done
	workers=()
fi

step "what arrived"
psql -X -q -P footer=off -P pager=off -c "SELECT
	(SELECT count(*) FROM projects) AS projects,
	(SELECT count(*) FROM work_items) AS work_items,
	(SELECT count(*) FROM changelogs) AS changelog_entries,
	(SELECT count(*) FROM work_items_prs_links) AS pr_links,
	(SELECT count(*) FROM repositories) AS repos,
	(SELECT count(*) FROM prs) AS pull_requests,
	(SELECT count(*) FROM prs_commits) AS commits,
	(SELECT count(*) FROM prs_reviews) AS reviews,
	(SELECT count(*) FROM vectors) AS vectors,
	(SELECT count(*) FROM raw_extraction_data) AS raw_responses"

step "workflow metrics of a few work items (from their complete changelogs)"
psql -X -q -P footer=off -P pager=off -c "SELECT key, type_name AS type, status_name AS status,
	total_work_starts AS starts, total_completions AS completions,
	round(total_cycle_time_seconds / 86400.0, 1) AS cycle_days,
	round(total_lead_time_seconds / 86400.0, 1) AS lead_days,
	rework_indicator AS rework, changelog_count AS changes
	FROM work_items WHERE total_cycle_time_seconds IS NOT NULL
	ORDER BY changelog_count DESC, key LIMIT 6"

step "issues and their pull requests (Jira's development links joined to GitHub)"
psql -X -q -P footer=off -P pager=off -c "SELECT w.key, w.status_name AS status,
	r.full_name || '#' || p.number AS pull_request, p.state, p.commit_count AS commits,
	p.review_count AS reviews,
	round(extract(epoch FROM p.merged - p.first_commit_at) / 3600.0, 1) AS commit_to_merge_h
	FROM work_items w
	JOIN work_items_prs_links l ON l.tenant_id = w.tenant_id AND l.work_item_id = w.id
	JOIN repositories r ON r.tenant_id = l.tenant_id AND lower(r.full_name) = lower(l.repo_full_name)
	JOIN prs p ON p.tenant_id = r.tenant_id AND p.repository_id = r.id AND p.number = l.pr_number
	ORDER BY p.commit_count DESC, w.key LIMIT 6"

step "the Jira job's status and its run"
show "etl-job status $job"
etl-job status "$job" | jq -c '{overall, reset_deadline, steps: (.steps | to_entries
	| sort_by(.value.order) | map({(.key): "\(.value.extraction)/\(.value.transform)/\(.value.embedding)"})
	| add)}'
show "etl-job runs $job"
etl-job runs "$job" --json | jq -c '{outcome, duration_s, api_calls, step_counts,
	peak_rss_kb, vectors_queued}'

step "semantic search over what was embedded"
show "etl-embed search \"login drops unicode characters\" --tenant $tenant --limit 5"
etl-embed search "login drops unicode characters" --tenant "$tenant" --limit 5 --table

step "next"
cat <<EOF
In 30 seconds etl-reset (cron: every minute) puts the jobs back to READY, and
etl-job tick (cron) starts them again when they are due; 'make demo-queue'
runs the same jobs through RabbitMQ workers.  See man/etl-job.1, man/etl-reset.1 and
README.md.
EOF
