#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amqp.h"
#include "cli.h"
#include "db.h"
#include "job.h"
#include "jobcmd.h"
#include "log.h"
#include "runstats.h"
#include "status.h"
#include "tenant.h"
#include "util.h"
#include "watch.h"

#define SUB_SHORT ":d:" ETL_CLI_COMMON_SHORT
#define SUB_LONG { "dsn", required_argument, NULL, 'd' }, ETL_CLI_COMMON_LONG, \
	{ NULL, 0, NULL, 0 }

enum { O_TENANT = 0x100, O_INTEGRATION, O_NAME, O_RETRY, O_CYCLE, O_JSON, O_FORCE,
       O_TO_QUEUE, O_TIER, O_FULL, O_URL, O_LOOP, O_INTERVAL, O_TIMEOUT, O_LIMIT,
       O_OUTPUT };

static const char usage_create[] =
"usage: etl-job create --tenant <tenant> --integration <id> --name <name>\n"
"           [--retry-interval <interval>] [--cycle-interval <interval>]\n"
"\n"
"Create a job and print its id alone.  It is READY and due now: the next\n"
"'etl-job tick' starts it.\n"
"\n"
"  --tenant <tenant>        tenant id or name\n"
"  --integration <id>       one of the tenant's integrations\n"
"  --name <name>            unique within the tenant\n"
"  --retry-interval <iv>    wait before the tenant's next job (default\n"
"                           '15 minutes'; a PostgreSQL interval)\n"
"  --cycle-interval <iv>    wait before the first job again after the last\n"
"                           (default '60 minutes')\n";

static const char usage_list[] =
"usage: etl-job list [--tenant <tenant>] [--json]\n"
"\n"
"List jobs: a table on a terminal, else one JSON object per line.\n"
"\n"
"  --tenant <tenant>        only this tenant's (id or name)\n"
"  --json                   NDJSON even on a terminal\n";

static const char usage_show[] =
"usage: etl-job show <id>\n"
"\n"
"Print a job, its status and schedule as one JSON object.\n";

static const char usage_enable[] = "usage: etl-job enable <id>\n";
static const char usage_disable[] =
"usage: etl-job disable <id>\n"
"\n"
"An inactive job is skipped by 'etl-job tick' and refused by 'etl-job start'.\n";

static const char usage_delete[] =
"usage: etl-job delete <id> [--force]\n"
"\n"
"Delete a job and its run history.\n"
"\n"
"  --force                  even while it runs\n";

static const char usage_start[] =
"usage: etl-job start <id> [--to-queue | --tier <tier>] [--force] [--full]\n"
"           [--url <url>]\n"
"\n"
"Start a run: a new token, the status RUNNING with every step idle, a run\n"
"record, and the job's first extraction message on standard output:\n"
"\n"
"  etl-job start 7 | etl-extract | etl-transform | etl-embed\n"
"\n"
"  --to-queue               publish it to extraction_queue_<tier> of the\n"
"                           tenant's tier instead (confirmed); print\n"
"                           {\"job_id\", \"action\", \"token\", \"queue\"}\n"
"  --tier <tier>            publish to that tier's queue (implies --to-queue)\n"
"  --force                  start a FINISHED or FAILED job without waiting\n"
"                           for etl-reset\n"
"  --full                   a full sync: \"full\": true, last_sync_date ignored\n"
"  --url <url>              broker (default $ETL_AMQP_URL)\n";

static const char usage_tick[] =
"usage: etl-job tick [--loop] [--interval <seconds>] [--url <url>]\n"
"\n"
"Start every due job (active, READY, next_run reached) onto its tenant\n"
"tier's extraction queue and schedule the tenant's next job; for cron.\n"
"Concurrent ticks never start a job twice.  One JSON line per job started.\n"
"\n"
"  --loop                   run until SIGTERM, a pass every --interval\n"
"  --interval <seconds>     between passes (default 60)\n"
"  --url <url>              broker (default $ETL_AMQP_URL)\n";

static const char usage_status[] =
"usage: etl-job status <id>\n"
"\n"
"Print the job's status JSON (overall, token, steps, reset_deadline, ...).\n";

static const char usage_watch[] =
"usage: etl-job watch [<id>] [--timeout <seconds>] [--json]\n"
"\n"
"Follow the job's status live: a table of steps x stages on a terminal,\n"
"else one JSON line per change.  Exits 0 when the job is FINISHED, 1 when\n"
"it FAILED, 75 on --timeout or a signal.  Without <id>: every job, until\n"
"SIGINT.\n"
"\n"
"  --timeout <seconds>      give up after this long\n"
"  --json                   NDJSON even on a terminal\n";

