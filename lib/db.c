#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

/* COPY data goes to the server in chunks of about this size. */
#define COPY_CHUNK (256u * 1024)

struct etl_db {
	PGconn *pg;
	struct etl_db_error err;
	char *msg, *detail, *hint, *context;   /* owned by err */
	bool demote_retryable;   /* first try in etl_db_in_txn */
	char **prepared;         /* names of etl_db_exec_named() statements */
	size_t nprepared;
};

struct etl_db_res {
	PGresult *pg;
};

struct etl_db_copy {
	struct etl_db *db;
	char *table;
	struct etl_buf buf;
	int ncols;
	bool dead;
};

static void clear_error(struct etl_db *db)
{
	free(db->msg);
	free(db->detail);
	free(db->hint);
	free(db->context);
	db->msg = db->detail = db->hint = db->context = NULL;
	memset(&db->err, 0, sizeof(db->err));
	db->err.message = "";
}

/* A copy of @s with newlines and tabs folded into spaces, trailing blanks
 * gone: libpq's messages end in "\n" and some span lines. */
static char *one_line(const char *s)
{
	char *out, *q;

	if (!s)
		return NULL;
	out = q = xmalloc(strlen(s) + 1);
	for (; *s; s++) {
		if (*s == '\n' || *s == '\t' || *s == ' ') {
			if (q > out && q[-1] != ' ')
				*q++ = ' ';
			continue;
		}
		*q++ = *s;
	}
	while (q > out && q[-1] == ' ')
		q--;
	*q = '\0';
	return out;
}

static char *field(const PGresult *r, int code)
{
	return r ? one_line(PQresultErrorField(r, code)) : NULL;
}

static void set_error(struct etl_db *db, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	long p;

	clear_error(db);
	db->msg = field(r, PG_DIAG_MESSAGE_PRIMARY);
	if (!db->msg || !*db->msg) {
		free(db->msg);
		db->msg = one_line(PQerrorMessage(db->pg));
	}
	if (!db->msg || !*db->msg) {
		free(db->msg);
		db->msg = xstrdup("unknown error");
	}
	db->detail = field(r, PG_DIAG_MESSAGE_DETAIL);
	db->hint = field(r, PG_DIAG_MESSAGE_HINT);
	db->context = field(r, PG_DIAG_CONTEXT);
	snprintf(db->err.sqlstate, sizeof(db->err.sqlstate), "%s", state ? state : "");
	db->err.message = db->msg;
	db->err.detail = db->detail;
	db->err.hint = db->hint;
	db->err.context = db->context;
	if (pos && etl_parse_long(pos, 1, 1L << 30, &p) == 0)
		db->err.position = (int)p;
}

static bool retryable(const char *state)
{
	return !strcmp(state, "40001") || !strcmp(state, "40P01");
}

static int category(const struct etl_db *db)
{
	const char *s = db->err.sqlstate;

	if (PQstatus(db->pg) != CONNECTION_OK || !strncmp(s, "08", 2) ||
	    !strncmp(s, "53", 2) || !strncmp(s, "57P0", 4))
		return ETL_UNAVAIL;
	if (!strncmp(s, "22", 2) || !strncmp(s, "23", 2))
		return ETL_DATAERR;
	if (!strncmp(s, "40", 2) || !strcmp(s, "55P03"))
		return ETL_TEMPFAIL;
	return ETL_SOFTWARE;
}

/* Record the failure of @r (may be NULL), report it unless told not to,
 * and set *why.  Returns -1. */
static int fail(struct etl_db *db, const PGresult *r, const char *sql,
		int flags, int *why)
{
	set_error(db, r);
	if (why)
		*why = category(db);
	if (flags & ETL_DB_QUIET)
		return -1;
	if (db->demote_retryable && retryable(db->err.sqlstate))
		etl_info("transaction conflict: %s", db->msg);
	else if (db->detail)
		etl_error("query failed: %s (%s)", db->msg, db->detail);
	else
		etl_error("query failed: %s", db->msg);
	if (sql)
		etl_debug("query was: %s", sql);
	return -1;
}

