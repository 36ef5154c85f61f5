#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db.h"
#include "extract.h"
#include "integration.h"
#include "json.h"
#include "message.h"
#include "runstats.h"
#include "stage.h"
#include "status.h"
#include "token.h"
#include "util.h"

/* Invalid JSON in a 2xx response (a cut connection): fetched again. */
#define FETCH_JSON_ATTEMPTS 3

static const char sql_insert_raw[] =
	"INSERT INTO raw_extraction_data (tenant_id, integration_id, job_id, token, type, "
	"provider, request_method, request_url, request_params, http_status, content_type, "
	"raw_data, page) VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8, $9::jsonb, $10, $11, "
	"$12, $13) RETURNING id";

/* A run's stored responses for one step: what a rerun catches up from. */
static const char sql_stored_rows[] =
	"SELECT id, coalesce(request_params->>'sig', '') AS sig FROM raw_extraction_data "
	"WHERE tenant_id = $1 AND token = $2::uuid AND type = $3 ORDER BY id";

static const char sql_stored_row[] =
	"SELECT raw_data, http_status, content_type FROM raw_extraction_data "
	"WHERE tenant_id = $1 AND id = $2";

/* Runs of the step since the last pass of @kind_pass, other runs only. */
static const char sql_runs_since_pass[] =
	"SELECT count(DISTINCT token) AS runs FROM raw_extraction_data "
	"WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 "
	"AND token IS DISTINCT FROM $4::uuid AND request_params->>'kind' = $5 "
	"AND id > coalesce((SELECT max(id) FROM raw_extraction_data "
	"  WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 "
	"  AND token IS DISTINCT FROM $4::uuid AND request_params->>'kind' = $6), 0)";

static const char sql_fresh_kind[] =
	"SELECT EXISTS (SELECT 1 FROM raw_extraction_data "
	"WHERE tenant_id = $1 AND integration_id = $2 AND type = $3 "
	"AND token IS DISTINCT FROM $4::uuid AND request_params->>'kind' = $5 "
	"AND created_at > now() - make_interval(secs => $6::double precision)) AS fresh";

static const char sql_replay_range[] =
	"SELECT id, tenant_id, integration_id, job_id, token::text AS token, type, provider, "
	"request_params->>'kind' AS kind FROM raw_extraction_data "
	"WHERE id BETWEEN $1 AND $2 AND request_params->>'for_raw_id' IS NULL ORDER BY id";

static const char sql_replay_job[] =
	"SELECT id, tenant_id, integration_id, job_id, token::text AS token, type, provider, "
	"request_params->>'kind' AS kind FROM raw_extraction_data "
	"WHERE job_id = $1 AND token = (SELECT token FROM raw_extraction_data "
	"  WHERE job_id = $1 ORDER BY id DESC LIMIT 1) "
	"AND request_params->>'for_raw_id' IS NULL ORDER BY id";

struct stored_row {
	int64_t id;
	char sig[17];
};

/* One transform message in the making. */
struct item {
	bool open;
	long index;                /* 1-based within the step */
	int64_t raw_id;            /* 0 with --no-store */
	bool replayed;             /* its response came from a stored row */
	char kind[48];
	/* --no-store: the response and its attached responses inline. */
	struct etl_buf raw, changelogs, params, url;
	size_t nchangelogs;
};

struct etl_extract {
	struct etl_extract_opts o;
	const struct etl_extract_provider *const *providers;
	void **states;
	struct etl_db *db;
};

struct etl_extract_run {
	struct etl_extract *x;
	struct etl_stage_ctx *st;
	struct etl_msg *m;
	const struct etl_step *step;
	const struct etl_extract_provider *p;
	void **state;
	struct etl_integration integ;
	struct etl_msg base;        /* transform messages start from this */
	struct etl_msg next;        /* the next step's extraction message */
	bool next_used;
	/* The last fetch. */
	struct etl_http_resp resp;
	bool have_resp, rate_limited;
	int64_t replayed_id;
	char method[8], sig[17];
	struct etl_buf url;
	/* Catching up from stored rows. */
	struct stored_row *rows;
	size_t nrows, next_row;
	long suppress;              /* messages of this step emitted earlier */
	bool suppress_all;          /* a step before the checkpoint's */
	bool checkpointed;          /* the checkpoint names this step */
	/* Messages. */
	struct item cur, held;
	long submitted, emitted, pages;
	struct etl_buf hints;
	/* Metrics. */
	long requests, rate_hits, errors, replayed;
	char reason[512];
};

/* ------------------------------------------------------------------ setup */

struct etl_extract *etl_extract_new(const struct etl_extract_opts *o,
				    const struct etl_extract_provider *const *providers,
				    int *why)
{
	struct etl_extract *x = xcalloc(1, sizeof(*x));
	size_t n = 0;

	x->o = *o;
	x->providers = providers;
	while (providers && providers[n])
		n++;
	x->states = xcalloc(n + 1, sizeof(*x->states));
	if (o->store) {
		x->db = etl_db_connect(o->dsn, why);
		if (!x->db) {
			free(x->states);
			free(x);
			return NULL;
		}
	}
	return x;
}

void etl_extract_free(struct etl_extract *x)
{
	if (!x)
		return;
	for (size_t i = 0; x->providers && x->providers[i]; i++)
		if (x->states[i] && x->providers[i]->free_state)
			x->providers[i]->free_state(x->states[i]);
	free(x->states);
	etl_db_close(x->db);
	free(x);
}

static const struct etl_extract_provider *find_provider(struct etl_extract *x,
							 const char *name, void ***state)
{
	for (size_t i = 0; x->providers && x->providers[i]; i++)
		if (!strcasecmp(x->providers[i]->name, name)) {
			*state = &x->states[i];
			return x->providers[i];
		}
	return NULL;
}

