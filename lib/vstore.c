/*
 * vstore.c - the store table of vstore.h, the bridge table, binary array
 * parameters and the exact top-k search kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "vstore.h"

static const struct etl_vstore_ops *const stores[] = {
	&etl_vstore_pg,
	&etl_vstore_qdrant,
};

const struct etl_vstore_ops *etl_vstore_find(const char *name)
{
	for (size_t i = 0; i < ETL_ARRAY_SIZE(stores); i++)
		if (!strcasecmp(stores[i]->name, name))
			return stores[i];
	return NULL;
}

const char *etl_vstore_names(void)
{
	return "pg|qdrant";
}

struct etl_vstore *etl_vstore_open(const struct etl_vstore_opts *o, int *why)
{
	const char *name = o->store ? o->store : etl_config_get_or("ETL_EMBED_STORE", "pg");
	const struct etl_vstore_ops *ops = etl_vstore_find(name);
	struct etl_vstore *s;

	if (!ops) {
		*why = ETL_CONFIG;
		etl_error("unknown vector store '%s' (%s)", name, etl_vstore_names());
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->ops = ops;
	s->batch = o->batch > 0 ? o->batch : 64;
	if (ops->open(s, o, why) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void etl_vstore_close(struct etl_vstore *s)
{
	if (!s)
		return;
	s->ops->close(s);
	free(s);
}

void etl_vhits_release(struct etl_vhits *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->h[i].table_name);
		free(h->h[i].external_id);
		free(h->h[i].title);
		free(h->h[i].source_type);
	}
	free(h->h);
	h->h = NULL;
	h->n = 0;
}

/* ------------------------------------------------- binary array parameters */

static void put32(struct etl_buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	etl_buf_add(b, x, 4);
}

void etl_pgarr_begin(struct etl_buf *b, uint32_t oid, size_t n, bool has_null)
{
	etl_buf_reset(b);
	put32(b, 1);                 /* dimensions */
	put32(b, has_null ? 1 : 0);  /* has nulls */
	put32(b, oid);               /* element type */
	put32(b, (uint32_t)n);       /* length of the dimension */
	put32(b, 1);                 /* its lower bound */
}

void etl_pgarr_int8(struct etl_buf *b, int64_t v)
{
	put32(b, 8);
	put32(b, (uint32_t)((uint64_t)v >> 32));
	put32(b, (uint32_t)v);
}

void etl_pgarr_null(struct etl_buf *b)
{
	put32(b, 0xffffffffu);
}

void etl_pgarr_text(struct etl_buf *b, const char *s)
{
	size_t n;

	if (!s) {
		etl_pgarr_null(b);
		return;
	}
	n = strlen(s);
	put32(b, (uint32_t)n);
	etl_buf_add(b, s, n);
}

void etl_pgarr_float4s(struct etl_buf *b, const float *v, size_t n)
{
	unsigned char *p;

	etl_buf_grow(b, n * 8);
	p = (unsigned char *)b->buf + b->len;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &v[i], 4);
		p[0] = 0;
		p[1] = 0;
		p[2] = 0;
		p[3] = 4;
		p[4] = (unsigned char)(u >> 24);
		p[5] = (unsigned char)(u >> 16);
		p[6] = (unsigned char)(u >> 8);
		p[7] = (unsigned char)u;
		p += 8;
	}
	b->len += n * 8;
	b->buf[b->len] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

