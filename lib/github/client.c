#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exit.h"
#include "github/client.h"
#include "log.h"
#include "transform.h"   /* etl_tx_jdoc_time: one ISO 8601 parser for lib/ */
#include "util.h"

#define DEFAULT_BASE "https://api.github.com"
/* Waits for one request: rate-limit resets sat out, retries at page size 1. */
#define MAX_RATE_WAITS 10
#define GATEWAY_RETRIES 3

struct etl_gh *etl_gh_new(const char *base_url, const char *token,
			  const struct etl_http_opts *ho, int *why)
{
	struct etl_http_opts o = *ho;
	struct etl_gh *g;
	struct etl_buf ep = ETL_BUF_INIT;

	if (!token || !*token) {
		*why = ETL_CONFIG;
		etl_error("the GitHub integration has no token");
		return NULL;
	}
	/* A 502/504 is GitHub's 10 s query timeout: the same query would time
	 * out again, a smaller one may not (etl_gh_query shrinks it). */
	o.gateway_no_retry = true;
	g = xcalloc(1, sizeof(*g));
	g->http = etl_http_new(&o);
	if (!g->http) {
		*why = ETL_SOFTWARE;
		free(g);
		return NULL;
	}
	etl_gh_endpoint(&ep, base_url);
	g->endpoint = etl_buf_detach(&ep, NULL);
	etl_http_set_bearer(g->http, token);
	etl_http_add_header(g->http, "Accept: application/json");
	return g;
}

void etl_gh_free(struct etl_gh *g)
{
	if (!g)
		return;
	etl_http_free(g->http);
	free(g->endpoint);
	etl_buf_release(&g->body);
	free(g);
}

void etl_gh_set_token(struct etl_gh *g, const char *token)
{
	etl_http_set_bearer(g->http, token);
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	return n >= t && !memcmp(s + n - t, tail, t);
}

void etl_gh_endpoint(struct etl_buf *out, const char *base_url)
{
	const char *b = base_url && *base_url ? base_url : DEFAULT_BASE;
	size_t n = strlen(b);

	while (n && b[n - 1] == '/')
		n--;
	etl_buf_reset(out);
	if (ends_with(b, n, "/api/v3")) {
		etl_buf_add(out, b, n - 2);   /* keeps ".../api/" */
		etl_buf_adds(out, "graphql");
	} else {
		etl_buf_add(out, b, n);
		if (!ends_with(b, n, "/graphql"))
			etl_buf_adds(out, "/graphql");
	}
}

static void add_var(struct etl_buf *b, int *n, const char *key, const char *val)
{
	etl_buf_adds(b, (*n)++ ? ",\"" : "\"");
	etl_buf_adds(b, key);
	etl_buf_adds(b, "\":");
	if (val)
		etl_buf_add_json_str(b, val, strlen(val));
	else
		etl_buf_adds(b, "null");
}

void etl_gh_body(struct etl_buf *b, const char *doc, const struct etl_gh_vars *v)
{
	int n = 0;

	etl_buf_reset(b);
	etl_buf_adds(b, "{\"query\":");
	etl_buf_add_json_str(b, doc, strlen(doc));
	etl_buf_adds(b, ",\"variables\":{");
	if (v->login)
		add_var(b, &n, "login", v->login);
	if (v->owner)
		add_var(b, &n, "owner", v->owner);
	if (v->name)
		add_var(b, &n, "name", v->name);
	if (v->id)
		add_var(b, &n, "id", v->id);
	if (v->paged) {
		etl_buf_addf(b, "%s\"first\":%d", n++ ? "," : "", v->first);
		add_var(b, &n, "after", v->after);
	}
	if (v->nested > 0)
		etl_buf_addf(b, "%s\"nested\":%d", n++ ? "," : "", v->nested);
	etl_buf_adds(b, "}}");
}

/* ------------------------------------------------------------ outcomes */

static bool contains_ci(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; s && i + n <= len; i++) {
		size_t j = 0;

		while (j < n && (s[i + j] | 0x20) == (needle[j] | 0x20))
			j++;
		if (j == n)
			return true;
	}
	return false;
}

