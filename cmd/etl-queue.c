/* etl-queue - RabbitMQ topology, stats, publish, consume, dead letters, count. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "queue.h"
#include "token.h"
#include "util.h"

static const char usage[] =
"usage: etl-queue [--url <url>] <command> [<args>]\n"
"\n"
"commands:\n"
"   setup [--delivery-limit <n>]         declare the exchanges and queues\n"
"   stats                                messages and consumers per queue\n"
"   publish <queue> [--window <n>] [--max-bytes <n>] [--skip <n>] [--strict]\n"
"                                        publish NDJSON from stdin, confirmed\n"
"   consume <queue> [--count <n>] [--requeue] [--timeout <s> | --follow]\n"
"           [--prefetch <n>]             write messages to stdout as NDJSON\n"
"   dlq list|requeue|purge [--count <n>] dead letters in etl.failed\n"
"   purge <queue>                        drop every message of a queue\n"
"   count --token <uuid> [--tier <tier>] messages of one job run still queued\n"
"\n"
"options:\n"
"   --url <url>           broker (default $ETL_AMQP_URL, else\n"
"                         amqp://guest:guest@localhost:5672/%2f)\n"
"   --config <file>       key=value settings\n"
"   --log-format <fmt>    text or json\n"
"   -v, --verbose         more messages; -q, --quiet: errors only\n"
"   -h, --help            this help ('etl-queue <command> --help' for one)\n"
"   -V, --version         print the version\n";

/* Long-only options: codes past any char, and one bit each in a mask. */
enum { O_LIMIT = 256, O_WINDOW, O_MAXB, O_SKIP, O_STRICT, O_COUNT, O_REQUEUE,
       O_TIMEOUT, O_FOLLOW, O_PREFETCH, O_TOKEN, O_TIER };
#define M(o) (1u << ((o) - O_LIMIT))

static const struct sub {
	const char *name;
	int nargs;
	unsigned opts;
	const char *usage;
} subs[] = {
	{ "setup", 0, M(O_LIMIT), "usage: etl-queue setup [--delivery-limit <n>]\n" },
	{ "stats", 0, 0, "usage: etl-queue stats\n" },
	{ "publish", 1, M(O_WINDOW) | M(O_MAXB) | M(O_SKIP) | M(O_STRICT),
	  "usage: etl-queue publish <queue> [--window <n>] [--max-bytes <n>]"
	  " [--skip <n>] [--strict]\n" },
	{ "consume", 1, M(O_COUNT) | M(O_REQUEUE) | M(O_TIMEOUT) | M(O_FOLLOW) |
	  M(O_PREFETCH) | M(O_LIMIT),
	  "usage: etl-queue consume <queue> [--count <n>] [--requeue]"
	  " [--timeout <seconds> | --follow] [--prefetch <n>]\n" },
	{ "dlq", 1, M(O_COUNT) | M(O_LIMIT),
	  "usage: etl-queue dlq list|requeue|purge [--count <n>]\n" },
	{ "purge", 1, 0, "usage: etl-queue purge <queue>\n" },
	{ "count", 0, M(O_TOKEN) | M(O_TIER) | M(O_LIMIT),
	  "usage: etl-queue count --token <uuid> [--tier <tier>]"
	  " [--delivery-limit <n>]\n" },
};

static const struct option longopts[] = {
	ETL_CLI_COMMON_LONG,
	{ "url", required_argument, NULL, 'U' },
	{ "delivery-limit", required_argument, NULL, O_LIMIT },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "max-bytes", required_argument, NULL, O_MAXB },
	{ "skip", required_argument, NULL, O_SKIP },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "count", required_argument, NULL, O_COUNT },
	{ "requeue", no_argument, NULL, O_REQUEUE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "follow", no_argument, NULL, O_FOLLOW },
	{ "prefetch", required_argument, NULL, O_PREFETCH },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "tier", required_argument, NULL, O_TIER },
	{ NULL, 0, NULL, 0 }
};

static long seconds_ms(const char *arg)
{
	char *end;
	double s = strtod(arg, &end);

	if (end == arg || *end || !(s >= 0 && s <= 86400.0 * 365)) {
		etl_error("option '--timeout' needs seconds, not '%s'", arg);
		etl_usage(usage, ETL_USAGE);
	}
	return (long)(s * 1000);
}

