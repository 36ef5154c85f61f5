#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "reset.h"
#include "status.h"
#include "util.h"

/* Every step finished in its three stages (a status with no steps too). */
#define STEPS_DONE \
	"NOT EXISTS (SELECT 1 FROM jsonb_each(coalesce(status->'steps', '{}')) AS e (k, v) " \
	"WHERE v->>'extraction' IS DISTINCT FROM 'finished' " \
	"OR v->>'transform' IS DISTINCT FROM 'finished' " \
	"OR v->>'embedding' IS DISTINCT FROM 'finished')"

#define DEADLINE_OK "status->>'reset_deadline' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'"

static const char sql_due[] =
	"SELECT id, status->>'reset_deadline' AS deadline FROM etl_jobs "
	"WHERE status->>'overall' = 'FINISHED' AND " DEADLINE_OK " "
	"AND (status->>'reset_deadline')::timestamptz <= now() ORDER BY id";

/* Claim one: gone when another pass holds it or it moved on. */
static const char sql_claim[] =
	"SELECT status->>'token' AS token, "
	"coalesce((status->>'reset_attempt')::int, 0) AS attempt, "
	STEPS_DONE " AS steps_done, "
	"(SELECT string_agg(k, ', ' ORDER BY (v->>'order')::int) "
	"  FROM jsonb_each(coalesce(status->'steps', '{}')) AS e (k, v) "
	"  WHERE v->>'extraction' IS DISTINCT FROM 'finished' "
	"  OR v->>'transform' IS DISTINCT FROM 'finished' "
	"  OR v->>'embedding' IS DISTINCT FROM 'finished') AS unfinished "
	"FROM etl_jobs WHERE id = $1::bigint AND status->>'overall' = 'FINISHED' "
	"AND status->>'reset_deadline' IS NOT DISTINCT FROM $2::text "
	"FOR UPDATE SKIP LOCKED";

/* Serializes the queue checks of every etl-reset (a fixed, arbitrary key). */
static const char sql_queue_lock[] = "SELECT pg_advisory_xact_lock(727365740001)";

/*
 * RUNNING jobs with neither a status change nor a run counter for $1.  A
 * run that checkpointed to wait out a rate limit (its message parked in a
 * delay queue) is idle from the checkpoint's retry_at, not before.
 */
#define LAST_SIGN_OF_LIFE \
	"greatest(j.last_updated_at, r.last_activity_at, " \
	"  CASE WHEN j.status->'checkpoint'->>'retry_at' ~ " \
	"    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' " \
	"  THEN (j.status->'checkpoint'->>'retry_at')::timestamptz END)"
static const char sql_stuck[] =
	"SELECT j.id, j.status->>'token' AS token, "
	"round(extract(epoch FROM now() - " LAST_SIGN_OF_LIFE ")) AS idle_s "
	"FROM etl_jobs j LEFT JOIN etl_job_runs r ON r.tenant_id = j.tenant_id "
	"AND r.job_id = j.id AND r.token::text = j.status->>'token' "
	"WHERE j.status->>'overall' = 'RUNNING' "
	"AND " LAST_SIGN_OF_LIFE " < now() - $1::interval "
	"ORDER BY j.id";

int etl_reset_backoff_s(int attempt)
{
	static const int steps[] = { 60, 180, 300 };

	if (attempt < 0)
		attempt = 0;
	return steps[attempt < 2 ? attempt : 2];
}

int etl_reset_parse_age(const char *s, long *secs)
{
	char *end;
	long v, mul = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
	}
	if (v > 3650L * 86400 / mul)
		return -1;
	*secs = v * mul;
	return 0;
}

struct pass {
	const struct etl_reset_opts *o;
	struct etl_db *db;
	const char *amqp_url;   /* NULL: no queue check */
	int worst;
};

static void note(struct pass *p, int code)
{
	p->worst = etl_exit_worst(p->worst, code);
}

