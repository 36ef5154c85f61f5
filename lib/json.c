#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "util.h"

struct scan {
	const char *s;
	size_t len, pos;
	int depth;
	char *err;
	size_t errlen;
};

static int fail(struct scan *sc, const char *what)
{
	if (sc->err && sc->errlen) {
		if (sc->pos >= sc->len)
			snprintf(sc->err, sc->errlen, "%s at end of input", what);
		else
			snprintf(sc->err, sc->errlen, "%s at byte %zu", what, sc->pos + 1);
	}
	return -1;
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the valid UTF-8 sequence at p (max n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xe0 && p[1] < 0xa0)
			return 0;   /* overlong */
		if (p[0] == 0xed && p[1] >= 0xa0)
			return 0;   /* UTF-16 surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static int scan_string(struct scan *sc)
{
	sc->pos++;   /* opening quote */
	while (sc->pos < sc->len) {
		unsigned char c = (unsigned char)sc->s[sc->pos];

		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(sc, "control character in string");
		if (c == '\\') {
			if (++sc->pos >= sc->len)
				break;
			c = (unsigned char)sc->s[sc->pos];
			if (c == 'u') {
				if (sc->len - sc->pos < 5)
					return fail(sc, "truncated \\u escape");
				for (int i = 1; i <= 4; i++)
					if (hexval(sc->s[sc->pos + i]) < 0)
						return fail(sc, "bad \\u escape");
				sc->pos += 5;
			} else if (strchr("\"\\/bfnrt", c) && c) {
				sc->pos++;
			} else {
				return fail(sc, "bad escape in string");
			}
			continue;
		}
		size_t n = utf8_len((const unsigned char *)sc->s + sc->pos, sc->len - sc->pos);
		if (!n)
			return fail(sc, "invalid UTF-8 in string");
		sc->pos += n;
	}
	return fail(sc, "unterminated string");
}

static int scan_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
		sc->pos++;
	return sc->pos > start ? 0 : fail(sc, "expected digit");
}

static int scan_number(struct scan *sc)
{
	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0')
		sc->pos++;
	else if (scan_digits(sc) < 0)
		return -1;
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (scan_digits(sc) < 0)
			return -1;
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (scan_digits(sc) < 0)
			return -1;
	}
	return 0;
}

static int scan_word(struct scan *sc, const char *w)
{
	size_t n = strlen(w);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, w, n))
		return fail(sc, "invalid literal");
	sc->pos += n;
	return 0;
}

static int scan_value(struct scan *sc, enum etl_json_kind *kind);

