#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "util.h"

struct etl_http {
	CURL *h;
	struct etl_http_opts o;
	char *auth;                 /* "Authorization: ..." */
	struct curl_slist *extra;   /* fixed headers added by callers */
	struct etl_http_stats st;
	bool near_limit;
	unsigned seed;
};

static int curl_started;

void etl_http_opts_config(struct etl_http_opts *o)
{
	o->max_body_bytes = (size_t)etl_config_get_long("ETL_HTTP_MAX_RESPONSE",
							(long)o->max_body_bytes, 1024,
							ETL_HTTP_MAX_BODY_LIMIT);
	o->low_speed_bytes = etl_config_get_long("ETL_HTTP_LOW_SPEED_LIMIT",
						 o->low_speed_bytes, 0, 1L << 30);
	o->low_speed_time_s = etl_config_get_long("ETL_HTTP_LOW_SPEED_TIME",
						  o->low_speed_time_s, 1, 3600);
	o->max_retries = (int)etl_config_get_long("ETL_HTTP_RETRIES", o->max_retries, 0, 100);
	o->backoff_base_ms = etl_config_get_long("ETL_HTTP_BACKOFF_MS", o->backoff_base_ms,
						 1, 600000);
}

static void curl_stop(void)
{
	curl_global_cleanup();
}

struct etl_http *etl_http_new(const struct etl_http_opts *opts)
{
	static const struct etl_http_opts defaults = ETL_HTTP_OPTS_INIT;
	struct etl_http *h;

	if (!curl_started) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			etl_error("cannot initialise libcurl");
			return NULL;
		}
		curl_started = 1;
		atexit(curl_stop);
	}
	h = xcalloc(1, sizeof(*h));
	h->o = opts ? *opts : defaults;
	h->h = curl_easy_init();
	if (!h->h) {
		free(h);
		etl_error("cannot create a libcurl handle");
		return NULL;
	}
	h->seed = (unsigned)etl_wall_ms() ^ (unsigned)(uintptr_t)h;
	return h;
}

static void wipe_free(char *s)
{
	if (s) {
		volatile char *p = s;

		while (*p)
			*p++ = '\0';
		free(s);
	}
}

void etl_http_free(struct etl_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->h);
	curl_slist_free_all(h->extra);
	wipe_free(h->auth);
	free(h);
}

static void set_auth(struct etl_http *h, const char *scheme, const char *cred, size_t len)
{
	struct etl_buf b = ETL_BUF_INIT;

	wipe_free(h->auth);
	etl_buf_addf(&b, "Authorization: %s %.*s", scheme, (int)len, cred);
	h->auth = etl_buf_detach(&b, NULL);
}

void etl_http_set_basic_auth(struct etl_http *h, const char *user, const char *token)
{
	struct etl_buf plain = ETL_BUF_INIT;
	unsigned char *enc;
	int n;

	etl_log_add_secret(token);
	etl_buf_addf(&plain, "%s:%s", user, token);
	enc = xmalloc(4 * ((plain.len + 2) / 3) + 1);
	n = EVP_EncodeBlock(enc, (const unsigned char *)plain.buf, (int)plain.len);
	etl_log_add_secret((const char *)enc);
	set_auth(h, "Basic", (const char *)enc, (size_t)n);
	memset(plain.buf, 0, plain.len);
	etl_buf_release(&plain);
	wipe_free((char *)enc);
}

void etl_http_set_bearer(struct etl_http *h, const char *token)
{
	etl_log_add_secret(token);
	set_auth(h, "Bearer", token, strlen(token));
}

void etl_http_add_header(struct etl_http *h, const char *header)
{
	struct curl_slist *l = curl_slist_append(h->extra, header);

	if (!l)
		etl_die(ETL_SOFTWARE, "out of memory adding a header");
	h->extra = l;
}

const struct etl_http_stats *etl_http_stats(const struct etl_http *h)
{
	return &h->st;
}

void etl_http_resp_release(struct etl_http_resp *r)
{
	etl_buf_release(&r->body);
}

/* What the response headers told us, gathered by the header callback. */
struct hdrs {
	long retry_after_ms;       /* -1: none */
	long ratelimit_remaining;  /* -1: none */
	int64_t ratelimit_reset;   /* epoch seconds, 0: none */
	bool near_limit;
	char content_type[128];
};

/* Where the body goes: bytes arrive decoded (gzip, brotli...), so the cap
 * holds against compression bombs as well as endless bodies. */
