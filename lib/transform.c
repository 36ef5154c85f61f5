#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "exit.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "runstats.h"
#include "stage.h"
#include "status.h"
#include "transform.h"
#include "util.h"

#define MAX_COLS 96
#define NULL_LEN UINT32_MAX

/* Rows of one staging table: per column a u32 length (NULL_LEN: SQL
 * NULL) and the bytes. */
struct store {
	const struct etl_tx_table *t;
	struct etl_buf rows;
	size_t nrows;
	bool temp_ready;   /* its temporary table exists on this connection */
	struct etl_db_growth loaded;   /* rows this process loaded into t->name */
};

struct attached {
	const char *data;
	size_t len;
	char *kind, *url;
};

struct prov {
	const struct etl_tx_provider *p;
	void *state;
	struct store *stores;
	size_t nstores;
};

struct etl_transform {
	struct etl_db *db;
	const char *dsn;
	bool use_db;       /* connect (again, after a lost connection) */
	bool dry_run;
	struct prov *provs;
	size_t nprovs;
	bool keys_ready;   /* etl_tx_keys exists on this connection */
	struct etl_runstats_acc runs;   /* counters not yet added to their run */
};

struct etl_tx {
	struct etl_transform *t;
	struct etl_stage_ctx *st;
	const struct etl_msg *m;
	struct prov *pv;
	int64_t tenant, integration, raw_id;
	char kind[64];
	char synced_at[40];
	/* The response: borrowed from the raw rows' results, or the message. */
	struct etl_db_res *raw_res, *att_res;
	const char *data;
	size_t len;
	struct attached *att;
	size_t natt;
	bool att_loaded;              /* attached rows read (or inline) */
	bool raw_found;               /* the raw row exists: mark it */
	char *params;                 /* request_params JSON text, or NULL */
	struct etl_json_obj params_obj;
	char *url;
	/* The row being built. */
	const struct etl_tx_table *cur;
	struct store *cur_store;
	struct etl_buf rowbuf;
	size_t off[MAX_COLS];
	uint32_t vlen[MAX_COLS];
	/* Keys: kind, table, key (u32-prefixed like rows). */
	struct etl_buf keys;
	size_t nkeys;
	char reason[512];
};

/* The core's staging table of keys. */
enum { K_KIND, K_TABLE, K_ID, K_NCOLS };
static const struct etl_tx_col key_cols[] = {
	{ "kind", ETL_TX_TEXT }, { "table_name", ETL_TX_TEXT },
	{ "external_id", ETL_TX_TEXT },
};
static const struct etl_tx_sql key_load[] = {
	{ "INSERT INTO etl_transform_keys (tenant_id, integration_id, token, step, "
	  "kind, table_name, external_id) "
	  "SELECT DISTINCT $1::bigint, $2::bigint, $3::uuid, $4, kind, table_name, "
	  "external_id FROM etl_tx_keys "
	  "ON CONFLICT DO NOTHING", "tikp" },
	{ NULL, NULL },
};
static const struct etl_tx_table keys_table = {
	"etl_transform_keys", "etl_tx_keys", key_cols, K_NCOLS,
	{ K_KIND, K_TABLE, K_ID }, 3, key_load,
};

/* Binary results (the bytes of raw_data as stored, no hex): every other
 * column is text, so its binary form is its text. */
static const char sql_raw_row[] =
	"SELECT integration_id::text AS integration_id, raw_data, "
	"request_params::text AS params, request_url, request_params->>'kind' AS kind, "
	"http_status::text AS http_status, created_at::text AS fetched "
	"FROM raw_extraction_data WHERE tenant_id = $1 AND id = $2";
static const char sql_raw_attached[] =
	"SELECT id::text AS id, raw_data, request_params->>'kind' AS kind, request_url "
	"FROM raw_extraction_data "
	"WHERE tenant_id = $1 AND request_params ? 'for_raw_id' "
	"AND (request_params->>'for_raw_id')::bigint = $2 ORDER BY id";
/* The raw row and the rows attached to it. */
#define RAW_AND_ATTACHED "WHERE tenant_id = $1 AND (id = $2 OR (request_params ? 'for_raw_id' " \
	"AND (request_params->>'for_raw_id')::bigint = $2))"
static const char sql_raw_done[] =
	"UPDATE raw_extraction_data SET status = 'processed', processed_at = now(), "
	"error_message = NULL " RAW_AND_ATTACHED;
static const char sql_raw_failed[] =
	"UPDATE raw_extraction_data SET status = 'failed', processed_at = now(), "
	"error_message = $3 " RAW_AND_ATTACHED;
/* The step's entities, $6 at a time after ($4, $5) (keyset paging:
 * memory stays flat however many entities a run touched). */
#define KEYS_BATCH 1000
static const char sql_keys_embed[] =
	"SELECT table_name, external_id FROM etl_transform_keys "
	"WHERE tenant_id = $1 AND token = $2::uuid AND step = $3 AND kind = 'embed' "
	"AND (table_name, external_id) > ($4, $5) "
	"ORDER BY table_name, external_id LIMIT $6";
static const char sql_keys_forget[] =
	"DELETE FROM etl_transform_keys WHERE tenant_id = $1 "
	"AND ((token = $2::uuid AND step = $3) OR created_at < now() - interval '7 days')";

/* ------------------------------------------------------------ helpers */

