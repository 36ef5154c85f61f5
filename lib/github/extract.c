#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "db.h"
#include "github/client.h"
#include "github/extract.h"
#include "github/queries.h"
#include "integration.h"
#include "json.h"
#include "message.h"
#include "transform.h"   /* etl_tx_jdoc_time */
#include "util.h"

static const char *const step_args[] = { "repositories", NULL };

static const char sql_repo_rows[] =
	"SELECT owner, name, external_id FROM repositories "
	"WHERE tenant_id = $1 AND integration_id = $2 AND active ORDER BY id";

/*
 * A repository's watermark in epoch ms (NULL: none yet).  By node id when
 * known: a repository deleted and created again under the same name is
 * another repository, and must not inherit the old one's watermark.
 */
static const char sql_watermark[] =
	"SELECT (extract(epoch FROM max(last_pr_updated)) * 1000)::bigint AS ms "
	"FROM repositories WHERE tenant_id = $1 AND integration_id = $2 "
	"AND CASE WHEN $3 <> '' THEN external_id = $3 ELSE lower(full_name) = lower($4) END";

/* ---------------------------------------------------------- little things */

static void add_str(struct etl_buf *b, const char *s)
{
	if (s)
		etl_buf_add_json_str(b, s, strlen(s));
	else
		etl_buf_adds(b, "null");
}

/* The string at @path of @obj (caller frees), NULL when not a string. */
static char *get_str(const struct etl_jdoc *d, uint32_t obj, const char *path)
{
	return etl_jdoc_strdup(d, etl_jdoc_path(d, obj, path));
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

struct repo {
	char *owner, *name, *id;
};

struct repos {
	struct repo *v;
	size_t n, alloc;
};

static void repos_push(struct repos *l, char *owner, char *name, char *id)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n].owner = owner;
	l->v[l->n].name = name;
	l->v[l->n].id = id;
	l->n++;
}

static void repos_clear(struct repos *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].owner);
		free(l->v[i].name);
		free(l->v[i].id);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool repos_has(const struct repos *l, const char *owner, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcasecmp(l->v[i].owner, owner) && !strcasecmp(l->v[i].name, name))
			return true;
	return false;
}

static void repos_json(struct etl_buf *b, const struct repos *l)
{
	etl_buf_addch(b, '[');
	for (size_t i = 0; i < l->n; i++) {
		etl_buf_adds(b, i ? ",{\"owner\":" : "{\"owner\":");
		add_str(b, l->v[i].owner);
		etl_buf_adds(b, ",\"name\":");
		add_str(b, l->v[i].name);
		etl_buf_adds(b, ",\"id\":");
		add_str(b, l->v[i].id);
		etl_buf_addch(b, '}');
	}
	etl_buf_addch(b, ']');
}

/* ------------------------------------------------------------ the pattern */

/*
 * A comma-separated list (--orgs, integration.repos_pattern) into its
 * items, blanks around each trimmed, empty ones dropped; *n items, NULL
 * when none.  The caller frees each item and the array.
 */
static char **split_list(const char *text, size_t *n)
{
	char **v = NULL;

	*n = 0;
	while (text && *text) {
		size_t len = strcspn(text, ","), a = 0, e = len;

		while (a < e && (text[a] == ' ' || text[a] == '\t'))
			a++;
		while (e > a && (text[e - 1] == ' ' || text[e - 1] == '\t'))
			e--;
		if (e > a) {
			v = xrealloc(v, (*n + 1) * sizeof(*v));
			v[(*n)++] = xstrndup(text + a, e - a);
		}
		text += len;
		if (*text == ',')
			text++;
	}
	return v;
}

/* integration.repos_pattern split into lower-case globs (none: all). */
struct pattern {
	char **globs;
	size_t n;
};

static void pattern_parse(struct pattern *p, const char *text)
{
	p->globs = split_list(text, &p->n);
	for (size_t i = 0; i < p->n; i++)
		lower(p->globs[i]);
}

static void pattern_free(struct pattern *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->globs[i]);
	free(p->globs);
}

/* "owner/name" with no wildcard: a repository named explicitly. */
static bool glob_explicit(const char *g)
{
	return strchr(g, '/') && !strpbrk(g, "*?[");
}

