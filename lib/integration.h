/*
 * integration.h - the integrations table: a tenant's Jira site or GitHub
 * account, with its API token stored encrypted (secret.h).
 *
 * The token is decrypted only by etl_integration_load(), for the programs
 * that call the API; listings never select it.  Failures are reported and
 * set *why (an exit category; not NULL).
 */
#ifndef ETL_INTEGRATION_H
#define ETL_INTEGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etl_db;
struct etl_db_res;

struct etl_integration {
	int64_t id, tenant_id;
	char *tenant_tier;        /* the tenant's tier: picks the queues */
	char *provider;           /* "jira" or "github" */
	char *base_url;           /* https://acme.atlassian.net, https://api.github.com */
	char *email;              /* Jira basic auth user; NULL when unset */
	char *token;              /* plaintext API token; NULL when none stored */
	char **projects;          /* Jira project keys; NULL/0: all visible */
	size_t nprojects;
	char **orgs;              /* GitHub organisations or users */
	size_t norgs;
	char *repos_pattern;      /* GitHub repository name pattern, or NULL */
	bool active;
	char *settings;           /* JSON object text, "{}" by default */
	char *last_sync_date;     /* ISO 8601 with offset, or NULL */
};
#define ETL_INTEGRATION_INIT { 0 }

bool etl_integration_provider_valid(const char *provider);

/*
 * Store a new, active integration from the fields of @in (id, tenant_tier,
 * active and last_sync_date ignored; token in plaintext, encrypted here
 * with ETL_SECRET_KEY before it leaves the process; settings NULL: "{}").
 * 0 with the new id in *id, or -1 after reporting (*why ETL_CONFIG when
 * ETL_SECRET_KEY is unset or unusable, ETL_DATAERR for rejected values).
 */
int etl_integration_add(struct etl_db *db, const struct etl_integration *in,
			int64_t *id, int *why);

/*
 * Load integration @id into @out (start from ETL_INTEGRATION_INIT; release
 * with etl_integration_release()), the token decrypted and registered
 * with etl_log_add_secret() so no log line can show it.  0, or -1 after
 * reporting (*why ETL_NOINPUT: no such integration; ETL_CONFIG: the token
 * cannot be decrypted with this ETL_SECRET_KEY).
 */
int etl_integration_load(struct etl_db *db, int64_t id,
			 struct etl_integration *out, int *why);
/* Free everything, wiping the token; @in is back to ETL_INTEGRATION_INIT. */
void etl_integration_release(struct etl_integration *in);

/* Set active; 0, or -1 (*why ETL_NOINPUT when there is no such id). */
int etl_integration_set_active(struct etl_db *db, int64_t id, bool active,
			       int *why);

/*
 * Integrations for display, by id: all (@id 0), or one; only @tenant's
 * (an id or a name; NULL: all tenants).  Columns id, tenant_id, tenant,
 * provider, base_url, email, scope (projects or orgs, comma-separated),
 * repos, active, token ("(set)" or NULL: never the token itself), and
 * json (the row as a JSON object).  Caller clears; NULL after reporting.
 */
struct etl_db_res *etl_integration_list(struct etl_db *db, int64_t id,
					const char *tenant, int *why);

#endif