void etl_tx_json_clean(struct etl_buf *out, const char *s, size_t len)
{
	size_t i = 0, run = 0;
	bool in_str = false;

	etl_buf_grow(out, len);
	while (i < len) {
		char c = s[i];

		if (!in_str) {
			if (c == '"')
				in_str = true;
			i++;
			continue;
		}
		if (c == '"') {
			in_str = false;
			i++;
			continue;
		}
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 < len && s[i + 1] == 'u' && i + 5 < len) {
			unsigned cp = 0;

			for (int k = 2; k < 6; k++) {
				char h = s[i + k];

				cp = cp << 4 | (unsigned)(h <= '9' ? h - '0' :
							  (h | 0x20) - 'a' + 10);
			}
			if (cp == 0) {   /* drop \u0000 */
				etl_buf_add(out, s + run, i - run);
				i += 6;
				run = i;
				continue;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo = 0;
				bool pair = i + 11 < len && s[i + 6] == '\\' && s[i + 7] == 'u';

				for (int k = 8; pair && k < 12; k++) {
					char h = s[i + k];

					lo = lo << 4 | (unsigned)(h <= '9' ? h - '0' :
								  (h | 0x20) - 'a' + 10);
				}
				if (pair && lo >= 0xdc00 && lo <= 0xdfff) {
					i += 12;
					continue;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff) {
				etl_buf_add(out, s + run, i - run);
				etl_buf_adds(out, "\\ufffd");
				i += 6;
				run = i;
				continue;
			}
			i += 6;
			continue;
		}
		i += 2;   /* any other escape: two bytes */
	}
	etl_buf_add(out, s + run, len - run);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t len, size_t at, int n, int *out)
{
	int v = 0;

	if (at + (size_t)n > len)
		return -1;
	for (int i = 0; i < n; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return -1;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return 0;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_ymd(const char *s, size_t len, int *y, int *mo, int *d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (digits(s, len, 0, 4, y) < 0 || len < 10 || s[4] != '-' ||
	    digits(s, len, 5, 2, mo) < 0 || s[7] != '-' || digits(s, len, 8, 2, d) < 0)
		return -1;
	if (*mo < 1 || *mo > 12 || *d < 1 ||
	    *d > mdays[*mo - 1] + (*mo == 2 && leap(*y)))
		return -1;
	return 0;
}

int etl_tx_parse_date(const char *s, size_t len)
{
	int y, mo, d;

	return len == 10 && parse_ymd(s, len, &y, &mo, &d) == 0 ? 0 : -1;
}

int etl_tx_jdoc_time(const struct etl_jdoc *d, uint32_t node, int64_t *ms)
{
	size_t len;
	const char *s;
	struct etl_buf scratch = ETL_BUF_INIT;
	int ret;

	if (etl_jdoc_kind(d, node) == ETL_JSON_NULL)
		return 1;
	if (etl_jdoc_kind(d, node) == ETL_JSON_NUMBER) {   /* epoch ms */
		return etl_jdoc_i64(d, node, ms) == 0 ? 0 : -1;
	}
	s = etl_jdoc_str(d, node, &scratch, &len);
	ret = s && etl_tx_parse_time(s, len, ms) == 0 ? 0 : -1;
	etl_buf_release(&scratch);
	return ret;
}

int etl_tx_parse_time(const char *s, size_t len, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, oh, om;
	size_t p = 10;
	int64_t off = 0;

	if (parse_ymd(s, len, &y, &mo, &d) < 0)
		return -1;
	if (p < len && (s[p] == 'T' || s[p] == ' ')) {
		if (digits(s, len, p + 1, 2, &h) < 0 || p + 3 >= len || s[p + 3] != ':' ||
		    digits(s, len, p + 4, 2, &mi) < 0)
			return -1;
		p += 6;
		if (p < len && s[p] == ':') {
			if (digits(s, len, p + 1, 2, &sec) < 0)
				return -1;
			p += 3;
			if (p < len && (s[p] == '.' || s[p] == ',')) {
				int n = 0;

				p++;
				while (p < len && s[p] >= '0' && s[p] <= '9') {
					if (n < 3)
						frac = frac * 10 + (s[p] - '0');
					n++;
					p++;
				}
				if (!n)
					return -1;
				for (; n < 3; n++)
					frac *= 10;
			}
		}
		if (h > 24 || mi > 59 || sec > 60)
			return -1;
		if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
			p++;
		} else if (p < len && (s[p] == '+' || s[p] == '-')) {
			int sign = s[p] == '-' ? -1 : 1;

			if (digits(s, len, p + 1, 2, &oh) < 0)
				return -1;
			p += 3;
			if (p < len && s[p] == ':')
				p++;
			if (digits(s, len, p, 2, &om) < 0)
				om = 0;
			else
				p += 2;
			off = sign * ((int64_t)oh * 3600 + om * 60);
		}
	}
	if (p != len)
		return -1;
	*ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
		h * 3600 + mi * 60 + sec - off) * 1000) + frac;
	return 0;
}

void etl_tx_format_time(int64_t ms, char *out, size_t n)
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int millis = (int)(ms - secs * 1000);
	time_t t = (time_t)secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

static void put_u32(struct etl_buf *b, uint32_t v)
{
	etl_buf_add(b, &v, sizeof(v));
}

static uint32_t get_u32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* ------------------------------------------------------------ accessors */

const struct etl_msg *etl_tx_msg(const struct etl_tx *tx) { return tx->m; }
int64_t etl_tx_tenant(const struct etl_tx *tx) { return tx->tenant; }
int64_t etl_tx_integration(const struct etl_tx *tx) { return tx->integration; }
const char *etl_tx_step(const struct etl_tx *tx) { return tx->m->step->type; }
bool etl_tx_dry_run(const struct etl_tx *tx) { return tx->t->dry_run; }
bool etl_tx_is_worker(const struct etl_tx *tx) { return tx->st && etl_stage_is_worker(tx->st); }
struct etl_db *etl_tx_db(const struct etl_tx *tx) { return tx->t->db; }
const char *etl_tx_kind(const struct etl_tx *tx) { return tx->kind; }
const char *etl_tx_request_url(const struct etl_tx *tx) { return tx->url; }

const char *etl_tx_data(const struct etl_tx *tx, size_t *len)
{
	*len = tx->len;
	return tx->data;
}

static int load_attached(struct etl_tx *tx);

int etl_tx_load_attached(struct etl_tx *tx)
{
	if (tx->att_loaded)
		return ETL_OK;
	tx->att_loaded = true;
	return tx->t->db && tx->raw_id ? load_attached(tx) : ETL_OK;
}

int etl_tx_attached_docs(struct etl_tx *tx, struct etl_jdoc **docs, size_t *ndocs,
			 const char *what)
{
	int rc = etl_tx_load_attached(tx);

	if (rc != ETL_OK)
		return etl_tx_fail(tx, rc, "cannot read the %s", what);
	*ndocs = etl_tx_nattached(tx) + 1;
	*docs = xrealloc(*docs, *ndocs * sizeof(**docs));
	memset(*docs + 1, 0, (*ndocs - 1) * sizeof(**docs));
	return ETL_OK;
}

size_t etl_tx_nattached(const struct etl_tx *tx)
{
	return tx->natt;
}

const char *etl_tx_attached(const struct etl_tx *tx, size_t i, size_t *len,
			    const char **kind, const char **url)
{
	if (i >= tx->natt)
		return NULL;
	*len = tx->att[i].len;
	if (kind)
		*kind = tx->att[i].kind;
	if (url)
		*url = tx->att[i].url;
	return tx->att[i].data;
}

