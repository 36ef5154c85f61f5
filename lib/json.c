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
	struct etl_jdoc *doc;   /* when set, every value becomes a node */
	bool saw_escape;        /* the last string scanned had a backslash */
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
	sc->saw_escape = false;
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
			sc->saw_escape = true;
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

static int scan_value(struct scan *sc, enum etl_json_kind *kind, uint32_t *node);

static uint32_t new_node(struct etl_jdoc *d, enum etl_json_kind kind, size_t off)
{
	struct etl_jnode *n;

	if (d->nn == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 256;
		d->n = xrealloc(d->n, d->alloc * sizeof(*d->n));
	}
	n = &d->n[d->nn];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->off = (uint32_t)off;
	return (uint32_t)d->nn++;
}

/* Link @child after @prev (or first under @parent). */
static void link_child(struct etl_jdoc *d, uint32_t parent, uint32_t *prev, uint32_t child)
{
	if (*prev)
		d->n[*prev].next = child;
	else
		d->n[parent].child = child;
	*prev = child;
}

static int scan_container(struct scan *sc, char close, uint32_t self)
{
	enum etl_json_kind k;
	uint32_t prev = 0, child;

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
			if (sc->doc)
				child = new_node(sc->doc, ETL_JSON_STRING, sc->pos);
			if (scan_string(sc) < 0)
				return -1;
			if (sc->doc) {
				sc->doc->n[child].len = (uint32_t)(sc->pos - sc->doc->n[child].off);
				sc->doc->n[child].escaped = sc->saw_escape;
				link_child(sc->doc, self, &prev, child);
			}
			skip_ws(sc);
			if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
				return fail(sc, "expected ':'");
			sc->pos++;
		}
		if (scan_value(sc, &k, &child) < 0)
			return -1;
		if (sc->doc) {
			link_child(sc->doc, self, &prev, child);
			sc->doc->n[self].count++;
		}
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

static int scan_value(struct scan *sc, enum etl_json_kind *kind, uint32_t *node)
{
	uint32_t self = 0;
	int rc;

	skip_ws(sc);
	if (sc->pos >= sc->len)
		return fail(sc, "expected value");
	switch (sc->s[sc->pos]) {
	case '{': *kind = ETL_JSON_OBJECT; break;
	case '[': *kind = ETL_JSON_ARRAY; break;
	case '"': *kind = ETL_JSON_STRING; break;
	case 't': *kind = ETL_JSON_TRUE; break;
	case 'f': *kind = ETL_JSON_FALSE; break;
	case 'n': *kind = ETL_JSON_NULL; break;
	default:
		if (sc->s[sc->pos] != '-' && (sc->s[sc->pos] < '0' || sc->s[sc->pos] > '9'))
			return fail(sc, "unexpected character");
		*kind = ETL_JSON_NUMBER;
	}
	if (sc->doc) {
		if (sc->pos > UINT32_MAX - 1)
			return fail(sc, "document too large");
		self = new_node(sc->doc, *kind, sc->pos);
	}
	switch (*kind) {
	case ETL_JSON_OBJECT: rc = scan_container(sc, '}', self); break;
	case ETL_JSON_ARRAY: rc = scan_container(sc, ']', self); break;
	case ETL_JSON_STRING: rc = scan_string(sc); break;
	case ETL_JSON_TRUE: rc = scan_word(sc, "true"); break;
	case ETL_JSON_FALSE: rc = scan_word(sc, "false"); break;
	case ETL_JSON_NULL: rc = scan_word(sc, "null"); break;
	default: rc = scan_number(sc); break;
	}
	if (sc->doc) {
		sc->doc->n[self].len = (uint32_t)(sc->pos - sc->doc->n[self].off);
		if (*kind == ETL_JSON_STRING)
			sc->doc->n[self].escaped = sc->saw_escape;
	}
	*node = self;
	return rc;
}

int etl_json_validate(const char *s, size_t len, char *err, size_t errlen)
{
	struct scan sc = { s, len, 0, 0, err, errlen, NULL, false };
	enum etl_json_kind k;
	uint32_t node;

	if (scan_value(&sc, &k, &node) < 0)
		return -1;
	skip_ws(&sc);
	if (sc.pos != len)
		return fail(&sc, "trailing data");
	return 0;
}

