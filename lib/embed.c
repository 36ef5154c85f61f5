/*
 * embed.c - the embedding stage, search and reindex (embed.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "buf.h"
#include "db.h"
#include "embed.h"
#include "log.h"
#include "runstats.h"
#include "status.h"
#include "token.h"
#include "util.h"

/* Namespace of the bridge's point ids: v5(NS, "t<tenant>/<table>/<record id>"). */
#define POINT_NS "e36d5675-5b63-4007-8bae-bb3dc17e33f2"

/* ------------------------------------------------------------ the tables */

/*
 * Every entity query returns the same columns: id, integration_id, ext
 * (the natural key messages carry), title, body (the text to embed), and
 * bridge: the bridge row's content hash, provider, model, dimension and
 * collection joined by U+001F, or NULL.  Parameters: $1 tenant, $2 key
 * (NULL in page mode), $3 integration (NULL: any), $4 after this id, $5 at
 * most this many rows.
 *
 * Names from other tables come from scalar subqueries, not joins: the
 * stage runs one query per message, and planning a five-way join took
 * five times longer than running it.  The bridge lookup matches its
 * unique index column for column (tenant, table, record id); see
 * etl_db_analyze_on_growth() for what keeps the planner on it.
 */
#define BRIDGE(tab, a) \
	", (SELECT concat_ws(chr(31), x.content_hash, x.embedding_provider, " \
	"x.embedding_model, x.vector_dim, x.collection_name) FROM qdrant_vectors x " \
	"WHERE x.tenant_id = " a ".tenant_id AND x.table_name = '" tab "' " \
	"AND x.record_id = " a ".id) AS bridge "
#define SCOPE(a) \
	"WHERE " a ".tenant_id = $1 AND ($3::bigint IS NULL OR " a ".integration_id = $3) "
#define PAGE(a) "AND " a ".id > $4::bigint ORDER BY " a ".id LIMIT $5::int"
#define BY_NOTHING "AND $2::text IS NULL "
#define NAME_OF(tab, col, a, fk) \
	"(SELECT " col " FROM " tab " z " \
	"WHERE z.tenant_id = " a ".tenant_id AND z.id = " a "." fk ")"

#define WORK_ITEMS \
	"SELECT w.id, w.integration_id, w.key AS ext, coalesce(w.summary, w.key) AS title, " \
	"concat_ws(E'\\n', w.key || ': ' || coalesce(w.summary, ''), " \
	"  'Type: ' || coalesce(" NAME_OF("wits", "z.name", "w", "wit_id") ", w.type_name), " \
	"  'Status: ' || coalesce(" NAME_OF("statuses", "z.name", "w", "status_id") \
	"    , w.status_name), " \
	"  'Project: ' || " NAME_OF("projects", "z.key || ' ' || z.name", "w", "project_id") ", " \
	"  'Priority: ' || w.priority, " \
	"  'Labels: ' || nullif(array_to_string(w.labels, ', '), ''), " \
	"  'Components: ' || nullif(array_to_string(w.components, ', '), ''), " \
	"  'Parent: ' || w.parent_key, " \
	"  w.description_text) AS body " BRIDGE("work_items", "w") \
	"FROM work_items w " SCOPE("w") "AND w.deleted_at IS NULL "
static const char sql_wi_key[] = WORK_ITEMS "AND w.key = $2 " PAGE("w");
static const char sql_wi_ext[] = WORK_ITEMS "AND w.external_id = $2 " PAGE("w");
static const char sql_wi_page[] = WORK_ITEMS BY_NOTHING PAGE("w");

#define PROJECTS \
	"SELECT p.id, p.integration_id, p.key AS ext, p.name AS title, " \
	"concat_ws(E'\\n', 'Project ' || p.key || ': ' || p.name, " \
	"  'Type: ' || p.project_type) AS body " BRIDGE("projects", "p") \
	"FROM projects p " SCOPE("p")
static const char sql_proj_key[] = PROJECTS "AND p.key = $2 " PAGE("p");
static const char sql_proj_ext[] = PROJECTS "AND p.external_id = $2 " PAGE("p");
static const char sql_proj_page[] = PROJECTS BY_NOTHING PAGE("p");

#define WITS \
	"SELECT t.id, t.integration_id, t.external_id AS ext, t.name AS title, " \
	"concat_ws(E'\\n', 'Issue type: ' || t.name, t.description) AS body " \
	BRIDGE("wits", "t") "FROM wits t " SCOPE("t")