/* A string, number or boolean member of an indexed object, as text. */
static char *member_text(const struct etl_json_obj *o, const char *text, const char *key)
{
	const struct etl_json_member *mb = etl_json_find(o, text, key);

	if (!mb)
		return NULL;
	if (mb->kind == ETL_JSON_STRING)
		return etl_json_unquote(text + mb->val_off, mb->val_len, false, NULL);
	if (mb->kind == ETL_JSON_NUMBER || mb->kind == ETL_JSON_TRUE ||
	    mb->kind == ETL_JSON_FALSE)
		return xstrndup(text + mb->val_off, mb->val_len);
	return NULL;
}

char *etl_tx_param(const struct etl_tx *tx, const char *key)
{
	char *v = NULL;

	if (tx->params)
		v = member_text(&tx->params_obj, tx->params, key);
	if (!v)
		v = member_text(&tx->m->obj, tx->m->text.buf, key);
	return v;
}

const char *etl_tx_param_json(const struct etl_tx *tx, const char *key, size_t *len)
{
	const struct etl_json_member *mb;

	if (!tx->params || !(mb = etl_json_find(&tx->params_obj, tx->params, key)))
		return NULL;
	*len = mb->val_len;
	return tx->params + mb->val_off;
}

int etl_tx_fail(struct etl_tx *tx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tx->reason, sizeof(tx->reason), fmt, ap);
	va_end(ap);
	return code;
}

/* ------------------------------------------------------------ rows */

static struct store *store_of(struct etl_tx *tx, const struct etl_tx_table *t)
{
	for (size_t i = 0; i < tx->pv->nstores; i++)
		if (tx->pv->stores[i].t == t)
			return &tx->pv->stores[i];
	return NULL;
}

void etl_tx_row(struct etl_tx *tx, const struct etl_tx_table *t)
{
	tx->cur = t;
	tx->cur_store = t == &keys_table ? NULL : store_of(tx, t);
	if (t != &keys_table && !tx->cur_store)
		etl_die(ETL_SOFTWARE, "internal error: table '%s' is not the provider's",
			t->name);
	etl_buf_reset(&tx->rowbuf);
	for (int i = 0; i < t->ncols; i++)
		tx->vlen[i] = NULL_LEN;
}

static void set_raw(struct etl_tx *tx, int col, const char *s, size_t len)
{
	if (!tx->cur || col < 0 || col >= tx->cur->ncols)
		etl_die(ETL_SOFTWARE, "internal error: column %d out of range", col);
	if (len >= NULL_LEN)
		len = NULL_LEN - 1;
	tx->off[col] = tx->rowbuf.len;
	tx->vlen[col] = (uint32_t)len;
	etl_buf_add(&tx->rowbuf, s, len);
}

void etl_tx_set(struct etl_tx *tx, int col, const char *s, size_t len)
{
	const char *nul;

	if (!s) {
		tx->vlen[col] = NULL_LEN;
		return;
	}
	nul = memchr(s, '\0', len);
	if (!nul) {
		set_raw(tx, col, s, len);
		return;
	}
	tx->off[col] = tx->rowbuf.len;
	for (size_t i = 0; i < len; i++)
		if (s[i])
			etl_buf_addch(&tx->rowbuf, s[i]);
	tx->vlen[col] = (uint32_t)(tx->rowbuf.len - tx->off[col]);
}

void etl_tx_set_str(struct etl_tx *tx, int col, const char *s)
{
	etl_tx_set(tx, col, s, s ? strlen(s) : 0);
}

void etl_tx_set_i64(struct etl_tx *tx, int col, int64_t v)
{
	char num[24];

	set_raw(tx, col, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)v));
}

void etl_tx_set_bool(struct etl_tx *tx, int col, bool v)
{
	set_raw(tx, col, v ? "t" : "f", 1);
}

void etl_tx_set_time(struct etl_tx *tx, int col, int64_t ms)
{
	char ts[40];

	etl_tx_format_time(ms, ts, sizeof(ts));
	set_raw(tx, col, ts, strlen(ts));
}

void etl_tx_set_json(struct etl_tx *tx, int col, const char *json, size_t len)
{
	size_t start;

	if (!json) {
		tx->vlen[col] = NULL_LEN;
		return;
	}
	start = tx->rowbuf.len;
	etl_tx_json_clean(&tx->rowbuf, json, len);
	tx->off[col] = start;
	tx->vlen[col] = (uint32_t)(tx->rowbuf.len - start);
}

static void encode_row(struct etl_tx *tx, struct etl_buf *out)
{
	for (int i = 0; i < tx->cur->ncols; i++) {
		put_u32(out, tx->vlen[i]);
		if (tx->vlen[i] != NULL_LEN)
			etl_buf_add(out, tx->rowbuf.buf + tx->off[i], tx->vlen[i]);
	}
}

void etl_tx_row_end(struct etl_tx *tx)
{
	if (tx->cur == &keys_table) {
		encode_row(tx, &tx->keys);
		tx->nkeys++;
	} else {
		encode_row(tx, &tx->cur_store->rows);
		tx->cur_store->nrows++;
	}
	tx->cur = NULL;
}

void etl_tx_key(struct etl_tx *tx, const char *kind, const char *table,
		const char *key, size_t len)
{
	if (tx->t->dry_run)
		return;
	etl_tx_row(tx, &keys_table);
	etl_tx_set_str(tx, K_KIND, kind);
	etl_tx_set_str(tx, K_TABLE, table);
	etl_tx_set(tx, K_ID, key, len);
	etl_tx_row_end(tx);
}

/* Decode the next row of @b at *pos into @vals/@lens.  Returns false at the end. */
static bool next_row(const struct etl_buf *b, size_t *pos, int ncols,
		     const char **vals, size_t *lens)
{
	if (*pos >= b->len)
		return false;
	for (int i = 0; i < ncols; i++) {
		uint32_t l = get_u32(b->buf + *pos);

		*pos += sizeof(l);
		if (l == NULL_LEN) {
			vals[i] = NULL;
			lens[i] = 0;
		} else {
			vals[i] = b->buf + *pos;
			lens[i] = l;
			*pos += l;
		}
	}
	return true;
}

static void reset_rows(struct etl_tx *tx)
{
	for (size_t i = 0; i < tx->pv->nstores; i++) {
		etl_buf_reset(&tx->pv->stores[i].rows);
		tx->pv->stores[i].nrows = 0;
	}
	etl_buf_reset(&tx->keys);
	tx->nkeys = 0;
	tx->cur = NULL;
}

/* ------------------------------------------------------------ dry-run sink */

