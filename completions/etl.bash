# shellcheck shell=bash
# completions/etl.bash - bash completion for the etlkit programs: etl-extract,
# etl-transform, etl-embed, etl-job, etl-reset and etl-queue (commands, their
# subcommands, long options, and the values of options that have a fixed set).
#
# `make install` puts it in share/bash-completion/completions/etl-job, with the
# other programs as symbolic links to it; or source it: . completions/etl.bash
#
# The word lists mirror each program's --help (STYLE.md G15):
# tests/03-completion.bats checks that every --long option printed by a
# program's --help, and by each subcommand's, appears here and in its man page.
# Adding an option: add it to the program's list below (and to the value
# cases when it takes a fixed set of values).

_etl_queues="extraction_queue_free extraction_queue_basic extraction_queue_premium
extraction_queue_enterprise transform_queue_free transform_queue_basic
transform_queue_premium transform_queue_enterprise embedding_queue_free
embedding_queue_basic embedding_queue_premium embedding_queue_enterprise etl.failed"
_etl_common="--help --version --verbose --quiet --log-format --config"
_etl_steps="jira_projects_and_issue_types jira_statuses_and_relationships
jira_issues_with_changelogs jira_dev_status github_repositories
github_prs_commits_reviews_comments"

# Options taking a value, per program (the value is the next word, or after =).
_etl_valued_etl_job="--dsn --config --log-format --dir --tier --tenant --provider --base-url
--email --token-env --projects --orgs --repos --integration --slot --field --status --step
--name --retry-interval --cycle-interval --url --interval --timeout --limit --output"
_etl_valued_etl_reset="--dsn --config --log-format --interval --stuck --url --delivery-limit"
_etl_valued_etl_queue="--url --config --log-format --delivery-limit --window --max-bytes
--skip --count --timeout --prefetch --token --tier"
_etl_valued_etl_extract="--dsn --config --log-format --from-queue --to-queue --projects
--orgs --repos --max-wait --page-size --batch-size --overlap --reconcile-every --integration --step --since
--replay --replay-job"
_etl_valued_etl_transform="--dsn --config --log-format --from-queue --to-queue"
_etl_valued_etl_embed="--dsn --config --log-format --from-queue --to-queue --provider --store
--dim --batch --max-attempts --idle-exit --tenant --source --limit"

# _etl_subcmds PROG PATH: the words that may follow command path PATH.
_etl_subcmds() {
	case "$1:$2" in
	etl-job:) echo "migrate tenant integration fields status-map create list show enable
		disable delete start tick status watch set-status runs metrics" ;;
	etl-job:tenant) echo "add list" ;;
	etl-job:integration) echo "add list show enable disable" ;;
	etl-job:fields) echo "list map unmap" ;;
	etl-job:status-map) echo "list set" ;;
	etl-queue:) echo "setup stats publish consume dlq purge count" ;;
	etl-queue:dlq) echo "list requeue purge" ;;
	etl-extract:) echo "jira github" ;;
	etl-embed:) echo "search reindex" ;;
	esac
}

