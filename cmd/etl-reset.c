/* etl-reset - the post-job reset countdown and stuck-job recovery (lib/reset.h). */
#include <getopt.h>

#include "cli.h"
#include "reset.h"
#include "util.h"

static const char usage[] =
"usage: etl-reset [--watch [--interval <seconds>]] [--stuck <age> [--requeue]]\n"
"                 [--dry-run] [--dsn <conninfo>] [--url <url>]\n"
"\n"
"The reset countdown after a job finishes: each FINISHED job past its\n"
"reset_deadline goes back to READY (steps idle) once every step is finished\n"
"and no message of its run is left in any queue; otherwise its deadline\n"
"moves on by 60, 180, then 300 s.  One pass (for cron, every minute), or\n"
"--watch.  One JSON line per job acted on.\n"
"\n"
"Options:\n"
"  -w, --watch              pass after pass until SIGTERM or SIGINT\n"
"      --interval <seconds> between passes with --watch (default 5)\n"
"      --stuck <age>        also recover RUNNING jobs with no progress for\n"
"                           <age> (90, 30m, 2h, 1d): mark them FAILED\n"
"      --requeue            with --stuck: back to READY instead\n"
"  -n, --dry-run            say what would be done, change nothing\n"
"  -d, --dsn <conninfo>     PostgreSQL (default: ETL_DATABASE_URL, else PG*)\n"
"      --url <url>          RabbitMQ (default: ETL_AMQP_URL; unset: the\n"
"                           queues are not checked)\n"
"      --delivery-limit <n> the queues' x-delivery-limit (default 5)\n"
"      --config <file>      read KEY=value settings from <file>\n"
"      --log-format <fmt>   text (default) or json\n"
"  -v, --verbose            more messages (twice: debug)\n"
"  -q, --quiet              errors only\n"
"  -h, --help               show this help\n"
"  -V, --version            show the version\n";

enum { O_INTERVAL = 0x100, O_STUCK, O_REQUEUE, O_URL, O_LIMIT };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "stuck", required_argument, NULL, O_STUCK },
		{ "requeue", no_argument, NULL, O_REQUEUE },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "dsn", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, O_URL },
		{ "delivery-limit", required_argument, NULL, O_LIMIT },
		ETL_CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct etl_reset_opts o = ETL_RESET_OPTS_INIT;
	int c;

	etl_init(argv[0]);
	o.out = stdout;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":wnd:" ETL_CLI_COMMON_SHORT, longopts,
				NULL)) != -1) {
		switch (c) {
		case 'w': o.watch = true; continue;
		case 'n': o.dry_run = true; continue;
		case 'd': o.dsn = etl_cli_secret_arg(optarg); continue;
		case O_URL: o.amqp_url = etl_cli_secret_arg(optarg); continue;
		case O_REQUEUE: o.requeue = true; continue;
		case O_INTERVAL:
			o.interval_ms = etl_cli_number("interval", optarg, 1, 86400, usage) * 1000;
			continue;
		case O_LIMIT:
			o.delivery_limit = (int)etl_cli_number("delivery-limit", optarg, 1, 1000,
							       usage);
			continue;
		case O_STUCK:
			if (etl_reset_parse_age(optarg, &o.stuck_s) < 0) {
				etl_error("invalid age '%s' for --stuck (90, 30m, 2h, 1d)", optarg);
				etl_usage(usage, ETL_USAGE);
			}
			continue;
		}
		if (c == ':')
			etl_error("option '%s' needs a value", argv[optind - 1]);
		else if (c == '?' || !etl_cli_common(c, optarg, usage))
			etl_error("unknown option '%s'", argv[optind - 1]);
		else
			continue;
		etl_usage(usage, ETL_USAGE);
	}
	if (optind < argc) {
		etl_error("unexpected argument '%s'", argv[optind]);
		etl_usage(usage, ETL_USAGE);
	}
	if (o.requeue && !o.stuck_s) {
		etl_error("--requeue needs --stuck");
		etl_usage(usage, ETL_USAGE);
	}
	return etl_exit(etl_reset_run(&o));
}