static void print_value(struct etl_buf *b, enum etl_tx_type type, const char *v, size_t len)
{
	if (!v) {
		etl_buf_adds(b, "null");
		return;
	}
	switch (type) {
	case ETL_TX_INT:
	case ETL_TX_NUM:
	case ETL_TX_JSON:
		etl_buf_add(b, v, len);
		break;
	case ETL_TX_BOOL:
		etl_buf_adds(b, len && v[0] == 't' ? "true" : "false");
		break;
	default:
		etl_buf_add_json_str(b, v, len);
	}
}

static int print_rows(struct etl_tx *tx, const struct store *s)
{
	const struct etl_tx_table *t = s->t;
	const char *vals[MAX_COLS];
	size_t lens[MAX_COLS], pos = 0;
	struct etl_buf line = ETL_BUF_INIT, key = ETL_BUF_INIT;
	int ret = 0;

	while (ret == 0 && next_row(&s->rows, &pos, t->ncols, vals, lens)) {
		etl_buf_reset(&line);
		etl_buf_adds(&line, "{\"table\":");
		etl_buf_add_json_str(&line, t->name, strlen(t->name));
		etl_buf_adds(&line, ",\"key\":");
		etl_buf_reset(&key);
		for (int k = 0; k < t->nkey; k++) {
			if (k)
				etl_buf_addch(&key, ':');
			if (vals[t->key[k]])
				etl_buf_add(&key, vals[t->key[k]], lens[t->key[k]]);
		}
		etl_buf_add_json_str(&line, key.buf ? key.buf : "", key.len);
		etl_buf_adds(&line, ",\"row\":{");
		for (int c = 0; c < t->ncols; c++) {
			if (c)
				etl_buf_addch(&line, ',');
			etl_buf_add_json_str(&line, t->cols[c].name, strlen(t->cols[c].name));
			etl_buf_addch(&line, ':');
			print_value(&line, t->cols[c].type, vals[c], lens[c]);
		}
		etl_buf_adds(&line, "}}");
		if (etl_stage_emit(tx->st, ETL_DEST_NEXT, line.buf, line.len) < 0)
			ret = -1;
	}
	etl_buf_release(&line);
	etl_buf_release(&key);
	return ret;
}

/* ------------------------------------------------------------ database sink */

static const char *sql_type(enum etl_tx_type t)
{
	static const char *const names[] = { "text", "bigint", "numeric", "boolean",
		"jsonb", "timestamptz", "date" };

	return names[t];
}

/* The staging table's DDL, from the static column list (identifiers only). */
static int ensure_temp(struct etl_db *db, const struct etl_tx_table *t, bool *ready,
		       int *why)
{
	struct etl_buf sql = ETL_BUF_INIT;
	int ret;

	if (*ready)
		return 0;
	etl_buf_addf(&sql, "CREATE TEMPORARY TABLE IF NOT EXISTS %s (", t->temp);
	for (int i = 0; i < t->ncols; i++)
		etl_buf_addf(&sql, "%s%s %s", i ? ", " : "", t->cols[i].name,
			     sql_type(t->cols[i].type));
	etl_buf_adds(&sql, ") ON COMMIT DELETE ROWS");
	ret = etl_db_exec_script(db, sql.buf, 0, why);
	etl_buf_release(&sql);
	if (ret == 0)
		*ready = true;
	return ret;
}

static int copy_rows(struct etl_db *db, const struct etl_tx_table *t,
		     const struct etl_buf *rows, int *why)
{
	const char *names[MAX_COLS], *vals[MAX_COLS];
	size_t lens[MAX_COLS], pos = 0;
	struct etl_db_copy *cp;

	for (int i = 0; i < t->ncols; i++)
		names[i] = t->cols[i].name;
	cp = etl_db_copy_begin(db, t->temp, names, t->ncols, why);
	if (!cp)
		return -1;
	while (next_row(rows, &pos, t->ncols, vals, lens))
		if (etl_db_copy_row(cp, vals, lens, why) < 0)
			break;
	return etl_db_copy_end(cp, NULL, NULL, why);
}

static int run_load(struct etl_tx *tx, const struct etl_tx_sql *load, int *why)
{
	char tenant[24], integ[24];

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	snprintf(integ, sizeof(integ), "%lld", (long long)tx->integration);
	for (; load->sql; load++) {
		const char *vals[8];
		struct etl_db_res *r;
		int n = 0;

		for (const char *p = load->params; *p && n < 8; p++)
			switch (*p) {
			case 't': vals[n++] = tenant; break;
			case 'i': vals[n++] = integ; break;
			case 's': vals[n++] = tx->synced_at; break;
			case 'k': vals[n++] = tx->m->token; break;
			case 'p': vals[n++] = tx->m->step->type; break;
			default:
				etl_die(ETL_SOFTWARE, "internal error: bad parameter '%c'", *p);
			}
		r = etl_db_exec(tx->t->db, load->sql, vals, n, why);
		if (!r)
			return -1;
		etl_db_clear(r);
	}
	return 0;
}

static int load_table(struct etl_tx *tx, const struct etl_tx_table *t,
		      const struct etl_buf *rows, bool *ready, int *why)
{
	struct etl_db *db = tx->t->db;

	if (ensure_temp(db, t, ready, why) < 0 || copy_rows(db, t, rows, why) < 0)
		return -1;
	return run_load(tx, t->load, why);
}

static int mark_raw(struct etl_tx *tx, const char *error, int *why)
{
	char tenant[24], id[24];
	const char *vals[3] = { tenant, id, error };
	struct etl_db_res *r;

	if (!tx->raw_found)
		return 0;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	snprintf(id, sizeof(id), "%lld", (long long)tx->raw_id);
	r = etl_db_exec(tx->t->db, error ? sql_raw_failed : sql_raw_done, vals,
			error ? 3 : 2, why);
	etl_db_clear(r);
	return r ? 0 : -1;
}

