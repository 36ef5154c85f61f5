#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "integration.h"
#include "jira/client.h"
#include "jira/extract.h"
#include "json.h"
#include "message.h"
#include "util.h"

/* A full sync is split into queries of at most this many pages, each
 * resuming after the last issue id seen (ETL_JIRA_CHUNK_PAGES). */
#define CHUNK_PAGES_DEFAULT 50
/* Dev status: after this many failures in a row the endpoint is given up
 * for the run (logged). */
#define DEV_FAILURES_IN_A_ROW 20

static const char *const step_args[] = { "project_keys", "dev_issues", NULL };

struct strv {
	char **v;
	size_t n, alloc;
};

static void strv_push(struct strv *s, char *owned)
{
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 16;
		s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
	}
	s->v[s->n++] = owned;
}

static void strv_clear(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

static bool strv_has(const struct strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcasecmp(s->v[i], x))
			return true;
	return false;
}

static void json_strv(struct etl_buf *b, char *const *v, size_t n)
{
	etl_buf_addch(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			etl_buf_addch(b, ',');
		etl_buf_add_json_str(b, v[i], strlen(v[i]));
	}
	etl_buf_addch(b, ']');
}

static void json_str_or_null(struct etl_buf *b, const char *s)
{
	if (s)
		etl_buf_add_json_str(b, s, strlen(s));
	else
		etl_buf_adds(b, "null");
}

static long config_long(const char *name, long def, long min, long max)
{
	const char *v = etl_config_get(name);
	long n;

	if (!v || !*v)
		return def;
	if (etl_parse_long(v, min, max, &n) < 0) {
		etl_warn("ignoring %s='%s': not a number in %ld..%ld", name, v, min, max);
		return def;
	}
	return n;
}

/* ---------------------------------------------------------------- state */

struct jira_state {
	struct etl_jira *j;
	int64_t integ;          /* the integration the client was made for */
	char *base, *email;
	bool no_bulkfetch;      /* bulkfetch answered 404: per-issue changelogs */
};

static void free_state(void *p)
{
	struct jira_state *s = p;

	if (!s)
		return;
	etl_jira_free(s->j);
	free(s->base);
	free(s->email);
	free(s);
}

static struct jira_state *get_state(struct etl_extract_run *run, int *why)
{
	const struct etl_integration *in = etl_extract_integration(run);
	void **slot = etl_extract_state(run);
	struct jira_state *s = *slot;
	struct etl_http_opts ho;

	/* One client per integration: another integration of the same site
	 * must never go out with this one's credentials (a worker serves
	 * every tenant).  The token may have been rotated since. */
	if (s && s->j && s->integ == in->id && in->token && *in->token &&
	    s->base && in->base_url && !strcmp(s->base, in->base_url) &&
	    s->email && in->email && !strcmp(s->email, in->email)) {
		etl_http_set_basic_auth(s->j->http, in->email, in->token);
		etl_http_set_basic_auth(s->j->dev, in->email, in->token);
		return s;
	}
	free_state(s);
	*slot = NULL;
	etl_extract_http_opts(run, &ho);
	s = xcalloc(1, sizeof(*s));
	s->j = etl_jira_new(in->base_url, in->email, in->token, &ho, why);
	if (!s->j) {
		free(s);
		return NULL;
	}
	s->integ = in->id;
	s->base = xstrdup(in->base_url);
	s->email = xstrdup(in->email);
	*slot = s;
	return s;
}

static int from_env(const struct etl_extract_opts *o, struct etl_integration *out, int *why)
{
	const char *base = etl_config_get("JIRA_BASE_URL");
	const char *email = etl_config_get("JIRA_EMAIL");
	const char *token = etl_config_get("JIRA_API_TOKEN");

	if (!base || !*base || !email || !*email || !token || !*token) {
		*why = ETL_CONFIG;
		return etl_error("--no-store takes the Jira site from JIRA_BASE_URL, JIRA_EMAIL "
				 "and JIRA_API_TOKEN: %s is not set",
				 !base || !*base ? "JIRA_BASE_URL" :
				 !email || !*email ? "JIRA_EMAIL" : "JIRA_API_TOKEN");
	}
	etl_log_add_secret(token);
	out->provider = xstrdup("jira");
	out->base_url = xstrdup(base);
	out->email = xstrdup(email);
	out->token = xstrdup(token);
	out->active = true;
	if (o->projects && *o->projects) {
		struct strv v = { NULL, 0, 0 };
		const char *p = o->projects;

		while (*p) {
			size_t n = strcspn(p, ",");

			if (n)
				strv_push(&v, xstrndup(p, n));
			p += n;
			if (*p == ',')
				p++;
		}
		for (size_t i = 0; i < v.n; i++)
			for (char *c = v.v[i]; *c; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 'a' + 'A');
		out->projects = v.v;
		out->nprojects = v.n;
	}
	return 0;
}

/* ------------------------------------------------------------- helpers */

