#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "status.h"
#include "util.h"

/*
 * Every statement below has the same tail: the updated rows feed
 * pg_notify() in the same statement, so the notification carries exactly
 * the status this statement wrote, and it is sent at commit or never.
 */
#define NOTIFY_TAIL \
	"SELECT u.id, pg_notify('" ETL_STATUS_CHANNEL "', " \
	"  CASE WHEN octet_length(p.payload) < 8000 THEN p.payload " \
	"  ELSE json_build_object('type', 'job_status_update', 'job_id', u.id, " \
	"    'tenant_id', u.tenant_id, 'truncated', true)::text END) " \
	"FROM u, LATERAL (SELECT json_build_object('type', 'job_status_update', " \
	"  'job_id', u.id, 'tenant_id', u.tenant_id, 'status', u.status)::text " \
	"  AS payload) p"

/* The run guard: $2 is the token, NULL for any run. */
#define RUN_GUARD "id = $1 AND ($2::text IS NULL OR status->>'token' = $2::text)"

/*
 * The run's row in etl_job_runs (lib/runstats.h) ends in the same
 * statement as the status: @outcome, finished now, @err (an SQL
 * expression) as its error when not NULL.  Only a run still open changes.
 */
#define RUN_DONE(outcome, err) \
	", r AS (UPDATE etl_job_runs SET outcome = " outcome ", finished_at = now(), " \
	"  error_message = coalesce(" err ", etl_job_runs.error_message) FROM u " \
	"  WHERE etl_job_runs.tenant_id = u.tenant_id AND etl_job_runs.job_id = u.id " \
	"  AND etl_job_runs.token::text = u.status->>'token' " \
	"  AND etl_job_runs.outcome IN ('running', 'checkpointed')) "

static const char sql_set_stage[] =
	"WITH u AS (UPDATE etl_jobs SET status = jsonb_set(status, '{steps}', "
	"  coalesce(status->'steps', '{}') || jsonb_build_object($3::text, "
	"    jsonb_build_object('order', $5::int, 'display_name', $6::text, "
	"      'extraction', 'idle', 'transform', 'idle', 'embedding', 'idle') "
	"    || coalesce(status->'steps'->$3::text, '{}') "
	"    || jsonb_build_object($4::text, $7::text))), "
	"  last_updated_at = now() "
	"  WHERE " RUN_GUARD
	/* A worker that took a step's first message may be slower than the
	 * one that took its last: running never follows finished in a run. */
	"  AND NOT ($7::text = 'running' AND "
	"    coalesce(status->'steps'->$3::text->>$4::text, '') = 'finished') "
	"  RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

