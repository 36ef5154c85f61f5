/*
 * http_fetch - drives lib/http from the tests: fetch URL with Basic auth
 * from $HTTP_USER / $HTTP_TOKEN and print the body, or the failure and
 * its exit category.  Usage: http_fetch [-v] [-X METHOD] [-d BODY]
 * [-w MAX_WAIT_MS] [-r RETRIES] URL
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "util.h"

int main(int argc, char **argv)
{
	struct etl_http_opts o = ETL_HTTP_OPTS_INIT;
	struct etl_http_resp r = ETL_HTTP_RESP_INIT;
	const char *method = "GET", *body = NULL;
	struct etl_http *h;
	long v;
	int c, rc;

	etl_init(argv[0]);
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 200;
	while ((c = getopt(argc, argv, "vX:d:w:r:")) != -1)
		switch (c) {
		case 'v': etl_log_set_level(etl_log_get_level() + 1); break;
		case 'X': method = optarg; break;
		case 'd': body = optarg; break;
		case 'w': if (etl_parse_long(optarg, 0, 1L << 30, &v) == 0) o.max_wait_ms = v; break;
		case 'r': if (etl_parse_long(optarg, 0, 100, &v) == 0) o.max_retries = (int)v; break;
		default: return ETL_USAGE;
		}
	if (optind != argc - 1)
		return ETL_USAGE;
	h = etl_http_new(&o);
	if (!h)
		return ETL_SOFTWARE;
	if (getenv("HTTP_TOKEN"))
		etl_http_set_basic_auth(h, getenv("HTTP_USER") ? getenv("HTTP_USER") : "",
					getenv("HTTP_TOKEN"));
	rc = etl_http_request(h, method, argv[optind], body, body ? strlen(body) : 0, &r);
	if (rc == 0) {
		fwrite(r.body.buf, 1, r.body.len, stdout);
		putchar('\n');
	} else {
		etl_error("%s", r.error);
		fprintf(stderr, "status=%ld retry_after_ms=%ld\n", r.status, r.retry_after_ms);
	}
	const struct etl_http_stats *st = etl_http_stats(h);
	fprintf(stderr, "requests=%ld retries=%ld rate_limit_hits=%ld\n",
		st->requests, st->retries, st->rate_limit_hits);
	etl_http_resp_release(&r);
	etl_http_free(h);
	return etl_exit(rc == 0 ? ETL_OK : r.why);
}
