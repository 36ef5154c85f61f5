/* etl-job - job registry, scheduler and database migrations. */
#include <getopt.h>

#include "cli.h"
#include "jobcli.h"
#include "util.h"

static const char usage[] =
"usage: etl-job [<options>] <command> [<args>]\n"
"\n"
"The job registry of etlkit: database schema, tenants and integrations.\n"
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

/* Later issues add create, list, show, start, tick, status, watch here. */
static const struct etl_jobcli_cmd commands[] = {
	{ "migrate", etl_jobcli_migrate },
	{ "tenant", etl_jobcli_tenant },
	{ "integration", etl_jobcli_integration },
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
			cli.dsn = optarg;
		else if (c == '?' || c == ':' || !etl_cli_common(c, optarg, usage))
			return etl_jobcli_bad_option(c, argv, usage, "");
	}
	return etl_exit(etl_jobcli_dispatch(&cli, commands, ETL_ARRAY_SIZE(commands),
					    "", usage, argc - optind, argv + optind));
}