static const char usage_set_status[] =
"usage: etl-job set-status <id> <state>\n"
"\n"
"Recovery: set the job's overall state.  READY or NOT_STARTED from any\n"
"state (a running run is cancelled), FAILED from RUNNING.  RUNNING and\n"
"FINISHED are refused: use 'etl-job start'; only a run's last message\n"
"finishes it.\n";

static const char usage_runs[] =
"usage: etl-job runs <id> [--limit <n>] [--json]\n"
"\n"
"The job's run history, newest first: a table on a terminal, else NDJSON.\n"
"\n"
"  --limit <n>              at most n runs (default 20)\n"
"  --json                   NDJSON even on a terminal\n";

static const char usage_metrics[] =
"usage: etl-job metrics [--output <file>] [--url <url>]\n"
"\n"
"Every job's state and last run, and the queue depths when a broker is\n"
"configured, in the Prometheus text format (node_exporter textfile\n"
"collector).\n"
"\n"
"  --output <file>          write <file> atomically (a temporary file, then\n"
"                           rename) instead of standard output\n"
"  --url <url>              broker (default $ETL_AMQP_URL)\n";

struct opts {
	const char *tenant, *integration, *name, *retry, *cycle, *tier, *url, *output;
	bool json, force, to_queue, full, loop;
	long interval_s, timeout_s, limit;
	char **args;       /* operands */
	int nargs;
};

static int number(const char *opt, const char *arg, long min, long max, long *out,
		  const char *usage, const char *path)
{
	if (etl_parse_long(arg, min, max, out) == 0)
		return 0;
	etl_error("option '--%s' needs a number from %ld to %ld, not '%s'", opt, min, max,
		  arg);
	return etl_jobcli_usage_error(usage, path);
}

/*
 * Parse the options @longopts allows and expect @min..@max operands.
 * ETL_OK, or ETL_USAGE after reporting.
 */
