/*
 * vstore.h - vector stores behind one small table, the bridge table, and
 * exact top-k search.
 *
 *   pg      built in, the default: the `vectors` table, one row per tenant,
 *           table and record; search loads the tenant's vectors of the
 *           query's model and dimension (and source) in binary chunks and
 *           scores them in C (etl_vec_topk).
 *   qdrant  Qdrant's REST API (ETL_QDRANT_URL, ETL_QDRANT_API_KEY): one
 *           collection per tenant and dimension, etl_t<tenant>_d<dim>,
 *           created once; points upserted in batches with wait=true; search
 *           with POST /collections/{name}/points/query filtered on tenant_id
 *           (and source_type).
 *
 * Either way a search for tenant A can never see tenant B's vectors: the
 * pg store reads only rows WHERE tenant_id = A, the qdrant store queries
 * A's own collection with a tenant_id filter and drops any hit whose
 * payload names another tenant.
 *
 * put() stores the vectors and records them in the qdrant_vectors bridge
 * table (the seed's name for both stores): when it returns 0 the vectors
 * are searchable and their bridge rows say so; when it fails, no bridge
 * row claims a vector that was not stored (pg: one statement writes both;
 * qdrant: the bridge rows are written after Qdrant confirmed the points).
 * Failures are reported, return -1 and set *why (exit.h).
 */
#ifndef ETL_VSTORE_H
#define ETL_VSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct etl_db;

/* One vector to store, with what identifies and describes its entity. */
struct etl_vrec {
	int64_t record_id;          /* the row's id in table_name */
	int64_t integration_id;     /* 0: NULL */
	const char *source_type;    /* "JIRA", "GITHUB" */
	const char *table_name;     /* "work_items", ... */
	const char *external_id;    /* "ALPHA-12" */
	const char *title;          /* NULL allowed */
	char content_hash[65];      /* sha256 of the embedded text, hex */
	char point_id[37];          /* UUID v5 of the entity key */
	const float *vec;           /* dim floats, L2-normalized */
};

/* How the vectors were made: the same for a whole put(). */
struct etl_vmeta {
	int64_t tenant_id;
	int dim;
	const char *provider;       /* "hash", "openai" */
	const char *model;          /* "hash-v1", "text-embedding-3-small" */
};

struct etl_vquery {
	int64_t tenant_id;
	const char *source_type;    /* NULL: all sources */
	const float *vec;           /* dim floats, L2-normalized */
	int dim;
	const char *model;          /* only vectors of this model compare */
	size_t limit;
};

struct etl_vhit {
	float score;                /* cosine similarity */
	char *table_name, *external_id, *title, *source_type;   /* owned */
};

struct etl_vhits {
	struct etl_vhit *h;
	size_t n;
};

struct etl_vstore_opts {
	const char *store;          /* "pg" (NULL: ETL_EMBED_STORE, else pg) */
	const char *url;            /* qdrant: NULL = ETL_QDRANT_URL, else http://localhost:6333 */
	const char *api_key;        /* qdrant: NULL = ETL_QDRANT_API_KEY */
	int batch;                  /* points per upsert request; 0: 64 */
	int http_retries;           /* qdrant: -1 = ETL_QDRANT_RETRIES or 5 */
};
#define ETL_VSTORE_OPTS_INIT { NULL, NULL, NULL, 0, -1 }

struct etl_vstore;

struct etl_vstore_ops {
	const char *name;
	int (*open)(struct etl_vstore *s, const struct etl_vstore_opts *o, int *why);
	/* Where the vectors of @tenant and @dim live (bridge collection_name). */
	void (*collection)(const struct etl_vstore *s, int64_t tenant, int dim,
			   char *out, size_t n);
	int (*put)(struct etl_vstore *s, struct etl_db *db, const struct etl_vmeta *m,
		   const struct etl_vrec *r, size_t n, int *why);
	int (*search)(struct etl_vstore *s, struct etl_db *db, const struct etl_vquery *q,
		      struct etl_vhits *out, int *why);
	/* Remove the vector(s) and bridge row(s) of @tenant's entity @external_id
	 * of @table (gone from its table, or soft-deleted); *n: how many. */
	int (*forget)(struct etl_vstore *s, struct etl_db *db, int64_t tenant,
		      const char *table, const char *external_id, size_t *n, int *why);
	void (*close)(struct etl_vstore *s);
};

struct etl_vstore {
	const struct etl_vstore_ops *ops;
	int batch;
	long requests;              /* store requests (qdrant: HTTP calls) */
	long upserts;               /* put() batches sent */
	char reason[256];           /* the last failure */
	void *priv;
};

const struct etl_vstore_ops *etl_vstore_find(const char *name);
const char *etl_vstore_names(void);   /* "pg|qdrant" */
struct etl_vstore *etl_vstore_open(const struct etl_vstore_opts *o, int *why);
void etl_vstore_close(struct etl_vstore *s);
void etl_vhits_release(struct etl_vhits *h);

/* The store implementations (vstore_pg.c, vstore_qdrant.c). */
extern const struct etl_vstore_ops etl_vstore_pg;
extern const struct etl_vstore_ops etl_vstore_qdrant;

/*
 * Upsert the bridge rows of @r (one per record) for vectors now stored in
 * @collection.  What the qdrant store calls after its upserts; the pg
 * store writes the same rows in its own statement.  0 or -1.
 */
int etl_vstore_bridge_put(struct etl_db *db, const struct etl_vmeta *m,
			  const char *collection, const struct etl_vrec *r, size_t n,
			  int *why);

