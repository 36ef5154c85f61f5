/*
 * jira/tx.h - internals shared by the Jira transform files (transform.c,
 * issues.c, fields.c, tables.c): the staging tables, the status -> step
 * map, the custom field slot map and value helpers.  Not for other modules.
 */
#ifndef ETL_JIRA_TX_H
#define ETL_JIRA_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "jira/metrics.h"
#include "json.h"
#include "jira/transform.h"

/*
 * Column lists (X-macros): one list makes the staging table's columns, the
 * column enum and the SQL that loads it, so they cannot disagree.
 * X(name, type) with the ETL_TX_ type suffix.
 */
#define JT_CUSTOM_FIELDS(X) X(external_id, TEXT) X(name, TEXT) X(field_type, TEXT) \
	X(operations, JSON) X(schema, JSON)
#define JT_PCF(X) X(project_key, TEXT) X(issue_type, TEXT) X(fields, JSON)
#define JT_PROJECTS(X) X(external_id, TEXT) X(key, TEXT) X(name, TEXT) \
	X(project_type, TEXT) X(lead_account_id, TEXT) X(placeholder, BOOL)
#define JT_WITS(X) X(external_id, TEXT) X(name, TEXT) X(description, TEXT) \
	X(hierarchy_level, INT) X(subtask, BOOL) X(placeholder, BOOL)
#define JT_PW(X) X(project_external_id, TEXT) X(wit_external_id, TEXT)
#define JT_STATUSES(X) X(external_id, TEXT) X(name, TEXT) X(category, TEXT) \
	X(description, TEXT) X(placeholder, BOOL)
#define JT_PS(X) X(project_ref, TEXT) X(status_external_id, TEXT)

/* work_items: staged columns that load as they are ... */
#define JT_WI_DIRECT(X) X(key, TEXT) X(summary, TEXT) X(description, JSON) \
	X(description_text, TEXT) X(type_name, TEXT) X(status_name, TEXT) \
	X(priority, TEXT) X(resolution, TEXT) X(assignee, TEXT) \
	X(assignee_account_id, TEXT) X(reporter, TEXT) X(reporter_account_id, TEXT) \
	X(parent_external_id, TEXT) X(parent_key, TEXT) X(created, TIME) \
	X(updated, TIME) X(resolved, TIME) X(due_date, DATE) X(story_points, NUM) \
	X(team, TEXT) X(code_changed, BOOL) \
	X(custom_field_01, TEXT) X(custom_field_02, TEXT) X(custom_field_03, TEXT) \
	X(custom_field_04, TEXT) X(custom_field_05, TEXT) X(custom_field_06, TEXT) \
	X(custom_field_07, TEXT) X(custom_field_08, TEXT) X(custom_field_09, TEXT) \
	X(custom_field_10, TEXT) X(custom_field_11, TEXT) X(custom_field_12, TEXT) \
	X(custom_field_13, TEXT) X(custom_field_14, TEXT) X(custom_field_15, TEXT) \
	X(custom_field_16, TEXT) X(custom_field_17, TEXT) X(custom_field_18, TEXT) \
	X(custom_field_19, TEXT) X(custom_field_20, TEXT) \
	X(custom_fields_overflow, JSON) \
	X(work_first_committed_at, TIME) X(work_first_started_at, TIME) \
	X(work_last_started_at, TIME) X(work_first_completed_at, TIME) \
	X(work_last_completed_at, TIME) X(total_work_starts, INT) \
	X(total_completions, INT) X(total_backlog_returns, INT) \
	X(total_work_time_seconds, INT) X(total_review_time_seconds, INT) \
	X(total_cycle_time_seconds, INT) X(total_lead_time_seconds, INT) \
	X(workflow_complexity_score, INT) X(rework_indicator, BOOL) \
	X(direct_completion, BOOL) X(changelog_count, INT)
/* ... text arrays, staged as JSON arrays ... */
#define JT_WI_ARRAYS(X) X(labels, JSON) X(components, JSON) X(fix_versions, JSON)
/* ... and the whole staging row: natural keys resolved at load time. */
#define JT_WI(X) X(external_id, TEXT) X(project_external_id, TEXT) \
	X(wit_external_id, TEXT) X(status_external_id, TEXT) JT_WI_DIRECT(X) \
	JT_WI_ARRAYS(X)

#define JT_CL_DIRECT(X) X(external_id, TEXT) X(item_index, INT) X(author, TEXT) \
	X(author_account_id, TEXT) X(created, TIME) X(field, TEXT) \
	X(field_id, TEXT) X(field_type, TEXT) X(from_value, TEXT) \
	X(from_string, TEXT) X(to_value, TEXT) X(to_string, TEXT) \
	X(time_in_status_seconds, INT)
#define JT_CL(X) X(issue_external_id, TEXT) X(issue_updated, TIME) \
	X(from_status, TEXT) X(to_status, TEXT) JT_CL_DIRECT(X)

#define JT_LINKS(X) X(issue_external_id, TEXT) X(repo_full_name, TEXT) \
	X(pr_number, INT) X(external_repo_id, TEXT) X(pr_external_id, TEXT) \
	X(pr_url, TEXT) X(pr_status, TEXT) X(pr_name, TEXT) X(last_updated, TIME)