struct body_sink {
	struct etl_buf *b;
	size_t max;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body_sink *sink = arg;
	size_t len = size * n;

	if (len > sink->max - sink->b->len) {
		sink->too_big = true;
		return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	etl_buf_add(sink->b, p, len);
	return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **val)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	*val = line + nl + 1;
	while (**val == ' ' || **val == '\t')
		(*val)++;
	return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct hdrs *hd = arg;
	size_t len = size * n;
	char line[512];
	const char *v;

	/* Headers longer than this are none of the ones we read. */
	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	len = strlen(line);
	if (header_is(line, len, "Retry-After", &v)) {
		long s;

		if (etl_parse_long(v, 0, 86400 * 7, &s) == 0) {
			hd->retry_after_ms = s * 1000;
		} else {
			time_t t = curl_getdate(v, NULL);

			if (t > 0)
				hd->retry_after_ms = t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
		}
	} else if (header_is(line, len, "X-RateLimit-NearLimit", &v)) {
		hd->near_limit = !strcasecmp(v, "true");
	} else if (header_is(line, len, "X-RateLimit-Remaining", &v)) {
		long s;

		if (etl_parse_long(v, 0, 1L << 30, &s) == 0)
			hd->ratelimit_remaining = s;
	} else if (header_is(line, len, "X-RateLimit-Reset", &v)) {
		int64_t s;

		/* GitHub sends epoch seconds; Jira an ISO-8601 time. */
		if (etl_parse_i64(v, &s) == 0)
			hd->ratelimit_reset = s;
		else if (curl_getdate(v, NULL) > 0)
			hd->ratelimit_reset = curl_getdate(v, NULL);
	} else if (header_is(line, len, "Content-Type", &v)) {
		snprintf(hd->content_type, sizeof(hd->content_type), "%s", v);
	}
	return size * n;
}

