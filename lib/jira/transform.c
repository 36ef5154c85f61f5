#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "exit.h"
#include "jira/transform.h"
#include "jira/tx.h"
#include "log.h"
#include "message.h"
#include "util.h"

/*
 * Per run: the statuses seen so far, for dry runs without a database (a
 * pipe from one site); with a database the status_workflow_steps view is
 * the catalog, so a worker never mixes tenants here.
 */
struct jira_state {
	struct jira_status_map seen;
};

/*
 * The run's reconcile pass is complete: its first and last pages were seen
 * and, when pages are numbered, every page up to the last.
 */
#define RUN_KEYS "FROM etl_transform_keys WHERE tenant_id = $1 AND token = $2::uuid " \
	"AND step = $3 "
static const char sql_reconcile_complete[] =
	"SELECT EXISTS (SELECT 1 " RUN_KEYS "AND kind = 'seen_first') "
	"AND EXISTS (SELECT 1 " RUN_KEYS "AND kind = 'seen_last' AND (external_id = '' "
	"OR external_id = (SELECT count(*)::text " RUN_KEYS "AND kind = 'seen' "
	"AND table_name = 'reconcile_pages'))) AS complete, "
	"(SELECT count(*) " RUN_KEYS "AND kind = 'seen' AND table_name = 'work_items') AS seen";
/*
 * Work items in the pass's projects (its "projects" param; else the
 * integration's; else all of the integration's) that no page listed.
 */
#define RECONCILE_SCOPE \
	"FROM integrations i WHERE i.tenant_id = $1 AND i.id = $4 " \
	"AND w.tenant_id = $1 AND w.integration_id = $4 " \
	"AND coalesce((SELECT p.key FROM projects p " \
	"WHERE p.tenant_id = $1 AND p.id = w.project_id), split_part(w.key, '-', 1)) " \
	"= ANY (coalesce((SELECT array_agg(external_id) " RUN_KEYS \
	"AND kind = 'seen' AND table_name = 'projects'), i.projects, " \
	"ARRAY[coalesce((SELECT p.key FROM projects p WHERE p.tenant_id = $1 " \
	"AND p.id = w.project_id), split_part(w.key, '-', 1))])) "
#define SEEN "(SELECT 1 FROM etl_transform_keys k WHERE k.tenant_id = $1 " \
	"AND k.token = $2::uuid AND k.step = $3 AND k.kind = 'seen' " \
	"AND k.table_name = 'work_items' AND k.external_id = w.external_id)"
static const char sql_reconcile_delete[] =
	"UPDATE work_items w SET deleted_at = now(), last_updated_at = now() "
	RECONCILE_SCOPE "AND w.deleted_at IS NULL AND NOT EXISTS " SEEN;
static const char sql_reconcile_undelete[] =
	"UPDATE work_items w SET deleted_at = NULL, last_updated_at = now() "
	RECONCILE_SCOPE "AND w.deleted_at IS NOT NULL AND EXISTS " SEEN;

/* --- request details */

/* The path segment after @marker in @url, up to the next '/', '?' or end. */
static char *url_segment(const char *url, const char *marker)
{
	const char *p;
	size_t n;

	if (!url || !(p = strstr(url, marker)))
		return NULL;
	p += strlen(marker);
	n = strcspn(p, "/?#");
	return n ? xstrndup(p, n) : NULL;
}

static char *url_query(const char *url, const char *name)
{
	size_t nl = strlen(name);
	const char *p = url ? strchr(url, '?') : NULL;

	while (p) {
		p++;
		if (!strncmp(p, name, nl) && p[nl] == '=') {
			size_t n = strcspn(p + nl + 1, "&#");

			return n ? xstrndup(p + nl + 1, n) : NULL;
		}
		p = strchr(p, '&');
	}
	return NULL;
}

static char *param(struct etl_tx *tx, const char *const *names)
{
	for (; *names; names++) {
		char *v = etl_tx_param(tx, *names);

		if (v && *v)
			return v;
		free(v);
	}
	return NULL;
}