static int scan_container(struct scan *sc, char close)
{
	enum etl_json_kind k;

	if (++sc->depth > ETL_JSON_MAX_DEPTH)
		return fail(sc, "nesting too deep");
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == close) {
		sc->pos++;
		sc->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(sc);
		if (close == '}') {
			if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
				return fail(sc, "expected string key");
			if (scan_string(sc) < 0)
				return -1;
			skip_ws(sc);
			if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
				return fail(sc, "expected ':'");
			sc->pos++;
		}
		if (scan_value(sc, &k) < 0)
			return -1;
		skip_ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->s[sc->pos] == close) {
			sc->pos++;
			sc->depth--;
			return 0;
		}
		return fail(sc, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int scan_value(struct scan *sc, enum etl_json_kind *kind)
{
	skip_ws(sc);
	if (sc->pos >= sc->len)
		return fail(sc, "expected value");
	switch (sc->s[sc->pos]) {
	case '{': *kind = ETL_JSON_OBJECT; return scan_container(sc, '}');
	case '[': *kind = ETL_JSON_ARRAY; return scan_container(sc, ']');
	case '"': *kind = ETL_JSON_STRING; return scan_string(sc);
	case 't': *kind = ETL_JSON_TRUE; return scan_word(sc, "true");
	case 'f': *kind = ETL_JSON_FALSE; return scan_word(sc, "false");
	case 'n': *kind = ETL_JSON_NULL; return scan_word(sc, "null");
	default:
		if (sc->s[sc->pos] == '-' || (sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')) {
			*kind = ETL_JSON_NUMBER;
			return scan_number(sc);
		}
		return fail(sc, "unexpected character");
	}
}

int etl_json_validate(const char *s, size_t len, char *err, size_t errlen)
{
	struct scan sc = { s, len, 0, 0, err, errlen };
	enum etl_json_kind k;

	if (scan_value(&sc, &k) < 0)
		return -1;
	skip_ws(&sc);
	if (sc.pos != len)
		return fail(&sc, "trailing data");
	return 0;
}

int etl_json_index(struct etl_json_obj *o, const char *s, size_t len,
		   char *err, size_t errlen)
{
	struct scan sc = { s, len, 0, 1, err, errlen };

	o->n = 0;
	skip_ws(&sc);
	if (sc.pos >= len || s[sc.pos] != '{') {
		enum etl_json_kind k;

		if (scan_value(&sc, &k) < 0)
			return -1;
		if (err && errlen)
			snprintf(err, errlen, "expected a JSON object, got %s",
				 etl_json_kind_name(k));
		return -1;
	}
	sc.pos++;
	skip_ws(&sc);
	if (sc.pos < len && s[sc.pos] == '}') {
		sc.pos++;
		goto tail;
	}
	for (;;) {
		struct etl_json_member mb;

		skip_ws(&sc);
		if (sc.pos >= len || s[sc.pos] != '"')
			return fail(&sc, "expected string key");
		mb.key_off = sc.pos + 1;
		if (scan_string(&sc) < 0)
			return -1;
		mb.key_len = sc.pos - 1 - mb.key_off;
		skip_ws(&sc);
		if (sc.pos >= len || s[sc.pos] != ':')
			return fail(&sc, "expected ':'");
		sc.pos++;
		skip_ws(&sc);
		mb.val_off = sc.pos;
		if (scan_value(&sc, &mb.kind) < 0)
			return -1;
		mb.val_len = sc.pos - mb.val_off;
		if (o->n == o->alloc) {
			o->alloc = o->alloc ? o->alloc * 2 : 16;
			o->m = xrealloc(o->m, o->alloc * sizeof(*o->m));
		}
		o->m[o->n++] = mb;
		skip_ws(&sc);
		if (sc.pos < len && s[sc.pos] == ',') {
			sc.pos++;
			continue;
		}
		if (sc.pos < len && s[sc.pos] == '}') {
			sc.pos++;
			break;
		}
		return fail(&sc, "expected ',' or '}'");
	}
tail:
	skip_ws(&sc);
	if (sc.pos != len)
		return fail(&sc, "trailing data after object");
	return 0;
}

void etl_json_obj_release(struct etl_json_obj *o)
{
	free(o->m);
	o->m = NULL;
	o->n = o->alloc = 0;
}

const struct etl_json_member *etl_json_find(const struct etl_json_obj *o,
					    const char *s, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = o->n; i-- > 0;) {
		const struct etl_json_member *mb = &o->m[i];

		if (mb->key_len == kl && !memcmp(s + mb->key_off, key, kl))
			return mb;
		if (memchr(s + mb->key_off, '\\', mb->key_len)) {
			size_t dl;
			char *d = etl_json_unquote(s + mb->key_off - 1, mb->key_len + 2,
						   false, &dl);
			int same = d && dl == kl && !memcmp(d, key, kl);

			free(d);
			if (same)
				return mb;
		}
	}
	return NULL;
}

static void put_utf8(struct etl_buf *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		etl_buf_addch(b, (int)cp);
		return;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		etl_buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		etl_buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		etl_buf_add(b, u, 4);
	}
}

static unsigned hex4(const char *p)
{
	return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
			  hexval(p[2]) << 4 | hexval(p[3]));
}

char *etl_json_unquote(const char *lit, size_t len, bool allow_nul, size_t *outlen)
{
	struct etl_buf b = ETL_BUF_INIT;
	size_t i;

	etl_buf_grow(&b, len);
	for (i = 1; i + 1 < len; i++) {
		char c = lit[i];

		if (c != '\\') {
			etl_buf_addch(&b, c);
			continue;
		}
		c = lit[++i];
		switch (c) {
		case 'b': etl_buf_addch(&b, '\b'); break;
		case 'f': etl_buf_addch(&b, '\f'); break;
		case 'n': etl_buf_addch(&b, '\n'); break;
		case 'r': etl_buf_addch(&b, '\r'); break;
		case 't': etl_buf_addch(&b, '\t'); break;
		case 'u': {
			unsigned cp = hex4(lit + i + 1);

			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < len &&
			    lit[i + 1] == '\\' && lit[i + 2] == 'u') {
				unsigned lo = hex4(lit + i + 3);

				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;   /* a lone surrogate is not text */
			if (cp == 0 && !allow_nul) {
				etl_buf_release(&b);
				return NULL;
			}
			put_utf8(&b, cp);
			break;
		}
		default: etl_buf_addch(&b, c); break;
		}
	}
	return etl_buf_detach(&b, outlen);
}

int etl_json_int(const char *lit, size_t len, int64_t *out)
{
	char tmp[32];

	if (len == 0 || len >= sizeof(tmp) || memchr(lit, '.', len) ||
	    memchr(lit, 'e', len) || memchr(lit, 'E', len))
		return -1;
	memcpy(tmp, lit, len);
	tmp[len] = '\0';
	return etl_parse_i64(tmp, out);
}

const char *etl_json_kind_name(enum etl_json_kind kind)
{
	static const char *const names[] = { "null", "boolean", "boolean", "number",
					     "string", "array", "object" };
	return names[kind];
}