static int parse_doc(struct etl_extract_run *run, struct etl_jdoc *d, const char *what)
{
	const struct etl_http_resp *r = etl_extract_last(run);
	char err[128];

	if (etl_jdoc_parse(d, r->body.buf ? r->body.buf : "", r->body.len, err, sizeof(err)) < 0)
		return etl_extract_failf(run, ETL_DATAERR, "%s: cannot read the response: %s",
					 what, err);
	return ETL_OK;
}

/* A string member as a new string, or NULL. */
static char *get_str(const struct etl_jdoc *d, uint32_t obj, const char *key)
{
	uint32_t n = etl_jdoc_get(d, obj, key);

	return etl_jdoc_kind(d, n) == ETL_JSON_STRING ? etl_jdoc_strdup(d, n) : NULL;
}

/* An id given as a string or a number, as a new string, or NULL. */
static char *get_id(const struct etl_jdoc *d, uint32_t obj, const char *key)
{
	uint32_t n = etl_jdoc_get(d, obj, key);
	size_t len;
	const char *raw;

	if (etl_jdoc_kind(d, n) == ETL_JSON_STRING)
		return etl_jdoc_strdup(d, n);
	if (etl_jdoc_kind(d, n) == ETL_JSON_NUMBER) {
		raw = etl_jdoc_raw(d, n, &len);
		return xstrndup(raw, len);
	}
	return NULL;
}

/* The "isLast" of a startAt-paged response: true, false, or from total. */
static bool page_is_last(const struct etl_jdoc *d, long start, long count)
{
	uint32_t n = etl_jdoc_get(d, ETL_JDOC_ROOT, "isLast");
	int64_t total;

	if (etl_jdoc_kind(d, n) == ETL_JSON_TRUE)
		return true;
	if (etl_jdoc_kind(d, n) == ETL_JSON_FALSE)
		return count == 0;
	if (etl_jdoc_i64(d, etl_jdoc_get(d, ETL_JDOC_ROOT, "total"), &total) == 0)
		return start + count >= total || count == 0;
	return true;
}

/* A JSON array of strings from the message, into @out.  0, or -1 when
 * the member is absent or not such an array. */
static int msg_strv(const struct etl_msg *m, const char *key, struct strv *out)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	const char *raw;
	size_t len;
	char err[64];
	int rc = -1;

	raw = etl_msg_get_raw(m, key, &len);
	if (!raw || etl_jdoc_parse(&d, raw, len, err, sizeof(err)) < 0 ||
	    etl_jdoc_kind(&d, ETL_JDOC_ROOT) != ETL_JSON_ARRAY)
		goto out;
	for (uint32_t e = etl_jdoc_first(&d, ETL_JDOC_ROOT); e; e = etl_jdoc_next(&d, e))
		if (etl_jdoc_kind(&d, e) == ETL_JSON_STRING)
			strv_push(out, etl_jdoc_strdup(&d, e));
	rc = 0;
out:
	etl_jdoc_release(&d);
	return rc;
}

/*
 * The project keys a step works on: the message's "project_keys" (what
 * step 1 found), else the integration's projects, else every visible
 * project (listed without storing: a helper request).
 */
static int resolve_projects(struct etl_extract_run *run, struct jira_state *s,
			    struct strv *keys)
{
	const struct etl_integration *in = etl_extract_integration(run);
	struct etl_buf url = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	long start = 0;
	int rc = ETL_OK;

	if (msg_strv(etl_extract_msg(run), "project_keys", keys) == 0)
		return ETL_OK;
	if (in->nprojects) {
		for (size_t i = 0; i < in->nprojects; i++)
			strv_push(keys, xstrdup(in->projects[i]));
		return ETL_OK;
	}
	for (;;) {
		const struct etl_http_resp *r;
		uint32_t values;
		long count;

		etl_jira_url(s->j, &url, "/rest/api/3/project/search");
		etl_buf_addf(&url, "?startAt=%ld&maxResults=%d", start, ETL_JIRA_PROJECT_PAGE);
		r = etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0);
		if (!r) {
			rc = etl_extract_fail(run, "listing the visible projects");
			break;
		}
		if ((rc = parse_doc(run, &d, "project search")) != ETL_OK)
			break;
		values = etl_jdoc_get(&d, ETL_JDOC_ROOT, "values");
		count = (long)d.n[values].count;
		for (uint32_t v = etl_jdoc_first(&d, values); v; v = etl_jdoc_next(&d, v)) {
			char *key = get_str(&d, v, "key");

			if (key)
				strv_push(keys, key);
		}
		if (page_is_last(&d, start, count))
			break;
		start += count;
	}
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	return rc;
}

/* ------------------------------------- step 1: projects and issue types */

struct project {
	char *key;
	struct strv types;
};

