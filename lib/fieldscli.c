#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "fieldscli.h"
#include "log.h"
#include "util.h"

#define SUB_SHORT ":d:" ETL_CLI_COMMON_SHORT
enum { OPT_INTEGRATION = 0x100, OPT_SLOT, OPT_FIELD, OPT_STATUS, OPT_STEP, OPT_JSON };
#define SUB_LONG \
	{ "integration", required_argument, NULL, OPT_INTEGRATION }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "dsn", required_argument, NULL, 'd' }, ETL_CLI_COMMON_LONG

static const char usage_fields[] =
"usage: etl-job fields (list | map | unmap) --integration <id> [<args>]\n"
"\n"
"  list --integration <id> [--json]\n"
"                      the custom fields discovered (global, and the projects\n"
"                      whose create screens have them) and the slot of each\n"
"  map --integration <id> --slot <slot> --field <customfield_N>\n"
"                      fill work_items column <slot> from that field: 01..20\n"
"                      (custom_field_NN), team, code_changed or story_points\n"
"  unmap --integration <id> --slot <slot>\n"
"                      empty the slot: its field goes back to the overflow JSON\n"
"\n"
"A change takes effect on the next transform or --replay.\n";

static const char usage_fields_list[] =
"usage: etl-job fields list --integration <id> [--json]\n"
"\n"
"The custom fields discovered for integration <id>: a table on a terminal,\n"
"else one JSON object per line.\n";

static const char usage_fields_map[] =
"usage: etl-job fields map --integration <id> --slot <slot> --field <customfield_N>\n"
"\n"
"Map a discovered custom field to a work_items column.  <slot> is 01..20\n"
"(custom_field_01..20), team, code_changed or story_points.\n";

static const char usage_fields_unmap[] =
"usage: etl-job fields unmap --integration <id> --slot <slot>\n"
"\n"
"Empty a slot; its field is kept in custom_fields_overflow again.\n";

static const char usage_status_map[] =
"usage: etl-job status-map (list | set) --integration <id> [<args>]\n"
"\n"
"  list --integration <id> [--json]\n"
"                      every status with its workflow step and whether it is\n"
"                      the default (from the status category) or set\n"
"  set --integration <id> --status <name-or-id> --step <step>\n"
"                      map a status to backlog, to_do, in_progress, review or\n"
"                      done; \"default\" goes back to the category's default\n"
"\n"
"The workflow metrics follow on the next transform or --replay.\n";

static const char usage_status_list[] =
"usage: etl-job status-map list --integration <id> [--json]\n"
"\n"
"Every status of integration <id> with its effective workflow step: a\n"
"table on a terminal, else one JSON object per line.\n";

static const char usage_status_set[] =
"usage: etl-job status-map set --integration <id> --status <name-or-id> --step <step>\n"
"\n"
"Map a status (its Jira id, or its name when that is unique) to a workflow\n"
"step: backlog, to_do, in_progress, review, done, or default.\n";

static const char sql_integration[] =
	"SELECT tenant_id, provider FROM integrations WHERE id = $1";

