/*
 * pull_requests pages: prs, their commits, reviews and comments, and the
 * derived columns.
 *
 * A PR's connections come first inline (the first $nested nodes), then,
 * when pageInfo.hasNextPage, in attached pages (GH_Q_PR_COMMITS, ...) that
 * name the PR by node id.  Both are merged by key (commit oid, review and
 * comment id) so an overlap counts once, and the derived columns are
 * computed over the merged set (man etl-transform, "GITHUB RESPONSES").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit.h"
#include "github/tx.h"
#include "log.h"
#include "util.h"

enum conn { C_COMMITS, C_REVIEWS, C_COMMENTS, NCONN };
static const char *const conn_name[NCONN] = { "commits", "reviews", "comments" };
/* The prs staging column of each connection's complete key set. */
static const int key_col[NCONN] = { PR_commit_keys, PR_review_keys, PR_comment_keys };

/* An attached page: the connection @conn of PR @pr in document @doc. */
struct att_conn {
	const char *pr;      /* the PR's id as written (quotes included) */
	size_t prlen;
	enum conn kind;
	uint32_t doc, node;
};

/* A node of a merged connection, by its key's bytes as written. */
struct item {
	uint32_t doc, node;
	const char *key;
	size_t klen;
};

struct page {
	struct etl_tx *tx;
	struct etl_jdoc *docs;   /* 0: the page; 1..: attached */
	size_t ndocs;
	struct att_conn *att;
	size_t natt;
	struct item *it;
	size_t nit, ait;
	struct etl_buf scratch;
	long prs, skipped, incomplete;
};

/* What a PR's nested rows carry and its derived columns need. */
struct pr_ctx {
	const char *id;       /* decoded */
	const char *author;   /* the PR author's login, or NULL */
	int64_t updated;
	bool has_updated;
	uint32_t node;
	int64_t first_commit, first_review, cycles;   /* INT64_MAX: none */
};

/* --- attached pages */

static bool needs_attached(const struct etl_jdoc *d, uint32_t prs)
{
	for (uint32_t p = etl_jdoc_first(d, prs); p; p = etl_jdoc_next(d, p))
		for (int k = 0; k < NCONN; k++) {
			uint32_t c = etl_jdoc_get(d, p, conn_name[k]);

			if (etl_jdoc_kind(d, etl_jdoc_path(d, c, "pageInfo.hasNextPage")) ==
			    ETL_JSON_TRUE)
				return true;
		}
	return false;
}

/* Parse the attached pages and note which PR connection each one holds. */
static int index_attached(struct page *pg)
{
	struct etl_tx *tx = pg->tx;
	char what[48];

	for (size_t i = 1; i < pg->ndocs; i++) {
		struct etl_jdoc *d = &pg->docs[i];
		const char *data;
		size_t len;
		uint32_t root, node, id;
		int rc, k;

		data = etl_tx_attached(tx, i - 1, &len, NULL, NULL);
		snprintf(what, sizeof(what), "attached page %zu", i);
		if ((rc = gh_response(tx, d, data, len, what, &root)) != ETL_OK)
			return rc;
		node = etl_jdoc_get(d, root, "node");
		id = etl_jdoc_get(d, node, "id");
		for (k = 0; k < NCONN && !etl_jdoc_get(d, node, conn_name[k]); k++)
			;
		if (etl_jdoc_kind(d, id) != ETL_JSON_STRING || k == NCONN)
			return etl_tx_fail(tx, ETL_DATAERR, "%s names no pull request "
					   "connection (node.id with commits, reviews or "
					   "comments)", what);
		pg->att = xrealloc(pg->att, (pg->natt + 1) * sizeof(*pg->att));
		pg->att[pg->natt].pr = etl_jdoc_raw(d, id, &pg->att[pg->natt].prlen);
		pg->att[pg->natt].kind = (enum conn)k;
		pg->att[pg->natt].doc = (uint32_t)i;
		pg->att[pg->natt].node = etl_jdoc_get(d, node, conn_name[k]);
		pg->natt++;
	}
	return ETL_OK;
}

