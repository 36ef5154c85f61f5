/*
 * buf.h - growable byte buffer, after git's strbuf.  b->buf is always
 * NUL-terminated (once anything was added), and b->len excludes the NUL.
 * Functions update the buffer in place through the pointer; they die on OOM.
 */
#ifndef ETL_BUF_H
#define ETL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "log.h"

struct etl_buf {
	char *buf;
	size_t len, alloc;
};
#define ETL_BUF_INIT { NULL, 0, 0 }

void etl_buf_grow(struct etl_buf *b, size_t extra);
void etl_buf_add(struct etl_buf *b, const void *data, size_t len);
void etl_buf_adds(struct etl_buf *b, const char *s);
void etl_buf_addch(struct etl_buf *b, int c);
void etl_buf_addf(struct etl_buf *b, const char *fmt, ...) ETL_PRINTF(2, 3);
void etl_buf_vaddf(struct etl_buf *b, const char *fmt, va_list ap);
/* Append @s (@len bytes) as a JSON string literal, quotes included. */
void etl_buf_add_json_str(struct etl_buf *b, const char *s, size_t len);
void etl_buf_reset(struct etl_buf *b);  /* len = 0, memory kept */
void etl_buf_release(struct etl_buf *b);  /* frees, back to ETL_BUF_INIT */
/* Returns the bytes (caller frees) and resets @b; *len may be NULL. */
char *etl_buf_detach(struct etl_buf *b, size_t *len);
/* Always a valid C string, "" when empty; borrowed until the next change. */
const char *etl_buf_str(const struct etl_buf *b);

#endif
