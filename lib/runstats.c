#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "amqp.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "runstats.h"
#include "token.h"
#include "util.h"

static const char sql_begin[] =
	"INSERT INTO etl_job_runs (tenant_id, job_id, token, last_activity_at) "
	"VALUES ($1::bigint, $2::bigint, $3::uuid, now())";

/*
 * $1 token, $2 step, $3 the stage's records word, $4 records, $5 stage,
 * $6 messages, $7 api calls, $8 rate-limit hits, $9 errors, $10 retries,
 * $11 checkpoint resumes, $12 peak RSS, $13 vectors, $14 embedding ms.
 * Every counter is "column + $n" and the JSON counters are rebuilt from
 * the row being updated: under concurrent updates PostgreSQL re-reads
 * the row after the other writer commits, so no increment is lost.
 */
static const char sql_add[] =
	"UPDATE etl_job_runs SET "
	"step_counts = CASE WHEN $2::text IS NULL OR $4::bigint = 0 THEN step_counts "
	"  ELSE step_counts || jsonb_build_object($2::text, "
	"    coalesce(step_counts->$2::text, '{}') || jsonb_build_object($3::text, "
	"      coalesce((step_counts->$2::text->>$3::text)::bigint, 0) + $4::bigint)) END, "
	"stage_stats = stage_stats || jsonb_build_object($5::text, "
	"  coalesce(stage_stats->$5::text, '{}') || jsonb_build_object("
	"    'messages', coalesce((stage_stats->$5::text->>'messages')::bigint, 0) + $6::bigint, "
	"    'peak_rss_kb', greatest(coalesce((stage_stats->$5::text->>'peak_rss_kb')::bigint, 0), "
	"      $12::bigint))), "
	"api_calls = api_calls + $7::bigint, "
	"rate_limit_hits = rate_limit_hits + $8::bigint, "
	"errors = errors + $9::bigint, "
	"retries = retries + $10::bigint, "
	"checkpoint_resumes = checkpoint_resumes + $11::bigint, "
	"peak_rss_kb = CASE WHEN $12::bigint > 0 "
	"  THEN greatest(coalesce(peak_rss_kb, 0), $12::bigint) ELSE peak_rss_kb END, "
	"vectors_queued = vectors_queued + $13::bigint, "
	"embedding_ms = embedding_ms + $14::bigint, "
	"last_activity_at = now() "
	"WHERE token = $1::uuid";

static const char sql_finish[] =
	"UPDATE etl_job_runs SET outcome = $2, finished_at = CASE WHEN $2 = 'checkpointed' "
	"  THEN NULL ELSE now() END, error_message = coalesce($3, error_message) "
	"WHERE token = $1::uuid AND outcome IN ('running', 'checkpointed')";

/* The records of a run, summed over steps and stages. */
#define RECORDS_SUM \
	"(SELECT coalesce(sum((c.v #>> '{}')::bigint), 0) " \
	"FROM jsonb_each(r.step_counts) AS s (k, v), jsonb_each(s.v) AS c (k, v) " \
	"WHERE jsonb_typeof(c.v) = 'number')"

static const char sql_list[] =
	"SELECT r.id, r.token, "
	"to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at, "
	"to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at, "
	"r.outcome, "
	"round(extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at), 3) "
	"  AS duration_s, "
	RECORDS_SUM " AS records, "
	"r.api_calls, r.rate_limit_hits, r.errors, r.retries, r.peak_rss_kb, "
	"json_build_object('id', r.id, 'job_id', r.job_id, 'tenant_id', r.tenant_id, "
	"  'token', r.token, 'started_at', r.started_at, 'finished_at', r.finished_at, "
	"  'outcome', r.outcome, 'duration_s', "
	"  round(extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at), 3), "
	"  'step_counts', r.step_counts, 'api_calls', r.api_calls, "
	"  'rate_limit_hits', r.rate_limit_hits, 'errors', r.errors, "
	"  'retries', r.retries, 'checkpoint_resumes', r.checkpoint_resumes, "
	"  'peak_rss_kb', r.peak_rss_kb, 'stage_stats', r.stage_stats, "
	"  'vectors_queued', r.vectors_queued, 'embedding_ms', r.embedding_ms, "
	"  'error_message', r.error_message)::text AS json "
	"FROM etl_job_runs r WHERE r.job_id = $1::bigint "
	"ORDER BY r.started_at DESC, r.id DESC LIMIT $2::bigint";