# _etl_options PROG PATH: the long options of command path PATH.
_etl_options() {
	local common="$_etl_common"
	case "$1" in
	etl-job)
		common+=" --dsn"
		case "$2" in
		"") echo "$common" ;;
		migrate) echo "$common --dir" ;;
		"tenant add") echo "$common --tier" ;;
		"tenant list") echo "$common --json" ;;
		"integration add") echo "$common --tenant --provider --base-url --email
			--token-env --projects --orgs --repos" ;;
		"integration list") echo "$common --tenant --json" ;;
		"integration show") echo "$common --check-token --token-env" ;;
		"fields list" | "status-map list") echo "$common --integration --json" ;;
		"fields map") echo "$common --integration --slot --field" ;;
		"fields unmap") echo "$common --integration --slot" ;;
		"status-map set") echo "$common --integration --status --step" ;;
		create) echo "$common --tenant --integration --name --retry-interval
			--cycle-interval" ;;
		list) echo "$common --tenant --json" ;;
		delete) echo "$common --force" ;;
		start) echo "$common --to-queue --tier --force --full --url" ;;
		tick) echo "$common --loop --interval --url" ;;
		watch) echo "$common --timeout --json" ;;
		runs) echo "$common --limit --json" ;;
		metrics) echo "$common --output --url" ;;
		*) echo "$common" ;;
		esac ;;
	etl-reset)
		echo "$common --watch --interval --stuck --requeue --dry-run --dsn --url
			--delivery-limit" ;;
	etl-queue)
		common+=" --url"
		case "$2" in
		setup) echo "$common --delivery-limit" ;;
		publish) echo "$common --window --max-bytes --skip --strict" ;;
		consume) echo "$common --count --requeue --timeout --follow --prefetch
			--delivery-limit" ;;
		dlq*) echo "$common --count --delivery-limit" ;;
		count) echo "$common --token --tier --delivery-limit" ;;
		*) echo "$common" ;;
		esac ;;
	etl-extract)
		echo "$common --dsn --from-queue --to-queue --no-store --projects --orgs --repos --strict
			--max-wait --page-size --batch-size --overlap --reconcile-every
			--integration --step --only --since --full --replay --replay-job" ;;
	etl-transform)
		echo "$common --dsn --from-queue --to-queue --dry-run --strict" ;;
	etl-embed)
		case "$2" in
		search) echo "$common --dsn --provider --store --dim --tenant --source --limit
			--table" ;;
		reindex) echo "$common --dsn --provider --store --dim --batch --tenant --source
			--restart" ;;
		*) echo "$common --dsn --from-queue --to-queue --provider --store --dim --batch
			--max-attempts --strict --idle-exit" ;;
		esac ;;
	esac
}

# _etl_values PROG PATH OPTION: the values of OPTION, when they are a known set;
# "-f" for file names; nothing for free text.
_etl_values() {
	case "$3" in
	--log-format) echo "text json" ;;
	--config | --dir | --output) echo "-f" ;;
	--from-queue | --to-queue) echo "$_etl_queues" ;;
	--tier) echo "free basic premium enterprise" ;;
	--source) echo "JIRA GITHUB" ;;
	--store) echo "pg qdrant" ;;
	--provider)
		if [[ $1 == etl-embed ]]; then echo "hash openai"; else echo "jira github"; fi ;;
	--step)
		if [[ $1 == etl-job ]]; then
			echo "backlog to_do in_progress review done default"
		else
			echo "$_etl_steps"
		fi ;;
	--slot) echo "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 team
		code_changed story_points" ;;
	esac
}

# _etl_operands PROG PATH: values for the command's positional arguments.
_etl_operands() {
	case "$1:$2" in
	etl-job:set-status) echo "NOT_STARTED READY RUNNING FINISHED FAILED" ;;
	etl-queue:publish | etl-queue:consume | etl-queue:purge) echo "$_etl_queues" ;;
	esac
}

_etl_complete() {
	local prog=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev="" path="" w i
	local valued_var="_etl_valued_${prog//-/_}" skip=0 subs words
	local valued=" ${!valued_var//$'\n'/ } "

	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# The command path so far: words that name subcommands, skipping options
	# and their values.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((skip)); then
			skip=0
			continue
		fi
		if [[ $w == -* ]]; then
			[[ $w != *=* && $valued == *" $w "* ]] && skip=1
			continue
		fi
		subs=" $(_etl_subcmds "$prog" "$path") "
		subs=${subs//$'\n'/ }
		subs=${subs//$'\t'/ }
		if [[ $subs == *" $w "* ]]; then
			path=${path:+$path }$w
		fi
	done
	# The value of an option: --opt VALUE or --opt=VALUE (which bash splits
	# into --opt, = and VALUE, unless = was taken out of COMP_WORDBREAKS).
	if [[ $cur == = ]]; then
		cur=""
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		cur=${cur#*=}
	elif [[ $cur == -* ]]; then
		prev=""
	fi
	if [[ -n $prev && $valued == *" $prev "* ]]; then
		words=$(_etl_values "$prog" "$path" "$prev")
		if [[ $words == -f ]]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		elif [[ -n $words ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_etl_options "$prog" "$path")" -- "$cur")
		return 0
	fi
	words=$(_etl_subcmds "$prog" "$path")
	[[ -z $words ]] && words=$(_etl_operands "$prog" "$path")
	if [[ -n $words ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
	fi
	return 0
}

complete -F _etl_complete etl-extract etl-transform etl-embed etl-job etl-reset etl-queue