static bool pattern_match(const struct pattern *p, const char *owner, const char *name)
{
	struct etl_buf full = ETL_BUF_INIT;
	char *bare;
	bool hit = p->n == 0;

	etl_buf_addf(&full, "%s/%s", owner, name);
	lower(full.buf);
	bare = full.buf + strlen(owner) + 1;
	for (size_t i = 0; i < p->n && !hit; i++)
		hit = fnmatch(p->globs[i], strchr(p->globs[i], '/') ? full.buf : bare, 0) == 0;
	etl_buf_release(&full);
	return hit;
}

/* ------------------------------------------------------------------ state */

/* The client of the last message's integration: a worker serving many
 * tenants never lends one integration's token (or its pacing) to another. */
struct gh_state {
	struct etl_gh *g;
	int64_t integ;   /* the integration the client was made for */
	char *base;      /* and its base URL */
};

static void free_state(void *p)
{
	struct gh_state *s = p;

	if (!s)
		return;
	etl_gh_free(s->g);
	free(s->base);
	free(s);
}

static struct gh_state *get_state(struct etl_extract_run *run, int *why)
{
	const struct etl_integration *in = etl_extract_integration(run);
	const char *base = in->base_url ? in->base_url : "";
	void **slot = etl_extract_state(run);
	struct gh_state *s = *slot;
	struct etl_http_opts ho;

	if (s && s->g && s->integ == in->id && !strcmp(s->base, base)) {
		etl_gh_set_token(s->g, in->token);
		return s;
	}
	free_state(s);
	*slot = NULL;
	etl_extract_http_opts(run, &ho);
	s = xcalloc(1, sizeof(*s));
	s->g = etl_gh_new(base, in->token, &ho, why);
	if (!s->g) {
		free(s);
		return NULL;
	}
	s->integ = in->id;
	s->base = xstrdup(base);
	*slot = s;
	return s;
}

static int from_env(const struct etl_extract_opts *o, struct etl_integration *out, int *why)
{
	const char *base = etl_config_get_or("GITHUB_API_URL", "https://api.github.com");
	const char *token = etl_config_get("GITHUB_TOKEN");

	if (!token || !*token) {
		*why = ETL_CONFIG;
		return etl_error("--no-store takes the GitHub token from GITHUB_TOKEN (and the API "
				 "from GITHUB_API_URL): GITHUB_TOKEN is not set");
	}
	if (!o->orgs || !*o->orgs) {
		*why = ETL_CONFIG;
		return etl_error("--no-store with github needs --orgs <login>,...");
	}
	etl_log_add_secret(token);
	out->provider = xstrdup("github");
	out->base_url = xstrdup(*base ? base : "https://api.github.com");
	out->token = xstrdup(token);
	out->active = true;
	out->orgs = split_list(o->orgs, &out->norgs);
	out->repos_pattern = o->repos && *o->repos ? xstrdup(o->repos) : NULL;
	return 0;
}

/*
 * The cursor of the page after the one of @conn, asked with @after: NULL
 * on the last page.  ETL_OK, or ETL_DATAERR when GitHub says there is a
 * next page but gives no cursor or the same one again (paging would loop,
 * spending points forever).
 */
static int next_cursor(struct etl_extract_run *run, const struct etl_jdoc *d, uint32_t conn,
		       const char *after, const char *what, char **next)
{
	*next = NULL;
	if (etl_jdoc_kind(d, etl_jdoc_path(d, conn, "pageInfo.hasNextPage")) != ETL_JSON_TRUE)
		return ETL_OK;
	*next = get_str(d, conn, "pageInfo.endCursor");
	if (*next && (!after || strcmp(*next, after)))
		return ETL_OK;
	free(*next);
	*next = NULL;
	return etl_extract_failf(run, ETL_DATAERR, "%s: GitHub says there is a next page but "
				 "the cursor does not advance (%s): stopped rather than loop",
				 what, after ? after : "none");
}

/* ------------------------------------------------ step 1: repositories */

/* Every page of @login's repositories; those that pass @p into @out.  With
 * @store each page is an item (step 1), else a helper listing. */
