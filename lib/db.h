/*
 * db.h - PostgreSQL access, the only module that includes <libpq-fe.h>.
 *
 * Connections and results are opaque.  Every query carries its values out
 * of line as $n parameters: no function here takes SQL built from values.
 * Functions that can fail report the error (etl_error) and return -1 or
 * NULL, setting *why to the exit category (exit.h):
 *   ETL_UNAVAIL   the connection is bad or the server went away
 *   ETL_DATAERR   the data broke a constraint or a type (SQLSTATE 22, 23)
 *   ETL_TEMPFAIL  serialization failure, deadlock, lock timeout (40, 55P03)
 *   ETL_CONFIG    a malformed conninfo
 *   ETL_SOFTWARE  anything else: a bug in our SQL
 * @why may be NULL.  The last failure's details stay readable through
 * etl_db_last_error() until the next call on the connection.
 */
#ifndef ETL_DB_H
#define ETL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etl_db;           /* a connection */
struct etl_db_res;       /* a query result */
struct etl_db_copy;      /* a COPY ... FROM STDIN in progress */

/* The parts of a server error a caller may want to word its own message. */
struct etl_db_error {
	char sqlstate[6];    /* "" when the failure was not the server's */
	const char *message; /* primary message, no trailing newline */
	const char *detail;  /* NULL when absent, likewise below */
	const char *hint;
	const char *context;
	int position;        /* 1-based character offset in the query, or 0 */
};

/*
 * Connect to @dsn (a conninfo "host=... dbname=..." or a postgresql:// URI).
 * NULL means ETL_DATABASE_URL (etl_config_get), and when that is unset too
 * the empty conninfo: libpq then reads PGHOST, PGPORT, PGDATABASE, ....
 * Defaults, which @dsn and the PG* variables override: connect_timeout=10,
 * application_name = the program name.  A password in @dsn is registered
 * with etl_log_add_secret() so it is masked in every log line.  The
 * session's time zone is UTC.  Returns a connection to etl_db_close(), or
 * NULL after reporting (ETL_CONFIG for a malformed @dsn, else ETL_UNAVAIL).
 */
struct etl_db *etl_db_connect(const char *dsn, int *why);
void etl_db_close(struct etl_db *db);   /* NULL is fine */
/* Borrowed, valid until the next call on @db. */
const struct etl_db_error *etl_db_last_error(const struct etl_db *db);

/*
 * Run @sql with @n text parameters @vals ($1..$n; a NULL entry is SQL
 * NULL).  Returns a result the caller must etl_db_clear(), or NULL after
 * reporting.
 */
struct etl_db_res *etl_db_exec(struct etl_db *db, const char *sql,
			       const char *const *vals, int n, int *why);