static const char sql_fields_list[] =
	"WITH slots AS ("
	"  SELECT s.slot, s.field_id FROM custom_fields_mapping m "
	"  CROSS JOIN LATERAL (VALUES ('team', m.team_field_id), "
	"  ('code_changed', m.code_changed_field_id), "
	"  ('story_points', m.story_points_field_id), ('01', m.custom_field_01_id), "
	"  ('02', m.custom_field_02_id), ('03', m.custom_field_03_id), "
	"  ('04', m.custom_field_04_id), ('05', m.custom_field_05_id), "
	"  ('06', m.custom_field_06_id), ('07', m.custom_field_07_id), "
	"  ('08', m.custom_field_08_id), ('09', m.custom_field_09_id), "
	"  ('10', m.custom_field_10_id), ('11', m.custom_field_11_id), "
	"  ('12', m.custom_field_12_id), ('13', m.custom_field_13_id), "
	"  ('14', m.custom_field_14_id), ('15', m.custom_field_15_id), "
	"  ('16', m.custom_field_16_id), ('17', m.custom_field_17_id), "
	"  ('18', m.custom_field_18_id), ('19', m.custom_field_19_id), "
	"  ('20', m.custom_field_20_id)) AS s (slot, field_id) "
	"  WHERE m.tenant_id = $1 AND m.integration_id = $2 AND s.field_id IS NOT NULL), "
	"f AS ("
	"  SELECT cf.external_id AS field, cf.name, cf.field_type AS type, cf.active, "
	"  (SELECT string_agg(slot, ',' ORDER BY slot) FROM slots "
	"   WHERE slots.field_id = cf.id) AS slot, "
	"  (SELECT string_agg(DISTINCT pcf.project_key, ',' ORDER BY pcf.project_key) "
	"   FROM projects_custom_fields pcf JOIN projects p ON p.tenant_id = $1 "
	"   AND p.integration_id = $2 AND p.key = pcf.project_key "
	"   CROSS JOIN LATERAL jsonb_each(pcf.discovered_fields) it "
	"   WHERE pcf.tenant_id = $1 AND pcf.integration_type = 'jira' "
	"   AND jsonb_typeof(it.value) = 'object' AND it.value ? cf.external_id) AS projects "
	"  FROM custom_fields cf WHERE cf.tenant_id = $1 AND cf.integration_id = $2) "
	"SELECT f.*, json_build_object('field', field, 'name', name, 'type', type, "
	"'slot', slot, 'projects', string_to_array(projects, ','), 'active', active) "
	"AS json FROM f ORDER BY length(field), field";

static const char sql_field[] =
	"SELECT id, name, field_type FROM custom_fields "
	"WHERE tenant_id = $1 AND integration_id = $2 AND external_id = $3";

static const char sql_mapping_row[] =
	"INSERT INTO custom_fields_mapping (tenant_id, integration_id) VALUES ($1, $2) "
	"ON CONFLICT (tenant_id, integration_id) DO NOTHING";

/* One statement for every slot: $3 names it, $4 is the field (NULL: unmap). */
#define SLOT(col, name) col " = CASE WHEN $3 = '" name "' THEN $4::bigint ELSE " col " END, "
#define SLOTN(nn) SLOT("custom_field_" nn "_id", nn)
static const char sql_set_slot[] =
	"UPDATE custom_fields_mapping SET "
	SLOT("team_field_id", "team") SLOT("code_changed_field_id", "code_changed")
	SLOT("story_points_field_id", "story_points")
	SLOTN("01") SLOTN("02") SLOTN("03") SLOTN("04") SLOTN("05") SLOTN("06")
	SLOTN("07") SLOTN("08") SLOTN("09") SLOTN("10") SLOTN("11") SLOTN("12")
	SLOTN("13") SLOTN("14") SLOTN("15") SLOTN("16") SLOTN("17") SLOTN("18")
	SLOTN("19") SLOTN("20")
	"active = true, last_updated_at = now() "
	"WHERE tenant_id = $1 AND integration_id = $2";

static const char sql_status_list[] =
	"SELECT v.external_id AS id, v.name, v.category, "
	"coalesce(v.workflow_step, '-') AS step, "
	"CASE WHEN v.is_default THEN 'default' ELSE 'set' END AS source, "
	"(SELECT string_agg(p.key, ',' ORDER BY p.key) FROM projects_statuses ps "
	" JOIN projects p ON p.tenant_id = ps.tenant_id AND p.id = ps.project_id "
	" WHERE ps.tenant_id = v.tenant_id AND ps.status_id = v.status_id) AS projects, "
	"json_build_object('id', v.external_id, 'name', v.name, 'category', v.category, "
	"'step', v.workflow_step, 'default', v.is_default) AS json "
	"FROM status_workflow_steps v WHERE v.tenant_id = $1 AND v.integration_id = $2 "
	"ORDER BY lower(v.name), length(v.external_id), v.external_id";

static const char sql_status_find[] =
	"SELECT id, external_id, name FROM statuses "
	"WHERE tenant_id = $1 AND integration_id = $2 "
	"AND (external_id = $3 OR (lower(name) = lower($3) AND NOT EXISTS ("
	"SELECT 1 FROM statuses s2 WHERE s2.tenant_id = $1 AND s2.integration_id = $2 "
	"AND s2.external_id = $3))) ORDER BY external_id";