/* ------------------------------------------------------------ accessors */

const struct etl_msg *etl_extract_msg(const struct etl_extract_run *run)
{
	return run->m;
}

const struct etl_step *etl_extract_step(const struct etl_extract_run *run)
{
	return run->step;
}

const struct etl_integration *etl_extract_integration(const struct etl_extract_run *run)
{
	return &run->integ;
}

const struct etl_extract_opts *etl_extract_opts(const struct etl_extract_run *run)
{
	return &run->x->o;
}

struct etl_db *etl_extract_db(const struct etl_extract_run *run)
{
	return run->x->db;
}

void **etl_extract_state(struct etl_extract_run *run)
{
	return run->state;
}

void etl_extract_http_opts(const struct etl_extract_run *run, struct etl_http_opts *ho)
{
	static const struct etl_http_opts defaults = ETL_HTTP_OPTS_INIT;

	*ho = defaults;
	etl_http_opts_config(ho);
	if (run->x->o.max_wait_s >= 0)
		ho->max_wait_ms = run->x->o.max_wait_s * 1000;
}

/*
 * ISO 8601 ("2024-01-15", "2024-01-15T10:00", "...:00.123Z", "+02:00",
 * "+0200", a space for the T) or epoch milliseconds, into epoch ms.  A time
 * without a zone is UTC.  0 ok, -1 bad.
 */
static int parse_time_ms(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p = s;
	long frac_ms = 0, off_min = 0;
	int n = 0;
	time_t t;

	if (*s && strspn(s, "0123456789") == strlen(s))
		return etl_parse_i64(s, ms);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(p, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return -1;
	p += n;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2 || n != 5)
			return -1;
		p += 1 + n;
		if (*p == ':') {
			n = 0;
			if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &n) != 1 || n != 2)
				return -1;
			p += 1 + n;
			if (*p == '.' || *p == ',') {
				long scale = 100;

				for (p++; isdigit((unsigned char)*p); p++) {
					frac_ms += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, hh = 0, mm = 0;

			n = 0;
			if (sscanf(p + 1, "%2d%n", &hh, &n) != 1 || n != 2)
				return -1;
			p += 3;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p)) {
				n = 0;
				if (sscanf(p, "%2d%n", &mm, &n) != 1 || n != 2)
					return -1;
				p += 2;
			}
			off_min = sign * (hh * 60 + mm);
		}
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = ((int64_t)t - off_min * 60) * 1000 + frac_ms;
	return 0;
}

bool etl_extract_full(const struct etl_extract_run *run)
{
	bool full = false;

	if (etl_msg_get_bool(run->m, "full", &full) == 0 && full)
		return true;
	return etl_msg_is_null(run->m, "last_sync_date");
}

int64_t etl_extract_since_ms(const struct etl_extract_run *run)
{
	char *s;
	int64_t ms;

	if (etl_extract_full(run))
		return -1;
	s = etl_msg_get_str(run->m, "last_sync_date");
	if (!s || parse_time_ms(s, &ms) < 0) {
		etl_warn("cannot read last_sync_date '%s': running a full sync", s ? s : "");
		free(s);
		return -1;
	}
	free(s);
	ms -= (int64_t)run->x->o.overlap_s * 1000;
	return ms < 0 ? 0 : ms;
}

static void id_text(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%lld", (long long)v);
}

bool etl_extract_pass_due(struct etl_extract_run *run, const char *kind_search,
			  const char *kind_pass, int every)
{
	char tenant[24], integ[24];
	const char *vals[6];
	struct etl_db_res *r;
	int64_t runs = 0;
	int why = 0;

	if (etl_extract_full(run))
		return true;
	if (every <= 0 || !run->x->db)
		return false;
	if (every == 1)
		return true;
	id_text(tenant, sizeof(tenant), run->m->tenant_id);
	id_text(integ, sizeof(integ), run->integ.id);
	vals[0] = tenant;
	vals[1] = integ;
	vals[2] = run->step->type;
	vals[3] = run->m->token;
	vals[4] = kind_search;
	vals[5] = kind_pass;
	r = etl_db_exec(run->x->db, sql_runs_since_pass, vals, 6, &why);
	if (!r)
		return false;
	etl_db_int64(r, 0, "runs", &runs);
	etl_db_clear(r);
	return runs >= every - 1;
}

bool etl_extract_fresh(struct etl_extract_run *run, const char *kind, long max_age_s)
{
	char tenant[24], integ[24], age[24];
	const char *vals[6];
	struct etl_db_res *r;
	bool fresh;
	int why = 0;

	if (!run->x->db || max_age_s <= 0)
		return false;
	id_text(tenant, sizeof(tenant), run->m->tenant_id);
	id_text(integ, sizeof(integ), run->integ.id);
	id_text(age, sizeof(age), max_age_s);
	vals[0] = tenant;
	vals[1] = integ;
	vals[2] = run->step->type;
	vals[3] = run->m->token;
	vals[4] = kind;
	vals[5] = age;
	r = etl_db_exec(run->x->db, sql_fresh_kind, vals, 6, &why);
	if (!r)
		return false;
	fresh = etl_db_bool(r, 0, "fresh");
	etl_db_clear(r);
	return fresh;
}

/* ------------------------------------------------------------- fetching */