static void on_notice(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	char *msg = one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));

	(void)arg;
	/* NOTICEs ("relation exists, skipping") are chatter: debug only. */
	if (sev && !strcmp(sev, "WARNING"))
		etl_warn("postgres: %s", msg ? msg : "");
	else
		etl_debug("postgres: %s", msg ? msg : "");
	free(msg);
}

/* Find the password a conninfo or URI carries and mask it in logs.
 * 0, or -1 with the parser's complaint in *err (caller frees). */
static int register_password(const char *dsn, char **err)
{
	char *perr = NULL;
	PQconninfoOption *opts, *o;

	*err = NULL;
	opts = PQconninfoParse(dsn, &perr);
	if (!opts) {
		*err = one_line(perr ? perr : "cannot parse");
		PQfreemem(perr);
		return -1;
	}
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			etl_log_add_secret(o->val);
	PQconninfoFree(opts);
	return 0;
}

struct etl_db *etl_db_connect(const char *dsn, int *why)
{
	const char *kw[4], *val[4];
	char where[512], *err = NULL;
	struct etl_db *db = NULL;
	int i = 0;

	if (!dsn)
		dsn = etl_config_get_or("ETL_DATABASE_URL", "");
	if (getenv("PGPASSWORD"))
		etl_log_add_secret(getenv("PGPASSWORD"));
	if (*dsn && register_password(dsn, &err) < 0) {
		etl_error("invalid database connection string: %s", err);
		free(err);
		if (why)
			*why = ETL_CONFIG;
		return NULL;
	}
	if (*dsn)
		etl_redact_url(dsn, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "%s", "the PG* environment");

	/* Later keywords win, so the defaults go first and @dsn last; an
	 * explicit default would also hide PGCONNECT_TIMEOUT, so skip it then. */
	if (!getenv("PGCONNECT_TIMEOUT")) {
		kw[i] = "connect_timeout";
		val[i++] = "10";
	}
	kw[i] = "fallback_application_name";
	val[i++] = etl_progname();
	kw[i] = "dbname";
	val[i++] = dsn;
	kw[i] = NULL;
	val[i] = NULL;

	db = xcalloc(1, sizeof(*db));
	clear_error(db);
	db->pg = PQconnectdbParams(kw, val, 1);
	if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
		char *msg = db->pg ? one_line(PQerrorMessage(db->pg)) : NULL;

		etl_error("cannot connect to PostgreSQL (%s): %s", where,
			  msg && *msg ? msg : "out of memory");
		free(msg);
		etl_db_close(db);
		if (why)
			*why = ETL_UNAVAIL;
		return NULL;
	}
	PQsetNoticeReceiver(db->pg, on_notice, NULL);
	if (PQsetClientEncoding(db->pg, "UTF8") != 0 ||
	    etl_db_exec_script(db, "SET TimeZone = 'UTC'", 0, why) < 0) {
		etl_error("cannot set up the session on %s", where);
		etl_db_close(db);
		if (why)
			*why = ETL_UNAVAIL;
		return NULL;
	}
	etl_debug("connected to PostgreSQL %d (%s)", PQserverVersion(db->pg), where);
	return db;
}

void etl_db_close(struct etl_db *db)
{
	if (!db)
		return;
	if (db->pg)
		PQfinish(db->pg);
	clear_error(db);
	for (size_t i = 0; i < db->nprepared; i++)
		free(db->prepared[i]);
	free(db->prepared);
	free(db);
}

const struct etl_db_error *etl_db_last_error(const struct etl_db *db)
{
	return &db->err;
}

static struct etl_db_res *wrap(PGresult *r)
{
	struct etl_db_res *res = xmalloc(sizeof(*res));

	res->pg = r;
	return res;
}

/* The result of an exec: wrapped, or NULL after reporting. */
static struct etl_db_res *check(struct etl_db *db, PGresult *r, const char *sql, int flags,
				int *why)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		if (r && st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR) {
			/* COPY started through exec: a misuse, end it. */
			PQclear(r);
			while ((r = PQgetResult(db->pg)) != NULL)
				PQclear(r);
			clear_error(db);
			db->msg = xstrdup("unexpected result status");
			db->err.message = db->msg;
			if (why)
				*why = ETL_SOFTWARE;
			etl_error("query failed: unexpected result status %s",
				  PQresStatus(st));
			return NULL;
		}
		fail(db, r, sql, flags, why);
		PQclear(r);
		return NULL;
	}
	return wrap(r);
}