static int createmeta(struct etl_extract_run *run, struct jira_state *s,
		      const struct project *p)
{
	struct etl_buf url = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	int rc = ETL_OK;

	for (size_t t = 0; t < p->types.n && rc == ETL_OK; t++) {
		long start = 0;

		for (;;) {
			const struct etl_http_resp *r;
			uint32_t list;
			long count;
			int64_t total = 0;

			etl_jira_url(s->j, &url, "/rest/api/3/issue/createmeta/");
			etl_jira_enc(&url, p->key);
			etl_buf_adds(&url, "/issuetypes/");
			etl_jira_enc(&url, p->types.v[t]);
			etl_buf_addf(&url, "?startAt=%ld&maxResults=%d", start,
				     ETL_JIRA_CREATEMETA_PAGE);
			r = etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0);
			if (!r) {
				if (etl_extract_last(run)->status == 404) {
					etl_warn("no create metadata for issue type %s of %s "
						 "(HTTP 404): skipped", p->types.v[t], p->key);
					break;
				}
				rc = etl_extract_fail(run, "create metadata");
				break;
			}
			etl_buf_reset(&params);
			etl_buf_adds(&params, "\"project\":");
			json_str_or_null(&params, p->key);
			etl_buf_adds(&params, ",\"issue_type_id\":");
			json_str_or_null(&params, p->types.v[t]);
			etl_buf_addf(&params, ",\"startAt\":%ld,\"maxResults\":%d", start,
				     ETL_JIRA_CREATEMETA_PAGE);
			if ((rc = etl_extract_item(run, "createmeta", params.buf)) != ETL_OK ||
			    (rc = etl_extract_submit(run)) != ETL_OK ||
			    (rc = parse_doc(run, &d, "create metadata")) != ETL_OK)
				break;
			list = etl_jdoc_get(&d, ETL_JDOC_ROOT, "fields");
			if (!list)
				list = etl_jdoc_get(&d, ETL_JDOC_ROOT, "results");
			count = (long)d.n[list].count;
			if (etl_jdoc_i64(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "total"), &total) < 0 ||
			    count == 0 || start + count >= total)
				break;
			start += count;
		}
	}
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&params);
	return rc;
}

static int step_projects(struct etl_extract_run *run, struct jira_state *s)
{
	const struct etl_integration *in = etl_extract_integration(run);
	struct etl_buf url = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct project *projects = NULL;
	struct strv found = { NULL, 0, 0 };
	size_t nprojects = 0, chunk = 0;
	long hours;
	int rc = ETL_OK;

	/* Every page of the project search (at most 50 keys a request). */
	do {
		size_t nk = in->nprojects - chunk < ETL_JIRA_PROJECT_PAGE ?
			in->nprojects - chunk : ETL_JIRA_PROJECT_PAGE;
		long start = 0;

		for (;;) {
			const struct etl_http_resp *r;
			uint32_t values;
			long count;

			etl_jira_url(s->j, &url, "/rest/api/3/project/search?expand=issueTypes");
			etl_buf_addf(&url, "&startAt=%ld&maxResults=%d", start,
				     ETL_JIRA_PROJECT_PAGE);
			for (size_t k = 0; k < nk; k++) {
				etl_buf_adds(&url, "&keys=");
				etl_jira_enc(&url, in->projects[chunk + k]);
			}
			r = etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0);
			if (!r) {
				rc = etl_extract_fail(run, "project search");
				goto out;
			}
			etl_buf_reset(&params);
			etl_buf_addf(&params, "\"startAt\":%ld,\"maxResults\":%d,"
				     "\"expand\":\"issueTypes\"", start, ETL_JIRA_PROJECT_PAGE);
			if (nk) {
				etl_buf_adds(&params, ",\"keys\":");
				json_strv(&params, in->projects + chunk, nk);
			}
			if ((rc = etl_extract_item(run, "project_search", params.buf)) != ETL_OK ||
			    (rc = etl_extract_submit(run)) != ETL_OK ||
			    (rc = parse_doc(run, &d, "project search")) != ETL_OK)
				goto out;
			values = etl_jdoc_get(&d, ETL_JDOC_ROOT, "values");
			count = (long)d.n[values].count;
			for (uint32_t v = etl_jdoc_first(&d, values); v; v = etl_jdoc_next(&d, v)) {
				char *key = get_str(&d, v, "key");
				uint32_t types = etl_jdoc_get(&d, v, "issueTypes");
				struct project *p;

				if (!key || strv_has(&found, key)) {
					free(key);
					continue;
				}
				projects = xrealloc(projects, (nprojects + 1) * sizeof(*projects));
				p = &projects[nprojects++];
				p->key = key;
				memset(&p->types, 0, sizeof(p->types));
				strv_push(&found, xstrdup(key));
				for (uint32_t t = etl_jdoc_first(&d, types); t;
				     t = etl_jdoc_next(&d, t)) {
					char *id = get_id(&d, t, "id");

					if (id)
						strv_push(&p->types, id);
				}
			}
			if (page_is_last(&d, start, count))
				break;
			start += count;
		}
		chunk += nk;
	} while (chunk < in->nprojects);
	for (size_t i = 0; i < in->nprojects; i++)
		if (!strv_has(&found, in->projects[i]))
			etl_warn("project %s: not found, or not visible to this account",
				 in->projects[i]);

	/* Global custom field discovery. */
	etl_jira_url(s->j, &url, "/rest/api/3/field");
	if (!etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0)) {
		rc = etl_extract_fail(run, "field list");
		goto out;
	}
	if ((rc = etl_extract_item(run, "fields", NULL)) != ETL_OK ||
	    (rc = etl_extract_submit(run)) != ETL_OK)
		goto out;

	/* Project-specific fields: create metadata per project and type. */
	hours = config_long("ETL_JIRA_DISCOVERY_HOURS", 24, 0, 24L * 365);
	if (etl_extract_full(run) || !etl_extract_fresh(run, "createmeta", hours * 3600)) {
		for (size_t i = 0; i < nprojects && rc == ETL_OK; i++)
			rc = createmeta(run, s, &projects[i]);
		if (rc != ETL_OK)
			goto out;
	} else {
		etl_info("create metadata fetched less than %ld h ago: not fetched again", hours);
	}
	etl_buf_reset(&params);
	json_strv(&params, found.v, found.n);
	etl_extract_next_arg(run, "project_keys", params.buf, params.len);