int etl_runstats_begin(struct etl_db *db, int64_t tenant_id, int64_t job_id,
		       const char *token, int *why)
{
	char t[24], j[24];
	const char *vals[3] = { t, j, token };
	struct etl_db_res *r;

	snprintf(t, sizeof(t), "%lld", (long long)tenant_id);
	snprintf(j, sizeof(j), "%lld", (long long)job_id);
	r = etl_db_exec(db, sql_begin, vals, 3, why);
	if (!r)
		return etl_error("cannot record the run of job %lld", (long long)job_id);
	etl_db_clear(r);
	return 0;
}

static const char *records_word(enum etl_stage stage)
{
	switch (stage) {
	case ETL_STAGE_EXTRACTION: return "extracted";
	case ETL_STAGE_TRANSFORM: return "transformed";
	case ETL_STAGE_EMBEDDING: return "embedded";
	default: return "records";
	}
}

int etl_runstats_add(struct etl_db *db, const char *token,
		     const struct etl_runstats *s, int *why)
{
	char num[10][24];
	const int64_t v[10] = { s->records, s->messages, s->api_calls, s->rate_limit_hits,
				s->errors, s->retries, s->checkpoint_resumes,
				s->peak_rss_kb > 0 ? s->peak_rss_kb : 0,
				s->vectors_queued, s->embedding_ms };
	const char *vals[14];
	struct etl_db_res *r;
	int64_t n;

	if (!token || !etl_token_valid(token, strlen(token)))
		return 1;
	for (int i = 0; i < 10; i++)
		snprintf(num[i], sizeof(num[i]), "%lld", (long long)v[i]);
	vals[0] = token;
	vals[1] = s->step;
	vals[2] = records_word(s->stage);
	vals[3] = num[0];
	vals[4] = etl_stage_name(s->stage);
	for (int i = 1; i < 10; i++)
		vals[4 + i] = num[i];
	r = etl_db_exec(db, sql_add, vals, 14, why);
	if (!r)
		return etl_error("cannot add to the counters of run %s", token);
	n = etl_db_affected(r);
	etl_db_clear(r);
	return n > 0 ? 0 : 1;
}

void etl_runstats_acc_flush(struct etl_db *db, struct etl_runstats_acc *a)
{
	int why = 0;

	if (a->token[0] && a->sum.messages && db)
		etl_runstats_add(db, a->token, &a->sum, &why);
	a->token[0] = '\0';
	a->step[0] = '\0';
	memset(&a->sum, 0, sizeof(a->sum));
}

void etl_runstats_acc_add(struct etl_db *db, struct etl_runstats_acc *a, const char *token,
			  const struct etl_runstats *s, bool flush)
{
	struct etl_runstats *m = &a->sum;
	enum etl_stage stage = s->stage;

	if (strcmp(a->token, token) || strcmp(a->step, s->step ? s->step : ""))
		etl_runstats_acc_flush(db, a);
	if (!a->token[0]) {
		snprintf(a->token, sizeof(a->token), "%s", token);
		snprintf(a->step, sizeof(a->step), "%s", s->step ? s->step : "");
	}
	m->stage = stage;
	m->step = a->step[0] ? a->step : NULL;
	m->records += s->records;
	m->messages += s->messages;
	m->api_calls += s->api_calls;
	m->rate_limit_hits += s->rate_limit_hits;
	m->errors += s->errors;
	m->retries += s->retries;
	m->checkpoint_resumes += s->checkpoint_resumes;
	m->vectors_queued += s->vectors_queued;
	m->embedding_ms += s->embedding_ms;
	if (s->peak_rss_kb > m->peak_rss_kb)
		m->peak_rss_kb = s->peak_rss_kb;
	if (flush || m->messages >= ETL_RUNSTATS_BATCH)
		etl_runstats_acc_flush(db, a);
}