static int *formats_of(const int *lens, int n)
{
	int *formats = NULL;

	if (lens) {
		formats = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*formats));
		for (int i = 0; i < n; i++)
			formats[i] = lens[i] >= 0;
	}
	return formats;
}

struct etl_db_res *etl_db_exec_full(struct etl_db *db, const char *sql,
				    const char *const *vals, const int *lens,
				    int n, int flags, int *why)
{
	int *formats = formats_of(lens, n);
	PGresult *r;

	clear_error(db);
	r = PQexecParams(db->pg, sql, n, NULL, vals, lens, formats,
			 (flags & ETL_DB_BINARY) ? 1 : 0);
	free(formats);
	return check(db, r, sql, flags, why);
}

struct etl_db_res *etl_db_exec_named(struct etl_db *db, const char *name, const char *sql,
				     const char *const *vals, const int *lens, int n,
				     int flags, int *why)
{
	struct etl_db_res *res;
	int *formats;
	PGresult *r;
	size_t i;

	for (i = 0; i < db->nprepared; i++)
		if (!strcmp(db->prepared[i], name))
			break;
	if (i == db->nprepared) {
		clear_error(db);
		res = check(db, PQprepare(db->pg, name, sql, n, NULL), sql, flags, why);
		if (!res)
			return NULL;
		etl_db_clear(res);
		db->prepared = xrealloc(db->prepared, (db->nprepared + 1) * sizeof(*db->prepared));
		db->prepared[db->nprepared++] = xstrdup(name);
	}
	formats = formats_of(lens, n);
	clear_error(db);
	r = PQexecPrepared(db->pg, name, n, vals, lens, formats,
			   (flags & ETL_DB_BINARY) ? 1 : 0);
	free(formats);
	return check(db, r, sql, flags, why);
}

struct etl_db_res *etl_db_exec(struct etl_db *db, const char *sql,
			       const char *const *vals, int n, int *why)
{
	return etl_db_exec_full(db, sql, vals, NULL, n, 0, why);
}

int etl_db_exec_script(struct etl_db *db, const char *sql, int flags, int *why)
{
	PGresult *r;
	int ret = 0;

	clear_error(db);
	r = PQexec(db->pg, sql);
	if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK &&
		   PQresultStatus(r) != PGRES_TUPLES_OK))
		ret = fail(db, r, NULL, flags, why);
	PQclear(r);
	return ret;
}

void etl_db_clear(struct etl_db_res *res)
{
	if (!res)
		return;
	PQclear(res->pg);
	free(res);
}

int etl_db_nrows(const struct etl_db_res *res)
{
	return PQntuples(res->pg);
}

int64_t etl_db_affected(const struct etl_db_res *res)
{
	int64_t n = 0;

	if (etl_parse_i64(PQcmdTuples(res->pg), &n) < 0)
		return 0;
	return n;
}

/* Column number of @col, or -1 after reporting the bug. */
static int column(const struct etl_db_res *res, int row, const char *col)
{
	int c = PQfnumber(res->pg, col);

	if (c < 0) {
		etl_error("internal error: no column '%s' in the query result", col);
		return -1;
	}
	if (row < 0 || row >= PQntuples(res->pg)) {
		etl_error("internal error: row %d out of range (%d rows)", row,
			  PQntuples(res->pg));
		return -1;
	}
	return c;
}

const char *etl_db_value(const struct etl_db_res *res, int row, const char *col)
{
	int c = column(res, row, col);

	if (c < 0 || PQgetisnull(res->pg, row, c))
		return NULL;
	return PQgetvalue(res->pg, row, c);
}

bool etl_db_is_null(const struct etl_db_res *res, int row, const char *col)
{
	return etl_db_value(res, row, col) == NULL;
}