out:
	for (size_t i = 0; i < nprojects; i++) {
		free(projects[i].key);
		strv_clear(&projects[i].types);
	}
	free(projects);
	strv_clear(&found);
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&params);
	return rc;
}

/* --------------------------------------------------- step 2: statuses */

static int step_statuses(struct etl_extract_run *run, struct jira_state *s)
{
	struct etl_buf url = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct strv keys = { NULL, 0, 0 };
	int rc;

	if ((rc = resolve_projects(run, s, &keys)) != ETL_OK)
		goto out;
	for (size_t i = 0; i < keys.n; i++) {
		etl_jira_url(s->j, &url, "/rest/api/3/project/");
		etl_jira_enc(&url, keys.v[i]);
		etl_buf_adds(&url, "/statuses");
		if (!etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0)) {
			if (etl_extract_last(run)->status == 404) {
				etl_warn("project %s: no statuses (HTTP 404): skipped", keys.v[i]);
				continue;
			}
			rc = etl_extract_fail(run, "project statuses");
			goto out;
		}
		etl_buf_reset(&params);
		etl_buf_adds(&params, "\"project\":");
		json_str_or_null(&params, keys.v[i]);
		if ((rc = etl_extract_item(run, "project_statuses", params.buf)) != ETL_OK ||
		    (rc = etl_extract_submit(run)) != ETL_OK)
			goto out;
	}
	etl_buf_reset(&params);
	json_strv(&params, keys.v, keys.n);
	etl_extract_next_arg(run, "project_keys", params.buf, params.len);
out:
	strv_clear(&keys);
	etl_buf_release(&url);
	etl_buf_release(&params);
	return rc;
}

/* -------------------------------------- step 3: issues with changelogs */

/* Issues of a page whose embedded changelog is incomplete. */
struct need {
	struct strv ids, keys;
	int64_t *total, *got;
};

static void need_clear(struct need *n)
{
	strv_clear(&n->ids);
	strv_clear(&n->keys);
	free(n->total);
	free(n->got);
	n->total = n->got = NULL;
}

static void need_push(struct need *n, const char *id, const char *key, int64_t total)
{
	strv_push(&n->ids, xstrdup(id));
	strv_push(&n->keys, xstrdup(key ? key : id));
	n->total = xrealloc(n->total, n->ids.n * sizeof(*n->total));
	n->got = xrealloc(n->got, n->ids.n * sizeof(*n->got));
	n->total[n->ids.n - 1] = total;
	n->got[n->ids.n - 1] = 0;
}

static void need_count(struct need *n, const char *id, int64_t histories)
{
	for (size_t i = 0; i < n->ids.n; i++)
		if (!strcmp(n->ids.v[i], id)) {
			n->got[i] += histories;
			return;
		}
}

/* Per-issue changelog pages, when bulkfetch is not served. */
static int issue_changelogs(struct etl_extract_run *run, struct jira_state *s, struct need *n)
{
	struct etl_buf url = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	int rc = ETL_OK;

	for (size_t i = 0; i < n->ids.n && rc == ETL_OK; i++) {
		long start = 0;

		for (;;) {
			uint32_t values;
			long count;

			etl_jira_url(s->j, &url, "/rest/api/3/issue/");
			etl_jira_enc(&url, n->ids.v[i]);
			etl_buf_addf(&url, "/changelog?startAt=%ld&maxResults=%d", start,
				     ETL_JIRA_CHANGELOG_PAGE);
			if (!etl_extract_fetch(run, s->j->http, "GET", url.buf, NULL, 0)) {
				rc = etl_extract_fail(run, "issue changelog");
				break;
			}
			etl_buf_reset(&params);
			etl_buf_adds(&params, "\"issue\":");
			json_str_or_null(&params, n->ids.v[i]);
			etl_buf_addf(&params, ",\"startAt\":%ld,\"maxResults\":%d", start,
				     ETL_JIRA_CHANGELOG_PAGE);
			if ((rc = etl_extract_attach(run, "issue_changelog", params.buf)) != ETL_OK ||
			    (rc = parse_doc(run, &d, "issue changelog")) != ETL_OK)
				break;
			values = etl_jdoc_get(&d, ETL_JDOC_ROOT, "values");
			count = (long)d.n[values].count;
			n->got[i] += count;
			if (page_is_last(&d, start, count))
				break;
			start += count;
		}
	}
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&params);
	return rc;
}