static const char sql_status_set[] =
	"INSERT INTO status_mappings (tenant_id, integration_id, status_id, workflow_step) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, integration_id, status_id) "
	"DO UPDATE SET workflow_step = EXCLUDED.workflow_step, last_updated_at = now() "
	"WHERE status_mappings.workflow_step <> EXCLUDED.workflow_step";

static const char sql_status_default[] =
	"DELETE FROM status_mappings WHERE tenant_id = $1 AND integration_id = $2 "
	"AND status_id = $3";

struct opts {
	const char *integration, *slot, *field, *status, *step;
	bool json;
	int64_t integ, tenant;
	char tenant_s[24], integ_s[24];
};

/* Options of a subcommand; ETL_OK, or ETL_USAGE after reporting. */
static int parse_opts(struct etl_jobcli *cli, int argc, char **argv,
		      const struct option *longopts, const char *usage, const char *path,
		      struct opts *o)
{
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, SUB_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'd': cli->dsn = etl_cli_secret_arg(optarg); continue;
		case OPT_INTEGRATION: o->integration = optarg; continue;
		case OPT_SLOT: o->slot = optarg; continue;
		case OPT_FIELD: o->field = optarg; continue;
		case OPT_STATUS: o->status = optarg; continue;
		case OPT_STEP: o->step = optarg; continue;
		case OPT_JSON: o->json = true; continue;
		}
		if (c == '?' || c == ':' || !etl_cli_common(c, optarg, usage))
			return etl_jobcli_bad_option(c, argv, usage, path);
	}
	if (optind < argc) {
		etl_error("unexpected argument '%s'", argv[optind]);
		return etl_jobcli_usage_error(usage, path);
	}
	if (!o->integration) {
		etl_error("missing --integration");
		return etl_jobcli_usage_error(usage, path);
	}
	if (etl_parse_i64(o->integration, &o->integ) < 0 || o->integ <= 0) {
		etl_error("invalid integration id '%s': expected a positive integer",
			  o->integration);
		return etl_jobcli_usage_error(usage, path);
	}
	return ETL_OK;
}

/* Connect and find the integration's tenant (a Jira integration). */
static struct etl_db *open_integration(struct etl_jobcli *cli, struct opts *o, int *code)
{
	const char *vals[1] = { o->integration };
	struct etl_db_res *r;
	struct etl_db *db = etl_db_connect(cli->dsn, code);

	if (!db)
		return NULL;
	r = etl_db_exec(db, sql_integration, vals, 1, code);
	if (!r)
		goto fail;
	if (etl_db_nrows(r) == 0) {
		etl_error("unknown integration %s", o->integration);
		*code = ETL_NOINPUT;
		goto fail;
	}
	if (strcmp(etl_db_value(r, 0, "provider"), "jira")) {
		etl_error("integration %s is a %s integration: fields and statuses are "
			  "Jira's", o->integration, etl_db_value(r, 0, "provider"));
		*code = ETL_DATAERR;
		goto fail;
	}
	etl_db_int64(r, 0, "tenant_id", &o->tenant);
	snprintf(o->tenant_s, sizeof(o->tenant_s), "%lld", (long long)o->tenant);
	snprintf(o->integ_s, sizeof(o->integ_s), "%lld", (long long)o->integ);
	etl_db_clear(r);
	return db;
fail:
	etl_db_clear(r);
	etl_db_close(db);
	return NULL;
}

/* --- fields */

