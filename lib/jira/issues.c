/*
 * search_jql pages: work items, their changelogs and workflow metrics.
 *
 * An issue's complete history is its embedded changelog (truncated by
 * Jira) merged with the attached changelog pages (bulkfetch or per-issue),
 * by history id; then sorted by (created, id) and read once: changelog
 * rows, status transitions for the metrics, time in each status.
 */
#include <stdlib.h>
#include <string.h>

#include "exit.h"
#include "jira/adf.h"
#include "jira/tx.h"
#include "log.h"
#include "util.h"

/* A history of the issue being mapped: where it is, and its sort keys. */
struct hist {
	uint32_t doc, node;
	int64_t at;          /* created, epoch ms */
	int64_t idnum;       /* the id as a number, or -1 */
	uint32_t id_off, id_len;   /* the id's raw bytes in its document */
	uint32_t nitems;
};

/* Attached histories by issue reference (an id or a key). */
struct ext_hist {
	const char *ref;     /* into refs */
	size_t ref_len;
	uint32_t doc, node;
};

struct page {
	struct etl_tx *tx;
	struct etl_jdoc *docs;   /* 0: the page; 1..: attached */
	size_t ndocs;
	struct ext_hist *ext;
	size_t next;
	struct etl_buf refs;     /* decoded references, NUL-separated */
	struct jira_catalog cat;            /* the database's (empty in a dry run) */
	struct jira_status_map *db_steps;   /* &cat.steps */
	struct jira_status_map page_st;     /* statuses this page embeds */
	struct jira_status_map *dry;        /* statuses seen in this run */
	struct jira_status_map done_prj, done_wit, done_st;   /* placeholders made */
	struct etl_buf prj_ids, wit_ids;    /* text[] literals of the page's */
	bool truncated_any;                 /* an issue needs attached histories */
	struct hist *h;
	size_t nh, ah;
	struct etl_wf_transition *tr;
	size_t ntr, atr;
	struct etl_buf scratch, scratch2, text, overflow, arr;
	long truncated, skipped;
};

static int cmp_ext(const void *a, const void *b)
{
	const struct ext_hist *x = a, *y = b;
	size_t n = x->ref_len < y->ref_len ? x->ref_len : y->ref_len;
	int c = memcmp(x->ref, y->ref, n);

	return c ? c : (x->ref_len > y->ref_len) - (x->ref_len < y->ref_len);
}

static void add_ext(struct page *pg, size_t ref_off, size_t ref_len, uint32_t doc,
		    uint32_t node)
{
	pg->ext = xrealloc(pg->ext, (pg->next + 1) * sizeof(*pg->ext));
	pg->ext[pg->next].ref = (const char *)(uintptr_t)ref_off;   /* fixed later */
	pg->ext[pg->next].ref_len = ref_len;
	pg->ext[pg->next].doc = doc;
	pg->ext[pg->next].node = node;
	pg->next++;
}

static size_t add_ref(struct page *pg, const char *s, size_t len)
{
	size_t off = pg->refs.len;

	etl_buf_add(&pg->refs, s, len);
	etl_buf_addch(&pg->refs, '\0');
	return off;
}

/* The issue a per-issue changelog page is for: .../issue/{ref}/changelog. */
static const char *issue_of_url(const char *url, size_t *len)
{
	const char *p, *end;

	if (!url || !(p = strstr(url, "/issue/")))
		return NULL;
	p += 7;
	end = strstr(p, "/changelog");
	if (!end || end == p)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}

