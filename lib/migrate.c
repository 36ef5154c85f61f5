#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

/* pg_advisory_lock key: "etlkit" in ASCII, shared by every migrate run. */
#define MIGRATE_LOCK_KEY "111542744836468"

struct migration {
	int64_t version;
	char *name;        /* file name: 0001_tenants.sql */
	char *path;
	char *sql;         /* contents, NUL-terminated */
	char sum[65];      /* SHA-256, hex */
};

struct applied {
	int64_t version;
	const char *name, *checksum;   /* borrowed from the result */
	bool seen;
};

static const char sql_lock[] = "SELECT pg_advisory_lock($1::bigint)";
static const char sql_try_lock[] =
	"SELECT pg_try_advisory_lock($1::bigint) AS locked";
static const char sql_unlock[] = "SELECT pg_advisory_unlock($1::bigint)";
/* Created by the runner, not by a migration: it must exist to know which
 * migrations ran. */
static const char sql_bootstrap[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations (\n"
	"	version bigint PRIMARY KEY,\n"
	"	name text NOT NULL,\n"
	"	checksum text NOT NULL,\n"
	"	applied_at timestamptz NOT NULL DEFAULT now(),\n"
	"	execution_ms bigint\n"
	")";
static const char sql_applied[] =
	"SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char sql_record[] =
	"INSERT INTO schema_migrations (version, name, checksum, execution_ms) "
	"VALUES ($1, $2, $3, $4)";

char *etl_migrate_default_dir(void)
{
	const char *env = etl_config_get("ETL_SQL_DIR");
	char exe[PATH_MAX], path[PATH_MAX + 32];
	struct stat st;
	ssize_t n;

	if (env && *env)
		return xstrdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/../share/sql", exe);
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
			    realpath(path, exe))
				return xstrdup(exe);
		}
	}
	return xstrdup(ETL_DATADIR "/sql");
}

static void migration_release(struct migration *m)
{
	free(m->name);
	free(m->path);
	free(m->sql);
}

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* NNNN_name.sql: the version, or -1 when @name is not a migration. */
static int64_t version_of(const char *name)
{
	size_t digits = strspn(name, "0123456789"), len = strlen(name);
	char num[20];
	int64_t v;

	if (digits == 0 || digits >= sizeof(num) || name[digits] != '_' ||
	    len < digits + 6 || strcmp(name + len - 4, ".sql"))
		return -1;
	memcpy(num, name, digits);
	num[digits] = '\0';
	return etl_parse_i64(num, &v) < 0 ? -1 : v;
}

static int read_file(struct migration *m)
{
	struct etl_buf b = ETL_BUF_INIT;
	FILE *fp = fopen(m->path, "r");
	char chunk[8192];
	size_t n;
	int ret = -1;

	if (!fp)
		return etl_error("cannot open '%s': %s", m->path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		etl_buf_add(&b, chunk, n);
	if (ferror(fp)) {
		etl_error("cannot read '%s': %s", m->path, strerror(errno));
		goto out;
	}
	if (strlen(etl_buf_str(&b)) != b.len) {
		etl_error("cannot use '%s': it contains a NUL byte", m->path);
		goto out;
	}
	m->sql = etl_buf_detach(&b, NULL);
	ret = 0;
out:
	etl_buf_release(&b);
	fclose(fp);
	return ret;
}

static void checksum(struct migration *m)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(m->sql, strlen(m->sql), md, &len, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < len && i < 32; i++) {
		m->sum[2 * i] = hex[md[i] >> 4];
		m->sum[2 * i + 1] = hex[md[i] & 15];
	}
	m->sum[64] = '\0';
}

/* Load every migration of @dir, sorted.  0 or -1 after reporting. */
static int scan(const char *dir, struct migration **out, size_t *nout, int *why)
{
	struct migration *ms = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*why = ETL_NOINPUT;
	if (!d)
		return etl_error("cannot open migrations directory '%s': %s", dir,
				 strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int64_t v = version_of(de->d_name);
		struct migration *m;

		if (v < 0) {
			size_t len = strlen(de->d_name);

			if (len > 4 && !strcmp(de->d_name + len - 4, ".sql"))
				etl_warn("ignoring '%s/%s': not named NNNN_name.sql",
					 dir, de->d_name);
			continue;
		}
		ms = xrealloc(ms, (n + 1) * sizeof(*ms));
		m = &ms[n++];
		memset(m, 0, sizeof(*m));
		m->version = v;
		m->name = xstrdup(de->d_name);
		m->path = xmalloc(strlen(dir) + strlen(de->d_name) + 2);
		memcpy(m->path, dir, strlen(dir));
		m->path[strlen(dir)] = '/';
		memcpy(m->path + strlen(dir) + 1, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	*out = ms;
	*nout = n;
	if (n == 0)
		return etl_error("no migrations (NNNN_name.sql) in '%s'", dir);
	qsort(ms, n, sizeof(*ms), by_version);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ms[i].version == ms[i - 1].version) {
			*why = ETL_CONFIG;
			return etl_error("migrations '%s' and '%s' have the same version",
					 ms[i - 1].name, ms[i].name);
		}
		if (read_file(&ms[i]) < 0) {
			*why = ETL_IOERR;
			return -1;
		}
		checksum(&ms[i]);
	}
	return 0;
}