/* GitHub's "message" of an error body, into @out ("" when none). */
static void body_message(const struct etl_buf *body, char *out, size_t n)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	char err[64];
	char *m = NULL;

	out[0] = '\0';
	if (body->len && etl_jdoc_parse(&d, body->buf, body->len, err, sizeof(err)) == 0) {
		m = etl_jdoc_strdup(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "message"));
		if (!m)
			m = etl_jdoc_strdup(&d, etl_jdoc_path(&d, etl_jdoc_index(&d,
				etl_jdoc_get(&d, ETL_JDOC_ROOT, "errors"), 0), "message"));
	}
	snprintf(out, n, "%s", m ? m : "");
	free(m);
	etl_jdoc_release(&d);
}

/* @too_often: the wait itself is short, but this request already sat out
 * MAX_RATE_WAITS of them. */
static int rate_fail(struct etl_extract_run *run, const char *what, int64_t wait_ms,
		     bool too_often)
{
	char hint[64];

	snprintf(hint, sizeof(hint), "%lld", (long long)((etl_wall_ms() + wait_ms) / 1000));
	etl_extract_hint(run, "rate_limit_reset", hint);
	etl_extract_retry_after(run, wait_ms);
	if (too_often)
		return etl_extract_failf(run, ETL_TEMPFAIL,
					 "%s: rate limited: too many rate-limit waits (%d) for "
					 "one request; checkpointed, run again later", what,
					 MAX_RATE_WAITS);
	return etl_extract_failf(run, ETL_TEMPFAIL,
				 "%s: rate limited: the API asks to wait %lld s, more than "
				 "--max-wait %ld s; checkpointed, run again later", what,
				 (long long)((wait_ms + 999) / 1000),
				 etl_extract_opts(run)->max_wait_s);
}

/* Sit out @wait_ms of rate limit, or fail when it is longer than
 * --max-wait or this request waited too often.  ETL_OK to try again. */
static int rate_wait(struct etl_extract_run *run, const char *what, int64_t wait_ms,
		     int *waits, const char *why)
{
	long max = etl_extract_opts(run)->max_wait_s;

	if (wait_ms < 0)
		wait_ms = 0;
	if (max >= 0 && wait_ms > (int64_t)max * 1000)
		return rate_fail(run, what, wait_ms, false);
	if (++*waits > MAX_RATE_WAITS)
		return rate_fail(run, what, wait_ms, true);
	etl_warn("%s: %s: waiting %lld s", what, why, (long long)((wait_ms + 999) / 1000));
	etl_sleep_ms(wait_ms);
	return ETL_OK;
}

/* Before a request: wait for the reset when the last answer said the
 * points are nearly spent. */
static int pace(struct etl_extract_run *run, struct etl_gh *g, const char *what, int *waits)
{
	int64_t wait = g->pace_until_ms ? g->pace_until_ms - etl_wall_ms() : 0;

	g->pace_until_ms = 0;
	if (wait <= 0)
		return ETL_OK;
	etl_extract_count_rate_hit(run);
	return rate_wait(run, what, wait, waits, "the rate limit is nearly spent");
}