static void make_sig(char out[17], const char *method, const char *url, const char *body,
		     size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *parts[3] = { (const unsigned char *)method,
					  (const unsigned char *)url,
					  (const unsigned char *)body };
	size_t lens[3] = { strlen(method), strlen(url), body ? len : 0 };

	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < lens[i]; j++) {
			h ^= parts[i][j];
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* A short, printable excerpt of an error body: an HTML page's title, or
 * the first bytes. */
static void excerpt(const struct etl_buf *b, char *out, size_t n)
{
	const char *s = b->buf ? b->buf : "", *t;
	size_t len = b->len, j = 0;

	if ((t = strstr(s, "<title>")) != NULL || (t = strstr(s, "<TITLE>")) != NULL) {
		const char *e = strstr(t, "</");

		s = t + 7;
		len = e && e > s ? (size_t)(e - s) : strlen(s);
	}
	for (size_t i = 0; i < len && j + 4 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			if (j && out[j - 1] != ' ')
				out[j++] = ' ';
		} else {
			out[j++] = (char)c;
		}
		if (i == 160) {
			memcpy(out + j, "...", 3);
			j += 3;
			break;
		}
	}
	while (j && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

static int load_stored_body(struct etl_extract_run *run, int64_t id)
{
	char tenant[24], sid[24];
	const char *vals[2] = { tenant, sid };
	struct etl_db_res *r;
	char *bytes;
	size_t len = 0;
	int64_t status = 200;
	const char *ct;
	int why = 0;

	id_text(tenant, sizeof(tenant), run->m->tenant_id);
	id_text(sid, sizeof(sid), id);
	r = etl_db_exec(run->x->db, sql_stored_row, vals, 2, &why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) != 1 || !(bytes = etl_db_bytes(r, 0, "raw_data", &len))) {
		etl_db_clear(r);
		return -1;
	}
	etl_buf_reset(&run->resp.body);
	etl_buf_add(&run->resp.body, bytes, len);
	free(bytes);
	etl_db_int64(r, 0, "http_status", &status);
	run->resp.status = (long)status;
	ct = etl_db_value(r, 0, "content_type");
	snprintf(run->resp.content_type, sizeof(run->resp.content_type), "%s", ct ? ct : "");
	etl_db_clear(r);
	return 0;
}

const struct etl_http_resp *etl_extract_fetch(struct etl_extract_run *run, struct etl_http *h,
					      const char *method, const char *url,
					      const char *body, size_t len)
{
	struct etl_http_resp *r = &run->resp;

	run->have_resp = false;
	run->rate_limited = false;
	run->replayed_id = 0;
	snprintf(run->method, sizeof(run->method), "%s", method);
	etl_buf_reset(&run->url);
	etl_buf_adds(&run->url, url);
	make_sig(run->sig, method, url, body, len);

	if (run->next_row < run->nrows && !strcmp(run->rows[run->next_row].sig, run->sig)) {
		int64_t id = run->rows[run->next_row].id;

		run->next_row++;
		if (load_stored_body(run, id) == 0) {
			run->replayed_id = id;
			run->replayed++;
			run->have_resp = true;
			etl_debug("%s %s: answered from stored row %lld", method, url,
				  (long long)id);
			return r;
		}
		etl_warn("cannot read stored row %lld: asking the API again", (long long)id);
	}
	for (int attempt = 1; ; attempt++) {
		struct etl_http_stats before = *etl_http_stats(h), after;
		char err[160];
		int rc;

		rc = etl_http_request(h, method, url, body, len, r);
		after = *etl_http_stats(h);
		run->requests += after.requests - before.requests;
		run->rate_hits += after.rate_limit_hits - before.rate_limit_hits;
		if (rc < 0) {
			run->rate_limited = r->why == ETL_TEMPFAIL &&
				(r->status == 429 || r->retry_after_ms > 0);
			return NULL;
		}
		if (etl_json_validate(r->body.buf ? r->body.buf : "", r->body.len, err,
				      sizeof(err)) == 0) {
			run->have_resp = true;
			return r;
		}
		run->errors++;
		if (attempt >= FETCH_JSON_ATTEMPTS) {
			r->why = ETL_UNAVAIL;
			snprintf(r->error, sizeof(r->error),
				 "%s %s: HTTP %ld with a body that is not valid JSON (%s, %zu bytes) "
				 "%d times", method, url, r->status, err, r->body.len, attempt);
			return NULL;
		}
		etl_warn("%s %s: HTTP %ld with a body that is not valid JSON (%s, %zu bytes); "
			 "fetching it again", method, url, r->status, err, r->body.len);
		etl_sleep_ms(500L << (attempt - 1));
	}
}

bool etl_extract_stored_next(const struct etl_extract_run *run, const char *method,
			     const char *url, const char *body, size_t len)
{
	char sig[sizeof(run->sig)];

	if (run->next_row >= run->nrows)
		return false;
	make_sig(sig, method, url, body, len);
	return !strcmp(run->rows[run->next_row].sig, sig);
}

const struct etl_http_resp *etl_extract_last(const struct etl_extract_run *run)
{
	return &run->resp;
}

bool etl_extract_rate_limited(const struct etl_extract_run *run)
{
	return run->rate_limited;
}

void etl_extract_count_rate_hit(struct etl_extract_run *run)
{
	run->rate_hits++;
}

void etl_extract_count_error(struct etl_extract_run *run)
{
	run->errors++;
}

int etl_extract_failf(struct etl_extract_run *run, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(run->reason, sizeof(run->reason), "%s", msg);
	etl_stage_set_reason(run->st, "%s: %s", run->step->type, msg);
	return code;
}

void etl_extract_retry_after(struct etl_extract_run *run, int64_t ms)
{
	char at[48];
	time_t t = (time_t)((etl_wall_ms() + ms) / 1000);
	struct tm tm;

	etl_stage_retry_after(run->st, ms > LONG_MAX ? LONG_MAX : (long)ms);
	/* In the checkpoint: the run is waiting, not stuck, until then
	 * (etl-reset --stuck). */
	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	etl_extract_hint(run, "retry_at", at);
}

int etl_extract_fail(struct etl_extract_run *run, const char *what)
{
	const struct etl_http_resp *r = &run->resp;
	char ex[200];

	excerpt(&r->body, ex, sizeof(ex));
	if (run->rate_limited) {
		etl_extract_retry_after(run, r->retry_after_ms);
		return etl_extract_failf(run, ETL_TEMPFAIL,
					 "%s: rate limited: the API asks to wait %ld s, more "
					 "than --max-wait %ld s; checkpointed, run again later",
					 what, (r->retry_after_ms + 999) / 1000,
					 run->x->o.max_wait_s);
	}
	if (r->status == 401 || r->status == 403)
		return etl_extract_failf(run, ETL_CONFIG,
					 "%s: the API refused the credentials (HTTP %ld%s%s): "
					 "check the integration's e-mail and API token",
					 what, r->status, *ex ? ": " : "", ex);
	return etl_extract_failf(run, r->why ? r->why : ETL_UNAVAIL, "%s: %s%s%s", what,
				 *r->error ? r->error : "request failed",
				 *ex && r->status >= 300 ? ": " : "", r->status >= 300 ? ex : "");
}

/* -------------------------------------------------------------- storing */

static void item_reset(struct item *it)
{
	it->open = false;
	it->index = 0;
	it->raw_id = 0;
	it->replayed = false;
	it->kind[0] = '\0';
	etl_buf_reset(&it->raw);
	etl_buf_reset(&it->changelogs);
	etl_buf_reset(&it->params);
	etl_buf_reset(&it->url);
	it->nchangelogs = 0;
}

static void item_release(struct item *it)
{
	etl_buf_release(&it->raw);
	etl_buf_release(&it->changelogs);
	etl_buf_release(&it->params);
	etl_buf_release(&it->url);
}

static void item_swap(struct item *a, struct item *b)
{
	struct item t = *a;

	*a = *b;
	*b = t;
}

static void build_params(struct etl_extract_run *run, struct etl_buf *out, const char *kind,
			 const char *params, int64_t for_raw_id)
{
	etl_buf_reset(out);
	etl_buf_adds(out, "{\"kind\":");
	etl_buf_add_json_str(out, kind, strlen(kind));
	etl_buf_addf(out, ",\"sig\":\"%s\"", run->sig);
	if (params && *params) {
		etl_buf_addch(out, ',');
		etl_buf_adds(out, params);
	}
	if (for_raw_id > 0)
		etl_buf_addf(out, ",\"for_raw_id\":%lld", (long long)for_raw_id);
	etl_buf_addch(out, '}');
}

/* Store the last response; its id in *id (the stored row's when caught up). */
static int store(struct etl_extract_run *run, const char *kind, const char *params,
		 int64_t for_raw_id, int64_t *id)
{
	struct etl_buf p = ETL_BUF_INIT;
	char tenant[24], integ[24], job[24], status[16], page[24];
	const char *vals[13];
	int lens[13];
	struct etl_db_res *r;
	int why = 0, rc = -1;

	if (!run->have_resp)
		return etl_extract_failf(run, ETL_SOFTWARE, "no response to store");
	run->pages++;
	if (run->replayed_id) {
		*id = run->replayed_id;
		return ETL_OK;
	}
	/* libpq takes lengths as int, and a field holds at most 1 GB. */
	if (run->resp.body.len > (size_t)ETL_HTTP_MAX_BODY_LIMIT)
		return etl_extract_failf(run, ETL_DATAERR,
					 "cannot store the response of %s %s: %zu bytes, more "
					 "than %ld", run->method, run->url.buf,
					 run->resp.body.len, ETL_HTTP_MAX_BODY_LIMIT);
	build_params(run, &p, kind, params, for_raw_id);
	id_text(tenant, sizeof(tenant), run->m->tenant_id);
	id_text(integ, sizeof(integ), run->integ.id);
	id_text(job, sizeof(job), run->m->job_id);
	snprintf(status, sizeof(status), "%ld", run->resp.status);
	id_text(page, sizeof(page), run->pages);
	vals[0] = tenant;
	vals[1] = integ;
	vals[2] = run->m->job_id ? job : NULL;
	vals[3] = run->m->token;
	vals[4] = run->step->type;
	vals[5] = run->p->name;
	vals[6] = run->method;
	vals[7] = run->url.buf;
	vals[8] = p.buf;
	vals[9] = status;
	vals[10] = *run->resp.content_type ? run->resp.content_type : NULL;
	vals[11] = run->resp.body.buf ? run->resp.body.buf : "";
	vals[12] = page;
	for (int i = 0; i < 13; i++)
		lens[i] = -1;
	lens[11] = (int)run->resp.body.len;
	r = etl_db_exec_full(run->x->db, sql_insert_raw, vals, lens, 13, 0, &why);
	if (r && etl_db_int64(r, 0, "id", id) == 0)
		rc = 0;
	etl_db_clear(r);
	etl_buf_release(&p);
	if (rc < 0)
		return etl_extract_failf(run, why ? why : ETL_UNAVAIL,
					 "cannot store the response of %s %s", run->method,
					 run->url.buf);
	return ETL_OK;
}

int etl_extract_item(struct etl_extract_run *run, const char *kind, const char *params)
{
	struct item *it = &run->cur;
	int rc;

	if (it->open && (rc = etl_extract_submit(run)) != ETL_OK)
		return rc;
	item_reset(it);
	it->open = true;
	it->replayed = run->replayed_id != 0;
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	if (run->x->db)
		return store(run, kind, params, 0, &it->raw_id);
	if (!run->have_resp)
		return etl_extract_failf(run, ETL_SOFTWARE, "no response to keep");
	run->pages++;
	etl_buf_add(&it->raw, run->resp.body.buf, run->resp.body.len);
	build_params(run, &it->params, kind, params, 0);
	etl_buf_adds(&it->url, run->url.buf);
	return 0;
}

int etl_extract_attach(struct etl_extract_run *run, const char *kind, const char *params)
{
	struct item *it = &run->cur;
	int64_t id;

	if (!it->open)
		return etl_extract_failf(run, ETL_SOFTWARE, "a response to attach with no item");
	if (run->x->db)
		return store(run, kind, params, it->raw_id, &id);
	if (!run->have_resp)
		return etl_extract_failf(run, ETL_SOFTWARE, "no response to keep");
	run->pages++;
	if (it->nchangelogs++)
		etl_buf_addch(&it->changelogs, ',');
	etl_buf_add(&it->changelogs, run->resp.body.buf, run->resp.body.len);
	return 0;
}

int64_t etl_extract_item_id(const struct etl_extract_run *run)
{
	return run->cur.open ? run->cur.raw_id : 0;
}

/* ------------------------------------------------------------- emitting */

static bool is_last_step(const struct etl_extract_run *run, const struct etl_step **next)
{
	bool single = false;

	*next = NULL;
	if (etl_msg_get_bool(run->m, "single_step", &single) == 0 && single)
		return true;
	/* Step orders are 1-based: the next step's index is this one's order. */
	*next = etl_step_of(run->p->name, run->step->order);
	return *next == NULL;
}

static int emit_transform(struct etl_extract_run *run, const struct item *it, bool first,
			  bool last)
{
	struct etl_msg t = ETL_MSG_INIT;
	const struct etl_step *next;
	char err[128];
	int rc;

	if (etl_msg_parse(&t, run->base.text.buf, run->base.text.len, err, sizeof(err)) < 0)
		return etl_error("cannot copy the message: %s", err);
	etl_msg_set_bool(&t, "first_item", first);
	etl_msg_set_bool(&t, "last_item", last);
	etl_msg_set_bool(&t, "last_job_item", last && is_last_step(run, &next));
	if (!it) {
		etl_msg_set_null(&t, "raw_data_id");
	} else if (run->x->db) {
		etl_msg_set_i64(&t, "raw_data_id", it->raw_id);
		etl_msg_set_str(&t, "raw_kind", it->kind);
	} else {
		struct etl_buf arr = ETL_BUF_INIT;

		etl_msg_set_null(&t, "raw_data_id");
		etl_msg_set_str(&t, "raw_kind", it->kind);
		etl_msg_set_str(&t, "request_url", etl_buf_str(&it->url));
		etl_msg_set_raw(&t, "request_params", it->params.buf, it->params.len);
		if (it->nchangelogs) {
			etl_buf_addch(&arr, '[');
			etl_buf_add(&arr, it->changelogs.buf, it->changelogs.len);
			etl_buf_addch(&arr, ']');
			etl_msg_set_raw(&t, "raw_changelogs", arr.buf, arr.len);
			etl_buf_release(&arr);
		}
		etl_msg_set_raw(&t, "raw", it->raw.buf, it->raw.len);
		if (t.text.len > ETL_MSG_MAX_DEFAULT)
			etl_warn("%s: a message of %zu bytes (a response inline): larger than the "
				 "%u bytes the next stage accepts by default", run->step->type,
				 t.text.len, ETL_MSG_MAX_DEFAULT);
	}
	rc = etl_stage_emit_msg(run->st, ETL_DEST_NEXT, &t);
	etl_msg_release(&t);
	if (rc < 0)
		etl_stage_set_reason(run->st, "cannot emit a transform message");
	return rc;
}

/*
 * Send the held message, unless a run before this one already did: only an
 * item answered from a stored row can have been sent.  Its index alone
 * does not say it: once a request differs from the stored one (a page
 * size that changed), the numbering of the items that follow no longer
 * matches the run that saved the checkpoint, and their responses are new.
 */
static int emit_held(struct etl_extract_run *run, bool last)
{
	struct item *it = &run->held;
	int rc = 0;

	if (!it->open)
		return 0;
	if (!run->suppress_all && !(it->replayed && it->index <= run->suppress))
		rc = emit_transform(run, it, it->index == 1, last);
	if (rc == 0) {
		run->emitted = it->index;
		item_reset(it);
	}
	return rc;
}

int etl_extract_submit(struct etl_extract_run *run)
{
	if (!run->cur.open)
		return ETL_OK;
	if (emit_held(run, false) < 0)
		return ETL_UNAVAIL;
	run->cur.index = ++run->submitted;
	item_swap(&run->cur, &run->held);
	item_reset(&run->cur);
	return ETL_OK;
}

void etl_extract_next_arg(struct etl_extract_run *run, const char *key, const char *json,
			  size_t len)
{
	etl_msg_set_raw(&run->next, key, json, len);
	run->next_used = true;
}

void etl_extract_hint(struct etl_extract_run *run, const char *key, const char *json)
{
	etl_buf_addch(&run->hints, ',');
	etl_buf_add_json_str(&run->hints, key, strlen(key));
	etl_buf_addch(&run->hints, ':');
	etl_buf_adds(&run->hints, json);
}

static void set_status(struct etl_extract_run *run, const char *state)
{
	int why = 0;

	if (!run->x->db || !run->m->job_id || run->suppress_all)
		return;
	if (etl_status_set_stage(run->x->db, run->m->job_id, run->m->token, run->step,
				 ETL_STAGE_EXTRACTION, state, &why) == 1)
		etl_warn("job %lld: status not updated: the job runs another token now",
			 (long long)run->m->job_id);
}

static int save_checkpoint(struct etl_extract_run *run, const char *reason)
{
	struct etl_buf cp = ETL_BUF_INIT;
	int why = 0, rc;

	etl_buf_adds(&cp, "{\"token\":");
	etl_buf_add_json_str(&cp, run->m->token, strlen(run->m->token));
	etl_buf_adds(&cp, ",\"step\":");
	etl_buf_add_json_str(&cp, run->step->type, strlen(run->step->type));
	etl_buf_addf(&cp, ",\"emitted\":%ld,\"page\":%ld", run->emitted, run->pages);
	if (run->hints.len)
		etl_buf_add(&cp, run->hints.buf, run->hints.len);
	etl_buf_adds(&cp, ",\"error\":");
	etl_buf_add_json_str(&cp, reason, strlen(reason));
	etl_buf_addch(&cp, '}');
	rc = etl_status_checkpoint(run->x->db, run->m->job_id, run->m->token, cp.buf, &why);
	if (rc == 0)
		etl_info("checkpoint saved: %s", cp.buf);
	etl_buf_release(&cp);
	return rc;
}

/* The step is done: its last message, its status, the next step. */
static int finish_step(struct etl_extract_run *run)
{
	const struct etl_step *next = NULL;
	bool last_step = is_last_step(run, &next);
	int why = 0;

	if (run->cur.open && etl_extract_submit(run) != ETL_OK)
		return ETL_UNAVAIL;
	if (run->held.open) {
		if (emit_held(run, true) < 0)
			return ETL_UNAVAIL;
	} else if (run->submitted == 0 && !run->suppress_all && run->suppress == 0) {
		if (emit_transform(run, NULL, true, true) < 0)
			return ETL_UNAVAIL;
	}
	set_status(run, ETL_ST_FINISHED);
	if (run->checkpointed)
		etl_status_checkpoint(run->x->db, run->m->job_id, run->m->token, NULL, &why);
	if (last_step)
		return ETL_OK;
	etl_msg_set_str(&run->next, "type", next->type);
	etl_msg_set_bool(&run->next, "first_item", false);
	etl_msg_set_bool(&run->next, "last_item", false);
	etl_msg_set_bool(&run->next, "last_job_item", false);
	if (etl_stage_emit_msg(run->st, ETL_DEST_SELF, &run->next) < 0) {
		etl_stage_set_reason(run->st, "cannot emit the next step's message");
		return ETL_UNAVAIL;
	}
	return ETL_OK;
}

/* ------------------------------------------------------------ catch-up */

/* The job's checkpoint for this run: which step, how many messages sent.
 * ETL_OK, or a category with the reason set (no such job: ETL_DATAERR). */
static int read_checkpoint(struct etl_extract_run *run)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	char err[128], *status;
	uint32_t cp;
	const struct etl_step *cstep;
	char *step = NULL;
	int64_t emitted = 0;
	int why = 0;

	status = etl_status_get(run->x->db, run->m->job_id, &why);
	if (!status) {
		if (why == ETL_NOINPUT)
			return etl_extract_failf(run, ETL_DATAERR, "job %lld does not exist",
						 (long long)run->m->job_id);
		return etl_extract_failf(run, why ? why : ETL_UNAVAIL,
					 "cannot read the status of job %lld",
					 (long long)run->m->job_id);
	}
	if (etl_jdoc_parse(&d, status, strlen(status), err, sizeof(err)) < 0)
		goto out;
	cp = etl_jdoc_get(&d, ETL_JDOC_ROOT, "checkpoint");
	if (etl_jdoc_kind(&d, cp) != ETL_JSON_OBJECT ||
	    !etl_jdoc_str_eq(&d, etl_jdoc_get(&d, cp, "token"), run->m->token))
		goto out;
	step = etl_jdoc_strdup(&d, etl_jdoc_get(&d, cp, "step"));
	cstep = step ? etl_step_find(step) : NULL;
	if (!cstep || strcasecmp(cstep->provider, run->step->provider))
		goto out;
	etl_jdoc_i64(&d, etl_jdoc_get(&d, cp, "emitted"), &emitted);
	if (cstep->order > run->step->order) {
		run->suppress_all = true;
	} else if (cstep == run->step) {
		run->checkpointed = true;
		run->suppress = (long)emitted;
		etl_info("resuming %s at its checkpoint (%lld messages sent before)",
			 run->step->type, (long long)emitted);
	}
out:
	free(step);
	free(status);
	etl_jdoc_release(&d);
	return ETL_OK;
}

