/*
 * embed_bench - the numbers behind `make bench` (bench_embed in bench/run).
 *
 *   embed_bench search N DIM K REPS
 *       exact top-K over N random unit vectors of DIM floats held in one
 *       array: etl_vec_topk (the pg store's kernel) beside a plain C loop
 *       over the same array (one dot product per row, best kept) and a
 *       streaming sum of the array (what memory bandwidth allows); the
 *       median of REPS runs of each, in the same process.
 *   embed_bench hash N
 *       the built-in embedder on N issue-like texts: texts per second.
 *   embed_bench load TENANT DIM MODEL
 *       reading TENANT's vectors from PostgreSQL ($ETL_DATABASE_URL) four
 *       ways: embedding_f32 bytea (what the pg store reads), real[] in
 *       binary, real[] as text parsed with strtof, and array_to_string
 *       parsed likewise.
 *
 * Each line: "name: value unit (ratio of baseline)".
 */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "embedder.h"
#include "log.h"
#include "util.h"
#include "vstore.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* The limit the issue names: a plain loop, one dot product per row. */
static __attribute__((noinline)) int64_t plain_best(const float *base, size_t n, size_t dim,
						     const float *q, float *best_score)
{
	float best = -2;
	int64_t bi = -1;

	for (size_t i = 0; i < n; i++) {
		float s = 0;

		for (size_t j = 0; j < dim; j++)
			s += base[i * dim + j] * q[j];
		if (s > best) {
			best = s;
			bi = (int64_t)i;
		}
	}
	*best_score = best;
	return bi;
}

/* How fast the array can be read at all. */
static __attribute__((noinline)) float stream_sum(const float *restrict base, size_t nf)
{
	float a[8] = { 0 };
	size_t i = 0;

	for (; i + 8 <= nf; i += 8)
		for (int k = 0; k < 8; k++)
			a[k] += base[i + (size_t)k];
	return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static int bench_search(size_t n, size_t dim, size_t k, int reps)
{
	float *base = xmalloc(n * dim * sizeof(*base)), q[ETL_EMBED_DIM_MAX];
	double *t_ours = xcalloc((size_t)reps, sizeof(double));
	double *t_plain = xcalloc((size_t)reps, sizeof(double));
	double *t_stream = xcalloc((size_t)reps, sizeof(double));
	volatile float sink = 0;
	int64_t plain_id = -1;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < dim; j++)
			base[i * dim + j] = frand();
		etl_vec_normalize(base + i * dim, dim);
	}
	for (size_t j = 0; j < dim; j++)
		q[j] = frand();
	etl_vec_normalize(q, dim);
	for (int r = 0; r < reps; r++) {
		struct etl_topk t;
		float bs;
		double t0;

		t0 = now_ms();
		sink += stream_sum(base, n * dim);
		t_stream[r] = now_ms() - t0;

		t0 = now_ms();
		plain_id = plain_best(base, n, dim, q, &bs);
		t_plain[r] = now_ms() - t0;
		sink += bs;

		etl_topk_init(&t, k);
		t0 = now_ms();
		etl_vec_topk(base, n, dim, q, NULL, 0, &t);
		etl_topk_sort(&t);
		t_ours[r] = now_ms() - t0;
		if (t.id[0] != plain_id) {
			fprintf(stderr, "embed_bench: top hit %lld differs from the plain loop's %lld\n",
				(long long)t.id[0], (long long)plain_id);
			return 1;
		}
		etl_topk_release(&t);
	}
	{
		double ours = median(t_ours, reps), plain = median(t_plain, reps);
		double stream = median(t_stream, reps);

		printf("embed_search_%zu_plain_loop: %.1f ms (1.00x of baseline)\n", n, plain);
		printf("embed_search_%zu_top%zu: %.1f ms (%.2fx of baseline; %.2fx of the memory read)\n",
		       n, k, ours, plain > 0 ? ours / plain : 0, stream > 0 ? ours / stream : 0);
		printf("embed_search_%zu_memory_read: %.1f ms (%.2fx of baseline; %.1f GB/s)\n", n,
		       stream, plain > 0 ? stream / plain : 0,
		       stream > 0 ? (double)(n * dim * 4) / stream / 1e6 : 0);
	}
	(void)sink;
	free(base);
	free(t_ours);
	free(t_plain);
	free(t_stream);
	return 0;
}