/*
 * Fetch the complete histories of the issues in @n, attached to the
 * current page: bulkfetch (batch_size issues a call, every page), or the
 * per-issue endpoint when bulkfetch answers 404.
 */
static int complete_changelogs(struct etl_extract_run *run, struct jira_state *s,
			       struct need *n)
{
	const struct etl_extract_opts *o = etl_extract_opts(run);
	size_t batch = o->batch_size > 0 ? (size_t)o->batch_size : ETL_JIRA_BULK_ISSUES;
	struct etl_buf url = ETL_BUF_INIT, body = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	int rc = ETL_OK;

	if (batch > ETL_JIRA_BULK_ISSUES)
		batch = ETL_JIRA_BULK_ISSUES;
	etl_jira_url(s->j, &url, "/rest/api/3/changelog/bulkfetch");
	for (size_t off = 0; off < n->ids.n && !s->no_bulkfetch && rc == ETL_OK; off += batch) {
		size_t cnt = n->ids.n - off < batch ? n->ids.n - off : batch;
		char *next = NULL;

		for (int call = 0; ; call++) {
			uint32_t logs;

			etl_jira_bulkfetch_body(&body, n->ids.v + off, cnt, ETL_JIRA_BULK_HISTORIES,
						next);
			if (!etl_extract_fetch(run, s->j->http, "POST", url.buf, body.buf, body.len)) {
				long st = etl_extract_last(run)->status;

				if (off == 0 && call == 0 && (st == 404 || st == 405 || st == 501)) {
					etl_warn("changelog bulkfetch not served (HTTP %ld): "
						 "fetching changelogs issue by issue", st);
					s->no_bulkfetch = true;
					break;
				}
				rc = etl_extract_fail(run, "changelog bulkfetch");
				break;
			}
			etl_buf_reset(&params);
			etl_buf_adds(&params, "\"issueIdsOrKeys\":");
			json_strv(&params, n->ids.v + off, cnt);
			etl_buf_addf(&params, ",\"maxResults\":%d,\"nextPageToken\":",
				     ETL_JIRA_BULK_HISTORIES);
			json_str_or_null(&params, next);
			if ((rc = etl_extract_attach(run, "changelog_bulkfetch", params.buf)) != ETL_OK ||
			    (rc = parse_doc(run, &d, "changelog bulkfetch")) != ETL_OK)
				break;
			logs = etl_jdoc_get(&d, ETL_JDOC_ROOT, "issueChangeLogs");
			for (uint32_t l = etl_jdoc_first(&d, logs); l; l = etl_jdoc_next(&d, l)) {
				char *id = get_id(&d, l, "issueId");
				uint32_t h = etl_jdoc_get(&d, l, "changeHistories");

				if (id)
					need_count(n, id, (int64_t)d.n[h].count);
				free(id);
			}
			free(next);
			next = get_str(&d, ETL_JDOC_ROOT, "nextPageToken");
			if (!next || d.n[logs].count == 0)
				break;
		}
		free(next);
	}
	if (s->no_bulkfetch && rc == ETL_OK)
		rc = issue_changelogs(run, s, n);
	if (rc == ETL_OK)
		for (size_t i = 0; i < n->ids.n; i++)
			if (n->got[i] < n->total[i])
				etl_warn("issue %s: %lld of its %lld changelog entries received",
					 n->keys.v[i], (long long)n->got[i], (long long)n->total[i]);
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&body);
	etl_buf_release(&params);
	return rc;
}

/*
 * Whether an issue's fields show linked pull requests: the development
 * field (customfield_NNNNN with the devsummary type; its id varies per
 * site) reads "{pullrequest={dataType=pullrequest, state=OPEN,
 * stateCount=1}, json=...}", "{}" when there is none.
 */
static bool shows_pull_requests(const struct etl_jdoc *d, uint32_t fields)
{
	static const char pr[] = "\"{pullrequest={", sc[] = "stateCount=";

	for (uint32_t k = etl_jdoc_first(d, fields); k; k = etl_jdoc_next(d, k)) {
		uint32_t v = etl_jdoc_next(d, k);
		const char *s;
		size_t len, i;

		k = v;   /* the loop steps from the value to the next key */
		if (etl_jdoc_kind(d, v) != ETL_JSON_STRING)
			continue;
		s = etl_jdoc_raw(d, v, &len);
		if (len < sizeof(pr) || memcmp(s, pr, sizeof(pr) - 1))
			continue;
		/* stateCount=N inside the pullrequest={...} part. */
		for (i = sizeof(pr) - 1; i + sizeof(sc) < len && s[i] != '}'; i++)
			if (!memcmp(s + i, sc, sizeof(sc) - 1))
				return s[i + sizeof(sc) - 1] >= '1' &&
					s[i + sizeof(sc) - 1] <= '9';
	}
	return false;
}