int etl_runstats_finish(struct etl_db *db, const char *token, const char *outcome,
			const char *error, int *why)
{
	const char *vals[3] = { token, outcome, error };
	struct etl_db_res *r;
	int64_t n;

	if (!token || !etl_token_valid(token, strlen(token)))
		return 1;
	r = etl_db_exec(db, sql_finish, vals, 3, why);
	if (!r)
		return etl_error("cannot end run %s", token);
	n = etl_db_affected(r);
	etl_db_clear(r);
	return n > 0 ? 0 : 1;
}

int64_t etl_runstats_peak_rss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (int64_t)ru.ru_maxrss;   /* KiB on Linux */
}

struct etl_db_res *etl_runstats_list(struct etl_db *db, int64_t job_id, long limit,
				     int *why)
{
	char j[24], l[24];
	const char *vals[2] = { j, l };

	snprintf(j, sizeof(j), "%lld", (long long)job_id);
	snprintf(l, sizeof(l), "%ld", limit);
	return etl_db_exec(db, sql_list, vals, 2, why);
}

/* ---- Prometheus text exposition ------------------------------------------ */

/* The labels every job metric carries, and the job's last run. */
#define JOB_LABELS \
	"j.id AS job_id, j.name AS job, t.name AS tenant, i.provider"
#define JOB_FROM \
	"FROM etl_jobs j JOIN tenants t ON t.id = j.tenant_id " \
	"JOIN integrations i ON i.tenant_id = j.tenant_id AND i.id = j.integration_id "
#define LAST_RUN \
	"LEFT JOIN LATERAL (SELECT * FROM etl_job_runs x WHERE x.tenant_id = j.tenant_id " \
	"AND x.job_id = j.id ORDER BY x.started_at DESC, x.id DESC LIMIT 1) r ON true "

static const char sql_jobs[] =
	"SELECT " JOB_LABELS ", j.status->>'overall' AS overall, "
	"CASE WHEN j.active THEN 1 ELSE 0 END AS active, "
	"extract(epoch FROM j.next_run) AS next_run, "
	"coalesce((j.status->>'reset_attempt')::int, 0) AS reset_attempt, "
	"r.outcome, extract(epoch FROM r.started_at) AS run_started, "
	"extract(epoch FROM r.finished_at) AS run_finished, "
	"round(extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at), 3) "
	"  AS run_duration, "
	"r.api_calls, r.rate_limit_hits, r.errors, r.retries, r.checkpoint_resumes, "
	"r.vectors_queued, round(r.embedding_ms / 1000.0, 3) AS embedding_s "
	JOB_FROM LAST_RUN "ORDER BY j.id";

static const char sql_records[] =
	"SELECT " JOB_LABELS ", s.k AS step, CASE c.k WHEN 'extracted' THEN 'extraction' "
	"  WHEN 'transformed' THEN 'transform' WHEN 'embedded' THEN 'embedding' "
	"  ELSE c.k END AS stage, c.v #>> '{}' AS value "
	JOB_FROM LAST_RUN ", jsonb_each(r.step_counts) AS s (k, v), jsonb_each(s.v) AS c (k, v) "
	"WHERE jsonb_typeof(c.v) = 'number' ORDER BY j.id, s.k, c.k";

static const char sql_rss[] =
	"SELECT " JOB_LABELS ", s.k AS stage, "
	"((s.v->>'peak_rss_kb')::bigint * 1024)::text AS value "
	JOB_FROM LAST_RUN ", jsonb_each(r.stage_stats) AS s (k, v) "
	"WHERE jsonb_typeof(s.v->'peak_rss_kb') = 'number' "
	"AND (s.v->>'peak_rss_kb')::bigint > 0 ORDER BY j.id, s.k";

static const char sql_totals[] =
	"SELECT " JOB_LABELS ", x.outcome, count(*) AS value "
	JOB_FROM "JOIN etl_job_runs x ON x.tenant_id = j.tenant_id AND x.job_id = j.id "
	"GROUP BY j.id, j.name, t.name, i.provider, x.outcome ORDER BY j.id, x.outcome";

