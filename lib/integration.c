#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "integration.h"
#include "log.h"
#include "secret.h"
#include "util.h"

/* Arrays travel as JSON text ($6, $7): no array literal is built by hand. */
static const char sql_add[] =
	"INSERT INTO integrations (tenant_id, provider, base_url, email, "
	"token_encrypted, projects, orgs, repos_pattern, settings) "
	"VALUES ($1::bigint, $2, $3, $4, $5, "
	"(SELECT array_agg(x ORDER BY n) FROM jsonb_array_elements_text($6::jsonb) "
	"WITH ORDINALITY AS e (x, n)), "
	"(SELECT array_agg(x ORDER BY n) FROM jsonb_array_elements_text($7::jsonb) "
	"WITH ORDINALITY AS e (x, n)), "
	"$8, coalesce($9::jsonb, '{}')) RETURNING id";
static const char sql_load[] =
	"SELECT i.id, i.tenant_id, t.tier, i.provider, i.base_url, i.email, "
	"i.token_encrypted, i.projects, i.orgs, i.repos_pattern, i.active, "
	"i.settings::text AS settings, "
	"to_json(i.last_sync_date) #>> '{}' AS last_sync_date "
	"FROM integrations i JOIN tenants t ON t.id = i.tenant_id "
	"WHERE i.id = $1::bigint";
static const char sql_set_active[] =
	"UPDATE integrations SET active = $2::boolean, last_updated_at = now() "
	"WHERE id = $1::bigint RETURNING id";
static const char sql_list[] =
	"SELECT i.id, i.tenant_id, t.name AS tenant, i.provider, i.base_url, "
	"i.email, array_to_string(coalesce(i.projects, i.orgs), ',') AS scope, "
	"i.repos_pattern AS repos, i.active, "
	"CASE WHEN i.token_encrypted IS NULL THEN NULL ELSE '(set)' END AS token, "
	"json_build_object('id', i.id, 'tenant_id', i.tenant_id, 'tenant', t.name, "
	"'provider', i.provider, 'base_url', i.base_url, 'email', i.email, "
	"'token', CASE WHEN i.token_encrypted IS NULL THEN NULL ELSE '(set)' END, "
	"'projects', i.projects, 'orgs', i.orgs, 'repos', i.repos_pattern, "
	"'active', i.active, 'settings', i.settings, "
	"'last_sync_date', i.last_sync_date, 'created_at', i.created_at, "
	"'last_updated_at', i.last_updated_at)::text AS json "
	"FROM integrations i JOIN tenants t ON t.id = i.tenant_id "
	"WHERE ($1::bigint IS NULL OR i.id = $1::bigint) "
	"AND ($2::text IS NULL OR t.name = $2 OR t.id::text = $2) "
	"ORDER BY i.id";

bool etl_integration_provider_valid(const char *provider)
{
	return !strcmp(provider, "jira") || !strcmp(provider, "github");
}

/* @v as a JSON array of strings, or NULL when @n is 0 (caller frees). */
static char *json_array(char *const *v, size_t n)
{
	struct etl_buf b = ETL_BUF_INIT;

	if (!v || n == 0)
		return NULL;
	etl_buf_addch(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			etl_buf_addch(&b, ',');
		etl_buf_add_json_str(&b, v[i], strlen(v[i]));
	}
	etl_buf_addch(&b, ']');
	return etl_buf_detach(&b, NULL);
}

int etl_integration_add(struct etl_db *db, const struct etl_integration *in,
			int64_t *id, int *why)
{
	char tenant[24], *token = NULL, *projects = NULL, *orgs = NULL;
	struct etl_db_res *r = NULL;
	int ret = -1;

	if (!etl_integration_provider_valid(in->provider ? in->provider : "")) {
		*why = ETL_DATAERR;
		return etl_error("unknown provider '%s' (jira or github)",
				 in->provider ? in->provider : "");
	}
	if (in->token) {
		etl_log_add_secret(in->token);
		token = etl_secret_encrypt(in->token, strlen(in->token), why);
		if (!token)
			return -1;
	}
	snprintf(tenant, sizeof(tenant), "%lld", (long long)in->tenant_id);
	projects = json_array(in->projects, in->nprojects);
	orgs = json_array(in->orgs, in->norgs);
	{
		const char *vals[9] = { tenant, in->provider, in->base_url,
			in->email, token, projects, orgs, in->repos_pattern,
			in->settings };

		r = etl_db_exec(db, sql_add, vals, 9, why);
	}
	if (!r)
		goto out;
	if (etl_db_int64(r, 0, "id", id) != 0) {
		*why = ETL_SOFTWARE;
		goto out;
	}
	ret = 0;
out:
	etl_db_clear(r);
	free(token);
	free(projects);
	free(orgs);
	return ret;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/*
 * Parse a one-dimensional text[] in PostgreSQL's output form, {a,"b c",NULL}
 * (NULL elements dropped).  0, or -1 when malformed.
 */
static int parse_array(const char *s, char ***out, size_t *nout)
{
	struct etl_buf el = ETL_BUF_INIT;
	char **v = NULL;
	size_t n = 0;
	const char *p = s;

	*out = NULL;
	*nout = 0;
	if (*p++ != '{')
		return -1;
	while (*p && *p != '}') {
		bool quoted = *p == '"';

		etl_buf_reset(&el);
		if (quoted) {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				etl_buf_addch(&el, *p);
			}
			if (*p++ != '"')
				goto bad;
		} else {
			while (*p && *p != ',' && *p != '}')
				etl_buf_addch(&el, *p++);
		}
		if (quoted || strcmp(etl_buf_str(&el), "NULL")) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n++] = xstrdup(etl_buf_str(&el));
		}
		if (*p == ',')
			p++;
		else if (*p != '}')
			goto bad;
	}
	if (*p != '}' || p[1])
		goto bad;
	etl_buf_release(&el);
	*out = v;
	*nout = n;
	return 0;