static void build_jql(struct etl_buf *b, const struct strv *keys, int64_t since, int64_t after)
{
	etl_buf_reset(b);
	etl_buf_adds(b, "project in (");
	for (size_t i = 0; i < keys->n; i++) {
		if (i)
			etl_buf_adds(b, ", ");
		etl_buf_addch(b, '"');
		for (const char *c = keys->v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				etl_buf_addch(b, '\\');
			etl_buf_addch(b, *c);
		}
		etl_buf_addch(b, '"');
	}
	etl_buf_addch(b, ')');
	if (since >= 0)
		etl_buf_addf(b, " AND updated >= %lld", (long long)since);
	if (after > 0)
		etl_buf_addf(b, " AND id > %lld", (long long)after);
	etl_buf_adds(b, " ORDER BY id ASC");
}

/* Split ETL_JIRA_FIELDS (or the default) into @out. */
static void search_fields(struct strv *out)
{
	const char *f = etl_config_get_or("ETL_JIRA_FIELDS", ETL_JIRA_FIELDS);

	while (*f) {
		size_t n = strcspn(f, ",");
		size_t a = 0;

		while (a < n && f[a] == ' ')
			a++;
		if (n > a)
			strv_push(out, xstrndup(f + a, n - a));
		f += n;
		if (*f == ',')
			f++;
	}
}

/* The deleted-issue pass: every issue id of the projects, 5000 a page. */
static int reconcile(struct etl_extract_run *run, struct jira_state *s, const struct strv *keys)
{
	static const char *const id_field[] = { "id" };
	struct etl_buf url = ETL_BUF_INIT, jql = ETL_BUF_INIT, body = ETL_BUF_INIT;
	struct etl_buf params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	char *next = NULL;
	int rc = ETL_OK;

	etl_jira_url(s->j, &url, "/rest/api/3/search/jql");
	build_jql(&jql, keys, -1, 0);
	for (long page = 1; ; page++) {
		char *following;
		bool last;

		etl_jira_search_body(&body, jql.buf, id_field, 1, NULL, ETL_JIRA_IDS_PAGE, next);
		if (!etl_extract_fetch(run, s->j->http, "POST", url.buf, body.buf, body.len)) {
			etl_extract_hint(run, "cursor", next ? "\"reconcile\"" : "null");
			rc = etl_extract_fail(run, "deleted-issue pass");
			break;
		}
		if ((rc = parse_doc(run, &d, "deleted-issue pass")) != ETL_OK)
			break;
		following = get_str(&d, ETL_JDOC_ROOT, "nextPageToken");
		last = etl_jdoc_kind(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "isLast")) == ETL_JSON_TRUE ||
			!following || d.n[etl_jdoc_get(&d, ETL_JDOC_ROOT, "issues")].count == 0;
		etl_buf_reset(&params);
		etl_buf_adds(&params, "\"jql\":");
		etl_buf_add_json_str(&params, jql.buf, jql.len);
		etl_buf_addf(&params, ",\"fields\":[\"id\"],\"maxResults\":%d,\"nextPageToken\":",
			     ETL_JIRA_IDS_PAGE);
		json_str_or_null(&params, next);
		etl_buf_adds(&params, ",\"projects\":");
		json_strv(&params, keys->v, keys->n);
		etl_buf_addf(&params, ",\"page\":%ld,\"first\":%s,\"last\":%s", page,
			     page == 1 ? "true" : "false", last ? "true" : "false");
		if ((rc = etl_extract_item(run, "reconcile_ids", params.buf)) != ETL_OK ||
		    (rc = etl_extract_submit(run)) != ETL_OK) {
			free(following);
			break;
		}
		free(next);
		next = following;
		if (last)
			break;
	}
	free(next);
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&jql);
	etl_buf_release(&body);
	etl_buf_release(&params);
	return rc;
}