static int load_stored_rows(struct etl_extract_run *run)
{
	char tenant[24];
	const char *vals[3] = { tenant, run->m->token, run->step->type };
	struct etl_db_res *r;
	int why = 0, n;

	id_text(tenant, sizeof(tenant), run->m->tenant_id);
	r = etl_db_exec(run->x->db, sql_stored_rows, vals, 3, &why);
	if (!r)
		return why ? why : ETL_UNAVAIL;
	n = etl_db_nrows(r);
	if (n > 0) {
		run->rows = xcalloc((size_t)n, sizeof(*run->rows));
		for (int i = 0; i < n; i++) {
			const char *sig = etl_db_value(r, i, "sig");

			etl_db_int64(r, i, "id", &run->rows[i].id);
			snprintf(run->rows[i].sig, sizeof(run->rows[i].sig), "%s", sig ? sig : "");
		}
		run->nrows = (size_t)n;
		etl_info("%s: %d responses stored by this run before: catching up",
			 run->step->type, n);
	}
	etl_db_clear(r);
	return ETL_OK;
}

/* ------------------------------------------------------------- handler */

static int load_integration(struct etl_extract_run *run, int *why)
{
	struct etl_extract *x = run->x;
	int64_t id = 0;

	etl_msg_get_i64(run->m, "integration_id", &id);
	if (!x->db) {
		if (run->p->from_env(&x->o, &run->integ, why) < 0)
			return -1;
		run->integ.id = id;
		run->integ.tenant_id = run->m->tenant_id;
		return 0;
	}
	if (etl_integration_load(x->db, id, &run->integ, why) < 0) {
		etl_stage_set_reason(run->st, "cannot load integration %lld", (long long)id);
		if (*why == ETL_NOINPUT)
			*why = ETL_DATAERR;
		return -1;
	}
	if (run->integ.tenant_id != run->m->tenant_id) {
		*why = ETL_DATAERR;
		etl_stage_set_reason(run->st, "integration %lld belongs to tenant %lld, not %lld",
				     (long long)id, (long long)run->integ.tenant_id,
				     (long long)run->m->tenant_id);
		return -1;
	}
	if (strcasecmp(run->integ.provider, run->p->name)) {
		*why = ETL_DATAERR;
		etl_stage_set_reason(run->st, "integration %lld is a %s integration, not %s",
				     (long long)id, run->integ.provider, run->p->name);
		return -1;
	}
	if (!run->integ.active) {
		*why = ETL_DATAERR;
		etl_stage_set_reason(run->st, "integration %lld is inactive", (long long)id);
		return -1;
	}
	return 0;
}

