#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "buf.h"
#include "db.h"
#include "job.h"
#include "log.h"
#include "message.h"
#include "runstats.h"
#include "status.h"
#include "tenant.h"
#include "util.h"

#define ISO_UTC(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define SQL_LOAD \
	"SELECT j.id, j.tenant_id, j.integration_id, j.name, j.active, " \
	"i.active AS integration_active, t.active AS tenant_active, i.provider, t.tier, " \
	"j.status->>'overall' AS overall, j.status->>'token' AS token, " \
	ISO_UTC("j.last_sync_date") " AS last_sync_date " \
	"FROM etl_jobs j JOIN integrations i ON i.tenant_id = j.tenant_id " \
	"AND i.id = j.integration_id JOIN tenants t ON t.id = j.tenant_id " \
	"WHERE j.id = $1::bigint"
static const char sql_load[] = SQL_LOAD;
static const char sql_load_lock[] = SQL_LOAD " FOR UPDATE OF j";

static const char sql_integration_of[] =
	"SELECT 1 FROM integrations WHERE id = $1::bigint AND tenant_id = $2::bigint";
static const char sql_create[] =
	"INSERT INTO etl_jobs (tenant_id, integration_id, name, next_run) "
	"VALUES ($1::bigint, $2::bigint, $3, now()) RETURNING id";
static const char sql_intervals[] =
	"UPDATE etl_jobs SET retry_interval = coalesce($2::interval, retry_interval), "
	"cycle_interval = coalesce($3::interval, cycle_interval) "
	"WHERE id = $1::bigint AND coalesce($2::interval, retry_interval) > interval '0' "
	"AND coalesce($3::interval, cycle_interval) > interval '0' RETURNING id";

static const char sql_list[] =
	"SELECT j.id, j.tenant_id, t.name AS tenant, j.integration_id, i.provider, j.name, "
	"j.active, j.status->>'overall' AS state, "
	"to_char(j.next_run AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS next_run, "
	"to_char(j.last_run_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
	"  AS last_finished, "
	"json_build_object('id', j.id, 'tenant_id', j.tenant_id, 'tenant', t.name, "
	"  'integration_id', j.integration_id, 'provider', i.provider, 'name', j.name, "
	"  'active', j.active, 'integration_active', i.active, 'status', j.status, "
	"  'next_run', j.next_run, "
	"  'retry_interval_s', extract(epoch FROM j.retry_interval)::bigint, "
	"  'cycle_interval_s', extract(epoch FROM j.cycle_interval)::bigint, "
	"  'last_run_started_at', j.last_run_started_at, "
	"  'last_run_finished_at', j.last_run_finished_at, "
	"  'last_sync_date', j.last_sync_date, 'checkpoint', j.checkpoint, "
	"  'error_message', j.error_message, 'created_at', j.created_at, "
	"  'last_updated_at', j.last_updated_at)::text AS json "
	"FROM etl_jobs j JOIN tenants t ON t.id = j.tenant_id "
	"JOIN integrations i ON i.tenant_id = j.tenant_id AND i.id = j.integration_id "
	"WHERE ($1::bigint IS NULL OR j.id = $1::bigint) "
	"AND ($2::text IS NULL OR t.name = $2 OR t.id::text = $2) ORDER BY j.id";

static const char sql_set_active[] =
	"UPDATE etl_jobs SET active = $2::boolean, last_updated_at = now() "
	"WHERE id = $1::bigint RETURNING id";
static const char sql_delete[] =
	"DELETE FROM etl_jobs WHERE id = $1::bigint "
	"AND ($2::boolean OR status->>'overall' <> 'RUNNING') RETURNING id";
static const char sql_exists[] = "SELECT 1 FROM etl_jobs WHERE id = $1::bigint";

/* The next due job, claimed: concurrent ticks skip each other's rows. */
static const char sql_claim[] =
	"SELECT j.id FROM etl_jobs j JOIN tenants t ON t.id = j.tenant_id "
	"WHERE j.active AND t.active AND j.status->>'overall' = 'READY' "
	"AND j.next_run <= now() ORDER BY j.next_run, j.id LIMIT 1 "
	"FOR UPDATE OF j SKIP LOCKED";
static const char sql_unschedule[] =
	"UPDATE etl_jobs SET next_run = NULL WHERE id = $1::bigint";
/*
 * After job $1 started: the tenant's next active job (by id) is due after
 * $1's retry_interval; past the last one, the first is due after $1's
 * cycle_interval.  A job that is READY and already due keeps its time.
 */
