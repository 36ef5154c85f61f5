/*
 * json.h - a strict, allocation-light JSON scanner for messages.
 *
 * Messages are forwarded with their unknown fields byte-for-byte, so we do
 * not round-trip them through a tree: we validate the whole text (RFC 8259,
 * UTF-8 checked, nesting bounded) and index the members of the top-level
 * object as spans into the original bytes.  Editing a member splices bytes.
 * Deep documents (API responses) are read with etl_jdoc below: it reads
 * Jira issues 5-8x faster than libjq's jv (bench/parse_bench), so libjq
 * is only the benchmark's baseline.
 */
#ifndef ETL_JSON_H
#define ETL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etl_buf;

#define ETL_JSON_MAX_DEPTH 512

enum etl_json_kind {
	ETL_JSON_NULL, ETL_JSON_FALSE, ETL_JSON_TRUE, ETL_JSON_NUMBER,
	ETL_JSON_STRING, ETL_JSON_ARRAY, ETL_JSON_OBJECT
};

struct etl_json_member {
	size_t key_off, key_len;   /* the key's bytes between its quotes */
	size_t val_off, val_len;   /* the value's bytes exactly as written */
	enum etl_json_kind kind;
};

struct etl_json_obj {
	struct etl_json_member *m;
	size_t n, alloc;
};
#define ETL_JSON_OBJ_INIT { NULL, 0, 0 }

/*
 * Validate @len bytes of @s as exactly one JSON value with optional
 * surrounding white space.  0 if valid; else -1 with a reason in @err
 * ("expected ',' or '}' at byte 17").
 */
int etl_json_validate(const char *s, size_t len, char *err, size_t errlen);

/*
 * Validate @s as one JSON object and index its top-level members into @o
 * (previous contents dropped).  0 ok; -1 with @err set.  Spans point into
 * @s, which must outlive their use.
 */
int etl_json_index(struct etl_json_obj *o, const char *s, size_t len,
		   char *err, size_t errlen);
void etl_json_obj_release(struct etl_json_obj *o);

/* The last member named @key (JSON's "last one wins"), or NULL.  Keys with
 * escapes are compared after decoding. */
const struct etl_json_member *etl_json_find(const struct etl_json_obj *o,
					    const char *s, const char *key);

/*
 * Decode the JSON string literal at @lit (@len bytes, quotes included) into
 * a new NUL-terminated string (caller frees), its length in *outlen.
 * Returns NULL if @lit has an embedded \u0000 and @allow_nul is false.
 */
char *etl_json_unquote(const char *lit, size_t len, bool allow_nul, size_t *outlen);

/* Parse an integer literal (no fraction or exponent) into int64. 0 / -1. */
int etl_json_int(const char *lit, size_t len, int64_t *out);

const char *etl_json_kind_name(enum etl_json_kind kind);

/*
 * A parsed document for reading deep API responses fast: one flat array of
 * nodes (no allocation per value) whose spans point into the text, which
 * must outlive the document.  Node 0 means "none", so lookups chain without
 * checks: etl_jdoc_path(d, issue, "fields.status.name") is 0 when any part
 * is missing.  The root is node 1.  Objects list their children as key,
 * value, key, value...; arrays as elements; both linked through `next`.
 */
struct etl_jnode {
	uint32_t off, len;   /* the value's bytes (strings with their quotes) */
	uint32_t next;       /* next sibling, 0 at the end */
	uint32_t child;      /* first child of an object or array */
	uint32_t count;      /* members or elements */
	uint8_t kind;        /* enum etl_json_kind */
	bool escaped;        /* a string with backslash escapes */
};

struct etl_jdoc {
	const char *text;
	size_t len;
	struct etl_jnode *n;
	size_t nn, alloc;
};
#define ETL_JDOC_INIT { NULL, 0, NULL, 0, 0 }
#define ETL_JDOC_ROOT 1u

/* Parse @s (borrowed) into @d, reusing its memory.  0 ok; -1 with @err. */
int etl_jdoc_parse(struct etl_jdoc *d, const char *s, size_t len, char *err, size_t errlen);
void etl_jdoc_release(struct etl_jdoc *d);

static inline enum etl_json_kind etl_jdoc_kind(const struct etl_jdoc *d, uint32_t node)
{
	return (enum etl_json_kind)d->n[node].kind;   /* node 0 reads as null */
}
static inline uint32_t etl_jdoc_first(const struct etl_jdoc *d, uint32_t node)
{
	return d->n[node].child;
}
static inline uint32_t etl_jdoc_next(const struct etl_jdoc *d, uint32_t node)
{
	return d->n[node].next;
}
/* Members of an object or elements of an array; 0 for anything else. */
static inline uint32_t etl_jdoc_count(const struct etl_jdoc *d, uint32_t node)
{
	return d->n[node].count;   /* node 0 and scalars count 0 */
}
/* The raw bytes of a value, exactly as in the text. */
static inline const char *etl_jdoc_raw(const struct etl_jdoc *d, uint32_t node, size_t *len)
{
	*len = d->n[node].len;
	return d->text + d->n[node].off;
}

uint32_t etl_jdoc_get(const struct etl_jdoc *d, uint32_t obj, const char *key);
uint32_t etl_jdoc_getn(const struct etl_jdoc *d, uint32_t obj, const char *key, size_t kl);
/* Follow dot-separated keys from @node. */
uint32_t etl_jdoc_path(const struct etl_jdoc *d, uint32_t node, const char *path);
uint32_t etl_jdoc_index(const struct etl_jdoc *d, uint32_t arr, uint32_t i);
/*
 * A string's decoded bytes and length, NULL if @node is not a string.
 * Unescaped strings point into the text; escaped ones are decoded into
 * @scratch (valid until its next use).  May contain NUL bytes (\u0000).
 */
const char *etl_jdoc_str(const struct etl_jdoc *d, uint32_t node, struct etl_buf *scratch,
			 size_t *len);
char *etl_jdoc_strdup(const struct etl_jdoc *d, uint32_t node);  /* caller frees */
bool etl_jdoc_str_eq(const struct etl_jdoc *d, uint32_t node, const char *s);
/*
 * For an error message: what a service said in its error response @body
 * (@len bytes, borrowed), as ": <text>" in @out (the text cut at 200
 * bytes), from the first of @paths (dot-separated, NULL-terminated) the
 * body has; "" when the body is empty or not JSON or that value is not a
 * string.  Parses into @d, dropping what it held.
 */
void etl_jdoc_error_words(struct etl_jdoc *d, const char *body, size_t len,
			  const char *const *paths, char *out, size_t n);
/* Integers, also from strings of digits ("10627"). 0 ok, -1 otherwise. */
int etl_jdoc_i64(const struct etl_jdoc *d, uint32_t node, int64_t *out);
int etl_jdoc_num(const struct etl_jdoc *d, uint32_t node, double *out);

#endif
