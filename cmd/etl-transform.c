/* etl-transform - map raw API responses into the final tables, compute workflow metrics, emit embedding messages. */
#include <getopt.h>

#include "cli.h"
#include "github/transform.h"
#include "jira/transform.h"
#include "stage.h"
#include "transform.h"
#include "util.h"

static const char usage[] =
"usage: etl-transform [--from-queue <queue>] [--to-queue <queue>] [--dry-run]\n"
"                     [--strict] [--dsn <conninfo>]\n"
"\n"
"Read transform messages (NDJSON on stdin, or a queue), load each raw\n"
"response into the final tables with bulk upserts, compute the workflow\n"
"metrics, and on a step's last item emit one embedding message per entity\n"
"the step touched in this run.\n"
"\n"
"  --from-queue <queue>   consume from RabbitMQ instead of stdin\n"
"  --to-queue <queue>     publish embedding messages instead of printing them\n"
"  -n, --dry-run          print the rows it would write, one JSON object per\n"
"                         line ({\"table\", \"key\", \"row\"}), and write nothing;\n"
"                         needs no database unless one is configured\n"
"      --strict           stop at the first bad input line (stdin)\n"
"  -d, --dsn <conninfo>   PostgreSQL connection (default: ETL_DATABASE_URL,\n"
"                         else the PG* variables)\n"
"      --config <file>    read KEY=value settings from <file>\n"
"      --log-format <fmt> text (default) or json\n"
"  -v, --verbose          more messages (twice: debug)\n"
"  -q, --quiet            errors only\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n";

/* Providers with a transform, by the messages' "provider". */
static const struct etl_tx_provider *const providers[] = {
	&etl_jira_tx_provider, &etl_github_tx_provider, NULL,
};

enum { OPT_FROM = 0x100, OPT_TO, OPT_STRICT };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from-queue", required_argument, NULL, OPT_FROM },
		{ "to-queue", required_argument, NULL, OPT_TO },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "dsn", required_argument, NULL, 'd' },
		ETL_CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct etl_stage_opts so = ETL_STAGE_OPTS_INIT;
	struct etl_transform_opts to = ETL_TRANSFORM_OPTS_INIT;
	struct etl_transform *t;
	int c, code = ETL_OK;

	etl_init(argv[0]);
	while ((c = getopt_long(argc, argv, "nd:" ETL_CLI_COMMON_SHORT, longopts,
				NULL)) != -1)
		switch (c) {
		case OPT_FROM: so.from_queue = optarg; break;
		case OPT_TO: so.to_queue = optarg; break;
		case OPT_STRICT: so.strict = true; break;
		case 'n': to.dry_run = true; break;
		case 'd': to.dsn = etl_cli_secret_arg(optarg); break;
		default:
			if (c == '?' || !etl_cli_common(c, optarg, usage))
				etl_usage(usage, ETL_USAGE);
		}
	if (optind < argc) {
		etl_error("unexpected argument '%s'", argv[optind]);
		etl_usage(usage, ETL_USAGE);
	}
	so.input = ETL_STAGE_TRANSFORM;
	/* Inline responses (--no-store) of whole search pages are large. */
	if (!so.from_queue)
		so.max_bytes = (size_t)1 << 30;
	to.providers = providers;
	t = etl_transform_new(&to, &code);
	if (!t)
		return etl_exit(code);
	code = etl_stage_run(&so, etl_transform_handle, t);
	etl_transform_free(t);
	return etl_exit(code);
}
