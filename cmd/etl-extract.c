/* etl-extract - call the Jira or GitHub API, store each response, emit transform messages. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "extract.h"
#include "github/extract.h"
#include "jira/extract.h"
#include "stage.h"
#include "util.h"

static const char usage[] =
"usage: etl-extract [<options>] [--from-queue <queue>] [--to-queue <queue>]\n"
"   or: etl-extract [<options>] (jira | github) --integration <id> [--step <step>]\n"
"                   [--only] [--since <time>] [--full]\n"
"   or: etl-extract [<options>] (--replay <from>-<to> | --replay-job <job-id>)\n"
"\n"
"Reads extraction messages (NDJSON) and runs their steps against the Jira\n"
"or GitHub API: every response is stored in raw_extraction_data and becomes\n"
"one transform message on the output.\n"
"\n"
"Options:\n"
"      --from-queue <queue>  consume extraction messages from RabbitMQ\n"
"      --to-queue <queue>    publish transform messages to RabbitMQ\n"
"      --no-store            no database: responses travel inline; the site\n"
"                            comes from JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN\n"
"                            (GitHub: GITHUB_API_URL, GITHUB_TOKEN)\n"
"      --projects <key>,...  with --no-store: the projects (default: all visible)\n"
"      --orgs <login>,...    with --no-store: GitHub organisations or users\n"
"      --repos <glob>,...    with --no-store: GitHub repositories (default: all)\n"
"      --strict              stop at the first bad input line\n"
"      --max-wait <seconds>  longest rate-limit wait to sit out (default 60);\n"
"                            longer: checkpoint and exit 75 (a worker\n"
"                            parks the message until the limit resets)\n"
"      --page-size <n>       issues per search page (default and maximum 100),\n"
"                            pull requests per page (default 50, maximum 100)\n"
"      --batch-size <n>      issues per changelog bulkfetch call (default 1000)\n"
"      --overlap <seconds>   incremental overlap window (default 300)\n"
"      --reconcile-every <n> deleted-issue pass every Nth incremental run\n"
"                            (default 10; 0: only with a full sync)\n"
"  -d, --dsn <conninfo>      PostgreSQL (default: ETL_DATABASE_URL, PG*)\n"
"      --integration <id>    the integration to extract (with --no-store only\n"
"                            a label in the messages, default 1)\n"
"      --step <step>         start at this step (default: the first)\n"
"      --only                run that one step only\n"
"      --since <time>        last sync time (ISO 8601 or epoch ms)\n"
"      --full                everything, ignoring the last sync time\n"
"      --replay <from>-<to>  emit transform messages for stored raw rows\n"
"      --replay-job <job-id> the same for the job's latest run\n"
"      --config <file>       read KEY=value settings from <file>\n"
"      --log-format <fmt>    text (default) or json\n"
"  -v, --verbose             more messages (twice: debug)\n"
"  -q, --quiet               errors only\n"
"  -h, --help                show this help\n"
"  -V, --version             show the version\n";

struct opts {
	struct etl_extract_opts x;
	struct etl_stage_opts st;
	const char *provider, *step, *since, *replay;
	int64_t integration, replay_job;
	bool full, only;
};

static long number(const char *flag, const char *arg, long min, long max)
{
	long v;

	if (etl_parse_long(arg, min, max, &v) < 0) {
		etl_error("%s: '%s' is not a number in %ld..%ld", flag, arg, min, max);
		etl_usage(usage, ETL_USAGE);
	}
	return v;
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	enum { O_FROM = 256, O_TO, O_NOSTORE, O_PROJECTS, O_STRICT, O_WAIT, O_PAGE, O_BATCH,
	       O_OVERLAP, O_RECONCILE, O_INTEG, O_STEP, O_ONLY, O_SINCE, O_FULL, O_REPLAY,
	       O_REPLAY_JOB, O_ORGS, O_REPOS };
	static const struct option longopts[] = {
		{ "from-queue", required_argument, NULL, O_FROM },
		{ "to-queue", required_argument, NULL, O_TO },
		{ "no-store", no_argument, NULL, O_NOSTORE },
		{ "projects", required_argument, NULL, O_PROJECTS },
		{ "orgs", required_argument, NULL, O_ORGS },
		{ "repos", required_argument, NULL, O_REPOS },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "max-wait", required_argument, NULL, O_WAIT },
		{ "page-size", required_argument, NULL, O_PAGE },
		{ "batch-size", required_argument, NULL, O_BATCH },
		{ "overlap", required_argument, NULL, O_OVERLAP },
		{ "reconcile-every", required_argument, NULL, O_RECONCILE },
		{ "dsn", required_argument, NULL, 'd' },
		{ "integration", required_argument, NULL, O_INTEG },
		{ "step", required_argument, NULL, O_STEP },
		{ "only", no_argument, NULL, O_ONLY },
		{ "since", required_argument, NULL, O_SINCE },
		{ "full", no_argument, NULL, O_FULL },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "replay-job", required_argument, NULL, O_REPLAY_JOB },
		ETL_CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "d:" ETL_CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case O_FROM: o->st.from_queue = optarg; break;
		case O_TO: o->st.to_queue = optarg; break;
		case O_NOSTORE: o->x.store = false; break;
		case O_PROJECTS: o->x.projects = optarg; break;
		case O_ORGS: o->x.orgs = optarg; break;
		case O_REPOS: o->x.repos = optarg; break;
		case O_STRICT: o->st.strict = true; break;
		case O_WAIT: o->x.max_wait_s = number("--max-wait", optarg, 0, 86400); break;
		case O_PAGE: o->x.page_size = (int)number("--page-size", optarg, 1, 100); break;
		case O_BATCH: o->x.batch_size = (int)number("--batch-size", optarg, 1, 1000); break;
		case O_OVERLAP: o->x.overlap_s = number("--overlap", optarg, 0, 86400 * 30); break;
		case O_RECONCILE:
			o->x.reconcile_every = (int)number("--reconcile-every", optarg, 0, 1000000);
			break;
		case 'd': o->x.dsn = etl_cli_secret_arg(optarg); break;
		case O_INTEG: o->integration = number("--integration", optarg, 1, LONG_MAX); break;
		case O_STEP: o->step = optarg; break;
		case O_ONLY: o->only = true; break;
		case O_SINCE: o->since = optarg; break;
		case O_FULL: o->full = true; break;
		case O_REPLAY: o->replay = optarg; break;
		case O_REPLAY_JOB: o->replay_job = number("--replay-job", optarg, 1, LONG_MAX); break;
		default:
			if (!etl_cli_common(c, optarg, usage))
				etl_usage(usage, ETL_USAGE);
		}
	}
	if (optind < argc) {
		bool known;

		o->provider = argv[optind++];
		known = !strcmp(o->provider, "jira") || !strcmp(o->provider, "github");
		/* Without a database the integration is only a label. */
		if (!o->integration && !o->x.store)
			o->integration = 1;
		if (!known || optind < argc || !o->integration) {
			etl_error(!known ? "unknown provider '%s'" :
				  "%s needs --integration <id> and no other argument", o->provider);
			etl_usage(usage, ETL_USAGE);
		}
	}
	if ((o->step || o->only || o->since || o->full || o->integration) && !o->provider) {
		etl_error("--integration, --step, --only, --since and --full go with a provider "
			  "('jira' or 'github')");
		etl_usage(usage, ETL_USAGE);
	}
	if ((o->replay || o->replay_job) &&
	    (o->provider || o->st.from_queue || o->st.to_queue || !o->x.store)) {
		etl_error("--replay writes to standard output from the database: it takes no "
			  "provider, queue or --no-store");
		etl_usage(usage, ETL_USAGE);
	}
	if (o->provider && o->st.from_queue) {
		etl_error("'%s' builds its own message: no --from-queue", o->provider);
		etl_usage(usage, ETL_USAGE);
	}
	if (o->x.projects && o->x.store) {
		etl_error("--projects goes with --no-store (stored integrations keep their projects)");
		etl_usage(usage, ETL_USAGE);
	}
	if ((o->x.orgs || o->x.repos) && o->x.store) {
		etl_error("--orgs and --repos go with --no-store (stored integrations keep theirs)");
		etl_usage(usage, ETL_USAGE);
	}
}