static int step_issues(struct etl_extract_run *run, struct jira_state *s)
{
	const struct etl_extract_opts *o = etl_extract_opts(run);
	int page_size = o->page_size > 0 ? o->page_size : ETL_JIRA_SEARCH_PAGE;
	long chunk_pages = config_long("ETL_JIRA_CHUNK_PAGES", CHUNK_PAGES_DEFAULT, 1, 1000000);
	int64_t since = etl_extract_since_ms(run), after = 0, last_id = 0, restarted_at = -1;
	struct etl_buf url = ETL_BUF_INIT, jql = ETL_BUF_INIT, body = ETL_BUF_INIT;
	struct etl_buf params = ETL_BUF_INIT, dev = ETL_BUF_INIT, hint = ETL_BUF_INIT;
	struct strv keys = { NULL, 0, 0 }, fields = { NULL, 0, 0 };
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct need need;
	char *next = NULL;
	long in_chunk = 0, ndev = 0, nissues = 0;
	int rc;

	memset(&need, 0, sizeof(need));
	if (page_size > ETL_JIRA_SEARCH_PAGE)
		page_size = ETL_JIRA_SEARCH_PAGE;
	if ((rc = resolve_projects(run, s, &keys)) != ETL_OK)
		goto out;
	search_fields(&fields);
	etl_buf_addch(&dev, '[');
	etl_jira_url(s->j, &url, "/rest/api/3/search/jql");
	while (keys.n) {
		uint32_t issues;
		char *following;
		bool last;

		build_jql(&jql, &keys, since, after);
		etl_jira_search_body(&body, jql.buf, (const char *const *)fields.v, fields.n,
				     "changelog", page_size, next);
		if (!etl_extract_fetch(run, s->j->http, "POST", url.buf, body.buf, body.len)) {
			/* A cursor that expired while we waited: go on after the
			 * last issue seen, by id (once per position). */
			if (next && etl_extract_last(run)->status == 400 && last_id > 0 &&
			    restarted_at != last_id) {
				etl_warn("the search cursor was refused (HTTP 400): going on after "
					 "issue id %lld", (long long)last_id);
				restarted_at = after = last_id;
				free(next);
				next = NULL;
				in_chunk = 0;
				continue;
			}
			etl_buf_reset(&hint);
			json_str_or_null(&hint, next);
			etl_extract_hint(run, "cursor", hint.buf);
			etl_buf_reset(&hint);
			etl_buf_add_json_str(&hint, jql.buf, jql.len);
			etl_extract_hint(run, "jql", hint.buf);
			etl_buf_reset(&hint);
			etl_buf_addf(&hint, "%lld", (long long)since);
			etl_extract_hint(run, "since", hint.buf);
			rc = etl_extract_fail(run, "issue search");
			goto out;
		}
		if ((rc = parse_doc(run, &d, "issue search")) != ETL_OK)
			goto out;
		etl_buf_reset(&params);
		etl_buf_adds(&params, "\"jql\":");
		etl_buf_add_json_str(&params, jql.buf, jql.len);
		etl_buf_adds(&params, ",\"fields\":");
		json_strv(&params, fields.v, fields.n);
		etl_buf_addf(&params, ",\"expand\":\"changelog\",\"maxResults\":%d,"
			     "\"nextPageToken\":", page_size);
		json_str_or_null(&params, next);
		if ((rc = etl_extract_item(run, "search_jql", params.buf)) != ETL_OK)
			goto out;
		issues = etl_jdoc_get(&d, ETL_JDOC_ROOT, "issues");
		need_clear(&need);
		for (uint32_t i = etl_jdoc_first(&d, issues); i; i = etl_jdoc_next(&d, i)) {
			char *id = get_id(&d, i, "id"), *key = get_str(&d, i, "key");
			uint32_t cl = etl_jdoc_get(&d, i, "changelog");
			int64_t total = 0, nid = 0;
			int64_t embedded = (int64_t)d.n[etl_jdoc_get(&d, cl, "histories")].count;

			nissues++;
			if (id && etl_parse_i64(id, &nid) == 0 && nid > last_id)
				last_id = nid;
			if (id && etl_jdoc_i64(&d, etl_jdoc_get(&d, cl, "total"), &total) == 0 &&
			    total > embedded)
				need_push(&need, id, key, total);
			if (id && shows_pull_requests(&d, etl_jdoc_get(&d, i, "fields"))) {
				if (ndev++)
					etl_buf_addch(&dev, ',');
				etl_buf_adds(&dev, "{\"id\":");
				json_str_or_null(&dev, id);
				etl_buf_adds(&dev, ",\"key\":");
				json_str_or_null(&dev, key);
				etl_buf_addch(&dev, '}');
			}
			free(id);
			free(key);
		}
		if (need.ids.n && (rc = complete_changelogs(run, s, &need)) != ETL_OK)
			goto out;
		/* The page's histories are complete: its message may go. */
		if ((rc = etl_extract_submit(run)) != ETL_OK)
			goto out;
		following = get_str(&d, ETL_JDOC_ROOT, "nextPageToken");
		last = etl_jdoc_kind(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "isLast")) == ETL_JSON_TRUE ||
			!following || d.n[issues].count == 0;
		free(next);
		next = NULL;
		if (last) {
			free(following);
			break;
		}
		if (++in_chunk >= chunk_pages && last_id > 0) {
			/* A new query after the last id: long cursor chains
			 * have been seen to stop early. */
			free(following);
			after = last_id;
			in_chunk = 0;
			continue;
		}
		next = following;
	}
	etl_info("%ld issues, %ld with pull requests", nissues, ndev);
	if (keys.n &&
	    etl_extract_pass_due(run, "search_jql", "reconcile_ids", o->reconcile_every) &&
	    (rc = reconcile(run, s, &keys)) != ETL_OK)
		goto out;
	etl_buf_addch(&dev, ']');
	etl_extract_next_arg(run, "dev_issues", dev.buf, dev.len);
	etl_buf_reset(&params);
	json_strv(&params, keys.v, keys.n);
	etl_extract_next_arg(run, "project_keys", params.buf, params.len);
