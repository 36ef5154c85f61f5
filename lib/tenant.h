/*
 * tenant.h - the tenants table: every business row belongs to one.
 * Failures are reported and set *why (an exit category; not NULL).
 */
#ifndef ETL_TENANT_H
#define ETL_TENANT_H

#include <stdbool.h>
#include <stdint.h>

struct etl_db;
struct etl_db_res;

/* "free", "basic", "premium", "enterprise": the queue tiers. */
bool etl_tenant_tier_valid(const char *tier);

/*
 * Create tenant @name with @tier (NULL: "free").  0 with its id in *id, or
 * -1 after reporting (*why ETL_DATAERR when the name is taken or invalid).
 */
int etl_tenant_add(struct etl_db *db, const char *name, const char *tier,
		   int64_t *id, int *why);

/*
 * Find the tenant @ref names: an id when it is all digits, else a name.
 * 0 with *id set, or -1 after reporting (*why ETL_NOINPUT: no such tenant).
 */
int etl_tenant_resolve(struct etl_db *db, const char *ref, int64_t *id, int *why);

/*
 * All tenants by id: columns id, name, tier, active, created_at, and json
 * (the row as one JSON object).  Caller clears; NULL after reporting.
 */
struct etl_db_res *etl_tenant_list(struct etl_db *db, int *why);

#endif