size_t etl_db_length(const struct etl_db_res *res, int row, const char *col)
{
	int c = column(res, row, col);

	if (c < 0 || PQgetisnull(res->pg, row, c))
		return 0;
	return (size_t)PQgetlength(res->pg, row, c);
}

bool etl_db_bool(const struct etl_db_res *res, int row, const char *col)
{
	const char *v = etl_db_value(res, row, col);

	return v && !strcmp(v, "t");
}

int etl_db_int64(const struct etl_db_res *res, int row, const char *col,
		 int64_t *out)
{
	int c = column(res, row, col);

	if (c < 0)
		return -1;
	if (PQgetisnull(res->pg, row, c))
		return 1;
	if (etl_parse_i64(PQgetvalue(res->pg, row, c), out) < 0)
		return etl_error("internal error: column '%s' is not an integer: '%s'",
				 col, PQgetvalue(res->pg, row, c));
	return 0;
}

char *etl_db_bytes(const struct etl_db_res *res, int row, const char *col,
		   size_t *len)
{
	const char *v = etl_db_value(res, row, col);
	unsigned char *raw;
	size_t n = 0;
	char *out;

	if (!v)
		return NULL;
	raw = PQunescapeBytea((const unsigned char *)v, &n);
	if (!raw) {
		etl_error("cannot decode bytea column '%s'", col);
		return NULL;
	}
	out = xmalloc(n + 1);
	memcpy(out, raw, n);
	out[n] = '\0';
	PQfreemem(raw);
	if (len)
		*len = n;
	return out;
}

/* Transactions */

static int simple(struct etl_db *db, const char *sql, int *why)
{
	struct etl_db_res *r = etl_db_exec(db, sql, NULL, 0, why);

	etl_db_clear(r);
	return r ? 0 : -1;
}

int etl_db_begin(struct etl_db *db, int *why)
{
	return simple(db, "BEGIN", why);
}

int etl_db_commit(struct etl_db *db, int *why)
{
	struct etl_db_res *r;
	bool rolled_back;

	/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
	if (PQtransactionStatus(db->pg) == PQTRANS_INERROR) {
		etl_db_rollback(db);
		if (why)
			*why = ETL_SOFTWARE;
		return etl_error("cannot commit: the transaction had failed "
				 "and was rolled back");
	}
	r = etl_db_exec(db, "COMMIT", NULL, 0, why);
	if (!r)
		return -1;
	rolled_back = !strcmp(PQcmdStatus(r->pg), "ROLLBACK");
	etl_db_clear(r);
	if (rolled_back) {
		if (why)
			*why = ETL_SOFTWARE;
		return etl_error("cannot commit: the transaction was rolled back");
	}
	return 0;
}

int etl_db_rollback(struct etl_db *db)
{
	PGresult *r;

	if (PQtransactionStatus(db->pg) == PQTRANS_IDLE)
		return 0;
	r = PQexec(db->pg, "ROLLBACK");
	PQclear(r);
	return 0;
}

int etl_db_in_txn(struct etl_db *db, etl_db_txn_fn *fn, void *arg, int *why)
{
	int ret = -1;

	for (int attempt = 0; attempt < 2; attempt++) {
		db->demote_retryable = attempt == 0;
		if (etl_db_begin(db, why) < 0)
			break;
		ret = fn(db, arg, why);
		if (ret == 0)
			ret = etl_db_commit(db, why);
		if (ret == 0)
			break;
		etl_db_rollback(db);
		if (attempt > 0 || !retryable(db->err.sqlstate))
			break;
		etl_info("retrying the transaction once");
	}
	db->demote_retryable = false;
	return ret;
}

/* COPY */

static int copy_flush(struct etl_db_copy *cp, int *why)
{
	if (cp->buf.len == 0)
		return 0;
	if (PQputCopyData(cp->db->pg, cp->buf.buf, (int)cp->buf.len) != 1) {
		cp->dead = true;
		return fail(cp->db, NULL, NULL, 0, why);
	}
	etl_buf_reset(&cp->buf);
	return 0;
}

