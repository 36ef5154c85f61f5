#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "status.h"
#include "util.h"
#include "watch.h"

/* The status of a job in the shape of a notification, and what the
 * progress display adds. */
static const char sql_now[] =
	"SELECT json_build_object('type', 'job_status_update', 'job_id', id, "
	"  'tenant_id', tenant_id, 'status', status)::text AS json, name, "
	"  round(extract(epoch FROM coalesce(CASE WHEN status->>'overall' = 'RUNNING' "
	"    THEN now() END, last_run_finished_at, now()) - last_run_started_at)) "
	"    AS elapsed_s, error_message "
	"FROM etl_jobs WHERE id = $1::bigint";

#define MAX_STEPS 16

struct step_view {
	long order;
	char *name;
	char *st[3];    /* extraction, transform, embedding */
};

struct view {
	int64_t job_id;
	char *overall, *token, *deadline, *alert;
	struct step_view steps[MAX_STEPS];
	int nsteps;
};

static const char *const stage_keys[3] = { "extraction", "transform", "embedding" };

static void view_release(struct view *v)
{
	free(v->overall);
	free(v->token);
	free(v->deadline);
	free(v->alert);
	for (int i = 0; i < v->nsteps; i++) {
		free(v->steps[i].name);
		for (int k = 0; k < 3; k++)
			free(v->steps[i].st[k]);
	}
	memset(v, 0, sizeof(*v));
}

static int by_order(const void *a, const void *b)
{
	const struct step_view *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/*
 * Read a notification payload into @v.  0 ok, 1 when it carries no status
 * (truncated: read it from the database), -1 when it is not one.
 */
static int parse(const char *payload, struct view *v)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	uint32_t st, steps;
	char err[128];
	int ret = -1;

	memset(v, 0, sizeof(*v));
	if (etl_jdoc_parse(&d, payload, strlen(payload), err, sizeof(err)) < 0 ||
	    etl_jdoc_i64(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "job_id"), &v->job_id) < 0)
		goto out;
	st = etl_jdoc_get(&d, ETL_JDOC_ROOT, "status");
	if (etl_jdoc_kind(&d, st) != ETL_JSON_OBJECT) {
		ret = 1;
		goto out;
	}
	v->overall = etl_jdoc_strdup(&d, etl_jdoc_get(&d, st, "overall"));
	v->token = etl_jdoc_strdup(&d, etl_jdoc_get(&d, st, "token"));
	v->deadline = etl_jdoc_strdup(&d, etl_jdoc_get(&d, st, "reset_deadline"));
	v->alert = etl_jdoc_strdup(&d, etl_jdoc_get(&d, st, "alert"));
	steps = etl_jdoc_get(&d, st, "steps");
	if (etl_jdoc_kind(&d, steps) == ETL_JSON_OBJECT) {
		for (uint32_t k = etl_jdoc_first(&d, steps); k && v->nsteps < MAX_STEPS;
		     k = etl_jdoc_next(&d, etl_jdoc_next(&d, k))) {
			uint32_t s = etl_jdoc_next(&d, k);
			struct step_view *sv = &v->steps[v->nsteps++];
			int64_t order = 0;

			etl_jdoc_i64(&d, etl_jdoc_get(&d, s, "order"), &order);
			sv->order = (long)order;
			sv->name = etl_jdoc_strdup(&d, etl_jdoc_get(&d, s, "display_name"));
			if (!sv->name)
				sv->name = etl_jdoc_strdup(&d, k);
			for (int i = 0; i < 3; i++)
				sv->st[i] = etl_jdoc_strdup(&d, etl_jdoc_get(&d, s, stage_keys[i]));
		}
		qsort(v->steps, (size_t)v->nsteps, sizeof(v->steps[0]), by_order);
	}
	ret = 0;
out:
	etl_jdoc_release(&d);
	return ret;
}

struct job_now {
	char *json, *name, *error;
	long elapsed_s;
};

static void job_now_release(struct job_now *n)
{
	free(n->json);
	free(n->name);
	free(n->error);
	memset(n, 0, sizeof(*n));
}

/* 0, 1 no such job, -1. */
static int fetch(struct etl_db *db, int64_t id, struct job_now *n, int *why)
{
	char ids[24];
	const char *vals[1] = { ids };
	struct etl_db_res *r;
	const char *e;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	r = etl_db_exec(db, sql_now, vals, 1, why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) == 0) {
		etl_db_clear(r);
		return 1;
	}
	n->json = xstrdup(etl_db_value(r, 0, "json"));
	n->name = xstrdup(etl_db_value(r, 0, "name"));
	e = etl_db_value(r, 0, "error_message");
	n->error = e ? xstrdup(e) : NULL;
	e = etl_db_value(r, 0, "elapsed_s");
	n->elapsed_s = e ? strtol(e, NULL, 10) : -1;
	etl_db_clear(r);
	return 0;
}

/* ---- display ---------------------------------------------------------------- */

static const char *color(const char *state)
{
	if (!state)
		return "\033[2m";
	if (!strcmp(state, "finished") || !strcmp(state, "FINISHED"))
		return "\033[32m";
	if (!strcmp(state, "running") || !strcmp(state, "RUNNING"))
		return "\033[33m";
	if (!strcmp(state, "failed") || !strcmp(state, "FAILED"))
		return "\033[31m";
	return "\033[2m";
}

static char mark(const char *state)
{
	if (!state)
		return '.';
	if (!strcmp(state, "finished"))
		return '+';
	if (!strcmp(state, "running"))
		return '>';
	if (!strcmp(state, "failed"))
		return 'x';
	return '.';
}