/* Parse the attached pages and index their histories by issue. */
static int index_attached(struct page *pg)
{
	struct etl_tx *tx = pg->tx;
	size_t n = etl_tx_nattached(tx);
	char err[160];

	for (size_t i = 0; i < n; i++) {
		struct etl_jdoc *d = &pg->docs[i + 1];
		const char *data, *kind, *url;
		size_t len, rl;
		uint32_t logs, vals;

		data = etl_tx_attached(tx, i, &len, &kind, &url);
		if (etl_jdoc_parse(d, data, len, err, sizeof(err)) < 0)
			return etl_tx_fail(tx, ETL_DATAERR, "changelog page %zu of raw row: "
					   "not JSON (%s): the issues' metrics would be "
					   "wrong", i + 1, err);
		logs = etl_jdoc_get(d, ETL_JDOC_ROOT, "issueChangeLogs");
		vals = etl_jdoc_get(d, ETL_JDOC_ROOT, "values");
		if (etl_jdoc_kind(d, logs) == ETL_JSON_ARRAY) {
			for (uint32_t l = etl_jdoc_first(d, logs); l; l = etl_jdoc_next(d, l)) {
				const char *ref = jira_str(d, etl_jdoc_get(d, l, "issueId"),
							   &pg->scratch, &rl);
				uint32_t hs = etl_jdoc_get(d, l, "changeHistories");
				size_t off;

				if (!ref)
					continue;
				off = add_ref(pg, ref, rl);
				for (uint32_t h = etl_jdoc_first(d, hs); h; h = etl_jdoc_next(d, h))
					add_ext(pg, off, rl, (uint32_t)(i + 1), h);
			}
		} else if (etl_jdoc_kind(d, vals) == ETL_JSON_ARRAY) {
			const char *ref = issue_of_url(url, &rl);
			char *self = NULL;
			size_t off;

			if (!ref) {
				self = etl_jdoc_strdup(d, etl_jdoc_get(d, ETL_JDOC_ROOT, "self"));
				ref = issue_of_url(self, &rl);
			}
			if (!ref) {
				free(self);
				return etl_tx_fail(tx, ETL_DATAERR, "changelog page %zu: cannot "
						   "tell which issue it is for (no issue in "
						   "its URL)", i + 1);
			}
			off = add_ref(pg, ref, rl);
			free(self);
			for (uint32_t h = etl_jdoc_first(d, vals); h; h = etl_jdoc_next(d, h))
				add_ext(pg, off, rl, (uint32_t)(i + 1), h);
		} else {
			return etl_tx_fail(tx, ETL_DATAERR, "changelog page %zu (%s) has "
					   "neither issueChangeLogs nor values", i + 1,
					   kind ? kind : "?");
		}
	}
	for (size_t i = 0; i < pg->next; i++)
		pg->ext[i].ref = pg->refs.buf + (uintptr_t)pg->ext[i].ref;
	if (pg->next)
		qsort(pg->ext, pg->next, sizeof(*pg->ext), cmp_ext);
	return ETL_OK;
}

/* --- one issue */

static void add_hist(struct page *pg, uint32_t doc, uint32_t node)
{
	const struct etl_jdoc *d = &pg->docs[doc];
	uint32_t id = etl_jdoc_get(d, node, "id");
	struct hist *h;

	if (pg->nh == pg->ah) {
		pg->ah = pg->ah ? 2 * pg->ah : 64;
		pg->h = xrealloc(pg->h, pg->ah * sizeof(*pg->h));
	}
	h = &pg->h[pg->nh++];
	h->doc = doc;
	h->node = node;
	if (jira_time(d, etl_jdoc_get(d, node, "created"), &h->at) != 0)
		h->at = INT64_MIN;
	if (etl_jdoc_i64(d, id, &h->idnum) < 0)
		h->idnum = -1;
	h->id_off = id ? d->n[id].off : 0;
	h->id_len = id ? d->n[id].len : 0;
	h->nitems = d->n[etl_jdoc_get(d, node, "items")].count;
}

static const struct page *sort_page;   /* qsort has no context argument */