static const char sql_start[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('overall', 'RUNNING', 'token', $2::text, "
	"     'steps', $3::jsonb, 'reset_deadline', null, 'reset_attempt', 0, "
	"     'alert', null), "
	"  last_run_started_at = now(), error_message = NULL, last_updated_at = now() "
	"  WHERE id = $1 AND (status->>'overall' = 'READY' OR "
	"    ($4::bool AND status->>'overall' <> 'RUNNING')) "
	"  RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

static const char sql_complete[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('overall', 'FINISHED', "
	"     'reset_deadline', to_char((now() + interval '30 seconds') AT TIME ZONE 'UTC', "
	"       'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'reset_attempt', 0), "
	"  last_run_finished_at = now(), "
	"  last_sync_date = coalesce($3::timestamptz, last_run_started_at), "
	"  last_updated_at = now() "
	"  WHERE " RUN_GUARD " AND status->>'overall' = 'RUNNING' "
	"  RETURNING id, tenant_id, status) "
	RUN_DONE("'finished'", "NULL")
	NOTIFY_TAIL;

static const char sql_fail[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('overall', 'FAILED'), "
	"  error_message = $3, last_run_finished_at = now(), last_updated_at = now() "
	"  WHERE " RUN_GUARD " RETURNING id, tenant_id, status) "
	RUN_DONE("'failed'", "$3")
	NOTIFY_TAIL;

static const char sql_checkpoint[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('checkpoint', $3::jsonb), "
	"  checkpoint = $3::jsonb, last_updated_at = now() "
	"  WHERE " RUN_GUARD " RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

static const char sql_get[] = "SELECT status::text AS status FROM etl_jobs WHERE id = $1";

/* Run one of the statements above; 0 when a row changed, 1 when none. */
static int run(struct etl_db *db, const char *sql, const char *const *vals, int n,
	       const char *what, int64_t job_id, int *why)
{
	struct etl_db_res *res = etl_db_exec(db, sql, vals, n, why);
	int rows;

	if (!res)
		return etl_error("cannot %s of job %lld", what, (long long)job_id);
	rows = etl_db_nrows(res);
	etl_db_clear(res);
	return rows > 0 ? 0 : 1;
}

static void fmt_id(char *buf, size_t n, int64_t id)
{
	snprintf(buf, n, "%lld", (long long)id);
}

int etl_status_set_stage(struct etl_db *db, int64_t job_id, const char *token,
			 const struct etl_step *step, enum etl_stage stage,
			 const char *state, int *why)
{
	char id[24], order[12];
	const char *vals[7];

	fmt_id(id, sizeof(id), job_id);
	snprintf(order, sizeof(order), "%d", step->order);
	vals[0] = id;
	vals[1] = token;
	vals[2] = step->type;
	vals[3] = etl_stage_name(stage);
	vals[4] = order;
	vals[5] = step->display_name;
	vals[6] = state;
	return run(db, sql_set_stage, vals, 7, "update the status", job_id, why);
}

int etl_status_start(struct etl_db *db, int64_t job_id, const char *token,
		     const char *provider, int force, int *why)
{
	struct etl_buf steps = ETL_BUF_INIT;
	const struct etl_step *st;
	char id[24];
	int rc;

	etl_buf_addch(&steps, '{');
	for (int i = 0; (st = etl_step_of(provider, i)) != NULL; i++) {
		if (i)
			etl_buf_addch(&steps, ',');
		etl_buf_add_json_str(&steps, st->type, strlen(st->type));
		etl_buf_addf(&steps, ":{\"order\":%d,\"display_name\":", st->order);
		etl_buf_add_json_str(&steps, st->display_name, strlen(st->display_name));
		etl_buf_adds(&steps, ",\"extraction\":\"idle\",\"transform\":\"idle\","
			     "\"embedding\":\"idle\"}");
	}
	etl_buf_addch(&steps, '}');
	fmt_id(id, sizeof(id), job_id);
	const char *vals[4] = { id, token, steps.buf, force ? "true" : "false" };
	rc = run(db, sql_start, vals, 4, "start a run", job_id, why);
	etl_buf_release(&steps);
	return rc;
}

/* The statements whose parameters are (job id, token, one more value). */
static int run_with_arg(struct etl_db *db, const char *sql, int64_t job_id,
			const char *token, const char *arg, const char *what, int *why)
{
	char id[24];
	const char *vals[3];

	fmt_id(id, sizeof(id), job_id);
	vals[0] = id;
	vals[1] = token;
	vals[2] = arg;
	return run(db, sql, vals, 3, what, job_id, why);
}

int etl_status_complete(struct etl_db *db, int64_t job_id, const char *token,
			const char *last_sync_date, int *why)
{
	return run_with_arg(db, sql_complete, job_id, token, last_sync_date,
			    "complete the run", why);
}

int etl_status_fail(struct etl_db *db, int64_t job_id, const char *token,
		    const char *reason, int *why)
{
	return run_with_arg(db, sql_fail, job_id, token, reason,
			    "mark as failed the run", why);
}

int etl_status_checkpoint(struct etl_db *db, int64_t job_id, const char *token,
			  const char *checkpoint_json, int *why)
{
	return run_with_arg(db, sql_checkpoint, job_id, token, checkpoint_json,
			    "save the checkpoint", why);
}

char *etl_status_get(struct etl_db *db, int64_t job_id, int *why)
{
	char id[24];
	const char *vals[1] = { id };
	struct etl_db_res *res;
	char *out = NULL;

	fmt_id(id, sizeof(id), job_id);
	res = etl_db_exec(db, sql_get, vals, 1, why);
	if (!res)
		return NULL;
	if (etl_db_nrows(res) == 0) {
		etl_error("no job %lld", (long long)job_id);
		if (why)
			*why = ETL_NOINPUT;
	} else {
		out = xstrdup(etl_db_value(res, 0, "status"));
	}
	etl_db_clear(res);
	return out;
}

/* ---- the reset countdown and recovery (etl-reset, etl-job set-status) ---- */

/* A reset_deadline @secs (an SQL expression) from now, as the seed writes it. */
#define DEADLINE_IN(secs) \
	"to_char((now() + make_interval(secs => " secs ")) AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Every step entry of the status with its three stages idle. */
#define STEPS_IDLE \
	"(SELECT coalesce(jsonb_object_agg(k, v || '{\"extraction\": \"idle\", " \
	"\"transform\": \"idle\", \"embedding\": \"idle\"}'), '{}') " \
	"FROM jsonb_each(coalesce(status->'steps', '{}')) AS e (k, v))"

/* The countdown guard: $1 the job, $2 the reset_deadline the caller saw. */
#define COUNTDOWN_GUARD \
	"id = $1 AND status->>'overall' = 'FINISHED' " \
	"AND status->>'reset_deadline' IS NOT DISTINCT FROM $2::text"

static const char sql_reset[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('overall', 'READY', 'token', null, "
	"     'steps', " STEPS_IDLE ", 'reset_deadline', null, 'reset_attempt', 0, "
	"     'checkpoint', null), "
	"  checkpoint = NULL, last_updated_at = now() "
	"  WHERE " COUNTDOWN_GUARD " RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

static const char sql_extend[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('reset_deadline', " DEADLINE_IN("$3::int") ", "
	"     'reset_attempt', coalesce((status->>'reset_attempt')::int, 0) + 1), "
	"  last_updated_at = now() "
	"  WHERE " COUNTDOWN_GUARD " RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

/*
 * $3 from, $4 to (READY, NOT_STARTED or FAILED), $5 reason, $6 stale
 * interval.  READY and NOT_STARTED leave no run: token and countdown
 * cleared, steps idle (the checkpoint stays: the next run resumes there).
 */
static const char sql_recover[] =
	"WITH u AS (UPDATE etl_jobs SET status = status || CASE WHEN $4::text = 'FAILED' "
	"    THEN jsonb_build_object('overall', 'FAILED') "
	"    ELSE jsonb_build_object('overall', $4::text, 'token', null, "
	"      'steps', " STEPS_IDLE ", 'reset_deadline', null, 'reset_attempt', 0) END, "
	"  error_message = CASE WHEN $4::text = 'FAILED' THEN $5::text "
	"    ELSE error_message END, "
	"  last_run_finished_at = CASE WHEN status->>'overall' = 'RUNNING' THEN now() "
	"    ELSE last_run_finished_at END, "
	"  last_updated_at = now() "
	"  WHERE " RUN_GUARD " AND status->>'overall' = $3::text "
	"  AND ($6::interval IS NULL OR (last_updated_at < now() - $6::interval "
	"    AND NOT EXISTS (SELECT 1 FROM etl_job_runs g "
	"      WHERE g.tenant_id = etl_jobs.tenant_id AND g.job_id = etl_jobs.id "
	"      AND g.token::text = etl_jobs.status->>'token' "
	"      AND g.last_activity_at >= now() - $6::interval))) "
	"  RETURNING id, tenant_id, status), "
	"r AS (UPDATE etl_job_runs SET finished_at = now(), "
	"  outcome = CASE WHEN $4::text = 'FAILED' THEN 'failed' ELSE 'cancelled' END, "
	"  error_message = coalesce($5::text, etl_job_runs.error_message) FROM u "
	"  WHERE etl_job_runs.tenant_id = u.tenant_id AND etl_job_runs.job_id = u.id "
	"  AND etl_job_runs.token::text = $2::text "
	"  AND etl_job_runs.outcome IN ('running', 'checkpointed')) "
	NOTIFY_TAIL;

static const char sql_finish_alert[] =
	"WITH u AS (UPDATE etl_jobs SET status = status "
	"  || jsonb_build_object('overall', 'FINISHED', 'token', null, 'alert', $2::text, "
	"     'steps', " STEPS_IDLE ", 'reset_deadline', " DEADLINE_IN("30") ", "
	"     'reset_attempt', 0), "
	"  last_run_finished_at = now(), last_updated_at = now() "
	"  WHERE id = $1 AND (status->>'overall' = 'READY' OR "
	"    ($3::bool AND status->>'overall' <> 'RUNNING')) "
	"  RETURNING id, tenant_id, status) "
	NOTIFY_TAIL;

int etl_status_reset(struct etl_db *db, int64_t job_id, const char *deadline, int *why)
{
	char id[24];
	const char *vals[2] = { id, deadline };

	fmt_id(id, sizeof(id), job_id);
	return run(db, sql_reset, vals, 2, "reset", job_id, why);
}

int etl_status_extend(struct etl_db *db, int64_t job_id, const char *deadline,
		      int seconds, int *why)
{
	char id[24], secs[12];
	const char *vals[3] = { id, deadline, secs };

	fmt_id(id, sizeof(id), job_id);
	snprintf(secs, sizeof(secs), "%d", seconds);
	return run(db, sql_extend, vals, 3, "extend the reset deadline", job_id, why);
}

int etl_status_recover(struct etl_db *db, int64_t job_id, const char *token,
		       const char *from, const char *to, const char *reason,
		       const char *stale, int *why)
{
	char id[24];
	const char *vals[6] = { id, token, from, to, reason, stale };

	if (strcmp(to, "READY") && strcmp(to, "NOT_STARTED") && strcmp(to, "FAILED")) {
		if (why)
			*why = ETL_SOFTWARE;
		return etl_error("cannot set job %lld to %s: only a run start or "
				 "completion does that", (long long)job_id, to);
	}
	fmt_id(id, sizeof(id), job_id);
	return run(db, sql_recover, vals, 6, "change the state", job_id, why);
}

int etl_status_finish_alert(struct etl_db *db, int64_t job_id, const char *alert,
			    int force, int *why)
{
	char id[24];
	const char *vals[3] = { id, alert, force ? "true" : "false" };

	fmt_id(id, sizeof(id), job_id);
	return run(db, sql_finish_alert, vals, 3, "finish with an alert", job_id, why);
}
