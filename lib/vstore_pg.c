/*
 * vstore_pg.c - the built-in vector store (vstore.h "pg"): the `vectors`
 * table in PostgreSQL and an exact search in C.
 *
 * put: one statement per batch upserts the vectors rows and their bridge
 * rows together, so either both are there or neither.  Every column goes
 * as a binary array parameter (unnest ... WITH ORDINALITY); the vectors of
 * the batch travel as one float4[] of n * dim elements that each row
 * slices, so nothing is formatted as text or parsed back.
 *
 * search: a cursor over the tenant's vectors of the query's model and
 * dimension (and source), fetched in binary chunks of embedding_f32 (raw
 * float32: the server sends it as one copy, where a real[] costs it a
 * call per element, 15 times slower; rows from before 0010 fall back to
 * the real[]), each chunk decoded into one contiguous array and scored by
 * etl_vec_topk; then the winners' titles in one query.  Memory stays at
 * one chunk whatever the number of vectors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "vstore.h"

#define PG_COLLECTION "vectors"
#define FETCH_ROWS "4096"

static const char sql_put[] =
	"WITH r AS (SELECT * FROM unnest($6::bigint[], $7::text[], $8::text[], "
	"    $9::text[], $10::uuid[], $11::bigint[], $12::text[], $13::text[]) "
	"  WITH ORDINALITY AS r(record_id, table_name, source_type, external_id, "
	"    point_id, integration_id, content_hash, title, i)), "
	"v AS (INSERT INTO vectors (tenant_id, source_type, table_name, record_id, "
	"    external_id, integration_id, title, content_hash, dim, embedding, "
	"    embedding_f32, embedding_model) "
	"  SELECT $1, r.source_type, r.table_name, r.record_id, r.external_id, "
	"    r.integration_id, r.title, r.content_hash, $3::int, "
	"    ($14::real[])[((r.i - 1) * $3::int + 1)::int : (r.i * $3::int)::int], "
	"    substring($15::bytea FROM ((r.i - 1) * 4 * $3::int + 1)::int FOR 4 * $3::int), $5 "
	"  FROM r "
	"  ON CONFLICT (tenant_id, table_name, record_id) DO UPDATE SET "
	"    source_type = excluded.source_type, external_id = excluded.external_id, "
	"    integration_id = excluded.integration_id, title = excluded.title, "
	"    content_hash = excluded.content_hash, dim = excluded.dim, "
	"    embedding = excluded.embedding, embedding_f32 = excluded.embedding_f32, "
	"    embedding_model = excluded.embedding_model, last_updated_at = now()) "
	ETL_VSTORE_BRIDGE_INSERT
	"SELECT $1, r.table_name, r.record_id, r.external_id, r.point_id, $2, "
	"  r.source_type, r.integration_id, r.content_hash, $3::int, $4, $5 FROM r "
	ETL_VSTORE_BRIDGE_ON_CONFLICT;

static const char sql_declare[] =
	"DECLARE etl_vsearch NO SCROLL CURSOR FOR "
	"SELECT id, embedding_f32, "
	"  CASE WHEN embedding_f32 IS NULL THEN embedding END AS embedding "
	"FROM vectors WHERE tenant_id = $1 "
	"  AND ($2::text IS NULL OR source_type = $2) AND dim = $3::int "
	"  AND embedding_model = $4";
static const char sql_fetch[] = "FETCH FORWARD " FETCH_ROWS " FROM etl_vsearch";
static const char sql_close[] = "CLOSE etl_vsearch";

static const char sql_titles[] =
	"SELECT id, source_type, table_name, external_id, title FROM vectors "
	"WHERE tenant_id = $1 AND id = ANY($2::bigint[])";

static const char sql_forget[] =
	"WITH b AS (DELETE FROM qdrant_vectors WHERE tenant_id = $1 AND table_name = $2 "
	"    AND external_id = $3 RETURNING 1), "
	"v AS (DELETE FROM vectors WHERE tenant_id = $1 AND table_name = $2 "
	"    AND external_id = $3 RETURNING 1) "
	"SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM v) AS n";

static int pg_open(struct etl_vstore *s, const struct etl_vstore_opts *o, int *why)
{
	(void)s;
	(void)o;
	(void)why;
	return 0;
}

static void pg_close(struct etl_vstore *s)
{
	(void)s;
}

static void pg_collection(const struct etl_vstore *s, int64_t tenant, int dim,
			  char *out, size_t n)
{
	(void)s;
	(void)tenant;
	(void)dim;
	snprintf(out, n, "%s", PG_COLLECTION);
}

/* @v as raw float32, little-endian, appended to @b (embedding_f32). */
static void put_f32le(struct etl_buf *b, const float *v, size_t n)
{
	unsigned char *p;

	etl_buf_grow(b, n * 4);
	p = (unsigned char *)b->buf + b->len;
	for (size_t i = 0; i < n; i++, p += 4) {
		uint32_t u;

		memcpy(&u, &v[i], 4);
		p[0] = (unsigned char)u;
		p[1] = (unsigned char)(u >> 8);
		p[2] = (unsigned char)(u >> 16);
		p[3] = (unsigned char)(u >> 24);
	}
	b->len += n * 4;
	b->buf[b->len] = '\0';
}

