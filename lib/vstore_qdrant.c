/*
 * vstore_qdrant.c - vectors in Qdrant over its REST API (vstore.h "qdrant").
 *
 *   GET  /collections/{name}                     exists? (404: no) and its size
 *   PUT  /collections/{name}                     {"vectors": {"size": N, "distance": "Cosine"}}
 *   PUT  /collections/{name}/index?wait=true     {"field_name": F, "field_schema": "integer"|
 *                                                 "keyword"}
 *   PUT  /collections/{name}/points?wait=true    {"points": [{"id", "vector", "payload"}]}
 *   POST /collections/{name}/points/query        {"query": [..], "filter": {...},
 *                                                 "limit": k, "with_payload": true}
 *
 * Answers are {"result": ..., "status": "ok", "time": s}, errors
 * {"status": {"error": "..."}, "time": s}.  A collection per tenant and
 * dimension, etl_t<tenant>_d<dim>, is checked (and created if missing) once
 * per process; a 409 on create means another worker made it first.  The
 * payload fields the searches filter on get payload indexes then: those the
 * collection info's "payload_schema" does not list with that type are
 * created (idempotent in Qdrant, so racing workers are fine).  A failure
 * there fails the message like any other Qdrant error, and the collection
 * is checked again on the next one.  Searches create nothing: a read-only
 * key must do for them.  Point
 * ids are the bridge's UUID v5, so re-embedding overwrites.  The payload
 * carries tenant_id, source_type, table_name, external_id, record_id and
 * title; searches filter on tenant_id (and source_type) even inside the
 * tenant's own collection, and hits naming another tenant are dropped.
 * "api-key: KEY" authenticates when ETL_QDRANT_API_KEY is set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "vstore.h"

struct qdrant {
	struct etl_http *http;
	char *base;           /* without a trailing slash */
	char **known;         /* collections checked this run */
	size_t nknown;
	struct etl_buf body, url;
	struct etl_jdoc doc;
};

static int q_open(struct etl_vstore *s, const struct etl_vstore_opts *o, int *why)
{
	struct etl_http_opts ho = ETL_HTTP_OPTS_INIT;
	const char *url = o->url ? o->url : etl_config_get_or("ETL_QDRANT_URL",
							      "http://localhost:6333");
	const char *key = o->api_key ? o->api_key : etl_config_get("ETL_QDRANT_API_KEY");
	struct qdrant *q;
	size_t n;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		*why = ETL_CONFIG;
		return etl_error("ETL_QDRANT_URL must be an http:// or https:// URL");
	}
	etl_http_opts_config(&ho);   /* response cap, low-speed limit */
	ho.max_retries = o->http_retries >= 0 ? o->http_retries :
		(int)etl_config_get_long("ETL_QDRANT_RETRIES", 5, 0, 100);
	ho.backoff_base_ms = etl_config_get_long("ETL_QDRANT_BACKOFF_MS", 500, 1, 600000);
	ho.timeout_ms = etl_config_get_long("ETL_QDRANT_TIMEOUT_MS", 60000, 100, 3600000);
	q = xcalloc(1, sizeof(*q));
	q->http = etl_http_new(&ho);
	if (!q->http) {
		free(q);
		*why = ETL_SOFTWARE;
		return -1;
	}
	n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	q->base = xstrndup(url, n);
	etl_http_add_header(q->http, "Accept: application/json");
	if (key && *key) {
		struct etl_buf h = ETL_BUF_INIT;

		etl_log_add_secret(key);
		etl_buf_addf(&h, "api-key: %s", key);
		etl_http_add_header(q->http, h.buf);
		memset(h.buf, 0, h.len);
		etl_buf_release(&h);
	}
	s->priv = q;
	return 0;
}

static void q_close(struct etl_vstore *s)
{
	struct qdrant *q = s->priv;

	if (!q)
		return;
	etl_http_free(q->http);
	free(q->base);
	for (size_t i = 0; i < q->nknown; i++)
		free(q->known[i]);
	free(q->known);
	etl_buf_release(&q->body);
	etl_buf_release(&q->url);
	etl_jdoc_release(&q->doc);
	free(q);
	s->priv = NULL;
}