static int cmp_id(const struct hist *x, const struct hist *y)
{
	const char *a = sort_page->docs[x->doc].text + x->id_off;
	const char *b = sort_page->docs[y->doc].text + y->id_off;
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
	int c;

	if (x->idnum != y->idnum)
		return x->idnum < y->idnum ? -1 : 1;
	c = memcmp(a, b, n);
	return c ? c : (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

static int cmp_hist_id(const void *a, const void *b)
{
	const struct hist *x = a, *y = b;
	int c = cmp_id(x, y);

	/* Equal ids: the fuller copy first (bulkfetch may filter items). */
	if (c == 0)
		c = (x->nitems < y->nitems) - (x->nitems > y->nitems);
	return c;
}

static int cmp_hist_time(const void *a, const void *b)
{
	const struct hist *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return cmp_id(x, y);
}

/* Histories: embedded plus attached (by id and by key), merged by id. */
static void collect(struct page *pg, uint32_t issue, const char *id, size_t idlen,
		    const char *key, size_t keylen)
{
	const struct etl_jdoc *d = &pg->docs[0];
	uint32_t hs = etl_jdoc_path(d, issue, "changelog.histories");
	size_t w = 0;

	pg->nh = 0;
	for (uint32_t h = etl_jdoc_first(d, hs); h; h = etl_jdoc_next(d, h))
		add_hist(pg, 0, h);
	for (int pass = 0; pass < 2 && pg->next; pass++) {
		struct ext_hist probe = { pass ? key : id, pass ? keylen : idlen, 0, 0 };
		size_t lo = 0, hi = pg->next;

		if (!probe.ref || !probe.ref_len)
			continue;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cmp_ext(&pg->ext[mid], &probe) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < pg->next && cmp_ext(&pg->ext[lo], &probe) == 0; lo++)
			add_hist(pg, pg->ext[lo].doc, pg->ext[lo].node);
	}
	if (!pg->nh)
		return;
	sort_page = pg;
	qsort(pg->h, pg->nh, sizeof(*pg->h), cmp_hist_id);
	for (size_t r = 0; r < pg->nh; r++)
		if (w == 0 || pg->h[r].id_len == 0 || cmp_id(&pg->h[w - 1], &pg->h[r]))
			pg->h[w++] = pg->h[r];
	pg->nh = w;
	qsort(pg->h, pg->nh, sizeof(*pg->h), cmp_hist_time);
	sort_page = NULL;
}

/* The workflow step of status @id (@len bytes). */
static enum etl_wf_step step_of(struct page *pg, const char *id, size_t len)
{
	const struct jira_status *s;

	if (!id)
		return ETL_WF_UNKNOWN;
	if ((s = jira_smap_get(pg->db_steps, id, len)) ||
	    (s = jira_smap_get(&pg->page_st, id, len)) ||
	    (s = jira_smap_get(pg->dry, id, len)))
		return s->step;
	return ETL_WF_UNKNOWN;
}

static void placeholder_status(struct page *pg, const char *id, size_t idlen,
			       const char *name, size_t namelen)
{
	const struct jira_status *s;
	struct etl_tx *tx = pg->tx;

	if (!id || !idlen || jira_smap_get(pg->db_steps, id, idlen) ||
	    jira_smap_get(pg->dry, id, idlen) || jira_smap_get(&pg->done_st, id, idlen))
		return;
	s = jira_smap_get(&pg->page_st, id, idlen);
	jira_smap_put(&pg->done_st, id, idlen, NULL, NULL, ETL_WF_UNKNOWN);
	etl_tx_row(tx, &jira_t_statuses);
	etl_tx_set(tx, ST_external_id, id, idlen);
	if (s && *s->name)
		etl_tx_set_str(tx, ST_name, s->name);
	else if (name && namelen)
		etl_tx_set(tx, ST_name, name, namelen);
	else
		etl_tx_set(tx, ST_name, id, idlen);
	etl_tx_set_str(tx, ST_category, s ? jira_category(s->category) : "undefined");
	etl_tx_set_bool(tx, ST_placeholder, true);
	etl_tx_row_end(tx);
}

/* Placeholder project or type from the object the issue embeds. */
static void placeholder(struct page *pg, bool project, const struct etl_jdoc *d,
			uint32_t obj)
{
	struct etl_tx *tx = pg->tx;
	struct jira_status_map *done = project ? &pg->done_prj : &pg->done_wit;
	size_t idlen;
	const char *id = jira_str(d, etl_jdoc_get(d, obj, "id"), &pg->scratch, &idlen);
	uint32_t name = etl_jdoc_get(d, obj, "name");

	if (!id || !idlen || jira_smap_get(done, id, idlen) ||
	    jira_smap_get(project ? &pg->cat.projects : &pg->cat.types, id, idlen))
		return;
	jira_smap_put(done, id, idlen, NULL, NULL, ETL_WF_BACKLOG);
	id = jira_str(d, etl_jdoc_get(d, obj, "id"), &pg->scratch, &idlen);
	if (project) {
		uint32_t key = etl_jdoc_get(d, obj, "key");

		etl_tx_row(tx, &jira_t_projects);
		etl_tx_set(tx, PRJ_external_id, id, idlen);
		jira_set_str_max(tx, PRJ_key, d, key, 255, "?", &pg->scratch2);
		if (etl_jdoc_kind(d, name) == ETL_JSON_STRING)
			jira_set_str(tx, PRJ_name, d, name, &pg->scratch2);
		else
			jira_set_str_max(tx, PRJ_name, d, key, 255, "?", &pg->scratch2);
		jira_set_str(tx, PRJ_project_type, d, etl_jdoc_get(d, obj, "projectTypeKey"),
			     &pg->scratch2);
		etl_tx_set_bool(tx, PRJ_placeholder, true);
	} else {
		int64_t level;

		etl_tx_row(tx, &jira_t_wits);
		etl_tx_set(tx, WIT_external_id, id, idlen);
		jira_set_str_max(tx, WIT_name, d, name, 1000000, "?", &pg->scratch2);
		jira_set_str(tx, WIT_description, d, etl_jdoc_get(d, obj, "description"),
			     &pg->scratch2);
		if (etl_jdoc_i64(d, etl_jdoc_get(d, obj, "hierarchyLevel"), &level) == 0)
			etl_tx_set_i64(tx, WIT_hierarchy_level, level);
		etl_tx_set_bool(tx, WIT_subtask,
				etl_jdoc_kind(d, etl_jdoc_get(d, obj, "subtask")) == ETL_JSON_TRUE);
		etl_tx_set_bool(tx, WIT_placeholder, true);
	}
	etl_tx_row_end(tx);
}

/* The string at @node as a new C string (caller frees), or NULL. */
static char *dup_str(struct page *pg, const struct etl_jdoc *d, uint32_t node)
{
	size_t len;
	const char *s = jira_str(d, node, &pg->scratch, &len);

	return s && len ? xstrndup(s, len) : NULL;
}

static bool is_status_item(const struct etl_jdoc *d, uint32_t item)
{
	uint32_t fid = etl_jdoc_get(d, item, "fieldId");

	if (fid)
		return etl_jdoc_str_eq(d, fid, "status");
	return etl_jdoc_str_eq(d, etl_jdoc_get(d, item, "field"), "status");
}

/* A JSON array of the names (@member) of the elements of @arr, into @out. */
static void name_array(struct page *pg, const struct etl_jdoc *d, uint32_t arr,
		       const char *member, struct etl_buf *out)
{
	bool first = true;

	etl_buf_reset(out);
	etl_buf_addch(out, '[');
	for (uint32_t e = etl_jdoc_first(d, arr); e; e = etl_jdoc_next(d, e)) {
		uint32_t v = member ? etl_jdoc_get(d, e, member) : e;
		size_t len;
		const char *s = jira_str(d, v, &pg->scratch, &len);

		if (!s && member)   /* a bare string where objects were expected */
			s = jira_str(d, e, &pg->scratch, &len);
		if (!s)
			continue;
		if (!first)
			etl_buf_addch(out, ',');
		etl_buf_add_json_str(out, s, len);
		first = false;
	}
	etl_buf_addch(out, ']');
}

static void set_user(struct page *pg, const struct etl_jdoc *d, uint32_t user,
		     int name_col, int id_col)
{
	struct etl_tx *tx = pg->tx;
	uint32_t name = etl_jdoc_get(d, user, "displayName");

	if (!name)
		name = etl_jdoc_get(d, user, "name");
	jira_set_str(tx, name_col, d, name, &pg->scratch);
	jira_set_str(tx, id_col, d, etl_jdoc_get(d, user, "accountId"), &pg->scratch);
}

static void set_time(struct page *pg, int col, const struct etl_jdoc *d, uint32_t node,
		     const char *what, const char *key)
{
	int64_t ms;
	int rc = jira_time(d, node, &ms);

	if (rc == 0)
		etl_tx_set_time(pg->tx, col, ms);
	else if (rc < 0)
		etl_warn("issue %s: unreadable %s time: left empty", key, what);
}

/* The changelog rows of the sorted histories, and the status transitions. */
static void changelog_rows(struct page *pg, const char *id, size_t idlen,
			   const char *key, int64_t created, bool has_created,
			   const char *updated, size_t updlen)
{
	struct etl_tx *tx = pg->tx;
	int64_t since = created;
	char *fs = NULL, *ts = NULL, *fn = NULL, *tn = NULL;

	pg->ntr = 0;
	for (size_t i = 0; i < pg->nh; i++) {
		const struct hist *h = &pg->h[i];
		const struct etl_jdoc *d = &pg->docs[h->doc];
		uint32_t author = etl_jdoc_get(d, h->node, "author");
		uint32_t items = etl_jdoc_get(d, h->node, "items");
		int64_t idx = 0;

		if (h->at == INT64_MIN || !h->id_len) {
			pg->skipped++;
			etl_warn("issue %s: a changelog entry without %s is skipped", key,
				 h->id_len ? "a readable date" : "an id");
			continue;
		}
		for (uint32_t it = etl_jdoc_first(d, items); it; it = etl_jdoc_next(d, it),
		     idx++) {
			uint32_t field = etl_jdoc_get(d, it, "field");
			uint32_t fid = etl_jdoc_get(d, it, "fieldId");
			uint32_t from = etl_jdoc_get(d, it, "from");
			uint32_t to = etl_jdoc_get(d, it, "to");

			etl_tx_row(tx, &jira_t_changelogs);
			etl_tx_set(tx, CL_issue_external_id, id, idlen);
			etl_tx_set(tx, CL_issue_updated, updated, updlen);
			jira_set_str(tx, CL_external_id, d, etl_jdoc_get(d, h->node, "id"),
				     &pg->scratch);
			etl_tx_set_i64(tx, CL_item_index, idx);
			set_user(pg, d, author, CL_author, CL_author_account_id);
			etl_tx_set_time(tx, CL_created, h->at);
			if (etl_jdoc_kind(d, field) == ETL_JSON_STRING)
				jira_set_str(tx, CL_field, d, field, &pg->scratch);
			else if (etl_jdoc_kind(d, fid) == ETL_JSON_STRING)
				jira_set_str(tx, CL_field, d, fid, &pg->scratch);
			else
				etl_tx_set_str(tx, CL_field, "unknown");
			jira_set_str(tx, CL_field_id, d, fid, &pg->scratch);
			jira_set_str(tx, CL_field_type, d, etl_jdoc_get(d, it, "fieldtype"),
				     &pg->scratch);
			jira_set_str(tx, CL_from_value, d, from, &pg->scratch);
			jira_set_str(tx, CL_from_string, d, etl_jdoc_get(d, it, "fromString"),
				     &pg->scratch);
			jira_set_str(tx, CL_to_value, d, to, &pg->scratch);
			jira_set_str(tx, CL_to_string, d, etl_jdoc_get(d, it, "toString"),
				     &pg->scratch);
			if (is_status_item(d, it)) {
				fs = dup_str(pg, d, from);
				ts = dup_str(pg, d, to);
				fn = dup_str(pg, d, etl_jdoc_get(d, it, "fromString"));
				tn = dup_str(pg, d, etl_jdoc_get(d, it, "toString"));
				etl_tx_set_str(tx, CL_from_status, fs);
				etl_tx_set_str(tx, CL_to_status, ts);
				if (has_created || pg->ntr)
					etl_tx_set_i64(tx, CL_time_in_status_seconds,
						       h->at > since ? (h->at - since) / 1000 : 0);
				if (pg->ntr == pg->atr) {
					pg->atr = pg->atr ? 2 * pg->atr : 32;
					pg->tr = xrealloc(pg->tr, pg->atr * sizeof(*pg->tr));
				}
				pg->tr[pg->ntr].from = step_of(pg, fs, fs ? strlen(fs) : 0);
				pg->tr[pg->ntr].to = step_of(pg, ts, ts ? strlen(ts) : 0);
				pg->tr[pg->ntr++].at = h->at;
				if (h->at > since)
					since = h->at;
			}
			etl_tx_row_end(tx);
			/* After the row: a placeholder is a row of its own. */
			if (fs || ts) {
				placeholder_status(pg, fs, fs ? strlen(fs) : 0, fn,
						   fn ? strlen(fn) : 0);
				placeholder_status(pg, ts, ts ? strlen(ts) : 0, tn,
						   tn ? strlen(tn) : 0);
				free(fs);
				free(ts);
				free(fn);
				free(tn);
				fs = ts = fn = tn = NULL;
			}
		}
	}
}

static void set_time_metric(struct etl_tx *tx, int col, int64_t v)
{
	if (v != ETL_WF_NONE)
		etl_tx_set_time(tx, col, v);
}

static void metrics(struct page *pg, const struct etl_jdoc *d, uint32_t fields,
		    int64_t created)
{
	struct etl_tx *tx = pg->tx;
	struct etl_wf_metrics m;
	enum etl_wf_step initial;
	size_t len = 0;
	const char *s;

	/* The status at creation: the first transition's "from", else now's. */
	if (pg->ntr) {
		initial = pg->tr[0].from;
	} else {
		s = jira_str(d, etl_jdoc_path(d, fields, "status.id"), &pg->scratch, &len);
		initial = step_of(pg, s, len);
	}
	etl_wf_compute(created, initial, pg->tr, pg->ntr, &m);
	set_time_metric(tx, WI_work_first_committed_at, m.work_first_committed_at);
	set_time_metric(tx, WI_work_first_started_at, m.work_first_started_at);
	set_time_metric(tx, WI_work_last_started_at, m.work_last_started_at);
	set_time_metric(tx, WI_work_first_completed_at, m.work_first_completed_at);
	set_time_metric(tx, WI_work_last_completed_at, m.work_last_completed_at);
	etl_tx_set_i64(tx, WI_total_work_starts, m.total_work_starts);
	etl_tx_set_i64(tx, WI_total_completions, m.total_completions);
	etl_tx_set_i64(tx, WI_total_backlog_returns, m.total_backlog_returns);
	etl_tx_set_i64(tx, WI_total_work_time_seconds, m.total_work_time_seconds);
	etl_tx_set_i64(tx, WI_total_review_time_seconds, m.total_review_time_seconds);
	if (m.total_cycle_time_seconds >= 0)
		etl_tx_set_i64(tx, WI_total_cycle_time_seconds, m.total_cycle_time_seconds);
	if (m.total_lead_time_seconds >= 0)
		etl_tx_set_i64(tx, WI_total_lead_time_seconds, m.total_lead_time_seconds);
	etl_tx_set_i64(tx, WI_workflow_complexity_score, m.workflow_complexity_score);
	etl_tx_set_bool(tx, WI_rework_indicator, m.rework_indicator);
	etl_tx_set_bool(tx, WI_direct_completion, m.direct_completion);
}

/* Standard and custom fields into the work item row. */
static void fields_into_row(struct page *pg, const struct etl_jdoc *d, uint32_t fields,
			    const char *key)
{
	struct etl_tx *tx = pg->tx;
	bool first_over = true;
	int slots[JIRA_NSLOTS];

	etl_buf_reset(&pg->overflow);
	etl_buf_addch(&pg->overflow, '{');
	for (uint32_t k = etl_jdoc_first(d, fields); k; k = etl_jdoc_next(d, k)) {
		uint32_t v = etl_jdoc_next(d, k);
		size_t kl;
		const char *kr = etl_jdoc_raw(d, k, &kl);   /* with its quotes */

		if (!v)
			break;
		if (kl > 14 && !memcmp(kr, "\"customfield_", 13)) {
			int n = jira_slots_of(&pg->cat.slots, kr + 1, kl - 2, slots);

			for (int i = 0; i < n; i++)
				jira_slot_set(tx, slots[i], d, v, &pg->scratch);
			if (!n && etl_jdoc_kind(d, v) != ETL_JSON_NULL) {
				size_t vl;
				const char *vr = etl_jdoc_raw(d, v, &vl);

				if (!first_over)
					etl_buf_addch(&pg->overflow, ',');
				etl_buf_add(&pg->overflow, kr, kl);
				etl_buf_addch(&pg->overflow, ':');
				etl_buf_add(&pg->overflow, vr, vl);
				first_over = false;
			}
		}
		k = v;
	}
	etl_buf_addch(&pg->overflow, '}');
	etl_tx_set_json(tx, WI_custom_fields_overflow, pg->overflow.buf, pg->overflow.len);

	jira_set_str(tx, WI_summary, d, etl_jdoc_get(d, fields, "summary"), &pg->scratch);
	{
		uint32_t desc = etl_jdoc_get(d, fields, "description");

		if (etl_jdoc_kind(d, desc) == ETL_JSON_OBJECT ||
		    etl_jdoc_kind(d, desc) == ETL_JSON_STRING) {
			jira_set_json(tx, WI_description, d, desc);
			etl_buf_reset(&pg->text);
			etl_adf_to_text(d, desc, &pg->text);
			etl_tx_set(tx, WI_description_text, pg->text.buf ? pg->text.buf : "",
				   pg->text.len);
		}
	}
	jira_set_str(tx, WI_type_name, d, etl_jdoc_path(d, fields, "issuetype.name"),
		     &pg->scratch);
	jira_set_str(tx, WI_wit_external_id, d, etl_jdoc_path(d, fields, "issuetype.id"),
		     &pg->scratch);
	jira_set_str(tx, WI_status_name, d, etl_jdoc_path(d, fields, "status.name"),
		     &pg->scratch);
	jira_set_str(tx, WI_status_external_id, d, etl_jdoc_path(d, fields, "status.id"),
		     &pg->scratch);
	jira_set_str(tx, WI_project_external_id, d, etl_jdoc_path(d, fields, "project.id"),
		     &pg->scratch);
	jira_set_str(tx, WI_priority, d, etl_jdoc_path(d, fields, "priority.name"),
		     &pg->scratch);
	jira_set_str(tx, WI_resolution, d, etl_jdoc_path(d, fields, "resolution.name"),
		     &pg->scratch);
	set_user(pg, d, etl_jdoc_get(d, fields, "assignee"), WI_assignee,
		 WI_assignee_account_id);
	set_user(pg, d, etl_jdoc_get(d, fields, "reporter"), WI_reporter,
		 WI_reporter_account_id);
	name_array(pg, d, etl_jdoc_get(d, fields, "labels"), NULL, &pg->arr);
	etl_tx_set_json(tx, WI_labels, pg->arr.buf, pg->arr.len);
	name_array(pg, d, etl_jdoc_get(d, fields, "components"), "name", &pg->arr);
	etl_tx_set_json(tx, WI_components, pg->arr.buf, pg->arr.len);
	name_array(pg, d, etl_jdoc_get(d, fields, "fixVersions"), "name", &pg->arr);
	etl_tx_set_json(tx, WI_fix_versions, pg->arr.buf, pg->arr.len);
	jira_set_str(tx, WI_parent_external_id, d, etl_jdoc_path(d, fields, "parent.id"),
		     &pg->scratch);
	jira_set_str(tx, WI_parent_key, d, etl_jdoc_path(d, fields, "parent.key"),
		     &pg->scratch);
	set_time(pg, WI_resolved, d, etl_jdoc_get(d, fields, "resolutiondate"),
		 "resolution", key);
	{
		size_t len;
		const char *due = jira_str(d, etl_jdoc_get(d, fields, "duedate"),
					   &pg->scratch, &len);

		if (due && etl_tx_parse_date(due, len) == 0)
			etl_tx_set(tx, WI_due_date, due, len);
		else if (due)
			etl_warn("issue %s: unreadable due date: left empty", key);
	}
}

/* Add @s to the text[] literal @lit ({"a","b"}) unless @set has it. */
static void add_id(struct etl_buf *lit, struct jira_status_map *set, const char *s, size_t len)
{
	if (!s || !len || jira_smap_get(set, s, len))
		return;
	jira_smap_put(set, s, len, NULL, NULL, ETL_WF_BACKLOG);
	etl_buf_adds(lit, lit->len > 1 ? ",\"" : "\"");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			etl_buf_addch(lit, '\\');
		etl_buf_addch(lit, s[i]);
	}
	etl_buf_addch(lit, '"');
}