/* --- merging a connection */

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Add the nodes of connection @conn of document @doc. */
static void add_nodes(struct page *pg, enum conn kind, uint32_t doc, uint32_t conn)
{
	const struct etl_jdoc *d = &pg->docs[doc];
	uint32_t nodes = etl_jdoc_get(d, conn, "nodes");

	for (uint32_t n = etl_jdoc_first(d, nodes); n; n = etl_jdoc_next(d, n)) {
		uint32_t key = kind == C_COMMITS ? etl_jdoc_path(d, n, "commit.oid") :
			etl_jdoc_get(d, n, "id");

		if (etl_jdoc_kind(d, key) != ETL_JSON_STRING) {
			pg->skipped++;
			etl_warn("a pull request %s node without %s is skipped",
				 conn_name[kind], kind == C_COMMITS ? "an oid" : "an id");
			continue;
		}
		if (pg->nit == pg->ait) {
			pg->ait = pg->ait ? 2 * pg->ait : 128;
			pg->it = xrealloc(pg->it, pg->ait * sizeof(*pg->it));
		}
		pg->it[pg->nit].doc = doc;
		pg->it[pg->nit].node = n;
		pg->it[pg->nit].key = etl_jdoc_raw(d, key, &pg->it[pg->nit].klen);
		pg->nit++;
	}
}

/* The PR's connection @kind, inline and attached, sorted and unique by key. */
static void merge(struct page *pg, uint32_t pr, enum conn kind)
{
	const struct etl_jdoc *d = &pg->docs[0];
	size_t idlen, w = 0;
	const char *id = etl_jdoc_raw(d, etl_jdoc_get(d, pr, "id"), &idlen);

	pg->nit = 0;
	add_nodes(pg, kind, 0, etl_jdoc_get(d, pr, conn_name[kind]));
	for (size_t i = 0; i < pg->natt; i++)
		if (pg->att[i].kind == kind && pg->att[i].prlen == idlen &&
		    !memcmp(pg->att[i].pr, id, idlen))
			add_nodes(pg, kind, pg->att[i].doc, pg->att[i].node);
	if (!pg->nit)
		return;
	qsort(pg->it, pg->nit, sizeof(*pg->it), cmp_item);
	for (size_t r = 0; r < pg->nit; r++)
		if (w == 0 || cmp_item(&pg->it[w - 1], &pg->it[r]))
			pg->it[w++] = pg->it[r];
	pg->nit = w;
}

/* --- nested rows */

static void nested_key(struct page *pg, struct pr_ctx *pc, int id_col, int upd_col)
{
	etl_tx_set_str(pg->tx, id_col, pc->id);
	if (pc->has_updated)
		etl_tx_set_time(pg->tx, upd_col, pc->updated);
}

static void commit_rows(struct page *pg, struct pr_ctx *pc)
{
	struct etl_tx *tx = pg->tx;

	merge(pg, pc->node, C_COMMITS);
	for (size_t i = 0; i < pg->nit; i++) {
		const struct etl_jdoc *d = &pg->docs[pg->it[i].doc];
		uint32_t n = pg->it[i].node, c = etl_jdoc_get(d, n, "commit");
		uint32_t a = etl_jdoc_get(d, c, "author");
		int64_t ms;

		etl_tx_row(tx, &gh_t_commits);
		nested_key(pg, pc, CM_pr_external_id, CM_pr_updated);
		gh_set_str(tx, CM_sha, d, etl_jdoc_get(d, c, "oid"), &pg->scratch);
		gh_set_str(tx, CM_external_id, d, etl_jdoc_get(d, n, "id"), &pg->scratch);
		gh_set_str(tx, CM_message, d, etl_jdoc_get(d, c, "message"), &pg->scratch);
		gh_set_str(tx, CM_author_name, d, etl_jdoc_get(d, a, "name"), &pg->scratch);
		gh_set_str(tx, CM_author_email, d, etl_jdoc_get(d, a, "email"), &pg->scratch);
		gh_set_str(tx, CM_author_login, d, etl_jdoc_path(d, a, "user.login"),
			   &pg->scratch);
		if (etl_tx_jdoc_time(d, etl_jdoc_get(d, c, "authoredDate"), &ms) == 0) {
			etl_tx_set_time(tx, CM_authored_date, ms);
			if (ms < pc->first_commit)
				pc->first_commit = ms;
		}
		gh_set_time(tx, CM_committed_date, d, etl_jdoc_get(d, c, "committedDate"));
		gh_set_int(tx, CM_additions, d, etl_jdoc_get(d, c, "additions"));
		gh_set_int(tx, CM_deletions, d, etl_jdoc_get(d, c, "deletions"));
		gh_set_int(tx, CM_changed_files, d, etl_jdoc_get(d, c, "changedFilesIfAvailable"));
		etl_tx_row_end(tx);
	}
}

/* Is @login (the node at @node of @d) someone other than the PR author? */
static bool not_author(const struct pr_ctx *pc, const struct etl_jdoc *d, uint32_t node,
		       struct etl_buf *scratch)
{
	size_t len;
	const char *s = etl_jdoc_str(d, node, scratch, &len);