static int parse(struct etl_jobcli *cli, int argc, char **argv,
		 const struct option *longopts, const char *usage, const char *path,
		 int min, int max, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_s = 60;
	o->timeout_s = -1;
	o->limit = 20;
	optind = 0;   /* glibc: rescan from argv[1] of a new vector */
	opterr = 0;
	while ((c = getopt_long(argc, argv, SUB_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'd': cli->dsn = etl_cli_secret_arg(optarg); continue;
		case O_TENANT: o->tenant = optarg; continue;
		case O_INTEGRATION: o->integration = optarg; continue;
		case O_NAME: o->name = optarg; continue;
		case O_RETRY: o->retry = optarg; continue;
		case O_CYCLE: o->cycle = optarg; continue;
		case O_JSON: o->json = true; continue;
		case O_FORCE: o->force = true; continue;
		case O_TO_QUEUE: o->to_queue = true; continue;
		case O_TIER: o->tier = optarg; o->to_queue = true; continue;
		case O_FULL: o->full = true; continue;
		case O_URL: o->url = etl_cli_secret_arg(optarg); continue;
		case O_LOOP: o->loop = true; continue;
		case O_OUTPUT: o->output = optarg; continue;
		case O_INTERVAL:
			if (number("interval", optarg, 1, 86400, &o->interval_s, usage, path))
				return ETL_USAGE;
			continue;
		case O_TIMEOUT:
			if (number("timeout", optarg, 0, 86400 * 7, &o->timeout_s, usage, path))
				return ETL_USAGE;
			continue;
		case O_LIMIT:
			if (number("limit", optarg, 1, 1000000, &o->limit, usage, path))
				return ETL_USAGE;
			continue;
		}
		if (c == '?' || c == ':' || !etl_cli_common(c, optarg, usage))
			return etl_jobcli_bad_option(c, argv, usage, path);
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (o->nargs < min || o->nargs > max) {
		etl_error(o->nargs < min ? "missing argument" : "too many arguments");
		return etl_jobcli_usage_error(usage, path);
	}
	return ETL_OK;
}

static int parse_id(const char *s, int64_t *id, const char *usage, const char *path)
{
	if (etl_parse_i64(s, id) == 0 && *id > 0)
		return 0;
	etl_error("invalid id '%s': expected a positive integer", s);
	etl_jobcli_usage_error(usage, path);
	return -1;
}

/* Parse, take the job id operand, connect.  NULL with *code set on failure. */
static struct etl_db *open_job(struct etl_jobcli *cli, int argc, char **argv,
			       const struct option *longopts, const char *usage,
			       const char *path, int nargs, struct opts *o, int64_t *id,
			       int *code)
{
	struct etl_db *db;

	*code = parse(cli, argc, argv, longopts, usage, path, nargs, nargs, o);
	if (*code != ETL_OK)
		return NULL;
	if (parse_id(o->args[0], id, usage, path) < 0) {
		*code = ETL_USAGE;
		return NULL;
	}
	db = etl_db_connect(cli->dsn, code);
	return db;
}

/* ---- registry ---------------------------------------------------------------- */

int etl_jobcmd_create(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tenant", required_argument, NULL, O_TENANT },
		{ "integration", required_argument, NULL, O_INTEGRATION },
		{ "name", required_argument, NULL, O_NAME },
		{ "retry-interval", required_argument, NULL, O_RETRY },
		{ "cycle-interval", required_argument, NULL, O_CYCLE },
		SUB_LONG };
	struct opts o;
	struct etl_db *db;
	int64_t integ, id;
	int code = parse(cli, argc, argv, longopts, usage_create, "create", 0, 0, &o);

	if (code != ETL_OK)
		return code;
	if (!o.tenant || !o.integration || !o.name) {
		etl_error("missing %s", !o.tenant ? "--tenant" : !o.integration ?
			  "--integration" : "--name");
		return etl_jobcli_usage_error(usage_create, "create");
	}
	if (parse_id(o.integration, &integ, usage_create, "create") < 0)
		return ETL_USAGE;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	if (etl_job_create(db, o.tenant, integ, o.name, o.retry, o.cycle, &id, &code) == 0) {
		printf("%lld\n", (long long)id);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

int etl_jobcmd_list(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tenant", required_argument, NULL, O_TENANT },
		{ "json", no_argument, NULL, O_JSON }, SUB_LONG };
	static const char *const cols[] = { "id", "tenant", "integration_id", "provider",
		"name", "active", "state", "next_run", "last_finished" };
	static const char *const heads[] = { "ID", "TENANT", "INTEGRATION", "PROVIDER",
		"NAME", "ACTIVE", "STATE", "NEXT RUN (UTC)", "LAST FINISHED (UTC)" };
	struct etl_db_res *r;
	struct opts o;
	struct etl_db *db;
	int code = parse(cli, argc, argv, longopts, usage_list, "list", 0, 0, &o);

	if (code != ETL_OK)
		return code;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	r = etl_job_list(db, 0, o.tenant, &code);
	if (r) {
		etl_jobcli_print_rows(r, o.json || !isatty(STDOUT_FILENO), cols, heads,
				      ETL_ARRAY_SIZE(cols));
		etl_db_clear(r);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

int etl_jobcmd_show(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { SUB_LONG };
	struct etl_db_res *r;
	struct opts o;
	int64_t id;
	int code;
	struct etl_db *db = open_job(cli, argc, argv, longopts, usage_show, "show", 1, &o,
				     &id, &code);

	if (!db)
		return code;
	r = etl_job_list(db, id, NULL, &code);
	if (r && etl_db_nrows(r) == 0) {
		etl_error("unknown job %lld", (long long)id);
		code = ETL_NOINPUT;
	} else if (r) {
		printf("%s\n", etl_db_value(r, 0, "json"));
		code = ETL_OK;
	}
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

static int set_active(struct etl_jobcli *cli, int argc, char **argv, bool active)
{
	static const struct option longopts[] = { SUB_LONG };
	struct opts o;
	int64_t id;
	int code;
	struct etl_db *db = open_job(cli, argc, argv, longopts,
				     active ? usage_enable : usage_disable,
				     active ? "enable" : "disable", 1, &o, &id, &code);

	if (!db)
		return code;
	if (etl_job_set_active(db, id, active, &code) == 0)
		code = ETL_OK;
	etl_db_close(db);
	return code;
}

int etl_jobcmd_enable(struct etl_jobcli *cli, int argc, char **argv)
{
	return set_active(cli, argc, argv, true);
}

int etl_jobcmd_disable(struct etl_jobcli *cli, int argc, char **argv)
{
	return set_active(cli, argc, argv, false);
}

int etl_jobcmd_delete(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, O_FORCE }, SUB_LONG };
	struct opts o;
	int64_t id;
	int code;
	struct etl_db *db = open_job(cli, argc, argv, longopts, usage_delete, "delete", 1,
				     &o, &id, &code);

	if (!db)
		return code;
	if (etl_job_delete(db, id, o.force, &code) == 0)
		code = ETL_OK;
	etl_db_close(db);
	return code;
}

/* ---- runs ------------------------------------------------------------------------ */

static int start_outcome(int64_t id, const struct etl_job_start_result *res)
{
	switch (res->what) {
	case ETL_JOB_STARTED:
		return ETL_OK;
	case ETL_JOB_INACTIVE:
		etl_error("job %lld is inactive: skipped (enable it with 'etl-job enable "
			  "%lld')", (long long)id, (long long)id);
		break;
	case ETL_JOB_ALERTED:
		etl_warn("job %lld: its integration is inactive: the job finished with an "
			 "alert, nothing was extracted", (long long)id);
		break;
	case ETL_JOB_BUSY:
		if (!strcmp(res->state, "RUNNING"))
			etl_error("job %lld is RUNNING: a run is in progress (see 'etl-job "
				  "status %lld')", (long long)id, (long long)id);
		else
			etl_error("job %lld is %s: not started (etl-reset makes it READY "
				  "after its countdown; --force starts it now)", (long long)id,
				  res->state);
		break;
	}
	return ETL_NOTHING;
}

int etl_jobcmd_start(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to-queue", no_argument, NULL, O_TO_QUEUE },
		{ "tier", required_argument, NULL, O_TIER },
		{ "force", no_argument, NULL, O_FORCE },
		{ "full", no_argument, NULL, O_FULL },
		{ "url", required_argument, NULL, O_URL }, SUB_LONG };
	struct etl_job_start_opts so = ETL_JOB_START_OPTS_INIT;
	struct etl_job_start_result res = ETL_JOB_START_RESULT_INIT;
	struct opts o;
	int64_t id;
	int code;
	struct etl_db *db = open_job(cli, argc, argv, longopts, usage_start, "start", 1, &o,
				     &id, &code);

	if (!db)
		return code;
	if (o.tier && !etl_tenant_tier_valid(o.tier)) {
		etl_error("invalid tier '%s' (free, basic, premium or enterprise)", o.tier);
		etl_db_close(db);
		return etl_jobcli_usage_error(usage_start, "start");
	}
	so.force = o.force;
	so.full = o.full;
	so.tier = o.tier;
	if (o.to_queue && !(so.amqp = etl_job_amqp_open(o.url, &code)))
		goto out;
	if (etl_job_start(db, id, &so, &res, &code) < 0)
		goto out;
	code = start_outcome(id, &res);
	if (code != ETL_OK)
		goto out;
	etl_log_set_job((long)id, res.token);
	if (so.amqp) {
		printf("{\"job_id\":%lld,\"action\":\"started\",\"token\":\"%s\","
		       "\"queue\":\"%s\"}\n", (long long)id, res.token, res.queue);
	} else if (printf("%s\n", res.msg) < 0 || fflush(stdout) != 0) {
		char reason[160];

		snprintf(reason, sizeof(reason), "the start message could not be written: %s",
			 strerror(errno));
		etl_error("%s; run %s marked failed", reason, res.token);
		etl_job_abort(db, id, res.token, reason, &code);
		code = ETL_IOERR;
		goto out;
	}
	etl_info("job %lld started: run %s", (long long)id, res.token);
out:
	etl_job_start_result_release(&res);
	etl_amqp_close(so.amqp);
	etl_db_close(db);
	return code;
}

int etl_jobcmd_tick(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "loop", no_argument, NULL, O_LOOP },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "url", required_argument, NULL, O_URL }, SUB_LONG };
	struct etl_job_tick_opts to = { NULL, stdout };
	struct etl_db *db = NULL;
	struct opts o;
	int code = parse(cli, argc, argv, longopts, usage_tick, "tick", 0, 0, &o);

	if (code != ETL_OK)
		return code;
	to.amqp_url = o.url;
	do {
		long n = 0;

		if (!db && !(db = etl_db_connect(cli->dsn, &code))) {
			if (!o.loop || code == ETL_CONFIG)
				return code;
		} else {
			code = etl_job_tick(db, &to, &n);
			etl_info("tick: %ld job%s started", n, n == 1 ? "" : "s");
			if (code == ETL_UNAVAIL) {   /* reconnect on the next pass */
				etl_db_close(db);
				db = NULL;
			}
		}
		if (o.loop && !etl_stop_requested)
			etl_sleep_ms(o.interval_s * 1000);
	} while (o.loop && !etl_stop_requested);
	etl_db_close(db);
	return o.loop ? ETL_OK : code;
}