/*
 * Before the issues: the statuses they embed (with their categories), the
 * ids of their projects and types, and whether any changelog is truncated.
 */
static void page_scan(struct page *pg, uint32_t issues)
{
	const struct etl_jdoc *d = &pg->docs[0];
	struct jira_status_map prj = { 0 }, wit = { 0 };

	etl_buf_addch(&pg->prj_ids, '{');
	etl_buf_addch(&pg->wit_ids, '{');
	for (uint32_t i = etl_jdoc_first(d, issues); i; i = etl_jdoc_next(d, i)) {
		uint32_t f = etl_jdoc_get(d, i, "fields"), st = etl_jdoc_get(d, f, "status");
		size_t idlen;
		const char *id;
		char *name, *cat;
		int64_t total;

		if (etl_jdoc_i64(d, etl_jdoc_path(d, i, "changelog.total"), &total) == 0 &&
		    total > (int64_t)d->n[etl_jdoc_path(d, i, "changelog.histories")].count)
			pg->truncated_any = true;
		id = jira_str(d, etl_jdoc_path(d, f, "project.id"), &pg->scratch, &idlen);
		add_id(&pg->prj_ids, &prj, id, id ? idlen : 0);
		id = jira_str(d, etl_jdoc_path(d, f, "issuetype.id"), &pg->scratch, &idlen);
		add_id(&pg->wit_ids, &wit, id, id ? idlen : 0);
		id = jira_str(d, etl_jdoc_get(d, st, "id"), &pg->scratch, &idlen);
		if (!id || !idlen)
			continue;
		name = etl_jdoc_strdup(d, etl_jdoc_get(d, st, "name"));
		cat = etl_jdoc_strdup(d, etl_jdoc_path(d, st, "statusCategory.key"));
		id = jira_str(d, etl_jdoc_get(d, st, "id"), &pg->scratch, &idlen);
		jira_smap_put(&pg->page_st, id, idlen, name, jira_category(cat),
			      ETL_WF_UNKNOWN);
		free(name);
		free(cat);
	}
	etl_buf_addch(&pg->prj_ids, '}');
	etl_buf_addch(&pg->wit_ids, '}');
	jira_smap_clear(&prj);
	jira_smap_clear(&wit);
}

