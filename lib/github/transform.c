#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "exit.h"
#include "github/tx.h"
#include "log.h"
#include "message.h"
#include "util.h"

/* --- responses and values */

/* GitHub's first error: "message (TYPE)", at most 200 bytes of it. */
static void first_error(const struct etl_jdoc *d, uint32_t errors, struct etl_buf *out)
{
	uint32_t e = etl_jdoc_first(d, errors);
	struct etl_buf scratch = ETL_BUF_INIT;
	size_t len;
	const char *s = etl_jdoc_str(d, etl_jdoc_get(d, e, "message"), &scratch, &len);

	etl_buf_add(out, s ? s : "(no message)", s ? (len < 200 ? len : 200) : 12);
	s = etl_jdoc_str(d, etl_jdoc_get(d, e, "type"), &scratch, &len);
	if (s)
		etl_buf_addf(out, " (%.*s)", (int)(len < 40 ? len : 40), s);
	etl_buf_release(&scratch);
}

int gh_response(struct etl_tx *tx, struct etl_jdoc *d, const char *data, size_t len,
		const char *what, uint32_t *data_node)
{
	struct etl_buf msg = ETL_BUF_INIT;
	uint32_t errors;
	char err[160];
	int rc;

	*data_node = 0;
	if (etl_jdoc_parse(d, data, len, err, sizeof(err)) < 0)
		return etl_tx_fail(tx, ETL_DATAERR, "%s is not JSON (%s): %.*s%s", what, err,
				   (int)(len < 40 ? len : 40), data ? data : "",
				   len > 40 ? "..." : "");
	errors = etl_jdoc_get(d, ETL_JDOC_ROOT, "errors");
	*data_node = etl_jdoc_get(d, ETL_JDOC_ROOT, "data");
	if (etl_jdoc_kind(d, errors) == ETL_JSON_ARRAY && etl_jdoc_first(d, errors)) {
		/* The extraction stores no response with errors: not data. */
		first_error(d, errors, &msg);
		rc = etl_tx_fail(tx, ETL_DATAERR, "%s is a GitHub error: %s", what,
				 etl_buf_str(&msg));
		etl_buf_release(&msg);
		return rc;
	}
	if (etl_jdoc_kind(d, *data_node) != ETL_JSON_OBJECT)
		return etl_tx_fail(tx, ETL_DATAERR, "%s has no GraphQL data object", what);
	return ETL_OK;
}

void gh_set_str(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		struct etl_buf *scratch)
{
	size_t len = 0;
	const char *s = etl_jdoc_str(d, node, scratch, &len);

	etl_tx_set(tx, col, s, len);
}

void gh_set_int(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node)
{
	int64_t v;

	if (etl_jdoc_kind(d, node) == ETL_JSON_NUMBER && etl_jdoc_i64(d, node, &v) == 0)
		etl_tx_set_i64(tx, col, v);
}

void gh_set_bool(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node)
{
	etl_tx_set_bool(tx, col, etl_jdoc_kind(d, node) == ETL_JSON_TRUE);
}

void gh_set_time(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node)
{
	int64_t ms;

	if (etl_tx_jdoc_time(d, node, &ms) == 0)
		etl_tx_set_time(tx, col, ms);
}

/* --- repositories, repository */

/*
 * One repository node (GH_F_REPO).  owner, name and full_name are NOT
 * NULL: each is derived from the others when missing; a node without an
 * id or a name is skipped.  1 loaded, 0 skipped.
 */
static int repo_row(struct etl_tx *tx, const struct etl_jdoc *d, uint32_t r,
		    struct etl_buf *scratch)
{
	char *id = etl_jdoc_strdup(d, etl_jdoc_get(d, r, "id"));
	char *owner = etl_jdoc_strdup(d, etl_jdoc_path(d, r, "owner.login"));
	char *name = etl_jdoc_strdup(d, etl_jdoc_get(d, r, "name"));
	char *full = etl_jdoc_strdup(d, etl_jdoc_get(d, r, "nameWithOwner"));
	char *slash = full ? strchr(full, '/') : NULL;
	int ok = 0;

