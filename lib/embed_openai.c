/*
 * embed_openai.c - OpenAI-compatible embeddings (embedder.h "openai").
 *
 *   POST {base}/embeddings
 *   {"model": "...", "input": ["text", ...], "encoding_format": "float"
 *    [, "dimensions": N]}
 *   -> {"object": "list", "data": [{"object": "embedding", "index": i,
 *       "embedding": [floats]}, ...], "model": "...", "usage": {...}}
 *
 * The base URL may be the server ("http://host:8080"), its API root
 * ("https://api.openai.com/v1") or the endpoint itself.  "dimensions" is
 * sent only when a dimension was asked for (text-embedding-3 models
 * support it; others refuse it).  Errors come as {"error": {"message",
 * "type", "param", "code"}}: 401/403/404 are configuration errors (key,
 * URL, model), other 4xx mean this input cannot be embedded.
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "embedder.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct openai {
	struct etl_http *http;
	char *url;          /* the endpoint */
	char *key;          /* NULL: no Authorization */
	int want_dim;       /* sent as "dimensions"; 0: not sent */
	struct etl_buf body;
	struct etl_jdoc doc;
};

static char *endpoint(const char *base)
{
	struct etl_buf b = ETL_BUF_INIT;
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	etl_buf_add(&b, base, n);
	if (n >= 11 && !strncmp(base + n - 11, "/embeddings", 11))
		return etl_buf_detach(&b, NULL);
	if (!(n >= 3 && !strncmp(base + n - 3, "/v1", 3)))
		etl_buf_adds(&b, "/v1");
	etl_buf_adds(&b, "/embeddings");
	return etl_buf_detach(&b, NULL);
}

static int openai_open(struct etl_embedder *e, const struct etl_embedder_opts *o, int *why)
{
	struct etl_http_opts ho = ETL_HTTP_OPTS_INIT;
	const char *url = o->url ? o->url : etl_config_get_or("ETL_EMBED_URL",
							      "https://api.openai.com/v1");
	const char *model = o->model ? o->model :
		etl_config_get_or("ETL_EMBED_MODEL", "text-embedding-3-small");
	const char *key = o->api_key ? o->api_key : etl_config_get("ETL_EMBED_API_KEY");
	struct openai *p;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		*why = ETL_CONFIG;
		return etl_error("ETL_EMBED_URL must be an http:// or https:// URL");
	}
	if (o->dim < 0 || o->dim > ETL_EMBED_DIM_MAX) {
		*why = ETL_CONFIG;
		return etl_error("embedding dimension %d out of range", o->dim);
	}
	etl_http_opts_config(&ho);   /* response cap, low-speed limit */
	ho.max_retries = o->http_retries >= 0 ? o->http_retries :
		(int)etl_config_get_long("ETL_EMBED_RETRIES", 5, 0, 100);
	ho.backoff_base_ms = o->backoff_ms > 0 ? o->backoff_ms :
		etl_config_get_long("ETL_EMBED_BACKOFF_MS", 500, 1, 600000);
	ho.max_wait_ms = o->max_wait_ms > 0 ? o->max_wait_ms :
		etl_config_get_long("ETL_EMBED_MAX_WAIT_MS", 60000, 0, 3600000);
	ho.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms :
		etl_config_get_long("ETL_EMBED_TIMEOUT_MS", 60000, 100, 3600000);
	p = xcalloc(1, sizeof(*p));
	p->http = etl_http_new(&ho);
	if (!p->http) {
		free(p);
		*why = ETL_SOFTWARE;
		return -1;
	}
	p->url = endpoint(url);
	if (key && *key) {
		p->key = xstrdup(key);
		etl_http_set_bearer(p->http, key);   /* registers it as a log secret */
	}
	etl_http_add_header(p->http, "Accept: application/json");
	p->want_dim = o->dim;
	e->dim = o->dim;
	snprintf(e->model, sizeof(e->model), "%s", model);
	e->priv = p;
	return 0;
}

static void openai_close(struct etl_embedder *e)
{
	struct openai *p = e->priv;

	if (!p)
		return;
	etl_http_free(p->http);
	free(p->url);
	if (p->key) {
		memset(p->key, 0, strlen(p->key));
		free(p->key);
	}
	etl_buf_release(&p->body);
	etl_jdoc_release(&p->doc);
	free(p);
	e->priv = NULL;
}

/* Record the failure in e->reason, with the key masked should the service
 * have echoed it. */
static int fail(struct etl_embedder *e, int code, int *why, const char *fmt, ...)
	ETL_PRINTF(4, 5);