static int list_owner(struct etl_extract_run *run, struct gh_state *s, const char *login,
		      const struct pattern *p, bool store, struct repos *out)
{
	struct etl_gh_vars v = { .login = login, .paged = true, .first = ETL_GH_REPOS_PAGE };
	struct etl_buf what = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	char *after = NULL, *next;
	int rc;

	etl_buf_addf(&what, "repositories of %s", login);
	for (;;) {
		uint32_t conn;

		v.after = after;
		v.skip_gone = !after;
		rc = etl_gh_query(run, s->g, GH_Q_REPOS, &v, what.buf, &d);
		if (rc == ETL_GH_NOT_FOUND) {
			rc = ETL_OK;
			break;
		}
		if (rc != ETL_OK) {
			etl_buf_reset(&params);
			add_str(&params, after);
			etl_extract_hint(run, "cursor", params.buf);
			break;
		}
		conn = etl_jdoc_path(&d, ETL_JDOC_ROOT, "data.repositoryOwner.repositories");
		if (!conn) {
			etl_warn("%s: no such organisation or user: skipped", what.buf);
			etl_extract_count_error(run);
			break;
		}
		for (uint32_t n = etl_jdoc_first(&d, etl_jdoc_get(&d, conn, "nodes")); n;
		     n = etl_jdoc_next(&d, n)) {
			char *owner = get_str(&d, n, "owner.login"), *name = get_str(&d, n, "name");

			if (owner && name && pattern_match(p, owner, name) &&
			    !repos_has(out, owner, name)) {
				repos_push(out, owner, name, get_str(&d, n, "id"));
				continue;
			}
			free(owner);
			free(name);
		}
		if (store) {
			etl_buf_reset(&params);
			etl_buf_adds(&params, "\"login\":");
			add_str(&params, login);
			etl_buf_addf(&params, ",\"first\":%d,\"after\":", v.first);
			add_str(&params, after);
			if ((rc = etl_extract_item(run, "repositories", params.buf)) != ETL_OK ||
			    (rc = etl_extract_submit(run)) != ETL_OK)
				break;
		}
		rc = next_cursor(run, &d, conn, after, what.buf, &next);
		free(after);
		after = next;
		if (rc != ETL_OK || !after)
			break;
	}
	free(after);
	etl_jdoc_release(&d);
	etl_buf_release(&what);
	etl_buf_release(&params);
	return rc;
}

/* A repository the pattern names: fetched unless a listing had it. */
static int one_repo(struct etl_extract_run *run, struct gh_state *s, const char *glob,
		    bool store, struct repos *out)
{
	const char *slash = strchr(glob, '/');
	char *owner = xstrndup(glob, (size_t)(slash - glob)), *name = xstrdup(slash + 1);
	struct etl_gh_vars v = { .owner = owner, .name = name, .skip_gone = true };
	struct etl_buf what = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	int rc = ETL_OK;

	if (repos_has(out, owner, name))
		goto out;
	etl_buf_addf(&what, "repository %s", glob);
	rc = etl_gh_query(run, s->g, GH_Q_REPO, &v, what.buf, &d);
	if (rc == ETL_GH_NOT_FOUND) {
		rc = ETL_OK;
		goto out;
	}
	if (rc != ETL_OK)
		goto out;
	repos_push(out, get_str(&d, ETL_JDOC_ROOT, "data.repository.owner.login"),
		   get_str(&d, ETL_JDOC_ROOT, "data.repository.name"),
		   get_str(&d, ETL_JDOC_ROOT, "data.repository.id"));
	if (!out->v[out->n - 1].owner || !out->v[out->n - 1].name) {
		rc = etl_extract_failf(run, ETL_DATAERR, "%s: the response names no repository",
				       what.buf);
		goto out;
	}
	if (store) {
		etl_buf_adds(&params, "\"owner\":");
		add_str(&params, owner);
		etl_buf_adds(&params, ",\"name\":");
		add_str(&params, name);
		if ((rc = etl_extract_item(run, "repository", params.buf)) == ETL_OK)
			rc = etl_extract_submit(run);
	}
out:
	free(owner);
	free(name);
	etl_jdoc_release(&d);
	etl_buf_release(&what);
	etl_buf_release(&params);
	return rc;
}