static const char sql_wit_key[] = WITS "AND t.external_id = $2 " PAGE("t");
static const char sql_wit_page[] = WITS BY_NOTHING PAGE("t");

#define STATUSES \
	"SELECT s.id, s.integration_id, s.external_id AS ext, s.name AS title, " \
	"concat_ws(E'\\n', 'Status: ' || s.name, 'Category: ' || s.category, " \
	"  s.description) AS body " BRIDGE("statuses", "s") "FROM statuses s " SCOPE("s")
static const char sql_st_key[] = STATUSES "AND s.external_id = $2 " PAGE("s");
static const char sql_st_page[] = STATUSES BY_NOTHING PAGE("s");

#define REPOSITORIES \
	"SELECT r.id, r.integration_id, r.external_id AS ext, r.full_name AS title, " \
	"concat_ws(E'\\n', 'Repository ' || r.full_name, " \
	"  'Language: ' || r.primary_language, r.description) AS body " \
	BRIDGE("repositories", "r") "FROM repositories r " SCOPE("r")
static const char sql_repo_key[] = REPOSITORIES "AND r.external_id = $2 " PAGE("r");
static const char sql_repo_ext[] = REPOSITORIES "AND lower(r.full_name) = lower($2) " PAGE("r");
static const char sql_repo_page[] = REPOSITORIES BY_NOTHING PAGE("r");

#define REPO_NAME NAME_OF("repositories", "z.full_name", "r", "repository_id")
#define PRS \
	"SELECT r.id, r.integration_id, r.external_id AS ext, " \
	"coalesce(r.title, " REPO_NAME " || '#' || r.number) AS title, " \
	"concat_ws(E'\\n', " REPO_NAME " || '#' || r.number || ': ' || coalesce(r.title, ''), " \
	"  'State: ' || r.state, 'Author: ' || r.author, " \
	"  'Branch: ' || r.head_ref || ' -> ' || r.base_ref, r.body) AS body " \
	BRIDGE("prs", "r") "FROM prs r " SCOPE("r") "AND r.deleted_at IS NULL "
static const char sql_pr_key[] = PRS "AND r.external_id = $2 " PAGE("r");
static const char sql_pr_ext[] = PRS "AND " REPO_NAME " || '#' || r.number = $2 " PAGE("r");
static const char sql_pr_page[] = PRS BY_NOTHING PAGE("r");

struct entity_table {
	const char *name;
	const char *source;
	const char *by_key;     /* the natural key messages carry */
	const char *by_alt;     /* another name for it (provider id, "owner/repo#12"), or NULL */
	const char *page;       /* reindex: rows in id order */
	const char *key_stmt, *alt_stmt;   /* their prepared statements' names */
};

/* In reindex order: the small catalog tables first. */
static const struct entity_table tables[] = {
	{ "projects", "JIRA", sql_proj_key, sql_proj_ext, sql_proj_page,
	  "embed_projects_key", "embed_projects_alt" },
	{ "wits", "JIRA", sql_wit_key, NULL, sql_wit_page, "embed_wits_key", NULL },
	{ "statuses", "JIRA", sql_st_key, NULL, sql_st_page, "embed_statuses_key", NULL },
	{ "work_items", "JIRA", sql_wi_key, sql_wi_ext, sql_wi_page,
	  "embed_work_items_key", "embed_work_items_alt" },
	{ "repositories", "GITHUB", sql_repo_key, sql_repo_ext, sql_repo_page,
	  "embed_repositories_key", "embed_repositories_alt" },
	{ "prs", "GITHUB", sql_pr_key, sql_pr_ext, sql_pr_page, "embed_prs_key", "embed_prs_alt" },
};

static const struct entity_table *table_find(const char *name)
{
	for (size_t i = 0; i < ETL_ARRAY_SIZE(tables); i++)
		if (!strcmp(tables[i].name, name))
			return &tables[i];
	return NULL;
}

const char *etl_embed_source_name(const char *s)
{
	if (!strcasecmp(s, "JIRA"))
		return "JIRA";
	if (!strcasecmp(s, "GITHUB"))
		return "GITHUB";
	return NULL;
}

/* ------------------------------------------------------------- the work */

struct embed_ctx {
	const struct etl_embed_opts *o;
	struct etl_db *db;
	struct etl_embedder *emb;
	struct etl_vstore *store;
	const char *provider;      /* the provider's table name */
	long embedded, unchanged, missing;
	struct etl_db_growth bridge;  /* bridge rows written by this process */
	struct etl_runstats_acc runs; /* counters not yet added to their run */
	int64_t embedding_ms;      /* ... and the time spent computing them */
	struct etl_buf line;
};

