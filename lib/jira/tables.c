/*
 * The Jira staging tables and the statements that load them.  Every
 * upsert de-duplicates the staged rows on the conflict key first (DISTINCT
 * ON: ON CONFLICT cannot update a row twice in one statement), updates a
 * stored row only when the staged one is not older (work_items.updated,
 * the catalog's synced_at = fetch time, links' last_updated) and only when
 * something differs, so replaying the same responses writes nothing.
 * Parameters (transform.h): t tenant, i integration, s synced_at.
 */
#include "jira/tx.h"

#define COL(n, t) { #n, ETL_TX_##t },
#define C_(n, t) ", " #n
#define T_(n, t) ", t." #n
#define SET_(n, t) ", " #n " = EXCLUDED." #n
#define EX_(n, t) ", EXCLUDED." #n
#define ARR_(n, t) ", ARRAY(SELECT jsonb_array_elements_text(t." #n "))"

/* Lists of "x.col" for the row comparisons, per table alias. */
#define WI_(n, t) ", work_items." #n
#define CL_(n, t) ", changelogs." #n

static const struct etl_tx_col cf_cols[] = { JT_CUSTOM_FIELDS(COL) };
static const struct etl_tx_sql cf_load[] = {
	{ "INSERT INTO custom_fields (tenant_id, integration_id, external_id, name, "
	  "field_type, operations, schema, active, synced_at) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, name, "
	  "field_type, coalesce(operations, '[]'), schema, true, $3::timestamptz "
	  "FROM etl_tx_custom_fields ORDER BY external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "name = EXCLUDED.name, field_type = EXCLUDED.field_type, "
	  "operations = EXCLUDED.operations, schema = EXCLUDED.schema, active = true, "
	  "synced_at = EXCLUDED.synced_at, last_updated_at = now() "
	  "WHERE (custom_fields.synced_at IS NULL OR custom_fields.synced_at <= EXCLUDED.synced_at) "
	  "AND (custom_fields.name, custom_fields.field_type, custom_fields.operations, "
	  "custom_fields.schema, custom_fields.active) IS DISTINCT FROM "
	  "(EXCLUDED.name, EXCLUDED.field_type, EXCLUDED.operations, EXCLUDED.schema, true)",
	  "tis" },
	/* /field lists every field at once: one gone from it is inactive. */
	{ "UPDATE custom_fields c SET active = false, last_updated_at = now() "
	  "WHERE c.tenant_id = $1 AND c.integration_id = $2 AND c.active "
	  "AND (c.synced_at IS NULL OR c.synced_at <= $3::timestamptz) "
	  "AND NOT EXISTS (SELECT 1 FROM etl_tx_custom_fields t "
	  "WHERE t.external_id = c.external_id)", "tis" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_custom_fields = {
	"custom_fields", "etl_tx_custom_fields", cf_cols, CF_NCOLS,
	{ CF_external_id }, 1, cf_load,
};

/* Per project: {issue type id: {field id: {name, required, schema}}},
 * merged page by page. */
static const struct etl_tx_col pcf_cols[] = { JT_PCF(COL) };
#define PCF_MERGED "projects_custom_fields.discovered_fields || (SELECT " \
	"jsonb_object_agg(e.key, coalesce(projects_custom_fields.discovered_fields " \
	"-> e.key, '{}') || e.value) FROM jsonb_each(EXCLUDED.discovered_fields) e)"
static const struct etl_tx_sql pcf_load[] = {
	{ "INSERT INTO projects_custom_fields (tenant_id, project_key, integration_type, "
	  "discovered_fields) "
	  "SELECT $1::bigint, project_key, 'jira', jsonb_object_agg(issue_type, fields) "
	  "FROM (SELECT DISTINCT ON (project_key, issue_type) project_key, issue_type, "
	  "fields FROM etl_tx_pcf ORDER BY project_key, issue_type) t "
	  "GROUP BY project_key "
	  "ON CONFLICT (tenant_id, project_key, integration_type) DO UPDATE SET "
	  "discovered_fields = " PCF_MERGED ", discovered_at = now() "
	  "WHERE projects_custom_fields.discovered_fields IS DISTINCT FROM " PCF_MERGED,
	  "t" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_pcf = {
	"projects_custom_fields", "etl_tx_pcf", pcf_cols, PCF_NCOLS,
	{ PCF_project_key, PCF_issue_type }, 2, pcf_load,
};

/*
 * Catalog tables: rows from the catalog steps upsert (a placeholder is
 * always completed); placeholders, from the objects issues embed, are only
 * inserted where nothing is.
 */
static const struct etl_tx_col prj_cols[] = { JT_PROJECTS(COL) };
static const struct etl_tx_sql prj_load[] = {
	{ "INSERT INTO projects (tenant_id, integration_id, external_id, key, name, "
	  "project_type, lead_account_id, active, synced_at) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, key, "
	  "name, project_type, lead_account_id, true, $3::timestamptz "
	  "FROM etl_tx_projects WHERE NOT placeholder ORDER BY external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "key = EXCLUDED.key, name = EXCLUDED.name, project_type = EXCLUDED.project_type, "
	  "lead_account_id = EXCLUDED.lead_account_id, active = true, "
	  "synced_at = EXCLUDED.synced_at, last_updated_at = now() "
	  "WHERE (projects.synced_at IS NULL OR projects.synced_at <= EXCLUDED.synced_at) "
	  "AND (projects.key, projects.name, projects.project_type, "
	  "projects.lead_account_id, projects.active, projects.synced_at IS NULL) "
	  "IS DISTINCT FROM (EXCLUDED.key, EXCLUDED.name, EXCLUDED.project_type, "
	  "EXCLUDED.lead_account_id, true, false)", "tis" },
	{ "INSERT INTO projects (tenant_id, integration_id, external_id, key, name, "
	  "project_type) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, key, "
	  "name, project_type FROM etl_tx_projects WHERE placeholder "
	  "ORDER BY external_id ON CONFLICT DO NOTHING", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_projects = {
	"projects", "etl_tx_projects", prj_cols, PRJ_NCOLS,
	{ PRJ_external_id }, 1, prj_load,
};

static const struct etl_tx_col wit_cols[] = { JT_WITS(COL) };
static const struct etl_tx_sql wit_load[] = {
	{ "INSERT INTO wits (tenant_id, integration_id, external_id, name, description, "
	  "hierarchy_level, subtask, active, synced_at) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, name, "
	  "description, hierarchy_level, coalesce(subtask, false), true, $3::timestamptz "
	  "FROM etl_tx_wits WHERE NOT placeholder ORDER BY external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "name = EXCLUDED.name, description = EXCLUDED.description, "
	  "hierarchy_level = EXCLUDED.hierarchy_level, subtask = EXCLUDED.subtask, "
	  "active = true, synced_at = EXCLUDED.synced_at, last_updated_at = now() "
	  "WHERE (wits.synced_at IS NULL OR wits.synced_at <= EXCLUDED.synced_at) "
	  "AND (wits.name, wits.description, wits.hierarchy_level, wits.subtask, "
	  "wits.active, wits.synced_at IS NULL) IS DISTINCT FROM "
	  "(EXCLUDED.name, EXCLUDED.description, EXCLUDED.hierarchy_level, "
	  "EXCLUDED.subtask, true, false)", "tis" },
	{ "INSERT INTO wits (tenant_id, integration_id, external_id, name, description, "
	  "hierarchy_level, subtask) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, name, "
	  "description, hierarchy_level, coalesce(subtask, false) FROM etl_tx_wits "
	  "WHERE placeholder ORDER BY external_id ON CONFLICT DO NOTHING", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_wits = {
	"wits", "etl_tx_wits", wit_cols, WIT_NCOLS, { WIT_external_id }, 1, wit_load,
};

/* A project's issue types come whole in its project_search entry: links
 * it no longer lists go, unless the project row is newer than this page. */
static const struct etl_tx_col pw_cols[] = { JT_PW(COL) };
static const struct etl_tx_sql pw_load[] = {
	{ "INSERT INTO projects_wits (tenant_id, project_id, wit_id) "
	  "SELECT DISTINCT $1::bigint, p.id, w.id FROM etl_tx_projects_wits t "
	  "JOIN projects p ON p.tenant_id = $1 AND p.integration_id = $2 "
	  "AND p.external_id = t.project_external_id "
	  "JOIN wits w ON w.tenant_id = $1 AND w.integration_id = $2 "
	  "AND w.external_id = t.wit_external_id "
	  "ON CONFLICT DO NOTHING", "ti" },
	{ "DELETE FROM projects_wits pw USING projects p "
	  "WHERE pw.tenant_id = $1 AND p.tenant_id = $1 AND p.integration_id = $2 "
	  "AND pw.project_id = p.id AND p.synced_at <= $3::timestamptz "
	  "AND p.external_id IN (SELECT project_external_id FROM etl_tx_projects_wits) "
	  "AND NOT EXISTS (SELECT 1 FROM etl_tx_projects_wits t JOIN wits w "
	  "ON w.tenant_id = $1 AND w.integration_id = $2 AND w.external_id = t.wit_external_id "
	  "WHERE t.project_external_id = p.external_id AND w.id = pw.wit_id)", "tis" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_projects_wits = {
	"projects_wits", "etl_tx_projects_wits", pw_cols, PW_NCOLS,
	{ PW_project_external_id, PW_wit_external_id }, 2, pw_load,
};

/* Placeholder statuses only improve an unknown category. */
static const struct etl_tx_col st_cols[] = { JT_STATUSES(COL) };
static const struct etl_tx_sql st_load[] = {
	{ "INSERT INTO statuses (tenant_id, integration_id, external_id, name, category, "
	  "description, active, synced_at) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, name, "
	  "category, description, true, $3::timestamptz "
	  "FROM etl_tx_statuses WHERE NOT placeholder ORDER BY external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "name = EXCLUDED.name, category = EXCLUDED.category, "
	  "description = EXCLUDED.description, active = true, "
	  "synced_at = EXCLUDED.synced_at, last_updated_at = now() "
	  "WHERE (statuses.synced_at IS NULL OR statuses.synced_at <= EXCLUDED.synced_at) "
	  "AND (statuses.name, statuses.category, statuses.description, statuses.active, "
	  "statuses.synced_at IS NULL) IS DISTINCT FROM "
	  "(EXCLUDED.name, EXCLUDED.category, EXCLUDED.description, true, false)", "tis" },
	{ "INSERT INTO statuses (tenant_id, integration_id, external_id, name, category) "
	  "SELECT DISTINCT ON (external_id) $1::bigint, $2::bigint, external_id, name, "
	  "category FROM etl_tx_statuses WHERE placeholder "
	  "ORDER BY external_id, category = 'undefined' "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "name = EXCLUDED.name, category = EXCLUDED.category, last_updated_at = now() "
	  "WHERE statuses.synced_at IS NULL AND statuses.category = 'undefined' "
	  "AND EXCLUDED.category <> 'undefined'", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_statuses = {
	"statuses", "etl_tx_statuses", st_cols, ST_NCOLS, { ST_external_id }, 1, st_load,
};

/* project_ref: the key or id the statuses request named. */
static const struct etl_tx_col ps_cols[] = { JT_PS(COL) };
#define PS_PROJECT "JOIN projects p ON p.tenant_id = $1 AND p.integration_id = $2 " \
	"AND (p.key = t.project_ref OR p.external_id = t.project_ref) "
static const struct etl_tx_sql ps_load[] = {
	{ "INSERT INTO projects_statuses (tenant_id, project_id, status_id) "
	  "SELECT DISTINCT $1::bigint, p.id, s.id FROM etl_tx_projects_statuses t "
	  PS_PROJECT
	  "JOIN statuses s ON s.tenant_id = $1 AND s.integration_id = $2 "
	  "AND s.external_id = t.status_external_id "
	  "ON CONFLICT DO NOTHING", "ti" },
	{ "DELETE FROM projects_statuses ps USING etl_tx_projects_statuses t "
	  PS_PROJECT
	  "WHERE ps.tenant_id = $1 AND ps.project_id = p.id "
	  "AND (p.synced_at IS NULL OR p.synced_at <= $3::timestamptz) "
	  "AND NOT EXISTS (SELECT 1 FROM etl_tx_projects_statuses t2 JOIN statuses s "
	  "ON s.tenant_id = $1 AND s.integration_id = $2 "
	  "AND s.external_id = t2.status_external_id "
	  "WHERE t2.project_ref = t.project_ref AND s.id = ps.status_id)", "tis" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_projects_statuses = {
	"projects_statuses", "etl_tx_projects_statuses", ps_cols, PS_NCOLS,
	{ PS_project_ref, PS_status_external_id }, 2, ps_load,
};

/*
 * work_items: foreign keys resolved from the natural keys (the catalog
 * rows, or the placeholders loaded just before); an issue in a response
 * fetched after its soft delete is no longer deleted.
 */
static const struct etl_tx_col wi_cols[] = { JT_WI(COL) };
/* A soft delete stands against responses fetched before it (a replay). */
#define WI_DELETED "CASE WHEN work_items.deleted_at > $3::timestamptz " \
	"THEN work_items.deleted_at END"
static const struct etl_tx_sql wi_load[] = {
	{ "INSERT INTO work_items (tenant_id, integration_id, external_id, project_id, "
	  "wit_id, status_id" JT_WI_DIRECT(C_) JT_WI_ARRAYS(C_) ", deleted_at) "
	  "SELECT $1::bigint, $2::bigint, t.external_id, p.id, w.id, s.id"
	  JT_WI_DIRECT(T_) JT_WI_ARRAYS(ARR_) ", NULL "
	  "FROM (SELECT DISTINCT ON (external_id) * FROM etl_tx_work_items "
	  "ORDER BY external_id, updated DESC NULLS LAST) t "
	  "LEFT JOIN projects p ON p.tenant_id = $1 AND p.integration_id = $2 "
	  "AND p.external_id = t.project_external_id "
	  "LEFT JOIN wits w ON w.tenant_id = $1 AND w.integration_id = $2 "
	  "AND w.external_id = t.wit_external_id "
	  "LEFT JOIN statuses s ON s.tenant_id = $1 AND s.integration_id = $2 "
	  "AND s.external_id = t.status_external_id "
	  "ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET "
	  "project_id = EXCLUDED.project_id, wit_id = EXCLUDED.wit_id, "
	  "status_id = EXCLUDED.status_id" JT_WI_DIRECT(SET_) JT_WI_ARRAYS(SET_)
	  ", deleted_at = " WI_DELETED ", last_updated_at = now() "
	  "WHERE (work_items.updated IS NULL OR (EXCLUDED.updated IS NOT NULL "
	  "AND work_items.updated <= EXCLUDED.updated)) "
	  "AND (work_items.project_id, work_items.wit_id, work_items.status_id"
	  JT_WI_DIRECT(WI_) JT_WI_ARRAYS(WI_) ", work_items.deleted_at) "
	  "IS DISTINCT FROM (EXCLUDED.project_id, EXCLUDED.wit_id, EXCLUDED.status_id"
	  JT_WI_DIRECT(EX_) JT_WI_ARRAYS(EX_) ", " WI_DELETED ")", "tis" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_work_items = {
	"work_items", "etl_tx_work_items", wi_cols, WI_NCOLS, { WI_external_id }, 1, wi_load,
};

/*
 * changelogs: only for issues whose stored row is this page's version, so
 * the changelog of an older page never replaces a newer one.
 */
static const struct etl_tx_col cl_cols[] = { JT_CL(COL) };
static const struct etl_tx_sql cl_load[] = {
	{ "INSERT INTO changelogs (tenant_id, integration_id, work_item_id, "
	  "from_status_id, to_status_id" JT_CL_DIRECT(C_) ") "
	  "SELECT $1::bigint, $2::bigint, w.id, fs.id, ts.id" JT_CL_DIRECT(T_) " "
	  "FROM (SELECT DISTINCT ON (external_id, item_index) * FROM etl_tx_changelogs "
	  "ORDER BY external_id, item_index, issue_updated DESC NULLS LAST) t "
	  "JOIN work_items w ON w.tenant_id = $1 AND w.integration_id = $2 "
	  "AND w.external_id = t.issue_external_id "
	  "AND w.updated IS NOT DISTINCT FROM t.issue_updated "
	  "LEFT JOIN statuses fs ON fs.tenant_id = $1 AND fs.integration_id = $2 "
	  "AND fs.external_id = t.from_status "
	  "LEFT JOIN statuses ts ON ts.tenant_id = $1 AND ts.integration_id = $2 "
	  "AND ts.external_id = t.to_status "
	  "ON CONFLICT (tenant_id, integration_id, external_id, item_index) DO UPDATE SET "
	  "work_item_id = EXCLUDED.work_item_id, from_status_id = EXCLUDED.from_status_id, "
	  "to_status_id = EXCLUDED.to_status_id" JT_CL_DIRECT(SET_) " "
	  "WHERE (changelogs.work_item_id, changelogs.from_status_id, "
	  "changelogs.to_status_id" JT_CL_DIRECT(CL_) ") IS DISTINCT FROM "
	  "(EXCLUDED.work_item_id, EXCLUDED.from_status_id, EXCLUDED.to_status_id"
	  JT_CL_DIRECT(EX_) ")", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_changelogs = {
	"changelogs", "etl_tx_changelogs", cl_cols, CL_NCOLS,
	{ CL_external_id, CL_item_index }, 2, cl_load,
};

/*
 * work_items_prs_links: a dev-status response lists all of an issue's pull
 * requests, so links it no longer lists become inactive.  A row with a
 * NULL pr_number only says "this issue was answered" (no PR at all).
 */
static const struct etl_tx_col lk_cols[] = { JT_LINKS(COL) };
#define LK_SET(X) X(external_repo_id, TEXT) X(pr_external_id, TEXT) X(pr_url, TEXT) \
	X(pr_status, TEXT) X(pr_name, TEXT) X(last_updated, TIME)
#define LK_(n, t) ", l." #n
static const struct etl_tx_sql lk_load[] = {
	{ "INSERT INTO work_items_prs_links AS l (tenant_id, integration_id, work_item_id, "
	  "repo_full_name, pr_number" LK_SET(C_) ", active) "
	  "SELECT DISTINCT ON (w.id, t.repo_full_name, t.pr_number) $1::bigint, "
	  "$2::bigint, w.id, t.repo_full_name, t.pr_number" LK_SET(T_) ", true "
	  "FROM etl_tx_prs_links t JOIN work_items w ON w.tenant_id = $1 "
	  "AND w.integration_id = $2 AND w.external_id = t.issue_external_id "
	  "WHERE t.pr_number IS NOT NULL AND t.repo_full_name IS NOT NULL "
	  "ORDER BY w.id, t.repo_full_name, t.pr_number, t.last_updated DESC NULLS LAST "
	  "ON CONFLICT (tenant_id, work_item_id, repo_full_name, pr_number) DO UPDATE SET "
	  "active = true, last_updated_at = now()" LK_SET(SET_) " "
	  "WHERE (l.last_updated IS NULL OR EXCLUDED.last_updated IS NULL "
	  "OR l.last_updated <= EXCLUDED.last_updated) "
	  "AND (l.active" LK_SET(LK_) ") IS DISTINCT FROM (true" LK_SET(EX_) ")", "ti" },
	{ "UPDATE work_items_prs_links l SET active = false, last_updated_at = now() "
	  "FROM work_items w WHERE l.tenant_id = $1 AND w.tenant_id = $1 "
	  "AND w.integration_id = $2 AND l.work_item_id = w.id AND l.active "
	  "AND w.external_id IN (SELECT issue_external_id FROM etl_tx_prs_links) "
	  "AND NOT EXISTS (SELECT 1 FROM etl_tx_prs_links t "
	  "WHERE t.issue_external_id = w.external_id "
	  "AND t.repo_full_name = l.repo_full_name AND t.pr_number = l.pr_number)", "ti" },
	{ NULL, NULL },
};
const struct etl_tx_table jira_t_links = {
	"work_items_prs_links", "etl_tx_prs_links", lk_cols, LK_NCOLS,
	{ LK_issue_external_id, LK_repo_full_name, LK_pr_number }, 3, lk_load,
};

const struct etl_tx_table *const jira_tables[] = {
	&jira_t_custom_fields, &jira_t_pcf, &jira_t_projects, &jira_t_wits,
	&jira_t_projects_wits, &jira_t_statuses, &jira_t_projects_statuses,
	&jira_t_work_items, &jira_t_changelogs, &jira_t_links, NULL,
};