#define JT_E(p, n, t) p##_##n,
#define JT_CF_E(n, t) JT_E(CF, n, t)
#define JT_PCF_E(n, t) JT_E(PCF, n, t)
#define JT_PRJ_E(n, t) JT_E(PRJ, n, t)
#define JT_WIT_E(n, t) JT_E(WIT, n, t)
#define JT_PW_E(n, t) JT_E(PW, n, t)
#define JT_ST_E(n, t) JT_E(ST, n, t)
#define JT_PS_E(n, t) JT_E(PS, n, t)
#define JT_WI_E(n, t) JT_E(WI, n, t)
#define JT_CL_E(n, t) JT_E(CL, n, t)
#define JT_LK_E(n, t) JT_E(LK, n, t)

enum { JT_CUSTOM_FIELDS(JT_CF_E) CF_NCOLS };
enum { JT_PCF(JT_PCF_E) PCF_NCOLS };
enum { JT_PROJECTS(JT_PRJ_E) PRJ_NCOLS };
enum { JT_WITS(JT_WIT_E) WIT_NCOLS };
enum { JT_PW(JT_PW_E) PW_NCOLS };
enum { JT_STATUSES(JT_ST_E) ST_NCOLS };
enum { JT_PS(JT_PS_E) PS_NCOLS };
enum { JT_WI(JT_WI_E) WI_NCOLS };
enum { JT_CL(JT_CL_E) CL_NCOLS };
enum { JT_LINKS(JT_LK_E) LK_NCOLS };

extern const struct etl_tx_table jira_t_custom_fields, jira_t_pcf, jira_t_projects,
	jira_t_wits, jira_t_projects_wits, jira_t_statuses, jira_t_projects_statuses,
	jira_t_work_items, jira_t_changelogs, jira_t_links;
extern const struct etl_tx_table *const jira_tables[];

/* --- status -> workflow step */

struct jira_status {
	char *id, *name, *category;
	enum etl_wf_step step;
};

struct jira_status_map {
	struct jira_status *v;
	size_t n, alloc;
	bool sorted;
};

/* Add or replace status @id; @step ETL_WF_UNKNOWN: the category default. */
void jira_smap_put(struct jira_status_map *m, const char *id, size_t idlen,
		   const char *name, const char *category, enum etl_wf_step step);
const struct jira_status *jira_smap_get(struct jira_status_map *m, const char *id,
					size_t idlen);
void jira_smap_clear(struct jira_status_map *m);
/* Jira's status category key, as the statuses table accepts it. */
const char *jira_category(const char *key);

/* --- custom field slots (custom_fields_mapping) */

enum jira_slot {
	JIRA_SLOT_CF01 = 0,   /* .. JIRA_SLOT_CF01 + 19: custom_field_01..20 */
	JIRA_SLOT_TEAM = 20, JIRA_SLOT_CODE_CHANGED, JIRA_SLOT_STORY_POINTS,
	JIRA_NSLOTS
};

struct jira_slot_map {
	struct { char *field; int slot; } *v;
	size_t n;
};

/* Slots of @field: fills @slots (up to JIRA_NSLOTS), returns how many. */
int jira_slots_of(const struct jira_slot_map *map, const char *field, size_t len,
		  int *slots);
void jira_slots_clear(struct jira_slot_map *map);

/* What the database knows that a search page needs. */
struct jira_catalog {
	struct jira_status_map steps;      /* every status, its effective step */
	struct jira_status_map projects;   /* the page's projects that exist */
	struct jira_status_map types;      /* the page's issue types that exist */
	struct jira_slot_map slots;        /* custom_fields_mapping */
};

/*
 * Load it for the tx's integration in one query (nothing without a
 * database); @projects and @types are text[] literals of the page's ids.
 * 0, or -1 after reporting (*why).
 */
int jira_catalog_load(struct etl_tx *tx, const struct etl_buf *projects,
		      const struct etl_buf *types, struct jira_catalog *c, int *why);
void jira_catalog_clear(struct jira_catalog *c);

/*
 * Set work item column @col for slot @slot from value @node of @d:
 * custom_field_NN as text, team as a name, story_points as a number,
 * code_changed as a boolean (man etl-transform, "Custom fields").
 */
void jira_slot_set(struct etl_tx *tx, int slot, const struct etl_jdoc *d,
		   uint32_t node, struct etl_buf *scratch);

/* --- value helpers */

/* The decoded string at @node, or NULL (numbers and booleans as written). */
const char *jira_str(const struct etl_jdoc *d, uint32_t node, struct etl_buf *scratch,
		     size_t *len);
/* Set @col from the string at @node (NULL when absent or null). */
void jira_set_str(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		  struct etl_buf *scratch);
/* Set @col to the string truncated to @max characters (UTF-8), or @def. */
void jira_set_str_max(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node,
		      size_t max, const char *def, struct etl_buf *scratch);
/* Parse the time at @node: 0 ok (*ms), 1 absent or null, -1 malformed. */
int jira_time(const struct etl_jdoc *d, uint32_t node, int64_t *ms);
/* The raw JSON of @node into column @col (null stays NULL). */
void jira_set_json(struct etl_tx *tx, int col, const struct etl_jdoc *d, uint32_t node);

/* The per-kind transforms (issues.c). */
int jira_tx_search(struct etl_tx *tx, struct jira_status_map *dry_catalog);

#endif