void etl_pgarr_uuid(struct etl_buf *b, const char *text)
{
	unsigned char u[16];
	size_t k = 0;

	for (const char *p = text; *p && k < 16; p++) {
		if (*p == '-')
			continue;
		u[k++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
		p++;
	}
	while (k < 16)
		u[k++] = 0;
	put32(b, 16);
	etl_buf_add(b, u, 16);
}

/* ----------------------------------------------------------- bridge table */

static const char sql_bridge_put[] =
	ETL_VSTORE_BRIDGE_INSERT
	"SELECT $1, r.table_name, r.record_id, r.external_id, r.point_id, $2, "
	"  r.source_type, r.integration_id, r.content_hash, $3, $4, $5 "
	"FROM unnest($6::bigint[], $7::text[], $8::text[], $9::text[], $10::uuid[], "
	"  $11::bigint[], $12::text[]) "
	"  AS r(record_id, table_name, source_type, external_id, point_id, "
	"       integration_id, content_hash) "
	ETL_VSTORE_BRIDGE_ON_CONFLICT;

void etl_vstore_params_init(struct etl_vstore_params *p, const struct etl_vrec *r,
			    size_t n)
{
	bool has_null = false;

	for (int i = 0; i < ETL_VSTORE_PARAMS_NARR; i++)
		p->arr[i] = (struct etl_buf)ETL_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		has_null |= r[i].integration_id == 0;
	etl_pgarr_begin(&p->arr[0], ETL_OID_INT8, n, false);
	etl_pgarr_begin(&p->arr[1], ETL_OID_TEXT, n, false);
	etl_pgarr_begin(&p->arr[2], ETL_OID_TEXT, n, false);
	etl_pgarr_begin(&p->arr[3], ETL_OID_TEXT, n, false);
	etl_pgarr_begin(&p->arr[4], ETL_OID_UUID, n, false);
	etl_pgarr_begin(&p->arr[5], ETL_OID_INT8, n, has_null);
	etl_pgarr_begin(&p->arr[6], ETL_OID_TEXT, n, false);
	for (size_t i = 0; i < n; i++) {
		etl_pgarr_int8(&p->arr[0], r[i].record_id);
		etl_pgarr_text(&p->arr[1], r[i].table_name);
		etl_pgarr_text(&p->arr[2], r[i].source_type);
		etl_pgarr_text(&p->arr[3], r[i].external_id);
		etl_pgarr_uuid(&p->arr[4], r[i].point_id);
		if (r[i].integration_id)
			etl_pgarr_int8(&p->arr[5], r[i].integration_id);
		else
			etl_pgarr_null(&p->arr[5]);
		etl_pgarr_text(&p->arr[6], r[i].content_hash);
	}
}

int etl_vstore_params_bind(struct etl_vstore_params *p, const struct etl_vmeta *m,
			   const char *collection, int narr)
{
	snprintf(p->tenant, sizeof(p->tenant), "%lld", (long long)m->tenant_id);
	snprintf(p->dim, sizeof(p->dim), "%d", m->dim);
	p->vals[0] = p->tenant;
	p->vals[1] = collection;
	p->vals[2] = p->dim;
	p->vals[3] = m->provider;
	p->vals[4] = m->model;
	for (int i = 0; i < 5; i++)
		p->lens[i] = -1;
	for (int i = 0; i < narr; i++) {
		p->vals[5 + i] = p->arr[i].buf;
		p->lens[5 + i] = (int)p->arr[i].len;
	}
	return 5 + narr;
}

void etl_vstore_params_release(struct etl_vstore_params *p)
{
	for (int i = 0; i < ETL_VSTORE_PARAMS_NARR; i++)
		etl_buf_release(&p->arr[i]);
}

int etl_vstore_bridge_put(struct etl_db *db, const struct etl_vmeta *m,
			  const char *collection, const struct etl_vrec *r, size_t n,
			  int *why)
{
	struct etl_vstore_params p;
	struct etl_db_res *res;
	int np;

	if (!n)
		return 0;
	etl_vstore_params_init(&p, r, n);
	np = etl_vstore_params_bind(&p, m, collection, ETL_VSTORE_BRIDGE_NARR);
	res = etl_db_exec_named(db, "embed_bridge_put", sql_bridge_put, p.vals, p.lens, np,
				0, why);
	etl_vstore_params_release(&p);
	if (!res)
		return etl_error("cannot record %zu vectors in the bridge table", n);
	etl_db_clear(res);
	return 0;
}

/* ------------------------------------------------------------------ top-k */

void etl_topk_init(struct etl_topk *t, size_t k)
{
	t->k = k ? k : 1;
	t->n = 0;
	t->score = xmalloc(t->k * sizeof(*t->score));
	t->id = xmalloc(t->k * sizeof(*t->id));
}

void etl_topk_release(struct etl_topk *t)
{
	free(t->score);
	free(t->id);
	t->score = NULL;
	t->id = NULL;
	t->n = t->k = 0;
}

/* Is (a, ia) worse than (b, ib)?  Lower score, or on a tie the higher id,
 * so results do not depend on the order rows arrive in. */
static inline bool worse(float a, int64_t ia, float b, int64_t ib)
{
	return a < b || (a == b && ia > ib);
}

static void sift_down(struct etl_topk *t, size_t i)
{
	float s = t->score[i];
	int64_t id = t->id[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->n)
			break;
		if (c + 1 < t->n && worse(t->score[c + 1], t->id[c + 1], t->score[c], t->id[c]))
			c++;
		if (!worse(t->score[c], t->id[c], s, id))
			break;
		t->score[i] = t->score[c];
		t->id[i] = t->id[c];
		i = c;
	}
	t->score[i] = s;
	t->id[i] = id;
}