int etl_json_index(struct etl_json_obj *o, const char *s, size_t len,
		   char *err, size_t errlen)
{
	struct scan sc = { s, len, 0, 1, err, errlen, NULL, false };

	o->n = 0;
	skip_ws(&sc);
	if (sc.pos >= len || s[sc.pos] != '{') {
		enum etl_json_kind k;
		uint32_t node;

		if (scan_value(&sc, &k, &node) < 0)
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
		uint32_t node;
		if (scan_value(&sc, &mb.kind, &node) < 0)
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

int etl_jdoc_parse(struct etl_jdoc *d, const char *s, size_t len, char *err, size_t errlen)
{
	struct scan sc = { s, len, 0, 0, err, errlen, d, false };
	enum etl_json_kind k;
	uint32_t root;

	d->text = s;
	d->len = len;
	d->nn = 0;
	if (len >= UINT32_MAX) {
		snprintf(err, errlen, "document of %zu bytes is too large", len);
		return -1;
	}
	new_node(d, ETL_JSON_NULL, 0);   /* node 0 stands for "none" */
	if (scan_value(&sc, &k, &root) < 0)
		return -1;
	skip_ws(&sc);
	if (sc.pos != len)
		return fail(&sc, "trailing data");
	return 0;
}

void etl_jdoc_release(struct etl_jdoc *d)
{
	free(d->n);
	d->n = NULL;
	d->nn = d->alloc = 0;
}

static bool key_is(const struct etl_jdoc *d, uint32_t key, const char *name, size_t nl)
{
	const struct etl_jnode *k = &d->n[key];

	if (!k->escaped)
		return k->len == nl + 2 && !memcmp(d->text + k->off + 1, name, nl);
	size_t dl;
	char *dec = etl_json_unquote(d->text + k->off, k->len, false, &dl);
	bool same = dec && dl == nl && !memcmp(dec, name, nl);

	free(dec);
	return same;
}

uint32_t etl_jdoc_getn(const struct etl_jdoc *d, uint32_t obj, const char *key, size_t kl)
{
	uint32_t found = 0;

	if (!obj || d->n[obj].kind != ETL_JSON_OBJECT)
		return 0;
	/* The last duplicate wins, as in jq and most parsers. */
	for (uint32_t k = d->n[obj].child; k; k = d->n[d->n[k].next].next)
		if (key_is(d, k, key, kl))
			found = d->n[k].next;
	return found;
}

uint32_t etl_jdoc_get(const struct etl_jdoc *d, uint32_t obj, const char *key)
{
	return etl_jdoc_getn(d, obj, key, strlen(key));
}

uint32_t etl_jdoc_path(const struct etl_jdoc *d, uint32_t node, const char *path)
{
	while (node && *path) {
		size_t n = strcspn(path, ".");

		node = etl_jdoc_getn(d, node, path, n);
		path += n;
		if (*path == '.')
			path++;
	}
	return node;
}

uint32_t etl_jdoc_index(const struct etl_jdoc *d, uint32_t arr, uint32_t i)
{
	uint32_t e;

	if (!arr || d->n[arr].kind != ETL_JSON_ARRAY)
		return 0;
	for (e = d->n[arr].child; e && i; e = d->n[e].next)
		i--;
	return e;
}

const char *etl_jdoc_str(const struct etl_jdoc *d, uint32_t node, struct etl_buf *scratch,
			 size_t *len)
{
	const struct etl_jnode *n = &d->n[node];

	if (!node || n->kind != ETL_JSON_STRING)
		return NULL;
	if (!n->escaped) {
		*len = n->len - 2;
		return d->text + n->off + 1;
	}
	size_t dl;
	char *dec = etl_json_unquote(d->text + n->off, n->len, true, &dl);

	etl_buf_reset(scratch);
	etl_buf_add(scratch, dec, dl);
	free(dec);
	*len = dl;
	return scratch->buf;
}

char *etl_jdoc_strdup(const struct etl_jdoc *d, uint32_t node)
{
	const struct etl_jnode *n = &d->n[node];

	if (!node || n->kind != ETL_JSON_STRING)
		return NULL;
	return etl_json_unquote(d->text + n->off, n->len, true, NULL);
}

bool etl_jdoc_str_eq(const struct etl_jdoc *d, uint32_t node, const char *s)
{
	if (!node || d->n[node].kind != ETL_JSON_STRING)
		return false;
	return key_is(d, node, s, strlen(s));
}

void etl_jdoc_error_words(struct etl_jdoc *d, const char *body, size_t len,
			  const char *const *paths, char *out, size_t n)
{
	struct etl_buf scratch = ETL_BUF_INIT;
	char err[64];
	uint32_t v = 0;
	const char *s;
	size_t sl;

	out[0] = '\0';
	if (!len || etl_jdoc_parse(d, body, len, err, sizeof(err)) < 0)
		return;
	for (; *paths && !v; paths++)
		v = etl_jdoc_path(d, ETL_JDOC_ROOT, *paths);
	s = etl_jdoc_str(d, v, &scratch, &sl);
	if (s)
		snprintf(out, n, ": %.*s", (int)(sl > 200 ? 200 : sl), s);
	etl_buf_release(&scratch);
}

int etl_jdoc_i64(const struct etl_jdoc *d, uint32_t node, int64_t *out)
{
	const struct etl_jnode *n = &d->n[node];

	if (!node)
		return -1;
	if (n->kind == ETL_JSON_NUMBER)
		return etl_json_int(d->text + n->off, n->len, out);
	/* Jira sends most ids as strings: "10627". */
	if (n->kind == ETL_JSON_STRING && !n->escaped)
		return etl_json_int(d->text + n->off + 1, n->len - 2, out);
	return -1;
}

int etl_jdoc_num(const struct etl_jdoc *d, uint32_t node, double *out)
{
	const struct etl_jnode *n = &d->n[node];
	char tmp[64], *end;

	if (!node || n->kind != ETL_JSON_NUMBER || n->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, d->text + n->off, n->len);
	tmp[n->len] = '\0';
	*out = strtod(tmp, &end);
	return *end ? -1 : 0;
}