static int fields_list(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { SUB_LONG, { NULL, 0, NULL, 0 } };
	static const char *const cols[] = { "field", "name", "type", "slot", "projects" };
	static const char *const heads[] = { "FIELD", "NAME", "TYPE", "SLOT", "PROJECTS" };
	struct opts o = { 0 };
	struct etl_db *db;
	struct etl_db_res *r;
	int code = parse_opts(cli, argc, argv, longopts, usage_fields_list, "fields list", &o);

	if (code != ETL_OK)
		return code;
	o.json = o.json || !isatty(STDOUT_FILENO);
	if (!(db = open_integration(cli, &o, &code)))
		return code;
	const char *vals[2] = { o.tenant_s, o.integ_s };

	r = etl_db_exec(db, sql_fields_list, vals, 2, &code);
	if (r) {
		etl_jobcli_print_rows(r, o.json, cols, heads, ETL_ARRAY_SIZE(cols));
		if (etl_db_nrows(r) == 0)
			etl_warn("no custom field discovered for integration %s yet: run "
				 "the jira_projects_and_issue_types step", o.integration);
		code = ETL_OK;
	}
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

/* "01".."20", "1".."20", "team", "code_changed", "story_points" -> the
 * canonical name, or NULL. */
static const char *slot_name(const char *s, char *buf, size_t n)
{
	static const char *const special[] = { "team", "code_changed", "story_points" };
	long v;

	for (size_t i = 0; i < ETL_ARRAY_SIZE(special); i++)
		if (!strcmp(s, special[i]))
			return special[i];
	if (!strncmp(s, "custom_field_", 13))
		s += 13;
	if (etl_parse_long(s, 1, 20, &v) < 0)
		return NULL;
	snprintf(buf, n, "%02ld", v);
	return buf;
}

static int set_slot(struct etl_jobcli *cli, int argc, char **argv, bool map)
{
	static const struct option longopts[] = {
		{ "slot", required_argument, NULL, OPT_SLOT },
		{ "field", required_argument, NULL, OPT_FIELD },
		SUB_LONG, { NULL, 0, NULL, 0 } };
	const char *usage = map ? usage_fields_map : usage_fields_unmap;
	const char *path = map ? "fields map" : "fields unmap";
	struct opts o = { 0 };
	struct etl_db *db = NULL;
	struct etl_db_res *r = NULL;
	char slotbuf[8], fid[24] = "";
	const char *slot;
	int code = parse_opts(cli, argc, argv, longopts, usage, path, &o);

	if (code != ETL_OK)
		return code;
	if (!o.slot || (map && !o.field)) {
		etl_error("missing %s", !o.slot ? "--slot" : "--field");
		return etl_jobcli_usage_error(usage, path);
	}
	if (!map && o.field) {
		etl_error("--field is for 'fields map'");
		return etl_jobcli_usage_error(usage, path);
	}
	if (!(slot = slot_name(o.slot, slotbuf, sizeof(slotbuf)))) {
		etl_error("invalid slot '%s' (01..20, team, code_changed or story_points)",
			  o.slot);
		return etl_jobcli_usage_error(usage, path);
	}
	if (!(db = open_integration(cli, &o, &code)))
		return code;
	if (map) {
		const char *vals[3] = { o.tenant_s, o.integ_s, o.field };

		r = etl_db_exec(db, sql_field, vals, 3, &code);
		if (!r)
			goto out;
		if (etl_db_nrows(r) == 0) {
			etl_error("unknown custom field '%s' of integration %s: not discovered "
				  "yet (see 'etl-job fields list')", o.field, o.integration);
			code = ETL_NOINPUT;
			goto out;
		}
		snprintf(fid, sizeof(fid), "%s", etl_db_value(r, 0, "id"));
		if (!strcmp(slot, "story_points") &&
		    strcmp(etl_db_value(r, 0, "field_type"), "number"))
			etl_warn("field '%s' is of type %s: story_points keeps numbers only",
				 o.field, etl_db_value(r, 0, "field_type"));
	}
	{
		const char *ins[2] = { o.tenant_s, o.integ_s };
		const char *vals[4] = { o.tenant_s, o.integ_s, slot, map ? fid : NULL };
		struct etl_db_res *r2;

		if (etl_db_begin(db, &code) < 0)
			goto out;
		r2 = etl_db_exec(db, sql_mapping_row, ins, 2, &code);
		etl_db_clear(r2);
		if (!r2)
			goto rollback;
		r2 = etl_db_exec(db, sql_set_slot, vals, 4, &code);
		etl_db_clear(r2);
		if (!r2 || etl_db_commit(db, &code) < 0)
			goto rollback;
	}
	if (map)
		printf("%s = %s (%s)\n", slot, o.field, etl_db_value(r, 0, "name"));
	else
		printf("%s = -\n", slot);
	code = ETL_OK;
	goto out;
rollback:
	etl_db_rollback(db);
out:
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

static int fields_map(struct etl_jobcli *cli, int argc, char **argv)
{
	return set_slot(cli, argc, argv, true);
}

static int fields_unmap(struct etl_jobcli *cli, int argc, char **argv)
{
	return set_slot(cli, argc, argv, false);
}

int etl_fieldscli_fields(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct etl_jobcli_cmd cmds[] = {
		{ "list", fields_list }, { "map", fields_map }, { "unmap", fields_unmap },
	};

	return etl_jobcli_dispatch(cli, cmds, ETL_ARRAY_SIZE(cmds), "fields", usage_fields,
				   argc - 1, argv + 1);
}

/* --- status-map */

static int status_list(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { SUB_LONG, { NULL, 0, NULL, 0 } };
	static const char *const cols[] = { "id", "name", "category", "step", "source",
		"projects" };
	static const char *const heads[] = { "ID", "NAME", "CATEGORY", "STEP", "SOURCE",
		"PROJECTS" };
	struct opts o = { 0 };
	struct etl_db *db;
	struct etl_db_res *r;
	int code = parse_opts(cli, argc, argv, longopts, usage_status_list,
			      "status-map list", &o);

	if (code != ETL_OK)
		return code;
	o.json = o.json || !isatty(STDOUT_FILENO);
	if (!(db = open_integration(cli, &o, &code)))
		return code;
	const char *vals[2] = { o.tenant_s, o.integ_s };

	r = etl_db_exec(db, sql_status_list, vals, 2, &code);
	if (r) {
		etl_jobcli_print_rows(r, o.json, cols, heads, ETL_ARRAY_SIZE(cols));
		code = ETL_OK;
	}
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

static int status_set(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "step", required_argument, NULL, OPT_STEP },
		SUB_LONG, { NULL, 0, NULL, 0 } };
	static const char *const steps[] = { "backlog", "to_do", "in_progress", "review",
		"done", "default" };
	const char *path = "status-map set";
	struct opts o = { 0 };
	struct etl_db *db;
	struct etl_db_res *r = NULL, *r2 = NULL;
	bool ok = false;
	int code = parse_opts(cli, argc, argv, longopts, usage_status_set, path, &o);

	if (code != ETL_OK)
		return code;
	if (!o.status || !o.step) {
		etl_error("missing %s", !o.status ? "--status" : "--step");
		return etl_jobcli_usage_error(usage_status_set, path);
	}
	for (size_t i = 0; i < ETL_ARRAY_SIZE(steps); i++)
		ok = ok || !strcmp(o.step, steps[i]);
	if (!ok) {
		etl_error("invalid step '%s' (backlog, to_do, in_progress, review, done or "
			  "default)", o.step);
		return etl_jobcli_usage_error(usage_status_set, path);
	}
	if (!(db = open_integration(cli, &o, &code)))
		return code;
	const char *find[3] = { o.tenant_s, o.integ_s, o.status };

	r = etl_db_exec(db, sql_status_find, find, 3, &code);
	if (!r)
		goto out;
	if (etl_db_nrows(r) != 1) {
		if (etl_db_nrows(r) == 0) {
			etl_error("unknown status '%s' of integration %s (see 'etl-job "
				  "status-map list')", o.status, o.integration);
			code = ETL_NOINPUT;
		} else {
			etl_error("status name '%s' is ambiguous: give one of the ids %s, %s%s",
				  o.status, etl_db_value(r, 0, "external_id"),
				  etl_db_value(r, 1, "external_id"),
				  etl_db_nrows(r) > 2 ? ", ..." : "");
			code = ETL_USAGE;
		}
		goto out;
	}
	const char *vals[4] = { o.tenant_s, o.integ_s, etl_db_value(r, 0, "id"), o.step };
	bool dflt = !strcmp(o.step, "default");

	r2 = etl_db_exec(db, dflt ? sql_status_default : sql_status_set, vals, dflt ? 3 : 4,
			 &code);
	if (!r2)
		goto out;
	printf("%s (%s) = %s\n", etl_db_value(r, 0, "name"), etl_db_value(r, 0, "external_id"),
	       o.step);
	code = ETL_OK;
out:
	etl_db_clear(r2);
	etl_db_clear(r);
	etl_db_close(db);
	return code;
}

int etl_fieldscli_status_map(struct etl_jobcli *cli, int argc, char **argv)
{
	static const struct etl_jobcli_cmd cmds[] = {
		{ "list", status_list }, { "set", status_set },
	};

	return etl_jobcli_dispatch(cli, cmds, ETL_ARRAY_SIZE(cmds), "status-map",
				   usage_status_map, argc - 1, argv + 1);
}