#define ETL_DB_QUIET 1   /* do not report failures: see etl_db_last_error() */
#define ETL_DB_BINARY 2  /* results in binary format: read them with
			    etl_db_value() + etl_db_length() (big-endian,
			    the types' send format; NUL-terminated as well) */
/*
 * Like etl_db_exec(), with lengths: when @lens is non-NULL a parameter with
 * lens[i] >= 0 is sent as lens[i] raw bytes in binary format (for bytea
 * columns: the bytes themselves, NULs included); lens[i] < 0 means text.
 */
struct etl_db_res *etl_db_exec_full(struct etl_db *db, const char *sql,
				    const char *const *vals, const int *lens,
				    int n, int flags, int *why);
/*
 * Run @sql like etl_db_exec_full(), as the prepared statement @name of this
 * connection: prepared on first use, then run again without being parsed
 * and planned (what a stage's one-query-per-message path wants: a third
 * of the time for an indexed lookup).  @name always goes with the same
 * @sql; statements live as long as the connection.
 */
struct etl_db_res *etl_db_exec_named(struct etl_db *db, const char *name, const char *sql,
				     const char *const *vals, const int *lens, int n,
				     int flags, int *why);

/*
 * Run a script of several statements with no parameters (schema files
 * only; never with values in it) in the simple query protocol.
 * 0 ok, -1 after reporting (or silently with ETL_DB_QUIET).
 */
int etl_db_exec_script(struct etl_db *db, const char *sql, int flags, int *why);

void etl_db_clear(struct etl_db_res *res);   /* NULL is fine */

/* Rows returned, and rows affected by INSERT/UPDATE/DELETE. */
int etl_db_nrows(const struct etl_db_res *res);
int64_t etl_db_affected(const struct etl_db_res *res);
/*
 * The text of column @col in @row, or NULL when it is SQL NULL.  Borrowed,
 * valid until etl_db_clear(@res).  A column the result does not have, or a
 * row out of range, is a bug: reported, and NULL is returned.
 */
const char *etl_db_value(const struct etl_db_res *res, int row, const char *col);
bool etl_db_is_null(const struct etl_db_res *res, int row, const char *col);
/* The byte length of a value (binary results), 0 when NULL or missing. */
size_t etl_db_length(const struct etl_db_res *res, int row, const char *col);
/* "t" is true; NULL and anything else false. */
bool etl_db_bool(const struct etl_db_res *res, int row, const char *col);
/* 0 ok, 1 SQL NULL (*out untouched), -1 missing column or not a number. */
int etl_db_int64(const struct etl_db_res *res, int row, const char *col,
		 int64_t *out);
/* A bytea column's bytes (caller frees; NUL-terminated for convenience,
 * length in *len), or NULL when SQL NULL or on error (reported). */
char *etl_db_bytes(const struct etl_db_res *res, int row, const char *col,
		   size_t *len);

/* Transactions.  0 ok, -1 after reporting. */
int etl_db_begin(struct etl_db *db, int *why);
int etl_db_commit(struct etl_db *db, int *why);
int etl_db_rollback(struct etl_db *db);   /* harmless outside a transaction */

/*
 * Run @fn in a transaction: BEGIN, @fn, COMMIT; ROLLBACK when @fn returns
 * -1.  When the failure was a serialization failure or a deadlock
 * (SQLSTATE 40001, 40P01), the whole transaction is retried once; the
 * first attempt's error is then logged at info level only.  @fn returns 0
 * or -1 (after an etl_db_* call failed and reported, or after reporting
 * itself), setting *why.  Returns 0, or -1 with *why set.
 */
typedef int etl_db_txn_fn(struct etl_db *db, void *arg, int *why);
int etl_db_in_txn(struct etl_db *db, etl_db_txn_fn *fn, void *arg, int *why);

/*
 * Bulk load: COPY @table (@cols) FROM STDIN in text format.  @table is an
 * identifier, optionally schema.table; names are quoted here.  Rows are
 * buffered and sent in chunks of about 256 KiB.  Returns a handle, or NULL
 * after reporting.
 */
struct etl_db_copy *etl_db_copy_begin(struct etl_db *db, const char *table,
				      const char *const *cols, int ncols,
				      int *why);
/*
 * Add one row of ncols values in text input form (a NULL value is SQL
 * NULL).  @lens gives byte lengths (NULL: strlen).  Backslash, tab,
 * newline and carriage return are escaped here; a bytea value is passed as
 * its text form ("\x4142").  0 ok, -1 after reporting (the COPY is then
 * dead: call etl_db_copy_end to free it).
 */
int etl_db_copy_row(struct etl_db_copy *cp, const char *const *vals,
		    const size_t *lens, int *why);
/*
 * Finish: send what is buffered and the end of data, and check the
 * server's verdict.  Frees @cp in every case.  Returns the rows loaded
 * (*rows may be NULL), 0 ok or -1 after reporting.  @cancel non-NULL
 * aborts the COPY instead (nothing is loaded) with that reason.
 */
int etl_db_copy_end(struct etl_db_copy *cp, const char *cancel, int64_t *rows,
		    int *why);

/*
 * LISTEN @channel (any name; quoted here).  Notifications then queue on
 * the connection until read by etl_db_wait_notify().  0 or -1.
 */
int etl_db_listen(struct etl_db *db, const char *channel, int *why);
/* SELECT pg_notify(@channel, @payload): delivered at commit, and only
 * payloads under 8000 bytes are accepted by the server.  0 or -1. */
int etl_db_notify(struct etl_db *db, const char *channel, const char *payload,
		  int *why);
/*
 * Wait up to @timeout_ms (-1: no limit) for a notification.  Returns 1 with
 * *channel and *payload set (caller frees both; either pointer may be
 * NULL to ignore it), 0 on timeout or when a stop was requested
 * (etl_stop_requested), -1 after reporting (the connection broke).
 */
int etl_db_wait_notify(struct etl_db *db, int timeout_ms, char **channel,
		       char **payload, int *why);

/* @name quoted as an SQL identifier ("my ""table"""); caller frees.
 * NULL after reporting (invalid encoding). */
char *etl_db_quote_ident(struct etl_db *db, const char *name);

/*
 * Statistics that keep up with a first sync.  A table filled by one long
 * run keeps the statistics it had when it was nearly empty until
 * autovacuum gets to it, and the planner then picks plans (a merge join
 * over a whole index, another index) that cost more with every row: a
 * first sync turns quadratic.  Count what this process wrote to @table;
 * once that is 256 rows and half as much again as at the last ANALYZE,
 * ANALYZE @table (outside a transaction block; a dozen for 100,000 rows
 * cost well under a second).  A failure (not the owner) only warns.
 */
struct etl_db_growth {
	int64_t rows, analyzed_at;
};
void etl_db_analyze_on_growth(struct etl_db *db, const char *table,
			      struct etl_db_growth *g, int64_t added);

#endif