	return !pc->author || !s || strlen(pc->author) != len || memcmp(pc->author, s, len);
}

static void review_rows(struct page *pg, struct pr_ctx *pc)
{
	struct etl_tx *tx = pg->tx;

	merge(pg, pc->node, C_REVIEWS);
	for (size_t i = 0; i < pg->nit; i++) {
		const struct etl_jdoc *d = &pg->docs[pg->it[i].doc];
		uint32_t n = pg->it[i].node, state = etl_jdoc_get(d, n, "state");
		bool other = not_author(pc, d, etl_jdoc_path(d, n, "author.login"), &pg->scratch);
		int64_t ms;

		etl_tx_row(tx, &gh_t_reviews);
		nested_key(pg, pc, RV_pr_external_id, RV_pr_updated);
		gh_set_str(tx, RV_external_id, d, etl_jdoc_get(d, n, "id"), &pg->scratch);
		gh_set_str(tx, RV_author, d, etl_jdoc_path(d, n, "author.login"), &pg->scratch);
		if (etl_jdoc_kind(d, state) == ETL_JSON_STRING)
			gh_set_str(tx, RV_state, d, state, &pg->scratch);
		else   /* the column is NOT NULL */
			etl_tx_set_str(tx, RV_state, "UNKNOWN");
		gh_set_str(tx, RV_body, d, etl_jdoc_get(d, n, "body"), &pg->scratch);
		if (etl_tx_jdoc_time(d, etl_jdoc_get(d, n, "submittedAt"), &ms) == 0) {
			etl_tx_set_time(tx, RV_submitted, ms);
			if (other && !etl_jdoc_str_eq(d, state, "PENDING") &&
			    ms < pc->first_review)
				pc->first_review = ms;
		}
		etl_tx_row_end(tx);
		if (other && etl_jdoc_str_eq(d, state, "CHANGES_REQUESTED"))
			pc->cycles++;
	}
}

static void comment_rows(struct page *pg, struct pr_ctx *pc)
{
	struct etl_tx *tx = pg->tx;

	merge(pg, pc->node, C_COMMENTS);
	for (size_t i = 0; i < pg->nit; i++) {
		const struct etl_jdoc *d = &pg->docs[pg->it[i].doc];
		uint32_t n = pg->it[i].node;

		etl_tx_row(tx, &gh_t_comments);
		nested_key(pg, pc, CO_pr_external_id, CO_pr_updated);
		gh_set_str(tx, CO_external_id, d, etl_jdoc_get(d, n, "id"), &pg->scratch);
		gh_set_str(tx, CO_author, d, etl_jdoc_path(d, n, "author.login"), &pg->scratch);
		gh_set_str(tx, CO_body, d, etl_jdoc_get(d, n, "body"), &pg->scratch);
		gh_set_time(tx, CO_created, d, etl_jdoc_get(d, n, "createdAt"));
		gh_set_time(tx, CO_updated, d, etl_jdoc_get(d, n, "updatedAt"));
		etl_tx_row_end(tx);
	}
}

/*
 * Is the connection just staged complete (as many rows as its totalCount)?
 * Only then may the stored rows it lacks be deleted.  Warn when fewer
 * nodes arrived than GitHub counts: never truncated silently.
 */
static bool check_total(struct page *pg, const struct pr_ctx *pc, int64_t number,
			enum conn kind)
{
	const struct etl_jdoc *d = &pg->docs[0];
	uint32_t c = etl_jdoc_get(d, pc->node, conn_name[kind]);
	int64_t total;

	if (etl_jdoc_i64(d, etl_jdoc_get(d, c, "totalCount"), &total) < 0)
		return false;
	if (total > (int64_t)pg->nit) {
		pg->incomplete++;
		etl_warn("pull request #%lld: %zu of %lld %s (pages missing from the "
			 "extraction)", (long long)number, pg->nit, (long long)total,
			 conn_name[kind]);
	}
	return total == (int64_t)pg->nit;
}

/*
 * The keys of connection @kind just staged, as a JSON array into @out, when
 * the set is complete; @out stays empty (buf NULL) otherwise.
 */
static void key_set(struct page *pg, const struct pr_ctx *pc, int64_t number,
		    enum conn kind, struct etl_buf *out)
{
	if (!check_total(pg, pc, number, kind))
		return;
	etl_buf_addch(out, '[');
	for (size_t i = 0; i < pg->nit; i++) {
		if (i)
			etl_buf_addch(out, ',');
		etl_buf_add(out, pg->it[i].key, pg->it[i].klen);
	}
	etl_buf_addch(out, ']');
}

/* --- one pull request */

