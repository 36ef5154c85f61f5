#include <stdlib.h>
#include <string.h>

#include "exit.h"
#include "jira/client.h"
#include "log.h"
#include "util.h"

struct etl_jira *etl_jira_new(const char *base_url, const char *email, const char *token,
			      const struct etl_http_opts *ho, int *why)
{
	struct etl_http_opts dev = *ho;
	struct etl_jira *j;
	size_t n;

	if (!base_url || !*base_url) {
		*why = ETL_CONFIG;
		etl_error("the Jira integration has no base URL");
		return NULL;
	}
	if (!email || !*email || !token || !*token) {
		*why = ETL_CONFIG;
		etl_error("the Jira integration needs an e-mail and an API token (Basic auth)");
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	n = strlen(base_url);
	while (n && base_url[n - 1] == '/')
		n--;
	j->base = xstrndup(base_url, n);
	/* Dev status is best effort: one quick retry, then the caller moves on. */
	dev.max_retries = 1;
	dev.backoff_base_ms = ho->backoff_base_ms < 500 ? ho->backoff_base_ms : 500;
	j->http = etl_http_new(ho);
	j->dev = etl_http_new(&dev);
	if (!j->http || !j->dev) {
		*why = ETL_SOFTWARE;
		etl_jira_free(j);
		return NULL;
	}
	etl_http_set_basic_auth(j->http, email, token);
	etl_http_set_basic_auth(j->dev, email, token);
	etl_http_add_header(j->http, "Accept: application/json");
	etl_http_add_header(j->dev, "Accept: application/json");
	return j;
}

void etl_jira_free(struct etl_jira *j)
{
	if (!j)
		return;
	etl_http_free(j->http);
	etl_http_free(j->dev);
	free(j->base);
	free(j);
}

void etl_jira_url(const struct etl_jira *j, struct etl_buf *out, const char *path)
{
	etl_buf_reset(out);
	etl_buf_adds(out, j->base);
	etl_buf_adds(out, path);
}

void etl_jira_enc(struct etl_buf *out, const char *s)
{
	etl_http_urlencode(out, s);
}

void etl_jira_search_body(struct etl_buf *b, const char *jql, const char *const *fields,
			  size_t nfields, const char *expand, int max, const char *next_token)
{
	etl_buf_reset(b);
	etl_buf_adds(b, "{\"jql\":");
	etl_buf_add_json_str(b, jql, strlen(jql));
	etl_buf_adds(b, ",\"fields\":[");
	for (size_t i = 0; i < nfields; i++) {
		if (i)
			etl_buf_addch(b, ',');
		etl_buf_add_json_str(b, fields[i], strlen(fields[i]));
	}
	etl_buf_addch(b, ']');
	if (expand) {
		etl_buf_adds(b, ",\"expand\":");
		etl_buf_add_json_str(b, expand, strlen(expand));
	}
	etl_buf_addf(b, ",\"maxResults\":%d", max);
	if (next_token) {
		etl_buf_adds(b, ",\"nextPageToken\":");
		etl_buf_add_json_str(b, next_token, strlen(next_token));
	}
	etl_buf_addch(b, '}');
}

void etl_jira_bulkfetch_body(struct etl_buf *b, char *const *ids, size_t n, int max,
			     const char *next_token)
{
	etl_buf_reset(b);
	etl_buf_adds(b, "{\"issueIdsOrKeys\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			etl_buf_addch(b, ',');
		etl_buf_add_json_str(b, ids[i], strlen(ids[i]));
	}
	etl_buf_addf(b, "],\"maxResults\":%d", max);
	if (next_token) {
		etl_buf_adds(b, ",\"nextPageToken\":");
		etl_buf_add_json_str(b, next_token, strlen(next_token));
	}
	etl_buf_addch(b, '}');
}