static int fail(struct etl_embedder *e, int code, int *why, const char *fmt, ...)
{
	struct openai *p = e->priv;
	va_list ap;
	char *hit;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	while (p->key && *p->key && (hit = strstr(e->reason, p->key)) != NULL) {
		size_t kl = strlen(p->key);

		memmove(hit + 3, hit + kl, strlen(hit + kl) + 1);
		memcpy(hit, "***", 3);
	}
	*why = code;
	/* The caller reports it (the stage with the message's line or as the
	 * dead letter's reason): said once. */
	etl_debug("%s", e->reason);
	return -1;
}

/* Where the service's own words are in an error body: {"error": {"message":
 * ...}}, else a top-level "message". */
static const char *const error_paths[] = { "error.message", "message", NULL };

static int openai_embed(struct etl_embedder *e, const char *const *texts, const size_t *lens,
			size_t n, float **out, int *why)
{
	struct openai *p = e->priv;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	float *v = NULL;
	unsigned char *seen = NULL;
	char err[128], said[256];
	uint32_t data, item;
	size_t got = 0;
	int ret = -1;

	etl_buf_reset(&p->body);
	etl_buf_adds(&p->body, "{\"model\":");
	etl_buf_add_json_str(&p->body, e->model, strlen(e->model));
	etl_buf_adds(&p->body, ",\"input\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			etl_buf_addch(&p->body, ',');
		etl_buf_add_json_str(&p->body, texts[i], lens[i]);
	}
	etl_buf_adds(&p->body, "],\"encoding_format\":\"float\"");
	if (p->want_dim)
		etl_buf_addf(&p->body, ",\"dimensions\":%d", p->want_dim);
	etl_buf_addch(&p->body, '}');

	if (etl_http_request(p->http, "POST", p->url, p->body.buf, p->body.len, &r) < 0) {
		int code = r.why ? r.why : ETL_UNAVAIL;

		etl_jdoc_error_words(&p->doc, r.body.buf, r.body.len, error_paths, said,
				     sizeof(said));
		if (code == ETL_DATAERR && (r.status == 401 || r.status == 403 || r.status == 404))
			code = ETL_CONFIG;
		fail(e, code, why, "embeddings request failed: %s%s", r.error, said);
		goto out;
	}
	if (etl_jdoc_parse(&p->doc, r.body.buf, r.body.len, err, sizeof(err)) < 0) {
		fail(e, ETL_TEMPFAIL, why, "embeddings response is not JSON: %s", err);
		goto out;
	}
	data = etl_jdoc_get(&p->doc, ETL_JDOC_ROOT, "data");
	if (etl_jdoc_kind(&p->doc, data) != ETL_JSON_ARRAY || p->doc.n[data].count != n) {
		fail(e, ETL_TEMPFAIL, why, "embeddings response has %u vectors for %zu inputs",
		     etl_jdoc_kind(&p->doc, data) == ETL_JSON_ARRAY ? p->doc.n[data].count : 0, n);
		goto out;
	}
	seen = xcalloc(n, 1);
	for (item = etl_jdoc_first(&p->doc, data); item; item = etl_jdoc_next(&p->doc, item)) {
		uint32_t emb = etl_jdoc_get(&p->doc, item, "embedding"), x;
		int64_t idx;
		size_t j = 0, dim;

		if (etl_jdoc_i64(&p->doc, etl_jdoc_get(&p->doc, item, "index"), &idx) < 0 ||
		    idx < 0 || (size_t)idx >= n || seen[idx] ||
		    etl_jdoc_kind(&p->doc, emb) != ETL_JSON_ARRAY) {
			fail(e, ETL_TEMPFAIL, why, "embeddings response: bad item %zu", got);
			goto out;
		}
		dim = p->doc.n[emb].count;
		if (!e->dim) {
			if (dim < 1 || dim > ETL_EMBED_DIM_MAX) {
				fail(e, ETL_CONFIG, why, "the model returned %zu dimensions", dim);
				goto out;
			}
			e->dim = (int)dim;
		}
		if (dim != (size_t)e->dim) {
			fail(e, ETL_CONFIG, why, "the model returned %zu dimensions, not %d",
			     dim, e->dim);
			goto out;
		}
		if (!v)
			v = xmalloc(n * dim * sizeof(*v));
		for (x = etl_jdoc_first(&p->doc, emb); x; x = etl_jdoc_next(&p->doc, x), j++) {
			double d;

			if (etl_jdoc_num(&p->doc, x, &d) < 0) {
				fail(e, ETL_TEMPFAIL, why, "embeddings response: not a number");
				goto out;
			}
			v[(size_t)idx * dim + j] = (float)d;
		}
		etl_vec_normalize(v + (size_t)idx * dim, dim);
		seen[idx] = 1;
		got++;
	}
	*out = v;
	v = NULL;
	ret = 0;
out:
	free(v);
	free(seen);
	etl_http_resp_release(&r);
	return ret;
}

const struct etl_embedder_ops etl_embedder_openai = {
	"openai", openai_open, openai_embed, openai_close
};