/* Append @name, or schema.name, quoted. 0 or -1. */
static int add_ident(struct etl_db *db, struct etl_buf *b, const char *name)
{
	const char *dot = strchr(name, '.');
	char *q;

	if (dot) {
		char *schema = xstrndup(name, (size_t)(dot - name));
		int rc = add_ident(db, b, schema);

		free(schema);
		if (rc < 0)
			return -1;
		etl_buf_addch(b, '.');
		name = dot + 1;
	}
	q = etl_db_quote_ident(db, name);
	if (!q)
		return -1;
	etl_buf_adds(b, q);
	free(q);
	return 0;
}

struct etl_db_copy *etl_db_copy_begin(struct etl_db *db, const char *table,
				      const char *const *cols, int ncols,
				      int *why)
{
	struct etl_buf sql = ETL_BUF_INIT;
	struct etl_db_copy *cp = NULL;
	PGresult *r = NULL;

	etl_buf_adds(&sql, "COPY ");
	if (add_ident(db, &sql, table) < 0)
		goto bad_name;
	etl_buf_adds(&sql, " (");
	for (int i = 0; i < ncols; i++) {
		if (i)
			etl_buf_adds(&sql, ", ");
		if (add_ident(db, &sql, cols[i]) < 0)
			goto bad_name;
	}
	etl_buf_adds(&sql, ") FROM STDIN");
	clear_error(db);
	r = PQexec(db->pg, sql.buf);
	if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
		fail(db, r, sql.buf, 0, why);
		goto out;
	}
	cp = xcalloc(1, sizeof(*cp));
	cp->db = db;
	cp->table = xstrdup(table);
	cp->ncols = ncols;
	etl_buf_grow(&cp->buf, COPY_CHUNK + COPY_CHUNK / 4);
	goto out;
bad_name:
	if (why)
		*why = ETL_SOFTWARE;
out:
	PQclear(r);
	etl_buf_release(&sql);
	return cp;
}

static void copy_escape(struct etl_buf *b, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		const char *esc;

		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		etl_buf_add(b, s + run, i - run);
		etl_buf_add(b, esc, 2);
		run = i + 1;
	}
	etl_buf_add(b, s + run, len - run);
}

int etl_db_copy_row(struct etl_db_copy *cp, const char *const *vals,
		    const size_t *lens, int *why)
{
	if (cp->dead) {
		if (why)
			*why = ETL_SOFTWARE;
		return etl_error("internal error: row added to a failed COPY");
	}
	for (int i = 0; i < cp->ncols; i++) {
		if (i)
			etl_buf_addch(&cp->buf, '\t');
		if (!vals[i])
			etl_buf_add(&cp->buf, "\\N", 2);
		else
			copy_escape(&cp->buf, vals[i], lens ? lens[i] : strlen(vals[i]));
	}
	etl_buf_addch(&cp->buf, '\n');
	return cp->buf.len >= COPY_CHUNK ? copy_flush(cp, why) : 0;
}

int etl_db_copy_end(struct etl_db_copy *cp, const char *cancel, int64_t *rows,
		    int *why)
{
	struct etl_db *db = cp->db;
	PGresult *r;
	int ret = 0;
	bool reported = false;

	if (!cancel && !cp->dead && copy_flush(cp, why) < 0)
		reported = true;
	if (cp->dead && !cancel)
		cancel = "client error";
	if (PQputCopyEnd(db->pg, cancel) != 1 && !reported) {
		ret = fail(db, NULL, NULL, 0, why);
		reported = true;
	}
	while ((r = PQgetResult(db->pg)) != NULL) {
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			if (rows && etl_parse_i64(PQcmdTuples(r), rows) < 0)
				*rows = 0;
		} else {
			/* A cancel comes back as an error too: quiet then.
			 * The context names the row and column. */
			if (!reported) {
				fail(db, r, NULL, ETL_DB_QUIET, why);
				if (!cancel)
					etl_error("cannot load '%s': %s%s%s%s%s%s",
						  cp->table, db->msg,
						  db->detail ? " (" : "",
						  db->detail ? db->detail : "",
						  db->detail ? ")" : "",
						  db->context ? "; " : "",
						  db->context ? db->context : "");
			}
			reported = true;
			ret = -1;
		}
		PQclear(r);
	}
	if (cancel || reported)
		ret = -1;
	etl_buf_release(&cp->buf);
	free(cp->table);
	free(cp);
	return ret;
}