static const char sql_schedule[] =
	"WITH me AS (SELECT id, tenant_id, retry_interval, cycle_interval FROM etl_jobs "
	"  WHERE id = $1::bigint), "
	"nxt AS (SELECT j.id FROM etl_jobs j, me WHERE j.tenant_id = me.tenant_id "
	"  AND j.active AND j.id > me.id ORDER BY j.id LIMIT 1), "
	"fst AS (SELECT j.id FROM etl_jobs j, me WHERE j.tenant_id = me.tenant_id "
	"  AND j.active ORDER BY j.id LIMIT 1), "
	"tgt AS (SELECT coalesce((SELECT id FROM nxt), (SELECT id FROM fst)) AS id, "
	"  NOT EXISTS (SELECT 1 FROM nxt) AS wrapped) "
	"UPDATE etl_jobs j SET next_run = now() + CASE WHEN tgt.wrapped "
	"  THEN me.cycle_interval ELSE me.retry_interval END "
	"FROM tgt, me WHERE j.id = tgt.id "
	"AND NOT (j.status->>'overall' = 'READY' AND j.next_run IS NOT NULL "
	"  AND j.next_run <= now()) "
	"RETURNING j.id, " ISO_UTC("j.next_run") " AS next_run, tgt.wrapped";

static const char *const all_states[] = { "NOT_STARTED", "READY", "RUNNING", "FINISHED",
					   "FAILED" };

static void fmt_id(char *buf, size_t n, int64_t id)
{
	snprintf(buf, n, "%lld", (long long)id);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

bool etl_job_state_valid(const char *s)
{
	for (size_t i = 0; i < ETL_ARRAY_SIZE(all_states); i++)
		if (!strcmp(s, all_states[i]))
			return true;
	return false;
}

void etl_job_release(struct etl_job *j)
{
	free(j->name);
	free(j->provider);
	free(j->tier);
	free(j->overall);
	free(j->token);
	free(j->last_sync_date);
	*j = (struct etl_job)ETL_JOB_INIT;
}

int etl_job_load(struct etl_db *db, int64_t id, bool lock, struct etl_job *out, int *why)
{
	char ids[24];
	const char *vals[1] = { ids };
	struct etl_db_res *r;
	int ret = -1;

	fmt_id(ids, sizeof(ids), id);
	r = etl_db_exec(db, lock ? sql_load_lock : sql_load, vals, 1, why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) == 0) {
		*why = ETL_NOINPUT;
		etl_error("unknown job %lld", (long long)id);
		goto out;
	}
	if (etl_db_int64(r, 0, "id", &out->id) != 0 ||
	    etl_db_int64(r, 0, "tenant_id", &out->tenant_id) != 0 ||
	    etl_db_int64(r, 0, "integration_id", &out->integration_id) != 0) {
		*why = ETL_SOFTWARE;
		goto out;
	}
	out->name = dup_or_null(etl_db_value(r, 0, "name"));
	out->provider = dup_or_null(etl_db_value(r, 0, "provider"));
	out->tier = dup_or_null(etl_db_value(r, 0, "tier"));
	out->overall = dup_or_null(etl_db_value(r, 0, "overall"));
	out->token = dup_or_null(etl_db_value(r, 0, "token"));
	out->last_sync_date = dup_or_null(etl_db_value(r, 0, "last_sync_date"));
	out->active = etl_db_bool(r, 0, "active");
	out->integration_active = etl_db_bool(r, 0, "integration_active");
	out->tenant_active = etl_db_bool(r, 0, "tenant_active");
	if (!out->overall)
		out->overall = xstrdup("NOT_STARTED");
	ret = 0;
out:
	etl_db_clear(r);
	return ret;
}

/* ---- registry ------------------------------------------------------------ */

struct create {
	int64_t tenant_id, integration_id, id;
	const char *name, *retry, *cycle;
};