static const char *const states[] = { "NOT_STARTED", "READY", "RUNNING", "FINISHED",
				       "FAILED" };
static const char *const outcomes[] = { "running", "finished", "failed",
					 "checkpointed", "cancelled" };

/* A label value with \, " and newline escaped. */
static void put_label(FILE *out, const char *name, const char *v)
{
	fprintf(out, "%s=\"", name);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			putc(*v, out);
	}
	putc('"', out);
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of @name for the job of row @i, with an extra label or two. */
static void sample(FILE *out, const char *name, const struct etl_db_res *r, int i,
		   const char *l1, const char *v1, const char *l2, const char *v2,
		   const char *value)
{
	fprintf(out, "%s{", name);
	put_label(out, "job_id", etl_db_value(r, i, "job_id"));
	putc(',', out);
	put_label(out, "job", etl_db_value(r, i, "job"));
	putc(',', out);
	put_label(out, "tenant", etl_db_value(r, i, "tenant"));
	putc(',', out);
	put_label(out, "provider", etl_db_value(r, i, "provider"));
	if (l1) {
		putc(',', out);
		put_label(out, l1, v1);
	}
	if (l2) {
		putc(',', out);
		put_label(out, l2, v2);
	}
	fprintf(out, "} %s\n", value);
}

/* Per-job gauges read from one column of the jobs query. */
static const struct gauge {
	const char *name, *col, *help;
	bool needs_run;
} gauges[] = {
	{ "etl_job_active", "active", "Whether the job is active (1) or skipped (0).", false },
	{ "etl_job_next_run_timestamp_seconds", "next_run",
	  "When etl-job tick starts the job next (Unix time).", false },
	{ "etl_job_reset_attempt", "reset_attempt",
	  "How many times etl-reset extended the reset countdown of the run.", false },
	{ "etl_job_last_run_start_timestamp_seconds", "run_started",
	  "When the last run started (Unix time).", true },
	{ "etl_job_last_run_end_timestamp_seconds", "run_finished",
	  "When the last run ended (Unix time).", true },
	{ "etl_job_last_run_duration_seconds", "run_duration",
	  "Duration of the last run (so far, while it runs).", true },
	{ "etl_job_last_run_api_calls", "api_calls",
	  "API requests made by the last run.", true },
	{ "etl_job_last_run_rate_limit_hits", "rate_limit_hits",
	  "Rate-limit responses met by the last run.", true },
	{ "etl_job_last_run_errors", "errors", "Errors of the last run.", true },
	{ "etl_job_last_run_retries", "retries",
	  "Messages of the last run retried after a temporary failure.", true },
	{ "etl_job_last_run_checkpoint_resumes", "checkpoint_resumes",
	  "Resumes of the last run from a saved checkpoint.", true },
	{ "etl_job_last_run_vectors_queued", "vectors_queued",
	  "Vectors written by the last run.", true },
	{ "etl_job_last_run_embedding_seconds", "embedding_s",
	  "Time the last run spent computing embeddings.", true },
};

static void job_metrics(FILE *out, const struct etl_db_res *jobs)
{
	int n = etl_db_nrows(jobs);

	head(out, "etl_job_state", "gauge",
	     "The job's overall state: 1 for the current one.");
	for (int i = 0; i < n; i++)
		for (size_t s = 0; s < ETL_ARRAY_SIZE(states); s++)
			sample(out, "etl_job_state", jobs, i, "state", states[s], NULL, NULL,
			       strcmp(states[s], etl_db_value(jobs, i, "overall")) ? "0" : "1");
	for (size_t g = 0; g < ETL_ARRAY_SIZE(gauges); g++) {
		head(out, gauges[g].name, "gauge", gauges[g].help);
		for (int i = 0; i < n; i++) {
			const char *v = etl_db_value(jobs, i, gauges[g].col);

			if (v)
				sample(out, gauges[g].name, jobs, i, NULL, NULL, NULL, NULL, v);
		}
	}
	head(out, "etl_job_last_run_outcome", "gauge",
	     "The outcome of the last run: 1 for the current one.");
	for (int i = 0; i < n; i++) {
		const char *o = etl_db_value(jobs, i, "outcome");

		if (!o)
			continue;
		for (size_t k = 0; k < ETL_ARRAY_SIZE(outcomes); k++)
			sample(out, "etl_job_last_run_outcome", jobs, i, "outcome", outcomes[k],
			       NULL, NULL, strcmp(outcomes[k], o) ? "0" : "1");
	}
}

