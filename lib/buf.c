#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void etl_buf_grow(struct etl_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need < b->len)
		etl_die(ETL_SOFTWARE, "buffer size overflow");
	if (need <= b->alloc)
		return;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n * 2 < n ? need : n * 2;
	b->buf = xrealloc(b->buf, n);
	b->alloc = n;
	/* A buffer only grown, never written (an empty string decoded), is
	 * still a C string when detached. */
	b->buf[b->len] = '\0';
}

void etl_buf_add(struct etl_buf *b, const void *data, size_t len)
{
	etl_buf_grow(b, len);
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

void etl_buf_adds(struct etl_buf *b, const char *s)
{
	etl_buf_add(b, s, strlen(s));
}

void etl_buf_addch(struct etl_buf *b, int c)
{
	etl_buf_grow(b, 1);
	b->buf[b->len++] = (char)c;
	b->buf[b->len] = '\0';
}

void etl_buf_vaddf(struct etl_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	etl_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		etl_die(ETL_SOFTWARE, "cannot format string");
	if ((size_t)n >= b->alloc - b->len) {
		etl_buf_grow(b, (size_t)n);
		n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void etl_buf_addf(struct etl_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	etl_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void etl_buf_add_json_str(struct etl_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	etl_buf_grow(b, len + 2);
	etl_buf_addch(b, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
			u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
			esc = u;
		}
		etl_buf_add(b, s + run, i - run);
		etl_buf_adds(b, esc);
		run = i + 1;
	}
	etl_buf_add(b, s + run, len - run);
	etl_buf_addch(b, '"');
}

void etl_buf_reset(struct etl_buf *b)
{
	b->len = 0;
	if (b->buf)
		b->buf[0] = '\0';
}

void etl_buf_release(struct etl_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->alloc = 0;
}

char *etl_buf_detach(struct etl_buf *b, size_t *len)
{
	char *p = b->buf ? b->buf : xstrdup("");

	if (len)
		*len = b->len;
	b->buf = NULL;
	b->len = b->alloc = 0;
	return p;
}

const char *etl_buf_str(const struct etl_buf *b)
{
	return b->buf ? b->buf : "";
}