/* The integration's repositories from the API (listings, then the
 * repositories named explicitly). */
static int select_repos(struct etl_extract_run *run, struct gh_state *s, bool store,
			struct repos *out)
{
	const struct etl_integration *in = etl_extract_integration(run);
	struct pattern p;
	int rc = ETL_OK;

	pattern_parse(&p, in->repos_pattern);
	for (size_t i = 0; i < in->norgs && rc == ETL_OK; i++)
		rc = list_owner(run, s, in->orgs[i], &p, store, out);
	for (size_t i = 0; i < p.n && rc == ETL_OK; i++)
		if (glob_explicit(p.globs[i]))
			rc = one_repo(run, s, p.globs[i], store, out);
	pattern_free(&p);
	return rc;
}

static int step_repositories(struct etl_extract_run *run, struct gh_state *s)
{
	struct repos found = { NULL, 0, 0 };
	struct etl_buf arg = ETL_BUF_INIT;
	int rc;

	if (etl_extract_integration(run)->norgs == 0 &&
	    !etl_extract_integration(run)->repos_pattern)
		etl_warn("the integration names no organisation or user: no repositories");
	rc = select_repos(run, s, true, &found);
	if (rc == ETL_OK) {
		etl_info("%zu repositories selected", found.n);
		repos_json(&arg, &found);
		etl_extract_next_arg(run, "repositories", arg.buf, arg.len);
	}
	repos_clear(&found);
	etl_buf_release(&arg);
	return rc;
}

/* -------------------------------------------- step 2: pull requests */

/* The message's "repositories" argument into @out.  0, or -1 when absent. */
static int repos_from_msg(struct etl_extract_run *run, struct repos *out)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	const char *raw;
	size_t len;
	char err[64];
	int rc = -1;

	raw = etl_msg_get_raw(etl_extract_msg(run), "repositories", &len);
	if (!raw || etl_jdoc_parse(&d, raw, len, err, sizeof(err)) < 0 ||
	    etl_jdoc_kind(&d, ETL_JDOC_ROOT) != ETL_JSON_ARRAY)
		goto out;
	for (uint32_t e = etl_jdoc_first(&d, ETL_JDOC_ROOT); e; e = etl_jdoc_next(&d, e)) {
		char *owner = get_str(&d, e, "owner"), *name = get_str(&d, e, "name");

		if (owner && name) {
			repos_push(out, owner, name, get_str(&d, e, "id"));
			continue;
		}
		free(owner);
		free(name);
	}
	rc = 0;
out:
	etl_jdoc_release(&d);
	return rc;
}

static void id_text(char *buf, size_t n, int64_t v)
{
	snprintf(buf, n, "%lld", (long long)v);
}

/* The integration's active repositories rows that pass the pattern. */
static int repos_from_db(struct etl_extract_run *run, struct etl_db *db, struct repos *out)
{
	const struct etl_integration *in = etl_extract_integration(run);
	char tenant[24], integ[24];
	const char *vals[2] = { tenant, integ };
	struct etl_db_res *r;
	struct pattern p;
	int why = 0;

	id_text(tenant, sizeof(tenant), in->tenant_id);
	id_text(integ, sizeof(integ), in->id);
	r = etl_db_exec(db, sql_repo_rows, vals, 2, &why);
	if (!r)
		return etl_extract_failf(run, why ? why : ETL_UNAVAIL,
					 "cannot read the integration's repositories");
	pattern_parse(&p, in->repos_pattern);
	for (int i = 0; i < etl_db_nrows(r); i++) {
		const char *owner = etl_db_value(r, i, "owner"), *name = etl_db_value(r, i, "name");

		if (pattern_match(&p, owner, name))
			repos_push(out, xstrdup(owner), xstrdup(name),
				   xstrdup(etl_db_value(r, i, "external_id")));
	}
	pattern_free(&p);
	etl_db_clear(r);
	return ETL_OK;
}

/*
 * The repositories step 2 works on: the message's "repositories" (what
 * step 1 selected), else the repositories table, else (no database) a
 * listing from the API that is not stored.
 */