static int make_base(struct etl_extract_run *run)
{
	char err[128];

	if (etl_msg_parse(&run->base, run->m->text.buf, run->m->text.len, err, sizeof(err)) < 0 ||
	    etl_msg_parse(&run->next, run->m->text.buf, run->m->text.len, err, sizeof(err)) < 0)
		return etl_error("cannot copy the message: %s", err);
	for (const char *const *a = run->p->step_args; a && *a; a++)
		etl_msg_remove(&run->base, *a);
	etl_msg_remove(&run->base, "single_step");
	return 0;
}

static void add_metrics(struct etl_extract_run *run)
{
	struct etl_runstats rs = ETL_RUNSTATS_INIT(ETL_STAGE_EXTRACTION);
	int why = 0;

	etl_info("%s: %ld responses (%ld API requests, %ld from stored rows), %ld rate-limit "
		 "waits, %ld errors", run->step->type, run->pages, run->requests, run->replayed,
		 run->rate_hits, run->errors);
	if (!run->x->db || !run->m->job_id)
		return;
	rs.step = run->step->type;
	rs.records = run->pages - run->replayed;
	rs.messages = 1;
	rs.api_calls = run->requests;
	rs.rate_limit_hits = run->rate_hits;
	rs.errors = run->errors;
	rs.checkpoint_resumes = run->checkpointed ? 1 : 0;
	rs.peak_rss_kb = etl_runstats_peak_rss_kb();
	etl_runstats_add(run->x->db, run->m->token, &rs, &why);
}