bad:
	etl_buf_release(&el);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

static int load_array(const struct etl_db_res *r, const char *col,
		      char ***out, size_t *n)
{
	const char *v = etl_db_value(r, 0, col);

	if (!v) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (parse_array(v, out, n) < 0)
		return etl_error("cannot parse column '%s': '%s'", col, v);
	return 0;
}

int etl_integration_load(struct etl_db *db, int64_t id,
			 struct etl_integration *out, int *why)
{
	char idtext[24];
	const char *vals[1] = { idtext };
	const char *enc;
	struct etl_db_res *r;
	int ret = -1;

	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	r = etl_db_exec(db, sql_load, vals, 1, why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) == 0) {
		*why = ETL_NOINPUT;
		etl_error("unknown integration %lld", (long long)id);
		goto out;
	}
	*why = ETL_SOFTWARE;
	if (etl_db_int64(r, 0, "id", &out->id) != 0 ||
	    etl_db_int64(r, 0, "tenant_id", &out->tenant_id) != 0 ||
	    load_array(r, "projects", &out->projects, &out->nprojects) < 0 ||
	    load_array(r, "orgs", &out->orgs, &out->norgs) < 0)
		goto out;
	out->tenant_tier = dup_or_null(etl_db_value(r, 0, "tier"));
	out->provider = dup_or_null(etl_db_value(r, 0, "provider"));
	out->base_url = dup_or_null(etl_db_value(r, 0, "base_url"));
	out->email = dup_or_null(etl_db_value(r, 0, "email"));
	out->repos_pattern = dup_or_null(etl_db_value(r, 0, "repos_pattern"));
	out->active = etl_db_bool(r, 0, "active");
	out->settings = dup_or_null(etl_db_value(r, 0, "settings"));
	out->last_sync_date = dup_or_null(etl_db_value(r, 0, "last_sync_date"));
	enc = etl_db_value(r, 0, "token_encrypted");
	if (enc) {
		out->token = etl_secret_decrypt(enc, NULL, why);
		if (!out->token) {
			etl_error("cannot read the token of integration %lld",
				  (long long)id);
			goto out;
		}
		etl_log_add_secret(out->token);
	}
	ret = 0;
out:
	etl_db_clear(r);
	if (ret < 0)
		etl_integration_release(out);
	return ret;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void etl_integration_release(struct etl_integration *in)
{
	free(in->tenant_tier);
	free(in->provider);
	free(in->base_url);
	free(in->email);
	etl_secret_free(in->token);
	free_list(in->projects, in->nprojects);
	free_list(in->orgs, in->norgs);
	free(in->repos_pattern);
	free(in->settings);
	free(in->last_sync_date);
	memset(in, 0, sizeof(*in));
}

int etl_integration_set_active(struct etl_db *db, int64_t id, bool active,
			       int *why)
{
	char idtext[24];
	const char *vals[2] = { idtext, active ? "true" : "false" };
	struct etl_db_res *r;
	int ret = 0;

	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	r = etl_db_exec(db, sql_set_active, vals, 2, why);
	if (!r)
		return -1;
	if (etl_db_nrows(r) == 0) {
		*why = ETL_NOINPUT;
		ret = etl_error("unknown integration %lld", (long long)id);
	}
	etl_db_clear(r);
	return ret;
}

struct etl_db_res *etl_integration_list(struct etl_db *db, int64_t id,
					const char *tenant, int *why)
{
	char idtext[24];
	const char *vals[2] = { id ? idtext : NULL, tenant };

	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	return etl_db_exec(db, sql_list, vals, 2, why);
}