static void out_line(struct pass *p, const char *fmt, ...) ETL_PRINTF(2, 3);
static void out_line(struct pass *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->o->out)
		return;
	va_start(ap, fmt);
	vfprintf(p->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->o->out);
	fflush(p->o->out);
}

/* Messages of run @token in the queues: >= 0, or -1 after reporting. */
static long queued(struct pass *p, const char *token)
{
	struct etl_queue_opts qo = ETL_QUEUE_OPTS_INIT;
	long total = 0;
	int rc;

	qo.url = p->amqp_url;
	qo.token = token;
	qo.delivery_limit = p->o->delivery_limit;
	rc = etl_queue_count_total(&qo, NULL, &total);
	if (rc != ETL_OK) {
		note(p, rc);
		return etl_error("cannot count the messages of run %s left in the queues",
				 token);
	}
	return total;
}

/* Check and reset or extend job @id, claimed in a transaction. */
static void countdown_one(struct pass *p, int64_t id, const char *deadline)
{
	char ids[24], reason[256] = "";
	const char *vals[2] = { ids, deadline };
	struct etl_db_res *r = NULL;
	struct etl_buf rj = ETL_BUF_INIT;
	const char *token;
	bool work_left = false;
	int why = ETL_OK, attempt = 0, rc;
	long n = 0;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if (etl_db_begin(p->db, &why) < 0)
		goto fail;
	r = etl_db_exec(p->db, sql_claim, vals, 2, &why);
	if (!r)
		goto fail;
	if (etl_db_nrows(r) == 0) {
		etl_info("job %lld: checked by another etl-reset, or it moved on", (long long)id);
		goto done;
	}
	token = etl_db_value(r, 0, "token");
	attempt = (int)strtol(etl_db_value(r, 0, "attempt"), NULL, 10);
	/* No token: nothing ran (an inactive integration's alert). */
	if (token && !etl_db_bool(r, 0, "steps_done")) {
		work_left = true;
		snprintf(reason, sizeof(reason), "steps not finished: %s",
			 etl_db_value(r, 0, "unfinished"));
	} else if (token && p->amqp_url) {
		struct etl_db_res *l = etl_db_exec(p->db, sql_queue_lock, NULL, 0, &why);

		if (!l)
			goto fail;
		etl_db_clear(l);
		n = queued(p, token);
		if (n < 0) {
			etl_warn("job %lld left FINISHED until the queues can be checked",
				 (long long)id);
			goto done;
		}
		if (n > 0) {
			work_left = true;
			snprintf(reason, sizeof(reason), "%ld message%s of run %s still queued",
				 n, n == 1 ? "" : "s", token);
		}
	}
	if (work_left) {
		int secs = etl_reset_backoff_s(attempt);

		if (!p->o->dry_run) {
			rc = etl_status_extend(p->db, id, deadline, secs, &why);
			if (rc < 0)
				goto fail;
			if (rc == 1)
				goto done;
		}
		etl_info("job %lld: %s: reset deadline extended by %d s", (long long)id,
			 reason, secs);
		etl_buf_add_json_str(&rj, reason, strlen(reason));
		out_line(p, "{\"job_id\":%lld,\"action\":\"extend\",\"seconds\":%d,"
			 "\"attempt\":%d,\"dry_run\":%s,\"reason\":%s}", (long long)id, secs,
			 attempt + 1, p->o->dry_run ? "true" : "false", rj.buf);
	} else {
		if (!p->o->dry_run) {
			rc = etl_status_reset(p->db, id, deadline, &why);
			if (rc < 0)
				goto fail;
			if (rc == 1)
				goto done;
		}
		etl_info("job %lld: reset to READY", (long long)id);
		out_line(p, "{\"job_id\":%lld,\"action\":\"reset\",\"dry_run\":%s}",
			 (long long)id, p->o->dry_run ? "true" : "false");
	}
done:
	etl_buf_release(&rj);
	etl_db_clear(r);
	if (p->o->dry_run)
		etl_db_rollback(p->db);
	else if (etl_db_commit(p->db, &why) < 0)
		note(p, why);
	return;
fail:
	etl_buf_release(&rj);
	etl_db_clear(r);
	etl_db_rollback(p->db);
	etl_error("job %lld: the reset countdown failed", (long long)id);
	note(p, why ? why : ETL_SOFTWARE);
}