void etl_topk_push(struct etl_topk *t, float score, int64_t id)
{
	if (t->n < t->k) {
		size_t i = t->n++;

		/* sift up */
		while (i > 0) {
			size_t p = (i - 1) / 2;

			if (!worse(score, id, t->score[p], t->id[p]))
				break;
			t->score[i] = t->score[p];
			t->id[i] = t->id[p];
			i = p;
		}
		t->score[i] = score;
		t->id[i] = id;
		return;
	}
	if (!worse(t->score[0], t->id[0], score, id))
		return;
	t->score[0] = score;
	t->id[0] = id;
	sift_down(t, 0);
}

void etl_topk_sort(struct etl_topk *t)
{
	/* Heap sort: repeatedly move the worst to the end. */
	size_t n = t->n;

	while (t->n > 1) {
		size_t last = t->n - 1;
		float s = t->score[0];
		int64_t id = t->id[0];

		t->score[0] = t->score[last];
		t->id[0] = t->id[last];
		t->n = last;
		sift_down(t, 0);
		t->score[last] = s;
		t->id[last] = id;
	}
	t->n = n;
}

void etl_vec_dots(const float *restrict base, size_t n, size_t dim,
		  const float *restrict q, float *restrict out)
{
	for (size_t i = 0; i < n; i++) {
		const float *restrict v = base + i * dim;
		/* Sixteen partial sums, named so they live in registers: four
		 * independent SSE chains, so the adds' latency does not bound
		 * the loop and memory bandwidth does. */
		float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
		float b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0, b7 = 0;
		size_t j = 0;

		for (; j + 16 <= dim; j += 16) {
			a0 += v[j] * q[j];
			a1 += v[j + 1] * q[j + 1];
			a2 += v[j + 2] * q[j + 2];
			a3 += v[j + 3] * q[j + 3];
			a4 += v[j + 4] * q[j + 4];
			a5 += v[j + 5] * q[j + 5];
			a6 += v[j + 6] * q[j + 6];
			a7 += v[j + 7] * q[j + 7];
			b0 += v[j + 8] * q[j + 8];
			b1 += v[j + 9] * q[j + 9];
			b2 += v[j + 10] * q[j + 10];
			b3 += v[j + 11] * q[j + 11];
			b4 += v[j + 12] * q[j + 12];
			b5 += v[j + 13] * q[j + 13];
			b6 += v[j + 14] * q[j + 14];
			b7 += v[j + 15] * q[j + 15];
		}
		for (; j < dim; j++)
			a0 += v[j] * q[j];
		a0 += b0;
		a1 += b1;
		a2 += b2;
		a3 += b3;
		a4 += b4;
		a5 += b5;
		a6 += b6;
		a7 += b7;
		out[i] = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7));
	}
}

#define TOPK_BLOCK 256

void etl_vec_topk(const float *restrict base, size_t n, size_t dim, const float *restrict q,
		  const int64_t *ids, int64_t id0, struct etl_topk *t)
{
	float sc[TOPK_BLOCK];

	for (size_t at = 0; at < n; at += TOPK_BLOCK) {
		size_t m = n - at < TOPK_BLOCK ? n - at : TOPK_BLOCK;

		etl_vec_dots(base + at * dim, m, dim, q, sc);
		for (size_t i = 0; i < m; i++) {
			int64_t id = ids ? ids[at + i] : id0 + (int64_t)(at + i);

			/* Most candidates lose to the heap's worst: one compare. */
			if (t->n == t->k && sc[i] < t->score[0])
				continue;
			etl_topk_push(t, sc[i], id);
		}
	}
}
