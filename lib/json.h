/*
 * json.h - a strict, allocation-light JSON scanner for messages.
 *
 * Messages are forwarded with their unknown fields byte-for-byte, so we do
 * not round-trip them through a tree: we validate the whole text (RFC 8259,
 * UTF-8 checked, nesting bounded) and index the members of the top-level
 * object as spans into the original bytes.  Editing a member splices bytes.
 * Deep documents (API responses) go through libjq's jv instead (see jv.h).
 */
#ifndef ETL_JSON_H
#define ETL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