/* LISTEN / NOTIFY */

int etl_db_listen(struct etl_db *db, const char *channel, int *why)
{
	struct etl_buf sql = ETL_BUF_INIT;
	int ret = -1;

	etl_buf_adds(&sql, "LISTEN ");
	if (add_ident(db, &sql, channel) < 0) {
		if (why)
			*why = ETL_SOFTWARE;
		goto out;
	}
	ret = simple(db, sql.buf, why);
out:
	etl_buf_release(&sql);
	return ret;
}

int etl_db_notify(struct etl_db *db, const char *channel, const char *payload,
		  int *why)
{
	static const char sql[] = "SELECT pg_notify($1, $2)";
	const char *vals[2] = { channel, payload ? payload : "" };
	struct etl_db_res *r = etl_db_exec(db, sql, vals, 2, why);

	etl_db_clear(r);
	return r ? 0 : -1;
}

static int take_notify(struct etl_db *db, char **channel, char **payload)
{
	PGnotify *n = PQnotifies(db->pg);

	if (!n)
		return 0;
	if (channel)
		*channel = xstrdup(n->relname);
	if (payload)
		*payload = xstrdup(n->extra ? n->extra : "");
	PQfreemem(n);
	return 1;
}

int etl_db_wait_notify(struct etl_db *db, int timeout_ms, char **channel,
		       char **payload, int *why)
{
	int64_t deadline = timeout_ms >= 0 ? etl_now_ms() + timeout_ms : -1;

	for (;;) {
		struct pollfd pfd;
		int wait = -1, rc;

		if (take_notify(db, channel, payload))
			return 1;
		if (etl_stop_requested)
			return 0;
		if (deadline >= 0) {
			int64_t left = deadline - etl_now_ms();

			/* Poll once even when the time is up: a 0 timeout
			 * still reads what already arrived. */
			wait = left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
		}
		pfd.fd = PQsocket(db->pg);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return fail(db, NULL, NULL, 0, why);
		rc = poll(&pfd, 1, wait);
		if (rc < 0 && errno != EINTR) {
			if (why)
				*why = ETL_UNAVAIL;
			return etl_error("cannot wait for notifications: %s",
					 strerror(errno));
		}
		if (rc > 0) {
			if (PQconsumeInput(db->pg) != 1)
				return fail(db, NULL, NULL, 0, why);
			continue;
		}
		if (rc == 0 && deadline >= 0 && etl_now_ms() >= deadline)
			return 0;
	}
}

char *etl_db_quote_ident(struct etl_db *db, const char *name)
{
	char *q = PQescapeIdentifier(db->pg, name, strlen(name));
	char *out;

	if (!q) {
		char *msg = one_line(PQerrorMessage(db->pg));

		etl_error("cannot quote identifier: %s", msg);
		free(msg);
		return NULL;
	}
	out = xstrdup(q);
	PQfreemem(q);
	return out;
}

void etl_db_analyze_on_growth(struct etl_db *db, const char *table,
			      struct etl_db_growth *g, int64_t added)
{
	struct etl_db_res *res;
	struct etl_buf sql = ETL_BUF_INIT;
	char *ident;
	int why = 0;

	g->rows += added;
	if (g->rows < 256 || g->rows < g->analyzed_at + g->analyzed_at / 2)
		return;
	g->analyzed_at = g->rows;
	ident = etl_db_quote_ident(db, table);
	if (!ident)
		return;
	etl_buf_addf(&sql, "ANALYZE %s", ident);
	res = etl_db_exec_full(db, sql.buf, NULL, NULL, 0, ETL_DB_QUIET, &why);
	if (!res)
		etl_warn("cannot refresh the statistics of %s: %s", table,
			 etl_db_last_error(db)->message ? etl_db_last_error(db)->message : "");
	etl_db_clear(res);
	etl_buf_release(&sql);
	free(ident);
}