static int create_txn(struct etl_db *db, void *arg, int *why)
{
	struct create *c = arg;
	char t[24], i[24], idbuf[24];
	const char *vals[3] = { t, i, c->name };
	struct etl_db_res *r;
	int rc;

	fmt_id(t, sizeof(t), c->tenant_id);
	fmt_id(i, sizeof(i), c->integration_id);
	r = etl_db_exec_full(db, sql_create, vals, NULL, 3, ETL_DB_QUIET, why);
	if (!r) {
		const struct etl_db_error *e = etl_db_last_error(db);

		if (!strcmp(e->sqlstate, "23505"))
			return etl_error("the tenant already has a job named '%s'", c->name);
		if (!strcmp(e->sqlstate, "23514"))
			return etl_error("invalid job name '%s': 1 to 255 characters", c->name);
		return etl_error("cannot create job '%s': %s", c->name, e->message);
	}
	rc = etl_db_int64(r, 0, "id", &c->id);
	etl_db_clear(r);
	if (rc != 0) {
		*why = ETL_SOFTWARE;
		return -1;
	}
	if (c->retry || c->cycle) {
		const char *iv[3] = { idbuf, c->retry, c->cycle };

		fmt_id(idbuf, sizeof(idbuf), c->id);
		r = etl_db_exec_full(db, sql_intervals, iv, NULL, 3, ETL_DB_QUIET, why);
		if (!r)
			return etl_error("invalid interval: %s", etl_db_last_error(db)->message);
		rc = etl_db_nrows(r);
		etl_db_clear(r);
		if (rc == 0) {
			*why = ETL_DATAERR;
			return etl_error("intervals must be positive");
		}
	}
	/* New jobs are READY, due now: the status module writes the status. */
	rc = etl_status_recover(db, c->id, NULL, "NOT_STARTED", "READY", NULL, NULL, why);
	if (rc < 0)
		return -1;
	return 0;
}

int etl_job_create(struct etl_db *db, const char *tenant, int64_t integration_id,
		   const char *name, const char *retry, const char *cycle,
		   int64_t *id, int *why)
{
	struct create c = { 0, integration_id, 0, name, retry, cycle };
	char i[24], t[24];
	const char *vals[2] = { i, t };
	struct etl_db_res *r;
	int n;

	if (etl_tenant_resolve(db, tenant, &c.tenant_id, why) < 0)
		return -1;
	fmt_id(i, sizeof(i), integration_id);
	fmt_id(t, sizeof(t), c.tenant_id);
	r = etl_db_exec(db, sql_integration_of, vals, 2, why);
	if (!r)
		return -1;
	n = etl_db_nrows(r);
	etl_db_clear(r);
	if (n == 0) {
		*why = ETL_NOINPUT;
		return etl_error("tenant '%s' has no integration %lld", tenant,
				 (long long)integration_id);
	}
	if (etl_db_in_txn(db, create_txn, &c, why) < 0)
		return -1;
	*id = c.id;
	return 0;
}

struct etl_db_res *etl_job_list(struct etl_db *db, int64_t id, const char *tenant,
				int *why)
{
	char ids[24];
	const char *vals[2] = { id ? ids : NULL, tenant };

	fmt_id(ids, sizeof(ids), id);
	return etl_db_exec(db, sql_list, vals, 2, why);
}

/* Run @sql on job @id; 0 when a row came back, 1 when none, -1. */
static int exec_id(struct etl_db *db, const char *sql, int64_t id, const char *arg,
		   int *why)
{
	char ids[24];
	const char *vals[2] = { ids, arg };
	struct etl_db_res *r;
	int n;

	fmt_id(ids, sizeof(ids), id);
	r = etl_db_exec(db, sql, vals, arg ? 2 : 1, why);
	if (!r)
		return -1;
	n = etl_db_nrows(r);
	etl_db_clear(r);
	return n > 0 ? 0 : 1;
}

int etl_job_set_active(struct etl_db *db, int64_t id, bool active, int *why)
{
	int rc = exec_id(db, sql_set_active, id, active ? "true" : "false", why);

	if (rc == 1) {
		*why = ETL_NOINPUT;
		return etl_error("unknown job %lld", (long long)id);
	}
	return rc;
}

int etl_job_delete(struct etl_db *db, int64_t id, bool force, int *why)
{
	int rc = exec_id(db, sql_delete, id, force ? "true" : "false", why);

	if (rc != 1)
		return rc;
	rc = exec_id(db, sql_exists, id, NULL, why);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		*why = ETL_NOINPUT;
		return etl_error("unknown job %lld", (long long)id);
	}
	*why = ETL_DATAERR;
	return etl_error("job %lld is running: stop its run first "
			 "('etl-job set-status %lld READY'), or delete with --force",
			 (long long)id, (long long)id);
}

/* ---- starting a run ------------------------------------------------------- */

