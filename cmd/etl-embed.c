/* etl-embed - embed entities for semantic search, search them, complete jobs. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "embed.h"
#include "util.h"

static const char usage[] =
"usage: etl-embed [--from-queue <queue>] [--to-queue <queue>] [--provider hash|openai]\n"
"                 [--store pg|qdrant] [--dim <n>] [--batch <n>] [<options>]\n"
"   or: etl-embed search <text> --tenant <id> [--source JIRA|GITHUB] [--limit <k>]\n"
"   or: etl-embed reindex --tenant <id> [--source JIRA|GITHUB] [--restart]\n"
"\n"
"Embeds the entities named by embedding messages (NDJSON on stdin, or a\n"
"queue), stores the vectors and records them in the bridge table; prints\n"
"one result line per message.  On last_job_item it completes the job.\n"
"\n"
"Options:\n"
"      --from-queue <queue>  consume embedding messages from RabbitMQ\n"
"      --to-queue <queue>    publish the result lines instead of printing them\n"
"      --provider <name>     hash (default, built in) or openai\n"
"                            (ETL_EMBED_URL, ETL_EMBED_MODEL, ETL_EMBED_API_KEY)\n"
"      --store <name>        pg (default, the vectors table) or qdrant\n"
"                            (ETL_QDRANT_URL, ETL_QDRANT_API_KEY)\n"
"      --dim <n>             vector dimension (hash: 384; openai: the model's)\n"
"      --batch <n>           texts per embedding request and points per upsert;\n"
"                            rows per reindex batch (default 64; reindex 256)\n"
"      --max-attempts <n>    tries of a message on temporary failures (default 5)\n"
"      --strict              stop at the first invalid input line\n"
"      --idle-exit <s>       with --from-queue: end after <s> seconds without a message\n"
"      --tenant <id>         search, reindex: the tenant\n"
"      --source <source>     search, reindex: JIRA or GITHUB only\n"
"      --limit <k>           search: hits to print (default 10)\n"
"      --table               search: an aligned table even when not on a terminal\n"
"      --restart             reindex: start over instead of resuming\n"
"  -d, --dsn <conninfo>      PostgreSQL (default: ETL_DATABASE_URL)\n"
"      --config <file>       read KEY=value settings from <file>\n"
"      --log-format <fmt>    text (default) or json\n"
"  -v, --verbose             more messages (twice: debug)\n"
"  -q, --quiet               errors only\n"
"  -h, --help                show this help\n"
"  -V, --version             show the version\n";

enum { O_FROM = 256, O_TO, O_PROVIDER, O_STORE, O_DIM, O_BATCH, O_ATTEMPTS, O_STRICT,
       O_TENANT, O_SOURCE, O_LIMIT, O_TABLE, O_RESTART, O_IDLE };

/* The first operand, when it is "search" or "reindex", taken out of argv
 * (options may come before it: etl-embed -v search ...). */