static void run_release(struct etl_extract_run *run)
{
	etl_integration_release(&run->integ);
	etl_msg_release(&run->base);
	etl_msg_release(&run->next);
	etl_http_resp_release(&run->resp);
	etl_buf_release(&run->url);
	etl_buf_release(&run->hints);
	item_release(&run->cur);
	item_release(&run->held);
	free(run->rows);
}

int etl_extract_handle(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx)
{
	static const struct etl_extract_run zero;
	struct etl_extract *x = ctx;
	struct etl_extract_run run = zero;
	struct etl_integration init = ETL_INTEGRATION_INIT;
	struct etl_msg minit = ETL_MSG_INIT;
	struct etl_http_resp rinit = ETL_HTTP_RESP_INIT;
	int rc, why = 0;

	run.x = x;
	run.st = st;
	run.m = m;
	run.step = m->step;
	run.integ = init;
	run.base = minit;
	run.next = minit;
	run.resp = rinit;
	if (!run.step) {
		etl_stage_set_reason(st, "message without a known type");
		return ETL_DATAERR;
	}
	run.p = find_provider(x, run.step->provider, &run.state);
	if (!run.p) {
		etl_stage_set_reason(st, "no extractor for provider '%s'", run.step->provider);
		return ETL_DATAERR;
	}
	if (load_integration(&run, &why) < 0) {
		rc = why ? why : ETL_DATAERR;
		goto out;
	}
	if (make_base(&run) < 0) {
		rc = ETL_SOFTWARE;
		goto out;
	}
	if (x->db) {
		if (m->job_id && (rc = read_checkpoint(&run)) != ETL_OK)
			goto out;
		rc = load_stored_rows(&run);
		if (rc != ETL_OK) {
			etl_stage_set_reason(st, "cannot read the run's stored responses");
			goto out;
		}
	}
	if (!run.suppress_all)
		set_status(&run, ETL_ST_RUNNING);
	etl_info("%s: %s integration %lld%s", run.step->type,
		 run.suppress_all ? "catching up (done before)" : "starting",
		 (long long)run.integ.id, etl_extract_full(&run) ? ", full sync" : "");
	rc = run.p->run_step(&run);
	if (rc == ETL_OK) {
		rc = finish_step(&run);
	} else if ((rc == ETL_TEMPFAIL || rc == ETL_UNAVAIL) && x->db && m->job_id) {
		if (save_checkpoint(&run, *run.reason ? run.reason : "temporary failure") < 0)
			etl_warn("the checkpoint could not be saved: a rerun starts the step "
				 "over");
	}
	add_metrics(&run);
out:
	run_release(&run);
	return rc;
}