static int table(FILE *out, const struct view *v, const struct job_now *n)
{
	int lines = 0;

	fprintf(out, "\033[1mjob %lld\033[0m %s  %s%s\033[0m", (long long)v->job_id,
		n->name ? n->name : "", color(v->overall), v->overall ? v->overall : "?");
	if (n->elapsed_s >= 0)
		fprintf(out, "  %ld:%02ld", n->elapsed_s / 60, n->elapsed_s % 60);
	if (v->token)
		fprintf(out, "  run %.8s", v->token);
	fputs("\033[K\n", out);
	lines++;
	fprintf(out, "   %-24s %-11s %-11s %-11s\033[K\n", "step", "extraction", "transform",
		"embedding");
	lines++;
	for (int i = 0; i < v->nsteps; i++) {
		const struct step_view *s = &v->steps[i];

		fprintf(out, "%2ld %-24.24s", s->order, s->name ? s->name : "?");
		for (int k = 0; k < 3; k++)
			fprintf(out, " %s%-11s\033[0m", color(s->st[k]), s->st[k] ? s->st[k] : "-");
		fputs("\033[K\n", out);
		lines++;
	}
	if (v->alert) {
		fprintf(out, "\033[31malert: %s\033[0m\033[K\n", v->alert);
		lines++;
	}
	if (v->overall && !strcmp(v->overall, "FAILED") && n->error) {
		fprintf(out, "\033[31merror: %s\033[0m\033[K\n", n->error);
		lines++;
	}
	if (v->deadline && v->overall && !strcmp(v->overall, "FINISHED")) {
		fprintf(out, "reset to READY after %s (etl-reset)\033[K\n", v->deadline);
		lines++;
	}
	fflush(out);
	return lines;
}

/* One line per change, for every job. */
static void summary_line(FILE *out, const struct view *v)
{
	char when[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(out, "%s  job %-5lld %s%-9s\033[0m", when, (long long)v->job_id,
		color(v->overall), v->overall ? v->overall : "?");
	for (int i = 0; i < v->nsteps; i++)
		fprintf(out, " %ld:%c%c%c", v->steps[i].order, mark(v->steps[i].st[0]),
			mark(v->steps[i].st[1]), mark(v->steps[i].st[2]));
	fputc('\n', out);
	fflush(out);
}

/* ---- the loop --------------------------------------------------------------- */

struct state {
	const struct etl_watch_opts *o;
	struct etl_db *db;
	int drawn;          /* lines of the last table, to redraw over */
};

/*
 * Show one status (@payload: a notification or the database's version).
 * Returns 0 to go on, 1 when the watched job reached FINISHED, 2 FAILED,
 * -1 on a failure (*why set).
 */
static int show(struct state *s, const char *payload, int *why)
{
	struct job_now n = { NULL, NULL, NULL, -1 };
	struct view v;
	int rc = parse(payload, &v);

	if (rc < 0) {
		etl_warn("ignoring a notification that is not a job status: %.80s", payload);
		return 0;
	}
	if (s->o->job_id && v.job_id != s->o->job_id) {
		view_release(&v);
		return 0;
	}
	if (rc == 1 || (s->o->tty && s->o->job_id)) {
		int64_t id = v.job_id;

		rc = fetch(s->db, id, &n, why);
		if (rc < 0) {
			view_release(&v);
			return -1;
		}
		if (rc == 1) {   /* deleted meanwhile */
			view_release(&v);
			return 0;
		}
		if (!v.overall) {   /* truncated: the database's version */
			view_release(&v);
			payload = n.json;
			parse(payload, &v);
		}
	}
	if (!s->o->tty) {
		fprintf(s->o->out, "%s\n", payload);
		fflush(s->o->out);
	} else if (s->o->job_id) {
		if (s->drawn)
			fprintf(s->o->out, "\033[%dA\r\033[J", s->drawn);
		s->drawn = table(s->o->out, &v, &n);
	} else {
		summary_line(s->o->out, &v);
	}
	rc = 0;
	if (s->o->job_id && v.overall)
		rc = !strcmp(v.overall, "FINISHED") ? 1 : !strcmp(v.overall, "FAILED") ? 2 : 0;
	view_release(&v);
	job_now_release(&n);
	return rc;
}

int etl_watch(struct etl_db *db, const struct etl_watch_opts *o)
{
	struct state s = { o, db, 0 };
	int64_t deadline = o->timeout_ms >= 0 ? etl_now_ms() + o->timeout_ms : -1;
	int why = ETL_OK, rc;

	if (etl_db_listen(db, ETL_STATUS_CHANNEL, &why) < 0)
		return why;
	/* Listening first, then the current state: no change falls between. */
	if (o->job_id) {
		struct job_now n = { NULL, NULL, NULL, -1 };

		rc = fetch(db, o->job_id, &n, &why);
		if (rc == 1) {
			etl_error("unknown job %lld", (long long)o->job_id);
			return ETL_NOINPUT;
		}
		if (rc < 0)
			return why;
		rc = show(&s, n.json, &why);
		job_now_release(&n);
		if (rc < 0)
			return why;
		if (rc > 0)
			return rc == 1 ? ETL_OK : 1;
	}
	for (;;) {
		char *payload = NULL;
		long left = -1;

		if (deadline >= 0) {
			left = (long)(deadline - etl_now_ms());
			if (left <= 0)
				break;
		}
		rc = etl_db_wait_notify(db, (int)left, NULL, &payload, &why);
		if (rc < 0)
			return why;
		if (rc == 0)
			break;   /* timeout or a signal */
		rc = show(&s, payload, &why);
		free(payload);
		if (rc < 0)
			return why;
		if (rc > 0)
			return rc == 1 ? ETL_OK : 1;
	}
	if (!o->job_id)
		return ETL_OK;
	etl_info("stopped watching job %lld before it ended", (long long)o->job_id);
	return ETL_TEMPFAIL;
}