/* The transaction of one message: map, load every table, mark the raw rows. */
static int txn_body(struct etl_db *db, void *arg, int *why)
{
	struct etl_tx *tx = arg;
	struct prov *pv = tx->pv;
	int rc;

	(void)db;
	reset_rows(tx);
	if (tx->att_loaded && tx->att_res) {   /* a retried transaction reads again */
		for (size_t i = 0; i < tx->natt; i++) {
			free(tx->att[i].kind);
			free(tx->att[i].url);
		}
		free(tx->att);
		etl_db_clear(tx->att_res);
		tx->att = NULL;
		tx->att_res = NULL;
		tx->natt = 0;
		tx->att_loaded = false;
	}
	rc = pv->p->transform(tx, pv->state);
	if (rc != ETL_OK) {
		*why = rc;
		return -1;
	}
	for (size_t i = 0; i < pv->nstores; i++)
		if (pv->stores[i].nrows &&
		    load_table(tx, pv->stores[i].t, &pv->stores[i].rows,
			       &pv->stores[i].temp_ready, why) < 0)
			return -1;
	if (tx->nkeys && load_table(tx, &keys_table, &tx->keys, &tx->t->keys_ready, why) < 0)
		return -1;
	return mark_raw(tx, NULL, why);
}

/* ------------------------------------------------------------ the response */

static void release_response(struct etl_tx *tx)
{
	etl_db_clear(tx->raw_res);
	etl_db_clear(tx->att_res);
	tx->raw_res = tx->att_res = NULL;
	for (size_t i = 0; i < tx->natt; i++) {
		free(tx->att[i].kind);
		free(tx->att[i].url);
	}
	free(tx->att);
	free(tx->params);
	free(tx->url);
	etl_json_obj_release(&tx->params_obj);
	tx->att = NULL;
	tx->natt = 0;
	tx->att_loaded = false;
	tx->params = NULL;
	tx->url = NULL;
}

static void index_params(struct etl_tx *tx)
{
	char err[128];

	if (tx->params && etl_json_index(&tx->params_obj, tx->params, strlen(tx->params),
					 err, sizeof(err)) < 0) {
		free(tx->params);
		tx->params = NULL;
	}
}

static char *dup_value(const struct etl_db_res *r, int row, const char *col)
{
	const char *v = etl_db_value(r, row, col);

	return v ? xstrdup(v) : NULL;
}

/* Load raw row tx->raw_id and its attached rows.  ETL_OK or a category. */
static int load_stored(struct etl_tx *tx)
{
	char tenant[24], id[24];
	const char *vals[2] = { tenant, id };
	struct etl_db_res *r;
	int why = ETL_OK;
	int64_t integ = 0, status = 0;
	const char *kind, *fetched;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	snprintf(id, sizeof(id), "%lld", (long long)tx->raw_id);
	r = tx->raw_res = etl_db_exec_full(tx->t->db, sql_raw_row, vals, NULL, 2,
					   ETL_DB_BINARY, &why);
	if (!r)
		return why;
	if (etl_db_nrows(r) == 0)
		return etl_tx_fail(tx, ETL_DATAERR, "raw row %s of tenant %s not found",
				   id, tenant);
	etl_db_int64(r, 0, "integration_id", &integ);
	if (integ != tx->integration)
		return etl_tx_fail(tx, ETL_DATAERR, "raw row %s belongs to integration %lld, "
				   "not %lld", id, (long long)integ,
				   (long long)tx->integration);
	tx->raw_found = true;
	tx->data = etl_db_value(r, 0, "raw_data");
	tx->len = etl_db_length(r, 0, "raw_data");
	tx->params = dup_value(r, 0, "params");
	tx->url = dup_value(r, 0, "request_url");
	kind = etl_db_value(r, 0, "kind");
	if (!*tx->kind && kind)
		snprintf(tx->kind, sizeof(tx->kind), "%s", kind);
	fetched = etl_db_value(r, 0, "fetched");
	if (fetched)
		snprintf(tx->synced_at, sizeof(tx->synced_at), "%s", fetched);
	index_params(tx);
	if (etl_db_int64(r, 0, "http_status", &status) == 0 && status >= 400)
		return etl_tx_fail(tx, ETL_DATAERR, "raw row %s holds an HTTP %lld error "
				   "response, not data", id, (long long)status);
	return ETL_OK;
}

/* The rows attached to raw row tx->raw_id (changelog pages), in id order. */
static int load_attached(struct etl_tx *tx)
{
	char tenant[24], id[24];
	const char *vals[2] = { tenant, id };
	struct etl_db_res *r;
	int why = ETL_OK;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	snprintf(id, sizeof(id), "%lld", (long long)tx->raw_id);
	r = tx->att_res = etl_db_exec_full(tx->t->db, sql_raw_attached, vals, NULL, 2,
					   ETL_DB_BINARY, &why);
	if (!r)
		return why;
	tx->natt = (size_t)etl_db_nrows(r);
	tx->att = xcalloc(tx->natt ? tx->natt : 1, sizeof(*tx->att));
	for (int i = 0; i < (int)tx->natt; i++) {
		struct attached *a = &tx->att[i];

		a->data = etl_db_value(r, i, "raw_data");
		a->len = etl_db_length(r, i, "raw_data");
		a->kind = dup_value(r, i, "kind");
		a->url = dup_value(r, i, "request_url");
	}
	return ETL_OK;
}

/* The inline response of an `etl-extract --no-store` message. */
static int load_inline(struct etl_tx *tx)
{
	const struct etl_msg *m = tx->m;
	const char *raw, *v;
	size_t len;

	raw = etl_msg_get_raw(m, "raw", &tx->len);
	tx->data = raw;
	tx->att_loaded = true;
	raw = etl_msg_get_raw(m, "raw_changelogs", &len);
	if (raw && len && raw[0] == '[') {
		struct etl_jdoc d = ETL_JDOC_INIT;
		char err[128];

		if (etl_jdoc_parse(&d, raw, len, err, sizeof(err)) < 0) {
			etl_jdoc_release(&d);
			return etl_tx_fail(tx, ETL_DATAERR, "raw_changelogs: %s", err);
		}
		tx->natt = etl_jdoc_kind(&d, ETL_JDOC_ROOT) == ETL_JSON_ARRAY ?
			d.n[ETL_JDOC_ROOT].count : 0;
		tx->att = xcalloc(tx->natt ? tx->natt : 1, sizeof(*tx->att));
		size_t i = 0;
		for (uint32_t e = etl_jdoc_first(&d, ETL_JDOC_ROOT); e && i < tx->natt;
		     e = etl_jdoc_next(&d, e), i++) {
			uint32_t self = etl_jdoc_get(&d, e, "self");

			tx->att[i].data = etl_jdoc_raw(&d, e, &tx->att[i].len);
			tx->att[i].url = etl_jdoc_strdup(&d, self);
			tx->att[i].kind = xstrdup(etl_jdoc_get(&d, e, "issueChangeLogs") ?
						  "changelog_bulkfetch" : "issue_changelog");
		}
		etl_jdoc_release(&d);
	}
	v = etl_msg_get_raw(m, "request_params", &len);
	if (v && len && v[0] == '{') {
		tx->params = xstrndup(v, len);
		index_params(tx);
	}
	tx->url = etl_msg_get_str(m, "request_url");
	etl_tx_format_time(etl_wall_ms(), tx->synced_at, sizeof(tx->synced_at));
	return ETL_OK;
}

