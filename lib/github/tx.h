/*
 * github/tx.h - internals shared by the GitHub transform files
 * (transform.c, prs.c, tables.c): the staging tables and the response
 * readers.  Not for other modules.
 */
#ifndef ETL_GITHUB_TX_H
#define ETL_GITHUB_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "github/transform.h"
#include "json.h"

/*
 * Column lists (X-macros), as in jira/tx.h: one list makes the staging
 * table's columns, the column enum and the SQL that loads it.
 * X(name, type) with the ETL_TX_ type suffix.  *_DIRECT are the columns
 * that load as they are; the others are natural keys resolved at load time
 * or staging flags.
 */
#define GT_REPO_DIRECT(X) X(owner, TEXT) X(name, TEXT) X(full_name, TEXT) \
	X(description, TEXT) X(url, TEXT) X(default_branch, TEXT) \
	X(primary_language, TEXT) X(is_private, BOOL) X(is_archived, BOOL) \
	X(is_fork, BOOL) X(created, TIME) X(updated, TIME) X(pushed, TIME)
#define GT_REPOS(X) X(external_id, TEXT) GT_REPO_DIRECT(X) X(placeholder, BOOL)

#define GT_PR_DIRECT(X) X(number, INT) X(title, TEXT) X(body, TEXT) X(state, TEXT) \
	X(is_draft, BOOL) X(author, TEXT) X(merged_by, TEXT) X(base_ref, TEXT) \
	X(head_ref, TEXT) X(head_sha, TEXT) X(url, TEXT) X(created, TIME) \
	X(updated, TIME) X(merged, TIME) X(closed, TIME) X(additions, INT) \
	X(deletions, INT) X(changed_files, INT) X(commit_count, INT) \
	X(review_count, INT) X(comment_count, INT) X(first_commit_at, TIME) \
	X(first_review_at, TIME) X(review_cycles, INT)
/*
 * *_keys: the key set (a JSON array: commit oids, review and comment node
 * ids) of a connection the page holds complete (as many nodes as its
 * totalCount), else NULL.  The stored rows of that PR version missing from
 * a complete set are gone from GitHub (force-push, deleted review or
 * comment) and are deleted; an incomplete set says nothing about the rest.
 */
#define GT_PRS(X) X(external_id, TEXT) X(repo_external_id, TEXT) GT_PR_DIRECT(X) \
	X(commit_keys, JSON) X(review_keys, JSON) X(comment_keys, JSON)

/* Nested rows carry their PR's external id and update time: they load only
 * for the PR version stored (an older page never replaces newer rows). */
#define GT_NESTED_KEY(X) X(pr_external_id, TEXT) X(pr_updated, TIME)
#define GT_CM_DIRECT(X) X(external_id, TEXT) X(message, TEXT) X(author_name, TEXT) \
	X(author_email, TEXT) X(author_login, TEXT) X(authored_date, TIME) \
	X(committed_date, TIME) X(additions, INT) X(deletions, INT) \
	X(changed_files, INT)
#define GT_CM(X) GT_NESTED_KEY(X) X(sha, TEXT) GT_CM_DIRECT(X)
#define GT_RV_DIRECT(X) X(author, TEXT) X(state, TEXT) X(body, TEXT) X(submitted, TIME)
#define GT_RV(X) GT_NESTED_KEY(X) X(external_id, TEXT) GT_RV_DIRECT(X)
#define GT_CO_DIRECT(X) X(author, TEXT) X(body, TEXT) X(created, TIME) X(updated, TIME)
#define GT_CO(X) GT_NESTED_KEY(X) X(external_id, TEXT) GT_CO_DIRECT(X)

#define GT_E(p, n, t) p##_##n,
#define GT_REPO_E(n, t) GT_E(REPO, n, t)
#define GT_PR_E(n, t) GT_E(PR, n, t)
#define GT_CM_E(n, t) GT_E(CM, n, t)
#define GT_RV_E(n, t) GT_E(RV, n, t)
#define GT_CO_E(n, t) GT_E(CO, n, t)

enum { GT_REPOS(GT_REPO_E) REPO_NCOLS };
enum { GT_PRS(GT_PR_E) PR_NCOLS };
enum { GT_CM(GT_CM_E) CM_NCOLS };
enum { GT_RV(GT_RV_E) RV_NCOLS };
enum { GT_CO(GT_CO_E) CO_NCOLS };

extern const struct etl_tx_table gh_t_repos, gh_t_prs, gh_t_commits, gh_t_reviews,
	gh_t_comments;
extern const struct etl_tx_table *const gh_tables[];

/* --- responses */

/*
 * Parse @len bytes of @data, a GraphQL response, into @d and find its
 * "data" object (*data_node).  Anything else - not JSON, an HTML page,
 * errors[] (with or without data) - fails the message ETL_DATAERR naming
 * @what and GitHub's first error message.  ETL_OK or ETL_DATAERR.
 */
int gh_response(struct etl_tx *tx, struct etl_jdoc *d, const char *data, size_t len,
		const char *what, uint32_t *data_node);

/* --- value helpers (GitHub sends strings, numbers and booleans as such) */

/* Set @col from the string at @node (NULL when absent or not a string). */
void gh_set_str(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		struct etl_buf *scratch);
/* Set @col from the integer at @node, if any. */
void gh_set_int(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node);
/* Set @col from the boolean at @node (false when absent). */
void gh_set_bool(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node);
/* Set @col from the time at @node; a malformed time is left NULL. */
void gh_set_time(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node);

/* The per-kind transform of pull request pages (prs.c). */
int gh_tx_pull_requests(struct etl_tx *tx);

#endif