static void pr_columns(struct page *pg, const struct pr_ctx *pc)
{
	struct etl_tx *tx = pg->tx;
	const struct etl_jdoc *d = &pg->docs[0];
	uint32_t p = pc->node;

	gh_set_str(tx, PR_title, d, etl_jdoc_get(d, p, "title"), &pg->scratch);
	gh_set_str(tx, PR_body, d, etl_jdoc_get(d, p, "body"), &pg->scratch);
	gh_set_str(tx, PR_state, d, etl_jdoc_get(d, p, "state"), &pg->scratch);
	gh_set_bool(tx, PR_is_draft, d, etl_jdoc_get(d, p, "isDraft"));
	etl_tx_set_str(tx, PR_author, pc->author);
	gh_set_str(tx, PR_merged_by, d, etl_jdoc_path(d, p, "mergedBy.login"), &pg->scratch);
	gh_set_str(tx, PR_base_ref, d, etl_jdoc_get(d, p, "baseRefName"), &pg->scratch);
	gh_set_str(tx, PR_head_ref, d, etl_jdoc_get(d, p, "headRefName"), &pg->scratch);
	gh_set_str(tx, PR_head_sha, d, etl_jdoc_get(d, p, "headRefOid"), &pg->scratch);
	gh_set_str(tx, PR_url, d, etl_jdoc_get(d, p, "url"), &pg->scratch);
	gh_set_time(tx, PR_created, d, etl_jdoc_get(d, p, "createdAt"));
	if (pc->has_updated)
		etl_tx_set_time(tx, PR_updated, pc->updated);
	gh_set_time(tx, PR_merged, d, etl_jdoc_get(d, p, "mergedAt"));
	gh_set_time(tx, PR_closed, d, etl_jdoc_get(d, p, "closedAt"));
	gh_set_int(tx, PR_additions, d, etl_jdoc_get(d, p, "additions"));
	gh_set_int(tx, PR_deletions, d, etl_jdoc_get(d, p, "deletions"));
	gh_set_int(tx, PR_changed_files, d, etl_jdoc_get(d, p, "changedFiles"));
	gh_set_int(tx, PR_commit_count, d, etl_jdoc_path(d, p, "commits.totalCount"));
	gh_set_int(tx, PR_review_count, d, etl_jdoc_path(d, p, "reviews.totalCount"));
	gh_set_int(tx, PR_comment_count, d, etl_jdoc_path(d, p, "comments.totalCount"));
	if (pc->first_commit != INT64_MAX)
		etl_tx_set_time(tx, PR_first_commit_at, pc->first_commit);
	if (pc->first_review != INT64_MAX)
		etl_tx_set_time(tx, PR_first_review_at, pc->first_review);
	etl_tx_set_i64(tx, PR_review_cycles, pc->cycles);
}

static bool known_state(const struct etl_jdoc *d, uint32_t state)
{
	return etl_jdoc_str_eq(d, state, "OPEN") || etl_jdoc_str_eq(d, state, "CLOSED") ||
		etl_jdoc_str_eq(d, state, "MERGED");
}

static void one_pr(struct page *pg, uint32_t p, const char *repo_id, const char *repo)
{
	struct etl_tx *tx = pg->tx;
	const struct etl_jdoc *d = &pg->docs[0];
	struct pr_ctx pc = { NULL, NULL, 0, false, p, INT64_MAX, INT64_MAX, 0 };
	char *id = etl_jdoc_strdup(d, etl_jdoc_get(d, p, "id"));
	char *author = etl_jdoc_strdup(d, etl_jdoc_path(d, p, "author.login"));
	int64_t number;
	struct etl_buf keys[NCONN] = { ETL_BUF_INIT, ETL_BUF_INIT, ETL_BUF_INIT };
	int upd;

	if (!id || !*id || etl_jdoc_i64(d, etl_jdoc_get(d, p, "number"), &number) < 0 ||
	    !known_state(d, etl_jdoc_get(d, p, "state"))) {
		pg->skipped++;
		etl_warn("a pull request of %s without an id, a number or a known state is "
			 "skipped", repo);
		goto out;
	}
	pc.id = id;
	pc.author = author;
	upd = etl_tx_jdoc_time(d, etl_jdoc_get(d, p, "updatedAt"), &pc.updated);
	pc.has_updated = upd == 0;
	if (upd < 0)
		etl_warn("pull request %s#%lld: unreadable update time: left empty (any later "
			 "version replaces this one)", repo, (long long)number);
	commit_rows(pg, &pc);
	key_set(pg, &pc, number, C_COMMITS, &keys[C_COMMITS]);
	review_rows(pg, &pc);
	key_set(pg, &pc, number, C_REVIEWS, &keys[C_REVIEWS]);
	comment_rows(pg, &pc);
	key_set(pg, &pc, number, C_COMMENTS, &keys[C_COMMENTS]);

	etl_tx_row(tx, &gh_t_prs);
	etl_tx_set_str(tx, PR_external_id, id);
	etl_tx_set_str(tx, PR_repo_external_id, repo_id);
	etl_tx_set_i64(tx, PR_number, number);
	pr_columns(pg, &pc);
	for (int k = 0; k < NCONN; k++)
		if (keys[k].buf)
			etl_tx_set_json(tx, key_col[k], keys[k].buf, keys[k].len);
	etl_tx_row_end(tx);
	etl_tx_key(tx, "embed", "prs", id, strlen(id));
	pg->prs++;
out:
	for (int k = 0; k < NCONN; k++)
		etl_buf_release(&keys[k]);
	free(id);
	free(author);
}