/* ------------------------------------------------------------ last_item */

static void strip_raw_fields(struct etl_msg *e)
{
	static const char *const drop[] = { "raw", "raw_changelogs", "raw_data_id",
		"raw_kind", "request_params", "request_url" };

	for (size_t i = 0; i < ETL_ARRAY_SIZE(drop); i++)
		etl_msg_remove(e, drop[i]);
}

/* Emit the entity message @e for (@table, @id), flags as given. */
static int emit_entity(struct etl_tx *tx, struct etl_msg *e, const char *table,
		       const char *id, bool first, bool last)
{
	etl_msg_set_str(e, "table_name", table);
	etl_msg_set_str(e, "external_id", id);
	etl_msg_set_bool(e, "first_item", first);
	etl_msg_set_bool(e, "last_item", last);
	etl_msg_set_bool(e, "last_job_item", last && tx->m->last_job_item);
	return etl_stage_emit_msg(tx->st, ETL_DEST_NEXT, e) < 0 ? ETL_UNAVAIL : ETL_OK;
}

/*
 * The embedding messages of the step: one per key, or one completion
 * message.  The provider's finish_step runs in a transaction first; the
 * keys are read in batches, one message held back so the last is known,
 * and forgotten once emitted (a failure before that emits them again: the
 * embedder takes a message twice in its stride).
 */
static int finish_step(struct etl_tx *tx)
{
	struct etl_db *db = tx->t->db;
	const struct etl_msg *m = tx->m;
	struct etl_msg e = ETL_MSG_INIT;
	char tenant[24], err[128], batch[16];
	char *held_table = NULL, *held_id = NULL;
	const char *vals[6] = { tenant, m->token, m->step->type, "", "", batch };
	const char *const *tables = NULL;
	int why = ETL_OK, ret = ETL_OK;
	long n = 0;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	snprintf(batch, sizeof(batch), "%d", KEYS_BATCH);
	if (tx->pv && tx->pv->p->embed_tables)
		tables = tx->pv->p->embed_tables(m->step->type);
	if (etl_msg_parse(&e, m->text.buf, m->text.len, err, sizeof(err)) < 0)
		return etl_tx_fail(tx, ETL_SOFTWARE, "cannot copy the message: %s", err);
	strip_raw_fields(&e);
	if (tx->t->dry_run)
		goto out;   /* a dry run prints rows, nothing else */

	if (tx->pv && tx->pv->p->finish_step) {
		if (etl_db_begin(db, &why) < 0)
			goto fail;
		if ((ret = tx->pv->p->finish_step(tx, tx->pv->state)) != ETL_OK) {
			why = ret;
			goto fail;
		}
		if (etl_db_commit(db, &why) < 0)
			goto fail;
	}
	for (;;) {
		struct etl_db_res *keys = etl_db_exec(db, sql_keys_embed, vals, 6, &why);
		int rows;

		if (!keys)
			goto fail;
		rows = etl_db_nrows(keys);
		for (int i = 0; i < rows && ret == ETL_OK; i++) {
			if (held_table)
				ret = emit_entity(tx, &e, held_table, held_id, n == 0, false);
			n += held_table != NULL;
			free(held_table);
			free(held_id);
			held_table = xstrdup(etl_db_value(keys, i, "table_name"));
			held_id = xstrdup(etl_db_value(keys, i, "external_id"));
		}
		etl_db_clear(keys);
		if (ret != ETL_OK)
			goto out;
		if (rows < KEYS_BATCH)
			break;
		vals[3] = held_table;
		vals[4] = held_id;
	}
	if (held_table) {
		ret = emit_entity(tx, &e, held_table, held_id, n == 0, true);
	} else {   /* nothing touched: the input's flags, on a completion message */
		if (tables && tables[0])
			etl_msg_set_str(&e, "table_name", tables[0]);
		else
			etl_msg_set_null(&e, "table_name");
		etl_msg_set_null(&e, "external_id");
		if (etl_stage_emit_msg(tx->st, ETL_DEST_NEXT, &e) < 0)
			ret = ETL_UNAVAIL;
	}
	if (ret == ETL_OK) {
		struct etl_db_res *r = etl_db_exec(db, sql_keys_forget, vals, 3, &why);

		if (!r)   /* emitted already: stale keys go with the week-old ones */
			etl_warn("cannot forget the keys of step %s: they are removed "
				 "within a week", m->step->type);
		etl_db_clear(r);
	}
	goto out;
fail:
	etl_db_rollback(db);
	ret = why == ETL_OK ? ETL_SOFTWARE : why;
	etl_tx_fail(tx, ret, "cannot finish step %s", m->step->type);
out:
	free(held_table);
	free(held_id);
	etl_msg_release(&e);
	return ret;
}

/* ------------------------------------------------------------ the handler */

/* A dry run reads the database only when one is configured. */
static bool dry_run_has_db(const char *dsn)
{
	static const char *const vars[] = { "PGHOST", "PGDATABASE", "PGSERVICE",
		"PGHOSTADDR" };

	if (dsn || etl_config_get("ETL_DATABASE_URL"))
		return true;
	for (size_t i = 0; i < ETL_ARRAY_SIZE(vars); i++)
		if (getenv(vars[i]) && *getenv(vars[i]))
			return true;
	return false;
}

struct etl_transform *etl_transform_new(const struct etl_transform_opts *o, int *why)
{
	struct etl_transform *t = xcalloc(1, sizeof(*t));

	t->dry_run = o->dry_run;
	t->dsn = o->dsn;
	t->use_db = !o->dry_run || dry_run_has_db(o->dsn);
	if (t->use_db) {
		t->db = etl_db_connect(o->dsn, why);
		if (!t->db) {
			free(t);
			return NULL;
		}
	}
	for (const struct etl_tx_provider *const *p = o->providers; p && *p; p++)
		t->nprovs++;
	t->provs = xcalloc(t->nprovs ? t->nprovs : 1, sizeof(*t->provs));
	for (size_t i = 0; i < t->nprovs; i++) {
		struct prov *pv = &t->provs[i];

		pv->p = o->providers[i];
		for (const struct etl_tx_table *const *tb = pv->p->tables; *tb; tb++)
			pv->nstores++;
		pv->stores = xcalloc(pv->nstores ? pv->nstores : 1, sizeof(*pv->stores));
		for (size_t k = 0; k < pv->nstores; k++) {
			pv->stores[k].t = pv->p->tables[k];
			if (pv->stores[k].t->ncols > MAX_COLS)
				etl_die(ETL_SOFTWARE, "internal error: table '%s' has too "
					"many columns", pv->stores[k].t->name);
		}
		pv->state = pv->p->open ? pv->p->open() : NULL;
	}
	return t;
}