static char *project_ref(struct etl_tx *tx)
{
	static const char *const names[] = { "project", "projectIdOrKey", "projectKey",
		"project_key", NULL };
	char *v = param(tx, names);

	if (!v)
		v = url_segment(etl_tx_request_url(tx), "/createmeta/");
	if (!v)
		v = url_segment(etl_tx_request_url(tx), "/project/");
	return v;
}

/* The raw_kind a URL answers, for rows and messages that do not say. */
static const char *kind_of_url(const char *url)
{
	static const struct { const char *part, *kind; } map[] = {
		{ "/search/jql", "search_jql" }, { "/changelog/bulkfetch", "changelog_bulkfetch" },
		{ "/createmeta/", "createmeta" }, { "/project/search", "project_search" },
		{ "/statuses", "project_statuses" }, { "/dev-status/", "dev_status" },
		{ "/rest/api/3/field", "fields" }, { "/rest/api/2/field", "fields" },
	};

	for (size_t i = 0; url && i < ETL_ARRAY_SIZE(map); i++)
		if (strstr(url, map[i].part))
			return map[i].kind;
	return NULL;
}

static int parse(struct etl_tx *tx, struct etl_jdoc *d, const char *what)
{
	size_t len;
	const char *data = etl_tx_data(tx, &len);
	char err[160];

	if (etl_jdoc_parse(d, data, len, err, sizeof(err)) == 0)
		return ETL_OK;
	return etl_tx_fail(tx, ETL_DATAERR, "%s response is not JSON (%s): %.40s%s", what,
			   err, data, len > 40 ? "..." : "");
}

static int api_error(struct etl_tx *tx, const struct etl_jdoc *d, const char *what)
{
	uint32_t msgs = etl_jdoc_get(d, ETL_JDOC_ROOT, "errorMessages");
	char *first = etl_jdoc_strdup(d, etl_jdoc_first(d, msgs));
	int rc = etl_tx_fail(tx, ETL_DATAERR, "%s response has an unexpected shape%s%s",
			     what, first ? ": " : "", first ? first : "");

	free(first);
	return rc;
}

/* A small set of strings (a status map used as a set). */
static bool once(struct jira_status_map *set, const char *s, size_t len)
{
	if (!s || !len || jira_smap_get(set, s, len))
		return false;
	jira_smap_put(set, s, len, NULL, NULL, ETL_WF_BACKLOG);
	return true;
}

/* --- fields: global custom field discovery */

static int tx_fields(struct etl_tx *tx)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	int rc = parse(tx, &d, "field list");
	long n = 0;

	if (rc != ETL_OK)
		goto out;
	if (etl_jdoc_kind(&d, ETL_JDOC_ROOT) != ETL_JSON_ARRAY) {
		rc = api_error(tx, &d, "field list");
		goto out;
	}
	for (uint32_t f = etl_jdoc_first(&d, ETL_JDOC_ROOT); f; f = etl_jdoc_next(&d, f)) {
		uint32_t id = etl_jdoc_get(&d, f, "id");
		uint32_t schema = etl_jdoc_get(&d, f, "schema");
		size_t len;
		const char *s = jira_str(&d, id, &scratch, &len);

		if (!s || etl_jdoc_kind(&d, etl_jdoc_get(&d, f, "custom")) == ETL_JSON_FALSE ||
		    (etl_jdoc_kind(&d, etl_jdoc_get(&d, f, "custom")) != ETL_JSON_TRUE &&
		     (len < 12 || memcmp(s, "customfield_", 12))))
			continue;
		etl_tx_row(tx, &jira_t_custom_fields);
		jira_set_str_max(tx, CF_external_id, &d, id, 100, "?", &scratch);
		jira_set_str_max(tx, CF_name, &d, etl_jdoc_get(&d, f, "name"), 255,
				 "(unnamed)", &scratch);
		jira_set_str_max(tx, CF_field_type, &d, etl_jdoc_get(&d, schema, "type"), 100,
				 "unknown", &scratch);
		if (etl_jdoc_kind(&d, etl_jdoc_get(&d, f, "operations")) == ETL_JSON_ARRAY)
			jira_set_json(tx, CF_operations, &d, etl_jdoc_get(&d, f, "operations"));
		if (etl_jdoc_kind(&d, schema) == ETL_JSON_OBJECT)
			jira_set_json(tx, CF_schema, &d, schema);
		etl_tx_row_end(tx);
		n++;
	}
	etl_info("field list: %ld custom fields", n);