static int resolve_repos(struct etl_extract_run *run, struct gh_state *s, struct repos *out)
{
	struct etl_db *db = etl_extract_db(run);

	if (repos_from_msg(run, out) == 0)
		return ETL_OK;
	if (db)
		return repos_from_db(run, db, out);
	return select_repos(run, s, false, out);
}

/* Where paging stops for @r: epoch ms, or -1 for every page. */
static int64_t repo_since(struct etl_extract_run *run, const struct repo *r)
{
	const struct etl_integration *in = etl_extract_integration(run);
	struct etl_db *db = etl_extract_db(run);
	char tenant[24], integ[24];
	struct etl_buf full = ETL_BUF_INIT;
	const char *vals[4];
	struct etl_db_res *res;
	int64_t ms = -1;
	int why = 0;

	if (etl_extract_full(run))
		return -1;
	if (!db)
		return etl_extract_since_ms(run);
	id_text(tenant, sizeof(tenant), in->tenant_id);
	id_text(integ, sizeof(integ), in->id);
	etl_buf_addf(&full, "%s/%s", r->owner, r->name);
	vals[0] = tenant;
	vals[1] = integ;
	vals[2] = r->id ? r->id : "";
	vals[3] = full.buf;
	res = etl_db_exec(db, sql_watermark, vals, 4, &why);
	if (res && !etl_db_is_null(res, 0, "ms") && etl_db_int64(res, 0, "ms", &ms) == 0) {
		ms -= (int64_t)etl_extract_opts(run)->overlap_s * 1000;
		if (ms < 0)
			ms = 0;
	} else {
		ms = -1;
	}
	etl_db_clear(res);
	etl_buf_release(&full);
	return ms;
}

/* A connection of a pull request that has more pages than the page held. */
struct more {
	char *pr, *after;
	int64_t number;
	int conn;   /* index in conns[] */
};

static const struct {
	const char *name, *kind, *doc;
} conns[] = {
	{ "commits", "pr_commits", GH_Q_PR_COMMITS },
	{ "reviews", "pr_reviews", GH_Q_PR_REVIEWS },
	{ "comments", "pr_comments", GH_Q_PR_COMMENTS },
};

struct mores {
	struct more *v;
	size_t n, alloc;
};

static void mores_clear(struct mores *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].pr);
		free(m->v[i].after);
	}
	m->n = 0;
}

/* The page's pull requests whose connections go on, into @m (copied: the
 * next fetch overwrites the text @d reads). */
static void find_more(const struct etl_jdoc *d, uint32_t nodes, struct mores *m)
{
	for (uint32_t pr = etl_jdoc_first(d, nodes); pr; pr = etl_jdoc_next(d, pr)) {
		int64_t number = 0;

		etl_jdoc_i64(d, etl_jdoc_get(d, pr, "number"), &number);
		for (size_t c = 0; c < ETL_ARRAY_SIZE(conns); c++) {
			uint32_t info = etl_jdoc_path(d, etl_jdoc_get(d, pr, conns[c].name),
						      "pageInfo");

			if (etl_jdoc_kind(d, etl_jdoc_get(d, info, "hasNextPage")) != ETL_JSON_TRUE)
				continue;
			if (m->n == m->alloc) {
				m->alloc = m->alloc ? 2 * m->alloc : 8;
				m->v = xrealloc(m->v, m->alloc * sizeof(*m->v));
			}
			m->v[m->n].pr = get_str(d, pr, "id");
			m->v[m->n].after = get_str(d, info, "endCursor");
			m->v[m->n].number = number;
			m->v[m->n].conn = (int)c;
			if (m->v[m->n].pr)
				m->n++;
			else
				free(m->v[m->n].after);
		}
	}
}

/* The remaining pages of one connection, attached to the current page. */
static int attach_more(struct etl_extract_run *run, struct gh_state *s, const struct more *m,
		       struct etl_jdoc *d)
{
	/* Never skip_gone: the pull request was just listed, and a connection
	 * cut short would be taken for complete. */
	struct etl_gh_vars v = { .id = m->pr, .paged = true, .first = ETL_GH_NESTED_PAGE };
	struct etl_buf what = ETL_BUF_INIT, params = ETL_BUF_INIT;
	char *after = m->after ? xstrdup(m->after) : NULL, *next;
	int rc;