	if (!owner && slash)
		owner = xstrndup(full, (size_t)(slash - full));
	if (!name && slash)
		name = xstrdup(slash + 1);
	if (!id || !*id || !owner || !name) {
		etl_warn("a repository without an id, owner or name is skipped");
		goto out;
	}
	etl_tx_row(tx, &gh_t_repos);
	etl_tx_set_str(tx, REPO_external_id, id);
	etl_tx_set_str(tx, REPO_owner, owner);
	etl_tx_set_str(tx, REPO_name, name);
	if (full) {
		etl_tx_set_str(tx, REPO_full_name, full);
	} else {
		etl_buf_reset(scratch);
		etl_buf_addf(scratch, "%s/%s", owner, name);
		etl_tx_set_str(tx, REPO_full_name, etl_buf_str(scratch));
	}
	gh_set_str(tx, REPO_description, d, etl_jdoc_get(d, r, "description"), scratch);
	gh_set_str(tx, REPO_url, d, etl_jdoc_get(d, r, "url"), scratch);
	gh_set_str(tx, REPO_default_branch, d, etl_jdoc_path(d, r, "defaultBranchRef.name"),
		   scratch);
	gh_set_str(tx, REPO_primary_language, d, etl_jdoc_path(d, r, "primaryLanguage.name"),
		   scratch);
	gh_set_bool(tx, REPO_is_private, d, etl_jdoc_get(d, r, "isPrivate"));
	gh_set_bool(tx, REPO_is_archived, d, etl_jdoc_get(d, r, "isArchived"));
	gh_set_bool(tx, REPO_is_fork, d, etl_jdoc_get(d, r, "isFork"));
	gh_set_time(tx, REPO_created, d, etl_jdoc_get(d, r, "createdAt"));
	gh_set_time(tx, REPO_updated, d, etl_jdoc_get(d, r, "updatedAt"));
	gh_set_time(tx, REPO_pushed, d, etl_jdoc_get(d, r, "pushedAt"));
	etl_tx_set_bool(tx, REPO_placeholder, false);
	etl_tx_row_end(tx);
	etl_tx_key(tx, "embed", "repositories", id, strlen(id));
	ok = 1;
out:
	free(id);
	free(owner);
	free(name);
	free(full);
	return ok;
}

/* A repositoryOwner page (GH_Q_REPOS), or one repository (GH_Q_REPO). */
static int tx_repositories(struct etl_tx *tx, bool one)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	const char *what = one ? "repository response" : "repositories page";
	size_t len;
	const char *data = etl_tx_data(tx, &len);
	uint32_t root, nodes;
	long n = 0, skipped = 0;
	int rc = gh_response(tx, &d, data, len, what, &root);

	if (rc != ETL_OK)
		goto out;
	if (one) {
		nodes = etl_jdoc_get(&d, root, "repository");
		if (etl_jdoc_kind(&d, nodes) != ETL_JSON_OBJECT) {
			rc = etl_tx_fail(tx, ETL_DATAERR, "%s has no repository", what);
			goto out;
		}
		n = repo_row(tx, &d, nodes, &scratch);
		skipped = 1 - n;
		goto out;
	}
	nodes = etl_jdoc_path(&d, root, "repositoryOwner.repositories.nodes");
	if (etl_jdoc_kind(&d, nodes) != ETL_JSON_ARRAY) {
		rc = etl_tx_fail(tx, ETL_DATAERR, "%s has no repositoryOwner.repositories."
				 "nodes array", what);
		goto out;
	}
	for (uint32_t r = etl_jdoc_first(&d, nodes); r; r = etl_jdoc_next(&d, r)) {
		int ok = repo_row(tx, &d, r, &scratch);

		n += ok;
		skipped += !ok;
	}