/* ------------------------------------------------------------- ad hoc */

int etl_extract_adhoc(struct etl_extract *x, const char *provider, int64_t integration_id,
		      const char *step, const char *since, bool full, bool only,
		      struct etl_buf *out, int *why)
{
	struct etl_integration in = ETL_INTEGRATION_INIT;
	const struct etl_step *s;
	char token[ETL_TOKEN_LEN + 1];
	const char *sync = NULL;
	int64_t tenant = 1, ms;

	s = step ? etl_step_find(step) : etl_step_of(provider, 0);
	if (!s || strcasecmp(s->provider, provider)) {
		*why = ETL_USAGE;
		return etl_error("unknown step '%s' for provider '%s'", step ? step : "",
				 provider);
	}
	if (since && parse_time_ms(since, &ms) < 0) {
		*why = ETL_USAGE;
		return etl_error("cannot read the time '%s' (ISO 8601 or epoch milliseconds)",
				 since);
	}
	if (x->db) {
		if (etl_integration_load(x->db, integration_id, &in, why) < 0)
			return -1;
		if (strcasecmp(in.provider, provider)) {
			*why = ETL_USAGE;
			etl_error("integration %lld is a %s integration", (long long)integration_id,
				  in.provider);
			etl_integration_release(&in);
			return -1;
		}
		tenant = in.tenant_id;
		sync = in.last_sync_date;
	}
	if (since)
		sync = since;
	etl_token_new(token);
	etl_buf_addf(out, "{\"tenant_id\":%lld,\"job_id\":null,\"token\":\"%s\",\"type\":",
		     (long long)tenant, token);
	etl_buf_add_json_str(out, s->type, strlen(s->type));
	etl_buf_adds(out, ",\"provider\":");
	etl_buf_add_json_str(out, provider, strlen(provider));
	etl_buf_addf(out, ",\"first_item\":true,\"last_item\":false,\"last_job_item\":false,"
		     "\"integration_id\":%lld,\"last_sync_date\":", (long long)integration_id);
	if (sync && !full)
		etl_buf_add_json_str(out, sync, strlen(sync));
	else
		etl_buf_adds(out, "null");
	if (full)
		etl_buf_adds(out, ",\"full\":true");
	if (only)
		etl_buf_adds(out, ",\"single_step\":true");
	etl_buf_addch(out, '}');
	etl_integration_release(&in);
	return 0;
}