void etl_job_start_result_release(struct etl_job_start_result *r)
{
	free(r->msg);
	free(r->state);
	*r = (struct etl_job_start_result)ETL_JOB_START_RESULT_INIT;
}

/* The job's first extraction message (DESIGN.md "Messages"); caller frees. */
static char *first_message(const struct etl_job *j, const char *token,
			   const struct etl_step *st, bool full)
{
	struct etl_buf b = ETL_BUF_INIT;

	etl_buf_addf(&b, "{\"tenant_id\":%lld,\"integration_id\":%lld,\"job_id\":%lld,"
		     "\"token\":\"%s\",\"type\":", (long long)j->tenant_id,
		     (long long)j->integration_id, (long long)j->id, token);
	etl_buf_add_json_str(&b, st->type, strlen(st->type));
	etl_buf_adds(&b, ",\"provider\":");
	etl_buf_add_json_str(&b, j->provider, strlen(j->provider));
	etl_buf_adds(&b, ",\"last_sync_date\":");
	if (j->last_sync_date)
		etl_buf_add_json_str(&b, j->last_sync_date, strlen(j->last_sync_date));
	else
		etl_buf_adds(&b, "null");
	etl_buf_adds(&b, ",\"first_item\":true,\"last_item\":false,\"last_job_item\":false");
	if (full)
		etl_buf_adds(&b, ",\"full\":true");
	etl_buf_addch(&b, '}');
	return etl_buf_detach(&b, NULL);
}

/* Publisher confirms of the start message: one outstanding at a time. */
static struct {
	enum etl_amqp_outcome outcome;
	bool settled;
	char why[200];
} confirm;

static void on_confirm(void *ctx, uint64_t cookie, enum etl_amqp_outcome out,
		       const char *why)
{
	(void)ctx;
	(void)cookie;
	confirm.outcome = out;
	confirm.settled = true;
	snprintf(confirm.why, sizeof(confirm.why), "%s", why ? why : "");
}

struct etl_amqp *etl_job_amqp_open(const char *url, int *why)
{
	struct etl_amqp_opts ao = ETL_AMQP_OPTS_INIT;
	struct etl_amqp *a = etl_amqp_connect(url, &ao, why);

	if (!a)
		return NULL;
	if (etl_amqp_confirm_select(a, 1, on_confirm, NULL) < 0) {
		*why = etl_amqp_why(a) ? etl_amqp_why(a) : ETL_UNAVAIL;
		etl_amqp_close(a);
		return NULL;
	}
	return a;
}

static int publish(struct etl_amqp *a, const char *queue, const char *msg, int *why)
{
	confirm.settled = false;
	if (etl_amqp_publish(a, ETL_AMQP_EXCHANGE, queue, msg, strlen(msg), NULL, 0, 1) < 0 ||
	    etl_amqp_flush(a) < 0) {
		*why = etl_amqp_why(a) ? etl_amqp_why(a) : ETL_UNAVAIL;
		return etl_error("cannot publish the start message to '%s'", queue);
	}
	if (!confirm.settled || confirm.outcome != ETL_AMQP_ACKED) {
		*why = confirm.outcome == ETL_AMQP_RETURNED ? ETL_CONFIG : ETL_UNAVAIL;
		return etl_error("the broker did not take the start message for '%s': %s%s",
				 queue, confirm.settled ? etl_amqp_outcome_name(confirm.outcome)
				 : "no confirm", confirm.outcome == ETL_AMQP_RETURNED ?
				 " (run 'etl-queue setup')" : "");
	}
	return 0;
}

/* The start, inside the caller's transaction.  0 or -1. */
static int start_txn(struct etl_db *db, int64_t id, const struct etl_job_start_opts *o,
		     struct etl_job_start_result *res, int *why)
{
	struct etl_job j = ETL_JOB_INIT;
	const struct etl_step *st;
	const char *tier;
	char err[200];
	struct etl_msg m = ETL_MSG_INIT;
	bool force;
	int rc, ret = -1;

