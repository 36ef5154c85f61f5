#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "tenant.h"
#include "util.h"

static const char sql_add[] =
	"INSERT INTO tenants (name, tier) VALUES ($1, $2) RETURNING id";
static const char sql_by_id[] = "SELECT id FROM tenants WHERE id = $1::bigint";
static const char sql_by_name[] = "SELECT id FROM tenants WHERE name = $1";
static const char sql_list[] =
	"SELECT id, name, tier, active, "
	"to_char(created_at, 'YYYY-MM-DD HH24:MI') AS created_at, "
	"json_build_object('id', id, 'name', name, 'tier', tier, "
	"'active', active, 'created_at', created_at)::text AS json "
	"FROM tenants ORDER BY id";

bool etl_tenant_tier_valid(const char *tier)
{
	static const char *const tiers[] = { "free", "basic", "premium", "enterprise" };

	for (size_t i = 0; i < ETL_ARRAY_SIZE(tiers); i++)
		if (!strcmp(tier, tiers[i]))
			return true;
	return false;
}

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255)
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

int etl_tenant_add(struct etl_db *db, const char *name, const char *tier,
		   int64_t *id, int *why)
{
	const char *vals[2] = { name, tier ? tier : "free" };
	struct etl_db_res *r;
	int ret = -1;

	if (!name_valid(name)) {
		*why = ETL_DATAERR;
		return etl_error("invalid tenant name '%s': 1 to 255 characters, "
				 "no control characters", name);
	}
	if (!etl_tenant_tier_valid(vals[1])) {
		*why = ETL_DATAERR;
		return etl_error("invalid tier '%s' (free, basic, premium or enterprise)",
				 vals[1]);
	}
	r = etl_db_exec_full(db, sql_add, vals, NULL, 2, ETL_DB_QUIET, why);
	if (!r) {
		const struct etl_db_error *e = etl_db_last_error(db);

		if (!strcmp(e->sqlstate, "23505"))
			return etl_error("tenant '%s' already exists", name);
		return etl_error("cannot add tenant '%s': %s", name, e->message);
	}
	if (etl_db_int64(r, 0, "id", id) == 0)
		ret = 0;
	else
		*why = ETL_SOFTWARE;
	etl_db_clear(r);
	return ret;
}

int etl_tenant_resolve(struct etl_db *db, const char *ref, int64_t *id, int *why)
{
	const char *vals[1] = { ref };
	bool numeric = *ref && strspn(ref, "0123456789") == strlen(ref);
	struct etl_db_res *r;
	int ret = -1;

	if (numeric && strlen(ref) > 18) {
		*why = ETL_NOINPUT;
		return etl_error("unknown tenant '%s'", ref);
	}
	r = etl_db_exec(db, numeric ? sql_by_id : sql_by_name, vals, 1, why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) == 0) {
		*why = ETL_NOINPUT;
		etl_error("unknown tenant '%s'", ref);
	} else if (etl_db_int64(r, 0, "id", id) == 0) {
		ret = 0;
	} else {
		*why = ETL_SOFTWARE;
	}
	etl_db_clear(r);
	return ret;
}

struct etl_db_res *etl_tenant_list(struct etl_db *db, int *why)
{
	return etl_db_exec(db, sql_list, NULL, 0, why);
}