static unsigned parse(struct etl_queue_opts *o, int argc, char **argv, bool *help)
{
	unsigned seen = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" ETL_CLI_COMMON_SHORT, longopts,
				NULL)) != -1) {
		if (c >= O_LIMIT && c <= O_TIER)
			seen |= M(c);
		switch (c) {
		case 'h': *help = true; break;
		case 'U': o->url = etl_cli_secret_arg(optarg); break;
		case O_LIMIT:
			o->delivery_limit = (int)etl_cli_number("delivery-limit", optarg, 1, 1000,
								usage);
			break;
		case O_WINDOW:
			o->window = (size_t)etl_cli_number("window", optarg, 1, 65535, usage);
			break;
		case O_MAXB:
			o->max_bytes = (size_t)etl_cli_number("max-bytes", optarg, 1, 512L << 20,
							      usage);
			break;
		case O_SKIP:
			o->skip = etl_cli_number("skip", optarg, 0, LONG_MAX, usage);
			break;
		case O_STRICT: o->strict = true; break;
		case O_COUNT:
			o->count = etl_cli_number("count", optarg, 0, LONG_MAX, usage);
			break;
		case O_REQUEUE: o->requeue = true; break;
		case O_TIMEOUT: o->timeout_ms = seconds_ms(optarg); break;
		case O_FOLLOW: o->timeout_ms = -1; break;
		case O_PREFETCH:
			o->prefetch = (unsigned)etl_cli_number("prefetch", optarg, 1, 65535, usage);
			break;
		case O_TOKEN: o->token = optarg; break;
		case O_TIER: o->tier = optarg; break;
		case ':':
			etl_error("option '%s' needs a value", argv[optind - 1]);
			etl_usage(usage, ETL_USAGE);
		case '?':
			if (optopt)
				etl_error("unknown option '-%c'", optopt);
			else
				etl_error("unknown option '%s'", argv[optind - 1]);
			etl_usage(usage, ETL_USAGE);
		default:
			if (!etl_cli_common(c, optarg, usage))
				etl_usage(usage, ETL_USAGE);
		}
	}
	return seen;
}

static int run(const struct sub *s, struct etl_queue_opts *o, char **args)
{
	const char *tiers[] = { "free", "basic", "premium", "enterprise" };

	o->table = isatty(STDOUT_FILENO);
	if (!strcmp(s->name, "setup"))
		return etl_queue_setup(o);
	if (!strcmp(s->name, "stats"))
		return etl_queue_stats(o, stdout);
	if (!strcmp(s->name, "publish"))
		return etl_queue_publish(o, args[0], stdin);
	if (!strcmp(s->name, "consume"))
		return etl_queue_consume(o, args[0], stdout);
	if (!strcmp(s->name, "purge"))
		return etl_queue_purge(o, args[0]);
	if (!strcmp(s->name, "dlq")) {
		if (!strcmp(args[0], "list"))
			return etl_queue_dlq_list(o, stdout);
		if (!strcmp(args[0], "requeue"))
			return etl_queue_dlq_requeue(o);
		if (!strcmp(args[0], "purge"))
			return etl_queue_dlq_purge(o);
		etl_error("unknown dlq command '%s' (list, requeue or purge)", args[0]);
		etl_usage(s->usage, ETL_USAGE);
	}
	if (!o->token || !etl_token_valid(o->token, strlen(o->token))) {
		etl_error("count needs --token with a job run's UUID");
		etl_usage(s->usage, ETL_USAGE);
	}
	for (size_t i = 0; o->tier && i < ETL_ARRAY_SIZE(tiers); i++)
		if (!strcmp(o->tier, tiers[i]))
			return etl_queue_count(o, stdout);
	if (o->tier) {
		etl_error("unknown tier '%s' (free, basic, premium or enterprise)", o->tier);
		etl_usage(s->usage, ETL_USAGE);
	}
	return etl_queue_count(o, stdout);
}

int main(int argc, char **argv)
{
	struct etl_queue_opts o = ETL_QUEUE_OPTS_INIT;
	const struct sub *s = NULL;
	bool help = false;
	unsigned seen;
	int nargs;

	etl_init(argv[0]);
	seen = parse(&o, argc, argv, &help);
	if (optind < argc)
		for (size_t i = 0; i < ETL_ARRAY_SIZE(subs) && !s; i++)
			if (!strcmp(argv[optind], subs[i].name))
				s = &subs[i];
	if (help)
		etl_usage(s ? s->usage : usage, ETL_OK);
	if (optind >= argc) {
		etl_error("no command given");
		etl_usage(usage, ETL_USAGE);
	}
	if (!s) {
		etl_error("unknown command '%s'", argv[optind]);
		etl_usage(usage, ETL_USAGE);
	}
	nargs = argc - optind - 1;
	if (nargs != s->nargs) {
		etl_error("'%s' takes %d argument%s, not %d", s->name, s->nargs,
			  s->nargs == 1 ? "" : "s", nargs);
		etl_usage(s->usage, ETL_USAGE);
	}
	if (seen & ~s->opts) {
		etl_error("an option given does not apply to '%s'", s->name);
		etl_usage(s->usage, ETL_USAGE);
	}
	return etl_exit(run(s, &o, argv + optind + 1));
}