	if (etl_job_load(db, id, true, &j, why) < 0)
		return -1;
	if (!j.active) {
		res->what = ETL_JOB_INACTIVE;
		ret = 0;
		goto out;
	}
	force = o->force || !strcmp(j.overall, "NOT_STARTED");
	etl_token_new(res->token);
	if (!j.integration_active) {
		char alert[160];

		snprintf(alert, sizeof(alert), "integration %lld is inactive: job skipped",
			 (long long)j.integration_id);
		rc = etl_status_finish_alert(db, id, alert, force, why);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			res->what = ETL_JOB_BUSY;
			res->state = xstrdup(j.overall);
			ret = 0;
			goto out;
		}
		/* The history shows the skipped run too. */
		if (etl_runstats_begin(db, j.tenant_id, id, res->token, why) < 0 ||
		    etl_runstats_finish(db, res->token, "cancelled", alert, why) < 0)
			goto out;
		res->what = ETL_JOB_ALERTED;
		ret = 0;
		goto out;
	}
	st = etl_step_of(j.provider, 0);
	if (!st) {
		*why = ETL_SOFTWARE;
		etl_error("provider '%s' has no steps", j.provider);
		goto out;
	}
	tier = o->tier ? o->tier : j.tier;
	if (!etl_tenant_tier_valid(tier)) {
		*why = ETL_USAGE;
		etl_error("invalid tier '%s' (free, basic, premium or enterprise)", tier);
		goto out;
	}
	rc = etl_status_start(db, id, res->token, j.provider, force, why);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		res->what = ETL_JOB_BUSY;
		res->state = xstrdup(j.overall);
		ret = 0;
		goto out;
	}
	if (etl_runstats_begin(db, j.tenant_id, id, res->token, why) < 0)
		goto out;
	res->msg = first_message(&j, res->token, st, o->full);
	/* The contract check every consumer will make, made first. */
	if (etl_msg_parse(&m, res->msg, strlen(res->msg), err, sizeof(err)) < 0 ||
	    etl_msg_validate(&m, ETL_STAGE_EXTRACTION, 0, err, sizeof(err)) < 0) {
		*why = ETL_SOFTWARE;
		etl_error("the start message breaks the contract: %s", err);
		goto out;
	}
	if (o->amqp) {
		snprintf(res->queue, sizeof(res->queue), "extraction_queue_%s", tier);
		if (publish(o->amqp, res->queue, res->msg, why) < 0)
			goto out;
	}
	res->what = ETL_JOB_STARTED;
	ret = 0;
out:
	etl_msg_release(&m);
	etl_job_release(&j);
	return ret;
}

int etl_job_start(struct etl_db *db, int64_t id, const struct etl_job_start_opts *o,
		  struct etl_job_start_result *res, int *why)
{
	/* Not etl_db_in_txn(): a retried transaction would publish twice. */
	if (etl_db_begin(db, why) < 0)
		return -1;
	if (start_txn(db, id, o, res, why) < 0) {
		etl_db_rollback(db);
		return -1;
	}
	return etl_db_commit(db, why);
}

int etl_job_abort(struct etl_db *db, int64_t id, const char *token, const char *reason,
		  int *why)
{
	return etl_status_fail(db, id, token, reason, why) < 0 ? -1 : 0;
}

/* ---- the scheduler ------------------------------------------------------- */

/* Claim and start the next due job.  1 started (or alerted), 0 none due, -1. */
static int tick_one(struct etl_db *db, struct etl_amqp **amqp, const char *url,
		    FILE *out, int64_t *job, int *why)
{
	struct etl_job_start_opts so = ETL_JOB_START_OPTS_INIT;
	struct etl_job_start_result res = ETL_JOB_START_RESULT_INIT;
	struct etl_db_res *r;
	char ids[24];
	const char *vals[1] = { ids };
	int64_t id;
	int rc;

	if (etl_db_begin(db, why) < 0)
		return -1;
	r = etl_db_exec(db, sql_claim, NULL, 0, why);
	if (!r)
		goto fail;
	rc = etl_db_nrows(r) ? etl_db_int64(r, 0, "id", &id) : 1;
	etl_db_clear(r);
	if (rc != 0) {
		etl_db_rollback(db);
		return 0;
	}
	if (!*amqp && !(*amqp = etl_job_amqp_open(url, why)))
		goto fail;
	so.amqp = *amqp;
	if (start_txn(db, id, &so, &res, why) < 0)
		goto fail;
	fmt_id(ids, sizeof(ids), id);
	r = etl_db_exec(db, sql_unschedule, vals, 1, why);
	if (!r)
		goto fail;
	etl_db_clear(r);
	if (etl_db_commit(db, why) < 0)
		goto fail_released;
	*job = id;
	if (out && res.what == ETL_JOB_STARTED)
		fprintf(out, "{\"job_id\":%lld,\"action\":\"started\",\"token\":\"%s\","
			"\"queue\":\"%s\"}\n", (long long)id, res.token, res.queue);
	else if (out && res.what == ETL_JOB_ALERTED)
		fprintf(out, "{\"job_id\":%lld,\"action\":\"alert\",\"alert\":"
			"\"integration inactive\"}\n", (long long)id);
	if (out)
		fflush(out);
	if (res.what == ETL_JOB_STARTED)
		etl_info("job %lld started (run %s) on '%s'", (long long)id, res.token,
			 res.queue);
	else
		etl_warn("job %lld: its integration is inactive: finished with an alert",
			 (long long)id);
	etl_job_start_result_release(&res);
	return 1;
fail:
	etl_db_rollback(db);
fail_released:
	etl_job_start_result_release(&res);
	return -1;
}

