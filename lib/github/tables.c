/*
 * The GitHub staging tables and the statements that load them.  Every
 * upsert de-duplicates the staged rows on the conflict key first (DISTINCT
 * ON: ON CONFLICT cannot update a row twice in one statement), updates a
 * stored row only when the staged one is not older (repositories.updated,
 * prs.updated; nested rows follow their PR) and only when something
 * differs, so replaying the same responses writes nothing.
 * Parameters (transform.h): t tenant, i integration.
 */
#include "github/tx.h"

#define COL(n, t) { #n, ETL_TX_##t },
#define C_(n, t) ", " #n
#define T_(n, t) ", t." #n
#define SET_(n, t) ", " #n " = EXCLUDED." #n
#define EX_(n, t) ", EXCLUDED." #n

/* Lists of "x.col" for the row comparisons, per table. */
#define REPO_(n, t) ", repositories." #n
#define PR_(n, t) ", prs." #n
#define CM_(n, t) ", prs_commits." #n
#define RV_(n, t) ", prs_reviews." #n
#define CO_(n, t) ", prs_comments." #n

/*
 * repositories: from the repositories step, an upsert a placeholder (its
 * updated is NULL) never resists; placeholders, from the PR pages of a
 * repository not loaded yet, are only inserted where nothing is.
 */
