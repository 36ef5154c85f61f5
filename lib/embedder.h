/*
 * embedder.h - text -> vector providers behind one small table.
 *
 *   hash    built in, the default: deterministic feature hashing of words,
 *           word pairs and character trigrams into a fixed dimension
 *           (default 384), signed, sublinear term frequency, L2-normalized.
 *           No network, no model file; same text, same vector, anywhere.
 *   openai  any OpenAI-compatible POST .../v1/embeddings endpoint: base URL,
 *           model and key from ETL_EMBED_URL, ETL_EMBED_MODEL and
 *           ETL_EMBED_API_KEY (never logged); many inputs per request; rate
 *           limits and 5xx retries through lib/http.
 *
 * Every vector handed out is L2-normalized, so cosine similarity is a dot
 * product.  Failures are reported, and return -1 with *why set (exit.h):
 * ETL_UNAVAIL (service down), ETL_TEMPFAIL (rate limited or 5xx after the
 * retries), ETL_DATAERR (the service refused this input), ETL_CONFIG (bad
 * URL, model or key).  The last failure's text stays in e->reason.
 */
#ifndef ETL_EMBEDDER_H
#define ETL_EMBEDDER_H

#include <stddef.h>
#include <stdint.h>

#define ETL_EMBED_DIM_DEFAULT 384
#define ETL_EMBED_DIM_MAX 16384

struct etl_embedder_opts {
	const char *provider;   /* "hash" (NULL: ETL_EMBED_PROVIDER, else hash) */
	int dim;                /* 0: the provider's default (openai: the model's) */
	int batch;              /* inputs per request; 0: 64 */
	const char *url;        /* openai: NULL = ETL_EMBED_URL */
	const char *model;      /* openai: NULL = ETL_EMBED_MODEL, else text-embedding-3-small */
	const char *api_key;    /* openai: NULL = ETL_EMBED_API_KEY */
	int http_retries;       /* openai: 5xx/transport retries; -1: ETL_EMBED_RETRIES or 5 */
	long backoff_ms;        /* openai: first retry wait; 0: ETL_EMBED_BACKOFF_MS or 500 */
	long max_wait_ms;       /* openai: longest Retry-After to sit out; 0: 60 s */
	long timeout_ms;        /* openai: per request; 0: 60 s */
};
#define ETL_EMBEDDER_OPTS_INIT { NULL, 0, 0, NULL, NULL, NULL, -1, 0, 0, 0 }

struct etl_embedder;

struct etl_embedder_ops {
	const char *name;
	/* Fill e->dim (0 while unknown), e->model and e->priv. 0 or -1. */
	int (*open)(struct etl_embedder *e, const struct etl_embedder_opts *o, int *why);
	/* Embed @n texts (@lens bytes each) into @out (n * e->dim floats,
	 * allocated by the provider once e->dim is known: see etl_embed_texts). */
	int (*embed)(struct etl_embedder *e, const char *const *texts, const size_t *lens,
		     size_t n, float **out, int *why);
	void (*close)(struct etl_embedder *e);
};

struct etl_embedder {
	const struct etl_embedder_ops *ops;
	int dim;                /* vector size; 0 until the first answer (openai) */
	int batch;
	char model[128];        /* "hash-v1", "text-embedding-3-small" */
	long calls;             /* embedding calls (one per batch request) */
	long inputs;            /* texts embedded */
	char reason[256];       /* the last failure, for dead letters */
	void *priv;
};

/* The provider named @name, or NULL. */
const struct etl_embedder_ops *etl_embedder_find(const char *name);
/* "hash|openai", for usage messages. */
const char *etl_embedder_names(void);

/* Open a provider; NULL after reporting (*why: ETL_CONFIG for an unknown
 * provider or bad options).  Free with etl_embedder_close(). */
struct etl_embedder *etl_embedder_open(const struct etl_embedder_opts *o, int *why);
void etl_embedder_close(struct etl_embedder *e);

/*
 * Embed @n texts into *out: a new array of n * e->dim floats, one
 * L2-normalized vector per text, in order (caller frees).  0 or -1 (*why,
 * e->reason).  Requests carry at most e->batch texts each.
 */
int etl_embedder_embed(struct etl_embedder *e, const char *const *texts,
		       const size_t *lens, size_t n, float **out, int *why);

/* Scale @v (@dim floats) to unit length; a zero vector stays zero. */
void etl_vec_normalize(float *v, size_t dim);

/* The hash provider's vector of one text, into @out (@dim floats, zeroed
 * here), without a provider object: what bench and tests call. */
void etl_embed_hash_text(const char *text, size_t len, float *out, int dim);

/* The provider implementations (embed_hash.c, embed_openai.c). */
extern const struct etl_embedder_ops etl_embedder_hash;
extern const struct etl_embedder_ops etl_embedder_openai;

#endif