static long backoff_ms(struct etl_http *h, int attempt)
{
	long base = h->o.backoff_base_ms, cap = h->o.backoff_max_ms, d = base;

	for (int i = 0; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* Full jitter in [d/2, d]: many workers retrying at once spread out. */
	return d / 2 + (long)(rand_r(&h->seed) % (unsigned)(d / 2 + 1));
}

static int fail(struct etl_http_resp *r, int why, const char *fmt, ...) ETL_PRINTF(3, 4);
static int fail(struct etl_http_resp *r, int why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->why = why;
	return -1;
}

static CURLcode perform(struct etl_http *h, const char *method, const char *url,
			const char *body, size_t len, struct body_sink *sink,
			struct hdrs *hd, char *err)
{
	struct curl_slist *hl = NULL, *l;
	CURLcode cc;

	curl_easy_reset(h->h);   /* keeps the connection cache: keep-alive */
	for (l = h->extra; l; l = l->next)
		hl = curl_slist_append(hl, l->data);
	if (h->auth)
		hl = curl_slist_append(hl, h->auth);
	if (body)
		hl = curl_slist_append(hl, "Content-Type: application/json");
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	curl_easy_setopt(h->h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(h->h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h->h, CURLOPT_USERAGENT, "etlkit/" ETL_VERSION);
	curl_easy_setopt(h->h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h->h, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
	/* A server trickling bytes would hold the request until the total
	 * timeout, on every retry. */
	curl_easy_setopt(h->h, CURLOPT_LOW_SPEED_LIMIT, h->o.low_speed_bytes);
	curl_easy_setopt(h->h, CURLOPT_LOW_SPEED_TIME, h->o.low_speed_time_s);
	/* A declared length past the cap is refused before any byte is read. */
	curl_easy_setopt(h->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink->max);
	curl_easy_setopt(h->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h->h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->h, CURLOPT_HEADERDATA, hd);
	/* Redirects could carry our Authorization to another host. */
	curl_easy_setopt(h->h, CURLOPT_FOLLOWLOCATION, 0L);
	cc = curl_easy_perform(h->h);
	curl_slist_free_all(hl);
	return cc;
}

int etl_http_request(struct etl_http *h, const char *method, const char *url,
		     const char *body, size_t len, struct etl_http_resp *r)
{
	char safe_url[1024];
	int attempt = 0, rate_waits = 0;

	etl_redact_url(url, safe_url, sizeof(safe_url));
	for (;;) {
		char err[CURL_ERROR_SIZE] = "";
		struct hdrs hd = { -1, -1, 0, false, "" };
		struct body_sink sink = { &r->body, h->o.max_body_bytes, false };
		long wait = -1;
		CURLcode cc;

		etl_buf_reset(&r->body);
		r->status = 0;
		r->why = 0;
		r->error[0] = '\0';
		r->retry_after_ms = 0;
		r->ratelimit_remaining = -1;
		r->ratelimit_reset = 0;
		if (etl_stop_requested)
			return fail(r, ETL_TEMPFAIL, "%s %s: interrupted", method, safe_url);
		if (h->near_limit && h->o.near_limit_delay_ms > 0) {
			etl_sleep_ms(h->o.near_limit_delay_ms);
			h->st.wait_ms += h->o.near_limit_delay_ms;
		}
		h->st.requests++;
		cc = perform(h, method, url, body, len, &sink, &hd, err);
		h->st.bytes_in += (int64_t)r->body.len;
		snprintf(r->content_type, sizeof(r->content_type), "%s", hd.content_type);
		if (sink.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			/* The same request would bring the same answer: no retry.
			 * What was read is dropped, so nobody takes it for the whole. */
			h->st.errors++;
			curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, &r->status);
			etl_buf_release(&r->body);
			return fail(r, ETL_DATAERR, "%s %s: response larger than %zu bytes "
				    "(ETL_HTTP_MAX_RESPONSE)", method, safe_url, h->o.max_body_bytes);
		}
		if (cc != CURLE_OK) {
			h->st.errors++;
			if (attempt >= h->o.max_retries)
				return fail(r, ETL_UNAVAIL, "%s %s: %s", method, safe_url,
					    *err ? err : curl_easy_strerror(cc));
			wait = backoff_ms(h, attempt++);
			etl_warn("%s %s: %s; retrying in %ld ms", method, safe_url,
				 *err ? err : curl_easy_strerror(cc), wait);
		} else {
			curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, &r->status);
			h->near_limit = hd.near_limit;
			r->near_limit = hd.near_limit;
			r->ratelimit_remaining = hd.ratelimit_remaining;
			r->ratelimit_reset = hd.ratelimit_reset;
			etl_debug("%s %s: HTTP %ld, %zu bytes", method, safe_url, r->status,
				  r->body.len);
			if (r->status >= 200 && r->status < 300)
				return 0;
			bool limited = r->status == 429 ||
				(r->status == 403 && (hd.retry_after_ms >= 0 ||
						      hd.ratelimit_remaining == 0));
			if (limited) {
				h->st.rate_limit_hits++;
				if (hd.retry_after_ms >= 0)
					wait = hd.retry_after_ms;
				else if (hd.ratelimit_reset > 0)
					wait = (long)(hd.ratelimit_reset - etl_wall_ms() / 1000) * 1000;
				else
					wait = h->o.rate_default_ms;
				if (wait < 0)
					wait = 0;
				if (wait > h->o.max_wait_ms || rate_waits >= h->o.max_rate_waits) {
					r->retry_after_ms = wait;
					return fail(r, ETL_TEMPFAIL,
						    "%s %s: rate limited (HTTP %ld), server asks to wait %ld s",
						    method, safe_url, r->status, (wait + 999) / 1000);
				}
				rate_waits++;
				etl_info("%s %s: rate limited, waiting %ld ms", method, safe_url, wait);
			} else if (r->status >= 500) {
				h->st.errors++;
				if (h->o.gateway_no_retry && (r->status == 502 || r->status == 504))
					return fail(r, ETL_TEMPFAIL, "%s %s: HTTP %ld", method, safe_url,
						    r->status);
				if (attempt >= h->o.max_retries)
					return fail(r, ETL_TEMPFAIL, "%s %s: HTTP %ld after %d retries",
						    method, safe_url, r->status, attempt);
				wait = backoff_ms(h, attempt++);
				etl_warn("%s %s: HTTP %ld; retrying in %ld ms", method, safe_url,
					 r->status, wait);
			} else {
				h->st.errors++;
				return fail(r, ETL_DATAERR, "%s %s: HTTP %ld", method, safe_url,
					    r->status);
			}
		}
		h->st.retries++;
		h->st.wait_ms += wait;
		etl_sleep_ms(wait);
	}
}

void etl_http_urlencode(struct etl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			etl_buf_addch(b, c);
		} else {
			etl_buf_addch(b, '%');
			etl_buf_addch(b, hex[c >> 4]);
			etl_buf_addch(b, hex[c & 15]);
		}
	}
}
