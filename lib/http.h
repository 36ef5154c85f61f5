/*
 * http.h - the one HTTP client (libcurl): a kept-alive connection per
 * client, gzip, connect and total timeouts, retries with exponential
 * backoff and jitter on transport errors and 5xx, and rate-limit waits
 * (Retry-After on 429/403, X-RateLimit-NearLimit pacing).  The
 * Authorization header is set here and never logged.
 */
#ifndef ETL_HTTP_H
#define ETL_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct etl_http_opts {
	long connect_timeout_ms;   /* default 10 s */
	long timeout_ms;           /* whole request, default 120 s */
	int max_retries;           /* transport errors and 5xx, default 5 */
	long backoff_base_ms;      /* first retry wait, default 500 ms, doubling */
	long backoff_max_ms;       /* cap on one backoff wait, default 30 s */
	long max_wait_ms;          /* longest rate-limit wait to sit out, default 60 s */
	long rate_default_ms;      /* wait for a 429 with no Retry-After, default 60 s */
	long near_limit_delay_ms;  /* pause before each request while near the limit */
	int max_rate_waits;        /* rate-limit waits per request, default 10 */
	bool gateway_no_retry;     /* 502/504 returned at once (ETL_TEMPFAIL): the caller
				      retries a smaller query (GitHub's timeouts) */
	size_t max_body_bytes;     /* largest decoded response body, default 256 MiB:
				      past it the request fails ETL_DATAERR (no retry) */
	long low_speed_bytes;      /* a transfer slower than this many bytes/s ... */
	long low_speed_time_s;     /* ... for this long is dropped (a transport error);
				      default 64 B/s for 30 s */
};
#define ETL_HTTP_MAX_BODY_DEFAULT ((size_t)256 << 20)
/* PostgreSQL keeps at most 1 GB in a field: a larger answer could not be
 * stored, and its length would not fit libpq's int. */
#define ETL_HTTP_MAX_BODY_LIMIT (1L << 30)
#define ETL_HTTP_OPTS_INIT { 10000, 120000, 5, 500, 30000, 60000, 60000, 1000, 10, false, \
			     ETL_HTTP_MAX_BODY_DEFAULT, 64, 30 }

/* Counters for run metrics. */
struct etl_http_stats {
	long requests, retries, rate_limit_hits, errors;
	int64_t bytes_in, wait_ms;
};

struct etl_http_resp {
	long status;              /* last HTTP status, 0 if none */
	struct etl_buf body;      /* the bytes received, exactly */
	char content_type[128];
	long retry_after_ms;      /* on ETL_TEMPFAIL: how long the server asked us to wait */
	bool near_limit;          /* X-RateLimit-NearLimit: true was seen */
	long ratelimit_remaining; /* X-RateLimit-Remaining, -1 when absent */
	int64_t ratelimit_reset;  /* X-RateLimit-Reset in epoch seconds, 0 when absent */
	int why;                  /* on failure: ETL_UNAVAIL, ETL_TEMPFAIL, ETL_DATAERR */
	char error[256];          /* on failure: what went wrong, secrets masked */
};
#define ETL_HTTP_RESP_INIT { 0, ETL_BUF_INIT, "", 0, false, -1, 0, 0, "" }

struct etl_http;

/*
 * Override @o from the settings (config.h): ETL_HTTP_MAX_RESPONSE (bytes,
 * 1 KiB..1 GiB), ETL_HTTP_LOW_SPEED_LIMIT (bytes/s, 0 turns it off),
 * ETL_HTTP_LOW_SPEED_TIME (seconds), ETL_HTTP_RETRIES, ETL_HTTP_BACKOFF_MS.
 */
void etl_http_opts_config(struct etl_http_opts *o);

/* A new client; NULL after reporting if libcurl cannot start.  Free with
 * etl_http_free(). */
struct etl_http *etl_http_new(const struct etl_http_opts *opts);
void etl_http_free(struct etl_http *h);
/* "Authorization: Basic base64(user:token)"; the token is registered as a
 * log secret.  Replaces any earlier authorization. */
void etl_http_set_basic_auth(struct etl_http *h, const char *user, const char *token);
/* "Authorization: Bearer token". */
void etl_http_set_bearer(struct etl_http *h, const char *token);
/* Add a fixed request header ("Accept: application/json"). */
void etl_http_add_header(struct etl_http *h, const char *header);

/*
 * Perform @method on @url with an optional @body (@len bytes, JSON).  Waits
 * out retries and rate limits as configured.  Returns 0 on a 2xx response
 * (body in @r); else -1 with r->why, r->status, r->error (and the error
 * body in r->body when the server sent one).  @r is reset first; release
 * it with etl_http_resp_release().
 */
int etl_http_request(struct etl_http *h, const char *method, const char *url,
		     const char *body, size_t len, struct etl_http_resp *r);
void etl_http_resp_release(struct etl_http_resp *r);

const struct etl_http_stats *etl_http_stats(const struct etl_http *h);

/* Percent-encode @s for a query string value, appended to @b. */
void etl_http_urlencode(struct etl_buf *b, const char *s);

#endif