static int one_issue(struct page *pg, uint32_t issue)
{
	struct etl_tx *tx = pg->tx;
	const struct etl_jdoc *d = &pg->docs[0];
	uint32_t fields = etl_jdoc_get(d, issue, "fields");
	char *id, *key;
	size_t idlen, keylen;
	int64_t created = 0, total;
	bool has_created;
	char updated[40] = "";
	int64_t upd_ms;
	const char *s;

	s = jira_str(d, etl_jdoc_get(d, issue, "id"), &pg->scratch, &idlen);
	if (!s || !idlen) {
		pg->skipped++;
		etl_warn("an issue without an id is skipped");
		return 0;
	}
	id = xstrndup(s, idlen);
	s = jira_str(d, etl_jdoc_get(d, issue, "key"), &pg->scratch, &keylen);
	key = s && keylen ? xstrndup(s, keylen) : xstrdup(id);
	keylen = strlen(key);

	has_created = jira_time(d, etl_jdoc_get(d, fields, "created"), &created) == 0;
	switch (jira_time(d, etl_jdoc_get(d, fields, "updated"), &upd_ms)) {
	case 0:
		etl_tx_format_time(upd_ms, updated, sizeof(updated));
		break;
	case -1:
		etl_warn("issue %s: unreadable update time: left empty (any later "
			 "version replaces this one)", key);
		break;
	}

	collect(pg, issue, id, idlen, key, keylen);
	if (!has_created && pg->nh && pg->h[0].at != INT64_MIN)
		created = pg->h[0].at;   /* metrics need a start */
	if (etl_jdoc_i64(d, etl_jdoc_path(d, issue, "changelog.total"), &total) == 0 &&
	    total > (int64_t)pg->nh) {
		pg->truncated++;
		etl_warn("issue %s: %zu of %lld changelog entries: the rest was not "
			 "fetched, its metrics undercount", key, pg->nh, (long long)total);
	}

	/* Placeholders first: the project, the type, the current status. */
	placeholder(pg, true, d, etl_jdoc_get(d, fields, "project"));
	placeholder(pg, false, d, etl_jdoc_get(d, fields, "issuetype"));
	{
		size_t sl, nl;
		const char *sid = jira_str(d, etl_jdoc_path(d, fields, "status.id"),
					   &pg->scratch, &sl);
		char *sidc = sid ? xstrndup(sid, sl) : NULL;
		const char *nm = jira_str(d, etl_jdoc_path(d, fields, "status.name"),
					  &pg->scratch, &nl);

		placeholder_status(pg, sidc, sl, nm, nl);
		free(sidc);
	}

	changelog_rows(pg, id, idlen, key, created, has_created, *updated ? updated : NULL,
		       strlen(updated));

	etl_tx_row(tx, &jira_t_work_items);
	etl_tx_set(tx, WI_external_id, id, idlen);
	etl_tx_set(tx, WI_key, key, keylen);
	if (has_created)
		etl_tx_set_time(tx, WI_created, created);
	else
		etl_warn("issue %s: no readable creation time", key);
	if (*updated)
		etl_tx_set_str(tx, WI_updated, updated);
	fields_into_row(pg, d, fields, key);
	metrics(pg, d, fields, created);
	etl_tx_set_i64(tx, WI_changelog_count, (int64_t)pg->nh);
	etl_tx_row_end(tx);
	etl_tx_key(tx, "embed", "work_items", key, keylen);
	free(id);
	free(key);
	return 0;
}