static const char *subcommand(const struct option *lo, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			return NULL;
		if (!strncmp(a, "--", 2)) {
			size_t n = strcspn(a + 2, "=");

			for (const struct option *o = lo; o->name; o++)
				if (strlen(o->name) == n && !strncmp(o->name, a + 2, n) &&
				    o->has_arg == required_argument && !a[2 + n])
					i++;
			continue;
		}
		if (a[0] == '-' && a[1]) {
			if (!strcmp(a, "-d"))
				i++;
			continue;
		}
		if (strcmp(a, "search") && strcmp(a, "reindex"))
			return NULL;
		memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof(*argv));
		return a;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		ETL_CLI_COMMON_LONG,
		{ "dsn", required_argument, NULL, 'd' },
		{ "from-queue", required_argument, NULL, O_FROM },
		{ "to-queue", required_argument, NULL, O_TO },
		{ "provider", required_argument, NULL, O_PROVIDER },
		{ "store", required_argument, NULL, O_STORE },
		{ "dim", required_argument, NULL, O_DIM },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "max-attempts", required_argument, NULL, O_ATTEMPTS },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "idle-exit", required_argument, NULL, O_IDLE },
		{ "tenant", required_argument, NULL, O_TENANT },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "table", no_argument, NULL, O_TABLE },
		{ "restart", no_argument, NULL, O_RESTART },
		{ NULL, 0, NULL, 0 }
	};
	struct etl_embed_opts o = ETL_EMBED_OPTS_INIT;
	const char *cmd = NULL, *text = NULL, *source = NULL;
	long tenant = 0, limit = 10;
	bool table = false, restart = false;
	int c;

	etl_init(argv[0]);
	cmd = subcommand(longopts, argc, argv);
	if (cmd)
		argc--;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:" ETL_CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.dsn = etl_cli_secret_arg(optarg); break;
		case O_FROM: o.stage.from_queue = optarg; break;
		case O_TO: o.stage.to_queue = optarg; break;
		case O_PROVIDER: o.embedder.provider = optarg; break;
		case O_STORE: o.store.store = optarg; break;
		case O_DIM:
			o.embedder.dim = (int)etl_cli_number("dim", optarg, 8, ETL_EMBED_DIM_MAX,
							     usage);
			break;
		case O_BATCH:
			o.batch = (int)etl_cli_number("batch", optarg, 1, 10000, usage);
			o.embedder.batch = o.batch > 2048 ? 2048 : o.batch;
			o.store.batch = o.batch;
			break;
		case O_ATTEMPTS:
			o.stage.max_attempts = (int)etl_cli_number("max-attempts", optarg, 1, 100,
								   usage);
			break;
		case O_STRICT: o.stage.strict = true; break;
		case O_IDLE:
			o.stage.idle_exit_ms =
				etl_cli_number("idle-exit", optarg, 1, 86400, usage) * 1000;
			break;
		case O_TENANT:
			tenant = etl_cli_number("tenant", optarg, 1, 1L << 62, usage);
			break;
		case O_SOURCE:
			source = etl_embed_source_name(optarg);
			if (!source) {
				etl_error("unknown source '%s' (JIRA or GITHUB)", optarg);
				etl_usage(usage, ETL_USAGE);
			}
			break;
		case O_LIMIT: limit = etl_cli_number("limit", optarg, 1, 10000, usage); break;
		case O_TABLE: table = true; break;
		case O_RESTART: restart = true; break;
		case ':':
			etl_error("option '%s' needs a value", argv[optind - 1]);
			etl_usage(usage, ETL_USAGE);
		case '?':
			etl_usage(usage, ETL_USAGE);
		default:
			if (!etl_cli_common(c, optarg, usage))
				etl_usage(usage, ETL_USAGE);
		}
	}
	if (cmd && !strcmp(cmd, "search")) {
		if (optind + 1 != argc || !tenant) {
			etl_error(optind + 1 != argc ? "search needs one text to look for" :
				  "search needs --tenant");
			etl_usage(usage, ETL_USAGE);
		}
		text = argv[optind];
		if (!table)
			table = isatty(STDOUT_FILENO);
		return etl_exit(etl_embed_search(&o, text, tenant, source, (int)limit, table,
						 stdout));
	}
	if (optind != argc) {
		etl_error("unexpected argument '%s'", argv[optind]);
		etl_usage(usage, ETL_USAGE);
	}
	if (cmd) {
		if (!tenant) {
			etl_error("reindex needs --tenant");
			etl_usage(usage, ETL_USAGE);
		}
		return etl_exit(etl_embed_reindex(&o, tenant, source, restart, stdout));
	}
	if (tenant || source || table || restart) {
		etl_error("--tenant, --source, --table and --restart go with search or reindex");
		etl_usage(usage, ETL_USAGE);
	}
	return etl_exit(etl_embed_run(&o));
}