static int bench_hash(size_t n)
{
	static const char *const words[] = {
		"invoice", "export", "timeout", "webhook", "retry", "gateway", "customer",
		"session", "cookie", "login", "search", "indexer", "queue", "worker", "schema",
		"migration", "the", "a", "of", "and", "fails", "when", "after", "before",
		"payment", "refund", "report", "filter", "dashboard", "latency", "cache",
	};
	char text[1200];
	float *v = xmalloc(ETL_EMBED_DIM_DEFAULT * sizeof(*v));
	double t0 = now_ms();
	size_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)snprintf(text, sizeof(text), "PROJ-%zu: ", i);

		while (len < 600) {
			const char *w = words[(size_t)(frand() * 1000 + 1000) % ETL_ARRAY_SIZE(words)];

			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s ", w);
		}
		etl_embed_hash_text(text, len, v, ETL_EMBED_DIM_DEFAULT);
		bytes += len;
	}
	{
		double ms = now_ms() - t0;

		printf("embed_hash_texts: %.0f texts/s (%zu texts of %zu bytes on average, %.0f MB/s)\n",
		       ms > 0 ? n * 1000.0 / ms : 0, n, bytes / (n ? n : 1),
		       ms > 0 ? bytes / ms / 1000.0 : 0);
	}
	free(v);
	return 0;
}

static const char sql_f32[] =
	"SELECT id, embedding_f32 FROM vectors WHERE tenant_id = $1 AND dim = $2::int "
	"AND embedding_model = $3";
static const char sql_bin[] =
	"SELECT id, embedding FROM vectors WHERE tenant_id = $1 AND dim = $2::int "
	"AND embedding_model = $3";
static const char sql_text[] =
	"SELECT id, embedding::text AS e FROM vectors WHERE tenant_id = $1 AND dim = $2::int "
	"AND embedding_model = $3";
static const char sql_ats[] =
	"SELECT id, array_to_string(embedding, ',') AS e FROM vectors WHERE tenant_id = $1 "
	"AND dim = $2::int AND embedding_model = $3";

static double load(struct etl_db *db, const char *sql, int flags, const char *const *vals,
		   int dim, float *out, int *rows)
{
	double t0 = now_ms();
	struct etl_db_res *res = etl_db_exec_full(db, sql, vals, NULL, 3, flags, NULL);

	if (!res)
		return -1;
	*rows = etl_db_nrows(res);
	for (int r = 0; r < *rows; r++) {
		float *v = out + (size_t)(r % 1024) * (size_t)dim;

		if ((flags & ETL_DB_BINARY) && sql == sql_f32) {
			const unsigned char *p =
				(const unsigned char *)etl_db_value(res, r, "embedding_f32");

			for (int i = 0; i < dim; i++, p += 4) {
				uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
					(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

				memcpy(&v[i], &u, 4);
			}
		} else if (flags & ETL_DB_BINARY) {
			const unsigned char *p =
				(const unsigned char *)etl_db_value(res, r, "embedding") + 20;

			for (int i = 0; i < dim; i++, p += 8) {
				uint32_t u = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
					(uint32_t)p[6] << 8 | p[7];

				memcpy(&v[i], &u, 4);
			}
		} else {
			const char *s = etl_db_value(res, r, "e");
			char *end;

			if (*s == '{')
				s++;
			for (int i = 0; i < dim; i++) {
				v[i] = strtof(s, &end);
				s = end + 1;
			}
		}
	}
	etl_db_clear(res);
	return now_ms() - t0;
}

static int bench_load(const char *tenant, const char *dim, const char *model)
{
	int why = 0, rows = 0, d = atoi(dim);
	struct etl_db *db = etl_db_connect(NULL, &why);
	const char *vals[3] = { tenant, dim, model };
	float *buf;
	double tf, tb, tt, ta;

	if (!db)
		return 1;
	buf = xmalloc(1024 * (size_t)d * sizeof(*buf));
	tf = load(db, sql_f32, ETL_DB_BINARY, vals, d, buf, &rows);
	tb = load(db, sql_bin, ETL_DB_BINARY, vals, d, buf, &rows);
	tt = load(db, sql_text, 0, vals, d, buf, &rows);
	ta = load(db, sql_ats, 0, vals, d, buf, &rows);
	printf("embed_load_%d_float32_bytea: %.0f ms (1.00x of baseline; what search reads)\n",
	       rows, tf);
	printf("embed_load_%d_binary_real_array: %.0f ms (%.2fx of baseline)\n", rows, tb,
	       tf > 0 ? tb / tf : 0);
	printf("embed_load_%d_text_real_array: %.0f ms (%.2fx of baseline)\n", rows, tt,
	       tf > 0 ? tt / tf : 0);
	printf("embed_load_%d_array_to_string: %.0f ms (%.2fx of baseline)\n", rows, ta,
	       tf > 0 ? ta / tf : 0);
	free(buf);
	etl_db_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	etl_init(argv[0]);
	if (argc == 6 && !strcmp(argv[1], "search"))
		return bench_search(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
				    strtoul(argv[4], NULL, 10), atoi(argv[5]));
	if (argc == 3 && !strcmp(argv[1], "hash"))
		return bench_hash(strtoul(argv[2], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "load"))
		return bench_load(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: embed_bench search N DIM K REPS | hash N | load TENANT DIM MODEL\n");
	return 64;
}