int etl_jobcmd_status(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { SUB_LONG };
	struct opts o;
	int64_t id;
	int code;
	char *s;
	struct etl_db *db = open_job(cli, argc, argv, longopts, usage_status, "status", 1,
				     &o, &id, &code);

	if (!db)
		return code;
	s = etl_status_get(db, id, &code);
	if (s) {
		printf("%s\n", s);
		free(s);
		code = ETL_OK;
	}
	etl_db_close(db);
	return code;
}

int etl_jobcmd_watch(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON }, SUB_LONG };
	struct etl_watch_opts wo = { 0, false, -1, stdout };
	struct etl_db *db;
	struct opts o;
	int code = parse(cli, argc, argv, longopts, usage_watch, "watch", 0, 1, &o);

	if (code != ETL_OK)
		return code;
	if (o.nargs && parse_id(o.args[0], &wo.job_id, usage_watch, "watch") < 0)
		return ETL_USAGE;
	wo.tty = !o.json && isatty(STDOUT_FILENO);
	wo.timeout_ms = o.timeout_s >= 0 ? o.timeout_s * 1000 : -1;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	code = etl_watch(db, &wo);
	etl_db_close(db);
	return code;
}

int etl_jobcmd_set_status(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { SUB_LONG };
	struct opts o;
	int64_t id;
	int code, rc;
	struct etl_db *db;

	code = parse(cli, argc, argv, longopts, usage_set_status, "set-status", 2, 2, &o);
	if (code != ETL_OK)
		return code;
	if (parse_id(o.args[0], &id, usage_set_status, "set-status") < 0)
		return ETL_USAGE;
	if (!etl_job_state_valid(o.args[1])) {
		etl_error("unknown state '%s' (NOT_STARTED, READY, RUNNING, FINISHED or "
			  "FAILED)", o.args[1]);
		return etl_jobcli_usage_error(usage_set_status, "set-status");
	}
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	rc = etl_job_set_status(db, id, o.args[1], &code);
	if (rc >= 0)
		code = rc == 0 ? ETL_OK : ETL_NOTHING;
	etl_db_close(db);
	return code;
}