/* The 1-based line of the 1-based character position @pos in @sql. */
static long line_of(const char *sql, int pos)
{
	long line = 1;
	int chars = 0;

	for (const char *p = sql; *p; p++) {
		if (((unsigned char)*p & 0xC0) != 0x80 && ++chars >= pos)
			break;
		if (*p == '\n')
			line++;
	}
	return line;
}

static int apply(struct etl_db *db, const struct migration *m, FILE *out, int *why)
{
	const struct etl_db_error *e;
	struct etl_db_res *r;
	char ver[24], ms[24];
	const char *vals[4] = { ver, m->name, m->sum, ms };
	int64_t t0 = etl_now_ms();

	if (etl_db_begin(db, why) < 0)
		return -1;
	if (etl_db_exec_script(db, m->sql, ETL_DB_QUIET, why) < 0) {
		e = etl_db_last_error(db);
		if (e->position > 0)
			etl_error("migration '%s' failed at line %ld: %s%s%s", m->name,
				  line_of(m->sql, e->position), e->message,
				  e->detail ? ": " : "", e->detail ? e->detail : "");
		else
			etl_error("migration '%s' failed: %s%s%s%s%s", m->name,
				  e->message, e->detail ? ": " : "",
				  e->detail ? e->detail : "",
				  e->context ? "; context: " : "",
				  e->context ? e->context : "");
		etl_db_rollback(db);
		etl_error("migration '%s' was rolled back: nothing of it was applied",
			  m->name);
		return -1;
	}
	snprintf(ver, sizeof(ver), "%lld", (long long)m->version);
	snprintf(ms, sizeof(ms), "%lld", (long long)(etl_now_ms() - t0));
	r = etl_db_exec(db, sql_record, vals, 4, why);
	if (!r) {
		etl_db_rollback(db);
		return -1;
	}
	etl_db_clear(r);
	if (etl_db_commit(db, why) < 0)
		return -1;
	if (out)
		fprintf(out, "applied %s (%s ms)\n", m->name, ms);
	return 0;
}

static int lock(struct etl_db *db, int *why)
{
	const char *key[1] = { MIGRATE_LOCK_KEY };
	struct etl_db_res *r = etl_db_exec(db, sql_try_lock, key, 1, why);
	bool locked;

	if (!r)
		return -1;
	locked = etl_db_bool(r, 0, "locked");
	etl_db_clear(r);
	if (locked)
		return 0;
	etl_info("another migrate holds the lock: waiting for it");
	r = etl_db_exec(db, sql_lock, key, 1, why);
	etl_db_clear(r);
	return r ? 0 : -1;
}

static void unlock(struct etl_db *db)
{
	const char *key[1] = { MIGRATE_LOCK_KEY };

	etl_db_clear(etl_db_exec(db, sql_unlock, key, 1, NULL));
}

int etl_migrate(struct etl_db *db, const char *dir, FILE *out, int *why)
{
	struct migration *ms = NULL;
	struct applied *done = NULL;
	struct etl_db_res *r = NULL;
	size_t n = 0, ndone = 0;
	char *defdir = NULL;
	int ret = -1, applied = 0, dummy;
	bool locked = false;

	if (!why)
		why = &dummy;
	if (!dir)
		dir = defdir = etl_migrate_default_dir();
	etl_info("migrations from '%s'", dir);
	if (scan(dir, &ms, &n, why) < 0)
		goto out;
	if (lock(db, why) < 0)
		goto out;
	locked = true;
	if (etl_db_exec_script(db, sql_bootstrap, 0, why) < 0)
		goto out;
	r = etl_db_exec(db, sql_applied, NULL, 0, why);
	if (!r)
		goto out;
	ndone = (size_t)etl_db_nrows(r);
	done = xcalloc(ndone ? ndone : 1, sizeof(*done));
	for (size_t i = 0; i < ndone; i++) {
		if (etl_db_int64(r, (int)i, "version", &done[i].version) != 0) {
			*why = ETL_SOFTWARE;
			goto out;
		}
		done[i].name = etl_db_value(r, (int)i, "name");
		done[i].checksum = etl_db_value(r, (int)i, "checksum");
	}

	for (size_t i = 0; i < n; i++) {
		struct applied *a = NULL;

		for (size_t j = 0; j < ndone && !a; j++)
			if (done[j].version == ms[i].version)
				a = &done[j];
		if (a) {
			a->seen = true;
			if (strcmp(a->checksum ? a->checksum : "", ms[i].sum))
				etl_warn("migration '%s' changed after it was applied "
					 "(checksum differs); not applied again",
					 ms[i].name);
			else if (strcmp(a->name ? a->name : "", ms[i].name))
				etl_warn("migration %lld was applied as '%s', "
					 "now named '%s'", (long long)ms[i].version,
					 a->name, ms[i].name);
			continue;
		}
		if (apply(db, &ms[i], out, why) < 0)
			goto out;
		applied++;
	}
	for (size_t j = 0; j < ndone; j++)
		if (!done[j].seen)
			etl_warn("migration %lld ('%s') is applied but not in '%s': "
				 "is this binary older than the schema?",
				 (long long)done[j].version, done[j].name, dir);
	if (out && applied == 0)
		fprintf(out, "schema is up to date\n");
	ret = applied;
out:
	if (locked)
		unlock(db);
	free(done);
	etl_db_clear(r);
	for (size_t i = 0; i < n; i++)
		migration_release(&ms[i]);
	free(ms);
	free(defdir);
	return ret;
}