/*
 * PostgreSQL binary array parameters (array_recv format) for unnest():
 * begin with the element type's OID and count, then add each element.
 */
#define ETL_OID_INT8 20
#define ETL_OID_TEXT 25
#define ETL_OID_FLOAT4 700
#define ETL_OID_UUID 2950
void etl_pgarr_begin(struct etl_buf *b, uint32_t oid, size_t n, bool has_null);
void etl_pgarr_int8(struct etl_buf *b, int64_t v);
void etl_pgarr_text(struct etl_buf *b, const char *s);   /* NULL: SQL NULL */
void etl_pgarr_null(struct etl_buf *b);
void etl_pgarr_float4s(struct etl_buf *b, const float *v, size_t n);
void etl_pgarr_uuid(struct etl_buf *b, const char *text);  /* canonical text form */

/*
 * The SQL the two bridge statements (below) share around their own
 * SELECT: the columns they write, and what writing a record again
 * updates.
 */
#define ETL_VSTORE_BRIDGE_INSERT \
	"INSERT INTO qdrant_vectors (tenant_id, table_name, record_id, external_id, " \
	"  point_id, collection_name, source_type, integration_id, content_hash, " \
	"  vector_dim, embedding_provider, embedding_model) "
#define ETL_VSTORE_BRIDGE_ON_CONFLICT \
	"ON CONFLICT (tenant_id, table_name, record_id) DO UPDATE SET " \
	"  external_id = excluded.external_id, point_id = excluded.point_id, " \
	"  collection_name = excluded.collection_name, " \
	"  source_type = excluded.source_type, integration_id = excluded.integration_id, " \
	"  content_hash = excluded.content_hash, vector_dim = excluded.vector_dim, " \
	"  embedding_provider = excluded.embedding_provider, " \
	"  embedding_model = excluded.embedding_model, last_updated_at = now()"

/*
 * The parameters of a bridge upsert, built in one place for the two
 * statements that write bridge rows: etl_vstore_bridge_put()'s, and the
 * pg store's put, which writes the vectors rows and the same bridge rows
 * in one statement (so its parameters start alike).  $1 tenant_id,
 * $2 collection_name, $3 vector_dim, $4 provider and $5 model go as
 * text; then one binary array per bridge column, an element per record:
 * $6 record_id, $7 table_name, $8 source_type, $9 external_id,
 * $10 point_id, $11 integration_id (0: NULL) and $12 content_hash.  A
 * statement with more columns fills the arrays after these itself,
 * arr[ETL_VSTORE_BRIDGE_NARR] on for $13 on.
 *
 *	struct etl_vstore_params p;
 *	etl_vstore_params_init(&p, r, n);
 *	etl_pgarr_begin(&p.arr[ETL_VSTORE_BRIDGE_NARR], ETL_OID_TEXT, n, true);
 *	...
 *	np = etl_vstore_params_bind(&p, m, collection, ETL_VSTORE_BRIDGE_NARR + 1);
 *	res = etl_db_exec_named(db, name, sql, p.vals, p.lens, np, 0, why);
 *	etl_vstore_params_release(&p);
 */
#define ETL_VSTORE_BRIDGE_NARR 7    /* the bridge columns' arrays */
#define ETL_VSTORE_PARAMS_NARR 10   /* arrays a statement may have at most */
struct etl_vstore_params {
	struct etl_buf arr[ETL_VSTORE_PARAMS_NARR];     /* owned */
	const char *vals[5 + ETL_VSTORE_PARAMS_NARR];   /* set by _bind() */
	int lens[5 + ETL_VSTORE_PARAMS_NARR];
	char tenant[24], dim[16];
};
/* The bridge arrays of the @n records @r (n > 0); the arrays after them
 * start empty. */
void etl_vstore_params_init(struct etl_vstore_params *p, const struct etl_vrec *r,
			    size_t n);
/*
 * Once the arrays are complete: point vals and lens at the text of @m and
 * @collection (borrowed: they must outlive the query) and at the first
 * @narr arrays.  Returns the number of parameters, 5 + @narr.
 */
int etl_vstore_params_bind(struct etl_vstore_params *p, const struct etl_vmeta *m,
			   const char *collection, int narr);
/* Free the arrays. */
void etl_vstore_params_release(struct etl_vstore_params *p);

/*
 * Exact top-k by dot product: a bounded min-heap of the best @k (score,
 * id) pairs seen so far.
 */
struct etl_topk {
	size_t k, n;
	float *score;
	int64_t *id;
};
void etl_topk_init(struct etl_topk *t, size_t k);
void etl_topk_release(struct etl_topk *t);
/* Offer one candidate. */
void etl_topk_push(struct etl_topk *t, float score, int64_t id);
/* Sort the kept entries best first (the heap is gone afterwards). */
void etl_topk_sort(struct etl_topk *t);

/*
 * Scores of @n vectors of @dim floats stored contiguously at @base against
 * @q: out[i] = dot(base + i * dim, q).  Sixteen independent accumulators
 * so the compiler vectorizes it at -O2 without reassociating floats.
 */
void etl_vec_dots(const float *restrict base, size_t n, size_t dim,
		  const float *restrict q, float *restrict out);
/*
 * Offer the @n vectors at @base (ids @ids[i], or @id0 + i when @ids is
 * NULL) to @t, scoring them in cache-sized blocks.
 */
void etl_vec_topk(const float *restrict base, size_t n, size_t dim, const float *restrict q,
		  const int64_t *ids, int64_t id0, struct etl_topk *t);

#endif