out:
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/* --- createmeta: fields per project and issue type */

static int tx_createmeta(struct etl_tx *tx)
{
	static const char *const type_names[] = { "issue_type_id", "issueTypeId",
		"issuetype", "issueType", NULL };
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf out = ETL_BUF_INIT, scratch = ETL_BUF_INIT;
	char *project = NULL, *type = NULL;
	uint32_t fields;
	bool first = true;
	int rc = parse(tx, &d, "createmeta");

	if (rc != ETL_OK)
		goto out;
	fields = etl_jdoc_get(&d, ETL_JDOC_ROOT, "fields");
	if (!fields)
		fields = etl_jdoc_get(&d, ETL_JDOC_ROOT, "results");
	if (etl_jdoc_kind(&d, fields) != ETL_JSON_ARRAY) {
		if (etl_jdoc_get(&d, ETL_JDOC_ROOT, "issueTypes"))
			goto out;   /* the list of types: nothing to keep */
		rc = api_error(tx, &d, "createmeta");
		goto out;
	}
	project = project_ref(tx);
	type = param(tx, type_names);
	if (!type)
		type = url_segment(etl_tx_request_url(tx), "/issuetypes/");
	if (!project || !type) {
		rc = etl_tx_fail(tx, ETL_DATAERR, "createmeta response: cannot tell its "
				 "project and issue type (request params or URL)");
		goto out;
	}
	etl_buf_addch(&out, '{');
	for (uint32_t f = etl_jdoc_first(&d, fields); f; f = etl_jdoc_next(&d, f)) {
		uint32_t id = etl_jdoc_get(&d, f, "fieldId");
		size_t len;
		const char *s;

		if (!id)
			id = etl_jdoc_get(&d, f, "key");
		s = jira_str(&d, id, &scratch, &len);
		if (!s)
			continue;
		if (!first)
			etl_buf_addch(&out, ',');
		first = false;
		etl_buf_add_json_str(&out, s, len);
		etl_buf_adds(&out, ":{\"name\":");
		s = jira_str(&d, etl_jdoc_get(&d, f, "name"), &scratch, &len);
		if (s)
			etl_buf_add_json_str(&out, s, len);
		else
			etl_buf_adds(&out, "null");
		etl_buf_adds(&out, ",\"required\":");
		etl_buf_adds(&out, etl_jdoc_kind(&d, etl_jdoc_get(&d, f, "required")) ==
			     ETL_JSON_TRUE ? "true" : "false");
		etl_buf_adds(&out, ",\"schema\":");
		if (etl_jdoc_kind(&d, etl_jdoc_get(&d, f, "schema")) == ETL_JSON_OBJECT) {
			s = etl_jdoc_raw(&d, etl_jdoc_get(&d, f, "schema"), &len);
			etl_buf_add(&out, s, len);
		} else {
			etl_buf_adds(&out, "null");
		}
		etl_buf_addch(&out, '}');
	}
	etl_buf_addch(&out, '}');
	etl_tx_row(tx, &jira_t_pcf);
	etl_tx_set(tx, PCF_project_key, project, strlen(project) > 50 ? 50 : strlen(project));
	etl_tx_set_str(tx, PCF_issue_type, type);
	etl_tx_set_json(tx, PCF_fields, out.buf, out.len);
	etl_tx_row_end(tx);
out:
	free(project);
	free(type);
	etl_buf_release(&out);
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/* --- project_search: projects, their issue types */

static void wit_row(struct etl_tx *tx, const struct etl_jdoc *d, uint32_t t,
		    struct etl_buf *scratch)
{
	int64_t level;

	etl_tx_row(tx, &jira_t_wits);
	jira_set_str(tx, WIT_external_id, d, etl_jdoc_get(d, t, "id"), scratch);
	jira_set_str_max(tx, WIT_name, d, etl_jdoc_get(d, t, "name"), 1000000, "?", scratch);
	jira_set_str(tx, WIT_description, d, etl_jdoc_get(d, t, "description"), scratch);
	if (etl_jdoc_i64(d, etl_jdoc_get(d, t, "hierarchyLevel"), &level) == 0)
		etl_tx_set_i64(tx, WIT_hierarchy_level, level);
	etl_tx_set_bool(tx, WIT_subtask,
			etl_jdoc_kind(d, etl_jdoc_get(d, t, "subtask")) == ETL_JSON_TRUE);
	etl_tx_set_bool(tx, WIT_placeholder, false);
	etl_tx_row_end(tx);
}

static int tx_projects(struct etl_tx *tx)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	struct jira_status_map wits = { 0 };
	uint32_t values;
	int rc = parse(tx, &d, "project search");

	if (rc != ETL_OK)
		goto out;
	values = etl_jdoc_kind(&d, ETL_JDOC_ROOT) == ETL_JSON_ARRAY ? ETL_JDOC_ROOT :
		etl_jdoc_get(&d, ETL_JDOC_ROOT, "values");
	if (etl_jdoc_kind(&d, values) != ETL_JSON_ARRAY) {
		rc = api_error(tx, &d, "project search");
		goto out;
	}
	for (uint32_t p = etl_jdoc_first(&d, values); p; p = etl_jdoc_next(&d, p)) {
		uint32_t id = etl_jdoc_get(&d, p, "id"), key = etl_jdoc_get(&d, p, "key");
		uint32_t types = etl_jdoc_get(&d, p, "issueTypes");
		size_t len, pl;
		const char *s;
		char *pid;

		s = jira_str(&d, id, &scratch, &pl);
		if (!s || !pl || !jira_str(&d, key, &scratch, &len)) {
			etl_warn("a project without an id or key is skipped");
			continue;
		}
		pid = xstrndup(jira_str(&d, id, &scratch, &pl), pl);
		etl_tx_row(tx, &jira_t_projects);
		etl_tx_set(tx, PRJ_external_id, pid, pl);
		jira_set_str(tx, PRJ_key, &d, key, &scratch);
		if (jira_str(&d, etl_jdoc_get(&d, p, "name"), &scratch, &len))
			jira_set_str(tx, PRJ_name, &d, etl_jdoc_get(&d, p, "name"), &scratch);
		else
			jira_set_str(tx, PRJ_name, &d, key, &scratch);
		jira_set_str(tx, PRJ_project_type, &d, etl_jdoc_get(&d, p, "projectTypeKey"),
			     &scratch);
		jira_set_str(tx, PRJ_lead_account_id, &d, etl_jdoc_path(&d, p, "lead.accountId"),
			     &scratch);
		etl_tx_set_bool(tx, PRJ_placeholder, false);
		etl_tx_row_end(tx);
		s = jira_str(&d, key, &scratch, &len);
		etl_tx_key(tx, "embed", "projects", s, len);
		for (uint32_t t = etl_jdoc_first(&d, types); t; t = etl_jdoc_next(&d, t)) {
			s = jira_str(&d, etl_jdoc_get(&d, t, "id"), &scratch, &len);
			if (!s || !len)
				continue;
			etl_tx_row(tx, &jira_t_projects_wits);
			etl_tx_set(tx, PW_project_external_id, pid, pl);
			etl_tx_set(tx, PW_wit_external_id, s, len);
			etl_tx_row_end(tx);
			if (!once(&wits, s, len))
				continue;
			etl_tx_key(tx, "embed", "wits", s, len);
			wit_row(tx, &d, t, &scratch);
		}
		free(pid);
	}
out:
	jira_smap_clear(&wits);
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/* --- project_statuses: statuses per project (by issue type) */

static int tx_statuses(struct etl_tx *tx, struct jira_state *st)
{
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	struct jira_status_map done = { 0 };
	char *project = NULL;
	int rc = parse(tx, &d, "project statuses");

	if (rc != ETL_OK)
		goto out;
	if (etl_jdoc_kind(&d, ETL_JDOC_ROOT) != ETL_JSON_ARRAY) {
		rc = api_error(tx, &d, "project statuses");
		goto out;
	}
	project = project_ref(tx);
	if (!project)
		etl_warn("project statuses response: its project is unknown (request params "
			 "or URL): statuses load, the project's links do not");
	for (uint32_t t = etl_jdoc_first(&d, ETL_JDOC_ROOT); t; t = etl_jdoc_next(&d, t)) {
		uint32_t list = etl_jdoc_get(&d, t, "statuses");

		for (uint32_t s = etl_jdoc_first(&d, list); s; s = etl_jdoc_next(&d, s)) {
			uint32_t id = etl_jdoc_get(&d, s, "id");
			size_t len;
			const char *v = jira_str(&d, id, &scratch, &len);
			char *idc, *name, *cat;

			if (!v || !len || !once(&done, v, len))
				continue;
			idc = xstrndup(v, len);
			name = etl_jdoc_strdup(&d, etl_jdoc_get(&d, s, "name"));
			cat = etl_jdoc_strdup(&d, etl_jdoc_path(&d, s, "statusCategory.key"));
			etl_tx_row(tx, &jira_t_statuses);
			etl_tx_set(tx, ST_external_id, idc, len);
			etl_tx_set_str(tx, ST_name, name && *name ? name : idc);
			etl_tx_set_str(tx, ST_category, jira_category(cat));
			jira_set_str(tx, ST_description, &d, etl_jdoc_get(&d, s, "description"),
				     &scratch);
			etl_tx_set_bool(tx, ST_placeholder, false);
			etl_tx_row_end(tx);
			etl_tx_key(tx, "embed", "statuses", idc, len);
			if (project) {
				etl_tx_row(tx, &jira_t_projects_statuses);
				etl_tx_set_str(tx, PS_project_ref, project);
				etl_tx_set(tx, PS_status_external_id, idc, len);
				etl_tx_row_end(tx);
			}
			if (!etl_tx_db(tx))   /* a dry run's catalog (one site) */
				jira_smap_put(&st->seen, idc, len, name, jira_category(cat),
					      ETL_WF_UNKNOWN);
			free(idc);
			free(name);
			free(cat);
		}
	}
out:
	free(project);
	jira_smap_clear(&done);
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/* --- dev_status: an issue's pull requests */

static int64_t pr_number(const char *url, const char *id)
{
	const char *p = url ? strstr(url, "/pull/") : NULL;
	long v;
	char tmp[24];
	size_t n;

	if (p) {
		p += 6;
		n = strspn(p, "0123456789");
	} else if (id) {
		p = id + (*id == '#');
		n = strspn(p, "0123456789");
		if (p[n])
			return -1;
	} else {
		return -1;
	}
	if (!n || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return etl_parse_long(tmp, 1, 2147483647L, &v) == 0 ? v : -1;
}

/* "owner/name" of a repository URL (https://github.com/owner/name[/...]). */
static char *repo_of_url(const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	const char *owner, *end;

	if (!p || !(owner = strchr(p + 3, '/')))
		return NULL;
	owner++;
	end = strchr(owner, '/');
	if (!end)
		return NULL;
	end = end + 1 + strcspn(end + 1, "/?#");
	return end > owner ? xstrndup(owner, (size_t)(end - owner)) : NULL;
}

static const char sql_issue_loaded[] =
	"SELECT 1 FROM work_items WHERE tenant_id = $1 AND integration_id = $2 "
	"AND external_id = $3";

/*
 * Links attach to a loaded work item.  With several workers, an issue's
 * dev status can come before another worker has loaded the issue itself:
 * a worker then fails temporarily, and the stage retries it with backoff.
 * In a pipe the issue came first or was not loaded at all (a bad page
 * reported earlier): its links are skipped with a warning.
 */
static int issue_loaded(struct etl_tx *tx, const char *issue)
{
	struct etl_db *db = etl_tx_db(tx);
	char tenant[24], integ[24];
	const char *vals[3] = { tenant, integ, issue };
	struct etl_db_res *r;
	int why = ETL_OK, rows;

	if (!db)
		return ETL_OK;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)etl_tx_tenant(tx));
	snprintf(integ, sizeof(integ), "%lld", (long long)etl_tx_integration(tx));
	if (!(r = etl_db_exec(db, sql_issue_loaded, vals, 3, &why)))
		return etl_tx_fail(tx, why, "cannot look up issue %s", issue);
	rows = etl_db_nrows(r);
	etl_db_clear(r);
	if (rows > 0)
		return ETL_OK;
	if (etl_tx_is_worker(tx))
		return etl_tx_fail(tx, ETL_TEMPFAIL, "dev-status of issue %s: the issue is "
				   "not loaded yet", issue);
	etl_warn("dev-status of issue %s: the issue was not loaded; its pull "
		 "requests are skipped", issue);
	return ETL_OK;
}

static int tx_dev_status(struct etl_tx *tx)
{
	static const char *const names[] = { "issueId", "issue_id", NULL };
	struct etl_jdoc d = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	char *issue = NULL;
	uint32_t detail;
	long n = 0;
	int rc = parse(tx, &d, "dev-status");

	if (rc != ETL_OK)
		goto out;
	detail = etl_jdoc_get(&d, ETL_JDOC_ROOT, "detail");
	if (etl_jdoc_kind(&d, detail) != ETL_JSON_ARRAY) {
		rc = api_error(tx, &d, "dev-status");
		goto out;
	}
	issue = param(tx, names);
	if (!issue)
		issue = url_query(etl_tx_request_url(tx), "issueId");
	if (!issue) {
		rc = etl_tx_fail(tx, ETL_DATAERR, "dev-status response: cannot tell its "
				 "issue (request params or URL)");
		goto out;
	}
	if ((rc = issue_loaded(tx, issue)) != ETL_OK)
		goto out;
	/* The issue was answered, even with no pull request. */
	etl_tx_row(tx, &jira_t_links);
	etl_tx_set_str(tx, LK_issue_external_id, issue);
	etl_tx_row_end(tx);
	for (uint32_t i = etl_jdoc_first(&d, detail); i; i = etl_jdoc_next(&d, i)) {
		uint32_t prs = etl_jdoc_get(&d, i, "pullRequests");

		for (uint32_t p = etl_jdoc_first(&d, prs); p; p = etl_jdoc_next(&d, p)) {
			char *url = etl_jdoc_strdup(&d, etl_jdoc_get(&d, p, "url"));
			char *id = etl_jdoc_strdup(&d, etl_jdoc_get(&d, p, "id"));
			char *repo = etl_jdoc_strdup(&d, etl_jdoc_get(&d, p, "repositoryName"));
			int64_t num = pr_number(url, id), ms;

			if (!repo || !strchr(repo, '/')) {
				free(repo);
				repo = repo_of_url(url);
			}
			if (num < 1 || !repo) {
				etl_warn("dev-status of issue %s: a pull request without a "
					 "repository or number is skipped", issue);
			} else {
				etl_tx_row(tx, &jira_t_links);
				etl_tx_set_str(tx, LK_issue_external_id, issue);
				etl_tx_set_str(tx, LK_repo_full_name, repo);
				etl_tx_set_i64(tx, LK_pr_number, num);
				jira_set_str(tx, LK_external_repo_id, &d,
					     etl_jdoc_get(&d, p, "repositoryId"), &scratch);
				etl_tx_set_str(tx, LK_pr_external_id, id);
				etl_tx_set_str(tx, LK_pr_url, url);
				jira_set_str(tx, LK_pr_status, &d, etl_jdoc_get(&d, p, "status"),
					     &scratch);
				jira_set_str(tx, LK_pr_name, &d, etl_jdoc_get(&d, p, "name"),
					     &scratch);
				if (jira_time(&d, etl_jdoc_get(&d, p, "lastUpdate"), &ms) == 0)
					etl_tx_set_time(tx, LK_last_updated, ms);
				etl_tx_row_end(tx);
				n++;
			}
			free(url);
			free(id);
			free(repo);
		}
	}
	etl_info("dev-status of issue %s: %ld pull requests", issue, n);
out:
	free(issue);
	etl_buf_release(&scratch);
	etl_jdoc_release(&d);
	return rc;
}

/*
 * reconcile_ids: every id of the pass's projects, a page at a time.  The
 * request params say which page it is (page, first, last) and which
 * projects the pass covers; without them (an older extractor, a test) the
 * first page is the one asked without a cursor and the last one says
 * isLast.
 */
static int tx_reconcile(struct etl_tx *tx)
{
	struct etl_jdoc d = ETL_JDOC_INIT, pj = ETL_JDOC_INIT;
	struct etl_buf scratch = ETL_BUF_INIT;
	uint32_t issues;
	char *token = NULL, *first = NULL, *last = NULL, *page = NULL;
	const char *projects;
	size_t plen;
	bool is_first, is_last;
	int rc = parse(tx, &d, "reconcile");
	char err[64];

	if (rc != ETL_OK)
		goto out;
	issues = etl_jdoc_get(&d, ETL_JDOC_ROOT, "issues");
	if (etl_jdoc_kind(&d, issues) != ETL_JSON_ARRAY) {
		rc = api_error(tx, &d, "reconcile");
		goto out;
	}
	for (uint32_t i = etl_jdoc_first(&d, issues); i; i = etl_jdoc_next(&d, i)) {
		size_t len;
		const char *id = jira_str(&d, etl_jdoc_get(&d, i, "id"), &scratch, &len);

		if (id && len)
			etl_tx_key(tx, "seen", "work_items", id, len);
	}
	projects = etl_tx_param_json(tx, "projects", &plen);
	if (projects && etl_jdoc_parse(&pj, projects, plen, err, sizeof(err)) == 0)
		for (uint32_t k = etl_jdoc_first(&pj, ETL_JDOC_ROOT); k; k = etl_jdoc_next(&pj, k)) {
			size_t len;
			const char *key = jira_str(&pj, k, &scratch, &len);

			if (key && len)
				etl_tx_key(tx, "seen", "projects", key, len);
		}
	token = etl_tx_param(tx, "nextPageToken");
	first = etl_tx_param(tx, "first");
	last = etl_tx_param(tx, "last");
	page = etl_tx_param(tx, "page");
	is_first = first ? !strcmp(first, "true") : !token;
	is_last = last ? !strcmp(last, "true") :
		etl_jdoc_kind(&d, etl_jdoc_get(&d, ETL_JDOC_ROOT, "isLast")) == ETL_JSON_TRUE ||
		!etl_jdoc_get(&d, ETL_JDOC_ROOT, "nextPageToken");
	if (page)
		etl_tx_key(tx, "seen", "reconcile_pages", page, strlen(page));
	if (is_first)
		etl_tx_key(tx, "seen_first", "work_items", "", 0);
	if (is_last)   /* the page number: the pass is complete with all pages */
		etl_tx_key(tx, "seen_last", "work_items", page ? page : "", page ? strlen(page) : 0);
out:
	free(token);
	free(first);
	free(last);
	free(page);
	etl_buf_release(&scratch);
	etl_jdoc_release(&pj);
	etl_jdoc_release(&d);
	return rc;
}

/* --- the provider */

static void *jira_open(void)
{
	return xcalloc(1, sizeof(struct jira_state));
}

static void jira_close(void *state)
{
	struct jira_state *st = state;

	if (st)
		jira_smap_clear(&st->seen);
	free(st);
}

static int jira_transform(struct etl_tx *tx, void *state)
{
	struct jira_state *st = state;
	const char *kind = etl_tx_kind(tx);

	if (!*kind && !(kind = kind_of_url(etl_tx_request_url(tx))))
		return etl_tx_fail(tx, ETL_DATAERR, "raw_kind is missing and the request URL "
				   "does not tell it");
	if (!strcmp(kind, "search_jql"))
		return jira_tx_search(tx, &st->seen);
	if (!strcmp(kind, "fields"))
		return tx_fields(tx);
	if (!strcmp(kind, "createmeta"))
		return tx_createmeta(tx);
	if (!strcmp(kind, "project_search"))
		return tx_projects(tx);
	if (!strcmp(kind, "project_statuses"))
		return tx_statuses(tx, st);
	if (!strcmp(kind, "dev_status"))
		return tx_dev_status(tx);
	if (!strcmp(kind, "reconcile_ids"))
		return tx_reconcile(tx);
	return etl_tx_fail(tx, ETL_DATAERR, "unknown raw_kind '%.40s' for Jira", kind);
}

static int run(struct etl_db *db, const char *sql, const char *const *vals, int n,
	       int64_t *affected, int *why)
{
	struct etl_db_res *r = etl_db_exec(db, sql, vals, n, why);

	if (!r)
		return -1;
	if (affected)
		*affected = etl_db_affected(r);
	etl_db_clear(r);
	return 0;
}

/* A complete reconcile pass of this run: soft-delete what it did not list. */
static int jira_finish_step(struct etl_tx *tx, void *state)
{
	struct etl_db *db = etl_tx_db(tx);
	const struct etl_msg *m = etl_tx_msg(tx);
	char tenant[24], integ[24];
	const char *vals[4] = { tenant, m->token, m->step->type, integ };
	struct etl_db_res *r;
	int64_t gone = 0, back = 0, seen = 0;
	bool complete;
	int why = ETL_OK;

	(void)state;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)etl_tx_tenant(tx));
	snprintf(integ, sizeof(integ), "%lld", (long long)etl_tx_integration(tx));
	r = etl_db_exec(db, sql_reconcile_complete, vals, 3, &why);
	if (!r)
		return why;
	complete = etl_db_bool(r, 0, "complete");
	etl_db_int64(r, 0, "seen", &seen);
	etl_db_clear(r);
	if (!complete)
		return ETL_OK;
	if (run(db, sql_reconcile_delete, vals, 4, &gone, &why) < 0 ||
	    run(db, sql_reconcile_undelete, vals, 4, &back, &why) < 0)
		return why;
	etl_info("reconcile: %lld ids listed, %lld work items marked deleted, %lld back",
		 (long long)seen, (long long)gone, (long long)back);
	return ETL_OK;
}

static const char *const *jira_embed_tables(const char *step)
{
	static const char *const projects[] = { "projects", "wits", NULL };
	static const char *const statuses[] = { "statuses", NULL };
	static const char *const issues[] = { "work_items", NULL };
	static const char *const none[] = { NULL };

	if (!strcmp(step, "jira_projects_and_issue_types"))
		return projects;
	if (!strcmp(step, "jira_statuses_and_relationships"))
		return statuses;
	if (!strcmp(step, "jira_issues_with_changelogs"))
		return issues;
	return none;
}

const struct etl_tx_provider etl_jira_tx_provider = {
	"jira", jira_tables, jira_open, jira_close, jira_transform, jira_finish_step,
	jira_embed_tables,
};
