/*
 * embed_hash.c - the built-in embedder (embedder.h "hash").
 *
 * Feature hashing ("the hashing trick"): the text is cut into words
 * (letters and digits of any script, ASCII and Latin-1 letters folded to
 * lower case); each word, each pair of neighbouring words and each
 * character trigram of a word (with begin/end marks, so "cedilla" also
 * matches "cedillas") is a feature.  Features are counted, weighted by
 * kind with sublinear term frequency (1 + ln tf), and added to one of
 * @dim buckets chosen by a 64-bit hash, with a sign taken from another
 * bit of the hash so collisions cancel out on average instead of piling
 * up.  Very common English words count little.  The vector is then
 * L2-normalized.
 *
 * A phrase shares its words, word pairs and trigrams with the text it was
 * taken from, and few of them with other texts: searching a distinctive
 * phrase finds its text first.  It knows nothing of synonyms; "openai"
 * does.  The model name, "hash-v1", changes whenever the vectors would.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedder.h"
#include "log.h"
#include "util.h"

#define HASH_MODEL "hash-v1"

/* Feature weights by kind. */
#define W_WORD 1.0f
#define W_STOPWORD 0.15f
#define W_PAIR 0.8f
#define W_TRIGRAM 0.35f

/* Trigrams of one word at most (long tokens: URLs, CJK runs). */
#define MAX_TRIGRAMS_PER_WORD 48
/* Bytes of a word kept for its unigram and pairs. */
#define MAX_WORD 128

enum { SEED_WORD = 0x57, SEED_PAIR = 0x50, SEED_TRI = 0x54 };

static inline uint64_t fmix64(uint64_t k)
{
	/* MurmurHash3's finalizer: every input bit reaches every output bit. */
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static inline uint64_t hash_bytes(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x100000001b3ULL);

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return fmix64(h);
}

/* The counting table: open addressing on the feature hash. */
struct feat_table {
	uint64_t *key;     /* 0: empty */
	float *w;
	uint32_t *cnt;
	uint32_t *used;    /* slots in use, to clear them and to walk them */
	size_t cap, nused; /* cap is a power of two */
};

static void table_reserve(struct feat_table *t, size_t nfeat)
{
	size_t cap = 64;

	while (cap < nfeat * 2)
		cap <<= 1;
	if (cap <= t->cap)
		return;
	free(t->key);
	free(t->w);
	free(t->cnt);
	free(t->used);
	t->key = xcalloc(cap, sizeof(*t->key));
	t->w = xmalloc(cap * sizeof(*t->w));
	t->cnt = xmalloc(cap * sizeof(*t->cnt));
	t->used = xmalloc(cap * sizeof(*t->used));
	t->cap = cap;
	t->nused = 0;
}