/* An API error object instead of data: its messages, for the report. */
static void api_errors(const struct etl_jdoc *d, struct etl_buf *out)
{
	uint32_t msgs = etl_jdoc_get(d, ETL_JDOC_ROOT, "errorMessages");
	struct etl_buf scratch = ETL_BUF_INIT;

	for (uint32_t e = etl_jdoc_first(d, msgs); e; e = etl_jdoc_next(d, e)) {
		size_t len;
		const char *s = jira_str(d, e, &scratch, &len);

		if (s) {
			etl_buf_adds(out, out->len ? "; " : ": ");
			etl_buf_add(out, s, len < 200 ? len : 200);
		}
	}
	etl_buf_release(&scratch);
}

int jira_tx_search(struct etl_tx *tx, struct jira_status_map *dry)
{
	struct page pg;
	const char *data;
	size_t len;
	char err[160];
	uint32_t issues;
	int rc = ETL_OK, why = ETL_OK;

	memset(&pg, 0, sizeof(pg));
	pg.tx = tx;
	pg.dry = dry;
	pg.db_steps = &pg.cat.steps;
	pg.ndocs = 1;
	pg.docs = xcalloc(1, sizeof(*pg.docs));
	data = etl_tx_data(tx, &len);
	if (etl_jdoc_parse(&pg.docs[0], data, len, err, sizeof(err)) < 0) {
		rc = etl_tx_fail(tx, ETL_DATAERR, "search page is not JSON (%s): %.40s%s",
				 err, data, len > 40 ? "..." : "");
		goto out;
	}
	issues = etl_jdoc_get(&pg.docs[0], ETL_JDOC_ROOT, "issues");
	if (etl_jdoc_kind(&pg.docs[0], issues) != ETL_JSON_ARRAY) {
		struct etl_buf msg = ETL_BUF_INIT;

		api_errors(&pg.docs[0], &msg);
		rc = etl_tx_fail(tx, ETL_DATAERR, "search page has no 'issues' array%s",
				 msg.buf ? msg.buf : "");
		etl_buf_release(&msg);
		goto out;
	}
	page_scan(&pg, issues);
	/* The attached changelog pages complete truncated changelogs only. */
	if (pg.truncated_any) {
		if ((rc = etl_tx_attached_docs(tx, &pg.docs, &pg.ndocs,
					       "changelog pages of the page")) != ETL_OK ||
		    (rc = index_attached(&pg)) != ETL_OK)
			goto out;
	}
	if (jira_catalog_load(tx, &pg.prj_ids, &pg.wit_ids, &pg.cat, &why) < 0) {
		rc = etl_tx_fail(tx, why, "cannot read the integration's catalog and mapping");
		goto out;
	}
	for (uint32_t i = etl_jdoc_first(&pg.docs[0], issues); i;
	     i = etl_jdoc_next(&pg.docs[0], i))
		one_issue(&pg, i);
	if (!etl_tx_db(tx))   /* later pages of the run know them */
		for (size_t i = 0; i < pg.page_st.n; i++)
			if (!jira_smap_get(dry, pg.page_st.v[i].id, strlen(pg.page_st.v[i].id)))
				jira_smap_put(dry, pg.page_st.v[i].id,
					      strlen(pg.page_st.v[i].id), pg.page_st.v[i].name,
					      pg.page_st.v[i].category, ETL_WF_UNKNOWN);
	etl_info("search page: %u issues, %zu changelog pages attached, %ld truncated "
		 "changelogs, %ld skipped", pg.docs[0].n[issues].count, pg.ndocs - 1,
		 pg.truncated, pg.skipped);
out:
	for (size_t i = 0; i < pg.ndocs; i++)
		etl_jdoc_release(&pg.docs[i]);
	free(pg.docs);
	free(pg.ext);
	free(pg.h);
	free(pg.tr);
	etl_buf_release(&pg.refs);
	etl_buf_release(&pg.scratch);
	etl_buf_release(&pg.scratch2);
	etl_buf_release(&pg.text);
	etl_buf_release(&pg.overflow);
	etl_buf_release(&pg.arr);
	jira_catalog_clear(&pg.cat);
	etl_buf_release(&pg.prj_ids);
	etl_buf_release(&pg.wit_ids);
	jira_smap_clear(&pg.page_st);
	jira_smap_clear(&pg.done_prj);
	jira_smap_clear(&pg.done_wit);
	jira_smap_clear(&pg.done_st);
	return rc;
}