int etl_jobcmd_runs(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "json", no_argument, NULL, O_JSON }, SUB_LONG };
	static const char *const cols[] = { "started_at", "outcome", "duration_s",
		"records", "api_calls", "rate_limit_hits", "errors", "retries",
		"peak_rss_kb", "token" };
	static const char *const heads[] = { "STARTED (UTC)", "OUTCOME", "SECONDS",
		"RECORDS", "API CALLS", "RATE LIMITS", "ERRORS", "RETRIES", "PEAK RSS KB",
		"TOKEN" };
	struct etl_db_res *r = NULL;
	struct opts o;
	int64_t id;
	int code;
	struct etl_db *db = open_job(cli, argc, argv, longopts, usage_runs, "runs", 1, &o,
				     &id, &code);
	struct etl_job j = ETL_JOB_INIT;

	if (!db)
		return code;
	if (etl_job_load(db, id, false, &j, &code) < 0)
		goto out;
	r = etl_runstats_list(db, id, o.limit, &code);
	if (r) {
		etl_jobcli_print_rows(r, o.json || !isatty(STDOUT_FILENO), cols, heads,
				      ETL_ARRAY_SIZE(cols));
		code = ETL_OK;
	}
out:
	etl_job_release(&j);
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

int etl_jobcmd_metrics(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "url", required_argument, NULL, O_URL }, SUB_LONG };
	char *tmp = NULL;
	FILE *out = stdout;
	struct etl_db *db;
	struct opts o;
	int code = parse(cli, argc, argv, longopts, usage_metrics, "metrics", 0, 0, &o);

	if (code != ETL_OK)
		return code;
	db = etl_db_connect(cli->dsn, &code);
	if (!db)
		return code;
	if (o.output) {
		size_t n = strlen(o.output) + 32;

		tmp = xmalloc(n);
		snprintf(tmp, n, "%s.tmp.%ld", o.output, (long)getpid());
		out = fopen(tmp, "w");
		if (!out) {
			etl_error("cannot create '%s': %s", tmp, strerror(errno));
			code = ETL_IOERR;
			goto out;
		}
	}
	code = etl_runstats_prometheus(db, o.url, out);
	if (o.output) {
		if (fclose(out) != 0 && code == ETL_OK) {
			etl_error("cannot write '%s': %s", tmp, strerror(errno));
			code = ETL_IOERR;
		}
		if (code == ETL_OK && rename(tmp, o.output) < 0) {
			etl_error("cannot rename '%s' to '%s': %s", tmp, o.output,
				  strerror(errno));
			code = ETL_IOERR;
		}
		if (code != ETL_OK)
			unlink(tmp);
	}
out:
	free(tmp);
	etl_db_close(db);
	return code;
}