/* One entity row on its way to a vector. */
struct item {
	int64_t id, integration_id;
	char *ext, *title, *text;
	size_t tlen;
	bool todo;                 /* to embed */
	char hash[65];
	char point_id[ETL_TOKEN_LEN + 1];
	/* the bridge row, if any */
	char *b_hash, *b_provider, *b_model, *b_collection;
	int64_t b_dim;
};

static void items_free(struct item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(it[i].ext);
		free(it[i].title);
		free(it[i].text);
		free(it[i].b_hash);
		free(it[i].b_provider);
		free(it[i].b_model);
		free(it[i].b_collection);
	}
	free(it);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Cut @s at @max bytes, on a character boundary. */
static size_t cap_text(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

static void sha256_hex(const char *s, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		etl_die(ETL_SOFTWARE, "SHA-256 failed");
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* Connect on first use, and again after the connection was lost. */
static int db_ready(struct embed_ctx *c, int *why)
{
	if (c->db)
		return 0;
	c->db = etl_db_connect(c->o->dsn, why);
	return c->db ? 0 : -1;
}

static void db_failed(struct embed_ctx *c, int why)
{
	if (why == ETL_UNAVAIL) {
		etl_db_close(c->db);
		c->db = NULL;
	}
}

/* The bridge column: hash, provider, model, dimension, collection, split
 * at U+001F (NULL: no bridge row). */
static void split_bridge(struct item *it, const char *b)
{
	char *f[5] = { NULL }, *copy, *p;
	int n = 0;

	if (!b)
		return;
	copy = xstrdup(b);
	for (p = copy; n < 5; n++) {
		char *sep = strchr(p, 0x1f);

		f[n] = p;
		if (!sep)
			break;
		*sep = '\0';
		p = sep + 1;
	}
	if (n == 4) {
		it->b_hash = xstrdup(f[0]);
		it->b_provider = xstrdup(f[1]);
		it->b_model = xstrdup(f[2]);
		if (etl_parse_i64(f[3], &it->b_dim) < 0)
			it->b_dim = 0;
		it->b_collection = xstrdup(f[4]);
	}
	free(copy);
}

/* Run one entity query (a prepared statement when @stmt names one); the
 * rows become items (caller frees). */
static int load_items(struct embed_ctx *c, const char *stmt, const char *sql, int64_t tenant,
		      const char *key, int64_t integration, int64_t after, int limit,
		      struct item **out, size_t *n, int *why)
{
	char tn[24], in[24], af[24], lim[16];
	const char *vals[5];
	struct etl_db_res *res;
	struct item *it;
	int rows;

	snprintf(tn, sizeof(tn), "%lld", (long long)tenant);
	snprintf(in, sizeof(in), "%lld", (long long)integration);
	snprintf(af, sizeof(af), "%lld", (long long)after);
	snprintf(lim, sizeof(lim), "%d", limit);
	vals[0] = tn;
	vals[1] = key;
	vals[2] = integration ? in : NULL;
	vals[3] = af;
	vals[4] = lim;
	res = stmt ? etl_db_exec_named(c->db, stmt, sql, vals, NULL, 5, 0, why) :
		etl_db_exec(c->db, sql, vals, 5, why);
	if (!res)
		return -1;
	rows = etl_db_nrows(res);
	it = xcalloc(rows ? (size_t)rows : 1, sizeof(*it));
	for (int r = 0; r < rows; r++) {
		const char *body = etl_db_value(res, r, "body");

		etl_db_int64(res, r, "id", &it[r].id);
		if (etl_db_int64(res, r, "integration_id", &it[r].integration_id) != 0)
			it[r].integration_id = 0;
		it[r].ext = xstrdup(etl_db_value(res, r, "ext") ? etl_db_value(res, r, "ext") : "");
		it[r].title = dup_or_null(etl_db_value(res, r, "title"));
		body = body ? body : "";
		it[r].tlen = cap_text(body, strlen(body), ETL_EMBED_MAX_TEXT);
		it[r].text = xstrndup(body, it[r].tlen);
		split_bridge(&it[r], etl_db_value(res, r, "bridge"));
	}
	etl_db_clear(res);
	*out = it;
	*n = (size_t)rows;
	return 0;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * Embed and store the items of @t that need it (all of them with @force);
 * *done counts them.  0, or -1 with *why and @reason set.
 */
static int embed_items(struct embed_ctx *c, const struct entity_table *t, int64_t tenant,
		       struct item *it, size_t n, bool force, size_t *done,
		       char *reason, size_t rlen, int *why)
{
	const char **texts = xcalloc(n + 1, sizeof(*texts));
	size_t *lens = xcalloc(n + 1, sizeof(*lens));
	struct etl_vrec *recs = xcalloc(n + 1, sizeof(*recs));
	float *vecs = NULL;
	char coll[96] = "", name[96];
	size_t k = 0;
	int64_t t0;
	int ret = -1;

	*done = 0;
	if (c->emb->dim)
		c->store->ops->collection(c->store, tenant, c->emb->dim, coll, sizeof(coll));
	for (size_t i = 0; i < n; i++) {
		sha256_hex(it[i].text, it[i].tlen, it[i].hash);
		it[i].todo = force || !same(it[i].b_hash, it[i].hash) ||
			!same(it[i].b_provider, c->provider) ||
			!same(it[i].b_model, c->emb->model) ||
			(c->emb->dim && (it[i].b_dim != c->emb->dim ||
					 !same(it[i].b_collection, coll)));
		if (!it[i].todo)
			continue;
		texts[k] = it[i].text;
		lens[k] = it[i].tlen;
		k++;
	}
	if (!k) {
		ret = 0;
		goto out;
	}
	t0 = etl_now_ms();
	if (etl_embedder_embed(c->emb, texts, lens, k, &vecs, why) < 0) {
		snprintf(reason, rlen, "%s", c->emb->reason);
		goto out;
	}
	c->embedding_ms += etl_now_ms() - t0;
	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct etl_vrec *r;

		if (!it[i].todo)
			continue;
		r = &recs[k];
		snprintf(name, sizeof(name), "t%lld/%s/%lld", (long long)tenant, t->name,
			 (long long)it[i].id);
		if (etl_token_v5(POINT_NS, name, strlen(name), it[i].point_id) < 0)
			etl_die(ETL_SOFTWARE, "cannot make a UUID v5");
		r->record_id = it[i].id;
		r->integration_id = it[i].integration_id;
		r->source_type = t->source;
		r->table_name = t->name;
		r->external_id = it[i].ext;
		r->title = it[i].title;
		memcpy(r->content_hash, it[i].hash, sizeof(r->content_hash));
		memcpy(r->point_id, it[i].point_id, sizeof(r->point_id));
		r->vec = vecs + k * (size_t)c->emb->dim;
		k++;
	}
	{
		struct etl_vmeta m = { tenant, c->emb->dim, c->provider, c->emb->model };

		if (c->store->ops->put(c->store, c->db, &m, recs, k, why) < 0) {
			snprintf(reason, rlen, "%s", *c->store->reason ? c->store->reason :
				 "cannot store the vectors");
			goto out;
		}
	}
	*done = k;
	/* The entity queries look the bridge up by its unique index: only
	 * fresh statistics keep the planner on it. */
	etl_db_analyze_on_growth(c->db, "qdrant_vectors", &c->bridge, (int64_t)k);
	ret = 0;
out:
	free(texts);
	free(lens);
	free(recs);
	free(vecs);
	return ret;
}

/* ------------------------------------------------------------- the stage */

static void add_common(struct etl_buf *b, const struct etl_msg *m)
{
	const char *prov;
	size_t plen;

	etl_buf_addf(b, "{\"tenant_id\":%lld,\"job_id\":", (long long)m->tenant_id);
	if (m->job_id)
		etl_buf_addf(b, "%lld", (long long)m->job_id);
	else
		etl_buf_adds(b, "null");
	etl_buf_addf(b, ",\"token\":\"%s\",\"type\":\"%s\"", m->token, m->step->type);
	prov = etl_msg_get_raw(m, "provider", &plen);
	if (prov) {
		etl_buf_adds(b, ",\"provider\":");
		etl_buf_add(b, prov, plen);
	}
	etl_buf_addf(b, ",\"first_item\":%s,\"last_item\":%s,\"last_job_item\":%s",
		     m->first_item ? "true" : "false", m->last_item ? "true" : "false",
		     m->last_job_item ? "true" : "false");
}

static int set_stage(struct embed_ctx *c, struct etl_stage_ctx *st, const struct etl_msg *m,
		     const char *state, int *why)
{
	/* (running never follows finished: another worker may have handled
	 * the step's last message before this one its first; status.h) */
	if (etl_status_set_stage(c->db, m->job_id, m->token, m->step, ETL_STAGE_EMBEDDING,
				 state, why) < 0) {
		etl_stage_set_reason(st, "cannot set the embedding status of job %lld to %s",
				     (long long)m->job_id, state);
		return -1;
	}
	return 0;
}

/* The run's counters (etl-job runs) for one message: what it embedded,
 * the provider's calls and time since they were @calls0 and @ms0; added
 * in batches, and at a step's first and last message. */
static void add_metrics(struct embed_ctx *c, const struct etl_msg *m, long calls0,
			int64_t ms0, size_t done)
{
	struct etl_runstats rs = ETL_RUNSTATS_INIT(ETL_STAGE_EMBEDDING);

	if (!m->job_id || !c->db)
		return;
	rs.step = m->step->type;
	rs.records = (int64_t)done;
	rs.messages = 1;
	/* The hash embedder runs here: only a remote provider's calls count. */
	if (strcmp(c->provider, "hash"))
		rs.api_calls = c->emb->calls - calls0;
	rs.vectors_queued = (int64_t)done;
	rs.embedding_ms = c->embedding_ms - ms0;
	rs.peak_rss_kb = etl_runstats_peak_rss_kb();
	etl_runstats_acc_add(c->db, &c->runs, m->token, &rs,
			     m->first_item || m->last_item || m->last_job_item);
}

static int on_message(struct etl_stage_ctx *st, struct etl_msg *m, void *arg)
{
	struct embed_ctx *c = arg;
	const struct entity_table *t = NULL;
	struct item *it = NULL;
	size_t n = 0, done = 0;
	char *table = NULL, *key = NULL, reason[320];
	const char *status = "completion";
	int64_t integration = 0;
	int why = ETL_OK, completed = -1;
	bool completion = etl_msg_is_null(m, "external_id");
	long calls0 = c->emb->calls;
	int64_t ms0 = c->embedding_ms;

	if (m->job_id)
		etl_log_set_job((long)m->job_id, m->token);
	if (db_ready(c, &why) < 0) {
		etl_stage_set_reason(st, "cannot connect to PostgreSQL");
		return why;
	}
	if (m->job_id && m->first_item && !m->last_item &&
	    set_stage(c, st, m, ETL_ST_RUNNING, &why) < 0)
		goto fail;
	if (!completion) {
		const char *raw;
		size_t rl;

		table = etl_msg_get_str(m, "table_name");
		key = etl_msg_get_str(m, "external_id");
		if (!key && (raw = etl_msg_get_raw(m, "external_id", &rl)) != NULL)
			key = xstrndup(raw, rl);   /* a number */
		if (etl_msg_get_i64(m, "integration_id", &integration) != 0)
			integration = 0;
		t = table ? table_find(table) : NULL;
		if (!t) {
			etl_warn("no embedding for table '%s': not one of work_items, projects, "
				 "wits, statuses, prs, repositories", table ? table : "");
			status = "unsupported";
		} else {
			if (load_items(c, t->key_stmt, t->by_key, m->tenant_id, key, integration,
				       0, 100, &it, &n, &why) < 0)
				goto dbfail;
			if (!n && t->by_alt) {
				items_free(it, n);
				it = NULL;
				if (load_items(c, t->alt_stmt, t->by_alt, m->tenant_id, key,
					       integration, 0, 100, &it, &n, &why) < 0)
					goto dbfail;
			}
			if (!n) {
				size_t gone = 0;

				/* Gone from its table (or soft-deleted): so are its vectors. */
				if (c->store->ops->forget(c->store, c->db, m->tenant_id,
							  t->name, key, &gone, &why) < 0) {
					etl_stage_set_reason(st, "%s %s: %s", t->name, key,
							     c->store->reason);
					db_failed(c, why);
					goto out;
				}
				status = gone ? "deleted" : "missing";
				c->missing++;
			} else if (embed_items(c, t, m->tenant_id, it, n, false, &done, reason,
					       sizeof(reason), &why) < 0) {
				etl_stage_set_reason(st, "%s %s: %s", t->name, key, reason);
				db_failed(c, why);
				goto out;
			} else if (done) {
				status = "embedded";
				c->embedded++;
			} else {
				status = "unchanged";
				c->unchanged++;
			}
		}
	}
	if (m->job_id && m->last_item && set_stage(c, st, m, ETL_ST_FINISHED, &why) < 0)
		goto fail;
	/* Before the run can end below, so its row has every count. */
	add_metrics(c, m, calls0, ms0, done);
	if (m->job_id && m->last_job_item) {
		char *lsd = etl_msg_get_str(m, "last_sync_date");
		int rc = etl_status_complete(c->db, m->job_id, m->token, lsd, &why);

		free(lsd);
		if (rc < 0) {
			etl_stage_set_reason(st, "cannot complete job %lld", (long long)m->job_id);
			goto fail;
		}
		completed = rc == 0;
		if (completed)
			etl_info("job %lld completed", (long long)m->job_id);
		else
			etl_info("job %lld was already completed (or is not running this run)",
				 (long long)m->job_id);
	}
	etl_buf_reset(&c->line);
	add_common(&c->line, m);
	etl_buf_adds(&c->line, ",\"table\":");
	if (table)
		etl_buf_add_json_str(&c->line, table, strlen(table));
	else
		etl_buf_adds(&c->line, "null");
	etl_buf_adds(&c->line, ",\"external_id\":");
	if (n == 1)
		etl_buf_add_json_str(&c->line, it[0].ext, strlen(it[0].ext));
	else if (key)
		etl_buf_add_json_str(&c->line, key, strlen(key));
	else
		etl_buf_adds(&c->line, "null");
	etl_buf_addf(&c->line, ",\"status\":\"%s\"", status);
	if (completed >= 0)
		etl_buf_addf(&c->line, ",\"job_completed\":%s", completed ? "true" : "false");
	etl_buf_addch(&c->line, '}');
	if (etl_stage_emit(st, ETL_DEST_NEXT, c->line.buf, c->line.len) < 0) {
		etl_stage_set_reason(st, "cannot write the result");
		why = ETL_UNAVAIL;
	}
	goto out;
dbfail:
	etl_stage_set_reason(st, "cannot load %s '%s': %s", t->name, key ? key : "",
			     c->db && etl_db_last_error(c->db)->message ?
			     etl_db_last_error(c->db)->message : "database error");
fail:
	db_failed(c, why);
out:
	items_free(it, n);
	free(table);
	free(key);
	return why;
}

static int open_parts(struct embed_ctx *c, const struct etl_embed_opts *o, int *why)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->emb = etl_embedder_open(&o->embedder, why);
	if (!c->emb)
		return -1;
	c->provider = c->emb->ops->name;
	c->store = etl_vstore_open(&o->store, why);
	if (!c->store)
		return -1;
	return 0;
}

static void close_parts(struct embed_ctx *c)
{
	etl_runstats_acc_flush(c->db, &c->runs);
	etl_vstore_close(c->store);
	etl_embedder_close(c->emb);
	etl_db_close(c->db);
	etl_buf_release(&c->line);
}

int etl_embed_run(const struct etl_embed_opts *o)
{
	struct etl_stage_opts so = o->stage;
	struct embed_ctx c;
	int why = ETL_OK, rc;

	if (open_parts(&c, o, &why) < 0) {
		close_parts(&c);
		return why;
	}
	so.input = ETL_STAGE_EMBEDDING;
	rc = etl_stage_run(&so, on_message, &c);
	etl_info("%ld embedded, %ld unchanged, %ld missing; %ld provider calls, %ld store requests",
		 c.embedded, c.unchanged, c.missing, c.emb->calls, c.store->requests);
	close_parts(&c);
	return rc;
}

/* ---------------------------------------------------------------- search */

static void print_hits(const struct etl_vhits *h, bool table, FILE *out)
{
	struct etl_buf b = ETL_BUF_INIT;

	if (table && h->n)
		fprintf(out, "%-7s %-12s %-16s %s\n", "SCORE", "TABLE", "EXTERNAL_ID", "TITLE");
	for (size_t i = 0; i < h->n; i++) {
		const struct etl_vhit *x = &h->h[i];

		if (table) {
			fprintf(out, "%-7.4f %-12s %-16s %s\n", (double)x->score, x->table_name,
				x->external_id, x->title);
			continue;
		}
		etl_buf_reset(&b);
		etl_buf_addf(&b, "{\"score\":%.6f,\"table\":", (double)x->score);
		etl_buf_add_json_str(&b, x->table_name, strlen(x->table_name));
		etl_buf_adds(&b, ",\"external_id\":");
		etl_buf_add_json_str(&b, x->external_id, strlen(x->external_id));
		etl_buf_adds(&b, ",\"title\":");
		etl_buf_add_json_str(&b, x->title, strlen(x->title));
		etl_buf_adds(&b, "}\n");
		fwrite(b.buf, 1, b.len, out);
	}
	etl_buf_release(&b);
}

int etl_embed_search(const struct etl_embed_opts *o, const char *text, int64_t tenant,
		     const char *source, int limit, bool table, FILE *out)
{
	struct embed_ctx c;
	struct etl_vhits hits = { NULL, 0 };
	float *q = NULL;
	size_t len = cap_text(text, strlen(text), ETL_EMBED_MAX_TEXT);
	int why = ETL_OK;

	if (open_parts(&c, o, &why) < 0)
		goto out;
	if (etl_embedder_embed(c.emb, &text, &len, 1, &q, &why) < 0) {
		etl_error("cannot embed the query: %s", c.emb->reason);
		goto out;
	}
	/* The pg store reads PostgreSQL; qdrant needs no database to search. */
	if (c.store->ops == &etl_vstore_pg && db_ready(&c, &why) < 0)
		goto out;
	{
		struct etl_vquery vq = { tenant, source, q, c.emb->dim, c.emb->model,
					 (size_t)(limit > 0 ? limit : 10) };

		if (c.store->ops->search(c.store, c.db, &vq, &hits, &why) < 0) {
			if (*c.store->reason)
				etl_error("search failed: %s", c.store->reason);
			goto out;
		}
	}
	print_hits(&hits, table, out);
	why = ETL_OK;
out:
	etl_vhits_release(&hits);
	free(q);
	close_parts(&c);
	return why;
}

/* --------------------------------------------------------------- reindex */

static const char sql_lock[] =
	"SELECT pg_try_advisory_lock(hashtextextended('etl-embed reindex ' || $1 || ' ' || $2, 0)) "
	"AS locked";
static const char sql_state[] =
	"SELECT provider, model, dim, store, table_name, last_record_id, embedded, "
	"  finished_at IS NULL AS open FROM embed_reindex "
	"WHERE tenant_id = $1 AND source_type = $2";
static const char sql_state_start[] =
	"INSERT INTO embed_reindex (tenant_id, source_type, provider, model, dim, store, "
	"  table_name) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	"ON CONFLICT (tenant_id, source_type) DO UPDATE SET provider = excluded.provider, "
	"  model = excluded.model, dim = excluded.dim, store = excluded.store, "
	"  table_name = excluded.table_name, last_record_id = 0, embedded = 0, "
	"  started_at = now(), last_updated_at = now(), finished_at = NULL";
static const char sql_state_step[] =
	"UPDATE embed_reindex SET table_name = $3, last_record_id = $4, "
	"  embedded = embedded + $5, dim = coalesce($6, dim), last_updated_at = now() "
	"WHERE tenant_id = $1 AND source_type = $2";
static const char sql_state_done[] =
	"UPDATE embed_reindex SET finished_at = now(), last_updated_at = now() "
	"WHERE tenant_id = $1 AND source_type = $2 RETURNING embedded";

static int exec_simple(struct etl_db *db, const char *sql, const char *const *vals, int n,
		       int *why)
{
	struct etl_db_res *res = etl_db_exec(db, sql, vals, n, why);

	if (!res)
		return -1;
	etl_db_clear(res);
	return 0;
}

int etl_embed_reindex(const struct etl_embed_opts *o, int64_t tenant, const char *source,
		      bool restart, FILE *out)
{
	struct embed_ctx c;
	const char *src = source ? source : "ALL";
	char tn[24], dimtxt[16], last[24], cnt[24];
	const char *vals[7];
	struct etl_db_res *res = NULL;
	size_t first = 0, total = 0, nt = ETL_ARRAY_SIZE(tables);
	int64_t after = 0, before = 0, t0 = etl_now_ms();
	int batch = o->batch > 0 ? o->batch : 256, why = ETL_OK, ret;
	bool resumed = false;
	char reason[320];

	ret = ETL_OK;
	if (open_parts(&c, o, &why) < 0 || db_ready(&c, &why) < 0)
		goto done;
	snprintf(tn, sizeof(tn), "%lld", (long long)tenant);
	vals[0] = tn;
	vals[1] = src;
	res = etl_db_exec(c.db, sql_lock, vals, 2, &why);
	if (!res)
		goto done;
	if (!etl_db_bool(res, 0, "locked")) {
		why = ETL_TEMPFAIL;
		etl_error("another reindex of tenant %lld (%s) is running", (long long)tenant, src);
		goto done;
	}
	etl_db_clear(res);
	res = etl_db_exec(c.db, sql_state, vals, 2, &why);
	if (!res)
		goto done;
	if (etl_db_nrows(res) && !restart && etl_db_bool(res, 0, "open") &&
	    same(etl_db_value(res, 0, "provider"), c.provider) &&
	    same(etl_db_value(res, 0, "model"), c.emb->model) &&
	    same(etl_db_value(res, 0, "store"), c.store->ops->name)) {
		int64_t d = 0;
		const char *tab = etl_db_value(res, 0, "table_name");

		if (etl_db_int64(res, 0, "dim", &d) != 0 || !c.emb->dim || d == c.emb->dim) {
			for (size_t i = 0; i < nt; i++)
				if (same(tables[i].name, tab))
					first = i;
			etl_db_int64(res, 0, "last_record_id", &after);
			etl_db_int64(res, 0, "embedded", &before);
			resumed = true;
			etl_info("resuming the reindex of tenant %lld (%s) at %s after id %lld",
				 (long long)tenant, src, tab, (long long)after);
		}
	}
	etl_db_clear(res);
	res = NULL;
	if (!resumed) {
		snprintf(dimtxt, sizeof(dimtxt), "%d", c.emb->dim);
		vals[2] = c.provider;
		vals[3] = c.emb->model;
		vals[4] = c.emb->dim ? dimtxt : NULL;
		vals[5] = c.store->ops->name;
		vals[6] = tables[0].name;
		if (exec_simple(c.db, sql_state_start, vals, 7, &why) < 0)
			goto done;
	}
	for (size_t ti = first; ti < nt; ti++) {
		const struct entity_table *t = &tables[ti];

		if (source && strcmp(t->source, source))
			continue;
		if (ti != first)
			after = 0;
		for (;;) {
			struct item *it = NULL;
			size_t n = 0, done = 0;

			if (etl_stop_requested) {
				why = ETL_TEMPFAIL;
				etl_warn("interrupted: rerun to continue the reindex");
				goto done;
			}
			if (load_items(&c, NULL, t->page, tenant, NULL, 0, after, batch, &it, &n,
				       &why) < 0)
				goto done;
			if (!n) {
				items_free(it, n);
				break;
			}
			if (embed_items(&c, t, tenant, it, n, true, &done, reason, sizeof(reason),
					&why) < 0) {
				items_free(it, n);
				etl_error("reindex stopped at %s after id %lld: %s "
					  "(rerun to continue)", t->name, (long long)after, reason);
				goto done;
			}
			after = it[n - 1].id;
			items_free(it, n);
			total += done;
			snprintf(last, sizeof(last), "%lld", (long long)after);
			snprintf(cnt, sizeof(cnt), "%zu", done);
			snprintf(dimtxt, sizeof(dimtxt), "%d", c.emb->dim);
			vals[2] = t->name;
			vals[3] = last;
			vals[4] = cnt;
			vals[5] = c.emb->dim ? dimtxt : NULL;
			if (exec_simple(c.db, sql_state_step, vals, 6, &why) < 0)
				goto done;
			etl_info("reindex: %s up to id %lld, %zu embedded", t->name,
				 (long long)after, total);
		}
		/* The next table starts from its first row, also after a crash here. */
		if (ti + 1 < nt) {
			vals[2] = tables[ti + 1].name;
			vals[3] = "0";
			vals[4] = "0";
			vals[5] = NULL;
			if (exec_simple(c.db, sql_state_step, vals, 6, &why) < 0)
				goto done;
		}
	}
	if (exec_simple(c.db, sql_state_done, vals, 2, &why) < 0)
		goto done;
	fprintf(out, "{\"tenant_id\":%lld,\"source\":\"%s\",\"embedded\":%zu,\"total\":%lld,"
		"\"resumed\":%s,\"provider\":\"%s\",\"model\":",
		(long long)tenant, src, total, (long long)(before + (int64_t)total),
		resumed ? "true" : "false", c.provider);
	{
		struct etl_buf b = ETL_BUF_INIT;

		etl_buf_add_json_str(&b, c.emb->model, strlen(c.emb->model));
		fprintf(out, "%s,\"dim\":%d,\"store\":\"%s\",\"seconds\":%.3f}\n", b.buf,
			c.emb->dim, c.store->ops->name, (double)(etl_now_ms() - t0) / 1000.0);
		etl_buf_release(&b);
	}
	why = ETL_OK;
done:
	etl_db_clear(res);
	if (c.emb)
		close_parts(&c);
	ret = why;
	return ret;
}
