/*
 * jira/client.h - Jira Cloud REST v3 over lib/http: the site's base URL,
 * Basic authentication (e-mail:API token; the token is a log secret and
 * never leaves the Authorization header), URLs and request bodies of the
 * endpoints etl-extract calls.  No request is sent from here: the caller
 * passes etl_jira_http() to etl_extract_fetch() so every response is
 * stored (lib/extract.h).
 */
#ifndef ETL_JIRA_CLIENT_H
#define ETL_JIRA_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "http.h"

/* Page and batch sizes (the API's caps). */
#define ETL_JIRA_SEARCH_PAGE 100       /* search/jql issues with fields: at most 100 */
#define ETL_JIRA_IDS_PAGE 5000         /* search/jql with ids only */
#define ETL_JIRA_PROJECT_PAGE 50       /* project/search */
#define ETL_JIRA_CREATEMETA_PAGE 200   /* createmeta fields */
#define ETL_JIRA_BULK_ISSUES 1000      /* changelog/bulkfetch issueIdsOrKeys */
#define ETL_JIRA_BULK_HISTORIES 1000   /* changelog/bulkfetch maxResults */
#define ETL_JIRA_CHANGELOG_PAGE 100    /* issue/{key}/changelog */

struct etl_jira {
	struct etl_http *http;   /* every endpoint but dev status */
	struct etl_http *dev;    /* dev status: one retry, its failures are not fatal */
	char *base;              /* "https://acme.atlassian.net", no trailing slash */
};

/*
 * A client for @base_url authenticated as @email with @token (both
 * required).  @ho: timeouts, retries, the longest rate-limit wait.  NULL
 * after reporting (*why: ETL_CONFIG for missing credentials).
 */
struct etl_jira *etl_jira_new(const char *base_url, const char *email, const char *token,
			      const struct etl_http_opts *ho, int *why);
void etl_jira_free(struct etl_jira *j);

/* @out = base URL + @path (an absolute path, "/rest/api/3/field"). */
void etl_jira_url(const struct etl_jira *j, struct etl_buf *out, const char *path);
/* Append @s percent-encoded (a path segment or a query value). */
void etl_jira_enc(struct etl_buf *out, const char *s);

/*
 * The body of POST /rest/api/3/search/jql: {"jql", "fields", "expand",
 * "maxResults", "nextPageToken"}; @expand and @next_token may be NULL.
 */
void etl_jira_search_body(struct etl_buf *b, const char *jql, const char *const *fields,
			  size_t nfields, const char *expand, int max, const char *next_token);
/* The body of POST /rest/api/3/changelog/bulkfetch. */
void etl_jira_bulkfetch_body(struct etl_buf *b, char *const *ids, size_t n, int max,
			     const char *next_token);

#endif