out:
	free(next);
	need_clear(&need);
	strv_clear(&keys);
	strv_clear(&fields);
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&jql);
	etl_buf_release(&body);
	etl_buf_release(&params);
	etl_buf_release(&dev);
	etl_buf_release(&hint);
	return rc;
}

/* ------------------------------------------------- step 4: dev status */

static int step_dev_status(struct etl_extract_run *run, struct jira_state *s)
{
	struct etl_buf url = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	const char *raw;
	size_t len;
	char err[64];
	long failed = 0, in_a_row = 0, done = 0;
	int rc = ETL_OK;

	raw = etl_msg_get_raw(etl_extract_msg(run), "dev_issues", &len);
	if (!raw) {
		etl_info("no dev_issues in the message: no issue of this run shows pull requests");
		return ETL_OK;
	}
	if (etl_jdoc_parse(&d, raw, len, err, sizeof(err)) < 0 ||
	    etl_jdoc_kind(&d, ETL_JDOC_ROOT) != ETL_JSON_ARRAY) {
		etl_jdoc_release(&d);
		return etl_extract_failf(run, ETL_DATAERR, "dev_issues is not an array");
	}
	for (uint32_t e = etl_jdoc_first(&d, ETL_JDOC_ROOT); e; e = etl_jdoc_next(&d, e)) {
		char *id = get_id(&d, e, "id"), *key = get_str(&d, e, "key");
		const struct etl_http_resp *r;

		if (!id) {
			free(key);
			continue;
		}
		etl_jira_url(s->j, &url, "/rest/dev-status/latest/issue/detail?issueId=");
		etl_jira_enc(&url, id);
		etl_buf_adds(&url, "&applicationType=GitHub&dataType=pullrequest");
		r = etl_extract_fetch(run, s->j->dev, "GET", url.buf, NULL, 0);
		if (!r) {
			const struct etl_http_resp *f = etl_extract_last(run);

			if (etl_extract_rate_limited(run) || f->status == 401) {
				free(id);
				free(key);
				rc = etl_extract_fail(run, "dev status");
				break;
			}
			failed++;
			etl_extract_count_error(run);
			etl_warn("dev status of %s: %s (not fatal: going on)", key ? key : id,
				 *f->error ? f->error : "request failed");
			free(id);
			free(key);
			if (++in_a_row >= DEV_FAILURES_IN_A_ROW) {
				etl_warn("dev status failed %ld times in a row: no more dev status "
					 "requests in this run", in_a_row);
				break;
			}
			continue;
		}
		in_a_row = 0;
		etl_buf_reset(&params);
		etl_buf_adds(&params, "\"issue_id\":");
		json_str_or_null(&params, id);
		etl_buf_adds(&params, ",\"issue_key\":");
		json_str_or_null(&params, key);
		etl_buf_adds(&params, ",\"applicationType\":\"GitHub\","
			     "\"dataType\":\"pullrequest\"");
		free(id);
		free(key);
		if ((rc = etl_extract_item(run, "dev_status", params.buf)) != ETL_OK ||
		    (rc = etl_extract_submit(run)) != ETL_OK)
			break;
		done++;
	}
	if (failed)
		etl_warn("dev status: %ld of %ld requests failed (counted in the run's errors)",
			 failed, failed + done);
	etl_jdoc_release(&d);
	etl_buf_release(&url);
	etl_buf_release(&params);
	return rc;
}

/* ----------------------------------------------------------- routing */

static const struct {
	const char *type;
	int (*fn)(struct etl_extract_run *run, struct jira_state *s);
} steps[] = {
	{ "jira_projects_and_issue_types", step_projects },
	{ "jira_statuses_and_relationships", step_statuses },
	{ "jira_issues_with_changelogs", step_issues },
	{ "jira_dev_status", step_dev_status },
};

static int run_step(struct etl_extract_run *run)
{
	const char *type = etl_extract_step(run)->type;
	struct jira_state *s;
	int why = 0;

	for (size_t i = 0; i < ETL_ARRAY_SIZE(steps); i++) {
		if (strcmp(steps[i].type, type))
			continue;
		s = get_state(run, &why);
		if (!s)
			return etl_extract_failf(run, why ? why : ETL_CONFIG,
						 "cannot make a Jira client for integration %lld",
						 (long long)etl_extract_integration(run)->id);
		return steps[i].fn(run, s);
	}
	return etl_extract_failf(run, ETL_DATAERR, "no Jira extractor for this step");
}

const struct etl_extract_provider etl_jira_extract_provider = {
	"jira", step_args, from_env, run_step, free_state,
};