static int pg_put(struct etl_vstore *s, struct etl_db *db, const struct etl_vmeta *m,
		  const struct etl_vrec *r, size_t n, int *why)
{
	/* After the bridge columns: $13 title, $14 the vectors as one real[]
	 * that each row slices, $15 the same as raw float32 (embedding_f32). */
	enum { TITLE = ETL_VSTORE_BRIDGE_NARR, VEC, VEC_F32, NARR };
	_Static_assert(NARR <= ETL_VSTORE_PARAMS_NARR, "etl_vstore_params too small");
	struct etl_vstore_params p;
	struct etl_db_res *res;
	int np, ret = 0;

	if (!n)
		return 0;
	etl_vstore_params_init(&p, r, n);
	etl_pgarr_begin(&p.arr[TITLE], ETL_OID_TEXT, n, true);
	etl_pgarr_begin(&p.arr[VEC], ETL_OID_FLOAT4, n * (size_t)m->dim, false);
	for (size_t i = 0; i < n; i++) {
		etl_pgarr_text(&p.arr[TITLE], r[i].title);
		etl_pgarr_float4s(&p.arr[VEC], r[i].vec, (size_t)m->dim);
		put_f32le(&p.arr[VEC_F32], r[i].vec, (size_t)m->dim);
	}
	np = etl_vstore_params_bind(&p, m, PG_COLLECTION, NARR);
	s->requests++;
	s->upserts++;
	res = etl_db_exec_named(db, "embed_pg_put", sql_put, p.vals, p.lens, np, 0, why);
	if (!res) {
		snprintf(s->reason, sizeof(s->reason), "cannot store %zu vectors: %s", n,
			 etl_db_last_error(db)->message ? etl_db_last_error(db)->message : "");
		ret = etl_error("cannot store %zu vectors in PostgreSQL", n);
	}
	etl_db_clear(res);
	etl_vstore_params_release(&p);
	return ret;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode a real[] in send format into @out (@dim floats).  0, or -1 when
 * it is not a one-dimensional array of @dim non-null float4. */
static int decode_real_array(const unsigned char *p, size_t len, int dim, float *out)
{
	if (len < 20 || be32(p) != 1 || be32(p + 8) != ETL_OID_FLOAT4 || be32(p + 12) != (uint32_t)dim ||
	    len != 20 + 8 * (size_t)dim)
		return -1;
	p += 20;
	for (int i = 0; i < dim; i++, p += 8) {
		uint32_t u;

		if (be32(p) != 4)
			return -1;
		u = be32(p + 4);
		memcpy(&out[i], &u, 4);
	}
	return 0;
}

/* Decode embedding_f32 (@dim little-endian float32) into @out. */
static void decode_f32le(const unsigned char *p, int dim, float *out)
{
	for (int i = 0; i < dim; i++, p += 4) {
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			(uint32_t)p[3] << 24;

		memcpy(&out[i], &u, 4);
	}
}

static int pg_titles(struct etl_db *db, int64_t tenant, const struct etl_topk *t,
		     struct etl_vhits *out, int *why)
{
	struct etl_buf ids = ETL_BUF_INIT;
	char tn[24];
	const char *vals[2];
	struct etl_db_res *res;
	int rows;

	etl_buf_addch(&ids, '{');
	for (size_t i = 0; i < t->n; i++)
		etl_buf_addf(&ids, "%s%lld", i ? "," : "", (long long)t->id[i]);
	etl_buf_addch(&ids, '}');
	snprintf(tn, sizeof(tn), "%lld", (long long)tenant);
	vals[0] = tn;
	vals[1] = ids.buf;
	res = etl_db_exec(db, sql_titles, vals, 2, why);
	etl_buf_release(&ids);
	if (!res)
		return etl_error("cannot read the titles of the search hits");
	rows = etl_db_nrows(res);
	out->h = xcalloc(t->n ? t->n : 1, sizeof(*out->h));
	for (size_t i = 0; i < t->n; i++) {
		for (int row = 0; row < rows; row++) {
			int64_t id;
			const char *title;

			if (etl_db_int64(res, row, "id", &id) != 0 || id != t->id[i])
				continue;
			title = etl_db_value(res, row, "title");
			out->h[out->n].score = t->score[i];
			out->h[out->n].table_name = xstrdup(etl_db_value(res, row, "table_name"));
			out->h[out->n].external_id = xstrdup(etl_db_value(res, row, "external_id"));
			out->h[out->n].source_type = xstrdup(etl_db_value(res, row, "source_type"));
			out->h[out->n].title = xstrdup(title ? title : "");
			out->n++;
			break;
		}
	}
	etl_db_clear(res);
	return 0;
}

static int pg_search(struct etl_vstore *s, struct etl_db *db, const struct etl_vquery *q,
		     struct etl_vhits *out, int *why)
{
	struct etl_topk t;
	char tn[24], dim[16];
	const char *vals[4];
	float *chunk = NULL;
	int64_t *ids = NULL;
	size_t cap = 0;
	struct etl_db_res *res = NULL;
	int ret = -1;

	out->h = NULL;
	out->n = 0;
	etl_topk_init(&t, q->limit);
	snprintf(tn, sizeof(tn), "%lld", (long long)q->tenant_id);
	snprintf(dim, sizeof(dim), "%d", q->dim);
	vals[0] = tn;
	vals[1] = q->source_type;
	vals[2] = dim;
	vals[3] = q->model;
	if (etl_db_begin(db, why) < 0)
		goto out;
	res = etl_db_exec(db, sql_declare, vals, 4, why);
	if (!res)
		goto fail;
	etl_db_clear(res);
	for (;;) {
		int rows;

		s->requests++;
		res = etl_db_exec_full(db, sql_fetch, NULL, NULL, 0, ETL_DB_BINARY, why);
		if (!res)
			goto fail;
		rows = etl_db_nrows(res);
		if (!rows)
			break;
		if ((size_t)rows > cap) {
			cap = (size_t)rows;
			free(chunk);
			free(ids);
			chunk = xmalloc(cap * (size_t)q->dim * sizeof(*chunk));
			ids = xmalloc(cap * sizeof(*ids));
		}
		for (int i = 0; i < rows; i++) {
			const unsigned char *idv =
				(const unsigned char *)etl_db_value(res, i, "id");
			const unsigned char *fv =
				(const unsigned char *)etl_db_value(res, i, "embedding_f32");
			const unsigned char *ev =
				(const unsigned char *)etl_db_value(res, i, "embedding");
			float *dst = chunk + (size_t)i * (size_t)q->dim;

			if (fv && etl_db_length(res, i, "embedding_f32") == 4 * (size_t)q->dim)
				decode_f32le(fv, q->dim, dst);
			else if (!ev || decode_real_array(ev, etl_db_length(res, i, "embedding"),
							  q->dim, dst) < 0)
				idv = NULL;
			if (!idv || etl_db_length(res, i, "id") != 8) {
				*why = ETL_SOFTWARE;
				etl_error("unexpected vector format in the vectors table");
				goto fail;
			}
			ids[i] = (int64_t)((uint64_t)be32(idv) << 32 | be32(idv + 4));
		}
		etl_vec_topk(chunk, (size_t)rows, (size_t)q->dim, q->vec, ids, 0, &t);
		etl_db_clear(res);
		res = NULL;
	}
	etl_db_clear(res);
	res = etl_db_exec(db, sql_close, NULL, 0, why);
	if (!res)
		goto fail;
	etl_db_clear(res);
	res = NULL;
	if (etl_db_commit(db, why) < 0)
		goto out;
	etl_topk_sort(&t);
	if (t.n && pg_titles(db, q->tenant_id, &t, out, why) < 0)
		goto out;
	ret = 0;
	goto out;
fail:
	etl_db_clear(res);
	etl_db_rollback(db);
out:
	free(chunk);
	free(ids);
	etl_topk_release(&t);
	return ret;
}

static int pg_forget(struct etl_vstore *s, struct etl_db *db, int64_t tenant,
		     const char *table, const char *external_id, size_t *n, int *why)
{
	char tn[24];
	const char *vals[3] = { tn, table, external_id };
	struct etl_db_res *res;
	int64_t k = 0;

	snprintf(tn, sizeof(tn), "%lld", (long long)tenant);
	s->requests++;
	res = etl_db_exec(db, sql_forget, vals, 3, why);
	if (!res) {
		snprintf(s->reason, sizeof(s->reason), "cannot remove the vectors of %s %s",
			 table, external_id);
		return -1;
	}
	etl_db_int64(res, 0, "n", &k);
	etl_db_clear(res);
	*n = (size_t)k;
	return 0;
}

const struct etl_vstore_ops etl_vstore_pg = {
	"pg", pg_open, pg_collection, pg_put, pg_search, pg_forget, pg_close
};
