/* etl-job - job registry, scheduler and database migrations. */
#include <getopt.h>

#include "cli.h"
#include "fieldscli.h"
#include "jobcli.h"
#include "jobcmd.h"
#include "util.h"

static const char usage[] =
"usage: etl-job [<options>] <command> [<args>]\n"
"\n"
"The job registry and scheduler of etlkit: database schema, tenants,\n"
"integrations, jobs, their runs and live status.\n"
"\n"
"Commands:\n"
"  migrate [--dir <dir>]            apply pending schema migrations\n"
"  tenant add <name> [--tier <tier>]  create a tenant, print its id\n"
"  tenant list                      list tenants\n"
"  integration add --tenant <tenant> --provider (jira | github)\n"
"                  [--base-url <url>] [--email <email>] --token-env <var>\n"
"                  [--projects <key>,... | --orgs <org>,...] [--repos <pattern>]\n"
"                                   store an integration, print its id\n"
"  integration list [--tenant <tenant>]\n"
"  integration show <id> [--check-token] [--token-env <var>]\n"
"  integration enable <id>\n"
"  integration disable <id>\n"
"  fields list --integration <id>   discovered custom fields and their slots\n"
"  fields map --integration <id> --slot <slot> --field <customfield_N>\n"
"  fields unmap --integration <id> --slot <slot>\n"
"                                   map a custom field to a work_items column\n"
"                                   (01..20, team, code_changed, story_points)\n"
"  status-map list --integration <id>\n"
"                                   statuses and their workflow steps\n"
"  status-map set --integration <id> --status <name-or-id> --step <step>\n"
"                                   map a status to a workflow step\n"
"  create --tenant <tenant> --integration <id> --name <name>\n"
"         [--retry-interval <iv>] [--cycle-interval <iv>]\n"
"                                   create a job (READY, due now), print its id\n"
"  list [--tenant <tenant>] [--json]  list jobs\n"
"  show <id>                        a job as JSON\n"
"  enable <id> | disable <id>       include or skip a job\n"
"  delete <id> [--force]            delete a job and its run history\n"
"  start <id> [--to-queue | --tier <tier>] [--force] [--full] [--url <url>]\n"
"                                   start a run: its first extraction message\n"
"                                   on stdout, or published to the queue\n"
"  tick [--loop] [--interval <seconds>] [--url <url>]\n"
"                                   start due jobs onto their queues (cron)\n"
"  status <id>                      the status JSON\n"
"  watch [<id>] [--timeout <seconds>] [--json]\n"
"                                   follow the status live\n"
"  set-status <id> <state>          recovery: READY, NOT_STARTED or FAILED\n"
"  runs <id> [--limit <n>] [--json]  run history\n"
"  metrics [--output <file>] [--url <url>]\n"
"                                   Prometheus text format, for node_exporter\n"
"\n"
"Options:\n"
"  -d, --dsn <conninfo>     PostgreSQL conninfo or URI (default:\n"
"                           ETL_DATABASE_URL, else the PG* variables)\n"
"      --config <file>      read KEY=value settings from <file>\n"
"      --log-format <fmt>   text (default) or json\n"
"  -v, --verbose            more messages (twice: debug)\n"
"  -q, --quiet              errors only\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n"
"\n"
"Run 'etl-job <command> --help' for a command's options.\n";

static const struct etl_jobcli_cmd commands[] = {
	{ "migrate", etl_jobcli_migrate },
	{ "tenant", etl_jobcli_tenant },
	{ "integration", etl_jobcli_integration },
	{ "fields", etl_fieldscli_fields },
	{ "status-map", etl_fieldscli_status_map },
	{ "create", etl_jobcmd_create },
	{ "list", etl_jobcmd_list },
	{ "show", etl_jobcmd_show },
	{ "enable", etl_jobcmd_enable },
	{ "disable", etl_jobcmd_disable },
	{ "delete", etl_jobcmd_delete },
	{ "start", etl_jobcmd_start },
	{ "tick", etl_jobcmd_tick },
	{ "status", etl_jobcmd_status },
	{ "watch", etl_jobcmd_watch },
	{ "set-status", etl_jobcmd_set_status },
	{ "runs", etl_jobcmd_runs },
	{ "metrics", etl_jobcmd_metrics },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dsn", required_argument, NULL, 'd' },
		ETL_CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct etl_jobcli cli = ETL_JOBCLI_INIT;
	int c;

	etl_init(argv[0]);
	opterr = 0;
	/* "+": stop at the command; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+:d:" ETL_CLI_COMMON_SHORT, longopts,
				NULL)) != -1) {
		if (c == 'd')
			cli.dsn = etl_cli_secret_arg(optarg);
		else if (c == '?' || c == ':' || !etl_cli_common(c, optarg, usage))
			return etl_jobcli_bad_option(c, argv, usage, "");
	}
	return etl_exit(etl_jobcli_dispatch(&cli, commands, ETL_ARRAY_SIZE(commands),
					    "", usage, argc - optind, argv + optind));
}
