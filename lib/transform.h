/*
 * transform.h - the provider-agnostic half of etl-transform: the stage
 * handler for transform messages (DESIGN.md "Messages", /tmp contract
 * "Transform message"), the sinks rows go to, and the interface a provider
 * (lib/jira/transform.h, ...) implements.  Core code never includes
 * provider code: cmd/etl-transform.c passes the provider table in.
 *
 * One message, in order:
 *  1. first_item: the job's transform stage of the step is set running
 *     (lib/status.h; only with a job_id and a database);
 *  2. the response: the raw row raw_data_id and every row whose
 *     request_params->>'for_raw_id' names it (changelog pages), or the
 *     inline "raw" (+ "raw_changelogs") of an `etl-extract --no-store`
 *     message.  "raw_data_id": null without "raw" is a completion message:
 *     no data.  The provider of the message's type maps the response into
 *     rows of its staging tables (struct etl_tx_table);
 *  3. the sink: the database (one transaction per message: COPY of each
 *     table's rows into a temporary staging table, then the table's load
 *     statements, de-duplicating and upserting into the final tables; the
 *     raw rows marked processed), or with --dry-run one NDJSON line per row
 *     on the output, {"table": T, "key": K, "row": {...}}, and nothing
 *     written anywhere;
 *  4. the step's end: a last_item message is parked (etl_transform_finish,
 *     share/sql/0013); whichever worker then commits the step's last
 *     pending raw row claims it (in a pipe: at once) and runs the
 *     provider's finish_step (reconcile), then emits one embedding message
 *     per entity the step touched in this run (etl_transform_keys, kind
 *     'embed', token + step), first/last flags recomputed over them,
 *     last_job_item on the last one when the input had it; none: one
 *     completion message with the input's flags; then the stage set
 *     finished.  Embedding messages are the input message with the raw
 *     fields removed, so unknown fields are forwarded untouched.
 *
 * Failures: a response that cannot be mapped (not JSON, an HTML error page,
 * an API error object) is ETL_DATAERR: the raw row is marked failed with
 * the reason (its bytes stay), the message is reported or dead-lettered,
 * and its flags are still honoured (a last_item still emits and finishes
 * the step).  Database trouble is ETL_TEMPFAIL / ETL_UNAVAIL: nothing was
 * committed, the stage retries the whole message.
 *
 * Text: PostgreSQL text and jsonb cannot hold U+0000, which real Jira text
 * contains: values lose their NUL characters (text) and \u0000 escapes
 * (JSON) on the way in; lone UTF-16 surrogate escapes, which jsonb rejects
 * too, become U+FFFD.  The raw row keeps the bytes as received.
 */
#ifndef ETL_TRANSFORM_H
#define ETL_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"

struct etl_db;
struct etl_jdoc;
struct etl_msg;
struct etl_stage_ctx;

/* Column types of a staging table: how a value is sent and printed. */
enum etl_tx_type {
	ETL_TX_TEXT,   /* text; printed as a JSON string */
	ETL_TX_INT,    /* bigint; printed as a number */
	ETL_TX_NUM,    /* numeric (a JSON number's text) */
	ETL_TX_BOOL,   /* boolean: "t" / "f" */
	ETL_TX_JSON,   /* jsonb (also text arrays: a JSON array of strings) */
	ETL_TX_TIME,   /* timestamptz, "2024-01-15T10:00:00.000Z" */
	ETL_TX_DATE    /* date, "2024-01-15" */
};

struct etl_tx_col {
	const char *name;
	enum etl_tx_type type;
};

/*
 * A statement run when the table's rows are loaded.  @params names its
 * parameters $1, $2, ... in order, one letter each: t tenant_id,
 * i integration_id, s synced_at (when the response was fetched), k token,
 * p step ("tis": $1 tenant, $2 integration, $3 synced_at).
 */
struct etl_tx_sql {
	const char *sql;
	const char *params;
};

/*
 * A staging table.  Rows are copied into the temporary table @temp
 * (created per connection from @cols, emptied at commit), then the @load
 * statements run in order.  A provider lists its tables in load order, so
 * a table's statements can rely on the tables before it.
 */
struct etl_tx_table {
	const char *name;               /* the final table: "work_items" */
	const char *temp;               /* "etl_tx_work_items" */
	const struct etl_tx_col *cols;
	int ncols;
	int key[4];                     /* columns that make the printed key */
	int nkey;
	const struct etl_tx_sql *load;  /* ended by { NULL, 0 } */
};

/* The transform of one message (opaque to providers). */
struct etl_tx;

struct etl_tx_provider {
	const char *name;                           /* the messages' "provider" */
	const struct etl_tx_table *const *tables;   /* load order, NULL-ended */
	/* Per-run state (NULL functions are skipped). */
	void *(*open)(void);
	void (*close)(void *state);
	/*
	 * Map the response of etl_tx_kind() into rows.  Returns ETL_OK, or
	 * the failure's category after etl_tx_fail().  May run twice for one
	 * message (a transaction retried after a deadlock): rows start empty.
	 */
	int (*transform)(struct etl_tx *tx, void *state);
	/*
	 * The step's last_item (database only), inside the transaction that
	 * then reads the keys to embed.  ETL_OK or a category after reporting.
	 */
	int (*finish_step)(struct etl_tx *tx, void *state);
	/* The tables whose entities @step embeds, NULL-ended (may be empty). */
	const char *const *(*embed_tables)(const char *step);
};

struct etl_transform_opts {
	const struct etl_tx_provider *const *providers;   /* NULL-ended */
	bool dry_run;
	const char *dsn;   /* NULL: ETL_DATABASE_URL; a dry run without either
			      uses no database */
};
#define ETL_TRANSFORM_OPTS_INIT { NULL, false, NULL }