void etl_transform_free(struct etl_transform *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nprovs; i++) {
		struct prov *pv = &t->provs[i];

		if (pv->p->close)
			pv->p->close(pv->state);
		for (size_t k = 0; k < pv->nstores; k++)
			etl_buf_release(&pv->stores[k].rows);
		free(pv->stores);
	}
	free(t->provs);
	etl_runstats_acc_flush(t->db, &t->runs);
	etl_db_close(t->db);
	free(t);
}

static struct prov *provider_of(struct etl_transform *t, const char *name)
{
	for (size_t i = 0; i < t->nprovs; i++)
		if (!strcmp(t->provs[i].p->name, name))
			return &t->provs[i];
	return NULL;
}

static int set_stage(struct etl_tx *tx, const char *state)
{
	int why = ETL_OK;

	if (!tx->t->db || tx->t->dry_run || !tx->m->job_id)
		return ETL_OK;
	if (etl_status_set_stage(tx->t->db, tx->m->job_id, tx->m->token, tx->m->step,
				 ETL_STAGE_TRANSFORM, state, &why) < 0)
		return why == ETL_OK ? ETL_SOFTWARE : why;
	return ETL_OK;
}

/*
 * Finishing a step (share/sql/0013): the last message is parked, then
 * claimed by whoever sees no pending raw row of the step left.  The
 * advisory lock serializes the claims of one step, so of two workers
 * committing the last pages at once the second sees the first's commit.
 * The claim is deleted only after the step's messages were emitted: a
 * crash in between makes a later claim emit them again (the embedder
 * skips unchanged entities, job completion happens once).
 */
static const char sql_finish_park[] =
	"INSERT INTO etl_transform_finish (tenant_id, token, step, message) "
	"VALUES ($1, $2::uuid, $3, $4) ON CONFLICT DO NOTHING";
static const char sql_finish_lock[] =
	"SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2 || '/' || $3))";
static const char sql_finish_claim[] =
	"UPDATE etl_transform_finish SET claimed_at = now() "
	"WHERE tenant_id = $1 AND token = $2::uuid AND step = $3 "
	"AND (claimed_at IS NULL OR claimed_at < now() - interval '10 minutes') "
	"AND NOT EXISTS (SELECT 1 FROM raw_extraction_data r WHERE r.tenant_id = $1 "
	"  AND r.token = $2::uuid AND r.type = $3 AND r.status = 'pending' "
	"  AND NOT (r.request_params ? 'for_raw_id')) "
	"RETURNING message";
static const char sql_finish_release[] =
	"UPDATE etl_transform_finish SET claimed_at = NULL WHERE tenant_id = $1 "
	"AND token = $2::uuid AND step = $3";
static const char sql_finish_forget[] =
	"DELETE FROM etl_transform_finish WHERE tenant_id = $1 AND token = $2::uuid "
	"AND step = $3";

static int finish_step(struct etl_tx *tx);

/* Claim the parked last message of this message's step, if the step is
 * done.  1 with @last filled, 0 if not (yet), -1 (*why set). */
static int claim_finish(struct etl_tx *tx, struct etl_msg *last, int *why)
{
	struct etl_db *db = tx->t->db;
	char tenant[24], err[128];
	const char *vals[3] = { tenant, tx->m->token, tx->m->step->type };
	struct etl_db_res *r;
	int got = 0;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	if (etl_db_begin(db, why) < 0)
		return -1;
	r = etl_db_exec(db, sql_finish_lock, vals, 3, why);
	etl_db_clear(r);
	if (!r || !(r = etl_db_exec(db, sql_finish_claim, vals, 3, why))) {
		etl_db_rollback(db);
		return -1;
	}
	if (etl_db_nrows(r) > 0) {
		const char *text = etl_db_value(r, 0, "message");

		if (etl_msg_parse(last, text, strlen(text), err, sizeof(err)) < 0 ||
		    etl_msg_validate(last, ETL_STAGE_TRANSFORM, 0, err, sizeof(err)) < 0) {
			etl_error("parked last message of step %s is invalid: %s",
				  tx->m->step->type, err);
			*why = ETL_SOFTWARE;
			got = -1;
		} else {
			got = 1;
		}
	}
	etl_db_clear(r);
	if (got < 0 || etl_db_commit(db, why) < 0) {
		etl_db_rollback(db);
		return -1;
	}
	return got;
}

/* Park @tx's message when it is the step's last; then finish the step if
 * no page of it is pending any more.  ETL_OK or a category. */
static int finish_when_done(struct etl_tx *tx)
{
	struct etl_db *db = tx->t->db;
	struct etl_msg last = ETL_MSG_INIT;
	const struct etl_msg *self = tx->m;
	char tenant[24];
	const char *vals[4] = { tenant, self->token, self->step->type, self->text.buf };
	int why = ETL_OK, rc = ETL_OK, got;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tx->tenant);
	if (self->last_item) {
		struct etl_db_res *r = etl_db_exec(db, sql_finish_park, vals, 4, &why);

		if (!r)
			return etl_tx_fail(tx, why, "cannot park the last message of step %s",
					   self->step->type);
		etl_db_clear(r);
	}
	got = claim_finish(tx, &last, &why);
	if (got < 0)
		return etl_tx_fail(tx, why, "cannot claim the end of step %s", self->step->type);
	if (got > 0) {
		struct etl_db_res *r;

		tx->m = &last;
		rc = finish_step(tx);
		if (rc == ETL_OK)
			rc = set_stage(tx, ETL_ST_FINISHED);
		tx->m = self;
		/* Failed: let the retry (or another worker) claim it again. */
		r = etl_db_exec(db, rc == ETL_OK ? sql_finish_forget : sql_finish_release,
				vals, 3, &why);
		if (!r && rc == ETL_OK)
			rc = etl_tx_fail(tx, why, "cannot forget the end of step %s",
					 self->step->type);
		etl_db_clear(r);
	}
	etl_msg_release(&last);
	return rc;
}