/* --------------------------------------------------------------- replay */

static bool same_group(const struct etl_db_res *r, int a, int b)
{
	const char *ta = etl_db_value(r, a, "token"), *tb = etl_db_value(r, b, "token");
	const char *ya = etl_db_value(r, a, "type"), *yb = etl_db_value(r, b, "type");

	if (!ta != !tb || (ta && strcmp(ta, tb)))
		return false;
	return !strcmp(ya, yb);
}

int etl_extract_replay(struct etl_extract *x, int64_t from, int64_t to, int64_t job_id,
		       FILE *out)
{
	char a[24], b[24];
	const char *vals[2] = { a, b };
	char token[ETL_TOKEN_LEN + 1];
	struct etl_buf line = ETL_BUF_INIT;
	struct etl_db_res *r;
	int n, why = 0, rc = ETL_OK;

	if (!x->db) {
		etl_error("--replay needs the database");
		return ETL_USAGE;
	}
	if (job_id) {
		id_text(a, sizeof(a), job_id);
		r = etl_db_exec(x->db, sql_replay_job, vals, 1, &why);
	} else {
		id_text(a, sizeof(a), from);
		id_text(b, sizeof(b), to);
		r = etl_db_exec(x->db, sql_replay_range, vals, 2, &why);
	}
	if (!r)
		return why ? why : ETL_UNAVAIL;
	n = etl_db_nrows(r);
	if (n == 0) {
		if (job_id)
			etl_warn("job %lld has no stored responses", (long long)job_id);
		else
			etl_warn("no stored responses with ids %lld-%lld", (long long)from,
				 (long long)to);
		etl_db_clear(r);
		return ETL_NOTHING;
	}
	etl_token_new(token);   /* for rows stored without one */
	for (int i = 0; i < n && rc == ETL_OK; i++) {
		const char *tok = etl_db_value(r, i, "token"), *kind = etl_db_value(r, i, "kind");
		const char *type = etl_db_value(r, i, "type");
		bool first = i == 0 || !same_group(r, i - 1, i);
		bool last = i == n - 1 || !same_group(r, i, i + 1);

		etl_buf_reset(&line);
		etl_buf_addf(&line, "{\"tenant_id\":%s,\"job_id\":%s,\"token\":\"%s\",\"type\":",
			     etl_db_value(r, i, "tenant_id"),
			     etl_db_is_null(r, i, "job_id") ? "null" : etl_db_value(r, i, "job_id"),
			     tok ? tok : token);
		etl_buf_add_json_str(&line, type, strlen(type));
		etl_buf_adds(&line, ",\"provider\":");
		etl_buf_add_json_str(&line, etl_db_value(r, i, "provider"),
				     strlen(etl_db_value(r, i, "provider")));
		etl_buf_addf(&line, ",\"first_item\":%s,\"last_item\":%s,\"last_job_item\":%s,"
			     "\"integration_id\":%s,\"last_sync_date\":null,\"raw_data_id\":%s,"
			     "\"raw_kind\":", first ? "true" : "false", last ? "true" : "false",
			     i == n - 1 ? "true" : "false", etl_db_value(r, i, "integration_id"),
			     etl_db_value(r, i, "id"));
		if (kind)
			etl_buf_add_json_str(&line, kind, strlen(kind));
		else
			etl_buf_adds(&line, "null");
		etl_buf_adds(&line, "}\n");
		if (fwrite(line.buf, 1, line.len, out) != line.len || fflush(out) == EOF) {
			etl_error("cannot write to standard output");
			rc = ETL_IOERR;
		}
	}
	etl_info("replayed %d stored responses", n);
	etl_buf_release(&line);
	etl_db_clear(r);
	return rc;
}
