/*
 * github/client.h - GitHub GraphQL v4 over lib/http and etl_extract_fetch():
 * the endpoint, bearer authentication (the token is a log secret and never
 * leaves the Authorization header), request bodies built from the
 * documents of github/queries.h, and what every response needs: errors[]
 * checked, rate limits (RATE_LIMITED as HTTP 200, secondary limits as
 * 403/429, pacing from rateLimit), 502/504 timeouts answered with a
 * smaller page.  Storing is the caller's: a successful query leaves the
 * response as etl_extract_last(), ready for etl_extract_item/attach().
 */
#ifndef ETL_GITHUB_CLIENT_H
#define ETL_GITHUB_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "../extract.h"   /* lib/extract.h, not github/extract.h */
#include "http.h"
#include "json.h"

/* Page sizes (GitHub's cap is 100 for every connection). */
#define ETL_GH_REPOS_PAGE 100
#define ETL_GH_PRS_PAGE 50
#define ETL_GH_NESTED_PAGE 100
#define ETL_GH_MAX_PAGE 100
/* Pace: wait for the reset when fewer points remain than this, or than
 * twice the last query's cost. */
#define ETL_GH_LOW_POINTS 50
/* A secondary limit without retry-after: wait at least this long. */
#define ETL_GH_SECONDARY_WAIT_MS 60000

/* A query's outcome besides ETL_OK and the failure categories: GitHub
 * answered NOT_FOUND for the object asked (deleted or renamed); the
 * client has warned and counted it (etl_extract_count_error). */
#define ETL_GH_NOT_FOUND (-2)

struct etl_gh {
	struct etl_http *http;
	char *endpoint;          /* ".../graphql" */
	int64_t pace_until_ms;   /* wall time before which no request goes; 0: none */
	struct etl_buf body;     /* the last request body */
};

/*
 * The variables of one query, written in this order (so a rerun builds the
 * same bytes and catches up from the stored rows): login, owner, name, id,
 * first, after, nested.  NULL strings and 0 sizes are not variables;
 * @paged makes first and after variables (after null when NULL).  The
 * client halves first (and nested) in place when GitHub times out, and
 * when catching up takes the smaller sizes the earlier run asked with, so
 * the caller records the sizes actually used.  Use designated
 * initializers: { .owner = o, .name = n, .paged = true, .first = 50 }.
 *
 * @skip_gone: the first request for the object: a NOT_FOUND of the root
 * field (repository, node, repositoryOwner; null in data) means it was
 * deleted or renamed, and is skipped (ETL_GH_NOT_FOUND).  Otherwise, and
 * for a NOT_FOUND anywhere else, the answer is incomplete: the query fails
 * ETL_TEMPFAIL, so nothing moves a watermark past the missing part.
 */
struct etl_gh_vars {
	const char *login, *owner, *name, *id;
	bool paged;
	int first;
	const char *after;
	int nested;
	bool skip_gone;
};

/*
 * A client for @base_url (NULL or "": https://api.github.com) with @token
 * (required).  NULL after reporting (*why: ETL_CONFIG without a token).
 * A client serves one integration: its token and its pacing belong to
 * that account.
 */
struct etl_gh *etl_gh_new(const char *base_url, const char *token,
			  const struct etl_http_opts *ho, int *why);
void etl_gh_free(struct etl_gh *g);
/* Replace the token of the same integration (reloaded for each message;
 * it may have been rotated).  @token must not be NULL or empty. */
void etl_gh_set_token(struct etl_gh *g, const char *token);

/*
 * The GraphQL endpoint of @base_url into @out: trailing '/' stripped,
 * ".../api/v3" (GitHub Enterprise) becomes ".../api/graphql", anything
 * else gets "/graphql".
 */
void etl_gh_endpoint(struct etl_buf *out, const char *base_url);
/* {"query": @doc, "variables": {...}} into @b (reset first). */
void etl_gh_body(struct etl_buf *b, const char *doc, const struct etl_gh_vars *v);

/*
 * Run @doc with @v for @run and parse the response into @d (its text is
 * etl_extract_last(run)'s body: valid until the next fetch).  @what names
 * the request in messages ("pull requests of acme/api").  Returns ETL_OK
 * (data present, no error), ETL_GH_NOT_FOUND (@v->skip_gone and the
 * object is gone: warned and counted, skip it; no failure reason set), or
 * a failure category after etl_extract_fail*(): ETL_TEMPFAIL for a rate
 * limit longer than --max-wait (checkpoint) or a NOT_FOUND that cannot be
 * skipped, ETL_CONFIG for 401 and permission 403s, ETL_DATAERR for other
 * errors[].
 */
int etl_gh_query(struct etl_extract_run *run, struct etl_gh *g, const char *doc,
		 struct etl_gh_vars *v, const char *what, struct etl_jdoc *d);

/* Epoch ms as GitHub writes times ("2024-01-15T10:00:00Z"). */
void etl_gh_iso(int64_t ms, char out[32]);

#endif