	etl_buf_addf(&what, "%s of pull request #%lld", conns[m->conn].name,
		     (long long)m->number);
	for (;;) {
		uint32_t conn;

		v.after = after;
		rc = etl_gh_query(run, s->g, conns[m->conn].doc, &v, what.buf, d);
		if (rc != ETL_OK)
			break;
		etl_buf_reset(&params);
		etl_buf_adds(&params, "\"pr\":");
		add_str(&params, m->pr);
		etl_buf_addf(&params, ",\"number\":%lld,\"first\":%d,\"after\":",
			     (long long)m->number, v.first);
		add_str(&params, after);
		if ((rc = etl_extract_attach(run, conns[m->conn].kind, params.buf)) != ETL_OK)
			break;
		conn = etl_jdoc_get(d, etl_jdoc_path(d, ETL_JDOC_ROOT, "data.node"),
				    conns[m->conn].name);
		rc = next_cursor(run, d, conn, after, what.buf, &next);
		free(after);
		after = next;
		if (rc != ETL_OK || !after)
			break;
	}
	free(after);
	etl_buf_release(&what);
	etl_buf_release(&params);
	return rc;
}

/* Whether the page's last pull request was updated before @since. */
static bool past_since(const struct etl_jdoc *d, uint32_t nodes, int64_t since)
{
	uint32_t last = 0;
	int64_t ms;

	if (since < 0)
		return false;
	for (uint32_t pr = etl_jdoc_first(d, nodes); pr; pr = etl_jdoc_next(d, pr))
		last = pr;
	return last && etl_tx_jdoc_time(d, etl_jdoc_get(d, last, "updatedAt"), &ms) == 0 &&
		ms < since;
}

/* For people: where the step stopped, and the page sizes in use (smaller
 * than asked after a 502/504; a rerun finds them from the stored rows). */
static void pr_hints(struct etl_extract_run *run, const struct repo *r, const char *after,
		     const char *since, const struct etl_gh_vars *v)
{
	struct etl_buf full = ETL_BUF_INIT, b = ETL_BUF_INIT;
	char size[16];

	etl_buf_addf(&full, "%s/%s", r->owner, r->name);
	add_str(&b, full.buf);
	etl_extract_hint(run, "repo", b.buf);
	etl_buf_release(&full);
	etl_buf_reset(&b);
	add_str(&b, after);
	etl_extract_hint(run, "cursor", b.buf);
	etl_buf_reset(&b);
	add_str(&b, since);
	etl_extract_hint(run, "since", b.buf);
	etl_buf_release(&b);
	snprintf(size, sizeof(size), "%d", v->first);
	etl_extract_hint(run, "first", size);
	snprintf(size, sizeof(size), "%d", v->nested);
	etl_extract_hint(run, "nested", size);
}

static void pr_params(struct etl_buf *b, const struct repo *r, const struct etl_gh_vars *v,
		      const char *since)
{
	etl_buf_reset(b);
	etl_buf_adds(b, "\"owner\":");
	add_str(b, r->owner);
	etl_buf_adds(b, ",\"name\":");
	add_str(b, r->name);
	etl_buf_addf(b, ",\"first\":%d,\"after\":", v->first);
	add_str(b, v->after);
	etl_buf_addf(b, ",\"nested\":%d,\"since\":", v->nested);
	add_str(b, since);
}

/* Every page of one repository's pull requests (down to @since). */
static int repo_prs(struct etl_extract_run *run, struct gh_state *s, const struct repo *r,
		    struct mores *more)
{
	const struct etl_extract_opts *o = etl_extract_opts(run);
	struct etl_gh_vars v = {
		.owner = r->owner, .name = r->name, .paged = true,
		.first = o->page_size > 0 ? o->page_size : ETL_GH_PRS_PAGE,
		.nested = ETL_GH_NESTED_PAGE,
	};
	struct etl_buf what = ETL_BUF_INIT, params = ETL_BUF_INIT;
	struct etl_jdoc d = ETL_JDOC_INIT;
	int64_t since = repo_since(run, r);
	char since_iso[32], *after = NULL, *next;
	int rc;