/* Map the response into rows and write them.  ETL_OK or a category. */
static int transform_data(struct etl_tx *tx)
{
	int why = ETL_OK, rc;

	if (!tx->pv)
		return etl_tx_fail(tx, ETL_DATAERR, "no transform for provider '%s' "
				   "(message type %s)", tx->m->step->provider,
				   tx->m->step->type);
	if (tx->raw_id)
		rc = tx->t->db ? load_stored(tx) :
			etl_tx_fail(tx, ETL_DATAERR, "raw_data_id %lld needs a database "
				    "(set ETL_DATABASE_URL or --dsn, or extract with "
				    "--no-store)", (long long)tx->raw_id);
	else
		rc = load_inline(tx);
	if (rc != ETL_OK)
		return rc;
	if (tx->t->dry_run) {
		reset_rows(tx);
		rc = tx->pv->p->transform(tx, tx->pv->state);
		for (size_t i = 0; rc == ETL_OK && i < tx->pv->nstores; i++)
			if (print_rows(tx, &tx->pv->stores[i]) < 0)
				rc = ETL_UNAVAIL;
		return rc;
	}
	if (etl_db_in_txn(tx->t->db, txn_body, tx, &why) < 0) {
		if (why == ETL_OK)
			why = ETL_SOFTWARE;
		if (!*tx->reason)
			etl_tx_fail(tx, why, "cannot load raw row %lld (%s)",
				    (long long)tx->raw_id, *tx->kind ? tx->kind : "?");
		return why;
	}
	/* The load statements join the final tables by their natural keys:
	 * keep their statistics up with a first sync. */
	for (size_t i = 0; i < tx->pv->nstores; i++) {
		struct store *st = &tx->pv->stores[i];

		if (st->nrows)
			etl_db_analyze_on_growth(tx->t->db, st->t->name, &st->loaded,
						 (int64_t)st->nrows);
	}
	return ETL_OK;
}

/*
 * After a lost connection: connect again (the temporary tables went with
 * the old session).  ETL_OK, or ETL_UNAVAIL / ETL_CONFIG after reporting.
 */
static int reconnect(struct etl_transform *t)
{
	int why = ETL_OK;

	if (t->db || !t->use_db)
		return ETL_OK;
	t->db = etl_db_connect(t->dsn, &why);
	if (!t->db)
		return why == ETL_OK ? ETL_UNAVAIL : why;
	t->keys_ready = false;
	for (size_t i = 0; i < t->nprovs; i++)
		for (size_t k = 0; k < t->provs[i].nstores; k++)
			t->provs[i].stores[k].temp_ready = false;
	return ETL_OK;
}

/* The run's counters (etl-job runs): rows loaded under the step, one
 * message, an error for a response that could not be mapped; added in
 * batches, and at the step's first and last message. */
static void add_metrics(struct etl_tx *tx, bool transformed, int rc)
{
	struct etl_runstats rs = ETL_RUNSTATS_INIT(ETL_STAGE_TRANSFORM);

	if (!tx->t->db || tx->t->dry_run || !tx->m->job_id)
		return;
	for (size_t i = 0; transformed && rc == ETL_OK && tx->pv && i < tx->pv->nstores; i++)
		rs.records += (int64_t)tx->pv->stores[i].nrows;
	rs.step = tx->m->step->type;
	rs.messages = 1;
	rs.errors = rc == ETL_DATAERR;
	rs.peak_rss_kb = etl_runstats_peak_rss_kb();
	etl_runstats_acc_add(tx->t->db, &tx->t->runs, tx->m->token, &rs,
			     tx->m->first_item || tx->m->last_item);
}

int etl_transform_handle(struct etl_stage_ctx *st, struct etl_msg *m, void *ctx)
{
	struct etl_transform *t = ctx;
	struct etl_tx tx;
	char *kind;
	int rc = ETL_OK, rc2;
	int64_t v = 0;
	bool transformed = false;

	if ((rc = reconnect(t)) != ETL_OK) {
		etl_stage_set_reason(st, "cannot connect to PostgreSQL");
		return rc;
	}
	memset(&tx, 0, sizeof(tx));
	tx.t = t;
	tx.st = st;
	tx.m = m;
	tx.tenant = m->tenant_id;
	etl_msg_get_i64(m, "integration_id", &tx.integration);
	if (etl_msg_get_i64(m, "raw_data_id", &v) == 0)
		tx.raw_id = v;
	kind = etl_msg_get_str(m, "raw_kind");
	if (kind)
		snprintf(tx.kind, sizeof(tx.kind), "%s", kind);
	free(kind);
	tx.pv = provider_of(t, m->step->provider);

	if (m->first_item && (rc = set_stage(&tx, ETL_ST_RUNNING)) != ETL_OK)
		goto out;
	if (tx.raw_id || !etl_msg_is_null(m, "raw")) {
		rc = transform_data(&tx);
		transformed = true;
		if (rc == ETL_DATAERR && t->db && !t->dry_run) {
			int why;

			if (mark_raw(&tx, tx.reason, &why) < 0)
				etl_warn("cannot mark raw row %lld failed", (long long)tx.raw_id);
		} else if (rc != ETL_OK && rc != ETL_DATAERR) {
			goto out;   /* retried: the flags wait for the retry */
		}
	}
	if (t->db && !t->dry_run && etl_stage_is_worker(st)) {
		/* Several workers may share a step: see finish_when_done().  A
		 * pipe is sequential: what is pending at its last message is
		 * not coming, so it finishes at once. */
		if (m->last_item || tx.raw_id) {
			rc2 = finish_when_done(&tx);
			rc = rc == ETL_OK ? rc2 : rc;
		}
	} else if (m->last_item) {
		rc2 = finish_step(&tx);
		if (rc2 == ETL_OK)
			rc2 = set_stage(&tx, ETL_ST_FINISHED);
		rc = rc == ETL_OK ? rc2 : rc;
	}
out:
	if (rc != ETL_OK) {
		if (!*tx.reason)
			etl_tx_fail(&tx, rc, "transform failed");
		etl_stage_set_reason(st, "%s", tx.reason);
	}
	if (rc == ETL_OK || rc == ETL_DATAERR)
		add_metrics(&tx, transformed, rc);
	if (rc == ETL_UNAVAIL && t->db) {   /* the retry starts on a new session */
		etl_db_close(t->db);
		t->db = NULL;
	}
	release_response(&tx);
	etl_buf_release(&tx.rowbuf);
	etl_buf_release(&tx.keys);
	return rc;
}