static void countdown(struct pass *p)
{
	struct etl_db_res *r;
	int why = ETL_OK;

	r = etl_db_exec(p->db, sql_due, NULL, 0, &why);
	if (!r) {
		note(p, why);
		return;
	}
	for (int i = 0; i < etl_db_nrows(r) && !etl_stop_requested; i++) {
		int64_t id;

		if (etl_db_int64(r, i, "id", &id) == 0)
			countdown_one(p, id, etl_db_value(r, i, "deadline"));
	}
	etl_db_clear(r);
}

static void stuck(struct pass *p)
{
	const char *to = p->o->requeue ? "READY" : "FAILED";
	char age[32], reason[128];
	const char *vals[1] = { age };
	struct etl_db_res *r;
	int why = ETL_OK;

	snprintf(age, sizeof(age), "%ld seconds", p->o->stuck_s);
	r = etl_db_exec(p->db, sql_stuck, vals, 1, &why);
	if (!r) {
		note(p, why);
		return;
	}
	for (int i = 0; i < etl_db_nrows(r) && !etl_stop_requested; i++) {
		const char *idle = etl_db_value(r, i, "idle_s");
		int64_t id;
		int rc = 0;

		if (etl_db_int64(r, i, "id", &id) != 0)
			continue;
		snprintf(reason, sizeof(reason), "no progress for %s s (etl-reset --stuck)",
			 idle ? idle : "?");
		if (!p->o->dry_run) {
			rc = etl_status_recover(p->db, id, etl_db_value(r, i, "token"), "RUNNING",
						to, reason, age, &why);
			if (rc < 0) {
				note(p, why);
				continue;
			}
		}
		if (rc == 1)
			continue;   /* it moved meanwhile, or another pass took it */
		if (p->o->dry_run)
			etl_info("job %lld: %s: would be %s", (long long)id, reason, to);
		else
			etl_warn("job %lld: %s: %s", (long long)id, reason,
				 p->o->requeue ? "back to READY" : "FAILED");
		out_line(p, "{\"job_id\":%lld,\"action\":\"%s\",\"idle_s\":%s,\"dry_run\":%s}",
			 (long long)id, p->o->requeue ? "requeue" : "fail", idle ? idle : "null",
			 p->o->dry_run ? "true" : "false");
	}
	etl_db_clear(r);
}

int etl_reset_run(const struct etl_reset_opts *o)
{
	struct pass p = { o, NULL, o->amqp_url, ETL_OK };
	int last = ETL_OK;

	if (!p.amqp_url)
		p.amqp_url = etl_config_get("ETL_AMQP_URL");
	if (p.amqp_url && !*p.amqp_url)
		p.amqp_url = NULL;
	if (!p.amqp_url)
		etl_info("ETL_AMQP_URL is not set: not checking the queues for work left "
			 "(a pipe has no queues)");
	do {
		int why = ETL_OK;

		p.worst = ETL_OK;
		if (!p.db && !(p.db = etl_db_connect(o->dsn, &why))) {
			p.worst = why;
		} else {
			countdown(&p);
			if (o->stuck_s > 0 && !etl_stop_requested)
				stuck(&p);
			/* A broken connection is opened again for the next pass. */
			if (p.worst == ETL_UNAVAIL) {
				etl_db_close(p.db);
				p.db = NULL;
			}
		}
		last = p.worst;
		if (o->watch && !etl_stop_requested)
			etl_sleep_ms(o->interval_ms);
	} while (o->watch && !etl_stop_requested);
	etl_db_close(p.db);
	return o->watch ? (last == ETL_CONFIG ? last : ETL_OK) : last;
}