/*
 * The page's repository as a placeholder row: loaded only where no row is
 * (the repositories step may run after this page, and then completes it).
 */
static int repo_placeholder(struct page *pg, uint32_t repo, char **id, char **full)
{
	struct etl_tx *tx = pg->tx;
	const struct etl_jdoc *d = &pg->docs[0];
	char *slash;

	*id = etl_jdoc_strdup(d, etl_jdoc_get(d, repo, "id"));
	*full = etl_jdoc_strdup(d, etl_jdoc_get(d, repo, "nameWithOwner"));
	slash = *full ? strchr(*full, '/') : NULL;
	if (!*id || !**id || !slash)
		return etl_tx_fail(tx, ETL_DATAERR, "pull request page: its repository has "
				   "no id or nameWithOwner");
	etl_tx_row(tx, &gh_t_repos);
	etl_tx_set_str(tx, REPO_external_id, *id);
	etl_tx_set(tx, REPO_owner, *full, (size_t)(slash - *full));
	etl_tx_set_str(tx, REPO_name, slash + 1);
	etl_tx_set_str(tx, REPO_full_name, *full);
	etl_tx_set_bool(tx, REPO_placeholder, true);
	etl_tx_row_end(tx);
	return ETL_OK;
}

int gh_tx_pull_requests(struct etl_tx *tx)
{
	struct page pg;
	const char *data;
	char *repo_id = NULL, *full = NULL;
	size_t len;
	uint32_t root, repo, prs;
	int rc;

	memset(&pg, 0, sizeof(pg));
	pg.tx = tx;
	pg.ndocs = 1;
	pg.docs = xcalloc(1, sizeof(*pg.docs));
	data = etl_tx_data(tx, &len);
	if ((rc = gh_response(tx, &pg.docs[0], data, len, "pull request page", &root)) != ETL_OK)
		goto out;
	repo = etl_jdoc_get(&pg.docs[0], root, "repository");
	prs = etl_jdoc_path(&pg.docs[0], repo, "pullRequests.nodes");
	if (etl_jdoc_kind(&pg.docs[0], prs) != ETL_JSON_ARRAY) {
		rc = etl_tx_fail(tx, ETL_DATAERR, "pull request page has no "
				 "repository.pullRequests.nodes array");
		goto out;
	}
	if ((rc = repo_placeholder(&pg, repo, &repo_id, &full)) != ETL_OK)
		goto out;
	/* The step's watermark update covers the repositories this run saw. */
	etl_tx_key(tx, "seen", "repositories", repo_id, strlen(repo_id));
	/* Attached pages complete the connections that have more. */
	if (needs_attached(&pg.docs[0], prs)) {
		if ((rc = etl_tx_attached_docs(tx, &pg.docs, &pg.ndocs,
					       "attached pages of the page")) != ETL_OK ||
		    (rc = index_attached(&pg)) != ETL_OK)
			goto out;
	}
	for (uint32_t p = etl_jdoc_first(&pg.docs[0], prs); p; p = etl_jdoc_next(&pg.docs[0], p))
		one_pr(&pg, p, repo_id, full);
	etl_info("pull request page of %s: %ld pull requests, %zu attached pages, %ld "
		 "skipped, %ld incomplete connections", full, pg.prs, pg.ndocs - 1, pg.skipped,
		 pg.incomplete);
out:
	for (size_t i = 0; i < pg.ndocs; i++)
		etl_jdoc_release(&pg.docs[i]);
	free(pg.docs);
	free(pg.att);
	free(pg.it);
	free(repo_id);
	free(full);
	etl_buf_release(&pg.scratch);
	return rc;
}