void etl_gh_iso(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Pace from data.rateLimit {cost remaining resetAt}. */
static void note_rate(struct etl_gh *g, const struct etl_jdoc *d)
{
	uint32_t rl = etl_jdoc_path(d, ETL_JDOC_ROOT, "data.rateLimit");
	int64_t cost = 1, remaining, reset;

	if (etl_jdoc_i64(d, etl_jdoc_get(d, rl, "remaining"), &remaining) < 0 ||
	    etl_tx_jdoc_time(d, etl_jdoc_get(d, rl, "resetAt"), &reset) != 0)
		return;
	etl_jdoc_i64(d, etl_jdoc_get(d, rl, "cost"), &cost);
	if (remaining < ETL_GH_LOW_POINTS || remaining < 2 * cost) {
		/* resetAt has second precision: one more second to be past it. */
		g->pace_until_ms = reset + 1000;
		etl_info("%lld GitHub points left (last query cost %lld): pausing until the "
			 "reset before the next query", (long long)remaining, (long long)cost);
	}
}

/* Ordered by what decides: a rate limit, then any error, then NOT_FOUND. */
enum { ERR_NONE, ERR_NOT_FOUND, ERR_OTHER, ERR_RATE };

/* What errors[] says; the deciding error's message and type into @msg. */
static int classify_errors(const struct etl_jdoc *d, char *msg, size_t n)
{
	uint32_t errs = etl_jdoc_get(d, ETL_JDOC_ROOT, "errors");
	int worst = ERR_NONE;

	msg[0] = '\0';
	for (uint32_t e = etl_jdoc_first(d, errs); e; e = etl_jdoc_next(d, e)) {
		uint32_t type = etl_jdoc_get(d, e, "type");
		int k = etl_jdoc_str_eq(d, type, "RATE_LIMITED") ? ERR_RATE :
			etl_jdoc_str_eq(d, type, "NOT_FOUND") ? ERR_NOT_FOUND : ERR_OTHER;
		char *m, *t;

		if (k <= worst)
			continue;
		worst = k;
		m = etl_jdoc_strdup(d, etl_jdoc_get(d, e, "message"));
		t = etl_jdoc_strdup(d, type);
		snprintf(msg, n, "%s%s%s%s", m ? m : "(no message)", t ? " (" : "", t ? t : "",
			 t ? ")" : "");
		free(m);
		free(t);
	}
	return worst;
}

/*
 * Whether every error of @d (all NOT_FOUND) names a root field alone
 * ("path": ["repository"]) that is null in data: the object asked for is
 * gone.  A longer path is a part of the answer that is missing.
 */
static bool root_gone(const struct etl_jdoc *d, uint32_t data)
{
	uint32_t errs = etl_jdoc_get(d, ETL_JDOC_ROOT, "errors");

	for (uint32_t e = etl_jdoc_first(d, errs); e; e = etl_jdoc_next(d, e)) {
		uint32_t path = etl_jdoc_get(d, e, "path"), field = etl_jdoc_first(d, path);
		size_t len;
		const char *raw;

		if (etl_jdoc_kind(d, path) != ETL_JSON_ARRAY || etl_jdoc_count(d, path) != 1 ||
		    etl_jdoc_kind(d, field) != ETL_JSON_STRING)
			return false;
		raw = etl_jdoc_raw(d, field, &len);
		if (etl_jdoc_kind(d, etl_jdoc_getn(d, data, raw + 1, len - 2)) != ETL_JSON_NULL)
			return false;
	}
	return true;
}

/* A response that came back 2xx: parsed into @d and checked.  ETL_OK,
 * ETL_GH_NOT_FOUND, a category, or 1: rate limited, fetch again. */
static int check_response(struct etl_extract_run *run, struct etl_gh *g, const char *what,
			  const struct etl_gh_vars *v, bool live, struct etl_jdoc *d, int *waits)
{
	const struct etl_http_resp *r = etl_extract_last(run);
	char err[128], msg[300];
	uint32_t data;
	int rc;

	if (etl_jdoc_parse(d, r->body.buf ? r->body.buf : "", r->body.len, err, sizeof(err)) < 0)
		return etl_extract_failf(run, ETL_DATAERR, "%s: cannot read the response: %s",
					 what, err);
	data = etl_jdoc_get(d, ETL_JDOC_ROOT, "data");
	switch (classify_errors(d, msg, sizeof(msg))) {
	case ERR_RATE: {
		int64_t wait = r->ratelimit_reset > 0 ?
			r->ratelimit_reset * 1000 + 1000 - etl_wall_ms() : ETL_GH_SECONDARY_WAIT_MS;

		etl_extract_count_rate_hit(run);
		rc = rate_wait(run, what, wait, waits, "rate limited (HTTP 200, RATE_LIMITED)");
		return rc == ETL_OK ? 1 : rc;
	}
	case ERR_NOT_FOUND:
		if (etl_jdoc_kind(d, data) != ETL_JSON_OBJECT)
			break;
		if (!v->skip_gone || !root_gone(d, data))
			return etl_extract_failf(run, ETL_TEMPFAIL,
						 "%s: part of the answer is missing: %s; not "
						 "skipped (an incomplete sync), run again later",
						 what, msg);
		etl_warn("%s: %s: skipped", what, msg);
		etl_extract_count_error(run);
		return ETL_GH_NOT_FOUND;
	case ERR_OTHER:
		return etl_extract_failf(run, ETL_DATAERR, "%s: GitHub answered with errors: %s",
					 what, msg);
	default:
		break;
	}
	if (etl_jdoc_kind(d, data) != ETL_JSON_OBJECT)
		return etl_extract_failf(run, ETL_DATAERR, "%s: the response has no data%s%s",
					 what, *msg ? ": " : "", msg);
	if (live)
		note_rate(g, d);
	return ETL_OK;
}

/* The sizes of @v halved as after a 502/504.  False when both are 1. */
static bool halve(struct etl_gh_vars *v)
{
	if (v->first <= 1 && v->nested <= 1)
		return false;
	if (v->first > 1)
		v->first /= 2;
	if (v->nested > 1)
		v->nested /= 2;
	return true;
}

/* A failed request.  ETL_OK to try again (a smaller query, after a
 * wait), or the failure's category. */
static int on_failure(struct etl_extract_run *run, struct etl_gh_vars *v, const char *what,
		      int *gateway, int *waits)
{
	const struct etl_http_resp *r = etl_extract_last(run);
	char msg[200];

	if (r->status == 502 || r->status == 504) {
		if (halve(v)) {
			etl_warn("%s: HTTP %ld (GitHub's query timeout): asking again with page "
				 "size %d%s", what, r->status, v->first, v->nested ?
				 " and smaller nested pages" : "");
			return ETL_OK;
		}
		if (++*gateway <= GATEWAY_RETRIES) {
			etl_warn("%s: HTTP %ld at page size 1: retrying in %d s", what, r->status,
				 *gateway);
			etl_sleep_ms(1000L * *gateway);
			return ETL_OK;
		}
		return etl_extract_fail(run, what);
	}
	if (etl_extract_rate_limited(run))
		return etl_extract_fail(run, what);
	body_message(&r->body, msg, sizeof(msg));
	if (r->status == 401)
		return etl_extract_failf(run, ETL_CONFIG,
					 "%s: GitHub refused the token (HTTP 401%s%s): check the "
					 "integration's token", what, *msg ? ": " : "", msg);
	if (r->status == 403 || r->status == 429) {
		/* A secondary limit that did not say how long: at least a minute.
		 * A 429 is a rate limit whatever its body says. */
		if (r->status == 429 || contains_ci(r->body.buf, r->body.len, "rate limit") ||
		    r->ratelimit_remaining == 0)
			return rate_wait(run, what, ETL_GH_SECONDARY_WAIT_MS, waits,
					 "secondary rate limit without retry-after");
		return etl_extract_failf(run, ETL_CONFIG,
					 "%s: GitHub denied access (HTTP %ld%s%s): the token lacks "
					 "a permission (classic token: scopes repo and read:org; "
					 "fine-grained: metadata and pull requests read)", what,
					 r->status, *msg ? ": " : "", msg);
	}
	return etl_extract_fail(run, what);
}

/*
 * Catching up: when the earlier run got a 502/504 here, it went on with
 * smaller pages, and its stored row answers one of those requests, not
 * the full-size one.  Take the sizes of the stored request, so the rows
 * that follow keep matching (and a stored page is never asked again).
 */
static void stored_sizes(struct etl_extract_run *run, struct etl_gh *g, const char *doc,
			 struct etl_gh_vars *v)
{
	struct etl_gh_vars t = *v;

	if (!v->paged || etl_extract_stored_next(run, "POST", g->endpoint, g->body.buf,
						 g->body.len))
		return;
	while (halve(&t)) {
		etl_gh_body(&g->body, doc, &t);
		if (etl_extract_stored_next(run, "POST", g->endpoint, g->body.buf, g->body.len)) {
			v->first = t.first;
			v->nested = t.nested;
			return;
		}
	}
	etl_gh_body(&g->body, doc, v);
}

int etl_gh_query(struct etl_extract_run *run, struct etl_gh *g, const char *doc,
		 struct etl_gh_vars *v, const char *what, struct etl_jdoc *d)
{
	int waits = 0, gateway = 0, rc;

	for (;;) {
		long before;
		bool live;

		if ((rc = pace(run, g, what, &waits)) != ETL_OK)
			return rc;
		etl_gh_body(&g->body, doc, v);
		stored_sizes(run, g, doc, v);
		before = etl_http_stats(g->http)->requests;
		if (!etl_extract_fetch(run, g->http, "POST", g->endpoint, g->body.buf,
				       g->body.len)) {
			if ((rc = on_failure(run, v, what, &gateway, &waits)) != ETL_OK)
				return rc;
			continue;
		}
		/* Answered from a stored row (catching up): no pacing from it. */
		live = etl_http_stats(g->http)->requests != before;
		rc = check_response(run, g, what, v, live, d, &waits);
		if (rc != 1)
			return rc;
	}
}
