/*
 * migrate.h - apply share/sql/NNNN_name.sql schema migrations in order.
 *
 * Applied migrations are recorded in schema_migrations (version, name,
 * checksum, applied_at, execution_ms).  Each pending file runs in its own
 * transaction together with its schema_migrations row: a failing file
 * leaves no trace.  Concurrent runs serialize on a session advisory lock.
 * An applied file whose SHA-256 changed since is a warning, not an error:
 * the schema it built is what it is.
 */
#ifndef ETL_MIGRATE_H
#define ETL_MIGRATE_H

#include <stdio.h>

struct etl_db;

/*
 * Where migrations live: $ETL_SQL_DIR, else ../share/sql next to the
 * running binary when that directory exists (a build tree's bin/etl-job),
 * else ETL_DATADIR "/sql" (the installed copy).  Caller frees.
 */
char *etl_migrate_default_dir(void);

/*
 * Apply the pending migrations of @dir (NULL: etl_migrate_default_dir())
 * on @db, printing one line per applied file, or "schema is up to date",
 * on @out (NULL: silent).  Returns how many were applied, or -1 after
 * reporting with *why set (ETL_NOINPUT: no such directory or no
 * migrations in it; ETL_CONFIG: two files with one version; else the
 * database's category).  A failed file is named with the line of the
 * error: "migration '0002_x.sql' failed at line 3: ...".
 */
int etl_migrate(struct etl_db *db, const char *dir, FILE *out, int *why);

#endif