out:
	if (rc == ETL_OK)
		etl_info("%s: %ld repositories, %ld skipped", what, n, skipped);
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/* --- the provider */

static int gh_transform(struct etl_tx *tx, void *state)
{
	const char *kind = etl_tx_kind(tx);

	(void)state;
	if (!strcmp(kind, "pull_requests"))
		return gh_tx_pull_requests(tx);
	if (!strcmp(kind, "repositories"))
		return tx_repositories(tx, false);
	if (!strcmp(kind, "repository"))
		return tx_repositories(tx, true);
	if (!*kind)
		return etl_tx_fail(tx, ETL_DATAERR, "raw_kind is missing (GitHub responses "
				   "are told apart by their request_params kind)");
	return etl_tx_fail(tx, ETL_DATAERR, "unknown raw_kind '%.40s' for GitHub", kind);
}

/*
 * The watermark of incremental PR sync: the newest PR update stored per
 * repository, once the PR step of a run is complete, for the repositories
 * whose PR pages this run transformed (their "seen" keys; the others keep
 * theirs, and the index of 0014 makes each maximum one short scan).  A
 * repository whose PR page failed in this run keeps its watermark: the
 * next run must fetch the PRs that page held.
 */
static const char sql_watermark[] =
	"UPDATE repositories r SET last_pr_updated = m.newest, last_updated_at = now() "
	"FROM (SELECT t.id, (SELECT max(p.updated) FROM prs p WHERE p.tenant_id = $1 "
	"AND p.repository_id = t.id) AS newest FROM repositories t "
	"JOIN etl_transform_keys k ON k.tenant_id = $1 AND k.token = $3::uuid "
	"AND k.step = $4 AND k.kind = 'seen' AND k.table_name = 'repositories' "
	"AND k.external_id = t.external_id "
	"WHERE t.tenant_id = $1 AND t.integration_id = $2) m "
	"WHERE r.tenant_id = $1 AND r.id = m.id "
	"AND m.newest IS NOT NULL AND r.last_pr_updated IS DISTINCT FROM m.newest "
	"AND NOT EXISTS (SELECT 1 FROM raw_extraction_data x WHERE x.tenant_id = $1 "
	"AND x.token = $3::uuid AND x.type = $4 AND x.status = 'failed' "
	"AND lower(concat(x.request_params->>'owner', '/', x.request_params->>'name')) "
	"= lower(r.full_name))";

static int gh_finish_step(struct etl_tx *tx, void *state)
{
	const struct etl_msg *m = etl_tx_msg(tx);
	char tenant[24], integ[24];
	const char *vals[4] = { tenant, integ, m->token, m->step->type };
	struct etl_db_res *r;
	int why = ETL_OK;

	(void)state;
	if (strcmp(m->step->type, "github_prs_commits_reviews_comments"))
		return ETL_OK;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)etl_tx_tenant(tx));
	snprintf(integ, sizeof(integ), "%lld", (long long)etl_tx_integration(tx));
	if (!(r = etl_db_exec(etl_tx_db(tx), sql_watermark, vals, 4, &why)))
		return why;
	etl_info("pull request watermark: %lld repositories moved on",
		 (long long)etl_db_affected(r));
	etl_db_clear(r);
	return ETL_OK;
}

static const char *const *gh_embed_tables(const char *step)
{
	static const char *const repos[] = { "repositories", NULL };
	static const char *const prs[] = { "prs", NULL };
	static const char *const none[] = { NULL };

	if (!strcmp(step, "github_repositories"))
		return repos;
	if (!strcmp(step, "github_prs_commits_reviews_comments"))
		return prs;
	return none;
}

const struct etl_tx_provider etl_github_tx_provider = {
	"github", gh_tables, NULL, NULL, gh_transform, gh_finish_step, gh_embed_tables,
};