static const struct etl_tx_col repo_cols[] = { GT_REPOS(COL) };
static const struct etl_tx_sql repo_load[] = {
	{ "INSERT INTO repositories (tenant_id, integration_id, external_id"
	  GT_REPO_DIRECT(C_) ", active) "
	  "SELECT $1::bigint, $2::bigint, t.external_id, t.owner, t.name, t.full_name, "
	  "t.description, t.url, t.default_branch, t.primary_language, "
	  "coalesce(t.is_private, false), coalesce(t.is_archived, false), "
	  "coalesce(t.is_fork, false), t.created, t.updated, t.pushed, true "
	  "FROM (SELECT DISTINCT ON (external_id) * FROM etl_tx_repositories "
	  "WHERE NOT placeholder ORDER BY external_id, updated DESC NULLS LAST) t "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "active = true" GT_REPO_DIRECT(SET_) ", last_updated_at = now() "
	  "WHERE (repositories.updated IS NULL OR (EXCLUDED.updated IS NOT NULL "
	  "AND repositories.updated <= EXCLUDED.updated)) "
	  "AND (repositories.active" GT_REPO_DIRECT(REPO_) ") IS DISTINCT FROM "
	  "(true" GT_REPO_DIRECT(EX_) ")", "ti" },
	{ "INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, "
	  "full_name) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, owner, "
	  "name, full_name FROM etl_tx_repositories WHERE placeholder "
	  "ORDER BY external_id ON CONFLICT DO NOTHING", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table gh_t_repos = {
	"repositories", "etl_tx_repositories", repo_cols, REPO_NCOLS,
	{ REPO_external_id }, 1, repo_load,
};

/*
 * p: the stored PR of the staged key @ext whose version passes @cond, one
 * index probe per staged row.  OFFSET 0 keeps the planner from flattening
 * it into a join: the staging tables are never analyzed, so it plans them
 * at hundreds of rows and would hash the whole prs table of the
 * integration instead, on every page (each page then costs as much as the
 * table is large, and a first sync turns quadratic).
 */
#define PR_OF(ext, cond) \
	"CROSS JOIN LATERAL (SELECT p.id FROM prs p WHERE p.tenant_id = $1 " \
	"AND p.integration_id = $2 AND p.external_id = " ext " AND " cond " " \
	"OFFSET 0) p "

/*
 * Nested rows GitHub no longer has (a force-push drops commits; reviews
 * and comments get deleted): the stored rows of a PR missing from the
 * page's complete key set @keys (NULL when incomplete: it says nothing
 * about the rest), only when the page's PR version is the one stored (an
 * older page knows nothing of newer rows).  Run with the prs, as the
 * nested tables load only when they have rows and a set may be empty.
 * @and narrows the rows the connection covers.
 */
#define NESTED_GONE(tbl, keys, key, and) \
	"DELETE FROM " tbl " c USING etl_tx_prs t " \
	PR_OF("t.external_id", "p.updated = t.updated") \
	"WHERE t." keys " IS NOT NULL AND c.tenant_id = $1 AND c.pr_id = p.id " and \
	"AND NOT (t." keys " ? c." key ")"

/* prs: the repository resolved by its node id (a row or a placeholder). */
static const struct etl_tx_col pr_cols[] = { GT_PRS(COL) };
static const struct etl_tx_sql pr_load[] = {
	{ "INSERT INTO prs (tenant_id, integration_id, repository_id, external_id"
	  GT_PR_DIRECT(C_) ") "
	  "SELECT $1::bigint, $2::bigint, r.id, t.external_id" GT_PR_DIRECT(T_) " "
	  "FROM (SELECT DISTINCT ON (external_id) * FROM etl_tx_prs "
	  "ORDER BY external_id, updated DESC NULLS LAST) t "
	  "JOIN repositories r ON r.tenant_id = $1 AND r.integration_id = $2 "
	  "AND r.external_id = t.repo_external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "repository_id = EXCLUDED.repository_id" GT_PR_DIRECT(SET_) ", "
	  "last_updated_at = now() "
	  "WHERE (prs.updated IS NULL OR (EXCLUDED.updated IS NOT NULL "
	  "AND prs.updated <= EXCLUDED.updated)) "
	  "AND (prs.repository_id" GT_PR_DIRECT(PR_) ") IS DISTINCT FROM "
	  "(EXCLUDED.repository_id" GT_PR_DIRECT(EX_) ")", "ti" },
	{ NESTED_GONE("prs_commits", "commit_keys", "sha", ""), "ti" },
	{ NESTED_GONE("prs_reviews", "review_keys", "external_id", ""), "ti" },
	{ NESTED_GONE("prs_comments", "comment_keys", "external_id",
		      "AND c.comment_type = 'issue' "), "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table gh_t_prs = {
	"prs", "etl_tx_prs", pr_cols, PR_NCOLS, { PR_external_id }, 1, pr_load,
};

/* The PR of a nested row, at the version the row came with. */
#define NESTED_PR PR_OF("t.pr_external_id", "p.updated IS NOT DISTINCT FROM t.pr_updated")

/* A commit may be in several PRs: the key is the PR and the sha. */
static const struct etl_tx_col cm_cols[] = { GT_CM(COL) };
static const struct etl_tx_sql cm_load[] = {
	{ "INSERT INTO prs_commits (tenant_id, integration_id, pr_id, sha" GT_CM_DIRECT(C_) ") "
	  "SELECT $1::bigint, $2::bigint, p.id, t.sha" GT_CM_DIRECT(T_) " "
	  "FROM (SELECT DISTINCT ON (pr_external_id, sha) * FROM etl_tx_prs_commits "
	  "ORDER BY pr_external_id, sha, pr_updated DESC NULLS LAST) t " NESTED_PR
	  "ON CONFLICT (tenant_id, pr_id, sha) DO UPDATE SET "
	  "last_updated_at = now()" GT_CM_DIRECT(SET_) " "
	  "WHERE (prs_commits.pr_id" GT_CM_DIRECT(CM_) ") IS DISTINCT FROM "
	  "(EXCLUDED.pr_id" GT_CM_DIRECT(EX_) ")", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table gh_t_commits = {
	"prs_commits", "etl_tx_prs_commits", cm_cols, CM_NCOLS,
	{ CM_pr_external_id, CM_sha }, 2, cm_load,
};

/*
 * Reviews and conversation comments (the query reads IssueComment, so
 * comment_type keeps its default 'issue'): keyed by their node id.
 */
#define BY_ID_LOAD(tbl, DIRECT, CMP) \
	"INSERT INTO " tbl " (tenant_id, integration_id, pr_id, external_id" DIRECT(C_) ") " \
	"SELECT $1::bigint, $2::bigint, p.id, t.external_id" DIRECT(T_) " " \
	"FROM (SELECT DISTINCT ON (external_id) * FROM etl_tx_" tbl " " \
	"ORDER BY external_id, pr_updated DESC NULLS LAST) t " NESTED_PR \
	"ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET " \
	"pr_id = EXCLUDED.pr_id" DIRECT(SET_) ", last_updated_at = now() " \
	"WHERE (" tbl ".pr_id" DIRECT(CMP) ") IS DISTINCT FROM " \
	"(EXCLUDED.pr_id" DIRECT(EX_) ")"

static const struct etl_tx_col rv_cols[] = { GT_RV(COL) };
static const struct etl_tx_sql rv_load[] = {
	{ BY_ID_LOAD("prs_reviews", GT_RV_DIRECT, RV_), "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table gh_t_reviews = {
	"prs_reviews", "etl_tx_prs_reviews", rv_cols, RV_NCOLS, { RV_external_id }, 1, rv_load,
};

static const struct etl_tx_col co_cols[] = { GT_CO(COL) };
static const struct etl_tx_sql co_load[] = {
	{ BY_ID_LOAD("prs_comments", GT_CO_DIRECT, CO_), "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table gh_t_comments = {
	"prs_comments", "etl_tx_prs_comments", co_cols, CO_NCOLS, { CO_external_id }, 1, co_load,
};

const struct etl_tx_table *const gh_tables[] = {
	&gh_t_repos, &gh_t_prs, &gh_t_commits, &gh_t_reviews, &gh_t_comments, NULL,
};