struct etl_transform;

/*
 * Make the handler state for etl_stage_run(): connects to the database
 * unless a dry run has none configured.  NULL after reporting (*why).
 */
struct etl_transform *etl_transform_new(const struct etl_transform_opts *o, int *why);
void etl_transform_free(struct etl_transform *t);
/* The etl_stage_fn: @ctx is the struct etl_transform. */
int etl_transform_handle(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx);

/* --- for providers: the message and its response */

const struct etl_msg *etl_tx_msg(const struct etl_tx *tx);
int64_t etl_tx_tenant(const struct etl_tx *tx);
int64_t etl_tx_integration(const struct etl_tx *tx);
const char *etl_tx_step(const struct etl_tx *tx);       /* "jira_..." */
bool etl_tx_dry_run(const struct etl_tx *tx);
/* The database, or NULL in a dry run without one (use defaults then). */
struct etl_db *etl_tx_db(const struct etl_tx *tx);
/* True in a queue worker, where another worker may hold related pages. */
bool etl_tx_is_worker(const struct etl_tx *tx);
/* raw_kind: "search_jql", ...; "" when unknown. */
const char *etl_tx_kind(const struct etl_tx *tx);
/* The response's bytes (borrowed for the message). */
const char *etl_tx_data(const struct etl_tx *tx, size_t *len);
/*
 * The responses attached to it (changelog pages: rows with for_raw_id, or
 * the inline "raw_changelogs"), each with its kind and request URL (NULL
 * when unknown).  Borrowed.  Rows are read on demand: call
 * etl_tx_load_attached() first (ETL_OK, or a category after reporting);
 * until then there are none.
 */
int etl_tx_load_attached(struct etl_tx *tx);
size_t etl_tx_nattached(const struct etl_tx *tx);
/*
 * Load the attached responses and make room for their documents after the
 * page's own: *docs grows from one document to 1 + etl_tx_nattached(),
 * the new ones zeroed (ETL_JDOC_INIT) for the provider to parse.  *ndocs
 * gets the count.  ETL_OK, or a category after etl_tx_fail() naming @what.
 */
int etl_tx_attached_docs(struct etl_tx *tx, struct etl_jdoc **docs, size_t *ndocs,
			 const char *what);
const char *etl_tx_attached(const struct etl_tx *tx, size_t i, size_t *len,
			    const char **kind, const char **url);
/*
 * A request parameter: request_params->>@key of the raw row (or of the
 * message's inline "request_params"), else the message's own member @key,
 * when it is a string, a number or a boolean ("true").  Caller frees;
 * NULL when absent or null.
 */
char *etl_tx_param(const struct etl_tx *tx, const char *key);
/* The JSON text of request parameter @key (borrowed), or NULL. */
const char *etl_tx_param_json(const struct etl_tx *tx, const char *key, size_t *len);
/* The request URL (raw row, or the message's "request_url"), or NULL. */
const char *etl_tx_request_url(const struct etl_tx *tx);

/* Report why the message fails (the raw row's error_message too); returns
 * @code. */
int etl_tx_fail(struct etl_tx *tx, int code, const char *fmt, ...) ETL_PRINTF(3, 4);

/* --- for providers: rows */

/* Start a row of @t (every column NULL until set). */
void etl_tx_row(struct etl_tx *tx, const struct etl_tx_table *t);
/* Set column @col of the current row.  Text loses NUL bytes. */
void etl_tx_set(struct etl_tx *tx, int col, const char *s, size_t len);
void etl_tx_set_str(struct etl_tx *tx, int col, const char *s);   /* NULL: null */
void etl_tx_set_i64(struct etl_tx *tx, int col, int64_t v);
void etl_tx_set_bool(struct etl_tx *tx, int col, bool v);
void etl_tx_set_time(struct etl_tx *tx, int col, int64_t epoch_ms);
/* JSON text (valid JSON), cleaned of \u0000 and lone surrogates. */
void etl_tx_set_json(struct etl_tx *tx, int col, const char *json, size_t len);
/* Finish the current row. */
void etl_tx_row_end(struct etl_tx *tx);

/*
 * Record @key (@len bytes) of @table under @kind ("embed", "seen", ...)
 * for this run and step (etl_transform_keys); no-op in a dry run.
 */
void etl_tx_key(struct etl_tx *tx, const char *kind, const char *table,
		const char *key, size_t len);

/* --- helpers shared by providers */

/*
 * Append JSON text @json to @out without \u0000 escapes, lone surrogate
 * escapes replaced by \ufffd: what jsonb accepts.  @json must be valid.
 */
void etl_tx_json_clean(struct etl_buf *out, const char *json, size_t len);
/*
 * Parse an ISO 8601 / Jira time ("2024-01-15T10:00:00.000+0000", "...Z",
 * "+02:00", seconds and fraction optional) into epoch ms.  0 ok, -1 bad.
 */
int etl_tx_parse_time(const char *s, size_t len, int64_t *ms);
/*
 * The time at @node of @d (lib/json.h): an ISO 8601 / Jira string as
 * above, or epoch ms as a number.  0 ok (*ms), 1 absent or null,
 * -1 malformed.
 */
int etl_tx_jdoc_time(const struct etl_jdoc *d, uint32_t node, int64_t *ms);
/* "YYYY-MM-DD" checked (a real calendar day).  0 ok, -1 bad. */
int etl_tx_parse_date(const char *s, size_t len);
/* Format epoch ms as "2024-01-15T10:00:00.000Z" into @out (>= 25 bytes). */
void etl_tx_format_time(int64_t ms, char *out, size_t n);

#endif