int main(int argc, char **argv)
{
	static const struct etl_extract_provider *const providers[] = {
		&etl_jira_extract_provider, &etl_github_extract_provider, NULL };
	struct opts o = { ETL_EXTRACT_OPTS_INIT, ETL_STAGE_OPTS_INIT, NULL, NULL, NULL, NULL,
			  0, 0, false, false };
	struct etl_buf msg = ETL_BUF_INIT;
	struct etl_extract *x;
	FILE *in = NULL;
	int64_t from = 0, to = 0;
	int why = 0, rc;

	etl_init(argv[0]);
	parse_args(&o, argc, argv);
	if (o.replay) {
		char *dash = strchr(o.replay, '-');

		if (dash)
			*dash = '\0';
		if (!dash || etl_parse_i64(o.replay, &from) < 0 ||
		    etl_parse_i64(dash + 1, &to) < 0 || from < 1 || to < from) {
			etl_error("--replay takes a raw_data_id range <from>-<to>");
			etl_usage(usage, ETL_USAGE);
		}
	}
	x = etl_extract_new(&o.x, providers, &why);
	if (!x)
		return etl_exit(why ? why : ETL_UNAVAIL);
	if (o.replay || o.replay_job) {
		rc = etl_extract_replay(x, from, to, o.replay_job, stdout);
		etl_extract_free(x);
		return etl_exit(rc);
	}
	o.st.input = ETL_STAGE_EXTRACTION;
	if (o.provider) {
		if (etl_extract_adhoc(x, o.provider, o.integration, o.step, o.since, o.full, o.only,
				      &msg, &why) < 0) {
			etl_extract_free(x);
			return etl_exit(why ? why : ETL_UNAVAIL);
		}
		in = fmemopen(msg.buf, msg.len, "r");
		if (!in) {
			etl_extract_free(x);
			etl_die(ETL_SOFTWARE, "cannot read the built message");
		}
		o.st.in = in;
	}
	rc = etl_stage_run(&o.st, etl_extract_handle, x);
	if (in)
		fclose(in);
	etl_buf_release(&msg);
	etl_extract_free(x);
	return etl_exit(rc);
}