static void q_collection(const struct etl_vstore *s, int64_t tenant, int dim,
			 char *out, size_t n)
{
	(void)s;
	snprintf(out, n, "etl_t%lld_d%d", (long long)tenant, dim);
}

/* Where Qdrant's own words are in an error body: {"status": {"error": ...}}. */
static const char *const error_paths[] = { "status.error", NULL };

/* One request; 0 on 2xx, else -1 with the HTTP status in r->status (0
 * when none) and, unless it was @quiet (an expected status), the failure
 * reported with *why set. */
static int call(struct etl_vstore *s, const char *method, const char *path,
		const struct etl_buf *body, struct etl_http_resp *r, long quiet,
		int *why)
{
	struct qdrant *q = s->priv;
	char msg[256];

	etl_buf_reset(&q->url);
	etl_buf_adds(&q->url, q->base);
	etl_buf_adds(&q->url, path);
	s->requests++;
	if (etl_http_request(q->http, method, q->url.buf, body ? body->buf : NULL,
			     body ? body->len : 0, r) == 0)
		return 0;
	if (quiet && r->status == quiet)
		return -1;
	etl_jdoc_error_words(&q->doc, r->body.buf, r->body.len, error_paths, msg,
			     sizeof(msg));
	*why = r->why ? r->why : ETL_UNAVAIL;
	/* A 4xx from Qdrant is a mismatch between us and it (dimension,
	 * format, auth): no retry makes it pass. */
	if (*why == ETL_DATAERR && (r->status == 401 || r->status == 403))
		*why = ETL_CONFIG;
	snprintf(s->reason, sizeof(s->reason), "qdrant %s %.80s: %.100s%.60s", method, path,
		 r->error, msg);
	etl_debug("%s", s->reason);   /* the caller reports it */
	return -1;
}

/* The payload fields q_search filters on, with the index each needs for its
 * match: tenant_id is a JSON integer, source_type a string. */
static const struct {
	const char *field, *schema;
} indexed[] = {
	{ "tenant_id", "integer" },
	{ "source_type", "keyword" },
};

/* Bit i set for each indexed[i] that the collection info in q->doc (a GET
 * /collections/{name} answer) has no index of the right type for. */
static unsigned missing_indexes(const struct qdrant *q)
{
	uint32_t schema = etl_jdoc_path(&q->doc, ETL_JDOC_ROOT, "result.payload_schema");
	unsigned need = 0;

	for (size_t i = 0; i < ETL_ARRAY_SIZE(indexed); i++) {
		uint32_t f = etl_jdoc_get(&q->doc, schema, indexed[i].field);

		if (!etl_jdoc_str_eq(&q->doc, etl_jdoc_get(&q->doc, f, "data_type"),
				     indexed[i].schema))
			need |= 1u << i;
	}
	return need;
}

/* Create the payload indexes of collection @name that @need names. */
static int create_indexes(struct etl_vstore *s, const char *name, unsigned need, int *why)
{
	struct qdrant *q = s->priv;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	char path[192], msg[256];
	int ret = -1;

	snprintf(path, sizeof(path), "/collections/%s/index?wait=true", name);
	for (size_t i = 0; i < ETL_ARRAY_SIZE(indexed); i++) {
		if (!(need & (1u << i)))
			continue;
		etl_buf_reset(&q->body);
		etl_buf_addf(&q->body, "{\"field_name\":\"%s\",\"field_schema\":\"%s\"}",
			     indexed[i].field, indexed[i].schema);
		if (call(s, "PUT", path, &q->body, &r, 0, why) < 0) {
			/* Dropped behind our back: made again on the retry. */
			if (r.status == 404)
				*why = ETL_TEMPFAIL;
			/* Reworded so that the index is named: r.error holds
			 * the request and the status, msg Qdrant's words. */
			etl_jdoc_error_words(&q->doc, r.body.buf, r.body.len, error_paths,
					     msg, sizeof(msg));
			snprintf(s->reason, sizeof(s->reason),
				 "cannot create qdrant payload index %s of %.40s: %.100s%.60s",
				 indexed[i].field, name, r.error, msg);
			goto out;
		}
		etl_info("created qdrant payload index %s (%s) of %s", indexed[i].field,
			 indexed[i].schema, name);
	}
	ret = 0;
out:
	etl_http_resp_release(&r);
	return ret;
}