	if (v.first > ETL_GH_MAX_PAGE)
		v.first = ETL_GH_MAX_PAGE;
	if (since >= 0)
		etl_gh_iso(since, since_iso);
	etl_buf_addf(&what, "pull requests of %s/%s", r->owner, r->name);
	for (;;) {
		uint32_t conn, nodes;
		bool last;

		v.after = after;
		v.skip_gone = !after;
		rc = etl_gh_query(run, s->g, GH_Q_PRS, &v, what.buf, &d);
		if (rc == ETL_GH_NOT_FOUND) {
			rc = ETL_OK;
			break;
		}
		if (rc != ETL_OK) {
			pr_hints(run, r, after, since >= 0 ? since_iso : NULL, &v);
			break;
		}
		pr_params(&params, r, &v, since >= 0 ? since_iso : NULL);
		if ((rc = etl_extract_item(run, "pull_requests", params.buf)) != ETL_OK)
			break;
		conn = etl_jdoc_path(&d, ETL_JDOC_ROOT, "data.repository.pullRequests");
		nodes = etl_jdoc_get(&d, conn, "nodes");
		last = etl_jdoc_count(&d, nodes) == 0 || past_since(&d, nodes, since);
		next = NULL;
		if (!last && (rc = next_cursor(run, &d, conn, after, what.buf, &next)) != ETL_OK)
			break;
		mores_clear(more);
		find_more(&d, nodes, more);
		for (size_t i = 0; i < more->n && rc == ETL_OK; i++)
			rc = attach_more(run, s, &more->v[i], &d);
		/* The page's pull requests are complete: its message may go. */
		if (rc != ETL_OK || (rc = etl_extract_submit(run)) != ETL_OK) {
			if (rc == ETL_TEMPFAIL || rc == ETL_UNAVAIL)
				pr_hints(run, r, after, since >= 0 ? since_iso : NULL, &v);
			free(next);
			break;
		}
		free(after);
		if (!(after = next))
			break;
	}
	free(after);
	etl_jdoc_release(&d);
	etl_buf_release(&what);
	etl_buf_release(&params);
	return rc;
}

static int step_prs(struct etl_extract_run *run, struct gh_state *s)
{
	struct repos list = { NULL, 0, 0 };
	struct mores more = { NULL, 0, 0 };
	int rc = resolve_repos(run, s, &list);

	for (size_t i = 0; i < list.n && rc == ETL_OK; i++)
		rc = repo_prs(run, s, &list.v[i], &more);
	if (rc == ETL_OK)
		etl_info("pull requests of %zu repositories", list.n);
	mores_clear(&more);
	free(more.v);
	repos_clear(&list);
	return rc;
}

/* ----------------------------------------------------------- routing */

static const struct {
	const char *type;
	int (*fn)(struct etl_extract_run *run, struct gh_state *s);
} steps[] = {
	{ "github_repositories", step_repositories },
	{ "github_prs_commits_reviews_comments", step_prs },
};

static int run_step(struct etl_extract_run *run)
{
	const char *type = etl_extract_step(run)->type;
	const struct etl_integration *in = etl_extract_integration(run);
	struct gh_state *s;
	int why = 0;

	for (size_t i = 0; i < ETL_ARRAY_SIZE(steps); i++) {
		if (strcmp(steps[i].type, type))
			continue;
		if (!in->token || !*in->token)
			return etl_extract_failf(run, ETL_CONFIG, "integration %lld has no GitHub "
						 "token: store one (etl-job integration add "
						 "--token-env <var>)", (long long)in->id);
		s = get_state(run, &why);
		if (!s)
			return etl_extract_failf(run, why ? why : ETL_CONFIG,
						 "cannot make a GitHub client for integration %lld",
						 (long long)in->id);
		return steps[i].fn(run, s);
	}
	return etl_extract_failf(run, ETL_DATAERR, "no GitHub extractor for this step");
}

const struct etl_extract_provider etl_github_extract_provider = {
	"github", step_args, from_env, run_step, free_state,
};