static void table_release(struct feat_table *t)
{
	free(t->key);
	free(t->w);
	free(t->cnt);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

static inline void table_add(struct feat_table *t, uint64_t h, float w)
{
	size_t mask = t->cap - 1, i;

	h |= 1;   /* never 0, the empty mark; the low bit is not used below */
	for (i = (size_t)(h >> 7) & mask; t->key[i]; i = (i + 1) & mask) {
		if (t->key[i] == h) {
			t->cnt[i]++;
			return;
		}
	}
	/* The table is sized for the text's largest feature count: never full. */
	t->key[i] = h;
	t->w[i] = w;
	t->cnt[i] = 1;
	t->used[t->nused++] = (uint32_t)i;
}

/* Common English words: hashes of these weigh W_STOPWORD. */
static const char *const stopwords[] = {
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from",
	"has", "have", "if", "in", "into", "is", "it", "its", "not", "of", "on",
	"or", "so", "that", "the", "their", "then", "there", "these", "this",
	"to", "was", "we", "were", "when", "which", "will", "with", "you",
};
static uint64_t stop_hash[128];   /* open addressing; 0 empty */
static bool stop_ready;

static void stop_init(void)
{
	if (stop_ready)
		return;
	stop_ready = true;
	for (size_t i = 0; i < ETL_ARRAY_SIZE(stopwords); i++) {
		uint64_t h = hash_bytes((const unsigned char *)stopwords[i],
					strlen(stopwords[i]), SEED_WORD) | 1;
		size_t j = (size_t)(h >> 7) & 127;

		while (stop_hash[j])
			j = (j + 1) & 127;
		stop_hash[j] = h;
	}
}

static bool is_stopword(uint64_t h)
{
	h |= 1;
	for (size_t j = (size_t)(h >> 7) & 127; stop_hash[j]; j = (j + 1) & 127)
		if (stop_hash[j] == h)
			return true;
	return false;
}

/* Decode one UTF-8 character at @p (n bytes left): its code point and
 * length; invalid bytes read as U+FFFD of length 1. */
static unsigned utf8_next(const unsigned char *p, size_t n, size_t *len)
{
	unsigned c = p[0];

	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf && n >= 2 && (p[1] & 0xc0) == 0x80) {
		*len = 2;
		return ((c & 0x1fu) << 6) | (p[1] & 0x3fu);
	}
	if (c >= 0xe0 && c <= 0xef && n >= 3 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80) {
		*len = 3;
		return ((c & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
	}
	if (c >= 0xf0 && c <= 0xf4 && n >= 4 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
		*len = 4;
		return ((c & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) |
			((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
	}
	*len = 1;
	return 0xfffd;
}

/* Letters and digits of any script are word characters; punctuation,
 * symbols, arrows, dashes, quotes and emoji separate words. */
static bool is_word_char(unsigned c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9');
	if (c < 0xc0)
		return false;                       /* Latin-1 punctuation */
	if (c == 0xd7 || c == 0xf7)
		return false;                       /* multiplication, division */
	if (c >= 0x2000 && c <= 0x2bff)
		return false;                       /* punctuation, symbols */
	if (c >= 0x3000 && c <= 0x303f)
		return false;                       /* CJK punctuation */
	if (c >= 0xfe30 && c <= 0xfe4f)
		return false;
	if (c >= 0xff00 && c <= 0xff0f)
		return false;                       /* fullwidth punctuation */
	if (c == 0xfffd || (c >= 0xe000 && c <= 0xf8ff))
		return false;
	if (c >= 0x1f000)
		return false;                       /* emoji, pictographs */
	return true;
}

/* Append @c in UTF-8 to @out, folding ASCII and Latin-1 letters to lower case. */
static size_t put_lower(unsigned char *out, unsigned c)
{
	if (c >= 'A' && c <= 'Z')
		c += 32;
	else if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		c += 32;
	if (c < 0x80) {
		out[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (unsigned char)(0xc0 | (c >> 6));
		out[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (c >> 12));
		out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (c >> 18));
	out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/* The features of one word (@w, @n bytes, lower case; @off[i] the byte
 * offset of character i, @nch characters): unigram, pair with the word
 * before, trigrams. */
static void add_word(struct feat_table *t, const unsigned char *w, size_t n,
		     const uint32_t *off, size_t nch, uint64_t *prev)
{
	uint64_t h = hash_bytes(w, n, SEED_WORD);
	bool stop = is_stopword(h);
	unsigned char tri[3 * 4 + 2];
	size_t ntri = 0;

	table_add(t, h, stop ? W_STOPWORD : W_WORD);
	if (*prev)
		table_add(t, fmix64((*prev * 0x9e3779b97f4a7c15ULL) ^ h ^ SEED_PAIR), W_PAIR);
	*prev = h;
	if (stop)
		return;
	/* Trigrams of "^word$": characters -1 .. nch, the marks as bytes 2 and 3. */
	for (long i = -1; i + 2 <= (long)nch && ntri < MAX_TRIGRAMS_PER_WORD; i++, ntri++) {
		size_t k = 0;

		for (long j = i; j < i + 3; j++) {
			if (j < 0) {
				tri[k++] = 2;
			} else if (j >= (long)nch) {
				tri[k++] = 3;
			} else {
				size_t a = off[j], b = off[j + 1];

				memcpy(tri + k, w + a, b - a);
				k += b - a;
			}
		}
		table_add(t, hash_bytes(tri, k, SEED_TRI), W_TRIGRAM);
	}
}

static void hash_text(struct feat_table *t, const char *text, size_t len,
		      float *out, int dim)
{
	const unsigned char *p = (const unsigned char *)text;
	unsigned char word[MAX_WORD + 8];
	uint32_t off[MAX_WORD + 2];
	size_t wn = 0, nch = 0, i = 0;
	uint64_t prev = 0;

	stop_init();
	/* Upper bound of the feature count: per character a trigram, per
	 * word a unigram and a pair. */
	table_reserve(t, len * 3 + 16);
	memset(out, 0, (size_t)dim * sizeof(*out));
	while (i <= len) {
		size_t cl = 1;
		unsigned c = i < len ? utf8_next(p + i, len - i, &cl) : ' ';

		if (i < len && is_word_char(c)) {
			if (wn + 4 <= MAX_WORD) {
				off[nch++] = (uint32_t)wn;
				wn += put_lower(word + wn, c);
			}
		} else if (wn) {
			off[nch] = (uint32_t)wn;
			add_word(t, word, wn, off, nch, &prev);
			wn = nch = 0;
		}
		i += cl;
	}
	for (size_t k = 0; k < t->nused; k++) {
		size_t s = t->used[k];
		uint64_t h = t->key[s];
		float v = t->w[s] * (1.0f + logf((float)t->cnt[s]));
		/* Bucket from the high 32 bits (multiply-shift: any @dim), sign
		 * from bit 1. */
		size_t b = (size_t)(((h >> 32) * (uint64_t)dim) >> 32);

		out[b] += (h & 2) ? -v : v;
		t->key[s] = 0;
	}
	t->nused = 0;
	etl_vec_normalize(out, (size_t)dim);
}

void etl_embed_hash_text(const char *text, size_t len, float *out, int dim)
{
	struct feat_table t = { 0 };

	hash_text(&t, text, len, out, dim);
	table_release(&t);
}

static int hash_open(struct etl_embedder *e, const struct etl_embedder_opts *o, int *why)
{
	e->dim = o->dim > 0 ? o->dim : ETL_EMBED_DIM_DEFAULT;
	if (e->dim < 8 || e->dim > ETL_EMBED_DIM_MAX) {
		*why = ETL_CONFIG;
		return etl_error("the hash embedder needs a dimension from 8 to %d, not %d",
				 ETL_EMBED_DIM_MAX, e->dim);
	}
	snprintf(e->model, sizeof(e->model), "%s", HASH_MODEL);
	e->priv = xcalloc(1, sizeof(struct feat_table));
	return 0;
}

static int hash_embed(struct etl_embedder *e, const char *const *texts, const size_t *lens,
		      size_t n, float **out, int *why)
{
	float *v = xmalloc((n ? n : 1) * (size_t)e->dim * sizeof(*v));

	(void)why;
	for (size_t i = 0; i < n; i++)
		hash_text(e->priv, texts[i], lens[i], v + i * (size_t)e->dim, e->dim);
	*out = v;
	return 0;
}

static void hash_close(struct etl_embedder *e)
{
	if (e->priv)
		table_release(e->priv);
	free(e->priv);
	e->priv = NULL;
}

const struct etl_embedder_ops etl_embedder_hash = {
	"hash", hash_open, hash_embed, hash_close
};