/* Make sure collection @name of @dim exists, with the payload indexes the
 * searches need (once per process). */
static int ensure(struct etl_vstore *s, const char *name, int dim, int *why)
{
	struct qdrant *q = s->priv;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	char path[160], err[64];
	unsigned need = (1u << ETL_ARRAY_SIZE(indexed)) - 1;
	int ret = -1;

	for (size_t i = 0; i < q->nknown; i++)
		if (!strcmp(q->known[i], name))
			return 0;
	snprintf(path, sizeof(path), "/collections/%s", name);
	if (call(s, "GET", path, NULL, &r, 404, why) == 0) {
		int64_t size = 0;
		uint32_t v;

		if (etl_jdoc_parse(&q->doc, r.body.buf, r.body.len, err, sizeof(err)) < 0) {
			*why = ETL_UNAVAIL;
			snprintf(s->reason, sizeof(s->reason),
				 "qdrant GET %.80s: response is not JSON: %.60s", path, err);
			goto out;
		}
		v = etl_jdoc_path(&q->doc, ETL_JDOC_ROOT, "result.config.params.vectors.size");
		if (etl_jdoc_i64(&q->doc, v, &size) == 0 && size != dim) {
			*why = ETL_CONFIG;
			snprintf(s->reason, sizeof(s->reason),
				 "qdrant collection %s holds vectors of %lld dimensions, not %d",
				 name, (long long)size, dim);
			goto out;
		}
		need = missing_indexes(q);
	} else if (r.status == 404) {
		etl_buf_reset(&q->body);
		etl_buf_addf(&q->body, "{\"vectors\":{\"size\":%d,\"distance\":\"Cosine\"}}", dim);
		if (call(s, "PUT", path, &q->body, &r, 409, why) < 0 && r.status != 409)
			goto out;
		etl_info("created qdrant collection %s (%d dimensions, cosine)", name, dim);
	} else {
		goto out;
	}
	if (need && create_indexes(s, name, need, why) < 0)
		goto out;
	q->known = xrealloc(q->known, (q->nknown + 1) * sizeof(*q->known));
	q->known[q->nknown++] = xstrdup(name);
	ret = 0;
out:
	etl_http_resp_release(&r);
	return ret;
}

static void forget_known(struct qdrant *q, const char *name)
{
	for (size_t i = 0; i < q->nknown; i++) {
		if (!strcmp(q->known[i], name)) {
			free(q->known[i]);
			q->known[i] = q->known[--q->nknown];
			return;
		}
	}
}

static void add_str_member(struct etl_buf *b, const char *key, const char *val)
{
	etl_buf_addf(b, ",\"%s\":", key);
	if (val)
		etl_buf_add_json_str(b, val, strlen(val));
	else
		etl_buf_adds(b, "null");
}