static int schedule_next(struct etl_db *db, int64_t id, int *why)
{
	char ids[24];
	const char *vals[1] = { ids };
	struct etl_db_res *r;

	fmt_id(ids, sizeof(ids), id);
	r = etl_db_exec(db, sql_schedule, vals, 1, why);
	if (!r)
		return etl_error("cannot schedule the job after job %lld", (long long)id);
	for (int i = 0; i < etl_db_nrows(r); i++)
		etl_info("job %s is due at %s%s", etl_db_value(r, i, "id"),
			 etl_db_value(r, i, "next_run"),
			 etl_db_bool(r, i, "wrapped") ? " (a new cycle)" : "");
	etl_db_clear(r);
	return 0;
}

int etl_job_tick(struct etl_db *db, const struct etl_job_tick_opts *o, long *started)
{
	struct etl_amqp *amqp = NULL;
	int why = ETL_OK, rc;
	long n = 0;

	while (!etl_stop_requested) {
		int64_t id = 0;

		rc = tick_one(db, &amqp, o->amqp_url, o->out, &id, &why);
		if (rc <= 0)
			break;
		n++;
		/* After the commit, alone: no lock held while waiting for another
		 * tick's row, so concurrent ticks cannot deadlock. */
		if (schedule_next(db, id, &why) < 0)
			break;
	}
	etl_amqp_close(amqp);
	if (started)
		*started = n;
	return why;
}

/* ---- recovery -------------------------------------------------------------- */

int etl_job_set_status(struct etl_db *db, int64_t id, const char *state, int *why)
{
	struct etl_job j = ETL_JOB_INIT;
	const char *reason = NULL;
	int rc = -1;

	if (!etl_job_state_valid(state)) {
		*why = ETL_USAGE;
		return etl_error("unknown state '%s' (NOT_STARTED, READY, RUNNING, "
				 "FINISHED or FAILED)", state);
	}
	if (etl_job_load(db, id, false, &j, why) < 0)
		return -1;
	if (!strcmp(j.overall, state)) {
		etl_warn("job %lld is already %s", (long long)id, state);
		rc = 1;
		goto out;
	}
	*why = ETL_DATAERR;
	if (!strcmp(state, "RUNNING")) {
		etl_error("refusing %s -> RUNNING: a run needs a new token and its first "
			  "message; use 'etl-job start %lld%s'", j.overall, (long long)id,
			  strcmp(j.overall, "READY") ? " --force" : "");
		goto out;
	}
	if (!strcmp(state, "FINISHED")) {
		etl_error("refusing %s -> FINISHED: only a run's last message completes it, "
			  "and completing moves last_sync_date past data never synced; "
			  "use READY (run it again) or FAILED", j.overall);
		goto out;
	}
	if (!strcmp(state, "FAILED") && strcmp(j.overall, "RUNNING")) {
		etl_error("refusing %s -> FAILED: only a running job can fail", j.overall);
		goto out;
	}
	if (!strcmp(state, "FAILED"))
		reason = "failed by etl-job set-status";
	else if (!strcmp(j.overall, "RUNNING")) {
		reason = "cancelled by etl-job set-status";
		etl_warn("run %s of job %lld cancelled: its messages still queued or in "
			 "flight will be ignored", j.token ? j.token : "-", (long long)id);
	}
	rc = etl_status_recover(db, id, j.token, j.overall, state, reason, NULL, why);
	if (rc == 1) {
		*why = ETL_TEMPFAIL;
		etl_error("job %lld changed state meanwhile; look again ('etl-job status "
			  "%lld')", (long long)id, (long long)id);
		rc = -1;
	}
out:
	etl_job_release(&j);
	return rc;
}
