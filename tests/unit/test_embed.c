/* test_embed - the hash embedder, the top-k kernel and the binary array parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "embedder.h"
#include "tap.h"
#include "vstore.h"

static uint64_t rng = 88172645463325252ULL;

static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

static void hash(const char *s, float *v, int dim)
{
	etl_embed_hash_text(s, strlen(s), v, dim);
}

static void test_hash(void)
{
	enum { D = 384 };
	static float a[D], b[D], c[D], q[D], z[D];
	const char *doc = "The nightly invoice reconciliation job double-counts refunds when the "
		"payment gateway retries a webhook within the same second.";

	hash(doc, a, D);
	hash(doc, b, D);
	ok(!memcmp(a, b, sizeof(a)), "hash: the same text, the same vector");
	ok(fabs(dot(a, a, D) - 1) < 1e-5, "hash: unit length (%f)", dot(a, a, D));
	hash("THE NIGHTLY INVOICE RECONCILIATION JOB double-counts refunds when the payment "
	     "gateway retries a webhook within the same second!", c, D);
	ok(dot(a, c, D) > 0.999, "hash: case and punctuation do not matter (%f)", dot(a, c, D));
	hash("payment gateway retries a webhook", q, D);
	hash("Users on Safari 17 cannot upload avatars larger than 2 MB because the multipart "
	     "boundary is truncated by the proxy.", c, D);
	ok(dot(q, a, D) > 0.25 && dot(q, a, D) > 2 * dot(q, c, D),
	   "hash: a phrase is closer to its text (%f) than to another (%f)", dot(q, a, D),
	   dot(q, c, D));
	hash("payment gateways retried webhooks", c, D);
	ok(dot(q, c, D) > 0.3, "hash: trigrams match inflections (%f)", dot(q, c, D));
	hash("日本語のテキストと中文字符", c, D);
	hash("日本語のテキスト", z, D);
	ok(dot(c, z, D) > 0.3, "hash: CJK runs share trigrams (%f)", dot(c, z, D));
	hash("", z, D);
	ok(dot(z, z, D) == 0, "hash: no words, the zero vector");
	hash("— “” ✓ 🚀 ...", z, D);
	ok(dot(z, z, D) == 0, "hash: punctuation and emoji are not words");
	hash(doc, z, 64);
	ok(fabs(dot(z, z, 64) - 1) < 1e-5, "hash: any dimension");
	{
		/* Invalid UTF-8 and long tokens: no crash, still a unit vector. */
		char bad[600];

		memset(bad, 'x', sizeof(bad) - 1);
		bad[sizeof(bad) - 1] = '\0';
		bad[10] = (char)0xc3;
		bad[200] = (char)0xff;
		bad[300] = (char)0xe2;
		hash(bad, z, D);
		ok(fabs(dot(z, z, D) - 1) < 1e-5, "hash: invalid UTF-8 and a 600-byte token");
	}
}

static int cmp_desc(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;

	return (a < b) - (a > b);
}

static void test_topk(void)
{
	enum { N = 5000, D = 37, K = 10 };
	float *base = malloc(N * D * sizeof(float)), q[D], *sc = malloc(N * sizeof(float));
	float *sorted = malloc(N * sizeof(float));
	struct etl_topk t;
	int bad = 0;

	for (size_t i = 0; i < N * D; i++)
		base[i] = frand();
	for (size_t j = 0; j < D; j++)
		q[j] = frand();
	etl_vec_dots(base, N, D, q, sc);
	for (size_t i = 0; i < N; i++)
		bad += fabs(sc[i] - dot(base + i * D, q, D)) > 1e-4;
	ok(!bad, "dots: every score is the dot product (dimension 37: a tail past 16)");
	memcpy(sorted, sc, N * sizeof(float));
	qsort(sorted, N, sizeof(float), cmp_desc);
	etl_topk_init(&t, K);
	etl_vec_topk(base, N, D, q, NULL, 100, &t);
	etl_topk_sort(&t);
	bad = t.n != K;
	for (size_t i = 0; i < t.n; i++)
		bad += t.score[i] != sorted[i] || sc[t.id[i] - 100] != t.score[i];
	ok(!bad, "topk: the best %d, best first, with their ids", K);
	etl_topk_release(&t);
	/* Fewer candidates than k; ties broken by the lower id. */
	etl_topk_init(&t, 5);
	etl_topk_push(&t, 0.5f, 9);
	etl_topk_push(&t, 0.5f, 3);
	etl_topk_push(&t, 0.9f, 7);
	etl_topk_sort(&t);
	ok(t.n == 3 && t.id[0] == 7 && t.id[1] == 3 && t.id[2] == 9,
	   "topk: fewer than k, ties by id (%lld %lld %lld)", (long long)t.id[0],
	   (long long)t.id[1], (long long)t.id[2]);
	etl_topk_release(&t);
	free(base);
	free(sc);
	free(sorted);
}

static void test_pgarr(void)
{
	struct etl_buf b = ETL_BUF_INIT;
	const unsigned char *p;
	float v[2] = { 1.0f, -2.5f };

	etl_pgarr_begin(&b, ETL_OID_FLOAT4, 2, false);
	etl_pgarr_float4s(&b, v, 2);
	p = (const unsigned char *)b.buf;
	ok(b.len == 20 + 16 && p[3] == 1 && p[7] == 0 && p[10] == 0x02 && p[11] == 0xbc &&
	   p[15] == 2 && p[19] == 1, "pgarr: a float4[] header: one dimension of 2 from 1");
	ok(p[23] == 4 && p[24] == 0x3f && p[25] == 0x80 && p[32] == 0xc0 && p[33] == 0x20,
	   "pgarr: elements as length 4 and big-endian floats");
	etl_pgarr_begin(&b, ETL_OID_UUID, 1, false);
	etl_pgarr_uuid(&b, "e36d5675-5b63-4007-8bae-bb3dc17e33f2");
	p = (const unsigned char *)b.buf + 20;
	ok(p[3] == 16 && p[4] == 0xe3 && p[5] == 0x6d && p[19] == 0xf2, "pgarr: uuid as 16 bytes");
	etl_pgarr_begin(&b, ETL_OID_TEXT, 2, true);
	etl_pgarr_text(&b, "ab");
	etl_pgarr_text(&b, NULL);
	p = (const unsigned char *)b.buf;
	ok(p[7] == 1 && b.len == 20 + 6 + 4 && p[23] == 2 && p[26] == 0xff,
	   "pgarr: text and NULL");
	etl_buf_release(&b);
}

int main(void)
{
	test_hash();
	test_topk();
	test_pgarr();
	return tap_done();
}