static int q_put(struct etl_vstore *s, struct etl_db *db, const struct etl_vmeta *m,
		 const struct etl_vrec *r, size_t n, int *why)
{
	struct qdrant *q = s->priv;
	struct etl_http_resp resp = ETL_HTTP_RESP_INIT;
	char name[96], path[192];
	int ret = -1;

	if (!n)
		return 0;
	q_collection(s, m->tenant_id, m->dim, name, sizeof(name));
	if (ensure(s, name, m->dim, why) < 0)
		return -1;
	snprintf(path, sizeof(path), "/collections/%s/points?wait=true", name);
	for (size_t at = 0; at < n; at += (size_t)s->batch) {
		size_t k = n - at < (size_t)s->batch ? n - at : (size_t)s->batch;

		etl_buf_reset(&q->body);
		etl_buf_adds(&q->body, "{\"points\":[");
		for (size_t i = at; i < at + k; i++) {
			char num[32];

			etl_buf_addf(&q->body, "%s{\"id\":\"%s\",\"vector\":[", i > at ? "," : "",
				     r[i].point_id);
			for (int j = 0; j < m->dim; j++) {
				int len = snprintf(num, sizeof(num), "%s%.8g", j ? "," : "",
						   (double)r[i].vec[j]);

				etl_buf_add(&q->body, num, (size_t)len);
			}
			etl_buf_addf(&q->body, "],\"payload\":{\"tenant_id\":%lld",
				     (long long)m->tenant_id);
			add_str_member(&q->body, "source_type", r[i].source_type);
			add_str_member(&q->body, "table_name", r[i].table_name);
			add_str_member(&q->body, "external_id", r[i].external_id);
			etl_buf_addf(&q->body, ",\"record_id\":%lld", (long long)r[i].record_id);
			add_str_member(&q->body, "title", r[i].title);
			etl_buf_adds(&q->body, "}}");
		}
		etl_buf_adds(&q->body, "]}");
		s->upserts++;
		if (call(s, "PUT", path, &q->body, &resp, 0, why) < 0) {
			if (resp.status == 404) {
				/* Dropped behind our back: make it again on the retry. */
				forget_known(q, name);
				*why = ETL_TEMPFAIL;
			}
			goto out;
		}
	}
	/* Only now that Qdrant holds every point do the bridge rows say so. */
	if (etl_vstore_bridge_put(db, m, name, r, n, why) < 0) {
		snprintf(s->reason, sizeof(s->reason),
			 "cannot record %zu vectors in the bridge: %s", n,
			 etl_db_last_error(db)->message ? etl_db_last_error(db)->message : "");
		goto out;
	}
	ret = 0;
out:
	etl_http_resp_release(&resp);
	return ret;
}

static char *payload_str(struct qdrant *q, uint32_t payload, const char *key)
{
	uint32_t v = etl_jdoc_get(&q->doc, payload, key);

	if (etl_jdoc_kind(&q->doc, v) != ETL_JSON_STRING)
		return xstrdup("");
	return etl_jdoc_strdup(&q->doc, v);
}

static int q_search(struct etl_vstore *s, struct etl_db *db, const struct etl_vquery *qq,
		    struct etl_vhits *out, int *why)
{
	struct qdrant *q = s->priv;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	char name[96], path[192], err[64];
	uint32_t pts, p;
	int ret = -1;

	(void)db;
	out->h = NULL;
	out->n = 0;
	q_collection(s, qq->tenant_id, qq->dim, name, sizeof(name));
	snprintf(path, sizeof(path), "/collections/%s/points/query", name);
	etl_buf_reset(&q->body);
	etl_buf_adds(&q->body, "{\"query\":[");
	for (int j = 0; j < qq->dim; j++)
		etl_buf_addf(&q->body, "%s%.8g", j ? "," : "", (double)qq->vec[j]);
	etl_buf_addf(&q->body, "],\"filter\":{\"must\":[{\"key\":\"tenant_id\","
		     "\"match\":{\"value\":%lld}}", (long long)qq->tenant_id);
	if (qq->source_type) {
		etl_buf_adds(&q->body, ",{\"key\":\"source_type\",\"match\":{\"value\":");
		etl_buf_add_json_str(&q->body, qq->source_type, strlen(qq->source_type));
		etl_buf_adds(&q->body, "}}");
	}
	etl_buf_addf(&q->body, "]},\"limit\":%zu,\"with_payload\":true}", qq->limit);
	if (call(s, "POST", path, &q->body, &r, 404, why) < 0) {
		if (r.status == 404)   /* nothing embedded for this tenant yet */
			ret = 0;
		goto out;
	}
	if (etl_jdoc_parse(&q->doc, r.body.buf, r.body.len, err, sizeof(err)) < 0) {
		*why = ETL_UNAVAIL;
		snprintf(s->reason, sizeof(s->reason),
			 "qdrant POST %.80s: response is not JSON: %.60s", path, err);
		goto out;
	}
	pts = etl_jdoc_path(&q->doc, ETL_JDOC_ROOT, "result.points");
	if (etl_jdoc_kind(&q->doc, pts) != ETL_JSON_ARRAY) {
		*why = ETL_UNAVAIL;
		snprintf(s->reason, sizeof(s->reason),
			 "qdrant POST %.80s: no result.points in the response", path);
		goto out;
	}
	out->h = xcalloc(q->doc.n[pts].count + 1, sizeof(*out->h));
	for (p = etl_jdoc_first(&q->doc, pts); p; p = etl_jdoc_next(&q->doc, p)) {
		uint32_t pl = etl_jdoc_get(&q->doc, p, "payload");
		int64_t tenant = 0;
		double score = 0;
		struct etl_vhit *h;

		/* Defense in depth: never show another tenant's point. */
		if (etl_jdoc_i64(&q->doc, etl_jdoc_get(&q->doc, pl, "tenant_id"), &tenant) < 0 ||
		    tenant != qq->tenant_id)
			continue;
		etl_jdoc_num(&q->doc, etl_jdoc_get(&q->doc, p, "score"), &score);
		h = &out->h[out->n++];
		h->score = (float)score;
		h->table_name = payload_str(q, pl, "table_name");
		h->external_id = payload_str(q, pl, "external_id");
		h->title = payload_str(q, pl, "title");
		h->source_type = payload_str(q, pl, "source_type");
	}
	ret = 0;
out:
	etl_http_resp_release(&r);
	return ret;
}