static void labelled(FILE *out, const struct etl_db_res *r, const char *name,
		     const char *l1, const char *l2)
{
	for (int i = 0; i < etl_db_nrows(r); i++)
		sample(out, name, r, i, l1, etl_db_value(r, i, l1), l2,
		       l2 ? etl_db_value(r, i, l2) : NULL, etl_db_value(r, i, "value"));
}

static void queue_metrics(FILE *out, const char *url)
{
	struct etl_amqp_opts ao = ETL_AMQP_OPTS_INIT;
	uint32_t msgs[ETL_AMQP_NQUEUES], cons[ETL_AMQP_NQUEUES];
	bool have[ETL_AMQP_NQUEUES] = { false };
	struct etl_amqp *a;
	int why = 0;

	ao.connect_timeout_ms = 3000;
	ao.rpc_timeout_ms = 5000;
	ao.heartbeat_s = 0;
	a = etl_amqp_connect(url, &ao, &why);
	for (size_t i = 0; a && i < ETL_AMQP_NQUEUES; i++) {
		int rc = etl_amqp_queue_stat(a, etl_amqp_queue_name(i), &msgs[i], &cons[i]);

		if (rc < 0)
			break;
		have[i] = rc == 0;
	}
	head(out, "etl_queue_up", "gauge", "Whether RabbitMQ answered (1) or not (0).");
	fprintf(out, "etl_queue_up %d\n", a && etl_amqp_alive(a) ? 1 : 0);
	head(out, "etl_queue_messages", "gauge", "Messages ready in the queue.");
	for (size_t i = 0; i < ETL_AMQP_NQUEUES; i++)
		if (have[i])
			fprintf(out, "etl_queue_messages{queue=\"%s\"} %u\n",
				etl_amqp_queue_name(i), msgs[i]);
	head(out, "etl_queue_consumers", "gauge", "Consumers (workers) of the queue.");
	for (size_t i = 0; i < ETL_AMQP_NQUEUES; i++)
		if (have[i])
			fprintf(out, "etl_queue_consumers{queue=\"%s\"} %u\n",
				etl_amqp_queue_name(i), cons[i]);
	etl_amqp_close(a);
}

int etl_runstats_prometheus(struct etl_db *db, const char *amqp_url, FILE *out)
{
	struct etl_db_res *jobs = NULL, *rec = NULL, *rss = NULL, *tot = NULL;
	int why = ETL_OK;

	if (!(jobs = etl_db_exec(db, sql_jobs, NULL, 0, &why)) ||
	    !(rec = etl_db_exec(db, sql_records, NULL, 0, &why)) ||
	    !(rss = etl_db_exec(db, sql_rss, NULL, 0, &why)) ||
	    !(tot = etl_db_exec(db, sql_totals, NULL, 0, &why)))
		goto out;
	job_metrics(out, jobs);
	head(out, "etl_job_last_run_records", "gauge",
	     "Records of the last run, per step and stage (extracted, transformed, "
	     "embedded).");
	labelled(out, rec, "etl_job_last_run_records", "step", "stage");
	head(out, "etl_job_last_run_peak_rss_bytes", "gauge",
	     "Peak resident memory of each stage's process during the last run.");
	labelled(out, rss, "etl_job_last_run_peak_rss_bytes", "stage", NULL);
	head(out, "etl_job_runs_total", "counter", "Runs of the job, by outcome.");
	labelled(out, tot, "etl_job_runs_total", "outcome", NULL);
	if (!amqp_url)
		amqp_url = etl_config_get("ETL_AMQP_URL");
	if (amqp_url && *amqp_url)
		queue_metrics(out, amqp_url);
	why = ETL_OK;
out:
	etl_db_clear(jobs);
	etl_db_clear(rec);
	etl_db_clear(rss);
	etl_db_clear(tot);
	return why;
}