static const char sql_points_of[] =
	"SELECT collection_name, point_id::text AS point_id FROM qdrant_vectors "
	"WHERE tenant_id = $1 AND table_name = $2 AND external_id = $3 "
	"ORDER BY collection_name";
static const char sql_forget_bridge[] =
	"DELETE FROM qdrant_vectors WHERE tenant_id = $1 AND table_name = $2 "
	"AND external_id = $3 AND point_id = $4::uuid AND collection_name = $5";

/* Delete the entity's points from the collections its bridge rows name
 * (wait=true), then those bridge rows: a row never outlives its point
 * unnoticed, and a point of a collection gone already (404) is gone. */
static int q_forget(struct etl_vstore *s, struct etl_db *db, int64_t tenant,
		    const char *table, const char *external_id, size_t *n, int *why)
{
	struct qdrant *q = s->priv;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	char tn[24], path[192];
	const char *vals[5] = { tn, table, external_id, NULL, NULL };
	struct etl_db_res *res, *del;
	int rows, ret = -1;

	*n = 0;
	snprintf(tn, sizeof(tn), "%lld", (long long)tenant);
	res = etl_db_exec(db, sql_points_of, vals, 3, why);
	if (!res) {
		snprintf(s->reason, sizeof(s->reason), "cannot read the bridge rows of %s %s",
			 table, external_id);
		return -1;
	}
	rows = etl_db_nrows(res);
	for (int i = 0; i < rows; i++) {
		const char *coll = etl_db_value(res, i, "collection_name");
		const char *pid = etl_db_value(res, i, "point_id");

		if (!strncmp(coll, "etl_t", 5)) {
			snprintf(path, sizeof(path), "/collections/%s/points/delete?wait=true",
				 coll);
			etl_buf_reset(&q->body);
			etl_buf_addf(&q->body, "{\"points\":[\"%s\"]}", pid);
			if (call(s, "POST", path, &q->body, &r, 404, why) < 0 && r.status != 404)
				goto out;
		}
		vals[3] = pid;
		vals[4] = coll;
		del = etl_db_exec(db, sql_forget_bridge, vals, 5, why);
		if (!del) {
			snprintf(s->reason, sizeof(s->reason),
				 "cannot remove the bridge row of %s %s", table, external_id);
			goto out;
		}
		*n += (size_t)etl_db_affected(del);
		etl_db_clear(del);
	}
	ret = 0;
out:
	etl_db_clear(res);
	etl_http_resp_release(&r);
	return ret;
}

const struct etl_vstore_ops etl_vstore_qdrant = {
	"qdrant", q_open, q_collection, q_put, q_search, q_forget, q_close
};
